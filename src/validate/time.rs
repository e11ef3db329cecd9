//! Timestamps as SPEC §3 accepts them, and the configured local zone.
//!
//! Accepted forms, and no others:
//! - ISO 8601 / RFC 3339: `YYYY-MM-DD`, optionally `T` or space and `HH:MM`,
//!   `HH:MM:SS` or `HH:MM:SS.f` (1–9 digits, truncated to microseconds), then
//!   optionally `Z`, `±HH:MM` or `±HHMM`;
//! - Vietnamese day-first: `D/M/YYYY`, optionally a space and `H:MM` or `H:MM:SS`.
//!
//! A value without an offset is local time in the zone. A date alone is
//! 00:00 local, or for a deadline the end of that day.

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;

use crate::error::Error;

pub(crate) const DEFAULT_ZONE: &str = "Asia/Ho_Chi_Minh";
pub(crate) const DAY_MICROS: i64 = 86_400_000_000;

/// The zone that local times and calendar periods are read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone {
    pub(crate) tz: Tz,
    /// A span of UTC instants (µs, half-open) over which the zone's offset
    /// (seconds) never changes: conversions there skip the zone database,
    /// which matters at millions of timestamps a file.
    pub(crate) steady: Option<(i64, i64, i32)>,
}

impl Default for Zone {
    fn default() -> Self {
        Zone::new(chrono_tz::Asia::Ho_Chi_Minh)
    }
}

/// The steady span is looked for between these years.
const STEADY_FROM: i32 = 1990;
const STEADY_TO: i32 = 2100;

impl Zone {
    pub fn new(tz: Tz) -> Self {
        Zone {
            tz,
            steady: steady_span(tz),
        }
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether two zone names are one zone: the same, or a link to it
    /// (Asia/Saigon is a link to Asia/Ho_Chi_Minh). chrono-tz gives a link
    /// the same table as its target, so they agree at every instant of the
    /// zone database; zones that merely agree today (Asia/Bangkok) differ
    /// somewhere in their history.
    pub(crate) fn same_as(&self, other: &Zone) -> bool {
        if self.tz == other.tz {
            return true;
        }
        let (Some(start), Some(end)) = (
            NaiveDate::from_ymd_opt(1850, 1, 1),
            NaiveDate::from_ymd_opt(STEADY_TO, 1, 1),
        ) else {
            return false;
        };
        let offset = |tz: Tz, t: &NaiveDateTime| tz.offset_from_utc_datetime(t).fix();
        let mut t = start.and_time(NaiveTime::MIN);
        let end = end.and_time(NaiveTime::MIN);
        while t < end {
            if offset(self.tz, &t) != offset(other.tz, &t) {
                return false;
            }
            t += chrono::Duration::days(1);
        }
        true
    }
}

/// The span and offset when the offset is the same on every day from 1990
/// to 2100 (checked daily: no real zone changes its offset for less than a
/// day). Zones with daylight saving get no shortcut.
fn steady_span(tz: Tz) -> Option<(i64, i64, i32)> {
    let start = NaiveDate::from_ymd_opt(STEADY_FROM, 1, 1)?.and_time(NaiveTime::MIN);
    let end = NaiveDate::from_ymd_opt(STEADY_TO, 1, 1)?.and_time(NaiveTime::MIN);
    let offset = tz.offset_from_utc_datetime(&start).fix().local_minus_utc();
    let mut t = start;
    while t < end {
        if tz.offset_from_utc_datetime(&t).fix().local_minus_utc() != offset {
            return None;
        }
        t += chrono::Duration::days(1);
    }
    Some((
        start.and_utc().timestamp_micros(),
        end.and_utc().timestamp_micros(),
        offset,
    ))
}

impl std::str::FromStr for Zone {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self, Error> {
        name.parse::<Tz>().map(Zone::new).map_err(|_| {
            Error::Usage(format!(
                "unknown time zone '{name}'; use an IANA name such as {DEFAULT_ZONE}"
            ))
        })
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.tz.name())
    }
}

impl Zone {
    /// The UTC instant of a local wall-clock time: a time in a DST gap is an
    /// error, one in an overlap takes the earlier instant.
    pub(crate) fn local_to_utc(&self, local: NaiveDateTime) -> Result<i64, String> {
        if let Some((from, to, offset)) = self.steady {
            let micros = local.and_utc().timestamp_micros() - i64::from(offset) * 1_000_000;
            // A day's margin keeps the shortcut clear of the span's edges.
            if micros > from + DAY_MICROS && micros < to - DAY_MICROS {
                return Ok(micros);
            }
        }
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => Ok(t.timestamp_micros()),
            LocalResult::None => Err(format!(
                "{local} does not exist in {} (a daylight-saving gap)",
                self.tz.name()
            )),
        }
    }

    /// The local date-time of a UTC instant in microseconds.
    pub(crate) fn to_local(self, micros: i64) -> NaiveDateTime {
        let utc = DateTime::<Utc>::from_timestamp_micros(micros).unwrap_or_default();
        if let Some((from, to, offset)) = self.steady
            && micros >= from
            && micros < to
        {
            return utc.naive_utc() + chrono::Duration::seconds(i64::from(offset));
        }
        let offset = self.tz.offset_from_utc_datetime(&utc.naive_utc()).fix();
        utc.naive_utc() + offset
    }

    /// The local calendar date of an instant, as days since 1970-01-01
    /// (Arrow `Date32`), without building a date in the steady span.
    pub(crate) fn local_days(&self, micros: i64) -> i32 {
        if let Some((from, to, offset)) = self.steady
            && micros >= from
            && micros < to
        {
            let local = micros + i64::from(offset) * 1_000_000;
            return local.div_euclid(DAY_MICROS) as i32;
        }
        days_since_epoch(self.to_local(micros).date())
    }

    /// `YYYY-MM` of the local month an instant falls in.
    pub fn month_key(&self, micros: i64) -> String {
        let local = self.to_local(micros);
        format!("{:04}-{:02}", local.year(), local.month())
    }
}

/// The years motcua reads dates in and its calendar covers. A date outside
/// is refused: `0000-01-01` or `1900-01-01` in an export is a placeholder,
/// not an event, and would open a partition no period ever reads.
pub(crate) const FIRST_YEAR: i32 = 2000;
pub(crate) const LAST_YEAR: i32 = 2059;

/// Parses one timestamp into UTC microseconds. `deadline`: a date alone means
/// the end of that day (next day's 00:00 minus one microsecond).
/// A local date in any of the forms a timestamp takes, without a time of
/// day: days since 1970-01-01.
pub(crate) fn parse_date(raw: &str, zone: &Zone) -> Result<i32, String> {
    let local = zone.to_local(parse_timestamp(raw, zone, false)?);
    if local.time() != NaiveTime::MIN {
        return Err(format!(
            "'{}' has a time of day; a date is a day alone (2025-07-01)",
            raw.trim()
        ));
    }
    Ok(days_since_epoch(local.date()))
}

pub(crate) fn parse_timestamp(raw: &str, zone: &Zone, deadline: bool) -> Result<i64, String> {
    let s = raw.trim();
    // The first mark after the leading digits tells the form: `/`, `.`, or
    // `-` after one or two digits is a spreadsheet date; else ISO.
    let lead = s.bytes().take_while(u8::is_ascii_digit).count();
    let parsed = match s.as_bytes().get(lead) {
        Some(&sep @ (b'/' | b'.')) => parse_spreadsheet(s, sep),
        Some(b'-') if lead <= 2 => parse_spreadsheet(s, b'-'),
        _ => parse_iso(s),
    }
    .map_err(|why| format!("'{raw}' {why}"))?;
    let Parsed {
        date,
        time,
        offset_seconds,
    } = parsed;
    let micros = match (time, offset_seconds) {
        (Some(time), Some(offset)) => {
            let naive = date.and_time(time);
            Ok(naive.and_utc().timestamp_micros() - i64::from(offset) * 1_000_000)
        }
        (Some(time), None) => zone.local_to_utc(date.and_time(time)),
        (None, _) if deadline => {
            let next = date
                .succ_opt()
                .ok_or_else(|| format!("'{raw}' is out of range"))?;
            Ok(zone.local_to_utc(next.and_time(NaiveTime::MIN))? - 1)
        }
        (None, _) => zone.local_to_utc(date.and_time(NaiveTime::MIN)),
    }?;
    // Judged in the lake's zone, so every form of one instant agrees.
    let year = zone.to_local(micros).year();
    if !(FIRST_YEAR..=LAST_YEAR).contains(&year) {
        return Err(format!(
            "'{raw}' is in year {year}, outside the years {FIRST_YEAR}–{LAST_YEAR} motcua reads (a placeholder date?)"
        ));
    }
    Ok(micros)
}

struct Parsed {
    pub(crate) date: NaiveDate,
    pub(crate) time: Option<NaiveTime>,
    offset_seconds: Option<i32>,
}

const EXPECTED: &str = "is not a date this importer accepts (YYYY-MM-DD[THH:MM[:SS[.f]]][Z|±HH:MM], or D/M/YYYY, D-M-YYYY, D.M.YYYY or YYYY/M/D[ H:MM[:SS][ SA|CH|AM|PM]])";

/// A tiny cursor over ASCII bytes; every form above is ASCII.
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor {
            bytes: s.as_bytes(),
            pos: 0,
        }
    }

    pub(crate) fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Between `min` and `max` ASCII digits, as a number and their count.
    pub(crate) fn digits(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let start = self.pos;
        let mut value: u32 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + u32::from(b - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let count = self.pos - start;
        (count >= min).then_some((value, count))
    }

    pub(crate) fn number(&mut self, min: usize, max: usize) -> Result<u32, String> {
        self.digits(min, max)
            .map(|(v, _)| v)
            .ok_or_else(|| EXPECTED.to_string())
    }
}

fn make_date(year: u32, month: u32, day: u32) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or_else(|| format!("is not a calendar date (day {day}, month {month}, year {year})"))
}

fn make_time(hour: u32, minute: u32, second: u32, micros: u32) -> Result<NaiveTime, String> {
    NaiveTime::from_hms_micro_opt(hour, minute, second, micros)
        .ok_or_else(|| format!("has no such time of day ({hour:02}:{minute:02}:{second:02})"))
}

fn parse_iso(s: &str) -> Result<Parsed, String> {
    let mut c = Cursor::new(s);
    let year = c.number(4, 4)?;
    if !c.eat(b'-') {
        return Err(EXPECTED.into());
    }
    let month = c.number(2, 2)?;
    if !c.eat(b'-') {
        return Err(EXPECTED.into());
    }
    let day = c.number(2, 2)?;
    let date = make_date(year, month, day)?;
    if c.done() {
        return Ok(Parsed {
            date,
            time: None,
            offset_seconds: None,
        });
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return Err(EXPECTED.into());
    }
    let hour = c.number(2, 2)?;
    if !c.eat(b':') {
        return Err(EXPECTED.into());
    }
    let minute = c.number(2, 2)?;
    let mut second = 0;
    let mut micros = 0;
    if c.eat(b':') {
        second = c.number(2, 2)?;
        if c.eat(b'.') {
            let (fraction, count) = c.digits(1, 9).ok_or_else(|| EXPECTED.to_string())?;
            // Scale to nine digits, then truncate to microseconds.
            micros = fraction * 10u32.pow(9 - count as u32) / 1000;
        }
    }
    let time = make_time(hour, minute, second, micros)?;
    let offset_seconds = match c.peek() {
        None => None,
        Some(b'Z') | Some(b'z') => {
            c.pos += 1;
            Some(0)
        }
        Some(sign @ (b'+' | b'-')) => {
            c.pos += 1;
            let hours = c
                .number(2, 2)
                .map_err(|_| "has an offset that is not ±HH:MM or ±HHMM".to_string())?;
            c.eat(b':');
            let minutes = c
                .number(2, 2)
                .map_err(|_| "has an offset that is not ±HH:MM or ±HHMM".to_string())?;
            if hours > 18 || minutes > 59 {
                return Err("has an offset out of range (at most ±18:00)".into());
            }
            let seconds = (hours * 3600 + minutes * 60) as i32;
            Some(if sign == b'-' { -seconds } else { seconds })
        }
        Some(_) => return Err(EXPECTED.into()),
    };
    if !c.done() {
        return Err(EXPECTED.into());
    }
    Ok(Parsed {
        date,
        time: Some(time),
        offset_seconds,
    })
}

/// A date as spreadsheets and report screens write it, with `sep` between
/// its parts: day first (`5/3/2025`, `05-03-2025`, `5.3.2025`) or, with a
/// four-digit first part, year first (`2025/3/5`); then an optional time,
/// 24-hour or 12-hour with `SA`/`CH` (sáng, chiều) or `AM`/`PM`.
fn parse_spreadsheet(s: &str, sep: u8) -> Result<Parsed, String> {
    let mut c = Cursor::new(s);
    let (first, first_digits) = c.digits(1, 4).ok_or_else(|| EXPECTED.to_string())?;
    let part = |c: &mut Cursor| -> Result<u32, String> {
        if !c.eat(sep) {
            return Err(EXPECTED.into());
        }
        c.number(1, 2)
    };
    let date = if first_digits == 4 {
        let month = part(&mut c)?;
        let day = part(&mut c)?;
        make_date(first, month, day)?
    } else if first_digits <= 2 {
        let month = part(&mut c)?;
        if !c.eat(sep) {
            return Err(EXPECTED.into());
        }
        let (year, year_digits) = c.digits(1, 4).ok_or_else(|| EXPECTED.to_string())?;
        if year_digits == 2 {
            return Err(
                "has a two-digit year, which is ambiguous; write the year in full (05/03/2025)"
                    .into(),
            );
        }
        if year_digits != 4 {
            return Err(EXPECTED.into());
        }
        make_date(year, month, first)?
    } else {
        return Err(EXPECTED.into());
    };
    if c.done() {
        return Ok(Parsed {
            date,
            time: None,
            offset_seconds: None,
        });
    }
    if !c.eat(b' ') {
        return Err(EXPECTED.into());
    }
    Ok(Parsed {
        date,
        time: Some(clock_time(&mut c)?),
        offset_seconds: None,
    })
}

/// `H:MM[:SS]`, then optionally ` SA`/` CH`/` AM`/` PM` for a 12-hour clock.
fn clock_time(c: &mut Cursor) -> Result<NaiveTime, String> {
    let hour = c.number(1, 2)?;
    if !c.eat(b':') {
        return Err(EXPECTED.into());
    }
    let minute = c.number(2, 2)?;
    let second = if c.eat(b':') { c.number(2, 2)? } else { 0 };
    if c.done() {
        return make_time(hour, minute, second, 0);
    }
    if !c.eat(b' ') {
        return Err(EXPECTED.into());
    }
    let rest = std::str::from_utf8(&c.bytes[c.pos..]).unwrap_or_default();
    let afternoon = match rest.to_ascii_uppercase().as_str() {
        "SA" | "AM" => false,
        "CH" | "PM" => true,
        _ => return Err(EXPECTED.into()),
    };
    if !(1..=12).contains(&hour) {
        return Err(format!(
            "has hour {hour} on a 12-hour clock (1 to 12 before SA/CH or AM/PM)"
        ));
    }
    let hour = match (hour, afternoon) {
        (12, false) => 0,
        (12, true) => 12,
        (h, false) => h,
        (h, true) => h + 12,
    };
    make_time(hour, minute, second, 0)
}

/// A date as days since 1970-01-01 (Arrow `Date32`).
pub(crate) fn days_since_epoch(date: NaiveDate) -> i32 {
    (date - DateTime::<Utc>::UNIX_EPOCH.date_naive()).num_days() as i32
}

/// The date `days` after 1970-01-01 (Arrow `Date32`).
pub(crate) fn date_from_days(days: i32) -> NaiveDate {
    DateTime::<Utc>::UNIX_EPOCH.date_naive() + chrono::Duration::days(i64::from(days))
}

/// Formats UTC microseconds as RFC 3339, for messages and tests.
pub(crate) fn format_utc(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
        .unwrap_or_else(|| format!("{micros}µs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheet_dates_take_dashes_dots_year_first_and_12_hour_clocks() {
        let zone = Zone::default();
        let at = |raw: &str| parse_timestamp(raw, &zone, false).map(format_utc);
        assert_eq!(at("05-03-2025"), Ok("2025-03-04T17:00:00.000000Z".into()));
        assert_eq!(
            at("5.3.2025 08:15"),
            Ok("2025-03-05T01:15:00.000000Z".into())
        );
        assert_eq!(at("2025/03/05"), at("05/03/2025"));
        assert_eq!(
            at("2025/3/5 14:30:10"),
            Ok("2025-03-05T07:30:10.000000Z".into())
        );
        assert_eq!(
            at("05/03/2025 08:15 SA"),
            Ok("2025-03-05T01:15:00.000000Z".into())
        );
        assert_eq!(
            at("05/03/2025 2:30 CH"),
            Ok("2025-03-05T07:30:00.000000Z".into())
        );
        assert_eq!(
            at("05/03/2025 12:05 sa"),
            Ok("2025-03-04T17:05:00.000000Z".into())
        );
        assert_eq!(
            at("05/03/2025 12:05 PM"),
            Ok("2025-03-05T05:05:00.000000Z".into())
        );
        assert_eq!(
            at("05/03/25"),
            Err("'05/03/25' has a two-digit year, which is ambiguous; write the year in full (05/03/2025)".into())
        );
        assert!(
            at("05/03/2025 13:00 CH")
                .unwrap_err()
                .contains("12-hour clock")
        );
        assert!(at("05-03-2025T08:00").is_err());
        assert!(at("2025-3-5").is_err(), "ISO takes two-digit months");
    }

    #[test]
    fn a_zone_link_is_the_same_zone_and_a_zone_that_only_agrees_today_is_not() {
        let zone = |name: &str| name.parse::<Zone>().unwrap();
        assert!(zone("Asia/Saigon").same_as(&zone("Asia/Ho_Chi_Minh")));
        assert!(zone("Asia/Ho_Chi_Minh").same_as(&zone("Asia/Ho_Chi_Minh")));
        // UTC+7 since 1975 both, but not before.
        assert!(!zone("Asia/Bangkok").same_as(&zone("Asia/Ho_Chi_Minh")));
        assert!(!zone("Europe/Paris").same_as(&zone("Asia/Ho_Chi_Minh")));
    }

    pub(crate) fn utc(raw: &str) -> String {
        format_utc(parse_timestamp(raw, &Zone::default(), false).unwrap())
    }

    #[test]
    fn offsets_and_local_times() {
        assert_eq!(
            utc("2024-03-15T08:30:00+07:00"),
            "2024-03-15T01:30:00.000000Z"
        );
        assert_eq!(utc("2024-03-15 08:30"), "2024-03-15T01:30:00.000000Z");
        assert_eq!(utc("2024-03-15T01:30:00.5Z"), "2024-03-15T01:30:00.500000Z");
        assert_eq!(
            utc("2024-03-15T01:30:00.123456789Z"),
            "2024-03-15T01:30:00.123456Z"
        );
        assert_eq!(
            utc("2024-03-15T08:30:00+0700"),
            "2024-03-15T01:30:00.000000Z"
        );
        assert_eq!(utc("15/03/2024 08:30:00"), "2024-03-15T01:30:00.000000Z");
        assert_eq!(utc("5/3/2024 8:30"), "2024-03-05T01:30:00.000000Z");
        assert_eq!(utc("15/03/2024"), "2024-03-14T17:00:00.000000Z");
    }

    #[test]
    fn deadline_dates_mean_end_of_day() {
        let t = parse_timestamp("2024-03-15", &Zone::default(), true).unwrap();
        assert_eq!(format_utc(t), "2024-03-15T16:59:59.999999Z");
    }

    #[test]
    fn rejects_impossible_and_malformed() {
        let z = Zone::default();
        assert!(
            parse_timestamp("31/02/2024", &z, false)
                .unwrap_err()
                .contains("calendar")
        );
        assert!(
            parse_timestamp("2024-03-15T08:30+7", &z, false)
                .unwrap_err()
                .contains("offset")
        );
        // Year first takes slashes (SPEC §4.5), not a missing day.
        assert!(parse_timestamp("2024/03", &z, false).is_err());
        // Found by fuzzing: year 0 was accepted, landed in month "-001-12"
        // and printed as a date no parser reads back.
        for placeholder in [
            "0000-01-01",
            "1900-01-01",
            "01/01/1900",
            "9999-12-31T23:59:59Z",
        ] {
            assert!(
                parse_timestamp(placeholder, &z, false)
                    .unwrap_err()
                    .contains("outside the years 2000–2059"),
                "{placeholder}"
            );
        }
        assert!(parse_timestamp("2000-01-01", &z, false).is_ok());
        assert!(parse_timestamp("2059-12-31", &z, true).is_ok());
        // The same instant in UTC (1999 there) is judged in the lake's zone too.
        assert!(parse_timestamp("1999-12-31T17:00:00Z", &z, false).is_ok());
        assert!(parse_timestamp("1999-12-31T16:59:59Z", &z, false).is_err());
        // D-M-YYYY is a spreadsheet date now (SPEC §4.5); not with a T.
        assert!(parse_timestamp("15-03-2024T08:00", &z, false).is_err());
        assert!(parse_timestamp("2024-03-15T25:00", &z, false).is_err());
        assert!(parse_timestamp("2024-3-15", &z, false).is_err());
        assert!(parse_timestamp("", &z, false).is_err());
    }

    #[test]
    fn month_key_uses_local_calendar() {
        let z = Zone::default();
        let late = parse_timestamp("2024-03-31T23:30:00+07:00", &z, false).unwrap();
        assert_eq!(z.month_key(late), "2024-03");
        let april = parse_timestamp("2024-03-31T18:00:00Z", &z, false).unwrap();
        assert_eq!(z.month_key(april), "2024-04");
    }

    #[test]
    fn the_steady_shortcut_agrees_with_the_zone_database() {
        let hcm = Zone::default();
        assert!(hcm.steady.is_some());
        let berlin: Zone = "Europe/Berlin".parse().unwrap();
        assert!(berlin.steady.is_none());
        let mut t = parse_timestamp("2000-01-01T00:00:00Z", &hcm, false).unwrap();
        for _ in 0..2000 {
            let utc = DateTime::<Utc>::from_timestamp_micros(t)
                .unwrap()
                .naive_utc();
            let by_database = utc + hcm.tz.offset_from_utc_datetime(&utc).fix();
            assert_eq!(hcm.to_local(t), by_database);
            let days = (by_database.date() - DateTime::<Utc>::UNIX_EPOCH.date_naive()).num_days();
            assert_eq!(i64::from(hcm.local_days(t)), days);
            let back = match hcm.tz.from_local_datetime(&by_database) {
                LocalResult::Single(x) => x.timestamp_micros(),
                _ => unreachable!(),
            };
            assert_eq!(hcm.local_to_utc(by_database).unwrap(), back);
            t += 3_600_000_000 * 97 + 123_456;
        }
    }

    #[test]
    fn dst_gap_is_rejected_and_overlap_takes_earlier() {
        let z: Zone = "Europe/Berlin".parse().unwrap();
        assert!(
            parse_timestamp("2024-03-31 02:30", &z, false)
                .unwrap_err()
                .contains("gap")
        );
        assert_eq!(
            format_utc(parse_timestamp("2024-10-27 02:30", &z, false).unwrap()),
            "2024-10-27T00:30:00.000000Z"
        );
    }
}
