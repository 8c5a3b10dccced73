"""Checkpoints without pickle: safetensors for tensors, a JSON sidecar for everything else.

A checkpoint called `X` is two files:

    X.safetensors   the tensors (safetensors: a JSON header + raw bytes; loading
                    it can never run code, unlike torch.load of a pickle)
    X.json          what the tensors mean: format, kind ("vae", "train-state",
                    "latents", ...), the model config, extra scalars, the
                    sha256 and byte size of X.safetensors, every tensor's shape,
                    and `sidecar_sha256`, the hash of the sidecar's own content

Loading checks, in order, that both files are regular files of a sane size (a
symlink to /dev/zero or a directory is refused before anything is read), the
sidecar is valid JSON of the right kind whose own hash matches (else: edited),
the tensor file has the recorded size (else: truncated) and hash (else:
corrupt), the tensors have the recorded shapes, and, in
`load_state_dict_strict`, that they fit the model built from the config (else:
mismatched). Each failure raises a `CheckpointError` saying which went wrong.

Writes are atomic as a pair. Both new files are written to temporary files in
the same directory and fsync'ed; the old pair, if any, is hard-linked to hidden
backups (`.X.safetensors.bak`, `.X.json.bak`); then the weights and the sidecar
are renamed over the targets (a rename replaces a symlink itself, never the file
it points to) and the backups removed. A kill between the two renames leaves new
weights beside the old sidecar: readers see the mismatch and read the backup
pair instead, and the next write restores it. So after a kill at any point a
reader finds the old pair or the new one, never neither. Temporary files of
killed writers (`.X.<pid>.<random>.tmp`) are removed by the next write.

`MINIVID_FAULT="point:N"` kills the process (SIGKILL) the N-th time it passes the
named point in a writer (see `FAULT_POINTS`), so tests and
benchmarks/fault_injection.py can crash a write exactly where they choose.

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
import math
import os
import re
import secrets
import shutil
import signal
import stat
import time
import warnings
from pathlib import Path

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

FORMAT = "minivid-checkpoint"
VERSION = 1
MAX_SIDECAR_BYTES = 64 << 20  # a sidecar is JSON text (kilobytes, a run's history included): never this much
FAULT_ENV = "MINIVID_FAULT"
FAULT_POINTS = (  # where MINIVID_FAULT="point:N" can kill a writer, in the order a write passes them
    "pair:weights-partial", "pair:sidecar-partial", "pair:tmp-done", "pair:backup-weights", "pair:backup-done",
    "pair:weights-renamed", "pair:sidecar-renamed", "pair:backup-removed", "pair:done",
    "file:partial", "file:tmp-done", "file:renamed", "prune:weights-removed", "recover:weights-restored",
)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TMP_NAME = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.tmp(\.[A-Za-z0-9]+)?$")  # the names _tmp_name gives
_OLD_TMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # mkstemp's, from writers that did not name their pid
OLD_TMP_AGE_S = 3600  # such a file untouched this long belongs to no running write


class CheckpointError(RuntimeError):
    """A checkpoint is missing, truncated, corrupt, edited, of the wrong kind, does not fit its model, or
    cannot be written."""


# ----------------------------------------------------------------------------
# Fault injection: crash a writer at a chosen point (tests, benchmarks/fault_injection.py)

_passes: dict[str, int] = {}


def fault_point(name: str) -> None:
    """SIGKILL this process, as `kill -9` would, on its N-th pass here when MINIVID_FAULT="name:N"; else nothing."""
    spec = os.environ.get(FAULT_ENV)
    if not spec or spec.rpartition(":")[0] != name:
        return
    _passes[name] = _passes.get(name, 0) + 1
    if str(_passes[name]) == spec.rpartition(":")[2].strip():
        if hasattr(signal, "SIGKILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        os._exit(137)


# ----------------------------------------------------------------------------
# Paths and reading files safely


def checkpoint_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """`X`, `X.safetensors` or `X.json` -> (X.safetensors, X.json)."""
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".safetensors", ".json") else path
    return stem.with_name(stem.name + ".safetensors"), stem.with_name(stem.name + ".json")


def backup_paths(path: str | os.PathLike) -> tuple[Path, Path]:
    """Where a write keeps the previous pair until the new one is complete: (.X.safetensors.bak, .X.json.bak)."""
    return tuple(p.with_name(f".{p.name}.bak") for p in checkpoint_paths(path))


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


def _regular_size(path: Path, what: str, limit: int | None = None) -> int:
    """The size of `path` (symlinks followed) if it is a regular file of at most `limit` bytes; nothing is read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CheckpointError(f"{what} missing: {path} (a symlink to nothing?)") from None
    except OSError as e:
        raise CheckpointError(f"{what} {path} cannot be read: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file (a device, pipe or socket)"
        raise CheckpointError(f"{what} {path} is {kind}; a checkpoint is two regular files")
    if limit is not None and info.st_size > limit:
        raise CheckpointError(f"{what} {path} is {info.st_size:,} bytes, more than the {limit:,} it may hold; "
                              "refusing to read it")
    return info.st_size


def _read_exactly(path: Path, size: int, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(size + 1)  # never more than the size checked before opening
    except OSError as e:
        raise CheckpointError(f"{what} {path} cannot be read: {e.strerror or e}") from None
    if len(data) != size:
        raise CheckpointError(f"{what} {path} changed size while it was read ({size} -> {len(data)}+ bytes)")
    return data


# ----------------------------------------------------------------------------
# Sidecars: plain JSON, with a hash of their own content


def _to_json(value):
    """JSON-ready copy of plain Python data; tuples are tagged so they come back as tuples."""
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot store the non-finite number {value!r} in a JSON sidecar")
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


def sidecar_digest(meta_json: dict) -> str:
    """sha256 of a sidecar's content (its JSON form, keys sorted), its own `sidecar_sha256` left out."""
    body = {k: v for k, v in meta_json.items() if k != "sidecar_sha256"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def _sidecar_bytes(meta_json: dict) -> bytes:
    meta_json = {**{k: v for k, v in meta_json.items() if k != "sidecar_sha256"},
                 "sidecar_sha256": sidecar_digest(meta_json)}
    return (json.dumps(meta_json, indent=1, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _reject_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _is_int(value, low: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _check_sidecar(meta, where, kind: str | None) -> None:
    """The fields every sidecar has, of the right types; its own hash, where recorded (older sidecars have none)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{where} is not a minivid checkpoint sidecar (no \"format\": \"{FORMAT}\")")
    if kind is not None and meta.get("kind") != kind:
        raise CheckpointError(f"{where} holds a {meta.get('kind')!r} checkpoint, expected {kind!r}")
    if "sidecar_sha256" in meta and meta["sidecar_sha256"] != sidecar_digest(meta):
        raise CheckpointError(f"{where} was edited or damaged: its content no longer matches the sidecar_sha256 it "
                              "records; restore the file (write_meta is the way to change a sidecar)")
    tensors = meta.get("tensors")
    problems = [
        ("version", meta.get("version") == VERSION, f"{VERSION}"),
        ("kind", isinstance(meta.get("kind"), str), "a string"),
        ("config", isinstance(meta.get("config", {}), dict), "an object"),
        ("bytes", _is_int(meta.get("bytes")), "a byte count >= 0"),
        ("sha256", isinstance(meta.get("sha256"), str) and _HEX64.match(meta["sha256"]) is not None,
         "64 lowercase hex digits"),
        ("tensors", isinstance(tensors, dict) and all(
            isinstance(s, list) and all(_is_int(n) for n in s) for s in tensors.values()),
         "an object of shapes (lists of sizes >= 0)"),
    ]
    for name, ok, expected in problems:
        if not ok:
            raise CheckpointError(f"{where}: field {name!r} must be {expected}, got {meta.get(name)!r}")


def _read_sidecar(st_path: Path, json_path: Path, kind: str | None) -> dict:
    """The raw (JSON-form) sidecar of a pair, checked; sizes are checked before anything is read."""
    for p in (json_path, st_path):
        if not os.path.lexists(p):
            raise CheckpointError(f"checkpoint file missing: {p} (a checkpoint is {st_path.name} + {json_path.name})")
    size = _regular_size(json_path, "checkpoint sidecar", MAX_SIDECAR_BYTES)
    _regular_size(st_path, "checkpoint file")
    raw = _read_exactly(json_path, size, "checkpoint sidecar")
    try:
        meta = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise CheckpointError(f"checkpoint sidecar {json_path} is not valid JSON ({e}); the file is corrupt") from None
    _check_sidecar(meta, json_path, kind)
    return meta


def _verified_bytes(st_path: Path, json_path: Path, kind: str | None) -> tuple[bytes, dict]:
    """(the tensor file's bytes, its raw sidecar), size and sha256 checked (the size before reading)."""
    meta = _read_sidecar(st_path, json_path, kind)
    size = _regular_size(st_path, "checkpoint file")
    if size != meta["bytes"]:
        raise CheckpointError(
            f"checkpoint {st_path} is truncated or overwritten: {size} bytes, its sidecar records {meta['bytes']}")
    data = _read_exactly(st_path, size, "checkpoint file")  # hash and parse the very same bytes
    digest = hashlib.sha256(data).hexdigest()
    if digest != meta["sha256"]:
        raise CheckpointError(
            f"checkpoint {st_path} is corrupt: sha256 {digest[:12]}... does not match the sidecar's {meta['sha256'][:12]}...")
    return data, meta


def _pair_ok(st_path: Path, json_path: Path) -> bool:
    try:
        _verified_bytes(st_path, json_path, None)
    except CheckpointError:
        return False
    return True


def _pair_to_read(path) -> tuple[Path, Path]:
    """The pair to read: X's, or the previous pair a killed writer left in backups if X's does not verify."""
    st_path, json_path = checkpoint_paths(path)
    backup_st, backup_json = backup_paths(path)
    if os.path.lexists(backup_st) and os.path.lexists(backup_json) and not _pair_ok(st_path, json_path):
        warnings.warn(f"{st_path}: a write was interrupted and left new weights beside the old sidecar; reading the "
                      "previous pair it kept (the next write of this checkpoint restores it)", stacklevel=3)
        return backup_st, backup_json
    return st_path, json_path


# ----------------------------------------------------------------------------
# Writing: temporary files in the same directory, fsync, rename; pairs keep the old pair until the new is in


def _fsync_dir(directory: Path) -> None:
    """Make renames in `directory` durable (where directories can be opened: not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _alive(pid: int) -> bool:
    if os.name == "nt" or pid == os.getpid():  # os.kill(pid, 0) would terminate a process on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_tmp(directory) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left in `directory` (their process is gone)."""
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        path, match = Path(directory) / name, _TMP_NAME.match(name)
        try:
            stale = (not _alive(int(match.group(1))) if match else
                     _OLD_TMP_NAME.match(name) is not None and time.time() - path.lstat().st_mtime > OLD_TMP_AGE_S)
            if stale:
                path.unlink()
                removed.append(path)
        except OSError:
            pass
    return removed


def _prepare(path: Path) -> None:
    """Create `path`'s folder; refuse a directory where the file goes. Raises OSError with a clear message."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"cannot write {path}: a file is in the way of its folder") from None
    if path.is_dir() and not path.is_symlink():
        raise IsADirectoryError(f"cannot write {path}: it is a directory")


def _tmp_name(target: Path, suffix: str = "") -> Path:
    """A fresh temporary name beside `target` that says which process writes it (so others can tell it is stale)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp{suffix}")


def _write_tmp(target: Path, data: bytes, point: str) -> Path:
    """`data` in a new temporary file beside `target`, fsync'ed."""
    tmp = _tmp_name(target)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)  # umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            view = memoryview(data)
            f.write(view[: len(view) // 2])
            f.flush()
            fault_point(point)  # a kill here leaves half a temporary file, nothing else
            f.write(view[len(view) // 2:])
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix. A symlink at `path`
    is replaced by the file, never followed onto its target. Raises OSError (e.g. no permission)."""
    path = Path(path)
    _prepare(path)
    remove_stale_tmp(path.parent)
    tmp = _write_tmp(path, data, "file:partial")
    fault_point("file:tmp-done")
    try:
        os.replace(tmp, path)  # atomic on POSIX and Windows on one filesystem; replaces a symlink itself
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fault_point("file:renamed")
    _fsync_dir(path.parent)


def atomic_write_with(path: str | os.PathLike, write, suffix: str = "") -> None:
    """`write(tmp)` fills a temporary file beside `path` (its name ends in `suffix`, e.g. ".mp4" for a tool that
    reads the format from the name), which then replaces `path` atomically, as `atomic_write_bytes` does."""
    path = Path(path)
    _prepare(path)
    remove_stale_tmp(path.parent)
    tmp = _tmp_name(path, suffix)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        fault_point("file:tmp-done")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fault_point("file:renamed")
    _fsync_dir(path.parent)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst, follow_symlinks=False)  # the same file under a second name: nothing is copied
    except (OSError, NotImplementedError):
        shutil.copy2(src, dst, follow_symlinks=False)


def recover(path) -> bool:
    """Clean up after a writer of checkpoint `path` that was killed: if its new pair is half in place, put the
    previous pair back; remove backups and stale temporary files. Returns whether the previous pair was restored."""
    st_path, json_path = checkpoint_paths(path)
    backup_st, backup_json = backup_paths(path)
    remove_stale_tmp(st_path.parent)
    restored = False
    if os.path.lexists(backup_st) and os.path.lexists(backup_json) and not _pair_ok(st_path, json_path):
        os.replace(backup_st, st_path)
        fault_point("recover:weights-restored")
        os.replace(backup_json, json_path)
        _fsync_dir(st_path.parent)
        restored = True
    backup_json.unlink(missing_ok=True)  # a lone backup is one a killed writer had not finished or had cleared
    backup_st.unlink(missing_ok=True)
    return restored


def _write_pair(st_path: Path, json_path: Path, data: bytes, sidecar: bytes) -> None:
    """Replace a checkpoint's two files so that after a kill at any point the old pair or the new one loads."""
    for p in (st_path, json_path):
        _prepare(p)
    recover(st_path)
    directory = st_path.parent
    tmp_st = _write_tmp(st_path, data, "pair:weights-partial")
    tmp_json = None
    try:
        tmp_json = _write_tmp(json_path, sidecar, "pair:sidecar-partial")
        _fsync_dir(directory)
        fault_point("pair:tmp-done")
        backup_st, backup_json = backup_paths(st_path)
        if os.path.lexists(st_path) and os.path.lexists(json_path):  # keep the old pair until the new one is in
            _link_or_copy(st_path, backup_st)
            fault_point("pair:backup-weights")
            _link_or_copy(json_path, backup_json)
            _fsync_dir(directory)
            fault_point("pair:backup-done")
        os.replace(tmp_st, st_path)
        fault_point("pair:weights-renamed")  # new weights + old sidecar: readers fall back to the backups
        os.replace(tmp_json, json_path)
        _fsync_dir(directory)
        fault_point("pair:sidecar-renamed")
        backup_json.unlink(missing_ok=True)
        fault_point("pair:backup-removed")
        backup_st.unlink(missing_ok=True)
        fault_point("pair:done")
    finally:
        for tmp in (tmp_st, tmp_json):
            if tmp is not None:
                tmp.unlink(missing_ok=True)


def save_tensors(path, tensors: dict[str, torch.Tensor], kind: str, config: dict | None = None, **extra) -> Path:
    """Write X.safetensors + X.json atomically as a pair; returns the .safetensors path.

    `config` and `extra` must be plain JSON-able data (tuples survive the round trip; NaN and infinities are
    refused with a ValueError). Raises CheckpointError if the files cannot be written (no permission, a
    directory in the way); the previous pair, if any, is then still there.
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
    try:
        _write_pair(st_path, json_path, data, _sidecar_bytes(meta))
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint {st_path}: {e.strerror or e}") from None
    return st_path


def write_meta(path, meta: dict) -> None:
    """Rewrite the sidecar of checkpoint `path` (atomically) with `meta` as `read_meta` returns it, e.g. to record
    something about the weights after training; the weights and the sha256 recorded for them must not change
    (else CheckpointError). Its `sidecar_sha256` is recomputed."""
    st_path, json_path = checkpoint_paths(path)
    try:
        recover(path)
        current = _read_sidecar(st_path, json_path, None)
        new = _to_json(meta)
        _check_sidecar({k: v for k, v in new.items() if k != "sidecar_sha256"}, json_path, None)
        changed = [k for k in ("bytes", "sha256", "tensors") if new.get(k) != current.get(k)]
        if changed:
            raise CheckpointError(f"write_meta({json_path}): {', '.join(changed)} must stay as recorded: the sidecar "
                                  "describes the weights beside it, which write_meta does not change")
        atomic_write_bytes(json_path, _sidecar_bytes(new))
    except OSError as e:
        raise CheckpointError(f"cannot write checkpoint sidecar {json_path}: {e.strerror or e}") from None


def same_latents(meta: dict, other: dict) -> bool:
    """Whether two text-to-video sidecars were trained on the same latents: the same VAE (sha256) and latent shape.
    A model can only guide, or be compared with, another that reads the latents the same way."""
    return meta["vae"]["sha256"] == other["vae"]["sha256"] and list(meta["latent_shape"]) == list(other["latent_shape"])


# ----------------------------------------------------------------------------
# Reading


def read_meta(path, kind: str | None = None) -> dict:
    """The verified-format sidecar of checkpoint `path` (does not read the tensors; checks the sizes and types
    of both files and the sidecar's own hash)."""
    return _from_json(_read_sidecar(*_pair_to_read(path), kind))


def load_tensors(path, kind: str | None = None) -> tuple[dict[str, torch.Tensor], dict]:
    """Read and verify checkpoint `path`: (tensors on the CPU, sidecar metadata)."""
    st_path, json_path = _pair_to_read(path)
    data, meta = _verified_bytes(st_path, json_path, kind)
    try:
        tensors = st_load(data)
    except Exception as e:  # noqa: BLE001 - safetensors raises its own error types
        raise CheckpointError(f"checkpoint {st_path} cannot be parsed as safetensors: {e}") from None
    recorded = {k: list(v.shape) for k, v in tensors.items()}
    if recorded != meta["tensors"]:
        raise CheckpointError(f"checkpoint {st_path} holds other tensors than its sidecar records "
                              f"({len(recorded)} vs {len(meta['tensors'])}, or other shapes)")
    return tensors, _from_json(meta)


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
    prune_training_states(directory, keep)
    return path


def prune_training_states(directory, keep: int = 2) -> None:
    """Delete all but the newest `keep` training states in `directory`, and weights whose sidecar never came."""
    states = list_training_states(directory)
    for old in states[keep:]:
        st_path, json_path = checkpoint_paths(old)
        st_path.unlink(missing_ok=True)
        fault_point("prune:weights-removed")  # a sidecar without weights is refused clearly, and pruned next time
        json_path.unlink(missing_ok=True)
    if states[:keep]:
        oldest_kept = int(STATE_PATTERN.match(states[:keep][-1].name).group(1))
        for p in Path(directory).glob("state-*.safetensors"):
            match = re.match(r"^state-(\d{8})\.safetensors$", p.name)
            if match and int(match.group(1)) < oldest_kept and not checkpoint_paths(p)[1].exists():
                p.unlink(missing_ok=True)  # a write killed between its two renames, with no earlier pair to restore


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
    try:
        state: dict[int, dict] = {}
        for key, value in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = value
        for pid, scalars in meta["optimizer"]["scalars"].items():
            state.setdefault(int(pid), {}).update(scalars)
        optimizer.load_state_dict({"state": state, "param_groups": meta["optimizer"]["param_groups"]})
        torch.set_rng_state(tensors["rng.torch"])
    except (KeyError, TypeError, ValueError, AttributeError, RuntimeError) as e:
        raise CheckpointError(f"{path}: the training state does not fit this optimizer or run: {e}") from None
    if generator is not None:
        if "rng.generator" not in tensors:
            raise CheckpointError(f"{path} has no generator state to restore")
        generator.set_state(tensors["rng.generator"])
    return meta
