//! Values written as offices write them: day-first or ISO times, grouped
//! fees, Vietnamese or code spellings.

use chrono::{DateTime, Datelike, Timelike};

use crate::sample::OFFSET_SECONDS;

/// Formats local seconds as a Vietnamese export would: day-first most of
/// the time, ISO with the +07:00 offset otherwise.
pub(crate) fn format_local(secs: i64, day_first: bool, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    use std::fmt::Write as _;
    if day_first {
        let _ = write!(
            buf,
            "{:02}/{:02}/{} {:02}:{:02}:{:02}",
            t.day(),
            t.month(),
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        );
    } else {
        write_iso(buf, &t, "+07:00");
    }
}

/// The same instant in UTC with `Z`, as the portal exports it.
pub(crate) fn format_utc_z(local_secs: i64, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(local_secs - OFFSET_SECONDS, 0)
        .unwrap_or_default()
        .naive_utc();
    write_iso(buf, &t, "Z");
}

/// `YYYY-MM-DDTHH:MM:SS` and the zone's `suffix`.
fn write_iso(buf: &mut String, t: &chrono::NaiveDateTime, suffix: &str) {
    use std::fmt::Write as _;
    let _ = write!(
        buf,
        "{}-{:02}-{:02}T{:02}:{:02}:{:02}{suffix}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
}

pub(crate) fn format_date(secs: i64, buf: &mut String) {
    buf.clear();
    let t = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    use std::fmt::Write as _;
    let _ = write!(buf, "{:02}/{:02}/{}", t.day(), t.month(), t.year());
}

/// Formats a fee as exports do: plain, or with Vietnamese grouping.
pub(crate) fn format_fee(fee: i64, style: u64) -> String {
    if fee == 0 || style < 6 {
        return fee.to_string();
    }
    let digits = fee.to_string();
    let sep = if style < 8 { '.' } else { ',' };
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// A yes/no column as the office writes it.
pub(crate) fn yes_no(value: bool, vietnamese: bool) -> &'static str {
    match (value, vietnamese) {
        (true, true) => "có",
        (false, true) => "không",
        (true, false) => "1",
        (false, false) => "0",
    }
}

pub(crate) fn channel_text(channel: &'static str, vietnamese: bool) -> &'static str {
    match (channel, vietnamese) {
        ("online", true) => "Trực tuyến",
        ("counter", true) => "Trực tiếp",
        ("postal", true) => "Bưu chính",
        (c, _) => c,
    }
}

pub(crate) fn level_text(level: &'static str, vietnamese: bool) -> &'static str {
    match (level, vietnamese) {
        ("full", true) => "Toàn trình",
        ("partial", true) => "Một phần",
        (l, _) => l,
    }
}
