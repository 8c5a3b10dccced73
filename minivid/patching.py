"""Spacetime patches: how a video becomes a sequence of tokens, and what that costs.

A diffusion transformer never sees pixels. A video VAE first squeezes the clip
into a small latent video, then we cut that latent into non-overlapping
spacetime boxes ("patches") of pt frames x ph rows x pw columns, flatten every
box into one vector, and hand the transformer the list of vectors. This module
does that cut (``patchify``), glues the boxes back (``unpatchify``), and counts
how many tokens a clip becomes and how many FLOPs a transformer spends on them.

Tensor layouts (einops notation, used in every pattern below):

    b c t h w    latent / video tensors inside models (channels first, as Conv3d wants)
    b n d        tokens: n = gt*gh*gw tokens, each of width d = c*pt*ph*pw
    pt ph pw     patch size along time, height, width
    gt gh gw     patch grid: how many patches fit along time, height, width

Tokens are ordered time-major, ``(gt gh gw)``: all patches of the first latent
frame, row by row, then the second frame, and so on. Inside a token the values
are ordered ``(c pt ph pw)``: channel-major, then the box in raster order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from einops import rearrange

# Axis names used in error messages, in (time, height, width) order.
VIDEO_AXES = ("T", "H", "W")
PATCH_AXES = ("pt", "ph", "pw")

PATCHIFY_PATTERN = "b c (gt pt) (gh ph) (gw pw) -> b (gt gh gw) (c pt ph pw)"
UNPATCHIFY_PATTERN = "b (gt gh gw) (c pt ph pw) -> b c (gt pt) (gh ph) (gw pw)"


# -----------------------------------------------------------------------------
# Validation helpers: turn shape mistakes into one-line, actionable messages.


def as_patch_size(patch_size: int | tuple[int, int, int]) -> tuple[int, int, int]:
    """Normalise an int or a (pt, ph, pw) tuple to a tuple of three positive ints."""
    if isinstance(patch_size, int):
        patch_size = (patch_size, patch_size, patch_size)
    patch_size = tuple(patch_size)
    if len(patch_size) != 3 or not all(isinstance(p, int) for p in patch_size):
        raise ValueError(
            f"patch_size must be an int or a tuple of three ints (pt, ph, pw), got {patch_size!r}"
        )
    for name, p in zip(PATCH_AXES, patch_size):
        if p <= 0:
            raise ValueError(f"patch size must be positive, got {name}={p} in patch_size={patch_size}")
    return patch_size


def _nearest_multiples(size: int, factor: int) -> list[int]:
    """The multiples of ``factor`` just below and just above ``size`` (no zero)."""
    lower = (size // factor) * factor
    return [m for m in (lower, lower + factor) if m > 0]


def _not_divisible_message(axis: str, size: int, factor_name: str, factor: int) -> str:
    """Say which axis is wrong and suggest the nearest sizes (and factor) that would work."""
    sizes = " or ".join(f"{axis}={m}" for m in _nearest_multiples(size, factor))
    # The largest factor below the requested one that does divide the size.
    smaller_factor = max(f for f in range(1, factor + 1) if size % f == 0)
    return (
        f"{axis}={size} is not divisible by {factor_name}={factor}; "
        f"use {sizes}, or {factor_name}={smaller_factor}"
    )


def patch_grid(
    size_thw: tuple[int, int, int], patch_size: int | tuple[int, int, int]
) -> tuple[int, int, int]:
    """Patch grid (gt, gh, gw) for a latent of size (T, H, W); pass ``x.shape[-3:]``."""
    patch_size = as_patch_size(patch_size)
    size_thw = tuple(int(s) for s in size_thw)
    if len(size_thw) != 3:
        raise ValueError(f"patch_grid expects a (T, H, W) size, got {size_thw}")
    for axis, size, name, p in zip(VIDEO_AXES, size_thw, PATCH_AXES, patch_size):
        if size % p != 0:
            raise ValueError(_not_divisible_message(axis, size, name, p))
    return tuple(size // p for size, p in zip(size_thw, patch_size))


# -----------------------------------------------------------------------------
# Patchify / unpatchify: a pure reshuffle of values, exactly invertible.


def patchify(x: torch.Tensor, patch_size: int | tuple[int, int, int]) -> torch.Tensor:
    """Cut a latent video (B, C, T, H, W) into tokens (B, N, D).

    N = gt*gh*gw with (gt, gh, gw) = ``patch_grid(x.shape[-3:], patch_size)``,
    ordered time-major; D = C*pt*ph*pw ordered (c pt ph pw). No values change,
    only their arrangement, so ``unpatchify`` recovers ``x`` exactly.
    """
    if x.dim() != 5:
        raise ValueError(
            f"patchify expects a video tensor of shape (B, C, T, H, W), "
            f"got {x.dim()}-D tensor of shape {tuple(x.shape)}"
        )
    pt, ph, pw = as_patch_size(patch_size)
    patch_grid(x.shape[-3:], (pt, ph, pw))  # raises a readable error if it does not tile
    return rearrange(x, PATCHIFY_PATTERN, pt=pt, ph=ph, pw=pw)


def unpatchify(
    tokens: torch.Tensor,
    grid: tuple[int, int, int],
    patch_size: int | tuple[int, int, int],
    channels: int,
) -> torch.Tensor:
    """Glue tokens (B, N, D) back into a latent video (B, C, T, H, W); inverse of ``patchify``.

    ``grid`` is the (gt, gh, gw) that ``patch_grid`` returned for the original
    latent; it is needed because N alone does not say how the patches were laid out.
    """
    if tokens.dim() != 3:
        raise ValueError(
            f"unpatchify expects tokens of shape (B, N, D), "
            f"got {tokens.dim()}-D tensor of shape {tuple(tokens.shape)}"
        )
    pt, ph, pw = as_patch_size(patch_size)
    gt, gh, gw = (int(g) for g in grid)
    if min(gt, gh, gw) <= 0 or channels <= 0:
        raise ValueError(f"grid and channels must be positive, got grid={tuple(grid)}, channels={channels}")
    _, num_tokens, token_dim = tokens.shape
    if num_tokens != gt * gh * gw:
        raise ValueError(
            f"unpatchify got N={num_tokens} tokens, but grid (gt, gh, gw)=({gt}, {gh}, {gw}) "
            f"holds gt*gh*gw={gt * gh * gw}"
        )
    expected_dim = channels * pt * ph * pw
    if token_dim != expected_dim:
        raise ValueError(
            f"unpatchify got token dim D={token_dim}, but channels*pt*ph*pw="
            f"{channels}*{pt}*{ph}*{pw}={expected_dim}"
        )
    return rearrange(tokens, UNPATCHIFY_PATTERN, gt=gt, gh=gh, gw=gw, pt=pt, ph=ph, pw=pw)


# -----------------------------------------------------------------------------
# Token estimator: pixels -> VAE latent -> patch grid -> number of tokens.


@dataclass(frozen=True)
class VideoTokenConfig:
    """How many tokens one clip becomes, from pixel size through the VAE and the patcher."""

    frames: int  # T: frames of the pixel video
    height: int  # H: pixel rows
    width: int  # W: pixel columns
    vae_temporal_factor: int = 1  # ft: frames per latent frame (1 = no temporal compression)
    vae_spatial_factor: int = 8  # fs: pixels per latent pixel along H and along W
    latent_channels: int = 4  # C: channels of the VAE latent
    patch_size: tuple[int, int, int] = (1, 2, 2)  # (pt, ph, pw) on the latent
    # A causal video VAE encodes the first frame alone (so it doubles as an image
    # codec), then every ft following frames into one latent frame: T -> 1 + (T-1)/ft.
    causal: bool = False

    def __post_init__(self):
        object.__setattr__(self, "patch_size", as_patch_size(self.patch_size))
        ft, fs = self.vae_temporal_factor, self.vae_spatial_factor
        if min(self.frames, self.height, self.width, ft, fs, self.latent_channels) <= 0:
            raise ValueError(f"all sizes and factors must be positive, got {self}")
        if self.causal and (self.frames - 1) % ft != 0:
            # Valid causal lengths are 1 + k*ft: the lone first frame plus whole groups.
            sizes = " or ".join(f"T={1 + m}" for m in _nearest_multiples(self.frames - 1, ft))
            raise ValueError(
                f"a causal VAE needs T-1 divisible by ft, but T={self.frames} gives "
                f"T-1={self.frames - 1} and ft={ft}; use {sizes}, or causal=False"
            )
        if not self.causal and self.frames % ft != 0:
            raise ValueError(_not_divisible_message("T", self.frames, "ft", ft))
        for axis, size in (("H", self.height), ("W", self.width)):
            if size % fs != 0:
                raise ValueError(_not_divisible_message(axis, size, "fs", fs))
        try:  # the latent, not the pixel video, must tile into patches
            patch_grid(self.latent_size, self.patch_size)
        except ValueError as error:
            raise ValueError(f"latent (T, H, W)={self.latent_size}: {error}") from None

    @property
    def latent_frames(self) -> int:
        if self.causal:
            return 1 + (self.frames - 1) // self.vae_temporal_factor
        return self.frames // self.vae_temporal_factor

    @property
    def latent_size(self) -> tuple[int, int, int]:
        """(T, H, W) of the latent video the VAE produces."""
        fs = self.vae_spatial_factor
        return (self.latent_frames, self.height // fs, self.width // fs)

    @property
    def grid(self) -> tuple[int, int, int]:
        """(gt, gh, gw): patches along time, height, width of the latent."""
        return patch_grid(self.latent_size, self.patch_size)

    @property
    def tokens_per_frame(self) -> int:
        """Tokens per latent frame slice (gh*gw): the S of factorised spatial attention."""
        _, gh, gw = self.grid
        return gh * gw

    @property
    def num_tokens(self) -> int:
        """Tokens per clip, N = gt*gh*gw."""
        gt, gh, gw = self.grid
        return gt * gh * gw

    @property
    def token_dim(self) -> int:
        """Values per token before the patch embedding, D = C*pt*ph*pw."""
        pt, ph, pw = self.patch_size
        return self.latent_channels * pt * ph * pw


# Named presets. "sora-like-60-frames" reproduces a widely quoted back-of-envelope
# estimate, "60 frames ~ 60k patches, x20 denoising steps ~ 1.2M token evaluations":
# a 512x512 frame through an SD-style VAE (8x spatial, no temporal compression) is a
# 64x64 latent; 2x2 patches make it (512/8/2)^2 = 32*32 = 1024 tokens per frame, so
# 60 frames are 61,440 tokens (~60k), and 20 denoising steps are 1,228,800 (~1.2M)
# token evaluations. "shapesworld" is this course's toy: 17 frames of 32x32 through
# a causal VAE with 4x compression in time and space -> a 5x8x8 latent.
PRESETS: dict[str, VideoTokenConfig] = {
    "sora-like-60-frames": VideoTokenConfig(
        frames=60, height=512, width=512, vae_temporal_factor=1, vae_spatial_factor=8,
        latent_channels=4, patch_size=(1, 2, 2),
    ),
    "shapesworld": VideoTokenConfig(  # the shipped VAE: 8 latent channels
        frames=17, height=32, width=32, vae_temporal_factor=4, vae_spatial_factor=4,
        latent_channels=8, patch_size=(1, 2, 2), causal=True,
    ),
    "shapesworld-fine": VideoTokenConfig(
        frames=17, height=32, width=32, vae_temporal_factor=4, vae_spatial_factor=4,
        latent_channels=8, patch_size=(1, 1, 1), causal=True,
    ),
}


# -----------------------------------------------------------------------------
# Compute estimator: forward FLOPs of a diffusion transformer (DiT) on N tokens.

ATTENTION_KINDS = ("full", "factorised")


@dataclass(frozen=True)
class DiTFlops:
    """Forward FLOPs of a DiT, summed over all layers, split by where they go."""

    attention: int  # QK^T and AV matmuls of self-attention
    projections: int  # q, k, v and output projections of self-attention
    mlp: int  # the two linear layers of the MLP
    cross_attention: int = 0  # attention to text tokens, its projections included
    total: int = field(init=False)

    def __post_init__(self):
        object.__setattr__(
            self, "total", self.attention + self.projections + self.mlp + self.cross_attention
        )


def dit_flops(
    num_tokens: int,
    width: int,
    depth: int,
    mlp_ratio: int = 4,
    text_tokens: int = 0,
    attention: str = "full",
    tokens_per_frame: int | None = None,
) -> DiTFlops:
    """Forward FLOPs of ``depth`` transformer blocks of width d on N video tokens.

    A multiply-add counts as 2 FLOPs, so an (m x k) @ (k x n) matmul costs 2*m*k*n.
    Per block:

    - attention, full:        QK^T and AV over all N tokens, 2 * 2*N^2*d
    - attention, factorised:  spatial attention over the S = ``tokens_per_frame``
      tokens of each of the F = N/S frames, then temporal attention over the F
      tokens at each spatial position: 4*N*S*d + 4*N*F*d = 4*N*(S + F)*d
    - projections: q, k, v, out, four d x d linears, 2*4*N*d^2 per attention
      sublayer; a factorised block has two (spatial and temporal), each with its
      own projections as in ViViT's factorised self-attention, so 2*2*4*N*d^2
    - mlp: d -> r*d -> d, 2*2*r*N*d^2
    - cross-attention to L text tokens (already width d): q and out projections
      on the N video tokens, k and v on the L text tokens, then QK^T and AV:
      2*(2*N*d^2 + 2*L*d^2 + 2*N*L*d)

    Norms, softmax, activations, biases, the patch embedding and the final layer
    are left out: they are O(N*d) or run once, small next to the terms above.
    """
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {ATTENTION_KINDS}, got {attention!r}")
    if min(num_tokens, width, depth, mlp_ratio) <= 0 or text_tokens < 0:
        raise ValueError(
            f"num_tokens, width, depth, mlp_ratio must be positive and text_tokens >= 0, got "
            f"{num_tokens=}, {width=}, {depth=}, {mlp_ratio=}, {text_tokens=}"
        )
    n, d, r, text = num_tokens, width, mlp_ratio, text_tokens
    projections_per_sublayer = 2 * 4 * n * d * d
    if attention == "full":
        attention_per_layer = 2 * 2 * n * n * d
        projections_per_layer = projections_per_sublayer
    else:
        if tokens_per_frame is None or tokens_per_frame <= 0 or n % tokens_per_frame != 0:
            raise ValueError(
                "factorised attention needs tokens_per_frame, a positive divisor of "
                f"num_tokens={n}; got tokens_per_frame={tokens_per_frame}"
            )
        frames = n // tokens_per_frame
        attention_per_layer = 4 * n * (tokens_per_frame + frames) * d
        projections_per_layer = 2 * projections_per_sublayer
    mlp_per_layer = 2 * 2 * r * n * d * d
    cross_per_layer = 2 * (2 * n * d * d + 2 * text * d * d + 2 * n * text * d) if text else 0
    return DiTFlops(
        attention=depth * attention_per_layer,
        projections=depth * projections_per_layer,
        mlp=depth * mlp_per_layer,
        cross_attention=depth * cross_per_layer,
    )


def sampling_cost(num_tokens: int, steps: int) -> int:
    """Token evaluations to sample one video: every denoising step re-reads every token.

    Classifier-free guidance runs the model twice per step; pass ``2 * steps`` to count it.
    """
    return num_tokens * steps


# -----------------------------------------------------------------------------
# A human-readable summary, for notebooks.


def _si(value: float, unit: str) -> str:
    """1_228_800 -> '1.23 M<unit>'."""
    for prefix, scale in (("E", 1e18), ("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def describe_cost(
    config: VideoTokenConfig,
    width: int,
    depth: int,
    steps: int,
    attention: str = "full",
    mlp_ratio: int = 4,
    text_tokens: int = 0,
) -> str:
    """Multi-line summary: tokens per clip, token evaluations per video, where the FLOPs go."""
    n = config.num_tokens
    flops = dit_flops(
        n, width, depth, mlp_ratio=mlp_ratio, text_tokens=text_tokens,
        attention=attention, tokens_per_frame=config.tokens_per_frame,
    )
    t, h, w = config.latent_size
    gt, gh, gw = config.grid
    pt, ph, pw = config.patch_size
    shares = [("attention", flops.attention), ("projections", flops.projections), ("MLP", flops.mlp)]
    if text_tokens:
        shares.append(("cross-attention", flops.cross_attention))
    share_line = ", ".join(f"{name} {100 * part / flops.total:.1f}%" for name, part in shares)
    return "\n".join([
        f"video {config.frames}x{config.height}x{config.width} (T x H x W)"
        f" -> latent {t}x{h}x{w}x{config.latent_channels} (T x H x W x C)"
        f" -> patches {pt}x{ph}x{pw} -> grid {gt}x{gh}x{gw}",
        f"tokens per clip: {n:,} ({config.tokens_per_frame:,} per latent frame, {config.token_dim} values each)",
        f"tokens per video at {steps} steps: {sampling_cost(n, steps):,} token evaluations",
        f"forward pass (width {width}, depth {depth}, {attention} attention): {_si(flops.total, 'FLOP')}",
        f"  {share_line}",
        f"whole video at {steps} steps: {_si(flops.total * steps, 'FLOP')}",
    ])
