"""Named recipes: `shapes` is the shipped model's recorded chain, stage for stage; a recipe runs and resumes by stage."""
import dataclasses
import json
from pathlib import Path

import pytest

from minivid.checkpoint import read_meta
from minivid.recipes import RECIPES, stage_configs
from minivid.runs import RunError
from minivid.train import (T2V_DEFAULT_SAMPLING, T2VTrainConfig, VAETrainConfig, main, training_chain,
                           vae_training_stages)


def without_paths(cfg, *names):
    return dataclasses.replace(cfg, **{n: "" for n in names})


def test_the_shapes_recipe_is_the_chain_the_shipped_sidecars_record():
    stages = stage_configs("shapes", "R")
    vaes, t2vs = [s for s in stages if s["kind"] == "vae"], [s for s in stages if s["kind"] == "t2v"]

    recorded_vae = vae_training_stages(read_meta("data/vae/shapes")["train"])
    assert [kind for kind, _ in recorded_vae] == ["from scratch", "decoder fine-tune"]
    assert len(vaes) == len(recorded_vae)
    for stage, (_, record) in zip(vaes, recorded_vae):
        assert without_paths(stage["config"], "init_from") == without_paths(
            VAETrainConfig(**record["config"]), "init_from"), stage["name"]
    assert vaes[1]["config"].init_from == "R/vae/model"  # the fine-tune starts from the first stage

    shipped, weak = read_meta("data/t2v/shapes"), read_meta("data/t2v/weak")
    chain = training_chain(shipped)  # oldest first; the first run's record lives in the weak model's sidecar
    assert chain[0]["sha256"] == weak["sha256"] and not chain[0].get("train_config")
    records = [weak] + chain[1:]
    assert len(t2vs) == len(records) == 14
    for i, (stage, record) in enumerate(zip(t2vs, records)):
        cfg = stage["config"]
        assert without_paths(cfg, "vae", "init_from") == without_paths(
            T2VTrainConfig.from_record(record["train_config"]), "vae", "init_from"), stage["name"]
        assert stage.get("stop_at", cfg.steps) == record["steps_trained"], stage["name"]  # cut runs stop there
        assert cfg.vae == "R/vae-decoder/model"
        assert cfg.init_from == ("" if i == 0 else f"R/{t2vs[i - 1]['name']}/model")  # each continues the last
    weak_stage, named = stages[-2], stages[-1]
    assert weak_stage["run"] == "t2v-01" and named["model"] == "t2v-14" and named["weak"] == "weak"
    assert {**T2V_DEFAULT_SAMPLING, **named["sampling"]} == shipped["sampling"]


def test_the_dry_run_prints_one_plain_command_per_stage(capsys):
    main(["recipe", "shapes", "--dry-run", "--out", "R"])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(RECIPES["shapes"]["stages"])
    assert lines[0] == "python -m minivid.train vae --out R/vae --export R/vae/model"
    assert "--stop-at 3000" in lines[6] and "--init-from R/t2v-04/model" in lines[6]
    assert lines[-1].startswith("python -m minivid.train name-weak --model R/t2v-14/model --weak R/weak/model")


TINY = ["preset=tiny", "steps=2", "batch_size=2", "warmup_steps=1", "checkpoint_every=1", "cache_clips=4",
        "val_clips=4", "scale_clips=4", "compile=false", "bf16=false"]


def test_a_recipe_runs_stage_by_stage_and_resumes_after_the_last_done_stage(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))  # for torchrun's processes
    argv = ["recipe", "hour", "--out", str(tmp_path), "--device", "cpu"] + [a for s in TINY for a in ("--set", s)]
    main(argv + ["--until", "vae"])  # as if killed after the VAE stage
    assert (tmp_path / "vae/model.json").exists() and not (tmp_path / "t2v").exists()
    vae_bytes = (tmp_path / "vae/model.safetensors").read_bytes()
    main(argv)
    assert (tmp_path / "vae/model.safetensors").read_bytes() == vae_bytes  # the done stage was not run again
    meta = read_meta(tmp_path / "t2v/model", kind="t2v")
    assert meta["vae"]["path"] == str(tmp_path / "vae/model") and meta["sampling"]["guidance"] == 2.0
    assert meta["train_config"]["rotation_start"] == "canonical" and meta["steps_trained"] == 2
    assert meta["train_config"]["batch_size"] == 2  # one clip per rank: the hour's t2v stage runs on two ranks
    out = capsys.readouterr().out
    assert out.count("stage vae:") == 1 and out.count("stage cache:") == 1 and out.count("stage t2v:") == 1
    assert "re-encoding" not in capsys.readouterr().err  # the t2v stage read the cache stage's latents
    assert "torch.distributed.run --nproc_per_node 2" in out
    main(argv)  # all done: nothing runs
    assert ": stage " not in capsys.readouterr().out
    with pytest.raises(SystemExit):  # the same --out with other overrides is another recipe
        main(argv[:-2] + ["--set", "steps=3"])
    assert "holds recipe 'hour'" in capsys.readouterr().err
    assert json.loads((tmp_path / "recipe.json").read_text())["recipe"] == "hour"


def test_an_unknown_recipe_or_stage_is_refused():
    with pytest.raises(RunError, match="unknown recipe"):
        stage_configs("sora", "R")
    from minivid.recipes import run_recipe
    with pytest.raises(RunError, match="--until must be a stage of hour: vae, cache, t2v"):
        run_recipe("hour", "R", until="dit", dry_run=True)


def test_the_long_recipe_ends_with_the_run_that_made_the_long_video_model():
    stages = stage_configs("long", "R")
    shapes = stage_configs("shapes", "R")
    assert [s["name"] for s in stages[:16]] == [s["name"] for s in shapes[:16]]  # the shipped model's stages first
    long_stage = next(s for s in stages if s["name"] == "t2v-long")
    shipped, base = read_meta("data/t2v/long"), read_meta("data/t2v/shapes")
    assert shipped["init_from"]["sha256"] == base["sha256"]  # continued from the shipped text-to-video model
    assert without_paths(long_stage["config"], "vae", "init_from") == without_paths(
        T2VTrainConfig.from_record(shipped["train_config"]), "vae", "init_from")
    assert long_stage["config"].init_from == "R/t2v-14/model"
    assert long_stage.get("stop_at", long_stage["config"].steps) == shipped["steps_trained"]
    assert shipped["given_level"] == long_stage["config"].given_level > 0
    assert stages[-1]["model"] == "t2v-long"
    assert {**T2V_DEFAULT_SAMPLING, **stages[-1]["sampling"]} == shipped["sampling"]
