"""Write notebooks/09_evaluation.ipynb (without outputs).

    python notebooks/_build/make_09.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/09_evaluation.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "09_evaluation.ipynb"

cells = [
    md(f"""
    # 09 · Evaluation: does the video do what the prompt says?

    {BADGE.format(name=NAME)}

    Lesson 09 of **minivid**. A text-to-video model is only as good as our way of checking it. Real video models
    are judged by people or by other networks; ShapesWorld lets us do better: every clip is drawn from a handful of
    known parameters, so a **probe** (`minivid.evaluate`) can read a generated clip, pixels only, and say exactly
    which object of which colour and shape it shows and how it moves. Comparing that reading with the prompt gives
    **prompt adherence**, the number the shipped model is measured by.

    **You will learn**

    - how the probe reads a clip: colour masks, an object's centroid track over frames, motion from the track
      (a simplified probe built by hand and checked against `evaluate.describe`);
    - the probe's **ceiling**: its agreement with the spec on hundreds of real rendered clips;
    - what counts as a **hit** (colour, shape, motion, temporal consistency, per object; two-object prompts);
    - adherence of the shipped model on **seen** prompts, **held-out combinations** (the "imagination" test),
      the same prompts **in Chinese**, and **two-object** prompts, with error bars, next to the full benchmark;
    - where it goes wrong: **confusion matrices** (asked vs read), **where rotation is lost** (real clips noised to
      a time t and finished by the model) and a **failure gallery**;
    - to compute adherence from a list of detections yourself.

    Runs top to bottom in a minute or two on a laptop CPU; generating ~170 clips with the model is most of it.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import collections
    import html
    import itertools
    import json
    import math
    import time

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    from minivid import evaluate, text, world
    from minivid.checkpoint import find_shipped
    from minivid.exercises import check, show_solution, solutions_module
    from minivid.pipeline import TextToVideo
    from minivid.viz import frame_strip, show_video

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    _ = torch.manual_seed(0)  # every random draw below is seeded
    """),
    md("""
    ## The evaluation set

    Everything below is measured on the fixed evaluation set `data/eval_set.json` (lesson 01 built it with
    `world.build_eval_set`): every one of the 176 valid single-object combinations twice (the 24 **held-out**
    combinations among them, which the training data never shows), plus 128 two-object scenes of seen combinations.
    Each item is a full scene spec, so we can render the *true* clip of every prompt, too.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ROOT = find_shipped("data/t2v/shapes").parents[2]  # the repository: data/, benchmarks/
    evalset = world.load_eval_set(ROOT / "data" / "eval_set.json")
    print(f"data/eval_set.json: {len(evalset)} scenes |", dict(collections.Counter(g for g, _ in evalset)))
    print("first held-out scene:", next(world.caption(s) for g, s in evalset if g == "heldout"))
    """),
    md("""
    ## 1 · What the probe reports

    `evaluate.describe(clip)` takes one clip (`t c h w`, floats in [0, 1]) and nothing else: no spec, no latent, no
    prompt. It returns one `DetectedObject` per object it finds: colour, shape, motion, whether the object is
    **temporally consistent** (present in every frame, one colour, stable size and shape, one blob), and the
    measurements behind them. Three real clips from the evaluation set:
    """),
    code("""
    def first(group, shape=None, motion=None):
        \"\"\"The first scene of a group (optionally with this shape / motion of its first object).\"\"\"
        return next(s for g, s in evalset if g == group and shape in (None, s.objects[0].shape)
                    and motion in (None, s.objects[0].motion))


    demo = [first("seen", "square", "bounces"), first("seen", "triangle", "rotates counterclockwise"), first("two_object")]
    demo_clips = world.render_batch(demo)  # b t c h w
    show_video(demo_clips, [world.caption(s) for s in demo])
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for scene, clip in zip(demo, demo_clips):
        print(f"{world.caption(scene)!r}:")
        for o in evaluate.describe(clip):
            print(f"   {o}  | area {o.area:.0f} px^2, size {o.size:.1f} px, motion because: {o.motion_reason}")
    """),
    md("""
    ## 2 · A probe by hand: colour masks → centroid track → motion

    The renderer draws colour c with coverage a (0..1, anti-aliased at the edges) over the background:
    pixel = background + a·(c − background). On the black background of these clips a pixel is simply **a·c**, so its
    *direction* in RGB space says which palette colour it is and its *length along c* says how much:
    a = ⟨pixel, c⟩ / |c|². The package does exactly this, relative to the clip's median colour (the background) and
    with a 3 × 3 neighbourhood vote for noisy pixels; we build the clean-clip version:
    """),
    code("""
    PALETTE = torch.tensor(list(world.COLOURS.values()), dtype=torch.float32) / 255  # k c
    NAMES = list(world.COLOURS)


    def my_colour_maps(clip):
        \"\"\"(k t h w) coverage of each palette colour in a clip (t c h w) on a black background.\"\"\"
        p = clip.permute(0, 2, 3, 1)  # t h w c
        dots = p @ PALETTE.T  # t h w k: <pixel, c>
        cos = dots / (p.norm(dim=-1, keepdim=True) * PALETTE.norm(dim=-1)).clamp_min(1e-8)
        best = cos.argmax(-1)  # the palette direction closest in angle
        alpha = dots.gather(-1, best[..., None])[..., 0] / PALETTE[best].square().sum(-1)  # a = <p, c> / |c|^2
        ok = (cos.amax(-1) >= math.cos(math.radians(evaluate.MAX_COLOUR_ANGLE_DEG))) & (alpha >= evaluate.ALPHA_FLOOR)
        alpha = torch.where(ok, alpha.clamp(max=1.0), torch.zeros(()))
        return torch.stack([alpha * (best == k) for k in range(len(NAMES))])


    def my_objects(maps):
        \"\"\"Palette indices that are objects: >= MIN_CORE_PIXELS pixels of coverage >= 0.5 in at least 2 frames.\"\"\"
        core = (maps >= evaluate.CORE_ALPHA).sum((-1, -2))  # k t
        return [k for k in range(len(NAMES)) if (core[k] >= evaluate.MIN_CORE_PIXELS).sum() >= 2]


    def my_track(m):
        \"\"\"(t 2) centroid x, y of one colour's coverage maps (t h w), in px (pixel centres at i + 0.5).\"\"\"
        xs, ys = torch.arange(m.shape[-1]) + 0.5, torch.arange(m.shape[-2]) + 0.5
        area = m.sum((-1, -2))
        return torch.stack([(m.sum(1) * xs).sum(-1) / area, (m.sum(2) * ys).sum(-1) / area], dim=1)
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    maps = my_colour_maps(demo_clips[2])  # the two-object clip
    objs = my_objects(maps)
    print("colours found:", [NAMES[k] for k in objs], "| describe:", [o.colour for o in evaluate.describe(demo_clips[2])])
    print("area per frame of the first (sum of coverage, px^2):", maps[objs[0]].sum((-1, -2))[:6].round().tolist(), "...")
    """),
    md("""
    The centroid of a circle, a square and an equilateral triangle is its centre, so the coverage-weighted mean
    position *is* the object's position, to a small fraction of a pixel. Motion then follows from the track: the
    **net velocity** (the least-squares slope of x and y over the frames) names a move when it reaches
    `evaluate.MIN_MOVE_SPEED` = 0.4 px/frame (half the slowest move of the world), and a **bounce** is a fall of at
    least 3 px followed by a rise. Rotation needs the orientation, which the package gets by fitting rendered shape
    templates at many angles (step 4 of its docstring); our simplified probe only says "centre still":
    """),
    code("""
    def my_motion(track):
        \"\"\"'moves left/right/up/down', 'bounces' or 'centre still' from a (t 2) centroid track.\"\"\"
        x, y = track[:, 0].double().numpy(), track[:, 1].double().numpy()
        t = np.arange(len(x)) - (len(x) - 1) / 2
        vx, vy = (t @ x) / (t @ t), (t @ y) / (t @ t)  # least-squares slopes, px/frame
        fall = (y - np.minimum.accumulate(y)).max()  # y grows downwards: drop from the highest earlier point
        rise = (y - np.minimum.accumulate(y[::-1])[::-1]).max()  # climb to the highest later point
        if fall >= evaluate.MIN_BOUNCE_FALL and rise >= max(evaluate.MIN_BOUNCE_RISE, 0.2 * fall):
            return "bounces"
        if max(abs(vx), abs(vy)) >= evaluate.MIN_MOVE_SPEED:
            if abs(vx) >= abs(vy):
                return "moves right" if vx > 0 else "moves left"
            return "moves down" if vy > 0 else "moves up"
        return "centre still"


    def coarse(motion):
        \"\"\"What a centroid alone can tell: rotations and staying still look the same.\"\"\"
        return "centre still" if motion in ("stays still", *world.ROTATIONS) else motion
    """),
    md("""
    Now check the hand-made probe on **every single-object clip of the evaluation set** (352 real renders): same
    colours as `describe`, the same centroid track (to a few hundredths of a pixel; the package measures in a window
    around the object), and the same coarse motion as both `describe` and the spec:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    single = [s for g, s in evalset if g != "two_object"]
    single_clips = world.render_batch(single)
    single_found = evaluate.describe_batch(single_clips)
    worst, agree = 0.0, 0
    for clip, found, scene in zip(single_clips, single_found, single):
        maps = my_colour_maps(clip)
        objs = my_objects(maps)
        assert [NAMES[k] for k in objs] == [o.colour for o in found], (world.caption(scene), objs, found)
        track = my_track(maps[objs[0]])
        worst = max(worst, (track - torch.from_numpy(found[0].track[:, :2]).float()).abs().max().item())
        agree += my_motion(track) == coarse(found[0].motion) == coarse(scene.objects[0].motion)
    assert worst < 0.05, f"centroids differ by {worst:.3f} px"
    assert agree == len(single), f"{len(single) - agree} clips disagree"
    print(f"{len(single)} clips: colours = describe ✓ | centroid tracks = describe within 0.05 px ✓ | "
          f"coarse motion = describe = spec on {agree}/{len(single)}")
    """),
    code("""
    bounce_maps = my_colour_maps(demo_clips[0])
    k = my_objects(bounce_maps)[0]
    track = my_track(bounce_maps[k])
    true_x, true_y, _ = world.trajectory(demo[0].objects[0], demo[0].frames)
    fig, axes = plt.subplots(1, 4, figsize=(12, 2.9), layout="constrained")
    axes[0].imshow(demo_clips[0][8].permute(1, 2, 0), interpolation="nearest")
    axes[0].set_title("frame 8 of the bouncing square", fontsize=9)
    axes[1].imshow(bounce_maps[k, 8], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[1].set_title(f"{NAMES[k]} coverage a, frame 8", fontsize=9)
    axes[2].imshow(bounce_maps[k].amax(0), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    axes[2].plot(track[:, 0] - 0.5, track[:, 1] - 0.5, "r.-", ms=4)
    axes[2].set_title("all frames + centroid track", fontsize=9)
    axes[3].plot(true_y, "k-", lw=3, alpha=0.3, label="spec (world.trajectory)")
    axes[3].plot(track[:, 1], "r.", label="my centroid")
    axes[3].plot(evaluate.describe(demo_clips[0])[0].track[:, 1], "bx", ms=5, label="describe")
    axes[3].set(xlabel="frame", ylabel="y (px, down)", title="height over time: fall, rise")
    axes[3].invert_yaxis()
    axes[3].legend(fontsize=7)
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
    plt.show()
    """),
    md("""
    ## 3 · The ceiling: the probe on real clips

    Before a probe can grade a model, it has to grade the *truth* correctly. Render the true clip of every prompt
    of the evaluation set and score it against its own prompt: anything below 100% here would be the probe's
    fault, not the model's. This is the **ceiling** the benchmark reports next to every model number. (The spec
    asks for at least 99% per attribute; `benchmarks/evaluator_agreement.py` also checks noisy, blurred and
    quantised renders.)
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    two = [s for g, s in evalset if g == "two_object"]
    start = time.perf_counter()
    two_found = evaluate.describe_batch(world.render_batch(two))
    ceiling_secs = time.perf_counter() - start
    single_groups = [g for g, _ in evalset if g != "two_object"]
    for name, scenes, dets in (
        *((grp, [s for s, g in zip(single, single_groups) if g == grp],
           [f for f, g in zip(single_found, single_groups) if g == grp]) for grp in ("seen", "heldout")),
        ("two_object", two, two_found),
    ):
        r = evaluate.prompt_adherence(None, [world.caption(s) for s in scenes], detections=dets)
        print(f"{name:10s} {r['clips']:3d} real clips: overall {r['overall']:.3f} | "
              + " ".join(f"{a} {r[a]:.3f}" for a in evaluate.ATTRIBUTES))
        assert min(r[a] for a in evaluate.ATTRIBUTES) >= 0.99, f"the probe misreads real {name} clips"
    for s in single + two:  # the Chinese captions name the same objects, so the ceiling holds for them too
        assert text.parse_prompt(world.caption(s, "zh")) == text.parse_prompt(world.caption(s, "zh-hans")) \\
            == text.parse_prompt(world.caption(s))
    print("Chinese captions (traditional and simplified) parse to the same objects ✓")
    """),
    code("""
    print(f"read {len(two)} two-object clips in {ceiling_secs:.1f} s ({len(two) / ceiling_secs:.0f} clips/s on the CPU)")
    """),
    md("""
    ## 4 · What counts as a hit

    `evaluate.prompt_adherence(videos, prompts)` parses each prompt into objects (shape, colour, motion) with
    `text.parse_prompt` (English, traditional or simplified Chinese) and matches the detected objects to them **by
    colour**: two objects of a scene never share one. Per prompt object, four attributes:

    | attribute | a hit when |
    |---|---|
    | colour | an object of that colour exists **and** the clip has no extra object |
    | shape | the object of that colour has the asked shape |
    | motion | the object of that colour has the asked motion |
    | consistency | the object of that colour is temporally consistent |

    A missing object misses all four. A **clip** is correct only when every object gets every attribute right (and
    nothing extra is there): that fraction of clips is the headline **adherence**; the per-attribute scores are
    fractions of prompt *objects*, which is why they are always at least as high. One real clip of "a red circle
    moves left" judged against prompts that differ from it:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    red_scene = world.sample_scene(np.random.default_rng(3), num_objects=1, combination=("circle", "red", "moves left"))
    red = world.render(red_scene)
    for prompt in ["a red circle moves left", "紅色的圓形向左移動", "a red circle moves right", "a red square moves left",
                   "a blue circle moves left", "a red circle moves left and a blue square rotates clockwise"]:
        r = evaluate.prompt_adherence(red[None], [prompt])
        print(f"{prompt!r:62s} correct {r['overall']:.0f} | " + " ".join(f"{a} {r[a]:.1f}" for a in evaluate.ATTRIBUTES))
        for e in r["per_clip"][0]["errors"]:
            print(f"{'':64s}- {e}")
    """),
    md("""
    **Temporal consistency** catches what a per-frame check would miss: an object that changes shape, vanishes or
    changes colour halfway. Three clips stitched from real renders:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    still = dict(motion="stays still", size=4.0, x=16.0, y=16.0)
    circle, square, blue = world.render_batch([world.SceneSpec([world.ObjectSpec("circle", "red", **still)]),
                                              world.SceneSpec([world.ObjectSpec("square", "red", **still)]),
                                              world.SceneSpec([world.ObjectSpec("circle", "blue", **still)])])
    vanish = circle.clone()
    vanish[10:] = 0
    stitched = {"circle, then square": torch.cat([circle[:9], square[9:]]), "vanishes at frame 10": vanish,
                "red, then blue": torch.cat([circle[:9], blue[9:]])}
    for name, clip in stitched.items():
        print(f"{name}: " + " | ".join(str(o) for o in evaluate.describe(clip)))
    """),
    md("""
    ## 5 · The shipped model and the test prompts

    The shipped text-to-video model (`data/t2v/shapes`: the DiT of lesson 06 on the latents of the lesson 03 VAE,
    trained with flow matching) samples with its recommended settings: 20 Euler steps, classifier-free guidance and
    autoguidance (lesson 08).

    **How the shipped numbers are measured.** `benchmarks/t2v_benchmark.py` generates one clip per prompt of the
    evaluation set from the canonical captions (seed 0), scores them with `prompt_adherence`, and renders the true
    clips for the ceiling, in five groups: all 304 seen, the 48 held-out, both again in traditional Chinese, and the
    128 two-object prompts; it writes `benchmarks/results/t2v.json`. Prompt i of a batch starts from noise seeded by
    (seed, i) only (`pipeline.noise_for`), so a lesson that sends the same prompts in the same order gets the same
    clips. We take a smaller sample: 32 seen prompts (a seeded random pick), **all 48 held-out prompts** (in English
    and in Chinese), and the first 32 two-object prompts.

    **The imagination test.** These 24 combinations (`world.HELD_OUT`) never appear in the training data, yet each
    of their values, and each *pair* of their values, does. A model that has learned "red", "circle" and "moves
    left" as separate concepts should compose them; one that memorised whole combinations cannot.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    train = world.split_combinations("train")
    assert not set(world.HELD_OUT) & set(train)
    for s, c, m in world.HELD_OUT:  # every pair of values of a held-out combination is seen in training
        assert any(t[:2] == (s, c) for t in train) and any(t[1:] == (c, m) for t in train)
        assert any((t[0], t[2]) == (s, m) for t in train)
    print(f"HELD_OUT: {len(world.HELD_OUT)} of {len(world.valid_combinations())} combinations, never in training; "
          "each pair of their values is")
    for shape in world.SHAPES:
        print(f"  {shape:9s}", ", ".join(f"{c} {m}" for s, c, m in world.HELD_OUT if s == shape))
    """),
    code("""
    pipe = TextToVideo.from_pretrained(find_shipped("data/t2v/shapes"), device=device)
    print("sampling defaults:", pipe.defaults, "| trained", pipe.meta.get("steps_trained"), "steps")
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    seen_all = [s for g, s in evalset if g == "seen"]
    pick = np.sort(np.random.default_rng(0).choice(len(seen_all), 32, replace=False))
    held = [s for g, s in evalset if g == "heldout"]
    SCENES = {"seen": [seen_all[i] for i in pick], "held-out": held, "held-out (zh)": held, "two objects": two[:32]}
    LANG = {"seen": "en", "held-out": "en", "held-out (zh)": "zh", "two objects": "en"}
    prompts = {name: [world.caption(s, LANG[name]) for s in scenes] for name, scenes in SCENES.items()}
    for name, ps in prompts.items():
        print(f"{name:14s} {len(ps):3d} prompts, e.g. {ps[0]!r}")
    hans = [world.caption(s, "zh-hans") for s in held]
    print("simplified:", hans[0], "| same token ids as traditional:",
          all(torch.equal(a, b) for a, b in zip(text.encode_batch(hans), text.encode_batch(prompts["held-out (zh)"]))))
    """),
    md("""
    Simplified and traditional characters get the **same token ids** (`text.normalise` turns simplified into
    traditional; [lesson 05](05_text_conditioning.ipynb)), so the model cannot tell them apart: every number of the traditional group holds for
    simplified prompts as well. Now generate all groups (20 Euler steps, seed 0), and read every clip once (the
    clips themselves are on show in the failure gallery of section 8):
    """),
    code("""
    videos, found, secs = {}, {}, {}
    for name, ps in prompts.items():
        start = time.perf_counter()
        videos[name] = pipe(ps, steps=20, seed=0)  # b t c h w in [0, 1]
        secs[name] = time.perf_counter() - start
        found[name] = evaluate.describe_batch(videos[name])
    total = sum(len(p) for p in prompts.values())
    print(f"generated {total} clips in {sum(secs.values()):.0f} s ({sum(secs.values()) / total:.2f} s per clip on {device})")
    """),
    code("""
    # the simplified prompts give bit-identical clips: same ids in, same noise, same model
    same = torch.equal(pipe(hans[:4], steps=20, seed=0), pipe(prompts["held-out (zh)"][:4], steps=20, seed=0))
    assert same
    r_trad = evaluate.prompt_adherence(None, prompts["held-out (zh)"], detections=found["held-out (zh)"])
    r_hans = evaluate.prompt_adherence(None, hans, detections=found["held-out (zh)"])
    assert all(r_trad[a] == r_hans[a] for a in ("overall", *evaluate.ATTRIBUTES))
    print("simplified prompts -> identical clips and identical scores ✓")
    """),
    md("""
    ## 6 · Prompt adherence, per group and per attribute

    A score measured on n clips is a fraction of n coin flips, so it carries a **binomial standard error**
    √(p(1 − p)/n): with 48 clips and p ≈ 0.5 that is ±0.07, with 304 clips ±0.03. Differences between groups
    smaller than about two standard errors are not evidence of anything. At p = 0 or 1 the formula gives 0, which
    is too optimistic; there the "rule of three" helps: with no success in n clips, the true rate is below 3/n with
    95% confidence.
    """),
    code("""
    def standard_error(p, n):
        return math.sqrt(p * (1 - p) / n) if n else float("nan")


    scores = {name: evaluate.prompt_adherence(None, prompts[name], detections=found[name]) for name in prompts}
    print(f"{'group':14s} {'clips':>5s} {'overall':>15s}" + "".join(f"{a:>13s}" for a in evaluate.ATTRIBUTES))
    for name, r in scores.items():
        print(f"{name:14s} {r['clips']:5d} {r['overall']:7.3f} ± {standard_error(r['overall'], r['clips']):.3f}"
              + "".join(f"{r[a]:13.3f}" for a in evaluate.ATTRIBUTES))
    """),
    code("""
    fig, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
    keys = ("overall", *evaluate.ATTRIBUTES)
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        vals = [scores[name][key] for name in scores]
        ns = [scores[name]["clips" if key == "overall" else "objects"] for name in scores]
        errs = [standard_error(v, n) for v, n in zip(vals, ns)]
        ax.bar(np.arange(len(scores)) + (j - (len(keys) - 1) / 2) * width, vals, width, yerr=errs, capsize=2, label=key)
    ax.set_xticks(np.arange(len(scores)), [f"{name}\\n({scores[name]['clips']} clips)" for name in scores])
    ax.set(ylim=(0, 1.05), ylabel="fraction correct", title="prompt adherence of the shipped model (±1 standard error)")
    ax.legend(fontsize=8, ncol=5, loc="upper right")
    plt.show()
    """),
    md("""
    How to read it: **overall** is the strict, per-clip score; the attribute bars show *which* part of the prompt
    the model gets right. Colour and shape are properties of single frames and are usually learned first; motion and
    consistency need the model to get 17 frames coherent at once. Compare the held-out bars with the seen ones (the
    imagination test), English with Chinese (the same scenes, asked in another language), and one object with two.

    **Next to the full benchmark.** When `benchmarks/results/t2v.json` exists we read it and put its numbers beside
    ours. Its groups are larger (304 seen prompts, 128 two-object), so its standard errors are smaller; our held-out
    groups are the very same 48 prompts in the same order with the same seed, so they should match it (up to float
    rounding) when the file was made with this checkpoint.
    """),
    code("""
    bench_path = ROOT / "benchmarks" / "results" / "t2v.json"
    BENCH_KEY = {"seen": "seen", "held-out": "heldout", "held-out (zh)": "heldout_zh", "two objects": "two_object"}
    if bench_path.exists():
        bench = json.loads(bench_path.read_text(encoding="utf-8"))
        meta = bench.get("model_meta", {})
        if meta.get("steps_trained") != pipe.meta.get("steps_trained"):
            print(f"NOTE: the benchmark file was made with a checkpoint trained {meta.get('steps_trained')} steps; "
                  f"this one has {pipe.meta.get('steps_trained')}: the numbers below are not comparable.\\n")
        print(f"{'group':14s} {'':14s} {'clips':>5s} {'overall':>15s}" + "".join(f"{a:>13s}" for a in evaluate.ATTRIBUTES)
              + f"{'ceiling':>9s}")
        for name, key in BENCH_KEY.items():
            b = bench.get("adherence", {}).get(key)
            if b is None:
                continue
            for label, r, ceiling in ((name, scores[name], ""),
                                      ("", b["model"], f"{b['ceiling_real_clips']['overall']:9.3f}")):
                print(f"{label:14s} {'this lesson' if label else 'full benchmark':14s} {r['clips']:5d} {r['overall']:7.3f} "
                      f"± {standard_error(r['overall'], r['clips']):.3f}"
                      + "".join(f"{r[a]:13.3f}" for a in evaluate.ATTRIBUTES)
                      + ceiling)
        s = bench.get("adherence_settings", {})
        print(f"\\nbenchmark settings: {s.get('steps')} {s.get('sampler')} steps, guidance {s.get('guidance')}, "
              f"autoguidance {s.get('autoguidance', 0)}, seed {s.get('seed')}")
    else:
        print("no benchmarks/results/t2v.json here: run `python benchmarks/t2v_benchmark.py` to make it")
    """),
    md("""
    ## 7 · Per-attribute errors: asked versus read

    The scores say *how often*; a **confusion matrix** says *what instead*. Over all single-object clips generated
    above (seen, held-out, held-out in Chinese), rows are what the prompt asked, columns what the probe read:
    for colour, the colour of the largest object in the clip ("none" when nothing was found); for shape and motion,
    the object of the asked colour, as the score does ("no object" when that colour is missing). Each row is
    normalised; the numbers are clip counts.
    """),
    code("""
    SINGLE = ("seen", "held-out", "held-out (zh)")
    ROWS = {"colour": list(world.COLOURS), "shape": list(world.SHAPES), "motion": list(world.MOTIONS)}
    COLS = {"colour": ROWS["colour"] + ["none"], "shape": ROWS["shape"] + ["unknown", "no object"],
            "motion": ROWS["motion"] + ["unknown", "no object"]}
    SHORT = {"moves left": "left", "moves right": "right", "moves up": "up", "moves down": "down",
             "rotates clockwise": "cw", "rotates counterclockwise": "ccw", "bounces": "bounce", "stays still": "still"}
    confusion = {a: np.zeros((len(ROWS[a]), len(COLS[a])), dtype=int) for a in ROWS}
    for name in SINGLE:
        for prompt, objects in zip(prompts[name], found[name]):
            [(shape, colour, motion)] = text.parse_prompt(prompt)
            largest = max(objects, key=lambda o: o.area, default=None)
            o = next((o for o in objects if o.colour == colour), None)
            for attr, asked, read in (("colour", colour, largest.colour if largest else "none"),
                                      ("shape", shape, o.shape if o else "no object"),
                                      ("motion", motion, o.motion if o else "no object")):
                confusion[attr][ROWS[attr].index(asked), COLS[attr].index(read)] += 1

    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained", width_ratios=[9, 5, 10])
    for ax, (attr, m) in zip(axes, confusion.items()):
        ax.imshow(m / np.maximum(m.sum(1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
        for i, j in zip(*np.nonzero(m)):
            ax.text(j, i, m[i, j], ha="center", va="center", fontsize=7)
        label = (lambda v: SHORT.get(v, v)) if attr == "motion" else (lambda v: v)
        ax.set_xticks(range(len(COLS[attr])), [label(v) for v in COLS[attr]], rotation=60, fontsize=8)
        ax.set_yticks(range(len(ROWS[attr])), [label(v) for v in ROWS[attr]], fontsize=8)
        ax.set(xlabel="read by the probe", ylabel="asked", title=f"{attr} ({m.sum()} clips)")
    plt.show()
    """),
    md("""
    For shape and motion the diagonal *is* the per-attribute score of section 6 (pooled over the three groups):
    a check that the matrices and the score count the same thing. The largest off-diagonal cells are the model's
    typical mistakes:
    """),
    code("""
    pooled = evaluate.prompt_adherence(None, [p for n in SINGLE for p in prompts[n]],
                                       detections=[f for n in SINGLE for f in found[n]])
    for attr in ("shape", "motion"):
        m = confusion[attr]
        assert np.isclose(np.trace(m) / m.sum(), pooled[attr]), attr
    print(f"diagonal = pooled score ✓ (shape {pooled['shape']:.3f}, motion {pooled['motion']:.3f}, "
          f"{pooled['clips']} clips)")
    for attr, m in confusion.items():
        off = [(m[i, j], ROWS[attr][i], COLS[attr][j]) for i in range(m.shape[0]) for j in range(m.shape[1])
               if j >= len(ROWS[attr]) or ROWS[attr][i] != COLS[attr][j]]
        top = sorted((c for c in off if c[0] > 0), reverse=True)[:3]
        print(f"{attr:7s} most common misreads: " + ("; ".join(f"{a} -> {r} ({n}x)" for n, a, r in top) or "none"))
    """),
    md("""
    And across all groups, how many missed clips show each kind of error (`prompt_adherence` tags every clip with
    the set of its kinds, `per_clip[i]["kinds"]`; a clip can show several): a missing or extra object, a wrong
    shape or motion, or one of the consistency problems (an object that vanishes for some frames, changes size,
    shape or colour, or splits into blobs).
    """),
    code("""
    kinds = {name: collections.Counter(kind for c in scores[name]["per_clip"] for kind in c["kinds"])
             for name in scores}
    all_kinds = sorted(set().union(*kinds.values()))
    print(f"{'':26s}" + "".join(f"{name:>15s}" for name in scores))
    for kind in all_kinds:
        print(f"{kind:26s}" + "".join(f"{kinds[name][kind]:15d}" for name in scores))
    """),
    md("""
    ### Rotation: the motion the model drops

    Sora was once caught dropping "rotating" from a prompt. The motion matrix above shows where our model still
    slips when it slips: asked to rotate, the probe may read "still" (or a spin too slow to count), or a shape that
    changes as it turns. Turning the asked way needs a text encoder that tells "clockwise" from "counterclockwise"
    (trained on denoising alone, an encoder can give both the same vector; lesson 05's auxiliary text loss keeps
    them apart). Rotating clips are a quarter of the training data, so the model has seen plenty. Where is rotation
    lost?

    An experiment in the spirit of SDEdit (Meng et al. 2022): render real rotating clips, encode them with the VAE,
    **noise them to time t** (x_t = (1 - t) x0 + t ε, the forward process of lesson 04) and let the model **finish
    them** with its own sampler, from t down to 0 on the same time grid it always uses. From t = 1 that is ordinary
    sampling; from a small t it only cleans up what is already there. The same for as many clips that do not rotate,
    as a control.
    """),
    code("""
    from minivid import sampling
    from minivid.diffusion import add_noise
    from minivid.pipeline import noise_for


    @torch.no_grad()
    def finish_from(clips, prompts, t_start, seed=0):
        \"\"\"Encode clips (b t c h w), noise them to t_start, run the model's sampler from there: videos b t c h w.\"\"\"
        d, b = pipe.defaults, len(prompts)
        x0 = pipe.vae.encode_clips(clips)                                      # b z t' h' w'
        eps = torch.stack([noise_for(i, seed, x0.shape[1:], x0.device) for i in range(b)])  # prompt i's own noise
        x = add_noise(x0, eps, torch.full((b,), t_start))                      # x_t = (1 - t) x0 + t eps
        ts = sampling.flow_timesteps(d["steps"], shift=d["shift"])
        ts = torch.cat([torch.tensor([t_start]), ts[ts < t_start - 1e-6]])     # the sampler's grid below t_start
        fn = sampling.autoguidance(pipe.dit, pipe.weak, text.encode_batch(prompts), text.encode_batch([None] * b),
                                   d["guidance"], d["autoguidance"])  # guidance + the weaker model's pull (lesson 08)
        return pipe.vae.decode_latents(sampling.euler_sample(fn, x, ts)).cpu()


    rotating = [s for s in seen_all if s.objects[0].motion in world.ROTATIONS][::4]  # 13 of the 52
    others = [s for s in seen_all if s.objects[0].motion not in world.ROTATIONS][::19]  # 14 of the 252, spread out
    STARTS = (0.5, 0.7, 0.9, 1.0)
    live = {}
    for name, scenes in (("rotating", rotating), ("not rotating", others)):
        ps, clips = [world.caption(s, "en") for s in scenes], world.render_batch(scenes)
        live[name] = [evaluate.prompt_adherence(finish_from(clips, ps, t), ps)["overall"] for t in STARTS]
    """),
    md("""
    The package has this as the pipeline's **editing mode**: `pipe(prompts, init_video=clips, strength=t)` (SDEdit;
    `strength` is the noise level t). Our few lines give the same videos:
    """),
    code("""
    ps, clips = [world.caption(s, "en") for s in rotating[:3]], world.render_batch(rotating[:3])
    assert torch.allclose(finish_from(clips, ps, 0.7), pipe(ps, init_video=clips, strength=0.7), atol=1e-5)
    print("finish_from == pipe(..., init_video=, strength=)")
    """),
    code("""
    rot_path = ROOT / "benchmarks/results/t2v_rotation.json"
    fig, ax = plt.subplots(figsize=(6.5, 2.8), layout="constrained")
    for name, colour in (("rotating", "C3"), ("not rotating", "C0")):
        ax.plot(STARTS, live[name], "o", color=colour, ms=7, mfc="none", label=f"{name}, here ({len(rotating)} clips)"
                if name == "rotating" else f"{name}, here ({len(others)} clips)")
    if rot_path.exists():  # the benchmark: all 52 rotating seen scenes and 52 others
        bench = json.loads(rot_path.read_text())
        t = [r["t_start"] for r in bench["rows"]]
        for key, name, colour in (("rotating", "rotating", "C3"), ("not_rotating", "not rotating", "C0")):
            ax.plot(t, [r[key]["overall"] for r in bench["rows"]], "-", color=colour,
                    label=f"{name}, benchmark ({bench['clips_per_group']} clips)")
    ax.set(xlabel="finished from noise level t (1 = sampling from pure noise)", ylabel="adherence", ylim=(-0.05, 1.05),
           title="real clips, noised to t, finished by the model")
    ax.legend(fontsize=8)
    plt.show()
    print("live:", {k: [round(v, 2) for v in vs] for k, vs in live.items()}, "at t =", STARTS)
    """),
    md("""
    Read the curves from the left. Shown a rotating clip under moderate noise, the model finishes it: it *can* draw a
    tilted square and turn it at the right speed and in the right direction. The higher t, the more of the clip's
    orientation is buried in noise and the more the model must **create** it; where the rotating clips fall below
    the control clips, that is the model's behaviour at high noise, the part of sampling that decides a random pose,
    not the VAE (whose reconstructions the probe reads correctly, section 3). The dots are this lesson's few clips;
    the lines, when `benchmarks/results/t2v_rotation.json` is in this checkout, the benchmark's larger groups
    (`python benchmarks/t2v_rotation.py`; its file names the checkpoint it measured). Why would a turn be harder to
    create than a move?
    """),
    md("""
    A flow model trained with a squared
    error predicts the **average** of the clips that fit what it has seen so far (lesson 04), and early in sampling
    many clips fit: many speeds, many start poses. Average two real clips in latent space and decode the result:
    """),
    code("""
    def latent_of(motion, speed, angle=None, x=16.0):
        \"\"\"VAE latents (1 z t h w) of a red square (r = 4) in the middle row doing `motion`.\"\"\"
        square = world.ObjectSpec("square", "red", motion, size=4.0, x=x, y=16.0, speed=speed, angle=angle)
        return pipe.vae.encode_clips(world.render_batch([world.SceneSpec((square,))]))


    pairs = {
        "moves right at 0.8 and at 1.2 px/frame": (latent_of("moves right", 0.8, x=8.0),
                                                   latent_of("moves right", 1.2, x=8.0)),
        "rotates at 10 and at 20 deg/frame": (latent_of("rotates clockwise", 10.0, 0.0),
                                              latent_of("rotates clockwise", 20.0, 0.0)),
        "rotates from 0 and from 45 deg": (latent_of("rotates clockwise", 15.0, 0.0),
                                           latent_of("rotates clockwise", 15.0, 45.0)),
    }
    with torch.no_grad():
        averages = {name: pipe.vae.decode_latents((a + b) / 2)[0].cpu() for name, (a, b) in pairs.items()}
    for name, clip in averages.items():
        print(f"average of two squares that {name:40s} -> read as:",
              "; ".join(str(o) for o in evaluate.describe(clip)))
    frame_strip(torch.stack(list(averages.values())), [f"average: {n}" for n in averages], every=2)
    """),
    md("""
    The average of two moves is a move (a square at the average place), so a model that has not decided on a speed
    still draws a valid clip. The average of two turns is not a turn: two speeds blur into a shape that flickers
    between square and round, two poses into a still disc. To draw a rotation from noise the model must commit to
    one speed and one pose early. One way to help it is to leave less to commit to: training clips narrowed to **one**
    start pose and **one** speed (allowed by the spec, which leaves the pose open and asks for 10-20 deg/frame).
    Lesson 07's one-hour recipe does exactly that (`rotation_start="canonical"`, `rotation_speed=15`), and its
    held-out curve there shows what it buys; [docs/lab-notes.md](../docs/lab-notes.md) ("The one-hour goal") has the measurements. The
    price is variety: all its rotations look the same.
    """),
    md("""
    ## 8 · Failure gallery

    Numbers hide what a failure looks like. Below: up to four clips the model missed and two it got right (held-out
    and seen prompts in turn, each prompt once), each with the prompt and what the probe read. Look at a miss and decide whether
    you agree with the probe: that is how its thresholds were set.
    """),
    code("""
    def reading(objects):
        \"\"\"What the probe read in a clip, in words.\"\"\"
        return "; ".join(f"{o.colour} {o.shape} {o.motion}" + ("" if o.consistent else " (inconsistent)")
                         for o in objects) or "nothing"


    cases = [(name, c) for name in ("held-out", "seen") for c in scores[name]["per_clip"]]
    by_group = ([(n, c) for c in scores[n]["per_clip"]] for n in ("held-out", "seen"))
    interleaved = [x for pair in itertools.zip_longest(*by_group) for x in pair if x]  # held-out, seen, held-out, ...


    def pick(correct, k):
        \"\"\"Up to k clips that are (not) correct, with k different prompts, held-out and seen in turn.\"\"\"
        chosen, used = [], set()
        for n, c in interleaved:
            if c["correct"] == correct and prompts[n][c["index"]] not in used and len(chosen) < k:
                chosen.append((n, c))
                used.add(prompts[n][c["index"]])
        return chosen


    misses, hits = pick(False, 4), pick(True, 2)
    print(f"{sum(not c['correct'] for _, c in cases)} of {len(cases)} English single-object clips missed; showing "
          f"{len(misses)} misses and {len(hits)} hits\\n")
    for n, c in misses + hits:
        print(f"[{n}] {'HIT ' if c['correct'] else 'MISS'} asked: {prompts[n][c['index']]}\\n"
              f"        read: {reading(c['detected'])}")
        for e in c["errors"]:
            print(f"        - {e}")
    gallery = misses + hits
    playing = misses[:2] + hits[:1]  # generated clips make big GIFs: three play here, all six are in the strips below
    show_video(torch.stack([videos[n][c["index"]] for n, c in playing]),
               [f"{'✓' if c['correct'] else '✗'} {prompts[n][c['index']]} → read: {reading(c['detected'])}"
                for n, c in playing], scale=3)
    """),
    md("""
    All six as frame strips (every fourth frame), where the motion can be followed frame by frame:
    """),
    code("""
    frame_strip(torch.stack([videos[n][c["index"]] for n, c in gallery]),
                [f"{'HIT' if c['correct'] else 'MISS'}: {prompts[n][c['index']]}  |  read: {reading(c['detected'])}"
                 for n, c in gallery], every=4)
    """),
    md("""
    ## 9 · Play with it

    Type or pick a prompt (English, traditional or simplified Chinese, one or two objects) and a seed: the model
    generates a clip (about a second), the probe reads it, and the table gives the verdict per attribute. The
    controls need a running kernel; a static example follows.
    """),
    code("""
    EXAMPLES = ["a red circle moves left", "紅色的圓形向左移動", "红色的圆形向左移动", "a yellow square stays still",
                "a purple triangle rotates clockwise", "a green square moves left", "a white circle bounces",
                "a blue triangle moves up and an orange circle stays still"]


    def check_prompt(prompt="a red circle moves left", seed=0):
        try:
            asked = text.parse_prompt(prompt)
        except text.PromptError as e:
            print(f"PromptError: {e}")
            return
        video = pipe([prompt], steps=20, seed=seed)
        objects = evaluate.describe(video[0])
        r = evaluate.prompt_adherence(video, [prompt], detections=[objects])
        by_colour = {o.colour: o for o in objects}
        extra = [o for o in objects if o.colour not in {c for _, c, _ in asked}]
        mark = lambda ok: "✓" if ok else "✗"  # noqa: E731
        rows = []
        for shape, colour, motion in asked:
            o = by_colour.get(colour)
            held_out = " (held out)" if len(asked) == 1 and (shape, colour, motion) in world.HELD_OUT else ""
            cells = [f"{colour} {shape} {motion}{held_out}",
                     f"{mark(o is not None and not extra)} {o.colour if o else 'missing'}",
                     f"{mark(o is not None and o.shape == shape)} {o.shape if o else '-'}",
                     f"{mark(o is not None and o.motion == motion)} {o.motion if o else '-'}",
                     f"{mark(o is not None and o.consistent)} {(o.reason or 'yes') if o else '-'}"]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
        head = "".join(f"<th>{h}</th>" for h in ("asked", "colour", "shape", "motion", "consistent"))
        verdict = "correct ✓" if r["overall"] == 1 else "missed ✗"
        extras = f"<br>extra objects: {html.escape(reading(extra))}" if extra else ""
        display(show_video(video, [prompt], scale=3),
                HTML(f"<table><tr>{head}</tr>{''.join(rows)}</table><b>{verdict}</b>{extras}"))


    controls = dict(prompt=widgets.Combobox(value=EXAMPLES[0], options=EXAMPLES, ensure_option=False,
                                            continuous_update=False, description="prompt",
                                            layout=widgets.Layout(width="480px")),
                    seed=widgets.IntSlider(value=0, min=0, max=20, continuous_update=False, description="seed"))
    display(widgets.HBox(list(controls.values())), widgets.interactive_output(check_prompt, controls))
    """),
    code("""
    check_prompt("红色的圆形向左移动", seed=1)  # a static example: a held-out combination, in simplified Chinese
    """),
    md("""
    ## 10 · Your turn: adherence from detections

    Write `my_adherence(expected, detections)`: `expected[i]` is the list of (shape, colour, motion) the prompt of
    clip i asks for, `detections[i]` the list of `DetectedObject`s the probe found in it. Return a dict with
    `"overall"` (fraction of clips correct) and `"colour"`, `"shape"`, `"motion"`, `"consistency"` (fractions of
    prompt objects), following the rules of section 4: match by colour; an extra object spoils the colour of every
    object of its clip and makes the clip wrong; a missing object misses all four.

    The check builds clips whose verdicts are known (real renders judged against their own prompts and against
    prompts that differ in one attribute, an extra object, a missing one, a clip stitched to be inconsistent) and
    names the case and the number where yours disagrees with `evaluate.prompt_adherence`.
    """),
    code("""
    def my_adherence(expected, detections):
        \"\"\"Adherence of clips whose prompts ask for `expected` objects, from the probe's `detections`.\"\"\"
        # ---- your code here ----
        raise NotImplementedError("write my_adherence")
    """),
    code("""
    adherence = (my_adherence if check("09_evaluation", "adherence", my_adherence)
                 else solutions_module("09_evaluation").adherence)  # not attempted yet: the course's reference
    """),
    md("""
    Stuck? `show_solution("09_evaluation", "adherence")` prints the reference. Whichever runs, it must give the
    package's numbers on every group this lesson scored:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    checks = {name: (prompts[name], found[name]) for name in prompts}
    checks["real clips (ceiling)"] = ([world.caption(s) for s in two], two_found)
    checks["hand-made cases"] = (["a red circle moves left", "a blue circle moves left",
                                  "a red circle moves left and a blue square rotates clockwise"]
                                 + ["a red circle stays still"] * len(stitched),
                                 [evaluate.describe(red)] * 3 + [evaluate.describe(c) for c in stitched.values()])
    for name, (ps, dets) in checks.items():
        mine = adherence([text.parse_prompt(p) for p in ps], dets)
        ref = evaluate.prompt_adherence(None, ps, detections=dets)
        for key in ("overall", *evaluate.ATTRIBUTES):
            assert key in mine, f"{name}: your dict has no {key!r}"
            assert abs(mine[key] - ref[key]) < 1e-9, f"{name}, {key}: you get {mine[key]:.4f}, the package {ref[key]:.4f}"
        print(f"{name:22s} {len(ps):3d} clips: all five numbers match the package ✓")
    """),
    md("""
    ## Recap

    - The probe (`evaluate.describe`) reads **pixels only**: per-pixel palette colour and coverage
      (a = ⟨p − bg, c − bg⟩ / |c − bg|²), objects = colours seen in enough frames, a centroid track per object,
      the shape from fitted templates, motion from the track (net velocity, fall-then-rise, spin).
    - On real renders it agrees with the spec on every attribute: that **ceiling** makes a model's misses the
      model's, not the probe's.
    - **Prompt adherence**: match objects by colour; per object colour (no extras), shape, motion, temporal
      consistency; a clip is correct only when all of them hold for all its objects.
    - Report scores with their **binomial standard error** √(p(1 − p)/n); a 48-clip group is good to about ±0.07.
    - The **held-out** combinations test composition ("imagination"); **Chinese** prompts (traditional = simplified,
      they share token ids) test the language; **two-object** prompts test binding each attribute to its object.
    - **Confusion matrices** and a **failure gallery** show *what* goes wrong, which is what tells you what to
      train next.
    - Finishing real clips from a noise level t shows **where** it goes wrong: finishing a rotation it is shown is
      easier than creating one from pure noise, where a random pose must be chosen; averaging two turns gives no
      turn at all.
    - You computed adherence from detections yourself, to the package's numbers.

    To improve the numbers, go back to [07 · Training text-to-video](07_training_text_to_video.ipynb) (train your
    own) and [08 · Samplers and inference compute](08_samplers_and_inference_compute.ipynb) (steps, guidance), and
    measure with `python benchmarks/t2v_benchmark.py`. The course map is in the [notebooks README](README.md).

    Previous: [08 · Samplers and inference compute](08_samplers_and_inference_compute.ipynb) · Next: [10 · Long
    videos](10_long_videos.ipynb)
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
