"""Long videos (issue 41): stories, shots, image-to-video, drift with length, and cost against length.

    python benchmarks/long_video.py                      # data/t2v/shapes, seed 0, one thread, ~10-15 min;
                                                         # -> benchmarks/results/long_video.json + a table
    python benchmarks/long_video.py --skip cost,curve    # some groups only (the others kept, each with its model)
    python benchmarks/long_video.py --model path/to/checkpoint --seeds 0,1,2   # another model, three seeds

Every figure is measured with `minivid.evaluate` on videos the pipeline draws (`pipe(prompt, seed=...)`,
the checkpoint's recommended sampler, steps and guidance, or --steps); stories and scenes are fixed
(drawn from STORY_SEED), the generation seed is --seeds. Groups (--skip any of them):

- one_shot: 3- and 4-segment single-object stories in one shot (49 and 65 frames), English and Chinese
  (traditional and simplified), half of them drawn from the held-out combinations: the share that passes
  the story test (`story_adherence`: every window, identity, continuity, shots), per cell; the share of
  windows that pass by their place in the story (window 1 is drawn from text); and how many windows start
  from a state that leaves no room for the rest of their shot (`story._fits`, the world's planner, on the
  state `image_state` reads from the window's first frame).
- two_shot: 2- and 3-segment single-object stories with one `cut to`: the share that passes.
- image: image-to-video from the first frame of random v1 scenes (one object), prompt = the scene's
  caption: v1 adherence of the 17 frames, PSNR of frame 0 against the given image, and the distance of the
  object's centre at frame 0 from where the image put it.
- curve: 8-segment one-shot stories: the pass rate of each window against its segment index, and the
  story test on the first n segments (n = 1..8; a prefix is the n-segment story drawn with the first window
  planned for the whole 8). Windows are drawn one after the other, so window k never sees later ones.
- repeat: single prompts that can go on (rotations, bounces, still objects; a move cannot) asked for 65 frames:
  the story test of the repeated prompt, drawn window by window (`frames=65`) and as one long window
  (`sample_latents(frames=65)`, what a model trained on 17 frames does when simply asked for more).
- cost: seconds of compute (process CPU time, --threads threads) and peak resident memory of one call
  against length (--lengths, each in a fresh process): window by window (a rotating square repeated with
  `frames=`), and, for contrast, one long window (`sample_latents(frames=L)` + decode, which the model
  was never trained for); a least-squares line for each. Peak memory is the process's high-water mark during
  the call (VmHWM, reset after a warm-up window) and its growth over the resident memory before the call.
"""
from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from minivid import story, world
from minivid.evaluate import image_state, prompt_adherence, story_adherence
from minivid.pipeline import DEFAULT_PATH, TextToVideo
from minivid.text import PromptError, parse_story
from minivid.vae import psnr

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "long_video.json"
GROUPS = ("one_shot", "two_shot", "image", "curve", "repeat", "cost")
STORY_SEED = 41  # the stories and scenes judged (fixed); the generation seed is --seeds
TARGETS = {"one_shot": 0.9, "two_shot": 0.9, "image_adherence": 0.9, "image_psnr_db": 28.0, "window": 0.9}
COST_PROMPT = "a red square rotates clockwise"  # fits any length: the cost is the windows, not the planning


def load(args) -> TextToVideo:
    pipe = TextToVideo.from_pretrained(args.model)
    if args.given_level is not None:
        pipe.given_level = args.given_level
    return pipe


def sampling(args) -> dict:
    return {} if args.steps is None else {"steps": args.steps}


def draw(pipe, prompts, seed: int, args, **kw) -> tuple[list, list[str | None]]:
    """One clip (t c h w) per prompt, prompt i from seed 1000 * seed + i; a refused prompt gives None and why."""
    clips, refused = [], []
    for i, p in enumerate(prompts):
        try:
            clips.append(pipe(p, seed=1000 * seed + i, **sampling(args), **kw)[0])
            refused.append(None)
        except PromptError as e:
            clips.append(None)
            refused.append(str(e))
    return clips, refused


def judge(clips, prompts) -> list[dict]:
    """story_adherence's per-story verdicts, a refused story (None) counted as failed."""
    idx = [i for i, c in enumerate(clips) if c is not None]
    per = story_adherence([clips[i] for i in idx], [prompts[i] for i in idx])["per_story"] if idx else []
    out = [None] * len(clips)
    for i, s in zip(idx, per):
        out[i] = s
    return out


def no_room(clip, prompt: str) -> list[int]:
    """Segments k >= 1 whose window starts from a state that leaves no room for the rest of its shot."""
    plan, (_, h, w) = parse_story(prompt), clip.shape[1:]
    stops = [stop for _, stop in plan.shots]
    bad = []
    for k in range(1, len(plan.segments)):
        if k in plan.cuts:
            continue
        stop = next(s for s in stops if s > k)
        try:
            states = image_state(clip[world.SEGMENT_STEP * k])
        except ValueError:
            bad.append(k + 1)
            continue
        rest = world.StoryPlan(plan.segments[k:stop])
        if not story._matches(states, rest) or story._fits(rest, states, h, w) is not None:
            bad.append(k + 1)
    return bad


def rate(flags) -> float:
    flags = list(flags)
    return round(sum(flags) / max(len(flags), 1), 4)


def story_rows(items, verdicts, refused, clips, key) -> dict:
    """Pass rates by cell (key(item)) and overall, failures by kind, the stories that failed."""
    cells = {}
    for item, v in zip(items, verdicts):
        cells.setdefault(key(item), []).append(v)
    tests = ("windows", "identity", "continuity", "shots")

    def summary(vs):
        return {"stories": len(vs), "pass_rate": rate(v is not None and v["passed"] for v in vs),
                **{t: rate(v is not None and v[t]["passed"] for v in vs) for t in tests},
                "window_rate": rate(w["correct"] for v in vs if v for w in v["per_window"])}
    kinds = {}
    for v in verdicts:
        for kind in (v["kinds"] if v else {"refused"}):
            kinds[kind] = kinds.get(kind, 0) + 1
    room = [no_room(c, it["prompt"]) if c is not None else [] for c, it in zip(clips, items)]
    by_index = {}  # window k of its story (1: drawn from text) -> whether it passed, over the stories drawn
    for v in verdicts:
        for k, w in enumerate(v["per_window"] if v else [], start=1):
            by_index.setdefault(str(k), []).append(w["correct"])
    windows_k1 = sum(len(parse_story(it["prompt"]).segments) - 1 - len(parse_story(it["prompt"]).cuts) for it in items)
    return {"all": summary(verdicts), "cells": {k: summary(v) for k, v in sorted(cells.items())},
            "failures_by_kind": dict(sorted(kinds.items(), key=lambda kv: -kv[1])),
            "window_rate_by_index": {k: rate(f) for k, f in by_index.items()},
            "windows_without_room": {"windows": windows_k1, "share": round(sum(map(len, room)) / max(windows_k1, 1), 4),
                                     "in_failed_stories": sum(len(r) for r, v in zip(room, verdicts)
                                                              if not (v and v["passed"]))},
            "failed": [{"prompt": it["prompt"], "seed": it["seed"], "errors": (v["errors"] if v else [why])[:4],
                        "no_room_at": r} for it, v, why, r in zip(items, verdicts, refused, room)
                       if not (v and v["passed"])]}


def caption(story_or_scene, rng, lang: str) -> str:
    template = int(rng.integers(world.CAPTION_TEMPLATES[lang]))
    if isinstance(story_or_scene, world.StorySpec):
        return world.story_caption(story_or_scene, lang, template)
    return world.caption(story_or_scene, lang, template)


def one_shot_items(n: int) -> list[dict]:
    rng = np.random.default_rng([STORY_SEED, 1])
    items = []
    for segments in (3, 4):
        for lang in ("en", "zh"):
            for j in range(n):
                split = "heldout" if j % 2 else "train"
                spec = world.sample_random_story(rng, segments, split, 1, 0.0)
                tongue = lang if lang == "en" else ("zh" if j % 4 < 2 else "zh-hans")
                items.append({"segments": segments, "lang": lang, "split": split,
                              "prompt": caption(spec, rng, tongue)})
    return items


def two_shot_items(n: int) -> list[dict]:
    rng = np.random.default_rng([STORY_SEED, 2])
    items = []
    for j in range(n):
        segments, lang = 2 + j % 2, ("en", "zh", "zh-hans")[j % 3]
        while True:
            spec = world.sample_random_story(rng, segments, "heldout" if j % 4 >= 2 else "train", 1, 0.5)
            if len(spec.shots) == 2:
                break
        items.append({"segments": segments, "lang": lang, "prompt": caption(spec, rng, lang)})
    return items


def run_stories(pipe, args, items, key) -> dict:
    out = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        clips, refused = draw(pipe, [it["prompt"] for it in items], seed, args)
        verdicts = judge(clips, [it["prompt"] for it in items])
        rows = story_rows([{**it, "seed": seed} for it in items], verdicts, refused, clips, key)
        out[f"seed {seed}"] = rows | {"seconds": round(time.perf_counter() - t0, 1)}
    return out


def pooled(result: dict) -> float:
    runs = [r["all"] for r in result.values()]
    return round(sum(r["pass_rate"] * r["stories"] for r in runs) / max(sum(r["stories"] for r in runs), 1), 4)


def group_image(pipe, args) -> dict:
    rng = np.random.default_rng([STORY_SEED, 3])
    scenes = [world.sample_scene(rng, "heldout" if j % 2 else "train", num_objects=1) for j in range(args.images)]
    langs = [("en", "zh", "zh-hans")[j % 3] for j in range(args.images)]
    prompts = [caption(s, rng, lang) for s, lang in zip(scenes, langs)]
    images = [world.render(s)[0] for s in scenes]
    out = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        clips, refused = [], []
        for i, (p, image) in enumerate(zip(prompts, images)):
            try:
                clips.append(pipe(p, image=image, seed=1000 * seed + i, **sampling(args))[0])
                refused.append(None)
            except PromptError as e:
                clips.append(None)
                refused.append(str(e))
        ok = [i for i, c in enumerate(clips) if c is not None]
        adh = prompt_adherence(torch.stack([clips[i] for i in ok]), [prompts[i] for i in ok]) if ok else None
        correct = {i: v["correct"] for i, v in zip(ok, adh["per_clip"])} if ok else {}
        psnrs = [float(psnr(clips[i][:1], images[i][None])) for i in ok]
        dists = []
        for i in ok:
            o = scenes[i].objects[0]
            try:
                found = [s for s in image_state(clips[i][0]) if s.colour == o.colour]
            except ValueError:
                found = []
            dists.append(float(np.hypot(found[0].x - o.x, found[0].y - o.y)) if found else float("inf"))
        finite = [d for d in dists if np.isfinite(d)]
        out[f"seed {seed}"] = {
            "clips": len(prompts), "refused": sum(r is not None for r in refused),
            "adherence": rate(correct.get(i, False) for i in range(len(prompts))),
            "adherence_by_split": {sp: rate(correct.get(i, False) for i in range(len(prompts))
                                            if i % 2 == (sp == "heldout"))
                                   for sp in ("train", "heldout")},
            "psnr_first_frame_db": {"mean": round(float(np.mean(psnrs)), 2) if psnrs else None,
                                    "min": round(float(np.min(psnrs)), 2) if psnrs else None,
                                    "share_at_least_28": rate(p >= TARGETS["image_psnr_db"] for p in psnrs)},
            "centre_distance_px": {"median": round(float(np.median(finite)), 3) if finite else None,
                                   "max": round(float(max(dists)), 3) if dists else None,
                                   "share_within_1px": rate(d <= 1.0 for d in dists)},
            "failed": [{"prompt": prompts[i], "errors": v["errors"]} for i, v in zip(ok, adh["per_clip"] if ok else [])
                       if not v["correct"]]
                      + [{"prompt": prompts[i], "refused": r} for i, r in enumerate(refused) if r],
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def group_curve(pipe, args) -> dict:
    rng = np.random.default_rng([STORY_SEED, 4])
    n = 8
    items = []
    for j in range(args.curve):
        spec = world.sample_random_story(rng, n, "heldout" if j % 2 else "train", 1, 0.0)
        items.append({"lang": ("en", "zh")[j % 2], "prompt": caption(spec, rng, ("en", "zh")[j % 2])})
    out = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        clips, refused = draw(pipe, [it["prompt"] for it in items], seed, args)
        full = judge(clips, [it["prompt"] for it in items])
        by_window = [rate(v is not None and v["per_window"][k]["correct"] for v in full) for k in range(n)]
        prefix = {}
        for m in range(1, n + 1):
            prompts = [world.StoryPlan(parse_story(it["prompt"]).segments[:m]) for it in items]
            cut = [None if c is None else c[: world.SEGMENT_STEP * m + 1] for c in clips]
            verdicts = judge(cut, prompts)
            prefix[m] = {"pass_rate": rate(v is not None and v["passed"] for v in verdicts),
                         **{t: rate(v is not None and v[t]["passed"] for v in verdicts)
                            for t in ("identity", "continuity")}}
        room = [no_room(c, it["prompt"]) if c is not None else [] for c, it in zip(clips, items)]
        out[f"seed {seed}"] = {
            "stories": len(items), "refused": sum(r is not None for r in refused),
            "window_pass_by_segment": by_window,
            "first_window_below_target": next((k + 1 for k, r in enumerate(by_window) if r < TARGETS["window"]), None),
            "story_pass_by_length": {str(m): p for m, p in prefix.items()},
            "first_length_below_target": next((m for m, p in prefix.items() if p["pass_rate"] < TARGETS["one_shot"]),
                                              None),
            "windows_without_room_by_segment": [rate(k in r for r in room) for k in range(2, n + 1)],
            "seconds": round(time.perf_counter() - t0, 1),
        }
    return out


def group_repeat(pipe, args) -> dict:
    """Single prompts asked for 65 frames: window by window (`frames=65`) against one long window."""
    rng = np.random.default_rng([STORY_SEED, 5])
    frames, prompts = 65, []
    while len(prompts) < args.repeat:
        scene = world.sample_scene(rng, "heldout" if len(prompts) % 2 else "train", num_objects=1)
        prompt = caption(scene, rng, ("en", "zh")[len(prompts) % 2])
        try:
            prompts.append((prompt, story.repeated_story(prompt, frames)))
        except PromptError:
            continue  # it cannot go on for 65 frames (a move would leave the canvas)
    out = {}
    for seed in args.seeds:
        t0 = time.perf_counter()
        windows = [pipe(p, frames=frames, seed=1000 * seed + i, **sampling(args))[0]
                   for i, (p, _) in enumerate(prompts)]
        long = [pipe.vae.decode_latents(pipe.sample_latents(p, frames=frames, seed=1000 * seed + i,
                                                            **sampling(args))).float().cpu()[0]
                for i, (p, _) in enumerate(prompts)]
        stories = [s for _, s in prompts]
        res = {name: story_adherence(clips, stories) for name, clips in (("window_by_window", windows),
                                                                        ("one_window", long))}
        out[f"seed {seed}"] = {"prompts": len(prompts), "frames": frames,
                               **{name: {"pass_rate": round(r["overall"], 4), "windows": round(r["windows"], 4),
                                         "identity": round(r["identity"], 4)} for name, r in res.items()},
                               "seconds": round(time.perf_counter() - t0, 1)}
    return out


def memory_mib(field: str) -> float:
    """VmRSS (now) or VmHWM (peak since start or since reset_peak) of this process, MiB (Linux); else ru_maxrss,
    which other systems have but which outlives exec (a child would report its parent's peak)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak() -> None:
    """Reset VmHWM to the current RSS (Linux: clear_refs 5), so the next peak is the next call's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def cost_child(args) -> None:
    """In a fresh process: the CPU seconds and peak RSS of one call of args.cost_child frames; prints JSON."""
    torch.set_num_threads(args.threads)
    pipe = load(args)
    kind, frames = args.cost_kind, args.cost_child
    pipe(COST_PROMPT, seed=0, **sampling(args))  # warm-up: one plain window
    reset_peak()
    before = memory_mib("VmRSS")
    c0, w0 = time.process_time(), time.perf_counter()
    if kind == "windows":
        video = pipe(COST_PROMPT, frames=frames, seed=0, **sampling(args))
    else:
        video = pipe.vae.decode_latents(pipe.sample_latents(COST_PROMPT, frames=frames, seed=0, **sampling(args)))
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    after = memory_mib("VmHWM")
    assert video.shape[1] == frames
    print(json.dumps({"frames": frames, "cpu_s": cpu, "wall_s": wall, "rss_before_mib": before, "peak_rss_mib": after,
                      "peak_rss_growth_mib": after - before}))


def fit(xs, ys) -> dict:
    """Least-squares line y = a + b x, its r^2, and y(last) / y(first) against x(last) / x(first)."""
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    b, a = np.polyfit(xs, ys, 1)
    r2 = 1 - ((ys - (a + b * xs)) ** 2).sum() / max(((ys - ys.mean()) ** 2).sum(), 1e-12)
    return {"intercept": round(float(a), 4), "slope_per_frame": round(float(b), 5), "r2": round(float(r2), 4),
            "ratio_last_first": round(float(ys[-1] / ys[0]), 3) if ys[0] else None,
            "length_ratio": round(float(xs[-1] / xs[0]), 3)}


def group_cost(args) -> dict:
    out = {}
    for kind in ("windows", "one_window"):
        rows = []
        for frames in args.lengths:
            cmd = [sys.executable, __file__, "--model", str(args.model), "--threads", str(args.threads),
                   "--cost-child", str(frames), "--cost-kind", kind]
            cmd += [] if args.steps is None else ["--steps", str(args.steps)]
            cmd += [] if args.given_level is None else ["--given-level", str(args.given_level)]
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            if done.returncode:
                raise RuntimeError(f"cost child for {frames} frames ({kind}) failed:\n{done.stderr[-2000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["cpu_s_per_frame"] = row["cpu_s"] / frames
            rows.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
            print(f"  cost {kind:10s} {frames:4d} frames: {row['cpu_s']:7.1f} s CPU, "
                  f"{row['cpu_s_per_frame']:.3f} s/frame, peak {row['peak_rss_mib']:.0f} MiB "
                  f"(+{row['peak_rss_growth_mib']:.1f} MiB over the RSS before the call)", flush=True)
        lengths = [r["frames"] for r in rows]
        out[kind] = {"rows": rows, "cpu_s_fit": fit(lengths, [r["cpu_s"] for r in rows]),
                     "peak_rss_fit": fit(lengths, [r["peak_rss_mib"] for r in rows]),
                     "peak_growth_fit": fit(lengths, [r["peak_rss_growth_mib"] for r in rows])}
    return {"kinds": out}


def story_line(r: dict) -> str:
    cells = "  ".join(f"{k} {v['pass_rate']:.0%}" for k, v in r["cells"].items())
    by_index = r.get("window_rate_by_index")  # results kept from before it was measured lack it
    by_index = "" if not by_index else "; windows passing by index " + " ".join(
        f"{k}: {v:.0%}" for k, v in by_index.items())
    return (f"pass {r['all']['pass_rate']:.0%} of {r['all']['stories']} (windows {r['all']['window_rate']:.0%}, "
            f"identity {r['all']['identity']:.0%}, continuity {r['all']['continuity']:.0%}); {cells}; windows without "
            f"room {r['windows_without_room']['share']:.0%}{by_index}")


def image_line(r: dict) -> str:
    return (f"adherence {r['adherence']:.0%} of {r['clips']} (refused {r['refused']}), frame-0 PSNR mean "
            f"{r['psnr_first_frame_db']['mean']} dB min {r['psnr_first_frame_db']['min']} dB, centre distance median "
            f"{r['centre_distance_px']['median']} px, within 1 px {r['centre_distance_px']['share_within_1px']:.0%}")


def curve_line(r: dict) -> str:
    return ("window pass by segment " + " ".join(f"{p:.0%}" for p in r["window_pass_by_segment"])
            + "; story pass by length " + " ".join(f"{m}:{p['pass_rate']:.0%}"
                                                    for m, p in r["story_pass_by_length"].items()))


def repeat_line(r: dict) -> str:
    w, o = r["window_by_window"], r["one_window"]
    return (f"pass window by window {w['pass_rate']:.0%} (windows {w['windows']:.0%}), one long window "
            f"{o['pass_rate']:.0%} (windows {o['windows']:.0%}) of {r['prompts']}")


TABLE = {"one_shot": ("one shot (3-4 segments)", story_line), "two_shot": ("two shots (cut to)", story_line),
         "image": ("image-to-video", image_line), "curve": ("curve (8 segments)", curve_line),
         "repeat": ("65 frames, one prompt", repeat_line)}  # group -> (label, its line for one seed)


def table(results: dict) -> None:
    g = results["groups"]
    for name, (label, line) in TABLE.items():
        for seed, r in g.get(name, {}).get("by_seed", {}).items():
            print(f"{label:26s} {seed}: {line(r)}")
    if "cost" in g:
        for kind, r in g["cost"]["kinds"].items():
            f, m = r["cpu_s_fit"], r["peak_growth_fit"]
            print(f"{'cost ' + kind:26s}: CPU s = {f['intercept']:.2f} + {f['slope_per_frame']:.4f} x frames "
                  f"(r2 {f['r2']}), {f['ratio_last_first']}x for {f['length_ratio']}x frames; peak RSS "
                  f"{r['rows'][0]['peak_rss_mib']:.0f} -> {r['rows'][-1]['peak_rss_mib']:.0f} MiB, growth during "
                  f"the call {r['rows'][0]['peak_rss_growth_mib']:.1f} -> "
                  f"{r['rows'][-1]['peak_rss_growth_mib']:.1f} MiB "
                  f"({m['slope_per_frame'] * 1024:.1f} KiB/frame)")


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=DEFAULT_PATH, help="text-to-video checkpoint trained with given frames")
    ap.add_argument("--seeds", default="0", help="generation seeds, comma-separated")
    ap.add_argument("--steps", type=int, default=None, help="sampling steps (default: the checkpoint's)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--skip", default="", help=f"groups to leave out, comma-separated, of {','.join(GROUPS)}")
    ap.add_argument("--stories", type=int, default=24, help="one_shot: stories per (length, language) cell")
    ap.add_argument("--two-shot", type=int, default=24, help="two_shot: stories")
    ap.add_argument("--images", type=int, default=24, help="image: first frames")
    ap.add_argument("--curve", type=int, default=12, help="curve: 8-segment stories")
    ap.add_argument("--repeat", type=int, default=16, help="repeat: single prompts asked for 65 frames")
    ap.add_argument("--lengths", default="17,33,65,129,257,513", help="cost: clip lengths in frames (16n + 1)")
    ap.add_argument("--given-level", type=float, default=None,
                    help="override the checkpoint's given_level (a checkpoint trained without given frames: a "
                         "baseline told window by window by a model that never learnt to continue)")
    ap.add_argument("--cost-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--cost-kind", default="windows", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.seeds = [int(s) for s in str(args.seeds).split(",") if s.strip()]
    args.lengths = [int(s) for s in str(args.lengths).split(",") if s.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if skip - set(GROUPS):
        ap.error(f"unknown group(s) {sorted(skip - set(GROUPS))}; groups: {', '.join(GROUPS)}")
    args.groups = [g for g in GROUPS if g not in skip]
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.cost_child is not None:
        return cost_child(args)
    torch.set_num_threads(args.threads)
    pipe = load(args)
    if pipe.given_level is None:
        sys.exit(f"{args.model} was not trained with given frames (no given_level in its sidecar); "
                 "pass --given-level to measure it told window by window anyway")
    command = "python " + " ".join(["benchmarks/long_video.py", *(sys.argv[1:] if argv is None else argv)])
    model = {"path": str(args.model), "sha256": pipe.meta["sha256"], "given_level": pipe.given_level,
             "given_level_from": "--given-level" if args.given_level is not None else "sidecar",
             "sampling": {**pipe.defaults, **sampling(args)}}
    machine = f"{platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)"
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    kept = {k: v for k, v in old.get("groups", {}).items() if k in GROUPS and k not in args.groups}
    results = {"groups": kept, "targets": TARGETS}  # a group keeps the model and command that measured it
    for name in args.groups:
        t0 = time.perf_counter()
        print(f"{name} ...", flush=True)
        if name == "one_shot":
            items = one_shot_items(args.stories)
            r = run_stories(pipe, args, items, key=lambda it: f"{it['segments']}seg-{it['lang']}")
            r = {"by_seed": r, "pass_rate": pooled(r), "frames": {"3": 49, "4": 65}}
        elif name == "two_shot":
            r = run_stories(pipe, args, two_shot_items(args.two_shot), key=lambda it: f"{it['segments']}seg")
            r = {"by_seed": r, "pass_rate": pooled(r)}
        elif name == "image":
            r = {"by_seed": group_image(pipe, args)}
        elif name == "curve":
            r = {"by_seed": group_curve(pipe, args)}
        elif name == "repeat":
            r = {"by_seed": group_repeat(pipe, args)}
        else:
            r = group_cost(args)
        results["groups"][name] = {**r, "model": model, "command": command, "machine": machine,
                                   "seconds": round(time.perf_counter() - t0, 1)}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(args.out)
        print(f"{name}: {results['groups'][name]['seconds']:.0f} s", flush=True)
    table(results)
    for name, r in results["groups"].items():
        print(f"{name}: {r['model']['path']} (sha256 {r['model']['sha256'][:12]}, given_level "
              f"{r['model']['given_level']}), {r['seconds']:.0f} s: {r['command']}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
