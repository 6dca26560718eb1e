#!/usr/bin/env bash
# Runs a command with the test suite's own PostgreSQL and Redis (scripts/testdb.sh) started for
# it and stopped afterwards, whatever happens to the command. When PARLEY_TEST_PG is already set
# (CI started them, or a developer's shell did) the command runs on those instead.
#   scripts/with-testdb.sh COMMAND [ARGS...]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${PARLEY_TEST_PG:-}" ]; then
  exec "$@"
fi
dir=$(mktemp -d /tmp/parley-testdb-XXXXXX)
trap 'bash "$here/testdb.sh" stop "$dir"' EXIT INT TERM
if ! env_lines=$(bash "$here/testdb.sh" start "$dir"); then
  echo "with-testdb: could not start PostgreSQL and Redis for the tests" >&2
  exit 1
fi
eval "$env_lines"
"$@"
