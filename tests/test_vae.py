"""The causal video VAE: shapes, clear errors, causality, and its shipped checkpoint format."""
import json
from pathlib import Path

import pytest
import torch

from minivid.checkpoint import CheckpointError, checkpoint_paths, write_meta
from minivid.device import autocast_context, bf16_supported, uses_bf16_autocast
from minivid.vae import VAE_PRESETS, VAEConfig, VideoVAE, count_parameters, psnr
from minivid.world import ShapesWorld

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def vae():
    torch.manual_seed(0)
    return VideoVAE(VAE_PRESETS["tiny"]).eval()


def clips(n=2, frames=17, height=32, width=32):
    ds = ShapesWorld(n, seed=3, frames=frames, height=height, width=width)
    return torch.stack([item["video"] for item in ds.__getitems__(list(range(n)))])  # b t c h w


# ----------------------------------------------------------------------------
# Shapes


@pytest.mark.parametrize("frames,height,width,latent", [
    (17, 32, 32, (4, 5, 8, 8)),  # the default clip: 1 + 16/4 latent frames
    (1, 32, 32, (4, 1, 8, 8)),  # an image is a 1-frame clip
    (5, 32, 48, (4, 2, 8, 12)),  # short, non-square
])
def test_latent_shapes_and_round_trip(vae, frames, height, width, latent):
    x = clips(2, frames, height, width)
    z = vae.encode_clips(x)
    assert z.shape == (2, *latent) == (2, *vae.latent_shape(frames, height, width))
    y = vae.decode_latents(z)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1


def test_shapes_preset_compression():
    cfg = VAE_PRESETS["shapes"]
    assert (cfg.temporal_compression, cfg.spatial_compression) == (4, 4)
    assert 4 <= cfg.latent_channels <= 8
    assert count_parameters(VideoVAE(cfg)) < 1_100_000  # shipped in fp16: < 2.2 MB


@pytest.mark.parametrize("shape,message", [
    ((3, 17, 32, 32), "5-D"),  # no batch axis
    ((1, 17, 1, 32, 32), "c=1"),  # grey clip
    ((1, 16, 3, 32, 32), "t=16"),  # 16 frames: must be 1 + 4k
    ((1, 17, 3, 30, 32), "30 x 32"),  # not divisible by 4
])
def test_bad_clip_shapes_name_the_expected_form(vae, shape, message):
    with pytest.raises(ValueError, match="b t c h w") as err:
        vae.encode_clips(torch.zeros(shape))
    assert message in str(err.value) and "1 + 4k" in str(err.value)


def test_bad_latent_shape(vae):
    with pytest.raises(ValueError, match="c=4"):
        vae.decode_latents(torch.zeros(1, 8, 5, 8, 8))


def test_config_validation():
    with pytest.raises(ValueError, match="one entry per transition"):
        VAEConfig(channels=(8, 8), spatial_down=(True, True), temporal_down=(True,))


# ----------------------------------------------------------------------------
# Causality


def test_changing_frame_k_never_changes_earlier_latent_frames(vae):
    torch.manual_seed(1)
    x = torch.rand(1, 17, 3, 32, 32)
    z = vae.encode_clips(x)
    for k in (1, 4, 5, 9, 16):
        x2 = x.clone()
        x2[:, k] = torch.rand(1, 3, 32, 32)
        z2 = vae.encode_clips(x2)
        first_affected = (k + 3) // 4  # latent frame j covers pixel frames 4j-3 .. 4j
        assert torch.equal(z[:, :, :first_affected], z2[:, :, :first_affected]), f"frame {k} leaked into the past"
        assert not torch.allclose(z[:, :, first_affected], z2[:, :, first_affected]), "the test would be vacuous"


def test_first_frame_is_encoded_alone(vae):
    x = clips(2)
    assert torch.equal(vae.encode_clips(x[:, :1]), vae.encode_clips(x)[:, :, :1])  # image == frame 0 of its video
    z = vae.encode_clips(x)
    assert torch.equal(vae.decode_latents(z[:, :, :2]), vae.decode_latents(z)[:, :5])  # decoder is causal too


# ----------------------------------------------------------------------------
# Shipped checkpoints: X.safetensors + X.json


def test_save_and_load_round_trip(vae, tmp_path):
    vae.scaling_factor.fill_(0.731)
    vae.save_pretrained(tmp_path / "v")
    loaded = VideoVAE.from_pretrained(tmp_path / "v.safetensors")
    assert loaded.cfg == vae.cfg and float(loaded.scaling_factor) == pytest.approx(0.731)
    for (k, a), (_, b) in zip(vae.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    meta = json.loads((tmp_path / "v.json").read_text())
    assert meta["kind"] == "vae" and len(meta["sha256"]) == 64 and meta["scaling_factor"] == pytest.approx(0.731)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left behind


def test_fp16_export_is_half_the_size_and_loads_as_fp32(vae, tmp_path):
    vae.save_pretrained(tmp_path / "full")
    vae.save_pretrained(tmp_path / "half", dtype=torch.float16)
    full, half = (tmp_path / "full.safetensors").stat().st_size, (tmp_path / "half.safetensors").stat().st_size
    assert half < 0.6 * full
    loaded = VideoVAE.from_pretrained(tmp_path / "half")
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    x = clips(1)
    assert torch.allclose(loaded.encode_clips(x), vae.encode_clips(x), atol=1e-2)


@pytest.fixture
def saved(vae, tmp_path):
    vae.save_pretrained(tmp_path / "v")
    return checkpoint_paths(tmp_path / "v")


def test_missing_files(saved):
    st, js = saved
    st.unlink()
    with pytest.raises(CheckpointError, match="missing.*v.safetensors"):
        VideoVAE.from_pretrained(js)
    js.unlink()
    with pytest.raises(CheckpointError, match="missing.*v.json"):
        VideoVAE.from_pretrained(st)


def test_truncated(saved):
    st, _ = saved
    st.write_bytes(st.read_bytes()[:-100])
    with pytest.raises(CheckpointError, match="truncated"):
        VideoVAE.from_pretrained(st)


def test_corrupt(saved):
    st, _ = saved
    data = bytearray(st.read_bytes())
    data[-7] ^= 0xFF  # same size, one byte flipped
    st.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt: sha256"):
        VideoVAE.from_pretrained(st)


def test_corrupt_sidecar(saved):
    _, js = saved
    js.write_text(js.read_text()[:50])
    with pytest.raises(CheckpointError, match="not valid JSON"):
        VideoVAE.from_pretrained(js)


def test_config_does_not_match_tensors(saved):
    _, js = saved
    meta = json.loads(js.read_text())
    meta["config"]["channels"] = [8, 16, 16]  # the tensors were made for (8, 8, 16)
    write_meta(js, meta)  # rewritten through the API (its own hash updated): the tensors still do not fit
    with pytest.raises(CheckpointError, match="does not match.*shape mismatch"):
        VideoVAE.from_pretrained(js)


def test_wrong_kind(saved):
    _, js = saved
    meta = json.loads(js.read_text())
    meta["kind"] = "dit"
    js.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="expected 'vae'"):
        VideoVAE.from_pretrained(js)


# ----------------------------------------------------------------------------
# The shipped model (skipped until data/vae/shapes.* exists)

SHIPPED = ROOT / "data" / "vae" / "shapes.safetensors"


@pytest.mark.skipif(not SHIPPED.exists(), reason="no shipped VAE yet")
def test_shipped_vae_reconstructs():
    vae = VideoVAE.from_pretrained(SHIPPED, device="cpu")
    assert vae.cfg == VAE_PRESETS["shapes"]
    x = clips(4)
    z = vae.encode_clips(x)
    assert 0.3 < z.std() < 3  # the scaling factor makes latents roughly unit-variance
    assert psnr(vae.decode_latents(z), x).mean() > 30


# ----------------------------------------------------------------------------
# Device helpers


def test_device_helpers():
    with autocast_context("cpu", enabled=False):
        assert torch.ones(2, 2).matmul(torch.ones(2, 2)).dtype == torch.float32
    with autocast_context("cpu"):  # bf16 where native, otherwise a no-op: runs either way
        product = torch.ones(2, 2).matmul(torch.ones(2, 2))
    # what a run records as bf16_autocast is what the context did: bf16 matmuls exactly where native
    assert uses_bf16_autocast("cpu") is bf16_supported("cpu") and uses_bf16_autocast("cpu", False) is False
    assert (product.dtype == torch.bfloat16) is uses_bf16_autocast("cpu")
