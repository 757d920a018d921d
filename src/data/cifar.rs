//! CIFAR-10 and CIFAR-100 as distributed: the binary version (`data_batch_1.bin` …
//! `data_batch_5.bin` and `test_batch.bin`, records of one label byte and 3,072 pixel bytes;
//! CIFAR-100's `train.bin` and `test.bin`, records of a coarse and a fine label byte and the
//! pixels) and the Python version torchvision leaves in `cifar-10-batches-py` /
//! `cifar-100-python` (protocol-2 pickles of dicts with a numpy `uint8` array `data` of shape
//! `[n, 3072]` and label lists), read with `serde-pickle`, no Python needed. Pixels are stored
//! channels first (1,024 red, 1,024 green, 1,024 blue), which is this crate's image layout.

use super::options::{OptionKind, OptionProblem, OptionSpec};
use super::{DataError, DataOptions, FileFormat, InputShape, RawData, Split};
use serde_pickle::{DeOptions, HashableValue, Value};
use std::path::{Path, PathBuf};

/// Values of one 32×32 RGB image.
const PIXELS: usize = 3 * 32 * 32;
const SHAPE: InputShape = InputShape::Image { channels: 3, height: 32, width: 32 };

/// Which of CIFAR-100's two labels a run learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
enum CifarLabels {
    /// The 100 classes.
    #[default]
    Fine,
    /// The 20 superclasses.
    Coarse,
}

/// The two CIFAR datasets, each a format of `[data] path`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cifar {
    Ten,
    Hundred,
}

/// How the files of one CIFAR folder are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Binary,
    Python,
}

impl Cifar {
    /// The training files and the test file of `version`.
    fn files(self, version: Version) -> (Vec<String>, String) {
        let suffix = if version == Version::Binary { ".bin" } else { "" };
        match self {
            Cifar::Ten => ((1..=5).map(|k| format!("data_batch_{k}{suffix}")).collect(), format!("test_batch{suffix}")),
            Cifar::Hundred => (vec![format!("train{suffix}")], format!("test{suffix}")),
        }
    }

    /// Which version `dir` holds, by its first training file.
    fn version_in(self, dir: &Path) -> Option<Version> {
        [Version::Binary, Version::Python].into_iter().find(|&version| dir.join(&self.files(version).0[0]).is_file())
    }

    fn classes(self, labels: CifarLabels) -> usize {
        match (self, labels) {
            (Cifar::Ten, _) => 10,
            (Cifar::Hundred, CifarLabels::Fine) => 100,
            (Cifar::Hundred, CifarLabels::Coarse) => 20,
        }
    }

    /// The key of the label list in the Python version's dicts, and the label's byte in a
    /// binary record.
    fn label_key(self, labels: CifarLabels) -> (&'static str, usize) {
        match (self, labels) {
            (Cifar::Ten, _) => ("labels", 0),
            (Cifar::Hundred, CifarLabels::Coarse) => ("coarse_labels", 0),
            (Cifar::Hundred, CifarLabels::Fine) => ("fine_labels", 1),
        }
    }

    /// Label bytes in front of each binary record.
    fn label_bytes(self) -> usize {
        match self {
            Cifar::Ten => 1,
            Cifar::Hundred => 2,
        }
    }

    /// Where the class names are: a text file of the binary version (one per line) or a key of
    /// the Python version's metadata pickle.
    fn names_source(self, version: Version, labels: CifarLabels) -> (&'static str, &'static str) {
        match (self, version, labels) {
            (Cifar::Ten, Version::Binary, _) => ("batches.meta.txt", ""),
            (Cifar::Ten, Version::Python, _) => ("batches.meta", "label_names"),
            (Cifar::Hundred, Version::Binary, CifarLabels::Fine) => ("fine_label_names.txt", ""),
            (Cifar::Hundred, Version::Binary, CifarLabels::Coarse) => ("coarse_label_names.txt", ""),
            (Cifar::Hundred, Version::Python, CifarLabels::Fine) => ("meta", "fine_label_names"),
            (Cifar::Hundred, Version::Python, CifarLabels::Coarse) => ("meta", "coarse_label_names"),
        }
    }
}

/// `labels`: CIFAR-100's fine (100 classes, the default) or coarse (20) labels.
const LABELS: OptionSpec = OptionSpec {
    key: "labels",
    kind: OptionKind::Choice(&["fine", "coarse"]),
    expected: "\"fine\" or \"coarse\"",
    default: None,
};

impl FileFormat for Cifar {
    fn name(&self) -> &'static str {
        match self {
            Cifar::Ten => "cifar10",
            Cifar::Hundred => "cifar100",
        }
    }

    fn summary(&self) -> &'static str {
        match self {
            Cifar::Ten => "CIFAR-10 folders",
            Cifar::Hundred => "CIFAR-100 folders",
        }
    }

    fn key(&self) -> &'static str {
        "path"
    }

    fn options(&self) -> &'static [OptionSpec] {
        &[LABELS]
    }

    fn check(&self, options: &DataOptions) -> Result<(), OptionProblem> {
        match (self, options.text(LABELS.key)) {
            (Cifar::Ten, Some("coarse")) => Err(OptionProblem::new(LABELS.key, "\"coarse\" applies to CIFAR-100 only")),
            _ => Ok(()),
        }
    }

    fn locate(&self, path: &Path) -> Option<PathBuf> {
        let archives: &[&str] = match self {
            Cifar::Ten => &["cifar-10-batches-bin", "cifar-10-batches-py"],
            Cifar::Hundred => &["cifar-100-binary", "cifar-100-python"],
        };
        std::iter::once(path.to_path_buf())
            .chain(archives.iter().map(|name| path.join(name)))
            .find(|dir| self.version_in(dir).is_some())
    }

    fn missing(&self) -> String {
        let (binary, python) = (self.files(Version::Binary).0, self.files(Version::Python).0);
        let name = match self {
            Cifar::Ten => "CIFAR-10",
            Cifar::Hundred => "CIFAR-100",
        };
        format!("no {name} files ({} or {})", binary[0], python[0])
    }

    fn load(&self, dir: &Path, options: &DataOptions) -> Result<(RawData, Option<Split>), DataError> {
        self.check(options).map_err(|problem| DataError::Parameter {
            field: format!("data.{}", problem.key),
            expected: format!("{}; {} holds CIFAR-10", problem.expected, dir.display()),
        })?;
        let labels = match options.text(LABELS.key) {
            Some("coarse") => CifarLabels::Coarse,
            _ => CifarLabels::Fine,
        };
        let version = self
            .version_in(dir)
            .ok_or_else(|| DataError::Format { path: dir.to_path_buf(), message: self.missing() })?;
        let (raw, test) = load(dir, *self, version, labels)?;
        Ok((raw, Some(test)))
    }
}

/// Loads the training and test splits of a CIFAR folder.
fn load(dir: &Path, cifar: Cifar, version: Version, labels: CifarLabels) -> Result<(RawData, Split), DataError> {
    let (train_files, test_file) = cifar.files(version);
    let read = |name: &String| {
        let path = dir.join(name);
        match version {
            Version::Binary => read_binary(&path, cifar, labels),
            Version::Python => read_pickle(&path, cifar, labels),
        }
    };
    let mut train = Split::default();
    for name in &train_files {
        let part = read(name)?;
        train.features.extend(part.features);
        train.labels.extend(part.labels);
    }
    let test = read(&test_file)?;
    let class_names = class_names(dir, cifar, version, labels)?;
    Ok((RawData { shape: SHAPE, class_names, examples: train }, test))
}

/// Reads one binary file: whole records only, every label in range.
fn read_binary(path: &Path, cifar: Cifar, labels: CifarLabels) -> Result<Split, DataError> {
    let bytes = super::read_file(path)?;
    let format_error = |message: String| DataError::Format { path: path.to_path_buf(), message };
    let record = cifar.label_bytes() + PIXELS;
    if bytes.is_empty() {
        return Err(format_error("holds no records".into()));
    }
    if !bytes.len().is_multiple_of(record) {
        return Err(format_error(format!(
            "truncated record: {} bytes is not a whole number of {record}-byte records ({} label byte(s) and \
             {PIXELS} pixels); record {} is cut short",
            bytes.len(),
            cifar.label_bytes(),
            bytes.len() / record + 1
        )));
    }
    let (_, label_at) = cifar.label_key(labels);
    let mut split =
        Split { features: Vec::with_capacity(bytes.len()), labels: Vec::with_capacity(bytes.len() / record) };
    for (index, chunk) in bytes.chunks_exact(record).enumerate() {
        let label = check_label(chunk[label_at].into(), cifar.classes(labels), index).map_err(&format_error)?;
        split.labels.push(label);
        split.features.extend(chunk[cifar.label_bytes()..].iter().map(|&p| f32::from(p)));
    }
    Ok(split)
}

/// `label` when it names one of `classes`, else the message saying which record holds what.
fn check_label(label: i64, classes: usize, index: usize) -> Result<u32, String> {
    match u32::try_from(label) {
        Ok(l) if (l as usize) < classes => Ok(l),
        _ => Err(format!("record {}: label {label} out of range 0–{}", index + 1, classes - 1)),
    }
}

/// Reads one pickled batch of the Python version.
fn read_pickle(path: &Path, cifar: Cifar, labels: CifarLabels) -> Result<Split, DataError> {
    let dict = read_dict(path)?;
    let format_error = |message: String| DataError::Format { path: path.to_path_buf(), message };
    let (label_key, _) = cifar.label_key(labels);
    let pixels = numpy_bytes(entry(&dict, "data").ok_or_else(|| format_error("no `data` entry".into()))?)
        .map_err(|expected| format_error(format!("`data`: {expected}")))?;
    let label_list = match entry(&dict, label_key) {
        Some(Value::List(values)) => values,
        Some(_) => return Err(format_error(format!("`{label_key}`: expected a list of integers"))),
        None => return Err(format_error(format!("no `{label_key}` entry"))),
    };
    if pixels.len() != label_list.len() * PIXELS {
        return Err(format_error(format!(
            "`data` holds {} images but `{label_key}` holds {} labels",
            pixels.len() / PIXELS,
            label_list.len()
        )));
    }
    let mut split = Split { features: pixels.iter().map(|&p| f32::from(p)).collect(), labels: Vec::new() };
    for (index, value) in label_list.iter().enumerate() {
        let Value::I64(label) = value else {
            return Err(format_error(format!("`{label_key}`: entry {} is not an integer", index + 1)));
        };
        split.labels.push(check_label(*label, cifar.classes(labels), index).map_err(format_error)?);
    }
    Ok(split)
}

/// A pickled dict (numpy's globals left unresolved: its arrays arrive as their state tuples).
fn read_dict(path: &Path) -> Result<Vec<(HashableValue, Value)>, DataError> {
    super::check_file_size(path)?;
    let file = std::fs::File::open(path).map_err(|source| DataError::Io { path: path.to_path_buf(), cause: source })?;
    let options = DeOptions::new().replace_unresolved_globals();
    let value = serde_pickle::value_from_reader(std::io::BufReader::new(file), options)
        .map_err(|e| DataError::Format { path: path.to_path_buf(), message: format!("not a readable pickle: {e}") })?;
    match value {
        Value::Dict(dict) => Ok(dict.into_iter().collect()),
        _ => Err(DataError::Format { path: path.to_path_buf(), message: "expected a pickled dict".into() }),
    }
}

/// The value of `key` in a dict whose keys are byte strings or strings.
fn entry<'a>(dict: &'a [(HashableValue, Value)], key: &str) -> Option<&'a Value> {
    dict.iter()
        .find(|(k, _)| match k {
            HashableValue::Bytes(bytes) => bytes.as_slice() == key.as_bytes(),
            HashableValue::String(string) => string == key,
            _ => false,
        })
        .map(|(_, v)| v)
}

/// The raw bytes of a pickled numpy `uint8` array of shape `[n, 3072]`: numpy pickles an array
/// as its state `(version, shape, dtype, fortran_order, raw_bytes)`.
fn numpy_bytes(value: &Value) -> Result<&[u8], String> {
    let expected = || "expected a numpy uint8 array of shape [n, 3072]".to_string();
    let Value::Tuple(state) = value else { return Err(expected()) };
    let (Some(Value::Tuple(shape)), Some(Value::Bytes(raw))) = (state.get(1), state.last()) else {
        return Err(expected());
    };
    let dims: Vec<i64> = shape.iter().filter_map(|d| if let Value::I64(d) = d { Some(*d) } else { None }).collect();
    match dims.as_slice() {
        [n, width] if *width == PIXELS as i64 && usize::try_from(*n).is_ok_and(|n| n * PIXELS == raw.len()) => Ok(raw),
        [n, width] if *width == PIXELS as i64 => {
            Err(format!("{} bytes for {n} images of {PIXELS} values: not uint8, or cut short", raw.len()))
        }
        _ => Err(format!("{}, found shape {dims:?}", expected())),
    }
}

/// The class names from the folder's metadata file when it has one, else the label numbers.
fn class_names(dir: &Path, cifar: Cifar, version: Version, labels: CifarLabels) -> Result<Vec<String>, DataError> {
    let classes = cifar.classes(labels);
    let (file, key) = cifar.names_source(version, labels);
    let path = dir.join(file);
    if !path.is_file() {
        return Ok((0..classes).map(|c| c.to_string()).collect());
    }
    let names: Vec<String> = match version {
        Version::Binary => std::fs::read_to_string(&path)
            .map_err(|source| DataError::Io { path: path.clone(), cause: source })?
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect(),
        Version::Python => match entry(&read_dict(&path)?, key) {
            Some(Value::List(values)) => values.iter().filter_map(name_of).collect(),
            _ => Vec::new(),
        },
    };
    if names.len() != classes {
        return Err(names_error(path, classes, names.len(), key));
    }
    Ok(names)
}

fn name_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

fn names_error(path: PathBuf, classes: usize, found: usize, key: &str) -> DataError {
    let what = if key.is_empty() { "lines".to_string() } else { format!("`{key}`") };
    DataError::Format { path, message: format!("expected {classes} class names in {what}, found {found}") }
}
