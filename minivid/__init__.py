"""minivid: build a mini Sora, a text-to-video diffusion transformer, from scratch.

One module per stage, read top to bottom:

- ``world``     ShapesWorld: scene specs, physics, renderer, bilingual captions, splits
- ``text``      prompt -> scene spec and prompt -> token ids (English and Chinese)
- ``patching``  spacetime patches and the token / compute estimator
- ``evaluate``  reads a video alone and scores prompt adherence
- ``viz``       inline video, frame strips, GIF / MP4 files
"""

__version__ = "0.1.0"
