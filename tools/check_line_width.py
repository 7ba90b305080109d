#!/usr/bin/env python3
"""check_line_width.py SRC_DIR [LIMIT]: every tracked C source, header, CMake file and Python
script of the tree keeps within the line width of .clang-format and .editorconfig (120 columns).
Shell scripts are not checked yet: about 135 of their lines are longer (docs/design.md).

Lists the offending lines as FILE:LINE: N columns and exits 1; exits 2 when the file list
cannot be had. Files come from `git ls-files` in a checkout, else from a walk of the tree
that skips build directories (a source tarball). Columns are characters, tabs to 8."""
import os
import subprocess
import sys

PATTERNS = ("*.c", "*.h", "*.h.in", "CMakeLists.txt", "*.cmake", "*.py")


def wanted(name):
    base = os.path.basename(name)
    return base == "CMakeLists.txt" or base.endswith((".c", ".h", ".h.in", ".cmake", ".py"))


def tracked(src):
    try:
        out = subprocess.run(["git", "-C", src, "ls-files", "-z", "--"] + [":(glob)**/" + p for p in PATTERNS],
                             capture_output=True, check=True).stdout
        return [f for f in out.decode().split("\0") if f and wanted(f)]
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for root, dirs, names in os.walk(src):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "build")))
        files += [os.path.relpath(os.path.join(root, n), src) for n in sorted(names) if wanted(n)]
    return files


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
