"""Every registered problem and solver passes pgbench.testing's conformance checks."""

import pytest

import pgbench
from pgbench.testing import check_problem, check_solver, compatible_pairs, tiny_problem

PROBLEM_IDS = [s.id for s in pgbench.PROBLEMS.latest()]
PAIRS = compatible_pairs()


@pytest.mark.parametrize("problem_id", PROBLEM_IDS)
def test_problem_conforms(problem_id, backend):
    check_problem(tiny_problem(problem_id), backend=backend)


@pytest.mark.parametrize("problem_id,solver_id", [(p, s) for p, s, r in PAIRS if r is None])
def test_solver_runs_on_compatible_problem(problem_id, solver_id):
    check_solver(solver_id, problem_id, backend="torch")


@pytest.mark.parametrize("problem_id,solver_id,reason", [(p, s, r) for p, s, r in PAIRS if r is not None])
def test_incompatible_pair_is_refused_with_reason(problem_id, solver_id, reason):
    assert problem_id in reason and solver_id in reason
    with pytest.raises(pgbench.IncompatibleError, match="needs"):
        pgbench.plan(tiny_problem(problem_id), solver_id)


def test_every_problem_has_paper_and_quick_scales():
    for spec in pgbench.PROBLEMS.latest():
        assert {"paper", "quick"} <= set(spec.scales), spec.id
