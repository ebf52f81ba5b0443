#!/bin/sh
# Release binaries as shipped: static, so no dynamic loader runs at each start and no
# shared C library counts in `phantom`'s resident size (docs/benchmarks.md, "Size").
#
# On Linux they are built against musl where its Rust target and a musl C compiler
# (Debian: musl-tools) are at hand, with dlmalloc as the allocator of the
# single-threaded binaries: glibc's start-up asks the CPU for its features and caches
# with some forty CPUID instructions, each a trap to the hypervisor in a VM (5 us on
# the benchmark machine), 0.2-0.3 ms of every `phantom` start. Elsewhere they are
# linked statically against glibc (crt-static), as before. Either way the target is
# explicit (proc-macros cannot be built static), so the binaries land in
# target/<target>/release/; target/release-static points there for the benchmark
# scripts. Extra arguments go to cargo. PHANTOM_RELEASE_LIBC=glibc forces glibc.
set -eu
cd "$(dirname "$0")/.."
host=$(rustc -vV | sed -n 's/^host: //p')
target=$host
case "$host" in
*-linux-gnu)
    musl=${host%-gnu}-musl
    arch=${host%%-*}
    if [ "${PHANTOM_RELEASE_LIBC:-}" = glibc ]; then
        :
    elif ! command -v "$arch-linux-musl-gcc" >/dev/null 2>&1 && ! command -v musl-gcc >/dev/null 2>&1; then
        echo "scripts/build-release.sh: no musl C compiler (Debian: apt-get install musl-tools); linking glibc statically instead, which starts slower" >&2
    elif ! rustup target list --installed 2>/dev/null | grep -qx "$musl" &&
        ! rustup target add "$musl" >&2; then
        echo "scripts/build-release.sh: the Rust target $musl could not be installed; linking glibc statically instead, which starts slower" >&2
    else
        target=$musl
        # The C parts (psm, for the parser's stack growth) need a musl compiler.
        if ! command -v "$arch-linux-musl-gcc" >/dev/null 2>&1; then
            export "CC_$(echo "$musl" | tr - _)=musl-gcc"
        fi
    fi
    ;;
esac
case "$target" in
*-linux-gnu) RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" ;;
*) RUSTFLAGS="${RUSTFLAGS:-}" ;;
esac
export RUSTFLAGS
cargo build --release --target "$target" "$@"
# (Where CARGO_TARGET_DIR moves the output, the link follows it.)
out=${CARGO_TARGET_DIR:-target}
ln -sfnT "$target/release" "$out/release-static"
echo "scripts/build-release.sh: binaries in $out/$target/release/ = $out/release-static/ (phantom, phantom-full, phantom-mcp, phantomc)"
