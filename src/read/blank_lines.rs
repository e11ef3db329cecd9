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
    in_quotes: bool,
    /// The last byte passed on ended a line (or none was passed yet).
    at_line_start: bool,
}

impl<R: BufRead> MarkBlankLines<R> {
    pub(crate) fn new(inner: R) -> Self {
        MarkBlankLines {
            inner,
            in_quotes: false,
            at_line_start: true,
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
        if self.at_line_start && !self.in_quotes && (first == b'\n' || first == b'\r') {
            out[0] = b' ';
            self.at_line_start = false;
            return Ok(1);
        }
        // Pass on bytes up to and including the next quote or line end,
        // where the state changes.
        let limit = available.len().min(out.len());
        let end = memchr::memchr2(b'"', b'\n', &available[..limit]).map_or(limit, |i| i + 1);
        out[..end].copy_from_slice(&available[..end]);
        let last = available[end - 1];
        if last == b'"' {
            self.in_quotes = !self.in_quotes;
        }
        self.at_line_start = last == b'\n';
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
    }
}
