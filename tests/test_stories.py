"""Stories (shared/shapesworld-stories.md): segments, shots, captions and prompts, and the story evaluator."""
import dataclasses
import math

import numpy as np
import pytest
import torch

from minivid import world
from minivid.evaluate import story_adherence
from minivid.text import PromptError, parse_prompt, parse_story, prompt_to_story, segment_prompts
from minivid.world import (
    ObjectSpec,
    SceneSpec,
    StoryError,
    StoryPlan,
    StorySpec,
    render,
    render_story,
    sample_random_story,
    sample_story,
    story_caption,
    story_end_state,
)

RED_CIRCLE = ("circle", "red", "moves left")


def plan(*motions, shape="circle", colour="red", cuts=()):
    return StoryPlan(tuple(((shape, colour, m),) for m in motions), cuts)


def random_stories(n, **kw):
    return [sample_random_story(seed, segments=1 + seed % 4, num_objects=1 + (seed % 3 == 0), **kw) for seed in range(n)]


# ---------------------------------------------------------------- segments


@pytest.mark.parametrize("segments", [1, 2, 3, 4])
def test_a_story_of_n_segments_has_16n_plus_1_frames(segments):
    story = sample_random_story(segments, segments=segments)
    clip = render_story(story)
    assert story.frames == 16 * segments + 1 == clip.shape[0]
    assert clip.shape[1:] == (3, 32, 32)


def test_inside_a_shot_each_segment_starts_where_the_last_one_ended():
    for story in random_stories(12):
        clip = render_story(story)
        for k, seg in enumerate(story.segments):
            alone = render(seg)  # the v1 renderer, one segment on its own
            last = 17 if k == len(story.segments) - 1 else 16
            assert torch.equal(clip[16 * k : 16 * k + last], alone[:last])
            if k + 1 < len(story.segments) and k + 1 not in story.cuts:
                # the shared boundary frame: drawn by the next segment, the same image as this one's frame 16
                assert (clip[16 * (k + 1)] - alone[16]).abs().max() < 1e-5
                before, after = world.end_state(seg), story.segments[k + 1].objects
                for was, now in zip(before, after):
                    assert (was.shape, was.colour, was.size) == (now.shape, now.colour, now.size)
                    assert math.isclose(was.x, now.x, abs_tol=1e-9) and math.isclose(was.y, now.y, abs_tol=1e-9)


def padded(scene, pad=8):
    """The same scene on a canvas `pad` px larger on every side."""
    objects = tuple(dataclasses.replace(o, x=o.x + pad, y=o.y + pad, floor=o.floor + pad if o.floor else 0.0)
                    for o in scene.objects)
    return SceneSpec(objects, scene.frames, scene.height + 2 * pad, scene.width + 2 * pad)


def test_every_object_stays_in_view_and_follows_v1_laws():
    for story in random_stories(40, cut_prob=0.3):
        for seg in story.segments:
            # fully in view: the canvas shows all of each object's colour that a larger canvas shows
            mass, full = render(seg).sum((1, 2, 3)), render(padded(seg)).sum((1, 2, 3))
            bounces = any(o.motion == "bounces" for o in seg.objects)  # touches the bottom edge, as in v1
            assert torch.allclose(mass, full, rtol=0.02 if bounces else 1e-4), story_caption(story)
            for o in seg.objects:
                if o.motion in world.MOVES:
                    assert 0.8 - 1e-9 <= o.speed <= 1.2 + 1e-9
                if o.motion in world.ROTATIONS:
                    assert 10 - 1e-9 <= o.speed <= 20 + 1e-9
                if o.motion == "bounces":
                    assert o.floor - o.y >= 10 - 1e-9  # starts at rest at least 10 px above its floor
                    impact = math.sqrt(2 * (o.floor - o.y) / o.gravity)
                    assert 4.5 - 1e-6 <= impact <= 8 + 1e-6 and 0.7 <= o.restitution <= 0.9
            if len(seg.objects) == 2:
                assert world.min_gap(*seg.objects, 17) >= 2 - 1e-9


def test_stories_are_seeded():
    p = plan("moves right", "bounces", "stays still")
    assert sample_story(5, p) == sample_story(5, p)
    assert sample_story(5, p) != sample_story(6, p)
    assert torch.equal(render_story(sample_story(5, p)), render_story(sample_story(5, p)))


def test_a_story_that_cannot_fit_names_its_first_misfit_segment():
    with pytest.raises(StoryError, match=r"segment 2 of 2 \(red circle moves left\) cannot fit on a 32x32") as info:
        sample_story(0, plan("moves left", "moves left"))
    assert info.value.segment == 1
    with pytest.raises(StoryError, match="segment 3 of 3") as info:
        sample_story(0, plan("stays still", "moves down", "moves down"))
    assert info.value.segment == 2
    sample_story(0, plan("moves left", "moves right", "moves left"))  # there and back fits
    sample_story(0, plan("moves left", "moves left"), height=32, width=48)  # so does a wider canvas
    with pytest.raises(PromptError, match=r"segment 2 \('a red circle moves left'\) .* cannot fit on a 32x32"):
        prompt_to_story("a red circle moves left, then a red circle moves left")


def test_a_given_start_state_is_where_the_story_starts_and_extends():
    first = sample_story(1, plan("moves right"))
    end = story_end_state(first)
    more = sample_story(2, plan("moves left", "stays still"), start=end)  # it moved right, so it has room to go back
    o = more.segments[0].objects[0]
    assert (o.x, o.y, o.size, o.angle) == (end[0].x, end[0].y, end[0].size, end[0].angle)
    stuck = (world.ObjectState("circle", "red", 4.0, x=4.5, y=16.0),)  # at the left edge
    with pytest.raises(StoryError, match="segment 1 of 1.*from the given start state"):
        sample_story(0, plan("moves left"), start=stuck)
    with pytest.raises(StoryError, match="start a new shot"):
        sample_story(0, plan("moves left", colour="blue"), start=stuck)


def test_story_specs_round_trip_and_refuse_jumps_inside_a_shot():
    story = sample_random_story(3, segments=3, num_objects=2, cut_prob=0.5)
    assert StorySpec.from_dict(story.to_dict()) == story
    a = SceneSpec((ObjectSpec("circle", "red", "stays still", x=10, y=10),))
    b = SceneSpec((ObjectSpec("circle", "red", "stays still", x=20, y=10),))
    with pytest.raises(StoryError, match="does not start where segment 1 left it"):
        StorySpec((a, b))
    StorySpec((a, b), cuts=(1,))  # after a cut nothing carries over


# ---------------------------------------------------------------- shots


def test_the_boundary_frame_of_a_cut_belongs_to_the_new_shot():
    p = StoryPlan((((("square", "blue", "rotates clockwise"),)), (RED_CIRCLE,), (("circle", "red", "moves up"),)),
                  cuts=(1,))
    story = sample_story(0, p)
    clip = render_story(story)
    assert story.shots == ((0, 1), (1, 3))
    assert torch.equal(clip[:16], render(story.segments[0])[:16])
    assert torch.equal(clip[16], render(story.segments[1])[0])  # frame 16 is the red circle's, not the square's
    assert clip[16, 2].max() < 0.2 and clip[15, 2].max() > 0.9  # no blue left at the boundary


def test_a_cut_to_the_same_objects_changes_the_image():
    for seed in range(10):
        story = sample_story(seed, plan("stays still", "stays still", cuts=(1,)))
        a, b = story.segments[0].objects[0], story.segments[1].objects[0]
        assert math.hypot(a.x - b.x, a.y - b.y) >= 7 or max(a.size, b.size) ** 2 >= 1.6 * min(a.size, b.size) ** 2


# ---------------------------------------------------------------- captions and prompts


@pytest.mark.parametrize("lang", world.LANGUAGES)
def test_story_captions_parse_back_in_every_language_and_template(lang):
    for story in random_stories(16, cut_prob=0.4):
        for template in range(world.CAPTION_TEMPLATES[lang]):
            text = story_caption(story, lang, template)
            assert parse_story(text) == story.plan, text


def test_canonical_story_captions():
    p = StoryPlan(((RED_CIRCLE,), (("circle", "red", "moves up"),), (("square", "blue", "bounces"),)), cuts=(2,))
    assert story_caption(p) == "a red circle moves left, then a red circle moves up; cut to a blue square bounces"
    assert story_caption(p, "en", 1) == "a red circle moves left, then the red circle moves up; cut to a blue square bounces"
    assert story_caption(p, "zh") == "紅色的圓形向左移動，然後紅色的圓形向上移動；切換到藍色的正方形彈跳"
    assert story_caption(p, "zh-hans") == "红色的圆形向左移动，然后红色的圆形向上移动；切换到蓝色的正方形弹跳"


def test_parsing_story_prompts():
    expected = StoryPlan(((RED_CIRCLE,), (("circle", "red", "moves up"),)))
    assert parse_story("a red circle moves left, then the red circle moves up") == expected
    assert parse_story("紅色的圓形向左移動，然後紅色的圓形向上移動") == expected
    assert parse_story("红色的圆形向左移动，然后红色的圆形向上移动") == expected
    assert parse_story("A red circle moves left; cut to a blue square bounces").cuts == (1,)
    assert parse_story("红色的圆形向左移动；切换到蓝色的正方形弹跳").cuts == (1,)
    # a v1 prompt is a story of one segment
    for v1 in ("a red circle moves left and a blue square rotates clockwise", "紅色的圓形向左移動，藍色的正方形彈跳"):
        assert parse_story(v1) == StoryPlan((tuple(parse_prompt(v1)),))
    # two objects per segment, listed in any order
    two = parse_story("a red circle moves left and a blue square stays still, then the blue square bounces and "
                      "the red circle moves up")
    assert two.segments[1] == (("circle", "red", "moves up"), ("square", "blue", "bounces"))
    assert segment_prompts("a red circle moves left, then the red circle moves up") == [
        "a red circle moves left", "the red circle moves up"]


@pytest.mark.parametrize("prompt,message", [
    ("a red circle moves left, then a blue circle moves up", r"segment 2 .* shows a blue circle, but its shot shows a red circle.*'; cut to '"),
    ("a red circle moves left, then the red circle moves up and a blue square bounces", r"segment 2 .*same colour, shape and count"),
    ("紅色的圓形向左移動，然後藍色的正方形向上移動", "segment 2 .*'；切換到'"),
    ("a red circle moves left then the red circle moves up", "'then' out of place; join segments with ', then '"),
    ("a red circle moves left, then", "segment 2 of .* is empty"),
    ("a red circle moves left, then a red circle spins clockwise", "segment 2 of .*circle cannot 'rotates clockwise'"),
])
def test_story_prompt_errors_name_the_segment(prompt, message):
    with pytest.raises(PromptError, match=message):
        prompt_to_story(prompt)


# ---------------------------------------------------------------- the story evaluator


def test_the_evaluator_passes_rendered_stories():
    stories = random_stories(8, cut_prob=0.4)
    result = story_adherence([render_story(s) for s in stories], [story_caption(s, "zh") for s in stories])
    assert result["overall"] == 1.0, [s["errors"] for s in result["per_story"]]
    assert result["stories"] == 8


def test_the_evaluator_fails_a_teleported_object_and_says_where():
    story = sample_story(0, plan("stays still", "rotates clockwise", shape="square"))
    moved = [story.segments[0], dataclasses.replace(story.segments[1], objects=tuple(
        dataclasses.replace(o, x=o.x + (6 if o.x < 16 else -6)) for o in story.segments[1].objects))]
    frames = world.render_batch(moved)
    clip = torch.cat([frames[0, :16], frames[1]])
    good = story_adherence(render_story(story), story)["per_story"][0]
    bad = story_adherence(clip, story)["per_story"][0]
    assert good["passed"] and not bad["passed"]
    assert not bad["continuity"]["passed"] and "jumps 6.0 px at frame 16" in bad["continuity"]["errors"][0]
    assert "without a cut" in bad["shots"]["errors"][0]


def test_the_evaluator_fails_a_cut_prompt_over_a_continuous_clip():
    story = sample_story(0, plan("moves right", "stays still"))
    result = story_adherence(render_story(story), StoryPlan(story.plan.segments, cuts=(1,)))["per_story"][0]
    assert not result["passed"] and result["shots"]["errors"] == [
        "the prompt cuts at frame 16, but the image does not change there"]


def test_the_evaluator_wants_16n_plus_1_frames():
    story = sample_story(0, plan("moves right", "stays still"))
    with pytest.raises(ValueError, match="has 17 frames, but its prompt has 2 segment"):
        story_adherence(render_story(story)[:17], story)


def test_image_state_reads_where_a_story_starts_from_an_image():
    from minivid.evaluate import image_state

    for seed in range(6):
        story = sample_random_story(seed, segments=2, num_objects=1 + seed % 2)
        clip = render_story(story)
        truth = world.end_state(story.segments[1], 0)  # the objects at frame 16
        read = sorted(image_state(clip[16]), key=lambda s: s.colour)
        for want, got in zip(sorted(truth, key=lambda s: s.colour), read):
            assert (got.shape, got.colour) == (want.shape, want.colour)
            assert abs(got.x - want.x) < 0.3 and abs(got.y - want.y) < 0.3 and abs(got.size - want.size) < 0.25
            period = world.SYMMETRY_DEG[want.shape]
            if period:
                assert abs((got.angle - want.angle + period / 2) % period - period / 2) < 3
        sample_story(seed, story.plan, start=image_state(clip[0]))  # a story can start from what it read


def test_random_stories_do_not_depend_on_the_hash_seed():
    import os
    import subprocess
    import sys

    code = ("from minivid import world; print([world.sample_random_story(s, 3, split, 2, 0.3).to_dict() "
            "for s in range(6) for split in world.SPLITS])")
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1]
