//! Where CSV records end, found without parsing them: how a stream is cut
//! into chunks of whole records that threads can parse side by side.

/// Where the CSV reader is in a record, as far as record ends go: a quote
/// opens a quoted value only at a field's start (inside an unquoted value
/// it is a character), `""` inside a quoted value is an escaped quote, and a
/// quote followed by anything else closes it. The reader's own rules
/// (csv-core, with `\n` as terminator and no escape character).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a record's first byte: a line end here is a blank line.
    RecordStart,
    FieldStart,
    Unquoted,
    Quoted,
    /// A quote inside a quoted value: closing it, or the first of `""`.
    QuoteInQuoted,
}

/// The offset just past the last record terminator (`\n` outside quotes)
/// in `bytes`, which start at a record's start; None when no record ends
/// in them (one record longer than `bytes`).
///
/// A blank line's line end is no record's: the reader skips it and gives
/// the next record the line the blank one started on, so a cut there would
/// number the lines after it differently from a reading of the whole file.
pub(crate) fn last_record_end(bytes: &[u8], delimiter: u8) -> Option<usize> {
    if memchr::memchr(b'"', bytes).is_none() {
        return last_line_end(bytes);
    }
    let mut state = State::RecordStart;
    let mut last = None;
    let mut i = 0;
    while i < bytes.len() {
        match state {
            State::Quoted => match memchr::memchr(b'"', &bytes[i..]) {
                Some(j) => {
                    i += j + 1;
                    state = State::QuoteInQuoted;
                }
                None => break,
            },
            State::Unquoted => match memchr::memchr2(delimiter, b'\n', &bytes[i..]) {
                Some(j) => {
                    i += j + 1;
                    state = if bytes[i - 1] == b'\n' {
                        last = Some(i);
                        State::RecordStart
                    } else {
                        State::FieldStart
                    };
                }
                None => break,
            },
            State::RecordStart | State::FieldStart | State::QuoteInQuoted => {
                let byte = bytes[i];
                i += 1;
                state = match byte {
                    b'"' => State::Quoted,
                    b'\n' if state == State::RecordStart => State::RecordStart,
                    b'\n' => {
                        last = Some(i);
                        State::RecordStart
                    }
                    b if b == delimiter => State::FieldStart,
                    _ => State::Unquoted,
                };
            }
        }
    }
    last
}

/// [`last_record_end`] of bytes without quotes: after the last line end
/// that is not a blank line's.
fn last_line_end(bytes: &[u8]) -> Option<usize> {
    let last = memchr::memrchr(b'\n', bytes)?;
    // The first line end of the last run of them ends a record, unless the
    // run starts the bytes (blank lines at a record's start).
    let run_start = bytes[..last]
        .iter()
        .rposition(|&b| b != b'\n')
        .map_or(0, |j| j + 1);
    (run_start > 0).then_some(run_start + 1)
}

#[cfg(test)]
mod tests {
    use super::last_record_end;

    /// A record as read: its line, its fields and where it ends.
    type Read = (u64, Vec<Vec<u8>>, usize);

    /// The records the csv crate reads, and the lines it counted in all.
    fn records(bytes: &[u8], delimiter: u8) -> (Vec<Read>, u64) {
        let mut reader = crate::read::csv::reader_builder(delimiter).from_reader(bytes);
        let mut record = ::csv::ByteRecord::new();
        let mut out = Vec::new();
        while reader.read_byte_record(&mut record).expect("bytes read") {
            let line = record.position().expect("a position").line();
            let fields = record.iter().map(<[u8]>::to_vec).collect();
            out.push((line, fields, reader.position().byte() as usize));
        }
        (out, reader.position().line() - 1)
    }

    /// For every prefix of `text`: cutting the text where the prefix's last
    /// record ends gives the same records on the same lines (the second
    /// part's lines counted on from the lines the reader counted in the
    /// first), and no record that ends in the prefix with a line end (but
    /// the text's last) is left after the cut.
    fn agrees(text: &str, delimiter: u8) {
        let bytes = text.as_bytes();
        let (whole, _) = records(bytes, delimiter);
        let line_of = |r: Vec<Read>, lines: u64| r.into_iter().map(move |(l, f, _)| (l + lines, f));
        for cut in 0..=bytes.len() {
            let last_end = whole
                .iter()
                .map(|r| r.2)
                // (The last record may end in an unclosed quote's line end.)
                .filter(|&e| e <= cut && e < bytes.len() && bytes[e - 1] == b'\n')
                .max();
            let found = last_record_end(&bytes[..cut], delimiter);
            assert!(found >= last_end, "{text:?} cut at {cut}: {found:?}");
            let Some(end) = found else { continue };
            assert!(end <= cut && bytes[end - 1] == b'\n');
            let (first, lines) = records(&bytes[..end], delimiter);
            let parts: Vec<_> = line_of(first, 0)
                .chain(line_of(records(&bytes[end..], delimiter).0, lines))
                .collect();
            let expected: Vec<_> = line_of(whole.clone(), 0).collect();
            assert_eq!(parts, expected, "{text:?} cut at {end}");
        }
    }

    #[test]
    fn record_ends_agree_with_the_csv_reader() {
        agrees("a,b\n1,2\n", b',');
        agrees("a,\"b\nc\",d\n1,2\n", b',');
        agrees("x\"y,\"q\"\"\n\",z\n\n\"\"\n", b',');
        agrees("\"a\"b\n\"c\"\",\"\n\"\n", b',');
        agrees("a;\"b;\nc\";d\r\n1;2\r\n", b';');
        agrees("\"\"\"\n\"\n,\"\n", b',');
        agrees("a\t\"b\"\"\t\"\n1\n", b'\t');
    }

    #[test]
    fn record_ends_agree_on_every_short_text_of_quotes_delimiters_and_line_ends() {
        // All texts of up to 6 of these bytes: every state meets every byte.
        let alphabet = [b'"', b',', b'\n', b'x'];
        for len in 1..=6u32 {
            for n in 0..alphabet.len().pow(len) {
                let mut n = n;
                let text: Vec<u8> = (0..len)
                    .map(|_| {
                        let b = alphabet[n % alphabet.len()];
                        n /= alphabet.len();
                        b
                    })
                    .collect();
                agrees(std::str::from_utf8(&text).expect("ascii"), b',');
            }
        }
    }
}
