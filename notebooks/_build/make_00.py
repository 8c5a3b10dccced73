"""Write notebooks/00_welcome.ipynb (without outputs).

    python notebooks/_build/make_00.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/00_welcome.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "00_welcome.ipynb"

cells = [
    md(f"""
    # 00 · Welcome to minivid: a mini Sora you build yourself

    {BADGE.format(name=NAME)}

    Sora, Vidu and CogVideoX turn a sentence into a video. Their recipe fits on one line: **compress** video into a
    small latent space (a video VAE), **cut** it into spacetime patches (tokens), **denoise** those tokens with a
    diffusion transformer that reads the prompt, and **decode** back to pixels. This course builds every piece of that
    recipe from scratch, small enough to train on a laptop CPU, in a toy world of coloured shapes: *ShapesWorld*.

    **You will learn**

    - to generate a video from a prompt, in English or Chinese, with the model this course trained (first minute);
    - the map of the whole pipeline, with the real tensor shapes at every stage, and which lesson builds which part;
    - how to read a generated clip with the course's *probe*, the program that checks whether a video did what the
      prompt said;
    - how the series works: widgets, exercises with check cells, Colab, and how the lessons are tested.

    Runs top to bottom in well under a minute on a laptop CPU.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import time

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import HTML, display

    from minivid import evaluate, text, world
    from minivid.checkpoint import find_shipped
    from minivid.pipeline import TextToVideo
    from minivid.viz import show_video

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.set_num_threads(1)  # a small model: one thread is fastest, and polite on a shared machine
    """),
    md("""
    ## Your first video, in the first minute

    `TextToVideo.from_pretrained` loads the two shipped checkpoints from the repository's `data/` folder: the
    diffusion transformer (`data/t2v/shapes`) and the video VAE it was trained with (`data/vae/shapes`). Nothing is
    downloaded; each file's sha256 is checked before a single weight is used. Then one call turns prompts into
    videos: a float tensor `(batch, frames, 3, height, width)` with values in [0, 1].
    """),
    code("""
    pipe = TextToVideo.from_pretrained(find_shipped("data/t2v/shapes"))

    prompts = ["a red circle moves left", "紅色的圓形向左移動", "a blue square rotates clockwise", "黄色的三角形弹跳"]
    start = time.perf_counter()
    videos = pipe(prompts, seed=0)  # the checkpoint's recommended settings, pipe.defaults: 20 Euler steps, guidance
    seconds = time.perf_counter() - start
    print(f"{len(prompts)} clips {tuple(videos.shape[1:])} in {seconds:.1f} s on {pipe.device}")
    show_video(videos, captions=prompts)
    """),
    md("""
    The second prompt is the first one in traditional Chinese and the fourth is in simplified Chinese ("a yellow
    triangle bounces"): the model was trained on captions in English, traditional and simplified Chinese, and its text
    encoder learns that `紅色` and `red` mean the same colour. Lesson 05 looks inside.

    One more thing about the first prompt: *a red circle moving left* is one of the 24 **held-out** combinations.
    The model has seen red things, circles and leftward motion in training, but never a red circle moving left;
    whatever it draws for it is composed from parts (lesson 01 makes the split, lesson 09 measures it).

    The same prompt, seed and position in the batch always give the same video, on any machine (the starting noise
    of prompt *i* comes from its own generator seeded by `(seed, i)`). Change `seed=` to see other videos for the same
    prompts.
    """),
    md("""
    ## Did it do what we asked? The probe

    A video model is only as good as our way of checking it. ShapesWorld makes checking exact: the world is specified
    to the pixel (`shared/shapesworld-spec.md`), so a small program, `minivid.evaluate.describe`, can read a clip back:
    which colours are present, which shape each object is, how it moves, and whether it stays the same object in
    every frame. On real ShapesWorld clips it agrees with the spec on every attribute (lesson 09 measures it); on a
    generated clip it tells us, without a human in the loop, whether the model followed the prompt.
    """),
    code("""
    for prompt, found in zip(prompts, evaluate.describe_batch(videos)):
        wanted = ", ".join(f"{c} {s} {m}" for s, c, m in text.parse_prompt(prompt))
        print(f"{prompt!r:38} asked: {wanted:32} read: {'; '.join(map(str, found)) or 'nothing'}")
    result = evaluate.prompt_adherence(videos, prompts)
    print(f"prompt adherence on these {len(prompts)} clips: {result['overall']:.0%}")
    """),
    md("""
    `prompt_adherence` is the course's headline number: the share of clips whose every object has the asked colour,
    shape and motion and stays consistent over time. The benchmark measures it on hundreds of prompts, split into
    combinations the model saw in training, **held-out** combinations it never saw (can it imagine a *purple
    triangle rotating clockwise* from having seen purple things, triangles and rotations separately?), Chinese
    prompts and two-object prompts. The shipped model's measured numbers, read from the benchmark's result file:
    """),
    code("""
    import json

    results_file = find_shipped("benchmarks/results/t2v").with_suffix(".json")  # found like data/: above the working dir
    bench = json.loads(results_file.read_text())
    where = bench["model_meta"]["train_seconds_by_device"]  # {"cpu": seconds, "cuda (...)": seconds}
    print(f"shipped model: {bench['model_meta']['steps_total']:,} training steps, "
          + " + ".join(f"{sec / 60:.0f} min on {'the 2-core CPU' if d == 'cpu' else d}" for d, sec in where.items()))
    print(f"{'prompts':>12} {'model':>6} {'real clips':>11}")
    for group, r in bench["adherence"].items():
        print(f"{group:>12} {r['model']['overall']:6.0%} {r['ceiling_real_clips']['overall']:11.0%}")
    """),
    md("""
    *real clips* is the ceiling: the same probe on rendered ShapesWorld clips of the same prompts. The gap between the
    two columns is what more training (lesson 07), better sampling (lesson 08) and better evaluation (lesson 09) are
    about.

    ## Try it: pick a prompt

    Choose a colour, a shape, a motion and a language; the model renders the prompt (20 steps take a fraction of a
    second to a few seconds on a CPU). Try a held-out combination, listed below the widget.
    """),
    code("""
    def sentence(colour, shape, motion, language):
        return world.caption(world.ObjectSpec(shape=shape, colour=colour, motion=motion, x=16, y=16, size=5), language)


    def generate(colour, shape, motion, language, seed):
        prompt = sentence(colour, shape, motion, language)
        video = pipe([prompt], seed=seed)
        found = evaluate.describe(video[0])
        verdict = "followed" if evaluate.prompt_adherence(video, [prompt])["overall"] == 1 else "missed"
        display(show_video(video, captions=[prompt]))
        print(f"asked: colour {colour}, shape {shape}, motion {motion} | read: "
              f"{'; '.join(map(str, found)) or 'nothing'} | {verdict}")


    controls = dict(
        colour=widgets.Dropdown(options=list(world.COLOURS), value="red", description="colour"),
        shape=widgets.Dropdown(options=list(world.SHAPES), value="circle", description="shape"),
        motion=widgets.Dropdown(options=list(world.MOTIONS), value="moves left", description="motion"),
        language=widgets.Dropdown(options=list(world.LANGUAGES), value="en", description="language"),
        seed=widgets.IntSlider(value=0, min=0, max=9, description="seed"),
    )
    output = widgets.interactive_output(generate, controls)
    display(widgets.VBox([widgets.HBox(list(controls.values())[:3]), widgets.HBox(list(controls.values())[3:]), output]))
    """),
    md("""
    The widget needs a running kernel. Here is what it shows for a held-out combination, one the model never saw
    during training:
    """),
    code("""
    print("held-out combinations (never in training):",
          ", ".join(f"{c} {s} {m}" for s, c, m in sorted(world.HELD_OUT)[:6]), "...")
    shape, colour, motion = sorted(world.HELD_OUT)[0]
    generate(colour, shape, motion, "en", seed=0)
    """),
    md("""
    ### Your own words

    The prompt language is small but real: English or Chinese, one or two objects (`a red circle moves left and a
    blue square stays still`), a few phrasings (`a red circle moving left`, `紅色的圓形正在向左移動`). A word the model
    does not know, or an impossible request, gets a clear error that says what is wrong, before any compute is spent:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for bad in ["a pink circle moves left", "a red circle moves sideways", "a red circle"]:
        try:
            pipe([bad])
        except text.PromptError as e:
            print(f"{bad!r}: {e}")
    """),
    code("""
    box = widgets.Text(value="a green triangle rotates counterclockwise", description="prompt",
                       layout=widgets.Layout(width="60%"), continuous_update=False)


    def from_text(prompt):
        try:
            video = pipe([prompt], seed=0)
        except text.PromptError as e:
            print(e)
            return
        display(show_video(video, captions=[prompt]))
        print("read:", "; ".join(map(str, evaluate.describe(video[0]))) or "nothing")


    display(widgets.VBox([box, widgets.interactive_output(from_text, {"prompt": box})]))
    """),
    md("""
    ## The map: from a sentence to a video

    Every stage below is a module of the `minivid` package and a lesson of this course. The shapes are read off the
    loaded pipeline, not typed in: this is exactly what ran for your first video.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    prompt = "a red circle moves left"
    ids, mask = text.encode_batch([prompt])  # lesson 05: words -> token ids
    z, tz, hz, wz = pipe.latent_shape  # lesson 03: the VAE's latent of one clip
    pt, ph, pw = pipe.dit.config.patch_size  # lesson 02 / 06: spacetime patches
    tokens = (tz // pt) * (hz // ph) * (wz // pw)
    frames, height, width = world.DEFAULT_FRAMES, world.DEFAULT_HEIGHT, world.DEFAULT_WIDTH
    steps = pipe.defaults["steps"]
    calls = 2 + (pipe.defaults["autoguidance"] != 0)  # guidance: with and without the caption; + the weaker model
    stages = [
        ("prompt", repr(prompt), "01 (captions), 05"),
        ("token ids", f"{tuple(ids.shape)} ({int(mask.sum())} real tokens)", "05 text conditioning"),
        ("noise latent", f"{(1, z, tz, hz, wz)} = z x t' x h' x w'", "03 video VAE, 04 diffusion"),
        ("video tokens", f"{tokens} spacetime patches of {pt}x{ph}x{pw} latent cells", "02 patches, 06 DiT"),
        ("denoising", f"{steps} steps x {calls} DiT calls (guidance) = {calls * steps * tokens} token evaluations",
         "04, 08 samplers"),
        ("decoded video", f"{(1, frames, 3, height, width)} = b t c h w in [0, 1]", "03 video VAE"),
        ("verdict", "colour, shape, motion, consistency per object", "09 evaluation"),
    ]
    for name, shape, lesson in stages:
        print(f"{name:>14} | {shape:58} | {lesson}")
    print(f"{sum(p.numel() for p in pipe.dit.parameters()):,} DiT + {sum(p.numel() for p in pipe.vae.parameters()):,} VAE parameters")
    """),
    md("""
    A 17-frame 32 x 32 clip has 52,224 pixel values; the VAE squeezes it into 8 x 5 x 8 x 8 = 2,560 numbers, and the
    transformer sees only 80 tokens. That compression is why training fits on a CPU at all. Sora-scale video is the
    same recipe at a different size: lesson 02 shows that 60 frames at 512 x 512 make about 60,000 patches, and 20
    denoising steps then cost about 1.2 million token evaluations per video.

    Longer videos come for free in the sense that the transformer's 3D positions work for any length: ask for 33
    frames (two clips' worth) and see whether the object stays the same object (it was trained on 17 only).
    """),
    code("""
    long = pipe(["a purple square moves right"], frames=33, seed=1)
    print(f"{tuple(long.shape)}; read: {'; '.join(map(str, evaluate.describe(long[0]))) or 'nothing'}")
    show_video(long, captions=["a purple square moves right (33 frames)"])
    """),
    md("""
    ## How to use the series

    | # | lesson | builds |
    |---|---|---|
    | 00 | welcome (this one) | the tour |
    | 01 | [ShapesWorld](01_shapesworld.ipynb) | the data: a renderer, motion laws, bilingual captions, the held-out split |
    | 02 | [Spacetime patches](02_spacetime_patches.ipynb) | patchify by hand, token counts, the cost of long videos |
    | 03 | [The video VAE](03_video_vae.ipynb) | causal 3D convolutions, KL, the latent space |
    | 04 | [Diffusion from scratch](04_diffusion_from_scratch.ipynb) | flow matching vs DDPM on a 2-D toy, then on clips |
    | 05 | [Text conditioning](05_text_conditioning.ipynb) | tokenizer, text encoder, cross-attention, guidance |
    | 06 | [The diffusion transformer](06_diffusion_transformer.ipynb) | adaLN-Zero, 3D RoPE, full vs factorised attention |
    | 07 | [Training text-to-video](07_training_text_to_video.ipynb) | a live training run, and how the shipped model was made |
    | 08 | [Samplers and inference compute](08_samplers_and_inference_compute.ipynb) | Euler, Heun, DDIM, DDPM; quality vs steps |
    | 09 | [Evaluation](09_evaluation.ipynb) | prompt adherence, held-out combinations, Chinese prompts, failures |

    - **Run each lesson top to bottom** (*Run → Run All Cells*). Each one builds its stage inline, by hand, and then
      proves with an `assert` that the hand-written code equals the package's version: `minivid` is the single source
      of truth, and the lessons show how it works.
    - **Widgets** (drop-downs, sliders, text boxes) need a running kernel; a static example below each one shows
      what it does in the saved notebook.
    - **Exercises**: each lesson ends with a *your turn* cell that ships with a working solution. Replace the code
      between the `your turn` markers with your own and run the check cell below it: it raises an `AssertionError`
      that says what is off, or prints that you got it.
    - **Training**: lessons use the shipped checkpoints so they run in minutes; a `TRAIN_FROM_SCRATCH` switch
      shows the real training where there is one.
    - **Colab**: the badge at the top opens the lesson there; its set-up cell clones the course and installs it,
      and uses Colab's GPU if you pick one (faster, never different).
    - The lessons are tested: CI runs every notebook with `pytest --nbval-lax`, and drives this one in a real browser.

    ## Your turn

    Write the prompt *a white triangle rotates counterclockwise* in simplified Chinese. The check cell compares what
    the course's parser reads from your sentence with what the English one says. (Lesson 01 lists the words:
    colours `白色`, shapes `三角形`, motions like `逆时针旋转`.)
    """),
    code("""
    # your turn: replace this
    my_prompt = "白色的三角形逆时针旋转"
    # your turn: end
    """),
    code("""
    wanted = text.parse_prompt("a white triangle rotates counterclockwise")
    got = text.parse_prompt(my_prompt)  # raises PromptError with a hint if a word is unknown
    assert got == wanted, f"your prompt reads as {got}, but the English one is {wanted}"
    assert my_prompt == my_prompt.translate(world.TO_SIMPLIFIED), "use simplified characters (e.g. 时针, not 時針)"
    print("correct:", my_prompt, "->", got)
    show_video(pipe([my_prompt], seed=0), captions=[my_prompt])
    """),
    md("""
    ## Recap

    - `TextToVideo.from_pretrained()` + `pipe(prompts, steps=, guidance=, seed=)` is the whole product: a prompt in,
      a `b t c h w` video in [0, 1] out, deterministic per seed; `minivid generate "a red circle moves left" --out
      clip.gif` does the same from a shell.
    - Under the hood: tokens → text encoder → a diffusion transformer denoising 80 spacetime-patch tokens of a VAE
      latent for 20 steps → the VAE decoder.
    - The probe (`minivid.evaluate`) reads a clip back, so the model's quality is a measured number, not a
      demo; the gap to real clips is where the rest of the course goes.

    Next: **[01 · ShapesWorld](01_shapesworld.ipynb)**, the world every clip comes from.
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
