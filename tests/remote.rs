//! `kdlab serve` and `--device remote:ws://…` end to end on this machine: a flex server on
//! loopback, clients with the right token, a wrong one, none answering, and a server that dies
//! mid-run.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRESET: &str = r#"
name = "remote"
[data]
dataset = "moons"
samples = 300
[train]
batch_size = 32
epochs = 8
metric_interval = 5
[models.teacher]
arch = "mlp"
hidden = [16, 16]
[models.student]
arch = "mlp"
hidden = [8]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
[[stages]]
name = "student"
model = "student"
method = "kd"
teacher = "teacher"
"#;

fn kdlab() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kdlab"));
    command.env_remove("KDLAB_REMOTE_TOKEN").env("KDLAB_CACHE_DIR", scratch("cache"));
    command
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("remote_tests").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `kdlab serve`, killed when dropped; its log collected as it comes.
struct Server {
    child: Child,
    port: u16,
    token_file: PathBuf,
    log: Arc<Mutex<String>>,
    /// The `--device` value the server says reaches it.
    device: String,
}

impl Server {
    /// A WebSocket server on a free loopback port.
    fn start(name: &str) -> Server {
        let port = free_port();
        Server::start_with(name, port, &["--listen", &format!("ws://127.0.0.1:{port}")])
    }

    fn start_with(name: &str, port: u16, listen: &[&str]) -> Server {
        let dir = scratch(name);
        let token_file = dir.join("token");
        let _ = std::fs::remove_file(&token_file);
        let mut child = kdlab()
            .arg("serve")
            .args(listen)
            .arg("--token-file")
            .arg(&token_file)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        });
        let mut server = Server { child, port, token_file, log, device: String::new() };
        server.wait_for_log("for clients of --device ");
        let log = server.log();
        let named =
            log.split("for clients of --device ").nth(1).and_then(|rest| rest.lines().next()).unwrap_or_default();
        server.device = named.trim().replace("HOST", "127.0.0.1");
        server
    }

    fn device(&self) -> String {
        self.device.clone()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.log().contains(text) {
            assert!(Instant::now() < deadline, "the server never logged {text:?}: {}", self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(preset: &Path, device: &str, out: &Path, extra: &[&str]) -> Output {
    kdlab()
        .arg("run")
        .arg(preset)
        .args(["--device", device, "--no-cache", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

/// Waits until a run folder's metrics.csv has `rows` lines.
fn wait_for_rows(out: &Path, rows: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(out.join("metrics.csv")).map_or(0, |m| m.lines().count()) < rows {
        assert!(Instant::now() < deadline, "no metrics arrived in {}", out.display());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn accuracies(out: &Path) -> Vec<f64> {
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    summary["stages"].as_array().unwrap().iter().map(|s| s["test_accuracy"].as_f64().unwrap()).collect()
}

/// The moons preset trained on `server` and on local flex: each stage's test accuracy both ways.
fn remote_and_local(server: &Server, name: &str) -> (Vec<f64>, Vec<f64>) {
    let dir = scratch(name);
    let preset = dir.join("moons.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let token = server.token_file.to_str().unwrap().to_string();
    for (device, out, extra) in
        [(server.device(), "remote", vec!["--token-file", &token]), ("cpu".into(), "local", vec![])]
    {
        let output = run(&preset, &device, &dir.join(out), &extra);
        assert!(output.status.success(), "{device}: {}", text(&output.stderr));
    }
    (accuracies(&dir.join("remote")), accuracies(&dir.join("local")))
}

#[test]
fn a_preset_trains_on_a_served_device_as_it_does_locally() {
    let server = Server::start("serve_ok");
    let dir = scratch("serve_ok");
    let (remote, local) = remote_and_local(&server, "serve_ok");
    assert_eq!(remote.len(), local.len());
    for (r, l) in remote.iter().zip(&local) {
        assert!((r - l).abs() <= 0.05, "remote {remote:?} vs local {local:?}");
    }
    let summary = std::fs::read_to_string(dir.join("remote/summary.json")).unwrap();
    assert!(summary.contains(&server.device()), "summary.json names the remote device: {summary}");
    assert!(server.log().contains("WebSocket client 127.0.0.1:"), "the server logs the connection: {}", server.log());
}

#[test]
fn a_wrong_token_a_missing_server_and_a_dying_one_say_so() {
    let server = Server::start("serve_faults");
    let dir = scratch("serve_faults");
    let preset = dir.join("moons.toml");
    std::fs::write(&preset, PRESET.replace("epochs = 8", "epochs = 100000")).unwrap();

    // A wrong token: exit 2, one line, and the server logs the refusal with the client's address.
    let wrong = kdlab()
        .env("KDLAB_REMOTE_TOKEN", "not-the-token")
        .arg("run")
        .arg(&preset)
        .args(["--device", &server.device(), "--no-cache", "--out"])
        .arg(dir.join("wrong"))
        .output()
        .unwrap();
    let stderr = text(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("refused the token"), "{stderr}");
    server.wait_for_log("refused: WebSocket client 127.0.0.1:");

    // No server: one line within 10 s.
    let started = Instant::now();
    let token = server.token_file.to_str().unwrap().to_string();
    let nobody =
        run(&preset, &format!("remote:ws://127.0.0.1:{}", free_port()), &dir.join("nobody"), &["--token-file", &token]);
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let stderr = text(&nobody.stderr);
    assert!(!nobody.status.success() && stderr.contains("no server answered"), "{stderr}");

    // A client that disappears mid-run (killed) leaves the server serving the next one.
    let vanishing = dir.join("vanishing");
    let _ = std::fs::remove_dir_all(&vanishing);
    let mut client = kdlab()
        .arg("run")
        .arg(&preset)
        .args(["--device", &server.device(), "--no-cache", "--token-file", &token, "--out"])
        .arg(&vanishing)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_rows(&vanishing, 10);
    client.kill().unwrap();
    client.wait().unwrap();
    let short = dir.join("short.toml");
    std::fs::write(&short, PRESET).unwrap();
    let next = run(&short, &server.device(), &dir.join("next"), &["--token-file", &token]);
    assert!(next.status.success(), "the server outlives a vanished client: {} / {}", text(&next.stderr), server.log());

    // The server dies mid-run: exit 1, "remote device lost at step N", metrics.csv rows whole.
    let out = dir.join("dying");
    let _ = std::fs::remove_dir_all(&out);
    let mut client = kdlab()
        .arg("run")
        .arg(&preset)
        .args(["--device", &server.device(), "--no-cache", "--token-file", &token, "--out"])
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_rows(&out, 10);
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = client.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the client hung after its server died");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    client.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("remote device lost at step"), "{stderr}");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let fields = metrics.lines().next().unwrap().split(',').count();
    assert!(
        metrics.ends_with('\n') && metrics.lines().all(|l| l.split(',').count() == fields),
        "whole rows: {metrics}"
    );
}

/// The app's device picker reaches a served device: *remote…*, the server's address and the
/// token file; the run trains there and says so; when the server dies mid-run the app shows
/// `remote device lost at step N` and keeps what the run recorded.
#[test]
fn the_app_trains_on_a_served_device_and_shows_when_it_is_lost() {
    use egui_kittest::kittest::Queryable;
    let server = Server::start("app_remote");
    assert_eq!(server.device(), format!("remote:ws://127.0.0.1:{}", server.port));
    let dir = scratch("app_remote");
    let preset = dir.join("moons_app.toml");
    std::fs::write(&preset, PRESET.replace("epochs = 8", "epochs = 100000")).unwrap();
    // SAFETY: set before any engine thread of this test starts.
    unsafe { std::env::set_var("KDLAB_CACHE_DIR", scratch("cache")) };
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|cc| kdlab::ui::KdlabApp::new(cc));
    let type_into = |harness: &mut egui_kittest::Harness<'_, kdlab::ui::KdlabApp>, label: &str, text: &str| {
        harness.get_by_label(label).focus();
        harness.run_steps(1);
        harness.get_by_label(label).type_text(text);
        harness.run_steps(2);
    };
    type_into(&mut harness, "Preset file", preset.to_str().unwrap());
    harness.get_by_label("Open…").click();
    harness.run_steps(2);
    harness.get_by_label("Device").click();
    harness.run_steps(2);
    harness.get_by_label("remote…").click();
    harness.run_steps(2);
    type_into(&mut harness, "Server", &format!("ws://127.0.0.1:{}", server.port));
    type_into(&mut harness, "Token file", server.token_file.to_str().unwrap());
    harness.get_by_label("Start").click();
    let history = |h: &egui_kittest::Harness<'_, kdlab::ui::KdlabApp>| h.state().session().map(|s| s.history.clone());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !history(&harness).is_some_and(|h| h.stages.first().is_some_and(|s| s.series.contains_key("test_accuracy"))) {
        assert!(Instant::now() < deadline, "no metrics from the remote run");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let device = history(&harness).and_then(|h| h.info.map(|i| i.device)).unwrap_or_default();
    assert_eq!(device, server.device(), "the run names its remote device");
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !history(&harness).is_some_and(|h| h.finished) {
        assert!(Instant::now() < deadline, "the app never learned its server died");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(3);
    let recorded = history(&harness).map_or(0, |h| h.stages.iter().map(|s| s.series.len()).sum::<usize>());
    assert!(recorded > 0, "what the run recorded is kept");
    assert!(harness.query_by_label_contains("remote device lost at step").is_some(), "a banner says so");
}

/// `kdlab report --seeds 3` over this machine's CPU and a served device: the seeds queue for
/// whichever device is free, every seed's run folder says where it ran, and the report has all
/// three.
#[test]
fn a_report_spreads_its_seeds_over_several_devices() {
    let server = Server::start("report_devices");
    let dir = scratch("report_devices");
    let preset = dir.join("moons.toml");
    std::fs::write(&preset, PRESET).unwrap();
    let out = dir.join("report");
    let _ = std::fs::remove_dir_all(&out);
    let token = server.token_file.to_str().unwrap().to_string();
    let output = kdlab()
        .arg("report")
        .arg(&preset)
        .args(["--seeds", "3", "--device", "cpu", "--device", &server.device(), "--token-file", &token, "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let devices: Vec<String> = (0..3)
        .map(|seed| {
            let summary: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(out.join(format!("seed-{seed}/summary.json"))).unwrap())
                    .unwrap();
            summary["device"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert!(devices.iter().all(|d| d == "flex (CPU)" || *d == server.device()), "{devices:?}");
    assert!(
        devices.contains(&server.device()) && devices.contains(&"flex (CPU)".to_string()),
        "both used: {devices:?}"
    );
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("Seeds 0, 1, 2"), "{report}");
    let once = kdlab().arg("run").arg(&preset).args(["--device", "cpu", "--device", "cpu"]).output().unwrap();
    assert_eq!(once.status.code(), Some(2), "run takes one device: {}", text(&once.stderr));
}

/// Over Iroh (authenticated, encrypted), direct connections only since this machine reaches no
/// relay: the server prints the id to dial and keeps it across restarts; a preset trains there
/// as it does locally.
#[test]
fn a_preset_trains_over_iroh() {
    let port = free_port();
    let server = Server::start_with("iroh", port, &["--port", &port.to_string(), "--no-relays"]);
    assert!(
        server.device().starts_with("remote:iroh:") && server.device().ends_with(&format!("@127.0.0.1:{port}")),
        "{}",
        server.device()
    );
    let (remote, local) = remote_and_local(&server, "iroh");
    assert_eq!(remote, local, "the same numbers over Iroh");
    assert!(server.log().contains("Iroh client"), "the server logs the connection: {}", server.log());
    let id = server.device();
    drop(server);
    let again = Server::start_with("iroh", port, &["--port", &port.to_string(), "--no-relays"]);
    assert_eq!(again.device(), id, "the same id after a restart");
}

/// The app's run pool as a list of devices: a sweep's two runs train at once, one on this
/// machine's CPU and one on a served device, each run naming where it ran.
#[test]
fn the_app_pool_spreads_runs_over_its_devices() {
    use egui_kittest::kittest::Queryable;
    let server = Server::start("app_pool");
    let dir = scratch("app_pool");
    let preset = dir.join("moons_pool.toml");
    std::fs::write(&preset, PRESET.replace("epochs = 8", "epochs = 60")).unwrap();
    // SAFETY: set before any engine thread of this test starts.
    unsafe { std::env::set_var("KDLAB_CACHE_DIR", scratch("cache")) };
    let mut harness = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 800.0))
        .build_eframe(|cc| kdlab::ui::KdlabApp::new(cc));
    let set = |harness: &mut egui_kittest::Harness<'_, kdlab::ui::KdlabApp>, label: &str, text: &str| {
        harness.get_by_label(label).focus();
        harness.run_steps(1);
        harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
        harness.run_steps(1);
        harness.get_by_label(label).type_text(text);
        harness.run_steps(2);
    };
    set(&mut harness, "Preset file", preset.to_str().unwrap());
    harness.get_by_label("Open…").click();
    harness.run_steps(2);
    set(&mut harness, "Run on", &format!("cpu, ws://127.0.0.1:{}", server.port));
    set(&mut harness, "Token file", server.token_file.to_str().unwrap());
    set(&mut harness, "Sweep key", "stages.student.temperature");
    set(&mut harness, "Values", "1, 8");
    harness.get_by_label("Queue sweep").click();
    let devices = |h: &egui_kittest::Harness<'_, kdlab::ui::KdlabApp>| -> Vec<String> {
        let runs = &h.state().runs().runs;
        runs.iter().filter_map(|r| r.history().and_then(|h| h.info.as_ref()).map(|i| i.device.clone())).collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while devices(&harness).len() < 2 {
        assert!(Instant::now() < deadline, "both runs never started: {:?}", devices(&harness));
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut started = devices(&harness);
    started.sort();
    assert_eq!(started, vec!["flex (CPU)".to_string(), server.device()], "one run per pool device");
}
