"""How often the story evaluator agrees with rendered stories, and how often it catches broken ones.

    python benchmarks/story_evaluator.py       # under a minute on one core; writes
                                               # benchmarks/results/story_evaluator.json
    python benchmarks/story_evaluator.py --stories 100 --broken 20   # a quick look

Ground truth: `--stories` random stories (1 to 5 segments, one or two objects, one
shot or several, training and held-out combinations) rendered from their specs and
judged against their captions in English, Chinese and simplified Chinese, random
templates: the stories addendum asks that >= 99% pass. The same videos are also
read after damage a generated clip may show (uint8, then Gaussian noise of 0.05).
Broken: `--broken` stories of each kind, made from rendered ones at a random
boundary inside a shot: an object teleported (its centre moved 5-10 px from then
on), resized (size r times or divided by 1.3-1.6) or recoloured; a missing cut (the video cuts to a
fresh shot of the same objects, the prompt does not); a cut with no change (the
prompt cuts, the video goes on). The addendum asks that >= 95% fail.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from minivid import world
from minivid.evaluate import story_adherence

RESULTS = Path(__file__).parent / "results" / "story_evaluator.json"
LANGS = ("en", "zh", "zh-hans")
BROKEN = ("teleported", "resized", "recoloured", "missing cut", "cut without change")


def ground_truth(rng, n: int) -> list[tuple[world.StorySpec, str, dict]]:
    """Random fitting stories with a caption each, and what kind of story it is."""
    out = []
    for i in range(n):
        segments, objects = 1 + i % 5, 1 + (i % 3 == 2)
        split = "heldout" if i % 2 else "train"
        cut_prob = 0.0 if i % 4 < 2 else 0.5
        story = world.sample_random_story(rng, segments, split, objects, cut_prob)
        lang = LANGS[rng.integers(len(LANGS))]
        prompt = world.story_caption(story, lang, int(rng.integers(world.CAPTION_TEMPLATES[lang])))
        out.append((story, prompt, {"segments": segments, "objects": objects, "split": split, "lang": lang,
                                    "shots": len(story.shots)}))
    return out


def render_segments(segments: list[world.SceneSpec]) -> torch.Tensor:
    """Frames of segments told one after the other (boundary frame from the later one), carried over or not."""
    clips = world.render_batch(list(segments))
    return torch.cat([clips[:-1, : world.SEGMENT_STEP].flatten(0, 1), clips[-1]])


def in_view(o: world.ObjectSpec, height: int, width: int) -> bool:
    x, y, a = world.trajectory(o, world.SEGMENT_FRAMES)
    r = world.circumradius(o.shape, o.size)
    return bool((x - r >= 0).all() and (x + r <= width).all() and (y - r >= 0).all() and (y + r <= height).all())


def within_shot_boundary(rng, story: world.StorySpec) -> tuple[int, int] | None:
    """A random boundary k (segment k starts there) inside a shot, and the shot's stop, or None."""
    options = [(k, stop) for first, stop in story.shots for k in range(first + 1, stop)]
    return options[rng.integers(len(options))] if options else None


def change_object(rng, story: world.StorySpec, kind: str):
    """A copy of the story's segments with one object changed from a boundary inside a shot to the shot's end."""
    where = within_shot_boundary(rng, story)
    if where is None:
        return None
    k, stop = where
    segs = list(story.segments)
    j = int(rng.integers(len(segs[k].objects)))
    for _ in range(50):
        if kind == "teleported":
            angle, dist = rng.uniform(0, 2 * np.pi), rng.uniform(5.0, 10.0)
            change = {"x": dist * np.cos(angle), "y": dist * np.sin(angle)}
        elif kind == "resized":
            factor = rng.uniform(1.3, 1.6)
            change = {"size": factor if rng.random() < 0.5 else 1 / factor}
        else:
            used = {o.colour for s in segs for o in s.objects}
            change = {"colour": [c for c in world.COLOURS if c not in used][rng.integers(len(world.COLOURS) - len(used))]}
        new = []
        for seg in segs[k:stop]:
            o = seg.objects[j]
            if kind == "teleported":
                o = dataclasses.replace(o, x=o.x + change["x"], y=o.y + change["y"],
                                        floor=o.floor + change["y"] if o.motion == "bounces" else o.floor)
            elif kind == "resized":
                o = dataclasses.replace(o, size=o.size * change["size"])
            else:
                o = dataclasses.replace(o, colour=change["colour"])
            objects = list(seg.objects)
            objects[j] = o
            new.append(dataclasses.replace(seg, objects=tuple(objects)))
        if all(in_view(s.objects[j], story.height, story.width) for s in new):
            return segs[:k] + new + segs[stop:]
    return None


def broken(rng, n: int) -> list[tuple[str, torch.Tensor, str]]:
    """(kind, video, prompt) of n broken stories of each kind."""
    out = []
    for kind in BROKEN:
        made = 0
        while made < n:
            segments, objects = 2 + int(rng.integers(3)), 1 + (rng.random() < 0.3)
            lang = LANGS[rng.integers(len(LANGS))]
            try:
                if kind == "missing cut":  # a plan with a cut to the same objects; the prompt leaves the cut out
                    plan = world.sample_story_plan(rng, segments, "train", objects)
                    k = 1 + int(rng.integers(segments - 1))
                    story = world.sample_story(rng, world.StoryPlan(plan.segments, (k,)))
                    video, prompt_plan = world.render_story(story), plan
                else:
                    story = world.sample_random_story(rng, segments, "train", objects)
                    if kind == "cut without change":
                        k = 1 + int(rng.integers(segments - 1))
                        video, prompt_plan = world.render_story(story), world.StoryPlan(story.plan.segments, (k,))
                    else:
                        segs = change_object(rng, story, kind)
                        if segs is None:
                            continue
                        video, prompt_plan = render_segments(segs), story.plan
            except world.StoryError:
                continue
            out.append((kind, video, world.story_caption(prompt_plan, lang, 0)))
            made += 1
    return out


def rate(items, passed) -> float:
    return sum(passed) / max(len(items), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stories", type=int, default=400, help="ground-truth stories")
    parser.add_argument("--broken", type=int, default=60, help="broken stories of each kind")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(args.seed)

    t0 = time.perf_counter()
    truth = ground_truth(rng, args.stories)
    videos = [world.render_story(s) for s, _, _ in truth]
    t1 = time.perf_counter()
    result = story_adherence(videos, [p for _, p, _ in truth])
    t2 = time.perf_counter()
    ok = [s["passed"] for s in result["per_story"]]
    frames = sum(v.shape[0] for v in videos)
    print(f"ground truth: {sum(ok)}/{len(ok)} stories pass ({rate(ok, ok):.2%}); windows {result['windows']:.2%}, "
          f"identity {result['identity']:.2%}, continuity {result['continuity']:.2%}, shots {result['shots']:.2%}")
    groups = {}
    for (_, _, info), passed in zip(truth, ok):
        for key in ("segments", "objects", "split", "lang", "shots"):
            groups.setdefault(f"{key}={info[key]}", []).append(passed)
    for name, values in sorted(groups.items()):
        print(f"  {name:16s} {sum(values):4d}/{len(values):<4d} {rate(values, values):.2%}")
    noisy = [((v * 255).round() / 255 + 0.05 * torch.randn(v.shape, generator=torch.Generator().manual_seed(i)))
             .clamp(0, 1) for i, v in enumerate(videos)]
    damaged = story_adherence(noisy, [p for _, p, _ in truth])
    print(f"  after uint8 + noise 0.05: {damaged['overall']:.2%} pass; windows {damaged['windows']:.2%}, identity "
          f"{damaged['identity']:.2%}, continuity {damaged['continuity']:.2%}, shots {damaged['shots']:.2%}")
    failures = [(p, s["errors"]) for (_, p, _), s in zip(truth, result["per_story"]) if not s["passed"]]
    for prompt, errors in failures[:10]:
        print(f"  FAILS: {prompt!r}: {errors}")
    print(f"  read {len(videos)} stories ({frames} frames) in {t2 - t1:.1f} s on one thread")

    bad = broken(rng, args.broken)
    judged = story_adherence([v for _, v, _ in bad], [p for _, _, p in bad])
    caught = {}
    missed = []
    for (kind, _, prompt), s in zip(bad, judged["per_story"]):
        caught.setdefault(kind, []).append(not s["passed"])
        if s["passed"]:
            missed.append((kind, prompt))
    all_caught = [c for values in caught.values() for c in values]
    print(f"broken: {sum(all_caught)}/{len(all_caught)} fail ({rate(all_caught, all_caught):.2%})")
    by_test = {kind: Counter() for kind in BROKEN}
    for (kind, _, _), s in zip(bad, judged["per_story"]):
        by_test[kind].update(name for name in ("windows", "identity", "continuity", "shots") if not s[name]["passed"])
    for kind in BROKEN:
        values = caught[kind]
        tests = ", ".join(f"{name} {count}" for name, count in by_test[kind].most_common())
        print(f"  {kind:20s} {sum(values):4d}/{len(values):<4d} {rate(values, values):.2%}  (failed tests: {tests})")
    for kind, prompt in missed[:10]:
        print(f"  MISSED {kind}: {prompt!r}")
    seconds = time.perf_counter() - t0
    print(f"total {seconds:.0f} s")

    report = {
        "command": "python " + " ".join(["benchmarks/story_evaluator.py", *sys.argv[1:]]),
        "seed": args.seed,
        "ground_truth": {"stories": len(ok), "pass_rate": rate(ok, ok), "windows": result["windows"],
                         "identity": result["identity"], "continuity": result["continuity"],
                         "shots": result["shots"], "frames": frames,
                         "after_uint8_noise_0.05": {k: damaged[k] for k in
                                                    ("overall", "windows", "identity", "continuity", "shots")},
                         "by_group": {k: {"stories": len(v), "pass_rate": rate(v, v)} for k, v in sorted(groups.items())},
                         "failures": [{"prompt": p, "errors": e} for p, e in failures]},
        "broken": {"stories": len(all_caught), "fail_rate": rate(all_caught, all_caught),
                   "by_kind": {k: {"stories": len(v), "fail_rate": rate(v, v), "failed_tests": dict(by_test[k])}
                               for k, v in caught.items()},
                   "missed": [{"kind": k, "prompt": p} for k, p in missed]},
        "targets": {"ground_truth_pass_rate": 0.99, "broken_fail_rate": 0.95},
        "read_seconds_ground_truth": t2 - t1,
        "seconds": seconds,
        "machine": f"{platform.machine()}, torch {torch.__version__}, 1 thread",
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
