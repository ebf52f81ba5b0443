//! Differential tests of the seccomp back-end against two independent compilers, on
//! Docker's default profile (`../shared/corpus/docker-default-seccomp.json`).
//!
//! * ours: the profile imported with `docker_to_pfp` (no capabilities), checked, and
//!   compiled by `seccomp::compile` for x86_64;
//! * libseccomp: the same profile compiled by `tests/tools/libseccomp_bpf.py` (the
//!   Python bindings of the system's libseccomp; runc's layout, and libseccomp's
//!   binary-tree layout as a second program);
//! * seccompiler (rust-vmm, Firecracker's): an equivalent `SeccompFilter` built here
//!   from the profile's ALLOW rules.
//!
//! All programs run in our interpreter on the same >100,000 `seccomp_data` inputs and
//! must return the same value, except for the deliberate differences below, each
//! asserted for what it is and counted:
//!
//! * (a) 32-bit arguments: ours compares an `int` argument on its low 32 bits, as the
//!   kernel reads it; libseccomp compares the 64-bit register. Where they differ, ours
//!   must give what libseccomp gives for the argument truncated to 32 bits (and what
//!   ours gives for it).
//! * (b) x32 and out-of-range numbers (`0x4000_0000..=0xffff_fffe`): ours kills the
//!   process; libseccomp kills the thread (its bad-architecture action); seccompiler
//!   does not look at them and returns its mismatch action, ERRNO(EPERM).
//! * (c) foreign architectures (i386 via `int 0x80`, aarch64, garbage): ours and
//!   seccompiler kill the process, libseccomp kills the thread.
//! * (d) the flavour of kill: libseccomp's `SCMP_ACT_KILL`, its default bad-arch
//!   action, is KILL_THREAD (0); ours is KILL_PROCESS. Counted inside (b) and (c),
//!   where the verdicts agree at the level of "kill".
//! * (e) names the installed libseccomp does not know on x86_64 (2.5.4 predates
//!   `uretprobe`, `listmount`, `mseal`, the `*xattrat` calls, ...): it skips their
//!   ALLOW rules, so they get the default; ours allows them.
//!
//! seccompiler has one match action per filter, so its filter is built with
//! match = ALLOW and mismatch = ERRNO(EPERM) (Docker's default), from the ALLOW rules;
//! syscalls whose Docker verdict is another action are left out of that comparison
//! ([`SECCOMPILER_EXCLUDED`]). seccompiler has no public syscall table, so names are
//! numbered with ours (libseccomp resolves names itself, which checks ours). A
//! condition on an `int` argument uses `SeccompCmpArgLen::Dword`, as a seccompiler
//! user would write it: Dword loads only the low word of the argument and never looks
//! at the high word (`into_*_bpf` in seccompiler 0.5.0 skip the high-word block for
//! Dword), so it compares on 32 bits like ours. 64-bit arguments use Qword.
//!
//! The test also measures instructions executed per syscall number (zero arguments)
//! for each program. With `PHANTOM_BENCH_TABLE=1` it prints them as a markdown table
//! (`scripts/bench-seccomp.sh`).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use phantom_compiler::import::docker::{docker_to_pfp, DockerImportOptions};
use phantom_compiler::seccomp::bpf::{
    describe_ret, Insn, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, X32_SYSCALL_BIT,
};
use phantom_compiler::seccomp::interp::{run, SeccompData};
use phantom_compiler::seccomp::{self, meaning};
use phantom_compiler::tables::{self, Arch, ArgType};
use phantom_compiler::{check, io::MemoryFs, Input, Policy};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};
use serde_json::Value;

/// `AUDIT_ARCH_I386`: what a 32-bit `int 0x80` on x86_64 presents.
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
/// `AUDIT_ARCH_AARCH64`.
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;
/// Docker's default action, ERRNO(EPERM).
const DEFAULT_RET: u32 = RET_ERRNO | 1;
/// libseccomp's default bad-architecture action, `SCMP_ACT_KILL`: KILL_THREAD.
const LIBSECCOMP_BAD_ARCH: u32 = RET_KILL_THREAD;
/// seccompiler's mismatch action here (Docker's default): what x32 numbers get.
const SECCOMPILER_MISMATCH: u32 = DEFAULT_RET;

/// Syscalls left out of the comparison with seccompiler, with why: their Docker
/// verdict is neither ALLOW nor the default, and a seccompiler filter has one match
/// action (ALLOW) and one mismatch action (ERRNO(EPERM)).
const SECCOMPILER_EXCLUDED: &[(&str, &str)] = &[(
    "clone3",
    "ERRNO(ENOSYS) without CAP_SYS_ADMIN, so that libc falls back to clone",
)];

/// Inputs per syscall number 0..=500 with random arguments.
const RANDOM_PER_NR: usize = 120;
/// Random inputs per syscall whose verdict depends on its arguments.
const RANDOM_PER_CONDITIONAL: usize = 5_000;
/// Random numbers near the table, random arguments.
const RANDOM_NEAR: usize = 20_000;
/// Random 32-bit numbers (mostly x32 or nothing), random arguments.
const RANDOM_FAR: usize = 5_000;

// ---------------------------------------------------------------------------------
// The profile and the three compilers.

fn corpus_profile() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/corpus/docker-default-seccomp.json");
    if path.is_file() {
        Some(path)
    } else {
        println!(
            "skipped: Docker's default profile is not at {}",
            path.display()
        );
        None
    }
}

fn our_policy(json: &str) -> Policy {
    let imported = docker_to_pfp(
        json,
        &DockerImportOptions {
            source: Some("docker-default-seccomp.json".into()),
            ..DockerImportOptions::default()
        },
    )
    .expect("Docker's default profile imports");
    let input = Input::Text {
        name: "docker-default.pfp".into(),
        text: imported.text.clone(),
        dir: PathBuf::from("/"),
    };
    let checked = check(&input, &MemoryFs::new()).expect("in memory");
    assert!(
        !checked.has_errors(),
        "{:?}\n{}",
        checked.diagnostics,
        imported.text
    );
    checked.policy.expect("no errors")
}

/// A program under test.
struct Compiled {
    name: String,
    insns: Vec<Insn>,
    kind: Kind,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ours,
    Libseccomp,
    Seccompiler,
}

/// A Python interpreter that can `import seccomp` (Debian's python3-seccomp lives in
/// the system Python's dist-packages, which a pyenv or venv `python3` may not see).
fn python_with_seccomp() -> Result<String, String> {
    let mut candidates: Vec<String> = Vec::new();
    if let Ok(p) = std::env::var("PHANTOM_PYTHON") {
        candidates.push(p);
    }
    candidates.extend(["python3".into(), "/usr/bin/python3".into()]);
    let mut tried = Vec::new();
    for python in candidates {
        let ok = Command::new(&python)
            .args(["-c", "import seccomp"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Ok(python);
        }
        tried.push(python);
    }
    Err(format!(
        "none of {} can `import seccomp` (install python3-seccomp; scripts/test.sh does)",
        tried.join(", ")
    ))
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/libseccomp_bpf.py")
}

/// libseccomp's version, as the script reports it.
fn libseccomp_version(python: &str) -> String {
    Command::new(python)
        .arg(script())
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// libseccomp's program for the profile, and the names it skipped as unknown.
fn libseccomp_program(
    python: &str,
    profile: &Path,
    optimize: Option<u8>,
) -> (Vec<Insn>, Vec<String>) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "docker-default-libseccomp-{}-{}.bpf",
        std::process::id(),
        optimize.unwrap_or(0)
    ));
    let mut command = Command::new(python);
    command.arg(script()).arg(profile).arg(&out);
    if let Some(level) = optimize {
        command.args(["--optimize", &level.to_string()]);
    }
    let output = command.output().expect("python runs");
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(
        output.status.success(),
        "libseccomp_bpf.py failed: {stderr}"
    );
    let bytes = std::fs::read(&out).expect("the script wrote the program");
    let _ = std::fs::remove_file(&out);
    assert!(
        bytes.len().is_multiple_of(8) && !bytes.is_empty(),
        "{} bytes",
        bytes.len()
    );
    let insns = bytes
        .chunks_exact(8)
        .map(|c| Insn::from_bytes(c.try_into().expect("8 bytes")))
        .collect();
    let skipped = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("skipped (unknown to libseccomp on x86_64):"))
        .flat_map(|l| l.split_whitespace().map(str::to_string))
        .collect();
    (insns, skipped)
}

// ---------------------------------------------------------------------------------
// The profile's rules, selected as the importer selects them with no capabilities.

#[derive(Clone, Debug, PartialEq)]
enum JsonAction {
    Allow,
    Errno(u64),
    Other(String),
}

struct JsonRule {
    names: Vec<String>,
    action: JsonAction,
    /// Conjunctions (a rule testing one argument twice is split, as runc splits it).
    conjunctions: Vec<Vec<JsonCmp>>,
}

#[derive(Clone, Copy, Debug)]
struct JsonCmp {
    index: u8,
    op: ProfileOp,
    value: u64,
    value_two: u64,
}

/// The profile's operators (seccompiler's own enum carries the mask in `MaskedEq`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProfileOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    MaskedEq,
}

fn is_x86_64(name: &Value) -> bool {
    name.as_str().is_some_and(|n| {
        matches!(
            n.trim().to_ascii_lowercase().as_str(),
            "amd64" | "x86_64" | "scmp_arch_x86_64"
        )
    })
}

fn non_empty(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

fn action(name: &str, errno_ret: Option<u64>) -> JsonAction {
    match name {
        "SCMP_ACT_ALLOW" => JsonAction::Allow,
        "SCMP_ACT_ERRNO" => JsonAction::Errno(errno_ret.unwrap_or(1)),
        other => JsonAction::Other(other.into()),
    }
}

/// The rules that apply on x86_64 to a container without capabilities and whose
/// action is not the default (runc skips those).
fn selected_rules(profile: &Value) -> Vec<JsonRule> {
    let default = action(
        profile["defaultAction"].as_str().expect("defaultAction"),
        profile["defaultErrnoRet"].as_u64(),
    );
    assert_eq!(default, JsonAction::Errno(1), "Docker's default is EPERM");
    let mut out = Vec::new();
    for rule in profile["syscalls"].as_array().expect("syscalls") {
        let includes = &rule["includes"];
        let excludes = &rule["excludes"];
        if non_empty(&includes["caps"]) || !excludes["minKernel"].is_null() {
            continue;
        }
        if non_empty(&includes["arches"])
            && !includes["arches"]
                .as_array()
                .into_iter()
                .flatten()
                .any(is_x86_64)
        {
            continue;
        }
        if excludes["arches"]
            .as_array()
            .into_iter()
            .flatten()
            .any(is_x86_64)
        {
            continue;
        }
        let action = action(
            rule["action"].as_str().expect("action"),
            rule["errnoRet"].as_u64(),
        );
        if action == default {
            continue;
        }
        let cmps: Vec<JsonCmp> = rule["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| JsonCmp {
                index: u8::try_from(a["index"].as_u64().expect("index")).expect("small"),
                op: match a["op"].as_str().expect("op") {
                    "SCMP_CMP_EQ" => ProfileOp::Eq,
                    "SCMP_CMP_NE" => ProfileOp::Ne,
                    "SCMP_CMP_LT" => ProfileOp::Lt,
                    "SCMP_CMP_LE" => ProfileOp::Le,
                    "SCMP_CMP_GT" => ProfileOp::Gt,
                    "SCMP_CMP_GE" => ProfileOp::Ge,
                    "SCMP_CMP_MASKED_EQ" => ProfileOp::MaskedEq,
                    other => panic!("unknown operator {other}"),
                },
                value: a["value"].as_u64().unwrap_or(0),
                value_two: a["valueTwo"].as_u64().unwrap_or(0),
            })
            .collect();
        let indices: BTreeSet<u8> = cmps.iter().map(|c| c.index).collect();
        let conjunctions = if indices.len() == cmps.len() {
            vec![cmps]
        } else {
            cmps.into_iter().map(|c| vec![c]).collect()
        };
        let names = rule["names"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(rule.get("name"))
            .filter_map(|n| n.as_str().map(str::to_string))
            .collect();
        out.push(JsonRule {
            names,
            action,
            conjunctions,
        });
    }
    out
}

/// A name as seccompiler's users write it: the kernel's name of an x86_64 syscall
/// (no aliases), numbered with our table.
fn x86_64_syscall(name: &str) -> Option<&'static tables::Syscall> {
    tables::syscall(Arch::X86_64, name).filter(|s| s.name == name)
}

/// seccompiler's program for the profile's ALLOW rules, and the syscalls left out.
fn seccompiler_program(rules: &[JsonRule]) -> (Vec<Insn>, BTreeSet<String>) {
    // None: allowed unconditionally (an empty rule chain in seccompiler).
    let mut by_nr: BTreeMap<i64, Option<Vec<SeccompRule>>> = BTreeMap::new();
    let mut excluded = BTreeSet::new();
    for rule in rules {
        for name in &rule.names {
            let Some(syscall) = x86_64_syscall(name) else {
                continue;
            };
            if rule.action != JsonAction::Allow {
                excluded.insert(name.clone());
                continue;
            }
            let slot = by_nr
                .entry(i64::from(syscall.nr))
                .or_insert_with(|| Some(Vec::new()));
            if rule.conjunctions.iter().all(Vec::is_empty) {
                *slot = None;
                continue;
            }
            let Some(list) = slot else { continue };
            for conjunction in &rule.conjunctions {
                let conditions = conjunction
                    .iter()
                    .map(|c| {
                        let len = match syscall.args.get(usize::from(c.index)).map(|a| a.ty) {
                            Some(ArgType::Int32 { .. }) => SeccompCmpArgLen::Dword,
                            _ => SeccompCmpArgLen::Qword,
                        };
                        let (op, value) = match c.op {
                            ProfileOp::Eq => (SeccompCmpOp::Eq, c.value),
                            ProfileOp::Ne => (SeccompCmpOp::Ne, c.value),
                            ProfileOp::Lt => (SeccompCmpOp::Lt, c.value),
                            ProfileOp::Le => (SeccompCmpOp::Le, c.value),
                            ProfileOp::Gt => (SeccompCmpOp::Gt, c.value),
                            ProfileOp::Ge => (SeccompCmpOp::Ge, c.value),
                            // Docker: `value` is the mask, `valueTwo` the datum.
                            ProfileOp::MaskedEq => (SeccompCmpOp::MaskedEq(c.value), c.value_two),
                        };
                        SeccompCondition::new(c.index, len, op, value).expect("valid condition")
                    })
                    .collect();
                list.push(SeccompRule::new(conditions).expect("non-empty rule"));
            }
        }
    }
    // A syscall excluded for its own action is not allowed either.
    for name in &excluded {
        if let Some(s) = x86_64_syscall(name) {
            by_nr.remove(&i64::from(s.nr));
        }
    }
    let rules = by_nr
        .into_iter()
        .map(|(nr, rules)| (nr, rules.unwrap_or_default()))
        .collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Errno(1),
        SeccompAction::Allow,
        TargetArch::x86_64,
    )
    .expect("valid filter");
    let program = BpfProgram::try_from(filter).expect("seccompiler compiles");
    let insns = program
        .iter()
        .map(|f| Insn::new(f.code, f.jt, f.jf, f.k))
        .collect();
    (insns, excluded)
}

// ---------------------------------------------------------------------------------
// Inputs.

/// SplitMix64: small, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An argument value: noise, small numbers, negative ints, values with only the
    /// high word or only the low word, boundaries of the profile's conditions.
    fn arg(&mut self) -> u64 {
        const BOUNDARIES: &[u64] = &[
            37,
            38,
            39,
            40,
            41,
            0,
            8,
            0x2_0000,
            0x2_0008,
            0xffff_ffff,
            0x7e02_0000,
            0x7fff_ffff,
            0x8000_0000,
        ];
        const HIGH: &[u64] = &[0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];
        match self.below(8) {
            0 | 1 => self.next(),
            2 => self.below(64),
            3 => (-(self.below(64) as i64) - 1) as u64,
            4 => self.next() & 0xffff_ffff,
            5 => (HIGH[self.below(HIGH.len() as u64) as usize] << 32) | self.below(64),
            _ => {
                let b = BOUNDARIES[self.below(BOUNDARIES.len() as u64) as usize];
                let high = HIGH[self.below(HIGH.len() as u64) as usize] << 32;
                let b = b.wrapping_add(self.below(3)).wrapping_sub(1) & 0xffff_ffff;
                if self.below(2) == 0 {
                    b
                } else {
                    high | b
                }
            }
        }
    }

    fn args(&mut self) -> [u64; 6] {
        std::array::from_fn(|_| self.arg())
    }
}

fn native(nr: u32, args: [u64; 6]) -> SeccompData {
    SeccompData {
        nr,
        arch: Arch::X86_64.audit_arch(),
        args,
        ..Default::default()
    }
}

fn nr_of(name: &str) -> u32 {
    x86_64_syscall(name).expect("an x86_64 syscall").nr
}

/// High words combined with a boundary value of a 32-bit argument.
const HIGH_WORDS: &[u64] = &[0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

fn cases() -> Vec<SeccompData> {
    let mut rng = Rng(0x5eed_d0c4_e2de_fa17);
    let mut out = Vec::new();

    // Every number 0..=500, zero arguments and random ones.
    for nr in 0..=500 {
        out.push(native(nr, [0; 6]));
        for _ in 0..RANDOM_PER_NR {
            out.push(native(nr, rng.args()));
        }
    }

    // socket(domain): around 38..=40, negative, high words set (0x1_0000_0028).
    let socket = nr_of("socket");
    let mut domains: Vec<u64> = (0..=64).collect();
    domains.extend([
        0x7fff_fffe,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_ffd8, // -40
        0xffff_fffe,
        0xffff_ffff,
    ]);
    for &d in &domains {
        for &h in HIGH_WORDS {
            out.push(native(socket, [(h << 32) | d, 0, 0, 0, 0, 0]));
            let mut args = rng.args();
            args[0] = (h << 32) | d;
            out.push(native(socket, args));
        }
        // As a sign-extended negative int.
        out.push(native(
            socket,
            [i64::from(d as u32 as i32) as u64, 1, 0, 0, 0, 0],
        ));
    }

    // personality(persona): the listed values ±1, with high words.
    let personality = nr_of("personality");
    for v in [
        0u64,
        8,
        0x2_0000,
        0x2_0008,
        0xffff_ffff,
        0x40_0000,
        0x8000_0000,
    ] {
        for d in [v.wrapping_sub(1), v, v + 1] {
            let d = d & 0xffff_ffff;
            for &h in HIGH_WORDS {
                out.push(native(personality, [(h << 32) | d, 0, 0, 0, 0, 0]));
                let mut args = rng.args();
                args[0] = (h << 32) | d;
                out.push(native(personality, args));
            }
        }
    }

    // clone(flags): every single bit, bits inside and outside the mask 0x7e020000,
    // high bits.
    let clone = nr_of("clone");
    const MASK: u64 = 0x7e02_0000;
    let mut flags: Vec<u64> = (0..64).map(|b| 1u64 << b).collect();
    flags.extend([0, MASK, !MASK, u64::MAX, 0x11, 0x3d0f00, 0x0050_0f00]);
    for _ in 0..200 {
        let r = rng.next();
        flags.push(r & !MASK);
        flags.push((r & !MASK) | (1 << (17 + rng.below(15))));
        flags.push(r & 0xffff_ffff & !MASK);
    }
    for &f in &flags {
        for &h in HIGH_WORDS {
            out.push(native(clone, [f | (h << 32), 0, 0, 0, 0, 0]));
            let mut args = rng.args();
            args[0] = f | (h << 32);
            out.push(native(clone, args));
        }
    }

    // Random arguments for each conditional syscall.
    for nr in [socket, personality, clone] {
        for _ in 0..RANDOM_PER_CONDITIONAL {
            out.push(native(nr, rng.args()));
        }
    }

    // Random numbers near the table, and anywhere.
    for _ in 0..RANDOM_NEAR {
        let nr = rng.below(600) as u32;
        out.push(native(nr, rng.args()));
    }
    for _ in 0..RANDOM_FAR {
        let nr = rng.next() as u32;
        out.push(native(nr, rng.args()));
    }

    // x32 numbers and the far ones.
    for nr in 0..=600 {
        out.push(native(nr | X32_SYSCALL_BIT, [0; 6]));
    }
    for nr in [
        0x3fff_ffff,
        0x4000_0000,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xc000_003e,
        0xffff_fffe,
        u32::MAX,
    ] {
        out.push(native(nr, [0; 6]));
        out.push(native(nr, rng.args()));
    }

    // Foreign architectures.
    for arch in [
        AUDIT_ARCH_I386,
        AUDIT_ARCH_AARCH64,
        0,
        u32::MAX,
        Arch::X86_64.audit_arch() ^ 1,
    ] {
        for nr in (0..=500).chain([u32::MAX, X32_SYSCALL_BIT | 1]) {
            out.push(SeccompData {
                nr,
                arch,
                args: [0; 6],
                ..Default::default()
            });
        }
    }
    out
}

/// `data` with every 32-bit argument of its syscall cut to its low word, as the
/// kernel reads it.
fn truncated(data: &SeccompData) -> SeccompData {
    let mut t = *data;
    if let Some(syscall) = tables::syscall_by_nr(Arch::X86_64, data.nr) {
        for (i, arg) in syscall.args.iter().enumerate() {
            if let (ArgType::Int32 { .. }, Some(slot)) = (arg.ty, t.args.get_mut(i)) {
                *slot &= 0xffff_ffff;
            }
        }
    }
    t
}

fn is_kill(ret: u32) -> bool {
    matches!(ret & 0xffff_0000, RET_KILL_PROCESS | RET_KILL_THREAD)
}

// ---------------------------------------------------------------------------------
// The comparison.

/// How one other compiler compared with ours.
#[derive(Debug, Default)]
struct Tally {
    compared: usize,
    identical: usize,
    /// (a) an `int` argument with high bits: ours is the truncated value's verdict.
    wide_int: usize,
    /// (b) x32 and out-of-range numbers.
    x32: usize,
    /// (c) foreign architectures.
    foreign: usize,
    /// (d) both kill, in different flavours (inside (b) and (c)).
    kill_flavour: usize,
    /// (e) names the other compiler does not know.
    unknown_name: usize,
    /// Left out of this comparison.
    excluded: usize,
}

/// Instructions executed per syscall number.
#[derive(Debug)]
struct Steps {
    len: usize,
    worst: u32,
    mean: f64,
    worst_any: u32,
}

fn steps(insns: &[Insn], worst_any: u32) -> Steps {
    let max_nr = tables::syscalls(Arch::X86_64)
        .iter()
        .map(|s| s.nr)
        .max()
        .expect("a table");
    let mut total = 0u64;
    let mut worst = 0;
    for nr in 0..=max_nr {
        let r = run(insns, &native(nr, [0; 6])).expect("runs");
        total += u64::from(r.steps);
        worst = worst.max(r.steps);
    }
    Steps {
        len: insns.len(),
        worst,
        mean: total as f64 / f64::from(max_nr + 1),
        worst_any,
    }
}

#[test]
fn docker_default_agrees_with_libseccomp_and_seccompiler() {
    let Some(profile_path) = corpus_profile() else {
        return;
    };
    let json = std::fs::read_to_string(&profile_path).expect("readable");
    let profile: Value = serde_json::from_str(&json).expect("JSON");

    // Ours.
    let policy = our_policy(&json);
    let program = seccomp::compile(&policy.syscalls, Arch::X86_64).expect("compiles");
    let mut compilers = vec![Compiled {
        name: "phantomc".into(),
        insns: program.insns.clone(),
        kind: Kind::Ours,
    }];

    // libseccomp, if its Python bindings are there.
    let mut libseccomp_unknown: BTreeMap<u32, String> = BTreeMap::new();
    let mut version = String::new();
    match python_with_seccomp() {
        Ok(python) => {
            version = libseccomp_version(&python);
            let (insns, skipped) = libseccomp_program(&python, &profile_path, None);
            for name in &skipped {
                if let Some(s) = x86_64_syscall(name) {
                    libseccomp_unknown.insert(s.nr, name.clone());
                }
            }
            compilers.push(Compiled {
                name: format!("libseccomp {version} (default)"),
                insns,
                kind: Kind::Libseccomp,
            });
            let (tree, _) = libseccomp_program(&python, &profile_path, Some(2));
            compilers.push(Compiled {
                name: format!("libseccomp {version} (binary tree)"),
                insns: tree,
                kind: Kind::Libseccomp,
            });
        }
        Err(why) => println!("skipped the libseccomp comparison: {why}"),
    }

    // seccompiler.
    let rules = selected_rules(&profile);
    let (insns, excluded) = seccompiler_program(&rules);
    let expected: BTreeSet<String> = SECCOMPILER_EXCLUDED
        .iter()
        .map(|(n, _)| (*n).to_string())
        .collect();
    assert_eq!(
        excluded, expected,
        "syscalls whose Docker verdict is neither ALLOW nor the default"
    );
    let excluded_nrs: BTreeSet<u32> = excluded.iter().map(|n| nr_of(n)).collect();
    compilers.push(Compiled {
        name: "seccompiler 0.5.0".into(),
        insns,
        kind: Kind::Seccompiler,
    });

    // Every program runs in our interpreter (an instruction it lacks is an error).
    for c in &compilers {
        if let Err(e) = run(&c.insns, &native(0, [0; 6])) {
            panic!("the interpreter cannot run {}'s program: {e}", c.name);
        }
    }

    let cases = cases();
    assert!(cases.len() >= 100_000, "{} cases", cases.len());
    let native_arch = Arch::X86_64.audit_arch();
    let mut tallies: Vec<Tally> = compilers.iter().map(|_| Tally::default()).collect();
    let mut worst_any: Vec<u32> = vec![0; compilers.len()];
    let mut failures: Vec<String> = Vec::new();
    let mut fail = |msg: String| {
        if failures.len() < 40 {
            failures.push(msg);
        }
    };
    // Per syscall and pair of verdicts (for the first libseccomp program): how many
    // cases, and the first one.
    let mut wide_examples: BTreeMap<(&str, u32, u32), (usize, String)> = BTreeMap::new();
    for data in &cases {
        let runs: Vec<_> = compilers
            .iter()
            .map(|c| {
                run(&c.insns, data)
                    .unwrap_or_else(|e| panic!("{} on {data:x?}: interpreter error {e}", c.name))
            })
            .collect();
        for (w, r) in worst_any.iter_mut().zip(&runs) {
            *w = (*w).max(r.steps);
        }
        let ours = runs[0].ret;
        // Ours against the policy's meaning, and against the truncated arguments.
        let want = meaning::ret_value(meaning::verdict(&policy.syscalls, Arch::X86_64, data));
        if ours != want {
            fail(format!(
                "ours on {data:x?}: {} but the policy means {}",
                describe_ret(ours),
                describe_ret(want)
            ));
        }
        let foreign = data.arch != native_arch;
        let x32 = !foreign && data.nr >= X32_SYSCALL_BIT && data.nr != u32::MAX;
        let trunc = truncated(data);
        if !foreign && !x32 {
            let ours_t = run(&compilers[0].insns, &trunc).expect("runs").ret;
            if ours_t != ours {
                fail(format!(
                    "ours reads a high word of a 32-bit argument: {data:x?} gives {}, truncated {}",
                    describe_ret(ours),
                    describe_ret(ours_t)
                ));
            }
        }
        if foreign && ours != RET_KILL_PROCESS {
            fail(format!("ours on foreign {data:x?}: {}", describe_ret(ours)));
        }
        if x32 && ours != RET_KILL_PROCESS {
            fail(format!("ours on x32 {data:x?}: {}", describe_ret(ours)));
        }

        for (i, c) in compilers.iter().enumerate().skip(1) {
            let other = runs[i].ret;
            let t = &mut tallies[i];
            if c.kind == Kind::Seccompiler && excluded_nrs.contains(&data.nr) && !foreign {
                t.excluded += 1;
                continue;
            }
            t.compared += 1;
            if other == ours {
                t.identical += 1;
                continue;
            }
            let what = |why: &str| {
                format!(
                    "{} on {data:x?}: {} vs ours {} ({why})",
                    c.name,
                    describe_ret(other),
                    describe_ret(ours)
                )
            };
            if is_kill(other) && is_kill(ours) {
                t.kill_flavour += 1;
            }
            if foreign {
                // (c): libseccomp's bad-arch action; seccompiler kills the process.
                let expect = match c.kind {
                    Kind::Libseccomp => LIBSECCOMP_BAD_ARCH,
                    _ => RET_KILL_PROCESS,
                };
                if other == expect {
                    t.foreign += 1;
                } else {
                    fail(what("foreign architecture"));
                }
            } else if x32 {
                // (b): libseccomp kills (the thread); seccompiler lets the number fall
                // through its search to the mismatch action.
                let expect = match c.kind {
                    Kind::Libseccomp => LIBSECCOMP_BAD_ARCH,
                    _ => SECCOMPILER_MISMATCH,
                };
                if other == expect {
                    t.x32 += 1;
                } else {
                    fail(what("x32 or out-of-range number"));
                }
            } else if c.kind == Kind::Libseccomp && libseccomp_unknown.contains_key(&data.nr) {
                // (e): libseccomp skipped the name, the number gets the default.
                if other == DEFAULT_RET && ours == RET_ALLOW {
                    t.unknown_name += 1;
                } else {
                    fail(what("a name libseccomp does not know"));
                }
            } else if c.kind == Kind::Libseccomp {
                // (a): libseccomp compares the whole register; the kernel reads the
                // low word of an int, and so does ours.
                let other_t = run(&c.insns, &trunc).expect("runs").ret;
                if trunc != *data && other_t == ours {
                    t.wide_int += 1;
                    let name = tables::syscall_by_nr(Arch::X86_64, data.nr).map_or("?", |s| s.name);
                    if i == 1 {
                        let slot = wide_examples.entry((name, other, ours)).or_insert_with(|| {
                            let example = format!(
                                "{name}({:#x}, …): libseccomp {}, ours {} (libseccomp's verdict for {:#x})",
                                data.args[0],
                                describe_ret(other),
                                describe_ret(ours),
                                trunc.args[0]
                            );
                            (0, example)
                        });
                        slot.0 += 1;
                    }
                } else {
                    fail(what("not explained by 32-bit arguments"));
                }
            } else {
                fail(what("seccompiler must agree on native numbers"));
            }
        }
    }

    // Instruction counts.
    let stats: Vec<Steps> = compilers
        .iter()
        .zip(&worst_any)
        .map(|(c, w)| steps(&c.insns, *w))
        .collect();
    // Ours measures itself the same way.
    assert_eq!(stats[0].worst, program.measurements.worst_dispatch);
    assert!((stats[0].mean - program.measurements.mean_dispatch).abs() < 1e-9);

    let wide_examples: Vec<String> = wide_examples
        .into_values()
        .map(|(n, example)| format!("{n} cases like {example}"))
        .collect();
    print_summary(&compilers, &tallies, &stats, cases.len(), &wide_examples);
    if !libseccomp_unknown.is_empty() {
        println!(
            "(e) names libseccomp {version} does not know on x86_64, allowed by ours: {}",
            libseccomp_unknown
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for (name, why) in SECCOMPILER_EXCLUDED {
        println!("left out of the seccompiler comparison: {name}: {why}");
    }
    if std::env::var_os("PHANTOM_BENCH_TABLE").is_some_and(|v| v == "1") {
        print_bench_table(&compilers, &stats);
    }

    assert!(
        failures.is_empty(),
        "{} unexplained differences (first ones):\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The deliberate differences are there, and only where expected.
    for (c, t) in compilers.iter().zip(&tallies).skip(1) {
        match c.kind {
            Kind::Libseccomp => {
                assert!(t.wide_int > 0, "{}: no 32-bit argument case", c.name);
                assert!(t.x32 > 0 && t.foreign > 0, "{}: {t:?}", c.name);
                assert_eq!(t.kill_flavour, t.x32 + t.foreign, "{}", c.name);
            }
            Kind::Seccompiler => {
                assert_eq!(t.wide_int, 0);
                assert!(t.x32 > 0 && t.excluded > 0, "{}: {t:?}", c.name);
                assert_eq!(t.foreign, 0, "seccompiler kills foreign arches like ours");
            }
            Kind::Ours => {}
        }
    }
}

fn print_summary(
    compilers: &[Compiled],
    tallies: &[Tally],
    stats: &[Steps],
    cases: usize,
    wide_examples: &[String],
) {
    println!("\ndifferential test on Docker's default profile, x86_64: {cases} inputs");
    println!(
        "{:<32} {:>8} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>9}",
        "compared with ours",
        "cases",
        "identical",
        "(a) int32",
        "(b) x32",
        "(c) arch",
        "(d) kill",
        "(e) name",
        "excluded"
    );
    for (c, t) in compilers.iter().zip(tallies).skip(1) {
        println!(
            "{:<32} {:>8} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>9}",
            c.name,
            t.compared,
            t.identical,
            t.wide_int,
            t.x32,
            t.foreign,
            t.kill_flavour,
            t.unknown_name,
            t.excluded
        );
    }
    println!(
        "(a) an int argument with high bits set: libseccomp compares 64 bits, ours the low 32\n\
         (b) x32 or out-of-range number: ours KILL_PROCESS, libseccomp KILL_THREAD, seccompiler ERRNO(EPERM)\n\
         (c) foreign architecture: ours KILL_PROCESS, libseccomp KILL_THREAD\n\
         (d) both kill, as a thread vs the process (within (b) and (c))\n\
         (e) a name libseccomp does not know: it gives the default, ours ALLOW\n\
         excluded: syscalls whose Docker verdict seccompiler cannot express in this filter"
    );
    for e in wide_examples {
        println!("  (a) {e}");
    }
    println!(
        "\n{:<32} {:>8} {:>14} {:>14} {:>16}",
        "program", "length", "worst per nr", "mean per nr", "worst any input"
    );
    for (c, s) in compilers.iter().zip(stats) {
        println!(
            "{:<32} {:>8} {:>14} {:>14.1} {:>16}",
            c.name, s.len, s.worst, s.mean, s.worst_any
        );
    }
}

fn print_bench_table(compilers: &[Compiled], stats: &[Steps]) {
    let max_nr = tables::syscalls(Arch::X86_64)
        .iter()
        .map(|s| s.nr)
        .max()
        .unwrap_or(0);
    println!("\n<!-- bench-seccomp: Docker's default profile, x86_64, syscall numbers 0..={max_nr} with zero arguments -->");
    println!("| compiler | program length | worst instructions per syscall | mean instructions per syscall | worst on any tested input |");
    println!("|---|---:|---:|---:|---:|");
    for (c, s) in compilers.iter().zip(stats) {
        println!(
            "| {} | {} | {} | {:.1} | {} |",
            c.name, s.len, s.worst, s.mean, s.worst_any
        );
    }
}
