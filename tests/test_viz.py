"""Tests for minivid.viz: GIF round trips, inline HTML, frame strips, readable errors."""

import base64
import re
import warnings

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from PIL import Image, ImageSequence

from minivid import viz

RED = (230, 40, 40)
BLUE = (40, 80, 240)


def moving_square(t=6, h=32, w=32, colour=RED):
    """A (t, 3, h, w) clip in [0, 1]: a 4x4 square moving right 1 px per frame."""
    clip = torch.zeros(t, 3, h, w)
    rgb = torch.tensor(colour, dtype=torch.float32)[:, None, None] / 255
    for i in range(t):
        clip[i, :, 10:14, 2 + i : 6 + i] = rgb
    return clip


def gif_frames(path):
    """All frames of a GIF as uint8 (t, h, w, 3), and their durations in ms."""
    with Image.open(path) as im:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
        durations = []
        for i in range(im.n_frames):
            im.seek(i)
            durations.append(im.info.get("duration", 0))
    return np.stack(frames), durations


# ---------------------------------------------------------------- to_uint8_frames


def test_to_uint8_frames_torch_and_numpy_agree():
    clip = moving_square()
    out = viz.to_uint8_frames(clip)
    assert out.dtype == np.uint8 and out.shape == (6, 32, 32, 3)
    assert tuple(out[3, 11, 2 + 3]) == RED
    assert tuple(out[3, 0, 0]) == (0, 0, 0)
    np.testing.assert_array_equal(viz.to_uint8_frames(clip.numpy()), out)
    np.testing.assert_array_equal(viz.to_uint8_frames(out.transpose(0, 3, 1, 2)), out)


def test_to_uint8_frames_clips_small_overshoot():
    clip = torch.full((2, 3, 16, 16), 1.004)
    assert viz.to_uint8_frames(clip).min() == 255


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(2, 4, 3, 16, 16), r"5-D .*\(2, 4, 3, 16, 16\).*batch"),
        (torch.zeros(3, 16, 16), r"3-D .*\(3, 16, 16\).*img\[None\]"),
        (torch.zeros(4, 16, 16, 3), r"3 colour channels.*\(4, 16, 16, 3\).*channels-last"),
        (torch.zeros(4, 1, 16, 16), r"3 colour channels.*1 channels"),
        (torch.full((2, 3, 8, 8), -1.0), r"\[0, 1\].*\[-1, -1\].*\(x \+ 1\) / 2"),
        (torch.full((2, 3, 8, 8), 1.5), r"\[0, 1\].*\[1\.5, 1\.5\]"),
        (torch.full((2, 3, 8, 8), float("nan")), r"NaN"),
        (torch.zeros(2, 3, 8, 8, dtype=torch.int64), r"dtype int64"),
    ],
)
def test_to_uint8_frames_errors_say_what_was_received(bad, message):
    with pytest.raises(ValueError, match=message):
        viz.to_uint8_frames(bad)


@pytest.mark.parametrize("side, scale", [(32, 4), (48, 3), (17, 8), (64, 2), (256, 1)])
def test_default_scale_shows_about_128_to_192_px(side, scale):
    assert viz._default_scale(side, side) == scale
    if side <= 64:
        assert 128 <= side * scale < 192


# ---------------------------------------------------------------- files


def test_gif_round_trip(tmp_path):
    clip = moving_square(t=6)
    path = viz.save_video(clip, tmp_path / "new" / "dir" / "clip.gif", fps=10)
    assert path.exists()
    frames, durations = gif_frames(path)
    assert frames.shape == (6, 32 * 4, 32 * 4, 3)  # default scale 4, every frame kept
    assert durations == [100] * 6
    # frame 3: the square covers pixel rows 10..13, columns 5..8 -> upscaled x4
    assert tuple(frames[3, 11 * 4 + 1, 6 * 4 + 2]) == RED
    assert tuple(frames[3, 0, 0]) == (0, 0, 0)
    np.testing.assert_array_equal(frames[:, ::4, ::4], viz.to_uint8_frames(clip))
    with Image.open(path) as im:
        assert im.info.get("loop") == 0  # loops forever


def test_gif_scale_and_no_loop(tmp_path):
    clip = moving_square(t=3, h=16, w=24, colour=BLUE)
    path = viz.save_video(clip, tmp_path / "small.GIF", scale=1, loop=False)
    frames, _ = gif_frames(path)
    assert frames.shape == (3, 16, 24, 3)
    assert tuple(frames[0, 11, 3]) == BLUE
    with Image.open(path) as im:
        assert "loop" not in im.info  # plays once


def test_gif_with_many_colours_keeps_frames(tmp_path):
    ramp = torch.linspace(0, 1, 32 * 32).reshape(1, 1, 32, 32)
    clip = torch.cat([ramp, ramp.flip(-1), ramp.flip(-2)], 1).repeat(4, 1, 1, 1)
    clip = clip * torch.linspace(0.5, 1, 4).view(4, 1, 1, 1)  # > 256 colours in all
    frames, _ = gif_frames(viz.save_video(clip, tmp_path / "ramp.gif", scale=1))
    assert frames.shape == (4, 32, 32, 3)
    error = np.abs(frames.astype(int) - viz.to_uint8_frames(clip).astype(int))
    assert error.mean() < 4


def test_still_clip_keeps_its_total_duration(tmp_path):
    # Pillow may merge identical consecutive frames; playback time must not change.
    clip = moving_square(t=1).repeat(5, 1, 1, 1)
    _, durations = gif_frames(viz.save_video(clip, tmp_path / "still.gif", fps=10))
    assert sum(durations) == 500


def test_save_video_rejects_unknown_suffix_and_batches(tmp_path):
    with pytest.raises(ValueError, match=r"'\.avi'.*\.gif, \.mp4"):
        viz.save_video(moving_square(), tmp_path / "clip.avi")
    with pytest.raises(ValueError, match="batch"):
        viz.save_video(moving_square()[None], tmp_path / "clip.gif")


def test_mp4_without_ffmpeg_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(viz, "_find_ffmpeg", lambda: None)
    with pytest.raises(RuntimeError, match=r"ffmpeg.*\.gif"):
        viz.save_video(moving_square(), tmp_path / "clip.mp4")
    assert not (tmp_path / "clip.mp4").exists()


@pytest.mark.skipif(viz._find_ffmpeg() is None, reason="ffmpeg not installed")
def test_mp4_with_ffmpeg(tmp_path):
    path = viz.save_video(moving_square(t=4, h=17, w=17), tmp_path / "clip.mp4", scale=3)
    assert b"ftyp" in path.read_bytes()[:16]


# ---------------------------------------------------------------- inline HTML


def test_html_grid_has_one_img_per_clip_and_escaped_captions():
    batch = torch.stack([moving_square(t=3)] * 3)
    captions = ["a <b>red</b> square & more", "一个红色的正方形向右移动", 'say "hi"']
    page = viz.video_html(batch, captions=captions)
    assert page.count("<img") == 3
    assert page.count("<figcaption") == 3
    assert "&lt;b&gt;red&lt;/b&gt; square &amp; more" in page
    assert "<b>red</b>" not in page
    assert "一个红色的正方形向右移动" in page
    assert "&quot;hi&quot;" in page  # also safe inside the alt="..." attribute
    assert "image-rendering: pixelated" in page
    assert page.count('width="128" height="128"') == 3
    data = re.search(r'src="data:image/gif;base64,([^"]+)"', page).group(1)
    gif = base64.b64decode(data)
    assert gif[:6] == b"GIF89a"
    # embedded at the clip's own 32 x 32 (the browser enlarges it, pixelated): a small notebook
    assert int.from_bytes(gif[6:8], "little") == 32 and int.from_bytes(gif[8:10], "little") == 32


def test_html_single_clip_and_list_of_clips():
    page = viz.video_html(moving_square(t=2))
    assert page.count("<img") == 1 and "<figcaption" not in page
    clips = [moving_square(t=2), moving_square(t=4, h=16, w=48)]
    page = viz.video_html(clips, captions=["a", "b"], scale=2)
    assert page.count("<img") == 2 and 'width="96" height="32"' in page


def test_html_caption_count_must_match():
    with pytest.raises(ValueError, match="1 captions for 2 clip"):
        viz.video_html(torch.stack([moving_square(t=2)] * 2), captions=["only one"])


def test_show_video_returns_ipython_html():
    display = pytest.importorskip("IPython.display")
    shown = viz.show_video(moving_square(t=2), captions="x", fps=4)
    assert isinstance(shown, display.HTML)
    assert shown.data.count("<img") == 1


# ---------------------------------------------------------------- frame strips


def test_frame_strip_one_axes_per_shown_frame():
    batch = torch.stack([moving_square(t=5)] * 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no CJK font on this machine is fine
        fig = viz.frame_strip(batch, captions=["red square", "红色正方形"], every=2)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 3  # frames 0, 2, 4 of each clip
    assert [ax.get_xlabel() for ax in fig.axes[:3]] == ["t=0", "t=2", "t=4"]
    titles = [text.get_text() for sub in fig.subfigs for text in sub.texts]
    assert titles == ["red square", "红色正方形"]


def test_frame_strip_into_given_axes():
    fig = Figure()
    ax = fig.add_subplot()
    out = viz.frame_strip(moving_square(t=4), captions="red square", ax=ax)
    assert out is fig and len(fig.axes) == 1
    assert ax.get_title() == "red square"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["t=0", "t=1", "t=2", "t=3"]


def test_save_frame_strip_writes_png(tmp_path):
    path = viz.save_frame_strip(moving_square(t=3), tmp_path / "figs" / "strip.png", dpi=50)
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > im.height


def test_frame_strip_rejects_bad_every():
    with pytest.raises(ValueError, match="every"):
        viz.frame_strip(moving_square(t=3), every=0)


def test_save_video_replaces_a_symlink_never_its_target(tmp_path):
    """Issue 42 item 8: GIF output used to follow a symlink and overwrite the file it points to."""
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    link = tmp_path / "clip.gif"
    link.symlink_to(target)
    viz.save_video(torch.rand(3, 3, 8, 8), link, scale=1)
    assert target.read_text() == "keep me" and not link.is_symlink() and link.read_bytes()[:3] == b"GIF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.gif", "notes.txt"]  # no temporary file left


@pytest.mark.parametrize("fps", [0, -1, 0.001, float("nan"), float("inf"), 1e6, "8", True])
def test_save_video_refuses_frame_rates_outside_the_range(tmp_path, fps):
    with pytest.raises(ValueError, match="fps must be"):
        viz.save_video(torch.rand(3, 3, 8, 8), tmp_path / "x.gif", fps=fps)
    assert not (tmp_path / "x.gif").exists()
