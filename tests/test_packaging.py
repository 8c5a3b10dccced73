"""pyproject.toml and environment.yml must list the same packages with the same bounds.

Both files say what minivid needs: pip users read pyproject.toml, conda users
environment.yml. If a dependency is added, removed or re-bounded in one file
only, these tests fail and print the difference. environment.yml is read with a
small parser for its simple block form (so the tests need no PyYAML); where
PyYAML happens to be installed, the parser is checked against it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # ships with pytest
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib  # Python 3.11+
except ModuleNotFoundError:  # Python 3.10
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        tomllib = None

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
ENVIRONMENT = ROOT / "environment.yml"

pytestmark = pytest.mark.skipif(
    tomllib is None, reason="reading pyproject.toml needs Python 3.11+ (tomllib) or tomli"
)


# ---------------------------------------------------------------- a tiny YAML reader


def _strip_comment(line: str) -> str:
    """Drop a '#' comment (at the start, or after whitespace) outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _scalar(text: str):
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


_KEY = re.compile(r"^([^\s'\"#-][^:]*?|-[^\s:][^:]*?):(?:\s+(.*))?$")


def parse_simple_yaml(text: str):
    """Parse block mappings and sequences of plain scalars (environment.yml's form)."""
    lines = []
    for raw in text.splitlines():
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise ValueError(f"tabs are not allowed in YAML indentation: {raw!r}")
        content = _strip_comment(raw)
        if content.strip():
            lines.append((len(content) - len(content.lstrip()), content.strip()))

    def block(i: int, indent: int):
        if lines[i][1].startswith("- ") or lines[i][1] == "-":
            return sequence(i, indent)
        return mapping(i, indent)

    def nested(i: int, parent_indent: int, allow_same_indent_list: bool):
        """The block under a 'key:' line ending at i - 1, or None if empty."""
        if i < len(lines):
            ind, content = lines[i]
            if ind > parent_indent or (
                allow_same_indent_list and ind == parent_indent and content.startswith("-")
            ):
                return block(i, ind)
        return None, i

    def mapping(i: int, indent: int):
        out = {}
        while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
            match = _KEY.match(lines[i][1])
            if not match:
                raise ValueError(f"cannot parse line: {lines[i][1]!r}")
            key, value = match.group(1).strip(), match.group(2)
            if value:
                out[key], i = _scalar(value), i + 1
            else:
                out[key], i = nested(i + 1, indent, allow_same_indent_list=True)
        return out, i

    def sequence(i: int, indent: int):
        out = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("-"):
            item = lines[i][1][1:].strip()
            match = _KEY.match(item)
            if match and not match.group(2):  # "- key:" with a block beneath
                value, i = nested(i + 1, indent, allow_same_indent_list=False)
                out.append({match.group(1).strip(): value})
            elif match:  # "- key: value"
                out.append({match.group(1).strip(): _scalar(match.group(2))})
                i += 1
            else:
                out.append(_scalar(item))
                i += 1
        return out, i

    if not lines:
        return None
    value, end = block(0, lines[0][0])
    if end != len(lines):
        raise ValueError(f"cannot parse line: {lines[end][1]!r}")
    return value


# ---------------------------------------------------------------- requirement tables


def requirement_table(requirements, where: str) -> dict[str, str]:
    """{canonical name: '[extras]specifiers; marker'} for PEP 508 strings."""
    table: dict[str, str] = {}
    for text in requirements:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        marker = f"; {req.marker}" if req.marker else ""
        value = f"{extras}{req.specifier or 'any version'}{marker}"
        if table.get(name, value) != value:
            raise AssertionError(f"{where}: {req.name} is listed twice with different bounds")
        table[name] = value
    return table


def expected_pip_table(pyproject: dict) -> dict[str, str]:
    """What environment.yml's pip section must hold: dependencies + the dev extra."""
    project = pyproject["project"]
    dev = project.get("optional-dependencies", {}).get("dev", [])
    return requirement_table([*project.get("dependencies", []), *dev], "pyproject.toml")


def environment_pip_table(env: dict) -> dict[str, str]:
    """environment.yml's pip section, without option lines ('--extra-index-url', '-e .')."""
    return requirement_table(
        [line for line in pip_section(env) if not line.startswith("-")], "environment.yml"
    )


def pip_section(env: dict) -> list[str]:
    sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(sections) == 1, "environment.yml needs exactly one '- pip:' list"
    return sections[0]


def table_diff(expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """Human-readable differences; empty when the tables agree."""
    diff = []
    for name in sorted(expected.keys() - actual.keys()):
        diff.append(f"{name} ({expected[name]}) is in pyproject.toml only")
    for name in sorted(actual.keys() - expected.keys()):
        diff.append(f"{name} ({actual[name]}) is in environment.yml only")
    for name in sorted(expected.keys() & actual.keys()):
        if expected[name] != actual[name]:
            diff.append(
                f"{name}: pyproject.toml says {expected[name]!r}, "
                f"environment.yml says {actual[name]!r}"
            )
    return diff


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def pyproject() -> dict:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def env() -> dict:
    return parse_simple_yaml(ENVIRONMENT.read_text(encoding="utf-8"))


# ---------------------------------------------------------------- the checks


def test_environment_pip_packages_match_pyproject(pyproject, env):
    diff = table_diff(expected_pip_table(pyproject), environment_pip_table(env))
    assert not diff, "pyproject.toml and environment.yml disagree:\n  " + "\n  ".join(diff)


def test_conda_itself_installs_only_python_and_pip(env):
    assert env["name"] == "minivid"
    conda_level = [d for d in env["dependencies"] if not isinstance(d, dict)]
    names = sorted(canonicalize_name(Requirement(d).name) for d in conda_level)
    assert names == ["pip", "python"], (
        "list packages under '- pip:' only, so conda cannot pick a CUDA torch; "
        f"conda-level dependencies found: {conda_level}"
    )
    assert "-e ." in pip_section(env), "environment.yml should install minivid itself (-e .)"


def test_python_bound_matches_requires_python(pyproject, env):
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert Requirement(python).specifier == SpecifierSet(pyproject["project"]["requires-python"])


def test_test_extra_is_part_of_dev_extra(pyproject):
    extras = pyproject["project"]["optional-dependencies"]
    test = requirement_table(extras["test"], "pyproject.toml [test]")
    dev = requirement_table(extras["dev"], "pyproject.toml [dev]")
    assert test.items() <= dev.items(), "every 'test' requirement must also be in 'dev'"


def test_package_version_matches_pyproject(pyproject):
    import minivid

    assert minivid.__version__ == pyproject["project"]["version"]


# ---------------------------------------------------------------- the checks catch drift


def test_diff_reports_a_dependency_added_to_one_file_only(pyproject, env):
    drifted = {**pyproject, "project": dict(pyproject["project"])}
    drifted["project"]["dependencies"] = [*pyproject["project"]["dependencies"], "scipy>=1.10"]
    diff = table_diff(expected_pip_table(drifted), environment_pip_table(env))
    assert diff == ["scipy (>=1.10) is in pyproject.toml only"]

    env_drifted = {**env, "dependencies": [*env["dependencies"]]}
    pip_index = next(i for i, d in enumerate(env["dependencies"]) if isinstance(d, dict))
    env_drifted["dependencies"][pip_index] = {"pip": [*pip_section(env), "Scipy_Stack"]}
    diff = table_diff(expected_pip_table(pyproject), environment_pip_table(env_drifted))
    assert diff == ["scipy-stack (any version) is in environment.yml only"]


def test_diff_reports_changed_bounds():
    diff = table_diff(
        requirement_table(["torch>=2.2,<3"], "a"), requirement_table(["torch >=2.2"], "b")
    )
    assert len(diff) == 1 and "torch" in diff[0] and "<3" in diff[0]
    # the order of specifiers and spaces don't matter
    assert not table_diff(
        requirement_table(["torch>=2.2,<3"], "a"), requirement_table(["torch <3, >=2.2"], "b")
    )


def test_simple_yaml_parser():
    text = """\
# comment
name: demo  # trailing comment
channels:
- conda-forge
dependencies:
  - python>=3.10
  - pip
  - pip:
      - --extra-index-url https://example.org/simple#frag
      - "quoted>=1"
      - -e .
"""
    assert parse_simple_yaml(text) == {
        "name": "demo",
        "channels": ["conda-forge"],
        "dependencies": [
            "python>=3.10",
            "pip",
            {"pip": ["--extra-index-url https://example.org/simple#frag", "quoted>=1", "-e ."]},
        ],
    }


def test_simple_yaml_parser_agrees_with_pyyaml():
    yaml = pytest.importorskip("yaml")
    text = ENVIRONMENT.read_text(encoding="utf-8")
    assert parse_simple_yaml(text) == yaml.safe_load(text)
