#!/usr/bin/env bash
# asv in CI (2 cores, no GPU; budget a few minutes): `asv check` of the generated suite, then a
# quick dry run (nothing saved) of a slice of it at the tiny PGBENCH_ASV_SMOKE sizes: every
# registered problem with gd on torch:cpu, and sin with lbfgsb, dp and pg on torch:cpu and jax:cpu
# (an iterative, a one-shot and two training solvers). Called from .ci/run. About 2-3 minutes on
# an idle 2-core box (9 minutes with the box shared by a dozen jobs); hard stop after 20 minutes.
#   PGBENCH_ASV_SELECT=<regex>  another slice (asv -b; parameters read "('gd-v0', 'torch:cpu')")
#   PGBENCH_ASV_STRICT=1        also fail when a benchmark fails (a solver/problem bug, not the suite)
set -euo pipefail
cd "$(dirname "$0")/.."
export ASV_PYTHONPATH="$PWD"        # benchmarks import the working tree's pgbench
export PGBENCH_ASV_SMOKE=1
tmp_home=$(mktemp -d)
log="$tmp_home/asv.log"
trap 'rm -rf "$tmp_home"' EXIT
asv() { HOME="$tmp_home" python -m asv "$@"; }   # keep ~/.asv-machine.json out of the real HOME
start=$(date +%s)

asv machine --yes --machine ci-cpu > /dev/null
echo "== asv check"
asv check --python=same

select=${PGBENCH_ASV_SELECT:-"\\('gd-v0', 'torch:cpu'\\)|sin_v0.*\\('(lbfgsb|dp|pg)-v0', '(torch|jax):cpu'\\)"}
echo "== asv run --quick --dry-run -b \"$select\""
set +e
timeout "${PGBENCH_ASV_TIMEOUT:-1200}" env HOME="$tmp_home" python -m asv run --python=same --quick \
  --dry-run --show-stderr -b "$select" > "$log" 2>&1
rc=$?
set -e
grep -E '^\[ *[0-9.]+%\] ··· (bench_|\.\.\.|Setting up)' "$log" || true   # asv shortens long names to ...
ok=$(grep -cE '^\[ *[0-9.]+%\] ··· (bench_|\.\.\.).* ok$' "$log" || true)
bad=$(grep -cE '^\[ *[0-9.]+%\] ··· (bench_|\.\.\.).* failed$' "$log" || true)
echo "asv dry run: exit $rc, $ok benchmarks ok, $bad with failed parameter sets, $(( $(date +%s) - start )) s"
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ] || [ "$ok" -eq 0 ]; then
  tail -n 60 "$log"
  echo "asv dry run broken (exit $rc)" >&2
  exit 1
fi
if [ "$rc" -eq 2 ]; then
  grep -B2 -A8 'Traceback\|failed:' "$log" | head -n 80 || true
  if [ "${PGBENCH_ASV_STRICT:-0}" != 0 ]; then
    echo "some benchmarks failed (PGBENCH_ASV_STRICT is set)" >&2
    exit 1
  fi
  echo "note: some benchmarks failed (runs of the solvers/problems above); the suite itself works"
fi
