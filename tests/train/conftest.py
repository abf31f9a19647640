"""Fixtures shared by the training tests."""

import pytest


@pytest.fixture
def one_torch_thread():
    """Tiny models: with other processes busy on a few cores, extra threads only spin and wait.

    Modules that train models use it with ``pytestmark = pytest.mark.usefixtures(...)``.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
