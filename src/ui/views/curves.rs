//! Training curves: total loss and each loss term, train and test accuracy, for every stage,
//! against its step; x-axes linked across the two plots, legend toggles, a marker wherever T or
//! α changed, TensorBoard smoothing, and long series decimated per pixel column.

use super::{ViewContext, series_color};
use crate::train::Parameter;
use crate::ui::history::{RunHistory, StageHistory};
use crate::ui::series::{debiased_ema, decimate};
use egui_plot::{Legend, Line, Plot, PlotPoint, PlotPoints, Text, VLine};

const LOSS_METRICS: [&str; 4] = ["loss", "loss_ce", "loss_kd", "loss_ls"];
const ACCURACY_METRICS: [&str; 2] = ["train_accuracy", "test_accuracy"];

pub fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    ui.horizontal(|ui| {
        ui.add(egui::Slider::new(&mut view.settings.smoothing, 0.0..=0.99).text("Smoothing"))
            .on_hover_text("TensorBoard's debiased exponential moving average");
    });
    let Some(history) = view.history else {
        ui.label("No run yet.");
        return;
    };
    let smoothing = view.settings.smoothing;
    let height = (ui.available_height() / 2.0 - 4.0).max(80.0);
    let link = ui.scope_id().with("curves_link");
    curve_plot(ui, "loss_plot", "loss", history, &LOSS_METRICS, smoothing, height, link);
    curve_plot(ui, "accuracy_plot", "accuracy", history, &ACCURACY_METRICS, smoothing, height, link);
}

/// One plot of `metrics` for every stage, with the stages' markers.
#[allow(clippy::too_many_arguments)]
pub fn curve_plot(
    ui: &mut egui::Ui,
    id: &str,
    y_label: &str,
    history: &RunHistory,
    metrics: &[&str],
    smoothing: f64,
    height: f32,
    link: egui::Id,
) {
    let columns = ui.available_width().max(100.0) as usize;
    let series =
        history.stages.iter().map(|s| metrics.iter().filter(|m| s.series.contains_key(**m)).count()).sum::<usize>();
    let mut plot = Plot::new(id);
    // A lone series needs no legend; the axis label names it.
    if series > 1 {
        plot = plot.legend(Legend::default());
    }
    plot.height(height)
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .x_axis_label("step")
        .y_axis_label(y_label)
        .show(ui, |plot| {
            let mut index = 0;
            for stage in &history.stages {
                for metric in metrics {
                    let Some(points) = stage.series.get(*metric) else { continue };
                    let shown = decimate(&debiased_ema(points, smoothing), x_min(points), x_max(points), columns);
                    let name = format!("{} · {metric}", stage.name);
                    plot.line(Line::new(name, PlotPoints::from(shown)).color(series_color(index)));
                    index += 1;
                }
                draw_markers(plot, stage);
            }
        });
}

fn x_min(points: &[[f64; 2]]) -> f64 {
    points.first().map_or(0.0, |p| p[0])
}

fn x_max(points: &[[f64; 2]]) -> f64 {
    points.last().map_or(0.0, |p| p[0])
}

/// Vertical markers where T or α changed, labelled with the new value.
pub fn draw_markers(plot: &mut egui_plot::PlotUi, stage: &StageHistory) {
    let top = plot.plot_bounds().max()[1];
    for marker in &stage.markers {
        let label = match marker.parameter {
            Parameter::Temperature => format!("T={:.3}", marker.value),
            Parameter::Alpha => format!("α={:.3}", marker.value),
        };
        let x = marker.step as f64;
        let color = egui::Color32::from_rgb(200, 160, 40);
        // One legend entry per stage toggles all of its markers and their labels.
        let name = format!("{} · T/α changes", stage.name);
        plot.vline(VLine::new(name.clone(), x).color(color));
        plot.text(Text::new(name, PlotPoint::new(x, top), label).color(color).anchor(egui::Align2::LEFT_TOP));
    }
}
