//! The compiled bundle (`.pfb`): the only thing `phantomc` hands to the runtime.
//!
//! ```text
//! offset  size  field
//!      0     8  magic "PFBUNDLE"
//!      8     2  format version (u16 LE)
//!     10     2  flags (u16 LE): bit 0 = signed
//!     12     4  reserved, zero
//!     16     8  payload length (u64 LE)
//!     24    32  blake3 of the payload
//!     56     …  payload: the Bundle, postcard-encoded
//!      …    96  (signed only) ed25519 public key (32) and signature (64) over bytes 0..56
//! ```
//!
//! Loading is one read, one hash and one decode, and refuses anything that is not
//! exactly right (size, magic, version, flags, length, hash, decode, signature) before
//! any of it is used. The format is described in docs/bundle.md with its versioning
//! rule: any change to the encoded types bumps [`FORMAT_VERSION`], and a runtime loads
//! only its own version.

pub mod describe;
mod files;
mod model;
pub mod paths;

pub use files::{read_file, read_key_file};
pub use model::*;

use ed25519_dalek::{Signer, Verifier};

pub const MAGIC: [u8; 8] = *b"PFBUNDLE";
/// Bumped on every change to the encoded types; see docs/bundle.md.
pub const FORMAT_VERSION: u16 = 2;
pub const HEADER_LEN: usize = 56;
pub const SIGNATURE_LEN: usize = 96;
/// Bundles are a few KiB; anything near this is not one.
pub const MAX_BUNDLE_SIZE: usize = 16 << 20;
const FLAG_SIGNED: u16 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LoadError {
    #[error("the bundle is {size} bytes; bundles are at most {MAX_BUNDLE_SIZE} bytes")]
    TooLarge { size: usize },
    #[error("the file is {size} bytes, too short for a bundle header ({HEADER_LEN} bytes): it is truncated or not a bundle")]
    Truncated { size: usize },
    #[error("not a Phantom Fragment bundle (wrong magic bytes); compile one with `phantomc compile POLICY.pfp -o POLICY.pfb`")]
    BadMagic,
    #[error("bundle format version {found} is not supported (this runtime reads version {FORMAT_VERSION}); recompile the policy with a matching `phantomc`")]
    UnsupportedVersion { found: u16 },
    #[error("the bundle header is invalid ({0})")]
    BadHeader(&'static str),
    #[error("the bundle says its payload is {declared} bytes but {actual} follow: it is truncated or has trailing data")]
    LengthMismatch { declared: u64, actual: usize },
    #[error("the bundle's content hash does not match: it is corrupted or was modified after compilation")]
    HashMismatch,
    #[error("the bundle's payload cannot be decoded ({0}): it is corrupted or was written by an incompatible compiler")]
    Decode(String),
    #[error(
        "the bundle is not signed, but a verification key was given; sign it with `phantomc sign`"
    )]
    Unsigned,
    #[error("the bundle's signature is invalid: it was not signed by the expected key or was modified after signing")]
    BadSignature,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EncodeError {
    #[error("the bundle cannot be encoded: {0}")]
    Encode(String),
    #[error("the encoded bundle is {size} bytes, over the {MAX_BUNDLE_SIZE}-byte limit")]
    TooLarge { size: usize },
}

/// Encodes a bundle, unsigned. The same bundle always gives the same bytes.
pub fn encode(bundle: &Bundle) -> Result<Vec<u8>, EncodeError> {
    let payload = postcard::to_allocvec(bundle).map_err(|e| EncodeError::Encode(e.to_string()))?;
    let size = HEADER_LEN + payload.len();
    if size > MAX_BUNDLE_SIZE {
        return Err(EncodeError::TooLarge { size });
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&header(0, &payload));
    out.extend_from_slice(&payload);
    Ok(out)
}

fn header(flags: u16, payload: &[u8]) -> [u8; HEADER_LEN] {
    let hash = blake3::hash(payload);
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    h.extend_from_slice(&[0u8; 4]);
    h.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    h.extend_from_slice(hash.as_bytes());
    let mut out = [0u8; HEADER_LEN];
    for (slot, byte) in out.iter_mut().zip(h) {
        *slot = byte;
    }
    out
}

/// A parsed header.
struct Header {
    version: u16,
    flags: u16,
    length: u64,
    hash: [u8; 32],
}

fn read_header(bytes: &[u8]) -> Result<Header, LoadError> {
    let field = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .ok_or(LoadError::Truncated { size: bytes.len() })
    };
    if field(0..8)? != MAGIC {
        return Err(LoadError::BadMagic);
    }
    let u16_at = |at: usize| -> Result<u16, LoadError> {
        let b = field(at..at + 2)?;
        Ok(u16::from_le_bytes([
            b.first().copied().unwrap_or(0),
            b.get(1).copied().unwrap_or(0),
        ]))
    };
    let version = u16_at(8)?;
    let flags = u16_at(10)?;
    if field(12..16)? != [0u8; 4] {
        return Err(LoadError::BadHeader("reserved bytes are not zero"));
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(field(16..24)?);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(field(24..56)?);
    Ok(Header {
        version,
        flags,
        length: u64::from_le_bytes(length),
        hash,
    })
}

/// Loads and checks a bundle. With `key`, the bundle must be signed by it.
pub fn decode(bytes: &[u8], key: Option<&VerifyingKey>) -> Result<Bundle, LoadError> {
    if bytes.len() > MAX_BUNDLE_SIZE {
        return Err(LoadError::TooLarge { size: bytes.len() });
    }
    if bytes.len() < HEADER_LEN {
        return Err(LoadError::Truncated { size: bytes.len() });
    }
    let header = read_header(bytes)?;
    if header.version != FORMAT_VERSION {
        return Err(LoadError::UnsupportedVersion {
            found: header.version,
        });
    }
    if header.flags & !FLAG_SIGNED != 0 {
        return Err(LoadError::BadHeader("unknown flags"));
    }
    let signed = header.flags & FLAG_SIGNED != 0;
    let trailer = if signed { SIGNATURE_LEN } else { 0 };
    let actual = bytes.len() - HEADER_LEN;
    if actual < trailer || (actual - trailer) as u64 != header.length {
        return Err(LoadError::LengthMismatch {
            declared: header.length,
            actual: actual.saturating_sub(trailer),
        });
    }
    let payload_end = HEADER_LEN + (actual - trailer);
    let payload = bytes
        .get(HEADER_LEN..payload_end)
        .ok_or(LoadError::Truncated { size: bytes.len() })?;
    if *blake3::hash(payload).as_bytes() != header.hash {
        return Err(LoadError::HashMismatch);
    }
    match (key, signed) {
        (Some(_), false) => return Err(LoadError::Unsigned),
        (Some(key), true) => {
            let signature = bytes.get(payload_end..).ok_or(LoadError::BadSignature)?;
            verify_signature(bytes.get(..HEADER_LEN).unwrap_or_default(), signature, key)?;
        }
        (None, _) => {}
    }
    let (bundle, rest) = postcard::take_from_bytes::<Bundle>(payload)
        .map_err(|e| LoadError::Decode(e.to_string()))?;
    if !rest.is_empty() {
        return Err(LoadError::Decode(format!(
            "{} bytes left after the bundle",
            rest.len()
        )));
    }
    Ok(bundle)
}

pub use ed25519_dalek::{SigningKey, VerifyingKey};

fn verify_signature(
    header: &[u8],
    trailer: &[u8],
    expected: &VerifyingKey,
) -> Result<(), LoadError> {
    let (key_bytes, sig_bytes) = trailer
        .split_at_checked(32)
        .ok_or(LoadError::BadSignature)?;
    if key_bytes != expected.as_bytes() {
        return Err(LoadError::BadSignature);
    }
    let signature =
        ed25519_dalek::Signature::from_slice(sig_bytes).map_err(|_| LoadError::BadSignature)?;
    expected
        .verify(header, &signature)
        .map_err(|_| LoadError::BadSignature)
}

/// Signs an encoded bundle: sets the signed flag and appends the key and the signature
/// of the header (which holds the payload's hash, so it covers everything).
pub fn sign(bundle_bytes: &[u8], key: &SigningKey) -> Result<Vec<u8>, LoadError> {
    let bundle = decode(bundle_bytes, None)?;
    let unsigned = encode(&bundle).map_err(|e| LoadError::Decode(e.to_string()))?;
    let payload = unsigned.get(HEADER_LEN..).unwrap_or_default();
    let header = header(FLAG_SIGNED, payload);
    let signature = key.sign(&header);
    let mut out = Vec::with_capacity(unsigned.len() + SIGNATURE_LEN);
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    out.extend_from_slice(key.verifying_key().as_bytes());
    out.extend_from_slice(&signature.to_bytes());
    Ok(out)
}

/// The hash a header carries for `payload` (for tools that build bundles by hand).
pub fn payload_hash(payload: &[u8]) -> blake3::Hash {
    blake3::hash(payload)
}

/// Whether an encoded bundle carries a signature (checked by [`decode`] with a key).
pub fn is_signed(bytes: &[u8]) -> bool {
    read_header(bytes).is_ok_and(|h| h.flags & FLAG_SIGNED != 0)
}

/// The blake3 content hash in a bundle's header, hex-encoded (its identity for caches).
pub fn content_hash(bytes: &[u8]) -> Option<String> {
    read_header(bytes)
        .ok()
        .map(|h| h.hash.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests;
