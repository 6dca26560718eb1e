#!/usr/bin/env bash
# Installs the Debian packages Parley builds, runs and tests with, and nothing else.
# Idempotent: when everything is present it only asks dpkg, which costs well under a second.
set -euo pipefail

PKGS=(
  build-essential pkg-config
  libuv1-dev
  libwebsockets-dev libwebsockets-evlib-uv
  libssl-dev
  libsrtp2-dev
  libjansson-dev
  libsqlite3-dev
  libcmocka-dev
)

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
