"""A diffusion transformer (DiT) over spacetime patches of a video latent, conditioned on text.

The network is one function, ``f(x_t, t, text_ids, text_mask) -> prediction``: a
noisy latent video in, a tensor of the same shape out. What the output *means*
(a flow-matching velocity, a DDPM noise estimate) is decided by the loss in
``minivid.diffusion``; nothing here knows about noise, targets or schedules.

Reading order, top to bottom:

1. ``DiTConfig`` and ``DIT_PRESETS``: every size in one place.
2. Stateless maths: ``modulate``, ``timestep_embedding``, 3D rotary positions, ``attend``.
3. Layers: attention (self and cross), MLP, timestep embedder, text encoder.
4. ``DiTBlock``: adaLN-Zero modulation, self-attention (full or factorised),
   cross-attention to text, MLP.
5. ``FinalLayer`` and ``DiT``: patchify -> blocks -> unpatchify, and the one
   ``initialize_weights`` that holds every special initialisation.

Tensor layouts (einops notation, used in every pattern below):

    b c t h w    latent videos, channels first (the VAE's output)
    b n d        video tokens: n = gt*gh*gw spacetime patches, time-major (see patching)
    b l d        text tokens: l = 1 + caption length (a learned register token comes first)
    f s          the n video tokens split into f = gt frames of s = gh*gw tokens each
    heads e      attention heads, each of width e = d // heads

Style follows DiT (Peebles & Xie 2023, github.com/facebookresearch/DiT, models.py)
and nanoGPT (Karpathy, model.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from minivid.patching import ATTENTION_KINDS, as_patch_size, patch_grid, patchify, unpatchify

# -----------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class DiTConfig:
    """Every size of the model. Caption dropout for guidance is a training setting, not here."""

    latent_channels: int = 4  # C of the VAE latent; the output has the same C
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (pt, ph, pw) spacetime patch on the latent
    width: int = 128  # d: width of every video token inside the transformer
    depth: int = 8  # number of DiT blocks
    heads: int = 4  # attention heads; head width e = width // heads, even (rotary pairs)
    mlp_ratio: float = 4.0  # MLP hidden width = mlp_ratio * width
    attention: str = "full"  # "full": all tokens attend to all; "factorised": space then time
    text_vocab_size: int = 512  # set from the tokenizer (minivid.text) vocab_size
    text_width: int = 128  # width of the text encoder's tokens
    text_depth: int = 2  # transformer layers in the text encoder
    text_heads: int = 4  # attention heads in the text encoder
    max_text_len: int = 64  # longest caption in tokens (the register token not counted)
    rope_theta: float = 10000.0  # base of the rotary frequencies (RoFormer's default; 100 suits few-patch grids)
    edge_distance: int = 0  # >0: each token also learns how far (0..edge_distance-1 patches, clamped) it is
    # from the first frame and the four canvas edges; 0: relative (rotary) positions only

    def __post_init__(self):
        object.__setattr__(self, "patch_size", as_patch_size(self.patch_size))
        if self.attention not in ATTENTION_KINDS:
            raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {self.attention!r}")
        for name, width, heads in (("", self.width, self.heads), ("text_", self.text_width, self.text_heads)):
            if heads <= 0 or width % heads != 0:
                raise ValueError(f"{name}width={width} must be divisible by {name}heads={heads}")
        head_dim = self.width // self.heads
        if head_dim % 2 != 0 or head_dim < 6:
            raise ValueError(
                f"3D rotary positions need an even head width >= 6 (pairs for t, h, w), "
                f"got width/heads = {self.width}/{self.heads} = {head_dim}"
            )
        sizes = (self.latent_channels, self.depth, self.text_vocab_size, self.text_depth, self.max_text_len)
        if min(sizes) <= 0 or self.mlp_ratio <= 0 or self.edge_distance < 0 or self.rope_theta <= 1:
            raise ValueError(f"all sizes must be positive, got {self}")

    @classmethod
    def from_dict(cls, d: dict) -> "DiTConfig":
        """The config a checkpoint's sidecar records; fields it predates keep their defaults (the behaviour then)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})  # __post_init__ makes patch_size a tuple


# Named sizes. "tiny" is for unit tests (instant on a CPU). "shapes" is the course model for
# ShapesWorld latents (C=8, T=5, H=W=8 -> 5*4*4 = 80 tokens), ~3.4M parameters, trainable on a
# 2-core CPU, with relative (rotary) positions only; "shapes-factorised" is the same with
# space-then-time attention (each block has a second attention). "shapes-edges", the shipped
# model, is "shapes" with positions a 5 x 4 x 4 patch grid can use: rotary base 100 (as RoPE-ViT,
# Heo et al. 2024, does for images; with base 10000 most rotation pairs turn < 0.1 rad across 4
# patches, i.e. carry no position) and edge distances (where the canvas ends, which latent frame
# is the VAE's separately encoded first one). benchmarks/t2v_recipes.py compares them.
DIT_PRESETS: dict[str, DiTConfig] = {
    "tiny": DiTConfig(
        latent_channels=4, patch_size=(1, 2, 2), width=32, depth=2, heads=2, mlp_ratio=2.0,
        text_vocab_size=64, text_width=32, text_depth=1, text_heads=2, max_text_len=16,
    ),
    "shapes": DiTConfig(  # 8 latent channels, as the shipped VAE makes
        latent_channels=8, patch_size=(1, 2, 2), width=128, depth=8, heads=4, mlp_ratio=4.0,
        text_vocab_size=512, text_width=128, text_depth=2, text_heads=4, max_text_len=64,
    ),
}
DIT_PRESETS["shapes-factorised"] = replace(DIT_PRESETS["shapes"], attention="factorised")
DIT_PRESETS["shapes-edges"] = replace(DIT_PRESETS["shapes"], rope_theta=100.0, edge_distance=4)


# -----------------------------------------------------------------------------
# Stateless maths


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """adaLN: (b n d) tokens, shift and scale (b d) for the whole clip or (b n d) per token."""
    return x * (1 + per_token(scale)) + per_token(shift)


def per_token(v: torch.Tensor) -> torch.Tensor:
    """A modulation (b d) for every token -> (b 1 d); one already per token (b n d) as it is."""
    return v.unsqueeze(1) if v.dim() == 2 else v


def frames_to_tokens(v: torch.Tensor, n: int) -> torch.Tensor:
    """(b d) stays; (b f d), one row per latent frame, -> (b n d), each frame's row for its s = n/f tokens."""
    return v if v.dim() == 2 else repeat(v, "b f d -> b (f s) d", s=n // v.shape[1])


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (b,) -> (b dim) of continuous times, as in DiT / "Attention is all you need".

    Frequencies run from 1 down to 1/max_period, so ``t`` should span ~[0, 1000]:
    the ``TimestepEmbedder`` multiplies flow times t in [0, 1] by 1000 first.
    """
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]  # (b half)
    embedding = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
    return embedding


# 3D rotary position embedding (RoPE; Su et al. 2021, "RoFormer"), split over t, h, w
# as in video DiTs such as CogVideoX and HunyuanVideo.
#
# Why rotary and not added sin-cos positions: (1) attention scores then depend only
# on *relative* offsets (dt, dh, dw), so a model trained on 5x8x8 latents sees the
# same kind of offsets on a longer clip or a wider frame, and nothing is a position
# it has never been trained at in absolute terms; (2) it is computed on the fly from
# the patch grid, so any T/H/W works with no table to resize; (3) no parameters;
# (4) factorised attention needs no extra machinery: within one frame the time
# rotation is the same for every query and key and cancels, so spatial attention
# sees only (dh, dw) and temporal attention only dt.
#
# Each head's e channels form e/2 rotation pairs (i, i + e/2); the pairs are shared
# out as time | height | width, height and width getting e/2 // 3 pairs each.


def rope_axis_pairs(head_dim: int) -> tuple[int, int, int]:
    """How many rotation pairs each axis (t, h, w) gets out of head_dim/2."""
    half = head_dim // 2
    return (half - 2 * (half // 3), half // 3, half // 3)


def rope_3d(grid: tuple[int, int, int], head_dim: int, theta: float = 10000.0, device=None):
    """cos and sin tables, each (n e), for the n = gt*gh*gw tokens of ``grid`` in (gt gh gw) order."""
    gt, gh, gw = grid
    axes = [torch.arange(g, dtype=torch.float32, device=device) for g in (gt, gh, gw)]
    coords = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)  # (n 3): t, h, w
    angles = []
    for axis, pairs in enumerate(rope_axis_pairs(head_dim)):
        freqs = theta ** (-torch.arange(pairs, dtype=torch.float32, device=device) / pairs)  # (pairs,)
        angles.append(coords[:, axis, None] * freqs)  # (n pairs)
    angles = torch.cat(angles, dim=-1).repeat(1, 2)  # (n e): pair i is channels i and i + e/2
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate q or k (... n e) by the position tables (n e): x*cos + rotate_half(x)*sin."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos.to(x.dtype) + torch.cat([-x2, x1], dim=-1) * sin.to(x.dtype)


def edge_distances(grid: tuple[int, int, int], k: int, device=None) -> torch.Tensor:
    """(n 5) distances of each token of ``grid`` from the first frame and the top, bottom, left, right edges.

    In patches, clamped to k-1 ("far"), so any T/H/W gives distances the model knew in training.
    Rotary positions are relative only: without this, where the canvas ends (which an object
    must stay inside) and which latent frame is the first (encoded alone by the causal VAE)
    can only be guessed from the content.
    """
    gt, gh, gw = grid
    t, h, w = (torch.arange(g, device=device) for g in grid)
    t, h, w = torch.meshgrid(t, h, w, indexing="ij")
    return torch.stack([t, h, gh - 1 - h, w, gw - 1 - w], dim=-1).reshape(-1, 5).clamp(max=k - 1)


def attend(q, k, v, mask=None):
    """softmax(q k^T / sqrt(e) + mask) v over (b heads n e) tensors; mask (b 1 1 l) bool, True = attend.

    On a CPU, bf16 inputs are attended in float32: there the fused attention's backward runs far slower in bf16
    than in float32 while the linear layers gain from bf16 (benchmarks/t2v_train_speed.py), so the attention
    itself (small at 80 tokens) stays in float32 and the projections around it take bf16. GPUs attend in bf16.
    """
    if q.device.type == "cpu" and q.dtype == torch.bfloat16:
        with torch.autocast("cpu", enabled=False):  # else autocast would cast the float32 copies back to bf16
            return F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask).to(q.dtype)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)


# -----------------------------------------------------------------------------
# Layers


class Attention(nn.Module):
    """Multi-head attention: self-attention, or cross-attention when ``context`` is given."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, context=None, key_mask=None, rope=None):
        """x (b n d); context (b l d') or None; key_mask (b l) bool, True = attend; rope (cos, sin)."""
        context = x if context is None else context
        q = rearrange(self.q(x), "b n (heads e) -> b heads n e", heads=self.heads)
        k, v = rearrange(self.kv(context), "b l (two heads e) -> two b heads l e", two=2, heads=self.heads)
        if rope is not None:
            q, k = apply_rope(q, *rope), apply_rope(k, *rope)
        mask = None if key_mask is None else key_mask[:, None, None, :]  # (b 1 1 l), broadcast over heads, queries
        x = attend(q, k, v, mask)
        return self.proj(rearrange(x, "b heads n e -> b n (heads e)"))


class MLP(nn.Module):
    def __init__(self, dim: int, ratio: float):
        super().__init__()
        hidden = int(dim * ratio)
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TimestepEmbedder(nn.Module):
    """t (b,) in [0, 1] -> (b d): sinusoidal features of 1000*t, then a 2-layer MLP (DiT).

    Flow matching passes t in [0, 1] directly; a DDPM model passes t = step / num_steps.
    """

    def __init__(self, dim: int, frequency_dim: int = 256, time_scale: float = 1000.0):
        super().__init__()
        self.frequency_dim, self.time_scale = frequency_dim, time_scale
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        return self.mlp(timestep_embedding(t * self.time_scale, self.frequency_dim))


class TextBlock(nn.Module):
    """Pre-LN transformer layer (GPT-2 style) with a key padding mask, for the text encoder."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim), MLP(dim, 4.0)

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), key_mask=mask)
        return x + self.mlp(self.norm2(x))


class TextEncoder(nn.Module):
    """Caption ids (b l) and mask (b l) -> per-token features (b 1+l d), their mask, a pooled (b d).

    Trained from scratch with the DiT. A learned *register* token is put in front of
    every caption and is never masked. It makes the empty caption well defined: with
    all ids masked (the "null text" used for classifier-free guidance) every
    attention still has one key to look at, and the masked mean still divides by
    >= 1, so nothing is NaN; the model learns what "no caption" means through it.
    Masked ids are never read, so the pad id does not matter, and with right padding
    extra pad tokens do not change anything.
    """

    def __init__(self, vocab_size: int, dim: int, depth: int, heads: int, max_len: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.register = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = nn.Parameter(torch.zeros(1, 1 + max_len, dim))  # learned, GPT-2 style
        self.blocks = nn.ModuleList([TextBlock(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)

    def forward(self, ids, mask):
        b, l = ids.shape
        x = torch.cat([self.register.expand(b, -1, -1), self.token_embedding(ids)], dim=1)  # (b 1+l d)
        x = x + self.pos_embedding[:, : 1 + l]
        mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)  # (b 1+l): the register always attends
        for block in self.blocks:
            x = block(x, mask)
        x = self.norm(x)
        weights = mask.to(x.dtype).unsqueeze(-1)  # (b 1+l 1)
        pooled = (x * weights).sum(1) / weights.sum(1)  # masked mean, (b d)
        return x, mask, pooled


def null_text(batch_size: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The empty caption (ids (b 1) of zeros, mask (b 1) all False): the unconditional input for guidance."""
    ids = torch.zeros(batch_size, 1, dtype=torch.long, device=device)
    return ids, torch.zeros(batch_size, 1, dtype=torch.bool, device=device)


# -----------------------------------------------------------------------------
# DiT block


class DiTBlock(nn.Module):
    """adaLN-Zero block: self-attention (full or factorised), cross-attention to text, MLP.

    The conditioning vector c = timestep embedding + pooled text regresses a shift,
    scale and gate for every self-attention and the MLP (adaLN-Zero, DiT section 3.2).
    The gates start at zero, so each block starts as the identity.

    Full attention lets all N tokens of the clip attend to each other: each block
    costs O(N^2 d) in attention (plus O(N d^2) projections). Factorised attention
    (ViViT model 3; Latte; Open-Sora's STDiT) first attends within each of the F
    frames over its S = N/F tokens, then across the F frames at each of the S
    spatial positions, O(N (S + F) d): for a Sora-sized 60-frame clip of 1024
    tokens per frame that is ~(1024+60)/61440 = 1.8% of the full attention FLOPs,
    paid for with a second set of attention projections and only indirect
    (two-hop) interaction between different places at different times.
    ``minivid.patching.dit_flops(..., attention="factorised")`` counts both.
    """

    def __init__(self, config: DiTConfig):
        super().__init__()
        d, heads = config.width, config.heads
        self.factorised = config.attention == "factorised"
        self.norm1, self.attn = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6), Attention(d, heads)
        if self.factorised:  # a second self-attention, across time, with its own projections
            self.norm_time, self.attn_time = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6), Attention(d, heads)
        self.norm_cross = nn.LayerNorm(d)
        self.cross_attn = Attention(d, heads, context_dim=config.text_width)
        self.norm2, self.mlp = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6), MLP(d, config.mlp_ratio)
        self.num_modulations = 3 * (3 if self.factorised else 2)  # (shift, scale, gate) per modulated sublayer
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(d, self.num_modulations * d))

    def attend_space(self, x, grid, rope):
        """Self-attention within each frame only: (b (f s) d) -> (b (f s) d)."""
        f, s = grid[0], grid[1] * grid[2]
        cos, sin = rope
        x = rearrange(x, "b (f s) d -> (b f) s d", f=f)
        # Positions of frame 0 serve every frame: inside one frame the time rotation is common and cancels.
        x = self.attn(x, rope=(cos[:s], sin[:s]))
        return rearrange(x, "(b f) s d -> b (f s) d", f=f)

    def attend_time(self, x, grid, rope):
        """Self-attention across frames at each spatial position only: (b (f s) d) -> (b (f s) d)."""
        f, s = grid[0], grid[1] * grid[2]
        cos, sin = rope
        x = rearrange(x, "b (f s) d -> (b s) f d", f=f)
        # Positions (t, 0, 0): at one spatial position the h, w rotations are common and cancel.
        x = self.attn_time(x, rope=(cos[::s], sin[::s]))
        return rearrange(x, "(b s) f d -> b (f s) d", s=s)

    def forward(self, x, c, text, text_mask, grid, rope):
        """x (b n d) tokens, c (b d) or (b f d) conditioning (one per latent frame), text (b l d_text)
        with text_mask (b l)."""
        mods = frames_to_tokens(self.adaLN_modulation(c), x.shape[1]).chunk(self.num_modulations, dim=-1)
        if self.factorised:
            shift_s, scale_s, gate_s, shift_t, scale_t, gate_t, shift_mlp, scale_mlp, gate_mlp = mods
            x = x + per_token(gate_s) * self.attend_space(modulate(self.norm1(x), shift_s, scale_s), grid, rope)
            x = x + per_token(gate_t) * self.attend_time(modulate(self.norm_time(x), shift_t, scale_t), grid, rope)
        else:
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
            x = x + per_token(gate_msa) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa), rope=rope)
        x = x + self.cross_attn(self.norm_cross(x), context=text, key_mask=text_mask)
        x = x + per_token(gate_mlp) * self.mlp(modulate(self.norm2(x), shift_mlp, scale_mlp))
        return x


class FinalLayer(nn.Module):
    """adaLN, then a linear map from each token back to its patch of C*pt*ph*pw values."""

    def __init__(self, width: int, patch_values: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(width, patch_values)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(width, 2 * width))

    def forward(self, x, c):
        shift, scale = frames_to_tokens(self.adaLN_modulation(c), x.shape[1]).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


# -----------------------------------------------------------------------------
# The model


class DiT(nn.Module):
    """f(x_t, t, text_ids, text_mask) -> a tensor shaped like x_t.

    x_t: (b c t h w) noisy latent, any T/H/W divisible by the patch size.
    t: (b,) or a scalar, the diffusion time in [0, 1] (flow matching), or step/num_steps (DDPM);
    or (b f), one time per latent frame (f = T / pt), so that some frames can be given clean
    (image-to-video, extension: ``minivid.diffusion.frame_times``).
    text_ids, text_mask: (b l) token ids and a bool mask (True = real token, False = pad),
    right-padded, l <= max_text_len. The empty caption (``null_text``) is valid input;
    caption dropout during training is just ``text_mask & keep[:, None]``, no special ids.
    """

    def __init__(self, config: DiTConfig):
        super().__init__()
        self.config = config
        c, d = config.latent_channels, config.width
        patch_values = c * math.prod(config.patch_size)  # C*pt*ph*pw values per token
        self.patch_embed = nn.Linear(patch_values, d)
        if config.edge_distance:  # one learned vector per (which edge, how far), the five summed per token
            self.edge_embed = nn.Embedding(5 * config.edge_distance, d)
        self.t_embedder = TimestepEmbedder(d)
        self.text_encoder = TextEncoder(
            config.text_vocab_size, config.text_width, config.text_depth, config.text_heads, config.max_text_len
        )
        self.text_pool_proj = nn.Linear(config.text_width, d)  # pooled caption -> conditioning vector
        self.blocks = nn.ModuleList([DiTBlock(config) for _ in range(config.depth)])
        self.final_layer = FinalLayer(d, patch_values)
        self.initialize_weights()

    @classmethod
    def from_preset(cls, name: str, **overrides) -> DiT:
        """``DiT.from_preset("shapes", text_vocab_size=tokenizer.vocab_size)``."""
        if name not in DIT_PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(DIT_PRESETS)}")
        return cls(replace(DIT_PRESETS[name], **overrides))

    def initialize_weights(self):
        """Every special initialisation of the model, in one place (as in DiT)."""

        def _basic_init(module):  # xavier for every linear, zero biases (DiT)
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

        self.apply(_basic_init)
        # Timestep MLP: small normal weights (DiT).
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        # Text embeddings, register token and learned positions: small normal (GPT-2).
        nn.init.normal_(self.text_encoder.token_embedding.weight, std=0.02)
        nn.init.normal_(self.text_encoder.register, std=0.02)
        nn.init.normal_(self.text_encoder.pos_embedding, std=0.02)
        if self.config.edge_distance:  # edge distances: small normal, like learned positions
            nn.init.normal_(self.edge_embed.weight, std=0.02)
        for block in self.blocks:
            # adaLN-Zero: zero shift, scale and gate, so every gated sublayer starts switched off.
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
            # Cross-attention has no gate: zero its output projection so the block starts as the identity (PixArt-alpha).
            nn.init.zeros_(block.cross_attn.proj.weight)
            nn.init.zeros_(block.cross_attn.proj.bias)
        # Final layer: zero modulation and zero output, so the untrained model predicts exactly 0.
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_inputs(self, x, t, text_ids, text_mask):
        cfg = self.config
        if x.dim() != 5 or x.shape[1] != cfg.latent_channels:
            raise ValueError(
                f"DiT expects a latent video (B, C={cfg.latent_channels}, T, H, W), got shape {tuple(x.shape)}"
            )
        grid = patch_grid(x.shape[-3:], cfg.patch_size)  # raises if T/H/W do not tile into patches
        b = x.shape[0]
        if t.dim() > 2 or (t.dim() >= 1 and t.shape[0] != b) or (t.dim() == 2 and t.shape[1] != grid[0]):
            raise ValueError(f"t must be a scalar or of shape (B,)=({b},), or one time per latent frame "
                             f"(B, frames)=({b}, {grid[0]}), got shape {tuple(t.shape)}")
        if text_ids.dim() != 2 or text_ids.shape != text_mask.shape or text_ids.shape[0] != b:
            raise ValueError(
                f"text_ids and text_mask must both be (B, L) with B={b}, "
                f"got {tuple(text_ids.shape)} and {tuple(text_mask.shape)}"
            )
        if text_ids.shape[1] > cfg.max_text_len:
            raise ValueError(f"caption of L={text_ids.shape[1]} tokens is longer than max_text_len={cfg.max_text_len}")
        if text_ids.numel() and (text_ids.min() < 0 or text_ids.max() >= cfg.text_vocab_size):
            raise ValueError(
                f"text ids must lie in [0, text_vocab_size={cfg.text_vocab_size}), "
                f"got ids in [{int(text_ids.min())}, {int(text_ids.max())}]"
            )
        return grid

    def embed_patches(self, x, grid):
        """(b c t h w) latent -> (b n d) tokens: each patch's values, plus where it lies (if edge_distance)."""
        tokens = self.patch_embed(patchify(x, self.config.patch_size))  # (b n d)
        if self.config.edge_distance:
            k = self.config.edge_distance
            which = edge_distances(grid, k, x.device) + k * torch.arange(5, device=x.device)  # (n 5) table rows
            tokens = tokens + self.edge_embed(which).sum(1)  # + (n d), the same for every clip
        return tokens

    def conditioning(self, t, pooled, b):
        """The adaLN conditioning vector: timestep embedding + pooled caption, (b d); given one time per
        latent frame (b f), one vector per frame (b f d): frames kept clean (t = 0) among noisy ones."""
        if t.dim() < 2:
            return self.t_embedder(t.expand(b)) + self.text_pool_proj(pooled)
        emb = rearrange(self.t_embedder(t.reshape(-1)), "(b f) d -> b f d", b=b)
        return emb + self.text_pool_proj(pooled).unsqueeze(1)

    def forward(self, x, t, text_ids, text_mask):
        t = torch.as_tensor(t, dtype=torch.float32, device=x.device)
        grid = self._check_inputs(x, t, text_ids, text_mask)
        b, c, _, _, _ = x.shape
        pt, ph, pw = self.config.patch_size

        tokens = self.embed_patches(x, grid)  # (b n d), n = gt*gh*gw
        rope = rope_3d(grid, self.config.width // self.config.heads, self.config.rope_theta, x.device)  # (n e) x2
        text, text_mask, pooled = self.text_encoder(text_ids, text_mask.bool())  # (b 1+l d_text), (b 1+l), (b d_text)
        c_vec = self.conditioning(t, pooled, b)  # (b d), or (b f d) with one time per latent frame

        for block in self.blocks:
            tokens = block(tokens, c_vec, text, text_mask, grid, rope)  # (b n d)
        patches = self.final_layer(tokens, c_vec)  # (b n c*pt*ph*pw)
        return unpatchify(patches, grid, (pt, ph, pw), c)  # (b c t h w)
