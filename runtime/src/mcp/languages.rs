//! Which profiles the server offers, and how `run_code` turns code into a command.

/// A language `run_code` accepts, and the profile it runs under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language {
    pub name: &'static str,
    pub profile: &'static str,
}

/// The language used where none is served (never, after startup's checks).
pub static FALLBACK: Language = Language {
    name: "python",
    profile: "python-dev",
};

/// Every language the server knows; `--profiles` picks among them.
pub const KNOWN: &[Language] = &[
    Language {
        name: "python",
        profile: "python-dev",
    },
    Language {
        name: "node",
        profile: "node-dev",
    },
    Language {
        name: "go",
        profile: "go-dev",
    },
    Language {
        name: "shell",
        profile: "shell",
    },
];

/// Looks up a `--profiles` item or a `language` argument: a language name
/// (`python`), an alias (`javascript`, `sh`, `bash`, `golang`, `python3`) or the
/// profile's name (`python-dev`).
pub fn lookup(name: &str) -> Option<&'static Language> {
    let name = match name.trim().to_ascii_lowercase().as_str() {
        "python3" | "py" => "python".to_string(),
        "javascript" | "js" | "nodejs" => "node".to_string(),
        "golang" => "go".to_string(),
        "sh" | "bash" => "shell".to_string(),
        other => other.to_string(),
    };
    KNOWN.iter().find(|l| l.name == name || l.profile == name)
}

/// The largest code accepted inline: one argv string may hold at most 128 KiB
/// (the kernel's MAX_ARG_STRLEN), less room for the rest.
pub const MAX_INLINE_CODE: usize = 120 * 1024;

/// How a language's code is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The code is an argument of the command.
    Inline(Vec<String>),
    /// The code is written to `file` (relative to the workspace) and the command
    /// runs it; the file's directory is removed afterwards.
    File { file: String, command: Vec<String> },
}

/// The command for `code` in `language`; `scratch` is a directory name (relative to
/// the workspace) free for this call. Stdin is left to the `stdin` argument.
pub fn plan(language: &Language, code: &str, scratch: &str) -> Plan {
    let inline = |program: &str, flag: &str| {
        Plan::Inline(vec![program.into(), flag.into(), code.to_string()])
    };
    match language.name {
        "python" => inline("python3", "-c"),
        "node" => inline("node", "-e"),
        "shell" => inline("/bin/sh", "-c"),
        // `go run` takes files only.
        _ => {
            let file = format!("{scratch}/main.go");
            Plan::File {
                command: vec!["go".into(), "run".into(), format!("./{file}")],
                file,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases() {
        assert_eq!(lookup("python").map(|l| l.profile), Some("python-dev"));
        assert_eq!(lookup("go-dev").map(|l| l.name), Some("go"));
        assert_eq!(lookup("bash").map(|l| l.name), Some("shell"));
        assert_eq!(lookup("cobol"), None);
    }
}
