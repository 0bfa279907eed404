"""Networks written once against the backend interface, as pure functions of a parameter dict.

Parameters are initialised on the host with numpy from a seeded generator, following PyTorch's
default layer initialisation (uniform in :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}` for weights and
biases), so the torch and jax versions of a network start from bit-identical weights and every
solver on a problem starts from the same network.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np


def _uniform(rng, shape, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def _sigmoid_floor(xp, x) -> float:
    """The most negative x whose e^{−x} is finite in x's dtype (−88 in float32). Below it
    1/(1 + e^{−x}) has the gradient inf/inf = NaN; clipped there, σ is below the dtype's smallest
    normal number and its gradient 0, as torch.nn.Sigmoid saturates. Unchanged above it."""
    return -float(math.floor(math.log(float(xp.finfo(x.dtype).max))))


def activation(xp, name: str, x):
    if name == "relu":
        return xp.maximum(x, xp.zeros_like(x))
    if name == "sigmoid":
        return 1.0 / (1.0 + xp.exp(-xp.clip(x, _sigmoid_floor(xp, x), None)))
    if name == "tanh":
        return xp.tanh(x)
    raise ValueError(f"unknown activation {name!r}")


class Net(abc.ABC):
    """A network: ``params = init(rng, be)``, ``out = apply(be, params, x)``."""

    dtype = "float32"

    @abc.abstractmethod
    def init_numpy(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Initial parameters as numpy arrays."""

    @abc.abstractmethod
    def apply(self, be, params: dict, x):
        """The network output for input ``x``."""

    def init(self, rng: np.random.Generator, be) -> dict:
        return {k: be.asarray(v, self.dtype) for k, v in self.init_numpy(rng).items()}

    def apply_seeds(self, be, params: dict, x):
        """S networks at once: ``params`` with a leading seed axis, ``x`` of shape (S, B, ...);
        output (S, B, ...), lane s = ``apply(params[s], x[s])``. By default the backend's
        :meth:`~pgbench.backends.base.Backend.map_lanes` of :meth:`apply` (vmap on jax, the S
        networks one after the other on torch); networks that take the seed axis natively
        override it."""
        return be.map_lanes(lambda p, xi: self.apply(be, p, xi))(params, x)

    def n_params(self) -> int:
        return int(sum(v.size for v in self.init_numpy(np.random.default_rng(0)).values()))


@dataclass(frozen=True)
class MLP(Net):
    """Dense network ``sizes[0] -> ... -> sizes[-1]`` with the activation after every hidden layer
    and none on the output (PhiFlow's ``dense_net``). Input (B, sizes[0])."""

    sizes: tuple[int, ...]
    act: str = "relu"

    def layer_init(self, rng, n_in: int, n_out: int):
        """Initial (weight, bias) of one layer: PyTorch's default."""
        return _uniform(rng, (n_in, n_out), n_in), _uniform(rng, (n_out,), n_in)

    def init_numpy(self, rng):
        p = {}
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            p[f"w{i}"], p[f"b{i}"] = self.layer_init(rng, n_in, n_out)
        return p

    def apply(self, be, params, x):
        xp = be.xp
        n = len(self.sizes) - 1
        for i in range(n):
            x = xp.matmul(x, params[f"w{i}"]) + params[f"b{i}"]
            if i < n - 1:
                x = activation(xp, self.act, x)
        return x

    def apply_seeds(self, be, params, x):
        """S MLPs natively: per layer a batched product (S, B, n_in) @ (S, n_in, n_out) plus the
        seed's bias (S, 1, n_out)."""
        xp = be.xp
        n = len(self.sizes) - 1
        for i in range(n):
            x = xp.matmul(x, params[f"w{i}"]) + params[f"b{i}"][:, None, :]
            if i < n - 1:
                x = activation(xp, self.act, x)
        return x


@dataclass(frozen=True)
class Conv1dNet(Net):
    """1-D conv net of the wave-packet fit (paper App. B.1): ``blocks`` × [MaxPool(2) → Conv(k) →
    act → Conv(k) → act], flatten, then a dense head. Input (B, in_channels, length)."""

    length: int = 256
    in_channels: int = 1
    channels: int = 16
    kernel: int = 3
    blocks: int = 5
    head: tuple[int, ...] = (64, 32, 2)
    act: str = "relu"

    @property
    def _mlp(self) -> MLP:
        flat = self.channels * (self.length // 2**self.blocks)
        return MLP((flat,) + tuple(self.head), self.act)

    def init_numpy(self, rng):
        p = {}
        c_in = self.in_channels
        for i in range(self.blocks):
            for j in range(2):
                fan_in = c_in * self.kernel
                p[f"c{i}_{j}_w"] = _uniform(rng, (self.channels, c_in, self.kernel), fan_in)
                p[f"c{i}_{j}_b"] = _uniform(rng, (self.channels,), fan_in)
                c_in = self.channels
        p.update({f"head_{k}": v for k, v in self._mlp.init_numpy(rng).items()})
        return p

    def apply(self, be, params, x):
        xp = be.xp
        for i in range(self.blocks):
            x = be.max_pool(x, 2)
            for j in range(2):
                x = activation(xp, self.act, be.conv(x, params[f"c{i}_{j}_w"], params[f"c{i}_{j}_b"]))
        x = xp.reshape(x, (x.shape[0], -1))
        head = {k[len("head_") :]: v for k, v in params.items() if k.startswith("head_")}
        return self._mlp.apply(be, head, x)


@dataclass(frozen=True)
class UNet(Net):
    """PhiFlow's ``u_net`` (paper App. B.3-B.5): ``levels`` resolution levels of ``filters`` channels.

    * ``inc`` = DoubleConv(in → f); a DoubleConv is [Conv3×3 → BN → ReLU → Conv3×3 → BN → ReLU]
      with ``padding_mode`` (circular in the paper) 'same' padding;
    * ``down_i`` (i = 1..levels-1) = MaxPool2 → DoubleConv(f → f);
    * ``up_i`` = bilinear ×2 upsampling (``align_corners=False``), concatenate [skip, upsampled],
      DoubleConv(2f → f, mid f);
    * ``outc`` = Conv1×1(f → out).

    BatchNorm always normalises with the statistics of the current batch (biased variance,
    eps 1e-5), as the authors' code never switches the net to eval mode; it has the affine
    parameters γ = 1, β = 0 at initialisation and no running statistics. Input (B, C, H, W).
    Spatial sizes not divisible by 2^(levels-1) are handled by zero-padding the upsampled map
    to the skip connection's size (split evenly, as the commented-out code of PhiFlow's ``Up``).
    Parameter counts: UNet(1, 1) = 37,697; UNet(2, 2, levels=5) = 49,570.
    """

    in_channels: int = 1
    out_channels: int = 1
    levels: int = 4
    filters: int = 16
    batch_norm: bool = True
    padding_mode: str = "circular"
    eps: float = 1e-5

    def __post_init__(self):
        if self.levels < 1 or self.filters < 1 or self.in_channels < 1 or self.out_channels < 1:
            raise ValueError(f"UNet sizes must be >= 1: {self}")
        if self.padding_mode not in ("circular", "zeros"):
            raise ValueError(f"UNet.padding_mode must be 'circular' or 'zeros', got {self.padding_mode!r}")

    def _double_conv_init(self, rng, p, name, c_in, c_mid, c_out):
        for j, (ci, co) in enumerate(((c_in, c_mid), (c_mid, c_out))):
            fan_in = ci * 9
            p[f"{name}.conv{j}.w"] = _uniform(rng, (co, ci, 3, 3), fan_in)
            p[f"{name}.conv{j}.b"] = _uniform(rng, (co,), fan_in)
            if self.batch_norm:
                p[f"{name}.bn{j}.g"] = np.ones((co,))
                p[f"{name}.bn{j}.b"] = np.zeros((co,))

    def init_numpy(self, rng):
        f = self.filters
        p: dict[str, np.ndarray] = {}
        self._double_conv_init(rng, p, "inc", self.in_channels, f, f)
        for i in range(1, self.levels):
            self._double_conv_init(rng, p, f"down{i}", f, f, f)
            self._double_conv_init(rng, p, f"up{i}", 2 * f, f, f)
        p["outc.w"] = _uniform(rng, (self.out_channels, f, 1, 1), f)
        p["outc.b"] = _uniform(rng, (self.out_channels,), f)
        return p

    def _double_conv(self, be, p, name, x):
        for j in range(2):
            x = be.conv(
                x, p[f"{name}.conv{j}.w"], p[f"{name}.conv{j}.b"], padding="same", padding_mode=self.padding_mode
            )
            if self.batch_norm:
                x = be.batch_norm(x, p[f"{name}.bn{j}.g"], p[f"{name}.bn{j}.b"], self.eps)  # batch statistics
            x = be.relu(x)
        return x

    @staticmethod
    def _match(xp, x, shape):
        """Zero-pad the spatial dims of ``x`` (evenly split) up to ``shape``."""
        for axis in (2, 3):
            diff = shape[axis] - x.shape[axis]
            if diff:
                parts = []
                for n in (diff // 2, diff - diff // 2):
                    if n:
                        s = list(x.shape)
                        s[axis] = n
                        parts.append(xp.zeros(tuple(s), dtype=x.dtype, device=x.device))
                x = xp.concat([parts[0], x] + parts[1:] if diff // 2 else [x] + parts, axis=axis)
        return x

    def apply(self, be, params, x):
        xp = be.xp
        x = self._double_conv(be, params, "inc", x)
        skips = [x]
        for i in range(1, self.levels):
            x = self._double_conv(be, params, f"down{i}", be.max_pool(x, 2))
            skips.insert(0, x)
        for i in range(1, self.levels):
            up = be.upsample(x, 2)
            skip = skips[i]
            if tuple(up.shape[2:]) != tuple(skip.shape[2:]):
                up = self._match(xp, up, skip.shape)
            x = self._double_conv(be, params, f"up{i}", xp.concat([skip, up], axis=1))
        return be.conv(x, params["outc.w"], params["outc.b"], padding="same")


def gelu(xp, x):
    """GELU, tanh form: :math:`\\tfrac12 x\\,(1 + \\tanh(\\sqrt{2/\\pi}\\,(x + 0.044715\\,x^3)))`
    (the array API has no erf; the tanh form is within 1e-3 of the exact one)."""
    return 0.5 * x * (1.0 + xp.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


@dataclass(frozen=True)
class FNO2d(Net):
    """2-D Fourier neural operator (Li et al. 2021, ``neuraloperator``'s ``FNO2d``) on a periodic
    grid. Input (B, C_in, H, W), output (B, C_out, H, W); any H ≥ 2·modes, W ≥ 2·modes - 1.

    * lifting: pointwise linear :math:`v_0 = P\\,[a; \\text{grid}] + p` to ``width`` channels, where
      ``grid`` appends the cell-centre coordinates (x, y) in [0, 1) (as the FNO paper) if set;
    * ``layers`` Fourier layers :math:`v_{l+1} = \\sigma(\\mathcal F^{-1}(R_l \\cdot
      \\mathcal F v_l) + W_l v_l + w_l)` with σ = GELU (tanh form, :func:`gelu`) after every layer
      but the last; :math:`\\mathcal F` is the real 2-D FFT, and :math:`R_l` is a complex
      (C, C) matrix per retained mode: wavenumbers :math:`k_x \\in [0, m) \\cup [H - m, H)`,
      :math:`k_y \\in [0, m)`, m = ``modes``; the other modes are set to zero;
    * projection: pointwise :math:`Q_2\\,\\sigma(Q_1 v_L + q_1) + q_2` via ``projection`` channels.

    Initialisation as ``neuraloperator``: :math:`R` real and imaginary parts ~ U[0, 1)/(C·C);
    pointwise layers PyTorch's default. Parameters (real and imaginary parts counted apart):
    :math:`(C_{in}+2g)w + w + L(4m^2w^2 + w^2 + w) + wp + p + pC_{out} + C_{out}`; defaults
    (modes 8, width 20, 4 layers, projection 128, grid on): FNO2d(1, 1) = 414,177,
    FNO2d(2, 2) = 414,326 parameters.
    """

    in_channels: int = 1
    out_channels: int = 1
    modes: int = 8
    width: int = 20
    layers: int = 4
    projection: int = 128
    grid: bool = True

    def __post_init__(self):
        for name in ("in_channels", "out_channels", "modes", "width", "layers", "projection"):
            if getattr(self, name) < 1:
                raise ValueError(f"FNO2d.{name} must be >= 1, got {getattr(self, name)}")

    def check_grid(self, shape) -> None:
        """Raise unless a grid of ``shape`` (H, W) holds the retained modes."""
        h, w = (int(s) for s in shape)
        if h < 2 * self.modes or w // 2 + 1 < self.modes:
            raise ValueError(
                f"FNO2d with modes={self.modes} needs a grid of at least "
                f"{2 * self.modes}×{2 * self.modes - 1} cells, got {h}×{w}"
            )

    def init_numpy(self, rng):
        w, m = self.width, self.modes
        c_in = self.in_channels + (2 if self.grid else 0)
        p = {"lift.w": _uniform(rng, (c_in, w), c_in), "lift.b": _uniform(rng, (w,), c_in)}
        scale = 1.0 / (w * w)
        for i in range(self.layers):
            p[f"spec{i}.re"] = scale * rng.uniform(size=(2 * m, m, w, w))
            p[f"spec{i}.im"] = scale * rng.uniform(size=(2 * m, m, w, w))
            p[f"pw{i}.w"] = _uniform(rng, (w, w), w)
            p[f"pw{i}.b"] = _uniform(rng, (w,), w)
        p["proj1.w"] = _uniform(rng, (w, self.projection), w)
        p["proj1.b"] = _uniform(rng, (self.projection,), w)
        p["proj2.w"] = _uniform(rng, (self.projection, self.out_channels), self.projection)
        p["proj2.b"] = _uniform(rng, (self.out_channels,), self.projection)
        return p

    def spectral(self, xp, v, re, im):
        """:math:`\\mathcal F^{-1}(R \\cdot \\mathcal F v)` for channels-last v (B, H, W, C):
        modes kept as documented above, R = ``re`` + i ``im`` of shape (2m, m, C, C_out)."""
        b, h, w, _ = v.shape
        m = self.modes
        f = xp.fft.rfftn(v, axes=(1, 2))  # (B, H, W//2+1, C)
        kept = xp.concat([f[:, :m, :m, :], f[:, h - m :, :m, :]], axis=1)  # (B, 2m, m, C)
        r = xp.astype(re, kept.dtype) + 1j * xp.astype(im, kept.dtype)
        out = xp.matmul(xp.permute_dims(kept, (1, 2, 0, 3)), r)  # (2m, m, B, C_out)
        out = xp.permute_dims(out, (2, 0, 1, 3))  # (B, 2m, m, C_out)
        c = out.shape[-1]
        parts = [out[:, :m]]
        if h > 2 * m:
            parts.append(xp.zeros((b, h - 2 * m, m, c), dtype=out.dtype, device=out.device))
        parts.append(out[:, m:])
        full = xp.concat(parts, axis=1)  # (B, H, m, C_out)
        if w // 2 + 1 > m:
            full = xp.concat([full, xp.zeros((b, h, w // 2 + 1 - m, c), dtype=out.dtype, device=out.device)], axis=2)
        return xp.fft.irfftn(full, s=(h, w), axes=(1, 2))

    def apply(self, be, params, x):
        xp = be.xp
        b, _, h, w = x.shape
        self.check_grid((h, w))
        v = xp.permute_dims(x, (0, 2, 3, 1))  # channels last
        if self.grid:
            gx = (xp.arange(h, dtype=x.dtype, device=x.device) + 0.5) / h
            gy = (xp.arange(w, dtype=x.dtype, device=x.device) + 0.5) / w
            gx = xp.broadcast_to(xp.reshape(gx, (1, h, 1, 1)), (b, h, w, 1))
            gy = xp.broadcast_to(xp.reshape(gy, (1, 1, w, 1)), (b, h, w, 1))
            v = xp.concat([v, gx, gy], axis=-1)
        v = xp.matmul(v, params["lift.w"]) + params["lift.b"]
        for i in range(self.layers):
            v = (
                self.spectral(xp, v, params[f"spec{i}.re"], params[f"spec{i}.im"])
                + xp.matmul(v, params[f"pw{i}.w"])
                + params[f"pw{i}.b"]
            )
            if i < self.layers - 1:
                v = gelu(xp, v)
        v = gelu(xp, xp.matmul(v, params["proj1.w"]) + params["proj1.b"])
        v = xp.matmul(v, params["proj2.w"]) + params["proj2.b"]
        return xp.permute_dims(v, (0, 3, 1, 2))
