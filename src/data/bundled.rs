//! The datasets embedded in the binary: 5,000 MNIST digits and the 1,797 UCI digits.
//! Provenance and licences are in `assets/README.md`.

use super::{DataError, InputShape, RawData, Split, csv_file, gunzip};
use std::path::Path;

const MNIST_5K: &[u8] = include_bytes!("../../assets/mnist_5k.csv.gz");
const DIGITS: &[u8] = include_bytes!("../../assets/digits.csv.gz");

/// A bundled dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundledName {
    Mnist5k,
    Digits,
}

impl BundledName {
    pub fn parse(name: &str) -> Option<BundledName> {
        match name {
            "mnist5k" => Some(BundledName::Mnist5k),
            "digits" => Some(BundledName::Digits),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BundledName::Mnist5k => "mnist5k",
            BundledName::Digits => "digits",
        }
    }

    /// The shape of its examples: one-channel square images.
    pub fn shape(self) -> InputShape {
        InputShape::Image { channels: 1, height: self.side(), width: self.side() }
    }

    fn side(self) -> usize {
        match self {
            BundledName::Mnist5k => 28,
            BundledName::Digits => 8,
        }
    }

    fn bytes(self) -> &'static [u8] {
        match self {
            BundledName::Mnist5k => MNIST_5K,
            BundledName::Digits => DIGITS,
        }
    }
}

/// Decompresses and parses a bundled dataset: pixel values then the digit, no header.
pub(crate) fn load(which: BundledName) -> Result<RawData, DataError> {
    let corrupt = |message: String| DataError::Bundled { name: which.name(), message };
    let csv = gunzip(which.bytes()).map_err(|e| corrupt(e.to_string()))?;
    let table = csv_file::parse(&csv, Path::new(which.name()), None).map_err(|e| corrupt(e.to_string()))?;
    let side = which.side();
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
