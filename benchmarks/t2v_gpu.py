"""Text-to-video training on a GPU: the CPU's commands with a bigger batch, minutes instead of hours.

    python benchmarks/t2v_gpu.py train --deadline 530    # on a CUDA machine, from the repo root
    python benchmarks/t2v_gpu.py report runs/gpu         # anywhere: -> benchmarks/results/t2v_gpu.json

`train` is one short lease of a GPU machine, everything done before a deadline
(seconds from its start): it builds a latent cache of 120,000 training clips
(rendered by worker processes, encoded on the GPU), measures the step rate of
three recipes (`--runs`) running side by side on the one GPU (60 steps each), then runs each
for as many steps as fit, as a plain `python -m minivid.train t2v ... --batch-size
512 --bf16` command (each command is logged): `edges`, the shipped preset from
scratch; `cont`, the shipped checkpoint trained on; `edges-tokens`, `edges` with the
auxiliary text loss on every word token (`--text-aux-weight 1`); `edges-tokens-rw3`, the
same drawing rotating clips 3x as often; `cont-tokens-rw3` and `cont-rw3`, `cont` with
and without the loss, drawing rotating clips 3x as often;
`--compile` adds `--compile` to every run. The machine's disk is not kept, so it packs
into --out what should come back: each run's final EMA weights, the `edges*` runs'
snapshots at 1/3 and 2/3 (bf16: a
time-to-quality curve), and a
tarball of sidecars, logs and stdout. Unpack it as RUN/ (tarball) and RUN/models/
(the weights next to their sidecars from the tarball's packed/).

`report` scores every checkpoint in RUN/models/, the shipped one and any
--reference like the steps sweep of `t2v_benchmark.py` (its 160 prompts, 48
held-out + 112 seen, 20 Euler steps, guidance 4, shift 3, seed 0), and records for
each of the lease's its training command (flags that differ from the defaults),
steps, seconds, tokens/s and achieved FLOP/s (`patching.dit_flops` x 3 for forward
+ backward) on the GPU, with the lease's cache time and GPU load read from
RUN/driver.log. With 160 prompts a score's standard error is about 3.5 points.
"""
from __future__ import annotations

import argparse
import ast
import glob
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SCRATCH = ["--preset", "shapes-edges", "--lr", "1e-3", "--warmup-steps", "500", "--timestep-shift", "3"]  # `edges`
CONTINUE = ["--preset", "shapes-edges", "--init-from", "data/t2v/shapes", "--lr", "3e-4", "--timestep-shift", "3"]
RUNS = {  # name: flags of `python -m minivid.train t2v` (with the lease's common ones)
    "edges": SCRATCH,
    "cont": [*CONTINUE, "--seed", "7"],  # the shipped model trained on (fresh batches: another seed)
    "edges-tokens": [*SCRATCH, "--text-aux-weight", "1"],  # + every word token names its own object's pair
    "edges-tokens-rw3": [*SCRATCH, "--text-aux-weight", "1", "--rotation-weight", "3"],  # + rotating clips 3x as often
    "cont-tokens-rw3": [*CONTINUE, "--seed", "9", "--text-aux-weight", "1", "--rotation-weight", "3"],
    "cont-rw3": [*CONTINUE, "--seed", "9", "--rotation-weight", "3"],  # its twin without the text loss
}
TEXT_TOKENS = 25  # pooled token + a padded 24-token prompt, as t2v_benchmark.py's throughput counts them
PACK_SKIP = ("format", "version", "kind", "config", "file", "bytes", "sha256", "tensors")  # save_tensors writes these


# ----------------------------------------------------------------------------
# train: on the GPU machine


class Lease:
    def __init__(self, args):
        self.args, self.t0 = args, time.time()
        unknown = set(args.runs.split(",")) - set(RUNS)
        if unknown:
            raise SystemExit(f"unknown recipe(s) {sorted(unknown)}: choose from {', '.join(RUNS)}")
        self.runs = {name: RUNS[name] for name in args.runs.split(",")}
        from minivid.checkpoint import checkpoint_paths
        for name, flags in self.runs.items():  # a recipe that continues a checkpoint needs it on this machine
            if "--init-from" in flags:
                missing = [f for f in checkpoint_paths(ROOT / flags[flags.index("--init-from") + 1]) if not f.exists()]
                if missing:
                    raise SystemExit(f"recipe {name!r} starts from {', '.join(map(str, missing))}, not here: carry it")
        self.out, self.work = Path(args.out), Path(args.work)
        self.out.mkdir(parents=True, exist_ok=True)
        self.work.mkdir(parents=True, exist_ok=True)
        self.log = open(self.out / "driver.log", "a")
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": str(args.threads)}

    def say(self, *words) -> None:
        line = f"[{time.time() - self.t0:6.1f}s] " + " ".join(str(w) for w in words)
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def common(self, clips: int) -> list[str]:
        a = self.args
        return ["--batch-size", str(a.batch), "--cache-clips", str(clips), "--bf16", "--device", a.device,
                "--threads", str(a.threads), "--cache-root", str(self.work / "latents")] + (["--compile"] if a.compile else [])

    def launch(self, flags: list[str], out: Path) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "minivid.train", "t2v", *flags, "--out", str(out)]
        self.say("launch", " ".join(cmd))
        return subprocess.Popen(cmd, env=self.env, cwd=ROOT, stdout=open(self.work / f"{out.name}.stdout", "w"),
                                stderr=subprocess.STDOUT)

    def pack(self) -> None:
        """What comes back: finals (fp32), the from-scratch `edges*` runs' snapshots at 1/3 and 2/3
        (bf16: their curves are compared), one tarball."""
        import torch

        from minivid.checkpoint import load_tensors, save_tensors
        packed = self.work / "packed"
        packed.mkdir(exist_ok=True)
        for name in self.runs:
            snaps = sorted(glob.glob(str(self.work / name / "ema-*.safetensors")))
            chosen = [(snaps[-1], name, False)] if snaps else []
            if name.startswith("edges"):
                chosen += [(s, f"{name}-{Path(s).stem}", True) for s in snaps[:-1][-2:]]
            for src, dst, half in chosen:
                tensors, meta = load_tensors(src, kind="t2v")
                if half:
                    tensors = {k: v.to(torch.bfloat16) for k, v in tensors.items()}
                save_tensors(packed / dst, tensors, kind="t2v", config=meta["config"],
                             **{k: v for k, v in meta.items() if k not in PACK_SKIP})
                shutil.copy(packed / f"{dst}.safetensors", self.out / f"{dst}.safetensors")
                self.say("packed", dst, "bf16" if half else "fp32", Path(src).stem)
        with tarfile.open(self.out / "runs.tar.gz", "w:gz") as tar:
            for p in sorted(glob.glob(str(packed / "*.json"))):
                tar.add(p, arcname=f"packed/{Path(p).name}")
            for name in self.runs:
                for p in ["log.jsonl", "config.json"]:
                    if (self.work / name / p).exists():
                        tar.add(self.work / name / p, arcname=f"{name}/{p}")
                for p in glob.glob(str(self.work / name / "ema-*.json")):
                    tar.add(p, arcname=f"{name}/{Path(p).name}")
            for p in glob.glob(str(self.work / "*.stdout")):
                tar.add(p, arcname=f"stdout/{Path(p).name}")


def sh(cmd: str) -> str:
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    return (r.stdout + r.stderr).strip()


def median_rate(run_dir: Path) -> float:
    """Median steps/s of a run's logged 10-step windows from step 30 on (after start-up and warm-up)."""
    rows = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    rates = sorted(r["it_s"] for r in rows if r["step"] >= 30)
    return rates[len(rates) // 2]


def train(args) -> None:
    import torch

    from minivid.train import T2VTrainConfig, ensure_latent_cache
    lease = Lease(args)
    say = lease.say
    say("devices:", sh("nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader"),
        "| nproc", os.cpu_count(), "| torch", torch.__version__, torch.cuda.is_available())
    try:
        # 1. The latent cache: clips rendered by worker processes, encoded on the GPU.
        clips = args.clips
        try:
            cache = ensure_latent_cache(T2VTrainConfig(cache_clips=clips), lease.work / "latents", device=args.device,
                                        progress=False, workers=args.workers)
        except Exception as e:  # e.g. too little shared memory for worker processes: the usual cache, rendered here
            say("cache with workers failed:", repr(e)[:300])
            clips = T2VTrainConfig.cache_clips
            cache = ensure_latent_cache(T2VTrainConfig(cache_clips=clips), lease.work / "latents", device=args.device,
                                        progress=False)
        say("cache", tuple(cache.latents.shape), "clips", clips)
        del cache

        # 2. The step rate of each recipe while all three share the GPU, as they will.
        probes = {n: lease.launch([*f, *lease.common(clips), "--steps", "60", "--checkpoint-every", "1000000"],
                                  lease.work / f"probe-{n}") for n, f in lease.runs.items()}
        for n, p in probes.items():
            if p.wait() != 0:
                say("probe failed:", n, (lease.work / f"probe-{n}.stdout").read_text()[-3000:])
                sys.exit(1)
        rate = {n: median_rate(lease.work / f"probe-{n}") for n in lease.runs}
        say("probe it/s", rate, sh("nvidia-smi --query-gpu=memory.used --format=csv,noheader"))

        # 3. The runs: as many steps as fit before the deadline (less start-up and packing), snapshots every third.
        budget = args.deadline - 50 - (time.time() - lease.t0) - 15
        procs, steps = {}, {}
        for n, f in lease.runs.items():
            steps[n] = max(300, int(rate[n] * budget * 0.92) // 300 * 300)
            procs[n] = lease.launch([*f, *lease.common(clips), "--steps", str(steps[n]), "--checkpoint-every",
                                     str(steps[n] // 3)], lease.work / n)
        say("steps", steps, "training budget", round(budget), "s")
        last_smi = 0.0
        while any(p.poll() is None for p in procs.values()):
            now = time.time() - lease.t0
            if now > args.deadline - 30:
                for n, p in procs.items():
                    if p.poll() is None:
                        say("deadline: killing", n)
                        p.kill()
                break
            if now - last_smi > 45:
                last_smi = now
                say("smi", sh("nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader"))
            time.sleep(2)
        for n, p in procs.items():
            say("run", n, "rc", p.wait())
    finally:
        lease.pack()
        say("done")


# ----------------------------------------------------------------------------
# report: anywhere


def command_of(train_config: dict) -> str:
    """The `python -m minivid.train t2v` command of a run: the fields that differ from the defaults."""
    from minivid.train import T2VTrainConfig, config_flags
    return " ".join(["python -m minivid.train t2v", *config_flags(T2VTrainConfig.from_record(train_config), skip=("threads",))])


def lease_facts(driver_log: Path) -> dict:
    """Cache time, launched runs and GPU load, read back from the lines `train` wrote."""
    text = driver_log.read_text()
    device = re.search(r"devices: (.*?) \|", text)
    cache = re.search(r"\[\s*([\d.]+)s\] cache \((\d+),", text)
    rate = re.search(r"probe it/s (\{.*?\})", text)
    load = [int(x) for x in re.findall(r"smi (\d+) %", text)]
    return {"device": device and device.group(1), "latent_cache_clips": cache and int(cache.group(2)),
            "seconds_until_latent_cache_ready": cache and float(cache.group(1)),
            "side_by_side_runs": sorted(set(re.findall(r"--out \S+/(?!probe-)([\w-]+)\n", text))),
            "probe_steps_per_s": rate and {k: round(v, 2) for k, v in ast.literal_eval(rate.group(1)).items()},
            "gpu_utilisation_percent": load}


def stored_dtype(path: Path) -> str:
    """The dtype a checkpoint's weights are stored in (the pipeline computes in fp32 either way)."""
    from safetensors import safe_open
    with safe_open(f"{path}.safetensors", "pt") as f:
        return f.get_slice(next(iter(f.keys()))).get_dtype()


def report(args) -> None:
    import torch

    from minivid import patching
    from minivid.checkpoint import read_meta
    from minivid.pipeline import DEFAULT_PATH, TextToVideo
    from minivid.train import T2V_DEFAULT_SAMPLING
    from t2v_benchmark import generate, scores, sweep_prompts
    torch.set_num_threads(args.threads)
    run = Path(args.run)
    facts = lease_facts(run / "driver.log")
    groups = sweep_prompts()
    prompts, held = groups["heldout"] + groups["seen"], len(groups["heldout"])
    sampling = {k: T2V_DEFAULT_SAMPLING[k] for k in ("steps", "guidance", "shift")}
    trained_here = {Path(p).stem: Path(p).with_suffix("") for p in sorted(glob.glob(str(run / "models" / "*.json")))}
    models = {"shipped": Path(DEFAULT_PATH)} | {f"reference {p}": Path(p) for p in args.reference} | trained_here
    out = {"description": __doc__.strip().split("\n\n", 1)[1], "lease": facts, "models": {}}
    for name, path in models.items():
        meta = read_meta(path, kind="t2v")
        tc = meta["train_config"]
        videos, _ = generate(TextToVideo.from_pretrained(path), prompts, sampler="euler", **sampling)
        both = scores(videos, prompts, by_motion=True)
        entry = {"heldout_and_seen": {k: v for k, v in both.items() if k != "motion_by_prompt"},
                 "heldout": scores(videos[:held], prompts[:held]), "seen": scores(videos[held:], prompts[held:]),
                 "motion_shown": both["motion_by_prompt"],
                 "sha256": meta["sha256"], "stored_dtype": stored_dtype(path)}
        if name in trained_here:  # the lease's models: how they were trained there
            steps, seconds = meta.get("step", meta.get("steps_trained")), meta["train_seconds"]
            cfg = meta["config"]
            tokens = math.prod(n // k for n, k in zip(meta["latent_shape"][1:], cfg["patch_size"]))  # 80 here
            flops = patching.dit_flops(tokens, cfg["width"], cfg["depth"], int(cfg["mlp_ratio"]),
                                       text_tokens=TEXT_TOKENS).total  # forward, per clip
            stopped = f" --stop-at {steps}" if steps < tc["steps"] else ""  # cut short: the same as stopping there
            entry |= {"command": command_of(tc) + stopped + (" (run alone after the lease's three)" if name not in
                                                   facts["side_by_side_runs"] and "-ema-" not in name else ""),
                      "init_from": (meta.get("init_from") or {}).get("sha256"), "steps": steps,
                      "train_seconds": seconds, "steps_per_s": round(steps / seconds, 2),
                      "tokens_per_s": round(steps * tc["batch_size"] * tokens / seconds),
                      "achieved_tflop_s": round(3 * flops * tc["batch_size"] * steps / seconds / 1e12, 2)}
        out["models"][name] = entry
        print(f"{name}: held-out + seen {entry['heldout_and_seen']['overall']:.3f} (held-out "
              f"{entry['heldout']['overall']:.3f})", flush=True)
    Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    t = sub.add_parser("train", help="on the GPU machine: cache + three recipes side by side until --deadline")
    t.add_argument("--deadline", type=float, default=530, help="seconds from start by which all is packed")
    t.add_argument("--runs", default="edges,cont,edges-tokens-rw3", help=f"recipes to run side by side, of {', '.join(RUNS)}")
    t.add_argument("--clips", type=int, default=120000, help="training clips in the latent cache")
    t.add_argument("--workers", type=int, default=12, help="processes rendering clips for the cache")
    t.add_argument("--batch", type=int, default=512)
    t.add_argument("--threads", type=int, default=4, help="CPU threads per training process")
    t.add_argument("--device", default="cuda")
    t.add_argument("--compile", action=argparse.BooleanOptionalAction, default=False,
                   help="torch.compile each run (fuses the small kernels a width-128 model is made of; unmeasured on "
                        "a GPU so far)")
    t.add_argument("--work", default="/tmp/gpuwork", help="scratch space on the GPU machine")
    t.add_argument("--out", default=os.environ.get("OUT", "runs/gpu/out"), help="what should come back")
    r = sub.add_parser("report", help="score what came back -> benchmarks/results/t2v_gpu.json")
    r.add_argument("run", help="RUN/ with driver.log and models/")
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--reference", nargs="*", default=[], help="other checkpoints to score beside them (e.g. the "
                   "model shipped before the lease)")
    r.add_argument("--out", default=str(ROOT / "benchmarks/results/t2v_gpu.json"))
    args = ap.parse_args()
    train(args) if args.what == "train" else report(args)


if __name__ == "__main__":
    main()
