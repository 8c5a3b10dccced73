"""Pick the default classifier-free guidance scale: held-out and seen adherence vs guidance.

    python benchmarks/t2v_guidance.py --model runs/t2v/main/ema-00001400 --scales 1,2,3,4,6

48 held-out + 48 seen single-object prompts and 48 two-object prompts (English,
canonical captions), 20 Euler steps, seed 0. Results: benchmarks/results/t2v_guidance.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from minivid import world
from minivid.evaluate import prompt_adherence
from minivid.pipeline import TextToVideo

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="data/t2v/shapes")
    ap.add_argument("--scales", default="1,2,3,4,6")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_guidance.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    pipe = TextToVideo.from_pretrained(args.model, device="cpu")
    evalset = world.load_eval_set(ROOT / "data/eval_set.json")
    groups = {g: [world.caption(s, "en") for gg, s in evalset if gg == g][:48] for g in ("heldout", "seen", "two_object")}
    rows = []
    for scale in [float(s) for s in args.scales.split(",")]:
        row = {"guidance": scale}
        t0 = time.perf_counter()
        for g, prompts in groups.items():
            s = prompt_adherence(pipe(prompts, steps=args.steps, guidance=scale, seed=0), prompts)
            row[g] = {k: round(float(s[k]), 4) for k in ("overall", "colour", "shape", "motion", "consistency")}
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps({"model": args.model, "model_step": pipe.meta.get("step", pipe.meta.get("steps_trained")),
                                          "steps": args.steps, "sampler": "euler", "seed": 0, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
