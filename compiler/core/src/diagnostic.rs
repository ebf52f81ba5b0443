//! The compiler's own diagnostic type.
//!
//! Every check produces [`Diagnostic`]s; nothing here knows how they are shown. The
//! `render` module turns them into terminal text (through codespan-reporting) or JSON.
//! Conventions (as in every message of this crate): the message is lower case with no
//! final period and puts the offending input in backticks; advice goes in `help`, not in
//! the message; each kind of mistake has its own stable [`Code`].

use serde::Serialize;

use crate::codes::Code;
use crate::source::FileId;
use pfp_syntax::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// A place in a source file, with what it has to do with the diagnostic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Label {
    pub file: FileId,
    pub span: Span,
    /// May be empty for the primary label, whose meaning is the diagnostic's message.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    /// Facts that explain the error (`note: …`).
    pub notes: Vec<String>,
    /// What to do about it (`help: …`), including "did you mean" suggestions.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic of kind `code` (its severity is the code's), at `span` of `file`.
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            primary: Label {
                file,
                span,
                message: String::new(),
            },
            secondary: Vec::new(),
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn with_label(mut self, message: impl Into<String>) -> Self {
        self.primary.message = message.into();
        self
    }

    pub fn with_secondary(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            file,
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a "did you mean" help if there is a suggestion.
    pub fn with_suggestion(self, suggestion: Option<impl AsRef<str>>) -> Self {
        match suggestion {
            Some(s) => self.with_help(format!("did you mean `{}`?", s.as_ref())),
            None => self,
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Collects diagnostics during a pass; keeps one per (code, place) so a mistake met
/// once per architecture or per layer is reported once.
#[derive(Debug, Default)]
pub struct Diagnostics {
    list: Vec<Diagnostic>,
    seen: std::collections::HashSet<(Code, FileId, Span)>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        let key = (
            diagnostic.code,
            diagnostic.primary.file,
            diagnostic.primary.span,
        );
        if self.seen.insert(key) {
            self.list.push(diagnostic);
        }
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(Diagnostic::is_error)
    }

    /// The diagnostics in a stable order: by file, then position, errors first on ties.
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.list.sort_by(|a, b| {
            (a.primary.file, a.primary.span.start, b.severity, a.code).cmp(&(
                b.primary.file,
                b.primary.span.start,
                a.severity,
                b.code,
            ))
        });
        self.list
    }
}
