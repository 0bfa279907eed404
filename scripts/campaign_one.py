"""Run one (experiment, seed[, method]) of the paper-size `early` budget set, exactly as
`pgbench reproduce --scale paper --budget early --only EXP --seeds SEED --backend BACKEND` would
(same tasks, same keys, one torch thread), without building the report; prints progress every
10 iterations. The second campaign session ran it pinned to one core per process
(docs/paper_cpu.md):

    taskset -c 0 python scripts/campaign_one.py heat-training 1 jax /work/camp/store
    taskset -c 1 python scripts/campaign_one.py heat-training 2 jax /work/camp/store "PG (inverse)"
"""
import dataclasses, sys, time
from pathlib import Path
from pgbench.reproduce import tasks
from pgbench.backends import effective_torch_threads, set_torch_threads
from pgbench.sweep import run_sweep

exp, seed, backend, root = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
method = sys.argv[5] if len(sys.argv) > 5 else None
todo, notes = tasks("paper", [exp], backend, "cpu", seeds=(seed,), budget="early")
todo = [dataclasses.replace(t, threads=effective_torch_threads(1)) for t in todo]
if method:
    todo = [t for t in todo if t.label == method]
print(time.strftime("%H:%M:%S"), exp, seed, [t.label for t in todo], notes, flush=True)
set_torch_threads(1)
t0 = time.time()
def progress(ev):
    p = ev.progress
    if ev.kind != "iteration" or p.iteration % 10 == 0:
        print(time.strftime("%H:%M:%S"), f"{time.time()-t0:7.0f}s", ev.kind, ev.task.label,
              *( (p.iteration, f"{p.wall_time:.0f}", f"{p.x_error:.4g}") if p else ()), flush=True)
out = run_sweep(todo, Path(root), progress=progress)
for o in out:
    print(time.strftime("%H:%M:%S"), "done", o, flush=True)
