#!/usr/bin/env bash
# Runs each Go fuzz target for a fixed time and prints one row per target:
# executions, new corpus entries, and crashes (go test -fuzz stops at the
# first one, so 0 or 1, with the input Go wrote to the package's
# testdata/fuzz/<target>/: commit it, it becomes a regression test).
#
#   bash bench/fuzz.sh          # 30s per target
#   bash bench/fuzz.sh 5s       # or FUZZTIME=5s; Go's forms, "1m" or "10000x"
#
# FUZZ_PARALLEL: workers per target (default: Go's, one per CPU).
# Exits 1 when a target crashed or did not run.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime=${1:-${FUZZTIME:-30s}}
targets=(
  "./handler FuzzDecodeForm"
  "./handler FuzzDecodeJSON"
  "./handler/letter FuzzValidate"
  "./handler/letter FuzzMerge"
  "./handler/letter FuzzCheckHeaders"
)
parallel=()
[ -n "${FUZZ_PARALLEL:-}" ] && parallel=(-parallel "$FUZZ_PARALLEL")

status=0
rows=()
for t in "${targets[@]}"; do
  read -r pkg name <<<"$t"
  echo "fuzzing $name ($pkg) for $fuzztime…" >&2
  out=$(go test "$pkg" -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "${parallel[@]}" 2>&1)
  rc=$?
  # Go's progress lines: "fuzz: elapsed: 30s, execs: 123456 (4115/sec), new interesting: 7 (total: 52)"
  last=$(grep '^fuzz: elapsed:.*execs:' <<<"$out" | tail -n 1)
  execs=$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")
  fresh=$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=0 note=""
  if [ $rc -ne 0 ]; then
    status=1
    input=$(sed -n 's/.*Failing input written to \(testdata\/fuzz\/[^ ]*\).*/\1/p' <<<"$out" | head -n 1)
    seed=$(sed -n 's/.*failure while testing seed corpus entry: \([^ ]*\).*/\1/p' <<<"$out" | head -n 1)
    if [ -n "$input" ]; then
      crashes=1 note="$pkg/$input"
    elif [ -n "$seed" ]; then
      crashes=1 note="seed $pkg/testdata/fuzz/$seed"
    else
      crashes="?" note="did not run (output below)"
      printf '%s\n' "$out" | tail -n 20 >&2
    fi
  fi
  rows+=("$(printf '%-18s %-16s %12s %8s %8s  %s' "$name" "$pkg" "${execs:--}" "${fresh:--}" "$crashes" "$note")")
done

printf '\n%-18s %-16s %12s %8s %8s  %s\n' target package execs new crashes input
printf '%s\n' "${rows[@]}"
echo "(each for $fuzztime$([ -n "${FUZZ_PARALLEL:-}" ] && echo ", $FUZZ_PARALLEL workers"); $(go version | cut -d' ' -f3), $(nproc) CPUs)"
exit $status
