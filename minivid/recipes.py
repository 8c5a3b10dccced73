"""Named recipes: every stage that makes a model, run by one resumable command.

    python -m minivid.train recipe --list
    python -m minivid.train recipe shapes --dry-run     # the stages as plain commands
    python -m minivid.train recipe shapes               # the shipped VAE and DiT, in runs/recipes/shapes/
    python -m minivid.train recipe long                 # the same, then the long-video run (data/t2v/long)
    python -m minivid.train recipe hour                 # VAE + DiT in about an hour on a 2-core CPU

A recipe is a list of stages run in order, each in its own directory under
`--out`: "vae" trains a VAE (from scratch or from the previous VAE stage),
"t2v" trains the DiT (from scratch or continuing the previous t2v stage; the
latent cache it needs is encoded on the way, into `--out`/latents) and exports
its EMA weights, "cache" encodes a t2v stage's latent cache ahead of it (with rendering
processes beside the encoder), "weak" exports an earlier t2v stage as autoguidance's weaker
model and "name-weak" records it, with the sampling it was measured best with,
in the final model's sidecar. Every stage writes `model` (X.safetensors +
X.json) in its directory when it is done; run the same command again after a
kill and the done stages are skipped and the interrupted one resumes exactly.

`shapes` is the chain of training runs that made the shipped model, as its
sidecars record it (data/vae/shapes.json `train`, data/t2v/shapes.json
`init_from`, data/t2v/weak.json; tests/test_recipes.py checks each stage
against them). `long` continues it with one more run in which half of the clips have their first latent
frame given (story segments from the state the last segment left, and image-to-video): the model behind
stories, `image=` and `extend` (data/t2v/long). A stage with `ranks` > 1 runs data parallel as it was made
(`torchrun --nproc_per_node N`, one thread per rank); `--ranks 1` runs every
stage in one process instead: the same steps, up to rounding. `hour` is the narrowed
one-hour recipe: rotations drawn upright at 15 deg/frame (within the spec),
sampled at guidance 2, the DiT stopped at the last snapshot inside the hour.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import torch

from .checkpoint import CheckpointError, read_meta
from .latents import cache_latents
from .runs import RunError
from .vae import VideoVAE
from .world import ShapesWorld

SHAPES_VAE = [
    {"name": "vae", "kind": "vae", "config": {}},
    {"name": "vae-decoder", "kind": "vae", "config": {"lr": 3e-4, "warmup_steps": 100, "freeze_encoder": True}},
]
CPU_SHIFT3 = {"lr": 3e-4, "timestep_shift": 3.0, "threads": 1}
GPU = {"cache_clips": 120000, "batch_size": 512, "timestep_shift": 3.0, "bf16": True}
GPU_TOKENS = {**GPU, "rotation_weight": 3.0, "text_aux_weight": 1.0}
CPU_TOKENS = {"cache_clips": 40000, "batch_size": 64, "lr": 1e-4, "timestep_shift": 3.0, "rotation_weight": 3.0,
              "text_aux_weight": 1.0, "bf16": True, "compile": True, "threads": 1}
SHAPES_T2V = [  # each continues the one before it (init_from); stop_at: the run was cut there and exported
    {"config": {"threads": 1}},
    {"config": {**CPU_SHIFT3, "seed": 1}},
    {"config": {**CPU_SHIFT3, "seed": 2}},
    {"config": {**GPU, "lr": 3e-4, "steps": 2400, "seed": 7, "checkpoint_every": 800, "threads": 4}},
    {"config": {**GPU, "lr": 2e-4, "warmup_steps": 100, "steps": 6000, "seed": 8, "threads": 8}, "stop_at": 3000},
    {"config": {**GPU_TOKENS, "lr": 3e-4, "steps": 2400, "seed": 9, "checkpoint_every": 800, "threads": 4}},
    {"config": {**GPU_TOKENS, "lr": 2e-4, "warmup_steps": 100, "steps": 2400, "seed": 10, "checkpoint_every": 600,
                "threads": 4}, "stop_at": 1800},
    {"config": {**CPU_TOKENS, "data_seed": 1, "steps": 13000, "seed": 11, "checkpoint_every": 1000}, "ranks": 2},
    {"config": {**CPU_TOKENS, "data_seed": 2, "steps": 13000, "seed": 12, "checkpoint_every": 1000}, "ranks": 2},
    {"config": {**CPU_TOKENS, "data_seed": 3, "steps": 4500, "seed": 13}, "ranks": 2},
    {"config": {**CPU_TOKENS, "data_seed": 3, "steps": 8000, "seed": 14}, "ranks": 2},
    {"config": {**CPU_TOKENS, "data_seed": 4, "steps": 7500, "seed": 15}, "ranks": 2},
    {"config": {**CPU_TOKENS, "data_seed": 5, "steps": 7500, "seed": 16}, "ranks": 2},
    {"config": {**CPU_TOKENS, "data_seed": 6, "steps": 7500, "seed": 17}, "ranks": 2},
]
LONG_T2V = {**CPU_TOKENS, "cache_clips": 10000, "data_seed": 7, "story_clips": 8000, "image_prob": 0.25,
            "given_level": 0.03, "steps": 5000, "seed": 18, "threads": 1}
HOUR_T2V = {"cache_clips": 12000, "batch_size": 64, "steps": 7500, "lr": 1e-3, "timestep_shift": 3.0,
            "rotation_weight": 3.0, "rotation_start": "canonical", "rotation_speed": 15.0, "text_aux_weight": 1.0,
            "bf16": True, "compile": True, "threads": 1}

RECIPES = {
    "shapes": {
        "about": "the shipped model: the VAE and its decoder fine-tune, the DiT's 14 chained runs, the weaker model",
        "stages": [*SHAPES_VAE,
                   *({"name": f"t2v-{i:02d}", "kind": "t2v", "continue": i > 1, **s}
                     for i, s in enumerate(SHAPES_T2V, start=1)),
                   {"name": "weak", "kind": "weak", "run": "t2v-01"},
                   {"name": "name-weak", "kind": "name-weak", "model": f"t2v-{len(SHAPES_T2V):02d}", "weak": "weak",
                    "sampling": {"autoguidance": 1.0, "guidance": 3.0}}],
    },
    "long": {
        "about": "the long-video model: the shipped model's stages, then one run with given first frames "
                 "(story segments and image-to-video), its weaker model named as the shipped model's",
        "stages": [*SHAPES_VAE,
                   *({"name": f"t2v-{i:02d}", "kind": "t2v", "continue": i > 1, **s}
                     for i, s in enumerate(SHAPES_T2V, start=1)),
                   {"name": "t2v-long", "kind": "t2v", "continue": True, "config": LONG_T2V},
                   {"name": "weak", "kind": "weak", "run": "t2v-01"},
                   {"name": "name-weak", "kind": "name-weak", "model": "t2v-long", "weak": "weak",
                    "sampling": {"autoguidance": 1.0, "guidance": 3.0}}],
    },
    "hour": {
        "about": "a VAE and a DiT from scratch in about an hour on a 2-core CPU, rotations narrowed, guidance 2",
        "stages": [{"name": "vae", "kind": "vae", "config": {}, "threads": 2},
                   {"name": "cache", "kind": "cache", "for": "t2v", "workers": 1, "threads": 2},
                   {"name": "t2v", "kind": "t2v", "config": HOUR_T2V, "stop_at": 6500, "sampling": {"guidance": 2.0},
                    "ranks": 2}],
    },
}


def stage_configs(name: str, root, overrides: dict | None = None, ranks: int | None = None) -> list[dict]:
    """The stages of recipe `name` with their full configs (VAETrainConfig / T2VTrainConfig), paths filled in under
    `root`: each VAE stage after the first fine-tunes the previous one, every t2v stage reads the last VAE, and a
    continuing t2v stage starts from the previous stage's model. `overrides`: field -> value, in every stage that
    has the field. `ranks`: run every t2v stage on this many data-parallel ranks instead of the recipe's."""
    from .train import T2VTrainConfig, VAETrainConfig
    if name not in RECIPES:
        raise RunError(f"unknown recipe {name!r}; choose from {sorted(RECIPES)}")
    root, stages, vae, t2v = Path(root), [], "", ""
    for stage in RECIPES[name]["stages"]:
        stage = {**stage, "dir": root / stage["name"]}
        if stage["kind"] == "t2v" and ranks is not None:
            stage["ranks"] = ranks
        if stage["kind"] in ("vae", "t2v"):
            cls = VAETrainConfig if stage["kind"] == "vae" else T2VTrainConfig
            paths = ({"init_from": vae} if vae else {}) if cls is VAETrainConfig else \
                {"vae": vae, "init_from": t2v if stage.get("continue") else ""}
            stage["config"] = cls(**{**stage["config"], **paths, **fields_of(cls, overrides or {})})
            if stage["kind"] == "vae":
                vae = str(stage["dir"] / "model")
            else:
                t2v = str(stage["dir"] / "model")
        stages.append(stage)
    for stage in stages:  # a cache stage encodes the latents of the t2v stage it is for, where that looks for them
        if stage["kind"] == "cache":
            stage["config"], stage["dir"] = next(s["config"] for s in stages if s["name"] == stage["for"]), root / "latents"
    return stages


def fields_of(cls, overrides: dict) -> dict:
    """The overrides that are fields of dataclass `cls`, converted from strings to the field's type."""
    types = {f.name: f.type for f in dataclasses.fields(cls)}
    out = {}
    for key, value in overrides.items():
        kind = types.get(key)
        if kind is None:
            continue
        if kind in (bool, "bool") and isinstance(value, str):
            value = value.lower() in ("1", "true", "yes")
        elif isinstance(value, str):
            value = {"int": int, "float": float, "str": str}.get(kind, str)(value)
        out[key] = value
    return out


def config_argv(cfg) -> list[str]:
    """The flags that give dataclass `cfg` (the fields that differ from the defaults), as an argument list."""
    argv, defaults = [], type(cfg)()
    for f in dataclasses.fields(cfg):
        value, flag = getattr(cfg, f.name), "--" + f.name.replace("_", "-")
        if value != getattr(defaults, f.name):
            argv += [flag if value else "--no-" + flag[2:]] if isinstance(value, bool) else [flag, str(value)]
    return argv


def t2v_argv(stage: dict, device="auto") -> list[str]:
    """The command line (python -m ... or torchrun) that trains t2v `stage` into its directory, resuming."""
    launch = ["-m", "minivid.train"] if stage.get("ranks", 1) == 1 else \
        ["-m", "torch.distributed.run", "--nproc_per_node", str(stage["ranks"]), "-m", "minivid.train"]
    stop = ["--stop-at", str(stage["stop_at"])] if stage.get("stop_at") else []
    return [*launch, "t2v", *config_argv(stage["config"]), *stop, "--out", str(stage["dir"]), "--resume",
            "--cache-root", str(stage["dir"].parent / "latents"), "--device", str(device or "auto")]


def cache_path(stage: dict, dry_run: bool = False) -> Path:
    """Where cache `stage` writes the latents its t2v stage reads (named by the VAE's sha256: a placeholder in a
    dry run, before the VAE exists)."""
    from .train import t2v_cache_path
    return t2v_cache_path(stage["config"], stage["dir"], sha256="VAE-SHA256[:16]" if dry_run else None)


def command_of(stage: dict, dry_run: bool = False) -> str:
    """The plain shell command that runs `stage` (what --dry-run prints)."""
    out, model = shlex.quote(str(stage["dir"])), shlex.quote(str(stage["dir"] / "model"))
    if stage["kind"] == "cache":
        c = stage["config"]
        return shlex.join(["python", "-m", "minivid.train", "cache-latents", "--vae", c.vae, "--n", str(c.cache_clips),
                           "--seed", str(c.data_seed), "--rotation-start", c.rotation_start, "--rotation-speed",
                           str(c.rotation_speed), "--workers", str(stage["workers"]), "--threads", str(stage["threads"]),
                           "--out", str(cache_path(stage, dry_run))])
    if stage["kind"] == "vae":
        return shlex.join(["python", "-m", "minivid.train", "vae", *config_argv(stage["config"]),
                           *(["--threads", str(stage["threads"])] if stage.get("threads") else []),
                           "--out", str(stage["dir"]), "--export", str(stage["dir"] / "model")])
    if stage["kind"] == "t2v":
        guidance = stage.get("sampling", {}).get("guidance")
        train = ("OMP_NUM_THREADS=1 " if stage.get("ranks", 1) > 1 else "") + shlex.join(["python", *t2v_argv(stage)])
        return (train + f" && python -m minivid.train export-t2v --run {out} --out {model}"
                + (f" --guidance {guidance}" if guidance else ""))
    if stage["kind"] == "weak":
        return f"python -m minivid.train export-t2v --run {stage['dir'].parent / stage['run']} --out {model}"
    sampling = stage["sampling"]
    return (f"python -m minivid.train name-weak --model {stage['dir'].parent / stage['model'] / 'model'} "
            f"--weak {stage['dir'].parent / stage['weak'] / 'model'} --autoguidance {sampling['autoguidance']} "
            f"--guidance {sampling['guidance']}")


def stage_done(stage: dict) -> bool:
    """Whether `stage` has written its output (the sidecar is written last, atomically)."""
    if stage["kind"] == "cache":
        return Path(f"{cache_path(stage)}.json").exists()
    if stage["kind"] != "name-weak":
        return (stage["dir"] / "model.json").exists()
    model = stage["dir"].parent / stage["model"] / "model"
    try:
        return "weak" in read_meta(model)
    except CheckpointError:
        return False


def run_stage(stage: dict, device, cache_root: Path) -> None:
    from .train import export_from_run, name_weak_model, train_t2v, train_vae
    model = stage["dir"] / "model"
    threads = stage.get("threads") or getattr(stage.get("config"), "threads", 0)
    if threads:
        torch.set_num_threads(threads)
    if stage["kind"] == "vae":
        train_vae(stage["config"], stage["dir"], resume=True, export=model, device=device)
    elif stage["kind"] == "cache":
        c = stage["config"]
        dataset = ShapesWorld(c.cache_clips, "train", c.data_seed, rotation_start=c.rotation_start,
                              rotation_speed=c.rotation_speed or None)  # as train.ensure_latent_cache draws them
        cache_latents(VideoVAE.from_pretrained(c.vae, device=device), dataset, c.cache_clips, cache_path(stage),
                      progress=True, workers=stage["workers"])
    elif stage["kind"] == "t2v":
        if stage.get("ranks", 1) > 1:  # data parallel, as the stage was made: torchrun, one thread per rank
            done = subprocess.run([sys.executable, *t2v_argv(stage, device)], env={**os.environ, "OMP_NUM_THREADS": "1"})
            if done.returncode:
                raise RunError(f"stage {stage['name']} failed (exit status {done.returncode}); its error is above")
        else:
            train_t2v(stage["config"], stage["dir"], resume=True, device=device, stop_at=stage.get("stop_at"),
                      cache_root=cache_root)
        export_from_run(stage["dir"], model, sampling=stage.get("sampling"))
    elif stage["kind"] == "weak":
        export_from_run(stage["dir"].parent / stage["run"], model)
    else:
        root = stage["dir"].parent
        name_weak_model(root / stage["model"] / "model", root / stage["weak"] / "model", **stage["sampling"])


def run_recipe(name: str, out=None, device=None, until: str | None = None, dry_run: bool = False,
               overrides: dict | None = None, ranks: int | None = None) -> str:
    """Run the stages of recipe `name` not yet done, in `out` (default runs/recipes/NAME), up to stage `until`;
    returns where the final model is. The recipe and overrides are recorded in `out`/recipe.json: the same `out`
    continues only the same recipe."""
    root = Path(out or f"runs/recipes/{name}")
    stages = stage_configs(name, root, overrides, ranks)
    if until is not None and until not in [s["name"] for s in stages]:
        raise RunError(f"--until must be a stage of {name}: {', '.join(s['name'] for s in stages)}")
    if dry_run:
        return "\n".join(command_of(s, dry_run=True) for s in stages)
    check_recipe_record(root, {"recipe": name, "overrides": overrides or {}})
    for stage in stages:
        if not stage_done(stage):
            print(f"recipe {name}: stage {stage['name']}: {command_of(stage)}", flush=True)
            run_stage(stage, device, root / "latents")
        if stage["name"] == until:
            break
    final = next(s for s in reversed(stages) if s["kind"] == "t2v")["dir"] / "model"
    return f"recipe {name}: {'stopped after ' + until if until else 'done'}; the model: {final}"


def check_recipe_record(root: Path, record: dict) -> None:
    """Write `root`/recipe.json, or refuse a root that holds another recipe (or the same with other overrides)."""
    path = root / "recipe.json"
    if path.exists():
        found = json.loads(path.read_text())
        if found != record:
            raise RunError(f"{root} holds recipe {found.get('recipe')!r} with overrides {found.get('overrides')}; "
                           "choose another --out")
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")
    except OSError as e:
        raise RunError(f"cannot write the recipe into --out {root}: {e.strerror or e}") from None
