//! A view's numbers as one table, written as CSV (a header and a row per record) and as JSON
//! (an array of objects keyed by column), so both files always carry the same data.

use super::ExportError;
use std::path::{Path, PathBuf};

/// Columns and rows of text cells (numbers already formatted exactly).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(columns: &[&str]) -> Table {
        Table { columns: columns.iter().map(|c| c.to_string()).collect(), rows: Vec::new() }
    }

    pub(crate) fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table with `columns` (name, value) put in front of its own, the same value in every
    /// row: where its numbers come from (run, seed, stage, step).
    pub(crate) fn prefixed(self, columns: &[(&str, String)]) -> Table {
        let mut names: Vec<String> = columns.iter().map(|(name, _)| name.to_string()).collect();
        names.extend(self.columns);
        let values: Vec<String> = columns.iter().map(|(_, value)| value.clone()).collect();
        let rows = self.rows.into_iter().map(|row| values.iter().cloned().chain(row).collect()).collect();
        Table { columns: names, rows }
    }

    pub(crate) fn to_csv(&self) -> Result<String, ExportError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        let failed = |e: csv::Error| ExportError::Render(e.to_string());
        writer.write_record(&self.columns).map_err(failed)?;
        for row in &self.rows {
            writer.write_record(row).map_err(failed)?;
        }
        let bytes = writer.into_inner().map_err(|e| ExportError::Render(e.to_string()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Rows as objects; cells that parse as numbers are written as numbers.
    pub(crate) fn to_json(&self) -> String {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .map(|row| {
                let object = self.columns.iter().zip(row).map(|(column, cell)| {
                    let value = cell
                        .parse::<f64>()
                        .ok()
                        .and_then(serde_json::Number::from_f64)
                        .map_or_else(|| serde_json::Value::String(cell.clone()), serde_json::Value::Number);
                    (column.clone(), value)
                });
                serde_json::Value::Object(object.collect())
            })
            .collect();
        serde_json::to_string_pretty(&rows).unwrap_or_default()
    }
}

/// Writes `<stem>.csv` and `<stem>.json` into `dir` (created if missing), under a stem no
/// earlier export has taken.
pub(crate) fn export_table(dir: &Path, stem: &str, table: &Table) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    let stem = super::data::free_stem(dir, stem, &["csv", "json"]);
    let mut written = Vec::new();
    for (extension, text) in [("csv", table.to_csv()?), ("json", table.to_json())] {
        let path = dir.join(format!("{stem}.{extension}"));
        std::fs::write(&path, text).map_err(|e| ExportError::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_hold_the_same_rows() {
        let mut table = Table::new(&["class", "count"]);
        table.push(vec!["cat".into(), "3".into()]);
        table.push(vec!["dog, big".into(), "0.5".into()]);
        assert_eq!(table.to_csv().unwrap(), "class,count\ncat,3\n\"dog, big\",0.5\n");
        let json: serde_json::Value = serde_json::from_str(&table.to_json()).unwrap();
        assert_eq!(json[1]["class"], "dog, big");
        assert_eq!(json[0]["count"], 3.0);
    }

    #[test]
    fn provenance_columns_lead_every_row() {
        let mut table = Table::new(&["class"]);
        table.push(vec!["cat".into()]);
        let table = table.prefixed(&[("run", "kd".into()), ("step", "40".into())]);
        assert_eq!(table.to_csv().unwrap(), "run,step,class\nkd,40,cat\n");
    }
}
