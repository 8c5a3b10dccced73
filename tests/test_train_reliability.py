"""Training as a careless user and a hostile run would try it: a run directory belongs to one run, states record what
they depend on, arguments are checked at the boundary, a diverging run keeps its last good state, and no command
replaces a checkpoint it was not asked to write."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minivid import train
from minivid.checkpoint import CheckpointError, latest_training_state, list_training_states, read_meta
from minivid.runs import NonFiniteLoss, RunDir, RunError
from minivid.train import T2VTrainConfig, VAETrainConfig, main, train_t2v, train_vae
from minivid.vae import VAE_PRESETS, VideoVAE

sys.path.insert(0, os.path.dirname(__file__))
from test_train_t2v import tiny_cache, tiny_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".lock"}


def tiny_vae(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    VideoVAE(VAE_PRESETS["tiny"]).save_pretrained(path)
    return path


# ----------------------------------------------------------------------------
# A run directory belongs to one run


def test_a_fresh_run_in_a_used_directory_is_refused_and_touches_nothing(tmp_path):
    cache = tiny_cache()
    train_t2v(tiny_config(), tmp_path, cache=cache, progress=False, stop_at=3)
    before = files(tmp_path)
    assert {"state-00000003.json", "ema-00000003.json", "config.json", "log.jsonl"} <= set(before)
    with pytest.raises(RunError, match="already holds a run.*--resume.*another --out"):
        train_t2v(tiny_config(seed=5), tmp_path, cache=cache, progress=False)
    assert files(tmp_path) == before  # no state pruned, no snapshot or config overwritten
    train_t2v(tiny_config(), tmp_path, cache=cache, progress=False, resume=True)  # --resume still continues it
    assert latest_training_state(tmp_path).name == "state-00000006.json"
    assert not (tmp_path / ".lock").exists()  # a run that ends leaves no lock behind


def test_a_second_run_into_a_locked_directory_is_refused(tmp_path):
    with RunDir(tmp_path, resume=False):  # a run training there
        with pytest.raises(RunError, match="another run is training into"):
            train_t2v(tiny_config(), tmp_path, cache=tiny_cache(), progress=False)
        with pytest.raises(RunError, match="another run is training into"):
            train_vae(VAETrainConfig(preset="tiny", steps=2, batch_size=2, val_clips=4, scale_clips=4), tmp_path,
                      resume=True, progress=False)
    assert list_training_states(tmp_path) == []


CHILD = """
import sys, torch
sys.path.insert(0, {tests!r})
from minivid import train
from test_train import tiny_config as vae_config
from test_train_t2v import tiny_cache, tiny_config
saved = train.save_training_state
def save_then_wait(directory, step, *args, **kwargs):
    path = saved(directory, step, *args, **kwargs)
    if step == {kill_at}:  # the chosen point: right after this state is written, wait to be killed
        print("saved", step, flush=True)
        sys.stdin.read()
    return path
train.save_training_state = save_then_wait
torch.set_num_threads(1)
if {vae!r}:
    train.train_vae(vae_config(), {out!r}, device="cpu", progress=False)
else:
    train.train_t2v(tiny_config(), {out!r}, cache=tiny_cache(), progress=False, snapshots=False)
"""


def kill_child_at(out: Path, step: int, vae: bool = False) -> subprocess.Popen:
    """A training run in a child process, stopped right after writing training state `step` (to be killed there)."""
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=str(ROOT / "tests"), kill_at=step, out=str(out),
                                                                 vae=vae)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert child.stdout.readline().split() == ["saved", str(step)]
    return child


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")
def test_a_vae_run_killed_at_a_checkpoint_resumes_exactly(tmp_path, step=4):
    from test_train import tiny_config as vae_config
    child = kill_child_at(tmp_path / "killed", step, vae=True)
    child.send_signal(signal.SIGKILL)
    child.wait()
    resumed = train_vae(vae_config(), tmp_path / "killed", resume=True, device="cpu", progress=False)
    straight = train_vae(vae_config(), tmp_path / "straight", device="cpu", progress=False)
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and flock are POSIX")
def test_a_run_killed_holding_the_lock_releases_it_and_resumes_exactly(tmp_path):
    out = tmp_path / "killed"
    child = kill_child_at(out, 3)  # the child holds the run, mid-training
    try:
        with pytest.raises(RunError, match="another run is training into"):
            train_t2v(tiny_config(), out, cache=tiny_cache(), progress=False, resume=True, snapshots=False)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert (out / ".lock").exists()  # left by the killed run, but no longer locked: the next run takes it over
    resumed = train_t2v(tiny_config(), out, cache=tiny_cache(), progress=False, resume=True, snapshots=False)
    straight = train_t2v(tiny_config(), tmp_path / "straight", cache=tiny_cache(), progress=False, snapshots=False)
    assert all(torch.equal(a, b) for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()))
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 6


def test_after_a_resume_the_log_does_not_repeat_steps(tmp_path):
    cfg, cache = tiny_config(steps=30, checkpoint_every=20), tiny_cache()
    train_t2v(cfg, tmp_path, cache=cache, progress=False, snapshots=False)
    for p in tmp_path.glob("state-00000030.*"):  # killed after logging step 30, before its state was written
        p.unlink()
    train_t2v(cfg, tmp_path, cache=cache, progress=False, snapshots=False, resume=True)
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [10, 20, 30]


# ----------------------------------------------------------------------------
# Training states record what they depend on


def test_resume_refuses_when_the_vae_changed_and_encodes_nothing(tmp_path):
    vae, root = tiny_vae(tmp_path / "vae", seed=0), tmp_path / "latents"
    cfg = tiny_config(vae=str(vae), cache_clips=4, batch_size=2)
    train_t2v(cfg, tmp_path / "run", cache_root=root, progress=False, stop_at=3, snapshots=False)
    caches = sorted(p.name for p in root.iterdir())
    tiny_vae(vae, seed=1)  # the VAE file replaced by another
    with pytest.raises(CheckpointError, match="cannot resume .* its vae changed"):
        train_t2v(cfg, tmp_path / "run", cache_root=root, progress=False, resume=True, snapshots=False)
    assert sorted(p.name for p in root.iterdir()) == caches  # refused before re-encoding anything


def test_resume_refuses_other_latents(tmp_path):
    train_t2v(tiny_config(), tmp_path, cache=tiny_cache(), progress=False, stop_at=3, snapshots=False)
    other = tiny_cache()
    other.latents[0] += 1
    with pytest.raises(CheckpointError, match="its latents changed"):
        train_t2v(tiny_config(), tmp_path, cache=other, progress=False, resume=True, snapshots=False)


def test_resume_refuses_a_fine_tune_whose_base_vae_changed(tmp_path):
    base = tiny_vae(tmp_path / "base", seed=0)
    cfg = VAETrainConfig(preset="tiny", steps=4, batch_size=2, val_clips=4, scale_clips=4, checkpoint_every=2,
                         bf16=False, init_from=str(base), freeze_encoder=True)
    train_vae(cfg, tmp_path / "run", device="cpu", progress=False, stop_at=2)
    tiny_vae(base, seed=1)
    with pytest.raises(CheckpointError, match="its init_from changed"):
        train_vae(cfg, tmp_path / "run", device="cpu", progress=False, resume=True)


# ----------------------------------------------------------------------------
# A diverging run stops and keeps its last good state


def test_a_non_finite_loss_stops_the_run_and_keeps_the_last_good_state(tmp_path, monkeypatch):
    real = train.flow_matching_loss

    def diverging(net, x0, *text, **kwargs):  # fine for three steps, then NaN
        diverging.calls += 1
        loss = real(net, x0, *text, **kwargs)
        return loss * float("nan") if diverging.calls > 3 else loss

    diverging.calls = 0
    monkeypatch.setattr(train, "flow_matching_loss", diverging)
    with pytest.raises(NonFiniteLoss, match="nan by step 6.*step 3"):
        train_t2v(tiny_config(checkpoint_every=3, steps=9), tmp_path, cache=tiny_cache(), progress=False)
    assert [p.name for p in list_training_states(tmp_path)] == ["state-00000003.json"]
    assert sorted(p.name for p in tmp_path.glob("ema-*.json")) == ["ema-00000003.json"]
    for line in (tmp_path / "log.jsonl").read_text().splitlines():
        json.loads(line, parse_constant=lambda c: pytest.fail(f"{c} in log.jsonl"))  # strict JSON


def test_the_log_never_holds_a_bare_nan(tmp_path):
    with RunDir(tmp_path, resume=False) as run:
        run.begin({}, 0)
        run.log({"step": 1, "loss": float("nan"), "val": float("inf")})
    assert json.loads((tmp_path / "log.jsonl").read_text()) == {"step": 1, "loss": None, "val": None}


# ----------------------------------------------------------------------------
# Arguments are checked at the boundary: one line naming the flag, exit status 2

T2V = ["t2v", "--preset", "tiny", "--cache-clips", "4", "--batch-size", "2", "--steps", "2"]
VAE = ["vae", "--preset", "tiny", "--steps", "2", "--batch-size", "2", "--val-clips", "4", "--scale-clips", "4"]
BAD = [
    (T2V + ["--steps", "0", "--export", "X"], "--steps must be an integer >= 1, got 0"),
    (T2V + ["--steps=-5"], "--steps must be an integer >= 1, got -5"),
    (T2V + ["--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
    (T2V + ["--checkpoint-every", "0"], "--checkpoint-every must be an integer >= 1, got 0"),
    (T2V + ["--cache-clips", "0"], "--cache-clips must be an integer >= 1, got 0"),
    (T2V + ["--lr", "0"], "--lr must be a finite number > 0, got 0.0"),
    (T2V + ["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    (T2V + ["--lr=-1e-3"], "--lr must be a finite number > 0"),
    (T2V + ["--grad-clip", "inf"], "--grad-clip must be a finite number > 0, got inf"),
    (T2V + ["--caption-dropout", "1"], "--caption-dropout must be a number in [0, 1), got 1.0"),
    (T2V + ["--ema-decay", "1.5"], "--ema-decay must be a number in [0, 1)"),
    (T2V + ["--min-lr-ratio=-0.1"], "--min-lr-ratio must be a number in [0, 1]"),
    (T2V + ["--warmup-steps=-1"], "--warmup-steps must be an integer >= 0"),
    (T2V + ["--timestep-shift", "0"], "--timestep-shift must be a finite number > 0"),
    (T2V + ["--rotation-weight", "0"], "--rotation-weight must be a finite number > 0"),
    (T2V + ["--text-aux-weight", "nan"], "--text-aux-weight must be a finite number >= 0"),
    (T2V + ["--seed=-1"], "--seed must be an integer in [0, 2147483647]"),
    (T2V + ["--seed", str(10**30)], "--seed must be an integer in [0, 2147483647]"),
    (T2V + ["--preset", "huge"], "--preset must be one of"),
    (T2V + ["--rotation-start", "sideways"], "--rotation-start must be 'random' or 'canonical'"),
    (T2V + ["--stop-at", "0"], "--stop-at must be an integer >= 1, got 0"),
    (T2V + ["--threads=-2"], "--threads must be an integer >= 0"),
    (VAE + ["--batch-size", "0"], "--batch-size must be an integer >= 1, got 0"),
    (VAE + ["--val-every", "0"], "--val-every must be an integer >= 1, got 0"),
    (VAE + ["--kl-weight=-1"], "--kl-weight must be a finite number >= 0"),
    (VAE + ["--lr", "nan"], "--lr must be a finite number > 0, got nan"),
    (VAE + ["--two-object-prob", "2"], "--two-object-prob must be a number in [0, 1]"),
    (VAE + ["--freeze-encoder"], "--freeze-encoder needs --init-from"),
    (T2V + ["--init-from", "X"], "checkpoint file missing"),
    (["export-t2v", "--run", "X", "--out", "X", "--guidance", "nan"], "--guidance must be a finite number >= 1, got nan"),
    (["name-weak", "--model", "X", "--weak", "X", "--autoguidance", "inf"], "--autoguidance must be a finite number >= 0"),
    (["name-weak", "--model", "X", "--weak", "X", "--guidance", "0.5"], "--guidance must be a finite number >= 1"),
    (["cache-latents", "--n", "0", "--out", "X"], "--n must be an integer >= 1, got 0"),
    (["cache-latents", "--n", "2", "--batch-size", "0", "--out", "X"], "--batch-size must be an integer >= 1, got 0"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a[len(T2V) if a[0] == "t2v" else 0:]) for a, _ in BAD])
def test_bad_training_arguments_are_one_line_naming_the_flag(tmp_path, capsys, argv, message):
    argv = [a.replace("X", str(tmp_path / "x")) for a in argv]
    with pytest.raises(SystemExit) as exit_:
        main(argv + (["--out", str(tmp_path / "run")] if argv[0] in ("t2v", "vae") else []))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob("x*"))  # refused before anything was written


def test_training_into_an_unwritable_out_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SystemExit) as exit_:
        main(VAE + ["--out", str(tmp_path / "file" / "run"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "cannot train into --out" in err and err.count("\n") == 1, err
    with pytest.raises(SystemExit) as exit_:  # an export that could not be written is refused before training
        main(VAE + ["--out", str(tmp_path / "run"), "--export", str(tmp_path / "file" / "vae"), "--device", "cpu"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "cannot write --export" in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------
# No command replaces a checkpoint it was not asked to write


def test_export_and_name_weak_need_the_file_named(capsys):
    for argv in (["export-t2v", "--run", "runs/t2v/edges"], ["name-weak", "--weak", "data/t2v/weak"]):
        with pytest.raises(SystemExit) as exit_:
            main(argv)
        assert exit_.value.code == 2 and "required" in capsys.readouterr().err


def test_no_stage_writes_one_kind_of_checkpoint_over_another(tmp_path, capsys):
    vae = tiny_vae(tmp_path / "vae", seed=0)
    before = files(tmp_path)
    with pytest.raises(SystemExit):
        main(["cache-latents", "--vae", str(vae), "--n", "2", "--out", str(vae), "--device", "cpu"])
    assert "holds a 'vae' checkpoint" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(T2V + ["--vae", str(vae), "--out", str(tmp_path / "run"), "--export", str(vae)])
    assert "holds a 'vae' checkpoint" in capsys.readouterr().err
    assert files(tmp_path) == before and read_meta(vae)["kind"] == "vae"
