"""Cached VAE latents: encode the training clips once, train the DiT on the cache.

On a 2-core CPU the VAE encoder costs more than a DiT step, and every DiT step
would pay it again for clips it has seen before. So stage 2 of training
(`python -m minivid.train cache-latents`, or `train t2v` when its cache is missing)
renders N ShapesWorld clips, encodes them with the VAE once and stores the
posterior means, scaled to unit variance, in one verified checkpoint (kind
"latents", `minivid/checkpoint.py`): the DiT then reads a tensor instead of
rendering and encoding. The sidecar keeps the captions and the dataset's
parameters, so any cached clip can be rendered again.

Layouts (einops legend):

    b t c h w    clips as ShapesWorld renders them (frames, RGB, height, width)
    n z t h w    the cache: clips, latent channels, latent frames, height, width
"""
from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, load_tensors, save_tensors
from .vae import VideoVAE


def _as_list(items: list) -> list:
    """DataLoader collate that keeps a batch as the list of dataset items (module level: workers pickle it)."""
    return items


@torch.no_grad()
def cache_latents(vae: VideoVAE, dataset, n: int, path, batch_size: int = 64, dtype=torch.float32,
                  progress: bool = False, workers: int = 0) -> Path:
    """Encode clips 0..n-1 of `dataset` and save them as checkpoint `path` (kind "latents").

    Stored: `latents` n z t' h' w' (posterior means times the scaling factor, i.e.
    unit-variance and ready for diffusion; decode with `vae.decode_latents`),
    `indices` (n,), and in the sidecar the captions, the scaling factor, the VAE
    config and the dataset's parameters (enough to re-render any clip).
    `workers` > 0 renders clips in that many DataLoader processes while the VAE
    encodes (same clips, same order: each clip is a function of its index): for a
    GPU box with many cores, where encoding is fast.
    """
    if n > len(dataset):
        raise ValueError(f"cannot cache {n} clips from a dataset of {len(dataset)}")
    vae.eval()
    device = vae.scaling_factor.device
    batches = torch.utils.data.DataLoader(torch.utils.data.Subset(dataset, range(n)), batch_size=batch_size,
                                          num_workers=workers, collate_fn=_as_list)
    latents, indices, captions = [], [], []
    for items in tqdm(batches, disable=not progress, desc="cache latents"):
        clips = torch.stack([item["video"] for item in items]).to(device)  # b t c h w
        latents.append(vae.encode_clips(clips).to("cpu", dtype))  # b z t' h' w'
        indices += [int(item["index"]) for item in items]
        captions += [item["caption"] for item in items]
    described = {k: getattr(dataset, k) for k in ("length", "split", "seed", "frames", "height", "width",
                                                  "two_object_prob", "languages", "num_objects", "rotation_start",
                                                  "rotation_speed")
                 if hasattr(dataset, k)}
    return save_tensors(path, {"latents": torch.cat(latents), "indices": torch.tensor(indices, dtype=torch.int64)},
                        kind="latents", config=vae.cfg.to_dict(), scaling_factor=float(vae.scaling_factor),
                        layout="n z t h w", scaled=True, captions=captions,
                        dataset={"class": type(dataset).__name__, **described})


class LatentCache(torch.utils.data.Dataset):
    """Cached latents as a dataset: item i = {"latent": z t h w, "caption": str, "index": int}."""

    def __init__(self, latents: torch.Tensor, indices: torch.Tensor, captions: list[str], meta: dict):
        if not len(latents) == len(indices) == len(captions):
            raise CheckpointError(f"latent cache is inconsistent: {len(latents)} latents, "
                                  f"{len(indices)} indices, {len(captions)} captions")
        self.latents, self.indices, self.captions, self.meta = latents, indices, captions, meta
        self.scaling_factor = float(meta["scaling_factor"])

    def __len__(self) -> int:
        return len(self.latents)

    def __getitem__(self, i: int) -> dict:
        return {"latent": self.latents[i], "caption": self.captions[i], "index": int(self.indices[i])}


def load_latents(path) -> LatentCache:
    """Load and verify a cache written by `cache_latents`."""
    tensors, meta = load_tensors(path, kind="latents")
    return LatentCache(tensors["latents"], tensors["indices"], meta["captions"], meta)
