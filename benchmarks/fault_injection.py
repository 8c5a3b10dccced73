"""Fault injection: kill minivid's writers at chosen points, then check that nothing was lost.

    PYTHONPATH=. python benchmarks/fault_injection.py      # a few minutes on a 2-core CPU (tiny configs)

Every kill is a real SIGKILL of a `python -m minivid.train ...` process, at the N-th pass of a named point
inside the checkpoint writers (`MINIVID_FAULT="point:N"`, see minivid/checkpoint.py), never after a sleep:

- training (`t2v`, tiny preset, a state every step): kills while states, EMA snapshots, the export or the
  latent cache are written or old states pruned; then `--resume` must end with the very weights of an
  uninterrupted run (bit for bit);
- `export-t2v`, `cache-latents` and `name-weak` over an existing checkpoint: kills at every point of the
  pair write; the target must then load as the old pair or the new one, never neither.

After each kill every checkpoint on disk must load or be refused with a CheckpointError (anything else is
an unclear error). Prints kills / exact resumes / files lost (must be 0) and writes
benchmarks/results/fault_injection.json.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from minivid.checkpoint import CheckpointError, checkpoint_paths, load_tensors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "fault_injection.json"
TRAIN = ["t2v", "--preset", "tiny", "--cache-clips", "4", "--batch-size", "2", "--steps", "4", "--warmup-steps", "1",
         "--checkpoint-every", "1", "--threads", "1", "--device", "cpu"]
TRAIN_KILLS = [("pair:weights-partial", 2), ("pair:sidecar-partial", 3), ("pair:tmp-done", 4),
               ("pair:weights-renamed", 5), ("pair:sidecar-renamed", 6), ("pair:done", 7),
               ("pair:weights-renamed", 9), ("prune:weights-removed", 1)]
CACHE_IN_TRAINING_KILLS = [("pair:weights-renamed", 1), ("pair:sidecar-partial", 1)]
PAIR_POINTS = ["pair:weights-partial", "pair:sidecar-partial", "pair:tmp-done", "pair:backup-weights",
               "pair:backup-done", "pair:weights-renamed", "pair:sidecar-renamed", "pair:backup-removed", "pair:done"]
CACHE_KILLS = ["pair:weights-partial", "pair:tmp-done", "pair:backup-done", "pair:weights-renamed",
               "pair:sidecar-renamed"]
META_KILLS = ["file:partial", "file:tmp-done", "file:renamed"]


def train_cli(args, fault: str | None = None) -> tuple[int, str]:
    """Run `python -m minivid.train ARGS` (killed at `fault` if given): (exit status, last line of stderr)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("MINIVID_FAULT", None)
    if fault:
        env["MINIVID_FAULT"] = fault
    run = subprocess.run([sys.executable, "-m", "minivid.train", *map(str, args)], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    return run.returncode, (run.stderr.strip().splitlines() or [""])[-1]


def tensors_of(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "a write was interrupted ...": reading the pair it kept is the point
        return load_tensors(path)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def audit(folder: Path) -> tuple[int, int, list[str]]:
    """(checkpoints that load, checkpoints refused with a CheckpointError, unclear errors) in `folder`."""
    ok, refused, unclear = 0, 0, []
    for js in sorted(folder.rglob("*.json")):
        if js.name == "config.json":
            try:
                json.loads(js.read_text())
            except ValueError as e:
                unclear.append(f"{js}: {e}")
            continue
        try:
            tensors_of(js)
            ok += 1
        except CheckpointError:
            refused += 1
        except Exception as e:  # noqa: BLE001 - the point: anything but a CheckpointError is a finding
            unclear.append(f"{js}: {type(e).__name__}: {e}")
    return ok, refused, unclear


def training_kills(work: Path, reference: dict, cache_root: Path, kills, fresh_cache: bool) -> list[dict]:
    """Kill a training run at each point, audit its folder, resume it and compare with the uninterrupted run."""
    rows = []
    for i, (point, n) in enumerate(kills):
        out = work / f"train-{'cache-' if fresh_cache else ''}{i}"
        root = work / f"latents-{i}" if fresh_cache else cache_root
        args = TRAIN + ["--cache-root", root, "--out", out, "--export", out / "export"]
        status, _ = train_cli(args, f"{point}:{n}")
        ok, refused, unclear = audit(out) if out.exists() else (0, 0, [])
        resumed, message = train_cli(args + ["--resume"])
        exact = resumed == 0 and same(tensors_of(out / "export")[0], reference)
        rows.append({"scenario": "train-cache" if fresh_cache else "train", "fault": f"{point}:{n}",
                     "killed": status == -9, "loads": ok, "refused": refused, "unclear": unclear,
                     "resume_exact": exact, "resume_error": None if resumed == 0 else message})
    return rows


def overwrite_kills(work: Path, name: str, target: Path, old: Path, command, points, versions: dict) -> list[dict]:
    """Kill `command` (which rewrites `target`, a copy of `old`) at each point: `target` must load as one of
    `versions` (name -> tensors), else it is lost."""
    rows = []
    for point in points:
        for src, dst in zip(checkpoint_paths(old), checkpoint_paths(target)):
            shutil.copyfile(src, dst)
        status, message = train_cli(command, f"{point}:1")
        try:
            found = tensors_of(target)
            version = next((v for v, t in versions.items() if same(found[0], t)), None)
        except CheckpointError as e:
            version = None
            message = str(e)
        ok, refused, unclear = audit(target.parent)
        rows.append({"scenario": name, "fault": f"{point}:1", "killed": status == -9, "loads_as": version,
                     "lost": version is None, "loads": ok, "refused": refused, "unclear": unclear,
                     "error": None if status in (0, -9) else message})
    return rows


def setup(work: Path) -> dict:
    """The uninterrupted runs every kill is compared with."""
    cache_root = work / "latents"
    status, message = train_cli(TRAIN + ["--cache-root", cache_root, "--out", work / "ref", "--export", work / "ref-export"])
    assert status == 0, message
    for args in (["export-t2v", "--run", work / "ref", "--out", work / "old-export", "--bf16"],
                 ["cache-latents", "--n", 4, "--seed", 1, "--out", work / "old-cache", "--device", "cpu"],
                 ["cache-latents", "--n", 4, "--seed", 0, "--out", work / "new-cache", "--device", "cpu"]):
        status, message = train_cli(args)
        assert status == 0, message
    return {"cache_root": cache_root, "reference": tensors_of(work / "ref-export")[0]}


def main() -> int:
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="minivid-faults-") as tmp:
        work = Path(tmp)
        ref = setup(work)
        for folder in ("exp", "cache", "named"):
            (work / folder).mkdir()
        rows = training_kills(work, ref["reference"], ref["cache_root"], TRAIN_KILLS, fresh_cache=False)
        rows += training_kills(work, ref["reference"], ref["cache_root"], CACHE_IN_TRAINING_KILLS, fresh_cache=True)
        export = {"old (bf16)": tensors_of(work / "old-export")[0], "new": ref["reference"]}
        rows += overwrite_kills(work, "export-t2v", work / "exp" / "model", work / "old-export",
                                ["export-t2v", "--run", work / "ref", "--out", work / "exp" / "model"],
                                PAIR_POINTS, export)
        caches = {"old (seed 1)": tensors_of(work / "old-cache")[0], "new": tensors_of(work / "new-cache")[0]}
        rows += overwrite_kills(work, "cache-latents", work / "cache" / "latents", work / "old-cache",
                                ["cache-latents", "--n", 4, "--seed", 0, "--out", work / "cache" / "latents",
                                 "--device", "cpu"], CACHE_KILLS, caches)
        rows += overwrite_kills(work, "name-weak", work / "named" / "model", work / "ref-export",
                                ["name-weak", "--model", work / "named" / "model", "--weak", work / "old-export",
                                 "--autoguidance", 1.0], META_KILLS, {"same weights": ref["reference"]})
    return report(rows, time.time() - started)


def report(rows: list[dict], seconds: float) -> int:
    kills = sum(r["killed"] for r in rows)
    resumes = [r for r in rows if "resume_exact" in r]
    exact = sum(r["resume_exact"] for r in resumes)
    lost = sum(r.get("lost", False) for r in rows)
    unclear = [u for r in rows for u in r["unclear"]]
    summary = {"command": "PYTHONPATH=. python benchmarks/fault_injection.py", "kills": kills,
               "kill_points": len(rows), "exact_resumes": exact, "resumes": len(resumes), "files_lost": lost,
               "unclear_errors": len(unclear), "seconds": round(seconds, 1), "rows": rows}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, indent=1, default=str) + "\n")
    for r in rows:
        print(f"{r['scenario']:14} {r['fault']:26} killed={r['killed']!s:5} "
              + (f"resume exact={r['resume_exact']}" if "resume_exact" in r else f"loads as {r['loads_as']}")
              + (f"  unclear: {r['unclear']}" if r["unclear"] else "")
              + (f"  error: {r.get('resume_error') or r.get('error')}" if r.get("resume_error") or r.get("error") else ""))
    print(f"kills {kills} / {len(rows)} points | exact resumes {exact} / {len(resumes)} | files lost {lost} | "
          f"unclear errors {len(unclear)} | {seconds:.0f} s -> {RESULTS.relative_to(ROOT)}")
    return 0 if lost == 0 and not unclear and exact == len(resumes) and kills == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
