//! The curve plots the views share: what a plot draws ([`CurveSpec`]), drawing it with its
//! markers, fork rings and hover values ([`curve_plot`]), and exporting it as the screen shows
//! it ([`export_button`]). Which runs and curves it draws is [`select`]'s, its axes [`axes`]',
//! its line styles [`style`]'s.

pub(crate) mod axes;
pub(crate) mod select;
pub(crate) mod style;

use super::context::{Action, ExportedPlot, PlotFrame, ViewContext};
use super::history::RunHistory;
use super::settings::XAxis;
use super::widgets::series_color;
use crate::export::data::{ExportSeries, PlotNumbers};
use crate::export::svg::{PlotSeries, PlotSpec, format_tick, palette};
use axes::{X_EDGE, X_TICK_SPACING, Y_TICK_SPACING, nice_marks, x_axis, y_axis};
use egui_plot::{Line, MarkerShape, Plot, PlotPoints, Points, Polygon, VLine};
use select::{Drawn, drawn_series};
use style::{SHAPE_SPACING, line_style, marker_shape, spaced, thinned};

/// One plot: its id, its y-axis label and which metrics it draws for every stage.
pub(crate) struct CurveSpec {
    pub(crate) id: &'static str,
    pub(crate) y_label: &'static str,
    pub(crate) shows: fn(&str) -> bool,
    /// The one metric drawn per stage when several runs are overlaid, to keep them readable.
    pub(crate) headline: &'static str,
    /// Whether the "log scale" toggle applies (losses span decades; accuracies do not).
    pub(crate) log_allowed: bool,
    /// Whether the smoothing slider applies (measurements are noisy; a set learning rate is not).
    pub(crate) smoothed: bool,
}

impl CurveSpec {
    /// The smoothing this plot's lines get.
    pub(crate) fn smoothing(&self, view: &ViewContext) -> f64 {
        if self.smoothed { view.settings.smoothing } else { 0.0 }
    }
}

/// How close (pixels) the pointer must be to a point for its values to show.
const HOVER_RADIUS: f32 = 40.0;

const MARKER_COLOR: egui::Color32 = egui::Color32::from_rgb(
    crate::export::svg::MARKER_RGB[0],
    crate::export::svg::MARKER_RGB[1],
    crate::export::svg::MARKER_RGB[2],
);

/// The legend key that shows or hides the parameter-change markers.
pub(crate) const MARKERS_KEY: &str = "markers";

/// The key that hides a whole stage from the curves.
pub(crate) fn stage_key(stage: &str) -> String {
    format!("stage:{stage}")
}

/// The key that hides one series of the followed run.
pub(crate) fn series_key(stage: &str, metric: &str) -> String {
    format!("{stage} · {metric}")
}

/// One plot of the spec's metrics for every stage (of every visible run), with the followed
/// run's markers and the hovered point's values.
pub(crate) fn curve_plot(ui: &mut egui::Ui, view: &mut ViewContext, spec: &CurveSpec, height: f32, link: egui::Id) {
    let Some(history) = view.history else { return };
    let columns = ui.available_width().max(100.0) as usize;
    // The previous frame's x range, once the user has zoomed or panned.
    let range_id = ui.scope_id().with(("curve_x_range", spec.id));
    let zoomed: Option<std::ops::RangeInclusive<f64>> = ui.ctx().data(|d| d.get_temp(range_id));
    let drawn = drawn_series(view, spec, zoomed, columns);
    let axis = view.settings.x_axis;
    let log_y = spec.log_allowed && view.settings.log_loss;
    let show_markers = !view.selection.hidden.contains(MARKERS_KEY);
    let mut plot = Plot::new(spec.id)
        .height(height)
        // The wheel pans along x only: panning y would scroll the curves out of sight.
        .allow_scroll([true, false])
        .link_axis(link, [true, false])
        .link_cursor(link, [true, false])
        .custom_x_axes(vec![x_axis(axis.label())])
        .custom_y_axes(vec![y_axis(spec.y_label, log_y)])
        .x_grid_spacer(|input| nice_marks(input, X_TICK_SPACING, X_EDGE))
        .y_grid_spacer(|input| nice_marks(input, Y_TICK_SPACING, 0.0))
        .show_x(false)
        .show_y(false)
        .label_formatter(|_| None);
    if axis == XAxis::Fraction {
        // Every run's planned stage from 0 to 1, side by side; a stage that trained past its
        // plan (kept training) is there to zoom out to.
        plot = plot.default_x_bounds(0.0, 1.0);
    }
    let markers: Vec<(f64, String)> = if show_markers { marker_positions(history, axis) } else { Vec::new() };
    let response = plot.show(ui, |plot| {
        for curve in &drawn {
            let color = series_color(curve.color);
            if let Some(band) = &curve.band {
                draw_band(plot, &curve.name, band, color);
            }
            let points = if curve.dash == 0 { curve.points.clone() } else { thinned(&curve.points, columns) };
            if curve.shape > 0 {
                let along = Points::new(curve.name.as_str(), spaced(&curve.points, columns / SHAPE_SPACING));
                plot.points(
                    along.shape(marker_shape(curve.shape)).radius(3.5).filled(true).color(color).allow_hover(false),
                );
            }
            let line = Line::new(curve.name.as_str(), PlotPoints::from(points)).color(color);
            plot.line(line.style(line_style(curve.dash)).allow_hover(false));
            if let Some(point) = curve.fork_point {
                // Where the fork leaves its parent's curve.
                let ring = Points::new(curve.name.as_str(), vec![point]).shape(MarkerShape::Circle).radius(5.0);
                plot.points(ring.filled(false).color(color).allow_hover(false));
            }
        }
        for (x, _) in &markers {
            plot.vline(VLine::new("parameter changes", *x).color(MARKER_COLOR).allow_hover(false));
        }
        (!plot.auto_bounds().x).then(|| plot.plot_bounds().range_x())
    });
    let bounds = response.transform.bounds();
    let frame = PlotFrame {
        rect: *response.transform.frame(),
        bounds: [[bounds.min()[0], bounds.min()[1]], [bounds.max()[0], bounds.max()[1]]],
    };
    label_markers(ui, &frame, &markers);
    if let Some(pointer) = response.response.hover_pos() {
        let hovered = nearest_point(&drawn, &frame, pointer);
        if let Some((curve, index)) = hovered {
            show_hover(ui, &response.response, &frame, &drawn[curve], index, history, spec.smoothing(view), axis);
        }
    }
    view.selection.plots.insert(spec.id, frame);
    ui.ctx().data_mut(|d| match response.inner {
        Some(range) => {
            d.insert_temp(range_id, range);
        }
        None => d.remove::<std::ops::RangeInclusive<f64>>(range_id),
    });
}

/// Where the followed run's parameter changes are on the x axis, with their labels.
fn marker_positions(history: &RunHistory, axis: XAxis) -> Vec<(f64, String)> {
    let mut markers = Vec::new();
    for stage in &history.stages {
        for marker in &stage.markers {
            let label = format!("{}={}", marker.parameter.symbol(), format_tick(marker.value));
            markers.push((axis.x_of(stage, marker.step as f64), label));
        }
    }
    markers
}

/// Marker labels along the top of the plot area, drawn on the screen rather than in the plot,
/// so they never count in its bounds; a label that would overlap another goes a row lower (as
/// many rows as the plot has room for), else only its line is drawn.
fn label_markers(ui: &egui::Ui, frame: &PlotFrame, markers: &[(f64, String)]) {
    let painter = ui.painter().with_clip_rect(frame.rect);
    let font = egui::FontId::proportional(11.0);
    let shown: Vec<(egui::Pos2, &str)> = markers
        .iter()
        .map(|(x, label)| (frame.screen_of([*x, frame.bounds[1][1]]), label.as_str()))
        .filter(|(at, _)| frame.rect.x_range().contains(at.x))
        .collect();
    let widths: Vec<(f64, f64)> = shown
        .iter()
        .map(|(at, label)| {
            let width = painter.layout_no_wrap(label.to_string(), font.clone(), MARKER_COLOR).size().x;
            // A label that will go left of its line is placed from where it starts.
            let right_end = f64::from(frame.rect.right());
            let start = f64::from(at.x + 3.0);
            let start = if start + f64::from(width) > right_end { start - 6.0 - f64::from(width) } else { start };
            (start, f64::from(width))
        })
        .collect();
    let rows = ((frame.rect.height() / 3.0 / 13.0) as usize).clamp(1, 3);
    let rows_of = crate::export::svg::stack_labels(widths.iter().copied(), rows);
    for (((at, label), row), &(_, width)) in shown.iter().zip(rows_of).zip(widths.iter()) {
        let Some(row) = row else { continue };
        let y = at.y + 2.0 + 13.0 * row as f32;
        // Right of its line, or left of it where the plot ends first.
        let (x, align) = match at.x + 3.0 + width as f32 > frame.rect.right() {
            true => (at.x - 3.0, egui::Align2::RIGHT_TOP),
            false => (at.x + 3.0, egui::Align2::LEFT_TOP),
        };
        painter.text(egui::pos2(x, y), align, *label, font.clone(), MARKER_COLOR);
    }
}

/// The curve and point nearest the pointer on the screen, within [`HOVER_RADIUS`].
fn nearest_point(drawn: &[Drawn], frame: &PlotFrame, pointer: egui::Pos2) -> Option<(usize, usize)> {
    let mut best: Option<(f32, usize, usize)> = None;
    for (c, curve) in drawn.iter().enumerate() {
        for (i, point) in curve.points.iter().enumerate() {
            let distance = frame.screen_of(*point).distance(pointer);
            if distance <= HOVER_RADIUS && best.is_none_or(|(d, _, _)| distance < d) {
                best = Some((distance, c, i));
            }
        }
    }
    best.map(|(_, c, i)| (c, i))
}

/// The exact values at a curve's point: run, stage, metric, step, epoch, value (the raw one;
/// the smoothed one beside it), a group's mean ± std; the point is ringed.
#[allow(clippy::too_many_arguments)]
fn show_hover(
    ui: &egui::Ui,
    response: &egui::Response,
    frame: &PlotFrame,
    curve: &Drawn,
    index: usize,
    history: &RunHistory,
    smoothing: f64,
    axis: XAxis,
) {
    let Some(&point) = curve.points.get(index) else { return };
    let step = curve.steps.get(index).copied().unwrap_or(point[0]);
    let color = series_color(curve.color);
    ui.painter().with_clip_rect(frame.rect).circle_stroke(frame.screen_of(point), 5.0, egui::Stroke::new(2.0, color));
    let text = hover_text(curve, step, smoothing);
    let seconds = history.stages.iter().find(|s| s.name == curve.stage).map(|s| s.seconds_at(step));
    let time = match (axis, seconds) {
        (XAxis::Time, Some(s)) => format!("\ntrained {s:.1} s"),
        _ => String::new(),
    };
    // Shown at once (a tooltip would wait half a second) and kept on the screen.
    let Some(pointer) = response.hover_pos() else { return };
    egui::Area::new(response.id.with("hover_values"))
        .order(egui::Order::Tooltip)
        .fixed_pos(pointer + egui::vec2(16.0, 16.0))
        .constrain(true)
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| {
                ui.label(format!("{text}{time}"));
            });
        });
}

/// What hovering a curve's point at `step` says.
pub(crate) fn hover_text(curve: &Drawn, step: f64, smoothing: f64) -> String {
    let epoch = match curve.steps_per_epoch {
        0 => String::new(),
        per_epoch => format!(", epoch {}", (step as u64).div_ceil(per_epoch).max(1)),
    };
    let at = |raw: &[[f64; 2]]| {
        let i = raw.partition_point(|p| p[0] < step);
        [i.checked_sub(1), Some(i)]
            .into_iter()
            .flatten()
            .filter_map(|i| raw.get(i))
            .min_by(|a, b| (a[0] - step).abs().total_cmp(&(b[0] - step).abs()))
            .map(|p| p[1])
    };
    let values: Vec<f64> = curve.members.iter().filter_map(|m| at(m.raw)).collect();
    let value = match values.as_slice() {
        [one] => format!("{} = {}", curve.metric, exact(*one)),
        many => format!(
            "{} = {} ± {} (mean ± std of {} seeds)",
            curve.metric,
            exact(crate::stats::mean(many)),
            exact(crate::stats::sample_std(many)),
            many.len()
        ),
    };
    let runs: Vec<String> = curve
        .members
        .iter()
        .map(|m| m.seed.map_or_else(|| m.run.to_string(), |seed| format!("{} (seed {seed})", m.run)))
        .collect();
    let smoothed = if smoothing > 0.0 { format!("\n(the line: smoothed {smoothing:.2})") } else { String::new() };
    format!(
        "{}\nrun {}\nstage {}\nstep {}{epoch}\n{value}{smoothed}",
        curve.name,
        runs.join(", "),
        curve.stage,
        step as u64
    )
}

/// A value with the digits that matter: six significant ones.
fn exact(value: f64) -> String {
    if value == 0.0 || (1e-3..1e6).contains(&value.abs()) {
        let digits = (5 - value.abs().log10().floor() as i32).clamp(0, 8) as usize;
        format!("{value:.digits$}")
    } else {
        format!("{value:.5e}")
    }
}

/// A ±1 std band as a strip of small convex quads (egui fills convex polygons only), under the
/// same legend name as its line.
fn draw_band(plot: &mut egui_plot::PlotUi, name: &str, band: &[[f64; 3]], color: egui::Color32) {
    let fill = color.gamma_multiply(0.25);
    for pair in band.windows(2) {
        let [a, b] = [pair[0], pair[1]];
        let quad = vec![[a[0], a[1]], [b[0], b[1]], [b[0], b[2]], [a[0], a[2]]];
        let polygon = Polygon::new(name, PlotPoints::from(quad)).fill_color(fill).stroke(egui::Stroke::NONE);
        plot.polygon(polygon.allow_hover(false));
    }
}

/// A button that exports the given plots (SVG, PNG, CSV, JSON) to the export folder.
pub(crate) fn export_button(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec]) {
    let hint = format!(
        "Writes each plot as SVG and PNG (drawn from the data, 2x), and its points as CSV and JSON, into {}",
        view.settings.export_dir.display()
    );
    let enabled = view.history.is_some();
    if ui.add_enabled(enabled, egui::Button::new("Export plots")).on_hover_text(hint).clicked() {
        let plots = specs.iter().map(|spec| exported_plot(view, spec)).collect();
        view.actions.push(Action::Export(plots));
    }
}

/// A plot as exported: the drawn (smoothed, decimated) curves and every run's raw points.
fn exported_plot(view: &mut ViewContext, spec: &CurveSpec) -> ExportedPlot {
    let drawn = drawn_series(view, spec, None, 900);
    let log_y = spec.log_allowed && view.settings.log_loss;
    let to_value = |p: [f64; 2]| if log_y { [p[0], 10f64.powf(p[1])] } else { p };
    let shows_markers = !view.selection.hidden.contains(MARKERS_KEY);
    let markers = match (view.history, shows_markers) {
        (Some(history), true) => marker_positions(history, view.settings.x_axis),
        _ => Vec::new(),
    };
    ExportedPlot {
        stem: spec.id.trim_end_matches("_plot").to_string(),
        spec: PlotSpec {
            title: format!("{} (smoothing {:.2})", spec.y_label, spec.smoothing(view)),
            x_label: view.settings.x_axis.label().into(),
            y_label: spec.y_label.into(),
            series: drawn
                .iter()
                .map(|d| PlotSeries {
                    name: d.name.clone(),
                    color: palette(d.color),
                    dash: d.dash,
                    shape: d.shape,
                    ring: d.fork_point.map(to_value),
                    points: d.points.iter().map(|&p| to_value(p)).collect(),
                    band: d.band.as_ref().map(|b| {
                        b.iter().map(|&[x, low, high]| [x, to_value([x, low])[1], to_value([x, high])[1]]).collect()
                    }),
                    dots: false,
                })
                .collect(),
            log_y,
            log_x: false,
            markers,
        },
        numbers: PlotNumbers::Series(
            drawn
                .into_iter()
                .flat_map(|d| {
                    let (stage, metric, steps_per_epoch) = (d.stage, d.metric, d.steps_per_epoch);
                    d.members.into_iter().map(move |m| ExportSeries {
                        run: m.run.to_string(),
                        seed: m.seed,
                        stage: stage.clone(),
                        metric: metric.clone(),
                        steps_per_epoch,
                        points: m.raw.to_vec(),
                    })
                })
                .collect(),
        ),
    }
}
