#!/bin/sh
# Release binaries as shipped: on Linux with glibc the binaries are linked statically
# (crt-static), which takes the dynamic loader's work off every start and keeps
# glibc's shared library out of `phantom`'s resident size (docs/benchmarks.md, "Size").
# A static build needs an explicit --target (proc-macros cannot be built static), so
# the binaries land in target/<host triple>/release/. Extra arguments go to cargo.
set -eu
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
case "$host" in
*-linux-gnu) RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" ;;
*) RUSTFLAGS="${RUSTFLAGS:-}" ;;
esac
export RUSTFLAGS
cargo build --release --target "$host" "$@"
echo "scripts/build-release.sh: binaries in target/$host/release/ (phantom, phantom-full, phantom-mcp, phantomc)"
