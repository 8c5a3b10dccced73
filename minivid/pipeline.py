"""Text to video in one call: prompt -> tokens -> DiT sampling in latent space -> VAE decode.

    from minivid.pipeline import TextToVideo
    pipe = TextToVideo.from_pretrained()              # data/t2v/shapes + the VAE it names
    videos = pipe(["a red circle moves left", "紅色的圓形向左移動"], steps=20, seed=0)   # (B, T, 3, H, W) in [0, 1]

What happens, step by step (each a few lines below):

1. Every prompt is checked with `text.parse_prompt` first: an unknown word or an
   impossible combination raises `text.PromptError` saying what is wrong, before
   any compute is spent.
2. Noise: prompt i starts from N(0, I) drawn by its own generator seeded with
   (seed, i), so a prompt's video depends on the seed and its position only, not
   on which other prompts share the batch (up to float rounding of batched matmuls).
3. Sampling: the flow model's velocity is integrated from t = 1 (noise) to 0
   with Euler or Heun (`minivid.sampling`), under classifier-free guidance
   (`sampling.classifier_free_guidance`, the unconditional input is the empty
   prompt the model saw for 10% of training captions).
4. The VAE named in the checkpoint (whose sha256 must match) decodes the latents.

Autoguidance (Karras et al. 2024). A checkpoint may name a second, weaker model of the
same data (`"weak": {"path", "sha256"}` in its sidecar, or `weak_path=` when loading),
and `autoguidance=w` (default: the sidecar's `sampling.autoguidance`, else 0) adds
w (v_cond - v_weak) to the guided velocity (`sampling.autoguidance`): a pull away
from where the weaker model spreads its samples, at one more model call a step (lesson 08).

Editing (SDEdit, Meng et al. 2022). `pipe(prompts, init_video=clips, strength=t)`
encodes real clips, noises them to time t along the training path and samples from
there (the same time grid, cut at t: `sampling.truncate_timesteps`): a small t keeps
the clip and changes what little noise allows (a colour), t = 1 is ordinary sampling.

Samplers. The checkpoint is a flow-matching (velocity) model, so its native
samplers are "euler" and "heun". "ddim" is accepted and runs Euler: for the
straight path x_t = (1 - t) x0 + t eps, a deterministic DDIM step
(x_s = (1 - s) x0_hat + s eps_hat with x0_hat = x_t - t v, eps_hat = x_t + (1 - t) v)
simplifies to x_s = x_t + (s - t) v, which is exactly an Euler step. "ddpm"
(ancestral sampling on a discrete noise schedule) needs an epsilon-prediction
model and raises a ValueError naming the samplers a flow model supports.

Every argument is checked before any compute (`check_settings`): a wrong type, NaN, an
infinity or a value out of range raises a ValueError naming the argument and its range.
Paths a sidecar records (the VAE, the weaker model) are looked up from the checkpoint's
own folder upwards first, then the working directory, then the repository, and the
first file with the recorded sha256 is used.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import sampling
from .checkpoint import CheckpointError, load_state_dict_strict, load_tensors, read_meta, same_latents
from .device import as_device
from .seeds import noise_generator
from .diffusion import add_noise
from .dit import DiT, DiTConfig
from . import story
from .text import encode_batch, parse_prompt, parse_story, split_story
from .vae import VideoVAE

DEFAULT_PATH = "data/t2v/shapes"
LONG_PATH = "data/t2v/long"  # trained with given first frames: stories, image-to-video, extension
REPO_ROOT = Path(__file__).resolve().parents[1]
FLOW_SAMPLERS = ("euler", "heun", "ddim")  # ddim == euler for a flow model (see the module docstring)
DEFAULT_STRENGTH = 0.6  # editing: noise level a clip is redrawn from when none is given (SDEdit's middle ground)
# Accepted ranges of the sampling settings, [low, high]: wide enough for any experiment, narrow enough that
# no value in them gives NaN, noise or an out-of-memory crash on the course's clips.
LIMITS = {"steps": (1, 1000), "guidance": (0.0, 50.0), "autoguidance": (0.0, 20.0), "shift": (0.01, 100.0),
          "seed": (0, 2**40 - 1), "frames": (1, 129), "strength": (0.0, 1.0)}


# ----------------------------------------------------------------------------
# Checking arguments at the boundary


def check_int(name: str, value, low: int | None = None, high: int | None = None) -> int:
    """`value` as an int in [low, high] (default: LIMITS[name]), else a ValueError naming `name` and the range."""
    low, high = LIMITS[name] if low is None else (low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r} ({type(value).__name__})")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value}")
    return int(value)


def check_real(name: str, value, low: float | None = None, high: float | None = None) -> float:
    """`value` as a finite float in [low, high] (default: LIMITS[name]), else a ValueError naming `name`."""
    low, high = LIMITS[name] if low is None else (low, high)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r} ({type(value).__name__})")
    if not (math.isfinite(value) and low <= value <= high):
        raise ValueError(f"{name} must be a finite number in [{low:g}, {high:g}], got {value!r}")
    return float(value)


def check_sampler(sampler) -> str:
    if not isinstance(sampler, str) or sampler not in FLOW_SAMPLERS:
        raise ValueError(
            f"sampler {sampler!r} is not available for this 'flow' checkpoint; it supports {', '.join(FLOW_SAMPLERS)}"
            " ('ddim' runs Euler, its exact equivalent for a flow model; 'ddpm' needs an epsilon-prediction "
            "checkpoint)")
    return sampler


def check_settings(settings: dict) -> dict:
    """Sampling settings (sampler, steps, guidance, shift, autoguidance; any subset) checked and normalised."""
    checks = {"sampler": check_sampler, "steps": lambda v: check_int("steps", v),
              **{k: (lambda v, k=k: check_real(k, v)) for k in ("guidance", "shift", "autoguidance")}}
    unknown = sorted(set(settings) - set(checks))
    if unknown:
        raise ValueError(f"unknown sampling setting(s) {', '.join(unknown)}; known: {', '.join(checks)}")
    return {k: checks[k](v) for k, v in settings.items()}


def check_prompts(prompts, stories: bool = False) -> list[str]:
    """A prompt or a list of prompts -> a non-empty list of strings, each a scene ShapesWorld can show (with
    `stories`: or a story of such scenes, `..., then ...` / `...; cut to ...`)."""
    prompts = [prompts] if isinstance(prompts, str) else prompts
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError(f"prompts must be a string or a non-empty list of strings, got {prompts!r}"[:200])
    for p in prompts:
        if not isinstance(p, str):
            raise ValueError(f"every prompt must be a string, got {type(p).__name__}: {p!r}"[:200])
        (parse_story if stories else parse_prompt)(p)  # raises PromptError with a clear message
    return list(prompts)


def _check_dit_config(config) -> DiTConfig:
    """The DiT config a sidecar records, each field of its declared type, then DiTConfig's own checks."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be an object, got {config!r}")
    for f in fields(DiTConfig):
        if f.name not in config:
            continue
        value, default = config[f.name], f.default
        if f.name == "patch_size":
            sizes = value if isinstance(value, (tuple, list)) else [value]
            ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in sizes)
        elif isinstance(default, (bool, str)):
            ok = type(value) is type(default)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        else:
            ok = True
        if not ok:
            raise ValueError(f"config.{f.name} must be a {type(default).__name__}, got {value!r}")
    return DiTConfig.from_dict(config)  # raises ValueError for sizes that do not fit together


def _check_file_ref(ref, name: str) -> None:
    if not (isinstance(ref, dict) and isinstance(ref.get("path"), str) and ref["path"]
            and isinstance(ref.get("sha256"), str) and len(ref["sha256"]) == 64):
        raise ValueError(f"{name} must be {{\"path\": a file, \"sha256\": 64 hex digits}}, got {ref!r}"[:300])


def check_t2v_meta(meta: dict) -> DiTConfig:
    """A text-to-video sidecar fully checked: config, VAE and weaker model references, latent shape, sampling
    settings, noise; raises ValueError saying which field is wrong. Returns the DiT config."""
    config = _check_dit_config(meta.get("config"))
    _check_file_ref(meta.get("vae"), "vae")
    if "weak" in meta:
        _check_file_ref(meta["weak"], "weak")
    if meta.get("parameterisation", "flow") != "flow":
        raise ValueError(f"parameterisation must be 'flow' (velocity prediction), got {meta['parameterisation']!r}")
    shape = meta.get("latent_shape")
    pt, ph, pw = config.patch_size
    if not (isinstance(shape, (list, tuple)) and len(shape) == 4
            and all(isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096 for n in shape)
            and shape[0] == config.latent_channels and shape[1] % pt == 0 and shape[2] % ph == 0 and shape[3] % pw == 0):
        raise ValueError(f"latent_shape must be [z, t, h, w] with z = config.latent_channels "
                         f"({config.latent_channels}) and t, h, w multiples of the patch {config.patch_size}, got {shape!r}")
    if not isinstance(meta.get("sampling", {}), dict):
        raise ValueError(f"sampling must be an object, got {meta['sampling']!r}")
    check_settings(meta.get("sampling", {}))
    if meta.get("noise_correlation", 0.0) != 0.0:  # frame-correlated starting noise: not what this pipeline draws
        raise ValueError(f"noise_correlation is {meta['noise_correlation']!r}: minivid samples from i.i.d. noise only")
    return config


def resolve_path(path, near=None) -> Path:
    """A checkpoint path as given, else relative to `near` (a directory), else to the repository root."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [path] + ([Path(near) / path] if near else []) + [REPO_ROOT / path]
    for candidate in candidates:
        if candidate.with_name(candidate.name + ".json").exists() or candidate.exists():
            return candidate
    return path


def recorded_path_candidates(recorded, checkpoint) -> list[Path]:
    """Where a path a sidecar records may point: as is if absolute; else from the checkpoint's own folder and each
    folder above it (a repository-relative path such as data/vae/shapes), then the working directory, then the
    repository root."""
    recorded = Path(recorded)
    if recorded.is_absolute():
        return [recorded]
    folder = Path(checkpoint).absolute().parent
    found = [f / recorded for f in (folder, *folder.parents)] + [Path.cwd() / recorded, REPO_ROOT / recorded]
    return list(dict.fromkeys(found))


def find_recorded(recorded: str, sha256: str, checkpoint, kind: str, what: str) -> Path:
    """The first candidate of `recorded_path_candidates` whose sidecar records `sha256`, else CheckpointError."""
    seen = []
    for candidate in recorded_path_candidates(recorded, checkpoint):
        if not candidate.with_name(candidate.name + ".json").exists():
            continue
        try:
            found = read_meta(candidate, kind=kind)["sha256"]
        except CheckpointError as e:
            seen.append(f"{candidate}: {e}")
            continue
        if found == sha256:
            return candidate
        seen.append(f"{candidate} has {found[:12]}...")
    if not seen:
        raise CheckpointError(f"{checkpoint} needs the {what} {recorded!r}, which could not be found near it, in "
                              f"the working directory or in the repository")
    raise CheckpointError(f"{checkpoint} needs the {what} with sha256 {sha256[:12]}... (recorded as {recorded!r}), "
                          f"but {'; '.join(seen)}: use the matching file")


def noise_for(index: int, seed: int, shape, device) -> torch.Tensor:
    """The starting noise `c t h w` of prompt `index`: its own CPU generator seeded by (seed, index), so it never
    depends on the batch."""
    return torch.randn(tuple(shape), generator=noise_generator(seed, index)).to(device)


class TextToVideo:
    """A trained DiT + the VAE it was trained on; call it with prompts to get videos."""

    def __init__(self, dit: DiT, vae: VideoVAE, meta: dict, device=None, weak: DiT | None = None,
                 weak_meta: dict | None = None):
        self.device = as_device(device)
        self.dit, self.vae, self.meta = dit.to(self.device).eval(), vae.to(self.device).eval(), meta
        self.weak = weak.to(self.device).eval() if weak is not None else None  # autoguidance's weaker model
        self.weak_meta = weak_meta if weak is not None else None  # its sidecar
        self.parameterisation = meta.get("parameterisation", "flow")  # always "flow" (check_t2v_meta)
        self.latent_shape = tuple(meta["latent_shape"])  # z t' h' w' of a training clip
        try:
            self.defaults = check_settings({**sampling.DEFAULTS, "autoguidance": 0.0, **meta.get("sampling", {})})
        except ValueError as e:
            raise CheckpointError(f"the checkpoint's recommended sampling is invalid: {e}") from None
        if weak is None:
            self.defaults["autoguidance"] = 0.0  # loaded without its weaker model (weak_path=False): plain guidance
        self.given_level = meta.get("given_level")  # trained with given frames: their time; None: text only

    @property
    def canvas(self) -> tuple[int, int, int]:
        """(frames, height, width) of one window: the clips the model was trained on."""
        _, t, h, w = self.latent_shape
        s = self.vae.cfg.spatial_compression
        return 1 + (t - 1) * self.vae.cfg.temporal_compression, h * s, w * s

    @classmethod
    def from_pretrained(cls, path=DEFAULT_PATH, device=None, vae_path=None, weak_path=None) -> "TextToVideo":
        """Load a verified checkpoint (never unpickles code) and the VAE it names, checking that VAE's sha256.

        The weaker model for autoguidance is the one the sidecar names under "weak" (its sha256 checked), or
        `weak_path` (any text-to-video checkpoint on the same VAE); `weak_path=False` loads none.
        Raises `CheckpointError` if a file is missing, truncated, corrupt or edited, if the sidecar is invalid,
        if the weights do not fit the recorded config, or if the VAE found (or the weaker model's VAE) is not
        the one the DiT was trained on; ValueError for a device that is not there.
        """
        device = as_device(device)  # an unavailable device fails before anything is read
        path = resolve_path(path)
        dit, meta = cls._load_dit(path)
        if vae_path:
            vae_file = resolve_path(vae_path)
            found = read_meta(vae_file, kind="vae")["sha256"]
            if found != meta["vae"]["sha256"]:
                raise CheckpointError(f"{path} needs the VAE with sha256 {meta['vae']['sha256'][:12]}..., but "
                                      f"{vae_file} has {found[:12]}...: its latents would mean something else")
        else:
            vae_file = find_recorded(meta["vae"]["path"], meta["vae"]["sha256"], path, "vae", "VAE")
        vae = VideoVAE.from_pretrained(vae_file, device=device)  # verifies the file against its own sidecar
        weak, weak_meta = cls._load_weak(path, meta, weak_path)
        return cls(dit, vae, meta, device, weak=weak, weak_meta=weak_meta)

    @classmethod
    def _load_weak(cls, path, meta: dict, weak_path) -> tuple[DiT | None, dict | None]:
        """Autoguidance's weaker model: `weak_path`, else the one the sidecar names (sha256 checked), else none."""
        info = meta.get("weak")
        if weak_path is False or not (weak_path or info):
            return None, None
        if weak_path:
            weak_file = resolve_path(weak_path)
        else:
            weak_file = find_recorded(info["path"], info["sha256"], path, "t2v", "weaker model")
        weak, weak_meta = cls._load_dit(weak_file)
        if not same_latents(meta, weak_meta):
            raise CheckpointError(f"the weaker model {weak_file} was trained on other latents than {path} "
                                  "(another VAE); autoguidance needs both on the same")
        return weak, weak_meta

    @staticmethod
    def _load_dit(path) -> tuple[DiT, dict]:
        """A DiT checkpoint and its sidecar, checked (hash, every sidecar field, finite weights that fit it)."""
        tensors, meta = load_tensors(path, kind="t2v")
        try:
            config = check_t2v_meta(meta)
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: the sidecar is not a valid text-to-video checkpoint: {e}") from None
        bad = [k for k, v in tensors.items() if not (v.is_floating_point() and torch.isfinite(v).all())]
        if bad:
            raise CheckpointError(f"{path}: {len(bad)} weight tensor(s) are not finite floats (e.g. {bad[0]}): "
                                  "the model diverged or the file was made wrongly")
        dit = DiT(config)
        load_state_dict_strict(dit, {k: v.float() for k, v in tensors.items()}, where=str(path))
        return dit, meta

    # -- the denoiser -------------------------------------------------------------

    def latent_size(self, frames: int) -> tuple[int, int, int, int]:
        """(z, t', h', w') of a `frames`-frame clip; frames is 1 + a multiple of the VAE's time compression."""
        frames = check_int("frames", frames)
        z, _, h, w = self.latent_shape
        ft = self.vae.cfg.temporal_compression
        if (frames - 1) % ft:
            raise ValueError(f"frames must be 1 + a multiple of {ft} (e.g. 17 or 33), got {frames}")
        return z, 1 + (frames - 1) // ft, h, w

    def _init_latents(self, init_video, strength, b: int):
        """init_video (B or 1, T, 3, H, W) -> clean latents b z t' h' w' and the start time t = strength."""
        strength = DEFAULT_STRENGTH if strength is None else check_real("strength", strength)
        if not isinstance(init_video, torch.Tensor) or not init_video.is_floating_point():
            got = f"a {init_video.dtype} tensor" if isinstance(init_video, torch.Tensor) else type(init_video).__name__
            raise ValueError(f"init_video must be a float tensor (B, T, 3, H, W) in [0, 1], got {got}")
        if init_video.numel() and not (init_video.min() >= 0 and init_video.max() <= 1):
            raise ValueError(f"init_video must hold values in [0, 1] (as world.render and the pipeline give), got "
                             f"{init_video.min().item():.3g}..{init_video.max().item():.3g}")
        if init_video.ndim == 5 and init_video.shape[0] not in (1, b):
            raise ValueError(f"init_video has {init_video.shape[0]} clips for {b} prompts; give one per prompt "
                             "or one for all")
        size = tuple(n * self.vae.cfg.spatial_compression for n in self.latent_shape[2:])
        if init_video.ndim == 5 and tuple(init_video.shape[3:]) != size:
            raise ValueError(f"init_video frames must be {size[0]} x {size[1]} pixels (the size the model was "
                             f"trained on), got {init_video.shape[3]} x {init_video.shape[4]}")
        x0 = self.vae.encode_clips(init_video.to(self.device))  # checks the layout b t c h w, says what is wrong
        return x0.expand(b, *x0.shape[1:]), strength

    def settings(self, steps=None, guidance=None, sampler=None, shift=None, autoguidance=None) -> dict:
        """The sampling settings a call uses: those given (checked), the checkpoint's for the rest."""
        given = {"steps": steps, "guidance": guidance, "sampler": sampler, "shift": shift, "autoguidance": autoguidance}
        chosen = {**self.defaults, **check_settings({k: v for k, v in given.items() if v is not None})}
        if chosen["autoguidance"] != 0 and self.weak is None:
            raise ValueError(f"autoguidance={chosen['autoguidance']} needs a weaker model: this pipeline was loaded "
                             "without one (load with from_pretrained(..., weak_path=...), or pass autoguidance=0)")
        return chosen

    @torch.no_grad()
    def sample_latents(self, prompts, steps=None, guidance=None, seed=0, sampler=None, frames=17, shift=None,
                       progress=False, init_video=None, strength=None, autoguidance=None, given=None) -> torch.Tensor:
        """Latents (B, z, t', h', w') for the prompts (validated first); see `__call__` for init_video.

        `given`: (latents (B z t' h' w'), mask (B t') bool) of latent frames kept as they are, the others drawn
        (`sampling.given_frames`; `minivid.story` uses it for image-to-video and extension)."""
        prompts = check_prompts(prompts)
        s = self.settings(steps, guidance, sampler, shift, autoguidance)
        seed = check_int("seed", seed)
        b, device = len(prompts), self.device
        if init_video is None:
            if strength is not None:
                raise ValueError("strength only applies when editing a clip: pass init_video as well")
            x0, t_start, shape = None, 1.0, self.latent_size(frames)
        else:
            x0, t_start = self._init_latents(init_video, strength, b)
            shape = tuple(x0.shape[1:])

        x = torch.stack([noise_for(i, seed, shape, device) for i in range(b)])
        if x0 is not None:  # SDEdit (Meng et al. 2022): noise the clip to t_start along the training path
            x = add_noise(x0, x, torch.full((b,), t_start, device=device))
        ids, mask = (t.to(device) for t in encode_batch(prompts))
        null_ids, null_mask = (t.to(device) for t in encode_batch([None] * b))
        dit, weak = self.dit, self.weak
        if given is not None:
            x_given, kept = (v.to(device) for v in given)
            dit = sampling.given_frames(dit, x_given, kept, self.given_level, eps=x)
            weak = None if weak is None else sampling.given_frames(weak, x_given, kept, self.given_level, eps=x)
        fn = sampling.autoguidance(dit, weak, (ids, mask), (null_ids, null_mask), s["guidance"], s["autoguidance"])
        ts = sampling.truncate_timesteps(sampling.flow_timesteps(s["steps"], shift=s["shift"], device=device), t_start)
        run = sampling.heun_sample if s["sampler"] == "heun" else sampling.euler_sample
        with tqdm(total=len(ts) - 1, disable=not progress, desc=f"{s['sampler']} x{s['steps']}") as bar:
            out = run(fn, x, ts, callback=lambda *_: bar.update(1))
        if not torch.isfinite(out).all():
            raise FloatingPointError("sampling gave non-finite latents; the checkpoint's weights are unusable with "
                                     f"these settings ({s})")
        if given is not None:  # the given frames clean, as they came
            out = torch.where(kept[:, None, :, None, None], x_given, out)
        return out

    @torch.no_grad()
    def __call__(self, prompts, steps=None, guidance=None, seed=0, sampler=None, frames=17, shift=None,
                 progress=False, init_video=None, strength=None, autoguidance=None, image=None) -> torch.Tensor:
        """Videos (B, T, 3, H, W), float in [0, 1], for a prompt or a list of prompts (English or Chinese).

        steps / guidance / sampler / shift / autoguidance default to the checkpoint's
        recommended settings (20 Euler steps; see `self.defaults`). Same seed + prompt +
        position -> the same video. Ranges: `LIMITS`; anything else raises a ValueError.

        Editing instead of drawing (SDEdit): pass `init_video` (B, T, 3, H, W) in
        [0, 1], one clip per prompt or one for all, and `strength` in [0, 1]
        (default 0.6): how much noise is put on the clip before the model finishes
        it under the prompt. 0 gives the clip back through the VAE, 1 ignores it
        (exactly ordinary sampling). The clip sets the frame count (`frames` is
        not used) and is encoded by the checkpoint's VAE.

        Long videos (`minivid.story`, a checkpoint trained with given frames): a story prompt
        (`..., then ...`, `...; cut to ...`) gives 16n + 1 frames for n segments; `frames` = 16n + 1
        for a single prompt continues its motion for n segments (a clear error where it cannot, e.g.
        a shape that would leave the canvas); `image` (3, H, W) or (B, 3, H, W) in [0, 1] is the
        first frame to start from.
        """
        prompts, frames = check_prompts(prompts, stories=True), check_int("frames", frames)
        if image is not None or frames > self.canvas[0] or any(len(split_story(p)) > 1 for p in prompts):
            if init_video is not None or strength is not None:
                raise ValueError("init_video and strength edit one 17-frame clip; they do not combine with image=, "
                                 "story prompts or frames > 17")
            return self._stories(prompts, steps, guidance, seed, sampler, frames, shift, progress, autoguidance, image)
        latents = self.sample_latents(prompts, steps, guidance, seed, sampler, frames, shift, progress,
                                      init_video, strength, autoguidance)
        return self.vae.decode_latents(latents).float().cpu()

    def _stories(self, prompts, steps, guidance, seed, sampler, frames, shift, progress, autoguidance, image):
        """Stories, long clips and image-to-video, window by window (`minivid.story`)."""
        teller = story.StoryTeller(self, steps, guidance, sampler, shift, autoguidance)
        if image is not None:
            image = story.check_image(image, *self.canvas[1:])
            if len(image) not in (1, len(prompts)):
                raise ValueError(f"image has {len(image)} frames for {len(prompts)} prompts; give one per prompt "
                                 "or one for all")
        if frames > self.canvas[0]:
            if any(len(split_story(p)) > 1 for p in prompts):
                raise ValueError("a story's length is set by its segments (16n + 1 frames); leave frames out")
            prompts = [story.repeated_story(p, frames) for p in prompts]
        clips = [teller.tell(p, seed=check_int("seed", seed), index=i, progress=progress,
                             image=None if image is None else image[i % len(image)]) for i, p in enumerate(prompts)]
        if len({len(c) for c in clips}) > 1:
            raise ValueError(f"the prompts make clips of {sorted({len(c) for c in clips})} frames; "
                             "one call draws stories of one length")
        return torch.stack(clips)

    @torch.no_grad()
    def extend(self, video, prompt: str, seed: int = 0, steps=None, guidance=None, sampler=None, shift=None,
               autoguidance=None) -> torch.Tensor:
        """`video` (T, 3, H, W) or (B, T, 3, H, W) in [0, 1], 16 frames longer: the next segment, `prompt`,
        drawn from its last frame (one window with that frame given)."""
        teller = story.StoryTeller(self, steps, guidance, sampler, shift, autoguidance)
        if not isinstance(video, torch.Tensor) or video.ndim not in (4, 5):
            raise ValueError("video must be a tensor (T, 3, H, W) or (B, T, 3, H, W) in [0, 1]")
        seed = check_int("seed", seed)
        if video.ndim == 4:
            return teller.extend(video, prompt, seed)
        return torch.stack([teller.extend(v, prompt, seed, index=i) for i, v in enumerate(video)])
