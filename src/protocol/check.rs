//! What checking a preset before it runs answers: its stages or the message that stops it,
//! the registered datasets it cannot use and why, its description, and which stages a user can
//! steer; and the datasets a front end may pick from.

use std::collections::HashMap;

/// A preset checked against the data it names (without loading it) and against every bundled
/// dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetReport {
    /// The preset's stages in one line (`3 stages: teacher (scratch), …`), or the one-line
    /// message the CLI prints (`file:line:column: field: what was expected`).
    pub result: Result<String, String>,
    /// Bundled datasets it cannot use, with the reason.
    pub unusable: HashMap<String, String>,
    /// The preset's description: the paper and the claim it checks.
    pub description: String,
    /// The stages with a live hyperparameter, by index.
    pub steerable: Vec<usize>,
}

/// A dataset a front end may pick in place of a preset's own data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetEntry {
    /// What `dataset = "…"` says.
    pub name: &'static str,
    /// One line for the picker.
    pub summary: &'static str,
}
