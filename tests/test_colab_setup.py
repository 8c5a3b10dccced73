"""The lessons' set-up cell (tools/sync_setup_cell.py), run as Colab runs it: in a fresh interpreter with a
'google.colab' module, in a temporary directory, cloning this repository from the local disk (the network is
closed, so the clone URL is rewritten to a file URL and pip's command is recorded instead of run)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sync_setup_cell  # noqa: E402

# Runs the cell's code in a fresh interpreter; argv: the cell's source file, "colab" or "local".
RUNNER = r'''
import json, os, subprocess, sys, types
source = open(sys.argv[1], encoding="utf-8").read()
if sys.argv[2] == "colab":
    sys.modules["google.colab"] = types.ModuleType("google.colab")
calls, real_run = [], subprocess.run

def run(cmd, *args, **kwargs):
    calls.append([str(c) for c in cmd])
    if cmd[:2] == ["git", "clone"]:
        return real_run(cmd, *args, **kwargs)  # a real clone, from the local repository
    return subprocess.CompletedProcess(cmd, 0)  # pip: recorded, not run (no network here)

subprocess.run = run
for attempt in range(int(sys.argv[3])):  # the cell run again: a second run must not clone or install again
    exec(compile(source, "setup-cell", "exec"))
    print(json.dumps({"calls": calls, "minivid": minivid.__file__, "cwd": os.getcwd(), "device": str(device),
                      "threads": torch.get_num_threads()}))
'''


def run_cell(tmp_path, source, mode, times=1):
    cell, runner = tmp_path / "cell.py", tmp_path / "runner.py"
    cell.write_text(source, encoding="utf-8")
    runner.write_text(RUNNER, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only the clone may provide minivid
    env["CUDA_VISIBLE_DEVICES"] = ""
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, str(runner), str(cell), mode, str(times)], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_the_clone_url_is_set_in_one_place():
    assert sync_setup_cell.SETUP.count(sync_setup_cell.REPO_URL) == 1
    assert sync_setup_cell.SETUP.count(sync_setup_cell.CLONE_DIR) == 1
    build = (ROOT / "notebooks" / "_build" / "nb.py").read_text(encoding="utf-8")
    assert sync_setup_cell.REPO_URL not in build and "github.com/minivid" not in build, \
        "notebooks/_build/nb.py spells the repository itself instead of importing tools/sync_setup_cell.py"


@pytest.mark.skipif(not (ROOT / ".git").exists() or shutil.which("git") is None,
                    reason="needs git and this repository's own .git to clone from")
def test_setup_cell_on_colab_clones_installs_and_imports_minivid_from_the_clone(tmp_path):
    clone = tmp_path / "content" / "minivid"
    source = sync_setup_cell.setup_cell_source(repo_url=ROOT.as_uri(), clone_dir=str(clone))
    # the cell under test is the canonical one, with only the URL and the clone's place changed
    assert source == sync_setup_cell.SETUP.replace(repr(sync_setup_cell.REPO_URL), repr(ROOT.as_uri())) \
        .replace(repr(sync_setup_cell.CLONE_DIR), repr(str(clone)))
    first, again = run_cell(tmp_path, source, "colab", times=2)
    git, pip = first["calls"]
    assert git == ["git", "clone", "--depth", "1", ROOT.as_uri(), str(clone)]
    assert pip[:5] == [sys.executable, "-m", "pip", "install", "-q"] and pip[5:] == ["-e", str(clone)]
    assert not any(name in arg for arg in pip for name in ("torch", "numpy")), f"the cell re-pins a package: {pip}"
    assert (clone / "data" / "t2v" / "shapes.json").is_file(), "the clone lacks the shipped checkpoints"
    assert Path(first["minivid"]).resolve().is_relative_to(clone.resolve()), f"minivid came from {first['minivid']}"
    assert Path(first["cwd"]) == clone / "notebooks"
    assert first["device"] == "cpu" and first["threads"] == 1  # no GPU here: the CPU, one thread
    assert again["calls"] == first["calls"], "running the cell again cloned or installed again"


def test_setup_cell_elsewhere_runs_no_command_and_stays_put(tmp_path):
    (result,) = run_cell(tmp_path, sync_setup_cell.SETUP, "local")
    assert result["calls"] == []
    assert Path(result["cwd"]) == tmp_path / "work"


def test_sync_tool_refuses_a_notebook_without_a_setup_cell(tmp_path):
    path = sync_setup_cell.lessons()[0]
    nb = json.loads(path.read_text(encoding="utf-8"))
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    first_code["source"] = ["print('not a set-up cell')\n"]
    broken = tmp_path / path.name
    broken.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(ValueError, match="not a set-up cell"):
        sync_setup_cell.sync(broken)


def test_sync_tool_writes_the_canonical_cell(tmp_path):
    path = sync_setup_cell.lessons()[0]
    nb = json.loads(path.read_text(encoding="utf-8"))
    next(c for c in nb["cells"] if c["cell_type"] == "code")["source"] = ["# Setup\nimport sys\n'google.colab'\n"]
    copy = tmp_path / path.name
    copy.write_text(json.dumps(nb), encoding="utf-8")
    assert sync_setup_cell.main(["--check", str(copy)]) == 1
    assert sync_setup_cell.sync(copy) is True
    assert sync_setup_cell.sync(copy, check=True) is False
    synced = json.loads(copy.read_text(encoding="utf-8"))
    assert "".join(next(c for c in synced["cells"] if c["cell_type"] == "code")["source"]) == sync_setup_cell.SETUP
    assert len(synced["cells"]) == len(nb["cells"])
