#!/usr/bin/env bash
# Ward's gateway alone in front of another identity provider (a stand-in,
# idp/), on one machine:
#   examples/foreign-idp/run.sh
# Ports: IDP_PORT (8600), GW_PORT (8444), ADMIN_PORT (8445).
source "$(dirname "$0")/../lib.sh"
export IDP_PORT=${IDP_PORT:-8600} GW_PORT=${GW_PORT:-8444} ADMIN_PORT=${ADMIN_PORT:-8445}

ward_bin
if [ -z "${IDP_BIN:-}" ]; then
  (cd "$ROOT" && go build -o "$WORK/idp" ./examples/foreign-idp/idp)
  IDP_BIN=$WORK/idp
fi
pki 127.0.0.1 localhost
export IDP_CLIENT_SECRET; IDP_CLIENT_SECRET=$(secret "$WORK/svc.secret")
render "$HERE/gateway.yaml" "$WORK/gateway.yaml"
"$WARD" config check --config "$WORK/gateway.yaml" >&2
# The provider's metadata and keys are fetched over https: trust the CA.
export SSL_CERT_FILE=$WORK/pki/ca/ca.pem
start idp "$IDP_BIN" --listen "127.0.0.1:$IDP_PORT" --cert "$WORK/pki/server/server.pem" \
  --key "$WORK/pki/server/server-key.pem" --audience "https://127.0.0.1:$GW_PORT" --scope orders:read
wait_ok "https://127.0.0.1:$IDP_PORT/.well-known/oauth-authorization-server" --cacert "$SSL_CERT_FILE"
start gateway "$WARD" serve --config "$WORK/gateway.yaml"
wait_ok "http://127.0.0.1:$ADMIN_PORT/readyz"

cat >&2 <<MSG

The gateway (https://127.0.0.1:$GW_PORT) trusts the provider https://127.0.0.1:$IDP_PORT
(work folder $WORK). A token from the provider, through the gateway:
  export SSL_CERT_FILE=$SSL_CERT_FILE
  export WARD_CLIENT_SECRET=\$(cat $WORK/svc.secret)
  ward curl --issuer https://127.0.0.1:$IDP_PORT --client-id svc https://127.0.0.1:$GW_PORT/demo/whoami
MSG
serve_forever
