#!/bin/sh
# The test command (README.md; `.ci/run` runs exactly this on a clean clone).
# It installs what the tests need, then runs every test of the workspace.
set -eu
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo not found; install Rust (https://rustup.rs) and retry" >&2
    exit 1
fi

# Unit, snapshot, agreement, robustness and CLI tests. Snapshots are never written
# here: a changed snapshot is a failure to review with `cargo insta review`.
INSTA_UPDATE=no cargo test --workspace --locked
