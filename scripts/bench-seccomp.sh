#!/bin/sh
# Prints, as a markdown table for docs/seccomp.md, the size and speed of the seccomp
# filters that phantomc, libseccomp (the system's, through python3-seccomp) and
# seccompiler make of Docker's default profile on x86_64: program length, and the
# instructions executed per syscall number (worst and mean, zero arguments), as our
# BPF interpreter counts them. The numbers come from the differential test
# (tests/tests/differential.rs), which also checks that the filters agree.
#
# Usage: scripts/bench-seccomp.sh
set -eu
cd "$(dirname "$0")/.."

out="${TMPDIR:-/tmp}/bench-seccomp.$$"
trap 'rm -f "$out"' EXIT INT TERM

if ! PHANTOM_BENCH_TABLE=1 cargo test -q --locked -p phantom-tests --test differential \
    -- --nocapture >"$out" 2>&1; then
    cat "$out" >&2
    echo "scripts/bench-seccomp.sh: the differential test failed; no table" >&2
    exit 1
fi
if grep -q '^skipped' "$out"; then
    grep '^skipped' "$out" >&2
fi
if ! grep -q '^<!-- bench-seccomp' "$out"; then
    echo "scripts/bench-seccomp.sh: the test printed no table (is ../shared/corpus there?)" >&2
    exit 1
fi
grep -E '^(<!-- bench-seccomp|\|)' "$out"
