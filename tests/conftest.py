import importlib.util

import pytest

BACKENDS = [b for b in ("torch", "jax") if importlib.util.find_spec(b) is not None]


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


def pytest_report_header(config):
    return f"pgbench backends available: {', '.join(BACKENDS)}"
