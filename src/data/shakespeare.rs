//! The bundled character-level corpus: eight Shakespeare plays as plain text (1,158,234
//! characters). Provenance and licence are in `assets/README.md`.

use super::options::OptionSpec;
use super::{DataError, DataOptions, InputShape, NamedDataset, RawData, gunzip, text};
use std::path::Path;

const PLAYS: &[u8] = include_bytes!("../../assets/shakespeare_8plays.txt.gz");

/// `dataset = "shakespeare"`.
pub(crate) struct Shakespeare;

impl NamedDataset for Shakespeare {
    fn name(&self) -> &'static str {
        "shakespeare"
    }

    fn summary(&self) -> &'static str {
        "eight Shakespeare plays, 1.16 M characters of text (bundled)"
    }

    fn shape(&self, options: &DataOptions) -> InputShape {
        text::shape(options)
    }

    fn options(&self) -> &'static [OptionSpec] {
        &[text::CONTEXT]
    }

    fn load(&self, options: &DataOptions, _: u64) -> Result<RawData, DataError> {
        let corrupt = |message: String| DataError::Bundled { name: "shakespeare", message };
        let bytes = gunzip(PLAYS).map_err(|e| corrupt(e.to_string()))?;
        let chars = text::decode(&bytes, Path::new("shakespeare")).map_err(|e| corrupt(e.to_string()))?;
        Ok(text::raw(&chars, text::context(options)))
    }
}
