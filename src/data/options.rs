//! The `[data]` keys a dataset or a file format declares (`samples`, `test_csv`, `image_size`…),
//! their checks, and the values a preset gave them: a format's or a dataset's own keys live in
//! its file, not in the preset's schema.

use super::DataError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One `[data]` key a dataset or a file format reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionSpec {
    pub(crate) key: &'static str,
    pub(crate) kind: OptionKind,
    /// What a valid value is, as a message says it after "expected" (`1 to 1024 pixels`).
    pub(crate) expected: &'static str,
    /// The value a run uses when the preset gives none (written into a run's `config.toml`).
    pub(crate) default: Option<DefaultValue>,
}

/// The values a key takes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptionKind {
    /// A file or folder, relative to the preset's folder.
    Path,
    /// Any text.
    Text,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Whole { min: u64, max: u64 },
    /// A finite number ≥ `min`.
    Number { min: f64 },
}

/// A key's default value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    Whole(u64),
    Number(f64),
}

impl DefaultValue {
    pub(crate) fn to_toml(self) -> toml::Value {
        match self {
            DefaultValue::Whole(value) => toml::Value::Integer(i64::try_from(value).unwrap_or(i64::MAX)),
            DefaultValue::Number(value) => toml::Value::Float(value),
        }
    }
}

/// A key whose value is wrong, and what it expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionProblem {
    /// The `[data]` key (empty: the `[data]` table itself).
    pub(crate) key: String,
    pub(crate) expected: String,
}

impl OptionProblem {
    pub(crate) fn new(key: &str, expected: impl Into<String>) -> OptionProblem {
        OptionProblem { key: key.to_string(), expected: expected.into() }
    }
}

impl From<OptionProblem> for DataError {
    fn from(problem: OptionProblem) -> DataError {
        let field = if problem.key.is_empty() { "data".to_string() } else { format!("data.{}", problem.key) };
        DataError::Parameter { field, expected: problem.expected }
    }
}

impl OptionSpec {
    /// The whole number `options` give this key, else its default (else 0).
    pub(crate) fn whole_in(&self, options: &DataOptions) -> u64 {
        let default = match self.default {
            Some(DefaultValue::Whole(value)) => value,
            Some(DefaultValue::Number(value)) => value as u64,
            None => 0,
        };
        options.whole(self.key).unwrap_or(default)
    }

    /// The number `options` give this key, else its default (else 0).
    pub(crate) fn number_in(&self, options: &DataOptions) -> f64 {
        let default = match self.default {
            Some(DefaultValue::Whole(value)) => value as f64,
            Some(DefaultValue::Number(value)) => value,
            None => 0.0,
        };
        options.number(self.key).unwrap_or(default)
    }

    /// Whether `value` is one this key takes.
    pub(crate) fn check(&self, value: &toml::Value) -> Result<(), OptionProblem> {
        let fits = match (self.kind, value) {
            (OptionKind::Path | OptionKind::Text, toml::Value::String(text)) => !text.is_empty(),
            (OptionKind::Choice(words), toml::Value::String(word)) => words.contains(&word.as_str()),
            (OptionKind::Whole { min, max }, toml::Value::Integer(number)) => {
                u64::try_from(*number).is_ok_and(|n| (min..=max).contains(&n))
            }
            (OptionKind::Number { min }, toml::Value::Float(number)) => number.is_finite() && *number >= min,
            (OptionKind::Number { min }, toml::Value::Integer(number)) => *number as f64 >= min,
            _ => false,
        };
        if fits {
            return Ok(());
        }
        let written = value.to_string();
        let shown = if written.chars().count() > 40 { "a longer value".to_string() } else { written };
        Err(OptionProblem::new(self.key, format!("expected {}, found {shown}", self.expected)))
    }
}

/// The `[data]` keys a preset gave beyond the common ones, by name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DataOptions(pub BTreeMap<String, toml::Value>);

impl DataOptions {
    /// Options from `(key, value)` pairs.
    #[cfg(test)]
    pub(crate) fn from_pairs<const N: usize>(pairs: [(&str, toml::Value); N]) -> DataOptions {
        DataOptions(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    pub(crate) fn is_set(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.0.get(key)?.as_str()
    }

    pub(crate) fn path(&self, key: &str) -> Option<PathBuf> {
        self.text(key).map(PathBuf::from)
    }

    pub(crate) fn whole(&self, key: &str) -> Option<u64> {
        self.0.get(key)?.as_integer().and_then(|n| u64::try_from(n).ok())
    }

    pub(crate) fn number(&self, key: &str) -> Option<f64> {
        match self.0.get(key)? {
            toml::Value::Float(number) => Some(*number),
            toml::Value::Integer(number) => Some(*number as f64),
            _ => None,
        }
    }

    /// Each key `specs` declare that is set holds a value its spec takes.
    pub(crate) fn check(&self, specs: &[OptionSpec]) -> Result<(), OptionProblem> {
        specs.iter().filter_map(|spec| Some((spec, self.0.get(spec.key)?))).try_for_each(|(spec, v)| spec.check(v))
    }
}
