"""Every seed-mixing constant in one place.

Randomness in minivid comes from small CPU generators seeded by a pure function of
(seed, index): clip i of a dataset, step k of a training run, prompt i of a batch.
Mixing the two numbers with a large prime stride keeps the streams of neighbouring
seeds apart (seed s, index i and seed s+1, index i - stride never meet in practice),
and a fresh generator per item makes each draw independent of batch size and order.
"""
from __future__ import annotations

import numpy as np
import torch

VAL_SEED = 1_000_003  # ShapesWorld seed of validation and scaling-factor clips: no training run uses it
NOISE_STRIDE = 1_000_003  # sampling: prompt `index` of a call with `seed` draws its noise from seed * stride + index
STEP_STRIDE = 1_000_000_007  # training: step `step` of a run with `seed` draws its batch from seed * stride + step


def noise_generator(seed: int, index: int) -> torch.Generator:
    """The CPU generator of prompt `index`'s starting noise (pipeline.noise_for): independent of the batch."""
    return torch.Generator().manual_seed(int(seed) * NOISE_STRIDE + int(index))


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of one training step: a pure function of (seed, step), so resuming needs no RNG state."""
    return torch.Generator().manual_seed(int(seed) * STEP_STRIDE + int(step))


def window_seed(seed: int, index: int, segment: int, attempt: int = 0) -> int:
    """The seed of one 17-frame window of a story (minivid.story): prompt `index` of a call with `seed`, its
    `segment`, and which draw of it (`attempt`: a shot's first window may be redrawn). numpy's SeedSequence mixes
    the four into the pipeline's seed range, so no two windows share their noise."""
    state = np.random.SeedSequence([int(seed), int(index), int(segment), int(attempt)]).generate_state(1, np.uint64)
    return int(state[0] % 2**40)
