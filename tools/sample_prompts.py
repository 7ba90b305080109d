#!/usr/bin/python3
"""Write a seeded sample of a prompt file, stratified across books, with no prompt's text
overlapping another sampled prompt's reference.

  /usr/bin/python3 tools/sample_prompts.py IN.jsonl N OUT.jsonl [--seed S]

jobs/prompts/kjv_heldout.jsonl starts a prompt at every verse, so its head (what
`max_prompts` took with `prompt_order = head`) is one passage of one book in which each
prompt's reference is the next prompt's text. This script picks N prompts instead, as a
file (jobs/prompts/kjv_heldout_sample24.jsonl for the demo). The sweep itself now samples
the same way when max_prompts is below the file's count (docs/sweep.md, "Which prompts"),
with its own random stream, so its sample differs from this script's for equal seeds:

- the book of a prompt is its id without the trailing "-<chapter>-<verse>" (as
  headsweep-report names it);
- allocation: one prompt per book (as long as N allows; books in file order), the rest
  in proportion to the books' sizes by largest remainder;
- within a book, prompts are drawn in a random order (Python's random.Random(seed)) and
  one is kept only when its text shares no 40-character run with the reference of a prompt
  already kept, nor its reference with a kept prompt's text (neighbouring verses overlap
  that way);
- the sample is written in file order, lines copied byte for byte.

Deterministic for a given input, N and seed. Exit 2 on bad input (one message).
"""
import json
import random
import re
import sys

RUN = 40


def book(pid):
    return re.sub(r"(-\d+){1,2}$", "", pid)


def shingles(text):
    return {text[i:i + RUN] for i in range(0, max(1, len(text) - RUN + 1))}


def allocate(sizes, n):
    """Per book: 1 each while n allows, the rest proportional by largest remainder."""
    k = len(sizes)
    base = [1 if i < n else 0 for i in range(k)]
    rest = n - sum(base)
    total = sum(sizes)
    want = [rest * s / total for s in sizes]
    alloc = [b + int(w) for b, w in zip(base, want)]
    order = sorted(range(k), key=lambda i: (-(want[i] - int(want[i])), i))
    for i in order[:n - sum(alloc)]:
        alloc[i] += 1
    return [min(a, s) for a, s in zip(alloc, sizes)]


def main():
    args = sys.argv[1:]
    seed = 20241204
    if "--seed" in args:
        i = args.index("--seed")
        seed = int(args[i + 1])
        del args[i:i + 2]
    if len(args) != 3:
        sys.exit(print(__doc__, file=sys.stderr) or 2)
    src, n, out = args[0], int(args[1]), args[2]
    lines = [ln for ln in open(src, encoding="utf-8").read().splitlines(keepends=True) if ln.strip()]
    items = [json.loads(ln) for ln in lines]
    if n < 1 or n > len(items):
        print("%s: N = %d, but the file has %d prompts" % (src, n, len(items)), file=sys.stderr)
        sys.exit(2)
    books = []
    for it in items:
        if book(it["id"]) not in books:
            books.append(book(it["id"]))
    members = {b: [i for i, it in enumerate(items) if book(it["id"]) == b] for b in books}
    alloc = allocate([len(members[b]) for b in books], n)
    rng = random.Random(seed)
    kept, ref_sh, txt_sh = [], set(), set()
    for b, k in zip(books, alloc):
        pool = members[b][:]
        rng.shuffle(pool)
        got = 0
        for i in pool:
            if got == k:
                break
            p, r = shingles(items[i]["prompt"]), shingles(items[i].get("reference", ""))
            if p & ref_sh or r & txt_sh:
                continue
            kept.append(i)
            ref_sh |= r
            txt_sh |= p
            got += 1
    if len(kept) < n:
        print("%s: only %d prompts without overlaps" % (src, len(kept)), file=sys.stderr)
        sys.exit(2)
    with open(out, "w", encoding="utf-8") as f:
        for i in sorted(kept):
            f.write(lines[i] if lines[i].endswith("\n") else lines[i] + "\n")
    counts = {}
    for i in kept:
        counts[book(items[i]["id"])] = counts.get(book(items[i]["id"]), 0) + 1
    print("%s: %d prompts from %d books: %s" % (out, n, len(counts),
                                                ", ".join("%s %d" % kv for kv in counts.items())))


if __name__ == "__main__":
    main()
