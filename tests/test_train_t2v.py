"""Text-to-video training: determinism, exact resumption, the latent cache, the export."""
import argparse
import dataclasses
import importlib.util
import shutil
import json
import sys
from pathlib import Path

import pytest
import torch

from minivid.checkpoint import CheckpointError, checkpoint_paths, read_meta
from minivid.device import bf16_supported, default_device, device_name
from minivid.text import TOKEN_IDS, encode_batch, split_words
from minivid.latents import LatentCache
from minivid.text_aux import NAMES_NOTHING, caption_labels, caption_token_labels, pair_class, text_aux_loss
from minivid.train import (T2VTrainConfig, add_dataclass_flags, build_dit, clip_weights, ensure_latent_cache,
                           export_from_run, init_from_t2v, main, step_batch, t2v_cache_path, train_t2v, training_chain,
                           training_seconds_by_device, training_story)
from minivid.world import COLOURS, MOTIONS, ShapesWorld

LATENT = (8, 5, 8, 8)  # what the shipped VAE makes of a 17x32x32 clip


def tiny_cache(n: int = 32, shape=LATENT) -> LatentCache:
    """Random 'latents' with real captions (1 and 2 objects, all languages): training only needs the shapes."""
    captions = [item["caption"] for item in ShapesWorld(n, "train", 0).__getitems__(list(range(n)))]
    g = torch.Generator().manual_seed(0)
    return LatentCache(torch.randn((n, *shape), generator=g), torch.arange(n), captions, {"scaling_factor": 1.0})


def tiny_config(**overrides) -> T2VTrainConfig:
    return T2VTrainConfig(**{"preset": "tiny", "batch_size": 4, "steps": 6, "warmup_steps": 2,
                             "checkpoint_every": 3, **overrides})


def state(model) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_close_weights(a: dict, b: dict, key: str) -> None:
    """Weights `key` of two trainings that round differently (DDP, compiled kernels) agree. Softmax ignores a bias
    on the attention keys, so their gradient is rounding noise, which Adam scales to full-size steps: of a `kv.bias`
    only the values' half is compared."""
    x, y = a[key], b[key]
    if key.endswith("attn.kv.bias"):
        x, y = x.chunk(2)[1], y.chunk(2)[1]
    torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-5, msg=key)


@pytest.mark.parametrize("text_aux_weight", [0.0, 1.0])
def test_resume_continues_exactly(tmp_path, text_aux_weight):
    cfg = tiny_config(text_aux_weight=text_aux_weight)
    cache = tiny_cache()
    straight = train_t2v(cfg, tmp_path / "a", cache=cache, progress=False, snapshots=False)
    train_t2v(cfg, tmp_path / "b", cache=cache, progress=False, stop_at=3, snapshots=False)
    resumed = train_t2v(cfg, tmp_path / "b", cache=cache, progress=False, resume=True, snapshots=False)
    from safetensors.torch import load_file
    a, b = load_file(tmp_path / "a/state-00000006.safetensors"), load_file(tmp_path / "b/state-00000006.safetensors")
    assert a.keys() == b.keys() and any(k.startswith("model.ema.") for k in a) and any(k.startswith("optim.") for k in a)
    assert any(k.startswith("model.text_head.") for k in a) == (text_aux_weight > 0)  # the aux head is state too
    for k in a:
        if not k.startswith("rng."):
            assert torch.equal(a[k], b[k]), k  # model, EMA and optimizer state, bit for bit
    assert all(torch.equal(x, y) for x, y in zip(state(straight).values(), state(resumed).values()))
    # the EMA really trails the model
    assert not all(torch.equal(a[k], a["model.ema." + k[len("model.model."):]]) for k in a if k.startswith("model.model."))


def test_training_is_seeded_and_learns_something(tmp_path):
    cache = tiny_cache(n=4)  # four clips, seen again and again: the loss on them must fall
    cfg = tiny_config(steps=40, warmup_steps=5, lr=3e-3, checkpoint_every=40, caption_dropout=0.0)
    one, model = train_t2v(cfg, tmp_path / "a", cache=cache, progress=False, snapshots=False, return_model=True)
    two = state(train_t2v(cfg, tmp_path / "b", cache=cache, progress=False, snapshots=False))
    other = state(train_t2v(dataclasses.replace(cfg, seed=1), tmp_path / "c", cache=cache, progress=False,
                            snapshots=False))
    one = state(one)
    assert all(torch.equal(one[k], two[k]) for k in one)
    assert not all(torch.equal(one[k], other[k]) for k in one)
    log = [json.loads(line) for line in (tmp_path / "a/log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 40 and log[-1]["it_s"] > 0
    # the weights moved from their initialisation, and the same batches' loss fell (without optimizer.step()
    # neither happens: the untrained DiT predicts 0 and its weights stay put)
    fresh = state(build_dit("tiny", LATENT[0]))
    assert not torch.equal(state(model)["final_layer.linear.weight"], fresh["final_layer.linear.weight"])

    def loss_of(weights) -> float:
        net = build_dit("tiny", LATENT[0])
        net.load_state_dict(weights)
        ids, mask = encode_batch(cache.captions)
        g = torch.Generator().manual_seed(0)
        t, eps = torch.rand(64, generator=g), torch.randn((64, *LATENT), generator=g)
        x0 = cache.latents.repeat(16, 1, 1, 1, 1)
        from minivid.diffusion import flow_matching_loss
        with torch.no_grad():
            return flow_matching_loss(net, x0, ids.repeat(16, 1), mask.repeat(16, 1), t=t, eps=eps).item()

    assert loss_of(state(model)) < 0.98 * loss_of(fresh)  # deterministic: 1.94 vs 2.00 on the CPU


def test_resume_refuses_a_different_config(tmp_path):
    cache = tiny_cache()
    train_t2v(tiny_config(), tmp_path, cache=cache, progress=False, stop_at=3, snapshots=False)
    with pytest.raises(CheckpointError, match="lr"):
        train_t2v(tiny_config(lr=1e-3), tmp_path, cache=cache, progress=False, resume=True, snapshots=False)


def test_batches_are_a_pure_function_of_seed_and_step():
    cfg = tiny_config(caption_dropout=0.5, batch_size=64)
    a, b, c = step_batch(cfg, 7, 1000, LATENT), step_batch(cfg, 7, 1000, LATENT), step_batch(cfg, 8, 1000, LATENT)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["eps"], c["eps"])
    assert 0 < a["drop"].sum() < 64 and ((a["t"] > 0) & (a["t"] < 1)).all()
    shifted = step_batch(tiny_config(caption_dropout=0.5, batch_size=64, timestep_shift=3.0), 7, 1000, LATENT)
    assert torch.equal(shifted["eps"], a["eps"]) and (shifted["t"] > a["t"]).all()  # same draws, times moved to noise


def test_rotation_weight_draws_rotating_clips_that_much_more_often():
    captions = ["a red square rotates clockwise", "一个蓝色的三角形逆时针旋转", "a red circle moves left",
                "a green circle bounces and a blue square rotates counterclockwise", "白色的正方形靜止不動"]
    assert clip_weights(captions, 1.0) is None  # uniform: step_batch draws exactly as before the option existed
    assert clip_weights(captions, 3.0).tolist() == [3.0, 3.0, 1.0, 3.0, 1.0]  # either object, either language
    with pytest.raises(ValueError, match="rotation_weight"):
        clip_weights(captions, 0.0)
    n = 1000
    rotating = torch.arange(n) < 200  # a fifth of the clips rotate: with weight 4, half the draws should
    weights = torch.where(rotating, 4.0, 1.0)
    cfg = tiny_config(batch_size=4096)
    drawn = step_batch(cfg, 7, n, LATENT, weights)["index"]
    assert abs(rotating[drawn].float().mean().item() - 0.5) < 0.03  # ~4 standard errors of a 4096-draw share
    assert torch.equal(drawn, step_batch(cfg, 7, n, LATENT, weights)["index"])  # still a pure function of (seed, step)
    assert abs(rotating[step_batch(cfg, 7, n, LATENT)["index"]].float().mean().item() - 0.2) < 0.03


def test_caption_labels_name_each_objects_colour_and_motion():
    colours, motions = list(COLOURS), list(MOTIONS)

    def at(colour, motion):
        return colours.index(colour) * len(motions) + motions.index(motion)

    labels = caption_labels(["a red square rotates clockwise", "紅色的正方形順時針旋轉",
                             "a green circle bounces and a blue square rotates counterclockwise"])
    assert labels.shape == (3, len(colours) * len(motions))
    assert labels[0].nonzero().flatten().tolist() == [at("red", "rotates clockwise")]
    assert torch.equal(labels[0], labels[1])  # a Chinese caption names the same things
    assert sorted(labels[2].nonzero().flatten().tolist()) == sorted([at("green", "bounces"),
                                                                      at("blue", "rotates counterclockwise")])


def test_text_aux_loss_is_the_mean_bce_and_teaches_the_encoder_the_rotation_direction():
    source = "pooled"
    torch.manual_seed(0)
    model = build_dit("tiny", LATENT[0])
    head = torch.nn.Linear(model.config.text_width, len(COLOURS) * len(MOTIONS))
    captions = ["a red square rotates clockwise", "a red square rotates counterclockwise"]
    ids, mask = encode_batch(captions)
    labels = caption_labels(captions)

    def vector():  # what the head reads
        return model.text_encoder(ids, mask.bool())[2]

    reference = torch.nn.functional.binary_cross_entropy_with_logits(head(vector()), labels)  # mean over all entries
    torch.testing.assert_close(text_aux_loss(model, head, ids, mask, labels, kept=2, source=source), reference)
    # two ranks of one caption each, each x world / global count: their mean is the one-process loss
    halves = [text_aux_loss(model, head, ids[i:i + 1], mask[i:i + 1], labels[i:i + 1], kept=2, world=2, source=source)
              for i in (0, 1)]
    torch.testing.assert_close(sum(halves) / 2, reference)

    before = torch.cosine_similarity(*vector().detach(), dim=0)
    params = list(model.text_encoder.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=3e-3)
    for _ in range(100):
        opt.zero_grad()
        text_aux_loss(model, head, ids, mask, labels, kept=2, source=source).backward()
        opt.step()
    after = torch.cosine_similarity(*vector().detach(), dim=0)
    assert after < before - 0.05  # the two directions moved apart ...
    predicted = head(vector()).detach() > 0
    assert torch.equal(predicted, labels.bool())  # ... far enough for the head to name each one
    with pytest.raises(ValueError, match="tokens"):  # the loss itself names the sources it knows
        text_aux_loss(model, head, ids, mask, labels, kept=2, source="words")


def test_caption_token_labels_give_every_word_its_own_objects_pair():
    captions = ["a red square rotates clockwise and a blue circle bounces", "紅色的正方形順時針旋轉，藍色的圓形彈跳"]
    labels = caption_token_labels(captions)
    ids, mask = encode_batch(captions)
    assert labels.shape == (2, 1 + ids.shape[1])  # laid out like the encoder's output: register first
    red, blue = pair_class("red", "rotates clockwise"), pair_class("blue", "bounces")
    for row, words, n in zip(labels, map(split_words, captions), mask.sum(1)):
        assert len(words) == n - 1  # one token per word after <bos>
        named = row[2:2 + len(words)].tolist()
        separator = words.index("and") if "and" in words else words.index("，")
        assert named[:separator] == [red] * separator  # "a red square rotates clockwise" / 紅色的正方形順時針旋轉
        assert named[separator] == NAMES_NOTHING and set(named[separator + 1:]) == {blue}
        assert (row[:2] == NAMES_NOTHING).all() and (row[2 + len(words):] == NAMES_NOTHING).all()  # register, <bos>, pad
    # two separators in a row are one break between two objects, as parse_prompt reads them
    both = caption_token_labels(["a red square rotates clockwise, and a blue circle bounces"])[0]
    assert both[2:14].tolist() == [red] * 5 + [NAMES_NOTHING] * 2 + [blue] * 4 + [NAMES_NOTHING]


def test_token_text_aux_loss_is_the_mean_cross_entropy_and_binds_each_clause():
    torch.manual_seed(0)
    model = build_dit("tiny", LATENT[0])
    head = torch.nn.Linear(model.config.text_width, len(COLOURS) * len(MOTIONS))
    captions = ["a red square rotates clockwise and a blue circle bounces",
                "a red circle bounces and a blue square rotates counterclockwise"]  # the same words, bound otherwise
    ids, mask = encode_batch(captions)
    labels = caption_token_labels(captions)
    tokens = model.text_encoder(ids, mask.bool())[0]
    named = labels != NAMES_NOTHING
    reference = torch.stack([torch.nn.functional.cross_entropy(head(tokens[i][named[i]]), labels[i][named[i]])
                             for i in (0, 1)]).mean()  # each caption: the mean over its labelled tokens
    torch.testing.assert_close(text_aux_loss(model, head, ids, mask, labels, kept=2, source="tokens"), reference)
    halves = [text_aux_loss(model, head, ids[i:i + 1], mask[i:i + 1], labels[i:i + 1], kept=2, world=2,
                            source="tokens") for i in (0, 1)]
    torch.testing.assert_close(sum(halves) / 2, reference)

    opt = torch.optim.Adam(list(model.text_encoder.parameters()) + list(head.parameters()), lr=3e-3)
    for _ in range(100):
        opt.zero_grad()
        text_aux_loss(model, head, ids, mask, labels, kept=2, source="tokens").backward()
        opt.step()
    tokens = model.text_encoder(ids, mask.bool())[0].detach()
    # every word now carries its own object's colour and motion: "red" names (red, rotates clockwise) in the first
    # caption and (red, bounces) in the second, which only its clause can tell it
    assert torch.equal(head(tokens).argmax(-1)[named], labels[named])


def test_latent_cache_is_encoded_once_and_reused(tmp_path):
    cfg = tiny_config(cache_clips=4)
    cache = ensure_latent_cache(cfg, tmp_path, progress=False)
    path = t2v_cache_path(cfg, tmp_path)
    assert path.name.startswith(read_meta("data/vae/shapes")["sha256"][:16])  # named by the VAE it came from
    assert tuple(cache.latents.shape) == (4, *LATENT) and len(cache.captions) == 4
    stamp = path.with_name(path.name + ".safetensors").stat().st_mtime_ns
    again = ensure_latent_cache(cfg, tmp_path, progress=False)
    assert torch.equal(again.latents, cache.latents)
    assert path.with_name(path.name + ".safetensors").stat().st_mtime_ns == stamp
    narrow = dataclasses.replace(cfg, rotation_start="canonical", rotation_speed=15.0)  # other clips, other cache
    assert t2v_cache_path(narrow, tmp_path).name == path.name + "-canonical-spin15"
    described = ensure_latent_cache(narrow, tmp_path, progress=False).meta["dataset"]
    assert (described["rotation_start"], described["rotation_speed"]) == ("canonical", 15.0)


def test_cli_trains_exports_and_the_export_loads(tmp_path, capsys):
    root, out, export = tmp_path / "latents", tmp_path / "run", tmp_path / "t2v"
    flags = ["t2v", "--preset", "tiny", "--cache-clips", "4", "--batch-size", "2", "--steps", "2",
             "--warmup-steps", "1", "--checkpoint-every", "1", "--cache-root", str(root), "--out", str(out)]
    main(flags + ["--export", str(export), "--cache-workers", "1"])  # the cache rendered in a worker process
    meta = read_meta(export, kind="t2v")
    assert meta["parameterisation"] == "flow" and meta["vae"]["sha256"] == read_meta("data/vae/shapes")["sha256"]
    assert meta["latent_shape"] == list(LATENT) and meta["sampling"]["sampler"] == "euler"
    assert (out / "ema-00000002.json").exists()
    export_from_run(out, tmp_path / "again")  # the newest training state's EMA == the final export
    from minivid.checkpoint import load_tensors
    a, b = load_tensors(export)[0], load_tensors(tmp_path / "again")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert meta["trained_on"] == read_meta(tmp_path / "again")["trained_on"] == device_name(default_device())
    assert meta["bf16_autocast"] is False and read_meta(tmp_path / "again")["bf16_autocast"] is False  # not asked for
    from minivid.pipeline import TextToVideo
    video = TextToVideo.from_pretrained(export)("a red circle moves left", steps=1)
    assert video.shape == (1, 17, 3, 32, 32)


def test_init_from_continues_a_shipped_checkpoint_and_keeps_its_story(tmp_path):
    cache = tiny_cache()
    train_t2v(tiny_config(), tmp_path / "first", cache=cache, progress=False, snapshots=False, export=tmp_path / "base")
    from minivid.checkpoint import load_tensors
    base, base_meta = load_tensors(tmp_path / "base", kind="t2v")
    model = build_dit("tiny", LATENT[0])
    story = init_from_t2v(model, tmp_path / "base")
    assert all(torch.equal(v, base[k]) for k, v in model.state_dict().items())  # starts exactly at the file
    assert story["sha256"] == base_meta["sha256"] and story["steps_trained"] == 6

    cfg = tiny_config(init_from=str(tmp_path / "base"), seed=1, lr=1e-4, bf16=True)
    train_t2v(cfg, tmp_path / "more", cache=cache, progress=False, stop_at=3, snapshots=False)
    (tmp_path / "base.safetensors").unlink()  # a resumed continuation needs only its own state
    train_t2v(cfg, tmp_path / "more", cache=cache, progress=False, resume=True, snapshots=False,
              export=tmp_path / "cont")
    meta = read_meta(tmp_path / "cont", kind="t2v")
    assert meta["init_from"]["sha256"] == base_meta["sha256"] and meta["steps_trained"] == 6
    # --bf16 asked for; whether autocast ran is the device's answer (False on a CPU with AVX2 only), kept per run
    assert meta["bf16_autocast"] is bf16_supported(default_device()) and meta["init_from"]["bf16_autocast"] is False
    steps, seconds = training_story(meta)  # this run's steps and seconds plus its base's
    assert steps == 12 and seconds == pytest.approx(meta["train_seconds"] + base_meta["train_seconds"])
    here = device_name(default_device())  # both ran here; minutes are also kept apart per device
    assert training_seconds_by_device(meta) == {here: pytest.approx(seconds)}
    elsewhere = {**meta["init_from"], "trained_on": "cuda (a borrowed GPU)"}
    assert training_seconds_by_device({**meta, "init_from": elsewhere}) == {
        "cuda (a borrowed GPU)": pytest.approx(base_meta["train_seconds"]), here: pytest.approx(meta["train_seconds"])}
    first, last = training_chain(meta)  # oldest first; each stage's recipe travels with the export
    assert T2VTrainConfig(**first["train_config"]) == tiny_config() and last is meta
    assert T2VTrainConfig(**last["train_config"]) == cfg
    export_from_run(tmp_path / "more", tmp_path / "again")
    assert read_meta(tmp_path / "again")["init_from"] == meta["init_from"]


def test_init_from_refuses_another_architecture(tmp_path):
    train_t2v(tiny_config(), tmp_path / "run", cache=tiny_cache(), progress=False, snapshots=False,
              export=tmp_path / "base")
    with pytest.raises(ValueError, match="latent_channels"):
        init_from_t2v(build_dit("tiny", 4), tmp_path / "base")


def test_config_flags_give_back_the_config():
    import argparse
    import shlex

    from minivid.train import add_dataclass_flags, config_flags
    parser = argparse.ArgumentParser()
    add_dataclass_flags(parser, T2VTrainConfig)
    cfg = T2VTrainConfig(lr=2e-4, batch_size=512, bf16=True, init_from="data/t2v/shapes", timestep_shift=3.0)
    flags = config_flags(cfg)
    assert flags == ["--batch-size 512", "--lr 0.0002", "--timestep-shift 3.0", "--bf16", "--init-from data/t2v/shapes"]
    parsed = parser.parse_args(shlex.split(" ".join(flags)))
    assert T2VTrainConfig(**vars(parsed)) == cfg  # the printed recipe is the recipe
    assert config_flags(cfg, skip=("init_from", "bf16")) == flags[:3] and config_flags(T2VTrainConfig()) == []


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="torch.compile on a CPU needs a C++ compiler")
def test_compiled_training_computes_the_same_steps(tmp_path):
    cache = tiny_cache()
    plain = state(train_t2v(tiny_config(steps=3), tmp_path / "a", cache=cache, progress=False, snapshots=False))
    fused = state(train_t2v(tiny_config(steps=3, compile=True), tmp_path / "b", cache=cache, progress=False,
                            snapshots=False))
    for k in plain:
        assert_close_weights(plain, fused, k)  # fused kernels round differently, no more


def test_recorded_configs_holding_retired_options_load_and_other_values_are_refused():
    shipped = read_meta("data/t2v/shapes", kind="t2v")
    for record in training_chain(shipped) + [read_meta("data/t2v/weak")]:  # every run behind the shipped files
        if record.get("train_config"):
            assert T2VTrainConfig(**record["train_config"]) == T2VTrainConfig.from_record(record["train_config"])
    assert "text_aux_from" in shipped["train_config"]  # a retired option, recorded with its built-in value
    for retired in ({"text_aux_weight": 1.0, "text_aux_from": "register"}, {"text_train_words": "clockwise"},
                    {"noise_correlation": 0.5}):
        with pytest.raises(ValueError, match=f"{next(k for k in retired if k != 'text_aux_weight')} is an option"):
            T2VTrainConfig(**retired)
    with pytest.raises(ValueError, match="unknown training config fields"):
        T2VTrainConfig.from_record({"lr": 1e-3, "learning_rate": 1e-3})
