"""Given latent frames: one time per frame in the DiT, the masked flow-matching loss, and a denoiser that
draws only the frames not given (image-to-video and extension with the text-to-video network)."""

import pytest
import torch

from minivid import diffusion, sampling
from minivid.dit import DiT, null_text


def _inputs(b=2, f=3):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(b, 4, f, 8, 8, generator=g)
    ids, mask = null_text(b)
    return x, ids, mask


def _tiny(channels=4):
    torch.manual_seed(0)
    model = DiT.from_preset("tiny", text_vocab_size=61, latent_channels=channels)
    for p in model.parameters():  # non-zero everywhere: the zero-initialised adaLN would hide the time
        torch.nn.init.normal_(p, std=0.05)
    return model.eval()


def test_one_time_per_frame_equals_one_time_per_clip_when_all_frames_agree():
    model, (x, ids, mask) = _tiny(), _inputs()
    t = torch.tensor([0.3, 0.8])
    per_clip = model(x, t, ids, mask)
    per_frame = model(x, t[:, None].expand(-1, x.shape[2]), ids, mask)
    torch.testing.assert_close(per_frame, per_clip, atol=1e-6, rtol=0)


def test_each_frame_reads_its_own_time():
    model, (x, ids, mask) = _tiny(), _inputs()
    t = torch.full((2, 3), 0.5)
    base = model(x, t, ids, mask)
    t2 = t.clone()
    t2[:, 0] = 0.0  # only the first frame's time changes
    moved = model(x, t2, ids, mask)
    assert not torch.allclose(moved, base)  # the model is told which frame is clean ...
    with pytest.raises(ValueError, match="one time per latent frame"):
        model(x, torch.zeros(2, 4), ids, mask)  # ... and refuses times for frames it does not have


def test_frame_times_put_the_level_on_given_frames():
    given = torch.tensor([[True, False, False], [False, False, True]])
    got = diffusion.frame_times(torch.tensor([0.7, 0.2]), given, level=0.05)
    torch.testing.assert_close(got, torch.tensor([[0.05, 0.7, 0.7], [0.2, 0.2, 0.05]]))


def test_add_noise_with_per_frame_times_matches_frame_by_frame():
    g = torch.Generator().manual_seed(3)
    x0, eps = torch.randn(2, 4, 3, 8, 8, generator=g), torch.randn(2, 4, 3, 8, 8, generator=g)
    t = torch.tensor([[0.0, 0.5, 1.0], [0.25, 0.25, 0.9]])
    got = diffusion.add_noise(x0, eps, t)
    for i in range(2):
        for f in range(3):
            want = (1 - t[i, f]) * x0[i, :, f] + t[i, f] * eps[i, :, f]
            torch.testing.assert_close(got[i, :, f], want)


class _Recorder(torch.nn.Module):
    """A stand-in model: records what it is given, and answers with a fixed tensor."""

    def __init__(self, out):
        super().__init__()
        self.out, self.seen = out, []

    def forward(self, x, t, *text):
        self.seen.append((x.clone(), t.clone()))
        return self.out


def test_masked_loss_ignores_given_frames_and_equals_the_plain_loss_without_them():
    g = torch.Generator().manual_seed(4)
    x0, eps = torch.randn(2, 4, 3, 8, 8, generator=g), torch.randn(2, 4, 3, 8, 8, generator=g)
    t = torch.tensor([0.4, 0.6])
    target = eps - x0
    out = target.clone()
    out[:, :, 0] += 100.0  # wrong only on frame 0
    given = torch.tensor([[True, False, False], [True, False, False]])
    loss = diffusion.flow_matching_loss(_Recorder(out), x0, t=t, eps=eps, given=given)
    assert loss.item() == pytest.approx(0.0, abs=1e-10)  # frame 0 is given: its error does not count
    nothing = torch.zeros(2, 3, dtype=torch.bool)
    plain = diffusion.flow_matching_loss(_Recorder(out), x0, t=t, eps=eps)
    masked = diffusion.flow_matching_loss(_Recorder(out), x0, t=t, eps=eps, given=nothing)
    torch.testing.assert_close(masked, plain)
    # the model saw the given frame clean (level 0) at time 0, the others noised at their clip's time
    rec = _Recorder(out)
    diffusion.flow_matching_loss(rec, x0, t=t, eps=eps, given=given)
    x_seen, t_seen = rec.seen[0]
    torch.testing.assert_close(x_seen[:, :, 0], x0[:, :, 0])
    torch.testing.assert_close(t_seen, torch.tensor([[0.0, 0.4, 0.4], [0.0, 0.6, 0.6]]))


def test_given_frames_denoiser_keeps_the_given_frames_and_shows_them_to_the_model():
    g = torch.Generator().manual_seed(5)
    x_given, x = torch.randn(1, 4, 3, 8, 8, generator=g), torch.randn(1, 4, 3, 8, 8, generator=g)
    given = torch.tensor([[True, False, False]])
    rec = _Recorder(torch.ones(1, 4, 3, 8, 8))
    fn = sampling.given_frames(rec, x_given, given)
    ts = sampling.flow_timesteps(4)
    out = sampling.euler_sample(fn, x, ts)
    torch.testing.assert_close(out[:, :, 0], x[:, :, 0])  # velocity 0: the given frame never moves
    assert not torch.allclose(out[:, :, 1:], x[:, :, 1:])  # the others are drawn
    for x_seen, t_seen in rec.seen:
        torch.testing.assert_close(x_seen[:, :, 0], x_given[:, :, 0])  # the model always sees the given frame
        assert t_seen[0, 0] == 0 and (t_seen[0, 1:] > 0).all()
