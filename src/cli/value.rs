//! How flag values become typed values: every parser returns motcua's own
//! error, so a refused value gets the same one sentence and exit code as
//! any other failure (`refused`), and enums list their values in `--help`.

use std::ffi::OsStr;
use std::marker::PhantomData;
use std::str::FromStr;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Arg, Command, ValueEnum};

use super::print::OutputFormat;
use crate::error::{Error, Result};
use crate::read::Format;
use crate::spec::feeds::{ALL_FEEDS, Feed};
use crate::spec::grain::Grain;

/// A value read with its type's `FromStr`.
pub(crate) fn parsed<T: FromStr<Err = Error>>(text: &str) -> Result<T> {
    text.parse()
}

/// `--from YYYY-MM-DD`.
pub(crate) fn from_date(text: &str) -> Result<chrono::NaiveDate> {
    date("--from", text)
}

/// `--to YYYY-MM-DD`.
pub(crate) fn to_date(text: &str) -> Result<chrono::NaiveDate> {
    date("--to", text)
}

/// `--units-as-of YYYY-MM-DD`.
pub(crate) fn units_as_of(text: &str) -> Result<chrono::NaiveDate> {
    date("--units-as-of", text)
}

fn date(flag: &str, text: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::Usage(format!("{flag} {text}: write a date as YYYY-MM-DD")))
}

/// `2GiB`, `512MiB`, `1.5GB` (decimal: 10^9), or plain bytes; more than 0.
pub(crate) fn bytes(text: &str) -> Result<usize> {
    let bad = || {
        Error::Usage(format!(
            "--memory-limit {text}: use a positive size such as 2GiB, 512MiB or 2GB"
        ))
    };
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let bytes = value * factor;
    if !bytes.is_finite() || bytes < 1.0 || bytes > usize::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as usize)
}

pub(crate) fn query_timeout(text: &str) -> Result<std::time::Duration> {
    duration("--query-timeout", text)
}

pub(crate) fn queue_timeout(text: &str) -> Result<std::time::Duration> {
    duration("--queue-timeout", text)
}

/// `30s`, `5m`, `1h 30m`: a positive duration.
fn duration(flag: &str, text: &str) -> Result<std::time::Duration> {
    match humantime::parse_duration(text.trim()) {
        Ok(d) if !d.is_zero() => Ok(d),
        _ => Err(Error::Usage(format!(
            "{flag} {text}: use a positive duration such as 30s, 5m or 1h"
        ))),
    }
}

/// `--delimiter`: one of the characters exports separate fields with.
pub(crate) fn delimiter(text: &str) -> Result<u8> {
    match text {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "tab" | "\t" => Ok(b'\t'),
        "|" => Ok(b'|'),
        _ => Err(Error::Usage(format!(
            "--delimiter {text}: use ',', ';', 'tab' or '|'"
        ))),
    }
}

/// `--lake`: a folder, or `s3://BUCKET/PREFIX`.
pub(crate) fn location(text: &str) -> Result<crate::Location> {
    crate::Location::parse(text)
}

/// `--param name=value`.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: String,
}

pub(crate) fn param(text: &str) -> Result<Param> {
    text.split_once('=')
        .map(|(n, v)| Param {
            name: n.trim().trim_start_matches('$').to_string(),
            value: v.to_string(),
        })
        .ok_or_else(|| Error::Usage(format!("--param {text}: write it as name=value")))
}

/// The parser of an enum motcua names: its `FromStr` (aliases and motcua's
/// error included), with the canonical values listed in `--help`.
#[derive(Clone)]
pub(crate) struct Named<T>(PhantomData<T>);

impl<T> Named<T> {
    pub(crate) fn new() -> Self {
        Named(PhantomData)
    }
}

impl<T> TypedValueParser for Named<T>
where
    T: ValueEnum + FromStr<Err = Error> + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &Command,
        arg: Option<&Arg>,
        value: &OsStr,
    ) -> std::result::Result<T, clap::Error> {
        parsed::<T>.parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            T::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value),
        ))
    }
}

/// motcua's error for a flag value clap refused through one of the parsers
/// above; None for clap's own usage errors (a missing argument, `--help`).
pub fn refused(error: &clap::Error) -> Option<&Error> {
    std::error::Error::source(error)?.downcast_ref::<Error>()
}

impl ValueEnum for Feed {
    fn value_variants<'a>() -> &'a [Self] {
        const FEEDS: [Feed; 6] = [
            Feed::Dossiers,
            Feed::PortalEvents,
            Feed::Signatures,
            Feed::Units,
            Feed::Targets,
            Feed::UnitChanges,
        ];
        debug_assert_eq!(FEEDS.len(), ALL_FEEDS.len());
        &FEEDS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Csv, Format::Ndjson, Format::Workbook]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for crate::sample::Style {
    fn value_variants<'a>() -> &'a [Self] {
        use crate::sample::Style;
        &[
            Style::System,
            Style::Canonical,
            Style::Field,
            Style::FieldCsv,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for OutputFormat {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            OutputFormat::Table,
            OutputFormat::Csv,
            OutputFormat::Json,
            OutputFormat::Parquet,
            OutputFormat::Xlsx,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for crate::report::format::Lang {
    fn value_variants<'a>() -> &'a [Self] {
        use crate::report::format::Lang;
        &[Lang::Vi, Lang::En]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for super::report::ReportFormat {
    fn value_variants<'a>() -> &'a [Self] {
        use super::report::ReportFormat;
        &[ReportFormat::Html, ReportFormat::Xlsx]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for Grain {
    fn value_variants<'a>() -> &'a [Self] {
        &Grain::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::{bytes, from_date, param};

    #[test]
    fn dates_and_params_are_read_as_written() {
        assert_eq!(from_date(" 2024-02-29 ").unwrap().to_string(), "2024-02-29");
        let err = from_date("2023-02-29").unwrap_err().to_string();
        assert!(
            err.contains("--from 2023-02-29: write a date as YYYY-MM-DD"),
            "{err}"
        );
        let p = param("$kpi=on_time_rate").unwrap();
        assert_eq!((p.name.as_str(), p.value.as_str()), ("kpi", "on_time_rate"));
        assert_eq!(param("sql=a=b").unwrap().value, "a=b");
        assert!(param("kpi").is_err());
    }

    #[test]
    fn memory_limit_sizes_are_read_as_written_and_must_be_positive() {
        assert_eq!(bytes("2GB").unwrap(), 2_000_000_000);
        assert_eq!(bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(bytes("1.5 mb").unwrap(), 1_500_000);
        assert_eq!(bytes("4096").unwrap(), 4096);
        for bad in ["-1GiB", "0", "0.1", "2 parsecs", "", "NaNGB"] {
            let err = bytes(bad).unwrap_err().to_string();
            assert!(err.contains("use a positive size"), "{bad}: {err}");
        }
    }
}
