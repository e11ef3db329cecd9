//! Where a CSV export's header row is and what separates its fields
//! (SPEC §4.5): report screens put titles above the header, and Excel in a
//! Vietnamese locale separates fields with `;`.

use crate::spec::feeds::FeedDef;

/// Rows searched for the header.
pub(crate) const HEADER_SEARCH_ROWS: usize = 30;
/// The delimiters tried, the default first.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// What the header search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    pub(crate) delimiter: u8,
    /// Records above the header row (titles), skipped.
    pub(crate) skipped: usize,
}

/// The first of the first rows of `prefix` that names every required column
/// of `feed`, split on `forced` or on the delimiter that names the most
/// columns there; or why there is none, in one sentence.
/// `supplied`: a required column the command line gives a value for.
pub(crate) fn detect(
    prefix: &[u8],
    feed: &FeedDef,
    forced: Option<u8>,
    supplied: Option<usize>,
) -> Result<Layout, String> {
    let delimiters: Vec<u8> = match forced {
        Some(d) => vec![d],
        None => DELIMITERS.to_vec(),
    };
    let splits: Vec<(u8, Vec<Vec<String>>)> =
        delimiters.iter().map(|&d| (d, rows(prefix, d))).collect();
    let rows_read = splits.first().map_or(0, |(_, r)| r.len());
    for row in 0..rows_read {
        let best = splits
            .iter()
            .filter_map(|(d, rows)| {
                rows.get(row)
                    .map(|cells| (*d, Names::of(cells, feed, supplied)))
            })
            .filter(|(_, names)| names.missing.is_empty())
            .max_by_key(|(d, names)| (names.known, std::cmp::Reverse(rank(*d))));
        if let Some((delimiter, _)) = best {
            return Ok(Layout {
                delimiter,
                skipped: row,
            });
        }
    }
    Err(why_not(&splits, feed, supplied))
}

/// Earlier delimiters win ties.
fn rank(delimiter: u8) -> usize {
    DELIMITERS
        .iter()
        .position(|d| *d == delimiter)
        .unwrap_or(DELIMITERS.len())
}

/// The first rows of `prefix` split on `delimiter` (blank lines skipped,
/// as the reader skips them).
fn rows(prefix: &[u8], delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_reader(prefix);
    reader
        .byte_records()
        .take(HEADER_SEARCH_ROWS)
        .map_while(|r| r.ok())
        .map(|r| {
            r.iter()
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .collect()
        })
        .collect()
}

/// How a row reads as a header of `feed`.
struct Names {
    /// Distinct feed columns it names.
    known: usize,
    missing: Vec<&'static str>,
}

impl Names {
    fn of(cells: &[String], feed: &FeedDef, supplied: Option<usize>) -> Names {
        let mut named: Vec<usize> = cells
            .iter()
            .filter_map(|c| feed.column_for_header(c))
            .collect();
        named.sort_unstable();
        named.dedup();
        let missing = feed
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && !named.contains(i) && supplied != Some(*i))
            .map(|(_, c)| c.name)
            .collect();
        Names {
            known: named.len(),
            missing,
        }
    }
}

/// Why no header was found: the required columns the likeliest header row
/// lacks; when no row names any column, what the rows split into.
fn why_not(splits: &[(u8, Vec<Vec<String>>)], feed: &FeedDef, supplied: Option<usize>) -> String {
    let likeliest = splits
        .iter()
        .flat_map(|(d, rows)| {
            rows.iter()
                .enumerate()
                .map(move |(i, cells)| (i, *d, Names::of(cells, feed, supplied)))
        })
        .filter(|(_, _, names)| names.known > 0)
        .max_by_key(|(i, d, names)| (names.known, std::cmp::Reverse((*i, rank(*d)))));
    if let Some((row, delimiter, names)) = likeliest {
        let mut why = format!(
            "the header lacks required column(s) {} of feed {}",
            names.missing.join(", "),
            feed.name
        );
        if row > 0 || delimiter != b',' {
            why.push_str(&format!(
                " (the header found is row {} split on {})",
                row + 1,
                shown(delimiter)
            ));
        }
        // A tracking book has no updated_at: it is a snapshot of its day.
        if let Some((_, version)) = feed.current_by
            && names.missing.contains(&version)
        {
            why.push_str(&format!(
                "; an export without {version} needs --exported-at TIMESTAMP, when it was exported"
            ));
        }
        return why;
    }
    let required: Vec<&str> = feed
        .columns
        .iter()
        .filter(|c| c.required)
        .map(|c| c.name)
        .collect();
    let mut why = format!(
        "no row among the first {HEADER_SEARCH_ROWS} names a column of feed {} (it needs {}; `motcua feeds` lists the headers each column accepts)",
        feed.name,
        required.join(", ")
    );
    let one_column = splits
        .first()
        .is_some_and(|(_, rows)| rows.iter().all(|cells| cells.len() <= 1));
    let wider = splits
        .iter()
        .skip(1)
        .filter_map(|(d, rows)| Some((*d, rows.first()?.len())))
        .find(|(_, width)| *width > 1);
    if let (true, Some((delimiter, width))) = (one_column, wider) {
        why.push_str(&format!(
            "; split on ',' every row is one column, split on {} the first has {width}",
            shown(delimiter)
        ));
    }
    why
}

/// A delimiter as a message names it.
pub(crate) fn shown(delimiter: u8) -> String {
    match delimiter {
        b'\t' => "tab".to_string(),
        d => format!("'{}'", d as char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::feeds::Feed;

    #[test]
    fn the_header_is_the_first_row_naming_every_required_column() {
        let units = Feed::Units.def();
        let csv = "SỔ THEO DÕI ĐƠN VỊ\nTừ ngày 01/01/2025 đến ngày 31/03/2025\n\nSTT;Mã đơn vị;Tên đơn vị;Cấp\n1;001;Ba Đình;Quận\n";
        assert_eq!(
            detect(csv.as_bytes(), units, None, None),
            Ok(Layout {
                delimiter: b';',
                skipped: 2
            })
        );
        let plain = "unit_code,name,level\n001,Ba Đình,district\n";
        assert_eq!(
            detect(plain.as_bytes(), units, None, None),
            Ok(Layout {
                delimiter: b',',
                skipped: 0
            })
        );
        assert_eq!(
            detect("unit_code,name\n".as_bytes(), units, None, None),
            Err("the header lacks required column(s) level of feed units".into())
        );
        let other = detect("a;b;c\n1;2;3\n".as_bytes(), units, None, None).unwrap_err();
        assert!(
            other.starts_with("no row among the first 30 names a column of feed units")
                && other.ends_with(
                    "split on ',' every row is one column, split on ';' the first has 3"
                ),
            "{other}"
        );
        let forced = detect(plain.as_bytes(), units, Some(b';'), None).unwrap_err();
        assert!(forced.starts_with("no row among the first 30"), "{forced}");
        let titled = "Báo cáo\nunit_code;name;level\n";
        assert_eq!(
            detect("Báo cáo\nunit_code;name\n".as_bytes(), units, None, None),
            Err("the header lacks required column(s) level of feed units (the header found is row 2 split on ';')".into())
        );
        assert_eq!(
            detect(titled.as_bytes(), units, None, None).map(|l| l.skipped),
            Ok(1)
        );
    }
}
