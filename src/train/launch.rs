//! From a preset to a ready run: the preset loaded and checked, its data loaded, every model
//! checked against the data. The CLI and the app share it; the app runs it on the engine thread
//! so the window never waits for data to load, and checks a preset without its data (when the
//! data's shape is known without reading it) as soon as the user picks it.

use super::plan::Plan;
use crate::data::{self, DataError, Dataset};
use crate::preset::fit::{check_excluded_classes, check_memory, check_models, check_train_examples};
use crate::preset::{PresetError, PresetSource};

/// A plan with its data, ready for the engine.
pub struct Prepared {
    pub plan: Plan,
    pub dataset: Dataset,
}

/// Why a preset cannot run: bad preset or bad data (exit code 2 in the CLI).
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Preset(#[from] PresetError),
    #[error(transparent)]
    Data(#[from] DataError),
}

/// Loads the preset (with `overrides`), its data, and checks each model against the data.
pub fn prepare(source: &PresetSource, overrides: &[String]) -> Result<Prepared, PrepareError> {
    let preset = source.load(overrides)?.with_absolute_paths(&source.base_dir);
    let dataset = data::load(&preset.data_spec(&source.base_dir))?;
    check_models(source, &preset, dataset.shape, overrides)?;
    check_memory(source, &preset, dataset.shape, dataset.num_classes(), overrides)?;
    check_excluded_classes(source, &preset, &dataset, overrides)?;
    check_train_examples(source, &preset, &dataset, overrides)?;
    Ok(Prepared { plan: Plan::new(preset), dataset })
}
