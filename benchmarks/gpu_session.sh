#!/usr/bin/env bash
# Every GPU measurement of docs/speed.md in one go, each part time-boxed, for a short GPU lease.
# Writes into $OUT (default gpu-out/): test_devices.log, peers.{md,json}, peers-torch-compile-cg.*,
# profile-*.txt, cg-check-*.txt, paper/ (a capped paper-scale store and its report), and a log per part.
#
#   PHIFLOW_PYTHON=/path/to/python-with-phiflow SIP=/path/to/SIP bash benchmarks/gpu_session.sh
#
# Without PHIFLOW_PYTHON the peer is skipped (pgbench only); without SIP the authors' scripts are.
# Budgets (seconds): T_TESTS, T_COMPARE, T_PROFILE (each profile), T_REPRODUCE; MAX_TIME per paper run.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
nvidia-smi -L > "$OUT/machine.txt" 2>&1
python -c "import torch, jax; print('torch', torch.__version__, 'jax', jax.__version__, jax.devices())" >> "$OUT/machine.txt" 2>&1

# 1. CPU and GPU give the same numbers. -v prints one line per finished test, so a run cut at its
#    time limit still says which tests passed and failed.
timeout "${T_TESTS:-300}" python -m pytest tests/test_devices.py -n "${WORKERS:-8}" -v --tb=short \
    -p no:cacheprovider > "$OUT/test_devices.log" 2>&1
echo "test_devices: exit $? ($(grep -c ' PASSED' "$OUT/test_devices.log") passed, $(grep -c ' FAILED' "$OUT/test_devices.log") failed)"

# 2. The ratio table at paper sizes, one run.
peer=(--skip-peer)
[ -n "${PHIFLOW_PYTHON:-}" ] && peer=(--phiflow-python "$PHIFLOW_PYTHON")
authors=()
[ -n "${SIP:-}" ] && authors=(--authors-sip "$SIP")
timeout "${T_COMPARE:-1200}" python benchmarks/peers/compare.py --device cuda --steps "${STEPS:-6}" \
    "${peer[@]}" "${authors[@]}" --out "$OUT/peers" > "$OUT/compare.log" 2>&1
echo "compare: exit $?"

# 2b. torch with CG under torch.compile (TorchBackend.cg_compile): the launch-bound part on a GPU.
timeout "${T_COMPARE_COMPILE:-600}" python benchmarks/peers/compare.py --device cuda --steps "${STEPS:-6}" \
    --skip-peer --backends torch --torch-compile-cg --out "$OUT/peers-torch-compile-cg" \
    > "$OUT/compare-torch-compile-cg.log" 2>&1
echo "compare (torch, compiled CG): exit $?"

# 3. Where the time goes.
for case in "heat-v0 dp" "poisson-v0 dp" "navier-stokes-v0 dp"; do
  set -- $case
  for backend in torch jax; do
    timeout "${T_PROFILE:-120}" python benchmarks/reference/profile_pgbench.py --problem "$1" --solver "$2" \
        --backend "$backend" --device cuda --batch 128 --steps 5 --top 30 \
        > "$OUT/profile-$1-$2-$backend.txt" 2>&1
  done
done
echo "profiles: done"

# 3b. CG steps per convergence check (one host synchronisation per check on a GPU), both backends.
for backend in torch jax; do
  timeout "${T_PROFILE:-120}" python benchmarks/reference/cg_check_interval.py --backend "$backend" --device cuda \
      --batch 128 --batch-ns 64 --intervals 1 4 8 16 --rounds 5 > "$OUT/cg-check-$backend.txt" 2>&1
done
timeout "${T_PROFILE:-120}" python benchmarks/reference/cg_check_interval.py --backend torch --device cuda \
    --batch 128 --batch-ns 64 --intervals 4 8 16 --rounds 5 --torch-compile-cg > "$OUT/cg-check-torch-compiled.txt" 2>&1
echo "cg check interval: done"

# 4. Paper-scale baselines, each run capped at MAX_TIME seconds.
timeout "${T_REPRODUCE:-1800}" python -m pgbench reproduce --scale paper --backend jax --device cuda --seeds 0 \
    --max-time "${MAX_TIME:-60}" --only heat-training --only poisson-training --only navier-stokes-training \
    --results "$OUT/paper/runs" --out "$OUT/paper/report" -q > "$OUT/reproduce.log" 2>&1
echo "reproduce: exit $?"
