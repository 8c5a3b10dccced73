"""Device choice: the best accelerator there is, and a clear error for one that is not there."""
import pytest
import torch

from minivid import device as dev


@pytest.mark.parametrize("cuda,mps,expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")])
def test_default_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert dev.default_device().type == expected
    assert dev.as_device(None).type == expected and dev.as_device("auto").type == expected


def test_as_device_refuses_what_is_not_there(monkeypatch):
    """Issue 42 item 7: --device cuda without CUDA was an AssertionError from deep inside torch."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert dev.as_device("cpu") == torch.device("cpu")
    for bad, message in (("cuda", "not available"), ("cuda:0", "not available"), ("mps", "not available"),
                         ("gpu", "unknown device"), ("", "unknown device"), (3.5, "must be a name")):
        with pytest.raises(ValueError, match=message):
            dev.as_device(bad)
