//! PEM material (certificates, keys) as a setting gives it: inline text, or a file read when
//! the connector starts.

use crate::error::{Error, ErrorKind, Result};
use std::path::PathBuf;

/// PEM text, given inline or as a file to read at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A path to a PEM file.
    File(PathBuf),
    /// PEM text itself.
    Inline(String),
}

impl Pem {
    /// Reads the PEM bytes (from the file, or the inline text).
    pub(crate) fn load(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
            Pem::File(path) => std::fs::read(path).map_err(|e| {
                Error::new(
                    ErrorKind::Tls,
                    format!("cannot read {what} from {}: {e}", path.display()),
                )
            }),
        }
    }
}
