"""Quality after the fixed benchmark budget (``track_*``, lower is better): one class per
registered problem, parameterised by solver x backend:device (generated). One cached run per
combination feeds all of its ``track_*`` values."""

from .common import generate

CLASSES = generate("quality", globals())
