#!/usr/bin/env python3
"""Compile a Docker/OCI seccomp profile with libseccomp, for x86_64 only.

Usage: libseccomp_bpf.py PROFILE.json OUT.bpf [--optimize N]
       libseccomp_bpf.py --version

Reads the profile, builds a libseccomp filter for the native x86_64 ABI (no x86 or
x32 sub-architectures, whatever the profile's archMap says), and writes the raw BPF
program (an array of 8-byte `struct sock_filter`) that libseccomp would load.

Rules are selected the way phantomc's importer selects them with no capabilities
(`phantomc import docker-seccomp` without --with-cap):

* a rule whose `includes.caps` is non-empty is left out; `excludes.caps` is ignored
  (no capability is present, so no exclusion applies);
* a rule with `excludes.minKernel` is left out, `includes.minKernel` is kept (a
  current kernel is assumed);
* a rule restricted to architectures (`includes.arches`) is kept only if the list
  names amd64/x86_64; a rule whose `excludes.arches` names amd64/x86_64 is left out;
* a rule with the default action is skipped (runc skips them);
* a name libseccomp does not know on x86_64 is skipped (`resolve_syscall` raises or
  returns a negative number: -1, or a pseudo-syscall of another ABI), as runc skips it.

The comparisons are handed to libseccomp as they are: ops EQ, NE, LT, LE, GT, GE on
the 64-bit value, MASKED_EQ with `value` as the mask and `valueTwo` as the datum.
A rule testing the same argument twice is split into one rule per test, as runc does.

Prints, on stderr, the names it skipped. `--optimize 2` asks libseccomp for its
binary-tree layout (SCMP_FLTATR_CTL_OPTIMIZE); the default is libseccomp's own (1),
which is what runc uses. `--version` prints the version of the libseccomp library the
bindings load (MAJOR.MINOR.MICRO).
"""

import sys

try:
    import seccomp
except ImportError as error:  # pragma: no cover - reported to the caller
    sys.stderr.write(f"libseccomp_bpf.py: cannot import seccomp ({error})\n")
    sys.exit(3)

import json

X86_64_NAMES = {"amd64", "x86_64", "scmp_arch_x86_64"}

OPS = {
    "SCMP_CMP_EQ": seccomp.EQ,
    "SCMP_CMP_NE": seccomp.NE,
    "SCMP_CMP_LT": seccomp.LT,
    "SCMP_CMP_LE": seccomp.LE,
    "SCMP_CMP_GT": seccomp.GT,
    "SCMP_CMP_GE": seccomp.GE,
    "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
}


def action(name, errno_ret, default_errno):
    """A libseccomp action for a profile's action name (and its errnoRet)."""
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(default_errno if errno_ret is None else errno_ret)
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return seccomp.KILL
    if name == "SCMP_ACT_KILL_PROCESS":
        return seccomp.KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return seccomp.TRAP
    if name == "SCMP_ACT_TRACE":
        return seccomp.TRACE(1 if errno_ret is None else errno_ret)
    if name == "SCMP_ACT_LOG":
        return seccomp.LOG
    if name == "SCMP_ACT_NOTIFY":
        return seccomp.NOTIFY
    raise SystemExit(f"libseccomp_bpf.py: unknown action {name}")


def is_x86_64(arch):
    return arch.strip().lower() in X86_64_NAMES


def selected(rule):
    """Whether the rule applies to an x86_64 container with no capabilities."""
    includes = rule.get("includes") or {}
    excludes = rule.get("excludes") or {}
    if includes.get("caps"):
        return False
    if excludes.get("minKernel"):
        return False
    arches = includes.get("arches")
    if arches and not any(is_x86_64(a) for a in arches):
        return False
    if any(is_x86_64(a) for a in excludes.get("arches") or []):
        return False
    return True


def conjunctions(args):
    """The rule's argument tests as libseccomp conjunctions (runc splits repeats)."""
    tests = []
    for arg in args or []:
        op = OPS.get(arg["op"])
        if op is None:
            raise SystemExit(f"libseccomp_bpf.py: unknown operator {arg['op']}")
        value = arg.get("value", 0)
        if arg["op"] == "SCMP_CMP_MASKED_EQ":
            tests.append(seccomp.Arg(arg["index"], op, value, arg.get("valueTwo", 0)))
        else:
            tests.append(seccomp.Arg(arg["index"], op, value))
    indices = [arg["index"] for arg in args or []]
    if len(set(indices)) != len(indices):
        return [[t] for t in tests]
    return [tests]


def library_version():
    """The loaded libseccomp's version, from its `seccomp_version()`."""
    import ctypes

    class Version(ctypes.Structure):
        _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]

    lib = ctypes.CDLL("libseccomp.so.2")
    lib.seccomp_version.restype = ctypes.POINTER(Version)
    v = lib.seccomp_version().contents
    return f"{v.major}.{v.minor}.{v.micro}"


def main(argv):
    if argv[1:] == ["--version"]:
        print(library_version())
        return 0
    optimize = None
    if "--optimize" in argv:
        at = argv.index("--optimize")
        optimize = int(argv[at + 1])
        argv = argv[:at] + argv[at + 2 :]
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        profile = json.load(f)

    # runc: a missing defaultErrnoRet is EPERM, and so is a rule's missing errnoRet.
    default = action(profile["defaultAction"], profile.get("defaultErrnoRet"), 1)
    filt = seccomp.SyscallFilter(default)
    native = seccomp.Arch.X86_64
    if not filt.exist_arch(native):
        filt.add_arch(native)
    # A new filter holds the native architecture only; should a build add others
    # (as Docker does with its archMap), take them out.
    for arch in (seccomp.Arch.X86, seccomp.Arch.X32, seccomp.Arch.AARCH64):
        if filt.exist_arch(arch):
            filt.remove_arch(arch)
    if optimize is not None:
        filt.set_attr(seccomp.Attr.CTL_OPTIMIZE, optimize)

    skipped = []
    for rule in profile.get("syscalls") or []:
        if not selected(rule):
            continue
        act = action(rule["action"], rule.get("errnoRet"), 1)
        if act == default:
            continue
        names = rule.get("names") or ([rule["name"]] if rule.get("name") else [])
        for name in names:
            try:
                nr = seccomp.resolve_syscall(native, name)
            except (ValueError, RuntimeError):
                nr = -1
            if nr < 0:
                # Unknown here (-1), or a pseudo-syscall number of another ABI.
                skipped.append(name)
                continue
            for tests in conjunctions(rule.get("args")):
                filt.add_rule(act, name, *tests)

    if skipped:
        sys.stderr.write("skipped (unknown to libseccomp on x86_64): " + " ".join(skipped) + "\n")
    with open(argv[2], "wb") as out:
        filt.export_bpf(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
