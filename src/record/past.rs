//! Reading a run folder back (as `kdlab run` and `kdlab report` write them): `summary.json`,
//! `metrics.csv` and, when there is one, `probes.json` turned into the events that would have
//! produced them, so the app can show a past run next to live ones with the same views.

use super::{ForkRecord, PROBES_FILE, ProbeRecord};
use crate::train::{
    ClassAccuracy, DataInfo, Event, ForkOrigin, Method, MetricPoint, Parameter, RunInfo, StageInfo, StageOutcome,
    StageStart,
};
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
    #[serde(default)]
    seed: u64,
    stages: Vec<StageFile>,
    #[serde(default)]
    fork: Option<ForkRecord>,
}

#[derive(Deserialize)]
struct StageFile {
    name: String,
    model: String,
    method: Method,
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
    #[serde(default)]
    in_progress: bool,
    skipped: Option<String>,
    #[serde(default)]
    excluded_classes: Vec<ClassAccuracy>,
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

/// A recorded run: the events that replay it, and the run it was forked from, if it was.
pub(crate) struct PastRun {
    pub(crate) events: Vec<Event>,
    pub(crate) fork: Option<ForkRecord>,
}

/// The events that replay the run recorded in `dir`, ending with `Finished`.
pub fn read_run(dir: &Path) -> Result<Vec<Event>, PastRunError> {
    read_past_run(dir).map(|run| run.events)
}

/// The run recorded in `dir`: its events (ending with `Finished`) and its fork origin.
pub(crate) fn read_past_run(dir: &Path) -> Result<PastRun, PastRunError> {
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
    // Each row's stage and whether it is a marker, so a stage's rows replay in file order.
    let mut order: Vec<(usize, bool)> = Vec::new();
    for (line, row) in reader.deserialize::<Row>().enumerate() {
        let row = row.map_err(|e| invalid(&metrics_path, e))?;
        let Some(stage) = stage_of(&row.stage) else {
            let message = format!("line {}: stage \"{}\" is not in summary.json", line + 2, row.stage);
            return Err(PastRunError::Invalid { path: metrics_path, message });
        };
        let marker = row.metric.strip_prefix("set_").and_then(Parameter::named).is_some();
        order.push((stage, marker));
        match row.metric.strip_prefix("set_").and_then(Parameter::named) {
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
                seconds: None,
            }),
        }
    }
    let probes = read_probes(dir)?;
    let mut events = vec![Event::Ready(Box::new(info(&summary, dir, &points, &markers, probes.data)))];
    for (index, stage) in summary.stages.iter().enumerate() {
        let stage_points: Vec<MetricPoint> = points.iter().filter(|p| p.stage == index).cloned().collect();
        events.push(Event::StageStarted(StageStart {
            stage: index,
            name: stage.name.clone(),
            model: stage.model.clone(),
            method: stage.method.info(),
            teacher: stage.teacher.clone(),
            params: stage.params,
            epochs: stage.epochs,
            total_steps: stage.steps,
            steps_per_epoch: steps_per_epoch(&stage_points),
            keep_training: false,
            reused_from: None,
        }));
        events.extend(in_file_order(&order, index, stage_points, &markers));
        if let Some(probe) = probes.probes.get(index).cloned().flatten() {
            events.push(Event::Probe(Box::new(probe)));
        }
        events.push(Event::StageFinished(outcome(index, stage)));
    }
    events.push(Event::Finished { cancelled: false });
    Ok(PastRun { events, fork: summary.fork })
}

/// A stage's metric points and markers as events, in the order their rows were written.
fn in_file_order(order: &[(usize, bool)], stage: usize, points: Vec<MetricPoint>, markers: &[Event]) -> Vec<Event> {
    let mut points = points.into_iter();
    let mut markers =
        markers.iter().filter(|m| matches!(m, Event::ParameterChanged { stage: s, .. } if *s == stage)).cloned();
    let mut events: Vec<Event> = Vec::new();
    for &(_, marker) in order.iter().filter(|(s, _)| *s == stage) {
        match (marker, events.last_mut()) {
            (true, _) => events.extend(markers.next()),
            (false, Some(Event::Metrics(batch))) => batch.extend(points.next()),
            (false, _) => events.push(Event::Metrics(points.next().into_iter().collect())),
        }
    }
    events
}

/// `probes.json`, or nothing recorded when the folder has none (older runs).
fn read_probes(dir: &Path) -> Result<ProbeRecord, PastRunError> {
    let path = dir.join(PROBES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(ProbeRecord::default()),
        Err(source) => return Err(PastRunError::Io { path, source }),
    };
    serde_json::from_str(&text).map_err(|e| PastRunError::Invalid { path, message: format!("line {}: {e}", e.line()) })
}

/// Steps per epoch as the recorded rows show it: the most steps seen in epoch 1.
fn steps_per_epoch(points: &[MetricPoint]) -> u64 {
    points.iter().filter(|p| p.epoch == 1).map(|p| p.step).max().unwrap_or(0)
}

fn invalid(path: &Path, error: csv::Error) -> PastRunError {
    let at = error.position().map(|p| format!("line {}: ", p.line())).unwrap_or_default();
    PastRunError::Invalid { path: path.to_path_buf(), message: format!("{at}{error}") }
}

fn info(summary: &SummaryFile, dir: &Path, points: &[MetricPoint], markers: &[Event], data: DataInfo) -> RunInfo {
    // The values a stage started with: its first recorded value, or the first live change.
    let started_with = |stage: usize, parameter: Parameter| {
        let first_point = points.iter().find(|p| p.stage == stage && p.metric == parameter.name()).map(|p| p.value);
        let first_change = markers.iter().find_map(|m| match m {
            Event::ParameterChanged { stage: s, parameter: p, value, .. } if *s == stage && *p == parameter => {
                Some(*value)
            }
            _ => None,
        });
        first_point.or(first_change)
    };
    RunInfo {
        preset: summary.preset.clone(),
        description: String::new(),
        config: std::fs::read_to_string(dir.join("config.toml")).unwrap_or_default(),
        device: format!("{} (recorded)", summary.device),
        seed: summary.seed,
        data: DataInfo { dataset: summary.dataset.clone(), ..data },
        stages: summary
            .stages
            .iter()
            .enumerate()
            .map(|(index, s)| StageInfo {
                name: s.name.clone(),
                model: s.model.clone(),
                method: s.method.info(),
                teacher: s.teacher.clone(),
                parameters: s
                    .method
                    .live()
                    .filter_map(|hyper| Parameter::named(hyper.name))
                    .filter_map(|parameter| started_with(index, parameter).map(|value| (parameter, value)))
                    .collect(),
            })
            .collect(),
        fork: summary.fork.as_ref().and_then(|fork| {
            let stage = summary.stages.iter().position(|s| s.name == fork.stage)?;
            Some(ForkOrigin { stage, step: fork.step })
        }),
    }
}

fn outcome(index: usize, stage: &StageFile) -> StageOutcome {
    StageOutcome {
        stage: index,
        name: stage.name.clone(),
        model: stage.model.clone(),
        method: stage.method.info(),
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
        in_progress: stage.in_progress,
        skipped: stage.skipped.clone(),
        excluded_classes: stage.excluded_classes.clone(),
    }
}
