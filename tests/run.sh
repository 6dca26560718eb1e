#!/usr/bin/env bash
# Runs each test binary in its own process and prints one closing tally line.
# cmocka prints per-test lines; a binary that crashes or exits non-zero counts as failed.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
  [ -x "$t" ] || continue
  out=$("$t" 2>&1); rc=$?
  echo "$out"
  p=$(printf '%s\n' "$out" | grep -c '^\[       OK \]')
  f=$(printf '%s\n' "$out" | grep -c '^\[  FAILED  \]' )
  # cmocka repeats failed test names in its summary; count only per-test failure lines once.
  f=$(printf '%s\n' "$out" | grep -E '^\[  FAILED  \] [a-z_0-9]+$' | sort -u | wc -l)
  pass=$((pass + p)); fail=$((fail + f))
  if [ $rc -ne 0 ]; then
    [ "$f" -eq 0 ] && fail=$((fail + 1))
    failed+=("$t")
  fi
done
echo
[ ${#failed[@]} -gt 0 ] && echo "failing binaries: ${failed[*]}"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] && [ ${#failed[@]} -eq 0 ]
