"""The plugin example (examples/plugin_problem.py): a user-defined problem and solver, used from
Python and from the command line (file path and module forms), and its physics."""

import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pgbench
from pgbench import cli
from pgbench.backends import get_backend
from pgbench.keys import rng
from pgbench.registry import plugin_module_name
from pgbench.sweep import expand

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "plugin_problem.py"
TINY = {"batch_size": 8, "test_size": 8}


@pytest.fixture(scope="module")
def plugin():
    pgbench.load_plugin(str(EXAMPLE))
    return sys.modules[plugin_module_name(EXAMPLE)]


def _numpy(be, a):
    return np.asarray(be.to_numpy(a), dtype=np.float64)


def test_registered_from_python(plugin):
    assert "gravity" in pgbench.PROBLEMS and "cgls" in pgbench.SOLVERS
    problem = pgbench.make_problem("gravity", scale="quick", n_cells=16)
    assert problem.id == "gravity-v0" and problem.x_shape == (16,) and problem.iterations == 400
    with pytest.raises(pgbench.InvalidSettingError, match="did you mean 'depth'"):
        pgbench.make_problem("gravity", scale="quick", dept=3)
    # the user's solver needs the user's capability: skipped with a reason elsewhere
    with pytest.raises(pgbench.IncompatibleError, match="linear"):
        pgbench.plan("sin", "cgls")
    tasks, skipped = expand(["gravity", "sin"], ["cgls", "gd"], iterations=2, problem_overrides={"batch_size": 8})
    assert [(s.problem, s.solver) for s in skipped] == [("sin-v0", "cgls-v0")]


def test_forward_matches_the_exact_prism_attraction(plugin):
    """The line-mass kernel 2Gλh/(d²+h²) against the 2-D attraction of the full rectangular
    cell, g_z = 2GΔρ ∬ z / (x² + z²) dx dz, integrated numerically (they agree to O((w/h)²))."""
    from scipy.integrate import dblquad

    p = pgbench.make_problem("gravity", scale="quick")
    K, _ = p.operators()
    centres = (np.arange(p.n_cells) + 0.5) * p.cell_width
    length = p.n_cells * p.cell_width
    stations = np.linspace(-p.margin * length, (1 + p.margin) * length, p.n_stations)
    G, rho = 6.674e-11, 100.0
    for i, j in [(0, 0), (24, 15), (10, 20), (47, 31)]:
        d = stations[i] - centres[j]
        exact, _ = dblquad(lambda z, x: z / (x * x + z * z), d - p.cell_width / 2, d + p.cell_width / 2,
                           p.depth - p.thickness / 2, p.depth + p.thickness / 2)
        assert K[i, j] == pytest.approx(2 * G * rho * exact / 1e-5, rel=0.03)


def test_physics_and_inverse_step(plugin, backend):
    be = get_backend(backend)
    p = pgbench.make_problem("gravity", scale="quick", noise=0.0)
    x_true, y = p.sample(rng(0, "test"), 16, be)
    K, _ = p.operators()
    np.testing.assert_allclose(_numpy(be, p.forward(be, x_true)), _numpy(be, x_true) @ K.T, rtol=1e-5, atol=1e-7)
    # one inverse step from any x is the Tikhonov-regularised least-squares correction
    x0 = be.asarray(np.random.default_rng(1).normal(size=(16, p.n_cells)), "float32")
    x1 = _numpy(be, p.inverse(be, x0, y, 1.0))
    A = np.vstack([K, np.sqrt(p.epsilon) * np.eye(p.n_cells)])
    for b in range(16):
        rhs = np.concatenate([_numpy(be, y)[b] - K @ _numpy(be, x0)[b], np.zeros(p.n_cells)])
        d = np.linalg.lstsq(A, rhs, rcond=None)[0]
        np.testing.assert_allclose(x1[b], _numpy(be, x0)[b] + d, atol=2e-3)
    # noise-free and regularised: one step from zero recovers the blocks far better than zero does
    err = p.x_error(be, p.inverse(be, p.initial_guess(be, y), y, 1.0), x_true, y)
    assert _numpy(be, err).mean() < 0.5 * _numpy(be, p.x_error(be, p.initial_guess(be, y), x_true, y)).mean()


def test_cgls_reaches_the_least_squares_solution(plugin, backend):
    p = pgbench.make_problem("gravity", scale="quick", depth=60.0, noise=0.0, test_size=4, solve_iterations=32)
    result = pgbench.run(p, "cgls", backend=backend, throw=True)
    assert result.status == "ok"
    be = get_backend(backend)
    x_true, y = p.sample(rng(0, "test"), 4, be)
    K, _ = p.operators()
    x_ls = np.linalg.lstsq(K, _numpy(be, y).T, rcond=None)[0].T
    np.testing.assert_allclose(_numpy(be, result.final), x_ls, atol=5e-3)
    loss = result.records["loss"].to_numpy()
    assert loss[-1] < 1e-6 * loss[0]


def test_cli_path_form(capsys, tmp_path, plugin):
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--plugin", str(EXAMPLE), "gravity", "gd", "cgls", "pg", "--iterations", "3",
                  "--problem-set", "batch_size=8", "--problem-set", "test_size=8", "--results", str(tmp_path), "-q"])
    out, err = capsys.readouterr()
    assert exc.value.code == 0, err
    assert "gravity-v0" in out and "cgls" in out
    df = pgbench.load_results(tmp_path)
    assert set(df["solver"]) == {"gd-v0", "cgls-v0", "pg-v0"} and set(df["status"]) == {"ok"}


def test_plugin_solver_is_pgs_inner_solver_from_the_cli(capsys, tmp_path, plugin):
    """Any registered iterative solver, a plugin's included, can be PG's inner solver; its info
    (CGLS's residual norm) is recorded per row when it runs on its own."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--plugin", str(EXAMPLE), "gravity", "pg", "cgls", "--set", "pg.inner=cgls", "--set", "n=4",
                  "--iterations", "3", "--problem-set", "batch_size=8", "--problem-set", "test_size=8",
                  "--results", str(tmp_path), "-q"])
    _, err = capsys.readouterr()
    assert exc.value.code == 0, err
    df = pgbench.load_results(tmp_path)
    pg = df[df["solver"] == "pg-v0"]
    assert set(pg["hp_inner"]) == {"cgls"} and set(pg["hp_n"]) == {4} and set(pg["status"]) == {"ok"}
    cgls = df[df["solver"] == "cgls-v0"]
    assert np.isfinite(cgls["rnorm"].iloc[1:]).all() and cgls["rnorm"].iloc[-1] < cgls["rnorm"].iloc[1]
    # the inner solver really runs: PG with 4 CGLS steps differs from PG with the inverse step
    p = pgbench.make_problem("gravity", scale="quick", **TINY)
    a = pgbench.run(p, "pg", iterations=2, inner="cgls", n=4, throw=True).records["loss"].to_numpy()
    b = pgbench.run(p, "pg", iterations=2, throw=True).records["loss"].to_numpy()
    assert a[0] == b[0] and a[1] != b[1]
    # an unknown inner id is refused before any work, with the nearest registered id
    with pytest.raises(pgbench.InvalidSettingError, match="inner: unknown solver 'cgl'; did you mean 'cgls'"):
        pgbench.plan(p, "pg", inner="cgl")
    with pytest.raises(ValueError, match="not an iterative solver"):
        pgbench.plan(p, "pg", inner="dp")


OLD_STEP = '''
from dataclasses import dataclass
import pgbench
from pgbench.solvers.base import IterativeSolver, loss_and_x_gradient

@dataclass(frozen=True)
class OldGD(IterativeSolver):
    """Written against pgbench 0.1: step returns (x, state)."""
    eta: float = 0.01

    def step(self, problem, be, x, y_target, state):
        _, g = loss_and_x_gradient(problem, be)(x, y_target)
        return x - self.eta * g, state

pgbench.register_solver("oldgd-v0", f"{__name__}:OldGD")
'''

OLD_SCHEME = '''
from dataclasses import dataclass
import pgbench

@dataclass(frozen=True)
class OldSupervised(pgbench.solvers.base.TrainingScheme):
    """Written against pgbench 0.1: TrainingScheme had optimizer/lr/momentum and x_gradient."""
    def x_gradient(self, problem, be, x, y_target, x_true):
        return x - x_true, None
'''

TWO_TUPLE = r"pgbench_plugin_old_step_[0-9a-f]{8}\.OldGD\.step must return \(x, state, info\).*it returned a 2-tuple"


def test_a_two_tuple_step_is_refused_naming_the_class_and_the_contract(tmp_path, capsys, monkeypatch):
    """pgbench 0.1's ``step -> (x, state)`` is no longer adapted (0.3.0): its first step raises a
    TypeError that names the class and the contract, as a run, as PG's inner solver and from the CLI."""
    # registrations made here are undone afterwards (later tests enumerate the registries)
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))
    path = tmp_path / "old_step.py"
    monkeypatch.delitem(sys.modules, plugin_module_name(path), raising=False)
    path.write_text(OLD_STEP)
    pgbench.load_plugin(str(path))
    for backend in ("torch", "jax"):
        with pytest.raises(TypeError, match=TWO_TUPLE):
            pgbench.run("sin", "oldgd", iterations=2, backend=backend, throw=True)
    with pytest.raises(TypeError, match=TWO_TUPLE):
        pgbench.run("sin", "pg", inner="oldgd", iterations=1, backend="torch", throw=True)
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--plugin", str(path), "sin", "oldgd", "--iterations", "2",
                  "--results", str(tmp_path / "runs"), "-q"])
    out, err = capsys.readouterr()
    assert exc.value.code != 0 and "OldGD.step must return (x, state, info)" in out + err


def test_a_feedback_scheme_subclassing_training_scheme_is_refused_at_import(tmp_path, monkeypatch):
    """pgbench 0.1's ``TrainingScheme`` with ``x_gradient`` is no longer given ``FeedbackScheme``
    as its base (0.3.0): defining one raises a TypeError saying what to subclass."""
    path = tmp_path / "old_scheme.py"
    monkeypatch.delitem(sys.modules, plugin_module_name(path), raising=False)
    path.write_text(OLD_SCHEME)
    with pytest.raises(TypeError, match="OldSupervised subclasses TrainingScheme and defines x_gradient: "
                                        "subclass FeedbackScheme"):
        pgbench.load_plugin(str(path))
    assert plugin_module_name(path) not in sys.modules


def test_cli_module_form(capsys, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    # registrations made here are undone afterwards (the same file is registered by path elsewhere)
    # (an id registered twice from different entry points is refused, so start without them)
    monkeypatch.setattr(pgbench.PROBLEMS, "specs", {k: v for k, v in pgbench.PROBLEMS.specs.items() if k != "gravity-v0"})
    monkeypatch.setattr(pgbench.SOLVERS, "specs", {k: v for k, v in pgbench.SOLVERS.specs.items() if k != "cgls-v0"})
    monkeypatch.delitem(sys.modules, "examples.plugin_problem", raising=False)
    with pytest.raises(SystemExit) as exc:
        cli.main(["run", "--plugin", "examples.plugin_problem", "gravity", "cgls", "--iterations", "2",
                  "--problem-set", "test_size=4", "--results", str(tmp_path), "-q"])
    _, err = capsys.readouterr()
    assert exc.value.code == 0, err
    assert "examples.plugin_problem" in sys.modules
    assert pgbench.PROBLEMS.resolve("gravity").entry_point == "examples.plugin_problem:GravityInversion"
    assert len(list((tmp_path / "gravity-v0").glob("*.parquet"))) == 1


def test_console_script_and_a_fresh_worker_process(tmp_path, plugin):
    exe = shutil.which("pgbench") or pytest.skip("console script not installed")
    proc = subprocess.run([exe, "list", "problems", "--plugin", str(EXAMPLE)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "gravity-v0" in proc.stdout and "linear" in proc.stdout

    # a sweep task carries the plugin, so a process that never imported it (a Dask worker) can run it
    tasks, _ = expand("gravity", "cgls", iterations=2, problem_overrides={"test_size": 4})
    assert str(EXAMPLE) in tasks[0].plugins
    (tmp_path / "task.pkl").write_bytes(pickle.dumps(tasks[0]))
    code = ("import pickle, sys; from pgbench.sweep import run_task; "
            "t = pickle.load(open(sys.argv[1], 'rb')); print(run_task(t, sys.argv[2]).status)")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "task.pkl"), str(tmp_path / "runs")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_example_passes_the_conformance_checks(plugin, backend):
    from pgbench.testing import check_problem, check_solver, compatible_pairs, tiny_problem

    check_problem(tiny_problem("gravity"), backend=backend)
    pairs = {s: r for _, s, r in compatible_pairs(["gravity-v0"], ["cgls-v0", "gd-v0", "pg-v0", "invgrad-v0"])}
    assert pairs["cgls-v0"] is None and pairs["pg-v0"] is None and "square Jacobian" in pairs["invgrad-v0"]
    check_solver("cgls-v0", "gravity-v0", backend=backend)
    check_solver("pg-v0", "gravity-v0", backend=backend)


def _installed(tmp_path, monkeypatch, dist_name: str, entry_point: str):
    """Make ``tmp_path`` look like site-packages holding a distribution with one
    ``pgbench.plugins`` entry point, and let the registry look for plugins again."""
    import importlib

    from pgbench import registry

    dist = tmp_path / f"{dist_name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[pgbench.plugins]\n{entry_point}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.setattr(registry, "_installed_loaded", False)
    monkeypatch.setattr(registry.PROBLEMS, "specs", dict(registry.PROBLEMS.specs))  # leave no trace
    return registry


def test_installed_package_registers_through_its_entry_point(tmp_path, monkeypatch):
    """A package that declares ``[project.entry-points."pgbench.plugins"]`` is found without any
    ``--plugin`` flag: its problems resolve and are listed."""
    pkg = tmp_path / "pgbench_ep_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import pgbench\n"
        "def register():\n"
        "    pgbench.register_problem('ep-demo-sin-v0', 'pgbench.problems.sin:Sin')\n")
    registry = _installed(tmp_path, monkeypatch, "pgbench_ep_demo", "demo = pgbench_ep_demo:register")
    problem = pgbench.make_problem("ep-demo-sin", scale="quick")
    assert problem.id == "ep-demo-sin-v0"
    assert "ep-demo-sin" in registry.PROBLEMS.names()


def test_a_broken_installed_plugin_warns_and_is_skipped(tmp_path, monkeypatch):
    registry = _installed(tmp_path, monkeypatch, "pgbench_ep_broken", "broken = no_such_module_for_pgbench")
    with pytest.warns(UserWarning, match="'broken'.*failed to load"):
        assert "sin" in registry.PROBLEMS.names()


def test_plugin_files_named_alike_in_two_folders_both_load(tmp_path, monkeypatch):
    """Each plugin file is its own module (named after its resolved path): a second ``same.py``
    in another folder is imported, not taken for the first; the same file twice loads once."""
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))
    paths = []
    for folder, id in (("one", "same-one-v0"), ("two", "same-two-v0")):
        (tmp_path / folder).mkdir()
        path = tmp_path / folder / "same.py"
        path.write_text(f"import pgbench\npgbench.register_solver({id!r}, 'pgbench.solvers.iterative:GradientDescent')\n")
        paths.append(path)
        monkeypatch.delitem(sys.modules, plugin_module_name(path), raising=False)
    for p in paths:
        pgbench.load_plugin(str(p))
    assert "same-one" in pgbench.SOLVERS and "same-two" in pgbench.SOLVERS
    pgbench.load_plugin(str(paths[0]))  # again: already imported, nothing re-registered
    assert plugin_module_name(paths[0]) != plugin_module_name(paths[1])
    assert plugin_module_name(paths[0]) == plugin_module_name(tmp_path / "two" / ".." / "one" / "same.py")


def test_a_plugin_calling_sys_exit_is_an_error_naming_it(tmp_path, capsys):
    """``sys.exit(0)`` at a plugin's import is not a silent exit 0: InvalidSettingError naming the
    plugin; from the command line one ``error:`` line and status 2."""
    path = tmp_path / "exits.py"
    path.write_text("import sys\nsys.exit(0)\n")
    with pytest.raises(pgbench.InvalidSettingError, match=r"plugin '.*exits\.py' called sys.exit\(0\) on import"):
        pgbench.load_plugin(str(path))
    assert plugin_module_name(path) not in sys.modules
    with pytest.raises(SystemExit) as exc:
        cli.main(["list", "solvers", "--plugin", str(path)])
    out, err = capsys.readouterr()
    assert exc.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: plugin") and "exits.py" in err and "sys.exit(0)" in err


def test_an_installed_plugin_calling_sys_exit_warns_and_is_skipped(tmp_path, monkeypatch):
    pkg = tmp_path / "pgbench_ep_exits"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("import sys\nsys.exit(3)\n")
    registry = _installed(tmp_path, monkeypatch, "pgbench_ep_exits", "exits = pgbench_ep_exits")
    with pytest.warns(UserWarning, match=r"'exits'.*failed to load.*sys.exit\(3\)"):
        assert "sin" in registry.PROBLEMS.names()
