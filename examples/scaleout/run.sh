#!/usr/bin/env bash
# Two authorization servers and two gateways on PostgreSQL and Redis
# behind Caddy, on one machine:
#   examples/scaleout/run.sh
# Needs: PostgreSQL (WARD_STORE_DSN, default the database "ward" on
# 127.0.0.1:5432 as user postgres), Redis (WARD_REDIS_URL, default
# redis://127.0.0.1:6379/0) and Debian's caddy.
# Ports: AS_LB_PORT (8443) and GW_LB_PORT (8444) on Caddy; the processes on
# AS_A_PORT, AS_B_PORT, GW_A_PORT, GW_B_PORT, GW_A_ADMIN, GW_B_ADMIN
# (8501-8506).
source "$(dirname "$0")/../lib.sh"
export AS_LB_PORT=${AS_LB_PORT:-8443} GW_LB_PORT=${GW_LB_PORT:-8444}
export AS_A_PORT=${AS_A_PORT:-8501} AS_B_PORT=${AS_B_PORT:-8502}
export GW_A_PORT=${GW_A_PORT:-8503} GW_B_PORT=${GW_B_PORT:-8504}
export GW_A_ADMIN=${GW_A_ADMIN:-8505} GW_B_ADMIN=${GW_B_ADMIN:-8506}
export REDIS_PREFIX=${REDIS_PREFIX:-ward:example:}
export WARD_STORE_DSN=${WARD_STORE_DSN:-postgres://postgres@127.0.0.1:5432/ward?sslmode=disable}
export WARD_REDIS_URL=${WARD_REDIS_URL:-redis://127.0.0.1:6379/0}
CADDY=${CADDY:-$(command -v caddy || true)}
[ -n "$CADDY" ] || { say "caddy is not installed (apt-get install caddy)"; exit 3; }

ward_bin
pki 127.0.0.1 localhost
# The secrets every instance shares (in production: your secret manager).
export WARD_KEY_ENCRYPTION_KEY WARD_FLOW_KEY WARD_DPOP_NONCE_SECRET WARD_EXAMPLE_SVC_SECRET WARD_EXAMPLE_FEED_SECRET
WARD_KEY_ENCRYPTION_KEY=$(secret "$WORK/kek")
WARD_FLOW_KEY=$(secret "$WORK/flow-key")
WARD_DPOP_NONCE_SECRET=$(secret "$WORK/dpop-nonce-secret")
WARD_EXAMPLE_SVC_SECRET=$(secret "$WORK/svc.secret")
WARD_EXAMPLE_FEED_SECRET=$(secret "$WORK/feed.secret")
# Gateways fetch the issuer's metadata and keys through Caddy over https.
export SSL_CERT_FILE=$WORK/pki/ca/ca.pem

for n in A B; do
  port=AS_${n}_PORT; LISTEN_PORT=${!port} render "$HERE/as.yaml" "$WORK/as-$n.yaml"
  port=GW_${n}_PORT; admin=GW_${n}_ADMIN
  LISTEN_PORT=${!port} ADMIN_PORT=${!admin} render "$HERE/gateway.yaml" "$WORK/gateway-$n.yaml"
  "$WARD" config check --config "$WORK/as-$n.yaml" >&2
  "$WARD" config check --config "$WORK/gateway-$n.yaml" >&2
done
render "$HERE/Caddyfile" "$WORK/Caddyfile"

# Both authorization servers start together on the (possibly empty)
# database: migrations and the first signing key are made once.
start as-A "$WARD" serve --config "$WORK/as-A.yaml"
start as-B "$WARD" serve --config "$WORK/as-B.yaml"
start caddy env HOME="$WORK" XDG_DATA_HOME="$WORK/caddy" XDG_CONFIG_HOME="$WORK/caddy" \
  "$CADDY" run --config "$WORK/Caddyfile" --adapter caddyfile
for p in "$AS_A_PORT" "$AS_B_PORT"; do wait_ok "http://127.0.0.1:$p/.well-known/oauth-authorization-server"; done
wait_ok "https://127.0.0.1:$AS_LB_PORT/.well-known/oauth-authorization-server" --cacert "$SSL_CERT_FILE"
start gateway-A "$WARD" serve --config "$WORK/gateway-A.yaml"
start gateway-B "$WARD" serve --config "$WORK/gateway-B.yaml"
for p in "$GW_A_ADMIN" "$GW_B_ADMIN"; do wait_ok "http://127.0.0.1:$p/readyz"; done

cat >&2 <<MSG

Two authorization servers and two gateways behind Caddy (work folder $WORK):
  issuer (Caddy → $AS_A_PORT, $AS_B_PORT)   https://127.0.0.1:$AS_LB_PORT
  API    (Caddy → $GW_A_PORT, $GW_B_PORT)   https://127.0.0.1:$GW_LB_PORT/demo/
  gateway admin   http://127.0.0.1:$GW_A_ADMIN/readyz  http://127.0.0.1:$GW_B_ADMIN/readyz

From another terminal:
  export SSL_CERT_FILE=$SSL_CERT_FILE
  export WARD_CLIENT_SECRET=\$(cat $WORK/svc.secret)
  ward curl --issuer https://127.0.0.1:$AS_LB_PORT --client-id svc --scope demo:read \\
      https://127.0.0.1:$GW_LB_PORT/demo/whoami
MSG
serve_forever
