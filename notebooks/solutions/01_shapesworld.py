"""Lesson 01 · ShapesWorld: the exercise's reference, its check and plausible wrong answers."""

import torch

from minivid import world

# (size, angle) pairs the check tries: an unrotated square first, then turned ones (no multiple of 90 degrees)
CASES = [(4.0, 0.0), (3.0, 30.0), (5.0, -70.0), (3.7, 123.4)]


def square_sdf(px, py, size, angle):
    """Signed distance (px, negative inside) from offsets (px, py) to a square of half-side `size`,
    turned `angle` degrees clockwise (y down)."""
    theta = torch.deg2rad(angle)
    u = px * torch.cos(theta) + py * torch.sin(theta)  # offset along the square's own x axis
    v = -px * torch.sin(theta) + py * torch.cos(theta)  # ... and along its own y axis
    return torch.maximum(u.abs(), v.abs()) - size


def check_square_sdf(fn):
    offsets = torch.arange(-8.0, 8.01, 0.25)
    px, py = offsets[None, :], offsets[:, None]
    for size, angle in CASES:
        s, a = torch.tensor(size), torch.tensor(angle)
        ours, ref = fn(px, py, s, a), world.signed_distance("square", px, py, s, a)
        if not isinstance(ours, torch.Tensor) or ours.shape != ref.shape:
            got = tuple(ours.shape) if isinstance(ours, torch.Tensor) else type(ours).__name__
            raise AssertionError(f"size={size}, angle={angle}: got {got}, expected a tensor of shape {tuple(ref.shape)} "
                                 "(px is a row, py a column: broadcast them)")
        err = (ours - ref).abs()
        if torch.allclose(ours, ref, atol=1e-5):
            continue
        j, i = divmod(int(err.argmax()), err.shape[1])
        where = (f"off by up to {float(err.max()):.3f} px, e.g. at offset ({float(offsets[i]):+.2f}, "
                 f"{float(offsets[j]):+.2f}): {float(ours[j, i]):.3f} instead of {float(ref[j, i]):.3f}")
        if torch.allclose(ours - ref, torch.full_like(ref, size), atol=1e-5):
            hint = "; every distance is `size` too large: subtract the half-side"
        elif bool((ours[ref > 0.42 * size] < 0).any()):  # outside any square of this size around the centre
            hint = "; points far outside the square come out negative: the distance uses |u| and |v|"
        elif angle != 0.0:
            hint = ("; right for an unrotated square, wrong once it turns: rotate the offset into the square's own "
                    "frame (clockwise on screen, y down: u = px cos + py sin, v = -px sin + py cos, angle in degrees)")
        else:
            hint = ""
        raise AssertionError(f"size={size}, angle={angle}: {where}{hint}")


def wrong_square_sdf_no_abs(px, py, size, angle):
    """Forgets that the square is symmetric: max(u, v) instead of max(|u|, |v|)."""
    theta = torch.deg2rad(angle)
    u = px * torch.cos(theta) + py * torch.sin(theta)
    v = -px * torch.sin(theta) + py * torch.cos(theta)
    return torch.maximum(u, v) - size


def wrong_square_sdf_turns_the_wrong_way(px, py, size, angle):
    """Rotates counterclockwise (the y-up convention of maths class) instead of clockwise on screen."""
    theta = torch.deg2rad(angle)
    u = px * torch.cos(theta) - py * torch.sin(theta)
    v = px * torch.sin(theta) + py * torch.cos(theta)
    return torch.maximum(u.abs(), v.abs()) - size


def wrong_square_sdf_degrees_as_radians(px, py, size, angle):
    """Feeds degrees to cos and sin."""
    u = px * torch.cos(angle) + py * torch.sin(angle)
    v = -px * torch.sin(angle) + py * torch.cos(angle)
    return torch.maximum(u.abs(), v.abs()) - size


def wrong_square_sdf_no_size(px, py, size, angle):
    """Distance to the centre's box of size 0: forgets to subtract the half-side."""
    theta = torch.deg2rad(angle)
    u = px * torch.cos(theta) + py * torch.sin(theta)
    v = -px * torch.sin(theta) + py * torch.cos(theta)
    return torch.maximum(u.abs(), v.abs())
