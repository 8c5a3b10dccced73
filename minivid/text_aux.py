"""Auxiliary losses that teach the text encoder to name what a caption asks for.

Trained with the DiT through the denoising loss alone, the text encoder learns
only the distinctions that lower that loss, and can map "rotates clockwise" and
"rotates counterclockwise" to nearly the same condition
(`benchmarks/text_separation.py`). These losses add a direct signal: a linear
head on text vectors must name each object's (colour, motion) pair, either from
the pooled vector (lesson 05 builds it) or, as training uses it
(`T2VTrainConfig.text_aux_weight`), from every word token of the object's
clause: the binding two objects need, put where the DiT's cross-attention reads
it. The head is training state only and is never shipped.

Layouts (einops legend):

    b l          token ids / labels per caption (l = 1 + max prompt tokens: register, <bos>, words, padding)
    b l d        the text encoder's token vectors; b d the pooled vector
    b k          multi-hot labels over k = colours x motions pairs
"""
from __future__ import annotations

import torch
from einops import rearrange

from .dit import DiT
from .text import MAX_PROMPT_TOKENS, parse_prompt, split_words, word_clauses
from .world import COLOURS, MOTIONS

PAIRS = len(COLOURS) * len(MOTIONS)  # the (colour, motion) pairs the auxiliary head names: its output width


def pair_class(colour: str, motion: str) -> int:
    """The index of a (colour, motion) pair among the colours x motions the auxiliary text head names."""
    return list(COLOURS).index(colour) * len(MOTIONS) + list(MOTIONS).index(motion)


def caption_labels(captions: list[str]) -> torch.Tensor:
    """What the auxiliary text loss asks the pooled caption vector to name: (n, colours x motions) multi-hot, a 1
    at (colour, motion) for each object the caption describes (English or Chinese: `parse_prompt`)."""
    labels = torch.zeros(len(captions), PAIRS)
    for i, caption in enumerate(captions):
        for _, colour, motion in parse_prompt(caption):
            labels[i, pair_class(colour, motion)] = 1.0
    return labels


NAMES_NOTHING = -100  # cross_entropy's ignore_index: a text token that belongs to no object


def caption_token_labels(captions: list[str], max_len: int = MAX_PROMPT_TOKENS) -> torch.Tensor:
    """What the "tokens" auxiliary loss asks each text-encoder token to name: (n, 1+max_len) class ids, laid out like
    the encoder's output (register, <bos>, one token per word, padding). Every word of an object's clause names that
    object's (colour, motion) pair: in "a red square rotates clockwise and a blue circle bounces", `a red square
    rotates clockwise` all name (red, rotates clockwise), `a blue circle bounces` (blue, bounces); the register,
    <bos>, the separator and padding name nothing (NAMES_NOTHING)."""
    labels = torch.full((len(captions), 1 + max_len), NAMES_NOTHING, dtype=torch.long)
    for i, caption in enumerate(captions):
        classes = [pair_class(colour, motion) for _, colour, motion in parse_prompt(caption)]  # (checks the caption)
        for position, clause in enumerate(word_clauses(split_words(caption)), start=2):  # 0: register, 1: <bos>
            if clause is not None:  # the clauses parse_prompt read the objects from
                labels[i, position] = classes[clause]
    return labels


TEXT_AUX_SOURCES = ("pooled", "tokens")  # the text vectors the auxiliary head can read


def text_aux_loss(model: DiT, head: torch.nn.Linear, ids, mask, labels, kept: int, world: int = 1,
                  source: str = "pooled") -> torch.Tensor:
    """The auxiliary text loss of one rank's captions (dropped ones already removed), summed over captions and
    divided by `kept`, the captions kept in the whole global batch (x `world`, since DDP averages the ranks'
    gradients): N ranks compute the gradient one process computes on the global batch.

    `source` "pooled" (the masked mean the DiT's adaLN reads): binary cross-entropy of `head(pooled)` against
    `labels` (b, k) from `caption_labels`, averaged over the k labels. "tokens" (what training uses): every word
    token names its own object's pair, softmax cross-entropy of `head(token)` against `labels` (b, 1+l) from
    `caption_token_labels`, averaged over a caption's labelled tokens."""
    if source not in TEXT_AUX_SOURCES:
        raise ValueError(f"text aux source must be one of {TEXT_AUX_SOURCES}, got {source!r}")
    tokens, _, pooled = model.text_encoder(ids, mask.bool())  # (b 1+l d_text), _, (b d_text)
    if source == "tokens":
        logits = head(tokens).float()  # (b 1+l k)
        ce = torch.nn.functional.cross_entropy(rearrange(logits, "b l k -> b k l"), labels, reduction="none",
                                               ignore_index=NAMES_NOTHING)  # (b 1+l), 0 where ignored
        per_caption = ce.sum(1) / (labels != NAMES_NOTHING).sum(1).clamp(min=1)  # (b)
    else:
        per_caption = torch.nn.functional.binary_cross_entropy_with_logits(head(pooled).float(), labels,
                                                                           reduction="none").mean(1)  # (b)
    return per_caption.sum() * world / max(kept, 1)
