# lib.sh: what every example's run.sh shares. Sourced, not run.
#
# WARD_BIN          a built ward binary (default: built from this clone)
# WARD_EXAMPLE_WORK the work folder for certificates, secrets and rendered
#                   configs (default: a new temporary folder, removed at exit)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
PIDS=()

if [ -n "${WARD_EXAMPLE_WORK:-}" ]; then
  WORK=$WARD_EXAMPLE_WORK; KEEP_WORK=1; mkdir -p "$WORK"
else
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/ward-example.XXXXXX"); KEEP_WORK=0
fi
export WORK

say() { printf '%s\n' "$*" >&2; }

# cleanup stops every process this script started (by PID, children of
# this script only) and removes the work folder it created.
cleanup() {
  trap - EXIT; trap "" INT TERM   # a second Ctrl-C does not cut the cleanup short
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ "$KEEP_WORK" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ward_bin sets WARD to a ward binary: WARD_BIN, or one built from this clone.
ward_bin() {
  if [ -n "${WARD_BIN:-}" ]; then WARD=$WARD_BIN; return; fi
  say "building ward ..."
  (cd "$ROOT" && go build -o "$WORK/ward" ./cmd/ward)
  WARD=$WORK/ward
}

# secret FILE: 32 random bytes in base64, written 0600 (a KEK, a flow key,
# a nonce secret or a client secret), or the one an earlier run kept there:
# the signing keys in a database stay readable only with the same KEK.
secret() {
  [ -s "$1" ] || (umask 077 && head -c 32 /dev/urandom | base64 > "$1")
  cat "$1"
}

# pki HOST...: a development CA and one server certificate for the hosts,
# under $WORK/pki (ward certs; for trying things out only).
pki() {
  local hosts; hosts=$(IFS=,; echo "$*")
  [ ! -f "$WORK/pki/server/server.pem" ] || return 0   # kept from an earlier run
  "$WARD" certs ca --out "$WORK/pki/ca" >/dev/null
  "$WARD" certs server --ca "$WORK/pki/ca" --host "$hosts" --out "$WORK/pki/server" >/dev/null
}

# render TEMPLATE OUT: copy TEMPLATE with each ${NAME} replaced by the
# environment variable NAME (an unset one is an error).
render() {
  perl -pe 's/\$\{([A-Z_][A-Z0-9_]*)\}/defined $ENV{$1} ? $ENV{$1} : die "render: \$$1 is not set\n"/ge' "$1" > "$2"
}

# start NAME CMD...: run CMD in the background, its output prefixed with
# NAME on stderr and kept in $WORK/NAME.log.
start() {
  local name=$1; shift
  "$@" > >(tee "$WORK/$name.log" | sed -u "s/^/[$name] /" >&2) 2>&1 &
  PIDS+=($!)
}

# wait_ok URL [CURL-ARGS...]: poll URL until it answers 200 (30 s); give
# up as soon as a process this script started has exited.
wait_ok() {
  local url=$1 pid; shift
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null "$@" "$url" 2>/dev/null; then return 0; fi
    for pid in "${PIDS[@]}"; do
      kill -0 "$pid" 2>/dev/null || { say "waiting for $url: a process exited"; return 1; }
    done
    sleep 0.1
  done
  say "$url did not answer 200 within 30 s"; return 1
}

# serve_forever: wait until a process ends or the script is stopped.
serve_forever() {
  say "ready (Ctrl-C stops everything)"
  : > "$WORK/ready"
  wait -n "${PIDS[@]}" || true
  say "a process ended; stopping"
}
