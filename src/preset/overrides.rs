//! `--set key=value`: overriding one value of a parsed preset, keys dotted, entries of
//! `stages` and `ensembles` named or numbered (`stages.student_kd.temperature=8`).

use super::schema::COMMON_DATA_KEYS;
use super::validate::{FieldPath, PathSegment};
use crate::data::registry;

pub(super) fn override_touches(assignment: &str, path: &FieldPath) -> bool {
    let key = assignment.split_once('=').map_or(assignment, |(k, _)| k).trim();
    let parts: Vec<&str> = key.split('.').collect();
    let keys: Vec<&str> = path
        .0
        .iter()
        .filter_map(|segment| match segment {
            PathSegment::Key(k) => Some(k.as_str()),
            PathSegment::Index(_) => None,
        })
        .collect();
    // `stages.NAME.alpha` and `stages.1.alpha` both address `stages[1].alpha`.
    parts.first() == keys.first() && parts.last() == keys.last()
}

/// Applies one `key=value` to a parsed preset. Keys are dotted; in `stages` and `ensembles`
/// the second part is an entry's name or 0-based index (`stages.student_kd.temperature=8`).
pub(crate) fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let Some((key, raw)) = assignment.split_once('=') else {
        return Err("expected key=value, e.g. train.epochs=5".into());
    };
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`{key}` is not a dotted key like train.epochs"));
    }
    let value = parse_value(raw.trim());
    let (last, parents) = parts.split_last().ok_or("empty key")?;
    let mut current = table;
    let mut i = 0;
    while i < parents.len() {
        let part = parents[i];
        let entry = current.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                let selector =
                    parents.get(i + 1).ok_or(format!("`{part}` needs an entry name or index before the field"))?;
                i += 1;
                find_entry(items, selector).ok_or(format!("`{part}` has no entry named or numbered `{selector}`"))?
            }
            _ => return Err(format!("`{part}` is not a table")),
        };
        i += 1;
    }
    current.insert(last.to_string(), value);
    if let [section, key] = parts.as_slice()
        && *section == "data"
        && registry::source_keys().contains(key)
    {
        switch_data_source(current, key);
    }
    Ok(())
}

/// After `data.KEY=…` names a source (`dataset`, `csv`, `idx_dir`, `path`), the keys of the
/// preset's own source go: `--set data.dataset=digits` on a preset of moons drops `samples`,
/// as the app's dataset menu does.
pub(super) fn switch_data_source(data: &mut toml::Table, key: &str) {
    let keeps = registry::keys_of(key, data.get("dataset").and_then(toml::Value::as_str));
    data.retain(|k, _| k == key || (k != "format" && COMMON_DATA_KEYS.contains(&k)) || keeps.contains(&k));
}

fn find_entry<'a>(items: &'a mut [toml::Value], selector: &str) -> Option<&'a mut toml::Table> {
    let position = match selector.parse::<usize>() {
        Ok(index) => Some(index),
        Err(_) => items.iter().position(|item| item.get("name").and_then(toml::Value::as_str) == Some(selector)),
    }?;
    items.get_mut(position)?.as_table_mut()
}

/// A value as TOML would read it (`8`, `0.5`, `[64, 32]`, `"adam"`), or else as a bare string.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}
