"""Tiny helpers to write a notebook from a list of cells (used by make_*.py here)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat

COLAB = "https://colab.research.google.com/github/minivid/minivid/blob/main/notebooks/{name}"
BADGE = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB})"

SETUP = '''\
# Setup. On Colab: clone the course (the shipped checkpoints live in its data/ folder) and install
# minivid from it; Colab already ships torch and numpy, and we never re-pin them.
# Locally, `pip install -e ".[dev]"` from the repository root has done it already.
import os
import subprocess
import sys

if "google.colab" in sys.modules and not os.path.exists("/content/minivid"):
    subprocess.run(["git", "clone", "--depth", "1", "https://github.com/minivid/minivid", "/content/minivid"], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-e", "/content/minivid"], check=True)
if "google.colab" in sys.modules:
    sys.path.insert(0, "/content/minivid")  # this running kernel sees the editable install at once
    os.chdir("/content/minivid/notebooks")  # lessons find data/ above the working directory

import numpy as np
import torch

import minivid
from minivid.device import default_device

print(f"minivid {minivid.__version__} | torch {torch.__version__} | numpy {np.__version__} | device: {default_device()}")'''


def md(text: str):
    return nbformat.v4.new_markdown_cell(textwrap.dedent(text).strip("\n"))


def code(text: str):
    return nbformat.v4.new_code_cell(textwrap.dedent(text).strip("\n"))


def write(path: Path, cells: list) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = cells
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
    }
    for i, cell in enumerate(nb.cells):  # stable ids: clean diffs when regenerated
        cell["id"] = f"c{i:02d}"
    nbformat.validate(nb)
    path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(cells)} cells)")
