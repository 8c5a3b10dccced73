"""Long videos through the pipeline (minivid.story): lengths, image-to-video, extension, planning, errors.

The shipped checkpoint draws 17-frame clips from text; these tests load it and give it a `given_level` (the
time of given frames), which is all the story machinery reads, and sample with 2 steps: they check what the
pipeline promises (lengths, kept frames, errors, determinism), not how well the model follows a story (that
is benchmarks/long_video.py).
"""
import numpy as np
import pytest
import torch

from minivid import story, world
from minivid.pipeline import LONG_PATH, TextToVideo
from minivid.seeds import window_seed
from minivid.text import PromptError, parse_story
from minivid.vae import psnr

STEPS = 2


@pytest.fixture(scope="module")
def pipe():
    return TextToVideo.from_pretrained(LONG_PATH, weak_path=False, device="cpu")  # trained with given frames


@pytest.fixture(scope="module")
def text_only():
    return TextToVideo.from_pretrained(weak_path=False, device="cpu")  # its sidecar has no given_level


def first_frame(shape="square", colour="red", motion="rotates clockwise", x=16.0, y=16.0, size=4.0):
    scene = world.SceneSpec((world.ObjectSpec(shape, colour, motion, size=size, x=x, y=y,
                                              speed=15.0 if motion.startswith("rotates") else 0.0),))
    return world.render(scene)[0]


@pytest.mark.parametrize("prompt, frames", [
    ("a red circle moves left, then the red circle moves up, then the red circle bounces", 49),
    ("紅色的圓形向左移動，然後紅色的圓形向上移動", 33),
    ("a red circle moves left; cut to a blue square rotates clockwise", 33),
    ("红色的三角形顺时针旋转；切换到蓝色的圆形弹跳", 33),
])
def test_a_story_prompt_gives_16n_plus_1_frames(pipe, prompt, frames):
    video = pipe(prompt, steps=STEPS, seed=0)
    assert video.shape == (1, frames, 3, 32, 32) and 0 <= video.min() and video.max() <= 1


def test_frames_repeats_a_single_prompt_where_it_fits_and_names_the_segment_where_not(pipe):
    assert pipe("a red square rotates clockwise", frames=33, steps=STEPS).shape == (1, 33, 3, 32, 32)
    with pytest.raises(PromptError, match=r"cannot go on for 49 frames: segment 2 of 3 .*leave the canvas"):
        pipe("a red circle moves left", frames=49, steps=STEPS)


def test_an_infeasible_story_prompt_is_refused_naming_the_segment(pipe):
    with pytest.raises(PromptError, match=r"segment 2 of 3 \(red circle moves left\) cannot fit"):
        pipe("a red circle moves left, then the red circle moves left, then the red circle moves left", steps=STEPS)
    with pytest.raises(PromptError, match="cut to"):  # other objects inside a shot
        pipe("a red circle moves left, then a blue square moves up", steps=STEPS)


@pytest.mark.parametrize("frames,why", [(34, r"an integer 16n \+ 1"), (33.0, "an integer"), (16, r"1 \+ a multiple of 4"),
                                        (True, "an integer")])
def test_frames_that_are_not_an_integer_16n_plus_1_are_a_clear_error(pipe, frames, why):
    with pytest.raises(ValueError, match=f"frames must be {why}"):
        pipe("a red square rotates clockwise", frames=frames, steps=STEPS)


def test_a_story_with_frames_is_a_clear_error(pipe):
    with pytest.raises(ValueError, match="leave frames out"):
        pipe("a red square rotates clockwise, then the red square stays still", frames=49, steps=STEPS)


@pytest.mark.parametrize("image, match", [
    (torch.rand(3, 16, 16), "16x16 pixels; this model draws 32x32"),
    ((torch.rand(3, 32, 32) * 255).to(torch.uint8), "float tensor.*torch.uint8"),
    (torch.rand(3, 32, 32) * 2, r"in \[0, 1\]"),
    (torch.full((3, 32, 32), float("nan")), r"finite and in \[0, 1\]"),
    (torch.rand(1, 32, 32), "3 colour channels"),
    (torch.rand(2, 1, 3, 32, 32), r"\(3, H, W\) or \(B, 3, H, W\)"),
    (torch.rand(3, 3, 32, 32), "3 frames for 2 prompts"),
    (np.zeros((3, 32, 32), np.float32), "float tensor.*ndarray"),
])
def test_bad_images_are_clear_value_errors(pipe, image, match):
    with pytest.raises(ValueError, match=match):
        pipe(["a red square rotates clockwise"] * 2, image=image, steps=STEPS)


def test_an_image_that_does_not_show_the_prompts_objects_is_a_clear_error(pipe):
    blue_circle = first_frame("circle", "blue", "stays still")
    with pytest.raises(PromptError, match="the image shows a blue circle, but the prompt's first segment asks for "
                                          "a red square"):
        pipe("a red square rotates clockwise", image=blue_circle, steps=STEPS)
    at_left_edge = first_frame("square", "red", "stays still", x=6.0)
    with pytest.raises(PromptError, match="from the image, segment 1 of 1 .*cannot fit"):
        pipe("a red square moves left", image=at_left_edge, steps=STEPS)


def test_image_to_video_keeps_the_given_frame(pipe):
    image = first_frame()
    video = pipe("a red square rotates clockwise", image=image, steps=STEPS, seed=3)[0]
    assert video.shape == (17, 3, 32, 32)
    round_trip = pipe.vae.decode_latents(pipe.vae.encode_clips(image[None, None]))[0, 0]
    assert psnr(video[:1], round_trip[None]) > 40  # the given latent is kept; decoded with the rest of the clip
    assert psnr(video[:1], image[None]) > 28  # as well as the VAE can keep it
    batch = pipe(["a red square rotates clockwise"] * 2, image=image[None], steps=STEPS, seed=3)
    assert batch.shape == (2, 17, 3, 32, 32) and torch.equal(batch[0], video)


def test_extend_adds_16_frames_and_keeps_the_old_ones_bit_for_bit(pipe):
    scene = world.sample_scene(0, num_objects=1, combination=("square", "red", "rotates clockwise"))
    clip = world.render(scene)
    longer = pipe.extend(clip, "the red square stays still", steps=8)  # its last frame is extended again
    assert longer.shape == (33, 3, 32, 32) and torch.equal(longer[:17], clip)
    batch = pipe.extend(torch.stack([clip, longer[16:]]), "a red square stays still", steps=STEPS)
    assert batch.shape == (2, 33, 3, 32, 32) and torch.equal(batch[0, :17], clip) and torch.equal(batch[1, :17],
                                                                                                   longer[16:])
    with pytest.raises(PromptError, match="extend once per segment"):
        pipe.extend(clip, "a red square rotates clockwise, then the red square stays still", steps=STEPS)
    with pytest.raises(PromptError, match="the image shows a red square"):
        pipe.extend(clip, "a blue circle bounces", steps=STEPS)


def test_a_checkpoint_without_given_frames_refuses_long_videos(text_only):
    assert text_only.given_level is None
    assert text_only("a red square rotates clockwise", steps=STEPS).shape == (1, 17, 3, 32, 32)
    calls = [lambda: text_only("a red square rotates clockwise, then the red square stays still", steps=STEPS),
             lambda: text_only("a red square rotates clockwise", frames=33, steps=STEPS),
             lambda: text_only("a red square rotates clockwise", image=first_frame(), steps=STEPS),
             lambda: text_only.extend(world.render(world.sample_scene(0)), "a red square stays still")]
    for call in calls:
        with pytest.raises(ValueError, match="not trained with given frames"):
            call()


class Stub:
    """Stands in for StoryTeller.window: returns the clips it was given, one per call, and records the seeds."""

    def __init__(self, clips):
        self.clips, self.seeds = list(clips), []

    def __call__(self, prompt, seed, first=None):
        assert first is None  # a shot's first window is drawn from text
        self.seeds.append(seed)
        return self.clips[min(len(self.seeds), len(self.clips)) - 1]


def test_first_window_redraws_until_the_first_frame_leaves_room_for_the_shot(pipe, monkeypatch):
    plan = parse_story("a red square moves left, then the red square moves up")
    good = world.render(world.sample_story(0, plan).segments[0])
    no_room = first_frame("square", "red", "stays still", x=6.0)[None].expand(17, -1, -1, -1)  # left edge
    wrong = first_frame("circle", "blue", "stays still")[None].expand(17, -1, -1, -1)
    teller = story.StoryTeller(pipe, steps=STEPS)
    stub = Stub([no_room, wrong, good])
    monkeypatch.setattr(teller, "window", stub)
    assert teller.first_window(plan, "a red square moves left", seed=5, index=0, k=0) is good
    assert stub.seeds == [window_seed(5, 0, 0, a) for a in range(3)]
    stub = Stub([no_room])  # nothing leaves room: the first draw, after PLAN_ATTEMPTS tries
    monkeypatch.setattr(teller, "window", stub)
    assert teller.first_window(plan, "a red square moves left", seed=5, index=0, k=0) is no_room
    assert len(stub.seeds) == story.PLAN_ATTEMPTS


def test_same_seed_same_story(pipe):
    prompt = "a red square rotates clockwise, then the red square moves down; cut to a blue circle bounces"
    a, b = (pipe(prompt, steps=STEPS, seed=1) for _ in range(2))
    assert a.shape == (1, 49, 3, 32, 32) and torch.equal(a, b)
    assert not torch.equal(a, pipe(prompt, steps=STEPS, seed=2))


def test_at_a_cut_the_boundary_frame_is_the_new_shots_first_frame(pipe, monkeypatch):
    red = world.render(world.sample_story(0, parse_story("a red circle moves left")).segments[0])
    blue = world.render(world.sample_story(0, parse_story("a blue square rotates clockwise")).segments[0])
    teller = story.StoryTeller(pipe, steps=STEPS)
    monkeypatch.setattr(teller, "window", lambda prompt, seed, first=None: red if "red" in prompt else blue)
    video = teller.tell("a red circle moves left; cut to a blue square rotates clockwise")
    assert video.shape == (33, 3, 32, 32)
    assert torch.equal(video[:16], red[:16]) and torch.equal(video[16:], blue)  # frame 16 shows the cut
