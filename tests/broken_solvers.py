"""Deliberately broken solvers for tests/test_store_faults.py: each derives from gradient descent
and breaks one promise that :func:`pgbench.testing.check_solver` must catch."""

from dataclasses import dataclass

import numpy as np

from pgbench.solvers.iterative import GradientDescent


@dataclass(frozen=True)
class DropsBatch(GradientDescent):
    """Returns one x for the whole batch (the first example's, shape ``(1, *x_shape)``): the batch
    dimension is lost, yet every later computation broadcasts and the run goes on."""

    def step(self, problem, be, x, y_target, state):
        x, state = super().step(problem, be, x, y_target, state)
        return x[:1], state


@dataclass(frozen=True)
class CouplesBatch(GradientDescent):
    """Moves every example by the batch-mean gradient: the shape is right, the examples are not
    independent."""

    def step(self, problem, be, x, y_target, state):
        new, state = super().step(problem, be, x, y_target, state)
        shift = (new - x).mean(0)
        return x + 10.0 * shift, state


@dataclass(frozen=True)
class HalfNaN(GradientDescent):
    """Makes every second example NaN; the run still ends ``ok`` on the finite half."""

    def step(self, problem, be, x, y_target, state):
        x, state = super().step(problem, be, x, y_target, state)
        n = x.shape[0]
        mask = np.zeros((n,) + (1,) * (len(x.shape) - 1), dtype=bool)
        mask[1::2] = True
        nan = be.asarray(np.full((1,) * len(x.shape), np.nan), "float32")
        return be.xp.where(be.asarray(mask, "bool"), nan, x), state
