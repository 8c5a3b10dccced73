"""Lesson 02 · Spacetime patches: the exercise's reference, its check and plausible wrong answers."""

import torch

from minivid import patching

# (video shape b c t h w, patch size): odd sizes on purpose, so swapped axes cannot hide
CASES = [
    ((1, 3, 16, 32, 32), (2, 8, 8)),
    ((2, 4, 5, 8, 8), (1, 2, 2)),
    ((1, 3, 16, 32, 48), (4, 4, 8)),
    ((3, 2, 6, 4, 10), (3, 2, 5)),
]


def unpatchify(tokens, grid, patch_size, channels):
    """Tokens (B, N, D) -> video (B, C, T, H, W): the inverse of patchify, with reshape and permute only."""
    gt, gh, gw = grid
    pt, ph, pw = patch_size
    B = tokens.shape[0]
    boxes = tokens.reshape(B, gt, gh, gw, channels, pt, ph, pw)  # un-flatten: b gt gh gw c pt ph pw
    boxes = boxes.permute(0, 4, 1, 5, 2, 6, 3, 7)  # un-permute: b c gt pt gh ph gw pw
    return boxes.reshape(B, channels, gt * pt, gh * ph, gw * pw)  # merge each (patch, inside) pair


def check_unpatchify(fn):
    gen = torch.Generator().manual_seed(0)
    for shape, patch in CASES:
        video = torch.randn(shape, generator=gen)
        grid = patching.patch_grid(video.shape[-3:], patch)
        tokens = patching.patchify(video, patch)
        ours = fn(tokens, grid, patch, shape[1])
        case = f"video {shape} with patches {patch}"
        if not isinstance(ours, torch.Tensor) or tuple(ours.shape) != shape:
            got = tuple(ours.shape) if isinstance(ours, torch.Tensor) else type(ours).__name__
            raise AssertionError(f"{case}: got {got}, expected shape {shape} (b c t h w)")
        if torch.equal(ours, video):
            continue
        pt, ph, pw = patch
        box, true_box = ours[0, :, :pt, :ph, :pw].flatten(), video[0, :, :pt, :ph, :pw].flatten()
        if not torch.equal(torch.sort(ours.flatten()).values, torch.sort(video.flatten()).values):
            hint = ": values changed, but unpatchify only moves them (reshape and permute)"
        elif torch.equal(box.sort().values, true_box.sort().values):
            hint = (": each patch lands in the right box but its contents are scrambled; a token's vector is "
                    "ordered (c pt ph pw)")
        else:
            hint = (": tokens land in the wrong boxes; after un-flattening to b gt gh gw c pt ph pw, permute to "
                    "b c gt pt gh ph gw pw (the inverse of patchify's (0, 2, 4, 6, 1, 3, 5, 7))")
        raise AssertionError(f"{case}: right shape, but values in the wrong places{hint}")


def wrong_unpatchify_same_permutation(tokens, grid, patch_size, channels):
    """Applies patchify's permutation again instead of its inverse."""
    gt, gh, gw = grid
    pt, ph, pw = patch_size
    B = tokens.shape[0]
    boxes = tokens.reshape(B, gt, gh, gw, channels, pt, ph, pw).permute(0, 2, 4, 6, 1, 3, 5, 7)
    return boxes.reshape(B, channels, gt * pt, gh * ph, gw * pw)


def wrong_unpatchify_channels_last(tokens, grid, patch_size, channels):
    """Reads each token's vector as (pt ph pw c) instead of (c pt ph pw)."""
    gt, gh, gw = grid
    pt, ph, pw = patch_size
    B = tokens.shape[0]
    boxes = tokens.reshape(B, gt, gh, gw, pt, ph, pw, channels).permute(0, 7, 1, 4, 2, 5, 3, 6)
    return boxes.reshape(B, channels, gt * pt, gh * ph, gw * pw)


def wrong_unpatchify_reshape_only(tokens, grid, patch_size, channels):
    """Skips the permutation: a reshape alone gives the right shape and the wrong video."""
    gt, gh, gw = grid
    pt, ph, pw = patch_size
    return tokens.reshape(tokens.shape[0], channels, gt * pt, gh * ph, gw * pw)
