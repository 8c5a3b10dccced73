"""Tests for minivid.diffusion: noising paths, targets, conversions, schedules, losses."""

import math

import pytest
import torch

from minivid.diffusion import (
    add_noise,
    ddpm_add_noise,
    ddpm_loss,
    ddpm_model_time,
    eps_to_x0,
    flow_matching_loss,
    flow_target,
    linear_alphas_cumprod,
    logit_normal_timesteps,
    make_alphas_cumprod,
    sample_timesteps,
    shift_time,
    velocity_to_eps,
    velocity_to_x0,
    x0_to_eps,
)

SHAPE = (3, 2, 2, 4, 4)  # b c t h w


def tensors(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g), torch.rand(SHAPE[0], generator=g)


# -----------------------------------------------------------------------------
# Flow matching


def test_add_noise_runs_from_data_to_noise_in_a_straight_line():
    x0, eps, t = tensors()
    assert torch.equal(add_noise(x0, eps, torch.zeros(3)), x0)
    assert torch.equal(add_noise(x0, eps, torch.ones(3)), eps)
    h = 1e-3  # the path's derivative in t is the target velocity, everywhere
    slope = (add_noise(x0, eps, t + h) - add_noise(x0, eps, t)) / h
    assert torch.allclose(slope, flow_target(x0, eps), atol=1e-2)


def test_velocity_conversions_recover_x0_and_eps():
    x0, eps, t = tensors()
    x_t, v = add_noise(x0, eps, t), flow_target(x0, eps)
    assert torch.allclose(velocity_to_x0(x_t, v, t), x0, atol=1e-5)
    assert torch.allclose(velocity_to_eps(x_t, v, t), eps, atol=1e-5)


def test_logit_normal_timesteps():
    g = torch.Generator().manual_seed(0)
    t = logit_normal_timesteps(20000, generator=g)
    assert ((t > 0) & (t < 1)).all()
    assert abs(t.median().item() - 0.5) < 0.02  # sigmoid(N(0, 1)) is symmetric about 1/2
    middle = ((t > 0.25) & (t < 0.75)).float().mean()
    assert middle > 0.6  # vs 0.5 for uniform: more training at middle times
    shifted = logit_normal_timesteps(20000, mean=1.0, generator=g)
    assert abs(shifted.median().item() - 1 / (1 + math.exp(-1))) < 0.02
    a = sample_timesteps(5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, sample_timesteps(5, generator=torch.Generator().manual_seed(1)))
    assert sample_timesteps(5, "uniform").shape == (5,)
    with pytest.raises(ValueError, match="timestep kind"):
        sample_timesteps(5, "cosine")


def test_shift_time_adds_log_shift_in_logit_space():
    t = logit_normal_timesteps(20000, generator=torch.Generator().manual_seed(0))
    assert torch.equal(shift_time(t, 1.0), t)  # shift 1 changes nothing, bit for bit (old runs resume exactly)
    for shift in (0.5, 3.0):  # the shift adds log(shift) in logit space, keeping 0 and 1 fixed
        assert torch.allclose(torch.logit(shift_time(t.double(), shift)), torch.logit(t.double()) + math.log(shift))
        assert shift_time(torch.tensor([0.0, 1.0]), shift).tolist() == [0.0, 1.0]


def test_flow_matching_loss_known_answers():
    x0, eps, t = tensors()
    zero_model = lambda x_t, t, *text: torch.zeros_like(x_t)  # noqa: E731
    loss = flow_matching_loss(zero_model, x0, t=t, eps=eps)
    assert torch.allclose(loss, (eps - x0).square().mean())
    # An oracle that knows x0 recovers the velocity from x_t: v = (x_t - x0) / t.
    oracle = lambda x_t, t, *text: (x_t - x0) / t.view(-1, 1, 1, 1, 1)  # noqa: E731
    assert flow_matching_loss(oracle, x0, t=t, eps=eps) < 1e-10
    per_sample = flow_matching_loss(zero_model, x0, t=t, eps=eps, reduction="none")
    assert per_sample.shape == (3,) and torch.allclose(per_sample.mean(), loss)


def test_flow_matching_loss_passes_text_and_is_reproducible():
    x0, _, _ = tensors()
    seen = []

    def model(x_t, t, ids, mask):
        seen.append((ids, mask))
        return x_t * 0.5

    ids, mask = torch.ones(3, 4, dtype=torch.long), torch.ones(3, 4, dtype=torch.bool)
    a = flow_matching_loss(model, x0, ids, mask, generator=torch.Generator().manual_seed(7))
    b = flow_matching_loss(model, x0, ids, mask, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and seen[0][0] is ids and seen[0][1] is mask


def test_flow_matching_loss_trains_a_dit():
    from minivid.dit import DiT

    model = DiT.from_preset("tiny", latent_channels=2)
    ids, mask = torch.randint(0, 64, (3, 5)), torch.ones(3, 5, dtype=torch.bool)
    x0, _, _ = tensors()
    loss = flow_matching_loss(model, x0, ids, mask, generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert torch.isfinite(loss) and model.final_layer.linear.weight.grad.abs().sum() > 0


# -----------------------------------------------------------------------------
# DDPM


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_alphas_cumprod_schedules(schedule):
    a = make_alphas_cumprod(1000, schedule)
    assert a.shape == (1000,) and a.dtype == torch.float64
    assert (a.diff() < 0).all() and (a > 0).all() and a[0] > 0.999
    assert a[-1] < 1e-4  # the last step is (almost) pure noise


def test_linear_schedule_is_the_product_of_one_minus_betas():
    betas = torch.linspace(1e-4, 0.02, 1000, dtype=torch.float64)
    assert torch.allclose(linear_alphas_cumprod(1000)[499], (1 - betas[:500]).prod())


def test_cosine_schedule_follows_the_cosine_formula():
    a, s = make_alphas_cumprod(1000, "cosine"), 0.008
    f = lambda u: math.cos((u / 1000 + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for k in (0, 250, 500, 900):
        assert math.isclose(a[k].item(), f(k + 1) / f(0), rel_tol=1e-9)
    with pytest.raises(ValueError, match="schedule must be"):
        make_alphas_cumprod(10, "sigmoid")


def test_ddpm_noising_and_eps_conversions():
    x0, eps, _ = tensors()
    alpha_bar = torch.tensor([0.9, 0.5, 0.01])
    x_k = ddpm_add_noise(x0, eps, alpha_bar)
    assert torch.allclose(x_k[1], 0.5**0.5 * (x0[1] + eps[1]))
    assert torch.allclose(eps_to_x0(x_k, eps, alpha_bar), x0, atol=1e-4)
    assert torch.allclose(x0_to_eps(x_k, x0, alpha_bar), eps, atol=1e-5)


def test_ddpm_loss_known_answers_and_time_convention():
    alphas_cumprod = make_alphas_cumprod(100, "cosine")
    x0, eps, _ = tensors()
    steps = torch.tensor([0, 37, 99])

    def oracle(x_k, t, *text):  # knows x0; reads the step back from t = k / K
        k = (t * 100).round().long()
        return x0_to_eps(x_k, x0, alphas_cumprod[k].float())

    assert ddpm_loss(oracle, x0, alphas_cumprod=alphas_cumprod, steps=steps, eps=eps) < 1e-6
    zero_model = lambda x_k, t, *text: torch.zeros_like(x_k)  # noqa: E731
    loss = ddpm_loss(zero_model, x0, alphas_cumprod=alphas_cumprod, steps=steps, eps=eps)
    assert torch.allclose(loss, eps.square().mean())
    assert torch.allclose(ddpm_model_time(steps, 100), torch.tensor([0.0, 0.37, 0.99]))
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    a = ddpm_loss(zero_model, x0, alphas_cumprod=alphas_cumprod, generator=g())
    assert torch.equal(a, ddpm_loss(zero_model, x0, alphas_cumprod=alphas_cumprod, generator=g()))
