"""How big the front door is and how readable the code: the measurements tests/test_docs.py bounds.

    python benchmarks/codebase_stats.py          # prints the figures; runs no model

- README.md in characters (limit 6,000);
- the largest markdown file in the repository (limit 30 KB; virtualenvs and hidden folders skipped);
- the longest functions in minivid/ in lines, decorators and docstring included (limit 80);
- the flags of `python -m minivid.train t2v --help` and `... vae --help` that have no help text.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {"node_modules", "site-packages", "runs"}


def markdown_sizes(root: Path = ROOT) -> dict[str, int]:
    """Every markdown file under `root` -> its size in bytes (hidden folders and virtualenvs skipped)."""
    sizes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS and "venv" not in d]
        for f in filenames:
            if f.endswith(".md"):
                path = Path(dirpath) / f
                sizes[path.relative_to(root).as_posix()] = path.stat().st_size
    return sizes


def function_lengths(path: Path) -> dict[str, int]:
    """`name` (or `Class.name`, `outer.inner`) -> lines, from the first decorator to the last line."""
    out = {}

    def visit(node, prefix=""):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                out[prefix + child.name] = child.end_lineno - start + 1
                visit(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return out


def longest_functions(package: Path = ROOT / "minivid") -> list[tuple[int, str]]:
    """(lines, "module.py:name") for every function in the package, longest first."""
    return sorted(((n, f"{p.name}:{name}") for p in sorted(package.glob("*.py"))
                   for name, n in function_lengths(p).items()), reverse=True)


def options_without_help(help_text: str) -> list[str]:
    """The options of an argparse --help text that have no help string (-h excepted)."""
    lines = help_text.splitlines()
    missing = []
    for i, line in enumerate(lines):
        if not re.match(r"^  -", line):
            continue
        described = len(re.split(r"\s{2,}", line.strip(), maxsplit=1)) > 1
        following = lines[i + 1] if i + 1 < len(lines) else ""
        wrapped = following.startswith(" " * 6) and following.strip() and not following.lstrip().startswith("-")
        if not (described or wrapped):
            missing.append(line.strip().split()[0].rstrip(","))
    return [m for m in missing if m not in ("-h", "--help")]


def train_help(command: str) -> str:
    """The text of `python -m minivid.train COMMAND --help`, from this checkout's minivid, in-process."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from minivid import train

    out, columns = io.StringIO(), os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal width
    try:
        with contextlib.redirect_stdout(out):
            train.main([command, "--help"])
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            raise RuntimeError(f"python -m minivid.train {command} --help exited with {exit_.code}") from None
    finally:
        if columns is None:
            os.environ.pop("COLUMNS")
        else:
            os.environ["COLUMNS"] = columns
    return out.getvalue()


def main() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    print(f"README.md: {len(readme):,} characters (limit 6,000)")
    sizes = sorted(markdown_sizes().items(), key=lambda kv: -kv[1])
    print("largest markdown files (limit 30,000 bytes): "
          + ", ".join(f"{p} {s:,}" for p, s in sizes[:3]))
    print("longest functions in minivid/ (limit 80 lines): "
          + ", ".join(f"{where} {n}" for n, where in longest_functions()[:5]))
    for command in ("t2v", "vae"):
        text = train_help(command)
        flags = len(re.findall(r"^  --", text, re.M))  # "-h, --help" starts with "-h"
        missing = options_without_help(text)
        print(f"python -m minivid.train {command} --help: {flags - len(missing)} of {flags} flags have help text"
              + (f" (none: {', '.join(missing)})" if missing else ""))


if __name__ == "__main__":
    main()
