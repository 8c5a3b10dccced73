"""Tests for minivid.text: every caption parses back to its scene, clear errors, pinned token ids."""

import functools
import hashlib

import numpy as np
import pytest
import torch

from minivid import world
from minivid.text import (
    BOS_ID,
    MAX_PROMPT_TOKENS,
    PAD_ID,
    VOCAB,
    PromptError,
    decode,
    encode_batch,
    normalise,
    parse_prompt,
    prompt_to_scene,
    split_words,
    tokenize,
    vocab_size,
    word_clauses,
)

# First 16 hex digits of sha256("\n".join(VOCAB)): pins every token and its position.
VOCAB_DIGEST = "66feeebf017e9962"
ALL_TEMPLATES = [(lang, t) for lang in world.LANGUAGES for t in range(world.CAPTION_TEMPLATES[lang])]


def combination(o: world.ObjectSpec) -> tuple[str, str, str]:
    return o.shape, o.colour, o.motion


@functools.cache
def two_object_scenes() -> tuple[world.SceneSpec, ...]:
    """Every valid combination once as the first object, with a partner of another
    colour that cycles through the combinations; plus 300 random scenes."""
    combos = world.valid_combinations()
    scenes = []
    for i, first in enumerate(combos):
        partners = [c for c in combos if c[1] != first[1]]
        second = partners[(7 * i) % len(partners)]
        scenes.append(world.SceneSpec((world.ObjectSpec(*first), world.ObjectSpec(*second))))
    rng = np.random.default_rng(0)
    scenes += [world.sample_scene(rng, "train", 2) for _ in range(150)]
    scenes += [world.sample_scene(rng, "heldout", 2) for _ in range(150)]
    return tuple(scenes)


# ----------------------------------------------------------------------------
# Every caption parses back and tokenizes


@pytest.mark.parametrize("lang, template", ALL_TEMPLATES)
def test_every_single_object_caption_parses_back(lang, template):
    for combo in world.valid_combinations():
        text = world.caption(world.ObjectSpec(*combo), lang, template)
        assert parse_prompt(text) == [combo], text


@pytest.mark.parametrize("lang, template", ALL_TEMPLATES)
def test_two_object_captions_parse_back(lang, template):
    for scene in two_object_scenes():
        text = world.caption(scene, lang, template)
        assert parse_prompt(text) == [combination(o) for o in scene.objects], text


@pytest.mark.parametrize("lang, template", ALL_TEMPLATES)
def test_every_caption_tokenizes_within_the_limit_and_decodes_to_its_normal_form(lang, template):
    longest = 0
    for scene in two_object_scenes():
        for objects in (scene.objects[:1], scene.objects):
            text = world.caption(world.SceneSpec(objects), lang, template)
            ids = tokenize(text)
            assert ids[0] == BOS_ID and PAD_ID not in ids
            assert decode(ids) == normalise(text) == text.translate(world.TO_TRADITIONAL)
            longest = max(longest, len(ids))
    assert longest <= MAX_PROMPT_TOKENS


def test_the_longest_caption_is_16_tokens():
    # the number quoted where MAX_PROMPT_TOKENS is defined: `<bos> 一個 紅 色 的 圓形 向左 移動 和 一個 ...`
    lengths = {len(tokenize(world.caption(scene, lang, t))) for scene in two_object_scenes()[:20] for lang, t in ALL_TEMPLATES}
    assert max(lengths) == 16 < MAX_PROMPT_TOKENS


def test_canonical_examples():
    one = [("circle", "red", "moves left")]
    two = [("circle", "red", "moves left"), ("square", "blue", "rotates clockwise")]
    assert parse_prompt("a red circle moves left") == one
    assert parse_prompt("a red circle moves left and a blue square rotates clockwise") == two
    assert parse_prompt("紅色的圓形向左移動") == one
    assert parse_prompt("红色的圆形向左移动") == one
    assert parse_prompt("紅色的圓形向左移動，藍色的正方形順時針旋轉") == two
    assert parse_prompt("红色的圆形向左移动和蓝色的正方形顺时针旋转") == two


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("  A RED Circle   moves LEFT. ", [("circle", "red", "moves left")]),
        ("an orange triangle spins anticlockwise", [("triangle", "orange", "rotates counterclockwise")]),
        ("a green square goes up, and a white circle is staying still",
         [("square", "green", "moves up"), ("circle", "white", "stays still")]),
        ("moves down the cyan triangle", [("triangle", "cyan", "moves down")]),  # word order is free
        ("紅色的圓形向左移動,藍色的正方形彈跳。", [("circle", "red", "moves left"), ("square", "blue", "bounces")]),
        ("紅色的圓形向左移動、白色三角形靜止不動", [("circle", "red", "moves left"), ("triangle", "white", "stays still")]),
        ("紅色 的 圓形 向左 移動", [("circle", "red", "moves left")]),
        ("ａ ｒｅｄ ｃｉｒｃｌｅ ｍｏｖｅｓ ｌｅｆｔ", [("circle", "red", "moves left")]),  # full-width letters
        ("a red 圓形 moves left and 藍色的square bounces", [("circle", "red", "moves left"), ("square", "blue", "bounces")]),
    ],
)
def test_other_phrasings(prompt, expected):
    assert parse_prompt(prompt) == expected


@pytest.mark.parametrize("prompt", [
    "a red circle bounces and a blue square moves left",
    "a red circle bounces, and a blue square moves left",  # two separators in a row are one break
    "紅色的圓形彈跳，藍色的正方形向左移動",
    "a green triangle stays still",
])
def test_word_clauses_are_the_clauses_parse_prompt_reads(prompt):
    words = split_words(prompt)
    clauses = word_clauses(words)
    assert [c is None for c in clauses] == [w in ("and", "，") for w in words]
    objects = parse_prompt(prompt)
    assert max(c for c in clauses if c is not None) == len(objects) - 1
    for n, (shape, colour, motion) in enumerate(objects):  # each clause holds its own object's words
        clause = " ".join(w for w, c in zip(words, clauses) if c == n)
        assert parse_prompt(clause) == [(shape, colour, motion)]


def test_segmentation_is_longest_match():
    assert split_words("一個紅色的正方形靜止不動") == ["一個", "紅", "色", "的", "正方形", "靜止", "不動"]
    assert split_words("a red circle, moves left") == ["a", "red", "circle", "，", "moves", "left"]


def test_simplified_and_traditional_get_the_same_ids():
    for scene in two_object_scenes()[:50]:
        for template in range(world.CAPTION_TEMPLATES["zh"]):
            assert tokenize(world.caption(scene, "zh", template)) == tokenize(world.caption(scene, "zh-hans", template))


def test_english_and_chinese_words_get_distinct_ids():
    assert set(tokenize("a red circle moves left")[1:]).isdisjoint(tokenize("紅色的圓形向左移動")[1:])


def test_prompt_to_scene_shows_the_prompt():
    scene = prompt_to_scene("a red circle moves left and a blue square rotates clockwise", seed=3, frames=9, height=32, width=48)
    assert [combination(o) for o in scene.objects] == [("circle", "red", "moves left"), ("square", "blue", "rotates clockwise")]
    assert (scene.frames, scene.height, scene.width) == (9, 32, 48)
    assert world.min_gap(*scene.objects, scene.frames) >= world.MIN_GAP_PX
    assert scene == prompt_to_scene("紅色的圓形向左移動，藍色的正方形順時針旋轉", seed=3, frames=9, height=32, width=48)


# ----------------------------------------------------------------------------
# Errors say what is wrong


@pytest.mark.parametrize(
    "prompt, message",
    [
        ("a red circel moves left", r"unknown word 'circel' in 'a red circel moves left'; did you mean 'circle'\?"),
        ("a red dog moves left", r"unknown word 'dog' .*known words are red, green"),
        ("紅色的園形向左移動", r"unknown Chinese text '園形' in '紅色的園形向左移動'; did you mean '圓形'\?"),
        ("2 red circles", r"unexpected character '2'"),
        ("", r"empty prompt"),
        ("  .  ", r"empty prompt"),
        ("a " * 23 + "red circle moves left", rf"too long: .* 27 words, but at most {MAX_PROMPT_TOKENS - 1} fit"),
        ("a red circle bounces and a blue square bounces and a green square bounces", r"describes 3 objects; .* at most 2"),
        ("a red circle moves left and", r"ends with a separator"),
        ("和藍色的正方形彈跳", r"starts with a separator"),
        ("a circle moves left", r"object 1 of 'a circle moves left' has no colour; add one of red, green"),
        ("a red circle bounces and a blue moves up", r"object 2 .* has no shape; add one of circle, square, triangle"),
        ("紅色的圓形", r"object 1 .* has no motion; add one of 向左移動, 向右移動"),
        ("a red blue circle moves left", r"object 1 .* has 2 colours \('red', 'blue'\)"),
        ("a red circle square moves left", r"object 1 .* has 2 shapes \('circle', 'square'\)"),
        ("a red square moves rotates clockwise", r"object 1 .* has 2 motions \('moves', 'rotates'\)"),
        ("a red square moves left up", r"object 1 .* has 2 directions \('left', 'up'\)"),
        ("紅色的圓形向左移動藍色的正方形彈跳", r"object 1 .* has 2 colours .*second object"),
        ("a red circle moves", r"'moves' is not a ShapesWorld motion; did you mean 'moves left', 'moves right', 'moves up' or 'moves down'\?"),
        ("a red square left", r"'left' is not a ShapesWorld motion; did you mean 'moves left'\?"),
        ("a red square moves clockwise", r"'moves clockwise' is not .* or 'rotates clockwise'\?"),
        ("紅色的正方形順時針移動", r"'順時針移動' is not .* or '順時針旋轉'\?"),
        ("a red circle rotates clockwise", r"object 1 .*: a circle cannot 'rotates clockwise': its rotation would be invisible"),
        ("a blue square bounces and 紅色的圓形逆時針旋轉", r"object 2 .*: a circle cannot 'rotates counterclockwise'"),
        ("a red circle moves left and a red square bounces", r"both objects .* are red: .* never share a colour"),
    ],
)
def test_errors_explain_themselves(prompt, message):
    with pytest.raises(PromptError, match=message):
        parse_prompt(prompt)


def test_tokenize_checks_words_but_not_meaning():
    with pytest.raises(PromptError, match="unknown word 'circel'"):
        tokenize("a red circel moves left")
    with pytest.raises(PromptError, match="too long"):
        tokenize("a " * 30)
    assert len(tokenize("a red circle rotates clockwise")) == 6  # parse_prompt refuses it, the tokenizer does not


def test_prompt_must_be_a_string():
    with pytest.raises(TypeError, match="a prompt is a str"):
        parse_prompt(None)
    with pytest.raises(TypeError, match="list of prompts"):
        encode_batch("a red circle moves left")


# ----------------------------------------------------------------------------
# The vocabulary is fixed


def test_vocabulary_is_pinned():
    # Token ids are baked into every trained text encoder. If this test fails, the
    # vocabulary changed (a word was added, removed or moved, perhaps by a change
    # to world's tables): old checkpoints no longer read the new ids. Do it only on
    # purpose, then update the numbers here and retrain the text encoder.
    assert vocab_size == len(VOCAB) == 61
    assert VOCAB[:3] == ("<pad>", "<bos>", "red")
    assert (VOCAB.index("circle"), VOCAB.index("moves"), VOCAB.index("left"), VOCAB.index("and")) == (10, 13, 21, 33)
    assert (VOCAB.index("紅"), VOCAB.index("圓形"), VOCAB.index("移動"), VOCAB.index("向左"), VOCAB[-1]) == (34, 42, 45, 49, "，")
    assert hashlib.sha256("\n".join(VOCAB).encode()).hexdigest()[:16] == VOCAB_DIGEST
    assert len(set(VOCAB)) == len(VOCAB)


def test_ids_of_the_canonical_captions():
    assert tokenize("a red circle moves left") == [1, 28, 2, 10, 13, 21]
    assert tokenize("an orange square bounces")[:2] == [1, 29]
    assert tokenize("紅色的圓形向左移動") == [1, 34, 56, 57, 42, 49, 45]


# ----------------------------------------------------------------------------
# Batches


def test_encode_batch_pads_and_masks():
    prompts = ["a red circle moves left", "紅色的圓形向左移動，藍色的正方形順時針旋轉", None]
    ids, mask = encode_batch(prompts)
    assert ids.shape == mask.shape == (3, MAX_PROMPT_TOKENS)
    assert ids.dtype == torch.long and mask.dtype == torch.bool
    assert mask.sum(1).tolist() == [6, 14, 1]  # None: just <bos>, the unconditional prompt
    assert (ids[~mask] == PAD_ID).all() and (ids[:, 0] == BOS_ID).all()
    assert mask[:, :1].all() and not (mask[:, 1:] & ~mask[:, :-1]).any()  # real tokens first, then padding
    assert decode(ids[0]) == "a red circle moves left"
    assert decode(ids[1]) == "紅色的圓形向左移動，藍色的正方形順時針旋轉"
    assert encode_batch([], max_len=8)[0].shape == (0, 8)


def test_encode_batch_refuses_rows_longer_than_max_len():
    assert encode_batch(["a red circle moves left"], max_len=6)[0].shape == (1, 6)
    with pytest.raises(PromptError, match="7 tokens long .* max_len = 6"):
        encode_batch(["a red circle is moving left"], max_len=6)


def test_decode():
    assert decode(tokenize("an orange triangle spins anticlockwise, and a white circle stays still")) == (
        "an orange triangle rotates counterclockwise, and a white circle stays still"
    )
    with pytest.raises(ValueError, match="outside the vocabulary"):
        decode([vocab_size])
    with pytest.raises(ValueError, match="one sequence"):
        decode(torch.zeros(2, 3, dtype=torch.long))
