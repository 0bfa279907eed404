"""Physics kernels shared by problems, written once against the array API.

Every function takes the array namespace ``xp`` (``be.xp``, or ``numpy`` for data generation) or
works on host data with a numpy ``Generator``; all act on the last two (spatial) axes and are
vectorised over any leading (batch, channel) axes.

* :mod:`.grid`: 5-point Laplacian with zero extrapolation (Dirichlet 0 at the ghost cells).
* :mod:`.fourier`: wavenumbers, periodic Fourier diffusion and its probabilistically damped inverse.
* :mod:`.noise`: PhiFlow-style ``Noise`` (random 1/|k|^2 spectrum, zero mean, unit std).
* :mod:`.geometry`: soft (anti-aliased) box masks on cell centres.
"""

from .fourier import diffusion_log_kernel, fourier_diffuse, fourier_filter, inverse_diffuse_damped, k_squared
from .geometry import soft_box_mask
from .grid import laplace
from .noise import noise, noise_draws, noise_from_draws, noise_weight

__all__ = [
    "laplace",
    "k_squared",
    "diffusion_log_kernel",
    "fourier_diffuse",
    "inverse_diffuse_damped",
    "fourier_filter",
    "noise",
    "noise_draws",
    "noise_from_draws",
    "noise_weight",
    "soft_box_mask",
]
