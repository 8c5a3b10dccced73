"""Every lesson exercise: its reference passes its check, each plausible wrong answer fails it, the blank
placeholder is reported as not attempted, and the lesson ships the placeholder (not the solution)."""

import json
import re
from pathlib import Path

import pytest

from minivid import exercises

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLVED = sorted(p.stem for p in exercises.SOLUTIONS_DIR.glob("[0-9][0-9]_*.py"))

# The core ideas a learner writes with their own hands, lesson by lesson.
REQUIRED = {
    "03_video_vae": {"kl_term", "reparameterise"},
    "04_diffusion_from_scratch": {"flow_matching_loss", "training_step", "euler_cfg_sample"},
    "05_text_conditioning": {"masked_cross_attention"},
    "06_diffusion_transformer": {"adaln_zero_block"},
    "07_training_text_to_video": {"ema_training_step"},
}
# Lessons 01-09 each have at least one exercise (00 is the welcome tour).
EXERCISED = [lesson for lesson in LESSONS if "01" <= lesson[:2] <= "09"]

CASES = [(lesson, name) for lesson in SOLVED for name in exercises.exercises(lesson)]


def _placeholder(*args, **kwargs):
    raise NotImplementedError("your code here")


@pytest.mark.parametrize("lesson", EXERCISED)
def test_every_lesson_has_an_exercise(lesson):
    assert lesson in SOLVED and exercises.exercises(lesson), f"{lesson} has no exercise in notebooks/solutions/"


@pytest.mark.parametrize("lesson", sorted(REQUIRED))
def test_core_ideas_are_exercises(lesson):
    missing = REQUIRED[lesson] - set(exercises.exercises(lesson) if lesson in SOLVED else [])
    assert not missing, f"{lesson} lacks the core exercises {sorted(missing)}"


@pytest.mark.parametrize("lesson,name", CASES)
def test_reference_passes_and_wrong_answers_fail(lesson, name, capsys):
    module = exercises.solutions_module(lesson)
    assert exercises.check(lesson, name, getattr(module, name)) is True
    wrong = [getattr(module, w) for w in vars(module) if w.startswith(f"wrong_{name}_")]
    assert wrong, f"{lesson}.{name} has no wrong_{name}_* answer to prove its check can fail"
    for fn in wrong:
        with pytest.raises(exercises.ExerciseError, match=name):
            exercises.check(lesson, name, fn)


@pytest.mark.parametrize("lesson,name", CASES)
def test_blank_exercise_is_not_attempted(lesson, name, capsys):
    assert exercises.check(lesson, name, _placeholder) is False
    assert "not attempted" in capsys.readouterr().out


def _code_cells(lesson):
    nb = json.loads((ROOT / "notebooks" / f"{lesson}.ipynb").read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("lesson,name", CASES)
def test_lesson_ships_the_exercise_blank_and_checks_it(lesson, name):
    cells = _code_cells(lesson)
    call = re.compile(rf"check\(\s*['\"]{lesson}['\"]\s*,\s*['\"]{name}['\"]")
    checks = [i for i, src in enumerate(cells) if call.search(src)]
    assert checks, f"{lesson}.ipynb never calls check({lesson!r}, {name!r}, ...)"
    # the learner's function is defined blank in a cell before the check
    before = "\n".join(cells[: checks[0]])
    assert "raise NotImplementedError" in before, f"{lesson}.ipynb: the cell before the {name!r} check is not blank"


def test_unknown_exercise_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no solutions for lesson"):
        exercises.check("99_nowhere", "x", _placeholder)
