//! The presets bundled in the binary, so `kdlab run kd` and the app work from any folder.

use crate::preset::{PresetError, PresetSource};
use std::path::{Path, PathBuf};

/// A preset file shipped in `presets/`.
#[derive(Debug, Clone, Copy)]
pub struct BundledPreset {
    /// File name, e.g. `kd.toml`.
    pub(crate) file: &'static str,
    pub(crate) text: &'static str,
}

/// Every bundled preset, in the order `kdlab presets` lists them.
pub const BUNDLED: &[BundledPreset] = &[
    BundledPreset { file: "kd.toml", text: include_str!("../presets/kd.toml") },
    BundledPreset { file: "dark_knowledge.toml", text: include_str!("../presets/dark_knowledge.toml") },
    BundledPreset { file: "ta.toml", text: include_str!("../presets/ta.toml") },
    BundledPreset { file: "ban.toml", text: include_str!("../presets/ban.toml") },
    BundledPreset { file: "label_smoothing.toml", text: include_str!("../presets/label_smoothing.toml") },
    BundledPreset { file: "rkd.toml", text: include_str!("../presets/rkd.toml") },
    BundledPreset { file: "at.toml", text: include_str!("../presets/at.toml") },
    BundledPreset { file: "fitnets.toml", text: include_str!("../presets/fitnets.toml") },
    BundledPreset { file: "dml.toml", text: include_str!("../presets/dml.toml") },
    BundledPreset { file: "dkd.toml", text: include_str!("../presets/dkd.toml") },
    BundledPreset { file: "modern_logits.toml", text: include_str!("../presets/modern_logits.toml") },
    BundledPreset { file: "playground.toml", text: include_str!("../presets/playground.toml") },
    BundledPreset { file: "cifar100.toml", text: include_str!("../presets/cifar100.toml") },
    BundledPreset { file: "lm.toml", text: include_str!("../presets/lm.toml") },
    BundledPreset { file: "lm_divergences.toml", text: include_str!("../presets/lm_divergences.toml") },
];

impl BundledPreset {
    /// The name without `.toml`.
    pub fn stem(&self) -> &'static str {
        self.file.trim_end_matches(".toml")
    }

    /// The preset's own `description`, or its first line.
    pub fn description(&self) -> String {
        toml::from_str::<toml::Table>(self.text)
            .ok()
            .and_then(|t| t.get("description").and_then(|d| d.as_str()).map(str::to_string))
            .unwrap_or_default()
    }

    pub(crate) fn source(&self) -> PresetSource {
        PresetSource {
            origin: format!("presets/{} (bundled)", self.file),
            base_dir: std::env::current_dir().unwrap_or_default(),
            text: self.text.to_string(),
            dataset: None,
        }
    }
}

/// The bundled preset named `kd`, `kd.toml` or `presets/kd.toml`.
pub(crate) fn bundled(name: &str) -> Option<&'static BundledPreset> {
    let file = Path::new(name).file_name()?.to_str()?;
    BUNDLED.iter().find(|p| p.file == file || p.stem() == file)
}

/// A preset file when `argument` names one, else the bundled preset of that name.
pub fn resolve(argument: &str) -> Result<PresetSource, PresetError> {
    let path = PathBuf::from(argument);
    if path.is_file() {
        return PresetSource::read(&path);
    }
    bundled(argument).map(BundledPreset::source).ok_or_else(|| PresetError {
        location: argument.to_string(),
        field: None,
        message: format!(
            "no such preset file, and no bundled preset of that name (bundled: {})",
            BUNDLED.iter().map(|p| p.stem()).collect::<Vec<_>>().join(", ")
        ),
    })
}
