"""Lesson 05 exercises: masked cross-attention, the padding mask and the pooled caption vector.

Each exercise X has the reference ``X``, ``check_X(fn)`` (AssertionError saying what is off) and
plausible wrong answers ``wrong_X_*`` that the tests prove ``check_X`` rejects. The checks compare
against minivid's own modules (``dit.Attention``, ``dit.TextEncoder``, ``text.encode_batch``).
"""

import math

import torch
import torch.nn.functional as F

from minivid import text
from minivid.dit import Attention, TextEncoder


def _call(fn, *args):
    """fn(*args), with any error other than "not attempted" reported as what is off."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise
    except Exception as e:
        raise AssertionError(f"calling it raised {type(e).__name__}: {e}") from None


# -----------------------------------------------------------------------------
# Exercise: masked_cross_attention


def masked_cross_attention(layer, x, context, key_mask):
    """Queries from x (b n d), keys and values from context (b l d'), pads (key_mask False) never read.

    ``layer`` holds the weights: ``layer.q`` (d -> d), ``layer.kv`` (d' -> 2d: keys, then values),
    ``layer.proj`` (d -> d) and ``layer.heads``. Returns (b n d).
    """
    q = F.linear(x, layer.q.weight, layer.q.bias)  # b n d
    k, v = F.linear(context, layer.kv.weight, layer.kv.bias).chunk(2, dim=-1)  # b l d each
    split = lambda z: z.unflatten(-1, (layer.heads, -1)).transpose(1, 2)  # noqa: E731  b n d -> b heads n e
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # b heads n l
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))  # a pad can never win
    out = scores.softmax(dim=-1) @ v  # b heads n e
    return F.linear(out.transpose(1, 2).flatten(2), layer.proj.weight, layer.proj.bias)


def _random_layer(dim, heads, context_dim, seed):
    torch.manual_seed(seed)
    layer = Attention(dim, heads, context_dim=context_dim)
    for p in layer.parameters():  # non-zero everywhere, biases included
        torch.nn.init.normal_(p, std=0.3)
    return layer.eval()


def check_masked_cross_attention(fn):
    g = torch.Generator().manual_seed(0)
    # (b, n video tokens, l text tokens, real keys per row): n != l, and n == l (a wrong axis then fails quietly)
    for b, n, l, real in [(3, 6, 6, (2, 6, 1)), (2, 5, 7, (4, 7))]:
        layer = _random_layer(16, 2, 12, seed=n)
        x, context = torch.randn(b, n, 16, generator=g), torch.randn(b, l, 12, generator=g)
        key_mask = torch.arange(l)[None, :] < torch.tensor(real)[:, None]  # right padding, per row
        garbage = context.clone()
        garbage[~key_mask] = 100.0 * torch.randn(int((~key_mask).sum()), 12, generator=g)  # pads: anything
        with torch.no_grad():
            want = layer(x, context=context, key_mask=key_mask)
            got = _call(fn, layer, x, context, key_mask)
            got_garbage = _call(fn, layer, x, garbage, key_mask)
            unmasked = layer(x, context=context)
        case = f"b={b}, {n} queries, {l} keys, real keys per row {real}"
        assert torch.is_tensor(got) and got.shape == want.shape, \
            f"{case}: output shape {tuple(getattr(got, 'shape', ()))}, wanted {tuple(want.shape)} (b n d)"
        assert torch.isfinite(got).all(), \
            f"{case}: NaN or inf in the output: mask the keys (the last axis of the scores), not the queries"
        if torch.allclose(got, unmasked, atol=1e-5):
            raise AssertionError(f"{case}: the pads are read: set the scores of masked keys to -inf before the softmax")
        assert torch.allclose(got, want, atol=1e-5), \
            f"{case}: differs from dit.Attention by {(got - want).abs().max():.3g}"
        assert torch.allclose(got_garbage, want, atol=1e-5), \
            f"{case}: changing the padded text tokens changes the output: they must get weight 0"


def wrong_masked_cross_attention_no_mask(layer, x, context, key_mask):
    return masked_cross_attention(layer, x, context, torch.ones_like(key_mask))


def wrong_masked_cross_attention_query_axis(layer, x, context, key_mask):
    q = F.linear(x, layer.q.weight, layer.q.bias)
    k, v = F.linear(context, layer.kv.weight, layer.kv.bias).chunk(2, dim=-1)
    split = lambda z: z.unflatten(-1, (layer.heads, -1)).transpose(1, 2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~key_mask[:, None, :, None], float("-inf"))  # masks queries: wrong axis
    out = scores.softmax(dim=-1) @ v
    return F.linear(out.transpose(1, 2).flatten(2), layer.proj.weight, layer.proj.bias)


def wrong_masked_cross_attention_zero_scores(layer, x, context, key_mask):
    q = F.linear(x, layer.q.weight, layer.q.bias)
    k, v = F.linear(context, layer.kv.weight, layer.kv.bias).chunk(2, dim=-1)
    split = lambda z: z.unflatten(-1, (layer.heads, -1)).transpose(1, 2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores * key_mask[:, None, None, :]  # a score of 0 is not weight 0: exp(0) = 1
    out = scores.softmax(dim=-1) @ v
    return F.linear(out.transpose(1, 2).flatten(2), layer.proj.weight, layer.proj.bias)


def wrong_masked_cross_attention_no_scaling(layer, x, context, key_mask):
    q = F.linear(x, layer.q.weight, layer.q.bias)
    k, v = F.linear(context, layer.kv.weight, layer.kv.bias).chunk(2, dim=-1)
    split = lambda z: z.unflatten(-1, (layer.heads, -1)).transpose(1, 2)  # noqa: E731
    q, k, v = split(q), split(k), split(v)
    scores = (q @ k.transpose(-1, -2)).masked_fill(~key_mask[:, None, None, :], float("-inf"))  # no 1/sqrt(e)
    out = scores.softmax(dim=-1) @ v
    return F.linear(out.transpose(1, 2).flatten(2), layer.proj.weight, layer.proj.bias)


# -----------------------------------------------------------------------------
# Exercise: encode_batch (the padding mask)


def encode_batch(prompts, max_len=text.MAX_PROMPT_TOKENS):
    """(ids, mask) of a list of prompts, both (b, max_len); None = the empty prompt (<bos> only)."""
    rows = [[text.BOS_ID] if p is None else text.tokenize(p) for p in prompts]
    ids = torch.tensor([row + [text.PAD_ID] * (max_len - len(row)) for row in rows], dtype=torch.long)
    return ids, ids != text.PAD_ID


_CASES = [["a red circle moves left"], ["紅色的圓形向左移動", None, "a blue square rotates clockwise and a yellow triangle bounces"],
          [None], ["黄色的三角形弹跳", "the green square is rotating counterclockwise"]]


def check_encode_batch(fn):
    for prompts in _CASES:
        for max_len in (24, 12):
            case = f"{prompts}, max_len {max_len}"
            got = _call(fn, prompts, max_len)
            assert isinstance(got, tuple) and len(got) == 2, f"{case}: return (ids, mask)"
            got_ids, got_mask = got
            want_ids, want_mask = text.encode_batch(prompts, max_len)
            assert tuple(got_ids.shape) == tuple(want_ids.shape), \
                f"{case}: ids shape {tuple(got_ids.shape)}, wanted {tuple(want_ids.shape)}: pad every row to max_len"
            assert torch.equal(got_ids, want_ids), f"{case}: ids {got_ids.tolist()}, wanted {want_ids.tolist()}"
            assert got_mask.dtype == torch.bool, f"the mask should be bool, got {got_mask.dtype}"
            assert torch.equal(got_mask, want_mask), \
                f"{case}: mask {got_mask.int().tolist()}, wanted {want_mask.int().tolist()} (True at real tokens)"


def wrong_encode_batch_left_pad(prompts, max_len=text.MAX_PROMPT_TOKENS):
    rows = [[text.BOS_ID] if p is None else text.tokenize(p) for p in prompts]
    ids = torch.tensor([[text.PAD_ID] * (max_len - len(row)) + row for row in rows], dtype=torch.long)
    return ids, ids != text.PAD_ID


def wrong_encode_batch_empty_is_all_pad(prompts, max_len=text.MAX_PROMPT_TOKENS):
    rows = [[] if p is None else text.tokenize(p) for p in prompts]  # forgets <bos> for the empty prompt
    ids = torch.tensor([row + [text.PAD_ID] * (max_len - len(row)) for row in rows], dtype=torch.long)
    return ids, ids != text.PAD_ID


# -----------------------------------------------------------------------------
# Exercise: pool (the masked mean)


def pool(features, mask):
    """(b d): the mean of features (b l d) over the positions where mask (b l) is True."""
    w = mask.to(features.dtype).unsqueeze(-1)
    return (features * w).sum(1) / w.sum(1)


def check_pool(fn):
    torch.manual_seed(0)
    enc = TextEncoder(text.vocab_size, 32, 1, 2, text.MAX_PROMPT_TOKENS)
    for p in enc.parameters():
        torch.nn.init.normal_(p, std=0.5)
    for prompts in _CASES:
        ids, mask = text.encode_batch(prompts)
        with torch.no_grad():
            features, features_mask, pooled = enc(ids, mask)
        got = _call(fn, features, features_mask)
        assert torch.is_tensor(got) and got.shape == pooled.shape, \
            f"{prompts}: pooled shape {tuple(getattr(got, 'shape', ()))}, wanted {tuple(pooled.shape)} (b d)"
        if torch.allclose(got, features.mean(1), atol=1e-5):
            raise AssertionError(f"{prompts}: that is the mean over every position, pads included: "
                                 "average over the positions where the mask is True")
        assert torch.allclose(got, pooled, atol=1e-5), \
            f"{prompts}: differs from the text encoder's pooled vector by {(got - pooled).abs().max():.3g}"


def wrong_pool_unmasked(features, mask):
    return features.mean(1)


def wrong_pool_divides_by_length(features, mask):
    w = mask.to(features.dtype).unsqueeze(-1)
    return (features * w).sum(1) / features.shape[1]  # zeros the pads but still counts them
