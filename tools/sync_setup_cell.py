"""The set-up cell of every lesson, in one place, and the tool that writes it into the notebooks.

Cell 1 of every ``notebooks/NN_*.ipynb`` (the first code cell, after the title) is the same: on Colab it
clones the course and installs minivid from the clone (Colab's own torch and numpy stay), everywhere it
picks the device like the package does (CUDA, then MPS, then the CPU) and sets threads only on the CPU.
The clone URL is ``REPO_URL`` below and nowhere else: ``notebooks/_build/nb.py`` takes the cell from here,
and this tool writes it into existing notebooks.

    python tools/sync_setup_cell.py                 # every lesson
    python tools/sync_setup_cell.py notebooks/07_training_text_to_video.ipynb ...
    python tools/sync_setup_cell.py --check         # exit 1 and name the lessons whose cell differs

The cell must stay self-contained: on a fresh Colab runtime minivid is not installed until it has run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPO_URL = "https://github.com/minivid/minivid"  # the course's repository: the one place the clone URL is set
CLONE_DIR = "/content/minivid"  # where Colab keeps the clone
COLAB_URL = REPO_URL.replace("https://github.com/", "https://colab.research.google.com/github/") + \
    "/blob/main/notebooks/{name}"  # a lesson's "Open in Colab" link

_TEMPLATE = '''\
# Setup, the same in every lesson (tools/sync_setup_cell.py writes it). On Colab: clone the course (the shipped
# checkpoints live in its data/ folder) and install minivid from the clone; Colab's own torch and numpy stay.
# Locally, `pip install -e ".[dev]"` from the repository root has done it already.
import os
import subprocess
import sys

REPO_URL, CLONE = {repo_url!r}, {clone_dir!r}
if "google.colab" in sys.modules:
    if not os.path.exists(CLONE):
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, CLONE], check=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", CLONE], check=True)
    sys.path.insert(0, CLONE)  # this running kernel sees the editable install at once
    os.chdir(os.path.join(CLONE, "notebooks"))  # lessons find data/ above the working directory

import numpy as np
import torch

import minivid
from minivid.device import default_device

device = default_device()  # CUDA, then Apple's MPS, then the CPU: where every lesson computes
if device.type == "cpu":
    torch.set_num_threads(1)  # small models: one thread is fastest on a CPU, and polite on a shared machine
print(f"minivid {{minivid.__version__}} | torch {{torch.__version__}} | numpy {{np.__version__}} | device: {{device}}")'''


def setup_cell_source(repo_url: str = REPO_URL, clone_dir: str = CLONE_DIR) -> str:
    """The set-up cell's code; the arguments exist so that a test can clone from a local repository."""
    return _TEMPLATE.format(repo_url=repo_url, clone_dir=clone_dir)


SETUP = setup_cell_source()


def lessons(root: Path = ROOT) -> list[Path]:
    """Every lesson notebook, in order."""
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def setup_cell(nb: dict) -> dict:
    """The notebook's set-up cell: its first code cell, which must be a set-up cell already."""
    cell = next((c for c in nb["cells"] if c["cell_type"] == "code"), None)
    source = "" if cell is None else "".join(cell["source"])
    if cell is None or "google.colab" not in source:
        raise ValueError("the first code cell is not a set-up cell (it never mentions google.colab); not overwriting it")
    return cell


def sync(path: Path, check: bool = False) -> bool:
    """Write the canonical set-up cell into the lesson at `path` (or only compare when `check`);
    returns whether it differed. Outputs are kept: re-execute the lesson to refresh them."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cell = setup_cell(nb)
    if "".join(cell["source"]) == SETUP:
        return False
    if not check:
        cell["source"] = SETUP.splitlines(keepends=True)
        tmp = path.with_suffix(".ipynb.tmp")
        tmp.write_text(json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)  # atomic: a reader sees the old notebook or the new one
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="lesson notebooks (default: every notebooks/NN_*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a lesson's set-up cell differs")
    args = parser.parse_args(argv)
    paths = args.notebooks or lessons()
    changed = [p for p in paths if sync(p, check=args.check)]
    for p in changed:
        print(f"{p.name}: set-up cell {'differs' if args.check else 'rewritten'}")
    if not changed:
        print(f"{len(paths)} lesson(s): set-up cell already canonical")
    return 1 if args.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
