//! Fuzzing `kdlab run` as a careless user and a broken disk would: presets with numbers pushed
//! to extremes, values of the wrong type, lines deleted or repeated and stray table headers;
//! CSV and IDX files with bytes flipped, dropped, added or cut. Whatever the input, kdlab must
//! end with an error message or a finished run: no panic, no abort, no memory beyond a limit
//! (each run is confined to `MEMORY_LIMIT` of address space, so an allocation a size check
//! missed aborts it and fails the test).
//!
//! proptest generates the cases (a fixed number per CI run) and keeps every failing one in
//! `tests/fuzz.proptest-regressions`, replayed first on every later run.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Address space each run may use: kdlab's own limit is half of it.
const MEMORY_LIMIT: u64 = 4 << 30;
/// A run still training after this long is stopped: it neither crashed nor ran out of memory
/// (a mutation can ask for billions of epochs).
const RUN_TIME_LIMIT: Duration = Duration::from_secs(8);

const MOONS: &str = r#"name = "fuzz"
description = "moons, two stages and an ensemble"
[data]
dataset = "moons"
samples = 80
noise = 0.2
test_fraction = 0.25
[train]
epochs = 1
batch_size = 16
learning_rate = 0.01
metric_interval = 2
[models.teacher]
arch = "mlp"
hidden = [16, 8]
[models.student]
arch = "mlp"
hidden = [4]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
[[stages]]
name = "student"
model = "student"
method = "kd"
teacher = "teacher"
temperature = 4.0
alpha = 0.9
[[ensembles]]
name = "both"
members = ["teacher", "student"]
"#;

const CSV_PRESET: &str = r#"name = "fuzz_csv"
[data]
csv = "table.csv"
label_column = "label"
[train]
epochs = 1
batch_size = 8
[models.m]
arch = "mlp"
hidden = [8]
[[stages]]
name = "m"
model = "m"
method = "scratch"
[[stages]]
name = "rkd"
model = "m"
method = "rkd"
teacher = "m"
"#;

const IDX_PRESET: &str = r#"name = "fuzz_idx"
[data]
idx_dir = "idx"
[train]
epochs = 1
batch_size = 8
[models.cnn]
arch = "cnn"
channels = [4, 4]
hidden = [8]
[[stages]]
name = "cnn"
model = "cnn"
method = "scratch"
[[stages]]
name = "at"
model = "cnn"
method = "at"
teacher = "cnn"
"#;

/// Values a number may be replaced with.
const EXTREMES: [&str; 14] = [
    "0",
    "-1",
    "1",
    "64",
    "2147483648",
    "9223372036854775807",
    "-9223372036854775808",
    "1e308",
    "-1e308",
    "1e-308",
    "nan",
    "inf",
    "0.5",
    "100000000",
];
/// Other things a value may become.
const WRONG_VALUES: [&str; 6] = ["\"x\"", "[1, 2]", "[]", "{ a = 1 }", "true", ""];
/// Headers a line may be preceded by.
const STRAY_HEADERS: [&str; 6] = ["[train]", "[data]", "[[stages]]", "[models.teacher]", "[[ensembles]]", "[x.y]"];

/// One edit of a preset's text.
#[derive(Debug, Clone)]
enum PresetEdit {
    Extreme(Index, Index),
    WrongValue(Index, Index),
    LongList(Index, Index),
    DeleteLine(Index),
    DuplicateLine(Index),
    StrayHeader(Index, Index),
}

fn preset_edit() -> impl Strategy<Value = PresetEdit> {
    prop_oneof![
        6 => (any::<Index>(), any::<Index>()).prop_map(|(l, v)| PresetEdit::Extreme(l, v)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(l, v)| PresetEdit::WrongValue(l, v)),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(l, n)| PresetEdit::LongList(l, n)),
        1 => any::<Index>().prop_map(PresetEdit::DeleteLine),
        1 => any::<Index>().prop_map(PresetEdit::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(l, h)| PresetEdit::StrayHeader(l, h)),
    ]
}

fn apply_preset_edit(text: &str, edit: &PresetEdit) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let assignments: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
    let replace_value = |line: &str, value: &str| match line.split_once(" = ") {
        Some((key, _)) => format!("{key} = {value}"),
        None => line.to_string(),
    };
    match edit {
        PresetEdit::Extreme(line, value) => {
            // One number of a numeric value (an element, in a list) becomes an extreme.
            let numeric: Vec<usize> = assignments
                .iter()
                .copied()
                .filter(|&i| lines[i].split_once(" = ").is_some_and(|(_, v)| v.contains(|c: char| c.is_ascii_digit())))
                .collect();
            let candidates = if numeric.is_empty() { &assignments } else { &numeric };
            let at = candidates[line.index(candidates.len())];
            let extreme = EXTREMES[value.index(EXTREMES.len())];
            let (key, old) = lines[at].split_once(" = ").unwrap_or(("", ""));
            let numbers: Vec<&str> = old.split([',', '[', ']', ' ']).filter(|t| t.parse::<f64>().is_ok()).collect();
            lines[at] = match numbers.get(value.index(numbers.len().max(1))) {
                Some(number) => format!("{key} = {}", old.replacen(number, extreme, 1)),
                None => replace_value(&lines[at], extreme),
            };
        }
        PresetEdit::LongList(line, length) => {
            let at = assignments[line.index(assignments.len())];
            let length = [2, 8, 64, 1000][length.index(4)];
            lines[at] = replace_value(&lines[at], &format!("[{}]", vec!["4"; length].join(", ")));
        }
        PresetEdit::WrongValue(line, value) => {
            let at = assignments[line.index(assignments.len())];
            lines[at] = replace_value(&lines[at], WRONG_VALUES[value.index(WRONG_VALUES.len())]);
        }
        PresetEdit::DeleteLine(line) => {
            lines.remove(line.index(lines.len()));
        }
        PresetEdit::DuplicateLine(line) => {
            let at = line.index(lines.len());
            lines.insert(at, lines[at].clone());
        }
        PresetEdit::StrayHeader(line, header) => {
            lines.insert(line.index(lines.len()), STRAY_HEADERS[header.index(STRAY_HEADERS.len())].to_string());
        }
    }
    lines.join("\n") + "\n"
}

/// One edit of a file's bytes.
#[derive(Debug, Clone)]
enum ByteEdit {
    /// Set the byte at a position (the first 24 bytes half the time: headers matter most).
    Set(Index, bool, u8),
    Delete(Index),
    Insert(Index, u8),
    Truncate(Index),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        4 => (any::<Index>(), any::<bool>(), any::<u8>()).prop_map(|(i, h, b)| ByteEdit::Set(i, h, b)),
        1 => any::<Index>().prop_map(ByteEdit::Delete),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
    ]
}

fn apply_byte_edit(bytes: &mut Vec<u8>, edit: &ByteEdit) {
    if bytes.is_empty() {
        return;
    }
    match edit {
        ByteEdit::Set(at, in_header, value) => {
            let span = if *in_header { bytes.len().min(24) } else { bytes.len() };
            bytes[at.index(span)] = *value;
        }
        ByteEdit::Delete(at) => {
            bytes.remove(at.index(bytes.len()));
        }
        ByteEdit::Insert(at, value) => bytes.insert(at.index(bytes.len()), *value),
        ByteEdit::Truncate(at) => bytes.truncate(at.index(bytes.len())),
    }
}

fn csv_table() -> Vec<u8> {
    let mut text = String::from("x,y,z,label\n");
    for i in 0..40 {
        let label = ["cat", "dog", "owl"][i % 3];
        text += &format!("{:.2},{:.2},{:.2},{label}\n", (i % 7) as f32 * 0.3, (i % 5) as f32 * 0.7, i as f32 * 0.01);
    }
    text.into_bytes()
}

/// The four files of an IDX folder (6×6 images, three classes), by name.
fn idx_files() -> Vec<(&'static str, Vec<u8>)> {
    let header = |magic: u32, dims: &[u32]| {
        let mut bytes = magic.to_be_bytes().to_vec();
        dims.iter().for_each(|d| bytes.extend(d.to_be_bytes()));
        bytes
    };
    let mut files = Vec::new();
    for (prefix, count) in [("train", 30u32), ("t10k", 12)] {
        let mut images = header(0x803, &[count, 6, 6]);
        let mut labels = header(0x801, &[count]);
        for i in 0..count {
            images.extend((0..36).map(|p| ((i * 11 + p * 5) % 256) as u8));
            labels.push((i % 3) as u8);
        }
        files.push((if prefix == "train" { "train-images-idx3-ubyte" } else { "t10k-images-idx3-ubyte" }, images));
        files.push((if prefix == "train" { "train-labels-idx1-ubyte" } else { "t10k-labels-idx1-ubyte" }, labels));
    }
    files
}

/// A fresh folder for one case.
fn case_dir(group: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("fuzz")
        .join(format!("{group}-{}", NEXT.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `kdlab run preset.toml` in `dir` under the memory limit; an error describing the crash,
/// if it crashed.
fn runs_without_crashing(dir: &Path) -> Result<(), String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kdlab"));
    command
        .current_dir(dir)
        .args(["run", "preset.toml", "--device", "cpu", "--no-cache", "--out", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    limit_memory(&mut command);
    let mut child = command.spawn().map_err(|e| e.to_string())?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break Some(status);
        }
        if started.elapsed() > RUN_TIME_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    let preset = std::fs::read_to_string(dir.join("preset.toml")).unwrap_or_default();
    let Some(status) = status else { return Ok(()) };
    let crashed = stderr.contains("panicked") || !matches!(status.code(), Some(0..=3));
    if crashed {
        return Err(format!("{status} in {}\nstderr: {stderr}\npreset:\n{preset}", dir.display()));
    }
    if !status.success() && stderr.trim().is_empty() {
        return Err(format!("{status} without a message in {}", dir.display()));
    }
    Ok(())
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_memory(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe, the only call made between fork and exec.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: MEMORY_LIMIT, rlim_max: MEMORY_LIMIT };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_memory(_command: &mut Command) {}

/// Cases per test and CI run (`PROPTEST_CASES` overrides it, for a longer hunt by hand).
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(200);
    Config {
        cases,
        // Each case is a process; shrinking a failure this many steps is enough to read it.
        max_shrink_iters: 64,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel("proptest-regressions"))),
        ..Config::default()
    }
}

/// Writes the unmutated inputs of every group into `dir`.
fn write_inputs(dir: &Path) {
    std::fs::write(dir.join("table.csv"), csv_table()).unwrap();
    std::fs::create_dir_all(dir.join("idx")).unwrap();
    for (name, bytes) in idx_files() {
        std::fs::write(dir.join("idx").join(name), bytes).unwrap();
    }
}

/// The inputs the mutations start from train to the end: the fuzz starts from runs that work.
#[test]
fn the_unmutated_inputs_train() {
    for (index, preset) in [MOONS, CSV_PRESET, IDX_PRESET].iter().enumerate() {
        let dir = case_dir("base");
        write_inputs(&dir);
        std::fs::write(dir.join("preset.toml"), preset).unwrap();
        runs_without_crashing(&dir).unwrap();
        assert!(dir.join("out/summary.json").is_file(), "base preset {index} finished");
    }
}

proptest! {
    #![proptest_config(config())]
    #[test]
    fn mutated_presets_never_crash(base in 0usize..3, edits in prop::collection::vec(preset_edit(), 1..4)) {
        let dir = case_dir("preset");
        let text = [MOONS, CSV_PRESET, IDX_PRESET][base];
        let mutated = edits.iter().fold(text.to_string(), |text, edit| apply_preset_edit(&text, edit));
        std::fs::write(dir.join("preset.toml"), mutated).unwrap();
        write_inputs(&dir);
        runs_without_crashing(&dir).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_csv_files_never_crash(edits in prop::collection::vec(byte_edit(), 1..6)) {
        let dir = case_dir("csv");
        let mut bytes = csv_table();
        edits.iter().for_each(|edit| apply_byte_edit(&mut bytes, edit));
        std::fs::write(dir.join("table.csv"), bytes).unwrap();
        std::fs::write(dir.join("preset.toml"), CSV_PRESET).unwrap();
        runs_without_crashing(&dir).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn mutated_idx_files_never_crash(file in 0usize..4, edits in prop::collection::vec(byte_edit(), 1..6)) {
        let dir = case_dir("idx");
        std::fs::create_dir_all(dir.join("idx")).unwrap();
        for (index, (name, mut bytes)) in idx_files().into_iter().enumerate() {
            if index == file {
                edits.iter().for_each(|edit| apply_byte_edit(&mut bytes, edit));
            }
            std::fs::write(dir.join("idx").join(name), bytes).unwrap();
        }
        std::fs::write(dir.join("preset.toml"), IDX_PRESET).unwrap();
        runs_without_crashing(&dir).map_err(TestCaseError::fail)?;
    }
}
