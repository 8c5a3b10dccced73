"""Write the measured numbers into the docs, from the files in benchmarks/results/.

    python benchmarks/write_results.py            # rewrite docs/results.md and the generated blocks
    python benchmarks/write_results.py --check    # exit 1 if any of them differs from what it would write

Nothing here runs a model: every figure is read from a results file that a
benchmark wrote, and printed next to the command that wrote it. What it writes:

- docs/results.md, whole;
- README.md, the block between `<!-- BEGIN generated: headline -->` and its END
  (the headline table) and the `strip` block (the caption of the generated clips);
- notebooks/README.md, the `timings` block (how long each lesson takes).

Point SOURCES at new files when a benchmark is rerun on a new model, then run
this script; tests/test_docs.py fails while the docs and the files disagree, and
while the adherence files were measured on another model than data/t2v/shapes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = "benchmarks/results"

# Which results file holds which measurement of the shipped model.
SOURCES = {
    "adherence": f"{RESULTS}/cpu_run14/t2v_seeds3_fourteenth_run.json",
    "heldout_more_seeds": f"{RESULTS}/cpu_run14/heldout_seeds3-8_fourteen.json",
    "two_object_more_seeds": f"{RESULTS}/cpu_run14/two_object_seeds3-5_fourteen.json",
    "sweep_euler": f"{RESULTS}/cpu_run14/t2v_sweep_euler.json",
    "sweep_heun": f"{RESULTS}/cpu_run14/t2v_sweep_heun.json",
    "text_separation": f"{RESULTS}/cpu_run14/text_separation.json",
    "throughput": f"{RESULTS}/t2v.json",
    "train_speed": f"{RESULTS}/t2v_train_speed.json",
    "hour": f"{RESULTS}/t2v_time_to_quality_narrow_g2.json",
    "vae": f"{RESULTS}/vae.json",
    "world": f"{RESULTS}/world_throughput.json",
    "evaluator": f"{RESULTS}/evaluator_agreement.txt",
    "gallery": f"{RESULTS}/combination_gallery.json",
    "notebooks": f"{RESULTS}/notebooks.json",
    "strip": f"{RESULTS}/readme_strip.json",
    "long": f"{RESULTS}/long_video.json",
    "long_v1": f"{RESULTS}/long_v1.json",
    "fault_injection": f"{RESULTS}/fault_injection.json",
    "story_evaluator": f"{RESULTS}/story_evaluator.json",
    "cfg_batching": f"{RESULTS}/cfg_batching.json",
}

# Commands for the files that do not record their own.
COMMANDS = {
    "heldout_more_seeds": "python benchmarks/t2v_guidance.py --weak-model data/t2v/weak --scales 3 --autoguidance 1 "
    "--seeds 3,4,5,6,7,8 --groups heldout --threads 2 --out " + SOURCES["heldout_more_seeds"],
    "two_object_more_seeds": "python benchmarks/t2v_guidance.py --weak-model data/t2v/weak --scales 3 --autoguidance 1 "
    "--seeds 3,4,5 --groups two_object --threads 2 --out " + SOURCES["two_object_more_seeds"],
    "text_separation": "python benchmarks/text_separation.py --out " + SOURCES["text_separation"],
    "hour": "python benchmarks/t2v_monitor.py --run runs/hour/t2v --vae runs/hour/vae/shapes --vae-seconds 848.0 "
    "--cache-seconds 102.4 --every 0 --once --threads 2 --guidance 2 --out " + SOURCES["hour"],
    "vae": "python benchmarks/vae_benchmark.py",
    "world": "python benchmarks/world_throughput.py",
    "evaluator": "python benchmarks/evaluator_agreement.py",
    "gallery": "python benchmarks/combination_gallery.py",
}

MODEL = "data/t2v/shapes"
GROUPS = [  # (key in the results, label, target)
    ("seen", "seen, English", 0.95),
    ("heldout", "held-out, English", 0.90),
    ("seen_zh", "seen, Chinese", 0.90),
    ("heldout_zh", "held-out, Chinese", 0.90),
    ("two_object", "two objects, English", 0.80),
]
ATTRS = ["colour", "shape", "motion", "consistency"]


# ---------------------------------------------------------------- reading


def load(name: str):
    path = ROOT / SOURCES[name]
    return path.read_text(encoding="utf-8") if path.suffix == ".txt" else json.loads(path.read_text(encoding="utf-8"))


def command(name: str, data=None, key: str | None = None) -> str:
    """The command that wrote SOURCES[name]: recorded in the file when it says, else COMMANDS."""
    if data is not None and isinstance(data, dict):
        recorded = data.get("commands", {}).get(key) if key else data.get("command")
        if recorded:
            return recorded
    return COMMANDS[name]


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def src(name: str, cmd: str) -> str:
    return f"`{cmd}` → [`{SOURCES[name]}`](../{SOURCES[name]})"


def shipped_sidecar() -> dict:
    return json.loads((ROOT / MODEL).with_suffix(".json").read_text(encoding="utf-8"))


def measured_on_shipped(meta: dict) -> bool:
    """A results file's `model_meta` names the shipped model when its training record equals the sidecar's."""
    side = shipped_sidecar()
    return all(meta.get(k) == side.get(k) for k in ("steps_trained", "train_seconds", "init_from", "sampling"))


def device_name(trained_on: str) -> str:
    """'cpu' -> 'the CPU'; 'cuda (NVIDIA H200)' -> 'one NVIDIA H200'."""
    return f"one {trained_on.split('(', 1)[1].rstrip(')')}" if "(" in trained_on else f"the {trained_on.upper()}"


def parameter_count(side: dict) -> int:
    return sum(math.prod(shape) for shape in side["tensors"].values())


# ---------------------------------------------------------------- sections of docs/results.md


def model_section() -> list[str]:
    side, adh = shipped_sidecar(), load("adherence")
    meta = adh["model_meta"]
    by_device = ", ".join(f"{s / 60:,.1f} min on {device_name(d)}" for d, s in meta["train_seconds_by_device"].items())
    runs, rec = 0, side
    while rec:
        runs, rec = runs + 1, rec.get("init_from")
    s = side["sampling"]
    same = measured_on_shipped(meta)
    return [
        "## The shipped model",
        "",
        f"`{MODEL}` (sha256 `{side['sha256'][:16]}…`): a DiT with its text encoder, {parameter_count(side):,} parameters, "
        f"{meta['steps_total']:,} training steps in {runs} runs ({by_device}), "
        "read from the sidecar `data/t2v/shapes.json`, whose `init_from` chain records every run.",
        f"Recommended sampling (the sidecar's `sampling`): {s['steps']} {s['sampler'].title()} steps, "
        f"time shift {s['shift']:g}, guidance {s['guidance']:g}, autoguidance {s['autoguidance']:g} "
        f"(weaker model `{side['weak']['path']}`).",
        "",
        ("The adherence figures below were measured on this file: the results' `model_meta` equals the sidecar."
         if same else
         "**Stale:** the adherence file was measured on another model than the one shipped; rerun the benchmarks."),
        "",
    ]


def adherence_section() -> list[str]:
    adh = load("adherence")
    a, seeds = adh["adherence"], adh["adherence_settings"]["seeds"]
    lines = [
        f"## Prompt adherence (seeds 0-{seeds - 1}, recommended sampler)",
        "",
        "A clip passes when `minivid.evaluate.prompt_adherence` reads every asked object with the asked colour, "
        "shape and motion, temporally consistent. Per attribute: the share of asked objects that get it right. "
        "Ceiling: the same probe on real rendered clips of the same scenes.",
        "",
        "| group | clips | pass | target | colour | shape | motion | consistency | ceiling |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, label, target in GROUPS:
        m = a[key]["model"]
        met = "met" if m["overall"] >= target else "**not met**"
        lines.append(
            f"| {label} | {m['clips']} | **{pct(m['overall'])}** | {pct(target, 0)} ({met}) | "
            + " | ".join(pct(m[k]) for k in ATTRS)
            + f" | {pct(a[key]['ceiling_real_clips']['overall'])} |"
        )
    passed = sum(round(a[k]["model"]["overall"] * a[k]["model"]["clips"]) for k, _, _ in GROUPS)
    total = sum(a[k]["model"]["clips"] for k, _, _ in GROUPS)
    lines += ["", f"{passed:,} of {total:,} clips pass. " + src("adherence", command("adherence", adh, "adherence")), ""]

    more = []
    for name, group in (("heldout_more_seeds", "heldout"), ("two_object_more_seeds", "two_object")):
        d = load(name)
        row = d["rows"][0][group]
        label = dict((k, lbl) for k, lbl, _ in GROUPS)[group]
        same = d["model_sha256"] == shipped_sidecar()["sha256"]
        seeds_txt = f"{d['seeds'][0]}-{d['seeds'][-1]}"
        more.append(
            f"- {label}, seeds {seeds_txt} ({d['prompts'][group] * len(d['seeds'])} clips): **{pct(row['overall'])}**"
            + ("" if same else " (**another model's sha256**)")
            + f". {src(name, command(name))}"
        )
    lines += ["On more seeds (the same sampler; each file's `model_sha256` is checked against the shipped file):", "", *more, ""]

    lines += [
        "Split by whether the prompt asks some object to rotate (`by_rotation` in the same file):",
        "",
        "| group | asks a rotation | asks none |",
        "|---|---|---|",
    ]
    for key, label, _ in GROUPS:
        r = a[key]["model"]["by_rotation"]
        lines.append(
            f"| {label} | {pct(r['asks_rotation']['overall'])} ({r['asks_rotation']['clips']} clips) | "
            f"{pct(r['no_rotation']['overall'])} ({r['no_rotation']['clips']}) |"
        )
    lines += ["", "Motion shown, per motion asked (seen English prompts; `motion_by_prompt`):", "",
              "| motion asked | objects | shown | drawn instead |", "|---|---|---|---|"]
    for motion, m in a["seen"]["model"]["motion_by_prompt"].items():
        instead = ", ".join(f"{k} ({v})" for k, v in m["instead"].items()) or "-"
        lines.append(f"| {motion} | {m['objects']} | {pct(m['shown'])} | {instead} |")
    lines += ["", "Why clips fail (`failures`: clips per kind of error; a clip may show several):", "",
              "| group | failing clips | kinds |", "|---|---|---|"]
    for key, label, _ in GROUPS:
        f = a[key]["model"]["failures"]
        kinds = ", ".join(f"{k} {v}" for k, v in f["clips_by_kind"].items())
        lines.append(f"| {label} | {f['clips_failed']} | {kinds} |")
    return lines + [""]


def sweep_section() -> list[str]:
    lines = [
        "## Steps against quality",
        "",
        "160 prompts (48 held-out, 112 seen; English), seed 0, guidance and autoguidance as recommended, time "
        "shift 3. Model calls per clip in brackets (each call is three network passes: with and without the "
        "caption, and the weaker model). Seconds per clip include the VAE decode, batch 48, one thread.",
        "",
        "| sampler | steps (calls) | pass | held-out | seen | s/clip |",
        "|---|---|---|---|---|---|",
    ]
    cmds = []
    for name in ("sweep_euler", "sweep_heun"):
        d = load(name)
        for row in d["steps_vs_quality"].values():
            lines.append(
                f"| {row['sampler']} | {row['steps']} ({row['model_calls']}) | {pct(row['heldout_and_seen']['overall'])} | "
                f"{pct(row['heldout']['overall'])} | {pct(row['seen']['overall'])} | {row['seconds_per_clip']:.3f} |"
            )
        key = next(iter(d["commands"]))
        cmds.append(f"- {src(name, command(name, d, key))}")
    return lines + ["", *cmds, ""]


def text_section() -> list[str]:
    d = load("text_separation")
    pairs = d["models"][MODEL]
    lines = [
        "## The text encoder",
        "",
        "For prompts one motion word apart: the cosine of the two pooled text vectors (1 = the DiT gets the same "
        "condition) and the largest distance between their token vectors, relative to a token's length.",
        "",
        "| prompts | pooled cosine (en / zh) | tokens apart (en / zh) |",
        "|---|---|---|",
    ]
    for name in dict.fromkeys(k.rsplit(" (", 1)[0] for k in pairs):
        en, zh = pairs[f"{name} (en)"], pairs[f"{name} (zh)"]
        lines.append(
            f"| {name} | {en['pooled_cosine']:.3f} / {zh['pooled_cosine']:.3f} | "
            f"{pct(en['tokens_apart_max'], 0)} / {pct(zh['tokens_apart_max'], 0)} |"
        )
    return lines + ["", src("text_separation", command("text_separation")), ""]


def speed_section() -> list[str]:
    adh, thr, ts = load("adherence"), load("throughput")["throughput"], load("train_speed")
    seen = adh["adherence"]["seen"]
    threads = adh["machine"]["threads"]
    lines = [
        "## Speed",
        "",
        f"- Generating: {seen['seconds'] / seen['model']['clips']:.2f} s per 17-frame clip with the recommended "
        f"sampler ({seen['model']['clips']} seen clips sampled and decoded in {seen['seconds']:.0f} s, batch 48, "
        f"{threads} threads). {src('adherence', command('adherence', adh, 'adherence'))}",
        f"- DiT training step, one thread, batch {thr['batch']}: {thr['tokens_per_s']:,.0f} tokens/s, "
        f"{thr['achieved_flop_s'] / 1e9:.1f} GFLOP/s = {pct(thr['fraction_of_peak'], 0)} of the "
        f"{thr['fp32_matmul_peak_flop_s'] / 1e9:.1f} GFLOP/s fp32 matmul peak measured in the same run; compiled "
        f"{thr['compiled']['tokens_per_s']:,.0f} tokens/s (x{thr['compiled']['speedup']:.2f}). The architecture "
        f"decides this, not the weights. {src('throughput', command('throughput', load('throughput'), 'throughput'))}",
        cfg_batching_line(),
        "",
        f"The real trainer, {ts['ranks']} DDP ranks at {ts['threads']} thread each, {ts['steps']} steps a variant "
        f"(the first {ts['warmup']} left out), flags `{ts['base_flags']}` plus:",
        "",
        "| flags | batch | steps/s | clips/s | vs plain |",
        "|---|---|---|---|---|",
    ]
    for v in ts["variants"]:
        lines.append(
            f"| `{v['flags']}` | {v['batch_size']} | {v['steps_per_s']:.2f} | {v['clips_per_s']:.0f} | "
            f"x{v['clips_per_s_vs_plain']:.2f} |"
        )
    return lines + ["", src("train_speed", command("train_speed", ts)), ""]


def cfg_batching_line() -> str:
    """Classifier-free guidance's two passes in one batched call: how much faster, and why it is not used."""
    d = load("cfg_batching")
    rows = ", ".join(f"x{r['speedup']:.2f} at batch {r['batch']}" for r in d["rows"])
    diff = max(r["max_abs_diff"] for r in d["rows"])
    return (f"- Guidance's conditional and unconditional passes batched into one call, one thread: {rows}, but not "
            f"bit-identical (largest difference {diff:.1e}); the pipeline keeps two calls, so that a checkpoint and "
            f"seed give the pinned video bit for bit and the lessons' hand-written guidance equals the package's "
            f"(`torch.equal`). {src('cfg_batching', d['command'])}")


def hour_point(d: dict, goal: float = 0.9):
    """The first snapshot at or above `goal` held-out adherence, and the best within the hour."""
    inside = [p for p in d["points"] if p["total_seconds"] <= 3600]
    first = next((p for p in inside if p["heldout"]["overall"] >= goal), None)
    return first, inside


def hour_section() -> list[str]:
    d = load("hour")
    first, inside = hour_point(d)
    lines = [
        "## From scratch in an hour",
        "",
        "VAE stage 1, latent cache and DiT trained from scratch on the 2-core CPU, each stage timed; held-out "
        f"adherence of the DiT's EMA snapshots (48 prompts, seed 0, guidance {d['guidance']:g}) against the "
        f"wall clock of the whole recipe (VAE {d['vae_train_seconds'] / 60:.1f} min + cache "
        f"{d['cache_seconds'] / 60:.1f} min + DiT). Rotations are narrowed within the spec "
        "(each starts upright and turns 15 deg/frame); the recipe is in [`data/t2v/README.md`](../data/t2v/README.md).",
        "",
        "| DiT steps | minutes | held-out |",
        "|---|---|---|",
    ]
    for p in d["points"]:
        lines.append(f"| {p['step']:,} | {p['total_seconds'] / 60:.1f} | {pct(p['heldout']['overall'])} |")
    if first:
        lines += ["", f"First at or above 90%: {pct(first['heldout']['overall'])} after "
                  f"{first['total_seconds'] / 60:.1f} min; the last snapshot inside 60 minutes: "
                  f"{pct(inside[-1]['heldout']['overall'])} at {inside[-1]['total_seconds'] / 60:.1f} min."]
    return lines + ["", src("hour", command("hour")), ""]


def long_section() -> list[str]:
    d = load("long")
    g, t = d["groups"], d["targets"]
    seed = lambda name: g[name]["by_seed"]["seed 0"]  # noqa: E731
    one, two, img, curve = seed("one_shot"), seed("two_shot"), seed("image"), seed("curve")
    rows = [f"| {cell} | {v['stories']} | {pct(v['pass_rate'])} | {pct(v['window_rate'])} | {pct(v['identity'])} |"
            for cell, v in one["cells"].items()]
    windows = g["cost"]["kinds"]["windows"]
    first, last = windows["rows"][0], windows["rows"][-1]
    lines = [
        "## Long videos",
        "",
        f"`{g['one_shot']['model']['path']}` (sha256 {g['one_shot']['model']['sha256'][:12]}...), stories told window by "
        "window (`minivid/story.py`), judged by `minivid.evaluate.story_adherence` (every 17-frame window against its "
        "segment, identity, continuity, shots), seed 0, the checkpoint's sampling.",
        "",
        "| one shot | stories | pass | windows pass | identity |",
        "|---|---|---|---|---|",
        *rows,
        f"| all (target {pct(t['one_shot'], 0)}) | {one['all']['stories']} | **{pct(one['all']['pass_rate'])}** | "
        f"{pct(one['all']['window_rate'])} | {pct(one['all']['identity'])} |",
        "",
        f"- Two shots (`cut to`): {pct(two['all']['pass_rate'])} of {two['all']['stories']} stories (target "
        f"{pct(t['two_shot'], 0)}).",
        f"- Image-to-video from {img['clips']} rendered first frames: adherence {pct(img['adherence'])} (target "
        f"{pct(t['image_adherence'], 0)}), first frame {img['psnr_first_frame_db']['mean']:.1f} dB mean, "
        f"{img['psnr_first_frame_db']['min']:.1f} dB min (target {t['image_psnr_db']:g}), object within 1 px of where the "
        f"image put it in {pct(img['centre_distance_px']['share_within_1px'])}.",
        f"- Windows passing by segment, {curve['stories']} eight-segment stories: "
        + " / ".join(pct(x, 0) for x in curve["window_pass_by_segment"]) + ".",
        f"- Compute per frame, one thread, window by window: {first['cpu_s_per_frame']:.3f} s at {first['frames']} "
        f"frames, {last['cpu_s_per_frame']:.3f} s at {last['frames']} (linear fit r² {windows['cpu_s_fit']['r2']:.3f}); "
        f"peak memory {first['peak_rss_mib']:.0f} MiB at {first['frames']} frames, {last['peak_rss_mib']:.0f} MiB at "
        f"{last['frames']} (`{g['cost']['command']}`).",
        "",
        src("long", g["one_shot"]["command"]),
        "",
        *long_v1_rows(),
    ]
    return lines


def long_v1_rows() -> list[str]:
    """The text-to-video targets on the long-video model, beside the shipped model's (same benchmark, seeds)."""
    shipped, long = load("adherence")["adherence"], load("long_v1")
    rows = []
    for key, label, target in GROUPS:
        a, b = shipped[key]["model"], long["adherence"][key]["model"]
        rows.append(f"| {label} | {pct(target, 0)} | {pct(a['overall'])} | {pct(b['overall'])}"
                    f"{'' if b['overall'] >= target else ' (not met)'} |")
    return [
        f"Text-to-video on the long-video model: the {len(GROUPS)} adherence targets, three seeds, recommended "
        "sampler, beside the shipped model:",
        "",
        "| group | target | `data/t2v/shapes` | `data/t2v/long` |",
        "|---|---|---|---|",
        *rows,
        "",
        src("long_v1", command("long_v1", long, "adherence")),
        "",
    ]


def bad_input_rows() -> int:
    """The rows of tests/test_bad_inputs.py's table, counted by the test module itself."""
    spec = importlib.util.spec_from_file_location("bad_inputs", ROOT / "tests" / "test_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.table_rows()


def reliability_section() -> list[str]:
    fi, ev = load("fault_injection"), load("story_evaluator")
    return [
        "## Reliability and the story evaluator",
        "",
        f"- Fault injection: {fi['kills']} kills at chosen points of training, export, caching and naming; "
        f"{fi['exact_resumes']} of {fi['resumes']} resumes exact; files lost: {fi['files_lost']}. "
        + src("fault_injection", fi.get("command", "python benchmarks/fault_injection.py")),
        f"- Story evaluator on rendered stories: {pct(ev['ground_truth']['pass_rate'])} of "
        f"{ev['ground_truth']['stories']} pass; on deliberately broken ones, {pct(ev['broken']['fail_rate'])} of "
        f"{ev['broken']['stories']} fail. " + src("story_evaluator", ev.get("command", "python benchmarks/story_evaluator.py")),
        f"- Bad input: {bad_input_rows()} bad inputs across the API, the CLI, sidecars and damaged files, each a "
        "named error or a correct video (`pytest tests/test_bad_inputs.py`).",
        "",
    ]


def vae_section() -> list[str]:
    d = load("vae")
    p, ev, tr = d["psnr_db"], d["evaluator_agreement"], d["training"]
    stages = "; ".join(
        f"{s['stage']}: {s['steps']:,} steps in {s['wall_clock_s'] / 60:.0f} min, {s['val_psnr_final']:.1f} dB"
        for s in tr["stages"]
    )
    return [
        "## The video VAE",
        "",
        f"`{d['vae']}`, {d['parameters']:,} parameters; a 17 x 32 x 32 clip becomes "
        f"{' x '.join(map(str, d['latent_shape_17x32x32']))} latents. On the {d['eval_clips']} clips of "
        "`data/eval_set.json`:",
        "",
        f"- reconstruction PSNR {p['all']['mean']:.1f} dB mean (median {p['all']['median']:.1f}, 5th percentile "
        f"{p['all']['p5']:.1f}); seen {p['seen']['mean']:.1f}, held-out {p['heldout']['mean']:.1f}, two objects "
        f"{p['two_object']['mean']:.1f}",
        "- the evaluator on reconstructions: " + " / ".join(pct(ev["reconstructed_all"][k]) for k in ATTRS)
        + " (colour / shape / motion / consistency; originals: "
        + " / ".join(pct(ev["original_all"][k], 0) for k in ATTRS) + ")",
        f"- causal: changing a frame changes earlier latents by at most {d['causality_max_abs_change_in_earlier_latents']}",
        f"- {d['throughput_clips_per_s']['encode']:.0f} clips/s encode, {d['throughput_clips_per_s']['decode']:.0f} "
        f"decode (fp32, {d['machine']['threads']} thread)",
        f"- training: {stages}",
        "",
        src("vae", command("vae")),
        "",
    ]


def evaluator_rows(text: str) -> dict[str, tuple[int, float]]:
    """`label -> (clips, overall)` from the table at the top of evaluator_agreement.txt."""
    rows = {}
    for line in text.splitlines():
        m = re.match(r"^(\S.*?)\s{2,}(\d+)\s+([01]\.\d+)\s", line)
        if m:
            rows.setdefault(m.group(1).strip(), (int(m.group(2)), float(m.group(3))))
    return rows


def world_section() -> list[str]:
    w, gallery = load("world"), load("gallery")
    rows = evaluator_rows(load("evaluator"))
    speeds = re.findall(r"^(\d) thread\(s\):\s+(\d+) clips/s", load("evaluator"), re.M)
    agree = "; ".join(f"{label}: {pct(overall)} of {n}" for label, (n, overall) in list(rows.items())[:2])
    return [
        "## ShapesWorld and the evaluator",
        "",
        f"- ShapesWorld renders {w['render_clips_per_s']:,.0f} clips/s ({w['canvas']}, batch {w['batch']}); the "
        f"training dataset path {w['dataset_clips_per_s']:,.0f} clips/s ({w['machine']}, {w['threads']} threads). "
        + src("world", command("world")),
        f"- The evaluator agrees with the rendered ground truth, all four attributes: {agree}; reads "
        + " / ".join(f"{n} clips/s at {t} thread{'s' if t != '1' else ''}" for t, n in speeds)
        + ". " + src("evaluator", command("evaluator")),
        f"- Every valid (shape, colour, motion), rendered and read back: {gallery['read_correctly']} of "
        f"{gallery['clips']} read correctly ([`docs/combinations/`](combinations/)). " + src("gallery", command("gallery")),
        "",
    ]


def timings_table(to_notebooks: str, to_root: str) -> list[str]:
    """The lessons' timing table, for a page `to_notebooks` / `to_root` away from notebooks/ and the root."""
    d = load("notebooks")
    lines = ["| lesson | seconds |", "|---|---|"]
    for name, r in d["lessons"].items():
        lines.append(f"| [`{name}`]({to_notebooks}{name}) | {r['seconds']:.1f}{' (error)' if r['error'] else ''} |")
    lines.append(f"| **all {len(d['lessons'])}** | **{d['total_seconds']:.1f}** (budget {d['budget_seconds']}) |")
    cpu = d["machine"]
    return lines + ["", f"Each lesson in a fresh kernel, {cpu['cores']}-core {cpu['cpu']} CPU, Python {cpu['python']}: "
                    f"`{d['command']}` → [`{SOURCES['notebooks']}`]({to_root}{SOURCES['notebooks']})"]


def strip_section() -> list[str]:
    d = load("strip")
    lines = ["## The README's clips", "", "![The four clips, every other frame](strip.png)", "",
             f"Seed {d['seed']}, the recommended sampler; what the evaluator reads in each clip:", "",
             "| prompt | evaluator |", "|---|---|"]
    for c in d["clips"]:
        lines.append(f"| {c['prompt']} | {'passes' if c['correct'] else 'fails: ' + '; '.join(c['errors'])} |")
    return lines + ["", src("strip", d["command"]), ""]


def lessons_section() -> list[str]:
    return ["## The lessons", "", *timings_table("../notebooks/", "../"), ""]


def results_md() -> str:
    head = [
        "# Measured results",
        "",
        "<!-- Written by `python benchmarks/write_results.py` from benchmarks/results/; do not edit by hand. -->",
        "",
        "Every figure on this page is read from a file in `benchmarks/results/` by "
        "`python benchmarks/write_results.py`, and printed next to the command that wrote that file. "
        "`pytest tests/test_docs.py` fails when this page and the files disagree. "
        "What was tried on the way here, and what it taught: [lab-notes.md](lab-notes.md).",
        "",
        "The 2-core CPU is an x86_64 cloud machine (on some days with AVX-512 BF16, on others AVX2 only), torch 2.13 "
        "CPU build, often shared with other jobs: read its timings as what such a CPU does at least.",
        "",
    ]
    parts = [head, model_section(), adherence_section(), sweep_section(), text_section(), speed_section(),
             hour_section(), long_section(), vae_section(), world_section(), reliability_section(), lessons_section(),
             strip_section()]
    return "\n".join(line for part in parts for line in part).rstrip() + "\n"


# ---------------------------------------------------------------- blocks in README.md and notebooks/README.md


def headline_block() -> str:
    a = load("adherence")["adherence"]
    scores = " / ".join(f"{100 * a[k]['model']['overall']:.1f}" for k, _, _ in GROUPS) + "%"
    targets = " / ".join(f"{100 * t:g}" for _, _, t in GROUPS)
    seen = a["seen"]
    vae = load("vae")
    hour = load("hour")
    first, _ = hour_point(hour)
    ev = evaluator_rows(load("evaluator"))
    single = next(iter(ev.values()))
    nb = load("notebooks")
    rows = [
        ("prompt adherence, seen / held-out / Chinese seen / Chinese held-out / two objects "
         f"(targets {targets}%; three seeds)", f"**{scores}**", "t2v_benchmark.py"),
        ("one 17-frame clip, recommended sampler (2 threads, decode included)",
         f"{seen['seconds'] / seen['model']['clips']:.2f} s", "t2v_benchmark.py"),
        ("VAE reconstruction PSNR on the eval set", f"{vae['psnr_db']['all']['mean']:.1f} dB", "vae_benchmark.py"),
        ("evaluator agrees with the ground truth (single objects, all attributes)",
         f"{pct(single[1])} of {single[0]}", "evaluator_agreement.py"),
        ("train VAE + DiT from scratch, rotations narrowed: held-out adherence",
         f"{pct(first['heldout']['overall'])} after {first['total_seconds'] / 60:.0f} min" if first else "not reached",
         "t2v_monitor.py"),
        (f"all {len(nb['lessons'])} lessons, each in a fresh kernel", f"{nb['total_seconds'] / 60:.1f} min", "notebook_timings.py"),
    ]
    lines = ["| measured on the 2-core CPU | | script |", "|---|---|---|"]
    lines += [f"| {what} | {value} | [`{script}`](benchmarks/{script}) |" for what, value, script in rows]
    return "\n".join(lines)


def training_chain() -> list[dict]:
    """The shipped model's training runs, newest first, from its sidecar's `init_from` chain."""
    runs, rec = [], shipped_sidecar()
    while rec:
        runs.append(rec)
        rec = rec.get("init_from")
    return runs


def hardware_block() -> str:
    nb, adh, ts, hour = load("notebooks"), load("adherence"), load("train_speed"), load("hour")
    seen = adh["adherence"]["seen"]
    first, _ = hour_point(hour)
    runs = training_chain()
    cpu = sum(r["train_seconds"] for r in runs if not str(r.get("trained_on", "cpu")).startswith("cuda"))
    gpu = [r for r in runs if str(r.get("trained_on", "")).startswith("cuda")]
    speedup = {v["flags"]: v["clips_per_s_vs_plain"] for v in ts["variants"]}
    lines = [
        f"- **A 2-core CPU**, what the course is built for: all {len(nb['lessons'])} lessons in "
        f"{nb['total_seconds'] / 60:.1f} min, a clip in {seen['seconds'] / seen['model']['clips']:.2f} s"
        + (f", a VAE and DiT trained from scratch to {pct(first['heldout']['overall'], 0)} held-out adherence "
           f"in {first['total_seconds'] / 60:.0f} min (rotations narrowed)" if first else "")
        + f"; the shipped model trained for {cpu / 3600:.1f} CPU hours.",
        f"- **AVX-512 BF16**: `--compile --bf16` trains {speedup.get('--compile --bf16', 0):.2f}x the "
        f"clips/s of fp32 ({speedup.get('--batch-size 64 --compile --bf16', 0):.2f}x at batch 64); "
        "without native bf16 the flag does nothing.",
        "- **A GPU** (CUDA or Apple's MPS; Colab: each lesson's badge): picked automatically, same code, faster"
        + (f"; {sum(r['train_seconds'] for r in gpu) / 60:.1f} min of the shipped model's training ran on "
           f"{device_name(gpu[0]['trained_on'])}" if gpu else "") + ".",
    ]
    return "\n".join(lines)


def strip_block() -> str:
    d = load("strip")
    clips = d["clips"]
    named = ", ".join(f"`{c['prompt']}`" for c in clips)
    missed = [c["prompt"] for c in clips if not c["correct"]]
    verdict = (f"The evaluator reads {len(clips) - len(missed)} of {len(clips)} as their prompt"
               + (f"; it fails `{'`, `'.join(missed)}` (rotation is the model's weakest motion)." if missed else "."))
    return (f"Left to right: {named} (seed {d['seed']}, `python benchmarks/readme_strip.py`). {verdict}")


BLOCKS = {  # file -> {block name: builder}
    "README.md": {"strip": strip_block, "headline": headline_block, "hardware": hardware_block},
    "notebooks/README.md": {"timings": lambda: "\n".join(timings_table("", "../"))},
}


def fill(text: str, name: str, body: str, path: str) -> str:
    pattern = re.compile(rf"(<!-- BEGIN generated: {name} -->\n)(?:.*?\n)??(<!-- END generated: {name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: no block '<!-- BEGIN generated: {name} -->' ... '<!-- END generated: {name} -->'")
    return pattern.sub(lambda m: m.group(1) + body + "\n" + m.group(2), text)


def build() -> dict[str, str]:
    """Every file this script writes, path relative to the repository root -> its new text."""
    out = {"docs/results.md": results_md()}
    for path, blocks in BLOCKS.items():
        text = (ROOT / path).read_text(encoding="utf-8")
        for name, builder in blocks.items():
            text = fill(text, name, builder(), path)
        out[path] = text
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file differs from what it would write")
    args = ap.parse_args(argv)
    stale = []
    for path, text in build().items():
        target = ROOT / path
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        print("out of date (run python benchmarks/write_results.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
