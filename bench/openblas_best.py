#!/usr/bin/python3
"""openblas_best.py: the OPENBLAS_CORETYPE under which this machine's OpenBLAS runs the
anchors' products fastest and correctly, for the bench scripts' anchor commands
(bench/ab_common.sh, ab_anchor_env).

Why: with OPENBLAS_CORETYPE unset, OpenBLAS picks its kernels from the CPU's family and
model, and a build older than the CPU does not know it. Debian 12's OpenBLAS 0.3.21 on an
Intel Xeon of family 6, model 207 (2026-12-07) fell back to Prescott (SSE3): 38 GFLOP/s
on one core where its SkylakeX kernels ran 139, so "unset" was not the anchor's best
configuration there.

How: each candidate in its own process (OpenBLAS reads the variable once, when it loads):
OpenBLAS's own choice (unset) and every forced core whose instructions the CPU has
(/proc/cpuinfo flags), one thread, OPENBLAS_L2_SIZE unset. Each times cblas_sgemm on the
gpt2 shape's largest prefill product, (128, 768) @ (768, 2304), median of 7 calls after one
warm-up, and checks 64 sampled outputs against float64 sums (largest relative error at
most 1e-4, else the candidate is out; a candidate that dies, e.g. on an instruction the
CPU lacks, is out too). The fastest wins; OpenBLAS's own choice is kept when it is within
3% of the fastest, so a forced core appears only where it clearly helps.

Prints the chosen value on stdout (an empty line for "leave it unset") and one line per
candidate on stderr: the core asked for, the core OpenBLAS loaded (openblas_get_corename),
GFLOP/s and error. Needs only Python and the OpenBLAS that PyTorch and bench_engine load
(libopenblas.so.0); no numpy.
"""
import ctypes
import os
import random
import subprocess
import sys
import time

M, K, N = 128, 768, 2304
# forced cores and the /proc/cpuinfo flags their kernels need (OpenBLAS's names)
CANDIDATES = [
    ("SapphireRapids", {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16", "amx_tile"}),
    ("Cooperlake", {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512_bf16"}),
    ("SkylakeX", {"avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"}),
    ("Zen", {"avx2", "fma"}),
    ("Haswell", {"avx2", "fma"}),
    ("Sandybridge", {"avx"}),
]


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def measure():
    """In the child: one line 'corename gflops err'."""
    lib = ctypes.CDLL("libopenblas.so.0")
    lib.openblas_get_corename.restype = ctypes.c_char_p
    lib.openblas_set_num_threads(1)
    rng = random.Random(1)
    a = (ctypes.c_float * (M * K))(*[rng.uniform(-1, 1) for _ in range(M * K)])
    b = (ctypes.c_float * (K * N))(*[rng.uniform(-1, 1) for _ in range(K * N)])
    c = (ctypes.c_float * (M * N))()
    f = ctypes.c_float
    # cblas_sgemm(RowMajor 101, NoTrans 111, NoTrans 111, M, N, K, 1, a, K, b, N, 0, c, N)
    call = lambda: lib.cblas_sgemm(101, 111, 111, M, N, K, f(1.0), a, K, b, N, f(0.0), c, N)
    call()
    ts = []
    for _ in range(7):
        t0 = time.perf_counter()
        call()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    err = 0.0
    for _ in range(64):
        i, j = rng.randrange(M), rng.randrange(N)
        ref = sum(float(a[i * K + k]) * float(b[k * N + j]) for k in range(K))
        scale = sum(abs(float(a[i * K + k]) * float(b[k * N + j])) for k in range(K))
        err = max(err, abs(c[i * N + j] - ref) / scale)
    print(lib.openblas_get_corename().decode(), 2.0 * M * K * N / ts[3] / 1e9, err)


def candidate(core):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    if core:
        env["OPENBLAS_CORETYPE"] = core
    try:
        p = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True, timeout=120)
        name, gflops, err = p.stdout.split()
        return name, float(gflops), float(err)
    except (subprocess.SubprocessError, ValueError):
        return None


def main():
    if sys.argv[1:] == ["--child"]:
        measure()
        return 0
    flags = cpu_flags()
    results = []
    for core, need in [("", set())] + CANDIDATES:
        if not need <= flags:
            continue
        r = candidate(core)
        label = core or "(unset)"
        if r is None:
            print(f"openblas_best: {label}: failed, left out", file=sys.stderr)
            continue
        name, gflops, err = r
        ok = err <= 1e-4
        print(f"openblas_best: {label}: loaded {name}, {gflops:.1f} GFLOP/s, error {err:.1e}"
              f"{'' if ok else ' (too large: left out)'}", file=sys.stderr)
        if ok:
            results.append((gflops, core, name))
    if not results:
        print("openblas_best: no candidate ran; leaving OPENBLAS_CORETYPE unset", file=sys.stderr)
        print("")
        return 0
    best = max(results)
    own = [r for r in results if r[1] == ""]
    pick = own[0] if own and own[0][0] >= 0.97 * best[0] else best
    print(f"openblas_best: anchors run with OPENBLAS_CORETYPE {pick[1] or '(unset)'} ({pick[2]} kernels)",
          file=sys.stderr)
    print(pick[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
