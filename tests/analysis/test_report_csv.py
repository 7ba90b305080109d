#!/usr/bin/python3
"""test_report_csv.py: the report's CSV files cannot carry a spreadsheet formula.

    test_report_csv.py REPORT_BINARY WORKDIR

A fixture (make_fixture.py) with a variant named "-x" (a valid name that a spreadsheet would
read as a formula) has the `units` attribute of its metrics edited with h5py to formula and
DDE payloads: "=cmd|' /C calc'!A0", "+1", "@SUM(1)", "-x", a leading tab or CR, payloads
after a comma, a semicolon or a newline inside the text, quotes and backquotes. The report
must write CSV that
  - reads back (RFC 4180, Python's csv module) as each string with a single quote before
    every = + - @ tab or CR that starts it or follows , ; tab CR LF (OWASP's advice);
  - split naively on any of , ; tab CR LF (as a spreadsheet set to another separator, or
    one ignoring quotes, would) has no piece starting with = + - @ that is not a number;
  - keeps numbers as numbers: a negative difference in comparisons.csv is a bare -N.
Variant names a spreadsheet would run ("=cmd|...", "+1", "@SUM(1)") are no names at all
and are refused with exit 2 naming the file.
"""
import csv
import glob
import os
import re
import shutil
import subprocess
import sys

import h5py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixture import fixed_strings  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "make_fixture.py")
FORMULA = "=+-@\t\r"
SEPARATORS = ",;\t\r\n"
HOSTILE = ["=cmd|' /C calc'!A0", "+1", "@SUM(1)", "-x", "\t=1+1", "\r@SUM(2)", 'say "hi",=2+2',
           "a;=HYPERLINK(\"http://x\")", "line1\n-2+3", "`touch PWNED`", "-1", "ok units", "a\t+b"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def neutral(s):
    """The string as the CSV must hold it (the rule of hs_out_csv_cell, written out again)."""
    out = []
    for i, c in enumerate(s):
        if c in FORMULA and (i == 0 or s[i - 1] in SEPARATORS):
            out.append("'")
        out.append(c)
    return "".join(out)


def is_number(piece):
    try:
        float(piece)
        return True
    except ValueError:
        return False


def make(path, variants):
    subprocess.run([sys.executable, FIXTURE, path, "--variants=" + variants, "--no-partial"], check=True)


def check_naive_split(path, text):
    """No cell a spreadsheet could cut out of the raw text starts a formula."""
    for piece in re.split("[" + re.escape(SEPARATORS) + "]", text):
        body = piece.lstrip('"')
        if body and body[0] in FORMULA and not is_number(body.rstrip('"')):
            check(False, f"{os.path.basename(path)}: a cell could start a formula: {piece[:60]!r}")
            return


def check_tables(out, units):
    """Every metric table's units read back neutralised, the variant -x as '-x."""
    seen = set()
    for path in glob.glob(os.path.join(out, "table_*.csv")):
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        check(rows and all(None not in r and len(r) == len(rows[0]) for r in rows), f"{path}: ragged rows")
        metric = rows[0]["metric"]
        if metric in units:
            seen.add(metric)
            check(all(r["units"] == neutral(units[metric]) for r in rows),
                  f"{path}: units {rows[0]['units']!r}, want {neutral(units[metric])!r}")
        check({r["variant"] for r in rows} == {"'-x", "agency", "baseline"},
              f"{path}: variants {sorted({r['variant'] for r in rows})}")
    check(seen == set(units), f"tables for {sorted(set(units) - seen)} missing")


def check_comparisons(out):
    with open(os.path.join(out, "comparisons.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    check(any(r["a"] == "'-x" or r["b"] == "'-x" for r in rows), "comparisons.csv: no '-x variant")
    check(all(not r["comparison"].startswith("-") for r in rows), "comparisons.csv: a key starts with -")
    negative = [r["mean_pct"] for r in rows if r["mean_pct"].startswith("-")]
    check(negative and all(is_number(x) for x in negative), "comparisons.csv: no negative number kept as a number")
    text = open(os.path.join(out, "comparisons.csv"), encoding="utf-8").read()
    check(re.search(r",-\d[\d.e+-]*,", text) is not None, "comparisons.csv: negative numbers are not bare")


def refused(binary, work, name):
    path = os.path.join(work, "refused.h5")
    make(path, "baseline,agency")
    with h5py.File(path, "r+") as f:
        data = [x.decode() if isinstance(x, bytes) else x for x in f["variant"][...]]
        data[0] = name
        attrs = dict(f["variant"].attrs)
        f["variant"][...] = data
        for k, v in attrs.items():
            f["variant"].attrs[k] = v
        fixed_strings(f)
    p = subprocess.run([binary, path, "--out", os.path.join(work, "out_refused"), "--no-figures"],
                       capture_output=True, text=True)
    check(p.returncode == 2 and path in p.stderr, f"variant {name!r}: exit {p.returncode}, {p.stderr.strip()[:200]}")


def main():
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    path = os.path.join(work, "formula.h5")
    make(path, "-x,agency,baseline")
    units = {}
    with h5py.File(path, "r+") as f:
        # cpu_user_seconds and cpu_system_seconds are tabled as their sum (cpu_seconds, units "s")
        tabled = [(n, d) for n, d in sorted(f["metrics"].items()) if not n.startswith("cpu_")]
        for (name, ds), u in zip(tabled, HOSTILE):
            ds.attrs["units"] = u
            units[name] = u
        fixed_strings(f)
    out = os.path.join(work, "out")
    p = subprocess.run([binary, path, "--out", out, "--no-figures"], capture_output=True, text=True, cwd=work)
    check(p.returncode == 0, f"report exit {p.returncode}: {p.stderr[-800:]}")
    if p.returncode == 0:
        check_tables(out, units)
        check_comparisons(out)
        for csv_path in glob.glob(os.path.join(out, "*.csv")):
            check_naive_split(csv_path, open(csv_path, encoding="utf-8").read())
        check(not glob.glob(os.path.join(work, "PWNED*")) and not glob.glob(os.path.join(out, "PWNED*")),
              "a command from the file ran")
    for name in ("=cmd|' /C calc'!A0", "+1", "@SUM(1)"):
        refused(binary, work, name)
    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("CSV formula checks passed")


if __name__ == "__main__":
    main()
