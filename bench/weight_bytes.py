"""weight_bytes.py: bytes of weights a decoded token reads in each weight mode, from a model's
config.json; exec'd by bench/ab_weights.sh (the roofline's numerator)."""


def bytes_per_token(c, mode):
    """The weight matrices and the LM head in the mode's storage, scales included: int8 keeps one
    scale per stored row, w8a8 one per output column (its LM head's groups padded to 64)."""
    C, L, V = c["n_embd"], c["n_layer"], c["vocab_size"]
    F = c.get("n_inner") or 4 * C
    vals = L * (3 * C * C + C * C + 2 * C * F) + V * C
    return {"f32": 4 * vals, "bf16": 2 * vals, "int8": vals + 4 * (L * (3 * C + F) + V),
            "w8a8": vals + 4 * (L * (3 * C + C + F + C) + V) + ((V + 63) // 64 * 64 - V) * C}[mode]
