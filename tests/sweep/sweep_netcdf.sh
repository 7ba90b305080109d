#!/usr/bin/env bash
# sweep_netcdf.sh: a real results file as collaborators read it (issue 20): the schema
# (results_tool.py check), the CF conventions with UDUNITS-2 parsing every unit and xarray
# (h5netcdf and netCDF4 engines) decoding fill values and times (results_tool.py cf), and
# every python snippet of docs/results-format.md run against it with its row counts checked
# (doc_snippets.py); the prompt and reference texts stored in the file, and the generated texts
# equal to their ids decoded in Python (the random model samples byte tokens that are no UTF-8,
# so the U+FFFD replacement is exercised). Skips (77) only when udunits2 or a Debian package it needs
# (python3-xarray, python3-netcdf4, python3-h5netcdf) is not installed.
source "$(dirname "$0")/fixture.sh" "$1"
command -v udunits2 >/dev/null || { echo "SKIP: udunits2 (Debian udunits-bin) not installed"; exit 77; }
"$py" -c "import xarray, netCDF4, h5netcdf" 2>/dev/null || {
  echo "SKIP: python3-xarray, python3-netcdf4 or python3-h5netcdf not installed"; exit 77; }

sweep 1 || fail "sweep: $(cat sweep.err)"
out=results/study.h5
"$py" "$tool" check "$out" || fail "schema check"
"$py" "$tool" cf "$out" || fail "CF check"
"$py" "$tool" texts "$out" prompts.jsonl || fail "prompt texts"
"$py" "$tool" gentext "$out" model || fail "generated texts"
"$py" "$here/doc_snippets.py" "$out" "$here/../../docs/results-format.md" || fail "documented snippets"
echo "PASS: sweep_netcdf"
