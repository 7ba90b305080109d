#!/usr/bin/python3
"""Regenerate the KJV prompt sets jobs/prompts/kjv_heldout.jsonl (evaluation, from the
books models/kjv-gpt2 never saw) and jobs/prompts/kjv_calib.jsonl (calibration, from
its training books), deterministically (fixed seed).

  /usr/bin/python3 tools/make_prompts.py

Text, split and tokenizer are those of tools/train_model.py and models/kjv-gpt2:
verses of a book are joined with "\\n", so prompt + reference is always the exact
running text the model was trained on (a whole-verse prompt ends with "\\n"; a
part-verse prompt stops before a space, which starts the reference).

Each held-out verse that can start a prompt starts exactly one (ids are
"<book>-<chapter>-<verse>" of that verse); calibration prompts are made the same
way from N_CALIB randomly chosen start verses of the training books; its form is drawn at random: the first
few words of the verse, or 1-5 whole verses.  The reference is the text that
follows inside the same book: the next verses until it holds at least
REF_MIN tokens, cut at a word boundary to at most REF_MAX tokens.  Limits (model
tokenizer): prompt <= PROMPT_MAX tokens, prompt + reference <= TOTAL_MAX tokens, so
32-48 new tokens still fit in the 256-token context.
"""

import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_model as tm  # noqa: E402

SEED = 20240601
PROMPT_MAX = 128
TOTAL_MAX = 200
REF_MIN = 24
REF_MAX = 64
N_CALIB = 192
OUT = os.path.join(tm.ROOT, "jobs", "prompts")


def slug(book):
    return tm.BOOK_NAMES[book].lower().replace(" ", "")


def cut_words(enc, text, max_tokens):
    """Longest prefix of text ending at a word boundary with <= max_tokens tokens."""
    if len(enc.encode(text)) <= max_tokens:
        return text
    words = text.split(" ")
    lo, hi = 1, len(words)           # binary search on the number of words
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(enc.encode(" ".join(words[:mid]))) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo])


def reference(enc, first, rest):
    """`first` (the text right after the prompt) followed by the verses in `rest`,
    joined with "\\n", until >= REF_MIN tokens; cut to <= REF_MAX tokens.  None if
    the book ends before REF_MIN tokens."""
    ref = first
    for t in rest:
        if len(enc.encode(ref)) >= REF_MIN:
            break
        ref = ref + "\n" + t if ref else t
    if len(enc.encode(ref)) < REF_MIN:
        return None
    return cut_words(enc, ref, REF_MAX)


def candidate(enc, rng, book, verses, i):
    """One prompt starting at verse i of book, or None if it does not fit."""
    ch, vs, text = verses[i]
    texts = [t for _, _, t in verses]
    words = text.split(" ")
    if rng.random() < 0.3 and len(words) >= 6:
        n = rng.randint(3, len(words) - 2)            # a few words up to most of the verse
        prompt = " ".join(words[:n])
        ref = reference(enc, " " + " ".join(words[n:]), texts[i + 1:i + 4])
    else:
        k = rng.choice([1, 1, 1, 2, 2, 3, 4, 5])
        if i + k >= len(verses):
            return None
        prompt = "\n".join(texts[i:i + k]) + "\n"
        ref = reference(enc, "", texts[i + k:i + k + 4])
    if ref is None:
        return None
    n_prompt = len(enc.encode(prompt))
    # tokens of prompt + reference = tokens of prompt followed by tokens of reference
    if n_prompt > PROMPT_MAX or len(enc.encode(prompt + ref)) > TOTAL_MAX:
        return None
    assert enc.encode(prompt + ref) == enc.encode(prompt) + enc.encode(ref)
    return {"id": "%s-%d-%d" % (slug(book), ch, vs), "prompt": prompt, "reference": ref}


def build(enc, rng, books):
    out = []
    for book, verses in books:
        for i in range(len(verses)):
            c = candidate(enc, rng, book, verses, i)
            if c:
                out.append(c)
    return out


def write(path, rows):
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print("%s: %d prompts" % (os.path.relpath(path, tm.ROOT), len(rows)))


def main():
    enc = tm.Encoder(os.path.join(tm.ROOT, "models", "kjv-gpt2"))
    train_books, held_books = tm.split_books(tm.read_bible())
    os.makedirs(OUT, exist_ok=True)
    write(os.path.join(OUT, "kjv_heldout.jsonl"), build(enc, random.Random(SEED), held_books))
    rng = random.Random(SEED + 1)            # calibration: random start verses, first
    starts = [(b, i) for b in range(len(train_books))         # N_CALIB that fit
              for i in range(len(train_books[b][1]))]
    rng.shuffle(starts)
    calib = []
    for b, i in starts:
        c = candidate(enc, rng, train_books[b][0], train_books[b][1], i)
        if c:
            calib.append(((b, i), c))
            if len(calib) == N_CALIB:
                break
    write(os.path.join(OUT, "kjv_calib.jsonl"), [c for _, c in sorted(calib, key=lambda x: x[0])])

if __name__ == "__main__":
    main()
