#!/usr/bin/env bash
# sweep_fulldisk.sh: a real full disk (a small tmpfs mounted as the output directory).
#  1. The file does not fit when it is created: exit 1 naming the path and ENOSPC, no
#     partial or temporary file left, the lock released; with space back the same
#     command runs.
#  2. The disk is full when a resume starts: refused naming the lock file, the results
#     file untouched; with one block free (the lock's) the resume completes although the
#     disk is otherwise full, since cells are written in place into space allocated at
#     creation, and equals an uninterrupted run.
#  3. A merge whose output does not fit: exit 1 naming the output, nothing left behind;
#     after freeing space the same merge works.
# Needs root and mount(2) (skipped with 77 otherwise, e.g. in an unprivileged container).
source "$(dirname "$0")/fixture.sh" "$1"
mnt="$work/disk"
mkdir -p "$mnt"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=64k tmpfs "$mnt" 2>/dev/null; then
  echo "sweep_fulldisk: skipped: cannot mount a tmpfs here (needs root and mount permission)"
  exit 77
fi
trap 'umount "$mnt" 2>/dev/null; for p in $(jobs -p); do killtree "$p"; done; rm -rf "$work"' EXIT
resize() { mount -o remount,size="$1" "$mnt" || fail "remount $mnt size=$1"; }

sweep 1 --out ref.h5 || fail "reference run: $(cat sweep.err)"

# 1. Too small for the file itself.
sweep 1 --out "$mnt/r.h5"
rc=$?
[ "$rc" = 1 ] || fail "full disk at creation: exit $rc, want 1: $(cat sweep.err)"
grep -q "$mnt/r.h5" sweep.err && grep -q "No space left on device" sweep.err || fail "message: $(cat sweep.err)"
[ -z "$(ls -A "$mnt")" ] || fail "files left on the full disk: $(ls -A "$mnt")"
resize 16m
sweep 2 --out "$mnt/r.h5" --cells 1/2 || fail "half the cells with space back: $(cat sweep.err)"

# 2. Fill the disk to the last byte, then resume.
dd if=/dev/zero of="$mnt/filler" bs=4k 2>/dev/null
[ "$(df --output=avail "$mnt" | tail -n 1 | tr -d ' ')" = 0 ] || fail "the disk did not fill up"
sum=$(sha256sum "$mnt/r.h5")
sweep 2 --out "$mnt/r.h5"
rc=$?
[ "$rc" = 1 ] && grep -q "$mnt/r.h5.lock" sweep.err && grep -q "No space left on device" sweep.err ||
  fail "resume on a full disk: exit $rc: $(cat sweep.err)"
[ "$sum" = "$(sha256sum "$mnt/r.h5")" ] || fail "a refused resume changed the results file"
truncate -s -8k "$mnt/filler" # one or two blocks back: room for the lock file only
sweep 2 --out "$mnt/r.h5" || fail "resume on an almost full disk: $(cat sweep.err)"
"$py" "$tool" compare ref.h5 "$mnt/r.h5" || fail "resumed on a full disk, the file differs from an uninterrupted run"

# 3. A merge whose output cannot be written.
sweep 1 --out p1.h5 --cells 1/2 || fail "part 1"
sweep 1 --out p2.h5 --cells 2/2 || fail "part 2"
"$hs" merge "$mnt/m.h5" p1.h5 p2.h5 2>merge.err
rc=$?
[ "$rc" = 1 ] || fail "merge onto a full disk: exit $rc, want 1: $(cat merge.err)"
grep -q "$mnt/m.h5" merge.err && grep -q "No space left on device" merge.err || fail "merge message: $(cat merge.err)"
[ "$(ls -A "$mnt" | sort | tr '\n' ' ')" = "filler r.h5 " ] || fail "merge left files: $(ls -A "$mnt")"
rm "$mnt/filler"
"$hs" merge "$mnt/m.h5" p1.h5 p2.h5 2>merge.err || fail "merge with space back: $(cat merge.err)"
"$py" "$tool" compare ref.h5 "$mnt/m.h5" || fail "merged file differs"
echo "sweep_fulldisk: ok"
