//! `kdlab bench ui`: the workbench's frame time while the `kd` preset trains with hours of
//! history already on the curves, alone or overlaid with other runs.
//!
//! The real `kd` preset runs on the engine thread; its events reach the app through a relay
//! that first puts a synthetic history of the requested length in front of every stage (metric
//! points at the rate a fast run reports them, plus a temperature change every ten minutes) and
//! then passes the live events on with their steps shifted past it. With `runs` > 1 the relay
//! also feeds that stream, values slightly offset, to as many more runs, so the app overlays
//! that many runs that all grow as the real one trains. The app draws into a bare egui context
//! at 1280×800, 60 frames a second, and each frame's own work (draining events, laying out and
//! drawing every view, tessellating the shapes) is timed; what the GPU then does with a bounded
//! number of vertices is not part of it.

use crate::device::DeviceChoice;
use crate::device::remote::DeviceTarget;
use crate::preset::PresetError;
use crate::train::metric;
use crate::train::{Engine, Event, MetricPoint, RunInfo, StageInfo, TeacherCache};
use crate::ui::KdlabApp;
use crate::ui::history::RunHistory;
use crate::ui::session::Session;
use crate::ui::settings::Settings;
use crossbeam_channel::Sender;
use std::time::{Duration, Instant};

/// Optimizer steps between two metric reports in the synthetic history (the preset default).
const METRIC_INTERVAL: u64 = 10;
/// Metric reports per second of the synthetic history: a run taking 200 steps a second.
const REPORTS_PER_SECOND: f64 = 20.0;
/// Seconds between synthetic temperature changes.
const MARKER_EVERY_SECONDS: f64 = 600.0;
/// Metric points per event while the synthetic history is sent.
const CHUNK: usize = 20_000;
const FRAME: Duration = Duration::from_millis(16);
const SCREEN: egui::Vec2 = egui::vec2(1280.0, 800.0);

/// Metric points per hour of synthetic history and run (measured: 3 h gave 3.7 million).
const POINTS_PER_HOUR: f64 = 1.25e6;
/// Memory one metric point takes in the app, generously: the event, the series' `[f64; 2]`,
/// the recorded row and the plot's decimated copy.
const BYTES_PER_POINT: f64 = 128.0;

/// Why `hours` of history overlaid `runs` times cannot fit in the memory a run may use, if so.
pub fn check_history_size(hours: f64, runs: usize) -> Result<(), String> {
    let bytes = hours * POINTS_PER_HOUR * runs as f64 * BYTES_PER_POINT;
    let budget = crate::memory::budget() as f64;
    if bytes <= budget {
        return Ok(());
    }
    let most = budget / (POINTS_PER_HOUR * runs as f64 * BYTES_PER_POINT);
    Err(format!(
        "--hours: {hours} h of history for {runs} run(s) needs about {}; at most {most:.0} h fit, as {}",
        crate::memory::describe_bytes(bytes.min(u64::MAX as f64) as u64),
        crate::memory::allows()
    ))
}

/// What one benchmark measured.
#[derive(Debug, Clone)]
pub struct FrameReport {
    /// Metric points the app held when the measurement ended.
    pub points: usize,
    /// Steps the running stage has taken for real (beyond its synthetic history).
    pub live_steps: u64,
    /// The stage running when the measurement ended.
    pub live_stage: String,
    /// Milliseconds of app work per frame, sorted.
    pub frame_ms: Vec<f64>,
}

impl FrameReport {
    /// The `q`-quantile (0..=1) of the frame times in milliseconds.
    pub fn percentile(&self, q: f64) -> f64 {
        if self.frame_ms.is_empty() {
            return f64::NAN;
        }
        let rank = ((self.frame_ms.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        self.frame_ms[rank]
    }
}

/// Trains the `kd` preset on `device` with `hours` of synthetic history in front of every stage,
/// overlaid with `runs - 1` copies of it, and times `seconds` of frames once that history is in.
pub fn run(hours: f64, seconds: f64, runs: usize, device: DeviceChoice) -> Result<FrameReport, PresetError> {
    let source = crate::presets::resolve("kd")?;
    // Students that keep training for the whole measurement.
    let overrides = vec!["stages.student_scratch.epochs=100000".into(), "stages.student_kd.epochs=100000".into()];
    let engine = Engine::launch(source, overrides, DeviceTarget::local(device), TeacherCache::default_location());
    let reports = (hours * 3600.0 * REPORTS_PER_SECOND) as u64;
    let offset = reports * METRIC_INTERVAL;
    let (copies, fed): (Vec<Sender<Event>>, Vec<Engine>) = (1..runs.max(1))
        .map(|_| {
            let (sender, receiver) = crossbeam_channel::unbounded();
            (sender, Engine::fed(receiver))
        })
        .unzip();
    let engine = engine.relayed(history_in_front(reports, copies));

    let settings = Settings { smoothing: 0.6, ..Settings::default() };
    let mut app = KdlabApp::with(settings, None);
    app.attach("kd", Session::of(engine));
    for (k, engine) in fed.into_iter().enumerate() {
        app.attach(&format!("kd copy {}", k + 1), Session::of(engine));
    }
    let ctx = egui::Context::default();
    let mut frame_ms = Vec::new();
    let mut measuring_since: Option<Instant> = None;
    let started = Instant::now();
    loop {
        let frame_start = Instant::now();
        let input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, SCREEN)),
            time: Some(started.elapsed().as_secs_f64()),
            ..Default::default()
        };
        let output = ctx.run_ui(input, |ui| app.draw(ui));
        let _ = ctx.tessellate(output.shapes, output.pixels_per_point);
        let work = frame_start.elapsed();
        let history = app.session().map(|s| &s.history);
        match measuring_since {
            Some(since) => {
                frame_ms.push(work.as_secs_f64() * 1000.0);
                if since.elapsed().as_secs_f64() >= seconds {
                    break;
                }
            }
            None if history.is_some_and(|h| history_is_in(h, reports)) => {
                measuring_since = Some(Instant::now());
            }
            None if history.is_some_and(|h| h.finished) => break,
            None => {}
        }
        std::thread::sleep(FRAME.saturating_sub(work));
    }
    let history = app.session().map(|s| &s.history);
    let points = app
        .runs()
        .runs
        .iter()
        .filter_map(|r| r.history())
        .map(|h| h.stages.iter().flat_map(|s| s.series.values()).map(Vec::len).sum::<usize>())
        .sum();
    let live_steps = history.and_then(|h| h.progress).map_or(0, |p| p.step.saturating_sub(offset));
    frame_ms.sort_by(f64::total_cmp);
    let live_stage = history
        .and_then(|h| h.current_stage().and_then(|s| h.stages.get(s)))
        .map_or_else(String::new, |s| s.name.clone());
    Ok(FrameReport { points, live_steps, live_stage, frame_ms })
}

/// Whether every stage's synthetic history has arrived and a live stage has started.
fn history_is_in(history: &RunHistory, reports: u64) -> bool {
    let synthetic_done = history.stages.iter().all(|s| {
        reports == 0 || s.series.get(metric::TEST_ACCURACY).is_some_and(|points| points.len() as u64 >= reports)
    });
    synthetic_done && history.progress.is_some()
}

/// The relay: on `Ready`, `reports` synthetic reports for every stage; afterwards the live
/// events with their steps moved past them. Each of `copies` gets the same stream, its values
/// offset a little so the overlaid curves are told apart.
fn history_in_front(reports: u64, copies: Vec<Sender<Event>>) -> impl FnMut(Event, &Sender<Event>) + Send + 'static {
    let offset = reports * METRIC_INTERVAL;
    move |event, out| {
        let outs = std::iter::once((out, 0.0)).chain(copies.iter().zip(1..).map(|(c, k)| (c, 0.01 * f64::from(k))));
        for (out, nudge) in outs {
            let event = nudged(event.clone(), nudge);
            if let Event::Ready(info) = &event {
                let info = info.clone();
                let _ = out.send(event);
                send_history(&info, reports, nudge, out);
            } else {
                let _ = out.send(shifted(event, offset));
            }
        }
    }
}

/// `event` with its metric values moved by `nudge`.
fn nudged(event: Event, nudge: f64) -> Event {
    match event {
        Event::Metrics(points) if nudge != 0.0 => {
            Event::Metrics(points.into_iter().map(|p| MetricPoint { value: p.value - nudge, ..p }).collect())
        }
        other => other,
    }
}

fn send_history(info: &RunInfo, reports: u64, nudge: f64, out: &Sender<Event>) {
    let marker_every = (MARKER_EVERY_SECONDS * REPORTS_PER_SECOND) as u64;
    for (index, stage) in info.stages.iter().enumerate() {
        let metrics = metric_names(stage);
        let mut chunk = Vec::with_capacity(CHUNK);
        for report in 1..=reports {
            let step = report * METRIC_INTERVAL;
            for &metric in &metrics {
                let value = synthetic_value(metric, report, reports) - nudge;
                let seconds = Some(report as f64 / REPORTS_PER_SECOND);
                chunk.push(MetricPoint { stage: index, step, epoch: 1, metric: metric.into(), value, seconds });
            }
            if chunk.len() >= CHUNK {
                let _ = out.send(Event::Metrics(std::mem::take(&mut chunk)));
            }
            let temperature = stage.parameters.iter().map(|(p, _)| *p).find(|p| p.name() == "temperature");
            if let Some(parameter) = temperature.filter(|_| report % marker_every == 0) {
                let _ = out.send(Event::Metrics(std::mem::take(&mut chunk)));
                let value = 1.0 + (report / marker_every % 8) as f64;
                let _ = out.send(Event::ParameterChanged { stage: index, step, epoch: 1, parameter, value });
            }
        }
        let _ = out.send(Event::Metrics(chunk));
    }
}

/// The metrics a real report of this stage carries.
fn metric_names(stage: &StageInfo) -> Vec<&'static str> {
    let mut names = vec!["loss", "loss_ce", "train_accuracy", "test_accuracy"];
    if stage.teacher.is_some() {
        names.extend(["loss_kd", "agreement", "kl_teacher_student"]);
    }
    names.extend(stage.parameters.iter().map(|(parameter, _)| parameter.name()));
    names
}

/// A learning-curve shape with noise, so decimation has extremes to keep.
fn synthetic_value(metric: &str, report: u64, reports: u64) -> f64 {
    let progress = report as f64 / reports.max(1) as f64;
    let noise = ((report.wrapping_mul(2_654_435_761) % 1000) as f64 / 1000.0 - 0.5) * 0.05;
    let decay = (-8.0 * progress).exp();
    match metric {
        "train_accuracy" | "test_accuracy" | "agreement" => (1.0 - 0.9 * decay + noise).clamp(0.0, 1.0),
        "temperature" => 4.0,
        "alpha" => 0.9,
        _ => 2.3 * decay + 0.05 + noise.abs(),
    }
}

/// The synthetic history's length in seconds, from its length in steps.
fn history_seconds(offset: u64) -> f64 {
    (offset / METRIC_INTERVAL) as f64 / REPORTS_PER_SECOND
}

/// `event` with every step moved on by `offset`.
fn shifted(event: Event, offset: u64) -> Event {
    match event {
        Event::Metrics(points) => Event::Metrics(
            points
                .into_iter()
                .map(|p| MetricPoint {
                    step: p.step + offset,
                    seconds: p.seconds.map(|s| s + history_seconds(offset)),
                    ..p
                })
                .collect(),
        ),
        Event::Probe(mut probe) => {
            probe.step += offset;
            Event::Probe(probe)
        }
        Event::Progress { stage, step, epoch, paused } => Event::Progress { stage, step: step + offset, epoch, paused },
        Event::ParameterChanged { stage, step, epoch, parameter, value } => {
            Event::ParameterChanged { stage, step: step + offset, epoch, parameter, value }
        }
        Event::Diverged { stage, step } => Event::Diverged { stage, step: step + offset },
        Event::StageFinished(mut outcome) => {
            outcome.steps += offset;
            Event::StageFinished(outcome)
        }
        other => other,
    }
}
