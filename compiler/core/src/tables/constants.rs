//! Symbolic constants (`constants.txt`) and errno values.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::{closest, Arch};

/// The checked-in data; its format is documented at its top.
const DATA: &str = include_str!("constants.txt");

/// Linux errno values, sorted by value. They are the asm-generic values,
/// shared by x86_64 and arm64.
const ERRNOS: &[(&str, u32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("ENOTBLK", 15),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ENOTTY", 25),
    ("ETXTBSY", 26),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("EDOM", 33),
    ("ERANGE", 34),
    ("EDEADLK", 35),
    ("ENAMETOOLONG", 36),
    ("ENOLCK", 37),
    ("ENOSYS", 38),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
    ("ENOMSG", 42),
    ("EIDRM", 43),
    ("ECHRNG", 44),
    ("EL2NSYNC", 45),
    ("EL3HLT", 46),
    ("EL3RST", 47),
    ("ELNRNG", 48),
    ("EUNATCH", 49),
    ("ENOCSI", 50),
    ("EL2HLT", 51),
    ("EBADE", 52),
    ("EBADR", 53),
    ("EXFULL", 54),
    ("ENOANO", 55),
    ("EBADRQC", 56),
    ("EBADSLT", 57),
    ("EBFONT", 59),
    ("ENOSTR", 60),
    ("ENODATA", 61),
    ("ETIME", 62),
    ("ENOSR", 63),
    ("ENONET", 64),
    ("ENOPKG", 65),
    ("EREMOTE", 66),
    ("ENOLINK", 67),
    ("EADV", 68),
    ("ESRMNT", 69),
    ("ECOMM", 70),
    ("EPROTO", 71),
    ("EMULTIHOP", 72),
    ("EDOTDOT", 73),
    ("EBADMSG", 74),
    ("EOVERFLOW", 75),
    ("ENOTUNIQ", 76),
    ("EBADFD", 77),
    ("EREMCHG", 78),
    ("ELIBACC", 79),
    ("ELIBBAD", 80),
    ("ELIBSCN", 81),
    ("ELIBMAX", 82),
    ("ELIBEXEC", 83),
    ("EILSEQ", 84),
    ("ERESTART", 85),
    ("ESTRPIPE", 86),
    ("EUSERS", 87),
    ("ENOTSOCK", 88),
    ("EDESTADDRREQ", 89),
    ("EMSGSIZE", 90),
    ("EPROTOTYPE", 91),
    ("ENOPROTOOPT", 92),
    ("EPROTONOSUPPORT", 93),
    ("ESOCKTNOSUPPORT", 94),
    ("EOPNOTSUPP", 95),
    ("EPFNOSUPPORT", 96),
    ("EAFNOSUPPORT", 97),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETDOWN", 100),
    ("ENETUNREACH", 101),
    ("ENETRESET", 102),
    ("ECONNABORTED", 103),
    ("ECONNRESET", 104),
    ("ENOBUFS", 105),
    ("EISCONN", 106),
    ("ENOTCONN", 107),
    ("ESHUTDOWN", 108),
    ("ETOOMANYREFS", 109),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTDOWN", 112),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
    ("ESTALE", 116),
    ("EUCLEAN", 117),
    ("ENOTNAM", 118),
    ("ENAVAIL", 119),
    ("EISNAM", 120),
    ("EREMOTEIO", 121),
    ("EDQUOT", 122),
    ("ENOMEDIUM", 123),
    ("EMEDIUMTYPE", 124),
    ("ECANCELED", 125),
    ("ENOKEY", 126),
    ("EKEYEXPIRED", 127),
    ("EKEYREVOKED", 128),
    ("EKEYREJECTED", 129),
    ("EOWNERDEAD", 130),
    ("ENOTRECOVERABLE", 131),
    ("ERFKILL", 132),
    ("EHWPOISON", 133),
];

/// Second names of errno values; [`errno_name`] never returns these.
const ERRNO_ALIASES: &[(&str, u32)] = &[
    ("EWOULDBLOCK", 11), // EAGAIN
    ("EDEADLOCK", 35),   // EDEADLK
    ("ENOTSUP", 95),     // EOPNOTSUPP (C library name)
];

#[derive(Debug)]
struct Tables {
    /// Name -> value per architecture (from `constants.txt`).
    values: HashMap<&'static str, [Option<u64>; 2]>,
    /// Errno name (including aliases) -> value.
    errnos: HashMap<&'static str, u32>,
    /// Every constant and errno name, sorted.
    names: Vec<&'static str>,
    /// Parse problems (reported by the tests).
    /// Parse problems; only the tests read them (the data is checked in,
    /// so a malformed line is skipped rather than failing at run time).
    #[cfg_attr(not(test), allow(dead_code))]
    errors: Vec<String>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(build)
}

fn build() -> Tables {
    let mut values = HashMap::new();
    let mut errors = Vec::new();
    for (lineno, line) in DATA.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok((name, vals)) => {
                if values.insert(name, vals).is_some() {
                    errors.push(format!("constants.txt:{}: duplicate `{name}`", lineno + 1));
                }
            }
            Err(e) => errors.push(format!("constants.txt:{}: {e}", lineno + 1)),
        }
    }
    let errnos: HashMap<&'static str, u32> = ERRNOS.iter().chain(ERRNO_ALIASES).copied().collect();
    let mut names: Vec<&'static str> = values.keys().chain(errnos.keys()).copied().collect();
    names.sort_unstable();
    names.dedup();
    Tables {
        values,
        errnos,
        names,
        errors,
    }
}

fn parse_line(line: &'static str) -> Result<(&'static str, [Option<u64>; 2]), String> {
    let fields: Vec<&'static str> = line.split_whitespace().collect();
    let (name, x86, a64) = match fields.as_slice() {
        [name, both] => (*name, parse_value(both)?, parse_value(both)?),
        [name, x86, a64] => (*name, parse_value(x86)?, parse_value(a64)?),
        _ => return Err(format!("expected `NAME value [value]`, got `{line}`")),
    };
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("bad constant name `{name}`"));
    }
    if x86.is_none() && a64.is_none() {
        return Err(format!("`{name}` exists on no architecture"));
    }
    Ok((name, [x86, a64]))
}

/// Parses `-`, `123`, `-100`, `0x1f`, `0o755`; negatives sign-extend.
fn parse_value(text: &str) -> Result<Option<u64>, String> {
    if text == "-" {
        return Ok(None);
    }
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        u64::from_str_radix(hex, 16)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        u64::from_str_radix(oct, 8)
    } else {
        digits.parse::<u64>()
    }
    .map_err(|_| format!("bad value `{text}`"))?;
    if negative {
        let signed = i64::try_from(magnitude)
            .ok()
            .and_then(i64::checked_neg)
            .ok_or_else(|| format!("value `{text}` out of range"))?;
        Ok(Some(u64::from_ne_bytes(signed.to_ne_bytes())))
    } else {
        Ok(Some(magnitude))
    }
}

/// The value of the symbolic constant `name` on `arch` (`AF_INET`,
/// `O_DIRECTORY`, `TIOCSTI`, `EPERM`, ...). Negative values (`AT_FDCWD`) are
/// sign-extended to 64 bits. Names are case-sensitive.
pub fn constant(arch: Arch, name: &str) -> Option<u64> {
    let t = tables();
    if let Some(vals) = t.values.get(name) {
        return vals.get(arch.index()).copied().flatten();
    }
    t.errnos.get(name).map(|v| u64::from(*v))
}

/// Every constant name known on any architecture, errno names included,
/// in sorted order.
pub fn constant_names() -> impl Iterator<Item = &'static str> {
    tables().names.iter().copied()
}

/// "Did you mean": the known constant name closest to `name` (compared
/// ASCII case-insensitively) within an edit distance of `max(1, len / 3)`.
pub fn suggest_constant(name: &str) -> Option<&'static str> {
    closest(name, constant_names())
}

/// The errno value of `name` (`EPERM` → 1; `EWOULDBLOCK` → 11 too).
pub fn errno(name: &str) -> Option<u32> {
    tables().errnos.get(name).copied()
}

/// The canonical name of an errno value (`38` → `ENOSYS`; `11` → `EAGAIN`).
pub fn errno_name(value: u32) -> Option<&'static str> {
    let i = ERRNOS.binary_search_by_key(&value, |(_, v)| *v).ok()?;
    ERRNOS.get(i).map(|(n, _)| *n)
}

/// Problems found while parsing the data file (for tests).
#[cfg(test)]
pub(super) fn parse_errors() -> &'static [String] {
    &tables().errors
}

/// The raw per-architecture values of `constants.txt` (for tests).
#[cfg(test)]
pub(super) fn raw_values() -> impl Iterator<Item = (&'static str, [Option<u64>; 2])> {
    tables().values.iter().map(|(k, v)| (*k, *v))
}

/// The errno table, canonical names only (for tests).
#[cfg(test)]
pub(super) fn errno_table() -> &'static [(&'static str, u32)] {
    ERRNOS
}
