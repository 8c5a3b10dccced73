"""Where tensors live and which precision they compute in.

One rule for the whole package: use the best accelerator there is (CUDA, then
Apple's MPS, then the CPU), and let every stage pick it with `default_device()`
so notebooks run unchanged on a laptop, a workstation or a GPU box.

`autocast_context(device)` is the mixed-precision switch: bfloat16 autocast on
CUDA and on CPUs with native bf16 matrix instructions (AVX-512 BF16 / AMX),
a no-op everywhere else. bf16 keeps fp32's exponent range, so no loss scaling
is needed. Whether it *helps* is a per-model question, so every stage has a
flag for it: the VAE measured 1.5-2x faster training steps in bf16 on an AVX-512
BF16 CPU at unchanged quality (see `minivid/vae.py`, "Precision").

A CPU note that matters more than precision: on a shared machine whose cores
are busy (load average above the core count), OpenMP threads that wait for each
other at every op make a 2-thread run 5-15x *slower* than a 1-thread run.
Training commands therefore take `--threads` and the VAE's is run with 1.
"""
from __future__ import annotations

import contextlib
import functools

import torch


def default_device() -> torch.device:
    """The best device available: cuda > mps > cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def as_device(device: str | torch.device | None) -> torch.device:
    """`None` or "auto" -> `default_device()`, anything else -> torch.device, checked to be there: an unknown
    name or an accelerator this machine does not have raises a ValueError saying what is available."""
    if device is None or device == "auto":
        return default_device()
    if not isinstance(device, (str, torch.device)):
        raise ValueError(f"device must be a name such as 'cpu', 'cuda' or 'mps', got {device!r}")
    try:
        device = torch.device(device)
    except (RuntimeError, ValueError) as e:
        raise ValueError(f"unknown device {str(device)!r} ({e}); use cpu, cuda or mps") from None
    mps = getattr(torch.backends, "mps", None)
    available = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": mps is not None and mps.is_available()}
    if not available.get(device.type, False):
        raise ValueError(f"device {str(device)!r} is not available on this machine; available: "
                         f"{', '.join(k for k, ok in available.items() if ok)} (or leave it unset for the best one)")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {str(device)!r} does not exist: this machine has {torch.cuda.device_count()} "
                         "CUDA device(s)")
    return device


@functools.cache
def cpu_supports_bf16() -> bool:
    """True when this CPU has native bf16 matmul instructions (AVX-512 BF16 or AMX).

    `torch.backends.cpu.get_cpu_capability()` only reports the vector ISA level
    ("AVX512"), which does not say whether the BF16 extension is there, so we
    ask oneDNN through the mkldnn backend and fall back to /proc/cpuinfo.
    """
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    if check is not None:
        try:
            return bool(check())
        except (RuntimeError, TypeError):
            pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def bf16_supported(device: str | torch.device) -> bool:
    """Whether bfloat16 autocast runs natively (fast) on `device`."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return cpu_supports_bf16()
    return False  # mps: autocast support for bf16 varies by macOS version; stay in fp32


def device_name(device: str | torch.device) -> str:
    """What a run computed on, for its records: "cpu", "mps" or "cuda (NVIDIA H200)"."""
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def uses_bf16_autocast(device: str | torch.device, enabled: bool = True) -> bool:
    """Whether `autocast_context(device, enabled)` really runs bf16 (asked for and native there): what a
    training run records, since asking for it on a CPU without native bf16 changes nothing."""
    return bool(enabled) and bf16_supported(device)


def autocast_context(device: str | torch.device, enabled: bool = True):
    """bf16 autocast on `device` where it is native, otherwise a do-nothing context.

    Use it around forward passes and losses only (not the optimizer step):

        with autocast_context(device):
            loss = model(x).square().mean()
    """
    device = torch.device(device)
    if uses_bf16_autocast(device, enabled):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
