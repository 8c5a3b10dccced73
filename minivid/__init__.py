"""minivid: build a mini Sora, a text-to-video diffusion transformer, from scratch.

One module per stage, read top to bottom:

- ``world``     ShapesWorld: scene specs, physics, renderer, bilingual captions, splits
- ``text``      prompt -> scene spec and prompt -> token ids (English and Chinese)
- ``patching``  spacetime patches and the token / compute estimator
- ``evaluate``  reads a video alone and scores prompt adherence
- ``viz``       inline video, frame strips, GIF / MP4 files
- ``vae``       a causal 3D-convolutional video VAE (4x time, 4x space)
- ``dit``       a diffusion transformer over spacetime patches, conditioned on text
- ``diffusion`` flow matching and DDPM: noising, targets, losses
- ``sampling``  Euler, Heun, DDIM, DDPM samplers and classifier-free guidance
- ``train``     training entry points (``python -m minivid.train vae|t2v|recipe|...``)
- ``runs``      what every training run shares: its locked directory, argument checks, the loop
- ``recipes``   named chains of training stages (``python -m minivid.train recipe shapes``)
- ``seeds``     every seed-mixing constant
- ``latents``   VAE latents of the training clips, encoded once and cached
- ``text_aux``  optional auxiliary losses that teach the text encoder to name what it reads
- ``checkpoint`` safetensors + JSON checkpoints, atomic and hash-checked
- ``device``    cuda > mps > cpu, and bf16 autocast where it helps
- ``cli``       the ``minivid`` command
"""

__version__ = "0.1.0"
