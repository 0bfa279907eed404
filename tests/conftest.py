import importlib.util

import pytest

BACKENDS = [b for b in ("torch", "jax") if importlib.util.find_spec(b) is not None]

if "torch" in BACKENDS:
    # pytest -n 2 runs two workers on two cores: one intra-op thread each avoids oversubscription,
    # which made small torch ops an order of magnitude slower when the cores were shared
    import torch

    torch.set_num_threads(1)


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def pytest_report_header(config):
    return f"pgbench backends available: {', '.join(BACKENDS)}"
