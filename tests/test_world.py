"""ShapesWorld follows its spec (shared/shapesworld-spec.md): canvas, objects, motions, captions, splits."""
import dataclasses
import json
import math
from collections import Counter

import numpy as np
import pytest
import torch

from minivid import world
from minivid.world import (
    COLOURS,
    HELD_OUT,
    MOTIONS,
    SHAPES,
    ObjectSpec,
    SceneSpec,
    ShapesWorld,
    caption,
    render,
    render_batch,
    sample_scene,
    trajectory,
)


def one(combo, seed=0, **canvas):
    return sample_scene(seed, "heldout" if combo in HELD_OUT else "train", 1, combination=combo, **canvas)


# ---------------------------------------------------------------- canvas


@pytest.mark.parametrize("frames,height,width", [(17, 32, 32), (1, 32, 32), (24, 32, 48), (5, 16, 16), (64, 40, 24)])
def test_render_any_canvas(frames, height, width):
    scene = sample_scene(3, num_objects=2, frames=frames, height=height, width=width)
    clip = render(scene)
    assert clip.shape == (frames, 3, height, width) and clip.dtype == torch.float32
    assert clip.min() >= 0 and clip.max() <= 1
    assert (clip.amax(dim=(0, 2, 3)) > 0).any()  # something is drawn


@pytest.mark.parametrize("frames,height,width", [(0, 32, 32), (17, 15, 32), (17, 32, 8), (2.5, 32, 32)])
def test_bad_canvas_is_a_clear_error(frames, height, width):
    with pytest.raises(ValueError, match="frames must be|height and width must be"):
        sample_scene(0, frames=frames, height=height, width=width)


def test_default_background_is_black_and_colours_exact():
    # a still square's inner pixels carry the exact sRGB triple; far pixels are black
    obj = ObjectSpec("square", "orange", "stays still", size=4, x=16, y=16)
    clip = render(SceneSpec((obj,)))
    assert clip.shape == (17, 3, 32, 32)
    centre = (clip[0, :, 16, 16] * 255).round().tolist()
    assert centre == list(COLOURS["orange"])
    assert clip[:, :, 0, 0].abs().max() == 0
    # the shape has the stated size: 8 x 8 fully covered pixels for half-side 4 centred on a pixel corner
    full = (clip[0].sum(0) > 0.99 * sum(COLOURS["orange"]) / 255).sum().item()
    assert full == 64


def test_shape_areas_match_their_size_parameter():
    # anti-aliased coverage integrates to the geometric area (within a pixel's worth)
    for shape, area in [("circle", math.pi * 16), ("square", 4 * 16), ("triangle", 3 * math.sqrt(3) / 4 * 16)]:
        clip = render(SceneSpec((ObjectSpec(shape, "white", "stays still", size=4, x=16.3, y=15.7),)))
        covered = clip[0, 0].sum().item() / (240 / 255)
        assert abs(covered - area) < 1.0, (shape, covered, area)


# ---------------------------------------------------------------- objects and motion law


def test_every_valid_combination_obeys_the_motion_law():
    assert len(world.valid_combinations()) == 3 * 8 * 8 - 2 * 8  # no rotating circles
    for seed, combo in enumerate(world.valid_combinations()):
        (obj,) = one(combo, seed).objects
        assert 3 <= obj.size <= 5
        x, y, angle = trajectory(obj, 17)
        left, right, top, bottom = world.extent(obj.shape, obj.size, obj.angle, obj.motion in world.ROTATIONS)
        assert (x - left >= 0).all() and (x + right <= 32).all(), combo  # fully in view
        assert (y - top >= 0).all() and (y + bottom <= 32 + 1e-9).all(), combo
        step = np.hypot(np.diff(x), np.diff(y))
        spin = np.diff(angle)
        motion = combo[2]
        if motion in world.MOVES:
            dx, dy = world.MOVES[motion]
            assert np.allclose(np.diff(x), dx * obj.speed) and np.allclose(np.diff(y), dy * obj.speed)
            assert 0.8 <= obj.speed <= 1.2 and (spin == 0).all()
        elif motion in world.ROTATIONS:
            assert (step == 0).all() and np.allclose(spin, world.ROTATIONS[motion] * obj.speed)
            assert 10 <= obj.speed <= 20
        elif motion == "bounces":
            assert (np.diff(x) == 0).all() and 0.7 <= obj.restitution <= 0.9
            vy = np.diff(y)
            assert vy[0] > 0 and (vy < 0).any(), "falls, then rises after a visible bounce"
            assert y.max() <= obj.floor + 1e-9
        else:
            assert (step == 0).all() and (spin == 0).all()


def test_circle_cannot_rotate_and_unknown_values_are_named():
    with pytest.raises(ValueError, match="circle cannot 'rotates clockwise'"):
        ObjectSpec("circle", "red", "rotates clockwise")
    with pytest.raises(ValueError, match="unknown colour 'pink'"):
        ObjectSpec("square", "pink", "bounces")
    with pytest.raises(ValueError, match="unknown motion 'jumps'"):
        ObjectSpec("square", "red", "jumps")


def test_bounce_matches_free_fall_and_restitution():
    obj = ObjectSpec("circle", "red", "bounces", size=4, x=16, y=5, gravity=1.0, restitution=0.8, floor=28)
    t = np.arange(0, 40, 0.25)
    y = world.bounce_y(t, obj.y, obj.floor, obj.gravity, obj.restitution)
    t_hit = math.sqrt(2 * 23 / 1.0)
    before = t < t_hit
    assert np.allclose(y[before], 5 + 0.5 * t[before] ** 2)
    # apex after the first bounce: rebound speed e * g * t_hit rises (e v)^2 / 2g
    v = 0.8 * t_hit
    apex = y[(t > t_hit) & (t < t_hit + 2 * v)].min()
    assert abs((28 - apex) - v**2 / 2) < 0.2
    assert (y <= 28 + 1e-9).all()


def test_longer_clip_continues_the_same_motion():
    short = sample_scene(11, num_objects=1, frames=17)
    long = SceneSpec(short.objects, frames=64)
    assert torch.equal(render(long)[:17], render(short))


def test_two_objects_never_share_a_colour_nor_touch():
    for seed in range(200):
        scene = sample_scene(seed, num_objects=2)
        a, b = scene.objects
        assert a.colour != b.colour
        assert world.min_gap(a, b, scene.frames) >= world.MIN_GAP_PX
    with pytest.raises(ValueError, match="share a colour"):
        SceneSpec((ObjectSpec("circle", "red", "bounces"), ObjectSpec("square", "red", "bounces")))


# ---------------------------------------------------------------- captions


def test_canonical_captions():
    red = ObjectSpec("circle", "red", "moves left")
    blue = ObjectSpec("square", "blue", "rotates clockwise")
    assert caption(SceneSpec((red,))) == "a red circle moves left"
    assert caption(SceneSpec((red, blue))) == "a red circle moves left and a blue square rotates clockwise"
    assert caption(SceneSpec((red,)), "zh") == "紅色的圓形向左移動"
    assert caption(SceneSpec((red,)), "zh-hans") == "红色的圆形向左移动"
    assert caption(SceneSpec((red, blue)), "zh") == "紅色的圓形向左移動，藍色的正方形順時針旋轉"
    assert caption(SceneSpec((red, blue)), "zh", template=1) == "一個紅色的圓形向左移動和一個藍色的正方形順時針旋轉"


def test_every_caption_template_is_distinct_and_names_all_attributes():
    scene = SceneSpec((ObjectSpec("triangle", "cyan", "bounces"),))
    for lang, n in world.CAPTION_TEMPLATES.items():
        texts = [caption(scene, lang, k) for k in range(n)]
        assert len(set(texts)) == n
    for k in range(world.CAPTION_TEMPLATES["en"]):
        assert all(word in caption(scene, "en", k) for word in ("cyan", "triangle", "bounc"))
    with pytest.raises(ValueError, match="unknown language"):
        caption(scene, "fr")


# ---------------------------------------------------------------- splits


def test_held_out_split_covers_every_value_and_never_trains():
    combos = world.valid_combinations()
    assert set(HELD_OUT) <= set(combos) and len(set(HELD_OUT)) == len(HELD_OUT)
    assert len(HELD_OUT) >= 0.1 * len(combos)
    for values, k in ((SHAPES, 0), (tuple(COLOURS), 1), (MOTIONS, 2)):
        assert set(values) == {c[k] for c in HELD_OUT}
    # each pair of attribute values of a held-out combination is still seen in training
    train = world.split_combinations("train")
    for s, c, m in HELD_OUT:
        assert any(t[:2] == (s, c) for t in train) and any(t[1:] == (c, m) for t in train)
        assert any(t[0] == s and t[2] == m for t in train)
    ds = ShapesWorld(split="train", seed=5)
    for i in range(500):
        for o in ds.scene(i).objects:
            assert (o.shape, o.colour, o.motion) not in HELD_OUT


# ---------------------------------------------------------------- dataset


def test_dataset_is_seeded_and_batches_equal_items():
    ds = ShapesWorld(length=100, seed=7)
    batch = ds.__getitems__([3, 4, 5])
    assert [b["index"] for b in batch] == [3, 4, 5]
    for b in batch:
        single = ds[b["index"]]
        assert torch.equal(single["video"], b["video"]) and single["caption"] == b["caption"]
    again = ShapesWorld(length=100, seed=7)[4]
    assert torch.equal(again["video"], batch[1]["video"])
    other = ShapesWorld(length=100, seed=8)[4]
    assert not torch.equal(other["video"], batch[1]["video"])
    with pytest.raises(IndexError, match="out of range"):
        ds[100]


def test_narrowed_rotations_only_change_the_start_pose_and_speed_of_rotating_shapes():
    full = ShapesWorld(length=400, seed=3)
    narrow = ShapesWorld(length=400, seed=3, rotation_start="canonical", rotation_speed=15.0)
    rotating = 0
    for i in range(400):
        a, b = full.scene(i), narrow.scene(i)
        assert full._draw(i)[1] == narrow._draw(i)[1]  # same caption: the random stream is unchanged
        for oa, ob in zip(a.objects, b.objects, strict=True):
            if oa.motion in world.ROTATIONS:
                rotating += 1
                assert ob.angle == world.CANONICAL_ANGLE[ob.shape] and ob.speed == 15.0
                assert dataclasses.replace(oa, angle=ob.angle, speed=ob.speed) == ob  # position and size as before
            else:
                assert oa == ob
    assert rotating > 40
    with pytest.raises(ValueError, match="rotation_start must be one of"):
        ShapesWorld(length=4, rotation_start="upright")
    with pytest.raises(ValueError, match="within the spec"):
        ShapesWorld(length=4, rotation_speed=30.0)


def test_dataset_through_a_dataloader_mixes_languages_and_objects():
    ds = ShapesWorld(length=256, seed=1)
    loader = torch.utils.data.DataLoader(ds, batch_size=64)
    batch = next(iter(loader))
    assert batch["video"].shape == (64, 17, 3, 32, 32)
    captions = batch["caption"]
    assert any(c.startswith(("a ", "the ")) for c in captions)
    assert any("色" in c for c in captions)
    assert Counter(len(ds.scene(i).objects) for i in range(64)).keys() == {1, 2}


def test_render_batch_equals_single_renders():
    scenes = [sample_scene(s, num_objects=None) for s in range(6)]
    batch = render_batch(scenes)
    for scene, clip in zip(scenes, batch):
        assert torch.allclose(render(scene), clip, atol=1e-6)
    with pytest.raises(ValueError, match="one canvas"):
        render_batch([scenes[0], sample_scene(0, frames=9)])


# ---------------------------------------------------------------- evaluation set


def test_eval_set_round_trips_and_matches_the_shipped_file(tmp_path):
    data = world.build_eval_set(per_combination=1, two_object=4)
    path = tmp_path / "eval.json"
    path.write_text(json.dumps(data))
    loaded = world.load_eval_set(path)
    assert len(loaded) == 176 + 4
    assert {g for g, _ in loaded} == {"seen", "heldout", "two_object"}
    assert sum(g == "heldout" for g, _ in loaded) == len(HELD_OUT)
    scene = SceneSpec.from_dict(data["items"][0]["scene"])
    assert scene == loaded[0][1]


def test_shipped_eval_set_is_what_the_command_builds():
    from pathlib import Path

    shipped = Path(__file__).resolve().parents[1] / "data" / "eval_set.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == json.loads(json.dumps(world.build_eval_set()))


def test_english_article_and_canonical_pose_defaults():
    assert caption(ObjectSpec("square", "orange", "bounces")) == "an orange square bounces"
    assert ObjectSpec("triangle", "red", "stays still").angle == world.CANONICAL_ANGLE["triangle"]  # apex up
    assert ObjectSpec("triangle", "red", "stays still", angle=10).angle == 10.0
