"""Lesson 07's exercises: one training step of the DiT with its EMA, and the learning-rate schedule.

Each check runs the learner's function and an independent reference built from the package's own pieces
(`diffusion.flow_matching_loss`, `torch.nn.utils.clip_grad_norm_`, AdamW, `train.ema_update`, `train.lr_at`).
"""
import copy
import math

import torch

from minivid import diffusion, text
from minivid.train import T2VTrainConfig, build_dit, ema_update, lr_at


# ---- exercise 1: one training step with an EMA of the weights ---------------------------------------------

def ema_training_step(model, ema, optimizer, x0, ids, mask, t, eps, lr, decay, grad_clip=1.0):
    """One optimiser step of the DiT on a batch, then the EMA update; returns the loss (a float)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    tt = t.view(-1, 1, 1, 1, 1)  # broadcast over c t h w
    x_t = (1 - tt) * x0 + tt * eps  # the straight path from data to noise
    loss = (model(x_t, t, ids, mask) - (eps - x0)).square().mean()  # velocity target eps - x0
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)  # global norm <= grad_clip
    optimizer.step()
    with torch.no_grad():  # after the step: the average follows the new weights
        for e, p in zip(ema.parameters(), model.parameters()):
            e.mul_(decay).add_(p, alpha=1 - decay)  # ema <- decay * ema + (1 - decay) * weights
    return loss.item()


def _ema_setup(seed=0):
    """A tiny DiT (every weight moved off its adaLN-Zero start, so every gradient is non-zero), an EMA that
    differs from it, AdamW, and three seeded batches."""
    torch.manual_seed(seed)
    model = build_dit("tiny", latent_channels=4)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ema = copy.deepcopy(model).requires_grad_(False)
    with torch.no_grad():
        for e in ema.parameters():
            e.add_(0.05 * torch.randn_like(e))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.0)
    g = torch.Generator().manual_seed(seed + 1)
    ids, mask = text.encode_batch(["a red circle moves left", "a blue square bounces", None, "紅色的圓形向左移動"])
    batches = [dict(x0=torch.randn(4, 4, 3, 4, 4, generator=g), ids=ids, mask=mask,
                    t=torch.rand(4, generator=g).clamp(0.05, 0.95), eps=torch.randn(4, 4, 3, 4, 4, generator=g))
               for _ in range(3)]
    return model, ema, optimizer, batches


def _reference_step(model, ema, optimizer, batch, lr, decay, grad_clip):
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = diffusion.flow_matching_loss(model, batch["x0"], batch["ids"], batch["mask"], t=batch["t"], eps=batch["eps"])
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    with torch.no_grad():
        ema_update(ema, model, decay)
    return loss.item()


def _close(a, b, atol):
    return all(torch.allclose(x, y, atol=atol, rtol=0) for x, y in zip(a.parameters(), b.parameters()))


def check_ema_training_step(fn):
    steps = [(2e-2, 0.9, 0.05), (1e-2, 0.5, 0.05), (5e-3, 0.8, 100.0)]  # (lr, decay, grad_clip): clipping bites twice
    model, ema, opt, batches = _ema_setup()
    ref_model, ref_ema, ref_opt, _ = _ema_setup()
    for k, (batch, (lr, decay, clip)) in enumerate(zip(batches, steps)):
        before = copy.deepcopy(ref_model)  # the weights before this step, to name an EMA taken too early
        ema_before = copy.deepcopy(ref_ema)
        want = _reference_step(ref_model, ref_ema, ref_opt, batch, lr, decay, clip)
        got = fn(model, ema, opt, batch["x0"], batch["ids"], batch["mask"], batch["t"], batch["eps"], lr, decay, clip)
        where = f"step {k} (lr {lr}, decay {decay}, grad_clip {clip})"
        if got is None:
            raise AssertionError(f"{where}: return the loss (a float), got None")
        assert math.isclose(float(got), want, rel_tol=1e-5), (
            f"{where}: loss {float(got):.6f}, expected {want:.6f}: x_t = (1 - t) x0 + t eps, target eps - x0, "
            "mean squared error (and the loss before the step, not after)")
        if not _close(model, ref_model, 1e-6):
            if k == 0 and clip < 1:
                raise AssertionError(f"{where}: the weights after the step differ: clip the global gradient norm to "
                                     "grad_clip (torch.nn.utils.clip_grad_norm_) before optimizer.step(), and set "
                                     "the lr in every param group")
            raise AssertionError(f"{where}: the weights after the step differ: zero the gradients before backward "
                                 "(they accumulate otherwise), clip, then optimizer.step() once")
        if not _close(ema, ref_ema, 1e-6):
            swapped = copy.deepcopy(ema_before)
            with torch.no_grad():
                for e, p in zip(swapped.parameters(), ref_model.parameters()):
                    e.copy_((1 - decay) * e + decay * p)
            early = copy.deepcopy(ema_before)
            ema_update(early, before, decay)
            if _close(ema, swapped, 1e-6):
                raise AssertionError(f"{where}: the EMA has decay and 1 - decay swapped: decay weighs the old "
                                     "average, ema <- decay * ema + (1 - decay) * weights")
            if _close(ema, early, 1e-6):
                raise AssertionError(f"{where}: the EMA was updated before optimizer.step(): it must average the "
                                     "weights after the step")
            raise AssertionError(f"{where}: the EMA differs from ema <- decay * ema + (1 - decay) * weights "
                                 "(train.ema_update), taken after optimizer.step()")


def wrong_ema_training_step_decay_on_new_weights(model, ema, optimizer, x0, ids, mask, t, eps, lr, decay,
                                                 grad_clip=1.0):
    """The EMA weights swapped: decay on the new weights, 1 - decay on the average."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = diffusion.flow_matching_loss(model, x0, ids, mask, t=t, eps=eps)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.copy_((1 - decay) * e + decay * p)
    return loss.item()


def wrong_ema_training_step_ema_before_step(model, ema, optimizer, x0, ids, mask, t, eps, lr, decay, grad_clip=1.0):
    """The EMA taken before the optimiser step: it averages the old weights."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = diffusion.flow_matching_loss(model, x0, ids, mask, t=t, eps=eps)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    with torch.no_grad():
        ema_update(ema, model, decay)
    optimizer.step()
    return loss.item()


def wrong_ema_training_step_no_clipping(model, ema, optimizer, x0, ids, mask, t, eps, lr, decay, grad_clip=1.0):
    """No gradient clipping: one large gradient moves the weights too far."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = diffusion.flow_matching_loss(model, x0, ids, mask, t=t, eps=eps)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        ema_update(ema, model, decay)
    return loss.item()


def wrong_ema_training_step_target_sign(model, ema, optimizer, x0, ids, mask, t, eps, lr, decay, grad_clip=1.0):
    """The velocity target with its sign flipped: x0 - eps instead of eps - x0."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    tt = t.view(-1, 1, 1, 1, 1)
    loss = (model((1 - tt) * x0 + tt * eps, t, ids, mask) - (x0 - eps)).square().mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    with torch.no_grad():
        ema_update(ema, model, decay)
    return loss.item()


def wrong_ema_training_step_no_zero_grad(model, ema, optimizer, x0, ids, mask, t, eps, lr, decay, grad_clip=1.0):
    """Gradients never zeroed: each step adds the last step's gradient to its own."""
    for group in optimizer.param_groups:
        group["lr"] = lr
    loss = diffusion.flow_matching_loss(model, x0, ids, mask, t=t, eps=eps)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    with torch.no_grad():
        ema_update(ema, model, decay)
    return loss.item()


# ---- exercise 2: the learning-rate schedule -----------------------------------------------------------------

def lr_schedule(step, lr, warmup_steps, steps, min_lr_ratio):
    """The learning rate of optimiser step `step` (0-based): linear warm-up, then a half cosine."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps  # step 0 already moves
    progress = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))  # held at the end
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


LR_CONFIGS = [T2VTrainConfig(), T2VTrainConfig(lr=2e-3, warmup_steps=50, steps=800),
              T2VTrainConfig(lr=1e-3, warmup_steps=10, steps=10, min_lr_ratio=0.0),
              T2VTrainConfig(lr=3e-4, warmup_steps=1, steps=50, min_lr_ratio=0.5)]


def check_lr_schedule(fn):
    for c in LR_CONFIGS:
        w = c.warmup_steps
        for step in sorted({0, 1, w - 1, w, w + 1, (w + c.steps) // 2, c.steps - 1, c.steps, c.steps + 7}):
            got, want = fn(step, c.lr, c.warmup_steps, c.steps, c.min_lr_ratio), lr_at(c, step)
            assert got is not None and math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
                f"lr={c.lr}, warmup_steps={c.warmup_steps}, steps={c.steps}, min_lr_ratio={c.min_lr_ratio}: "
                f"step {step} gives {got}, train.lr_at gives {want}")


def wrong_lr_schedule_warmup_starts_at_zero(step, lr, warmup_steps, steps, min_lr_ratio):
    """Warm-up lr * k / warmup_steps: step 0 has lr 0 and does nothing."""
    if step < warmup_steps:
        return lr * step / warmup_steps
    return lr_schedule(step, lr, warmup_steps, steps, min_lr_ratio)


def wrong_lr_schedule_decays_to_zero(step, lr, warmup_steps, steps, min_lr_ratio):
    """The cosine ends at 0 instead of lr * min_lr_ratio."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
    return lr * 0.5 * (1 + math.cos(math.pi * progress))


def wrong_lr_schedule_not_held_after_the_end(step, lr, warmup_steps, steps, min_lr_ratio):
    """Progress not capped at 1: after the last step the cosine climbs again."""
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(1, steps - warmup_steps)
    return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
