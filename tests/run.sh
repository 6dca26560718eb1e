#!/usr/bin/env bash
# Runs each test binary in its own process and prints one closing tally line.
# cmocka prints per-test lines; a binary that crashes or exits non-zero counts as failed.
set -u
pass=0; fail=0; failed=()
# The binaries in PG_TESTS run a second time on PostgreSQL (PARLEY_TEST_BACKEND=postgres: the
# store fixture and the test servers then use a fresh database each), when one is configured.
runs=("$@")
if [ -n "${PG_TESTS:-}" ] && [ -n "${PARLEY_TEST_PG:-}" ]; then
  for t in $PG_TESTS; do runs+=("pg:$t"); done
fi
for t in "${runs[@]}"; do
  backend=sqlite
  if [ "${t#pg:}" != "$t" ]; then backend=postgres; t=${t#pg:}; echo "# on PostgreSQL: $t"; fi
  [ -x "$t" ] || continue
  out=$(PARLEY_TEST_BACKEND=$backend "$t" 2>&1); rc=$?
  echo "$out"
  p=$(printf '%s\n' "$out" | grep -c '^\[       OK \]')
  f=$(printf '%s\n' "$out" | grep -c '^\[  FAILED  \]' )
  # cmocka repeats failed test names in its summary; count only per-test failure lines once.
  f=$(printf '%s\n' "$out" | grep -E '^\[  FAILED  \] [a-z_0-9]+$' | sort -u | wc -l)
  pass=$((pass + p)); fail=$((fail + f))
  if [ $rc -ne 0 ]; then
    [ "$f" -eq 0 ] && fail=$((fail + 1))
    [ "$backend" = postgres ] && t="$t (PostgreSQL)"
    failed+=("$t")
  fi
done
# Fuzz regression: each target (FUZZ_TESTS) over its seed corpus and its saved crashes, without
# libFuzzer (fuzz/replay.c). One binary is one test.
root=$(cd "$(dirname "$0")/.." && pwd)
for t in ${FUZZ_TESTS:-}; do
  name=$(basename "$t")
  out=$("$t" "$root/fuzz/corpora/$name" "$root/fuzz/crashes/$name" 2>&1); rc=$?
  echo "$out" | tail -3
  if [ $rc -eq 0 ]; then
    echo "[       OK ] fuzz replay $name"; pass=$((pass + 1))
  else
    echo "[  FAILED  ] fuzz replay $name"; fail=$((fail + 1)); failed+=("$t")
  fi
done
# Browser scenarios: node's test runner over tests/browser/*.test.mjs, one file at a time (each
# starts its own server). Its TAP summary lines are added to the tally.
if [ "${BROWSER_TESTS:-0}" = 1 ]; then
  dir=$(cd "$(dirname "$0")/browser" && pwd)
  out=$(cd "$dir" && node --test --test-concurrency=1 --test-reporter=tap ./*.test.mjs 2>&1); rc=$?
  echo "$out"
  p=$(printf '%s\n' "$out" | sed -n 's/^# pass \([0-9]*\)$/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^# fail \([0-9]*\)$/\1/p' | tail -1)
  pass=$((pass + ${p:-0})); fail=$((fail + ${f:-0}))
  if [ $rc -ne 0 ]; then
    [ "${f:-0}" -eq 0 ] && fail=$((fail + 1))
    failed+=("tests/browser")
  fi
fi
echo
[ ${#failed[@]} -gt 0 ] && echo "failing binaries: ${failed[*]}"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ ${#failed[@]} -eq 0 ]
