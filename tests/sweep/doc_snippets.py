#!/usr/bin/python3
"""doc_snippets.py FILE DOC...: runs every ```python block of the given Markdown files
against the real results file FILE (each block's "results/demo.h5" replaced by FILE), each
in a fresh namespace, and checks what they leave behind:

- every xarray Dataset and DataArray has only dimensions that one of its variables uses (a
  coordinate of an unused axis turns to_dataframe() into a product over every axis: 7 million
  rows for a study of 288 cells and prompts);
- every pandas DataFrame has one row per element of the largest variable it holds, e.g. one
  per (variant, level, prompt) for the metrics.

Prints one line per block; exits 1 on the first block that fails or breaks a rule."""
import re
import sys
import warnings

import h5py
import numpy as np

warnings.simplefilter("ignore")  # xarray's and h5netcdf's deprecation chatter


def blocks(doc):
    text = open(doc, encoding="utf-8").read()
    return re.findall(r"```python\n(.*?)```", text, re.S)


def sizes(path):
    """Element count of every dataset of the file by its name without the group ("distinct_2")."""
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda name, obj: out.setdefault(name.split("/")[-1], int(np.prod(obj.shape)))
                     if isinstance(obj, h5py.Dataset) else None)
    return out


def check_value(name, v, n_of):
    import pandas as pd
    import xarray as xr
    if isinstance(v, xr.DataArray):
        v = v.to_dataset(name=v.name or "value")
    if isinstance(v, xr.Dataset):
        used = {d for var in v.data_vars.values() for d in var.dims}
        unused = set(v.dims) - used
        if v.data_vars and unused:
            return f"{name} carries dimensions no variable uses: {sorted(unused)}"
    if isinstance(v, pd.DataFrame):
        want = max((n_of[c] for c in v.columns if c in n_of), default=None)
        if want is not None and len(v) != want:
            return f"{name}.to_dataframe() has {len(v)} rows, want {want} (one per element of its variables)"
    return None


def main():
    path, docs = sys.argv[1], sys.argv[2:]
    n_of = sizes(path)
    ran = 0
    for doc in docs:
        for i, code in enumerate(blocks(doc)):
            ns = {}
            try:
                exec(compile(code.replace("results/demo.h5", path), f"{doc} block {i + 1}", "exec"), ns)
            except Exception as e:  # a documented snippet that does not run is the failure
                sys.exit(f"FAIL: {doc} python block {i + 1}: {type(e).__name__}: {e}")
            for name, v in ns.items():
                bad = check_value(name, v, n_of)
                if bad:
                    sys.exit(f"FAIL: {doc} python block {i + 1}: {bad}")
            print(f"{doc} python block {i + 1}: ran, {len(ns)} names checked")
            ran += 1
    if ran == 0:
        sys.exit("FAIL: no python block found in " + " ".join(docs))


if __name__ == "__main__":
    main()
