"""Networks written once against the backend interface, as pure functions of a parameter dict.

Parameters are initialised on the host with numpy from a seeded generator, following PyTorch's
default layer initialisation (uniform in :math:`\\pm 1/\\sqrt{\\text{fan\\_in}}` for weights and
biases), so the torch and jax versions of a network start from bit-identical weights and every
solver on a problem starts from the same network.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np


def _uniform(rng, shape, fan_in):
    bound = 1.0 / np.sqrt(fan_in)
    return rng.uniform(-bound, bound, size=shape)


def activation(xp, name: str, x):
    if name == "relu":
        return xp.maximum(x, xp.zeros_like(x))
    if name == "sigmoid":
        return 1.0 / (1.0 + xp.exp(-x))
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

    def n_params(self) -> int:
        return int(sum(v.size for v in self.init_numpy(np.random.default_rng(0)).values()))


@dataclass(frozen=True)
class MLP(Net):
    """Dense network ``sizes[0] -> ... -> sizes[-1]`` with the activation after every hidden layer
    and none on the output (PhiFlow's ``dense_net``). Input (B, sizes[0])."""

    sizes: tuple[int, ...]
    act: str = "relu"

    def init_numpy(self, rng):
        p = {}
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            p[f"w{i}"] = _uniform(rng, (n_in, n_out), n_in)
            p[f"b{i}"] = _uniform(rng, (n_out,), n_in)
        return p

    def apply(self, be, params, x):
        xp = be.xp
        n = len(self.sizes) - 1
        for i in range(n):
            x = xp.matmul(x, params[f"w{i}"]) + params[f"b{i}"]
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
        head = {k[len("head_"):]: v for k, v in params.items() if k.startswith("head_")}
        return self._mlp.apply(be, head, x)
