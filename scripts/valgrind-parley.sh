#!/usr/bin/env bash
# The parley binary under valgrind's memcheck, for make test-valgrind: the integration tests
# start "the server" through PARLEY_BIN, and this is that server. Each process writes its report
# to $VALGRIND_DIR/parley.<pid>.log; the make target reads them all afterwards.
here=$(cd "$(dirname "$0")/.." && pwd)
dir=${VALGRIND_DIR:-$here/build/valgrind}
exec valgrind --quiet --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
  --errors-for-leak-kinds=definite --track-fds=no --num-callers=30 \
  --suppressions="$here/tests/valgrind.supp" --log-file="$dir/parley.%p.log" \
  "${PARLEY_REAL_BIN:-$here/build/parley}" "$@"
