#!/usr/bin/python3
"""test_report_symlinks.py: headsweep-report never writes through a symlink in its --out DIR.

    test_report_symlinks.py REPORT_BINARY WORKDIR

Results files and output directories may be shared, so a name in DIR can be a symlink
someone else planted. Before the report runs, DIR holds symlinks at names it writes:
REPORT.md and a CSV table pointing at a victim file, tables.md and a .dat file dangling
(their targets must not be created), a gnuplot script, and a figure's PNG and PDF (which
gnuplot itself draws). After the report (with figures when gnuplot is on PATH, else
--no-figures):
  - the victim holds its old bytes and the dangling targets do not exist;
  - every one of those names is now a regular file written by the report;
  - no temporary file (NAME.tmp.XXXXXX) is left behind;
  - with figures, `gnuplot NAME.gp` in DIR still redraws NAME.png and NAME.pdf by hand.
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "make_fixture.py")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def plant(out, victim, gone):
    """Symlinks at names the report writes: to the victim, or dangling into gone/."""
    links = {"REPORT.md": victim, "comparisons.csv": victim, "speed_comparison.gp": victim,
             "speed_comparison.png": victim, "speed_comparison.pdf": victim,
             "tables.md": os.path.join(gone, "t.md"), "speed_comparison.dat": os.path.join(gone, "s.dat"),
             "corpus_perplexity.png": os.path.join(gone, "c.png")}
    for name, target in links.items():
        os.symlink(target, os.path.join(out, name))
    return links


def check_outputs(out, links, figures):
    for name in links:
        p = os.path.join(out, name)
        if not figures and name.endswith((".png", ".pdf")):
            continue  # not drawn: the old entry may stay
        check(not os.path.islink(p) and os.path.isfile(p), name + " is not a regular file the report wrote")
    left = [n for n in os.listdir(out) if ".tmp." in n]
    check(not left, "temporary files left behind: %s" % left)
    if figures:
        with open(os.path.join(out, "speed_comparison.png"), "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", "speed_comparison.png is not a PNG")


def redraw_by_hand(out):
    """The scripts still name their own outputs when run without the report's -e setting."""
    png = os.path.join(out, "speed_comparison.png")
    os.unlink(png)
    p = subprocess.run(["gnuplot", "speed_comparison.gp"], cwd=out, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0 and os.path.getsize(png) > 0, "gnuplot speed_comparison.gp by hand: " + p.stderr[-400:])


def main():
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    path, out, gone = os.path.join(work, "r.h5"), os.path.join(work, "out"), os.path.join(work, "gone")
    victim = os.path.join(work, "victim.txt")
    subprocess.run([sys.executable, FIXTURE, path, "--variants=baseline,agency", "--no-partial"], check=True)
    with open(victim, "w") as f:
        f.write("precious\n")
    os.makedirs(out)
    links = plant(out, victim, gone)
    figures = shutil.which("gnuplot") is not None
    cmd = [binary, path, "--out", out] + ([] if figures else ["--no-figures"])
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    check(p.returncode == 0, "report exit %d: %s" % (p.returncode, p.stderr[-600:]))
    with open(victim) as f:
        check(f.read() == "precious\n", "the victim behind a symlink in DIR was overwritten")
    check(not os.path.exists(gone), "a dangling symlink's target was created")
    check_outputs(out, links, figures)
    if figures:
        redraw_by_hand(out)
    print("%d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
