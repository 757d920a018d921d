//! The datasets embedded in the binary: 5,000 MNIST digits and the 1,797 UCI digits.
//! Provenance and licences are in `assets/README.md`.

use super::{DataError, DataOptions, InputShape, NamedDataset, RawData, Split, csv_file, gunzip};
use std::path::Path;

const MNIST_5K_CSV: &[u8] = include_bytes!("../../assets/mnist_5k.csv.gz");
const DIGITS_CSV: &[u8] = include_bytes!("../../assets/digits.csv.gz");

/// A dataset embedded in the binary: square one-channel digit images as gzipped CSV (pixel
/// values, then the digit; no header).
pub(crate) struct Bundled {
    name: &'static str,
    summary: &'static str,
    side: usize,
    bytes: &'static [u8],
}

/// 5,000 MNIST digits, 500 a class, 28×28.
pub(crate) const MNIST_5K: Bundled =
    Bundled { name: "mnist5k", summary: "5,000 MNIST digits, 28×28 (bundled)", side: 28, bytes: MNIST_5K_CSV };
/// The 1,797 UCI handwritten digits, 8×8.
pub(crate) const DIGITS: Bundled =
    Bundled { name: "digits", summary: "1,797 UCI digits, 8×8 (bundled)", side: 8, bytes: DIGITS_CSV };

impl NamedDataset for Bundled {
    fn name(&self) -> &'static str {
        self.name
    }

    fn summary(&self) -> &'static str {
        self.summary
    }

    fn shape(&self, _: &DataOptions) -> InputShape {
        InputShape::Image { channels: 1, height: self.side, width: self.side }
    }

    fn load(&self, _: &DataOptions, _: u64) -> Result<RawData, DataError> {
        load(self)
    }
}

/// Decompresses and parses a bundled dataset: pixel values then the digit, no header.
fn load(which: &Bundled) -> Result<RawData, DataError> {
    let corrupt = |message: String| DataError::Bundled { name: which.name, message };
    let csv = gunzip(which.bytes).map_err(|e| corrupt(e.to_string()))?;
    let table = csv_file::parse(&csv, Path::new(which.name), None).map_err(|e| corrupt(e.to_string()))?;
    let side = which.side;
    if table.feature_count != side * side {
        return Err(corrupt(format!("expected {} pixels per row, found {}", side * side, table.feature_count)));
    }
    let labels = table
        .labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|d| (0.0..10.0).contains(d)).map(|d| d as u32))
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| corrupt("a label is not a digit".into()))?;
    Ok(RawData {
        shape: InputShape::Image { channels: 1, height: side, width: side },
        class_names: (0..10).map(|d| d.to_string()).collect(),
        examples: Split { features: table.features, labels },
    })
}
