"""Write notebooks/08_samplers_and_inference_compute.ipynb (without outputs).

    python notebooks/_build/make_08.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/08_samplers_and_inference_compute.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "08_samplers_and_inference_compute.ipynb"

cells = [
    md(f"""
    # 08 · Samplers and inference compute: from noise to a clip, and what it costs

    {BADGE.format(name=NAME)}

    Lesson 08 of **minivid**. A trained text-to-video model is a velocity field: given a noisy latent video, a time t
    and a caption, the DiT says which way to move. A **sampler** turns that field into a clip by taking steps from
    pure noise (t = 1) to data (t = 0), and every step costs one or more full passes of the transformer over every
    token of the video. How many steps, of which kind, is the main knob between quality and seconds per clip.

    **You will learn**

    - to write the **Euler** and **Heun** samplers (and classifier-free guidance) by hand, one line per equation,
      and prove them equal to `minivid.sampling` and to the shipped pipeline;
    - why deterministic **DDIM** on a flow model *is* Euler, and how DDIM and ancestral **DDPM** run on a model
      that predicts the noise;
    - to measure a sampler's **order** on a case with an exact answer (Gaussian data): error against steps;
    - **quality against steps** and **seconds per clip** on the real model, and how to count model evaluations;
    - **where the compute goes**: tokens × FLOPs per pass × passes per step × steps, the "60 frames ≈ 60k patches
      × 20 steps ≈ 1.2M token evaluations" estimate, attention versus MLP, and what fewer steps or cheaper tokens buy;
    - to **edit** a real clip instead of drawing one (SDEdit): start the sampler part-way, at a chosen noise level;
    - to **guide with a weaker model** (autoguidance): one more pass per step, and what it buys;
    - to work out the cost of any sampler run yourself.

    Runs top to bottom in a minute or two on a laptop CPU, most of it the quality sweep of section 5.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import dataclasses
    import json
    import math
    import time

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from minivid import diffusion, evaluate, patching, sampling, text, world
    from minivid.checkpoint import find_shipped
    from minivid.exercises import check, show_solution, solutions_module
    from minivid.pipeline import FLOW_SAMPLERS, TextToVideo, noise_for
    from minivid.viz import show_video

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    _ = torch.manual_seed(0)  # every random draw below is seeded
    """),
    md("""
    ## The shipped model and the prompts

    `TextToVideo.from_pretrained` loads the shipped DiT (flow matching: it predicts the velocity v = ε − x₀) and
    the VAE it was trained on; both are found in the repository checkout, nothing is downloaded. The checkpoint also
    records its recommended sampling settings. We use a fixed set of 16 single-object prompts, drawn with seed 0
    from the 176 combinations ShapesWorld can show.
    """),
    code("""
    ROOT = find_shipped("data/t2v/shapes").parents[2]  # the repository checkout: data/, benchmarks/results/
    pipe = TextToVideo.from_pretrained(ROOT / "data/t2v/shapes", device=device)
    cfg = pipe.dit.config
    GUIDANCE = pipe.defaults["guidance"]  # the checkpoint's recommended classifier-free guidance scale
    SHIFT = pipe.defaults["shift"]  # ... and time shift (section 1)
    AUTOGUIDANCE = pipe.defaults["autoguidance"]  # ... and a third pass per step, built in section 8: until then
    # this lesson samples with classifier-free guidance alone, passing autoguidance=0 to the pipeline
    print("recommended sampling settings recorded in the checkpoint:", pipe.defaults)

    rng = np.random.default_rng(0)
    combos = world.valid_combinations()
    picks = sorted(rng.choice(len(combos), 16, replace=False))
    PROMPTS = [world.caption(world.sample_object(rng, *combos[i])) for i in picks]
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(f"parameterisation {pipe.parameterisation!r} | latent per clip (z t h w) {pipe.latent_size(17)} | "
          f"samplers for a flow model: {FLOW_SAMPLERS}")
    print(f"{len(PROMPTS)} prompts:", PROMPTS)
    """),
    md("""
    ## 1 · Timesteps

    Sampling solves the ODE dx/dt = v(x, t) from t = 1 (noise) to t = 0 (data), on a grid of times. The even grid
    is `linspace(1, 0, steps + 1)`; `shift` > 1 bends it so more steps are spent at high noise,
    t′ = shift·t / (1 + (shift − 1)·t) (Esser et al. 2024, SD3, eq. 23: large images and videos have many tokens
    that keep signal longer at a given t, so the early, layout-deciding steps need more care). By hand, against
    `sampling.flow_timesteps`:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    def my_flow_timesteps(steps, shift=1.0):
        t = torch.linspace(1.0, 0.0, steps + 1)  # evenly spaced, noise -> data
        return shift * t / (1 + (shift - 1) * t)  # SD3's shift


    for shift in (1.0, 3.0):
        ts = my_flow_timesteps(8, shift)
        assert torch.allclose(ts, sampling.flow_timesteps(8, shift))
        print(f"shift {shift}: t =", [round(v, 3) for v in ts.tolist()])
    """),
    md("""
    ## 2 · Euler and Heun by hand, on the real model

    **Classifier-free guidance** (Ho & Salimans 2022, eq. 6) first: every step asks the model twice, once with the
    caption and once with the empty prompt, and extrapolates from the unconditional answer towards the conditional
    one by the guidance scale w: v = v_uncond + w·(v_cond − v_uncond).

    **Euler** is the sampler of rectified flow (Liu et al. 2022, "Flow Straight and Fast"): follow the velocity at
    the start of the step, for the length of the step h = t_next − t (negative: we go from 1 to 0):

    x ← x + h·v(x, t)

    **Heun** (the trapezoid rule; Karras et al. 2022, "Elucidating the Design Space of Diffusion-Based Generative
    Models", Algorithm 1) takes that Euler step as a trial, measures the velocity where it lands, and redoes the step
    with the average of both slopes. Second order, two model calls per step; like Karras et al., the last step into
    t = 0 stays an Euler step (the velocity at exactly t = 0 is never needed):

    x̃ = x + h·v(x, t)  ·  x ← x + h·(v(x, t) + v(x̃, t_next)) / 2
    """),
    code("""
    def my_guided_velocity(model, ids, mask, null_ids, null_mask, scale):
        \"\"\"A velocity function (x, t) -> v under classifier-free guidance.\"\"\"
        def velocity(x, t):
            v_uncond, v_cond = model(x, t, null_ids, null_mask), model(x, t, ids, mask)
            return v_uncond + scale * (v_cond - v_uncond)  # Ho & Salimans 2022, eq. 6
        return velocity


    @torch.no_grad()
    def my_euler(velocity, x, ts):
        for t, t_next in zip(ts[:-1], ts[1:]):
            x = x + (t_next - t) * velocity(x, t.expand(len(x)))  # x <- x + h v(x, t)
        return x


    @torch.no_grad()
    def my_heun(velocity, x, ts):
        for t, t_next in zip(ts[:-1], ts[1:]):
            v = velocity(x, t.expand(len(x)))  # slope at the start
            x_trial = x + (t_next - t) * v  # Euler's trial step
            if t_next == 0:
                x = x_trial  # the last step stays Euler (Algorithm 1, line 6)
            else:
                v_next = velocity(x_trial, t_next.expand(len(x)))  # slope where the trial lands
                x = x + (t_next - t) * (v + v_next) / 2  # redo the step with the average slope
        return x
    """),
    md("""
    Now the proof. Two prompts, the pipeline's own starting noise for seed 0 (`pipeline.noise_for`: each prompt has
    its own generator), guidance and time shift at the recommended settings, 8 steps. The hand-written samplers must give the same
    latents as `sampling.euler_sample` / `heun_sample` with `sampling.classifier_free_guidance`, and as
    `pipe.sample_latents`, which does all of it behind one call:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    two = PROMPTS[:2]
    ids, mask = text.encode_batch(two)
    null_ids, null_mask = text.encode_batch([None] * len(two))  # the empty prompt: the unconditional input
    x1 = torch.stack([noise_for(i, 0, pipe.latent_size(17), device) for i in range(len(two))])  # noise at t = 1
    ts = my_flow_timesteps(8, SHIFT)  # the checkpoint's recommended time steps, as the pipeline uses them

    mine_v = my_guided_velocity(pipe.dit, ids, mask, null_ids, null_mask, GUIDANCE)
    package_v = sampling.classifier_free_guidance(pipe.dit, (ids, mask), (null_ids, null_mask), GUIDANCE)
    with torch.no_grad():
        assert torch.allclose(mine_v(x1, torch.full((2,), 0.7)), package_v(x1, torch.full((2,), 0.7)), atol=1e-6)
    print("guided velocity: by hand == sampling.classifier_free_guidance ✓")

    mine = {"euler": my_euler(mine_v, x1, ts), "heun": my_heun(mine_v, x1, ts)}
    package = {"euler": sampling.euler_sample(package_v, x1, sampling.flow_timesteps(8, SHIFT)),
               "heun": sampling.heun_sample(package_v, x1, sampling.flow_timesteps(8, SHIFT))}
    for name in ("euler", "heun"):
        from_pipe = pipe.sample_latents(two, steps=8, guidance=GUIDANCE, seed=0, sampler=name, autoguidance=0)
        assert torch.allclose(mine[name], package[name], atol=1e-5), f"{name}: differs from the package"
        assert torch.allclose(mine[name], from_pipe, atol=1e-5), f"{name}: differs from the pipeline"
        print(f"{name}: by hand == sampling.{name}_sample == pipe.sample_latents ✓ latents {tuple(from_pipe.shape)}")
    assert not torch.allclose(mine["euler"], mine["heun"], atol=1e-3)  # ... and the two samplers do differ
    """),
    md("""
    ## 3 · DDIM on a flow model is exactly Euler

    DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models") was written for models that predict the
    noise. Its deterministic step (η = 0, their eq. 12) reads: from x_t, estimate the clean sample x̂₀ and the
    noise ε̂, then put them back together at the next, lower noise level s, keeping the same ε̂. On our straight
    path x_t = (1 − t)·x₀ + t·ε, a velocity prediction gives both estimates in one line each
    (`diffusion.velocity_to_x0`, `velocity_to_eps`):

    x̂₀ = x_t − t·v  ·  ε̂ = x_t + (1 − t)·v

    and the DDIM step to s is

    x_s = (1 − s)·x̂₀ + s·ε̂ = x_t + (s·(1 − t) − t·(1 − s))·v = **x_t + (s − t)·v**,

    an Euler step, exactly. (In DDIM's own scaling, x_k = √ᾱ·x₀ + √(1 − ᾱ)·ε, the path is rescaled but the step is
    the same linear recombination of x̂₀ and ε̂; Song et al. section 4.3 show it is Euler's method on the
    probability-flow ODE in the variables x/√ᾱ and √((1 − ᾱ)/ᾱ).) So the pipeline accepts `sampler="ddim"` for a
    flow checkpoint and runs Euler. Checked on one step of the real model, and on a whole run:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    t_now, s_next = torch.full((2,), 0.7), 0.45
    x_t = diffusion.add_noise(mine["euler"], x1, t_now)  # some noisy latents at t = 0.7
    with torch.no_grad():
        v = package_v(x_t, t_now)
    x0_hat, eps_hat = diffusion.velocity_to_x0(x_t, v, t_now), diffusion.velocity_to_eps(x_t, v, t_now)
    ddim_step = (1 - s_next) * x0_hat + s_next * eps_hat  # DDIM: re-noise x0_hat with the same eps_hat
    euler_step = x_t + (s_next - 0.7) * v
    assert torch.allclose(ddim_step, euler_step, atol=1e-5)
    ddim_run = pipe.sample_latents(two, steps=8, guidance=GUIDANCE, seed=0, sampler="ddim", autoguidance=0)
    assert torch.equal(ddim_run, pipe.sample_latents(two, steps=8, guidance=GUIDANCE, seed=0, sampler="euler",
                                                     autoguidance=0))
    print("one DDIM step == one Euler step ✓ | pipe(sampler='ddim') == pipe(sampler='euler') ✓")
    """),
    md("""
    Ancestral **DDPM** sampling is another matter: it adds fresh noise at every step, on the discrete noise schedule
    of an ε-prediction model. The shipped checkpoint is a flow model, so the pipeline refuses it and says why:
    """),
    code("""
    try:
        pipe.sample_latents(two, sampler="ddpm")
    except ValueError as error:
        print("ValueError:", error)
    """),
    md("""
    ## 4 · A case with an exact answer: Gaussian data

    To see what a sampler does wrong we need the *right* answer, and a trained network never gives one. Gaussian
    data does: if x₀ ~ N(μ, s²I), every noisy x_t is Gaussian too, and the best possible denoiser is a formula
    (the same trick as `tests/test_sampling.py`). On the flow path, x_t ~ N((1 − t)·μ, σ_t²) with
    σ_t² = (1 − t)²s² + t², and

    - the exact velocity E[ε − x₀ | x_t] = −μ + (t − (1 − t)s²)/σ_t² · (x_t − (1 − t)·μ);
    - the exact ODE path from noise z: x_t = (1 − t)·μ + σ_t·z, so the exact sample is **μ + s·z**;
    - on DDPM's schedule (x_k = √ᾱ·x₀ + √(1 − ᾱ)·ε, the cosine ᾱ of Nichol & Dhariwal 2021, K = 1000) the exact
      noise estimate E[ε | x_k] = √(1 − ᾱ)·(x_k − √ᾱ·μ) / (ᾱs² + 1 − ᾱ), and the exact probability-flow path keeps
      z's standardised value: x = √ᾱ·μ + √(ᾱs² + 1 − ᾱ)·z′.

    In 2-D, so we can watch. First a check that the path really solves the ODE (its time derivative is the velocity):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    MU, S = torch.tensor([1.5, -0.5], dtype=torch.float64), 0.5
    ABAR = diffusion.make_alphas_cumprod(1000, "cosine")  # (K,) float64, the DDPM noise schedule


    def exact_velocity(x, t):
        \"\"\"The ideal flow model for N(MU, S^2 I) data: x (n 2), t (n,).\"\"\"
        t = t[:, None]
        var = (1 - t) ** 2 * S**2 + t**2
        return -MU + (t - (1 - t) * S**2) / var * (x - (1 - t) * MU)


    def exact_flow_path(z, t):
        \"\"\"Where the ODE started at noise z (t = 1) is at time t.\"\"\"
        return (1 - t) * MU + math.sqrt((1 - t) ** 2 * S**2 + t**2) * z


    def exact_eps(x, k):
        \"\"\"The ideal epsilon model on the DDPM schedule: x (n 2), k (n,) integer steps.\"\"\"
        a = ABAR[k][:, None]
        return (1 - a).sqrt() * (x - a.sqrt() * MU) / (a * S**2 + 1 - a)


    def exact_vp_path(z, alpha_bar, start=ABAR[-1]):
        \"\"\"Where the probability-flow ODE started at z (step K-1) is at noise level alpha_bar (1 = clean).\"\"\"
        z_std = (z - start.sqrt() * MU) / (start * S**2 + 1 - start).sqrt()
        return math.sqrt(alpha_bar) * MU + math.sqrt(alpha_bar * S**2 + 1 - alpha_bar) * z_std


    Z = torch.randn(16384, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # starting noise
    t, dt = 0.6, 1e-6
    finite_difference = (exact_flow_path(Z[:64], t + dt) - exact_flow_path(Z[:64], t - dt)) / (2 * dt)
    velocity_there = exact_velocity(exact_flow_path(Z[:64], t), torch.full((64,), t))
    assert torch.allclose(finite_difference, velocity_there, atol=1e-6)
    assert torch.allclose(exact_flow_path(Z, 0.0), MU + S * Z)
    print(f"data N({MU.tolist()}, {S}^2 I) | d(exact path)/dt == exact velocity ✓ | ODE maps noise z to mu + s z ✓")
    """),
    md("""
    DDIM and ancestral DDPM by hand, checked against `sampling.ddim_sample` and `sampling.ddpm_sample` on that
    exact ε-model. Both start from x̂₀ = (x_k − √(1 − ᾱ)·ε̂)/√ᾱ (Ho et al. 2020, eq. 4 solved for x₀). **DDIM**
    re-noises it to the next level with the *same* ε̂ (deterministic). **DDPM** (Ho, Jain & Abbeel 2020, Algorithm
    2) moves to the mean of the posterior q(x_prev | x_k, x̂₀) and adds *fresh* noise of the posterior's size
    (their β̃, eq. 7), so two runs from the same start end in different places; with fewer steps than K,
    α = ᾱ_k/ᾱ_prev and β = 1 − α span the skipped steps.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    def my_ddim(eps_fn, x, abar, steps):
        steps = steps.tolist()
        for i, k in enumerate(steps):
            a, a_prev = abar[k].item(), abar[steps[i + 1]].item() if i + 1 < len(steps) else 1.0  # 1 = clean
            eps = eps_fn(x, torch.full((len(x),), k))
            x0 = (x - math.sqrt(1 - a) * eps) / math.sqrt(a)  # the predicted clean sample
            x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps  # DDIM eq. 12, eta = 0: the same eps
        return x


    def my_ddpm(eps_fn, x, abar, steps, generator):
        steps = steps.tolist()
        for i, k in enumerate(steps):
            a, a_prev = abar[k].item(), abar[steps[i + 1]].item() if i + 1 < len(steps) else 1.0
            alpha = a / a_prev
            beta = 1 - alpha
            eps = eps_fn(x, torch.full((len(x),), k))
            x = (x - beta / math.sqrt(1 - a) * eps) / math.sqrt(alpha)  # posterior mean (Algorithm 2, line 4)
            sigma = math.sqrt(beta * (1 - a_prev) / (1 - a))  # posterior std, beta-tilde (eq. 7)
            if sigma > 0:
                x = x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)  # fresh noise
        return x


    ks = sampling.ddpm_timesteps(1000, 10)  # 10 of the 1000 training steps, from the noisiest
    assert torch.allclose(my_ddim(exact_eps, Z[:256], ABAR, ks), sampling.ddim_sample(exact_eps, Z[:256], ABAR, ks))
    same_noise = lambda: torch.Generator().manual_seed(1)  # noqa: E731  two generators in the same state
    assert torch.allclose(my_ddpm(exact_eps, Z[:256], ABAR, ks, same_noise()),
                          sampling.ddpm_sample(exact_eps, Z[:256], ABAR, ks, generator=same_noise()))
    print("steps:", ks.tolist())
    print("DDIM by hand == sampling.ddim_sample ✓ | DDPM by hand == sampling.ddpm_sample (same generator) ✓")
    """),
    md("""
    Watch 12 points travel, 4 steps each, against their exact paths (grey). Left, the flow samplers in the flow's
    variables; right, the ε-samplers in DDPM's variables (a differently scaled path between the same noise and the
    same data, so the pictures differ in shape, not in meaning):
    """),
    code("""
    def record(run, *args, **kwargs):
        \"\"\"Run a sampler and keep its path: the state before every step, then the result, (steps + 1) n 2.\"\"\"
        path = []
        final = run(*args, callback=lambda i, x, t, pred: path.append(x), **kwargs)
        return torch.stack(path + [final])


    z12 = Z[:12]
    flow_exact = torch.stack([exact_flow_path(z12, t) for t in torch.linspace(1, 0, 100).tolist()])
    vp_exact = torch.stack([exact_vp_path(z12, a) for a in ABAR.flip(0)[::10].tolist() + [1.0]])
    ts4, ks4 = sampling.flow_timesteps(4, dtype=torch.float64), sampling.ddpm_timesteps(1000, 4)
    panels = [
        ("flow: Euler, 4 calls", flow_exact, record(sampling.euler_sample, exact_velocity, z12, ts4)),
        ("flow: Heun, 7 calls", flow_exact, record(sampling.heun_sample, exact_velocity, z12, ts4)),
        ("eps: DDIM, 4 calls", vp_exact, record(sampling.ddim_sample, exact_eps, z12, ABAR, ks4)),
        ("eps: DDPM ancestral, 4 calls", vp_exact, record(sampling.ddpm_sample, exact_eps, z12, ABAR, ks4,
                                                          generator=torch.Generator().manual_seed(2))),
    ]
    fig, axes = plt.subplots(1, 4, figsize=(13, 3.4), layout="constrained", sharex=True, sharey=True)
    for ax, (title, exact, path) in zip(axes, panels):
        for radius in (S, 2 * S):  # the data distribution: circles of 1 and 2 standard deviations around MU
            ax.add_patch(plt.Circle(MU.tolist(), radius, color="lightgray", alpha=0.5))
        ax.plot(exact[..., 0], exact[..., 1], color="gray", lw=0.7)
        ax.plot(path[..., 0], path[..., 1], "-o", ms=2.5, lw=0.9, color="C3")
        ax.scatter(*z12.T, s=10, color="black", zorder=3)
        ax.set(title=title, xlim=(-2.5, 3.5), ylim=(-3, 2.5), aspect="equal")
        ax.title.set_fontsize(9)
    plt.show()
    """),
    md("""
    Black dots are the noise, grey discs the data (1 and 2 standard deviations), grey lines the exact ODE, red the
    samplers. Euler overshoots where the path bends;
    Heun follows the bend; DDIM behaves like Euler (it is a first-order ODE step too); DDPM wanders: it is a
    stochastic sampler whose individual paths mean nothing, only the *distribution* of its end points is right.
    So we measure two errors over many steps counts: the distance to the exact end point (deterministic samplers
    only), and how far the end points' mean and standard deviation are from the data's (all four; for 16,384
    points this cannot go below the sampling noise of the exact answer itself, the dotted line):
    """),
    code("""
    def moment_error(x):
        \"\"\"Distance between N(mean, std) fitted to the points and the data's N(MU, S) (2-Wasserstein).\"\"\"
        return math.sqrt(((x.mean(0) - MU) ** 2).sum() + ((x.std(0) - S) ** 2).sum())


    STEPS = [1, 2, 4, 8, 16, 32, 64, 128]
    flow_answer, vp_answer = exact_flow_path(Z, 0.0), exact_vp_path(Z, 1.0)
    path_err, dist_err = {}, {}
    for name in ("Euler", "Heun", "DDIM", "DDPM"):
        dist_err[name] = []
        for n in STEPS:
            if name in ("Euler", "Heun"):
                run = sampling.euler_sample if name == "Euler" else sampling.heun_sample
                x, answer = run(exact_velocity, Z, sampling.flow_timesteps(n, dtype=torch.float64)), flow_answer
            elif name == "DDIM":
                x, answer = sampling.ddim_sample(exact_eps, Z, ABAR, sampling.ddpm_timesteps(1000, n)), vp_answer
            else:
                x, answer = sampling.ddpm_sample(exact_eps, Z, ABAR, sampling.ddpm_timesteps(1000, n),
                                                 generator=torch.Generator().manual_seed(3)), None
            if answer is not None:
                path_err.setdefault(name, []).append((x - answer).norm(dim=1).mean().item())
            dist_err[name].append(moment_error(x))
    calls = {"Euler": STEPS, "Heun": [2 * n - 1 for n in STEPS], "DDIM": STEPS, "DDPM": STEPS}

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), layout="constrained")
    for name, err in path_err.items():
        axes[0].loglog(STEPS, err, "o-", ms=4, label=name)
    n_ref = np.array(STEPS[3:], dtype=float)
    axes[0].loglog(n_ref, 0.8 / n_ref, "k:", lw=1, label="∝ 1/steps (first order)")
    axes[0].loglog(n_ref, 1.2 / n_ref**2, "k--", lw=1, label="∝ 1/steps² (second order)")
    axes[0].set(xlabel="steps", ylabel="mean distance to the exact sample", title="path error against steps")
    axes[0].legend(fontsize=8)
    for name, err in dist_err.items():
        axes[1].loglog(calls[name], err, "o-", ms=4, label=name)
    axes[1].axhline(moment_error(flow_answer), color="k", ls=":", lw=1, label="exact answer (sampling noise)")
    axes[1].set(xlabel="model calls", ylabel="error of mean and std", title="distribution error against cost")
    axes[1].legend(fontsize=8)
    plt.show()

    order = {name: -np.polyfit(np.log(STEPS[3:]), np.log(err[3:]), 1)[0] for name, err in path_err.items()}
    print("measured order (slope of the last five points):", {k: round(float(v), 2) for k, v in order.items()})
    assert 0.9 < order["Euler"] < 1.1 and 1.8 < order["Heun"] < 2.2 and 0.9 < order["DDIM"] < 1.1
    """),
    md("""
    The slopes are the **orders**: doubling the steps halves Euler's and DDIM's error and quarters Heun's. Per
    model call Heun still wins here, because this exact velocity field is smooth everywhere. DDPM converges in
    distribution only, and slowly: the fresh noise it adds is the right amount only in the limit of small steps,
    which is why ancestral samplers were run with hundreds of steps and deterministic ones took over. (Lesson 04
    found the flip side on a *learned* field with sharp bends near the data: per model call Heun was no better.
    Which sampler wins on a real model is measured, not assumed; next section.)

    ## 5 · Quality against steps, and seconds per clip, on the real model

    Now the real thing: the 16 prompts, seed 0, guidance and time shift at the recommended settings (classifier-free
    guidance alone: the third pass of section 8 comes later), Euler and Heun at 4, 8, 16 and
    32 steps. For each run we count **DiT evaluations** with a forward hook on the network (a hook observes the
    calls without changing the model), time it with `time.perf_counter` (sampling and VAE decoding, the whole
    `pipe(...)` call), and score the clips with `evaluate.prompt_adherence`, the probe that reads a video and checks
    colour, shape, motion and temporal consistency against the prompt. A clip counts as correct only when all of
    them are right.

    What to expect for the counts: Euler needs one velocity per step, Heun two per step except the last, and
    guidance asks the model twice for each velocity.
    """),
    code("""
    def count_passes(net, fn, *args, **kwargs):
        \"\"\"Run fn(*args, **kwargs) and count the forward passes of the network `net` it makes: (result, passes).\"\"\"
        seen = []
        handle = net.register_forward_hook(lambda module, inputs, output: seen.append(len(inputs[0])))
        try:
            return fn(*args, **kwargs), len(seen)
        finally:
            handle.remove()


    def count_dit_calls(fn, *args, **kwargs):
        \"\"\"The same for the shipped DiT, pipe.dit.\"\"\"
        return count_passes(pipe.dit, fn, *args, **kwargs)


    ATTRS = ("colour", "shape", "motion", "consistency")
    sweep, gallery, sweep_start = {}, [], time.perf_counter()
    for sampler_name in ("euler", "heun"):
        for steps in (4, 8, 16, 32):
            start = time.perf_counter()
            videos, passes = count_dit_calls(pipe, PROMPTS, steps=steps, sampler=sampler_name, guidance=GUIDANCE,
                                             seed=0, autoguidance=0)
            seconds = (time.perf_counter() - start) / len(PROMPTS)
            score = evaluate.prompt_adherence(videos, PROMPTS)
            sweep[sampler_name, steps] = {"passes": passes, "seconds": seconds, "overall": score["overall"],
                                          **{a: score[a] for a in ATTRS}}
            if sampler_name == "euler":
                gallery.append((videos[0], f"{sampler_name}, {steps} steps ({passes} passes)"))
            print(f"{sampler_name:5s} {steps:2d} steps | {passes:3d} DiT passes per clip | {seconds:.3f} s per clip | "
                  f"correct clips {score['overall']:.2f} | " + ", ".join(f"{a} {score[a]:.2f}" for a in ATTRS))
    print(f"the whole sweep: {time.perf_counter() - sweep_start:.0f} s")
    """),
    code("""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), layout="constrained")
    for name, marker in (("euler", "o-"), ("heun", "s-")):
        rows = [sweep[key] for key in sweep if key[0] == name]
        passes = [r["passes"] for r in rows]
        axes[0].plot(passes, [r["overall"] for r in rows], marker, label=name)
        axes[1].plot(passes, [np.mean([r[a] for a in ATTRS]) for r in rows], marker, label=name)
        axes[2].plot(passes, [r["seconds"] for r in rows], marker, label=name)
    all_passes = np.array([r["passes"] for r in sweep.values()], dtype=float)
    all_seconds = np.array([r["seconds"] for r in sweep.values()])
    per_pass, fixed = np.polyfit(all_passes, all_seconds, 1)  # seconds = fixed + per_pass * passes
    axes[2].plot(all_passes, fixed + per_pass * all_passes, "k:", lw=1, label="linear fit")
    for ax, title in zip(axes, ("clips fully correct", "attributes right (mean of 4)", "seconds per clip")):
        ax.set(xscale="linear" if ax is axes[2] else "log", xlabel="DiT passes per clip", title=title)
        ax.legend(fontsize=8)
    axes[0].set_ylim(0, 1)
    axes[1].set_ylim(0, 1)
    plt.show()
    print(f"seconds per clip ~= {fixed:.3f} + {1000 * per_pass:.1f} ms x DiT passes (this machine: {device}, batch of "
          f"{len(PROMPTS)})")
    """),
    md("""
    Read the plots from left to right. The first two say how prompt adherence changes with the number of passes:
    where a curve flattens, more steps stop paying for themselves, and the recommended step count in the
    checkpoint (printed at the top) is best chosen around there. With only 16 prompts one clip is 6 percentage points,
    so small wiggles are noise; the benchmark below uses more prompts. The third is the simplest law of inference:
    **time is linear in the number of DiT passes**. The slope is one pass over a batch of clips; the intercept is
    what is paid once per clip (text encoding, VAE decoding).

    The first prompt with Euler at 4, 8, 16 and 32 steps (GIFs snapped to 32 levels per channel to keep the
    notebook small; the widget of section 9 shows any other setting):
    """),
    code("""
    show_video([(clip * 32).round() / 32 for clip, _ in gallery], [caption for _, caption in gallery], scale=2)
    """),
    md("""
    `benchmarks/t2v_benchmark.py` runs the same sweep on 160 prompts (the 48 held-out ones and 112 seen ones spread
    over the eval set), up to 50 steps, and stores it in
    `benchmarks/results/t2v.json`. If the file is in this checkout, here it is, read now (its "model calls" are
    guided velocity calls; with guidance each is two DiT passes, and the recommended autoguidance of section 8,
    which the benchmark samples with, adds a pass of the weaker model). Check the training steps it reports against the
    loaded model's: the file describes the checkpoint that was benchmarked.
    """),
    code("""
    bench_file = ROOT / "benchmarks/results/t2v.json"
    if not bench_file.exists():
        print("benchmarks/results/t2v.json is not in this checkout: `python benchmarks/t2v_benchmark.py` makes it")
    else:
        bench = json.loads(bench_file.read_text(encoding="utf-8"))
        rows = bench.get("steps_vs_quality", {})
        print(f"{bench_file.name}: model trained {bench.get('model_meta', {}).get('steps_trained')} steps "
              f"(loaded here: {pipe.meta.get('steps_trained')}), settings {bench.get('adherence_settings')}")
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
        score = "heldout_and_seen" if any("heldout_and_seen" in r for r in rows.values()) else "heldout"
        curves = sorted({(r["sampler"], r.get("shift", 1.0)) for r in rows.values()})
        for name, shift in curves:
            sel = sorted((r for r in rows.values() if (r["sampler"], r.get("shift", 1.0)) == (name, shift)),
                         key=lambda r: r["steps"])
            for r in sel:
                print(f"  {name:5s} shift {shift:g} {r['steps']:2d} steps, {r['model_calls']:2d} calls: correct "
                      f"{r[score]['overall']:.3f} ({r[score]['clips']} prompts), {r['seconds_per_clip']:.3f} s per clip")
            style = ("o" if name == "euler" else "s") + ("-" if shift != 1 else "--")
            label = f"{name}, shift {shift:g}"
            axes[0].plot([r["model_calls"] for r in sel], [r[score]["overall"] for r in sel], style, label=label)
            axes[1].plot([r["model_calls"] for r in sel], [r["seconds_per_clip"] for r in sel], style, label=label)
        for ax, title in zip(axes, ("clips fully correct", "seconds per clip")):
            ax.set(xscale="log", xlabel="guided model calls per clip", title=f"benchmark: {title}")
            ax.legend(fontsize=8)
        plt.show()
    """),
    md("""
    ## 6 · Where the compute goes

    One DiT pass over a clip costs FLOPs that `patching.dit_flops` counts layer by layer (lesson 02): attention
    grows with N², projections and MLP with N, where N is the number of tokens. A clip then costs

    **FLOPs per clip = FLOPs per pass × passes per step (2 with guidance) × steps**

    plus a VAE decode, once. For the shipped model (its config read from the checkpoint; the text encoder hands
    every block 1 + 24 text tokens to cross-attend to):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    GRID = patching.patch_grid(pipe.latent_size(17)[1:], cfg.patch_size)  # (t h w) patches of one clip
    TOKENS = math.prod(GRID)
    TEXT_TOKENS = 1 + text.encode_batch(PROMPTS[:1])[0].shape[1]
    FORWARD = patching.dit_flops(TOKENS, cfg.width, cfg.depth, mlp_ratio=int(cfg.mlp_ratio), text_tokens=TEXT_TOKENS,
                                 attention=cfg.attention, tokens_per_frame=GRID[1] * GRID[2])
    parts = ", ".join(f"{name} {getattr(FORWARD, name) / 1e6:.0f}" for name in ("attention", "projections", "mlp",
                                                                               "cross_attention"))
    print(f"tokens per clip: {TOKENS} | one DiT pass: {FORWARD.total / 1e6:.0f} MFLOP ({parts})")
    for steps in (8, 20, 50):
        print(f"{steps:2d} Euler steps with guidance: {2 * steps:3d} passes = "
              f"{patching.sampling_cost(TOKENS, 2 * steps):,} token evaluations = "
              f"{2 * steps * FORWARD.total / 1e9:.1f} GFLOP per clip")
    """),
    md("""
    Measured against the clock: the fit of section 5 gives the seconds of one pass over a batch of clips, so this
    device's useful work rate is FLOPs per pass ÷ seconds per pass. And the fixed part, compared with timing the
    VAE decoder alone:
    """),
    code("""
    latents = pipe.sample_latents(PROMPTS, steps=2, guidance=GUIDANCE, seed=0, autoguidance=0)
    start = time.perf_counter()
    _ = pipe.vae.decode_latents(latents)
    decode_seconds = (time.perf_counter() - start) / len(PROMPTS)
    print(f"one DiT pass per clip: {1000 * per_pass:.1f} ms -> {FORWARD.total / per_pass / 1e9:.0f} GFLOP/s achieved")
    print(f"fixed cost per clip from the fit: {1000 * fixed:.0f} ms | "
          f"the VAE decode alone: {1000 * decode_seconds:.0f} ms")
    print(f"at 20 guided Euler steps the DiT is {40 * per_pass / (40 * per_pass + fixed):.0%} of the time per clip")
    """),
    md("""
    Now scale up. The widely quoted estimate for a Sora-class clip, "60 frames ≈ 60k patches, × 20 steps ≈ 1.2M
    token evaluations", is `patching.PRESETS["sora-like-60-frames"]`: 512 × 512 frames through an SD-style VAE
    (8× in space, none in time) and 2 × 2 patches. `describe_cost` adds the FLOPs of a DiT-XL-sized transformer
    (width 1152, depth 28):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    sora = patching.PRESETS["sora-like-60-frames"]
    print(patching.describe_cost(sora, width=1152, depth=28, steps=20))
    print(f"with classifier-free guidance (2 passes per step): {patching.sampling_cost(sora.num_tokens, 2 * 20):,} "
          f"token evaluations")
    """),
    md("""
    At 80 tokens the MLP dominates and attention is a small share; at 61,440 tokens attention is ~90% of every
    pass, because it alone grows with N². Left, the split of one pass as the clip grows (DiT-XL width and depth;
    the shipped model at its own size for comparison). Right, what each way of saving buys for the whole 60-frame
    video, against the estimate with guidance (20 steps × 2 passes):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    def video_flops(config, steps=20, passes_per_step=2, attention="full"):
        f = patching.dit_flops(config.num_tokens, 1152, 28, attention=attention,
                               tokens_per_frame=config.tokens_per_frame)
        return f.total * steps * passes_per_step


    options = {
        "estimate: 20 steps, guidance": video_flops(sora),
        "8 steps (better sampler, distillation)": video_flops(sora, steps=8),
        "no second pass (guidance distilled)": video_flops(sora, passes_per_step=1),
        "factorised attention": video_flops(sora, attention="factorised"),
        "4x temporal VAE (15 latent frames)": video_flops(dataclasses.replace(sora, vae_temporal_factor=4)),
        "4x4 patches (256 tokens per frame)": video_flops(dataclasses.replace(sora, patch_size=(1, 4, 4))),
        "4x temporal VAE + 8 steps, no guidance": video_flops(dataclasses.replace(sora, vae_temporal_factor=4), 8, 1),
    }
    base = options["estimate: 20 steps, guidance"]
    for name, flops in options.items():
        print(f"{name:40s} {flops / 1e15:8.2f} PFLOP  ({base / flops:6.1f}x cheaper)")
    """),
    code("""
    shares = {"shipped, 80 tokens": FORWARD}
    for frames in (1, 4, 15, 60):
        n = frames * sora.tokens_per_frame
        shares[f"XL, {frames} frame{'s' * (frames > 1)} ({n:,} tokens)"] = patching.dit_flops(n, 1152, 28)
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.4), layout="constrained")
    left = np.zeros(len(shares))
    for part, colour in (("attention", "C3"), ("projections", "C0"), ("mlp", "C2"), ("cross_attention", "C7")):
        share = np.array([getattr(f, part) / f.total for f in shares.values()])
        axes[0].barh(list(shares), share, left=left, color=colour, label=part.replace("_", "-"))
        left += share
    axes[0].invert_yaxis()
    axes[0].set(xlabel="share of the FLOPs of one pass: attention vs MLP as the clip grows")
    axes[0].legend(fontsize=8, ncols=4, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    axes[1].barh(list(options), [f / 1e15 for f in options.values()], color=["C7"] + ["C0"] * (len(options) - 1))
    axes[1].invert_yaxis()
    axes[1].set(xscale="log", xlabel="PFLOP for one 60-frame 512 x 512 video", title="what each saving buys")
    plt.show()
    """),
    md("""
    Two kinds of saving, and they multiply. **Fewer passes** (fewer steps with a better sampler or a distilled
    model, guidance folded into one pass) cut the cost linearly. **Cheaper tokens** cut it faster than linearly:
    4× fewer tokens (a VAE that also compresses time, as lesson 03's does, or bigger patches) makes the MLP 4× and
    the dominant attention 16× cheaper. Factorised attention (lesson 06) attacks the N² term directly. Real video
    models use all of them; for our 80-token clips none of the token tricks matter, and the number of passes is
    the whole story.

    ## 7 · Editing a clip instead of drawing one (SDEdit)

    A sampler does not have to start at pure noise. **SDEdit** (Meng et al. 2022) takes a real clip, encodes it,
    noises it to some time t along the same path the model was trained on, x_t = (1 − t)·x₀ + t·ε, and lets the
    model finish it from there under a **new prompt**. The pipeline does this with
    `pipe(prompts, init_video=clips, strength=t)`: the sampler's usual time grid, cut at t
    (`sampling.truncate_timesteps`). The one knob trades faithfulness for obedience. A small t keeps the clip's
    layout, its position and path, but leaves too little noise to change anything; t = 1 is ordinary sampling and
    forgets the clip. It is also cheaper: only the steps below t are run.

    Below: 12 training-split clips, each asked to change **colour only** (same shape, same motion). For every
    strength we measure how often the edit matches the new prompt, and how far (in pixels, averaged over frames)
    the object's centre moved away from where it was in the original.
    """),
    code("""
    COLOUR_NAMES = list(world.COLOURS)
    sources = [world.sample_scene(seed, num_objects=1) for seed in range(12)]  # training split, one object each


    def recolour(scene):
        \"\"\"The same scene with its object in the next colour of world.COLOURS.\"\"\"
        obj = scene.objects[0]
        new = COLOUR_NAMES[(COLOUR_NAMES.index(obj.colour) + 1) % len(COLOUR_NAMES)]
        return dataclasses.replace(scene, objects=(dataclasses.replace(obj, colour=new),))


    originals = world.render_batch(sources)  # b t c h w in [0, 1]
    edit_prompts = [world.caption(recolour(s)) for s in sources]
    original_tracks = [evaluate.describe(clip)[0].track[:, :2] for clip in originals]  # the probe reads real clips right


    def drift(found, track):
        \"\"\"Mean distance (px) between the centre of the one object found and the original's, frame by frame (NaN: not one).\"\"\"
        return float(np.nanmean(np.linalg.norm(found[0].track[:, :2] - track, axis=1))) if len(found) == 1 else np.nan


    STRENGTHS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.0)
    EDIT_STEPS = pipe.defaults["steps"]  # the grid each edit is cut from
    edits, edit_scores = {}, {}
    for strength in STRENGTHS:
        edits[strength] = pipe(edit_prompts, init_video=originals, strength=strength, seed=0)
        edit_scores[strength] = score = evaluate.prompt_adherence(edits[strength], edit_prompts)
        moved = np.nanmean([drift(c["detected"], tr) for c, tr in zip(score["per_clip"], original_tracks)])
        steps_run = len(sampling.truncate_timesteps(sampling.flow_timesteps(EDIT_STEPS, shift=SHIFT), strength)) - 1
        print(f"strength {strength:.1f}: {steps_run:2d} of {EDIT_STEPS} steps | follows the new prompt "
              f"{score['overall']:.2f} | centre moved {moved:4.1f} px from the original")
    kept = evaluate.prompt_adherence(edits[0.0], [world.caption(s) for s in sources])["overall"]
    print(f"strength 0 against the ORIGINAL prompts: {kept:.2f} (the VAE round trip keeps every clip readable)")
    for verdict in edit_scores[0.5]["per_clip"]:
        if not verdict["correct"]:
            print(f"missed at strength 0.5: {edit_prompts[verdict['index']]!r}:", "; ".join(verdict["errors"]))
    """),
    code("""
    from minivid.viz import frame_strip

    k = 0
    strip = torch.stack([originals[k]] + [edits[s][k] for s in (0.3, 0.5, 0.7, 1.0)])
    frame_strip(strip, [f"original: {world.caption(sources[k])}"] +
                [f"strength {s}: {edit_prompts[k]}" for s in (0.3, 0.5, 0.7, 1.0)], every=4)
    """),
    md("""
    Read the numbers as a trade-off curve. At strength 0 nothing changes: the clip comes back through the VAE in its
    old colour, so no clip matches the new prompt. Colour is a coarse, low-frequency property, and a little noise
    (t = 0.3, three steps) is already enough to repaint the object while its centre stays within a fraction of a
    pixel of the original path. Up to t ≈ 0.7 the edit still keeps the clip's layout; from t ≈ 0.9 the model draws
    its own clip, with the object somewhere else. The misses listed at t = 0.5 are the probe's verdicts: read them
    (the clip came back through the VAE correctly at t = 0, so they are the model's doing). A change of **motion** (moves left → moves right) needs a new path, so it needs far
    more noise than a change of colour: try it by editing `recolour`. Video editors built on diffusion models
    (restyling, recolouring, extending a clip) start from this idea.

    ## 8 · A third pass: guiding with a weaker model (autoguidance)

    Classifier-free guidance pulls the velocity away from the *unconditional* prediction. Karras et al. 2024
    ("Guiding a Diffusion Model with a Bad Version of Itself") pull it away from a **weaker model of the same
    data** as well: where the weaker model spreads its samples between possibilities (two colours half swapped, a
    shape half turned), the difference v_cond − v_weak points out of that spread. The shipped checkpoint names
    one in its sidecar: the same network after a fraction of the shipped model's training (the cell below counts
    both from their sidecars), shipped as `data/t2v/weak` and hash-checked on load, and recommends a weight for
    it, so a plain `pipe(prompts)` uses it
    (`autoguidance=0` turns it off, as every section above did). With weight w on top of guidance s,

    v = v_cond + w·(v_cond − v_weak) + (s − 1)·(v_cond − v_uncond),

    one more model call per step: 3 instead of 2, so 1.5 times the compute of a clip. By hand, against
    `sampling.autoguidance` and the pipeline's `autoguidance=` argument, on two-object prompts:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    from minivid.train import training_story

    print(f"weaker model: {pipe.meta['weak']['path']}, {pipe.meta['weak']['steps_trained']:,} training steps "
          f"(the shipped model: {training_story(pipe.meta)[0]:,}) | recommended weight: {AUTOGUIDANCE}, "
          f"with guidance {GUIDANCE}")


    def my_autoguided_velocity(model, weak, ids, mask, null_ids, null_mask, scale, weight):
        def velocity(x, t):
            v_cond, v_weak = model(x, t, ids, mask), weak(x, t, ids, mask)  # both read the caption
            v_uncond = model(x, t, null_ids, null_mask)
            return v_cond + weight * (v_cond - v_weak) + (scale - 1) * (v_cond - v_uncond)
        return velocity


    PAIRS = [world.caption(world.sample_scene(seed, num_objects=2)) for seed in range(4)]  # two objects each
    ids, mask = text.encode_batch(PAIRS)
    null_ids, null_mask = text.encode_batch([None] * len(PAIRS))
    x1 = torch.stack([noise_for(i, 0, pipe.latent_size(17), device) for i in range(len(PAIRS))])
    mine_v = my_autoguided_velocity(pipe.dit, pipe.weak, ids, mask, null_ids, null_mask, GUIDANCE, 1.0)
    package_v = sampling.autoguidance(pipe.dit, pipe.weak, (ids, mask), (null_ids, null_mask), GUIDANCE, 1.0)
    with torch.no_grad():
        assert torch.allclose(mine_v(x1, torch.full((4,), 0.7)), package_v(x1, torch.full((4,), 0.7)), atol=1e-6)
        mine = my_euler(mine_v, x1, my_flow_timesteps(8, SHIFT))
    from_pipe, passes = count_dit_calls(pipe.sample_latents, PAIRS, steps=8, seed=0, autoguidance=1.0)
    assert torch.allclose(mine, from_pipe, atol=1e-5), "differs from the pipeline"
    print(f"autoguided velocity and 8 Euler steps: by hand == sampling.autoguidance == pipe.sample_latents ✓ "
          f"({passes} passes of the shipped DiT + 8 of the weaker one)")
    """),
    md("""
    The same four prompts at the recommended 20 steps, without and with it (the same starting noise; with it is
    the pipeline's default), each clip's verdict from the probe of lesson 09 in the title:
    """),
    code("""
    plain_pairs = pipe(PAIRS, seed=0, autoguidance=0)
    guided_pairs = pipe(PAIRS, seed=0)  # the recommended settings: autoguidance on
    verdicts = {name: evaluate.prompt_adherence(clips, PAIRS)["per_clip"]
                for name, clips in (("guidance", plain_pairs), ("+ autoguidance", guided_pairs))}
    frame_strip(torch.cat([plain_pairs, guided_pairs]),
                [f"{name} {'✓' if v['correct'] else '✗'}: {PAIRS[v['index']]}" for name in verdicts
                 for v in verdicts[name]], every=4)
    """),
    md("""
    Four clips are an illustration, not a measurement: clip by clip the two samplers disagree in both directions,
    and only a count over hundreds of clips says which way they lean. `benchmarks/t2v_guidance.py` samples 160
    single-object prompts (48 held-out, 112 seen) and the 128 two-object ones at every guidance scale × autoguidance
    weight, with seeds 1 and 2 (not seed 0, so that the choice is not fitted to the clips it is judged on). A results
    file names the checkpoint it measured (its sha256); the cell says whether that is the one loaded here, since a
    table about another checkpoint says nothing about this one:
    """),
    code("""
    grid_files = sorted(ROOT.glob("benchmarks/results/autoguidance_default/guidance_seed*.json"))
    if not grid_files:
        print("benchmarks/results/autoguidance_default/ is not in this checkout: `python benchmarks/t2v_guidance.py "
              "--scales 3,4,5 --autoguidance 0,1,1.5 --seeds 1,2` measures it")
    else:
        measured = {json.loads(f.read_text())["model_sha256"] for f in grid_files}
        loaded = pipe.meta["sha256"]
        print("measured on the checkpoint loaded here ✓" if measured == {loaded} else
              f"measured on checkpoint {', '.join(m[:12] for m in measured)}..., not the one loaded here "
              f"({loaded[:12]}...): rerun the command above (`--out` into that folder) to measure this one")
        pooled = {}  # (guidance, weight) -> group -> scores of each seed's file
        for f in grid_files:
            for row in json.loads(f.read_text())["rows"]:
                for group in ("heldout", "seen", "two_object"):
                    pooled.setdefault((row["guidance"], row["autoguidance"]), {}).setdefault(group, []).append(
                        row[group]["overall"])
        print(f"{'guidance':>8s} {'autoguidance':>12s} {'held-out':>9s} {'seen':>6s} {'two objects':>12s}   "
              f"({len(grid_files)} seeds; 48 + 112 + 128 prompts each)")
        for (scale, weight), groups in sorted(pooled.items()):
            mark = "  <- recommended now" if (scale, weight) == (GUIDANCE, AUTOGUIDANCE) else ""
            print(f"{scale:8g} {weight:12g} " + " ".join(f"{np.mean(groups[g]):{w}.1%}" for g, w in
                                                          (("heldout", 9), ("seen", 6), ("two_object", 12))) + mark)
    """),
    md("""
    Read such a table for the trade, group by group: does the third pass pay on two-object prompts, where binding
    each colour to its shape is hardest, and on single objects? And which guidance scale goes with it: autoguidance
    already pulls towards the caption, so it may need less of the classifier-free pull. The chosen pair is recorded in
    the checkpoint (`python -m minivid.train name-weak --autoguidance 1 --guidance 3`), and `pipe(prompts)` pays 1.5
    times the passes of plain guidance for it; `pipe(..., autoguidance=0)` or `minivid generate ... --autoguidance 0`
    is the cheaper sampler. That is the trade this lesson is about: a better clip for more passes, measured, and
    chosen per use.

    ## 9 · Play with it

    Pick a prompt, a sampler, a number of steps, a guidance scale and an autoguidance weight: the clip is regenerated from the same noise
    (seed 0), and below it you get the seconds it took, the DiT passes it made, what `evaluate.describe` reads
    in it, and whether that matches the prompt. Try 1 step, guidance 0 (unconditional: the caption is ignored),
    and Euler against Heun at the same number of passes. The controls need a running kernel; a static example
    follows.
    """),
    code("""
    def generate_one(prompt=PROMPTS[0], sampler="euler", steps=8, guidance=GUIDANCE, autoguidance=AUTOGUIDANCE):
        start = time.perf_counter()
        (clip, passes), weak_passes = count_passes(pipe.weak, count_dit_calls, pipe, [prompt], steps=steps,
                                                   sampler=sampler, guidance=guidance, seed=0, autoguidance=autoguidance)
        seconds = time.perf_counter() - start
        display(show_video((clip * 32).round() / 32, f"{sampler}, {steps} steps, guidance {guidance:g}, "
                                                     f"autoguidance {autoguidance:g}", scale=3))
        print(f"{prompt!r}: {seconds:.2f} s, {passes} DiT passes + {weak_passes} of the weaker model "
              f"({(passes + weak_passes) * TOKENS:,} token evaluations)")
        objects = evaluate.describe(clip[0])
        print("describe reads:", "; ".join(str(o) for o in objects) or "no object")
        verdict = evaluate.prompt_adherence(clip, [prompt])["per_clip"][0]
        print("matches the prompt ✓" if verdict["correct"] else "does not match: " + "; ".join(verdict["errors"]))


    controls = dict(
        prompt=widgets.Dropdown(options=PROMPTS, value=PROMPTS[0], description="prompt"),
        sampler=widgets.Dropdown(options=list(FLOW_SAMPLERS), value="euler", description="sampler"),
        steps=widgets.IntSlider(value=8, min=1, max=50, description="steps", continuous_update=False),
        guidance=widgets.FloatSlider(value=GUIDANCE, min=0.0, max=8.0, step=0.5, description="guidance",
                                     continuous_update=False),
        autoguidance=widgets.FloatSlider(value=AUTOGUIDANCE, min=0.0, max=3.0, step=0.5, description="autoguidance",
                                         continuous_update=False),
    )
    display(widgets.VBox([widgets.HBox([controls["prompt"], controls["sampler"]]),
                          widgets.HBox([controls["steps"], controls["guidance"], controls["autoguidance"]])]),
            widgets.interactive_output(generate_one, controls))
    """),
    code("""
    generate_one(PROMPTS[1], "heun", 8, GUIDANCE, AUTOGUIDANCE)  # a static example
    """),
    md("""
    ## 10 · Your turn: what does a sampler run cost?

    Write `my_sampling_cost(sampler, steps, guidance, tokens, flops_per_pass)` for **one clip** of the shipped model
    sampled with classifier-free guidance alone (`autoguidance=0`; section 8's third pass runs the weaker model, a
    network of its own). It returns a dict with

    - `"passes"`: the DiT forward passes the pipeline makes. Mind the details of section 2: which steps of Heun
      need a second velocity, what `"ddim"` runs on a flow model, and when classifier-free guidance can skip one of
      its two calls (read `sampling.classifier_free_guidance`);
    - `"tokens"`: the token evaluations (every pass reads all `tokens` tokens of the clip);
    - `"flops"`: the FLOPs, at `flops_per_pass` per pass.

    The check runs the real pipeline for every sampler, several step counts and guidance scales, counts the passes
    with a forward hook like the one of section 5, and names the first setting where your count is off.
    """),
    code("""
    def my_sampling_cost(sampler, steps, guidance, tokens, flops_per_pass):
        \"\"\"DiT passes, token evaluations and FLOPs to sample one clip with the shipped (flow) model.\"\"\"
        # ---- your code here ----
        raise NotImplementedError("write my_sampling_cost")
    """),
    code("""
    sampling_cost = (my_sampling_cost if check("08_samplers_and_inference_compute", "sampling_cost", my_sampling_cost)
                     else solutions_module("08_samplers_and_inference_compute").sampling_cost)
    """),
    md("""
    Stuck? `show_solution("08_samplers_and_inference_compute", "sampling_cost")` prints the reference. With it, the
    cost of the settings this lesson met, for the shipped model (classifier-free guidance alone), against the
    passes counted on the pipeline:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for sampler_name, steps, scale in (("euler", 20, GUIDANCE), ("heun", 8, GUIDANCE), ("euler", 8, 1.0)):
        cost = sampling_cost(sampler_name, steps, scale, TOKENS, FORWARD.total)
        _, counted = count_dit_calls(pipe.sample_latents, PROMPTS[:1], steps=steps, sampler=sampler_name,
                                     guidance=scale, seed=0, autoguidance=0)
        assert cost["passes"] == counted
        print(f"{sampler_name:5s} {steps:2d} steps, guidance {scale:g}: {cost['passes']:3d} passes (counted: {counted}) = "
              f"{cost['tokens']:,} token evaluations = {cost['flops'] / 1e9:.1f} GFLOP")
    """),
    md("""
    ## Recap

    - A **sampler** integrates the model's velocity from noise (t = 1) to data (t = 0) on a grid of times
      (`flow_timesteps`; `shift` spends more steps at high noise). **Euler**: x ← x + h·v, one call per step, first
      order. **Heun**: an Euler trial, then the average slope, two calls per step (the last is Euler), second order.
      **Guidance** asks the model twice per velocity: v_u + w·(v_c − v_u).
    - **DDIM** re-noises its clean estimate with the same noise estimate; on a straight flow path that is exactly an
      Euler step, so `sampler="ddim"` runs Euler. **Ancestral DDPM** adds fresh noise each step and needs an
      ε-prediction model; it converges only in distribution, and slowly.
    - On **Gaussian data** every sampler has an exact answer: the error falls as 1/steps (Euler, DDIM) or
      1/steps² (Heun). On a learned model, quality against cost is measured, as in section 5 and the benchmark.
    - **Time is linear in DiT passes**; a clip costs FLOPs per pass × passes per step × steps, plus one decode.
    - At Sora scale (61,440 tokens, 20 steps, guidance: ~2.5M token evaluations) attention is ~90% of each pass:
      **fewer passes** save linearly, **fewer tokens** save up to quadratically.
    - **SDEdit**: noise a real clip to t and finish it under a new prompt (`pipe(..., init_video=, strength=t)`);
      t trades keeping the clip against following the prompt, and only the steps below t are paid for.
    - **Autoguidance** adds w·(v_cond − v_weak), a pull away from a weaker model of the same data (an early
      checkpoint of the same network): a third pass per step, whose worth is measured per prompt group (section 8's
      table) and recorded in the checkpoint; `pipe(..., autoguidance=0)` is plain guidance.
    - A run costs passes × FLOPs per pass (and passes × tokens token evaluations); you counted the passes yourself.

    The probe behind `prompt_adherence` (how a video is read, and what held-out combinations say about
    generalisation) is the next lesson.

    Previous: [07 · Training text-to-video](07_training_text_to_video.ipynb) · Next: [09 ·
    Evaluation](09_evaluation.ipynb)
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
