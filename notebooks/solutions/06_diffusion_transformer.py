"""Lesson 06 exercises: an adaLN-Zero DiT block, and the factorised attention masks.

Each exercise X has the reference ``X``, ``check_X(fn)`` (AssertionError saying what is off) and
plausible wrong answers ``wrong_X_*`` that the tests prove ``check_X`` rejects. The checks compare
against ``minivid.dit.DiTBlock`` itself: its forward pass, and which tokens its attention connects.
"""

import math

import torch

from minivid import dit
from minivid.dit import DiT, DiTBlock, modulate


def _call(fn, *args):
    """fn(*args), with any error other than "not attempted" reported as what is off."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as e:
        raise AssertionError(f"calling it raised {type(e).__name__}: {e}") from None


# -----------------------------------------------------------------------------
# Exercise: adaln_zero_block


def adaln_zero_block(block, x, c, text, text_mask, rope):
    """One DiT block (full attention) from its parts: x (b n d) tokens, c (b d) the conditioning vector.

    ``block.adaLN_modulation(c)`` gives 6 chunks: shift, scale, gate for self-attention, then for the MLP.
    """
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.adaLN_modulation(c).chunk(6, dim=1)
    x = x + gate_msa.unsqueeze(1) * block.attn(modulate(block.norm1(x), shift_msa, scale_msa), rope=rope)
    x = x + block.cross_attn(block.norm_cross(x), context=text, key_mask=text_mask)  # no gate (zero-init proj)
    x = x + gate_mlp.unsqueeze(1) * block.mlp(modulate(block.norm2(x), shift_mlp, scale_mlp))
    return x


def _inputs(cfg, seed, grid=(2, 2, 3), b=2, l=5):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, math.prod(grid), cfg.width, generator=g)
    c = torch.randn(b, cfg.width, generator=g)
    text = torch.randn(b, l, cfg.text_width, generator=g)
    text_mask = torch.arange(l)[None, :] < torch.tensor([3, l])[:, None]
    rope = dit.rope_3d(grid, cfg.width // cfg.heads, cfg.rope_theta)
    return x, c, text, text_mask, grid, rope


def check_adaln_zero_block(fn):
    cfg = dit.DIT_PRESETS["tiny"]
    torch.manual_seed(0)
    fresh = DiT(cfg).blocks[0]  # as initialised by DiT: zero modulation, zero cross-attention output
    x, c, text, text_mask, grid, rope = _inputs(cfg, 1)
    with torch.no_grad():
        got = _call(fn, fresh, x, c, text, text_mask, rope)
    assert torch.is_tensor(got) and got.shape == x.shape, \
        f"output shape {tuple(getattr(got, 'shape', ()))}, wanted {tuple(x.shape)} (b n d)"
    assert torch.allclose(got, x, atol=1e-6), \
        "a freshly initialised block (all gates 0, cross-attention output 0) must return x unchanged: " \
        "x = x + gate * sublayer(...), so a gate of 0 leaves x as it is"
    trained = DiTBlock(cfg)
    torch.manual_seed(1)
    for p in trained.parameters():  # every weight non-zero, the modulation included: gates, shifts, scales all act
        torch.nn.init.normal_(p, std=0.2)
    for seed in (2, 3):
        x, c, text, text_mask, grid, rope = _inputs(cfg, seed)
        with torch.no_grad():
            want = trained(x, c, text, text_mask, grid, rope)
            got = _call(fn, trained, x, c, text, text_mask, rope)
            hints = {w: h(trained, x, c, text, text_mask, rope) for w, h in _HINTS.items()}
        for why, value in hints.items():
            if torch.allclose(got, value, atol=1e-5):
                raise AssertionError(why)
        assert torch.allclose(got, want, atol=1e-5), \
            f"differs from DiTBlock.forward by {(got - want).abs().max():.3g}"


def wrong_adaln_zero_block_no_gate(block, x, c, text, text_mask, rope):
    shift_msa, scale_msa, _, shift_mlp, scale_mlp, _ = block.adaLN_modulation(c).chunk(6, dim=1)
    x = x + block.attn(modulate(block.norm1(x), shift_msa, scale_msa), rope=rope)
    x = x + block.cross_attn(block.norm_cross(x), context=text, key_mask=text_mask)
    return x + block.mlp(modulate(block.norm2(x), shift_mlp, scale_mlp))


def wrong_adaln_zero_block_scale_without_one(block, x, c, text, text_mask, rope):
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.adaLN_modulation(c).chunk(6, dim=1)
    h = block.norm1(x) * scale_msa.unsqueeze(1) + shift_msa.unsqueeze(1)  # zero scale would erase the tokens
    x = x + gate_msa.unsqueeze(1) * block.attn(h, rope=rope)
    x = x + block.cross_attn(block.norm_cross(x), context=text, key_mask=text_mask)
    h = block.norm2(x) * scale_mlp.unsqueeze(1) + shift_mlp.unsqueeze(1)
    return x + gate_mlp.unsqueeze(1) * block.mlp(h)


def wrong_adaln_zero_block_chunk_order(block, x, c, text, text_mask, rope):
    gate_msa, shift_msa, scale_msa, gate_mlp, shift_mlp, scale_mlp = block.adaLN_modulation(c).chunk(6, dim=1)
    x = x + gate_msa.unsqueeze(1) * block.attn(modulate(block.norm1(x), shift_msa, scale_msa), rope=rope)
    x = x + block.cross_attn(block.norm_cross(x), context=text, key_mask=text_mask)
    return x + gate_mlp.unsqueeze(1) * block.mlp(modulate(block.norm2(x), shift_mlp, scale_mlp))


def wrong_adaln_zero_block_gate_outside_residual(block, x, c, text, text_mask, rope):
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.adaLN_modulation(c).chunk(6, dim=1)
    x = gate_msa.unsqueeze(1) * (x + block.attn(modulate(block.norm1(x), shift_msa, scale_msa), rope=rope))
    x = x + block.cross_attn(block.norm_cross(x), context=text, key_mask=text_mask)
    return gate_mlp.unsqueeze(1) * (x + block.mlp(modulate(block.norm2(x), shift_mlp, scale_mlp)))


def wrong_adaln_zero_block_no_cross_attention(block, x, c, text, text_mask, rope):
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = block.adaLN_modulation(c).chunk(6, dim=1)
    x = x + gate_msa.unsqueeze(1) * block.attn(modulate(block.norm1(x), shift_msa, scale_msa), rope=rope)
    return x + gate_mlp.unsqueeze(1) * block.mlp(modulate(block.norm2(x), shift_mlp, scale_mlp))


_HINTS = {
    "the sublayers' outputs are not gated: x = x + gate * sublayer(...)": wrong_adaln_zero_block_no_gate,
    "modulate as LN(x) * (1 + scale) + shift: the 1 keeps the tokens when scale is 0":
        wrong_adaln_zero_block_scale_without_one,
    "the six chunks are shift, scale, gate (self-attention), then shift, scale, gate (MLP)":
        wrong_adaln_zero_block_chunk_order,
    "the gate multiplies the sublayer's output only, inside the residual: x + gate * f(...)":
        wrong_adaln_zero_block_gate_outside_residual,
    "the cross-attention to the text is missing, between self-attention and the MLP":
        wrong_adaln_zero_block_no_cross_attention,
}


# -----------------------------------------------------------------------------
# Exercises: spatial_mask and temporal_mask (factorised attention)


def spatial_mask(grid):
    """(n n) bool: token i and token j are in the same latent frame."""
    s = grid[1] * grid[2]
    frame = torch.arange(math.prod(grid)) // s
    return frame[:, None] == frame[None, :]


def temporal_mask(grid):
    """(n n) bool: token i and token j are at the same spatial position (in any frames)."""
    s = grid[1] * grid[2]
    place = torch.arange(math.prod(grid)) % s
    return place[:, None] == place[None, :]


def measured_mask(attend, grid, width, heads):
    """(n n) bool: does output token i change when input token j is perturbed? One batch, one row per j."""
    n = math.prod(grid)
    x0 = torch.randn(1, n, width, generator=torch.Generator().manual_seed(4))
    x = x0.expand(n, -1, -1).clone()
    x[torch.arange(n), torch.arange(n)] += 1.0  # copy j has token j perturbed
    rope = dit.rope_3d(grid, width // heads)
    with torch.no_grad():
        changed = (attend(x, grid, rope) - attend(x0, grid, rope)).abs().amax(-1) > 1e-6  # (j, i)
    return changed.T  # (i, j): output i depends on input j


_GRIDS = [(5, 4, 4), (3, 2, 5), (1, 4, 4), (6, 1, 1)]


def _check_mask(fn, which):
    cfg = dit.DIT_PRESETS["shapes-factorised"]
    torch.manual_seed(0)
    block = DiTBlock(cfg)
    attend = block.attend_space if which == "spatial" else block.attend_time
    for g in _GRIDS:
        got = _call(fn, g)
        real = measured_mask(attend, g, cfg.width, cfg.heads)
        assert torch.is_tensor(got) and got.shape == real.shape, \
            f"grid {g}: shape {tuple(getattr(got, 'shape', ()))}, wanted {tuple(real.shape)}"
        assert torch.equal(got.bool(), real), \
            f"grid {g}: {int((got.bool() != real).sum())} entries differ from what the real block's {which} " \
            "attention connects (tokens are time-major: frame k // (gh gw), place k % (gh gw))"


def check_spatial_mask(fn):
    _check_mask(fn, "spatial")


def check_temporal_mask(fn):
    _check_mask(fn, "temporal")


def wrong_spatial_mask_rows(grid):
    row = torch.arange(math.prod(grid)) // grid[2]  # same row of patches, not the same frame
    return row[:, None] == row[None, :]


def wrong_temporal_mask_frame_major(grid):
    place = torch.arange(math.prod(grid)) // grid[0]  # assumes place-major order
    return place[:, None] == place[None, :]
