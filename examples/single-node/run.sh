#!/usr/bin/env bash
# The single-node production shape on one machine, with TLS:
#   examples/single-node/run.sh
# Ports: AS_PORT (8443), GW_PORT (8444), ADMIN_PORT (8445).
source "$(dirname "$0")/../lib.sh"
export AS_PORT=${AS_PORT:-8443} GW_PORT=${GW_PORT:-8444} ADMIN_PORT=${ADMIN_PORT:-8445}

ward_bin
pki 127.0.0.1 localhost
secret "$WORK/kek" >/dev/null
secret "$WORK/dpop-nonce-secret" >/dev/null
export WARD_EXAMPLE_SVC_SECRET; WARD_EXAMPLE_SVC_SECRET=$(secret "$WORK/svc.secret")
mkdir -p -m 0700 "$WORK/data"
render "$HERE/ward.yaml" "$WORK/ward.yaml"

# Every problem at once, before anything starts (exit 1 if any).
"$WARD" config check --config "$WORK/ward.yaml" >&2
# Ward's gateway fetches the issuer's metadata and keys over https: the
# development CA must be trusted, as clients must trust it.
export SSL_CERT_FILE=$WORK/pki/ca/ca.pem
start ward "$WARD" serve --config "$WORK/ward.yaml"
wait_ok "https://127.0.0.1:$AS_PORT/.well-known/oauth-authorization-server" --cacert "$SSL_CERT_FILE"
wait_ok "http://127.0.0.1:$ADMIN_PORT/readyz"

cat >&2 <<MSG

Ward is running with TLS (work folder $WORK):
  authorization server  https://127.0.0.1:$AS_PORT
  gateway               https://127.0.0.1:$GW_PORT (route /demo/)
  admin                 http://127.0.0.1:$ADMIN_PORT/readyz

Call the API through the gateway with a DPoP-bound token, from another terminal:
  export SSL_CERT_FILE=$SSL_CERT_FILE
  export WARD_CLIENT_SECRET=\$(cat $WORK/svc.secret)
  ward curl --issuer https://127.0.0.1:$AS_PORT --client-id svc --scope demo:read \\
      https://127.0.0.1:$GW_PORT/demo/whoami
MSG
serve_forever
