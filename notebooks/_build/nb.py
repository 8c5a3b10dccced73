"""Tiny helpers to write a notebook from a list of cells (used by make_*.py here)."""
from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat

COLAB = "https://colab.research.google.com/github/minivid/minivid/blob/main/notebooks/{name}"
BADGE = f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({COLAB})"

SETUP = '''\
# Setup. On Colab this installs minivid (Colab already ships torch and numpy: we never re-pin them).
# Locally, `pip install -e ".[dev]"` from the repository root has done it already.
import subprocess
import sys

if "google.colab" in sys.modules:
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "minivid @ git+https://github.com/minivid/minivid"],
        check=True,
    )

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
