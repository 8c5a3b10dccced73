"""What every training run shares: its directory, its checks, its loop.

A run directory belongs to one run. While it trains, the run holds a lock on
`.lock` in it (a second process training into the same `--out` is refused); a new run
(without `--resume`) refuses a directory that already holds another run's
states, snapshots, config or log; and `--resume` continues only a run whose
config and inputs (the files it depends on, by sha256) are unchanged.

The loop both trainers share (`run_steps`) owns the parts that are not about
the model: the learning-rate schedule, the progress bar, the log, the guard
against a non-finite loss (which stops the run before it saves anything) and
the periodic training states.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import math
import os
import re
import sys
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, atomic_write_bytes, latest_training_state, load_training_state, read_meta

try:  # POSIX: an advisory lock that the kernel drops when its process dies, even by SIGKILL
    import fcntl
except ImportError:  # pragma: no cover - Windows: runs are not locked
    fcntl = None


class RunError(ValueError):
    """A user error about a run: its directory, its arguments, its inputs. The CLI prints it as one line."""


class NonFiniteLoss(RunError):
    """The loss became NaN or infinite: the run stopped without saving the weights that produced it."""


# ----------------------------------------------------------------------------
# Config fields: help text and ranges


def field_comments(cls) -> dict[str, str]:
    """The comment after each field of dataclass `cls` in its source: the field's --help text."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):  # no source (e.g. a frozen build): flags without help text
        return {}
    found = re.findall(r"^\s+(\w+): [^=\n]+= [^#\n]+#\s*(.+)$", source, flags=re.MULTILINE)
    return {name: text.strip() for name, text in found}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _integer(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


MAX_SEED = 2**31 - 1  # seeds are mixed with strides of ~1e9 (minivid.seeds) into 64-bit generator seeds

# Checks by kind: (what the message says, the test).
RULES = {
    "count": ("an integer >= 1", lambda v: _integer(v) and v >= 1),
    "count0": ("an integer >= 0", lambda v: _integer(v) and v >= 0),
    "seed": (f"an integer in [0, {MAX_SEED}]", lambda v: _integer(v) and 0 <= v <= MAX_SEED),
    "positive": ("a finite number > 0", lambda v: _number(v) and v > 0),
    "nonnegative": ("a finite number >= 0", lambda v: _number(v) and v >= 0),
    "fraction": ("a number in [0, 1]", lambda v: _number(v) and 0 <= v <= 1),
    "fraction_open": ("a number in [0, 1)", lambda v: _number(v) and 0 <= v < 1),
}


def check_fields(cfg, kinds: dict[str, str]) -> None:
    """Raise RunError naming the flag and its accepted range for the first field of `cfg` outside it."""
    for name, kind in kinds.items():
        value = getattr(cfg, name)
        what, ok = RULES[kind]
        if not ok(value):
            raise RunError(f"--{name.replace('_', '-')} must be {what}, got {value!r}")


def check_stop_at(stop_at) -> None:
    if stop_at is not None and not (_integer(stop_at) and stop_at >= 1):
        raise RunError(f"--stop-at must be an integer >= 1, got {stop_at!r}")


def check_resumable(state, saved, cfg, allowed: set[str]) -> None:
    """Refuse to resume a run whose config differs from the saved one, except in `allowed` fields."""
    changed = [f.name for f in dataclasses.fields(cfg)
               if getattr(saved, f.name) != getattr(cfg, f.name) and f.name not in allowed]
    if changed:
        raise CheckpointError(f"cannot resume {state}: it was trained with different {', '.join(changed)} "
                              f"({', '.join(f'{k}={getattr(saved, k)!r}' for k in changed)})")


def check_depends(state, saved: dict | None, now: dict) -> None:
    """Refuse to resume when a file the run depends on changed since: `now` maps what (e.g. "vae") to its identity
    (a sha256) today; `saved` is what the training state recorded (states that predate the record pass)."""
    for what, identity in now.items():
        before = (saved or {}).get(what)
        if before is not None and before != identity:
            raise CheckpointError(f"cannot resume {state}: its {what} changed since the run started (sha256 "
                                  f"{str(before)[:12]}... then, {str(identity)[:12]}... now); restore it, or start "
                                  "a new run with another --out")


# ----------------------------------------------------------------------------
# The run directory

RUN_FILES = re.compile(r"^(state-\d{8}|ema-\d{8}|vae)\.(json|safetensors)$|^config\.json$|^log\.jsonl$")


class RunDir:
    """A run's directory while it trains: `with RunDir(out, resume) as run: ...` (rank 0 only under DDP)."""

    def __init__(self, path, resume: bool, owner: bool = True):
        self.path, self.resume, self.owner = Path(path), resume, owner  # owner: the process that writes (rank 0)
        self.state, self._lock, self._log = None, None, None

    def __enter__(self) -> "RunDir":
        if not self.owner:
            return self
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        except OSError as e:
            raise RunError(f"cannot train into --out {self.path}: {e.strerror or e}") from None
        if not self.resume:
            used = sorted(p.name for p in self.path.iterdir() if RUN_FILES.match(p.name))
            if used:
                self.close()
                raise RunError(f"{self.path} already holds a run ({', '.join(used[:3])}{', ...' if len(used) > 3 else ''}"
                               "): add --resume to continue it, or choose another --out")
        return self

    def _take_lock(self) -> None:
        """Hold .lock (flock): made if missing, removed again by `close`; a run killed before that leaves it
        unlocked, and the next run takes it over."""
        lock = self.path / ".lock"
        while True:
            self._lock = open(lock, "a")
            if fcntl is None:
                return
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                self._lock.close()
                self._lock = None
                raise RunError(f"another run is training into {self.path} (it holds {lock}); wait for it, or "
                               "choose another --out") from None
            try:  # locked: unless the holder removed the file meanwhile (then lock the new one)
                if os.stat(lock).st_ino == os.fstat(self._lock.fileno()).st_ino:
                    return
            except FileNotFoundError:
                pass
            self._lock.close()

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._lock is not None:
            if fcntl is not None:
                (self.path / ".lock").unlink(missing_ok=True)  # while still holding it
            self._lock.close()  # releases the lock
            self._lock = None

    def latest_state(self) -> Path | None:
        """The newest verified training state to resume from, or None (a fresh run, or --resume in an empty dir)."""
        self.state = latest_training_state(self.path) if self.resume else None
        if self.resume and self.state is None and self.owner:
            print(f"no training state in {self.path}, starting from scratch", file=sys.stderr)
        return self.state

    def begin(self, config: dict, step: int) -> None:
        """Write config.json and open log.jsonl, keeping only the lines up to `step` (those a resumed run keeps)."""
        if not self.owner:
            return
        atomic_write_bytes(self.path / "config.json", (json.dumps(config, indent=1) + "\n").encode())
        log = self.path / "log.jsonl"
        kept = []
        if step and log.exists():
            for line in log.read_text().splitlines():
                try:
                    if json.loads(line).get("step", 0) <= step:
                        kept.append(line + "\n")
                except (json.JSONDecodeError, AttributeError):
                    continue  # a line cut by a kill
        atomic_write_bytes(log, "".join(kept).encode())  # a kill meanwhile leaves the old log whole
        self._log = log.open("a")

    def log(self, record: dict) -> None:
        """Append one JSON line; a non-finite number is written as null, so every line stays valid JSON."""
        if self._log is None:
            return
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self._log.write(json.dumps(clean, allow_nan=False) + "\n")
        self._log.flush()


def resume_point(state, saved_cfg, cfg, allowed: set[str], depends: dict) -> dict | None:
    """The sidecar of training state `state` after checking that `cfg` and `depends` allow resuming it."""
    if state is None:
        return None
    meta = read_meta(state, kind="train-state")
    check_resumable(state, saved_cfg(meta["config"]), cfg, allowed)
    check_depends(state, meta.get("depends"), depends)
    return meta


def restore(run: RunDir, meta: dict | None, model, optimizer, generator) -> tuple[int, float, list]:
    """(first step, seconds trained, history): a fresh run's, or those of `run.state` after loading it in place."""
    if meta is None:
        return 0, 0.0, []
    load_training_state(run.state, model, optimizer, generator)
    if run.owner:
        print(f"resuming from {run.state} at step {meta['step']}", file=sys.stderr)
    return meta["step"], meta["elapsed"], meta["history"]


# ----------------------------------------------------------------------------
# The loop


def lr_at(cfg, step: int) -> float:
    """Linear warm-up then cosine decay: a pure function of the step, so resuming needs no scheduler state."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class Clock:
    """Seconds a run has trained, counting earlier sessions of it (`elapsed` when resumed)."""

    def __init__(self, elapsed: float = 0.0):
        self.t0 = time.perf_counter() - elapsed

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


def run_steps(cfg, optimizer, start: int, end: int, step, report, checkpoint, *, log_every: int, desc: str,
              progress: bool = True) -> None:
    """Steps start .. end-1: set the lr, `loss = step(k)` (one optimiser step), then every `log_every` steps
    `report(done, lr, loss)` (returns the progress bar's postfix) and every `cfg.checkpoint_every` steps
    `checkpoint(done)`, the last step doing both. A NaN or infinite loss since the last check stops the run with
    NonFiniteLoss before anything is logged or saved, so the newest training state is the last good one."""
    bar = tqdm(range(start, end), initial=start, total=cfg.steps, disable=not progress, desc=desc,
               mininterval=1.0 if sys.stderr.isatty() else 30.0)
    finite, saved = None, None
    for k in bar:
        lr = lr_at(cfg, k)
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = step(k)
        ok = torch.isfinite(loss.detach())  # stays on the device: no synchronisation per step
        finite = ok if finite is None else finite & ok
        done = k + 1
        logging, saving = done % log_every == 0 or done == end, done % cfg.checkpoint_every == 0 or done == end
        if (logging or saving) and not bool(finite):
            bar.close()
            raise NonFiniteLoss(f"the loss became {loss.item()} by step {done}; stopped without saving it (the "
                                f"newest training state{'' if saved is None else f', step {saved},'} is the last good "
                                "one): lower --lr or --grad-clip")
        if logging:
            bar.set_postfix(report(done, lr, loss), refresh=False)
        if saving:
            checkpoint(done)
            saved = done
    bar.close()
