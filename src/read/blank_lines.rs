//! Blank lines kept as records, so that every record keeps its physical
//! line: the CSV reader skips an empty line and reports the record after it
//! on the empty line's number, which would send a quarantined row's reader
//! to the wrong line.

use std::io::{BufRead, Read};

/// Writes one space on every blank line outside quotes (`\n\n` becomes
/// `\n \n`); the reader then sees a record of one blank field, which it
/// skips as a blank line, with the lines after it numbered right.
pub(crate) struct MarkBlankLines<R> {
    inner: R,
    /// Inside a quoted field, as the CSV reader will see it: a quote opens
    /// one only at a field's start (a quote inside an unquoted value is a
    /// character), and `""` inside one is an escaped quote.
    in_quotes: bool,
    /// The last byte passed on (a line end before the first).
    prev: u8,
}

impl<R: BufRead> MarkBlankLines<R> {
    pub(crate) fn new(inner: R) -> Self {
        MarkBlankLines {
            inner,
            in_quotes: false,
            prev: b'\n',
        }
    }
}

impl<R: BufRead> Read for MarkBlankLines<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        let available = self.inner.fill_buf()?;
        if available.is_empty() {
            return Ok(0);
        }
        let first = available[0];
        if self.prev == b'\n' && !self.in_quotes && (first == b'\n' || first == b'\r') {
            out[0] = b' ';
            self.prev = b' ';
            return Ok(1);
        }
        // Pass on bytes up to and including the next quote or line end,
        // where the state changes.
        let limit = available.len().min(out.len());
        let end = memchr::memchr2(b'"', b'\n', &available[..limit]).map_or(limit, |i| i + 1);
        out[..end].copy_from_slice(&available[..end]);
        let last = available[end - 1];
        if last == b'"' {
            let before = if end >= 2 {
                available[end - 2]
            } else {
                self.prev
            };
            let field_start = matches!(before, b',' | b';' | b'\t' | b'|' | b'\n');
            self.in_quotes = if self.in_quotes {
                false
            } else {
                // After a closing quote, a quote is an escaped one: back in.
                field_start || before == b'"'
            };
        }
        self.prev = last;
        self.inner.consume(end);
        Ok(end)
    }
}

#[cfg(test)]
mod tests {
    use super::MarkBlankLines;
    use std::io::Read;

    fn marked(text: &str) -> String {
        let mut out = String::new();
        MarkBlankLines::new(text.as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn blank_lines_outside_quotes_get_a_space_and_nothing_else_changes() {
        assert_eq!(marked("a\n\nb\n"), "a\n \nb\n");
        assert_eq!(marked("\n\na\r\n\r\nb"), " \n \na\r\n \r\nb");
        assert_eq!(marked("a,\"x\n\ny\"\n\nb\n"), "a,\"x\n\ny\"\n \nb\n");
        assert_eq!(marked("a,\"q\"\"\n\"\n"), "a,\"q\"\"\n\"\n");
        assert_eq!(marked("plain\nrows\n"), "plain\nrows\n");
        // A quote inside an unquoted value is a character, not an opening.
        assert_eq!(
            marked("a,5\" CA\nb,\"l1\n\nl3\"\n\nc\n"),
            "a,5\" CA\nb,\"l1\n\nl3\"\n \nc\n"
        );
    }
}
