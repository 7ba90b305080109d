#!/usr/bin/env bash
# sweep_agency_calib.sh: agency_thresholds = calibrated (docs/sweep.md, src/agency/calibrate.c).
# The thresholds a sweep derives and records in the study text must be the percentile of
# the calibration set's per-step head statistics, computed here independently: the
# float64 reference model (tests/reference/ref_gpt2.py) reads each calibration text once,
# and the step that adds token t sees row t of its causal attention. Also: the variant is
# computed on 2 ranks with the same thresholds, the keys are checked, and a plain agency
# variant keeps the seed's defaults.
source "$(dirname "$0")/fixture.sh" "$1"
sed -i -e 's/^max_new_tokens = .*/max_new_tokens = 6/' -e 's/^variants = .*/variants = agency, agency-cal/' \
  -e 's/^levels = .*/levels = 0/' study.ini
cat >>study.ini <<'EOF'

[variant.agency-cal]
gating = skip
agency = on
agency_thresholds = calibrated
agency_percentile = 90
agency_recovery = calibrated
EOF

sweep 2 --out cal.h5 || fail "calibrated sweep: $(cat sweep.err)"
grep -q "variant agency-cal: agency thresholds at percentile 90" sweep.err || fail "no threshold line: $(cat sweep.err)"
runs=$(grep "variant agency-cal: .* head-steps" sweep.err) || fail "no run-length line: $(cat sweep.err)"
sweep 1 --out bad.h5 --set variant.agency-cal.overload_threshold=0.5 && fail "a set threshold was accepted"
grep -q "overload_threshold cannot be set in variant agency-cal" sweep.err || fail "message: $(cat sweep.err)"
sweep 1 --out bad.h5 --set variant.agency.agency_percentile=80 && fail "a percentile without calibrated was accepted"
sweep 1 --out bad.h5 --set variant.agency-cal.agency_thresholds=learned && fail "agency_thresholds = learned accepted"
sweep 1 --out bad.h5 --set variant.agency-cal.recovery_steps=5 && fail "a set recovery_steps was accepted"
grep -q "recovery_steps cannot be set in variant agency-cal: agency_recovery = calibrated" sweep.err ||
  fail "message: $(cat sweep.err)"
sweep 1 --out bad.h5 --set variant.agency.agency_recovery=calibrated && fail "calibrated recovery, default thresholds"
grep -q "agency_recovery = calibrated needs agency_thresholds = calibrated in variant agency" sweep.err ||
  fail "message: $(cat sweep.err)"
sweep 1 --out bad.h5 --set variant.agency-cal.agency_recovery=mean && fail "agency_recovery = mean accepted"
sweep 1 --out bad.h5 --set pruning.strategy=magnitude && fail "calibrated thresholds without a calibration set"
grep -q "agency_thresholds = calibrated needs a calibration set" sweep.err || fail "message: $(cat sweep.err)"

"$py" - "$hs" "$here/../reference" "$runs" <<'PY' || fail "derived thresholds differ from the reference"
import json, math, re, subprocess, sys
import h5py
import numpy as np
hs, refdir = sys.argv[1], sys.argv[2]
sys.path.insert(0, refdir)
import ref_gpt2

def fail(msg):
    sys.exit("sweep_agency_calib: " + msg)

study = h5py.File("cal.h5", "r").attrs["study"]
study = study.decode() if isinstance(study, bytes) else study
lines = {l.split(" = ")[0]: l for l in study.splitlines()}
cal, plain = lines.get("variant.agency-cal", ""), lines.get("variant.agency", "")
if "thresholds calibrated at percentile 90" not in cal:
    fail(f"the study text does not record the percentile: {cal!r}")
if "calibrated" in plain or "overload_threshold 0.850000024," not in plain \
        or "alignment_threshold 0.600000024," not in plain or "recovery_steps 100," not in plain:
    fail(f"the plain agency variant lost the seed's defaults: {plain!r}")
got_u = float(re.search(r"overload_threshold ([-0-9.e]+)", cal).group(1))
got_c = float(re.search(r"alignment_threshold ([-0-9.e]+)", cal).group(1))
got_r = int(re.search(r"recovery_steps ([0-9]+)", cal).group(1))
if "recovery calibrated (mean run length)" not in cal:
    fail(f"the study text does not say the recovery is calibrated: {cal!r}")

# the calibration texts (prompt + reference, whole: they fit the context) as the sweep tokenizes them
texts = [json.loads(l) for l in open("calib.jsonl")]
inp = "".join(json.dumps(t["prompt"] + t.get("reference", "")) + "\n" for t in texts)
out = subprocess.run([hs, "tokenize", "--model", "model", "--jsonl"], input=inp, capture_output=True, text=True,
                     check=True).stdout
seqs = [[int(x) for x in l.split()] for l in out.splitlines()]

class Probe(ref_gpt2.GPT2):
    """Keeps each layer's attention probabilities (H, T, T) beside the ungated outputs."""
    def _attention(self, qkv, gate, future, p, mean=None, collect=None):
        C, H, D = self.cfg.n_embd, self.cfg.n_head, self.cfg.head_dim
        T = qkv.shape[0]
        q = qkv[:, :C].reshape(T, H, D).transpose(1, 0, 2)
        k = qkv[:, C:2 * C].reshape(T, H, D).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(D)
        s[:, future] = -np.inf
        pr = np.exp(s - s.max(axis=-1, keepdims=True))
        self.probs.append(pr / pr.sum(axis=-1, keepdims=True))
        return super()._attention(qkv, gate, future, p, mean, collect)

m = Probe("model")
H, D = m.cfg.n_head, m.cfg.head_dim
util, cos = [], []
series = []  # per sequence and head: (utilisation per step, None at step 0; cosine per step)
for ids in seqs:
    if len(ids) < 2:
        continue
    heads = {}
    m.probs, z = [], []
    m.forward(ids, all_positions=True, collect=z)
    for l in range(m.cfg.n_layer):
        W = m.g(f"h.{l}.attn.c_proj.weight")                            # (C, C)
        contrib = np.stack([z[l][h] @ W[h * D:(h + 1) * D] for h in range(H)])  # (H, T, C)
        total = contrib.sum(axis=0)
        for t in range(len(ids)):
            for h in range(H):
                u = None
                if t >= 1:
                    row = m.probs[l][h, t, :t + 1]
                    row = row[row > 0]
                    u = 1 - float(-(row * np.log(row)).sum()) / math.log(t + 1)
                    util.append(u)
                x, r = contrib[h, t], total[t] - contrib[h, t]
                n = math.sqrt((x @ x) * (r @ r))
                cos.append(float(x @ r) / n if n > 0 else 0.0)
                hu, hc = heads.setdefault((l, h), ([], []))
                hu.append(u)
                hc.append(cos[-1])
    series += heads.values()
want_u = float(np.percentile(util, 90))
want_c = -float(np.percentile(cos, 10))
print(f"sweep_agency_calib: overload {got_u} (reference {want_u}, {len(util)} utilisations), "
      f"alignment {got_c} (reference {want_c}, {len(cos)} cosines)")
# float32 engine against float64 reference; the tiny random model attends almost evenly
# (utilisations near 1e-4), so the tolerance is relative, and must tell percentile 90 from
# its neighbours for the test to mean anything
def close(a, b):
    return abs(a - b) <= 1e-4 * abs(b) + 1e-7
for q in (89, 91):
    if close(float(np.percentile(util, q)), want_u) or close(-float(np.percentile(cos, 100 - q)), want_c):
        fail(f"percentile {q} is within the tolerance of percentile 90: the check cannot tell them apart")
if not close(got_u, want_u) or not close(got_c, want_c):
    fail("thresholds are not the 90th percentile of utilisation and minus the 10th of cosine")

# agency_recovery = calibrated: the mean length of the runs of steps in which a head meets a
# condition the machine tests (the EMA of utilisation, alpha 0.9, above overload_threshold, or
# the cosine below -alignment_threshold), with the thresholds the sweep derived
def runs_of(thr_u, thr_c, ema=True):
    exceed = runs = 0
    for us, cs in series:
        e, prev = None, False
        for u, c in zip(us, cs):
            if u is not None:
                e = u if e is None or not ema else 0.9 * e + 0.1 * u
            ex = (e is not None and e > thr_u) or c < -thr_c
            exceed += ex
            runs += ex and not prev
            prev = ex
    return exceed, runs
exceed, runs = runs_of(got_u, got_c)
steps = sum(len(c) for _, c in series)
mean = exceed / runs
m = re.search(r"([0-9]+) of ([0-9]+) head-steps \(([0-9.]+)%\) meet a condition, in ([0-9]+) runs of mean length "
              r"([0-9.e+-]+): recovery_steps ([0-9]+)", sys.argv[3])
if not m:
    fail("the run-length line: " + sys.argv[3])
print(f"sweep_agency_calib: {m.group(1)} of {m.group(2)} head-steps in {m.group(4)} runs, mean {m.group(5)}, "
      f"recovery_steps {m.group(6)} (reference: {exceed} of {steps} in {runs} runs, mean {mean:.6g})")
if int(m.group(2)) != steps:
    fail("head-steps counted differently")
# float32 engine against float64 reference: a step or two near a threshold may fall either way
if abs(int(m.group(1)) - exceed) > 2 + 0.02 * exceed or abs(int(m.group(4)) - runs) > 2 + 0.02 * runs:
    fail("steps meeting a condition or runs differ from the reference")
if abs(float(m.group(5)) - mean) > 0.05 * mean:
    fail("mean run length differs from the reference")
if got_r != int(m.group(6)) or abs(got_r - mean) > 0.5 + 0.05 * mean:
    fail(f"recovery_steps {got_r} is not the mean run length {mean} rounded")
PY
echo "sweep_agency_calib: ok"
