#!/usr/bin/python3
"""Train headsweep's bundled default model, models/kjv-gpt2, from scratch.

Development tool (Python 3 + torch + numpy + regex; Debian python3-torch 1.13).

Steps, all deterministic (fixed seed, 2 threads):
  1. read the King James Bible with `bible -f Ge1:1-Re22:21` (one verse per line,
     "Ge1:1 In the beginning ..."), drop the reference, keep the verse text;
     whole books listed in HELDOUT_BOOKS are held out for evaluation;
  2. learn a 4,096-token byte-level BPE vocabulary on the training books exactly in
     GPT-2's scheme (bytes_to_unicode, GPT-2's pre-tokenization regex, merges learned
     within pre-tokens by pair frequency, `<|endoftext|>` is the last id 4095) and
     write vocab.json / merges.txt in GPT-2's file format;
  3. tokenize the corpus with the standard GPT-2 encoder (lowest-rank merge first)
     built from the written files, so the model is trained on what any GPT-2 BPE
     implementation produces;
  4. train a 6-layer GPT-2 (n_embd 256, 8 heads, 256 positions) with AdamW and a
     cosine learning-rate schedule with warm-up on random 256-token windows,
     checkpointing to --workdir so a crash loses little (rerun the same command to
     resume);
  5. export config.json + model.safetensors (hand-written safetensors, the tensor
     names and Conv1D orientation of the real gpt2 checkpoint, tied LM head), check
     the export with an independent numpy forward (tools/check_export.py), and
     write MODEL_CARD.md with the measured numbers.

Each book is one document: its verses joined with "\\n"; documents are separated by
<|endoftext|>.  Usage (the command recorded in the model card):

  /usr/bin/python3 tools/train_model.py --steps 600
"""

import argparse
import hashlib
import json
import math
import os
import random
import struct
import subprocess
import sys
import time

import numpy as np
import regex

BIBLE_RANGE = "Ge1:1-Re22:21"
# Whole books held out for evaluation, spread over the text (5.4% of the verses).
HELDOUT_BOOKS = ["Ruth", "Est", "Eccl", "Lam", "Joel", "Jonah",
                 "Mark", "Gal", "Titus", "Phmn", "Jude"]
# The 66 books as `bible` abbreviates them, in canonical order, with full names.
BOOK_NAMES = {
    "Ge": "Genesis", "Exo": "Exodus", "Lev": "Leviticus", "Num": "Numbers",
    "Deu": "Deuteronomy", "Josh": "Joshua", "Jdgs": "Judges", "Ruth": "Ruth",
    "1Sm": "1 Samuel", "2Sm": "2 Samuel", "1Ki": "1 Kings", "2Ki": "2 Kings",
    "1Chr": "1 Chronicles", "2Chr": "2 Chronicles", "Ezra": "Ezra", "Neh": "Nehemiah",
    "Est": "Esther", "Job": "Job", "Psa": "Psalms", "Prv": "Proverbs",
    "Eccl": "Ecclesiastes", "SSol": "Song of Solomon", "Isa": "Isaiah", "Jer": "Jeremiah",
    "Lam": "Lamentations", "Eze": "Ezekiel", "Dan": "Daniel", "Hos": "Hosea",
    "Joel": "Joel", "Amos": "Amos", "Obad": "Obadiah", "Jonah": "Jonah", "Mic": "Micah",
    "Nahum": "Nahum", "Hab": "Habakkuk", "Zep": "Zephaniah", "Hag": "Haggai",
    "Zec": "Zechariah", "Mal": "Malachi", "Mat": "Matthew", "Mark": "Mark", "Luke": "Luke",
    "John": "John", "Acts": "Acts", "Rom": "Romans", "1Cor": "1 Corinthians",
    "2Cor": "2 Corinthians", "Gal": "Galatians", "Eph": "Ephesians", "Phi": "Philippians",
    "Col": "Colossians", "1Th": "1 Thessalonians", "2Th": "2 Thessalonians",
    "1Tim": "1 Timothy", "2Tim": "2 Timothy", "Titus": "Titus", "Phmn": "Philemon",
    "Heb": "Hebrews", "Jas": "James", "1Pet": "1 Peter", "2Pet": "2 Peter", "1Jn": "1 John",
    "2Jn": "2 John", "3Jn": "3 John", "Jude": "Jude", "Rev": "Revelation",
}
VOCAB_SIZE = 4096
EOT = "<|endoftext|>"
PRETOKENIZE = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
REF_LINE = regex.compile(r"^(\d?[A-Za-z]+)(\d+):(\d+) (.*)$")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --------------------------------------------------------------------------- corpus

def read_bible():
    """Return [(book, [(chapter, verse, text), ...]), ...] in canonical order."""
    out = subprocess.run(["bible", "-f", BIBLE_RANGE], check=True,
                         stdout=subprocess.PIPE).stdout.decode("utf-8")
    books = []
    for line in out.split("\n"):
        if not line.strip():
            continue
        m = REF_LINE.match(line)
        if not m:
            raise SystemExit("unexpected line from bible: %r" % line)
        book, ch, vs, text = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4).strip()
        if not books or books[-1][0] != book:
            books.append((book, []))
        books[-1][1].append((ch, vs, text))
    names = [b for b, _ in books]
    if names != list(BOOK_NAMES):
        raise SystemExit("bible output: unexpected books %s" % names)
    return books


def split_books(books):
    """(train, heldout) lists of (book, verses)."""
    train = [b for b in books if b[0] not in HELDOUT_BOOKS]
    held = [b for b in books if b[0] in HELDOUT_BOOKS]
    return train, held


def book_text(verses):
    """A book as one document: verse texts joined with a newline."""
    return "\n".join(t for _, _, t in verses)


# ------------------------------------------------------------------------ tokenizer

def bytes_to_unicode():
    """GPT-2's reversible byte -> printable unicode character map (encoder.py)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


BYTE_ENCODER = bytes_to_unicode()


def pretokens(text):
    """GPT-2 pre-tokens of text, each mapped byte-wise to the unicode alphabet."""
    return ["".join(BYTE_ENCODER[b] for b in t.encode("utf-8"))
            for t in PRETOKENIZE.findall(text)]


def learn_bpe(texts, n_merges):
    """Learn n_merges BPE merges within pre-tokens, most frequent pair first.

    Ties are broken by the lexicographically smallest pair.  A pair whose
    concatenation is already a token (reachable by another merge path) is never
    chosen, so every merge adds a distinct token and ids stay dense."""
    freq = {}
    for t in texts:
        for p in pretokens(t):
            freq[p] = freq.get(p, 0) + 1
    words = [list(w) for w in freq]
    counts = list(freq.values())
    pair_count = {}
    where = {}

    def add_word(i, sign):
        w, c = words[i], counts[i] * sign
        for a, b in zip(w, w[1:]):
            pr = (a, b)
            pair_count[pr] = pair_count.get(pr, 0) + c
            if sign > 0:
                where.setdefault(pr, set()).add(i)

    for i in range(len(words)):
        add_word(i, 1)
    tokens = set(BYTE_ENCODER.values())
    merges = []
    while len(merges) < n_merges:
        best_c = 0
        best = None
        for pr, c in pair_count.items():
            if c > best_c or (c == best_c and c > 0 and pr < best):
                if pr[0] + pr[1] in tokens:
                    continue
                best_c, best = c, pr
        if best is None:
            raise SystemExit("BPE: corpus exhausted after %d merges" % len(merges))
        a, b = best
        new = a + b
        merges.append(best)
        tokens.add(new)
        for i in sorted(where.pop(best, ())):
            w = words[i]
            if len(w) < 2:
                continue
            add_word(i, -1)
            out, j = [], 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i] = out
            add_word(i, 1)
        pair_count.pop(best, None)
        for pr in [p for p, c in pair_count.items() if c == 0]:
            del pair_count[pr]
    return merges


def write_tokenizer(merges, outdir):
    """vocab.json and merges.txt in GPT-2's format."""
    vocab = {}
    for ch in BYTE_ENCODER.values():      # 256 byte symbols in GPT-2's order
        vocab[ch] = len(vocab)
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab[EOT] = len(vocab)
    assert len(vocab) == VOCAB_SIZE, len(vocab)
    with open(os.path.join(outdir, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=True)
    with open(os.path.join(outdir, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write("%s %s\n" % (a, b))


class Encoder:
    """The standard GPT-2 BPE encoder (OpenAI encoder.py), read from vocab.json + merges.txt."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        with open(os.path.join(model_dir, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().split("\n")
        assert lines[0].startswith("#version")
        merges = [tuple(l.split(" ")) for l in lines[1:] if l]
        self.bpe_ranks = {m: i for i, m in enumerate(merges)}
        self.byte_decoder = {v: k for k, v in BYTE_ENCODER.items()}
        self.eot = self.encoder[EOT]
        self.cache = {}

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.bpe_ranks.get(p, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            a, b = bigram
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        self.cache[token] = word
        return word

    def encode(self, text):
        ids = []
        for p in pretokens(text):
            ids.extend(self.encoder[t] for t in self.bpe(p))
        return ids

    def decode(self, ids):
        text = "".join(self.decoder[i] for i in ids)
        return bytearray(self.byte_decoder[c] for c in text).decode("utf-8", errors="replace")


def token_stream(enc, books):
    """<|endoftext|> book1 <|endoftext|> book2 ... <|endoftext|> as an int array."""
    ids = [enc.eot]
    for _, verses in books:
        ids.extend(enc.encode(book_text(verses)))
        ids.append(enc.eot)
    return np.array(ids, dtype=np.int64)


# ---------------------------------------------------------------------------- model

CONFIG = dict(n_layer=6, n_head=8, n_embd=256, n_positions=256, vocab_size=VOCAB_SIZE,
              layer_norm_epsilon=1e-5)


def build_model(cfg):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Conv1D(nn.Module):
        """GPT-2's Conv1D: y = x @ weight + bias, weight stored (in, out)."""

        def __init__(self, n_in, n_out):
            super().__init__()
            self.weight = nn.Parameter(torch.empty(n_in, n_out))
            self.bias = nn.Parameter(torch.zeros(n_out))

        def forward(self, x):
            return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]),
                               self.weight).view(*x.shape[:-1], -1)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg["n_embd"]
            self.c_attn = Conv1D(d, 3 * d)
            self.c_proj = Conv1D(d, d)

        def forward(self, x):
            B, T, C = x.shape
            H = cfg["n_head"]
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.view(B, T, H, C // H).transpose(1, 2)
            k = k.view(B, T, H, C // H).transpose(1, 2)
            v = v.view(B, T, H, C // H).transpose(1, 2)
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // H))
            mask = torch.ones(T, T, dtype=torch.bool).tril()
            att = att.masked_fill(~mask, float("-inf")).softmax(dim=-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            return self.c_proj(y)

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            d = cfg["n_embd"]
            self.c_fc = Conv1D(d, 4 * d)
            self.c_proj = Conv1D(4 * d, d)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # gelu_new

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            d, eps = cfg["n_embd"], cfg["layer_norm_epsilon"]
            self.ln_1 = nn.LayerNorm(d, eps=eps)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(d, eps=eps)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT2(nn.Module):
        """Parameter names are exactly those of the real gpt2 checkpoint."""

        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(cfg["vocab_size"], cfg["n_embd"])
            self.wpe = nn.Embedding(cfg["n_positions"], cfg["n_embd"])
            self.h = nn.ModuleList([Block() for _ in range(cfg["n_layer"])])
            self.ln_f = nn.LayerNorm(cfg["n_embd"], eps=cfg["layer_norm_epsilon"])
            for name, p in self.named_parameters():
                if name.endswith("bias"):
                    nn.init.zeros_(p)
                elif ".ln_" in name or name.startswith("ln_f"):
                    nn.init.ones_(p)
                elif name.endswith("c_proj.weight"):   # GPT-2 scaled residual init
                    nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg["n_layer"]))
                else:
                    nn.init.normal_(p, 0.0, 0.02)

        def forward(self, idx):
            T = idx.shape[1]
            x = self.wte(idx) + self.wpe(torch.arange(T))
            for blk in self.h:
                x = blk(x)
            return self.ln_f(x) @ self.wte.weight.t()   # LM head tied to wte

    return GPT2()


def lr_at(step, args):
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    frac = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(1.0, frac)))


def make_optimizer(model, args):
    import torch
    decay = [p for n, p in model.named_parameters() if p.dim() == 2]
    other = [p for n, p in model.named_parameters() if p.dim() != 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                              {"params": other, "weight_decay": 0.0}],
                             lr=args.lr, betas=(0.9, 0.95), eps=1e-8)


def stream_nll(model, stream, ctx, stride):
    """NLL of every target stream[1:] (array aligned to stream[1:]), scored exactly
    once with sliding windows of ctx inputs: after the first window each new window
    scores `stride` new targets with at least ctx - stride tokens of context."""
    import torch
    import torch.nn.functional as F
    n = len(stream)
    nll = np.zeros(n - 1, dtype=np.float64)
    start, done = 0, 1                # done = index of the first target not yet scored
    with torch.no_grad():
        while done < n:
            end = min(start + ctx + 1, n)         # inputs [start, end-1), targets [start+1, end)
            x = torch.from_numpy(stream[start:end]).unsqueeze(0)
            lp = F.log_softmax(model(x[:, :-1])[0].double(), dim=-1)
            tok = -lp.gather(1, x[0, 1:].unsqueeze(1)).squeeze(1).numpy()
            nll[done - 1:end - 1] = tok[done - start - 1:]
            done = end
            start = end - 1 - (ctx - stride)
    return nll


def greedy(model, ids, n_new, ctx):
    import torch
    ids = list(ids)
    with torch.no_grad():
        for _ in range(n_new):
            logits = model(torch.tensor([ids[-ctx:]]))[0, -1]
            ids.append(int(logits.argmax()))
    return ids


# --------------------------------------------------------------------------- export

def write_safetensors(path, tensors, metadata=None):
    """safetensors by hand: u64 LE header length, JSON header padded with spaces to a
    multiple of 8, then the raw little-endian data in header order (sorted names)."""
    header = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def hf_config(cfg):
    """config.json as transformers' save_pretrained writes it for GPT2LMHeadModel
    (dropout 0: the model was trained without dropout)."""
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.0,
        "bos_token_id": VOCAB_SIZE - 1,
        "embd_pdrop": 0.0,
        "eos_token_id": VOCAB_SIZE - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": cfg["layer_norm_epsilon"],
        "model_type": "gpt2",
        "n_ctx": cfg["n_positions"],
        "n_embd": cfg["n_embd"],
        "n_head": cfg["n_head"],
        "n_inner": None,
        "n_layer": cfg["n_layer"],
        "n_positions": cfg["n_positions"],
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.0,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.26.1",
        "use_cache": True,
        "vocab_size": cfg["vocab_size"],
    }


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- main

def log(msg):
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8, help="sequences of 256 tokens per step")
    ap.add_argument("--lr", type=float, default=1.5e-3)
    ap.add_argument("--min-lr", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--out", default=os.path.join(ROOT, "models", "kjv-gpt2"))
    ap.add_argument("--workdir", default="/tmp/kjv-train",
                    help="checkpoints (not part of the repository)")
    ap.add_argument("--tokenizer-only", action="store_true")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(2)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.workdir, exist_ok=True)

    books = read_bible()
    train_books, held_books = split_books(books)
    n_verses = sum(len(v) for _, v in books)
    n_held = sum(len(v) for _, v in held_books)
    log("books %d, verses %d, held out %d (%.1f%%)"
        % (len(books), n_verses, n_held, 100.0 * n_held / n_verses))

    t0 = time.time()
    merges = learn_bpe([book_text(v) for _, v in train_books], VOCAB_SIZE - 256 - 1)
    write_tokenizer(merges, args.out)
    log("BPE: %d merges in %.0fs" % (len(merges), time.time() - t0))
    enc = Encoder(args.out)
    train_ids = token_stream(enc, train_books)
    held_ids = token_stream(enc, held_books)
    sample = book_text(held_books[0][1])[:2000]
    assert enc.decode(enc.encode(sample)) == sample
    log("tokens: train %d, held-out %d" % (len(train_ids), len(held_ids)))
    if args.tokenizer_only:
        return

    cfg = dict(CONFIG)
    ctx = cfg["n_positions"]
    model = build_model(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    opt = make_optimizer(model, args)
    gen = torch.Generator().manual_seed(args.seed)
    ckpt = os.path.join(args.workdir, "ckpt.pt")
    step, wall, losses = 0, 0.0, []
    run_key = {k: getattr(args, k) for k in
               ("steps", "batch", "lr", "min_lr", "warmup", "weight_decay", "seed")}
    run_key["train_tokens"] = int(len(train_ids))
    if os.path.exists(ckpt):
        st = torch.load(ckpt)
        if st["run_key"] == run_key:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["opt"])
            gen.set_state(st["gen"])
            step, wall, losses = st["step"], st["wall"], st["losses"]
            log("resumed from %s at step %d" % (ckpt, step))
        else:
            log("ignoring %s: made with other settings" % ckpt)
    log("model: %d parameters; %d steps x %d x %d tokens" % (n_params, args.steps, args.batch, ctx))

    data = torch.from_numpy(train_ids)
    import torch.nn.functional as F

    def save():
        tmp = ckpt + ".tmp"
        torch.save({"run_key": run_key, "model": model.state_dict(), "opt": opt.state_dict(),
                    "gen": gen.get_state(), "step": step, "wall": wall, "losses": losses}, tmp)
        os.replace(tmp, ckpt)

    t_start = time.time() - wall
    model.train()
    while step < args.steps:
        lr = lr_at(step, args)
        for g in opt.param_groups:
            g["lr"] = lr
        starts = torch.randint(0, len(data) - ctx - 1, (args.batch,), generator=gen)
        xy = torch.stack([data[s:s + ctx + 1] for s in starts.tolist()])
        logits = model(xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        losses.append(float(loss))
        wall = time.time() - t_start
        if step % 10 == 0 or step == 1:
            log("step %d/%d loss %.4f (mean10 %.4f) lr %.2e %.2fs/step elapsed %.0fs"
                % (step, args.steps, losses[-1], np.mean(losses[-10:]), lr, wall / step
                   if step else 0, wall))
        if step % args.eval_every == 0 and step < args.steps:
            model.eval()
            nll = stream_nll(model, held_ids[:8193], ctx, ctx // 2)
            model.train()
            log("step %d held-out loss (first 8k tokens) %.4f" % (step, nll.mean()))
            wall = time.time() - t_start
        if step % args.ckpt_every == 0 or step == args.steps:
            save()
    train_wall = wall
    log("training done: %d steps, %.0fs" % (step, train_wall))

    # ---- evaluation
    model.eval()
    t_eval = time.time()
    held_nll = stream_nll(model, held_ids, ctx, ctx // 2)
    rs = np.random.RandomState(args.seed + 1)   # fixed sample of training windows
    tr = []
    with torch.no_grad():
        for s in rs.randint(0, len(train_ids) - ctx - 1, 64):
            xy = torch.from_numpy(train_ids[s:s + ctx + 1]).unsqueeze(0)
            lg = model(xy[:, :-1])
            tr.append(float(F.cross_entropy(lg[0], xy[0, 1:])))
    train_eval = float(np.mean(tr))
    counts = np.bincount(train_ids[1:], minlength=VOCAB_SIZE).astype(np.float64) + 1.0
    uni_lp = np.log(counts / counts.sum())
    uni_nll = float(-uni_lp[held_ids[1:]].mean())
    held_loss = float(held_nll.mean())
    log("eval (%.0fs): train %.4f, held-out %.4f ppl %.2f, unigram %.4f ppl %.2f"
        % (time.time() - t_eval, train_eval, held_loss, math.exp(held_loss),
           uni_nll, math.exp(uni_nll)))

    # ---- export
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=2, sort_keys=True)
        f.write("\n")
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    st_path = os.path.join(args.out, "model.safetensors")
    write_safetensors(st_path, tensors)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import check_export
    probe = [int(i) for i in held_ids[1:ctx + 1]]
    maxdiff = check_export.compare(args.out, model, [probe, probe[:17], enc.encode("And")])
    log("export check: max |numpy - torch| logit difference %.3g" % maxdiff)
    if not maxdiff < 1e-4:
        raise SystemExit("export check failed")

    # ---- greedy continuations of held-out prompts
    samples = []
    for book, ch, vs in [("Ruth", 1, 16), ("Eccl", 1, 2), ("Jonah", 1, 1), ("Mark", 4, 3),
                         ("Mark", 14, 22), ("Gal", 5, 22), ("Lam", 3, 22)]:
        verses = dict(held_books)[book]
        text = [t for c, v, t in verses if (c, v) == (ch, vs)][0]
        words = text.split(" ")
        prompt = " ".join(words[:max(4, len(words) // 2)])
        out = greedy(model, enc.encode(prompt), 40, ctx)
        cont = enc.decode(out[len(enc.encode(prompt)):])
        samples.append(("%s %d:%d" % (BOOK_NAMES[book], ch, vs), prompt, cont))

    n_train_verses = sum(len(v) for _, v in train_books)
    write_card(args, dict(
        held=[(BOOK_NAMES[b], len(v)) for b, v in held_books], n_books=len(books),
        n_train_books=len(train_books), n_verses=n_verses, n_held=n_held,
        n_train_verses=n_train_verses, train_tokens=len(train_ids), held_tokens=len(held_ids),
        n_params=n_params, train_wall=train_wall, last_losses=float(np.mean(losses[-50:])),
        train_eval=train_eval, held_loss=held_loss, uni_nll=uni_nll, maxdiff=maxdiff,
        sha=sha256(st_path), size=os.path.getsize(st_path), samples=samples,
        epochs=args.steps * args.batch * ctx / len(train_ids)))
    log("wrote %s" % args.out)


def write_card(args, r):
    held = ", ".join("%s (%d)" % hv for hv in r["held"])
    lines = []
    w = lines.append
    w("# kjv-gpt2: headsweep's bundled default model")
    w("")
    w("A small GPT-2 (%.2f M parameters) trained from scratch on the King James Bible, so "
      "headsweep has a real, trained model to study without downloading anything. Same "
      "architecture, file layout and tokenizer scheme as OpenAI's gpt2 checkpoints; only "
      "the sizes differ." % (r["n_params"] / 1e6))
    w("")
    w("## Data and split")
    w("")
    w("- Source: the KJV text of the Debian package `bible-kjv`, read with "
      "`bible -f %s`, one verse per line; the reference prefix (`Ge1:1 `) is dropped." % BIBLE_RANGE)
    w("- Documents: each book is one document, its verses joined with `\\n`; documents are "
      "separated by `<|endoftext|>` (the stream also starts and ends with it).")
    w("- Held out for evaluation (whole books, verses in brackets): %s = %d of %d verses "
      "(%.1f%%), %d tokens." % (held, r["n_held"], r["n_verses"], 100.0 * r["n_held"] / r["n_verses"],
                                 r["held_tokens"]))
    w("- Training: the other %d books, %d verses, %d tokens."
      % (r["n_train_books"], r["n_train_verses"], r["train_tokens"]))
    w("- Note: Mark has close parallels in Matthew and Luke (training books), so part of its "
      "text is near-duplicated in training; the other held-out books are not.")
    w("")
    w("## Tokenizer")
    w("")
    w("Byte-level BPE exactly in GPT-2's scheme: GPT-2's `bytes_to_unicode` byte alphabet "
      "(ids 0-255, in GPT-2's order), GPT-2's pre-tokenization regex, %d merges learned "
      "within pre-tokens by pair frequency on the training books (ties: smallest pair; a pair "
      "whose concatenation is already a token is skipped), `<|endoftext|>` = id %d, the last. "
      "`vocab.json` / `merges.txt` (`#version: 0.2` header, rank order) are in GPT-2's file "
      "format; the corpus was tokenized with the standard GPT-2 encoder (lowest-rank merge "
      "first) reading those files." % (VOCAB_SIZE - 257, VOCAB_SIZE - 1))
    w("")
    w("## Model")
    w("")
    w("GPT-2 architecture: n_layer %(n_layer)d, n_head %(n_head)d, n_embd %(n_embd)d, "
      "n_positions %(n_positions)d, vocab %(vocab_size)d; pre-LN blocks, causal self-attention, "
      "`gelu_new` (tanh) MLP of width 4 x n_embd, final LayerNorm, LM head tied to `wte`, "
      "biases as in GPT-2, LayerNorm eps %(layer_norm_epsilon)g." % CONFIG)
    w("Parameters: %d. Init normal(0, 0.02), `c_proj` weights normal(0, 0.02/sqrt(2 n_layer)), "
      "biases 0, LayerNorm 1/0." % r["n_params"])
    w("")
    w("Files, as `save_pretrained` writes them for GPT2LMHeadModel: `config.json`, "
      "`model.safetensors` (F32, %d bytes; tensor names without a `transformer.` prefix, "
      "`c_attn`/`c_proj`/`c_fc` weights in Conv1D (in, out) orientation with `c_attn` output "
      "columns [Q|K|V], no `lm_head.weight`), `vocab.json`, `merges.txt`." % r["size"])
    w("")
    w("sha256 of model.safetensors: `%s`" % r["sha"])
    w("")
    w("Export check: an independent numpy GPT-2 forward over the exported safetensors "
      "(`tools/check_export.py`) matches the torch model's logits to %.2g (max abs)." % r["maxdiff"])
    w("")
    w("## Training")
    w("")
    w("- %d steps x batch %d x %d tokens (random windows of the training stream) = %.2f M "
      "tokens, %.2f epochs." % (args.steps, args.batch, CONFIG["n_positions"],
                                 args.steps * args.batch * CONFIG["n_positions"] / 1e6, r["epochs"]))
    w("- AdamW (betas 0.9/0.95, eps 1e-8, weight decay %g on matrices and embeddings, 0 on "
      "biases and LayerNorm), gradient clipping 1.0, no dropout." % args.weight_decay)
    w("- LR: linear warm-up to %g over %d steps, cosine decay to %g at step %d."
      % (args.lr, args.warmup, args.min_lr, args.steps))
    w("- Seed %d, `torch.set_num_threads(2)`, CPU, torch %s." % (args.seed, __import__("torch").__version__))
    w("- Training wall time: %.1f min for the %d steps, including the held-out loss on the "
      "first 8k held-out tokens every %d steps (2 threads, on a 2-core machine shared with "
      "other work, so step times varied)." % (r["train_wall"] / 60, args.steps, args.eval_every))
    w("")
    w("## Results")
    w("")
    w("| | loss (nats/token) | perplexity |")
    w("| --- | --- | --- |")
    w("| train, mean of the last 50 training batches | %.4f | %.2f |"
      % (r["last_losses"], math.exp(r["last_losses"])))
    w("| train, 64 fixed random 256-token windows after training | %.4f | %.2f |"
      % (r["train_eval"], math.exp(r["train_eval"])))
    w("| held-out books, all %d target tokens | **%.4f** | **%.2f** |"
      % (r["held_tokens"] - 1, r["held_loss"], math.exp(r["held_loss"])))
    w("| unigram baseline on the same held-out tokens | %.4f | %.2f |"
      % (r["uni_nll"], math.exp(r["uni_nll"])))
    w("")
    w("Held-out loss: the held-out stream scored with sliding 256-token windows, stride 128 "
      "(every token scored once, with at least 128 tokens of context after the first window). "
      "Unigram baseline: token probabilities estimated on the training tokens with add-one "
      "smoothing over the %d ids." % VOCAB_SIZE)
    w("")
    w("## Greedy continuations of held-out prompts (40 new tokens)")
    w("")
    for ref, prompt, cont in r["samples"]:
        w("- %s: **%s**%s" % (ref, prompt, cont.replace("\n", " / ")))
    w("")
    w("(` / ` marks a newline, i.e. a verse break.)")
    w("")
    w("## Reproduce")
    w("")
    w("```")
    w("cd <repository root>")
    cmd = "/usr/bin/python3 tools/train_model.py --steps %d --batch %d --lr %g --min-lr %g " \
          "--warmup %d --weight-decay %g --seed %d" % (args.steps, args.batch, args.lr,
                                                       args.min_lr, args.warmup,
                                                       args.weight_decay, args.seed)
    w(cmd)
    w("```")
    w("")
    w("Needs Debian's `bible-kjv`, `python3-torch` (1.13), `python3-numpy`, `python3-regex`. "
      "Checkpoints go to `--workdir` (default /tmp/kjv-train); rerunning the same command "
      "resumes from the last one. `tools/check_export.py models/kjv-gpt2` rechecks the "
      "exported files on their own.")
    with open(os.path.join(args.out, "MODEL_CARD.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
