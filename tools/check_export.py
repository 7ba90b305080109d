#!/usr/bin/python3
"""Independent check of an exported GPT-2 directory (config.json, model.safetensors,
vocab.json, merges.txt) with numpy only: parse the safetensors file by hand, check
the layout of the real gpt2 checkpoint (names, shapes, Conv1D orientation, no
lm_head, header padding, contiguous offsets), check that vocab.json and merges.txt
agree (dense ids, merge k makes token 256 + k, <|endoftext|> last), and run a plain
numpy GPT-2 forward.

  /usr/bin/python3 tools/check_export.py models/kjv-gpt2 [--ckpt /tmp/kjv-train/ckpt.pt]

With --ckpt the numpy logits are compared with the torch model of that training
checkpoint (tools/train_model.py).  tools/train_model.py calls compare() on the
in-memory model right after exporting.
"""

import json
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    assert n % 8 == 0, "header length %d is not a multiple of 8" % n
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    assert header.pop("__metadata__") == {"format": "pt"}
    data = raw[8 + n:]
    tensors, spans = {}, []
    for name, info in header.items():
        assert info["dtype"] == "F32", name
        b, e = info["data_offsets"]
        spans.append((b, e))
        a = np.frombuffer(data[b:e], dtype="<f4")
        assert a.size == int(np.prod(info["shape"])), name
        tensors[name] = a.reshape(info["shape"]).astype(np.float64)
    spans.sort()
    assert spans[0][0] == 0 and spans[-1][1] == len(data), "data section size"
    assert all(p[1] == q[0] for p, q in zip(spans, spans[1:])), "offsets not contiguous"
    return tensors


def check_layout(cfg, w):
    d, L, V, P = cfg["n_embd"], cfg["n_layer"], cfg["vocab_size"], cfg["n_positions"]
    want = {"wte.weight": [V, d], "wpe.weight": [P, d], "ln_f.weight": [d], "ln_f.bias": [d]}
    for i in range(L):
        p = "h.%d." % i
        want.update({p + "ln_1.weight": [d], p + "ln_1.bias": [d],
                     p + "attn.c_attn.weight": [d, 3 * d], p + "attn.c_attn.bias": [3 * d],
                     p + "attn.c_proj.weight": [d, d], p + "attn.c_proj.bias": [d],
                     p + "ln_2.weight": [d], p + "ln_2.bias": [d],
                     p + "mlp.c_fc.weight": [d, 4 * d], p + "mlp.c_fc.bias": [4 * d],
                     p + "mlp.c_proj.weight": [4 * d, d], p + "mlp.c_proj.bias": [d]})
    got = {k: list(v.shape) for k, v in w.items()}
    assert got == want, "tensor set differs: extra %s missing %s" % (
        sorted(set(got) - set(want)), sorted(set(want) - set(got)))


def check_tokenizer(model_dir, V):
    with open(os.path.join(model_dir, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    with open(os.path.join(model_dir, "merges.txt"), encoding="utf-8") as f:
        lines = f.read().split("\n")
    assert lines[0] == "#version: 0.2"
    merges = [l.split(" ") for l in lines[1:] if l]
    assert sorted(vocab.values()) == list(range(V)), "vocab ids not dense 0..V-1"
    assert vocab["<|endoftext|>"] == V - 1
    assert len(merges) == V - 257, len(merges)
    for k, m in enumerate(merges):
        assert len(m) == 2 and vocab[m[0] + m[1]] == 256 + k, (k, m)
        assert vocab[m[0]] < 256 + k and vocab[m[1]] < 256 + k, (k, m)


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(cfg, w, ids):
    """Logits [T, V] of a plain GPT-2 forward in float64."""
    d, H, eps = cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    T, hd = len(ids), d // H
    x = w["wte.weight"][ids] + w["wpe.weight"][:T]
    causal = np.tril(np.ones((T, T), dtype=bool))
    for i in range(cfg["n_layer"]):
        p = "h.%d." % i
        a = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = a @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, j * d:(j + 1) * d].reshape(T, H, hd).transpose(1, 0, 2)
                   for j in range(3))
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
        s = np.where(causal, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(T, d)
        x = x + y @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        m = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        m = gelu_new(m @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
        x = x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
    x = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    return x @ w["wte.weight"].T


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    assert cfg["model_type"] == "gpt2" and cfg["activation_function"] == "gelu_new"
    assert cfg["architectures"] == ["GPT2LMHeadModel"]
    w = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    check_layout(cfg, w)
    check_tokenizer(model_dir, cfg["vocab_size"])
    return cfg, w


def compare(model_dir, torch_model, id_lists):
    """Max abs difference between numpy logits of the export and torch_model's logits."""
    import torch
    cfg, w = load(model_dir)
    worst = 0.0
    with torch.no_grad():
        for ids in id_lists:
            ref = torch_model(torch.tensor([ids]))[0].double().numpy()
            worst = max(worst, float(np.abs(forward(cfg, w, ids) - ref).max()))
    return worst


def main():
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--ckpt"):
        sys.exit("usage: check_export.py MODEL_DIR [--ckpt CKPT.pt]")
    model_dir = sys.argv[1]
    cfg, w = load(model_dir)
    print("layout, config and tokenizer files: ok (%d tensors, %d parameters)"
          % (len(w), sum(a.size for a in w.values())))
    ids = [cfg["eos_token_id"]] + list(range(0, 4000, 37))[:60]
    logits = forward(cfg, w, ids)
    assert np.isfinite(logits).all()
    print("numpy forward: %d tokens, last-position argmax %d" % (len(ids), logits[-1].argmax()))
    if len(sys.argv) == 4:
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import train_model
        model = train_model.build_model(dict(train_model.CONFIG))
        model.load_state_dict(torch.load(sys.argv[3])["model"])
        model.eval()
        diff = compare(model_dir, model, [ids, ids[:5]])
        print("max |numpy - torch| logit difference: %.3g" % diff)
        if not diff < 1e-4:
            sys.exit("export check failed")


if __name__ == "__main__":
    main()
