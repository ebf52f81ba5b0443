//! Run-time variables of a bundle (`${workspace}`, `${cwd}`, `${home}`), bound once
//! per run and substituted into paths.

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vars {
    pub workspace: Option<String>,
    pub cwd: String,
    pub home: Option<String>,
}

impl Vars {
    /// Substitutes every `${name}` in `text`.
    pub fn resolve(&self, text: &str) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(rest.get(..start).unwrap_or_default());
            let after = rest.get(start + 2..).unwrap_or_default();
            let Some(end) = after.find('}') else {
                return Err(format!("unterminated variable in `{text}`"));
            };
            let name = after.get(..end).unwrap_or_default();
            let value = match name {
                "workspace" => self.workspace.as_deref().ok_or(
                    "`${workspace}` is used by the policy; give a directory with `--workspace DIR`",
                )?,
                "cwd" => self.cwd.as_str(),
                "home" => self
                    .home
                    .as_deref()
                    .ok_or("`${home}` is used by the policy, but HOME is not set")?,
                other => return Err(format!("unknown variable `${{{other}}}` in `{text}`")),
            };
            out.push_str(value.trim_end_matches('/'));
            rest = after.get(end + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        Ok(out)
    }
}
