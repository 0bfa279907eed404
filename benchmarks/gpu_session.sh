#!/usr/bin/env bash
# The GPU measurements of docs/speed.md sized for one short lease: a lent GPU gives a task 15 minutes
# of device time in all, the machine's start (minutes) included, and brings back at most 8 files.
# The parts run in order of value, each capped, all inside BUDGET seconds of commands (default 480):
#
#   machine  nvidia-smi, library versions, that pgbench imports and sees the GPU
#   ratio    the ratio table at paper sizes: seconds per training iteration of pgbench (torch, jax) for
#            heat, Poisson and Navier-Stokes, one compare.py call per experiment (a cut loses one only);
#            the PhiFlow peer too when PHIFLOW_PYTHON is set on that machine
#   tests    tests/test_devices.py: CPU and GPU give the same numbers (-v: one line per test, so a run
#            cut at its cap still says which passed)
#   paper    paper-scale heat and Poisson training on jax, each run capped at MAX_TIME s, and its report
#   profile  where the time goes (heat DP, both backends): only with what the earlier parts left
#
# A part gets min(its cap, what is left of the budget); one with under MIN_PART s left is skipped.
# Outputs in $OUT (default gpu-out/), 3 files: summary.txt (one line per part: cap, seconds used, exit
# code, result), peers.md (the ratio table) and gpu-session.tar.gz (every log, the tables' JSON, the
# paper store and its report).
#
#   bash benchmarks/gpu_session.sh --plan        # the parts, their caps and commands; runs nothing
#   bash benchmarks/gpu_session.sh               # on the GPU machine
#   bash benchmarks/gpu_session.sh --dry-run     # anywhere: every command echoed instead of run, outputs packed
#   bash benchmarks/gpu_session.sh --budget 300  # or BUDGET=300: later parts shortened or skipped
#
# Caps (seconds, environment): T_MACHINE=20 T_RATIO=170 T_TESTS=120 T_PAPER=150 T_PROFILE=60; PACK=10 s
# are kept for packing. MAX_TIME=12 (per paper run), STEPS=5 (timed iterations per ratio row).
# The device image lacks array-api-compat: carry it as wheels in .whl/ (see /work/.library/device
# README's notes); this script installs .whl/*.whl when the folder is there.
set -uo pipefail
cd "$(dirname "$0")/.."

PLAN=0 DRY=0
BUDGET=${BUDGET:-480}
while [ $# -gt 0 ]; do
  case "$1" in
    --plan) PLAN=1 ;;
    --dry-run) DRY=1 ;;
    --budget) BUDGET=${2:?--budget needs seconds}; shift ;;
    --budget=*) BUDGET=${1#--budget=} ;;
    -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_session.sh: unknown option '$1' (use --plan, --dry-run, --budget SECONDS)" >&2; exit 2 ;;
  esac
  shift
done
case "$BUDGET" in ''|*[!0-9]*) echo "gpu_session.sh: --budget must be whole seconds, got '$BUDGET'" >&2; exit 2 ;; esac

PACK=${PACK:-10}
MIN_PART=${MIN_PART:-30}
MAX_TIME=${MAX_TIME:-12}
STEPS=${STEPS:-5}
PARTS=(machine ratio tests paper profile)
declare -A CAP=([machine]=${T_MACHINE:-20} [ratio]=${T_RATIO:-170} [tests]=${T_TESTS:-120}
                [paper]=${T_PAPER:-150} [profile]=${T_PROFILE:-60})
declare -A WHAT=(
  [machine]="nvidia-smi -L; torch/jax versions and devices; import pgbench"
  [ratio]="benchmarks/peers/compare.py --device cuda --steps $STEPS --experiments heat|poisson|navier-stokes --skip-peer"
  [tests]="pytest tests/test_devices.py -v -n \${WORKERS:-8}"
  [paper]="pgbench reproduce --scale paper --backend jax --device cuda --seeds 0 --max-time $MAX_TIME --only heat-training --only poisson-training; pgbench report"
  [profile]="benchmarks/reference/profile_pgbench.py --problem heat-v0 --solver dp --backend torch|jax --device cuda --batch 128 --steps 5")

if [ "$PLAN" = 1 ]; then
  left=$((BUDGET - PACK)) total=0
  printf 'gpu_session.sh plan: budget %d s of commands (%d s kept for packing), parts in order of value\n' "$BUDGET" "$PACK"
  printf '%-8s %6s %8s  %s\n' part cap planned command
  for p in "${PARTS[@]}"; do
    give=$(( CAP[$p] < left ? CAP[$p] : left ))
    if [ "$give" -lt "$MIN_PART" ] && [ "$give" -lt "${CAP[$p]}" ]; then
      shown="skip"
    else
      shown="$give"; left=$((left - give)); total=$((total + give))
    fi
    printf '%-8s %6d %8s  %s\n' "$p" "${CAP[$p]}" "$shown" "${WHAT[$p]}"
  done
  printf 'total planned: %d s of commands + %d s packing = %d s <= budget %d s\n' "$total" "$PACK" \
      "$((total + PACK))" "$BUDGET"
  printf 'outputs: %s/summary.txt, %s/peers.md, %s/gpu-session.tar.gz\n' "${OUT:-gpu-out}" "${OUT:-gpu-out}" "${OUT:-gpu-out}"
  exit 0
fi

OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-session.XXXXXX")
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -d .whl ] && [ "$DRY" = 0 ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
      && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
PY=${PYTHON:-python3}
START=$SECONDS
SUMMARY=()

# x: run a command (or, with --dry-run, echo it) with its output into the log given first
x() {
  local log=$1; shift
  if [ "$DRY" = 1 ]; then echo "[dry-run] $*" >> "$log"; return 0; fi
  "$@" >> "$log" 2>&1
}
# within SECONDS: run a command under a time limit (timeout's exit 124 = cut at the limit)
within() {
  local limit=$1; shift
  [ "$limit" -lt 1 ] && return 124
  if [ "$DRY" = 1 ]; then "$@"; return $?; fi
  timeout -k 5 "$limit" "$@"
}
part_left() { echo $(( PART_END - SECONDS )); }

run_machine() {
  x "$WORK/machine.txt" nvidia-smi -L
  x "$WORK/machine.txt" within "$(part_left)" "$PY" -c "import torch, jax, pgbench; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), '| jax', jax.__version__, jax.devices(), '| pgbench', pgbench.__file__)"
}
run_ratio() {
  local e rc=0
  for e in heat poisson navier-stokes; do
    local peer=(--skip-peer)
    [ -n "${PHIFLOW_PYTHON:-}" ] && peer=(--phiflow-python "$PHIFLOW_PYTHON")
    x "$WORK/ratio.log" within "$(part_left)" "$PY" benchmarks/peers/compare.py --device cuda --steps "$STEPS" \
        --experiments "$e" --timeout 60 "${peer[@]}" --out "$WORK/peers-$e" || rc=$?
  done
  for e in heat poisson navier-stokes; do
    [ -f "$WORK/peers-$e.md" ] && { cat "$WORK/peers-$e.md"; echo; } >> "$OUT/peers.md"
  done
  [ "$DRY" = 1 ] && echo "(dry run: no table)" >> "$OUT/peers.md"
  return $rc
}
run_tests() {
  x "$WORK/test_devices.log" within "$(part_left)" "$PY" -m pytest tests/test_devices.py -n "${WORKERS:-8}" -v \
      --tb=short -p no:cacheprovider
}
run_paper() {
  local rc=0
  x "$WORK/paper.log" within $(( $(part_left) - 25 )) "$PY" -m pgbench reproduce --scale paper --backend jax \
      --device cuda --seeds 0 --max-time "$MAX_TIME" --only heat-training --only poisson-training \
      --results "$WORK/paper/runs" --out "$WORK/paper/report" -q || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 0 ]; then   # cut or done: the report of what is stored
    x "$WORK/paper.log" within "$(part_left)" "$PY" -m pgbench report --results "$WORK/paper/runs" \
        --out "$WORK/paper/report"
  fi
  return $rc
}
run_profile() {
  local b rc=0
  for b in torch jax; do
    x "$WORK/profile-heat-dp-$b.txt" within "$(part_left)" "$PY" benchmarks/reference/profile_pgbench.py \
        --problem heat-v0 --solver dp --backend "$b" --device cuda --batch 128 --steps 5 --top 30 || rc=$?
  done
  return $rc
}
count() { grep -c -- "$1" "$2" 2>/dev/null || true; }   # lines matching; 0 when none or no file
result() {   # one short result line per part, read from its outputs
  case "$1" in
    machine) head -c 300 "$WORK/machine.txt" 2>/dev/null | tr '\n' ' ' ;;
    ratio) echo "$(count '^| [a-z]' "$OUT/peers.md") table rows in peers.md" ;;
    tests) echo "$(count ' PASSED' "$WORK/test_devices.log") passed, $(count ' FAILED' "$WORK/test_devices.log") failed" ;;
    paper) echo "$(find "$WORK/paper/runs" -name '*.parquet' 2>/dev/null | wc -l) runs stored; $(tail -n 1 "$WORK/paper.log" 2>/dev/null | head -c 200)" ;;
    profile) echo "$(ls "$WORK"/profile-*.txt 2>/dev/null | wc -l) profiles" ;;
  esac
}

: > "$OUT/peers.md"
for p in "${PARTS[@]}"; do
  left=$(( BUDGET - PACK - (SECONDS - START) ))
  give=$(( CAP[$p] < left ? CAP[$p] : left ))
  if [ "$give" -lt "$MIN_PART" ] && [ "$give" -lt "${CAP[$p]}" ]; then
    SUMMARY+=("$(printf '%-8s cap %4d s  skipped: %d s of the budget left' "$p" "${CAP[$p]}" "$left")")
    echo "${SUMMARY[-1]}"
    continue
  fi
  t0=$SECONDS
  PART_END=$(( SECONDS + give ))
  "run_$p"
  rc=$?
  used=$(( SECONDS - t0 ))
  note=""; [ "$rc" = 124 ] && note=" (cut at its cap)"
  SUMMARY+=("$(printf '%-8s cap %4d s  used %4d s  exit %3d%s  %s' "$p" "$give" "$used" "$rc" "$note" "$(result "$p")")")
  echo "${SUMMARY[-1]}"
done

{
  echo "gpu_session.sh $( [ "$DRY" = 1 ] && echo '(dry run) ')at $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $(date -u +%FT%TZ)"
  echo "budget $BUDGET s; commands took $(( SECONDS - START )) s"
  printf '%s\n' "${SUMMARY[@]}"
} > "$OUT/summary.txt"
cp "$OUT/summary.txt" "$OUT/peers.md" "$WORK/" 2>/dev/null
tar -czf "$OUT/gpu-session.tar.gz" -C "$WORK" .
size=$(stat -c %s "$OUT/gpu-session.tar.gz")
if [ "$size" -gt $((15 * 1024 * 1024)) ]; then   # the lease brings back files up to 16 MiB: leave the examples out
  tar -czf "$OUT/gpu-session.tar.gz" -C "$WORK" --exclude='*.examples.npz' --exclude='figures' .
  echo "tar.gz over 15 MiB ($size bytes): packed again without example files and report figures" >> "$OUT/summary.txt"
fi
rm -rf "$WORK"
echo "packed: $(ls "$OUT" | tr '\n' ' ')($(( SECONDS - START )) s in all)" | tee -a "$OUT/summary.txt"
