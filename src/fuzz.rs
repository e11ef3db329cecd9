//! The properties the fuzz targets in `fuzz/` check, kept in the library so
//! that `tests/fuzz_corpus.rs` replays the saved corpus through exactly the
//! same code on every `cargo test`. Each function panics when a property is
//! broken — that is how a fuzzer sees a bug.

use crate::error::Error;
use crate::ingest::{self, IngestOptions};
use crate::read::Format;
use crate::spec::feeds::{ALL_FEEDS, FeedDef};
use crate::validate::privacy::PiiKey;
use crate::validate::time::{self, Zone};
use crate::validate::values;

/// Zones the targets read in: no DST (with the steady-span shortcut), UTC,
/// and two with DST gaps and overlaps. Built once: finding a zone's steady
/// span walks a century of days.
static ZONES: std::sync::LazyLock<[Zone; 4]> = std::sync::LazyLock::new(|| {
    [
        chrono_tz::Asia::Ho_Chi_Minh,
        chrono_tz::UTC,
        chrono_tz::Europe::Berlin,
        chrono_tz::America::New_York,
    ]
    .map(Zone::new)
});

/// The header line of a feed's CSV export, all columns in declared order.
fn csv_header(def: &FeedDef) -> Vec<u8> {
    let names: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
    let mut header = names.join(",").into_bytes();
    header.push(b'\n');
    header
}

/// One export through the whole parsing path of `ingest` (reading,
/// decoding, typing, rules, de-duplication, quarantine masking, Arrow
/// batches). The first byte picks the feed and zone and, for CSV, whether a
/// valid header is put in front of the rest (so the fuzzer spends its time
/// on rows, not on discovering column names).
///
/// Properties: no panic; the file is either refused as a whole with a
/// bad-file error or every row read is accepted, quarantined or a duplicate.
pub fn rows(data: &[u8], format: Format) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let def = ALL_FEEDS[usize::from(selector) % ALL_FEEDS.len()];
    let zone = ZONES[usize::from(selector >> 3) % ZONES.len()];
    let mut input = Vec::with_capacity(body.len() + 256);
    if format == Format::Csv && selector & 0x80 == 0 {
        input.extend(csv_header(def));
    }
    input.extend_from_slice(body);
    // Spelled out: `..Default::default()` would build a default zone each time.
    let options = IngestOptions {
        zone,
        pii_key: Some(
            PiiKey::new(b"fuzzing-key-fuzzing-key-32-bytes", "fuzz").expect("a 32-byte key"),
        ),
        strict: false,
        format: Some(format),
        delimiter: None,
        // A tracking book has no updated_at (SPEC §4.5).
        exported_at: (format == Format::Workbook).then(|| "2025-03-31 17:00".into()),
        sheet: None,
        profile: None,
        no_wait: false,
        max_rejected: None,
        run_records: None,
        chunk_bytes: None,
        progress: None,
    };
    let checked = ingest::check_bytes(def.feed, format, &input, &options);
    match &checked {
        Ok(report) => assert_eq!(
            report.rows_read,
            report.accepted + report.quarantined + report.duplicates,
            "rows lost: {report:?}"
        ),
        Err(Error::BadFile { .. } | Error::Refused { .. }) => {}
        Err(other) => panic!("a file may be refused, but not with this error: {other}"),
    }
    if format == Format::Csv {
        same_in_chunks(def, &input, &options, &checked);
    }
}

/// A CSV file read in chunks on several threads gives what it gives read
/// record by record: the same report, rejections and lines included, or
/// the same refusal. Chunks of 7 bytes cut the file at nearly every record
/// end.
fn same_in_chunks(
    def: &FeedDef,
    input: &[u8],
    options: &IngestOptions,
    chunked: &crate::error::Result<ingest::FileReport>,
) {
    let serial = IngestOptions {
        chunk_bytes: Some(0),
        ..options.clone()
    };
    let serial = ingest::check_bytes(def.feed, Format::Csv, input, &serial);
    for chunk_bytes in [None, Some(7)] {
        let options = IngestOptions {
            chunk_bytes,
            ..options.clone()
        };
        let chunked_here;
        let chunked = match chunk_bytes {
            None => chunked,
            Some(_) => {
                chunked_here = ingest::check_bytes(def.feed, Format::Csv, input, &options);
                &chunked_here
            }
        };
        match (&serial, chunked) {
            (Ok(serial), Ok(chunked)) => assert_eq!(serial, chunked, "chunks of {chunk_bytes:?}"),
            (Err(serial), Err(chunked)) => assert_eq!(
                serial.to_string(),
                chunked.to_string(),
                "chunks of {chunk_bytes:?}"
            ),
            (serial, chunked) => panic!(
                "record by record {:?}, in chunks of {chunk_bytes:?} {:?}",
                serial.as_ref().map(|r| r.rows_read),
                chunked.as_ref().map(|r| r.rows_read)
            ),
        }
    }
}

/// One timestamp text through `parse_timestamp` in each zone, both as an
/// event time and as a deadline.
///
/// Properties: no panic; an accepted instant has a local date and month, and
/// its own RFC 3339 form parses back to the same instant.
pub fn timestamp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for zone in ZONES.iter() {
        for deadline in [false, true] {
            let Ok(micros) = time::parse_timestamp(text, zone, deadline) else {
                continue;
            };
            let _ = zone.local_days(micros);
            let _ = zone.month_key(micros);
            let printed = time::format_utc(micros);
            assert_eq!(
                time::parse_timestamp(&printed, zone, deadline),
                Ok(micros),
                "{text:?} in {} gave {printed}, which does not read back",
                zone.tz()
            );
        }
    }
}

/// One text through the value parsers of SPEC §4 and §4.5: whole numbers,
/// targets and booleans.
///
/// Properties: no panic; an accepted whole number, printed plainly, parses
/// back to itself; an accepted target is finite; an accepted boolean reads
/// back from its canonical spelling.
pub fn values(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(number) = values::parse_int(text) {
        assert_eq!(
            values::parse_int(&number.to_string()),
            Ok(number),
            "{text:?}"
        );
    }
    if let Ok((target, _)) = values::parse_target(text) {
        assert!(target.is_finite(), "{text:?} gave {target}");
    }
    if let Ok(flag) = values::parse_bool(text) {
        assert_eq!(values::parse_bool(&flag.to_string()), Ok(flag), "{text:?}");
    }
}
