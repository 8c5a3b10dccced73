"""Video VAE: compress ShapesWorld clips into a small causal latent.

A diffusion transformer is only as cheap as its token count, so we never let it
see pixels. This variational autoencoder squeezes a clip into a latent video
that is 4x smaller in time and 4x smaller along each side, and decodes it back.
It follows the causal video VAEs of CogVideoX and Open-Sora-Plan:

- Causal in time. Every temporal convolution pads only on the past side (with
  copies of the first frame), so latent frame j sees pixel frames <= 4j and
  nothing later. The first frame is therefore encoded on its own, and one model
  handles images (T = 1) and videos (T = 1 + 4k): 17 frames -> 1 + 16/4 = 5
  latent frames, an image -> 1 latent frame.
- Normalisation is per frame (GroupNorm over channels and space, never time),
  since statistics pooled over time would leak the future into the past.

Why 4x in time and 4x in space (17x32x32x3 -> 5x8x8x8, 20x fewer numbers):
the DiT cost grows with the square of the token count, and 5x8x8 latents cut
into 1x2x2 patches are 80 tokens, small enough to train on a CPU. Going further
would start to erase what the captions talk about: a shape moves 0.8..1.2
px/frame, i.e. ~4 px = one latent cell per latent frame, and a rotation of
10..20 deg/frame turns a square 40..80 deg within one latent frame. 4x keeps
both recoverable because the latent has 8 channels per cell to describe where
the object is at each of the 4 frames it covers (trajectories are smooth);
8x in time would alias a square's 90-degree symmetry (8 x 15 deg = 120 deg)
and a cell of 8 frames would have to hold a 10 px journey. Spatially, 4x keeps
the smallest shape (radius 3 px = 6 px wide) spread over at least 2x2 cells.
Known limit of 4x (benchmarks/vae_benchmark.py): frame 0, encoded alone, is
the sharpest; in-between frames of the hardest clips (a bounce near impact,
~5 px/frame, or a 20 deg/frame spin of a radius-3 triangle) come back with
rounded corners, which the evaluator can read as a circle in some frames.

Architecture (the "shapes" preset, 0.91 M parameters; widths in `VAEConfig`):

    clip b 3 17 32 32 --space-to-depth 2x2--> b 12 17 16 16 --conv_in--> b 32 17 16 16
    ResBlock(32) -> Down(space 2x, time 2x) -> b 32 9 8 8
    ResBlock(32) -> Down(time 2x)           -> b 48 5 8 8
    ResBlock(48) x 2 -> conv_out            -> mean, logvar: b 8 5 8 8
    decoder: the mirror image; Up = nearest-neighbour repeat (in time: repeat
    each frame twice and drop the first copy, so 1 + k latent frames become
    1 + 2k frames and frame 0 stays alone) followed by a causal conv.

Cheap at full resolution: the 2x2 space-to-depth at the input (as in the
LTX-Video VAE) means no convolution ever runs at 32x32, which makes training
on a 2-core CPU feasible; the last convolution predicts each 2x2 pixel block.

Precision: on a CPU with native bf16 a training step under bf16 autocast is
faster than in fp32 with the same reconstruction curve
(benchmarks/vae_benchmark.py), so training uses bf16 (`VAETrainConfig.bf16`);
normalisation statistics, the posterior and the loss stay in fp32. The shipped
model runs in fp32.

Regularisation: a small KL term keeps the latent a smooth, roughly Gaussian
space for the diffusion model without costing reconstruction quality. The
latent is then multiplied by `scaling_factor` = 1 / std of the posterior means
over training clips (measured after training, stored with the weights) so the
DiT sees unit-variance latents.

Layouts (einops legend):

    b t c h w    clips users pass in and get back, float in [0, 1]
    b c t h w    tensors inside the model (channels first, as Conv3d wants),
                 pixels scaled to [-1, 1]; latents use the same layout
    p            space-to-depth patch size (2); ft, fs = time / space compression
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from .checkpoint import CheckpointError, load_state_dict_strict, load_tensors, save_tensors
from .device import as_device

# ----------------------------------------------------------------------------
# Configuration


@dataclass
class VAEConfig:
    """Every knob of the VAE; a preset is just one of these."""

    in_channels: int = 3  # RGB
    latent_channels: int = 8  # channels per latent cell (the brief allows 4..8)
    patch_size: int = 2  # space-to-depth at the input / depth-to-space at the output
    channels: tuple[int, ...] = (32, 32, 48)  # width of each resolution level, input side first
    spatial_down: tuple[bool, ...] = (True, False)  # 2x spatial downsampling after level i
    temporal_down: tuple[bool, ...] = (True, True)  # 2x causal temporal downsampling after level i
    encoder_blocks: int = 1  # residual blocks per level in the encoder
    decoder_blocks: int = 1  # ... and in the decoder, which does most of the work
    mid_blocks: int = 1  # residual blocks at the latent resolution, each side
    groups: int = 8  # GroupNorm groups (per-frame normalisation)

    def __post_init__(self):
        self.channels, self.spatial_down, self.temporal_down = (
            tuple(self.channels), tuple(bool(s) for s in self.spatial_down), tuple(bool(t) for t in self.temporal_down))
        if not (len(self.spatial_down) == len(self.temporal_down) == len(self.channels) - 1):
            raise ValueError("spatial_down and temporal_down need one entry per transition: len(channels) - 1")
        bad = [c for c in self.channels if c % self.groups]
        if bad:
            raise ValueError(f"every width in channels must be divisible by groups={self.groups}, got {bad}")

    @property
    def spatial_compression(self) -> int:
        """fs: latent cells are fs x fs pixels."""
        return self.patch_size * 2 ** sum(self.spatial_down)

    @property
    def temporal_compression(self) -> int:
        """ft: T = 1 + k*ft frames become 1 + k latent frames."""
        return 2 ** sum(self.temporal_down)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        return cls(**d)


VAE_PRESETS = {
    # a few thousand parameters: unit tests (causality, resume, checkpoints) in milliseconds
    "tiny": VAEConfig(latent_channels=4, channels=(8, 8, 16), mid_blocks=1, groups=4),
    # the shipped model (data/vae/shapes.safetensors)
    "shapes": VAEConfig(channels=(32, 32, 48), mid_blocks=1),
}


# ----------------------------------------------------------------------------
# Building blocks. All are causal in time: output frame t depends on input
# frames <= t only (for strided layers: on the frames up to the last it covers).


class CausalConv3d(nn.Conv3d):
    """Conv3d that pads time on the past side only, by repeating the first frame.

    With kernel kt the first output frame sees kt copies of frame 0, so an image
    (T = 1) is encoded exactly like a still video. A temporal stride of 2 maps
    T = 1 + 2k frames to 1 + k (the first output covers frame 0 alone).
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: tuple[int, int, int] = (1, 1, 1)):
        super().__init__(cin, cout, kernel, stride=stride, padding=(0, kernel // 2, kernel // 2))
        self.time_pad = kernel - 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # b c t h w
        if self.time_pad:
            first = x[:, :, :1].expand(-1, -1, self.time_pad, -1, -1)
            x = torch.cat([first, x], dim=2)  # b c (pad + t) h w
        return super().forward(x)


class FrameGroupNorm(nn.GroupNorm):
    """GroupNorm with statistics per frame (over channel groups and space, not time)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # b c t h w
        b, c, t, h, w = x.shape
        x = x.float()  # statistics in fp32 even under bf16 autocast
        xg = x.reshape(b, self.num_groups, c // self.num_groups, t, h, w)
        var, mean = torch.var_mean(xg, dim=(2, 4, 5), keepdim=True, correction=0)
        x = ((xg - mean) * torch.rsqrt(var + self.eps)).reshape(b, c, t, h, w)
        return x * self.weight.view(1, c, 1, 1, 1) + self.bias.view(1, c, 1, 1, 1)


class ResBlock(nn.Module):
    """norm -> SiLU -> conv, twice, plus a skip (1x1x1 conv when the width changes)."""

    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = FrameGroupNorm(groups, cin), CausalConv3d(cin, cout)
        self.norm2, self.conv2 = FrameGroupNorm(groups, cout), CausalConv3d(cout, cout)
        self.skip = nn.Conv3d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Downsample(nn.Module):
    """Strided causal conv: 2x fewer frames (1 + 2k -> 1 + k) and/or 2x fewer rows and columns."""

    def __init__(self, cin: int, cout: int, space: bool, time: bool):
        super().__init__()
        self.conv = CausalConv3d(cin, cout, stride=(2 if time else 1, 2 if space else 1, 2 if space else 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Upsample(nn.Module):
    """Nearest-neighbour upsampling (2x frames and/or 2x rows and columns) followed by a causal conv.

    In time every frame is repeated twice and the first copy of frame 0 dropped,
    so 1 + k frames become 1 + 2k: latent frame 0 still yields pixel frame 0
    alone, and the decoder stays causal. (A depth-to-space conv would be cheaper
    in FLOPs but needs rt*rs*rs times the weights, which a < 2 MB model cannot pay.)
    """

    def __init__(self, cin: int, cout: int, space: bool, time: bool):
        super().__init__()
        self.rt, self.rs = (2 if time else 1), (2 if space else 1)
        self.conv = CausalConv3d(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # b c t h w
        x = repeat(x, "b c t h w -> b c (t rt) (h rh) (w rw)", rt=self.rt, rh=self.rs, rw=self.rs)
        return self.conv(x[:, :, self.rt - 1:])  # b c (1 + rt*(t-1)) (rs h) (rs w)


# ----------------------------------------------------------------------------
# Encoder, decoder and the posterior


class Encoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch, p = cfg.channels, cfg.patch_size
        self.conv_in = CausalConv3d(cfg.in_channels * p * p, ch[0])
        layers = []
        for i, c in enumerate(ch):
            layers += [ResBlock(c, c, cfg.groups) for _ in range(cfg.encoder_blocks)]
            if i < len(ch) - 1:
                layers.append(Downsample(c, ch[i + 1], cfg.spatial_down[i], cfg.temporal_down[i]))
        layers += [ResBlock(ch[-1], ch[-1], cfg.groups) for _ in range(cfg.mid_blocks)]
        self.layers = nn.Sequential(*layers)
        self.norm_out = FrameGroupNorm(cfg.groups, ch[-1])
        self.conv_out = CausalConv3d(ch[-1], 2 * cfg.latent_channels)  # mean and log-variance
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # b c t h w in [-1, 1]
        x = rearrange(x, "b c t (h p1) (w p2) -> b (c p1 p2) t h w", p1=self.p, p2=self.p)
        x = self.layers(self.conv_in(x))
        return self.conv_out(F.silu(self.norm_out(x)))  # b (2 z) t' h' w'


class Decoder(nn.Module):
    def __init__(self, cfg: VAEConfig):
        super().__init__()
        ch, p = cfg.channels, cfg.patch_size
        self.conv_in = CausalConv3d(cfg.latent_channels, ch[-1])
        layers = [ResBlock(ch[-1], ch[-1], cfg.groups) for _ in range(cfg.mid_blocks)]
        for i in reversed(range(len(ch))):
            layers += [ResBlock(ch[i], ch[i], cfg.groups) for _ in range(cfg.decoder_blocks)]
            if i > 0:
                layers.append(Upsample(ch[i], ch[i - 1], cfg.spatial_down[i - 1], cfg.temporal_down[i - 1]))
        self.layers = nn.Sequential(*layers)
        self.norm_out = FrameGroupNorm(cfg.groups, ch[0])
        self.conv_out = CausalConv3d(ch[0], cfg.in_channels * p * p)
        self.p = p

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # b z t' h' w'
        x = self.conv_out(F.silu(self.norm_out(self.layers(self.conv_in(z)))))
        return rearrange(x, "b (c p1 p2) t h w -> b c t (h p1) (w p2)", p1=self.p, p2=self.p)  # [-1, 1]-ish


@dataclass
class DiagonalGaussian:
    """The posterior q(z | x): independent Gaussians per latent element."""

    mean: torch.Tensor  # b z t h w
    logvar: torch.Tensor  # b z t h w, clamped so exp() stays finite

    @property
    def std(self) -> torch.Tensor:
        return torch.exp(0.5 * self.logvar)

    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        noise = torch.randn(self.mean.shape, generator=generator, device=self.mean.device, dtype=self.mean.dtype)
        return self.mean + self.std * noise

    def kl(self) -> torch.Tensor:
        """KL(q || N(0, I)) averaged over latent elements (per-batch scalar)."""
        return 0.5 * (self.mean.square() + self.logvar.exp() - 1.0 - self.logvar).mean()


class VideoVAE(nn.Module):
    """Causal video VAE. `encode`/`decode` work in model layout (b c t h w, [-1, 1]);
    `encode_clips`/`decode_latents` are the user-facing helpers (b t c h w, [0, 1])."""

    def __init__(self, cfg: VAEConfig | None = None):
        super().__init__()
        self.cfg = cfg or VAEConfig()
        self.encoder, self.decoder = Encoder(self.cfg), Decoder(self.cfg)
        # 1 / std of the posterior means on training data; set by train.py, saved with the weights
        self.register_buffer("scaling_factor", torch.tensor(1.0))

    # -- shape checks: one clear message naming the expected form -------------

    def check_video(self, x: torch.Tensor, layout: str = "b c t h w") -> None:
        """Raise ValueError unless x is a batch of videos the encoder accepts (in `layout`)."""
        cfg, ft, fs = self.cfg, self.cfg.temporal_compression, self.cfg.spatial_compression
        expected = (f"expected a 5-D video batch '{layout}' with c={cfg.in_channels}, "
                    f"t = 1 + {ft}k frames (1, {1 + ft}, {1 + 2 * ft}, ...), h and w divisible by {fs}")
        if not isinstance(x, torch.Tensor) or x.ndim != 5:
            got = f"a {x.ndim}-D tensor of shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{expected}; got {got}")
        dims = dict(zip(layout.split(), x.shape))
        problems = []
        if dims["c"] != cfg.in_channels:
            problems.append(f"c={dims['c']}")
        if (dims["t"] - 1) % ft:
            problems.append(f"t={dims['t']} (nearest valid: {1 + (dims['t'] - 1) // ft * ft} or {1 + ((dims['t'] - 1) // ft + 1) * ft})")
        if dims["h"] % fs or dims["w"] % fs:
            problems.append(f"h x w = {dims['h']} x {dims['w']}")
        if problems:
            raise ValueError(f"{expected}; got shape {tuple(x.shape)}: bad {', '.join(problems)}")

    def check_latent(self, z: torch.Tensor) -> None:
        c = self.cfg.latent_channels
        if not isinstance(z, torch.Tensor) or z.ndim != 5 or z.shape[1] != c:
            shape = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
            raise ValueError(f"expected a 5-D latent batch 'b c t h w' with c={c}; got {shape}")

    # -- model layout: b c t h w, pixels in [-1, 1] ------------------------------

    def encode(self, x: torch.Tensor) -> DiagonalGaussian:
        """Pixels b c t h w in [-1, 1] -> posterior over latents b z t' h' w' (unscaled)."""
        self.check_video(x)
        mean, logvar = self.encoder(x).float().chunk(2, dim=1)  # fp32 even under autocast
        return DiagonalGaussian(mean, logvar.clamp(-30.0, 20.0))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Unscaled latents b z t' h' w' -> pixels b c t h w, roughly [-1, 1] (not clamped)."""
        self.check_latent(z)
        return self.decoder(z)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True):
        """Reconstruct x (b c t h w, [-1, 1]): returns (reconstruction, posterior)."""
        posterior = self.encode(x)
        z = posterior.sample(generator) if sample else posterior.mean
        return self.decode(z), posterior

    # -- user layout: b t c h w clips in [0, 1]; latents scaled for diffusion -----

    @torch.no_grad()
    def encode_clips(self, clips: torch.Tensor, sample: bool = False, generator=None) -> torch.Tensor:
        """Clips b t c h w in [0, 1] -> diffusion-ready latents b z t' h' w' (times scaling_factor).

        Uses the posterior mean unless `sample` (the posterior std is tiny anyway).
        """
        self.check_video(clips, layout="b t c h w")
        x = rearrange(clips, "b t c h w -> b c t h w") * 2.0 - 1.0
        posterior = self.encode(x.to(self.scaling_factor.device, self.scaling_factor.dtype))
        z = posterior.sample(generator) if sample else posterior.mean
        return z * self.scaling_factor

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Scaled latents b z t' h' w' -> clips b t c h w in [0, 1]."""
        x = self.decode(latents / self.scaling_factor)
        return rearrange((x + 1.0) / 2.0, "b c t h w -> b t c h w").clamp(0.0, 1.0)

    # -- shipped weights: X.safetensors + X.json (see minivid/checkpoint.py) -------

    def save_pretrained(self, path, dtype: torch.dtype | None = None, **extra) -> Path:
        """Write the weights (incl. scaling_factor) and a JSON sidecar with the config; atomic.

        `dtype` (e.g. torch.float16) stores the parameters at lower precision to
        halve the file; buffers (the scaling factor) stay fp32 and loading always
        gives an fp32 model.
        """
        params = {name for name, _ in self.named_parameters()}
        tensors = {k: v.to(dtype) if dtype is not None and k in params else v for k, v in self.state_dict().items()}
        return save_tensors(path, tensors, kind="vae", config=self.cfg.to_dict(),
                            scaling_factor=float(self.scaling_factor), **extra)

    @classmethod
    def from_pretrained(cls, path, device=None) -> "VideoVAE":
        """Load a verified checkpoint written by `save_pretrained` (no pickle), in eval mode."""
        tensors, meta = load_tensors(path, kind="vae")
        try:
            cfg = VAEConfig.from_dict(meta["config"])
        except (TypeError, ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: the sidecar's VAE config is invalid: {e}") from None
        model = cls(cfg)
        load_state_dict_strict(model, tensors, where=str(path))
        return model.to(as_device(device)).eval()

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int, int]:
        """(z, t', h', w') of the latent of a frames x height x width clip."""
        ft, fs = self.cfg.temporal_compression, self.cfg.spatial_compression
        return self.cfg.latent_channels, 1 + (frames - 1) // ft, height // fs, width // fs


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of images in [0, 1], per batch item (any layout, batch first)."""
    mse = (a.float() - b.float()).square().flatten(1).mean(1)
    return -10.0 * torch.log10(mse.clamp_min(1e-10))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
