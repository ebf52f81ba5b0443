//! Loading a bundle as the runtime does: one hash and one decode of bytes in memory
//! (the read itself is one `read(2)`). Target: well under 100 µs for every stdlib
//! profile. Also measures building and encoding the bundle from a checked policy.
//!
//! Run: `cargo bench -p phantom-compiler --bench bundle_load`

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use phantom_compiler::{bundle, check, io::MemoryFs, stdlib, Input};

fn bench(c: &mut Criterion) {
    let fs = MemoryFs::new();
    for name in stdlib::names() {
        let Ok(checked) = check(&Input::Stdlib(name.to_string()), &fs) else {
            continue;
        };
        let Some(policy) = checked.policy.clone() else {
            continue;
        };
        let Ok(built) = bundle::build(&policy, &checked.sources) else {
            continue;
        };
        let Ok(bytes) = bundle::encode(&built) else {
            continue;
        };
        c.bench_function(&format!("load/{name} ({} bytes)", bytes.len()), |b| {
            b.iter(|| phantom_bundle::decode(black_box(&bytes), None).map(|b| b.mounts.len()))
        });
        c.bench_function(&format!("build+encode/{name}"), |b| {
            b.iter(|| {
                bundle::build(black_box(&policy), &checked.sources)
                    .ok()
                    .and_then(|b| bundle::encode(&b).ok())
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
