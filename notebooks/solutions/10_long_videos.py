"""Lesson 10's exercises: the times of a clip whose first latent frames are given, and the extension loop.

`given_frame_times` is checked against `minivid.diffusion.frame_times` on random times and masks. The extension
loop is checked with a fake window drawer whose windows carry the segment, the prompt and the frame they were
drawn from, so every way of getting the loop wrong shows in the frames it returns.
"""
import torch

from minivid import diffusion

# ---- exercise: one time per latent frame -------------------------------------------------------------------


def given_frame_times(t, given, level):
    """One time per latent frame, (b f): the clip's time t (b,) where a frame is drawn, `level` where it is
    given (`given`: bool (b f))."""
    return torch.where(given, torch.full_like(t[:, None], level), t[:, None].expand(given.shape))


def _times_cases():
    g = torch.Generator().manual_seed(0)
    for b, f, level in ((1, 5, 0.0), (3, 5, 0.03), (4, 9, 0.05), (2, 17, 0.0)):
        t = torch.rand(b, generator=g)
        given = torch.rand(b, f, generator=g) < 0.4
        given[0, 0], given[-1, -1] = True, False  # a given and a drawn frame in every case
        yield t, given, level


def check_given_frame_times(fn):
    for t, given, level in _times_cases():
        got = fn(t.clone(), given.clone(), level)
        want = diffusion.frame_times(t, given, level)
        where = f"t of shape {tuple(t.shape)}, given of shape {tuple(given.shape)}, level {level}"
        assert isinstance(got, torch.Tensor), f"return a tensor, got {type(got).__name__}"
        assert tuple(got.shape) == tuple(given.shape), \
            f"{where}: your times have shape {tuple(got.shape)}; one time per latent frame is {tuple(given.shape)}"
        drawn = ~given
        assert torch.allclose(got[drawn], want[drawn]), \
            f"{where}: a drawn (not given) frame of clip i must have the clip's time t[i]"
        assert torch.allclose(got[given], want[given]), \
            f"{where}: a given frame must have the time `level` ({level}), the small noise it is seen at"


def wrong_given_frame_times_level_ignored(t, given, level):
    """Given frames at time 0 whatever the level."""
    return torch.where(given, torch.zeros_like(t[:, None]), t[:, None].expand(given.shape))


def wrong_given_frame_times_mask_swapped(t, given, level):
    """The mask read the wrong way round: the given frames get the clip's time."""
    return torch.where(~given, torch.full_like(t[:, None], level), t[:, None].expand(given.shape))


def wrong_given_frame_times_scalar_per_clip(t, given, level):
    """One time per clip, the mask forgotten."""
    return t


# ---- exercise: the extension loop --------------------------------------------------------------------------


def extension_loop(draw_window, prompts, image):
    """A one-shot story told window by window: (16 n + 1, 3, H, W) for the n segment `prompts`.

    draw_window(k, prompt, first) -> the 17-frame window (17, 3, H, W) of segment k, drawn with the frame
    `first` (3, H, W) given as its first frame; `image` (3, H, W) is the story's first frame."""
    clip = draw_window(0, prompts[0], image)
    for k, prompt in enumerate(prompts[1:], start=1):
        window = draw_window(k, prompt, clip[-1])  # from the last frame drawn so far
        clip = torch.cat([clip, window[1:]])  # the boundary frame is already in the clip
    return clip


def _fake_drawer(calls):
    """A window drawer whose frames say what they were drawn from: frame j of segment k's window is the given
    first frame for j = 0, else that frame plus (k + 1) * j / 100, plus the prompt's length / 1000."""
    def draw(k, prompt, first):
        calls.append((k, prompt, first.clone()))
        steps = torch.arange(17, dtype=torch.float32)[:, None, None, None]
        window = first[None] + steps * (k + 1) / 100 + (steps > 0) * len(prompt) / 1000
        return window
    return draw


def check_extension_loop(fn):
    prompts = ["a red circle bounces", "a red circle moves up", "a red circle stays still", "a red circle bounces"]
    image = torch.linspace(0, 0.5, 3 * 4 * 4).reshape(3, 4, 4)
    for n in (1, 2, 4):
        calls, want_calls = [], []
        got = fn(_fake_drawer(calls), prompts[:n], image.clone())
        want = extension_loop(_fake_drawer(want_calls), prompts[:n], image.clone())
        assert isinstance(got, torch.Tensor), f"return the story as one tensor (T, 3, H, W), got {type(got).__name__}"
        assert len(calls) == n, f"{n} segments need {n} windows, one draw_window call each; you made {len(calls)}"
        for (k, prompt, first), (k_want, prompt_want, first_want) in zip(calls, want_calls):
            assert (k, prompt) == (k_want, prompt_want), \
                f"call {k_want}: draw window {k_want} with its own prompt {prompt_want!r}, got ({k}, {prompt!r})"
            if k_want == 0:
                assert torch.equal(first, first_want), "the first window starts from the story's first frame, `image`"
            else:
                assert torch.equal(first, first_want), \
                    (f"window {k_want} must start from the last frame of the clip so far (frame {16 * k_want}), "
                     "the frame the story has reached; yours starts from another frame")
        assert tuple(got.shape) == tuple(want.shape), \
            (f"{n} segment(s) make {want.shape[0]} frames (16n + 1: consecutive windows share their boundary frame, "
             f"so every window after the first adds its frames 1..16); yours has shape {tuple(got.shape)}")
        assert torch.allclose(got, want), "the clip is not the windows one after the other (each without its frame 0)"


def wrong_extension_loop_boundary_twice(draw_window, prompts, image):
    """Every window whole: the boundary frame appears twice, 17 n frames."""
    windows = [draw_window(0, prompts[0], image)]
    for k, prompt in enumerate(prompts[1:], start=1):
        windows.append(draw_window(k, prompt, windows[-1][-1]))
    return torch.cat(windows)


def wrong_extension_loop_from_the_image(draw_window, prompts, image):
    """Every window from the story's first frame: each segment restarts where the story began."""
    clip = draw_window(0, prompts[0], image)
    for k, prompt in enumerate(prompts[1:], start=1):
        clip = torch.cat([clip, draw_window(k, prompt, image)[1:]])
    return clip


def wrong_extension_loop_one_frame_early(draw_window, prompts, image):
    """Each window from the frame before the last, then the last window's frame 0 dropped all the same."""
    clip = draw_window(0, prompts[0], image)
    for k, prompt in enumerate(prompts[1:], start=1):
        clip = torch.cat([clip, draw_window(k, prompt, clip[-2])[1:]])
    return clip
