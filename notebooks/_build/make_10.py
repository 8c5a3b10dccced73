"""Write notebooks/10_long_videos.ipynb (without outputs).

    python notebooks/_build/make_10.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/10_long_videos.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write  # SETUP: the one set-up cell, from tools/sync_setup_cell.py

NAME = "10_long_videos.ipynb"

cells = [
    md(f"""
    # 10 · Long videos: stories window by window, image-to-video and extension

    {BADGE.format(name=NAME)}

    Lesson 10 of **minivid**. Everything so far made one 17-frame clip. The debate around video models is about
    length and consistency: Vidu makes 16-second clips, Sora 60-second ones, and the hard part is keeping an object
    the same object from one second to the next. This lesson makes clips four or six times the training length with
    the same small DiT, and measures what goes wrong on the way.

    **You will learn**

    - why a model **fails past its training length**: one long window of 33 or 65 frames against 17, measured by the
      evaluator;
    - why a **causal VAE** makes an image a 1-frame clip: the first frame is encoded alone;
    - to **condition on clean frames**: one time per latent frame and a loss masked to the frames drawn (you write
      the times), so one network does text-to-video, image-to-video and extension;
    - to write the **extension loop** that tells a story window by window, and to measure how errors **drift**
      with the number of segments;
    - the **cost** of one long window with full attention against sliding windows: tokens, FLOPs and seconds per
      second of video, from our 80-token clips to a Sora-sized 60-second one;
    - why a shot's first window must **leave room** for the rest of the story, and how a planner fixes it;
    - **image-to-video** from a frame you draw, and a widget to write a story segment by segment.

    Runs top to bottom in two or three minutes on a laptop CPU; every clip is seeded, so the numbers reproduce.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import json
    import math
    import time

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from minivid import diffusion, evaluate, patching, sampling, story, text, world
    from minivid.checkpoint import find_shipped
    from minivid.exercises import check, show_solution
    from minivid.pipeline import LONG_PATH, TextToVideo
    from minivid.viz import frame_strip, show_video

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    _ = torch.manual_seed(0)  # every random draw below is seeded


    def small(video):
        \"\"\"Snap to 32 levels per channel: smaller GIFs keep the saved notebook small.\"\"\"
        return (video * 32).round() / 32
    """),
    md("""
    ## The long-video model

    The long-video model, `data/t2v/long`, is the shipped DiT of lesson 07 trained on for one more run on 17-frame
    clips, half of them from text alone, half with their first
    latent frame **given**: a clean frame the network sees and does not have to draw (section 3 builds this). Its
    sidecar records the noise level those given frames were seen at; a checkpoint without it can only do
    text-to-video, and the long-video calls below would refuse it with a clear error.

    Every clip in this lesson is drawn with 12 Euler steps instead of the recommended 20, to keep the lesson within
    a few minutes on a CPU; the other settings are the checkpoint's.
    """),
    code("""
    ROOT = find_shipped("data/t2v/shapes").parents[2]  # the repository checkout: data/, benchmarks/results/
    pipe = TextToVideo.from_pretrained(LONG_PATH, device=device)  # the model trained with given frames
    STEPS = pipe.defaults["steps"]  # sampler steps per window: the recommended count
    LEVEL = pipe.given_level  # the time given frames are seen at, in training and sampling
    Z, F, H, W = pipe.latent_size(17)  # one window's latent: channels, latent frames, height, width
    print(f"given frames seen at time {LEVEL} | window: 17 frames -> latent {Z}x{F}x{H}x{W} | "
          f"sampling: {pipe.defaults}")
    """),
    md("""
    ## 1 · Past the training length: one long window

    The transformer's 3D positions (RoPE, lesson 06) work for any number of latent frames, so nothing stops us from
    asking for 33 or 65 frames in **one window**: 9 or 17 latent frames, all drawn together, every token attending
    to every other. `pipe.sample_latents(prompts, frames=...)` does exactly that (`pipe(prompt, frames=65)` does
    something else: section 4).

    We ask for prompts whose motion can go on (rotating, bouncing, staying still: a move would leave the 32-pixel
    canvas), from combinations the model was trained on, and judge the long clips as stories: a 65-frame clip of
    *a red square rotates clockwise* is the story *a red square rotates clockwise, then the red square rotates
    clockwise, ...* (`story.repeated_story`), four 17-frame windows sharing their boundary frames. The evaluator
    (`evaluate.story_adherence`, the stories addendum) checks every window against its segment, plus identity (same
    colour, shape and size), continuity (no jump at a boundary) and shots.
    """),
    code("""
    rng = np.random.default_rng(10)
    LASTING = ("rotates clockwise", "rotates counterclockwise", "bounces", "stays still")
    LONG_PROMPTS = []
    for motion in LASTING:  # two prompts per motion, from the combinations the model was trained on
        lasting = [c for c in world.split_combinations("train") if c[2] == motion]
        LONG_PROMPTS += [world.caption(world.sample_object(rng, *lasting[i]))
                         for i in sorted(rng.choice(len(lasting), 2, replace=False))]

    long_clips, long_scores, long_seconds = {}, {}, {}
    for frames in (17, 33, 65):
        start = time.perf_counter()
        latents = pipe.sample_latents(LONG_PROMPTS, steps=STEPS, seed=0, frames=frames)  # ONE window
        long_clips[frames] = pipe.vae.decode_latents(latents).float().cpu()
        long_seconds[frames] = (time.perf_counter() - start) / len(LONG_PROMPTS)
        stories = [story.repeated_story(p, frames) for p in LONG_PROMPTS]
        long_scores[frames] = score = evaluate.story_adherence(long_clips[frames], stories)
        print(f"{frames} frames in one window ({pipe.latent_size(frames)[1]:2d} latent frames): stories passing "
              f"{score['overall']:.2f} | windows {score['windows']:.2f} | identity {score['identity']:.2f} | "
              f"continuity {score['continuity']:.2f}")
    print("prompts:", LONG_PROMPTS)
    """),
    code("""
    failed = [s for s in long_scores[65]["per_story"] if not s["passed"]]
    for s in failed[:3]:
        print(f"{LONG_PROMPTS[s['index']]!r}, 65 frames:", "; ".join(s["errors"][:3]))
    show_video(small(long_clips[65][:2]), [f"{p} (one 65-frame window)" for p in LONG_PROMPTS[:2]], scale=2)
    """),
    md("""
    Read the three lines together. At 17 frames the model is at home. At 33 and 65 frames the same network, the
    same prompts and the same number of steps draw clips whose windows fail more often: objects fade, split, change
    size or shape, or motion stops. Nothing in the network breaks; what changes is the input. Every token now
    attends to 2 or 4 times as many tokens as it ever saw in training, the positions along time run past anything it
    was trained on, and the caption says nothing about *which* part of a 65-frame clip a token is in. A model
    generalises badly to inputs unlike its training data, and a longer sequence is such an input.

    The field's answer is not to train on ever longer clips (the cost of section 6 grows faster than the length),
    but to draw a long video as a chain of windows of the training length, each one **given** frames from the one
    before. That needs two things: a way to hand the model a clean frame, and a model that knows what to do with
    it.

    ## 2 · The causal VAE's first frame is an image

    Lesson 03's VAE is **causal** in time: its 3D convolutions only look back, and it encodes frame 0 alone, then
    every 4 following frames into one latent frame (17 = 1 + 4 × 4 frames → 5 latent frames). So the first latent
    frame of a clip depends on the first frame and nothing else, and **an image is a 1-frame clip**: encoding a frame
    on its own gives exactly the first latent frame of any clip that starts with it. Checked, including with the
    rest of the clip replaced by noise:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    clip = world.render(world.sample_scene(3, num_objects=1))  # t c h w, a training-split scene
    with torch.no_grad():
        z_clip = pipe.vae.encode_clips(clip[None].to(device))  # 1 z 5 h w
        z_image = pipe.vae.encode_clips(clip[None, :1].to(device))  # frame 0 alone: 1 z 1 h w
        noisy = torch.cat([clip[:1], torch.rand(16, *clip.shape[1:], generator=torch.Generator().manual_seed(0))])
        z_noisy = pipe.vae.encode_clips(noisy[None].to(device))
    assert torch.allclose(z_clip[:, :, :1], z_image, atol=1e-4), "the first latent frame is not the image's latent"
    assert torch.allclose(z_noisy[:, :, :1], z_image, atol=1e-4), "later frames leak into the first latent frame"
    assert not torch.allclose(z_noisy[:, :, 1:], z_clip[:, :, 1:], atol=1e-2)  # ... while the others do change
    print(f"clip latent {tuple(z_clip.shape)} | image latent {tuple(z_image.shape)} | first latent frame of the clip "
          "== the image's latent ✓ | unchanged when frames 1-16 are noise ✓")
    """),
    code("""
    with torch.no_grad():
        image_back = pipe.vae.decode_latents(z_image).float().cpu()[0, 0]  # decode the 1-frame latent: an image
    psnr = 10 * math.log10(1 / torch.mean((image_back - clip[0]) ** 2).item())
    print(f"the image through the VAE and back: PSNR {psnr:.1f} dB")
    _ = frame_strip(torch.stack([clip[0], image_back])[:, None], ["the image (frame 0)", "its latent, decoded"])
    """),
    md("""
    A non-causal VAE (or one that encodes frames 0-3 together) has no latent that belongs to one frame, so an image
    would need its own encoder; here image-to-video, extension and text-to-video share one latent space. (Real
    models: CogVideoX's and Open-Sora's causal 3D VAEs do the same, and LTX-Video's.) The image does not come back
    perfectly: a given frame is "as well as the VAE can keep it", and section 5 measures what that costs over many
    windows.

    ## 3 · Conditioning on clean frames

    In lessons 04-07 a clip had **one** time t: every latent frame was noised to the same level and the DiT's
    adaLN read one time embedding. To give the model a frame we keep that frame (almost) clean while the others are
    noised, and tell the network which is which by giving **each latent frame its own time**:

    - drawn frames: the clip's time t, as before;
    - given frames: a small fixed level (the checkpoint's `given_level`, e.g. 0.03): a little noise on the given
      frames, at training and at sampling alike, so the model does not trust them blindly; they will be re-encoded
      VAE outputs, slightly off (Diffusion Forcing's stabilisation level, Chen et al. 2024).

    The DiT already takes t of shape (b, f) and conditions each latent frame's tokens on their own time (adaLN per
    frame). This is LTX-Video's per-token time min(t, 1 − mask) and Open-Sora's masked DiT (given frames at time 0);
    CogVideoX instead concatenates the image latent on the channels, which needs a wider input layer.

    **Your turn.** Write the times: t (b,) the clips' times, `given` a bool mask (b, f) of the given latent frames,
    `level` the given frames' time; return one time per latent frame, (b, f).
    """),
    code('''
    def my_given_frame_times(t, given, level):
        """One time per latent frame (b f): t[i] where clip i's frame is drawn, `level` where it is given."""
        # ---- your code here ----
        raise NotImplementedError("write my_given_frame_times")
    '''),
    code("""
    times_ok = check("10_long_videos", "given_frame_times", my_given_frame_times)
    frame_times = my_given_frame_times if times_ok else diffusion.frame_times  # minivid's, until yours passes
    """),
    md("""
    Stuck? `show_solution("10_long_videos", "given_frame_times")` prints the reference.

    The training loss then noises every frame to its own time and compares the velocity with ε − x₀ **only on the
    frames drawn**: the given frames are inputs, not targets (Open-Sora's masked loss; a given frame's velocity is
    never used). Built by hand on real rendered clips, the first latent frame given in half of them, and checked
    against `diffusion.flow_matching_loss(..., given=mask, given_level=level)`:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    scenes = [world.sample_scene(seed, num_objects=1) for seed in range(8)]
    prompts8 = [world.caption(s) for s in scenes]
    with torch.no_grad():
        x0 = pipe.vae.encode_clips(world.render_batch(scenes).to(device))  # b z f h w
    g = torch.Generator().manual_seed(0)
    t = torch.rand(8, generator=g).to(device)
    eps = torch.randn(x0.shape, generator=g).to(device)
    given = torch.zeros(8, F, dtype=torch.bool, device=device)
    given[::2, 0] = True  # clips 0, 2, 4, 6: the first latent frame given (image-to-video, extension)
    ids, mask = (v.to(device) for v in text.encode_batch(prompts8))

    with torch.no_grad():
        t_frames = frame_times(t, given, LEVEL)  # b f
        x_t = (1 - t_frames[:, None, :, None, None]) * x0 + t_frames[:, None, :, None, None] * eps
        v = pipe.dit(x_t, t_frames, ids, mask)  # one time per latent frame
        per_frame = ((v - (eps - x0)) ** 2).mean(dim=(1, 3, 4))  # b f
        drawn = (~given).float()
        mine = ((per_frame * drawn).sum(1) / drawn.sum(1)).mean()  # each clip over its drawn frames
        package = diffusion.flow_matching_loss(pipe.dit, x0, ids, mask, t=t, eps=eps, given=given, given_level=LEVEL)
    assert torch.allclose(mine, package, rtol=1e-5), (mine, package)
    print(f"masked flow-matching loss by hand {mine.item():.5f} == diffusion.flow_matching_loss(given=...) ✓")
    print("times of clip 0 (first frame given):", [round(x, 3) for x in t_frames[0].tolist()],
          "| clip 1:", [round(x, 3) for x in t_frames[1].tolist()])
    """),
    md("""
    Does the given frame help? The loss on the drawn frames, with the first latent frame given (seen at
    `given_level`) against not given (noised like the others), for the same clips, noise and times. If the model
    learned to use it, the error on the other frames drops, most at high noise, where the drawn frames alone say
    least about where the object is:
    """),
    code("""
    def drawn_frames_loss(t_value, first_given):
        \"\"\"Mean loss on latent frames 1-4 at time t, frame 0 given (seen at LEVEL) or noised like the rest.\"\"\"
        given_ = torch.zeros(8, F, dtype=torch.bool, device=device)
        given_[:, 0] = first_given
        t_all = frame_times(torch.full((8,), t_value, device=device), given_, LEVEL)
        with torch.no_grad():
            v_ = pipe.dit(diffusion.add_noise(x0, eps, t_all), t_all, ids, mask)
        return ((v_ - (eps - x0)) ** 2)[:, :, 1:].mean().item()


    T_GRID = (0.2, 0.4, 0.6, 0.8, 0.95)
    with_first = [drawn_frames_loss(tv, True) for tv in T_GRID]
    without = [drawn_frames_loss(tv, False) for tv in T_GRID]
    for tv, a, b in zip(T_GRID, with_first, without):
        print(f"t = {tv:.2f}: loss on latent frames 1-4 with frame 0 given {a:.3f} | not given {b:.3f}")
    """),
    md("""
    Sampling uses the same idea (`sampling.given_frames`): before every call of the denoiser the given latent frames
    are put back (noised to `given_level`), seen at that time, and their velocity is set to 0, so whatever sampler
    runs leaves them where they are and draws only the rest. `pipe.sample_latents(prompts, given=(latents, mask))`
    does it; one network, three uses:

    | use | latent frames given |
    |---|---|
    | text-to-video | none |
    | image-to-video | the first: the image, encoded as a 1-frame clip |
    | extension | the first: the last frame of the clip so far |

    ## 4 · Extension, window by window

    A story prompt has segments joined by `, then` (`shared/shapesworld-stories.md`): segment k covers frames
    16k..16k+16, so n segments make 16n + 1 frames, and consecutive windows **share** their boundary frame. Told
    window by window: the first window starts from an image (or from text alone, section 7); every later window is
    drawn with the **last frame so far** given as its first frame, under its own segment's prompt; its frames 1..16
    are appended.

    **Your turn.** `draw_window(k, prompt, first)` draws segment k's 17-frame window (17, 3, H, W) with the frame
    `first` (3, H, W) given; `prompts` are the segments' prompts and `image` (3, H, W) the story's first frame.
    Return the story, (16n + 1, 3, H, W).
    """),
    code('''
    def my_extension_loop(draw_window, prompts, image):
        """A one-shot story, window by window: (16 n + 1, 3, H, W) for the n segment prompts."""
        # ---- your code here ----
        raise NotImplementedError("write my_extension_loop")
    '''),
    code("""
    loop_ok = check("10_long_videos", "extension_loop", my_extension_loop)
    """),
    md("""
    Stuck? `show_solution("10_long_videos", "extension_loop")`. The check runs your loop with a fake window drawer
    whose frames record what they were drawn from.

    `story.StoryTeller` is minivid's loop, and `pipe(story_prompt, image=frame)` calls it. Here a three-segment
    story from a rendered first frame; `teller.window` draws one window, `teller.encode` makes a frame a 1-frame
    latent. Once your loop passes, it must give the pipeline's clip exactly:
    """),
    code("""
    STORY = "a red square rotates clockwise, then the red square moves down, then the red square rotates counterclockwise"
    truth = world.sample_story(0, text.parse_story(STORY))  # a start from which the whole story fits
    image = world.render_story(truth)[0]  # its first frame: 3 h w
    told = pipe(STORY, image=image, steps=STEPS, seed=0)[0]  # window k's noise: seeds.window_seed(0, 0, k)
    teller = story.StoryTeller(pipe, steps=STEPS)
    from minivid.seeds import window_seed  # the seed of window k of prompt 0 of a call


    def draw_window(k, prompt, first):
        return teller.window(prompt, window_seed(0, 0, k), first=teller.encode(first))


    if loop_ok:
        mine = my_extension_loop(draw_window, text.segment_prompts(STORY), image)
        assert torch.equal(mine, told), "your loop and the pipeline differ"
        print("your extension loop == pipe(story, image=...) ✓")
    verdict = evaluate.story_adherence(told[None], [STORY])["per_story"][0]
    print(f"{tuple(told.shape)}: story {'passes' if verdict['passed'] else 'fails'}",
          "; ".join(verdict["errors"][:3]))
    show_video(small(told), STORY)
    """),
    md("""
    ## 5 · How errors drift with length

    Every window starts from a frame the previous window drew, decoded to pixels and encoded again: whatever the
    previous window got slightly wrong (a colour a little off, an edge a little soft, a size a pixel too big) is
    the next window's truth. Errors can accumulate; the question is how fast. FramePack and VACE users report
    colours shifting segment by segment from exactly this decode → re-encode loop, and the small noise on given
    frames (section 3) is the usual remedy.

    Measured: 8 random six-segment stories (96 frames after the first, ~6x the training length), from their
    rendered first frames, extended window by window in one batch (the loop above, with all stories drawn
    together). For each segment index: how many windows pass the evaluator, how far the object's colour is from
    the world's colour, and its area against the first frame's; and how many stories are still perfect after n
    segments. VBench's *subject consistency* (each frame's similarity to the first and to the previous frame) is
    the field's measure of the same thing; ours reads the object directly.
    """),
    code("""
    SEGMENTS = 6
    TRAIN = world.split_combinations("train")  # (shape, colour, motion) the model was trained on


    def random_story(rng, segments):
        \"\"\"A one-shot story of one training-split object, motions drawn per segment, redrawn until it fits.\"\"\"
        while True:
            shape, colour, _ = TRAIN[rng.integers(len(TRAIN))]
            motions = [m for s, c, m in TRAIN if (s, c) == (shape, colour)]
            plan = world.StoryPlan(tuple((shape, colour, motions[rng.integers(len(motions))]) for _ in range(segments)))
            try:
                return world.sample_story(rng, plan)  # the world's planner: start, speeds and size that fit
            except world.StoryError:
                continue


    rng = np.random.default_rng(5)
    drift_stories = [random_story(rng, SEGMENTS) for _ in range(8)]
    drift_prompts = [world.story_caption(s) for s in drift_stories]
    pieces = [text.segment_prompts(p) for p in drift_prompts]


    def draw_windows(prompts, firsts, seed):
        \"\"\"One window per prompt, in one batch, each with its first frame (b c h w) given.\"\"\"
        x = torch.zeros(len(prompts), Z, F, H, W, device=device)
        with torch.no_grad():
            x[:, :, :1] = pipe.vae.encode_clips(firsts[:, None].to(device))  # each frame as a 1-frame clip
        mask_ = torch.zeros(len(prompts), F, dtype=torch.bool, device=device)
        mask_[:, 0] = True
        latents = pipe.sample_latents([story.window_prompt(p) for p in prompts], steps=STEPS, seed=seed,
                                      given=(x, mask_))
        return pipe.vae.decode_latents(latents).float().cpu()  # b t c h w


    start = time.perf_counter()
    drifted = world.render_stories(drift_stories)[:, :1]  # the rendered first frames: b 1 c h w
    for k in range(SEGMENTS):
        windows = draw_windows([p[k] for p in pieces], drifted[:, -1], seed=k)
        drifted = torch.cat([drifted, windows[:, 1:]], dim=1)
    window_seconds = (time.perf_counter() - start) / (SEGMENTS * len(drift_stories))
    drift_score = evaluate.story_adherence(drifted, drift_prompts)
    truth_score = evaluate.story_adherence(world.render_stories(drift_stories), drift_prompts)
    print(f"{tuple(drifted.shape)} | stories passing {drift_score['overall']:.2f} (the rendered stories: "
          f"{truth_score['overall']:.2f}) | windows {drift_score['windows']:.2f} | identity "
          f"{drift_score['identity']:.2f} | continuity {drift_score['continuity']:.2f}")
    """),
    code("""
    def object_colour(frame):
        \"\"\"Mean colour of the fully covered pixels of a one-object frame (c h w): the object's core.\"\"\"
        brightness = frame.max(0).values
        core = brightness >= 0.9 * brightness.max()  # fully covered pixels: anti-aliased edges are darker
        return frame[:, core].mean(1)


    def object_area(frame):
        return float((frame.max(0).values > 0.3).sum())


    def drift_measures(videos):
        \"\"\"Per story and segment k: the object's colour error (RGB, 0-255) and its area over the first frame's,
        read at frame 16(k + 1), the frame the next window starts from.\"\"\"
        colour_error, area_ratio = np.zeros((len(videos), SEGMENTS)), np.zeros((len(videos), SEGMENTS))
        for i, (video, s) in enumerate(zip(videos, drift_stories)):
            true = torch.tensor(world.COLOURS[s.segments[0].objects[0].colour]) / 255
            for k in range(SEGMENTS):
                frame = video[16 * (k + 1)]
                colour_error[i, k] = 255 * torch.linalg.norm(object_colour(frame) - true).item()
                area_ratio[i, k] = object_area(frame) / object_area(video[0])
        return colour_error, area_ratio


    rendered = world.render_stories(drift_stories)  # the stories as the world draws them
    with torch.no_grad():  # ... and after one trip through the VAE: what the VAE alone changes
        round_trip = pipe.vae.decode_latents(pipe.vae.encode_clips(rendered.to(device))).float().cpu()
    measures = {"model, window by window": drift_measures(drifted), "rendered": drift_measures(rendered),
                "rendered, through the VAE once": drift_measures(round_trip)}
    per_window = np.array([[w["correct"] for w in s["per_window"]] for s in drift_score["per_story"]])  # stories x k
    still_perfect = np.cumprod(per_window, axis=1).mean(0)  # stories whose first n windows all pass
    seg = np.arange(1, SEGMENTS + 1)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.2), layout="constrained")
    axes[0].plot(seg, per_window.mean(0), "o-", label="window k passes")
    axes[0].plot(seg, still_perfect, "s--", label="windows 1..k all pass")
    axes[0].set(ylim=(0, 1.05), xlabel="segment k", title="evaluator, per segment")
    axes[0].legend(fontsize=8)
    for (name, (colour, area)), style in zip(measures.items(), ("o-", ":", "--")):
        axes[1].plot(seg, colour.mean(0), style, label=name)
        axes[2].plot(seg, area.mean(0), style, label=name)
    axes[1].set(xlabel="segment k", ylabel="RGB distance (0-255)", title="object colour vs the world's, end of k")
    axes[2].set(xlabel="segment k", title="object area / area in the first frame")
    axes[2].legend(fontsize=8)
    plt.show()
    colour_error, area_ratio = measures["model, window by window"]
    vae_colour, vae_area = measures["rendered, through the VAE once"]
    for k in range(SEGMENTS):
        print(f"segment {k + 1}: windows passing {per_window[:, k].mean():.2f} | all so far {still_perfect[k]:.2f} | "
              f"colour error {colour_error[:, k].mean():5.1f} (VAE once {vae_colour[:, k].mean():4.1f}) | "
              f"area ratio {area_ratio[:, k].mean():.2f} (VAE once {vae_area[:, k].mean():.2f})")
    """),
    code("""
    show_video(small(drifted[0]), drift_prompts[0])
    """),
    md("""
    Read the curves against the length. A window's own chance of passing says whether the model copes with what
    it is given; the dashed curve compounds it: if each window passes with probability p, a story of n windows is
    perfect only with p^n, so even a small per-window failure rate turns into a steep loss of long stories. The
    colour and area curves show the drift itself: whether the object's colour walks away from the world's colour and
    its size creeps as it passes through the VAE and the sampler again and again; the dotted and dashed lines are
    the same measures on the rendered stories and on one trip through the VAE, what the measure reads when nothing
    drifts. With 8 stories each point is an
    average of 8 windows (one window is 12 percentage points), so read the trend, not the wiggles;
    `benchmarks/long_video.py` measures the same curve on more stories (section 10).

    ## 6 · The cost: one long window against sliding windows

    One window of T frames has 1 + (T − 1)/4 latent frames of 16 tokens each (8 × 8 latent cells, 2 × 2 patches).
    With full attention, every pass costs attention ∝ N² plus projections and MLP ∝ N (lesson 08). A chain of
    17-frame windows costs the same per window, whatever the length: linear in the number of segments. Counted with
    `patching.dit_flops` for the shipped DiT, per DiT pass (a sample is a fixed number of passes, so the ratios hold
    for whole samples):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    cfg = pipe.dit.config
    PER_FRAME = (H // cfg.patch_size[1]) * (W // cfg.patch_size[2])  # tokens per latent frame
    TEXT_TOKENS = 1 + text.encode_batch(LONG_PROMPTS[:1])[0].shape[1]


    def pass_flops(tokens):
        return patching.dit_flops(tokens, cfg.width, cfg.depth, mlp_ratio=int(cfg.mlp_ratio), text_tokens=TEXT_TOKENS)


    window = pass_flops(F * PER_FRAME)
    print(f"{'frames':>6} {'tokens, one window':>19} {'MFLOP, one window':>18} {'attention share':>16} "
          f"{'MFLOP, 17-frame windows':>24} {'ratio':>6}")
    for frames in (17, 33, 65, 129, 257, 513, 1025):
        tokens = (1 + (frames - 1) // 4) * PER_FRAME
        one, windows = pass_flops(tokens), (frames - 1) // 16 * window.total
        print(f"{frames:6d} {tokens:19,d} {one.total / 1e6:18,.0f} {one.attention / one.total:16.0%} "
              f"{windows / 1e6:24,.0f} {one.total / windows:6.2f}")
    tokens65 = (1 + 64 // 4) * PER_FRAME
    print(f"65 frames at 20 guided steps (40 passes): one window {patching.sampling_cost(tokens65, 40):,} token "
          f"evaluations, four windows {4 * patching.sampling_cost(F * PER_FRAME, 40):,}")
    """),
    md("""
    At our size the MLP dominates and one long window costs about what the chain costs (each window of the chain
    also carries its given first latent frame through every pass). Attention catches up as the clip grows: by a
    thousand frames it is most of a pass, and one window costs several times the chain, a factor that keeps growing
    with the length. Measured seconds per second of video (at the 8 frames per second our GIFs play), from the
    timings above on this machine: the one-window clips of section 1 (batches of 8) and the chained windows of
    section 5 (batches of 8, a window adds 16 frames):
    """),
    code("""
    FPS = 8
    for frames in (17, 33, 65):
        print(f"one window of {frames} frames: {long_seconds[frames]:.2f} s per clip -> "
              f"{long_seconds[frames] / ((frames - 1) / FPS):.2f} s per second of video")
    print(f"windows of 17 frames: {window_seconds:.2f} s per window -> {window_seconds / (16 / FPS):.2f} s per second "
          f"of video, at any length")
    """),
    md("""
    Both include the text encoder and the VAE (the windows also encode their given frame). At our size one long
    window is no dearer per second of video than the chain, often cheaper: the fixed costs of a call are shared by
    more frames, and attention is a small share of a pass. The FLOP table says where that turns: once attention
    dominates a pass, one window's cost per second grows with its length while the chain's stays flat. Section 10
    shows the benchmark's measurement up to 129 frames.

    Now at Sora's size. Lesson 08's estimate, `patching.PRESETS["sora-like-60-frames"]`: 60 frames of 512 × 512,
    an SD-style VAE, 2 × 2 patches: about 60k tokens, × 20 steps ≈ 1.2M token evaluations. At that size attention is
    ~90% of a pass, so length is expensive: with a causal 4× temporal VAE like ours at 24 frames per second, a
    16-second clip (Vidu) and a 60-second clip (Sora) in one window, against chains of 5-second windows, for a
    DiT-XL-sized network (width 1152, depth 28), 20 steps, guidance:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    sora = patching.PRESETS["sora-like-60-frames"]
    print(f"the estimate: {sora.num_tokens:,} tokens x 20 steps = {patching.sampling_cost(sora.num_tokens, 20):,} "
          "token evaluations")


    def video_cost(seconds, window_seconds=None, fps=24, steps=20):
        \"\"\"(tokens per window, PFLOP) of a 512 x 512 video through a causal 4x VAE, DiT-XL, guided steps.\"\"\"
        def tokens(secs):
            return patching.VideoTokenConfig(frames=fps * secs + 1, height=512, width=512, vae_temporal_factor=4,
                                             causal=True).num_tokens
        if window_seconds is None:
            n, windows = tokens(seconds), 1
        else:
            n, windows = tokens(window_seconds), seconds / window_seconds
        return n, windows * patching.dit_flops(n, 1152, 28).total * steps * 2 / 1e15


    for secs in (5, 16, 60):
        n1, one = video_cost(secs)
        n5, chain = video_cost(secs, window_seconds=5)
        print(f"{secs:2d} s: one window {n1:7,} tokens, {one:9,.0f} PFLOP | 5-s windows {n5:6,} tokens each, "
              f"{chain:6,.0f} PFLOP | one window / windows = {one / chain:4.1f}x")
    print(f"60 s against 16 s: {60 / 16:.2f}x the length | one window {video_cost(60)[1] / video_cost(16)[1]:.1f}x "
          f"the FLOPs | 5-s windows {video_cost(60, 5)[1] / video_cost(16, 5)[1]:.2f}x")
    """),
    md("""
    60 s is 3.75× the length of 16 s; in one window it costs about 13× as much (attention, by then almost all of a
    pass, grows with the square of the length), as a chain 3.75×. Memory tells the same story: attention over 370k
    tokens is out of reach without tricks, while a chain's memory does not grow with the length at all. That is why
    long-video systems generate in windows or in chunks with a bounded context (FramePack compresses the past into
    a fixed budget; Diffusion Forcing and causal video models attend to the past through a cache), and why a
    length like 16 or 60 seconds is a cost decision as much as a quality one. The price of windows is the drift of
    section 5: a window sees only the frame it is given.

    ## 7 · Planning: leave room for the rest of the story

    A window that sees only its own prompt does not know what comes next. *A red square moves left, then the red
    square moves left* needs 2 × 16 frames × at least 0.8 px = 25.6 px of travel to the left, plus the square's own
    width, more than the 32-pixel canvas offers: the world's planner (`world.sample_story`) refuses it, naming the
    segment. Other stories fit, but only from some starts: *a green circle moves down, then the green circle bounces* needs the circle to end its first
    segment at least 10 px above the floor, so it must start high; a first window drawn from *a green circle moves
    down* alone starts it anywhere.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    try:
        world.sample_story(0, text.parse_story("a red square moves left, then the red square moves left"))
    except world.StoryError as error:
        print("StoryError:", error)
    DOWN_BOUNCE = text.parse_story("a green circle moves down, then the green circle bounces")
    fit = 0
    for seed in range(200):  # starts the world draws for the first segment alone
        alone = world.end_state(text.prompt_to_scene("a green circle moves down", seed), 0)
        try:
            world.sample_story(0, DOWN_BOUNCE, start=alone)
            fit += 1
        except world.StoryError:
            pass
    print(f"of 200 rendered starts for 'a green circle moves down', {fit} leave room for the bounce after it")
    """),
    md("""
    `story.StoryTeller.first_window` uses the planner: it draws a shot's first window from text, reads the objects
    in its first frame (`evaluate.image_state`), and asks the world whether the whole shot fits from there
    (`world.sample_story(start=...)`); if not, it draws again with the next seed, at most `story.PLAN_ATTEMPTS`
    times. Later windows need nothing of the kind: they start where the story is. Measured on shots whose first
    segment can leave no room: first windows drawn from text alone (16 draws per shot, in one batch), then the
    teller's planned first window for each. A draw whose first frame shows other objects than the shot's is a
    different miss (the model's, not the plan's) and is counted apart:
    """),
    code("""
    SHOTS = ["a green circle moves down, then the green circle bounces",
             "a red square moves right, then the red square moves up, then the red square moves left",
             "a white triangle moves up, then the white triangle rotates clockwise, then the white triangle moves up",
             "a blue square moves left, then the blue square stays still, then the blue square moves down"]
    DRAWS = 16


    def room(plan, frame):
        \"\"\"'room' if the shot fits from the objects the frame shows, 'no room' if not, 'other objects' if the
        frame does not show the shot's objects (a miss of another kind).\"\"\"
        try:
            states = evaluate.image_state(frame)
        except ValueError:  # an object no shape fits
            return "other objects"
        if sorted((s.shape, s.colour) for s in states) != sorted((sh, c) for sh, c, _ in plan.segments[0]):
            return "other objects"
        try:
            world.sample_story(0, plan, start=states)  # the world's planner, from this start
            return "room"
        except world.StoryError:
            return "no room"


    plans = [text.parse_story(s) for s in SHOTS]
    firsts = [text.segment_prompts(s)[0] for s in SHOTS]
    for plan, s in zip(plans, SHOTS):
        world.sample_story(0, plan)  # every shot fits from some start
    batch = [p for p in firsts for _ in range(DRAWS)]
    frame0 = pipe.vae.decode_latents(pipe.sample_latents(batch, steps=STEPS, seed=1)).float().cpu()[:, 0]
    verdicts = np.array([room(plans[i // DRAWS], f) for i, f in enumerate(frame0)]).reshape(len(SHOTS), DRAWS)

    class CountingTeller(story.StoryTeller):
        \"\"\"minivid's teller, counting the windows it draws.\"\"\"
        draws = 0

        def window(self, *args, **kwargs):
            self.draws += 1
            return super().window(*args, **kwargs)


    planned, used = [], []
    for i, (plan, first) in enumerate(zip(plans, firsts)):
        counting = CountingTeller(pipe, steps=STEPS)
        planned.append(room(plan, counting.first_window(plan, first, seed=i, index=0, k=0)[0]))
        used.append(counting.draws)
    for s, v, p, u in zip(SHOTS, verdicts, planned, used):
        print(f"{s[:56]:56s}... from text: room {np.mean(v == 'room'):4.0%}, no room {np.mean(v == 'no room'):4.0%}, "
              f"other objects {np.mean(v == 'other objects'):4.0%} | planned: {p} after {u} draw(s)")
    right = verdicts != "other objects"  # the draws that show the shot's objects
    print(f"first windows with the right objects that leave no room: {np.mean(verdicts[right] == 'no room'):.0%} "
          f"drawn from text alone; planned: {sum(p == 'no room' for p in planned)} of {len(SHOTS)} shots "
          f"(at most {story.PLAN_ATTEMPTS} draws each)")
    """),
    md("""
    A first window drawn from its own prompt leaves room only as often as its random start happens to, and then
    the story is lost before the second window is drawn: no later window can fix a circle that is already too low
    to bounce. With the planner the first window is redrawn until it fits, and if a draw leaves room with
    probability p, eight draws all fail with probability (1 − p)^8; where the model rarely draws a start with room
    (p small: see which shots above), eight draws are not enough either. This is the simplest form of giving each
    window what it needs to know of the rest of the story; the alternatives condition the window on the whole
    story (a planner network, or the later segments' captions), which costs training.

    ## 8 · Image-to-video from a frame you draw

    An image is a 1-frame clip, so `pipe(prompt, image=frame)` draws the first window with the image's latent
    given. The image must show the prompt's objects with room for the story (a clear error otherwise). Measured on
    6 rendered first frames of training-split scenes: how often the clip follows the prompt, how close its first
    frame is to the image (PSNR), and how far the object starts from where the image put it:
    """),
    code("""
    i2v_scenes = [world.sample_scene(100 + i, num_objects=1) for i in range(6)]
    i2v_images = world.render_batch(i2v_scenes)[:, 0]  # b c h w: frame 0 of each scene
    i2v_prompts = [world.caption(s) for s in i2v_scenes]
    i2v = pipe(i2v_prompts, image=i2v_images, steps=STEPS, seed=0)
    i2v_score = evaluate.prompt_adherence(i2v, i2v_prompts)
    psnrs = [10 * math.log10(1 / torch.mean((c[0] - im) ** 2).item()) for c, im in zip(i2v, i2v_images)]
    offsets = []
    for clip_, im in zip(i2v, i2v_images):
        a, b = evaluate.image_state(im)[0], evaluate.image_state(clip_[0])[0]
        offsets.append(math.hypot(a.x - b.x, a.y - b.y))
    print(f"adherence {i2v_score['overall']:.2f} | first frame PSNR {np.mean(psnrs):.1f} dB (min {min(psnrs):.1f}) | "
          f"start offset {np.mean(offsets):.2f} px (max {max(offsets):.2f})")
    show_video(small(torch.cat([i2v_images[:2, None].expand(-1, 17, -1, -1, -1), i2v[:2]])),
               [f"the image: {p}" for p in i2v_prompts[:2]] + [f"from it: {p}" for p in i2v_prompts[:2]], scale=3)
    """),
    md("""
    Now draw your own: pick an object, put it somewhere, pick a motion, and press the button. The frame is rendered
    by the world (a 1-frame `SceneSpec`), then handed to the pipeline as the first frame. Try a square at the left
    edge that moves left: the pipeline refuses, since the story cannot fit from there. (The widget needs a running
    kernel; below it, the same thing for one fixed choice.)
    """),
    code("""
    def drawn_frame(shape, colour, x, y, size=4.0, angle=None):
        obj = world.ObjectSpec(shape, colour, "stays still", size=size, x=x, y=y, angle=angle)
        return world.render(world.SceneSpec((obj,), frames=1))[0]  # c h w


    def image_to_video(shape, colour, motion, x, y, seed=0):
        frame = drawn_frame(shape, colour, x, y)
        prompt = world.caption(world.ObjectSpec(shape, colour, motion))
        clip_ = pipe(prompt, image=frame, steps=STEPS, seed=seed)[0]
        return frame, prompt, clip_


    shape_w = widgets.Dropdown(options=world.SHAPES, value="triangle", description="shape")
    colour_w = widgets.Dropdown(options=list(world.COLOURS), value="orange", description="colour")
    motion_w = widgets.Dropdown(options=world.MOTIONS, value="moves right", description="motion")
    x_w = widgets.IntSlider(value=8, min=4, max=28, description="x (px)")
    y_w = widgets.IntSlider(value=20, min=4, max=28, description="y (px)")
    go_w = widgets.Button(description="draw the clip")
    out_w = widgets.Output()


    def on_draw(_):
        with out_w:
            out_w.clear_output()
            try:
                frame, prompt, clip_ = image_to_video(shape_w.value, colour_w.value, motion_w.value, x_w.value, y_w.value)
            except ValueError as error:  # PromptError or a combination ShapesWorld does not have
                print(type(error).__name__, error)
                return
            display(show_video(torch.stack([frame[None].expand(17, -1, -1, -1), clip_]), ["your frame", prompt]))


    go_w.on_click(on_draw)
    display(widgets.VBox([widgets.HBox([shape_w, colour_w, motion_w]), widgets.HBox([x_w, y_w, go_w]), out_w]))
    """),
    code("""
    frame, prompt, clip_ = image_to_video("triangle", "orange", "moves right", 8, 20)
    start_state = evaluate.image_state(clip_[0])[0]
    print(f"{prompt!r} from a triangle drawn at (8, 20): the clip starts at ({start_state.x:.1f}, {start_state.y:.1f})")
    try:
        image_to_video("square", "red", "moves left", 5, 16)
    except ValueError as error:
        print(type(error).__name__ + ":", error)
    show_video(small(torch.stack([frame[None].expand(17, -1, -1, -1), clip_])), ["your frame", prompt], scale=3)
    """),
    md("""
    ## 9 · Write a story, segment by segment

    `pipe.extend(video, prompt)` is one step of your extension loop: the clip so far, 16 frames longer, the next
    segment drawn from its last frame. Start from an image or a prompt, then pick the next segment's motion and
    press *extend*; each press draws one window, whatever the length so far (the cost of section 6, linear). The
    same object carries on; a motion that cannot fit from where the object is gets a clear refusal. (Below the
    widget, a fixed three-segment example, started from a frame drawn at the top right.)
    """),
    code("""
    story_state = {"clip": None, "prompts": []}
    look_w = widgets.Text(value="a purple square rotates clockwise", description="first segment", layout={"width": "420px"})
    next_w = widgets.Dropdown(options=world.MOTIONS, value="moves down", description="then it")
    start_w, extend_w = widgets.Button(description="start over"), widgets.Button(description="extend")
    story_out = widgets.Output()


    def show_story():
        with story_out:
            story_out.clear_output()
            clip_ = story_state["clip"]
            print(f"{clip_.shape[0]} frames: " + ", then ".join(story_state["prompts"]))
            display(show_video(clip_, f"{clip_.shape[0]} frames"))


    def on_start(_):
        try:
            story_state.update(clip=pipe(look_w.value, steps=STEPS, seed=0)[0], prompts=[look_w.value])
        except ValueError as error:
            with story_out:
                print(type(error).__name__ + ":", error)
            return
        show_story()


    def on_extend(_):
        if story_state["clip"] is None:
            on_start(None)
        (shape, colour, _), = text.parse_prompt(story_state["prompts"][0])
        prompt = world.caption(world.ObjectSpec(shape, colour, next_w.value))
        try:
            story_state["clip"] = pipe.extend(story_state["clip"], prompt, steps=STEPS,
                                              seed=len(story_state["prompts"]))
        except ValueError as error:
            with story_out:
                print(type(error).__name__ + ":", error)
            return
        story_state["prompts"].append(prompt)
        show_story()


    start_w.on_click(on_start)
    extend_w.on_click(on_extend)
    display(widgets.VBox([widgets.HBox([look_w, start_w]), widgets.HBox([next_w, extend_w]), story_out]))
    """),
    code("""
    start_frame = drawn_frame("square", "purple", 22, 8)  # top right: room to move down, then left
    example = pipe("a purple square rotates clockwise", image=start_frame, steps=STEPS, seed=0)[0]
    told_so_far = ["rotates clockwise"]
    for k, motion in enumerate(("moves down", "moves left"), start=1):
        try:
            example = pipe.extend(example, f"a purple square {motion}", steps=STEPS, seed=k)
            told_so_far.append(motion)
        except ValueError as error:  # the clip so far does not end with a purple square that has room for it
            print(f"extend refused {motion!r}: {error}")
            break
    EXAMPLE = ", then ".join(f"{'a' if k == 0 else 'the'} purple square {m}" for k, m in enumerate(told_so_far))
    verdict = evaluate.story_adherence(example[None], [EXAMPLE])["per_story"][0]
    print(f"{tuple(example.shape)}: {'passes' if verdict['passed'] else 'fails: ' + '; '.join(verdict['errors'][:2])}")
    show_video(small(example), EXAMPLE, scale=3)
    """),
    md("""
    The whole story at once is `pipe(EXAMPLE, image=start_frame)`; from text alone, `pipe(EXAMPLE)` plans the first
    window (section 7) and extends the rest; a
    `; cut to` starts a new shot, drawn from text, with nothing carried over. From a shell:
    `minivid generate "a red circle moves left, then the red circle moves up; cut to a blue square bounces" --out
    story.gif`, or `--image first.png` to start from a frame.

    ## 10 · The shipped model on many stories

    `benchmarks/long_video.py` measures the shipped model on many more stories (3 and 4 segments, English and
    Chinese, held-out combinations, two shots, image-to-video, per-segment curves, time and memory against length)
    and writes `benchmarks/results/long_video.json`. If the file is in this checkout, its headline numbers:
    """),
    code("""
    bench_file = ROOT / "benchmarks/results/long_video.json"
    if not bench_file.exists():
        print("benchmarks/results/long_video.json is not in this checkout: `python benchmarks/long_video.py` makes it")
    else:
        bench = json.loads(bench_file.read_text(encoding="utf-8"))
        groups = bench.get("groups", {})
        measured = groups.get("one_shot", {}).get("model", {})  # each group records the model it measured
        print(f"{bench_file.name}: model sha256 {str(measured.get('sha256'))[:12]}... (loaded here: "
              f"{pipe.meta.get('sha256', '?')[:12]}...), sampling {measured.get('sampling')}")
        for name in ("one_shot", "two_shot"):
            if name in groups:
                print(f"  {name.replace('_', ' ')} stories passing: {groups[name].get('pass_rate')} "
                      f"| {groups[name].get('command')}")
        for seed, r in groups.get("image", {}).get("by_seed", {}).items():
            print(f"  image-to-video ({seed}): adherence {r.get('adherence')} of {r.get('clips')} | first frame PSNR "
                  f"{r.get('psnr_first_frame_db')} dB | centre distance {r.get('centre_distance_px')} px")
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.2), layout="constrained")
        for seed, r in groups.get("curve", {}).get("by_seed", {}).items():
            by_window = r.get("window_pass_by_segment", [])
            by_length = r.get("story_pass_by_length", {})
            axes[0].plot(range(1, len(by_window) + 1), by_window, "o-", label=f"window k passes ({seed})")
            axes[0].plot([int(m) for m in by_length], [v["pass_rate"] for v in by_length.values()], "s--",
                         label=f"first k windows all pass ({seed})")
        axes[0].set(ylim=(0, 1.05), xlabel="segment k", title="benchmark: drift with length")
        axes[0].legend(fontsize=8)
        for kind, r in groups.get("cost", {}).get("kinds", {}).items():
            rows = r.get("rows", [])
            axes[1].plot([x["frames"] for x in rows], [x["cpu_s_per_frame"] for x in rows], "o-", label=kind)
        axes[1].set(xlabel="frames", ylabel="CPU seconds per frame", title="benchmark: cost against length")
        axes[1].legend(fontsize=8)
        plt.show()
    """),
    md("""
    Compare the benchmark's per-segment curve with the one of section 5 (the benchmark's stories start from text,
    so its first window is planned, and it draws more of them), and the cost per frame with section 6's FLOP count:
    flat for the chain; for one long window, rising as attention's share of a pass grows.

    ## Recap

    - One long window fails past the training length: the evaluator says so, window by window (section 1). The
      field's answer, and minivid's, is a chain of windows of the training length.
    - A **causal VAE** encodes the first frame alone, so an image is a 1-frame clip and its latent is the first
      latent frame of any clip that starts with it.
    - **Given frames**: one time per latent frame (`diffusion.frame_times`: the clip's t where a frame is drawn, a
      small level where it is given), a loss masked to the drawn frames, and a sampler that keeps the given frames:
      one DiT does text-to-video, image-to-video and extension.
    - The **extension loop**: each window starts from the last frame so far and adds 16 frames. Errors compound:
      per-window failures multiply into story failures, and whatever a window gets wrong is the next one's start;
      measure it per segment (colour, size, the evaluator's verdict).
    - **Cost**: a chain of windows is linear in length; one window's attention grows with the square of it. At
      Sora's size, 60 s in one window costs ~13× what 16 s does, and ~9× a chain of 5-second windows.
    - **Planning**: a shot's first window must leave room for the rest; the world's planner checks it and the
      teller redraws until it does.

    Previous: [09 · Evaluation](09_evaluation.ipynb)
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
