//! Money amounts and counts as exports write them (SPEC section 8, Numbers): a thousands
//! separator only between groups of three digits, anything else not numeric, never another
//! number.

pub use crate::config::DecimalSeparator;

fn is_currency_sign(c: char) -> bool {
    matches!(c, '$' | '€' | '£' | '¥' | '₹') || c.is_whitespace()
}

/// Plain digits, or digits with thousands separators `seps` only between groups of three
/// (`12,345`, `1,234,567`); `None` for any other form (`12,50`, `1,2345`, `,123`).
fn grouped_digits(int: &str, seps: &[char]) -> Option<String> {
    if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) {
        return Some(int.to_string());
    }
    let sep = int.chars().find(|c| seps.contains(c))?;
    let mut groups = int.split(sep);
    let first = groups.next()?;
    if !(1..=3).contains(&first.len()) || !first.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits = first.to_string();
    for group in groups {
        if group.len() != 3 || !group.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.push_str(group);
    }
    Some(digits)
}

/// A money amount or a count. Currency signs and codes around the number are removed
/// (`$1,234.50`, `USD 12`, `12EUR`); a thousands separator (`,`, or `.` and spaces when the
/// source's decimal separator is `,`) is accepted only between groups of three digits. Empty
/// and ` --` give `None`.
pub fn amount(raw: &str, decimal: DecimalSeparator) -> Result<Option<f64>, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed == "--" {
        return Ok(None);
    }
    let not_numeric = || match decimal {
        DecimalSeparator::Dot => format!("not a number: {trimmed:?}"),
        DecimalSeparator::Comma => {
            format!("not a number with decimal separator \",\": {trimmed:?}")
        }
    };
    let strip = |s: &str| {
        s.trim_matches(|c: char| is_currency_sign(c) || c.is_ascii_alphabetic())
            .to_string()
    };
    let outer = strip(trimmed);
    let (negative, body) = match outer.strip_prefix('-') {
        Some(rest) => (true, strip(rest)),
        None => (false, outer.clone()),
    };
    let (point, seps): (char, &[char]) = match decimal {
        DecimalSeparator::Dot => ('.', &[',']),
        DecimalSeparator::Comma => (',', &['.', ' ', '\u{a0}', '\u{202f}']),
    };
    let (int, frac) = match body.split_once(point) {
        Some((i, f)) => (i, Some(f)),
        None => (body.as_str(), None),
    };
    let mut text = grouped_digits(int, seps).ok_or_else(not_numeric)?;
    if let Some(f) = frac {
        if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(not_numeric());
        }
        text.push('.');
        text.push_str(f);
    }
    let value: f64 = text.parse().map_err(|_| not_numeric())?;
    Ok(Some(if negative { -value } else { value }))
}

/// A whole count (impressions, clicks); empty gives `None`.
pub fn count(raw: &str, decimal: DecimalSeparator) -> Result<Option<i64>, String> {
    match amount(raw, decimal)? {
        None => Ok(None),
        Some(v) if v.fract() == 0.0 && v >= 0.0 => Ok(Some(v as i64)),
        Some(_) => Err(format!("not a whole count: {:?}", raw.trim())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOT: DecimalSeparator = DecimalSeparator::Dot;
    const COMMA: DecimalSeparator = DecimalSeparator::Comma;

    #[test]
    fn amounts_drop_separators_and_signs() {
        assert_eq!(amount("1,234.56", DOT).unwrap(), Some(1234.56));
        assert_eq!(amount("$1,234.50", DOT).unwrap(), Some(1234.5));
        assert_eq!(amount("12,345", DOT).unwrap(), Some(12345.0));
        assert_eq!(amount("1,234,567.5", DOT).unwrap(), Some(1234567.5));
        assert_eq!(amount("USD 12", DOT).unwrap(), Some(12.0));
        assert_eq!(amount("12EUR", DOT).unwrap(), Some(12.0));
        assert_eq!(amount("-$5.25", DOT).unwrap(), Some(-5.25));
        assert_eq!(amount("9225.225", DOT).unwrap(), Some(9225.225));
        assert_eq!(amount("", DOT).unwrap(), None);
        assert_eq!(amount(" --", DOT).unwrap(), None);
        assert!(amount("twelve", DOT).is_err());
    }

    #[test]
    fn a_comma_between_other_than_three_digits_is_not_a_number() {
        for bad in [
            "12,50", "1.234,56", "1,2345", ",123", "1,23,456", "1 234.56", "12.", "1e5", "--5",
        ] {
            assert!(amount(bad, DOT).is_err(), "{bad} must be quarantined");
        }
    }

    #[test]
    fn decimal_comma_reads_dots_and_spaces_as_thousands() {
        assert_eq!(amount("1.234,56", COMMA).unwrap(), Some(1234.56));
        assert_eq!(amount("12,50", COMMA).unwrap(), Some(12.5));
        assert_eq!(amount("1 234,5 €", COMMA).unwrap(), Some(1234.5));
        assert_eq!(amount("1.234.567", COMMA).unwrap(), Some(1234567.0));
        for bad in ["12.50", "1,234.56", "1.23,4", "1.234 567"] {
            assert!(amount(bad, COMMA).is_err(), "{bad} must be quarantined");
        }
    }

    #[test]
    fn counts_are_whole() {
        assert_eq!(
            count("\"9,380\"".trim_matches('"'), DOT).unwrap(),
            Some(9380)
        );
        assert!(count("1.5", DOT).is_err());
    }
}
