//! Self-verification: every compiled program is run, in the interpreter, on every
//! syscall number of its architecture and on boundary argument values of every rule,
//! plus foreign-architecture and x32 cases, and must agree with the policy's meaning
//! (`meaning.rs`) on each. A disagreement is a compiler bug; the compile fails.

use std::collections::BTreeSet;

use super::bpf::{Insn, X32_SYSCALL_BIT};
use super::interp::{run, SeccompData};
use super::meaning::{ret_value, verdict};
use crate::policy::{ArgTest, Condition, Syscalls, Test};
use crate::tables::{self, Arch, ArgType};

/// Combinations tried per pair of arguments a syscall's rules test (sampled evenly).
const PAIRS_PER_ARGUMENT_PAIR: usize = 256;
/// Random mixes of boundary values and noise per syscall with conditions.
const RANDOM_PER_SYSCALL: usize = 64;

/// `AUDIT_ARCH_I386`: what `int 0x80` on x86_64 presents.
pub const AUDIT_ARCH_I386: u32 = 0x4000_0003;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurements {
    /// Inputs checked.
    pub cases: usize,
    /// Most instructions executed on any checked input.
    pub worst_path: u32,
    /// Instructions executed to decide each syscall number of the architecture, with
    /// zero arguments: the worst and the mean.
    pub worst_dispatch: u32,
    pub mean_dispatch: f64,
    /// Syscalls of the architecture the kernel's action cache will allow without
    /// running the filter: the program returns `ALLOW` without reading an argument.
    pub cached: usize,
    pub known_syscalls: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the compiled {arch} filter disagrees with the policy on nr {nr} (arch {audit:#x}, args {args:x?}): the program returns {got}, the policy says {want}")]
pub struct Mismatch {
    pub arch: &'static str,
    pub nr: u32,
    pub audit: u32,
    pub args: [u64; 6],
    pub got: String,
    pub want: String,
}

/// Checks `program` against the policy; returns measurements, or the first mismatch.
pub fn verify(syscalls: &Syscalls, arch: Arch, program: &[Insn]) -> Result<Measurements, Mismatch> {
    let mut m = Measurements::default();
    let check = |data: SeccompData, m: &mut Measurements| -> Result<super::interp::Run, Mismatch> {
        let want = ret_value(verdict(syscalls, arch, &data));
        let outcome = run(program, &data);
        let got = match &outcome {
            Ok(r) => r.ret,
            Err(_) => u32::MAX,
        };
        m.cases += 1;
        match outcome {
            Ok(r) if r.ret == want => {
                m.worst_path = m.worst_path.max(r.steps);
                Ok(r)
            }
            other => Err(Mismatch {
                arch: arch.name(),
                nr: data.nr,
                audit: data.arch,
                args: data.args,
                got: match other {
                    Ok(_) => super::bpf::describe_ret(got),
                    Err(e) => format!("an error ({e})"),
                },
                want: super::bpf::describe_ret(want),
            }),
        }
    };
    let native = arch.audit_arch();
    let max_nr = tables::syscalls(arch)
        .iter()
        .map(|s| s.nr)
        .max()
        .unwrap_or(0);

    // Every number of the architecture (and a margin past it), zero arguments.
    let mut total_steps = 0u64;
    for nr in 0..=max_nr + 64 {
        let r = check(
            SeccompData {
                nr,
                arch: native,
                ..Default::default()
            },
            &mut m,
        )?;
        if nr <= max_nr {
            m.worst_dispatch = m.worst_dispatch.max(r.steps);
            total_steps += u64::from(r.steps);
            if tables::syscall_by_nr(arch, nr).is_some() {
                m.known_syscalls += 1;
                if r.ret == super::bpf::RET_ALLOW && !r.read_args {
                    m.cached += 1;
                }
            }
        }
    }
    m.mean_dispatch = total_steps as f64 / f64::from(max_nr + 1);

    // Far numbers: x32, the sign bit, -1.
    let far = [
        0x3fff_ffff,
        X32_SYSCALL_BIT,
        X32_SYSCALL_BIT + 1,
        X32_SYSCALL_BIT | 59,
        X32_SYSCALL_BIT | max_nr,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_fffe,
        u32::MAX,
    ];
    for nr in far {
        check(
            SeccompData {
                nr,
                arch: native,
                ..Default::default()
            },
            &mut m,
        )?;
    }

    // Foreign architectures, including i386 entering through `int 0x80`.
    let others = Arch::ALL
        .iter()
        .map(|a| a.audit_arch())
        .filter(|a| *a != native);
    for audit in others.chain([AUDIT_ARCH_I386, 0, u32::MAX, native ^ 1]) {
        for nr in [0, 1, 11, 59, 231, max_nr] {
            check(
                SeccompData {
                    nr,
                    arch: audit,
                    ..Default::default()
                },
                &mut m,
            )?;
        }
    }

    // Argument boundaries, per syscall with conditions.
    if let Some(rules) = syscalls.arches.get(&arch) {
        for (&nr, list) in &rules.syscalls {
            let mut tests = Vec::new();
            for rule in &list.rules {
                if let Some(c) = &rule.condition {
                    collect_tests(c, &mut tests);
                }
            }
            if tests.is_empty() {
                continue;
            }
            let per_arg = boundary_values(&tests);
            let base = SeccompData {
                nr,
                arch: native,
                ..Default::default()
            };
            let indices: Vec<usize> = per_arg
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_empty())
                .map(|(i, _)| i)
                .collect();
            // One argument at a time.
            for &i in &indices {
                for &v in per_arg.get(i).into_iter().flatten() {
                    let mut data = base;
                    if let Some(slot) = data.args.get_mut(i) {
                        *slot = v;
                    }
                    check(data, &mut m)?;
                }
            }
            // Pairs of arguments, capped.
            for (a, &i) in indices.iter().enumerate() {
                for &j in indices.iter().skip(a + 1) {
                    let vi: Vec<u64> = per_arg
                        .get(i)
                        .map(|s| s.iter().copied().collect())
                        .unwrap_or_default();
                    let vj: Vec<u64> = per_arg
                        .get(j)
                        .map(|s| s.iter().copied().collect())
                        .unwrap_or_default();
                    let stride = ((vi.len() * vj.len()) / PAIRS_PER_ARGUMENT_PAIR).max(1);
                    for (n, (x, y)) in vi
                        .iter()
                        .flat_map(|x| vj.iter().map(move |y| (x, y)))
                        .enumerate()
                    {
                        if n % stride != 0 {
                            continue;
                        }
                        let mut data = base;
                        if let Some(slot) = data.args.get_mut(i) {
                            *slot = *x;
                        }
                        if let Some(slot) = data.args.get_mut(j) {
                            *slot = *y;
                        }
                        check(data, &mut m)?;
                    }
                }
            }
            // Pseudo-random mixes of boundary values and noise.
            let mut rng = SplitMix(u64::from(nr) ^ 0x9e37_79b9_7f4a_7c15);
            for _ in 0..RANDOM_PER_SYSCALL {
                let mut data = base;
                for &i in &indices {
                    let pool: Vec<u64> = per_arg
                        .get(i)
                        .map(|s| s.iter().copied().collect())
                        .unwrap_or_default();
                    let pick = rng.next();
                    let v = if pick.is_multiple_of(4) {
                        rng.next()
                    } else {
                        pool.get((pick as usize / 4) % pool.len().max(1))
                            .copied()
                            .unwrap_or(0)
                    };
                    if let Some(slot) = data.args.get_mut(i) {
                        *slot = v;
                    }
                }
                check(data, &mut m)?;
            }
        }
    }
    Ok(m)
}

fn collect_tests<'a>(condition: &'a Condition, out: &mut Vec<&'a ArgTest>) {
    match condition {
        Condition::Or(parts) | Condition::And(parts) => {
            parts.iter().for_each(|p| collect_tests(p, out))
        }
        Condition::Not(inner) => collect_tests(inner, out),
        Condition::Test(t) => out.push(t),
    }
}

/// Interesting values per argument index: each constant and mask ±1, with the high
/// word set, with the sign bits flipped, sign-extended, and the usual extremes.
fn boundary_values(tests: &[&ArgTest]) -> [BTreeSet<u64>; 6] {
    let mut out: [BTreeSet<u64>; 6] = Default::default();
    for test in tests {
        let Some(set) = out.get_mut(usize::from(test.index)) else {
            continue;
        };
        let mut seeds: Vec<u64> = match &test.test {
            Test::Compare { value, .. } => vec![*value],
            Test::In { values, .. } => values.clone(),
        };
        if let Some(m) = test.mask {
            seeds.push(m);
            seeds.push(!m);
            let extra: Vec<u64> = seeds.iter().map(|v| v | !m).collect();
            seeds.extend(extra);
        }
        for v in seeds {
            for w in [v, v.wrapping_sub(1), v.wrapping_add(1)] {
                set.insert(w);
                set.insert(w | 0xffff_ffff_0000_0000);
                set.insert(w & 0xffff_ffff);
                set.insert(w ^ 0x8000_0000);
                set.insert(w ^ 0x8000_0000_0000_0000);
                if matches!(test.ty, ArgType::Int32 { .. }) {
                    set.insert(i64::from(w as u32 as i32) as u64);
                    set.insert(w.wrapping_add(1 << 32));
                }
            }
        }
        set.extend([
            0,
            1,
            u64::MAX,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            1 << 32,
            0x7fff_ffff_ffff_ffff,
            1 << 63,
        ]);
    }
    out
}

/// A small deterministic generator (SplitMix64), so verification is reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
