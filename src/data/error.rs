//! What can go wrong reading data, each message naming the file, the line and the field.

use std::path::PathBuf;

/// A dataset that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{}: not a complete gzip stream ({source}); the file may be truncated", path.display())]
    Gzip { path: PathBuf, source: std::io::Error },

    #[error("{}:{line}: {field}: {expected}", path.display())]
    Malformed { path: PathBuf, line: u64, field: String, expected: String },

    #[error("{}: label column `{column}` not found; the header has {available}", path.display())]
    MissingLabelColumn { path: PathBuf, column: String, available: String },

    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },

    #[error("{}: no file named {expected}", dir.display())]
    MissingIdxFile { dir: PathBuf, expected: String },

    #[error("dataset {dataset}: needs at least 2 classes in the training split, found {found}")]
    TooFewClasses { dataset: String, found: usize },

    #[error("dataset {dataset}: the {split} split is empty; raise test_fraction or add examples")]
    EmptySplit { dataset: String, split: &'static str },

    #[error("{field}: {expected}")]
    Parameter { field: &'static str, expected: String },

    #[error("bundled dataset {name} is corrupt: {message}")]
    Bundled { name: &'static str, message: String },
}
