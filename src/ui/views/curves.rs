//! Training curves: total loss and each loss term, train and test accuracy, for every stage,
//! against its step; x-axes linked across the two plots, legend toggles, a marker wherever T or
//! α changed, TensorBoard smoothing, and long series decimated per pixel column.

use super::{Action, ExportedPlot, ViewContext, series_color};
use crate::export::data::ExportSeries;
use crate::export::svg::{PlotSeries, PlotSpec, palette};
use crate::train::Parameter;
use crate::ui::history::StageHistory;
use egui_plot::{Legend, Line, Plot, PlotPoint, PlotPoints, Text, VLine};

/// One plot: its id, its y-axis label and which metrics it draws for every stage.
pub struct CurveSpec {
    pub id: &'static str,
    pub y_label: &'static str,
    pub shows: fn(&str) -> bool,
}

/// The total loss and every term any method reports (`loss_ce`, `loss_kd`, `loss_at`, …).
const LOSS: CurveSpec = CurveSpec { id: "loss_plot", y_label: "loss", shows: |m| m.starts_with("loss") };
/// Train and test accuracy, and DML's peers' test accuracy.
const ACCURACY: CurveSpec = CurveSpec { id: "accuracy_plot", y_label: "accuracy", shows: |m| m.ends_with("_accuracy") };

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

/// One plot of the spec's metrics for every stage, with the stages' markers. Series are
/// smoothed incrementally and decimated to the visible x range, one min–max per pixel column.
pub fn curve_plot(ui: &mut egui::Ui, view: &mut ViewContext, spec: &CurveSpec, height: f32, link: egui::Id) {
    let Some(history) = view.history else { return };
    let smoothing = view.settings.smoothing;
    let smoothed = &mut view.selection.smoothed;
    let columns = ui.available_width().max(100.0) as usize;
    let series = history.stages.iter().map(|s| s.series.keys().filter(|m| (spec.shows)(m)).count()).sum::<usize>();
    let mut plot = Plot::new(spec.id);
    // A lone series needs no legend; the axis label names it.
    if series > 1 {
        // Methods with many loss terms get a smaller legend, so it fits beside the curves.
        let style = if series > 8 { egui::TextStyle::Small } else { egui::TextStyle::Body };
        plot = plot.legend(Legend::default().text_style(style));
    }
    plot.height(height)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .x_axis_label("step")
        .y_axis_label(spec.y_label)
        .show(ui, |plot| {
            // While the plot follows the data, everything is visible; once the user zooms or
            // pans, only the shown range is decimated.
            let visible = (!plot.auto_bounds().x).then(|| plot.plot_bounds().range_x());
            let mut index = 0;
            for (stage_index, stage) in history.stages.iter().enumerate() {
                for (metric, points) in stage.series.iter().filter(|(m, _)| (spec.shows)(m)) {
                    let series = smoothed.entry((stage_index, metric.clone())).or_default();
                    series.update(points, smoothing);
                    let shown = series.decimated(visible.clone(), columns);
                    let name = format!("{} · {metric}", stage.name);
                    plot.line(Line::new(name, PlotPoints::from(shown)).color(series_color(index)));
                    index += 1;
                }
                draw_markers(plot, stage);
            }
        });
}

/// A button that exports the given plots (SVG, PNG, CSV, JSON) to the export folder.
pub fn export_button(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec]) {
    let hint = format!("Writes each plot as SVG, PNG (2x), CSV and JSON into {}", view.settings.export_dir.display());
    let enabled = view.history.is_some();
    if ui.add_enabled(enabled, egui::Button::new("Export plots")).on_hover_text(hint).clicked() {
        let plots = specs.iter().map(|spec| exported_plot(view, spec)).collect();
        view.actions.push(Action::Export(plots));
    }
}

/// A plot as exported: the drawn (smoothed, decimated) curves and the raw points.
fn exported_plot(view: &mut ViewContext, spec: &CurveSpec) -> ExportedPlot {
    let mut plot = ExportedPlot {
        stem: spec.id.trim_end_matches("_plot").to_string(),
        spec: PlotSpec {
            title: format!("{} (smoothing {:.2})", spec.y_label, view.settings.smoothing),
            x_label: "step".into(),
            y_label: spec.y_label.into(),
            series: Vec::new(),
        },
        series: Vec::new(),
    };
    let Some(history) = view.history else { return plot };
    for (stage_index, stage) in history.stages.iter().enumerate() {
        for (metric, points) in stage.series.iter().filter(|(m, _)| (spec.shows)(m)) {
            let smoothed = view.selection.smoothed.entry((stage_index, metric.clone())).or_default();
            smoothed.update(points, view.settings.smoothing);
            plot.spec.series.push(PlotSeries {
                name: format!("{} · {metric}", stage.name),
                color: palette(plot.spec.series.len()),
                points: smoothed.decimated(None, 900),
                band: None,
            });
            plot.series.push(ExportSeries {
                stage: stage.name.clone(),
                metric: metric.clone(),
                points: points.clone(),
            });
        }
    }
    plot
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
