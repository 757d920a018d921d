//! Soft targets across temperatures, the "dark knowledge" picture: for a chosen test example,
//! the teacher's and the student's class probabilities at a row of temperatures (the current T
//! highlighted), and the teacher's entropy against T on a log axis. Probabilities are computed
//! here from the logits the engine sent, so the view follows the T slider at once.

use crate::export::table::Table;
use crate::logits::softmax_row;
use crate::protocol::InputShape;
use crate::protocol::{DataInfo, Parameter, TEMPERATURE};
use crate::ui::context::ViewContext;
use crate::ui::widgets::{export_data_button, probed_stage};
use egui_plot::{AxisHints, Bar, BarChart, GridInput, GridMark, Line, Plot, PlotPoints, VLine};

/// The temperatures shown side by side.
pub(crate) const TEMPERATURES: [f64; 5] = [1.0, 2.0, 4.0, 8.0, 16.0];
const TEACHER_COLOR: egui::Color32 = egui::Color32::from_rgb(31, 119, 180);
const STUDENT_COLOR: egui::Color32 = egui::Color32::from_rgb(255, 127, 14);
const HIGHLIGHT: egui::Color32 = egui::Color32::from_rgb(200, 160, 40);
/// The entropy plot keeps room for its curve, ticks and axis label (the pane scrolls).
const ENTROPY_MIN_HEIGHT: f32 = 150.0;

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext, sample: &mut usize) {
    // The pane scrolls when it is too short for the bars and the entropy plot.
    egui::ScrollArea::vertical().id_salt("soft_targets_scroll").show(ui, |ui| contents(ui, view, sample));
}

fn contents(ui: &mut egui::Ui, view: &mut ViewContext, chosen: &mut usize) {
    let Some((history, info, probe)) = probed_stage(ui, view, "soft_target_stage") else { return };
    if probe.examples.is_empty() {
        ui.label(match probe.text {
            Some(_) => {
                "No test examples to soften: a language model's next-character distributions, at T = 1 and \
                        at the current T, are in the Next token view."
            }
            None => "No probe examples in this run.",
        });
        return;
    }
    sample_strip(ui, view, info, chosen);
    let Some(stage) = view.shown_stage().and_then(|s| history.stages.get(s)) else { return };
    let classes = probe.classes;
    let sample = (*chosen).min(probe.examples.len().saturating_sub(1));
    let row = |logits: &[f32]| logits[sample * classes..(sample + 1) * classes].to_vec();
    let student = row(&probe.logits);
    let teacher = probe.teacher_logits.as_deref().map(row);
    let current = current_temperature(view, stage);
    let label = &info.class_names[info.probe_labels.get(sample).copied().unwrap_or(0) as usize];
    ui.label(format!("test example #{} (label {label}), step {}", probe.examples[sample], probe.step));
    export_data_button(ui, view, probe.stage, probe.step, || {
        vec![("soft_targets".into(), probability_table(probe, info, current))]
    });
    temperature_row(ui, &student, teacher.as_deref(), current, &info.class_names);
    ui.add_space(6.0);
    entropy_plot(ui, teacher.as_deref().unwrap_or(&student), teacher.is_some(), current);
}

/// The temperature the views show for a stage: the slider's while the user moves it on the
/// running stage, else the stage's own.
pub(crate) fn current_temperature(view: &ViewContext, stage: &crate::ui::history::StageHistory) -> Option<f64> {
    let steering = view.history.and_then(|h| h.steerable_stage()).is_some_and(|s| s.name == stage.name);
    let pending = view.selection.pending.get(&Parameter::of(&TEMPERATURE)).copied();
    if steering { pending.or(stage.value(TEMPERATURE.name)) } else { stage.value(TEMPERATURE.name) }
}

/// Thumbnails of the probe images (or row numbers for tabular data) to pick a sample.
fn sample_strip(ui: &mut egui::Ui, view: &mut ViewContext, info: &DataInfo, chosen: &mut usize) {
    let shown = *chosen;
    if let Some(clicked) = example_strip(ui, view, info, "sample_strip", |i| i == shown) {
        *chosen = clicked;
    }
}

/// A strip of the probe examples (thumbnails for images, row numbers otherwise), those for
/// which `selected` holds highlighted; returns the one clicked.
pub(crate) fn example_strip(
    ui: &mut egui::Ui,
    view: &mut ViewContext,
    info: &DataInfo,
    id: &str,
    selected: impl Fn(usize) -> bool,
) -> Option<usize> {
    if info.shape.is_image() && view.selection.thumbnails.len() != info.probe_features.len() {
        view.selection.thumbnails = thumbnails(ui.ctx(), info);
    }
    let mut clicked = None;
    egui::ScrollArea::horizontal().id_salt(id).show(ui, |ui| {
        ui.horizontal(|ui| {
            for (i, &label) in info.probe_labels.iter().enumerate() {
                let name = format!("example {} (label {})", info.probe_examples[i], info.class_names[label as usize]);
                let response = match view.selection.thumbnails.get(i) {
                    Some(texture) => {
                        let image = egui::Image::new((texture.id(), egui::vec2(28.0, 28.0))).alt_text(&name);
                        ui.add(egui::Button::image(image).selected(selected(i))).on_hover_text(&name)
                    }
                    None => {
                        ui.selectable_label(selected(i), format!("#{}", info.probe_examples[i])).on_hover_text(&name)
                    }
                };
                if response.clicked() {
                    clicked = Some(i);
                }
            }
        });
    });
    clicked
}

fn thumbnails(ctx: &egui::Context, info: &DataInfo) -> Vec<egui::TextureHandle> {
    let InputShape::Image { channels, height, width } = info.shape else { return Vec::new() };
    info.probe_features
        .iter()
        .enumerate()
        .map(|(i, pixels)| {
            let max = pixels.iter().copied().fold(f32::MIN, f32::max).max(1e-6);
            let min = pixels.iter().copied().fold(f32::MAX, f32::min);
            let gray: Vec<u8> = (0..height * width)
                .map(|p| {
                    let mean = (0..channels).map(|c| pixels[c * height * width + p]).sum::<f32>() / channels as f32;
                    (255.0 * (mean - min) / (max - min).max(1e-6)) as u8
                })
                .collect();
            let image = egui::ColorImage::from_gray([width, height], &gray);
            ctx.load_texture(format!("probe_{i}"), image, egui::TextureOptions::NEAREST)
        })
        .collect()
}

/// Every probe example's class probabilities, teacher's and stage's, at each temperature.
fn probability_table(probe: &crate::protocol::Probe, info: &DataInfo, current: Option<f64>) -> Table {
    let mut table = Table::new(&["example", "label", "model", "temperature", "class", "probability"]);
    let classes = probe.classes;
    let mut temperatures = TEMPERATURES.to_vec();
    temperatures.extend(current.filter(|t| !TEMPERATURES.contains(t)));
    let models = [("teacher", probe.teacher_logits.as_deref()), ("student", Some(probe.logits.as_slice()))];
    for (row, &example) in probe.examples.iter().enumerate() {
        let label =
            info.probe_labels.get(row).and_then(|&l| info.class_names.get(l as usize)).cloned().unwrap_or_default();
        for (model, logits) in models.iter().filter_map(|(m, l)| l.map(|l| (m, l))) {
            let Some(logits) = logits.get(row * classes..(row + 1) * classes) else { continue };
            for &t in &temperatures {
                for (class, p) in crate::logits::softmax_row(logits, t).into_iter().enumerate() {
                    let name = info.class_names.get(class).cloned().unwrap_or_default();
                    table.push(vec![
                        example.to_string(),
                        label.clone(),
                        model.to_string(),
                        t.to_string(),
                        name,
                        p.to_string(),
                    ]);
                }
            }
        }
    }
    table
}

/// Bar charts of class probabilities at each temperature, side by side, class names under the
/// bars.
fn temperature_row(
    ui: &mut egui::Ui,
    student: &[f32],
    teacher: Option<&[f32]>,
    current: Option<f64>,
    class_names: &[String],
) {
    let mut temperatures = TEMPERATURES.to_vec();
    if let Some(t) = current
        && !temperatures.iter().any(|&x| (x - t).abs() < 1e-9)
    {
        temperatures.push(t);
        temperatures.sort_by(f64::total_cmp);
    }
    let spacing = ui.spacing().item_spacing.x;
    let count = temperatures.len() as f32;
    let width = ((ui.available_width() - spacing * (count - 1.0)) / count).max(40.0);
    let height = (ui.available_height() * 0.45).clamp(90.0, 220.0);
    ui.horizontal(|ui| match teacher {
        Some(_) => {
            ui.colored_label(TEACHER_COLOR, "teacher (left bar)");
            ui.colored_label(STUDENT_COLOR, "student (right bar)");
        }
        None => {
            ui.colored_label(STUDENT_COLOR, "this stage's probabilities (it has no teacher)");
        }
    });
    ui.horizontal(|ui| {
        for &t in &temperatures {
            let highlighted = current.is_some_and(|c| (c - t).abs() < 1e-9);
            ui.vertical(|ui| {
                ui.set_width(width);
                let title = format!("T = {}{}", temperature_label(t), if highlighted { " now" } else { "" });
                let color = if highlighted { HIGHLIGHT } else { ui.visuals().text_color() };
                ui.add(egui::Label::new(egui::RichText::new(title).color(color)).truncate());
                let response = Plot::new(format!("soft_targets_{t}"))
                    .width(width)
                    .height(height)
                    .include_y(0.0)
                    .include_y(1.0)
                    .show_x(false)
                    .allow_scroll(false)
                    .allow_drag(false)
                    .allow_zoom(false)
                    .custom_x_axes(vec![class_axis(class_names)])
                    .x_grid_spacer(class_marks)
                    .label_formatter(|_| None)
                    .show(ui, |plot| {
                        let offset = if teacher.is_some() { 0.2 } else { 0.0 };
                        if let Some(teacher) = teacher {
                            plot.bar_chart(bars("teacher", teacher, t, -offset, TEACHER_COLOR, class_names));
                        }
                        plot.bar_chart(bars("student", student, t, offset, STUDENT_COLOR, class_names));
                    });
                bar_hover(ui, &response, t, student, teacher, class_names);
            });
        }
    });
}

/// Class marks under the bars: every class where there is room for its name, else every k-th
/// (hovering a bar names its class).
fn class_marks(input: GridInput) -> Vec<GridMark> {
    let (low, high) = input.bounds;
    // egui_plot's base step is the value of 8 points.
    let per_class = 8.0 / input.base_step_size.max(1e-9);
    let every = (CLASS_LABEL_SPACING / per_class).ceil().max(1.0) as i64;
    (low.ceil() as i64..=high.floor() as i64)
        .filter(|k| k % every == 0)
        .map(|k| GridMark { value: k as f64, step_size: every as f64 })
        .collect()
}

/// Points between two class names under a bar chart.
const CLASS_LABEL_SPACING: f64 = 14.0;

/// The class under the pointer and both models' probabilities for it, in a tooltip kept on the
/// screen (the plot's own hover label would be cut off at the top of a small chart).
fn bar_hover(
    ui: &egui::Ui,
    response: &egui_plot::PlotResponse<()>,
    temperature: f64,
    student: &[f32],
    teacher: Option<&[f32]>,
    class_names: &[String],
) {
    let Some(pointer) = response.response.hover_pos() else { return };
    let class = response.transform.value_from_position(pointer).x.round();
    if !(class >= 0.0 && (class as usize) < student.len()) {
        return;
    }
    let class = class as usize;
    let name = class_names.get(class).cloned().unwrap_or_else(|| class.to_string());
    let p = |logits: &[f32]| softmax_row(logits, temperature).get(class).copied().unwrap_or(0.0);
    let mut text = format!("class {name} at T = {}", temperature_label(temperature));
    if let Some(teacher) = teacher {
        text.push_str(&format!("\nteacher {:.4}", p(teacher)));
    }
    text.push_str(&format!("\nstudent {:.4}", p(student)));
    egui::Area::new(response.response.id.with("bar_values"))
        .order(egui::Order::Tooltip)
        .fixed_pos(pointer + egui::vec2(14.0, 14.0))
        .constrain(true)
        .interactable(false)
        .show(ui.ctx(), |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| ui.label(text));
        });
}

/// An x axis naming the class under each pair of bars (labels that do not fit are left out).
fn class_axis(class_names: &[String]) -> AxisHints<'_> {
    AxisHints::new_x().label_spacing(10.0..=CLASS_LABEL_SPACING as f32).formatter(move |mark, _| {
        let k = mark.value.round();
        let name = (k >= 0.0 && (mark.value - k).abs() < 1e-6).then(|| class_names.get(k as usize)).flatten();
        name.map_or_else(String::new, |n| n.chars().take(6).collect())
    })
}

fn bars(
    name: &str,
    logits: &[f32],
    temperature: f64,
    offset: f64,
    color: egui::Color32,
    class_names: &[String],
) -> BarChart {
    let probabilities = softmax_row(logits, temperature);
    let class = |k: usize| class_names.get(k).map_or_else(|| format!("class {k}"), |n| format!("class {n}"));
    let bars = probabilities
        .iter()
        .enumerate()
        .map(|(k, &p)| Bar::new(k as f64 + offset, p).width(0.38).name(class(k)))
        .collect();
    BarChart::new(name, bars).color(color).allow_hover(false)
}

/// A temperature as an axis label: `0.5`, `2.5`, `10`.
fn temperature_label(t: f64) -> String {
    let text = format!("{t:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Shannon entropy (nats) of softmax(logits / T).
pub(crate) fn entropy(logits: &[f32], temperature: f64) -> f64 {
    softmax_row(logits, temperature).iter().filter(|&&p| p > 0.0).map(|p| -p * p.ln()).sum()
}

/// The entropy of the soft targets against T (log axis), the current T marked.
fn entropy_plot(ui: &mut egui::Ui, logits: &[f32], of_teacher: bool, current: Option<f64>) {
    let points: Vec<[f64; 2]> = (0..=120)
        .map(|i| {
            let log_t = (0.5f64).log10() + i as f64 * ((50.0f64).log10() - (0.5f64).log10()) / 120.0;
            [log_t, entropy(logits, 10f64.powf(log_t))]
        })
        .collect();
    let whose = if of_teacher { "teacher" } else { "stage" };
    ui.label(format!("Entropy of the {whose}'s soft targets (nats) against T"));
    Plot::new("entropy_vs_temperature")
        .height((ui.available_height() - 4.0).max(ENTROPY_MIN_HEIGHT))
        .x_axis_label("temperature T (log scale)")
        .x_axis_formatter(|mark, _| temperature_label(10f64.powf(mark.value)))
        .include_y(0.0)
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.line(Line::new(format!("{whose} entropy"), PlotPoints::from(points)).color(TEACHER_COLOR));
            if let Some(t) = current {
                plot.vline(VLine::new(format!("T = {t:.2}"), t.log10()).color(HIGHLIGHT));
            }
        });
}

/// The soft targets view (stateless: what it shows lives in the run's history).
#[derive(Default)]
pub(crate) struct SoftTargetsView {
    /// Index into the probe examples of the one shown.
    sample: usize,
}

impl super::View for SoftTargetsView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "SoftTargets", title: "Soft targets", beside: "" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view, &mut self.sample);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_rises_with_temperature_to_log_classes() {
        let logits = [5.0, 1.0, 0.0, -2.0];
        let cold = entropy(&logits, 0.5);
        let warm = entropy(&logits, 4.0);
        let hot = entropy(&logits, 1e6);
        assert!(cold < warm && warm < hot);
        assert!((hot - (4f64).ln()).abs() < 1e-4);
    }
}
