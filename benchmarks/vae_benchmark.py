"""Benchmark the shipped video VAE against issue 3's targets.

    python benchmarks/vae_benchmark.py                 # data/vae/shapes, 1 CPU thread
    python benchmarks/vae_benchmark.py --vae runs/vae/vae --threads 2

Measures, on the fixed evaluation set (data/eval_set.json: 480 clips of
17 x 32 x 32, seen, held-out and two-object scenes):

- reconstruction PSNR (target >= 32 dB), per clip and per group;
- agreement of the evaluator (minivid.evaluate) with the scene specs on the
  reconstructed clips, per attribute (target >= 98%), next to the same numbers
  on the original clips (the evaluator's own ceiling);
- causality of the shipped weights (changing frame k must leave every earlier
  latent frame bit-identical);
- encode / decode throughput in clips/s (fp32, the way the model is used), and
  one training step in fp32 vs bf16 autocast (why training uses bf16);
- the training wall-clock to reach 32 dB, per stage (from scratch, then a decoder fine-tune), read from the
  checkpoint's sidecar.

Writes benchmarks/results/vae.json and prints it. Timings depend on the machine
and on whoever else is using its cores: the load average is recorded with them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from minivid import world  # noqa: E402
from minivid.checkpoint import read_meta  # noqa: E402
from minivid.device import autocast_context, bf16_supported  # noqa: E402
from minivid.train import reconstruct, vae_training_stages  # noqa: E402
from minivid.vae import VideoVAE, count_parameters, psnr  # noqa: E402

TARGET_PSNR, TARGET_AGREEMENT = 32.0, 0.98


def eval_scenes() -> list[tuple[str, world.SceneSpec]]:
    path = ROOT / "data" / "eval_set.json"
    if path.exists():
        return world.load_eval_set(path)
    data = world.build_eval_set()  # same content, built in memory
    return [(item["group"], world.SceneSpec.from_dict(item["scene"])) for item in data["items"]]


def display_path(path) -> str:
    """`path` relative to the repository when it is inside it (results stay machine-independent)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def summary(values: torch.Tensor) -> dict:
    return {"mean": round(values.mean().item(), 2), "median": round(values.median().item(), 2),
            "p5": round(values.quantile(0.05).item(), 2), "min": round(values.min().item(), 2)}


def evaluator_agreement(videos, scenes) -> dict | None:
    try:
        from minivid.evaluate import prompt_adherence
    except ImportError:
        return None
    report = prompt_adherence(videos, scenes)
    return {k: round(report[k], 4) for k in ("colour", "shape", "motion", "consistency", "overall")}


def timed(fn, repeats: int) -> float:
    fn()  # warm-up (oneDNN picks its kernels on the first call)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def train_step_seconds(cfg, bf16: bool, batch: torch.Tensor, repeats: int = 3) -> float:
    torch.manual_seed(0)
    model = VideoVAE(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = batch.permute(0, 2, 1, 3, 4) * 2 - 1  # b c t h w

    def step():
        with autocast_context("cpu", bf16):
            recon, post = model(x)
        loss = (recon.float() - x).square().mean() + 1e-5 * post.kl()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return timed(step, repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vae", default=str(ROOT / "data" / "vae" / "shapes"))
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (1 is fastest on a shared 2-core box)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "vae.json"))
    parser.add_argument("--skip-train-step", action="store_true", help="skip the fp32-vs-bf16 training-step timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    vae = VideoVAE.from_pretrained(args.vae, device="cpu")
    meta = read_meta(args.vae, kind="vae")
    pairs = eval_scenes()
    groups = [g for g, _ in pairs]
    scenes = [s for _, s in pairs]
    clips = torch.cat([world.render_batch(scenes[i:i + 64]) for i in range(0, len(scenes), 64)])  # b t c h w

    start = time.perf_counter()
    recon = reconstruct(vae, clips, batch_size=32)
    recon_seconds = time.perf_counter() - start
    per_clip = psnr(recon, clips)
    per_frame = psnr(recon.flatten(0, 1), clips.flatten(0, 1)).view(len(clips), -1)
    result = {
        "vae": display_path(args.vae),
        "parameters": count_parameters(vae),
        "file_bytes": meta["bytes"],
        "latent_shape_17x32x32": list(vae.latent_shape(17, 32, 32)),
        "scaling_factor": round(float(vae.scaling_factor), 4),
        "eval_clips": len(clips),
        "psnr_db": {
            "all": summary(per_clip),
            **{g: summary(per_clip[[i for i, x in enumerate(groups) if x == g]]) for g in sorted(set(groups))},
            "first_frame_mean": round(per_frame[:, 0].mean().item(), 2),
            "of_mean_mse": round(-10 * torch.log10((recon - clips).square().mean()).item(), 2),
            "clips_below_target": int((per_clip < TARGET_PSNR).sum()),
        },
    }
    single = [i for i, s in enumerate(scenes) if len(s.objects) == 1]
    agreement = evaluator_agreement(recon, scenes)
    if agreement is not None:
        result["evaluator_agreement"] = {
            "reconstructed_all": agreement,
            "reconstructed_single_object": evaluator_agreement(recon[single], [scenes[i] for i in single]),
            "original_all": evaluator_agreement(clips, scenes),
            "original_single_object": evaluator_agreement(clips[single], [scenes[i] for i in single]),
        }
        # A turning shape's pose is the finest detail a clip has: a VAE can keep the others and lose it
        turning = [i for i in single if scenes[i].objects[0].motion in world.ROTATIONS]
        for name, part in (("rotating", turning), ("not_rotating", sorted(set(single) - set(turning)))):
            result["evaluator_agreement"][f"reconstructed_single_object_{name}"] = {
                "clips": len(part), **evaluator_agreement(recon[part], [scenes[i] for i in part])}

    # causality of the shipped weights: frame k must not reach latent frames j < ceil(k / 4)
    x = clips[:4]
    z = vae.encode_clips(x)
    worst = 0.0
    for k in range(1, x.shape[1]):
        x2 = x.clone()
        x2[:, k:] = torch.rand_like(x2[:, k:])
        first = (k + 3) // 4
        worst = max(worst, (vae.encode_clips(x2)[:, :, :first] - z[:, :, :first]).abs().max().item())
    result["causality_max_abs_change_in_earlier_latents"] = worst

    # throughput, fp32 (how the shipped model runs), batch of 32 clips
    batch = clips[:32]
    latents = vae.encode_clips(batch)
    enc = timed(lambda: vae.encode_clips(batch), 3)
    dec = timed(lambda: vae.decode_latents(latents), 3)
    result["throughput_clips_per_s"] = {"encode": round(32 / enc, 1), "decode": round(32 / dec, 1),
                                        "reconstruct_eval_set": round(len(clips) / recon_seconds, 1)}
    if not args.skip_train_step and bf16_supported("cpu"):
        fp32 = train_step_seconds(vae.cfg, False, clips[:8])
        bf16 = train_step_seconds(vae.cfg, True, clips[:8])
        result["train_step_seconds_batch8"] = {"fp32": round(fp32, 3), "bf16": round(bf16, 3),
                                               "bf16_speedup": round(fp32 / bf16, 2)}

    def training_summary(train: dict) -> dict:
        history = train.get("val_psnr_history", [])
        reached = next(((step, seconds) for step, value, seconds in history if value >= TARGET_PSNR), None)
        return {
            "steps": train.get("steps"),
            "batch_size": train.get("config", {}).get("batch_size"),
            "wall_clock_s": train.get("train_seconds"),
            "val_psnr_first": history[0][1] if history else None,
            "val_psnr_final": history[-1][1] if history else None,
            "reached_32db_at": {"step": reached[0], "seconds": reached[1]} if reached else None,
        }

    # A fine-tuned VAE (train.init_from) has two stages: the run from scratch, then the fine-tune.
    stages = [{"stage": kind, **training_summary(train)} for kind, train in vae_training_stages(meta.get("train", {}))]
    result["training"] = {"stages": stages,
                          "total_wall_clock_s": round(sum(s["wall_clock_s"] or 0 for s in stages), 1)}
    result["targets"] = {
        "psnr_mean_ge_32": result["psnr_db"]["all"]["mean"] >= TARGET_PSNR,
        "evaluator_ge_98pct": (None if agreement is None else
                               all(agreement[a] >= TARGET_AGREEMENT for a in ("colour", "shape", "motion", "consistency"))),
        "causal": worst == 0.0,
    }
    result["machine"] = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                         "load_average": [round(v, 2) for v in os.getloadavg()], "torch": torch.__version__}

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
