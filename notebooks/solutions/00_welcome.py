"""Lesson 00 · Welcome: the light exercise's reference, its check and plausible wrong answers."""

from minivid import text, world

ENGLISH = "a white triangle rotates counterclockwise"


def chinese_prompt():
    """The prompt 'a white triangle rotates counterclockwise' in simplified Chinese."""
    return "白色的三角形逆时针旋转"


def check_chinese_prompt(fn):
    prompt = fn()
    if not isinstance(prompt, str) or not prompt.strip():
        raise AssertionError(f"return the sentence as a non-empty str, got {prompt!r}")
    if not any("\u4e00" <= ch <= "\u9fff" for ch in prompt):
        raise AssertionError(f"{prompt!r} has no Chinese characters: write the sentence in Chinese")
    try:
        got = text.parse_prompt(prompt)
    except text.PromptError as e:
        raise AssertionError(f"the course's parser cannot read {prompt!r}: {e}") from None
    wanted = text.parse_prompt(ENGLISH)
    if got != wanted:
        raise AssertionError(f"{prompt!r} reads as {got}, but {ENGLISH!r} is {wanted}")
    if prompt != prompt.translate(world.TO_SIMPLIFIED):
        raise AssertionError(f"{prompt!r} means the right thing in traditional characters; use simplified ones "
                             f"({prompt.translate(world.TO_SIMPLIFIED)!r})")


def wrong_chinese_prompt_traditional():
    """The right sentence, in traditional characters."""
    return "白色的三角形逆時針旋轉"


def wrong_chinese_prompt_clockwise():
    """The wrong direction: 顺时针 is clockwise."""
    return "白色的三角形顺时针旋转"


def wrong_chinese_prompt_english():
    """Not translated at all: it parses to the right meaning, so only asking for Chinese catches it."""
    return ENGLISH
