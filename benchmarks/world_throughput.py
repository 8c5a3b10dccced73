"""How fast ShapesWorld streams clips on this machine (clips/s), so data never bottlenecks training.

    python benchmarks/world_throughput.py            # writes benchmarks/results/world_throughput.json

Measures three paths at the default 17 x 32 x 32 canvas: drawing scene specs alone,
the vectorised renderer alone, and the whole dataset path (`__getitems__`,
what a DataLoader calls), in the main process and with 2 DataLoader workers.
"""
import json
import os
import platform
import time
from pathlib import Path

import torch

from minivid.world import ShapesWorld, render_batch

BATCH = 256
REPEATS = 8


def rate(fn, clips: int, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return clips / best


def main(out: Path = Path(__file__).parent / "results" / "world_throughput.json") -> dict:
    ds = ShapesWorld(seed=0)
    indices = list(range(BATCH))
    scenes = [ds.scene(i) for i in indices]
    loader = torch.utils.data.DataLoader(ds, batch_size=BATCH, num_workers=2, persistent_workers=True)

    def through_loader(n_batches=8, it=iter(loader)):
        for _ in range(n_batches):
            next(it)

    results = {
        "canvas": "17x32x32",
        "batch": BATCH,
        "draw_specs_clips_per_s": rate(lambda: [ds._draw(i) for i in indices], BATCH),
        "render_clips_per_s": rate(lambda: render_batch(scenes), BATCH),
        "dataset_clips_per_s": rate(lambda: ds.__getitems__(indices), BATCH),
        "dataloader_2_workers_clips_per_s": rate(through_loader, 8 * BATCH, repeats=3),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
        "threads": torch.get_num_threads(),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    for k, v in results.items():
        print(f"{k:36s} {v:,.0f}" if isinstance(v, float) else f"{k:36s} {v}")
    return results


if __name__ == "__main__":
    main()
