"""Write notebooks/07_training_text_to_video.ipynb (without outputs).

    python notebooks/_build/make_07.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/07_training_text_to_video.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "07_training_text_to_video.ipynb"

cells = [
    md(f"""
    # 07 · Training text-to-video: putting the VAE, the DiT and the captions together

    {BADGE.format(name=NAME)}

    Lesson 07 of **minivid**. We have every part: a video VAE that turns a 17 × 32 × 32 clip into an 8 × 5 × 8 × 8
    latent (lesson 03), the flow-matching loss (lesson 04), a tokenizer for English and Chinese captions (lesson 05),
    and a diffusion transformer that predicts a velocity from a noisy latent, a time and a caption (lesson 06). This
    lesson trains them into a text-to-video model: first one training step written out by hand and checked against
    `minivid.train`, then a short live run with the package's own training loop, then the run that made the shipped
    checkpoint.

    **You will learn**

    - the recipe of `minivid.train.train_t2v`: **latents cached once** (and why, measured), **caption dropout** for
      classifier-free guidance, the **flow-matching loss with logit-normal times**, **AdamW** with **warm-up and cosine
      decay**, **gradient clipping** and an **EMA** of the weights;
    - **one training step by hand**, proved equal to the package (same loss, same weights, same EMA);
    - how a **live run** looks: loss curve, samples at saved EMA snapshots, a measured score at each snapshot;
    - why checkpoints are **atomic** and how **resuming** gives bit-for-bit the weights of an uninterrupted run;
    - how the shipped model was made (its sidecar, its wall-clock, its quality against time);
    - to write the learning-rate schedule yourself.

    Runs top to bottom in about two minutes on a laptop CPU, most of it the one-minute live training run.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import copy
    import dataclasses
    import json
    import math
    import os
    import tempfile
    import time
    from pathlib import Path

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from minivid import diffusion, evaluate, text, viz, world
    from minivid.checkpoint import (checkpoint_paths, find_shipped, latest_training_state, list_training_states,
                                    read_meta)
    from minivid.pipeline import TextToVideo
    from minivid.latents import cache_latents, load_latents
    from minivid.train import (T2VTrainConfig, build_dit, clip_batch, config_flags, ema_update, export_from_run, lr_at,
                               step_batch, train_t2v, training_chain, training_seconds_by_device, training_story)
    from minivid.vae import VideoVAE

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.set_num_threads(1)  # small models: one thread is fastest, and polite on a shared machine
    _ = torch.manual_seed(0)  # every random draw below is seeded

    VAE_PATH = find_shipped("data/vae/shapes")  # .../data/vae/shapes
    SHIPPED_T2V = find_shipped("data/t2v/shapes")
    ROOT = VAE_PATH.parents[2]  # the repository root
    WORK = Path(tempfile.mkdtemp(prefix="minivid-07-"))  # everything this lesson writes goes here
    vae = VideoVAE.from_pretrained(VAE_PATH, device="cpu")
    """),
    md("""
    ## The recipe in one picture (the defaults)

    ```
    once:        30,000 ShapesWorld clips ──VAE encoder──▶ latent cache (8 × 5 × 8 × 8 each) + captions
    every step:  32 cached latents x₀, their captions (10% replaced by the empty prompt), times t ~ logit-normal,
                 noise ε  ──▶  x_t = (1 − t)·x₀ + t·ε  ──DiT(x_t, t, caption)──▶  v̂
                 loss = mean (v̂ − (ε − x₀))²  ──▶  backward, clip the gradient norm to 1, AdamW at lr(step)
                 EMA ← decay · EMA + (1 − decay) · weights          (the EMA is what gets shipped)
    every 200:   atomic training-state checkpoint (model, EMA, optimizer, step) + an EMA snapshot
    ```

    Every setting is a field of `T2VTrainConfig` (and a command-line flag of `python -m minivid.train t2v`):
    """),
    code("""
    for field in dataclasses.fields(T2VTrainConfig):
        print(f"{field.name:16s} = {field.default!r}")
    """),
    md("""
    ## 1 · Cache the latents once

    The DiT never sees pixels: it learns to generate *latents*, which the VAE decodes at the end. The VAE is frozen
    while the DiT trains, and the encoder's posterior **mean** is a deterministic function of the clip, so the latent
    of clip i never changes. Encoding it again at every epoch would be pure waste. How much waste? Time it: render
    and encode one batch of 32 clips, against one training step (forward and backward) of the shipped-size DiT on a
    batch of 32 latents.
    """),
    code("""
    def best_of(fn, repeats=2):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)


    stream = world.ShapesWorld(32, "train", seed=0)
    clips32 = clip_batch(stream, 0, 32)
    with torch.no_grad():
        z32 = vae.encode_clips(clips32)
    big = build_dit("shapes", latent_channels=z32.shape[1])
    ids32, mask32 = text.encode_batch([item["caption"] for item in stream.__getitems__(list(range(32)))])


    def dit_step():
        big.zero_grad()
        diffusion.flow_matching_loss(big, z32, ids32, mask32, generator=torch.Generator().manual_seed(0)).backward()


    t_render = best_of(lambda: clip_batch(stream, 0, 32))
    with torch.no_grad():
        t_encode = best_of(lambda: vae.encode_clips(clips32))
    t_step = best_of(dit_step)
    print(f"render 32 clips {t_render:.2f} s | encode them {t_encode:.2f} s | one DiT training step on 32 latents "
          f"{t_step:.2f} s  (1 CPU thread)")
    print(f"without a cache every step would cost {(t_render + t_encode) / t_step:.0%} more")
    """),
    md("""
    So on a CPU, rendering and encoding cost a sizeable fraction of a DiT step, and would be paid again every time a
    clip comes back. With the cache it is paid once per clip (section 6 shows what the recipe's 30,000-clip cache
    took), and training reads a tensor from memory. The cache also fixes the data: 30,000 clips, each seen a few times,
    instead of an endless stream; for this recipe that is plenty (section 6 counts the passes).

    `cache_latents(vae, dataset, n, path)` encodes clips 0..n−1 of a dataset in batches and saves them as a verified
    checkpoint of kind `"latents"`: the latents (already multiplied by the VAE's scaling factor, so unit-variance,
    ready for diffusion), the clip indices, and in the sidecar the captions and what is needed to re-render any clip.
    For the live run we cache **512 single-object clips** (the recipe mixes in two-object scenes; one object is an
    easier task for a one-minute run), into a temporary directory:
    """),
    code("""
    start = time.perf_counter()
    live_data = world.ShapesWorld(512, "train", seed=0, two_object_prob=0.0)
    cache_path = cache_latents(vae, live_data, len(live_data), WORK / "latents", batch_size=64)
    cache = load_latents(cache_path)
    print(f"encoded {len(cache)} clips in {time.perf_counter() - start:.1f} s")
    assert 0.8 < cache.latents.std() < 1.2  # scaled latents: unit variance, as diffusion expects
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("latents:", tuple(cache.latents.shape), cache.latents.dtype, "| layout:", cache.meta["layout"],
          "| scaled:", cache.meta["scaled"])
    print("files:", sorted(p.name for p in WORK.iterdir()))
    for i in range(4):
        print(f"clip {int(cache.indices[i])}: {cache.captions[i]}")
    """),
    md("""
    The captions come in English, traditional and simplified Chinese, in several phrasings: the model learns all of
    them from the same latents. A cached latent is a video: decode it with the VAE and the clip is back.
    """),
    code("""
    viz.frame_strip(vae.decode_latents(cache.latents[:2]), [f"clip {i}" for i in range(2)], every=4)
    """),
    md("""
    ## 2 · One training step, by hand

    ### 2a · The batch

    Everything random about step k (which clips, which times, which noise, which captions are dropped) comes from one
    CPU generator seeded with (seed, k). No data-loader state, no epoch counter: batch k is a pure function of the
    step number, which is what makes resuming exact (section 5) and lets N data-parallel processes each take a slice
    of the same global batch. The live run's configuration (the `"tiny"` preset, 68k
    parameters, with a larger peak learning rate than the recipe's 3.4M-parameter model):
    """),
    code("""
    cfg = T2VTrainConfig(preset="tiny", vae=str(VAE_PATH), cache_clips=len(cache), batch_size=32, steps=800,
                         lr=2e-3, warmup_steps=50, checkpoint_every=100, threads=1)
    latents = cache.latents.float()
    latent_shape = tuple(latents.shape[1:])  # z t h w


    def my_batch(step):
        g = torch.Generator().manual_seed(cfg.seed * 1_000_000_007 + step)  # one generator per step
        b = cfg.batch_size
        index = torch.randint(0, len(latents), (b,), generator=g)  # which cached clips
        t = torch.sigmoid(torch.randn(b, generator=g))  # logit-normal times (lesson 04)
        eps = torch.randn((b, *latent_shape), generator=g)  # the noise
        drop = torch.rand(b, generator=g) < cfg.caption_dropout  # captions replaced by the empty prompt
        return index, t, eps, drop


    index, t, eps, drop = my_batch(0)
    ref = step_batch(cfg, 0, len(latents), latent_shape)
    assert all(torch.equal(mine, ref[k]) for mine, k in zip((index, t, eps, drop), ("index", "t", "eps", "drop")))
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(f"step 0: {len(index)} clips, t in ({t.min():.2f}, {t.max():.2f}), eps {tuple(eps.shape)}, "
          f"{int(drop.sum())} of {len(drop)} captions dropped | my_batch == train.step_batch ✓")
    """),
    md("""
    ### 2b · Caption dropout

    At sampling time, classifier-free guidance (lesson 05) needs two predictions: with the prompt, and *without* it,
    then pushes the sample away from the second. We do not train a second network for the unconditional one: a
    random 10% of the captions are replaced by the **empty prompt** (just the `<bos>` token), so the same DiT learns
    both. The rows of `text_ids` of the dropped captions:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    captions = [None if d else cache.captions[i] for i, d in zip(index.tolist(), drop.tolist())]
    ids, mask = text.encode_batch(captions)  # None = the empty prompt
    print("text ids", tuple(ids.shape), "| the empty prompt is", ids[drop][0, :4].tolist(), "...,",
          int(mask[drop][0].sum()), "real token")
    for i in drop.nonzero().flatten()[:2].tolist():
        print(f"row {i}: {cache.captions[index[i]]!r} -> dropped")
    """),
    md("""
    ### 2c · The loss

    Lesson 04's flow matching on video latents: mix each latent with its noise at its time, ask the DiT for the
    velocity, and take the mean squared error to the true velocity ε − x₀. The network is built exactly as
    `train_t2v` builds it (`build_dit` fits a preset to the VAE's 8 channels and the tokenizer), from the same seed:
    """),
    code("""
    torch.manual_seed(cfg.seed)
    model = build_dit(cfg.preset, latent_channels=latent_shape[0])  # the "tiny" preset: width 32, depth 2
    ema = copy.deepcopy(model).requires_grad_(False)  # the average starts as a copy
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=cfg.weight_decay)


    def my_loss(model, index, t, eps, ids, mask):
        x0 = latents[index]
        tt = t.view(-1, 1, 1, 1, 1)  # broadcast over c t h w
        x_t = (1 - tt) * x0 + tt * eps  # the straight path from data to noise
        v = model(x_t, t, ids, mask)  # predicted velocity
        return (v - (eps - x0)).square().mean()


    loss = my_loss(model, index, t, eps, ids, mask)
    assert torch.allclose(loss, diffusion.flow_matching_loss(model, latents[index], ids, mask, t=t, eps=eps))
    print(f"loss at step 0: {loss.item():.4f} (my_loss == diffusion.flow_matching_loss ✓)")
    """),
    md("""
    ### 2d · The update: learning rate, clipping, AdamW, EMA

    - **Learning rate.** Linear warm-up from 0 over the first `warmup_steps`, then a half cosine down to
      `lr · min_lr_ratio` at the last step (`train.lr_at`, a pure function of the step: resuming needs no scheduler
      state). At step 0 it is lr / warmup_steps. Warm-up protects the first steps, when Adam's running statistics
      are still poor estimates.
    - **Gradient clipping.** If the global gradient norm exceeds 1, scale all gradients down to norm 1: one bad
      batch cannot throw the weights far.
    - **AdamW** with β = (0.9, 0.99) and no weight decay (the data are plentiful for a model this size).
    - **EMA.** After each step, `ema ← d · ema + (1 − d) · weights` with d = min(0.998, (1 + k) / (10 + k)): the
      decay is small at first, so the average forgets the random initialisation quickly, and grows towards 0.998.
      The EMA weights are smoother than the raw ones and are the ones shipped.
    """),
    code("""
    def my_ema_update(ema, model, decay):
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters()):
                e.copy_(decay * e + (1 - decay) * p)


    def my_step(step):
        index, t, eps, drop = my_batch(step)
        ids, mask = text.encode_batch([None if d else cache.captions[i] for i, d in zip(index.tolist(), drop.tolist())])
        lr = cfg.lr * (step + 1) / cfg.warmup_steps if step < cfg.warmup_steps else lr_at(cfg, step)  # cosine: § 8
        for group in optimizer.param_groups:
            group["lr"] = lr
        loss = my_loss(model, index, t, eps, ids, mask)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        norm = torch.sqrt(sum(g.square().sum() for g in grads))  # global gradient norm
        for g in grads:
            g.mul_(min(1.0, cfg.grad_clip / (norm.item() + 1e-6)))  # clip to norm <= grad_clip
        optimizer.step()
        decay = min(cfg.ema_decay, (1 + step) / (10 + step))
        my_ema_update(ema, model, decay)
        return loss.item(), norm.item(), lr, decay


    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss0, norm0, lr0, decay0 = my_step(0)
    print(f"step 0: loss {loss0:.4f}, gradient norm {norm0:.3f}, lr {lr0:.1e}, EMA decay {decay0:.2f}")
    """),
    md("""
    Now the package: `train_t2v` with the same configuration, stopped after one step (`stop_at=1`, as if the run
    were killed right after its first checkpoint), into its own run directory. Its log records the loss of that step;
    `return_model=True` returns the raw weights next to the EMA.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    pkg_ema, pkg_model = train_t2v(cfg, WORK / "one-step", cache=cache, stop_at=1, progress=False, snapshots=False,
                                   return_model=True)
    pkg_loss = json.loads((WORK / "one-step" / "log.jsonl").read_text().splitlines()[-1])["loss"]
    assert math.isclose(loss0, pkg_loss, rel_tol=1e-6), (loss0, pkg_loss)
    for name, mine in model.state_dict().items():
        assert torch.allclose(mine, pkg_model.state_dict()[name], atol=1e-7), name
    for name, mine in ema.state_dict().items():
        assert torch.allclose(mine, pkg_ema.state_dict()[name], atol=1e-6), name
    a, b = copy.deepcopy(pkg_ema), copy.deepcopy(pkg_ema)  # and the update rule alone, at decay 0.9:
    my_ema_update(a, model, 0.9)
    ema_update(b, model, 0.9)  # the package's (a lerp)
    assert all(torch.allclose(x, y, atol=1e-7) for x, y in zip(a.parameters(), b.parameters()))
    print("same loss ✓ | same weights after AdamW ✓ | same EMA ✓ | my_ema_update == train.ema_update ✓")
    """),
    md("""
    Which weights did that first step move? Lesson 06's **adaLN-Zero**: the final layer's projection starts at
    zero, so the gradient of everything before it is exactly zero at step 0, and only the final layer learns. From
    the next step on, the final layer is not zero any more and the gradient reaches the blocks:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    def moved(reference):
        return [k for k, v in model.state_dict().items() if not torch.equal(v, reference[k])]


    print(f"after step 0: {len(moved(before))} of {len(before)} tensors moved:", moved(before))
    for step in (1, 2):
        my_step(step)
    print(f"after step 2: {len(moved(before))} of {len(before)} tensors moved")
    _, pkg_model = train_t2v(cfg, WORK / "three-steps", cache=cache, stop_at=3, progress=False, snapshots=False,
                             return_model=True)
    assert all(torch.allclose(v, pkg_model.state_dict()[k], atol=1e-6) for k, v in model.state_dict().items())
    print("three steps by hand == train_t2v(stop_at=3) ✓")
    """),
    md("""
    ## 3 · The schedules

    The learning rate of the live run (800 steps, peak 2·10⁻³: a small model tolerates a larger step) and of
    the shipped model's last run (read from its sidecar), both from `train.lr_at`, and the EMA decay with its
    **averaging window** 1 / (1 − d), roughly how many recent steps the EMA remembers:
    """),
    code("""
    shipped_meta = read_meta(SHIPPED_T2V, kind="t2v")
    recipe = T2VTrainConfig(**shipped_meta["train_config"])  # how the shipped model was trained
    fig, axes = plt.subplots(1, 3, figsize=(12, 2.8), layout="constrained")
    for ax, c, name in ((axes[0], cfg, "live run ('tiny')"), (axes[1], recipe, f"shipped ({recipe.preset!r})")):
        steps = np.arange(c.steps)
        ax.plot(steps, [lr_at(c, int(k)) for k in steps])
        ax.axvline(c.warmup_steps, color="grey", lw=0.8, ls="--")
        ax.set(xlabel="step", ylabel="learning rate")
        ax.set_title(f"{name}\\nwarm-up {c.warmup_steps}, cosine to {c.min_lr_ratio:g} x peak", fontsize=10)
    k = np.arange(recipe.steps)
    window = 1 / (1 - np.minimum(recipe.ema_decay, (1 + k) / (10 + k)))
    axes[2].plot(k, window)
    axes[2].set(xlabel="step", ylabel="steps averaged, 1 / (1 - d)")
    axes[2].set_title("EMA window\\n(shipped recipe)", fontsize=10)
    plt.show()
    k_full = math.ceil((10 * recipe.ema_decay - 1) / (1 - recipe.ema_decay))  # (1 + k) / (10 + k) >= decay from here
    ran = shipped_meta["steps_trained"]  # the last run was stopped early (--stop-at): its schedule is cut there
    for ax in axes[1:]:
        ax.axvline(ran, color="tab:red", lw=1, ls=":")
    print(f"the EMA decay reaches {recipe.ema_decay} at step {k_full:,}; the shipped model's last run planned "
          f"{recipe.steps:,} steps, ran {ran:,} (red line), and its EMA ended averaging over the last "
          f"~{window[min(ran, recipe.steps) - 1]:.0f} steps")
    """),
    md("""
    ## 4 · A live run with the package's training loop

    Now the real code path, `train_t2v`, for 800 steps of the `"tiny"` preset on the 512 cached clips: about a
    minute on one CPU thread. It writes, in the run directory: `config.json`, `log.jsonl` (loss, lr, steps per second
    every 10 steps), a **training state** every `checkpoint_every` steps (model, EMA, optimizer, step, RNG; the newest
    two are kept) and an **EMA snapshot** in the shipped format (`ema-{step}`), which `TextToVideo` loads like the
    shipped model.
    """),
    code("""
    RUN = WORK / "live"
    start = time.perf_counter()
    live_ema = train_t2v(cfg, RUN, cache=cache, progress=False)
    live_seconds = time.perf_counter() - start
    print(f"{cfg.steps} steps of {cfg.batch_size} latents in {live_seconds:.0f} s ({cfg.steps / live_seconds:.1f} "
          f"steps/s), {live_ema.num_params():,} parameters")
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("\\n".join(sorted(p.name for p in RUN.iterdir())))
    """),
    md("""
    Every file is written **atomically**: to a temporary file in the same directory, flushed to disk, then renamed
    over the final name (`os.replace`), so a reader sees the old file or the new one, never half of one. A
    checkpoint is a `.safetensors` file plus a `.json` sidecar that records its size and SHA-256; the sidecar is
    written last. `latest_training_state` takes the newest state that verifies, so a run killed while writing falls
    back to the previous one (section 5 tries it).

    ### The loss curve
    """),
    code("""
    log = [json.loads(line) for line in (RUN / "log.jsonl").read_text().splitlines()]
    log_steps, log_loss, log_lr = (np.array([r[k] for r in log]) for k in ("step", "loss", "lr"))
    fig, ax = plt.subplots(figsize=(7, 2.8), layout="constrained")
    ax.plot(log_steps, log_loss, ".-", ms=3, label="loss (one batch, every 10 steps)")
    ax.set(xlabel="step", ylabel="flow-matching loss", title="live run")
    ax2 = ax.twinx()
    ax2.plot(log_steps, log_lr, color="grey", lw=0.8)
    ax2.set_ylabel("learning rate", color="grey")
    ax.legend(fontsize=8)
    plt.show()
    assert log_loss[-10:].mean() < log_loss[:3].mean()  # it learns
    """),
    md("""
    The loss falls fast from about 2 (lesson 06: the zero-initialised model predicts 0, and
    E[(ε − x₀)²] ≈ 1 + 1), then slowly. It never approaches 0: from a noisy x_t the velocity ε − x₀ is not
    determined (many clean clips could have produced it), so even the perfect model has a large irreducible loss,
    and a batch of 32 makes the curve noisy. **The loss is a poor ruler of quality**; the samples are the real test.

    ### Samples improving

    Each EMA snapshot is a complete model. Sample the same 16 single-object prompts, with the same seed, from every
    snapshot (20 Euler steps, guidance 4, the defaults recorded in the snapshot), and read the videos with
    `minivid.evaluate.describe_batch` (lesson 09), which lists the objects it finds in a clip with their colour,
    shape, motion and area. Strict prompt adherence is far out of reach at this budget, so we ask softer questions:
    how many objects does a clip show (every training clip has exactly one), and does the *largest* one have the
    prompt's colour (and shape)?
    """),
    code("""
    rng = np.random.default_rng(7)
    PROMPTS = [world.caption(world.sample_scene(rng, num_objects=1)) for _ in range(16)]
    snapshots = sorted(RUN.glob("ema-*.json"))
    snap_steps = [int(p.stem.split("-")[1]) for p in snapshots]
    WANTED = [text.parse_prompt(p)[0] for p in PROMPTS]  # (shape, colour, motion) of each prompt's object


    def read_samples(videos):
        \"\"\"Soft scores of single-object samples: objects found, and whether the largest is what was asked.\"\"\"
        found = evaluate.describe_batch(videos)
        largest = [max(f, key=lambda o: o.area) if f else None for f in found]
        colour = [o is not None and o.colour == w[1] for o, w in zip(largest, WANTED)]
        both = [c and o.shape == w[0] for c, o, w in zip(colour, largest, WANTED)]
        return {"objects per clip": np.mean([len(f) for f in found]), "largest: right colour": np.mean(colour),
                "largest: right colour and shape": np.mean(both), **evaluate.prompt_adherence(videos, PROMPTS, found)}


    samples, scores = {}, {}
    start = time.perf_counter()
    for step, path in zip(snap_steps, snapshots):
        pipe = TextToVideo.from_pretrained(path.with_suffix(""), device="cpu")
        samples[step] = pipe(PROMPTS, seed=0)
        scores[step] = read_samples(samples[step])
    print(f"sampled and read {len(PROMPTS)} prompts at {len(snap_steps)} snapshots "
          f"in {time.perf_counter() - start:.0f} s")
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("snapshots at steps", snap_steps, "| prompts:", PROMPTS[:3], "...")
    """),
    code("""
    shown_steps = [snap_steps[0], snap_steps[len(snap_steps) // 2 - 1], snap_steps[-1]]  # 100, 400, 800


    def three_frames(video):  # frames 0, 8, 16 side by side, white gaps
        gap = torch.ones(3, video.shape[-2], 2)
        f = video.shape[0] - 1
        return torch.cat([video[0], gap, video[f // 2], gap, video[f]], dim=-1).permute(1, 2, 0).clamp(0, 1)


    fig, axes = plt.subplots(len(shown_steps), 3, figsize=(7.5, 0.95 * len(shown_steps)), layout="constrained")
    for row, step in zip(axes, shown_steps):
        for j, ax in enumerate(row):
            ax.imshow(three_frames(samples[step][j]), interpolation="nearest")
            ax.set(xticks=[], yticks=[])
            if step == shown_steps[0]:
                ax.set_title(PROMPTS[j], fontsize=9)
        row[0].set_ylabel(f"step {step}")
    plt.show()

    fig, axes = plt.subplots(1, 2, figsize=(10, 2.6), layout="constrained")
    axes[0].plot(snap_steps, [scores[s]["objects per clip"] for s in snap_steps], "o-", ms=3)
    axes[0].axhline(1, color="grey", ls="--", lw=0.8)
    axes[0].set(xlabel="step", ylabel="objects found per clip", ylim=(0, None), title="the data has exactly 1")
    for key in ("largest: right colour", "largest: right colour and shape", "overall"):
        axes[1].plot(snap_steps, [scores[s][key] for s in snap_steps], "o-", ms=3, label=key)
    axes[1].axhline(1 / len(world.COLOURS), color="grey", ls="--", lw=0.8, label="colour by chance")
    axes[1].set(xlabel="step", ylabel=f"fraction of {len(PROMPTS)} prompts", ylim=(-0.05, 1.05),
                title="what the evaluator reads in the samples")
    axes[1].legend(fontsize=7)
    plt.show()
    """),
    md("""
    Read the pictures honestly: at this budget the samples are **blobs**. Early snapshots scatter several patches of
    colour over the frame; later ones tend to fewer, larger blobs, which is what the object count measures: the model
    learns "one object" before it learns "which object". Whether the largest blob has the prompt's colour moves above
    chance only a little, and with 16 prompts each point is noisy (one prompt is 6%). Shapes with edges, the right
    motion and an object that stays the same from frame to frame need far more: the shipped model is 50 times
    larger and was trained far longer on many more clips (section 6 puts the two side by side).
    """),
    md("""
    ## 5 · Resuming is exact

    A long run gets interrupted. `train_t2v(..., resume=True)` continues from the newest training state, and because
    the batch, the times, the noise and the learning rate are all pure functions of the step, and the state holds
    the model, the EMA and Adam's moments, the result is **bit for bit** the run that was never interrupted. Check it:
    20 steps straight, against 10 steps, a "crash", and 10 resumed steps.
    """),
    code("""
    short = dataclasses.replace(cfg, steps=20, warmup_steps=5, checkpoint_every=5)
    straight_ema, straight = train_t2v(short, WORK / "straight", cache=cache, progress=False, snapshots=False,
                                       return_model=True)
    train_t2v(short, WORK / "interrupted", cache=cache, stop_at=10, progress=False, snapshots=False)  # ... crash
    after_crash = [p.stem for p in list_training_states(WORK / "interrupted")]
    resumed_ema, resumed = train_t2v(short, WORK / "interrupted", cache=cache, resume=True, progress=False,
                                     snapshots=False, return_model=True)  # it says where it resumes from
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("training states after the crash:", after_crash)
    for a, b in ((straight, resumed), (straight_ema, resumed_ema)):
        assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    print("20 straight == 10 + 10 resumed, model and EMA, bit for bit ✓")
    """),
    md("""
    And if the process dies *while* writing a
    checkpoint? Truncate the newest state's tensor file, as a crash mid-write would: it no longer matches the size and
    hash its sidecar records, and `latest_training_state` falls back to the previous one.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    newest = latest_training_state(WORK / "interrupted")  # the sidecar, state-{step}.json
    tensors, sidecar = checkpoint_paths(newest)
    tensors.write_bytes(tensors.read_bytes()[: tensors.stat().st_size // 2])  # half a file
    print(f"{tensors.name} cut in half -> resume would use {latest_training_state(WORK / 'interrupted').stem}")
    """),
    md("""
    ## 6 · How the shipped model was made

    The shipped checkpoint `data/t2v/shapes` is the EMA of the recipe above with the `"shapes-edges"` preset, in
    fourteen runs. Three ran on one thread of the 2-core CPU: the defaults of `T2VTrainConfig` from scratch, then a run
    that starts from those weights (`--init-from`: a fresh optimiser and learning-rate schedule, new batches) and
    trains at high noise more often, then one more like it. The next four ran on a borrowed GPU (an H200, minutes
    each): the same continuation with 16 times the batch (512 clips), a four times larger latent cache (120,000
    clips) and bf16 autocast, twice; the last two also with the auxiliary text loss of lesson 05 on every word
    token and rotating clips drawn three times as often. Two of those were stopped before the end of their
    schedules (`--stop-at`) when the GPU's time was up. The eighth went back to the CPU, both cores: the seventh's
    recipe at batch 64 with `torch.compile`, 13,000 steps in 74 minutes (two DDP ranks), and the ninth did the same
    again on fresh clips (72 minutes). The tenth and eleventh ran the same command on a slower CPU without bf16
    instructions, 4,500 and 8,000 steps on one more fresh cache (63 and 113 minutes), and the twelfth to fourteenth
    7,500 steps each on three more (100, 103 and 105 minutes). Its sidecar records each run's training
    configuration, steps and wall-clock (`train.training_chain` lists them, oldest first). Set `TRAIN_FROM_SCRATCH = True` to rerun that exact recipe here, in-process, with a
    progress bar (training states in `runs/t2v/lesson07` at the repository root, resumable: run the cell again
    after an interruption; latent caches go to `runs/latents` and are reused). On a GPU (*Runtime → Change runtime
    type* on Colab) that is a few hours, mostly the three small-batch runs; on one CPU thread the three CPU runs
    alone take about four and a half hours, the four big-batch runs about a day and the last seven about ten and a half hours together. The lesson then uses your
    model instead of the shipped one. Each run exports to `runs/t2v/lesson07/run<i>/shapes`, never over the
    shipped file.
    """),
    code("""
    TRAIN_FROM_SCRATCH = False  # True: the shipped model's full recipe (hours on a GPU, a day on a CPU thread)
    """),
    code("""
    defaults = T2VTrainConfig()
    # The shipped model's runs, oldest first: each later one continued the one before (--init-from). Each record
    # carries its recipe; a record older than that habit is the first run, made with the defaults (its steps check it).
    chain = training_chain(shipped_meta)
    assert all(r.get("train_config") for r in chain[1:]) and (chain[0].get("train_config")
                                                              or chain[0]["steps_trained"] == defaults.steps)
    stages = []  # (config, steps it ran, run directory here, run directory in the printed command)
    for i, r in enumerate(chain):
        c = T2VTrainConfig(**r["train_config"]) if r.get("train_config") else defaults
        c = dataclasses.replace(c, init_from=f"{stages[-1][2]}/shapes" if stages else "")
        ran = int(r.get("steps_trained", r.get("step", c.steps)))  # < c.steps: stopped early (--stop-at)
        stages.append((c, ran, f"runs/t2v/lesson07/run{i + 1}", f"runs/t2v/run{i + 1}"))
    for i, (c, ran, _, name) in enumerate(stages):
        flags = config_flags(c, skip=("init_from",))  # the fields that differ from the defaults
        start = f"--init-from {stages[i - 1][3]}/shapes " if i > 0 else ""
        export = "data/t2v/shapes" if i == len(stages) - 1 else f"{name}/shapes"
        if ran == c.steps:
            print(f"python -m minivid.train t2v {start}--out {name} --export {export}", *flags)
        else:  # stopped early: the EMA of the training state at that step is what was exported
            print(f"python -m minivid.train t2v {start}--out {name} --stop-at {ran}", *flags)
            print(f"python -m minivid.train export-t2v --run {name} --out {export}")
    if TRAIN_FROM_SCRATCH:
        here = os.getcwd()
        os.chdir(ROOT)  # the recipe's paths (data/vae/shapes, runs/latents) are relative to the repository root
        try:
            for c, ran, out, _ in stages:
                train_t2v(c, out, resume=True, stop_at=ran, device="auto")
                export_from_run(out, f"{out}/shapes")  # the EMA at step `ran`, as --export writes at the end
        finally:
            os.chdir(here)
        T2V_PATH = ROOT / stages[-1][2] / "shapes"
    else:
        T2V_PATH = SHIPPED_T2V
    pipe = TextToVideo.from_pretrained(T2V_PATH, device="cpu")
    print("using", T2V_PATH.relative_to(ROOT))
    """),
    md("""
    What the shipped model's sidecar says about its training:
    """),
    code("""
    tc, steps_done, seconds = shipped_meta["train_config"], shipped_meta["steps_trained"], shipped_meta["train_seconds"]
    seen = steps_done * tc["batch_size"]
    print(f"architecture: DiT {tc['preset']!r}, width {shipped_meta['config']['width']}, depth "
          f"{shipped_meta['config']['depth']}, "
          f"{sum(math.prod(s) for s in shipped_meta['tensors'].values()):,} parameters")
    print(f"data: {tc['cache_clips']:,} cached clips (seed {tc['data_seed']}), latents {shipped_meta['latent_shape']}, "
          f"VAE {shipped_meta['vae']['path']} (sha256 {shipped_meta['vae']['sha256'][:12]}...)")
    print(f"trained: {steps_done:,} steps x {tc['batch_size']} = {seen:,} latents seen "
          f"({seen / tc['cache_clips']:.1f} passes over the cache)")
    print(f"wall-clock: {seconds / 60:.1f} min ({steps_done / seconds:.2f} steps/s) on "
          f"{shipped_meta.get('trained_on', 'the CPU')}, {tc['threads'] or 'default'} CPU thread(s)"
          + (f"; stopped at step {steps_done:,} of a {tc['steps']:,}-step schedule" if steps_done < tc["steps"] else ""))
    if shipped_meta.get("init_from"):  # a continuation (--init-from): the runs it started from came first
        for i, r in enumerate(reversed(chain[:-1])):
            print(f"{'  which ' if i else ''}continued from {r['path']} as it was then (sha256 {r['sha256'][:12]}..., "
                  f"{r['steps_trained']:,} steps, {r['train_seconds'] / 60:.1f} min on {r.get('trained_on') or 'cpu'})")
        total_steps, _ = training_story(shipped_meta)
        where = training_seconds_by_device(shipped_meta)
        print(f"each continuation with a fresh optimiser and lr schedule (this one's peak {tc['lr']:g}): "
              f"{len(chain)} runs, {total_steps:,} steps, "
              + " + ".join(f"{sec / 60:.0f} min on {device}" for device, sec in where.items()))
    print(f"shipped: EMA weights (decay {tc['ema_decay']}), sampling defaults {shipped_meta['sampling']}")
    print("\\nfull training config:", json.dumps(tc))
    if "history" in shipped_meta:  # a loss curve, if the run recorded one in the sidecar
        h = np.array(shipped_meta["history"])
        fig, ax = plt.subplots(figsize=(6, 2.6), layout="constrained")
        ax.plot(h[:, 0], h[:, 1])
        ax.set(xlabel="step", ylabel="loss", title="the shipped run")
        plt.show()
    else:
        print("(the sidecar records no loss curve: it stays with the run's training states)")
    """),
    md("""
    What that wall-clock bought, measured while the CPU runs went on: `benchmarks/t2v_monitor.py` sampled the 48
    held-out prompts (combinations of shape, colour and motion the model never saw in training) from each EMA
    snapshot, and wrote `benchmarks/results/t2v_time_to_quality.json`. Beside it (dashed, log scale of minutes):
    the same preset trained from scratch on the GPU with batch 512, sharing the GPU with two other runs, scored on
    the same 48 prompts by `benchmarks/t2v_gpu.py` (`benchmarks/results/t2v_gpu.json`):
    """),
    code("""
    ttq_path = ROOT / "benchmarks/results/t2v_time_to_quality.json"
    if ttq_path.exists():
        ttq = json.loads(ttq_path.read_text())
        points = [p for p in ttq.get("points", []) if "heldout" in p]
        minutes = np.array([p["train_seconds"] for p in points]) / 60
        fig, ax = plt.subplots(figsize=(7, 2.8), layout="constrained")
        for attribute in ("colour", "shape", "motion", "consistency", "overall"):
            ax.plot(minutes, [p["heldout"][attribute] for p in points], "o-", ms=3, label=attribute,
                    lw=2.5 if attribute == "overall" else 1)
        gpu_path = ROOT / "benchmarks/results/t2v_gpu.json"
        if gpu_path.exists():  # the from-scratch GPU run's snapshots: edges-ema-<step>, then its end, edges
            gpu = [m for name, m in json.loads(gpu_path.read_text())["models"].items() if name.startswith("edges")]
            gpu.sort(key=lambda m: m["steps"])
            ax.plot([m["train_seconds"] / 60 for m in gpu], [m["heldout"]["overall"] for m in gpu], "s--", ms=4,
                    color="k", label="overall, from scratch on a GPU")
            print("GPU from scratch, minutes:", [round(m["train_seconds"] / 60, 1) for m in gpu],
                  "held-out overall:", [round(m["heldout"]["overall"], 2) for m in gpu])
        ax.set(xlabel="training minutes (after the VAE and the latent cache)", ylabel="held-out, fraction right",
               ylim=(-0.05, 1.05), xscale="log", title="the shipped model's CPU runs: quality against wall-clock")
        ax.legend(fontsize=8, ncol=2)
        plt.show()
        print("steps:", [p["step"] for p in points])
        print("held-out overall:", [round(p["heldout"]["overall"], 2) for p in points])
        if "vae_train_seconds" in ttq and "cache_seconds" in ttq:
            print(f"before the first step: VAE {ttq['vae_train_seconds'] / 60:.0f} min, "
                  f"latent cache {ttq['cache_seconds'] / 60:.0f} min")
    else:
        print(f"no {ttq_path.relative_to(ROOT)} here: run benchmarks/t2v_monitor.py beside a training run to make it")
    """),
    md("""
    Colour is learnt first, then shape, and motion and temporal consistency last: the same order as in the live run,
    over a longer time scale. "Overall" is strict (every attribute right, in every frame), so it moves last. Now the
    shipped model (or yours) on the lesson's 16 prompts, against the live run's last snapshot:
    """),
    code("""
    shipped_samples = pipe(PROMPTS, seed=0)
    shipped_score = read_samples(shipped_samples)
    last, name = snap_steps[-1], "yours" if TRAIN_FROM_SCRATCH else "shipped"
    for who, s in ((f"live 'tiny', step {last}", scores[last]), (f"{name} {recipe.preset!r}", shipped_score)):
        print(f"{who:24s} objects per clip {s['objects per clip']:.1f} | largest right colour "
              f"{s['largest: right colour']:.2f} | strict: " + ", ".join(f"{a} {s[a]:.2f}" for a in
                                                                           ("colour", "shape", "motion", "overall")))
    viz.show_video(torch.cat([samples[last][:2], shipped_samples[:2]]),
                   [f"live, step {last}: {p}" for p in PROMPTS[:2]] + [f"{name}: {p}" for p in PROMPTS[:2]], scale=2)
    """),
    md("""
    ## 7 · Play with it

    Move through the live run's EMA snapshots for one prompt: the decoded sample at that step (frames left to right)
    and where that step sits on the loss curve. The controls need a running kernel; a static example follows.
    """),
    code("""
    def explore_snapshot(step=snap_steps[-1], prompt=PROMPTS[0]):
        j = PROMPTS.index(prompt)
        fig, axes = plt.subplots(1, 2, figsize=(11, 2.4), layout="constrained", width_ratios=(2.2, 1))
        viz.frame_strip(samples[step][j], f"step {step}: {prompt}", every=2, ax=axes[0])
        axes[1].plot(log_steps, log_loss, lw=0.8)
        axes[1].axvline(step, color="red")
        axes[1].set(xlabel="step", ylabel="loss", title="live run")
        plt.show()
        s = evaluate.describe(samples[step][j])
        print("the evaluator reads:", "; ".join(f"{o.colour} {o.shape}, {o.motion}" for o in s) or "nothing")


    controls = dict(step=widgets.SelectionSlider(options=snap_steps, value=snap_steps[-1], description="step"),
                    prompt=widgets.Dropdown(options=PROMPTS[:8], value=PROMPTS[0], description="prompt",
                                            layout=widgets.Layout(width="380px")))
    display(widgets.HBox(list(controls.values())), widgets.interactive_output(explore_snapshot, controls))
    """),
    code("""
    explore_snapshot(snap_steps[-1], PROMPTS[2])  # a static example: the last snapshot
    """),
    md("""
    ## 8 · Your turn: the learning-rate schedule

    Write `my_lr_at(step, lr, warmup_steps, steps, min_lr_ratio)`: for step k < warmup_steps, a linear warm-up
    `lr · (k + 1) / warmup_steps` (so step 0 already moves); after it, a half cosine from `lr` down to
    `lr · min_lr_ratio` at step `steps`, with progress p = (k − warmup) / (steps − warmup) (at least 1 in the
    denominator), and held at the minimum after `steps` (p capped at 1).

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code** and run the check below it: it raises an `AssertionError` naming the first configuration and step where
    your schedule disagrees with `train.lr_at`.
    """),
    code("""
    def my_lr_at(step, lr, warmup_steps, steps, min_lr_ratio):
        \"\"\"The learning rate of optimiser step `step` (0-based).\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, steps - warmup_steps))
        return lr * (min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for c in (cfg, recipe, T2VTrainConfig(lr=1e-3, warmup_steps=10, steps=10, min_lr_ratio=0.0),
              T2VTrainConfig(lr=3e-4, warmup_steps=1, steps=50, min_lr_ratio=0.5)):
        w = c.warmup_steps
        for step in sorted({0, 1, w - 1, w, w + 1, (w + c.steps) // 2, c.steps - 1, c.steps, c.steps + 7}):
            got, want = my_lr_at(step, c.lr, c.warmup_steps, c.steps, c.min_lr_ratio), lr_at(c, step)
            assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (
                f"lr={c.lr}, warmup={c.warmup_steps}, steps={c.steps}, min_lr_ratio={c.min_lr_ratio}: "
                f"step {step} gives {got}, lr_at gives {want}")
    print("my_lr_at == train.lr_at on 4 configurations ✓")
    """),
    md("""
    ## Recap

    - **Cache the latents once**: the VAE is frozen and its posterior mean deterministic, so encoding again each
      epoch is waste; on a CPU it costs a large fraction of a DiT step (measured above).
    - **Caption dropout** (10% empty prompts) trains the unconditional model that classifier-free guidance needs,
      inside the same network.
    - One step: batch k is a pure function of (seed, k); x_t = (1 − t)·x₀ + t·ε with **logit-normal** t; loss =
      mean (DiT(x_t, t, caption) − (ε − x₀))²; **clip** the gradient norm to 1; **AdamW** at lr(k), a linear
      **warm-up** then a **cosine**; **EMA** with a warmed-up decay. Written by hand, it equals `train_t2v` exactly.
    - At step 0 only the final layer learns: adaLN-Zero's zero output blocks every other gradient.
    - Checkpoints are **atomic** and verified; **resume** gives bit-for-bit the uninterrupted run.
    - A minute of a tiny model gives coloured blobs; the loss says little about quality, samples read by an
      evaluator say more. The shipped model is the same recipe, bigger and longer: its sidecar and the
      time-to-quality curve tell how it was made.

    **Next: [08 · Samplers and inference compute](08_samplers_and_inference_compute.ipynb)** (samplers, guidance
    strength, what a clip costs). Previous: [06 · The diffusion transformer](06_diffusion_transformer.ipynb); the
    captions and guidance: [05 · Text conditioning](05_text_conditioning.ipynb); the evaluator used above:
    [09 · Evaluation](09_evaluation.ipynb).
    """),
    code("""
    import shutil

    shutil.rmtree(WORK, ignore_errors=True)  # the lesson's temporary latents and runs (run all cells to remake them)
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
