//! The runs table, as W&B's run comparer: one row per run × stage with method, T, α,
//! progress, parameters, final train and test accuracy, agreement with the teacher and wall
//! time; queued runs with their place in the queue; seed groups add a mean ± std row per stage
//! saying how many of their runs have finished. The run column stays put while the others
//! scroll; columns sort on click (numbers by value, text in natural order: T=4 before T=16); a
//! chosen baseline row gives every other row its test-accuracy delta; runs can be hidden from
//! every overlay and clicked to be followed by the per-run views. Every row is laid out by hand
//! at one fixed height in both halves, so a number always sits beside its run's name.

use crate::protocol::{ALPHA, TEMPERATURE, metric};
use crate::stats::{mean, sample_std};
use crate::ui::context::{Action, OverlayRun, ViewContext};
use crate::ui::history::{RunHistory, StageHistory};
use std::cmp::Ordering;

/// The columns right of the pinned run column.
const COLUMNS: [&str; 12] =
    ["stage", "method", "T", "α", "test acc", "Δ test", "progress", "agreement", "train acc", "params", "time", ""];
/// Cells of a row (every column but the baseline's radio button).
const CELLS: usize = COLUMNS.len() - 1;
const TEST: usize = 4;
const DELTA: usize = 5;
const PROGRESS: usize = 6;
/// Every row is exactly this high in both halves of the table, so they line up.
pub(crate) const ROW_HEIGHT: f32 = 22.0;
/// Space between a cell's text and the next column.
const CELL_GAP: f32 = 14.0;
/// The pinned column's show checkbox.
const CHECKBOX_WIDTH: f32 = 44.0;
/// The run column is at most this wide (longer names are cut, and shown whole on hover).
const MAX_RUN_WIDTH: f32 = 280.0;

/// One row: which run it belongs to (none for a group's mean), its baseline key and cells.
struct Row {
    run: Option<usize>,
    label: String,
    visible: Option<bool>,
    hint: String,
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

fn ui(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut RunsTableView) {
    if view.runs.is_empty() {
        ui.label("No run yet. Start a preset, or add runs with Compare in the controls.");
        return;
    }
    let mut rows = rows(&view.runs);
    let baseline = state.baseline.clone();
    let baseline_value =
        baseline.as_ref().and_then(|key| rows.iter().find(|r| &r.key == key)).and_then(|r| r.cells[TEST].value);
    for row in &mut rows {
        let delta = row.cells[TEST].value.zip(baseline_value).map(|(v, b)| v - b);
        row.cells[DELTA] = number(delta, |d| format!("{:+.2}", 100.0 * d));
    }
    let sort = state.sort;
    if let Some((column, ascending)) = sort {
        rows.sort_by(|a, b| {
            let order = match column {
                0 => natural_cmp(&a.label, &b.label),
                c => compare(&a.cells[c - 1], &b.cells[c - 1]),
            };
            if ascending { order } else { order.reverse() }
        });
    }
    ui.label("Click a header to sort, a run to follow it; the circle picks the baseline of Δ test.");
    report_buttons(ui, view);
    let widths = Widths::of(ui, &rows, state);
    egui::ScrollArea::vertical().id_salt("runs_table_rows").show(ui, |ui| {
        ui.horizontal_top(|ui| {
            ui.spacing_mut().item_spacing = egui::vec2(0.0, 0.0);
            ui.vertical(|ui| {
                let header = table_row(ui, widths.pinned(), None);
                cell(ui, &header, 0, |ui| ui.label("show"));
                cell(ui, &header, 1, |ui| header_button(ui, state, 0, "run"));
                for (index, row) in rows.iter().enumerate() {
                    let cells = table_row(ui, widths.pinned(), Some(index));
                    pinned_cells(ui, view, row, &cells);
                }
            });
            egui::ScrollArea::horizontal().id_salt("runs_table_columns").show(ui, |ui| {
                ui.vertical(|ui| {
                    let header = table_row(ui, &widths.cells, None);
                    for (index, title) in COLUMNS.iter().enumerate() {
                        match *title {
                            "" => cell(ui, &header, index, |ui| ui.label("baseline")),
                            title => cell(ui, &header, index, |ui| header_button(ui, state, index + 1, title)),
                        };
                    }
                    for (index, row) in rows.iter().enumerate() {
                        let cells = table_row(ui, &widths.cells, Some(index));
                        row_cells(ui, state, row, &cells);
                    }
                });
            });
        });
    });
}

/// The width of every column: the pinned show and run columns, then the others.
struct Widths {
    pinned: [f32; 2],
    cells: Vec<f32>,
}

impl Widths {
    /// Each column as wide as its widest text (header included) plus a gap.
    fn of(ui: &egui::Ui, rows: &[Row], state: &RunsTableView) -> Widths {
        let font = egui::TextStyle::Body.resolve(ui.style());
        let width = |text: &str| {
            ui.fonts_mut(|f| f.layout_no_wrap(text.to_string(), font.clone(), egui::Color32::WHITE).size().x)
        };
        // Buttons and selectable labels add their padding; a sort arrow may follow a title.
        let padding = 2.0 * ui.spacing().button_padding.x + CELL_GAP;
        let header = |index: usize, title: &str| width(&format!("{title}{}", sort_arrow(state, index))) + padding;
        let run = rows.iter().map(|r| width(&r.label)).fold(header(0, "run"), f32::max);
        let mut cells: Vec<f32> = COLUMNS.iter().enumerate().map(|(i, title)| header(i + 1, title)).collect();
        if let Some(baseline) = cells.last_mut() {
            *baseline = width("baseline") + CELL_GAP;
        }
        for row in rows {
            for (column, cell) in row.cells.iter().enumerate() {
                cells[column] = cells[column].max(width(&cell.text) + CELL_GAP);
            }
        }
        Widths { pinned: [CHECKBOX_WIDTH, (run + padding).min(MAX_RUN_WIDTH)], cells }
    }

    fn pinned(&self) -> &[f32] {
        &self.pinned
    }
}

/// One row's cells: where each is, and the row's place (the id of the widgets in it, stable
/// while the table scrolls).
struct RowCells {
    rects: Vec<egui::Rect>,
    place: Option<usize>,
}

/// Allocates one row of the table, exactly [`ROW_HEIGHT`] high, striped when `index` is odd
/// (`None`: the header); returns its cells.
fn table_row(ui: &mut egui::Ui, widths: &[f32], index: Option<usize>) -> RowCells {
    let total: f32 = widths.iter().sum();
    let (rect, _) = ui.allocate_exact_size(egui::vec2(total, ROW_HEIGHT), egui::Sense::hover());
    if index.is_some_and(|i| i % 2 == 1) {
        ui.painter().rect_filled(rect, 0.0, ui.visuals().faint_bg_color);
    }
    let mut left = rect.left();
    let rects = widths
        .iter()
        .map(|&width| {
            let cell = egui::Rect::from_min_size(egui::pos2(left, rect.top()), egui::vec2(width, ROW_HEIGHT));
            left += width;
            cell
        })
        .collect();
    RowCells { rects, place: index }
}

/// Draws `add` in cell `column` of a row, vertically centred, clipped to the cell.
fn cell<R>(ui: &mut egui::Ui, cells: &RowCells, column: usize, add: impl FnOnce(&mut egui::Ui) -> R) -> Option<R> {
    let rect = *cells.rects.get(column)?;
    let layout = egui::Layout::left_to_right(egui::Align::Center);
    let salt = ("runs_table_cell", cells.place, column);
    let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect).layout(layout).id_salt(salt));
    child.set_clip_rect(rect.intersect(ui.clip_rect()));
    Some(add(&mut child))
}

/// Numbers by value, text in natural order; missing values last.
fn compare(a: &Cell, b: &Cell) -> Ordering {
    match (a.value, b.value) {
        (Some(p), Some(q)) => p.total_cmp(&q),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => natural_cmp(&a.text, &b.text),
    }
}

/// Text order with runs of digits compared as numbers: `T=4` before `T=16`, `seed 2` before
/// `seed 10`.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        let (Some(x), Some(y)) = (a.chars().next(), b.chars().next()) else {
            return a.len().cmp(&b.len());
        };
        if x.is_ascii_digit() && y.is_ascii_digit() {
            let (da, ra) = split_number(a);
            let (db, rb) = split_number(b);
            let order = da.total_cmp(&db);
            if order != Ordering::Equal {
                return order;
            }
            (a, b) = (ra, rb);
        } else {
            let order = x.cmp(&y);
            if order != Ordering::Equal {
                return order;
            }
            (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
        }
    }
}

/// The number at the start of `text` (digits, one decimal point) and what follows it.
fn split_number(text: &str) -> (f64, &str) {
    let mut end = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if text[end..].starts_with('.') && text[end + 1..].starts_with(|c: char| c.is_ascii_digit()) {
        end += 1 + text[end + 1..].find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len() - end - 1);
    }
    (text[..end].parse().unwrap_or(0.0), &text[end..])
}

/// The sort arrow a column's title carries.
fn sort_arrow(state: &RunsTableView, index: usize) -> &'static str {
    match state.sort {
        Some((column, true)) if column == index => " ^",
        Some((column, false)) if column == index => " v",
        _ => "",
    }
}

fn header_button(ui: &mut egui::Ui, state: &mut RunsTableView, index: usize, title: &str) -> egui::Response {
    let response = ui.button(format!("{title}{}", sort_arrow(state, index)));
    if response.clicked() {
        let ascending = !matches!(state.sort, Some((column, true)) if column == index);
        state.sort = Some((index, ascending));
    }
    response
}

/// "Write report" for each seed group, once all its runs have finished.
fn report_buttons(ui: &mut egui::Ui, view: &mut ViewContext) {
    let mut groups: Vec<&crate::ui::runs::SeedGroup> = view.runs.iter().filter_map(|r| r.group).collect();
    groups.dedup_by_key(|g| g.id);
    ui.horizontal_wrapped(|ui| {
        for group in groups {
            let members: Vec<&OverlayRun> =
                view.runs.iter().filter(|r| r.group.is_some_and(|g| g.id == group.id)).collect();
            let finished = members.iter().filter(|m| m.history.is_some_and(|h| h.finished)).count();
            let done = members.len() > 1 && finished == members.len();
            let title = format!("Write report: {} ({} seeds)", group.name, members.len());
            let hint = if done {
                "report.md with mean ± std per stage, the curves and each seed's run folder, in the export folder"
                    .into()
            } else {
                format!("{finished} of {} seeds finished", members.len())
            };
            if ui.add_enabled(done, egui::Button::new(title)).on_hover_text(hint).clicked() {
                view.actions.push(Action::WriteReport(group.id));
            }
        }
    });
}

fn pinned_cells(ui: &mut egui::Ui, view: &mut ViewContext, row: &Row, cells: &RowCells) {
    if let (Some(run), Some(visible)) = (row.run, row.visible) {
        cell(ui, cells, 0, |ui| {
            let mut shown = visible;
            if ui.checkbox(&mut shown, "").on_hover_text("Show this run in the overlays").changed() {
                view.actions.push(Action::ShowRun(run, shown));
            }
        });
    }
    let hint = if row.hint.is_empty() { row.label.clone() } else { format!("{}\n{}", row.label, row.hint) };
    cell(ui, cells, 1, |ui| match row.run {
        Some(run) => {
            let followed = run == view.current_run;
            let response = ui.add(egui::Button::selectable(followed, &row.label).truncate()).on_hover_text(hint);
            if response.clicked() {
                view.actions.push(Action::FollowRun(run));
            }
        }
        None => {
            ui.add(egui::Label::new(egui::RichText::new(&row.label).strong()).truncate()).on_hover_text(hint);
        }
    });
}

fn row_cells(ui: &mut egui::Ui, state: &mut RunsTableView, row: &Row, cells: &RowCells) {
    for (column, value) in row.cells.iter().enumerate() {
        cell(ui, cells, column, |ui| ui.label(&value.text));
    }
    if row.cells.iter().any(|c| c.value.is_some()) {
        cell(ui, cells, CELLS, |ui| {
            let chosen = state.baseline.as_ref() == Some(&row.key);
            if ui.radio(chosen, "").on_hover_text("Baseline for Δ test").clicked() {
                state.baseline = if chosen { None } else { Some(row.key.clone()) };
            }
        });
    }
}

/// A row per run × stage (a queued run: one row with its place in the queue; a fork: its stages
/// from the fork on), then a mean ± std row per stage of each seed group.
fn rows(runs: &[OverlayRun]) -> Vec<Row> {
    let mut rows = Vec::new();
    for run in runs {
        let hint = run.parent.map_or_else(String::new, |parent| format!("forked off {parent}"));
        let Some(history) = run.history else {
            let mut cells: Vec<Cell> = (0..CELLS).map(|_| text("")).collect();
            let queued = format!("queued #{}", run.queued.unwrap_or(0));
            cells[PROGRESS] = text(&queued);
            rows.push(Row {
                run: Some(run.index),
                label: format!("{} ({queued})", run.label),
                visible: None,
                hint,
                key: (run.label.to_string(), String::new()),
                cells,
            });
            continue;
        };
        let first = history.info.as_ref().and_then(|i| i.fork).map_or(0, |f| f.stage);
        for (index, stage) in history.stages.iter().enumerate().skip(first) {
            let outcome = stage.outcome.as_ref();
            let params = outcome.map(|o| o.params).or(stage.start.as_ref().map(|s| s.params));
            rows.push(Row {
                run: Some(run.index),
                label: run.label.to_string(),
                visible: Some(run.visible),
                hint: hint.clone(),
                key: (run.label.to_string(), stage.name.clone()),
                cells: vec![
                    text(&stage.name),
                    text(stage.method_name()),
                    number(stage.value(TEMPERATURE.name), |t| format!("{t:.2}")),
                    number(stage.value(ALPHA.name), |a| format!("{a:.2}")),
                    percent(final_test_accuracy(stage)),
                    text(""),
                    text(progress(history, index, stage)),
                    percent(outcome.and_then(|o| o.agreement_with_teacher)),
                    percent(outcome.and_then(|o| o.train_accuracy)),
                    number(params.map(|p| p as f64), |p| format!("{p:.0}")),
                    number(outcome.map(|o| o.wall_seconds), |s| format!("{s:.1} s")),
                ],
            });
        }
    }
    rows.extend(group_rows(runs));
    rows
}

/// Where a stage is: waiting, its step out of its planned steps, or how it ended.
fn progress(history: &RunHistory, index: usize, stage: &StageHistory) -> String {
    if let Some(step) = stage.diverged_at {
        return format!("diverged at {step}");
    }
    match &stage.outcome {
        Some(o) if o.skipped.is_some() => "skipped".into(),
        Some(o) if o.cached => "cached".into(),
        Some(o) if o.stopped => format!("stopped at {}", o.steps),
        Some(_) => "done".into(),
        None => match (history.progress, &stage.start) {
            (Some(p), Some(_)) if p.stage == index && stage.keep_training => format!("step {} (open-ended)", p.step),
            (Some(p), Some(start)) if p.stage == index => {
                let share = 100.0 * p.step as f64 / start.total_steps.max(1) as f64;
                format!("step {}/{} ({share:.0}%)", p.step, start.total_steps)
            }
            _ if history.finished => "did not run".into(),
            _ => "waiting".into(),
        },
    }
}

/// The stage's final test accuracy, or its latest while it trains.
fn final_test_accuracy(stage: &StageHistory) -> Option<f64> {
    stage
        .outcome
        .as_ref()
        .and_then(|o| o.test_accuracy)
        .or_else(|| stage.series.get(metric::TEST_ACCURACY).and_then(|s| s.last()).map(|p| p[1]))
}

fn group_rows(runs: &[OverlayRun]) -> Vec<Row> {
    let mut groups: Vec<&crate::ui::runs::SeedGroup> = runs.iter().filter_map(|r| r.group).collect();
    groups.dedup_by_key(|g| g.id);
    let mut rows = Vec::new();
    for group in groups {
        let members: Vec<&RunHistory> =
            runs.iter().filter(|r| r.group.is_some_and(|g| g.id == group.id)).filter_map(|r| r.history).collect();
        // A spread needs two runs; until the second starts the member's own rows say it all.
        let (Some(first), true) = (members.first(), members.len() > 1) else { continue };
        let finished = members.iter().filter(|h| h.finished).count();
        let label = format!("{} (mean ± std)", group.name);
        for (index, stage) in first.stages.iter().enumerate() {
            let done = |pick: fn(&crate::protocol::StageOutcome) -> Option<f64>| -> Vec<f64> {
                members.iter().filter_map(|m| m.stages.get(index)?.outcome.as_ref().and_then(pick)).collect()
            };
            let (test, train) = (done(|o| o.test_accuracy), done(|o| o.train_accuracy));
            rows.push(Row {
                run: None,
                label: label.clone(),
                visible: None,
                hint: String::new(),
                key: (label.clone(), stage.name.clone()),
                cells: vec![
                    text(&stage.name),
                    text(stage.method_name()),
                    number(stage.value(TEMPERATURE.name), |t| format!("{t:.2}")),
                    number(stage.value(ALPHA.name), |a| format!("{a:.2}")),
                    mean_std(&test),
                    text(""),
                    text(format!("{} of {} finished", test.len(), group.size)),
                    text(""),
                    mean_std(&train),
                    text(""),
                    text(format!("{finished} of {} runs done", group.size)),
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

/// The runs table, with its sort column and baseline row.
#[derive(Default)]
pub(crate) struct RunsTableView {
    /// The sort column and direction (`None`: in the order the runs were added).
    sort: Option<(usize, bool)>,
    /// The `(run, stage)` row Δ test is measured from.
    baseline: Option<(String, String)>,
}

impl super::View for RunsTableView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Runs", title: "Runs", beside: "Agreement" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view, self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_inside_text_sort_by_value() {
        let mut labels = vec!["kd temperature=16", "kd temperature=4", "kd temperature=0.5", "kd temperature=1"];
        labels.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(labels, ["kd temperature=0.5", "kd temperature=1", "kd temperature=4", "kd temperature=16"]);
        assert_eq!(natural_cmp("seed 2", "seed 10"), Ordering::Less);
        assert_eq!(natural_cmp("b", "a10"), Ordering::Greater);
    }
}
