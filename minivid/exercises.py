"""Lesson exercises: check a learner's function against the course's reference.

Each lesson's exercise cell ships blank: its body raises ``NotImplementedError``. The next cell
calls ``check("04_diffusion_from_scratch", "add_noise", my_add_noise)``:

- not attempted yet (the placeholder raises NotImplementedError): says so, returns False, and the
  lesson goes on with minivid's own version;
- right: says so and returns True;
- wrong: raises ``ExerciseError`` with a message that says what is off.

The references and their checks live outside the lessons, in ``notebooks/solutions/NN_name.py``
(one file per lesson). For an exercise ``X`` that file defines

- ``X``: the reference solution;
- ``check_X(fn)``: raises ``AssertionError("what is off")`` when ``fn`` is wrong;
- ``wrong_X_*``: plausible wrong answers, which the test suite proves ``check_X`` rejects.

``show_solution(lesson, X)`` prints the reference: the one line a learner types to peek.
"""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path
from types import ModuleType

SOLUTIONS_DIR = Path(__file__).resolve().parents[1] / "notebooks" / "solutions"


class ExerciseError(AssertionError):
    """A learner's attempt is wrong; the message says what is off."""


def solutions_module(lesson: str) -> ModuleType:
    """The lesson's solutions file, ``notebooks/solutions/<lesson>.py``, as a module."""
    path = SOLUTIONS_DIR / f"{lesson}.py"
    if not path.is_file():
        known = sorted(p.stem for p in SOLUTIONS_DIR.glob("[0-9]*.py"))
        raise FileNotFoundError(f"no solutions for lesson {lesson!r} at {path} (known: {', '.join(known) or 'none'}); "
                                "the solutions ship with the repository, not with a pip-installed minivid")
    spec = importlib.util.spec_from_file_location(f"minivid_solutions_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def exercises(lesson: str) -> list[str]:
    """The names of a lesson's exercises: every ``check_X`` in its solutions file."""
    module = solutions_module(lesson)
    return sorted(name[len("check_"):] for name in vars(module) if name.startswith("check_"))


def _checker(lesson: str, name: str):
    module = solutions_module(lesson)
    checker = getattr(module, f"check_{name}", None)
    if checker is None:
        raise KeyError(f"lesson {lesson!r} has no exercise {name!r}; its exercises: {', '.join(exercises(lesson))}")
    return checker


def check(lesson: str, name: str, fn, verbose: bool = True) -> bool:
    """Check a learner's ``fn`` for exercise ``name`` of ``lesson`` (see the module docstring)."""
    checker = _checker(lesson, name)
    try:
        checker(fn)
    except NotImplementedError:
        if verbose:
            print(f"Exercise {name!r} not attempted yet: the lesson goes on with minivid's version. "
                  f"Stuck? show_solution({lesson!r}, {name!r})")
        return False
    except AssertionError as e:
        raise ExerciseError(f"exercise {name!r}: {e}") from None
    if verbose:
        print(f"Exercise {name!r}: correct.")
    return True


def solution_source(lesson: str, name: str) -> str:
    """The reference solution's source code."""
    _checker(lesson, name)  # a clear error for an unknown exercise
    return inspect.getsource(getattr(solutions_module(lesson), name))


def show_solution(lesson: str, name: str) -> None:
    """Print the reference solution of an exercise."""
    print(solution_source(lesson, name))
