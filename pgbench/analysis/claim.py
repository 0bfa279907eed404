"""One claim of the headline table (:mod:`pgbench.analysis.headline`): what is measured and how it
is judged, declared once."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .claim_measures import Measured
from .verdicts import Rule

NEEDS_GPU = "needs a GPU"


@dataclass(frozen=True)
class Claim:
    """One claim: ``key``, the ``problem`` it is measured on, the ``statement``, the ``paper``'s
    words for its number, the ``source``, the ``measure`` (frame of the problem, at the paper's
    point?) -> Measured, the method ``labels`` it reads, its ``rule`` (how it is judged);
    ``min_examples``: held-out examples needed to resolve a rate; ``gpu``: the exact command that
    measures the claim where the committed stores cannot; ``needs``: what that command adds (empty:
    "needs a GPU (thousands of paper-size iterations)"); ``examples``: the measure also reads the
    held-out examples stored beside the runs (``measure(frame, at the paper's point?, examples)``,
    the dicts of :func:`pgbench.report.examples.load_examples` for the frame's runs)."""

    key: str
    problem: str
    statement: str
    paper: str
    source: str
    measure: Callable[..., Measured | None]
    rule: Rule
    labels: tuple[str, ...] = ()
    min_examples: int = 0
    gpu: str = ""
    needs: str = ""
    examples: bool = False

    @property
    def missing(self) -> str:
        """The reason text of a claim the stored runs cannot measure: what it needs and the command."""
        return f"{self.needs or NEEDS_GPU + ' (thousands of paper-size iterations)'}: {self.gpu}"


def gpu_command(experiment: str) -> str:
    """The command measuring a paper-size training claim on a GPU."""
    return (
        f"pgbench reproduce --scale paper --only {experiment} --backend jax --device cuda "
        f"--results results/paper-gpu/runs --out results/paper-gpu/report"
    )
