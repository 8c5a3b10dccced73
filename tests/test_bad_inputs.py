"""A table of bad inputs across the pipeline's API, its sidecars and the command line (issue 42).

Each row is a clear error of a named type whose message says what is wrong, or a correct result (a finite
video in [0, 1]); never a traceback from deep inside torch, a NaN, or a silently different video.
"""
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from minivid.checkpoint import CheckpointError, checkpoint_paths, sidecar_digest
from minivid.cli import main as cli
from minivid.pipeline import TextToVideo
from minivid.text import PromptError
from minivid.train import T2VTrainConfig, build_dit, export_t2v

OK = "ok"  # the row's expected outcome: a correct video
PROMPT = "a red circle moves left"
NAN, INF = float("nan"), float("inf")


@pytest.fixture(scope="module")
def pipe(tiny_t2v):
    return TextToVideo.from_pretrained(tiny_t2v, device="cpu")


# ----------------------------------------------------------------------------
# The API: TextToVideo.__call__ / from_pretrained

CLIP = torch.rand(1, 17, 3, 32, 32, generator=torch.Generator().manual_seed(0))  # seeded: test ids show it
API = [  # (keyword arguments of pipe(...), expected exception or OK, message pattern)
    *[({"steps": v}, ValueError, r"steps must be an integer in \[1, 1000\]")
      for v in (0, -1, 1001, 10**20, 2.5, "3", True, NAN, [2])],
    *[({"guidance": v}, ValueError, r"guidance must be a (finite )?number in \[0, 50\]")
      for v in (NAN, INF, -INF, 1e30, -1, 50.5, "4", True, 1j, [4], torch.tensor(4.0))],
    *[({"autoguidance": v}, ValueError, r"autoguidance must be a (finite )?number in \[0, 20\]")
      for v in (NAN, INF, -0.5, 21, "1", False)],
    ({"autoguidance": 1.0}, ValueError, "needs a weaker model"),
    *[({"shift": v}, ValueError, r"shift must be a (finite )?number in \[0.01, 100\]")
      for v in (0, -1, NAN, INF, 1e30, 0.001, "3", True)],
    *[({"frames": v}, ValueError, r"frames must be (an integer in \[1, 129\]|1 \+ a multiple of 4)")
      for v in (17.0, 16, 0, -3, 133, "17", True, None, 10**9, 2.5, NAN)],
    *[({"seed": v}, ValueError, r"seed must be an integer in \[0, 1099511627775\]")
      for v in (-1, 2**40, 2**70, 1.5, "0", None, True, NAN)],
    *[({"init_video": CLIP, "strength": v}, ValueError, r"strength must be a (finite )?number in \[0, 1\]")
      for v in (-0.1, 1.1, NAN, INF, "0.5", True)],
    ({"strength": 0.5}, ValueError, "strength only applies when editing"),
    *[({"sampler": v}, ValueError, "sampler .* is not available")
      for v in ("ddpm", "EULER", "", 3, "dpm++", ["euler"], torch.tensor(1))],
    ({"init_video": (CLIP * 255).to(torch.uint8)}, ValueError, "init_video must be a float tensor"),
    ({"init_video": CLIP * 2}, ValueError, r"init_video must hold values in \[0, 1\]"),
    ({"init_video": torch.full_like(CLIP, NAN)}, ValueError, r"init_video must hold values in \[0, 1\]"),
    ({"init_video": CLIP[0]}, ValueError, "b t c h w"),
    ({"init_video": CLIP.expand(3, -1, -1, -1, -1)}, ValueError, "3 clips for 1 prompts"),
    ({"init_video": CLIP.tolist()}, ValueError, "init_video must be a float tensor"),
    ({"init_video": CLIP.numpy()}, ValueError, "init_video must be a float tensor"),
    ({"init_video": CLIP[:, :, :, :16]}, ValueError, "must be 32 x 32 pixels"),
    ({"init_video": CLIP[:, :, :2]}, ValueError, "b t c h w"),
    # edge values inside the ranges: a correct, finite video
    *[(kw, OK, None) for kw in ({"guidance": 0}, {"guidance": 50}, {"shift": 0.01}, {"shift": 100}, {"frames": 1},
                                {"seed": 2**40 - 1}, {"init_video": CLIP, "strength": 0.0},
                                {"init_video": CLIP, "strength": 1.0}, {"sampler": "heun"}, {"steps": 1})],
]
PROMPTS = [  # prompts argument: PromptError (a ValueError) or ValueError
    ("", PromptError, "empty"), ([], ValueError, "non-empty list"), (None, ValueError, "must be a string"),
    (3, ValueError, "must be a string"), ([None], ValueError, "every prompt must be a string"),
    ([PROMPT, 5], ValueError, "every prompt must be a string"), ("a red circel moves left", PromptError, "circel"),
    ("🙂", PromptError, "unexpected character"), ("a red circle rotates clockwise", PromptError, "circle cannot"),
    ("x" * 100_000, PromptError, "unknown word"), ({"a": 1}, ValueError, "must be a string"),
    (b"a red circle", ValueError, "must be a string"),
    ("a red circle moves left; rm -rf /", PromptError, "has ';' out of place"),
    ("a red circle and a red square", PromptError, "has no motion"),
]


@pytest.mark.parametrize("kwargs,expected,message", API, ids=lambda v: repr(v)[:40] if isinstance(v, dict) else None)
def test_api_arguments(pipe, kwargs, expected, message):
    kwargs = {"steps": 1, **kwargs}
    if expected is OK:
        video = pipe(PROMPT, **kwargs)
        assert torch.isfinite(video).all() and 0 <= video.min() and video.max() <= 1
        return
    with pytest.raises(expected, match=message):
        pipe(PROMPT, **kwargs)


@pytest.mark.parametrize("prompts,expected,message", PROMPTS, ids=lambda v: repr(v)[:30])
def test_api_prompts(pipe, prompts, expected, message):
    with pytest.raises(expected, match=message):
        pipe(prompts, steps=1)


@pytest.mark.parametrize("device,message", [("cuda", "not available"), ("cuda:7", "not available"),
                                            ("tpu", "unknown device"), ("", "unknown device"), (7, "must be a name")])
def test_api_devices(tiny_t2v, monkeypatch, device, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match=message):
        TextToVideo.from_pretrained(tiny_t2v, device=device)


# ----------------------------------------------------------------------------
# Sidecars: every field edited (through write_meta, so its own hash holds) or the files damaged


def _set(path: str, value):
    def edit(meta):
        *parents, last = path.split(".")
        node = meta
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return edit


DELETE = object()
INVALID = "not a valid text-to-video checkpoint"
SIDECAR = [  # (edit of the sidecar dict, message pattern); all CheckpointError
    *[(_set("config.heads", v), INVALID) for v in (3, 0, -4, "4", 4.0, None, True)],
    *[(_set("config.width", v), INVALID) for v in ("32", 33, 0, 31.5)],
    *[(_set("config.rope_theta", v), INVALID) for v in ("100", 1, 0.5, None)],
    *[(_set("config.patch_size", v), INVALID) for v in ("x", [0, 2, 2], [1, 3, 3], [1, 2, 2.0])],
    (_set("config.attention", "sparse"), INVALID), (_set("config.depth", 0), INVALID),
    (_set("config.latent_channels", 4), "latent_shape must be"), (_set("config", "x"), "'config' must be an object"),
    (_set("config", DELETE), INVALID), (_set("config.depth", 3), "does not match the model"),
    *[(_set("latent_shape", v), INVALID)
      for v in ([8, 5, 8], [4, 5, 8, 8], [8, 5, 7, 8], "8588", [8, 5, 8, 8.0], [8, 0, 8, 8], DELETE, [8, 5, 10**6, 8])],
    (_set("vae", DELETE), INVALID), (_set("vae.path", 3), INVALID), (_set("vae.sha256", DELETE), INVALID),
    (_set("vae.sha256", "zz"), INVALID), (_set("vae.path", "no/such/vae"), "could not be found"),
    (_set("vae.sha256", "0" * 64), "needs the VAE with sha256 000000000000"),
    (_set("weak", {"path": "no/such/weak", "sha256": "0" * 64}), "could not be found"),
    (_set("weak", {"path": 5}), INVALID), (_set("weak", "x"), INVALID),
    (_set("parameterisation", "eps"), INVALID), (_set("parameterisation", 3), INVALID),
    *[(_set(f"sampling.{k}", v), INVALID) for k, v in (
        ("guidance", -1), ("guidance", "4"), ("guidance", 1e30), ("shift", 0), ("shift", -1), ("steps", 0),
        ("steps", 2.5), ("sampler", "ddpm"), ("autoguidance", -1), ("cfg", 1.0), ("steps", 10**9))],
    (_set("sampling", "x"), INVALID),
    *[(_set("noise_correlation", v), "noise_correlation") for v in (1.5, "0.5", -0.1)],
    (_set("format", "other"), "not a minivid checkpoint"), (_set("kind", "vae"), "expected 't2v'"),
    (_set("version", 2), "'version'"), (_set("format", DELETE), "not a minivid checkpoint"),
]
RAW = [  # (edit of the sidecar's text, message pattern)
    (lambda t: t.replace('"heads": 2', '"heads": 4'), "edited or damaged"),
    (lambda t: t.replace('"guidance": 4.0', '"guidance": NaN'), "not valid JSON"),
    (lambda t: t.replace('"shift": 3.0', '"shift": -Infinity'), "not valid JSON"),
    (lambda t: t[: len(t) // 2], "not valid JSON"), (lambda t: "", "not valid JSON"),
    (lambda t: "[]", "not a minivid checkpoint"), (lambda t: "[" * 100_000, "not valid JSON"),
    (lambda t: t.encode("utf-16").decode("latin-1"), "not valid JSON"),
    (lambda t: json.dumps({**json.loads(t), "bytes": "12", "sidecar_sha256": None}), "edited or damaged"),
]


def _copy(tiny_t2v, dst: Path) -> Path:
    for src in checkpoint_paths(tiny_t2v):
        (dst.parent / (dst.name + src.suffix)).write_bytes(src.read_bytes())
    return dst


@pytest.mark.parametrize("edit,message", SIDECAR)
def test_sidecar_fields(tiny_t2v, tmp_path, edit, message):
    path = _copy(tiny_t2v, tmp_path / "x")
    meta = json.loads(checkpoint_paths(path)[1].read_text())  # the JSON form: the edit must survive write_meta
    edit(meta)
    body = {k: v for k, v in meta.items() if k != "sidecar_sha256"}
    text = json.dumps({**body, "sidecar_sha256": sidecar_digest(body)})
    checkpoint_paths(path)[1].write_text(text)
    with pytest.raises(CheckpointError, match=message):
        TextToVideo.from_pretrained(path, device="cpu")


@pytest.mark.parametrize("edit,message", RAW)
def test_sidecar_text(tiny_t2v, tmp_path, edit, message):
    path = _copy(tiny_t2v, tmp_path / "x")
    js = checkpoint_paths(path)[1]
    js.write_text(edit(js.read_text()))
    with pytest.raises(CheckpointError, match=message):
        TextToVideo.from_pretrained(path, device="cpu")


def _flip(st):
    data = bytearray(st.read_bytes())
    data[-1] ^= 1
    st.write_bytes(bytes(data))


def _dev_zero(p):
    p.unlink()
    p.symlink_to("/dev/zero")


def _dir(p):
    p.unlink()
    p.mkdir()


def _pickle(st):
    """A pickle in place of the weights, its size and hash recorded: it must fail to parse, never unpickle."""
    torch.save({"w": torch.ones(2)}, st)
    raw = json.loads(checkpoint_paths(st)[1].read_text())
    raw.update(bytes=st.stat().st_size, sha256=hashlib.sha256(st.read_bytes()).hexdigest())
    body = {k: v for k, v in raw.items() if k != "sidecar_sha256"}
    checkpoint_paths(st)[1].write_text(json.dumps({**body, "sidecar_sha256": sidecar_digest(body)}))


FILES = [  # (damage to the weights or the sidecar file, message pattern)
    (lambda st, js: st.unlink(), "missing"), (lambda st, js: js.unlink(), "missing"),
    (lambda st, js: st.write_bytes(st.read_bytes()[:-10]), "truncated"), (lambda st, js: _flip(st), "corrupt"),
    (lambda st, js: st.write_bytes(b"\0" * st.stat().st_size), "corrupt"),
    (lambda st, js: _dev_zero(st), "not a regular file"), (lambda st, js: _dev_zero(js), "not a regular file"),
    (lambda st, js: _dir(st), "is a directory"), (lambda st, js: _dir(js), "is a directory"),
    (lambda st, js: os.truncate(js, 100 << 20), "more than"), (lambda st, js: _pickle(st), "cannot be parsed"),
    (lambda st, js: (st.unlink(), st.symlink_to(st.parent / "nowhere")), "missing"),
]


@pytest.mark.parametrize("damage,message", FILES)
def test_damaged_files(tiny_t2v, tmp_path, damage, message):
    path = _copy(tiny_t2v, tmp_path / "x")
    damage(*checkpoint_paths(path))
    with pytest.raises(CheckpointError, match=message):
        TextToVideo.from_pretrained(path, device="cpu")


def test_non_finite_weights_are_refused(tmp_path):
    dit = build_dit("tiny", 8)
    with torch.no_grad():
        next(dit.parameters())[0] = NAN
    export_t2v(dit, tmp_path / "nan", T2VTrainConfig(preset="tiny"), (8, 5, 8, 8))
    with pytest.raises(CheckpointError, match="not finite"):
        TextToVideo.from_pretrained(tmp_path / "nan", device="cpu")


# ----------------------------------------------------------------------------
# The command line: one line to stderr, status 2, the file never half written

CLI = [
    *[["render", PROMPT, *flags] for flags in (
        ["--frames", "0"], ["--frames", "17.0"], ["--frames", "-1"], ["--frames", "100000"], ["--frames", "x"],
        ["--height", "8"], ["--height", "100000"], ["--width", "0"], ["--fps", "0"], ["--fps", "0.001"],
        ["--fps", "nan"], ["--fps", "inf"], ["--fps", "-1"], ["--fps", "1e9"], ["--fps", "x"], ["--seed", "x"],
        ["--out", ""], ["--out", "clip.txt"], ["--out", "/proc/clip.gif"], ["--out", "nul\0l.gif"], ["--foo"])],
    ["render", "", "--out", "x.gif"], ["render", "a red circle rotates clockwise"], ["render"],
    *[["generate", PROMPT, "--steps", "1", *flags] for flags in (
        ["--steps", "0"], ["--steps", "1001"], ["--guidance", "nan"], ["--guidance", "inf"], ["--guidance", "1e30"],
        ["--guidance", "-1"], ["--autoguidance", "nan"], ["--autoguidance", "1"], ["--shift", "0"], ["--seed", "-1"],
        ["--seed", str(2**70)], ["--frames", "16"], ["--frames", "17.0"], ["--device", "cuda"], ["--device", "tpu"],
        ["--sampler", "ddpm"], ["--edit", PROMPT, "--strength", "2"], ["--strength", "0.5"], ["--fps", "0.001"],
        ["--edit", "a red circel moves left"], ["--model", "no/such/model"])],
    ["cost", "no-such-preset"], ["cost", "sora-like-60-frames", "--width", "0"],
    ["cost", "sora-like-60-frames", "--steps", "-1"], ["cost", "sora-like-60-frames", "--depth", "x"],
]


@pytest.mark.parametrize("argv", CLI, ids=lambda a: " ".join(a)[:60])
def test_cli_user_errors_are_one_line_and_status_2(tiny_t2v, tmp_path, monkeypatch, capsys, argv):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if argv[0] == "generate" and "--model" not in argv:
        argv = argv + ["--model", str(tiny_t2v)]
    if "--out" not in argv and argv[0] != "cost" and len(argv) > 1:
        argv = argv + ["--out", str(tmp_path / "x.gif")]
    try:
        status = cli(argv)
    except SystemExit as e:  # argparse refused a flag (its type or range): OneLineParser exits 2
        status = e.code
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "x.gif").exists()


@pytest.mark.parametrize("make,message", [
    (lambda d: _copy_and(d, lambda st, js: _dir(st)), "is a directory"),
    (lambda d: _copy_and(d, lambda st, js: js.write_text('{"format": "minivid-checkpoint", "kind": "t2v"}')), "'version'"),
    (lambda d: _copy_and(d, lambda st, js: js.write_text(js.read_text().replace('"heads": 2', '"heads": 4'))), "edited"),
])
def test_cli_bad_checkpoints(tiny_t2v, tmp_path, capsys, make, message):
    globals()["_TINY"] = tiny_t2v
    make(tmp_path)
    assert cli(["generate", PROMPT, "--model", str(tmp_path / "x"), "--out", str(tmp_path / "x.gif")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def _copy_and(d, damage):
    path = _copy(globals()["_TINY"], d / "x")
    damage(*checkpoint_paths(path))


def table_rows() -> int:
    """The rows of the bad-input table: every case above (docs/results.md quotes the count)."""
    return len(API) + len(PROMPTS) + 5 + len(SIDECAR) + len(RAW) + len(FILES) + 1 + len(CLI) + 3


def test_the_table_has_at_least_150_rows():
    assert table_rows() >= 150, table_rows()
