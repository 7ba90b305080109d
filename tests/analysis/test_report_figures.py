#!/usr/bin/python3
"""test_report_figures.py: the figures of a head-pruning strategies study, point by point.

    test_report_figures.py REPORT_BINARY WORKDIR

A synthetic study in the shape of jobs/strategies.ini (make_fixture.py: seven skip variants
with their own strategies, levels 0..90%), whose /heads/pruned is rewritten so that every
strategy switches off its own nested head sets (one per layer, so the share of heads off is
not the nominal level; ablation-mean the heads of ablation; one cell not done). The report's
figures are checked against h5py/numpy and against its CSV tables:
  - corpus_perplexity: every point's x is the share of heads off in /heads/pruned, its y
    exp(sum NLL / sum tokens) of the cell's prompts, its interval the documented bootstrap
    of that ratio recomputed here (generator, stream key, type-7 quantiles), n its prompts;
    one series per variant in the script, titled with its strategy;
  - pruning_summary (Pareto): x and y with their intervals equal table_decode_tokens_per_second
    and table_corpus_reference_perplexity (y also recomputed), the frontier flags and the
    frontier file recomputed from the points, bars drawn and inside the axis ranges;
  - heads_pruned: one row per level and one column per distinct head set, no empty slot,
    every block equal to /heads/pruned, the cell not done marked; one group of variants
    (the default fixture) wraps 10 levels in 2 rows of 5;
  - radar_comparison: at 90%, 1/corpus perplexity (recomputed; not the mean of per-prompt
    perplexities), mean speed, distinct-2 and 1/mean generation time, each over the best;
  - paired_differences: one panel per comparison metric of comparisons.csv (all seven), every
    point equal to its row, the key in the grid's empty slot;
  - PNG and PDF of each when gnuplot is on PATH;
  - 130 levels: every figure drawn, none past Cairo's 32767 pixels a side.
"""
import os
import re
import shutil
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import test_report as tr  # noqa: E402  (the fixture runner, CSV reader and the bootstrap generator)

LEVELS = [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]
VARIANTS = ["entropy", "magnitude", "random", "ablation", "iterative", "gradient", "ablation-mean"]
STRATEGIES = ["entropy", "magnitude", "random", "ablation", "iterative", "gradient", "ablation"]
UNDONE = ("gradient", 90)
B = 100
failures = []
checks = [0]


def check(cond, what):
    checks[0] += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def close(a, b, rel=1e-7):
    return abs(float(a) - float(b)) <= rel * max(1.0, abs(float(b)))


def blocks(path):
    """Data blocks of a .dat file (separated by two blank lines), rows split, header dropped."""
    text = "".join(ln for ln in open(path) if not ln.startswith("#"))
    return [[ln.split() for ln in b.splitlines() if ln.strip()] for b in re.split(r"\n\s*\n\s*\n", text.strip())]


def head_sets(L, H):
    """(variant, level, L, H) maps: each strategy its own removal order, nested levels; magnitude
    per layer (round(p/100 H) heads of every layer); ablation-mean = ablation."""
    rng = np.random.default_rng(19)
    maps = np.zeros((len(VARIANTS), len(LEVELS), L, H), dtype=np.uint8)
    for vi, v in enumerate(VARIANTS):
        order = rng.permutation(L * H)
        per_layer = [rng.permutation(H) for _ in range(L)]
        for li, lev in enumerate(LEVELS):
            if v == "ablation-mean":
                maps[vi, li] = maps[VARIANTS.index("ablation"), li]
            elif v == "magnitude":
                k = int(np.floor(lev / 100.0 * H + 0.5))
                for layer in range(L):
                    maps[vi, li, layer, per_layer[layer][:k]] = 1
            else:
                flat = np.zeros(L * H, dtype=np.uint8)
                flat[order[:int(np.floor(lev / 100.0 * L * H + 0.5))]] = 1
                maps[vi, li] = flat.reshape(L, H)
    return maps


def make_study(work):
    g = tr.fixture(os.path.join(work, "strat.h5"), "--variants", ",".join(VARIANTS), "--kinds",
                   ",".join(["skip:0"] * len(VARIANTS)), "--strategies", ",".join(STRATEGIES), "--levels",
                   ",".join(map(str, LEVELS)), "--undone", "%s@%d" % UNDONE, "--no-nan")
    with h5py.File(g, "r+") as f:
        L, H = f["heads/pruned"].shape[2:]
        maps = head_sets(L, H)
        maps[VARIANTS.index(UNDONE[0]), LEVELS.index(UNDONE[1])] = 0   # a cell not done has no map
        f["heads/pruned"][...] = maps
    return g, maps


def corpus(h5, v, lev):
    ppl, tok = tr.values(h5, "reference_perplexity", v, float(lev)), tr.values(h5, "reference_tokens", v, float(lev))
    ok = np.isfinite(ppl) & np.isfinite(tok) & (ppl > 0) & (tok > 0)
    return tok[ok] * np.log(ppl[ok]), tok[ok]


def ratio_ci(x, w, seed):
    """The documented bootstrap of a corpus perplexity: resample prompts, sum(w ln ppl) / sum(w)."""
    r, n = tr.Xoshiro(seed), len(x)
    stats = []
    for _ in range(B):
        idx = [r.below(n) for _ in range(n)]
        stats.append(sum(x[i] for i in idx) / sum(w[i] for i in idx))
    return np.exp(np.quantile(stats, 0.025)), np.exp(np.quantile(stats, 0.975))


def check_corpus_figure(h5, maps, out):
    rows = [r for b in blocks(os.path.join(out, "corpus_perplexity.dat")) for r in b]
    want_rows = len(VARIANTS) * len(LEVELS) - 1
    check(len(rows) == want_rows, "corpus_perplexity.dat: every done cell once (%d rows, want %d)" % (len(rows),
                                                                                                  want_rows))
    table = tr.read_csv(os.path.join(out, "table_corpus_reference_perplexity.csv"))
    LH = maps.shape[2] * maps.shape[3]
    seen = set()
    for r in rows:
        v, strat = r[0], r[1]
        vi = VARIANTS.index(v)
        x = float(r[2])
        cands = [li for li in range(len(LEVELS)) if abs(100.0 * maps[vi, li].sum() / LH - x) < 1e-6 and
                 (v, li) not in seen]
        li = cands[0] if cands else None
        check(li is not None, "%s: x = %g%% is the share of heads off of one of its cells" % (v, x))
        if li is None:
            continue
        seen.add((v, li))
        lev = LEVELS[li]
        xs, ws = corpus(h5, v, lev)
        want = np.exp(xs.sum() / ws.sum())
        lo, hi = ratio_ci(xs, ws, tr.stream_seed(tr.DEFAULT_SEED, "table/corpus_reference_perplexity/%s/%g" %
                                                 (v, lev)))
        t = tr.row(table, variant=v, level=lev)
        check(close(r[3], want) and close(r[4], lo, 1e-6) and close(r[5], hi, 1e-6) and int(r[6]) == len(xs),
              "corpus point %s at %d%%: %s, recomputed %.9g [%.9g, %.9g] n=%d" % (v, lev, r[3:], want, lo, hi,
                                                                                len(xs)))
        check(close(r[3], t["mean"]) and close(r[4], t["ci_low"]) and close(r[5], t["ci_high"]),
              "corpus point %s at %d%% = table_corpus_reference_perplexity.csv" % (v, lev))
        check(strat == STRATEGIES[vi], "corpus point %s names its strategy (%s)" % (v, strat))
    mag = [float(r[2]) for r in rows if r[0] == "magnitude"]
    check(mag[1] != 10.0, "per-layer selection: x is the share really off (%g), not the nominal level" % mag[1])
    gp = open(os.path.join(out, "corpus_perplexity.gp")).read()
    titles = re.findall(r"index (\d+) using \S+ with yerrorlines [^\n]* title '([^']*)'", gp)
    want_t = [(str(i), v if v == s else "%s: %s" % (v, s)) for i, (v, s) in enumerate(zip(VARIANTS, STRATEGIES))]
    check(titles == want_t, "corpus_perplexity.gp: one series per variant with its strategy, in order (%s)" % titles)


def pareto_flags(x, y):
    """1 where no other point is at least as fast and at most as perplex, strictly better in one."""
    return [int(not any(x[j] >= x[i] and y[j] <= y[i] and (x[j] > x[i] or y[j] < y[i])
                        for j in range(len(x)) if j != i)) for i in range(len(x))]


def check_pareto(h5, out):
    speed = tr.read_csv(os.path.join(out, "table_decode_tokens_per_second.csv"))
    ppl = tr.read_csv(os.path.join(out, "table_corpus_reference_perplexity.csv"))
    bl = blocks(os.path.join(out, "pruning_summary.dat"))
    fronts = blocks(os.path.join(out, "pruning_summary_front.dat"))
    check(len(bl) == len(VARIANTS) == len(fronts), "pruning_summary: one block per variant (%d, %d)" % (len(bl),
                                                                                                     len(fronts)))
    npts = 0
    for b, fr in zip(bl, fronts):
        v = b[0][0]
        for r in b:
            lev = float(r[1])
            s, q = tr.row(speed, variant=v, level=r[1]), tr.row(ppl, variant=v, level=r[1])
            xs, ws = corpus(h5, v, lev)
            ok = all(close(r[i], t[c]) for i, t, c in ((2, s, "mean"), (6, s, "ci_low"), (7, s, "ci_high"),
                                                      (3, q, "mean"), (8, q, "ci_low"), (9, q, "ci_high")))
            check(ok and close(r[3], np.exp(xs.sum() / ws.sum())),
                  "Pareto point %s at %s%% = the speed and corpus perplexity tables (%s)" % (v, r[1], r[2:]))
            npts += 1
        x, y = [float(r[2]) for r in b], [float(r[3]) for r in b]
        flags = pareto_flags(x, y)
        check([int(r[4]) for r in b] == flags, "%s: frontier flags recomputed %s" % (v, flags))
        want_front = sorted((x[i], y[i]) for i in range(len(x)) if flags[i])
        check([(float(r[1]), float(r[2])) for r in fr] == want_front, "%s: frontier file in order of speed" % v)
    check(npts == len(VARIANTS) * len(LEVELS) - 1, "Pareto: every done cell drawn (%d)" % npts)
    gp = open(os.path.join(out, "pruning_summary.gp")).read()
    check(gp.count("using 3:4:7:8:9:10 with xyerrorbars") == len(VARIANTS) and "corpus reference perplexity" in gp,
          "pruning_summary.gp: both intervals drawn per variant, the axis names the corpus perplexity")
    xr = [float(t) for t in re.search(r"set xrange \[([^:]+):([^\]]+)\]", gp).groups()]
    yr = [float(t) for t in re.search(r"set yrange \[([^:]+):([^\]]+)\]", gp).groups()]
    pts = [r for b in bl for r in b]
    check(xr[0] <= min(float(r[6]) for r in pts) and xr[1] >= max(float(r[7]) for r in pts) and
          yr[1] <= min(float(r[8]) for r in pts) and yr[0] >= max(float(r[9]) for r in pts),
          "Pareto axes hold every bar (x %s, y reversed %s)" % (xr, yr))


def check_radar(h5, out):
    """radar_comparison at the highest level: 1/corpus perplexity (not 1/mean of per-prompt
    perplexities), mean speed, mean distinct-2 and 1/mean generation time, each over the best."""
    lev = "%g" % LEVELS[-1]
    tab = {k: tr.read_csv(os.path.join(out, "table_%s.csv" % k)) for k in
           ("decode_tokens_per_second", "corpus_reference_perplexity", "reference_perplexity", "distinct_2",
            "generation_seconds")}
    bl = blocks(os.path.join(out, "radar_comparison.dat"))
    drawn = [v for v in VARIANTS if (v, LEVELS[-1]) != UNDONE]
    check([b[0][0] for b in bl] == drawn,
          "radar: one block per variant done at %s%% (%s)" % (lev, [b[0][0] for b in bl]))
    want, apart = {}, 0
    for b in bl:
        v = b[0][0]
        mean = {k: float(tr.row(t, variant=v, level=lev)["mean"]) for k, t in tab.items()}
        xs, ws = corpus(h5, v, LEVELS[-1])
        want[v] = {"speed": mean["decode_tokens_per_second"], "inv_corpus_perplexity": 1 / np.exp(xs.sum() / ws.sum()),
                   "distinct_2": mean["distinct_2"], "inv_generation_time": 1 / mean["generation_seconds"]}
        check(close(want[v]["inv_corpus_perplexity"], 1 / mean["corpus_reference_perplexity"]),
              "radar %s: the corpus table's mean is exp(sum NLL / sum tokens)" % v)
        apart += not close(mean["reference_perplexity"], mean["corpus_reference_perplexity"], 1e-3)
        check([r[1] for r in b] == list(want[v]) + ["speed"], "radar %s: the four axes, closed (%s)" % (v, b))
    check(apart == len(bl), "radar fixture: corpus and mean-of-prompts perplexity differ for every variant")
    for b in bl:
        v = b[0][0]
        for r in b:
            best = max(want[u][r[1]] for u in want)
            check(close(r[3], want[v][r[1]]) and close(r[4], want[v][r[1]] / best),
                  "radar %s %s: value %s normalised %s, want %g / best %g" % (v, r[1], r[3], r[4], want[v][r[1]],
                                                                                  best))
    check("1/corpus perplexity" in open(os.path.join(out, "radar_comparison.gp")).read(),
          "radar_comparison.gp: the axis names the corpus perplexity")


def check_heads(maps, out):
    gp = open(os.path.join(out, "heads_pruned.gp")).read()
    rows, cols = map(int, re.search(r"set multiplot layout (\d+),(\d+)", gp).groups())
    bl = blocks(os.path.join(out, "heads_pruned.dat"))
    groups = len(VARIANTS) - 1   # ablation-mean shares ablation's column
    check((rows, cols) == (len(LEVELS), groups) and gp.count("\nplot ") == len(bl) == rows * cols,
          "heads_pruned: %d levels x %d head sets, no empty slot (layout %d,%d, %d plots, %d blocks)" %
          (len(LEVELS), groups, rows, cols, gp.count("\nplot "), len(bl)))
    names = [v for v in VARIANTS if v != "ablation-mean"]
    titles = re.findall(r"set title '([^']*)'", gp)
    for i, b in enumerate(bl):
        li, k = divmod(i, cols)
        v = names[k]
        vi = VARIANTS.index(v)
        vals = {(int(r[2]), int(r[3])): r[4] for r in b}
        if (v, LEVELS[li]) == UNDONE:
            check(all(x == "NaN" for x in vals.values()) and titles[i].endswith(": not done"),
                  "the cell not done has a marked panel (%s)" % titles[i])
            continue
        m = maps[vi, li]
        check(all(vals[(a, h)] == str(int(m[a, h])) for a in range(m.shape[0]) for h in range(m.shape[1])) and
              b[0][0] == v and titles[i].endswith("%d%%: %d of %d heads off" % (LEVELS[li], m.sum(), m.size)),
              "head map panel %d (%s at %d%%) = /heads/pruned (%s)" % (i, v, LEVELS[li], titles[i]))
    check("ablation, ablation-mean at 50%" in gp and gp.count("cell not done") == 1,
          "variants with the same heads share a column and say so; one panel marked not done")
    cap = tr.caption(out, "heads_pruned")
    check("One column for ablation, ablation-mean" in cap and "No head map (cell not done) for: gradient at 90%"
          in cap, "heads_pruned caption: shared column and the cell not done (%s)" % cap)


def check_heads_one_group(work, binary):
    """Every variant prunes the same heads: one panel per level, 10 levels as 2 rows of 5."""
    g = tr.fixture(os.path.join(work, "onegroup.h5"), "--levels", ",".join(map(str, LEVELS)), "--no-partial")
    o = os.path.join(work, "onegroup")
    p = tr.report(binary, [g], o, "--no-figures", "--bootstrap", "100")
    gp = open(os.path.join(o, "heads_pruned.gp")).read()
    m = re.search(r"set multiplot layout (\d+),(\d+)", gp)
    check(p.returncode == 0 and m and m.groups() == ("2", "5") and gp.count("\nplot ") == 10,
          "one head set, 10 levels: 2 x 5 panels, no empty slot (%s)" % (m and m.groups(),))
    with h5py.File(g, "r") as f:
        pruned = f["heads/pruned"][0]
    bl = blocks(os.path.join(o, "heads_pruned.dat"))
    check(all(int(r[4]) == pruned[li, int(r[2]), int(r[3])] for li, b in enumerate(bl) for r in b),
          "one-group head maps = /heads/pruned")


def check_paired(out):
    rows = [r for r in tr.read_csv(os.path.join(out, "comparisons.csv")) if r["b_level"] == "" and
            int(r["n_pairs"]) > 0]
    metrics = list(dict.fromkeys(r["metric"] for r in rows))
    want = {(r["metric"], r["comparison"], float(r["level"])): r for r in rows}
    pts = [p for b in blocks(os.path.join(out, "paired_differences.dat")) for p in b]
    got = {(p[0], p[1], float(p[2])): p for p in pts}
    check(len(metrics) == 7 and len(pts) == len(got) and set(got) == set(want),
          "paired_differences.dat: every comparison row of all %d metrics (%d points, %d rows)" %
          (len(metrics), len(got), len(want)))
    for k in set(got) & set(want):
        p, r = got[k], want[k]
        check(all(close(p[i], r[c]) for i, c in ((3, "mean_pct"), (4, "ci_low_pct"), (5, "ci_high_pct"))) and
              p[6] == r["n_pairs"], "paired point %s = comparisons.csv" % (k,))
    gp = open(os.path.join(out, "paired_differences.gp")).read()
    m = re.search(r"set multiplot layout (\d+),(\d+)", gp)
    key = re.search(r"set key at screen ([0-9.]+),([0-9.]+)", gp)
    check(m and m.groups() == ("4", "2") and gp.count("\nplot ") == 7 and key and 0.5 < float(key.group(1)) < 0.6
          and float(key.group(2)) < 0.3, "paired_differences.gp: 7 panels in 4 x 2, the key in the last slot "
          "(%s, key at %s)" % (m and m.groups(), key and key.groups()))
    keys = dict((t.split(" vs ")[0], c) for c, t in
                re.findall(r'keyentry with yerrorlines [^\n]*lc rgb "(#[0-9a-f]+)" title \'([^\']*)\'', gp))
    corpus_gp = open(os.path.join(out, "corpus_perplexity.gp")).read()
    lines = dict((t.split(":")[0], c) for c, t in
                 re.findall(r'with yerrorlines [^\n]*lc rgb "(#[0-9a-f]+)" title \'([^\']*)\'', corpus_gp))
    check(len(keys) == 6 and all(keys[v] == lines[v] for v in keys),
          "each comparison against random has its strategy's colour of the corpus figure (%s, %s)" % (keys, lines))
    # apart in grayscale too: every line its own (point shape, dash) pair
    marks = re.findall(r'with yerrorlines lw 2 pt (\d+) dt (\d+) lc rgb', corpus_gp)
    check(len(marks) >= 7 and len(set(marks)) == len(marks), "corpus_perplexity.gp: distinct marks %s" % marks)
    panel_titles = re.findall(r"set title '([^']*)'\.\"\\n\"\.'above 0", gp)
    check(len(panel_titles) == 7 and panel_titles[1].startswith("efficiency") and
          panel_titles[4].startswith("quality"), "one panel per metric in the tables' order: %s" % panel_titles)


def check_rendered(out):
    for fig in ("corpus_perplexity", "pruning_summary", "heads_pruned", "paired_differences"):
        png, pdf = os.path.join(out, fig + ".png"), os.path.join(out, fig + ".pdf")
        check(os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n" and
              os.path.getsize(png) > 5000, fig + ".png drawn")
        check(os.path.exists(pdf) and open(pdf, "rb").read(5) == b"%PDF-", fig + ".pdf drawn")


def check_many_levels(work, binary):
    """130 levels (issue 17: from 122 on, the head maps and occupancy figures were taller than
    Cairo draws, 32767 pixels, and the report failed): every figure is drawn, none over the
    limit, and the head maps keep one panel per level."""
    n = 130
    levels = ",".join("%g" % round(i * 90 / (n - 1), 3) for i in range(n))
    g = tr.fixture(os.path.join(work, "many_levels.h5"), "--levels", levels, "--no-partial")
    o = os.path.join(work, "many_levels")
    p = tr.report(binary, [g], o, "--bootstrap", "100")
    check(p.returncode == 0, "130 levels: the report runs: " + p.stderr[-2000:])
    gp = open(os.path.join(o, "heads_pruned.gp")).read() if p.returncode == 0 else ""
    check(gp.count("\nplot ") == n, "130 levels: one head map per level (%d)" % gp.count("\nplot "))
    pngs = [f for f in os.listdir(o) if f.endswith(".png")] if os.path.isdir(o) else []
    check(not shutil.which("gnuplot") or len(pngs) >= 8, "130 levels: every figure drawn (%s)" % sorted(pngs))
    for f in pngs:
        w, h = tr.png_size(os.path.join(o, f))
        check(0 < w <= 32767 and 0 < h <= 32767, "130 levels: %s is %d x %d, inside Cairo's 32767" % (f, w, h))


def main():
    binary, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    h5, maps = make_study(work)
    out = os.path.join(work, "report")
    p = tr.report(binary, [h5], out, "--bootstrap", str(B), "--reference", "random")
    check(p.returncode == 0, "strategies report runs: " + p.stderr[-2000:])
    check_corpus_figure(h5, maps, out)
    check_pareto(h5, out)
    check_radar(h5, out)
    check_heads(maps, out)
    check_heads_one_group(work, binary)
    check_paired(out)
    check_many_levels(work, binary)
    if shutil.which("gnuplot"):
        check_rendered(out)
    print("%d check(s), %d failure(s)" % (checks[0], len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
