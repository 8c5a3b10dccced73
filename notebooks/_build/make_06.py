"""Write notebooks/06_diffusion_transformer.ipynb (without outputs).

    python notebooks/_build/make_06.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/06_diffusion_transformer.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "06_diffusion_transformer.ipynb"

cells = [
    md(f"""
    # 06 · The diffusion transformer: a network for noisy latent videos

    {BADGE.format(name=NAME)}

    Lesson 06 of **minivid**. Lesson 04 trained a tiny MLP to predict the flow-matching velocity of 2-D points. For
    videos the same job goes to a **diffusion transformer** (DiT; Peebles & Xie 2023), the architecture behind
    Sora-class models: the noisy latent video is cut into spacetime patches (lesson 02), every patch becomes a token,
    and transformer blocks, told the noise level t, turn the tokens into a velocity of the same shape.

    **You will learn**

    - the **patch embedding** and the sinusoidal **timestep embedding** (built by hand, checked against `minivid.dit`);
    - **adaLN-Zero**, in two lines: how t steers every block, and why its **zero initialisation** makes the untrained
      model output exactly 0;
    - **3D rotary positions** (RoPE), and why attention scores then depend only on relative offsets;
    - **full versus factorised** attention, as pictures of which token sees which, measured on the real block;
    - what the model sizes and FLOPs are (`patching.dit_flops`), and a forward pass on real VAE latents;
    - to write the factorised attention masks yourself.

    Runs top to bottom in well under a minute on a laptop CPU.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import math
    import time
    from pathlib import Path

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from minivid import diffusion, dit, patching, text, world
    from minivid.dit import DiT, DiTBlock
    from minivid.vae import VideoVAE

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.set_num_threads(1)  # small models: one thread is fastest, and polite on a shared machine
    _ = torch.manual_seed(0)  # every random draw below is seeded
    """),
    md("""
    ## The model in one line

    `DiT` is one function, f(x_t, t, text_ids, text_mask) → a tensor shaped like x_t. It knows nothing about noise
    schedules: what its output *means* (here, the flow-matching velocity ε − x₀) is decided by the loss of lesson 04.
    We build one for the latents of the shipped VAE: 8 channels, 5 × 8 × 8 per clip. (The `"shapes"` preset already
    says `latent_channels=8`; passing the VAE's channel count and the tokenizer's vocabulary size explicitly is how
    `minivid.train` builds it, so a different VAE or vocabulary cannot silently mismatch.)
    """),
    code("""
    from minivid.checkpoint import find_shipped

    vae = VideoVAE.from_pretrained(find_shipped(), device="cpu")
    scenes = [world.sample_scene(np.random.default_rng(i), num_objects=1) for i in range(2)]
    z0 = vae.encode_clips(world.render_batch(scenes))  # b c t h w, unit variance
    captions = [world.caption(s) for s in scenes]
    torch.manual_seed(0)
    model = DiT.from_preset("shapes", latent_channels=z0.shape[1], text_vocab_size=text.vocab_size).eval()
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    cfg = model.config
    print("latents z0:", tuple(z0.shape), "(b c t h w) |", captions)
    print(f"DiT 'shapes': width {cfg.width}, depth {cfg.depth}, heads {cfg.heads}, patches {cfg.patch_size}, "
          f"{cfg.attention} attention, {model.num_params():,} parameters")
    """),
    md("""
    ## 1 · Patch embedding: latent video → tokens

    Exactly lesson 02's patchify, on the latent: 1 × 2 × 2 patches of 8 channels are vectors of 32 numbers, and
    one linear layer (`patch_embed`) maps each to the model width d = 128. The grid is 5 × 4 × 4 = **80 tokens**.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    patches = patching.patchify(z0, cfg.patch_size)  # b n (c pt ph pw)
    tokens = model.patch_embed(patches)  # b n d
    grid = patching.patch_grid(z0.shape[-3:], cfg.patch_size)
    print("latent", tuple(z0.shape), "-> patches", tuple(patches.shape), "-> tokens", tuple(tokens.shape), "| grid", grid)
    """),
    md("""
    ## 2 · Timestep embedding

    The network must know how noisy its input is. A scalar t is a poor input for a neural network, so DiT turns it
    into a vector of sines and cosines at geometrically spaced frequencies (as the positions of "Attention is all
    you need"), then an MLP. Flow times t ∈ [0, 1] are multiplied by 1000 first, so that the fastest frequency
    turns many times over the range. By hand, and checked against `dit.timestep_embedding`:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    def my_timestep_embedding(t, dim, max_period=10000.0):
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(half) / half)  # 1 ... 1/max_period
        args = t[:, None].float() * freqs[None]  # b half
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)  # b dim


    t = torch.linspace(0, 1, 101)
    emb = my_timestep_embedding(1000 * t, 256)
    assert torch.allclose(emb, dit.timestep_embedding(1000 * t, 256), atol=1e-5)
    print("t", tuple(t.shape), "-> embedding", tuple(emb.shape), "| my_timestep_embedding == dit.timestep_embedding ✓")
    """),
    code("""
    fig, axes = plt.subplots(1, 2, figsize=(10, 2.8), layout="constrained")
    axes[0].imshow(emb.T, aspect="auto", cmap="RdBu", extent=(0, 1, 256, 0), interpolation="nearest")
    axes[0].set(xlabel="t", ylabel="feature", title="timestep embedding (cos | sin)")
    sim = emb @ emb.T / 128
    axes[1].plot(t, sim[50], label="similarity to t = 0.5")
    axes[1].plot(t, sim[10], label="similarity to t = 0.1")
    axes[1].set(xlabel="t", ylabel="cosine similarity", title="nearby times look alike")
    axes[1].legend(fontsize=8)
    plt.show()
    """),
    md("""
    ## 3 · adaLN-Zero: how t steers every block

    The conditioning vector c = MLP(timestep embedding) + (pooled caption; lesson 07) is turned by one linear layer
    per block into a **shift**, a **scale** and a **gate** for each sublayer. A sublayer (attention or MLP) then
    runs as, in two lines:

    ```python
    h = layer_norm(x) * (1 + scale) + shift      # adaptive LayerNorm: c decides the statistics the sublayer sees
    x = x + gate * sublayer(h)                   # ... and how much of the sublayer's output is added
    ```

    That is the whole mechanism (DiT paper, section 3.2), and it beat cross-attention to t and in-context tokens
    there. By hand against `dit.modulate`, on the real first block:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    block = model.blocks[0]
    c = model.t_embedder(torch.tensor([0.5, 0.5]))  # b d (the text part is left out here)
    shift, scale, gate, *_ = block.adaLN_modulation(c).chunk(6, dim=1)  # each b d

    h_mine = torch.nn.functional.layer_norm(tokens, (cfg.width,), eps=1e-6) * (1 + scale[:, None]) + shift[:, None]
    assert torch.allclose(h_mine, dit.modulate(block.norm1(tokens), shift, scale), atol=1e-6)
    print("shift, scale, gate:", tuple(shift.shape), "each | by hand == dit.modulate ✓")
    print("at initialisation: |shift|, |scale|, |gate| max =",
          [round(v.abs().max().item(), 6) for v in (shift, scale, gate)])
    """),
    md("""
    ## 4 · Why zero-init

    The "Zero" in adaLN-Zero: the linear layer that produces shift, scale and gate starts with **zero weights and
    bias**, so every gate is 0 and every block starts as the identity (x + 0 · sublayer). The final layer's output
    projection starts at zero too. So the untrained model outputs **exactly 0**, for any input:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ids, mask = text.encode_batch(captions)
    x_t = diffusion.add_noise(z0, torch.randn(z0.shape, generator=torch.Generator().manual_seed(1)), torch.tensor([0.3, 0.8]))
    with torch.no_grad():
        out = model(x_t, torch.tensor([0.3, 0.8]), ids, mask)
    print("output", tuple(out.shape), "| all exactly zero:", bool((out == 0).all()))
    with torch.no_grad():
        print("block 0 is the identity:", torch.equal(block(tokens, c, *model.text_encoder(ids, mask)[:2], grid,
                                                              dit.rope_3d(grid, cfg.width // cfg.heads)), tokens))
    """),
    md("""
    Why want that? A deep network at random initialisation outputs large random values, and the first training
    steps are spent undoing them. A network that starts as "predict 0" starts from a sensible baseline: for flow
    matching the loss at step 0 is E[(ε − x₀)²] ≈ 1 + 1 = 2 for unit-variance latents, and every block is free to
    switch itself on gradually (the gradients into the gates are not zero, because the sublayers' outputs are not).
    Training then looks like growing the network from the identity, which is what made very deep DiTs stable.
    """),
    code("""
    eps = torch.randn(z0.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        loss0 = diffusion.flow_matching_loss(model, z0, ids, mask, t=torch.tensor([0.5, 0.5]), eps=eps)
    print(f"flow-matching loss of the untrained model: {loss0:.3f} = mean((eps - x0)^2) = "
          f"{(eps - z0).square().mean():.3f}")
    assert torch.allclose(loss0, (eps - z0).square().mean())
    """),
    md("""
    ## 5 · 3D rotary positions

    Attention by itself does not know where a token is. minivid uses **rotary position embeddings** (RoPE; Su et al.
    2021) in 3D, as CogVideoX and HunyuanVideo do: each head's 32 channels form 16 rotation pairs, split between
    time, rows and columns, and each pair of q and k is rotated by an angle proportional to the token's coordinate
    along that axis:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    head_dim = cfg.width // cfg.heads
    print(f"head width {head_dim} -> {head_dim // 2} rotation pairs for (t, h, w):", dit.rope_axis_pairs(head_dim))
    """),
    md("""
    Rotating q by angle α·m and k by α·n makes their dot product depend on α·(m − n) only, so the attention score
    between two tokens depends on their **offset** (dt, dh, dw), not their absolute positions. Check it on the real
    tables: the score between tokens at (1, 0, 1) and (3, 2, 2) equals the score between (2, 1, 1) and (4, 3, 2),
    both offset by (2, 2, 1):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    cos, sin = dit.rope_3d(grid, head_dim)  # (n e) each, tokens in (t h w) order
    index = lambda t, h, w: (t * grid[1] + h) * grid[2] + w  # noqa: E731  token number of a grid cell
    gq = torch.Generator().manual_seed(3)
    q, k = torch.randn(head_dim, generator=gq), torch.randn(head_dim, generator=gq)


    def score(pos_q, pos_k):
        qi, ki = index(*pos_q), index(*pos_k)
        return dit.apply_rope(q, cos[qi], sin[qi]) @ dit.apply_rope(k, cos[ki], sin[ki])


    a, b = score((1, 0, 1), (3, 2, 2)), score((2, 1, 1), (4, 3, 2))
    assert torch.allclose(a, b, atol=1e-4)
    assert torch.allclose(dit.apply_rope(q, cos[7], sin[7]).norm(), q.norm())  # a rotation keeps lengths
    print("same offset, same score ✓ | rotation keeps the length of q ✓ | a different offset gives another score:",
          not torch.allclose(a, score((1, 0, 1), (3, 3, 3)), atol=1e-4))
    """),
    md("""
    Relative positions are what let one model handle clips of other lengths and sizes (nothing is a position it
    has never seen in absolute terms), and RoPE needs no parameters and no table to resize.

    **Two fixes for a tiny grid.** At this scale, offsets alone leave the model half blind. With RoFormer's base
    10000, most rotation pairs barely turn across a 4-patch frame, so they carry no position. And ShapesWorld
    objects must stay fully inside the canvas, and the first latent frame is encoded alone by the causal VAE, but
    with offsets only, a patch next to the edge looks like any other. The shipped preset `"shapes-edges"` makes two
    changes. It uses **rotary base 100**, as RoPE-ViT (Heo et al. 2024) does for images. It also adds **edge
    distances**: each token adds learned vectors for how many patches it is from the first frame and from each
    of the four edges. These are clamped at 3 ("far"), so any canvas gives distances the model knew. Measured at
    equal training steps (9,000), 69.6% instead of 56.8% of single-object prompts come out right
    (`benchmarks/results/t2v_recipes.json`):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    pairs = dit.rope_axis_pairs(head_dim)[1]  # rotation pairs of the row axis
    for base in (10000.0, 100.0):
        turns = [round(3 * base ** (-i / pairs), 2) for i in range(pairs)]  # radians between rows 0 and 3
        print(f"base {base:>5g}: each row pair turns {turns} rad from the top row to the bottom one")
    d = dit.edge_distances(grid, k=4)  # (n 5): first frame, top, bottom, left, right
    print("grid", grid, "| edge distances of token (t=0, h=0, w=1):", d[index(0, 0, 1)].tolist(),
          "| of token (t=2, h=2, w=1):", d[index(2, 2, 1)].tolist())
    """),
    md("""
    ## 6 · Full versus factorised attention: which token sees which

    **Full** attention lets each of the N = 80 tokens attend to all 80. **Factorised** attention (ViViT, Latte,
    Open-Sora's STDiT; the `"shapes-factorised"` preset) does two cheaper passes: **spatial**, within each latent
    frame (S = 16 tokens), then **temporal**, across the F = 5 frames at each spatial position. Rather than draw
    what it *should* do, we **measure** the real block: perturb one input token at a time and record which output
    tokens change. Row i, column j is dark when output token i depends on input token j:
    """),
    code("""
    fblock = DiTBlock(dit.DIT_PRESETS["shapes-factorised"])  # a fresh factorised block (random weights)


    def measured_mask(attend, grid, width=cfg.width):
        \"\"\"(n n) bool: does output token i change when input token j is perturbed? One batch, one row per j.\"\"\"
        n = math.prod(grid)
        x0 = torch.randn(1, n, width, generator=torch.Generator().manual_seed(4))
        x = x0.expand(n, -1, -1).clone()
        x[torch.arange(n), torch.arange(n)] += 1.0  # copy j has token j perturbed
        rope = dit.rope_3d(grid, width // cfg.heads)
        with torch.no_grad():
            base = attend(x0, grid, rope)
            changed = (attend(x, grid, rope) - base).abs().amax(-1) > 1e-6  # (j, i)
        return changed.T  # (i, j): output i depends on input j


    attend_full = lambda x, grid, rope: fblock.attn(x, rope=rope)  # noqa: E731  the same layer, over all tokens
    masks = {"full": measured_mask(attend_full, grid), "spatial (factorised)": measured_mask(fblock.attend_space, grid),
             "temporal (factorised)": measured_mask(fblock.attend_time, grid)}
    masks["spatial then temporal"] = (masks["temporal (factorised)"].float() @ masks["spatial (factorised)"].float()) > 0

    fig, axes = plt.subplots(1, 4, figsize=(12, 3.3), layout="constrained")
    for ax, (name, m) in zip(axes, masks.items()):
        ax.imshow(m, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{name}\\n{int(m.sum()):,} of {m.numel():,} pairs", fontsize=9)
        ax.set(xlabel="input token j", ylabel="output token i")
    plt.show()
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for name, m in masks.items():
        print(f"{name:22s} each token sees {int(m.sum(1).min()):2d} tokens")
    assert masks["spatial then temporal"].all()  # two hops: every token reaches every other
    """),
    md("""
    Spatial attention is block-diagonal (16 × 16 blocks, one per latent frame), temporal attention is a set of
    stripes (the same position in every frame, every 16th token), and the two in sequence connect everything, in
    two hops. The price is indirectness: a token cannot look *directly* at another place in another frame.

    ## 7 · What it costs

    Parameter counts of the presets (with the shipped VAE's 8 latent channels and the tokenizer's vocabulary), and
    forward FLOPs from `patching.dit_flops` for one 80-token clip:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for name in dit.DIT_PRESETS:
        m = DiT.from_preset(name, latent_channels=8, text_vocab_size=text.vocab_size)
        c_ = m.config
        f = patching.dit_flops(80, c_.width, c_.depth, mlp_ratio=int(c_.mlp_ratio), attention=c_.attention,
                               tokens_per_frame=16)
        print(f"{name:18s} {m.num_params():>10,} parameters | {f.total / 1e6:7.1f} MFLOP per forward on 80 tokens "
              f"(attention {f.attention / f.total:.0%}, MLP {f.mlp / f.total:.0%})")
    """),
    md("""
    At 80 tokens attention is a small share and factorising it only adds projections: the factorised model is
    bigger *and* slower here. It pays off for long, large videos (lesson 02: at Sora's 61,440 tokens full attention
    is ~90% of the work). Finally a forward pass of the real model on noisy real latents, and its wall-clock time
    on this machine:
    """),
    code("""
    with torch.no_grad():
        start = time.perf_counter()
        for _ in range(5):
            v = model(x_t, torch.tensor([0.3, 0.8]), ids, mask)
        per_call = (time.perf_counter() - start) / 5
    print(f"x_t {tuple(x_t.shape)} + t + captions -> v {tuple(v.shape)}: {1000 * per_call:.0f} ms per forward "
          f"(batch of {len(x_t)}, 1 CPU thread)")
    """),
    md("""
    ## 8 · Play with it

    Pick an attention kind and a clip length in latent frames (4 × 4 tokens each); the picture is the measured
    dependency mask, the text the FLOPs of a `"shapes"`-sized model (width 128, depth 8). The controls need a
    running kernel; a static example follows.
    """),
    code("""
    KINDS = {"full": attend_full, "spatial (factorised)": fblock.attend_space, "temporal (factorised)": fblock.attend_time}


    def explore_attention(kind="spatial (factorised)", frames=5):
        g = (frames, 4, 4)
        m = measured_mask(KINDS[kind], g)
        n = math.prod(g)
        fig, ax = plt.subplots(figsize=(3.2, 3.2), layout="constrained")
        ax.imshow(m, cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
        ax.set(title=f"{kind}, {frames} frames", xlabel="input token", ylabel="output token")
        plt.show()
        full = patching.dit_flops(n, 128, 8)
        fact = patching.dit_flops(n, 128, 8, attention="factorised", tokens_per_frame=16)
        print(f"N = {n} tokens; each sees {int(m.sum(1).min())}. Forward: full {full.total / 1e6:.1f} MFLOP "
              f"(attention {full.attention / full.total:.0%}), factorised {fact.total / 1e6:.1f} MFLOP")


    controls = dict(kind=widgets.Dropdown(options=list(KINDS), value="spatial (factorised)", description="attention"),
                    frames=widgets.IntSlider(value=5, min=1, max=12, description="frames"))
    display(widgets.HBox(list(controls.values())), widgets.interactive_output(explore_attention, controls))
    """),
    code("""
    explore_attention("temporal (factorised)", 3)  # a static example
    """),
    md("""
    ## 9 · Your turn: the factorised attention masks

    Write the two masks from token coordinates alone: token k of a (gt, gh, gw) grid sits in frame
    `k // (gh·gw)` at spatial position `k % (gh·gw)` (time-major order, lesson 02). `my_spatial_mask(grid)` is True
    at (i, j) when tokens i and j are in the same frame; `my_temporal_mask(grid)` when they are at the same spatial
    position.

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code** and run the check below it: it raises an `AssertionError` saying which case failed if your masks disagree
    with what the real `DiTBlock` does, measured as in section 6.
    """),
    code("""
    def my_spatial_mask(grid):
        \"\"\"(n n) bool: token i and token j are in the same latent frame.\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        s = grid[1] * grid[2]
        frame = torch.arange(math.prod(grid)) // s
        return frame[:, None] == frame[None, :]
        # ---------------------------------------------------------------------------------------------


    def my_temporal_mask(grid):
        \"\"\"(n n) bool: token i and token j are at the same spatial position (in any frames).\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        s = grid[1] * grid[2]
        place = torch.arange(math.prod(grid)) % s
        return place[:, None] == place[None, :]
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for g in [(5, 4, 4), (3, 2, 5), (1, 4, 4), (6, 1, 1)]:
        for mine, attend, what in ((my_spatial_mask, fblock.attend_space, "spatial"),
                                   (my_temporal_mask, fblock.attend_time, "temporal")):
            got, real = mine(g), measured_mask(attend, g)
            assert got.shape == real.shape, f"grid {g}, {what}: shape {tuple(got.shape)}, wanted {tuple(real.shape)}"
            assert torch.equal(got.bool(), real), f"grid {g}, {what}: {int((got.bool() != real).sum())} entries differ"
        print(f"grid {g}: both masks match the real block ✓")
    """),
    md("""
    ## Recap

    - A DiT turns a noisy latent video into tokens (**patchify + one linear layer**: 5 × 8 × 8 × 8 → 80 tokens of
      width 128), runs transformer blocks, and maps the tokens back to a tensor of the input's shape.
    - The noise level enters as a **sinusoidal timestep embedding** → MLP → the conditioning vector c.
    - **adaLN-Zero**: c regresses shift, scale and gate for every sublayer, `x + gate · f(LN(x)·(1 + scale) + shift)`;
      zero-initialised, so every block starts as the identity and the untrained model outputs exactly 0 (loss ≈ 2).
    - **3D RoPE** rotates q and k by their (t, h, w) coordinates: attention scores depend on offsets only.
    - **Full** attention: every token sees all N. **Factorised**: within the frame, then across frames at the same
      place; two hops reach everything, for N·(S + F) instead of N² work, which only pays off at large N.

    **Next: text conditioning** (the caption enters through cross-attention and the pooled text in c) and training
    the whole text-to-video model. Previous: [04 · Diffusion from scratch](04_diffusion_from_scratch.ipynb).
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
