//! The data registries. A dataset a preset names (`dataset = "…"`: bundled in the binary or
//! generated) is one file implementing [`NamedDataset`] and one line in [`DATASETS`]; a file
//! format (`csv = …`, `idx_dir = …`, `path = …`) is one file implementing [`FileFormat`] and
//! one line in [`FORMATS`]. Each declares its own `[data]` keys; [`select`] reads a `[data]`
//! table against the registries — which source it names, and whether each key belongs to it.

use super::options::{DataOptions, OptionKind, OptionProblem, OptionSpec};
use super::{
    DataError, InputShape, RawData, Split, bundled, cifar, csv_file, idx, image_folder, shakespeare, synthetic, text,
};
use std::path::{Path, PathBuf};

/// A dataset a preset names: bundled in the binary or generated.
pub trait NamedDataset: Sync {
    /// What `dataset = "…"` says.
    fn name(&self) -> &'static str;
    /// One line for pickers and `--help`.
    fn summary(&self) -> &'static str;
    /// The shape of its examples with the values `options` give its keys (known before
    /// anything is loaded).
    fn shape(&self, options: &DataOptions) -> InputShape;
    /// The `[data]` keys it reads.
    fn options(&self) -> &'static [OptionSpec] {
        &[]
    }
    /// Its examples; `options` hold values its keys take (checked), `seed` seeds generation.
    fn load(&self, options: &DataOptions, seed: u64) -> Result<RawData, DataError>;
}

/// Data in files, in one on-disk layout.
pub trait FileFormat: Sync {
    /// What `format = "…"` says.
    fn name(&self) -> &'static str;
    /// What it holds, plural, for messages (`image folders`).
    fn summary(&self) -> &'static str;
    /// The `[data]` key naming its file or folder. Formats sharing a key are told apart by their
    /// files, or by `format`; those sharing `path` read folders.
    fn key(&self) -> &'static str;
    /// The other `[data]` keys it reads.
    fn options(&self) -> &'static [OptionSpec] {
        &[]
    }
    /// Checks between its keys' values, before anything is read.
    fn check(&self, _options: &DataOptions) -> Result<(), OptionProblem> {
        Ok(())
    }
    /// The folder or file of its data at `path` (`path` itself, or a folder its archive unpacks
    /// to inside it), if its files are there.
    fn locate(&self, path: &Path) -> Option<PathBuf>;
    /// What `locate` looked for, for the message when nothing is there (`no class folders`).
    fn missing(&self) -> String;
    /// Reads the examples, and the test split when the files hold one.
    fn load(&self, path: &Path, options: &DataOptions) -> Result<(RawData, Option<Split>), DataError>;
}

/// The named datasets, in the order pickers list them.
pub(crate) static DATASETS: &[&dyn NamedDataset] = &[
    &bundled::MNIST_5K,
    &bundled::DIGITS,
    &synthetic::SyntheticKind::Moons,
    &synthetic::SyntheticKind::Spirals,
    &synthetic::SyntheticKind::Blobs,
    &shakespeare::Shakespeare,
];

/// The file formats; formats sharing a key are tried in this order when `format` is not given.
pub(crate) static FORMATS: &[&dyn FileFormat] =
    &[&csv_file::CSV, &idx::IDX, &cifar::Cifar::Ten, &cifar::Cifar::Hundred, &image_folder::IMAGE_FOLDER, &text::TEXT];

/// The dataset called `name`.
pub(crate) fn dataset(name: &str) -> Option<&'static dyn NamedDataset> {
    DATASETS.iter().copied().find(|d| d.name() == name)
}

/// The names `dataset = "…"` accepts.
pub(crate) fn dataset_names() -> Vec<&'static str> {
    DATASETS.iter().map(|d| d.name()).collect()
}

/// The keys that name a source: `dataset`, then each format's key once.
pub(crate) fn source_keys() -> Vec<&'static str> {
    let mut keys = vec!["dataset"];
    for format in FORMATS {
        if !keys.contains(&format.key()) {
            keys.push(format.key());
        }
    }
    keys
}

/// Whether `key` names a file or folder (a format's key or a path option), so that it is
/// resolved against the preset's folder.
pub(crate) fn is_path_key(key: &str) -> bool {
    FORMATS.iter().any(|f| f.key() == key || f.options().iter().any(|o| o.key == key && o.kind == OptionKind::Path))
}

/// The keys a source named by `key` reads besides it: the dataset's called `dataset_name`, or
/// its formats', and `format` where several formats share the key.
pub(crate) fn keys_of(key: &str, dataset_name: Option<&str>) -> Vec<&'static str> {
    if key == "dataset" {
        return dataset_name.and_then(dataset).map_or_else(Vec::new, |d| d.options().iter().map(|o| o.key).collect());
    }
    let formats: Vec<&dyn FileFormat> = FORMATS.iter().copied().filter(|f| f.key() == key).collect();
    let mut keys: Vec<&'static str> = formats.iter().flat_map(|f| f.options()).map(|o| o.key).collect();
    if formats.len() > 1 {
        keys.push("format");
    }
    keys
}

/// What a `[data]` table selects.
#[derive(Clone)]
pub(crate) enum Selected {
    Dataset(&'static dyn NamedDataset),
    /// A file or folder given by `key`, of one of `formats` (one when `format` says which or
    /// only one format has the key).
    File {
        key: &'static str,
        formats: Vec<&'static dyn FileFormat>,
    },
}

impl Selected {
    /// The keys the selected source reads (of every candidate format).
    pub(crate) fn options(&self) -> Vec<&'static OptionSpec> {
        match self {
            Selected::Dataset(dataset) => dataset.options().iter().collect(),
            Selected::File { formats, .. } => formats.iter().flat_map(|f| f.options()).collect(),
        }
    }
}

/// Reads a `[data]` table: `dataset`, `format`, and `options` (every other key but `common`,
/// the keys the preset's schema reads itself). Exactly one key must name a source; every other
/// key must be one the source reads, with a value it takes.
pub(crate) fn select(
    dataset_name: Option<&str>,
    format_name: Option<&str>,
    options: &DataOptions,
    common: &[&str],
) -> Result<Selected, OptionProblem> {
    let selected = choose_source(dataset_name, format_name, options)?;
    let source_key = match &selected {
        Selected::Dataset(_) => "dataset",
        Selected::File { key, .. } => key,
    };
    for (key, value) in options.0.iter().filter(|(k, _)| k.as_str() != source_key) {
        check_key(&selected, key, value, common)?;
    }
    if let Selected::File { formats, .. } = &selected
        && let [format] = formats.as_slice()
    {
        format.check(options)?;
    }
    Ok(selected)
}

fn choose_source(
    dataset_name: Option<&str>,
    format_name: Option<&str>,
    options: &DataOptions,
) -> Result<Selected, OptionProblem> {
    let keys = source_keys();
    let given: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|&k| if k == "dataset" { dataset_name.is_some() } else { options.is_set(k) })
        .collect();
    let listed = or_list(&keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>());
    let key = match given.as_slice() {
        [] => return Err(OptionProblem::new("", format!("expected one of {listed}"))),
        [key] => *key,
        _ => return Err(OptionProblem::new("", format!("give only one of {listed}"))),
    };
    let formats: Vec<&'static dyn FileFormat> = FORMATS.iter().copied().filter(|f| f.key() == key).collect();
    if format_name.is_some() && formats.len() < 2 {
        return Err(OptionProblem::new("format", format!("only applies with {}", shared_keys())));
    }
    if let Some(name) = dataset_name {
        return dataset(name).map(Selected::Dataset).ok_or_else(|| {
            OptionProblem::new("dataset", format!("expected one of {}, found \"{name}\"", dataset_names().join(", ")))
        });
    }
    let path = OptionSpec { key, kind: OptionKind::Path, expected: "a path", default: None };
    options.0.get(key).map_or(Ok(()), |value| path.check(value))?;
    let Some(name) = format_name else { return Ok(Selected::File { key, formats }) };
    match formats.iter().find(|f| f.name() == name) {
        Some(format) => Ok(Selected::File { key, formats: vec![*format] }),
        None => {
            let names: Vec<String> = formats.iter().map(|f| format!("`{}`", f.name())).collect();
            Err(OptionProblem::new("format", format!("unknown variant `{name}`, expected one of {}", names.join(", "))))
        }
    }
}

/// `key` belongs to the selected source and holds a value it takes; or else which source it
/// belongs to.
fn check_key(selected: &Selected, key: &str, value: &toml::Value, common: &[&str]) -> Result<(), OptionProblem> {
    let own: Vec<&OptionSpec> = selected.options().into_iter().filter(|o| o.key == key).collect();
    if let Some(first) = own.first() {
        // Formats told apart by their files may share a key: the value suits one of them.
        return match own.iter().any(|spec| spec.check(value).is_ok()) {
            true => Ok(()),
            false => first.check(value),
        };
    }
    let owns = |specs: &[OptionSpec]| specs.iter().any(|o| o.key == key);
    let same_key: Vec<&str> = match selected {
        Selected::File { key: source_key, .. } => {
            FORMATS.iter().filter(|f| f.key() == *source_key && owns(f.options())).map(|f| f.summary()).collect()
        }
        Selected::Dataset(_) => Vec::new(),
    };
    if !same_key.is_empty() {
        return Err(OptionProblem::new(key, format!("only applies to {}", or_list(&same_key))));
    }
    let datasets: Vec<&str> = DATASETS.iter().filter(|d| owns(d.options())).map(|d| d.name()).collect();
    if !datasets.is_empty() {
        return Err(OptionProblem::new(key, format!("only applies to the datasets {}", datasets.join(", "))));
    }
    let mut keys: Vec<&str> = FORMATS.iter().filter(|f| owns(f.options())).map(|f| f.key()).collect();
    keys.dedup();
    if !keys.is_empty() {
        let keys: Vec<String> = keys.iter().map(|k| format!("`{k}`")).collect();
        return Err(OptionProblem::new(key, format!("only applies with {}", or_list(&keys))));
    }
    let mut known: Vec<&str> = source_keys();
    known.extend(selected.options().iter().map(|o| o.key));
    known.extend(common);
    let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
    Err(OptionProblem::new(key, format!("unknown field `{key}`, expected one of {}", known.join(", "))))
}

/// The keys `format` applies with: those several formats share.
fn shared_keys() -> String {
    let keys: Vec<String> = source_keys()
        .into_iter()
        .filter(|&k| FORMATS.iter().filter(|f| f.key() == k).count() > 1)
        .map(|k| format!("`{k}`"))
        .collect();
    or_list(&keys)
}

/// `a`, `a or b`, `a, b or c`.
fn or_list<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [rest @ .., last] => {
            format!("{} or {}", rest.iter().map(AsRef::as_ref).collect::<Vec<_>>().join(", "), last.as_ref())
        }
    }
}

/// The format whose files are at `path`, and where: the only candidate as given, or the first
/// of several whose files are there.
pub(crate) fn locate(
    path: &Path,
    formats: &[&'static dyn FileFormat],
) -> Result<(&'static dyn FileFormat, PathBuf), DataError> {
    if let [format] = formats
        && format.key() != "path"
    {
        return Ok((*format, path.to_path_buf()));
    }
    if !path.is_dir() {
        return Err(DataError::no_folder(path));
    }
    if let Some(found) = formats.iter().find_map(|f| Some((*f, f.locate(path)?))) {
        return Ok(found);
    }
    let missing: Vec<String> = formats.iter().map(|f| f.missing()).collect();
    let message = match formats.len() {
        1 => or_list(&missing),
        _ => format!("{}; set `format` to say what it holds", or_list(&missing).replacen(" or ", " and ", 1)),
    };
    Err(DataError::Format { path: path.to_path_buf(), message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys_are_unique() {
        let mut names = dataset_names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DATASETS.len());
        let mut formats: Vec<&str> = FORMATS.iter().map(|f| f.name()).collect();
        formats.sort_unstable();
        formats.dedup();
        assert_eq!(formats.len(), FORMATS.len());
        assert_eq!(source_keys(), ["dataset", "csv", "idx_dir", "path", "text"]);
    }

    #[test]
    fn a_key_of_another_source_says_which() {
        let csv = DataOptions::from_pairs([("csv", "a.csv".into()), ("samples", 10.into())]);
        let problem = select(None, None, &csv, &[]).err().unwrap();
        assert_eq!(problem.key, "samples");
        assert_eq!(problem.expected, "only applies to the datasets moons, spirals, blobs");
        let moons = DataOptions::from_pairs([("image_size", 10.into())]);
        let problem = select(Some("moons"), None, &moons, &[]).err().unwrap();
        assert_eq!(problem.expected, "only applies with `path`");
        let typo = DataOptions::from_pairs([("sample", 10.into())]);
        let problem = select(Some("moons"), None, &typo, &["seed"]).err().unwrap();
        let expected = "unknown field `sample`, expected one of `dataset`, `csv`, `idx_dir`, `path`, `text`, \
                        `samples`, `noise`, `classes`, `seed`";
        assert_eq!(problem.expected, expected);
    }
}
