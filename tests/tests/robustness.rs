//! Hostile and broken input: the front-end must answer every input with a tree and
//! diagnostics (or a clean error), never a panic, a hang or a stack overflow.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation is a test failure"
)]

use std::path::PathBuf;

use phantom_compiler::{check, io::MemoryFs, Input};
use proptest::prelude::*;

fn check_text(text: &str) -> phantom_compiler::Checked {
    let input = Input::Text {
        name: "input.pfp".into(),
        text: text.into(),
        dir: PathBuf::from("/"),
    };
    check(&input, &MemoryFs::new()).expect("in-memory input is always readable")
}

fn shipped() -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["stdlib-profiles", "policies"] {
        for entry in std::fs::read_dir(root.join(dir))
            .expect("dir exists")
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "pfp") {
                let text = std::fs::read_to_string(&path).expect("shipped files are UTF-8");
                out.push((path.display().to_string(), text));
            }
        }
    }
    out
}

#[test]
fn a_hundred_thousand_nested_braces() {
    let checked = check_text(&"{".repeat(100_000));
    assert!(checked.has_errors());
    assert!(checked
        .diagnostics
        .iter()
        .any(|d| d.code == phantom_compiler::Code::NestingTooDeep));
    let checked = check_text(&format!(
        "syscalls {{ allow read if {}fd == 1 }}",
        "not ".repeat(100_000)
    ));
    assert!(checked
        .diagnostics
        .iter()
        .any(|d| d.code == phantom_compiler::Code::NestingTooDeep));
    let checked = check_text(&format!(
        "syscalls {{ {} }}",
        "arch x86_64 { ".repeat(50_000)
    ));
    assert!(checked.has_errors());
}

#[test]
fn a_one_megabyte_line() {
    // A long condition is a wide tree, not a deep one.
    let condition = vec!["fd == 1"; 100_000].join(" and ");
    let checked = check_text(&format!("syscalls {{ allow read if {condition} }}"));
    assert!(!checked.has_errors(), "{:?}", checked.diagnostics.first());
    let comment = format!("# {}\nnetwork none\n", "x".repeat(1 << 20));
    assert!(!check_text(&comment).has_errors());
    let garbage = "@".repeat(1 << 20);
    assert!(check_text(&garbage).has_errors());
}

#[test]
fn every_truncation_of_every_shipped_file() {
    for (name, text) in shipped() {
        let mut cut = 0;
        while cut < text.len() {
            if let Some(prefix) = text.get(..cut) {
                let _ = check_text(prefix);
                let _ = pfp_syntax::format::format(prefix);
            }
            cut += 11;
        }
        let whole = check(
            &Input::File(PathBuf::from(&name)),
            &phantom_compiler::io::NativeFs,
        );
        assert!(whole.is_ok_and(|c| !c.has_errors()), "{name}");
    }
}

#[test]
fn formatting_shipped_files_is_stable_and_keeps_the_tree() {
    for (name, text) in shipped() {
        let once = pfp_syntax::format::format(&text).expect("shipped files parse");
        assert_eq!(once, text, "{name} is not in canonical style");
    }
    let messy = "policy \"x\" syscalls{default kill allow read,write if fd==1 or(fd==2 and not fd!=3)\
                 arch x86_64{allow arch_prctl}} filesystem{ro /usr optional tmpfs /tmp size 1m mode 0o1777}\
                 process{env{A=\"1\" B=\"\\\"q\\\"\"} pass[TERM]}";
    let once = pfp_syntax::format::format(messy).expect("parses");
    let twice = pfp_syntax::format::format(&once).expect("formatted output parses");
    assert_eq!(once, twice);
    assert_eq!(strip_spans(messy), strip_spans(&once));
}

/// The syntax tree with every span zeroed, for comparing trees of different layouts.
fn strip_spans(text: &str) -> String {
    let tree = format!("{:?}", pfp_syntax::parse(text).file);
    let mut out = String::with_capacity(tree.len());
    let mut rest = tree.as_str();
    // Spans print as `start..end`.
    while let Some(pos) = rest.find("..") {
        let (before, after) = rest.split_at(pos);
        let digits_before = before.trim_end_matches(|c: char| c.is_ascii_digit());
        out.push_str(digits_before);
        out.push('S');
        rest = after
            .get(2..)
            .unwrap_or_default()
            .trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

const WORDS: &[&str] = &[
    "policy",
    "extends",
    "include",
    "syscalls",
    "filesystem",
    "resources",
    "process",
    "network",
    "allow",
    "kill",
    "errno",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    "=",
    "&",
    "|",
    "==",
    "!=",
    "<=",
    "if",
    "and",
    "or",
    "not",
    "in",
    "read",
    "socket",
    "domain",
    "AF_UNIX",
    "0x10",
    "@file-io",
    "set",
    "arch",
    "x86_64",
    "default",
    "ro",
    "/usr",
    "tmpfs",
    "size",
    "64MiB",
    "memory",
    "\"s\"",
    "${workspace}",
    "#c\n",
    "\n",
    "-1",
    "1.5",
    "mode",
    "0o755",
    "optional",
    "from",
    "to",
    "env",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = check_text(&text);
        let _ = pfp_syntax::format::format(&text);
    }

    #[test]
    fn token_soup_never_panics_and_formats_stably(words in proptest::collection::vec(0..WORDS.len(), 0..80)) {
        let text: Vec<&str> = words.iter().filter_map(|&i| WORDS.get(i).copied()).collect();
        let text = text.join(" ");
        let _ = check_text(&text);
        if let Ok(once) = pfp_syntax::format::format(&text) {
            let twice = pfp_syntax::format::format(&once);
            prop_assert_eq!(Some(&once), twice.as_ref().ok(), "formatting is not idempotent");
            prop_assert_eq!(strip_spans(&text), strip_spans(&once), "formatting changed the tree");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Comments and blank lines dropped anywhere between tokens of a real policy:
    /// formatting keeps the tree and is idempotent.
    #[test]
    fn comments_anywhere_format_stably(
        file in 0usize..16,
        inserts in proptest::collection::vec((0usize..10_000, 0usize..4), 1..12),
    ) {
        let files = shipped();
        let Some((_, text)) = files.get(file % files.len().max(1)) else { return Ok(()) };
        let lexed = pfp_syntax::lexer::lex(text);
        let mut cuts: Vec<(usize, &str)> = inserts
            .iter()
            .filter_map(|&(at, kind)| {
                let (_, span) = lexed.tokens.get(at % lexed.tokens.len().max(1))?;
                let piece = ["# note\n", "\n\n", " # tail\n", "\n# own\n\n"].get(kind)?;
                Some((span.end, *piece))
            })
            .collect();
        cuts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        let mut mutated = text.clone();
        for (at, piece) in cuts {
            mutated.insert_str(at, piece);
        }
        let once = pfp_syntax::format::format(&mutated).expect("still parses");
        let twice = pfp_syntax::format::format(&once).expect("formatted output parses");
        prop_assert_eq!(&once, &twice, "not idempotent for:\n{}", mutated);
        prop_assert_eq!(strip_spans(&mutated), strip_spans(&once));
    }
}
