"""The strip of generated clips at the top of README.md.

    python benchmarks/readme_strip.py            # -> docs/strip.gif, docs/strip.png

Draws one clip per prompt below with the shipped model (data/t2v/shapes), its
recommended sampler and seed 0, and writes them side by side: an animated GIF
(docs/strip.gif) and a still of every other frame, one row per clip
(docs/strip.png). The prompts are fixed here, chosen before drawing; the script
prints what the evaluator reads in each clip, so a clip that misses its prompt
is reported, not hidden.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from minivid import evaluate, viz
from minivid.pipeline import TextToVideo

PROMPTS = [
    "a red circle moves left",
    "藍色的正方形順時針旋轉",
    "a yellow triangle bounces",
    "綠色的圓形向上移動，紫色的三角形靜止不動",
]
SCALE = 2  # pixels per model pixel in the written images
GAP = 4  # white pixels between clips


def side_by_side(clips: np.ndarray) -> np.ndarray:
    """(b, t, h, w, 3) uint8 -> (t, h, b*w + (b-1)*GAP, 3): the clips in one row."""
    b, t, h, w, _ = clips.shape
    row = np.full((t, h, b * w + (b - 1) * GAP, 3), 255, dtype=np.uint8)
    for i in range(b):
        row[:, :, i * (w + GAP) : i * (w + GAP) + w] = clips[i]
    return row


def stills(clips: np.ndarray, every: int = 2) -> np.ndarray:
    """(b, t, h, w, 3) uint8 -> one image, a row per clip, every `every`-th frame."""
    b, t, h, w, _ = clips.shape
    shown = range(0, t, every)
    grid = np.full((b * (h + GAP) - GAP, len(shown) * (w + GAP) - GAP, 3), 255, dtype=np.uint8)
    for r in range(b):
        for c, f in enumerate(shown):
            grid[r * (h + GAP) : r * (h + GAP) + h, c * (w + GAP) : c * (w + GAP) + w] = clips[r, f]
    return grid


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="data/t2v/shapes", help="checkpoint to draw with")
    ap.add_argument("--seed", type=int, default=0, help="sampling seed")
    ap.add_argument("--out", default="docs", help="folder for strip.gif and strip.png")
    ap.add_argument("--results", default="benchmarks/results/readme_strip.json",
                    help="where to record the prompts, seed, model and the evaluator's verdicts")
    args = ap.parse_args(argv)

    torch.manual_seed(0)
    pipe = TextToVideo.from_pretrained(args.model)
    videos = pipe(PROMPTS, seed=args.seed)  # (b, t, 3, h, w) in [0, 1]
    report = evaluate.prompt_adherence(videos, PROMPTS)
    for prompt, clip in zip(PROMPTS, report["per_clip"]):
        print(f"{'pass' if clip['correct'] else 'FAIL'}  {prompt}  {'; '.join(clip['errors'])}")

    frames = np.stack([viz.to_uint8_frames(v) for v in videos])  # (b, t, h, w, 3)
    frames = frames.repeat(SCALE, axis=2).repeat(SCALE, axis=3)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    row = side_by_side(frames)
    viz.save_video(torch.from_numpy(row).permute(0, 3, 1, 2).float() / 255, out / "strip.gif", fps=8, scale=1)
    Image.fromarray(stills(frames)).save(out / "strip.png", optimize=True)
    record = {
        "command": "python benchmarks/readme_strip.py",
        "model": args.model,
        "model_sha256": hashlib.sha256(Path(args.model).with_suffix(".safetensors").read_bytes()).hexdigest(),
        "seed": args.seed,
        "sampling": json.loads(Path(args.model).with_suffix(".json").read_text())["sampling"],
        "clips": [{"prompt": p, "correct": c["correct"], "errors": c["errors"]}
                  for p, c in zip(PROMPTS, report["per_clip"])],
    }
    Path(args.results).write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {out / 'strip.gif'}, {out / 'strip.png'} and {args.results}")


if __name__ == "__main__":
    main()
