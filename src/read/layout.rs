//! Where an export's header row is and what separates its fields (SPEC
//! §4.5): report screens put titles above the header, group columns under a
//! merged cell in a second header row, and Excel in a Vietnamese locale
//! separates fields with `;`. CSV and workbooks share the search; a CSV
//! tries each delimiter, a workbook's rows come split into cells.

use crate::read::naming::Naming;

/// Rows searched for the header.
pub(crate) const HEADER_SEARCH_ROWS: usize = 30;
/// The delimiters tried, the default first.
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// One row of the search: the line (or sheet row) it is on, and its cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row {
    pub(crate) line: u64,
    pub(crate) cells: Vec<String>,
}

/// The first rows of an export as one way of splitting them reads them.
#[derive(Debug, Clone)]
pub(crate) struct Split {
    /// The CSV delimiter; None for a workbook's cells.
    pub(crate) delimiter: Option<u8>,
    pub(crate) rows: Vec<Row>,
}

/// What the header search found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Which of the splits reads the header.
    pub(crate) split: usize,
    /// Rows above the header row (titles), skipped.
    pub(crate) skipped: usize,
    /// 1, or 2 for a header whose group cells stand above its column names.
    pub(crate) header_rows: usize,
}

/// Where the search looks and what it must find.
#[derive(Clone, Copy)]
pub(crate) struct Search<'a> {
    pub(crate) naming: &'a Naming,
    /// A required column the command line gives a value for.
    pub(crate) supplied: Option<usize>,
    /// A profile's `header_row`: the header's line, not searched for.
    pub(crate) at: Option<u64>,
}

/// The first of the rows that names every required column of the feed —
/// alone, or joined with the row below it as a two-row header — read by
/// the split that names the most columns there; or why there is none, in
/// one sentence.
pub(crate) fn find(splits: &[Split], search: Search) -> Result<Layout, String> {
    let rows_read = splits.iter().map(|s| s.rows.len()).max().unwrap_or(0);
    for row in 0..rows_read {
        if search.at.is_some_and(|at| {
            splits
                .iter()
                .all(|s| s.rows.get(row).is_none_or(|r| r.line != at))
        }) {
            continue;
        }
        // Of a one-row and a two-row reading that both qualify, the one
        // naming more columns: a group over optional columns (`Kết quả`
        // above `Điện tử`, `Có ký số`) leaves the top row complete alone.
        let one = best_split(splits, row, 1, search);
        let two = best_split(splits, row, 2, search);
        let found = match (one, two) {
            (Some(one), Some(two)) if two.1 > one.1 => Some((two.0, 2)),
            (Some(one), _) => Some((one.0, 1)),
            (None, Some(two)) => Some((two.0, 2)),
            (None, None) => None,
        };
        if let Some((split, header_rows)) = found {
            return Ok(Layout {
                split,
                skipped: row,
                header_rows,
            });
        }
    }
    Err(why_not(splits, search))
}

/// The split whose `header_rows` rows from `row` name every required
/// column, naming the most columns (the earlier split on a tie); with how
/// many columns it names.
fn best_split(
    splits: &[Split],
    row: usize,
    header_rows: usize,
    search: Search,
) -> Option<(usize, usize)> {
    splits
        .iter()
        .enumerate()
        .filter_map(|(i, split)| {
            let rows = split.rows.get(row..row + header_rows)?;
            // A title above a one-row header joins into a header too: the
            // row below alone comes first.
            if header_rows == 2
                && Names::of(&header_names(&rows[1..], search.naming), search)
                    .missing
                    .is_empty()
            {
                return None;
            }
            Some((i, Names::of(&header_names(rows, search.naming), search)))
        })
        .filter(|(_, names)| names.missing.is_empty())
        .max_by_key(|(i, names)| (names.known, std::cmp::Reverse(*i)))
        .map(|(i, names)| (i, names.known))
}

/// The names of a header of one or two rows. In a two-row header a group
/// cell (`Ngày`, merged over the columns below it) stands above the names
/// it groups (`Tiếp nhận`, `Hẹn trả`) and reads into each (`Ngày tiếp
/// nhận`); a name that means nothing joined but something alone (`Mã hồ
/// sơ` under `Thông tin hồ sơ`) is kept alone; a cell merged down the two
/// rows (`STT`) is the top one.
pub(crate) fn header_names(rows: &[Row], naming: &Naming) -> Vec<String> {
    let [top, bottom] = rows else {
        return rows.first().map(|r| r.cells.clone()).unwrap_or_default();
    };
    let width = top.cells.len().max(bottom.cells.len());
    let cell = |row: &Row, i: usize| row.cells.get(i).map_or("", |c| c.trim()).to_string();
    let mut group = String::new();
    (0..width)
        .map(|i| {
            let (above, below) = (cell(top, i), cell(bottom, i));
            if !above.is_empty() {
                group = above.clone();
            } else if below.is_empty() {
                group.clear();
            }
            if below.is_empty() {
                return above;
            }
            let joined = format!("{group} {below}");
            match (naming.column(&joined), naming.column(&below)) {
                (None, Some(_)) => below,
                _ if group.is_empty() => below,
                _ => joined,
            }
        })
        .collect()
}

/// A CSV export's first rows split on `forced`, or on each delimiter.
pub(crate) fn csv_splits(prefix: &[u8], forced: Option<u8>) -> Vec<Split> {
    let delimiters: Vec<u8> = match forced {
        Some(d) => vec![d],
        None => DELIMITERS.to_vec(),
    };
    delimiters
        .into_iter()
        .map(|d| Split {
            delimiter: Some(d),
            rows: csv_rows(prefix, d),
        })
        .collect()
}

/// The first rows of `prefix` split on `delimiter` (blank lines skipped,
/// as the reader skips them).
fn csv_rows(prefix: &[u8], delimiter: u8) -> Vec<Row> {
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
        .map(|r| Row {
            line: r.position().map_or(0, |p| p.line()),
            cells: r
                .iter()
                .map(|c| String::from_utf8_lossy(c).trim().to_string())
                .collect(),
        })
        .collect()
}

/// How a row reads as a header of the feed.
struct Names {
    /// Distinct feed columns it names.
    known: usize,
    missing: Vec<&'static str>,
}

impl Names {
    fn of(cells: &[String], search: Search) -> Names {
        let feed = search.naming.feed;
        let mut named: Vec<usize> = cells
            .iter()
            .filter_map(|c| search.naming.column(c))
            .collect();
        named.sort_unstable();
        named.dedup();
        let missing = feed
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && !named.contains(i) && search.supplied != Some(*i))
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
fn why_not(splits: &[Split], search: Search) -> String {
    let feed = search.naming.feed;
    let likeliest = splits
        .iter()
        .flat_map(|split| {
            split.rows.iter().enumerate().map(move |(i, row)| {
                let names = Names::of(&row.cells, search);
                (i, row.line, split.delimiter, names)
            })
        })
        .filter(|(_, _, _, names)| names.known > 0)
        .max_by_key(|(i, _, d, names)| (names.known, std::cmp::Reverse((*i, d.map_or(0, rank)))));
    if let Some((row, line, delimiter, names)) = likeliest {
        let mut why = format!(
            "the header lacks required column(s) {} of feed {}",
            names.missing.join(", "),
            feed.name
        );
        match delimiter {
            Some(d) if row > 0 || d != b',' => why.push_str(&format!(
                " (the header found is row {} split on {})",
                row + 1,
                shown(d)
            )),
            None if row > 0 => why.push_str(&format!(" (the header found is row {line})")),
            _ => {}
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
    if let Some(at) = search.at {
        return format!(
            "row {at} (the profile's header_row) names no column of feed {}",
            feed.name
        );
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
    let one_column = splits.first().is_some_and(|s| {
        s.delimiter == Some(b',') && s.rows.iter().all(|row| row.cells.len() <= 1)
    });
    let wider = splits
        .iter()
        .skip(1)
        .filter_map(|s| Some((s.delimiter?, s.rows.first()?.cells.len())))
        .find(|(_, width)| *width > 1);
    if let (true, Some((delimiter, width))) = (one_column, wider) {
        why.push_str(&format!(
            "; split on ',' every row is one column, split on {} the first has {width}",
            shown(delimiter)
        ));
    }
    why
}

/// Earlier delimiters win ties.
fn rank(delimiter: u8) -> usize {
    DELIMITERS
        .iter()
        .position(|d| *d == delimiter)
        .unwrap_or(DELIMITERS.len())
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
    use crate::spec::feeds::{Feed, FeedDef};

    fn detect(csv: &str, feed: &'static FeedDef, forced: Option<u8>) -> Result<Layout, String> {
        let naming = Naming::of(feed);
        let search = Search {
            naming: &naming,
            supplied: None,
            at: None,
        };
        find(&csv_splits(csv.as_bytes(), forced), search)
    }

    fn layout(split: usize, skipped: usize, header_rows: usize) -> Result<Layout, String> {
        Ok(Layout {
            split,
            skipped,
            header_rows,
        })
    }

    #[test]
    fn the_header_is_the_first_row_naming_every_required_column() {
        let units = Feed::Units.def();
        let csv = "SỔ THEO DÕI ĐƠN VỊ\nTừ ngày 01/01/2025 đến ngày 31/03/2025\n\nSTT;Mã đơn vị;Tên đơn vị;Cấp\n1;001;Ba Đình;Quận\n";
        // Split 1 is ';'. (Unmarked, the blank line is no row.)
        assert_eq!(detect(csv, units, None), layout(1, 2, 1));
        let plain = "unit_code,name,level\n001,Ba Đình,district\n";
        assert_eq!(detect(plain, units, None), layout(0, 0, 1));
        assert_eq!(
            detect("unit_code,name\n", units, None),
            Err("the header lacks required column(s) level of feed units".into())
        );
        let other = detect("a;b;c\n1;2;3\n", units, None).unwrap_err();
        assert!(
            other.starts_with("no row among the first 30 names a column of feed units")
                && other.ends_with(
                    "split on ',' every row is one column, split on ';' the first has 3"
                ),
            "{other}"
        );
        let forced = detect(plain, units, Some(b';')).unwrap_err();
        assert!(forced.starts_with("no row among the first 30"), "{forced}");
        assert_eq!(
            detect("Báo cáo\nunit_code;name\n", units, None),
            Err("the header lacks required column(s) level of feed units (the header found is row 2 split on ';')".into())
        );
        assert_eq!(
            detect("Báo cáo\nunit_code;name;level\n", units, None),
            layout(1, 1, 1)
        );
    }

    #[test]
    fn a_group_over_optional_columns_still_makes_two_header_rows() {
        let dossiers = Feed::Dossiers.def();
        let csv = "Mã hồ sơ;Mã thủ tục;Mã đơn vị;Hình thức nộp;Trạng thái;Ngày tiếp nhận;Ngày cập nhật;Kết quả;\n\
            ;;;;;;;Điện tử;Có ký số\n\
            H1;P1;U1;Trực tuyến;Đang xử lý;05/03/2025;05/03/2025;Có;Không\n";
        assert_eq!(detect(csv, dossiers, None), layout(1, 0, 2));
        // A data row below a header is no second header row.
        let plain = "Mã hồ sơ;Mã thủ tục;Mã đơn vị;Hình thức nộp;Trạng thái;Ngày tiếp nhận;Ngày cập nhật\n\
            H1;P1;U1;Trực tuyến;Đang xử lý;05/03/2025;05/03/2025\n";
        assert_eq!(detect(plain, dossiers, None), layout(1, 0, 1));
    }

    #[test]
    fn a_group_cell_above_its_columns_reads_into_each_name() {
        let dossiers = Feed::Dossiers.def();
        let csv = "SỔ THEO DÕI HỒ SƠ\n\
            STT;Thông tin hồ sơ;;;Hình thức nộp;Ngày;;;;Trạng thái\n\
            ;Mã hồ sơ;Mã thủ tục;Mã đơn vị;;Tiếp nhận;Hẹn trả;Có kết quả;Cập nhật;\n\
            1;H1;P1;U1;Trực tuyến;05/03/2025;10/03/2025;;05/03/2025;Đang xử lý\n";
        let found = detect(csv, dossiers, None);
        assert_eq!(found, layout(1, 1, 2), "{found:?}");
        let splits = csv_splits(csv.as_bytes(), Some(b';'));
        let names = header_names(&splits[0].rows[1..3], &Naming::of(dossiers));
        assert_eq!(
            names,
            [
                "STT",
                "Mã hồ sơ",
                "Mã thủ tục",
                "Mã đơn vị",
                "Hình thức nộp",
                "Ngày Tiếp nhận",
                "Ngày Hẹn trả",
                "Ngày Có kết quả",
                "Ngày Cập nhật",
                "Trạng thái"
            ]
        );
    }
}
