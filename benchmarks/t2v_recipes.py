"""Two training recipes at equal DiT steps: which one follows prompts better, and by how much.

    python benchmarks/t2v_recipes.py --runs runs/t2v/long runs/t2v/edges --steps 3000 9000
    (or one call per run, in parallel: each call adds its runs to the results file)

For every run and step, the EMA snapshot `RUN/ema-{step}` is sampled like the shipped
model (20 Euler steps, guidance 4, shift 3, seed 0) on every English prompt of the
eval set (48 held-out + 304 seen single-object, 128 two-object) and scored with
`minivid.evaluate.prompt_adherence`. Results -> benchmarks/results/t2v_recipes.json
(each run's preset and DiT config with it, so the difference between the recipes is
on record). With 352 single-object prompts the standard error of a score near 50% is
~2.7 points, and other starting noise alone moved a 160-prompt score by 10 points:
read differences below ~6 points as noise.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from t2v_benchmark import eval_prompts, generate, scores  # noqa: E402  (one prompt set, one way to sample and score)

from minivid.checkpoint import read_meta  # noqa: E402
from minivid.pipeline import TextToVideo  # noqa: E402
from minivid.train import T2V_DEFAULT_SAMPLING  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, help="run directories of `python -m minivid.train t2v`")
    ap.add_argument("--steps", nargs="+", type=int, required=True, help="snapshots to compare (multiples of 500)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_recipes.json"))
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    group = eval_prompts("en")
    single, held, two = group["heldout"] + group["seen"], len(group["heldout"]), group["two_object"]
    sampling = {k: T2V_DEFAULT_SAMPLING[k] for k in ("steps", "guidance", "shift")}  # Euler, as the shipped model
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
            videos, _ = generate(pipe, single, sampler="euler", **sampling)
            two_videos, _ = generate(pipe, two, sampler="euler", **sampling)
            point = {"step": step, "train_seconds": meta["train_seconds"],
                     "single": scores(videos, single, by_motion=True), "heldout": scores(videos[:held], single[:held]),
                     "two_object": scores(two_videos, two, by_motion=True)}
            entry["points"].append(point)
            print(f"{run} step {step}: single {point['single']['overall']:.3f}, held-out "
                  f"{point['heldout']['overall']:.3f}, two-object {point['two_object']['overall']:.3f}",
                  flush=True)
        on_disk = json.loads(out.read_text()) if out.exists() else {}  # runs measured by other calls stay
        result["runs"] = {**on_disk.get("runs", {}), **result["runs"], run: entry}
        out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
