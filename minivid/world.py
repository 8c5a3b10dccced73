"""ShapesWorld: minivid's training world.

Short videos of coloured shapes that obey simple physics. Every clip is rendered
from a `SceneSpec` that also yields its captions, so a generated video can be
checked against its prompt exactly. The contract lives in
`shared/shapesworld-spec.md` (ShapesWorld v1); this module implements it and
documents what the spec leaves open:

- Coordinates are continuous pixels, x to the right, y down (screen up = smaller
  y); pixel (row j, column i) covers [i, i+1) x [j, j+1) and is sampled at its
  centre. Angles are degrees, increasing clockwise as seen on screen.
- Shapes are filled and anti-aliased over one pixel (coverage = clamp(0.5 - d)
  for the signed distance d of the pixel centre to the outline).
- Shapes that do not rotate keep a canonical pose (squares axis-aligned,
  triangles pointing up), so a tilted shape always means rotation.
- A rotating shape starts at a random pose (uniform over its symmetry period).
  Two training options narrow rotations within the spec: `rotation_start=
  "canonical"` starts it upright, `rotation_speed` fixes its speed (see
  `minivid.train.T2VTrainConfig`). The eval set uses the full spec.
- The motion law is defined per frame, independent of the clip length: a
  64-frame clip continues the 17-frame one. Start positions are chosen so the
  object stays fully in view for the default 17 frames on the given canvas; a
  canvas too small for that (e.g. 16 px wide for a 19 px journey) centres the
  journey instead and the object partly leaves the frame.
- `bounces`: x fixed, falls from rest near the top under gravity chosen so the
  first impact lands between frames 4.5 and 8, then reflects off the bottom
  edge with restitution 0.7..0.9 (at least one visible bounce in 17 frames).
- Two objects are kept >= 2 px apart (bounding circles) in every rendered frame;
  the whole pair is resampled until that holds.

Stories (`shared/shapesworld-stories.md`): a long clip told as 17-frame segments
that share their boundary frames, objects carried over inside a shot, `cut to`
starting a new one; see the Stories section below (`StoryPlan`, `StorySpec`,
`sample_story`, `render_story`, `story_caption`).

Layouts (einops legend): a clip is `t c h w` (frames, RGB, height, width), a
batch `b t c h w`, float in [0, 1]; specs are plain dataclasses.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

# ----------------------------------------------------------------------------
# The vocabulary of the world (spec tables, in spec order)

SHAPES = ("circle", "square", "triangle")
COLOURS = {  # exact sRGB triples, 0..255
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (40, 80, 240),
    "yellow": (240, 220, 40),
    "purple": (170, 60, 220),
    "cyan": (40, 210, 220),
    "orange": (250, 140, 30),
    "white": (240, 240, 240),
}
MOVES = {"moves left": (-1, 0), "moves right": (1, 0), "moves up": (0, -1), "moves down": (0, 1)}
ROTATIONS = {"rotates clockwise": 1, "rotates counterclockwise": -1}  # +1 = clockwise on screen
MOTIONS = (*MOVES, *ROTATIONS, "bounces", "stays still")

# Defaults of the canvas: 17 = 4k+1 frames, so a causal VAE maps them to 1 + 16/4 latents.
DEFAULT_FRAMES, DEFAULT_HEIGHT, DEFAULT_WIDTH = 17, 32, 32
MIN_SIZE_PX = 16  # smallest height / width the renderer accepts
SIZE_RANGE = (3.0, 5.0)  # r: radius, half-side or circumradius, px
SPEED_RANGE = (0.8, 1.2)  # px / frame for `moves ...`
SPIN_RANGE = (10.0, 20.0)  # degrees / frame for `rotates ...`
RESTITUTION_RANGE = (0.7, 0.9)
FIRST_IMPACT_RANGE = (4.5, 8.0)  # frame of the first bounce, which fixes gravity
MIN_GAP_PX = 2.0  # two objects never come closer than this (outline to outline)
SYMMETRY_DEG = {"circle": 0.0, "square": 90.0, "triangle": 120.0}  # rotational symmetry period
CANONICAL_ANGLE = {"circle": 0.0, "square": 0.0, "triangle": -90.0}  # triangle apex up
ROTATION_STARTS = ("random", "canonical")  # a rotating shape's pose at frame 0: uniform over its symmetry, or upright

# ----------------------------------------------------------------------------
# Scene specs


@dataclass(frozen=True)
class ObjectSpec:
    """One object of a scene; every parameter of its look and motion."""

    shape: str  # one of SHAPES
    colour: str  # a key of COLOURS
    motion: str  # one of MOTIONS
    size: float = 4.0  # r in px: radius / half-side / circumradius
    x: float = 16.0  # centre at frame 0, px from the left edge
    y: float = 16.0  # centre at frame 0, px from the top edge
    speed: float = 0.0  # px/frame for moves, degrees/frame for rotations, 0 otherwise
    angle: float | None = None  # orientation at frame 0, degrees clockwise; None: the shape's canonical pose
    gravity: float = 0.0  # px/frame^2, bounces only
    restitution: float = 0.0  # speed kept at each impact, bounces only
    floor: float = 0.0  # centre y when touching the bottom edge, bounces only

    def __post_init__(self):
        check_combination(self.shape, self.colour, self.motion)
        if self.angle is None:
            object.__setattr__(self, "angle", CANONICAL_ANGLE[self.shape])
        for name in ("size", "x", "y", "speed", "angle", "gravity", "restitution", "floor"):
            object.__setattr__(self, name, float(getattr(self, name)))  # plain floats: JSON-ready


@dataclass(frozen=True)
class SceneSpec:
    """A whole clip: its objects and its canvas."""

    objects: tuple[ObjectSpec, ...]
    frames: int = DEFAULT_FRAMES
    height: int = DEFAULT_HEIGHT
    width: int = DEFAULT_WIDTH
    background: tuple[int, int, int] = (0, 0, 0)

    def __post_init__(self):
        object.__setattr__(self, "objects", tuple(self.objects))
        check_canvas(self.frames, self.height, self.width)
        if not 1 <= len(self.objects) <= 2:
            raise ValueError(f"a ShapesWorld scene has 1 or 2 objects, got {len(self.objects)}")
        colours = [o.colour for o in self.objects]
        if len(set(colours)) != len(colours):
            raise ValueError(f"two objects may not share a colour, got {colours}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "SceneSpec":
        objects = tuple(ObjectSpec(**o) for o in d["objects"])
        return cls(**{**d, "objects": objects, "background": tuple(d.get("background", (0, 0, 0)))})


def check_combination(shape: str, colour: str, motion: str) -> None:
    """Raise a clear ValueError for an attribute value the world does not have."""
    for name, value, allowed in (("shape", shape, SHAPES), ("colour", colour, tuple(COLOURS)), ("motion", motion, MOTIONS)):
        if value not in allowed:
            raise ValueError(f"unknown {name} {value!r}; ShapesWorld has {', '.join(allowed)}")
    if shape == "circle" and motion in ROTATIONS:
        raise ValueError(f"a circle cannot '{motion}': its rotation would be invisible; rotate a square or a triangle")


def check_canvas(frames: int, height: int, width: int) -> None:
    if int(frames) != frames or frames < 1:
        raise ValueError(f"frames must be an integer >= 1, got {frames}")
    if int(height) != height or int(width) != width or height < MIN_SIZE_PX or width < MIN_SIZE_PX:
        raise ValueError(f"height and width must be integers >= {MIN_SIZE_PX}, got {height} x {width}")


@functools.cache
def valid_combinations() -> tuple[tuple[str, str, str], ...]:
    """Every (shape, colour, motion) the world can show: 3*8*8 minus rotating circles = 176."""
    return tuple((s, c, m) for s in SHAPES for c in COLOURS for m in MOTIONS if not (s == "circle" and m in ROTATIONS))


# ----------------------------------------------------------------------------
# Splits. HELD_OUT is never rendered for training; the model is evaluated on it
# to measure compositional generalisation. 24 of 176 combinations (13.6%), built
# so that every shape appears 8 times, every colour 3 times, every motion 3
# times, and no (colour, motion) pair appears twice, so each pair of attribute
# values of a held-out combination is still seen in training.

HELD_OUT = (
    ("circle", "red", "moves left"),
    ("circle", "green", "moves up"),
    ("circle", "blue", "bounces"),
    ("circle", "yellow", "moves right"),
    ("circle", "purple", "moves down"),
    ("circle", "cyan", "stays still"),
    ("circle", "orange", "moves left"),
    ("circle", "white", "bounces"),
    ("square", "red", "rotates clockwise"),
    ("square", "green", "moves right"),
    ("square", "blue", "rotates counterclockwise"),
    ("square", "yellow", "stays still"),
    ("square", "purple", "bounces"),
    ("square", "cyan", "moves down"),
    ("square", "orange", "rotates counterclockwise"),
    ("square", "white", "moves up"),
    ("triangle", "red", "stays still"),
    ("triangle", "green", "rotates counterclockwise"),
    ("triangle", "blue", "moves up"),
    ("triangle", "yellow", "rotates clockwise"),
    ("triangle", "purple", "rotates clockwise"),
    ("triangle", "cyan", "moves right"),
    ("triangle", "orange", "moves down"),
    ("triangle", "white", "moves left"),
)
SPLITS = ("train", "heldout")


@functools.cache
def split_combinations(split: str) -> tuple[tuple[str, str, str], ...]:
    """The (shape, colour, motion) combinations of a split: 'train' or 'heldout'."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {SPLITS}")
    held = set(HELD_OUT)
    return tuple(c for c in valid_combinations() if (c in held) == (split == "heldout"))


# ----------------------------------------------------------------------------
# Motion law: where each object is, and how it is turned, at every frame


def extent(shape: str, size: float, angle: float, rotating: bool) -> tuple[float, float, float, float]:
    """Distance from the centre to the left, right, top and bottom of the shape (px)."""
    if shape == "circle" or rotating:
        return (circumradius(shape, size),) * 4  # a rotating shape sweeps its circumcircle
    xs, ys = outline_vertices(shape, size, angle)
    return -xs.min(), xs.max(), -ys.min(), ys.max()


def circumradius(shape: str, size: float) -> float:
    """Radius of the smallest circle around the shape, centred on it."""
    return size * math.sqrt(2) if shape == "square" else size


def outline_vertices(shape: str, size: float, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Vertex offsets from the centre of a square or triangle at `angle` degrees."""
    n = {"square": 4, "triangle": 3}[shape]
    first = 45.0 if shape == "square" else 0.0  # square: corners on the diagonals
    radius = circumradius(shape, size)
    theta = np.radians(angle + first + 360.0 / n * np.arange(n))
    return radius * np.cos(theta), radius * np.sin(theta)


def bounce_y(t: np.ndarray, y0: float, floor: float, gravity: float, restitution: float) -> np.ndarray:
    """Closed-form height of a ball dropped from rest at y0 onto `floor` (y down).

    Free fall y = y0 + g t^2 / 2 until the floor; each impact flips the speed and
    scales it by the restitution e, so flight k lasts 2 v_k / g with v_k = e^k v_1.
    The flights shrink geometrically and sum to a finite time, after which the
    object rests on the floor.
    """
    y = np.empty_like(t)
    t_hit = math.sqrt(2 * (floor - y0) / gravity)  # first impact
    v = restitution * gravity * t_hit  # upward speed after it
    fall = t <= t_hit
    y[fall] = y0 + 0.5 * gravity * t[fall] ** 2
    rest = ~fall
    start = t_hit
    while rest.any():
        flight = 2 * v / gravity
        if flight < 1e-3:  # at rest on the floor
            y[rest] = floor
            break
        now = rest & (t <= start + flight)
        s = t[now] - start
        y[now] = floor - v * s + 0.5 * gravity * s**2
        rest &= ~now
        start, v = start + flight, v * restitution
    return y


def trajectory(obj: ObjectSpec, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, centre y and angle (degrees) of `obj` at frames 0..frames-1."""
    t = np.arange(frames, dtype=np.float64)
    x, y, angle = np.full(frames, obj.x), np.full(frames, obj.y), np.full(frames, obj.angle)
    if obj.motion in MOVES:
        dx, dy = MOVES[obj.motion]
        x, y = obj.x + dx * obj.speed * t, obj.y + dy * obj.speed * t
    elif obj.motion in ROTATIONS:
        angle = obj.angle + ROTATIONS[obj.motion] * obj.speed * t
    elif obj.motion == "bounces":
        y = bounce_y(t, obj.y, obj.floor, obj.gravity, obj.restitution)
    return x, y, angle


# ----------------------------------------------------------------------------
# Sampling scenes


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def journey_start(rng: np.random.Generator, lo: float, hi: float, shift: float) -> float:
    """A start s with s and s + shift both in [lo, hi]; the centred journey when none exists."""
    first, last = max(lo, lo - shift), min(hi, hi - shift)
    if first > last:  # canvas too small for the whole journey: centre it (documented above)
        return 0.5 * (lo + hi - shift)
    return rng.uniform(first, last)


def check_rotation_options(rotation_start: str, rotation_speed: float | None) -> None:
    if rotation_start not in ROTATION_STARTS:
        raise ValueError(f"rotation_start must be one of {ROTATION_STARTS}, got {rotation_start!r}")
    if rotation_speed is not None and not SPIN_RANGE[0] <= rotation_speed <= SPIN_RANGE[1]:
        raise ValueError(f"rotation_speed must be None (drawn) or within the spec's {SPIN_RANGE} deg/frame, "
                         f"got {rotation_speed}")


def sample_object(
    rng, shape: str, colour: str, motion: str, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH,
    rotation_start: str = "random",
    rotation_speed: float | None = None,
) -> ObjectSpec:
    """Draw the free parameters of one object so that it obeys the spec on a height x width canvas.

    Two training options narrow rotations within the spec: `rotation_start`
    "canonical" starts a rotating shape upright (as every shape that does not rotate
    is) instead of at a random pose (the spec leaves the start pose open), and
    `rotation_speed` fixes the angular speed (deg/frame, within SPIN_RANGE) instead of
    drawing it. Every other parameter, and the random stream, is the same either way.
    """
    check_combination(shape, colour, motion)
    check_rotation_options(rotation_start, rotation_speed)
    rng = as_rng(rng)
    size = rng.uniform(*SIZE_RANGE)
    rotating = motion in ROTATIONS
    angle = rng.uniform(0.0, SYMMETRY_DEG[shape]) if rotating else CANONICAL_ANGLE[shape]
    if rotation_start == "canonical":  # drawn above all the same, so the stream (and every later draw) is unchanged
        angle = CANONICAL_ANGLE[shape]
    left, right, top, bottom = extent(shape, size, angle, rotating)
    margin = 0.5  # anti-aliasing reaches half a pixel past the outline
    x_lo, x_hi, y_lo, y_hi = left + margin, width - right - margin, top + margin, height - bottom - margin
    params = dict(shape=shape, colour=colour, motion=motion, size=size, angle=angle)
    if motion in MOVES:
        speed = rng.uniform(*SPEED_RANGE)
        dx, dy = MOVES[motion]
        travel = speed * (DEFAULT_FRAMES - 1)  # in view for the default clip length
        x = journey_start(rng, x_lo, x_hi, dx * travel)
        y = journey_start(rng, y_lo, y_hi, dy * travel)
        return ObjectSpec(**params, x=x, y=y, speed=speed)
    if rotating:
        speed = rng.uniform(*SPIN_RANGE)
        if rotation_speed is not None:  # drawn above all the same: the stream stays unchanged
            speed = float(rotation_speed)
        return ObjectSpec(**params, x=rng.uniform(x_lo, x_hi), y=rng.uniform(y_lo, y_hi), speed=speed)
    if motion == "bounces":
        x = rng.uniform(x_lo, x_hi)
        y = y_lo + rng.uniform(0.0, 2.0)  # near the top, at rest
        floor = height - bottom  # the outline touches the bottom edge
        first_impact = rng.uniform(*FIRST_IMPACT_RANGE)
        gravity = 2.0 * (floor - y) / first_impact**2  # so the first impact comes at that frame
        restitution = rng.uniform(*RESTITUTION_RANGE)
        return ObjectSpec(**params, x=x, y=y, gravity=gravity, restitution=restitution, floor=floor)
    return ObjectSpec(**params, x=rng.uniform(x_lo, x_hi), y=rng.uniform(y_lo, y_hi))


def min_gap(a: ObjectSpec, b: ObjectSpec, frames: int) -> float:
    """Smallest distance between the bounding circles of two objects over the clip (px)."""
    ax, ay, _ = trajectory(a, frames)
    bx, by, _ = trajectory(b, frames)
    centres = np.hypot(ax - bx, ay - by).min()
    return float(centres - circumradius(a.shape, a.size) - circumradius(b.shape, b.size))


MAX_PAIR_TRIES = 1000


def place_objects(
    rng,
    combinations: list[tuple[str, str, str]],
    frames: int = DEFAULT_FRAMES,
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
    rotation_start: str = "random",
    rotation_speed: float | None = None,
) -> SceneSpec:
    """A scene showing these (shape, colour, motion) combinations, objects drawn until they never touch."""
    rng = as_rng(rng)
    for _ in range(MAX_PAIR_TRIES):  # resample the whole pair until it keeps its distance
        objects = tuple(sample_object(rng, *combo, height, width, rotation_start, rotation_speed)
                        for combo in combinations)
        if len(objects) == 1 or min_gap(*objects, frames) >= MIN_GAP_PX:
            return SceneSpec(objects, frames, height, width)
    raise RuntimeError(
        f"could not place {[c[:2] for c in combinations]} {MIN_GAP_PX} px apart on a {height}x{width} canvas "
        f"for {frames} frames; try a larger canvas or fewer frames"
    )


def sample_scene(
    rng=None,
    split: str = "train",
    num_objects: int | None = None,
    frames: int = DEFAULT_FRAMES,
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
    two_object_prob: float = 0.5,
    combination: tuple[str, str, str] | None = None,
    rotation_start: str = "random",
    rotation_speed: float | None = None,
) -> SceneSpec:
    """Draw a random scene of the given split ('train' never shows a held-out combination).

    `num_objects` 1 or 2 (None: two with probability `two_object_prob`);
    `combination` fixes the (shape, colour, motion) of the first object;
    `rotation_start` / `rotation_speed` narrow rotations (see `sample_object`).
    """
    rng = as_rng(rng)
    check_canvas(frames, height, width)
    combos = split_combinations(split)
    if num_objects is None:
        num_objects = 2 if rng.random() < two_object_prob else 1
    if num_objects not in (1, 2):
        raise ValueError(f"num_objects must be 1 or 2, got {num_objects}")
    chosen = [combination or combos[rng.integers(len(combos))]]
    if num_objects == 2:
        others = [c for c in combos if c[1] != chosen[0][1]]  # two objects never share a colour
        chosen.append(others[rng.integers(len(others))])
    return place_objects(rng, chosen, frames, height, width, rotation_start, rotation_speed)


# ----------------------------------------------------------------------------
# Rendering: signed distance of every pixel centre to each outline, turned into
# anti-aliased coverage, then composited over the background.


def signed_distance(shape: str, px: torch.Tensor, py: torch.Tensor, size: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Signed distance (px, negative inside) from pixel offsets (px, py) to the outline.

    px, py: offsets from the centre, broadcastable (k t h w); size, angle: (k t 1 1).
    Polygons use the max over edges of (normal . p) - inradius, exact inside and
    on the edges, which is all one-pixel anti-aliasing needs.
    """
    if shape == "circle":
        return torch.sqrt(px * px + py * py) - size
    n = 4 if shape == "square" else 3
    inradius = size if shape == "square" else size / 2  # square: half-side; equilateral: R / 2
    theta = torch.deg2rad(angle)
    first = 0.0 if shape == "square" else math.pi  # triangle: edge normals point away from vertices
    d = None
    for k in range(n):
        phi = theta + first + 2 * math.pi * k / n
        dk = px * torch.cos(phi) + py * torch.sin(phi)
        d = dk if d is None else torch.maximum(d, dk)
    return d - inradius


def render_batch(scenes: list[SceneSpec]) -> torch.Tensor:
    """Render scenes that share a canvas into a float batch `b t c h w` in [0, 1]."""
    if not scenes:
        raise ValueError("render_batch needs at least one scene")
    frames, height, width = scenes[0].frames, scenes[0].height, scenes[0].width
    if any((s.frames, s.height, s.width) != (frames, height, width) for s in scenes):
        raise ValueError("render_batch needs scenes of one canvas (frames, height, width); render others separately")
    B, slots = len(scenes), 2  # every scene has 1 or 2 objects; an empty slot keeps zero coverage
    coverage = torch.zeros(B * slots, frames, height, width)  # (b s) t h w
    delta = torch.zeros(B * slots, 3)  # colour minus background, per slot
    background = torch.tensor([s.background for s in scenes], dtype=torch.float32) / 255  # b c
    gx = torch.arange(width, dtype=torch.float32) + 0.5  # pixel centres
    gy = torch.arange(height, dtype=torch.float32) + 0.5
    for shape in SHAPES:
        items = [(b * slots + j, o) for b, s in enumerate(scenes) for j, o in enumerate(s.objects) if o.shape == shape]
        if not items:
            continue
        index = torch.tensor([i for i, _ in items])
        tracks = np.stack([np.stack(trajectory(o, frames)) for _, o in items])  # k 3 t
        tracks = torch.from_numpy(tracks).float()[..., None, None]  # k 3 t 1 1
        size = torch.tensor([o.size for _, o in items], dtype=torch.float32)[:, None, None, None]
        px = gx - tracks[:, 0]  # k t 1 w
        py = gy[:, None] - tracks[:, 1]  # k t h 1
        d = signed_distance(shape, px, py, size, tracks[:, 2])  # k t h w
        coverage[index] = (0.5 - d).clamp_(0.0, 1.0)
        colour = torch.tensor([COLOURS[o.colour] for _, o in items], dtype=torch.float32) / 255  # k c
        delta[index] = colour - background[index // slots]
    coverage = coverage.view(B, slots, frames, 1, height, width)
    delta = delta.view(B, slots, 1, 3, 1, 1)
    # objects never overlap, so each one simply adds its colour over the background
    video = background[:, None, :, None, None] + coverage[:, 0] * delta[:, 0]  # b t c h w
    return video.addcmul_(coverage[:, 1], delta[:, 1]).clamp_(0.0, 1.0)  # hand-built specs may overlap


def render(scene: SceneSpec) -> torch.Tensor:
    """Render one scene into a float clip `t c h w` in [0, 1]."""
    return render_batch([scene])[0]


# ----------------------------------------------------------------------------
# Captions: English and Chinese from the same spec, several templates each;
# template 0 is canonical and is what evaluation uses.

LANGUAGES = ("en", "zh", "zh-hans")  # English, Chinese (traditional), Chinese (simplified)
ZH_COLOURS = {"red": "紅", "green": "綠", "blue": "藍", "yellow": "黃", "purple": "紫", "cyan": "青", "orange": "橙", "white": "白"}
ZH_SHAPES = {"circle": "圓形", "square": "正方形", "triangle": "三角形"}
ZH_MOTIONS = {
    "moves left": "向左移動",
    "moves right": "向右移動",
    "moves up": "向上移動",
    "moves down": "向下移動",
    "rotates clockwise": "順時針旋轉",
    "rotates counterclockwise": "逆時針旋轉",
    "bounces": "彈跳",
    "stays still": "靜止不動",
}
EN_PROGRESSIVE = {  # "is ...ing" phrasing of each motion
    "moves left": "is moving left",
    "moves right": "is moving right",
    "moves up": "is moving up",
    "moves down": "is moving down",
    "rotates clockwise": "is rotating clockwise",
    "rotates counterclockwise": "is rotating counterclockwise",
    "bounces": "is bouncing",
    "stays still": "is staying still",
}
TRADITIONAL = "紅綠藍黃圓動順時針轉彈靜個後換"  # the last two are for stories: 然後 then, 切換到 cut to
SIMPLIFIED = "红绿蓝黄圆动顺时针转弹静个后换"
TO_SIMPLIFIED = str.maketrans(TRADITIONAL, SIMPLIFIED)
TO_TRADITIONAL = str.maketrans(SIMPLIFIED, TRADITIONAL)


def _en(o: ObjectSpec, template: int) -> str:
    a = "an" if o.colour[0] in "aeiou" else "a"  # an orange square
    return [
        f"{a} {o.colour} {o.shape} {o.motion}",
        f"the {o.colour} {o.shape} {o.motion}",
        f"{a} {o.colour} {o.shape} that {o.motion}",
        f"{a} {o.colour} {o.shape} {EN_PROGRESSIVE[o.motion]}",
    ][template]


def _zh(o: ObjectSpec, template: int) -> str:
    c, s, m = ZH_COLOURS[o.colour], ZH_SHAPES[o.shape], ZH_MOTIONS[o.motion]
    return [f"{c}色的{s}{m}", f"一個{c}色的{s}{m}", f"{c}色{s}{m}"][template]


CAPTION_TEMPLATES = {"en": 4, "zh": 3, "zh-hans": 3}  # phrasings per language


def caption(scene: SceneSpec | ObjectSpec, lang: str = "en", template: int = 0) -> str:
    """The caption of a scene: `a red circle moves left` / `紅色的圓形向左移動`.

    template 0 is canonical; odd templates join two objects with `和` in Chinese,
    the canonical join is `and` / `，`.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {LANGUAGES}")
    if not 0 <= template < CAPTION_TEMPLATES[lang]:
        raise ValueError(f"{lang} has templates 0..{CAPTION_TEMPLATES[lang] - 1}, got {template}")
    objects = scene.objects if isinstance(scene, SceneSpec) else (scene,)
    if lang == "en":
        return " and ".join(_en(o, template) for o in objects)
    text = ("和" if template % 2 else "，").join(_zh(o, template) for o in objects)
    return text.translate(TO_SIMPLIFIED) if lang == "zh-hans" else text


# ----------------------------------------------------------------------------
# Stories (shared/shapesworld-stories.md): a long clip told as segments.
#
# Segment k covers frames 16k .. 16k+16; consecutive segments share their
# boundary frame, so n segments make 16n + 1 frames. A `StoryPlan` says what each
# segment shows (its (shape, colour, motion) per object) and where the cuts are;
# a `StorySpec` is the plan made concrete: one 17-frame v1 `SceneSpec` per
# segment, whose objects start from the state the previous segment left them in.
# Choices the addendum leaves open:
# - Inside a shot every object keeps its size; position and angle carry over, and
#   each segment draws its own speed, spin or bounce (gravity, restitution) within
#   the v1 ranges. A bounce starts at rest where the object is (>= 10 px above its
#   floor); gravity puts the first impact at frame 4.5..8 of the segment, as in v1.
# - A shape keeps its canonical pose until it first rotates; after that it keeps
#   the angle the rotation left it at.
# - "Fully in view" keeps the anti-aliased edge on the canvas too (0.5 px past the
#   outline), as v1 does; a bounce touches the bottom edge, as in v1. A start state
#   given by the caller (image-to-video, extension) only needs its outline in view.
# - The planner is exact for one object: per axis, the positions from which the
#   rest of the shot can still be told form an interval, propagated backwards
#   (moves shift it, a bounce scales the height above the floor by 0..0.8), and
#   forwards to find the first segment that cannot fit. A story fits when it fits
#   at the smallest size with every rotation ending in the canonical pose (a spin of
#   10..20 deg/frame for 16 frames turns 160..320 deg, more than a symmetry period,
#   so any end pose is reachable). Two objects are drawn that way until they keep
#   MIN_GAP_PX apart in every frame of the shot.
# - At `cut to` the new shot is drawn afresh; when it shows the same objects as
#   the frame before, it is redrawn until one of them visibly jumps or changes size,
#   so that every cut is a change of image.

SEGMENT_FRAMES = DEFAULT_FRAMES  # frames of one segment, boundary frames included
SEGMENT_STEP = DEFAULT_FRAMES - 1  # segment k starts at frame 16k
MIN_BOUNCE_HEIGHT = 10.0  # px: a bounce starts at least this far above the object's floor
IN_VIEW_MARGIN = 0.5  # px past the outline that anti-aliasing draws, kept on the canvas
CUT_MIN_EXTRA_JUMP = 5.0  # px: at a cut to the same objects, one jumps this much beyond what its motion explains
CUT_MIN_AREA_RATIO = 1.6  # ... or its area changes by this factor
MAX_STORY_TRIES = 200  # draws of a two-object shot (or of a visible cut) before giving up
_FAR = 1e9  # an unbounded end of an interval


def story_frames(segments: int) -> int:
    """Frames of a story of `segments` segments: 16n + 1."""
    return SEGMENT_STEP * segments + 1


class StoryError(ValueError):
    """A story ShapesWorld cannot tell; `segment` is the index (0-based) of the first segment that cannot fit."""

    def __init__(self, message: str, segment: int | None = None, why: str = ""):
        super().__init__(message)
        self.segment, self.why = segment, why  # why: the reason alone, without the segment's name


Combination = tuple[str, str, str]  # (shape, colour, motion)


@dataclass(frozen=True)
class StoryPlan:
    """What a story shows: per segment, the (shape, colour, motion) of each object, and where shots start."""

    segments: tuple[tuple[Combination, ...], ...]  # segment k: one (shape, colour, motion) per object
    cuts: tuple[int, ...] = ()  # indices k >= 1 of the segments that start a new shot (`cut to`)

    def __post_init__(self):
        segments = tuple(tuple(tuple(o) for o in ([s] if _is_combination(s) else s)) for s in self.segments)
        if not segments:
            raise StoryError("a story has at least one segment")
        for k, seg in enumerate(segments):
            if not 1 <= len(seg) <= 2:
                raise StoryError(f"segment {k + 1} shows {len(seg)} objects; a ShapesWorld scene has 1 or 2", k)
            for combo in seg:
                check_combination(*combo)
            if len({c for _, c, _ in seg}) < len(seg):
                raise StoryError(f"segment {k + 1}: two objects may not share a colour, got {seg}", k)
        cuts = tuple(sorted(set(int(c) for c in self.cuts)))
        if any(not 1 <= c < len(segments) for c in cuts):
            raise StoryError(f"cuts must be segment indices 1..{len(segments) - 1}, got {self.cuts}")
        object.__setattr__(self, "cuts", cuts)
        object.__setattr__(self, "segments", tuple(_same_shot_order(segments, cuts)))

    @property
    def shots(self) -> tuple[tuple[int, int], ...]:
        """(first, stop) segment indices of each shot."""
        edges = (0, *self.cuts, len(self.segments))
        return tuple(zip(edges[:-1], edges[1:]))

    @property
    def frames(self) -> int:
        return story_frames(len(self.segments))


def _is_combination(item) -> bool:
    return isinstance(item, (tuple, list)) and len(item) == 3 and all(isinstance(v, str) for v in item)


def _objects_text(seg) -> str:
    return " and ".join(f"a {colour} {shape}" for shape, colour, _ in seg)


def _same_shot_order(segments, cuts):
    """Check that every segment of a shot shows the objects of its first segment; list them in that order."""
    first = 0
    for k, seg in enumerate(segments):
        if k == 0 or k in cuts:
            first = k
            yield seg
            continue
        want = [(shape, colour) for shape, colour, _ in segments[first]]
        by_look = {(shape, colour): motion for shape, colour, motion in seg}
        if sorted(by_look) != sorted(want):
            raise StoryError(
                f"segment {k + 1} shows {_objects_text(seg)}, but its shot shows {_objects_text(segments[first])}: "
                f"inside a shot every segment shows the same objects; start a new shot with 'cut to' to show others", k)
        yield tuple((shape, colour, by_look[(shape, colour)]) for shape, colour in want)


@dataclass(frozen=True)
class ObjectState:
    """Where an object is and how it looks at one frame: what a segment inherits."""

    shape: str  # one of SHAPES
    colour: str  # a key of COLOURS
    size: float  # r in px
    x: float  # centre, px from the left edge
    y: float  # centre, px from the top edge
    angle: float | None = None  # degrees clockwise; None: the shape's canonical pose

    def __post_init__(self):
        if self.angle is None:
            object.__setattr__(self, "angle", CANONICAL_ANGLE[self.shape])
        for name in ("size", "x", "y", "angle"):
            object.__setattr__(self, name, float(getattr(self, name)))


@dataclass(frozen=True)
class StorySpec:
    """A story made concrete: one 17-frame v1 SceneSpec per segment, objects at the state they start from."""

    segments: tuple[SceneSpec, ...]  # segment k covers frames 16k .. 16k+16 of the story
    cuts: tuple[int, ...] = ()  # segments that start a new shot

    def __post_init__(self):
        object.__setattr__(self, "segments", tuple(self.segments))
        plan = StoryPlan(tuple(tuple((o.shape, o.colour, o.motion) for o in s.objects) for s in self.segments), self.cuts)
        object.__setattr__(self, "cuts", plan.cuts)
        first = self.segments[0]
        for k, seg in enumerate(self.segments):
            if seg.frames != SEGMENT_FRAMES or (seg.height, seg.width, seg.background) != (
                    first.height, first.width, first.background):
                raise StoryError(f"segment {k + 1}: every segment is a {SEGMENT_FRAMES}-frame scene on one canvas", k)
            if k and k not in self.cuts:
                _check_carried_over(self.segments[k - 1], seg, k)

    @property
    def plan(self) -> StoryPlan:
        return StoryPlan(tuple(tuple((o.shape, o.colour, o.motion) for o in s.objects) for s in self.segments), self.cuts)

    @property
    def shots(self) -> tuple[tuple[int, int], ...]:
        return self.plan.shots

    @property
    def frames(self) -> int:
        return story_frames(len(self.segments))

    @property
    def height(self) -> int:
        return self.segments[0].height

    @property
    def width(self) -> int:
        return self.segments[0].width

    def to_dict(self) -> dict:
        return {"segments": [s.to_dict() for s in self.segments], "cuts": list(self.cuts)}

    @classmethod
    def from_dict(cls, d: dict) -> "StorySpec":
        return cls(tuple(SceneSpec.from_dict(s) for s in d["segments"]), tuple(d.get("cuts", ())))


def end_state(scene: SceneSpec, frame: int = -1) -> tuple[ObjectState, ...]:
    """The state of every object of a scene at `frame` (default: its last frame)."""
    frame = frame % scene.frames
    states = []
    for o in scene.objects:
        x, y, angle = trajectory(o, frame + 1)
        states.append(ObjectState(o.shape, o.colour, o.size, x[frame], y[frame], angle[frame]))
    return tuple(states)


def story_end_state(story: StorySpec) -> tuple[ObjectState, ...]:
    """The objects at the last frame of a story: the start state of an extension in the same shot."""
    return end_state(story.segments[-1])


def _check_carried_over(before: SceneSpec, after: SceneSpec, k: int) -> None:
    for was, o in zip(end_state(before), after.objects):
        jump = max(abs(was.x - o.x), abs(was.y - o.y), abs(was.size - o.size))
        turn = abs(_wrap_deg(was.angle - o.angle, SYMMETRY_DEG[o.shape]))
        if jump > 1e-6 or turn > 1e-6:
            raise StoryError(f"segment {k + 1}: the {o.colour} {o.shape} does not start where segment {k} left it "
                             f"(size, position and angle carry over inside a shot; a new shot needs a cut)", k)


def _wrap_deg(delta: float, period: float) -> float:
    return 0.0 if period == 0 else (delta + period / 2) % period - period / 2


# ---- planning one object through one shot: intervals of positions, per axis


@functools.cache
def _bounce_table() -> np.ndarray:
    """(first impact T, restitution e, height u above the floor at frame 16 as a fraction of the fall): rows."""
    rows = []
    for T in np.linspace(*FIRST_IMPACT_RANGE, 36):
        for e in np.linspace(*RESTITUTION_RANGE, 21):
            rows.append((T, e, 1.0 - bounce_y(np.array([float(SEGMENT_STEP)]), 0.0, 1.0, 2.0 / T**2, e)[0]))
    return np.array(rows)


def _bounce_reach() -> tuple[float, float]:
    u = _bounce_table()[:, 2]
    return float(u.min()), float(u.max())


def _angles(rng, shape: str, motions, start_angle: float | None, canonical_end: bool):
    """Angle at the start of each segment and spin (deg/frame, signed) of each; rotations drawn in SPIN_RANGE."""
    period = SYMMETRY_DEG[shape]
    if start_angle is not None:
        angle = float(start_angle)
    elif motions[0] in ROTATIONS and not canonical_end:
        angle = rng.uniform(0.0, period)
    else:
        angle = CANONICAL_ANGLE[shape]
    angles, spins = [], []
    for m in motions:
        angles.append(angle)
        if m not in ROTATIONS:
            spins.append(0.0)
            continue
        sign = ROTATIONS[m]
        if canonical_end:  # a turn of 160..320 deg that ends upright: any start pose has one
            need = (sign * (CANONICAL_ANGLE[shape] - angle)) % period
            turns = [need + j * period for j in range(int(SPIN_RANGE[1] * SEGMENT_STEP / period) + 2)]
            turns = [t for t in turns if SPIN_RANGE[0] * SEGMENT_STEP <= t <= SPIN_RANGE[1] * SEGMENT_STEP]
            speed = turns[int(rng.integers(len(turns)))] / SEGMENT_STEP
        else:
            speed = rng.uniform(*SPIN_RANGE)
        spins.append(speed)
        angle = angle + sign * speed * SEGMENT_STEP
    return angles, spins


def _geometry(shape: str, size: float, motions, angles, height: int, width: int, margin: float):
    """Per segment: x bounds, y bounds and the bounce floor of an object of this size and pose."""
    out = []
    for m, angle in zip(motions, angles):
        left, right, top, bottom = extent(shape, size, angle, m in ROTATIONS)
        out.append(((left + margin, width - right - margin), (top + margin, height - bottom - margin), height - bottom))
    return out


def _axis_steps(motions, axis: int):
    """Per segment, how the coordinate moves along `axis` (0 = x, 1 = y): ('fixed',), ('move', lo, hi), ('bounce',)."""
    steps = []
    for m in motions:
        if m in MOVES and MOVES[m][axis]:
            d = [MOVES[m][axis] * s * SEGMENT_STEP for s in SPEED_RANGE]
            steps.append(("move", min(d), max(d)))
        elif m == "bounces" and axis == 1:
            steps.append(("bounce",))
        else:
            steps.append(("fixed",))
    return steps


def _start_bounds(step, bounds, floor):
    lo, hi = bounds
    return (lo, min(hi, floor - MIN_BOUNCE_HEIGHT)) if step[0] == "bounce" else (lo, hi)


def _advance(step, lo: float, hi: float, bounds, floor) -> tuple[float, float]:
    """Where positions in [lo, hi] at a segment's start can be at its end (staying in view)."""
    if step[0] == "move":
        return max(lo + step[1], bounds[0]), min(hi + step[2], bounds[1])
    if step[0] == "bounce":
        umin, umax = _bounce_reach()
        return floor - umax * (floor - lo), floor - umin * (floor - hi)
    return lo, hi


def _first_misfit(steps, geometry, axis: int, start: float | None) -> int | None:
    """The first segment from which no position on this axis fits, or None when the whole shot fits."""
    lo, hi = (-_FAR, _FAR) if start is None else (start, start)
    for k, (step, geo) in enumerate(zip(steps, geometry)):
        blo, bhi = _start_bounds(step, geo[axis], geo[2])
        lo, hi = max(lo, blo), min(hi, bhi)
        if lo > hi + 1e-9:
            return k
        lo, hi = _advance(step, lo, hi, geo[axis], geo[2])
        if lo > hi + 1e-9:
            return k
    return None


def _backward(steps, geometry, axis: int) -> list[tuple[float, float]]:
    """B[k]: positions at the start of segment k from which segments k.. can all be told (B[n]: anywhere)."""
    umin, umax = _bounce_reach()
    sets = [(-_FAR, _FAR)]
    for step, geo in zip(reversed(steps), reversed(geometry)):
        (blo, bhi), (lo, hi), floor = _start_bounds(step, geo[axis], geo[2]), geo[axis], geo[2]
        a, b = sets[0]
        if step[0] == "move":
            a, b = max(a, lo), min(b, hi)
            cand = (a - step[2], b - step[1])
        elif step[0] == "bounce":  # ends at floor - u h, u in [umin, umax], h = floor - y0
            p, q = floor - b, floor - a  # u h must land in [p, q]
            h_lo, h_hi = p / umax, (q / umin if umin > 0 else _FAR)
            cand = (floor - h_hi, floor - h_lo)
        else:
            cand = (a, b)
        sets.insert(0, (max(cand[0], blo), min(cand[1], bhi)))
    return sets


def _sample_axis(rng, steps, geometry, axis: int, start: float | None):
    """Start position of each segment on this axis and its law: (start, displacement) or (start, (T, e))."""
    sets = _backward(steps, geometry, axis)
    lo, hi = sets[0]
    z = float(start) if start is not None else rng.uniform(lo, hi)
    out = []
    for k, (step, geo) in enumerate(zip(steps, geometry)):
        a, b = sets[k + 1]
        if step[0] == "move":
            bounds = geo[axis]
            d_lo, d_hi = max(step[1], max(a, bounds[0]) - z), min(step[2], min(b, bounds[1]) - z)
            d = rng.uniform(d_lo, d_hi) if d_lo < d_hi else 0.5 * (d_lo + d_hi)
            out.append((z, d))
            z = z + d
        elif step[0] == "bounce":
            law = _sample_bounce(rng, z, geo[2], a, b)
            out.append((z, law))
            z = float(bounce_y(np.array([float(SEGMENT_STEP)]), z, geo[2], 2 * (geo[2] - z) / law[0] ** 2, law[1])[0])
        else:
            out.append((z, None))
    return out


def _sample_bounce(rng, y0: float, floor: float, a: float, b: float) -> tuple[float, float]:
    """(first impact, restitution) of a bounce from y0 that ends (frame 16) within [a, b]."""
    h = floor - y0
    u_lo, u_hi = (floor - b) / h, (floor - a) / h
    for _ in range(20):  # drawn like v1 while that lands in range, else from the table
        T, e = rng.uniform(*FIRST_IMPACT_RANGE), rng.uniform(*RESTITUTION_RANGE)
        u = 1.0 - bounce_y(np.array([float(SEGMENT_STEP)]), 0.0, 1.0, 2.0 / T**2, e)[0]
        if u_lo <= u <= u_hi:
            return T, e
    table = _bounce_table()
    ok = np.flatnonzero((table[:, 2] >= u_lo) & (table[:, 2] <= u_hi))
    i = ok[rng.integers(len(ok))] if len(ok) else int(np.abs(table[:, 2] - 0.5 * (u_lo + u_hi)).argmin())
    return float(table[i, 0]), float(table[i, 1])


def _misfit(shape, size, motions, angles, height, width, margin, start) -> int | None:
    geometry = _geometry(shape, size, motions, angles, height, width, margin)
    found = [_first_misfit(_axis_steps(motions, axis), geometry, axis, None if start is None else start[axis])
             for axis in (0, 1)]
    found = [k for k in found if k is not None]
    return min(found) if found else None


def _plan_object(rng, shape: str, colour: str, motions, height: int, width: int,
                 start: ObjectState | None) -> list[ObjectSpec] | int:
    """One object through one shot: an ObjectSpec per segment, or the index of the first segment that cannot fit."""
    margin = IN_VIEW_MARGIN if start is None else 0.0
    xy = None if start is None else (start.x, start.y)
    start_angle = None if start is None else start.angle
    smallest = SIZE_RANGE[0] if start is None else start.size
    misfit = _misfit(shape, smallest, motions, _angles(rng, shape, motions, start_angle, True)[0], height, width,
                     margin, xy)
    if misfit is not None:
        return misfit
    size = smallest if start is not None else rng.uniform(*SIZE_RANGE)
    for attempt in range(8):  # a random size and random spins first; then smaller sizes, rotations ending upright
        angles, spins = _angles(rng, shape, motions, start_angle, canonical_end=attempt >= 4)
        if _misfit(shape, size, motions, angles, height, width, margin, xy) is None:
            break
        size = smallest + rng.uniform(0.0, 1.0) * (size - smallest) if attempt >= 4 else size
    else:
        size, (angles, spins) = smallest, _angles(rng, shape, motions, start_angle, True)
    geometry = _geometry(shape, size, motions, angles, height, width, margin)
    xs = _sample_axis(rng, _axis_steps(motions, 0), geometry, 0, None if xy is None else xy[0])
    ys = _sample_axis(rng, _axis_steps(motions, 1), geometry, 1, None if xy is None else xy[1])
    specs = []
    for m, angle, spin, (x, dx), (y, dy), geo in zip(motions, angles, spins, xs, ys, geometry):
        params = dict(shape=shape, colour=colour, motion=m, size=size, x=x, y=y, angle=angle)
        if m in MOVES:
            params["speed"] = abs(dx if MOVES[m][0] else dy) / SEGMENT_STEP
        elif m in ROTATIONS:
            params["speed"] = spin
        elif m == "bounces":
            T, e = dy
            params.update(gravity=2 * (geo[2] - y) / T**2, restitution=e, floor=geo[2])
        specs.append(ObjectSpec(**params))
    return specs


# ---- shots and stories


def _shot_gap(tracks) -> float:
    """Smallest outline-to-outline distance (bounding circles) of two objects over a shot."""
    return min(min_gap(a, b, SEGMENT_FRAMES) for a, b in zip(*tracks))


def _misfit_error(plan: StoryPlan, k: int, height: int, width: int, why: str) -> StoryError:
    seg = plan.segments[k]
    text = " and ".join(f"{c} {s} {m}" for s, c, m in seg)
    return StoryError(f"segment {k + 1} of {len(plan.segments)} ({text}) cannot fit on a {height}x{width} canvas: "
                      f"{why}", k, why)


def _sample_shot(rng, plan: StoryPlan, first: int, stop: int, height: int, width: int, start) -> list[SceneSpec]:
    segs = plan.segments[first:stop]
    if start is not None:
        start = tuple(start)
        wanted = [(s, c) for s, c, _ in segs[0]]
        by_look = {(o.shape, o.colour): o for o in start}
        if sorted(by_look) != sorted(wanted):
            raise StoryError(f"the start state shows {[f'{c} {s}' for s, c in by_look]}, but segment {first + 1} "
                             f"shows {[f'{c} {s}' for s, c in wanted]}; start a new shot (cut) to show other objects",
                             first)
        start = [by_look[w] for w in wanted]
    tracks = _draw_shot(rng, plan, first, stop, height, width, start, MAX_STORY_TRIES)
    if tracks is None:  # name the first segment the pair cannot get through
        k = next((k for k in range(first, stop - 1)
                  if _draw_shot(rng, plan, first, k + 1, height, width, start, MAX_STORY_TRIES) is None), stop - 1)
        raise _misfit_error(plan, k, height, width, f"its two objects cannot keep {MIN_GAP_PX:g} px apart")
    return [SceneSpec(tuple(objs), SEGMENT_FRAMES, height, width) for objs in zip(*tracks)]


def _draw_shot(rng, plan: StoryPlan, first: int, stop: int, height: int, width: int, start, tries: int):
    """Each object's ObjectSpec per segment of one shot, two objects drawn until they keep apart (None if never)."""
    segs = plan.segments[first:stop]
    n_obj = len(segs[0])
    for _ in range(tries if n_obj == 2 else 1):
        tracks = []
        for j in range(n_obj):
            shape, colour, _ = segs[0][j]
            track = _plan_object(rng, shape, colour, [seg[j][2] for seg in segs], height, width,
                                 None if start is None else start[j])
            if isinstance(track, int):
                how = "from the given start state" if start is not None else "whatever its start, speeds and size"
                raise _misfit_error(plan, first + track, height, width,
                                    f"the {colour} {shape} would leave the canvas ({how}; every object stays fully "
                                    f"in view, and a bounce starts >= {MIN_BOUNCE_HEIGHT:g} px above its floor)")
            tracks.append(track)
        if n_obj == 1 or _shot_gap(tracks) >= MIN_GAP_PX:
            return tracks
    return None


def _explained_step(o: ObjectSpec) -> float:
    """The largest per-frame move of an object in its segment, plus what gravity adds in a frame."""
    x, y, _ = trajectory(o, SEGMENT_FRAMES)
    return float(np.hypot(np.diff(x), np.diff(y)).max()) + o.gravity


def _visible_cut(before: SceneSpec, after: SceneSpec) -> bool:
    """Whether the first frame of a new shot differs visibly from the last frame of the old one."""
    old = {(o.colour, o.shape): (o, s) for o, s in zip(before.objects, end_state(before))}
    if sorted(old) != sorted((o.colour, o.shape) for o in after.objects):
        return True
    for o in after.objects:
        prev, state = old[(o.colour, o.shape)]
        jump = math.hypot(o.x - state.x, o.y - state.y)
        if jump >= max(_explained_step(prev), _explained_step(o)) + MIN_GAP_PX + CUT_MIN_EXTRA_JUMP:
            return True
        if max(o.size, state.size) ** 2 >= CUT_MIN_AREA_RATIO * min(o.size, state.size) ** 2:
            return True
    return False


def sample_story(
    rng,
    plan: StoryPlan,
    height: int = DEFAULT_HEIGHT,
    width: int = DEFAULT_WIDTH,
    start: tuple[ObjectState, ...] | None = None,
) -> StorySpec:
    """A concrete story that tells `plan`: start states, speeds and sizes drawn from `rng` so that it fits.

    `start`: the objects' state at frame 0 (image-to-video, or extending a story from
    `story_end_state`); None draws it. Raises StoryError naming the first segment that
    cannot fit on the canvas.
    """
    if not isinstance(plan, StoryPlan):
        raise TypeError(f"sample_story takes a StoryPlan (see minivid.text.parse_story), got {type(plan).__name__}")
    check_canvas(SEGMENT_FRAMES, height, width)
    rng = as_rng(rng)
    segments = []
    for first, stop in plan.shots:
        for _ in range(MAX_STORY_TRIES if first else 1):  # a cut must change the image
            shot = _sample_shot(rng, plan, first, stop, height, width, start if first == 0 else None)
            if first == 0 or _visible_cut(segments[-1], shot[0]):
                break
        else:
            raise _misfit_error(plan, first, height, width, "no placement of its objects differs visibly from the "
                                "frame before the cut")
        segments += shot
    return StorySpec(tuple(segments), plan.cuts)


def render_stories(stories: list[StorySpec]) -> torch.Tensor:
    """Render stories of one length and canvas into `b t c h w`; the boundary frame comes from the next segment."""
    n = len(stories[0].segments)
    if any(len(s.segments) != n for s in stories):
        raise ValueError("render_stories needs stories of one length; render others separately")
    clips = render_batch([seg for s in stories for seg in s.segments])  # (b n) 17 c h w
    clips = clips.view(len(stories), n, *clips.shape[1:])
    return torch.cat([clips[:, :-1, :SEGMENT_STEP].flatten(1, 2), clips[:, -1]], dim=1)


def render_story(story: StorySpec) -> torch.Tensor:
    """Render a story into a float clip `t c h w` of 16n + 1 frames."""
    return render_stories([story])[0]


STORY_JOINS = {  # (same shot, new shot)
    "en": (", then ", "; cut to "),
    "zh": ("，然後", "；切換到"),
    "zh-hans": ("，然后", "；切换到"),
}


def story_caption(story: StorySpec | StoryPlan, lang: str = "en", template: int = 0) -> str:
    """The caption of a story: segment captions joined by `, then ` / `; cut to ` (`，然後` / `；切換到`).

    Template 0 is canonical: every segment says its own v1 caption. In English,
    template 1 says `the` for the later segments of a shot (`..., then the red
    circle moves up`); other templates phrase every segment with that v1 template.
    """
    plan = story.plan if isinstance(story, StorySpec) else story
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}; use one of {LANGUAGES}")
    if not 0 <= template < CAPTION_TEMPLATES[lang]:
        raise ValueError(f"{lang} has templates 0..{CAPTION_TEMPLATES[lang] - 1}, got {template}")
    then, cut = STORY_JOINS[lang]
    text = ""
    for k, seg in enumerate(plan.segments):
        new_shot = k == 0 or k in plan.cuts
        t = 0 if (new_shot and lang == "en" and template == 1) else template
        objects = tuple(ObjectSpec(*combo) for combo in seg)
        text += ("" if k == 0 else cut if new_shot else then) + caption(SceneSpec(objects), lang, t)
    return text


def sample_story_plan(rng, segments: int, split: str = "train", num_objects: int = 1,
                      cut_prob: float = 0.0) -> StoryPlan:
    """A random plan: each shot's objects and each segment's motions drawn from the split's combinations.

    'train' only shows training combinations; 'heldout' shows a held-out
    combination in at least one segment. A boundary is a cut with probability cut_prob.
    """
    rng = as_rng(rng)
    if num_objects not in (1, 2) or segments < 1:
        raise ValueError(f"a story has >= 1 segments of 1 or 2 objects, got {segments} segments of {num_objects}")
    combos = split_combinations(split)
    train = split_combinations("train")
    cuts = tuple(k for k in range(1, segments) if rng.random() < cut_prob)
    edges = (0, *cuts, segments)
    shots = zip(edges[:-1], edges[1:])
    chosen = []
    for first, stop in shots:
        looks = [combos[rng.integers(len(combos))]]
        if num_objects == 2:
            others = [c for c in combos if c[1] != looks[0][1]]
            looks.append(others[rng.integers(len(others))])
        for k in range(first, stop):
            seg = []
            for j, (shape, colour, motion) in enumerate(looks):
                if k > first or j > 0:  # the first object of a shot's first segment keeps its drawn combination
                    options = [m for s, c, m in (combos if split == "heldout" and rng.random() < 0.3 else train)
                               if (s, c) == (shape, colour)] or [motion]
                    motion = options[rng.integers(len(options))]
                seg.append((shape, colour, motion))
            chosen.append(tuple(seg))
    return StoryPlan(tuple(chosen), cuts)


def sample_random_story(rng=None, segments: int = 4, split: str = "train", num_objects: int = 1,
                        cut_prob: float = 0.0, height: int = DEFAULT_HEIGHT, width: int = DEFAULT_WIDTH,
                        max_tries: int = 100) -> StorySpec:
    """A random story that fits the canvas: plans are drawn (sample_story_plan) until one fits."""
    rng = as_rng(rng)
    for _ in range(max_tries):
        plan = sample_story_plan(rng, segments, split, num_objects, cut_prob)
        try:
            return sample_story(rng, plan, height, width)
        except StoryError:
            continue
    raise StoryError(f"no random {segments}-segment story of {num_objects} object(s) fits a {height}x{width} canvas "
                     f"in {max_tries} tries")


# ----------------------------------------------------------------------------
# The dataset: clip i is drawn from its own seed (seed, i), so any index can be
# re-rendered alone, by any worker, in any order.


class ShapesWorld(torch.utils.data.Dataset):
    """A seeded stream of ShapesWorld clips with captions in random languages and phrasings.

    Each item is {"video": (t c h w) float, "caption": str, "index": int}. Batches
    fetched through a DataLoader are rendered in one vectorised call
    (`__getitems__`), which is what makes thousands of clips per second possible.
    """

    def __init__(
        self,
        length: int = 1_000_000,
        split: str = "train",
        seed: int = 0,
        frames: int = DEFAULT_FRAMES,
        height: int = DEFAULT_HEIGHT,
        width: int = DEFAULT_WIDTH,
        two_object_prob: float = 0.5,
        languages: tuple[str, ...] = LANGUAGES,
        num_objects: int | None = None,
        rotation_start: str = "random",
        rotation_speed: float | None = None,
    ):
        check_canvas(frames, height, width)
        check_rotation_options(rotation_start, rotation_speed)
        split_combinations(split)  # validates the split name
        unknown = [lang for lang in languages if lang not in LANGUAGES]
        if unknown or not languages:
            raise ValueError(f"languages must be a non-empty subset of {LANGUAGES}, got {languages}")
        self.length, self.split, self.seed = length, split, seed
        self.frames, self.height, self.width = frames, height, width
        self.two_object_prob, self.languages, self.num_objects = two_object_prob, tuple(languages), num_objects
        self.rotation_start, self.rotation_speed = rotation_start, rotation_speed

    def __len__(self) -> int:
        return self.length

    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a ShapesWorld of length {self.length}")
        return np.random.default_rng([self.seed, index])

    def scene(self, index: int) -> SceneSpec:
        """The scene spec of clip `index`."""
        return self._draw(index)[0]

    def _draw(self, index: int) -> tuple[SceneSpec, str]:
        rng = self._rng(index)
        scene = sample_scene(rng, self.split, self.num_objects, self.frames, self.height, self.width,
                             self.two_object_prob, rotation_start=self.rotation_start,
                             rotation_speed=self.rotation_speed)
        lang = self.languages[rng.integers(len(self.languages))]
        return scene, caption(scene, lang, int(rng.integers(CAPTION_TEMPLATES[lang])))

    def __getitems__(self, indices: list[int]) -> list[dict]:
        drawn = [self._draw(int(i)) for i in indices]
        videos = render_batch([scene for scene, _ in drawn])
        return [{"video": v, "caption": c, "index": int(i)} for v, (_, c), i in zip(videos, drawn, indices)]

    def __getitem__(self, index: int) -> dict:
        return self.__getitems__([index])[0]


# ----------------------------------------------------------------------------
# The fixed evaluation set (data/eval_set.json): rebuild with
#   python -m minivid.world --eval-set data/eval_set.json

EVAL_SEED = 2024


def build_eval_set(seed: int = EVAL_SEED, per_combination: int = 2, two_object: int = 128) -> dict:
    """Every valid single-object combination `per_combination` times (seen and held-out),
    plus `two_object` two-object scenes of seen combinations, all at the default canvas."""
    rng = np.random.default_rng(seed)
    items = []
    for combo in valid_combinations():
        split = "heldout" if combo in HELD_OUT else "train"
        for _ in range(per_combination):
            scene = sample_scene(rng, split, 1, combination=combo)
            items.append({"group": "heldout" if split == "heldout" else "seen", "scene": scene.to_dict()})
    for _ in range(two_object):
        items.append({"group": "two_object", "scene": sample_scene(rng, "train", 2).to_dict()})
    return {"version": "ShapesWorld v1", "seed": seed, "items": items}


def load_eval_set(path) -> list[tuple[str, SceneSpec]]:
    """(group, scene) pairs of a saved evaluation set; groups: seen, heldout, two_object."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    return [(item["group"], SceneSpec.from_dict(item["scene"])) for item in data["items"]]


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="ShapesWorld utilities")
    parser.add_argument("--eval-set", required=True, help="where to write the fixed evaluation set (JSON)")
    parser.add_argument("--seed", type=int, default=EVAL_SEED)
    args = parser.parse_args()
    with open(args.eval_set, "w", encoding="utf-8") as f:
        json.dump(build_eval_set(args.seed), f, indent=1, ensure_ascii=False)
    print(f"wrote {args.eval_set}")
