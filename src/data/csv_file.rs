//! CSV data: numeric feature columns plus one label column (by name, default the last), with
//! or without a header row.

use super::options::{OptionKind, OptionSpec};
use super::{DataError, DataOptions, FileFormat, InputShape, RawData, Split, read_maybe_gzip};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// `test_csv`: a separate test file with the same columns (else `test_fraction` is held out).
const TEST_CSV: OptionSpec =
    OptionSpec { key: "test_csv", kind: OptionKind::Path, expected: "a path to a CSV file", default: None };
/// `label_column`: the label column's name (or 0-based index); default the last column.
const LABEL_COLUMN: OptionSpec =
    OptionSpec { key: "label_column", kind: OptionKind::Text, expected: "a column name", default: None };

/// A CSV file (`[data] csv = "…"`), gzipped or not.
pub(crate) struct Csv;

pub(crate) const CSV: Csv = Csv;

impl FileFormat for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn summary(&self) -> &'static str {
        "CSV files"
    }

    fn key(&self) -> &'static str {
        "csv"
    }

    fn options(&self) -> &'static [OptionSpec] {
        &[TEST_CSV, LABEL_COLUMN]
    }

    fn locate(&self, path: &Path) -> Option<PathBuf> {
        path.is_file().then(|| path.to_path_buf())
    }

    fn missing(&self) -> String {
        "no CSV file".into()
    }

    fn load(&self, path: &Path, options: &DataOptions) -> Result<(RawData, Option<Split>), DataError> {
        load(path, options.path(TEST_CSV.key).as_deref(), options.text(LABEL_COLUMN.key))
    }
}

/// A parsed CSV table before labels become class indices.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) features: Vec<f32>,
    pub(crate) feature_count: usize,
    pub(crate) labels: Vec<String>,
}

/// Loads a training CSV and an optional test CSV with the same columns.
fn load(
    train_path: &Path,
    test_path: Option<&Path>,
    label_column: Option<&str>,
) -> Result<(RawData, Option<Split>), DataError> {
    let train = parse(&read_maybe_gzip(train_path)?, train_path, label_column)?;
    let test = match test_path {
        Some(path) => {
            let table = parse(&read_maybe_gzip(path)?, path, label_column)?;
            if table.feature_count != train.feature_count {
                return Err(DataError::Format {
                    path: path.to_path_buf(),
                    message: format!(
                        "has {} feature columns but the training file {} has {}",
                        table.feature_count,
                        train_path.display(),
                        train.feature_count
                    ),
                });
            }
            Some((path, table))
        }
        None => None,
    };
    let (train, test) = canonical_numbers(train, test);
    let class_names = class_names(&train.labels);
    let examples = index_labels(train, &class_names, train_path)?;
    let test = test.map(|(path, table)| index_labels(table, &class_names, path)).transpose()?;
    let shape = InputShape::Flat { features: examples.features.len() / examples.len().max(1) };
    Ok((RawData { shape, class_names, examples }, test))
}

/// When every training label is a number, labels are compared as numbers: `1` and `1.0` are one
/// class, named `1`.
fn canonical_numbers(mut train: Table, mut test: Option<(&Path, Table)>) -> (Table, Option<(&Path, Table)>) {
    if !train.labels.iter().all(|l| l.parse::<f64>().is_ok()) {
        return (train, test);
    }
    let canonical = |label: &mut String| {
        if let Ok(value) = label.parse::<f64>() {
            *label = value.to_string();
        }
    };
    train.labels.iter_mut().for_each(canonical);
    if let Some((_, table)) = test.as_mut() {
        table.labels.iter_mut().for_each(canonical);
    }
    (train, test)
}

/// Distinct labels in order: numerically when all are numbers, else as text.
pub(crate) fn class_names(labels: &[String]) -> Vec<String> {
    let distinct: BTreeSet<&String> = labels.iter().collect();
    let mut names: Vec<String> = distinct.into_iter().cloned().collect();
    if names.iter().all(|n| n.parse::<f64>().is_ok()) {
        names.sort_by(|a, b| a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0)));
    }
    names
}

fn index_labels(table: Table, class_names: &[String], path: &Path) -> Result<Split, DataError> {
    let mut labels = Vec::with_capacity(table.labels.len());
    for (row, label) in table.labels.iter().enumerate() {
        let Some(index) = class_names.iter().position(|n| n == label) else {
            return Err(DataError::Format {
                path: path.to_path_buf(),
                message: format!("row {}: label `{label}` does not occur in the training file", row + 1),
            });
        };
        labels.push(index as u32);
    }
    Ok(Split { features: table.features, labels })
}

/// Parses CSV bytes. The label column is `label_column` when given (a header name, or a 0-based
/// index for files without a header), otherwise the last column. Whether the first row is a
/// header: see [`is_header`].
pub(crate) fn parse(bytes: &[u8], path: &Path, label_column: Option<&str>) -> Result<Table, DataError> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(bytes);
    let mut records = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &e))?;
        if !record.iter().all(str::is_empty) {
            records.push(record);
        }
    }
    let Some(first) = records.first() else {
        return Err(DataError::Format { path: path.to_path_buf(), message: "holds no data rows".into() });
    };
    let width = first.len();
    let header: Option<Vec<String>> =
        is_header(&records, label_column).then(|| first.iter().map(str::to_string).collect());
    let label_index = resolve_label_column(path, header.as_deref(), width, label_column)?;
    let mut table = Table { features: Vec::new(), feature_count: width - 1, labels: Vec::new() };
    for record in &records[usize::from(header.is_some())..] {
        let line = record.position().map_or(0, |p| p.line());
        let malformed =
            |field: String, expected: String| DataError::Malformed { path: path.to_path_buf(), line, field, expected };
        if record.len() != width {
            let expected = format!("expected {width} fields like the first row, found {}", record.len());
            return Err(malformed("row".into(), expected));
        }
        for (column, field) in record.iter().enumerate() {
            if column == label_index {
                if field.is_empty() {
                    return Err(malformed(
                        column_name(header.as_deref(), column),
                        "expected a label, found an empty cell".into(),
                    ));
                }
                table.labels.push(field.to_string());
                continue;
            }
            let value = field.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| {
                malformed(column_name(header.as_deref(), column), format!("expected a finite number, found `{field}`"))
            })?;
            table.features.push(value);
        }
    }
    if table.labels.is_empty() {
        return Err(DataError::Format { path: path.to_path_buf(), message: "holds no data rows".into() });
    }
    if table.feature_count == 0 {
        return Err(DataError::Format {
            path: path.to_path_buf(),
            message: "needs at least one feature column besides the label".into(),
        });
    }
    Ok(table)
}

/// Whether the first of `records` is a header: it names `label_column`, or a field that is not
/// the label's is not a number, or only its label is text and no other row carries that label
/// (`x,y,class` over numeric labels). A first row of numbers with a text label that other rows
/// share (`0.84,0.76,dog`) is data.
fn is_header(records: &[csv::StringRecord], label_column: Option<&str>) -> bool {
    let Some(first) = records.first() else { return false };
    let numeric = |field: &str| field.parse::<f64>().is_ok();
    let label_index = match label_column {
        Some(name) if first.iter().any(|f| f == name) && !numeric(name) => return true,
        Some(index) => index.parse::<usize>().unwrap_or(first.len() - 1),
        None => first.len() - 1,
    };
    if first.iter().enumerate().any(|(column, field)| column != label_index && !numeric(field)) {
        return true;
    }
    let Some(label) = first.get(label_index).filter(|l| !numeric(l)) else { return false };
    !records[1..].iter().any(|record| record.get(label_index) == Some(label))
}

fn resolve_label_column(
    path: &Path,
    header: Option<&[String]>,
    width: usize,
    label_column: Option<&str>,
) -> Result<usize, DataError> {
    let Some(wanted) = label_column else { return Ok(width - 1) };
    if let Some(names) = header
        && let Some(index) = names.iter().position(|n| n == wanted)
    {
        return Ok(index);
    }
    if header.is_none()
        && let Ok(index) = wanted.parse::<usize>()
        && index < width
    {
        return Ok(index);
    }
    let available = match header {
        Some(names) => {
            format!("the header has columns {}", names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))
        }
        None => format!("no header row, so name the column by its 0-based index (0 to {})", width - 1),
    };
    Err(DataError::MissingLabelColumn { path: path.to_path_buf(), column: wanted.to_string(), available })
}

fn column_name(header: Option<&[String]>, column: usize) -> String {
    match header.and_then(|h| h.get(column)) {
        Some(name) => format!("column `{name}`"),
        None => format!("column {}", column + 1),
    }
}

fn csv_error(path: &Path, error: &csv::Error) -> DataError {
    let line = error.position().map_or(0, |p| p.line());
    DataError::Malformed { path: path.to_path_buf(), line, field: "row".into(), expected: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_detected_and_label_found_by_name() {
        let csv = "a,label,b\n1,x,2\n3,y,4\n";
        let table = parse(csv.as_bytes(), Path::new("t.csv"), Some("label")).unwrap();
        assert_eq!(table.features, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(table.labels, vec!["x", "y"]);
    }

    #[test]
    fn non_numeric_field_names_line_and_column() {
        let csv = "a,b,label\n1,2,0\n1,oops,1\n";
        let error = parse(csv.as_bytes(), Path::new("t.csv"), None).unwrap_err().to_string();
        assert_eq!(error, "t.csv:3: column `b`: expected a finite number, found `oops`");
    }

    #[test]
    fn ragged_row_is_reported() {
        let error = parse(b"1,2,0\n1,0\n", Path::new("t.csv"), None).unwrap_err().to_string();
        assert!(error.starts_with("t.csv:2: row: expected 3 fields"), "{error}");
    }

    #[test]
    fn numeric_labels_sort_numerically() {
        let labels: Vec<String> = ["10", "2", "1"].iter().map(|s| s.to_string()).collect();
        assert_eq!(class_names(&labels), vec!["1", "2", "10"]);
    }
}
