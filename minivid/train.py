"""Training, one subcommand per stage of the pipeline.

    python -m minivid.train vae --preset shapes --steps 6000 --out runs/vae --export data/vae/shapes
    python -m minivid.train cache-latents --vae data/vae/shapes --n 20000 --out runs/latents/train
    python -m minivid.train t2v --threads 1 --out runs/t2v/edges --export data/t2v/shapes
    python -m minivid.train t2v --init-from data/t2v/shapes --seed 1 --lr 3e-4 --out runs/t2v/more   # continue
    torchrun --nproc_per_node 2 -m minivid.train t2v ...      # data parallel (gloo on CPU, nccl on GPU)

Every stage follows the same rules:

- Seeded and deterministic on the CPU: batch k is a pure function of
  (data_seed, k) (ShapesWorld clips k*B .. (k+1)*B-1), the model is initialised
  from `seed`, and the only other randomness (the VAE's posterior noise) comes
  from a generator whose state is checkpointed.
- Periodic, atomic training-state checkpoints in the run directory (see
  `minivid/checkpoint.py`); `--resume` continues from the newest one and ends
  with exactly the weights an uninterrupted run would have produced.
- At the end the shipped format is exported: X.safetensors + X.json.

Stage "vae" trains the video VAE (`minivid/vae.py`); stage "cache-latents"
encodes clips once so that DiT training never runs the encoder again
(`minivid/latents.py`); stage "t2v" trains the text-to-video DiT with flow
matching on those cached latents (encoding them first if no cache for this VAE
exists; the optional auxiliary text losses are in `minivid/text_aux.py`),
"export-t2v" ships the EMA weights of a run's newest training state, and
"name-weak" records in a shipped model's sidecar the weaker model that
autoguidance pulls away from (`pipeline.TextToVideo`, `sampling.autoguidance`).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from einops import rearrange
from tqdm.auto import tqdm

from .checkpoint import (CheckpointError, latest_training_state, load_state_dict_strict, load_tensors, load_training_state,
                         read_meta, same_latents, same_noise, save_tensors, save_training_state, write_meta)
from .device import as_device, autocast_context, device_name, uses_bf16_autocast
from .diffusion import flow_matching_loss, logit_normal_timesteps, mixed_noise, shift_time
from .dit import DIT_PRESETS, DiT, DiTConfig
from .latents import LatentCache, cache_latents, load_latents
from .text import MAX_PROMPT_TOKENS, encode_batch, parse_prompt
from .text import vocab_size as text_vocab_size
from .text_aux import (PAIRS, TEXT_AUX_SOURCES, caption_labels, caption_token_labels, freeze_text_encoder_except,
                       text_aux_loss, text_train_rows)
from .vae import VAE_PRESETS, VideoVAE, psnr
from .world import CAPTION_TEMPLATES, ROTATIONS, ShapesWorld, StoryError, caption, sample_random_story


def where_trained(device: str | torch.device, bf16: bool) -> dict:
    """What both trainers record beside their numbers: where the run computed (e.g. "cpu", "cuda (NVIDIA H200)")
    and whether bf16 autocast really ran there. `--bf16` only asks for it: it is a no-op on a CPU without native
    bf16 (AVX2 only), and a run's speed and numbers depend on which."""
    return {"trained_on": device_name(device), "bf16_autocast": uses_bf16_autocast(device, bf16)}


# ----------------------------------------------------------------------------
# Stage 1: the video VAE


@dataclass
class VAETrainConfig:
    """How the VAE is trained. Every field is also a command-line flag (`--batch-size` ...)."""

    preset: str = "shapes"  # architecture: a key of vae.VAE_PRESETS
    steps: int = 4500  # optimiser steps
    batch_size: int = 8  # clips per step (17 x 32 x 32); more steps beat bigger batches per CPU-second
    lr: float = 1e-3  # peak AdamW learning rate
    warmup_steps: int = 200  # linear warm-up from 0, then cosine decay ...
    min_lr_ratio: float = 0.02  # ... down to lr * min_lr_ratio at the last step
    weight_decay: float = 0.0  # the model is small and data infinite: no need to regularise weights
    grad_clip: float = 1.0  # max global gradient norm
    mse_weight: float = 1.0  # MSE is what PSNR measures ...
    l1_weight: float = 0.0  # optional L1 on top; measured: it slows the early, blurry phase (L1 favours black)
    kl_weight: float = 1e-5  # small: a smooth latent for the DiT, without blurring reconstructions
    seed: int = 0  # model initialisation and posterior noise
    data_seed: int = 0  # ShapesWorld seed of the training stream
    two_object_prob: float = 0.5  # share of two-object clips
    bf16: bool = True  # bf16 autocast where native: 1.5-2x faster steps on an AVX-512 BF16 CPU, same quality
    val_clips: int = 128  # fixed validation clips (3/4 seen combinations, 1/4 held-out), never trained on
    val_every: int = 250  # steps between validation PSNR measurements
    checkpoint_every: int = 250  # steps between training-state checkpoints
    scale_clips: int = 512  # clips used to measure the latent scaling factor at the end
    init_from: str = ""  # start from this VAE checkpoint (e.g. data/vae/shapes) instead of random weights
    freeze_encoder: bool = False  # train the decoder only: latents, the scaling factor and any DiT trained on them stay valid


VAL_SEED = 1_000_003  # validation and scaling-factor clips come from seeds no training run uses
DATA_LENGTH = 10**12  # the training stream is effectively endless: clip i depends only on (seed, i)


def lr_at(cfg: "VAETrainConfig | T2VTrainConfig", step: int) -> float:
    """Linear warm-up then cosine decay: a pure function of the step, so resuming needs no scheduler state."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


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


# Fields that may differ between a run and its resumption without changing the result.
RESUMABLE_DIFFERENCES = {"val_every", "checkpoint_every"}


def check_resumable(state, saved, cfg, allowed: set[str]) -> None:
    """Refuse to resume a run whose config differs from the saved one, except in `allowed` fields."""
    changed = [f.name for f in dataclasses.fields(cfg)
               if getattr(saved, f.name) != getattr(cfg, f.name) and f.name not in allowed]
    if changed:
        raise CheckpointError(f"cannot resume {state}: it was trained with different {', '.join(changed)} "
                              f"({', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)})")


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

    `resume`: continue from the newest valid training state in `out_dir` (fresh
    start if there is none). `stop_at`: stop after that many steps as if the run
    had been killed right after a checkpoint (for tests and for splitting a run).
    """
    if cfg.preset not in VAE_PRESETS:
        raise ValueError(f"unknown VAE preset {cfg.preset!r}; choose from {sorted(VAE_PRESETS)}")
    device, out = as_device(device), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = VideoVAE(VAE_PRESETS[cfg.preset]).to(device)
    base_meta = None
    if cfg.init_from:  # fine-tuning: start from a trained VAE of the same architecture
        base_meta = read_meta(cfg.init_from, kind="vae")  # the weights' story, recorded with the fine-tune
        start_from = VideoVAE.from_pretrained(cfg.init_from)
        if start_from.cfg != model.cfg:
            raise ValueError(f"--init-from {cfg.init_from} is not a {cfg.preset!r} VAE: {start_from.cfg}")
        model.load_state_dict(start_from.state_dict())
    elif cfg.freeze_encoder:
        raise ValueError("--freeze-encoder needs --init-from: a random encoder would stay random")
    model.encoder.requires_grad_(not cfg.freeze_encoder)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    generator = torch.Generator(device=device).manual_seed(cfg.seed + 1)  # posterior noise
    start, elapsed, history = 0, 0.0, []

    state = latest_training_state(out) if resume else None
    if state is not None:
        meta = load_training_state(state, model, optimizer, generator)
        check_resumable(state, VAETrainConfig(**meta["config"]), cfg, RESUMABLE_DIFFERENCES)
        start, elapsed, history = meta["step"], meta["elapsed"], meta["history"]
        print(f"resuming from {state} at step {start}", file=sys.stderr)
    elif resume:
        print(f"no training state in {out}, starting from scratch", file=sys.stderr)

    data = ShapesWorld(DATA_LENGTH, "train", cfg.data_seed, two_object_prob=cfg.two_object_prob)
    val = validation_clips(cfg.val_clips)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
    log = (out / "log.jsonl").open("a")
    t0 = time.perf_counter() - elapsed  # wall-clock of this run so far, including earlier sessions

    def checkpoint(step: int) -> None:
        save_training_state(out, step, model, optimizer, generator, asdict(cfg),
                            elapsed=time.perf_counter() - t0, history=history)

    def validate(step: int) -> float:
        value = psnr(reconstruct(model, val), val).mean().item()
        history.append([step, round(value, 3), round(time.perf_counter() - t0, 1)])
        log.write(json.dumps({"step": step, "val_psnr": value, "seconds": time.perf_counter() - t0}) + "\n")
        log.flush()
        return value

    model.train()
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    bar = tqdm(range(start, end), initial=start, total=cfg.steps, disable=not progress, desc="vae",
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    val_psnr = float("nan")
    for step in bar:
        lr = lr_at(cfg, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        clips = clip_batch(data, step * cfg.batch_size, cfg.batch_size).to(device)
        x = rearrange(clips, "b t c h w -> b c t h w") * 2.0 - 1.0  # model layout, [-1, 1]
        with autocast_context(device, cfg.bf16):
            recon, posterior = model(x, generator=generator)
        err = recon.float() - x
        mse, l1, kl = err.square().mean(), err.abs().mean(), posterior.kl()
        loss = cfg.mse_weight * mse + cfg.l1_weight * l1 + cfg.kl_weight * kl
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
        optimizer.step()

        done = step + 1
        train_psnr = -10 * math.log10(max(1e-10, ((recon.detach().float().clamp(-1, 1) - x) / 2).square().mean().item()))
        if done % cfg.val_every == 0 or done == cfg.steps:
            val_psnr = validate(done)
            bar.write(f"step {done}: val PSNR {val_psnr:.2f} dB ({time.perf_counter() - t0:.0f} s)")
        if done % 25 == 0:
            log.write(json.dumps({"step": done, "loss": loss.item(), "mse": mse.item(), "l1": l1.item(), "kl": kl.item(),
                                  "psnr": train_psnr, "lr": lr, "logvar": posterior.logvar.mean().item(),
                                  "seconds": time.perf_counter() - t0}) + "\n")
            log.flush()
        bar.set_postfix(loss=f"{loss.item():.4f}", psnr=f"{train_psnr:.1f}", val=f"{val_psnr:.1f}", refresh=False)
        if done % cfg.checkpoint_every == 0 or done == end:
            checkpoint(done)
    bar.close()
    log.close()

    if end < cfg.steps:  # stopped early on purpose: the training state is all there is
        return model
    model.eval()
    if not cfg.freeze_encoder:  # a frozen encoder keeps the scaling factor it came with, so latents stay identical
        scale_clips = clip_batch(ShapesWorld(cfg.scale_clips, "train", VAL_SEED + 1), 0, cfg.scale_clips)
        model.scaling_factor.fill_(measure_scaling_factor(model, scale_clips))
    train_info = {"steps": cfg.steps, "train_seconds": round(time.perf_counter() - t0, 1),
                  "val_psnr_history": history, "config": asdict(cfg),
                  **where_trained(device, cfg.bf16)}  # the shipped VAE predates these (bf16 was native: data/vae/README)
    if base_meta is not None:  # a fine-tune: keep the story of the weights it started from (sha256 and training)
        train_info["init_from"] = {"path": cfg.init_from, "sha256": base_meta["sha256"],
                                   "train": base_meta.get("train", {})}
    model.save_pretrained(out / "vae", train=train_info)  # full precision, in the run directory
    if export:
        model.save_pretrained(export, dtype=export_dtype, train=train_info)  # the shipped file: fp16 halves it
    return model


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

    preset: str = "shapes-edges"  # architecture: a key of dit.DIT_PRESETS (latent_channels, vocab from VAE / tokenizer)
    vae: str = "data/vae/shapes"  # the VAE whose latents the DiT learns; its sha256 is checked and shipped
    cache_clips: int = 30000  # train-split clips encoded once (1- and 2-object, captions in en / zh / zh-hans)
    data_seed: int = 0  # ShapesWorld seed of those clips
    batch_size: int = 32  # global batch (split evenly over DDP ranks); the shipped model's four GPU runs used 512
    lr: float = 6e-4  # peak AdamW learning rate: high, for a 3.4M-parameter model on a CPU budget
    warmup_steps: int = 200  # linear warm-up from 0, then cosine decay ...
    min_lr_ratio: float = 0.1  # ... down to lr * min_lr_ratio at the last step
    steps: int = 9000  # optimiser steps (~100 min at 1 thread, ~1.5 steps/s, on the 2-core CPU)
    weight_decay: float = 0.0  # data are plentiful relative to the model: no weight decay
    grad_clip: float = 1.0  # max global gradient norm
    timestep_shift: float = 1.0  # training times t = shift_time(sigmoid(N(0, 1)), shift): > 1 trains more at high
    # noise, where the sampler's shift 3 spends its steps (3 measured better for the shipped model's second run,
    # benchmarks/results/t2v_recipes.json); 1 = plain SD3 logit-normal
    caption_dropout: float = 0.1  # share of captions replaced by the empty prompt: teaches the unconditional model CFG needs
    rotation_weight: float = 1.0  # how much likelier a clip whose caption asks for a rotation is drawn (1: uniform);
    # rotation is the one motion the models trained without the tokens text loss miss, and 3 for 9,000 more steps
    # did not teach it (benchmarks/results/t2v_recipes.json, runs/t2v/cont3-rot3). With the tokens text loss, whose
    # encoder names the direction, 3 in the third run did: 184 of 208 rotating clips turn the asked way from noise
    # (160 without), two-object prompts 43.0% (38.3) (data/t2v/README.md, "Every word names its own object")
    rotation_start: str = "random"  # a rotating shape's pose at frame 0 in the training clips: "random" (uniform
    # over its symmetry) or "canonical" (upright, like every shape that does not rotate). Any pose satisfies the
    # spec; an upright start leaves the model one pose to draw instead of a random one to commit to
    rotation_speed: float = 0.0  # 0: a rotation's speed is drawn from the spec's 10..20 deg/frame; else this speed.
    # Measured (data/t2v/README.md): both together, continuing a model whose text encoder confused the two
    # directions, raised the share of rotations shown from 19% to at most 38% in 3,000-4,000 steps ("Narrowing
    # rotations"); from scratch with the tokens text loss, 100% of rotating clips from noise right at 7,500 steps
    # (21% with the full spec) and held-out 96% (77%) ("Where the hour's misses are"). The shipped model keeps the
    # full spec: it draws rotations from any start pose at any of the spec's speeds
    text_aux_weight: float = 0.0  # > 0: add this times an auxiliary loss on the text encoder alone: a linear head on
    # a text vector names each object's (colour, motion) pair (`text_aux.caption_labels`, multi-label BCE). Trained only
    # through denoising, the encoder maps "clockwise" and "counterclockwise" to the same vector (benchmarks/
    # text_separation.py); this keeps them apart. The head is training state only, never exported. Measured on
    # the CPU (data/t2v/README.md): as continuations of the five-run model it separates them but costs two-object
    # prompts 8-30 points; from the first step (register, weight 10) the DiT turns the asked way (134 of 208
    # rotating clips vs 32) but two-object prompts fall behind (14.1 vs 30.5% at 13,500 steps); from "tokens"
    # (weight 1) through the recipe's three CPU runs: 84.2% seen (recipe 79.0), two-object 38.3% (40.6). The shipped
    # model's last two runs (GPU, batch 512, "tokens", with rotation_weight 3) took it from 83.6 to 87.2% seen and
    # rotations shown from 38 / 8% to 65 / 73%, two-object 55.5 -> 46.1% (data/t2v/README.md, "Measured")
    text_aux_from: str = "pooled"  # what the head reads: "pooled" (the masked mean of the tokens the DiT
    # cross-attends to, which also conditions adaLN), "register" (the encoder's first token alone: the words'
    # tokens need not each carry the whole caption for the mean to name it) or "tokens" (every word token names
    # its own object's pair: the binding two objects need, put where the DiT's cross-attention reads it)
    text_train_words: str = ""  # "" trains the whole text encoder. Else a comma list of vocabulary words, e.g.
    # "clockwise,counterclockwise,順時針,逆時針": the encoder is frozen but for these words' token embeddings (after
    # textual inversion, Gal et al. 2022), so every caption without them keeps exactly the features the DiT was
    # trained on, while the auxiliary loss can still pull the named words apart. For continuing a trained model.
    # Measured (data/t2v/README.md): the five-run model + 6,000 CPU steps with the four direction words and the
    # tokens loss: seen 85.2% (its twin without either 83.2), rotations shown 50 / 23% (42 / 12), two-object 48.4%
    # (52.3): not shipped
    noise_correlation: float = 0.0  # > 0: every frame's noise shares this fraction of its variance with the clip's
    # other frames (`diffusion.mixed_noise`, PYoCo's mixed noise): frames start alike, so an object's shape and size
    # need not be agreed across frames from independent noise. Recorded in the checkpoint; the pipeline samples from
    # the same noise. 0 = i.i.d. noise, as every shipped run. Measured from scratch (data/t2v/README.md, "Frames
    # started from correlated noise"): 0.5 scored 73.5% of 480 single-object clips at 7,500 steps against 80.6%
    # with i.i.d. noise, consistency no better and motion worse
    story_clips: int = 0  # clips that continue a story (`StorySegments`), cached beside the others and always
    # trained with their first latent frame given: how a segment starts from the state the last one left
    image_prob: float = 0.0  # share of the other clips trained with their first latent frame given (image-to-video)
    given_level: float = 0.0  # the time (noise level) given frames are seen at, in training and sampling
    ema_decay: float = 0.998  # EMA of the weights (what is shipped); warmed up as min(decay, (1+k)/(10+k))
    seed: int = 0  # model initialisation, and (with the step) every batch's indices, times, noise and dropout
    checkpoint_every: int = 500  # steps between training-state checkpoints (and EMA snapshots for evaluation)
    bf16: bool = False  # bf16 autocast (on for the GPU runs). On the 2-core CPU, with `dit.attend` keeping attention in
    # fp32: 1.22x the fp32 step, 1.49x with --compile (benchmarks/t2v_train_speed.py), the same loss a step (0-1%
    # lower over 3,000 steps on the same batches); off by default so that the defaults stay the shipped first run's
    # recipe
    compile: bool = False  # torch.compile the DiT's training forward and backward (a C++ compiler on a CPU; the first
    # step waits for the compile, ~2 min on the 2-core CPU): fuses the many small kernels of an 80-token model;
    # measured 1.15x the plain step's tokens/s on this CPU (benchmarks/t2v_benchmark.py)
    threads: int = 0  # torch CPU threads (0: torch's choice); 1 is often fastest on a shared 2-core box
    init_from: str = ""  # a shipped t2v checkpoint to continue from (its weights become model and EMA; fresh
    # optimiser and schedule, steps counted from 0: use another seed for fresh batches); "" = from scratch


T2V_RESUMABLE_DIFFERENCES = {"checkpoint_every", "threads"}
# Recommended sampling, recorded in every exported checkpoint. shift 3 spends more of the steps at high noise
# (SD3's time shift), measured better than uniform steps at 8 and 20 Euler steps (benchmarks/results/t2v.json).
T2V_DEFAULT_SAMPLING = {"sampler": "euler", "steps": 20, "guidance": 4.0, "shift": 3.0}


def vae_sha256(path) -> str:
    """The sha256 the VAE checkpoint's sidecar records (and `load_tensors` verifies)."""
    return read_meta(path, kind="vae")["sha256"]


def t2v_cache_path(cfg: T2VTrainConfig, root="runs/latents") -> Path:
    """Where the latent cache of `cfg` lives: named by the VAE's sha256, so a retrained VAE never reuses stale latents."""
    narrowed = ("" if cfg.rotation_start == "random" else f"-{cfg.rotation_start}") + \
        (f"-spin{cfg.rotation_speed:g}" if cfg.rotation_speed else "")
    return Path(root) / f"{vae_sha256(cfg.vae)[:16]}-train-s{cfg.data_seed}-n{cfg.cache_clips}{narrowed}"


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


def ensure_story_cache(cfg: "T2VTrainConfig", root="runs/latents", device=None, progress=True) -> LatentCache | None:
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
    cache_latents(vae, StorySegments(cfg.story_clips, "train", cfg.data_seed, two_object_prob=0.3), cfg.story_clips,
                  path, progress=progress)
    return load_latents(path)


def step_generator(seed: int, step: int) -> torch.Generator:
    """The CPU generator of one step: a pure function of (seed, step), so resuming needs no RNG state."""
    return torch.Generator().manual_seed(seed * 1_000_000_007 + step)


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
    """Everything random about global batch `step`: clip indices, times t, noise, which captions are dropped.

    Drawn on the CPU for the whole global batch, then each DDP rank takes its slice:
    so N ranks compute exactly the gradient one process computes on the full batch.
    `weights` (n,) from `clip_weights`: draw clips in proportion to them (None: uniformly).
    """
    g = step_generator(cfg.seed, step)
    b = cfg.batch_size
    index = (torch.randint(0, num_clips, (b,), generator=g) if weights is None
             else torch.multinomial(weights, b, replacement=True, generator=g))
    batch = {"index": index,
             "t": shift_time(logit_normal_timesteps(b, generator=g), cfg.timestep_shift),
             "eps": torch.randn((b, *latent_shape), generator=g),
             "drop": torch.rand(b, generator=g) < cfg.caption_dropout}
    if cfg.noise_correlation:  # drawn last, so the batch's clips, times and dropped captions stay those of i.i.d. noise
        z, _, h, w = latent_shape
        shared = torch.randn((b, z, 1, h, w), generator=g)
        batch["eps"] = mixed_noise(batch["eps"], shared, cfg.noise_correlation)
    if cfg.image_prob:  # drawn after everything else: a run without it draws exactly the batches it did
        batch["image"] = torch.rand(b, generator=g) < cfg.image_prob
    return batch


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
                        noise_correlation=cfg.noise_correlation,
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
    if cfg.preset not in DIT_PRESETS:
        raise ValueError(f"unknown DiT preset {cfg.preset!r}; choose from {sorted(DIT_PRESETS)}")
    if cfg.text_aux_from not in TEXT_AUX_SOURCES:
        raise ValueError(f"text_aux_from must be one of {TEXT_AUX_SOURCES}, got {cfg.text_aux_from!r}")
    if not 0.0 <= cfg.noise_correlation < 1.0:
        raise ValueError(f"noise_correlation must be in [0, 1), got {cfg.noise_correlation}")
    train_rows = text_train_rows(cfg.text_train_words)  # checked before any data is read
    if train_rows is not None and cfg.weight_decay:
        raise ValueError("text_train_words needs weight_decay 0: decay would move the frozen embedding rows too")
    rank, world = dist_info()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} does not split over {world} ranks")
    device, out = as_device(device), Path(out_dir)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)))
    if cache is None:  # rank 0 encodes it if needed, then the others read it
        if rank == 0:
            cache = ensure_latent_cache(cfg, cache_root, device=device, progress=progress, workers=cache_workers)
        if world > 1:
            torch.distributed.barrier()
        if rank != 0:
            cache = ensure_latent_cache(cfg, cache_root, device=device, progress=False)
    stories = ensure_story_cache(cfg, cache_root, device=device, progress=progress and rank == 0)
    latents, captions = cache.latents.float(), list(cache.captions)
    story_flag = None
    if stories is not None:  # story segments follow the clips: index >= len(cache) is a story clip
        latents, captions = torch.cat([latents, stories.latents.float()]), captions + list(stories.captions)
        story_flag = torch.arange(len(latents)) >= len(cache)
    latent_shape = tuple(latents.shape[1:])
    ids_all, mask_all = encode_batch(captions)
    weights = clip_weights(captions, cfg.rotation_weight)
    null_ids, null_mask = encode_batch([None])
    labels_all = None
    if cfg.text_aux_weight > 0:
        labels_all = (caption_token_labels if cfg.text_aux_from == "tokens" else caption_labels)(captions)

    torch.manual_seed(cfg.seed)
    model = build_dit(cfg.preset, latent_shape[0]).to(device)
    state = latest_training_state(out) if resume else None
    base = init_from_t2v(model, cfg.init_from) if cfg.init_from and state is None else None  # (a state has its own)
    ema = copy.deepcopy(model).requires_grad_(False)
    ema.eval()
    both = torch.nn.ModuleDict({"model": model, "ema": ema})  # one training state holds both
    head = None
    if cfg.text_aux_weight > 0:  # drawn after the model, so a run without it initialises exactly as before
        head = torch.nn.Linear(model.config.text_width, PAIRS).to(device)
        both["text_head"] = head  # trained and checkpointed with the model; not exported
    trainable_rows = None if train_rows is None else freeze_text_encoder_except(model, train_rows)
    trained = [p for p in model.parameters() if p.requires_grad] + ([] if head is None else list(head.parameters()))
    optimizer = torch.optim.AdamW(trained, lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)
    start, elapsed, history = 0, 0.0, []
    base_info = {} if base is None else {"init_from": base}  # kept in every state, snapshot and export
    where = where_trained(device, cfg.bf16)

    if state is not None:
        meta = load_training_state(state, both, optimizer, None)
        check_resumable(state, T2VTrainConfig(**meta["config"]), cfg, T2V_RESUMABLE_DIFFERENCES)
        start, elapsed, history = meta["step"], meta["elapsed"], meta["history"]
        base_info = {"init_from": meta["init_from"]} if "init_from" in meta else {}  # as first read, not re-read
        if rank == 0:
            print(f"resuming from {state} at step {start}", file=sys.stderr)
    elif resume and rank == 0:
        print(f"no training state in {out}, starting from scratch", file=sys.stderr)

    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:  # the same maths, fused; the weights and checkpoints stay those of the plain `model`
        net = torch.compile(net, dynamic=False)

    log = None
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(asdict(cfg), indent=1) + "\n")
        log = (out / "log.jsonl").open("a")
    t0 = time.perf_counter() - elapsed
    local = cfg.batch_size // world
    shard = slice(rank * local, (rank + 1) * local)

    def checkpoint(step: int) -> None:
        if rank != 0:
            return
        seconds = time.perf_counter() - t0
        save_training_state(out, step, both, optimizer, None, asdict(cfg), elapsed=seconds, history=history,
                            latent_shape=list(latent_shape), **base_info, **where)
        if snapshots:
            export_t2v(ema, out / f"ema-{step:08d}", cfg, latent_shape, step=step, train_seconds=round(seconds, 1),
                       **base_info, **where)

    model.train()
    end = cfg.steps if stop_at is None else min(stop_at, cfg.steps)
    bar = tqdm(range(start, end), initial=start, total=cfg.steps, disable=not progress or rank != 0, desc="t2v",
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    window, window_t = 0, time.perf_counter()
    for step in bar:
        lr = lr_at(cfg, step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        batch = step_batch(cfg, step, len(latents), latent_shape, weights)
        index, drop = batch["index"][shard], batch["drop"][shard]
        x0 = latents[index].to(device)
        ids = torch.where(drop[:, None], null_ids, ids_all[index]).to(device)
        mask = torch.where(drop[:, None], null_mask, mask_all[index]).to(device)
        given = given_first_frames(index, story_flag, batch["image"][shard] if "image" in batch else None,
                                   latent_shape[1])
        with autocast_context(device, cfg.bf16):
            loss = flow_matching_loss(net, x0, ids, mask, t=batch["t"][shard].to(device), eps=batch["eps"][shard].to(device),
                                      given=None if given is None else given.to(device), given_level=cfg.given_level)
            aux = None
            if head is not None:  # on the captions not dropped: the empty prompt names nothing
                keep = index[~drop]
                aux = text_aux_loss(model, head, ids_all[keep].to(device), mask_all[keep].to(device),
                                    labels_all[keep].to(device), kept=int((~batch["drop"]).sum()), world=world,
                                    source=cfg.text_aux_from)
        optimizer.zero_grad(set_to_none=True)
        (loss if aux is None else loss + cfg.text_aux_weight * aux).backward()
        if head is not None and world > 1:  # the head is outside DDP: average its gradients by hand
            for p in head.parameters():
                torch.distributed.all_reduce(p.grad)
                p.grad /= world
        if trainable_rows is not None:  # only the named words' embeddings learn (see freeze_text_encoder_except)
            model.text_encoder.token_embedding.weight.grad[~trainable_rows] = 0
        torch.nn.utils.clip_grad_norm_(trained, cfg.grad_clip)
        optimizer.step()
        done = step + 1
        ema_update(ema, model, min(cfg.ema_decay, (1 + step) / (10 + step)))

        window += 1
        if rank == 0 and (done % 10 == 0 or done == end):
            now = time.perf_counter()
            its = window / max(1e-9, now - window_t)
            window, window_t = 0, now
            log.write(json.dumps({"step": done, "loss": loss.item(), "lr": lr, "it_s": its, "seconds": now - t0,
                                  **({} if aux is None else {"text_aux": aux.item()})}) + "\n")
            log.flush()
            history.append([done, round(loss.item(), 5), round(now - t0, 1)])
            bar.set_postfix(loss=f"{loss.item():.4f}", its=f"{its:.2f}", refresh=False)
        if done % cfg.checkpoint_every == 0 or done == end:
            checkpoint(done)
    bar.close()
    if log is not None:
        log.close()
    if rank == 0 and export and end == cfg.steps:
        export_t2v(ema, export, cfg, latent_shape, steps_trained=end, train_seconds=round(time.perf_counter() - t0, 1),
                   **base_info, **where)
    return (ema, model) if return_model else ema



def export_from_run(run_dir, path, dtype=torch.float32, sampling: dict | None = None) -> Path:
    """Export the EMA weights of the newest training state in `run_dir` (e.g. to ship a run stopped early)."""
    state = latest_training_state(run_dir)
    if state is None:
        raise CheckpointError(f"no training state in {run_dir}")
    tensors, meta = load_tensors(state, kind="train-state")
    cfg = T2VTrainConfig(**meta["config"])
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
    meta = read_meta(path, kind="t2v")
    _, weak_meta = load_tensors(weak_path, kind="t2v")  # the weaker model's weights are whole (sha256 and size)
    if not same_latents(meta, weak_meta):
        raise ValueError(f"{weak_path} was trained on other latents than {path}; autoguidance needs both on the same")
    if not same_noise(meta, weak_meta):
        raise ValueError(f"{weak_path} was trained from other noise than {path} (frame correlation); autoguidance "
                         "needs both on the same")
    meta["weak"] = {"path": str(weak_path), "sha256": weak_meta["sha256"], "steps_trained": weak_meta.get("steps_trained")}
    chosen = {k: float(v) for k, v in (("autoguidance", autoguidance), ("guidance", guidance)) if v is not None}
    if chosen:
        meta["sampling"] = {**meta.get("sampling", {}), **chosen}
    write_meta(path, meta)
    return meta


# ----------------------------------------------------------------------------
# Command line: one subcommand per stage


def add_dataclass_flags(parser: argparse.ArgumentParser, cls) -> None:
    """One `--field-name` flag per dataclass field, defaulting to the dataclass default."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        if f.type in (bool, "bool"):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
        else:
            kind = {"int": int, "float": float, "str": str}.get(f.type, f.type)
            parser.add_argument(flag, type=kind, default=f.default)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m minivid.train", description=__doc__.split("\n")[0])
    stages = parser.add_subparsers(dest="stage", required=True)

    vae = stages.add_parser("vae", help="train the video VAE", description=VAETrainConfig.__doc__)
    add_dataclass_flags(vae, VAETrainConfig)
    vae.add_argument("--out", default="runs/vae", help="run directory: training states, log.jsonl, final vae.*")
    vae.add_argument("--export", default=None, help="also write the shipped checkpoint here, e.g. data/vae/shapes")
    vae.add_argument("--resume", action="store_true", help="continue from the newest training state in --out")
    vae.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, ...")
    vae.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")

    cache = stages.add_parser("cache-latents", help="encode clips once for DiT training")
    cache.add_argument("--vae", default="data/vae/shapes", help="VAE checkpoint (X, X.safetensors or X.json)")
    cache.add_argument("--n", type=int, required=True, help="number of clips (indices 0..n-1)")
    cache.add_argument("--out", required=True, help="where to write the cache (X -> X.safetensors + X.json)")
    cache.add_argument("--split", default="train")
    cache.add_argument("--seed", type=int, default=0, help="ShapesWorld seed")
    cache.add_argument("--rotation-start", default="random", help="T2VTrainConfig.rotation_start of the run it is for")
    cache.add_argument("--rotation-speed", type=float, default=0.0,
                       help="T2VTrainConfig.rotation_speed of the run it is for (0: drawn, as the spec says)")
    cache.add_argument("--batch-size", type=int, default=64)
    cache.add_argument("--workers", type=int, default=0, help="processes that render clips while the VAE encodes")
    cache.add_argument("--device", default="auto")
    cache.add_argument("--threads", type=int, default=None)

    t2v = stages.add_parser("t2v", help="train the text-to-video DiT (flow matching on cached VAE latents)",
                            description=T2VTrainConfig.__doc__)
    add_dataclass_flags(t2v, T2VTrainConfig)
    t2v.add_argument("--out", default="runs/t2v/edges", help="run directory: training states, EMA snapshots, log.jsonl")
    t2v.add_argument("--export", default=None, help="also write the shipped checkpoint here, e.g. data/t2v/shapes")
    t2v.add_argument("--resume", action="store_true", help="continue from the newest training state in --out")
    t2v.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, ...")
    t2v.add_argument("--cache-root", default="runs/latents", help="where latent caches live (named by the VAE's sha256)")
    t2v.add_argument("--stop-at", type=int, default=None, help="stop after this many steps (resume later)")
    t2v.add_argument("--cache-workers", type=int, default=0,
                     help="processes that render clips while the VAE encodes, if the latent cache is built")

    exp = stages.add_parser("export-t2v", help="export the EMA weights of a run's newest training state")
    exp.add_argument("--run", default="runs/t2v/edges", help="run directory of `t2v`")
    exp.add_argument("--out", default="data/t2v/shapes", help="shipped checkpoint X -> X.safetensors + X.json")
    exp.add_argument("--bf16", action="store_true", help="store the weights in bf16 (half the size)")
    exp.add_argument("--guidance", type=float, default=None, help="default guidance scale to record (default: 4.0)")

    weak = stages.add_parser("name-weak", help="record the weaker model for autoguidance in a checkpoint's sidecar")
    weak.add_argument("--model", default="data/t2v/shapes", help="the t2v checkpoint whose sidecar is updated")
    weak.add_argument("--weak", required=True, help="the weaker t2v checkpoint (same VAE), e.g. data/t2v/weak")
    weak.add_argument("--autoguidance", type=float, default=None,
                      help="also record this recommended weight (pipelines use it by default; 0 = off)")
    weak.add_argument("--guidance", type=float, default=None,
                      help="also record this guidance scale, measured best with that weight")

    args = parser.parse_args(argv)
    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    if args.stage == "t2v":
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world > 1 and not torch.distributed.is_initialized():  # launched by torchrun
            backend = "nccl" if torch.cuda.is_available() and args.device in ("auto", "cuda") else "gloo"
            torch.distributed.init_process_group(backend)
            if backend == "gloo":
                args.device = "cpu"
        cfg = T2VTrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(T2VTrainConfig)})
        train_t2v(cfg, args.out, resume=args.resume, export=args.export, device=args.device,
                  cache_root=args.cache_root, stop_at=args.stop_at, cache_workers=args.cache_workers)
        rank = dist_info()[0]
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
        if args.export and rank == 0 and (args.stop_at is None or args.stop_at >= cfg.steps):
            print(f"wrote {args.export}.safetensors")
    elif args.stage == "export-t2v":
        sampling = {} if args.guidance is None else {"guidance": args.guidance}
        path = export_from_run(args.run, args.out, torch.bfloat16 if args.bf16 else torch.float32, sampling)
        print(f"wrote {path}")
    elif args.stage == "name-weak":
        meta = name_weak_model(args.model, args.weak, args.autoguidance, args.guidance)
        sampling = meta.get("sampling", {})
        print(f"{args.model}.json: weaker model {args.weak} (sha256 {meta['weak']['sha256'][:12]}...), "
              f"autoguidance {sampling.get('autoguidance', 0.0):g}, guidance {sampling.get('guidance')}")
    elif args.stage == "vae":
        cfg = VAETrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(VAETrainConfig)})
        model = train_vae(cfg, args.out, resume=args.resume, export=args.export, device=args.device)
        print(f"scaling factor {float(model.scaling_factor):.4f}; wrote {args.out}/vae.safetensors"
              + (f" and {args.export}.safetensors" if args.export else ""))
    elif args.stage == "cache-latents":
        model = VideoVAE.from_pretrained(args.vae, device=args.device)
        dataset = ShapesWorld(args.n, args.split, args.seed, rotation_start=args.rotation_start,
                              rotation_speed=args.rotation_speed or None)  # as ensure_latent_cache draws them
        path = cache_latents(model, dataset, args.n, args.out, args.batch_size, progress=True, workers=args.workers)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
