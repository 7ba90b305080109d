#!/usr/bin/env python3
"""check_line_width.py SRC_DIR [LIMIT]: every tracked C source, header, CMake file, Python
script and shell script of the tree keeps within the line width of .clang-format and
.editorconfig (120 columns). Shell scripts are the *.sh files and the files whose first line
runs sh or bash (#!/bin/bash, #!/usr/bin/env bash: slurm/hs-submit, slurm/*.sbatch, .ci/run).

Lists the offending lines as FILE:LINE: N columns and exits 1; exits 2 when the file list
cannot be had. Files come from `git ls-files` in a checkout, else from a walk of the tree
that skips build and hidden directories (a source tarball). Columns are characters, tabs to 8."""
import os
import subprocess
import sys

SUFFIXES = (".c", ".h", ".h.in", ".cmake", ".py", ".sh")
SHELLS = (b"sh", b"bash")


def shell_script(path):
    """True when the file's first line is a #! line that runs sh or bash (directly or through env)."""
    try:
        with open(path, "rb") as fh:
            first = fh.readline(256)
    except OSError:
        return False
    words = first[2:].split() if first.startswith(b"#!") else []
    if words and os.path.basename(words[0]) == b"env":
        words = words[1:]
    return bool(words) and os.path.basename(words[0]) in SHELLS


def wanted(src, name):
    base = os.path.basename(name)
    return base == "CMakeLists.txt" or base.endswith(SUFFIXES) or shell_script(os.path.join(src, name))


def tracked(src):
    try:
        out = subprocess.run(["git", "-C", src, "ls-files", "-z"], capture_output=True, check=True).stdout
        return [f for f in out.decode().split("\0") if f and wanted(src, f)]
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for root, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build")))
        files += [os.path.relpath(os.path.join(root, n), src) for n in sorted(names)]
    return [f for f in files if wanted(src, f)]


def main():
    if len(sys.argv) not in (2, 3):
        print("usage: check_line_width.py SRC_DIR [LIMIT]", file=sys.stderr)
        return 2
    src, limit = sys.argv[1], int(sys.argv[2]) if len(sys.argv) == 3 else 120
    files = tracked(src)
    if not any(f.endswith(".c") for f in files):
        print(f"check_line_width: no C sources found under {src}", file=sys.stderr)
        return 2
    bad = 0
    for f in files:
        with open(os.path.join(src, f), encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                width = len(line.rstrip("\n").expandtabs(8))
                if width > limit:
                    print(f"{f}:{n}: {width} columns (limit {limit})")
                    bad += 1
    print(f"check_line_width: {len(files)} files, {bad} lines over {limit} columns")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
