//! Image folders in torchvision's ImageFolder layout: `train/<class>/*.png|jpg` and
//! `test/<class>/…`, or class folders at the root (split by `test_fraction`). Classes are the
//! folder names in sorted order, as torchvision numbers them; images are decoded with the
//! `image` crate (in parallel), made RGB and resized to `size`×`size`.

use super::options::{DefaultValue, OptionKind, OptionSpec};
use super::{DataError, DataOptions, FileFormat, InputShape, RawData, Split};
use image::imageops::FilterType;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

const EXTENSIONS: [&str; 3] = ["png", "jpg", "jpeg"];
/// Copies of a split's values held at once while it loads and trains: the decoded images, the
/// joined split and the device's copy, 4 bytes a value.
const BYTES_PER_VALUE: u64 = 3 * 4;

/// The largest `image_size`: 1,024² RGB values are 12 MB an image as `f32`.
const MAX_IMAGE_SIZE: u64 = 1024;

/// `image_size`: the side images are resized to.
const IMAGE_SIZE: OptionSpec = OptionSpec {
    key: "image_size",
    kind: OptionKind::Whole { min: 1, max: MAX_IMAGE_SIZE },
    expected: "1 to 1024 pixels",
    default: Some(DefaultValue::Whole(32)),
};

/// Class folders of images, torchvision's ImageFolder layout.
pub(crate) struct ImageFolder;

pub(crate) const IMAGE_FOLDER: ImageFolder = ImageFolder;

impl FileFormat for ImageFolder {
    fn name(&self) -> &'static str {
        "image_folder"
    }

    fn summary(&self) -> &'static str {
        "image folders"
    }

    fn key(&self) -> &'static str {
        "path"
    }

    fn options(&self) -> &'static [OptionSpec] {
        &[IMAGE_SIZE]
    }

    fn locate(&self, path: &Path) -> Option<PathBuf> {
        has_subfolders(path).then(|| path.to_path_buf())
    }

    fn missing(&self) -> String {
        "no class folders".into()
    }

    fn load(&self, dir: &Path, options: &DataOptions) -> Result<(RawData, Option<Split>), DataError> {
        let size = usize::try_from(IMAGE_SIZE.whole_in(options)).unwrap_or(usize::MAX);
        load(dir, size)
    }
}

/// Whether `dir` holds `train/` and `test/` folders (else its subfolders are the classes).
fn has_split_folders(dir: &Path) -> bool {
    dir.join("train").is_dir() && dir.join("test").is_dir()
}

/// Whether `dir` has any subfolder (a class folder, or `train/`).
fn has_subfolders(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| entries.flatten().any(|e| e.path().is_dir()))
}

/// Loads an image folder: the training examples and, in the `train/` + `test/` layout, the
/// test split.
fn load(dir: &Path, size: usize) -> Result<(RawData, Option<Split>), DataError> {
    let shape = InputShape::Image { channels: 3, height: size, width: size };
    if !has_split_folders(dir) {
        let classes = class_folders(dir)?;
        let examples = read_classes(&classes, size)?;
        return Ok((RawData { shape, class_names: names(&classes), examples }, None));
    }
    let train_classes = class_folders(&dir.join("train"))?;
    let test_classes = class_folders(&dir.join("test"))?;
    let class_names = names(&train_classes);
    let mut test_paths = Vec::with_capacity(test_classes.len());
    for folder in test_classes {
        let Some(label) = class_names.iter().position(|n| *n == folder.name) else {
            return Err(DataError::Format {
                path: folder.path,
                message: format!(
                    "class `{}` is not among the training classes ({})",
                    folder.name,
                    class_names.join(", ")
                ),
            });
        };
        test_paths.push(ClassFolder { label, ..folder });
    }
    let examples = read_classes(&train_classes, size)?;
    let test = read_classes(&test_paths, size)?;
    Ok((RawData { shape, class_names, examples }, Some(test)))
}

/// One class's folder and its images.
struct ClassFolder {
    name: String,
    path: PathBuf,
    label: usize,
    images: Vec<PathBuf>,
}

fn names(classes: &[ClassFolder]) -> Vec<String> {
    classes.iter().map(|c| c.name.clone()).collect()
}

/// The class folders of `dir` in sorted order, each with its image files (sorted); an empty
/// class folder is an error.
fn class_folders(dir: &Path) -> Result<Vec<ClassFolder>, DataError> {
    let mut folders: Vec<PathBuf> = list(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    folders.sort();
    if folders.is_empty() {
        return Err(DataError::Format {
            path: dir.to_path_buf(),
            message: "no class folders (expected <class>/ subfolders of images)".into(),
        });
    }
    folders
        .into_iter()
        .enumerate()
        .map(|(label, path)| {
            let mut images: Vec<PathBuf> = list(&path)?.into_iter().filter(|p| is_image(p)).collect();
            images.sort();
            if images.is_empty() {
                return Err(DataError::Format {
                    path,
                    message: format!("empty class folder: no {} files", EXTENSIONS.join("/")),
                });
            }
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            Ok(ClassFolder { name, path, label, images })
        })
        .collect()
}

fn list(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let io_error = |source| DataError::Io { path: dir.to_path_buf(), cause: source };
    std::fs::read_dir(dir).map_err(io_error)?.map(|entry| entry.map(|e| e.path()).map_err(io_error)).collect()
}

fn is_image(path: &Path) -> bool {
    path.is_file()
        && path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| EXTENSIONS.iter().any(|known| e.eq_ignore_ascii_case(known)))
}

/// Every image of `classes`, decoded in parallel, in folder and file order.
fn read_classes(classes: &[ClassFolder], size: usize) -> Result<Split, DataError> {
    let files: Vec<(&PathBuf, usize)> =
        classes.iter().flat_map(|c| c.images.iter().map(move |path| (path, c.label))).collect();
    // Checked before decoding: the values the split will hold.
    let budget = crate::memory::budget();
    let bytes = (files.len() as u64).saturating_mul(3 * (size * size) as u64).saturating_mul(BYTES_PER_VALUE);
    if bytes > budget {
        return Err(DataError::Parameter {
            field: "data.image_size".into(),
            expected: format!(
                "{} images of 3×{size}×{size} need {}; {}; lower image_size",
                files.len(),
                crate::memory::describe_bytes(bytes),
                crate::memory::allows()
            ),
        });
    }
    let decoded: Vec<Vec<f32>> = files.par_iter().map(|(path, _)| read_image(path, size)).collect::<Result<_, _>>()?;
    Ok(Split { features: decoded.concat(), labels: files.iter().map(|&(_, label)| label as u32).collect() })
}

/// One image as RGB `[3, size, size]` values in 0–255, channels first.
fn read_image(path: &Path, size: usize) -> Result<Vec<f32>, DataError> {
    let image = image::open(path)
        .map_err(|e| DataError::Format { path: path.to_path_buf(), message: format!("unreadable image: {e}") })?;
    let side = u32::try_from(size).unwrap_or(u32::MAX);
    let rgb = if image.width() == side && image.height() == side {
        image.to_rgb8()
    } else {
        image.resize_exact(side, side, FilterType::Triangle).to_rgb8()
    };
    let plane = size * size;
    let mut values = vec![0f32; 3 * plane];
    for (index, pixel) in rgb.pixels().enumerate() {
        for channel in 0..3 {
            values[channel * plane + index] = f32::from(pixel[channel]);
        }
    }
    Ok(values)
}
