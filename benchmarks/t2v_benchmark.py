"""Text-to-video benchmark: prompt adherence of the shipped model, steps vs quality, training throughput.

    python benchmarks/t2v_benchmark.py                       # -> benchmarks/results/t2v.json + a table
    python benchmarks/t2v_benchmark.py --quick               # fewer seen prompts (a smoke run)

1. Adherence (`minivid.evaluate.prompt_adherence`) of videos generated from the
   eval set's canonical captions (data/eval_set.json; 20 Euler steps or --sampler heun, the
   checkpoint's recommended guidance and autoguidance, or --guidance / --autoguidance,
   seed 0): seen single-object, held-out single-object (combinations never in
   training), the same single-object prompts in Chinese (traditional), and
   two-object prompts; overall and per attribute,
   next to the probe's ceiling on real rendered clips of the same scenes; per
   motion asked for, the fraction of objects that show it (which motions are missed);
   the clips whose prompt asks for a rotation apart from the others; and the failing clips,
   counted by kind of error (`--groups`: only some rows, e.g. two_object).
2. Steps vs quality on 160 English prompts (the 48 held-out + 112 seen): Euler and
   Heun at 4, 8, 16, 32, 50 steps, each with uniform steps in t (shift 1) and with
   SD3's time shift 3 (more steps at high noise), with seconds per clip (sampling +
   VAE decode, this machine, batch 48). Parts can run as parallel processes and
   merge into the same file, e.g. `--skip adherence,throughput --samplers heun`.
3. Training throughput of the DiT preset (fwd + bwd + AdamW at the CPU recipe's batch, 32):
   tokens/s and achieved FLOP/s (`patching.dit_flops` x 3 for forward + backward)
   as a fraction of this machine's fp32 matmul peak, measured here with a big
   torch.matmul at the same thread count; plus the real run's average from its log.
"""
from __future__ import annotations

import argparse
import collections
import json
import platform
import time
from pathlib import Path

import torch

from minivid import patching, world
from minivid.diffusion import flow_matching_loss
from minivid.evaluate import prompt_adherence
from minivid.pipeline import DEFAULT_PATH, TextToVideo
from minivid.text import encode_batch
from minivid.train import build_dit, training_seconds_by_device, training_story
from vae_benchmark import display_path  # benchmarks/, the script's own folder

ROOT = Path(__file__).resolve().parents[1]
ATTRS = ("overall", "colour", "shape", "motion", "consistency")


def generate(pipe, prompts, batch=48, seeds=1, **kw) -> tuple[torch.Tensor, float]:
    """Videos for the prompts, seed 0 .. seeds-1 (seed-major: as prompts * seeds), and the seconds it took."""
    t0 = time.perf_counter()
    videos = torch.cat([pipe(prompts[i:i + batch], seed=seed, **kw) for seed in range(seeds)
                        for i in range(0, len(prompts), batch)])
    return videos, time.perf_counter() - t0


def scores(videos, prompts, by_motion: bool = False) -> dict:
    s = prompt_adherence(videos, prompts)
    out = {k: round(float(s[k]), 4) for k in ATTRS} | {"clips": len(prompts)}
    return (out | {"motion_by_prompt": motion_by_prompt(s), "by_rotation": by_rotation(s),
                   "failures": failures_by_kind(s, prompts)}) if by_motion else out


def motion_by_prompt(s: dict) -> dict[str, dict]:
    """Per motion the prompts ask for: how many prompt objects asked for it, the fraction that show it (an
    object of the prompt's colour, detected with that motion), and what the others showed instead (counts
    by detected motion; "missing": no object of that colour): which motions the model has not learnt, and
    what it draws in their place (a rotation in the other direction, or none)."""
    asked, shown = {m: 0 for m in world.MOTIONS}, {m: 0 for m in world.MOTIONS}
    instead: dict[str, dict[str, int]] = {m: {} for m in world.MOTIONS}
    for clip in s["per_clip"]:
        found = {o.colour: o.motion for o in clip["detected"]}
        for _, colour, motion in clip["expected"]:
            asked[motion] += 1
            got = found.get(colour, "missing")
            shown[motion] += got == motion
            if got != motion:
                instead[motion][got] = instead[motion].get(got, 0) + 1
    return {m: {"objects": asked[m], "shown": round(shown[m] / asked[m], 4),
                "instead": dict(sorted(instead[m].items(), key=lambda kv: -kv[1]))}
            for m in world.MOTIONS if asked[m]}


def by_rotation(s: dict) -> dict[str, dict]:
    """Clips whose prompt asks some object to rotate, and the others: how many of each, and the share that pass.
    Rotation is the motion the model misses most, so this says what the rest of the score would be without it."""
    split = {"asks_rotation": [0, 0], "no_rotation": [0, 0]}
    for clip in s["per_clip"]:
        key = "asks_rotation" if any(motion in world.ROTATIONS for _, _, motion in clip["expected"]) else "no_rotation"
        split[key][0] += 1
        split[key][1] += clip["correct"]
    return {k: {"clips": n, "overall": round(ok / n, 4) if n else None} for k, (n, ok) in split.items()}


def failures_by_kind(s: dict, prompts: list[str]) -> dict:
    """Of the clips that fail, how many show each kind of error (the evaluator's per-clip `kinds`; a clip may
    show several): an object of a prompt colour missing, an object the prompt did not ask for, a wrong shape or
    motion, or one of the consistency problems: where the missing points are, e.g. binding vs objects that
    change over the clip. Also each failing clip's prompt and errors (`index` into the clips: seed-major)."""
    failed = [clip for clip in s["per_clip"] if not clip["correct"]]
    counts = collections.Counter(kind for clip in failed for kind in clip["kinds"])
    return {"clips_failed": len(failed), "clips_by_kind": dict(counts.most_common()),
            "clips": [{"index": c["index"], "prompt": prompts[c["index"]], "errors": c["errors"]} for c in failed]}


# The adherence rows: eval-set group and caption language.
ADHERENCE_ROWS = {"seen": ("seen", "en"), "heldout": ("heldout", "en"), "seen_zh": ("seen", "zh"),
                  "heldout_zh": ("heldout", "zh"), "two_object": ("two_object", "en")}


def adherence_table(pipe, quick: bool, steps: int, seeds: int = 1, sampler: str = "euler",
                    rows: tuple[str, ...] = tuple(ADHERENCE_ROWS)) -> dict:
    evalset = world.load_eval_set(ROOT / "data/eval_set.json")
    out = {}
    for name in rows:
        group, lang = ADHERENCE_ROWS[name]
        scenes = [s for g, s in evalset if g == group]
        scenes = scenes[:48] if quick and group != "heldout" else scenes
        prompts = [world.caption(s, lang) for s in scenes]
        videos, secs = generate(pipe, prompts, seeds=seeds, steps=steps, sampler=sampler)
        real = world.render_batch(scenes)
        out[name] = {"model": scores(videos, prompts * seeds, by_motion=True), "ceiling_real_clips": scores(real, prompts),
                     "language": lang, "seconds": round(secs, 1), "example_prompt": prompts[0]}
        print(f"  {name}: {out[name]['model']['overall']:.3f} (ceiling {out[name]['ceiling_real_clips']['overall']:.3f}, "
              f"{secs:.0f} s)", flush=True)
    return out


SWEEP_SEEN = 112  # seen prompts added to the 48 held-out ones: 160 prompts, ~3.5-point standard error at 50%


def eval_prompts(lang: str = "en") -> dict[str, list[str]]:
    """The eval set's canonical captions in `lang`, by group: seen, heldout, two_object."""
    evalset = world.load_eval_set(ROOT / "data/eval_set.json")
    return {group: [world.caption(s, lang) for g, s in evalset if g == group] for group in ("seen", "heldout", "two_object")}


def sweep_prompts() -> dict[str, list[str]]:
    """The 48 held-out prompts and SWEEP_SEEN seen ones spread evenly over the eval set's list, which is ordered
    by shape (its first 112 would be 80 circles and 6 rotations: the easy prompts)."""
    groups = eval_prompts("en")
    seen = groups["seen"]
    return {"heldout": groups["heldout"], "seen": [seen[i * len(seen) // SWEEP_SEEN] for i in range(SWEEP_SEEN)]}


def steps_sweep(pipe, step_list, samplers=("euler", "heun"), shifts=(1.0, 3.0)) -> dict:
    """Adherence and seconds per clip for each sampler x time shift x number of steps, on 160 prompts."""
    groups = sweep_prompts()
    prompts, held = groups["heldout"] + groups["seen"], len(groups["heldout"])
    out = {}
    for sampler in samplers:
        for shift in shifts:
            for steps in step_list:
                videos, secs = generate(pipe, prompts, steps=steps, sampler=sampler, shift=shift)
                calls = steps * (2 if sampler == "heun" else 1) - (1 if sampler == "heun" else 0)
                key = f"{sampler}-{steps}-shift{shift:g}"
                out[key] = {"sampler": sampler, "steps": steps, "shift": shift, "model_calls": calls,
                            "heldout_and_seen": scores(videos, prompts),
                            "heldout": scores(videos[:held], prompts[:held]),
                            "seen": scores(videos[held:], prompts[held:]),
                            "seconds_per_clip": round(secs / len(prompts), 4)}
                print(f"  {sampler:5s} shift {shift:g} {steps:3d} steps: "
                      f"{out[key]['heldout_and_seen']['overall']:.3f} ({secs / len(prompts):.3f} s/clip)", flush=True)
    return out


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = min(_timed(lambda: torch.matmul(a, b)) for _ in range(repeats))
    return 2 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def throughput(pipe, batch: int, iters: int, run_dir: Path, compiled: bool = True) -> dict:
    cfg = pipe.dit.config
    z, t, h, w = pipe.latent_shape
    pt, ph, pw = cfg.patch_size
    tokens = (t // pt) * (h // ph) * (w // pw)
    model = build_dit(pipe.meta["train_config"]["preset"], z)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids, mask = encode_batch(["a red circle moves left and a blue square rotates clockwise"] * batch)
    x = torch.randn(batch, z, t, h, w)

    def step(net):
        loss = flow_matching_loss(net, x, ids, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def median_step_seconds(net) -> float:
        step(net)
        times = sorted(_timed(lambda: step(net)) for _ in range(iters))
        return times[len(times) // 2]

    step_s = median_step_seconds(model)
    flops = patching.dit_flops(tokens, cfg.width, cfg.depth, int(cfg.mlp_ratio), text_tokens=1 + ids.shape[1]).total
    peak = matmul_peak()

    def rates(seconds: float) -> dict:
        achieved = 3 * flops * batch / seconds  # forward + backward (2x forward)
        return {"step_seconds_median": round(seconds, 4), "tokens_per_s": round(batch * tokens / seconds, 1),
                "achieved_flop_s": round(achieved), "fraction_of_peak": round(achieved / peak, 4)}

    out = {"batch": batch, "tokens_per_clip": tokens, **rates(step_s), "clips_per_s": round(batch / step_s, 2),
           "dit_forward_flops_per_clip": flops, "fp32_matmul_peak_flop_s": round(peak),
           "threads": torch.get_num_threads()}
    if compiled:  # the training flag --compile: the same step through torch.compile (inductor)
        net = torch.compile(model, dynamic=False)
        compile_s = _timed(lambda: step(net))  # the first step compiles forward and backward
        fused_s = median_step_seconds(net)
        out["compiled"] = {"compile_seconds": round(compile_s, 1), **rates(fused_s), "speedup": round(step_s / fused_s, 3)}
    log = run_dir / "log.jsonl"
    if log.exists():
        rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        if rows:
            last = rows[-1]
            out["training_run"] = {"steps": last["step"], "seconds": round(last["seconds"], 1),
                                   "steps_per_s": round(last["step"] / last["seconds"], 3),
                                   "tokens_per_s": round(last["step"] * batch * tokens / last["seconds"], 1),
                                   "note": "the real run, 1 thread, on the shared 2-core machine (other jobs and "
                                           "the evaluation monitor running beside it)"}
    return out


def command_flags(dest: str, value, default) -> list[str]:
    """The flags that set argument `dest` to `value`: a boolean as `--x` / `--no-x`, a False that is the default
    (a store_true flag, which has no `--no-`) as nothing; anything else as `--x value`."""
    name = dest.replace("_", "-")
    if isinstance(value, bool):
        return [f"--{name}"] if value else [f"--no-{name}"] if default else []
    return [f"--{name} {value}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_PATH)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v.json"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--sampler", default="euler", help="adherence: the sampler (euler, heun: two model calls a step)")
    ap.add_argument("--sweep-steps", default="4,8,16,32,50")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip", default="", help="comma list of parts to skip: adherence, sweep, throughput")
    ap.add_argument("--groups", default=",".join(ADHERENCE_ROWS),
                    help="adherence: comma list of the rows to measure (e.g. two_object alone, to a file of its own)")
    ap.add_argument("--run-dir", default="runs/t2v/edges")
    ap.add_argument("--train-batch", type=int, default=32,
                    help="batch of the throughput part: the 2-core CPU recipe's (the shipped model's last runs, "
                         "on a GPU, used 512)")
    ap.add_argument("--compile", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the training step through torch.compile (the training flag --compile)")
    ap.add_argument("--samplers", default="euler,heun", help="samplers of the steps sweep")
    ap.add_argument("--shifts", default="1,3", help="time shifts of the steps sweep (1 = uniform steps in t)")
    ap.add_argument("--weak-model", default=None,
                    help="autoguidance's weaker model (default: the one the checkpoint names, if any; 'none': none)")
    ap.add_argument("--seeds", type=int, default=1, help="adherence: sample every prompt with seeds 0 .. S-1")
    ap.add_argument("--autoguidance", type=float, default=None,
                    help="autoguidance weight (default: the checkpoint's recommended one)")
    ap.add_argument("--guidance", type=float, default=None,
                    help="classifier-free guidance scale (default: the checkpoint's recommended one)")
    args = ap.parse_args()
    groups = tuple(filter(None, args.groups.split(",")))
    if unknown := [g for g in groups if g not in ADHERENCE_ROWS]:
        ap.error(f"unknown --groups {', '.join(unknown)}; choose from {', '.join(ADHERENCE_ROWS)}")
    torch.set_num_threads(args.threads)
    skip = set(filter(None, args.skip.split(",")))
    weak_path = False if args.weak_model == "none" else args.weak_model
    pipe = TextToVideo.from_pretrained(args.model, device="cpu", weak_path=weak_path)
    for knob in ("autoguidance", "guidance"):
        if getattr(args, knob) is not None:
            pipe.defaults[knob] = getattr(args, knob)  # every part below samples with it
    command = " ".join(["python benchmarks/t2v_benchmark.py", *(
        flag for k, v in vars(args).items() if v not in (None, "") and k not in ("out", "model", "run_dir")
        for flag in command_flags(k, v, ap.get_default(k)))])
    out_path = Path(args.out)
    command += "" if args.model == DEFAULT_PATH else f" --model {args.model}"  # where it differs from the shipped
    command += "" if args.out == ap.get_default("out") else f" --out {display_path(out_path)}"
    result = {"model": str(args.model),
              "model_meta": {**{k: pipe.meta.get(k) for k in ("steps_trained", "train_seconds", "sampling", "init_from")},
                             **dict(zip(("steps_total", "train_seconds_total"), training_story(pipe.meta))),
                             "train_seconds_by_device": training_seconds_by_device(pipe.meta)},
              "machine": {"cpu": platform.processor() or platform.machine(), "threads": args.threads,
                          "torch": torch.__version__},
              # the command that measured each part: parallel parts write into one file, each under its own name
              # (the sweep's by sampler, since its samplers can run as separate processes)
              "commands": {f"sweep ({args.samplers})" if part == "sweep" else part: command
                           for part in ("adherence", "sweep", "throughput") if part not in skip}}

    def save(*keys: str) -> None:
        """Write `keys` of this run into the file, keeping what parallel parts wrote there meanwhile."""
        on_disk = json.loads(out_path.read_text()) if out_path.exists() else {}
        if on_disk.get("model_meta") not in (None, result["model_meta"]):
            on_disk = {}  # results of another model: start afresh
        for key in keys:
            if key == "steps_vs_quality":  # rows merge: each part adds its samplers
                old_rows = {k: v for k, v in on_disk.get(key, {}).items() if "heldout_and_seen" in v}
                on_disk[key] = old_rows | result[key]
            elif key == "commands":  # each part adds its own
                on_disk[key] = on_disk.get(key, {}) | result[key]
            else:
                on_disk[key] = result[key]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(on_disk, indent=1) + "\n")
        result.update(on_disk)

    save("model", "model_meta", "machine", "commands")
    if "adherence" not in skip:
        print(f"adherence at {args.steps} {args.sampler} steps, guidance {pipe.defaults['guidance']}, "
              f"shift {pipe.defaults['shift']}, autoguidance {pipe.defaults['autoguidance']}:", flush=True)
        result["adherence"] = adherence_table(pipe, args.quick, args.steps, args.seeds, args.sampler, groups)
        result["adherence_settings"] = {"steps": args.steps, "sampler": args.sampler, "guidance": pipe.defaults["guidance"],
                                        "shift": pipe.defaults["shift"], "autoguidance": pipe.defaults["autoguidance"],
                                        "weak_model_sha256": (pipe.weak_meta or {}).get("sha256") if pipe.defaults["autoguidance"] else None,
                                        "seed": 0, "seeds": args.seeds, "quick": args.quick}  # seeds 0 .. seeds-1
        save("adherence", "adherence_settings")
    if "sweep" not in skip:
        print("steps vs quality (48 held-out + 112 seen prompts):", flush=True)
        result["steps_vs_quality"] = steps_sweep(pipe, [int(s) for s in args.sweep_steps.split(",")],
                                                 args.samplers.split(","), [float(x) for x in args.shifts.split(",")])
        save("steps_vs_quality")
    if "throughput" not in skip:
        torch.set_num_threads(1)  # what the training run used
        result["throughput"] = throughput(pipe, args.train_batch, 8, ROOT / args.run_dir, args.compile)
        torch.set_num_threads(args.threads)
        save("throughput")
    print_table(result)


def print_table(r: dict) -> None:
    if "adherence" in r:
        print(f"\n{'group':12s} {'lang':5s} " + " ".join(f"{a:>11s}" for a in ATTRS) + f" {'ceiling':>8s}")
        for name, row in r["adherence"].items():
            print(f"{name:12s} {row['language']:5s} " + " ".join(f"{row['model'][a]:11.3f}" for a in ATTRS)
                  + f" {row['ceiling_real_clips']['overall']:8.3f}")
        rows = {name: row["model"]["motion_by_prompt"] for name, row in r["adherence"].items()
                if "motion_by_prompt" in row["model"] and row["language"] == "en"}
        if rows:
            print(f"\n{'motion shown, of the objects asked for it':42s}" + " ".join(f"{n:>11s}" for n in rows))
            for motion in world.MOTIONS:
                print(f"{motion:42s}" + " ".join(f"{rows[n][motion]['shown']:11.3f}" if motion in rows[n] else
                                                 f"{'-':>11s}" for n in rows))
            for motion in world.ROTATIONS:  # the motion the model misses most: what it draws instead
                print(f"{motion}, drawn instead: " + "; ".join(f"{n} {rows[n][motion]['instead']}" for n in rows
                                                              if motion in rows[n]))
        split = {name: row["model"]["by_rotation"] for name, row in r["adherence"].items() if "by_rotation" in row["model"]}
        if split:
            print(f"\n{'clips that pass (clips)':24s}" + " ".join(f"{n:>16s}" for n in split))
            for key in ("asks_rotation", "no_rotation"):
                print(f"{key:24s}" + " ".join(f"{split[n][key]['overall'] or 0:10.3f} ({split[n][key]['clips']:3d})"
                                             for n in split))
        failures = {name: row["model"]["failures"] for name, row in r["adherence"].items() if "failures" in row["model"]}
        for name, f in failures.items():  # where the missing points are
            print(f"{name} fails {f['clips_failed']} clips: " + ", ".join(f"{k} {n}" for k, n in f["clips_by_kind"].items()))
    if "steps_vs_quality" in r:
        print(f"\n{'sampler':8s} {'shift':>5s} {'steps':>5s} {'calls':>5s} {'160 prompts':>11s} {'held-out':>9s} {'s/clip':>7s}")
        for row in sorted(r["steps_vs_quality"].values(), key=lambda w: (w["sampler"], w["shift"], w["steps"])):
            print(f"{row['sampler']:8s} {row['shift']:5g} {row['steps']:5d} {row['model_calls']:5d} "
                  f"{row['heldout_and_seen']['overall']:11.3f} {row['heldout']['overall']:9.3f} {row['seconds_per_clip']:7.3f}")
    if "throughput" in r:
        t = r["throughput"]
        print(f"\ntraining: {t['tokens_per_s']:.0f} tokens/s ({t['clips_per_s']} clips/s, batch {t['batch']}, "
              f"{t['threads']} thread), {t['achieved_flop_s'] / 1e9:.2f} GFLOP/s = {100 * t['fraction_of_peak']:.1f}% "
              f"of the {t['fp32_matmul_peak_flop_s'] / 1e9:.1f} GFLOP/s fp32 matmul peak")
        if "compiled" in t:
            c = t["compiled"]
            print(f"compiled (--compile): {c['tokens_per_s']:.0f} tokens/s, {c['achieved_flop_s'] / 1e9:.2f} GFLOP/s = "
                  f"{100 * c['fraction_of_peak']:.1f}%, x{c['speedup']} (compiling took {c['compile_seconds']} s)")


if __name__ == "__main__":
    main()
