"""Auxiliary losses that teach the text encoder to name what a caption asks for.

Trained with the DiT through the denoising loss alone, the text encoder learns
only the distinctions that lower that loss, and every model trained so maps
"rotates clockwise" and "rotates counterclockwise" to nearly the same condition
(`benchmarks/text_separation.py`). These losses add a direct signal: a
linear head on text vectors must name each object's (colour, motion) pair, from
the pooled vector, the encoder's register token, or (the "tokens" loss) from
every word token of the object's clause. The head is training state only and is
never shipped. `--text-train-words` goes further and freezes the encoder but a
few words' token embeddings (after textual inversion, Gal et al. 2022), so that
a continuation changes only the captions using them. What each did is measured
in data/t2v/README.md; lesson 05 builds both kinds of labels step by step.

Layouts (einops legend):

    b l          token ids / labels per caption (l = 1 + max prompt tokens: register, <bos>, words, padding)
    b l d        the text encoder's token vectors; b d the pooled vector
    b k          multi-hot labels over k = colours x motions pairs
"""
from __future__ import annotations

import torch
from einops import rearrange

from .dit import DiT
from .text import MAX_PROMPT_TOKENS, TOKEN_IDS, parse_prompt, split_words, word_clauses
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


TEXT_AUX_SOURCES = ("pooled", "register", "tokens")  # the text vectors the auxiliary head can read


def text_aux_loss(model: DiT, head: torch.nn.Linear, ids, mask, labels, kept: int, world: int = 1,
                  source: str = "pooled") -> torch.Tensor:
    """The auxiliary text loss of one rank's captions (dropped ones already removed), summed over captions and
    divided by `kept`, the captions kept in the whole global batch (x `world`, since DDP averages the ranks'
    gradients): N ranks compute the gradient one process computes on the global batch.

    `source` "pooled" (the masked mean the DiT's adaLN reads) or "register" (the encoder's first token): binary
    cross-entropy of `head(vector)` against `labels` (b, k) from `caption_labels`, averaged over the k labels.
    "tokens": every word token names its own object's pair, softmax cross-entropy of `head(token)` against `labels`
    (b, 1+l) from `caption_token_labels`, averaged over a caption's labelled tokens."""
    if source not in TEXT_AUX_SOURCES:
        raise ValueError(f"text aux source must be one of {TEXT_AUX_SOURCES}, got {source!r}")
    tokens, _, pooled = model.text_encoder(ids, mask.bool())  # (b 1+l d_text), _, (b d_text)
    if source == "tokens":
        logits = head(tokens).float()  # (b 1+l k)
        ce = torch.nn.functional.cross_entropy(rearrange(logits, "b l k -> b k l"), labels, reduction="none",
                                               ignore_index=NAMES_NOTHING)  # (b 1+l), 0 where ignored
        per_caption = ce.sum(1) / (labels != NAMES_NOTHING).sum(1).clamp(min=1)  # (b)
    else:
        vector = pooled if source == "pooled" else tokens[:, 0]  # (b d_text)
        per_caption = torch.nn.functional.binary_cross_entropy_with_logits(head(vector).float(), labels,
                                                                           reduction="none").mean(1)  # (b)
    return per_caption.sum() * world / max(kept, 1)


def text_train_rows(words: str) -> torch.Tensor | None:
    """The token ids of `T2VTrainConfig.text_train_words` ("a,b,..."), or None for "" (the whole encoder trains).

    Raises ValueError naming a word that is not in the vocabulary (an English word, or a Chinese one as
    `text.split_words` cuts it, e.g. 順時針).
    """
    names = [w.strip() for w in words.split(",") if w.strip()]
    if not names:
        return None
    unknown = [w for w in names if w not in TOKEN_IDS]
    if unknown:
        raise ValueError(f"text_train_words: {', '.join(map(repr, unknown))} not in the vocabulary; give whole words "
                         f"as text.split_words cuts them, e.g. 'clockwise,counterclockwise,順時針,逆時針'")
    return torch.tensor(sorted({TOKEN_IDS[w] for w in names}))


def freeze_text_encoder_except(model: DiT, rows: torch.Tensor) -> torch.Tensor:
    """Freeze the text encoder but its token embedding; returns the mask (vocab,) of embedding rows that may train.

    The caller zeroes the other rows' gradients after each backward (`grad[~mask] = 0`): with no gradient, AdamW
    (without weight decay) leaves a row exactly as it was, so every caption without these words is encoded as before.
    """
    model.text_encoder.requires_grad_(False)
    embedding = model.text_encoder.token_embedding.weight
    embedding.requires_grad_(True)
    trainable = torch.zeros(embedding.shape[0], dtype=torch.bool, device=embedding.device)
    trainable[rows.to(embedding.device)] = True
    return trainable
