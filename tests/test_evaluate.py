"""The evaluator reads rendered clips exactly as their specs say, flags broken clips, and survives garbage.

Agreement is measured on seeded renders: every valid single-object combination
(all 176, three seeds each) plus two-object scenes; the spec asks for >= 99% per
attribute (shared/shapesworld-spec.md, "Evaluation"). The full measurement with
more clips, robustness and speed: `python benchmarks/evaluator_agreement.py`.
"""
from dataclasses import replace

import numpy as np
import pytest
import torch

from minivid import evaluate, world
from minivid.evaluate import DetectedObject, describe, describe_batch, prompt_adherence
from minivid.world import HELD_OUT, MOTIONS, ObjectSpec, SceneSpec, render, render_batch, sample_scene

ATTRIBUTES = ("colour", "shape", "motion", "consistency")


def single(combo, rng, **canvas) -> SceneSpec:
    return sample_scene(rng, "heldout" if combo in HELD_OUT else "train", 1, combination=combo, **canvas)


def only(clip) -> DetectedObject:
    objects = describe(clip)
    assert len(objects) == 1, [str(o) for o in objects]
    return objects[0]


# ---------------------------------------------------------------- agreement with the spec


@pytest.fixture(scope="module")
def agreement():
    rng = np.random.default_rng(20240601)
    singles = [single(combo, rng) for combo in world.valid_combinations() for _ in range(3)]
    pairs = [sample_scene(rng, "train", 2) for _ in range(160)]
    out = {}
    for name, scenes in (("single", singles), ("two", pairs)):
        out[name] = (scenes, prompt_adherence(render_batch(scenes), scenes))
    return out


def test_single_object_clips_agree_with_their_spec(agreement):
    scenes, result = agreement["single"]
    assert len(scenes) == 3 * 176
    assert {(o.shape, o.colour, o.motion) for s in scenes for o in s.objects} == set(world.valid_combinations())
    scores = {a: result[a] for a in ATTRIBUTES}
    failures = [c["errors"] for c in result["per_clip"] if not c["correct"]][:5]
    assert min(scores.values()) >= 0.99, (scores, failures)
    assert result["overall"] >= 0.99, failures


def test_two_object_clips_agree_with_their_spec(agreement):
    scenes, result = agreement["two"]
    assert result["objects"] == 2 * len(scenes) == 320
    failures = [c["errors"] for c in result["per_clip"] if not c["correct"]][:5]
    assert min(result[a] for a in ATTRIBUTES) >= 0.99, failures
    assert result["overall"] >= 0.99, failures


def test_at_least_500_clips_are_checked(agreement):
    assert sum(len(scenes) for scenes, _ in agreement.values()) >= 500


# ---------------------------------------------------------------- each motion, read off the track


ROTATING = {"rotates clockwise": "square", "rotates counterclockwise": "triangle"}


@pytest.mark.parametrize("motion", MOTIONS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_motion_is_detected(motion, seed):
    shape = ROTATING.get(motion, ("circle", "square", "triangle")[seed])
    scene = single((shape, "cyan", motion), seed)
    obj = only(render(scene))
    assert obj.attributes == (shape, "cyan", motion), obj.motion_reason
    assert obj.consistent, obj.reason
    spec = scene.objects[0]
    vx, vy = obj.velocity
    if motion in world.MOVES:
        dx, dy = world.MOVES[motion]
        assert (vx, vy) == pytest.approx((dx * spec.speed, dy * spec.speed), abs=0.05)
    if motion in world.ROTATIONS:
        assert obj.spin == pytest.approx(world.ROTATIONS[motion] * spec.speed, abs=1.0)
    assert obj.size == pytest.approx(spec.size, abs=0.15)
    # the track is the spec's trajectory
    x, y, _ = world.trajectory(spec, scene.frames)
    assert np.abs(obj.track[:, 0] - x).max() < 0.3 and np.abs(obj.track[:, 1] - y).max() < 0.3


def test_orientation_track_follows_the_spin():
    spec = ObjectSpec("square", "white", "rotates clockwise", size=5, x=15.3, y=16.7, speed=13.0, angle=10.0)
    obj = only(render(SceneSpec((spec,))))
    turned = np.degrees(np.unwrap(np.radians(obj.track[:, 2] * 4))) / 4  # square: period 90
    assert np.diff(turned) == pytest.approx(np.full(16, 13.0), abs=1.0)


@pytest.mark.parametrize("frames,height,width", [(24, 32, 48), (40, 48, 32), (17, 16, 24), (3, 32, 32)])
def test_other_canvases(frames, height, width):
    rng = np.random.default_rng(frames * 1000 + width)
    scenes = [single(combo, rng, frames=frames, height=height, width=width) for combo in world.valid_combinations()]
    result = prompt_adherence(render_batch(scenes), scenes)
    failures = [c["errors"] for c in result["per_clip"] if not c["correct"]][:5]
    assert result["overall"] == 1.0, failures


def test_objects_leaving_a_long_clip_through_the_edge_are_consistent():
    # 64 frames continue the 17-frame motion: a moving object leaves the canvas, which is no vanishing
    spec = ObjectSpec("square", "green", "moves right", size=4, x=6, y=16, speed=1.2)
    clip = render(SceneSpec((spec,), frames=64))
    obj = only(clip)
    assert not obj.present.all()
    assert obj.consistent, obj.reason
    assert obj.motion == "moves right" and "leaves the view" in obj.motion_reason


def test_two_frames_read_moves_and_spins():
    rng = np.random.default_rng(7)
    combos = [c for c in world.valid_combinations() if c[2] != "bounces"]  # two frames cannot show a bounce
    scenes = [single(combo, rng, frames=2) for combo in combos[::3]]
    result = prompt_adherence(render_batch(scenes), scenes)
    assert result["overall"] == 1.0, [c["errors"] for c in result["per_clip"] if not c["correct"]][:5]


def test_one_frame_has_no_motion_but_a_shape():
    scene = single(("triangle", "orange", "stays still"), 3, frames=1)
    obj = only(render(scene))
    assert (obj.shape, obj.colour) == ("triangle", "orange")
    assert obj.motion == evaluate.UNKNOWN and "one frame" in obj.motion_reason
    assert prompt_adherence(render(scene), [scene])["motion"] == 0.0


def test_noisy_quantised_and_softly_blurred_renders_still_agree():
    rng = np.random.default_rng(11)
    scenes = [single(combo, rng) for combo in world.valid_combinations()[::4]]
    clips = render_batch(scenes)
    g = torch.Generator().manual_seed(0)
    noisy = (clips + 0.05 * torch.randn(clips.shape, generator=g)).clamp(0, 1)
    uint8 = (clips * 255).round().to(torch.uint8)
    blur = torch.nn.functional.avg_pool2d(clips.flatten(0, 2)[:, None], 3, 1, 1, count_include_pad=False)
    blur = (0.5 * clips + 0.5 * blur.view_as(clips))  # a mild blur, like a VAE reconstruction
    for name, videos in (("noise", noisy), ("uint8", uint8), ("blur", blur)):
        result = prompt_adherence(videos, scenes)
        assert result["overall"] >= 0.95, (name, [c["errors"] for c in result["per_clip"] if not c["correct"]][:3])


# ---------------------------------------------------------------- temporal consistency


STILL = ObjectSpec("circle", "red", "stays still", size=4, x=12, y=14)
MOVING = ObjectSpec("square", "blue", "moves right", size=4, x=8, y=16, speed=1.0)


def spliced(first: ObjectSpec, second: ObjectSpec, at: int = 9) -> torch.Tensor:
    """Frames 0..at-1 of one object, then frames at.. of another (same motion law)."""
    a, b = render(SceneSpec((first,))), render(SceneSpec((second,)))
    return torch.cat([a[:at], b[at:]])


def test_clean_objects_are_consistent():
    for spec in (STILL, MOVING):
        obj = only(render(SceneSpec((spec,))))
        assert obj.consistent and obj.reason == "" and obj.problems == ()
        assert obj.present.all() and obj.frame_shapes == (spec.shape,) * 17


def test_vanishing_for_some_frames_is_inconsistent():
    clip = render(SceneSpec((MOVING,)))
    clip[6:10] = 0
    obj = only(clip)
    assert not obj.consistent and "missing in frames 6, 7, 8, 9" in obj.reason
    assert obj.problems == ("vanishes in some frames",)
    assert obj.attributes == ("square", "blue", "moves right")  # still read from the other frames


def test_appearing_mid_clip_is_inconsistent():
    clip = render(SceneSpec((STILL,)))
    clip[:5] = 0
    obj = only(clip)
    assert not obj.consistent and "missing in frames 0, 1, 2, 3, 4" in obj.reason


def test_colour_change_is_inconsistent_and_fails_the_prompt():
    clip = spliced(MOVING, replace(MOVING, colour="yellow"))
    objects = describe(clip)
    assert [o.colour for o in objects] == ["blue", "yellow"]
    assert not any(o.consistent for o in objects)
    assert "colour changes to yellow" in objects[0].reason
    assert objects[0].problems == ("vanishes in some frames", "colour changes")
    result = prompt_adherence(clip, [[("square", "blue", "moves right")]])
    assert result["overall"] == 0.0 and result["colour"] == 0.0 and result["consistency"] == 0.0
    assert any("extra yellow" in e for e in result["per_clip"][0]["errors"])
    assert {"extra object", "vanishes in some frames", "colour changes"} <= result["per_clip"][0]["kinds"]


@pytest.mark.parametrize("sizes", [(3.0, 5.0), (5.0, 3.8)])
def test_size_change_is_inconsistent(sizes):
    obj = only(spliced(replace(MOVING, size=sizes[0]), replace(MOVING, size=sizes[1])))
    assert not obj.consistent and "size changes" in obj.reason and "size changes" in obj.problems


@pytest.mark.parametrize("shapes", [("circle", "square"), ("triangle", "circle"), ("square", "triangle")])
def test_shape_change_is_inconsistent(shapes):
    first = replace(STILL, shape=shapes[0], angle=world.CANONICAL_ANGLE[shapes[0]])
    second = replace(STILL, shape=shapes[1], angle=world.CANONICAL_ANGLE[shapes[1]])
    obj = only(spliced(first, second, at=8))
    assert not obj.consistent and "shape changes" in obj.reason and "shape changes" in obj.problems


def test_two_blobs_of_one_colour_are_inconsistent():
    other = replace(STILL, x=24, y=22)
    clip = (render(SceneSpec((STILL,))) + render(SceneSpec((other,)))).clamp(0, 1)
    obj = only(clip)
    assert not obj.consistent and "more than one red blob" in obj.reason and obj.problems == ("splits into blobs",)


# ---------------------------------------------------------------- garbage in, no crash, no credit


def garbage() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    red = torch.tensor(world.COLOURS["red"]).float().view(1, 3, 1, 1) / 255
    sparse = (torch.rand(17, 1, 32, 32, generator=g) < 0.05) * torch.rand(17, 3, 32, 32, generator=g)
    return {
        "zeros": torch.zeros(17, 3, 32, 32),
        "ones": torch.ones(17, 3, 32, 32),
        "uniform noise": torch.rand(17, 3, 32, 32, generator=g),
        "gaussian noise": (0.5 + 0.3 * torch.randn(17, 3, 32, 32, generator=g)).clamp(0, 1),
        "all red": red.expand(17, 3, 32, 32).clone(),
        "sparse speckles": sparse,
        "binary noise, 32x48": torch.rand(24, 3, 32, 48, generator=g).round(),
        "one frame of noise": torch.rand(1, 3, 16, 16, generator=g),
    }


@pytest.mark.parametrize("name", list(garbage()))
def test_garbage_returns_and_scores_zero(name):
    clip = garbage()[name]
    objects = describe(clip)
    assert isinstance(objects, list) and all(isinstance(o, DetectedObject) for o in objects)
    for o in objects:
        assert o.colour in world.COLOURS
        assert o.shape in (*world.SHAPES, evaluate.UNKNOWN) and o.motion in (*MOTIONS, evaluate.UNKNOWN)
        str(o)
    result = prompt_adherence(clip, [[("circle", "red", "moves left")]])
    assert result["overall"] == 0.0


def test_flat_colour_and_black_have_no_objects():
    clips = garbage()
    for name in ("zeros", "ones", "all red"):
        assert describe(clips[name]) == [], name


# ---------------------------------------------------------------- prompt adherence


def test_perfect_renders_score_one_with_every_prompt_form():
    rng = np.random.default_rng(5)
    scenes = [sample_scene(rng, "train", n) for n in (1, 2) for _ in range(8)]
    clips = render_batch(scenes)
    tuples = [[(o.shape, o.colour, o.motion) for o in s.objects] for s in scenes]
    for prompts in (scenes, tuples):
        result = prompt_adherence(clips, prompts)
        assert result["overall"] == 1.0 and all(result[a] == 1.0 for a in ATTRIBUTES)
        assert result["clips"] == 16 and result["objects"] == 24
        assert all(c["correct"] and c["errors"] == [] for c in result["per_clip"])
    # a list of clips (any canvases) works too, and numpy
    assert prompt_adherence([c.numpy() for c in clips[:3]], tuples[:3])["overall"] == 1.0


def test_caption_strings_are_parsed():
    pytest.importorskip("minivid.text")
    rng = np.random.default_rng(6)
    scenes = [sample_scene(rng, "train", n) for n in (1, 2) for _ in range(4)]
    for lang in world.LANGUAGES:
        captions = [world.caption(s, lang) for s in scenes]
        assert prompt_adherence(render_batch(scenes), captions)["overall"] == 1.0, lang


def test_per_attribute_scores_name_the_wrong_attribute():
    scene = SceneSpec((MOVING, replace(STILL, x=24, y=5.5)))  # apart: the square sweeps y 12..20
    clip = render(scene)
    prompts = [
        [("triangle", "blue", "moves right"), ("circle", "red", "stays still")],  # shape of one object
        [("square", "blue", "moves left"), ("circle", "red", "stays still")],  # motion of one object
        [("square", "blue", "moves right")],  # the red circle is extra
        [("square", "blue", "moves right"), ("circle", "green", "stays still")],  # green missing, red extra
    ]
    result = prompt_adherence(clip[None].expand(4, -1, -1, -1, -1), prompts)
    clips = result["per_clip"]
    assert [c["correct"] for c in clips] == [False] * 4
    assert clips[0]["errors"] == ["blue: shape square, wanted triangle"]
    assert len(clips[1]["errors"]) == 1 and "wanted moves left" in clips[1]["errors"][0]
    assert clips[2]["errors"] == ["extra red circle (stays still)"]
    assert any("no green object" in e for e in clips[3]["errors"])
    assert [c["kinds"] for c in clips] == [{"wrong shape"}, {"wrong motion"}, {"extra object"},
                                           {"missing object", "extra object"}]
    # 7 prompt objects: shape wrong once, motion once; colour fails for the extra/missing clips (3 objects)
    assert result["objects"] == 7
    assert result["shape"] == pytest.approx(5 / 7) and result["motion"] == pytest.approx(5 / 7)
    assert result["colour"] == pytest.approx(4 / 7) and result["consistency"] == pytest.approx(6 / 7)


# ---------------------------------------------------------------- clear errors


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(3, 32, 32), "clip .t c h w. or a batch"),
        (torch.zeros(2, 3, 17, 32, 32), "looks like b c t h w"),
        (torch.zeros(17, 32, 32, 3), "looks channels-last"),
        (torch.zeros(17, 3, 8, 8), "at least 16 x 16"),
        (torch.full((17, 3, 32, 32), 2.0), r"must be in \[0, 1\]"),
        (torch.full((17, 3, 32, 32), -0.5), r"map a \[-1, 1\] model output"),
        (torch.full((17, 3, 32, 32), float("nan")), "NaN"),
        (torch.zeros(17, 3, 32, 32, dtype=torch.int64), "float in .0, 1. or uint8"),
        ("not a video", "tensor or numpy array"),
    ],
)
def test_bad_videos_are_clear_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        describe_batch(bad)


def test_describe_wants_one_clip():
    with pytest.raises(ValueError, match="use describe_batch"):
        describe(torch.zeros(2, 17, 3, 32, 32))
    with pytest.raises(ValueError, match="a clip must be a tensor"):
        describe([torch.zeros(17, 3, 32, 32)])


def test_bad_prompts_are_clear_errors():
    clip = render(SceneSpec((STILL,)))
    with pytest.raises(ValueError, match="2 prompts"):
        prompt_adherence(clip, [[("circle", "red", "stays still")]] * 2)
    with pytest.raises(ValueError, match="unknown colour 'pink'"):
        prompt_adherence(clip, [[("circle", "pink", "stays still")]])
    with pytest.raises(ValueError, match="circle cannot"):
        prompt_adherence(clip, [[("circle", "red", "rotates clockwise")]])
    with pytest.raises(ValueError, match="never share"):
        prompt_adherence(clip, [[("circle", "red", "stays still"), ("square", "red", "moves up")]])
    with pytest.raises(ValueError, match="a prompt must be"):
        prompt_adherence(clip, [42])
