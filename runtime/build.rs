//! A fingerprint of the compiler this runtime embeds, for the bundle cache's key
//! (runtime/src/profiles.rs): every source file of the compiler crates and every stdlib
//! profile. A rebuilt `phantom` whose compiler changed in any way never reads a bundle
//! cached by an older one, even at the same version number.

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
