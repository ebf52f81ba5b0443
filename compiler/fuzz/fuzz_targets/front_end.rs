//! Fuzzes the whole front-end: lexing, parsing, composition, checking and formatting of
//! arbitrary input must never panic, and formatting must be idempotent.
//!
//! Run: `cd compiler/fuzz && cargo +nightly fuzz run front_end -- -max_total_time=60`
#![no_main]

use libfuzzer_sys::fuzz_target;
use phantom_compiler::{check, io::MemoryFs, Input};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let input = Input::Text { name: "fuzz.pfp".into(), text: text.into(), dir: "/".into() };
    if let Ok(checked) = check(&input, &MemoryFs::new()) {
        let _ = phantom_compiler::render::to_string(&checked.sources, &checked.diagnostics);
    }
    if let Ok(once) = pfp_syntax::format::format(text) {
        let twice = pfp_syntax::format::format(&once);
        assert_eq!(Some(&once), twice.as_ref().ok(), "formatting is not idempotent");
    }
});
