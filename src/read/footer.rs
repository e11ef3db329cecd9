//! Footer rows below an export's data (SPEC §4.5): totals and signature
//! blocks, which a report screen adds and which are not data.

use crate::spec::token::normalize_token;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Footer {
    /// `Tổng cộng`, `Cộng`, `Total`: a totals row (also between groups).
    Totals,
    /// `Người lập biểu`, `Thủ trưởng đơn vị`, `Ký tên`: the rest of the file
    /// is the signature block.
    Signatures,
}

/// Whether a record is a report's footer row: a totals phrase in its first
/// non-empty cell (`Tổng cộng`, `Tổng số …`, `Cộng:`, `Total`; not a name
/// such as `Cộng Hòa` or `Tổng cục Thuế`), or a signature title in its first
/// cell or, in a sparse row (titles stand apart), any cell. Data rows pay
/// one byte test: their first cell is rarely a word.
pub(crate) fn footer_kind(record: &::csv::ByteRecord) -> Option<Footer> {
    // Called for every row: the cells are walked, not collected.
    let cells = || record.iter().map(trim_cell).filter(|c| !c.is_empty());
    let may_be_title = |c: &[u8]| {
        matches!(
            c.first(),
            Some(b'T' | b't' | b'C' | b'c' | b'N' | b'n' | b'K' | b'k')
        )
    };
    let words = |c: &[u8]| normalize_token(&String::from_utf8_lossy(c));
    // A phrase alone, or followed by ':' (`Cộng: 4 đơn vị`); the two-word
    // phrases also by more words (`Tổng cộng 5 hồ sơ`).
    let is_phrase = |cell: &str, phrase: &str, open: bool| {
        cell.strip_prefix(phrase).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with(':')
                || rest.starts_with("_:")
                || (open && rest.starts_with('_'))
        })
    };
    let first = cells().next()?;
    if may_be_title(first) {
        let first = words(first);
        let totals = [
            ("tong_cong", true),
            ("tong_so", true),
            ("tong", false),
            ("cong", false),
            ("total", false),
        ];
        if totals.iter().any(|(p, open)| is_phrase(&first, p, *open)) {
            return Some(Footer::Totals);
        }
    }
    let signature = ["nguoi_lap_bieu", "thu_truong_don_vi", "ky_ten"];
    let titled =
        |c: &[u8]| may_be_title(c) && signature.iter().any(|p| is_phrase(&words(c), p, true));
    let sparse = cells().nth(3).is_none();
    let signed = if sparse {
        cells().any(titled)
    } else {
        titled(first)
    };
    signed.then_some(Footer::Signatures)
}

/// A cell without the spaces around it, the no-break space included (Excel
/// pads numbers and blank cells with it).
pub(crate) fn trim_cell(cell: &[u8]) -> &[u8] {
    let mut cell = cell.trim_ascii();
    while let Some(rest) = cell.strip_prefix("\u{a0}".as_bytes()) {
        cell = rest.trim_ascii();
    }
    while let Some(rest) = cell.strip_suffix("\u{a0}".as_bytes()) {
        cell = rest.trim_ascii();
    }
    cell
}

/// Whether a record holds nothing but spaces: a blank line, or a row of
/// empty cells (how Excel saves a blank row).
pub(crate) fn is_blank(record: &::csv::ByteRecord) -> bool {
    record.iter().all(|cell| trim_cell(cell).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_break_spaces_are_spaces() {
        assert_eq!(
            trim_cell(" \u{a0}Tổng cộng\u{a0} ".as_bytes()),
            "Tổng cộng".as_bytes()
        );
        assert!(is_blank(&::csv::ByteRecord::from(vec!["\u{a0}", " ", ""])));
        let totals = ::csv::ByteRecord::from(vec!["\u{a0}", "Tổng cộng:", "", "12"]);
        assert_eq!(footer_kind(&totals), Some(Footer::Totals));
    }
}
