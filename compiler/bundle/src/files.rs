//! Reading the files bundles and policies come from, bounded: a path that names
//! `/dev/zero`, a FIFO or a file of gigabytes must be refused, not read into memory
//! whole (or waited on forever) before a size check could say so.

use std::io::{self, Read};
use std::path::Path;

/// The bytes of the regular file at `path`, which must be at most `limit` bytes long.
///
/// Anything but a regular file (after symbolic links) is refused before it is opened:
/// a FIFO would block the open until a writer came, a device may never end. A file
/// longer than `limit` is refused from its size ([`io::ErrorKind::FileTooLarge`]),
/// and no more than `limit + 1` bytes are ever read, should it grow meanwhile.
pub fn read_file(path: &Path, limit: usize) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a directory"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err(io::Error::new(io::ErrorKind::InvalidInput, what));
    }
    let too_large = |size: u64| {
        io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("it is {size} bytes, over the limit of {limit} bytes"),
        )
    };
    let limit64 = u64::try_from(limit).unwrap_or(u64::MAX);
    if meta.len() > limit64 {
        return Err(too_large(meta.len()));
    }
    // Room for the whole file and one byte more: read in one call, and the end seen
    // in the next (from empty, `read_to_end` starts small and doubles).
    let expected = usize::try_from(meta.len()).unwrap_or(limit).min(limit);
    let mut bytes = Vec::with_capacity(expected.saturating_add(1));
    std::fs::File::open(path)?
        .take(limit64.saturating_add(1))
        .read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// The 32 bytes of a key file: 64 hex digits, one line (`phantomc key generate` writes
/// both halves so). What it says is the caller's to check (ed25519 validity).
pub fn read_key_file(path: &Path) -> io::Result<[u8; 32]> {
    let not_a_key = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "not a key (expected 64 hex digits)",
        )
    };
    // A line of hex: anything past a few hundred bytes is not one.
    let bytes = read_file(path, 4096)?;
    let text = std::str::from_utf8(&bytes).map_err(|_| not_a_key())?.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_a_key());
    }
    let mut key = [0u8; 32];
    for (slot, pair) in key.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| not_a_key())?;
        *slot = u8::from_str_radix(pair, 16).map_err(|_| not_a_key())?;
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_file(&file, 10).unwrap(), b"0123456789");
        let e = read_file(&file, 9).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(e.to_string().contains("10 bytes"), "{e}");
        assert!(read_file(dir.path(), 10)
            .unwrap_err()
            .to_string()
            .contains("directory"));
        #[cfg(unix)]
        {
            let e = read_file(Path::new("/dev/zero"), 10).unwrap_err();
            assert!(e.to_string().contains("not a regular file"), "{e}");
        }
    }

    #[test]
    fn a_key_file_is_64_hex_digits() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("k");
        std::fs::write(&file, format!("{}\n", "0f".repeat(32))).unwrap();
        assert_eq!(read_key_file(&file).unwrap(), [0x0f; 32]);
        for bad in [
            "0f".repeat(31),
            "zz".repeat(32),
            "é".repeat(32),
            String::new(),
        ] {
            std::fs::write(&file, bad).unwrap();
            let e = read_key_file(&file).unwrap_err();
            assert!(e.to_string().contains("64 hex digits"), "{e}");
        }
    }
}
