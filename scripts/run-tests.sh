#!/usr/bin/env bash
# Run every test runner, even after one fails, then print one summary block.
#
#   bash scripts/run-tests.sh "NAME=COMMAND" ...      (the `just test` recipe passes three)
#
# Each COMMAND runs with `bash -c` in the current directory; its output goes to
# the terminal as usual and is also kept, so that the runner's own result line
# can be repeated at the end.  A runner passes when its command exits 0; the
# script exits 1 if any runner failed, after all of them have run, so a pytest
# failure no longer hides what vitest and Playwright found.
set -uo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 NAME=COMMAND [NAME=COMMAND ...]" >&2
  exit 2
fi

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# The runner's result line(s), colours removed: pytest's last "N passed/failed ... in Xs",
# vitest's "Test Files"/"Tests" lines, Playwright's "N passed/failed (Xs)" lines.
result_lines() {
  local name=$1 log=$2 plain
  plain=$(sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' "$log")
  case "$name" in
    vitest)
      grep -E '^[[:space:]]*(Test Files|Tests)[[:space:]]' <<<"$plain" | sed -E 's/^[[:space:]]+//; s/[[:space:]]+/ /g' | paste -sd ';' - | sed 's/;/; /g' ;;
    playwright)
      grep -E '^[[:space:]]*[0-9]+ (passed|failed|flaky|skipped|did not run|interrupted)' <<<"$plain" | sed -E 's/^[[:space:]]+//' | paste -sd ';' - | sed 's/;/, /g' ;;
    *)
      grep -E '[0-9]+ (passed|failed|errors?|skipped|deselected)|no tests ran' <<<"$plain" | tail -n 1 | sed -E 's/^[= ]+//; s/[= ]+$//' ;;
  esac
}

names=()
codes=()
summaries=()
i=0
for spec in "$@"; do
  name=${spec%%=*}
  cmd=${spec#*=}
  if [ -z "$name" ] || [ "$name" = "$spec" ]; then
    echo "run-tests: '$spec' is not NAME=COMMAND" >&2
    exit 2
  fi
  log="$logs/$i.log"
  echo "==> $name: $cmd"
  bash -c "$cmd" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  names+=("$name")
  codes+=("$rc")
  summaries+=("$(result_lines "$name" "$log")")
  i=$((i + 1))
done

failed=0
echo
echo "==================== test summary ===================="
for j in "${!names[@]}"; do
  line=${summaries[$j]}
  if [ "${codes[$j]}" -eq 0 ]; then
    status=passed
  else
    status="FAILED (exit ${codes[$j]})"
    failed=1
  fi
  printf '%-11s %s (%s)\n' "${names[$j]}:" "$status" "${line:-no result line in its output}"
done
echo "======================================================"
exit "$failed"
