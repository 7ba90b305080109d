#!/usr/bin/env python3
"""results_tool.py: reads headsweep results files with h5py for the sweep tests.

  results_tool.py check FILE [--ranks N]   every dataset, dimension scale and attribute of
                                           docs/results-format.md (units and long_name on
                                           every dataset, fixed-length strings only); distinct-1/2,
                                           token counts and live heads recomputed from the data;
                                           agency occupancy and transitions consistent
  results_tool.py cf FILE                  the CF conventions readers rely on: Conventions,
                                           long_name, units that UDUNITS-2 parses (the udunits2
                                           program), _FillValue where cells pad, numeric times,
                                           no DIMENSION_LABELS
  results_tool.py compare [--numbers-only] A B...
                                           quality numbers (timing = 0) and study
                                           identical (--numbers-only: not the study)
  results_tool.py keeps A B...             every value (timing too) of A's done prompts
                                           unchanged in B...
  results_tool.py gentext FILE MODEL_DIR   /prompts/generated is /text/generated_ids decoded as
                                           Hugging Face's tokenizer.decode does (GPT-2's byte
                                           decoder from MODEL_DIR/vocab.json, then UTF-8 with
                                           errors="replace"), NUL as U+FFFD, "" for cells not
                                           done, sized by the vocabulary's bound; h5py and xarray
  results_tool.py done FILE                number of cells marked done
  results_tool.py runs FILE                "run:count ..." cells written by each run
  results_tool.py tamper FILE              changes one quality number of one done cell
  results_tool.py damage FILE DIR SEED     writes damaged copies of FILE to DIR (truncations,
                                           bit flips in the superblock, object headers, chunks
                                           and anywhere) and prints "copy class" per line

Readers pass HDF5_USE_FILE_LOCKING=FALSE themselves when a sweep may hold the file.
"""
import hashlib
import itertools
import math
import os
import random
import re
import struct
import subprocess
import sys
import time

import h5py
import numpy as np

DIMS = ["variant", "level", "prompt", "layer", "head", "state", "shard", "new_token"]
METRICS = ["prompt_tokens", "reference_tokens", "generated_tokens", "prefill_seconds", "decode_seconds",
           "generation_seconds", "decode_tokens_per_second", "time_to_first_token", "reference_perplexity",
           "generated_perplexity_unpruned", "distinct_1", "distinct_2", "type_token_ratio", "repetition_rate",
           "peak_rss_bytes", "cpu_user_seconds", "cpu_system_seconds", "live_heads", "flops_per_token", "hit_eot"]
ROOT_ATTRS = ["Conventions", "schema_version", "headsweep_version", "git_describe", "created_utc", "updated_utc",
              "command_line",
              "job_name", "job_file", "job_file_text", "study", "study_sha256", "model_dir", "model_sha256",
              "prompts_path", "prompts_sha256", "max_prompts", "calibration_path", "calibration_sha256", "strategy",
              "pruning_seed", "per_layer", "keep_one_per_layer", "seed", "max_new_tokens", "temperature", "top_k",
              "top_p", "n_shards", "measure_unpruned_ppl", "n_ranks", "hosts", "mpi_version", "hdf5_version",
              "openblas_version", "last_git_describe", "runs", "complete", "heads_source", "scores_path",
              "scores_sha256", "heads_off"]
LAYOUT = {
    "text/generated_ids": (["variant", "level", "prompt", "new_token"], np.int32),
    "agency/occupancy": (["variant", "level", "shard", "layer", "head", "state"], np.int64),
    "agency/transitions": (["variant", "level", "shard", "layer", "head"], np.int64),
    "cells/done": (["variant", "level", "shard"], np.uint8),
    "cells/rank": (["variant", "level", "shard"], np.int32),
    "cells/run": (["variant", "level", "shard"], np.int32),
    "cells/seconds": (["variant", "level", "shard"], np.float64),
    "cells/copies_requested": (["variant", "level", "shard"], np.uint8),
    "cells/copies_used": (["variant", "level", "shard"], np.uint8),
    "cells/host": (["variant", "level", "shard"], None),
    "cells/finished_utc": (["variant", "level", "shard"], None),
    "heads/pruned": (["variant", "level", "layer", "head"], np.uint8),
    "heads/score": (["layer", "head"], np.float64),
    "heads/variant_score": (["variant", "layer", "head"], np.float64),
    "prompts/text": (["prompt"], None),
    "prompts/reference": (["prompt"], None),
    "prompts/generated": (["variant", "level", "prompt"], None),
    "prompts/file_index": (["prompt"], np.int32),
    "prompts/line": (["prompt"], np.int32),
    "prompts/book": (["prompt"], None),
}

problems = []


def expect(cond, msg):
    if not cond:
        problems.append(msg)


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def check_dims(f):
    size = {}
    for d in DIMS:
        ds = f[d]
        expect(ds.ndim == 1, f"/{d} is not 1-D")
        expect(text(ds.attrs.get("CLASS", b"")) == "DIMENSION_SCALE", f"/{d} is not a dimension scale")
        expect(text(ds.attrs.get("NAME", b"")) == d, f"/{d} has scale name {ds.attrs.get('NAME')}")
        size[d] = ds.shape[0]
    expect([text(s) for s in f["state"][...]] == ["active", "overloaded", "misaligned", "withdrawn"], "/state labels")
    for d in ("layer", "head", "shard", "new_token"):
        expect(list(f[d][...]) == list(range(size[d])), f"/{d} is not 0..n-1")
    v = f["variant"]
    expect(len(v.attrs["gating"]) == size["variant"] and len(v.attrs["agency"]) == size["variant"],
           "/variant attributes gating/agency")
    expect(all(text(g) in ("mask", "skip") for g in v.attrs["gating"]), "/variant gating values")
    expect(len(set(text(p) for p in f["prompt"][...])) == size["prompt"], "prompt ids are not unique")
    return size


def check_dataset(f, name, dims, dtype, size):
    ds = f[name]
    expect(ds.shape == tuple(size[d] for d in dims), f"/{name} shape {ds.shape}, want {dims}")
    if dtype is not None:
        expect(ds.dtype == dtype, f"/{name} dtype {ds.dtype}, want {np.dtype(dtype)}")
    for i, d in enumerate(dims):
        attached = [s.name for s in ds.dims[i].values()]
        expect(attached == ["/" + d], f"/{name} dimension {i} has scales {attached}, want /{d}")
    expect("DIMENSION_LABELS" not in ds.attrs, f"/{name} has DIMENSION_LABELS besides its scales")


def fixed_length(obj, where):
    """No variable-length string anywhere (schema 2): their text would live in HDF5's global
    heap, which no checksum covers."""
    for k in obj.attrs:
        if k == "DIMENSION_LIST":  # HDF5's own references to the scales
            continue
        t = h5py.check_string_dtype(obj.attrs.get_id(k).dtype)
        expect(t is None or t.length is not None, f"{where} attribute {k} is a variable-length string")
    if isinstance(obj, h5py.Dataset):
        t = h5py.check_string_dtype(obj.dtype)
        expect(t is None or t.length is not None, f"{where} holds variable-length strings")
        expect(t is None or (obj.chunks and obj.fletcher32), f"{where}: strings not chunked with fletcher32")


def chunk_digest(ds):
    """SHA-256 of the chunk index as docs/results-format.md defines it: every chunk's file
    address and stored size (little-endian uint64 each), chunks in row-major order, read here
    through h5py's own chunk query: an independent reading of what every headsweep reader
    compares."""
    steps = [range(0, n, c) for n, c in zip(ds.shape, ds.chunks)]
    h = hashlib.sha256()
    for at in itertools.product(*steps):
        info = ds.id.get_chunk_info_by_coord(at)
        h.update(struct.pack("<QQ", info.byte_offset, info.size))
    return h.hexdigest()


def check_digests(f):
    """Every chunked dataset (schema 3) carries chunk_index_sha256, equal to chunk_digest."""
    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset) or not obj.chunks:
            return
        rec = obj.attrs.get("chunk_index_sha256")
        expect(rec is not None, f"/{name} has no chunk_index_sha256")
        if rec is not None:
            expect(text(rec) == chunk_digest(obj), f"/{name}: chunk_index_sha256 is not its chunk index's digest")
    f.visititems(visit)


def check_described(f):
    """Every dataset the file holds (dimension scales, metrics, the rest) carries non-empty
    units and long_name attributes: a new dataset without them fails here."""
    seen = []
    fixed_length(f, "/")
    def visit(name, obj):
        fixed_length(obj, "/" + name)
        if isinstance(obj, h5py.Dataset):
            seen.append(name)
            for a in ("units", "long_name"):
                expect(a in obj.attrs and text(obj.attrs[a]).strip() != "", f"/{name} lacks attribute {a}")
    f.visititems(visit)
    expect(len(seen) >= len(DIMS) + len(METRICS) + len(LAYOUT), f"only {len(seen)} datasets")


def check_agency(f, size):
    """Zero for variants without agency; otherwise every head has the same number of steps,
    withdrawn heads are the pruned ones and never change state, and a head seen in k states
    changed state at least k - 1 times (each prompt starts every head in one state)."""
    occ, trans = f["agency/occupancy"][...], f["agency/transitions"][...]
    pruned = f["heads/pruned"][...]
    agency = f["variant"].attrs["agency"]
    for v in range(size["variant"]):
        if not agency[v]:
            expect((occ[v] == 0).all(), f"variant {v} without agency has occupancy")
            expect((trans[v] == 0).all(), f"variant {v} without agency has transitions")
            continue
        steps = occ[v].sum(axis=-1)  # (level, shard, layer, head): every head is in one state per step
        expect((steps == steps[..., :1, :1]).all(), f"variant {v}: heads disagree on the number of steps")
        withdrawn = occ[v][..., 3] > 0
        expect((withdrawn.any(axis=1) == (pruned[v] == 1)).all(), f"variant {v}: withdrawn heads != pruned heads")
        expect((trans[v][withdrawn] == 0).all(), f"variant {v}: withdrawn heads changed state")
        states = (occ[v] > 0).sum(axis=-1)
        expect((trans[v] >= states - 1).all(), f"variant {v}: heads seen in several states without transitions")
        expect(not (states > 1).any() or trans[v].sum() > 0, f"variant {v}: states change but no transitions")


def distinct(ids, n):
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else math.nan


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_cells(f, size, ranks):
    done = f["cells/done"][...]
    expect(done.all(), f"{int((done == 0).sum())} cells not done")
    expect(bool(f.attrs["complete"]) == bool(done.all()), "attribute complete disagrees with /cells/done")
    rank = f["cells/rank"][...]
    expect(((rank >= 0) & ((rank < ranks) | (ranks == 0))).all(), f"/cells/rank outside [0, {ranks})")
    expect((f["cells/seconds"][...] > 0).all(), "/cells/seconds not positive")
    expect((f["cells/run"][...] >= 1).all() and (f["cells/run"][...] <= f.attrs["runs"]).all(), "/cells/run")
    expect(all(h for h in f["cells/host"][...].ravel()), "empty /cells/host")
    req, used = f["cells/copies_requested"][...], f["cells/copies_used"][...]
    expect((req <= 7).all() and (used <= 7).all(), "/cells/copies_* of a done cell not recorded (255) or not bits")
    expect(((used & ~req) == 0).all(), "/cells/copies_used holds a copy not requested")
    fin, created = f["cells/finished_utc"][...], f.attrs["created_utc"].decode()
    start = (np.datetime64(created.rstrip("Z")) - np.datetime64("1970-01-01T00:00:00")) / np.timedelta64(1, "s")
    expect(((fin >= start) & (fin <= time.time() + 1)).all(), "/cells/finished_utc not seconds since the epoch "
           "between the file's creation and now")


def check_metrics(f, size):
    for m in METRICS:
        expect(m in f["metrics"], f"/metrics/{m} missing")
    for name, ds in f["metrics"].items():
        check_dataset(f, "metrics/" + name, ["variant", "level", "prompt"], np.float64, size)
        for a in ("units", "long_name", "timing", "_FillValue"):
            expect(a in ds.attrs, f"/metrics/{name} lacks attribute {a}")
    ids = f["text/generated_ids"][...]
    m = {k: f["metrics/" + k][...] for k in ("distinct_1", "distinct_2", "generated_tokens", "live_heads")}
    pruned = f["heads/pruned"][...]
    L, H = size["layer"], size["head"]
    for v in range(size["variant"]):
        for lv in range(size["level"]):
            live = L * H - int(pruned[v, lv].sum())
            for p in range(size["prompt"]):
                row = ids[v, lv, p]
                n = int((row >= 0).sum())
                expect((row[n:] == -1).all() and (row[:n] >= 0).all(), f"ids of {v},{lv},{p} are not -1 padded")
                toks = [int(t) for t in row[:n]]
                expect(m["generated_tokens"][v, lv, p] == n, f"generated_tokens {v},{lv},{p}")
                expect(same(m["distinct_1"][v, lv, p], distinct(toks, 1)), f"distinct_1 {v},{lv},{p}")
                expect(same(m["distinct_2"][v, lv, p], distinct(toks, 2)),
                       f"distinct_2 of {v},{lv},{p}: file {m['distinct_2'][v, lv, p]}, recomputed {distinct(toks, 2)}")
                expect(m["live_heads"][v, lv, p] == live, f"live_heads {v},{lv},{p}")


def check_heads(f, size):
    pruned = f["heads/pruned"][...]
    L, H = size["layer"], size["head"]
    # variants with the same strategy and selection rules prune the same heads
    va, nv = f["variant"].attrs, size["variant"]
    rule = [(text(va["strategy"][v]), int(va["per_layer"][v]), int(va["keep_one_per_layer"][v])) for v in range(nv)]
    vs = f["heads/variant_score"][...]
    for lv, level in enumerate(f["level"][...]):
        for v in range(nv):
            u = rule.index(rule[v])
            expect((pruned[v, lv] == pruned[u, lv]).all(), f"variants {u} and {v} prune different heads at one level")
            expect(np.array_equal(vs[v], vs[u]), f"variants {u} and {v} have one strategy but other scores")
            if not (rule[v][1] or rule[v][2]):
                expect(int(pruned[v, lv].sum()) == int(math.floor(level / 100 * L * H + 0.5)),
                       f"level {level}: {int(pruned[v, lv].sum())} heads off in variant {v}")
    for a in ("strategy", "calibration_set", "calibration_sha256", "n_prompts", "seed"):
        expect(a in f["heads/score"].attrs, f"/heads/score lacks attribute {a}")
    source = text(f.attrs["heads_source"])
    expect(source in ("computed", "scores_file", "heads_off"), f"heads_source {source!r}")
    expect((source == "scores_file") == bool(text(f.attrs["scores_path"])), "scores_path vs heads_source")
    expect((source == "heads_off") == (text(f.attrs["strategy"]) == "heads_off"), "strategy vs heads_source")
    check_agency(f, size)


def check(path, ranks):
    with h5py.File(path, "r") as f:
        for a in ROOT_ATTRS:
            expect(a in f.attrs, f"root attribute {a} missing")
        expect(f.attrs["schema_version"] == 3, "schema_version")
        route = text(f.attrs["openblas_version"]).rsplit("; prefill route: ", 1)
        expect(len(route) == 2 and route[1] in ("tiles", "openblas"),
               f"openblas_version {text(f.attrs['openblas_version'])!r} names no prefill route")
        size = check_dims(f)
        for name, (dims, dtype) in LAYOUT.items():
            check_dataset(f, name, dims, dtype, size)
        check_cells(f, size, ranks)
        check_metrics(f, size)
        check_heads(f, size)
        check_described(f)
        check_digests(f)
        expect(ranks == 0 or int(f.attrs["n_ranks"]) == ranks, f"n_ranks {f.attrs['n_ranks']}, want {ranks}")
    if problems:
        sys.exit(f"{path}:\n  " + "\n  ".join(problems[:20]))
    print(f"{path}: schema, dimension scales, attributes and recomputed metrics check out")


EPOCH = "seconds since 1970-01-01T00:00:00Z"


def udunits_parses(unit):
    """Whether UDUNITS-2 (Debian's udunits-bin) parses unit: udunits2 exits 1 on one it does not know."""
    r = subprocess.run(["udunits2", "-H", unit, "-W", ""], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return r.returncode == 0


def cf_fill(f, name, want):
    ds = f[name]
    fv = ds.attrs.get("_FillValue")
    expect(fv is not None, f"/{name} has no _FillValue")
    if fv is not None:
        expect(np.asarray(fv).dtype == ds.dtype, f"/{name} _FillValue of type {np.asarray(fv).dtype}, not {ds.dtype}")
        expect(same(float(fv), want), f"/{name} _FillValue {fv}, want {want}")


def cf_netcdf(path, f):
    """What CF decoding gives netCDF readers: xarray (h5netcdf) masks the -1 padding of the
    generated ids, decodes the finish times and names every axis; netCDF4 (the C library)
    reads the numeric groups. Arrays of fixed-length strings need netCDF-C 4.9.1 or later
    (Debian 12 has 4.9.0: Unidata/netcdf-c#2159), so netCDF4 is not asked for the labels."""
    import warnings
    warnings.simplefilter("ignore")
    import xarray as xr
    ids = f["text/generated_ids"][...]
    t = xr.open_dataset(path, engine="h5netcdf", group="text")
    expect(int(t["generated_ids"].isnull().sum()) == int((ids == -1).sum()), "xarray does not mask the -1 padding")
    c = xr.open_dataset(path, engine="h5netcdf", group="cells")
    expect(c["finished_utc"].dtype.kind == "M", f"xarray reads /cells/finished_utc as {c['finished_utc'].dtype}")
    root = xr.open_dataset(path, engine="h5netcdf")
    expect(root["variant"].dtype.kind in "OU", f"xarray reads /variant as {root['variant'].dtype}, not str")
    for g in ("metrics", "text", "heads", "agency"):
        x = xr.open_dataset(path, engine="netcdf4", group=g)
        for k, v in x.data_vars.items():
            expect(v.shape == f[g + "/" + k].shape, f"netCDF4 reads /{g}/{k} as {v.shape}")
    n = xr.open_dataset(path, engine="netcdf4", group="text")["generated_ids"]
    expect(int(n.isnull().sum()) == int((ids == -1).sum()), "netCDF4 does not mask the -1 padding")


def cf(path):
    for bad in ("tokens/s", "FLOP"):  # the check can fail
        expect(not udunits_parses(bad), f"udunits2 parses {bad!r}: the unit check would pass anything")
    with h5py.File(path, "r") as f:
        expect(text(f.attrs.get("Conventions", b"")) == "CF-1.8", "root attribute Conventions is not CF-1.8")
        units = {}
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                u = text(obj.attrs.get("units", b""))
                expect(u.strip() != "", f"/{name} has no units")
                expect(text(obj.attrs.get("long_name", b"")).strip() != "", f"/{name} has no long_name")
                units.setdefault(u, []).append(name)
            expect("DIMENSION_LABELS" not in obj.attrs, f"/{name} has DIMENSION_LABELS")
            fixed_length(obj, "/" + name)
        f.visititems(visit)
        for u, names in sorted(units.items()):
            expect(udunits_parses(u),
                   f"units {u!r} of /{names[0]} (and {len(names) - 1} more) do not parse with UDUNITS-2")
        cf_fill(f, "text/generated_ids", -1)
        cf_fill(f, "cells/rank", -1)
        for name in ["cells/seconds", "cells/finished_utc"] + ["metrics/" + m for m in f["metrics"]]:
            cf_fill(f, name, math.nan)
        for name in ("cells/finished_utc", "metrics/run_start_seconds"):
            expect(text(f[name].attrs["units"]) == EPOCH and f[name].dtype.kind == "f", f"/{name} is not a CF time")
        cf_netcdf(path, f)
    if problems:
        sys.exit(f"{path}:\n  " + "\n  ".join(problems[:20]))
    print(f"{path}: CF-1.8 attributes, {len(units)} distinct units all parsed by UDUNITS-2, fill values, times")


def quality(path):
    with h5py.File(path, "r") as f:
        out = {"metrics/" + n: ds[...] for n, ds in f["metrics"].items() if ds.attrs["timing"] == 0}
        for k in ("text/generated_ids", "agency/occupancy", "agency/transitions", "heads/score", "heads/pruned",
                  "cells/done", "prompts/generated"):
            out[k] = f[k][...]
        out["study"] = text(f.attrs["study"])
        return out


def compare(paths):
    numbers_only = "--numbers-only" in paths  # leave out the study text (e.g. other prompt file bytes)
    paths = [p for p in paths if p != "--numbers-only"]
    a = quality(paths[0])
    if numbers_only:
        del a["study"]
    for p in paths[1:]:
        b = quality(p)
        for k in a:
            if not np.array_equal(a[k], b[k], equal_nan=isinstance(a[k], np.ndarray) and a[k].dtype.kind == "f"):
                sys.exit(f"{p}: {k} differs from {paths[0]}")
    print("identical quality numbers:", " ".join(paths))


def keeps(paths):
    """Every number (timing too) and generated token of the prompts done in the first
    file is in each later file unchanged: a damaged copy must not lose or alter them."""
    with h5py.File(paths[0], "r") as f:
        done = np.isfinite(f["metrics/generation_seconds"][...])  # (variant, level, prompt)
        a = {"metrics/" + n: ds[...] for n, ds in f["metrics"].items()}
        a["text/generated_ids"] = f["text/generated_ids"][...]
        a["prompts/generated"] = f["prompts/generated"][...]
    for p in paths[1:]:
        with h5py.File(p, "r") as f:
            for k, x in a.items():
                y = f[k][...]
                if not np.array_equal(x[done], y[done], equal_nan=x.dtype.kind == "f" and x.ndim > 0):
                    sys.exit(f"{p}: {k} lost or changed values of {paths[0]}")
    print("kept every value of", paths[0], "in", " ".join(paths[1:]))


def bytes_to_unicode():
    """GPT-2's byte -> character table (encoder.py), how vocab.json spells raw bytes."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1)) + \
        list(range(ord("\u00ae"), ord("\u00ff") + 1))
    cs = bs[:]
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + len(cs) - 188)
    return dict(zip(bs, map(chr, cs)))


def as_text(raw):
    """Bytes as Hugging Face's tokenizer.decode returns them, NUL replaced like invalid bytes
    (a fixed-length string ends at its first NUL)."""
    return raw.decode("utf-8", errors="replace").replace("\0", "\ufffd")


def token_bound(raw):
    """Most bytes a token adds to a text in any context: its valid UTF-8 as it is, every
    other byte (and NUL) at most one U+FFFD of 3 bytes; surrogateescape marks those bytes."""
    return sum(3 if ch == "\0" or "\udc80" <= ch <= "\udcff" else len(ch.encode())
               for ch in raw.decode("utf-8", errors="surrogateescape"))


def gentext(path, model):
    import json
    import warnings
    warnings.simplefilter("ignore")
    import xarray as xr
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    vocab = json.load(open(os.path.join(model, "vocab.json"), encoding="utf-8"))
    token = {i: bytes(byte_of[c] for c in t) for t, i in vocab.items()}
    replaced = 0
    with h5py.File(path, "r") as f:
        ids, gen, done = f["text/generated_ids"][...], f["prompts/generated"], f["cells/done"][...]
        want_size = ids.shape[-1] * max(token_bound(t) for t in token.values()) + 1
        expect(gen.dtype.itemsize == want_size, f"/prompts/generated strings of {gen.dtype.itemsize} bytes, "
               f"want max_new x the vocabulary's bound + 1 = {want_size}")
        got = gen[...]
        nshard = done.shape[2]
        for v, lv, p in np.ndindex(*got.shape):
            row = [int(i) for i in ids[v, lv, p] if i >= 0]
            want = as_text(b"".join(token[i] for i in row)) if done[v, lv, p % nshard] else ""
            replaced += "\ufffd" in want
            expect(got[v, lv, p].decode("utf-8") == want,
                   f"/prompts/generated[{v}, {lv}, {p}] is {got[v, lv, p]!r}, the ids decode to {want!r}")
    x = xr.open_dataset(path, engine="h5netcdf", group="prompts")["generated"].values
    expect(x.shape == got.shape and all(a == b.decode() for a, b in zip(x.ravel(), got.ravel())),
           "xarray (h5netcdf) reads other texts than h5py")
    if problems:
        sys.exit(f"{path}:\n  " + "\n  ".join(problems[:20]))
    print(f"{path}: all {got.size} generated texts are their ids decoded ({replaced} with U+FFFD), in h5py and xarray")


def regions(path):
    """Byte ranges of the structures the damage cases aim at: the superblock (48 bytes
    in the 1.8 format), the version 2 object headers (from their OHDR/OCHK signature)
    and every dataset chunk (h5py's chunk index)."""
    data = open(path, "rb").read()
    heads = [m.start() for m in re.finditer(b"OHDR|OCHK", data)]
    # Global heap collections: the text of the variable-length /variant, /prompt and
    # /state labels and the dimension-scale references, without a checksum in HDF5
    # (docs/robustness.md); left out of the "anywhere" flips.
    gheap = [(m.start(), m.start() + int.from_bytes(data[m.start() + 8:m.start() + 16], "little"))
             for m in re.finditer(b"GCOL", data)]
    chunks = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and obj.chunks:
                for i in range(obj.id.get_num_chunks()):
                    c = obj.id.get_chunk_info(i)
                    chunks.append((c.byte_offset, c.size, name))
        f.visititems(visit)
    return data, heads, chunks, gheap


def damage(path, outdir, seed):
    """Seeded damage: 32 truncations, and bit flips in the superblock (4), in object
    headers (12), in chunks of data (16, each in a different dataset where possible)
    and anywhere in the file (12)."""
    rng = random.Random(seed)
    data, heads, chunks, gheap = regions(path)
    n = len(data)
    cases = []
    fixed = [0, 1, 7, 8, 47, 48, 512, 2048, 4096, n // 2, n - 4096, n - 512, n - 8, n - 1]
    for length in sorted(set(fixed + [rng.randrange(1, n) for _ in range(40)]))[:32]:
        cases.append((f"trunc-{length}", "truncated", data[:length]))
    def flip(cls, off):
        b = bytearray(data)
        b[off] ^= 1 << rng.randrange(8)
        cases.append((f"{cls}-{off}", cls, bytes(b)))
    for off in rng.sample(range(48), 4):
        flip("superblock", off)
    for h in rng.sample(heads, min(12, len(heads))):
        flip("header", h + rng.randrange(4, 40))
    rng.shuffle(chunks)
    seen = set()
    picked = [c for c in chunks if not (c[2] in seen or seen.add(c[2]))][:16]
    for off, size, _ in picked:
        flip("chunk", off + rng.randrange(size))
    anywhere = [o for o in range(n) if not any(a <= o < b for a, b in gheap)]
    for off in rng.sample(anywhere, 12):
        flip("anywhere", off)
    os.makedirs(outdir, exist_ok=True)
    for name, cls, b in cases:
        with open(os.path.join(outdir, name + ".h5"), "wb") as f:
            f.write(b)
        print(name, cls)


def main():
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "check":
        check(path, int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--ranks" else 0)
    elif cmd == "cf":
        cf(path)
    elif cmd == "compare":
        compare(sys.argv[2:])
    elif cmd == "keeps":
        keeps(sys.argv[2:])
    elif cmd == "texts":  # the file's prompt texts equal the prompt file's (self-contained)
        import json
        with h5py.File(path, "r") as f:
            got = [(text(i), text(p), text(r)) for i, p, r in
                   zip(f["prompt"][...], f["prompts/text"][...], f["prompts/reference"][...])]
        want = [(d["id"], d["prompt"], d.get("reference", "")) for d in map(json.loads, open(sys.argv[3]))]
        if got != want[:len(got)] or not got:
            sys.exit(f"{path}: /prompts/text and /prompts/reference are not the prompt file's texts")
        print(f"{path}: the texts of all {len(got)} prompts and references")
    elif cmd == "gentext":
        gentext(path, sys.argv[3])
    elif cmd == "done":
        with h5py.File(path, "r") as f:
            print(int(f["cells/done"][...].sum()))
    elif cmd == "runs":
        with h5py.File(path, "r") as f:
            run, done = f["cells/run"][...].ravel(), f["cells/done"][...].ravel()
            print(" ".join(f"{r}:{int(((run == r) & (done == 1)).sum())}" for r in sorted(set(run.tolist()))))
    elif cmd == "tamper":
        with h5py.File(path, "r+") as f:
            v, lv, s = np.argwhere(f["cells/done"][...] == 1)[0]
            p = s  # the first prompt of shard s
            d2 = f["metrics/distinct_2"][v, lv, p]  # a share: moved, and kept in [0, 1]
            f["metrics/distinct_2"][v, lv, p] = d2 - 0.125 if d2 >= 0.125 else d2 + 0.125
            print(f"{text(f['variant'][v])} {f['level'][lv]:g} {s}")
    elif cmd == "damage":
        damage(path, sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main()
