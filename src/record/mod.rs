//! The files a run leaves in its output folder: `config.toml` (the fully resolved preset),
//! `metrics.csv` (long format, appended and flushed as training goes, so a killed run keeps
//! every row written before) and `summary.json`.

pub mod past;

use crate::train::{EnsembleOutcome, Event, Plan, Preset, StageOutcome};
use serde::Serialize;
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
}

impl Summary {
    pub fn new(preset: &Preset, dataset: &str, device: &str) -> Summary {
        Summary {
            preset: preset.name.clone(),
            dataset: dataset.to_string(),
            device: device.to_string(),
            seed: preset.train_seed(),
            stages: Vec::new(),
            ensembles: Vec::new(),
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
        Ok(RunRecorder { dir: dir.to_path_buf(), metrics, stages })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends the rows an event carries and flushes them to disk.
    pub fn record(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
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
        std::fs::write(self.dir.join("summary.json"), json + "\n")
    }
}
