//! The workbench driven as a user drives it, with egui_kittest: open a preset, Start, watch
//! metrics arrive, move the temperature and see the engine take it and the curve get its marker,
//! Pause, Step, Stop; and a malformed preset shows its error in the window.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    // The teacher cache is this test process's own, emptied when the first test starts: the
    // target folder outlives builds, and an entry a build of other code left there is not what
    // this code trains.
    static FRESH_CACHE: std::sync::Once = std::sync::Once::new();
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/cache");
    FRESH_CACHE.call_once(|| {
        let _ = std::fs::remove_dir_all(&cache);
        // SAFETY: set before any engine thread starts; tests in this file share the same value.
        unsafe { std::env::set_var("KDLAB_CACHE_DIR", &cache) };
    });
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

/// The text of the label containing `part` (a label keeps its text as its AccessKit value).
fn label_text(harness: &Harness<'_, KdlabApp>, part: &str) -> String {
    let node = harness.get_by_label_contains(part);
    let node = node.accesskit_node();
    node.value().or_else(|| node.label()).unwrap_or_default()
}

/// Steps frames until the engine's checker has answered about the chosen preset (its stages
/// are listed under the picker).
fn wait_for_check(harness: &mut Harness<'_, KdlabApp>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.query_by_label_contains(" stages: ").is_none() {
        assert!(Instant::now() < deadline, "the preset check did not arrive");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Lets the runs Start begins end after their epochs (by default Start keeps the steerable
/// stages training until Stop, so there is time to steer them).
fn let_runs_end(harness: &mut Harness<'_, KdlabApp>) {
    harness.get_by_label("Keep steerable stages training until Stop").click();
    harness.run_steps(2);
    assert!(!harness.state().settings().keep_steering, "the box was ticked");
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
    assert_eq!(history(&harness).stages[1].value("temperature"), Some(marker.value));
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
    // The engine's checker answers off the frame, in milliseconds.
    let deadline = Instant::now() + Duration::from_secs(10);
    while harness.query_by_label_contains("Cannot start: ").is_none() {
        assert!(Instant::now() < deadline, "the check's message was not shown");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Checked as soon as it is opened: the same one-line message the CLI prints (file,
    // line:column, field, expectation), and nothing can start.
    let shown = label_text(&harness, "Cannot start: ");
    assert!(shown.contains("broken.toml:") && shown.contains("stages[0].epochs"), "{shown}");
    harness.get_by_label("Start").click();
    harness.run_steps(3);
    assert!(harness.state().runs().runs.is_empty(), "a preset that fails its check starts nothing");
    // A dataset the chosen preset cannot use is offered disabled (the bundled kd's CNN teacher
    // needs images: not moons; digits is fine).
    harness.get_by_label("Preset").click();
    harness.run_steps(2);
    harness.get_by_label("kd").click();
    harness.run_steps(3);
    wait_for_check(&mut harness);
    harness.get_by_label("Dataset").click();
    harness.run_steps(2);
    assert!(harness.get_by_label("moons").accesskit_node().is_disabled(), "moons is not for a CNN");
    assert!(!harness.get_by_label("digits").accesskit_node().is_disabled());
    harness.key_press(egui::Key::Escape);
    harness.run_steps(2);
    // The app is still usable: a good preset runs after it.
    open(&mut harness, &write_preset("moons_after_error.toml", &MOONS.replace("epochs = 2000", "epochs = 1")));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the second run to finish", |h| h.finished && h.error.is_none());
}

/// A moons teacher trained long enough to bend its boundary, then a short KD student.
const MOONS_BOUNDARY: &str = r#"
name = "moons boundary"
[data]
dataset = "moons"
samples = 600
noise = 0.1
[train]
batch_size = 32
metric_interval = 20
[models.teacher]
arch = "mlp"
hidden = [64, 64]
[models.student]
arch = "mlp"
hidden = [4]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
epochs = 60
[[stages]]
name = "student"
model = "student"
method = "kd"
teacher = "teacher"
epochs = 3
"#;

/// Small CNNs on the 8×8 digits, so attention transfer pairs two blocks (4×4 and 2×2).
const DIGITS_AT: &str = r#"
name = "digits at"
[data]
dataset = "digits"
[train]
batch_size = 64
metric_interval = 10
[models.teacher]
arch = "cnn"
channels = [16, 32]
[models.student]
arch = "cnn"
channels = [4, 8]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
epochs = 8
[[stages]]
name = "student"
model = "student"
method = "at"
teacher = "teacher"
epochs = 200
"#;

/// Steps frames until the files asked for (exports, saved runs, reports) are written — on a
/// thread of their own — and what they say is on the screen.
fn finish_writing(harness: &mut Harness<'_, KdlabApp>) {
    // The click lands in the next frame, which starts the job.
    harness.run_steps(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.state().exports_pending() {
        assert!(Instant::now() < deadline, "the files were not written");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    harness.run_steps(2);
}

/// Clicks every "Export data" button on screen.
fn export_every_view(harness: &mut Harness<'_, KdlabApp>) {
    let buttons = harness.get_all_by_label("Export data").count();
    assert!(buttons > 0, "an Export data button");
    for index in 0..buttons {
        harness.get_all_by_label("Export data").nth(index).unwrap().click();
        finish_writing(harness);
    }
}

fn show_tab(harness: &mut Harness<'_, KdlabApp>, title: &str) {
    harness.get_by_label(title).click();
    harness.run_steps(3);
}

#[test]
fn representation_views_show_the_probes_of_a_run() {
    let mut harness = harness();
    open(&mut harness, &write_preset("moons_boundary.toml", MOONS_BOUNDARY));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the end of the moons run", |h| h.finished);
    harness.run_steps(3);

    // Decision boundary: both networks' regions are drawn, and the trained teacher's regions
    // put at least 90% of the training points on the side of their own class.
    show_tab(&mut harness, "Decision boundary");
    harness.get_by_label("teacher: class");
    harness.get_by_label("student: class");
    let run = history(&harness);
    let plane = run.info.as_ref().and_then(|i| i.data.plane.clone()).expect("moons has a plane");
    let probe = run.stages[1].probe.as_ref().expect("the student's probe");
    let boundary = probe.representations.boundary.as_ref().expect("a boundary on 2-D data");
    let teacher = boundary.teacher_class.as_ref().expect("the teacher's regions");
    let grid = kdlab::protocol::GRID;
    let cell_of = |p: [f32; 2]| {
        let column = ((p[0] - plane.x[0]) / (plane.x[1] - plane.x[0]) * grid as f32) as usize;
        let row = ((p[1] - plane.y[0]) / (plane.y[1] - plane.y[0]) * grid as f32) as usize;
        row.min(grid - 1) * grid + column.min(grid - 1)
    };
    let separated = plane.points.iter().zip(&plane.labels).filter(|(p, l)| teacher[cell_of(**p)] == **l).count();
    assert!(separated as f64 >= 0.9 * plane.points.len() as f64, "{separated} of {}", plane.points.len());

    // Every shown view's numbers export as CSV and JSON: the boundary grid, the matrix.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/view_data");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    export_every_view(&mut harness);
    let grid = std::fs::read_to_string(dir.join("decision_boundary.csv")).unwrap();
    assert_eq!(grid.lines().count(), 64 * 64 + 1);
    assert!(
        grid.starts_with("run,seed,stage,step,temperature,x,y,teacher_class,student_class,p_0,p_1"),
        "{}",
        &grid[..80]
    );
    let matrix: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("agreement_matrix.json")).unwrap()).unwrap();
    let counted: f64 = matrix.as_array().unwrap().iter().map(|r| r["count"].as_f64().unwrap()).sum();
    assert_eq!(counted as usize, history(&harness).info.as_ref().unwrap().data.test_examples);

    // Relations: both matrices and the share of shared neighbour edges, also as a curve.
    show_tab(&mut harness, "Relations");
    harness.get_by_label_contains("of nearest-neighbour edges shared");
    harness.get_by_label("teacher: distance / mean");
    assert!(history(&harness).stages[1].series.contains_key("neighbour_agreement"));
    export_every_view(&mut harness);
    let pairs = std::fs::read_to_string(dir.join("relations.csv")).unwrap();
    assert_eq!(pairs.lines().count(), 32 * 32 + 1);

    // Attention maps degrade honestly on 2-D data.
    show_tab(&mut harness, "Attention maps");
    harness.get_by_label_contains("No attention maps: attention maps need image data");

    // On images, attention transfer pairs the conv blocks and the view shows them.
    open(&mut harness, &write_preset("digits_at.toml", DIGITS_AT));
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the attention-transfer student's probe", |h| {
        h.stages.get(1).is_some_and(|s| s.probe.is_some() && s.series.contains_key("loss_at"))
    });
    harness.run_steps(3);
    harness.get_by_label_contains("activation-based");
    harness.get_by_label("s - t 2");
    let run = history(&harness);
    let attention = run.stages[1].probe.as_ref().unwrap().representations.attention.as_ref().expect("attention maps");
    assert_eq!(attention.sizes, vec![[4, 4], [2, 2]]);
    let examples = run.info.as_ref().unwrap().data.probe_examples.len();
    assert_eq!(attention.student[0].len(), examples * 16);
    assert!(attention.teacher[0] != attention.student[0], "two networks, two maps");

    // β of attention transfer is live: a keyboard change reaches the engine and is marked.
    let beta = harness
        .get_all_by_label("β")
        .find(|node| node.accesskit_node().role() == egui::accesskit::Role::Slider)
        .expect("a β slider for the AT stage");
    beta.focus();
    harness.key_press(egui::Key::ArrowRight);
    harness.run_steps(2);
    run_until(&mut harness, "the beta change", |h| {
        h.stages[1].markers.iter().any(|m| m.parameter == kdlab::protocol::Parameter::named("beta").unwrap())
    });
    let marker = history(&harness).stages[1].markers.last().cloned().unwrap();
    assert_ne!(marker.value, 1000.0, "the slider moved off the default beta");
    run_until(&mut harness, "metrics with the new beta", |h| {
        h.stages[1].series.get("beta").and_then(|s| s.last()).is_some_and(|p| p[1] == marker.value)
    });
    harness.get_by_label("Stop").click();
    run_until(&mut harness, "the end of the digits run", |h| h.finished);
}

#[test]
fn plots_export_as_png_svg_csv_and_json_and_a_bad_folder_shows_an_error() {
    let mut harness = harness();
    open(&mut harness, &write_preset("moons_export.toml", &MOONS.replace("epochs = 2000", "epochs = 3")));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the end of the run", |h| h.finished);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/exports");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    harness.get_all_by_label("Export plots").next().expect("an export button").click();
    finish_writing(&mut harness);
    // SVG, PNG, CSV and JSON of both plots.
    harness.get_by_label_contains("exported 8 files to");

    let run = history(&harness);
    let loss_series: usize = run.stages.iter().map(|s| s.series.keys().filter(|m| m.starts_with("loss")).count()).sum();
    // The PNG is the SVG drawn at 2x on a light background: 900 px wide, the legend below.
    let png = std::fs::read(dir.join("loss.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    assert_eq!(width, 1800, "900 px at 2x");
    let pixels = kdlab::export::png::decode_rgba(&png).expect("the PNG decodes");
    let white = pixels.chunks_exact(4).filter(|p| p[0] > 240 && p[1] > 240 && p[2] > 240).count();
    assert!(white * 2 > pixels.len() / 4, "a light background");
    let colours: std::collections::HashSet<&[u8]> = pixels.chunks_exact(4).collect();
    assert!(colours.len() > 10, "curves, not a blank: {} colours", colours.len());
    let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
    assert_eq!(svg.matches("<path ").count(), loss_series, "one path per series");
    let csv = std::fs::read_to_string(dir.join("accuracy.csv")).unwrap();
    assert!(csv.starts_with("run,seed,stage,metric,step,epoch,value\n"), "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.starts_with("moons_export,0,")), "every row names its run and seed");
    let points: usize = run
        .stages
        .iter()
        .flat_map(|s| s.series.iter())
        .filter(|(m, _)| m.ends_with("_accuracy"))
        .map(|(_, p)| p.len())
        .sum();
    assert_eq!(csv.lines().count(), points + 1, "a row per point plus the header");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("accuracy.json")).unwrap()).unwrap();
    assert_eq!(json["series"][0]["run"], "moons_export");

    // A second export does not overwrite the first.
    harness.get_all_by_label("Export plots").next().unwrap().click();
    finish_writing(&mut harness);
    assert!(dir.join("accuracy-2.csv").exists() && dir.join("loss-2.png").exists());

    // A destination that cannot be created: the error is shown and the run is kept.
    let blocker = dir.join("a_file");
    std::fs::write(&blocker, "not a folder").unwrap();
    set_export_folder(&mut harness, &blocker.join("plots"));
    harness.get_all_by_label("Export plots").next().unwrap().click();
    finish_writing(&mut harness);
    harness.get_by_label_contains("Error: export failed: cannot write");
    assert!(history(&harness).finished && !history(&harness).stages[1].series.is_empty());
}

fn set_export_folder(harness: &mut Harness<'_, KdlabApp>, dir: &Path) {
    harness.get_by_label("Export folder").focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label("Export folder").type_text(dir.to_str().unwrap());
    harness.run_steps(2);
}

/// Replaces a text field's content as a user does: select all, type.
fn set_field(harness: &mut Harness<'_, KdlabApp>, label: &str, value: &str) {
    harness.get_by_label(label).focus();
    harness.run_steps(1);
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness.get_by_label(label).type_text(value);
    harness.run_steps(2);
}

fn all_runs_finished(harness: &Harness<'_, KdlabApp>, count: usize) -> bool {
    let runs = &harness.state().runs().runs;
    runs.len() == count && runs.iter().all(|r| r.history().is_some_and(|h| h.finished))
}

#[test]
fn a_sweep_and_a_seed_repeat_run_side_by_side_in_the_table_and_the_curves() {
    let mut harness = harness();
    let preset = MOONS.replace("epochs = 2000", "epochs = 4");
    open(&mut harness, &write_preset("moons_sweep.toml", &preset));
    set_field(&mut harness, "Sweep key", "stages.student.temperature");
    set_field(&mut harness, "Values", "1, 8");
    harness.get_by_label("Queue sweep").click();
    harness.run_steps(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !all_runs_finished(&harness, 2) {
        assert!(Instant::now() < deadline, "the sweep did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(2);
    let temperatures: Vec<Option<f64>> =
        harness.state().runs().runs.iter().map(|r| r.history().unwrap().stages[1].value("temperature")).collect();
    assert_eq!(temperatures, vec![Some(1.0), Some(8.0)], "each run got its value");

    // Both runs are rows of the table, with their accuracies.
    harness.get_by_label("Runs").click();
    harness.run_steps(3);
    for label in ["moons_sweep temperature=1", "moons_sweep temperature=8"] {
        assert!(harness.query_all_by_label(label).count() >= 2, "{label}: a row per stage");
    }

    // Repeat over two seeds: a group row with mean ± std, and a band in the curves.
    let seeds =
        harness.get_all_by_label("Seeds").find(|n| n.accesskit_node().role() == egui::accesskit::Role::SpinButton);
    if let Some(seeds) = seeds {
        seeds.focus();
    }
    harness.get_by_label("Repeat over seeds").click();
    harness.run_steps(2);
    let deadline = Instant::now() + Duration::from_secs(60);
    let total = 2 + 3;
    while !all_runs_finished(&harness, total) {
        assert!(Instant::now() < deadline, "the seed repeat did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(3);
    assert!(harness.query_all_by_label("moons_sweep (mean ± std)").count() >= 2, "a group row per stage");
    assert!(harness.query_all_by_label("3 of 3 finished").count() >= 2, "how many of its runs finished");
    assert!(harness.query_all_by_label_contains("% ± ").count() >= 2, "mean ± std of each stage");

    // The overlaid curves, as exported: a path per run's series, the seed group as one mean
    // line with its band.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/overlay");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);

    // The seed group's reproduction report, from the app.
    harness.get_by_label("Write report: moons_sweep (3 seeds)").click();
    finish_writing(&mut harness);
    let report = std::fs::read_to_string(dir.join("moons_sweep-report/report.md")).unwrap();
    let student = report.lines().find(|l| l.starts_with("| student |")).unwrap_or_else(|| panic!("{report}"));
    assert!(student.contains("% ± ") && student.matches('%').count() == 4, "mean ± std and 3 seeds: {student}");
    assert!(report.contains("Seeds 0, 1, 2 on"), "the real seeds: {report}");
    assert!(dir.join("moons_sweep-report/test_accuracy.png").exists());
    for seed in 0..3 {
        let folder = dir.join(format!("moons_sweep-report/seed-{seed}"));
        assert!(folder.join("summary.json").exists() && report.contains(&format!("(seed-{seed}/)")), "seed-{seed}/");
    }

    harness.get_all_by_label("Export plots").next().unwrap().click();
    finish_writing(&mut harness);
    let svg = std::fs::read_to_string(dir.join("accuracy.svg")).unwrap();
    for label in [
        "temperature=1 · student · test_accuracy",
        "temperature=8 · student · test_accuracy",
        "(mean of 3 of 3 seeds) · student · test_accuracy",
    ] {
        assert!(svg.contains(label), "{label} in the overlay");
    }
    assert!(svg.contains("<polygon"), "the seed group's band");
    // Each run keeps one colour; its stages differ by line style.
    let stroke = |title: &str| -> String {
        let path =
            svg.lines().find(|l| l.starts_with("<path") && l.contains(&format!("<title>{title}</title>"))).unwrap();
        path.split("stroke=\"").nth(1).unwrap()[..7].to_string()
    };
    let (t1_student, t1_teacher) = (
        stroke("moons_sweep temperature=1 · student · test_accuracy"),
        stroke("moons_sweep temperature=1 · teacher · test_accuracy"),
    );
    assert_eq!(t1_student, t1_teacher, "one colour per run");
    assert_ne!(t1_student, stroke("moons_sweep temperature=8 · student · test_accuracy"), "runs differ");
}

#[test]
fn a_run_folder_from_the_cli_opens_beside_the_others() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/past_run");
    let _ = std::fs::remove_dir_all(&dir);
    let preset = write_preset("moons_past.toml", &MOONS.replace("epochs = 2000", "epochs = 3"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kdlab"))
        .arg("run")
        .arg(&preset)
        .args(["--device", "cpu", "--no-cache", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let mut harness = harness();
    set_field(&mut harness, "Run folder", dir.to_str().unwrap());
    harness.get_by_label("Open run").click();
    harness.run_steps(3);
    let run = history(&harness);
    assert!(run.finished);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for (stage, recorded) in run.stages.iter().zip(summary["stages"].as_array().unwrap()) {
        let outcome = stage.outcome.as_ref().expect("each stage's outcome");
        assert_eq!(outcome.test_accuracy, recorded["test_accuracy"].as_f64());
    }
    let rows = std::fs::read_to_string(dir.join("metrics.csv")).unwrap().lines().count() - 1;
    let points: usize = run.stages.iter().flat_map(|s| s.series.values()).map(Vec::len).sum();
    assert_eq!(points, rows, "every metrics.csv row is a point");
    // Its T and α, and the probes the run recorded (probes.json): the views show them.
    assert_eq!((run.stages[1].value("temperature"), run.stages[1].value("alpha")), (Some(4.0), Some(0.9)));
    assert!(run.stages.iter().all(|s| s.probe.is_some()), "each stage's last probe");
    assert_eq!(run.info.as_ref().unwrap().data.class_names.len(), 2);
    show_tab(&mut harness, "Decision boundary");
    harness.get_by_label("teacher: class");
    harness.get_by_label("Runs").click();
    harness.run_steps(2);
    assert!(harness.query_all_by_label("past_run").count() >= 2, "its rows in the runs table");

    // Saved back from the app, the folder opens again with the same results.
    let export = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/saved");
    let _ = std::fs::remove_dir_all(&export);
    set_export_folder(&mut harness, &export);
    harness.get_by_label("Save run").click();
    finish_writing(&mut harness);
    let saved = export.join("past_run-run");
    for file in
        ["config.toml", "metrics.csv", "summary.json", "probes.json", "loss.svg", "loss.png", "test_accuracy.png"]
    {
        assert!(saved.join(file).exists(), "{file} in the saved run");
    }
    let resaved = kdlab::record::past::read_run(&saved).expect("the saved folder reads back");
    let reread = kdlab::record::past::read_run(&dir).unwrap();
    let outcomes = |events: &[kdlab::protocol::Event]| -> Vec<Option<f64>> {
        events
            .iter()
            .filter_map(|e| match e {
                kdlab::protocol::Event::StageFinished(o) => Some(o.test_accuracy),
                _ => None,
            })
            .collect()
    };
    assert_eq!(outcomes(&resaved), outcomes(&reread));
    let original_rows = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let saved_rows = std::fs::read_to_string(saved.join("metrics.csv")).unwrap();
    assert_eq!(saved_rows, original_rows, "the same file, row for row, epochs included");

    // A folder that is not a run: the error says which file, and the opened run stays.
    set_field(&mut harness, "Run folder", dir.join("nope").to_str().unwrap());
    harness.get_by_label("Open run").click();
    harness.run_steps(2);
    harness.get_by_label_contains("cannot open the run:");
    assert_eq!(harness.state().runs().runs.len(), 1);
}

#[test]
fn the_file_dialog_picks_the_export_folder() {
    let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/browse");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(base.join("picked")).unwrap();
    let mut harness = harness();
    set_export_folder(&mut harness, &base);
    let browse = harness.get_all_by_label("Browse…").count();
    assert_eq!(browse, 3, "preset file, run folder, export folder");
    harness.get_all_by_label("Browse…").nth(2).unwrap().click();
    harness.run_steps(3);
    harness.get_by_label_contains("picked").click();
    harness.run_steps(2);
    harness.get_by_label("Open").click();
    harness.run_steps(3);
    assert_eq!(harness.state().settings().export_dir, base.join("picked"));
}

/// Forks the followed (first) run with the value labelled `field` moved by pressing `key`
/// `times`, and waits until the fork (the second run) is followed.
fn fork_with(harness: &mut Harness<'_, KdlabApp>, field: &str, key: egui::Key, times: usize) {
    harness.get_by_label("Fork here…").click();
    harness.run_steps(2);
    let value = harness
        .get_all_by_label(field)
        .find(|n| n.accesskit_node().role() == egui::accesskit::Role::SpinButton)
        .unwrap_or_else(|| panic!("the fork's {field}"));
    value.focus();
    for _ in 0..times {
        harness.key_press(key);
        harness.run_steps(1);
    }
    harness.get_by_label("Start fork").click();
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.state().runs().runs.len() < 2 || harness.state().runs().current != 1 {
        assert!(Instant::now() < deadline, "the fork did not start");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Presses `key` on the slider labelled `label` `times` times, a frame after each.
fn press_on_slider(harness: &mut Harness<'_, KdlabApp>, label: &str, key: egui::Key, times: usize) {
    for _ in 0..times {
        let slider = harness
            .get_all_by_label(label)
            .find(|node| node.accesskit_node().role() == egui::accesskit::Role::Slider)
            .unwrap_or_else(|| panic!("a {label} slider"));
        slider.focus();
        harness.key_press(key);
        harness.run_steps(2);
    }
}

/// The range of every point the followed run drew in a plot of metrics matching `shows`.
fn data_range(run: &RunHistory, shows: impl Fn(&str) -> bool) -> (f64, f64) {
    let values = run.stages.iter().flat_map(|s| s.series.iter()).filter(|(m, _)| shows(m)).flat_map(|(_, p)| p.iter());
    values.fold((f64::MAX, f64::MIN), |(low, high), p| (low.min(p[1]), high.max(p[1])))
}

#[test]
fn fifty_temperature_and_alpha_changes_leave_the_y_axes_on_the_data() {
    let mut harness = harness();
    open(&mut harness, &write_preset("moons_markers.toml", MOONS));
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the student's first metrics", |h| {
        h.stages.get(1).is_some_and(|s| s.series.contains_key("test_accuracy"))
    });
    press_on_slider(&mut harness, "Temperature", egui::Key::ArrowRight, 25);
    press_on_slider(&mut harness, "α", egui::Key::ArrowLeft, 25);
    run_until(&mut harness, "50 changes marked", |h| h.stages[1].markers.len() >= 50);
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |h| h.is_paused());
    // Many frames: the old markers pushed the y axis up a little every frame.
    harness.run_steps(30);
    let run = history(&harness);
    for (plot, shows) in [
        ("accuracy_plot", (|m: &str| m.ends_with("_accuracy")) as fn(&str) -> bool),
        ("loss_plot", |m: &str| m.starts_with("loss")),
    ] {
        let frame = harness.state().plot_frame(plot).expect("the plot was drawn");
        let (low, high) = data_range(run, shows);
        let span = high - low;
        let [[_, y_min], [_, y_max]] = frame.bounds;
        assert!(
            y_min >= low - 0.1 * span && y_max <= high + 0.1 * span,
            "{plot}: y {y_min}..{y_max}, data {low}..{high}"
        );
    }
    harness.get_by_label("Stop").click();
    run_until(&mut harness, "the end of the run", |h| h.finished);
}

#[test]
fn hovering_a_curve_shows_the_exact_values_of_its_nearest_point() {
    let mut harness = harness();
    open(&mut harness, &write_preset("moons_hover.toml", &MOONS.replace("epochs = 2000", "epochs = 3")));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the end of the run", |h| h.finished);
    harness.run_steps(3);
    // The student's last test accuracy, where the (smoothed) line draws it.
    let run = history(&harness).clone();
    let raw = run.stages[1].series["test_accuracy"].clone();
    let smoothed = kdlab::ui::series::debiased_ema(&raw, harness.state().settings().smoothing);
    let point = *smoothed.last().unwrap();
    let frame = harness.state().plot_frame("accuracy_plot").expect("the accuracy plot");
    harness.hover_at(frame.screen_of(point));
    harness.run_steps(2);
    let label = label_text(&harness, "run moons_hover");
    // It names the series, the run, the stage and the step, and gives the raw value there.
    let metric = if label.contains("test_accuracy =") { "test_accuracy" } else { "train_accuracy" };
    let step: f64 = label.split("step ").nth(1).and_then(|t| t.split([',', '\n']).next()).unwrap().parse().unwrap();
    let value = run.stages[1].series[metric].iter().find(|p| p[0] == step).expect("a point at that step")[1];
    assert!(label.contains("stage student") && label.contains("epoch "), "{label}");
    assert!(label.contains(&format!("{metric} = {value:.5}")), "the exact value {value} in: {label}");
}

/// Queues a sweep of `preset` over the student's T and waits for its runs to finish.
fn finished_sweep(harness: &mut Harness<'_, KdlabApp>, preset: &Path, values: &str, count: usize) {
    open(harness, preset);
    set_field(harness, "Sweep key", "stages.student.temperature");
    set_field(harness, "Values", values);
    harness.get_by_label("Queue sweep").click();
    harness.run_steps(2);
    let deadline = Instant::now() + Duration::from_secs(90);
    while !all_runs_finished(harness, count) {
        assert!(Instant::now() < deadline, "the sweep did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(2);
}

#[test]
fn a_failed_start_keeps_the_runs_and_reset_asks_first() {
    let mut harness = harness();
    let quick = write_preset("moons_three.toml", &MOONS.replace("epochs = 2000", "epochs = 2"));
    finished_sweep(&mut harness, &quick, "1, 4, 16", 3);

    // Data that cannot load fails on the engine thread: its error shows, the three runs stay.
    let missing = MOONS.replace("dataset = \"moons\"\nsamples = 400", "csv = \"no_such_file.csv\"");
    open(&mut harness, &write_preset("missing_data.toml", &missing));
    harness.get_by_label("Start").click();
    let deadline = Instant::now() + Duration::from_secs(30);
    while harness.query_by_label_contains("no_such_file.csv").is_none() {
        assert!(Instant::now() < deadline, "the data error was not shown");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(all_runs_finished(&harness, 3), "the finished runs are kept");

    // Exports of the three runs say which run each row comes from.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/three_runs");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    harness.get_all_by_label("Export plots").next().unwrap().click();
    finish_writing(&mut harness);
    let csv = std::fs::read_to_string(dir.join("accuracy.csv")).unwrap();
    assert!(csv.starts_with("run,seed,stage,"), "{csv}");
    for value in ["1", "4", "16"] {
        let label = format!("moons_three temperature={value},0,student,test_accuracy,");
        assert!(csv.lines().any(|l| l.starts_with(&label)), "{label} in accuracy.csv");
    }
    harness.get_by_label("Agreement").click();
    harness.run_steps(3);
    export_every_view(&mut harness);
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    let matrix = std::fs::read_to_string(dir.join("agreement_matrix.csv")).unwrap_or_else(|_| panic!("{files:?}"));
    assert!(matrix.starts_with("run,seed,stage,step,teacher_class,student_class,count"), "{matrix}");

    // Reset asks; "Keep the runs" keeps them; confirming clears them and starts one run.
    open(&mut harness, &quick);
    let_runs_end(&mut harness);
    harness.get_by_label("Reset").click();
    harness.run_steps(2);
    assert!(harness.state().asks_to_reset());
    harness.get_by_label("Clear every run?");
    harness.get_by_label("Keep the runs").click();
    harness.run_steps(2);
    assert!(!harness.state().asks_to_reset() && all_runs_finished(&harness, 3), "nothing cleared");
    harness.get_by_label("Reset").click();
    harness.run_steps(2);
    harness.get_by_label("Clear and start again").click();
    harness.run_steps(2);
    assert_eq!(harness.state().runs().runs.len(), 1, "one fresh run");
    run_until(&mut harness, "the fresh run", |h| h.finished);
}

#[test]
fn a_fork_trains_beside_its_parent_from_the_fork_step() {
    let mut harness = harness();
    open(&mut harness, &write_preset("moons_fork.toml", MOONS));
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the student's first metrics", |h| {
        h.stages.get(1).is_some_and(|s| s.series.contains_key("test_accuracy"))
    });
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |h| h.is_paused());
    let fork_step = student_step(history(&harness)).unwrap();

    // Fork with a higher temperature.
    fork_with(&mut harness, "fork Temperature", egui::Key::ArrowUp, 20);
    // The fork is followed; it trains while its parent stays paused.
    run_until(&mut harness, "the fork's training", |h| student_step(h).is_some_and(|s| s > fork_step + 20));
    let runs = &harness.state().runs().runs;
    let (parent, fork) = (runs[0].history().unwrap(), runs[1].history().unwrap());
    assert_eq!(runs[1].parent, Some(runs[0].id));
    assert_eq!(fork.info.as_ref().unwrap().fork.map(|f| (f.stage, f.step)), Some((1, fork_step)));
    // Its first point is its parent's at the fork step: the branch continues the parent's curve.
    let first = fork.stages[1].series["test_accuracy"][0];
    let parent_at = parent.stages[1].series["test_accuracy"].iter().find(|p| p[0] == fork_step as f64).copied();
    assert_eq!(first[0], fork_step as f64);
    assert_eq!(Some(first), parent_at, "the same model at the same step");
    // The new temperature applies from the fork's first step, and only there.
    let marker = fork.stages[1].markers.first().expect("the fork's temperature change").clone();
    assert_eq!(marker.step, fork_step + 1);
    assert!(marker.value > 4.0 && parent.stages[1].value("temperature") == Some(4.0));
    assert!(fork.stages[0].series.is_empty(), "the teacher is the parent's, not retrained");

    // Both train side by side once the parent resumes.
    harness.get_by_label("Runs").click();
    harness.run_steps(2);
    harness.get_all_by_label("moons_fork").next().expect("the parent's row").click();
    harness.run_steps(2);
    harness.get_by_label("Resume").click();
    run_until(&mut harness, "the parent's training", |h| student_step(h).is_some_and(|s| s > fork_step + 20));

    // Saved, the fork's folder records where it came from.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/fork");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    let fork_label = harness.state().runs().runs[1].label.clone();
    harness.get_all_by_label(&fork_label).next().expect("the fork's row").click();
    harness.run_steps(2);
    harness.get_by_label("Save run").click();
    finish_writing(&mut harness);
    let saved = std::fs::read_dir(&dir).unwrap().next().unwrap().unwrap().path();
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(saved.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["fork"]["parent"], "moons_fork");
    assert_eq!(summary["fork"]["stage"], "student");
    assert_eq!(summary["fork"]["step"], fork_step);
}

/// A run whose learning rate follows a schedule gets a third plot, the learning rate, which
/// exports like the others; with a constant rate (the export test above) there are two.
#[test]
fn a_scheduled_learning_rate_is_plotted_and_exported() {
    let mut harness = harness();
    let scheduled = MOONS
        .replace("epochs = 2000", "epochs = 3")
        .replace("metric_interval = 5", "metric_interval = 5\nschedule = \"step\"\nmilestones = [1, 2]\ngamma = 0.5");
    open(&mut harness, &write_preset("moons_schedule.toml", &scheduled));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the end of the run", |h| h.finished);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/schedule_exports");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    harness.get_all_by_label("Export plots").next().expect("an export button").click();
    finish_writing(&mut harness);
    harness.get_by_label_contains("exported 12 files to");
    let csv = std::fs::read_to_string(dir.join("learning_rate.csv")).unwrap();
    let student_rates: Vec<f64> = csv
        .lines()
        .filter(|line| line.contains(",student,learning_rate,"))
        .map(|line| line.rsplit(',').next().unwrap().parse().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<u64> = student_rates.iter().map(|r| r.to_bits()).collect();
    assert_eq!(distinct.len(), 3, "1e-3, then halved twice: {student_rates:?}");
    assert!(student_rates.windows(2).all(|w| w[1] <= w[0]), "{student_rates:?}");
    assert!((student_rates[student_rates.len() - 1] - 2.5e-4).abs() < 1e-12);
}

/// The batch-norm networks in the views: a ResNet teacher and a WRN student matched by attention
/// transfer on CIFAR-format images show their three stages' maps, their relations and the
/// boundary view's note.
#[test]
fn the_views_show_residual_networks() {
    let mut harness = harness();
    let cifar = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats/cifar10-bin");
    let preset = format!(
        "name = \"resnet at\"\n[data]\npath = \"{}\"\n[train]\nbatch_size = 16\nmetric_interval = 2\n\
         [models.teacher]\narch = \"resnet\"\ndepth = 8\nchannels = [8, 8, 16, 32]\n\
         [models.student]\narch = \"wrn\"\ndepth = 10\n\
         [[stages]]\nname = \"teacher\"\nmodel = \"teacher\"\nmethod = \"scratch\"\nepochs = 2\n\
         [[stages]]\nname = \"student\"\nmodel = \"student\"\nmethod = \"at\"\nteacher = \"teacher\"\nepochs = 2\n",
        cifar.display()
    );
    open(&mut harness, &write_preset("resnet_at.toml", &preset));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the end of the resnet run", |h| h.finished);
    harness.run_steps(3);
    show_tab(&mut harness, "Attention maps");
    harness.get_by_label_contains("activation-based");
    harness.get_by_label("s - t 3");
    let run = history(&harness);
    let attention = run.stages[1].probe.as_ref().unwrap().representations.attention.as_ref().expect("attention maps");
    assert_eq!(attention.sizes, vec![[32, 32], [16, 16], [8, 8]]);
    assert!(attention.teacher[2] != attention.student[2], "two networks, two maps");
    show_tab(&mut harness, "Relations");
    harness.get_by_label_contains("of nearest-neighbour edges shared");
    harness.get_by_label("teacher: distance / mean");
    show_tab(&mut harness, "Decision boundary");
    harness.get_by_label_contains("No decision boundary: it needs 2-D data");
}

/// The omitted-class experiment in the window: the stage list gives each student's accuracy on
/// the class it never saw.
#[test]
fn the_stage_list_shows_the_accuracy_on_a_class_never_seen() {
    let mut harness = harness();
    let preset = MOONS.replace("epochs = 2000", "epochs = 20\nexclude_classes = [1]");
    open(&mut harness, &write_preset("moons_unseen.toml", &preset));
    let_runs_end(&mut harness);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the end of the run", |h| h.finished);
    harness.run_steps(3);
    let outcome = history(&harness).stages[1].outcome.clone().expect("the student's outcome");
    let unseen = &outcome.excluded_classes[0];
    assert_eq!(unseen.class, "1");
    harness.get_by_label_contains(&format!("unseen class 1 {:.2}%", 100.0 * unseen.test_accuracy));
}

/// Every registered view draws a replayed run on its own: a run folder `kdlab run` wrote (an
/// attention-transfer run on the digits, so the representation views have probes), read back
/// and replayed into a history; each view shows it (not "No run yet", nor a missing probe) and
/// none panics.
#[test]
fn every_view_draws_a_replayed_run() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/replayed_run");
    let _ = std::fs::remove_dir_all(&dir);
    let preset = write_preset("digits_replay.toml", &DIGITS_AT.replace("epochs = 200", "epochs = 2"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kdlab"))
        .arg("run")
        .arg(&preset)
        .args(["--device", "cpu", "--no-cache", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut history = RunHistory::default();
    for event in kdlab::record::past::read_run(&dir).expect("the run folder reads back") {
        history.apply(event);
    }
    let views = kdlab::ui::views::registry();
    assert!(views.len() >= 8, "every view is registered");
    for view in views {
        let title = view.info().title;
        let harness = draw_view(&history, title);
        for missing in ["No run yet", "Loading data", "No probe yet"] {
            assert!(harness.query_by_label_contains(missing).is_none(), "{title}: shows the run, not {missing:?}");
        }
    }
}

/// A sweep over T, each value over seeds: the Sweep view puts T on a log x axis (1 to 16 spans
/// a decade), the student's final test accuracy on y as mean ± std of each value's three seeds,
/// switches to agreement with the teacher, and exports the plot with its points.
#[test]
fn the_sweep_view_answers_which_temperature() {
    let mut harness = harness();
    let preset = MOONS.replace("epochs = 2000", "epochs = 3");
    open(&mut harness, &write_preset("moons_sweep_view.toml", &preset));
    set_field(&mut harness, "Sweep key", "stages.student.temperature");
    set_field(&mut harness, "Values", "1, 4, 16");
    harness.get_by_label("over Seeds").click();
    harness.run_steps(2);
    harness.get_by_label("Queue sweep").click();
    harness.run_steps(2);
    let deadline = Instant::now() + Duration::from_secs(120);
    while !all_runs_finished(&harness, 9) {
        assert!(Instant::now() < deadline, "the sweep did not finish");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    show_tab(&mut harness, "Sweep");
    harness.get_by_label("9 finished runs at 3 values · log x");
    assert!(harness.state().plot_frame("sweep_plot").is_some(), "the plot is drawn");
    let seeds: Vec<Option<u64>> =
        harness.state().runs().runs.iter().map(|r| r.history().and_then(|h| h.info.as_ref()).map(|i| i.seed)).collect();
    assert_eq!(seeds, [0, 1, 2, 0, 1, 2, 0, 1, 2].map(Some), "each value over seeds 0, 1 and 2");

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/sweep_exports");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    show_tab(&mut harness, "Sweep");
    harness.get_by_label("Export plot").click();
    finish_writing(&mut harness);
    let svg = std::fs::read_to_string(dir.join("sweep_temperature_test_accuracy.svg")).expect("the SVG");
    let x_ticks = [">1<", ">2<", ">5<", ">10<"];
    assert!(svg.contains("stages.student.temperature"), "the x axis is labelled");
    assert!(x_ticks.iter().all(|t| svg.contains(t)), "log ticks at 1, 2, 5, 10: {svg}");
    assert!(svg.contains("<polygon"), "the ± std band");
    assert!(dir.join("sweep_temperature_test_accuracy.png").exists());
    let csv = std::fs::read_to_string(dir.join("sweep_temperature_test_accuracy.csv")).expect("the points");
    assert_eq!(csv.lines().count(), 1 + 9, "a row per run: {csv}");
    assert!(
        csv.starts_with("run,seed,stage,metric,stages.student.temperature,value\n"),
        "the key names its column: {csv}"
    );
    let at_16 = csv.lines().filter(|l| l.contains(",student,test_accuracy,16,")).count();
    assert_eq!(at_16, 3, "each run's swept value in that column: {csv}");
    assert_eq!(svg.matches("<circle").count(), 9 + 1, "a dot per run, and one in the legend");
}

/// The run the test drives, found by its label.
fn run_history<'h>(harness: &'h Harness<'_, KdlabApp>, label: &str) -> &'h RunHistory {
    let run = harness.state().runs().runs.iter().find(|r| r.label == label);
    run.and_then(|r| r.history()).unwrap_or_else(|| panic!("a run labelled {label}"))
}

/// Steps frames until the run labelled `label` satisfies `done`, failing after 60 seconds.
fn run_until_labelled(
    harness: &mut Harness<'_, KdlabApp>,
    label: &str,
    what: &str,
    done: impl Fn(&RunHistory) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let reached = |h: &Harness<'_, KdlabApp>| {
        h.state().runs().runs.iter().find(|r| r.label == label).and_then(|r| r.history()).is_some_and(&done)
    };
    while !reached(harness) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Follows the run labelled `label` by clicking its row in the runs table.
fn follow(harness: &mut Harness<'_, KdlabApp>, label: &str) {
    show_tab(harness, "Runs");
    harness.get_all_by_label(label).next().unwrap_or_else(|| panic!("{label}'s row")).click();
    harness.run_steps(3);
}

/// `kdlab run CONFIG --device cpu --out DIR`, which must succeed.
fn replay(config: &Path, out: &Path) {
    let _ = std::fs::remove_dir_all(out);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kdlab"))
        .arg("run")
        .arg(config)
        .args(["--device", "cpu", "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("[[steering]] entries"), "the replay says it replays: {said}");
}

/// Fails naming the first row where two `metrics.csv` texts differ (and how many rows each has).
fn assert_same_rows(replayed: &str, recorded: &str, what: &str) {
    let (a, b): (Vec<&str>, Vec<&str>) = (replayed.lines().collect(), recorded.lines().collect());
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        panic!(
            "{what}, row for row: row {i} differs (replayed {} rows, recorded {}):\n  replayed: {:?}\n  recorded: {:?}",
            a.len(),
            b.len(),
            a.get(i),
            b.get(i)
        );
    }
}

/// `metrics.csv` rows of one stage after a step (header dropped).
fn rows_after(csv: &str, stage: &str, after: u64) -> Vec<String> {
    csv.lines()
        .skip(1)
        .filter(|l| {
            let mut cells = l.split(',');
            let (name, step) = (cells.next(), cells.nth(1).and_then(|s| s.parse::<u64>().ok()));
            name == Some(stage) && step.is_some_and(|s| s > after)
        })
        .map(str::to_string)
        .collect()
}

/// The loop a researcher runs by hand: steer T while the student trains, fork with another α,
/// stop both, save both. Each run folder records what it trained (the fork: the α and T it went
/// on with, the step it forked at, where its metrics begin), and `kdlab run` of each saved
/// config.toml replays the steering at the same steps: the same metrics.csv, row for row (the
/// fork's from its fork step on). The exported curves carry the markers and the fork's ring.
#[test]
fn a_steered_and_forked_session_replays_headless_to_the_same_metrics() {
    let mut harness = harness();
    let preset = MOONS.replace("epochs = 2000", "epochs = 6");
    open(&mut harness, &write_preset("moons_replay.toml", &preset));
    assert!(harness.state().settings().keep_steering, "Start keeps steerable stages training by default");
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the student's first evaluation", |h| {
        h.stages.get(1).is_some_and(|s| s.series.contains_key("test_accuracy"))
    });

    // Steer T twice while it trains.
    press_on_slider(&mut harness, "Temperature", egui::Key::ArrowRight, 2);
    run_until(&mut harness, "two temperature changes", |h| h.stages[1].markers.len() >= 2);
    let steered_t = history(&harness).stages[1].value("temperature").unwrap();
    assert_ne!(steered_t, 4.0);

    // Fork with a lower α; the fork is followed.
    harness.get_by_label("Pause").click();
    run_until(&mut harness, "the pause", |h| h.is_paused());
    fork_with(&mut harness, "fork α", egui::Key::ArrowDown, 30);
    let (parent_label, fork_label) = {
        let runs = &harness.state().runs().runs;
        (runs[0].label.clone(), runs[1].label.clone())
    };
    run_until(&mut harness, "the fork's training", |h| {
        h.stages.get(1).and_then(|s| s.series.get("loss")).is_some_and(|s| s.len() > 3)
    });
    let fork = run_history(&harness, &fork_label);
    let origin = fork.info.as_ref().unwrap().fork.expect("a fork origin");
    let fork_alpha = fork.stages[1].value("alpha").unwrap();
    assert!(fork_alpha < 0.9, "the fork trains with its own α: {fork_alpha}");
    assert_eq!(fork.stages[1].value("temperature"), Some(steered_t), "and the T its parent had");
    assert!(fork_label.contains(&format!("fork@{} ", origin.step)), "named after its fork step: {fork_label}");
    // Its first metrics are at the fork step, and its α from there on is its own.
    let first_alpha = fork.stages[1].series["alpha"][0];
    assert_eq!(first_alpha, [origin.step as f64, fork_alpha], "its first α row is its own value");
    // The slider and the runs table show the fork's own α.
    let slider_alpha = harness
        .get_all_by_label("α")
        .find(|n| n.accesskit_node().role() == egui::accesskit::Role::Slider)
        .and_then(|n| n.accesskit_node().numeric_value())
        .expect("the α slider's value");
    assert!((slider_alpha - fork_alpha).abs() < 1e-9, "slider {slider_alpha} vs {fork_alpha}");

    // Stop the fork, then resume and stop its parent.
    harness.get_by_label("Stop").click();
    run_until_labelled(&mut harness, &fork_label, "the fork's end", |h| h.finished);
    follow(&mut harness, &parent_label);
    harness.get_by_label("Resume").click();
    run_until_labelled(&mut harness, &parent_label, "more parent steps", |h| {
        h.progress.is_some_and(|p| p.stage == 1 && p.step > origin.step + 30)
    });
    harness.get_by_label("Stop").click();
    run_until_labelled(&mut harness, &parent_label, "the parent's end", |h| h.finished);

    // The exported curves of the steered parent carry its markers and its fork's ring.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/replay");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    harness.get_all_by_label("Export plots").next().unwrap().click();
    finish_writing(&mut harness);
    let svg = std::fs::read_to_string(dir.join("loss.svg")).unwrap();
    let t_label = format!("T={}", kdlab::export::svg::format_tick(steered_t));
    assert!(svg.contains(&format!(">{t_label}</text>")), "the T marker's label {t_label} in the SVG");
    assert!(svg.contains("stroke-dasharray=\"4 3\""), "the marker lines");
    assert!(svg.contains("fork of this curve"), "the fork's ring");

    // Save both; each config.toml says what it trained, and replays.
    harness.get_by_label("Save run").click();
    finish_writing(&mut harness);
    follow(&mut harness, &fork_label);
    harness.get_by_label("Save run").click();
    finish_writing(&mut harness);
    let folder = |label: &str| dir.join(format!("{}-run", KdlabApp::folder_name(label)));
    let (parent_dir, fork_dir) = (folder(&parent_label), folder(&fork_label));
    for name in [&parent_dir, &fork_dir].map(|d| d.file_name().unwrap().to_string_lossy().into_owned()) {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)), "{name} needs no quoting");
    }
    let fork_config: toml::Table = std::fs::read_to_string(fork_dir.join("config.toml")).unwrap().parse().unwrap();
    let student = &fork_config["stages"].as_array().unwrap()[1];
    assert_eq!(student["alpha"].as_float(), Some(fork_alpha), "the α it trained with");
    assert_eq!(student["temperature"].as_float(), Some(steered_t), "the T it trained with");
    let steering = fork_config["steering"].as_array().expect("its steering log");
    assert!(steering.iter().any(|s| s.get("fork").and_then(|f| f.as_str()) == Some(fork_label.as_str())));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fork_dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["fork"]["step"], origin.step);
    let fork_csv = std::fs::read_to_string(fork_dir.join("metrics.csv")).unwrap();
    let first_step: u64 = fork_csv.lines().nth(1).unwrap().split(',').nth(2).unwrap().parse().unwrap();
    assert_eq!(first_step, origin.step, "its metrics begin at its fork step");

    let parent_csv = std::fs::read_to_string(parent_dir.join("metrics.csv")).unwrap();
    let replayed = dir.join("replayed-parent");
    replay(&parent_dir.join("config.toml"), &replayed);
    assert_same_rows(&std::fs::read_to_string(replayed.join("metrics.csv")).unwrap(), &parent_csv, "the parent");
    let replayed_fork = dir.join("replayed-fork");
    replay(&fork_dir.join("config.toml"), &replayed_fork);
    let replayed_csv = std::fs::read_to_string(replayed_fork.join("metrics.csv")).unwrap();
    let after = rows_after(&fork_csv, "student", origin.step);
    assert!(after.len() > 20, "{} rows after the fork", after.len());
    assert_eq!(rows_after(&replayed_csv, "student", origin.step), after, "the fork after its fork step, row for row");
    let before = |csv: &str| -> Vec<String> {
        let all: Vec<String> = csv.lines().skip(1).map(str::to_string).collect();
        let after = rows_after(csv, "student", origin.step);
        all.into_iter().filter(|l| l.starts_with("student,") && !after.contains(l)).collect()
    };
    let parent_before: Vec<String> = before(&parent_csv)
        .into_iter()
        .filter(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap() <= origin.step)
        .collect();
    assert_eq!(before(&replayed_csv), parent_before, "before it, its parent's rows");
}

/// The `i`-th of thirty recorded runs, read back from a run folder written here: a teacher at
/// 90 + i/10 % and a KD student at T = 1 + i/100 and 50 + i %, so every number is its run's own.
fn synthetic_run(dir: &Path, i: u32) -> Vec<kdlab::protocol::Event> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let (teacher, student, t) = (0.9 + f64::from(i) / 1000.0, 0.5 + f64::from(i) / 100.0, 1.0 + f64::from(i) / 100.0);
    let stage = |name: &str, method: &str, teacher: &str, accuracy: f64| {
        format!(
            r#"{{"name": "{name}", "model": "mlp", "method": "{method}", "teacher": {teacher}, "params": {}, "epochs": 1, "steps": 10, "wall_seconds": 1.0, "train_accuracy": {accuracy}, "test_accuracy": {accuracy}, "agreement_with_teacher": null}}"#,
            100 + i
        )
    };
    let summary = format!(
        r#"{{"preset": "synthetic", "dataset": "moons", "device": "flex (CPU)", "seed": {i}, "stages": [{}, {}]}}"#,
        stage("teacher", "scratch", "null", teacher),
        stage("student", "kd", "\"teacher\"", student)
    );
    std::fs::write(dir.join("summary.json"), summary).unwrap();
    let metrics = format!(
        "stage,model,step,epoch,metric,value\nteacher,mlp,10,1,test_accuracy,{teacher}\n\
         student,mlp,10,1,temperature,{t}\nstudent,mlp,10,1,test_accuracy,{student}\n"
    );
    std::fs::write(dir.join("metrics.csv"), metrics).unwrap();
    kdlab::record::past::read_run(dir).expect("the synthetic run reads back")
}

/// Thirty runs of two stages in the runs table: every row's numbers sit level with its run's
/// name, however far down the table, and after sorting.
#[test]
fn every_number_in_the_runs_table_shares_a_row_with_its_run() {
    let mut harness = Harness::builder().with_size(egui::vec2(1280.0, 2600.0)).build_eframe(|cc| KdlabApp::new(cc));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/thirty_runs");
    for i in 0..30u32 {
        let events = synthetic_run(&dir.join(format!("run-{i:02}")), i);
        harness.state_mut().attach(&format!("run {i:02}"), kdlab::ui::session::Session::replayed(events));
    }
    harness.run_steps(2);
    show_tab(&mut harness, "Runs");
    let centres = |harness: &Harness<'_, KdlabApp>, label: &str| -> Vec<egui::Pos2> {
        harness.get_all_by_label(label).map(|n| n.rect().center()).collect()
    };
    let check = |harness: &Harness<'_, KdlabApp>| {
        for i in 0..30u32 {
            // The run's name in the table's pinned column (the curves' legend names it too, to
            // the right of the table).
            let names = centres(harness, &format!("run {i:02}"));
            let student = centres(harness, &format!("{:.2}%", 50.0 + f64::from(i)));
            let teacher = centres(harness, &format!("{:.2}%", 90.0 + f64::from(i) / 10.0));
            let t = centres(harness, &format!("{:.2}", 1.0 + f64::from(i) / 100.0));
            let mut rows = Vec::new();
            for (what, cells) in [("student test acc", &student), ("teacher test acc", &teacher), ("T", &t)] {
                assert!(!cells.is_empty(), "run {i:02}: its {what} is shown");
                for cell in cells {
                    let level = names.iter().find(|n| n.x < cell.x && (n.y - cell.y).abs() < 2.0);
                    let name = level.unwrap_or_else(|| panic!("run {i:02}: {what} at {cell:?}, its name at {names:?}"));
                    rows.push(name.y.round() as i32);
                }
            }
            rows.dedup();
            assert!(rows.len() >= 2, "run {i:02}: the teacher's and the student's rows");
        }
    };
    check(&harness);
    // Sorted by test accuracy, the rows move together.
    harness.get_by_label("test acc").click();
    harness.run_steps(3);
    check(&harness);
}

/// The default preset, started as a new user starts it: its KD stage keeps training past its
/// planned epochs until Stop, so there is time to steer it; the status bar says so.
#[test]
fn keep_training_on_the_default_preset_reaches_the_kd_stage() {
    let mut harness = harness();
    assert_eq!(harness.state().settings().preset, kdlab::ui::settings::PresetChoice::Bundled("kd".into()));
    harness.get_by_label("Start").click();
    let deadline = Instant::now() + Duration::from_secs(180);
    let past_plan = |h: &RunHistory| {
        let kd = h.stages.iter().position(|s| s.name == "student_kd");
        let planned = kd.and_then(|k| h.stages[k].start.as_ref()).map(|s| s.total_steps);
        kd.zip(planned).zip(h.progress).is_some_and(|((k, planned), p)| p.stage == k && p.step > planned + 20)
    };
    while !harness.state().session().is_some_and(|s| past_plan(&s.history)) {
        assert!(Instant::now() < deadline, "the KD stage did not go past its plan");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    let run = history(&harness);
    let kd = run.stages.iter().position(|s| s.name == "student_kd").unwrap();
    assert!(run.stages[kd].keep_training && run.stages[kd].outcome.is_none(), "still training");
    assert!(run.stages[1].outcome.as_ref().is_some_and(|o| !o.stopped), "student_scratch ended by itself");
    harness.run_steps(2);
    harness.get_by_label_contains("planned; until Stop)");
    harness.get_by_label("Keep training student_kd until Stop");
    // Saved while it trains, the run folder has the stage, marked in progress.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests/in_progress");
    let _ = std::fs::remove_dir_all(&dir);
    set_export_folder(&mut harness, &dir);
    harness.get_by_label("Save run").click();
    finish_writing(&mut harness);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("kd-run/summary.json")).unwrap()).unwrap();
    let saved = &summary["stages"][kd];
    assert_eq!(saved["name"], "student_kd");
    assert_eq!(saved["in_progress"], true);
    assert!(saved["steps"].as_u64().unwrap() > 960 && saved["test_accuracy"].as_f64().unwrap() > 0.5, "{saved}");
    harness.get_by_label("Stop").click();
    run_until(&mut harness, "the stopped KD stage", |h| h.finished);
    let outcome = history(&harness).stages[kd].outcome.clone().unwrap();
    assert!(outcome.stopped && outcome.steps > 960, "{outcome:?}");
}

/// A tiny character-level preset: a 2-layer teacher on a small generated text, then a
/// forward-KL student long enough to steer.
const SMALL_LM: &str = r#"
name = "small lm"
[data]
text = "small.txt"
context = 16
test_fraction = 0.1
[train]
batch_size = 16
learning_rate = 3e-3
metric_interval = 10
eval_interval = 20
[models.teacher]
arch = "transformer"
layers = 2
width = 32
heads = 2
context = 16
[models.student]
arch = "transformer"
layers = 1
width = 16
heads = 2
context = 16
[[stages]]
name = "teacher"
model = "teacher"
method = "lm_scratch"
epochs = 2
[[stages]]
name = "student"
model = "student"
method = "forward_kl"
teacher = "teacher"
epochs = 400
"#;

/// Sentences of a few words, in an order a fixed generator picks.
fn small_text() -> String {
    const WORDS: [&str; 8] = ["the", "king", "speaks", "to", "his", "lord", "and", "night"];
    let mut state: u64 = 11;
    let mut text = String::new();
    while text.len() < 12_000 {
        for w in 0..5 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            text.push_str(WORDS[(state >> 61) as usize]);
            text.push_str(if w == 4 { ".\n" } else { " " });
        }
    }
    text
}

/// Draws one view of `history` (a recorded run) alone, at 1024×700.
fn draw_view(history: &RunHistory, title: &str) -> Harness<'static> {
    let history = history.clone();
    let mut view = kdlab::ui::views::registry().into_iter().find(|v| v.info().title == title).expect("the view");
    let mut settings = kdlab::ui::settings::Settings::default();
    let mut selection = kdlab::ui::context::Selection::default();
    let mut actions = Vec::new();
    let mut harness = Harness::builder().with_size(egui::vec2(1024.0, 700.0)).build_ui(move |ui| {
        let run = kdlab::ui::context::OverlayRun {
            index: 0,
            label: "replayed",
            history: Some(&history),
            visible: true,
            group: None,
            color: 0,
            parent: None,
            parent_history: None,
            queued: None,
            sweep: None,
        };
        let mut context = kdlab::ui::context::ViewContext {
            history: Some(&history),
            runs: vec![run],
            current_run: 0,
            running: false,
            settings: &mut settings,
            selection: &mut selection,
            actions: &mut actions,
        };
        view.ui(ui, &mut context);
    });
    harness.run_steps(3);
    harness
}

/// `preset` (on the small text) written as `file` in a fresh folder `name` and run headless, and
/// the history its run folder reads back as.
fn run_small_lm(name: &str, file: &str, preset: &str) -> (PathBuf, RunHistory) {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("app_tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.txt"), small_text()).unwrap();
    let path = dir.join(file);
    std::fs::write(&path, preset).unwrap();
    let out = dir.join("out");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_kdlab"))
        .arg("run")
        .arg(&path)
        .args(["--device", "cpu", "--no-cache", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut history = RunHistory::default();
    for event in kdlab::record::past::read_run(&out).expect("the run folder reads back") {
        history.apply(event);
    }
    (path, history)
}

/// The language-model views on a recorded run (what `kdlab run` wrote) and on a live one: the
/// prompt strip and next-character bars, the samples scored by the teacher, the transformer's
/// attention; a prompt typed in the Next token view reaches the engine, which probes at once.
#[test]
fn language_model_views_show_a_replayed_and_a_live_run() {
    let (preset, history) = run_small_lm("lm_run", "small_lm.toml", &SMALL_LM.replace("epochs = 400", "epochs = 1"));
    let text = history.stages[1].probe.as_ref().and_then(|p| p.text.clone()).expect("the student's text probe");
    assert_eq!(text.samples.len(), 2, "the student's sample and the teacher's");
    assert!(text.samples.iter().all(|s| s.ids.len() == text.settings.length && s.scored_by == "teacher"));
    let vocabulary = &history.info.as_ref().unwrap().data.vocabulary;
    let prompt: String = text.prompt.iter().map(|&id| vocabulary[id as usize]).collect();
    assert!(small_text().contains(&prompt) && !prompt.contains('\n'), "a line of the test text: {prompt:?}");

    // Every view draws the language-model run (or says in one line why it has nothing for it).
    for view in kdlab::ui::views::registry() {
        let harness = draw_view(&history, view.info().title);
        assert!(harness.query_by_label_contains("No probe yet").is_none(), "{}", view.info().title);
    }
    draw_view(&history, "Soft targets").get_by_label_contains("are in the Next token view");
    draw_view(&history, "Relations").get_by_label_contains("No relations: a language model reads a stream of text");
    let next = draw_view(&history, "Next token");
    next.get_by_label_contains("KL(teacher || student)");
    next.get_by_label_contains("next character after");
    // At T = 1 and at the stage's own T (1 here as well): two columns of bars.
    assert_eq!(next.query_all_by_label("T = 1.00").count(), 2);
    next.get_by_label_contains("grey: the teacher · colour: the student");
    let samples = draw_view(&history, "Samples");
    samples.get_by_label_contains("student · scored by the teacher: mean log-probability");
    samples.get_by_label_contains("teacher · scored by the teacher");
    let attention = draw_view(&history, "Attention maps");
    attention.get_by_label_contains("queries (rows) attend to keys (columns)");
    attention.get_by_label("student − teacher");
    // The teacher has 2 heads in its last layer, the student 2 as well: the difference is drawn.
    assert!(attention.query_by_label_contains("no difference").is_none());

    // Live: a typed prompt is probed at once, its characters read by both models.
    let mut harness = harness();
    let live = preset.with_file_name("small_lm_live.toml");
    std::fs::write(&live, SMALL_LM).unwrap();
    open(&mut harness, &live);
    harness.get_by_label("Start").click();
    run_until(&mut harness, "the student's first probe", |h| {
        h.stages.get(1).and_then(|s| s.probe.as_ref()).is_some_and(|p| p.text.is_some())
    });
    show_tab(&mut harness, "Next token");
    set_field(&mut harness, "Prompt", "the lord speaks");
    harness.get_by_label("Read").click();
    run_until(&mut harness, "the probe of the typed prompt", |h| {
        h.stages[1].probe.as_ref().and_then(|p| p.text.as_ref()).is_some_and(|t| t.settings.prompt == "the lord speaks")
    });
    let run = history_of(&harness);
    let text = run.stages[1].probe.as_ref().and_then(|p| p.text.clone()).unwrap();
    let read: String = text.prompt.iter().map(|&id| run.info.as_ref().unwrap().data.vocabulary[id as usize]).collect();
    assert_eq!(read, "the lord speaks");
    assert_eq!(text.logits.len(), read.len() * text.vocabulary);
    harness.run_steps(3);
    harness.get_by_label_contains("15 characters read");
    harness.get_by_label("Stop").click();
    run_until(&mut harness, "the end of the live run", |h| h.finished);
}

fn history_of(harness: &Harness<'_, KdlabApp>) -> RunHistory {
    history(harness).clone()
}

/// A student trained with half its steps on its own samples (GKD's on-policy fraction): the run
/// folder keeps the last on-policy batch's windows — a prompt from the training text, then the
/// characters the student sampled, each scored by the teacher — and the Samples view shows them
/// under the probe's samples, as it shows the teacher's verdict on the probe's.
#[test]
fn the_samples_view_shows_the_students_on_policy_training_samples() {
    let on_policy = SMALL_LM.replace("epochs = 400", "epochs = 1\non_policy = 0.5\nsample_length = 6");
    let (_, history) = run_small_lm("lm_on_policy", "on_policy.toml", &on_policy);
    let text = history.stages[1].probe.as_ref().and_then(|p| p.text.clone()).expect("the student's text probe");
    assert_eq!(text.on_policy.len(), 3, "the batch's first three windows");
    let vocabulary = &history.info.as_ref().unwrap().data.vocabulary;
    let spell = |ids: &[u32]| ids.iter().map(|&id| vocabulary[id as usize]).collect::<String>();
    for sample in &text.on_policy {
        // Windows of 16 with the character after: 11 from the text, then 6 sampled.
        assert_eq!((sample.prompt.len(), sample.ids.len(), sample.log_probs.len()), (11, 6, 6));
        assert!(small_text().contains(&spell(&sample.prompt)), "a prompt from the text: {:?}", spell(&sample.prompt));
        assert!(sample.log_probs.iter().all(|v| v.is_finite() && *v <= 0.0), "{:?}", sample.log_probs);
    }
    let teacher_logprob = history.stages[1].series.get("teacher_logprob").map(|points| points.len());
    assert!(teacher_logprob.is_some_and(|n| n > 0), "teacher_logprob is recorded at each evaluation");
    // The teacher never trains on-policy: nothing of the kind in its probe.
    assert!(history.stages[0].probe.as_ref().and_then(|p| p.text.as_ref()).is_some_and(|t| t.on_policy.is_empty()));

    let samples = draw_view(&history, "Samples");
    let step = text.on_policy[0].step;
    samples.get_by_label_contains(&format!("On-policy training batch, step {step}: the student's own samples"));
    let mean = text.on_policy[0].log_probs.iter().map(|&v| f64::from(v)).sum::<f64>() / 6.0;
    samples.get_by_label(&format!("window 1 · mean log-probability {mean:.3} nats a character"));
    samples.get_by_label_contains("student · scored by the teacher: mean log-probability");
}
