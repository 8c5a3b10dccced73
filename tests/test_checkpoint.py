"""Checkpoint files survive kills, symlinks, odd files and edits: both old or both new, never neither.

Kills happen in a forked child at chosen points (the MINIVID_FAULT hook, or a patched os.replace for the
window between the two renames), never after a sleep.
"""
import json
import os
import signal
import warnings
from pathlib import Path

import pytest
import torch

from minivid import checkpoint
from minivid.checkpoint import (FAULT_POINTS, CheckpointError, backup_paths, checkpoint_paths, latest_training_state,
                                load_tensors, read_meta, recover, save_tensors, save_training_state, write_meta)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="kills a forked child")
SHIPPED = Path(__file__).resolve().parents[1] / "data"


def save(path, value: float):
    return save_tensors(path, {"w": torch.full((64,), value)}, kind="test", config={"value": value})


def value_of(path) -> float:
    tensors, meta = load_tensors(path, kind="test")
    assert tensors["w"][0].item() == meta["config"]["value"]  # the weights and the sidecar are one pair
    return meta["config"]["value"]


def in_child(fn, env: dict | None = None) -> int:
    """Run fn() in a forked child; its exit status (negative: killed by that signal)."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            os.environ.update(env or {})
            checkpoint._passes.clear()
            fn()
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def test_kill_between_the_two_renames_leaves_the_old_pair_loadable(tmp_path):
    """Issue 42 item 1: the weights renamed, the sidecar not yet: the old pair must still load."""
    save(tmp_path / "x", 1.0)
    real_replace = os.replace

    def second_replace_kills():
        calls = []

        def replace(src, dst):
            calls.append(dst)
            if len(calls) == 2:  # the first rename (the weights) is done; die before the second
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(src, dst)
        os.replace = replace
        save(tmp_path / "x", 2.0)

    assert in_child(second_replace_kills) == -signal.SIGKILL
    with pytest.warns(UserWarning, match="interrupted"):
        assert value_of(tmp_path / "x") == 1.0
    save(tmp_path / "x", 3.0)  # the next write restores the old pair first, then replaces it
    assert value_of(tmp_path / "x") == 3.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.safetensors"]


@pytest.mark.parametrize("point", [p for p in FAULT_POINTS if p.startswith("pair:")])
def test_a_kill_at_any_point_of_a_pair_write_leaves_old_or_new(tmp_path, point):
    save(tmp_path / "x", 1.0)
    assert in_child(lambda: save(tmp_path / "x", 2.0), {"MINIVID_FAULT": f"{point}:1"}) == -signal.SIGKILL
    with warnings.catch_warnings():  # "a write was interrupted ..." where it reads the backup pair
        warnings.simplefilter("ignore")
        got = value_of(tmp_path / "x")
    assert got in (1.0, 2.0)
    assert got == (2.0 if point in ("pair:sidecar-renamed", "pair:backup-removed", "pair:done") else 1.0)
    save(tmp_path / "x", 4.0)  # the next write cleans up: no backups, no temporary files
    assert value_of(tmp_path / "x") == 4.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.safetensors"]


def test_a_kill_on_the_first_write_leaves_nothing_that_loads_wrongly(tmp_path):
    for point in ("pair:weights-partial", "pair:tmp-done", "pair:weights-renamed"):
        path = tmp_path / point.replace(":", "-")
        assert in_child(lambda: save(path, 2.0), {"MINIVID_FAULT": f"{point}:1"}) == -signal.SIGKILL
        with pytest.raises(CheckpointError, match="missing"):
            load_tensors(path)
        save(path, 5.0)
        assert value_of(path) == 5.0


def test_recovery_itself_can_be_killed(tmp_path):
    save(tmp_path / "x", 1.0)
    assert in_child(lambda: save(tmp_path / "x", 2.0), {"MINIVID_FAULT": "pair:weights-renamed:1"}) == -signal.SIGKILL
    assert in_child(lambda: recover(tmp_path / "x"), {"MINIVID_FAULT": "recover:weights-restored:1"}) == -signal.SIGKILL
    assert value_of(tmp_path / "x") == 1.0
    assert recover(tmp_path / "x") is False and not any(p.exists() for p in backup_paths(tmp_path / "x"))


def test_stale_temporary_files_of_killed_writers_are_removed(tmp_path):
    """Issue 42 item 11: a killed write leaves a .tmp file; the next write in that folder removes it."""
    assert in_child(lambda: save(tmp_path / "x", 2.0), {"MINIVID_FAULT": "pair:weights-partial:1"}) == -signal.SIGKILL
    assert [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    live = tmp_path / f".other.{os.getpid()}.0123abcd.tmp"  # a writer that is still running: kept
    live.write_bytes(b"")
    old, recent = tmp_path / ".x.json.k2_Zq9aB.tmp", tmp_path / ".x.json.Qa1_b2c3.tmp"  # mkstemp names, no pid
    old.write_bytes(b"")
    recent.write_bytes(b"")
    os.utime(old, (0, 0))  # untouched for decades: a killed writer's; the recent one may still be written
    save(tmp_path / "y", 1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, recent.name, "y.json", "y.safetensors"])


def test_a_kill_while_pruning_training_states_leaves_every_file_loadable_or_refused(tmp_path):
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    for step in (1, 2):
        save_training_state(tmp_path, step, model, optimizer, None, {"a": 1})
    status = in_child(lambda: save_training_state(tmp_path, 3, model, optimizer, None, {"a": 1}),
                      {"MINIVID_FAULT": "prune:weights-removed:1"})
    assert status == -signal.SIGKILL
    assert latest_training_state(tmp_path).name == "state-00000003.json"
    with pytest.raises(CheckpointError, match="missing"):
        load_tensors(tmp_path / "state-00000001")  # the half-pruned state is refused clearly ...
    save_training_state(tmp_path, 4, model, optimizer, None, {"a": 1})  # ... and pruned next time
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "state-00000003.json", "state-00000003.safetensors", "state-00000004.json", "state-00000004.safetensors"]


def test_writing_replaces_a_symlink_never_its_target(tmp_path):
    target = tmp_path / "precious.bin"
    target.write_bytes(b"keep me")
    st, js = checkpoint_paths(tmp_path / "x")
    st.symlink_to(target)
    js.symlink_to(target)
    save(tmp_path / "x", 1.0)
    assert target.read_bytes() == b"keep me" and not st.is_symlink() and not js.is_symlink()
    assert value_of(tmp_path / "x") == 1.0
    checkpoint.atomic_write_bytes(tmp_path / "link", b"new")
    (tmp_path / "link2").symlink_to(target)
    checkpoint.atomic_write_bytes(tmp_path / "link2", b"new")
    assert target.read_bytes() == b"keep me" and (tmp_path / "link2").read_bytes() == b"new"


def test_sizes_and_file_types_are_checked_before_reading(tmp_path):
    """Issue 42 item 10: a symlink to /dev/zero is refused without reading it; a directory too."""
    save(tmp_path / "x", 1.0)
    st, js = checkpoint_paths(tmp_path / "x")
    st.unlink()
    st.symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        load_tensors(tmp_path / "x")
    js.unlink()
    js.symlink_to("/dev/zero")
    with pytest.raises(CheckpointError, match="not a regular file"):
        read_meta(tmp_path / "x")
    (tmp_path / "d.safetensors").mkdir()
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(CheckpointError, match="is a directory"):
        load_tensors(tmp_path / "d")
    with pytest.raises(CheckpointError, match="is a directory"):
        save(tmp_path / "d", 1.0)
    big = tmp_path / "big"
    save(big, 1.0)
    with open(checkpoint_paths(big)[1], "ab") as f:
        f.truncate(checkpoint.MAX_SIDECAR_BYTES + 1)  # sparse: nothing is written, and nothing may be read
    with pytest.raises(CheckpointError, match="more than"):
        read_meta(big)


def test_an_edited_sidecar_is_refused(tmp_path):
    """Issue 42 item 5: fields outside the weights' hash (heads, rope_theta, VAE groups) are covered by the
    sidecar's own hash."""
    for name, edit in (("t2v/shapes", lambda m: m["config"].update(heads=8)),
                       ("t2v/shapes", lambda m: m["config"].update(rope_theta=10000.0)),
                       ("t2v/shapes", lambda m: m.update(latent_shape=[8, 5, 4, 4])),
                       ("vae/shapes", lambda m: m["config"].update(groups=4))):
        st, js = checkpoint_paths(SHIPPED / name)
        meta = json.loads(js.read_text(encoding="utf-8"))
        assert "sidecar_sha256" in meta  # the shipped sidecars are covered
        edit(meta)
        (tmp_path / "e.safetensors").unlink(missing_ok=True)
        (tmp_path / "e.safetensors").symlink_to(st)
        (tmp_path / "e.json").write_text(json.dumps(meta), encoding="utf-8")
        with pytest.raises(CheckpointError, match="edited or damaged"):
            read_meta(tmp_path / "e")


def test_sidecar_fields_have_their_types_and_match_the_tensors(tmp_path):
    save(tmp_path / "x", 1.0)
    meta = read_meta(tmp_path / "x")
    for key, bad in (("bytes", -1), ("bytes", "12"), ("sha256", "zz"), ("tensors", {"w": ["64"]}), ("version", 2)):
        with pytest.raises(CheckpointError, match=repr(key)):
            write_meta(tmp_path / "x", {**meta, key: bad})
    with pytest.raises(CheckpointError, match="must stay as recorded"):
        write_meta(tmp_path / "x", {**meta, "tensors": {"w": [63]}})
    with pytest.raises(ValueError, match="non-finite"):
        save_tensors(tmp_path / "y", {"w": torch.ones(1)}, kind="test", config={"lr": float("nan")})
    js = checkpoint_paths(tmp_path / "x")[1]
    js.write_text(js.read_text().replace('"value": 1.0', '"value": NaN'))
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_meta(tmp_path / "x")


def test_write_meta_keeps_the_pair_and_rehashes(tmp_path):
    save(tmp_path / "x", 1.0)
    meta = read_meta(tmp_path / "x")
    write_meta(tmp_path / "x", {**meta, "note": "named"})
    assert read_meta(tmp_path / "x")["note"] == "named" and value_of(tmp_path / "x") == 1.0


def test_unwritable_destinations_are_a_checkpoint_error(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(CheckpointError, match="cannot write"):
        save(tmp_path / "file" / "x", 1.0)
    with pytest.raises(CheckpointError, match="cannot write"):
        save(Path("/proc/minivid-x"), 1.0)
