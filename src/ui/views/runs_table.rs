//! The runs table, as W&B's run comparer: one row per run × stage with method, T, α,
//! parameters, final train and test accuracy, agreement with the teacher and wall time;
//! seed groups add a mean ± std row per stage. Columns sort on click; a chosen baseline row
//! gives every other row its test-accuracy delta; runs can be hidden from every overlay and
//! clicked to be followed by the per-run views.

use super::{Action, OverlayRun, ViewContext};
use crate::stats::{mean, sample_std};
use crate::ui::history::StageHistory;

const COLUMNS: [&str; 11] =
    ["run", "stage", "method", "T", "α", "params", "train acc", "test acc", "Δ test", "agreement", "time"];

/// One row: which run it belongs to (none for a group's mean), its baseline key and cells.
struct Row {
    run: Option<usize>,
    visible: Option<bool>,
    key: (String, String),
    cells: Vec<Cell>,
}

/// A cell's text and, for numeric columns, the value it sorts by.
struct Cell {
    text: String,
    value: Option<f64>,
}

fn text(text: impl Into<String>) -> Cell {
    Cell { text: text.into(), value: None }
}

fn number(value: Option<f64>, show: impl Fn(f64) -> String) -> Cell {
    Cell { text: value.map_or("-".into(), &show), value }
}

fn percent(value: Option<f64>) -> Cell {
    number(value, |v| format!("{:.2}%", 100.0 * v))
}

pub fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    if view.runs.is_empty() {
        ui.label("No run yet. Start a preset, or add runs with Compare in the controls.");
        return;
    }
    let mut rows = rows(&view.runs);
    let baseline = view.selection.baseline.clone();
    let baseline_value =
        baseline.as_ref().and_then(|key| rows.iter().find(|r| &r.key == key)).and_then(|r| r.cells[7].value);
    for row in &mut rows {
        let delta = row.cells[7].value.zip(baseline_value).map(|(v, b)| v - b);
        row.cells[8] = number(delta, |d| format!("{:+.2}", 100.0 * d));
    }
    let sort = view.selection.sort;
    if let Some((column, ascending)) = sort {
        rows.sort_by(|a, b| {
            let (x, y) = (&a.cells[column], &b.cells[column]);
            let order = match (x.value, y.value) {
                (Some(p), Some(q)) => p.total_cmp(&q),
                _ => x.text.cmp(&y.text),
            };
            if ascending { order } else { order.reverse() }
        });
    }
    ui.label("Click a header to sort, a run to follow it; the circle picks the baseline of Δ test.");
    report_buttons(ui, view);
    egui::ScrollArea::both().id_salt("runs_table").show(ui, |ui| {
        egui::Grid::new("runs_grid").striped(true).spacing([10.0, 4.0]).show(ui, |ui| {
            ui.label("show");
            for (index, title) in COLUMNS.iter().enumerate() {
                let arrow = match sort {
                    Some((column, true)) if column == index => " ^",
                    Some((column, false)) if column == index => " v",
                    _ => "",
                };
                if ui.button(format!("{title}{arrow}")).clicked() {
                    let ascending = !matches!(sort, Some((column, true)) if column == index);
                    view.selection.sort = Some((index, ascending));
                }
            }
            ui.label("baseline");
            ui.end_row();
            for row in &rows {
                row_ui(ui, view, row);
            }
        });
    });
}

/// "Write report" for each seed group, once all its runs have finished.
fn report_buttons(ui: &mut egui::Ui, view: &mut ViewContext) {
    let mut groups: Vec<(usize, &str)> = view.runs.iter().filter_map(|r| r.group.map(|g| (g, r.label))).collect();
    groups.dedup_by_key(|(g, _)| *g);
    for (group, label) in groups {
        let members: Vec<&OverlayRun> = view.runs.iter().filter(|r| r.group == Some(group)).collect();
        let done = members.len() > 1 && members.iter().all(|m| m.history.finished);
        let name = label.rsplit_once(" seed").map_or(label, |(l, _)| l);
        let button = ui.add_enabled(done, egui::Button::new(format!("Write report: {name} ({} seeds)", members.len())));
        if button.on_hover_text("report.md with mean ± std per stage and the curves, in the export folder").clicked() {
            view.actions.push(Action::WriteReport(group));
        }
    }
}

fn row_ui(ui: &mut egui::Ui, view: &mut ViewContext, row: &Row) {
    match (row.run, row.visible) {
        (Some(run), Some(visible)) => {
            let mut shown = visible;
            if ui.checkbox(&mut shown, "").on_hover_text("Show this run in the overlays").changed() {
                view.actions.push(Action::ShowRun(run, shown));
            }
        }
        _ => {
            ui.label("");
        }
    }
    for (index, cell) in row.cells.iter().enumerate() {
        if index == 0
            && let Some(run) = row.run
        {
            let followed = run == view.current_run;
            if ui.selectable_label(followed, &cell.text).clicked() {
                view.actions.push(Action::FollowRun(run));
            }
        } else {
            ui.label(&cell.text);
        }
    }
    let chosen = view.selection.baseline.as_ref() == Some(&row.key);
    if ui.radio(chosen, "").on_hover_text("Baseline for Δ test").clicked() {
        view.selection.baseline = if chosen { None } else { Some(row.key.clone()) };
    }
    ui.end_row();
}

/// A row per run × stage, then a mean ± std row per stage of each seed group.
fn rows(runs: &[OverlayRun]) -> Vec<Row> {
    let mut rows = Vec::new();
    for run in runs {
        for stage in &run.history.stages {
            let outcome = stage.outcome.as_ref();
            let params = outcome.map(|o| o.params).or(stage.start.as_ref().map(|s| s.params));
            rows.push(Row {
                run: Some(run.index),
                visible: Some(run.visible),
                key: (run.label.to_string(), stage.name.clone()),
                cells: vec![
                    text(run.label),
                    text(&stage.name),
                    text(stage.method),
                    number(stage.temperature, |t| format!("{t:.2}")),
                    number(stage.alpha, |a| format!("{a:.2}")),
                    number(params.map(|p| p as f64), |p| format!("{p:.0}")),
                    percent(outcome.and_then(|o| o.train_accuracy)),
                    percent(final_test_accuracy(stage)),
                    text(""),
                    percent(outcome.and_then(|o| o.agreement_with_teacher)),
                    number(outcome.map(|o| o.wall_seconds), |s| format!("{s:.1} s")),
                ],
            });
        }
    }
    rows.extend(group_rows(runs));
    rows
}

/// The stage's final test accuracy, or its latest while it trains.
fn final_test_accuracy(stage: &StageHistory) -> Option<f64> {
    stage
        .outcome
        .as_ref()
        .and_then(|o| o.test_accuracy)
        .or_else(|| stage.series.get("test_accuracy").and_then(|s| s.last()).map(|p| p[1]))
}

fn group_rows(runs: &[OverlayRun]) -> Vec<Row> {
    let mut groups: Vec<usize> = runs.iter().filter_map(|r| r.group).collect();
    groups.dedup();
    let mut rows = Vec::new();
    for group in groups {
        let members: Vec<&OverlayRun> = runs.iter().filter(|r| r.group == Some(group)).collect();
        // A spread needs two runs; until the second starts the member's own rows say it all.
        let (Some(first), true) = (members.first(), members.len() > 1) else { continue };
        let label =
            format!("{} (mean of {})", first.label.rsplit_once(" seed").map_or(first.label, |(l, _)| l), members.len());
        for (index, stage) in first.history.stages.iter().enumerate() {
            let finished = |pick: fn(&crate::train::StageOutcome) -> Option<f64>| -> Vec<f64> {
                members.iter().filter_map(|m| m.history.stages.get(index)?.outcome.as_ref().and_then(pick)).collect()
            };
            let (test, train) = (finished(|o| o.test_accuracy), finished(|o| o.train_accuracy));
            rows.push(Row {
                run: None,
                visible: None,
                key: (label.clone(), stage.name.clone()),
                cells: vec![
                    text(&label),
                    text(&stage.name),
                    text(stage.method),
                    number(stage.temperature, |t| format!("{t:.2}")),
                    number(stage.alpha, |a| format!("{a:.2}")),
                    text(""),
                    mean_std(&train),
                    mean_std(&test),
                    text(""),
                    text(""),
                    text(format!("{} of {} done", test.len(), members.len())),
                ],
            });
        }
    }
    rows
}

/// `mean% ± std` (sample std) of the finished members, sorting by the mean.
fn mean_std(values: &[f64]) -> Cell {
    if values.is_empty() {
        return text("-");
    }
    let (mean, std) = (mean(values), sample_std(values));
    Cell { text: format!("{:.2}% ± {:.2}", 100.0 * mean, 100.0 * std), value: Some(mean) }
}
