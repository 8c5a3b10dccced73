"""Checkpoints without pickle: safetensors for tensors, a JSON sidecar for everything else.

A checkpoint called `X` is two files:

    X.safetensors   the tensors (safetensors: a JSON header + raw bytes; loading
                    it can never run code, unlike torch.load of a pickle)
    X.json          what the tensors mean: format, kind ("vae", "train-state",
                    "latents", ...), the model config, extra scalars, the
                    sha256 and byte size of X.safetensors and every tensor's shape

Loading checks, in order, that both files exist, the sidecar is valid JSON of
the right kind, the tensor file has the recorded size (else: truncated) and
hash (else: corrupt), and, in `load_state_dict_strict`, that the tensors fit
the model built from the config (else: mismatched). Each failure raises a
`CheckpointError` saying which of these went wrong and where.

Writes are atomic: each file is written to a temporary file in the same
directory, flushed and fsync'ed, then moved over the target with `os.replace`,
so a crash leaves either the old file or the new one, never half of one. The
tensor file is replaced before its sidecar; if a crash falls between the two,
the hash check catches the mismatch.

Training states (model + optimizer + step + RNG states + config) use the same
two-file format, one pair per saved step (`state-00001000.*`), keeping the last
few; `latest_training_state` returns the newest pair that verifies, so a run
killed at any moment resumes from its last complete checkpoint and, because
everything that drives training is restored, continues exactly as if it had
never stopped.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "minivid-checkpoint"
VERSION = 1


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt, of the wrong kind or does not fit its model."""


# ----------------------------------------------------------------------------
# Files


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """`X`, `X.safetensors` or `X.json` -> (X.safetensors, X.json)."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def find_shipped(name: str = "data/vae/shapes", start: str | os.PathLike | None = None) -> Path:
    """A checkpoint shipped in the repository's data/, found by searching upwards from `start`
    (default: the working directory, e.g. notebooks/). Weights are never downloaded."""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if checkpoint_paths(folder / name)[1].exists():
            return folder / name
    raise FileNotFoundError(
        f"{name}.json not found above {here}: run this inside a checkout of the minivid repository "
        "(on Colab: !git clone https://github.com/minivid/minivid && %cd minivid/notebooks)"
    )


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows when on the same filesystem
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _to_json(value):
    """JSON-ready copy of plain Python data; tuples are tagged so they come back as tuples."""
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a JSON sidecar: {value!r}")


def _from_json(value):
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_from_json(v) for v in value["__tuple__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


def save_tensors(path, tensors: dict[str, torch.Tensor], kind: str, config: dict | None = None, **extra) -> Path:
    """Write X.safetensors + X.json atomically; returns the .safetensors path.

    `config` and `extra` must be plain JSON-able data (tuples survive the round trip).
    """
    st_path, json_path = checkpoint_paths(path)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    data = st_save(tensors)
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "config": _to_json(config or {}),
        **{k: _to_json(v) for k, v in extra.items()},
        "file": st_path.name,
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "tensors": {k: list(v.shape) for k, v in tensors.items()},
    }
    atomic_write_bytes(st_path, data)
    atomic_write_bytes(json_path, (json.dumps(meta, indent=1, ensure_ascii=False) + "\n").encode("utf-8"))
    return st_path


def write_meta(path, meta: dict) -> None:
    """Rewrite the sidecar of checkpoint `path` (atomically) with `meta` as `read_meta` returns it, e.g. to record
    something about the weights after training; the weights and the sha256 recorded for them must not change."""
    _, json_path = checkpoint_paths(path)
    atomic_write_bytes(json_path, (json.dumps(_to_json(meta), indent=1, ensure_ascii=False) + "\n").encode("utf-8"))


def same_latents(meta: dict, other: dict) -> bool:
    """Whether two text-to-video sidecars were trained on the same latents: the same VAE (sha256) and latent shape.
    A model can only guide, or be compared with, another that reads the latents the same way."""
    return meta["vae"]["sha256"] == other["vae"]["sha256"] and list(meta["latent_shape"]) == list(other["latent_shape"])


def noise_correlation(meta: dict, where: str = "checkpoint") -> float:
    """The frame correlation of the noise a text-to-video sidecar's model was trained from (`diffusion.mixed_noise`);
    0 for sidecars written before it was recorded, all trained from i.i.d. noise. Raises CheckpointError if it is
    not a number in [0, 1)."""
    rho = meta.get("noise_correlation", 0.0)
    if not isinstance(rho, (int, float)) or not 0 <= rho < 1:
        raise CheckpointError(f"{where}: noise_correlation must be a number in [0, 1), got {rho!r}")
    return float(rho)


def same_noise(meta: dict, other: dict) -> bool:
    """Whether two text-to-video sidecars' models start from the same noise: autoguidance mixes their velocities."""
    return noise_correlation(meta) == noise_correlation(other)


def read_meta(path, kind: str | None = None) -> dict:
    """The verified-format sidecar of checkpoint `path` (does not read the tensors)."""
    st_path, json_path = checkpoint_paths(path)
    for p in (json_path, st_path):
        if not p.exists():
            raise CheckpointError(f"checkpoint file missing: {p} (a checkpoint is {st_path.name} + {json_path.name})")
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CheckpointError(f"checkpoint sidecar {json_path} is not valid JSON ({e}); the file is corrupt") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{json_path} is not a minivid checkpoint sidecar (no \"format\": \"{FORMAT}\")")
    if kind is not None and meta.get("kind") != kind:
        raise CheckpointError(f"{json_path} holds a {meta.get('kind')!r} checkpoint, expected {kind!r}")
    return _from_json(meta)


def load_tensors(path, kind: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read and verify checkpoint `path`: (tensors on the CPU, sidecar metadata)."""
    st_path, _ = checkpoint_paths(path)
    meta = read_meta(path, kind)
    data = st_path.read_bytes()  # hash and parse the very same bytes
    if len(data) != meta["bytes"]:
        raise CheckpointError(
            f"checkpoint {st_path} is truncated or overwritten: {len(data)} bytes, its sidecar records {meta['bytes']}")
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["sha256"]:
        raise CheckpointError(
            f"checkpoint {st_path} is corrupt: sha256 {digest[:12]}... does not match the sidecar's {meta['sha256'][:12]}...")
    try:
        tensors = st_load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"checkpoint {st_path} cannot be parsed as safetensors: {e}") from None
    return tensors, meta


def load_state_dict_strict(model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str = "checkpoint") -> None:
    """Copy `tensors` into `model`, or explain exactly which names and shapes do not fit."""
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    unexpected = sorted(set(tensors) - set(own))
    shapes = [f"{k}: checkpoint {tuple(tensors[k].shape)} vs model {tuple(own[k].shape)}"
              for k in own if k in tensors and tensors[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        parts = []
        if shapes:
            parts.append(f"{len(shapes)} shape mismatch(es): " + "; ".join(shapes[:5]))
        if missing:
            parts.append(f"{len(missing)} tensor(s) missing: {', '.join(missing[:5])}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensor(s): {', '.join(unexpected[:5])}")
        raise CheckpointError(f"{where} does not match the model its config describes: " + " | ".join(parts))
    model.load_state_dict(tensors, strict=True)


# ----------------------------------------------------------------------------
# Training states: everything needed to continue a run bit for bit

STATE_PATTERN = re.compile(r"^state-(\d{8})\.json$")


def save_training_state(
    directory,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator | None,
    config: dict,
    keep: int = 2,
    **extra,
) -> Path:
    """Save model, optimizer, step, RNG states and config as `directory/state-{step}`; keep the newest `keep`."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars = {}
    for pid, state in opt["state"].items():
        for key, value in state.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    tensors["rng.torch"] = torch.get_rng_state()
    if generator is not None:
        tensors["rng.generator"] = generator.get_state()
    path = save_tensors(
        Path(directory) / f"state-{step:08d}", tensors, kind="train-state", config=config, step=step,
        optimizer={"param_groups": opt["param_groups"], "scalars": scalars}, **extra)
    for old in list_training_states(directory)[keep:]:
        for p in checkpoint_paths(old):
            p.unlink(missing_ok=True)
    return path


def list_training_states(directory) -> list[Path]:
    """Training-state sidecars in `directory`, newest step first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := STATE_PATTERN.match(p.name))]
    return [p for _, p in sorted(found, reverse=True)]


def latest_training_state(directory) -> Path | None:
    """The newest training state in `directory` that verifies (size and hash), or None."""
    for path in list_training_states(directory):
        try:
            load_tensors(path, kind="train-state")
        except CheckpointError:
            continue  # e.g. killed between writing the tensors and the sidecar: use the previous one
        return path
    return None


def load_training_state(
    path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator | None
) -> dict:
    """Restore a training state in place; returns its sidecar (step, config, extra)."""
    tensors, meta = load_tensors(path, kind="train-state")
    prefix = "model."
    load_state_dict_strict(model, {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}, str(path))
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    for pid, scalars in meta["optimizer"]["scalars"].items():
        state.setdefault(int(pid), {}).update(scalars)
    optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if generator is not None:
        if "rng.generator" not in tensors:
            raise CheckpointError(f"{path} has no generator state to restore")
        generator.set_state(tensors["rng.generator"])
    return meta
