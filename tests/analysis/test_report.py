#!/usr/bin/python3
"""test_report.py: headsweep-report end to end on synthetic results files.

    test_report.py REPORT_BINARY WORKDIR

Writes fixtures with make_fixture.py (the schema of docs/results-format.md), runs the
report and checks it against an independent recomputation with h5py/numpy:
  - a table mean and a paired agency-vs-baseline difference, to the printed precision;
  - one bootstrap interval, by re-implementing the documented generator and resampling;
  - every promised file exists, PNGs are PNGs and a PDF of the same layout is beside each
    (when gnuplot is on PATH), `gnuplot NAME.gp` redraws both;
  - missing cells and NaN values are reported, not averaged in;
  - merged parts equal the whole; mismatched studies, bad files and bad options exit 2;
  - duplicate cells follow `headsweep merge`'s rule: identical ones accepted, differing
    quality numbers or pruned heads refused (exit 2 naming both files and the cell);
  - gnuplot missing -> note and exit 0; gnuplot failing -> exit 1 with its output;
  - --min-pairs, the caveats' counts, the 0% control in the speed attribution;
  - the verdict rule on planted ties and drift (make_fixture.py --ties): identical rows,
    too few differing prompts, sign-flip p-values recomputed by enumeration, equivalence
    margins (--margin), Holm's adjustment (--holm), a 0% difference between runs of the
    same code not called overhead;
  - --reference on a file whose variants have other names;
  - figure captions list the cells they leave out; gnuplot scripts (log range, labels,
    Pareto rings); an incomplete file is warned about first.
"""
import csv
import os
import re
import shutil
import struct
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "make_fixture.py")
PROMISED = ["decode_tokens_per_second", "generation_seconds", "time_to_first_token",
            "corpus_reference_perplexity", "reference_perplexity", "generated_perplexity_unpruned", "distinct_1",
            "distinct_2",
            "type_token_ratio", "repetition_rate", "peak_rss_bytes", "cpu_seconds"]
FIGURES = ["paired_differences", "speed_comparison", "perplexity_comparison", "pruning_summary", "radar_comparison",
           "heads_pruned", "agency_occupancy_agency"]
DEFAULT_SEED = 20240601
DEFAULT_BOOTSTRAP = 10000
M64 = (1 << 64) - 1
failures = []
checks = [0]


def check(cond, what):
    checks[0] += 1
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def fixture(path, *args):
    subprocess.run([sys.executable, FIXTURE, path, *args], check=True)
    return path


def report(binary, files, out, *args, env=None):
    cmd = [binary, *files, "--out", out, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def row(rows, **kw):
    hits = [r for r in rows if all(r[k] == str(v) for k, v in kw.items())]
    assert len(hits) == 1, (kw, len(hits))
    return hits[0]


def values(h5, metric, v, l):
    """Per-prompt values of a cell with its done mask applied (NaN where not done)."""
    with h5py.File(h5, "r") as f:
        variants = [s.decode() if isinstance(s, bytes) else s for s in f["variant"][:]]
        levels = list(f["level"][:])
        done = f["cells/done"][:]
        x = f["metrics/" + metric][variants.index(v), levels.index(l), :]
    ns = done.shape[2]
    mask = done[variants.index(v), levels.index(l), np.arange(len(x)) % ns].astype(bool)
    return np.where(mask, x, np.nan)


def close_printed(printed, exact):
    """printed is exact rounded to its printed precision (4 significant digits, plain
    decimals between 0.001 and 10^6, %.4g otherwise)."""
    if "e" in printed:
        return float(printed) == float("%.4g" % exact)
    dec = len(printed.split(".")[1]) if "." in printed else 0
    return abs(float(printed) - exact) <= 0.5 * 10 ** -dec * (1 + 1e-9)


# ---- an independent implementation of the documented bootstrap (docs/report.md) ----

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


class Xoshiro:
    def __init__(self, seed):
        self.s, x = [], seed
        for _ in range(4):
            x, z = splitmix64(x)
            self.s.append(z)

    def next(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        result = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def below(self, n):
        threshold = (-n) % (1 << 64) % n
        while True:
            x = self.next()
            if x >= threshold:
                return x % n


def stream_seed(seed, key):
    h = 0xCBF29CE484222325
    for ch in key.encode():
        h = ((h ^ ch) * 0x100000001B3) & M64
    return splitmix64(seed ^ h)[1]


def bootstrap_ci(x, B, seed):
    r = Xoshiro(seed)
    n = len(x)
    means = sorted(sum(x[r.below(n)] for _ in range(n)) / n for _ in range(B))
    return np.quantile(means, 0.025), np.quantile(means, 0.975)   # numpy default = type 7


# ---- the checks ----

def png_size(path):
    d = open(path, "rb").read(24)
    return struct.unpack(">II", d[16:24])


def check_pdf(out, fig):
    """FIG.pdf beside FIG.png (gnuplot-nox has pdfcairo): a whole PDF (header, %%EOF trailer),
    one page of the PNG's layout (cairo draws PNGs at 72 px per inch: MediaBox = pixels), with
    more than a blank page's bytes, linked from REPORT.md."""
    path = os.path.join(out, fig + ".pdf")
    data = open(path, "rb").read() if os.path.exists(path) else b""
    check(data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) > 5000,
          "%s.pdf is a PDF (%d bytes)" % (fig, len(data)))
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    box = re.search(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", data)
    w, h = png_size(os.path.join(out, fig + ".png"))
    check(pages == 1 and box and abs(float(box.group(1)) - w) <= 1 and abs(float(box.group(2)) - h) <= 1,
          "%s.pdf: one page of the PNG's %dx%d layout (%d pages, %s)" % (fig, w, h, pages, box and box.groups()))
    check("[%s.pdf](%s.pdf)" % (fig, fig) in open(os.path.join(out, "REPORT.md")).read(), fig + ".pdf listed")


def check_redraw(out):
    """`gnuplot NAME.gp` in the directory redraws both the PNG and the PDF."""
    if not shutil.which("gnuplot"):
        return
    for ext in (".png", ".pdf"):
        os.remove(os.path.join(out, "heads_pruned" + ext))
    subprocess.run(["gnuplot", "heads_pruned.gp"], cwd=out, check=True, capture_output=True)
    check(all(os.path.getsize(os.path.join(out, "heads_pruned" + e)) > 1000 for e in (".png", ".pdf")),
          "gnuplot heads_pruned.gp redraws heads_pruned.png and heads_pruned.pdf")


def check_files(out, gnuplot):
    for name in ["REPORT.md", "tables.md", "coverage.csv", "comparisons.csv"] + \
            ["table_%s.csv" % k for k in PROMISED]:
        check(os.path.getsize(os.path.join(out, name)) > 0, "%s written" % name)
    for fig in FIGURES:
        for ext in (".dat", ".gp"):
            check(os.path.exists(os.path.join(out, fig + ext)), fig + ext + " written")
        png = os.path.join(out, fig + ".png")
        if gnuplot:   # CI installs gnuplot-nox (tools/setup.sh): then every PNG is required
            ok = os.path.exists(png) and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
            check(ok and os.path.getsize(png) > 1000, fig + ".png is a PNG")
            if ok:
                check_pdf(out, fig)
    if not gnuplot:
        print("SKIP: gnuplot is not on PATH: the PNG checks are skipped (tools/setup.sh installs gnuplot-nox)")
    with open(os.path.join(out, "speed_comparison.dat")) as f:
        check(f.readline().startswith("# variant level_pct mean"), "plot data has a header line")


def check_table_mean(h5, out):
    x = values(h5, "decode_tokens_per_second", "baseline", 50.0)
    rows = read_csv(os.path.join(out, "table_decode_tokens_per_second.csv"))
    r = row(rows, variant="baseline", level=50)
    check(abs(float(r["mean"]) - np.nanmean(x)) <= 1e-8 * abs(np.nanmean(x)), "CSV mean tokens/s")
    check(int(r["n"]) == 24, "n of a complete cell")
    md = open(os.path.join(out, "tables.md")).read()
    sec = md[md.index("### decode speed"):]
    line = [ln for ln in sec.splitlines() if ln.startswith("| 50 |")][0]
    printed = line.split("|")[2].split()[0]
    check(close_printed(printed, np.nanmean(x)), "tables.md mean %s vs %.6g" % (printed, np.nanmean(x)))
    # The bootstrap interval, recomputed from the documented algorithm and the CSV's key.
    lo, hi = bootstrap_ci(list(x), DEFAULT_BOOTSTRAP, stream_seed(DEFAULT_SEED, r["seed_key"]))
    check(abs(float(r["ci_low"]) - lo) < 1e-9 * abs(lo) and abs(float(r["ci_high"]) - hi) < 1e-9 * abs(hi),
          "bootstrap CI reproduced independently (%s %s vs %.9g %.9g)" % (r["ci_low"], r["ci_high"], lo, hi))


def log_ratio(a, b):
    """Per-prompt log ratios ln a - ln b, what the report's paired comparisons average
    (docs/report.md): antisymmetric, unlike the percent (a - b) / b."""
    return np.log(a) - np.log(b)


def pct(x):
    """A mean log ratio as the report shows it: the geometric mean ratio's percent change."""
    return 100 * np.expm1(x)


def check_paired(h5, out):
    a = values(h5, "decode_tokens_per_second", "agency", 50.0)
    b = values(h5, "decode_tokens_per_second", "baseline", 50.0)
    want = pct(np.nanmean(log_ratio(a, b)))
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    r = row(rows, comparison="agency-vs-baseline", metric="speed", level=50)
    check(abs(float(r["mean_pct"]) - want) < 1e-7, "CSV paired mean %s vs %.9g" % (r["mean_pct"], want))
    check(int(r["n_pairs"]) == 24, "paired n")
    rep = open(os.path.join(out, "REPORT.md")).read()
    m = re.search(r"At 50%, agency vs baseline, speed \(decode tokens/s\): ([+-][0-9.]+)% \(95% CI", rep)
    check(m is not None and m.group(1) == "%+.2f" % want, "REPORT.md paired mean (%s vs %+.2f)"
          % (m and m.group(1), want))
    # Partial cell: pairs only where both are done; perplexity NaN left out of pairs.
    r70 = row(rows, comparison="agency-vs-baseline", metric="speed", level=70)
    check(int(r70["n_pairs"]) == 12, "pairs at the partial level = 12")
    p30 = row(rows, comparison="agency-vs-baseline", metric="perplexity", level=30)
    check(int(p30["n_pairs"]) == 23, "NaN perplexity leaves its pair out")
    e = row(rows, comparison="agency-vs-baseline", metric="efficiency", level=50)
    ta = values(h5, "generation_seconds", "agency", 50.0)
    tb = values(h5, "generation_seconds", "baseline", 50.0)
    check(abs(float(e["mean_pct"]) - pct(np.mean(log_ratio(tb, ta)))) < 1e-7, "efficiency = 1/time paired")
    check(r["n_cross_host_or_run"] == "0", "pairs run side by side are not flagged")
    check(r["verdict"] == want_verdict(r, 10), "verdict rule")


PAIRED_PANELS = ["speed", "efficiency", "corpus_perplexity", "perplexity", "quality", "diversity",
                 "generated_perplexity"]   # every comparison metric of comparisons.csv (issue 20)


def check_paired_figure(h5, out):
    """paired_differences: every comparison between variants of the seven panel metrics, each
    point the CSV's mean and interval with its verdict, the corpus panel's per-token NLL
    difference recomputed from the file; one panel per metric, a zero line, the titles quoted."""
    csv_rows = read_csv(os.path.join(out, "comparisons.csv"))
    want = {(r["metric"], r["comparison"], float(r["level"])): r for r in csv_rows
            if r["b_level"] == "" and r["metric"] in PAIRED_PANELS and int(r["n_pairs"]) > 0}
    pts = numbers(os.path.join(out, "paired_differences.dat"))
    got = {(p[0], p[1], float(p[2])): p for p in pts}
    check(len(pts) == len(got) and set(got) == set(want) and len(want) == 7 * 3 * 4,
          "paired_differences.dat: one point per comparison, metric and level (%d vs %d)" % (len(got), len(want)))
    for k in set(got) & set(want):
        p, r = got[k], want[k]
        same = all(abs(float(p[i]) - float(r[c])) <= 1e-7 * max(1, abs(float(r[c])))
                   for i, c in ((3, "mean_pct"), (4, "ci_low_pct"), (5, "ci_high_pct")))
        verdict = r["verdict"].split(" (")[0] in ("faster", "slower", "better", "worse")
        check(same and p[6] == r["n_pairs"] and p[7] == str(int(verdict)) and float(p[9]) == float(r["margin_pct"]),
              "paired point %s = comparisons.csv (%s vs %s)" % (k, p[3:], [r["mean_pct"], r["verdict"]]))
    a, b = values(h5, "reference_perplexity", "agency", 50.0), values(h5, "reference_perplexity", "baseline", 50.0)
    n = values(h5, "reference_tokens", "baseline", 50.0)
    ok = np.isfinite(a) & np.isfinite(b)
    d = np.sum(n[ok] * (np.log(a[ok]) - np.log(b[ok]))) / np.sum(n[ok])
    nll = float(got[("corpus_perplexity", "agency-vs-baseline", 50.0)][8])
    check(abs(nll - d) <= 1e-7 * abs(d), "per-token NLL difference %.9g, recomputed %.9g" % (nll, d))
    gp = open(os.path.join(out, "paired_differences.gp")).read()
    titles = re.findall(r"keyentry with yerrorlines [^\n]* title '([^']*)'", gp)
    check(gp.count("\nplot ") == 7 and "set multiplot layout 4,2" in gp and "set xzeroaxis" in gp and
          titles == ["agency vs baseline", "baseline-skip vs baseline", "agency vs baseline-skip"],
          "paired_differences.gp: 7 panels in a 4x2 layout, zero line, the comparisons in the key (%s)" % titles)


def check_flat_panel(binary, work):
    """Variants with equal distinct-2 for every prompt: the diversity panel's points are all 0,
    and its range is the equivalence band (+-1.5 x 1%) instead of gnuplot's empty-range warning."""
    g = os.path.join(work, "flat.h5")
    shutil.copy(os.path.join(work, "study.h5"), g)
    with h5py.File(g, "r+") as f:
        d = f["metrics/distinct_2"][...]
        d[:] = d[0:1]
        f["metrics/distinct_2"][...] = d
    o = os.path.join(work, "flat")
    p = report(binary, [g], o, "--bootstrap", "100")
    gp = open(os.path.join(o, "paired_differences.gp")).read()
    panel = gp.split("title 'lexical diversity", 1)[1].split("\nplot ", 1)[0]
    check(p.returncode == 0 and "set yrange [-1.5:1.5]" in panel and "empty y range" not in p.stderr,
          "an all-zero panel gets the band as its range, no gnuplot warning (%s)" % p.stderr[-300:])


def check_occupancy_figure(binary, work, out):
    """One row per level and one column per state that occurs, as many panels as the layout
    holds, one colour scale (cbrange [0:1] set once) and one colour bar; a state no head
    entered gets no column, a panel without steps says so."""
    def layout(o):
        gp = open(os.path.join(o, "agency_occupancy_agency.gp")).read()
        m = re.search(r"set multiplot layout (\d+),(\d+)", gp)
        blocks = open(os.path.join(o, "agency_occupancy_agency.dat")).read().count("\n\n\n") + 1
        return gp, (int(m.group(1)), int(m.group(2))) if m else None, gp.count("\nplot "), blocks
    gp, rc, plots, blocks = layout(out)
    first_plot = gp.index("\nplot ")
    check(rc == (4, 4) and plots == blocks == 16, "occupancy: 4 levels x 4 states, no empty panel (%s, %d plots, "
          "%d blocks)" % (rc, plots, blocks))
    check(gp.count("set cbrange") == 1 and "set cbrange [0:1]" in gp and gp.count("set colorbox user") == 1 and
          gp.index("unset colorbox") < first_plot < gp.index("set colorbox user"),
          "occupancy: one colour scale, one colour bar (with the last panel)")
    check(gp.count("no step in this state") == 1 and "No step in the state (panel marked so): withdrawn at 0%."
          in caption(out, "agency_occupancy_agency"), "occupancy: the panel without steps is marked and named")
    g = os.path.join(work, "no_overload.h5")
    shutil.copy(os.path.join(work, "study.h5"), g)
    with h5py.File(g, "r+") as f:
        occ = f["agency/occupancy"][...]
        occ[..., 1] = 0     # no head of any variant ever "overloaded"
        f["agency/occupancy"][...] = occ
    o = os.path.join(work, "no_overload")
    p = report(binary, [g], o, "--no-figures", "--bootstrap", "100")
    gp, rc, plots, blocks = layout(o)
    check(p.returncode == 0 and rc == (4, 3) and plots == blocks == 12 and "overloaded'" not in gp and
          "No head entered these states at any level drawn, no column: overloaded." in
          caption(o, "agency_occupancy_agency"), "a state never entered has no column (%s, %d plots)" % (rc, plots))


def check_corpus(h5, out):
    """Corpus perplexity (token-weighted) and its paired per-token NLL difference, recomputed."""
    ppl = values(h5, "reference_perplexity", "baseline", 50.0)
    n = values(h5, "reference_tokens", "baseline", 50.0)
    want = np.exp(np.sum(n * np.log(ppl)) / np.sum(n))
    r = row(read_csv(os.path.join(out, "table_corpus_reference_perplexity.csv")), variant="baseline", level=50)
    check(abs(float(r["mean"]) - want) < 1e-7 * want and abs(want - np.mean(ppl)) > 1e-3,
          "corpus perplexity %s vs %.9g (mean of perplexities %.6g)" % (r["mean"], want, np.mean(ppl)))
    check(float(r["ci_low"]) < want < float(r["ci_high"]), "corpus perplexity has an interval around it")
    fig = [x for x in numbers(os.path.join(out, "perplexity_comparison.dat")) if x[:2] == ["baseline", "50"]]
    check(len(fig) == 1 and all(abs(float(fig[0][k]) - x) < 1e-6 * want for k, x in
                                ((2, want), (3, float(r["ci_low"])), (4, float(r["ci_high"])))),
          "the perplexity figure draws the corpus perplexity and its interval (%s vs %.9g)" % (fig, want))
    a = values(h5, "reference_perplexity", "agency", 50.0)
    d = 100 * np.expm1(np.sum(n * (np.log(a) - np.log(ppl))) / np.sum(n))
    c = row(read_csv(os.path.join(out, "comparisons.csv")), comparison="agency-vs-baseline",
            metric="corpus_perplexity", level=50)
    check(abs(float(c["mean_pct"]) - d) < 1e-6, "corpus perplexity ratio %s vs %.9g" % (c["mean_pct"], d))
    # The primary effect in nats: D = sum n (ln a - ln b) / sum n, its interval the percentage one mapped back.
    dn = np.sum(n * (np.log(a) - np.log(ppl))) / np.sum(n)
    check(abs(float(c["nll_nats"]) - dn) < 1e-9 and
          all(abs(float(c["nll_%s_nats" % k]) - np.log1p(float(c["%s_pct" % k]) / 100)) < 1e-9
              for k in ("ci_low", "ci_high")), "per-token NLL difference %s vs %.9g" % (c["nll_nats"], dn))
    s = row(read_csv(os.path.join(out, "comparisons.csv")), comparison="agency-vs-baseline", metric="perplexity",
            level=50)
    check(s["nll_nats"] == s["nll_ci_low_nats"] == "", "no NLL difference for a geometric mean of per-prompt ratios")
    check("(D = %+.3g nats/token)" % dn in open(os.path.join(out, "REPORT.md")).read(),
          "REPORT.md's comparison table gives D beside the corpus percentage")
    text = open(os.path.join(out, "REPORT.md")).read()
    check("agency vs baseline, corpus reference perplexity (per-token NLL): %+.2f%%" % d in text and
          "as a geometric mean of per-prompt ratios: agency vs baseline, reference perplexity (geometric mean of "
          "per-prompt ratios)"
          in text, "the perplexity claim leads with the corpus ratio and names the mean of ratios")


def check_headlines(h5, out):
    """Each claim bullet carries its own attribution; agency occupancy is stated."""
    text = open(os.path.join(out, "REPORT.md")).read()
    bullet = text.split("**XX% faster generation**", 1)[1].split("\n- ", 1)[0]
    check("Attribution: skipping pruned heads, baseline-skip vs baseline, speed (decode tokens/s): " in bullet and
          "; agency states on top, agency vs baseline-skip, speed (decode tokens/s): " in bullet,
          "the speed claim's bullet carries its attribution")
    bullet = text.split("**XX% better perplexity**", 1)[1].split("\n- ", 1)[0]
    check("Attribution: skipping pruned heads, baseline-skip vs baseline, corpus reference perplexity" in bullet,
          "the perplexity claim's bullet carries its attribution")
    with h5py.File(h5, "r") as f:
        occ = f["agency/occupancy"][1, 0].sum(axis=(0, 1, 2))   # agency, 0%: per state
        states = [x.decode() if isinstance(x, bytes) else x for x in f["state"][:]]
    live = occ.sum() - occ[states.index("withdrawn")]
    want = "0%%: overloaded %.2f%%, misaligned %.2f%% of %d" % (100 * occ[1] / live, 100 * occ[2] / live, live)
    check("How often `agency`'s states acted" in text and want in text, "occupancy shares stated: " + want)


def check_missing(out):
    for name in ("REPORT.md", "tables.md"):
        text = open(os.path.join(out, name)).read()
        check("level 70, agency: 12 of 24 prompts done" in text, name + " reports the partial cell")
        check("level 30, baseline: reference perplexity (mean of per-prompt perplexities) is missing (NaN) for 1 of 24 "
              "done prompts" in text,
              name + " reports the NaN value")
    rows = read_csv(os.path.join(out, "table_reference_perplexity.csv"))
    check(row(rows, variant="baseline", level=30)["n"] == "23", "NaN left out of the mean")
    check(row(rows, variant="agency", level=70)["n"] == "12", "undone prompts left out of the mean")


def check_bad_inputs(binary, work):
    def expect2(files, what, needle):
        p = report(binary, files, os.path.join(work, "bad"))
        ok = p.returncode == 2 and needle in p.stderr and "Sanitizer" not in p.stderr
        check(ok, "%s -> exit 2 naming %r (got %d: %s)" % (what, needle, p.returncode, p.stderr.strip()))
    missing = os.path.join(work, "nonexistent.h5")
    expect2([missing], "missing file", missing + ": no such file")
    text = os.path.join(work, "text.h5")
    open(text, "w").write("not hdf5\n")
    expect2([text], "not HDF5", text + ": not an HDF5 file")
    whole = fixture(os.path.join(work, "whole.h5"))
    cut = os.path.join(work, "truncated.h5")
    open(cut, "wb").write(open(whole, "rb").read()[:3000])
    expect2([cut], "truncated file", cut + ": cannot open it as an HDF5 file")
    with h5py.File(whole, "a"):   # as a running sweep holds its file
        expect2([whole], "file being written", whole + ": cannot open: the file is locked")
    empty = os.path.join(work, "empty.h5")
    h5py.File(empty, "w", libver="latest").close()
    expect2([empty], "no schema_version", "not a headsweep results file")
    expect2([fixture(os.path.join(work, "v4.h5"), "--schema-version", "4")], "schema 4", "schema_version 4")
    for ds in ("metrics/distinct_2", "heads/pruned", "agency/occupancy", "cells/done"):
        f = fixture(os.path.join(work, "drop.h5"), "--drop", ds)
        expect2([f], "missing " + ds, ds)
    with h5py.File(fixture(os.path.join(work, "shape.h5")), "a") as f:
        del f["metrics/hit_eot"]
        f.create_dataset("metrics/hit_eot", data=np.zeros((3, 4, 5)), chunks=True, fletcher32=True)
    expect2([os.path.join(work, "shape.h5")], "misshapen dataset", "metrics/hit_eot: has shape")
    # Every attribute of the attribute table (src/results/schema.c) is checked, not only those
    # a reader reads: of its class, one value or one per variant.
    for name, edit, needle in (
            ("top_p", lambda f: f.attrs.__setitem__("top_p", "0.95"),
             "/ attribute top_p: should hold floating-point numbers"),
            ("per_layer", lambda f: f["variant"].attrs.__setitem__("per_layer", np.uint8(0)),
             "/variant attribute per_layer: is not an array"),
            ("convention", lambda f: f["heads/score"].attrs.__setitem__("convention", np.array(["a", "b"], "S1")),
             "/heads/score attribute convention: is not a single value")):
        path = fixture(os.path.join(work, "attr_%s.h5" % name))
        with h5py.File(path, "a") as f:
            edit(f)
        expect2([path], "attribute " + name, needle)
    # Texts must be UTF-8 with nothing after a fixed-length string's NUL (/prompts/generated).
    for name, bad, needle in (("utf8", b"ok\xe2\x82", "entry 5 is not valid UTF-8 (byte 3)"),
                              ("nul", b"ok\0more", "entry 5 holds bytes after its end (a NUL)")):
        path = fixture(os.path.join(work, "text_%s.h5" % name))
        with h5py.File(path, "a") as f:
            ids = f["text/generated_ids"]
            texts = np.full(ids.shape[:3], b"a text", dtype="S16")
            texts.flat[5] = bad
            f.create_dataset("prompts/generated", data=texts, chunks=True, fletcher32=True)
        expect2([path], "generated text " + name, "/prompts/generated: " + needle)
    check_foreign_storage(binary, work, expect2)
    # Dimension-scale attributes where HDF5's H5DS functions expect them (merge attaches scales
    # again): a CLASS on a metric made merge fail naming its own output; one without a NUL on a
    # scale was read past its end.
    for name, obj, attr, value, needle in (
            ("class_metric", "metrics/distinct_2", "CLASS", np.bytes_(b""),
             "/metrics/distinct_2: carries a dimension scale's attribute CLASS but is no scale"),
            ("class_noterm", "level", "CLASS", np.bytes_(b"D" * 200),
             "/level: attribute CLASS is not the 16-byte string \"DIMENSION_SCALE\" of a scale")):
        path = fixture(os.path.join(work, "attr_%s.h5" % name))
        with h5py.File(path, "a") as f:
            f[obj].attrs.modify(attr, value)
        expect2([path], "attribute " + name, path + ": " + needle)
    path = fixture(os.path.join(work, "timing_7.h5"))
    with h5py.File(path, "a") as f:
        f["metrics/distinct_2"].attrs.modify("timing", np.uint8(7))
    expect2([path], "a timing flag of 7", path + ": /metrics/distinct_2: attribute timing is 7, not 0 or 1")
    # Prompt ids as the prompt loader takes them: merge and the report pair prompts by id.
    for name, i, value, needle in (("dup", 3, None, "/prompt: entries 2 and 3 are the same id"),
                                   ("empty", 4, b"", "/prompt: entry 4 is empty")):
        path = fixture(os.path.join(work, "id_%s.h5" % name))
        with h5py.File(path, "a") as f:
            ids = f["prompt"][...]
            ids[i] = ids[i - 1] if value is None else value
            f["prompt"][...] = ids
        expect2([path], "prompt ids " + name, path + ": " + needle)
    # Values no run records (a perplexity below 1, a speed of inf or 1e308, a share above 1) are
    # refused, not turned into verdicts: -5 read "better", 1e308 overflowed the mean to "p = 1".
    for name, metric, value, needle in (
            ("neg_ppl", "reference_perplexity", -5.0, "value -5 at index 7 is not one a run records"),
            ("inf_speed", "decode_tokens_per_second", np.inf, "value inf at index 7 is not one a run records"),
            ("huge_speed", "decode_tokens_per_second", 1.7e308, "value 1.7e+308 at index 7"),
            ("share", "distinct_2", 1.25, "value 1.25 at index 7 is not one a run records (NaN, or in [0, 1])")):
        path = fixture(os.path.join(work, "value_%s.h5" % name))
        with h5py.File(path, "a") as f:
            d = f["metrics/" + metric]
            v = d[...]
            v.flat[7] = value
            d[...] = v
        expect2([path], "a metric value " + name, path + ": /metrics/%s: %s" % (metric, needle))
    other = fixture(os.path.join(work, "other.h5"), "--seed-attr", "8")
    expect2([fixture(os.path.join(work, "one.h5")), other], "mismatched studies",
            "not the same study: study (first differing setting) differs (sample_seed = 7 vs sample_seed = 8)")
    with h5py.File(other, "a") as h:   # without the writer's study text, the attributes decide
        del h.attrs["study"]
    with h5py.File(os.path.join(work, "one.h5"), "a") as h:
        del h.attrs["study"]
    expect2([os.path.join(work, "one.h5"), other], "mismatched studies without study text",
            "not the same study: seed differs (7 vs 8)")
    sa = fixture(os.path.join(work, "study_a.h5"), "--study", "seed = 7\\nlevels = 0, 30, 50, 70\\nx = 1")
    sb = fixture(os.path.join(work, "study_b.h5"), "--study", "seed = 7\\nlevels = 0, 30, 50, 80\\nx = 1")
    expect2([sa, sb], "different study texts", "study (first differing setting) differs "
            "(levels = 0, 30, 50, 70 vs levels = 0, 30, 50, 80)")
    p = report(binary, [os.path.join(work, "one.h5")], os.path.join(work, "bad"), "--bootstrap", "x")
    check(p.returncode == 2, "bad option -> exit 2")


def check_foreign_storage(binary, work, expect2):
    """Links and datasets that would make HDF5 open other files: refused before any is followed.
    Their target is a FIFO with no writer, which hung the report in open() until 2026-12-07."""
    fifo = os.path.join(work, "fifo")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    metric = "metrics/decode_seconds"

    def soft(f):
        f["metrics/zz_soft"] = h5py.SoftLink("/" + metric)

    def external_link(f):
        del f[metric]
        f[metric] = h5py.ExternalLink(fifo, "/" + metric)

    def virtual(f):
        shape, dtype = f[metric].shape, f[metric].dtype
        layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
        layout[...] = h5py.VirtualSource(fifo, "/" + metric, shape=shape)
        del f[metric]
        f.create_virtual_dataset(metric, layout)

    def external_raw(f):
        shape, dtype = f[metric].shape, f[metric].dtype
        del f[metric]
        f.create_dataset(metric, shape=shape, dtype=dtype, external=[(fifo, 0, h5py.h5f.UNLIMITED)])

    def gzip(f):
        data = f[metric][...]
        del f[metric]
        f.create_dataset(metric, data=data, chunks=data.shape, compression="gzip")

    def contiguous(f):
        data = f[metric][...]
        del f[metric]
        f.create_dataset(metric, data=data)

    def aliased(f):
        del f["metrics/distinct_1"]
        f["metrics/distinct_1"] = f["metrics/distinct_2"]

    def nested(f):
        f.create_group("metrics/g/h")

    for name, edit, needle in (("soft", soft, "/metrics/zz_soft is a soft link"),
                               ("contiguous", contiguous, "/%s is not stored in checksummed chunks" % metric),
                               ("aliased", aliased, "/metrics/distinct_1 is linked from more than one place"),
                               ("nested", nested, "/metrics/g/h is a group nested deeper than headsweep writes"),
                               ("elink", external_link, "/%s is an external link" % metric),
                               ("virtual", virtual, "/%s is a virtual dataset" % metric),
                               ("external", external_raw, "/%s keeps its data in external files" % metric),
                               ("gzip", gzip, "/%s passes its data through a filter other than fletcher32" % metric)):
        path = fixture(os.path.join(work, "storage_%s.h5" % name))
        with h5py.File(path, "a") as f:
            edit(f)
        try:
            expect2([path], "a file with a %s object" % name, path + ": " + needle)
        except subprocess.TimeoutExpired:
            check(False, "a file with a %s object: the report hung" % name)


def check_merge(binary, work, full_out):
    a = fixture(os.path.join(work, "part_a.h5"), "--done-shards", "0,1")
    b = fixture(os.path.join(work, "part_b.h5"), "--done-shards", "2,3")
    out = os.path.join(work, "merged")
    p = report(binary, [a, b], out, "--no-figures")
    check(p.returncode == 0, "merge of two parts runs: " + p.stderr)
    for name in ["comparisons.csv", "coverage.csv"] + ["table_%s.csv" % k for k in PROMISED]:
        same = open(os.path.join(out, name)).read() == open(os.path.join(full_out, name)).read()
        check(same, "merged parts equal the whole file: " + name)
    text = open(os.path.join(out, "REPORT.md")).read()
    check(a in text and b in text, "REPORT.md names both input files")
    # The first sketch's /agency/occupancy without a shard axis gives the same maps.
    c = fixture(os.path.join(work, "no_shard.h5"), "--occupancy-no-shard")
    out = os.path.join(work, "no_shard")
    p = report(binary, [c], out, "--no-figures")
    check(p.returncode == 0, "occupancy without a shard axis is read: " + p.stderr)
    name = "agency_occupancy_agency.dat"
    check(os.path.exists(os.path.join(out, name)) and open(os.path.join(out, name)).read()
          == open(os.path.join(full_out, name)).read(), "occupancy summed over done shards = cell totals")
    rows = read_csv(os.path.join(work, "merged", "comparisons.csv"))
    check(row(rows, comparison="agency-vs-baseline", metric="speed", level=50)["n_cross_host_or_run"] == "0",
          "parts split by shard pair prompts within one file: not flagged")


def check_duplicates(binary, work, full_out):
    """The merge rule of `headsweep merge` (include/headsweep/results.h): a prompt done in two
    files must have the same quality numbers (metrics, generated tokens, agency counts of its
    cell) and a (variant, level) in both the same pruned
    heads, else exit 2 naming both files and the cell; identical duplicates (the planted NaN
    included: shard 1 is in both parts) are accepted, timings taken from the first file."""
    a = fixture(os.path.join(work, "dup_a.h5"), "--done-shards", "0,1,2")
    b = fixture(os.path.join(work, "dup_b.h5"), "--done-shards", "1,2,3")
    tables = ["comparisons.csv"] + ["table_%s.csv" % k for k in PROMISED]

    def run(files, name):
        out = os.path.join(work, name)
        return out, report(binary, files, out, "--no-figures")

    def same_as_whole(out, what):
        for t in tables:
            check(open(os.path.join(out, t)).read() == open(os.path.join(full_out, t)).read(), what + ": " + t)

    out, p = run([a, b], "dup")
    check(p.returncode == 0, "identical duplicate cells are accepted: " + p.stderr)
    same_as_whole(out, "overlapping parts equal the whole file")

    def tampered(name, obj, index, factor):
        path = os.path.join(work, name)
        shutil.copy(b, path)
        with h5py.File(path, "a") as h:
            d = h[obj]
            d[index] = d[index] * factor if factor else 1 - d[index]
        return path

    c = tampered("dup_quality.h5", "metrics/distinct_1", (0, 2, 1), 0.5)
    out, p = run([a, c], "dup_quality")
    needle = ("cell (variant baseline, level 50, shard 1) is done in both %s and %s with different results: "
              "distinct_1 of prompt p001 is " % (a, c))
    check(p.returncode == 2 and needle in p.stderr and "Sanitizer" not in p.stderr,
          "a differing quality number of a duplicate cell -> exit 2 naming %r (got %d: %s)"
          % (needle, p.returncode, p.stderr.strip()))
    # Two files that differ only in one generated token, or in one agency count of a cell
    # both have: refused as `headsweep merge` refuses them (src/results/merge_rule.c).
    for name, obj, index, needle in (
            ("dup_ids.h5", "text/generated_ids", (0, 2, 1, 3),
             "cell (variant baseline, level 50, shard 1) is done in both %s and %s with different results: "
             "generated token 3 of prompt p001 is "),
            ("dup_occupancy.h5", "agency/occupancy", (1, 2, 1, 0, 1, 0),
             "cell (variant agency, level 50, shard 1) is done in both %s and %s with different results: "
             "agency occupancy count 4 of the shard is ")):
        c = tampered(name, obj, index, None)
        out, p = run([a, c], name[:-3])
        check(p.returncode == 2 and needle % (a, c) in p.stderr,
              "%s differing in %s only -> exit 2 naming %r (got %d: %s)"
              % (name, obj, needle % (a, c), p.returncode, p.stderr.strip()))
    t = tampered("dup_timing.h5", "metrics/decode_tokens_per_second", (0, 2, 1), 1.5)
    out, p = run([a, t], "dup_timing")
    check(p.returncode == 0, "a differing timing number of a duplicate cell is accepted: " + p.stderr)
    same_as_whole(out, "timings of a duplicate cell are the first file's")
    h = tampered("dup_heads.h5", "heads/pruned", (0, 2, 0, 0), None)
    out, p = run([a, h], "dup_heads")
    needle = ("cannot merge %s with %s: they switch off different heads (/heads/pruned) in variant baseline at "
              "level 50" % (h, a))
    check(p.returncode == 2 and needle in p.stderr, "differing pruned heads -> exit 2 naming %r (got %d: %s)"
          % (needle, p.returncode, p.stderr.strip()))


def check_cross_hosts(binary, work):
    f = fixture(os.path.join(work, "hosts.h5"), "--cross-hosts")
    out = os.path.join(work, "hosts")
    p = report(binary, [f], out, "--no-figures", "--bootstrap", "200")
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    check(p.returncode == 0 and row(rows, comparison="agency-vs-baseline", metric="speed", level=50)
          ["n_cross_host_or_run"] == "24", "timing pairs across hosts are counted")
    check("(caution: 24 of these pairs ran on different hosts or in different sweep runs)"
          in open(os.path.join(out, "REPORT.md")).read(), "REPORT.md warns about timing pairs across hosts")
    check(row(rows, comparison="agency-vs-baseline", metric="perplexity", level=50)["verdict"] != "",
          "quality comparisons are not affected")
    f = fixture(os.path.join(work, "runs.h5"), "--cross-runs")
    p = report(binary, [f], os.path.join(work, "runs"), "--no-figures", "--bootstrap", "200")
    rows = read_csv(os.path.join(work, "runs", "comparisons.csv"))
    check(row(rows, comparison="agency-vs-baseline", metric="speed", level=50)["n_cross_host_or_run"] == "24" and
          row(rows, comparison="agency-vs-baseline-skip", metric="speed", level=50)["n_cross_host_or_run"] == "0",
          "timing pairs from different sweep runs are counted")


def check_interleaving(binary, work, out):
    """Speed comparisons use interleaved timings and say so; a file without run positions
    (written before interleaving, or timing_order = sequential) gets no speed verdict."""
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    text = open(os.path.join(out, "REPORT.md")).read()
    r = row(rows, comparison="agency-vs-baseline", metric="speed", level=50)
    check(r["n_interleaved"] == r["n_pairs"] == "24" and r["n_not_interleaved"] == "0",
          "interleaved pairs counted: %s of %s" % (r["n_interleaved"], r["n_pairs"]))
    check("Timings: **interleaved**. For each prompt the variants of a level ran back to back" in text,
          "REPORT.md says the timings were interleaved")
    check(row(rows, comparison="agency-vs-baseline", metric="perplexity", level=50)["n_interleaved"] == "0",
          "quality rows have no timing pairs")
    check("## Resources per phase" in text and "| 50 | agency |" in text and "scoring CPU ms" in text,
          "REPORT.md compares the phases")
    f = fixture(os.path.join(work, "seq.h5"), "--drop", "metrics/run_position")
    seq = os.path.join(work, "seq")
    p = report(binary, [f], seq, "--no-figures", "--bootstrap", "500")
    check(p.returncode == 0, "a file without run positions is reported: " + p.stderr)
    rows = read_csv(os.path.join(seq, "comparisons.csv"))
    text = open(os.path.join(seq, "REPORT.md")).read()
    check_verdicts(rows, 10, "not interleaved")
    speed = [r for r in rows if r["metric"] in ("speed", "efficiency") and r["b_level"] == "" and
             r["available"] == "1" and not r["verdict"].startswith("too few")]
    check(speed and all(r["verdict"] == "no verdict: timings not interleaved (confounded with run order)"
                        for r in speed), "no speed verdict between variants without interleaving")
    check("Timings: **not interleaved**" in text and "confounded with run order" in text,
          "REPORT.md says the timings were not interleaved")
    check(row(rows, comparison="agency-vs-baseline", metric="perplexity", level=50)["verdict"] ==
          row(read_csv(os.path.join(out, "comparisons.csv")), comparison="agency-vs-baseline", metric="perplexity",
              level=50)["verdict"], "quality verdicts do not depend on the timing order")
    f = fixture(os.path.join(work, "runs2.h5"), "--cross-runs")
    p = report(binary, [f], os.path.join(work, "runs2"), "--no-figures", "--bootstrap", "200")
    rows = read_csv(os.path.join(work, "runs2", "comparisons.csv"))
    check(row(rows, comparison="agency-vs-baseline", metric="speed", level=50)["n_interleaved"] == "0" and
          row(rows, comparison="agency-vs-baseline-skip", metric="speed", level=50)["n_interleaved"] == "24",
          "timings from different sweep runs were not interleaved with each other")


def check_level_drift(binary, work, out):
    """A machine that ran 25% faster for each later level (the levels' work items run one after
    another): every timing of level index k is scaled by 1.25^k, for all variants alike. The
    comparisons between variants at a level, timed interleaved, must not move; a variant
    against its own lowest level would read the drift as a speed-up, so its speed rows get no
    verdict and stay out of the Holm family, while its quality rows keep theirs."""
    f = fixture(os.path.join(work, "drift.h5"), "--level-drift", "1.25")
    o = os.path.join(work, "drift")
    p = report(binary, [f], o, "--no-figures")
    check(p.returncode == 0, "a file with drift between levels is reported: " + p.stderr)
    rows, base = read_csv(os.path.join(o, "comparisons.csv")), read_csv(os.path.join(out, "comparisons.csv"))
    with h5py.File(f, "r") as h:
        a = h["metrics/decode_tokens_per_second"][1]  # agency, (level, prompt)
    d = log_ratio(a[2], a[0])                          # 50% vs 0%: the drift is +56% of it
    check(pct(np.nanmean(d)) > 40, "the fixture's drift shows between levels (%.1f%%)" % pct(np.nanmean(d)))
    timing_own = [r for r in rows if r["metric"] in ("speed", "efficiency") and r["b_level"] != "" and
                  r["available"] == "1" and not r["verdict"].startswith("too few")]
    check(timing_own and all(r["verdict"] == "no verdict: levels timed apart (confounded with run order)" and
                             r["n_interleaved"] == "0" and r["n_not_interleaved"] == r["n_pairs"] and
                             r["p_holm"] == "" for r in timing_own),
          "speed against the own lowest level: no verdict, not tested (%d rows)" % len(timing_own))
    r = row(rows, comparison="agency-vs-own-0", metric="speed", level=50)
    want = pct(float(np.nanmean(d[np.isfinite(d)])))
    check(abs(float(r["mean_pct"]) - want) < 1e-6 * abs(float(r["mean_pct"])) + 1e-9,
          "its numbers are kept (%s vs %.9g)" % (r["mean_pct"], want))
    quality_own = [r for r in rows if r["metric"] == "corpus_perplexity" and r["b_level"] != "" and
                   r["available"] == "1"]
    check(quality_own and not any(r["verdict"].startswith("no verdict") for r in quality_own),
          "quality rows against the own lowest level keep their verdicts")
    for b in base:
        if b["b_level"] != "" or b["metric"] not in ("speed", "efficiency"):
            continue
        r = row(rows, comparison=b["comparison"], metric=b["metric"], level=b["level"])
        check(r["verdict"] == b["verdict"] and (b["mean_pct"] == "" or abs(float(r["mean_pct"]) -
              float(b["mean_pct"])) < 1e-9 * (1 + abs(float(b["mean_pct"])))),
              "drift between levels leaves the interleaved %s %s at %s alone (%s vs %s)"
              % (b["comparison"], b["metric"], b["level"], r["verdict"], b["verdict"]))
    check_verdicts(rows, 10, "level drift")
    text = open(os.path.join(o, "REPORT.md")).read()
    check("speed rows here show their numbers but no verdict" in text and
          "| no verdict: levels timed apart (confounded with run order) |" in text,
          "REPORT.md withholds level-vs-level speed verdicts and says why")


def check_other_shapes(binary, work):
    f = fixture(os.path.join(work, "custom.h5"), "--variants", "baseline,agency,distil", "--levels",
                "50,0,25", "--prompts", "10", "--shards", "3")
    out = os.path.join(work, "custom")
    p = report(binary, [f], out, "--bootstrap", "200")
    check(p.returncode == 0, "custom variants and unsorted levels: " + p.stderr)
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    check(not [r for r in rows if "baseline-skip" in r["comparison"]],
          "no comparison with a variant the file lacks")
    check(row(rows, comparison="distil-vs-baseline", metric="speed", level=25)["available"] == "1",
          "other variants are compared with baseline")
    levels = [r["level"] for r in read_csv(os.path.join(out, "coverage.csv")) if r["variant"] == "baseline"]
    check(levels == ["0", "25", "50"], "levels sorted: %s" % levels)
    text = open(os.path.join(out, "REPORT.md")).read()
    check("Measured: not available: it needs the reference `baseline`, a variant named `baseline-skip`" in text,
          "the attribution says which variant it lacks")
    check("This study has no 0% level" not in text, "levels 0, 25, 50 have a control")
    g = fixture(os.path.join(work, "lonely.h5"), "--variants", "agency", "--levels", "40")
    p = report(binary, [g], os.path.join(work, "lonely"), "--bootstrap", "200")
    check(p.returncode == 0, "single variant, single level: " + p.stderr)
    rows = read_csv(os.path.join(work, "lonely", "comparisons.csv"))
    check(row(rows, comparison="agency-vs-baseline", metric="speed", level=40)["verdict"] == "unavailable",
          "comparison with a reference the file lacks is listed as unavailable")
    text = open(os.path.join(work, "lonely", "REPORT.md")).read()
    check("unavailable (the file has no variant named `baseline`; choose the reference with --reference VARIANT)"
          in text, "unavailable said in words, with the way out")
    h = fixture(os.path.join(work, "nothing.h5"), "--done-shards", "")
    p = report(binary, [h], os.path.join(work, "nothing"), "--bootstrap", "200")
    check(p.returncode == 0, "a file with no cell done: " + p.stderr)


# The report runs `gnuplot -e "hs_png_out = '...'; hs_pdf_out = '...'" NAME.gp` (the figure files it
# renames into place: docs/report.md, "Output directory"); a fake reads them as a real one does.
FAKE_OUTPUTS = "eval \"$(printf '%s\\n' \"$2\" | tr ';' '\\n' | sed 's/ = /=/')\"\n"


def fake_gnuplot(work, name, body):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "gnuplot"), "w") as g:
        g.write("#!/bin/sh\n" + body)
    os.chmod(os.path.join(d, "gnuplot"), 0o755)
    return dict(os.environ, PATH=d + ":" + os.environ.get("PATH", ""))


def check_fake_gnuplot(binary, work, f):
    """A gnuplot without pdfcairo (makes only the PNG): no PDF listed, REPORT.md says why, and a
    PDF left by an earlier report is removed rather than listed. One that leaves a PDF without
    a PDF header fails the report."""
    out = os.path.join(work, "nopdf")
    os.makedirs(out, exist_ok=True)
    open(os.path.join(out, "heads_pruned.pdf"), "wb").write(b"%PDF-1.5 stale")
    env = fake_gnuplot(work, "png-only", FAKE_OUTPUTS + "echo png > \"$hs_png_out\"\n")
    p = report(binary, [f], out, "--bootstrap", "200", env=env)
    rep = open(os.path.join(out, "REPORT.md")).read() if p.returncode == 0 else ""
    check(p.returncode == 0 and ".pdf)" not in rep and "no `pdfcairo` terminal" in rep and
          not os.path.exists(os.path.join(out, "heads_pruned.pdf")),
          "gnuplot without pdfcairo: no PDF listed, the note, the stale PDF removed (%d: %s)"
          % (p.returncode, p.stderr))
    env = fake_gnuplot(work, "bad-pdf", FAKE_OUTPUTS + "echo png > \"$hs_png_out\"; echo not-a-pdf > \"$hs_pdf_out\"\n")
    p = report(binary, [f], os.path.join(work, "badpdf"), "--bootstrap", "200", env=env)
    check(p.returncode == 1 and "without a PDF header" in p.stderr,
          "a PDF without its header fails the report (%d: %s)" % (p.returncode, p.stderr[-300:]))


def check_gnuplot_paths(binary, work, f):
    out = os.path.join(work, "nognuplot")
    env = dict(os.environ, PATH=os.path.join(work, "empty-path"))
    p = report(binary, [f], out, "--bootstrap", "200", env=env)
    check(p.returncode == 0, "gnuplot missing still exits 0: " + p.stderr)
    check("gnuplot is not on PATH" in p.stderr, "gnuplot missing noted on stderr")
    rep = open(os.path.join(out, "REPORT.md")).read()
    check("gnuplot was not found on PATH" in rep, "gnuplot missing noted in REPORT.md")
    for name in ["tables.md", "coverage.csv", "comparisons.csv"] + ["table_%s.csv" % k for k in PROMISED] + \
            [fig + ext for fig in FIGURES for ext in (".dat", ".gp")]:
        check(os.path.exists(os.path.join(out, name)) and os.path.getsize(os.path.join(out, name)) > 0,
              "gnuplot missing: %s still written" % name)
    check(not [n for n in os.listdir(out) if n.endswith((".png", ".pdf"))] and ".png)" not in rep and
          ".pdf)" not in rep, "gnuplot missing: no PNG or PDF made or linked")
    check_fake_gnuplot(binary, work, f)
    fake = os.path.join(work, "fake-gnuplot")
    os.makedirs(fake, exist_ok=True)
    with open(os.path.join(fake, "gnuplot"), "w") as g:
        g.write("#!/bin/sh\necho 'fake gnuplot: line 3: undefined variable' >&2\nexit 1\n")
    os.chmod(os.path.join(fake, "gnuplot"), 0o755)
    env = dict(os.environ, PATH=fake + ":" + os.environ.get("PATH", ""))
    p = report(binary, [f], os.path.join(work, "badgnuplot"), "--bootstrap", "200", env=env)
    check(p.returncode == 1 and "fake gnuplot: line 3: undefined variable" in p.stderr,
          "gnuplot failure is an error with its output (got %d: %s)" % (p.returncode, p.stderr))
    p = report(binary, [f], os.path.join(work, "nofig"), "--no-figures", "--bootstrap", "200")
    check(p.returncode == 0 and not os.path.exists(os.path.join(work, "nofig", "heads_pruned.png")),
          "--no-figures renders nothing")


def check_seed(binary, work, f, out):
    again = os.path.join(work, "again")
    report(binary, [f], again, "--no-figures")
    name = "table_distinct_2.csv"
    check(open(os.path.join(out, name)).read() == open(os.path.join(again, name)).read(),
          "same seed, same intervals")
    other = os.path.join(work, "seed2")
    report(binary, [f], other, "--no-figures", "--seed", "2")
    check(open(os.path.join(out, name)).read() != open(os.path.join(other, name)).read(),
          "another seed, other intervals")
    check("seed 2" in open(os.path.join(other, "REPORT.md")).read(), "seed printed in REPORT.md")
    check("percentile bootstrap, %d resamples" % DEFAULT_BOOTSTRAP in open(os.path.join(out, "REPORT.md")).read(),
          "the default number of resamples is %d" % DEFAULT_BOOTSTRAP)


# ---- verdicts, caveats and the 0% control ----

WORDS = {"speed": ("faster", "slower"), "efficiency": ("faster", "slower"), "perplexity": ("worse", "better"),
         "corpus_perplexity": ("worse", "better"),
         "quality": ("better", "worse"), "diversity": ("better (more diverse)", "worse (less diverse)"),
         "generated_perplexity": ("worse", "better")}


def want_verdict(r, min_pairs, holm=False):
    """The documented verdict rule (docs/report.md), threshold included."""
    if r["available"] != "1":
        return "unavailable"
    n, k = int(r["n_pairs"]), int(r["n_nonzero"])
    if n < min_pairs or n < 2:
        return "too few prompts (n=%d)" % n
    if k == 0:
        return "identical (all %d pairs equal)" % n
    if k < min_pairs:
        return "too few differing prompts (%d of %d differ)" % (k, n)
    if r["metric"] in ("speed", "efficiency") and r["b_level"] != "":
        return "no verdict: levels timed apart (confounded with run order)"
    if r["metric"] in ("speed", "efficiency") and r["b_level"] == "" and int(r["n_interleaved"]) == 0:
        return "no verdict: timings not interleaved (confounded with run order)"
    lo, hi, mean, m = float(r["ci_low_pct"]), float(r["ci_high_pct"]), float(r["mean_pct"]), float(r["margin_pct"])
    if m > 0 and -m < lo and hi < m:
        return "equivalent (within +-%g%%)" % m
    p = float(r["p_holm"] if holm else r["p_value"])
    if (lo > 0 or hi < 0) and p < 0.05:
        if abs(mean) < m:
            return "inconclusive (significant, but the mean is within the +-%g%% margin)" % m
        up, down = WORDS[r["metric"]]
        return up if lo > 0 else down
    return "no significant difference"


def check_verdicts(rows, min_pairs, what, holm=False):
    bad = [(r["comparison"], r["metric"], r["level"], r["verdict"]) for r in rows
           if r["verdict"] != want_verdict(r, min_pairs, holm)]
    check(not bad, "%s: every verdict follows the rule with --min-pairs %d (first wrong: %s)"
          % (what, min_pairs, bad[:1]))


def count_rows(rows, between):
    sel = [r for r in rows if (r["b_level"] == "") == between and r["available"] == "1"]
    decided = [r for r in sel if not r["verdict"].startswith(("too few", "no verdict"))]
    signif = [r for r in decided if r["verdict"].split(" (")[0] in
              ("faster", "slower", "better", "worse")]
    equiv = [r for r in decided if r["verdict"].startswith(("equivalent", "identical"))]
    tested = [r for r in sel if r["p_holm"] != ""]
    return (len(decided), len(signif), len(equiv), len([r for r in sel if r["verdict"].startswith("too few")]),
            len(tested))


def check_caveats(out):
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    text = open(os.path.join(out, "REPORT.md")).read()
    (c1, k1, e1, f1, t1), (c2, k2, _, f2, _) = count_rows(rows, True), count_rows(rows, False)
    want = ("Between variants, %d comparison row(s) (pair x metric x level) have a verdict: %d significant beyond "
            "their margin (faster/slower, better/worse) and %d equivalent or identical; %d of them have a p-value "
            "test (identical rows have none), and at alpha = 0.05 about %.1f of those %d would pass it"
            % (c1, k1, e1, t1, t1 * 0.05, t1))
    check(want in text, "caveats count the comparisons: " + want)
    check("Against each variant's own lowest level: %d row(s), %d significant." % (c2, k2) in text,
          "caveats count the degradation rows")
    check("A verdict needs at least 10 pairs that differ (--min-pairs" in text and
          "; %d comparison row(s) have fewer" % (f1 + f2) in text, "caveats count the rows without a verdict")
    check("They come from latency-mode prompts" in text and "depend on the machine" in text,
          "caveats say where timings come from")
    check("exact and machine-independent" not in text and "each generated alone" not in text,
          "no claim of machine-independent quality numbers or of prompts run alone")
    check(text.index("## Caveats") < text.index("## Coverage and missing data"), "caveats come before the tables")


def check_min_pairs(binary, work, f, out):
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    check_verdicts(rows, 10, "default report")
    strict = os.path.join(work, "minpairs13")
    p = report(binary, [f], strict, "--no-figures", "--min-pairs", "13")
    check(p.returncode == 0, "--min-pairs 13 runs: " + p.stderr)
    rows13 = read_csv(os.path.join(strict, "comparisons.csv"))
    check_verdicts(rows13, 13, "--min-pairs 13")
    r70 = row(rows13, comparison="agency-vs-baseline", metric="speed", level=70)
    check(r70["verdict"] == "too few prompts (n=12)" and r70["mean_pct"] != "",
          "12 pairs under --min-pairs 13: no verdict, numbers kept (%s)" % r70["verdict"])
    check(": too few prompts (n=12)" in open(os.path.join(strict, "REPORT.md")).read(), "REPORT.md says it")
    few = fixture(os.path.join(work, "few.h5"), "--prompts", "6", "--shards", "2", "--no-partial")
    p = report(binary, [few], os.path.join(work, "few"), "--no-figures", "--bootstrap", "200")
    rows = read_csv(os.path.join(work, "few", "comparisons.csv"))
    check(p.returncode == 0 and all(r["verdict"].startswith("too few prompts (n=") for r in rows),
          "6 prompts: no verdict anywhere by default")
    text = open(os.path.join(work, "few", "REPORT.md")).read()
    check(re.search(r"At 50%, agency vs baseline, speed \(decode tokens/s\): [+-][0-9.]+% \(95% CI [^\n]*?\): "
                    r"too few prompts \(n=6\)", text) is not None, "the seed claim line withholds its verdict")
    p = report(binary, [few], os.path.join(work, "few2"), "--no-figures", "--bootstrap", "200", "--min-pairs", "2")
    rows = read_csv(os.path.join(work, "few2", "comparisons.csv"))
    check_verdicts(rows, 2, "--min-pairs 2")
    check(any(r["verdict"] in ("faster", "slower") for r in rows), "--min-pairs 2 gives verdicts again")
    for bad in ("1", "x", ""):
        p = report(binary, [few], os.path.join(work, "bad"), "--min-pairs", bad)
        check(p.returncode == 2 and "--min-pairs" in p.stderr, "--min-pairs %r -> exit 2: %s" % (bad, p.stderr))


def directional(verdict):
    return verdict.split(" (")[0] in ("faster", "slower")


def fmt_pct(x):
    return "%+.1e" % x if x != 0 and abs(x) < 0.005 else "%+.2f" % x


def fmt_p(p):
    return "%.3f" % p if p >= 0.001 else "%.1e" % p


def contrast_phrase(h5, comparison, level, verdict, already=""):
    """The change of a comparison's speed ratio from 0% to level, recomputed from the file:
    per prompt e = ln(a/b at level) - ln(a/b at 0%), its bootstrap (key contrast/cmp/...) and
    exact sign-flip p; "grows with pruning" only when significant in the verdict's direction."""
    a, b = comparison.split("-vs-")
    m = "decode_tokens_per_second"
    e = log_ratio(values(h5, m, a, level), values(h5, m, b, level)) - log_ratio(values(h5, m, a, 0.0),
                                                                              values(h5, m, b, 0.0))
    e = e[np.isfinite(e)]
    lo, hi = bootstrap_ci(list(e), 10000, stream_seed(DEFAULT_SEED, "contrast/cmp/%s/speed/%g" % (comparison, level)))
    p, up = signflip_p_halves(e), verdict == "faster"
    shown = len(e) >= 10 and np.count_nonzero(e) >= 10 and (lo > 0 if up else hi < 0) and p < 0.05
    return ("%s at %g%%%s; from 0%% to %g%% the ratio changes by %s%% (95%% CI %s .. %s, p = %s, %d paired prompts), "
            "%s" % (verdict, level, already, level, fmt_pct(pct(e.mean())), fmt_pct(pct(lo)), fmt_pct(pct(hi)),
                    fmt_p(p), len(e),
               "so the difference grows with pruning" if shown else
               "which does not show the difference growing beyond the 0% control"))


def credit_phrase(rows, comparison, level, h5, same_code=False):
    """What REPORT.md must conclude from the speed verdicts at level and at the 0% control."""
    r = row(rows, comparison=comparison, metric="speed", level=level)
    v, v0 = r["verdict"], row(rows, comparison=comparison, metric="speed", level=0)["verdict"]
    if v.startswith("too few") or v0.startswith("too few"):
        return "%s at %g%%, so no difference can be put down to" % ((v, level) if v.startswith("too few") else (v0, 0))
    if v.startswith("equivalent"):
        return "equivalent within +-%s%% at %g%%, so no speed difference beyond that margin" % (r["margin_pct"], level)
    if not directional(v):
        return "no significant difference beyond the +-%s%% margin at %g%%" % (r["margin_pct"], level)
    already = ""
    if directional(v0) and same_code:
        already = " (already %s at 0%%, where both variants run the same code: run order, machine load or noise, " \
                  "not overhead)" % v0
    elif directional(v0):
        already = " (already %s at 0%%, where nothing is pruned: gating or agency overhead, machine load or noise)" % v0
    return contrast_phrase(h5, comparison, level, v, already)


def check_control(binary, work, out):
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    text = open(os.path.join(out, "REPORT.md")).read()
    between = {r["comparison"] for r in rows if r["b_level"] == ""}
    check(between == {"agency-vs-baseline", "baseline-skip-vs-baseline", "agency-vs-baseline-skip"},
          "the default study's comparisons: %s" % sorted(between))
    check("Control at 0% (nothing is pruned, so `baseline-skip` has no head to skip): baseline-skip vs baseline, "
          "speed (decode tokens/s): " in text, "the attribution shows the 0% control")
    h5 = os.path.join(work, "study.h5")
    phrases = [credit_phrase(rows, "baseline-skip-vs-baseline", 50, h5, True),
               credit_phrase(rows, "agency-vs-baseline-skip", 50, h5)]
    check(phrases[0] != phrases[1], "the fixture exercises two readings of the control")
    check("Reading: baseline-skip vs baseline: " + phrases[0] in text, "reading of skip vs baseline: " + phrases[0])
    check("; agency vs baseline-skip: " + phrases[1] in text, "reading of agency vs skip: " + phrases[1])
    check("The 0% rows are the control: nothing is pruned there" in open(os.path.join(out, "tables.md")).read(),
          "comparison tables say the 0% rows are the control")
    g = fixture(os.path.join(work, "no0.h5"), "--levels", "30,50,70")
    p = report(binary, [g], os.path.join(work, "no0"), "--no-figures", "--bootstrap", "200")
    check(p.returncode == 0 and "This study has no 0% level, so there is no control" in
          open(os.path.join(work, "no0", "REPORT.md")).read(), "a study without 0% says it has no control")


# ---- --reference ----

def check_contrast(binary, work):
    """A speed difference at 50% (+6.5%, "faster") over a 0% control without a verdict
    (+1.5%) is not shown to come with pruning unless the change between them is: here the
    per-prompt change has p = 0.07. The report said "comes with pruning" because the 0%
    row had no verdict (outside review, 2026-12-07); the change is now tested."""
    f = fixture(os.path.join(work, "contrast.h5"), "--no-partial", "--no-nan")
    rng = np.random.default_rng(11)
    z = [rng.normal(0, 1, 24) for _ in range(2)]
    d = [m + 9 * (x - x.mean()) / x.std(ddof=1) for m, x in ((1.5, z[0]), (6.5, z[1]))]
    with h5py.File(f, "r+") as h:
        v, lv = [x.decode() for x in h["variant"][:]], list(h["level"][:])
        s, b = v.index("baseline-skip"), v.index("baseline")
        for name, inv in (("decode_tokens_per_second", False), ("generation_seconds", True)):
            x = h["metrics/" + name][:]
            for lev, dd in ((0.0, d[0]), (50.0, d[1])):
                k = lv.index(lev)
                x[s, k] = x[b, k] / (1 + dd / 100) if inv else x[b, k] * (1 + dd / 100)
            h["metrics/" + name][...] = x
    out = os.path.join(work, "contrast")
    p = report(binary, [f], out, "--no-figures")
    check(p.returncode == 0, "contrast file reported: " + p.stderr)
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    v50 = row(rows, comparison="baseline-skip-vs-baseline", metric="speed", level=50)["verdict"]
    v0 = row(rows, comparison="baseline-skip-vs-baseline", metric="speed", level=0)["verdict"]
    want = contrast_phrase(f, "baseline-skip-vs-baseline", 50, v50)
    text = open(os.path.join(out, "REPORT.md")).read()
    check(v50 == "faster" and not directional(v0) and "which does not show the difference growing" in want and
          "Reading: baseline-skip vs baseline: " + want + ", so it cannot be put down to skipping pruned heads" in text
          and "comes with pruning" not in text, "a 50%% difference over a noisy 0%% control: %s" % want)


def check_reference(binary, work, f):
    ren = fixture(os.path.join(work, "renamed.h5"), "--variants", "plain,gated,fast", "--kinds",
                  "mask:0,skip:1,skip:0")
    out = os.path.join(work, "renamed")
    p = report(binary, [ren], out, "--no-figures", "--bootstrap", "200", "--reference", "plain")
    check(p.returncode == 0, "--reference plain runs: " + p.stderr)
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    check({r["comparison"] for r in rows} == {"gated-vs-plain", "fast-vs-plain", "plain-vs-own-0",
                                              "gated-vs-own-0", "fast-vs-own-0"}, "every variant against plain")
    a = values(ren, "decode_tokens_per_second", "gated", 50.0)
    b = values(ren, "decode_tokens_per_second", "plain", 50.0)
    want = pct(np.nanmean(log_ratio(a, b)))
    got = float(row(rows, comparison="gated-vs-plain", metric="speed", level=50)["mean_pct"])
    check(abs(got - want) < 1e-7, "paired mean against the reference (%.9g vs %.9g)" % (got, want))
    text = open(os.path.join(out, "REPORT.md")).read()
    check("The seed's agency model is `gated`; its baseline is the reference `plain` (--reference)" in text,
          "REPORT.md names the variants standing for agency and baseline")
    check("At 50%%, gated vs plain, speed (decode tokens/s): %+.2f%%" % want in text, "claims measured on gated")
    p = report(binary, [ren], os.path.join(work, "renamed_fast"), "--no-figures", "--bootstrap", "200",
               "--reference=fast")
    rows = read_csv(os.path.join(work, "renamed_fast", "comparisons.csv"))
    check({r["comparison"] for r in rows if r["b_level"] == ""} == {"plain-vs-fast", "gated-vs-fast"},
          "--reference=fast compares the others with fast")
    p = report(binary, [ren], os.path.join(work, "bad"), "--reference", "nope")
    check(p.returncode == 2 and "--reference nope: no such variant in %s (variants: plain, gated, fast)" % ren
          in p.stderr, "unknown --reference -> exit 2 listing the variants: " + p.stderr)
    out = os.path.join(work, "ref_skip")
    p = report(binary, [f], out, "--no-figures", "--bootstrap", "200", "--reference", "baseline-skip")
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    keys = [(r["comparison"], r["metric"], r["level"]) for r in rows]
    check(p.returncode == 0 and len(keys) == len(set(keys)) and
          {r["comparison"] for r in rows if r["b_level"] == ""} ==
          {"baseline-vs-baseline-skip", "agency-vs-baseline-skip"}, "--reference baseline-skip: no duplicate pair")


# ---- figures: captions, scripts ----

def caption(out, fig):
    text = open(os.path.join(out, "REPORT.md")).read()
    return text.split("### %s\n\n" % fig, 1)[1].split("\n", 1)[0]


def check_captions(binary, work):
    f = fixture(os.path.join(work, "undone.h5"), "--undone", "agency@70", "--undone", "baseline-skip@70")
    out = os.path.join(work, "undone")
    p = report(binary, [f], out, "--bootstrap", "200")
    check(p.returncode == 0, "report with undone cells: " + p.stderr)
    for fig in ("speed_comparison", "perplexity_comparison", "pruning_summary", "radar_comparison"):
        check("Missing (no value), not drawn: agency at 70%, baseline-skip at 70%." in caption(out, fig),
              fig + " caption lists the missing cells")
    check("(Not drawn: only baseline has all four values at level 70%, so every axis would be 1 by construction"
          in caption(out, "radar_comparison") and not os.path.exists(os.path.join(out, "radar_comparison.gp")),
          "a radar of one variant is not drawn and says why")
    check("no panel: 70%." in caption(out, "agency_occupancy_agency"), "occupancy names the level it leaves out")
    check("No pairs (no value), not drawn: agency vs baseline, speed at 70%, agency vs baseline, efficiency at 70%, "
          "agency vs baseline, corpus_perplexity at 70%" in caption(out, "paired_differences"),
          "the paired figure names the cells without pairs")
    check(not [p for p in numbers(os.path.join(out, "paired_differences.dat")) if p[2] == "70"],
          "no paired point where one side is not done")
    dat = open(os.path.join(out, "speed_comparison.dat")).read()
    check("\nagency 70 " not in dat and "\nbaseline 70 " in dat, "missing cells are not in the plot data")
    text = open(os.path.join(work, "lonely", "REPORT.md")).read()
    radar = [n for n in os.listdir(os.path.join(work, "lonely")) if n.startswith("radar")]
    check("(Not drawn: the study has one variant (agency), so every axis would be 1 by construction" in text
          and not radar, "a one-variant study has no radar and says why (%s)" % radar)
    check("(Not drawn: no comparison between variants has a paired value.)" in caption(os.path.join(work, "lonely"),
          "paired_differences") and not os.path.exists(os.path.join(work, "lonely", "paired_differences.gp")),
          "a one-variant study has no paired figure and says why")
    p = report(binary, [os.path.join(work, "renamed.h5")], os.path.join(work, "renamed_noref"), "--no-figures",
               "--bootstrap", "100")
    check(p.returncode == 0 and "Not drawn (a variant is not in the study, or no prompt is done in both): "
          "plain vs baseline, gated vs baseline, fast vs baseline." in caption(os.path.join(work, "renamed_noref"),
                                                                            "paired_differences"),
          "comparisons with an absent reference are named as not drawn")
    # Captions grow: 13 long variant names left out, none cut.
    names = ["variant-number-%02d" % i for i in range(14)]
    g = fixture(os.path.join(work, "many.h5"), "--variants", ",".join(names), "--levels", "0,50",
                *sum((["--undone", n + "@50"] for n in names[1:]), []))
    out = os.path.join(work, "many")
    p = report(binary, [g], out, "--no-figures", "--bootstrap", "100")
    cap = caption(out, "speed_comparison")
    check(p.returncode == 0 and len(cap) > 400 and cap.endswith(".") and
          all("%s at 50%%" % n in cap for n in names[1:]), "a long caption is complete (%d chars)" % len(cap))
    check("only variant-number-00 has all four values" in caption(out, "radar_comparison"),
          "the radar's note survives a long caption")


def numbers(path):
    return [ln.split() for ln in open(path) if ln.strip() and not ln.startswith("#")]


def check_scripts(out, lonely):
    for gpf in [n for n in os.listdir(out) if n.endswith(".gp")]:
        for lab, unit in re.findall(r"set [xy]label '([^']*)\[([^]']+)\]'", open(os.path.join(out, gpf)).read()):
            check(unit not in lab, "%s: the unit %s is not repeated in its axis label %r" % (gpf, unit, lab))
    gp = open(os.path.join(out, "perplexity_comparison.gp")).read()
    m = re.search(r"set yrange \[([-0-9.e+]+):([-0-9.e+]+)\]", gp)
    rows = numbers(os.path.join(out, "perplexity_comparison.dat"))
    lo, hi = min(float(r[3]) for r in rows), max(float(r[4]) for r in rows)
    check(m is not None and lo / 1.2 <= float(m.group(1)) <= lo and hi <= float(m.group(2)) <= hi * 1.2,
          "log y range hugs the data (%s vs %.4g..%.4g)" % (m and m.groups(), lo, hi))
    t = re.search(r"set ytics \(([^)]*)\)", gp)
    tics = [float(x) for x in t.group(1).split(",")] if t else []
    check(len(tics) >= 3 and all(float(m.group(1)) <= x <= float(m.group(2)) for x in tics),
          "labelled tics inside the log range: %s" % tics)
    gp = open(os.path.join(out, "pruning_summary.gp")).read()
    m = re.search(r"set yrange \[([-0-9.e+]+):([-0-9.e+]+)\]", gp)
    check(m is not None and float(m.group(1)) > float(m.group(2)), "perplexity axis reversed, explicit range")
    pts = numbers(os.path.join(out, "pruning_summary.dat"))
    x = np.array([float(r[2]) for r in pts]); y = np.log([float(r[3]) for r in pts])
    sx, sy = np.ptp(x) or 1, np.ptp(y) or 1
    clash = [(pts[i][:2], pts[j][:2]) for i in range(len(pts)) for j in range(i)
             if pts[i][5] != "0" and pts[j][5] != "0" and abs(x[i] - x[j]) / sx <= 0.04 and
             abs(y[i] - y[j]) / sy <= 0.04 and (pts[i][1] == pts[j][1] or pts[i][5] == pts[j][5])]
    check(not clash, "no two labels drawn on top of each other: %s" % clash[:2])
    check(any(r[5] == "0" for r in pts), "coincident 0% points share one label")
    front = numbers(os.path.join(lonely, "pruning_summary_front.dat"))
    gp = open(os.path.join(lonely, "pruning_summary.gp")).read()
    check(len(front) == 1 and '"pruning_summary_front.dat" index 0 using 2:3 with points pt 6' in gp and
          "with lines dt 2" not in gp, "a one-point Pareto frontier is marked with a ring")


# ---- interrupted files ----

def check_incomplete(binary, work, f, p, out):
    check("warning: %s is incomplete (complete = 0" % f in p.stderr, "stderr warns about complete = 0")
    head = open(os.path.join(out, "REPORT.md")).read().split("## ", 1)[0]
    check("> **Warning: incomplete results.** `%s` has `complete = 0`" % f in head and
          "12 of 288 (variant, level, prompt) results are not done" in head, "REPORT.md warns first")
    g = fixture(os.path.join(work, "complete.h5"), "--no-partial")
    with h5py.File(g, "r") as h:
        check(int(h.attrs["complete"]) == 1, "fixture marks a full file complete")
    p = report(binary, [g], os.path.join(work, "complete"), "--no-figures", "--bootstrap", "200")
    check(p.returncode == 0 and "incomplete" not in p.stderr and "Warning: incomplete" not in
          open(os.path.join(work, "complete", "REPORT.md")).read(), "a complete file gets no warning")


# ---- ties, drift, p-values, margins, Holm ----

def signflip_p_halves(d):
    """signflip_p for up to about 26 values: every sum of each half, then all pairs of them."""
    v = np.array([x for x in d if x != 0])
    t = abs(v.sum()) - 1e-9 * np.abs(v).sum()
    if len(v) == 0 or t <= 0:
        return 1.0
    h = len(v) // 2
    sums = [(((np.arange(1 << len(u))[:, None] >> np.arange(len(u))) & 1) * -2 + 1) @ u for u in (v[:h], v[h:])]
    return float(np.mean(np.abs(sums[0][:, None] + sums[1][None, :]) >= t))


def signflip_p(d):
    """Two-sided sign-flip p-value by enumerating every sign assignment of the non-zero d."""
    v = [x for x in d if x != 0]
    if not v:
        return 1.0
    t = abs(sum(v)) - 1e-9 * sum(abs(x) for x in v)
    if t <= 0:
        return 1.0
    k = len(v)
    signs = ((np.arange(1 << k)[:, None] >> np.arange(k)) & 1) * -2 + 1
    return float(np.mean(np.abs(signs @ np.array(v)) >= t))


def check_pvalue(h5, out):
    """An exact p-value of the report recomputed here from the file (12 pairs at 70%)."""
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    r = row(rows, comparison="agency-vs-baseline", metric="diversity", level=70)
    a, b = values(h5, "distinct_2", "agency", 70.0), values(h5, "distinct_2", "baseline", 70.0)
    d = [x for x in log_ratio(a, b) if np.isfinite(x)]
    want = signflip_p(d)
    check(r["p_method"] == "exact" and int(r["n_nonzero"]) == len(d) == 12 and
          abs(float(r["p_value"]) - want) < 1e-9, "exact sign-flip p %s vs enumeration %.9g" % (r["p_value"], want))
    mc = row(rows, comparison="agency-vs-baseline", metric="diversity", level=50)
    a, b = values(h5, "distinct_2", "agency", 50.0), values(h5, "distinct_2", "baseline", 50.0)
    d = log_ratio(a, b)
    check(mc["p_method"] == "exact" and int(mc["n_nonzero"]) == 24 and
          abs(float(mc["p_value"]) - signflip_p_halves(d)) < 1e-9, "24 differing pairs: exact p %s vs %.9g (halves)"
          % (mc["p_value"], signflip_p_halves(d)))


def check_ties(binary, work):
    f = fixture(os.path.join(work, "ties.h5"), "--ties", "--no-partial", "--no-nan")
    out = os.path.join(work, "ties")
    p = report(binary, [f], out, "--no-figures", "--bootstrap", "2000")
    check(p.returncode == 0, "report on planted ties runs: " + p.stderr)
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    check_verdicts(rows, 10, "planted ties")
    verdict = lambda c, m, l: row(rows, comparison=c, metric=m, level=l)["verdict"]
    for m in ("perplexity", "quality", "diversity", "generated_perplexity"):
        check(verdict("baseline-skip-vs-baseline", m, 50) == "identical (all 24 pairs equal)",
              "identical quality values read identical: " + m)
    d2 = row(rows, comparison="agency-vs-baseline", metric="diversity", level=0)
    check(d2["n_nonzero"] == "4" and d2["p_method"] == "exact" and float(d2["p_value"]) == 0.125,
          "4 differing prompts of 24: exact p = 0.125 (%s, %s)" % (d2["n_nonzero"], d2["p_value"]))
    check(float(d2["ci_low_pct"]) > 0 and d2["verdict"] == "too few differing prompts (4 of 24 differ)",
          "ties do not count toward --min-pairs although the bootstrap interval excludes 0: " + d2["verdict"])
    check(verdict("baseline-skip-vs-baseline", "speed", 0) == "equivalent (within +-2%)",
          "a 0.4% drift at 0% is equivalent within the speed margin")
    check(verdict("agency-vs-baseline", "perplexity", 50) == "equivalent (within +-1%)",
          "a 0.03% perplexity change is equivalent, not worse")
    text = open(os.path.join(out, "REPORT.md")).read()
    check("Control at 0% (no head pruned, so pruning cannot explain a difference): agency vs baseline" in text,
          "the claims keep their 0% control line")
    # --min-pairs 2: the 4 differing prompts are tested, and p = 0.125 withholds the verdict.
    p = report(binary, [f], os.path.join(work, "ties2"), "--no-figures", "--min-pairs", "2", "--bootstrap", "2000")
    rows2 = read_csv(os.path.join(work, "ties2", "comparisons.csv"))
    check_verdicts(rows2, 2, "planted ties, --min-pairs 2")
    check(row(rows2, comparison="agency-vs-baseline", metric="diversity", level=0)["verdict"] ==
          "no significant difference", "an interval excluding 0 with p = 0.125 is not significant")
    # A margin of 0.1%: the same-code drift at 0% is now "faster", and is read as run order, not overhead.
    p = report(binary, [f], os.path.join(work, "ties3"), "--no-figures", "--bootstrap", "2000", "--margin", "speed=0.1",
               "--margin=perplexity=0")
    check(p.returncode == 0, "--margin runs: " + p.stderr)
    rows3 = read_csv(os.path.join(work, "ties3", "comparisons.csv"))
    check_verdicts(rows3, 10, "--margin speed=0.1")
    check(row(rows3, comparison="baseline-skip-vs-baseline", metric="speed", level=0)["verdict"] == "faster" and
          row(rows3, comparison="agency-vs-baseline", metric="perplexity", level=50)["verdict"] == "worse",
          "smaller margins turn the planted drifts into verdicts")
    text = open(os.path.join(work, "ties3", "REPORT.md")).read()
    check("(already faster at 0%, where both variants run the same code: run order, machine load or noise, "
          "not overhead)" in text, "a 0% difference between runs of the same code is not called overhead")
    for bad in ("speed", "nope=1", "speed=-1", "speed=x", "speed="):
        p = report(binary, [f], os.path.join(work, "bad"), "--margin", bad)
        check(p.returncode == 2 and "--margin" in p.stderr, "--margin %r -> exit 2: %s" % (bad, p.stderr.strip()))


def cluster_ci(x, cl, B, seed):
    """Cluster bootstrap of the pooled mean as docs/report.md describes it."""
    books = sorted(set(cl))
    sums = [(sum(v for v, c in zip(x, cl) if c == b), sum(1 for c in cl if c == b)) for b in books]
    r, nc = Xoshiro(seed), len(books)
    means = []
    for _ in range(B):
        draw = [sums[r.below(nc)] for _ in range(nc)]
        means.append(sum(d[0] for d in draw) / sum(d[1] for d in draw))
    return np.quantile(sorted(means), 0.025), np.quantile(sorted(means), 0.975)


def check_exchangeable(binary, work):
    """Two variants that differ only by noise: at 50% agency's per-prompt ratios to baseline
    are exp(+z) and exp(-z) equally often, so both corpus perplexities are equal and neither
    variant is faster. A mean of percent differences read "+19.6%, worse" for perplexity,
    "better" for quality and "faster" for speed, whichever variant was named first (outside
    review, 2026-12-07); the log ratios must say no difference, both ways round."""
    f = fixture(os.path.join(work, "exch.h5"), "--prompts", "96", "--no-partial", "--no-nan")
    z = np.concatenate([np.linspace(0.1, 1.0, 48), -np.linspace(0.1, 1.0, 48)])
    with h5py.File(f, "r+") as h:
        v, lv = [x.decode() for x in h["variant"][:]], list(h["level"][:])
        a, b, l = v.index("agency"), v.index("baseline"), lv.index(50.0)
        for name, sign in (("reference_perplexity", 1), ("decode_tokens_per_second", 1), ("generation_seconds", -1)):
            x = h["metrics/" + name][:]
            x[a, l] = x[b, l] * np.exp(sign * z)
            h["metrics/" + name][...] = x
        t = h["metrics/reference_tokens"][:]
        t[...] = 20.0
        h["metrics/reference_tokens"][...] = t
    for swap in (False, True):
        if swap:
            with h5py.File(f, "r+") as h:
                for name in ("reference_perplexity", "decode_tokens_per_second", "generation_seconds"):
                    x = h["metrics/" + name][:]
                    x[[a, b], l] = x[[b, a], l]
                    h["metrics/" + name][...] = x
        out = os.path.join(work, "exch-%d" % swap)
        p = report(binary, [f], out, "--no-figures")
        check(p.returncode == 0, "exchangeable variants reported: " + p.stderr)
        rows = read_csv(os.path.join(out, "comparisons.csv"))
        for m in ("corpus_perplexity", "perplexity", "quality", "speed", "efficiency"):
            r = row(rows, comparison="agency-vs-baseline", metric=m, level=50)
            check(abs(float(r["mean_pct"])) < 1e-9 and float(r["p_value"]) > 0.5 and
                  r["verdict"] == "no significant difference",
                  "exchangeable variants, %s%s: %s%% p %s, %s" % (m, " (swapped)" if swap else "", r["mean_pct"],
                                                                 r["p_value"], r["verdict"]))


def check_books(binary, work):
    f = fixture(os.path.join(work, "books.h5"), "--book-ids", "--no-partial", "--no-nan")
    out = os.path.join(work, "books")
    p = report(binary, [f], out, "--no-figures", "--bootstrap", "500", "--cluster-books")
    check(p.returncode == 0, "--cluster-books runs: " + p.stderr)
    text = open(os.path.join(out, "REPORT.md")).read()
    check("Prompts: 24 from 3 book(s) (from the ids): ruth 8, jonah 8, mark 8; the file does not record their "
          "rows of the prompt file. Comparisons resample whole books" in text, "REPORT.md names the books and counts")
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    r = row(rows, comparison="agency-vs-baseline", metric="speed", level=50)
    a = values(f, "decode_tokens_per_second", "agency", 50.0)
    b = values(f, "decode_tokens_per_second", "baseline", 50.0)
    d = list(log_ratio(a, b))
    cl = [i // 8 for i in range(24)]
    lo, hi = (pct(x) for x in cluster_ci(d, cl, 500, stream_seed(DEFAULT_SEED, r["seed_key"])))
    check(abs(float(r["ci_low_pct"]) - lo) < 1e-7 and abs(float(r["ci_high_pct"]) - hi) < 1e-7,
          "cluster bootstrap reproduced (%s %s vs %.9g %.9g)" % (r["ci_low_pct"], r["ci_high_pct"], lo, hi))
    sums = [sum(x for x, c in zip(d, cl) if c == k) for k in range(3)]
    check(r["p_method"] == "exact" and abs(float(r["p_value"]) - signflip_p(sums)) < 1e-12 and
          float(r["p_value"]) >= 0.25, "3 books: sign-flip over book sums, p >= 2/8 (%s)" % r["p_value"])
    few = [x for x in rows if x["available"] == "1" and int(x["n_pairs"]) >= 10 and int(x["n_nonzero"]) >= 10]
    check(few and all(x["verdict"] == "too few books (3; a clustered verdict needs 10)" and x["p_holm"] == ""
                      for x in few), "3 books: no verdict, equivalence included, and no test (%d rows; %s)"
          % (len(few), sorted({x["verdict"] for x in few})))
    check("Reading: baseline-skip vs baseline: too few books (3; a clustered verdict needs 10) at 50%, so no "
          "difference can be put down to skipping pruned heads" in text,
          "the attribution under --cluster-books names the missing books")
    # One book (the demo's first prompts, Ruth 1:1-2:7): no clustered interval, no verdict.
    one = os.path.join(work, "one_book.h5")
    shutil.copy(f, one)
    with h5py.File(one, "r+") as h:
        ids = h["prompt"][...]
        h["prompt"][...] = np.array([("ruth-1-%d" % (i + 1)).encode() for i in range(len(ids))], dtype=ids.dtype)
    p = report(binary, [one], os.path.join(work, "one_book"), "--no-figures", "--bootstrap", "500", "--cluster-books")
    rows1 = read_csv(os.path.join(work, "one_book", "comparisons.csv"))
    r1 = row(rows1, comparison="agency-vs-baseline", metric="speed", level=50)
    check(p.returncode == 0 and r1["verdict"] == "too few books (1; a clustered verdict needs 10)" and
          r1["ci_low_pct"] == r1["ci_high_pct"] == "", "one book, --cluster-books: %s (%s)" % (r1, p.stderr[-300:]))
    p = report(binary, [f], os.path.join(work, "books_plain"), "--no-figures", "--bootstrap", "500")
    check("Comparisons resample prompts as if independent" in
          open(os.path.join(work, "books_plain", "REPORT.md")).read(), "without the option REPORT.md says so")


def check_prompt_rows(binary, work):
    """A file that records which rows of the prompt file its prompts are and their books
    (/prompts/file_index, /prompts/line, /prompts/book): REPORT.md names the books and counts
    from /prompts/book, not from the ids, with the lines' range, and prompts.csv lists each
    prompt's row; a file without them says so and prompts.csv leaves the rows empty."""
    f = fixture(os.path.join(work, "rows.h5"), "--book-ids", "--prompt-rows", "--no-partial")
    out = os.path.join(work, "rows")
    p = report(binary, [f], out, "--no-figures", "--bootstrap", "200")
    check(p.returncode == 0, "a file with prompt rows is reported: " + p.stderr)
    text = open(os.path.join(out, "REPORT.md")).read()
    check("Prompts: 24 from 3 book(s) (as the sweep's sample recorded them, /prompts/book): B0 8, B1 8, B2 8; "
          "lines 3 to 164 of the prompt file (each prompt's row: `prompts.csv`)." in text,
          "REPORT.md names the recorded books and the lines")
    check("Every mean and comparison below is over these prompts, unweighted, and speaks for them: the sweep's "
          "`max_prompts` sample gives every book at least one prompt before the rest in proportion, so when it takes "
          "fewer prompts than the file holds, small books weigh more here than there" in text,
          "REPORT.md says a max_prompts sample is not weighted to the file's books")
    with h5py.File(f, "r") as h:
        ids = [x.decode() if isinstance(x, bytes) else x for x in h["prompt"][...]]
        want = [{"prompt": i, "book": b.decode(), "file_index": str(k), "line": str(l)} for i, b, k, l in
                zip(ids, h["prompts/book"][...], h["prompts/file_index"][...], h["prompts/line"][...])]
    check(read_csv(os.path.join(out, "prompts.csv")) == want, "prompts.csv holds each prompt's book and rows")
    g = fixture(os.path.join(work, "norows.h5"), "--book-ids", "--no-partial")
    p = report(binary, [g], os.path.join(work, "norows"), "--no-figures", "--bootstrap", "200")
    rows = read_csv(os.path.join(work, "norows", "prompts.csv"))
    check(p.returncode == 0 and [r["book"] for r in rows[::8]] == ["ruth", "jonah", "mark"] and
          all(r["file_index"] == r["line"] == "" for r in rows), "without rows: books from the ids, rows empty")


def check_holm(binary, work, f):
    out = os.path.join(work, "holm")
    p = report(binary, [f], out, "--no-figures", "--holm", "--bootstrap", "2000")
    check(p.returncode == 0, "--holm runs: " + p.stderr)
    rows = read_csv(os.path.join(out, "comparisons.csv"))
    check_verdicts(rows, 10, "--holm", holm=True)
    for between in (True, False):
        fam = [r for r in rows if (r["b_level"] == "") == between and r["available"] == "1"
               and int(r["n_pairs"]) >= 10 and int(r["n_nonzero"]) >= 10
               and not r["verdict"].startswith("no verdict")]
        ps = np.array([float(r["p_value"]) for r in fam])
        order = np.argsort(ps, kind="stable")
        adj = np.minimum(1, (len(ps) - np.arange(len(ps))) * ps[order])
        adj = np.maximum.accumulate(adj)
        got = np.array([float(fam[i]["p_holm"]) for i in order])
        check(len(fam) > 0 and np.allclose(got, adj, rtol=1e-7, atol=0),
              "Holm-adjusted p recomputed (%s family of %d)" % ("between" if between else "own", len(fam)))
    text = open(os.path.join(out, "REPORT.md")).read()
    check("Verdicts use Holm-adjusted p-values (--holm)" in text and "are not corrected for multiplicity" not in text
          and "is at most alpha. The rows are not independent" in text,
          "REPORT.md says the p-values are Holm-adjusted, and only that")


def check_strategies(binary, work, out):
    """A study of pruning strategies: the title names them, there is no section on the seed's
    agency claims, and corpus_perplexity.dat holds exp(sum NLL / sum tokens) of every cell's
    done prompts (recomputed here) inside its interval; a file without the attribute (the
    default fixture) keeps the seed section and a plain title."""
    text = open(os.path.join(out, "REPORT.md")).read()
    check("## The seed document's claims, measured" in text and "(head pruning:" not in text,
          "a study with an agency variant and no strategy attribute: seed section, plain title")
    g = fixture(os.path.join(work, "strategies.h5"), "--variants", "ent,grad,rand", "--kinds",
                "skip:0,skip:0,skip:0", "--strategies", "entropy,gradient,random", "--levels", "0,50")
    o = os.path.join(work, "strategies")
    p = report(binary, [g], o, "--no-figures", "--bootstrap", "200", "--reference", "rand")
    check(p.returncode == 0, "strategies report runs: " + p.stderr)
    text = open(os.path.join(o, "REPORT.md")).read()
    check(text.startswith("# headsweep report: ") and "(head pruning: entropy, gradient, random)\n" in text,
          "the title names the strategies: " + text.splitlines()[0])
    check("seed document's claims" not in text, "no seed-claims section without an agency variant")
    check("`grad`: skip, agency off, strategy gradient" in text, "provenance lists each variant's strategy")
    rows = [l.split() for l in open(os.path.join(o, "corpus_perplexity.dat")) if l.strip() and l[0] != "#"]
    check(len(rows) == 6, "corpus_perplexity.dat: 3 variants x 2 levels (%d rows)" % len(rows))
    for r in rows:
        v = r[0]
        level = 0.0 if float(r[2]) == 0 else 50.0
        ppl, tok = values(g, "reference_perplexity", v, level), values(g, "reference_tokens", v, level)
        ok = np.isfinite(ppl) & np.isfinite(tok) & (ppl > 0) & (tok >= 1)
        want = np.exp((tok[ok] * np.log(ppl[ok])).sum() / tok[ok].sum())
        got, lo, hi = float(r[3]), float(r[4]), float(r[5])
        check(abs(got - want) <= 1e-6 * want and int(r[6]) == ok.sum(),
              "corpus perplexity of %s at %g%%: %.9g, recomputed %.9g" % (v, level, got, want))
        check(lo <= got <= hi and r[1] in ("entropy", "gradient", "random"), "interval and strategy of %s" % v)


def check_calibrated(binary, work):
    """A second agency variant (calibrated thresholds) gets its own bullet beside the seed's
    claims: its thresholds and percentile from the study text, its occupancy per level
    (recomputed here at 50%), and its speed and corpus perplexity against the reference and
    against baseline-skip."""
    g = fixture(os.path.join(work, "calibrated.h5"), "--variants", "baseline,agency,baseline-skip,agency-cal",
                "--kinds", "mask:0,skip:1,skip:0,skip:1", "--calibrated", "agency-cal=95,0.123456789,-0.0525,3",
                "--no-partial")
    o = os.path.join(work, "calibrated")
    p = report(binary, [g], o, "--no-figures", "--bootstrap", "200")
    check(p.returncode == 0, "calibrated report runs: " + p.stderr)
    text = open(os.path.join(o, "REPORT.md")).read()
    bullet = [l for l in text.split("\n- ") if l.startswith("Agency variant `agency-cal`")]
    check(len(bullet) == 1, "one bullet for agency-cal")
    b = bullet[0] if bullet else ""
    check("(overload_threshold 0.1235, alignment_threshold -0.0525, calibrated: percentile 95 of the calibration "
          "set's per-step statistics; recovery_steps 3, calibrated: the mean length of the runs of steps in which a "
          "head met a condition there)" in b, "the bullet names the calibrated thresholds and recovery: " + b[:400])
    check("Agency variant `agency`" not in text, "the subject gets no second bullet")
    for comp in ("agency-cal vs baseline, speed", "agency-cal vs baseline-skip, speed",
                 "agency-cal vs baseline, corpus reference perplexity",
                 "agency-cal vs baseline-skip, corpus reference perplexity"):
        check(comp in b.replace("`", ""), "the bullet has %r: %s" % (comp, b[:600]))
    with h5py.File(g, "r") as h:
        occ = h["agency/occupancy"][...]  # (variant, level, shard, L, H, state)
        names = [x.decode() if isinstance(x, bytes) else x for x in h["state"][...]]
        levels = list(h["level"][...])
    o50 = occ[3, levels.index(50)].reshape(-1, len(names)).sum(axis=0)
    live = o50.sum() - o50[names.index("withdrawn")]
    want = "50%%: overloaded %.2f%%" % (100.0 * o50[names.index("overloaded")] / live)
    check(want in b, "occupancy of agency-cal at 50%% recomputed: %r in %s" % (want, b[:600]))


def main():
    binary, work = sys.argv[1], sys.argv[2]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    gnuplot = shutil.which("gnuplot") is not None
    f = fixture(os.path.join(work, "study.h5"))
    out = os.path.join(work, "report")
    p = report(binary, [f], out)
    check(p.returncode == 0, "report runs: " + p.stderr)
    check(p.stdout.strip().splitlines()[-1] == os.path.join(out, "REPORT.md"), "prints REPORT.md's path")
    check_files(out, gnuplot)
    check_redraw(out)
    check_table_mean(f, out)
    check_paired(f, out)
    check_paired_figure(f, out)
    check_missing(out)
    check_corpus(f, out)
    check_headlines(f, out)
    check_seed(binary, work, f, out)
    check_merge(binary, work, out)
    check_duplicates(binary, work, out)
    check_other_shapes(binary, work)
    check_cross_hosts(binary, work)
    check_interleaving(binary, work, out)
    check_level_drift(binary, work, out)
    check_bad_inputs(binary, work)
    check_gnuplot_paths(binary, work, f)
    check_caveats(out)
    check_min_pairs(binary, work, f, out)
    check_control(binary, work, out)
    check_reference(binary, work, f)
    check_captions(binary, work)
    check_scripts(out, os.path.join(work, "lonely"))
    check_occupancy_figure(binary, work, out)
    check_flat_panel(binary, work)
    check_incomplete(binary, work, f, p, out)
    check_ties(binary, work)
    check_pvalue(f, out)
    check_holm(binary, work, f)
    check_books(binary, work)
    check_exchangeable(binary, work)
    check_contrast(binary, work)
    check_prompt_rows(binary, work)
    check_strategies(binary, work, out)
    check_calibrated(binary, work)
    print("%d check(s), %d failure(s)" % (checks[0], len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
