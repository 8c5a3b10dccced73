"""Tests for minivid.dit: shapes, zero init, determinism, text masking, factorised attention, errors."""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from minivid.dit import DIT_PRESETS, DiT, DiTConfig, apply_rope, attend, edge_distances, null_text, rope_3d

TINY = DIT_PRESETS["tiny"]


def make_model(attention="full", seed=0, perturb=True, **overrides):
    """A tiny DiT; ``perturb`` replaces the zero init by random weights so outputs are non-trivial."""
    torch.manual_seed(seed)
    model = DiT(replace(TINY, attention=attention, **overrides))
    if perturb:
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0.0, 0.1)
    return model.eval()


def make_inputs(shape=(2, 4, 3, 4, 6), length=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g)
    t = torch.rand(shape[0], generator=g)
    ids = torch.randint(1, TINY.text_vocab_size, (shape[0], length), generator=g)
    mask = torch.ones(shape[0], length, dtype=torch.bool)
    mask[0, 3:] = False  # the first caption is shorter, right-padded
    return x, t, ids, mask


# -----------------------------------------------------------------------------
# Shapes and initialisation


@pytest.mark.parametrize("attention", ["full", "factorised"])
@pytest.mark.parametrize("shape", [(2, 4, 3, 4, 6), (1, 4, 5, 8, 8), (1, 4, 1, 2, 10), (2, 4, 7, 6, 2)])
def test_output_shape_equals_input_shape(attention, shape):
    model = make_model(attention)
    x, t, ids, mask = make_inputs(shape)
    with torch.no_grad():
        out = model(x, t, ids, mask)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("attention", ["full", "factorised"])
def test_untrained_model_outputs_exactly_zero(attention):
    model = make_model(attention, perturb=False)
    x, t, ids, mask = make_inputs()
    out = model(x, t, ids, mask)
    assert torch.equal(out, torch.zeros_like(x))  # adaLN-Zero + zero final layer


@pytest.mark.parametrize("attention", ["full", "factorised"])
@pytest.mark.parametrize("edges", [0, 2])
def test_backward_reaches_every_parameter(attention, edges):
    model = make_model(attention, edge_distance=edges).train()
    x, t, ids, mask = make_inputs()
    model(x, t, ids, mask).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} gets no gradient"


def test_backward_at_zero_init_trains_the_final_layer():
    model = make_model(perturb=False).train()
    x, t, ids, mask = make_inputs()
    model(x, t, ids, mask).sub(x).square().mean().backward()
    assert model.final_layer.linear.weight.grad.abs().sum() > 0


def test_same_seed_same_model_and_output():
    x, t, ids, mask = make_inputs()
    a, b = make_model(seed=3), make_model(seed=3)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(pa, pb), name
    with torch.no_grad():
        assert torch.equal(a(x, t, ids, mask), b(x, t, ids, mask))
    assert not torch.equal(make_model(seed=4).patch_embed.weight, a.patch_embed.weight)


def test_scalar_t_is_broadcast():
    model = make_model()
    x, _, ids, mask = make_inputs()
    with torch.no_grad():
        assert torch.allclose(model(x, 0.3, ids, mask), model(x, torch.full((2,), 0.3), ids, mask))


def test_timestep_and_text_change_the_output():
    model = make_model()
    x, t, ids, mask = make_inputs()
    with torch.no_grad():
        out = model(x, t, ids, mask)
        assert not torch.allclose(out, model(x, 1 - t, ids, mask))
        assert not torch.allclose(out, model(x, t, ids.flip(1), mask.flip(1)))


# -----------------------------------------------------------------------------
# Text: padding and the empty caption


@pytest.mark.parametrize("attention", ["full", "factorised"])
def test_extra_pad_tokens_do_not_change_the_output(attention):
    model = make_model(attention)
    x, t, ids, mask = make_inputs()
    pad_ids = torch.randint(0, TINY.text_vocab_size, (2, 6))  # any id: masked tokens are never read
    ids_long = torch.cat([ids, pad_ids], dim=1)
    mask_long = torch.cat([mask, torch.zeros(2, 6, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(x, t, ids, mask), model(x, t, ids_long, mask_long), atol=1e-5)


def test_empty_caption_is_finite_and_equals_null_text():
    model = make_model()
    x, t, ids, _ = make_inputs()
    all_masked = torch.zeros_like(ids, dtype=torch.bool)
    with torch.no_grad():
        out_masked = model(x, t, ids, all_masked)
        out_null = model(x, t, *null_text(2))
    assert torch.isfinite(out_null).all()
    assert torch.allclose(out_masked, out_null, atol=1e-5)


def test_empty_caption_has_finite_gradients():
    model = make_model().train()
    x, t, _, _ = make_inputs()
    model(x, t, *null_text(2)).square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


# -----------------------------------------------------------------------------
# Positions and factorised attention


def test_rope_scores_depend_only_on_relative_position():
    grid, head_dim = (4, 5, 6), 16
    cos, sin = rope_3d(grid, head_dim)
    index = lambda t, h, w: (t * grid[1] + h) * grid[2] + w  # noqa: E731  time-major token order
    q, k = torch.randn(head_dim), torch.randn(head_dim)

    def score(pq, pk):
        i, j = index(*pq), index(*pk)
        return apply_rope(q, cos[i], sin[i]) @ apply_rope(k, cos[j], sin[j])

    # The same offset (1, 2, -3) at two different places gives the same score.
    assert torch.allclose(score((0, 0, 3), (1, 2, 0)), score((2, 2, 5), (3, 4, 2)), atol=1e-5)
    assert not torch.allclose(score((0, 0, 3), (1, 2, 0)), score((0, 0, 3), (1, 2, 1)), atol=1e-3)


def test_edge_distances_count_patches_to_the_first_frame_and_each_edge():
    grid = (3, 2, 4)
    d = edge_distances(grid, k=3)  # (n 5): first frame, top, bottom, left, right
    index = lambda t, h, w: (t * grid[1] + h) * grid[2] + w  # noqa: E731  time-major token order
    assert d.shape == (24, 5)
    assert d[index(0, 0, 0)].tolist() == [0, 0, 1, 0, 2]  # 3 patches to the right edge, clamped to k-1 = 2
    assert d[index(2, 1, 1)].tolist() == [2, 1, 0, 1, 2]
    assert d[index(1, 0, 3)].tolist() == [1, 0, 1, 2, 0]


@pytest.mark.parametrize("shape", [(1, 4, 5, 8, 8), (1, 4, 9, 8, 12), (1, 4, 1, 2, 2)])
def test_edge_distances_work_on_any_grid(shape):
    model = make_model(edge_distance=3)
    x, t, ids, mask = make_inputs(shape)
    with torch.no_grad():
        assert model(x, t, ids, mask).shape == x.shape
    assert edge_distances(tuple(n // p for n, p in zip(shape[2:], (1, 2, 2))), 3).max() <= 2  # never unseen rows


def test_edge_distances_tell_the_model_where_the_canvas_ends():
    """Rotary positions are relative only; with edge distances the same patch becomes a different
    token next to the edge than in the middle, and the same token anywhere "far" from every edge."""
    x = torch.randn(1, 4, 1, 2, 2).repeat(1, 1, 1, 1, 8)  # the same 2x2 patch 8 times in a row: 1 x 1 x 8 grid
    grid = (1, 1, 8)
    plain = make_model().embed_patches(x, grid)  # (1 8 d)
    edges = make_model(edge_distance=3).embed_patches(x, grid)
    assert torch.allclose(plain, plain[:, :1].expand_as(plain))  # no position at all in the plain tokens
    assert torch.allclose(edges[:, 2:6], edges[:, 2:3].expand(-1, 4, -1))  # >= 2 patches from both edges: equal
    assert not torch.allclose(edges[:, 0], edges[:, 2]) and not torch.allclose(edges[:, 0], edges[:, 7])


def test_configs_without_edge_distances_load_as_before():
    fields = {k: v for k, v in DIT_PRESETS["shapes"].__dict__.items() if k not in ("edge_distance", "rope_theta")}
    cfg = DiTConfig(**fields)  # a sidecar written before these fields existed
    assert cfg.edge_distance == 0 and cfg.rope_theta == 10000.0
    assert not hasattr(DiT(replace(TINY, edge_distance=0)), "edge_embed")


def _block_inputs(grid=(3, 2, 3), seed=0):
    model = make_model("factorised", seed=seed)
    block, d = model.blocks[0], TINY.width
    x = torch.randn(2, grid[0] * grid[1] * grid[2], d)
    rope = rope_3d(grid, d // TINY.heads)
    return block, x, rope


def test_factorised_spatial_step_never_mixes_frames():
    grid = (3, 2, 3)
    block, x, rope = _block_inputs(grid)
    s = grid[1] * grid[2]
    x2 = x.clone()
    x2[:, s : 2 * s] += torch.randn(2, s, x.shape[-1])  # perturb frame 1 only
    with torch.no_grad():
        y, y2 = block.attend_space(x, grid, rope), block.attend_space(x2, grid, rope)
    assert torch.equal(y[:, :s], y2[:, :s]) and torch.equal(y[:, 2 * s :], y2[:, 2 * s :])
    assert not torch.allclose(y[:, s : 2 * s], y2[:, s : 2 * s])


def test_factorised_temporal_step_never_mixes_places():
    grid = (3, 2, 3)
    block, x, rope = _block_inputs(grid)
    s = grid[1] * grid[2]
    x2 = x.clone()
    x2[:, 1] += torch.randn(2, x.shape[-1])  # perturb frame 0, spatial position 1
    with torch.no_grad():
        y, y2 = block.attend_time(x, grid, rope), block.attend_time(x2, grid, rope)
    changed = (y - y2).abs().amax(dim=(0, 2)) > 0  # (n,)
    expected = torch.zeros_like(changed)
    expected[1::s] = True  # position 1 of every frame, nothing else
    assert torch.equal(changed, expected)


def test_full_attention_mixes_frames():
    model = make_model("full")
    x, t, ids, mask = make_inputs()
    x2 = x.clone()
    x2[:, :, 1] += 1.0  # perturb latent frame 1
    with torch.no_grad():
        out, out2 = model(x, t, ids, mask), model(x2, t, ids, mask)
    assert not torch.allclose(out[:, :, 0], out2[:, :, 0])


# -----------------------------------------------------------------------------
# Presets and errors


# The parameters each preset is meant to stay within: the CPU course model at a few million.
PARAM_BUDGETS = {"tiny": (0, 200_000), "shapes": (2_000_000, 5_000_000), "shapes-factorised": (2_000_000, 5_000_000),
                 "shapes-edges": (2_000_000, 5_000_000)}


def test_every_preset_has_a_budget():
    assert set(PARAM_BUDGETS) == set(DIT_PRESETS)


@pytest.mark.parametrize("name", sorted(DIT_PRESETS))
def test_preset_parameter_counts_within_budget(name):
    model = DiT(DIT_PRESETS[name])
    n = model.num_params()
    text = sum(p.numel() for p in model.text_encoder.parameters())
    print(f"\nDiT preset {name!r}: {n:,} parameters ({text:,} in the text encoder)")
    low, high = PARAM_BUDGETS[name]
    assert low <= n <= high


def test_from_preset_overrides_and_rejects_unknown_names():
    model = DiT.from_preset("tiny", text_vocab_size=10, latent_channels=8)
    assert model.config.text_vocab_size == 10 and model.config.latent_channels == 8
    with pytest.raises(ValueError, match="unknown preset"):
        DiT.from_preset("huge")


@pytest.mark.parametrize(
    "x_shape, ids_shape, match",
    [
        ((2, 4, 3, 5, 6), (2, 5), r"H=5 is not divisible by ph=2"),  # patching's message
        ((2, 3, 3, 4, 6), (2, 5), r"C=4"),  # wrong channel count
        ((2, 4, 4, 6), (2, 5), r"\(B, C=4, T, H, W\)"),  # an image, not a video
        ((2, 4, 3, 4, 6), (2, 17), r"max_text_len=16"),  # caption too long
        ((2, 4, 3, 4, 6), (3, 5), r"\(B, L\) with B=2"),  # batch mismatch
    ],
)
def test_bad_shapes_raise_clear_errors(x_shape, ids_shape, match):
    model = make_model(perturb=False)
    x, ids = torch.randn(x_shape), torch.zeros(ids_shape, dtype=torch.long)
    with pytest.raises(ValueError, match=match):
        model(x, torch.rand(x_shape[0]), ids, torch.ones_like(ids, dtype=torch.bool))


def test_bad_t_mask_and_ids_raise_clear_errors():
    model = make_model(perturb=False)
    x, t, ids, mask = make_inputs()
    with pytest.raises(ValueError, match=r"t must be a scalar or of shape \(B,\)"):
        model(x, torch.rand(3), ids, mask)
    with pytest.raises(ValueError, match="text_ids and text_mask"):
        model(x, t, ids, mask[:, :4])
    with pytest.raises(ValueError, match=r"text_vocab_size=64"):
        model(x, t, ids + 100, mask)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="attention must be one of"):
        DiTConfig(attention="sparse")
    with pytest.raises(ValueError, match="divisible by heads"):
        DiTConfig(width=100, heads=3)
    with pytest.raises(ValueError, match="even head width"):
        DiTConfig(width=36, heads=4)
    with pytest.raises(ValueError, match="patch size must be positive"):
        DiTConfig(patch_size=(0, 2, 2))
    with pytest.raises(ValueError, match="must be positive"):
        DiTConfig(edge_distance=-1)


def test_attend_takes_bf16_on_a_cpu_through_float32():
    # bf16 fused attention's backward ran 10x slower than float32 on the project's CPU: attend upcasts there
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 4, 10, 8).bfloat16().requires_grad_() for _ in range(3))
    mask = torch.rand(2, 1, 1, 10) > 0.3
    mask[..., 0] = True  # every query attends to something
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = attend(q, k, v, mask)
    in_float32 = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask).bfloat16()
    assert out.dtype == torch.bfloat16 and torch.equal(out, in_float32)
    out.float().square().sum().backward()
    assert q.grad.dtype == torch.bfloat16 and torch.isfinite(q.grad).all() and q.grad.abs().sum() > 0
    plain = [x.detach().float() for x in (q, k, v)]  # float32 in: plain attention, bit for bit
    assert torch.equal(attend(*plain, mask), F.scaled_dot_product_attention(*plain, attn_mask=mask))


def test_bf16_autocast_forward_and_backward_are_finite():
    model = make_model("factorised").train()
    x, t, ids, mask = make_inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, t, ids, mask)
    out.float().square().mean().backward()
    assert out.shape == x.shape and torch.isfinite(out).all()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
