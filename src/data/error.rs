//! What can go wrong reading data, each message naming the file, the line and the field.

use std::path::PathBuf;

/// A dataset that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    // The I/O error is part of the message, not a `source`: a reporter that prints the chain
    // would otherwise say the cause twice.
    #[error("{}: cannot read: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },

    #[error("{}: not a complete gzip stream ({cause}); the file may be truncated", path.display())]
    Gzip { path: PathBuf, cause: std::io::Error },

    #[error("{}:{line}: {field}: {expected}", path.display())]
    Malformed { path: PathBuf, line: u64, field: String, expected: String },

    #[error("{}: label column `{column}` not found: {available}", path.display())]
    MissingLabelColumn { path: PathBuf, column: String, available: String },

    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },

    #[error("{}: no file named {expected}", dir.display())]
    MissingIdxFile { dir: PathBuf, expected: String },

    #[error("dataset {dataset}: needs at least 2 classes in the training split, found {found}")]
    TooFewClasses { dataset: String, found: usize },

    #[error("dataset {dataset}: its examples hold no values (no feature columns, or images of 0 pixels)")]
    NoFeatures { dataset: String },

    #[error("dataset {dataset}: the {split} split is empty; raise test_fraction or add examples")]
    EmptySplit { dataset: String, split: &'static str },

    #[error("{field}: {expected}")]
    Parameter { field: String, expected: String },

    #[error("bundled dataset {name} is corrupt: {message}")]
    Bundled { name: &'static str, message: String },
}

impl DataError {
    /// `path` is not a folder (a source that reads one).
    pub(crate) fn no_folder(path: &std::path::Path) -> DataError {
        DataError::Io {
            path: path.to_path_buf(),
            cause: std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        }
    }
}
