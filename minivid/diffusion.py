"""Diffusion maths for training, kept outside the network.

The DiT (``minivid.dit``) is only a function ``f(x_t, t, text) -> tensor``. This
module decides what goes in and what the output is trained to be. Two recipes:

Rectified flow / flow matching (the default; what SD3, Sora-era video models use)
    x_t = (1 - t) x0 + t eps,   t in [0, 1],   eps ~ N(0, I)
    the network predicts the velocity v = d x_t / dt = eps - x0,
    and sampling integrates dx/dt = v(x, t) from t = 1 (noise) to t = 0 (data).

DDPM epsilon prediction (for the lesson that compares them)
    x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps,   k = 0 .. K-1 integer steps
    the network predicts eps, and sees the time as t = k / K.

Layouts: x0, eps, x_t are latent videos ``b c t h w`` (any shape with the batch
first works); times and steps are ``(b,)``. ``model`` is any callable
``model(x_t, t, *text)`` such as ``DiT`` with ``text = (text_ids, text_mask)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange


def append_dims(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(b,) or a scalar -> broadcastable against x (b, ...) (k-diffusion's helper)."""
    v = torch.as_tensor(v, dtype=x.dtype, device=x.device)
    return v.reshape(v.shape + (1,) * (x.dim() - v.dim()))


# -----------------------------------------------------------------------------
# Flow matching / rectified flow


def add_noise(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x_t = (1 - t) x0 + t eps: the straight path from data to noise.

    t: a scalar, (b,), or (b f) one time per latent frame of x0 (b c f h w) (``frame_times``).
    Conditional flow matching with this linear (optimal-transport) path: Lipman et al.
    2022, "Flow Matching for Generative Modeling"; the same path as rectified flow:
    Liu et al. 2022, "Flow Straight and Fast".
    """
    t = time_dims(t, x0)
    return (1 - t) * x0 + t * eps


def time_dims(t, x: torch.Tensor) -> torch.Tensor:
    """Times broadcastable against x: a scalar or (b,) as ``append_dims``; (b f), one per latent frame of
    x (b c f h w), -> (b 1 f 1 1)."""
    t = torch.as_tensor(t, dtype=x.dtype, device=x.device)
    return rearrange(t, "b f -> b 1 f 1 1") if t.dim() == 2 else append_dims(t, x)


def frame_times(t: torch.Tensor, given: torch.Tensor, level: float = 0.0) -> torch.Tensor:
    """One time per latent frame, (b f): the clip's time t (b,) on the frames to draw, ``level`` on the
    ``given`` ones (a bool mask (b f)), which the model sees (almost) clean.

    A given frame at its own small time is how one network does text-to-video, image-to-video and
    extension: LTX-Video (HaCohen et al. 2024) gives each token the time min(t, 1 - mask); Open-Sora's
    masked DiT keeps given frames at time 0. A small level > 0 (a little noise on the given frames, at
    training and sampling alike) makes the model robust to the drift of re-encoded frames (Diffusion
    Forcing's stabilisation level, Chen et al. 2024).
    """
    t = torch.as_tensor(t, dtype=torch.float32, device=given.device).expand(given.shape[0])
    return torch.where(given, torch.full_like(t[:, None], level), t[:, None])


def flow_target(x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """The velocity along that path, d x_t / dt = eps - x0 (Liu et al. 2022, eq. 1)."""
    return eps - x0


def uniform_timesteps(batch: int, generator=None, device=None) -> torch.Tensor:
    """t ~ U(0, 1), (b,) — the original rectified-flow choice."""
    return torch.rand(batch, generator=generator, device=device)


def logit_normal_timesteps(batch: int, mean: float = 0.0, std: float = 1.0, generator=None, device=None):
    """t = sigmoid(n), n ~ N(mean, std), (b,).

    Esser et al. 2024 ("Scaling Rectified Flow Transformers", SD3), section 3.1: spends
    more training on middle times, where predicting the velocity is hardest; their
    best setting was mean=0, std=1.
    """
    return torch.sigmoid(mean + std * torch.randn(batch, generator=generator, device=device))


def shift_time(t, shift: float = 1.0):
    """t' = shift t / (1 + (shift - 1) t): Esser et al. 2024 (SD3), eq. 23, the time shift.

    ``shift`` > 1 moves times towards noise (t = 1) while keeping 0 and 1 fixed; in logit
    space it adds log(shift). The samplers use it to spend more steps at high noise;
    training can use the same shift so the model practises the times the sampler visits.
    """
    return shift * t / (1 + (shift - 1) * t)


def sample_timesteps(batch: int, kind: str = "logit_normal", generator=None, device=None, **kwargs):
    """Training times in (0, 1), (b,): ``kind`` is "logit_normal" (default) or "uniform"."""
    if kind == "logit_normal":
        return logit_normal_timesteps(batch, generator=generator, device=device, **kwargs)
    if kind == "uniform":
        return uniform_timesteps(batch, generator=generator, device=device)
    raise ValueError(f"timestep kind must be 'logit_normal' or 'uniform', got {kind!r}")


def flow_matching_loss(
    model, x0, *text, generator=None, timesteps: str = "logit_normal", t=None, eps=None, reduction: str = "mean",
    given=None, given_level: float = 0.0,
):
    """MSE between the model's velocity and eps - x0 at x_t = (1 - t) x0 + t eps.

    ``text`` is passed through to the model (``text_ids, text_mask`` for the DiT).
    ``t`` and ``eps`` are drawn with ``generator`` unless given. ``reduction="none"``
    returns one loss per sample, (b,), e.g. to plot the loss against t.
    ``given``: a bool mask (b f) of latent frames kept (almost) clean, at time ``given_level``
    (``frame_times``); the loss then averages over the other frames only (Open-Sora's masked loss).
    """
    b = x0.shape[0]
    t = sample_timesteps(b, timesteps, generator=generator, device=x0.device) if t is None else t
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype) if eps is None else eps
    if given is not None:
        t = frame_times(t, given, given_level)
    x_t = add_noise(x0, eps, t)
    v_pred = model(x_t, t, *text)
    if given is None:
        return _mse(v_pred, flow_target(x0, eps), reduction)
    return _masked_mse(v_pred, flow_target(x0, eps), ~given, reduction)


def velocity_to_x0(x_t, v, t):
    """x0 = x_t - t v (from x_t = x0 + t (eps - x0))."""
    return x_t - append_dims(t, x_t) * v


def velocity_to_eps(x_t, v, t):
    """eps = x_t + (1 - t) v (from x_t = eps - (1 - t) (eps - x0))."""
    return x_t + (1 - append_dims(t, x_t)) * v


# -----------------------------------------------------------------------------
# DDPM: epsilon prediction on a discrete noise schedule


def linear_alphas_cumprod(num_steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
    """abar_k = prod_{j<=k} (1 - beta_j), betas linear from 1e-4 to 0.02 (Ho et al. 2020, section 4)."""
    betas = torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0)


def cosine_alphas_cumprod(num_steps: int = 1000, s: float = 0.008, max_beta: float = 0.999):
    """abar(t) = f(t) / f(0), f(t) = cos^2(((t/K + s) / (1 + s)) pi/2), betas clipped at 0.999.

    Nichol & Dhariwal 2021, "Improved Denoising Diffusion Probabilistic Models",
    eq. 17: destroys information more evenly than the linear schedule.
    """
    f = lambda u: torch.cos((u / num_steps + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    k = torch.arange(num_steps + 1, dtype=torch.float64)
    betas = (1 - f(k[1:]) / f(k[:-1])).clamp(max=max_beta)  # beta_k = 1 - abar_k / abar_{k-1}
    return torch.cumprod(1 - betas, dim=0)


def make_alphas_cumprod(num_steps: int = 1000, schedule: str = "cosine") -> torch.Tensor:
    """The precomputed abar_k for k = 0 .. num_steps-1, float64, (K,)."""
    if schedule == "cosine":
        return cosine_alphas_cumprod(num_steps)
    if schedule == "linear":
        return linear_alphas_cumprod(num_steps)
    raise ValueError(f"schedule must be 'cosine' or 'linear', got {schedule!r}")


def ddpm_add_noise(x0, eps, alpha_bar):
    """x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps (Ho et al. 2020, eq. 4); alpha_bar is abar_k, (b,)."""
    alpha_bar = append_dims(alpha_bar, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps


def ddpm_model_time(steps: torch.Tensor, num_steps: int) -> torch.Tensor:
    """The continuous time the network sees for integer step k: t = k / K (training and sampling alike)."""
    return steps.float() / num_steps


def ddpm_loss(model, x0, *text, alphas_cumprod, generator=None, steps=None, eps=None, reduction: str = "mean"):
    """MSE between the model's eps estimate and the true eps (Ho et al. 2020, eq. 14, "L_simple").

    Steps k are uniform over 0 .. K-1 with K = len(alphas_cumprod); the model is
    called as ``model(x_k, k / K, *text)``.
    """
    b, num_steps = x0.shape[0], len(alphas_cumprod)
    if steps is None:
        steps = torch.randint(0, num_steps, (b,), generator=generator, device=x0.device)
    eps = torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype) if eps is None else eps
    alpha_bar = alphas_cumprod.to(x0.device)[steps].to(x0.dtype)
    x_k = ddpm_add_noise(x0, eps, alpha_bar)
    eps_pred = model(x_k, ddpm_model_time(steps, num_steps), *text)
    return _mse(eps_pred, eps, reduction)


def eps_to_x0(x_k, eps, alpha_bar):
    """x0 = (x_k - sqrt(1 - abar) eps) / sqrt(abar) (Ho et al. 2020, eq. 4 solved for x0)."""
    alpha_bar = append_dims(alpha_bar, x_k)
    return (x_k - (1 - alpha_bar).sqrt() * eps) / alpha_bar.sqrt()


def x0_to_eps(x_k, x0, alpha_bar):
    """eps = (x_k - sqrt(abar) x0) / sqrt(1 - abar)."""
    alpha_bar = append_dims(alpha_bar, x_k)
    return (x_k - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()


def _masked_mse(prediction, target, drawn, reduction: str):
    """The MSE of each clip over its drawn frames only (drawn: bool (b f) over x's frames b c f h w)."""
    per_frame = (prediction.float() - target.float()).pow(2).mean((1, 3, 4))  # (b f)
    w = drawn.float()
    per_clip = (per_frame * w).sum(1) / w.sum(1).clamp(min=1)
    if reduction == "none":
        return per_clip
    if reduction == "mean":
        return per_clip.mean()
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def _mse(prediction, target, reduction: str):
    if reduction == "mean":
        return F.mse_loss(prediction.float(), target.float())
    if reduction == "none":
        return (prediction.float() - target.float()).pow(2).flatten(1).mean(1)
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
