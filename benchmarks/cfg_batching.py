"""Classifier-free guidance: two model calls a step (conditional, unconditional) or one call on both, batched?

    PYTHONPATH=. python benchmarks/cfg_batching.py      # writes benchmarks/results/cfg_batching.json

Times the guided velocity of the shipped model both ways (the same latents, prompts and times; median of
repeats, 1 CPU thread and the machine's default) and checks whether the batched call gives the same bits:
the pipeline must keep giving the pinned video (tests/test_pinned_video.py), so batching is kept only if it
is faster and exact.
"""
from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from minivid.pipeline import TextToVideo  # noqa: E402
from minivid.text import encode_batch  # noqa: E402

PROMPTS = ["a red circle moves left", "紅色的正方形順時針旋轉", "a blue triangle moves up",
           "a green square moves down"]


def two_calls(model, x, t, cond, uncond, scale):
    pred_uncond, pred_cond = model(x, t, *uncond), model(x, t, *cond)
    return pred_uncond + scale * (pred_cond - pred_uncond)


def one_call(model, x, t, cond, uncond, scale):
    """Both halves in one batch; the shorter token sequence padded (masked out) to the longer's length."""
    n = max(cond[0].shape[1], uncond[0].shape[1])
    ids = torch.cat([torch.nn.functional.pad(c[0], (0, n - c[0].shape[1])) for c in (uncond, cond)])
    mask = torch.cat([torch.nn.functional.pad(c[1], (0, n - c[1].shape[1])) for c in (uncond, cond)])
    pred_uncond, pred_cond = model(torch.cat([x, x]), torch.cat([t, t]), ids, mask).chunk(2)
    return pred_uncond + scale * (pred_cond - pred_uncond)


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(pipe, b: int, threads: int, repeats: int) -> dict:
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn((b, *pipe.latent_size(17)), generator=g)
    t = torch.full((b,), 0.7)
    cond, uncond = encode_batch(PROMPTS[:b]), encode_batch([None] * b)
    with torch.no_grad():
        a, c = two_calls(pipe.dit, x, t, cond, uncond, 3.0), one_call(pipe.dit, x, t, cond, uncond, 3.0)
        two = timed(lambda: two_calls(pipe.dit, x, t, cond, uncond, 3.0), repeats)
        one = timed(lambda: one_call(pipe.dit, x, t, cond, uncond, 3.0), repeats)
    return {"batch": b, "threads": threads, "two_calls_ms": round(two * 1e3, 2), "one_call_ms": round(one * 1e3, 2),
            "speedup": round(two / one, 3), "bit_identical": bool(torch.equal(a, c)),
            "max_abs_diff": float((a - c).abs().max())}


def main() -> None:
    pipe = TextToVideo.from_pretrained(device="cpu")
    default_threads = torch.get_num_threads()
    rows = [measure(pipe, b, th, repeats=15) for th in sorted({1, default_threads}) for b in (1, 4)]
    for r in rows:
        print(r)
    keep = all(r["speedup"] > 1.05 and r["bit_identical"] for r in rows)
    out = {"command": "PYTHONPATH=. python benchmarks/cfg_batching.py", "device": "cpu",
           "cpu": platform.processor() or platform.machine(), "torch": torch.__version__,
           "capability": torch.backends.cpu.get_cpu_capability(), "rows": rows,
           "decision": "batched" if keep else "two calls (batching is not both faster and bit-identical)"}
    path = ROOT / "benchmarks" / "results" / "cfg_batching.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(out["decision"], "->", path.relative_to(ROOT))


if __name__ == "__main__":
    main()
