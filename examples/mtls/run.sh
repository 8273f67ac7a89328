#!/usr/bin/env bash
# The mTLS / SPIFFE service-to-service shape on one machine:
#   examples/mtls/run.sh
# Ports: AS_PORT (8443), GW_PORT (8444), ADMIN_PORT (8445).
source "$(dirname "$0")/../lib.sh"
export AS_PORT=${AS_PORT:-8443} GW_PORT=${GW_PORT:-8444} ADMIN_PORT=${ADMIN_PORT:-8445}

ward_bin
pki 127.0.0.1 localhost
# The workload's certificate: its SPIFFE ID is what the client registration
# and the gateway's policy name.
[ -f "$WORK/pki/clients/orders.pem" ] ||
  "$WARD" certs client --ca "$WORK/pki/ca" --name orders \
    --spiffe-id spiffe://example/ns/shop/sa/orders --out "$WORK/pki/clients" >&2
secret "$WORK/kek" >/dev/null
mkdir -p -m 0700 "$WORK/data"
render "$HERE/ward.yaml" "$WORK/ward.yaml"
"$WARD" config check --config "$WORK/ward.yaml" >&2
export SSL_CERT_FILE=$WORK/pki/ca/ca.pem
start ward "$WARD" serve --config "$WORK/ward.yaml"
wait_ok "https://127.0.0.1:$AS_PORT/.well-known/oauth-authorization-server" --cacert "$SSL_CERT_FILE"
wait_ok "http://127.0.0.1:$ADMIN_PORT/readyz"

P=$WORK/pki
cat >&2 <<MSG

Ward is running with mTLS (work folder $WORK). As the workload "orders":
  # a token bound to the certificate (no secret: the certificate authenticates)
  TOKEN=\$(curl -s --cacert $P/ca/ca.pem --cert $P/clients/orders.pem --key $P/clients/orders-key.pem \\
      -d grant_type=client_credentials -d client_id=orders -d scope=inventory:read https://127.0.0.1:$AS_PORT/token |
      sed -E 's/.*"access_token":"([^"]+)".*/\\1/')
  # the token over the same certificate; without --cert it is refused (401, cert_missing)
  curl --cacert $P/ca/ca.pem --cert $P/clients/orders.pem --key $P/clients/orders-key.pem \\
      -H "Authorization: Bearer \$TOKEN" https://127.0.0.1:$GW_PORT/demo/whoami
  # the certificate alone, on the route that admits spiffe://example/ns/shop/*
  curl --cacert $P/ca/ca.pem --cert $P/clients/orders.pem --key $P/clients/orders-key.pem \\
      https://127.0.0.1:$GW_PORT/workload/demo/whoami
MSG
serve_forever
