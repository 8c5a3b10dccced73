"""The `minivid` command: renders a prompt, prices a video, fails in one clear line."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from minivid.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_render_writes_the_prompted_clip(tmp_path, capsys):
    out = tmp_path / "clip.gif"
    assert main(["render", "a red circle moves left", "--out", str(out), "--frames", "9"]) == 0
    assert "a red circle moves left" in capsys.readouterr().out
    with Image.open(out) as gif:
        assert gif.n_frames == 9
        frame = gif.convert("RGB")
        assert (230, 40, 40) in {c for _, c in frame.getcolors(maxcolors=1 << 16)}


def test_chinese_prompt_renders_the_same_scene_as_english(tmp_path):
    zh, en = tmp_path / "zh.gif", tmp_path / "en.gif"
    assert main(["render", "红色的圆形向左移动", "--out", str(zh)]) == 0
    assert main(["render", "a red circle moves left", "--out", str(en)]) == 0
    assert zh.read_bytes() == en.read_bytes()


def test_bad_prompt_is_one_clear_line_and_status_2(tmp_path, capsys):
    assert main(["render", "a red circel moves left", "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err
    assert "unknown word 'circel'" in err and "circle" in err and "Traceback" not in err
    assert main(["render", "a red circle rotates clockwise", "--out", str(tmp_path / "x.gif")]) == 2
    assert "circle cannot" in capsys.readouterr().err


def test_cost_reproduces_the_public_estimate(capsys):
    assert main(["cost", "sora-like-60-frames"]) == 0
    out = capsys.readouterr().out
    assert "tokens per clip: 61,440" in out and "1,228,800 token evaluations" in out
    assert main(["cost", "no-such-preset"]) == 2
    assert "unknown preset" in capsys.readouterr().err


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"LANG": "C", "LC_ALL": "C", "PYTHONUTF8": "0"}])
def test_a_terminal_that_cannot_show_the_prompt_does_not_turn_success_into_failure(tmp_path, env):
    """Issue 42 item 7: generate exited 2 after writing its file when stdout could not encode the Chinese prompt."""
    out = tmp_path / "clip.gif"
    run = subprocess.run([sys.executable, "-m", "minivid.cli", "generate", "紅色的圓形向左移動", "--steps", "1",
                          "--out", str(out)], capture_output=True, env={**os.environ, **env, "OMP_NUM_THREADS": "1"},
                         cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr.decode(errors="replace")
    assert out.read_bytes()[:3] == b"GIF" and b"wrote" in run.stdout and b"Traceback" not in run.stderr


def test_output_paths_that_cannot_be_written_are_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir.gif").mkdir()
    for out, message in ((tmp_path / "file" / "x.gif", "a file is in the way"), (tmp_path / "dir.gif", "is a directory"),
                         ("/proc/minivid.gif", "cannot write"), (tmp_path / "x.txt", "unsupported video file type")):
        assert main(["render", "a red circle moves left", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
