#!/usr/bin/env python3
"""Regenerates the checked-in syscall and constant tables of phantom-compiler.

    compiler/core/src/tables/syscalls.txt   (the two number columns)
    compiler/core/src/tables/constants.txt  (the values of the existing names)

from Linux kernel headers or a kernel source tree. Standard library only.

What is derived and what is kept:

* Syscall numbers come from the x86_64 header asm/unistd_64.h and from the
  arm64 asm/unistd.h (asm-generic/unistd.h evaluated the way arm64 builds
  it: through the C preprocessor if there is one, else a small built-in
  preprocessor), or from a kernel tree's syscall tables (--kernel).
  Headers win where they define a number; numbers only in the file (calls
  newer than the headers) are kept and reported.
* Signatures (argument names and types) are not in any header: they are
  kept from syscalls.txt. Syscalls the headers have but the file lacks are
  reported, never written; with --kernel a signature is proposed from the
  kernel's SYSCALL_DEFINEn for review.
* Constant values are read by compiling a small C file per architecture
  with the C library and kernel UAPI headers (kernel UAPI wins over the C
  library). Names are never added or removed, and a value no header
  defines is kept from the file.

Comments, blank lines and the order of lines are kept as they are; number
lines are written in the file's fixed column format, so the output is
deterministic and `--check` passes on an up-to-date file.

Run `gen_tables.py --help` for the options; see README.md next to this file.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES_DIR = REPO_ROOT / "compiler" / "core" / "src" / "tables"
DEFAULT_SYSCALLS = TABLES_DIR / "syscalls.txt"
DEFAULT_CONSTANTS = TABLES_DIR / "constants.txt"

ARCHES = ("x86_64", "aarch64")

# Where Debian/Ubuntu install the x86_64 UAPI syscall header.
X86_HEADER_CANDIDATES = (
    "/usr/include/x86_64-linux-gnu/asm/unistd_64.h",
    "/usr/include/asm/unistd_64.h",
)
# Debian's linux-libc-dev-arm64-cross (arm64 kernel UAPI headers).
ARM64_CROSS_INCLUDE = "/usr/aarch64-linux-gnu/include"

# `__NR_*` macros that are not system calls.
NOT_SYSCALLS = {"syscalls", "arch_specific_syscall"}

U64 = (1 << 64) - 1


VERBOSE = False


def note(msg: str) -> None:
    print(msg, file=sys.stderr)


def name_list(names: List[str], limit: int = 24) -> str:
    names = sorted(names)
    if VERBOSE or len(names) <= limit:
        return " ".join(names)
    return " ".join(names[:limit]) + f" ... ({len(names) - limit} more; --verbose lists all)"


# --------------------------------------------------------------------------
# Small helpers: integer expressions, a minimal C preprocessor
# --------------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<defined>defined\s*\(\s*[A-Za-z_]\w*\s*\)|defined\s+[A-Za-z_]\w*)
      | (?P<num>0[xX][0-9a-fA-F]+|\d+)[uUlL]*
      | (?P<ident>[A-Za-z_]\w*)
      | (?P<op>\|\||&&|==|!=|<=|>=|<<|>>|[-+*/%()<>!~&|^])
    )""",
    re.VERBOSE,
)


class ExprError(ValueError):
    pass


def eval_c_int(expr: str, lookup=None, depth: int = 0, in_if: bool = False) -> int:
    """Evaluates a C integer expression (an `#if` condition or a macro body).

    `lookup(name)` returns the body of macro `name` (a string) or None;
    `lookup(("defined", name))` says whether `name` is defined. An unknown
    identifier counts as 0 in an `#if` (`in_if`), as in C, and is an error
    elsewhere. Only integer literals, identifiers and C operators are
    accepted; the expression is translated to Python and evaluated with no
    builtins.
    """
    if depth > 32:
        raise ExprError(f"macro recursion in `{expr}`")
    out: List[str] = []
    pos = 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN_RE.match(expr, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot evaluate `{expr}`")
        pos = m.end()
        if m.group("defined"):
            name = re.sub(r"defined|[()\s]", "", m.group("defined"))
            out.append("1" if lookup and lookup(("defined", name)) else "0")
        elif m.group("num") is not None:
            num = m.group("num")
            base = 16 if num[:2] in ("0x", "0X") else 8 if num.startswith("0") else 10
            out.append(str(int(num, base)))
        elif m.group("ident"):
            body = lookup(m.group("ident")) if lookup else None
            if isinstance(body, str):
                out.append(f"({eval_c_int(body, lookup, depth + 1, in_if)})")
            elif in_if:
                out.append("0")
            else:
                raise ExprError(f"unknown identifier `{m.group('ident')}` in `{expr}`")
        else:
            op = m.group("op")
            out.append(
                {"||": " or ", "&&": " and ", "!": " not ", "/": "//"}.get(op, op)
            )
    text = " ".join(out)
    if not text.strip():
        raise ExprError("empty expression")
    try:
        value = eval(text, {"__builtins__": {}}, {})  # noqa: S307 - tokens are whitelisted
    except Exception as exc:  # pragma: no cover - malformed header
        raise ExprError(f"cannot evaluate `{expr}`: {exc}") from exc
    return int(value)


def strip_c_comments(text: str) -> str:
    """Removes /* */ and // comments (keeping newlines) and joins continued lines."""
    text = text.replace("\\\n", " ")
    out = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j) or " ")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text[i] in "\"'":
            quote = text[i]
            j = i + 1
            while j < n and text[j] != quote:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class MiniCpp:
    """Just enough of a C preprocessor for the kernel's unistd headers.

    Handles #include <...>/"..." (searched in the include directories),
    #define/#undef of object-like macros (function-like macros such as
    __SYSCALL are recorded as defined), and #if/#ifdef/#ifndef/#elif/#else/
    #endif with `defined`, integer arithmetic and comparisons. Used when no
    C preprocessor is installed; `--no-cpp` forces it.
    """

    def __init__(self, include_dirs: Sequence[Path], predefined: Dict[str, str]):
        self.include_dirs = list(include_dirs)
        self.macros: Dict[str, Optional[str]] = dict(predefined)
        self.order: List[str] = list(predefined)
        self.depth = 0

    def lookup(self, key):
        if isinstance(key, tuple):
            return key[1] in self.macros
        body = self.macros.get(key)
        return body if body else None

    def find(self, name: str, current: Optional[Path]) -> Optional[Path]:
        dirs = ([current.parent] if current else []) + self.include_dirs
        for d in dirs:
            p = d / name
            if p.is_file():
                return p
        return None

    def run_file(self, path: Path) -> None:
        self.depth += 1
        if self.depth > 40:
            raise ExprError("#include nested too deeply")
        text = strip_c_comments(path.read_text(errors="replace"))
        # Each entry: [this branch active, a branch was taken, parent active]
        stack: List[List[bool]] = []
        for raw in text.split("\n"):
            m = re.match(r"\s*#\s*(\w+)\s*(.*?)\s*$", raw)
            if not m:
                continue
            directive, rest = m.group(1), m.group(2)
            active = all(e[0] for e in stack)
            if directive in ("if", "ifdef", "ifndef"):
                if not active:
                    stack.append([False, True, False])
                    continue
                if directive == "ifdef":
                    cond = rest.split()[0] in self.macros
                elif directive == "ifndef":
                    cond = rest.split()[0] not in self.macros
                else:
                    cond = eval_c_int(rest, self.lookup, in_if=True) != 0
                stack.append([cond, cond, True])
            elif directive == "elif":
                if not stack:
                    raise ExprError(f"{path}: #elif without #if")
                top = stack[-1]
                if not top[2] or top[1]:
                    top[0] = False
                else:
                    cond = eval_c_int(rest, self.lookup, in_if=True) != 0
                    top[0] = cond
                    top[1] = cond
            elif directive == "else":
                if not stack:
                    raise ExprError(f"{path}: #else without #if")
                top = stack[-1]
                top[0] = top[2] and not top[1]
                top[1] = True
            elif directive == "endif":
                if not stack:
                    raise ExprError(f"{path}: #endif without #if")
                stack.pop()
            elif not active:
                continue
            elif directive == "define":
                dm = re.match(r"([A-Za-z_]\w*)(\()?\s*(.*)$", rest)
                if not dm:
                    continue
                name = dm.group(1)
                body = None if dm.group(2) else dm.group(3).strip()
                if name not in self.macros:
                    self.order.append(name)
                self.macros[name] = body
            elif directive == "undef":
                self.macros.pop(rest.split()[0], None)
            elif directive == "include":
                im = re.match(r'[<"]([^>"]+)[>"]', rest)
                if not im:
                    raise ExprError(f"{path}: cannot follow #include {rest}")
                target = self.find(im.group(1), path)
                if target is None:
                    raise ExprError(f"{path}: include file {im.group(1)} not found")
                self.run_file(target)
            elif directive == "error":
                raise ExprError(f"{path}: #error {rest}")
        if stack:
            raise ExprError(f"{path}: unterminated #if")
        self.depth -= 1


def find_cpp(explicit: Optional[str]) -> Optional[List[str]]:
    if explicit:
        return explicit.split()
    for cand in (["cpp"], ["cc", "-E"], ["gcc", "-E"], ["clang", "-E"]):
        if shutil.which(cand[0]):
            return cand
    return None


def run_cpp(cpp: List[str], source: str, flags: Sequence[str]) -> str:
    with tempfile.TemporaryDirectory(prefix="gen-tables-") as tmp:
        src = Path(tmp) / "probe.c"
        src.write_text(source)
        cmd = list(cpp) + list(flags) + [str(src)]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C")
        )
        if proc.returncode != 0:
            raise ExprError(f"`{' '.join(cmd)}` failed:\n{proc.stderr.strip()}")
        return proc.stdout


# --------------------------------------------------------------------------
# Syscall numbers
# --------------------------------------------------------------------------


@dataclass
class NumberSource:
    """Syscall numbers of one architecture and where they came from."""

    arch: str
    numbers: Dict[str, int]
    origin: str
    # Entry points (sys_xxx) per name, when known (kernel syscall tables).
    entries: Dict[str, str] = field(default_factory=dict)


def parse_flat_unistd(text: str) -> Dict[str, int]:
    """`#define __NR_name 123` lines (x86_64's asm/unistd_64.h)."""
    out: Dict[str, int] = {}
    for m in re.finditer(r"^\s*#\s*define\s+__NR_(\w+)\s+(\d+)\s*$", text, re.M):
        if m.group(1) not in NOT_SYSCALLS:
            out[m.group(1)] = int(m.group(2))
    return out


def parse_syscall_tbl(path: Path, abis: Iterable[str]) -> Tuple[Dict[str, int], Dict[str, str]]:
    """A kernel syscall table (`<nr> <abi> <name> [<entry point> ...]`)."""
    wanted = set(abis)
    numbers: Dict[str, int] = {}
    entries: Dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) < 3 or fields[1] not in wanted:
            continue
        numbers[fields[2]] = int(fields[0])
        if len(fields) >= 4:
            entries[fields[2]] = fields[3]
    return numbers, entries


def arm64_numbers_from_headers(
    include_dirs: Sequence[Path], entry: str, cpp: Optional[List[str]]
) -> Tuple[Dict[str, int], str]:
    """The `__NR_*` numbers `#include <entry>` defines for arm64.

    With a preprocessor: `-dM` lists the macros, a second pass expands them
    (asm-generic spells some as `__NR3264_*` aliases). Without one, MiniCpp.
    """
    if cpp:
        flags = ["-nostdinc", "-undef", "-D__aarch64__", "-D__LP64__", "-D__linux__"]
        for d in include_dirs:
            flags += ["-I", str(d)]
        defs = run_cpp(cpp, f"#include <{entry}>\n", flags + ["-dM"])
        names = sorted(
            {
                m.group(1)
                for m in re.finditer(r"^#define __NR_(\w+)\b", defs, re.M)
                if m.group(1) not in NOT_SYSCALLS
            }
        )
        src = f"#include <{entry}>\n" + "".join(
            f"GEN_TABLES_NR {n} __NR_{n}\n" for n in names
        )
        expanded = run_cpp(cpp, src, flags + ["-P"])
        out: Dict[str, int] = {}
        for line in expanded.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[0] == "GEN_TABLES_NR":
                out[parts[1]] = eval_c_int(parts[2])
        return out, f"{' '.join(cpp)} -D__aarch64__"
    pp = MiniCpp(include_dirs, {"__aarch64__": "1", "__LP64__": "1", "__linux__": "1"})
    entry_path = pp.find(entry, None)
    if entry_path is None:
        raise ExprError(f"{entry} not found in {', '.join(map(str, include_dirs))}")
    pp.run_file(entry_path)
    out = {}
    for name in pp.order:
        m = re.match(r"__NR_(\w+)$", name)
        if not m or m.group(1) in NOT_SYSCALLS or name not in pp.macros:
            continue
        body = pp.macros[name]
        if body:
            out[m.group(1)] = eval_c_int(body, pp.lookup)
    return out, "built-in preprocessor"


def x86_numbers(args) -> Optional[NumberSource]:
    if args.kernel:
        tbl = Path(args.kernel) / "arch/x86/entry/syscalls/syscall_64.tbl"
        if not tbl.is_file():
            note(f"x86_64: {tbl} not found")
            return None
        numbers, entries = parse_syscall_tbl(tbl, ("common", "64"))
        return NumberSource("x86_64", numbers, str(tbl), entries)
    candidates = [args.x86_header] if args.x86_header else list(X86_HEADER_CANDIDATES)
    for cand in candidates:
        path = Path(cand)
        if path.is_file():
            numbers = parse_flat_unistd(path.read_text())
            if not numbers:
                note(f"x86_64: no __NR_ definitions in {path}")
                return None
            return NumberSource("x86_64", numbers, str(path))
    note(f"x86_64: no asm/unistd_64.h (looked at {', '.join(candidates)})")
    return None


def arm64_numbers(args) -> Optional[NumberSource]:
    cpp = None if args.no_cpp else find_cpp(args.cpp)
    if args.kernel:
        kdir = Path(args.kernel)
        mk = kdir / "arch/arm64/kernel/Makefile.syscalls"
        if mk.is_file():
            # Linux >= 6.11: arm64's unistd_64.h is generated from a table.
            abis = ["common", "64"]
            tbl = kdir / "scripts/syscall.tbl"
            for line in mk.read_text().splitlines():
                m = re.match(r"\s*syscall_abis_64\s*\+?=\s*(.*)$", line)
                if m:
                    abis += m.group(1).replace(",", " ").split()
                m = re.match(r"\s*syscalltbl\s*:?=\s*(\S+)", line)
                if m:
                    tbl = kdir / m.group(1).replace("%", "64")
            if not tbl.is_file():
                note(f"aarch64: {tbl} not found")
                return None
            numbers, entries = parse_syscall_tbl(tbl, abis)
            return NumberSource(
                "aarch64", numbers, f"{tbl} (abis {','.join(abis)})", entries
            )
        incs = [kdir / "arch/arm64/include/uapi", kdir / "include/uapi"]
        if not (incs[0] / "asm/unistd.h").is_file():
            note(f"aarch64: {incs[0]}/asm/unistd.h not found")
            return None
    else:
        inc = Path(args.arm64_include or ARM64_CROSS_INCLUDE)
        if not (inc / "asm/unistd.h").is_file():
            note(f"aarch64: no arm64 headers ({inc}/asm/unistd.h missing)")
            return None
        incs = [inc]
    try:
        numbers, how = arm64_numbers_from_headers(incs, "asm/unistd.h", cpp)
    except (ExprError, OSError) as exc:
        note(f"aarch64: cannot evaluate the headers: {exc}")
        return None
    if not numbers:
        note(f"aarch64: no __NR_ definitions found under {incs[0]}")
        return None
    return NumberSource("aarch64", numbers, f"{incs[0]}/asm/unistd.h via {how}")


# --------------------------------------------------------------------------
# syscalls.txt
# --------------------------------------------------------------------------

_SYSCALL_LINE = re.compile(r"^\s*(\S+)\s+(\S+)\s+([A-Za-z0-9_]+)\s*(\(.*)$")


@dataclass
class SyscallLine:
    nrs: List[Optional[int]]  # per ARCHES
    name: str
    params: str  # "(...)" as in the file


def parse_syscalls_file(text: str) -> List[object]:
    """Lines of syscalls.txt: str for comments/blank lines, SyscallLine else."""
    out: List[object] = []
    for i, line in enumerate(text.split("\n")):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        m = _SYSCALL_LINE.match(line)
        if not m:
            raise SystemExit(f"syscalls.txt:{i + 1}: cannot parse `{line}`")
        nrs = []
        for f in (m.group(1), m.group(2)):
            if f == "-":
                nrs.append(None)
            elif f.isdigit():
                nrs.append(int(f))
            else:
                raise SystemExit(f"syscalls.txt:{i + 1}: bad number `{f}`")
        out.append(SyscallLine(nrs, m.group(3), m.group(4).rstrip()))
    return out


def format_nr(n: Optional[int]) -> str:
    return "-" if n is None else str(n)


def render_syscall_line(e: SyscallLine) -> str:
    return f"{format_nr(e.nrs[0]):>4} {format_nr(e.nrs[1]):>4} {e.name}{e.params}"


def render_syscalls(lines: List[object]) -> str:
    return "\n".join(l if isinstance(l, str) else render_syscall_line(l) for l in lines)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def compress_list(items: List[Tuple[int, str]]) -> str:
    return ", ".join(f"{nr} {name}" for nr, name in sorted(items))


@dataclass
class SyscallReport:
    changed: List[str] = field(default_factory=list)
    kept_newer: Dict[str, List[Tuple[int, str]]] = field(default_factory=dict)
    kept_missing: Dict[str, List[Tuple[int, str]]] = field(default_factory=dict)
    new: Dict[str, Dict[str, int]] = field(default_factory=dict)  # name -> arch -> nr
    problems: List[str] = field(default_factory=list)


def merge_syscalls(lines: List[object], sources: List[NumberSource]) -> SyscallReport:
    report = SyscallReport()
    entries = [l for l in lines if isinstance(l, SyscallLine)]
    for src in sources:
        ai = ARCHES.index(src.arch)
        highest = max(src.numbers.values())
        by_name: Dict[str, List[SyscallLine]] = {}
        for e in entries:
            by_name.setdefault(e.name, []).append(e)
        for name, nr in sorted(src.numbers.items(), key=lambda kv: kv[1]):
            cands = by_name.get(name)
            if not cands:
                report.new.setdefault(name, {})[src.arch] = nr
                continue
            with_nr = [e for e in cands if e.nrs[ai] is not None]
            target = with_nr[0] if with_nr else cands[0]
            if len(with_nr) > 1:
                report.problems.append(
                    f"{src.arch}: {name} has a number on {len(with_nr)} lines"
                )
            old = target.nrs[ai]
            if old != nr:
                report.changed.append(
                    f"{src.arch}: {name}: {format_nr(old)} -> {nr} (from {src.origin})"
                )
                target.nrs[ai] = nr
        for e in entries:
            nr = e.nrs[ai]
            if nr is None or e.name in src.numbers:
                continue
            bucket = report.kept_newer if nr > highest else report.kept_missing
            bucket.setdefault(src.arch, []).append((nr, e.name))
        # The merged column must still map each number to one call.
        seen: Dict[int, str] = {}
        for e in entries:
            nr = e.nrs[ai]
            if nr is None:
                continue
            if nr in seen and seen[nr] != e.name:
                report.problems.append(
                    f"{src.arch}: number {nr} used by both {seen[nr]} and {e.name}"
                )
            seen[nr] = e.name
    return report


# Signature proposals for calls the table lacks (--kernel only).

_SYSCALL_DEFINE = re.compile(r"(?<![A-Za-z0-9_])SYSCALL_DEFINE(\d)\(\s*(\w+)\s*((?:,[^)]*)?)\)")


def split_param(param: str) -> Tuple[str, str]:
    """`const char *pathname` -> (`const char *`, `pathname`), as parse_param()
    in syscalls.rs splits it."""
    m = re.search(r"[A-Za-z0-9_]*$", param)
    start = m.start() if m else len(param)
    return param[:start].strip(), param[start:]


def known_param_type(ty: str) -> bool:
    """Mirror of parse_type() in compiler/core/src/tables/syscalls.rs."""
    if "*" in ty or "[" in ty:
        return True
    base = " ".join(w for w in ty.split() if w not in ("const", "volatile"))
    return base in {
        "int", "signed int", "pid_t", "key_t", "key_serial_t", "mqd_t", "clockid_t",
        "timer_t", "rwf_t", "s32", "__s32", "int32_t",
        "unsigned int", "unsigned", "uid_t", "gid_t", "qid_t", "umode_t", "mode_t",
        "u32", "__u32", "uint32_t",
        "long", "long long", "off_t", "loff_t", "ssize_t", "s64", "__s64", "int64_t",
        "unsigned long", "unsigned long long", "size_t", "aio_context_t", "u64",
        "__u64", "uint64_t", "cap_user_header_t", "cap_user_data_t",
    }


def kernel_syscall_definitions(kdir: Path) -> Dict[str, List[Tuple[str, str]]]:
    """SYSCALL_DEFINEn(name, type, arg, ...) of the kernel tree, as
    name -> [(params, file)], params already in syscalls.txt syntax."""
    defs: Dict[str, List[Tuple[str, str]]] = {}
    skip_top = {"Documentation", "tools", "samples", "scripts", "usr", ".git"}
    for root, dirs, files in os.walk(kdir):
        rel = Path(root).relative_to(kdir)
        parts = rel.parts
        if parts and parts[0] in skip_top:
            dirs[:] = []
            continue
        if len(parts) == 1 and parts[0] == "arch":
            dirs[:] = [d for d in dirs if d in ("x86", "arm64")]
        for fname in files:
            if not fname.endswith(".c"):
                continue
            path = Path(root) / fname
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            if "SYSCALL_DEFINE" not in text:
                continue
            for m in _SYSCALL_DEFINE.finditer(strip_c_comments(text)):
                count, name, rest = int(m.group(1)), m.group(2), m.group(3)
                fields = [f.strip() for f in rest.split(",")[1:]] if rest else []
                if len(fields) != 2 * count:
                    continue
                params = []
                for ty, arg in zip(fields[0::2], fields[1::2]):
                    ty = re.sub(r"\b(__user|__force)\b", " ", ty)
                    ty = " ".join(ty.replace("*", " * ").split()).replace("* *", "**")
                    params.append(f"{ty}{arg}" if ty.endswith("*") else f"{ty} {arg}")
                entry = (", ".join(params), str(path.relative_to(kdir)))
                if entry not in defs.setdefault(name, []):
                    defs[name].append(entry)
    return defs


def propose_new_syscalls(
    report: SyscallReport, sources: List[NumberSource], kdir: Optional[Path]
) -> List[str]:
    out: List[str] = []
    if not report.new:
        return out
    defs = kernel_syscall_definitions(kdir) if kdir else {}
    entry_points: Dict[str, str] = {}
    for src in sources:
        for name, ep in src.entries.items():
            entry_points.setdefault(name, ep)
    for name, per_arch in sorted(report.new.items(), key=lambda kv: min(kv[1].values())):
        nrs = [per_arch.get(a) for a in ARCHES]
        head = f"{format_nr(nrs[0]):>4} {format_nr(nrs[1]):>4} {name}"
        ep = entry_points.get(name, f"sys_{name}")
        key = re.sub(r"^(__x64_|__arm64_)?(__se_)?(sys|compat_sys)_", "", ep)
        cands = defs.get(key, [])
        if not cands:
            why = "no SYSCALL_DEFINE found" if kdir else "pass --kernel DIR to propose one"
            out.append(f"{head}(?)   # signature needed ({why})")
            continue
        for params, path in cands:
            unknown = [
                p for p in params.split(", ") if p and not known_param_type(split_param(p)[0])
            ]
            tail = f"   # from {path}"
            if unknown:
                tail += f"; review types: {'; '.join(unknown)}"
            out.append(f"{head}({params}){tail}")
    return out


def do_syscalls(args) -> int:
    path = Path(args.file)
    original = path.read_text()
    lines = parse_syscalls_file(original)
    sources = [s for s in (x86_numbers(args), arm64_numbers(args)) if s]
    label = path.name
    if not sources:
        note(f"{label}: no kernel headers found for any architecture; nothing to compare (skipped)")
        return 0
    for src in sources:
        note(
            f"{label}: {src.arch} numbers from {src.origin} "
            f"({len(src.numbers)} calls, highest {max(src.numbers.values())})"
        )
    for arch in ARCHES:
        if arch not in {s.arch for s in sources}:
            note(f"{label}: {arch} numbers kept from the file (no headers for {arch})")
    report = merge_syscalls(lines, sources)
    for arch, items in sorted(report.kept_newer.items()):
        note(f"{label}: {arch}: kept {plural(len(items), 'number')} newer than the headers: {compress_list(items)}")
    for arch, items in sorted(report.kept_missing.items()):
        note(
            f"{label}: {arch}: kept {plural(len(items), 'number')} the headers do not define although "
            f"they are below the headers' highest (newer calls in a gap of the table, or "
            f"calls removed upstream): {compress_list(items)}"
        )
    for c in report.changed:
        note(f"{label}: changed {c}")
    proposals = propose_new_syscalls(report, sources, Path(args.kernel) if args.kernel else None)
    if proposals:
        note(
            f"{label}: {plural(len(report.new), 'system call')} of the headers not in the table; "
            "they are NOT written. Review these lines and add them by hand "
            "(types: see the file header):"
        )
        for p in proposals:
            note(f"    {p}")
    for p in report.problems:
        note(f"{label}: PROBLEM: {p}")
    if report.problems:
        return 2
    new_text = render_syscalls(lines)
    status = finish(args, path, original, new_text)
    if status == 0 and args.strict and report.new:
        note(f"{label}: --strict: the table lacks {len(report.new)} system calls of the headers")
        return 1
    return status


# --------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------

# The preludes match compiler/core/src/tables/host_check.rs.
UAPI_PRELUDE = """\
#include <linux/types.h>
#include <linux/fcntl.h>
#include <asm/mman.h>
#include <asm/signal.h>
#include <asm/socket.h>
#include <asm/sockios.h>
#include <asm/ioctls.h>
#include <asm/termbits.h>
#include <asm/resource.h>
#include <asm/ptrace.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/futex.h>
#include <asm/errno.h>
#include <linux/prctl.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/eventpoll.h>
#include <linux/memfd.h>
#include <linux/random.h>
#include <linux/wait.h>
#include <linux/time.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/stat.h>
#include <linux/mman.h>
#include <linux/inotify.h>
#include <linux/signalfd.h>
#include <linux/close_range.h>
#include <linux/sockios.h>
#include <linux/net.h>
"""

LIBC_PRELUDE = """\
#define _GNU_SOURCE
#include <stdio.h>
#include <errno.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/personality.h>
#include <signal.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>
#include <linux/fs.h>
#include <linux/sockios.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/ptrace.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <linux/close_range.h>
#include <sched.h>
#include <linux/sched.h>
"""

# Names whose C library value differs from the kernel's on purpose; the
# kernel UAPI value (probed first) is the one the table holds.
EXPECTED_DISAGREEMENTS = {
    "O_LARGEFILE": "glibc defines it as 0 on 64-bit targets; the table holds the kernel bit",
}

_ASM_LABEL = re.compile(r"^(gen_tables_v(\d+)):")
_ASM_DATA = re.compile(r"^\s*\.(quad|xword|8byte|dword|long|4byte|word|zero|space)\s+(\S+)")


def compiler_arch(cc: List[str]) -> Optional[str]:
    try:
        out = subprocess.run(cc + ["-dumpmachine"], capture_output=True, text=True)
    except OSError:
        return None
    machine = out.stdout.strip()
    if out.returncode != 0 or not machine:
        return None
    first = machine.split("-", 1)[0]
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(first, first)


def parse_asm_values(asm: str) -> Dict[int, int]:
    """Values of the `gen_tables_v<N>` 8-byte objects in compiler output."""
    values: Dict[int, int] = {}
    current: Optional[int] = None
    words: List[int] = []
    for line in asm.splitlines():
        m = _ASM_LABEL.match(line)
        if m:
            current, words = int(m.group(2)), []
            continue
        if current is None:
            continue
        d = _ASM_DATA.match(line)
        if not d:
            if re.match(r"^\S+:", line):  # another label
                current = None
            continue
        kind, arg = d.group(1), d.group(2).rstrip(",")
        if kind in ("zero", "space"):
            if int(arg, 0) >= 8 and not words:
                values[current] = 0
                current = None
            continue
        v = int(arg, 0)
        if kind in ("quad", "xword", "8byte", "dword"):
            values[current] = v & U64
            current = None
        else:  # 32-bit words, little-endian (both targets are)
            words.append(v & 0xFFFFFFFF)
            if len(words) == 2:
                values[current] = words[0] | (words[1] << 32)
                current = None
    return values


def probe_constants(
    cc: List[str], flags: List[str], prelude: str, names: List[str], tag: str
) -> Optional[Dict[str, int]]:
    """Compiles (never runs) `const long long v = (long long)(NAME);` for
    each name and reads the values from the assembly. Names the headers do
    not define, or not as constants, are dropped (their lines are named by
    the compiler's diagnostics); includes that do not exist are dropped too.
    Returns name -> value as an unsigned 64-bit pattern."""
    includes = prelude.splitlines()
    todo = list(names)
    dropped: List[str] = []
    with tempfile.TemporaryDirectory(prefix="gen-tables-") as tmp:
        src = Path(tmp) / "probe.c"
        asm = Path(tmp) / "probe.s"
        for _ in range(25):
            body = [f"const long long gen_tables_v{i} = (long long)({n});" for i, n in enumerate(todo)]
            src.write_text("\n".join(includes + body) + "\n")
            cmd = cc + flags + ["-S", "-O0", "-w", "-o", str(asm), str(src)]
            proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, LC_ALL="C"))
            if proc.returncode == 0:
                got = parse_asm_values(asm.read_text())
                if len(got) != len(todo):
                    note(f"{tag}: could not read {len(todo) - len(got)} values from the assembly")
                if dropped and VERBOSE:
                    note(f"{tag}: not in these headers: {' '.join(sorted(dropped))}")
                return {n: got[i] for i, n in enumerate(todo) if i in got}
            lines_hit = {int(x) for x in re.findall(r"probe\.c:(\d+):", proc.stderr)}
            first = len(includes) + 1
            bad_names = {todo[l - first] for l in lines_hit if first <= l < first + len(todo)}
            if bad_names:
                dropped += sorted(bad_names)
                todo = [n for n in todo if n not in bad_names]
                continue
            bad_includes = {l for l in lines_hit if 1 <= l < first and "#include" in includes[l - 1]}
            if bad_includes:
                for l in sorted(bad_includes):
                    note(f"{tag}: dropping `{includes[l - 1]}` ({' '.join(cc)} cannot use it)")
                    includes[l - 1] = f"/* {includes[l - 1]} */"
                continue
            note(f"{tag}: probe does not build:\n{proc.stderr.strip()[:2000]}")
            return None
    note(f"{tag}: probe does not converge")
    return None


@dataclass
class ArchValues:
    values: Dict[str, int]
    origin: Dict[str, str]  # name -> "UAPI"/"libc"
    conflicts: List[Tuple[str, str]]


def constant_values(args, names: List[str]) -> Dict[str, ArchValues]:
    """Probes the headers available for each architecture."""
    host_cc = args.cc.split()
    host_arch = compiler_arch(host_cc)
    result: Dict[str, ArchValues] = {}
    for arch in ARCHES:
        explicit = getattr(args, f"cc_{arch}")
        cross = f"{arch}-linux-gnu-gcc"
        full_cc: Optional[List[str]] = None
        if explicit:
            full_cc = explicit.split()
        elif host_arch == arch:
            full_cc = host_cc
        elif shutil.which(cross):
            full_cc = [cross]
        if full_cc and compiler_arch(full_cc) != arch:
            note(f"constants: {arch}: {' '.join(full_cc)} does not target {arch}; not used")
            full_cc = None
        probes: List[Tuple[str, List[str], List[str], str]] = []
        if full_cc:
            probes = [
                ("UAPI", full_cc, [], UAPI_PRELUDE),
                ("libc", full_cc, [], LIBC_PRELUDE),
            ]
        elif arch == "aarch64" and host_arch in ("x86_64", "aarch64"):
            # No aarch64 compiler: the host's (LP64, little-endian, like
            # arm64) with only the arm64 UAPI headers, as host_check.rs does.
            inc = Path(args.arm64_include or ARM64_CROSS_INCLUDE)
            if (inc / "asm/unistd.h").is_file():
                probes = [("UAPI", host_cc, ["-nostdinc", f"-I{inc}", "-D__aarch64__"], UAPI_PRELUDE)]
            else:
                note(f"constants: aarch64: no compiler and no arm64 headers in {inc}; values kept from the file")
        else:
            note(f"constants: {arch}: no C compiler for {arch}; values kept from the file")
        if not probes:
            continue
        values: Dict[str, int] = {}
        origin: Dict[str, str] = {}
        conflicts: List[Tuple[str, str]] = []
        for kind, cc, flags, prelude in probes:
            found = probe_constants(cc, flags, prelude, names, f"constants: {arch} {kind}")
            if found is None:
                continue
            for name, v in found.items():
                if name in values:
                    if values[name] != v:
                        conflicts.append((name, f"{name}: {origin[name]} {values[name]:#x}, {kind} {v:#x}"))
                    continue
                values[name] = v
                origin[name] = kind
        if values:
            result[arch] = ArchValues(values, origin, conflicts)
    return result


def parse_value(text: str) -> Optional[int]:
    """Like parse_value() in constants.rs: `-`, decimal, 0x, 0o, leading -."""
    if text == "-":
        return None
    neg = text.startswith("-")
    digits = text[1:] if neg else text
    if digits.startswith("0x"):
        mag = int(digits[2:], 16)
    elif digits.startswith("0o"):
        mag = int(digits[2:], 8)
    else:
        mag = int(digits, 10)
    return (-mag) & U64 if neg else mag


def format_value(value: int, style: str) -> str:
    """`value` (u64 pattern) written like the token `style` (hex/octal/decimal)."""
    signed = value - (1 << 64) if value >> 63 else value
    body = style.lstrip("-")
    if body.startswith("0x"):
        if signed < 0 and len(body) - 2 < 16:
            return f"-{-signed:#x}"
        return f"{value:#x}"
    if body.startswith("0o"):
        return f"-0o{-signed:o}" if signed < 0 else f"0o{value:o}"
    return str(signed)


def render_constant(name: str, x86: str, a64: str) -> str:
    if parse_value(x86) == parse_value(a64):
        return f"{name:<34} {x86}"
    return f"{name:<34} {x86:<12} {a64}"


def do_constants(args) -> int:
    path = Path(args.constants_file)
    original = path.read_text()
    label = path.name
    rows: List[object] = []
    names: List[str] = []
    for i, line in enumerate(original.split("\n")):
        s = line.strip()
        if not s or s.startswith("#"):
            rows.append(line)
            continue
        f = s.split()
        if len(f) == 2:
            f = [f[0], f[1], f[1]]
        if len(f) != 3:
            raise SystemExit(f"{label}:{i + 1}: cannot parse `{line}`")
        rows.append(f)
        names.append(f[0])
    probed = constant_values(args, names)
    if not probed:
        note(f"{label}: no headers/compiler for any architecture; nothing to compare (skipped)")
        return 0
    kept: Dict[str, List[str]] = {a: [] for a in probed}
    changed: List[str] = []
    for row in rows:
        if isinstance(row, str):
            continue
        name = row[0]
        for ai, arch in enumerate(ARCHES):
            if arch not in probed:
                continue
            got = probed[arch].values.get(name)
            old_text = row[1 + ai]
            if got is None:
                if old_text != "-":
                    kept[arch].append(name)
                continue
            if parse_value(old_text) == got:
                continue
            other = row[2 - ai]
            style = old_text if old_text != "-" else (other if other != "-" else "0")
            new_text = format_value(got, style)
            changed.append(f"{arch}: {name}: {old_text} -> {new_text} ({probed[arch].origin[name]} headers)")
            row[1 + ai] = new_text
    for arch, av in probed.items():
        counts: Dict[str, int] = {}
        for n in names:
            if n in av.origin:
                counts[av.origin[n]] = counts.get(av.origin[n], 0) + 1
        how = ", ".join(f"{c} from {k} headers" for k, c in sorted(counts.items(), reverse=True))
        note(f"{label}: {arch}: {how}; {len(kept[arch])} kept from the file")
        if kept[arch]:
            note(f"{label}: {arch}: not defined by these headers (kept): {name_list(kept[arch])}")
            if "libc" not in counts:
                note(
                    f"{label}: {arch}: (only kernel UAPI headers were available for {arch}; C library "
                    f"names such as AF_*, SOCK_*, MSG_* need an {arch} C compiler, see --cc-{arch})"
                )
        for name, c in av.conflicts:
            why = EXPECTED_DISAGREEMENTS.get(name)
            if why:
                note(f"{label}: {arch}: {c}: expected ({why})")
            else:
                note(f"{label}: {arch}: headers disagree, the first is used: {c}")
    for arch in ARCHES:
        if arch not in probed:
            note(f"{label}: {arch}: all values kept from the file (no headers/compiler)")
    for c in changed:
        note(f"{label}: changed {c}")
    new_text = "\n".join(r if isinstance(r, str) else render_constant(*r) for r in rows)
    return finish(args, path, original, new_text)


# --------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------


def finish(args, path: Path, original: str, new_text: str) -> int:
    label = path.name
    if new_text == original:
        note(f"{label}: up to date")
        return 0
    if args.check:
        diff = difflib.unified_diff(
            original.splitlines(keepends=True),
            new_text.splitlines(keepends=True),
            fromfile=f"{path} (current)",
            tofile=f"{path} (regenerated)",
        )
        sys.stdout.writelines(diff)
        note(f"{label}: OUT OF DATE: run {Path(sys.argv[0]).name} without --check to rewrite it")
        return 1
    path.write_text(new_text)
    note(f"{label}: written")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(
        description="Regenerate syscalls.txt numbers and constants.txt values from kernel headers.",
    )
    p.add_argument("--check", action="store_true",
                   help="do not write; print a diff and exit 1 if regenerating would change a file")
    p.add_argument("--only", choices=("syscalls", "constants"),
                   help="handle only one of the two tables")
    p.add_argument("--file", "--syscalls-file", dest="file", default=str(DEFAULT_SYSCALLS),
                   help="the syscall table to read and write (default: %(default)s)")
    p.add_argument("--constants-file", default=str(DEFAULT_CONSTANTS),
                   help="the constant table to read and write (default: %(default)s)")
    p.add_argument("--kernel", metavar="DIR",
                   help="take syscall numbers from a kernel source tree instead of installed "
                        "headers, and propose signatures for new calls from SYSCALL_DEFINEn")
    p.add_argument("--x86-header", metavar="PATH",
                   help="x86_64 asm/unistd_64.h (default: the first of %s)" % ", ".join(X86_HEADER_CANDIDATES))
    p.add_argument("--arm64-include", metavar="DIR",
                   help=f"arm64 UAPI include directory (default: {ARM64_CROSS_INCLUDE})")
    p.add_argument("--cpp", metavar="CMD", help="C preprocessor command (default: cpp, else cc -E)")
    p.add_argument("--no-cpp", action="store_true",
                   help="evaluate the arm64 headers with the built-in preprocessor")
    p.add_argument("--cc", default=os.environ.get("CC", "cc"),
                   help="host C compiler for the constant probes (default: $CC or cc)")
    p.add_argument("--cc-x86_64", dest="cc_x86_64", metavar="CMD",
                   help="C compiler targeting x86_64 (default: host cc if it does, else x86_64-linux-gnu-gcc)")
    p.add_argument("--cc-aarch64", dest="cc_aarch64", metavar="CMD",
                   help="C compiler targeting aarch64 (default: host cc if it does, else aarch64-linux-gnu-gcc, "
                        "else host cc on the arm64 UAPI headers only)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="list every name each probe could not find")
    p.add_argument("--strict", action="store_true",
                   help="also fail if the headers have system calls the table lacks")
    args = p.parse_args(argv)
    global VERBOSE
    VERBOSE = args.verbose
    if args.kernel and not Path(args.kernel).is_dir():
        p.error(f"--kernel {args.kernel}: not a directory")
    status = 0
    if args.only in (None, "syscalls"):
        status = max(status, do_syscalls(args))
    if args.only in (None, "constants"):
        status = max(status, do_constants(args))
    return status


if __name__ == "__main__":
    sys.exit(main())
