"""The text-to-video pipeline on a tiny random checkpoint: shapes, range, determinism, errors, the CLI."""
import json
from pathlib import Path

import pytest
import torch

from minivid.checkpoint import CheckpointError, checkpoint_paths
from minivid.cli import main as cli
from minivid.pipeline import TextToVideo
from minivid.text import PromptError
from minivid.train import T2VTrainConfig, build_dit, export_t2v

SHIPPED = Path(__file__).resolve().parents[1] / "data/t2v/shapes"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A randomly initialised tiny DiT (weights perturbed so the output depends on the prompt), exported."""
    torch.manual_seed(0)
    dit = build_dit("tiny", 8)
    with torch.no_grad():
        for p in dit.parameters():
            p.add_(0.05 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("t2v") / "tiny"
    export_t2v(dit, path, T2VTrainConfig(preset="tiny"), (8, 5, 8, 8))
    return path


@pytest.fixture(scope="module")
def pipe(tiny):
    return TextToVideo.from_pretrained(tiny, device="cpu")


def test_output_shape_range_and_languages(pipe):
    video = pipe(["a red circle moves left", "紅色的圓形向左移動", "红色的圆形向左移动"], steps=2)
    assert video.shape == (3, 17, 3, 32, 32) and video.dtype == torch.float32
    assert video.min() >= 0 and video.max() <= 1
    assert pipe("a blue square moves up", steps=1, frames=9).shape == (1, 9, 3, 32, 32)


def test_same_seed_same_video_independent_of_the_batch(pipe):
    prompts = ["a red circle moves left", "a blue square rotates clockwise"]
    a, b = pipe(prompts, steps=2, seed=3), pipe(prompts, steps=2, seed=3)
    assert torch.equal(a, b)
    alone = pipe(prompts[:1], steps=2, seed=3)
    torch.testing.assert_close(alone[0], a[0], atol=1e-4, rtol=0)  # same noise; only float rounding of the batch
    assert not torch.allclose(pipe(prompts, steps=2, seed=4), a)
    assert not torch.allclose(a[0], a[1])


def test_samplers(pipe):
    prompt = "a green triangle moves right"
    euler, ddim = pipe(prompt, steps=2, sampler="euler"), pipe(prompt, steps=2, sampler="ddim")
    assert torch.equal(euler, ddim)  # for a flow model DDIM's deterministic step is exactly Euler's
    assert pipe(prompt, steps=2, sampler="heun").shape == euler.shape
    with pytest.raises(ValueError, match="supports euler, heun, ddim"):
        pipe(prompt, steps=2, sampler="ddpm")
    with pytest.raises(ValueError, match="frames"):
        pipe(prompt, steps=2, frames=16)


def test_editing_a_clip_sdedit(pipe):
    from minivid import world
    prompt = "a blue circle moves left"
    clip = world.render_batch([world.sample_scene(0, num_objects=1)])  # (1, 17, 3, 32, 32)
    plain = pipe(prompt, steps=3, seed=5)
    assert torch.equal(pipe(prompt, steps=3, seed=5, init_video=clip, strength=1.0), plain)  # t = 1 ignores the clip
    kept = pipe(prompt, steps=3, init_video=clip, strength=0.0)  # no noise, no steps: the VAE round trip
    assert torch.equal(kept, pipe.vae.decode_latents(pipe.vae.encode_clips(clip)))
    half = pipe([prompt, "a red square moves up"], steps=3, init_video=clip)  # one clip for both prompts
    assert half.shape == (2, 17, 3, 32, 32)
    assert not torch.allclose(half[0], plain[0]) and not torch.allclose(half[0], kept[0])
    with pytest.raises(ValueError, match="strength must be in"):
        pipe(prompt, init_video=clip, strength=1.5)
    with pytest.raises(ValueError, match="pass init_video"):
        pipe(prompt, strength=0.5)
    with pytest.raises(ValueError, match="2 clips for 3 prompts"):
        pipe([prompt] * 3, init_video=clip.expand(2, -1, -1, -1, -1))
    with pytest.raises(ValueError, match="t = 1 \\+ 4k"):
        pipe(prompt, init_video=clip[:, :16])
    with pytest.raises(ValueError, match="float tensor"):
        pipe(prompt, init_video=(clip * 255).to(torch.uint8))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        pipe(prompt, init_video=clip * 255)


def test_bad_prompts_fail_clearly(pipe):
    with pytest.raises(PromptError, match="circel"):
        pipe(["a red circle moves left", "a red circel moves left"], steps=2)
    with pytest.raises(PromptError):
        pipe("a red circle rotates clockwise", steps=2)  # a circle cannot visibly rotate


def test_corrupt_missing_and_mismatched_checkpoints(tiny, tmp_path):
    st, js = checkpoint_paths(tiny)
    for name in ("corrupt", "wrongvae", "nofile"):
        (tmp_path / f"{name}.safetensors").write_bytes(st.read_bytes())
        (tmp_path / f"{name}.json").write_text(js.read_text())
    data = bytearray((tmp_path / "corrupt.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "corrupt.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt"):
        TextToVideo.from_pretrained(tmp_path / "corrupt")
    meta = json.loads(js.read_text())
    meta["vae"]["sha256"] = "0" * 64
    (tmp_path / "wrongvae.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="trained on the VAE"):
        TextToVideo.from_pretrained(tmp_path / "wrongvae")
    (tmp_path / "nofile.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing"):
        TextToVideo.from_pretrained(tmp_path / "nofile")
    with pytest.raises(CheckpointError):
        TextToVideo.from_pretrained(tiny, vae_path=tmp_path / "no-such-vae")


def test_cli_generate_writes_a_gif(tiny, tmp_path, capsys):
    out = tmp_path / "clip.gif"
    assert cli(["generate", "a red circle moves left", "--model", str(tiny), "--out", str(out), "--steps", "2"]) == 0
    assert out.read_bytes()[:6] in (b"GIF89a", b"GIF87a")
    assert "wrote" in capsys.readouterr().out
    assert cli(["generate", "a red circel moves left", "--model", str(tiny), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "circel" in err
    edit = ["generate", "a blue circle moves left", "--model", str(tiny), "--out", str(out), "--steps", "2"]
    assert cli(edit + ["--edit", "a red circle moves left", "--strength", "0.5"]) == 0
    assert "edited from 'a red circle moves left' at strength 0.5" in capsys.readouterr().out
    assert cli(edit + ["--strength", "0.5"]) == 2  # strength without a clip to edit
    assert "--edit" in capsys.readouterr().err


@pytest.mark.skipif(not checkpoint_paths(SHIPPED)[1].exists(), reason="no shipped checkpoint yet")
def test_the_shipped_checkpoint_loads_and_generates():
    pipe = TextToVideo.from_pretrained()
    assert pipe.parameterisation == "flow" and pipe.defaults["steps"] == 20
    video = pipe("a red circle moves left", steps=2)
    assert video.shape == (1, 17, 3, 32, 32) and 0 <= video.min() and video.max() <= 1
