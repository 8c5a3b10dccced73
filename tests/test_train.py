"""VAE training: exact resume after a kill, training-state checkpoints, latent caching, CLI."""
import json

import pytest
import torch

from minivid.checkpoint import (CheckpointError, checkpoint_paths, latest_training_state, list_training_states,
                                load_tensors)
from minivid.latents import cache_latents, load_latents
from minivid.train import VAETrainConfig, clip_batch, lr_at, main, train_vae
from minivid.vae import VAE_PRESETS, VideoVAE
from minivid.world import ShapesWorld


def tiny_config(**kw):
    defaults = dict(preset="tiny", steps=6, batch_size=2, warmup_steps=2, val_clips=4, val_every=100, bf16=False,
                    checkpoint_every=2, scale_clips=4)
    return VAETrainConfig(**{**defaults, **kw})


def assert_same_weights(a: torch.nn.Module, b: torch.nn.Module):
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_killed_run_resumes_exactly(tmp_path):
    cfg = tiny_config()
    straight = train_vae(cfg, tmp_path / "straight", device="cpu", progress=False)
    train_vae(cfg, tmp_path / "split", device="cpu", progress=False, stop_at=3)  # "killed" after step 3 ...
    assert latest_training_state(tmp_path / "split").name == "state-00000003.json"
    resumed = train_vae(cfg, tmp_path / "split", resume=True, device="cpu", progress=False)  # ... and resumed
    assert_same_weights(straight, resumed)
    assert float(straight.scaling_factor) == float(resumed.scaling_factor) != 1.0
    # the optimizer state went through the round trip too
    a, _ = load_tensors(tmp_path / "straight" / "state-00000006", kind="train-state")
    b, _ = load_tensors(tmp_path / "split" / "state-00000006", kind="train-state")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_skips_a_half_written_state_and_refuses_other_configs(tmp_path):
    cfg = tiny_config(steps=4)
    train_vae(cfg, tmp_path, device="cpu", progress=False, stop_at=4)
    assert [p.name for p in list_training_states(tmp_path)] == ["state-00000004.json", "state-00000002.json"]
    st, _ = checkpoint_paths(tmp_path / "state-00000004")
    st.write_bytes(st.read_bytes()[:1000])  # killed while writing the newest state
    assert latest_training_state(tmp_path).name == "state-00000002.json"
    with pytest.raises(CheckpointError, match="different lr"):
        train_vae(tiny_config(steps=4, lr=1e-4), tmp_path, resume=True, device="cpu", progress=False)


def test_decoder_fine_tune_keeps_encoder_and_latents(tmp_path):
    base = train_vae(tiny_config(), tmp_path / "base", export=tmp_path / "base-vae", device="cpu", progress=False,
                     export_dtype=None)
    tuned = train_vae(tiny_config(init_from=str(tmp_path / "base-vae"), freeze_encoder=True, lr=1e-2),
                      tmp_path / "tuned", device="cpu", progress=False)
    for (name, a), b in zip(base.encoder.state_dict().items(), tuned.encoder.state_dict().values()):
        assert torch.equal(a, b), f"encoder weight {name} changed"
    assert float(tuned.scaling_factor) == float(base.scaling_factor)  # same latents for any DiT trained on them
    clips = clip_batch(ShapesWorld(2, "train", 5), 0, 2)
    assert torch.equal(base.encode_clips(clips), tuned.encode_clips(clips))
    assert any(not torch.equal(a, b) for a, b in zip(base.decoder.parameters(), tuned.decoder.parameters()))
    with pytest.raises(ValueError, match="needs --init-from"):
        train_vae(tiny_config(freeze_encoder=True), tmp_path / "bad", device="cpu", progress=False)
    with pytest.raises(ValueError, match="is not a 'shapes' VAE"):
        train_vae(tiny_config(preset="shapes", init_from=str(tmp_path / "base-vae")), tmp_path / "bad2",
                  device="cpu", progress=False)


def test_batches_are_a_pure_function_of_seed_and_step():
    a = ShapesWorld(10**12, seed=5)
    b = ShapesWorld(10**6, seed=5)
    assert torch.equal(clip_batch(a, 3 * 4, 4), clip_batch(b, 3 * 4, 4))


def test_lr_schedule():
    cfg = VAETrainConfig(steps=1000, lr=1e-3, warmup_steps=100, min_lr_ratio=0.1)
    assert lr_at(cfg, 0) == pytest.approx(1e-5)
    assert lr_at(cfg, 99) == pytest.approx(1e-3)
    assert lr_at(cfg, 1000) == pytest.approx(1e-4)
    assert lr_at(cfg, 300) > lr_at(cfg, 600) > lr_at(cfg, 900)


def test_cache_latents_round_trip(tmp_path):
    torch.manual_seed(0)
    vae = VideoVAE(VAE_PRESETS["tiny"]).eval()
    vae.scaling_factor.fill_(2.0)
    ds = ShapesWorld(8, seed=11)
    cache_latents(vae, ds, 5, tmp_path / "cache", batch_size=2)
    cache = load_latents(tmp_path / "cache.safetensors")
    assert len(cache) == 5 and cache.latents.shape == (5, 4, 5, 8, 8) and cache.scaling_factor == 2.0
    items = ds.__getitems__(list(range(5)))
    assert cache.captions == [it["caption"] for it in items]
    assert cache.indices.tolist() == [0, 1, 2, 3, 4]
    expected = vae.encode_clips(torch.stack([it["video"] for it in items]))
    assert torch.allclose(cache.latents, expected, rtol=1e-4, atol=1e-4)  # batch size: only rounding
    assert cache[3]["caption"] == items[3]["caption"] and cache[3]["latent"].shape == (4, 5, 8, 8)
    assert cache.meta["dataset"]["seed"] == 11 and cache.meta["scaled"] is True
    # rendering in 2 worker processes: the same clips in the same order, so the same bytes
    cache_latents(vae, ds, 5, tmp_path / "workers", batch_size=2, workers=2)
    assert torch.equal(load_latents(tmp_path / "workers").latents, cache.latents)
    assert load_latents(tmp_path / "workers").captions == cache.captions


def test_cli_trains_and_exports(tmp_path, capsys, monkeypatch):
    main(["vae", "--preset", "tiny", "--steps", "2", "--batch-size", "2", "--val-clips", "4", "--scale-clips", "4",
          "--no-bf16", "--out", str(tmp_path / "run"), "--export", str(tmp_path / "ship" / "tiny"), "--device", "cpu"])
    meta = json.loads((tmp_path / "ship" / "tiny.json").read_text())
    assert meta["kind"] == "vae" and meta["train"]["steps"] == 2 and meta["scaling_factor"] > 0
    assert meta["train"]["config"]["bf16"] is False and meta["train"]["bf16_autocast"] is False  # not asked for
    assert meta["train"]["trained_on"] == "cpu"
    VideoVAE.from_pretrained(tmp_path / "ship" / "tiny")
    main(["cache-latents", "--vae", str(tmp_path / "ship" / "tiny"), "--n", "3", "--out", str(tmp_path / "lat"),
          "--device", "cpu"])
    assert len(load_latents(tmp_path / "lat")) == 3

    # A cache for a run with rotations narrowed, made by the CLI at the path that run looks for: the run
    # reads it as it is instead of encoding its own (which would fail here)
    from minivid import train
    cfg = train.T2VTrainConfig(vae=str(tmp_path / "ship" / "tiny"), cache_clips=3, rotation_start="canonical",
                               rotation_speed=15)
    path = train.t2v_cache_path(cfg, tmp_path / "latents")
    main(["cache-latents", "--vae", cfg.vae, "--n", "3", "--out", str(path), "--device", "cpu",
          "--rotation-start", "canonical", "--rotation-speed", "15"])
    assert path.name.endswith("-canonical-spin15")
    monkeypatch.setattr(train, "cache_latents", lambda *a, **k: pytest.fail("re-encoded a matching cache"))
    narrowed = train.ensure_latent_cache(cfg, tmp_path / "latents", device="cpu", progress=False)
    assert narrowed.meta["dataset"]["rotation_start"] == "canonical" and narrowed.meta["dataset"]["rotation_speed"] == 15
    assert narrowed.captions == load_latents(tmp_path / "lat").captions  # the same scenes, rotations narrowed


def test_find_shipped_searches_upwards_and_names_what_is_missing(tmp_path):
    from minivid.checkpoint import find_shipped

    (tmp_path / "data" / "vae").mkdir(parents=True)
    (tmp_path / "data" / "vae" / "shapes.json").write_text("{}")
    (tmp_path / "notebooks").mkdir()
    assert find_shipped(start=tmp_path / "notebooks") == tmp_path.resolve() / "data" / "vae" / "shapes"
    with pytest.raises(FileNotFoundError, match="data/t2v/shapes.json not found above .*git clone"):
        find_shipped("data/t2v/shapes", start=tmp_path / "notebooks")


def test_every_training_flag_has_help_text_from_its_config_field():
    import argparse

    from minivid.train import T2VTrainConfig, build_parser
    stages = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    for stage in ("vae", "t2v", "cache-latents", "export-t2v", "name-weak", "recipe"):
        stages[stage].format_help()  # renders (a stray % in a comment would break it)
        for action in stages[stage]._actions:
            if action.option_strings and action.dest != "help":
                text = (action.help or "").replace("(default: %(default)s)", "").strip()
                assert len(text) > 10, (stage, action.option_strings)
    lr = next(a for a in stages["t2v"]._actions if a.dest == "lr")
    assert lr.help.startswith("peak AdamW learning rate") and lr.default == T2VTrainConfig.lr


def test_no_function_in_the_package_is_longer_than_80_lines():
    import ast
    from pathlib import Path

    longest = []
    for path in sorted((Path(__file__).resolve().parents[1] / "minivid").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                longest.append((node.end_lineno - node.lineno + 1, f"{path.name}:{node.lineno} {node.name}"))
    assert max(longest)[0] <= 80, sorted(longest)[-5:]
