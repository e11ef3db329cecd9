//! `motcua feeds`: the feeds reference, or an empty export to fill in.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use super::value::Named;
use crate::error::{Error, Result};
use crate::spec::feeds::{Feed, FeedDef};

/// Print the feeds' columns, types, headers, values and rules (Markdown),
/// or write an empty export of one feed for offices that export by hand.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua feeds > FEEDS.md
  motcua feeds --template dossiers --lang vi --out so-theo-doi.xlsx
  motcua feeds --template units > units.csv")]
pub(super) struct FeedsArgs {
    /// Write an empty export of this feed: its header row, nothing else.
    #[arg(long, value_name = "FEED", value_parser = Named::<Feed>::new())]
    template: Option<Feed>,
    /// The template's headers: the feed's column names (en) or the usual
    /// Vietnamese headers (vi), which motcua reads alike.
    #[arg(long, value_enum, default_value = "en", requires = "template")]
    lang: Lang,
    /// Where to write the template: a .xlsx workbook, or CSV (`;` and a BOM
    /// in Vietnamese, as Excel in a Vietnamese locale saves it); by default
    /// CSV on standard output.
    #[arg(long, value_name = "FILE", requires = "template")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Lang {
    En,
    Vi,
}

pub(super) fn run(args: FeedsArgs) -> Result<()> {
    let Some(feed) = args.template else {
        print!("{}", crate::spec::feeds::render_markdown());
        return Ok(());
    };
    let headers = headers(feed.def(), args.lang);
    if let Some(path) = &args.out
        && !is_xlsx(path)
        && !has_extension(path, &["csv", "tsv", "txt"])
    {
        return Err(Error::Usage(format!(
            "--out {}: a template is written as .xlsx or .csv; name the file so",
            path.display()
        )));
    }
    match &args.out {
        Some(path) if is_xlsx(path) => write_xlsx(path, feed, &headers),
        Some(path) => crate::storage::write_atomic(path, &csv(&headers, args.lang)),
        None => {
            use std::io::Write;
            std::io::stdout()
                .write_all(&csv(&headers, args.lang))
                .map_err(|e| Error::io("standard output", e))
        }
    }?;
    if let Some(path) = &args.out {
        eprintln!(
            "{}: an empty {} export with {} columns; required: {}",
            path.display(),
            feed.name(),
            headers.len(),
            required(feed.def(), args.lang).join(", ")
        );
    }
    Ok(())
}

/// Each column's header: its name, or its first Vietnamese header.
fn headers(def: &FeedDef, lang: Lang) -> Vec<&'static str> {
    def.columns
        .iter()
        .map(|c| match lang {
            Lang::Vi => c.headers.first().copied().unwrap_or(c.name),
            Lang::En => c.name,
        })
        .collect()
}

fn required(def: &FeedDef, lang: Lang) -> Vec<&'static str> {
    let all = headers(def, lang);
    def.columns
        .iter()
        .zip(all)
        .filter(|(c, _)| c.required)
        .map(|(_, h)| h)
        .collect()
}

fn is_xlsx(path: &Path) -> bool {
    has_extension(path, &["xlsx"])
}

fn has_extension(path: &Path, any: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| any.iter().any(|a| e.eq_ignore_ascii_case(a)))
}

/// The header line; in Vietnamese with `;` and a BOM.
fn csv(headers: &[&str], lang: Lang) -> Vec<u8> {
    let (bom, delimiter) = match lang {
        Lang::Vi => ("\u{feff}", b';'),
        Lang::En => ("", b','),
    };
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::CRLF)
        .from_writer(bom.as_bytes().to_vec());
    // Writing to memory cannot fail.
    let _ = writer.write_record(headers);
    writer.into_inner().unwrap_or_default()
}

/// A workbook whose first sheet holds the header row, bold and frozen.
fn write_xlsx(path: &Path, feed: Feed, headers: &[&str]) -> Result<()> {
    use rust_xlsxwriter::{Format, Workbook};
    let fail =
        |e: rust_xlsxwriter::XlsxError| Error::io(path, std::io::Error::other(e.to_string()));
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(feed.name()).map_err(fail)?;
    let bold = Format::new().set_bold();
    for (column, header) in headers.iter().enumerate() {
        sheet
            .write_string_with_format(0, column as u16, *header, &bold)
            .map_err(fail)?;
        sheet
            .set_column_width(column as u16, header.chars().count().max(12) as f64)
            .map_err(fail)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    let bytes = book.save_to_buffer().map_err(fail)?;
    crate::storage::write_atomic(path, &bytes)
}
