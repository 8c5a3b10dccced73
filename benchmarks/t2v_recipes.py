"""Two training recipes at equal DiT steps: which one follows prompts better, and by how much.

    python benchmarks/t2v_recipes.py --runs runs/t2v/long runs/t2v/edges --steps 3000 6000 9000

For every run and step, the EMA snapshot `RUN/ema-{step}` is sampled like the shipped
model (20 Euler steps, guidance 4, shift 3, seed 0) on the 160 prompts of the steps
sweep (48 held-out + 112 seen single-object, English) and the first 64 two-object
prompts of the eval set, and scored with `minivid.evaluate.prompt_adherence`.
Results -> benchmarks/results/t2v_recipes.json (each run's preset and DiT config
with it, so the difference between the recipes is on record). With 160 prompts the
standard error of a score near 50% is ~4 points: read differences below ~8 points as
noise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from t2v_benchmark import generate, scores, sweep_prompts  # noqa: E402  (one prompt set, one scoring)

from minivid.checkpoint import read_meta  # noqa: E402
from minivid.pipeline import TextToVideo  # noqa: E402
from minivid.world import caption, load_eval_set  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TWO_OBJECT_PROMPTS = 64


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, help="run directories of `python -m minivid.train t2v`")
    ap.add_argument("--steps", nargs="+", type=int, required=True, help="snapshots to compare (multiples of 500)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_recipes.json"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    groups = sweep_prompts()
    single = groups["heldout"] + groups["seen"]
    held = len(groups["heldout"])
    two = [caption(s, "en") for g, s in load_eval_set(ROOT / "data/eval_set.json") if g == "two_object"]
    two = two[:TWO_OBJECT_PROMPTS]
    out = Path(args.out)
    result = {"description": __doc__.strip().split("\n\n", 1)[1], "runs": {}}
    for run in args.runs:
        entry = {"points": []}
        for step in args.steps:
            snap = Path(run) / f"ema-{step:08d}"
            meta = read_meta(snap, kind="t2v")
            entry.setdefault("preset", meta["train_config"]["preset"])
            entry.setdefault("dit_config", meta["config"])
            entry.setdefault("train_config", meta["train_config"])
            pipe = TextToVideo.from_pretrained(snap)
            videos, _ = generate(pipe, single, steps=20, guidance=4.0, shift=3.0)
            two_videos, _ = generate(pipe, two, steps=20, guidance=4.0, shift=3.0)
            point = {"step": step, "train_seconds": meta["train_seconds"],
                     "single_160": scores(videos, single), "heldout_48": scores(videos[:held], single[:held]),
                     "two_object_64": scores(two_videos, two)}
            entry["points"].append(point)
            print(f"{run} step {step}: 160 single {point['single_160']['overall']:.3f}, held-out "
                  f"{point['heldout_48']['overall']:.3f}, two-object {point['two_object_64']['overall']:.3f}",
                  flush=True)
        result["runs"][run] = entry
        out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
