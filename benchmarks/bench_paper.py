"""Seconds per runner iteration at the paper's sizes (``time_iteration``): one class per
registered problem at its ``paper`` scale, parameterised by solver x backend:device (generated).
CPU entries are skipped unless ``PGBENCH_ASV_PAPER_CPU=1`` (see :mod:`benchmarks.common`)."""

from .common import generate

CLASSES = generate("paper", globals())
