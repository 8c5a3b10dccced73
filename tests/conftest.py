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


@pytest.fixture(scope="session")
def tiny_t2v(tmp_path_factory):
    """A randomly initialised tiny DiT (weights perturbed so the output depends on the prompt), exported: a
    checkpoint for tests of the pipeline and its errors that need no trained model."""
    from minivid.train import T2VTrainConfig, build_dit, export_t2v
    torch.manual_seed(0)
    dit = build_dit("tiny", 8)
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("t2v") / "tiny"
    export_t2v(dit, path, T2VTrainConfig(preset="tiny"), (8, 5, 8, 8))
    return path
