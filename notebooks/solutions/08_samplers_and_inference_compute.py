"""Lesson 08's exercise: what one sampler run costs, in DiT passes, token evaluations and FLOPs.

The check runs the shipped pipeline for every flow sampler, several step counts and guidance scales, and counts
the DiT's forward passes with a hook (an independent count: it observes the network, whatever the code does).
"""
import functools

import torch

from minivid.checkpoint import find_shipped
from minivid.pipeline import FLOW_SAMPLERS, TextToVideo


# ---- exercise: the cost of a sampler run -----------------------------------------------------------------

def sampling_cost(sampler, steps, guidance, tokens, flops_per_pass):
    """DiT passes, token evaluations and FLOPs to sample one clip with a flow model, classifier-free
    guidance alone (no autoguidance): every pass reads all `tokens` and costs `flops_per_pass`."""
    velocity_calls = 2 * steps - 1 if sampler == "heun" else steps  # Heun's last step is an Euler step; ddim = euler
    passes = velocity_calls * (1 if guidance in (0, 1) else 2)  # guidance 0 or 1 needs one model call
    return {"passes": passes, "tokens": passes * tokens, "flops": passes * flops_per_pass}


@functools.cache
def _pipe():
    return TextToVideo.from_pretrained(find_shipped("data/t2v/shapes"), device="cpu", weak_path=False)


def measured_passes(sampler, steps, guidance):
    """The DiT's forward passes while the shipped pipeline samples one clip, counted with a forward hook."""
    pipe, seen = _pipe(), []
    handle = pipe.dit.register_forward_hook(lambda module, inputs, output: seen.append(1))
    try:
        with torch.no_grad():
            pipe.sample_latents(["a red circle moves left"], steps=steps, sampler=sampler, guidance=guidance, seed=0,
                                autoguidance=0)
    finally:
        handle.remove()
    return len(seen)


def check_sampling_cost(fn):
    tokens, flops = 80, 341_000_000  # any numbers: the cost scales with them
    for sampler in FLOW_SAMPLERS:
        for steps in (1, 2, 5):
            for guidance in (0.0, 1.0, 4.0):
                got, passes = fn(sampler, steps, guidance, tokens, flops), measured_passes(sampler, steps, guidance)
                where = f"{sampler}, {steps} steps, guidance {guidance}"
                assert isinstance(got, dict) and {"passes", "tokens", "flops"} <= set(got), \
                    f"{where}: return a dict with 'passes', 'tokens' and 'flops', got {got!r}"
                assert got["passes"] == passes, f"{where}: you count {got['passes']} DiT passes, the pipeline made {passes}"
                assert got["tokens"] == passes * tokens, \
                    f"{where}: {got['tokens']} token evaluations, expected passes x tokens = {passes * tokens}"
                assert got["flops"] == passes * flops, \
                    f"{where}: {got['flops']} FLOPs, expected passes x FLOPs per pass = {passes * flops}"


def wrong_sampling_cost_heun_two_per_step(sampler, steps, guidance, tokens, flops_per_pass):
    """Heun at two velocities for every step, the last one too."""
    passes = (2 * steps if sampler == "heun" else steps) * (1 if guidance in (0, 1) else 2)
    return {"passes": passes, "tokens": passes * tokens, "flops": passes * flops_per_pass}


def wrong_sampling_cost_guidance_always_two(sampler, steps, guidance, tokens, flops_per_pass):
    """Guidance always two passes, even at scale 0 or 1 where one model call is the whole answer."""
    passes = (2 * steps - 1 if sampler == "heun" else steps) * 2
    return {"passes": passes, "tokens": passes * tokens, "flops": passes * flops_per_pass}


def wrong_sampling_cost_flops_per_token(sampler, steps, guidance, tokens, flops_per_pass):
    """FLOPs counted per token evaluation instead of per pass."""
    passes = (2 * steps - 1 if sampler == "heun" else steps) * (1 if guidance in (0, 1) else 2)
    return {"passes": passes, "tokens": passes * tokens, "flops": passes * tokens * flops_per_pass}
