#!/usr/bin/env python3
"""make_seeds.py: writes the seed corpora of tests/fuzz/corpus/<target>/.

Seeds are small valid inputs (taken from the project's fixtures where there are some)
plus edge cases each target should see from its first run. The committed corpus is
this script's output:
    python3 tests/fuzz/make_seeds.py [--mkmodel-dir DIR]
DIR, a model written by `headsweep mkmodel --shape tiny`, adds its config.json and its
real safetensors header (with the start of its data) as seeds.
"""
import argparse
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")

# Must match config_json in fuzz_model_load.c.
MICRO = dict(n_layer=1, n_head=2, n_embd=4, n_positions=4, vocab_size=8, n_inner=8)


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(rel):
    with open(os.path.join(ROOT, rel), "rb") as f:
        return f.read()


# ---- safetensors ------------------------------------------------------------------

def micro_tensors(lm_head=False, buffers=False):
    c = MICRO
    C, F, V, T = c["n_embd"], c["n_inner"], c["vocab_size"], c["n_positions"]
    t = [("wte.weight", [V, C]), ("wpe.weight", [T, C]), ("ln_f.weight", [C]), ("ln_f.bias", [C])]
    for i in range(c["n_layer"]):
        p = "h.%d." % i
        t += [(p + "ln_1.weight", [C]), (p + "ln_1.bias", [C]),
              (p + "attn.c_attn.weight", [C, 3 * C]), (p + "attn.c_attn.bias", [3 * C]),
              (p + "attn.c_proj.weight", [C, C]), (p + "attn.c_proj.bias", [C]),
              (p + "ln_2.weight", [C]), (p + "ln_2.bias", [C]),
              (p + "mlp.c_fc.weight", [C, F]), (p + "mlp.c_fc.bias", [F]),
              (p + "mlp.c_proj.weight", [F, C]), (p + "mlp.c_proj.bias", [C])]
        if buffers:
            t.append((p + "attn.bias", [1, 1, T, T]))
    if lm_head:
        t.append(("lm_head.weight", [V, C]))
    return t


def safetensors(tensors, dtype="F32", prefix="", metadata=True, align=8, order=None):
    """A safetensors image; values are small deterministic numbers."""
    esz = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {"format": "pt"}
    names = [n for n, _ in tensors]
    for k, (name, shape) in enumerate(tensors):
        n = 1
        for d in shape:
            n *= d
        vals = [((i * 7 + k * 3) % 17 - 8) / 40.0 for i in range(n)]
        if name.endswith("attn.bias") and len(shape) == 4:
            vals = [1.0] * n
        if dtype == "F32":
            blob = struct.pack("<%df" % n, *vals)
        elif dtype == "F16":
            blob = struct.pack("<%de" % n, *vals)
        else:
            blob = b"".join(struct.pack("<f", v)[2:] for v in vals)
        header[prefix + name if not name.startswith("lm_head") else name] = {
            "dtype": dtype, "shape": shape, "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    txt = json.dumps(header, separators=(",", ":")).encode()
    if align:
        txt += b" " * (-len(txt) % align)
    return struct.pack("<Q", len(txt)) + txt + b"".join(blobs)


def raw(header_obj, data=b"", pad=True):
    txt = json.dumps(header_obj).encode() if not isinstance(header_obj, bytes) else header_obj
    if pad:
        txt += b" " * (-len(txt) % 8)
    return struct.pack("<Q", len(txt)) + txt + data


def safetensors_seeds():
    good = {
        "micro-f32": safetensors(micro_tensors()),
        "micro-f16": safetensors(micro_tensors(), dtype="F16"),
        "micro-bf16": safetensors(micro_tensors(), dtype="BF16"),
        "micro-prefixed-lmhead-buffers": safetensors(micro_tensors(lm_head=True, buffers=True),
                                                     prefix="transformer."),
        "micro-f32-misaligned": safetensors(micro_tensors(), metadata=False, align=0),
    }
    for name, data in good.items():
        put("model_load", name, data)
        put("st_parse", name, data)
    # edge cases for the container parser
    put("st_parse", "empty-header", raw({}))
    put("st_parse", "metadata-only", raw({"__metadata__": {"format": "pt", "k": "v"}}))
    put("st_parse", "scalar-and-empty", raw({
        "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
        "e": {"dtype": "I64", "shape": [0, 3], "data_offsets": [4, 4]},
        "b": {"dtype": "BOOL", "shape": [4], "data_offsets": [4, 8]}}, b"\0" * 8))
    put("st_parse", "other-dtypes", raw({
        "a": {"dtype": "I32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F8_E4M3", "shape": [2, 2], "data_offsets": [8, 12]},
        "c": {"dtype": "U16", "shape": [2], "data_offsets": [12, 16]},
        "d": {"dtype": "F64", "shape": [1], "data_offsets": [16, 24]}}, bytes(range(24))))
    put("st_parse", "overlap", raw({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8))
    put("st_parse", "short", b"\x10\0\0\0")
    put("st_parse", "length-past-end", b"\xff\xff\0\0\0\0\0\0{}")
    put("model_load", "empty-header", raw({}))


# ---- config.json ------------------------------------------------------------------

def config_seeds():
    put("config", "micro", json.dumps(dict(MICRO, layer_norm_epsilon=1e-5,
                                           activation_function="gelu_new")))
    # the layout of the hub's gpt2/config.json
    put("config", "hub-gpt2", json.dumps({
        "activation_function": "gelu_new", "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1, "bos_token_id": 50256, "embd_pdrop": 0.1, "eos_token_id": 50256,
        "initializer_range": 0.02, "layer_norm_epsilon": 1e-05, "model_type": "gpt2",
        "n_ctx": 1024, "n_embd": 768, "n_head": 12, "n_layer": 12, "n_positions": 1024,
        "resid_pdrop": 0.1, "summary_activation": None, "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True, "summary_type": "cls_index", "summary_use_proj": True,
        "task_specific_params": {"text-generation": {"do_sample": True, "max_length": 50}},
        "vocab_size": 50257}, indent=2))
    put("config", "n-ctx-inner-null", json.dumps({
        "n_ctx": 128, "n_embd": 64, "n_head": 4, "n_layer": 2, "vocab_size": 1024,
        "n_inner": None, "activation_function": "gelu_pytorch_tanh"}))
    put("config", "not-object", "[64, 4, 2]")
    put("config", "bad-types", '{"n_embd": "64", "n_head": 4.0, "n_layer": -1, '
                               '"layer_norm_epsilon": 0, "vocab_size": 1e9}')


# ---- tokenizer ----------------------------------------------------------------------

def tokenizer_seeds():
    vocab = fixture("tests/tokenizer/data/vocab.json")
    merges = fixture("tests/tokenizer/data/merges.txt")
    put("tokenizer_files", "vocab-fixture", b"\0" + vocab)
    put("tokenizer_files", "merges-fixture", b"\1" + merges)
    put("tokenizer_files", "both-fixture", b"\2" + vocab + b"\0" + merges)
    put("tokenizer_files", "merges-crlf-blank", b"\1" + merges.replace(b"\n", b"\r\n") + b"\r\n\r\n")
    put("tokenizer_files", "merges-errors", b"\1#version: 0.2\nh e\nh e\nzz q\n\xc4\xa0w or ld\n")
    put("tokenizer_files", "vocab-errors", b"\2" + b'{"a": 1, "\\u0100": 1.5, "b": -1}\0a b\n')
    # a KJV-sized first lines of the real merges, against the fixture vocabulary
    kjv = os.path.join(ROOT, "models/kjv-gpt2/merges.txt")
    if os.path.exists(kjv):
        with open(kjv, "rb") as f:
            put("tokenizer_files", "merges-kjv-head", b"\1" + b"".join(f.readlines()[:40]))

    texts = {
        "english": "The quick brown fox jumps over the lazy dog. It's 3:14pm, isn't it? "
                   "They'll say we've done 42 things  twice.\n\n",
        "kjv": "In the beginning God created the heaven and the earth.\n"
               "And the earth was without form, and void; and darkness was upon the face "
               "of the deep.",
        "unicode": "na\u00efve caf\u00e9 \u00c5ngstr\u00f6m \u4e2d\u6587\u5b57 "
                   "\U0001F600\U0001F44D\U0001F3FD e\u0301 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 "
                   "\u2028\u3000\u00a0x\u180e\u200b",
        "special": "a<|endoftext|>b<|endoftext|><|endoftext|> <|endof",
        "whitespace": "   \t\t\n  \r\n x  \n\n\n    y\t",
        "digits-symbols": "123456789012345 $$$!!!??? ((()))[]{} ---___ ''''s 'S 'LL",
    }
    for name, t in texts.items():
        put("tokenizer_roundtrip", name, t)
    put("tokenizer_roundtrip", "invalid-utf8",
        b"ok \xff\xfe \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82 end\x80")
    put("tokenizer_roundtrip", "nul-and-controls", b"a\0b\x01\x1f\x7f\x85c\xc2\x85d")
    heldout = fixture("jobs/prompts/kjv_heldout.jsonl").split(b"\n")[0]
    put("tokenizer_roundtrip", "jsonl-line", heldout[:1500])


# ---- job files ------------------------------------------------------------------------

def job_text(rel):
    txt = fixture(rel).decode()
    # the fuzz target runs in a scratch directory with m/, p.jsonl and c.jsonl
    out = []
    for line in txt.splitlines():
        k = line.split("=")[0].strip()
        if k == "model":
            line = "model = m"
        elif k == "prompts":
            line = "prompts = p.jsonl"
        elif k == "calibration":
            line = "calibration = c.jsonl"
        out.append(line)
    return "\n".join(out) + "\n"


def job_seeds():
    for rel in ("jobs/demo.ini", "jobs/gpt2.ini", "jobs/kjv_full.ini"):
        if os.path.exists(os.path.join(ROOT, rel)):
            put("job", os.path.basename(rel).replace(".ini", ""), job_text(rel))
    put("job", "minimal", "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nstrategy = magnitude\n")
    put("job", "variants-continued",
        "[job]\nmodel = m\nprompts = p.jsonl\nname = study_1\nmax_prompts = 0\n"
        "variants = baseline, fast,\n  ag-2\nmeasure_unpruned_ppl = no\n"
        "[variant.fast]\ngating = skip\n"
        "[variant.ag-2]\ngating = skip\nagency = on\nema_alpha = 0.5\noverload_threshold = 0.9\n"
        "alignment_threshold = 0.6\nrecovery_steps = 100\nfactor_active = 1\n"
        "factor_overloaded = 0.5\nfactor_misaligned = 0.7\nfactor_withdrawn = 0\n"
        "[generation]\nmax_new_tokens = 8\ntemperature = 0\ntop_k = 0\ntop_p = 1\nseed = 18446744073709551615\n"
        "[pruning]\nstrategy = random\nseed = 7\nlevels = 0, 12.5,\n\t25 ,100\n"
        "per_layer = on\nkeep_one_per_layer = true\n")
    put("job", "with-sets",
        "[job]\nmodel = m\nprompts = p.jsonl\n[pruning]\nstrategy = ablation\ncalibration = c.jsonl\n"
        "\0generation.seed=9\0job.variants=baseline, x\0pruning.levels = 0,50\0variant.x.gating=skip")
    put("job", "with-bad-sets",
        "[job]\nmodel = m\nprompts = p.jsonl\n\0job.shards\0.x=1\0job.=2\0a.b.c.d=\0generation.top_p=1e-300")
    put("job", "errors",
        "\ufeff; comment\n# another\n[job]\nmodel = m ; inline\nprompts = p.jsonl\nprompts = x\n"
        "[variant.bad name]\n[nosuch]\nkey\n" + "x" * 250 + " = 1\n")


# ---- prompts --------------------------------------------------------------------------

def prompt_seeds():
    for rel, n in (("jobs/prompts/general_en.jsonl", 3), ("jobs/prompts/kjv_calib.jsonl", 2)):
        lines = fixture(rel).split(b"\n")[:n]
        put("prompts", os.path.basename(rel).replace(".jsonl", ""), b"\n".join(lines) + b"\n")
    put("prompts", "edge-valid",
        '\n{"id": 7, "prompt": "x", "reference": null}\r\n   \n'
        '{"id": "7b", "prompt": "caf\u00e9 \\u00e9\\ud83d\\ude00", "extra": [1, {"a": 2}]}\n'
        '{"reference": " tail", "prompt": "p", "id": "-3"}')
    put("prompts", "edge-errors",
        b'{"id": 7, "prompt": "x"}\n{"id": "7", "prompt": "dup"}\n[1, 2]\n{"id": "", "prompt": ""}\n'
        b'{"id": 1.5, "prompt": 3, "reference": ""}\n{"id": "u", "prompt": "\xff"}\n'
        b'{"id": "n", "prompt": "a\\u0000b"}\n{"id": "t", "prompt": "x"} trailing\n{"id": "t2",')


# ---- head scores -------------------------------------------------------------------------

def score_seeds():
    sha = "0123456789abcdef" * 4
    base = {"format": "headsweep-head-scores", "version": 1, "strategy": "entropy", "seed": 0,
            "L": 2, "H": 4, "scores": [[0.1, 0.25, 0.5, 0.75], [1, -2.5e-3, 0.30000000000000004, 1e300]],
            "calibration": "jobs/prompts/kjv_calib.jsonl", "calibration_sha256": sha,
            "model_sha256": sha, "n_prompts": 64}
    put("scores", "entropy", json.dumps(base, indent=2))
    put("scores", "random-seed-string", json.dumps(dict(
        base, strategy="random", seed="18446744073709551615", calibration="", calibration_sha256="",
        n_prompts=0, L=1, H=3, scores=[[3, 1, 2]])))
    put("scores", "ablation-ties", json.dumps(dict(
        base, strategy="ablation", L=3, H=2, scores=[[0, 0], [0, 0], [5e-324, -0.0]])))
    put("scores", "errors", json.dumps(dict(base, version=2, L=0, scores=[[1]], model_sha256="XYZ")))


def mkmodel_seeds(d):
    put("config", "mkmodel-tiny", fixture_abs(os.path.join(d, "config.json")))
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        f.seek(0)
        put("st_parse", "mkmodel-tiny-header-truncated", f.read(8 + n + 256))


def fixture_abs(p):
    with open(p, "rb") as f:
        return f.read()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mkmodel-dir", help="a `headsweep mkmodel --shape tiny` directory")
    a = ap.parse_args()
    safetensors_seeds()
    config_seeds()
    tokenizer_seeds()
    job_seeds()
    prompt_seeds()
    score_seeds()
    if a.mkmodel_dir:
        mkmodel_seeds(a.mkmodel_dir)
    for t in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, t))
        size = sum(os.path.getsize(os.path.join(CORPUS, t, f)) for f in files)
        print("%-20s %3d seeds, %6d bytes" % (t, len(files), size))


if __name__ == "__main__":
    main()
