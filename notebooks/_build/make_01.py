"""Write notebooks/01_shapesworld.ipynb (without outputs).

    python notebooks/_build/make_01.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/01_shapesworld.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "01_shapesworld.ipynb"

cells = [
    md(f"""
    # 01 · ShapesWorld: a tiny world where every answer is known

    {BADGE.format(name=NAME)}

    Lesson 01 of **minivid**, a course that builds a mini Sora (a text-to-video diffusion model) from scratch.
    Before any model, we need data. This lesson opens the box our model will learn from: **ShapesWorld**, short
    videos of coloured shapes that move, spin and bounce, each one made from a description we control.

    **You will learn**

    - how a clip is described by a *scene spec* (`ObjectSpec`, `SceneSpec`), and why having one matters;
    - how the renderer turns a spec into pixels: signed distance → anti-aliased coverage → colour
      (you build it yourself and prove it matches `world.render`);
    - the motion law behind each of the 8 motions, including the bounce and its restitution;
    - how the same spec becomes captions in English, traditional and simplified Chinese;
    - the **held-out split**, which will later tell us whether the model can *imagine* combinations it never saw;
    - how the dataset streams thousands of clips per second, and why nothing is stored on disk.

    Runs top to bottom in well under a minute on a laptop CPU.
    """),
    code(SETUP),
    md("""
    ## Why a toy world?

    Real text–video data is messy: captions are vague, and when a model produces a video there is no ground truth to
    check it against. Sora-class models cope with that by training on enormous amounts of data. We have a CPU.

    So we build a world small enough to train in on a laptop, yet rich enough to need everything a video model needs:
    **text** (which object, which colour), **space** (shape, position) and **time** (motion). Every clip is rendered
    from known parameters, so its caption is exactly right, and in lesson 09 a generated video can be checked against
    its prompt *exactly*. The contract that the renderer, the captions and the evaluator all follow is written down in
    `shared/shapesworld-spec.md` ("ShapesWorld v1"); the code lives in `minivid/world.py`.
    """),
    code("""
    %matplotlib inline
    import json
    from dataclasses import replace
    from pathlib import Path

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from minivid import viz, world
    from minivid.world import ObjectSpec, SceneSpec

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.manual_seed(0)  # nothing below draws from torch's generator, but a fixed seed is a good habit
    SEED = 0  # every random draw below comes from a numpy Generator seeded explicitly
    """),
    md("""
    ## 1 · The vocabulary

    The whole world is three short lists: **3 shapes × 8 colours × 8 motions**. Each colour is an exact sRGB triple,
    so "red" always means the same pixels, which is what lets an evaluator recognise it later.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print("shapes :", ", ".join(world.SHAPES))
    print("colours:", ", ".join(f"{name} {rgb}" for name, rgb in world.COLOURS.items()))
    print("motions:", ", ".join(world.MOTIONS))
    n_all, n_valid = len(world.SHAPES) * len(world.COLOURS) * len(world.MOTIONS), len(world.valid_combinations())
    print(f"{n_all} combinations, {n_valid} valid: a spinning circle looks exactly like a still one, "
          f"so the {n_all - n_valid} 'circle rotates ...' combinations do not exist")
    """),
    md("""
    ## 2 · Scene specs: a clip as a handful of numbers

    A clip is fully described by a `SceneSpec`: a canvas (frames, height, width, background) and one or two
    `ObjectSpec`s. An `ObjectSpec` holds the three words of the caption (shape, colour, motion) **and** the numbers
    that make the motion concrete: size, start position, speed, angle, and for bounces gravity and restitution.

    Conventions (from the docstring of `minivid/world.py`): coordinates are continuous pixels, **x to the right,
    y down** (so "up" means smaller y); pixel (row *j*, column *i*) covers the square [i, i+1) × [j, j+1) and is
    sampled at its centre (i + ½, j + ½); angles are degrees, **clockwise on screen**.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ball = ObjectSpec("circle", "red", "moves right", size=4.0, x=8.0, y=16.0, speed=1.0)
    scene = SceneSpec((ball,))  # default canvas: 17 frames of 32 x 32 pixels, black background
    print("canvas:", scene.frames, "frames of", scene.height, "x", scene.width, "| background", scene.background)
    print(scene.to_dict()["objects"][0])
    """),
    md("""
    Specs are frozen dataclasses that turn into plain JSON (`to_dict` / `from_dict`); that is how the fixed
    evaluation set in `data/eval_set.json` is stored. They also refuse what the world cannot show, with a message
    that says why:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    try:
        ObjectSpec("circle", "blue", "rotates clockwise")
    except ValueError as err:
        print("ValueError:", err)
    """),
    md("""
    `world.render` turns a spec into a clip: a float tensor laid out **`t c h w`** (frames, RGB channels, height,
    width) with values in [0, 1]. `viz.show_video` plays it inline as an animated GIF, upscaled 4× so you can see
    the pixels.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    clip = world.render(scene)
    print("clip:", tuple(clip.shape), "(t c h w),", clip.dtype, f"values in [{clip.min():.2f}, {clip.max():.2f}]")
    """),
    code("""
    viz.show_video(clip, world.caption(scene))
    """),
    md("""
    We rarely pick those numbers by hand. `world.sample_object(rng, shape, colour, motion)` draws them within the
    spec's ranges (size 3–5 px, speed 0.8–1.2 px/frame, spin 10–20°/frame, …) and chooses a start so that the object
    stays fully in view for all 17 frames. Here is one object per motion, drawn from a seeded generator:
    """),
    code("""
    rng = np.random.default_rng(SEED)
    shapes = ["circle", "triangle", "circle", "square", "square", "triangle", "circle", "triangle"]
    drawn = [world.sample_object(rng, shape, colour, motion)
             for shape, colour, motion in zip(shapes, world.COLOURS, world.MOTIONS)]
    gallery = torch.stack([world.render(SceneSpec((o,))) for o in drawn])  # b t c h w
    viz.show_video(gallery, [world.caption(o) for o in drawn])
    """),
    md("""
    ## 3 · The render rule, built by hand

    How does a circle at a *fractional* position become pixels? Three steps, for every pixel centre **p**:

    1. **Signed distance** to the outline: for a circle of radius *r* centred at **c**, `d(p) = |p − c| − r`.
       Negative inside, zero on the outline, positive outside.
    2. **Coverage**: `clamp(0.5 − d, 0, 1)`. Pixels deeper than half a pixel inside are fully covered (1), pixels
       more than half a pixel outside are empty (0), and across the outline coverage ramps linearly over one pixel:
       an estimate of how much of that pixel the shape covers. This is *anti-aliasing*.
    3. **Colour**: `background + coverage · (colour − background)`. Two objects never overlap (the sampler keeps them
       ≥ 2 px apart), so a second object simply adds its own term.

    Where is the object at frame *t*? `world.trajectory(obj, frames)` answers with the centre x, y and the angle at
    every frame; section 4 looks inside it. Let's write the renderer for our red ball:
    """),
    code("""
    H, W = scene.height, scene.width
    gx = torch.arange(W, dtype=torch.float32) + 0.5  # x of each pixel centre
    gy = torch.arange(H, dtype=torch.float32) + 0.5  # y of each pixel centre
    background = torch.tensor(scene.background, dtype=torch.float32) / 255


    def circle_frame(obj, cx, cy):
        \"\"\"Signed distance (h w), coverage (h w) and RGB image (c h w) of a circle centred at (cx, cy).\"\"\"
        d = torch.sqrt((gx[None, :] - cx) ** 2 + (gy[:, None] - cy) ** 2) - obj.size  # broadcasts to (h, w)
        coverage = (0.5 - d).clamp(0.0, 1.0)
        colour = torch.tensor(world.COLOURS[obj.colour], dtype=torch.float32) / 255
        rgb = background[:, None, None] + coverage * (colour - background)[:, None, None]
        return d, coverage, rgb


    xs, ys, _ = world.trajectory(ball, scene.frames)  # centre of the ball at every frame
    mine = torch.stack([circle_frame(ball, float(x), float(y))[2] for x, y in zip(xs, ys)])  # t c h w
    assert mine.shape == clip.shape
    assert torch.allclose(mine, world.render(scene), atol=1e-6), "the hand-made renderer disagrees with world.render"
    print("hand-made renderer == world.render, all", scene.frames, "frames ✓")
    """),
    md("""
    The three steps for one frame, and one row of pixels through the centre of the ball:
    """),
    code("""
    d, coverage, rgb = circle_frame(ball, 10.3, 16.0)  # a fractional position on purpose
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.8), layout="constrained")
    lim = float(d.abs().max())
    im = axes[0].imshow(d, cmap="RdBu", vmin=-lim, vmax=lim, extent=(0, W, H, 0))
    axes[0].contour(gx, gy, d, levels=[0], colors="k", linewidths=1)
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    axes[0].set_title("1. signed distance d (px)")
    axes[1].imshow(coverage, cmap="gray", vmin=0, vmax=1, interpolation="nearest", extent=(0, W, H, 0))
    axes[1].set_title("2. coverage clamp(0.5 - d)")
    axes[2].imshow(rgb.permute(1, 2, 0), interpolation="nearest", extent=(0, W, H, 0))
    axes[2].set_title("3. colour")
    for ax in axes[:3]:
        ax.axhline(16.5, color="orange", lw=0.8, ls=":")
    row = 16  # the pixel row whose centre is y = 16.5
    axes[3].plot(gx, d[row], "o-", ms=3, label="signed distance d")
    axes[3].plot(gx, coverage[row], "s-", ms=3, label="coverage")
    axes[3].axhline(0, color="gray", lw=0.5)
    axes[3].set_xlim(0, 20)
    axes[3].set_ylim(-4.5, 6)
    axes[3].set_xlabel("x (px)")
    axes[3].set_title("the dotted row")
    axes[3].legend(fontsize=8)
    plt.show()
    """),
    md("""
    **Why not just colour the pixels whose centre is inside?** Because objects move by fractions of a pixel per
    frame. With a hard inside/outside test, a shape's pixels jump in whole-pixel steps and its area flickers; with
    coverage, the brightness-weighted centre follows the true position smoothly and the area stays constant. The
    model (and the evaluator) can then read sub-pixel motion off the pixels.
    """),
    code("""
    shifts = np.linspace(0, 2, 81)
    hard_c, soft_c, hard_a, soft_a = [], [], [], []
    for s in shifts:
        d, cov, _ = circle_frame(ball, 10.0 + s, 16.3)
        hard = (d < 0).float()
        hard_c.append(float((hard * gx).sum() / hard.sum()))
        soft_c.append(float((cov * gx).sum() / cov.sum()))
        hard_a.append(float(hard.sum()))
        soft_a.append(float(cov.sum()))
    fig, axes = plt.subplots(1, 2, figsize=(9, 2.8), layout="constrained")
    axes[0].plot(10 + shifts, hard_c, label="hard edge")
    axes[0].plot(10 + shifts, soft_c, label="anti-aliased")
    axes[0].plot(10 + shifts, 10 + shifts, "k:", lw=1, label="true centre")
    axes[0].set(xlabel="true centre x (px)", ylabel="centre seen in the pixels", title="position")
    axes[1].plot(10 + shifts, hard_a, label="hard edge")
    axes[1].plot(10 + shifts, soft_a, label="anti-aliased")
    axes[1].axhline(np.pi * ball.size**2, color="k", ls=":", lw=1, label="pi r^2")
    axes[1].set(xlabel="true centre x (px)", ylabel="area (px)", title="area")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    plt.show()
    """),
    md("""
    Squares and triangles use the same recipe; only the signed distance changes. For a polygon, `world.signed_distance`
    takes the largest of (edge normal · **p**) − inradius over its edges. You will write the square's version yourself
    in the exercise at the end.

    ## 4 · The physics: one motion law per caption

    `world.trajectory(obj, frames)` gives the centre x, y and the angle of an object at frames 0, 1, …, frames − 1:

    - **moves left / right / up / down**: constant velocity, `x = x0 ± speed · t` (or the same for y);
    - **rotates clockwise / counterclockwise**: fixed centre, `angle = angle0 ± spin · t`;
    - **bounces**: falls under gravity and rebounds off the bottom edge (below);
    - **stays still**: nothing changes.

    The law is defined **per frame, independent of the clip length**: a 64-frame clip continues the 17-frame one
    rather than squeezing the same motion into more frames. A model that later generates longer videos should
    *extend* motion, so the data must too:
    """),
    code("""
    assert all(np.array_equal(long[:17], short)
               for long, short in zip(world.trajectory(ball, 64), world.trajectory(ball, 17)))
    longer = world.render(replace(scene, frames=64))[:17]
    assert torch.allclose(longer, clip, atol=1e-6), (longer - clip).abs().max()  # atol: float rounding at edges
    print("the first 17 frames of a 64-frame clip are the 17-frame clip ✓")
    """),
    md("""
    The trajectories of the eight objects from the gallery above, over two clip lengths (the dotted line is the last
    frame of a default clip). The y axis is flipped so that "up" on the plot is up on screen; an angle that grows is a
    clockwise turn. Only the default 17 frames are guaranteed to stay in view: past them a moving object may leave the
    canvas, just as it would in a real camera.
    """),
    code("""
    frames = 34
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), layout="constrained")
    for obj in drawn:
        x, y, angle = world.trajectory(obj, frames)
        for ax, values in zip(axes, (x, y, angle)):
            ax.plot(values, ".-", ms=3, lw=1, label=obj.motion)
    for ax, title in zip(axes, ("centre x (px)", "centre y (px), up is up", "angle (degrees, clockwise)")):
        ax.axvline(world.DEFAULT_FRAMES - 1, color="k", ls=":", lw=1)
        ax.set(xlabel="frame", title=title)
    axes[1].invert_yaxis()
    axes[2].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1))
    plt.show()
    """),
    md("""
    ### The bounce

    The object starts at rest at height y₀ and falls with constant gravity *g* (px/frame²): `y = y₀ + g t² / 2`.
    It reaches the floor at `t₁ = √(2 (floor − y₀) / g)` with speed `g t₁`. At the impact the velocity flips and
    keeps a fraction *e*, the **restitution** (0.7–0.9 in ShapesWorld). Each flight then rises to a height
    `v² / 2g`, so every apex is **e²** times the previous one, and every flight lasts *e* times as long. The flight
    times form a geometric series with a finite sum: after it the object rests on the floor.

    `sample_object` picks *g* so that the first impact happens between frames 4.5 and 8, which guarantees at least
    one visible bounce within 17 frames. Let's check the e² law on a hand-made drop:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    drop = ObjectSpec("circle", "yellow", "bounces", size=4.0, x=16.0, y=6.0, gravity=1.0, restitution=0.8, floor=28.0)
    t_fine = np.linspace(0, 40, 40_001)  # a fine time grid, to see the curve between frames
    height = drop.floor - world.bounce_y(t_fine, drop.y, drop.floor, drop.gravity, drop.restitution)
    inner = height[1:-1]
    apex = inner[(inner > height[:-2]) & (inner >= height[2:]) & (inner > 1e-3)]  # local maxima after the drop
    t_hit = np.sqrt(2 * (drop.floor - drop.y) / drop.gravity)
    print(f"dropped from {drop.floor - drop.y:.1f} px above the floor, first impact at frame {t_hit:.2f}")
    print("apex heights (px):", np.round(apex[:4], 2))
    assert np.allclose(apex[1:4] / apex[:3], drop.restitution**2, atol=1e-3)
    print(f"each apex is e^2 = {drop.restitution ** 2:.2f} times the one before ✓")
    """),
    code("""
    frames_t = np.arange(41)
    fig, ax = plt.subplots(figsize=(9, 3), layout="constrained")
    ax.axvspan(0, world.DEFAULT_FRAMES - 1, color="0.93", label="a default 17-frame clip")
    ax.plot(t_fine, height, lw=1.2, label="height above the floor")
    ax.plot(frames_t, drop.floor - world.trajectory(drop, len(frames_t))[1], "o", ms=3, label="what the frames sample")
    ax.axhline(0, color="k", lw=1)
    h0 = drop.floor - drop.y
    for k in range(3):
        ax.axhline(h0 * drop.restitution ** (2 * k), color="gray", ls=":", lw=0.8)
        ax.text(40.5, h0 * drop.restitution ** (2 * k), f"$e^{2 * k} h_0$" if k else "$h_0$", va="center", fontsize=9)
    ax.set(xlabel="frame", ylabel="px", title=f"a bounce with restitution e = {drop.restitution}", xlim=(0, 43))
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.62, 1))
    plt.show()
    """),
    md("""
    ## 5 · Captions in three scripts

    The same spec yields its caption. English and Chinese captions come from templates, several phrasings per language,
    so the model learns the *meaning* rather than one fixed string; template 0 is the **canonical** caption that the
    evaluation uses. Chinese is written in traditional characters (canonical, as in the spec) and in simplified
    characters, which are accepted too. Two objects are joined by "and" in English and by "，" or "和" in Chinese.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    pair = SceneSpec((
        ObjectSpec("circle", "red", "moves left", x=26.0, y=8.0, speed=1.0),
        ObjectSpec("square", "blue", "rotates clockwise", x=12.0, y=22.0, speed=15.0),
    ))
    for lang in world.LANGUAGES:
        for template in range(world.CAPTION_TEMPLATES[lang]):
            note = "  <- canonical" if template == 0 else ""
            print(f"{lang:8s} {template}  {world.caption(pair, lang, template)}{note}")
    """),
    md("""
    Chinese has no spaces between words; the pattern is colour + 色的 + shape + motion. For our small vocabulary,
    simplified text is a character-by-character mapping of the traditional one (`world.TO_SIMPLIFIED`), so only a
    dozen characters differ. The whole dictionary:
    """),
    code("""
    words = [*((c, world.ZH_COLOURS[c] + "色") for c in world.COLOURS), *world.ZH_SHAPES.items(), *world.ZH_MOTIONS.items()]
    rows = "".join(f"<tr><td>{en}</td><td>{zh}</td><td>{zh.translate(world.TO_SIMPLIFIED)}</td></tr>" for en, zh in words)
    HTML("<table><tr><th>English</th><th>traditional 繁體</th><th>simplified 简体</th></tr>" + rows + "</table>")
    """),
    md("""
    ## 6 · The held-out split: can the model imagine?

    Suppose the model has seen red things, circles, and things moving left, but **never a red circle moving left**.
    Can it make one? That is *compositional generalisation*, and it is what separates following a prompt from
    memorising clips. To measure it, `world.HELD_OUT` lists 24 of the 176 valid combinations that are **never
    rendered for training**; the evaluation in lesson 09 asks for exactly those. The list is built so that every
    shape, colour and motion is still seen in training, and every *pair* of values inside a held-out combination
    (say "red circle", or "circle moves left") also appears in training: only the triple is new.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    valid, held = world.valid_combinations(), world.HELD_OUT
    train = world.split_combinations("train")
    print(f"valid {len(valid)} = train {len(train)} + held out {len(held)} ({len(held) / len(valid):.1%} held out)")
    for i, (name, values) in enumerate([("shape", world.SHAPES), ("colour", world.COLOURS), ("motion", world.MOTIONS)]):
        counts = [sum(c[i] == v for c in held) for v in values]
        print(f"held-out combinations per {name}: {counts}")
    pairs_in_train = {(i, j, c[i], c[j]) for c in train for i, j in ((0, 1), (0, 2), (1, 2))}
    assert all((i, j, c[i], c[j]) in pairs_in_train for c in held for i, j in ((0, 1), (0, 2), (1, 2)))
    print("every pair of values inside a held-out combination appears in training ✓")
    """),
    code("""
    status = {"train": 0, "held out": 1, "invalid": 2}
    fig, axes = plt.subplots(1, 3, figsize=(10, 4), layout="constrained", sharey=True)
    for ax, shape in zip(axes, world.SHAPES):
        grid = np.array([[status["held out"] if (shape, c, m) in held else status["train"] if (shape, c, m) in train
                          else status["invalid"] for m in world.MOTIONS] for c in world.COLOURS])
        ax.imshow(grid, cmap=ListedColormap(["#dfe8f1", "#f28e2b", "#555555"]), vmin=0, vmax=2)
        ax.set_xticks(range(len(world.MOTIONS)), [m.replace("rotates ", "rot. ") for m in world.MOTIONS],
                      rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(world.COLOURS)), list(world.COLOURS), fontsize=8)
        ax.set_xticks(np.arange(-0.5, 8), minor=True)
        ax.set_yticks(np.arange(-0.5, 8), minor=True)
        ax.grid(which="minor", color="white", lw=1)
        ax.tick_params(which="minor", length=0)
        ax.set_title(shape)
    fig.legend(handles=[Patch(color=c, label=l) for c, l in
                        zip(["#dfe8f1", "#f28e2b", "#555555"], ["train", "held out", "invalid (a rotating circle)"])],
               loc="outside lower center", ncol=3, fontsize=9)
    plt.show()
    """),
    md("""
    The training sampler never draws a held-out combination, not even as the second object of a pair:
    """),
    code("""
    rng = np.random.default_rng(SEED)
    seen = {(o.shape, o.colour, o.motion) for _ in range(2000) for o in world.sample_scene(rng, "train").objects}
    assert not seen & set(held), "a held-out combination leaked into training"
    print(f"2000 training scenes show {len(seen)} distinct combinations, none of them held out ✓")
    """),
    md("""
    ## 7 · The dataset, and how fast it is

    `world.ShapesWorld` is a PyTorch `Dataset` of any length (a million clips by default). Clip *i* is drawn from its
    own seed `(seed, i)`, so any index can be re-rendered alone, by any worker, in any order, and always gives the same
    clip and caption. Each item is a dict with the video (`t c h w`), a caption in a random language and template,
    and its index.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ds = world.ShapesWorld(length=10_000, seed=SEED)
    item = ds[0]
    print(len(ds), "clips; an item has", sorted(item), "| video", tuple(item["video"].shape), item["video"].dtype)
    assert torch.equal(ds[123]["video"], ds[123]["video"]) and ds[123]["caption"] == ds[123]["caption"]
    assert not torch.equal(world.ShapesWorld(seed=SEED + 1)[123]["video"], ds[123]["video"])
    print("same index -> same clip; another seed -> another world ✓")
    """),
    md("""
    A `DataLoader` batches it like any dataset. Behind the scenes it calls `ShapesWorld.__getitems__` with the whole
    list of indices, and the renderer draws the batch in one vectorised call, which is where the speed comes from.
    """),
    code("""
    loader = torch.utils.data.DataLoader(ds, batch_size=6)
    batch = next(iter(loader))
    print("video batch:", tuple(batch["video"].shape), "(b t c h w)")
    viz.show_video(batch["video"], batch["caption"])
    """),
    md("""
    **How fast?** `benchmarks/world_throughput.py` measures it and writes `benchmarks/results/world_throughput.json`.
    On the course's reference machine, a 2-core CPU, the full dataset path (draw a spec and a caption, render,
    batch 256) makes about **2,100 clips per second**, and the renderer alone about 3,200. A training step on 64
    clips therefore waits about 30 ms for its data, far less than the model will spend on them: data is never the
    bottleneck. The cell below reads the file when the repository is around (on Colab it is not).
    """),
    code("""
    found = [p / "benchmarks/results/world_throughput.json" for p in (Path.cwd(), *Path.cwd().parents)]
    found = [f for f in found if f.exists()]
    if found:
        bench = json.loads(found[0].read_text())
        print(f"measured on {bench['machine']}, {bench['threads']} threads, batch {bench['batch']} ({bench['canvas']}):")
        for key in ("draw_specs_clips_per_s", "render_clips_per_s", "dataset_clips_per_s",
                    "dataloader_2_workers_clips_per_s"):
            print(f"  {key.removesuffix('_clips_per_s'):28s} {bench[key]:7,.0f} clips/s")
    else:
        print("benchmarks/results/world_throughput.json is not here; see the numbers quoted above")
    """),
    md("""
    And why render on the fly instead of saving clips? Storage:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    bytes_per_clip = world.DEFAULT_FRAMES * world.DEFAULT_HEIGHT * world.DEFAULT_WIDTH * 3  # uint8 RGB
    print(f"{bytes_per_clip:,} bytes per clip -> {bytes_per_clip * 1_000_000 / 1e9:.0f} GB for a million clips; "
          f"rendered on the fly they cost 0 bytes")
    """),
    md("""
    ## 8 · Play with it

    Pick a shape, a colour and a motion; the seed draws the free parameters (size, start, speed, …) and the frames
    slider sets the clip length (try 64 frames on a bounce, or 1 frame: an image is a 1-frame clip). The widgets need
    a running kernel; below them is one static example, so the notebook shows something even without one.
    """),
    code("""
    def explore(shape, colour, motion, seed, frames):
        \"\"\"Render one object of this combination and show it with its captions and its split.\"\"\"
        try:
            obj = world.sample_object(seed, shape, colour, motion)
        except ValueError as err:
            print(f"not in ShapesWorld: {err}")
            return
        scene = SceneSpec((obj,), frames=frames)
        split = "held out (never shown in training)" if (shape, colour, motion) in world.HELD_OUT else "train"
        display(viz.show_video(world.render(scene), f"{world.caption(scene)} / {world.caption(scene, 'zh')}"))
        print(f"split: {split} | size {obj.size:.2f} px, start ({obj.x:.1f}, {obj.y:.1f}), "
              f"speed {obj.speed:.2f}, angle {obj.angle:.0f}°")


    controls = dict(
        shape=widgets.Dropdown(options=world.SHAPES, value="triangle", description="shape"),
        colour=widgets.Dropdown(options=list(world.COLOURS), value="orange", description="colour"),
        motion=widgets.Dropdown(options=world.MOTIONS, value="bounces", description="motion"),
        seed=widgets.IntSlider(value=3, min=0, max=99, description="seed"),
        frames=widgets.IntSlider(value=17, min=1, max=64, description="frames"),
    )
    output = widgets.interactive_output(explore, controls)
    display(widgets.VBox([widgets.HBox([controls["shape"], controls["colour"], controls["motion"]]),
                          widgets.HBox([controls["seed"], controls["frames"]]), output]))
    """),
    code("""
    explore("circle", "red", "moves left", seed=0, frames=17)  # the spec's own example is a held-out combination!
    """),
    md("""
    ## 9 · Your turn: the signed distance of a square

    `circle_frame` above handled circles. Write the signed distance of a **square** with half-side `size`, turned
    `angle` degrees clockwise, for pixel offsets `(px, py)` from its centre (y down, as everywhere here).

    *Hint.* Rotate the offset into the square's own frame: `u = px cos θ + py sin θ`, `v = −px sin θ + py cos θ`.
    In that frame the square is axis-aligned, a point is inside when both |u| and |v| are below `size`, and the
    distance the renderer uses is `max(|u|, |v|) − size` (exact inside and on the edges; that is all one-pixel
    anti-aliasing needs).

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code**, then run the check cell below it: it raises an `AssertionError` saying what is off if your function
    disagrees with `world.signed_distance`.
    """),
    code("""
    def my_square_sdf(px, py, size, angle):
        \"\"\"Signed distance (px, negative inside) from offsets (px, py) to a square of half-side `size`,
        turned `angle` degrees clockwise. px, py, size, angle are broadcastable float tensors.\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        theta = torch.deg2rad(angle)
        u = px * torch.cos(theta) + py * torch.sin(theta)  # offset along the square's own x axis
        v = -px * torch.sin(theta) + py * torch.cos(theta)  # ... and along its own y axis
        return torch.maximum(u.abs(), v.abs()) - size
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    # Check 1: same distances as the package on a fine grid of offsets, for several sizes and angles.
    offsets = torch.arange(-8.0, 8.01, 0.25)
    px, py = offsets[None, :], offsets[:, None]
    for size, angle in [(4.0, 0.0), (3.0, 30.0), (5.0, -70.0), (3.7, 123.4)]:
        s, a = torch.tensor(size), torch.tensor(angle)
        ours, ref = my_square_sdf(px, py, s, a), world.signed_distance("square", px, py, s, a)
        assert ours.shape == ref.shape, f"size={size}, angle={angle}: shape {tuple(ours.shape)}, expected {tuple(ref.shape)}"
        worst = (ours - ref).abs().max().item()
        assert torch.allclose(ours, ref, atol=1e-5), f"size={size}, angle={angle}: off by up to {worst:.3f} px"

    # Check 2: plugged into the render rule, it reproduces a spinning square, frame by frame.
    spinner = ObjectSpec("square", "green", "rotates clockwise", size=5.0, x=16.0, y=16.0, speed=15.0, angle=10.0)
    xs, ys, angles = world.trajectory(spinner, 17)
    colour = torch.tensor(world.COLOURS[spinner.colour], dtype=torch.float32) / 255
    frames = []
    for x, y, a in zip(xs, ys, angles):
        d = my_square_sdf(gx[None, :] - float(x), gy[:, None] - float(y), torch.tensor(spinner.size),
                          torch.tensor(a, dtype=torch.float32))
        frames.append((0.5 - d).clamp(0, 1) * colour[:, None, None])
    assert torch.allclose(torch.stack(frames), world.render(SceneSpec((spinner,))), atol=1e-5), "renders differently"
    print("my_square_sdf matches world.signed_distance and renders the spinning square exactly ✓")
    """),
    md("""
    Want to see the check bite? Drop the `.abs()` calls, or forget to subtract `size`, and run it again.

    ## Recap

    - A ShapesWorld clip is a **scene spec** (`SceneSpec` of one or two `ObjectSpec`s): shape, colour, motion, and the
      numbers that make them concrete. Everything else (pixels, captions, the evaluator's answer) follows from it.
    - The renderer is three lines per object: **signed distance → coverage `clamp(0.5 − d)` → colour**; the
      anti-aliasing keeps sub-pixel motion visible. You rebuilt it and matched `world.render` exactly.
    - Motion laws are per frame, so longer clips continue shorter ones; a bounce loses a factor **e²** of height at
      each impact.
    - Captions come in English and Chinese (traditional and simplified) from templates; template 0 is canonical.
    - 24 of the 176 valid combinations are **held out** of training to test imagination later.
    - The dataset renders ~2,100 clips/s on 2 CPU cores, from a seed, with no files.

    **Next: [02 · Spacetime patches](02_spacetime_patches.ipynb)**, where a clip becomes a sequence of tokens for a
    transformer, and we count what that costs.
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
