//! Everything the app has heard from the engine, arranged for drawing: per-stage metric
//! series, temperature and alpha change markers, the latest probe, progress and errors.
//! Built only from events, so the views never touch the engine or burn.

use crate::train::{EnsembleOutcome, Event, Parameter, Probe, RunInfo, StageOutcome, StageStart};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A live change of temperature or alpha, drawn as a vertical marker.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub step: u64,
    pub parameter: Parameter,
    pub value: f64,
}

/// One stage's record.
#[derive(Debug, Clone, Default)]
pub struct StageHistory {
    pub name: String,
    pub method: &'static str,
    pub teacher: Option<String>,
    pub start: Option<StageStart>,
    /// Metric name → `(step, value)` points in step order.
    pub series: BTreeMap<String, Vec<[f64; 2]>>,
    pub markers: Vec<Marker>,
    pub probe: Option<Probe>,
    pub outcome: Option<StageOutcome>,
    pub diverged_at: Option<u64>,
    /// The temperature and alpha now in force (for methods that have them).
    pub temperature: Option<f64>,
    pub alpha: Option<f64>,
    pub beta: Option<f64>,
}

impl StageHistory {
    pub fn has_teacher(&self) -> bool {
        self.teacher.is_some()
    }
}

/// Steps, epoch and pause state of the stage that runs now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub stage: usize,
    pub step: u64,
    pub epoch: u64,
    pub paused: bool,
}

/// The whole run as heard so far.
#[derive(Debug, Clone)]
pub struct RunHistory {
    pub info: Option<RunInfo>,
    pub stages: Vec<StageHistory>,
    pub progress: Option<Progress>,
    pub ensembles: Vec<EnsembleOutcome>,
    pub notices: Vec<String>,
    pub error: Option<String>,
    pub finished: bool,
    pub started_at: Instant,
    /// When the `Finished` event arrived; the elapsed time stops there.
    pub finished_at: Option<Instant>,
    /// Steps per second of the running stage, smoothed.
    pub steps_per_second: f64,
    last_rate_sample: Option<(Instant, u64)>,
}

impl Default for RunHistory {
    fn default() -> Self {
        RunHistory {
            info: None,
            stages: Vec::new(),
            progress: None,
            ensembles: Vec::new(),
            notices: Vec::new(),
            error: None,
            finished: false,
            started_at: Instant::now(),
            finished_at: None,
            steps_per_second: 0.0,
            last_rate_sample: None,
        }
    }
}

impl RunHistory {
    /// Takes one event in.
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Ready(info) => {
                self.stages = info
                    .stages
                    .iter()
                    .map(|s| StageHistory {
                        name: s.name.clone(),
                        method: s.method,
                        teacher: s.teacher.clone(),
                        temperature: s.temperature,
                        alpha: s.alpha,
                        beta: s.beta,
                        ..StageHistory::default()
                    })
                    .collect();
                self.info = Some(*info);
            }
            Event::StageStarted(start) => {
                let index = start.stage;
                self.progress = Some(Progress { stage: index, step: 0, epoch: 1, paused: self.is_paused() });
                self.last_rate_sample = None;
                if let Some(stage) = self.stages.get_mut(index) {
                    stage.start = Some(start);
                }
            }
            Event::Metrics(points) => {
                for point in points {
                    if let Some(stage) = self.stages.get_mut(point.stage) {
                        stage.series.entry(point.metric).or_default().push([point.step as f64, point.value]);
                    }
                }
            }
            Event::Probe(probe) => {
                if let Some(stage) = self.stages.get_mut(probe.stage) {
                    stage.probe = Some(*probe);
                }
            }
            Event::Progress { stage, step, epoch, paused } => {
                self.update_rate(step);
                self.progress = Some(Progress { stage, step, epoch, paused });
            }
            Event::ParameterChanged { stage, step, parameter, value, .. } => {
                if let Some(history) = self.stages.get_mut(stage) {
                    history.markers.push(Marker { step, parameter, value });
                    match parameter {
                        Parameter::Temperature => history.temperature = Some(value),
                        Parameter::Alpha => history.alpha = Some(value),
                        Parameter::Beta => history.beta = Some(value),
                    }
                }
            }
            Event::Diverged { stage, step } => {
                if let Some(history) = self.stages.get_mut(stage) {
                    history.diverged_at = Some(step);
                }
                let name = self.stages.get(stage).map_or("a stage", |s| s.name.as_str());
                self.error = Some(format!("{name}: diverged at step {step}"));
            }
            Event::StageFinished(outcome) => {
                if let Some(progress) = self.progress.as_mut().filter(|p| p.stage == outcome.stage) {
                    progress.step = outcome.steps;
                    // The last progress tick may have been dropped; a completed stage ran every epoch.
                    if !outcome.stopped && !outcome.diverged && outcome.skipped.is_none() {
                        progress.epoch = outcome.epochs as u64;
                    }
                }
                if let Some(stage) = self.stages.get_mut(outcome.stage) {
                    stage.outcome = Some(outcome);
                }
            }
            Event::EnsembleEvaluated(outcome) => self.ensembles.push(outcome),
            Event::Notice(text) => self.notices.push(text),
            Event::Error(text) => self.error = Some(text),
            Event::Finished { .. } => {
                self.finished = true;
                self.finished_at = Some(Instant::now());
            }
        }
    }

    fn update_rate(&mut self, step: u64) {
        let now = Instant::now();
        if let Some((then, previous)) = self.last_rate_sample {
            let elapsed = now.duration_since(then);
            if elapsed >= Duration::from_millis(200) && step >= previous {
                let rate = (step - previous) as f64 / elapsed.as_secs_f64();
                self.steps_per_second =
                    if self.steps_per_second == 0.0 { rate } else { 0.7 * self.steps_per_second + 0.3 * rate };
                self.last_rate_sample = Some((now, step));
            }
        } else {
            self.last_rate_sample = Some((now, step));
        }
    }

    pub fn is_paused(&self) -> bool {
        self.progress.is_some_and(|p| p.paused)
    }

    /// The stage that is running (or ran last).
    pub fn current_stage(&self) -> Option<usize> {
        self.progress.map(|p| p.stage)
    }

    /// The running stage, if its method has a temperature or an alpha to steer.
    pub fn steerable_stage(&self) -> Option<&StageHistory> {
        let stage = self.stages.get(self.current_stage()?)?;
        (stage.outcome.is_none() && (stage.temperature.is_some() || stage.alpha.is_some() || stage.beta.is_some()))
            .then_some(stage)
    }

    /// What `summary.json` would hold for this run.
    pub fn summary(&self, seed: u64) -> crate::record::Summary {
        let info = self.info.as_ref();
        crate::record::Summary {
            preset: info.map_or_else(String::new, |i| i.preset.clone()),
            dataset: info.map_or_else(String::new, |i| i.dataset.clone()),
            device: info.map_or_else(String::new, |i| i.device.clone()),
            seed,
            stages: self.stages.iter().filter_map(|s| s.outcome.clone()).collect(),
            ensembles: self.ensembles.clone(),
        }
    }

    /// Every metric point heard, stage by stage, with its epoch worked out from the stage's
    /// steps per epoch.
    pub fn metric_points(&self) -> Vec<crate::train::MetricPoint> {
        let mut points = Vec::new();
        for (index, stage) in self.stages.iter().enumerate() {
            let per_epoch = stage.start.as_ref().map_or(0, |s| s.total_steps.div_ceil(s.epochs.max(1) as u64));
            for (metric, series) in &stage.series {
                points.extend(series.iter().map(|&[step, value]| crate::train::MetricPoint {
                    stage: index,
                    step: step as u64,
                    epoch: if per_epoch > 0 { (step as u64).div_ceil(per_epoch).max(1) } else { 0 },
                    metric: metric.clone(),
                    value,
                }));
            }
        }
        points
    }

    /// Writes this run as a run folder (`config.toml`, `metrics.csv`, `summary.json`, as
    /// `kdlab run` writes them) plus its curves as SVG and PNG.
    pub fn save(&self, dir: &std::path::Path) -> Result<(), crate::export::ExportError> {
        let io = |e| crate::export::ExportError::io(dir, e);
        let info = self.info.as_ref();
        let stages =
            info.map_or_else(Vec::new, |i| i.stages.iter().map(|s| (s.name.clone(), s.model.clone())).collect());
        let config = info.map_or("", |i| i.config.as_str());
        let mut recorder = crate::record::RunRecorder::create_with(dir, config, stages).map_err(io)?;
        recorder.record(&Event::Metrics(self.metric_points())).map_err(io)?;
        for (index, stage) in self.stages.iter().enumerate() {
            for marker in &stage.markers {
                let event = Event::ParameterChanged {
                    stage: index,
                    step: marker.step,
                    epoch: 0,
                    parameter: marker.parameter,
                    value: marker.value,
                };
                recorder.record(&event).map_err(io)?;
            }
        }
        let summary = self.summary(0);
        recorder.write_summary(&summary).map_err(io)?;
        let run = [crate::report::SeedRun { seed: 0, summary, metrics: self.metric_points() }];
        crate::report::write_plots(dir, &run)
    }

    /// Time since the run started, up to its end.
    pub fn elapsed(&self) -> Duration {
        self.finished_at.unwrap_or_else(Instant::now).duration_since(self.started_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_elapsed_time_stops_when_the_run_finishes() {
        let mut history = RunHistory::default();
        history.apply(Event::Finished { cancelled: false });
        let at_finish = history.elapsed();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(history.elapsed(), at_finish);
        assert!(history.finished);
    }
}
