"""pyproject.toml and environment.yml must list the same packages with the same bounds.

Both files say what minivid needs: pip users read pyproject.toml, conda users
environment.yml. If a dependency is added, removed or re-bounded in one file
only, these tests fail and print the difference. environment.yml is read with
PyYAML (a declared test dependency).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
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
    return yaml.safe_load(ENVIRONMENT.read_text(encoding="utf-8"))


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
