//! Taking pictures and numbers away: plots as SVG (written from the series) and PNG (that SVG
//! rendered with resvg and an embedded font, so it needs no display or GPU), numbers as CSV and
//! JSON whose rows say which run, seed and stage they come from.

pub(crate) mod data;
pub mod png;
pub mod svg;
pub(crate) mod table;

use std::path::{Path, PathBuf};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot render the plot: {0}")]
    Render(String),
}

impl ExportError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> ExportError {
        ExportError::Io { path: path.to_path_buf(), source }
    }
}
