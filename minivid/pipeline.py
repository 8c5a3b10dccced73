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

Samplers. The shipped checkpoint is a flow-matching (velocity) model, so its
native samplers are "euler" and "heun". "ddim" is accepted and runs Euler: for the
straight path x_t = (1 - t) x0 + t eps, a deterministic DDIM step
(x_s = (1 - s) x0_hat + s eps_hat with x0_hat = x_t - t v, eps_hat = x_t + (1 - t) v)
simplifies to x_s = x_t + (s - t) v, which is exactly an Euler step. "ddpm"
(ancestral sampling on a discrete noise schedule) needs an epsilon-prediction
checkpoint and raises a ValueError naming the samplers this one supports; an
epsilon checkpoint ("parameterisation": "eps") runs "ddim" and "ddpm" natively.
"""
from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from . import sampling
from .checkpoint import (CheckpointError, load_state_dict_strict, load_tensors, noise_correlation, read_meta,
                         same_latents, same_noise)
from .device import as_device
from .diffusion import add_noise, make_alphas_cumprod, mixed_noise
from .dit import DiT, DiTConfig
from . import story
from .text import encode_batch, parse_prompt, split_story
from .vae import VideoVAE

DEFAULT_PATH = "data/t2v/shapes"
REPO_ROOT = Path(__file__).resolve().parents[1]
FLOW_SAMPLERS = ("euler", "heun", "ddim")  # ddim == euler for a flow model (see the module docstring)
EPS_SAMPLERS = ("ddim", "ddpm")
DEFAULT_STRENGTH = 0.6  # editing: noise level a clip is redrawn from when none is given (SDEdit's middle ground)


def resolve_path(path, near=None) -> Path:
    """A checkpoint path as given, else relative to `near` (a directory), else to the repository root."""
    path = Path(path)
    candidates = [path] if path.is_absolute() else [path] + ([Path(near) / path] if near else []) + [REPO_ROOT / path]
    for candidate in candidates:
        if candidate.with_name(candidate.name + ".json").exists() or candidate.exists():
            return candidate
    return path


def noise_for(index: int, seed: int, shape, device, correlation: float = 0.0) -> torch.Tensor:
    """The starting noise `c t h w` of prompt `index`: its own CPU generator seeded by (seed, index), so it never
    depends on the batch. `correlation`: the frames' correlation the model was trained with (`mixed_noise`)."""
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(index))
    eps = torch.randn(tuple(shape), generator=g)
    if correlation:  # c 1 h w, drawn after eps: the same seed's i.i.d. part stays the same
        eps = mixed_noise(eps, torch.randn((shape[0], 1, *shape[2:]), generator=g), correlation)
    return eps.to(device)


def _as_prompts(prompts) -> list[str]:
    return [prompts] if isinstance(prompts, str) else list(prompts)


class TextToVideo:
    """A trained DiT + the VAE it was trained on; call it with prompts to get videos."""

    def __init__(self, dit: DiT, vae: VideoVAE, meta: dict, device=None, weak: DiT | None = None,
                 weak_meta: dict | None = None):
        self.device = as_device(device)
        self.dit, self.vae, self.meta = dit.to(self.device).eval(), vae.to(self.device).eval(), meta
        self.weak = weak.to(self.device).eval() if weak is not None else None  # autoguidance's weaker model
        self.weak_meta = weak_meta if weak is not None else None  # its sidecar
        self.parameterisation = meta.get("parameterisation", "flow")
        self.latent_shape = tuple(meta["latent_shape"])  # z t' h' w' of a training clip
        self.noise_correlation = noise_correlation(meta)  # of the noise it was trained from
        self.defaults = {"sampler": "euler", "steps": 20, "guidance": 4.0, "shift": 1.0, "autoguidance": 0.0,
                         **meta.get("sampling", {})}
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
        Raises `CheckpointError` if a file is missing, truncated or corrupt, if the
        weights do not fit the recorded config, or if the VAE found (or the weaker
        model's VAE) is not the one the DiT was trained on.
        """
        path = resolve_path(path)
        dit, meta = cls._load_dit(path)
        vae_info = meta["vae"]
        vae_file = resolve_path(vae_path or vae_info["path"], near=Path(path).parent)
        try:
            found = read_meta(vae_file, kind="vae")["sha256"]
        except CheckpointError as e:
            raise CheckpointError(f"{path} needs the VAE {vae_info['path']!r}, which could not be read: {e}") from None
        if found != vae_info["sha256"]:
            raise CheckpointError(
                f"{path} was trained on the VAE with sha256 {vae_info['sha256'][:12]}..., but {vae_file} has "
                f"{found[:12]}...: its latents would mean something else; use the matching VAE")
        vae = VideoVAE.from_pretrained(vae_file, device=device)  # verifies the file against its own sidecar

        weak, weak_meta, weak_info = None, None, meta.get("weak")
        if weak_path is not False and (weak_path or weak_info):
            weak_file = resolve_path(weak_path or weak_info["path"], near=Path(path).parent)
            weak, weak_meta = cls._load_dit(weak_file)
            if not weak_path and weak_meta["sha256"] != weak_info["sha256"]:
                raise CheckpointError(
                    f"{path} names the weaker model {weak_info['path']!r} with sha256 {weak_info['sha256'][:12]}..., "
                    f"but {weak_file} has {weak_meta['sha256'][:12]}...; use the matching file")
            if not same_latents(meta, weak_meta):
                raise CheckpointError(f"the weaker model {weak_file} was trained on other latents than {path} "
                                      "(another VAE); autoguidance needs both on the same")
            if weak_meta.get("parameterisation", "flow") != meta.get("parameterisation", "flow"):
                raise CheckpointError(f"the weaker model {weak_file} predicts another quantity than {path}")
            if not same_noise(meta, weak_meta):
                raise CheckpointError(f"the weaker model {weak_file} was trained from other noise than {path} "
                                      f"(frame correlation {noise_correlation(weak_meta)} vs "
                                      f"{noise_correlation(meta)}); autoguidance needs the same")
        return cls(dit, vae, meta, device, weak=weak, weak_meta=weak_meta)

    @staticmethod
    def _load_dit(path) -> tuple[DiT, dict]:
        """A DiT checkpoint and its sidecar, checked (hash, config, weights that fit it)."""
        tensors, meta = load_tensors(path, kind="t2v")
        try:
            config = DiTConfig.from_dict(meta["config"])
            parameterisation = meta.get("parameterisation", "flow")
            meta["vae"]["path"], meta["vae"]["sha256"], meta["latent_shape"]
            if "weak" in meta:
                meta["weak"]["path"], meta["weak"]["sha256"]
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: the sidecar is not a valid text-to-video checkpoint: {e}") from None
        if parameterisation not in ("flow", "eps"):
            raise CheckpointError(f"{path}: unknown parameterisation {parameterisation!r} (expected 'flow' or 'eps')")
        noise_correlation(meta, where=str(path))  # a number in [0, 1), else CheckpointError
        dit = DiT(config)
        load_state_dict_strict(dit, {k: v.float() for k, v in tensors.items()}, where=str(path))
        return dit, meta

    # -- the denoiser -------------------------------------------------------------

    def _check_sampler(self, sampler: str) -> str:
        supported = FLOW_SAMPLERS if self.parameterisation == "flow" else EPS_SAMPLERS
        if sampler not in supported:
            raise ValueError(
                f"sampler {sampler!r} is not available for this {self.parameterisation!r} checkpoint; "
                f"it supports {', '.join(supported)}"
                + (" ('ddim' runs Euler, its exact equivalent for a flow model; 'ddpm' needs an "
                   "epsilon-prediction checkpoint)" if self.parameterisation == "flow" else ""))
        return sampler

    def latent_size(self, frames: int) -> tuple[int, int, int, int]:
        z, _, h, w = self.latent_shape
        ft = self.vae.cfg.temporal_compression
        if frames < 1 or (frames - 1) % ft:
            raise ValueError(f"frames must be 1 + a multiple of {ft} (e.g. 17 or 33), got {frames}")
        return z, 1 + (frames - 1) // ft, h, w

    def _init_latents(self, init_video, strength, b: int):
        """init_video (B or 1, T, 3, H, W) -> clean latents b z t' h' w' and the start time t = strength."""
        strength = DEFAULT_STRENGTH if strength is None else float(strength)
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1] (0 keeps the clip, 1 ignores it), got {strength}")
        if self.parameterisation != "flow":
            raise ValueError("init_video (SDEdit) needs a flow-matching checkpoint; this one is "
                             f"{self.parameterisation!r}")
        if not isinstance(init_video, torch.Tensor) or not init_video.is_floating_point():
            got = f"a {init_video.dtype} tensor" if isinstance(init_video, torch.Tensor) else type(init_video).__name__
            raise ValueError(f"init_video must be a float tensor (B, T, 3, H, W) in [0, 1], got {got}")
        if init_video.numel() and not (init_video.min() >= 0 and init_video.max() <= 1):
            raise ValueError(f"init_video must hold values in [0, 1] (as world.render and the pipeline give), got "
                             f"{init_video.min().item():.3g}..{init_video.max().item():.3g}")
        if init_video.ndim == 5 and init_video.shape[0] not in (1, b):
            raise ValueError(f"init_video has {init_video.shape[0]} clips for {b} prompts; give one per prompt "
                             "or one for all")
        x0 = self.vae.encode_clips(init_video.to(self.device))  # checks the layout b t c h w, says what is wrong
        return x0.expand(b, *x0.shape[1:]), strength

    @torch.no_grad()
    def sample_latents(self, prompts, steps=None, guidance=None, seed=0, sampler=None, frames=17, shift=None,
                       progress=False, init_video=None, strength=None, autoguidance=None, given=None) -> torch.Tensor:
        """Latents (B, z, t', h', w') for the prompts (validated first); see `__call__` for init_video.

        `given`: (latents (B z t' h' w'), mask (B t') bool) of latent frames kept as they are, the others drawn
        (`sampling.given_frames`; `minivid.story` uses it for image-to-video and extension)."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        if not prompts:
            raise ValueError("give at least one prompt")
        for p in prompts:
            parse_prompt(p)  # raises PromptError with a clear message
        steps = int(self.defaults["steps"] if steps is None else steps)
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        guidance = float(self.defaults["guidance"] if guidance is None else guidance)
        shift = float(self.defaults["shift"] if shift is None else shift)
        autoguidance = float(self.defaults["autoguidance"] if autoguidance is None else autoguidance)
        if autoguidance != 0 and self.weak is None:
            raise ValueError(f"autoguidance={autoguidance} needs a weaker model: this pipeline was loaded without one "
                             "(load with from_pretrained(..., weak_path=...), or pass autoguidance=0)")
        sampler = self._check_sampler(self.defaults["sampler"] if sampler is None else sampler)
        b, device = len(prompts), self.device
        if init_video is None:
            if strength is not None:
                raise ValueError("strength only applies when editing a clip: pass init_video as well")
            x0, t_start = None, 1.0
            shape = self.latent_size(frames)
        else:
            x0, t_start = self._init_latents(init_video, strength, b)
            shape = tuple(x0.shape[1:])

        x = torch.stack([noise_for(i, seed, shape, device, self.noise_correlation) for i in range(b)])
        if x0 is not None:  # SDEdit (Meng et al. 2022): noise the clip to t_start along the training path
            x = add_noise(x0, x, torch.full((b,), t_start, device=device))
        ids, mask = (t.to(device) for t in encode_batch(prompts))
        null_ids, null_mask = (t.to(device) for t in encode_batch([None] * b))
        bar = tqdm(total=steps, disable=not progress, desc=f"{sampler} x{steps}")

        def callback(*_):
            bar.update(1)

        dit, weak = self.dit, self.weak
        if given is not None:
            x_given, kept = (v.to(device) for v in given)
            dit = sampling.given_frames(dit, x_given, kept, self.given_level, eps=x)
            weak = None if weak is None else sampling.given_frames(weak, x_given, kept, self.given_level, eps=x)
        if self.parameterisation == "flow":
            fn = sampling.autoguidance(dit, weak, (ids, mask), (null_ids, null_mask), guidance, autoguidance)
            ts = sampling.truncate_timesteps(sampling.flow_timesteps(steps, shift=shift, device=device), t_start)
            bar.total = len(ts) - 1  # fewer steps when editing from t_start < 1
            run = sampling.heun_sample if sampler == "heun" else sampling.euler_sample
            out = run(fn, x, ts, callback=callback)
        else:
            num_train = int(self.meta.get("num_train_steps", 1000))
            abar = make_alphas_cumprod(num_train, self.meta.get("schedule", "cosine")).to(device)
            eps_model = sampling.ddpm_model_fn(self.dit, num_train)
            weak_model = sampling.ddpm_model_fn(self.weak, num_train) if self.weak is not None else None
            fn = sampling.autoguidance(eps_model, weak_model, (ids, mask), (null_ids, null_mask), guidance, autoguidance)
            ks = sampling.ddpm_timesteps(num_train, steps, device=device)
            if sampler == "ddim":
                out = sampling.ddim_sample(fn, x, abar, ks, callback=callback)
            else:
                g = torch.Generator(device=device).manual_seed(int(seed))
                out = sampling.ddpm_sample(fn, x, abar, ks, generator=g, callback=callback)
        bar.close()
        if given is not None:  # the given frames clean, as they came
            out = torch.where(kept[:, None, :, None, None], x_given, out)
        return out

    @torch.no_grad()
    def __call__(self, prompts, steps=None, guidance=None, seed=0, sampler=None, frames=17, shift=None,
                 progress=False, init_video=None, strength=None, autoguidance=None, image=None) -> torch.Tensor:
        """Videos (B, T, 3, H, W), float in [0, 1], for a prompt or a list of prompts (English or Chinese).

        steps / guidance / sampler / shift / autoguidance default to the checkpoint's
        recommended settings (20 Euler steps; see `self.defaults`). Same seed + prompt +
        position -> the same video.

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
        if image is not None or frames != self.canvas[0] or any(len(split_story(p)) > 1 for p in _as_prompts(prompts)):
            return self._stories(prompts, steps, guidance, seed, sampler, frames, shift, progress, autoguidance, image)
        latents = self.sample_latents(prompts, steps, guidance, seed, sampler, frames, shift, progress,
                                      init_video, strength, autoguidance)
        return self.vae.decode_latents(latents).float().cpu()

    def _stories(self, prompts, steps, guidance, seed, sampler, frames, shift, progress, autoguidance, image):
        """Stories, long clips and image-to-video, window by window (`minivid.story`)."""
        prompts = _as_prompts(prompts)
        teller = story.StoryTeller(self, steps, guidance, sampler, shift, autoguidance)
        if image is not None:
            image = story.check_image(image, *self.canvas[1:])
            if len(image) not in (1, len(prompts)):
                raise ValueError(f"image has {len(image)} frames for {len(prompts)} prompts; give one per prompt "
                                 "or one for all")
        if frames != self.canvas[0]:
            if any(len(split_story(p)) > 1 for p in prompts):
                raise ValueError("a story's length is set by its segments (16n + 1 frames); leave frames out")
            prompts = [story.repeated_story(p, frames) for p in prompts]
        clips = [teller.tell(p, seed=seed * 1_000 + i, progress=progress,
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
        if video.ndim == 4:
            return teller.extend(video, prompt, seed)
        return torch.stack([teller.extend(v, prompt, seed * 1_000 + i) for i, v in enumerate(video)])
