//! A preset's text and where it came from, loaded into a [`Preset`] with its overrides; and
//! every problem placed where it is written — `file:line:column` (or the `--set` that made
//! it), the field, and what was expected.

use super::overrides::{apply_override, override_touches, switch_data_source};
use super::schema::Preset;
use super::validate::{FieldPath, PathSegment, tables_written_as_tables};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A preset that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {}{message}", field_prefix(.field))]
pub struct PresetError {
    /// `file:line:column`, `file`, or `--set key=value`.
    pub(crate) location: String,
    /// The offending field, when one is known.
    pub(crate) field: Option<String>,
    pub(crate) message: String,
}

fn field_prefix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
}

/// serde quotes a rejected float in full (`1e308` as 309 digits): such numbers, shortened.
fn shorten_numbers(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| match part.parse::<f64>() {
            Ok(value) if i % 2 == 1 && part.len() > 24 => show_number(value),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// The key assigned on the line holding byte `offset` (`epochs` of `epochs = 3`, `[train]` of
/// a table header).
fn key_on_line(text: &str, offset: usize) -> Option<&str> {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?.trim();
    let key = if line.starts_with('[') { line } else { line.split_once('=')?.0.trim() };
    (!key.is_empty()).then_some(key)
}

/// A number as a user would write it: `1e308`, not 309 digits.
pub(super) fn show_number(value: f64) -> String {
    if value != 0.0 && !(1e-4..1e6).contains(&value.abs()) { format!("{value:e}") } else { value.to_string() }
}

/// A preset's text plus where it came from, so errors can point into it.
#[derive(Debug, Clone, Default)]
pub struct PresetSource {
    /// What to call it in messages: a path, or `bundled:kd.toml`.
    pub origin: String,
    /// The folder that relative data paths are resolved against.
    pub base_dir: PathBuf,
    pub text: String,
    /// A dataset of the registry a front end picked in place of the preset's own data (the
    /// app's dataset menu); `None` keeps the preset's.
    pub dataset: Option<String>,
}

impl PresetSource {
    /// Reads a preset file.
    pub(crate) fn read(path: &Path) -> Result<PresetSource, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|e| PresetError {
            location: path.display().to_string(),
            field: None,
            message: format!("cannot read preset: {e}"),
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(PresetSource { origin: path.display().to_string(), base_dir, text, dataset: None })
    }

    /// The same preset on the dataset called `name` instead of its own data.
    pub(crate) fn with_dataset(self, name: Option<&str>) -> PresetSource {
        PresetSource { dataset: name.map(str::to_string), ..self }
    }

    /// Parses, applies overrides, fills defaults and validates.
    pub fn load(&self, overrides: &[String]) -> Result<Preset, PresetError> {
        // Parsed twice: into `Preset` for errors placed at their line, and into a table to see
        // how each section was written (and to apply overrides to).
        let mut preset: Preset = toml::from_str(&self.text).map_err(|e| self.syntax_error(&e))?;
        let written: toml::Table = toml::from_str(&self.text).map_err(|e| self.syntax_error(&e))?;
        tables_written_as_tables(&written).map_err(|e| self.place(&e.path, e.message, &[]))?;
        if !overrides.is_empty() || self.dataset.is_some() {
            preset = self.apply_overrides(written, overrides)?;
        }
        preset.resolve_defaults();
        preset.validate().map_err(|e| self.place(&e.path, e.message, overrides))?;
        Ok(preset)
    }

    /// The chosen dataset, then the `--set` assignments, applied to the preset as written.
    fn apply_overrides(&self, mut table: toml::Table, overrides: &[String]) -> Result<Preset, PresetError> {
        if let Some(name) = &self.dataset
            && let toml::Value::Table(data) =
                table.entry("data").or_insert_with(|| toml::Value::Table(toml::Table::new()))
        {
            data.insert("dataset".into(), toml::Value::String(name.clone()));
            switch_data_source(data, "dataset");
        }
        for assignment in overrides {
            apply_override(&mut table, assignment).map_err(|message| PresetError {
                location: format!("--set {assignment}"),
                field: None,
                message,
            })?;
        }
        tables_written_as_tables(&table).map_err(|e| self.place(&e.path, e.message, overrides))?;
        Preset::deserialize(table).map_err(|e| PresetError {
            location: match (&self.dataset, overrides.is_empty()) {
                (Some(name), true) => format!("{} on dataset {name}", self.origin),
                _ => format!("{} with --set {}", self.origin, overrides.join(" --set ")),
            },
            field: None,
            message: e.message().to_string(),
        })
    }

    /// A TOML or serde error, placed at its `line:column` with the field it is about.
    fn syntax_error(&self, error: &toml::de::Error) -> PresetError {
        let mut message = shorten_numbers(&error.message().trim().replace('\n', "; "));
        if message == "duplicate key"
            && let Some(key) = error.span().and_then(|span| key_on_line(&self.text, span.start))
        {
            message = format!("duplicate key `{key}`: it is already set in this table");
        }
        // A missing field is reported on the table that lacks it: name the missing field, not
        // the table's first key.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let (location, field) = match error.span() {
            Some(span) => (
                format!("{}:{}", self.origin, line_column(&self.text, span.start)),
                missing.map(str::to_string).or_else(|| field_at(&self.text, span.start).map(|p| p.to_string())),
            ),
            None => (self.origin.clone(), missing.map(str::to_string)),
        };
        PresetError { location, field, message }
    }

    /// A validation error, placed where its field is written (or on the `--set` that set it).
    pub(crate) fn place(&self, path: &FieldPath, message: String, overrides: &[String]) -> PresetError {
        let dotted = path.to_string();
        if let Some(set) = overrides.iter().find(|o| override_touches(o, path)) {
            return PresetError { location: format!("--set {set}"), field: Some(dotted), message };
        }
        let location = match span_of(&self.text, path) {
            Some(offset) => format!("{}:{}", self.origin, line_column(&self.text, offset)),
            None => self.origin.clone(),
        };
        PresetError { location, field: Some(dotted), message }
    }
}

/// `line:column` (1-based) of a byte offset.
fn line_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{column}")
}

/// The byte offset where the value (or, failing that, the nearest enclosing table) of `path`
/// is written.
fn span_of(text: &str, path: &FieldPath) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table = root.get_ref();
    let mut value: Option<&toml::Spanned<DeValue>> = None;
    for segment in &path.0 {
        let next = match (segment, value.map(|v| v.get_ref())) {
            (PathSegment::Key(key), None) => table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v),
            (PathSegment::Key(key), Some(DeValue::Table(t))) => {
                t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
            }
            (PathSegment::Index(i), Some(DeValue::Array(items))) => items.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        best = Some(next.span().start);
        if let DeValue::Table(t) = next.get_ref() {
            table = t;
        }
        value = Some(next);
    }
    best
}

/// The path of the deepest key or value whose span contains `offset`.
fn field_at(text: &str, offset: usize) -> Option<FieldPath> {
    use toml::de::{DeTable, DeValue};
    fn search(table: &DeTable<'_>, offset: usize, path: FieldPath) -> Option<FieldPath> {
        for (key, value) in table.iter() {
            let here = path.clone().key(key.get_ref());
            if key.span().contains(&offset) {
                return Some(here);
            }
            if let Some(found) = search_value(value, offset, here) {
                return Some(found);
            }
        }
        None
    }
    fn search_value(value: &toml::Spanned<DeValue<'_>>, offset: usize, path: FieldPath) -> Option<FieldPath> {
        match value.get_ref() {
            DeValue::Table(t) => {
                search(t, offset, path.clone()).or_else(|| value.span().contains(&offset).then_some(path))
            }
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| search_value(item, offset, path.clone().index(i)))
                .or_else(|| value.span().contains(&offset).then_some(path)),
            _ => value.span().contains(&offset).then_some(path),
        }
    }
    let root = DeTable::parse(text).ok()?;
    search(root.get_ref(), offset, FieldPath::default())
}
