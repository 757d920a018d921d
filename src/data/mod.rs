//! Datasets: the bundled ones, synthetic 2-D sets, and the user's CSV or IDX files, CIFAR-10/100
//! folders (binary or Python version) and image folders — each one file, registered in
//! [`registry`] — all turned into one in-memory [`Dataset`] with a deterministic train/test
//! split and standardised features.
//!
//! Everything here is plain `Vec<f32>` data with no tensors: the engine uploads it to whatever
//! device it trains on.

mod augment;
mod bundled;
mod cifar;
mod csv_file;
mod error;
mod idx;
mod image_folder;
mod options;
pub(crate) mod registry;
mod shakespeare;
mod split;
mod synthetic;
pub(crate) mod text;

pub(crate) use augment::Augment;
pub use error::DataError;
pub use options::{DataOptions, DefaultValue, OptionKind, OptionProblem, OptionSpec};
pub(crate) use registry::{FileFormat, NamedDataset, Selected};
pub(crate) use split::{Standardization, balanced_subset, stratified_split};

pub use crate::protocol::InputShape;
use std::path::{Path, PathBuf};

/// Examples and labels of one split, row-major: example `i` is
/// `features[i * shape.len() .. (i + 1) * shape.len()]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub features: Vec<f32>,
    pub labels: Vec<u32>,
}

impl Split {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The examples at `indices`, in that order.
    pub(crate) fn select(&self, indices: &[usize], example_len: usize) -> Split {
        let mut features = Vec::with_capacity(indices.len() * example_len);
        for &i in indices {
            features.extend_from_slice(&self.features[i * example_len..(i + 1) * example_len]);
        }
        Split { features, labels: indices.iter().map(|&i| self.labels[i]).collect() }
    }
}

/// A dataset ready for training: standardised train and test splits.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// What the user called it: `mnist5k`, `moons`, a file name.
    pub name: String,
    pub shape: InputShape,
    /// One name per class; class `k` is `class_names[k]`.
    pub class_names: Vec<String>,
    pub train: Split,
    pub test: Split,
    /// The statistics the features were standardised with (from the training split only).
    pub(crate) standardization: Standardization,
    /// Text: the character of each id (class `k` is `vocabulary[k]`); empty for other data.
    pub(crate) vocabulary: Vec<char>,
}

impl Dataset {
    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Its size in a few words: examples and classes, or characters and vocabulary for text.
    pub fn describe_size(&self) -> String {
        match self.shape {
            // A text split's positions are its characters but the last.
            InputShape::Text { .. } => format!(
                "{} training / {} test characters, {} in the vocabulary",
                self.train.len() + 1,
                self.test.len() + 1,
                self.num_classes()
            ),
            _ => format!(
                "{} train / {} test examples, {} classes",
                self.train.len(),
                self.test.len(),
                self.num_classes()
            ),
        }
    }

    /// A 64-bit fingerprint of the data itself, so caches keyed on it notice changed files.
    pub(crate) fn fingerprint(&self) -> u64 {
        let mut hash = crate::hash::Fnv64::new();
        hash.write(self.name.as_bytes());
        for split in [&self.train, &self.test] {
            hash.write_u64(split.len() as u64);
            split.features.iter().for_each(|v| hash.write(&v.to_le_bytes()));
            split.labels.iter().for_each(|v| hash.write(&v.to_le_bytes()));
        }
        hash.finish()
    }
}

/// Which data a preset asks for, with paths already resolved against the preset's folder.
#[derive(Clone)]
pub enum DataSource {
    /// A bundled or generated dataset, with the values of its keys.
    Dataset { dataset: &'static dyn NamedDataset, options: DataOptions },
    /// Files at `path` in one of `formats` (one when known; else the first whose files are
    /// there), with the values of their keys.
    File { path: PathBuf, formats: Vec<&'static dyn FileFormat>, options: DataOptions },
}

impl std::fmt::Debug for DataSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DataSource::Dataset { dataset, options } => write!(f, "Dataset({}, {:?})", dataset.name(), options.0),
            DataSource::File { path, formats, options } => {
                let names: Vec<&str> = formats.iter().map(|f| f.name()).collect();
                write!(f, "File({}, {names:?}, {:?})", path.display(), options.0)
            }
        }
    }
}

impl PartialEq for DataSource {
    fn eq(&self, other: &Self) -> bool {
        let names = |formats: &[&'static dyn FileFormat]| formats.iter().map(|f| f.name()).collect::<Vec<_>>();
        match (self, other) {
            (
                DataSource::Dataset { dataset, options },
                DataSource::Dataset { dataset: other_dataset, options: other_options },
            ) => dataset.name() == other_dataset.name() && options == other_options,
            (
                DataSource::File { path, formats, options },
                DataSource::File { path: other_path, formats: other_formats, options: other_options },
            ) => path == other_path && names(formats) == names(other_formats) && options == other_options,
            _ => false,
        }
    }
}

/// A data source plus how to split it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    pub source: DataSource,
    /// Fraction of examples held out for testing when the source has no test set.
    pub test_fraction: f64,
    /// Seed of the split and of synthetic data.
    pub seed: u64,
}

/// The bundled MNIST subset: what a preset without data trains on.
impl Default for DataSource {
    fn default() -> Self {
        DataSource::Dataset { dataset: &bundled::MNIST_5K, options: DataOptions::default() }
    }
}

impl DataSource {
    /// What `dataset`, `format` and the other `[data]` keys (`options`, paths relative to
    /// `base`) select; see [`registry::select`].
    pub fn select(
        dataset: Option<&str>,
        format: Option<&str>,
        mut options: DataOptions,
        base: &Path,
    ) -> Result<DataSource, OptionProblem> {
        let selected = registry::select(dataset, format, &options, &[])?;
        for (key, value) in options.0.iter_mut() {
            if let toml::Value::String(text) = value
                && registry::is_path_key(key)
                && Path::new(text.as_str()).is_relative()
            {
                *text = base.join(text.as_str()).to_string_lossy().into_owned();
            }
        }
        Ok(match selected {
            Selected::Dataset(dataset) => DataSource::Dataset { dataset, options },
            Selected::File { key, formats } => {
                let path = options.0.remove(key).and_then(|v| v.as_str().map(PathBuf::from)).unwrap_or_default();
                DataSource::File { path, formats, options }
            }
        })
    }

    /// The dataset called `name` with its keys' defaults, or `None` if no dataset is called so.
    #[cfg(test)]
    pub(crate) fn dataset(name: &str) -> Option<DataSource> {
        Some(DataSource::Dataset { dataset: registry::dataset(name)?, options: DataOptions::default() })
    }

    /// The shape of the examples when it is known without reading any file (bundled and
    /// generated sets).
    pub(crate) fn known_shape(&self) -> Option<InputShape> {
        match self {
            DataSource::Dataset { dataset, options } => Some(dataset.shape(options)),
            DataSource::File { .. } => None,
        }
    }
}

/// Raw labelled examples before splitting and standardising.
#[derive(Debug, Clone)]
pub struct RawData {
    pub(crate) shape: InputShape,
    pub(crate) class_names: Vec<String>,
    pub(crate) examples: Split,
}

/// Loads, splits and standardises the data a spec names.
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    let (name, raw, test, source) = match &spec.source {
        DataSource::Dataset { dataset, options } => {
            options.check(dataset.options())?;
            let name = dataset.name().to_string();
            (name.clone(), dataset.load(options, spec.seed)?, None, PathBuf::from(name))
        }
        DataSource::File { path, formats, options } => {
            let (format, found) = registry::locate(path, formats)?;
            options.check(format.options())?;
            let (raw, test) = format.load(&found, options)?;
            (file_name(path), raw, test, path.clone())
        }
    };
    if let InputShape::Text { context } = raw.shape {
        let splits = text::split(&raw, context, spec.test_fraction, &source)?;
        return Ok(Dataset {
            name,
            shape: raw.shape,
            class_names: splits.vocabulary.iter().map(|&c| crate::protocol::probe::visible_char(c)).collect(),
            train: splits.train,
            test: splits.test,
            standardization: Standardization { mean: Vec::new(), std: Vec::new() },
            vocabulary: splits.vocabulary,
        });
    }
    let (train, test) = match test {
        Some(test) => (raw.examples, test),
        None => stratified_split(&raw.examples, raw.shape.len(), spec.test_fraction, spec.seed),
    };
    finish(name, raw.shape, raw.class_names, train, test)
}

/// Checks class counts and standardises both splits with training statistics.
fn finish(
    name: String,
    shape: InputShape,
    class_names: Vec<String>,
    mut train: Split,
    mut test: Split,
) -> Result<Dataset, DataError> {
    if shape.is_empty() {
        return Err(DataError::NoFeatures { dataset: name });
    }
    let present = count_present_classes(&train, class_names.len());
    if present < 2 {
        return Err(DataError::TooFewClasses { dataset: name, found: present });
    }
    if test.is_empty() {
        return Err(DataError::EmptySplit { dataset: name, split: "test" });
    }
    let standardization = Standardization::fit(&train.features, shape);
    standardization.apply(&mut train.features);
    standardization.apply(&mut test.features);
    Ok(Dataset { name, shape, class_names, train, test, standardization, vocabulary: Vec::new() })
}

fn count_present_classes(split: &Split, classes: usize) -> usize {
    let mut seen = vec![false; classes];
    for &label in &split.labels {
        if let Some(seen) = seen.get_mut(label as usize) {
            *seen = true;
        }
    }
    seen.iter().filter(|&&s| s).count()
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

/// Reads a file whole, gunzipping it when it starts with the gzip magic bytes. The file, and
/// what it decompresses to, must fit in the memory a run may use ([`crate::memory::budget`]).
pub(crate) fn read_maybe_gzip(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_file(path)?;
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let budget = crate::memory::budget();
    let out =
        gunzip_at_most(&bytes, budget).map_err(|source| DataError::Gzip { path: path.to_path_buf(), cause: source })?;
    out.ok_or_else(|| too_large(path, "decompresses to more than fits in memory".into()))
}

/// Reads a file whole, after checking its size against the memory a run may use.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    check_file_size(path)?;
    std::fs::read(path).map_err(|cause| DataError::Io { path: path.to_path_buf(), cause })
}

/// A file that exists and fits in the memory a run may use.
pub(crate) fn check_file_size(path: &Path) -> Result<(), DataError> {
    let size = std::fs::metadata(path).map_err(|cause| DataError::Io { path: path.to_path_buf(), cause })?.len();
    if size > crate::memory::budget() {
        return Err(too_large(path, format!("is {}", crate::memory::describe_bytes(size))));
    }
    Ok(())
}

fn too_large(path: &Path, what: String) -> DataError {
    DataError::Format { path: path.to_path_buf(), message: format!("{what}; {} for a run", crate::memory::allows()) }
}

pub(crate) fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Decompresses `bytes` unless they expand past `limit` bytes (`None`): a small gzip bomb must
/// not exhaust memory.
fn gunzip_at_most(bytes: &[u8], limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut decoder = flate2::read::GzDecoder::new(bytes);
    let mut chunk = vec![0u8; 1 << 20];
    let mut out = Vec::new();
    loop {
        let read = match decoder.read(&mut chunk) {
            Ok(0) => return Ok(Some(out)),
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if out.len() + read > limit {
            return Ok(None);
        }
        if out.capacity() - out.len() < read {
            // Doubling, but never past the limit: the buffer itself must stay within it.
            out.reserve_exact(out.len().max(read).min(limit - out.len()));
        }
        out.extend_from_slice(&chunk[..read]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnist5k_splits_stratified_and_standardised() {
        let spec = DataSpec { source: DataSource::dataset("mnist5k").unwrap(), test_fraction: 0.2, seed: 0 };
        let data = load(&spec).unwrap();
        assert_eq!(data.train.len(), 4000);
        assert_eq!(data.test.len(), 1000);
        assert_eq!(data.num_classes(), 10);
        assert_eq!(data.shape, InputShape::Image { channels: 1, height: 28, width: 28 });
        for class in 0..10 {
            assert_eq!(data.test.labels.iter().filter(|&&l| l == class).count(), 100);
        }
        let mean: f64 =
            data.train.features.iter().map(|&v| f64::from(v)).sum::<f64>() / data.train.features.len() as f64;
        assert!(mean.abs() < 1e-3, "training mean {mean}");
    }

    #[test]
    fn split_depends_on_seed_only() {
        let spec = |seed| DataSpec { source: DataSource::dataset("digits").unwrap(), test_fraction: 0.25, seed };
        let a = load(&spec(1)).unwrap();
        let b = load(&spec(1)).unwrap();
        let c = load(&spec(2)).unwrap();
        assert_eq!(a.train, b.train);
        assert_ne!(a.train.labels, c.train.labels);
        assert_eq!(a.train.len() + a.test.len(), 1797);
    }
}
