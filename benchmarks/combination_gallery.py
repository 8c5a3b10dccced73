"""Render every valid (shape, colour, motion) once and check it shows what its caption names.

    python benchmarks/combination_gallery.py
        -> docs/combinations/<motion>.png   frame strips, one row per combination, for the eye
        -> benchmarks/results/combination_gallery.json   what the evaluator read from each clip

Each row's title is the canonical caption followed by what `minivid.evaluate`
reads from the pixels alone; the script fails if any of the 176 clips is misread.
"""
import json
import sys
from pathlib import Path

from minivid import evaluate, viz, world

ROOT = Path(__file__).resolve().parents[1]
SEED = 0


def main() -> int:
    combos = world.valid_combinations()
    scenes = [
        world.sample_scene([SEED, i], "heldout" if c in world.HELD_OUT else "train", 1, combination=c)
        for i, c in enumerate(combos)
    ]
    clips = world.render_batch(scenes)
    rows, misread = [], []
    for combo, scene, clip in zip(combos, scenes, clips):
        found = evaluate.describe(clip)
        read = [(o.shape, o.colour, o.motion) for o in found]
        ok = read == [combo] and all(o.consistent for o in found)
        rows.append({"combination": combo, "caption": world.caption(scene), "read": read, "ok": ok})
        if not ok:
            misread.append(rows[-1])
    out = ROOT / "docs" / "combinations"
    out.mkdir(parents=True, exist_ok=True)
    for motion in world.MOTIONS:
        picked = [i for i, c in enumerate(combos) if c[2] == motion]
        captions = [f"{rows[i]['caption']}  |  probe: {'OK' if rows[i]['ok'] else rows[i]['read']}" for i in picked]
        viz.save_frame_strip(clips[picked], out / f"{motion.replace(' ', '_')}.png", captions=captions, every=2, dpi=60)
    result = {"seed": SEED, "clips": len(rows), "read_correctly": len(rows) - len(misread), "misread": misread}
    path = ROOT / "benchmarks" / "results" / "combination_gallery.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{result['read_correctly']}/{result['clips']} combinations read back correctly; strips in {out}")
    return 1 if misread else 0


if __name__ == "__main__":
    sys.exit(main())
