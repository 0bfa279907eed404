"""Seconds per runner iteration (``time_iteration``) and peak memory (``peakmem_iteration``):
one class per registered problem, parameterised by solver x backend:device (generated)."""

from .common import generate

CLASSES = generate("iteration", globals())
