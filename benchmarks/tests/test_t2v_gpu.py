"""Tests of the benchmark scripts (not part of the course's suite: `pytest benchmarks/tests`)."""
import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

from minivid.checkpoint import checkpoint_paths
from minivid.train import T2VTrainConfig, add_dataclass_flags

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def gpu_script(monkeypatch):
    """benchmarks/t2v_gpu.py as a module (it puts its folders on sys.path: undone after the test)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = importlib.util.spec_from_file_location("t2v_gpu", ROOT / "benchmarks/t2v_gpu.py")
    gpu = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu)
    return gpu


def test_gpu_recipes_are_valid_commands_that_start_from_files_in_the_repository(gpu_script):
    """Every recipe of benchmarks/t2v_gpu.py parses as `python -m minivid.train t2v` flags (a typo would waste a
    lease), and one that continues a checkpoint names a file that a fresh checkout has: a lease's copy of the
    working tree carries nothing else unless asked, and weights in runs/ do not outlive a session."""
    root, gpu = ROOT, gpu_script
    parser = argparse.ArgumentParser(allow_abbrev=False)
    add_dataclass_flags(parser, T2VTrainConfig)

    def parse(flags: list[str]) -> T2VTrainConfig:
        known, unknown = parser.parse_known_args(flags)
        assert not unknown, f"not flags of minivid.train t2v: {unknown}"
        return T2VTrainConfig(**vars(known))

    assert {"edges", "cont", "edges-tokens-rw3"} <= set(gpu.RUNS)
    for name, flags in gpu.RUNS.items():
        cfg = parse(flags)
        assert cfg.preset == "shapes-edges", name
        if cfg.init_from:
            assert all(f.exists() for f in checkpoint_paths(root / cfg.init_from)), (name, cfg.init_from)
    with pytest.raises(AssertionError, match="rotation-wieght"):  # the check has teeth: a misspelt flag fails it
        parse(["--rotation-wieght", "3"])


def test_gpu_report_reads_every_side_by_side_run_back_from_the_lease_log(gpu_script, tmp_path):
    """The report labels a lease's runs from the driver's log: every recipe launched for training, hyphenated names
    included (an earlier pattern read only \\w+ names and called the others "run alone"), and not the step-rate probes."""
    log = tmp_path / "driver.log"
    launch = "[ 185.0s] launch python -m minivid.train t2v --steps {steps} --out /tmp/gpuwork/{name}\n"
    log.write_text("[   0.3s] devices: NVIDIA H200, 143771 MiB | nproc 16\n[ 146.4s] cache (120000, 8, 5, 8, 8) clips 120000\n"
                   + "".join(launch.format(steps=60, name=f"probe-{n}") for n in ("edges", "cont-rw3"))
                   + "[ 184.9s] probe it/s {'edges': 10.2, 'cont-rw3': 13.2} 941 MiB\n"
                   + "".join(launch.format(steps=2700, name=n) for n in ("edges", "cont-rw3"))
                   + "[ 230.9s] smi 94 %, 13168 MiB\n")
    facts = gpu_script.lease_facts(log)
    assert facts["side_by_side_runs"] == ["cont-rw3", "edges"]
    assert facts["latent_cache_clips"] == 120000 and facts["seconds_until_latent_cache_ready"] == 146.4
    assert facts["probe_steps_per_s"] == {"edges": 10.2, "cont-rw3": 13.2} and facts["gpu_utilisation_percent"] == [94]
