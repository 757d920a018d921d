//! What the app remembers between launches (through eframe's storage): the chosen preset,
//! dataset and device, recent preset files, how the curves are drawn, and the tile arrangement.

use super::history::StageHistory;
use crate::engine::DeviceChoice;
use crate::engine::{DeviceArg, DeviceTarget, RemoteError};
use crate::engine::{PresetError, PresetSource};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How many recent preset files are remembered.
const RECENT_FILES: usize = 8;

/// Which preset runs on Start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PresetChoice {
    /// A bundled preset by its stem (`kd`).
    Bundled(String),
    /// A preset file.
    File(PathBuf),
}

impl PresetChoice {
    pub(crate) fn label(&self) -> String {
        match self {
            PresetChoice::Bundled(stem) => format!("{stem} (bundled)"),
            PresetChoice::File(path) => path.display().to_string(),
        }
    }

    /// A short name for run labels: the bundled name or the file's stem.
    pub(crate) fn short_name(&self) -> String {
        match self {
            PresetChoice::Bundled(stem) => stem.clone(),
            PresetChoice::File(path) => {
                path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into())
            }
        }
    }

    /// The preset's text and origin.
    pub(crate) fn source(&self) -> Result<PresetSource, PresetError> {
        match self {
            PresetChoice::Bundled(stem) => crate::engine::bundled_preset(stem),
            PresetChoice::File(path) => PresetSource::read(path),
        }
    }
}

/// What the curves' x axis counts, per stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) enum XAxis {
    #[default]
    Step,
    Epoch,
    /// Seconds trained, time spent paused left out.
    Time,
    /// The share of the stage's planned steps: runs of different lengths line up, each planned
    /// stage from 0 to 1.
    Fraction,
}

impl XAxis {
    pub(crate) const ALL: [XAxis; 4] = [XAxis::Step, XAxis::Epoch, XAxis::Time, XAxis::Fraction];

    pub(crate) fn label(self) -> &'static str {
        match self {
            XAxis::Step => "step",
            XAxis::Epoch => "epoch",
            XAxis::Time => "seconds trained",
            XAxis::Fraction => "fraction of the planned steps",
        }
    }

    /// Where `step` of `stage` lies on this axis.
    pub(crate) fn x_of(self, stage: &StageHistory, step: f64) -> f64 {
        match self {
            XAxis::Step => step,
            XAxis::Epoch => stage.epochs_at(step),
            XAxis::Time => stage.seconds_at(step),
            XAxis::Fraction => step / stage.planned_steps().max(1) as f64,
        }
    }

    /// The step of `stage` at `x` on this axis.
    pub(crate) fn step_of(self, stage: &StageHistory, x: f64) -> f64 {
        match self {
            XAxis::Step => x,
            XAxis::Epoch => x * stage.steps_per_epoch().max(1) as f64,
            XAxis::Time => stage.step_at_seconds(x),
            XAxis::Fraction => x * stage.planned_steps().max(1) as f64,
        }
    }
}

/// Persistent settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub preset: PresetChoice,
    /// A dataset of the registry replacing the preset's own data, or `None` to keep it.
    pub(crate) dataset: Option<String>,
    pub(crate) device: DeviceChoice,
    /// Debiased-EMA weight for the curves, 0 (off) to 0.99.
    pub smoothing: f64,
    /// What the curves' x axis counts.
    pub(crate) x_axis: XAxis,
    /// Losses on a logarithmic axis.
    pub(crate) log_loss: bool,
    pub(crate) recent_files: Vec<PathBuf>,
    /// Where "Export plots" writes.
    pub export_dir: PathBuf,
    /// Runs trained at the same time.
    pub(crate) pool_size: usize,
    /// The preset key a sweep varies and its values, comma-separated.
    pub(crate) sweep_key: String,
    pub(crate) sweep_values: String,
    /// Seeds of "Repeat over seeds".
    pub(crate) seeds: u64,
    /// Whether a sweep runs each value over that many seeds (mean ± std in the sweep view).
    pub(crate) sweep_over_seeds: bool,
    /// Train on a device a `kdlab serve` hosts instead of `device`.
    pub(crate) use_remote: bool,
    /// That server: `ws://HOST:PORT`.
    pub(crate) remote_address: String,
    /// A file holding its token (the token itself is never saved here).
    pub(crate) remote_token_file: String,
    /// Devices the run pool spreads runs over, comma-separated (`cpu, ws://gpu:3000`); empty:
    /// `pool_size` runs at once on `device`.
    pub(crate) pool_devices: String,
    /// Whether a run started with Start keeps its steerable stages (those with a live T, α or β)
    /// training past their epochs until Stop, so there is time to steer them.
    pub keep_steering: bool,
}

/// Half the machine's cores (each flex run uses several threads itself), at least one.
pub(crate) fn default_pool_size() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            preset: PresetChoice::Bundled("kd".into()),
            dataset: None,
            device: DeviceChoice::Auto,
            smoothing: 0.6,
            x_axis: XAxis::Step,
            log_loss: false,
            recent_files: Vec::new(),
            export_dir: PathBuf::from("kdlab-exports"),
            pool_size: default_pool_size(),
            sweep_key: "stages.student_kd.temperature".into(),
            sweep_values: "1, 4, 16".into(),
            seeds: 3,
            sweep_over_seeds: false,
            use_remote: false,
            remote_address: String::new(),
            remote_token_file: String::new(),
            pool_devices: String::new(),
            keep_steering: true,
        }
    }
}

impl Settings {
    /// The devices the run pool spreads runs over (each remote one with the token file).
    pub(crate) fn pool_targets(&self) -> Result<Vec<DeviceTarget>, RemoteError> {
        let token_file = Some(self.remote_token_file.trim()).filter(|f| !f.is_empty()).map(PathBuf::from);
        let mut targets: Vec<DeviceTarget> = Vec::new();
        for item in self.pool_devices.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let named = if item.starts_with("ws://") || item.starts_with("iroh:") {
                format!("remote:{item}")
            } else {
                item.to_string()
            };
            let target = DeviceTarget { device: named.parse()?, token_file: token_file.clone() };
            if !targets.contains(&target) {
                targets.push(target);
            }
        }
        Ok(targets)
    }

    /// The device runs start on: `device`, or the remote server with its token file.
    pub(crate) fn device_target(&self) -> Result<DeviceTarget, RemoteError> {
        if !self.use_remote {
            return Ok(DeviceTarget::local(self.device));
        }
        let address = self.remote_address.trim();
        let named = if address.starts_with("remote:") { address.to_string() } else { format!("remote:{address}") };
        let token_file = Some(self.remote_token_file.trim()).filter(|f| !f.is_empty()).map(PathBuf::from);
        Ok(DeviceTarget { device: DeviceArg::Remote(named.parse()?), token_file })
    }

    /// Remembers a preset file as the newest recent one.
    pub(crate) fn remember(&mut self, path: PathBuf) {
        self.recent_files.retain(|p| p != &path);
        self.recent_files.insert(0, path);
        self.recent_files.truncate(RECENT_FILES);
    }

    /// The chosen preset on the chosen dataset (its own data when none is chosen).
    pub(crate) fn source(&self) -> Result<PresetSource, PresetError> {
        self.preset.source().map(|source| source.with_dataset(self.dataset.as_deref()))
    }
}
