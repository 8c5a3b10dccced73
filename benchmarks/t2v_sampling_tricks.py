"""Can a better sampler draw the rotations the model misses? Restart sampling and autoguidance, measured.

    python benchmarks/t2v_sampling_tricks.py --weak-model data/t2v/weak   # -> benchmarks/results/t2v_sampling_tricks.json

(the weak model is the first training run alone, shipped beside the model as data/t2v/weak: the same bytes as
the model shipped from commit bb35dce, which the results file's runs loaded from runs/weak/shapes;
without --weak-model the autoguidance rows are skipped.)

The shipped model draws a rotation from noise in about one clip in eight, yet finishes one
from moderate noise (benchmarks/t2v_rotation.py): where the sampler must create the pose it
draws a blend of several tilts. Two training-free ideas from the literature aim at exactly such
blurred, averaged samples, so they are measured here against classifier-free guidance alone
("euler": 20 Euler steps at the checkpoint's guidance scale and shift; 4 and 3 when the results
file was made, before autoguidance became the recommended sampler):

- Restart sampling (Xu et al. 2023, "Restart Sampling for Improving Generative Processes"):
  integrate down to t_min, then K times put noise back to t_max along the forward process and
  integrate down again: the added noise contracts the sampler's accumulated error.
- Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of Itself"):
  extrapolate away from a weaker model of the same data, v = v_weak + w (v_good - v_weak),
  which pushes samples out of the regions where the weaker model spreads its mass; here
  either on its own (both conditional, the paper's form) or added to classifier-free guidance
  (`sampling.autoguidance`). The weaker model is the first training run alone (9,000 steps).
- Guidance in a limited interval (Kynkäänniemi et al. 2024, "Applying Guidance in a Limited
  Interval Improves Sample and Distribution Quality in Diffusion Models"): classifier-free
  guidance only for t_lo <= t <= t_hi, the conditional model alone elsewhere (one call a step
  fewer there). Not run unless named in --variants.

Groups (English canonical captions, each sampled with seeds 0 .. S-1, the pipeline's starting
noise): the eval set's 52 seen single-object scenes that rotate, 52 that do not (spread over
the other 252, as benchmarks/t2v_rotation.py), and the 128 two-object scenes. With the default
4 seeds that is 208, 208 and 512 clips: one clip is 0.5 and 0.2 points, a standard error
about 3 points at 20% and 2 at 50% (less for the difference of two variants on the same noise).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from t2v_benchmark import ROOT, scores  # noqa: E402  (one way to score, as the other benchmarks)

from minivid import sampling, world  # noqa: E402
from minivid.checkpoint import same_latents  # noqa: E402
from minivid.pipeline import DEFAULT_PATH, TextToVideo, noise_for  # noqa: E402
from minivid.seeds import noise_generator  # noqa: E402
from minivid.text import encode_batch  # noqa: E402

# name: (method, settings); restart: t_min, t_max, K restarts, Euler steps per restart; autoguidance: the arguments
# of sampling.autoguidance (guidance 1 = no classifier-free guidance)
VARIANTS = {
    "euler": ("euler", {}),
    "restart 0.1-0.6 x2": ("restart", {"t_min": 0.1, "t_max": 0.6, "restarts": 2, "steps": 6}),
    "restart 0.5-0.9 x4": ("restart", {"t_min": 0.5, "t_max": 0.9, "restarts": 4, "steps": 6}),
    "autoguidance alone (w 3)": ("autoguidance", {"guidance": 1.0, "weight": 2.0}),  # Karras et al.'s w = 1 + weight
    "guidance 4 + autoguidance 1": ("autoguidance", {"guidance": 4.0, "weight": 1.0}),
    "guidance 4 + autoguidance 0.5": ("autoguidance", {"guidance": 4.0, "weight": 0.5}),  # other weights: not run
    "guidance 4 + autoguidance 2": ("autoguidance", {"guidance": 4.0, "weight": 2.0}),  # unless asked for
    "guidance 4 for t <= 0.8": ("interval", {"guidance": 4.0, "t_lo": 0.0, "t_hi": 0.8}),
    "guidance 4 for t >= 0.3": ("interval", {"guidance": 4.0, "t_lo": 0.3, "t_hi": 1.0}),
    "guidance 4 for 0.3 <= t <= 0.8": ("interval", {"guidance": 4.0, "t_lo": 0.3, "t_hi": 0.8}),
    "guidance 4 for t >= 0.6": ("interval", {"guidance": 4.0, "t_lo": 0.6, "t_hi": 1.0}),
}
DEFAULT_VARIANTS = list(VARIANTS)[:5]


def renoise(x: torch.Tensor, s: float, t: float, generator) -> torch.Tensor:
    """x_s -> x_t for t > s along x_t = (1 - t) x0 + t eps: scale by a = (1 - t) / (1 - s), add noise of variance
    t^2 - a^2 s^2 (so the total noise is t, as training's path has it)."""
    a = (1 - t) / (1 - s)
    return a * x + math.sqrt(t * t - a * a * s * s) * torch.randn(x.shape, generator=generator, dtype=x.dtype)


@torch.no_grad()
def restart_sample(velocity_fn, x, ts, t_min: float, t_max: float, restarts: int, steps: int, generator):
    """Euler on `ts` down to exactly t_min; K times renoise to t_max and integrate back with `steps` Euler steps
    (Xu et al. 2023, Algorithm 1, with Euler as the ODE solver); then from t_min on the grid's times below it."""
    x = sampling.euler_sample(velocity_fn, x, torch.cat([ts[ts > t_min + 1e-6], ts.new_tensor([t_min])]))
    for _ in range(restarts):
        x = renoise(x, t_min, t_max, generator)
        x = sampling.euler_sample(velocity_fn, x, torch.linspace(t_max, t_min, steps + 1))
    return sampling.euler_sample(velocity_fn, x, sampling.truncate_timesteps(ts, t_min))


def sample(pipe, weak, prompts, method: str, settings: dict, first: int = 0, seed: int = 0) -> tuple[torch.Tensor, int]:
    """Latents for the prompts with one variant and the pipeline's starting noise (prompt i of the group gets
    `noise_for(first + i, seed)`, whatever the chunk); and the model calls per clip."""
    b = len(prompts)
    x = torch.stack([noise_for(first + i, seed, pipe.latent_size(17), "cpu") for i in range(b)])
    cond, uncond = encode_batch(prompts), encode_batch([None] * b)
    ts = sampling.flow_timesteps(pipe.defaults["steps"], shift=pipe.defaults["shift"])
    calls = [0]  # network evaluations of the whole batch = per clip, counted where they happen

    def counted(model):
        def f(*args):
            calls[0] += 1
            return model(*args)
        return f

    good = counted(pipe.dit)
    if method == "autoguidance":
        fn = sampling.autoguidance(good, counted(weak.dit), cond, uncond, settings["guidance"], settings["weight"])
    elif method == "interval":
        guided = sampling.classifier_free_guidance(good, cond, uncond, settings["guidance"])
        plain = sampling.conditioned(good, *cond)
        fn = lambda x, t: guided(x, t) if settings["t_lo"] <= float(t[0]) <= settings["t_hi"] else plain(x, t)  # noqa: E731
    else:
        fn = sampling.classifier_free_guidance(good, cond, uncond, pipe.defaults["guidance"])
    if method == "restart":
        g = noise_generator(seed, first + 500_000)  # restart noise: its own per chunk
        return restart_sample(fn, x, ts, generator=g, **settings), calls[0]
    return sampling.euler_sample(fn, x, ts), calls[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_PATH)
    ap.add_argument("--weak-model", default="", help="the weaker model for autoguidance (same VAE); none: skipped")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS), help="comma-separated names from VARIANTS")
    ap.add_argument("--seeds", type=int, default=4, help="sample every group with seeds F .. F+S-1")
    ap.add_argument("--first-seed", type=int, default=0, help="F: the first seed (fresh noise for a second look)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_sampling_tricks.json"))
    args = ap.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variants {unknown}; choose from {list(VARIANTS)}")
    torch.set_num_threads(args.threads)
    pipe = TextToVideo.from_pretrained(args.model, device="cpu")
    weak = TextToVideo.from_pretrained(args.weak_model, device="cpu") if args.weak_model else None
    if weak is not None and not same_latents(pipe.meta, weak.meta):
        raise SystemExit("--weak-model must be trained on the same VAE's latents as --model")
    evalset = world.load_eval_set(ROOT / "data/eval_set.json")
    seen = [s for g, s in evalset if g == "seen"]
    rotating = [s for s in seen if s.objects[0].motion in world.ROTATIONS]
    others = [s for s in seen if s.objects[0].motion not in world.ROTATIONS]
    groups = {"rotating": rotating, "not_rotating": [others[i * len(others) // len(rotating)] for i in range(len(rotating))],
              "two_object": [s for g, s in evalset if g == "two_object"]}
    prompts = {g: [world.caption(s, "en") for s in scenes] for g, scenes in groups.items()}
    rows = []
    for name in names:
        method, settings = VARIANTS[name]
        if method == "autoguidance" and weak is None:
            print(f"{name}: skipped (no --weak-model)", flush=True)
            continue
        row, t0 = {"variant": name, "method": method, **settings}, time.perf_counter()
        for g, ps in prompts.items():
            parts = [sample(pipe, weak, ps[i:i + 64], method, settings, first=i, seed=seed)
                     for seed in range(args.first_seed, args.first_seed + args.seeds) for i in range(0, len(ps), 64)]
            latents = torch.cat([p[0] for p in parts])  # seed-major, as ps * seeds
            row["model_calls_per_clip"] = parts[0][1]
            row[g] = scores(pipe.vae.decode_latents(latents).float(), ps * args.seeds)
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(f"{name}: " + ", ".join(f"{g} {row[g]['overall']:.3f}" for g in groups)
              + f" ({row['model_calls_per_clip']} calls/clip, {row['seconds']:.0f} s)", flush=True)
    result = {"model": args.model, "model_sha256": pipe.meta["sha256"], "sampling": pipe.defaults,
              "weak_model": args.weak_model or None, "weak_model_sha256": weak.meta["sha256"] if weak else None,
              "clips": {g: len(p) * args.seeds for g, p in prompts.items()}, "seeds": args.seeds, "first_seed": args.first_seed,
              "command": "python benchmarks/t2v_sampling_tricks.py"
              + (f" --model {args.model}" if args.model != DEFAULT_PATH else "")
              + (f" --weak-model {args.weak_model}" if weak else "")
              + (f' --variants "{args.variants}"' if names != DEFAULT_VARIANTS else "")
              + (f" --first-seed {args.first_seed}" if args.first_seed else "")
              + f" --seeds {args.seeds} --threads {args.threads}",
              "description": __doc__.split("\n\n")[2].replace("\n", " ").strip(), "rows": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
