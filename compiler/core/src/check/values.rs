//! Literal values: integers in any base, sizes, durations.
//!
//! Pure functions from literal text to numbers; errors are plain messages, which the
//! callers turn into diagnostics at the literal's span.

/// Why a literal was refused, with advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiteralError {
    pub message: String,
    pub help: Option<String>,
}

fn err(message: impl Into<String>) -> LiteralError {
    LiteralError {
        message: message.into(),
        help: None,
    }
}

/// An integer literal: decimal, `0x`, `0o`, `0b`, `_` separators, optional `-`.
/// Values are returned as `i128` so that every `u64` and `i64` fits.
pub fn parse_int(text: &str) -> Result<i128, LiteralError> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b") {
        (2, d)
    } else {
        (10, body)
    };
    if digits.contains('.') {
        return Err(LiteralError {
            message: format!("`{text}` is not a whole number"),
            help: Some(
                "fractions are for `cpu` and for sizes and durations with a unit (`1.5GiB`)".into(),
            ),
        });
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return Err(err(format!("`{text}` has no digits")));
    }
    if radix == 10 && digits.len() > 1 && digits.starts_with('0') {
        let rest = digits.trim_start_matches('0');
        let rest = if rest.is_empty() { "0" } else { rest };
        return Err(LiteralError {
            message: format!("`{text}` has a leading zero"),
            help: Some(format!(
                "write `0o{rest}` for an octal number, or `{rest}` for a decimal one"
            )),
        });
    }
    let magnitude = u128::from_str_radix(&digits, radix)
        .map_err(|_| err(format!("`{text}` is not a valid number")))?;
    if magnitude > u128::from(u64::MAX) {
        return Err(err(format!("`{text}` does not fit in 64 bits")));
    }
    let value =
        i128::try_from(magnitude).map_err(|_| err(format!("`{text}` does not fit in 64 bits")))?;
    Ok(if negative { -value } else { value })
}

/// A non-negative decimal that may have a fraction (`1.5`), as thousandths.
pub fn parse_millis(text: &str) -> Result<u64, LiteralError> {
    let clean: String = text.chars().filter(|&c| c != '_').collect();
    if clean.starts_with('-') {
        return Err(err(format!("`{text}` is negative")));
    }
    let (whole, fraction) = clean.split_once('.').unwrap_or((&clean, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !fraction.chars().all(|c| c.is_ascii_digit())
    {
        return Err(err(format!("`{text}` is not a number")));
    }
    if fraction.len() > 3 {
        return Err(err(format!("`{text}` has more than three decimals")));
    }
    let whole: u64 = whole
        .parse()
        .map_err(|_| err(format!("`{text}` is too large")))?;
    let mut millis: u64 = 0;
    for (i, c) in fraction.chars().enumerate() {
        let digit = u64::from(c.to_digit(10).unwrap_or(0));
        millis += digit * 10u64.pow(2 - u32::try_from(i).unwrap_or(2));
    }
    whole
        .checked_mul(1000)
        .and_then(|w| w.checked_add(millis))
        .ok_or_else(|| err(format!("`{text}` is too large")))
}

/// Splits `512MiB` into `("512", "MiB")`.
pub fn split_quantity(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    (
        text.get(..at).unwrap_or_default(),
        text.get(at..).unwrap_or_default(),
    )
}

/// The multiplier of a size unit (powers of 1024).
pub fn size_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "B" => 1,
        "KiB" | "K" | "k" => 1 << 10,
        "MiB" | "M" | "m" => 1 << 20,
        "GiB" | "G" | "g" => 1 << 30,
        "TiB" | "T" | "t" => 1 << 40,
        _ => return None,
    })
}

/// The length of a duration unit in milliseconds.
pub fn duration_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    })
}

/// Applies a unit to a number that may have a fraction (`1.5GiB`), rounding down.
pub fn scale(number: &str, multiplier: u64) -> Result<u64, LiteralError> {
    let millis = parse_millis(number)?;
    let exact = u128::from(millis) * u128::from(multiplier);
    if exact % 1000 != 0 && multiplier < 1000 {
        return Err(LiteralError {
            message: format!("`{number}` is not a whole number of the unit's smallest step"),
            help: Some(
                "use a larger unit for a fraction (`1.5GiB`, `0.5s`), or a whole number".into(),
            ),
        });
    }
    let value = exact / 1000;
    u64::try_from(value).map_err(|_| err(format!("`{number}` is too large")))
}

pub fn size_units_help() -> String {
    "sizes take B, KiB, MiB, GiB or TiB (or k, m, g, t)".into()
}

pub fn duration_units_help() -> String {
    "durations take ms, s, m (minutes) or h".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_base() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("0x7f"), Ok(127));
        assert_eq!(parse_int("0o755"), Ok(0o755));
        assert_eq!(parse_int("0b1010"), Ok(10));
        assert_eq!(parse_int("1_000"), Ok(1000));
        assert_eq!(parse_int("-1"), Ok(-1));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("0xffff_ffff_ffff_ffff"), Ok(i128::from(u64::MAX)));
        assert!(parse_int("0x1_0000_0000_0000_0000").is_err());
        assert!(parse_int("1.5").is_err());
        let leading = parse_int("0755").unwrap_err();
        assert!(leading.help.unwrap_or_default().contains("0o755"));
    }

    #[test]
    fn fractions_and_units() {
        assert_eq!(parse_millis("1.5"), Ok(1500));
        assert_eq!(parse_millis("0.25"), Ok(250));
        assert!(parse_millis("1.2345").is_err());
        assert_eq!(split_quantity("512MiB"), ("512", "MiB"));
        assert_eq!(scale("1.5", size_unit("GiB").unwrap_or(0)), Ok(3 << 29));
        assert_eq!(duration_unit("m"), Some(60_000));
        assert_eq!(size_unit("MB"), None);
    }
}
