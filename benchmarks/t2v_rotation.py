"""Where rotation is lost: finish real clips from a given noise level with the shipped sampler.

    python benchmarks/t2v_rotation.py                        # -> benchmarks/results/t2v_rotation.json
    python benchmarks/t2v_rotation.py --model runs/t2v/cont3/ema-00009000 --out /tmp/rotation.json
    python benchmarks/t2v_rotation.py --starts "" --direction-seeds 4    # only the direction tally
    python benchmarks/t2v_rotation.py --starts "" --speeds 10,15,20 --speed-starts 0.6,0.8 --out /tmp/speeds.json

The shipped model shows almost no rotation when it samples from pure noise
(`t2v_benchmark.py`'s per-motion table), although rotating clips are a quarter of
its training data. This asks at which noise level the rotation gets lost. The
eval set's seen single-object scenes that rotate (and as many that do not, spread
over the rest, as a control) are rendered, encoded by the VAE, noised to time t
(x_t = (1 - t) x0 + t eps, seed 0) and finished from there with the checkpoint's
recommended sampler (its time grid cut at t: Euler, guidance, shift) -- the
pipeline's editing mode, `pipe(prompts, init_video=clips, strength=t)` -- then scored
with `minivid.evaluate.prompt_adherence` against their captions. t = 1 is ordinary
sampling from noise; a small t only cleans up what is already there (SDEdit, Meng et
al. 2022). The noise level at which the rotating clips' score falls while the
control's holds is where the model would have to create a rotation and does not.

With --direction-seeds S, the rotating scenes' prompts are also sampled from pure noise
with S seeds each, in English and Chinese, and every asked-for object is tallied as
turning the asked way, turning the other way, or not turning (any other motion or
none): a model that cannot read "clockwise" apart from "counterclockwise" turns the
asked way in about half of the clips that turn at all.

With --speeds, the rotating scenes are rendered again at each of those angular speeds
(deg/frame; the spec draws 10..20) and finished from each of --speed-starts the same
way; per speed and shape it reports the score, the share turning the asked way, and the
median spin the probe measures in the asked direction (from the probe's orientation
track): whether the model keeps the speed it is shown, and which speeds it loses.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from t2v_benchmark import ROOT, motion_by_prompt, scores  # noqa: E402  (one way to score, as t2v_recipes.py)

from minivid import world  # noqa: E402
from minivid.evaluate import prompt_adherence  # noqa: E402
from minivid.pipeline import DEFAULT_PATH, TextToVideo  # noqa: E402


def direction_tally(pipe, scenes, lang: str, seeds: int) -> dict:
    """Sample each scene's caption from noise with `seeds` seeds; count how its object turns (read off the main
    benchmark's per-motion table: asked = shown, the other way = that rotation among what was drawn instead)."""
    captions = [world.caption(s, lang) for s in scenes]
    videos = torch.cat([pipe(captions, seed=seed) for seed in range(seeds)])  # (seeds*n t c h w)
    prompts = captions * seeds  # in the order of the videos
    table = motion_by_prompt(prompt_adherence(videos, prompts))
    counts = {"asked_way": 0, "other_way": 0, "not_turning": 0}
    for asked in world.ROTATIONS:
        if asked not in table:
            continue
        other = next(m for m in world.ROTATIONS if m != asked)
        objects, instead = table[asked]["objects"], table[asked]["instead"]
        counts["asked_way"] += objects - sum(instead.values())
        counts["other_way"] += instead.get(other, 0)
        counts["not_turning"] += sum(instead.values()) - instead.get(other, 0)
    turning = counts["asked_way"] + counts["other_way"]
    print(f"{lang}: {counts} -> the asked way in {counts['asked_way']}/{turning} of the clips that turn", flush=True)
    return counts | {"clips": len(prompts), "asked_way_of_turning": round(counts["asked_way"] / max(turning, 1), 4)}


def _at_speed(scene: world.SceneSpec, speed: float) -> world.SceneSpec:
    """The same one-object scene with its rotation at `speed` deg/frame (pose, place and size kept)."""
    return dataclasses.replace(scene, objects=(dataclasses.replace(scene.objects[0], speed=speed),))


def speed_study(pipe, rotating, speeds: list[float], starts: list[float]) -> list[dict]:
    """Finish each rotating scene, re-rendered at every speed, from each start t; score per speed and shape."""
    scenes = [_at_speed(s, v) for v in speeds for s in rotating]
    prompts = [world.caption(s, "en") for s in scenes]
    clips = world.render_batch(scenes)
    rows = []
    for t_start in starts:
        per_clip = prompt_adherence(pipe(prompts, init_video=clips, strength=t_start), prompts)["per_clip"]
        for speed in speeds:
            for shape in ("square", "triangle"):
                idx = [i for i, s in enumerate(scenes) if s.objects[0].speed == speed and s.objects[0].shape == shape]
                spins, turning = [], 0
                for i in idx:
                    asked = scenes[i].objects[0]
                    found = [o for o in per_clip[i]["detected"] if o.colour == asked.colour]
                    sign = 1.0 if asked.motion == "rotates clockwise" else -1.0  # + = the asked way
                    spins.append(sign * found[0].spin if found else 0.0)
                    turning += bool(found) and found[0].motion == asked.motion
                rows.append({"t_start": t_start, "speed": speed, "shape": shape, "clips": len(idx),
                             "overall": round(sum(per_clip[i]["correct"] for i in idx) / len(idx), 4),
                             "turns_asked_way": round(turning / len(idx), 4),
                             "median_spin_asked_way": round(float(np.median(spins)), 2)})
                r = rows[-1]
                print(f"from t = {t_start:.1f}, {speed:g} deg/frame, {shape}: {r['overall']:.3f} right, "
                      f"{r['turns_asked_way']:.3f} turn the asked way, median spin {r['median_spin_asked_way']:+.1f}",
                      flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_PATH)
    ap.add_argument("--starts", default="0.3,0.5,0.6,0.7,0.8,0.9,1.0", help="noise levels t to finish from")
    ap.add_argument("--direction-seeds", type=int, default=0, help="also tally turning directions from noise, S seeds")
    ap.add_argument("--speeds", default="", help="also finish the rotating scenes at these speeds, deg/frame")
    ap.add_argument("--speed-starts", default="0.6,0.8", help="noise levels t for --speeds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_rotation.json"))
    args = ap.parse_args()
    speeds = [float(x) for x in args.speeds.split(",") if x.strip()]
    if any(not world.SPIN_RANGE[0] <= v <= world.SPIN_RANGE[1] for v in speeds):  # checked before any sampling
        raise SystemExit(f"--speeds must lie in the spec's {world.SPIN_RANGE} deg/frame, got {speeds}")
    torch.set_num_threads(args.threads)
    pipe = TextToVideo.from_pretrained(args.model, device="cpu")
    seen = [s for g, s in world.load_eval_set(ROOT / "data/eval_set.json") if g == "seen"]
    rotating = [s for s in seen if s.objects[0].motion in world.ROTATIONS]
    others = [s for s in seen if s.objects[0].motion not in world.ROTATIONS]
    others = [others[i * len(others) // len(rotating)] for i in range(len(rotating))]  # spread over the eval set
    groups = {"rotating": rotating, "not_rotating": others}
    clips = {g: world.render_batch(scenes) for g, scenes in groups.items()}
    prompts = {g: [world.caption(s, "en") for s in scenes] for g, scenes in groups.items()}
    rows = []
    for t_start in [float(x) for x in args.starts.split(",") if x.strip()]:
        row, t0 = {"t_start": t_start}, time.perf_counter()
        for g in groups:
            row[g] = scores(pipe(prompts[g], init_video=clips[g], strength=t_start), prompts[g])
        row["seconds"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(f"from t = {t_start:.1f}: rotating {row['rotating']['overall']:.3f} (motion {row['rotating']['motion']:.3f}), "
              f"not rotating {row['not_rotating']['overall']:.3f}", flush=True)
    starts = args.starts or '""'  # as typed on a shell
    result = {"model": str(args.model), "sampling": pipe.defaults, "clips_per_group": len(rotating),
              "command": "python benchmarks/t2v_rotation.py"
              + ("" if args.model == DEFAULT_PATH else f" --model {args.model}")
              + f" --starts {starts} --direction-seeds {args.direction_seeds} --threads {args.threads}"
              + (f" --speeds {args.speeds} --speed-starts {args.speed_starts}" if speeds else ""),
              "description": __doc__.split("\n\n")[2].replace("\n", " ").strip(), "rows": rows}
    if args.direction_seeds:
        result["direction_from_noise"] = {lang: direction_tally(pipe, rotating, lang, args.direction_seeds)
                                          for lang in ("en", "zh")}
    if speeds:
        result["by_speed"] = speed_study(pipe, rotating, speeds, [float(x) for x in args.speed_starts.split(",")])
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
