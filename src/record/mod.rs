//! The files a run leaves in its output folder: `config.toml` (the fully resolved preset, with
//! the `[[steering]]` the run took when it is saved from the app),
//! `metrics.csv` (long format, appended and flushed as training goes, so a killed run keeps
//! every row written before, and never half a row), `summary.json`, and `probes.json` (each
//! stage's last probe and the probe examples, so a reopened run shows them).

pub mod past;
pub mod report;

use crate::fsutil::write_atomically;
use crate::preset::Preset;
use crate::preset::SteeringSection;
use crate::protocol::{DataInfo, EnsembleOutcome, Event, Parameter, Probe, StageOutcome, Steer};
use crate::train::Plan;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The header of `metrics.csv`.
pub(crate) const METRICS_HEADER: &str = "stage,model,step,epoch,metric,value";

/// What `summary.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub preset: String,
    pub(crate) dataset: String,
    pub(crate) device: String,
    pub(crate) seed: u64,
    /// One entry per stage (accuracies as fractions in [0, 1]).
    pub stages: Vec<StageOutcome>,
    pub ensembles: Vec<EnsembleOutcome>,
    /// Where the run branched off another one, for a fork.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) fork: Option<ForkRecord>,
}

/// The run a fork branched off, and where: it trained exactly as its parent until then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ForkRecord {
    /// The parent run's label (its folder name when it was saved).
    pub(crate) parent: String,
    pub(crate) stage: String,
    pub(crate) step: u64,
}

/// What `probes.json` holds: the probe examples and each stage's last probe.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub(crate) struct ProbeRecord {
    pub(crate) data: DataInfo,
    /// One per stage; `null` for a stage that reported none.
    pub(crate) probes: Vec<Option<Probe>>,
}

/// The name of the probe file in a run folder.
pub(crate) const PROBES_FILE: &str = "probes.json";

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

/// A run's resolved preset (`config`, as [`Preset::config_text`] wrote it) with what was done by hand
/// while it trained: its `[[steering]]` log, and for a fork the values its stage started with
/// at the fork (`starting`: the stage's index and values). `kdlab run` of the result retraces
/// the run.
pub(crate) fn steered_config(
    config: &str,
    starting: Option<(usize, &[(Parameter, f64)])>,
    steering: &[(Steer, String, Option<String>)],
) -> std::io::Result<String> {
    // Each entry with the name of its stage and, for a fork entry, of the run forked there.
    let steering =
        steering.iter().map(|(steer, stage, fork)| SteeringSection::of(steer, stage, fork.clone())).collect();
    let mut preset: Preset = toml::from_str(config).map_err(std::io::Error::other)?;
    if let Some((index, values)) = starting
        && let Some(stage) = preset.stages.get_mut(index)
    {
        for (parameter, value) in values {
            stage.hypers.insert(parameter.name().to_string(), toml::Value::Float(*value));
        }
    }
    preset.steering = steering;
    preset.config_text()
}

/// `metrics.csv`, appended an event's rows at a time: a write that fails part-way (a full disk)
/// is cut back to the last whole row, so the file never ends in half a row.
struct MetricsFile {
    file: File,
    /// Bytes of whole rows written so far.
    length: u64,
}

impl MetricsFile {
    fn create(path: &Path) -> std::io::Result<MetricsFile> {
        let mut metrics = MetricsFile { file: File::create(path)?, length: 0 };
        metrics.append(&[METRICS_HEADER.split(',').map(str::to_string).collect()])?;
        Ok(metrics)
    }

    fn append(&mut self, rows: &[Vec<String>]) -> std::io::Result<()> {
        use std::io::{Seek, SeekFrom, Write};
        let mut text = csv::Writer::from_writer(Vec::new());
        for row in rows {
            text.write_record(row)?;
        }
        let bytes = text.into_inner().map_err(|e| e.into_error())?;
        let written = self.file.write_all(&bytes).and_then(|()| self.file.flush());
        if let Err(error) = written {
            // Best effort: the write's own error is the one to report.
            let _ = self.file.set_len(self.length);
            let _ = self.file.seek(SeekFrom::Start(self.length));
            return Err(error);
        }
        self.length += bytes.len() as u64;
        Ok(())
    }
}

/// Writes a run's files as its events arrive.
pub struct RunRecorder {
    dir: PathBuf,
    metrics: MetricsFile,
    /// `(stage name, model name)` per stage index.
    stages: Vec<(String, String)>,
    probes: ProbeRecord,
}

impl RunRecorder {
    /// Creates the folder, writes `config.toml` and the header of `metrics.csv`.
    pub fn create(dir: &Path, plan: &Plan) -> std::io::Result<RunRecorder> {
        let stages = plan.stages.iter().map(|s| (s.name.clone(), s.model_name.clone())).collect();
        RunRecorder::create_with(dir, &plan.preset.config_text()?, stages)
    }

    /// The same from parts: the resolved preset's text and `(stage, model)` names by index.
    pub(crate) fn create_with(dir: &Path, config: &str, stages: Vec<(String, String)>) -> std::io::Result<RunRecorder> {
        std::fs::create_dir_all(dir)?;
        write_atomically(&dir.join("config.toml"), config.as_bytes())?;
        let metrics = MetricsFile::create(&dir.join("metrics.csv"))?;
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
                Ok(())
            }
            Event::Probe(probe) => {
                if let Some(slot) = self.probes.probes.get_mut(probe.stage) {
                    *slot = Some((**probe).clone());
                }
                Ok(())
            }
            Event::StageFinished(_) => self.write_probes(),
            Event::Metrics(points) => {
                let rows: Vec<Vec<String>> =
                    points.iter().map(|p| self.row(p.stage, p.step, p.epoch, &p.metric, p.value)).collect();
                self.metrics.append(&rows)
            }
            Event::ParameterChanged { stage, step, epoch, parameter, value } => {
                let row = self.row(*stage, *step, *epoch, &format!("set_{}", parameter.name()), *value);
                self.metrics.append(&[row])
            }
            _ => Ok(()),
        }
    }

    fn row(&self, stage: usize, step: u64, epoch: u64, metric: &str, value: f64) -> Vec<String> {
        let (name, model) = self.stages.get(stage).map_or(("?", "?"), |(n, m)| (n.as_str(), m.as_str()));
        vec![
            name.to_string(),
            model.to_string(),
            step.to_string(),
            epoch.to_string(),
            metric.to_string(),
            value.to_string(),
        ]
    }

    /// Writes `summary.json`.
    pub fn write_summary(&self, summary: &Summary) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(summary).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join("summary.json"), (json + "\n").as_bytes())
    }

    /// Writes `probes.json` (whole or not at all).
    pub(crate) fn write_probes(&self) -> std::io::Result<()> {
        let json = serde_json::to_string(&self.probes).map_err(std::io::Error::other)?;
        write_atomically(&self.dir.join(PROBES_FILE), json.as_bytes())
    }

    /// Replaces what the probes file will hold (a run saved from the app).
    pub(crate) fn set_probes(&mut self, probes: ProbeRecord) {
        self.probes = probes;
    }
}
