#!/usr/bin/env bash
# Installs the Debian packages Parley builds, runs and tests with, and nothing else.
# Idempotent: when everything is present it only asks dpkg, which costs well under a second.
#   scripts/deps.sh            build and run: compilers, libraries, Node.js for the web assets
#   scripts/deps.sh --browser  also Chromium, PostgreSQL and Redis, for make test
#   scripts/deps.sh --fuzz     also clang and its runtime (libFuzzer), for make fuzz
#   scripts/deps.sh --valgrind also valgrind, for make test-valgrind
#   scripts/deps.sh --bench    also Janus and iproute2, for the media peer comparison
#                              (make bench-media)
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libuv1-dev
  libwebsockets-dev libwebsockets-evlib-uv
  libssl-dev
  libsrtp2-dev
  libjansson-dev
  libsqlite3-dev
  libpq-dev       # the PostgreSQL store (store = postgres://...)
  libhiredis-dev  # the Redis event bus of a cluster (bus = redis://...)
  libcmocka-dev
  coturn          # the TURN server whose acceptance of our credentials the tests check
)
# The web app's assets come from npm. Machines that already have Node.js (from any source) keep
# it; otherwise Debian's nodejs and npm are enough.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi
if [ "${1:-}" = "--browser" ]; then
  # Debian's Chromium: the browser tests drive /usr/bin/chromium and never download one.
  PKGS+=(chromium fonts-liberation)
  # make test runs the store and cluster tests on a PostgreSQL and a Redis of its own, started
  # on loopback from temporary directories (scripts/testdb.sh): only the binaries are needed.
  PKGS+=(postgresql redis-server)
  # test_tls checks the server's TLS from outside with openssl s_client.
  PKGS+=(openssl)
fi
if [ "${1:-}" = "--valgrind" ]; then
  PKGS+=(valgrind)
fi
if [ "${1:-}" = "--fuzz" ]; then
  # make fuzz: libFuzzer comes with clang's runtime libraries.
  PKGS+=(clang libclang-rt-14-dev)
fi
if [ "${1:-}" = "--bench" ]; then
  # bench/bench_media.c runs its own Janus (VideoRoom) from a private configuration, inside a
  # network namespace it sets up with ip.
  PKGS+=(janus iproute2)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
# Debian's janus package enables a system-wide Janus on install. The benchmark starts its own, and
# an idle one beside it would only take CPU from the measurement: switch off the one installed now.
if [[ " ${missing[*]} " == *" janus "* ]] && command -v systemctl >/dev/null 2>&1; then
  $SUDO systemctl disable --now janus.service >/dev/null 2>&1 || true
fi
