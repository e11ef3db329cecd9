//! SPEC §6: a citizen's ID number never lands anywhere in clear. Ingestion
//! replaces it with `applicant_key`, a keyed hash, and quarantine masks it.

use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::Error;

pub(crate) const KEY_ENV: &str = "MOTCUA_PII_KEY";
pub(crate) const KEY_FILE_ENV: &str = "MOTCUA_PII_KEY_FILE";
/// Shorter keys are refused: a short secret makes ID numbers (12 digits, a
/// small space) cheap to recover by brute force.
const MIN_KEY_BYTES: usize = 16;
/// What replaces a personal ID in quarantine.
const MASK: &str = "[masked]";

/// The secret behind `applicant_key`. Debug output never shows it.
#[derive(Clone)]
pub struct PiiKey {
    mac: Hmac<Sha256>,
    /// Where it came from, for messages.
    pub source: String,
}

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PiiKey(from {})", self.source)
    }
}

impl PiiKey {
    pub fn new(secret: &[u8], source: impl Into<String>) -> Result<Self, Error> {
        let source = source.into();
        if secret.len() < MIN_KEY_BYTES {
            return Err(Error::PiiKey(format!(
                "the PII key from {source} is {} bytes; use at least {MIN_KEY_BYTES} random bytes",
                secret.len()
            )));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|e| Error::PiiKey(format!("the PII key from {source} is unusable: {e}")))?;
        Ok(PiiKey { mac, source })
    }

    /// Reads the key from `MOTCUA_PII_KEY`, else from the file `MOTCUA_PII_KEY_FILE`
    /// names. `None` when neither is set. A key file inside `lake` is refused.
    pub(crate) fn from_env(lake: Option<&Path>) -> Result<Option<Self>, Error> {
        if let Ok(value) = std::env::var(KEY_ENV)
            && !value.is_empty()
        {
            return PiiKey::new(value.as_bytes(), format!("${KEY_ENV}")).map(Some);
        }
        let Some(path) = std::env::var_os(KEY_FILE_ENV).filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let path = PathBuf::from(path);
        if let Some(lake) = lake
            && let (Ok(key), Ok(lake)) = (path.canonicalize(), lake.canonicalize())
            && key.starts_with(&lake)
        {
            return Err(Error::PiiKey(format!(
                "the PII key file {} is inside the lake {}; keep it outside, where the lake's readers cannot reach it",
                path.display(),
                lake.display()
            )));
        }
        let bytes = std::fs::read(&path).map_err(|e| {
            Error::PiiKey(format!(
                "cannot read the PII key file {} (from ${KEY_FILE_ENV}): {e}",
                path.display()
            ))
        })?;
        let trimmed = bytes.trim_ascii_end();
        PiiKey::new(trimmed, path.display().to_string()).map(Some)
    }

    /// What a lake records to recognise the key: an HMAC of a fixed label
    /// under the key — never the key, never a plain hash of it — as 32 hex
    /// digits. Two keys give different fingerprints; the key cannot be
    /// recovered from one.
    pub fn fingerprint(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"motcua pii key check v1");
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    /// The stored key of one applicant: HMAC-SHA-256 of the trimmed ID,
    /// truncated to 128 bits (RFC 2104 §5), as 32 lower-case hex digits.
    pub fn applicant_key(&self, applicant_id: &str) -> String {
        self.applicant_digest(applicant_id).hex().to_string()
    }

    /// [`applicant_key`](Self::applicant_key) before it is written out.
    pub(crate) fn applicant_digest(&self, applicant_id: &str) -> ApplicantKey {
        let mut mac = self.mac.clone();
        mac.update(applicant_id.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        ApplicantKey(key)
    }
}

/// An applicant's key as 16 bytes: a value that costs no allocation per row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ApplicantKey([u8; 16]);

impl ApplicantKey {
    /// The key as stored: 32 lower-case hex digits.
    pub(crate) fn hex(&self) -> HexKey {
        let mut digits = [0u8; 32];
        // 16 bytes always fit 32 digits.
        let _ = hex::encode_to_slice(self.0, &mut digits);
        HexKey(digits)
    }
}

/// An applicant key's hex digits, on the stack.
pub(crate) struct HexKey([u8; 32]);

impl std::ops::Deref for HexKey {
    type Target = str;
    fn deref(&self) -> &str {
        // Hex digits are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for HexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self)
    }
}

/// The sentence for a file that carries applicant IDs when no key is set.
pub(crate) fn missing_key_reason() -> String {
    format!(
        "the file carries applicant_id values but no PII key is configured; set {KEY_ENV} to a secret of at least {MIN_KEY_BYTES} bytes, or {KEY_FILE_ENV} to a file holding one (outside the lake), e.g. `head -c 32 /dev/urandom | base64 > ~/.motcua-pii.key; export {KEY_FILE_ENV}=~/.motcua-pii.key`"
    )
}

/// Masks a raw record for quarantine: every occurrence of the known ID, and
/// any run of 9 to 12 digits (the lengths of Vietnamese ID numbers), since a
/// malformed row may have the ID in any field.
pub(crate) fn mask_raw(raw: &str, known_id: Option<&str>) -> String {
    let mut text = match known_id {
        Some(id) if !id.is_empty() => raw.replace(id, MASK),
        _ => raw.to_string(),
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut last = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if (9..=12).contains(&(i - start)) {
                out.push_str(&text[last..start]);
                out.push_str(MASK);
                last = i;
            }
        } else {
            i += 1;
        }
    }
    if last > 0 {
        out.push_str(&text[last..]);
        text = out;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_keyed_and_stable() {
        let a = PiiKey::new(b"0123456789abcdef", "test").unwrap();
        let b = PiiKey::new(b"fedcba9876543210", "test").unwrap();
        assert_eq!(
            a.applicant_key("001203004567"),
            a.applicant_key("001203004567")
        );
        assert_ne!(
            a.applicant_key("001203004567"),
            b.applicant_key("001203004567")
        );
        assert_eq!(a.applicant_key("x").len(), 32);
        assert!(PiiKey::new(b"short", "test").is_err());
        assert_eq!(a.fingerprint(), a.fingerprint());
        assert_ne!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn masking_hides_id_shaped_runs() {
        assert_eq!(
            mask_raw("D1,001203004567,x", Some("001203004567")),
            "D1,[masked],x"
        );
        assert_eq!(mask_raw("a,123456789,b", None), "a,[masked],b");
        assert_eq!(mask_raw("fee 150000", None), "fee 150000");
    }
}
