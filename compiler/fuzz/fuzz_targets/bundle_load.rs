//! Fuzzes the bundle loader: arbitrary bytes, and arbitrary payloads behind a header
//! whose length and hash are right (so the decoder itself is exercised), must load or
//! be refused cleanly, never panic or allocate without bound.
//!
//! Run: `cargo +nightly fuzz run --fuzz-dir compiler/fuzz bundle_load -- -max_total_time=60`
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = phantom_bundle::decode(data, None);
    // The same bytes as a payload behind a valid header.
    let hash = blake3_like(data);
    let mut bundle = phantom_bundle::MAGIC.to_vec();
    bundle.extend_from_slice(&phantom_bundle::FORMAT_VERSION.to_le_bytes());
    bundle.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    bundle.extend_from_slice(&(data.len() as u64).to_le_bytes());
    bundle.extend_from_slice(&hash);
    bundle.extend_from_slice(data);
    if let Ok(decoded) = phantom_bundle::decode(&bundle, None) {
        // Whatever decodes must encode back to a loadable bundle.
        let again = phantom_bundle::encode(&decoded).expect("a decoded bundle encodes");
        assert_eq!(phantom_bundle::decode(&again, None).as_ref(), Ok(&decoded));
    }
});

fn blake3_like(data: &[u8]) -> [u8; 32] {
    *phantom_bundle::payload_hash(data).as_bytes()
}
