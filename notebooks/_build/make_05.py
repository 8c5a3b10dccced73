"""Write notebooks/05_text_conditioning.ipynb (without outputs).

    python notebooks/_build/make_05.py
    jupyter nbconvert --to notebook --execute --inplace notebooks/05_text_conditioning.ipynb

Edit the lesson here, not in the .ipynb, then regenerate and re-execute.
"""
from pathlib import Path

from nb import BADGE, SETUP, code, md, write

NAME = "05_text_conditioning.ipynb"

cells = [
    md(f"""
    # 05 · Text conditioning: from a prompt to a model that listens

    {BADGE.format(name=NAME)}

    Lesson 05 of **minivid**. Lesson 04 turned noise into samples, but it could not choose *which* sample: the
    denoiser had no input but x_t and t. A text-to-video model is told what to draw. This lesson follows a prompt
    such as `a red circle moves right` (or `紅色的圓形向右移動`) all the way into the shipped model `data/t2v/shapes`:
    words → token ids → a small text encoder → the two doors through which text enters the diffusion transformer
    (a pooled vector in adaLN, and cross-attention), and finally classifier-free guidance, the knob that decides how
    hard the sampler listens.

    **You will learn**

    - how `minivid.text` **parses** English and Chinese (traditional and simplified) prompts, and the clear
      `PromptError`s it raises for prompts the world cannot show;
    - the **tokenizer**: a fixed 61-token vocabulary, one token per word, how English and Chinese words map to ids,
      and **padding masks**;
    - the DiT's **text encoder** (a 2-layer transformer with a register token and a masked-mean pooled vector), run by
      hand from its weights, and whether English and Chinese captions of one scene land close together after training;
    - **cross-attention**: the attention weights of the shipped model recomputed by hand during a sampling step, as
      maps of where in the video each word is read;
    - **classifier-free guidance** by hand, and what its scale does to the clips;
    - to write the padding mask and the pooled embedding yourself.

    The diffusion transformer around the text parts is used as a black box here; lesson 06 opens the rest of it.
    Runs top to bottom in about a minute on a laptop CPU.
    """),
    code(SETUP),
    code("""
    %matplotlib inline
    import contextlib
    import math
    import time

    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    import torch.nn.functional as F
    from IPython.display import display

    from minivid import evaluate, sampling, text, world
    from minivid.checkpoint import find_shipped
    from minivid.dit import DiT
    from minivid.pipeline import TextToVideo, noise_for
    from minivid.viz import show_video

    plt.rcParams.update({"figure.dpi": 80, "savefig.dpi": 80})  # small figures keep the notebook small
    torch.set_num_threads(1)  # small models: one thread is fastest, and polite on a shared machine
    _ = torch.manual_seed(0)  # every random draw below is seeded
    """),
    md("""
    ## 1 · Prompts: what should the world show?

    ShapesWorld (lesson 01) speaks a tiny closed language: every object has one colour, one shape and one motion.
    `text.parse_prompt` reads a prompt into those slots, in English or Chinese. It first **normalises** the text (case,
    spaces, full-width characters, a final full stop; simplified characters become traditional ones, the form the
    captions use), then cuts it into words (Chinese has no spaces: greedy longest match against the known words), then
    fills the slots. Word order inside an object is free, and `and`, `和` or a comma start a second object.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for prompt in ["a red circle moves left", "紅色的圓形向左移動", "红色的圆形向左移动", "A red circle is moving left.",
                   "a blue square rotates clockwise and a yellow triangle bounces", "一個藍色的正方形順時針旋轉和黃色三角形彈跳"]:
        print(repr(prompt), "->", text.parse_prompt(prompt))
    print()
    print("normalise:", repr(text.normalise("ＡＮ Orange  Square，bounces。")), "|", repr(text.normalise("红色的圆形")))
    print("split_words:", text.split_words("紅色的圓形向左移動"))
    """),
    md("""
    A prompt the world cannot show is an **error**, not a guess: there is no `<unk>` token, because the model could not
    follow an unknown word anyway. Each `PromptError` says what is wrong and how to fix it (the pipeline checks every
    prompt before it spends any compute):
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for prompt in ["a pink circle moves left", "紅色的圓形向左跳", "a red circle rotates clockwise", "a red circle",
                   "a red circle moves left and a red square bounces"]:
        try:
            text.parse_prompt(prompt)
        except text.PromptError as error:
            print(f"PromptError: {error}")
    """),
    md("""
    ## 2 · Words → token ids

    Because every word is known in advance, the tokenizer needs no learning (no BPE): **one word, one token**, from a
    fixed vocabulary built from the world's tables. Two special tokens come first: `<pad>` (id 0) fills short rows,
    `<bos>` (id 1) starts every prompt. Then the English words, the Chinese words and the comma:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(f"vocabulary: {text.vocab_size} tokens, at most {text.MAX_PROMPT_TOKENS} per prompt (with <bos>)")
    for role in ["special", "colour", "shape", "verb", "direction", "filler", "separator"]:
        words = text.SPECIAL_TOKENS if role == "special" else [w for w, e in text.LEXICON.items() if e.role == role]
        print(f"{role:>9}:", " ".join(f"{w}={text.TOKEN_IDS[w]}" for w in words))
    """),
    md("""
    English and Chinese words get **different ids**: `red` is 2, `紅` is 34. Nothing in the ids says they mean the same
    thing; the text encoder has to *learn* it from training captions written in both languages. (The lexicon knows,
    in its `meaning` column, but that is used only by the parser, never by the model.) Simplified and traditional
    characters share ids, because `normalise` has already made them one text:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    for prompt in ["a red circle moves left", "紅色的圓形向左移動"]:
        ids = text.tokenize(prompt)
        print(f"{prompt!r} -> {ids}")
        for i in ids:
            entry = text.LEXICON.get(text.VOCAB[i])
            role = "(special)" if entry is None else f"{entry.role} {entry.meaning or ''}".strip()
            print(f"    {i:2d}  {text.VOCAB[i]:<8} {role}")
    assert text.tokenize("红色的圆形向左移动") == text.tokenize("紅色的圓形向左移動")  # simplified == traditional
    assert text.tokenize("A RED circle goes left.") == text.tokenize("a red circle moves left")  # 'goes' is an alias
    print("decode:", repr(text.decode(text.tokenize("红色的圆形向左移动"))))
    """),
    md("""
    ## 3 · Batches and padding masks

    A batch of prompts of different lengths becomes one rectangle: each row is right-padded with `<pad>` to `max_len`
    (24 by default), and a boolean **mask** marks the real tokens. Everything downstream uses the mask to ignore the
    pads. `None` stands for *no prompt*: just `<bos>`. It is the unconditional input of classifier-free guidance
    (section 7); during training 10% of the captions were replaced by it.
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    batch = ["a red circle moves left", "紅色的圓形向左移動",
             "a blue square rotates clockwise and a yellow triangle bounces", None]
    ids, mask = text.encode_batch(batch, max_len=14)
    print("ids", tuple(ids.shape), ids.dtype, "| mask", tuple(mask.shape), mask.dtype)
    for prompt, row, m in zip(batch, ids, mask):
        marks = "".join("■" if b else "·" for b in m.tolist())
        print(" ".join(f"{i:2d}" for i in row.tolist()), " ", marks, " ", prompt)
    """),
    md("""
    ## 4 · The text encoder, by hand

    The shipped model (`data/t2v/shapes`) trains its own small text encoder from scratch, together with the diffusion
    transformer (big models borrow a pretrained T5 or CLIP instead; our language has 61 words). It is a 2-layer
    transformer of width 128:

    1. look up a 128-vector per token id, and put a learned **register token** in front of the caption;
    2. add learned position embeddings;
    3. two pre-LayerNorm transformer layers (self-attention in which padded keys are masked out, then an MLP);
    4. a final LayerNorm: these **per-token features** (1 + 24 of them) are what cross-attention reads (section 6);
    5. a **masked mean** over the real tokens and the register: one **pooled vector** per prompt.

    Why the register? It is never masked, so even the empty prompt (all caption tokens masked out) leaves every
    attention one key to look at and the mean something to divide by: no NaNs, and the model can learn what "no
    caption" means through it. We load the model and write one attention function that we will use twice: here for the
    encoder's self-attention, and in section 6 for the DiT's cross-attention.
    """),
    code("""
    pipe = TextToVideo.from_pretrained(find_shipped("data/t2v/shapes"), device="cpu")
    model, enc = pipe.dit, pipe.dit.text_encoder
    cfg = model.config
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    print(f"text encoder: vocabulary {cfg.text_vocab_size}, width {cfg.text_width}, {cfg.text_depth} layers, "
          f"{cfg.text_heads} heads, {sum(p.numel() for p in enc.parameters()):,} parameters "
          f"(of the DiT's {model.num_params():,})")
    """),
    code("""
    @torch.no_grad()
    def my_attention(layer, x, context, key_mask):
        \"\"\"Multi-head attention of queries from x (b n d) to keys and values from context (b l d'), by hand.

        key_mask (b l) bool: False keys get weight 0. Returns the output (b n d) and the weights (b heads n l).
        \"\"\"
        heads = layer.heads
        q = F.linear(x, layer.q.weight, layer.q.bias)  # b n d
        k, v = F.linear(context, layer.kv.weight, layer.kv.bias).chunk(2, dim=-1)  # b l d each
        split = lambda z: z.unflatten(-1, (heads, -1)).transpose(1, 2)  # noqa: E731  b n d -> b heads n e
        q, k, v = split(q), split(k), split(v)
        scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])  # b heads n l
        scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))  # a masked key can never win
        weights = scores.softmax(dim=-1)  # each query's weights sum to 1 over the real keys
        out = (weights @ v).transpose(1, 2).flatten(2)  # b n d: the heads side by side again
        return F.linear(out, layer.proj.weight, layer.proj.bias), weights


    @torch.no_grad()
    def my_text_encoder(enc, ids, mask):
        \"\"\"(b l) ids and mask -> features (b 1+l d), their mask (b 1+l), pooled (b d).\"\"\"
        b, l = ids.shape
        x = torch.cat([enc.register.expand(b, -1, -1), enc.token_embedding.weight[ids]], dim=1)  # register first
        x = x + enc.pos_embedding[:, : 1 + l]
        mask = torch.cat([torch.ones(b, 1, dtype=torch.bool), mask], dim=1)  # the register is never masked
        for block in enc.blocks:
            h = F.layer_norm(x, x.shape[-1:], block.norm1.weight, block.norm1.bias)
            x = x + my_attention(block.attn, h, h, mask)[0]
            h = F.layer_norm(x, x.shape[-1:], block.norm2.weight, block.norm2.bias)
            h = F.gelu(F.linear(h, block.mlp.fc1.weight, block.mlp.fc1.bias), approximate="tanh")
            x = x + F.linear(h, block.mlp.fc2.weight, block.mlp.fc2.bias)
        x = F.layer_norm(x, x.shape[-1:], enc.norm.weight, enc.norm.bias)
        w = mask.float().unsqueeze(-1)  # b 1+l 1
        pooled = (x * w).sum(1) / w.sum(1)  # mean over the register and the real tokens
        return x, mask, pooled
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ids, mask = text.encode_batch(batch)  # the four prompts above, padded to 24
    features, features_mask, pooled = my_text_encoder(enc, ids, mask)
    with torch.no_grad():
        ref_features, ref_mask, ref_pooled = enc(ids, mask)
    assert torch.allclose(features, ref_features, atol=1e-5) and torch.equal(features_mask, ref_mask)
    assert torch.allclose(pooled, ref_pooled, atol=1e-5)
    print(f"ids {tuple(ids.shape)} -> features {tuple(features.shape)}, mask {tuple(features_mask.shape)}, "
          f"pooled {tuple(pooled.shape)} | my_text_encoder == model.text_encoder ✓")
    """),
    md("""
    **What the mask buys.** Padding is bookkeeping, so it must not change the meaning: the same prompt padded to 24
    tokens or not padded at all gives the same pooled vector, because pads are never attended to and never averaged.
    Drop the mask (attend to the pads as if they were words) and the vector changes:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    one = ["a red circle moves left"]
    with torch.no_grad():
        pooled_24 = enc(*text.encode_batch(one))[2]  # 6 tokens + 18 pads
        pooled_6 = enc(*text.encode_batch(one, max_len=6))[2]  # no pads at all
        ids_24, mask_24 = text.encode_batch(one)
        pooled_nomask = enc(ids_24, torch.ones_like(mask_24))[2]  # the pads treated as words
    assert torch.allclose(pooled_24, pooled_6, atol=1e-5)
    assert not torch.allclose(pooled_24, pooled_nomask, atol=1e-3)
    print("18 masked pads change nothing ✓ | the same pads unmasked change the pooled vector ✓")
    """),
    md("""
    **Where the pooled vector goes.** The DiT adds it, through one linear layer, to the timestep embedding:
    c = `t_embedder(t)` + `text_pool_proj(pooled)`. Every block regresses its adaLN shift, scale and gate from c
    (lesson 06), so the caption as a whole tilts every layer of the network. It is a summary: one vector for the
    whole prompt. The per-token features go through the second door, cross-attention (section 6).
    """),
    code("""
    with torch.no_grad():
        c_time = model.t_embedder(torch.tensor([0.5]))  # 1 d
        c_text = model.text_pool_proj(pooled_24)  # 1 d
    print(f"c = t_embedder(t) + text_pool_proj(pooled), {tuple((c_time + c_text).shape)}: "
          f"|time part| = {c_time.norm():.2f}, |text part| = {c_text.norm():.2f} (t = 0.5, {one[0]!r})")
    """),
    md("""
    ## 5 · Does the encoder know that 紅 = red?

    The ids of `a red circle moves left` and `紅色的圓形向左移動` have nothing in common. If training worked, the
    encoder has nevertheless learnt to map both to nearby pooled vectors, because both captions described the same
    clips. We measure it: the cosine similarity of the pooled vectors of a few prompts, for a freshly initialised
    model (same architecture, seed 0) and for the shipped one. The figure labels prompts by number (the plot font has
    no Chinese characters); the list is printed first.
    """),
    code("""
    SIM_PROMPTS = ["a red circle moves left", "紅色的圓形向左移動", "a blue square rotates clockwise", "藍色的正方形順時針旋轉",
                   "a yellow triangle bounces", "黃色的三角形彈跳", "the red circle is moving left", "a red square moves left"]
    PAIRS = [(0, 1), (2, 3), (4, 5)]  # the same scene in English and Chinese
    for i, prompt in enumerate(SIM_PROMPTS):
        print(f"P{i}: {prompt}")

    torch.manual_seed(0)
    fresh_enc = DiT(cfg).text_encoder  # same architecture, untrained
    sim_ids, sim_mask = text.encode_batch(SIM_PROMPTS)
    with torch.no_grad():
        sims = {name: (lambda p: p @ p.T)(F.normalize(e(sim_ids, sim_mask)[2], dim=-1))
                for name, e in [("untrained", fresh_enc), ("shipped (trained)", enc)]}

    fig, axes = plt.subplots(1, 2, figsize=(8.4, 3.7), layout="constrained")
    for ax, (name, s) in zip(axes, sims.items()):
        im = ax.imshow(s, cmap="viridis", vmin=-1, vmax=1)
        ax.set_xticks(range(len(SIM_PROMPTS)), [f"P{i}" for i in range(len(SIM_PROMPTS))])
        ax.set_yticks(range(len(SIM_PROMPTS)), [f"P{i}" for i in range(len(SIM_PROMPTS))])
        for i in range(len(SIM_PROMPTS)):
            for j in range(len(SIM_PROMPTS)):
                ax.text(j, i, f"{s[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="w" if s[i, j] < 0.5 else "k")
        ax.set_title(f"cosine similarity of pooled text, {name}", fontsize=10)
    fig.colorbar(im, ax=axes, shrink=0.8)
    plt.show()

    for name, s in sims.items():
        same = torch.stack([s[i, j] for i, j in PAIRS]).mean()
        other = torch.stack([s[i, j] for a, (i, _) in enumerate(PAIRS) for (j, _) in PAIRS[a + 1:]]).mean()
        cross = torch.stack([s[i, j] for a, (i, _) in enumerate(PAIRS) for (_, j) in PAIRS if j != i + 1]).mean()
        print(f"{name:>17}: same scene EN↔ZH {same:.2f} | different scenes EN↔EN {other:.2f}, EN↔ZH {cross:.2f}")
    """),
    md("""
    Read the English-Chinese pairs (P0/P1, P2/P3, P4/P5) against the pairs of different scenes, in both panels.
    Whatever the untrained model shows comes from the architecture alone (shared filler tokens, positions, the
    register); any gap that appears in the trained panel was learnt from the paired captions. P6 says P0 in other
    words, and P7 changes one word of P0: compare their rows with P0's.

    What an encoder learns is also what it did *not* need to learn. Pairs of prompts that differ in one motion
    word, each the same scene otherwise: how close are their pooled vectors, and how far apart are their token
    vectors at most (relative to the token's length)? Two encoders: the shipped model's **first** training run
    (9,000 CPU steps, trained only through the denoising loss; it ships as `data/t2v/weak`, the weaker model of
    lesson 08's autoguidance, and the pipeline has loaded it as `pipe.weak`), and the shipped model itself.
    """),
    code("""
    first_run = pipe.weak  # the first of the shipped model's fourteen training runs, without any auxiliary loss
    MOTION_PAIRS = [("moves left", "moves right"), ("moves up", "moves down"), ("bounces", "stays still"),
                    ("rotates clockwise", "stays still"), ("rotates clockwise", "rotates counterclockwise")]
    for name, e in (("first run", first_run.text_encoder), ("shipped", enc)):
        print(name)
        for a, b in MOTION_PAIRS:
            ids_ab, mask_ab = text.encode_batch([f"a red square {a}", f"a red square {b}"])
            with torch.no_grad():
                tokens_ab, token_mask, pooled_ab = e(ids_ab, mask_ab)
            n = int(token_mask[0].sum())
            apart = ((tokens_ab[0, :n] - tokens_ab[1, :n]).norm(dim=-1) / tokens_ab[0, :n].norm(dim=-1)).max()
            print(f"  {a:>18} vs {b:<25} pooled cosine {F.cosine_similarity(*pooled_ab, dim=0):.3f}, "
                  f"tokens apart by at most {apart:.0%}")
    """),
    md("""
    The first run tells every pair apart but one: "clockwise" and "counterclockwise" come out of its encoder nearly
    identical, so its DiT is asked for the same thing either way. A text encoder trained only through the denoising
    loss learns a distinction only if it lowers that loss, and early in sampling a model draws no rotation in either
    direction (lesson 09), so the direction never paid. Every model trained in this project without help showed
    the same (`data/t2v/README.md`, "Where rotation is lost"), and it is why such a model draws an asked
    counterclockwise turn clockwise as often as not, or not at all. The shipped model's encoder keeps the two
    apart about as far as any other pair: its training runs from the sixth on had the help built next.

    If the denoising loss does not ask for the distinction, another loss can. Give the encoder a second, small job:
    a linear head on the pooled vector must name each object's (colour, motion) pair, one yes/no per pair (64 of
    them), scored by binary cross-entropy. "Clockwise" and "counterclockwise" are different answers, so the encoder
    must keep them apart. Here a copy of the first run's encoder does that job alone for 150 steps, on the 16
    captions "a red square …" and "a blue triangle …" with every motion:
    """),
    code("""
    import copy

    from minivid.text_aux import caption_labels, text_aux_loss

    AUX_CAPTIONS = [f"a {c} {s} {m}" for c, s in (("red", "square"), ("blue", "triangle")) for m in world.MOTIONS]
    aux_labels = caption_labels(AUX_CAPTIONS)  # (16, 8 colours x 8 motions): a 1 at each object's (colour, motion)
    aux_ids, aux_mask = text.encode_batch(AUX_CAPTIONS)
    torch.manual_seed(0)
    aux_model = copy.deepcopy(first_run)  # to leave the loaded models untouched; only its text encoder trains
    aux_head = torch.nn.Linear(cfg.text_width, aux_labels.shape[1])
    aux_opt = torch.optim.Adam([*aux_model.text_encoder.parameters(), *aux_head.parameters()], lr=3e-3)
    pair_ids, pair_mask = text.encode_batch(["a red square rotates clockwise", "a red square rotates counterclockwise"])


    def pair_cosine() -> float:
        with torch.no_grad():
            return F.cosine_similarity(*aux_model.text_encoder(pair_ids, pair_mask)[2], dim=0).item()


    cosines = [pair_cosine()]
    for step in range(150):
        pooled = aux_model.text_encoder(aux_ids, aux_mask)[2]  # (16 d_text)
        loss = F.binary_cross_entropy_with_logits(aux_head(pooled), aux_labels)  # mean over captions x 64 answers
        aux_opt.zero_grad()
        loss.backward()
        aux_opt.step()
        cosines.append(pair_cosine())
    with torch.no_grad():  # the package's version: what `python -m minivid.train t2v --text-aux-weight W` adds, x W
        inline = F.binary_cross_entropy_with_logits(aux_head(aux_model.text_encoder(aux_ids, aux_mask)[2]), aux_labels)
        package = text_aux_loss(aux_model, aux_head, aux_ids, aux_mask, aux_labels, kept=len(AUX_CAPTIONS))
    assert torch.allclose(inline, package), (inline, package)
    assert cosines[-1] < cosines[0] - 0.05, cosines[-1]
    print(f"clockwise vs counterclockwise, pooled cosine: {cosines[0]:.3f} before, {cosines[-1]:.3f} after 150 steps")
    fig, ax = plt.subplots(figsize=(5, 2.4))
    ax.plot(cosines)
    ax.set(xlabel="steps of the auxiliary loss", ylabel="pooled cosine", title="clockwise vs counterclockwise")
    plt.show()
    """),
    md("""
    For a while nothing moves: the head first learns what the encoder already tells apart (colours, the other
    motions), and only when the two rotation answers are the last errors left does the gradient push the two
    captions apart. In real training the auxiliary loss is added to the denoising loss (`--text-aux-weight`), and
    the head is thrown away at the end. What it did for the DiT is measured in `data/t2v/README.md` ("The text encoder does not tell
    the directions apart"): added on the CPU to the training of the model shipped then, it pulled the directions apart but
    cost two-object prompts 8 to 30 points, and rotations stayed rare: changing the words' features under a DiT
    that learnt to read the old ones has a price. From the first step it pays. The same 9,000-step CPU run with
    the loss (read from the register token, weight 10) turns the asked way in 134 of 208 rotating clips sampled
    from noise and the other way in none; without it, 32 the asked way and 24 the other. A word the encoder
    cannot tell apart is a word the DiT never learns to follow. (It is not free: trained on, that run kept its
    turns but followed two-object prompts in 14% of clips against 31% for its twin, so it was not shipped.)

    Why would naming every (colour, motion) pair from one vector cost two objects? The DiT's cross-attention
    (next section) reads the **words' own tokens**, and a second object needs each word to know which object it
    belongs to. A third way to ask puts the loss there (`--text-aux-from tokens`): every word token names **its own
    object's** pair. Here are the answers one caption asks for, built inline and checked against the package:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    from minivid.text_aux import NAMES_NOTHING, caption_token_labels, pair_class

    CAPTION = "a red square rotates clockwise and a blue circle bounces"
    objects = text.parse_prompt(CAPTION)  # [(shape, colour, motion), ...], one per clause, in order
    answers, clause = [NAMES_NOTHING, NAMES_NOTHING], 0  # the register and <bos> name nothing
    for word in text.split_words(CAPTION):
        if text.LEXICON[word].role == "separator":  # 'and' ends one object's clause
            answers.append(NAMES_NOTHING)
            clause += 1
        else:
            _, colour, motion = objects[clause]
            answers.append(pair_class(colour, motion))
    package = caption_token_labels([CAPTION])[0]  # (1 + 24): laid out like the encoder's output, pads name nothing
    assert package[:len(answers)].tolist() == answers and (package[len(answers):] == NAMES_NOTHING).all()
    for word, answer in zip(text.split_words(CAPTION), answers[2:]):
        colour, motion = divmod(answer, len(world.MOTIONS))  # pair_class = colour index x motions + motion index
        named = "-" if answer == NAMES_NOTHING else f"{list(world.COLOURS)[colour]}, {world.MOTIONS[motion]}"
        print(f"{word:>10} -> {named}")
    """),
    md("""
    `red` must say "rotates clockwise" and `bounces` must say "blue": a word can only answer by reading its own
    clause. From the first step (the same 9,000-step CPU run, weight 1) it taught the turns like the register
    did (123 of 208 rotating clips the asked way, 2 the other) with the best single-object scores of those first
    runs (75.7% seen vs 70.1% without a loss); trained on, two-object prompts reached 18-22% against 14% for the
    register and 31% without any loss (`data/t2v/README.md`, "Every word names its own object"). This is the loss
    the shipped model's runs from the sixth on were trained with, continuing a model that had already learnt to bind two
    objects. After the two on a GPU with batch 512 (three seeds, guidance 4), seen prompts that ask a rotation
    passed in 47% of clips instead of 13%, held-out prompts in 85% instead of 77%, for 4 points fewer on
    two-object prompts (48 vs 52%); the eighth and ninth, on the CPU with batch 64, longer and with their learning
    rates annealed, took them to 72%, 90-93% and 72% (with lesson 08's autoguidance; `data/t2v/README.md`,
    "Measured").

    ## 6 · Cross-attention: which word does each place in the video read?

    The pooled vector is one summary for the whole clip. Cross-attention lets **every video token ask the text
    separately**. In each DiT block, after self-attention:

    ```python
    x = x + cross_attn(norm_cross(x), context=text_features, key_mask=text_mask)
    ```

    The **queries** come from the 80 video tokens (5 latent frames × 4 × 4 positions, lesson 02), the **keys and
    values** from the 25 text features of section 4 (register, `<bos>`, the words, masked pads). Each video token gets
    a softmax over the text tokens and takes home their weighted values. There is no position rotation here (a word
    has no place in the video) and no adaLN gate (its output projection starts at zero instead, so an untrained block
    is still the identity; lesson 06).

    To watch it at work we **record** each cross-attention layer's inputs and output during a real sampling run, with
    PyTorch forward hooks (they only read; the model is not changed), then recompute the attention by hand. With
    guidance (section 7) every step runs the model twice, once with the prompt and once without; we keep the passes
    with the prompt.
    """),
    code("""
    @contextlib.contextmanager
    def record_cross_attention(model):
        \"\"\"Record input, text, mask and output of every cross-attention call (forward hooks, read only).\"\"\"
        calls = []

        def hook_for(layer_index):
            def hook(module, args, kwargs, output):
                calls.append(dict(layer=layer_index, x=args[0], text=kwargs["context"], mask=kwargs["key_mask"],
                                  out=output))
            return hook

        handles = [block.cross_attn.register_forward_hook(hook_for(i), with_kwargs=True)
                   for i, block in enumerate(model.blocks)]
        try:
            yield calls
        finally:
            for handle in handles:
                handle.remove()


    PROMPT, STEPS, GUIDANCE = "a red circle moves right", 20, 4.0
    with record_cross_attention(model) as calls:
        latents = pipe.sample_latents(PROMPT, steps=STEPS, guidance=GUIDANCE, seed=0, autoguidance=0)
    clip = pipe.vae.decode_latents(latents).float()[0]  # t c h w

    n_text = 1 + len(text.tokenize(PROMPT))  # register + <bos> + words: the real keys of the prompt pass
    with_prompt = [c for c in calls if int(c["mask"].sum()) == n_text]  # the empty prompt has only 2 real keys
    per_step = [with_prompt[s * cfg.depth:(s + 1) * cfg.depth] for s in range(STEPS)]  # per_step[step][layer]
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    STEP = STEPS // 2  # halfway: t = 0.5
    call = per_step[STEP][0]
    print(f"{len(calls)} cross-attention calls = {STEPS} steps x 2 passes x {cfg.depth} layers; "
          f"{len(with_prompt)} with the prompt")
    print(f"one call: video tokens {tuple(call['x'].shape)}, text {tuple(call['text'].shape)}, "
          f"mask {tuple(call['mask'].shape)} with {int(call['mask'].sum())} real keys")
    attn = {}  # layer -> head-averaged weights (n_video n_text) at STEP
    for layer, call in enumerate(per_step[STEP]):
        out, weights = my_attention(model.blocks[layer].cross_attn, call["x"], call["text"], call["mask"])
        assert torch.allclose(out, call["out"], atol=1e-5), f"layer {layer}: hand-made attention differs"
        assert torch.allclose(weights.sum(-1), torch.ones_like(weights[..., 0])) and (weights[..., n_text:] == 0).all()
        attn[layer] = weights.mean(1)[0]  # average over heads
    print(f"step {STEP} (t = {1 - STEP / STEPS:.2f}), all {cfg.depth} layers: my_attention == the layer's output ✓ "
          f"| weights sum to 1, pads get 0 ✓")
    """),
    md("""
    First the overview: for every layer, the attention each text token receives, averaged over the 80 video tokens
    (rows sum to 1). Pads are left out: they get exactly 0.
    """),
    code("""
    token_names = ["<register>"] + [text.VOCAB[i] for i in text.tokenize(PROMPT)]  # the English prompt: plot-safe
    overview = torch.stack([attn[layer][:, :n_text].mean(0) for layer in range(cfg.depth)])  # layers x tokens

    fig, ax = plt.subplots(figsize=(6.5, 3.6), layout="constrained")
    ax.imshow(overview, cmap="magma", vmin=0, vmax=1, aspect="auto")
    for (i, j), value in np.ndenumerate(overview.numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7, color="w" if value < 0.5 else "k")
    ax.set_xticks(range(n_text), token_names)
    ax.set(ylabel="DiT block", title=f"mean cross-attention per text token, step {STEP} of {STEPS}")
    plt.show()
    """),
    md("""
    Now the places. Each latent frame is a 4 × 4 grid of video tokens, each covering 8 × 8 pixels. For one layer we
    draw how much each video token attends to the **colour word**, the **shape word** and the **motion word**, under
    the frames of the generated clip (latent frame k summarises pixel frames up to 4k, lesson 03). Each row has its
    own colour scale: bright = more attention to that word than elsewhere in the clip.
    """),
    code("""
    def show_cross_attention(layer=4, step=STEP):
        \"\"\"Cross-attention maps of one layer at one sampling step, under the generated frames.\"\"\"
        _, w = my_attention(model.blocks[layer].cross_attn, *(per_step[step][layer][k] for k in ("x", "text", "mask")))
        w = w.mean(1)[0, :, :n_text]  # video tokens x real text tokens
        roles = [None, None] + [text.LEXICON[word].role for word in token_names[2:]]
        words = [roles.index("colour"), roles.index("shape"), len(roles) - 1]  # the motion's last word: left, bounces
        fig, axes = plt.subplots(1 + len(words), 5, figsize=(7.5, 6), layout="constrained")
        for k in range(5):
            axes[0, k].imshow(clip[4 * k].permute(1, 2, 0).clamp(0, 1), extent=(0, 32, 32, 0), interpolation="nearest")
            axes[0, k].set_title(f"frame {4 * k} | latent {k}", fontsize=9)
        axes[0, 0].set_ylabel("generated clip", fontsize=9)
        for r, j in enumerate(words, start=1):
            maps = w[:, j].reshape(5, 4, 4)  # 80 video tokens -> latent frames x rows x columns
            for k in range(5):
                axes[r, k].imshow(maps[k], cmap="magma", vmin=maps.min(), vmax=maps.max(), extent=(0, 32, 32, 0))
            axes[r, 0].set_ylabel(f"→ '{token_names[j]}'", fontsize=9)
        for ax in axes.flat:
            ax.set_xticks([])
            ax.set_yticks([])
        fig.suptitle(f"{PROMPT!r}: cross-attention of block {layer}, step {step} of {STEPS} (t = {1 - step / STEPS:.2f})",
                     fontsize=10)
        plt.show()


    show_cross_attention(layer=4, step=STEP)
    """),
    md("""
    Compare the bright cells with where the object is in the frame above them. Try other layers and steps with
    `show_cross_attention(layer, step)`: early steps (t near 1) see almost pure noise, late ones an almost finished
    clip. Note that a text feature is not a word in isolation: after two layers of self-attention in the encoder, the
    feature at `red` also carries something of the rest of the sentence.

    ## 7 · Classifier-free guidance

    A conditional model trained with captions *sometimes dropped* (10% of the time here) is two models in one: with
    the prompt it predicts a conditional velocity v(x, t | c), with the empty prompt an unconditional one v(x, t | ∅).
    **Classifier-free guidance** (Ho & Salimans 2022) samples with an extrapolation of the two:

    ```
    v_guided = v_uncond + s · (v_cond − v_uncond)
    ```

    s = 0 ignores the prompt, s = 1 is the plain conditional model, s > 1 goes *further* in the direction in which the
    prompt moves the prediction. Why it helps: by Bayes, ∇ log p(x | c) = ∇ log p(x) + ∇ log p(c | x), so the
    difference cond − uncond plays the part of an implicit classifier's gradient "how much more does x look like c",
    and s > 1 sharpens samples towards what the prompt picks out, at the cost of variety (and, at large s, of
    artefacts). The price: two model calls per step. By hand, on pure noise at t = 1, against
    `sampling.classifier_free_guidance`:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    ids, mask = text.encode_batch([PROMPT])
    null_ids, null_mask = text.encode_batch([None])  # the empty prompt: <bos> only
    x = noise_for(0, 0, pipe.latent_size(17), "cpu")[None]  # the pipeline's starting noise for seed 0, prompt 0
    t = torch.ones(1)
    SCALES = [0, 1, 2, 4, 7]
    with torch.no_grad():
        v_uncond, v_cond = model(x, t, null_ids, null_mask), model(x, t, ids, mask)
        for s in SCALES:
            mine = v_uncond + s * (v_cond - v_uncond)
            guided = sampling.classifier_free_guidance(model, (ids, mask), (null_ids, null_mask), s)
            assert torch.allclose(mine, guided(x, t), atol=1e-5), f"scale {s}"
    print(f"x {tuple(x.shape)} | v_uncond + s (v_cond - v_uncond) == sampling.classifier_free_guidance "
          f"for s in {SCALES} ✓")
    """),
    code("""
    print(f"at t = 1: |v_cond - v_uncond| / |v_uncond| = {(v_cond - v_uncond).norm() / v_uncond.norm():.3f}: "
          "the share of the prediction that the prompt decides, which guidance multiplies")
    """),
    md("""
    The whole sampler is that formula inside lesson 04's Euler loop, on time steps bent by the checkpoint's time
    shift (lesson 08). Written out, it reproduces the pipeline exactly:
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    @torch.no_grad()
    def my_generate(prompt, scale, steps=20, seed=0):
        \"\"\"Latents of one prompt: Euler from t = 1 to 0 on the guided velocity.\"\"\"
        cond, uncond = text.encode_batch([prompt]), text.encode_batch([None])
        x = noise_for(0, seed, pipe.latent_size(17), "cpu")[None]
        ts = torch.linspace(1, 0, steps + 1)
        shift = pipe.defaults["shift"]  # the checkpoint's time shift (lesson 08): more steps at high noise
        ts = shift * ts / (1 + (shift - 1) * ts)
        for t, t_next in zip(ts[:-1], ts[1:]):
            v_u, v_c = model(x, t[None], *uncond), model(x, t[None], *cond)
            x = x + (t_next - t) * (v_u + scale * (v_c - v_u))
        return x


    assert torch.allclose(my_generate(PROMPT, GUIDANCE), latents, atol=1e-4)
    print(f"my_generate({PROMPT!r}, {GUIDANCE}) == pipe.sample_latents(...) ✓ (latents {tuple(latents.shape)})")
    """),
    md("""
    Now the same prompt and the same starting noise at five guidance scales, and what `minivid.evaluate.describe`
    (the probe of lesson 09) reads from each clip. The clip at guidance 4 is the one whose cross-attention we drew in
    section 6. (For display only, the GIFs are rounded to 33 levels per channel, which keeps them small: generated
    clips have faint noise that GIF compresses badly. The probe reads the clips as they are.)
    """),
    code("""
    def for_display(videos):
        return (videos * 32).round() / 32  # 33 levels per channel: small GIFs, no visible difference


    sweep = torch.cat([pipe([PROMPT], guidance=s, steps=STEPS, seed=0, autoguidance=0) for s in SCALES])
    assert torch.allclose(sweep[SCALES.index(GUIDANCE)], clip, atol=1e-5)  # the clip of section 6
    display(show_video(for_display(sweep), captions=[f"guidance {s}" for s in SCALES], scale=3))
    for s, video, found in zip(SCALES, sweep, evaluate.describe_batch(sweep)):
        verdict = "followed" if evaluate.prompt_adherence(video[None], [PROMPT])["overall"] == 1 else "missed"
        read = "; ".join(f"{o.colour} {o.shape} {o.motion}{'' if o.consistent else ' (inconsistent)'}" for o in found)
        print(f"guidance {s}: {verdict:8} | read: {read or 'nothing'}")
    """),
    md("""
    One clip per scale is an anecdote. A dozen prompts (half English, half Chinese, combinations seen in training) at
    each scale, scored with `evaluate.prompt_adherence`: the share of clips that get everything right, and the share
    of objects that get each attribute right. A dozen is a small sample: a difference of one or two clips is noise.
    """),
    code("""
    rng = np.random.default_rng(0)
    combos = world.split_combinations("train")
    picks = [combos[i] for i in rng.choice(len(combos), 12, replace=False)]
    SWEEP_PROMPTS = [world.caption(world.ObjectSpec(shape=s, colour=c, motion=m), lang)
                     for (s, c, m), lang in zip(picks, ["en", "zh"] * 6)]
    print("prompts:", ", ".join(SWEEP_PROMPTS))
    start = time.perf_counter()
    print(f"{'guidance':>8} | {'overall':>7} | {'colour':>6} | {'shape':>5} | {'motion':>6} | {'consistent':>10}")
    for s in SCALES:
        r = evaluate.prompt_adherence(pipe(SWEEP_PROMPTS, guidance=s, steps=STEPS, seed=0, autoguidance=0),
                                      SWEEP_PROMPTS)
        print(f"{s:>8} | {r['overall']:7.0%} | {r['colour']:6.0%} | {r['shape']:5.0%} | {r['motion']:6.0%} | "
              f"{r['consistency']:10.0%}")
    print(f"({len(SCALES) * len(SWEEP_PROMPTS)} clips in {time.perf_counter() - start:.0f} s)")
    """),
    md("""
    The checkpoint records the scale it recommends (`pipe.defaults["guidance"]`, used when you pass none) together
    with a third pass it recommends on top, autoguidance (`pipe.defaults["autoguidance"]`), which this lesson turns
    off (`autoguidance=0`) to show classifier-free guidance alone; lesson 08 builds it and measures both on the
    evaluation set.

    ## 8 · Play with it

    Pick or type a prompt (English, traditional or simplified Chinese; press Enter after typing), a guidance scale
    and a seed; the clip is regenerated with 16 Euler steps (a fraction of a second), and the probe says what it sees.
    A prompt the world cannot show prints its `PromptError`. The controls need a running kernel; a static example
    follows.
    """),
    code("""
    CHOICES = ["a red circle moves right", "紅色的圓形向右移動", "a blue square rotates clockwise", "黄色的三角形弹跳",
               "a green triangle moves up", "an orange square stays still", "a white circle bounces",
               "a cyan square moves left and a purple circle moves down"]


    def explore_guidance(prompt="a red circle moves right", guidance=4.0, seed=0):
        try:
            video = pipe([prompt], guidance=guidance, steps=16, seed=seed, autoguidance=0)
        except text.PromptError as error:
            print(f"PromptError: {error}")
            return
        display(show_video(for_display(video), captions=f"{prompt} | guidance {guidance}"))
        found = evaluate.describe(video[0])
        verdict = "followed" if evaluate.prompt_adherence(video, [prompt])["overall"] == 1 else "missed"
        print(f"asked: {text.parse_prompt(prompt)} | read: {'; '.join(map(str, found)) or 'nothing'} | {verdict}")


    controls = dict(
        prompt=widgets.Combobox(value=CHOICES[0], options=CHOICES, ensure_option=False, continuous_update=False,
                                description="prompt", layout=widgets.Layout(width="420px")),
        guidance=widgets.FloatSlider(value=4.0, min=0.0, max=10.0, step=0.5, description="guidance"),
        seed=widgets.IntSlider(value=0, min=0, max=9, description="seed"),
    )
    display(widgets.HBox(list(controls.values())), widgets.interactive_output(explore_guidance, controls))
    """),
    code("""
    explore_guidance("黄色的三角形弹跳", guidance=7.0, seed=1)  # a static example
    """),
    md("""
    ## 9 · Your turn: the padding mask and the pooled vector

    Write the two pieces of text plumbing yourself:

    - `my_encode_batch(prompts, max_len)`: for each prompt the row `[<bos>, ids...]` (use `text.tokenize`), or just
      `[<bos>]` for `None`; right-pad every row with `text.PAD_ID` to `max_len`; return the ids (`(b, max_len)`,
      long) and the mask (`(b, max_len)`, bool, True at real tokens);
    - `my_pool(features, mask)`: the mean of `features` (b l d) over the positions where `mask` (b l) is True.

    The cell ships with a working solution so the notebook runs top to bottom. **Replace the marked lines with your own
    code** and run the check below it: it raises an `AssertionError` saying what is off if your answer disagrees with
    `text.encode_batch` or with the pooled vector of the shipped text encoder.
    """),
    code("""
    def my_encode_batch(prompts, max_len=text.MAX_PROMPT_TOKENS):
        \"\"\"(ids, mask) of a list of prompts, both (b, max_len); None = the empty prompt.\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        rows = [[text.BOS_ID] if p is None else text.tokenize(p) for p in prompts]
        ids = torch.tensor([row + [text.PAD_ID] * (max_len - len(row)) for row in rows], dtype=torch.long)
        return ids, ids != text.PAD_ID
        # ---------------------------------------------------------------------------------------------


    def my_pool(features, mask):
        \"\"\"(b d): mean of features (b l d) over the positions where mask (b l) is True.\"\"\"
        # ---- your turn: replace this ---------------------------------------------------------------
        w = mask.to(features.dtype).unsqueeze(-1)
        return (features * w).sum(1) / w.sum(1)
        # ---------------------------------------------------------------------------------------------
    """),
    code("""
    # NBVAL_CHECK_OUTPUT
    CASES = [["a red circle moves left"], ["紅色的圓形向左移動", None, "a blue square rotates clockwise and a yellow triangle bounces"],
             [None], ["黄色的三角形弹跳", "the green square is rotating counterclockwise"]]
    for prompts in CASES:
        for max_len in (24, 12):
            got_ids, got_mask = my_encode_batch(prompts, max_len)
            want_ids, want_mask = text.encode_batch(prompts, max_len)
            case = f"{prompts}, max_len {max_len}"
            assert tuple(got_ids.shape) == tuple(want_ids.shape), \
                f"{case}: ids shape {tuple(got_ids.shape)}, wanted {tuple(want_ids.shape)}"
            assert torch.equal(got_ids, want_ids), f"{case}: ids {got_ids.tolist()}, wanted {want_ids.tolist()}"
            assert got_mask.dtype == torch.bool, f"the mask should be bool, got {got_mask.dtype}"
            assert torch.equal(got_mask, want_mask), \
                f"{case}: mask {got_mask.int().tolist()}, wanted {want_mask.int().tolist()}"
        with torch.no_grad():
            features, features_mask, pooled = enc(want_ids, want_mask)
        got = my_pool(features, features_mask)
        assert got.shape == pooled.shape, f"pooled shape {tuple(got.shape)}, wanted {tuple(pooled.shape)}"
        assert torch.allclose(got, pooled, atol=1e-5), \
            f"{prompts}: my_pool differs from the encoder's pooled vector by {(got - pooled).abs().max():.3g}"
        print(f"{len(prompts)} prompt(s): ids, mask and pooled vector match ✓")
    """),
    md("""
    ## Recap

    - A prompt is **parsed** into (shape, colour, motion) slots, in English or Chinese; anything the world cannot show
      is a `PromptError` that says why. Simplified Chinese is normalised to traditional first.
    - The **tokenizer** is a fixed table: 61 tokens, one per word, `<pad>` = 0, `<bos>` = 1. English and Chinese words
      have unrelated ids; batches are right-padded and carry a boolean **mask**.
    - The **text encoder** (trained with the DiT): token + position embeddings behind a **register token**, two
      masked transformer layers, a final LayerNorm → per-token features, and their **masked mean** → one pooled vector.
      Pads change nothing; the empty prompt is well defined.
    - Text enters the DiT twice: the **pooled vector** joins the timestep in the adaLN conditioning vector c, and the
      per-token features are the keys and values of **cross-attention**, where every video token weighs every word.
    - **Classifier-free guidance**: `v_uncond + s · (v_cond − v_uncond)`, two model calls per step; s = 0 ignores the
      prompt, 1 is the plain conditional model, larger s pushes harder towards the prompt.

    **Next: [06 · The diffusion transformer](06_diffusion_transformer.ipynb)**, the rest of the block that this
    lesson's cross-attention lives in: patch and timestep embeddings, adaLN-Zero, 3D rotary positions, full versus
    factorised attention. Previous: [04 · Diffusion from scratch](04_diffusion_from_scratch.ipynb).
    """),
]

if __name__ == "__main__":
    write(Path(__file__).resolve().parents[1] / NAME, cells)
