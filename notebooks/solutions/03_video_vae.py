"""Lesson 03 · The video VAE: the exercises' references, their checks and plausible wrong answers."""

import torch
from torch.distributions import Normal, kl_divergence

from minivid.vae import VAE_PRESETS, DiagonalGaussian, VideoVAE

SHAPE = (2, 4, 3, 2, 2)  # b z t h w: a small posterior


def _posterior(seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g).clamp(-4, 4)  # mean, logvar


def _close(a, b):
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-6)


# ----------------------------------------------------------------------------------------------------------------
# The KL term


def kl_term(mean, logvar):
    """KL( N(mean, exp(logvar)) || N(0, 1) ), averaged over every latent element (the batch too): a scalar."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).mean()


def check_kl_term(fn):
    mean, logvar = _posterior(0)
    mean.requires_grad_(True)
    logvar.requires_grad_(True)
    got = fn(mean, logvar)
    per_element = kl_divergence(Normal(mean, (0.5 * logvar).exp()), Normal(0.0, 1.0))  # the closed form, elementwise
    want = per_element.mean()
    assert torch.allclose(want, DiagonalGaussian(mean, logvar).kl(), rtol=1e-5)  # the package agrees
    if not isinstance(got, torch.Tensor):
        raise AssertionError(f"returned a {type(got).__name__}; return a torch scalar (0-d tensor) that gradients "
                             "can flow through")
    if got.shape != ():
        hint = ("one KL per element" if got.shape == mean.shape else
                "one KL per clip" if got.shape == mean.shape[:1] else f"shape {tuple(got.shape)}")
        raise AssertionError(f"returned {hint}; the VAE's KL is one number: the average over every latent element, "
                             "batch included, as DiagonalGaussian.kl()")
    value, want = got.detach(), want.detach()
    if not torch.allclose(value, want, rtol=1e-4):
        ratio = float(value / want)
        if abs(ratio - per_element.numel()) < 1e-2 * per_element.numel():
            hint = "you summed over the elements; the VAE averages them (so kl_weight does not depend on the size)"
        elif abs(ratio - 2) < 1e-3:
            hint = "twice too large: the formula has a factor 1/2"
        else:
            zero, one = torch.zeros(SHAPE), torch.ones(SHAPE)
            if not torch.allclose(fn(zero, one).detach(), 0.5 * (one.exp() - 2).mean(), rtol=1e-4):
                hint = ("the variance part is off: with mean 0 and logvar 1 every element should give "
                        "(e^1 - 1 - 1) / 2 = 0.359; exp(logvar) is the variance, and the term is minus logvar")
            elif not torch.allclose(fn(one, zero).detach(), torch.tensor(0.5), rtol=1e-4):
                hint = "the mean part is off: with logvar 0 and mean 1 the KL is mean^2 / 2 = 0.5"
            else:
                hint = "KL = 1/2 mean(mean^2 + exp(logvar) - 1 - logvar)"
        raise AssertionError(f"KL = {float(value):.4f}, expected {float(want):.4f}: {hint}")
    zero = fn(torch.zeros(SHAPE), torch.zeros(SHAPE)).detach()
    if not torch.allclose(zero, torch.tensor(0.0), atol=1e-6):
        raise AssertionError(f"the KL of N(0, I) to itself must be 0, got {float(zero):.4f}")
    if not got.requires_grad:
        raise AssertionError("no gradient flows through your KL (was it computed with .item(), numpy or under "
                             "no_grad?); training needs it")
    g_mean, g_logvar = torch.autograd.grad(got, (mean, logvar))
    if not (_close(g_mean, mean.detach() / mean.numel())
            and _close(g_logvar, 0.5 * (logvar.detach().exp() - 1) / mean.numel())):
        raise AssertionError("right value but wrong gradients: compute the KL from mean and logvar with torch ops")


def wrong_kl_term_no_half(mean, logvar):
    """Forgets the factor 1/2."""
    return (mean.square() + logvar.exp() - 1.0 - logvar).mean()


def wrong_kl_term_summed(mean, logvar):
    """Sums over the elements, so the weight of the KL would change with the clip size."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum()


def wrong_kl_term_plus_logvar(mean, logvar):
    """A sign error: + logvar."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 + logvar).mean()


def wrong_kl_term_std_as_variance(mean, logvar):
    """Uses the standard deviation exp(logvar / 2) where the variance exp(logvar) belongs."""
    return 0.5 * (mean.square() + (0.5 * logvar).exp() - 1.0 - logvar).mean()


def wrong_kl_term_per_clip(mean, logvar):
    """Averages per clip and keeps the batch axis."""
    return 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).flatten(1).mean(1)


# ----------------------------------------------------------------------------------------------------------------
# The reparameterisation trick


def reparameterise(mean, logvar, noise):
    """A sample z of N(mean, exp(logvar)) as a differentiable function of mean and logvar: noise ~ N(0, I)."""
    std = torch.exp(0.5 * logvar)
    return mean + std * noise


def check_reparameterise(fn):
    mean, logvar = _posterior(1)
    mean.requires_grad_(True)
    logvar.requires_grad_(True)
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(7))
    z = fn(mean, logvar, noise.clone())
    with torch.no_grad():  # the package's sample with the same generator draws the same noise
        want = DiagonalGaussian(mean, logvar).sample(torch.Generator().manual_seed(7))
    if not isinstance(z, torch.Tensor) or z.shape != mean.shape:
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        raise AssertionError(f"got {got}; z has the shape of mean, {tuple(mean.shape)}")
    if not torch.allclose(z.detach(), want, rtol=1e-5, atol=1e-6):
        z, mean, logvar = z.detach(), mean.detach(), logvar.detach()
        if torch.allclose(z, mean + logvar.exp() * noise, rtol=1e-5, atol=1e-6):
            hint = "you scaled the noise by the variance exp(logvar); scale it by the standard deviation exp(logvar / 2)"
        elif torch.allclose(z, mean + logvar * noise, rtol=1e-5, atol=1e-6):
            hint = "logvar is a log-variance: the standard deviation is exp(logvar / 2)"
        elif not torch.allclose(fn(mean, logvar, noise.clone()).detach(), z):
            hint = "two calls with the same noise gave different z: use the noise you are given, draw none yourself"
        else:
            hint = f"expected z = mean + std * noise, off by up to {float((z - want).abs().max()):.3f}"
        raise AssertionError(f"z differs from DiagonalGaussian.sample with the same noise: {hint}")
    if not z.requires_grad:
        raise AssertionError("z carries no gradient: the point of the trick is that z is a differentiable function "
                             "of mean and logvar (don't detach, don't sample with torch.normal)")
    g_mean, g_logvar = torch.autograd.grad(z.sum(), (mean, logvar), allow_unused=True)
    std = (0.5 * logvar.detach()).exp()
    if g_mean is None or not _close(g_mean, torch.ones(SHAPE)):
        raise AssertionError("the gradient of z with respect to mean should be 1 everywhere; is mean detached?")
    if g_logvar is None or not _close(g_logvar, 0.5 * std * noise):
        raise AssertionError("no (or the wrong) gradient reaches logvar: dz/dlogvar = std * noise / 2; "
                             "is the standard deviation detached?")


def wrong_reparameterise_variance(mean, logvar, noise):
    """Scales the noise by the variance instead of the standard deviation."""
    return mean + logvar.exp() * noise


def wrong_reparameterise_detached_std(mean, logvar, noise):
    """Right values, but the encoder would never learn its variance: no gradient reaches logvar."""
    return mean + torch.exp(0.5 * logvar).detach() * noise


def wrong_reparameterise_fresh_noise(mean, logvar, noise):
    """Draws its own noise instead of using the one given (and so cannot match a seeded sample)."""
    return mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)


# ----------------------------------------------------------------------------------------------------------------
# The latent shape of any clip

GOOD = [(17, 32, 32), (1, 32, 32), (5, 16, 24), (33, 8, 64), (9, 40, 20)]
BAD = [(16, 32, 32), (17, 30, 32), (17, 32, 18), (0, 32, 32)]


def latent_shape(frames, height, width, channels=8, ft=4, fs=4):
    """(z, t, h, w) of the latent of a frames x height x width clip; ValueError if the VAE cannot take it."""
    if frames < 1 or (frames - 1) % ft or height % fs or width % fs:
        raise ValueError(f"need frames = 1 + {ft}k and height, width divisible by {fs}, got {frames, height, width}")
    return channels, 1 + (frames - 1) // ft, height // fs, width // fs


def check_latent_shape(fn):
    model = VideoVAE(VAE_PRESETS["shapes"]).eval()  # the shipped architecture; its weights do not change shapes
    for frames, height, width in GOOD:
        got = fn(frames, height, width)
        with torch.no_grad():
            real = tuple(model.encode_clips(torch.zeros(1, frames, 3, height, width)).shape[1:])
        if tuple(got) != real:
            raise AssertionError(f"{frames} x {height} x {width}: you said {tuple(got)}, the encoder makes {real}"
                                 + (" (frame 0 is encoded alone: T = 1 + 4k frames -> 1 + k)" if got[1] != real[1]
                                    else ""))
    for bad in BAD:
        try:
            fn(*bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad}: the VAE cannot encode this clip, so latent_shape should raise ValueError")


def wrong_latent_shape_not_causal(frames, height, width, channels=8, ft=4, fs=4):
    """Divides the frames by 4 as if time were not causal."""
    if frames < 1 or (frames - 1) % ft or height % fs or width % fs:
        raise ValueError("bad clip")
    return channels, frames // ft, height // fs, width // fs


def wrong_latent_shape_never_refuses(frames, height, width, channels=8, ft=4, fs=4):
    """Right shapes, but accepts clips the VAE cannot encode."""
    return channels, 1 + (frames - 1) // ft, height // fs, width // fs
