//! The files a run leaves in its output folder: `config.toml` (the fully resolved preset),
//! `metrics.csv` (long format, appended and flushed as training goes, so a killed run keeps
//! every row written before), `summary.json`, and `probes.json` (each stage's last probe and
//! the probe examples, so a reopened run shows them).

pub mod past;

use crate::train::{DataInfo, EnsembleOutcome, Event, Plan, Preset, Probe, StageOutcome};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str = "stage,model,step,epoch,metric,value";

/// What `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub preset: String,
    pub dataset: String,
    pub device: String,
    pub seed: u64,
    /// One entry per stage (accuracies as fractions in [0, 1]).
    pub stages: Vec<StageOutcome>,
    pub ensembles: Vec<EnsembleOutcome>,
    /// Where the run branched off another one, for a fork.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork: Option<ForkRecord>,
}

/// The run a fork branched off, and where: it trained exactly as its parent until then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ForkRecord {
    /// The parent run's label (its folder name when it was saved).
    pub parent: String,
    pub stage: String,
    pub step: u64,
}

/// What `probes.json` holds: the probe examples and each stage's last probe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProbeRecord {
    pub data: DataInfo,
    /// One per stage; `null` for a stage that reported none.
    pub probes: Vec<Option<Probe>>,
}

/// The name of the probe file in a run folder.
pub const PROBES_FILE: &str = "probes.json";

impl Summary {
    pub fn new(preset: &Preset, dataset: &str, device: &str) -> Summary {
        Summary {
            preset: preset.name.clone(),
            dataset: dataset.to_string(),
            device: device.to_string(),
            seed: preset.train_seed(),
            stages: Vec::new(),
            ensembles: Vec::new(),
            fork: None,
        }
    }

    /// Takes in the outcome events.
    pub fn absorb(&mut self, event: &Event) {
        match event {
            Event::StageFinished(outcome) => self.stages.push(outcome.clone()),
            Event::EnsembleEvaluated(outcome) => self.ensembles.push(outcome.clone()),
            _ => {}
        }
    }

    /// Whether any stage diverged.
    pub fn any_diverged(&self) -> bool {
        self.stages.iter().any(|s| s.diverged)
    }
}

/// The resolved preset as `config.toml` holds it.
pub fn config_text(preset: &Preset) -> std::io::Result<String> {
    toml::to_string_pretty(preset).map_err(std::io::Error::other)
}

/// Writes a run's files as its events arrive.
pub struct RunRecorder {
    dir: PathBuf,
    metrics: csv::Writer<File>,
    /// `(stage name, model name)` per stage index.
    stages: Vec<(String, String)>,
    probes: ProbeRecord,
}

impl RunRecorder {
    /// Creates the folder, writes `config.toml` and the header of `metrics.csv`.
    pub fn create(dir: &Path, plan: &Plan) -> std::io::Result<RunRecorder> {
        let stages = plan.stages.iter().map(|s| (s.name.clone(), s.model_name.clone())).collect();
        RunRecorder::create_with(dir, &config_text(&plan.preset)?, stages)
    }

    /// The same from parts: the resolved preset's text and `(stage, model)` names by index.
    pub fn create_with(dir: &Path, config: &str, stages: Vec<(String, String)>) -> std::io::Result<RunRecorder> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("config.toml"), config)?;
        let mut metrics = csv::Writer::from_writer(File::create(dir.join("metrics.csv"))?);
        metrics.write_record(METRICS_HEADER.split(','))?;
        metrics.flush()?;
        let probes = ProbeRecord { data: DataInfo::default(), probes: vec![None; stages.len()] };
        Ok(RunRecorder { dir: dir.to_path_buf(), metrics, stages, probes })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends the rows an event carries and flushes them to disk; keeps the latest probe of each
    /// stage and writes `probes.json` when a stage finishes.
    pub fn record(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::Ready(info) => {
                self.probes.data = info.data.clone();
                return Ok(());
            }
            Event::Probe(probe) => {
                if let Some(slot) = self.probes.probes.get_mut(probe.stage) {
                    *slot = Some((**probe).clone());
                }
                return Ok(());
            }
            Event::StageFinished(_) => return self.write_probes(),
            Event::Metrics(points) => {
                for point in points {
                    self.row(point.stage, point.step, point.epoch, &point.metric, point.value)?;
                }
            }
            Event::ParameterChanged { stage, step, epoch, parameter, value } => {
                self.row(*stage, *step, *epoch, &format!("set_{}", parameter.name()), *value)?;
            }
            _ => return Ok(()),
        }
        self.metrics.flush()
    }

    fn row(&mut self, stage: usize, step: u64, epoch: u64, metric: &str, value: f64) -> std::io::Result<()> {
        let (name, model) = self.stages.get(stage).map_or(("?", "?"), |(n, m)| (n.as_str(), m.as_str()));
        let record = [
            name.to_string(),
            model.to_string(),
            step.to_string(),
            epoch.to_string(),
            metric.to_string(),
            value.to_string(),
        ];
        self.metrics.write_record(&record).map_err(std::io::Error::from)
    }

    /// Writes `summary.json`.
    pub fn write_summary(&self, summary: &Summary) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join("summary.json"), (json + "\n").as_bytes())
    }

    /// Writes `probes.json` (whole or not at all).
    pub fn write_probes(&self) -> std::io::Result<()> {
        let json = serde_json::to_string(&self.probes).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join(PROBES_FILE), json.as_bytes())
    }

    /// Replaces what the probes file will hold (a run saved from the app).
    pub fn set_probes(&mut self, probes: ProbeRecord) {
        self.probes = probes;
    }
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`, so a reader
/// never sees half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}
