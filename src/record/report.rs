//! Reproduction reports: a preset trained over several seeds, summarised as `report.md` with
//! the preset's claim, test accuracy mean ± std per stage (and every seed's value), for
//! language models also each stage's final bits per character, entropy and both KLs, and the
//! curves — mean over seeds with a ±1 std band — as SVG and PNG files the report links.

use crate::export::ExportError;
use crate::export::png::svg_to_png;
use crate::export::svg::{PlotSeries, PlotSpec, palette};
use crate::protocol::metric;
use crate::record::Summary;
use crate::stats::{mean, mean_band, sample_std};
use crate::train::MetricPoint;
use std::fmt::Write;
use std::path::Path;

/// One seed's run.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub seed: u64,
    pub summary: Summary,
    pub metrics: Vec<MetricPoint>,
}

/// A stage's test accuracy over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStats {
    pub name: String,
    pub(crate) method: String,
    /// One value per seed that finished the stage, in seed order.
    pub(crate) values: Vec<f64>,
}

impl StageStats {
    pub fn mean(&self) -> f64 {
        mean(&self.values)
    }

    /// Sample standard deviation (n − 1); 0 for a single seed.
    pub fn std(&self) -> f64 {
        sample_std(&self.values)
    }
}

/// Test accuracy per stage over the seeds, in the preset's stage order.
pub fn stage_stats(runs: &[SeedRun]) -> Vec<StageStats> {
    let Some(first) = runs.first() else { return Vec::new() };
    first
        .summary
        .stages
        .iter()
        .map(|stage| StageStats {
            name: stage.name.clone(),
            method: stage.method.to_string(),
            values: runs
                .iter()
                .filter_map(|run| run.summary.stages.iter().find(|s| s.name == stage.name))
                .filter_map(|s| s.test_accuracy)
                .collect(),
        })
        .collect()
}

/// `metric` of every stage: the mean over seeds at each step, with a ±1 std band.
pub(crate) fn curve(runs: &[SeedRun], metric: &str, title: &str) -> PlotSpec {
    let stages = runs.first().map(|r| r.summary.stages.clone()).unwrap_or_default();
    let series = stages
        .iter()
        .enumerate()
        .filter_map(|(index, stage)| {
            let points = runs.iter().flat_map(|run| {
                let position = run.summary.stages.iter().position(|s| s.name == stage.name);
                run.metrics
                    .iter()
                    .filter(move |p| Some(p.stage) == position && p.metric == metric)
                    .map(|p| (p.step, p.value))
            });
            let (points, band) = mean_band(points);
            if points.is_empty() {
                return None;
            }
            Some(PlotSeries {
                name: stage.name.clone(),
                color: palette(index),
                points,
                band: Some(band),
                dash: 0,
                ..Default::default()
            })
        })
        .collect();
    PlotSpec {
        title: title.to_string(),
        x_label: "step".into(),
        y_label: metric.into(),
        series,
        log_y: false,
        log_x: false,
        ..Default::default()
    }
}

/// The language-model metrics a report tabulates at each stage's end: `(metric, column)`.
const TEXT_COLUMNS: [(&str, &str); 4] = [
    (metric::BITS_PER_CHARACTER, "test bits per character"),
    (metric::ENTROPY, "entropy (nats)"),
    (metric::KL_TEACHER_STUDENT, "KL(teacher ‖ student)"),
    (metric::KL_STUDENT_TEACHER, "KL(student ‖ teacher)"),
];

/// `metric`'s value at the last step it was measured in the stage named `stage` of `run`.
fn final_value(run: &SeedRun, stage: &str, metric: &str) -> Option<f64> {
    let index = run.summary.stages.iter().position(|s| s.name == stage)?;
    run.metrics.iter().filter(|p| p.stage == index && p.metric == metric).max_by_key(|p| p.step).map(|p| p.value)
}

/// The language-model table (`None` when no stage measured bits per character): per stage,
/// each of [`TEXT_COLUMNS`] as mean ± std over the seeds that measured it, `—` where none did.
fn text_table(runs: &[SeedRun]) -> Option<String> {
    let stages = runs.first().map(|r| r.summary.stages.clone()).unwrap_or_default();
    let measured = |stage: &str, metric: &str| -> Vec<f64> {
        runs.iter().filter_map(|run| final_value(run, stage, metric)).collect()
    };
    if stages.iter().all(|s| measured(&s.name, metric::BITS_PER_CHARACTER).is_empty()) {
        return None;
    }
    let titles: Vec<&str> = TEXT_COLUMNS.iter().map(|(_, title)| *title).collect();
    let mut text = format!("| stage | method | {} |\n|{}\n", titles.join(" | "), " --- |".repeat(titles.len() + 2));
    for stage in &stages {
        let cells: Vec<String> = TEXT_COLUMNS
            .iter()
            .map(|(metric, _)| match measured(&stage.name, metric) {
                values if values.is_empty() => "—".to_string(),
                values => format!("{:.3} ± {:.3}", mean(&values), sample_std(&values)),
            })
            .collect();
        let _ = writeln!(text, "| {} | {} | {} |", stage.name, stage.method, cells.join(" | "));
    }
    Some(text)
}

/// The plots a report draws: `(file stem, metric, title)`.
const PLOTS: [(&str, &str, &str); 2] =
    [("test_accuracy", "test_accuracy", "test accuracy"), ("loss", "loss", "training loss")];

/// A plot's title: with several runs it says what the band is.
fn title(base: &str, runs: &[SeedRun]) -> String {
    if runs.len() > 1 { format!("{base}, mean ± 1 std over {} seeds", runs.len()) } else { base.to_string() }
}

/// Writes the test-accuracy and loss curves (mean ± 1 std over the runs) as SVG and PNG.
pub(crate) fn write_plots(dir: &Path, runs: &[SeedRun]) -> Result<(), ExportError> {
    let [width, height] = crate::export::data::PLOT_SIZE;
    for (stem, metric, base) in PLOTS {
        let svg = curve(runs, metric, &title(base, runs)).to_svg(width, height);
        let svg_path = dir.join(format!("{stem}.svg"));
        std::fs::write(&svg_path, &svg).map_err(|e| ExportError::io(&svg_path, e))?;
        let png_path = dir.join(format!("{stem}.png"));
        std::fs::write(&png_path, svg_to_png(&svg, 2.0)?).map_err(|e| ExportError::io(&png_path, e))?;
    }
    Ok(())
}

/// Writes `report.md` and the linked plots into `dir`.
pub fn write_report(
    dir: &Path,
    preset_name: &str,
    description: &str,
    device: &str,
    runs: &[SeedRun],
) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    let mut text = String::new();
    let seeds: Vec<String> = runs.iter().map(|r| r.seed.to_string()).collect();
    let _ = writeln!(text, "# Reproduction report: {preset_name}\n");
    if !description.trim().is_empty() {
        let _ = writeln!(text, "> {}\n", description.trim().replace('\n', "\n> "));
    }
    let _ = writeln!(text, "Seeds {} on {device}; test accuracy over the seeds (sample std):\n", seeds.join(", "));
    let _ = writeln!(text, "| stage | method | test accuracy (mean ± std) | per seed |");
    let _ = writeln!(text, "| --- | --- | --- | --- |");
    for stats in stage_stats(runs) {
        let each: Vec<String> = stats.values.iter().map(|v| format!("{:.2}%", 100.0 * v)).collect();
        let _ = writeln!(
            text,
            "| {} | {} | {:.2}% ± {:.2} | {} |",
            stats.name,
            stats.method,
            100.0 * stats.mean(),
            100.0 * stats.std(),
            each.join(", ")
        );
    }
    text.push('\n');
    if let Some(table) = text_table(runs) {
        let _ = writeln!(
            text,
            "Language-model metrics on the test text at each stage's end (mean ± sample std over the seeds):\n\n{table}"
        );
    }
    write_plots(dir, runs)?;
    for (stem, _, base) in PLOTS {
        let title = title(base, runs);
        let _ = writeln!(text, "## {title}\n\n![{title}]({stem}.png)\n\n[SVG]({stem}.svg)\n");
    }
    let folders: Vec<String> = runs
        .iter()
        .map(|r| format!("seed-{}", r.seed))
        .filter(|folder| dir.join(folder).join("summary.json").exists())
        .map(|folder| format!("[{folder}/]({folder}/)"))
        .collect();
    if !folders.is_empty() {
        let _ =
            writeln!(text, "Each seed's run folder (config.toml, metrics.csv, summary.json): {}", folders.join(", "));
    }
    let report = dir.join("report.md");
    std::fs::write(&report, text).map_err(|e| ExportError::io(&report, e))
}
