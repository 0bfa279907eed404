"""Slow and hanging test solvers, loaded as a plugin file (``--plugin tests/slow_solvers.py`` or a
sweep file's ``plugins``) by tests/test_executors.py and tests/test_watchdog.py.

* ``sleeper``: gradient descent that sleeps ``nap`` seconds in every step, and at the start of each
  run (its solver state's init) leaves an empty file in the folder ``$PGBENCH_TEST_STARTS`` (when
  set), so that a test can count the runs that started.
* ``hangs``: gradient descent whose ``hang_at``-th step sleeps ``hang`` seconds in one call
  (``time.sleep`` returns early only for a signal), a step that hangs; the others are quick.
"""

import os
import time
import uuid
from dataclasses import dataclass
from typing import ClassVar

import pgbench
from pgbench.solvers.iterative import GradientDescent


@dataclass(frozen=True)
class Sleeper(GradientDescent):
    nap: float = 0.5
    jittable: ClassVar[bool] = False

    def init(self, problem, be, x0, y_target):
        folder = os.environ.get("PGBENCH_TEST_STARTS")
        if folder:
            open(os.path.join(folder, f"{os.getpid()}-{uuid.uuid4().hex}"), "w").close()
        return super().init(problem, be, x0, y_target)

    def step(self, problem, be, x, y_target, state):
        time.sleep(self.nap)
        return super().step(problem, be, x, y_target, state)


@dataclass(frozen=True)
class Hangs(GradientDescent):
    hang: float = 3600.0
    hang_at: int = 3
    jittable: ClassVar[bool] = False

    def init(self, problem, be, x0, y_target):
        return 0

    def step(self, problem, be, x, y_target, state):
        state += 1
        if state == self.hang_at:
            time.sleep(self.hang)
        x, _, info = super().step(problem, be, x, y_target, None)
        return x, state, info


pgbench.register_solver("sleeper-v0", __name__ + ":Sleeper")
pgbench.register_solver("hangs-v0", __name__ + ":Hangs")
