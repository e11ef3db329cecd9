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
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        if total == 0 && n >= 2 && (buf[..2] == [0xFF, 0xFE] || buf[..2] == [0xFE, 0xFF]) {
            utf16 = true;
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
        quote_left_open: odd && !utf16,
    })
}
