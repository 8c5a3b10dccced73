"""Lesson 04 exercises: the flow-matching loss, one training step, the Euler sampler with guidance.

Each exercise X has the reference ``X``, ``check_X(fn)`` (AssertionError saying what is off) and
plausible wrong answers ``wrong_X_*`` that the tests prove ``check_X`` rejects. The checks compare
against minivid's own functions (``diffusion.add_noise``, ``diffusion.flow_matching_loss``,
``sampling.euler_sample`` with ``sampling.classifier_free_guidance``) on small deterministic inputs.
"""

import copy

import torch
from torch import nn

from minivid import diffusion, sampling


def _call(fn, *args):
    """fn(*args), with any error other than "not attempted" reported as what is off."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as e:  # a shape error deep inside torch says less than this
        raise AssertionError(f"calling it raised {type(e).__name__}: {e}") from None


def _bt(t, x):
    """(b,) -> (b, 1, 1, ...), broadcastable against x (b ...)."""
    return t.reshape(-1, *[1] * (x.dim() - 1))


# -----------------------------------------------------------------------------
# Exercise: add_noise and flow_target (the interpolation and its velocity)


def add_noise(x0, eps, t):
    """x_t = (1 - t) x0 + t eps, with t (b,) broadcast over the other axes of x0 (b ...)."""
    t = t.reshape(-1, *[1] * (x0.dim() - 1))
    return (1 - t) * x0 + t * eps


def check_add_noise(fn):
    g = torch.Generator().manual_seed(0)
    for shape in [(6, 2), (3, 8, 5, 8, 8)]:  # toy points, and latent videos b c t h w
        x0, eps = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
        t = torch.rand(shape[0], generator=g)
        got = _call(fn, x0, eps, t)
        assert tuple(got.shape) == shape, f"{shape}: x_t has shape {tuple(got.shape)}, wanted {shape}: " \
                                          "reshape t (b,) to (b, 1, 1, ...) before multiplying"
        if torch.allclose(got, diffusion.add_noise(x0, eps, 1 - t), atol=1e-6):
            raise AssertionError(f"{shape}: data and noise are swapped: t = 0 must give x0, t = 1 the noise")
        assert torch.allclose(got, diffusion.add_noise(x0, eps, t), atol=1e-6), \
            f"{shape}: x_t differs from diffusion.add_noise by {(got - diffusion.add_noise(x0, eps, t)).abs().max():.3g}"


def wrong_add_noise_swapped(x0, eps, t):
    t = t.reshape(-1, *[1] * (x0.dim() - 1))
    return t * x0 + (1 - t) * eps


def wrong_add_noise_no_broadcast(x0, eps, t):
    return (1 - t) * x0 + t * eps  # (b,) against (b, ..., d): broadcasts over the last axis, or fails


# -----------------------------------------------------------------------------
# Exercise: flow_matching_loss


def flow_matching_loss(model, x0, t, eps):
    """Mean squared error between model(x_t, t) and the velocity eps - x0, at x_t = (1 - t) x0 + t eps."""
    tb = t.reshape(-1, *[1] * (x0.dim() - 1))
    x_t = (1 - tb) * x0 + tb * eps
    return (model(x_t, t) - (eps - x0)).square().mean()


def _toy_model(x, t):
    """A fixed, non-zero 'velocity': depends on x and t, so the path and the target both matter."""
    return 0.5 * x - 0.8 * _bt(t, x) + 0.3 * torch.sin(3 * x)


def check_flow_matching_loss(fn):
    g = torch.Generator().manual_seed(1)
    for shape in [(6, 2), (3, 8, 5, 8, 8)]:
        x0, eps = torch.randn(shape, generator=g), 0.5 + torch.randn(shape, generator=g)
        t = torch.rand(shape[0], generator=g)
        got = _call(fn, _toy_model, x0, t, eps)
        want = diffusion.flow_matching_loss(_toy_model, x0, t=t, eps=eps)
        assert torch.is_tensor(got) and got.dim() == 0, \
            f"{shape}: the loss should be one number (a 0-d tensor, the mean), got {got!r:.60}"
        tb = _bt(t, x0)
        x_t = (1 - tb) * x0 + tb * eps
        hints = {
            "the target is x0 - eps: the velocity along the path points from data to noise, eps - x0":
                (_toy_model(x_t, t) - (x0 - eps)).square().mean(),
            "the target is eps: that is DDPM's noise prediction; flow matching regresses the velocity eps - x0":
                (_toy_model(x_t, t) - eps).square().mean(),
            "x_t swaps data and noise: x_t = (1 - t) x0 + t eps":
                (_toy_model(t.reshape(tb.shape) * x0 + (1 - tb) * eps, t) - (eps - x0)).square().mean(),
            "the loss is a sum, not a mean": (_toy_model(x_t, t) - (eps - x0)).square().sum(),
        }
        for why, value in hints.items():
            if torch.allclose(got.float(), value, rtol=1e-5) and not torch.allclose(value, want, rtol=1e-5):
                raise AssertionError(f"{shape}: {why}")
        assert torch.allclose(got.float(), want, rtol=1e-5, atol=1e-7), \
            f"{shape}: loss {got.item():.6f}, diffusion.flow_matching_loss gives {want.item():.6f}"


def wrong_flow_matching_loss_sign(model, x0, t, eps):
    tb = t.reshape(-1, *[1] * (x0.dim() - 1))
    return (model((1 - tb) * x0 + tb * eps, t) - (x0 - eps)).square().mean()


def wrong_flow_matching_loss_eps_target(model, x0, t, eps):
    tb = t.reshape(-1, *[1] * (x0.dim() - 1))
    return (model((1 - tb) * x0 + tb * eps, t) - eps).square().mean()


def wrong_flow_matching_loss_swapped_path(model, x0, t, eps):
    tb = t.reshape(-1, *[1] * (x0.dim() - 1))
    return (model(tb * x0 + (1 - tb) * eps, t) - (eps - x0)).square().mean()


# -----------------------------------------------------------------------------
# Exercise: training_step


def training_step(model, optimizer, x0, t, eps):
    """One optimiser step on the flow-matching loss at (t, eps); returns the loss as a float."""
    loss = diffusion.flow_matching_loss(model, x0, t=t, eps=eps)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


class _TinyVelocity(nn.Module):
    """(x (b 2), t (b,)) -> (b 2): small enough to copy, big enough that a step moves every weight."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.SiLU(), nn.Linear(16, 2))

    def forward(self, x, t):
        return self.net(torch.cat([x, t.reshape(-1, 1)], dim=-1))


def check_training_step(fn):
    torch.manual_seed(0)
    theirs = _TinyVelocity()
    ours = copy.deepcopy(theirs)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=1e-2)
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(2)
    for step in range(3):  # several steps: a forgotten zero_grad shows from the second on
        x0, eps, t = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), torch.rand(8, generator=g)
        before = [p.detach().clone() for p in theirs.parameters()]
        got = _call(fn, theirs, opt_theirs, x0, t, eps)
        want = training_step(ours, opt_ours, x0, t, eps)
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise AssertionError(f"step {step}: return the loss (a number), got {got!r:.60}") from None
        assert abs(got - want) < 1e-5 * max(1.0, abs(want)), \
            f"step {step}: returned loss {got:.6f}, the flow-matching loss before the step is {want:.6f}"
        moved = any(not torch.equal(a, p) for a, p in zip(before, theirs.parameters()))
        assert moved, f"step {step}: the parameters did not move: call optimizer.step() after loss.backward()"
        for (name, p), q in zip(theirs.named_parameters(), ours.parameters()):
            if not torch.allclose(p, q, atol=1e-6):
                hint = " (are the gradients of the previous step still there? call optimizer.zero_grad())" \
                    if step > 0 else ""
                raise AssertionError(f"step {step}: parameter {name} differs from a reference step by "
                                     f"{(p - q).abs().max():.3g}{hint}")


def wrong_training_step_no_zero_grad(model, optimizer, x0, t, eps):
    loss = diffusion.flow_matching_loss(model, x0, t=t, eps=eps)
    loss.backward()  # gradients pile up across steps
    optimizer.step()
    return loss.item()


def wrong_training_step_no_step(model, optimizer, x0, t, eps):
    loss = diffusion.flow_matching_loss(model, x0, t=t, eps=eps)
    optimizer.zero_grad()
    loss.backward()
    return loss.item()


def wrong_training_step_step_before_backward(model, optimizer, x0, t, eps):
    loss = diffusion.flow_matching_loss(model, x0, t=t, eps=eps)
    optimizer.zero_grad()
    optimizer.step()  # steps on the zero gradients, then computes the ones it never uses
    loss.backward()
    return loss.item()


# -----------------------------------------------------------------------------
# Exercise: euler_cfg_sample


@torch.no_grad()
def euler_cfg_sample(model, x, ts, cond, uncond, scale):
    """Euler from ts[0] to ts[-1] on the guided velocity v_u + scale (v_c - v_u), v = model(x, t, *cond)."""
    for t, t_next in zip(ts[:-1], ts[1:]):
        t_batch = t.expand(x.shape[0])  # one time per example, (b,)
        v_cond, v_uncond = model(x, t_batch, *cond), model(x, t_batch, *uncond)
        v = v_uncond + scale * (v_cond - v_uncond)
        x = x + (t_next - t) * v
    return x


_TARGETS = torch.tensor([[2.0, 0.0], [-1.0, 1.5], [0.0, -2.0], [0.0, 0.0]])  # one per label; 3 = no label


def _toy_conditional(x, t, label):
    """A fixed conditional velocity, non-zero for every label: pulls x towards the label's target."""
    tb = _bt(t, x)
    return (x - _TARGETS[label]) / (0.2 + tb) + 0.1 * torch.sin(2 * x)


def check_euler_cfg_sample(fn):
    g = torch.Generator().manual_seed(3)
    x = torch.randn(6, 2, generator=g)
    cond, uncond = (torch.tensor([0, 1, 2, 0, 1, 2]),), (torch.full((6,), 3),)
    for steps, shift, scale in [(5, 3.0, 3.0), (8, 1.0, 2.5), (4, 1.0, 0.25)]:
        ts = sampling.flow_timesteps(steps, shift=shift)
        got = _call(fn, _toy_conditional, x.clone(), ts, cond, uncond, scale)
        guided = sampling.classifier_free_guidance(_toy_conditional, cond, uncond, scale)
        want = sampling.euler_sample(guided, x.clone(), ts)
        assert torch.is_tensor(got) and got.shape == x.shape, \
            f"return the final x, shape {tuple(x.shape)}; got {getattr(got, 'shape', got)!r:.60}"
        case = f"{steps} steps, scale {scale}"
        hints = {
            "it follows the conditional prediction only: guide with v_uncond + scale (v_cond - v_uncond)":
                sampling.euler_sample(sampling.conditioned(_toy_conditional, *cond), x.clone(), ts),
            "it follows the unconditional prediction only: guide with v_uncond + scale (v_cond - v_uncond)":
                sampling.euler_sample(sampling.conditioned(_toy_conditional, *uncond), x.clone(), ts),
            "cond and uncond are swapped in the guidance formula":
                sampling.euler_sample(sampling.classifier_free_guidance(_toy_conditional, uncond, cond, scale),
                                      x.clone(), ts),
            "the guided velocity starts from v_cond: it is v_uncond + scale (v_cond - v_uncond)":
                wrong_euler_cfg_sample_extrapolates_from_cond(_toy_conditional, x.clone(), ts, cond, uncond, scale),
            "the step goes the wrong way: x <- x + (t_next - t) v, and t_next < t":
                euler_cfg_sample(lambda x_, t_, *c: -_toy_conditional(x_, t_, *c), x.clone(), ts, cond, uncond,
                                 scale),
        }
        for why, value in hints.items():
            if torch.allclose(got, value, atol=1e-5) and not torch.allclose(value, want, atol=1e-5):
                raise AssertionError(f"{case}: {why}")
        assert torch.allclose(got, want, atol=1e-5), \
            f"{case}: the final x differs from sampling.euler_sample + classifier_free_guidance by " \
            f"{(got - want).abs().max():.3g}"


@torch.no_grad()
def wrong_euler_cfg_sample_cond_only(model, x, ts, cond, uncond, scale):
    for t, t_next in zip(ts[:-1], ts[1:]):
        x = x + (t_next - t) * model(x, t.expand(x.shape[0]), *cond)
    return x


@torch.no_grad()
def wrong_euler_cfg_sample_uncond_only(model, x, ts, cond, uncond, scale):
    for t, t_next in zip(ts[:-1], ts[1:]):
        x = x + (t_next - t) * model(x, t.expand(x.shape[0]), *uncond)
    return x


@torch.no_grad()
def wrong_euler_cfg_sample_step_sign(model, x, ts, cond, uncond, scale):
    for t, t_next in zip(ts[:-1], ts[1:]):
        v_c, v_u = model(x, t.expand(x.shape[0]), *cond), model(x, t.expand(x.shape[0]), *uncond)
        x = x + (t - t_next) * (v_u + scale * (v_c - v_u))
    return x


@torch.no_grad()
def wrong_euler_cfg_sample_extrapolates_from_cond(model, x, ts, cond, uncond, scale):
    for t, t_next in zip(ts[:-1], ts[1:]):
        v_c, v_u = model(x, t.expand(x.shape[0]), *cond), model(x, t.expand(x.shape[0]), *uncond)
        x = x + (t_next - t) * (v_c + scale * (v_c - v_u))
    return x
