//! The MCP tools, on rmcp's tool router. Each handler checks its arguments (a bad
//! one is a JSON-RPC invalid-params error), does its work, and returns a result
//! with structured JSON and a readable text; a run that fails to start is a tool
//! error (`isError`), never a failure of the server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{tool, tool_handler, tool_router, ErrorData, ServerHandler};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use super::languages::{self, Language, Plan};
use super::runner::{self, RunError, RunRequest, RunResult, RunnerConfig};
use super::workspace::{self, WorkspaceError, Workspaces};
use super::{log, Level};

/// The limits of every call.
#[derive(Debug, Clone)]
pub struct Limits {
    pub default_timeout: Duration,
    pub max_timeout: Duration,
    pub max_file_bytes: u64,
    pub max_stdin_bytes: usize,
    pub max_list_entries: usize,
}

/// Everything a server serves.
#[derive(Debug)]
pub struct Settings {
    pub runner: RunnerConfig,
    pub languages: Vec<&'static Language>,
    pub limits: Limits,
    pub workspaces: Arc<Workspaces>,
    pub max_concurrent: usize,
    /// Said in the server's instructions: how runs start (cold until pools exist).
    pub start_mode: String,
}

#[derive(Debug)]
struct Inner {
    settings: Settings,
    slots: Semaphore,
}

/// The phantom-mcp server.
#[derive(Debug, Clone)]
pub struct PhantomServer {
    inner: Arc<Inner>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunCodeArgs {
    /// One of the served languages (list_profiles): python, node, go, shell.
    pub language: String,
    /// The program's source.
    pub code: String,
    /// Text given to the program's standard input.
    pub stdin: Option<String>,
    /// Wall-clock limit in seconds (default 30, at most the server's ceiling).
    pub timeout_s: Option<f64>,
    /// A workspace from create_workspace to run in (mounted at /workspace);
    /// default: a fresh empty one, removed after the call.
    pub workspace: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExecArgs {
    /// The program and its arguments, looked up on the sandbox's PATH.
    pub command: Vec<String>,
    /// A workspace from create_workspace (its profile is used); default: a fresh
    /// empty one under the first served profile, removed after the call.
    pub workspace: Option<String>,
    /// Text given to the program's standard input.
    pub stdin: Option<String>,
    /// Wall-clock limit in seconds (default 30, at most the server's ceiling).
    pub timeout_s: Option<f64>,
    /// Environment variables to set in the sandbox.
    pub env: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkspaceArgs {
    /// A served language or profile name (default: the first served).
    pub profile: Option<String>,
    /// A name for it (letters, digits, `-`, `_`, `.`); default: a fresh id.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceArg {
    /// The workspace's id, as create_workspace returned it.
    pub workspace: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileArgs {
    pub workspace: String,
    /// Relative to the workspace; parent directories are created.
    pub path: String,
    /// The file's new content (UTF-8 text).
    pub content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileArgs {
    pub workspace: String,
    /// Relative to the workspace.
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFilesArgs {
    pub workspace: String,
    /// A directory relative to the workspace (default: its top).
    pub path: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// A result with structured content and a readable text.
fn result<T: Serialize>(value: &T, text: String, is_error: bool) -> CallToolResult {
    let mut out = if is_error {
        CallToolResult::error(vec![ContentBlock::text(text)])
    } else {
        CallToolResult::success(vec![ContentBlock::text(text)])
    };
    out.structured_content = serde_json::to_value(value).ok();
    out
}

/// A tool error: the call was valid, but what it asked for could not be done.
fn tool_error(message: String) -> CallToolResult {
    result(&serde_json::json!({ "error": message }), message, true)
}

fn invalid(message: impl Into<String>) -> ErrorData {
    ErrorData::invalid_params(message.into(), None)
}

/// Workspace errors: an unknown workspace or a bad path is the caller's argument,
/// a JSON-RPC error would hide the message in many clients, so both are tool errors.
/// Runs a file operation on a leased workspace's directory, off the async threads: the
/// outer error is the server's own, the inner one the operation's (a tool error).
async fn in_workspace<T: Send + 'static>(
    workspaces: &std::sync::Arc<Workspaces>,
    name: &str,
    operation: impl FnOnce(&std::path::Path) -> Result<T, WorkspaceError> + Send + 'static,
) -> Result<Result<T, WorkspaceError>, ErrorData> {
    let lease = match workspaces.lease(name) {
        Ok(lease) => lease,
        Err(e) => return Ok(Err(e)),
    };
    tokio::task::spawn_blocking(move || operation(&lease.path))
        .await
        .map_err(|e| ErrorData::internal_error(e.to_string(), None))
}

fn workspace_error(e: WorkspaceError) -> CallToolResult {
    tool_error(e.to_string())
}

fn render_run(r: &RunResult) -> String {
    let how = match (r.reason, r.exit_code, r.signal) {
        (runner::Reason::Exited, Some(code), _) => format!("exited with {code}"),
        (runner::Reason::Timeout, _, _) => "timed out".to_string(),
        (reason, _, Some(sig)) => format!("killed by signal {sig} ({reason:?})"),
        (reason, _, None) => format!("{reason:?}"),
    };
    let mut text = format!("{how} in {} ms", r.duration_ms);
    if r.truncated {
        text.push_str(&format!(
            " (output truncated: stdout {} bytes, stderr {} bytes in all)",
            r.stdout_bytes, r.stderr_bytes
        ));
    }
    for note in &r.notes {
        text.push_str(&format!("\nsandbox: {note}"));
    }
    if !r.stdout.is_empty() {
        text.push_str(&format!("\n--- stdout ---\n{}", r.stdout));
    }
    if !r.stderr.is_empty() {
        text.push_str(&format!("\n--- stderr ---\n{}", r.stderr));
    }
    text
}

impl PhantomServer {
    pub fn new(settings: Settings) -> Self {
        let slots = Semaphore::new(settings.max_concurrent.max(1));
        PhantomServer {
            inner: Arc::new(Inner { settings, slots }),
            tool_router: Self::tool_router(),
        }
    }

    fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn served(&self, name: &str) -> Result<&'static Language, ErrorData> {
        let served: Vec<&str> = self.settings().languages.iter().map(|l| l.name).collect();
        languages::lookup(name)
            .filter(|l| self.settings().languages.contains(l))
            .ok_or_else(|| {
                invalid(format!(
                    "unknown language `{name}`: this server runs {}",
                    served.join(", ")
                ))
            })
    }

    fn timeout(&self, timeout_s: Option<f64>) -> Result<Duration, ErrorData> {
        let limits = &self.settings().limits;
        let Some(secs) = timeout_s else {
            return Ok(limits.default_timeout);
        };
        if !secs.is_finite() || secs <= 0.0 {
            return Err(invalid(format!(
                "timeout_s must be a positive number of seconds, not {secs}"
            )));
        }
        // Beyond what a Duration holds is above any ceiling too.
        let timeout = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        if timeout > limits.max_timeout {
            return Err(invalid(format!(
                "timeout_s {secs} is above this server's ceiling of {} s",
                limits.max_timeout.as_secs_f64()
            )));
        }
        Ok(timeout)
    }

    fn check_stdin(&self, stdin: &Option<String>) -> Result<(), ErrorData> {
        let max = self.settings().limits.max_stdin_bytes;
        match stdin {
            Some(s) if s.len() > max => Err(invalid(format!(
                "stdin is {} bytes; the limit is {max}",
                s.len()
            ))),
            _ => Ok(()),
        }
    }

    /// Runs `command` in the named workspace or a scratch one, under one of the
    /// server's concurrency slots, and turns the ending into a tool result.
    async fn run_in(
        &self,
        profile: String,
        workspace: Option<&str>,
        stdin: Option<String>,
        timeout: Duration,
        env: Vec<(String, String)>,
        plan: impl FnOnce(
            &std::path::Path,
        ) -> Result<(Vec<String>, Option<std::path::PathBuf>), WorkspaceError>,
    ) -> CallToolResult {
        let spaces = &self.settings().workspaces;
        // Held for the whole call: the lease keeps the workspace from expiring, the
        // scratch directory is removed when the call ends.
        let (_lease, _scratch, dir) = match workspace {
            Some(id) => match spaces.lease(id) {
                Ok(lease) => {
                    let dir = lease.path.clone();
                    (Some(lease), None, dir)
                }
                Err(e) => return workspace_error(e),
            },
            None => match spaces.scratch() {
                Ok(scratch) => {
                    let dir = scratch.path.clone();
                    (None, Some(scratch), dir)
                }
                Err(e) => return workspace_error(e),
            },
        };
        let (command, cleanup) = match plan(&dir) {
            Ok(plan) => plan,
            Err(e) => return workspace_error(e),
        };
        let Ok(_slot) = self.inner.slots.acquire().await else {
            return tool_error("the server is shutting down".into());
        };
        let request = RunRequest {
            profile: profile.clone(),
            command,
            workspace: dir,
            stdin,
            timeout,
            env,
        };
        log(
            Level::Debug,
            &format!("run {profile}: {:?}", request.command),
        );
        let outcome = runner::run(&self.settings().runner, request).await;
        if let Some(path) = cleanup {
            let _ = tokio::fs::remove_dir_all(path).await;
        }
        match outcome {
            Ok(run) => {
                log(
                    Level::Debug,
                    &format!("run {profile}: {:?} in {} ms", run.reason, run.duration_ms),
                );
                let text = render_run(&run);
                result(&run, text, false)
            }
            Err(e) => {
                log(Level::Info, &format!("run {profile} did not start: {e}"));
                let code = match &e {
                    RunError::NotStarted { code, .. } => Some(*code),
                    RunError::Spawn { .. } | RunError::NulByte(_) => None,
                };
                result(
                    &serde_json::json!({ "error": e.to_string(), "exit_code": code }),
                    e.to_string(),
                    true,
                )
            }
        }
    }
}

#[tool_router(router = tool_router)]
impl PhantomServer {
    #[tool(
        description = "Run a program in a fresh sandbox (no network unless the profile allows it, read-only root, limits). language: one of list_profiles' languages. Returns exit_code, signal, reason (exited|timeout|memory|pids|seccomp|signal), stdout, stderr (head and tail within the output cap), truncated, stdout_bytes, stderr_bytes, duration_ms."
    )]
    async fn run_code(
        &self,
        Parameters(args): Parameters<RunCodeArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let language = self.served(&args.language)?;
        let timeout = self.timeout(args.timeout_s)?;
        self.check_stdin(&args.stdin)?;
        let code = args.code;
        let scratch_name = format!(".phantom-mcp-{}", std::process::id());
        let inline = matches!(
            languages::plan(language, "", &scratch_name),
            Plan::Inline(_)
        );
        if inline && code.len() > languages::MAX_INLINE_CODE {
            return Err(invalid(format!(
                "code is {} bytes; {} takes at most {} inline (write_file it to a workspace and use exec)",
                code.len(),
                language.name,
                languages::MAX_INLINE_CODE
            )));
        }
        let max_file = self.settings().limits.max_file_bytes;
        let counter = next_id();
        let planner = move |dir: &std::path::Path| {
            let scratch = format!("{scratch_name}-{counter}");
            match languages::plan(language, &code, &scratch) {
                Plan::Inline(command) => Ok((command, None)),
                Plan::File { file, command } => {
                    workspace::write_file(dir, &file, code.as_bytes(), max_file)?;
                    Ok((command, Some(dir.join(scratch))))
                }
            }
        };
        Ok(self
            .run_in(
                language.profile.to_string(),
                args.workspace.as_deref(),
                args.stdin,
                timeout,
                Vec::new(),
                planner,
            )
            .await)
    }

    #[tool(
        description = "Run a command (argv list) in a sandbox, in a workspace if given (with the workspace's profile), else in a fresh empty one. Same result as run_code."
    )]
    async fn exec(
        &self,
        Parameters(args): Parameters<ExecArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        if args.command.is_empty() || args.command.iter().any(|a| a.contains('\0')) {
            return Err(invalid(
                "command must be a non-empty list of strings without NUL bytes",
            ));
        }
        let timeout = self.timeout(args.timeout_s)?;
        self.check_stdin(&args.stdin)?;
        let mut env = Vec::new();
        for (k, v) in args.env.unwrap_or_default() {
            let valid_key = !k.is_empty()
                && !k.starts_with(|c: char| c.is_ascii_digit())
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_key || v.contains('\0') {
                return Err(invalid(format!(
                    "`{k}` is not a valid environment variable"
                )));
            }
            env.push((k, v));
        }
        let profile = match &args.workspace {
            Some(id) => match self.settings().workspaces.profile(id) {
                Some(profile) => profile,
                None => return Ok(workspace_error(WorkspaceError::Unknown(id.clone()))),
            },
            None => self.default_language().profile.to_string(),
        };
        let command = args.command;
        Ok(self
            .run_in(
                profile,
                args.workspace.as_deref(),
                args.stdin,
                timeout,
                env,
                move |_| Ok((command, None)),
            )
            .await)
    }

    #[tool(
        description = "Create a persistent workspace (a directory mounted at /workspace in runs that name it). It expires after the server's idle time and is removed on shutdown. Returns {workspace}."
    )]
    async fn create_workspace(
        &self,
        Parameters(args): Parameters<CreateWorkspaceArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let language = match &args.profile {
            Some(p) => self.served(p)?,
            None => self.default_language(),
        };
        match self
            .settings()
            .workspaces
            .create(args.name.as_deref(), language.profile)
        {
            Ok(info) => {
                log(
                    Level::Debug,
                    &format!("workspace {} created", info.workspace),
                );
                let text = format!("workspace `{}` ({})", info.workspace, info.profile);
                Ok(result(&info, text, false))
            }
            Err(e) => Ok(workspace_error(e)),
        }
    }

    #[tool(description = "Destroy a workspace and everything in it.")]
    async fn destroy_workspace(
        &self,
        Parameters(args): Parameters<WorkspaceArg>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.settings().workspaces.destroy(&args.workspace) {
            Ok(()) => Ok(result(
                &serde_json::json!({ "workspace": args.workspace, "destroyed": true }),
                format!("workspace `{}` destroyed", args.workspace),
                false,
            )),
            Err(e) => Ok(workspace_error(e)),
        }
    }

    #[tool(description = "List the workspaces of this server.")]
    async fn list_workspaces(&self) -> Result<CallToolResult, ErrorData> {
        let list = self.settings().workspaces.list();
        let text = if list.is_empty() {
            "no workspaces".to_string()
        } else {
            list.iter()
                .map(|w| format!("{} ({}, idle {} s)", w.workspace, w.profile, w.idle_s))
                .collect::<Vec<_>>()
                .join("\n")
        };
        Ok(result(
            &serde_json::json!({ "workspaces": list }),
            text,
            false,
        ))
    }

    #[tool(
        description = "Write a text file in a workspace (path relative to it; no `..`, no absolute paths, no symlinks leading out; size capped)."
    )]
    async fn write_file(
        &self,
        Parameters(args): Parameters<WriteFileArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let limit = self.settings().limits.max_file_bytes;
        let path = args.path.clone();
        let (rel, content) = (args.path, args.content);
        let outcome = in_workspace(&self.settings().workspaces, &args.workspace, move |dir| {
            workspace::write_file(dir, &rel, content.as_bytes(), limit)
        })
        .await?;
        match outcome {
            Ok(size) => Ok(result(
                &serde_json::json!({ "workspace": args.workspace, "path": path, "size": size }),
                format!("wrote {size} bytes to {path}"),
                false,
            )),
            Err(e) => Ok(workspace_error(e)),
        }
    }

    #[tool(
        description = "Read a file of a workspace (path relative to it, confined like write_file; size capped). Invalid UTF-8 is replaced by U+FFFD."
    )]
    async fn read_file(
        &self,
        Parameters(args): Parameters<ReadFileArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let limit = self.settings().limits.max_file_bytes;
        let path = args.path.clone();
        let rel = args.path;
        let outcome = in_workspace(&self.settings().workspaces, &args.workspace, move |dir| {
            workspace::read_file(dir, &rel, limit)
        })
        .await?;
        match outcome {
            Ok(bytes) => {
                let content = String::from_utf8_lossy(&bytes).into_owned();
                let value = serde_json::json!({
                    "workspace": args.workspace,
                    "path": path,
                    "size": bytes.len(),
                    "content": content,
                });
                Ok(result(&value, content, false))
            }
            Err(e) => Ok(workspace_error(e)),
        }
    }

    #[tool(
        description = "List a directory of a workspace (default its top): name, type (file|dir|symlink|other), size."
    )]
    async fn list_files(
        &self,
        Parameters(args): Parameters<ListFilesArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let limit = self.settings().limits.max_list_entries;
        let path = args.path.unwrap_or_else(|| ".".into());
        let rel = path.clone();
        let outcome = in_workspace(&self.settings().workspaces, &args.workspace, move |dir| {
            workspace::list_files(dir, &rel, limit)
        })
        .await?;
        match outcome {
            Ok((entries, more)) => {
                let mut text = entries
                    .iter()
                    .map(|e| match e.kind {
                        "dir" => format!("{}/", e.name),
                        "file" => format!("{} ({} bytes)", e.name, e.size),
                        kind => format!("{} ({kind})", e.name),
                    })
                    .collect::<Vec<_>>()
                    .join("\n");
                if more {
                    text.push_str(&format!("\n(more entries; only the first {limit} listed)"));
                }
                let value = serde_json::json!({
                    "workspace": args.workspace,
                    "path": path,
                    "entries": entries,
                    "truncated": more,
                });
                Ok(result(&value, text, false))
            }
            Err(e) => Ok(workspace_error(e)),
        }
    }

    #[tool(description = "List the languages and profiles this server runs, and its limits.")]
    async fn list_profiles(&self) -> Result<CallToolResult, ErrorData> {
        let s = self.settings();
        let profiles: Vec<serde_json::Value> = s
            .languages
            .iter()
            .map(|l| serde_json::json!({ "language": l.name, "profile": l.profile }))
            .collect();
        let value = serde_json::json!({
            "profiles": profiles,
            "start_mode": s.start_mode,
            "isolation": s.runner.isolation.clone().unwrap_or_else(|| "sandbox".into()),
            "default_timeout_s": s.limits.default_timeout.as_secs_f64(),
            "max_timeout_s": s.limits.max_timeout.as_secs_f64(),
            "output_cap_bytes": s.runner.head_bytes + s.runner.tail_bytes,
            "max_file_bytes": s.limits.max_file_bytes,
        });
        let text = s
            .languages
            .iter()
            .map(|l| format!("{}: profile {}", l.name, l.profile))
            .collect::<Vec<_>>()
            .join("\n");
        Ok(result(&value, text, false))
    }
}

impl PhantomServer {
    fn default_language(&self) -> &'static Language {
        self.settings()
            .languages
            .first()
            .copied()
            .unwrap_or(&languages::FALLBACK)
    }
}

fn next_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for PhantomServer {
    fn get_info(&self) -> ServerConfig {
        let served: Vec<&str> = self.settings().languages.iter().map(|l| l.name).collect();
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("phantom-mcp", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "Runs untrusted code in Phantom Fragment sandboxes. run_code runs {} code in a fresh sandbox; create_workspace keeps files between calls (write_file, read_file, list_files, exec).",
                served.join(", ")
            ))
    }
}
