import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """Unit tests use tiny tensors, where two threads spend their time waiting on
    each other (measured 4-5x slower on the 2-core reference machine)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
