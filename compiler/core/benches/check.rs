//! Parse + compose + check of each stdlib profile (with its base layers and the
//! prelude), as `phantomc check` does it. Target: well under 1 ms for the largest.
//!
//! Run: `cargo bench -p phantom-compiler --bench check`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use phantom_compiler::{check, io::MemoryFs, stdlib, Input};

fn bench_profiles(c: &mut Criterion) {
    let fs = MemoryFs::new();
    let mut group = c.benchmark_group("check");
    for name in stdlib::names() {
        let input = Input::Stdlib(name.to_string());
        group.bench_function(name, |b| {
            b.iter(|| {
                let checked = check(black_box(&input), &fs).map(|c| c.has_errors());
                assert_eq!(checked.ok(), Some(false));
            })
        });
    }
    group.finish();

    let source = stdlib::profile("base").unwrap_or_default();
    c.bench_function("parse/base", |b| {
        b.iter(|| pfp_syntax::parse(black_box(source)))
    });
}

criterion_group!(benches, bench_profiles);
criterion_main!(benches);
