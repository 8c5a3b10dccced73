"""The docs stay true and short; the code stays readable.

- docs/results.md and the generated blocks of README.md and notebooks/README.md are exactly what
  `python benchmarks/write_results.py` writes from benchmarks/results/ now (no model runs here);
- the headline numbers were measured on the shipped checkpoint, not an earlier one;
- README.md <= 6,000 characters, keeps CI's command, tells no history; no markdown file > 30 KB;
  data/t2v/README.md <= 8 KB; relative links in the front pages resolve;
- no function in minivid/ is longer than 80 lines; every flag of `python -m minivid.train t2v`
  and `... vae` has --help text (both measured by benchmarks/codebase_stats.py, which prints them).
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README_LIMIT = 6000  # characters
MARKDOWN_LIMIT = 30_000  # bytes
T2V_README_LIMIT = 8_000  # bytes
FUNCTION_LIMIT = 80  # lines, decorators and docstring included


def load(script: str):
    """A script in benchmarks/ as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(script, ROOT / "benchmarks" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_writer():
    return load("write_results")


# ---------------------------------------------------------------- generated docs


def test_generated_docs_match_the_result_files():
    stale = [path for path, text in load_writer().build().items()
             if not (ROOT / path).exists() or (ROOT / path).read_text(encoding="utf-8") != text]
    assert not stale, f"{', '.join(stale)} differ from the results files: run `python benchmarks/write_results.py`"


def test_fill_replaces_only_its_block():
    writer = load_writer()
    text = "a\n<!-- BEGIN generated: x -->\nold\nlines\n<!-- END generated: x -->\nb\n"
    assert writer.fill(text, "x", "new", "t.md") == "a\n<!-- BEGIN generated: x -->\nnew\n<!-- END generated: x -->\nb\n"
    empty = "<!-- BEGIN generated: x -->\n<!-- END generated: x -->\n"
    assert writer.fill(empty, "x", "new", "t.md") == "<!-- BEGIN generated: x -->\nnew\n<!-- END generated: x -->\n"
    with pytest.raises(SystemExit, match="no block"):
        writer.fill(text, "y", "new", "t.md")


def test_headline_numbers_were_measured_on_the_shipped_model():
    writer = load_writer()
    side = writer.shipped_sidecar()
    weights = hashlib.sha256((ROOT / writer.MODEL).with_suffix(".safetensors").read_bytes()).hexdigest()
    assert weights == side["sha256"]
    assert writer.measured_on_shipped(writer.load("adherence")["model_meta"]), (
        f"{writer.SOURCES['adherence']} was measured on another model than {writer.MODEL}: rerun the benchmark")
    for name in ("heldout_more_seeds", "two_object_more_seeds", "strip"):
        assert writer.load(name)["model_sha256"] == weights, f"{writer.SOURCES[name]} was measured on another model"
    for name in ("sweep_euler", "sweep_heun"):
        assert writer.measured_on_shipped(writer.load(name)["model_meta"]), writer.SOURCES[name]


def test_measured_on_shipped_tells_another_model_apart():
    writer = load_writer()
    meta = dict(writer.load("adherence")["model_meta"])
    assert writer.measured_on_shipped(meta)
    meta["steps_trained"] += 1
    assert not writer.measured_on_shipped(meta)


def test_evaluator_rows_are_read_from_the_table():
    writer = load_writer()
    text = ("clips                                   n  overall   colour\n"
            "single object (all 176 combos)        880   1.0000   1.0000   216 clips/s\n"
            "two objects                           500   0.9500   1.0000\n")
    assert writer.evaluator_rows(text) == {"single object (all 176 combos)": (880, 1.0), "two objects": (500, 0.95)}


# ---------------------------------------------------------------- sizes and wording


def readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_short():
    assert len(readme()) <= README_LIMIT, f"README.md has {len(readme())} characters, more than {README_LIMIT}"


def test_readme_gives_the_commands_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    test_command = re.search(r"^TEST_COMMAND='(.+)'$", ci, re.M).group(1)
    commands = [line.split("#")[0].strip() for line in readme().splitlines() if line.startswith("pip install")]
    assert test_command in commands, f"README.md must give CI's test command exactly: {test_command}"
    assert 'pip install -e ".[dev]" && jupyter lab notebooks/00_welcome.ipynb' in commands
    assert "torch==2.13.0" in readme()


HISTORY = re.compile(
    r"\b(leases?|shipped (before|until|then)|(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    r"eleventh|twelfth|thirteenth|fourteenth) run|runs? \d+|\w+-run model|session of)\b", re.I)


def test_readme_tells_no_history():
    found = sorted({m.group(0) for m in HISTORY.finditer(readme())})
    assert not found, f"README.md narrates the project's history ({found}): that belongs in docs/lab-notes.md"


def test_history_pattern_catches_run_narration():
    for text in ("the fourteenth run", "a 15-minute lease", "the model shipped before", "the nine-run model"):
        assert HISTORY.search(text), text
    assert not HISTORY.search("pytest runs every test; the shipped model, measured")


def test_no_markdown_file_is_over_30_kb():
    sizes = load("codebase_stats").markdown_sizes()
    assert "README.md" in sizes and "docs/lab-notes.md" in sizes
    too_big = {p: s for p, s in sizes.items() if s > MARKDOWN_LIMIT}
    assert not too_big, f"markdown files over {MARKDOWN_LIMIT} bytes: {too_big}"


def test_markdown_sizes_skip_virtualenvs(tmp_path):
    (tmp_path / ".venv" / "lib").mkdir(parents=True)
    (tmp_path / ".venv" / "lib" / "big.md").write_text("x" * 10)
    (tmp_path / "ci-venv").mkdir()
    (tmp_path / "ci-venv" / "big.md").write_text("x" * 10)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("abc")
    assert load("codebase_stats").markdown_sizes(tmp_path) == {"docs/a.md": 3}


def test_t2v_readme_is_usage_only():
    size = (ROOT / "data" / "t2v" / "README.md").stat().st_size
    assert size <= T2V_README_LIMIT, f"data/t2v/README.md is {size} bytes, more than {T2V_README_LIMIT}"


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", ["README.md", "docs/results.md", "docs/lab-notes.md", "notebooks/README.md",
                                  "data/README.md", "data/t2v/README.md", "data/vae/README.md"])
def test_relative_links_resolve(page):
    text = (ROOT / page).read_text(encoding="utf-8")
    broken = [target for target in LINK.findall(text)
              if "://" not in target and not (ROOT / page).parent.joinpath(target).exists()]
    assert not broken, f"{page} links to missing files: {broken}"


# ---------------------------------------------------------------- code (measured by benchmarks/codebase_stats.py)


def test_function_lines_are_counted(tmp_path):
    import textwrap

    src = textwrap.dedent('''
        @decorator
        def f(x):
            """Doc."""
            return x


        class C:
            def g(self):
                def h():
                    pass
                return h
    ''')
    (tmp_path / "f.py").write_text(src, encoding="utf-8")
    assert load("codebase_stats").function_lengths(tmp_path / "f.py") == {"f": 4, "C.g": 4, "C.g.h": 2}


def test_no_function_in_minivid_is_over_80_lines():
    over = [f"{where} ({n} lines)" for n, where in load("codebase_stats").longest_functions() if n > FUNCTION_LIMIT]
    assert not over, f"functions over {FUNCTION_LIMIT} lines: {', '.join(over)}"


def test_options_without_help_are_found():
    text = ("options:\n  -h, --help            show this help message and exit\n"
            "  --steps STEPS         training steps\n  --lr LR\n"
            "  --a-very-long-option-name A_VERY_LONG_OPTION_NAME\n                        wrapped help\n"
            "  --seed SEED\n")
    assert load("codebase_stats").options_without_help(text) == ["--lr", "--seed"]


@pytest.mark.parametrize("command", ["t2v", "vae"])
def test_every_training_flag_has_help(command):
    stats = load("codebase_stats")
    text = stats.train_help(command)
    assert text.count("\n  --") >= 5, text
    missing = stats.options_without_help(text)
    assert not missing, f"`python -m minivid.train {command} --help`: no help text for {', '.join(missing)}"
