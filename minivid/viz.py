"""viz: look at clips inline, as frame strips, and as GIF / MP4 files.

Shapes (einops legend, used in every docstring below):

    b  batch (clips side by side)        t  time (frames)
    c  channels (3, RGB)                 h  height in pixels
    w  width in pixels

A clip is a float tensor ``t c h w`` with values in [0, 1]; a batch is
``b t c h w``. Frames are tiny (32 x 32), so everything shown or saved is
first upscaled by an integer ``scale`` with nearest-neighbour (each pixel
becomes a ``scale x scale`` block): no blurring, colours stay exact.

Public API:

- ``to_uint8_frames(clip)``        ``t c h w`` float in [0, 1] -> numpy uint8 ``t h w 3``
- ``show_video(clip_or_batch)``    animated GIF(s) inline in a notebook (pure HTML)
- ``video_html(clip_or_batch)``    the same HTML as a string
- ``save_video(clip, path)``       ``.gif`` (Pillow, always works) or ``.mp4`` (needs ffmpeg)
- ``frame_strip(clip_or_batch)``   static matplotlib Figure, one row per clip
- ``save_frame_strip(clip_or_batch, path)``

Nothing here calls ``plt.show`` or needs a GUI backend: figures are built with
``matplotlib.figure.Figure`` and notebooks display them because they are the
value of the cell.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from einops import rearrange, repeat
from PIL import Image

from .checkpoint import atomic_write_bytes, atomic_write_with

__all__ = [
    "to_uint8_frames",
    "show_video",
    "video_html",
    "save_video",
    "frame_strip",
    "save_frame_strip",
]

ClipLike = Union[torch.Tensor, np.ndarray]

# Values may overshoot [0, 1] by this much (a sampler's rounding error) and
# are clipped; anything further out is an error, not something to hide.
RANGE_TOL = 1e-2

# Default upscaling aims for the longest side to be at least this many pixels
# (a 32 x 32 clip is shown at 128 x 128; the result is always below 192 for
# frames up to 64 px).
TARGET_DISPLAY_PX = 128

# GIF frame delays are stored in hundredths of a second and browsers slow
# delays under 20 ms down to 100 ms, so 50 fps is the fastest a GIF plays.
MAX_GIF_FPS = 50
# Accepted frame rates: a GIF stores each frame's delay in 16 bits of hundredths of a second (at most 655 s);
# 0.1 fps (10 s a frame) is the slowest that means anything for a clip, 1000 the fastest an mp4 encoder takes.
MIN_FPS, MAX_FPS = 0.1, 1000.0

VIDEO_SUFFIXES = (".gif", ".mp4")


# --------------------------------------------------------------------------
# tensors -> uint8 frames
# --------------------------------------------------------------------------


def to_uint8_frames(clip: ClipLike, *, tol: float = RANGE_TOL) -> np.ndarray:
    """Convert one clip ``t c h w`` (torch or numpy) to numpy uint8 ``t h w 3``.

    Float input must lie in [0, 1] (up to ``tol``, then it is clipped); uint8
    input (0..255, e.g. read from disk) is passed through unchanged. Raises
    ``ValueError`` saying what was received otherwise.
    """
    if isinstance(clip, torch.Tensor):
        clip = clip.detach().cpu()
        if clip.is_floating_point():
            clip = clip.float()  # numpy has no bfloat16
        clip = clip.numpy()
    arr = np.asarray(clip)

    if arr.ndim != 4:
        hint = ""
        if arr.ndim == 5:
            hint = (
                " This looks like a batch (b t c h w): pass one clip, e.g. x[0], "
                "or use show_video / frame_strip, which accept batches."
            )
        elif arr.ndim == 3:
            hint = " A single image? Add a time axis: img[None] is a 1-frame clip."
        raise ValueError(
            f"expected one clip of shape (T, 3, H, W), got a {arr.ndim}-D array "
            f"of shape {tuple(arr.shape)}.{hint}"
        )
    if arr.shape[1] != 3:
        hint = ""
        if arr.shape[-1] == 3:
            hint = (
                " It looks channels-last (t h w c); convert with "
                "einops.rearrange(x, 't h w c -> t c h w')."
            )
        raise ValueError(
            f"expected 3 colour channels in dim 1 of (T, 3, H, W), got shape "
            f"{tuple(arr.shape)} ({arr.shape[1]} channels).{hint}"
        )
    if min(arr.shape) == 0:
        raise ValueError(f"clip is empty: shape {tuple(arr.shape)}")

    if arr.dtype == np.uint8:
        frames = arr
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("clip contains NaN or inf values")
        lo, hi = float(arr.min()), float(arr.max())
        if lo < -tol or hi > 1 + tol:
            hint = ""
            if lo >= -1 - tol and hi <= 1 + tol:
                hint = " It looks like [-1, 1] model space: map it with (x + 1) / 2."
            elif hi <= 255 + tol and lo >= -tol:
                hint = " It looks like 0..255: divide by 255 or pass uint8."
            raise ValueError(
                f"expected values in [0, 1], got values in [{lo:.4g}, {hi:.4g}]."
                f"{hint}"
            )
        frames = np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise ValueError(
            f"expected a float clip in [0, 1] (or uint8 0..255), got dtype {arr.dtype}"
        )
    return np.ascontiguousarray(rearrange(frames, "t c h w -> t h w c"))


def _as_clips(clip_or_batch) -> tuple[list[np.ndarray], bool]:
    """One clip, a batch ``b t c h w`` or a list of clips -> (uint8 clips, is_batch)."""
    if isinstance(clip_or_batch, (list, tuple)):
        if len(clip_or_batch) == 0:
            raise ValueError("got an empty list of clips")
        return [to_uint8_frames(c) for c in clip_or_batch], True
    ndim = getattr(clip_or_batch, "ndim", None)
    if ndim is None:
        clip_or_batch = np.asarray(clip_or_batch)
        ndim = clip_or_batch.ndim
    if ndim == 5:
        if len(clip_or_batch) == 0:
            raise ValueError("got an empty batch of clips")
        return [to_uint8_frames(c) for c in clip_or_batch], True
    if ndim == 4:
        return [to_uint8_frames(clip_or_batch)], False
    raise ValueError(
        f"expected a clip (T, 3, H, W), a batch (B, T, 3, H, W) or a list of "
        f"clips, got a {ndim}-D input of shape {tuple(clip_or_batch.shape)}"
    )


def _as_captions(captions, n: int, is_batch: bool) -> list[str | None]:
    if captions is None:
        return [None] * n
    if isinstance(captions, str):
        if is_batch and n != 1:
            raise ValueError(
                f"got one caption string for a batch of {n} clips: pass a list of {n}"
            )
        return [captions]
    captions = list(captions)
    if len(captions) != n:
        raise ValueError(f"got {len(captions)} captions for {n} clip(s)")
    return [None if c is None else str(c) for c in captions]


def _default_scale(h: int, w: int) -> int:
    return max(1, math.ceil(TARGET_DISPLAY_PX / max(h, w)))


def _check_scale(scale, h: int, w: int) -> int:
    if scale is None:
        return _default_scale(h, w)
    if int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)


def _upscale(frames: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling: ``t h w c -> t (h s) (w s) c``."""
    if scale == 1:
        return frames
    return repeat(frames, "t h w c -> t (h s1) (w s2) c", s1=scale, s2=scale)


# --------------------------------------------------------------------------
# GIF encoding
# --------------------------------------------------------------------------


def _palette_frames(frames: np.ndarray) -> list[Image.Image]:
    """uint8 ``t h w 3`` -> "P" images sharing one palette.

    ShapesWorld clips have few colours: when the whole clip has at most 256,
    the palette holds them exactly. Otherwise (a model's output) the clip is
    quantised once, all frames together, so the palette does not flicker.
    """
    t, h, w, _ = frames.shape
    key = (
        (frames[..., 0].astype(np.int32) << 16)
        | (frames[..., 1].astype(np.int32) << 8)
        | frames[..., 2].astype(np.int32)
    )
    colours, inverse = np.unique(key, return_inverse=True)
    if len(colours) <= 256:
        indices = inverse.reshape(t, h, w).astype(np.uint8)
        rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], 1)
        palette = rgb.astype(np.uint8).ravel().tolist()
    else:
        mediancut = getattr(getattr(Image, "Quantize", None), "MEDIANCUT", 0)
        no_dither = getattr(getattr(Image, "Dither", None), "NONE", 0)
        montage = Image.fromarray(np.ascontiguousarray(frames.reshape(t * h, w, 3)))
        quantised = montage.quantize(colors=256, method=mediancut, dither=no_dither)
        palette = quantised.getpalette()
        indices = np.asarray(quantised, dtype=np.uint8).reshape(t, h, w)
    images = []
    for idx in indices:
        im = Image.frombytes("P", (w, h), np.ascontiguousarray(idx).tobytes())
        im.putpalette(palette)
        images.append(im)
    return images


def check_fps(fps) -> float:
    """`fps` as a float in [MIN_FPS, MAX_FPS], else a ValueError saying the range."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating)):
        raise ValueError(f"fps must be a number in [{MIN_FPS:g}, {MAX_FPS:g}], got {fps!r}")
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ValueError(f"fps must be a finite number in [{MIN_FPS:g}, {MAX_FPS:g}], got {fps!r}")
    return float(fps)


def _gif_bytes(frames: np.ndarray, fps: float, loop: bool) -> bytes:
    """Encode uint8 ``t h w 3`` (already upscaled) as an animated GIF."""
    fps = check_fps(fps)
    if fps > MAX_GIF_FPS:
        warnings.warn(
            f"GIFs cannot play faster than {MAX_GIF_FPS} fps; using {MAX_GIF_FPS}",
            stacklevel=3,
        )
        fps = MAX_GIF_FPS
    images = _palette_frames(frames)
    kwargs = dict(format="GIF", duration=round(1000 / fps), optimize=False)
    if len(images) > 1:
        kwargs.update(save_all=True, append_images=images[1:])
        if loop:
            kwargs["loop"] = 0  # 0 = forever; leaving it out plays once
    buf = io.BytesIO()
    images[0].save(buf, **kwargs)
    return buf.getvalue()


# --------------------------------------------------------------------------
# inline HTML
# --------------------------------------------------------------------------

_IMG_STYLE = "image-rendering: crisp-edges; image-rendering: pixelated;"


def video_html(
    clip_or_batch,
    captions: str | Sequence[str] | None = None,
    fps: float = 8,
    scale: int | None = None,
    loop: bool = True,
) -> str:
    """The HTML that :func:`show_video` displays, as a string."""
    clips, is_batch = _as_clips(clip_or_batch)
    caps = _as_captions(captions, len(clips), is_batch)
    cells = []
    for frames, cap in zip(clips, caps):
        _, h, w, _ = frames.shape
        s = _check_scale(scale, h, w)
        # Embedded at its own resolution and enlarged by the browser (width/height + pixelated
        # rendering): the same picture as an upscaled GIF at 1/s^2 of the bytes, so notebooks stay small.
        gif = _gif_bytes(frames, fps, loop)
        src = "data:image/gif;base64," + base64.b64encode(gif).decode("ascii")
        alt = html.escape(cap, quote=True) if cap else f"clip, {len(frames)} frames"
        img = (
            f'<img src="{src}" width="{w * s}" height="{h * s}" alt="{alt}" '
            f'title="{alt}" style="{_IMG_STYLE} display: block;">'
        )
        figcaption = ""
        if cap:
            figcaption = (
                '<figcaption style="font-size: 12px; line-height: 1.3; '
                f'margin-top: 4px; overflow-wrap: anywhere;">{html.escape(cap)}'
                "</figcaption>"
            )
        cells.append(
            '<figure style="margin: 0; display: inline-block; vertical-align: top; '
            f'width: {max(w * s, TARGET_DISPLAY_PX)}px;">{img}{figcaption}</figure>'
        )
    return (
        '<div class="minivid-video" style="display: flex; flex-wrap: wrap; '
        'gap: 12px; align-items: flex-start;">' + "".join(cells) + "</div>"
    )


def show_video(
    clip_or_batch,
    captions: str | Sequence[str] | None = None,
    fps: float = 8,
    scale: int | None = None,
    loop: bool = True,
):
    """Show a clip ``t c h w`` or a batch ``b t c h w`` as inline animated GIFs.

    Returns an ``IPython.display.HTML`` object: it appears when it is the last
    value of a cell (or pass it to ``IPython.display.display``). The GIFs are
    embedded as base64 data, so the output needs no ffmpeg and survives in
    JupyterLab, Colab and committed notebooks. A batch (or a list of clips) is
    shown as a grid with each caption beneath its clip; captions are
    HTML-escaped and may be any language. ``scale`` is the integer upscaling
    factor (default: 4 for 32 x 32 frames).

    Pillow merges consecutive identical frames into one longer frame, so a
    clip that stands still plays correctly but is stored as fewer GIF frames.
    """
    from IPython.display import HTML  # ipython comes with ipywidgets

    return HTML(video_html(clip_or_batch, captions, fps=fps, scale=scale, loop=loop))


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


def _find_ffmpeg() -> str | None:
    """Path of an ffmpeg binary: matplotlib's setting / PATH, else imageio-ffmpeg's."""
    import matplotlib

    exe = shutil.which(matplotlib.rcParams["animation.ffmpeg_path"])
    if exe:
        return exe
    try:
        import imageio_ffmpeg  # optional: pip install imageio-ffmpeg ships a binary
    except ImportError:
        return None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:
        return None


def _write_mp4(frames: np.ndarray, path: Path, fps: float) -> None:
    import matplotlib
    from matplotlib.animation import FFMpegWriter
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    exe = _find_ffmpeg()
    if exe is None:
        raise RuntimeError(
            f"cannot write {path.name}: .mp4 needs ffmpeg, which was not found. "
            "Install it (conda install -c conda-forge ffmpeg, apt install ffmpeg, "
            "brew install ffmpeg, or pip install imageio-ffmpeg), or save as .gif, "
            "which always works."
        )
    # H.264 in yuv420p needs even sizes: repeat the last row / column if odd.
    _, h, w, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    _, h, w, _ = frames.shape
    dpi = 64  # a power of two, so w / dpi * dpi == w exactly
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    image = ax.imshow(frames[0], interpolation="nearest")
    with matplotlib.rc_context({"animation.ffmpeg_path": exe}):
        writer = FFMpegWriter(fps=fps, codec="h264")
        with writer.saving(fig, str(path), dpi=dpi):
            for frame in frames:
                image.set_data(frame)
                writer.grab_frame()


def check_video_path(path: str | os.PathLike) -> Path:
    """`path` as a Path if a video can be saved there (a known suffix, not a directory), else a ValueError or
    IsADirectoryError saying why: callers check before spending compute on the clip."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise ValueError(
            f"unsupported video file type {path.suffix or '(none)'!r} for {path}: "
            f"use one of {', '.join(VIDEO_SUFFIXES)}"
        )
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")
    return path


def save_video(
    clip: ClipLike,
    path: str | os.PathLike,
    fps: float = 8,
    scale: int | None = None,
    loop: bool = True,
) -> Path:
    """Save one clip ``t c h w`` as ``.gif`` (Pillow) or ``.mp4`` (needs ffmpeg).

    Frames are upscaled by ``scale`` with nearest-neighbour first (default: 4
    for 32 x 32 frames; pass ``scale=1`` for the raw pixels). Parent folders are
    created. The file is written atomically (a temporary file renamed over
    ``path``); a symlink at ``path`` is replaced, never followed onto its target.
    ``fps`` must be in [MIN_FPS, MAX_FPS]. Returns the path. ``.mp4`` raises ``RuntimeError`` when no ffmpeg
    is found (on PATH, via matplotlib's ``animation.ffmpeg_path``, or from the
    ``imageio-ffmpeg`` package); any other suffix raises ``ValueError``.
    """
    path = check_video_path(path)
    suffix = path.suffix.lower()
    fps = check_fps(fps)
    frames = to_uint8_frames(clip)
    _, h, w, _ = frames.shape
    frames = _upscale(frames, _check_scale(scale, h, w))
    try:
        if suffix == ".gif":
            atomic_write_bytes(path, _gif_bytes(frames, fps, loop))
        else:
            atomic_write_with(path, lambda tmp: _write_mp4(frames, tmp, fps), suffix=".mp4")
    except OSError as e:  # say which file, not which temporary file
        raise type(e)(e.errno, f"cannot write {path}: {e.strerror}") if e.strerror else e from None
    return path


# --------------------------------------------------------------------------
# frame strips (static matplotlib figures)
# --------------------------------------------------------------------------

_CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
    "PingFang SC", "Heiti SC", "STHeiti", "Hiragino Sans GB", "Noto Sans CJK JP",
    "Droid Sans Fallback", "Arial Unicode MS",
)


@functools.lru_cache(maxsize=None)
def _cjk_font() -> str | None:
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next((name for name in _CJK_FONTS if name in installed), None)


_warned_no_cjk = False


def _text_kwargs(text: str | None) -> dict:
    """Font settings for a caption; picks a CJK font for Chinese text if one exists."""
    global _warned_no_cjk
    if not text or all(ord(ch) < 0x2E80 for ch in text):
        return {}
    font = _cjk_font()
    if font is not None:
        import matplotlib

        return {"fontfamily": [font, *matplotlib.rcParams["font.sans-serif"]]}
    if not _warned_no_cjk:
        _warned_no_cjk = True
        warnings.warn(
            "no CJK font found, so Chinese captions in frame strips will show as "
            "boxes; install one (e.g. apt install fonts-noto-cjk) and restart. "
            "show_video's HTML captions are not affected.",
            stacklevel=3,
        )
    return {}


def _frame_indices(n_frames: int, every: int) -> list[int]:
    if int(every) != every or every < 1:
        raise ValueError(f"every must be a positive integer, got {every!r}")
    return list(range(0, n_frames, int(every)))


def frame_strip(
    clip_or_batch,
    captions: str | Sequence[str] | None = None,
    every: int = 1,
    ax=None,
):
    """Static picture of a clip ``t c h w`` or batch ``b t c h w``: frames left to right.

    Without ``ax``: returns a new ``matplotlib.figure.Figure`` with one row per
    clip, one small axes per shown frame (every ``every``-th frame, labelled
    ``t=i``), and the caption as the row title. With ``ax``: draws the same
    grid as one image into that axes (frame indices as x ticks, captions as the
    title for one clip or as row labels for a batch) and returns its figure.
    Nothing is shown: a Figure that ends a notebook cell displays itself.
    """
    from matplotlib.figure import Figure

    clips, is_batch = _as_clips(clip_or_batch)
    caps = _as_captions(captions, len(clips), is_batch)
    shown = [_frame_indices(len(frames), every) for frames in clips]

    if ax is not None:
        return _strip_into_axes(ax, clips, caps, shown)

    n_rows, n_cols = len(clips), max(len(s) for s in shown)
    cell = 0.9  # inches per frame
    fig = Figure(
        figsize=(max(n_cols * cell, 3.0), n_rows * (cell + 0.55)),
        layout="constrained",
    )
    rows = fig.subfigures(n_rows, 1, squeeze=False)[:, 0]
    for row, frames, cap, idx in zip(rows, clips, caps, shown):
        axes = row.subplots(1, n_cols, squeeze=False)[0]
        for a, i in zip(axes, idx):
            a.imshow(frames[i], interpolation="nearest")
            a.set_xticks([])
            a.set_yticks([])
            a.set_xlabel(f"t={i}", fontsize=8, labelpad=2)
        for a in axes[len(idx):]:
            a.remove()  # a shorter clip in a list of clips
        if cap:
            row.suptitle(cap, fontsize=10, **_text_kwargs(cap))
    return fig


def _strip_into_axes(ax, clips, caps, shown):
    sizes = {frames.shape[1:3] for frames in clips}
    if len(sizes) != 1:
        raise ValueError(
            f"frame_strip(ax=...) needs clips of one frame size, got {sorted(sizes)}"
        )
    (h, w), gap = sizes.pop(), 1
    n_rows, n_cols = len(clips), max(len(s) for s in shown)
    grid = np.full(
        (n_rows * (h + gap) - gap, n_cols * (w + gap) - gap, 3), 255, dtype=np.uint8
    )
    for r, (frames, idx) in enumerate(zip(clips, shown)):
        for c, i in enumerate(idx):
            y, x = r * (h + gap), c * (w + gap)
            grid[y : y + h, x : x + w] = frames[i]
    ax.imshow(grid, interpolation="nearest")
    longest = max(shown, key=len)
    ax.set_xticks([c * (w + gap) + (w - 1) / 2 for c in range(n_cols)])
    ax.set_xticklabels([f"t={i}" for i in longest], fontsize=8)
    ax.set_yticks([r * (h + gap) + (h - 1) / 2 for r in range(n_rows)])
    if len(clips) == 1:
        ax.set_yticks([])
        if caps[0]:
            ax.set_title(caps[0], fontsize=10, **_text_kwargs(caps[0]))
    else:
        labels = [cap if cap else str(r) for r, cap in enumerate(caps)]
        ax.set_yticklabels(labels, fontsize=8, **_text_kwargs("".join(labels)))
    return ax.figure


def save_frame_strip(
    clip_or_batch,
    path: str | os.PathLike,
    captions: str | Sequence[str] | None = None,
    every: int = 1,
    dpi: int = 100,
) -> Path:
    """Draw :func:`frame_strip` and save it (``.png``, ``.pdf``, ``.svg``, ...)."""
    path = Path(path)
    fig = frame_strip(clip_or_batch, captions=captions, every=every)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # Already reported once by _text_kwargs; don't repeat it per glyph.
        warnings.filterwarnings("ignore", message="Glyph .* missing from")
        fig.savefig(path, dpi=dpi)
    return path
