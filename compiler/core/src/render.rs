//! Diagnostics to text: for terminals (through codespan-reporting) and JSON for tools.
//!
//! This is the only module that knows codespan; the rest of the compiler speaks
//! [`Diagnostic`].

use codespan_reporting::diagnostic::{
    Diagnostic as CsDiagnostic, Label as CsLabel, Severity as CsSeverity,
};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::WriteColor, Config};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Severity};
use crate::source::SourceMap;

fn to_codespan(diagnostic: &Diagnostic) -> CsDiagnostic<usize> {
    let severity = match diagnostic.severity {
        Severity::Error => CsSeverity::Error,
        Severity::Warning => CsSeverity::Warning,
    };
    let mut labels = vec![CsLabel::primary(
        diagnostic.primary.file.index(),
        diagnostic.primary.span.range(),
    )
    .with_message(diagnostic.primary.message.clone())];
    for label in &diagnostic.secondary {
        labels.push(
            CsLabel::secondary(label.file.index(), label.span.range())
                .with_message(label.message.clone()),
        );
    }
    let mut notes: Vec<String> = diagnostic
        .notes
        .iter()
        .map(|n| format!("note: {n}"))
        .collect();
    if let Some(help) = &diagnostic.help {
        notes.push(format!("help: {help}"));
    }
    CsDiagnostic::new(severity)
        .with_code(diagnostic.code.as_str())
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(notes)
}

fn files(sources: &SourceMap) -> SimpleFiles<&str, &str> {
    let mut files = SimpleFiles::new();
    for (_, file) in sources.files() {
        files.add(file.name.as_str(), file.text.as_str());
    }
    files
}

/// Writes the diagnostics for a terminal (colours if `out` supports them).
pub fn emit(
    out: &mut dyn WriteColor,
    sources: &SourceMap,
    diagnostics: &[Diagnostic],
) -> std::io::Result<()> {
    let files = files(sources);
    let config = Config::default();
    for diagnostic in diagnostics {
        term::emit_to_write_style(out, &config, &files, &to_codespan(diagnostic))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    Ok(())
}

/// The diagnostics as plain text, as a terminal without colours shows them.
pub fn to_string(sources: &SourceMap, diagnostics: &[Diagnostic]) -> String {
    let files = files(sources);
    let config = Config::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let mut text = String::new();
        match term::emit_to_string(&mut text, &config, &files, &to_codespan(diagnostic)) {
            Ok(()) => out.push_str(&text),
            Err(e) => out.push_str(&format!(
                "{}: {} (rendering failed: {e})\n",
                diagnostic.code, diagnostic.message
            )),
        }
    }
    out
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    file: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    start: usize,
    end: usize,
    /// The label's own text; for the primary label it appears as `label`.
    #[serde(rename(serialize = "label"))]
    message: &'a str,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    #[serde(flatten)]
    primary: JsonLabel<'a>,
    secondary: Vec<JsonLabel<'a>>,
    notes: &'a [String],
    help: Option<&'a str>,
}

/// One JSON object per diagnostic, as a JSON array; positions are 1-based, offsets in bytes.
pub fn to_json(sources: &SourceMap, diagnostics: &[Diagnostic]) -> serde_json::Value {
    let label = |l: &'_ crate::diagnostic::Label| {
        let (line, column) = sources.line_col(l.file, l.span.start);
        let (end_line, end_column) = sources.line_col(l.file, l.span.end);
        serde_json::to_value(JsonLabel {
            file: sources.name(l.file),
            line,
            column,
            end_line,
            end_column,
            start: l.span.start,
            end: l.span.end,
            message: &l.message,
        })
        .unwrap_or(serde_json::Value::Null)
    };
    let list = diagnostics
        .iter()
        .map(|d| {
            let (line, column) = sources.line_col(d.primary.file, d.primary.span.start);
            let (end_line, end_column) = sources.line_col(d.primary.file, d.primary.span.end);
            let mut value = serde_json::to_value(JsonDiagnostic {
                code: d.code.as_str(),
                severity: d.severity,
                message: &d.message,
                primary: JsonLabel {
                    file: sources.name(d.primary.file),
                    line,
                    column,
                    end_line,
                    end_column,
                    start: d.primary.span.start,
                    end: d.primary.span.end,
                    message: &d.primary.message,
                },
                secondary: Vec::new(),
                notes: &d.notes,
                help: d.help.as_deref(),
            })
            .unwrap_or(serde_json::Value::Null);
            if let Some(obj) = value.as_object_mut() {
                obj.insert("secondary".into(), d.secondary.iter().map(label).collect());
            }
            value
        })
        .collect();
    serde_json::Value::Array(list)
}
