//! UI tests: one policy in `tests/ui/` → one snapshot of its rendered diagnostics.
//!
//! Each file is named after the mistake it makes (`unknown_syscall.pfp`) and holds that
//! mistake, so its snapshot shows exactly how a user sees it. Files a test includes or
//! extends live in `tests/ui/support/`. Review snapshot changes like code
//! (`cargo insta review`).

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::path::Path;

use phantom_compiler::{check, io::NativeFs, render, Input};

#[test]
fn ui() {
    insta::glob!("../ui", "*.pfp", |path| {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        // A relative path keeps snapshots free of the checkout's location.
        let relative = Path::new("ui").join(name);
        let output = match check(&Input::File(relative), &NativeFs) {
            Ok(checked) => {
                let text = render::to_string(&checked.sources, &checked.diagnostics);
                if text.is_empty() {
                    "(no diagnostics)\n".to_string()
                } else {
                    text
                }
            }
            Err(e) => format!("input error: {e}\n"),
        };
        insta::assert_snapshot!(output);
    });
}

/// Every UI file but the `ok_*` ones must report something, and every diagnostic must
/// point at a real place in a file.
#[test]
fn every_negative_case_reports_a_located_diagnostic() {
    let dir = Path::new("ui");
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/ui exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "pfp"))
        .collect();
    entries.sort();
    assert!(entries.len() > 40, "the UI corpus is missing");
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let Ok(checked) = check(&Input::File(path.clone()), &NativeFs) else {
            assert!(
                name.starts_with("input_"),
                "{name}: the root could not be read"
            );
            continue;
        };
        if name.starts_with("ok_") {
            assert!(
                checked.diagnostics.is_empty(),
                "{name}: {:?}",
                checked.diagnostics
            );
            assert!(checked.policy.is_some());
            continue;
        }
        assert!(!checked.diagnostics.is_empty(), "{name}: no diagnostic");
        for d in &checked.diagnostics {
            let file = checked
                .sources
                .get(d.primary.file)
                .expect("diagnostic file exists");
            assert!(
                d.primary.span.end <= file.text.len(),
                "{name}: span out of the file"
            );
        }
    }
}
