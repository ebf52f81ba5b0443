//! Seccomp back-end: compile time (lowering + verification) of each stdlib profile,
//! per architecture, from an already checked policy.
//!
//! Run: `cargo bench -p phantom-compiler --bench seccomp`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use phantom_compiler::seccomp::{compile, lower::lower};
use phantom_compiler::tables::Arch;
use phantom_compiler::{check, io::MemoryFs, stdlib, Input};

fn bench(c: &mut Criterion) {
    let fs = MemoryFs::new();
    let mut group = c.benchmark_group("seccomp");
    for name in stdlib::names() {
        let Ok(checked) = check(&Input::Stdlib(name.to_string()), &fs) else {
            continue;
        };
        let Some(policy) = checked.policy else {
            continue;
        };
        for arch in Arch::ALL {
            group.bench_function(format!("compile+verify/{name}/{}", arch.name()), |b| {
                b.iter(|| compile(black_box(&policy.syscalls), arch).map(|p| p.insns.len()))
            });
            group.bench_function(format!("lower/{name}/{}", arch.name()), |b| {
                b.iter(|| lower(black_box(&policy.syscalls), arch).map(|p| p.insns.len()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
