#!/usr/bin/env bash
# make run-cluster: a three-node Parley cluster on this machine, for development and trying it
# out. PostgreSQL and Redis run on loopback from a directory under /tmp (scripts/testdb.sh: trust
# authentication on 127.0.0.1, so never for real data; PostgreSQL runs as the postgres user when
# this runs as root, and must be able to reach it); three nodes share them, each with its
# own data directory (var/cluster/node1..3) holding the same master key and audit key, on
# https://127.0.0.1:8443, 8444 and 8445 (media on UDP 40000, 40001, 40002). Ctrl-C stops all.
# A production deployment is described in docs/DEPLOY.md.
#   scripts/cluster.sh [BUILD_DIR]     BUILD_DIR holds the parley binary (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/parley
root=var/cluster
[ -x "$bin" ] || { echo "cluster: $bin is missing (make first)" >&2; exit 1; }
mkdir -p "$root"
chmod 700 var "$root" 2>/dev/null || true

pids=()
stop_all() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  bash scripts/testdb.sh stop "$db"
}
db=$(mktemp -d /tmp/parley-cluster-db-XXXXXX)
trap stop_all EXIT INT TERM

env_lines=$(bash scripts/testdb.sh start "$db") || { echo "cluster: PostgreSQL and Redis did not start" >&2; exit 1; }
eval "$env_lines"
store=$PARLEY_TEST_PG
bus=$PARLEY_TEST_REDIS

# One node seeds the shared database and makes the keys; the others get copies, as a real
# deployment hands every node the same var/data.key and var/audit_signing.key.
rm -rf "$root"/node1 "$root"/node2 "$root"/node3
mkdir -p "$root/node1"
"$bin" demo --data-dir "$root/node1" --store "$store" >"$root/logins.txt"
for n in 2 3; do
  mkdir -p "$root/node$n"
  chmod 700 "$root/node$n"
  for f in data.key audit_signing.key audit_signing.pub; do
    install -m 600 "$root/node1/$f" "$root/node$n/$f"
  done
done

for n in 1 2 3; do
  port=$((8442 + n))
  "$bin" serve --data-dir "$root/node$n" --port "$port" --media-port $((39999 + n)) \
    --store "$store" --bus "$bus" --node-id "node$n" --node-url "wss://127.0.0.1:$port/" \
    >>"$root/node$n/server.log" 2>&1 &
  pids+=($!)
done
sleep 1
cat "$root/logins.txt"
echo
echo "cluster: nodes on https://127.0.0.1:8443, :8444 and :8445 (logs in $root/node*/server.log)"
echo "cluster: PostgreSQL and Redis: $store and $bus. Ctrl-C stops everything."
wait -n "${pids[@]}" || true
echo "cluster: a node exited; stopping the others" >&2
