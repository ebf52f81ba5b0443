//! Stage 1: text → tokens.
//!
//! The lexer never fails: text it cannot read becomes an [`Token::Error`] token plus a
//! [`SyntaxError`], and lexing goes on, so the parser still sees the rest of the file.
//! Comments are taken out of the token stream and returned beside it, because only the
//! formatter needs them.

use logos::Logos;

use crate::error::{SyntaxError, SyntaxErrorKind};
use crate::span::Span;

/// Brackets may nest this deep; beyond it the parser would only burn stack on input no
/// human wrote. Conditions need a handful of levels, blocks two.
pub const MAX_NESTING: usize = 64;

#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq, Hash)]
// A byte-order mark is skipped like whitespace (editors on Windows add one).
#[logos(skip r"[ \t\r\n\u{FEFF}]+")]
pub enum Token<'src> {
    #[regex(r"#[^\n]*", allow_greedy = true)]
    Comment(&'src str),
    #[regex(r"[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*")]
    Ident(&'src str),
    #[regex(r"@[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*")]
    SetName(&'src str),
    // `0xff` also matches the quantity pattern (a digit, then letters); a tie is a number.
    #[regex(
        r"-?(0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+|[0-9][0-9_]*(\.[0-9]+)?)",
        priority = 10
    )]
    Number(&'src str),
    #[regex(r"-?[0-9][0-9_]*(\.[0-9]+)?[A-Za-z]+")]
    Quantity(&'src str),
    /// Lexed permissively (bad escapes, a missing closing quote) so that the error is
    /// reported on the string itself; [`lex`] checks it.
    #[regex(r#""([^"\\\n]|\\[^\n])*"?"#)]
    Str(&'src str),
    #[regex(r"(/|\$\{[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*\})([A-Za-z0-9_.+@%:~=/-]|\$\{[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*\})*")]
    Path(&'src str),
    #[token("{")]
    LBrace,
    #[token("}")]
    RBrace,
    #[token("[")]
    LBracket,
    #[token("]")]
    RBracket,
    #[token("(")]
    LParen,
    #[token(")")]
    RParen,
    #[token(",")]
    Comma,
    #[token("=")]
    Assign,
    #[token("&")]
    Amp,
    #[token("|")]
    Pipe,
    #[token("==")]
    Eq,
    #[token("!=")]
    Ne,
    #[token("<")]
    Lt,
    #[token("<=")]
    Le,
    #[token(">")]
    Gt,
    #[token(">=")]
    Ge,
    /// Text no token matches; already reported.
    Error,
}

impl Token<'_> {
    /// How the token is shown in "found …" messages.
    pub fn describe(&self) -> String {
        match self {
            Token::Comment(_) => "a comment".into(),
            Token::Ident(s) => format!("`{s}`"),
            Token::SetName(s) => format!("`{s}`"),
            Token::Number(s) | Token::Quantity(s) => format!("`{s}`"),
            Token::Str(_) => "a string".into(),
            Token::Path(s) => format!("`{s}`"),
            Token::Error => "invalid text".into(),
            punct => format!("`{}`", punct.punct_text()),
        }
    }

    fn punct_text(&self) -> &'static str {
        match self {
            Token::LBrace => "{",
            Token::RBrace => "}",
            Token::LBracket => "[",
            Token::RBracket => "]",
            Token::LParen => "(",
            Token::RParen => ")",
            Token::Comma => ",",
            Token::Assign => "=",
            Token::Amp => "&",
            Token::Pipe => "|",
            Token::Eq => "==",
            Token::Ne => "!=",
            Token::Lt => "<",
            Token::Le => "<=",
            Token::Gt => ">",
            Token::Ge => ">=",
            _ => "",
        }
    }
}

impl std::fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// A comment, for the formatter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comment {
    /// The text after `#`, untrimmed.
    pub text: String,
    pub span: Span,
    /// Nothing but whitespace precedes it on its line.
    pub own_line: bool,
}

/// The result of lexing: tokens without comments, the comments, and lexical errors.
#[derive(Debug, Default)]
pub struct Lexed<'src> {
    pub tokens: Vec<(Token<'src>, Span)>,
    pub comments: Vec<Comment>,
    pub errors: Vec<SyntaxError>,
}

/// Splits `src` into tokens. Never fails; see the module docs.
pub fn lex(src: &str) -> Lexed<'_> {
    let mut out = Lexed::default();
    let mut depth = 0usize;
    let mut too_deep_reported = false;
    let mut nots: Vec<usize> = vec![0];
    let mut pending_nots = 0usize;
    let mut lexer = Token::lexer(src);
    while let Some(result) = lexer.next() {
        let span = Span::from(lexer.span());
        let token = match result {
            Ok(Token::Comment(text)) => {
                let line_start = src
                    .get(..span.start)
                    .and_then(|before| before.rfind('\n'))
                    .map_or(0, |i| i + 1);
                let own_line = src
                    .get(line_start..span.start)
                    .is_some_and(|s| s.trim().is_empty());
                out.comments.push(Comment {
                    text: text.get(1..).unwrap_or_default().to_string(),
                    span,
                    own_line,
                });
                continue;
            }
            Ok(Token::Str(text)) => {
                if let Some(kind) = check_string(text) {
                    out.errors.push(SyntaxError::new(span, kind));
                }
                Token::Str(text)
            }
            Ok(tok) => tok,
            Err(()) => {
                let text = lexer.slice();
                // A run of invalid characters is one error, not one per byte.
                if let Some((Token::Error, last)) = out.tokens.last_mut() {
                    if last.end == span.start {
                        last.end = span.end;
                        if let Some(err) = out.errors.last_mut() {
                            err.span.end = span.end;
                        }
                        continue;
                    }
                }
                out.errors.push(SyntaxError::new(
                    span,
                    SyntaxErrorKind::InvalidCharacter(text.chars().next().unwrap_or('?')),
                ));
                Token::Error
            }
        };
        // The tree nests one level per open bracket and per pending `not` (`not not x`):
        // `nots` holds, per open bracket, the `not`s still waiting for their operand.
        match token {
            Token::LBrace | Token::LBracket | Token::LParen => {
                depth += 1;
                nots.push(0);
            }
            Token::RBrace | Token::RBracket | Token::RParen => {
                depth = depth.saturating_sub(1);
                pending_nots -= nots.pop().unwrap_or(0);
            }
            Token::Ident("not") => {
                if let Some(pending) = nots.last_mut() {
                    *pending += 1;
                    pending_nots += 1;
                }
            }
            _ => {
                if let Some(pending) = nots.last_mut() {
                    pending_nots -= *pending;
                    *pending = 0;
                }
            }
        }
        if nots.is_empty() {
            nots.push(0);
        }
        if depth + pending_nots > MAX_NESTING && !too_deep_reported {
            too_deep_reported = true;
            out.errors
                .push(SyntaxError::new(span, SyntaxErrorKind::NestingTooDeep));
        }
        out.tokens.push((token, span));
    }
    out
}

/// Checks a permissively lexed string literal.
fn check_string(text: &str) -> Option<SyntaxErrorKind> {
    if text.len() < 2 || !text.ends_with('"') || !ends_with_closing_quote(text) {
        return Some(SyntaxErrorKind::UnterminatedString);
    }
    let mut chars = text.chars().skip(1);
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('"' | '\\' | 'n' | 't') => {}
                Some(other) => return Some(SyntaxErrorKind::InvalidEscape(other)),
                None => return Some(SyntaxErrorKind::UnterminatedString),
            }
        }
    }
    None
}

/// Whether the final `"` closes the string rather than being escaped.
fn ends_with_closing_quote(text: &str) -> bool {
    let body = text
        .get(1..text.len().saturating_sub(1))
        .unwrap_or_default();
    let trailing_backslashes = body.chars().rev().take_while(|&c| c == '\\').count();
    trailing_backslashes % 2 == 0 && text.len() >= 2
}

/// The value of a string literal lexed as [`Token::Str`], escapes resolved.
pub fn unescape(text: &str) -> String {
    let inner = text.strip_prefix('"').unwrap_or(text);
    let inner = if ends_with_closing_quote(text) {
        inner.strip_suffix('"').unwrap_or(inner)
    } else {
        inner
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token<'_>> {
        lex(src).tokens.into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn maximal_munch_numbers_and_quantities() {
        assert_eq!(kinds("0x1f"), [Token::Number("0x1f")]);
        assert_eq!(kinds("0x"), [Token::Quantity("0x")]);
        assert_eq!(kinds("0xZZ"), [Token::Quantity("0xZZ")]);
        assert_eq!(kinds("0b101"), [Token::Number("0b101")]);
        assert_eq!(kinds("0x1fg"), [Token::Number("0x1f"), Token::Ident("g")]);
        assert_eq!(
            kinds("512MiB 30s"),
            [Token::Quantity("512MiB"), Token::Quantity("30s")]
        );
        assert_eq!(
            kinds("8000 0755 -1 1.5"),
            [
                Token::Number("8000"),
                Token::Number("0755"),
                Token::Number("-1"),
                Token::Number("1.5")
            ]
        );
    }

    #[test]
    fn identifiers_with_hyphens() {
        assert_eq!(kinds("kill-thread"), [Token::Ident("kill-thread")]);
        assert_eq!(kinds("@file-io"), [Token::SetName("@file-io")]);
        let lexed = lex("a-");
        assert_eq!(lexed.tokens[0].0, Token::Ident("a"));
        assert_eq!(lexed.errors.len(), 1);
    }

    #[test]
    fn paths_and_variables() {
        assert_eq!(kinds("/usr/lib{"), [Token::Path("/usr/lib"), Token::LBrace]);
        assert_eq!(kinds("${workspace}/out"), [Token::Path("${workspace}/out")]);
        assert_eq!(kinds("/"), [Token::Path("/")]);
    }

    #[test]
    fn comments_are_trivia() {
        let lexed = lex("allow read # why\n# own\n");
        assert_eq!(lexed.tokens.len(), 2);
        assert_eq!(lexed.comments.len(), 2);
        assert!(!lexed.comments[0].own_line);
        assert!(lexed.comments[1].own_line);
        assert_eq!(lexed.comments[0].text, " why");
    }

    #[test]
    fn strings() {
        assert!(lex(r#""a\"b""#).errors.is_empty());
        assert_eq!(unescape(r#""a\"b\n""#), "a\"b\n");
        assert_eq!(
            lex(r#""abc"#).errors[0].kind,
            SyntaxErrorKind::UnterminatedString
        );
        assert_eq!(
            lex(r#""a\"#).errors[0].kind,
            SyntaxErrorKind::UnterminatedString
        );
        assert_eq!(
            lex(r#""a\q""#).errors[0].kind,
            SyntaxErrorKind::InvalidEscape('q')
        );
        assert!(lex(r#""a\\""#).errors.is_empty());
    }

    #[test]
    fn invalid_runs_are_one_error() {
        let lexed = lex("allow ~~~ read");
        assert_eq!(lexed.errors.len(), 1);
        assert_eq!(lexed.errors[0].span, Span::new(6, 9));
    }

    #[test]
    fn nesting_limit() {
        let deep = "(".repeat(MAX_NESTING + 1);
        assert_eq!(lex(&deep).errors.len(), 1);
    }
}
