//! The `.pfp` policy language's syntax: stages 1 and 2 of the compiler pipeline
//! (text → tokens → syntax tree), and the canonical formatter.
//!
//! Parsing never fails outright: [`parse`] always returns a tree, plus every error it
//! recovered from. This crate knows nothing of syscalls, paths or units; meaning is
//! given by `phantom-compiler`.
//!
//! ```
//! let parsed = pfp_syntax::parse("syscalls { allow read, write }");
//! assert!(parsed.errors.is_empty());
//! assert_eq!(parsed.file.items.len(), 1);
//! ```

pub mod ast;
pub mod error;
pub mod format;
pub mod lexer;
mod parser;
pub mod span;

pub use error::{SyntaxError, SyntaxErrorKind};
pub use lexer::Comment;
pub use span::Span;

/// The result of parsing one file.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub file: ast::File,
    /// Lexical and syntax errors, in source order; empty for a valid file.
    pub errors: Vec<SyntaxError>,
    /// Comments, in source order, for the formatter.
    pub comments: Vec<Comment>,
}

/// Parses a `.pfp` source text. Never fails; see [`Parsed::errors`].
pub fn parse(src: &str) -> Parsed {
    let lexed = lexer::lex(src);
    let mut errors = lexed.errors;
    if errors
        .iter()
        .any(|e| e.kind == SyntaxErrorKind::NestingTooDeep)
    {
        // The tree would be as deep as the brackets; refuse before recursing into it.
        return Parsed {
            file: ast::File::default(),
            errors,
            comments: lexed.comments,
        };
    }
    let unclosed = parser::unclosed_delimiters(&lexed.tokens);
    let (file, syntax_errors) = parser::parse_tokens(&lexed.tokens, src);
    if unclosed.is_empty() {
        errors.extend(syntax_errors);
    } else {
        // An unclosed bracket makes the parser complain at the end of the file, where the
        // author can't see the cause; the opening bracket is the useful place.
        errors.extend(unclosed);
        errors.extend(
            syntax_errors
                .into_iter()
                .filter(|e| e.span.start < src.len()),
        );
    }
    // The lexer already reported invalid text; "found invalid text" would say it twice.
    errors.retain(|e| {
        !matches!(&e.kind, SyntaxErrorKind::Unexpected { found: Some(found), .. } if found == "invalid text")
    });
    errors.sort_by_key(|e| (e.span.start, e.span.end));
    errors.dedup();
    Parsed {
        file,
        errors,
        comments: lexed.comments,
    }
}
