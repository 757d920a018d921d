//! The sweep view, the question users ask most: which value of a swept key (T, α, β…) is best,
//! and does fidelity to the teacher track accuracy? For the runs of a sweep, the swept value on
//! x (a log axis when every value is positive and they span a decade), a final metric of one
//! stage on y — test accuracy, agreement with the teacher or KL(teacher ‖ student) — as the
//! mean over the runs at that value (the seeds of "over Seeds") with ± 1 std error bars.

use crate::export::data::PlotNumbers;
use crate::export::svg::{PlotSeries, PlotSpec, format_tick, log_ticks, palette};
use crate::export::table::Table;
use crate::protocol::metric;
use crate::stats::{mean, sample_std};
use crate::ui::context::{Action, ExportedPlot, ViewContext};
use crate::ui::history::StageHistory;
use crate::ui::widgets::series_color;
use egui_plot::{GridMark, HoverPosition, Line, MarkerShape, Plot, PlotPoints, Points};

/// A final number of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SweepMetric {
    #[default]
    TestAccuracy,
    Agreement,
    Kl,
}

impl SweepMetric {
    const ALL: [SweepMetric; 3] = [SweepMetric::TestAccuracy, SweepMetric::Agreement, SweepMetric::Kl];

    fn label(self) -> &'static str {
        match self {
            SweepMetric::TestAccuracy => "test accuracy",
            SweepMetric::Agreement => "agreement with the teacher",
            SweepMetric::Kl => "KL(teacher || student)",
        }
    }

    fn stem(self) -> &'static str {
        match self {
            SweepMetric::TestAccuracy => metric::TEST_ACCURACY,
            SweepMetric::Agreement => metric::AGREEMENT,
            SweepMetric::Kl => metric::KL_TEACHER_STUDENT,
        }
    }

    /// The stage's final value: its outcome's, or the last reported point for the KL.
    fn of(self, stage: &StageHistory) -> Option<f64> {
        let outcome = stage.outcome.as_ref()?;
        match self {
            SweepMetric::TestAccuracy => outcome.test_accuracy,
            SweepMetric::Agreement => outcome.agreement_with_teacher,
            SweepMetric::Kl => stage.series.get(self.stem()).and_then(|points| points.last()).map(|p| p[1]),
        }
    }
}

/// One swept value: its runs' final values and their mean ± sample std.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SweepColumn {
    pub(crate) x: f64,
    /// `(run label, seed, value)` of each finished run at this value.
    pub(crate) runs: Vec<(String, Option<u64>, f64)>,
    pub(crate) mean: f64,
    pub(crate) std: f64,
}

/// The view, with the key, stage and metric the user picked.
#[derive(Default)]
pub(crate) struct SweepView {
    key: Option<String>,
    stage: Option<String>,
    metric: SweepMetric,
}

impl super::View for SweepView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Sweep", title: "Sweep", beside: "Agreement" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        let keys = swept_keys(view);
        let Some(key) = self.key.clone().filter(|k| keys.contains(k)).or_else(|| keys.last().cloned()) else {
            ui.label("No sweep yet: under Compare, set a Sweep key and Values (tick \"over Seeds\" for error bars), then Queue sweep.");
            return;
        };
        let stages = swept_stages(view, &key);
        let stage = self.stage.clone().filter(|s| stages.contains(s)).or_else(|| stages.last().cloned());
        ui.horizontal_wrapped(|ui| {
            picker(ui, "Swept key", &key, &keys, |k| self.key = Some(k.to_string()));
            let shown = stage.clone().unwrap_or_else(|| "—".into());
            picker(ui, "Stage", &shown, &stages, |s| self.stage = Some(s.to_string()));
            let title = ui.label("Metric");
            egui::ComboBox::from_id_salt("sweep_metric")
                .selected_text(self.metric.label())
                .show_ui(ui, |ui| {
                    for metric in SweepMetric::ALL {
                        ui.selectable_value(&mut self.metric, metric, metric.label());
                    }
                })
                .response
                .labelled_by(title.id);
        });
        let Some(stage) = stage else { return };
        let columns = sweep_columns(view, &key, &stage, self.metric);
        let skipped = non_numeric(view, &key);
        if columns.is_empty() {
            ui.label(format!("No finished {stage} stage in this sweep yet: the points arrive as its runs end."));
            return;
        }
        let log_x = wants_log_axis(&columns);
        ui.horizontal(|ui| {
            let runs: usize = columns.iter().map(|c| c.runs.len()).sum();
            ui.label(format!(
                "{runs} finished runs at {} values{}",
                columns.len(),
                if log_x { " · log x" } else { "" }
            ));
            if skipped > 0 {
                ui.label(format!("({skipped} runs with a non-numeric value left out)"));
            }
            if ui
                .button("Export plot")
                .on_hover_text("SVG and PNG of this plot, and its points as CSV and JSON")
                .clicked()
            {
                view.actions.push(Action::Export(vec![exported(&key, &stage, self.metric, &columns, log_x)]));
            }
        });
        plot(ui, view, &key, self.metric, &columns, log_x);
    }
}

fn picker(ui: &mut egui::Ui, label: &str, current: &str, options: &[String], mut choose: impl FnMut(&str)) {
    let title = ui.label(label);
    egui::ComboBox::from_id_salt(label)
        .selected_text(current)
        .show_ui(ui, |ui| {
            for option in options {
                if ui.selectable_label(option == current, option).clicked() {
                    choose(option);
                }
            }
        })
        .response
        .labelled_by(title.id);
}

/// The keys the runs were swept over, in the order they were first queued.
fn swept_keys(view: &ViewContext) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for point in view.runs.iter().filter_map(|r| r.sweep) {
        if !keys.contains(&point.key) {
            keys.push(point.key.clone());
        }
    }
    keys
}

/// The stages of the runs swept over `key`.
fn swept_stages(view: &ViewContext, key: &str) -> Vec<String> {
    let mut stages: Vec<String> = Vec::new();
    let swept = view.runs.iter().filter(|r| r.sweep.is_some_and(|p| p.key == key));
    for history in swept.filter_map(|r| r.history) {
        for stage in &history.stages {
            if !stages.contains(&stage.name) {
                stages.push(stage.name.clone());
            }
        }
    }
    stages
}

/// How many runs of the sweep have a value that is not a number (and so no place on x).
fn non_numeric(view: &ViewContext, key: &str) -> usize {
    view.runs.iter().filter_map(|r| r.sweep).filter(|p| p.key == key && p.value.trim().parse::<f64>().is_err()).count()
}

/// Each swept value's finished runs and their mean ± std, by increasing value.
pub(crate) fn sweep_columns(view: &ViewContext, key: &str, stage: &str, metric: SweepMetric) -> Vec<SweepColumn> {
    let mut columns: Vec<SweepColumn> = Vec::new();
    for run in &view.runs {
        let Some(x) = run.sweep.filter(|p| p.key == key).and_then(|p| p.value.trim().parse::<f64>().ok()) else {
            continue;
        };
        let stage_history = run.history.and_then(|h| h.stages.iter().find(|s| s.name == stage));
        let Some(value) = stage_history.and_then(|s| metric.of(s)).filter(|v| v.is_finite()) else { continue };
        let entry = (run.label.to_string(), run.seed(), value);
        match columns.iter_mut().find(|c| c.x == x) {
            Some(column) => column.runs.push(entry),
            None => columns.push(SweepColumn { x, runs: vec![entry], mean: 0.0, std: 0.0 }),
        }
    }
    for column in &mut columns {
        let values: Vec<f64> = column.runs.iter().map(|r| r.2).collect();
        (column.mean, column.std) = (mean(&values), sample_std(&values));
    }
    columns.sort_by(|a, b| a.x.total_cmp(&b.x));
    columns
}

/// A log axis fits values that are all positive and span at least a factor of ten.
pub(crate) fn wants_log_axis(columns: &[SweepColumn]) -> bool {
    let (low, high) = columns.iter().fold((f64::INFINITY, 0.0f64), |(l, h), c| (l.min(c.x), h.max(c.x)));
    low > 0.0 && high / low >= 10.0
}

fn plot(
    ui: &mut egui::Ui,
    view: &mut ViewContext,
    key: &str,
    metric: SweepMetric,
    columns: &[SweepColumn],
    log_x: bool,
) {
    let to_x = move |x: f64| if log_x { x.log10() } else { x };
    let color = series_color(0);
    let mut plot = Plot::new("sweep_plot")
        .x_axis_label(if log_x { format!("{key} (log)") } else { key.to_string() })
        .y_axis_label(metric.label())
        .y_axis_formatter(|mark, _| format_tick(mark.value))
        .label_formatter(move |hover| match hover {
            HoverPosition::NearDataPoint { position, .. } => {
                let x = if log_x { 10f64.powf(position.x) } else { position.x };
                Some(format!("{} · {}", format_tick(x), format_tick(position.y)))
            }
            HoverPosition::Elsewhere { .. } => None,
        });
    plot = match log_x {
        // Grid lines at 1, 2, 5 × 10^k, labelled with the values, as the export draws them.
        true => plot.x_axis_formatter(|mark, _| format_tick(10f64.powf(mark.value))).x_grid_spacer(|input| {
            log_ticks(input.bounds.0, input.bounds.1)
                .into_iter()
                .map(|value| GridMark { value, step_size: 1.0 })
                .collect()
        }),
        false => plot.x_axis_formatter(|mark, _| format_tick(mark.value)),
    };
    let response = plot.show(ui, |plot| {
        let means: Vec<[f64; 2]> = columns.iter().map(|c| [to_x(c.x), c.mean]).collect();
        plot.line(Line::new("mean", PlotPoints::from(means.clone())).color(color).width(2.0));
        plot.points(
            Points::new("mean points", PlotPoints::from(means)).color(color).radius(4.0).shape(MarkerShape::Circle),
        );
        for column in columns.iter().filter(|c| c.runs.len() > 1) {
            let (x, low, high) = (to_x(column.x), column.mean - column.std, column.mean + column.std);
            let bar = vec![[x, low], [x, high]];
            plot.line(
                Line::new(format!("± std at {}", format_tick(column.x)), PlotPoints::from(bar)).color(color).width(1.5),
            );
        }
        let runs: Vec<[f64; 2]> = columns.iter().flat_map(|c| c.runs.iter().map(move |r| [to_x(c.x), r.2])).collect();
        plot.points(Points::new("runs", PlotPoints::from(runs)).color(color.gamma_multiply(0.5)).radius(2.5));
    });
    let bounds = response.transform.bounds();
    view.selection.plots.insert(
        "sweep_plot",
        crate::ui::context::PlotFrame {
            rect: response.transform.frame().to_owned(),
            bounds: [bounds.min(), bounds.max()],
        },
    );
}

/// The plot as exported: the means with a ± std band and every run's final value as a dot; its
/// numbers a row per run with the swept value in a column named after the key.
fn exported(key: &str, stage: &str, metric: SweepMetric, columns: &[SweepColumn], log_x: bool) -> ExportedPlot {
    let short = key.rsplit('.').next().unwrap_or(key);
    let means = columns.iter().map(|c| [c.x, c.mean]).collect();
    let band = columns.iter().map(|c| [c.x, c.mean - c.std, c.mean + c.std]).collect();
    let dots = columns.iter().flat_map(|c| c.runs.iter().map(move |r| [c.x, r.2])).collect();
    let mut table = Table::new(&["run", "seed", "stage", "metric", key, "value"]);
    for column in columns {
        for (run, seed, value) in &column.runs {
            let seed = seed.map_or_else(String::new, |s| s.to_string());
            table.push(vec![
                run.clone(),
                seed,
                stage.to_string(),
                metric.stem().to_string(),
                column.x.to_string(),
                value.to_string(),
            ]);
        }
    }
    ExportedPlot {
        stem: format!("sweep_{short}_{}", metric.stem()),
        spec: PlotSpec {
            title: format!("{stage}: {} against {short} (mean ± 1 std)", metric.label()),
            x_label: key.to_string(),
            y_label: metric.label().to_string(),
            series: vec![
                PlotSeries {
                    name: format!("{stage} · {} (mean)", metric.stem()),
                    color: palette(0),
                    points: means,
                    band: Some(band),
                    ..Default::default()
                },
                PlotSeries {
                    name: "each run".into(),
                    color: palette(0),
                    points: dots,
                    dots: true,
                    ..Default::default()
                },
            ],
            log_x,
            ..Default::default()
        },
        numbers: PlotNumbers::Table(table),
    }
}
