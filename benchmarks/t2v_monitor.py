"""Time to quality: evaluate a training run's EMA snapshots as they appear, in a separate process.

    nohup python benchmarks/t2v_monitor.py --run runs/t2v/edges --every 600 --cache-seconds 661 > runs/t2v/monitor.log 2>&1 &
    python benchmarks/t2v_monitor.py --run runs/t2v/edges --every 600 --cache-seconds 661 --once   # after the fact
    python benchmarks/t2v_monitor.py --run runs/t2v/more --continues runs/t2v/edges --once  # a run --init-from its export

Every snapshot `runs/t2v/edges/ema-*` that is at least `--every` training seconds
after the last one evaluated (and the newest one once training has ended) is
loaded with `TextToVideo` and scored with `evaluate.prompt_adherence` on the 48
held-out prompts of the eval set (20 Euler steps, `--guidance`, default the checkpoint's
default scale, `--shift`, default the recommended 3), with the share right among the 12 that ask a rotation and
among the other 36 alongside (`by_rotation`). Results accumulate in benchmarks/results/t2v_time_to_quality.json:
wall-clock seconds counted from the start of the whole recipe, i.e. the VAE's
training time + the latent caching time + the DiT's training time.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from minivid.checkpoint import CheckpointError, read_meta
from minivid.evaluate import prompt_adherence
from minivid.pipeline import TextToVideo
from minivid.train import T2V_DEFAULT_SAMPLING, training_story, vae_training_stages
from minivid.world import caption, load_eval_set

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from t2v_benchmark import by_rotation  # noqa: E402  (the same split as the main benchmark's)


def heldout_prompts(path=ROOT / "data/eval_set.json") -> list[str]:
    return [caption(scene, "en") for group, scene in load_eval_set(path) if group == "heldout"]


def base_of(meta: dict) -> tuple[int, float, str | None]:
    """(steps, training seconds, run directory) of the checkpoint a snapshot's run continued (`--init-from`),
    counting its own bases; (0, 0, None) for a run from scratch."""
    base = meta.get("init_from")
    return (*training_story(base), str(Path(base["path"]).parent)) if base else (0, 0.0, None)


def evaluate_snapshot(path, prompts, steps=20, guidance=None, shift=None, batch=48, vae_path=None,
                      weak_path=None, autoguidance=0.0) -> dict:
    pipe = TextToVideo.from_pretrained(path, vae_path=vae_path, weak_path=weak_path or False)
    videos = torch.cat([pipe(prompts[i:i + batch], steps=steps, guidance=guidance, shift=shift, seed=0,
                             autoguidance=autoguidance) for i in range(0, len(prompts), batch)])
    scores = prompt_adherence(videos, prompts)
    return {**{k: scores[k] for k in ("overall", "colour", "shape", "motion", "consistency")},
            "by_rotation": by_rotation(scores)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="runs/t2v/edges")
    ap.add_argument("--every", type=float, default=600.0, help="training seconds between evaluated snapshots")
    ap.add_argument("--poll", type=float, default=30.0)
    ap.add_argument("--cache-seconds", type=float, default=0.0, help="wall-clock of encoding the latent cache")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_time_to_quality.json"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--once", action="store_true", help="evaluate what is there now and exit")
    ap.add_argument("--shift", type=float, default=T2V_DEFAULT_SAMPLING["shift"],
                    help="sampling time shift (default: what exported checkpoints recommend)")
    ap.add_argument("--guidance", type=float, default=None,
                    help=f"classifier-free guidance scale (default: the checkpoint's, {T2V_DEFAULT_SAMPLING['guidance']:g} "
                         "unless its export recorded another); choose it on other seeds than the curve's 0 "
                         "(t2v_guidance.py --seeds 1,2,3)")
    ap.add_argument("--continues", default=None,
                    help="the run whose curve this one continues (the curve's first run), when its --init-from named a "
                         "shipped export (e.g. data/t2v/shapes exported from runs/t2v/edges, or from a continuation "
                         "of it) rather than one of that run's snapshots")
    ap.add_argument("--vae", default=str(ROOT / "data/vae/shapes"),
                    help="the recipe's VAE (the one the run's latents came from): its stage-1 training time counts")
    ap.add_argument("--vae-seconds", type=float, default=None,
                    help="wall-clock of the VAE stage, when measured around the command (default: the seconds its "
                         "checkpoint records, the training loop alone)")
    ap.add_argument("--earlier-vae", default=None,
                    help="a VAE checkpoint for snapshots written before data/vae/shapes was replaced by a decoder "
                         "fine-tune (same encoder, same latents): used when its sha256 is the one a snapshot records")
    ap.add_argument("--autoguidance", type=float, default=0.0,
                    help="sample with autoguidance of this weight (Karras et al. 2024), the weaker model being the "
                         "run's own EMA snapshot at --weak-step: a less-trained model of the same data, which costs "
                         "no extra training (snapshots before that step are not scored)")
    ap.add_argument("--weak-step", type=int, default=None, help="the run's snapshot autoguidance pulls away from")
    args = ap.parse_args()
    if (args.autoguidance != 0) != (args.weak_step is not None):
        ap.error("--autoguidance and --weak-step go together")
    torch.set_num_threads(args.threads)
    run, out = Path(args.run), Path(args.out)
    # The DiT needs the VAE's encoder (stage 1); a decoder-only fine-tune (stage 2, `train.init_from`) can run
    # beside the DiT's training, so it is reported but not on the critical path of `total_seconds`.
    stages = vae_training_stages(read_meta(args.vae, kind="vae")["train"])
    vae_seconds = float(stages[0][1]["train_seconds"]) if args.vae_seconds is None else args.vae_seconds
    decoder_ft_seconds = sum(float(train["train_seconds"]) for _, train in stages[1:])
    earlier_vae_sha = read_meta(args.earlier_vae, kind="vae")["sha256"] if args.earlier_vae else None
    weak = run / f"ema-{args.weak_step:08d}" if args.weak_step is not None else None
    result = json.loads(out.read_text()) if out.exists() else {}
    sampled = (result.get("shift", args.shift), result.get("guidance"))
    if result.get("run") == str(args.run) and sampled != (args.shift, args.guidance):  # its points would be mixed
        ap.error(f"{out} holds this run's points sampled with shift {sampled[0]:g}, guidance "
                 f"{sampled[1] or 'default'}: write points sampled otherwise to another --out")
    first = next(iter(sorted(run.glob("ema-*.json"))), None)
    base_steps, base_seconds, base_run = base_of(read_meta(first)) if first else (0, 0.0, None)
    if base_run is not None and args.continues:
        base_run = str(args.continues)
    if base_run is not None and result.get("run") == base_run:  # a continuation of the run measured there
        runs = result.get("continued_by", [])  # its points follow on: steps and seconds count the bases' too
        runs = [runs] if isinstance(runs, str) else runs  # (one continuation used to be a string)
        result["continued_by"] = runs + [str(args.run)] * (str(args.run) not in runs)
    elif result.get("run") not in (None, str(args.run)):  # another run: keep its curve, start a new one
        earlier = result.pop("earlier_runs", [])
        result = {"earlier_runs": earlier + [{k: result[k] for k in ("run", "points", "vae_train_seconds",
                                                                      "cache_seconds") if k in result}]}
    result.update({"description": "held-out adherence (48 held-out single-object prompts, 20 Euler steps, seed 0, time shift `shift`, "
                                  "guidance `guidance` when given, else the checkpoint's default) "
                                  "of the DiT's EMA weights against wall-clock seconds of the whole recipe: "
                                  "total_seconds = VAE stage 1 + latent caching + DiT training (the decoder "
                                  "fine-tune runs beside the DiT); total_seconds_sequential adds the fine-tune",
                   "vae_train_seconds": vae_seconds, "vae_decoder_finetune_seconds": decoder_ft_seconds,
                   "cache_seconds": args.cache_seconds, "run": result.get("run", str(args.run)), "shift": args.shift,
                   **({"guidance": args.guidance} if args.guidance is not None else {}),
                   **({"autoguidance": args.autoguidance, "weak_step": args.weak_step} if args.weak_step is not None else {})})
    points = {p["step"]: p for p in result.get("points", [])}
    prompts = heldout_prompts()
    while True:
        snaps = sorted(run.glob("ema-*.json"))
        done = False  # set from the newest snapshot below
        last_t = max((p["train_seconds"] for p in points.values()), default=-1e9)
        for i, snap in enumerate(snaps):
            try:
                meta = read_meta(snap, kind="t2v")
            except CheckpointError:
                continue
            step, secs = base_steps + meta["step"], base_seconds + meta["train_seconds"]  # the whole DiT's
            newest = i == len(snaps) - 1
            # The run has ended when its newest snapshot is its schedule's last step (one stopped with --stop-at
            # has not: --once scores its newest snapshot anyway)
            if newest:
                done = meta["step"] >= meta["train_config"]["steps"]
            near = min((abs(secs - p["train_seconds"]) for p in points.values()), default=float("inf"))
            if step in points or not (near >= args.every or (newest and (done or args.once))):
                continue  # (`near`: later calls fill gaps between points already measured)
            if weak is not None and meta["step"] <= args.weak_step:
                continue  # autoguidance pulls away from an earlier snapshot, so only later ones are scored
            t0 = time.perf_counter()
            vae_path, decoder = None, meta["vae"]["path"]
            if meta["vae"]["sha256"] == earlier_vae_sha:
                vae_path = decoder = args.earlier_vae
            scores = evaluate_snapshot(snap, prompts, guidance=args.guidance, shift=args.shift, vae_path=vae_path,
                                       weak_path=weak, autoguidance=args.autoguidance)
            points[step] = {"step": step, "train_seconds": round(secs, 1), "snapshot": str(snap.with_suffix("")),
                            "total_seconds": round(vae_seconds + args.cache_seconds + secs, 1),
                            "total_seconds_sequential": round(vae_seconds + decoder_ft_seconds + args.cache_seconds + secs, 1),
                            "heldout": scores, "decoder": decoder, "eval_seconds": round(time.perf_counter() - t0, 1)}
            last_t = max(last_t, secs)
            print(json.dumps(points[step]), flush=True)
            result["points"] = [points[k] for k in sorted(points)]
            out.write_text(json.dumps(result, indent=1) + "\n")
        if done or args.once:
            break
        time.sleep(args.poll)


if __name__ == "__main__":
    main()
