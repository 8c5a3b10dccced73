"""Samplers: turn noise into latents with a trained denoiser, one line per equation.

In the style of k-diffusion's sampling.py (Crowson): every sampler is a plain
function of a denoiser callable, a starting tensor and a precomputed tensor of
times or steps. There is no scheduler object and no hidden state: what a
sampler does is exactly what its loop says.

Denoiser callables (``x`` is any batch-first tensor, e.g. latents ``b c t h w``):

    velocity_fn(x, t)   flow model: t is (b,) float in [0, 1], returns v = eps - x0
    eps_fn(x, k)        DDPM model: k is (b,) long step index, returns the noise estimate

Bind a conditional model to one with ``conditioned(model, text_ids, text_mask)``
or ``classifier_free_guidance(model, (text_ids, text_mask), null_text(b), scale)``
(``autoguidance`` adds a weaker model's pull to the latter);
a DDPM-trained DiT first goes through ``ddpm_model_fn`` (integer step -> t = k / K).
"""

from __future__ import annotations

import math

import torch

from minivid.diffusion import add_noise, ddpm_model_time, eps_to_x0, frame_times, shift_time

# The recommended way to sample a flow model, the one source of it: what an exported checkpoint records as
# its "sampling" and what the pipeline uses where a checkpoint records nothing. shift 3 spends more of the
# steps at high noise (SD3's time shift), measured better than uniform steps at 8 and 20 Euler steps
# (benchmarks/results/t2v.json).
DEFAULTS = {"sampler": "euler", "steps": 20, "guidance": 4.0, "shift": 3.0}

# -----------------------------------------------------------------------------
# Timesteps


def flow_timesteps(steps: int, shift: float = 1.0, device=None, dtype=torch.float32) -> torch.Tensor:
    """steps + 1 times from 1 (noise) to 0 (data), evenly spaced then shifted, (steps+1,).

    ``shift`` > 1 spends more steps at high noise: t' = shift t / (1 + (shift - 1) t),
    Esser et al. 2024 (SD3), eq. 23, their fix for larger images and videos whose many
    tokens keep more signal at a given t. shift = 1 leaves the even spacing.
    """
    return shift_time(torch.linspace(1.0, 0.0, steps + 1, device=device, dtype=dtype), shift)


def truncate_timesteps(ts: torch.Tensor, t_start: float) -> torch.Tensor:
    """A sampler's time grid started part-way, at t_start: t_start, then the grid's times below it.

    For editing a clip rather than drawing one from noise (SDEdit, Meng et al. 2022):
    noise the clip's latents to t_start and integrate from there, on the same grid the
    sampler always uses, so t_start = 1 is ordinary sampling and fewer steps remain
    the smaller t_start is. ts runs from 1 down to 0 (`flow_timesteps`).
    """
    if not 0.0 <= t_start <= 1.0:
        raise ValueError(f"t_start must be in [0, 1], got {t_start}")
    below = ts[ts < t_start - 1e-6]
    return torch.cat([ts.new_tensor([t_start]), below])


def ddpm_timesteps(num_train_steps: int, steps: int | None = None, device=None) -> torch.Tensor:
    """Descending integer steps from K-1 to 0, (steps,); all K training steps by default.

    Evenly spaced and always starting at the noisiest step K-1 ("trailing" spacing,
    Lin et al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed").
    """
    steps = num_train_steps if steps is None else steps
    if not 1 <= steps <= num_train_steps:
        raise ValueError(f"steps must be in [1, {num_train_steps}], got {steps}")
    return torch.linspace(num_train_steps - 1, 0, steps, device=device).round().long()


# -----------------------------------------------------------------------------
# Binding models into denoisers; classifier-free guidance


def conditioned(fn, *cond):
    """fn(x, t, *cond) -> a denoiser (x, t) with the conditioning fixed."""
    return lambda x, t: fn(x, t, *cond)


def ddpm_model_fn(model, num_train_steps: int):
    """A DDPM-trained model (x, t, *text) with t = k / K -> eps_fn (x, k, *text) over integer steps."""
    return lambda x, k, *cond: model(x, ddpm_model_time(k, num_train_steps), *cond)


def given_frames(fn, x_given, given, level: float = 0.0, eps=None):
    """A denoiser fn(x, t, *cond) that draws only the frames not ``given``: before each call the given
    latent frames (bool mask (b f)) are put back into x, noised to time ``level`` with ``eps``, and seen at
    that time (``diffusion.frame_times``); their velocity is 0, so a sampler leaves them as they
    started (put the clean frames back after sampling). Image-to-video and extension with the text-to-video network (the
    masked DiT of Open-Sora; LTX-Video's per-token times).
    """
    kept = given[:, None, :, None, None]  # b 1 f 1 1
    x_kept = x_given if level == 0 else add_noise(x_given, eps, level)

    def fn_given(x, t, *cond):
        v = fn(torch.where(kept, x_kept, x), frame_times(t, given, level), *cond)
        return v.masked_fill(kept, 0)

    return fn_given


def classifier_free_guidance(fn, cond, uncond, scale: float):
    """A new denoiser (x, t) -> pred_uncond + scale (pred_cond - pred_uncond).

    Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", eq. 6 with w = scale - 1:
    scale 1 is the plain conditional model, 0 the unconditional one, > 1 pushes
    samples towards the caption. ``fn(x, t, *cond)``; ``cond`` and ``uncond`` are
    tuples such as ``(text_ids, text_mask)`` and ``null_text(b)``. Works for any
    prediction that is linear in the score: velocity, eps or x0. Costs two model
    calls per step (one when scale is exactly 0 or 1).
    """
    cond = tuple(cond) if isinstance(cond, (tuple, list)) else (cond,)
    uncond = tuple(uncond) if isinstance(uncond, (tuple, list)) else (uncond,)

    def guided(x, t):
        if scale == 1:
            return fn(x, t, *cond)
        if scale == 0:
            return fn(x, t, *uncond)
        pred_uncond, pred_cond = fn(x, t, *uncond), fn(x, t, *cond)
        return pred_uncond + scale * (pred_cond - pred_uncond)

    return guided


def autoguidance(fn, weak_fn, cond, uncond, scale: float, weight: float):
    """Classifier-free guidance plus a pull away from a weaker model of the same data, a new denoiser (x, t):
    pred_cond + weight (pred_cond - pred_weak) + (scale - 1) (pred_cond - pred_uncond).

    Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself", eq. 2:
    D_weak + w (D_good - D_weak), both conditional, is the first two terms with w = 1 + weight;
    the last adds classifier-free guidance (Ho & Salimans 2022) on top, so weight 0 is exactly
    ``classifier_free_guidance`` and scale 1 is the paper's form alone. Where the weaker model
    (say, the same network after fewer training steps) spreads its samples between modes, the
    difference points away from that spread. ``weak_fn(x, t, *cond)`` must predict the same
    quantity from the same latents. Costs 3 model calls per step (2 when scale is 1).
    """
    if weight == 0:
        return classifier_free_guidance(fn, cond, uncond, scale)
    cond = tuple(cond) if isinstance(cond, (tuple, list)) else (cond,)
    uncond = tuple(uncond) if isinstance(uncond, (tuple, list)) else (uncond,)

    def autoguided(x, t):
        pred_cond, pred_weak = fn(x, t, *cond), weak_fn(x, t, *cond)
        pred = pred_cond + weight * (pred_cond - pred_weak)  # Karras et al., eq. 2
        if scale == 1:
            return pred
        return pred + (scale - 1) * (pred_cond - fn(x, t, *uncond))  # + classifier-free guidance

    return autoguided


# -----------------------------------------------------------------------------
# Flow-model samplers: integrate dx/dt = v(x, t) from t = 1 to t = 0


@torch.no_grad()
def euler_sample(velocity_fn, x, ts, callback=None):
    """Euler's method on the flow ODE: x <- x + (t_next - t) v(x, t). First order, 1 call per step.

    ``x`` is the noise at ts[0] (usually 1); ``ts`` from ``flow_timesteps``.
    ``callback(i, x, t, v)`` is called after each model call, e.g. to record the path.
    """
    s_in = x.new_ones(x.shape[0])
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v = velocity_fn(x, t * s_in)
        if callback is not None:
            callback(i, x, t, v)
        x = x + (t_next - t) * v
    return x


@torch.no_grad()
def heun_sample(velocity_fn, x, ts, callback=None):
    """Heun's method (trapezoid rule) on the flow ODE: second order, 2 calls per step.

    Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Algorithm 1: an Euler step, then a correction with the average of the
    velocities at both ends; like there, the last step into t = 0 stays an Euler step.
    """
    s_in = x.new_ones(x.shape[0])
    for i in range(len(ts) - 1):
        t, t_next = ts[i], ts[i + 1]
        v = velocity_fn(x, t * s_in)
        if callback is not None:
            callback(i, x, t, v)
        x_euler = x + (t_next - t) * v  # Algorithm 1, line 5
        if t_next == 0:
            x = x_euler
        else:
            v_next = velocity_fn(x_euler, t_next * s_in)  # line 7
            x = x + (t_next - t) * (v + v_next) / 2  # line 8
    return x


# -----------------------------------------------------------------------------
# Epsilon-model samplers over a discrete schedule abar_k (``minivid.diffusion.make_alphas_cumprod``)


@torch.no_grad()
def ddim_sample(eps_fn, x, alphas_cumprod, steps, eta: float = 0.0, generator=None, callback=None):
    """DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models"), eq. 12 with sigma from eq. 16.

    eta = 0: deterministic; this is an Euler step of the probability-flow ODE in the
    variables x / sqrt(abar) and sqrt((1 - abar) / abar) (section 4.3), so the same
    noise always gives the same sample. eta = 1: the DDPM posterior (same as ``ddpm_sample``).
    ``x`` is the noise at step steps[0]; ``steps`` descending, from ``ddpm_timesteps``.
    """
    s_in = torch.ones(x.shape[0], dtype=torch.long, device=x.device)
    steps = steps.tolist()
    for i, k in enumerate(steps):
        alpha_bar = alphas_cumprod[k].item()
        alpha_bar_prev = alphas_cumprod[steps[i + 1]].item() if i + 1 < len(steps) else 1.0  # 1 = clean
        eps = eps_fn(x, k * s_in)
        if callback is not None:
            callback(i, x, k, eps)
        x0 = eps_to_x0(x, eps, alpha_bar)  # predicted clean sample
        sigma = eta * math.sqrt((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev))  # eq. 16
        x = math.sqrt(alpha_bar_prev) * x0 + math.sqrt(max(1 - alpha_bar_prev - sigma**2, 0.0)) * eps  # eq. 12
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x


@torch.no_grad()
def ddpm_sample(eps_fn, x, alphas_cumprod, steps=None, generator=None, callback=None):
    """Ancestral DDPM sampling (Ho et al. 2020, "Denoising Diffusion Probabilistic Models", Algorithm 2).

    x_prev = (x - beta / sqrt(1 - abar) eps) / sqrt(alpha) + sigma z, with the posterior
    variance sigma^2 = beta (1 - abar_prev) / (1 - abar) (their beta-tilde, eq. 7), no
    noise on the last step. With fewer steps than training, alpha = abar / abar_prev is
    the product of the skipped alphas. ``steps`` defaults to all K steps, descending.
    """
    steps = ddpm_timesteps(len(alphas_cumprod), device=x.device) if steps is None else steps
    s_in = torch.ones(x.shape[0], dtype=torch.long, device=x.device)
    steps = steps.tolist()
    for i, k in enumerate(steps):
        alpha_bar = alphas_cumprod[k].item()
        alpha_bar_prev = alphas_cumprod[steps[i + 1]].item() if i + 1 < len(steps) else 1.0  # 1 = clean
        alpha = alpha_bar / alpha_bar_prev
        beta = 1 - alpha
        eps = eps_fn(x, k * s_in)
        if callback is not None:
            callback(i, x, k, eps)
        x = (x - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha)  # Algorithm 2, line 4 (mean)
        sigma = math.sqrt(beta * (1 - alpha_bar_prev) / (1 - alpha_bar))  # eq. 7, beta-tilde
        if sigma > 0:
            x = x + sigma * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x
