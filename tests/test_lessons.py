"""Repository-wide checks over every lesson notebook (notebooks/NN_*.ipynb): the prose teaches the method (no
training history), the code runs on whatever device there is, each lesson ends with working Previous / Next
links, starts with the canonical set-up cell, and has goals, a widget, an inline video and a recap."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
LESSONS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
sys.path.insert(0, str(ROOT / "tools"))
import sync_setup_cell  # noqa: E402

# Training history does not belong in a lesson: numbered runs, leases, earlier shipped models.
HISTORY = re.compile(r"(first|second|third|\w+th|\d+)[- ]run\b|shipped before|\blease\b", re.IGNORECASE)
CPU_PINNED = re.compile(r"""device\s*=\s*["']cpu["']""")
LINK = r"\[([^\]]+)\]\(([^)\s]+)\)"
PREVIOUS = re.compile(r"Previous:\s*\**" + LINK)
NEXT = re.compile(r"Next:\s*\**" + LINK)
COMING = re.compile(r"Next:\s*lesson (\d\d), [^()\[\]]+\(coming\)")


def cells(path, kind):
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == kind]


def number(path):
    return int(path.name[:2])


def lesson_file(n):
    found = sorted(NOTEBOOKS.glob(f"{n:02d}_*.ipynb"))
    return found[0].name if found else None


def test_there_are_lessons():
    assert [number(p) for p in LESSONS] == list(range(len(LESSONS))), "lessons are numbered 00, 01, ... without gaps"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_markdown_narrates_no_training_history(path):
    found = [(i, m.group(0)) for i, src in enumerate(cells(path, "markdown")) for m in HISTORY.finditer(src)]
    assert not found, f"{path.name}: training history in markdown cells (index among markdown cells, text): {found}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_code_never_pins_the_cpu(path):
    pinned = [i for i, src in enumerate(cells(path, "code")) if CPU_PINNED.search(src)]
    assert not pinned, (f"{path.name}: code cells {pinned} hard-code device='cpu'; use the set-up cell's `device` "
                        "(minivid.device.default_device(): CUDA, then MPS, then the CPU)")


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_threads_are_set_only_on_the_cpu(path):
    for i, src in enumerate(cells(path, "code")):
        for line_no, line in enumerate(src.splitlines()):
            if "set_num_threads" in line and not line.lstrip().startswith("#"):
                above = "\n".join(src.splitlines()[max(0, line_no - 2): line_no + 1])
                assert re.search(r"""\.type\s*==\s*["']cpu["']""", above), \
                    f"{path.name}, code cell {i}: torch.set_num_threads outside an `if device.type == \"cpu\":`"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_ends_with_previous_and_next_links(path):
    n, last = number(path), cells(path, "markdown")[-1]
    previous, following = PREVIOUS.search(last), NEXT.search(last)
    if n == 0:
        assert previous is None, f"{path.name} is the first lesson: no Previous link"
    else:
        want = lesson_file(n - 1)
        assert previous, f"{path.name}: the last markdown cell has no 'Previous: [..](..)' link"
        assert previous.group(2) == want, f"{path.name}: Previous links {previous.group(2)}, expected {want}"
        assert previous.group(1).startswith(f"{n - 1:02d}"), f"{path.name}: Previous's text should start with {n - 1:02d}"
    want = lesson_file(n + 1)
    if want is None:  # the course's last lesson: no Next, and no dead link
        assert following is None and COMING.search(last) is None, f"{path.name} is the last lesson: no Next"
    else:
        assert following, f"{path.name}: the last markdown cell has no 'Next: [..](..)' link"
        assert following.group(2) == want, f"{path.name}: Next links {following.group(2)}, expected {want}"
        assert following.group(1).startswith(f"{n + 1:02d}"), f"{path.name}: Next's text should start with {n + 1:02d}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_relative_link_points_at_a_file(path):
    for src in cells(path, "markdown"):
        for _, target in re.findall(LINK, src):
            if "://" in target or target.startswith("#"):
                continue
            assert (path.parent / target.split("#")[0]).exists(), f"{path.name}: link to a missing file {target}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_setup_cell_is_the_canonical_one(path):
    code = cells(path, "code")
    assert code and code[0] == sync_setup_cell.SETUP, \
        f"{path.name}: the set-up cell differs from tools/sync_setup_cell.py's; run `python tools/sync_setup_cell.py`"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_goals_widget_video_and_recap(path):
    markdown, code = "\n".join(cells(path, "markdown")), "\n".join(cells(path, "code"))
    assert re.search(r"you will learn|goals", markdown, re.IGNORECASE), f"{path.name}: no goals at the top"
    assert re.search(r"^#+ .*recap", markdown, re.IGNORECASE | re.MULTILINE), f"{path.name}: no recap section"
    assert "widgets." in code, f"{path.name}: no ipywidgets widget"
    assert re.search(r"\b(show_video|video_html)\(", code), f"{path.name}: no inline video (viz.show_video / video_html)"
