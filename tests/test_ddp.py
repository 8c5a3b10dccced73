"""Distributed data parallel training: 2 gloo ranks on the CPU == 1 process with the same global batch."""
import os
import sys

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file

from minivid.train import T2VTrainConfig, build_dit, train_t2v

sys.path.insert(0, os.path.dirname(__file__))
from test_train_t2v import assert_close_weights, tiny_cache  # noqa: E402

CFG = dict(preset="tiny", batch_size=4, steps=3, warmup_steps=1, checkpoint_every=3, caption_dropout=0.25)


def _worker(rank: int, world: int, tmp: str, extra: dict) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=world)
    try:
        ema, model = train_t2v(T2VTrainConfig(**CFG, **extra), f"{tmp}/ddp", cache=tiny_cache(), device="cpu",
                               progress=False, snapshots=False, return_model=True)
        save_file({**{f"model.{k}": v.contiguous() for k, v in model.state_dict().items()},
                   **{f"ema.{k}": v.contiguous() for k, v in ema.state_dict().items()}}, f"{tmp}/rank{rank}.safetensors")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize("extra", [{}, {"text_aux_weight": 1.0}], ids=["plain", "text-aux"])
def test_two_gloo_ranks_match_each_other_and_a_single_process(tmp_path, extra):
    mp.spawn(_worker, args=(2, str(tmp_path), extra), nprocs=2, join=True)
    r0, r1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DDP keeps the replicas identical
    assert (tmp_path / "ddp/state-00000003.json").exists()  # rank 0 wrote the checkpoint ...
    assert len(list((tmp_path / "ddp").glob("state-*.json"))) == 1  # ... and only once

    ema, model = train_t2v(T2VTrainConfig(**CFG, **extra), tmp_path / "single", cache=tiny_cache(), device="cpu",
                           progress=False, snapshots=False, return_model=True)
    single = {**{f"model.{k}": v for k, v in model.state_dict().items()},
              **{f"ema.{k}": v for k, v in ema.state_dict().items()}}
    moved = 0
    torch.manual_seed(0)  # the initialisation train_t2v starts from (seed 0)
    init = build_dit("tiny", tiny_cache().latents.shape[1]).state_dict()
    for k in single:
        assert_close_weights(r0, single, k)
        if k.startswith("model.") and not torch.equal(init[k[len("model."):]], single[k]):
            moved += 1
    assert moved > 10  # the comparison is not vacuous: training changed the weights
