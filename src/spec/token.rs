//! How names and tokens are compared: enum values, booleans and export
//! headers match after the same normalization.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// Normalizes an enum or boolean token: NFC, lower case, diacritics removed,
/// `đ` → `d`, runs of spaces and hyphens → one `_`.
pub(crate) fn normalize_token(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let push = |c: char, out: &mut String| {
        if c == ' ' || c == '-' || c == '_' || c.is_whitespace() {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.extend(c.to_lowercase());
        }
    };
    if raw.is_ascii() {
        for c in raw.chars() {
            push(c, &mut out);
        }
    } else {
        // NFD splits a letter from its diacritics so they can be dropped; đ has
        // no decomposition and is mapped by hand.
        for c in raw.nfc().nfd() {
            if is_combining_mark(c) {
                continue;
            }
            let c = match c {
                'đ' | 'Đ' => 'd',
                other => other,
            };
            push(c, &mut out);
        }
    }
    out
}
