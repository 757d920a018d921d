//! The engine driven through its channels, as the app will drive it: pause stops steps, a single
//! step advances exactly one, a temperature change applies from the next step and shows in the
//! metrics, stop ends the stage keeping its model, cancel ends the run.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crossbeam_channel::Receiver;
use kdlab::device::ComputeDevice;
use kdlab::preset::PresetSource;
use kdlab::protocol::{Command, Event, Parameter};
use kdlab::train::{Engine, Plan, Session, SessionState};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PRESET: &str = r#"
name = "live"
[data]
dataset = "moons"
samples = 400
[train]
batch_size = 16
metric_interval = 4
[models.net]
arch = "mlp"
hidden = [16]
[[stages]]
name = "teacher"
model = "net"
method = "scratch"
epochs = 1
[[stages]]
name = "student"
model = "net"
method = "kd"
teacher = "teacher"
epochs = 500
"#;

fn start() -> Engine {
    start_with(PRESET)
}

fn start_with(text: &str) -> Engine {
    let source = PresetSource { origin: "live.toml".into(), base_dir: ".".into(), text: text.into(), dataset: None };
    let preset = source.load(&[]).unwrap();
    let dataset = kdlab::data::load(&preset.data_spec(&source.base_dir)).unwrap();
    Engine::spawn(Plan::new(preset), Arc::new(dataset), ComputeDevice::cpu(), None)
}

/// Receives events until `wanted` returns something, failing after 60 seconds.
fn wait_for<T>(events: &Receiver<Event>, mut wanted: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let event = events.recv_timeout(left).expect("the engine kept talking");
        if let Some(found) = wanted(&event) {
            return found;
        }
    }
}

fn paused_at(events: &Receiver<Event>) -> u64 {
    wait_for(events, |e| match e {
        Event::Progress { stage: 1, step, paused: true, .. } => Some(*step),
        _ => None,
    })
}

#[test]
fn live_controls_act_between_steps() {
    let engine = start();
    let events = &engine.events;
    wait_for(events, |e| matches!(e, Event::StageStarted(s) if s.name == "student").then_some(()));
    engine.commands.send(Command::Pause).unwrap();
    let paused = paused_at(events);

    // Paused: no step is taken, however long we wait.
    std::thread::sleep(Duration::from_millis(300));
    let moved: Vec<u64> = events
        .try_iter()
        .filter_map(|e| match e {
            Event::Progress { step, .. } => Some(step),
            _ => None,
        })
        .filter(|&s| s != paused)
        .collect();
    assert!(moved.is_empty(), "steps taken while paused: {moved:?}");

    // One Step command: exactly one step.
    engine.commands.send(Command::Step).unwrap();
    assert_eq!(paused_at(events), paused + 1);

    // A temperature change applies from the next step and is reported with it.
    engine.commands.send(Command::Set(Parameter::named("temperature").unwrap(), 8.0)).unwrap();
    engine.commands.send(Command::Step).unwrap();
    let (step, value) = wait_for(events, |e| match e {
        Event::ParameterChanged { stage: 1, step, parameter, value, .. } if parameter.name() == "temperature" => {
            Some((*step, *value))
        }
        _ => None,
    });
    assert_eq!((step, value), (paused + 2, 8.0));

    // Resumed, the metrics carry the new temperature.
    engine.commands.send(Command::Resume).unwrap();
    let reported = wait_for(events, |e| match e {
        Event::Metrics(points) => points.iter().find(|p| p.metric == "temperature").map(|p| p.value),
        _ => None,
    });
    assert_eq!(reported, 8.0);

    // Stop ends the stage early and keeps its results; the run then finishes.
    engine.commands.send(Command::Stop).unwrap();
    let outcome = wait_for(events, |e| match e {
        Event::StageFinished(o) if o.name == "student" => Some(o.clone()),
        _ => None,
    });
    assert!(outcome.stopped && !outcome.diverged);
    assert!(outcome.steps < 500 * 20, "stopped early at {}", outcome.steps);
    assert!(outcome.test_accuracy.is_some());
    let cancelled = wait_for(events, |e| match e {
        Event::Finished { cancelled } => Some(*cancelled),
        _ => None,
    });
    assert!(!cancelled);
    engine.join();
}

#[test]
fn cancel_ends_the_run() {
    let engine = start();
    wait_for(&engine.events, |e| matches!(e, Event::StageStarted(_)).then_some(()));
    engine.commands.send(Command::Cancel).unwrap();
    let cancelled = wait_for(&engine.events, |e| match e {
        Event::Finished { cancelled } => Some(*cancelled),
        _ => None,
    });
    assert!(cancelled);
    engine.join();
}

#[test]
fn a_listener_that_never_reads_does_not_block_training() {
    let engine = start();
    // Let the teacher and the start of the student run with nobody reading: the engine must
    // keep stepping while metric points pile up, batched.
    std::thread::sleep(Duration::from_secs(3));
    engine.commands.send(Command::Cancel).unwrap();
    let mut steps = 0;
    let mut finished = false;
    for event in engine.events.iter() {
        match event {
            Event::Progress { stage: 1, step, .. } => steps = steps.max(step),
            Event::Metrics(points) => {
                steps = steps.max(points.iter().filter(|p| p.stage == 1).map(|p| p.step).max().unwrap_or(0))
            }
            Event::Finished { .. } => finished = true,
            _ => {}
        }
    }
    assert!(finished);
    assert!(steps > 100, "the student kept training unread: {steps} steps");
    engine.join();
}

#[test]
fn probes_carry_fixed_examples_and_an_agreement_matrix_consistent_with_the_metrics() {
    let engine = start_with(&PRESET.replace("epochs = 500", "epochs = 2"));
    let mut probes = Vec::new();
    let mut agreement = Vec::new();
    for event in engine.events.iter() {
        match event {
            Event::Probe(probe) => probes.push(*probe),
            Event::Metrics(points) => agreement.extend(points.into_iter().filter(|p| p.metric == "agreement")),
            Event::Finished { .. } => break,
            _ => {}
        }
    }
    engine.join();
    let teacher_probe = probes.iter().find(|p| p.stage == 0).expect("the teacher stage sends probes");
    assert!(teacher_probe.teacher_logits.is_none() && teacher_probe.agreement_matrix.is_none());
    // Moons: 2 classes, 3 probe examples each; the same examples at every report.
    assert_eq!(teacher_probe.examples.len(), 6);
    assert!(probes.iter().all(|p| p.examples == teacher_probe.examples && p.logits.len() == 12));

    let last = probes.iter().rev().find(|p| p.stage == 1).expect("the student sends probes");
    assert_eq!(last.teacher_logits.as_ref().map(Vec::len), Some(12));
    let matrix = last.agreement_matrix.as_ref().unwrap();
    let total: u32 = matrix.iter().sum();
    assert_eq!(total, 80, "every test example counted once");
    let reported = agreement.iter().rev().find(|p| p.step == last.step).expect("agreement at the probe's step");
    assert!((f64::from(matrix[0] + matrix[3]) / f64::from(total) - reported.value).abs() < 1e-12);
}

/// A stage set to keep training goes on past its epochs until Stop; the toggle works live too.
#[test]
fn keep_training_goes_on_past_the_epochs_until_stop() {
    let short = PRESET.replace("epochs = 500", "epochs = 2");
    for from_the_preset in [true, false] {
        let text = if from_the_preset {
            short.replace("epochs = 2\n", "epochs = 2\nkeep_training = true\n")
        } else {
            short.clone()
        };
        let engine = start_with(&text);
        let events = &engine.events;
        let start = wait_for(events, |e| match e {
            Event::StageStarted(s) if s.name == "student" => Some(s.clone()),
            _ => None,
        });
        assert_eq!(start.keep_training, from_the_preset);
        if !from_the_preset {
            engine.commands.send(Command::KeepTraining { stage: 1, keep: true }).unwrap();
        }
        // 320 training examples in batches of 16: two epochs are 40 steps.
        assert_eq!(start.total_steps, 40);
        let beyond = wait_for(events, |e| match e {
            Event::Progress { stage: 1, step, epoch, .. } if *step > 100 => Some(*epoch),
            _ => None,
        });
        assert!(beyond > 2, "epoch {beyond}, past the planned 2");
        // A fork of a stage kept training keeps training too.
        engine.commands.send(Command::Fork(Vec::new())).unwrap();
        let fork = engine.forks.recv_timeout(Duration::from_secs(30)).expect("the fork's engine");
        let forked = wait_for(&fork.events, |e| match e {
            Event::StageStarted(s) if s.name == "student" => Some(s.keep_training),
            _ => None,
        });
        assert!(forked, "the fork inherits keep training");
        let fork_beyond = wait_for(&fork.events, |e| match e {
            Event::Progress { step, .. } if *step > 200 => Some(*step),
            _ => None,
        });
        assert!(fork_beyond > 200);
        fork.commands.send(Command::Cancel).unwrap();
        fork.join();
        engine.commands.send(Command::Stop).unwrap();
        let outcome = wait_for(events, |e| match e {
            Event::StageFinished(o) if o.name == "student" => Some(o.clone()),
            _ => None,
        });
        assert!(outcome.stopped && outcome.steps > 100 && outcome.epochs > 2, "{outcome:?}");
        engine.join();
    }
}

/// A fork starts from the parent's state: a fork asked for before the first step reproduces
/// the parent's own first reports exactly, and a changed temperature applies from its first step.
#[test]
fn a_fork_goes_on_from_the_parents_state() {
    let engine = start();
    let events = &engine.events;
    wait_for(events, |e| matches!(e, Event::StageStarted(s) if s.name == "student").then_some(()));
    engine.commands.send(Command::Pause).unwrap();
    let step = paused_at(events);
    engine.commands.send(Command::Fork(vec![(Parameter::named("temperature").unwrap(), 9.0)])).unwrap();
    let fork = engine.forks.recv_timeout(Duration::from_secs(30)).expect("the fork's engine");
    let info = wait_for(&fork.events, |e| match e {
        Event::Ready(info) => Some(info.clone()),
        _ => None,
    });
    assert_eq!(info.fork.map(|f| (f.stage, f.step)), Some((1, step)));
    let temperature = Parameter::named("temperature").unwrap();
    assert!(info.stages[1].parameters.contains(&(temperature, 9.0)), "the values it trains with");
    let first = wait_for(&fork.events, |e| match e {
        Event::Metrics(points) => points.iter().find(|p| p.metric == "test_accuracy").cloned(),
        _ => None,
    });
    assert_eq!(first.step, step, "the fork reports where it branched off");
    let change = wait_for(&fork.events, |e| match e {
        Event::ParameterChanged { parameter, value, step, .. } if parameter.name() == "temperature" => {
            Some((*value, *step))
        }
        _ => None,
    });
    assert_eq!(change, (9.0, step + 1));
    fork.commands.send(Command::Cancel).unwrap();
    engine.commands.send(Command::Cancel).unwrap();
    fork.join();
    engine.join();
}

/// Time spent paused is not training time: a stage paused for a second reports less wall
/// time than it took.
#[test]
fn paused_time_is_left_out_of_wall_seconds() {
    let engine = start();
    let events = &engine.events;
    wait_for(events, |e| matches!(e, Event::StageStarted(s) if s.name == "student").then_some(()));
    let started = Instant::now();
    engine.commands.send(Command::Pause).unwrap();
    paused_at(events);
    std::thread::sleep(Duration::from_millis(1500));
    engine.commands.send(Command::Resume).unwrap();
    engine.commands.send(Command::Stop).unwrap();
    let outcome = wait_for(events, |e| match e {
        Event::StageFinished(o) if o.name == "student" => Some(o.clone()),
        _ => None,
    });
    let took = started.elapsed().as_secs_f64();
    assert!(took >= 1.5 && outcome.wall_seconds < took - 1.2, "{} s trained of {took} s", outcome.wall_seconds);
    engine.join();
}

/// Every registered classifier method (but those that pair conv feature maps, which the bundled
/// `at` preset runs; the language-model methods train in `tests/cli.rs` on text) trains a small
/// network on moons with its declared defaults: the run ends, no loss diverges (a loss reading a
/// hyperparameter its method did not declare would), and every stage learns.
#[test]
fn every_registered_method_trains_with_its_defaults() {
    let methods: Vec<kdlab::train::Method> =
        kdlab::train::Method::all().filter(|m| !m.spec().uses_feature_maps && !m.spec().text).collect();
    let mut text = String::from(
        "name = \"all\"\n[data]\ndataset = \"moons\"\nsamples = 400\n[train]\nbatch_size = 32\nepochs = 24\n\
         [models.net]\narch = \"mlp\"\nhidden = [16, 16]\n\
         [[stages]]\nname = \"teacher\"\nmodel = \"net\"\nmethod = \"scratch\"\n",
    );
    for method in &methods {
        let teacher = if method.needs_teacher() { "teacher = \"teacher\"\n" } else { "" };
        let hint = if method.name() == "fitnets" { "hint_epochs = 4\n" } else { "" };
        text += &format!("[[stages]]\nname = \"{method}\"\nmodel = \"net\"\nmethod = \"{method}\"\n{teacher}{hint}");
    }
    let engine = start_with(&text);
    let ctkd = 1 + methods.iter().position(|m| m.name() == "ctkd").expect("ctkd is registered");
    let mut outcomes = Vec::new();
    let mut learned_temperatures = Vec::new();
    loop {
        match engine.events.recv_timeout(Duration::from_secs(120)).expect("the engine kept talking") {
            Event::StageFinished(outcome) => outcomes.push(outcome),
            Event::Metrics(points) => learned_temperatures
                .extend(points.iter().filter(|p| p.stage == ctkd && p.metric == "temperature").map(|p| p.value)),
            Event::Diverged { stage, step } => panic!("stage {stage} diverged at step {step}"),
            Event::Finished { .. } => break,
            Event::Error(message) => panic!("{message}"),
            _ => {}
        }
    }
    assert_eq!(outcomes.len(), methods.len() + 1);
    for outcome in &outcomes {
        let accuracy = outcome.test_accuracy.unwrap_or(0.0);
        assert!(accuracy > 0.75, "{} ({}): test accuracy {accuracy}", outcome.name, outcome.method);
    }
    // CTKD's temperature is learned (1 + 20·sigmoid(θ), θ from 1) and reported as it moves.
    let (first, last) = (learned_temperatures[0], learned_temperatures[learned_temperatures.len() - 1]);
    assert!((first - (1.0 + 20.0 / (1.0 + (-1.0f64).exp()))).abs() < 0.5, "starts near 15.6: {first}");
    assert!((first - last).abs() > 1e-3, "the temperature moved: {learned_temperatures:?}");
    assert!(learned_temperatures.iter().all(|t| (1.0..=21.0).contains(t)), "{learned_temperatures:?}");
}

/// Every event of a run, until it finishes, while `act` drives it: `act` sees each event as it
/// arrives (with the engine, to send commands).
fn drive(engine: &Engine, mut act: impl FnMut(&Engine, &Event)) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = engine.events.recv_timeout(Duration::from_secs(60)).expect("the engine kept talking");
        act(engine, &event);
        let done = matches!(event, Event::Finished { .. });
        seen.push(event);
        if done {
            return seen;
        }
    }
}

/// A metric point as `metrics.csv` writes it: stage, step, epoch, metric, value.
type Row = (usize, u64, u64, String, f64);

/// What a replay must reproduce: every metric point and parameter change, and the steering.
fn record_of(events: &[Event]) -> (Vec<Row>, Vec<Event>, Vec<kdlab::protocol::Steer>) {
    let mut points = Vec::new();
    let mut changes = Vec::new();
    let mut steering = Vec::new();
    for event in events {
        match event {
            Event::Metrics(batch) => {
                points.extend(batch.iter().map(|p| (p.stage, p.step, p.epoch, p.metric.clone(), p.value)));
            }
            Event::ParameterChanged { .. } => changes.push(event.clone()),
            Event::Steered(steer) => steering.push(steer.clone()),
            _ => {}
        }
    }
    (points, changes, steering)
}

/// A run steered by hand — T set twice between single steps, kept training past its epochs, a
/// fork taken, stopped — replays from its steering log (as a run folder's config.toml lists it)
/// to the same metric points in the same order, and the same log.
#[test]
fn a_steering_log_replays_to_the_same_metrics() {
    let text = PRESET.replace("epochs = 500", "epochs = 2");
    let temperature = Parameter::named("temperature").unwrap();
    let engine = start_with(&text);
    let mut phase = 0;
    let mut fork = None;
    let original = drive(&engine, |engine, event| {
        let send = |command| engine.commands.send(command).unwrap();
        match (phase, event) {
            (0, Event::StageStarted(s)) if s.name == "student" => {
                send(Command::Pause);
                phase = 1;
            }
            (1, Event::Progress { stage: 1, paused: true, .. }) => {
                for command in [
                    Command::Set(temperature, 2.0),
                    Command::Step,
                    Command::Step,
                    Command::Set(temperature, 6.0),
                    Command::KeepTraining { stage: 1, keep: true },
                    Command::Resume,
                ] {
                    send(command);
                }
                phase = 2;
            }
            (2, Event::Progress { stage: 1, step, .. }) if *step > 55 => {
                send(Command::Fork(Vec::new()));
                phase = 3;
            }
            (3, Event::Progress { stage: 1, step, .. }) if *step > 70 => {
                send(Command::Stop);
                phase = 4;
            }
            _ => {}
        }
        if fork.is_none() {
            fork = engine.forks.try_recv().ok();
        }
    });
    if let Some(fork) = fork.take().or_else(|| engine.forks.recv_timeout(Duration::from_secs(10)).ok()) {
        fork.commands.send(Command::Cancel).unwrap();
        fork.join();
    }
    let (points, changes, steering) = record_of(&original);
    let actions: Vec<&kdlab::protocol::SteerAction> = steering.iter().map(|s| &s.action).collect();
    assert_eq!(actions.len(), 5, "two sets, keep training, the fork, the stop: {steering:?}");
    let stop = steering.last().unwrap();
    assert!(stop.after_step > 70, "stopped past the 40 planned steps: {stop:?}");

    // The same preset with the log as [[steering]]: a headless run replays it.
    let mut preset =
        PresetSource { origin: "live.toml".into(), base_dir: ".".into(), text: text.clone(), dataset: None }
            .load(&[])
            .unwrap();
    preset.steering = steering
        .iter()
        .map(|s| kdlab::preset::SteeringSection::of(s, &preset.stages[s.stage].name, Some("a fork".into())))
        .collect();
    let config = preset.config_text().unwrap();
    assert!(config.contains("[[steering]]") && config.contains("after_step = "), "{config}");
    let source = PresetSource { origin: "replay.toml".into(), base_dir: ".".into(), text: config, dataset: None };
    let loaded = source.load(&[]).unwrap();
    let dataset = kdlab::data::load(&loaded.data_spec(&source.base_dir)).unwrap();
    let mut plan = Plan::new(loaded);
    assert!(plan.headless().is_empty(), "a stage the steering stops keeps training until then");
    let replay = Engine::spawn(plan, Arc::new(dataset), ComputeDevice::cpu(), None);
    let replayed = drive(&replay, |_, _| {});
    replay.join();
    engine.join();
    let (replayed_points, replayed_changes, replayed_steering) = record_of(&replayed);
    assert_eq!(replayed_changes, changes, "the same changes at the same steps");
    assert_eq!(replayed_steering, steering, "the same log");
    assert_eq!(replayed_points.len(), points.len());
    assert_eq!(replayed_points, points, "the same metrics, in the same order");
}

/// Keep training chosen for a stage before it starts (ticked while an earlier stage trains)
/// applies to that stage when it starts, is logged there, and leaves the running stage alone.
#[test]
fn keep_training_chosen_ahead_applies_to_its_stage() {
    let engine = start_with(&PRESET.replace("epochs = 500", "epochs = 2"));
    let events = &engine.events;
    wait_for(events, |e| matches!(e, Event::StageStarted(s) if s.name == "teacher").then_some(()));
    engine.commands.send(Command::KeepTraining { stage: 1, keep: true }).unwrap();
    let teacher = wait_for(events, |e| match e {
        Event::StageFinished(o) if o.name == "teacher" => Some(o.clone()),
        _ => None,
    });
    assert!(!teacher.stopped && teacher.steps == 20, "the teacher ran its one epoch: {teacher:?}");
    let student = wait_for(events, |e| match e {
        Event::StageStarted(s) if s.name == "student" => Some(s.keep_training),
        _ => None,
    });
    assert!(student, "the student starts kept training");
    let logged = wait_for(events, |e| match e {
        Event::Steered(steer) => Some(steer.clone()),
        _ => None,
    });
    assert_eq!((logged.stage, logged.after_step), (1, 0));
    assert_eq!(logged.action, kdlab::protocol::SteerAction::KeepTraining(true));
    wait_for(events, |e| matches!(e, Event::Progress { stage: 1, step, .. } if *step > 60).then_some(()));
    engine.commands.send(Command::Stop).unwrap();
    let outcome = wait_for(events, |e| match e {
        Event::StageFinished(o) if o.name == "student" => Some(o.clone()),
        _ => None,
    });
    assert!(outcome.stopped && outcome.steps > 60, "past its 40 planned steps: {outcome:?}");
    engine.join();
}

/// The live preset on digits with augmentation, the student steered at step 7: every part of
/// the loop (the loader, the teacher's outputs, the controls) is in play.
fn polled_preset() -> String {
    let data = "dataset = \"moons\"\nsamples = 400\n";
    assert!(PRESET.contains(data));
    let augmented = "dataset = \"digits\"\n[data.augment]\ncrop_padding = 1\nflip = true\n";
    let steering = "[[steering]]\nstage = \"student\"\nafter_step = 7\nset = \"temperature\"\nto = 2.5\n";
    PRESET.replace(data, augmented).replace("epochs = 500", "epochs = 1") + steering
}

/// Writes `events` as a run folder does and returns its `metrics.csv`.
fn metrics_csv(dir: &std::path::Path, plan: &Plan, events: &[Event]) -> String {
    let mut recorder = kdlab::record::RunRecorder::create(dir, plan).unwrap();
    for event in events {
        recorder.record(event).unwrap();
    }
    std::fs::read_to_string(dir.join("metrics.csv")).unwrap()
}

/// The engine as a step-driven session, polled with no time budget (one unit of work per poll)
/// on the caller's thread, without a loader thread, paused for a while on the way: the same
/// `metrics.csv`, byte for byte, as the threaded engine's for the same seed. Paused, a poll
/// takes no step and says it waits.
#[test]
fn a_session_polled_in_tiny_budgets_writes_the_threaded_engines_metrics() {
    let source =
        PresetSource { origin: "polled.toml".into(), base_dir: ".".into(), text: polled_preset(), dataset: None };
    let preset = source.load(&[]).unwrap();
    let dataset = Arc::new(kdlab::data::load(&preset.data_spec(&source.base_dir)).unwrap());
    let plan = Plan::new(preset);
    let train_examples = dataset.train.len();

    let engine = Engine::spawn(plan.clone(), dataset.clone(), ComputeDevice::cpu(), None);
    let threaded = drive(&engine, |_, _| {});
    engine.join();

    let mut session = Session::new(plan.clone(), dataset, ComputeDevice::cpu(), None).without_threads();
    let (mut polled, mut polls, mut steps) = (Vec::new(), 0, 0);
    loop {
        let result = session.poll(Duration::ZERO);
        polls += 1;
        let student_started = result.events.iter().any(|e| matches!(e, Event::StageStarted(s) if s.stage == 1));
        steps += result.events.iter().filter(|e| matches!(e, Event::Progress { paused: false, .. })).count();
        polled.extend(result.events);
        assert!(result.forks.is_empty());
        match result.state {
            SessionState::Finished => break,
            SessionState::Waiting => panic!("waiting although never paused"),
            SessionState::Running => {}
        }
        if student_started {
            session.apply(Command::Pause);
            for _ in 0..5 {
                let paused = session.poll(Duration::ZERO);
                assert_eq!(paused.state, SessionState::Waiting);
                let stepped = paused.events.iter().any(|e| matches!(e, Event::Metrics(_)));
                assert!(!stepped, "a paused session took a step: {:?}", paused.events);
                polled.extend(paused.events);
            }
            session.apply(Command::Resume);
        }
    }
    let student_steps = Plan::steps_of(&plan.stages[1], train_examples);
    assert!(polls as u64 > 2 * student_steps, "{polls} polls for two stages of {student_steps} steps");
    assert!(steps > 0);

    let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("polled_session");
    let _ = std::fs::remove_dir_all(&root);
    let threaded_csv = metrics_csv(&root.join("threaded"), &plan, &threaded);
    let polled_csv = metrics_csv(&root.join("polled"), &plan, &polled);
    assert!(threaded_csv.lines().count() > 20, "{threaded_csv}");
    assert!(threaded_csv.contains("set_temperature"), "the steering took: {threaded_csv}");
    assert_eq!(polled_csv, threaded_csv, "the same metrics.csv, polled or threaded");
}
