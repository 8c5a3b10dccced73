"""Write notebooks/02_spacetime_patches.ipynb (without outputs).

    python notebooks/_build/make_02.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/02_spacetime_patches.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "02_spacetime_patches.ipynb"

cells = [
    md(f"""
    # 02 · Spacetime patches: how a video becomes tokens

    {BADGE.format(name=NAME)}

    Lesson 02 of **minivid**. A transformer reads a *sequence of vectors*. Sora's technical report describes the trick
    that turns a video into one: cut it into **spacetime patches**, small boxes spanning a few frames and a few pixels,
    and make each box a token. This lesson does that cut by hand, then counts what it costs.

    **You will learn**

    - how to patchify a clip with nothing but `reshape` and `permute`, and prove it equals `patching.patchify`
      (and that `unpatchify` undoes it exactly);
    - in which order the tokens come, on a picture of the patch grid;
    - how many tokens a ShapesWorld clip becomes in pixels and in VAE latents, and how to reproduce the public
      estimate "60 frames ≈ 60k patches, ×20 denoising steps ≈ 1.2M token evaluations";
    - how a transformer's cost grows with video length and resolution, and what factorised attention buys;
    - to write `unpatchify` yourself.

    Runs top to bottom in well under a minute on a laptop CPU.
    """),
    code(SETUP),
    md("""
    ## Why patches?

    A Vision Transformer cuts an image into 16 × 16 squares and treats each square as a word. A video has one more
    axis, so the squares become **boxes of `pt` frames × `ph` rows × `pw` columns**. Every box is flattened into one
    vector (a *token*), and the transformer sees the list of tokens. Nothing in that recipe cares about the clip's
    duration, resolution or aspect ratio: a longer or larger video is simply a longer sequence. That is why one model
    can train on (and generate) clips of many shapes.

    In the full model (lesson 03 onwards) the patches are cut from the **latent** video of a VAE, not from pixels. The
    cut is exactly the same operation, so we learn it on pixels, where we can see it.
    """),
    code("""
    %matplotlib inline
    from dataclasses import replace

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from einops import rearrange
    from IPython.display import display

    from minivid import patching, viz, world
    from minivid.world import ObjectSpec, SceneSpec

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    _ = torch.manual_seed(0)  # fixed seed; the exercise check also uses its own seeded generator
    """),
    md("""
    ## 1 · Patchify by hand

    A ShapesWorld clip, 16 frames this time. The default is 17 = 1 + 16 because the causal VAE of lesson 03 encodes
    the first frame on its own; on raw pixels, 16 frames tile evenly into time patches of 2.

    Models keep channels first, **`b c t h w`** (batch, channels, time, height, width), as 3D convolutions want, so we
    add a batch axis and move the channels:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    clip_scene = SceneSpec((
        ObjectSpec("triangle", "yellow", "moves right", size=4.5, x=6.0, y=9.0, speed=1.0, angle=-90.0),  # apex up
        ObjectSpec("square", "cyan", "rotates clockwise", size=4.0, x=20.0, y=22.0, speed=12.0, angle=5.0),
    ), frames=16)
    clip = world.render(clip_scene)  # t c h w
    x = rearrange(clip, "t c h w -> 1 c t h w")  # b c t h w
    print("clip", tuple(clip.shape), "(t c h w) -> x", tuple(x.shape), "(b c t h w)")
    """),
    code("""
    viz.show_video(clip, world.caption(clip_scene))
    """),
    md("""
    Patchifying is pure bookkeeping, three steps:

    1. **split** each of the axes t, h, w into (which patch, where inside the patch): `T = gt·pt`, `H = gh·ph`,
       `W = gw·pw`, where (gt, gh, gw) is the **patch grid**;
    2. **permute** so the patch indices (gt, gh, gw) come first and the contents (c, pt, ph, pw) last;
    3. **flatten** each group: the patch indices into one token axis `n = gt·gh·gw`, the contents into one vector of
       `d = c·pt·ph·pw` values.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    pt, ph, pw = 2, 8, 8  # each token: 2 frames x 8 rows x 8 columns
    B, C, T, H, W = x.shape
    gt, gh, gw = T // pt, H // ph, W // pw  # the patch grid

    split = x.reshape(B, C, gt, pt, gh, ph, gw, pw)  # 1. split every axis into (patch, inside)
    moved = split.permute(0, 2, 4, 6, 1, 3, 5, 7)  # 2. patch indices first, contents last
    tokens = moved.reshape(B, gt * gh * gw, C * pt * ph * pw)  # 3. flatten both groups

    print("x      ", tuple(x.shape), "b c t h w")
    print("split  ", tuple(split.shape), "b c gt pt gh ph gw pw")
    print("moved  ", tuple(moved.shape), "b gt gh gw c pt ph pw")
    print("tokens ", tuple(tokens.shape), f"b n d   n = {gt}*{gh}*{gw} = {gt * gh * gw},  d = {C}*{pt}*{ph}*{pw} = {C * pt * ph * pw}")
    """),
    md("""
    The package does the same in one einops pattern, which reads like the comment above. Same numbers, same order:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("einops pattern:", patching.PATCHIFY_PATTERN)
    assert torch.equal(tokens, patching.patchify(x, (pt, ph, pw)))
    assert torch.equal(tokens, rearrange(x, patching.PATCHIFY_PATTERN, pt=pt, ph=ph, pw=pw))
    print("by hand == patching.patchify ✓")

    grid = patching.patch_grid(x.shape[-3:], (pt, ph, pw))
    back = patching.unpatchify(tokens, grid, (pt, ph, pw), channels=C)
    assert torch.equal(back, x)
    print("unpatchify(patchify(x)) == x, bit for bit ✓ (patching moves values, it never changes them)")
    """),
    md("""
    `unpatchify` needs the grid: 32 tokens could have been 2 × 4 × 4 or 8 × 2 × 2 patches, the count alone does not say.

    Which pixels does a given token hold? Tokens are ordered **time-major**: all patches of the first time slab, row
    by row, then the next slab. So token *k* sits at grid position
    `(k // (gh·gw), (k // gw) % gh, k % gw)`:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    k = 21
    it, ih, iw = k // (gh * gw), (k // gw) % gh, k % gw
    box = x[0, :, it * pt:(it + 1) * pt, ih * ph:(ih + 1) * ph, iw * pw:(iw + 1) * pw]  # c pt ph pw
    assert torch.equal(tokens[0, k], box.reshape(-1))
    print(f"token {k} = grid cell ({it}, {ih}, {iw}) = frames {it * pt}-{it * pt + pt - 1}, "
          f"rows {ih * ph}-{ih * ph + ph - 1}, columns {iw * pw}-{iw * pw + pw - 1}")
    """),
    md("""
    And when the sizes do not tile, the package says which axis is wrong and what would work:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    x17 = rearrange(world.render(replace(clip_scene, frames=17)), "t c h w -> 1 c t h w")
    try:
        patching.patchify(x17, (2, 8, 8))
    except ValueError as err:
        print("ValueError:", err)
    """),
    md("""
    ## 2 · The patch grid, in a picture

    The first six frames with the patch boundaries drawn and each cell labelled with its token index. Frames of one time
    slab (same border colour) carry the **same** token numbers: token 21 holds the 8 × 8 square at row 1, column 1 of
    *both* frames 2 and 3.
    """),
    code("""
    def draw_grid(ax, frame, t, pt, ph, pw, numbers=True, fontsize=6):
        \"\"\"Show one frame (c h w) with its patch boundaries and, optionally, token indices.\"\"\"
        _, H, W = frame.shape
        gh, gw = H // ph, W // pw
        it = t // pt
        colour = plt.cm.tab10(it % 10)
        ax.imshow(frame.permute(1, 2, 0), interpolation="nearest", extent=(0, W, H, 0))
        for v in range(pw, W, pw):
            ax.axvline(v, color="white", lw=0.6, alpha=0.7)
        for h in range(ph, H, ph):
            ax.axhline(h, color="white", lw=0.6, alpha=0.7)
        if numbers:
            for ih in range(gh):
                for iw in range(gw):
                    ax.text(iw * pw + 0.6, ih * ph + 0.6, (it * gh + ih) * gw + iw, color="white",
                            ha="left", va="top", fontsize=fontsize, alpha=0.85)
        for spine in ax.spines.values():
            spine.set_edgecolor(colour)
            spine.set_linewidth(3)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"frame {t} (slab {it})", fontsize=9, color=colour)


    fig, axes = plt.subplots(1, 6, figsize=(12, 2.3), layout="constrained")
    for t, ax in enumerate(axes):
        draw_grid(ax, clip[t], t, pt, ph, pw)
    plt.show()
    """),
    md("""
    ## 3 · Token counts: pixels versus latents

    Self-attention compares every token with every other, so its cost grows with **N²**. How many tokens is a
    ShapesWorld clip? `patching.VideoTokenConfig` follows a clip through the whole chain: pixels → VAE latent
    (`ft` frames and `fs × fs` pixels per latent cell; a *causal* VAE keeps the first frame alone,
    T → 1 + (T − 1)/ft) → patch grid → tokens. Setting `ft = fs = 1` means "no VAE", i.e. patches cut straight from
    pixels. `patching.PRESETS` holds the configurations used in this course.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    def pixels(patch):
        \"\"\"A 17 x 32 x 32 RGB clip patchified straight from its pixels (no VAE).\"\"\"
        return patching.VideoTokenConfig(17, 32, 32, vae_temporal_factor=1, vae_spatial_factor=1,
                                         latent_channels=3, patch_size=patch)


    configs = {
        "pixels, 1x1x1 (a token per pixel)": pixels((1, 1, 1)),
        "pixels, 1x2x2 patches": pixels((1, 2, 2)),
        "pixels, 1x4x4 patches": pixels((1, 4, 4)),
        "VAE latent, 1x1x1 ('shapesworld-fine')": patching.PRESETS["shapesworld-fine"],
        "VAE latent, 1x2x2 ('shapesworld')": patching.PRESETS["shapesworld"],
    }
    print(f"{'17 x 32 x 32 clip as ...':40s} {'T x H x W':>10s} {'grid':>9s} {'tokens N':>9s} {'N^2':>13s}")
    for name, cfg in configs.items():
        size, grid = "x".join(map(str, cfg.latent_size)), "x".join(map(str, cfg.grid))
        print(f"{name:40s} {size:>10s} {grid:>9s} {cfg.num_tokens:9,d} {cfg.num_tokens ** 2:13,d}")
    """),
    md("""
    The VAE of lesson 03 shrinks the clip 4× in time (causally: 17 → 5 frames) and 4× along each side (32 → 8), so the
    transformer sees **80 tokens instead of 4,352** for the same 1 × 2 × 2 patches: 54× fewer tokens and ~3,000× fewer
    attention pairs. That is what makes training on a CPU possible. (How many channels each latent cell has is the
    VAE's choice; it changes the length `d` of each token, not how many there are.)

    ## 4 · The Sora-scale estimate

    A widely quoted back-of-envelope estimate for a Sora-like model says: "60 frames ≈ 60k patches, × 20 denoising
    steps ≈ 1.2M token evaluations". `PRESETS["sora-like-60-frames"]` encodes its assumptions: 512 × 512 frames, a
    Stable-Diffusion-style VAE (8× smaller along each side, no compression in time) and 2 × 2 patches.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    sora = patching.PRESETS["sora-like-60-frames"]
    steps = 20
    n = sora.num_tokens
    _, lh, lw = sora.latent_size
    print(f"one frame: {sora.height}x{sora.width} px / VAE {sora.vae_spatial_factor} = {lh}x{lw} latent "
          f"/ {sora.patch_size[1]}x{sora.patch_size[2]} patches = {sora.tokens_per_frame:,} tokens")
    print(f"one clip : {sora.frames} frames x {sora.tokens_per_frame:,} = {n:,} tokens (~{n / 1e3:.0f}k)")
    print(f"sampling : x {steps} denoising steps = {patching.sampling_cost(n, steps):,} token evaluations "
          f"(~{patching.sampling_cost(n, steps) / 1e6:.1f}M)")
    print(f"with classifier-free guidance (2 passes per step): {patching.sampling_cost(n, 2 * steps):,}")
    """),
    md("""
    Every denoising step runs the whole transformer over every token again, which is why sampling cost is tokens ×
    steps. What does one pass cost? `patching.describe_cost` adds the FLOPs of a transformer the size of DiT-XL (width
    1152, depth 28, the largest model of the DiT paper). A multiply-add counts as 2 FLOPs.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(patching.describe_cost(sora, width=1152, depth=28, steps=steps))
    """),
    md("""
    Attention takes about **90%** of the work, the MLP and the projections share the rest. With N = 61,440 tokens,
    every layer builds N² ≈ 3.8 billion attention scores for each head.

    ## 5 · How cost grows with length and resolution

    Per transformer block (from the docstring of `patching.dit_flops`; N tokens of width d):

    | part | FLOPs | grows like |
    |---|---|---|
    | MLP (d → 4d → d) | 16·N·d² | N |
    | q, k, v, out projections | 8·N·d² | N |
    | full attention (QKᵀ and AV) | 4·N²·d | **N²** |
    | factorised attention: spatial within each frame (S tokens), then temporal across the F frames | 4·N·(S + F)·d | N·(S + F) |

    Full attention overtakes the MLP once 4N²d > 16Nd², i.e. **N > 4d**. *Factorised* attention (as in ViViT) lets each
    token attend to the S tokens of its own frame, then to the F tokens at its position in the other frames; information
    reaches every token in two hops, for a cost that grows far more slowly (it pays for a second set of projections).
    """),
    code("""
    d, depth = 1152, 28
    S = sora.tokens_per_frame


    def parts(num_frames, tokens_per_frame):
        n = num_frames * tokens_per_frame
        full = patching.dit_flops(n, d, depth)
        fact = patching.dit_flops(n, d, depth, attention="factorised", tokens_per_frame=tokens_per_frame)
        return full.attention, fact.attention, full.mlp, full.projections


    fig, axes = plt.subplots(1, 2, figsize=(11, 3.4), layout="constrained")
    lengths = np.unique(np.geomspace(1, 512, 60).round().astype(int))
    sides = np.arange(64, 2049, 32)  # frame side in pixels: latent side / 8, tokens per frame (side / 16)^2
    for ax, xs, curves, xlabel, title in (
        (axes[0], lengths, [parts(f, S) for f in lengths], "latent frames (512 x 512 px each)", "longer videos"),
        (axes[1], sides, [parts(16, (s // 16) ** 2) for s in sides], "frame side (px), 16 latent frames", "larger frames"),
    ):
        full_att, fact_att, mlp, proj = np.array(curves, dtype=float).T
        ax.loglog(xs, full_att, label="attention, full", lw=2)
        ax.loglog(xs, fact_att, label="attention, factorised", lw=2)
        ax.loglog(xs, mlp, "--", label="MLP")
        ax.loglog(xs, proj, ":", label="q/k/v/out projections")
        ax.set(xlabel=xlabel, ylabel="forward FLOPs (DiT-XL size)", title=title)
    axes[0].axvline(60, color="gray", lw=0.8)
    axes[0].text(65, 2e11, "60 frames", fontsize=8, color="gray")
    axes[0].legend(fontsize=8)
    plt.show()
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    n_cross = 4 * d
    at_cross = patching.dit_flops(n_cross, d, depth)
    assert at_cross.attention == at_cross.mlp  # 4 N^2 d == 16 N d^2 exactly when N = 4d
    print(f"full attention costs more than the MLP beyond N = 4d = {n_cross:,} tokens "
          f"= {n_cross / S:.1f} latent frames at 512 x 512")
    full = patching.dit_flops(n, d, depth)
    fact = patching.dit_flops(n, d, depth, attention="factorised", tokens_per_frame=S)
    print(f"at 60 frames, full attention is {full.attention / full.total:.0%} of the forward pass; "
          f"factorised attention is {full.attention / fact.attention:.0f}x cheaper (N / (S + F) = {n / (S + 60):.1f})")
    print(f"doubling the frames: full attention x{patching.dit_flops(2 * n, d, depth).attention / full.attention:.0f}, "
          f"MLP x{patching.dit_flops(2 * n, d, depth).mlp / full.mlp:.0f}")
    """),
    md("""
    The lesson for a video model: **tokens are the currency**. Doubling the length of a video doubles the MLP work but
    quadruples full attention; doubling the resolution quadruples the tokens and multiplies full attention by 16. A
    stronger VAE and bigger patches reduce N for everything; factorised attention attacks the N² term itself, but
    only along time: in the right panel its spatial half still compares every token of a frame with every other, so
    larger frames make it grow like (tokens per frame)² as well.

    ## 6 · Play with it

    Choose a patch size for our 16 × 32 × 32 pixel clip. The picture shows the frames of the first time slab with the
    grid; the text gives the token count and what a small transformer (width 128, depth 8) would spend on one pass.
    The sliders need a running kernel; a static example follows.
    """),
    code("""
    T_PIX, H_PIX, W_PIX = clip.shape[0], clip.shape[2], clip.shape[3]


    def explore_patches(pt, ph, pw):
        \"\"\"Token count, grid overlay and FLOPs for (pt, ph, pw) patches cut from the 16 x 32 x 32 pixel clip.\"\"\"
        cfg = patching.VideoTokenConfig(T_PIX, H_PIX, W_PIX, vae_temporal_factor=1, vae_spatial_factor=1,
                                        latent_channels=3, patch_size=(pt, ph, pw))
        gt, gh, gw = cfg.grid
        shown = min(pt, 4)
        fig, axes = plt.subplots(1, shown, figsize=(2.2 * shown, 2.4), layout="constrained", squeeze=False)
        for t, ax in enumerate(axes[0]):
            draw_grid(ax, clip[t], t, pt, ph, pw, numbers=gh * gw <= 16)
        if pt > shown:
            fig.suptitle(f"first {shown} of the {pt} frames in slab 0", fontsize=9)
        plt.show()
        full = patching.dit_flops(cfg.num_tokens, 128, 8)
        fact = patching.dit_flops(cfg.num_tokens, 128, 8, attention="factorised", tokens_per_frame=cfg.tokens_per_frame)
        print(f"grid {gt} x {gh} x {gw} -> N = {cfg.num_tokens:,} tokens of d = 3*{pt}*{ph}*{pw} = {cfg.token_dim:,} values; "
              f"N^2 = {cfg.num_tokens ** 2:,} attention pairs")
        print(f"one forward pass (width 128, depth 8): full attention {full.total / 1e6:,.1f} MFLOP "
              f"({full.attention / full.total:.0%} attention), factorised {fact.total / 1e6:,.1f} MFLOP")


    def divisors(n):
        return [k for k in range(1, n + 1) if n % k == 0]


    sliders = dict(
        pt=widgets.SelectionSlider(options=divisors(T_PIX), value=2, description="pt (frames)"),
        ph=widgets.SelectionSlider(options=divisors(H_PIX), value=8, description="ph (rows)"),
        pw=widgets.SelectionSlider(options=divisors(W_PIX), value=8, description="pw (columns)"),
    )
    display(widgets.HBox(list(sliders.values())), widgets.interactive_output(explore_patches, sliders))
    """),
    code("""
    explore_patches(4, 4, 4)  # a static example: 4 x 8 x 8 = 256 tokens
    """),
    md("""
    In this static example, factorised attention is *more* expensive than full attention: with only 256 tokens the
    attention itself is cheap, and factorising adds a second set of q/k/v/out projections. It pays off only when N is
    large compared with the width d, as in section 5.

    Try 1 × 1 × 1 (every pixel its own token) and watch the attention share climb; then 16 × 32 × 32 (the whole clip is
    one token, and the transformer has nothing left to attend to). Real models sit in between: patches small enough to
    keep detail, large enough to keep N affordable.

    ## 7 · Your turn: write `unpatchify`

    Glue tokens `(B, N, D)` back into a video `(B, C, T, H, W)` using only `reshape` and `permute`: undo the three steps
    of section 1 in reverse order (un-flatten, un-permute, merge each (patch, inside) pair of axes).

    *Hint.* After un-flattening you have `b gt gh gw c pt ph pw`; the permutation that puts it back into
    `b c gt pt gh ph gw pw` is the inverse of `(0, 2, 4, 6, 1, 3, 5, 7)`.

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code** and run the check below it: it raises an `AssertionError` saying which case failed if your function
    disagrees with `patching.unpatchify`.
    """),
    code("""
    def my_unpatchify(tokens, grid, patch_size, channels):
        \"\"\"Tokens (B, N, D) -> video (B, C, T, H, W): the inverse of patchify, with reshape and permute only.\"\"\"
        gt, gh, gw = grid
        pt, ph, pw = patch_size
        # ---- your turn: replace this ---------------------------------------------------------------
        B = tokens.shape[0]
        boxes = tokens.reshape(B, gt, gh, gw, channels, pt, ph, pw)  # un-flatten: b gt gh gw c pt ph pw
        boxes = boxes.permute(0, 4, 1, 5, 2, 6, 3, 7)  # un-permute: b c gt pt gh ph gw pw
        return boxes.reshape(B, channels, gt * pt, gh * ph, gw * pw)  # merge each (patch, inside) pair
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    gen = torch.Generator().manual_seed(0)
    cases = [  # (video shape b c t h w, patch size): odd sizes on purpose, so swapped axes cannot hide
        ((1, 3, 16, 32, 32), (2, 8, 8)),
        ((2, 4, 5, 8, 8), (1, 2, 2)),
        ((1, 3, 16, 32, 48), (4, 4, 8)),
        ((3, 2, 6, 4, 10), (3, 2, 5)),
    ]
    for shape, patch in cases:
        video = torch.randn(shape, generator=gen)
        grid = patching.patch_grid(video.shape[-3:], patch)
        toks = patching.patchify(video, patch)
        ours = my_unpatchify(toks, grid, patch, channels=shape[1])
        assert tuple(ours.shape) == shape, f"{shape} with patches {patch}: got shape {tuple(ours.shape)}"
        assert torch.equal(ours, patching.unpatchify(toks, grid, patch, shape[1])), \\
            f"{shape} with patches {patch}: right shape, but values in the wrong places"
        assert torch.equal(ours, video), f"{shape} with patches {patch}: does not invert patchify"
    assert torch.equal(my_unpatchify(tokens, (gt, gh, gw), (pt, ph, pw), C), x)  # and our clip from section 1
    print(f"my_unpatchify inverts patchify in all {len(cases) + 1} cases ✓")
    """),
    md("""
    Want to see the check bite? Swap two entries of the permutation and run it again.

    ## Recap

    - A video becomes tokens by cutting it into **spacetime patches** of `pt × ph × pw` and flattening each:
      split, permute, flatten. `patching.patchify` is exactly that, and `unpatchify` undoes it bit for bit.
    - Tokens come **time-major**: token k sits at grid cell `(k // (gh·gw), (k // gw) % gh, k % gw)`.
    - A 17 × 32 × 32 ShapesWorld clip is 4,352 tokens of 1 × 2 × 2 pixel patches but only **80 tokens** after the VAE.
    - The Sora-like estimate: 512² frames → 64² latents → 1,024 tokens per frame; 60 frames = **61,440 tokens**;
      × 20 steps = **1,228,800 token evaluations**.
    - Full attention grows with N² and overtakes the MLP beyond N = 4d; factorised attention costs N·(S + F).

    **Next: 03 · The video VAE**, which earns those 80 tokens: a causal autoencoder that squeezes
    17 × 32 × 32 pixels into a 5 × 8 × 8 latent and back. Previous: [01 · ShapesWorld](01_shapesworld.ipynb).
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
