"""Training, one subcommand per stage of the pipeline.

    python -m minivid.train recipe shapes --out runs/recipes/shapes   # every stage of the shipped model, resumable
    python -m minivid.train vae --steps 4500 --out runs/vae --export runs/vae/shapes
    python -m minivid.train cache-latents --vae data/vae/shapes --n 20000 --out runs/latents/train
    python -m minivid.train t2v --threads 1 --out runs/t2v/edges --export runs/t2v/edges/shapes
    python -m minivid.train t2v --init-from runs/t2v/edges/shapes --seed 1 --lr 3e-4 --out runs/t2v/more  # continue
    torchrun --nproc_per_node 2 -m minivid.train t2v ...      # data parallel (gloo on CPU, nccl on GPU)

Every stage follows the same rules:

- Seeded and deterministic on the CPU: batch k is a pure function of
  (data_seed, k) (ShapesWorld clips k*B .. (k+1)*B-1), the model is initialised
  from `seed`, and the only other randomness (the VAE's posterior noise) comes
  from a generator whose state is checkpointed.
- Periodic, atomic training-state checkpoints in the run directory (see
  `minivid/checkpoint.py`); `--resume` continues from the newest one and ends
  with exactly the weights an uninterrupted run would have produced. A run
  directory belongs to one run (`minivid/runs.py`).
- At the end the shipped format is exported: X.safetensors + X.json.

Stage "vae" trains the video VAE (`minivid/vae.py`); stage "cache-latents"
encodes clips once so that DiT training never runs the encoder again
(`minivid/latents.py`); stage "t2v" trains the text-to-video DiT with flow
matching on those cached latents (encoding them first if no cache for this VAE
exists; the auxiliary text loss is in `minivid/text_aux.py`), "export-t2v"
ships the EMA weights of a run's newest training state, "name-weak" records in
a shipped model's sidecar the weaker model that autoguidance pulls away from
(`pipeline.TextToVideo`, `sampling.autoguidance`), and "recipe" runs a named
chain of these stages (`minivid/recipes.py`).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import math
import os
import sys
from dataclasses import InitVar, asdict, dataclass
from pathlib import Path

import torch
from einops import rearrange

from .checkpoint import (CheckpointError, latest_training_state, load_state_dict_strict, load_tensors, read_meta,
                         same_latents, save_tensors, save_training_state, write_meta)
from .device import as_device, autocast_context, device_name, uses_bf16_autocast
from .diffusion import flow_matching_loss, logit_normal_timesteps, shift_time
from .dit import DIT_PRESETS, DiT, DiTConfig
from .latents import LatentCache, cache_latents, load_latents
from .runs import (Clock, RunDir, RunError, check_fields, check_resumable, check_stop_at, field_comments, lr_at,
                   restore, resume_point, run_steps)
from .sampling import DEFAULTS as DEFAULT_SAMPLING
from .seeds import VAL_SEED, step_generator
from .text import MAX_PROMPT_TOKENS, encode_batch, parse_prompt
from .text import vocab_size as text_vocab_size
from .text_aux import PAIRS, caption_token_labels, text_aux_loss
from .vae import VAE_PRESETS, VideoVAE, psnr
from .world import CAPTION_TEMPLATES, ROTATIONS, ShapesWorld, StoryError, caption, sample_random_story

__all__ = ["VAETrainConfig", "T2VTrainConfig", "train_vae", "train_t2v", "export_from_run", "name_weak_model", "main",
           "lr_at", "check_resumable", "step_generator", "VAL_SEED"]


def where_trained(device: str | torch.device, bf16: bool) -> dict:
    """What both trainers record beside their numbers: where the run computed (e.g. "cpu", "cuda (NVIDIA H200)")
    and whether bf16 autocast really ran there. `--bf16` only asks for it: it is a no-op on a CPU without native
    bf16 (AVX2 only), and a run's speed and numbers depend on which."""
    return {"trained_on": device_name(device), "bf16_autocast": uses_bf16_autocast(device, bf16)}


def check_target(path, kind: str, flag: str) -> None:
    """Before any work: make sure checkpoint `path` can be written (its folder made), and refuse to write a `kind`
    checkpoint over an existing checkpoint of another kind (e.g. a latent cache over the shipped VAE): that is never
    what a command line asked for."""
    if path is None:
        return
    parent = Path(path).parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RunError(f"cannot write {flag} {path}: {e.strerror or e}") from None
    if not os.access(parent, os.W_OK):
        raise RunError(f"cannot write {flag} {path}: {parent} is not writable")
    if not Path(f"{path}.json").exists():
        return
    try:
        found = read_meta(path).get("kind")
    except CheckpointError:
        return  # not a readable checkpoint: the atomic write replaces it
    if found != kind:
        raise RunError(f"{flag} {path} holds a {found!r} checkpoint; writing a {kind!r} one there would replace it: "
                       f"choose another {flag}")


# ----------------------------------------------------------------------------
# Stage 1: the video VAE


@dataclass
class VAETrainConfig:
    """How the VAE is trained. Every field is also a command-line flag (`--batch-size` ...)."""

    preset: str = "shapes"  # architecture: a key of vae.VAE_PRESETS
    steps: int = 4500  # optimiser steps
    batch_size: int = 8  # clips (17 x 32 x 32) per step
    lr: float = 1e-3  # peak AdamW learning rate
    warmup_steps: int = 200  # linear warm-up from 0, then cosine decay ...
    min_lr_ratio: float = 0.02  # ... down to lr * min_lr_ratio at the last step
    weight_decay: float = 0.0  # AdamW weight decay (the data are endless: none needed)
    grad_clip: float = 1.0  # max global gradient norm
    mse_weight: float = 1.0  # weight of the reconstruction MSE (what PSNR measures)
    l1_weight: float = 0.0  # weight of an optional reconstruction L1
    kl_weight: float = 1e-5  # weight of the KL term: small, a smooth latent without blurring reconstructions
    seed: int = 0  # model initialisation and posterior noise
    data_seed: int = 0  # ShapesWorld seed of the training stream
    two_object_prob: float = 0.5  # share of two-object clips
    bf16: bool = True  # bf16 autocast where the device runs it natively
    val_clips: int = 128  # fixed validation clips (3/4 seen combinations, 1/4 held-out), never trained on
    val_every: int = 250  # steps between validation PSNR measurements
    checkpoint_every: int = 250  # steps between training-state checkpoints
    scale_clips: int = 512  # clips used to measure the latent scaling factor at the end
    init_from: str = ""  # start from this VAE checkpoint instead of random weights
    freeze_encoder: bool = False  # train the decoder only: latents and the scaling factor stay exactly as they were


VAE_FIELD_RULES = {"steps": "count", "batch_size": "count", "lr": "positive", "warmup_steps": "count0",
                   "min_lr_ratio": "fraction", "weight_decay": "nonnegative", "grad_clip": "positive",
                   "mse_weight": "nonnegative", "l1_weight": "nonnegative", "kl_weight": "nonnegative", "seed": "seed",
                   "data_seed": "seed", "two_object_prob": "fraction", "val_clips": "count", "val_every": "count",
                   "checkpoint_every": "count", "scale_clips": "count"}
DATA_LENGTH = 10**12  # the training stream is effectively endless: clip i depends only on (seed, i)
RESUMABLE_DIFFERENCES = {"val_every", "checkpoint_every"}  # fields a resumed run may change without changing it


def clip_batch(dataset, start: int, size: int) -> torch.Tensor:
    """Clips start .. start+size-1 of `dataset`, rendered in one call: b t c h w in [0, 1]."""
    return torch.stack([item["video"] for item in dataset.__getitems__(list(range(start, start + size)))])


def validation_clips(n: int, seed: int = VAL_SEED) -> torch.Tensor:
    """n fixed clips: 3/4 from the training combinations, 1/4 held-out ones (b t c h w)."""
    held = n // 4
    seen = clip_batch(ShapesWorld(n, "train", seed), 0, n - held)
    if not held:
        return seen
    return torch.cat([seen, clip_batch(ShapesWorld(n, "heldout", seed), 0, held)])


@torch.no_grad()
def reconstruct(vae: VideoVAE, clips: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
    """Encode (posterior mean) and decode clips b t c h w in [0, 1], in fp32 like the shipped model runs."""
    was_training = vae.training
    vae.eval()
    device = vae.scaling_factor.device
    out = [vae.decode_latents(vae.encode_clips(c.to(device))).cpu() for c in clips.split(batch_size)]
    vae.train(was_training)
    return torch.cat(out)


@torch.no_grad()
def measure_scaling_factor(vae: VideoVAE, clips: torch.Tensor, batch_size: int = 32) -> float:
    """1 / std of the (unscaled) posterior means over `clips`: makes the DiT's latents unit-variance."""
    old = vae.scaling_factor.clone()
    vae.scaling_factor.fill_(1.0)
    device = old.device
    z = torch.cat([vae.encode_clips(c.to(device)).float().cpu() for c in clips.split(batch_size)])
    vae.scaling_factor.copy_(old)
    return 1.0 / z.std().item()


def check_vae_config(cfg: VAETrainConfig) -> None:
    """Every field in its range, named as its flag (before anything is read or written)."""
    check_fields(cfg, VAE_FIELD_RULES)
    if cfg.preset not in VAE_PRESETS:
        raise RunError(f"--preset must be one of {sorted(VAE_PRESETS)}, got {cfg.preset!r}")
    if cfg.freeze_encoder and not cfg.init_from:
        raise RunError("--freeze-encoder needs --init-from: a random encoder would stay random")


def vae_model(cfg: VAETrainConfig, device) -> tuple[VideoVAE, dict | None]:
    """The VAE to train: random weights from `cfg.seed`, or those of `cfg.init_from` (then also its sidecar)."""
    torch.manual_seed(cfg.seed)
    model = VideoVAE(VAE_PRESETS[cfg.preset]).to(device)
    base_meta = None
    if cfg.init_from:  # fine-tuning: start from a trained VAE of the same architecture
        base_meta = read_meta(cfg.init_from, kind="vae")  # the weights' story, recorded with the fine-tune
        start_from = VideoVAE.from_pretrained(cfg.init_from)
        if start_from.cfg != model.cfg:
            raise RunError(f"--init-from {cfg.init_from} is not a {cfg.preset!r} VAE: {start_from.cfg}")
        model.load_state_dict(start_from.state_dict())
    model.encoder.requires_grad_(not cfg.freeze_encoder)
    return model, base_meta


def vae_loss(cfg: VAETrainConfig, model: VideoVAE, clips: torch.Tensor, generator, device) -> tuple:
    """(loss, its parts for the log) of one batch of clips b t c h w in [0, 1]."""
    x = rearrange(clips.to(device), "b t c h w -> b c t h w") * 2.0 - 1.0  # model layout, [-1, 1]
    with autocast_context(device, cfg.bf16):
        recon, posterior = model(x, generator=generator)
    err = recon.float() - x
    mse, l1, kl = err.square().mean(), err.abs().mean(), posterior.kl()
    loss = cfg.mse_weight * mse + cfg.l1_weight * l1 + cfg.kl_weight * kl
    mse01 = ((recon.detach().float().clamp(-1, 1) - x) / 2).square().mean()  # in [0, 1] pixels, for PSNR
    return loss, {"mse": mse, "l1": l1, "kl": kl, "mse01": mse01, "logvar": posterior.logvar.mean()}


def vae_step(cfg: VAETrainConfig, model: VideoVAE, optimizer, generator, device, parts: dict):
    """One optimiser step on batch k (clips k*B .. (k+1)*B-1 of the training stream): returns the loss, keeps its
    parts in `parts`."""
    data = ShapesWorld(DATA_LENGTH, "train", cfg.data_seed, two_object_prob=cfg.two_object_prob)
    trainable = [p for group in optimizer.param_groups for p in group["params"]]

    def step(k: int) -> torch.Tensor:
        loss, found = vae_loss(cfg, model, clip_batch(data, k * cfg.batch_size, cfg.batch_size), generator, device)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        optimizer.step()
        parts.update(found)
        return loss

    return step


def train_vae(
    cfg: VAETrainConfig,
    out_dir,
    resume: bool = False,
    export=None,
    device=None,
    progress: bool = True,
    stop_at: int | None = None,
    export_dtype: torch.dtype | None = torch.float16,
) -> VideoVAE:
    """Train a VAE as `cfg` says, checkpointing into `out_dir`; export the shipped format to `export`.

    `resume`: continue from the newest valid training state in `out_dir` (fresh start if there is none).
    `stop_at`: stop after that many steps as if killed right after a checkpoint (for tests, or to split a run)."""
    check_vae_config(cfg)
    check_stop_at(stop_at)
    check_target(export, "vae", "--export")
    device = as_device(device)
    with RunDir(out_dir, resume) as run:
        model, base_meta = vae_model(cfg, device)
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                      betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
        generator = torch.Generator(device=device).manual_seed(cfg.seed + 1)  # posterior noise
        depends = {} if base_meta is None else {"init_from": base_meta["sha256"]}
        meta = resume_point(run.latest_state(), lambda c: VAETrainConfig(**c), cfg, RESUMABLE_DIFFERENCES, depends)
        start, elapsed, history = restore(run, meta, model, optimizer, generator)
        val = validation_clips(cfg.val_clips)
        run.begin(asdict(cfg), start)
        clock, parts = Clock(elapsed), {}
        optimiser_step = vae_step(cfg, model, optimizer, generator, device, parts)

        def step(k: int) -> torch.Tensor:
            loss = optimiser_step(k)
            if (k + 1) % cfg.val_every == 0 or k + 1 == cfg.steps:
                value = psnr(reconstruct(model, val), val).mean().item()
                history.append([k + 1, round(value, 3), round(clock(), 1)])
                run.log({"step": k + 1, "val_psnr": value, "seconds": clock()})
            return loss

        def report(done: int, lr: float, loss: torch.Tensor) -> dict:
            train_psnr = -10 * math.log10(max(1e-10, parts["mse01"].item()))
            run.log({"step": done, "loss": loss.item(), **{k: parts[k].item() for k in ("mse", "l1", "kl")},
                     "psnr": train_psnr, "lr": lr, "logvar": parts["logvar"].item(), "seconds": clock()})
            return {"loss": f"{loss.item():.4f}", "psnr": f"{train_psnr:.1f}",
                    "val": f"{history[-1][1] if history else float('nan'):.1f}"}

        def checkpoint(done: int) -> None:
            save_training_state(run.path, done, model, optimizer, generator, asdict(cfg), elapsed=clock(),
                                history=history, depends=depends)

        model.train()
        end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
        run_steps(cfg, optimizer, start, end, step, report, checkpoint, log_every=25, desc="vae", progress=progress)
        if end < cfg.steps:  # stopped early on purpose: the training state is all there is
            return model
        finish_vae(cfg, model, run.path, export, export_dtype, base_meta,
                   {"steps": cfg.steps, "train_seconds": round(clock(), 1), "val_psnr_history": history,
                    "config": asdict(cfg), **where_trained(device, cfg.bf16)})
    return model


def finish_vae(cfg: VAETrainConfig, model: VideoVAE, out: Path, export, export_dtype, base_meta, train_info) -> None:
    """Measure the scaling factor (unless the encoder was frozen) and write the run's VAE and the export."""
    model.eval()
    if not cfg.freeze_encoder:  # a frozen encoder keeps the scaling factor it came with, so latents stay identical
        scale_clips = clip_batch(ShapesWorld(cfg.scale_clips, "train", VAL_SEED + 1), 0, cfg.scale_clips)
        model.scaling_factor.fill_(measure_scaling_factor(model, scale_clips))
    if base_meta is not None:  # a fine-tune: keep the story of the weights it started from (sha256 and training)
        train_info["init_from"] = {"path": cfg.init_from, "sha256": base_meta["sha256"],
                                   "train": base_meta.get("train", {})}
    model.save_pretrained(out / "vae", train=train_info)  # full precision, in the run directory
    if export:
        model.save_pretrained(export, dtype=export_dtype, train=train_info)  # the shipped file: fp16 halves it


def vae_training_stages(train: dict) -> list[tuple[str, dict]]:
    """The stages behind a VAE sidecar's `train` record, oldest first: [(kind, train record), ...].

    kind is "from scratch", "fine-tune" or "decoder fine-tune"; a fine-tune's record holds the
    one it started from under `init_from` (see `train_vae`).
    """
    stages = []
    while train:
        config = train.get("config", {})
        kind = ("decoder fine-tune" if config.get("freeze_encoder") else
                "fine-tune" if config.get("init_from") else "from scratch")
        stages.insert(0, (kind, train))
        train = train.get("init_from", {}).get("train", {})
    return stages


# ----------------------------------------------------------------------------
# Stage 2, latent caching, lives in minivid/latents.py (the "cache-latents" subcommand below)


# ----------------------------------------------------------------------------
# Stage 3: the text-to-video diffusion transformer (flow matching on cached latents)


@dataclass
class T2VTrainConfig:
    """How the text-to-video DiT is trained. Every field is also a command-line flag (`--batch-size` ...)."""

    preset: str = "shapes-edges"  # architecture: a key of dit.DIT_PRESETS (channels and vocabulary are fitted)
    vae: str = "data/vae/shapes"  # the VAE whose latents the DiT learns; its sha256 is checked and recorded
    cache_clips: int = 30000  # train-split clips encoded once into the latent cache
    data_seed: int = 0  # ShapesWorld seed of those clips
    batch_size: int = 32  # global batch, split evenly over DDP ranks
    lr: float = 6e-4  # peak AdamW learning rate
    warmup_steps: int = 200  # linear warm-up from 0, then cosine decay ...
    min_lr_ratio: float = 0.1  # ... down to lr * min_lr_ratio at the last step
    steps: int = 9000  # optimiser steps
    weight_decay: float = 0.0  # AdamW weight decay
    grad_clip: float = 1.0  # max global gradient norm
    timestep_shift: float = 1.0  # training times shift_time(sigmoid(N(0, 1)), shift); > 1 trains more at high noise
    caption_dropout: float = 0.1  # share of captions replaced by the empty prompt (guidance's unconditional model)
    rotation_weight: float = 1.0  # clips whose caption asks for a rotation are drawn this many times as often
    rotation_start: str = "random"  # a rotating shape's pose at frame 0: "random" (as the spec) or "canonical"
    rotation_speed: float = 0.0  # a rotation's speed in deg/frame; 0: drawn from the spec's range
    text_aux_weight: float = 0.0  # > 0: add this times the auxiliary text loss (every word names its object)
    story_clips: int = 0  # story segments (`StorySegments`) cached beside the clips, trained with frame 0 given
    image_prob: float = 0.0  # share of the other clips trained with their first latent frame given (image-to-video)
    given_level: float = 0.0  # the time (noise level) at which the model sees given frames, in training and sampling
    ema_decay: float = 0.998  # decay of the weights' EMA, the exported model; warmed up as min(decay, (1+k)/(10+k))
    seed: int = 0  # model initialisation, and with the step each batch's clips, times, noise and dropped captions
    checkpoint_every: int = 500  # steps between training states and EMA snapshots
    bf16: bool = False  # bf16 autocast where the device runs it natively
    compile: bool = False  # torch.compile the model (on a CPU this needs a C++ compiler)
    threads: int = 0  # torch CPU threads; 0: torch's choice
    init_from: str = ""  # a t2v checkpoint to continue from (fresh optimiser and schedule); "": from scratch

    # Retired options: recorded configs still hold them, so they load when they hold the value now built in.
    text_aux_from: InitVar[str] = "tokens"  # what the auxiliary head reads: every word token
    text_train_words: InitVar[str] = ""  # the whole text encoder trains
    noise_correlation: InitVar[float] = 0.0  # i.i.d. noise

    def __post_init__(self, text_aux_from, text_train_words, noise_correlation):
        if (text_aux_from != "tokens" and self.text_aux_weight) or text_train_words or noise_correlation:
            retired = "text_aux_from" if text_aux_from != "tokens" and self.text_aux_weight else \
                "text_train_words" if text_train_words else "noise_correlation"
            raise RunError(f"{retired} is an option minivid no longer has (only its built-in value loads)")

    @classmethod
    def from_record(cls, record: dict) -> "T2VTrainConfig":
        """The config of a recorded `train_config` (a sidecar's or a training state's); fields the record predates
        keep their defaults (the behaviour then)."""
        unknown = sorted(set(record) - {f.name for f in dataclasses.fields(cls)} - set(RETIRED_T2V_FIELDS))
        if unknown:
            raise RunError(f"unknown training config fields {unknown}")
        return cls(**record)


RETIRED_T2V_FIELDS = ("text_aux_from", "text_train_words", "noise_correlation")
T2V_FIELD_RULES = {"cache_clips": "count", "data_seed": "seed", "batch_size": "count", "lr": "positive",
                   "warmup_steps": "count0", "min_lr_ratio": "fraction", "steps": "count", "weight_decay": "nonnegative",
                   "grad_clip": "positive", "timestep_shift": "positive", "caption_dropout": "fraction_open",
                   "rotation_weight": "positive", "rotation_speed": "nonnegative", "text_aux_weight": "nonnegative",
                   "story_clips": "count0", "image_prob": "fraction", "given_level": "fraction_open",
                   "ema_decay": "fraction_open", "seed": "seed", "checkpoint_every": "count", "threads": "count0"}
T2V_RESUMABLE_DIFFERENCES = {"checkpoint_every", "threads"}
T2V_DEFAULT_SAMPLING = DEFAULT_SAMPLING  # recorded in every exported checkpoint; one source: sampling.DEFAULTS


def check_t2v_config(cfg: T2VTrainConfig) -> None:
    """Every field in its range, named as its flag (before any data is read)."""
    check_fields(cfg, T2V_FIELD_RULES)
    if cfg.preset not in DIT_PRESETS:
        raise RunError(f"--preset must be one of {sorted(DIT_PRESETS)}, got {cfg.preset!r}")
    if cfg.rotation_start not in ("random", "canonical"):
        raise RunError(f"--rotation-start must be 'random' or 'canonical', got {cfg.rotation_start!r}")


def vae_sha256(path) -> str:
    """The sha256 the VAE checkpoint's sidecar records (and `load_tensors` verifies)."""
    return read_meta(path, kind="vae")["sha256"]


def latents_identity(cache: LatentCache) -> str:
    """What identifies the latents a run trains on: the cache file's sha256 (or that of the tensor, in memory)."""
    return cache.meta.get("sha256") or hashlib.sha256(cache.latents.float().numpy().tobytes()).hexdigest()


def t2v_cache_path(cfg: T2VTrainConfig, root="runs/latents", sha256: str | None = None) -> Path:
    """Where the latent cache of `cfg` lives: named by the VAE's sha256 (`sha256`, default: read from cfg.vae's
    sidecar), so a retrained VAE never reuses stale latents."""
    narrowed = ("" if cfg.rotation_start == "random" else f"-{cfg.rotation_start}") + \
        (f"-spin{cfg.rotation_speed:g}" if cfg.rotation_speed else "")
    sha256 = sha256 or vae_sha256(cfg.vae)
    return Path(root) / f"{sha256[:16]}-train-s{cfg.data_seed}-n{cfg.cache_clips}{narrowed}"


def ensure_latent_cache(cfg: T2VTrainConfig, root="runs/latents", device=None, progress=True,
                        workers: int = 0) -> LatentCache:
    """Load the cache for `cfg`, encoding it first (once) if it is missing or does not match
    (`workers`: rendering processes, see `cache_latents`)."""
    path = t2v_cache_path(cfg, root)
    speed = cfg.rotation_speed or None  # the config's 0 (a flag needs a number) is the world's None: drawn
    try:
        cache = load_latents(path)
        d = cache.meta["dataset"]
        found = (d.get("split"), d.get("seed"), len(cache), d.get("rotation_start", "random"), d.get("rotation_speed"))
        if found == ("train", cfg.data_seed, cfg.cache_clips, cfg.rotation_start, speed):
            return cache
        print(f"latent cache {path} does not match the config, re-encoding", file=sys.stderr)
    except CheckpointError:
        pass
    vae = VideoVAE.from_pretrained(cfg.vae, device=device)
    dataset = ShapesWorld(cfg.cache_clips, "train", cfg.data_seed, rotation_start=cfg.rotation_start,
                          rotation_speed=speed)
    cache_latents(vae, dataset, cfg.cache_clips, path, progress=progress, workers=workers)
    return load_latents(path)


class StorySegments(ShapesWorld):
    """Clips that continue a story: segment k >= 1 of a random one-shot story (world.sample_random_story), its
    first frame the state segment k - 1 left (a bounce starting at rest mid-air, a move from where the last one
    ended), captioned with its own prompt. Same item format and seeding as ShapesWorld."""

    def _draw(self, index: int):
        rng = self._rng(index)
        two = rng.random() < self.two_object_prob
        segments = 2 if two else int(rng.integers(2, 5))  # two-object stories of 2 segments: quick to fit
        try:
            story = sample_random_story(rng, segments, self.split, 2 if two else 1)
        except StoryError:  # no two-object story fitted in its tries: a one-object one always does
            story = sample_random_story(rng, segments, self.split, 1)
        scene = story.segments[int(rng.integers(1, segments))]
        lang = self.languages[rng.integers(len(self.languages))]
        return scene, caption(scene, lang, int(rng.integers(CAPTION_TEMPLATES[lang])))


STORY_TWO_OBJECT_PROB = 0.3  # share of two-object stories among the cached story segments


def ensure_story_cache(cfg: T2VTrainConfig, root="runs/latents", device=None, progress=True) -> LatentCache | None:
    """The latents of `cfg.story_clips` story segments (seed `cfg.data_seed`), encoded once; None if 0."""
    if not cfg.story_clips:
        return None
    path = Path(root) / f"{vae_sha256(cfg.vae)[:16]}-story-s{cfg.data_seed}-n{cfg.story_clips}"
    try:
        cache = load_latents(path)
        if len(cache) == cfg.story_clips and cache.meta["dataset"].get("class") == "StorySegments":
            return cache
    except CheckpointError:
        pass
    vae = VideoVAE.from_pretrained(cfg.vae, device=device)
    dataset = StorySegments(cfg.story_clips, "train", cfg.data_seed, two_object_prob=STORY_TWO_OBJECT_PROB)
    cache_latents(vae, dataset, cfg.story_clips, path, progress=progress)
    return load_latents(path)


def clip_weights(captions: list[str], rotation_weight: float) -> torch.Tensor | None:
    """How likely each cached clip is to be drawn, (n,): `rotation_weight` for a clip whose caption asks any
    object to rotate, 1 for the rest; None (uniform draws) when rotation_weight is 1."""
    if rotation_weight == 1:
        return None
    if not rotation_weight > 0:
        raise ValueError(f"rotation_weight must be > 0, got {rotation_weight}")
    rotates = torch.tensor([any(motion in ROTATIONS for _, _, motion in parse_prompt(c)) for c in captions])
    return torch.where(rotates, float(rotation_weight), 1.0)


def step_batch(cfg: T2VTrainConfig, step: int, num_clips: int, latent_shape, weights: torch.Tensor | None = None) -> dict:
    """Everything random about global batch `step`: clip indices, times t, noise, which captions are dropped (and,
    with `image_prob`, which clips are trained with their first frame given).

    Drawn on the CPU for the whole global batch, then each DDP rank takes its slice:
    so N ranks compute exactly the gradient one process computes on the full batch.
    `weights` (n,) from `clip_weights`: draw clips in proportion to them (None: uniformly).
    """
    g = step_generator(cfg.seed, step)
    b = cfg.batch_size
    index = (torch.randint(0, num_clips, (b,), generator=g) if weights is None
             else torch.multinomial(weights, b, replacement=True, generator=g))
    return {"index": index,
            "t": shift_time(logit_normal_timesteps(b, generator=g), cfg.timestep_shift),
            "eps": torch.randn((b, *latent_shape), generator=g),
            "drop": torch.rand(b, generator=g) < cfg.caption_dropout,
            # drawn last: a run without it draws exactly the batches it would have
            **({"image": torch.rand(b, generator=g) < cfg.image_prob} if cfg.image_prob else {})}


def given_first_frames(index, story, image, frames: int) -> torch.Tensor | None:
    """Which latent frames are given (b f): the first, for story clips and for clips drawn for image-to-video."""
    if story is None and image is None:
        return None
    first = story[index] if story is not None else torch.zeros(len(index), dtype=torch.bool)
    if image is not None:
        first = first | image
    given = torch.zeros(len(index), frames, dtype=torch.bool)
    given[:, 0] = first
    return given


def dist_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) outside torchrun."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def build_dit(preset: str, latent_channels: int) -> DiT:
    """A DiT preset fitted to the tokenizer (vocabulary, prompt length) and the VAE (latent channels)."""
    max_len = max(DIT_PRESETS[preset].max_text_len, MAX_PROMPT_TOKENS)
    return DiT.from_preset(preset, text_vocab_size=text_vocab_size, latent_channels=latent_channels, max_text_len=max_len)


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p.detach(), 1.0 - decay)
    for e, b in zip(ema.buffers(), model.buffers()):
        e.copy_(b)


def export_t2v(ema: DiT, path, cfg: T2VTrainConfig, latent_shape, dtype=torch.float32, sampling: dict | None = None,
               **extra) -> Path:
    """Write the shipped checkpoint: EMA weights + DiT config + the VAE it decodes with (path and sha256)."""
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in ema.state_dict().items()}
    return save_tensors(path, tensors, kind="t2v", config=dataclasses.asdict(ema.config),
                        vae={"path": str(cfg.vae), "sha256": vae_sha256(cfg.vae)}, parameterisation="flow",
                        latent_shape=list(latent_shape), sampling={**T2V_DEFAULT_SAMPLING, **(sampling or {})},
                        **({"given_level": cfg.given_level} if cfg.story_clips or cfg.image_prob else {}),
                        train_config=asdict(cfg), **extra)


def init_from_t2v(model: DiT, path) -> dict:
    """Load the weights of shipped t2v checkpoint `path` into `model`; returns its story for the new sidecars."""
    tensors, meta = load_tensors(path, kind="t2v")
    saved, mine = dataclasses.asdict(DiTConfig.from_dict(meta["config"])), dataclasses.asdict(model.config)
    if saved != mine:
        changed = sorted(k for k in mine if saved[k] != mine[k])
        raise ValueError(f"--init-from {path} is not this model: its {', '.join(changed)} differ from the preset's")
    load_state_dict_strict(model, {k: v.float() for k, v in tensors.items()}, where=str(path))
    return {"path": str(path), "sha256": meta["sha256"], "steps_trained": meta.get("steps_trained", meta.get("step")),
            "train_seconds": meta.get("train_seconds"), "train_config": meta.get("train_config"),
            "trained_on": meta.get("trained_on", "cpu"),  # records older than the field all ran on the CPU
            "bf16_autocast": meta.get("bf16_autocast"),  # None: a record older than the field (its --bf16 was a request)
            "init_from": meta.get("init_from")}  # its recipe and its own base: the whole chain rebuilds from one sidecar


def training_chain(meta: dict) -> list[dict]:
    """The runs behind a t2v checkpoint's sidecar `meta`, oldest first: each checkpoint it was continued from
    with `--init-from` (their `init_from` records: path, sha256, steps_trained, train_seconds, train_config;
    records written before train_config was kept have none), then `meta` itself."""
    return (training_chain(meta["init_from"]) if meta.get("init_from") else []) + [meta]


def training_story(meta: dict) -> tuple[int, float]:
    """(DiT steps, training seconds) behind a t2v checkpoint's sidecar `meta` (or its `init_from` record),
    counting every checkpoint it was continued from with `--init-from`."""
    runs = training_chain(meta)
    return (sum(int(r.get("steps_trained", r.get("step", 0))) for r in runs),
            sum(float(r.get("train_seconds") or 0.0) for r in runs))


def training_seconds_by_device(meta: dict) -> dict[str, float]:
    """Training seconds behind a t2v sidecar `meta` per device it ran on ("cpu", "cuda (NVIDIA H200)", ...), oldest
    first: a CPU minute and a GPU minute are not the same thing. Records older than `trained_on` ran on the CPU."""
    seconds: dict[str, float] = {}
    for r in training_chain(meta):
        device = r.get("trained_on") or "cpu"
        seconds[device] = seconds.get(device, 0.0) + float(r.get("train_seconds") or 0.0)
    return seconds


@dataclass
class T2VData:
    """What the steps read, per cached clip, on the CPU: latents n z t h w, caption ids and masks n l, draw
    weights (n,) or None, the auxiliary loss's labels or None; and the empty prompt (1 l) dropped captions get."""

    latents: torch.Tensor
    ids: torch.Tensor
    mask: torch.Tensor
    weights: torch.Tensor | None
    labels: torch.Tensor | None
    null_ids: torch.Tensor
    null_mask: torch.Tensor
    story: torch.Tensor | None = None  # (n,) bool: story segments, always trained with their first frame given

    @classmethod
    def of(cls, cfg: T2VTrainConfig, cache: LatentCache, stories: LatentCache | None = None) -> "T2VData":
        latents, captions, story = cache.latents.float(), list(cache.captions), None
        if stories is not None:  # story segments follow the clips
            latents, captions = torch.cat([latents, stories.latents.float()]), captions + list(stories.captions)
            story = torch.arange(len(latents)) >= len(cache)
        ids, mask = encode_batch(captions)
        labels = caption_token_labels(captions) if cfg.text_aux_weight > 0 else None
        return cls(latents, ids, mask, clip_weights(captions, cfg.rotation_weight), labels, *encode_batch([None]),
                   story)


@dataclass
class T2VNets:
    """The trained model, its EMA, the auxiliary text head (or None), and the optimiser over what trains."""

    model: DiT
    ema: DiT
    head: torch.nn.Linear | None
    optimizer: torch.optim.Optimizer
    state: torch.nn.ModuleDict  # what a training state holds: model, ema and the head
    trained: list

    @classmethod
    def build(cls, cfg: T2VTrainConfig, latent_channels: int, device, init_from: str) -> tuple["T2VNets", dict | None]:
        """Seeded by cfg.seed; `init_from`: a t2v checkpoint whose weights model and EMA start from (then also
        its story, for the new sidecars)."""
        torch.manual_seed(cfg.seed)
        model = build_dit(cfg.preset, latent_channels).to(device)
        base = init_from_t2v(model, init_from) if init_from else None
        ema = copy.deepcopy(model).requires_grad_(False).eval()
        state = torch.nn.ModuleDict({"model": model, "ema": ema})
        head = None
        if cfg.text_aux_weight > 0:  # drawn after the model, so a run without it initialises the model the same
            head = state["text_head"] = torch.nn.Linear(model.config.text_width, PAIRS).to(device)
        trained = list(model.parameters()) + ([] if head is None else list(head.parameters()))
        optimizer = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
        return cls(model, ema, head, optimizer, state, trained), base


def shared_latent_cache(cfg: T2VTrainConfig, root, device, progress: bool, workers: int) -> LatentCache:
    """`ensure_latent_cache` under DDP: rank 0 encodes the cache if needed, then the others read it."""
    rank, world = dist_info()
    cache = ensure_latent_cache(cfg, root, device, progress, workers) if rank == 0 else None
    if world > 1:
        torch.distributed.barrier()
    return cache if rank == 0 else ensure_latent_cache(cfg, root, device, progress=False)


def shared_story_cache(cfg: T2VTrainConfig, root, device, progress: bool) -> LatentCache | None:
    """`ensure_story_cache` under DDP, like `shared_latent_cache`."""
    rank, world = dist_info()
    stories = ensure_story_cache(cfg, root, device, progress) if rank == 0 else None
    if world > 1:
        torch.distributed.barrier()
    return stories if rank == 0 else ensure_story_cache(cfg, root, device, progress=False)


def t2v_step(cfg: T2VTrainConfig, data: T2VData, nets: T2VNets, net, device, last: dict):
    """One optimiser step on global batch k (this rank's slice): returns the loss to check, keeps its parts in `last`."""
    rank, world = dist_info()
    shard = slice(rank * cfg.batch_size // world, (rank + 1) * cfg.batch_size // world)
    latent_shape = tuple(data.latents.shape[1:])

    def step(k: int) -> torch.Tensor:
        batch = step_batch(cfg, k, len(data.latents), latent_shape, data.weights)
        index, drop = batch["index"][shard], batch["drop"][shard]
        ids = torch.where(drop[:, None], data.null_ids, data.ids[index]).to(device)
        mask = torch.where(drop[:, None], data.null_mask, data.mask[index]).to(device)
        given = given_first_frames(index, data.story, batch["image"][shard] if "image" in batch else None,
                                   latent_shape[1])
        with autocast_context(device, cfg.bf16):
            loss = flow_matching_loss(net, data.latents[index].to(device), ids, mask, t=batch["t"][shard].to(device),
                                      eps=batch["eps"][shard].to(device), given_level=cfg.given_level,
                                      given=None if given is None else given.to(device))
            aux = None
            if nets.head is not None:  # on the captions not dropped: the empty prompt names nothing
                keep = index[~drop]
                aux = text_aux_loss(nets.model, nets.head, data.ids[keep].to(device), data.mask[keep].to(device),
                                    data.labels[keep].to(device), kept=int((~batch["drop"]).sum()), world=world,
                                    source="tokens")
        total = loss if aux is None else loss + cfg.text_aux_weight * aux
        nets.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if nets.head is not None and world > 1:  # the head is outside DDP: average its gradients by hand
            for p in nets.head.parameters():
                torch.distributed.all_reduce(p.grad)
                p.grad /= world
        torch.nn.utils.clip_grad_norm_(nets.trained, cfg.grad_clip)
        nets.optimizer.step()
        ema_update(nets.ema, nets.model, min(cfg.ema_decay, (1 + k) / (10 + k)))
        last.update(loss=loss, aux=aux)
        return total

    return step


def train_t2v(
    cfg: T2VTrainConfig,
    out_dir,
    resume: bool = False,
    export=None,
    device=None,
    progress: bool = True,
    stop_at: int | None = None,
    cache: LatentCache | None = None,
    cache_root="runs/latents",
    cache_workers: int = 0,
    snapshots: bool = True,
    return_model: bool = False,
):
    """Train the DiT with flow matching as `cfg` says; returns the EMA model.

    Runs as one process or under `torchrun` (DDP: gloo on CPU, nccl on CUDA; each
    rank takes its slice of every global batch, only rank 0 writes). `cache`: the
    latents to train on (default: `ensure_latent_cache(cfg)`). `stop_at`: stop
    after that many steps as if killed right after a checkpoint. `snapshots`: also
    write the EMA weights in the shipped format at every checkpoint
    (`out_dir/ema-{step}`), for measuring quality against wall-clock time.
    `return_model`: return (ema, model) instead of the EMA model alone.
    """
    check_t2v_config(cfg)
    check_stop_at(stop_at)
    check_target(export, "t2v", "--export")
    rank, world = dist_info()
    if cfg.batch_size % world:
        raise RunError(f"--batch-size {cfg.batch_size} does not split over {world} ranks")
    device = as_device(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    if cfg.init_from and not (resume and latest_training_state(out_dir)):
        read_meta(cfg.init_from, kind="t2v")  # a missing base is refused before anything is built
    with RunDir(out_dir, resume, owner=rank == 0) as run:
        state = run.latest_state()
        depends = {"vae": vae_sha256(cfg.vae)}  # checked before the cache: a changed VAE is refused, not re-encoded
        meta = resume_point(state, T2VTrainConfig.from_record, cfg, T2V_RESUMABLE_DIFFERENCES, depends)
        cache = cache or shared_latent_cache(cfg, cache_root, device, progress, cache_workers)
        stories = shared_story_cache(cfg, cache_root, device, progress)
        depends["latents"] = latents_identity(cache)
        if stories is not None:
            depends["stories"] = latents_identity(stories)
        meta = resume_point(state, T2VTrainConfig.from_record, cfg, T2V_RESUMABLE_DIFFERENCES, depends)
        nets, base = T2VNets.build(cfg, cache.latents.shape[1], device, cfg.init_from if meta is None else "")
        ema = t2v_session(cfg, run, meta, nets, base, T2VData.of(cfg, cache, stories), depends, device,
                          export=export, progress=progress, stop_at=stop_at, snapshots=snapshots)
    return (ema, nets.model) if return_model else ema


def t2v_session(cfg: T2VTrainConfig, run: RunDir, meta: dict | None, nets: T2VNets, base: dict | None,
                data: T2VData, depends: dict, device, export, progress: bool, stop_at: int | None, snapshots: bool):
    """The steps of `train_t2v` from its start (or the training state `meta`) to its end, then the export."""
    rank, world = dist_info()
    start, elapsed, history = restore(run, meta, nets.state, nets.optimizer, None)
    base_info = {} if base is None else {"init_from": base}  # kept in every state, snapshot and export
    if meta is not None:
        base_info = {"init_from": meta["init_from"]} if "init_from" in meta else {}  # as first read, not re-read
    net = nets.model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:  # the same maths, fused; the weights and checkpoints stay those of the plain model
        net = torch.compile(net, dynamic=False)
    run.begin(asdict(cfg), start)
    latent_shape, where, clock = list(data.latents.shape[1:]), where_trained(device, cfg.bf16), Clock(elapsed)
    last, window = {}, [start, clock()]

    def report(done: int, lr: float, total: torch.Tensor) -> dict:
        now, loss = clock(), last["loss"].item()
        its, window[:] = (done - window[0]) / max(1e-9, now - window[1]), [done, now]
        run.log({"step": done, "loss": loss, "lr": lr, "it_s": its, "seconds": now,
                 **({} if last["aux"] is None else {"text_aux": last["aux"].item()})})
        history.append([done, round(loss, 5), round(now, 1)])
        return {"loss": f"{loss:.4f}", "its": f"{its:.2f}"}

    def checkpoint(done: int) -> None:
        if rank != 0:
            return
        seconds = clock()
        save_training_state(run.path, done, nets.state, nets.optimizer, None, asdict(cfg), elapsed=seconds,
                            history=history, latent_shape=latent_shape, depends=depends, **base_info, **where)
        if snapshots:
            export_t2v(nets.ema, run.path / f"ema-{done:08d}", cfg, latent_shape, step=done,
                       train_seconds=round(seconds, 1), **base_info, **where)

    nets.model.train()
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    run_steps(cfg, nets.optimizer, start, end, t2v_step(cfg, data, nets, net, device, last), report, checkpoint,
              log_every=10, desc="t2v", progress=progress and rank == 0)
    if rank == 0 and export and end == cfg.steps:
        export_t2v(nets.ema, export, cfg, latent_shape, steps_trained=end, train_seconds=round(clock(), 1),
                   **base_info, **where)
    return nets.ema


def export_from_run(run_dir, path, dtype=torch.float32, sampling: dict | None = None) -> Path:
    """Export the EMA weights of the newest training state in `run_dir` (e.g. to ship a run stopped early)."""
    state = latest_training_state(run_dir)
    if state is None:
        raise CheckpointError(f"no training state in {run_dir}")
    check_target(path, "t2v", "--out")
    tensors, meta = load_tensors(state, kind="train-state")
    cfg = T2VTrainConfig.from_record(meta["config"])
    ema_tensors = {k[len("model.ema."):]: v for k, v in tensors.items() if k.startswith("model.ema.")}
    channels = ema_tensors["final_layer.linear.weight"].shape[0] // math.prod(DIT_PRESETS[cfg.preset].patch_size)
    ema = build_dit(cfg.preset, channels)
    ema.load_state_dict(ema_tensors, strict=True)
    latent_shape = meta["latent_shape"]
    base_info = {k: meta[k] for k in ("init_from", "trained_on", "bf16_autocast") if k in meta}
    return export_t2v(ema, path, cfg, latent_shape, dtype=dtype, sampling=sampling, steps_trained=meta["step"],
                      train_seconds=round(meta["elapsed"], 1), **base_info)


def name_weak_model(path, weak_path, autoguidance: float | None = None, guidance: float | None = None) -> dict:
    """Record in the sidecar of t2v checkpoint `path` the weaker model autoguidance pulls away from
    (`"weak": {"path", "sha256"}`; the pipeline loads and hash-checks it) and, if given, the recommended
    weight (`sampling.autoguidance`) and the guidance scale chosen with it (`sampling.guidance`: the two
    are measured together, benchmarks/t2v_guidance.py). Both must be verified t2v checkpoints on the
    same VAE's latents. Only the sidecar changes (atomically): the weights, and their sha256, stay."""
    for flag, value, low in (("--autoguidance", autoguidance, 0.0), ("--guidance", guidance, 1.0)):
        if value is not None and not (math.isfinite(value) and value >= low):
            raise RunError(f"{flag} must be a finite number >= {low:g}, got {value}")
    meta = read_meta(path, kind="t2v")
    _, weak_meta = load_tensors(weak_path, kind="t2v")  # the weaker model's weights are whole (sha256 and size)
    if not same_latents(meta, weak_meta):
        raise ValueError(f"{weak_path} was trained on other latents than {path}; autoguidance needs both on the same")
    meta["weak"] = {"path": str(weak_path), "sha256": weak_meta["sha256"], "steps_trained": weak_meta.get("steps_trained")}
    chosen = {k: float(v) for k, v in (("autoguidance", autoguidance), ("guidance", guidance)) if v is not None}
    if chosen:
        meta["sampling"] = {**meta.get("sampling", {}), **chosen}
    write_meta(path, meta)
    return meta


# ----------------------------------------------------------------------------
# Command line: one subcommand per stage


def add_dataclass_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One `--field-name` flag per dataclass field, defaulting to the field's default, its help the field's comment."""
    comments = field_comments(cls)
    for f in dataclasses.fields(cls):
        flag, text = "--" + f.name.replace("_", "-"), comments.get(f.name, "") + " (default: %(default)s)"
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=text)
        else:
            kind = {"int": int, "float": float, "str": str}.get(f.type, f.type)
            parser.add_argument(flag, type=kind, default=f.default, help=text)


def config_flags(cfg, skip: tuple[str, ...] = ()) -> list[str]:
    """The command-line flags (of `add_dataclass_flags`) that give dataclass `cfg`: only the fields that differ
    from the defaults, minus `skip`, e.g. ["--lr 0.0003", "--bf16"]; the printed recipe of a run."""
    defaults = type(cfg)()
    flags = []
    for f in dataclasses.fields(cfg):
        value, name = getattr(cfg, f.name), f.name.replace("_", "-")
        if f.name in skip or value == getattr(defaults, f.name):
            continue
        flags.append(f"--{'' if value else 'no-'}{name}" if isinstance(value, bool) else f"--{name} {value}")
    return flags


def stage_vae(args) -> str:
    cfg = VAETrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(VAETrainConfig)})
    model = train_vae(cfg, args.out, resume=args.resume, export=args.export, device=args.device)
    return (f"scaling factor {float(model.scaling_factor):.4f}; wrote {args.out}/vae.safetensors"
            + (f" and {args.export}.safetensors" if args.export else ""))


def stage_cache(args) -> str:
    for flag, value, low in (("--n", args.n, 1), ("--batch-size", args.batch_size, 1), ("--workers", args.workers, 0)):
        if value < low:
            raise RunError(f"{flag} must be an integer >= {low}, got {value}")
    check_target(args.out, "latents", "--out")
    model = VideoVAE.from_pretrained(args.vae, device=args.device)
    dataset = ShapesWorld(args.n, args.split, args.seed, rotation_start=args.rotation_start,
                          rotation_speed=args.rotation_speed or None)  # as ensure_latent_cache draws them
    return f"wrote {cache_latents(model, dataset, args.n, args.out, args.batch_size, progress=True, workers=args.workers)}"


def stage_t2v(args) -> str:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not torch.distributed.is_initialized():  # launched by torchrun
        backend = "nccl" if torch.cuda.is_available() and args.device in ("auto", "cuda") else "gloo"
        torch.distributed.init_process_group(backend)
        if backend == "gloo":
            args.device = "cpu"
    cfg = T2VTrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(T2VTrainConfig)})
    try:
        train_t2v(cfg, args.out, resume=args.resume, export=args.export, device=args.device,
                  cache_root=args.cache_root, stop_at=args.stop_at, cache_workers=args.cache_workers)
    finally:
        rank = dist_info()[0]
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    done = args.export and rank == 0 and (args.stop_at is None or args.stop_at >= cfg.steps)
    return f"wrote {args.export}.safetensors" if done else ""


def stage_export(args) -> str:
    if args.guidance is not None and not (math.isfinite(args.guidance) and args.guidance >= 1):
        raise RunError(f"--guidance must be a finite number >= 1, got {args.guidance}")
    sampling = {} if args.guidance is None else {"guidance": args.guidance}
    return f"wrote {export_from_run(args.run, args.out, torch.bfloat16 if args.bf16 else torch.float32, sampling)}"


def stage_name_weak(args) -> str:
    meta = name_weak_model(args.model, args.weak, args.autoguidance, args.guidance)
    sampling = meta.get("sampling", {})
    return (f"{args.model}.json: weaker model {args.weak} (sha256 {meta['weak']['sha256'][:12]}...), "
            f"autoguidance {sampling.get('autoguidance', 0.0):g}, guidance {sampling.get('guidance')}")


def stage_recipe(args) -> str:
    from .recipes import RECIPES, run_recipe
    if args.list or args.name is None:
        return "\n".join(f"{name}: {recipe['about']}" for name, recipe in RECIPES.items())
    return run_recipe(args.name, args.out, device=args.device, until=args.until, dry_run=args.dry_run,
                      overrides=dict(o.split("=", 1) for o in args.set), ranks=args.ranks)


def training_flags(parser, cls, out: str, export_example: str) -> None:
    """A training stage's flags: its config's fields, then where it writes."""
    add_dataclass_flags(parser, cls)
    parser.add_argument("--out", default=out, help="run directory: training states, log.jsonl, snapshots")
    parser.add_argument("--export", default=None, help=f"also write the shipped checkpoint here, e.g. {export_example}")
    parser.add_argument("--resume", action="store_true", help="continue from the newest training state in --out")
    parser.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, ...")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m minivid.train", description=__doc__.split("\n")[0])
    stages = parser.add_subparsers(dest="stage", required=True)

    vae = stages.add_parser("vae", help="train the video VAE", description=VAETrainConfig.__doc__)
    training_flags(vae, VAETrainConfig, "runs/vae", "runs/vae/shapes")
    vae.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")

    cache = stages.add_parser("cache-latents", help="encode clips once for DiT training")
    cache.add_argument("--vae", default="data/vae/shapes", help="VAE checkpoint (X, X.safetensors or X.json)")
    cache.add_argument("--n", type=int, required=True, help="number of clips (indices 0..n-1)")
    cache.add_argument("--out", required=True, help="where to write the cache (X -> X.safetensors + X.json)")
    cache.add_argument("--split", default="train", help="ShapesWorld split: train or heldout")
    cache.add_argument("--seed", type=int, default=0, help="ShapesWorld seed")
    cache.add_argument("--rotation-start", default="random", help="T2VTrainConfig.rotation_start of the run it is for")
    cache.add_argument("--rotation-speed", type=float, default=0.0, help="T2VTrainConfig.rotation_speed of that run")
    cache.add_argument("--batch-size", type=int, default=64, help="clips encoded at once")
    cache.add_argument("--workers", type=int, default=0, help="processes that render clips while the VAE encodes")
    cache.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, ...")
    cache.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")

    t2v = stages.add_parser("t2v", help="train the text-to-video DiT (flow matching on cached VAE latents)",
                            description=T2VTrainConfig.__doc__)
    training_flags(t2v, T2VTrainConfig, "runs/t2v/edges", "runs/t2v/edges/shapes")
    t2v.add_argument("--cache-root", default="runs/latents", help="where latent caches live (named by the VAE's sha256)")
    t2v.add_argument("--stop-at", type=int, default=None, help="stop after this many steps (resume later)")
    t2v.add_argument("--cache-workers", type=int, default=0,
                     help="processes that render clips while the VAE encodes, if the latent cache is built")

    exp = stages.add_parser("export-t2v", help="export the EMA weights of a run's newest training state")
    exp.add_argument("--run", required=True, help="run directory of `t2v`")
    exp.add_argument("--out", required=True, help="the checkpoint to write, X -> X.safetensors + X.json")
    exp.add_argument("--bf16", action="store_true", help="store the weights in bf16 (half the size)")
    exp.add_argument("--guidance", type=float, default=None, help="default guidance scale to record")

    weak = stages.add_parser("name-weak", help="record the weaker model for autoguidance in a checkpoint's sidecar")
    weak.add_argument("--model", required=True, help="the t2v checkpoint whose sidecar is updated")
    weak.add_argument("--weak", required=True, help="the weaker t2v checkpoint (same VAE), e.g. data/t2v/weak")
    weak.add_argument("--autoguidance", type=float, default=None,
                      help="also record this recommended weight (pipelines use it by default; 0 = off)")
    weak.add_argument("--guidance", type=float, default=None,
                      help="also record this guidance scale, measured best with that weight")

    recipe = stages.add_parser("recipe", help="run a named chain of stages (minivid/recipes.py), resumable")
    recipe.add_argument("name", nargs="?", help="the recipe: shapes (the shipped model) or hour")
    recipe.add_argument("--list", action="store_true", help="list the recipes")
    recipe.add_argument("--out", default=None, help="root of the stages' run directories (default: runs/recipes/NAME)")
    recipe.add_argument("--until", default=None, help="stop after this stage")
    recipe.add_argument("--dry-run", action="store_true", help="print the stages' commands, run nothing")
    recipe.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a config field in every stage that has it (e.g. steps=4 for a smoke test)")
    recipe.add_argument("--ranks", type=int, default=None,
                        help="data-parallel ranks of every t2v stage (default: each stage's own, e.g. 2 on the CPU)")
    recipe.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, ...")
    recipe.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    return parser


STAGES = {"vae": stage_vae, "cache-latents": stage_cache, "t2v": stage_t2v, "export-t2v": stage_export,
          "name-weak": stage_name_weak, "recipe": stage_recipe}


def main(argv: list[str] | None = None) -> None:
    """`python -m minivid.train STAGE ...`: a user error is one line on stderr and exit status 2, never a traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "threads", None) is not None and args.threads < 0:
            raise RunError(f"--threads must be an integer >= 0, got {args.threads}")
        if getattr(args, "threads", None):
            torch.set_num_threads(args.threads)
        message = STAGES[args.stage](args)
    except (RunError, CheckpointError, ValueError, OSError) as e:
        parser.exit(2, f"{parser.prog} {args.stage}: error: {e}\n")
    if message:
        print(message)


if __name__ == "__main__":
    main()
