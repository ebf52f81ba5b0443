//! Signing keys for bundles shipped between machines: `phantomc key generate`,
//! `phantomc sign`. Keys are files of hex: the secret (64 hex digits, mode 0600) and
//! the public key (`.pub`), which `phantom exec --verify-key` takes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use phantom_bundle::{SigningKey, VerifyingKey};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key file's 32 bytes (`phantom_bundle::read_key_file`), its path named on failure.
fn read_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    phantom_bundle::read_key_file(path)
        .with_context(|| format!("cannot read the key `{}`", path.display()))
}

pub fn read_signing_key(path: &Path) -> anyhow::Result<SigningKey> {
    // Both halves are 64 hex digits: a public key given here would sign with a
    // "secret" anyone holding the public key has.
    if path.extension().is_some_and(|e| e == "pub") {
        bail!(
            "`{}` is a public key (`phantomc key generate` writes the signing key beside it, without `.pub`)",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("cannot read the key `{}`", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "the signing key `{}` may be read by others (mode {:o}): a signing key is secret; `chmod 600` it (or, if it is a public key, give its signing key)",
                path.display(),
                mode & 0o777
            );
        }
    }
    Ok(SigningKey::from_bytes(&read_key(path)?))
}

pub fn read_verifying_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    VerifyingKey::from_bytes(&read_key(path)?)
        .with_context(|| format!("`{}` is not a valid ed25519 public key", path.display()))
}

pub fn run_generate(output: &Path) -> anyhow::Result<ExitCode> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let key = SigningKey::from_bytes(&secret);
    let public: PathBuf = {
        let mut name = output.as_os_str().to_owned();
        name.push(".pub");
        name.into()
    };
    if output.exists() {
        bail!("`{}` exists; refusing to overwrite a key", output.display());
    }
    write_private(output, &format!("{}\n", hex(&secret)))?;
    std::fs::write(
        &public,
        format!("{}\n", hex(key.verifying_key().as_bytes())),
    )
    .with_context(|| format!("cannot write `{}`", public.display()))?;
    eprintln!(
        "phantomc: wrote the signing key {} and the public key {}",
        output.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create `{}`", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write `{}`", path.display()))
}

pub fn run_sign(bundle: &Path, key: &Path, output: Option<&Path>) -> anyhow::Result<ExitCode> {
    let key = read_signing_key(key)?;
    let bytes = phantom_bundle::read_file(bundle, phantom_bundle::MAX_BUNDLE_SIZE)
        .with_context(|| format!("cannot read `{}`", bundle.display()))?;
    let signed = match phantom_bundle::sign(&bytes, &key) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("phantomc: `{}`: {e}", bundle.display());
            return Ok(ExitCode::from(crate::EXIT_POLICY_ERRORS));
        }
    };
    let out = output.unwrap_or(bundle);
    std::fs::write(out, signed).with_context(|| format!("cannot write `{}`", out.display()))?;
    eprintln!(
        "phantomc: signed {} with key {}",
        out.display(),
        hex(key.verifying_key().as_bytes())
    );
    Ok(ExitCode::SUCCESS)
}
