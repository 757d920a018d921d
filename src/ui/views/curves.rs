//! Training curves: total loss and each loss term, train and test accuracy, for every stage,
//! against its step; x-axes linked across the two plots, legend toggles, a marker wherever T or
//! α changed, TensorBoard smoothing, and long series decimated per pixel column.

use super::{Action, ExportedPlot, OverlayRun, ViewContext, series_color};
use crate::export::data::ExportSeries;
use crate::export::svg::{PlotSeries, PlotSpec, palette};
use crate::train::Parameter;
use crate::ui::history::StageHistory;
use egui_plot::{Legend, Line, Plot, PlotPoint, PlotPoints, Polygon, Text, VLine};

/// One plot: its id, its y-axis label and which metrics it draws for every stage.
pub struct CurveSpec {
    pub id: &'static str,
    pub y_label: &'static str,
    pub shows: fn(&str) -> bool,
    /// The one metric drawn per stage when several runs are overlaid, to keep them readable.
    pub headline: &'static str,
}

/// The total loss and every term any method reports (`loss_ce`, `loss_kd`, `loss_at`, …).
const LOSS: CurveSpec =
    CurveSpec { id: "loss_plot", y_label: "loss", shows: |m| m.starts_with("loss"), headline: "loss" };
/// Train and test accuracy, and DML's peers' test accuracy.
const ACCURACY: CurveSpec = CurveSpec {
    id: "accuracy_plot",
    y_label: "accuracy",
    shows: |m| m.ends_with("_accuracy"),
    headline: "test_accuracy",
};

pub fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut view.settings.smoothing, 0.0..=0.99).text("Smoothing"))
            .on_hover_text("TensorBoard's debiased exponential moving average");
        export_button(ui, view, &[&LOSS, &ACCURACY]);
    });
    if view.history.is_none() {
        ui.label("No run yet.");
        return;
    }
    let height = (ui.available_height() / 2.0 - 4.0).max(80.0);
    let link = ui.scope_id().with("curves_link");
    curve_plot(ui, view, &LOSS, height, link);
    curve_plot(ui, view, &ACCURACY, height, link);
}

/// One curve as drawn: its legend name, the smoothed and decimated points, a ±1 std band
/// for seed groups, and the raw points for export.
pub struct Drawn {
    pub name: String,
    pub stage: String,
    pub metric: String,
    pub points: Vec<[f64; 2]>,
    pub band: Option<Vec<[f64; 3]>>,
    pub raw: Vec<[f64; 2]>,
    /// Palette index: one per series for a single run; one per run (or seed group) when runs
    /// are overlaid, so each run keeps its colour.
    pub color: usize,
    /// Line style: 0 solid; when runs are overlaid, the stage's index (solid, dashed, dotted…).
    pub dash: usize,
}

/// The curves of a plot: the followed run's stages; with several visible runs, every visible
/// run's stages (their headline metric only), a seed group's runs folded into their mean with
/// a ±1 std band.
pub fn drawn_series(
    view: &mut ViewContext,
    spec: &CurveSpec,
    x: Option<std::ops::RangeInclusive<f64>>,
    columns: usize,
) -> Vec<Drawn> {
    let smoothing = view.settings.smoothing;
    let visible: Vec<OverlayRun> = view.runs.iter().copied().filter(|r| r.visible).collect();
    let overlay = visible.len() > 1;
    let runs: Vec<OverlayRun> =
        if overlay { visible } else { view.runs.iter().copied().filter(|r| r.index == view.current_run).collect() };
    let mut drawn = Vec::new();
    let mut done_groups = Vec::new();
    let mut run_color = 0;
    for run in &runs {
        let members: Vec<&OverlayRun> = match run.group {
            Some(group) => runs.iter().filter(|r| r.group == Some(group)).collect(),
            None => vec![run],
        };
        if members.len() > 1 {
            if done_groups.contains(&run.group) {
                continue;
            }
            done_groups.push(run.group);
        }
        let prefix = match (overlay, members.len()) {
            (false, _) => String::new(),
            (true, 1) => format!("{} · ", run.label),
            (true, n) => format!("{} (mean of {n}) · ", run.label.rsplit_once(" seed").map_or(run.label, |(l, _)| l)),
        };
        for (stage_index, stage) in run.history.stages.iter().enumerate() {
            let drawn_here = |m: &str| if overlay { m == spec.headline } else { (spec.shows)(m) };
            for (metric, raw) in stage.series.iter().filter(|(m, _)| drawn_here(m)) {
                let name = format!("{prefix}{} · {metric}", stage.name);
                let mut curves = Vec::new();
                for member in &members {
                    let Some(points) = member.history.stages.get(stage_index).and_then(|s| s.series.get(metric)) else {
                        continue;
                    };
                    let key = (member.index, stage_index, metric.clone());
                    let series = view.selection.smoothed.entry(key).or_default();
                    series.update(points, smoothing);
                    curves.push(if members.len() > 1 {
                        series.points().to_vec()
                    } else {
                        series.decimated(x.clone(), columns)
                    });
                }
                let (points, band) = if members.len() > 1 {
                    mean_and_band(&curves, columns)
                } else {
                    (curves.pop().unwrap_or_default(), None)
                };
                let (color, dash) = if overlay { (run_color, stage_index) } else { (drawn.len(), 0) };
                drawn.push(Drawn {
                    name,
                    stage: stage.name.clone(),
                    metric: metric.clone(),
                    points,
                    band,
                    raw: raw.clone(),
                    color,
                    dash,
                });
            }
        }
        run_color += 1;
    }
    drawn
}

/// Mean over curves at each step they share, with a ±1 std band; thinned to about `columns`.
fn mean_and_band(curves: &[Vec<[f64; 2]>], columns: usize) -> (Vec<[f64; 2]>, Option<Vec<[f64; 3]>>) {
    let (points, band) = crate::stats::mean_band(curves.iter().flatten().map(|p| (p[0] as u64, p[1])));
    let stride = points.len().div_ceil(columns.max(1)).max(1);
    (points.into_iter().step_by(stride).collect(), Some(band.into_iter().step_by(stride).collect()))
}

/// One plot of the spec's metrics for every stage (of every visible run), with the followed
/// run's markers. Series are smoothed incrementally and decimated to the visible x range.
pub fn curve_plot(ui: &mut egui::Ui, view: &mut ViewContext, spec: &CurveSpec, height: f32, link: egui::Id) {
    let Some(history) = view.history else { return };
    let columns = ui.available_width().max(100.0) as usize;
    // The previous frame's x range, once the user has zoomed or panned.
    let range_id = ui.scope_id().with(("curve_x_range", spec.id));
    let zoomed: Option<std::ops::RangeInclusive<f64>> = ui.ctx().data(|d| d.get_temp(range_id));
    let drawn = drawn_series(view, spec, zoomed, columns);
    let mut plot = Plot::new(spec.id);
    // A lone series needs no legend; the axis label names it.
    if drawn.len() > 1 {
        // Many series get a smaller legend, so it fits beside the curves.
        let style = if drawn.len() > 8 { egui::TextStyle::Small } else { egui::TextStyle::Body };
        plot = plot.legend(Legend::default().text_style(style));
    }
    // The PNG export takes the whole widget: axes, tick labels and axis titles included.
    let top_left = ui.cursor().min;
    let response = plot
        .height(height)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .x_axis_label("step")
        .y_axis_label(spec.y_label)
        .show(ui, |plot| {
            for curve in drawn {
                let color = series_color(curve.color);
                if let Some(band) = &curve.band {
                    draw_band(plot, &curve.name, band, color);
                }
                let line = Line::new(curve.name, PlotPoints::from(curve.points)).color(color);
                plot.line(line.style(line_style(curve.dash)));
            }
            for stage in &history.stages {
                draw_markers(plot, stage);
            }
            (!plot.auto_bounds().x).then(|| plot.plot_bounds().range_x())
        });
    let bottom_right = egui::pos2(response.response.rect.right(), ui.min_rect().bottom());
    view.selection.plot_rects.insert(spec.id, egui::Rect::from_min_max(top_left, bottom_right));
    ui.ctx().data_mut(|d| match response.inner {
        Some(range) => {
            d.insert_temp(range_id, range);
        }
        None => d.remove::<std::ops::RangeInclusive<f64>>(range_id),
    });
}

/// Solid, dashed, dotted, then around again: how the stages of one overlaid run differ.
fn line_style(dash: usize) -> egui_plot::LineStyle {
    match dash % 3 {
        0 => egui_plot::LineStyle::Solid,
        1 => egui_plot::LineStyle::dashed_loose(),
        _ => egui_plot::LineStyle::dotted_dense(),
    }
}

/// A ±1 std band as a strip of small convex quads (egui fills convex polygons only), under the
/// same legend name as its line so one click hides both.
fn draw_band(plot: &mut egui_plot::PlotUi, name: &str, band: &[[f64; 3]], color: egui::Color32) {
    let fill = color.gamma_multiply(0.25);
    for pair in band.windows(2) {
        let [a, b] = [pair[0], pair[1]];
        let quad = vec![[a[0], a[1]], [b[0], b[1]], [b[0], b[2]], [a[0], a[2]]];
        plot.polygon(Polygon::new(name, PlotPoints::from(quad)).fill_color(fill).stroke(egui::Stroke::NONE));
    }
}

/// A button that exports the given plots (SVG, PNG, CSV, JSON) to the export folder.
pub fn export_button(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec]) {
    let hint = format!(
        "Writes each plot as PNG (its screen pixels at 2x), SVG, CSV and JSON into {}",
        view.settings.export_dir.display()
    );
    let enabled = view.history.is_some();
    if ui.add_enabled(enabled, egui::Button::new("Export plots")).on_hover_text(hint).clicked() {
        let plots = specs.iter().map(|spec| exported_plot(view, spec)).collect();
        view.actions.push(Action::Export(plots));
    }
}

/// A plot as exported: the drawn (smoothed, decimated) curves and the raw points.
fn exported_plot(view: &mut ViewContext, spec: &CurveSpec) -> ExportedPlot {
    let drawn = drawn_series(view, spec, None, 900);
    ExportedPlot {
        stem: spec.id.trim_end_matches("_plot").to_string(),
        rect: view.selection.plot_rects.get(spec.id).copied(),
        spec: PlotSpec {
            title: format!("{} (smoothing {:.2})", spec.y_label, view.settings.smoothing),
            x_label: "step".into(),
            y_label: spec.y_label.into(),
            series: drawn
                .iter()
                .map(|d| PlotSeries {
                    name: d.name.clone(),
                    color: palette(d.color),
                    dash: d.dash,
                    points: d.points.clone(),
                    band: d.band.clone(),
                })
                .collect(),
        },
        series: drawn.into_iter().map(|d| ExportSeries { stage: d.stage, metric: d.metric, points: d.raw }).collect(),
    }
}

/// Vertical markers where T or α changed, labelled with the new value.
pub fn draw_markers(plot: &mut egui_plot::PlotUi, stage: &StageHistory) {
    let top = plot.plot_bounds().max()[1];
    for marker in &stage.markers {
        let label = match marker.parameter {
            Parameter::Temperature => format!("T={:.3}", marker.value),
            Parameter::Alpha => format!("α={:.3}", marker.value),
            Parameter::Beta => format!("β={:.4}", marker.value),
        };
        let x = marker.step as f64;
        let color = egui::Color32::from_rgb(200, 160, 40);
        // One legend entry per stage toggles all of its markers and their labels.
        let name = format!("{} · T/α changes", stage.name);
        plot.vline(VLine::new(name.clone(), x).color(color));
        plot.text(Text::new(name, PlotPoint::new(x, top), label).color(color).anchor(egui::Align2::LEFT_TOP));
    }
}
