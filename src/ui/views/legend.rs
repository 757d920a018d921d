//! The curves' legend, outside the plots: with several runs, each run with its colour swatch
//! (a checkbox shows or hides it everywhere, a click follows it) and each stage with its line
//! style; with one run, each stage with its colour and its series with their line styles. Every
//! entry toggles what it names; the parameter-change markers have an entry too.

use crate::ui::context::{Action, ViewContext};
use crate::ui::plot::select::{overlaid, plotted_runs, run_name, stage_metrics, stage_order, stage_style};
use crate::ui::plot::style::{line_style, marker_shape};
use crate::ui::plot::{CurveSpec, MARKERS_KEY, series_key, stage_key};
use crate::ui::widgets::series_color;
use std::collections::BTreeSet;

/// Width of the legend beside the plots.
pub(crate) const SIDE_WIDTH: f32 = 200.0;

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A column beside the plots.
    Side,
    /// Rows above the plots, wrapped (narrow panes).
    Wrapped,
}

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec], layout: Layout) {
    let body = |ui: &mut egui::Ui, view: &mut ViewContext| {
        if overlaid(view) {
            runs(ui, view, layout);
            stages_by_style(ui, view, specs, layout);
        } else {
            series_of_followed_run(ui, view, specs, layout);
        }
        markers_entry(ui, view);
    };
    match layout {
        Layout::Side => {
            ui.set_width(SIDE_WIDTH);
            egui::ScrollArea::vertical().id_salt(("legend", specs.first().map(|s| s.id))).show(ui, |ui| body(ui, view));
        }
        Layout::Wrapped => {
            // At most a quarter of the pane (it scrolls beyond), so many runs never crush the
            // plots below it.
            let most = (ui.available_height() * 0.25).clamp(WRAPPED_MIN, WRAPPED_MAX);
            egui::ScrollArea::vertical()
                .id_salt(("legend_wrapped", specs.first().map(|s| s.id)))
                .max_height(most)
                .auto_shrink([false, true])
                .show(ui, |ui| ui.horizontal_wrapped(|ui| body(ui, view)));
        }
    }
}

/// The height a legend above its plots may take: at least two rows, at most five.
const WRAPPED_MIN: f32 = 44.0;
const WRAPPED_MAX: f32 = 110.0;

/// Each run (a seed group once): show/hide, colour, name (click to follow); queued runs are
/// listed greyed.
fn runs(ui: &mut egui::Ui, view: &mut ViewContext, layout: Layout) {
    heading(ui, "Runs (colour)", layout);
    let mut seen_groups = Vec::new();
    let mut entries: Vec<(usize, Vec<usize>, String, usize, bool, bool)> = Vec::new();
    for run in &view.runs {
        let members: Vec<usize> = match run.group {
            Some(group) if seen_groups.contains(&group.id) => continue,
            Some(group) => {
                seen_groups.push(group.id);
                view.runs.iter().filter(|m| m.group.is_some_and(|g| g.id == group.id)).map(|m| m.index).collect()
            }
            None => vec![run.index],
        };
        let started = members.iter().filter(|&&m| view.runs[m].history.is_some()).count();
        let mut name = run_name(run, started);
        if let Some(parent) = run.parent {
            name = format!("{name} (fork of {parent})");
        }
        entries.push((run.index, members, name, run.color, run.visible, started > 0));
    }
    for (index, members, name, color, visible, started) in entries {
        let label = if started { name } else { format!("{name} (queued)") };
        entry(ui, layout, &label, |ui| {
            let mut shown = visible;
            if ui
                .add_enabled(started, egui::Checkbox::without_text(&mut shown))
                .on_hover_text("Show this run")
                .changed()
            {
                view.actions.extend(members.iter().map(|&m| Action::ShowRun(m, shown)));
            }
            swatch(ui, series_color(color), (0, 0), 0.0);
            let followed = members.contains(&view.current_run);
            let text = egui::Button::selectable(followed, label.as_str()).truncate();
            let response =
                ui.add(text).on_hover_text(format!("{label}\nClick to follow this run in the per-run views"));
            if response.clicked() {
                view.actions.push(Action::FollowRun(index));
            }
        });
    }
}

/// One legend entry: in a row of its own (side), or a box that wraps as a whole (wrapped).
fn entry(ui: &mut egui::Ui, layout: Layout, text: &str, add: impl FnOnce(&mut egui::Ui)) {
    match layout {
        Layout::Side => {
            ui.horizontal(add);
        }
        Layout::Wrapped => {
            let font = egui::TextStyle::Body.resolve(ui.style());
            let text_width = ui.fonts_mut(|f| f.layout_no_wrap(text.to_string(), font, egui::Color32::WHITE).size().x);
            let width = (text_width + 64.0).min(ui.available_width().max(120.0));
            let height = ui.spacing().interact_size.y;
            ui.allocate_ui_with_layout(
                egui::vec2(width, height),
                egui::Layout::left_to_right(egui::Align::Center),
                add,
            );
        }
    }
}

/// The stages of the plotted runs, by line style, each hideable.
fn stages_by_style(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec], layout: Layout) {
    heading(ui, "Stages (line style)", layout);
    let histories: Vec<_> = plotted_runs(view).iter().filter_map(|(run, _)| run.history).collect();
    let drawn = |name: &str| {
        histories.iter().any(|history| {
            let stage = history.stages.iter().find(|s| s.name == name);
            stage.is_some_and(|stage| specs.iter().any(|spec| stage.series.contains_key(spec.headline)))
        })
    };
    let shown: Vec<(usize, String)> =
        stage_order(view).into_iter().enumerate().filter(|(_, name)| drawn(name)).collect();
    let text = ui.visuals().text_color();
    for (index, name) in shown {
        toggle(ui, view, &stage_key(&name), &name, text, stage_style(index));
    }
}

/// The followed run's stages (colour) and their series (line style), each hideable.
fn series_of_followed_run(ui: &mut egui::Ui, view: &mut ViewContext, specs: &[&CurveSpec], layout: Layout) {
    let Some(history) = view.history else { return };
    heading(ui, "Stages and series", layout);
    for (index, stage) in history.stages.iter().enumerate() {
        let metrics: BTreeSet<(usize, &str)> =
            specs.iter().flat_map(|spec| stage_metrics(spec, stage).into_iter().enumerate()).collect();
        if metrics.is_empty() {
            continue;
        }
        let color = series_color(index);
        toggle(ui, view, &stage_key(&stage.name), &stage.name, color, (0, 0));
        let hidden = view.selection.hidden.contains(&stage_key(&stage.name));
        let series = |ui: &mut egui::Ui, view: &mut ViewContext| {
            ui.add_enabled_ui(!hidden, |ui| {
                for (rank, metric) in metrics {
                    toggle(ui, view, &series_key(&stage.name, metric), metric, color, (rank, 0));
                }
            });
        };
        match layout {
            Layout::Side => {
                ui.indent(("legend_series", index), |ui| series(ui, view));
            }
            Layout::Wrapped => series(ui, view),
        }
    }
}

/// The entry that shows or hides the parameter-change markers.
fn markers_entry(ui: &mut egui::Ui, view: &mut ViewContext) {
    let any = view.history.is_some_and(|h| h.stages.iter().any(|s| !s.markers.is_empty()));
    if any {
        let [r, g, b] = crate::export::svg::MARKER_RGB;
        toggle(ui, view, MARKERS_KEY, crate::export::svg::MARKERS_NAME, egui::Color32::from_rgb(r, g, b), (0, 0));
    }
}

fn heading(ui: &mut egui::Ui, text: &str, layout: Layout) {
    match layout {
        Layout::Side => {
            ui.label(egui::RichText::new(text).strong());
        }
        Layout::Wrapped => {
            ui.label(egui::RichText::new(format!("{text}:")).strong());
        }
    }
}

/// A checkbox, a line swatch (line style and shape) and a name; unticking adds `key` to the
/// hidden set.
fn toggle(
    ui: &mut egui::Ui,
    view: &mut ViewContext,
    key: &str,
    name: &str,
    color: egui::Color32,
    (dash, shape): (usize, usize),
) {
    let layout = if ui.layout().main_wrap { Layout::Wrapped } else { Layout::Side };
    entry(ui, layout, name, |ui| {
        let mut shown = !view.selection.hidden.contains(key);
        if ui.checkbox(&mut shown, "").on_hover_text(format!("Show {name}")).changed() {
            if shown {
                view.selection.hidden.remove(key);
            } else {
                view.selection.hidden.insert(key.to_string());
            }
        }
        swatch(ui, color, (dash, shape), 22.0);
        ui.add(egui::Label::new(name).truncate()).on_hover_text(name);
    });
}

/// A legend's copy of the shape drawn along a line.
fn paint_shape(painter: &egui::Painter, shape: usize, centre: egui::Pos2, color: egui::Color32) {
    let r = 3.5;
    match marker_shape(shape) {
        egui_plot::MarkerShape::Circle => {
            painter.circle_filled(centre, r, color);
        }
        egui_plot::MarkerShape::Square => {
            painter.rect_filled(egui::Rect::from_center_size(centre, egui::vec2(2.0 * r, 2.0 * r)), 0.0, color);
        }
        egui_plot::MarkerShape::Diamond => {
            let points = vec![
                centre + egui::vec2(0.0, -r - 1.0),
                centre + egui::vec2(r + 1.0, 0.0),
                centre + egui::vec2(0.0, r + 1.0),
                centre + egui::vec2(-r - 1.0, 0.0),
            ];
            painter.add(egui::Shape::convex_polygon(points, color, egui::Stroke::NONE));
        }
        _ => {
            let stroke = egui::Stroke::new(2.0, color);
            painter.line_segment([centre + egui::vec2(-r, -r), centre + egui::vec2(r, r)], stroke);
            painter.line_segment([centre + egui::vec2(-r, r), centre + egui::vec2(r, -r)], stroke);
        }
    }
}

/// A short line in a colour and line style (`width` 0: a filled square).
fn swatch(ui: &mut egui::Ui, color: egui::Color32, (dash, shape): (usize, usize), width: f32) {
    let size = egui::vec2(width.max(12.0), 12.0);
    let (rect, _) = ui.allocate_exact_size(size, egui::Sense::hover());
    let painter = ui.painter();
    if width == 0.0 {
        painter.rect_filled(rect.shrink(1.0), 2.0, color);
        return;
    }
    if shape > 0 {
        paint_shape(painter, shape, rect.center(), color);
    }
    let y = rect.center().y;
    let stroke = egui::Stroke::new(2.5, color);
    let points = [egui::pos2(rect.left(), y), egui::pos2(rect.right(), y)];
    match line_style(dash) {
        egui_plot::LineStyle::Solid => {
            painter.line_segment(points, stroke);
        }
        egui_plot::LineStyle::Dotted { spacing } => {
            painter.extend(egui::Shape::dotted_line(&points, color, spacing.min(5.0), 1.3));
        }
        egui_plot::LineStyle::Dashed { length } => {
            painter.extend(egui::Shape::dashed_line(&points, stroke, (length / 2.0).min(7.0), 3.0));
        }
    }
}
