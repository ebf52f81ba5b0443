//! Syntax errors: what the lexer and parser report. The compiler core turns them into
//! its diagnostics (with stable codes); this crate knows nothing of rendering.

use crate::span::Span;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub span: Span,
    pub kind: SyntaxErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyntaxErrorKind {
    /// The parser met a token (or the end of the file) where the grammar allows none.
    Unexpected {
        /// `None` at the end of the input.
        found: Option<String>,
        /// What would have been accepted, in the grammar's words, sorted.
        expected: Vec<String>,
    },
    /// A `{`, `[` or `(` without its closing partner.
    Unclosed {
        delimiter: char,
        expected: char,
    },
    InvalidCharacter(char),
    UnterminatedString,
    InvalidEscape(char),
    NestingTooDeep,
}

impl SyntaxError {
    pub fn new(span: Span, kind: SyntaxErrorKind) -> Self {
        SyntaxError { span, kind }
    }

    /// A one-line message: lower case, no final period, the offending input in backticks.
    pub fn message(&self) -> String {
        match &self.kind {
            SyntaxErrorKind::Unexpected { found, expected } => {
                let found = found.as_deref().unwrap_or("the end of the file");
                match expected.split_last() {
                    None => format!("unexpected {found}"),
                    Some((only, [])) => format!("expected {only}, found {found}"),
                    Some((last, init)) => {
                        format!("expected {} or {last}, found {found}", init.join(", "))
                    }
                }
            }
            SyntaxErrorKind::Unclosed { delimiter, .. } => {
                format!("unclosed `{delimiter}`")
            }
            SyntaxErrorKind::InvalidCharacter(c) => {
                format!("invalid character `{}`", c.escape_debug())
            }
            SyntaxErrorKind::UnterminatedString => "unterminated string".into(),
            SyntaxErrorKind::InvalidEscape(c) => {
                format!("invalid escape `\\{}` in string", c.escape_debug())
            }
            SyntaxErrorKind::NestingTooDeep => format!(
                "brackets and `not`s nest deeper than {} levels",
                crate::lexer::MAX_NESTING
            ),
        }
    }
}
