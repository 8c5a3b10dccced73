"""Write notebooks/04_diffusion_from_scratch.ipynb (without outputs).

    python notebooks/_build/make_04.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/04_diffusion_from_scratch.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "04_diffusion_from_scratch.ipynb"

cells = [
    md(f"""
    # 04 · Diffusion from scratch: turning noise into data

    {BADGE.format(name=NAME)}

    Lesson 04 of **minivid**. The VAE of lesson 03 gives us small latent videos. Now we need a way to *make new
    ones*. A diffusion model learns to undo noise: we teach a network what a slightly cleaner version of a noisy
    sample looks like, then start from pure Gaussian noise and apply it step after step. This lesson builds that on
    **2-D toy data**, where every sample is a dot we can see, and ends by noising real ShapesWorld latents.

    **You will learn**

    - the forward process: data and noise mixed along a path, for **flow matching** (straight lines,
      `x_t = (1 − t)·x₀ + t·ε`) and **DDPM** (`x_k = √ᾱ_k·x₀ + √(1 − ᾱ_k)·ε`);
    - what the network is trained to predict (a **velocity** or the **noise**), by training a tiny MLP for a few
      seconds with each recipe and sampling from it;
    - the samplers of `minivid.sampling`: **Euler** versus **Heun**, their trajectories, and what a step buys;
    - why the **timestep distribution** matters (uniform versus logit-normal);
    - what noisy *video* latents look like, decoded through the VAE;
    - to write the flow-matching interpolation and its target yourself.

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
    from torch import nn

    from minivid import diffusion, sampling, viz, world
    from minivid.vae import VideoVAE

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.set_num_threads(1)  # tiny models: one thread is fastest, and polite on a shared machine
    _ = torch.manual_seed(0)  # every random draw below is seeded
    """),
    md("""
    ## 1 · The toy data: eight Gaussians on a ring

    A distribution we can draw: 8 small blobs on a circle of radius 2. It has what makes generation hard in
    miniature: several separate **modes** (think "red circle" and "blue square"), and nothing in between. A good
    generator puts its samples on the blobs, in equal numbers, and none in the gaps.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    MODES = 2.0 * torch.stack([torch.cos(torch.arange(8) * math.pi / 4), torch.sin(torch.arange(8) * math.pi / 4)], 1)
    BLOB = 0.1  # standard deviation of each blob


    def sample_data(n, generator):
        \"\"\"n points (n 2) from the ring of eight Gaussians.\"\"\"
        which = torch.randint(0, 8, (n,), generator=generator)
        return MODES[which] + BLOB * torch.randn(n, 2, generator=generator)


    def quality(points):
        \"\"\"Share of points within 3 blob-widths of a mode, and how evenly the modes are used (1 = perfectly).\"\"\"
        dist = torch.cdist(points, MODES)  # n 8
        near = dist.min(1).values < 3 * BLOB
        counts = torch.bincount(dist.argmin(1)[near], minlength=8).float()
        balance = (counts.min() / counts.max()).item() if counts.max() > 0 else 0.0
        return near.float().mean().item(), balance


    data = sample_data(2000, torch.Generator().manual_seed(0))
    on_modes, balance = quality(data)
    print(f"data: {tuple(data.shape)}, {on_modes:.0%} within 3 blob-widths of a mode, mode balance {balance:.2f}")
    """),
    md("""
    ## 2 · Noising: a path from data to noise

    Both recipes mix a data point x₀ with Gaussian noise ε ~ N(0, I); they differ in the mixing weights.

    **Flow matching / rectified flow** (Lipman et al. 2022; Liu et al. 2022; what SD3 and recent video models use)
    walks a **straight line**: x_t = (1 − t)·x₀ + t·ε for t from 0 (data) to 1 (noise). Its velocity along the path,
    dx_t/dt = ε − x₀, is the training target: `diffusion.add_noise` and `diffusion.flow_target`.

    **DDPM** (Ho et al. 2020) uses K = 1000 discrete steps with x_k = √ᾱ_k·x₀ + √(1 − ᾱ_k)·ε, where ᾱ_k falls
    from ≈1 to ≈0 following a schedule (here the cosine one of Nichol & Dhariwal 2021); the network predicts ε.
    """),
    code("""
    g = torch.Generator().manual_seed(1)
    x0 = sample_data(2000, g)
    eps = torch.randn(x0.shape, generator=g)
    abar = diffusion.make_alphas_cumprod(1000, "cosine")  # (K,) float64

    fig, axes = plt.subplots(2, 5, figsize=(11, 4.6), layout="constrained", sharex=True, sharey=True)
    for ax, t in zip(axes[0], (0.0, 0.25, 0.5, 0.75, 1.0)):
        xt = diffusion.add_noise(x0, eps, torch.full((len(x0),), t))
        ax.scatter(*xt[:800].T, s=1, alpha=0.5)
        ax.set_title(f"flow, t = {t}", fontsize=9)
    for ax, k in zip(axes[1], (0, 250, 500, 750, 999)):
        xk = diffusion.ddpm_add_noise(x0, eps, abar[k].float().expand(len(x0)))
        ax.scatter(*xk[:800].T, s=1, alpha=0.5, color="C1")
        ax.set_title(f"DDPM, k = {k}", fontsize=9)
    for ax in axes.flat:
        ax.set(xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal", xticks=[], yticks=[])
    plt.show()
    """),
    md("""
    Same start, same end, different journeys. One number describes *how noisy* a point is, the **signal-to-noise
    ratio**: (signal weight / noise weight)². Flow: ((1 − t)/t)². DDPM: ᾱ/(1 − ᾱ). Plotting both against the
    fraction of the way from data to noise shows that the cosine schedule and the straight line destroy
    information at similar rates, while DDPM's original linear schedule races to pure noise halfway through:
    """),
    code("""
    u = torch.linspace(0.001, 0.999, 999)
    fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
    ax.semilogy(u, ((1 - u) / u) ** 2, label="flow matching: ((1 - t) / t)²")
    for name in ("cosine", "linear"):
        a = diffusion.make_alphas_cumprod(1000, name)[(u * 1000).long()]
        ax.semilogy(u, a / (1 - a), label=f"DDPM, {name} schedule: ᾱ / (1 - ᾱ)")
    ax.set(xlabel="t  (k / K for DDPM)", ylabel="signal-to-noise ratio", ylim=(1e-6, 1e6))
    ax.legend(fontsize=8)
    plt.show()
    """),
    md("""
    ## 3 · Training a denoiser, both ways

    The network is a small MLP that takes a noisy point and the time, and returns 2 numbers. Time enters as
    sine/cosine features, so that nearby times are similar but the network can still tell t = 0.1 from 0.2.

    The training step is three lines in either recipe: pick data x₀, noise ε and a time; build the noisy point;
    regress the target with MSE. `diffusion.flow_matching_loss` and `diffusion.ddpm_loss` are exactly that (their
    docstrings cite the equations). Each run below takes a few seconds.
    """),
    code("""
    class ToyDenoiser(nn.Module):
        \"\"\"(x (b 2), t (b,)) -> (b 2): a velocity for flow matching, a noise estimate for DDPM.\"\"\"

        def __init__(self, width=128, n_freq=4):
            super().__init__()
            self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(n_freq))  # pi, 2 pi, 4 pi, 8 pi
            self.net = nn.Sequential(nn.Linear(2 + 2 * n_freq, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                     nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 2))

        def forward(self, x, t):
            angles = t.reshape(-1, 1).float() * self.freqs
            return self.net(torch.cat([x, angles.sin(), angles.cos()], dim=-1))


    def train_toy(loss_fn, steps=3000, batch=256, seed=0):
        \"\"\"Train a fresh ToyDenoiser with loss_fn(model, x0, generator); returns the model and its loss curve.\"\"\"
        torch.manual_seed(seed)
        model, g = ToyDenoiser(), torch.Generator().manual_seed(seed + 1)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
        losses = []
        for _ in range(steps):
            loss = loss_fn(model, sample_data(batch, g), g)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        return model.eval(), losses


    K = 1000
    start = time.perf_counter()
    flow_model, flow_losses = train_toy(lambda m, x0, g: diffusion.flow_matching_loss(m, x0, generator=g))
    ddpm_model, ddpm_losses = train_toy(lambda m, x0, g: diffusion.ddpm_loss(m, x0, alphas_cumprod=abar.float(), generator=g))
    print(f"trained both in {time.perf_counter() - start:.1f} s")
    """),
    md("""
    Now sample. For the flow model, start at t = 1 from noise and integrate dx/dt = v(x, t) back to t = 0 with
    `sampling.euler_sample` (each step: x ← x + (t_next − t)·v), or with `sampling.heun_sample` (section 4). For
    the DDPM model, `sampling.ddpm_sample` runs Ho et al.'s Algorithm 2 (remove the predicted noise, add a little
    fresh noise). Same starting noise for all, about 50 model calls each:
    """),
    code("""
    noise = torch.randn(2000, 2, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        flow_samples = sampling.euler_sample(flow_model, noise, sampling.flow_timesteps(50))
        eps_fn = sampling.ddpm_model_fn(ddpm_model, K)  # integer step k -> the model's time k / K
        ddpm_samples = sampling.ddpm_sample(eps_fn, noise, abar, sampling.ddpm_timesteps(K, 50),
                                            generator=torch.Generator().manual_seed(3))
        heun_samples = sampling.heun_sample(flow_model, noise, sampling.flow_timesteps(25))  # 49 calls

    fig, axes = plt.subplots(1, 5, figsize=(13, 2.9), layout="constrained")
    panels = [("data", data), ("flow, Euler 50", flow_samples), ("flow, Heun 25", heun_samples),
              ("DDPM ancestral 50", ddpm_samples)]
    for ax, (title, pts) in zip(axes, panels):
        share, bal = quality(pts)
        ax.scatter(*pts.T, s=1, alpha=0.4)
        ax.set(title=f"{title}\\n{share:.0%} on modes, balance {bal:.2f}", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5),
               aspect="equal", xticks=[], yticks=[])
        ax.title.set_fontsize(9)
    axes[4].plot(np.convolve(flow_losses, np.ones(50) / 50, "valid"), label="flow (velocity)")
    axes[4].plot(np.convolve(ddpm_losses, np.ones(50) / 50, "valid"), label="DDPM (noise)")
    axes[4].set(xlabel="step", ylabel="MSE", title="training loss")
    axes[4].title.set_fontsize(9)
    axes[4].legend(fontsize=8)
    plt.show()
    assert quality(flow_samples)[0] > 0.6 and quality(ddpm_samples)[0] > 0.6  # most samples land on a blob
    """),
    md("""
    Both recipes learn the ring: most samples land on a blob, and a few seconds of training leave a few in the gaps.
    Look at the *balance* too: a sampler can put its points on blobs and still starve one of them (here the DDPM
    run under-fills a blob), which a "share on modes" score alone would not see. (The two loss curves are not comparable: the targets differ, ε − x₀
    versus ε.)
    The rest of the course uses flow matching: one simple path, one simple target, and a sampler that is a plain
    ODE solver.

    ## 4 · Samplers: Euler versus Heun

    The flow model defines a velocity field; sampling is solving the ODE dx/dt = v(x, t) from t = 1 to 0. **Euler**
    uses the velocity at the start of each step. **Heun** (Karras et al. 2022, Algorithm 1) takes the Euler step,
    measures the velocity where it lands, and redoes the step with the average of the two: second order, two model
    calls per step. Watch 40 points travel with 4 steps each, against a reference path (Heun, 200 steps):
    """),
    code("""
    def paths(sampler, x, steps):
        \"\"\"The positions after every step, (steps + 1) n 2.\"\"\"
        out = [x]
        ts = sampling.flow_timesteps(steps)
        with torch.no_grad():
            for i in range(steps):  # one step at a time, to record where it lands
                out.append(sampler(flow_model, out[-1], ts[i:i + 2]))
        return torch.stack(out)


    starts = noise[:40]
    reference = paths(sampling.heun_sample, starts, 200)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2), layout="constrained", sharey=True)
    for ax, (name, sampler) in zip(axes, [("Euler", sampling.euler_sample), ("Heun", sampling.heun_sample)]):
        ax.scatter(*data.T, s=1, color="lightgray")
        for i in range(len(starts)):
            ax.plot(*reference[:, i].T, color="gray", lw=0.6)
        p = paths(sampler, starts, 4)
        for i in range(len(starts)):
            ax.plot(*p[:, i].T, "-o", ms=2, lw=0.8, color="C3")
        ax.scatter(*starts.T, s=8, color="black", zorder=3, label="start: noise")
        calls = 4 if name == "Euler" else 7  # Heun's last step into t = 0 is an Euler step
        ax.set(title=f"{name}, 4 steps ({calls} model calls)", xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal")
    axes[0].legend(fontsize=8, loc="lower left")
    plt.show()
    """),
    md("""
    The reference paths are almost straight near the noise end and bend near the data, where the model decides
    which blob a point belongs to. Euler overshoots on bends; Heun follows them. The fair comparison counts
    **model calls** (they are the cost): distance to the reference endpoint after the whole trip, for a range of
    step counts:
    """),
    code("""
    def ode_error(sampler, steps):
        with torch.no_grad():
            end = sampler(flow_model, noise[:500], sampling.flow_timesteps(steps))
        return (end - reference_end).norm(dim=1).mean().item()


    with torch.no_grad():
        reference_end = sampling.heun_sample(flow_model, noise[:500], sampling.flow_timesteps(200))
    step_counts = [1, 2, 4, 8, 16, 32]
    euler_err = [ode_error(sampling.euler_sample, s) for s in step_counts]
    heun_err = [ode_error(sampling.heun_sample, s) for s in step_counts]
    fig, ax = plt.subplots(figsize=(5.5, 3), layout="constrained")
    ax.loglog(step_counts, euler_err, "o-", label="Euler (1 call per step)")
    ax.loglog([2 * s - 1 for s in step_counts], heun_err, "s-", label="Heun (2 calls per step)")
    ax.set(xlabel="model calls", ylabel="mean distance to the reference", title="ODE error against cost")
    ax.legend(fontsize=8)
    plt.show()
    assert heun_err[2] < euler_err[2]  # per step (4 steps each), Heun lands closer
    """),
    md("""
    Per **step**, Heun is clearly more accurate (4 Heun steps land closer than 4 Euler steps). Per **model call**,
    on this toy, it is no better: the learned velocity field bends sharply close to the data, where Heun's last step
    is an Euler step anyway, and a second-order method pays off only where the field is smooth. Which sampler wins
    is an empirical question for each model, and it is asked again in lesson 08, on videos, where one model call is
    a full DiT forward pass.

    ## 5 · Which times to train on

    Training draws one t per example. `diffusion.sample_timesteps` offers the original **uniform** t ~ U(0, 1)
    and the **logit-normal** t = sigmoid(n), n ~ N(0, 1), which Esser et al. (2024, SD3) found best for images: it
    spends more training on the middle times and less at the ends. The argument: at the ends the best answer is
    nearly fixed (close to t = 0 the point is almost clean; close to t = 1 the best guess of x₀ is the *average*
    data point), while in the middle the network must decide *which* blob a point is heading for. Left, where each
    recipe spends its examples; right, the trained toy model's loss at each t:
    """),
    code("""
    g = torch.Generator().manual_seed(4)
    t_uniform = diffusion.sample_timesteps(100_000, "uniform", generator=g)
    t_logit = diffusion.sample_timesteps(100_000, "logit_normal", generator=g)
    t_grid = torch.linspace(0.01, 0.99, 50)
    with torch.no_grad():
        x0_eval = sample_data(4000, g)
        per_t = [diffusion.flow_matching_loss(flow_model, x0_eval, t=torch.full((4000,), float(t)), generator=g)
                 for t in t_grid]

    fig, axes = plt.subplots(1, 2, figsize=(10, 3), layout="constrained")
    axes[0].hist(t_uniform.numpy(), bins=50, density=True, alpha=0.6, label="uniform")
    axes[0].hist(t_logit.numpy(), bins=50, density=True, alpha=0.6, label="logit-normal (0, 1)")
    axes[0].hist(diffusion.shift_time(t_logit, 3.0).numpy(), bins=50, density=True, histtype="step", color="k",
                 label="logit-normal, shifted by 3")
    axes[0].set(xlabel="t", ylabel="density", title="where training spends its examples")
    axes[0].legend(fontsize=8)
    axes[1].plot(t_grid, per_t)
    axes[1].set(xlabel="t", ylabel="flow-matching loss", title="loss of the trained toy model at each t")
    plt.show()
    """),
    md("""
    Careful with the right panel: most of that loss can never be learned away. Near t = 0 the noise ε is invisible
    in x_t, so the ε part of the target ε − x₀ is a pure guess; near t = 1 the same holds for x₀. The loss says how
    *uncertain* the target is at each t, not how much there is left to learn, which is why the weighting is chosen
    by measuring samples, not the loss. On the toy, compare the two distributions at the same (deliberately short)
    training budget, 400 steps:
    """),
    code("""
    short = {}
    for kind in ("uniform", "logit_normal"):
        model, _ = train_toy(lambda m, x0, g: diffusion.flow_matching_loss(m, x0, generator=g, timesteps=kind),
                             steps=400)
        with torch.no_grad():
            short[kind] = sampling.heun_sample(model, noise, sampling.flow_timesteps(25))

    fig, axes = plt.subplots(1, 2, figsize=(7, 3.3), layout="constrained")
    for ax, (kind, pts) in zip(axes, short.items()):
        share, bal = quality(pts)
        ax.scatter(*pts.T, s=1, alpha=0.4)
        ax.set(title=f"{kind}, 400 steps\\n{share:.0%} on modes, balance {bal:.2f}", xlim=(-3.5, 3.5),
               ylim=(-3.5, 3.5), aspect="equal", xticks=[], yticks=[])
        ax.title.set_fontsize(9)
    plt.show()
    """),
    md("""
    On a 2-D toy the two are indistinguishable. On images, where the middle times carry the hard decisions about
    layout, SD3 measured a clear gain, and minivid trains its video model with logit-normal times by default.

    The black outline is the same draw pushed towards noise by SD3's **time shift**, t' = 3t / (1 + 2t)
    (`diffusion.shift_time`, the very function lesson 08's sampler uses to spend more of its steps at high noise).
    On video latents it paid off, most of all on keeping an object the same from frame to frame and on scenes with
    two objects. The shipped model's second training run (`--timestep-shift 3`) follows 77.0%
    of single-object prompts and 33.6% of two-object prompts, against 73.6% and 23.4% for the same run with
    unshifted times (same start, same batches, same steps; `benchmarks/results/t2v_recipes.json`). The lesson to
    take away: **the timestep distribution is a weighting of the loss**, and it is worth choosing on purpose.

    ## 6 · Noising real video latents

    Everything above works on any tensor with the batch first, so the same `add_noise` noises a latent video
    `b c t h w` from the VAE of lesson 03. Decoding the noisy latent shows what the model will see at each t. (The
    shipped VAE is found in the repository checkout; weights are never downloaded.)
    """),
    code("""
    from minivid.checkpoint import find_shipped

    vae = VideoVAE.from_pretrained(find_shipped(), device="cpu")
    scene = world.SceneSpec((
        world.ObjectSpec("triangle", "yellow", "moves right", size=5.0, x=7.0, y=10.0, speed=1.0, angle=-90.0),
        world.ObjectSpec("circle", "purple", "bounces", size=4.0, x=22.0, y=6.0, gravity=0.25, restitution=0.7,
                         floor=28.0),
    ))
    clip = world.render(scene)  # t c h w
    z0 = vae.encode_clips(clip[None])  # 1 c t h w, unit variance: ready for diffusion
    z_eps = torch.randn(z0.shape, generator=torch.Generator().manual_seed(5))
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("clip", tuple(clip.shape), "-> latent", tuple(z0.shape), "(b c t h w)")
    t_show = torch.tensor([0.0, 0.1, 0.25, 0.5, 0.75, 1.0])
    z_t = diffusion.add_noise(z0.expand(len(t_show), -1, -1, -1, -1), z_eps.expand(len(t_show), -1, -1, -1, -1), t_show)
    assert torch.allclose(z_t[0], z0[0]) and torch.allclose(z_t[-1], z_eps[0])  # t = 0 is data, t = 1 is noise
    print("x_t at t =", [round(t, 2) for t in t_show.tolist()], "->", tuple(z_t.shape))
    """),
    code("""
    decoded = vae.decode_latents(z_t)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    viz.frame_strip(decoded, [f"t = {t:.2f}" for t in t_show], every=4, ax=ax)
    plt.show()
    """),
    md("""
    At t = 0.1 the clip is still clearly readable; by t = 0.5 only the colours and rough positions survive; at
    t = 1 the decoder turns pure noise into coloured mush (noise is not a latent it was trained on). Generation
    runs this film backwards: the first steps, at high noise, decide the layout and colours; the last, at low
    noise, sharpen the edges.

    ## 7 · Play with it

    Slide the noise level t and watch the decoded clip (left: the clean reconstruction, right: decoded x_t). The
    slider needs a running kernel; a static example follows.
    """),
    code("""
    def show_noisy(t=0.3):
        \"\"\"Decode x_t = (1 - t) z0 + t eps next to the clean clip.\"\"\"
        zt = diffusion.add_noise(z0, z_eps, torch.tensor([t]))
        pair = vae.decode_latents(torch.cat([z0, zt]))
        snr = math.inf if t == 0 else ((1 - t) / t) ** 2
        display(viz.show_video((pair * 32).round() / 32, ["clean (t = 0)", f"x_t, t = {t:.2f}"], scale=2))
        print(f"t = {t:.2f}: x_t = {1 - t:.2f} * data + {t:.2f} * noise, signal-to-noise ratio {snr:.2f}")


    t_slider = widgets.FloatSlider(value=0.3, min=0.0, max=1.0, step=0.05, description="t")
    display(t_slider, widgets.interactive_output(show_noisy, {"t": t_slider}))
    """),
    code("""
    show_noisy(0.4)  # a static example (the GIFs are snapped to 32 levels per channel to keep the notebook small)
    """),
    md("""
    ## 8 · Your turn: the flow-matching interpolation and target

    Write the two functions the whole training recipe rests on: `my_add_noise(x0, eps, t)` returns
    x_t = (1 − t)·x₀ + t·ε for a batch (t has one value per example, shape `(b,)`, and must broadcast over every
    other axis), and `my_flow_target(x0, eps)` returns the velocity dx_t/dt.

    *Hint.* `t.reshape(-1, *[1] * (x0.dim() - 1))` turns `(b,)` into `(b, 1, 1, ...)`.

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code** and run the check below it: it raises an `AssertionError` saying what is off if your functions disagree
    with `diffusion.add_noise` and `diffusion.flow_target`.
    """),
    code("""
    def my_add_noise(x0, eps, t):
        \"\"\"x_t = (1 - t) x0 + t eps, with t (b,) broadcast over the other axes of x0 (b ...).\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        t = t.reshape(-1, *[1] * (x0.dim() - 1))
        return (1 - t) * x0 + t * eps
        # ---------------------------------------------------------------------------------------------


    def my_flow_target(x0, eps):
        \"\"\"The velocity d x_t / dt along the straight path.\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        return eps - x0
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    gen = torch.Generator().manual_seed(0)
    for shape in [(6, 2), (3, 8, 5, 8, 8)]:  # toy points, and latent videos b c t h w
        x0_, eps_ = torch.randn(shape, generator=gen), torch.randn(shape, generator=gen)
        t_ = torch.rand(shape[0], generator=gen)
        xt_ = my_add_noise(x0_, eps_, t_)
        assert xt_.shape == x0_.shape, f"{shape}: x_t has shape {tuple(xt_.shape)}, wanted {shape}"
        assert torch.allclose(xt_, diffusion.add_noise(x0_, eps_, t_), atol=1e-6), f"{shape}: x_t differs from add_noise"
        v_ = my_flow_target(x0_, eps_)
        assert torch.allclose(v_, diffusion.flow_target(x0_, eps_), atol=1e-6), f"{shape}: wrong velocity"
        dt = 1e-3  # the target really is the time derivative of the path
        assert torch.allclose((my_add_noise(x0_, eps_, t_ + dt) - xt_) / dt, v_, atol=1e-2), "v is not d x_t / dt"
        assert torch.allclose(xt_ - t_.reshape(-1, *[1] * (len(shape) - 1)) * v_, x0_, atol=1e-5)  # x0 = x_t - t v
        print(f"shape {shape}: my_add_noise and my_flow_target agree with minivid.diffusion ✓")
    """),
    md("""
    The last assert is why a velocity is so convenient: from x_t and the predicted v, the clean sample is one line
    away (`diffusion.velocity_to_x0`), and so is the noise (`velocity_to_eps`).

    ## Recap

    - **Noising** mixes data and Gaussian noise: flow matching along a straight line x_t = (1 − t)·x₀ + t·ε, DDPM
      with √ᾱ and √(1 − ᾱ) weights. Their signal-to-noise curves say how fast each destroys information.
    - **Training** is regression: predict the velocity ε − x₀ (flow) or the noise ε (DDPM) from x_t and t, with MSE.
      A few seconds of it teach an MLP eight Gaussians.
    - **Sampling** solves an ODE from noise to data: Euler is one call per step, Heun two but second order; per
      step Heun is more accurate, per model call it depends on how smooth the learned field is.
    - The **timestep distribution** weights the loss over t; logit-normal concentrates on the middle times. The
      loss at each t measures uncertainty, not progress.
    - The same functions noise **video latents**; at t ≈ 0.5 only layout and colour survive.

    **Next: [06 · The diffusion transformer](06_diffusion_transformer.ipynb)**, the network that predicts the
    velocity for latent videos instead of 2-D points. Previous: [03 · The video VAE](03_video_vae.ipynb).
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
