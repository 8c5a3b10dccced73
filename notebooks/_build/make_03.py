"""Write notebooks/03_video_vae.ipynb (without outputs).

    python notebooks/_build/make_03.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/03_video_vae.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "03_video_vae.ipynb"

cells = [
    md(f"""
    # 03 · The video VAE: 17 × 32 × 32 pixels in, 5 × 8 × 8 latents out

    {BADGE.format(name=NAME)}

    Lesson 03 of **minivid**. Lesson 02 ended with a number: a ShapesWorld clip is 4,352 tokens when it is cut
    from pixels, but only **80 tokens** when it is cut from a VAE latent. This lesson builds the machine that earns
    that factor: a **causal video VAE** (variational autoencoder) that squeezes a clip into a small latent video and
    decodes it back, the same design as the video VAEs of CogVideoX and Open-Sora-Plan, at toy size.

    **You will learn**

    - why a diffusion transformer should never see pixels (tokens are the currency);
    - what a **causal 3D convolution** is, by building one, *proving* it never looks at the future, and checking
      it against `vae.CausalConv3d`;
    - how **space-to-depth** makes the first layers cheap, and how a clip shrinks layer by layer;
    - what the **KL term** and the **latent scaling factor** are for;
    - how good the shipped VAE is: reconstructions side by side, PSNR per clip, and what the evaluator reads
      from them;
    - what lives *between* two latents (a latent walk), and what each latent channel does (a widget);
    - how a VAE is trained, by training a tiny one live;
    - to compute the latent shape of any clip yourself.

    Runs top to bottom in about a minute on a laptop CPU (most of it is the live training demo).
    """),
    code(SETUP),
    md("""
    ## Why latents?

    A transformer's cost is set by its number of tokens N: the MLP grows like N, full attention like N². A
    17 × 32 × 32 RGB clip is 52,224 numbers, and most of them are redundant: neighbouring pixels agree, and the
    next frame is almost the previous one moved by a pixel. An autoencoder learns to keep only what is needed to
    redraw the clip. The diffusion model then works in that small **latent** space, and the decoder turns its
    output back into pixels at the very end (Rombach et al. 2022, *latent diffusion*; Sora's report calls it a
    "video compression network").

    Our VAE compresses **4× in time and 4× along each side**, with 8 numbers per latent cell:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    from minivid import patching

    T, H, W = 17, 32, 32
    latent = (8, 1 + (T - 1) // 4, H // 4, W // 4)  # channels, frames, rows, columns
    pixels_n, latent_n = 3 * T * H * W, latent[0] * latent[1] * latent[2] * latent[3]
    print(f"clip   3 x {T} x {H} x {W} = {pixels_n:,} numbers")
    print(f"latent {' x '.join(map(str, latent))} = {latent_n:,} numbers  ({pixels_n / latent_n:.1f}x fewer)")
    pix = patching.VideoTokenConfig(T, H, W, vae_temporal_factor=1, vae_spatial_factor=1, latent_channels=3)
    lat = patching.PRESETS["shapesworld"]
    print(f"tokens (1x2x2 patches): {pix.num_tokens:,} from pixels, {lat.num_tokens} from the latent "
          f"-> {pix.num_tokens ** 2 / lat.num_tokens ** 2:,.0f}x fewer attention pairs")
    """),
    md("""
    Why not compress even more? The docstring of `minivid/vae.py` argues it from the world: a shape moves about
    1 px per frame, i.e. one latent cell (4 px) per latent frame (4 frames), and the smallest shape is 6 px wide,
    still 2 × 2 cells. 8× in time would have to describe a 10 px journey, or a square turned by 120°, inside one cell.

    Everything in this lesson runs on the CPU; the models are small enough that one thread is fastest and does not
    fight other work on the machine (see `minivid/device.py`).
    """),
    code("""
    %matplotlib inline
    import json
    import time

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import torch.nn.functional as F
    from einops import rearrange
    from IPython.display import display
    from torch import nn

    from minivid import evaluate, vae, viz, world
    from minivid.train import clip_batch
    from minivid.vae import VideoVAE, psnr

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.set_num_threads(1)  # small convolutions: one thread is fastest, and polite on a shared machine
    _ = torch.manual_seed(0)  # every random draw below is seeded
    """),
    md("""
    ## 1 · A causal 3D convolution, by hand

    A 3D convolution slides a `kt × kh × kw` kernel over (time, rows, columns). With ordinary "same" padding the
    kernel is centred, so output frame *t* mixes input frames *t − 1, t, t + 1*: it **looks at the future**. A
    *causal* convolution pads time on the **past side only**, so output frame *t* sees frames *t − 2, t − 1, t*.
    What to pad with? Copies of the first frame: then a still image (T = 1) is encoded exactly like a video in
    which nothing moves, and one model handles images and videos.

    Space is padded as usual (a centred kernel, zeros at the border). Our version in five lines:
    """),
    code("""
    class MyCausalConv3d(nn.Conv3d):
        \"\"\"Conv3d whose output frame t depends on input frames <= t only.\"\"\"

        def __init__(self, cin, cout, kernel=3, stride=(1, 1, 1)):
            super().__init__(cin, cout, kernel, stride=stride, padding=(0, kernel // 2, kernel // 2))  # no time padding

        def forward(self, x):  # b c t h w
            past = self.kernel_size[0] - 1  # kt - 1 frames of history
            x = torch.cat([x[:, :, :1].expand(-1, -1, past, -1, -1), x], dim=2)  # repeat frame 0 in front
            return super().forward(x)
    """),
    md("""
    Same weights, same answer as the package's layer:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ours, theirs = MyCausalConv3d(3, 4), vae.CausalConv3d(3, 4)
    theirs.load_state_dict(ours.state_dict())  # share the weights
    x = torch.randn(2, 3, 9, 8, 8, generator=torch.Generator().manual_seed(1))  # b c t h w
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)
    print("input", tuple(x.shape), "-> output", tuple(ours(x).shape), "| MyCausalConv3d == vae.CausalConv3d ✓")
    """),
    md("""
    Now the proof. Change input frame 5 and nothing else: a causal layer must leave output frames 0–4 **bit for
    bit** the same. An ordinary centred convolution with the same weights leaks the change one frame into the past:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    centred = nn.Conv3d(3, 4, 3, padding=1)
    centred.load_state_dict(ours.state_dict())

    x2 = x.clone()
    x2[:, :, 5] += 1.0  # perturb frame 5 only
    for name, layer in (("causal", ours), ("centred", centred)):
        changed = (layer(x2) - layer(x)).abs().amax(dim=(0, 1, 3, 4)) > 0  # per output frame
        print(f"{name:8s} output frames that changed: {changed.nonzero().flatten().tolist()}")
    assert torch.equal(ours(x2)[:, :, :5], ours(x)[:, :, :5])  # the past is untouched, exactly
    """),
    md("""
    Doing that for every input frame draws the layer's **dependency matrix**: a dark cell (row *out*, column *in*)
    means output frame *out* changes when input frame *in* changes. The causal one is lower-triangular. Stack
    layers and the reach into the past grows, but never into the future:
    """),
    code("""
    def dependency(layer, frames=9):
        \"\"\"(out, in) matrix: does output frame `out` change when input frame `in` is perturbed?\"\"\"
        x = torch.randn(1, 3, frames, 8, 8, generator=torch.Generator().manual_seed(2))
        with torch.no_grad():
            base = layer(x)
            rows = []
            for k in range(frames):
                xk = x.clone()
                xk[:, :, k] += 1.0
                rows.append((layer(xk) - base).abs().amax(dim=(0, 1, 3, 4)) > 0)
        return torch.stack(rows, dim=1).float()  # out x in


    two_causal = nn.Sequential(MyCausalConv3d(3, 3), MyCausalConv3d(3, 3))
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), layout="constrained")
    for ax, (title, layer) in zip(axes, [("centred conv (leaks)", centred), ("causal conv", ours),
                                          ("two causal convs", two_causal)]):
        ax.imshow(dependency(layer), cmap="Greys", vmin=0, vmax=1)
        ax.set(title=title, xlabel="input frame", ylabel="output frame")
    plt.show()
    """),
    md("""
    **Going down in time.** With a temporal stride of 2, the layer keeps output frames 0, 2, 4, …: frame 0 stays
    alone (it covers only copies of itself), and every later output covers two new frames. So T = 1 + 2k frames
    become 1 + k. Twice: 17 → 9 → 5. That is why the VAE wants **T = 1 + 4k** frames (1, 5, 9, 13, 17, …).
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    down = MyCausalConv3d(3, 3, stride=(2, 1, 1))
    for frames in (1, 5, 9, 17):
        once = down(torch.zeros(1, 3, frames, 8, 8))
        twice = down(once)
        print(f"T = {frames:2d} -> {once.shape[2]} -> {twice.shape[2]} latent frames")
    """),
    md("""
    ## 2 · Space-to-depth, and the VAE layer by layer

    Convolutions at 32 × 32 are the expensive ones. The first thing the encoder does is a **space-to-depth**
    rearrangement (as in the LTX-Video VAE): every 2 × 2 block of pixels becomes 4 × 3 = 12 channels of one
    16 × 16 pixel. No information is lost (it is a permutation of the numbers), and no convolution ever runs at
    full resolution. The decoder ends with the inverse, depth-to-space.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    clip = torch.rand(1, 3, 17, 32, 32, generator=torch.Generator().manual_seed(3))  # b c t h w
    packed = rearrange(clip, "b c t (h p1) (w p2) -> b (c p1 p2) t h w", p1=2, p2=2)
    unpacked = rearrange(packed, "b (c p1 p2) t h w -> b c t (h p1) (w p2)", p1=2, p2=2)
    assert torch.equal(unpacked, clip)
    print(tuple(clip.shape), "-> space-to-depth ->", tuple(packed.shape), "-> and back, bit for bit ✓")
    """),
    md("""
    Now the shipped model, `data/vae/shapes` (trained with the recipe in `data/vae/README.md`). The weights are not
    part of the pip package, so the cell looks for the repository checkout and, on Colab, a clone of the
    repository (weights are never downloaded at run time). `from_pretrained` checks the file's SHA-256 and the tensor shapes, and never
    unpickles anything.
    """),
    code("""
    from minivid.checkpoint import find_shipped

    VAE_PATH = find_shipped()
    model = VideoVAE.from_pretrained(VAE_PATH, device="cpu")
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    cfg = model.cfg
    print(f"{vae.count_parameters(model):,} parameters | widths {cfg.channels} | {cfg.latent_channels} latent channels"
          f" | compression {cfg.temporal_compression}x in time, {cfg.spatial_compression}x in space")
    print("latent of a 17 x 32 x 32 clip:", model.latent_shape(17, 32, 32), "(z, t, h, w)")
    """),
    md("""
    Follow a clip through the encoder, calling its layers one by one and printing the shape after each: time shrinks
    17 → 9 → 5 at the two `Downsample`s, space 32 → 16 (space-to-depth) → 8, and the last convolution outputs
    **16 = 2 × 8 channels: a mean and a log-variance** for each of the 8 latent channels.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    enc = model.encoder
    with torch.no_grad():
        h = rearrange(clip * 2 - 1, "b c t (h p1) (w p2) -> b (c p1 p2) t h w", p1=2, p2=2)
        print(f"{'pixels':24s} {tuple(clip.shape)}")
        print(f"{'space-to-depth':24s} {tuple(h.shape)}")
        h = enc.conv_in(h)
        print(f"{'conv_in':24s} {tuple(h.shape)}")
        for i, layer in enumerate(enc.layers):
            h = layer(h)
            print(f"{f'layers[{i}] ' + type(layer).__name__:24s} {tuple(h.shape)}")
        h = enc.conv_out(F.silu(enc.norm_out(h)))
        print(f"{'norm, SiLU, conv_out':24s} {tuple(h.shape)}  = mean and log-variance, 8 channels each")
        assert torch.allclose(h, enc(clip * 2 - 1), atol=1e-5)  # the same as calling the encoder
    """),
    md("""
    The decoder is the mirror image: upsampling by repeating frames and pixels (in time: repeat each frame twice and
    drop the first copy, so 5 latent frames become 9, then 17, and frame 0 stays alone), each followed by a causal
    convolution. Normalisation is per frame (`FrameGroupNorm`), because statistics pooled over time would leak the
    future into the past. The whole VAE is causal, which we can check like the single layer: perturb pixel frame 9
    and see which **latent** frames move. Latent frame *j* covers pixel frames up to 4*j*, so frames 0, 1, 2
    (pixels 0, 1–4, 5–8) must not:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    with torch.no_grad():
        z_a = model.encode(clip * 2 - 1).mean
        bumped = clip.clone()
        bumped[:, :, 9] = 1 - bumped[:, :, 9]  # invert pixel frame 9
        z_b = model.encode(bumped * 2 - 1).mean
    change = (z_b - z_a).abs().amax(dim=(0, 1, 3, 4))
    print("latent frames that changed:", (change > 0).nonzero().flatten().tolist())
    assert torch.equal(z_a[:, :, :3], z_b[:, :, :3])  # max abs change exactly 0.0 in the past
    """),
    md("""
    ## 3 · The "V" in VAE: KL and the scaling factor

    A plain autoencoder maps a clip to one point. A **variational** autoencoder maps it to a small Gaussian cloud
    q(z | x) = N(mean, exp(logvar)), and training adds a penalty, the **KL divergence** from that cloud to a standard
    normal N(0, I):

    KL = ½ · mean( mean² + exp(logvar) − 1 − logvar ),

    while the decoder must reconstruct the clip from a *sample* of the cloud. The loss is
    `MSE(reconstruction, clip) + kl_weight · KL`. The KL term keeps the latent space smooth and bounded (nearby
    latents decode to similar clips, no value runs off to 1000), which is what the diffusion model of lesson 04
    needs. Its weight is tiny here (`kl_weight = 1e-5`), so it shapes the space without blurring reconstructions:
    the posterior ends up very narrow, and `encode_clips` simply uses the mean.

    Diffusion adds noise of variance 1 to the latents, so the latents should have variance about 1 too. After
    training, `train_vae` measures the standard deviation of the posterior means over 512 clips and stores
    **`scaling_factor` = 1 / std** with the weights (Stable Diffusion's 0.18215 is the same idea). `encode_clips`
    multiplies by it, `decode_latents` divides by it.
    """),
    code("""
    EVAL_SET = VAE_PATH.parents[1] / "eval_set.json"  # data/eval_set.json, next to data/vae/
    eval_set = world.load_eval_set(EVAL_SET) if EVAL_SET.exists() else None
    stream = world.ShapesWorld(10**6, "train", seed=1234)
    clips = clip_batch(stream, 0, 32)  # 32 clips, b t c h w in [0, 1]
    with torch.no_grad():
        posterior = model.encode(rearrange(clips, "b t c h w -> b c t h w") * 2 - 1)
    z = model.encode_clips(clips)  # posterior mean x scaling factor
    """),
    code("""
    print(f"scaling factor (stored with the weights): {float(model.scaling_factor):.4f}")
    print(f"posterior mean: std {posterior.mean.std():.3f} -> after scaling {z.std():.3f} (about 1, as wanted)")
    print(f"posterior std : median {posterior.std.median():.4f} (tiny next to the spread of the means)")
    print(f"KL to N(0, I) : {posterior.kl():.3f} nats per latent number")
    assert 0.8 < z.std() < 1.25 and posterior.std.median() < 0.1
    """),
    md("""
    A histogram of the scaled latents and of the same number of N(0, 1) draws. Not a perfect Gaussian (a diffusion
    model does not need one), but the right scale:
    """),
    code("""
    fig, ax = plt.subplots(figsize=(5, 2.6), layout="constrained")
    ax.hist(z.flatten().numpy(), bins=80, range=(-4, 4), density=True, alpha=0.7, label="scaled latents")
    ax.hist(torch.randn(z.numel(), generator=torch.Generator().manual_seed(0)).numpy(), bins=80, range=(-4, 4),
            density=True, histtype="step", color="black", label="N(0, 1)")
    ax.set(xlabel="value", ylabel="density")
    ax.legend(fontsize=8)
    plt.show()
    """),
    md("""
    ## 4 · How good are the reconstructions?

    Five clips from the fixed evaluation set `data/eval_set.json`: seen and held-out combinations, and a
    two-object scene. The first four play below, each with the **original on the left and the reconstruction on
    the right**; the caption gives the **PSNR** (peak signal-to-noise ratio, −10 log₁₀ MSE for pixels in [0, 1]: 30 dB means an RMS error of
    3% of full brightness, every +10 dB divides it by √10).
    """),
    code("""
    picks = [0, 92, 138, 253, 352]  # indices into the evaluation set
    if eval_set is None:  # no checkout (Colab): the same kind of mix, drawn from the dataset
        eval_set = [("seen", world.sample_scene(np.random.default_rng(i), num_objects=1 + (i > 3))) for i in range(400)]
    scenes = [eval_set[i][1] for i in picks]
    originals = world.render_batch(scenes)  # b t c h w
    recons = model.decode_latents(model.encode_clips(originals))
    scores = psnr(recons, originals)



    def for_display(video, levels=32):
        \"\"\"Snap to 32 levels per channel before making GIFs: invisible, but the faint noise of a decoded background
        would otherwise make every GIF frame different and the notebook large. Scores use the real values.\"\"\"
        return (video * levels).round() / levels


    gap = torch.ones(*originals.shape[:-1], 2)  # a white 2-px column between the two
    side_by_side = torch.cat([originals, gap, for_display(recons)], dim=-1)
    viz.show_video(side_by_side[:4], [f"{world.caption(s)} · {p:.1f} dB" for s, p in zip(scenes[:4], scores[:4])])
    """),
    code("""
    for (group, scene), p in zip([eval_set[i] for i in picks], scores):
        print(f"{p:5.1f} dB  {group:10s} {world.caption(scene)}")
    assert scores.min() > 25 and scores.mean() > 30
    """),
    md("""
    What is lost is mostly at the edges of fast objects. Averaged over the whole evaluation set (480 clips),
    `benchmarks/vae_benchmark.py` measured the numbers below (the cell reads `benchmarks/results/vae.json` when the
    repository is around). Note that **held-out combinations reconstruct as well as seen ones**: the VAE learned
    shapes, colours and motion, not the list of training captions.
    """),
    code("""
    VAE_BENCH = VAE_PATH.parents[2] / "benchmarks/results/vae.json"  # the repository holds data/vae/shapes
    if VAE_BENCH.exists():
        bench = json.loads(VAE_BENCH.read_text())
        for group, s in bench["psnr_db"].items():
            if isinstance(s, dict):
                print(f"PSNR {group:10s} mean {s['mean']:.1f} dB, median {s['median']:.1f}, 5th percentile {s['p5']:.1f}")
        print(f"first frame alone: {bench['psnr_db']['first_frame_mean']:.1f} dB (encoded on its own, the sharpest)")
    else:
        print("benchmarks/results/vae.json is not here: mean PSNR 36.8 dB (seen 37.9, held-out 37.6, two objects 34.0)")
    """),
    md("""
    Per frame: frame 0 is encoded alone and comes back best; every later latent frame has to describe four frames.
    """),
    code("""
    batch = clip_batch(stream, 32, 48)
    rec = model.decode_latents(model.encode_clips(batch))
    per_frame = -10 * torch.log10((rec - batch).square().mean(dim=(0, 2, 3, 4)))
    fig, ax = plt.subplots(figsize=(6, 2.4), layout="constrained")
    ax.plot(per_frame.numpy(), "o-")
    ax.set(xlabel="frame", ylabel="PSNR (dB)", title="reconstruction quality per frame, 48 clips")
    for j in range(1, 5):
        ax.axvline(4 * j + 0.5, color="gray", lw=0.5)  # latent frame boundaries: frames 1-4, 5-8, ...
    plt.show()
    """),
    md("""
    ## 5 · Does the evaluator still read them?

    The evaluator (`minivid.evaluate`) reads colour, shape and motion from pixels alone; in lesson 09 it grades the
    model's videos. A generated video can never be better than the decoder that draws it, so it must read VAE
    reconstructions correctly, too:
    """),
    code("""
    read_orig, read_rec = evaluate.describe_batch(originals), evaluate.describe_batch(recons)
    for scene, a, b in zip(scenes, read_orig, read_rec):
        same = [str(o) for o in a] == [str(o) for o in b]
        print(f"{'✓' if same else '✗'} {world.caption(scene)}\\n    original: {'; '.join(map(str, a))}"
              f"\\n    recon   : {'; '.join(map(str, b))}")
    """),
    md("""
    On the whole evaluation set the benchmark measured colour 100%, shape 99.7%, motion 99.7% and temporal
    consistency 98.7% on reconstructions (100% everywhere on the originals). The misses are the hardest clips: a
    bounce near impact (~5 px/frame) or a fast spin of a small triangle, whose corners come back rounded in a few
    in-between frames, and the evaluator reads a circle there. That is the price of 4× in time, and an upper bound
    for everything the diffusion model will generate. (Before the decoder fine-tune described in section 8,
    consistency was 95.2%: the decoder, which must invent three of every four frames, benefits most from training.)

    ## 6 · A walk through latent space

    Encode two clips, mix their latents, decode the mixture: z(α) = (1 − α)·z_a + α·z_b. Because the KL term kept
    the space smooth, the in-between latents decode to plausible pictures; but they are **not** clips of ShapesWorld
    (watch two half-transparent objects cross-fade rather than one object morph). Moving *meaningfully* between
    clips is the diffusion model's job, not the VAE's.
    """),
    code("""
    scene_a = world.SceneSpec((world.ObjectSpec("circle", "red", "moves right", size=5.0, x=7.0, y=16.0, speed=1.0),))
    scene_b = world.SceneSpec((world.ObjectSpec("square", "cyan", "rotates clockwise", size=5.0, x=22.0, y=12.0,
                                                speed=12.0, angle=10.0),))
    pair = world.render_batch([scene_a, scene_b])
    z_pair = model.encode_clips(pair)  # 2 z t h w
    alphas = torch.linspace(0, 1, 5)
    walk = model.decode_latents(torch.stack([(1 - a) * z_pair[0] + a * z_pair[1] for a in alphas]))
    fig, ax = plt.subplots(figsize=(9, 3.6), layout="constrained")
    viz.frame_strip(walk, [f"alpha = {a:.2f}" for a in alphas], every=4, ax=ax)
    plt.show()
    """),
    code("""
    viz.show_video(for_display(walk[2]), "alpha = 0.50: half a red circle, half a cyan square", scale=3)
    """),
    md("""
    ## 7 · Play with it

    Two knobs on the decoder's input: **α** mixes the two latents above, and **channel** picks one of the 8 latent
    channels and **gain** scales it (×0 switches it off, ×3 exaggerates it, a negative gain flips it). The
    sliders need a running kernel; a static example follows.
    """),
    code("""
    def explore_latent(alpha=0.0, channel=0, gain=0.0):
        \"\"\"Decode (1 - alpha) z_a + alpha z_b with latent channel `channel` multiplied by `gain`.\"\"\"
        z_mix = (1 - alpha) * z_pair[0] + alpha * z_pair[1]
        edited = z_mix.clone()
        edited[channel] *= gain
        out = model.decode_latents(torch.stack([z_mix, edited]))
        display(viz.show_video(for_display(out), ["mix", f"channel {channel} x {gain:g}"], scale=3))
        change = psnr(out[1:], out[:1]).item()
        print(f"channel {channel}: std {z_mix[channel].std():.2f}; editing it moves the clip to {change:.1f} dB "
              f"PSNR from the unedited one (lower = bigger change)")


    controls = dict(
        alpha=widgets.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.05, description="alpha"),
        channel=widgets.IntSlider(value=6, min=0, max=model.cfg.latent_channels - 1, description="channel"),
        gain=widgets.FloatSlider(value=0.0, min=-2.0, max=3.0, step=0.25, description="gain"),
    )
    display(widgets.HBox(list(controls.values())), widgets.interactive_output(explore_latent, controls))
    """),
    code("""
    explore_latent(alpha=0.0, channel=6, gain=0.0)  # a static example: the red circle with channel 6 switched off
    """),
    md("""
    Switching off channel 6 drains the red circle, while most other channels can be zeroed with little visible
    change: the latent is redundant, and a few channels carry most of an object. Try every channel with gain 0 on
    the red circle (α = 0), then on the cyan square (α = 1): is it the same channel? What does α = 0.5 look like
    with gain 3?

    ## 8 · Train one yourself

    The shipped VAE was trained in two stages on a 2-core CPU. Stage 1, from scratch, took **33 minutes** (2004 s,
    4,500 steps of 8 clips; validation PSNR passed 32 dB after ~20 minutes, step 2,500, and ended at 34.5 dB).
    Stage 2 trained the **decoder only** for another 4,500 steps (36.3 dB): with the encoder frozen every latent
    stays bit-identical, so a diffusion model trained on them stays valid. The recipe (`data/vae/README.md`):

    ```bash
    python -m minivid.train vae --preset shapes --threads 1 --out runs/vae --export data/vae/shapes
    python -m minivid.train vae --preset shapes --threads 1 --out runs/vae_ft --export data/vae/shapes \\
        --init-from data/vae/shapes --freeze-encoder --lr 3e-4 --warmup-steps 100
    ```

    Below is the same training loop written out, on the `"tiny"` preset (8–16 channels, 4 latent channels), for
    about 40 seconds. Each step: draw 8 fresh clips (the data is endless, nothing is ever seen twice), encode to a
    posterior, **sample** a latent, decode, and minimise MSE + 10⁻⁵ · KL. Set `TRAIN_FROM_SCRATCH = True` to run the
    real recipe instead, with `minivid.train.train_vae` (checkpoints in `runs/vae`, `--resume`-able; on a GPU it is
    much faster).
    """),
    code("""
    TRAIN_FROM_SCRATCH = False  # True: the full 33-minute recipe of data/vae/README.md
    """),
    code("""
    from minivid.train import VAETrainConfig, train_vae

    if TRAIN_FROM_SCRATCH:
        print("python -m minivid.train vae --preset shapes --threads 1 --out runs/vae")
        trained = train_vae(VAETrainConfig(), "runs/vae", resume=True, device="auto")  # resume=True: continue if stopped
    else:
        torch.manual_seed(0)
        trained = VideoVAE(vae.VAE_PRESETS["tiny"])
        opt = torch.optim.AdamW(trained.parameters(), lr=2e-3, betas=(0.9, 0.99))
        noise = torch.Generator().manual_seed(1)  # posterior samples
        train_stream = world.ShapesWorld(10**9, "train", seed=0)
        TIME_BUDGET, MAX_STEPS, BATCH = 40.0, 400, 8  # seconds, steps, clips per step
        history, start = [], time.perf_counter()
        for step in range(MAX_STEPS):
            x = rearrange(clip_batch(train_stream, step * BATCH, BATCH), "b t c h w -> b c t h w") * 2 - 1
            recon, post = trained(x, generator=noise)  # encode, sample, decode
            mse, kl = (recon - x).square().mean(), post.kl()
            loss = mse + 1e-5 * kl
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained.parameters(), 1.0)
            opt.step()
            history.append((mse.item(), kl.item()))
            if time.perf_counter() - start > TIME_BUDGET:
                break
        trained.eval()
        trained.scaling_factor.fill_(1 / trained.encode_clips(clips).std().item())  # as train_vae does at the end
        print(f"{len(history)} steps of {BATCH} clips in {time.perf_counter() - start:.0f} s, "
              f"{vae.count_parameters(trained):,} parameters")
    """),
    code("""
    if not TRAIN_FROM_SCRATCH:
        mse_curve = np.array(history)[:, 0]
        smooth = np.convolve(mse_curve, np.ones(10) / 10, mode="valid")
        fig, ax = plt.subplots(1, 2, figsize=(10, 2.8), layout="constrained")
        ax[0].semilogy(mse_curve, alpha=0.3, label="MSE per step")
        ax[0].semilogy(np.arange(9, len(mse_curve)), smooth, label="moving average")
        ax[0].set(xlabel="step", ylabel="MSE (pixels in [-1, 1])", title="tiny VAE, live")
        ax[0].legend(fontsize=8)
        shipped_run = json.loads(VAE_PATH.with_suffix(".json").read_text())["train"]  # the sidecar's training summary
        steps_s, psnr_s, secs = np.array(shipped_run["val_psnr_history"]).T
        ax[1].plot(secs / 60, psnr_s, "o-", ms=3)
        ax[1].set(xlabel="minutes (1 CPU thread)", ylabel="validation PSNR (dB)", title="the shipped VAE's run")
        plt.show()
    """),
    code("""
    tiny_rec = trained.decode_latents(trained.encode_clips(originals[:3]))
    shipped_rec = recons[:3]
    print(f"PSNR on three clips: trained here {psnr(tiny_rec, originals[:3]).mean():.1f} dB, "
          f"shipped {psnr(shipped_rec, originals[:3]).mean():.1f} dB")
    fig, ax = plt.subplots(figsize=(9, 3.2), layout="constrained")
    viz.frame_strip(torch.stack([originals[0], tiny_rec[0], shipped_rec[0]]),
                    ["original", "trained here", "shipped"], every=4, ax=ax)
    plt.show()
    assert TRAIN_FROM_SCRATCH or np.mean(mse_curve[-10:]) < np.mean(mse_curve[:10])  # the loss went down
    """),
    md("""
    Forty seconds buy a blurry, nearly grey blob in roughly the right place: *where* something bright is comes
    first; its colour, its edges and its shape come much later, which is why the real run needs thousands of
    steps.

    ## 9 · Your turn: the latent shape of any clip

    The diffusion model is built for a latent shape, so you must know it without running the encoder. Write
    `my_latent_shape(frames, height, width)` for the shipped VAE: return `(z, t, h, w)`, and raise a `ValueError` for
    a clip the causal VAE cannot encode (frames not of the form 1 + 4k, or height / width not divisible by 4).

    *Hint.* Section 1: T = 1 + 2k frames become 1 + k per temporal downsampling, and there are two.

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code** and run the check below it: it raises an `AssertionError` saying which case failed if your function
    disagrees with what the encoder really produces.
    """),
    code("""
    def my_latent_shape(frames, height, width, channels=8, ft=4, fs=4):
        \"\"\"(z, t, h, w) of the latent of a frames x height x width clip; ValueError if the VAE cannot take it.\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        if (frames - 1) % ft or frames < 1 or height % fs or width % fs:
            raise ValueError(f"need frames = 1 + {ft}k and height, width divisible by {fs}, got {frames, height, width}")
        return channels, 1 + (frames - 1) // ft, height // fs, width // fs
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    cases = [(17, 32, 32), (1, 32, 32), (5, 16, 24), (33, 8, 64), (9, 40, 20)]
    for frames, height, width in cases:
        dummy = torch.zeros(1, frames, 3, height, width)
        real = tuple(model.encode_clips(dummy).shape[1:])  # what the encoder actually makes
        got = my_latent_shape(frames, height, width)
        assert tuple(got) == real, f"{frames} x {height} x {width}: you said {tuple(got)}, the encoder makes {real}"
        print(f"{frames:2d} x {height:2d} x {width:2d} -> latent {real} ✓")
    for bad in [(16, 32, 32), (17, 30, 32), (17, 32, 18), (0, 32, 32)]:
        try:
            my_latent_shape(*bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad}: the VAE cannot encode this clip, my_latent_shape should raise ValueError")
    print("and every clip the VAE cannot take raises ValueError ✓")
    """),
    md("""
    ## Recap

    - A diffusion transformer pays for every token, so it works on a **latent** video: our VAE turns 17 × 32 × 32 × 3
      = 52,224 numbers into 8 × 5 × 8 × 8 = 2,560 (20× fewer), and 4,352 pixel tokens into **80**.
    - A **causal 3D convolution** pads time on the past side only (with copies of frame 0); a perturbed frame
      changes no earlier output, bit for bit, and the whole VAE inherits that. Clips are 1 + 4k frames long, and
      frame 0 is encoded alone (images are 1-frame videos).
    - **Space-to-depth** (2 × 2 pixels → 12 channels) keeps every convolution off the full resolution.
    - The **KL** term keeps the latent space smooth; the **scaling factor** (1.848 here) makes latents unit-variance
      for diffusion.
    - The shipped VAE: **36.8 dB** mean PSNR on the evaluation set, held-out combinations as good as seen ones, and
      the evaluator reads reconstructions almost as well as originals.

    **Next: 04 · Diffusion from scratch**, which learns to turn Gaussian noise into samples: first on 2-D toy data,
    then on exactly these latents. Previous: [02 · Spacetime patches](02_spacetime_patches.ipynb).
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
