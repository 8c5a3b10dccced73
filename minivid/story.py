"""Long videos: a story told segment by segment, image-to-video and extension, with one DiT.

A story prompt (`a red circle moves left, then the red circle moves up; cut to a blue square bounces`,
or `紅色的圓形向左移動，然後紅色的圓形向上移動`) has segments of 17 frames that share their boundary
frames (`shared/shapesworld-stories.md`): n segments make 16n + 1 frames. The DiT was trained on 17-frame
clips, and asked for a longer clip in one window it loses the objects (lesson 00 measures it). So a story
is drawn window by window:

1. Segment k >= 1 of a shot starts from the last frame of segment k - 1. The causal VAE encodes the first
   frame of a clip alone, so that frame is a 1-frame clip: its latent is *given* as the window's first latent
   frame, and the DiT (trained with given first frames: `train.StorySegments`, `--image-prob`) draws the other
   four under the segment's own prompt (`sampling.given_frames`). Each window sees only its own caption.
2. An image is the same thing at segment 0: `pipe(prompt, image=img)` starts the story from it.
3. A window that sees only its own prompt does not know what comes next: a square that will move left for
   16 frames must not start at the left edge. The first window of each shot is therefore drawn until its
   first frame shows a state from which the whole shot fits the canvas (`world.sample_story` with that
   start: the world's planner), at most `attempts` times.
4. At `cut to` nothing carries over: the next window is drawn from text alone, and its first frame is the
   boundary frame (the frame that shows the cut; the window before it gives 16 frames).

Cost grows linearly with length: every window is one 17-frame sample, whatever came before.

Layouts (einops legend): ``b t c h w`` clips as users get them, ``b z t h w`` latents.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from . import world
from .evaluate import image_state
from .seeds import window_seed
from .text import PromptError, parse_prompt, parse_story, split_story

SEGMENT = world.SEGMENT_STEP  # frames a segment adds after the first
PLAN_ATTEMPTS = 8  # draws of a shot's first window, at most, until it leaves room for the rest of the shot


def window_prompt(segment: str) -> str:
    """A segment's prompt as the model saw captions: `the` (which a later segment of a shot may say) -> `a`."""
    words = segment.split(" ")
    return " ".join("a" if w == "the" and (i == 0 or words[i - 1] == "and") else w for i, w in enumerate(words))


def check_image(image, height: int, width: int) -> torch.Tensor:
    """An image (3, H, W) or (B, 3, H, W), float in [0, 1], on the model's canvas -> (B, 3, H, W) float32."""
    if not isinstance(image, torch.Tensor) or not image.is_floating_point():
        got = f"a {image.dtype} tensor" if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"image must be a float tensor (3, H, W) or (B, 3, H, W) in [0, 1], got {got}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[1] != 3:
        raise ValueError(f"image must be (3, H, W) or (B, 3, H, W) with 3 colour channels, got {tuple(image.shape)}")
    if tuple(image.shape[2:]) != (height, width):
        raise ValueError(f"image is {image.shape[2]}x{image.shape[3]} pixels; this model draws {height}x{width}")
    if not torch.isfinite(image).all() or image.min() < 0 or image.max() > 1:
        raise ValueError("image values must be finite and in [0, 1] (as world.render gives; divide uint8 by 255)")
    return image.float()


def _fits(plan: world.StoryPlan, start, height: int, width: int) -> str | None:
    """None if `plan` fits the canvas from `start` (ObjectStates; None: from some start the world's planner
    finds), else why not."""
    try:
        world.sample_story(np.random.default_rng(0), plan, height, width, start=start)
        return None
    except world.StoryError as e:
        return str(e)


def _matches(states, plan: world.StoryPlan) -> bool:
    return sorted((s.shape, s.colour) for s in states) == sorted((sh, c) for sh, c, _ in plan.segments[0])


class StoryTeller:
    """Draws windows with a `TextToVideo` pipeline that was trained with given frames."""

    def __init__(self, pipe, steps=None, guidance=None, sampler=None, shift=None, autoguidance=None):
        if pipe.given_level is None:
            raise ValueError("this checkpoint was not trained with given frames, so it cannot start from an image, "
                             "extend a clip or tell a story; use a checkpoint trained with --story-clips / --image-prob")
        self.pipe = pipe
        self.sampling = dict(steps=steps, guidance=guidance, sampler=sampler, shift=shift, autoguidance=autoguidance)
        _, self.height, self.width = pipe.canvas

    def encode(self, frame: torch.Tensor) -> torch.Tensor:
        """A frame (3, H, W) -> its latent as a 1-frame clip, (1 z 1 h w)."""
        return self.pipe.vae.encode_clips(frame[None, None].to(self.pipe.device))

    def window(self, prompt: str, seed: int, first: torch.Tensor | None = None) -> torch.Tensor:
        """One 17-frame window (17, 3, H, W) for a segment prompt; `first`: the given first latent (1 z 1 h w)."""
        given = None
        if first is not None:
            z, f, h, w = self.pipe.latent_size(SEGMENT + 1)
            x = torch.zeros(1, z, f, h, w, device=first.device)
            x[:, :, :1] = first
            mask = torch.zeros(1, f, dtype=torch.bool, device=first.device)
            mask[:, 0] = True
            given = (x, mask)
        latents = self.pipe.sample_latents([window_prompt(prompt)], seed=seed, given=given, **self.sampling)
        return self.pipe.vae.decode_latents(latents).float().cpu()[0]

    def first_window(self, plan: world.StoryPlan, prompt: str, seed: int, index: int, k: int) -> torch.Tensor:
        """The first window of a shot drawn from text: redrawn until its first frame leaves room for the shot."""
        first = None
        for attempt in range(PLAN_ATTEMPTS):
            clip = self.window(prompt, window_seed(seed, index, k, attempt))
            first = clip if first is None else first
            try:
                states = image_state(clip[0])
            except ValueError:
                continue
            if _matches(states, plan) and _fits(plan, states, self.height, self.width) is None:
                return clip
        return first  # none left room: the first draw, which the evaluator will judge

    def tell(self, prompt: str, seed: int = 0, image: torch.Tensor | None = None, progress: bool = False,
             index: int = 0):
        """The story `prompt` as one clip (16n + 1, 3, H, W); `image` (3, H, W): its first frame; `index`: the
        prompt's place in its call (its windows' noise depends on seed and index only)."""
        plan, pieces = parse_story(prompt), split_story(prompt)
        if image is not None:
            self.check_start(plan, image)
        else:
            why = _fits(plan, None, self.height, self.width)
            if why is not None:
                raise PromptError(f"{prompt!r} cannot be told: {why}")
        frames = []  # the windows, each without the boundary frame it shares with the next
        for k, (piece, new_shot) in enumerate(tqdm(pieces, disable=not progress, desc="segments")):
            if k == 0 and image is not None:
                clip = self.window(piece, window_seed(seed, index, k), self.encode(image))
            elif new_shot:  # the boundary frame belongs to the new shot
                stop = next(stop for first, stop in plan.shots if first == k)
                clip = self.first_window(world.StoryPlan(plan.segments[k:stop]), piece, seed, index, k)
            else:
                clip = self.window(piece, window_seed(seed, index, k), self.encode(last))
            frames.append(clip[:-1])
            last = clip[-1]
        return torch.cat([*frames, last[None]])

    def check_start(self, plan: world.StoryPlan, image: torch.Tensor) -> None:
        """A clear error unless the image shows the first shot's objects with room for the whole shot."""
        try:
            states = image_state(image)
        except ValueError as e:
            raise ValueError(f"cannot read the image's objects: {e}") from None
        shot = world.StoryPlan(plan.segments[:plan.shots[0][1]])
        if not _matches(states, shot):
            seen = " and ".join(f"a {s.colour} {s.shape}" for s in states) or "no object"
            raise PromptError(f"the image shows {seen}, but the prompt's first segment asks for "
                              + " and ".join(f"a {c} {sh}" for sh, c, _ in shot.segments[0]))
        why = _fits(plan, states, self.height, self.width)  # the first shot from the image, later shots afresh
        if why is not None:
            raise PromptError(f"from the image, {why}")

    def extend(self, video: torch.Tensor, prompt: str, seed: int = 0, index: int = 0) -> torch.Tensor:
        """A clip (T, 3, H, W) 16 frames longer: the next segment, `prompt`, from its last frame."""
        pieces = split_story(prompt)
        if len(pieces) != 1:
            raise PromptError(f"extend takes one segment's prompt, got {len(pieces)} segments; "
                              "extend once per segment")
        last = check_image(video[-1], self.height, self.width)[0]
        self.check_start(parse_story(prompt), last)
        clip = self.window(pieces[0][0], window_seed(seed, index, len(video) // SEGMENT), self.encode(last))
        return torch.cat([video.float().cpu(), clip[1:]])


def repeated_story(prompt: str, frames: int) -> str:
    """A single prompt asked for `frames` = 16n + 1 frames -> the story of n segments of it, if it can fit."""
    integer = isinstance(frames, (int, np.integer)) and not isinstance(frames, bool)
    if not integer or frames < SEGMENT + 1 or (frames - 1) % SEGMENT:
        raise ValueError(f"frames must be an integer 16n + 1 (17, 33, 49, 65, ...), got {frames!r}")
    parse_prompt(prompt)
    segments = (frames - 1) // SEGMENT
    chinese = any("\u3400" <= ch <= "\u9fff" for ch in prompt)
    story = ("，然後" if chinese else ", then ").join([prompt] * segments)
    plan = parse_story(story)
    why = _fits(plan, None, world.DEFAULT_HEIGHT, world.DEFAULT_WIDTH)
    if why is not None:
        raise PromptError(f"{prompt!r} cannot go on for {frames} frames: {why}")
    return story

