"""Tests for minivid.patching: exact patch round trips, readable errors, token and FLOP counts."""

import re
from collections import Counter
from fractions import Fraction

import pytest
import torch
from einops import rearrange
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from minivid.patching import (
    PRESETS,
    VideoTokenConfig,
    describe_cost,
    dit_flops,
    patch_grid,
    patchify,
    sampling_cost,
    unpatchify,
)

# (B, C, T, H, W) shapes and patch sizes that tile them; non-square on purpose.
ROUND_TRIP_CASES = [
    ((2, 3, 4, 6, 8), (1, 2, 2)),
    ((2, 3, 4, 6, 8), (2, 3, 4)),
    ((1, 4, 6, 10, 4), (3, 5, 1)),
    ((1, 2, 4, 6, 8), (4, 6, 8)),  # one patch covers the whole clip
    ((3, 1, 2, 4, 6), 2),  # an int means the same size on all three axes
]


# -----------------------------------------------------------------------------
# patchify / unpatchify


@pytest.mark.parametrize("shape, patch_size", ROUND_TRIP_CASES)
def test_round_trip_is_exact(shape, patch_size):
    x = torch.randn(shape)
    grid = patch_grid(shape[-3:], patch_size)
    tokens = patchify(x, patch_size)
    pt, ph, pw = (patch_size,) * 3 if isinstance(patch_size, int) else patch_size
    batch, channels, frames, height, width = shape
    assert grid == (frames // pt, height // ph, width // pw)
    assert tokens.shape == (batch, grid[0] * grid[1] * grid[2], channels * pt * ph * pw)
    assert torch.equal(unpatchify(tokens, grid, patch_size, channels), x)


def test_each_token_is_its_pixel_block_time_major():
    x = torch.randn(2, 3, 4, 6, 8)
    pt, ph, pw = 2, 3, 2
    gt, gh, gw = patch_grid(x.shape[-3:], (pt, ph, pw))
    tokens = patchify(x, (pt, ph, pw))
    for it in range(gt):
        for ih in range(gh):
            for iw in range(gw):
                index = (it * gh + ih) * gw + iw  # time-major: (gt gh gw)
                block = x[:, :, it * pt:(it + 1) * pt, ih * ph:(ih + 1) * ph, iw * pw:(iw + 1) * pw]
                # reshape of a (b, c, pt, ph, pw) block flattens in (c pt ph pw) order
                assert torch.equal(tokens[:, index], block.reshape(2, -1))


def test_first_token_values_by_hand():
    x = torch.arange(1 * 2 * 2 * 2 * 2).reshape(1, 2, 2, 2, 2)  # b c t h w
    tokens = patchify(x, (1, 2, 1))
    # token 0 = frame 0, column 0, both rows, channel 0 then channel 1
    assert tokens[0, 0].tolist() == [x[0, 0, 0, 0, 0], x[0, 0, 0, 1, 0], x[0, 1, 0, 0, 0], x[0, 1, 0, 1, 0]]
    assert tokens[0, 0].tolist() == [0, 2, 8, 10]


def test_int_patch_size_equals_tuple():
    x = torch.randn(1, 2, 4, 4, 4)
    assert torch.equal(patchify(x, 2), patchify(x, (2, 2, 2)))


# -----------------------------------------------------------------------------
# Error messages


def test_rejects_non_5d_input_and_says_what_it_got():
    with pytest.raises(ValueError, match=re.escape("(B, C, T, H, W), got 4-D tensor of shape (3, 4, 6, 8)")):
        patchify(torch.zeros(3, 4, 6, 8), 2)


@pytest.mark.parametrize(
    "shape, patch_size, message",
    [
        ((1, 1, 17, 4, 4), (2, 1, 1), "T=17 is not divisible by pt=2; use T=16 or T=18, or pt=1"),
        ((1, 1, 4, 30, 4), (1, 4, 1), "H=30 is not divisible by ph=4; use H=28 or H=32, or ph=3"),
        ((1, 1, 4, 4, 7), (1, 1, 2), "W=7 is not divisible by pw=2; use W=6 or W=8, or pw=1"),
        ((1, 1, 1, 4, 4), (2, 1, 1), "T=1 is not divisible by pt=2; use T=2, or pt=1"),
    ],
)
def test_indivisible_size_names_axis_and_suggests_fixes(shape, patch_size, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        patchify(torch.zeros(shape), patch_size)


@pytest.mark.parametrize("patch_size, bad", [((1, 0, 2), "ph=0"), (-1, "pt=-1"), ((1, 2, -3), "pw=-3")])
def test_rejects_non_positive_patch_size(patch_size, bad):
    with pytest.raises(ValueError, match=f"patch size must be positive, got {re.escape(bad)}"):
        patchify(torch.zeros(1, 1, 4, 4, 4), patch_size)


def test_rejects_malformed_patch_size():
    with pytest.raises(ValueError, match=r"tuple of three ints \(pt, ph, pw\)"):
        patchify(torch.zeros(1, 1, 4, 4, 4), (2, 2))


def test_unpatchify_rejects_wrong_token_count():
    tokens = torch.zeros(1, 63, 16)
    with pytest.raises(ValueError, match=re.escape("N=63 tokens, but grid (gt, gh, gw)=(4, 4, 4) holds gt*gh*gw=64")):
        unpatchify(tokens, (4, 4, 4), (1, 2, 2), channels=4)


def test_unpatchify_rejects_wrong_token_dim():
    tokens = torch.zeros(1, 64, 48)
    with pytest.raises(ValueError, match=re.escape("token dim D=48, but channels*pt*ph*pw=4*1*2*2=16")):
        unpatchify(tokens, (4, 4, 4), (1, 2, 2), channels=4)


def test_unpatchify_rejects_non_3d_tokens():
    with pytest.raises(ValueError, match=re.escape("(B, N, D), got 2-D tensor of shape (64, 16)")):
        unpatchify(torch.zeros(64, 16), (4, 4, 4), (1, 2, 2), channels=4)


# -----------------------------------------------------------------------------
# Token estimator


def test_sora_like_preset_reproduces_public_estimate():
    config = PRESETS["sora-like-60-frames"]
    assert config.latent_size == (60, 64, 64)
    assert config.tokens_per_frame == (512 // 8 // 2) ** 2 == 1024
    assert config.num_tokens == 61_440  # "~60k patches"
    assert sampling_cost(config.num_tokens, steps=20) == 1_228_800  # "~1.2M token evaluations"


def test_shapesworld_presets_use_a_causal_vae():
    config = PRESETS["shapesworld"]
    assert config.latent_size == (1 + (17 - 1) // 4, 8, 8) == (5, 8, 8)
    assert config.grid == (5, 4, 4)
    assert config.num_tokens == 80
    from minivid.vae import VAE_PRESETS

    channels = VAE_PRESETS["shapes"].latent_channels  # the VAE that makes the shipped model's latents
    assert config.latent_channels == PRESETS["shapesworld-fine"].latent_channels == channels == 8
    assert config.token_dim == channels * 1 * 2 * 2
    assert PRESETS["shapesworld-fine"].num_tokens == 5 * 8 * 8


def test_causal_flag_changes_latent_frames():
    common = dict(height=32, width=32, vae_temporal_factor=4, vae_spatial_factor=4, patch_size=1)
    assert VideoTokenConfig(frames=17, causal=True, **common).latent_frames == 5
    assert VideoTokenConfig(frames=16, causal=False, **common).latent_frames == 4
    no_compression = dict(common, vae_temporal_factor=1)
    assert VideoTokenConfig(frames=9, causal=True, **no_compression).latent_frames == 9


def test_config_errors_are_specific():
    common = dict(height=32, width=32, vae_temporal_factor=4, vae_spatial_factor=4)
    with pytest.raises(ValueError, match=re.escape("T=18 gives T-1=17 and ft=4; use T=17 or T=21, or causal=False")):
        VideoTokenConfig(frames=18, causal=True, **common)
    with pytest.raises(ValueError, match=re.escape("T=17 is not divisible by ft=4; use T=16 or T=20")):
        VideoTokenConfig(frames=17, **common)
    with pytest.raises(ValueError, match=re.escape("latent (T, H, W)=(4, 10, 8): H=10 is not divisible by ph=4")):
        VideoTokenConfig(frames=16, **dict(common, height=40), patch_size=(1, 4, 4))


# -----------------------------------------------------------------------------
# FLOP estimator, checked against torch's own FLOP counter on a tiny real block


def _attend(q, k, v, heads):
    """Multi-head softmax attention written out as two matmuls: (b n d) -> (b n d)."""
    q, k, v = (rearrange(z, "b n (h e) -> b h n e", h=heads) for z in (q, k, v))
    weights = (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).softmax(-1)
    return rearrange(weights @ v, "b h n e -> b n (h e)")


def _measure_block(frames, per_frame, width, heads, mlp_ratio, text_tokens, attention):
    """Run one DiT-style block and count its FLOPs per part with FlopCounterMode."""
    torch.manual_seed(0)
    flops = Counter()

    def counted(part, fn, *args):
        with FlopCounterMode(display=False) as mode:
            result = fn(*args)
        flops[part] += mode.get_total_flops()
        return result

    def self_attention(x):  # a fresh set of q, k, v, out projections per sublayer
        qkv, out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        q, k, v = counted("projections", qkv, x).chunk(3, dim=-1)
        return counted("projections", out, counted("attention", _attend, q, k, v, heads))

    x = torch.randn(1, frames * per_frame, width)
    if attention == "full":
        x = x + self_attention(x)
    else:
        spatial = rearrange(x, "b (f s) d -> (b f) s d", f=frames)
        x = x + rearrange(self_attention(spatial), "(b f) s d -> b (f s) d", f=frames)
        temporal = rearrange(x, "b (f s) d -> (b s) f d", f=frames)
        x = x + rearrange(self_attention(temporal), "(b s) f d -> b (f s) d", s=per_frame)
    if text_tokens:
        text = torch.randn(1, text_tokens, width)
        q_proj, k_proj, v_proj, out = (nn.Linear(width, width) for _ in range(4))
        cross = lambda x, text: out(_attend(q_proj(x), k_proj(text), v_proj(text), heads))  # noqa: E731
        x = x + counted("cross_attention", cross, x, text)
    mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))
    counted("mlp", mlp, x)
    return flops


@pytest.mark.parametrize("attention", ["full", "factorised"])
@pytest.mark.parametrize("text_tokens", [0, 5])
def test_dit_flops_match_torch_flop_counter(attention, text_tokens):
    frames, per_frame, width, heads, mlp_ratio = 3, 4, 16, 2, 4
    measured = _measure_block(frames, per_frame, width, heads, mlp_ratio, text_tokens, attention)
    estimate = dit_flops(
        frames * per_frame, width, depth=1, mlp_ratio=mlp_ratio, text_tokens=text_tokens,
        attention=attention, tokens_per_frame=per_frame,
    )
    assert estimate.attention == measured["attention"]
    assert estimate.projections == measured["projections"]
    assert estimate.mlp == measured["mlp"]
    assert estimate.cross_attention == measured["cross_attention"]
    assert estimate.total == sum(measured.values())
    deep = dit_flops(frames * per_frame, width, depth=7, mlp_ratio=mlp_ratio, text_tokens=text_tokens,
                     attention=attention, tokens_per_frame=per_frame)
    assert deep.total == 7 * estimate.total


def test_factorised_attention_is_cheaper_by_n_over_s_plus_f():
    config = PRESETS["sora-like-60-frames"]
    n, s = config.num_tokens, config.tokens_per_frame
    f = n // s
    full = dit_flops(n, 1024, depth=1)
    factorised = dit_flops(n, 1024, depth=1, attention="factorised", tokens_per_frame=s)
    assert Fraction(full.attention, factorised.attention) == Fraction(n, s + f)
    assert full.attention == 4 * n * n * 1024
    assert n / (s + f) > 56  # 61,440 / 1,084: attention alone is ~57x cheaper


def test_dit_flops_errors():
    with pytest.raises(ValueError, match="needs tokens_per_frame, a positive divisor of num_tokens=80"):
        dit_flops(80, 64, 2, attention="factorised")
    with pytest.raises(ValueError, match="attention must be one of"):
        dit_flops(80, 64, 2, attention="sparse")


def test_describe_cost_reports_tokens_and_shares():
    report = describe_cost(PRESETS["sora-like-60-frames"], width=384, depth=12, steps=20, text_tokens=16)
    assert "tokens per clip: 61,440 (1,024 per latent frame" in report
    assert "tokens per video at 20 steps: 1,228,800 token evaluations" in report
    shares = [float(p) for p in re.findall(r"([\d.]+)%", report)]
    assert len(shares) == 4 and abs(sum(shares) - 100) < 0.3
    assert len(report.splitlines()) >= 5
