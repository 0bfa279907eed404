"""Sweep files: the TOML grid, its axes and labels, and errors before any work."""

from pathlib import Path

import pytest

from pgbench.registry import InvalidSettingError, UnknownIdError
from pgbench.sweep_config import SweepConfig

GRID = """
problems = ["sin"]
solvers = ["gd", "dp"]
seeds = [0, 1]
backends = ["torch"]
iterations = 3

[hyperparameters.dp]
lr = [1e-3, 3e-4]
clip_x_grad = 0.5

[problem_settings.sin]
batch_size = [8, 16]
test_size = 8
"""


def _write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_is_crossed_and_labelled(tmp_path):
    tasks, skipped = SweepConfig.from_toml(_write(tmp_path, GRID)).tasks()
    assert not skipped
    # 2 problem settings × (gd + 2 dp points) × 2 seeds
    assert len(tasks) == 2 * 3 * 2
    dp = [t for t in tasks if t.solver == "dp-v0"]
    assert sorted({t.hyperparameters["lr"] for t in dp}) == [3e-4, 1e-3]
    assert {t.hyperparameters["clip_x_grad"] for t in dp} == {0.5}
    assert {t.label for t in dp} == {"dp lr=0.001", "dp lr=0.0003"}
    assert {t.label for t in tasks if t.solver == "gd-v0"} == {None}  # one point: the solver's own name
    assert sorted({t.problem_overrides["batch_size"] for t in tasks}) == [8, 16]
    assert {t.iterations for t in tasks} == {3} and {t.seed for t in tasks} == {0, 1}
    # every task is distinct: its run key differs
    assert len({t.plan().meta["problem_settings"]["batch_size"] for t in tasks}) == 2
    from pgbench.store import run_key
    assert len({run_key(t.plan().meta) for t in tasks}) == len(tasks)


def test_sequence_valued_setting_is_one_value_not_an_axis(tmp_path):
    text = 'problems = ["sin"]\nsolvers = ["pg"]\niterations = 2\n[hyperparameters.pg]\ninner_settings = {eta = 0.5}\n'
    tasks, _ = SweepConfig.from_toml(_write(tmp_path, text)).tasks()
    assert len(tasks) == 1 and tasks[0].hyperparameters["inner_settings"] == {"eta": 0.5}


def test_incompatible_pairs_are_skipped_with_a_reason(tmp_path):
    text = 'problems = ["wavepacket"]\nsolvers = ["inverse", "gd"]\niterations = 1\n'
    tasks, skipped = SweepConfig.from_toml(_write(tmp_path, text)).tasks()
    assert [t.solver for t in tasks] == ["gd-v0"]
    assert [s.solver for s in skipped] == ["inverse-v0"] and skipped[0].reason


def test_plugin_paths_are_relative_to_the_file(tmp_path):
    (tmp_path / "my_plugin.py").write_text(
        "import pgbench\n"
        "pgbench.register_problem('sweep-plugin-sin-v0', 'pgbench.problems.sin:Sin')\n")
    text = 'problems = ["sweep-plugin-sin"]\nsolvers = ["gd"]\niterations = 1\nplugins = ["my_plugin.py"]\n'
    tasks, _ = SweepConfig.from_toml(_write(tmp_path, text)).tasks()
    assert tasks[0].problem == "sweep-plugin-sin-v0"
    assert tasks[0].plugins and tasks[0].plugins[0].endswith("my_plugin.py")


@pytest.mark.parametrize("text, error, match", [
    ('problems = ["sin"]\nsolver = ["gd"]\n', InvalidSettingError, "did you mean 'solvers'"),
    ('problems = ["sin"]\n', InvalidSettingError, "'solvers' is required"),
    ('problems = ["sin"]\nsolvers = ["gdd"]\n', UnknownIdError, "gd"),
    ('problems = ["sin"]\nsolvers = ["dp"]\n[hyperparameters.dp]\nlrr = [1e-3]\n', InvalidSettingError, "'lr'"),
    ('problems = ["sin"]\nsolvers = ["dp"]\n[hyperparameters.pg]\nlr = [1e-3]\n', InvalidSettingError,
     "names no solver"),
    ('problems = ["sin"]\nsolvers = ["dp"]\n[hyperparameters.dp]\nlr = []\n', InvalidSettingError, "empty list"),
    ('problems = ["sin"]\nsolvers = ["dp"]\n[hyperparameters.dp]\nlr = [-1.0]\n', ValueError, "lr"),
    ('problems = ["sin"]\nsolvers = ["dp"]\niterations = [1, 2]\n', InvalidSettingError, "one value"),
    ('problems = ["sin"]\nsolvers = ["dp"]\n[hyperparameters]\nlr = 1e-3\n', InvalidSettingError, "one table per"),
    ('problems = ["sin"\n', InvalidSettingError, "sweep file"),
])
def test_bad_sweep_files_raise_before_any_work(tmp_path, text, error, match):
    with pytest.raises(error, match=match):
        SweepConfig.from_toml(_write(tmp_path, text)).tasks()
    assert not (tmp_path / "results").exists()


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no sweep file"):
        SweepConfig.from_toml(tmp_path / "nope.toml")


def test_same_grid_from_python():
    config = SweepConfig(problems=("sin",), solvers=("dp",), seeds=(0,), iterations=2,
                         hyperparameters={"dp": {"lr": [1e-3, 1e-4]}},
                         problem_settings={"sin": {"batch_size": 8, "test_size": 8}})
    tasks, _ = config.tasks()
    assert [t.hyperparameters["lr"] for t in tasks] == [1e-3, 1e-4]


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[1] / "examples" / "sweeps").glob("*.toml")),
                         ids=lambda p: p.name)
def test_example_sweep_files_are_valid(path):
    tasks, _ = SweepConfig.from_toml(path).tasks(remote=True)  # cuda examples validate on a CPU machine too
    assert tasks


def test_a_grid_above_the_maximum_is_refused_before_planning(tmp_path, monkeypatch):
    """1,000 × 1,000 points: refused at once with the grid's size (the product of its axis
    lengths), before a single run is planned."""
    import pgbench.sweep_config as sc

    planned = []
    monkeypatch.setattr(sc, "expand", lambda *a, **k: planned.append(1) or ([], []))
    lrs = ", ".join(f"{1e-4 * (i + 1):.6g}" for i in range(1000))
    text = f'problems = ["sin"]\nsolvers = ["dp"]\nseeds = {list(range(1000))}\n[hyperparameters.dp]\nlr = [{lrs}]\n'
    with pytest.raises(InvalidSettingError, match=r"the grid has 1,000,000 runs, more than the 10,000"):
        SweepConfig.from_toml(_write(tmp_path, text)).tasks()
    assert not planned
    # at the maximum the grid is planned (here without planning for real)
    text = f'problems = ["sin"]\nsolvers = ["dp"]\nseeds = {list(range(10))}\n[hyperparameters.dp]\nlr = [{lrs}]\n'
    SweepConfig.from_toml(_write(tmp_path, text)).tasks()
    assert len(planned) == 1000
