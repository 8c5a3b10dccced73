"""Tests for minivid.sampling with known answers: Gaussian data has an exact velocity and eps.

For data x0 ~ N(mu, s^2 I) every noisy marginal is Gaussian, so the ideal denoisers are
closed-form and the probability-flow ODE maps noise z to the data sample mu + s z'
where z' is z standardised at the starting time. Samplers are then checked against
that exact map rather than against each other.
"""

import pytest
import torch

from minivid.diffusion import make_alphas_cumprod
from minivid.sampling import (
    autoguidance,
    classifier_free_guidance,
    conditioned,
    ddim_sample,
    ddpm_model_fn,
    ddpm_sample,
    ddpm_timesteps,
    euler_sample,
    flow_timesteps,
    heun_sample,
    truncate_timesteps,
)

MU, S = torch.tensor([1.5, -0.5], dtype=torch.float64), 0.5


def gaussian_velocity(x, t):
    """E[eps - x0 | x_t = x] for x_t = (1 - t) x0 + t eps: m_t = (1-t) mu, var_t = (1-t)^2 s^2 + t^2."""
    t = t[:, None]
    var = (1 - t) ** 2 * S**2 + t**2
    return -MU + (t - (1 - t) * S**2) / var * (x - (1 - t) * MU)


def gaussian_velocity_of(mu):
    """The same exact velocity for data N(mu, s^2 I): v is linear in mu at every (x, t)."""
    def velocity(x, t):
        t = t[:, None]
        var = (1 - t) ** 2 * S**2 + t**2
        return -mu + (t - (1 - t) * S**2) / var * (x - (1 - t) * mu)
    return velocity


def gaussian_eps_fn(alphas_cumprod):
    """E[eps | x_k = x] for x_k = sqrt(a) x0 + sqrt(1 - a) eps: Cov(eps, x_k) / Var(x_k) (x - mean)."""

    def eps_fn(x, k):
        a = alphas_cumprod[k][:, None]
        return (1 - a).sqrt() * (x - a.sqrt() * MU) / (a * S**2 + 1 - a)

    return eps_fn


def noise(n=1024, seed=0):
    return torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def assert_gaussian_stats(x, tol=0.06):
    assert torch.allclose(x.mean(0), MU, atol=tol), x.mean(0)
    assert torch.allclose(x.std(0), torch.full((2,), S, dtype=x.dtype), atol=tol), x.std(0)


# -----------------------------------------------------------------------------
# Timesteps


def test_flow_timesteps_run_from_one_to_zero_and_shift_towards_noise():
    ts = flow_timesteps(10)
    assert ts.shape == (11,) and ts[0] == 1 and ts[-1] == 0 and (ts.diff() < 0).all()
    shifted = flow_timesteps(10, shift=3.0)
    assert shifted[0] == 1 and shifted[-1] == 0
    assert (shifted[1:-1] > ts[1:-1]).all()  # more steps spent at high noise


def test_ddpm_timesteps_descend_from_the_noisiest_step():
    assert torch.equal(ddpm_timesteps(10), torch.arange(9, -1, -1))
    steps = ddpm_timesteps(1000, 50)
    assert steps[0] == 999 and steps[-1] == 0 and len(steps.unique()) == 50
    with pytest.raises(ValueError, match="steps must be in"):
        ddpm_timesteps(10, 11)


# -----------------------------------------------------------------------------
# Flow samplers


@pytest.mark.parametrize("sampler, steps, tol", [(euler_sample, 64, 0.06), (heun_sample, 16, 0.02)])
def test_flow_samplers_transport_noise_to_the_data(sampler, steps, tol):
    z = noise()
    x = sampler(gaussian_velocity, z, flow_timesteps(steps, dtype=torch.float64))
    assert (x - (MU + S * z)).abs().max() < tol  # the exact ODE map at t=1 is z -> mu + s z
    assert_gaussian_stats(x)


@pytest.mark.parametrize("shift", [1.0, 3.0])
@pytest.mark.parametrize("sampler, order", [(euler_sample, 1), (heun_sample, 2)])
def test_flow_sampler_error_shrinks_at_its_order(sampler, order, shift):
    z = noise(64)
    errors = [
        (sampler(gaussian_velocity, z, flow_timesteps(n, shift, dtype=torch.float64)) - (MU + S * z)).abs().max()
        for n in (16, 32, 64)
    ]
    for coarse, fine in zip(errors, errors[1:]):
        assert 0.8 * 2**order < coarse / fine < 1.25 * 2**order  # halving h divides the error by 2^order


def test_truncated_grid_starts_at_t_start_and_keeps_the_grid_below():
    ts = flow_timesteps(10, shift=3.0)
    assert torch.equal(truncate_timesteps(ts, 1.0), ts)  # from pure noise: the whole grid
    part = truncate_timesteps(ts, 0.5)
    assert part[0] == 0.5 and torch.equal(part[1:], ts[ts < 0.5]) and part[-1] == 0
    assert torch.equal(truncate_timesteps(ts, 0.0), torch.zeros(1))  # no steps: the clip as it is
    with pytest.raises(ValueError, match="t_start"):
        truncate_timesteps(ts, 1.5)


@pytest.mark.parametrize("t_start", [0.3, 0.7])
def test_editing_from_t_start_follows_the_exact_ode_map(t_start):
    """SDEdit: noise data to t_start, integrate from there; the exact map is x_t -> mu + s * (x_t - m_t) / sd_t."""
    x0, eps = MU + S * noise(seed=1), noise(seed=2)
    x_t = (1 - t_start) * x0 + t_start * eps
    sd_t = ((1 - t_start) ** 2 * S**2 + t_start**2) ** 0.5
    exact = MU + S * (x_t - (1 - t_start) * MU) / sd_t
    x = heun_sample(gaussian_velocity, x_t, truncate_timesteps(flow_timesteps(32, dtype=torch.float64), t_start))
    assert (x - exact).abs().max() < 0.01  # Heun, ~10-23 steps left (0.02 at 16 from t = 1, above)
    assert_gaussian_stats(x)


def test_callback_sees_every_step():
    seen = []
    euler_sample(gaussian_velocity, noise(8), flow_timesteps(5), callback=lambda i, x, t, v: seen.append(i))
    assert seen == [0, 1, 2, 3, 4]


# -----------------------------------------------------------------------------
# Epsilon samplers


def probability_flow_map(z, alpha_bar_start):
    """Exact PF-ODE map for Gaussian data: keep z's standardised value, from N(sqrt(a) mu, a s^2 + 1 - a)."""
    return MU + S * (z - alpha_bar_start**0.5 * MU) / (alpha_bar_start * S**2 + 1 - alpha_bar_start) ** 0.5


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_ddim_is_deterministic_and_converges_to_the_probability_flow_ode(schedule):
    alphas_cumprod = make_alphas_cumprod(1000, schedule)
    eps_fn, z = gaussian_eps_fn(alphas_cumprod), noise(256)
    exact = probability_flow_map(z, alphas_cumprod[-1])
    x50 = ddim_sample(eps_fn, z, alphas_cumprod, ddpm_timesteps(1000, 50))
    x200 = ddim_sample(eps_fn, z, alphas_cumprod, ddpm_timesteps(1000, 200))
    assert torch.equal(x50, ddim_sample(eps_fn, z, alphas_cumprod, ddpm_timesteps(1000, 50)))
    err50, err200 = (x50 - exact).abs().max(), (x200 - exact).abs().max()
    assert err200 < 0.03 and 3.0 < err50 / err200 < 5.0  # first order in the step size


def test_ddim_transports_noise_to_the_data():
    alphas_cumprod = make_alphas_cumprod(1000, "cosine")
    x = ddim_sample(gaussian_eps_fn(alphas_cumprod), noise(), alphas_cumprod, ddpm_timesteps(1000, 100))
    assert_gaussian_stats(x)


def test_ddpm_ancestral_is_reproducible_and_matches_the_data():
    alphas_cumprod = make_alphas_cumprod(100, "cosine")
    eps_fn, z = gaussian_eps_fn(alphas_cumprod), noise()
    run = lambda seed: ddpm_sample(eps_fn, z, alphas_cumprod, generator=torch.Generator().manual_seed(seed))  # noqa: E731
    x = run(1)
    assert torch.equal(x, run(1))
    assert not torch.allclose(x, run(2))
    assert_gaussian_stats(x)


def test_ddpm_equals_ddim_with_eta_one():
    alphas_cumprod = make_alphas_cumprod(1000, "linear")
    eps_fn, z, steps = gaussian_eps_fn(alphas_cumprod), noise(64), ddpm_timesteps(1000, 25)
    x_ddpm = ddpm_sample(eps_fn, z, alphas_cumprod, steps, generator=torch.Generator().manual_seed(5))
    x_ddim = ddim_sample(eps_fn, z, alphas_cumprod, steps, eta=1.0, generator=torch.Generator().manual_seed(5))
    assert torch.allclose(x_ddpm, x_ddim, atol=1e-10)


def test_ddpm_model_fn_passes_k_over_num_steps():
    seen = []
    eps_fn = ddpm_model_fn(lambda x, t, *cond: seen.append((t, cond)) or torch.zeros_like(x), 1000)
    eps_fn(torch.zeros(2, 3), torch.tensor([0, 500]), "text")
    assert torch.allclose(seen[0][0], torch.tensor([0.0, 0.5])) and seen[0][1] == ("text",)


# -----------------------------------------------------------------------------
# Classifier-free guidance


def toy_model(x, t, label):
    """A conditional 'model' whose prediction depends on x, t and a label."""
    return x * t[:, None] + label


@pytest.mark.parametrize("scale", [0.0, 1.0, 3.0])
def test_guidance_interpolates_and_extrapolates(scale):
    x, t = noise(4), torch.full((4,), 0.5, dtype=torch.float64)
    cond, uncond = toy_model(x, t, 2.0), toy_model(x, t, -1.0)
    guided = classifier_free_guidance(toy_model, (2.0,), (-1.0,), scale)(x, t)
    assert torch.allclose(guided, uncond + scale * (cond - uncond))
    if scale == 1.0:
        assert torch.equal(guided, conditioned(toy_model, 2.0)(x, t))
    if scale == 0.0:
        assert torch.equal(guided, conditioned(toy_model, -1.0)(x, t))


@pytest.mark.parametrize("scale,weight", [(1.0, 2.0), (4.0, 1.0), (0.0, 0.5)])
def test_autoguidance_adds_the_pull_away_from_the_weak_model(scale, weight):
    x, t = noise(4), torch.full((4,), 0.5, dtype=torch.float64)

    def weak_model(x, t, label):
        return 0.5 * x * t[:, None] + label

    cond, uncond, weak = toy_model(x, t, 2.0), toy_model(x, t, -1.0), weak_model(x, t, 2.0)
    guided = autoguidance(toy_model, weak_model, (2.0,), (-1.0,), scale, weight)(x, t)
    assert torch.allclose(guided, uncond + scale * (cond - uncond) + weight * (cond - weak))
    plain = classifier_free_guidance(toy_model, (2.0,), (-1.0,), scale)
    assert torch.equal(autoguidance(toy_model, weak_model, (2.0,), (-1.0,), scale, 0.0)(x, t), plain(x, t))
    assert torch.allclose(autoguidance(toy_model, toy_model, (2.0,), (-1.0,), scale, weight)(x, t), plain(x, t))


def test_autoguidance_from_a_biased_weak_model_moves_samples_away_from_its_error():
    """Closed form: velocities of N(m, s^2) data are linear in m, so good (m = MU) + w (good - weak (m = MU - d))
    is the exact velocity of N(MU + w d, s^2): the sampler lands there, its spread unchanged (Karras et al. 2024's
    point in one dimension: the pull goes away from what the weaker model gets wrong)."""
    d, w = torch.tensor([0.4, 0.2], dtype=torch.float64), 1.5
    fn = autoguidance(lambda x, t: gaussian_velocity(x, t), lambda x, t: gaussian_velocity_of(MU - d)(x, t),
                      (), (), scale=1.0, weight=w)
    x = heun_sample(fn, noise(4096), flow_timesteps(40))
    assert torch.allclose(x.mean(0), MU + w * d, atol=0.05), x.mean(0)
    assert torch.allclose(x.std(0), torch.full((2,), S, dtype=x.dtype), atol=0.03), x.std(0)


def test_guidance_runs_inside_a_sampler_with_a_dit():
    """On a DiT whose output depends on the text (weights perturbed: an untrained DiT predicts 0 everywhere),
    the guided sampler equals the guidance formula by hand, and neither branch alone."""
    from minivid.dit import DiT, null_text

    torch.manual_seed(0)
    model = DiT.from_preset("tiny").eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ids, mask = torch.randint(1, 64, (2, 4)), torch.ones(2, 4, dtype=torch.bool)
    z, ts, scale = torch.randn(2, 4, 2, 4, 4), flow_timesteps(2), 4.0
    x = euler_sample(classifier_free_guidance(model, (ids, mask), null_text(2), scale=scale), z, ts)
    by_hand = z
    with torch.no_grad():
        for t, t_next in zip(ts[:-1], ts[1:]):
            tt = t.expand(2)
            v_cond, v_uncond = model(by_hand, tt, ids, mask), model(by_hand, tt, *null_text(2))
            assert v_cond.abs().mean() > 1e-3 and (v_cond - v_uncond).abs().mean() > 1e-3  # the test can fail
            by_hand = by_hand + (t_next - t) * (v_uncond + scale * (v_cond - v_uncond))
    torch.testing.assert_close(x, by_hand, atol=1e-5, rtol=0)
    for one_branch in ((ids, mask), null_text(2)):  # returning either prediction alone is caught
        assert not torch.allclose(x, euler_sample(conditioned(model, *one_branch), z, ts), atol=1e-3)
