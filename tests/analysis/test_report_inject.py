#!/usr/bin/python3
"""test_report_inject.py: strings from a hostile results file cannot run or break anything.

    test_report_inject.py REPORT_BINARY WORKDIR

A fixture (make_fixture.py) is edited with h5py so that every free-text string the report
prints (metric units and descriptions, the job name, root attribute names and values, the
job file text) holds a backquoted command, a gnuplot system() call, both kinds of quote,
Markdown markup, braces, a newline and an escape character. The report must run (figures on when
gnuplot is there), create no file from any of those commands, and write well-formed
output: gnuplot scripts that render, CSV fields that read back as the exact string,
Markdown lines that the strings neither break nor leave unescaped. Names (variants,
states, gating, metrics) holding such characters, and prompt ids with control characters,
are refused with exit 2 and a message naming the file.
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
from make_fixture import fixed_strings, utf8_array  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "make_fixture.py")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def hostile(tag, marker_dir):
    """A string that runs `touch marker_dir/PWNED_tag` if anything evaluates it."""
    m = os.path.join(marker_dir, "PWNED_" + tag)
    return (f"x`touch {m}_bq` $(touch {m}_sh) ' \" system(\"touch {m}_sys\") '.system('touch {m}_sq').' "
            f"| *b* _i_ [l](u) <b>h</b> {{ }} \\\n# line2\x1b[31m\r end")


def make(path, marker_dir):
    subprocess.run([sys.executable, FIXTURE, path], check=True)
    with h5py.File(path, "r+") as f:
        for name, ds in f["metrics"].items():
            ds.attrs["units"] = hostile("units_" + name, marker_dir)
            ds.attrs["long_name"] = hostile("desc_" + name, marker_dir)
        f.attrs["job_name"] = hostile("job", marker_dir)
        f.attrs[hostile("attrkey", marker_dir)] = hostile("attrval", marker_dir)
        f.attrs["job_file_text"] = "[job]\nname = x\n```\n" + hostile("jobtext", marker_dir) + "\n````\n"
        fixed_strings(f)


def run(binary, files, out, *args):
    return subprocess.run([binary, *files, "--out", out, *args], capture_output=True, text=True,
                          cwd=os.path.dirname(out))


def backquote_outside_single_quotes(text):
    """True when a backquote of the script is outside a single-quoted gnuplot string
    (gnuplot substitutes commands in double-quoted strings and bare text alike)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":  # single-quoted: '' is a quote, nothing else is special
            i += 1
            while i < n and not (text[i] == "'" and text[i + 1:i + 2] != "'"):
                i += 2 if text[i] == "'" else 1
        elif c == '"':  # double-quoted: backslash escapes, backquotes run
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "`":
                    return True
                i += 2 if text[i] == "\\" else 1
        elif c == "#":  # comment to the end of the line
            i = text.find("\n", i)
            if i < 0:
                break
        elif c == "`":
            return True
        i += 1
    return False


def check_outputs(out, marker_dir, want_units):
    check(not glob.glob(os.path.join(marker_dir, "PWNED*")) and not glob.glob(os.path.join(out, "PWNED*")),
          "a command from the file ran: " + " ".join(glob.glob(os.path.join(marker_dir, "PWNED*"))))
    # The paired-difference figure labels its series with comparison titles (variant names).
    check(os.path.exists(os.path.join(out, "paired_differences.gp")), "paired_differences.gp written")
    for gp in glob.glob(os.path.join(out, "*.gp")):
        text = open(gp, encoding="utf-8", errors="replace").read()
        check("\x1b" not in text and "\r" not in text, f"{gp}: control character")
        check(not backquote_outside_single_quotes(text), f"{gp}: backquote outside a single-quoted string")
    # The CSV reads back the exact units string (RFC 4180 quoting).
    with open(os.path.join(out, "table_decode_tokens_per_second.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    check(rows and all(r["units"] == want_units for r in rows), "CSV units do not read back exactly")
    check(all(len(r) == len(rows[0]) and None not in r for r in rows), "CSV rows have extra fields")
    for md in ("REPORT.md", "tables.md"):
        text = open(os.path.join(out, md), encoding="utf-8").read()
        check("\x1b" not in text and "\r" not in text, f"{md}: control character")
        fence = None
        for line in text.splitlines():
            m = re.match(r"(`{3,})", line)
            if m and (fence is None or m.group(1) == fence):
                fence = m.group(1) if fence is None else None
            elif fence is None:
                check(not line.startswith("# line2") and not line.startswith(" end"),
                      f"{md}: a newline from the file split a line: {line[:60]}")
                check(not re.search(r"(?<!\\)<b>", line), f"{md}: raw HTML from the file: {line[:60]}")
        check(fence is None, f"{md}: a code fence is left open (the job text closed it early)")
        for line in text.splitlines():
            if line.startswith("|") and "touch" in line:
                cells = line.replace("\\|", "").count("|")
                check(cells >= 3, f"{md}: table row broken: {line[:80]}")


def check_figures(out, gnuplot):
    if not gnuplot:
        print("gnuplot not on PATH: scripts written, not rendered")
        return
    pngs = glob.glob(os.path.join(out, "*.png"))
    check(len(pngs) >= 5, f"only {len(pngs)} figures rendered")
    # The PDF pass runs the same script again: each PNG has its PDF.
    pdfs = [p for p in pngs if open(p[:-4] + ".pdf", "rb").read(5) == b"%PDF-"] if pngs else []
    check(len(pdfs) == len(pngs), f"{len(pngs) - len(pdfs)} figure(s) without a PDF")


def refused(binary, work, marker_dir, what, edit):
    path = os.path.join(work, what + ".h5")
    subprocess.run([sys.executable, FIXTURE, path], check=True)
    with h5py.File(path, "r+") as f:
        edit(f)
        fixed_strings(f)
    out = os.path.join(work, "out_" + what)
    p = subprocess.run([binary, path, "--out", out], capture_output=True, text=True)
    check(p.returncode == 2 and path in p.stderr, f"{what}: exit {p.returncode}, {p.stderr.strip()[:200]}")
    check(not glob.glob(os.path.join(marker_dir, "PWNED*")), f"{what}: a command ran")


def replace_strings(f, path, i, value):
    data = [x.decode() if isinstance(x, bytes) else x for x in f[path][...]]
    data[i] = value
    del f[path]
    f.create_dataset(path, data=utf8_array(data))


def main():
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    marker_dir = os.path.join(work, "markers")
    os.makedirs(marker_dir)
    path = os.path.join(work, "hostile.h5")
    make(path, marker_dir)
    out = os.path.join(work, "out")
    p = run(binary, [path], out)
    check(p.returncode == 0, f"report exit {p.returncode}: {p.stderr[-800:]}")
    if p.returncode == 0:
        check_outputs(out, marker_dir, hostile("units_decode_tokens_per_second", marker_dir))
        check_figures(out, shutil.which("gnuplot"))

    m = marker_dir
    refused(binary, work, m, "variant", lambda f: replace_strings(f, "variant", 0, hostile("v", m)))
    refused(binary, work, m, "state", lambda f: replace_strings(f, "state", 1, "a'b"))
    refused(binary, work, m, "prompt", lambda f: replace_strings(f, "prompt", 2, "p\nq"))
    refused(binary, work, m, "gating", lambda f: f["variant"].attrs.__setitem__(
        "gating", [hostile("g", m), "skip", "skip"]))
    refused(binary, work, m, "metric", lambda f: f.move("metrics/distinct_1", "metrics/" + "d`touch x`"))

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)
    print("injection checks passed")


if __name__ == "__main__":
    main()
