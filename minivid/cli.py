"""The `minivid` command line.

    minivid render "a red circle moves left" --out clip.gif     # ShapesWorld ground truth for a prompt
    minivid render "紅色的圓形向左移動，藍色的正方形順時針旋轉" --frames 33 --out two.gif
    minivid cost sora-like-60-frames --width 1152 --depth 28      # tokens and FLOPs of a video DiT
    minivid generate "a red circle moves left" --out clip.gif     # the trained text-to-video model
    minivid generate "a blue circle moves left" --edit "a red circle moves left" --strength 0.5 --out edit.gif
                                                                 # edit a rendered clip (SDEdit)

Bad input (an unknown word, a circle asked to rotate, a canvas too small, a flag
out of range, an unwritable --out, a device this machine lacks, a damaged
checkpoint) prints one clear line to stderr and exits with status 2, never a
traceback. Output files are written atomically and never through a symlink onto
its target. Text that the terminal's encoding cannot show is escaped, so a
success is never reported as a failure.
"""
from __future__ import annotations

import argparse
import math
import os
import sys

from minivid import patching, text, viz, world

MAX_FRAMES, MAX_SIZE_PX = 257, 256  # `render`'s canvas: far beyond the course's 17 x 32 x 32, still fits in memory


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (which flag, what is wrong), status 2."""

    def error(self, message):
        _say(f"{self.prog}: {message} (see {self.prog} --help)", sys.stderr)
        sys.exit(2)


def _say(line: str, stream) -> None:
    """Print `line`, escaping what the stream's encoding cannot show (LANG=C, PYTHONIOENCODING=ascii)."""
    try:
        try:
            print(line, file=stream, flush=True)
        except UnicodeEncodeError:
            encoding = getattr(stream, "encoding", None) or "ascii"
            print(line.encode(encoding, "backslashreplace").decode(encoding), file=stream, flush=True)
    except BrokenPipeError:  # e.g. `minivid render ... | head -c0`: nobody reads; the work itself is done
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())


def _typed(text: str | None) -> str | None:
    """A prompt as the user typed it. Under a locale Python cannot decode it in (LANG=C without UTF-8 mode) the
    bytes arrive as surrogates; terminals send UTF-8, so decode them as that."""
    if text is None or not any("\udc80" <= ch <= "\udcff" for ch in text):
        return text
    try:
        return os.fsencode(text).decode("utf-8")
    except UnicodeDecodeError:
        return text


def _bounded(name: str, low: float, high: float, cast=float):
    """An argparse type: `cast(text)`, finite and in [low, high], else a one-line error naming the flag."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be {'an integer' if cast is int else 'a number'} "
                                             f"in [{low:g}, {high:g}], got {text!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise argparse.ArgumentTypeError(f"{name} must be in [{low:g}, {high:g}], got {text}")
        return value
    parse.__name__ = name
    return parse


def render(args) -> str:
    viz.check_video_path(args.out)
    if len(text.split_story(args.prompt)) > 1:  # a story: 16n + 1 frames for n segments
        story = text.prompt_to_story(args.prompt, args.seed, args.height, args.width)
        path = viz.save_video(world.render_story(story), args.out, fps=args.fps)
        return f"wrote {path}: {world.story_caption(story)} ({story.frames}x{args.height}x{args.width}, seed {args.seed})"
    scene = text.prompt_to_scene(args.prompt, args.seed, args.frames, args.height, args.width)
    path = viz.save_video(world.render(scene), args.out, fps=args.fps)
    return f"wrote {path}: {world.caption(scene)} ({args.frames}x{args.height}x{args.width}, seed {args.seed})"


def read_image(path) -> "torch.Tensor":
    """A PNG (or any image Pillow reads) -> (3, H, W) float in [0, 1]; a clear error if it cannot be read."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            pixels = np.asarray(img.convert("RGB"), dtype=np.float32) / 255
    except (OSError, UnidentifiedImageError) as e:
        raise ValueError(f"--image {path}: cannot read it as an image ({e})") from None
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def cost(args) -> str:
    if args.preset not in patching.PRESETS:
        raise ValueError(f"unknown preset {args.preset!r}; use one of {', '.join(patching.PRESETS)}")
    config = patching.PRESETS[args.preset]
    return patching.describe_cost(config, args.width, args.depth, args.steps, attention=args.attention)


def generate(args) -> str:
    from minivid.pipeline import DEFAULT_PATH, DEFAULT_STRENGTH, LONG_PATH, TextToVideo  # loading torch is slow

    segments = len(text.parse_story(args.prompt).segments)  # a bad prompt or output path fails before any model
    viz.check_video_path(args.out)
    image = None if args.image is None else read_image(args.image)
    long = segments > 1 or image is not None or args.frames > world.DEFAULT_FRAMES
    if args.strength is not None and args.edit is None:
        raise ValueError("--strength sets how much of the --edit clip is redrawn: give --edit PROMPT as well")
    clip = None
    if args.edit is not None:  # the ShapesWorld clip of the --edit prompt (as `minivid render` draws it), 1 t c h w
        clip = world.render(text.prompt_to_scene(args.edit, args.seed, args.frames))[None]
    pipe = TextToVideo.from_pretrained(args.model or (LONG_PATH if long else DEFAULT_PATH), device=args.device)
    video = pipe([args.prompt], steps=args.steps, guidance=args.guidance, seed=args.seed, sampler=args.sampler,
                 frames=args.frames, progress=args.progress, init_video=clip, strength=args.strength,
                 autoguidance=args.autoguidance, shift=args.shift, image=image)[0]
    path = viz.save_video(video, args.out, fps=args.fps)
    d = pipe.defaults
    strength = DEFAULT_STRENGTH if args.strength is None else args.strength
    edited = "" if clip is None else f", edited from {args.edit!r} at strength {strength:g}"
    auto = d["autoguidance"] if args.autoguidance is None else args.autoguidance
    edited = (f", autoguidance {auto:g}" if auto else "") + edited
    return (f"wrote {path}: {args.prompt!r} ({video.shape[0]} frames, {args.sampler or d['sampler']} x "
            f"{args.steps or d['steps']} steps, guidance {args.guidance if args.guidance is not None else d['guidance']}, "
            f"seed {args.seed}{edited})")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="minivid", description="build a mini Sora, from scratch")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="render the ShapesWorld clip a prompt describes (ground truth, no model)")
    p.add_argument("prompt", help='e.g. "a red circle moves left" or "紅色的圓形向左移動"')
    p.add_argument("--out", default="clip.gif", help="output file, .gif (or .mp4 with ffmpeg)")
    p.add_argument("--seed", type=int, default=0, help="draws sizes, positions and speeds")
    p.add_argument("--frames", type=_bounded("--frames", 1, MAX_FRAMES, int), default=world.DEFAULT_FRAMES,
                   help=f"clip length, 1..{MAX_FRAMES}")
    p.add_argument("--height", type=_bounded("--height", world.MIN_SIZE_PX, MAX_SIZE_PX, int),
                   default=world.DEFAULT_HEIGHT, help=f"pixels, {world.MIN_SIZE_PX}..{MAX_SIZE_PX}")
    p.add_argument("--width", type=_bounded("--width", world.MIN_SIZE_PX, MAX_SIZE_PX, int),
                   default=world.DEFAULT_WIDTH, help=f"pixels, {world.MIN_SIZE_PX}..{MAX_SIZE_PX}")
    p.add_argument("--fps", type=_bounded("--fps", viz.MIN_FPS, viz.MAX_FPS), default=8,
                   help=f"frames per second, {viz.MIN_FPS:g}..{viz.MAX_FPS:g} (a GIF plays at most {viz.MAX_GIF_FPS})")
    p.set_defaults(run=render)

    p = sub.add_parser("cost", help="tokens per clip and FLOPs per forward pass of a video DiT")
    p.add_argument("preset", help=f"one of {', '.join(patching.PRESETS)}")
    p.add_argument("--width", type=_bounded("--width", 1, 1 << 20, int), default=384, help="DiT hidden size")
    p.add_argument("--depth", type=_bounded("--depth", 1, 10_000, int), default=12, help="DiT blocks")
    p.add_argument("--steps", type=_bounded("--steps", 1, 10_000, int), default=20, help="denoising steps per video")
    p.add_argument("--attention", choices=("full", "factorised"), default="full")
    p.set_defaults(run=cost)

    p = sub.add_parser("generate", help="generate a clip from a prompt with the trained text-to-video model")
    p.add_argument("prompt", help='e.g. "a red circle moves left" or "紅色的圓形向左移動"')
    p.add_argument("--out", default="clip.gif", help="output file, .gif (or .mp4 with ffmpeg)")
    p.add_argument("--model", default=None, help="checkpoint (default: data/t2v/shapes; data/t2v/long for a story, "
                   "--image or more than 17 frames)")
    p.add_argument("--image", default=None, metavar="PNG", help="start from this image (its size: the model's canvas)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the checkpoint's, 20)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale (default: the checkpoint's)")
    p.add_argument("--autoguidance", type=float, default=None,
                   help="pull away from the checkpoint's weaker model, 0 = off (default: the checkpoint's)")
    p.add_argument("--shift", type=float, default=None,
                   help="time shift, > 1 spends more steps at high noise (default: the checkpoint's)")
    p.add_argument("--seed", type=int, default=0, help="the starting noise")
    p.add_argument("--sampler", choices=("euler", "heun", "ddim"), default=None,
                   help="default: the checkpoint's (euler); ddim = euler for a flow model")
    p.add_argument("--frames", type=int, default=world.DEFAULT_FRAMES,
                   help="17: one window; 33, 49, ... (16n + 1): the motion goes on, segment by segment")
    p.add_argument("--fps", type=_bounded("--fps", viz.MIN_FPS, viz.MAX_FPS), default=8,
                   help=f"frames per second, {viz.MIN_FPS:g}..{viz.MAX_FPS:g} (a GIF plays at most {viz.MAX_GIF_FPS})")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best available)")
    p.add_argument("--progress", action="store_true", help="show a progress bar over the steps")
    p.add_argument("--edit", default=None, metavar="PROMPT",
                   help="edit instead of drawing: render this prompt's ShapesWorld clip (seed --seed) and redraw it")
    p.add_argument("--strength", type=float, default=None,
                   help="with --edit: noise level the clip is redrawn from, 0 (keep) .. 1 (ignore it); "
                        "default pipeline.DEFAULT_STRENGTH")
    p.set_defaults(run=generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    for name in ("prompt", "edit"):
        if isinstance(getattr(args, name, None), str):
            setattr(args, name, _typed(getattr(args, name)))
    try:
        result = args.run(args)
    except KeyboardInterrupt:
        _say(f"minivid {args.command}: interrupted", sys.stderr)
        return 130
    except (ValueError, RuntimeError, OSError, ArithmeticError, MemoryError) as err:
        # the user's input or environment: PromptError is a ValueError, CheckpointError a RuntimeError, an
        # unwritable --out an OSError; each says what is wrong in its message
        message = " ".join(str(err).split()) or type(err).__name__
        _say(f"minivid {args.command}: {message}", sys.stderr)
        return 2
    _say(result, sys.stdout)  # the file is written: an odd terminal encoding must not turn this into a failure
    return 0


if __name__ == "__main__":
    sys.exit(main())
