//! Prints the syntax tree and errors of a file: `cargo run -p pfp-syntax --example parse FILE`.
fn main() -> std::io::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/dev/stdin".into());
    let src = std::fs::read_to_string(path)?;
    let parsed = pfp_syntax::parse(&src);
    println!("{:#?}", parsed.file);
    for e in &parsed.errors {
        println!(
            "{:?} {}  [{:?}]",
            e.span,
            e.message(),
            src.get(e.span.range())
        );
    }
    Ok(())
}
