#!/usr/bin/python3
"""An independent GPT-2 forward pass in numpy: the reference headsweep's engine is checked
against.

It shares no code with the project: its own minimal safetensors reader (and writer, for
tests that need checkpoints the engine's `mkmodel` does not make), its own config reader
and a plain full-sequence forward without a KV cache. Weights are widened exactly from
F32/F16/BF16 to float32 as stored, then every matmul, softmax and LayerNorm is computed in
float64, so the only rounding that matters in a comparison is the engine's.

Semantics follow Hugging Face's GPT2LMHeadModel (transformers' modeling_gpt2.py):
  - LayerNorm(x) = (x - mean) / sqrt(var + eps) * w + b, biased variance, eps from
    `layer_norm_epsilon`;
  - attention scores q.k / sqrt(D), causal (key j visible to query i iff j <= i);
  - head gates g[l][h] multiply head h's attention output before c_proj, which equals
    HF's `head_mask` (it scales the head's attention probabilities, and the head's output
    is linear in them);
  - MLP activation gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)));
  - logits = ln_f(x) @ lm_head^T, lm_head = lm_head.weight if present, else wte (tied).

Usage:
  ref_gpt2.py --model DIR --ids "464 2068" [--heads-off "L.H,..."] [--gate L.H=V ...]
              [--all-positions]
prints the last position's logits (or every position's, one row per line block) one per
line with %.9g, like `headsweep logits`.

Limits: no KV cache, float64 temporaries: fine for the tiny and gpt2 (124M) shapes and
sequences up to the context; slow beyond.
"""

import argparse
import json
import math
import os
import struct
import sys

import numpy as np

# ---------------------------------------------------------------------------------------
# safetensors: u64 little-endian header length N, N bytes of JSON, then the data block.
# Each JSON entry: {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}
# (offsets relative to the data block); an optional "__metadata__" entry holds strings.

_ST_DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2),
              "F64": ("<f8", 8), "I64": ("<i8", 8), "I32": ("<i4", 4),
              "U8": ("u1", 1), "BOOL": ("u1", 1)}


class SafetensorsError(Exception):
    pass


def read_safetensors_header(path):
    """Returns (header dict without __metadata__, data block offset, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        raw = f.read(8)
        if len(raw) != 8:
            raise SafetensorsError(f"{path}: shorter than 8 bytes")
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8:
            raise SafetensorsError(f"{path}: header length {n} past end of file ({size})")
        header = json.loads(f.read(n).decode("utf-8"))
    header.pop("__metadata__", None)
    return header, 8 + n, size


def _widen(buf, dtype):
    """Raw little-endian bytes of one tensor -> float32 (exact for F16/BF16/F32)."""
    np_dtype, _ = _ST_DTYPES[dtype]
    a = np.frombuffer(buf, dtype=np_dtype)
    if dtype == "BF16":
        # bf16 is the top half of an IEEE float32: shift into place and reinterpret.
        return (a.astype(np.uint32) << 16).view(np.float32)
    if dtype in ("F32", "F16"):
        return a.astype(np.float32)
    return a.copy()


def load_safetensors(path, skip=lambda name: False):
    """Reads every tensor (unless skip(name)) into a dict name -> (float32 ndarray, dtype)."""
    header, base, size = read_safetensors_header(path)
    mm = np.memmap(path, dtype=np.uint8, mode="r")
    out = {}
    for name, e in header.items():
        if skip(name):
            continue
        dtype, shape = e["dtype"], tuple(e["shape"])
        if dtype not in _ST_DTYPES:
            raise SafetensorsError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        b, t = e["data_offsets"]
        if not (0 <= b <= t and base + t <= size):
            raise SafetensorsError(f"{path}: tensor {name}: data_offsets [{b}, {t}] "
                                   f"past end of file (size {size})")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if (t - b) != count * _ST_DTYPES[dtype][1]:
            raise SafetensorsError(f"{path}: tensor {name}: {t - b} bytes for shape "
                                   f"{list(shape)} of {dtype}")
        out[name] = (_widen(mm[base + b:base + t], dtype).reshape(shape), dtype)
    del mm
    return out


def _narrow(a, dtype):
    """float32 ndarray -> little-endian bytes of dtype (round to nearest even)."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        return a.astype("<f2").tobytes()
    if dtype == "BF16":
        u = a.view(np.uint32).astype(np.uint64)
        u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
        return u.astype("<u2").tobytes()
    raise SafetensorsError(f"cannot write dtype {dtype}")


def save_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> (ndarray, dtype in F32/F16/BF16). Header padded to 8 bytes
    with spaces, as the reference safetensors library writes it."""
    header, blobs, off = {}, [], 0
    for name, (a, dtype) in tensors.items():
        blob = _narrow(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(a)),
                        "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for blob in blobs:
            f.write(blob)


# ---------------------------------------------------------------------------------------
# config.json and the checkpoint

class Config:
    def __init__(self, d):
        self.n_embd = int(d["n_embd"])
        self.n_head = int(d["n_head"])
        self.n_layer = int(d["n_layer"])
        self.n_positions = int(d.get("n_positions") or d["n_ctx"])
        self.vocab_size = int(d["vocab_size"])
        self.eps = float(d.get("layer_norm_epsilon", 1e-5))
        self.n_inner = int(d["n_inner"]) if d.get("n_inner") else 4 * self.n_embd
        act = d.get("activation_function", "gelu_new")
        if act != "gelu_new":
            raise ValueError(f"config.json: activation_function {act} (only gelu_new)")
        for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
            if d.get(flag):
                raise ValueError(f"config.json: {flag} is not supported")
        if d.get("scale_attn_weights") is False:
            raise ValueError("config.json: scale_attn_weights false is not supported")
        if self.n_embd % self.n_head:
            raise ValueError("config.json: n_embd not divisible by n_head")
        self.head_dim = self.n_embd // self.n_head


def _is_buffer(name):
    # h.N.attn.bias [1,1,T,T] (the causal mask) and h.N.attn.masked_bias are buffers.
    return name.endswith(".attn.bias") or name.endswith(".attn.masked_bias")


class GPT2:
    """A loaded checkpoint: float32 weights, computed in float64."""

    def __init__(self, model_dir):
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
            self.cfg = Config(json.load(f))
        raw = load_safetensors(os.path.join(model_dir, "model.safetensors"), skip=_is_buffer)
        self.dtypes = sorted({d for _, d in raw.values()})
        w = {}
        for name, (a, _) in raw.items():
            w[name[len("transformer."):] if name.startswith("transformer.") else name] = a
        self.w = w
        self._check_shapes()
        self.lm_head = w.get("lm_head.weight", w["wte.weight"])
        self.tied = "lm_head.weight" not in w

    def _check_shapes(self):
        c = self.cfg
        C, F, V = c.n_embd, c.n_inner, c.vocab_size
        want = {"wte.weight": (V, C), "wpe.weight": (c.n_positions, C),
                "ln_f.weight": (C,), "ln_f.bias": (C,)}
        for l in range(c.n_layer):
            p = f"h.{l}."
            want.update({p + "ln_1.weight": (C,), p + "ln_1.bias": (C,),
                         p + "attn.c_attn.weight": (C, 3 * C), p + "attn.c_attn.bias": (3 * C,),
                         p + "attn.c_proj.weight": (C, C), p + "attn.c_proj.bias": (C,),
                         p + "ln_2.weight": (C,), p + "ln_2.bias": (C,),
                         p + "mlp.c_fc.weight": (C, F), p + "mlp.c_fc.bias": (F,),
                         p + "mlp.c_proj.weight": (F, C), p + "mlp.c_proj.bias": (C,)})
        if "lm_head.weight" in self.w:
            want["lm_head.weight"] = (V, C)
        for name, shape in want.items():
            if name not in self.w:
                raise ValueError(f"model.safetensors: missing tensor {name}")
            if tuple(self.w[name].shape) != shape:
                raise ValueError(f"model.safetensors: tensor {name}: shape "
                                 f"{list(self.w[name].shape)}, expected {list(shape)}")

    def g(self, name):
        return self.w[name].astype(np.float64)

    def gates_from_heads_off(self, heads_off):
        gates = np.ones((self.cfg.n_layer, self.cfg.n_head))
        for l, h in heads_off:
            if not (0 <= l < self.cfg.n_layer and 0 <= h < self.cfg.n_head):
                raise ValueError(f"head {l}.{h} out of range")
            gates[l, h] = 0.0
        return gates

    def forward(self, ids, gates=None, all_positions=False, means=None, collect=None):
        """ids: sequence of token ids; gates: (L, H) array or None (all 1).
        means: (L, H, D) mean ablation: head output g z + (1 - g) mean instead of g z.
        collect: a list that receives each layer's ungated head outputs z (H, T, D).
        Returns float64 logits (V,) for the last position, or (T, V)."""
        c = self.cfg
        ids = np.asarray(ids, dtype=np.int64)
        T = len(ids)
        if T < 1 or T > c.n_positions:
            raise ValueError(f"{T} tokens: need 1..{c.n_positions}")
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            raise ValueError(f"token id out of range 0..{c.vocab_size - 1}")
        if gates is None:
            gates = np.ones((c.n_layer, c.n_head))
        gates = np.asarray(gates, dtype=np.float64).reshape(c.n_layer, c.n_head)
        x = self.g("wte.weight")[ids] + self.g("wpe.weight")[:T]
        future = np.triu(np.ones((T, T), dtype=bool), k=1)  # key j > query i
        for l in range(c.n_layer):
            p = f"h.{l}."
            a = layer_norm(x, self.g(p + "ln_1.weight"), self.g(p + "ln_1.bias"), c.eps)
            qkv = a @ self.g(p + "attn.c_attn.weight") + self.g(p + "attn.c_attn.bias")
            mean = None if means is None else np.asarray(means, dtype=np.float64)[l]
            x = x + self._attention(qkv, gates[l], future, p, mean, collect)
            m = layer_norm(x, self.g(p + "ln_2.weight"), self.g(p + "ln_2.bias"), c.eps)
            hdn = gelu_new(m @ self.g(p + "mlp.c_fc.weight") + self.g(p + "mlp.c_fc.bias"))
            x = x + hdn @ self.g(p + "mlp.c_proj.weight") + self.g(p + "mlp.c_proj.bias")
        x = layer_norm(x, self.g("ln_f.weight"), self.g("ln_f.bias"), c.eps)
        if not all_positions:
            x = x[-1:]
        logits = np.empty((x.shape[0], c.vocab_size))
        step = 8192  # widen the (V, C) head in slices to bound memory
        for v0 in range(0, c.vocab_size, step):
            logits[:, v0:v0 + step] = x @ self.lm_head[v0:v0 + step].astype(np.float64).T
        return logits if all_positions else logits[0]

    def _attention(self, qkv, gate, future, p, mean=None, collect=None):
        c = self.cfg
        C, H, D = c.n_embd, c.n_head, c.head_dim
        T = qkv.shape[0]
        q = qkv[:, 0:C].reshape(T, H, D).transpose(1, 0, 2)       # (H, T, D)
        k = qkv[:, C:2 * C].reshape(T, H, D).transpose(1, 0, 2)
        v = qkv[:, 2 * C:3 * C].reshape(T, H, D).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(D)                # (H, T, T)
        s[:, future] = -np.inf
        s -= s.max(axis=-1, keepdims=True)
        pr = np.exp(s)
        pr /= pr.sum(axis=-1, keepdims=True)
        z = pr @ v                                                  # (H, T, D)
        if collect is not None:
            collect.append(z)
        o = z * gate[:, None, None]                                 # gated
        if mean is not None:                                        # mean ablation
            o = o + (1.0 - gate)[:, None, None] * mean[:, None, :]
        o = o.transpose(1, 0, 2).reshape(T, C)
        return o @ self.g(p + "attn.c_proj.weight") + self.g(p + "attn.c_proj.bias")


def layer_norm(x, w, b, eps):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu_new(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


# ---------------------------------------------------------------------------------------
# random checkpoints for tests (both naming conventions, tied or explicit lm_head, buffers)

def make_random_checkpoint(model_dir, n_layer=2, n_head=4, n_embd=32, vocab_size=101,
                           n_positions=64, n_inner=None, prefix="", lm_head=False,
                           buffers=True, dtype="F32", seed=0, attn_std=0.15,
                           n_ctx_key=False, wte_std=0.1):
    """Writes config.json + model.safetensors. Weights are larger than GPT-2's 0.02 init
    (attn_std for c_attn) so attention is peaked and head gates matter; LayerNorm weights
    are 1 + noise so a wrong eps or bias shows. wte_std ~1 gives logits of magnitude 10-30,
    like a trained model's."""
    rng = np.random.default_rng(seed)
    C, V, T = n_embd, vocab_size, n_positions
    Fw = n_inner or 4 * C
    nrm = lambda *shape, s=0.02: rng.normal(0.0, s, size=shape).astype(np.float32)
    t = {"wte.weight": nrm(V, C, s=wte_std), "wpe.weight": nrm(T, C, s=0.05)}
    for l in range(n_layer):
        p = f"h.{l}."
        t[p + "ln_1.weight"] = 1 + nrm(C, s=0.1)
        t[p + "ln_1.bias"] = nrm(C, s=0.05)
        if buffers:
            t[p + "attn.bias"] = np.tril(np.ones((T, T), np.float32))[None, None]
        t[p + "attn.c_attn.weight"] = nrm(C, 3 * C, s=attn_std)
        t[p + "attn.c_attn.bias"] = nrm(3 * C, s=0.05)
        if buffers and prefix:
            t[p + "attn.masked_bias"] = np.array(-1e4, np.float32)  # shape []
        t[p + "attn.c_proj.weight"] = nrm(C, C, s=0.1)
        t[p + "attn.c_proj.bias"] = nrm(C, s=0.05)
        t[p + "ln_2.weight"] = 1 + nrm(C, s=0.1)
        t[p + "ln_2.bias"] = nrm(C, s=0.05)
        t[p + "mlp.c_fc.weight"] = nrm(C, Fw, s=0.1)
        t[p + "mlp.c_fc.bias"] = nrm(Fw, s=0.05)
        t[p + "mlp.c_proj.weight"] = nrm(Fw, C, s=0.1)
        t[p + "mlp.c_proj.bias"] = nrm(C, s=0.05)
    t["ln_f.weight"] = 1 + nrm(C, s=0.1)
    t["ln_f.bias"] = nrm(C, s=0.05)
    out = {prefix + k: (v, dtype if v.ndim and ".attn.bias" not in k else "F32")
           for k, v in t.items()}
    if lm_head:
        out["lm_head.weight"] = (nrm(V, C, s=0.1), dtype)
    os.makedirs(model_dir, exist_ok=True)
    save_safetensors(os.path.join(model_dir, "model.safetensors"), out,
                     metadata={"format": "pt"})
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"],
           "n_embd": C, "n_head": n_head, "n_layer": n_layer, "vocab_size": V,
           "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
           "n_inner": n_inner, "tie_word_embeddings": not lm_head}
    cfg["n_ctx" if n_ctx_key else "n_positions"] = T
    with open(os.path.join(model_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)


# ---------------------------------------------------------------------------------------
# command line

def parse_heads(text):
    """"L.H,L.H" -> [(L, H), ...]; empty or None -> []."""
    out = []
    for item in (text or "").replace(" ", "").split(","):
        if item:
            l, h = item.split(".")
            out.append((int(l), int(h)))
    return out


def parse_ids(text):
    return [int(t) for t in text.replace(",", " ").split()]


def main(argv=None):
    ap = argparse.ArgumentParser(description="numpy reference GPT-2 forward pass")
    ap.add_argument("--model", required=True)
    ap.add_argument("--ids", required=True, help='token ids, e.g. "464 2068"')
    ap.add_argument("--heads-off", default="", help='heads with gate 0, "L.H,L.H"')
    ap.add_argument("--gate", action="append", default=[], metavar="L.H=V",
                    help="set one head's gate to V (repeatable; applied after --heads-off)")
    ap.add_argument("--all-positions", action="store_true",
                    help="print every position's logits (position-major)")
    a = ap.parse_args(argv)
    try:
        m = GPT2(a.model)
        gates = m.gates_from_heads_off(parse_heads(a.heads_off))
        for item in a.gate:
            head, val = item.split("=")
            (l, h), = parse_heads(head)
            gates[l, h] = float(val)
        logits = m.forward(parse_ids(a.ids), gates, all_positions=a.all_positions)
    except (ValueError, KeyError, SafetensorsError, OSError) as e:
        print(f"ref_gpt2: {e}", file=sys.stderr)
        return 2
    out = sys.stdout
    for v in np.ravel(logits):
        out.write("%.9g\n" % v)
    return 0


if __name__ == "__main__":
    sys.exit(main())
