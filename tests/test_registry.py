import pytest

import pgbench
from pgbench.registry import InvalidSettingError, Registry, Spec, UnknownIdError, base_name, split_id, suggest


def test_unknown_problem_suggests_nearest():
    with pytest.raises(UnknownIdError, match="did you mean 'wavepacket'"):
        pgbench.make_problem("wavepaket")


def test_unknown_solver_suggests_nearest():
    with pytest.raises(UnknownIdError, match="did you mean 'lbfgsb'"):
        pgbench.make_solver("lbgfsb")


def test_unversioned_id_resolves_to_highest_version():
    reg = Registry("thing")
    reg.register(Spec("a-v0", "x:y"))
    reg.register(Spec("a-v2", "x:z"))
    assert reg.resolve("a").id == "a-v2"
    assert reg.resolve("a-v0").entry_point == "x:y"


def test_ids_must_carry_a_version():
    with pytest.raises(InvalidSettingError, match="name-v0"):
        Registry("thing").register(Spec("noversion", "x:y"))


def test_invalid_scale_and_override_are_rejected():
    with pytest.raises(InvalidSettingError, match="scale"):
        pgbench.make_problem("sin", scale="huge")
    with pytest.raises(InvalidSettingError, match="did you mean 'batch_size'"):
        pgbench.make_problem("sin", batch_sise=3)
    with pytest.raises(InvalidSettingError, match="no setting"):
        pgbench.make_solver("gd", lr=1.0)


def test_hyperparameters_are_validated_before_work():
    with pytest.raises(ValueError, match="eta"):
        pgbench.make_solver("gd", eta=-1.0)
    with pytest.raises(ValueError, match="optimizer"):
        pgbench.make_solver("dp", optimizer="rmsprob")   # a typo: "did you mean 'rmsprop'"
    with pytest.raises(ValueError, match="inner"):
        pgbench.make_solver("pg", inner="magic")


def test_make_problem_applies_scale_and_overrides():
    quick = pgbench.make_problem("sin", scale="quick", batch_size=7)
    assert quick.batch_size == 7 and quick.scale == "quick" and quick.id == "sin-v0"
    assert pgbench.make_problem("sin", scale="paper").iterations == 20000


def test_register_and_make_a_user_problem(tmp_path):
    pgbench.register_problem("user-sin-v0", "pgbench.problems.sin:Sin",
                             scales={"paper": {}, "quick": {"batch_size": 3}})
    try:
        assert pgbench.make_problem("user-sin", scale="quick").batch_size == 3
    finally:
        del pgbench.PROBLEMS.specs["user-sin-v0"]


def test_load_plugin_from_file(tmp_path):
    plugin = tmp_path / "myplug.py"
    plugin.write_text(
        "import pgbench\n"
        "pgbench.register_solver('plugged-gd-v0', 'pgbench.solvers.iterative:GradientDescent', kwargs={'eta': 0.1})\n")
    pgbench.load_plugin(str(plugin))
    try:
        assert pgbench.make_solver("plugged-gd").eta == 0.1
    finally:
        del pgbench.SOLVERS.specs["plugged-gd-v0"]


def test_missing_plugin_is_a_clear_error():
    with pytest.raises(InvalidSettingError, match="cannot be imported"):
        pgbench.load_plugin("no_such_module_xyz")
    with pytest.raises(InvalidSettingError, match="does not exist"):
        pgbench.load_plugin("missing_file.py")


def test_plugin_file_that_is_no_python_module_is_a_clear_error(tmp_path):
    notes = tmp_path / "notes.txt"  # exists, but no suffix Python imports: no module spec
    notes.write_text("pgbench.register_solver(...)\n")
    with pytest.raises(InvalidSettingError, match="is not a Python module file"):
        pgbench.load_plugin(str(notes))


def test_suggest_lists_candidates_when_nothing_is_close():
    assert "registered: alpha, beta" in suggest("zzzzzz", ["beta", "alpha"])


@pytest.mark.parametrize("make, kwargs, message", [
    (pgbench.make_solver, dict(lr="fast"), "lr='fast': expected float"),
    (pgbench.make_solver, dict(n=1.5), "n=1.5: expected int"),
    (pgbench.make_solver, dict(n=True), "n=True: expected int"),
])
def test_values_of_the_wrong_type_are_refused_by_name(make, kwargs, message):
    with pytest.raises(pgbench.InvalidSettingError, match=message):
        make("pg", **kwargs)


def test_problem_values_of_the_wrong_type_are_refused():
    with pytest.raises(pgbench.InvalidSettingError, match="batch_size=2.5: expected int"):
        pgbench.make_problem("sin", scale="quick", batch_size=2.5)
    assert pgbench.make_problem("sin", scale="quick", batch_size=8).batch_size == 8
    assert pgbench.make_solver("pg", lr=1).lr == 1  # an int is a fine float


def test_ids_are_split_by_the_registry():
    assert split_id("sin-v0") == ("sin", 0) and split_id("gauss-newton-v12") == ("gauss-newton", 12)
    assert split_id("sin") == ("sin", None)
    assert split_id("my-vortex") == ("my-vortex", None)   # rsplit("-v") gave "my"
    assert base_name("sin-v0") == "sin" and base_name("my-vortex-v3") == "my-vortex"
    assert base_name("sin") == "sin" and base_name("no/id") == "no/id"
    with pytest.raises(InvalidSettingError, match="is not an id"):
        split_id("no/id")
    spec = Spec("my-vortex-v3", "x:y")
    assert (spec.name, spec.version) == ("my-vortex", 3)
    assert pgbench.make_solver("gauss-newton-v0").name == "gauss-newton"


@pytest.mark.parametrize("bad", ["sin-v0\n", "sin\n", "a-v0\n\n"])
def test_an_id_ending_in_a_newline_is_no_id(bad):
    """Ids are matched whole (``fullmatch``): ``$`` would let a trailing newline through."""
    with pytest.raises(InvalidSettingError, match="is not an id"):
        split_id(bad)
    assert base_name(bad) == bad
    with pytest.raises(InvalidSettingError, match="must look like 'name-v0'"):
        Registry("thing").register(Spec("a-v0\n", "x:y"))
    with pytest.raises(UnknownIdError):
        pgbench.SOLVERS.resolve("gd\n")


def test_a_bare_name_says_which_id_it_resolved_to(tmp_path, monkeypatch):
    """A plugin registering ``gd-v1`` / ``sin-v1`` takes over the bare names ``gd`` / ``sin``:
    :meth:`Registry.resolution` says so in one line (nothing for a built-in -v0 or a versioned id)."""
    monkeypatch.setattr(pgbench.SOLVERS, "specs", dict(pgbench.SOLVERS.specs))
    monkeypatch.setattr(pgbench.PROBLEMS, "specs", dict(pgbench.PROBLEMS.specs))
    assert pgbench.SOLVERS.resolution("gd") is None and pgbench.PROBLEMS.resolution("sin") is None
    plugin = tmp_path / "newer.py"
    plugin.write_text("import pgbench\n"
                      "pgbench.register_solver('gd-v1', 'pgbench.solvers.iterative:GradientDescent')\n"
                      "pgbench.register_problem('sin-v1', 'pgbench.problems.sin:Sin')\n")
    pgbench.load_plugin(str(plugin))
    assert pgbench.SOLVERS.resolution("gd") == f"solver gd → gd-v1 (plugin {plugin})"
    assert pgbench.PROBLEMS.resolution("sin") == f"problem sin → sin-v1 (plugin {plugin})"
    assert pgbench.SOLVERS.resolution("gd-v0") is None and pgbench.SOLVERS.resolution("gd-v1") is None
    assert pgbench.SOLVERS.resolution("adam") is None
    with pytest.raises(UnknownIdError):
        pgbench.SOLVERS.resolution("no-such-solver")
    # an id registered afresh (after its spec was dropped) names its new origin, not a stale one
    del pgbench.SOLVERS.specs["gd-v1"]
    other = tmp_path / "other.py"
    other.write_text("import pgbench\npgbench.register_solver('gd-v1', 'pgbench.solvers.iterative:GradientDescent')\n")
    pgbench.load_plugin(str(other))
    assert pgbench.SOLVERS.resolution("gd") == f"solver gd → gd-v1 (plugin {other})"
    # a name with one version chooses nothing: no note (a plugin's own new solver is not news)
    reg = Registry("thing")
    reg.register(Spec("a-v0", "my_module:A"))
    assert reg.resolution("a") is None
    # registered from Python outside a plugin: named by its module
    reg.register(Spec("a-v1", "my_module:A1"))
    assert reg.resolution("a") == "thing a → a-v1 (registered by my_module)"
