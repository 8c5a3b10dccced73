"""Lesson 09's exercise: prompt adherence from the probe's detections.

The check builds clips whose answers are known (real renders judged against their own prompts and against
prompts that differ in one attribute, two-object scenes, clips stitched to be inconsistent) and compares all
five numbers with `evaluate.prompt_adherence`.
"""
import dataclasses
import functools

import torch

from minivid import evaluate, text, world


# ---- exercise: adherence from detections ------------------------------------------------------------------

def adherence(expected, detections):
    """`expected[i]`: the (shape, colour, motion) objects prompt i asks for; `detections[i]`: the DetectedObjects
    the probe found in clip i. Returns the fraction of clips correct ("overall") and, per attribute, the
    fraction of prompt objects that get it right."""
    hits = dict.fromkeys(("colour", "shape", "motion", "consistency"), 0)
    n_objects = n_correct = 0
    for wanted, objects in zip(expected, detections):
        by_colour = {o.colour: o for o in objects}  # objects are matched by colour
        extra = any(o.colour not in {c for _, c, _ in wanted} for o in objects)
        clip_ok = not extra
        for shape, colour, motion in wanted:
            n_objects += 1
            o = by_colour.get(colour)
            if o is None:  # a missing object misses all four
                clip_ok = False
                continue
            got = {"colour": not extra, "shape": o.shape == shape, "motion": o.motion == motion,
                   "consistency": o.consistent}
            for key, ok in got.items():
                hits[key] += ok
            clip_ok = clip_ok and all(got.values())
        n_correct += clip_ok
    return {"overall": n_correct / len(expected), **{k: v / n_objects for k, v in hits.items()}}


def _parses(prompt):
    try:
        text.parse_prompt(prompt)
    except text.PromptError:
        return False
    return True


@functools.cache
def _cases():
    """(prompts, detections) groups with every kind of hit and miss."""
    singles = [world.sample_scene(seed, num_objects=1) for seed in range(8)]
    pairs = [world.sample_scene(100 + seed, num_objects=2) for seed in range(4)]
    found_single = evaluate.describe_batch(world.render_batch(singles))
    found_pair = evaluate.describe_batch(world.render_batch(pairs))
    still = dict(motion="stays still", size=4.0, x=16.0, y=16.0)
    circle, square = world.render_batch([world.SceneSpec([world.ObjectSpec("circle", "red", **still)]),
                                        world.SceneSpec([world.ObjectSpec("square", "red", **still)])])
    stitched = torch.cat([circle[:9], square[9:]])  # a shape that changes midway: inconsistent

    def changed(scene, what):
        """The scene's caption with one attribute of its object changed (to a combination a prompt may ask)."""
        o = scene.objects[0]
        for value in {"colour": world.COLOURS, "shape": world.SHAPES, "motion": world.MOTIONS}[what]:
            prompt = world.caption(world.SceneSpec((dataclasses.replace(o, **{what: value}),)))
            if value != getattr(o, what) and _parses(prompt):
                return prompt
        raise AssertionError(f"no prompt differs from {world.caption(scene)!r} in {what} alone")

    return {
        "right prompts": ([world.caption(s) for s in singles + pairs], found_single + found_pair),
        "one attribute changed": ([changed(s, w) for s, w in zip(singles, ["colour", "shape", "motion"] * 3)],
                                  found_single),
        "one object of two asked (an extra one)": ([world.caption(world.SceneSpec(p.objects[:1])) for p in pairs],
                                                   found_pair),
        "two asked, one shown (a missing one)": ([world.caption(world.SceneSpec((s.objects[0], next(
            o for o in p.objects if o.colour != s.objects[0].colour)))) for s, p in zip(singles, pairs)],
            found_single[:len(pairs)]),
        "an inconsistent clip": (["a red circle stays still", "a red square stays still"],
                                 [evaluate.describe(stitched)] * 2),
    }


def check_adherence(fn):
    for name, (prompts, detections) in _cases().items():
        mine = fn([text.parse_prompt(p) for p in prompts], detections)
        ref = evaluate.prompt_adherence(None, prompts, detections=detections)
        assert isinstance(mine, dict), f"{name}: return a dict, got {mine!r}"
        for key in ("overall", *evaluate.ATTRIBUTES):
            assert key in mine, f"{name}: your dict has no {key!r}"
            assert abs(mine[key] - ref[key]) < 1e-9, \
                f"{name}: {key} {mine[key]:.4f}, evaluate.prompt_adherence gives {ref[key]:.4f}"


def wrong_adherence_extra_objects_ignored(expected, detections):
    """An extra object neither spoils the colour nor the clip."""
    return adherence(expected, [[o for o in objects if o.colour in {c for _, c, _ in wanted}]
                                for wanted, objects in zip(expected, detections)])


def wrong_adherence_missing_objects_not_counted(expected, detections):
    """Missing objects left out of the per-attribute denominators instead of missing all four."""
    kept = [[w for w in wanted if w[1] in {o.colour for o in objects}] or wanted
            for wanted, objects in zip(expected, detections)]
    scores = adherence(kept, detections)
    scores["overall"] = adherence(expected, detections)["overall"]
    return scores


def wrong_adherence_consistency_not_required(expected, detections):
    """A clip counted correct with an inconsistent object (consistency scored, but not required)."""
    scores = adherence(expected, detections)
    relaxed = [[type("Consistent", (), {"colour": o.colour, "shape": o.shape, "motion": o.motion,
                                        "consistent": True})() for o in objects] for objects in detections]
    scores["overall"] = adherence(expected, relaxed)["overall"]
    return scores
