"""Read a video alone and say what it shows: the evaluator of ShapesWorld.

A text-to-video model is only as good as our way of checking it. Because every
ShapesWorld clip is drawn from a handful of known parameters, we can check a
generated clip *exactly*: find each object, name its colour, shape and motion,
check that it stays the same object from frame to frame, and compare with the
prompt. The probe here sees only pixels (no spec, no latent), so it works the
same on rendered clips, on VAE reconstructions and on samples from the model,
which may be blurry, noisy or simply wrong; it never crashes on garbage, it
says "unknown" instead of guessing.

Tensor layouts (einops notation):

    b t c h w    a batch of videos: clips, frames, RGB, height, width (float in [0, 1])
    t c h w      one clip
    n h w        per-frame maps of one colour (n = objects x frames), after the colour step
    n s s        a square window of side s = 2 * WINDOW_RADIUS + 1 around one object

How it reads a clip, step by step:

1. Background = the per-channel median of the clip (objects cover far less than
   half of the canvas); every pixel becomes a difference p - background.
2. Colour, per pixel: the renderer draws colour c with coverage a over the
   background, p = background + a (c - background), so p - background points
   along c - background whatever the coverage. A pixel takes the palette
   direction it is closest to in angle (exactly on one: a clean render), else the
   one its 3 x 3 neighbourhood is closest to (colour noise averages out), and
   its coverage alpha = <p - bg, c - bg> / |c - bg|^2. Anti-aliased edges keep
   their colour; blends of two colours and noise match no colour and are dropped.
3. Objects = colours. Two objects never share a colour, so a colour that covers
   at least MIN_CORE_PIXELS pixels (alpha >= 0.5) in at least two frames is an
   object track; frames where it is missing are recorded, not ignored.
4. Per object and frame: a window around the densest blob of that colour gives
   the area (sum of alpha) and the centroid (the centre of a circle, a square
   and an equilateral triangle alike). Shape: draw each candidate shape with
   the renderer's own rule (world.signed_distance, coverage clamp(0.5 - d)) at
   the centroid, with the size that gives the observed area, also with a softer
   edge (for blurred clips), over a coarse-to-fine search of angles, and keep the
   best soft IoU (sum min / sum max). The winning angle is the orientation.
5. Per object over the clip: shape = majority vote of the frames; motion from
   the centroid track (net velocity; a fall then a rise is a bounce) and the
   orientation track (spin, unwrapped modulo the shape's symmetry period);
   temporal consistency = present in every frame, one colour, stable area,
   stable shape, one blob.

What a clip cannot show: with one frame, no motion ("unknown"); with two frames a
bounce is indistinguishable from `moves down` (from three frames on, a fall that
speeds up from rest is read as a bounce even before the first impact). An object
cut by the canvas edge in every frame (a 16 px canvas too small for its journey,
seen for a few frames) cannot be measured reliably. An object
that enters or leaves through the edge of the canvas (long clips continue the
motion past the default 17 frames) is not an appearance or a vanishing.

Measured with `python benchmarks/evaluator_agreement.py` (seeded renders): 100% agreement
with the spec on every attribute for 880 single-object clips (all 176 combinations)
and 500 two-object clips; still 100% after uint8 quantisation, Gaussian noise of
0.05 or a blur of sigma 0.7, ~99% at noise 0.10 or blur 1.0; ~250 single-object
17 x 32 x 32 clips per second on one CPU thread. Faded objects (colour well below
its palette brightness) are read as smaller and may get the wrong shape.

Public API: `describe(clip)`, `describe_batch(videos)`, `prompt_adherence(videos,
prompts)`; `DetectedObject` is what `describe` returns per object. Long clips told as
stories (shared/shapesworld-stories.md): `story_adherence(videos, prompts)`.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import world

UNKNOWN = "unknown"  # shape / motion when the pixels do not support a world value

# ----------------------------------------------------------------------------
# Thresholds. Each is set from the spec's ranges with a wide margin, so clean
# renders sit far from every boundary and generated clips have room for noise.

# Colour. The two closest palette colours (yellow, orange) are 13.2 degrees
# apart as RGB directions; a pixel further than this from every palette
# direction is not any object's colour (a blend of two colours, noise).
MAX_COLOUR_ANGLE_DEG = 12.0
ALPHA_FLOOR = 0.1  # pixels with less coverage are ignored: their colour is noise on generated clips
CORE_ALPHA = 0.5  # coverage at which a pixel counts as "inside" the object (its centre is inside the outline)
MIN_CORE_PIXELS = 5  # a colour is visible in a frame with this many inside pixels (the smallest shape, a
#                      triangle of circumradius 3, has ~12; colour noise makes specks of 1..4)
EXACT_COLOUR_COS = math.cos(math.radians(1.0))  # within 1 degree: an exact palette colour (clean render)
MIN_COLOUR_CONTRAST = 0.1  # a palette colour this close to the background cannot be seen: ignored

# Geometry.
WINDOW_RADIUS = 8  # px: the largest shape (square r = 5 turned 45 deg) reaches 7.1 px + 0.5 px of anti-aliasing,
#                    and the window's centre pixel is within 0.5 px of the object's centre
PEAK_BOX = 5  # px: box filter that finds the densest blob of a colour (ignores stray pixels elsewhere)
# Orientation search, coarse to fine: every COARSE_STEP over the symmetry period (a square repeats every
# 90 degrees, a triangle every 120; the fit is unimodal over a period, so the best coarse angle is within
# half a step of the optimum), then FINE_OFFSETS around it at the best edge width and a parabola, then
# POLISH_OFFSETS around that and a parabola again (the fit has a cusp at the optimum, so one is not enough).
COARSE_STEP = 15.0
FINE_OFFSETS = (-10.0, -5.0, 0.0, 5.0, 10.0)
POLISH_OFFSETS = (-1.5, 0.0, 1.5)  # a last parabola through three close angles: orientation to ~0.3 degrees
TEMPLATE_RAMPS = (1.0, 2.0)  # edge widths of the templates: the renderer's 1 px, and a blurred edge
MIN_SHAPE_FIT = 0.5  # median soft IoU of the best template below this: the blob is no world shape (clean: > 0.9)
FRAME_CHUNK = 1024  # object-frames matched at once (bounds memory at ~20 MB per temporary)

# Motion, in px or degrees per frame so that any clip length works.
MIN_MOVE_SPEED = 0.4  # px/frame: half the slowest move (0.8); a still object's centroid drifts ~0.01
MAX_OFF_AXIS = 0.5  # a move's velocity across its axis, relative to along it (clean: 0)
MIN_STRAIGHTNESS = 0.5  # |net displacement| / path length along the axis (clean move: 1, a wobble: ~0)
MIN_SPIN = 5.0  # deg/frame: half the slowest rotation (10); a non-rotating shape measures ~0.3
STILL_MAX_RANGE = 2.0  # px: a still object's centroid stays within this box (clean: < 0.3)
MIN_BOUNCE_FALL = 3.0  # px: the fall before the first impact (default canvas: >= 15 px; 16 px canvas: >= 3.5)
MIN_BOUNCE_RISE = 1.0  # px: the rebound after it (restitution >= 0.7 gives >= 0.49 of the fall) ...
MIN_BOUNCE_RISE_FRACTION = 0.2  # ... and at least this fraction of the fall (a jittery "moves down" is no bounce)
# A clip of at most this many frames may end before the first impact (frame 4.5..8) or show only a small
# part of the rebound: a fall from rest that speeds up under gravity is then read as the start of a bounce
# (constant-speed `moves down` has no such bend). From 3 frames past the latest impact on, the rebound shows.
FALL_ONLY_MAX_FRAMES = math.ceil(world.FIRST_IMPACT_RANGE[1]) + 4
MIN_FALL_GRAVITY = 0.05  # px/frame^2: half the weakest gravity the sampler draws (16 px canvas: ~0.1)
MIN_FALL_BEND = 0.25  # px: the fall's curvature must be visible, not centroid noise

# Temporal consistency.
MAX_AREA_RATIO = 1.35  # largest / smallest area over the clip, bar one frame each way (clean: < 1.1;
#                        r 3 -> 4 is 1.78, 4 -> 5 is 1.56)
MIN_SHAPE_AGREEMENT = 0.75  # fraction of frames that vote for the object's shape (a swap halfway: ~0.5)
MAX_STRAY_FRACTION = 0.25  # colour mass outside the object's window: a second blob of the same colour
MIN_STRAY_PIXELS = 3.0  # ... counted only when it is at least this big (px of coverage)

_PALETTE_NAMES = tuple(world.COLOURS)
_PALETTE = torch.tensor([world.COLOURS[c] for c in _PALETTE_NAMES], dtype=torch.float32) / 255  # k c
# area of each shape as a function of its size r, for the renderer's anti-aliasing: the coverage
# clamp(0.5 - d / ramp) averages the shape grown by s over s in [-ramp/2, ramp/2], which adds ramp^2/12
# to inradius^2 (corners aside).
_INRADIUS_PER_R = {"circle": 1.0, "square": 1.0, "triangle": 0.5}
_AREA_PER_INRADIUS2 = {"circle": math.pi, "square": 4.0, "triangle": 3.0 * math.sqrt(3.0)}


def size_from_area(shape: str, area, ramp: float = 1.0):
    """Size r (radius / half-side / circumradius) of a rendered shape whose coverage sums to `area`.

    `ramp` is the width of the anti-aliased edge (1 px for the renderer).
    """
    inradius2 = np.maximum(np.asarray(area, dtype=np.float64) / _AREA_PER_INRADIUS2[shape] - ramp**2 / 12, 0.0)
    return np.sqrt(inradius2) / _INRADIUS_PER_R[shape]


# ----------------------------------------------------------------------------
# What the evaluator reports


@dataclass
class DetectedObject:
    """One object found in a clip: what it is, how it moves, and whether it stays itself.

    `shape` and `motion` are world values (world.SHAPES, world.MOTIONS) or "unknown".
    Per-frame arrays have one entry per frame (NaN / "" where the object is absent).
    """

    colour: str  # a key of world.COLOURS
    shape: str  # circle | square | triangle | unknown
    motion: str  # one of world.MOTIONS | unknown
    consistent: bool  # present in every frame, one colour, stable size and shape, one blob
    reason: str  # why not consistent ("" when it is)
    area: float  # median area over the clip, px^2 (sum of coverage)
    size: float  # r of the detected shape from that area (NaN when the shape is unknown)
    fit: float  # median soft IoU of the best template (1 = exactly a rendered shape)
    velocity: tuple[float, float]  # (vx, vy) px/frame, least-squares slope of the centroid
    spin: float  # deg/frame, + = clockwise on screen (0 for circles)
    motion_reason: str  # how the motion was decided, or why it is unknown
    track: np.ndarray = field(repr=False)  # (t, 3): centroid x, centroid y, orientation in degrees
    present: np.ndarray = field(repr=False)  # (t,) bool: the colour is visible in that frame
    areas: np.ndarray = field(repr=False)  # (t,) px^2
    frame_shapes: tuple[str, ...] = field(repr=False, default=())  # best shape of each frame
    # the kind of each consistency problem in `reason`, for counting: "vanishes in some frames", "size changes",
    # "shape changes", "splits into blobs", "colour changes"
    problems: tuple[str, ...] = field(repr=False, default=())

    def __str__(self) -> str:
        flag = "consistent" if self.consistent else f"INCONSISTENT: {self.reason}"
        return f"{self.colour} {self.shape} {self.motion} ({flag})"

    @property
    def attributes(self) -> tuple[str, str, str]:
        """(shape, colour, motion), the order of world.valid_combinations()."""
        return self.shape, self.colour, self.motion


# ----------------------------------------------------------------------------
# Input checking


def _as_video_tensor(videos, what: str = "videos") -> torch.Tensor:
    """Validate and convert to float32 `b t c h w` (a single `t c h w` clip gets b = 1)."""
    if isinstance(videos, np.ndarray):
        if videos.dtype == np.uint8:
            videos = videos.astype(np.float32) / 255
        elif not np.issubdtype(videos.dtype, np.floating):
            raise ValueError(f"{what} must be float in [0, 1] or uint8, got numpy dtype {videos.dtype}")
        videos = torch.from_numpy(np.ascontiguousarray(videos))
    if not isinstance(videos, torch.Tensor):
        raise ValueError(f"{what} must be a torch tensor or numpy array, got {type(videos).__name__}")
    if videos.dtype == torch.uint8:
        videos = videos.float() / 255
    elif not videos.is_floating_point():
        raise ValueError(f"{what} must be float in [0, 1] or uint8, got dtype {videos.dtype}")
    videos = videos.detach().to("cpu", torch.float32)
    if videos.ndim == 4:
        videos = videos[None]
    if videos.ndim != 5:
        raise ValueError(
            f"{what} must be a clip (t c h w) or a batch (b t c h w), got shape {tuple(videos.shape)}"
        )
    b, t, c, h, w = videos.shape
    if c != 3:
        hint = ""
        if videos.shape[-1] == 3:
            hint = "; it looks channels-last: use einops.rearrange(v, '... h w c -> ... c h w')"
        elif videos.shape[1] == 3:
            hint = "; it looks like b c t h w: use einops.rearrange(v, 'b c t h w -> b t c h w')"
        raise ValueError(
            f"{what} must have 3 RGB channels at dim -3 (b t c h w), got shape {tuple(videos.shape)}{hint}"
        )
    if t < 1 or b < 1:
        raise ValueError(f"{what} needs at least one clip of at least one frame, got shape {tuple(videos.shape)}")
    if h < world.MIN_SIZE_PX or w < world.MIN_SIZE_PX:
        raise ValueError(f"frames must be at least {world.MIN_SIZE_PX} x {world.MIN_SIZE_PX} px, got {h} x {w}")
    lo, hi = (float(v) for v in torch.aminmax(videos))  # NaN propagates into both
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{what} contain NaN or infinite values")
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(
            f"{what} must be in [0, 1], got values in [{lo:.3g}, {hi:.3g}]; "
            "map a [-1, 1] model output with (v + 1) / 2 and clamp(0, 1) first"
        )
    return videos.clamp(0.0, 1.0)


# ----------------------------------------------------------------------------
# Steps 1-3: colours per pixel, and which colours are objects


def _colours(videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Palette colour and coverage of every pixel: `b t c h w` -> label, alpha (`b t h w` each).

    A pixel whose colour is exactly a palette direction (clean renders) keeps it. Any
    other pixel takes the colour of its 3 x 3 neighbourhood: over a black
    background, averaging keeps an isolated object's direction, and it averages
    out the colour noise of generated clips (a yellow blob speckled with orange).
    alpha is 0 where a pixel is background or no palette colour. Only pixels that
    differ from the background enough to reach ALPHA_FLOOR are examined.
    """
    b, t, _, h, w = videos.shape
    background = videos.transpose(1, 2).reshape(b, 3, -1).median(dim=-1).values  # b c
    diff = (videos - background[:, None, :, None, None]).permute(0, 1, 3, 4, 2)  # b t h w c
    directions = _PALETTE[None] - background[:, None]  # b k c
    norm2 = (directions * directions).sum(-1)  # b k
    norm2 = norm2.masked_fill(norm2 < MIN_COLOUR_CONTRAST**2, math.inf)  # the background's colour is invisible
    norm = norm2.sqrt()
    units = directions / norm[..., None]  # b k c (zero for invisible colours)
    length = diff.norm(dim=-1)  # b t h w
    reach = ALPHA_FLOOR * norm.amin(1)  # b: alpha = <d, u> / |c - bg| <= |d| / |c - bg|
    cand = (length >= reach.view(b, 1, 1, 1)).nonzero(as_tuple=True)  # candidate pixels
    label = torch.zeros(b, t, h, w, dtype=torch.long)
    alpha = torch.zeros(b, t, h, w)
    if cand[0].numel() == 0:
        return label, alpha
    bi, ti, yi, xi = cand
    u = units[bi]  # m k c
    d = diff[cand]  # m c
    padded = F.pad(diff, (0, 0, 1, 1, 1, 1))  # b t (h+2) (w+2) c
    near = sum(padded[bi, ti, yi + dy, xi + dx] for dy in range(3) for dx in range(3)) / 9  # 3 x 3 mean, m c
    dots = torch.einsum("mkc,mc->mk", u, d)  # |d| cos(angle to each colour)
    dots_s = torch.einsum("mkc,mc->mk", u, near)
    own_len, near_len = length[cand].clamp_min(1e-6), near.norm(dim=-1).clamp_min(1e-6)
    best, lab = dots.max(dim=1)
    lab = torch.where(best >= EXACT_COLOUR_COS * own_len, lab, dots_s.argmax(dim=1))
    own = dots.gather(1, lab[:, None])[:, 0]
    smooth = dots_s.gather(1, lab[:, None])[:, 0]
    a = own / norm[bi, lab]  # coverage along the chosen direction
    cos_min = math.cos(math.radians(MAX_COLOUR_ANGLE_DEG))
    ok = ((own >= cos_min * own_len) | (smooth >= cos_min * near_len)) & (a >= ALPHA_FLOOR)
    label[cand] = lab
    alpha[cand] = torch.where(ok, a.clamp(max=1.0), torch.zeros(()))
    return label, alpha


# ----------------------------------------------------------------------------
# Step 4: per object and frame, window, area, centroid, shape and angle


def _box_peak(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column of the densest PEAK_BOX x PEAK_BOX block of each map (`n h w`)."""
    smooth = F.avg_pool2d(maps[:, None], PEAK_BOX, stride=1, padding=PEAK_BOX // 2, count_include_pad=True)[:, 0]
    flat = smooth.flatten(1).argmax(dim=1)
    w = maps.shape[-1]
    return flat // w, flat % w


def _unit_distance(shape: str, x: torch.Tensor, y: torch.Tensor, angles: torch.Tensor | None) -> torch.Tensor:
    """Distance function of a shape before subtracting its inradius: `n a s s` for angles `n a` (degrees).

    It is world.signed_distance(shape, x, y, size, angle) + inradius: the norm for a
    circle, max(|u|, |v|) in the turned frame for a square, the largest projection on
    the three edge normals (pointing away from the vertices) for a triangle.
    x: `n 1 1 s` offsets of the columns from the centre, y: `n 1 s 1`.
    """
    if shape == "circle":
        return torch.sqrt(x * x + y * y)
    th = torch.deg2rad(angles)[..., None, None]  # n a 1 1
    if shape == "square":
        c, s = torch.cos(th), torch.sin(th)
        return torch.maximum((x * c + y * s).abs_(), (y * c - x * s).abs_())
    d = None
    for k in range(3):
        phi = th + (math.pi + 2 * math.pi * k / 3)
        dk = x * torch.cos(phi) + y * torch.sin(phi)
        d = dk if d is None else torch.maximum(d, dk)
    return d


def _soft_iou(win, inside, rho, d0, ramp) -> torch.Tensor:
    """Soft IoU of windows `n s s` with templates clamp(0.5 - (d0 - rho) / ramp): `n r a`.

    rho: inradius (n r); d0: `n a s s`; ramp: edge widths, (r,) or (n r).
    """
    ramp = ramp.expand_as(rho)[:, :, None, None, None]
    cover = ((rho[:, :, None, None, None] + 0.5 * ramp - d0[:, None]) / ramp).clamp_(0.0, 1.0)
    cover = cover.mul_(inside[:, None, None])
    inter = torch.minimum(win[:, None, None], cover).sum((-1, -2))
    union = win.sum((-1, -2))[:, None, None] + cover.sum((-1, -2)) - inter
    return inter / union.clamp_min(1e-6)


def _fit_shapes(win, inside, ox, oy, area) -> dict[str, torch.Tensor]:
    """Best soft IoU of each window (`n s s`) per shape, and the orientation that gives it.

    Each shape is drawn with the size that gives the observed area, at every edge
    width of TEMPLATE_RAMPS (the sharpness is fitted too, so blurred clips still
    match), over a coarse grid of angles, then refined around the best one.
    Returns {"fit_<shape>": (n,), "angle_<shape>": (n,)} (no angle for circles).
    """
    n = win.shape[0]
    x = ox[:, None, None, :]  # n 1 1 s: x offset of each column from the centroid
    y = oy[:, None, :, None]  # n 1 s 1
    ramps = torch.tensor(TEMPLATE_RAMPS)
    out = {}
    for shape in world.SHAPES:
        rho = torch.from_numpy(
            np.stack([size_from_area(shape, area.numpy(), r) * _INRADIUS_PER_R[shape] for r in TEMPLATE_RAMPS], 1)
        ).float()  # n ramps
        if shape == "circle":
            out["fit_circle"] = _soft_iou(win, inside, rho, _unit_distance(shape, x, y, None), ramps).flatten(1).amax(1)
            continue
        period = world.SYMMETRY_DEG[shape]
        coarse = torch.arange(0.0, period, COARSE_STEP).expand(n, -1)  # n a
        scores = _soft_iou(win, inside, rho, _unit_distance(shape, x, y, coarse), ramps)  # n ramps a
        best, flat = scores.flatten(1).max(1)
        ramp_i, angle_i = flat // coarse.shape[1], flat % coarse.shape[1]
        centre = coarse[0, angle_i]  # n
        rows = torch.arange(n)
        rho, ramp = rho[rows, ramp_i][:, None], ramps[ramp_i][:, None]  # the best edge width from here on
        angle, fit = centre, best
        for offsets in (FINE_OFFSETS, POLISH_OFFSETS):  # evenly spaced around the best angle so far
            grid = angle[:, None] + torch.tensor(offsets)  # n a
            curve = _soft_iou(win, inside, rho, _unit_distance(shape, x, y, grid), ramp)[:, 0]
            top, angle = _parabola_peak(curve, grid)
            fit = torch.maximum(fit, top)
        out[f"fit_{shape}"], out[f"angle_{shape}"] = fit, angle
    return out


def _parabola_peak(curve: torch.Tensor, grid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Best value of `n a` curves sampled on evenly spaced `n a` angles, refined by a parabola."""
    best, i = curve.max(dim=1)
    a = curve.shape[1]
    inner = (i > 0) & (i < a - 1)
    left = curve.gather(1, (i - 1).clamp(0, a - 1)[:, None])[:, 0]
    right = curve.gather(1, (i + 1).clamp(0, a - 1)[:, None])[:, 0]
    bend = left - 2 * best + right
    shift = torch.where(inner & (bend < -1e-9), 0.5 * (left - right) / bend.clamp(max=-1e-9), torch.zeros(()))
    step = grid[:, 1] - grid[:, 0]
    return best, grid.gather(1, i[:, None])[:, 0] + shift.clamp(-0.5, 0.5) * step


def _measure(maps: torch.Tensor) -> dict[str, np.ndarray]:
    """Per object-frame measurements of colour maps `n h w`."""
    n, h, w = maps.shape
    R = WINDOW_RADIUS
    side = 2 * R + 1
    total = maps.sum((-1, -2))
    core = (maps >= CORE_ALPHA).sum((-1, -2))
    border = torch.stack([maps[:, 0].amax(-1), maps[:, -1].amax(-1), maps[:, :, 0].amax(-1), maps[:, :, -1].amax(-1)])
    touches = border.amax(0) >= CORE_ALPHA  # the object reaches the canvas edge: maybe cut off
    py, px = _box_peak(maps)
    padded = F.pad(maps, (R, R, R, R))
    ar = torch.arange(side)
    rows, cols = py[:, None] + ar, px[:, None] + ar  # padded coordinates of the window
    win = padded[torch.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]  # n s s
    in_rows = (rows >= R) & (rows < h + R)
    in_cols = (cols >= R) & (cols < w + R)
    inside = (in_rows[:, :, None] & in_cols[:, None, :]).float()
    stray = total - win.sum((-1, -2))  # colour mass outside the window: another blob of the same colour
    area = win.sum((-1, -2))
    xs = (cols - R).float() + 0.5  # canvas x of the pixel centres of each window column
    ys = (rows - R).float() + 0.5
    safe = area.clamp_min(1e-6)
    cx = (win.sum(1) * xs).sum(1) / safe
    cy = (win.sum(2) * ys).sum(1) / safe
    out = {"total": total, "stray": stray, "core": core, "touches": touches, "area": area, "x": cx, "y": cy}
    parts = [
        _fit_shapes(win[sl], inside[sl], xs[sl] - cx[sl, None], ys[sl] - cy[sl, None], area[sl])
        for sl in (slice(lo, lo + FRAME_CHUNK) for lo in range(0, n, FRAME_CHUNK))
    ]
    out |= {key: torch.cat([p[key] for p in parts]) for key in parts[0]}
    return {k: v.numpy() for k, v in out.items()}


# ----------------------------------------------------------------------------
# Step 5: per object over the clip


def _frames_text(frames) -> str:
    frames = [int(f) for f in frames]
    if len(frames) > 6:
        return f"{', '.join(map(str, frames[:5]))}, ... ({len(frames)} frames)"
    return ", ".join(map(str, frames))


def _wrap(delta: np.ndarray, period: float) -> np.ndarray:
    """Angle differences into (-period / 2, period / 2]."""
    return period / 2 - np.mod(period / 2 - delta, period)


def _falls_from_rest(x, y, t) -> str:
    """Why a clip too short to show a clear rebound shows a bounce, or "" when it does not.

    Before its first impact a bouncing object falls from rest under gravity,
    y = y0 + g t^2 / 2; the only other downward motion, `moves down`, has constant
    speed. So in a short clip (a few frames, or one that ends at the first impact)
    a fall that starts at rest and speeds up is the start of a bounce.
    """
    if t[-1] + 1 > FALL_ONLY_MAX_FRAMES:
        return ""
    low = int(np.argmax(y)) + 1  # the falling part: up to the lowest point
    t, y = t[:low], y[:low]
    if len(t) < 3:
        return ""
    c, b, _ = np.polyfit(t, y, 2)  # y = c t^2 + b t + a
    v_first, v_last = b + 2 * c * t[0], b + 2 * c * t[-1]
    bend = c * (t[-1] - t[0]) ** 2 / 4  # how far the middle of the track is from a straight line, px
    if 2 * c >= MIN_FALL_GRAVITY and bend >= MIN_FALL_BEND and v_first <= 0.25 * v_last and np.ptp(x) < STILL_MAX_RANGE:
        return f"falls from rest with gravity {2 * c:.2f} px/frame^2 (no clear rebound in {int(t[-1]) + 1} frames)"
    return ""


def _motion(shape: str, x, y, angle, t) -> tuple[str, tuple[float, float], float, str]:
    """World motion of a track (frames `t` where the object is present): motion, velocity, spin, why."""
    if len(t) < 2:
        return UNKNOWN, (math.nan, math.nan), math.nan, "one frame shows no motion"
    tc = t - t.mean()
    vx, vy = (float((tc * z).sum() / (tc * tc).sum()) for z in (x, y))
    spin = 0.0
    if shape in ("square", "triangle"):
        steps = _wrap(np.diff(angle), world.SYMMETRY_DEG[shape])  # wrap first: a turn is only known modulo the period
        dt = np.diff(t)
        spin = float(np.median(steps[dt == 1] if (dt == 1).any() else steps / dt))
    velocity = (vx, vy)
    # bounce: a large fall, then a rise (y grows downwards; both in temporal order)
    fall_to = y - np.minimum.accumulate(y)  # drop into frame i from the highest earlier point
    rise_from = y - np.minimum.accumulate(y[::-1])[::-1]  # rise from frame i to the highest later point
    fall, rise = float(fall_to.max()), float(rise_from.max())
    # it falls first: half the fall is done before the last frame that still has half the rise ahead
    # (thrown up, then falling, is no bounce); robust to later impacts sampled nearer the floor
    falls_first = (
        fall > 0 and rise > 0 and np.flatnonzero(rise_from >= 0.5 * rise)[-1] >= np.flatnonzero(fall_to >= 0.5 * fall)[0]
    )
    if fall >= MIN_BOUNCE_FALL and rise >= max(MIN_BOUNCE_RISE, MIN_BOUNCE_RISE_FRACTION * fall) and falls_first:
        return "bounces", velocity, spin, f"falls {fall:.1f} px, then rises {rise:.1f} px"
    if short_fall := _falls_from_rest(x, y, t):
        return "bounces", velocity, spin, short_fall
    speed = max(abs(vx), abs(vy))
    if speed >= MIN_MOVE_SPEED:
        horizontal = abs(vx) >= abs(vy)
        along, across = (vx, vy) if horizontal else (vy, vx)
        pos = x if horizontal else y
        straight = abs(pos[-1] - pos[0]) / max(float(np.abs(np.diff(pos)).sum()), 1e-6)
        if abs(across) > MAX_OFF_AXIS * abs(along):
            return UNKNOWN, velocity, spin, f"moves diagonally ({vx:+.2f}, {vy:+.2f}) px/frame"
        if straight < MIN_STRAIGHTNESS:
            return UNKNOWN, velocity, spin, f"wanders back and forth (straightness {straight:.2f})"
        if abs(spin) >= MIN_SPIN:
            return UNKNOWN, velocity, spin, f"moves and also turns {spin:+.1f} deg/frame"
        if horizontal:
            name = "moves right" if along > 0 else "moves left"
        else:
            name = "moves down" if along > 0 else "moves up"
        return name, velocity, spin, f"{speed:.2f} px/frame"
    spread = max(float(np.ptp(x)), float(np.ptp(y)))
    if spread > STILL_MAX_RANGE:
        return UNKNOWN, velocity, spin, f"drifts {spread:.1f} px without a steady direction"
    if abs(spin) >= MIN_SPIN:
        name = "rotates clockwise" if spin > 0 else "rotates counterclockwise"
        return name, velocity, spin, f"{spin:+.1f} deg/frame"
    return "stays still", velocity, spin, f"moves {spread:.2f} px, turns {spin:+.1f} deg/frame"


def _object(colour: str, m: dict[str, np.ndarray], frames: int) -> DetectedObject:
    """Turn the per-frame measurements `m` (arrays of length t) of one colour into a DetectedObject."""
    present = m["core"] >= MIN_CORE_PIXELS
    t_idx = np.flatnonzero(present)
    usable = present & ~m["touches"]  # frames where the whole object is surely in view
    if not usable.any():
        usable = present
    fits = np.stack([m[f"fit_{s}"] for s in world.SHAPES])  # shape t
    votes = fits.argmax(0)
    counts = np.bincount(votes[usable], minlength=len(world.SHAPES))
    s_idx = int(counts.argmax())
    fit = float(np.median(fits[s_idx, usable]))
    shape = world.SHAPES[s_idx] if fit >= MIN_SHAPE_FIT else UNKNOWN
    frame_shapes = tuple(world.SHAPES[v] if p else "" for v, p in zip(votes, present))
    angle = m.get(f"angle_{shape}", np.zeros(frames)) if shape in ("square", "triangle") else np.zeros(frames)
    area = float(np.median(m["area"][usable]))
    motion, velocity, spin, why = _motion(shape, m["x"][t_idx], m["y"][t_idx], angle[t_idx], t_idx.astype(float))
    if shape == UNKNOWN and motion != UNKNOWN:  # a blob that is no shape (noise, a smear): its track means nothing
        motion, why = UNKNOWN, f"no recognisable shape (fit {fit:.2f}); its centroid {why}"

    problems = []  # (kind, readable reason)
    missing = ~present
    first, last = t_idx[0], t_idx[-1]
    if first > 0 and m["touches"][first]:  # comes in through the edge of the canvas: not an appearance
        missing[:first] = False
        why += f"; enters the view at frame {first}"
    if last < frames - 1 and m["touches"][last]:  # leaves through the edge: not a vanishing
        missing[last + 1 :] = False
        why += f"; leaves the view after frame {last}"
    if missing.any():
        problems.append(("vanishes in some frames", f"missing in frames {_frames_text(np.flatnonzero(missing))}"))
    areas = np.sort(m["area"][usable])
    trim = 1 if len(areas) >= 6 else 0  # one outlier frame each way is measurement noise, not a resize
    small, large = areas[trim], areas[len(areas) - 1 - trim]
    if small * MAX_AREA_RATIO < large:
        problems.append(("size changes", f"size changes (area {small:.0f}..{large:.0f} px^2)"))
    agreement = counts[s_idx] / max(counts.sum(), 1)
    if agreement < MIN_SHAPE_AGREEMENT:
        mix = ", ".join(f"{world.SHAPES[i]} in {c}" for i, c in enumerate(counts) if c)
        problems.append(("shape changes", f"shape changes ({mix} frames)"))
    stray = m["stray"]
    split = present & (stray >= MIN_STRAY_PIXELS) & (stray > MAX_STRAY_FRACTION * m["total"])
    if split.sum() > max(1, 0.25 * present.sum()):
        problems.append(("splits into blobs", f"more than one {colour} blob in frames {_frames_text(np.flatnonzero(split))}"))

    track = np.full((frames, 3), np.nan)
    track[present, 0], track[present, 1] = m["x"][present], m["y"][present]
    if shape in ("square", "triangle"):
        track[present, 2] = angle[present]
    return DetectedObject(
        colour=colour,
        shape=shape,
        motion=motion,
        consistent=not problems,
        reason="; ".join(text for _, text in problems),
        area=area,
        size=float(size_from_area(shape, area)) if shape in world.SHAPES else math.nan,
        fit=fit,
        velocity=velocity,
        spin=spin,
        motion_reason=why,
        track=track,
        present=present,
        areas=np.where(present, m["area"], np.nan),
        frame_shapes=frame_shapes,
        problems=tuple(kind for kind, _ in problems),
    )


def _colour_changes(objects: list[DetectedObject]) -> None:
    """Name a colour change: one track vanishes in the frames where another one appears."""
    for a in objects:
        if a.consistent or a.present.all():
            continue
        for b in objects:
            if b is a or b.present.all():
                continue
            gone = ~a.present
            if (b.present & gone).sum() >= 0.5 * gone.sum() and (b.present & a.present).sum() <= 0.5 * a.present.sum():
                a.reason += f"; its colour changes to {b.colour} there"
                a.problems += ("colour changes",)
                break


# ----------------------------------------------------------------------------
# Public API


@contextmanager
def _torch_threads(threads: int | None):
    """Run with `threads` intra-op threads (None: leave torch's setting), restoring it afterwards."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def describe_batch(videos, chunk: int = 128, threads: int | None = 1) -> list[list[DetectedObject]]:
    """Objects of every clip of `videos` (`b t c h w`, or a list of `t c h w` clips of any canvases).

    `threads`: torch threads while reading. The evaluator runs many small tensor
    operations, for which one thread is fastest (~250 clips/s for 17 x 32 x 32
    clips) and stays fast when other work (training) shares the cores, where
    several threads wait on each other at every operation; None keeps torch's setting.
    """
    with _torch_threads(threads):
        if isinstance(videos, (list, tuple)):  # clips of possibly different canvases, one at a time
            return [_describe_chunks(_as_clip(v), chunk)[0] for v in videos]
        return _describe_chunks(_as_video_tensor(videos), chunk)


def _describe_chunks(videos: torch.Tensor, chunk: int) -> list[list[DetectedObject]]:
    b, t = videos.shape[:2]
    results: list[list[DetectedObject]] = []
    names = _PALETTE_NAMES
    for lo in range(0, b, chunk):
        label, alpha = _colours(videos[lo : lo + chunk])  # b t h w
        n = label.shape[0]
        k = len(names)
        cell = (torch.arange(n * t).view(n, t, 1, 1) * k + label)[alpha >= CORE_ALPHA]
        core = torch.bincount(cell, minlength=n * t * k).view(n, t, k)  # inside pixels per clip, frame, colour
        seen = (core >= MIN_CORE_PIXELS).sum(1) >= min(t, 2)  # b k: colours that are objects
        tracked = seen.nonzero().tolist()  # (clip, colour) pairs
        found: list[list[DetectedObject]] = [[] for _ in range(n)]
        if tracked:
            ib, ik = torch.tensor(tracked).T
            maps = alpha[ib] * (label[ib] == ik.view(-1, 1, 1, 1))  # objects t h w
            measures = _measure(maps.flatten(0, 1))  # (objects t) h w
            for j, (bi, ki) in enumerate(tracked):
                m = {key: value[j * t : (j + 1) * t] for key, value in measures.items()}
                found[bi].append(_object(names[ki], m, t))
        for objects in found:
            _colour_changes(objects)
        results.extend(found)
    return results


def _as_clip(clip) -> torch.Tensor:
    """Validate one clip `t c h w`; returns it as a batch of one."""
    if not isinstance(clip, (torch.Tensor, np.ndarray)):
        raise ValueError(f"a clip must be a tensor or array (t c h w), got {type(clip).__name__}")
    if clip.ndim != 4:
        raise ValueError(f"a clip is t c h w, got shape {tuple(clip.shape)}; use describe_batch for b t c h w")
    return _as_video_tensor(clip, "clip")


def describe(clip, threads: int | None = 1) -> list[DetectedObject]:
    """Objects of one clip `t c h w` (float in [0, 1] or uint8, torch or numpy), in palette order."""
    return describe_batch(_as_clip(clip), threads=threads)[0]


def _prompt_objects(prompt) -> list[tuple[str, str, str]]:
    """(shape, colour, motion) of each object a prompt asks for.

    A prompt is a caption string (English or Chinese, read by minivid.text.parse_prompt),
    a world.SceneSpec or ObjectSpec, one (shape, colour, motion) tuple, or a list of them.
    """
    if isinstance(prompt, str):
        from .text import parse_prompt  # lazy: reading videos needs no text module

        return _prompt_objects(list(parse_prompt(prompt)))
    if isinstance(prompt, world.SceneSpec):
        items = list(prompt.objects)
    elif isinstance(prompt, world.ObjectSpec):
        items = [prompt]
    elif isinstance(prompt, (list, tuple)):
        items = [prompt] if len(prompt) == 3 and all(isinstance(p, str) for p in prompt) else list(prompt)
    else:
        raise ValueError(
            f"a prompt must be a caption, a world.SceneSpec or (shape, colour, motion) tuples, got {prompt!r}"
        )
    objects = []
    for item in items:
        if isinstance(item, dict):
            item = tuple(item.get(key) for key in ("shape", "colour", "motion"))
        elif all(hasattr(item, key) for key in ("shape", "colour", "motion")):
            item = (item.shape, item.colour, item.motion)
        if not (isinstance(item, (list, tuple)) and len(item) == 3):
            raise ValueError(f"a prompt object must be (shape, colour, motion), got {item!r} in {prompt!r}")
        world.check_combination(*item)
        objects.append(tuple(item))
    if not objects:
        raise ValueError(f"the prompt {prompt!r} names no object")
    colours = [c for _, c, _ in objects]
    if len(set(colours)) < len(colours):
        raise ValueError(f"the prompt {prompt!r} names two objects of one colour; ShapesWorld objects never share one")
    return objects


ATTRIBUTES = ("colour", "shape", "motion", "consistency")


def prompt_adherence(videos, prompts, detections: list[list[DetectedObject]] | None = None) -> dict:
    """How well videos follow their prompts, overall and per attribute.

    videos: `b t c h w` (or a list of `t c h w` clips); prompts: one per clip, each a
    caption string (parsed with minivid.text.parse_prompt), a world.SceneSpec, or a
    list of (shape, colour, motion) tuples. `detections` (from describe_batch) skips
    reading the videos again.

    A clip is correct when its detected objects match the prompt's one to one by
    colour (none missing, none extra) and each has the prompt's shape and motion and
    is temporally consistent. Per attribute, the fraction of prompt objects that get
    it right: colour (an object of that colour exists and the clip has no extra
    object), shape, motion, consistency (a missing object gets all of them wrong).

    Returns {"overall", "colour", "shape", "motion", "consistency", "clips",
    "objects", "per_clip"}; per_clip[i] = {"index", "correct", "expected",
    "detected", "errors", "kinds"}: readable error strings, for a failure gallery, and the
    set of their kinds, for counting ("extra object", "missing object", "wrong shape",
    "wrong motion", and the objects' consistency problems, DetectedObject.problems).
    """
    prompts = list(prompts) if not isinstance(prompts, (str, world.SceneSpec)) else [prompts]
    wanted_objects = [_prompt_objects(p) for p in prompts]  # bad prompts fail before any video is read
    if detections is None:
        detections = describe_batch(videos)
    if len(detections) != len(prompts):
        raise ValueError(f"got {len(detections)} videos but {len(prompts)} prompts; give one prompt per video")
    hits = dict.fromkeys(ATTRIBUTES, 0)
    n_objects, n_correct, per_clip = 0, 0, []
    for index, (expected, found) in enumerate(zip(wanted_objects, detections)):
        by_colour = {o.colour: o for o in found}
        wanted = {c for _, c, _ in expected}
        extra = [o for o in found if o.colour not in wanted]
        errors = [f"extra {o.colour} {o.shape} ({o.motion})" for o in extra]
        kinds = {"extra object"} if extra else set()
        for shape, colour, motion in expected:
            n_objects += 1
            o = by_colour.get(colour)
            if o is None:
                errors.append(f"no {colour} object (wanted a {colour} {shape} that {motion})")
                kinds.add("missing object")
                continue
            hits["colour"] += not extra
            hits["shape"] += o.shape == shape
            hits["motion"] += o.motion == motion
            hits["consistency"] += o.consistent
            if o.shape != shape:
                errors.append(f"{colour}: shape {o.shape}, wanted {shape}")
                kinds.add("wrong shape")
            if o.motion != motion:
                errors.append(f"{colour} {o.shape}: motion {o.motion} ({o.motion_reason}), wanted {motion}")
                kinds.add("wrong motion")
            if not o.consistent:
                errors.append(f"{colour} {o.shape}: inconsistent ({o.reason})")
                kinds.update(o.problems)
        correct = not errors
        n_correct += correct
        per_clip.append({"index": index, "correct": correct, "expected": expected, "detected": found, "errors": errors,
                         "kinds": kinds})
    n_clips = len(prompts)
    scores = {a: hits[a] / max(n_objects, 1) for a in ATTRIBUTES}
    overall = n_correct / max(n_clips, 1)
    return {"overall": overall, **scores, "clips": n_clips, "objects": n_objects, "per_clip": per_clip}


# ----------------------------------------------------------------------------
# Stories (shared/shapesworld-stories.md): a long clip judged segment by segment
#
# Segment k of a story of n segments is the window of frames 16k .. 16k+16; the
# boundary frame belongs to the next shot, so a window that ends at a cut stops
# one frame early (16 frames). Each window is read by the v1 evaluator and
# judged against its segment's prompt; across windows:
# - identity: inside a shot every object (colour) is found in every window, with
#   one shape, and each window's median area within +-25% of the shot's median;
# - continuity: inside a shot, at each boundary b, no object's centre steps from
#   frame b - 1 to b (the last step of segment k) further than that segment's motion
#   explains plus 2 px: a move at most 1.2 px/frame (the spec's fastest), a rotation
#   or a still object 0, a bounce the longer of its two steps before plus gravity;
# - shots: at a cut boundary the image changes (another set of colours, another
#   shape, an object that steps further than its motion explains, or an area
#   change of STORY_CUT_AREA_RATIO); at any other boundary it does not.

STORY_AREA_TOLERANCE = 0.25  # identity: a window's median area within this fraction of the shot's median
CONTINUITY_SLACK_PX = 2.0  # a boundary step may exceed what the motion explains by this much
STORY_CUT_AREA_RATIO = 1.4  # an object's area changing this much from one frame to the next is a change of image
STORY_TESTS = ("windows", "identity", "continuity", "shots")


def _story_plan(prompt, frames: int | None = None) -> world.StoryPlan:
    """A story prompt as a world.StoryPlan: a story caption (text.parse_story), a StoryPlan or a StorySpec."""
    if isinstance(prompt, str):
        from .text import parse_story  # lazy: reading videos needs no text module

        return parse_story(prompt)
    if isinstance(prompt, world.StorySpec):
        return prompt.plan
    if isinstance(prompt, world.StoryPlan):
        return prompt
    raise ValueError(f"a story prompt is a caption, a world.StoryPlan or a world.StorySpec, got {prompt!r}")


def story_windows(plan: world.StoryPlan) -> list[tuple[int, int]]:
    """(start, stop) frames of the window of each segment; a window that ends at a cut stops one frame early."""
    n = len(plan.segments)
    return [(world.SEGMENT_STEP * k, world.SEGMENT_STEP * (k + 1) + (k + 1 not in plan.cuts or k + 1 == n))
            for k in range(n)]


def _centre(o: DetectedObject | None, i: int) -> np.ndarray | None:
    if o is None or not o.present[i]:
        return None
    return o.track[i, :2]


def _explained(motion: str, o: DetectedObject, last: int) -> float:
    """How far (px) the segment's motion may move the object's centre in the step after frame `last` of its window.

    A move: the spec's fastest speed. A bounce: in free flight each step differs from
    the one before by gravity g; an impact only shortens a step or turns it round, so a
    step is at most the longer of the two before it plus g (g: the median |second
    difference| of the height, which is g in every free-flight frame). Others: 0.
    """
    if motion in world.MOVES:
        return world.SPEED_RANGE[1]
    if motion != "bounces":
        return 0.0
    xy = o.track[: last + 1, :2]
    steps = np.hypot(*np.diff(xy, axis=0).T)[-2:]
    second = np.abs(np.diff(xy[:, 1], 2))
    g = float(np.nanmedian(second)) if np.isfinite(second).any() else 0.0
    return (float(np.nanmax(steps)) if np.isfinite(steps).any() else 0.0) + g


def _boundary(plan, k: int, before: list[DetectedObject], after: list[DetectedObject]) -> tuple[list[str], list[str]]:
    """What changes at the boundary after segment k: (jumps, changes of image); readable, empty when none."""
    b = world.SEGMENT_STEP * (k + 1)
    old, new = {o.colour: o for o in before}, {o.colour: o for o in after}
    want_old = {c: m for _, c, m in plan.segments[k]}
    cut = k + 1 in plan.cuts  # then the earlier window stops before the boundary frame
    last = (before[0].present.shape[0] - (1 if cut else 2)) if before else 0  # index of frame b - 1 in it
    jumps, changes = [], []
    seen_old = {c for c, o in old.items() if o.present[last]}
    seen_new = {c for c, o in new.items() if o.present[0]}
    if seen_old != seen_new:
        changes.append(f"the colours in view change from {sorted(seen_old)} to {sorted(seen_new)} at frame {b}")
    for colour in sorted(seen_old & seen_new):
        o, p = old[colour], new[colour]
        if o.shape != p.shape:
            changes.append(f"the {colour} object is a {o.shape} before frame {b} and a {p.shape} after it")
        step = float(np.hypot(*(_centre(p, 0) - _centre(o, last))))
        allowed = CONTINUITY_SLACK_PX + _explained(want_old.get(colour, ""), o, last)
        if step > allowed:
            jumps.append(f"the {colour} {p.shape}'s centre jumps {step:.1f} px at frame {b} "
                         f"(its motion explains at most {allowed:.1f} px)")
        a0, a1 = o.areas[last], p.areas[0]
        if max(a0, a1) > STORY_CUT_AREA_RATIO * min(a0, a1):
            changes.append(f"the {colour} {p.shape}'s area changes from {a0:.0f} to {a1:.0f} px^2 at frame {b}")
    return jumps, changes


def _identity(plan, shot: tuple[int, int], found: list[list[DetectedObject]]) -> list[str]:
    first, stop = shot
    errors = []
    colours = sorted({o.colour for k in range(first, stop) for o in found[k]})
    for colour in colours:
        objects = [next((o for o in found[k] if o.colour == colour), None) for k in range(first, stop)]
        missing = [first + i + 1 for i, o in enumerate(objects) if o is None]
        if missing:
            errors.append(f"the {colour} object of the shot of segments {first + 1}-{stop} is missing in "
                          f"window(s) {', '.join(map(str, missing))}")
        here = [(first + i + 1, o) for i, o in enumerate(objects) if o is not None]
        shapes = {o.shape for _, o in here}
        if len(shapes) > 1:
            errors.append(f"the {colour} object changes shape: "
                          + ", ".join(f"{o.shape} in window {k}" for k, o in here))
        areas = np.concatenate([o.areas for _, o in here])
        median = float(np.nanmedian(areas)) if np.isfinite(areas).any() else math.nan
        for k, o in here:
            if not abs(o.area - median) <= STORY_AREA_TOLERANCE * median:
                errors.append(f"the {colour} {o.shape} changes size: area {o.area:.0f} px^2 in window {k}, "
                              f"{median:.0f} over its shot (within {STORY_AREA_TOLERANCE:.0%} required)")
    return errors


def _judge_story(plan: world.StoryPlan, found: list[list[DetectedObject]], windows: list[dict]) -> dict:
    """The identity, continuity and shot tests of one story from its windows' detections and verdicts."""
    identity = [e for shot in plan.shots for e in _identity(plan, shot, found)]
    continuity, shots, boundaries = [], [], []
    for k in range(len(plan.segments) - 1):
        cut = k + 1 in plan.cuts
        jumps, changes = _boundary(plan, k, found[k], found[k + 1])
        changed = bool(jumps or changes)
        frame = world.SEGMENT_STEP * (k + 1)
        boundaries.append({"frame": frame, "cut": cut, "changed": changed, "why": "; ".join(jumps + changes)})
        if not cut:
            continuity += jumps
            if changed:
                shots.append(f"the image changes at frame {frame} without a cut ({'; '.join(jumps + changes)})")
        elif not changed:
            shots.append(f"the prompt cuts at frame {frame}, but the image does not change there")
    tests = {
        "windows": {"passed": all(w["correct"] for w in windows),
                    "errors": [f"window {w['segment'] + 1}: {e}" for w in windows for e in w["errors"]]},
        "identity": {"passed": not identity, "errors": identity},
        "continuity": {"passed": not continuity, "errors": continuity},
        "shots": {"passed": not shots, "errors": shots, "boundaries": boundaries},
    }
    kinds = {f"window: {kind}" for w in windows for kind in w["kinds"]}
    kinds |= {name for name in STORY_TESTS[1:] if not tests[name]["passed"]}
    return {"passed": all(t["passed"] for t in tests.values()), **tests, "per_window": windows,
            "errors": [e for name in STORY_TESTS for e in tests[name]["errors"]], "kinds": kinds}


def story_adherence(videos, prompts, threads: int | None = 1) -> dict:
    """How well long clips follow their story prompts (shared/shapesworld-stories.md).

    videos: `b t c h w` or a list of `t c h w` clips (any lengths), each 16n + 1 frames
    for a prompt of n segments; prompts: one per clip, each a story caption (parsed with
    minivid.text.parse_story), a world.StoryPlan or a world.StorySpec.

    A story passes when every window follows its segment's prompt (v1 evaluator) and
    the identity, continuity and shot tests pass. Returns {"overall", "windows",
    "identity", "continuity", "shots", "stories", "per_story"}: the fraction of stories
    that pass all tests and each test ("windows": the fraction of all windows that pass);
    per_story[i] = {"index", "passed", "windows" / "identity" / "continuity" / "shots":
    {"passed", "errors"} (shots also "boundaries": frame, cut, changed, why), "per_window":
    prompt_adherence's per_clip entries plus "segment" and "frames" (start, stop),
    "errors": readable strings, "kinds": their kinds, for counting}.
    """
    prompts = [prompts] if isinstance(prompts, (str, world.StoryPlan, world.StorySpec)) else list(prompts)
    plans = [_story_plan(p) for p in prompts]  # bad prompts fail before any video is read
    clips = list(videos) if isinstance(videos, (list, tuple)) else list(_as_video_tensor(videos))
    if len(clips) != len(plans):
        raise ValueError(f"got {len(clips)} videos but {len(plans)} prompts; give one prompt per video")
    jobs = []  # (story, segment, window clip)
    for i, (clip, plan) in enumerate(zip(clips, plans)):
        clip = _as_clip(clip)[0]
        if clip.shape[0] != plan.frames:
            raise ValueError(f"video {i} has {clip.shape[0]} frames, but its prompt has {len(plan.segments)} "
                             f"segment(s), which make {plan.frames} frames (16n + 1)")
        jobs += [(i, k, clip[a:b]) for k, (a, b) in enumerate(story_windows(plan))]
    found = [None] * len(jobs)
    with _torch_threads(threads):
        for shape in {tuple(c.shape) for _, _, c in jobs}:  # windows of one shape are read in one batch
            idx = [j for j, (_, _, c) in enumerate(jobs) if tuple(c.shape) == shape]
            for j, objects in zip(idx, _describe_chunks(torch.stack([jobs[j][2] for j in idx]), 128)):
                found[j] = objects
    verdicts = prompt_adherence(None, [list(plans[i].segments[k]) for i, k, _ in jobs], detections=found)["per_clip"]
    per_story = []
    for i, plan in enumerate(plans):
        mine = [j for j, (s, _, _) in enumerate(jobs) if s == i]
        windows = [{**verdicts[j], "segment": jobs[j][1], "frames": story_windows(plan)[jobs[j][1]]} for j in mine]
        per_story.append({"index": i, **_judge_story(plan, [found[j] for j in mine], windows)})
    n = max(len(per_story), 1)
    result = {"overall": sum(s["passed"] for s in per_story) / n,
              "windows": sum(v["correct"] for v in verdicts) / max(len(verdicts), 1)}
    result |= {name: sum(s[name]["passed"] for s in per_story) / n for name in STORY_TESTS[1:]}
    return {**result, "stories": len(per_story), "per_story": per_story}


def image_state(image) -> tuple[world.ObjectState, ...]:
    """The objects an image shows, as world.ObjectState: where a story told from that image starts.

    image: `c h w` or a clip `t c h w` (its first frame is read), float in [0, 1] or uint8.
    Position is the centroid, size r comes from the area, angle from the template fit
    (modulo the shape's symmetry). Raises ValueError for an object whose shape cannot be read.
    """
    if isinstance(image, (torch.Tensor, np.ndarray)) and image.ndim == 3:
        image = image[None]
    objects = describe(_as_clip(image)[0, :1])
    states = []
    for o in objects:
        if o.shape not in world.SHAPES:
            raise ValueError(f"the {o.colour} object of the image is no ShapesWorld shape (template fit {o.fit:.2f})")
        x, y, angle = o.track[0]
        angle = world.CANONICAL_ANGLE[o.shape] if o.shape == "circle" else float(angle)
        states.append(world.ObjectState(o.shape, o.colour, o.size, float(x), float(y), angle))
    return tuple(states)
