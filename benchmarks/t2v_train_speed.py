"""Which training flags make the DiT's steps fastest on this machine, measured on the real trainer.

    python benchmarks/t2v_train_speed.py                    # the default grid, 2 DDP ranks at 1 thread each
    python benchmarks/t2v_train_speed.py --ranks 1 --variants "plain,--compile"

Each variant is a real run of `python -m minivid.train t2v` (under `torchrun --nproc_per_node
RANKS` when --ranks > 1, `OMP_NUM_THREADS=1`) for --steps steps into a scratch directory,
with --base flags (default: the fast recipe's tokens loss, see data/t2v/README.md "Time to
quality") plus the variant's own, on a small latent cache of --vae (built once, by the trainer,
named by the VAE's sha256; the speed of a step does not depend on how many clips are cached).
The rate is read from the run's own log.jsonl, after --warmup steps (which include the compile,
for `--compile`): steps/s and clips/s (steps/s x the global batch). What decides the time to
quality is clips/s at an equal learning outcome, so batch size variants are reported in clips/s
too; whether more clips a step learn as much per clip is another question (data/t2v/README.md,
"On a GPU": 1.4M clips at batch 512 did what 0.86M at batch 32 did). Results ->
benchmarks/results/t2v_train_speed.json. Run it on an otherwise idle machine: two ranks take
both cores of the 2-core CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VARIANTS = "plain,--compile,--bf16,--compile --bf16,--batch-size 64,--batch-size 64 --bf16,--batch-size 64 --compile --bf16"
FAST_RECIPE_FLAGS = "--text-aux-weight 1"


def run_variant(flags: str, args, scratch: Path) -> dict:
    """Train one variant for args.steps steps; its rate after args.warmup steps, from its log.jsonl."""
    out = scratch / "run"
    shutil.rmtree(out, ignore_errors=True)
    launcher = [sys.executable, "-m", "minivid.train"] if args.ranks == 1 else \
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(args.ranks), "-m", "minivid.train"]
    variant = [] if flags == "plain" else flags.split()
    cmd = launcher + ["t2v", "--threads", str(args.threads), "--vae", args.vae, "--cache-clips", str(args.cache_clips),
                      "--cache-root", str(args.cache_root), "--steps", str(args.steps),
                      "--checkpoint-every", str(args.steps), "--out", str(out)] + args.base.split() + variant
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if line.strip()]
    first = next(r for r in rows if r["step"] >= args.warmup)
    last = rows[-1]
    steps_per_s = (last["step"] - first["step"]) / (last["seconds"] - first["seconds"])
    batch = json.loads((out / "config.json").read_text())["batch_size"]
    return {"flags": flags, "batch_size": batch, "steps_per_s": round(steps_per_s, 3),
            "clips_per_s": round(steps_per_s * batch, 1), "seconds_to_step_10": round(rows[0]["seconds"], 1),
            "wall_seconds": round(wall, 1), "command": " ".join(cmd[cmd.index("t2v"):])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma list of extra flag strings ('plain': none)")
    ap.add_argument("--base", default=FAST_RECIPE_FLAGS, help="flags every variant shares")
    ap.add_argument("--ranks", type=int, default=2, help="DDP ranks (torchrun); 1 = one plain process")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--warmup", type=int, default=100, help="steps left out of the rate (the compile happens here)")
    ap.add_argument("--vae", default="data/vae/shapes")
    ap.add_argument("--cache-clips", type=int, default=2000)
    ap.add_argument("--cache-root", default="runs/latents")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_train_speed.json"))
    args = ap.parse_args()
    if args.warmup >= args.steps - 10:
        ap.error("--warmup must leave at least 10 steps to time")
    with tempfile.TemporaryDirectory(prefix="t2v-speed-") as scratch:
        rows = []
        for flags in [v.strip() for v in args.variants.split(",") if v.strip()]:
            rows.append(run_variant(flags, args, Path(scratch)))
            print(json.dumps(rows[-1]), flush=True)
    plain = next((r for r in rows if r["flags"] == "plain"), None)
    if plain is not None:
        for r in rows:
            r["clips_per_s_vs_plain"] = round(r["clips_per_s"] / plain["clips_per_s"], 3)
    result = {"description": __doc__.strip().split("\n\n", 1)[1], "ranks": args.ranks, "threads": args.threads,
              "steps": args.steps, "warmup": args.warmup, "base_flags": args.base, "vae": args.vae,
              "cpu_count": os.cpu_count(), "command": " ".join(["python", "benchmarks/t2v_train_speed.py"] + sys.argv[1:]),
              "variants": rows}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"\n{'flags':32s} {'steps/s':>8s} {'clips/s':>8s} {'vs plain':>9s}")
    for r in rows:
        print(f"{r['flags']:32s} {r['steps_per_s']:8.2f} {r['clips_per_s']:8.1f} {r.get('clips_per_s_vs_plain', float('nan')):9.2f}")


if __name__ == "__main__":
    main()
