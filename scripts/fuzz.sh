#!/usr/bin/env bash
# make fuzz: builds each fuzz target with libFuzzer, ASan and UBSan (clang), against the library
# make built in build-fuzz with coverage instrumentation, and runs it for SECONDS on a working
# corpus seeded from fuzz/corpora/<target>/. Crashes are written to fuzz/crashes/<target>/ (make
# test replays them from then on); the run's last stats line is kept in build-fuzz/<target>.log.
#   scripts/fuzz.sh SECONDS TARGET...
set -uo pipefail
cd "$(dirname "$0")/.."
secs=$1; shift
flags=$(pkg-config --cflags libuv libwebsockets openssl libsrtp2 jansson sqlite3 libpq hiredis)
libs=$(pkg-config --libs libuv libwebsockets openssl libsrtp2 jansson sqlite3 libpq hiredis)
status=0
for t in "$@"; do
  bin=build-fuzz/fuzz/$t
  mkdir -p build-fuzz/fuzz "build-fuzz/corpus/$t" "fuzz/crashes/$t"
  # shellcheck disable=SC2086
  if ! clang -O1 -g -std=c11 -D_GNU_SOURCE -I. $flags -fsanitize=fuzzer,address,undefined \
      -o "$bin" "fuzz/$t.c" build-fuzz/tests/support/*.o build-fuzz/libparley.a $libs -lpthread -lm; then
    echo "fuzz: $t did not build" >&2; status=1; continue
  fi
  cp -n fuzz/corpora/"$t"/* "build-fuzz/corpus/$t/" 2>/dev/null || true
  echo "fuzz: $t for ${secs}s" >&2
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="fuzz/crashes/$t/" "build-fuzz/corpus/$t" >"build-fuzz/$t.log" 2>&1
  rc=$?
  grep -E "^(#[0-9]+|stat::|Done)" "build-fuzz/$t.log" | tail -8
  if [ $rc -ne 0 ]; then echo "fuzz: $t found a crash (fuzz/crashes/$t/)" >&2; status=1; fi
done
exit $status
