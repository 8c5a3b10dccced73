"""How often the evaluator agrees with the spec, how robust it is, and how fast.

    python benchmarks/evaluator_agreement.py                 # ~1 minute on 2 cores; report also in
                                                             # benchmarks/results/evaluator_agreement.txt
    python benchmarks/evaluator_agreement.py --per-combination 10 --two-object 1000

Agreement: every valid single-object combination (seen and held-out) rendered
`--per-combination` times with seeded parameters, plus `--two-object` two-object
scenes; the score per attribute is the fraction of spec objects whose colour,
shape, motion and consistency the evaluator reports correctly (the spec asks for
>= 99% on single-object clips). The same clips are then read after damage a
generated clip may show (quantisation, noise, blur) and on other canvases.
Speed: single-object 17 x 32 x 32 clips per second, batched, at 1 and 2 threads.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from minivid import world
from minivid.evaluate import ATTRIBUTES, describe_batch, prompt_adherence


def singles(rng, per_combination: int, **canvas) -> list[world.SceneSpec]:
    return [
        world.sample_scene(rng, "heldout" if combo in world.HELD_OUT else "train", 1, combination=combo, **canvas)
        for combo in world.valid_combinations()
        for _ in range(per_combination)
    ]


def gaussian_blur(videos: torch.Tensor, sigma: float) -> torch.Tensor:
    r = 2
    k = torch.exp(-torch.arange(-r, r + 1.0) ** 2 / (2 * sigma**2))
    k = k / k.sum()
    x = videos.flatten(0, 2)[:, None]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    x = F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))
    return x.view_as(videos)


def row(name: str, result: dict, seconds: float | None = None) -> str:
    cells = " ".join(f"{result[a]:8.4f}" for a in ("overall", *ATTRIBUTES))
    extra = f"  {result['clips'] / seconds:6.0f} clips/s" if seconds else ""
    return f"{name:34s} {result['clips']:6d} {cells}{extra}"


def failures(result: dict, limit: int = 3) -> list[str]:
    return ["; ".join(c["errors"]) for c in result["per_clip"] if not c["correct"]][:limit]


RESULTS = Path(__file__).parent / "results" / "evaluator_agreement.txt"
LINES: list[str] = []


def report(*parts) -> None:
    """Print a line and keep it for the results file."""
    line = " ".join(str(p) for p in parts)
    print(line)
    LINES.append(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-combination", type=int, default=5, help="clips per valid single-object combination")
    parser.add_argument("--two-object", type=int, default=500, help="two-object clips")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    header = f"{'clips':34s} {'n':>6s} " + " ".join(f"{a:>8s}" for a in ("overall", *ATTRIBUTES))
    report(header)
    one = singles(rng, args.per_combination)
    two = [world.sample_scene(rng, "train", 2) for _ in range(args.two_object)]
    videos = world.render_batch(one)
    for name, scenes, clips in (("single object (all 176 combos)", one, videos), ("two objects", two, None)):
        clips = world.render_batch(scenes) if clips is None else clips
        start = time.perf_counter()
        result = prompt_adherence(clips, scenes)
        report(row(name, result, time.perf_counter() - start))
        for f in failures(result):
            report("    ", f)
    seen = [s for s in one if (s.objects[0].shape, s.objects[0].colour, s.objects[0].motion) not in world.HELD_OUT]
    unseen = [s for s in one if (s.objects[0].shape, s.objects[0].colour, s.objects[0].motion) in world.HELD_OUT]
    for name, scenes in (("  of which seen combos", seen), ("  of which held-out combos", unseen)):
        report(row(name, prompt_adherence(world.render_batch(scenes), scenes)))

    report("\nthe same single-object clips after damage")
    g = torch.Generator().manual_seed(args.seed)
    damage = {
        "uint8": lambda v: (v * 255).round() / 255,
        "gaussian noise 0.05": lambda v: (v + 0.05 * torch.randn(v.shape, generator=g)).clamp(0, 1),
        "gaussian noise 0.10": lambda v: (v + 0.10 * torch.randn(v.shape, generator=g)).clamp(0, 1),
        "blur sigma 0.7": lambda v: gaussian_blur(v, 0.7),
        "blur sigma 1.0": lambda v: gaussian_blur(v, 1.0),
    }
    for name, harm in damage.items():
        result = prompt_adherence(harm(videos), one)
        report(row(name, result))
        for f in failures(result, 2):
            report("    ", f)

    grey = [replace(s, background=(40, 40, 40)) for s in one]  # the renderer's own non-black background
    report(row("grey background (40, 40, 40)", prompt_adherence(world.render_batch(grey), grey)))

    report("\nother canvases (frames, height, width), one clip per combination")
    for frames, height, width in ((24, 32, 48), (64, 32, 32), (5, 32, 32), (2, 32, 32), (17, 16, 16)):
        scenes = singles(rng, 1, frames=frames, height=height, width=width)
        result = prompt_adherence(world.render_batch(scenes), scenes)
        report(row(f"{frames} x {height} x {width}", result))
        for f in failures(result, 2):
            report("    ", f)

    report("\nspeed, single-object 17 x 32 x 32 clips")
    clips = world.render_batch(singles(rng, 3))
    for threads in (1, 2):
        describe_batch(clips[:16], threads=threads)  # warm up
        start = time.perf_counter()
        describe_batch(clips, threads=threads)
        seconds = time.perf_counter() - start
        report(f"{threads} thread(s): {len(clips) / seconds:6.0f} clips/s ({len(clips)} clips in {seconds:.2f} s)")


if __name__ == "__main__":
    main()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")
