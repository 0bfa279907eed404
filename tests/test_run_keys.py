"""Run keys of existing configurations never change: a stored run is found again, and a changed
setting gets a new key, never an old one. ``tests/data/run_keys.json`` holds the keys of every
task of the quick and paper reproductions and of the paper ``early`` budget set, on torch and
jax, machine-dependent fields blanked (numerics ``{}``, device name ``"-"``). New tasks are
added with ``tests/run_keys_fixture.py``, which never rewrites a recorded key.

The file replaced five snapshots taken at pgbench 0.2.0 and before the network, schedule,
least-squares, sin-objective and vectorise changes (tests/data/run_keys_0.2.json, quick_keys.json,
quick_run_keys.json, lm_quick_keys.json, quick_task_keys.json); every one of them held, under its
own blanking of the machine fields, on the code that recorded this file."""

import json
from pathlib import Path

import pytest

from pgbench import reproduce, store

RECORDED = json.loads((Path(__file__).parent / "data" / "run_keys.json").read_text())


def _task_name():
    """The fixture's naming, from the script that records it (one place)."""
    from run_keys_fixture import task_name
    return task_name


def _now(scale, backend, budget=None):
    """``scale/backend/problem/solver/label/seed[/budget] -> key``; fails if two tasks share a
    name, so no task hides another."""
    todo, _ = reproduce.tasks(scale, backend=backend, budget=budget)
    name = _task_name()
    out = {name(scale, backend, t, budget): store.run_key(dict(t.plan().meta, numerics={}, device_name="-"))
           for t in todo}
    assert len(out) == len(todo), "two tasks share a name"
    return out


@pytest.mark.parametrize("scale,budget", [("quick", None), ("paper", None), ("paper", "early")])
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_recorded_keys_unchanged(scale, backend, budget):
    now = _now(scale, backend, budget)
    prefix = f"{scale}/{backend}/"
    recorded = {k: v for k, v in RECORDED.items() if k.startswith(prefix) and k.endswith(f"/{budget}") == bool(budget)
                and (budget or k.count("/") == 5)}
    assert recorded, f"nothing recorded for {prefix}"
    gone = sorted(set(recorded) - set(now))
    assert not gone, f"recorded tasks no longer planned (remove them from run_keys.json if intended): {gone[:5]}"
    changed = {k: (recorded[k], now[k]) for k in recorded if now[k] != recorded[k]}
    assert not changed, f"run keys changed (recorded, now): {dict(list(changed.items())[:5])}"
    new = sorted(set(now) - set(recorded))
    assert not new, f"tasks without a recorded key: run tests/run_keys_fixture.py ({new[:5]})"


def test_a_changed_setting_fails_the_check(monkeypatch):
    """The break-the-code check: a problem setting that moves (sin's starting point) changes the
    recorded keys of its tasks, and only theirs."""
    from pgbench.problems.sin import Sin
    orig = Sin.settings
    monkeypatch.setattr(Sin, "settings", lambda self: {**orig(self), "x_init": 2.0})
    now = _now("quick", "torch")
    moved = {k for k in now if now[k] != RECORDED[k]}
    assert moved and moved == {k for k in now if "/sin-v0/" in k}


def test_the_quick_hig_checks_on_the_wall_clock_keep_their_keys_of_before():
    """The quick HIG checks count CPU seconds (pgbench.recipes); on the wall clock
    (``--budget-clock wall``) they are the runs stored before, under the keys recorded then
    (kept as ``quick-wall/...``), and only their keys moved."""
    name = _task_name()
    for backend in ("torch", "jax"):
        todo, _ = reproduce.tasks("quick", only=["hig"], backend=backend, budget_clock="wall")
        assert todo
        for t in todo:
            key = store.run_key(dict(t.plan().meta, numerics={}, device_name="-"))
            assert key == RECORDED["quick-wall/" + name("quick", backend, t)[len("quick/"):]]
    moved = {k[len("quick-wall/"):] for k in RECORDED if k.startswith("quick-wall/")}
    assert {k.split("/")[1] for k in moved} == {"oscillators-v0", "quantum-dipole-v0", "poisson-hig-v0", "hig-toy-v0"}


def test_keys_hold_the_budget_clock_and_the_cap_only_when_set():
    """The wall clock (the default) leaves a run's key as it was; the CPU clock and a time cap
    each give a new key; without a time budget the clock is not recorded."""
    from pgbench.planning import plan
    base = plan("sin", "dp", iterations=50, max_time=10.0).run_key
    assert plan("sin", "dp", iterations=50, max_time=10.0, max_time_clock="wall").run_key == base
    cpu = plan("sin", "dp", iterations=50, max_time=10.0, max_time_clock="cpu")
    capped = plan("sin", "dp", iterations=50, max_time=10.0, time_cap=5.0)
    assert len({base, cpu.run_key, capped.run_key}) == 3
    assert cpu.meta["max_time_clock"] == "cpu" and capped.meta["time_cap"] == 5.0
    no_budget = plan("sin", "dp", iterations=50, max_time_clock="cpu")
    assert no_budget.run_key == plan("sin", "dp", iterations=50).run_key and no_budget.max_time_clock == "wall"
