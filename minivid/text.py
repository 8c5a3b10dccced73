"""Text: from a prompt to a scene, and from a prompt to token ids.

ShapesWorld speaks a tiny closed language, in English and in Chinese:
`a red circle moves left and a blue square rotates clockwise`,
`紅色的圓形向左移動，藍色的正方形順時針旋轉`. Every word of it is known in
advance, so this module needs no learned tokenizer (no BPE): a prompt is cut into
whole words, and each word is one token. A word we do not know is an error, not
an `<unk>` token, because the model could not follow it anyway.

A prompt travels down one of two roads, both starting the same way:

    prompt --normalise--> text --split_words--> words --+--parse_prompt--> [(shape, colour, motion), ...] --> SceneSpec
                                                        +--tokenize------> [<bos>, id, id, ...] --> text encoder

- `normalise` folds away differences that carry no meaning: case, spaces,
  full-width characters, simplified Chinese (turned into traditional, the form
  the captions use), the kind of comma, a final full stop.
- `split_words` cuts English at spaces and Chinese, which has no spaces, by
  greedy longest match against the known Chinese words (紅 色 的 圓形 向左 移動).
- `parse_prompt` fills three slots per object (a colour, a shape, a motion) and
  explains, in a `PromptError`, anything the world cannot show.
- `tokenize` / `encode_batch` turn words into ids of the fixed vocabulary `VOCAB`;
  `decode` turns ids back into text.

A story prompt (shared/shapesworld-stories.md) is first cut into segments at
`, then` / `; cut to` (`，然後` / `；切換到`) by `split_story`; each segment is a
prompt of its own (`parse_story`, `prompt_to_story`, `segment_prompts`).

English and Chinese words get different ids: the text encoder learns from the
paired captions that `red` and `紅` mean the same thing. Simplified and
traditional characters share ids, because `normalise` makes them one text.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from typing import NamedTuple

import torch

from minivid import world

# A prompt may be at most this many tokens long, counting the leading <bos>.
# The longest caption world.caption writes (two objects, `一個...的...和一個...`)
# is 16 tokens; 24 leaves room for hand-written prompts.
MAX_PROMPT_TOKENS = 24


class PromptError(ValueError):
    """A prompt ShapesWorld cannot show; the message says what is wrong and how to fix it."""


# ----------------------------------------------------------------------------
# The lexicon: every word a prompt may use, with its role and meaning.
#
# Each word has a role and a meaning. Roles:
#   colour, shape  meaning is the world's English name: Word("colour", "red") for red and 紅
#   verb           how the object moves: Word("verb", "moves") for moves, moving and 移動
#   direction      which way, the verb's complement: left right up down clockwise
#                  counterclockwise still ("stays still" is verb + direction too)
#   filler         carries no meaning here: a, the, 的, 一個, ...
#   separator      ends one object and starts the next: and, 和, the comma
# Every motion of the world is a verb plus at most one direction, in both
# languages: "moves left" = moves + left, 向左移動 = 向左 + 移動 (Chinese puts the
# direction first), 靜止不動 = 靜止 (still) + 不動 (stays), bounces / 彈跳 alone.
# The lexicon is built from world's tables, so parsing can never drift from the
# captions; the order of insertion is the order of the token ids (see VOCAB).

COMMA = "，"  # the one comma token: normalise turns ',' and '、' into it
ENGLISH_FILLERS = ("a", "an", "the", "that", "is")
CHINESE_FILLERS = ("色", "的", "一個")  # 紅色的 = red-colour-of; 一個 = one (measure word)


class Word(NamedTuple):
    """What a lexicon word does in a prompt."""

    role: str  # colour, shape, verb, direction, filler or separator
    meaning: str | None  # the world's English name of the value; None for fillers and separators


def _motion_parts(motion: str) -> tuple[str, str | None]:
    """'moves left' -> ('moves', 'left'); 'bounces' -> ('bounces', None)."""
    verb, *direction = motion.split()
    return verb, (direction[0] if direction else None)


def _english_lexicon() -> dict[str, Word]:
    words = {c: Word("colour", c) for c in world.COLOURS}
    words |= {s: Word("shape", s) for s in world.SHAPES}
    for motion in world.MOTIONS:  # 'moves' and its -ing form from 'is moving left'
        verb, _ = _motion_parts(motion)
        words[verb] = Word("verb", verb)
        words[world.EN_PROGRESSIVE[motion].split()[1]] = Word("verb", verb)
    for motion in world.MOTIONS:
        _, direction = _motion_parts(motion)
        if direction:
            words[direction] = Word("direction", direction)
    words |= {w: Word("filler", None) for w in ENGLISH_FILLERS}
    words["and"] = Word("separator", None)
    return words


def _chinese_lexicon() -> dict[str, Word]:
    """Chinese words, traditional characters. A Chinese motion is a direction
    followed by a two-character verb: 向左|移動, 順時針|旋轉, 靜止|不動, |彈跳."""
    words = {zh: Word("colour", c) for c, zh in world.ZH_COLOURS.items()}
    words |= {zh: Word("shape", s) for s, zh in world.ZH_SHAPES.items()}
    for motion, zh in world.ZH_MOTIONS.items():
        verb, _ = _motion_parts(motion)
        words[zh[-2:]] = Word("verb", verb)
    for motion, zh in world.ZH_MOTIONS.items():
        _, direction = _motion_parts(motion)
        if bool(direction) != bool(zh[:-2]):
            raise AssertionError(f"{zh!r} does not split into a direction and a two-character verb like {motion!r}")
        if direction:
            words[zh[:-2]] = Word("direction", direction)
    words |= {w: Word("filler", None) for w in CHINESE_FILLERS}
    words["和"] = Word("separator", None)
    return words


ENGLISH = _english_lexicon()
CHINESE = _chinese_lexicon()
LEXICON = {**ENGLISH, **CHINESE, COMMA: Word("separator", None)}
LONGEST_CHINESE_WORD = max(map(len, CHINESE))

# Other spellings of known words. They share the id of the word they stand for,
# so the model, which only ever saw caption words, understands them too.
ALIASES = {
    "goes": "moves",
    "going": "moving",
    "spins": "rotates",
    "spinning": "rotating",
    "anticlockwise": "counterclockwise",
    "anti-clockwise": "counterclockwise",
    "counter-clockwise": "counterclockwise",
}


def is_english(word: str) -> bool:
    """Whether a lexicon word is English (Latin letters) rather than Chinese or punctuation."""
    return word[0].isascii() and word[0].isalpha()


# ----------------------------------------------------------------------------
# Normalising and cutting a prompt into words

# One piece of normalised text: a run of spaces, an English word (letters and
# inner hyphens), a run of Chinese characters (CJK ideographs), or any single
# other character (the comma, or something we will refuse).
PIECE = re.compile(r"(?P<space>\s+)|(?P<english>[a-z]+(?:-[a-z]+)*)|(?P<chinese>[\u3400-\u9fff]+)|(?P<other>.)")
SENTENCE_END = ".。!"  # a final full stop or exclamation mark is dropped


def normalise(prompt: str) -> str:
    """The canonical form of a prompt: what it means, minus how it was typed.

    NFKC turns full-width letters, digits and the full-width comma into ASCII;
    then lower case, simplified Chinese -> traditional, every comma -> `，`,
    no final full stop, single spaces.
    >>> normalise("  A RED circle，moves   left. ")
    'a red circle，moves left'
    >>> normalise("红色的圆形向左移动。")
    '紅色的圓形向左移動'
    """
    if not isinstance(prompt, str):
        raise TypeError(f"a prompt is a str, got {type(prompt).__name__}")
    text = unicodedata.normalize("NFKC", prompt).lower().translate(world.TO_TRADITIONAL)
    text = re.sub("[,、]", COMMA, text).strip().rstrip(SENTENCE_END)
    return " ".join(text.split())


def split_words(prompt: str) -> list[str]:
    """The words of a prompt, each a key of LEXICON (aliases replaced).

    English words end at spaces or commas; a run of Chinese characters is cut
    by greedy longest match (紅色的圓形 -> 紅 色 的 圓形). Both may mix in one
    prompt. Raises PromptError for an empty, unknown or over-long prompt.
    """
    text = normalise(prompt)
    if not text:
        raise PromptError(f"empty prompt {prompt!r}: describe one or two objects, e.g. 'a red circle moves left'")
    words = []
    for match in PIECE.finditer(text):
        kind, piece = match.lastgroup, match.group()
        if kind == "english":
            words.append(_english_word(piece, prompt))
        elif kind == "chinese":
            words += _chinese_words(piece, prompt)
        elif kind == "other" and piece == COMMA:
            words.append(piece)
        elif kind == "other":
            raise PromptError(
                f"unexpected character {piece!r} in {prompt!r}; prompts use English words, Chinese words and commas"
            )
    if len(words) + 1 > MAX_PROMPT_TOKENS:  # + 1 for <bos>
        raise PromptError(
            f"prompt too long: {prompt!r} has {len(words)} words, but at most {MAX_PROMPT_TOKENS - 1} fit "
            f"(MAX_PROMPT_TOKENS = {MAX_PROMPT_TOKENS} tokens, one of them <bos>)"
        )
    return words


def _english_word(word: str, prompt: str) -> str:
    word = ALIASES.get(word, word)
    if word in ENGLISH:
        return word
    # cutoff 0.75, not difflib's 0.6: a typo ('circel') is that close; at 0.6 'pink' would suggest 'spins'
    close = difflib.get_close_matches(word, [*ENGLISH, *ALIASES], cutoff=0.75)
    raise PromptError(f"unknown word {word!r} in {prompt!r}; " + _suggest(close, ENGLISH))


def _chinese_words(run: str, prompt: str) -> list[str]:
    """Cut a run of Chinese characters into known words, longest match first."""
    words, i = [], 0
    while i < len(run):
        word = _chinese_word_at(run, i)
        if word is None:  # the unknown span lasts until a known word starts
            end = i + 1
            while end < len(run) and _chinese_word_at(run, end) is None:
                end += 1
            # Chinese words are 1-3 characters: one wrong character already halves
            # the similarity, so accept closer matches than difflib's default 0.6
            close = difflib.get_close_matches(run[i:end], CHINESE, cutoff=0.5)
            raise PromptError(f"unknown Chinese text {run[i:end]!r} in {prompt!r}; " + _suggest(close, CHINESE))
        words.append(word)
        i += len(word)
    return words


def _chinese_word_at(run: str, i: int) -> str | None:
    """The longest known Chinese word starting at run[i], or None."""
    for end in range(min(len(run), i + LONGEST_CHINESE_WORD), i, -1):
        if run[i:end] in CHINESE:
            return run[i:end]
    return None


def _suggest(close: list[str], known: dict[str, Word]) -> str:
    """'did you mean ...?' for near misses, else the known words grouped by what they do."""
    if close:
        return f"did you mean {_or(close)}?"
    groups = {}
    for word, info in known.items():
        if info.role not in ("filler", "separator"):
            groups.setdefault(info.role, []).append(word)
    names = {"colour": "colours", "shape": "shapes", "verb": "motions", "direction": "directions"}
    return "known words are " + "; ".join(f"{', '.join(words)} ({names.get(role, role)})"
                                           for role, words in groups.items())


def _or(options) -> str:
    """'a' / 'a' or 'b' / 'a', 'b' or 'c'."""
    quoted = [repr(o) for o in options]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


# ----------------------------------------------------------------------------
# Parsing: words -> one (shape, colour, motion) per object
#
# Objects are separated by `and`, `和` or a comma (a run such as `, and` counts
# as one separator). Inside an object the word order is free: each object must
# fill exactly one colour, one shape and one motion (a verb plus the direction
# it needs); fillers are skipped.


def parse_prompt(prompt: str) -> list[tuple[str, str, str]]:
    """The (shape, colour, motion) of each object a prompt describes, in order.

    >>> parse_prompt("a red circle moves left and a blue square rotates clockwise")
    [('circle', 'red', 'moves left'), ('square', 'blue', 'rotates clockwise')]
    >>> parse_prompt("红色的圆形向左移动")
    [('circle', 'red', 'moves left')]

    Raises PromptError when the prompt is not something ShapesWorld can show.
    """
    clauses = _split_objects(split_words(prompt), prompt)
    objects = [_read_object(words, n, prompt) for n, words in enumerate(clauses, 1)]
    colours = [colour for _, colour, _ in objects]
    if len(set(colours)) < len(colours):
        raise PromptError(f"both objects of {prompt!r} are {colours[0]}: two objects in one scene never share a colour")
    return objects


def word_clauses(words: list[str]) -> list[int | None]:
    """For each word, the object clause it belongs to (0, 1, ...), or None for a separator.

    A clause starts at its first word after a separator, so separators in a row (", and") are one break.
    >>> word_clauses(["a", "red", "circle", "bounces", "，", "and", "a", "blue", "square", "moves", "left"])
    [0, 0, 0, 0, None, None, 1, 1, 1, 1, 1]
    """
    clauses, clause, broken = [], -1, True
    for word in words:
        if LEXICON[word].role == "separator":
            clauses.append(None)
            broken = True
        else:
            clause, broken = clause + broken, False
            clauses.append(clause)
    return clauses


def _split_objects(words: list[str], prompt: str) -> list[list[str]]:
    for end, word in (("starts", words[:1]), ("ends", words[-1:])):
        if not word or LEXICON[word[0]].role == "separator":
            raise PromptError(
                f"{prompt!r} {end} with a separator ('and', '和' or a comma); describe an object on each side of it"
            )
    index = word_clauses(words)  # the first and last words are not separators, so the last word's clause is the last
    clauses = [[w for w, i in zip(words, index) if i == n] for n in range(index[-1] + 1)]
    if len(clauses) > 2:
        raise PromptError(f"{prompt!r} describes {len(clauses)} objects; a ShapesWorld scene has at most 2")
    return clauses


def _read_object(words: list[str], n: int, prompt: str) -> tuple[str, str, str]:
    """Fill the colour, shape and motion slots of object n from its words."""
    where = f"object {n} of {prompt!r}"
    language = ENGLISH if all(is_english(w) for w in words) else CHINESE  # for suggestions
    found = {"colour": [], "shape": [], "verb": [], "direction": []}
    for word in words:
        role = LEXICON[word].role
        if role in found:
            found[role].append(word)
    for role in ("colour", "shape"):
        if not found[role]:
            options = [w for w, entry in language.items() if entry.role == role]
            raise PromptError(f"{where} has no {role}; add one of {', '.join(options)}")
    for role, plural in (("colour", "colours"), ("shape", "shapes"), ("verb", "motions"), ("direction", "directions")):
        if len(found[role]) > 1:
            raise PromptError(
                f"{where} has {len(found[role])} {plural} ({', '.join(map(repr, found[role]))}); "
                f"an object has exactly one, so describe a second object after 'and' / '，'"
            )
    colour, shape = LEXICON[found["colour"][0]].meaning, LEXICON[found["shape"][0]].meaning
    motion = _read_motion(found["verb"], found["direction"], where, language)
    try:
        world.check_combination(shape, colour, motion)  # a circle may not rotate
    except ValueError as error:
        raise PromptError(f"{where}: {error}") from None
    return shape, colour, motion


def _read_motion(verbs: list[str], directions: list[str], where: str, language: dict) -> str:
    """The world motion named by at most one verb and one direction."""
    verb = LEXICON[verbs[0]].meaning if verbs else None
    direction = LEXICON[directions[0]].meaning if directions else None
    if verb is None and direction is None:
        raise PromptError(f"{where} has no motion; add one of {', '.join(_phrase(m, language) for m in world.MOTIONS)}")
    motion = " ".join(part for part in (verb, direction) if part)
    if motion in world.MOTIONS:
        return motion
    said = " ".join(verbs + directions) if language is ENGLISH else "".join(directions + verbs)
    close = [m for m in world.MOTIONS if verb == _motion_parts(m)[0] or direction and direction == _motion_parts(m)[1]]
    raise PromptError(
        f"{where}: {said!r} is not a ShapesWorld motion; did you mean {_or([_phrase(m, language) for m in close])}?"
    )


def _phrase(motion: str, language: dict) -> str:
    """How a motion is written in the prompt's language: 'moves left' / 向左移動."""
    return motion if language is ENGLISH else world.ZH_MOTIONS[motion]


def prompt_to_scene(
    prompt: str,
    seed=0,
    frames: int = world.DEFAULT_FRAMES,
    height: int = world.DEFAULT_HEIGHT,
    width: int = world.DEFAULT_WIDTH,
) -> world.SceneSpec:
    """A random scene that shows the prompt: sizes, positions and speeds drawn from `seed`
    (an int or a numpy Generator); two objects are resampled until they never touch."""
    objects = parse_prompt(prompt)
    world.check_canvas(frames, height, width)
    return world.place_objects(seed, objects, frames, height, width)


# ----------------------------------------------------------------------------
# The tokenizer: words -> ids of a fixed vocabulary
#
# VOCAB = the special tokens, then the English words, then the Chinese words,
# then the comma, each group in lexicon order (colours and shapes in spec order,
# then verbs, directions, fillers, separator). The ids are baked into every
# trained text encoder, so they must never change silently: tests pin them.

SPECIAL_TOKENS = ("<pad>", "<bos>")  # <pad> fills short rows; <bos> starts every prompt
PAD_ID, BOS_ID = 0, 1
VOCAB = (*SPECIAL_TOKENS, *LEXICON)
TOKEN_IDS = {token: i for i, token in enumerate(VOCAB)}
vocab_size = len(VOCAB)


def tokenize(prompt: str) -> list[int]:
    """Token ids of a prompt: <bos> then one id per word.

    Checks the words (unknown words and over-long prompts raise PromptError),
    not the meaning: call parse_prompt for that.
    >>> tokenize("a red circle moves left") == tokenize("A  red circle moves left.")
    True
    """
    return [BOS_ID, *(TOKEN_IDS[word] for word in split_words(prompt))]


def encode_batch(prompts, max_len: int = MAX_PROMPT_TOKENS) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of a batch of prompts, both (B, max_len).

    ids: LongTensor, padded with PAD_ID = 0; mask: BoolTensor, True at real tokens.
    A prompt of None means "no prompt" (the unconditional input of classifier-free
    guidance): just <bos>, so every row has at least one token to attend to.
    """
    if isinstance(prompts, str):
        raise TypeError("encode_batch takes a list of prompts; wrap a single prompt in a list")
    rows = [[BOS_ID] if prompt is None else tokenize(prompt) for prompt in prompts]
    for prompt, row in zip(prompts, rows):
        if len(row) > max_len:
            raise PromptError(f"{prompt!r} is {len(row)} tokens long (with <bos>), more than max_len = {max_len}")
    padded = [row + [PAD_ID] * (max_len - len(row)) for row in rows]
    ids = torch.tensor(padded, dtype=torch.long).view(len(rows), max_len)  # view: an empty batch is (0, max_len)
    return ids, ids != PAD_ID


def decode(ids) -> str:
    """Text of a sequence of token ids (list or 1-D tensor), special tokens left out.

    English words are joined by spaces, Chinese words without; the comma is
    written `,` after an English word and `，` after a Chinese one.
    decode(tokenize(p)) == normalise(p) for every caption world.caption writes.
    """
    if isinstance(ids, torch.Tensor):
        if ids.dim() != 1:
            raise ValueError(f"decode takes one sequence of ids, got a tensor of shape {tuple(ids.shape)}")
        ids = ids.tolist()
    text, after_english = "", False
    for i in ids:
        if not 0 <= i < vocab_size:
            raise ValueError(f"token id {i} is outside the vocabulary (0..{vocab_size - 1})")
        token = VOCAB[i]
        if token in SPECIAL_TOKENS:
            continue
        if token == COMMA:
            text += "," if after_english else COMMA
            continue
        english = is_english(token)
        text += (" " if english and after_english else "") + token
        after_english = english
    return text


# ----------------------------------------------------------------------------
# Stories (shared/shapesworld-stories.md): segments joined by `, then ` (same
# shot) or `; cut to ` (new shot), in Chinese `，然後` and `；切換到` (simplified
# `，然后`, `；切换到`). A story prompt is cut into segments on the normalised
# text, before words: each segment is a v1 prompt of its own (a later segment of
# a shot may say `the red circle`), parsed by parse_prompt and, for the model,
# tokenized on its own, so the story words need no token ids. A v1 prompt is a
# story of one segment.

STORY_THEN = ("then", "然後")  # after a comma: the next segment, same shot
STORY_CUT = ("cut to", "切換到")  # after a semicolon: the next segment starts a new shot
_STORY_BREAK = re.compile(r"\s*(?:，\s*(?:then\b|然後)|;\s*(?:cut to\b|切換到))\s*")
_STORY_WORDS = re.compile(r"\bthen\b|\bcut\b|然後|切換到|;")
STORY_SYNTAX = "join segments with ', then ' (same shot) or '; cut to ' (new shot), in Chinese '，然後' / '；切換到'"


def split_story(prompt: str) -> list[tuple[str, bool]]:
    """The segments of a story prompt, normalised: (segment text, starts a new shot) each.

    >>> split_story("a red circle moves left, then the red circle moves up; cut to a blue square bounces")
    [('a red circle moves left', True), ('the red circle moves up', False), ('a blue square bounces', True)]
    """
    text = normalise(prompt)
    if not text:
        raise PromptError(f"empty prompt {prompt!r}: describe a segment, e.g. 'a red circle moves left'")
    pieces, starts, last = [], [True], 0
    for match in _STORY_BREAK.finditer(text):
        pieces.append(text[last:match.start()])
        starts.append(";" in match.group())
        last = match.end()
    pieces.append(text[last:])
    for k, piece in enumerate(pieces):
        if not piece.strip(" ，"):
            raise PromptError(f"segment {k + 1} of {prompt!r} is empty; {STORY_SYNTAX}, with a segment on each side")
        stray = _STORY_WORDS.search(piece)
        if stray:
            raise PromptError(f"segment {k + 1} of {prompt!r} ({piece!r}) has {stray.group()!r} out of place; "
                              f"{STORY_SYNTAX}")
    return list(zip(pieces, starts))


def segment_prompts(prompt: str) -> list[str]:
    """The prompt of each segment of a story (normalised v1 prompts), e.g. to encode each segment on its own."""
    return [piece for piece, _ in split_story(prompt)]


def parse_story(prompt: str) -> world.StoryPlan:
    """The segments and shots a story prompt describes, as a world.StoryPlan.

    >>> parse_story("紅色的圓形向左移動，然後紅色的圓形向上移動").segments
    ((('circle', 'red', 'moves left'),), (('circle', 'red', 'moves up'),))

    Raises PromptError naming the segment: a segment ShapesWorld cannot show, or a
    later segment of a shot that shows other objects than the shot's first (it needs `cut to`).
    """
    pieces = split_story(prompt)
    segments, cuts, first = [], [], 0
    for k, (piece, new_shot) in enumerate(pieces):
        try:
            objects = parse_prompt(piece)
        except PromptError as error:
            raise PromptError(f"segment {k + 1} of {prompt!r}: {error}") from None
        if new_shot:
            first = k
            cuts += [k] if k else []
        else:
            shot = sorted((s, c) for s, c, _ in segments[first])
            if sorted((s, c) for s, c, _ in objects) != shot:
                cut = "；切換到" if any(not is_english(w) for w in split_words(piece)) else "; cut to "
                raise PromptError(
                    f"segment {k + 1} ({piece!r}) of {prompt!r} shows {_looks(objects)}, but its shot shows "
                    f"{_looks(segments[first])}: every segment of a shot shows the same objects (same colour, "
                    f"shape and count); to show other objects, start a new shot with {cut!r}")
        segments.append(tuple(objects))
    return world.StoryPlan(tuple(segments), tuple(cuts))


def _looks(objects) -> str:
    return " and ".join(f"a {colour} {shape}" for shape, colour, _ in objects)


def prompt_to_story(
    prompt: str,
    seed=0,
    height: int = world.DEFAULT_HEIGHT,
    width: int = world.DEFAULT_WIDTH,
    start: tuple[world.ObjectState, ...] | None = None,
) -> world.StorySpec:
    """A random story that tells the prompt (16n + 1 frames for n segments), drawn from `seed`.

    `start`: the objects' state at frame 0 (image-to-video, extension); None draws it.
    Raises PromptError naming the first segment that cannot fit on the canvas.
    """
    plan = parse_story(prompt)
    world.check_canvas(1, height, width)
    try:
        return world.sample_story(seed, plan, height, width, start)
    except world.StoryError as error:
        if error.segment is None:
            raise PromptError(f"{prompt!r}: {error}") from None
        piece = split_story(prompt)[error.segment][0]
        raise PromptError(f"segment {error.segment + 1} ({piece!r}) of {prompt!r} cannot fit on a {height}x{width} "
                          f"canvas: {error.why or error}") from None
