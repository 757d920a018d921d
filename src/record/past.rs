//! Reading a run folder back (as `kdlab run` and `kdlab report` write them): `summary.json` and
//! `metrics.csv` turned into the events that would have produced them, so the app can show a
//! past run next to live ones with the same views.

use crate::data::InputShape;
use crate::train::preset::Method;
use crate::train::{Event, MetricPoint, Parameter, RunInfo, StageInfo, StageOutcome, StageStart};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Why a folder cannot be read as a run.
#[derive(Debug, thiserror::Error)]
pub enum PastRunError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The parts of `summary.json` a past run needs.
#[derive(Deserialize)]
struct SummaryFile {
    preset: String,
    dataset: String,
    device: String,
    stages: Vec<StageFile>,
}

#[derive(Deserialize)]
struct StageFile {
    name: String,
    model: String,
    method: String,
    teacher: Option<String>,
    params: usize,
    epochs: usize,
    steps: u64,
    wall_seconds: f64,
    train_accuracy: Option<f64>,
    test_accuracy: Option<f64>,
    agreement_with_teacher: Option<f64>,
    #[serde(default)]
    diverged: bool,
    #[serde(default)]
    stopped: bool,
    #[serde(default)]
    cached: bool,
    skipped: Option<String>,
}

/// A row of `metrics.csv`.
#[derive(Deserialize)]
struct Row {
    stage: String,
    step: u64,
    epoch: u64,
    metric: String,
    value: f64,
}

/// The events that replay the run recorded in `dir`, ending with `Finished`.
pub fn read_run(dir: &Path) -> Result<Vec<Event>, PastRunError> {
    let summary_path = dir.join("summary.json");
    let text = std::fs::read_to_string(&summary_path)
        .map_err(|source| PastRunError::Io { path: summary_path.clone(), source })?;
    let summary: SummaryFile = serde_json::from_str(&text).map_err(|e| PastRunError::Invalid {
        path: summary_path.clone(),
        message: format!("line {}: {e}", e.line()),
    })?;
    let stage_of = |name: &str| summary.stages.iter().position(|s| s.name == name);
    let metrics_path = dir.join("metrics.csv");
    let mut reader = csv::Reader::from_path(&metrics_path).map_err(|e| invalid(&metrics_path, e))?;
    let mut points = Vec::new();
    let mut markers = Vec::new();
    for (line, row) in reader.deserialize::<Row>().enumerate() {
        let row = row.map_err(|e| invalid(&metrics_path, e))?;
        let Some(stage) = stage_of(&row.stage) else {
            let message = format!("line {}: stage \"{}\" is not in summary.json", line + 2, row.stage);
            return Err(PastRunError::Invalid { path: metrics_path, message });
        };
        match row.metric.strip_prefix("set_").and_then(parameter_named) {
            Some(parameter) => markers.push(Event::ParameterChanged {
                stage,
                step: row.step,
                epoch: row.epoch,
                parameter,
                value: row.value,
            }),
            None => points.push(MetricPoint {
                stage,
                step: row.step,
                epoch: row.epoch,
                metric: row.metric,
                value: row.value,
            }),
        }
    }
    let mut events = vec![Event::Ready(Box::new(info(&summary, dir)))];
    for (index, stage) in summary.stages.iter().enumerate() {
        events.push(Event::StageStarted(StageStart {
            stage: index,
            name: stage.name.clone(),
            model: stage.model.clone(),
            method: method_name(&stage.method),
            teacher: stage.teacher.clone(),
            params: stage.params,
            epochs: stage.epochs,
            total_steps: stage.steps,
            reused_from: None,
        }));
        events.push(Event::Metrics(points.iter().filter(|p| p.stage == index).cloned().collect()));
        events.extend(
            markers.iter().filter(|m| matches!(m, Event::ParameterChanged { stage, .. } if *stage == index)).cloned(),
        );
        events.push(Event::StageFinished(outcome(index, stage)));
    }
    events.push(Event::Finished { cancelled: false });
    Ok(events)
}

fn invalid(path: &Path, error: csv::Error) -> PastRunError {
    let at = error.position().map(|p| format!("line {}: ", p.line())).unwrap_or_default();
    PastRunError::Invalid { path: path.to_path_buf(), message: format!("{at}{error}") }
}

fn parameter_named(name: &str) -> Option<Parameter> {
    [Parameter::Temperature, Parameter::Alpha, Parameter::Beta].into_iter().find(|p| p.name() == name)
}

/// The static name of a known method (events carry `&'static str`); unknown names read as "?".
fn method_name(name: &str) -> &'static str {
    Method::ALL.iter().map(|m| m.name()).find(|m| *m == name).unwrap_or("?")
}

fn info(summary: &SummaryFile, dir: &Path) -> RunInfo {
    RunInfo {
        preset: summary.preset.clone(),
        description: String::new(),
        config: std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default(),
        dataset: summary.dataset.clone(),
        device: format!("{} (recorded)", summary.device),
        shape: InputShape::Flat { features: 0 },
        class_names: Vec::new(),
        train_examples: 0,
        test_examples: 0,
        probe_examples: Vec::new(),
        probe_labels: Vec::new(),
        probe_features: Vec::new(),
        relation_labels: Vec::new(),
        plane: None,
        stages: summary
            .stages
            .iter()
            .map(|s| StageInfo {
                name: s.name.clone(),
                model: s.model.clone(),
                method: method_name(&s.method),
                teacher: s.teacher.clone(),
                temperature: None,
                alpha: None,
                beta: None,
            })
            .collect(),
    }
}

fn outcome(index: usize, stage: &StageFile) -> StageOutcome {
    StageOutcome {
        stage: index,
        name: stage.name.clone(),
        model: stage.model.clone(),
        method: method_name(&stage.method),
        teacher: stage.teacher.clone(),
        params: stage.params,
        epochs: stage.epochs,
        steps: stage.steps,
        wall_seconds: stage.wall_seconds,
        train_accuracy: stage.train_accuracy,
        test_accuracy: stage.test_accuracy,
        agreement_with_teacher: stage.agreement_with_teacher,
        diverged: stage.diverged,
        stopped: stage.stopped,
        cached: stage.cached,
        skipped: stage.skipped.clone(),
    }
}
