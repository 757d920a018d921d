//! Training curves: total loss and each loss term, train and test accuracy, for every stage,
//! against step, epoch or training time; x-axes linked across the two plots, the legend beside
//! them (toggles per run, stage and series), a marker wherever T, α or β changed (labelled in
//! screen space, so markers never move the axes), exact values of the nearest point on hover,
//! TensorBoard smoothing, a log scale for losses, and long series decimated per pixel column.

use super::{Action, ExportedPlot, OverlayRun, PlotFrame, ViewContext, legend, series_color};
use crate::export::data::{ExportSeries, PlotNumbers};
use crate::export::svg::{PlotSeries, PlotSpec, format_tick, palette};
use crate::protocol::metric;
use crate::ui::history::{RunHistory, StageHistory};
use crate::ui::settings::XAxis;
use egui_plot::{GridInput, GridMark, Line, MarkerShape, Plot, PlotPoints, Points, Polygon, VLine};

/// One plot: its id, its y-axis label and which metrics it draws for every stage.
pub struct CurveSpec {
    pub id: &'static str,
    pub y_label: &'static str,
    pub shows: fn(&str) -> bool,
    /// The one metric drawn per stage when several runs are overlaid, to keep them readable.
    pub headline: &'static str,
    /// Whether the "log scale" toggle applies (losses span decades; accuracies do not).
    pub log_allowed: bool,
    /// Whether the smoothing slider applies (measurements are noisy; a set learning rate is not).
    pub smoothed: bool,
}

impl CurveSpec {
    /// The smoothing this plot's lines get.
    fn smoothing(&self, view: &ViewContext) -> f64 {
        if self.smoothed { view.settings.smoothing } else { 0.0 }
    }
}

/// The total loss and every term any method reports (`loss_ce`, `loss_kd`, `loss_at`, …).
pub const LOSS: CurveSpec = CurveSpec {
    id: "loss_plot",
    y_label: "loss",
    shows: |m| m.starts_with("loss"),
    headline: metric::LOSS,
    log_allowed: true,
    smoothed: true,
};
/// Train and test accuracy, and DML's peers' test accuracy.
pub const ACCURACY: CurveSpec = CurveSpec {
    id: "accuracy_plot",
    y_label: "accuracy",
    shows: |m| m.ends_with("_accuracy"),
    headline: metric::TEST_ACCURACY,
    log_allowed: false,
    smoothed: true,
};
/// The learning rate, drawn only where a warm-up or a schedule moves it (a flat line would
/// take a third of the view to say nothing).
pub const LEARNING_RATE: CurveSpec = CurveSpec {
    id: "learning_rate_plot",
    y_label: "learning rate",
    shows: |m| m == metric::LEARNING_RATE,
    headline: metric::LEARNING_RATE,
    log_allowed: false,
    smoothed: false,
};

/// The temperature, drawn only where it moved: the user steered it, or CTKD learns it.
pub const TEMPERATURE: CurveSpec = CurveSpec {
    id: "temperature_plot",
    y_label: "temperature",
    shows: |m| m == metric::TEMPERATURE,
    headline: metric::TEMPERATURE,
    log_allowed: false,
    smoothed: false,
};

/// The plots the view shows: loss and accuracy, and the learning rate and the temperature when
/// they changed in a plotted run (a stage's first and last values differ).
fn shown_specs(view: &ViewContext) -> Vec<&'static CurveSpec> {
    let varies = |spec: &CurveSpec| {
        plotted_runs(view).iter().flat_map(|(_, histories)| histories.iter()).any(|history| {
            history
                .stages
                .iter()
                .filter_map(|stage| stage.series.get(spec.headline))
                // First against last: O(1) a frame, however long the history.
                .any(|points| matches!((points.first(), points.last()), (Some(first), Some(last)) if first[1] != last[1]))
        })
    };
    let mut specs = vec![&LOSS, &ACCURACY];
    specs.extend([&LEARNING_RATE, &TEMPERATURE].into_iter().filter(|spec| varies(spec)));
    specs
}

/// Pixels between labelled grid lines, and the spacing at which the axes draw tick labels in
/// full (below the lower bound egui_plot drops them): room for "20000" on x, a line on y.
const Y_TICK_SPACING: f64 = 22.0;
const X_TICK_SPACING: f64 = 52.0;
const X_LABEL_SPACING: std::ops::RangeInclusive<f32> = 44.0..=50.0;
const Y_LABEL_SPACING: std::ops::RangeInclusive<f32> = 13.0..=18.0;
/// Tick labels a little smaller than the text, so a short plot (three stacked at 1024×700)
/// still labels two ticks.
const TICK_FONT: f32 = 11.0;
/// Pixels from the right end of the x axis within which no tick is labelled: half a label's
/// width, which the pane's edge would cut off ("20000" read "2000").
const X_EDGE: f64 = 18.0;

/// The x axis: round ticks labelled in full wherever they are far enough apart.
fn x_axis(label: &str) -> egui_plot::AxisHints<'static> {
    egui_plot::AxisHints::new_x()
        .label(label.to_string())
        .label_spacing(X_LABEL_SPACING)
        .tick_label_font(egui::FontId::proportional(TICK_FONT))
        .formatter(|mark, _| format_tick(mark.value))
}

/// The y axis, of values or (a log axis) of their logarithms.
fn y_axis(label: &str, log: bool) -> egui_plot::AxisHints<'static> {
    let hints = egui_plot::AxisHints::new_y()
        .label_spacing(Y_LABEL_SPACING)
        .tick_label_font(egui::FontId::proportional(TICK_FONT));
    match log {
        true => hints.label(format!("{label} (log)")).formatter(|mark, _| format_tick(10f64.powf(mark.value))),
        false => hints.label(label.to_string()).formatter(|mark, _| format_tick(mark.value)),
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
pub const MARKERS_KEY: &str = "markers";

pub fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    let specs = shown_specs(view);
    ui.horizontal_wrapped(|ui| {
        ui.add(egui::Slider::new(&mut view.settings.smoothing, 0.0..=0.99).text("Smoothing"))
            .on_hover_text("TensorBoard's debiased exponential moving average");
        x_axis_picker(ui, view);
        ui.checkbox(&mut view.settings.log_loss, "log loss").on_hover_text("Losses on a logarithmic axis");
        export_button(ui, view, &specs);
    });
    if view.history.is_none() {
        ui.label("No run yet.");
        return;
    }
    let wide = ui.available_width() >= 640.0;
    if !wide {
        legend::ui(ui, view, &specs, legend::Layout::Wrapped);
    }
    ui.horizontal_top(|ui| {
        let legend_width = if wide { legend::SIDE_WIDTH } else { 0.0 };
        let plots_width = (ui.available_width() - legend_width - 8.0).max(160.0);
        ui.vertical(|ui| {
            ui.set_width(plots_width);
            let height = (ui.available_height() / specs.len() as f32 - 4.0).max(80.0);
            let link = ui.scope_id().with("curves_link");
            for spec in &specs {
                curve_plot(ui, view, spec, height, link);
            }
        });
        if wide {
            ui.vertical(|ui| legend::ui(ui, view, &specs, legend::Layout::Side));
        }
    });
}

fn x_axis_picker(ui: &mut egui::Ui, view: &mut ViewContext) {
    let label = ui.label("x");
    let combo = egui::ComboBox::from_id_salt("x_axis").selected_text(view.settings.x_axis.label()).show_ui(ui, |ui| {
        for axis in XAxis::ALL {
            ui.selectable_value(&mut view.settings.x_axis, axis, axis.label());
        }
    });
    combo.response.labelled_by(label.id).on_hover_text("What the curves' x axis counts, per stage");
}

/// A run a curve stands for: its label, its seed and its raw points (borrowed: a frame never
/// copies a history).
pub struct Member<'a> {
    pub run: &'a str,
    pub seed: Option<u64>,
    pub raw: &'a [[f64; 2]],
}

/// One curve as drawn: where it comes from, the smoothed and decimated points in the plot's
/// coordinates, a ±1 std band for seed groups, and the raw points of each run it summarises.
pub struct Drawn<'a> {
    /// Legend name, also the hover's first line.
    pub name: String,
    pub stage: String,
    pub metric: String,
    /// The points in plot coordinates, and the step of each.
    pub points: Vec<[f64; 2]>,
    pub steps: Vec<f64>,
    pub band: Option<Vec<[f64; 3]>>,
    /// Each run the curve stands for (one, or a seed group's).
    pub members: Vec<Member<'a>>,
    pub steps_per_epoch: u64,
    /// Palette index, line style (0 solid, 1 dashed, 2 dotted, 3 long dashes) and the shape
    /// repeated along the line (0 none): with several runs, each stage of a run has a style and
    /// shape of its own (four styles, then the same with a shape).
    pub color: usize,
    pub dash: usize,
    pub shape: usize,
    /// For a fork's stage: the point (plot coordinates) where it branches off its parent.
    pub fork_point: Option<[f64; 2]>,
}

/// Whether the plots overlay several runs (each run's headline metric per stage) rather than
/// every series of the followed run.
pub fn overlaid(view: &ViewContext) -> bool {
    view.runs.iter().filter(|r| r.visible && r.history.is_some()).count() > 1
}

/// The runs a plot draws, a seed group once (its first member standing for it), with the
/// histories of the runs each stands for.
pub fn plotted_runs<'a>(view: &ViewContext<'a>) -> Vec<(OverlayRun<'a>, Vec<&'a RunHistory>)> {
    let visible: Vec<OverlayRun> = view.runs.iter().copied().filter(|r| r.visible && r.history.is_some()).collect();
    if !overlaid(view) {
        return view.followed().and_then(|r| Some((r, vec![r.history?]))).into_iter().collect();
    }
    let mut plotted: Vec<(OverlayRun, Vec<&RunHistory>)> = Vec::new();
    for run in visible.iter().copied() {
        match run.group {
            Some(group) if plotted.iter().any(|(r, _)| r.group.is_some_and(|g| g.id == group.id)) => {}
            Some(group) => {
                let members =
                    visible.iter().filter(|r| r.group.is_some_and(|g| g.id == group.id)).filter_map(|r| r.history);
                plotted.push((run, members.collect()));
            }
            None => plotted.extend(run.history.map(|h| (run, vec![h]))),
        }
    }
    plotted
}

/// The name a run goes by in legends: its label, a seed group's name with how many of its runs
/// have data.
pub fn run_name(run: &OverlayRun, members: usize) -> String {
    match run.group {
        Some(group) => format!("{} (mean of {members} of {} seeds)", group.name, group.size),
        None => run.label.to_string(),
    }
}

/// The names of the plotted runs' stages, in the order they first appear: a stage's place is its
/// line style and shape when several runs are overlaid (the same name, the same style).
pub fn stage_order(view: &ViewContext) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (run, _) in plotted_runs(view) {
        for stage in run.history.map(|h| h.stages.as_slice()).unwrap_or_default() {
            if !names.contains(&stage.name) {
                names.push(stage.name.clone());
            }
        }
    }
    names
}

/// The line style and shape of the `index`-th stage: four styles, then each again with a shape.
pub fn stage_style(index: usize) -> (usize, usize) {
    (index % 4, index / 4 % 5)
}

/// The metrics a spec draws for a stage, headline first, in a fixed order; a metric's place
/// is its line style when one run is shown.
pub fn stage_metrics<'s>(spec: &CurveSpec, stage: &'s StageHistory) -> Vec<&'s str> {
    let mut metrics: Vec<&str> = stage.series.keys().map(String::as_str).filter(|m| (spec.shows)(m)).collect();
    metrics.sort_by_key(|m| (*m != spec.headline, *m));
    metrics
}

/// The curves of a plot: every shown series of the followed run; with several visible runs,
/// each visible run's headline metric per stage, a seed group folded into its mean with a
/// ±1 std band. `x` is the visible x range (plot coordinates) when zoomed.
pub fn drawn_series<'a>(
    view: &mut ViewContext<'a>,
    spec: &CurveSpec,
    x: Option<std::ops::RangeInclusive<f64>>,
    columns: usize,
) -> Vec<Drawn<'a>> {
    let (smoothing, axis) = (spec.smoothing(view), view.settings.x_axis);
    let log_y = spec.log_allowed && view.settings.log_loss;
    let overlay = overlaid(view);
    let stage_names = stage_order(view);
    let mut drawn = Vec::new();
    for (run, members) in plotted_runs(view) {
        let Some(history) = members.first() else { continue };
        let prefix = if overlay { format!("{} · ", run_name(&run, members.len())) } else { String::new() };
        for (stage_index, stage) in history.stages.iter().enumerate() {
            if view.selection.hidden.contains(&legend::stage_key(&stage.name)) {
                continue;
            }
            let metrics = stage_metrics(spec, stage);
            for (rank, metric) in metrics.iter().enumerate() {
                let key = legend::series_key(&stage.name, metric);
                if (overlay && *metric != spec.headline) || (!overlay && view.selection.hidden.contains(&key)) {
                    continue;
                }
                let steps = x.clone().map(|r| axis.step_of(stage, *r.start())..=axis.step_of(stage, *r.end()));
                let curve = smoothed_curve(view, &run, &members, stage_index, metric, steps, columns, smoothing);
                let Some((points, band, raws)) = curve else { continue };
                let to_plot = |p: [f64; 2]| [axis.x_of(stage, p[0]), if log_y { log10(p[1]) } else { p[1] }];
                let band = band.map(|b| {
                    b.into_iter()
                        .map(|[s, low, high]| {
                            let [x, low] = to_plot([s, low]);
                            [x, low, if log_y { log10(high) } else { high }]
                        })
                        .collect()
                });
                let (color, (dash, shape)) = match overlay {
                    true => (run.color, stage_style(stage_names.iter().position(|n| *n == stage.name).unwrap_or(0))),
                    false => (stage_index, (rank, 0)),
                };
                let fork = history.info.as_ref().and_then(|i| i.fork).filter(|f| f.stage == stage_index);
                // Where the fork's curve starts: at the fork step (a loss, measured over steps,
                // starts at its first report after it).
                let fork_point = fork.and_then(|f| {
                    let raw = raws.first()?.raw.first().copied().filter(|p| p[0] >= f.step as f64)?;
                    Some(to_plot(raw)).filter(|p| p[1].is_finite())
                });
                drawn.push(Drawn {
                    name: format!("{prefix}{} · {metric}", stage.name),
                    stage: stage.name.clone(),
                    metric: metric.to_string(),
                    steps: points.iter().map(|p| p[0]).collect(),
                    points: points.into_iter().map(to_plot).filter(|p| p[1].is_finite()).collect(),
                    band,
                    members: raws,
                    steps_per_epoch: stage.steps_per_epoch(),
                    color,
                    dash,
                    shape,
                    fork_point,
                });
            }
        }
    }
    drawn
}

fn log10(value: f64) -> f64 {
    if value > 0.0 { value.log10() } else { f64::NAN }
}

/// What a curve draws in step coordinates: its points, a band for a group, and each member.
type Curve<'a> = (Vec<[f64; 2]>, Option<Vec<[f64; 3]>>, Vec<Member<'a>>);

/// The smoothed, decimated points of one metric of one stage: of the run, or the mean ± std of a
/// seed group's members.
#[allow(clippy::too_many_arguments)]
fn smoothed_curve<'a>(
    view: &mut ViewContext<'a>,
    run: &OverlayRun<'a>,
    members: &[&RunHistory],
    stage: usize,
    metric: &str,
    steps: Option<std::ops::RangeInclusive<f64>>,
    columns: usize,
    smoothing: f64,
) -> Option<Curve<'a>> {
    let member_runs: Vec<OverlayRun<'a>> = match run.group {
        Some(group) => {
            view.runs.iter().copied().filter(|r| r.visible && r.group.is_some_and(|g| g.id == group.id)).collect()
        }
        None => vec![*run],
    };
    let mut curves = Vec::new();
    let mut raws = Vec::new();
    for member in member_runs {
        let Some(points) = member.history.and_then(|h| h.stages.get(stage)).and_then(|s| s.series.get(metric)) else {
            continue;
        };
        raws.push(Member { run: member.label, seed: member.seed(), raw: points });
        let prefix = parent_prefix(&member, stage, metric, points.first().map_or(0.0, |p| p[0]));
        let series = view.selection.smoothed.entry((member.index, stage, metric.to_string())).or_default();
        series.update_after(prefix, points, smoothing);
        curves.push(if members.len() > 1 {
            series.points().to_vec()
        } else {
            series.decimated(steps.clone(), columns)
        });
    }
    if curves.is_empty() {
        return None;
    }
    let (points, band) = if curves.len() > 1 { mean_and_band(&curves, columns) } else { (curves.pop()?, None) };
    Some((points, band, raws))
}

/// For a fork's stage: its parent's points before the fork's first one (`first`), so the fork's
/// smoothed line goes on from its parent's instead of starting over.
fn parent_prefix<'a>(member: &OverlayRun<'a>, stage: usize, metric: &str, first: f64) -> &'a [[f64; 2]] {
    let forked_here =
        member.history.and_then(|h| h.info.as_ref()).and_then(|i| i.fork).is_some_and(|f| f.stage == stage);
    let parent = member.parent_history.filter(|_| forked_here);
    let Some(points) = parent.and_then(|h| h.stages.get(stage)).and_then(|s| s.series.get(metric)) else {
        return &[];
    };
    &points[..points.partition_point(|p| p[0] < first)]
}

/// Mean over curves at each step they share, with a ±1 std band; thinned to about `columns`.
fn mean_and_band(curves: &[Vec<[f64; 2]>], columns: usize) -> (Vec<[f64; 2]>, Option<Vec<[f64; 3]>>) {
    let (points, band) = crate::stats::mean_band(curves.iter().flatten().map(|p| (p[0] as u64, p[1])));
    let stride = points.len().div_ceil(columns.max(1)).max(1);
    (points.into_iter().step_by(stride).collect(), Some(band.into_iter().step_by(stride).collect()))
}

/// Grid marks 1, 2 or 5 × 10^k apart: at least three over the range where there is room, and
/// never closer than `spacing` pixels, so every plot has a few labelled ticks however small its
/// range; none within `edge` pixels of the upper end, where its label would be cut in half.
fn nice_marks(input: GridInput, spacing: f64, edge: f64) -> Vec<GridMark> {
    // egui_plot's base step is the value of its 8-pixel minimum line spacing.
    let per_pixel = input.base_step_size / 8.0;
    let (low, high) = input.bounds;
    let range = high - low;
    if !(range > 0.0 && per_pixel > 0.0) {
        return Vec::new();
    }
    let wanted = range / (range / per_pixel / spacing).clamp(3.0, 10.0);
    let mut step = nice_step_below(wanted);
    while step / per_pixel < spacing {
        step = nice_step_above(step * 1.000_001);
    }
    let mut marks = marks_every(step, low, high - edge * per_pixel);
    // One label says nothing about the scale: a step smaller, down to where labels still fit.
    while marks.len() < 2 {
        let smaller = nice_step_below(step * 0.999_999);
        if smaller / per_pixel < spacing * MIN_LABEL_SHARE {
            break;
        }
        step = smaller;
        marks = marks_every(step, low, high - edge * per_pixel);
    }
    marks
}

/// Two labels may come this much closer than the spacing asked for when there would otherwise
/// be only one (a short plot of a narrow range).
const MIN_LABEL_SHARE: f64 = 0.7;

/// Marks at every multiple of `step` from `low` to `high` (none when there would be too many).
fn marks_every(step: f64, low: f64, high: f64) -> Vec<GridMark> {
    let (first, last) = ((low / step).ceil() as i64, (high / step).floor() as i64);
    if last - first > 1000 {
        return Vec::new();
    }
    (first..=last).map(|k| GridMark { value: k as f64 * step, step_size: step }).collect()
}

/// The largest of 1, 2, 5 × 10^k not above `value`.
fn nice_step_below(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [5.0, 2.0, 1.0].iter().map(|m| m * magnitude).find(|s| *s <= value).unwrap_or(magnitude)
}

/// The smallest of 1, 2, 5 × 10^k not below `value`.
fn nice_step_above(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= value).unwrap_or(10.0 * magnitude)
}

/// One plot of the spec's metrics for every stage (of every visible run), with the followed
/// run's markers and the hovered point's values.
pub fn curve_plot(ui: &mut egui::Ui, view: &mut ViewContext, spec: &CurveSpec, height: f32, link: egui::Id) {
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
pub fn hover_text(curve: &Drawn, step: f64, smoothing: f64) -> String {
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

/// A dashed or dotted line's points: the min–max envelope averaged to about one point per three
/// pixel columns. Dashes are laid along the path, and the envelope's zig-zag would make the
/// path (and the dashes egui draws per frame) many times longer than the plot is wide, for no
/// more information: the solid lines keep the extremes.
fn thinned(points: &[[f64; 2]], columns: usize) -> Vec<[f64; 2]> {
    let chunk = (points.len() / (columns / 3).max(1)).max(1);
    if chunk == 1 {
        return points.to_vec();
    }
    points
        .chunks(chunk)
        .map(|c| {
            let n = c.len() as f64;
            [c.iter().map(|p| p[0]).sum::<f64>() / n, c.iter().map(|p| p[1]).sum::<f64>() / n]
        })
        .collect()
}

/// Pixels between two shapes along a line.
const SHAPE_SPACING: usize = 70;

/// About `count` of the points, evenly spread over the line.
fn spaced(points: &[[f64; 2]], count: usize) -> Vec<[f64; 2]> {
    let stride = (points.len() / count.max(1)).max(1);
    points.iter().step_by(stride).copied().collect()
}

/// The shape repeated along a line (1 circle, 2 square, 3 diamond, then a cross).
pub fn marker_shape(shape: usize) -> MarkerShape {
    match shape {
        1 => MarkerShape::Circle,
        2 => MarkerShape::Square,
        3 => MarkerShape::Diamond,
        _ => MarkerShape::Cross,
    }
}

/// Solid, dashed, dotted, long dashes, then around again: how the stages of one overlaid run
/// (or the metrics of one stage) differ.
pub fn line_style(dash: usize) -> egui_plot::LineStyle {
    match dash % 4 {
        0 => egui_plot::LineStyle::Solid,
        1 => egui_plot::LineStyle::dashed_loose(),
        2 => egui_plot::LineStyle::dotted_dense(),
        _ => egui_plot::LineStyle::Dashed { length: 16.0 },
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
pub fn export_button(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec]) {
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

/// The training curves view (stateless: what it shows lives in the run's history).
pub struct CurvesView;

impl super::View for CurvesView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Curves", title: "Training curves", beside: "" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(low: f64, high: f64, pixels: f64) -> Vec<f64> {
        let input = GridInput { bounds: (low, high), base_step_size: 8.0 * (high - low) / pixels };
        nice_marks(input, Y_TICK_SPACING, 0.0).into_iter().map(|m| m.value).collect()
    }

    #[test]
    fn short_plots_still_get_three_round_ticks() {
        assert_eq!(marks(0.1, 2.0, 120.0), [0.5, 1.0, 1.5, 2.0]);
        let accuracy = marks(0.45, 1.0, 120.0);
        assert!(accuracy.len() >= 3 && accuracy.iter().all(|v| (v * 10.0).fract().abs() < 1e-9), "{accuracy:?}");
        // Never closer than the label spacing, even on a tiny plot.
        let tiny = marks(0.0, 1.0, 40.0);
        assert!(tiny.windows(2).all(|w| (w[1] - w[0]) * 40.0 >= Y_TICK_SPACING), "{tiny:?}");
    }
}
