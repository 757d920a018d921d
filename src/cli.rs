//! Command-line parsing and the headless commands. Errors become `anyhow` errors here, at the
//! binary's edge; the library's typed errors decide the exit code.

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use kdlab::bench::{self, Workload};
use kdlab::data::DataError;
use kdlab::device::remote::{DeviceArg, DeviceError, Listen, RemoteError};
use kdlab::device::{self, ComputeDevice, NoGpu};
use kdlab::preset::{PresetError, PresetSource};
use kdlab::protocol::{Event, MetricPoint, StageOutcome, metric};
use kdlab::record::report::SeedRun;
use kdlab::record::{RunRecorder, Summary};
use kdlab::train::{Engine, Plan, PrepareError, Prepared, TeacherCache, prepare};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(name = "kdlab", version, about = "A workbench for knowledge distillation (no command: open the app)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Commands>,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Train a preset headless and write config.toml, metrics.csv and summary.json.
    Run(RunArgs),
    /// List the bundled presets.
    Presets,
    /// Train a preset over several seeds and write report.md: test accuracy mean ± std per
    /// stage and the curves (mean ± 1 std) as PNG and SVG.
    Report(ReportArgs),
    /// Host this machine's device (its GPU, else the CPU) for `--device remote:…` clients,
    /// behind a token, until interrupted.
    Serve(ServeArgs),
    /// Measure training steps per second of the mlp, cnn, teacher, lm, lm_teacher and lm_on_policy workloads,
    /// or (`kdlab bench ui`) the workbench's frame time while kd trains with hours of history on
    /// its curves.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug)]
struct ServeArgs {
    /// Listen on WebSocket at ws://ADDRESS:PORT (unencrypted: trusted networks only). Without it
    /// the server uses Iroh (authenticated and encrypted) and prints the id clients dial.
    #[arg(long, value_name = "ws://ADDRESS:PORT")]
    listen: Option<String>,
    /// Iroh: the UDP port to bind (default: one the system picks).
    #[arg(long, conflicts_with = "listen")]
    port: Option<u16>,
    /// Iroh: direct connections only, no public relays (clients dial remote:iroh:ID@HOST:PORT).
    #[arg(long, conflicts_with = "listen", requires = "port")]
    no_relays: bool,
    /// The token clients must present: read from this file, or made (random, mode 0600) when
    /// it does not exist.
    #[arg(long, value_name = "FILE")]
    token_file: PathBuf,
}

/// Where to train: `--device` and, for a remote one, the token.
#[derive(clap::Args, Debug)]
struct DeviceArgs {
    /// auto (a real GPU when there is one, else the CPU), cpu (flex), gpu (wgpu; an error without
    /// one), or remote:ws://HOST:PORT / remote:iroh:SERVER_ID (a device `kdlab serve` hosts).
    /// `report` takes it several times and spreads its seeds over the devices.
    #[arg(long, default_value = "auto", value_parser = parse_device, action = clap::ArgAction::Append)]
    device: Vec<DeviceArg>,
    /// A remote device's token, when KDLAB_REMOTE_TOKEN is not set: the first line of this file.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
}

impl DeviceArgs {
    /// The one device of `run` and `bench`.
    fn open(&self) -> anyhow::Result<ComputeDevice> {
        match self.device.as_slice() {
            [device] => Ok(device.open(self.token_file.as_deref())?),
            _ => Err(BadInput(
                "--device once: this command trains on one device (report spreads its seeds over several)".into(),
            )
            .into()),
        }
    }

    /// Every device named, each opened once.
    fn open_all(&self) -> Result<Vec<ComputeDevice>, DeviceError> {
        let mut named: Vec<&DeviceArg> = Vec::new();
        for device in &self.device {
            if !named.contains(&device) {
                named.push(device);
            }
        }
        named.into_iter().map(|device| device.open(self.token_file.as_deref())).collect()
    }
}

fn parse_device(text: &str) -> Result<DeviceArg, String> {
    text.parse().map_err(|e: RemoteError| e.to_string())
}

#[derive(clap::Args, Debug)]
struct ReportArgs {
    #[command(flatten)]
    training: TrainingArgs,
    /// Number of seeds (0, 1, … N−1 as train.seed).
    #[arg(long, default_value_t = 3)]
    seeds: u64,
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// One workload (default: mlp, cnn and teacher).
    #[arg(value_enum)]
    workload: Option<BenchWorkload>,
    #[command(flatten)]
    device: DeviceArgs,
    /// Timed steps per training workload (default: as many as the PyTorch twin times).
    #[arg(long)]
    steps: Option<usize>,
    /// ui: hours of history put in front of every stage.
    #[arg(long, default_value_t = 3.0)]
    hours: f64,
    /// ui: seconds of frames timed.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// ui: runs overlaid (the live one and copies of its stream).
    #[arg(long, default_value_t = 1)]
    runs: usize,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum BenchWorkload {
    Mlp,
    Cnn,
    Teacher,
    Lm,
    LmTeacher,
    LmOnPolicy,
    Ui,
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    training: TrainingArgs,
    /// Seed of initialisation and shuffling (sets train.seed).
    #[arg(long)]
    seed: Option<u64>,
}

/// What `run` and `report` share: the preset, the device, where to write, and changes.
#[derive(clap::Args, Debug)]
struct TrainingArgs {
    /// A preset file, or the name of a bundled preset (see `kdlab presets`).
    preset: String,
    #[command(flatten)]
    device: DeviceArgs,
    /// Epochs of every stage (sets train.epochs and clears per-stage overrides).
    #[arg(long)]
    epochs: Option<usize>,
    /// Output folder (default runs/<preset>-<timestamp>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Override a preset value, e.g. --set stages.student_kd.temperature=8 (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Train every stage even when a cached teacher exists, and cache nothing.
    #[arg(long)]
    no_cache: bool,
}

/// Bad input from the user: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

/// A stage diverged: exit code 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Diverged(String);

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Commands::Run(args)) => run(args),
        Some(Commands::Report(args)) => report(args),
        Some(Commands::Presets) => {
            list_presets();
            Ok(())
        }
        Some(Commands::Bench(args)) => run_bench(args),
        Some(Commands::Serve(args)) => {
            let listen = match args.listen {
                Some(url) => Listen::WebSocket(url),
                None => Listen::Iroh { port: args.port, relays: !args.no_relays },
            };
            kdlab::device::remote::serve(&listen, &args.token_file).map_err(Into::into)
        }
        // A bare `kdlab` opens the workbench.
        None => kdlab::ui::run().map_err(|message| anyhow::anyhow!(message)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

fn exit_code(error: &anyhow::Error) -> u8 {
    if error.downcast_ref::<Diverged>().is_some() {
        3
    } else if error.downcast_ref::<PresetError>().is_some()
        || error.downcast_ref::<DataError>().is_some()
        || error.downcast_ref::<PrepareError>().is_some()
        || error.downcast_ref::<NoGpu>().is_some()
        || error.downcast_ref::<BadInput>().is_some()
        || error.downcast_ref::<RemoteError>().is_some_and(RemoteError::is_bad_input)
        || error.downcast_ref::<DeviceError>().is_some_and(|e| match e {
            DeviceError::NoGpu(_) => true,
            DeviceError::Remote(remote) => remote.is_bad_input(),
        })
    {
        2
    } else {
        1
    }
}

fn list_presets() {
    use kdlab::train::methods::Valid;
    for preset in kdlab::presets::BUNDLED {
        println!("{:<18} {}", preset.stem(), citation(&preset.description()));
    }
    println!("\nmethods (a stage's `method`; its hyperparameters with their defaults, * = steerable while it trains):");
    for method in kdlab::train::Method::all() {
        let spec = method.spec();
        let paper = if spec.paper.is_empty() { String::new() } else { format!(" ({})", spec.paper) };
        println!("{:<18} {}{paper}", spec.name, spec.summary);
        let hypers: Vec<String> = spec
            .hypers
            .iter()
            .map(|h| {
                let default =
                    if h.valid == Valid::Switch { (h.default == 1.0).to_string() } else { h.default.to_string() };
                format!("{} = {default}{}", h.name, if h.live.is_some() { "*" } else { "" })
            })
            .collect();
        if !hypers.is_empty() {
            println!("{:<18} {}", "", hypers.join(", "));
        }
    }
}

/// The part of a bundled preset's description before "Claim to check:": the paper it follows.
fn citation(description: &str) -> &str {
    description.split("Claim to check:").next().unwrap_or_default().trim()
}

fn run_bench(args: BenchArgs) -> anyhow::Result<()> {
    if args.steps == Some(0) {
        return Err(BadInput("--steps: expected at least 1 timed step, found 0".into()).into());
    }
    let workloads = match args.workload {
        Some(BenchWorkload::Ui) => return run_frame_bench(&args),
        Some(BenchWorkload::Mlp) => vec![Workload::Mlp],
        Some(BenchWorkload::Cnn) => vec![Workload::Cnn],
        Some(BenchWorkload::Teacher) => vec![Workload::Teacher],
        Some(BenchWorkload::Lm) => vec![Workload::Lm],
        Some(BenchWorkload::LmTeacher) => vec![Workload::LmTeacher],
        Some(BenchWorkload::LmOnPolicy) => vec![Workload::LmOnPolicy],
        None => Workload::ALL.to_vec(),
    };
    let device = args.device.open()?;
    println!("device: {}", device.label());
    for workload in workloads {
        let steps = args.steps.unwrap_or(workload.default_steps());
        let result = device::on_compute_threads(|| bench::run(workload, &device, steps));
        println!("{} steps/s {:.1}  ({} timed steps)", result.workload, result.steps_per_second, result.steps);
    }
    Ok(())
}

fn run_frame_bench(args: &BenchArgs) -> anyhow::Result<()> {
    if !(args.hours >= 0.0 && args.seconds > 0.0) {
        return Err(BadInput("--hours must be >= 0 and --seconds > 0".into()).into());
    }
    if !(1..=32).contains(&args.runs) {
        return Err(BadInput(format!("--runs must be from 1 to 32, found {}", args.runs)).into());
    }
    kdlab::bench::frame::check_history_size(args.hours, args.runs).map_err(BadInput)?;
    println!(
        "kd training with {} h of history per stage, {} run(s) overlaid; timing {} s of frames at 1280x800",
        args.hours, args.runs, args.seconds
    );
    let [DeviceArg::Local(choice)] = args.device.device.as_slice() else {
        return Err(BadInput("bench ui draws the app on this machine: use one --device auto, cpu or gpu".into()).into());
    };
    let report = kdlab::bench::frame::run(args.hours, args.seconds, args.runs, *choice)?;
    println!(
        "{} frames, {} metric points held; {} had taken {} real steps",
        report.frame_ms.len(),
        report.points,
        report.live_stage,
        report.live_steps
    );
    let ms = |q| report.percentile(q);
    println!(
        "app work per frame: p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(0.5),
        ms(0.95),
        ms(0.99),
        ms(1.0)
    );
    Ok(())
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let training = &args.training;
    training.check()?;
    let source = kdlab::presets::resolve(&training.preset)?;
    let overrides = training.overrides(&source, args.seed);
    let out = training.out_dir("")?;
    let device = training.device.open()?;
    let finished = run_once(&source, &overrides, device, &out, training.no_cache, true)?;
    print_table(&finished.summary);
    finished.result()
}

impl TrainingArgs {
    /// Options that are wrong whatever the preset: `--epochs 0`.
    fn check(&self) -> Result<(), BadInput> {
        match self.epochs {
            Some(0) => Err(BadInput("--epochs: expected at least 1 epoch, found 0".into())),
            _ => Ok(()),
        }
    }

    /// The preset overrides these options make: the seed, the epochs, then every `--set`.
    fn overrides(&self, source: &PresetSource, seed: Option<u64>) -> Vec<String> {
        let seed = seed.map(|seed| format!("train.seed={seed}"));
        seed.into_iter().chain(epoch_overrides(source, self.epochs)).chain(self.overrides.iter().cloned()).collect()
    }

    /// `--out`, or `runs/<preset><suffix>-<timestamp>`.
    fn out_dir(&self, suffix: &str) -> anyhow::Result<PathBuf> {
        match &self.out {
            Some(dir) => Ok(dir.clone()),
            None => default_out_dir(&format!("{}{suffix}", self.preset)),
        }
    }
}

/// `train.epochs` and every stage's own `epochs` set to `epochs`.
fn epoch_overrides(source: &PresetSource, epochs: Option<usize>) -> Vec<String> {
    let Some(epochs) = epochs else { return Vec::new() };
    let mut overrides = vec![format!("train.epochs={epochs}")];
    overrides.extend(stages_with_epochs(&source.text).map(|i| format!("stages.{i}.epochs={epochs}")));
    overrides
}

/// What one headless run left.
struct Finished {
    summary: Summary,
    metrics: Vec<MetricPoint>,
    error: Option<String>,
    description: String,
}

impl Finished {
    /// The run's failure, if it failed: the engine's error, else diverged stages (exit 3).
    fn result(&self) -> anyhow::Result<()> {
        if let Some(error) = &self.error {
            anyhow::bail!(error.clone());
        }
        if self.summary.any_diverged() {
            let stages: Vec<&str> =
                self.summary.stages.iter().filter(|s| s.diverged).map(|s| s.name.as_str()).collect();
            return Err(Diverged(format!("diverged: {}", stages.join(", "))).into());
        }
        Ok(())
    }
}

/// Trains `source` with `overrides` on `device`, writing config.toml, metrics.csv and
/// summary.json into `out`.
fn run_once(
    source: &PresetSource,
    overrides: &[String],
    device: ComputeDevice,
    out: &Path,
    no_cache: bool,
    progress: bool,
) -> anyhow::Result<Finished> {
    let Prepared { mut plan, dataset } = prepare(source, overrides)?;
    for stage in plan.headless() {
        eprintln!("kdlab: {stage} keeps training until stopped in the app; this run ends it after its epochs");
    }
    if !plan.steering.is_empty() {
        eprintln!(
            "kdlab: replaying {} [[steering]] entries (live changes, stops, fork points) at the steps they name",
            plan.steering.len()
        );
    }
    let mut recorder = RunRecorder::create(out, &plan).with_context(|| format!("cannot write to {}", out.display()))?;
    eprintln!("kdlab: {} on {} ({}) using {}", plan.preset.name, dataset.name, dataset.describe_size(), device.label());
    let cache = if no_cache { None } else { TeacherCache::default_location() };
    let mut summary = Summary::new(&plan.preset, &dataset.name, &device.label());
    let (error, metrics) = drive(&plan, Arc::new(dataset), device, cache, &mut recorder, &mut summary, progress)?;
    recorder.write_summary(&summary).with_context(|| format!("cannot write {}/summary.json", out.display()))?;
    eprintln!("kdlab: wrote {}", recorder.dir().display());
    Ok(Finished { summary, metrics, error, description: plan.preset.description.clone() })
}

fn report(args: ReportArgs) -> anyhow::Result<()> {
    if args.seeds == 0 {
        return Err(BadInput("--seeds must be at least 1".into()).into());
    }
    let training = &args.training;
    training.check()?;
    let source = kdlab::presets::resolve(&training.preset)?;
    let out = training.out_dir("-report")?;
    let devices = training.device.open_all()?;
    let label = devices.iter().map(ComputeDevice::label).collect::<Vec<_>>().join(", ");
    let results = seeds_over_devices(training, &source, &out, args.seeds, &devices);
    let mut runs = Vec::new();
    let mut about = (String::new(), String::new());
    let mut failures = Vec::new();
    for (seed, result) in results {
        match result {
            Ok(finished) => {
                about = (finished.summary.preset.clone(), finished.description.clone());
                runs.push(SeedRun { seed, summary: finished.summary, metrics: finished.metrics });
            }
            Err(error) => failures.push(error.context(format!("seed {seed}"))),
        }
    }
    if !runs.is_empty() {
        kdlab::record::report::write_report(&out, &about.0, &about.1, &label, &runs)?;
        for stats in kdlab::record::report::stage_stats(&runs) {
            println!("{:<20} {:>7.2}% ± {:.2}", stats.name, 100.0 * stats.mean(), 100.0 * stats.std());
        }
        eprintln!("kdlab: wrote {}", out.join("report.md").display());
    }
    match failures.into_iter().next() {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

/// Trains seeds 0..`seeds`, each on the first of `devices` to come free (one at a time per
/// device); a device whose run failed takes no more seeds, the others go on. Results by seed.
fn seeds_over_devices(
    training: &TrainingArgs,
    source: &PresetSource,
    out: &Path,
    seeds: u64,
    devices: &[ComputeDevice],
) -> Vec<(u64, anyhow::Result<Finished>)> {
    // The seeds still to train, as a range: `--seeds` may be any u64 without allocating them.
    let queue = std::sync::Mutex::new(0..seeds);
    let results = std::sync::Mutex::new(Vec::new());
    let progress = devices.len() == 1;
    std::thread::scope(|scope| {
        for device in devices {
            let (queue, results) = (&queue, &results);
            scope.spawn(move || {
                // Popped in a statement of its own: a guard in the `while let` would hold the
                // queue for the whole run and keep the other devices idle.
                let next = || queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                while let Some(seed) = next() {
                    eprintln!("kdlab report: seed {} of {seeds} on {}", seed + 1, device.label());
                    let overrides = training.overrides(source, Some(seed));
                    let dir = out.join(format!("seed-{seed}"));
                    let outcome = run_once(source, &overrides, device.clone(), &dir, training.no_cache, progress);
                    let lost = outcome.as_ref().map_or(true, |f| f.error.is_some());
                    let outcome = outcome.and_then(|finished| finished.result().map(|()| finished));
                    results.lock().unwrap_or_else(|e| e.into_inner()).push((seed, outcome));
                    if lost {
                        break;
                    }
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.sort_by_key(|(seed, _)| *seed);
    results
}

/// Indices of the stages that set their own `epochs`, which `--epochs` must override too.
fn stages_with_epochs(text: &str) -> impl Iterator<Item = usize> {
    let stages = toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|mut t| t.remove("stages"))
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    stages
        .into_iter()
        .enumerate()
        .filter(|(_, s)| s.get("epochs").is_some())
        .map(|(i, _)| i)
        .collect::<Vec<_>>()
        .into_iter()
}

/// Runs the engine to the end, recording and showing its events. Returns the engine's error
/// message if it reported one, and every metric point.
fn drive(
    plan: &Plan,
    dataset: Arc<kdlab::data::Dataset>,
    device: ComputeDevice,
    cache: Option<TeacherCache>,
    recorder: &mut RunRecorder,
    summary: &mut Summary,
    progress: bool,
) -> anyhow::Result<(Option<String>, Vec<MetricPoint>)> {
    let engine = Engine::spawn(plan.clone(), dataset, device, cache);
    let mut bar: Option<ProgressBar> = None;
    let mut error = None;
    let mut metrics = Vec::new();
    for event in engine.events.iter() {
        recorder
            .record(&event)
            .with_context(|| format!("cannot append to {}/metrics.csv", recorder.dir().display()))?;
        summary.absorb(&event);
        match &event {
            // Several runs at once (a report over devices) would garble each other's bars.
            Event::StageStarted(start) if progress => {
                let progress = ProgressBar::new(start.total_steps).with_style(bar_style());
                progress.set_prefix(start.name.clone());
                bar = Some(progress);
            }
            Event::Progress { step, .. } => {
                if let Some(bar) = &bar {
                    bar.set_position(*step);
                }
            }
            Event::Metrics(points) => {
                metrics.extend(points.iter().cloned());
                if let (Some(bar), Some(latest)) =
                    (&bar, points.iter().rev().find(|p| p.metric == metric::TEST_ACCURACY))
                {
                    bar.set_position(latest.step);
                    bar.set_message(format!("test acc {:.3}", latest.value));
                }
            }
            Event::StageFinished(outcome) => {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
                eprintln!("{}", describe_outcome(outcome));
            }
            Event::Diverged { stage, step } => eprintln!("{}: diverged at step {step}", plan.stages[*stage].name),
            Event::Notice(text) => eprintln!("{text}"),
            Event::Error(failure) => error = Some(failure.to_string()),
            Event::Finished { .. } => break,
            _ => {}
        }
    }
    engine.join();
    Ok((error, metrics))
}

fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>14} [{bar:30}] {pos}/{len} steps {per_sec} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

fn describe_outcome(outcome: &StageOutcome) -> String {
    if let Some(reason) = &outcome.skipped {
        return format!("{}: {reason}", outcome.name);
    }
    let accuracy = outcome.test_accuracy.map_or("-".into(), |a| format!("{a:.4}"));
    let how = if outcome.cached {
        "cached"
    } else if outcome.diverged {
        "diverged"
    } else {
        "trained"
    };
    let mut line = format!("{}: {how}, test accuracy {accuracy} ({:.1} s)", outcome.name, outcome.wall_seconds);
    for class in &outcome.excluded_classes {
        line.push_str(&format!(
            "; class {} (never seen in training) {:.1}% of its {} test examples",
            class.class,
            100.0 * class.test_accuracy,
            class.test_examples
        ));
    }
    line
}

fn print_table(summary: &Summary) {
    let percent = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{:.2}%", 100.0 * v));
    // The stage column fits the longest name (at least 20 wide).
    let width = summary.stages.iter().map(|s| s.name.chars().count()).max().unwrap_or(0).max(20);
    println!(
        "{:<width$} {:<12} {:<16} {:<16} {:>9} {:>6} {:>8} {:>10} {:>10} {:>10}",
        "stage", "model", "method", "teacher", "params", "steps", "time", "train acc", "test acc", "agreement"
    );
    for s in &summary.stages {
        let status = if s.diverged {
            " (diverged)"
        } else if s.cached {
            " (cached)"
        } else {
            ""
        };
        println!(
            "{:<width$} {:<12} {:<16} {:<16} {:>9} {:>6} {:>7.1}s {:>10} {:>10} {:>10}{status}",
            s.name,
            s.model,
            s.method,
            s.teacher.as_deref().unwrap_or("-"),
            s.params,
            s.steps,
            s.wall_seconds,
            percent(s.train_accuracy),
            percent(s.test_accuracy),
            percent(s.agreement_with_teacher),
        );
    }
    for e in &summary.ensembles {
        println!("ensemble {} of {}: test acc {}", e.name, e.members.join(" + "), percent(e.test_accuracy));
    }
}

fn default_out_dir(preset: &str) -> anyhow::Result<PathBuf> {
    let stem = Path::new(preset).file_stem().and_then(|s| s.to_str()).unwrap_or("run");
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
    let base = PathBuf::from("runs").join(format!("{stem}-{stamp}"));
    let free = std::iter::once(base.clone())
        .chain((2..).map(|n| PathBuf::from(format!("{}-{n}", base.display()))))
        .find(|p| !p.exists())
        .ok_or_else(|| BadInput("no free output folder".into()))?;
    Ok(free)
}
