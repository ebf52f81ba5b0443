//! Two things the runtime embeds:
//! - a fingerprint of the compiler, for the bundle cache's key (runtime/src/profiles.rs):
//!   every source file of the compiler crates and every stdlib profile. A rebuilt
//!   `phantom` whose compiler changed in any way never reads a bundle cached by an older
//!   one, even at the same version number;
//! - every stdlib profile compiled in every mode, so that `phantom run --profile NAME`
//!   needs neither the compiler nor a cache for them (the small `phantom` binary has no
//!   compiler: docs/ARCHITECTURE.md). Bundles are reproducible, so these are byte for
//!   byte what `phantomc compile --mode M` makes of the same stdlib.

use std::path::{Path, PathBuf};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dirs = [
        "compiler/syntax/src",
        "compiler/core/src",
        "compiler/bundle/src",
        "stdlib-profiles",
    ];
    let mut files = Vec::new();
    for dir in dirs {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.display());
        collect(&dir, &mut files);
    }
    files.sort();
    // FNV-1a, twice with different offsets: a 128-bit fingerprint without dependencies.
    let mut h = [0xcbf2_9ce4_8422_2325_u64, 0x6c62_272e_07bb_0142_u64];
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            for (i, state) in h.iter_mut().enumerate() {
                *state ^= u64::from(b) ^ (i as u64);
                *state = state.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    };
    feed(env!("CARGO_PKG_VERSION").as_bytes());
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap_or(file);
        feed(rel.to_string_lossy().as_bytes());
        feed(&[0]);
        if let Ok(bytes) = std::fs::read(file) {
            feed(&(bytes.len() as u64).to_le_bytes());
            feed(&bytes);
        }
    }
    println!(
        "cargo:rustc-env=PHANTOM_COMPILER_FINGERPRINT={:016x}{:016x}",
        h[0], h[1]
    );
    stdlib_bundles();
}

/// `$OUT_DIR/stdlib_bundles.rs`: `STDLIB_BUNDLES`, (profile, mode, bundle bytes) for
/// every stdlib profile in every mode, each bundle a file beside it.
fn stdlib_bundles() {
    use phantom_bundle::Mode;
    use phantom_compiler::{io::NativeFs, modes, stdlib, Input};
    let Some(out) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo:warning=no OUT_DIR: stdlib bundles not embedded");
        return;
    };
    let mut table = String::from("pub static STDLIB_BUNDLES: &[(&str, &str, &[u8])] = &[\n");
    for name in stdlib::names() {
        for mode in [Mode::Direct, Mode::Sandbox, Mode::Hardened] {
            let fail = |why: String| -> ! {
                // A stdlib profile that does not compile is a bug of this repository,
                // which the compiler's own tests report first.
                eprintln!("stdlib profile `{name}` ({} mode): {why}", mode.name());
                std::process::exit(1)
            };
            let checked = modes::check(&Input::Stdlib(name.to_string()), &NativeFs, mode)
                .unwrap_or_else(|e| fail(e.to_string()));
            let Some(policy) = checked.policy.as_ref() else {
                fail(format!("{:?}", checked.diagnostics))
            };
            let bytes = phantom_compiler::bundle::build_for(policy, &checked.sources, mode)
                .map_err(|e| format!("{e:?}"))
                .and_then(|b| phantom_compiler::bundle::encode(&b).map_err(|e| format!("{e:?}")))
                .unwrap_or_else(|why| fail(why));
            let file = format!("stdlib-{name}-{}.pfb", mode.name());
            if let Err(e) = std::fs::write(out.join(&file), &bytes) {
                fail(format!("writing {file}: {e}"));
            }
            table.push_str(&format!(
                "    ({name:?}, {:?}, include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{file}\"))),\n",
                mode.name()
            ));
        }
    }
    table.push_str("];\n");
    if let Err(e) = std::fs::write(out.join("stdlib_bundles.rs"), table) {
        eprintln!("writing stdlib_bundles.rs: {e}");
        std::process::exit(1)
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
