"""Write tests/data/quick_task_keys.json: run keys of the quick reproduction's tasks with the
machine-dependent fields (device_name, numerics) fixed, so the file holds on any machine."""
import json, sys
from pgbench import reproduce, store
out = []
for backend in ("torch", "jax"):
    todo, _ = reproduce.tasks("quick", backend=backend)
    for t in todo:
        meta = dict(t.plan().meta, device_name="-", numerics={})
        out.append([f"{backend} {t.problem} {t.label} seed={t.seed}", store.run_key(meta)])
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=False)
print(len(out))
