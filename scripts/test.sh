#!/bin/sh
# The test command (README.md; `.ci/run` runs exactly this on a clean clone).
# It installs what the tests need, then runs every test of the workspace.
set -eu
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
    echo "scripts/test.sh: cargo not found; install Rust (https://rustup.rs) and retry" >&2
    exit 1
fi

# The differential seccomp test (tests/tests/differential.rs) compiles Docker's profile
# with libseccomp through its Python bindings (Debian's python3-seccomp, seen by the
# system Python); without them it skips that part and says so.
has_python_seccomp() {
    python3 -c 'import seccomp' >/dev/null 2>&1 ||
        /usr/bin/python3 -c 'import seccomp' >/dev/null 2>&1
}
# How to install packages: directly as root, through sudo without a password, or not.
as_root=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then as_root="sudo -n"; else as_root="none"; fi
fi

# apt_install PACKAGE: installs a Debian package (refreshing the index once if the first
# try fails); fails quietly where there is no apt-get or no way to root.
apt_install() {
    [ "$as_root" != none ] && command -v apt-get >/dev/null 2>&1 || return 1
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null 2>&1 ||
        { $as_root apt-get update -q >/dev/null 2>&1 &&
            $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$1" >/dev/null 2>&1; }
}

if ! has_python_seccomp; then
    echo "scripts/test.sh: installing python3-seccomp for the differential seccomp test"
    apt_install python3-seccomp || true
    if ! has_python_seccomp; then
        echo "scripts/test.sh: python3-seccomp could not be installed (needs apt-get and root or sudo);" \
            "the differential seccomp test will skip its libseccomp part" >&2
    fi
fi

# The live profile tests (runtime/tests/profiles_live.rs) build and test a Go module
# under the go-dev profile, with a Go where go-dev's PATH looks (/usr/local/go,
# /usr/lib/go, /usr/local/bin, /usr/bin: Debian's golang-go); without one that test
# skips and says so.
has_go() {
    for go in /usr/local/go/bin/go /usr/lib/go/bin/go /usr/local/bin/go /usr/bin/go; do
        [ -x "$go" ] && return 0
    done
    return 1
}
if ! has_go; then
    echo "scripts/test.sh: installing golang-go for the go-dev profile test"
    apt_install golang-go || true
    if ! has_go; then
        echo "scripts/test.sh: golang-go could not be installed (needs apt-get and root or sudo);" \
            "the go-dev profile test will skip" >&2
    fi
fi

# The phantom-mcp end-to-end test (runtime/tests/mcp_e2e.rs) talks to the server through
# the official MCP Python SDK (`mcp` on PyPI), installed into a virtual environment under
# target/; without it that test skips and says so.
mcp_venv=target/mcp-venv
if ! "$mcp_venv/bin/python" -c 'import mcp' >/dev/null 2>&1; then
    echo "scripts/test.sh: installing the MCP Python SDK into $mcp_venv for the phantom-mcp test"
    { python3 -m venv "$mcp_venv" >/dev/null 2>&1 ||
        { apt_install python3-venv && python3 -m venv "$mcp_venv" >/dev/null 2>&1; }; } &&
        "$mcp_venv/bin/pip" install -q mcp >/dev/null 2>&1 || true
    if ! "$mcp_venv/bin/python" -c 'import mcp' >/dev/null 2>&1; then
        echo "scripts/test.sh: the MCP Python SDK could not be installed (python3 -m venv, pip install mcp);" \
            "the phantom-mcp end-to-end test will skip" >&2
    fi
fi

# Unit, snapshot, agreement, robustness and CLI tests. Snapshots are never written
# here: a changed snapshot is a failure to review with `cargo insta review`.
INSTA_UPDATE=no cargo test --workspace --locked

# The binary as shipped (static; against musl where its Rust target and a C compiler
# for it are here, else glibc: scripts/build-release.sh) runs the live exec tests
# again: its C library makes some system calls differently (musl's clone refuses flags
# glibc's takes), and the tests above run this build's debug binary.
if [ "$(uname -s)" = Linux ]; then
    if ! command -v musl-gcc >/dev/null 2>&1 && ! command -v "$(uname -m)-linux-musl-gcc" >/dev/null 2>&1; then
        echo "scripts/test.sh: installing musl-tools for the static release build"
        apt_install musl-tools || true
    fi
    echo "scripts/test.sh: building the release binaries for the live exec tests"
    scripts/build-release.sh --locked >/dev/null
    target_dir=${CARGO_TARGET_DIR:-target}
    case "$target_dir" in /*) ;; *) target_dir="$PWD/$target_dir" ;; esac
    # `--workspace`: the test binary the run above built (with `-p`, cargo would build
    # the crate again with other features, a minute on CI).
    PHANTOM_TEST_BINARY="$target_dir/release-static/phantom" \
        cargo test --workspace --test exec_live --locked
fi
