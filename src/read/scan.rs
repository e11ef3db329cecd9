//! A file's size and content hash, read before anything else.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::read::Input;
use crate::read::open_input;

/// What one pass over a file's bytes tells before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileScan {
    /// The content identity the manifest keys re-ingests on.
    pub(crate) content_hash: String,
    pub bytes: u64,
    /// A UTF-8 file with an odd number of `"`: some quoted field runs to the
    /// end of the file. (Escaped quotes come in pairs and cancel; UTF-16
    /// files are not checked, other characters contain the quote's byte.)
    pub(crate) quote_left_open: bool,
    /// The container a workbook comes in, told by its first bytes.
    pub(crate) container: Option<Container>,
    /// The file starts with `<` (after spaces): HTML or XML, not CSV.
    pub(crate) starts_with_markup: bool,
}

/// What workbooks are stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Container {
    /// A zip archive: xlsx, xlsb, ods.
    Zip,
    /// An OLE2 compound file: xls.
    Ole2,
}

impl Container {
    fn of(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"PK\x03\x04") {
            Some(Container::Zip)
        } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
            Some(Container::Ole2)
        } else {
            None
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Container::Zip => "xlsx, xlsb or ods",
            Container::Ole2 => "xls",
        }
    }
}

/// Reads a whole file once: its hash, size and quote parity.
pub(crate) fn scan(path: &Path) -> Result<FileScan> {
    scan_input(path, open_input(path)?)
}

/// [`scan`] over any input; `path` names it in messages.
pub(crate) fn scan_input(path: &Path, mut file: Input) -> Result<FileScan> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut odd = false;
    let mut utf16 = false;
    let mut container = None;
    let mut starts_with_markup = false;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        if total == 0 {
            utf16 = n >= 2 && (buf[..2] == [0xFF, 0xFE] || buf[..2] == [0xFE, 0xFF]);
            container = Container::of(&buf[..n]);
            let text = buf[..n].strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf[..n]);
            starts_with_markup = text.trim_ascii_start().starts_with(b"<");
        }
        hasher.update(&buf[..n]);
        if !utf16 {
            odd ^= memchr::memchr_iter(b'"', &buf[..n]).count() % 2 == 1;
        }
        total += n as u64;
    }
    Ok(FileScan {
        content_hash: format!("xxh3-128:{:032x}", hasher.digest128()),
        bytes: total,
        quote_left_open: odd && !utf16 && container.is_none(),
        container,
        starts_with_markup,
    })
}
