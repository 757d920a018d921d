//! MNIST-format IDX folders (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte` and the
//! `t10k-` pair, gzipped or not), so full MNIST or Fashion-MNIST work when a user has them.

use super::{DataError, DataOptions, FileFormat, InputShape, RawData, Split, read_maybe_gzip};
use std::path::{Path, PathBuf};

/// A folder of IDX files (`[data] idx_dir = "…"`).
pub(crate) struct Idx;

pub(crate) const IDX: Idx = Idx;

impl FileFormat for Idx {
    fn name(&self) -> &'static str {
        "idx"
    }

    fn summary(&self) -> &'static str {
        "IDX folders"
    }

    fn key(&self) -> &'static str {
        "idx_dir"
    }

    fn locate(&self, path: &Path) -> Option<PathBuf> {
        find(path, "train", "images-idx3-ubyte").ok().map(|_| path.to_path_buf())
    }

    fn missing(&self) -> String {
        "no train-images-idx3-ubyte[.gz]".into()
    }

    fn load(&self, dir: &Path, _: &DataOptions) -> Result<(RawData, Option<Split>), DataError> {
        let (raw, test) = load(dir)?;
        Ok((raw, Some(test)))
    }
}

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Loads the training and test pairs of an IDX folder.
fn load(dir: &Path) -> Result<(RawData, Split), DataError> {
    if !dir.is_dir() {
        return Err(DataError::no_folder(dir));
    }
    let (train, side) = load_pair(dir, "train")?;
    let (test, test_side) = load_pair(dir, "t10k")?;
    if test_side != side {
        return Err(DataError::Format {
            path: dir.to_path_buf(),
            message: format!(
                "test images are {}×{} but training images are {}×{}",
                test_side.0, test_side.1, side.0, side.1
            ),
        });
    }
    let classes = train.labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    if let Some((index, label)) = test.labels.iter().enumerate().find(|&(_, &label)| label as usize >= classes) {
        let path = find(dir, "t10k", "labels-idx1-ubyte")?;
        return Err(DataError::Format {
            path,
            message: format!(
                "label {label} of test image {index} never appears in the training labels (0 to {})",
                classes.saturating_sub(1)
            ),
        });
    }
    let raw = RawData {
        shape: InputShape::Image { channels: 1, height: side.0, width: side.1 },
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        examples: train,
    };
    Ok((raw, test))
}

fn load_pair(dir: &Path, prefix: &str) -> Result<(Split, (usize, usize)), DataError> {
    let images_path = find(dir, prefix, "images-idx3-ubyte")?;
    let labels_path = find(dir, prefix, "labels-idx1-ubyte")?;
    let (dims, pixels) = read_idx(&images_path, IMAGES_MAGIC, 3)?;
    if let Some(empty) = dims[1..].iter().position(|&d| d == 0) {
        let side = if empty == 0 { "rows" } else { "columns" };
        return Err(DataError::Format {
            path: images_path,
            message: format!("header says the images have 0 {side} ({}×{}); expected at least 1", dims[1], dims[2]),
        });
    }
    let (label_dims, labels) = read_idx(&labels_path, LABELS_MAGIC, 1)?;
    if dims[0] != label_dims[0] {
        return Err(DataError::Format {
            path: labels_path,
            message: format!("holds {} labels but {} holds {} images", label_dims[0], images_path.display(), dims[0]),
        });
    }
    let split = Split {
        features: pixels.iter().map(|&p| f32::from(p)).collect(),
        labels: labels.iter().map(|&l| u32::from(l)).collect(),
    };
    Ok((split, (dims[1], dims[2])))
}

/// Finds `PREFIX-STEM` or `PREFIX-STEM.gz` (also with `.` before `idx`, as some mirrors name them).
fn find(dir: &Path, prefix: &str, stem: &str) -> Result<PathBuf, DataError> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    let candidates = [format!("{prefix}-{stem}"), format!("{prefix}-{dotted}")];
    candidates
        .iter()
        .flat_map(|name| [dir.join(name), dir.join(format!("{name}.gz"))])
        .find(|path| path.is_file())
        .ok_or_else(|| DataError::MissingIdxFile { dir: dir.to_path_buf(), expected: format!("{prefix}-{stem}[.gz]") })
}

/// Reads an unsigned-byte IDX file, checking its magic number and that its size matches its
/// header.
fn read_idx(path: &Path, magic: u32, rank: usize) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let bytes = read_maybe_gzip(path)?;
    let format_error = |message: String| DataError::Format { path: path.to_path_buf(), message };
    let header_len = 4 + 4 * rank;
    if bytes.len() < header_len {
        return Err(format_error(format!("is {} bytes, too short for an IDX header", bytes.len())));
    }
    let found = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    if found != magic {
        return Err(format_error(format!("magic number is 0x{found:08x}, expected 0x{magic:08x}")));
    }
    let dims: Vec<usize> = (0..rank)
        .map(|i| {
            let at = 4 + 4 * i;
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
        })
        .collect();
    let promised = dims.iter().try_fold(1usize, |product, &d| product.checked_mul(d));
    let body = &bytes[header_len..];
    if promised != Some(body.len()) {
        let dims = dims.iter().map(usize::to_string).collect::<Vec<_>>().join("×");
        let size = promised.map_or_else(|| "more than this machine can address".to_string(), |b| format!("{b} bytes"));
        return Err(format_error(format!("header promises {dims} values ({size}), found {} bytes", body.len())));
    }
    Ok((dims, body.to_vec()))
}
