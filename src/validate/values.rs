//! Parsers for single values as SPEC §4 accepts them: enum tokens with or
//! without Vietnamese diacritics, booleans, whole numbers with thousands
//! separators and a currency suffix, and KPI targets. Timestamps live in
//! `time`.

use std::collections::HashMap;

use crate::spec::enums::EnumDef;
pub(crate) use crate::spec::token::normalize_token;

/// Matches tokens against one enum's values and aliases, caching what it has
/// seen so a column of repeated values costs one hash lookup a row.
#[derive(Debug)]
pub(crate) struct EnumMatcher {
    pub(crate) def: &'static EnumDef,
    pub(crate) seen: HashMap<String, Option<u8>>,
    normalized: Vec<(String, u8)>,
}

const CACHE_LIMIT: usize = 4096;

impl EnumMatcher {
    pub fn new(def: &'static EnumDef) -> Self {
        let mut normalized = Vec::new();
        for (i, (name, aliases)) in def.values.iter().enumerate() {
            normalized.push((normalize_token(name), i as u8));
            for alias in *aliases {
                normalized.push((normalize_token(alias), i as u8));
            }
        }
        EnumMatcher {
            def,
            seen: HashMap::new(),
            normalized,
        }
    }

    pub fn def(&self) -> &'static EnumDef {
        self.def
    }

    /// The index of the canonical value, or None when the token matches nothing.
    pub fn parse(&mut self, raw: &str) -> Option<u8> {
        // Exports mostly write the canonical value: a few short comparisons
        // beat hashing the text.
        if let Some(i) = self.def.values.iter().position(|(name, _)| *name == raw) {
            return Some(i as u8);
        }
        if let Some(hit) = self.seen.get(raw) {
            return *hit;
        }
        let token = normalize_token(raw);
        let hit = self
            .normalized
            .iter()
            .find(|(name, _)| *name == token)
            .map(|(_, i)| *i);
        if self.seen.len() < CACHE_LIMIT {
            self.seen.insert(raw.to_string(), hit);
        }
        hit
    }

    pub fn error(&self, raw: &str) -> String {
        let token = normalize_token(raw);
        if let Some((_, why)) = self
            .def
            .ambiguous
            .iter()
            .find(|(spelling, _)| normalize_token(spelling) == token)
        {
            return format!("'{raw}' is ambiguous as a {}: {why}", self.def.name);
        }
        format!(
            "'{}' is not a {} (expected one of: {})",
            raw,
            self.def.name,
            self.def.names().join(", ")
        )
    }
}

/// `true/false`, `1/0`, `yes/no`, `có/không`, matched after normalizing.
pub(crate) fn parse_bool(raw: &str) -> Result<bool, String> {
    // The common spellings (the Vietnamese ones precomposed), without
    // normalizing, which allocates and decomposes.
    match raw {
        "1" | "true" | "TRUE" | "True" | "yes" | "Yes" | "có" | "Có" | "CÓ" => return Ok(true),
        "0" | "false" | "FALSE" | "False" | "no" | "No" | "không" | "Không" | "KHÔNG" => {
            return Ok(false);
        }
        _ => {}
    }
    match normalize_token(raw).as_str() {
        "true" | "1" | "yes" | "co" => Ok(true),
        "false" | "0" | "no" | "khong" => Ok(false),
        _ => Err(format!(
            "'{raw}' is not a boolean (expected true/false, 1/0, yes/no or có/không)"
        )),
    }
}

/// A whole number as Vietnamese exports write it: an optional sign, digits
/// optionally grouped by threes with `.`, `,` or a space, and an optional
/// trailing `đ`, `d` or `VND`. A fraction is an error.
pub(crate) fn parse_int(raw: &str) -> Result<i64, String> {
    let body = strip_currency(raw.trim());
    let (negative, digits) = match body.as_bytes().first() {
        Some(b'-') => (true, body[1..].trim_start()),
        Some(b'+') => (false, body[1..].trim_start()),
        _ => (false, body),
    };
    if digits.is_empty() {
        return Err(format!("'{raw}' is not a whole number"));
    }
    if is_scientific(digits) {
        return Err(format!(
            "'{raw}' is in scientific notation, as Excel shows long numbers; format the column as a number or as text in the workbook and export it again"
        ));
    }
    let digits = without_zero_decimals(digits)
        .map_err(|()| format!("'{raw}' has a fraction; amounts are whole numbers (whole đồng)"))?;
    let separators: Vec<char> = digits.chars().filter(|c| !c.is_ascii_digit()).collect();
    let plain: String = if separators.is_empty() {
        digits.to_string()
    } else {
        let sep = separators[0];
        let all_same = separators.iter().all(|c| *c == sep);
        let groups: Vec<&str> = digits.split(sep).collect();
        let grouped = all_same
            && matches!(sep, '.' | ',' | ' ')
            && groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit()))
            && (1..=3).contains(&groups[0].len())
            && groups[1..].iter().all(|g| g.len() == 3);
        if !grouped {
            let looks_fractional = separators.len() == 1
                && matches!(sep, '.' | ',')
                && groups
                    .iter()
                    .all(|g| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit()));
            return Err(if looks_fractional {
                format!("'{raw}' has a fraction; amounts are whole numbers (whole đồng)")
            } else {
                format!("'{raw}' is not a whole number")
            });
        }
        groups.concat()
    };
    let value: i64 = plain
        .parse()
        .map_err(|_| format!("'{raw}' is not a whole number that fits in 64 bits"))?;
    Ok(if negative { -value } else { value })
}

/// `1.5E+06`, `2e9`: digits with one decimal mark, then an exponent.
pub(crate) fn is_scientific(s: &str) -> bool {
    let Some((mantissa, exponent)) = s.split_once(['e', 'E']) else {
        return false;
    };
    let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
    !mantissa.is_empty()
        && mantissa
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && !exponent.is_empty()
        && exponent.bytes().all(|b| b.is_ascii_digit())
}

/// A vi-VN decimal comma with only zeros after it dropped (`1.500.000,00`,
/// `1500000,0`); an error for a comma fraction that is not zero. Three
/// digits after a lone comma are a thousands group (`1,500`), not a fraction.
fn without_zero_decimals(s: &str) -> Result<&str, ()> {
    let Some((whole, fraction)) = s.rsplit_once(',') else {
        return Ok(s);
    };
    let decimal = !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !whole.contains(',')
        && (fraction.len() != 3 || whole.contains('.'));
    match decimal {
        false => Ok(s),
        true if fraction.bytes().all(|b| b == b'0') => Ok(whole),
        true => Err(()),
    }
}

fn strip_currency(s: &str) -> &str {
    for suffix in ["VND", "vnd", "Vnd", "đ", "Đ", "d", "D"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            return rest.trim_end();
        }
    }
    s
}

/// A target: a plain number, or a percentage with its sign. Returns the value
/// and whether it was written as a percentage (already divided by 100).
pub(crate) fn parse_target(raw: &str) -> Result<(f64, bool), String> {
    let s = raw.trim();
    let (number, percent) = match s.strip_suffix('%') {
        Some(rest) => (rest.trim_end(), true),
        None => (s, false),
    };
    // A vi-VN decimal comma (`80,5%`, `0,95`), when it is the only mark and
    // is not a thousands group (`10,000` stays refused, not read as 10).
    let decimal_comma = number.matches(',').count() == 1
        && !number.contains('.')
        && (percent || number.rsplit(',').next().is_some_and(|f| f.len() != 3));
    let number = match decimal_comma {
        true => std::borrow::Cow::Owned(number.replace(',', ".")),
        false => std::borrow::Cow::Borrowed(number),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{raw}' is not a number or a percentage such as 95%"))?;
    if !value.is_finite() {
        return Err(format!("'{raw}' is not a finite number"));
    }
    Ok(if percent {
        (value / 100.0, true)
    } else {
        (value, false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vi_vn_numbers_take_a_zero_decimal_comma_and_scientific_notation_is_named() {
        assert_eq!(parse_int("1.500.000,00"), Ok(1_500_000));
        assert_eq!(parse_int("1500000,0 đ"), Ok(1_500_000));
        assert_eq!(
            parse_int("1,500"),
            Ok(1_500),
            "a thousands group, not a fraction"
        );
        assert_eq!(
            parse_int("1.500,000"),
            Ok(1_500),
            "a comma after dot groups is decimal"
        );
        assert_eq!(
            parse_int("1.500.000,50"),
            Err("'1.500.000,50' has a fraction; amounts are whole numbers (whole đồng)".into())
        );
        let sci = parse_int("1.5E+06").unwrap_err();
        assert!(
            sci.starts_with("'1.5E+06' is in scientific notation"),
            "{sci}"
        );
        assert_eq!(
            parse_int("1,500.00"),
            Err("'1,500.00' is not a whole number".into())
        );
        let (value, percent) = parse_target("80,5%").unwrap();
        assert!((value - 0.805).abs() < 1e-12 && percent, "{value}");
        assert_eq!(parse_target("0,95"), Ok((0.95, false)));
        assert!(parse_target("1,000.5").is_err());
        assert!(parse_target("10,000").is_err(), "a thousands group, not 10");
    }

    #[test]
    fn tokens_normalize_across_diacritics_case_and_separators() {
        assert_eq!(normalize_token("Trực tuyến"), "truc_tuyen");
        assert_eq!(normalize_token("TRUC_TUYEN"), "truc_tuyen");
        assert_eq!(normalize_token("truc-tuyen"), "truc_tuyen");
        assert_eq!(normalize_token("Đồng"), "dong");
        assert_eq!(normalize_token("Có"), "co");
        assert_eq!(normalize_token("Không"), "khong");
    }

    #[test]
    fn booleans_read_the_same_whether_or_not_they_take_the_fast_path() {
        // Precomposed (fast path) and decomposed (normalized) có / không.
        let decomposed_co = "co\u{301}";
        let decomposed_khong = "kho\u{302}ng";
        for yes in ["1", "true", "Yes", "có", "CÓ", decomposed_co, "YES", " Có "] {
            assert_eq!(parse_bool(yes.trim()), Ok(true), "{yes:?}");
        }
        for no in [
            "0",
            "False",
            "no",
            "không",
            "KHÔNG",
            decomposed_khong,
            "Khong",
        ] {
            assert_eq!(parse_bool(no), Ok(false), "{no:?}");
        }
        assert!(parse_bool("maybe").unwrap_err().contains("not a boolean"));
    }

    #[test]
    fn integers_accept_vietnamese_grouping_and_currency() {
        assert_eq!(parse_int("1.500.000"), Ok(1_500_000));
        assert_eq!(parse_int("1,500,000"), Ok(1_500_000));
        assert_eq!(parse_int("1 500 000 đ"), Ok(1_500_000));
        assert_eq!(parse_int("20000VND"), Ok(20_000));
        assert_eq!(parse_int("20000d"), Ok(20_000));
        assert_eq!(parse_int("-5"), Ok(-5));
        assert!(parse_int("1.5").unwrap_err().contains("fraction"));
        assert!(parse_int("1500,50").unwrap_err().contains("fraction"));
        assert!(parse_int("1.50.000").is_err());
        assert!(parse_int("1,500.000").is_err());
        assert!(parse_int("abc").is_err());
        assert!(parse_int("đ").is_err());
    }

    #[test]
    fn targets_take_fractions_and_percentages() {
        assert_eq!(parse_target("0.95"), Ok((0.95, false)));
        assert_eq!(parse_target("95%"), Ok((0.95, true)));
        assert_eq!(parse_target("1200"), Ok((1200.0, false)));
        assert!(parse_target("high").is_err());
    }
}
