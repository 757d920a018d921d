//! Everything the app has heard from the engine, arranged for drawing: per-stage metric
//! series (and the order they came in, so a saved run's metrics.csv is the one `kdlab run`
//! writes), live hyperparameter change markers, the steering log, the latest probe, progress,
//! time trained (pauses excluded) and errors. Built only from events, so the views never
//! touch the engine or burn.

use crate::protocol::{
    EnsembleOutcome, Event, MethodInfo, MetricPoint, Parameter, Probe, RunInfo, StageOutcome, StageStart, Steer,
    SteerAction, metric,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A live hyperparameter change, drawn as a vertical marker.
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
    /// `None` only before the run's plan arrives.
    pub(crate) method: Option<MethodInfo>,
    pub(crate) teacher: Option<String>,
    pub start: Option<StageStart>,
    /// Metric name → `(step, value)` points in step order.
    pub series: BTreeMap<String, Vec<[f64; 2]>>,
    pub markers: Vec<Marker>,
    pub probe: Option<Probe>,
    pub outcome: Option<StageOutcome>,
    pub(crate) diverged_at: Option<u64>,
    /// The live hyperparameters of its method and the values now in force.
    pub(crate) parameters: BTreeMap<Parameter, f64>,
    /// `(step, seconds trained)` at each metric report, for the wall-time axis.
    pub(crate) clock: Vec<[f64; 2]>,
    /// Whether the stage goes on past its planned epochs until stopped (the user's toggle).
    pub keep_training: bool,
    /// The order the engine reported in, one entry per report (a template: the metric names it
    /// held, in order) or per marker ([`MARKER_ROW`]), so the stage's rows can be written back
    /// exactly as `kdlab run` writes them.
    reports: Vec<u16>,
    templates: Vec<Vec<String>>,
}

/// In a stage's report order: a parameter change (a `set_*` row).
const MARKER_ROW: u16 = u16::MAX;

impl StageHistory {
    pub(crate) fn has_teacher(&self) -> bool {
        self.teacher.is_some()
    }

    /// The value of a live parameter now in force.
    pub(crate) fn parameter(&self, parameter: Parameter) -> Option<f64> {
        self.parameters.get(&parameter).copied()
    }

    /// The value now in force of the live parameter called `name`.
    pub fn value(&self, name: &str) -> Option<f64> {
        self.parameter(Parameter::named(name)?)
    }

    /// Whether the stage has a live parameter to steer.
    pub(crate) fn is_steerable(&self) -> bool {
        !self.parameters.is_empty()
    }

    /// The method's name ("" before the plan arrives).
    pub(crate) fn method_name(&self) -> &'static str {
        self.method.map_or("", |m| m.name)
    }

    /// Takes in one report's points (all of one step), keeping the order they came in.
    fn add_report(&mut self, points: &[MetricPoint]) {
        let names: Vec<&str> = points.iter().map(|p| p.metric.as_str()).collect();
        let template = match self.templates.iter().position(|t| t.iter().map(String::as_str).eq(names.iter().copied()))
        {
            Some(template) => template,
            None => {
                self.templates.push(names.iter().map(|n| n.to_string()).collect());
                self.templates.len() - 1
            }
        };
        // Thousands of distinct report shapes do not happen; past that, order is not kept.
        if let Ok(id) = u16::try_from(template).map(|t| t.min(MARKER_ROW - 1)) {
            self.reports.push(id);
        }
        for point in points {
            let step = point.step as f64;
            if let Some(seconds) = point.seconds
                && self.clock.last().is_none_or(|last| last[0] < step)
            {
                self.clock.push([step, seconds]);
            }
            self.series.entry(point.metric.clone()).or_default().push([step, point.value]);
        }
    }

    /// Every row this stage reported, in the order the engine reported them, `set_*` rows
    /// included: what `kdlab run` writes to `metrics.csv` for it.
    pub(crate) fn rows(&self, stage: usize) -> Vec<MetricPoint> {
        let mut next: BTreeMap<&str, usize> = BTreeMap::new();
        let mut markers = self.markers.iter();
        let mut rows = Vec::new();
        let mut row = |metric: String, step: u64, value: f64| {
            rows.push(MetricPoint { stage, step, epoch: self.epoch_of(step), metric, value, seconds: None });
        };
        for &report in &self.reports {
            if report == MARKER_ROW {
                if let Some(marker) = markers.next() {
                    row(format!("set_{}", marker.parameter.name()), marker.step, marker.value);
                }
                continue;
            }
            for name in self.templates.get(usize::from(report)).into_iter().flatten() {
                let index = next.entry(name.as_str()).or_default();
                if let Some(&[step, value]) = self.series.get(name).and_then(|s| s.get(*index)) {
                    row(name.clone(), step as u64, value);
                }
                *index += 1;
            }
        }
        rows
    }

    /// The stage's numbers so far, as its outcome will hold them, for a stage still training.
    fn in_progress(&self, index: usize, step: u64) -> Option<StageOutcome> {
        let start = self.start.as_ref()?;
        let last = |metric: &str| self.series.get(metric).and_then(|s| s.last()).map(|p| p[1]);
        Some(StageOutcome {
            stage: index,
            name: self.name.clone(),
            model: start.model.clone(),
            method: start.method,
            teacher: start.teacher.clone(),
            params: start.params,
            epochs: start.epochs.max(self.epoch_of(step) as usize),
            steps: step,
            wall_seconds: self.seconds_at(step as f64),
            train_accuracy: last(metric::TRAIN_ACCURACY),
            test_accuracy: last(metric::TEST_ACCURACY),
            agreement_with_teacher: last(metric::AGREEMENT),
            diverged: false,
            stopped: false,
            cached: false,
            in_progress: true,
            skipped: None,
            excluded_classes: Vec::new(),
        })
    }

    /// Optimizer steps of its planned epochs (0 when not known yet).
    pub(crate) fn planned_steps(&self) -> u64 {
        self.start.as_ref().map_or(0, |s| s.total_steps)
    }

    /// Optimizer steps per epoch (0 when not known yet).
    pub(crate) fn steps_per_epoch(&self) -> u64 {
        self.start.as_ref().map_or(0, |s| s.steps_per_epoch)
    }

    /// The (fractional) epoch a step falls in: 1.0 after the first epoch's last step.
    pub(crate) fn epochs_at(&self, step: f64) -> f64 {
        match self.steps_per_epoch() {
            0 => step,
            per_epoch => step / per_epoch as f64,
        }
    }

    /// The 1-based epoch a step belongs to.
    pub(crate) fn epoch_of(&self, step: u64) -> u64 {
        match self.steps_per_epoch() {
            0 => 0,
            per_epoch => step.div_ceil(per_epoch).max(1),
        }
    }

    /// Seconds trained at `step`, interpolated between reports (from the stage's wall time when
    /// the reports carry no time: a recorded run).
    pub(crate) fn seconds_at(&self, step: f64) -> f64 {
        interpolate(&self.time_line(), step, 0, 1)
    }

    /// The step at `seconds` of training: the inverse of [`StageHistory::seconds_at`].
    pub(crate) fn step_at_seconds(&self, seconds: f64) -> f64 {
        interpolate(&self.time_line(), seconds, 1, 0)
    }

    fn time_line(&self) -> std::borrow::Cow<'_, [[f64; 2]]> {
        if self.clock.len() >= 2 {
            return std::borrow::Cow::Borrowed(&self.clock);
        }
        let (steps, seconds) = self.outcome.as_ref().map_or((0, 0.0), |o| (o.steps, o.wall_seconds));
        std::borrow::Cow::Owned(vec![[0.0, 0.0], [steps.max(1) as f64, seconds]])
    }
}

/// Linear interpolation of column `to` at `at` in column `from` of points sorted by both.
fn interpolate(points: &[[f64; 2]], at: f64, from: usize, to: usize) -> f64 {
    let after = points.partition_point(|p| p[from] < at);
    match (after.checked_sub(1).and_then(|i| points.get(i)), points.get(after)) {
        (Some(a), Some(b)) if b[from] > a[from] => a[to] + (b[to] - a[to]) * (at - a[from]) / (b[from] - a[from]),
        (_, Some(b)) => b[to],
        (Some(a), None) => a[to],
        (None, None) => at,
    }
}

/// Steps, epoch and pause state of the stage that runs now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub stage: usize,
    pub step: u64,
    pub(crate) epoch: u64,
    pub(crate) paused: bool,
}

/// The whole run as heard so far.
#[derive(Debug, Clone)]
pub struct RunHistory {
    pub info: Option<RunInfo>,
    pub stages: Vec<StageHistory>,
    pub progress: Option<Progress>,
    pub(crate) ensembles: Vec<EnsembleOutcome>,
    pub(crate) notices: Vec<String>,
    pub error: Option<String>,
    pub finished: bool,
    pub(crate) started_at: Instant,
    /// When the `Finished` event arrived; the elapsed time stops there.
    pub(crate) finished_at: Option<Instant>,
    /// Time spent paused before the current pause, and when the current pause began.
    paused_for: Duration,
    paused_since: Option<Instant>,
    /// Steps per second of the running stage, smoothed.
    pub(crate) steps_per_second: f64,
    last_rate_sample: Option<(Instant, u64)>,
    /// The steering log: every command a stage took that changed what it computes.
    pub(crate) steering: Vec<Steer>,
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
            paused_for: Duration::ZERO,
            paused_since: None,
            steps_per_second: 0.0,
            last_rate_sample: None,
            steering: Vec::new(),
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
                        method: Some(s.method),
                        teacher: s.teacher.clone(),
                        parameters: s.parameters.iter().copied().collect(),
                        ..StageHistory::default()
                    })
                    .collect();
                self.info = Some(*info);
            }
            Event::StageStarted(start) => {
                let index = start.stage;
                let paused = self.is_paused();
                self.progress = Some(Progress { stage: index, step: 0, epoch: 1, paused });
                self.last_rate_sample = None;
                if let Some(stage) = self.stages.get_mut(index) {
                    stage.keep_training = start.keep_training;
                    stage.start = Some(start);
                }
            }
            Event::Metrics(points) => {
                for report in points.chunk_by(|a, b| a.stage == b.stage && a.step == b.step) {
                    if let Some(stage) = self.stages.get_mut(report[0].stage) {
                        stage.add_report(report);
                    }
                }
            }
            Event::Probe(probe) => {
                if let Some(stage) = self.stages.get_mut(probe.stage) {
                    stage.probe = Some(*probe);
                }
            }
            Event::Progress { stage, step, epoch, paused } => {
                if paused {
                    self.steps_per_second = 0.0;
                    self.last_rate_sample = None;
                } else {
                    self.update_rate(step);
                }
                self.track_pause(paused);
                self.progress = Some(Progress { stage, step, epoch, paused });
            }
            Event::ParameterChanged { stage, step, parameter, value, .. } => {
                if let Some(history) = self.stages.get_mut(stage) {
                    history.markers.push(Marker { step, parameter, value });
                    history.reports.push(MARKER_ROW);
                    history.parameters.insert(parameter, value);
                }
            }
            Event::Steered(steer) => {
                if let (SteerAction::KeepTraining(keep), Some(stage)) =
                    (&steer.action, self.stages.get_mut(steer.stage))
                {
                    stage.keep_training = *keep;
                }
                self.steering.push(steer);
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
            Event::Error(error) => self.error = Some(error.to_string()),
            Event::Finished { .. } => {
                self.track_pause(false);
                self.finished = true;
                self.finished_at = Some(Instant::now());
            }
        }
    }

    /// Starts or ends a pause, so the elapsed time leaves it out.
    fn track_pause(&mut self, paused: bool) {
        match (paused, self.paused_since) {
            (true, None) => self.paused_since = Some(Instant::now()),
            (false, Some(since)) => {
                self.paused_for += since.elapsed();
                self.paused_since = None;
            }
            _ => {}
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
    pub(crate) fn current_stage(&self) -> Option<usize> {
        self.progress.map(|p| p.stage)
    }

    /// The running stage, if it has a live parameter to steer.
    pub(crate) fn steerable_stage(&self) -> Option<&StageHistory> {
        let stage = self.stages.get(self.current_stage()?)?;
        (stage.outcome.is_none() && stage.is_steerable()).then_some(stage)
    }

    /// The stage whose live parameters the controls show: the running one if it has any, else
    /// the next that will, else the last that had them.
    pub(crate) fn slider_stage(&self) -> Option<usize> {
        let steerable = |i: &usize| self.stages[*i].is_steerable();
        let running = self.current_stage().filter(|&i| self.stages.get(i).is_some_and(|s| s.outcome.is_none()));
        let upcoming = (0..self.stages.len()).filter(|&i| self.stages[i].outcome.is_none()).find(steerable);
        running.filter(steerable).or(upcoming).or_else(|| (0..self.stages.len()).rev().find(steerable))
    }

    /// What `summary.json` would hold for this run (with its fork origin, for a fork); a stage
    /// still training is there with its latest numbers, marked in progress.
    pub(crate) fn summary(&self, fork: Option<crate::record::ForkRecord>) -> crate::record::Summary {
        let info = self.info.as_ref();
        let running = self.progress.filter(|_| !self.finished);
        let stages = self.stages.iter().enumerate().filter_map(|(index, stage)| match (&stage.outcome, running) {
            (Some(outcome), _) => Some(outcome.clone()),
            (None, Some(progress)) if progress.stage == index => stage.in_progress(index, progress.step),
            (None, _) => None,
        });
        crate::record::Summary {
            preset: info.map_or_else(String::new, |i| i.preset.clone()),
            dataset: info.map_or_else(String::new, |i| i.data.dataset.clone()),
            device: info.map_or_else(String::new, |i| i.device.clone()),
            seed: info.map_or(0, |i| i.seed),
            stages: stages.collect(),
            ensembles: self.ensembles.clone(),
            fork,
        }
    }

    /// Where this run branched off its parent, as `summary.json` records it.
    pub(crate) fn fork_record(&self, parent: &str) -> Option<crate::record::ForkRecord> {
        let origin = self.info.as_ref()?.fork?;
        let stage = self.stages.get(origin.stage)?.name.clone();
        Some(crate::record::ForkRecord { parent: parent.to_string(), stage, step: origin.step })
    }

    /// Every metric point heard, stage by stage, with its epoch worked out from the stage's
    /// steps per epoch.
    pub(crate) fn metric_points(&self) -> Vec<crate::protocol::MetricPoint> {
        let mut points = Vec::new();
        for (index, stage) in self.stages.iter().enumerate() {
            for (metric, series) in &stage.series {
                points.extend(series.iter().map(|&[step, value]| crate::protocol::MetricPoint {
                    stage: index,
                    step: step as u64,
                    epoch: stage.epoch_of(step as u64),
                    metric: metric.clone(),
                    value,
                    seconds: None,
                }));
            }
        }
        points
    }

    /// The probe examples and each stage's latest probe, as `probes.json` holds them.
    pub(crate) fn probe_record(&self) -> crate::record::ProbeRecord {
        crate::record::ProbeRecord {
            data: self.info.as_ref().map(|i| i.data.clone()).unwrap_or_default(),
            probes: self.stages.iter().map(|s| s.probe.clone()).collect(),
        }
    }

    /// Writes this run as a run folder (`config.toml`, `metrics.csv`, `summary.json` and
    /// `probes.json`, as `kdlab run` writes them) plus its curves as SVG and PNG; a fork records
    /// its parent.
    pub(crate) fn save(
        &self,
        dir: &std::path::Path,
        fork: Option<crate::record::ForkRecord>,
        branches: &[(crate::protocol::ForkOrigin, String)],
    ) -> Result<(), crate::export::ExportError> {
        let io = |e| crate::export::ExportError::io(dir, e);
        let info = self.info.as_ref();
        let stages =
            info.map_or_else(Vec::new, |i| i.stages.iter().map(|s| (s.name.clone(), s.model.clone())).collect());
        let config = self.config(branches).map_err(io)?;
        let mut recorder = crate::record::RunRecorder::create_with(dir, &config, stages).map_err(io)?;
        let rows = self.stages.iter().enumerate().flat_map(|(index, stage)| stage.rows(index)).collect();
        recorder.record(&Event::Metrics(rows)).map_err(io)?;
        recorder.set_probes(self.probe_record());
        recorder.write_probes().map_err(io)?;
        let summary = self.summary(fork);
        recorder.write_summary(&summary).map_err(io)?;
        let run = [crate::record::report::SeedRun { seed: summary.seed, summary, metrics: self.metric_points() }];
        crate::record::report::write_plots(dir, &run)
    }

    /// The run's `config.toml`: the resolved preset it started from, with its steering log and,
    /// for a fork, the values its stage started with. `branches` names the runs forked off at
    /// each fork entry.
    pub(crate) fn config(&self, branches: &[(crate::protocol::ForkOrigin, String)]) -> std::io::Result<String> {
        let Some(info) = self.info.as_ref() else { return Ok(String::new()) };
        if self.steering.is_empty() && info.fork.is_none() {
            return Ok(info.config.clone());
        }
        let branch = |steer: &Steer| {
            let at = crate::protocol::ForkOrigin { stage: steer.stage, step: steer.after_step };
            branches.iter().find(|(origin, _)| *origin == at).map(|(_, label)| label.clone())
        };
        let steering: Vec<(Steer, String, Option<String>)> = self
            .steering
            .iter()
            .filter_map(|steer| Some((steer.clone(), info.stages.get(steer.stage)?.name.clone(), branch(steer))))
            .collect();
        let starting = info.fork.and_then(|f| Some((f.stage, info.stages.get(f.stage)?.parameters.as_slice())));
        crate::record::steered_config(&info.config, starting, &steering)
    }

    /// Time since the run started, up to its end, time spent paused left out.
    pub(crate) fn elapsed(&self) -> Duration {
        let end = self.finished_at.unwrap_or_else(Instant::now);
        let pausing = self.paused_since.map_or(Duration::ZERO, |since| end.saturating_duration_since(since));
        end.duration_since(self.started_at).saturating_sub(self.paused_for + pausing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paused_time_is_not_elapsed_time() {
        let mut history = RunHistory::default();
        let progress = |paused| Event::Progress { stage: 0, step: 1, epoch: 1, paused };
        history.apply(progress(true));
        std::thread::sleep(Duration::from_millis(60));
        history.apply(progress(false));
        assert!(history.elapsed() < Duration::from_millis(50), "{:?}", history.elapsed());
    }

    #[test]
    fn steps_map_to_seconds_and_back() {
        let stage = StageHistory { clock: vec![[0.0, 0.0], [10.0, 2.0], [20.0, 6.0]], ..StageHistory::default() };
        assert_eq!(stage.seconds_at(15.0), 4.0);
        assert_eq!(stage.step_at_seconds(4.0), 15.0);
        assert_eq!(stage.seconds_at(30.0), 6.0, "held at the last report");
    }

    fn point(step: u64, metric: &str, value: f64) -> MetricPoint {
        MetricPoint { stage: 0, step, epoch: 1, metric: metric.into(), value, seconds: None }
    }

    /// The rows a stage gives back are those the engine sent, in its order: reports of
    /// different shapes, a marker between them, and a final report at the step of the last.
    #[test]
    fn rows_come_back_in_the_order_they_were_reported() {
        let kd = MethodInfo { name: "kd", hypers: &[crate::protocol::TEMPERATURE] };
        let temperature = Parameter::named("temperature").expect("a live temperature");
        let stage = crate::protocol::StageInfo {
            name: "student".into(),
            model: "mlp".into(),
            method: kd,
            teacher: None,
            parameters: vec![(temperature, 4.0)],
        };
        let info = RunInfo {
            preset: "p".into(),
            description: String::new(),
            config: String::new(),
            device: "cpu".into(),
            seed: 0,
            data: crate::protocol::DataInfo::default(),
            stages: vec![stage],
            fork: None,
        };
        let sent = vec![
            point(5, "loss", 1.0),
            point(5, "temperature", 4.0),
            point(5, "test_accuracy", 0.5),
            point(10, "loss", 0.8),
            point(10, "temperature", 4.0),
        ];
        let after = vec![
            point(15, "loss", 0.7),
            point(15, "temperature", 2.0),
            point(15, "temperature", 2.0),
            point(15, "test_accuracy", 0.6),
        ];
        let mut history = RunHistory::default();
        history.apply(Event::Ready(Box::new(info)));
        history.apply(Event::Metrics(sent.clone()));
        history.apply(Event::ParameterChanged { stage: 0, step: 11, epoch: 1, parameter: temperature, value: 2.0 });
        history.apply(Event::Metrics(after.clone()));
        let rows = history.stages[0].rows(0);
        let names: Vec<(u64, &str, f64)> = rows.iter().map(|r| (r.step, r.metric.as_str(), r.value)).collect();
        let mut expected: Vec<(u64, &str, f64)> = sent.iter().map(|p| (p.step, p.metric.as_str(), p.value)).collect();
        expected.push((11, "set_temperature", 2.0));
        expected.extend(after.iter().map(|p| (p.step, p.metric.as_str(), p.value)));
        assert_eq!(names, expected);
    }

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
