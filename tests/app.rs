//! The workbench driven as a user drives it, with egui_kittest: open a preset, Start, watch
//! metrics arrive, move the temperature and see the engine take it and the curve get its marker,
//! Pause, Step, Stop; and a malformed preset shows its error in the window.

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};

use kdlab::ui::KdlabApp;
use kdlab::ui::history::RunHistory;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A quick preset on the moons: a small teacher, then a long KD stage to steer.
const MOONS: &str = r#"
name = "moons live"
[data]
dataset = "moons"
samples = 400
[train]
batch_size = 16
metric_interval = 5
[models.teacher]
arch = "mlp"
hidden = [32]
[models.student]
arch = "mlp"
hidden = [8]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
epochs = 2
[[stages]]
name = "student"
model = "student"
method = "kd"
teacher = "teacher"
epochs = 2000
"#;

fn write_preset(name: &str, text: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn harness() -> Harness<'static, KdlabApp> {
    // SAFETY of the test: the teacher cache is the test's own.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/cache");
    // SAFETY: set before any engine thread starts; tests in this file share the same value.
    unsafe { std::env::set_var("KDLAB_CACHE_DIR", cache) };
    Harness::builder().with_size(egui::vec2(1280.0, 800.0)).build_eframe(|cc| KdlabApp::new(cc))
}

fn history<'h>(harness: &'h Harness<'_, KdlabApp>) -> &'h RunHistory {
    &harness.state().session().expect("a run was started").history
}

/// Steps frames until `done` holds, failing after 60 seconds.
fn run_until(harness: &mut Harness<'_, KdlabApp>, what: &str, done: impl Fn(&RunHistory) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !harness.state().session().is_some_and(|s| done(&s.history)) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn open(harness: &mut Harness<'_, KdlabApp>, path: &Path) {
    harness.get_by_label("Preset file").focus();
    harness.get_by_label("Preset file").type_text(path.to_str().unwrap());
    harness.run_steps(2);
    harness.get_by_label("Open…").click();
    harness.run_steps(2);
}

fn temperature_slider<'t>(harness: &'t Harness<'_, KdlabApp>) -> egui_kittest::Node<'t> {
    harness
        .get_all_by_label("Temperature")
        .find(|node| node.accesskit_node().role() == egui::accesskit::Role::Slider)
        .expect("a Temperature slider")
}

fn student_step(history: &RunHistory) -> Option<u64> {
    history.progress.filter(|p| p.stage == 1).map(|p| p.step)
}

#[test]
fn start_steer_pause_step_and_stop_a_run() {
    let mut harness = harness();
    open(&mut harness, &write_preset("moons_live.toml", MOONS));
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the student's first metrics", |h| {
        h.stages.get(1).is_some_and(|s| s.series.contains_key("test_accuracy"))
    });

    // Temperature: a keyboard change on the slider is sent to the engine, which applies it
    // from its next step and reports it back; the curves get a marker there.
    temperature_slider(&harness).focus();
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    run_until(&mut harness, "the temperature change", |h| !h.stages[1].markers.is_empty());
    let marker = history(&harness).stages[1].markers[0].clone();
    assert_ne!(marker.value, 4.0, "the slider moved off the preset's T = 4");
    assert_eq!(history(&harness).stages[1].temperature, Some(marker.value));
    run_until(&mut harness, "metrics with the new temperature", |h| {
        h.stages[1].series.get("temperature").and_then(|s| s.last()).is_some_and(|p| p[1] == marker.value)
    });

    // Pause: the step count stops.
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |h| h.is_paused());
    let paused_at = student_step(history(&harness)).unwrap();
    for _ in 0..20 {
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(student_step(history(&harness)), Some(paused_at), "no step while paused");

    // Step: exactly one more.
    harness.get_by_label("Step").click();
    run_until(&mut harness, "one step", |h| student_step(h) == Some(paused_at + 1));
    for _ in 0..20 {
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(student_step(history(&harness)), Some(paused_at + 1));

    // Space resumes; Stop ends the stage and keeps its results.
    harness.key_press(egui::Key::Space);
    run_until(&mut harness, "the resume", |h| student_step(h).is_some_and(|s| s > paused_at + 1));
    harness.get_by_label("Stop").click();
    run_until(&mut harness, "the stopped stage", |h| h.stages[1].outcome.is_some());
    let outcome = history(&harness).stages[1].outcome.clone().unwrap();
    assert!(outcome.stopped && outcome.test_accuracy.is_some());
    run_until(&mut harness, "the end of the run", |h| h.finished);
}

#[test]
fn a_malformed_preset_shows_its_error_in_the_window() {
    let mut harness = harness();
    let broken = MOONS.replace("epochs = 2\n", "epochs = -2\n");
    open(&mut harness, &write_preset("broken.toml", &broken));
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the error", |h| h.error.is_some());
    harness.run_steps(2);
    // The same one-line message the CLI prints: file, line:column, field, expectation.
    let message = history(&harness).error.clone().unwrap();
    assert!(message.contains("broken.toml:") && message.contains("stages[0].epochs"), "{message}");
    assert!(harness.query_by_label_contains(&message).is_some(), "the banner shows: {message}");
    // The app is still usable: a good preset runs after it.
    open(&mut harness, &write_preset("moons_after_error.toml", &MOONS.replace("epochs = 2000", "epochs = 1")));
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the second run to finish", |h| h.finished && h.error.is_none());
}
