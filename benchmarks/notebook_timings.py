"""Execute every lesson in a fresh kernel, in order, and time it: the "whole series in <= 15 minutes" check.

    python benchmarks/notebook_timings.py                 # time only: the committed notebooks are left alone
    python benchmarks/notebook_timings.py --inplace       # also write the executed notebooks back (how they are made)
    python benchmarks/notebook_timings.py 00 05           # only lessons whose names start with these

Writes benchmarks/results/notebooks.json: seconds per lesson (wall-clock, kernel start included), the total,
the file size of each executed notebook, and the machine. A lesson that raises stops nothing: its error is
recorded and the script exits non-zero at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
RESULTS = REPO / "benchmarks" / "results" / "notebooks.json"
SERIES_BUDGET_S = 15 * 60  # the budget for the whole series on a 2-core CPU


def run(path: Path, inplace: bool, timeout: int) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except Exception as e:  # a failing lesson is a result, not a crash of the benchmark
        error = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else ''}"
    seconds = time.perf_counter() - start
    size = len(nbformat.writes(nb).encode())
    if inplace and error is None:
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    return {"seconds": round(seconds, 1), "bytes": size, "code_cells": sum(c.cell_type == "code" for c in nb.cells),
            "error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("only", nargs="*", help="lesson prefixes, e.g. 00 05 (default: all)")
    parser.add_argument("--inplace", action="store_true", help="write the executed notebooks back")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    args = parser.parse_args()

    lessons = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb") if not args.only or p.name[:2] in args.only)
    results = {}
    for path in lessons:
        results[path.name] = r = run(path, args.inplace, args.timeout)
        print(f"{path.name:45} {r['seconds']:7.1f} s  {r['bytes'] / 1e6:5.2f} MB  {r['error'] or 'ok'}", flush=True)
    total = round(sum(r["seconds"] for r in results.values()), 1)
    print(f"{'total':45} {total:7.1f} s  (budget {SERIES_BUDGET_S} s)")

    if not args.only:  # a partial run must not overwrite the series' numbers
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({
            "command": "python benchmarks/notebook_timings.py" + (" --inplace" if args.inplace else ""),
            "lessons": results, "total_seconds": total, "budget_seconds": SERIES_BUDGET_S,
            "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                        "python": platform.python_version()},
        }, indent=1) + "\n")
        print(f"wrote {RESULTS.relative_to(REPO)}")
    sys.exit(1 if any(r["error"] for r in results.values()) else 0)


if __name__ == "__main__":
    main()
