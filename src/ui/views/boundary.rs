//! Decision boundaries on 2-D data, TensorFlow Playground's main picture for two networks at
//! once: the teacher's and the student's predicted class over the plane with the training
//! points on top, and the teacher's soft probability surface at the current temperature —
//! computed here from the teacher's logits, so it follows the T slider at once, even while
//! training is paused.

use crate::export::table::Table;
use crate::protocol::probe::{BoundaryProbe, GRID, Plane};
use crate::ui::context::ViewContext;
use crate::ui::paint::cell_grid;
use crate::ui::widgets::{available, export_data_button, probed_stage, series_color};
use egui::Color32;

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    let Some((history, info, probe)) = probed_stage(ui, view, "boundary_stage") else { return };
    let Some(plane) = &info.plane else {
        ui.label("No decision boundary: it needs 2-D data (moons, spirals, blobs, a 2-feature CSV).");
        return;
    };
    let Some(boundary) = available(ui, &probe.representations.boundary, "decision boundary") else { return };
    ui.label(format!(
        "step {} · x {:.2}..{:.2}, y {:.2}..{:.2} · faded: predicted class; dots: training points",
        probe.step, plane.x[0], plane.x[1], plane.y[0], plane.y[1]
    ));
    let stage = &history.stages[probe.stage];
    let temperature = super::soft_targets::current_temperature(view, stage).unwrap_or(1.0);
    let soft = boundary.soft(temperature);
    export_data_button(ui, view, probe.stage, probe.step, || {
        vec![("decision_boundary".into(), boundary_table(boundary, &soft, temperature, plane))]
    });
    let side = ((ui.available_width() - 24.0) / 3.0).min(ui.available_height() - 40.0).clamp(120.0, 360.0);
    let soft_color = |cell: usize| soft_color(&soft, boundary.classes, cell);
    ui.horizontal_wrapped(|ui| match &boundary.teacher_class {
        Some(teacher) => {
            panel(ui, "teacher: class", side, plane, |cell| region(teacher[cell]));
            panel(ui, "student: class", side, plane, |cell| region(boundary.student_class[cell]));
            panel(ui, &format!("teacher: soft, T = {temperature:.2}"), side, plane, soft_color);
        }
        None => {
            panel(ui, "this stage (no teacher): class", side, plane, |cell| region(boundary.student_class[cell]));
            panel(ui, &format!("its soft, T = {temperature:.2}"), side, plane, soft_color);
        }
    });
}

/// Every grid cell: its centre in the data's units, both predicted classes and the soft
/// probabilities drawn on the right (at `temperature`).
fn boundary_table(boundary: &BoundaryProbe, soft: &[f32], temperature: f64, plane: &Plane) -> Table {
    let mut columns =
        vec!["temperature".to_string(), "x".into(), "y".into(), "teacher_class".into(), "student_class".into()];
    columns.extend((0..boundary.classes).map(|k| format!("p_{k}")));
    let mut table = Table { columns, rows: Vec::new() };
    let at = |range: [f32; 2], i: usize| range[0] + (range[1] - range[0]) * (i as f32 + 0.5) / GRID as f32;
    for cell in 0..GRID * GRID {
        let (row, column) = (cell / GRID, cell % GRID);
        let teacher = boundary.teacher_class.as_ref().map_or_else(String::new, |t| t[cell].to_string());
        let mut values =
            vec![temperature.to_string(), at(plane.x, column).to_string(), at(plane.y, row).to_string(), teacher];
        values.push(boundary.student_class[cell].to_string());
        values.extend(soft[cell * boundary.classes..(cell + 1) * boundary.classes].iter().map(f32::to_string));
        table.push(values);
    }
    table
}

/// One square of the plane: cells coloured by `color`, the training points on top.
fn panel(ui: &mut egui::Ui, title: &str, side: f32, plane: &Plane, color: impl Fn(usize) -> Color32) {
    ui.vertical(|ui| {
        ui.label(title);
        // Row 0 of the grid is the bottom of the plane; the painter's row 0 is the top.
        let (response, _) = cell_grid(ui, egui::vec2(side, side), GRID, GRID, |r, c| color((GRID - 1 - r) * GRID + c));
        let rect = response.rect;
        let painter = ui.painter_at(rect);
        for (point, &label) in plane.points.iter().zip(&plane.labels) {
            let x = (point[0] - plane.x[0]) / (plane.x[1] - plane.x[0]);
            let y = (point[1] - plane.y[0]) / (plane.y[1] - plane.y[0]);
            let at = rect.left_bottom() + egui::vec2(x * rect.width(), -y * rect.height());
            painter.circle(at, 2.5, series_color(label as usize), egui::Stroke::new(0.6, Color32::BLACK));
        }
    });
}

/// A class's colour, faded for the background.
fn region(class: u32) -> Color32 {
    series_color(class as usize).gamma_multiply(0.45)
}

/// The class colours mixed by the teacher's probabilities: pure where it is sure, grey where
/// the soft targets spread (the dark knowledge).
fn soft_color(soft: &[f32], classes: usize, cell: usize) -> Color32 {
    let k = classes;
    let Some(probabilities) = soft.get(cell * k..(cell + 1) * k) else { return Color32::GRAY };
    let mut mixed = [0.0f32; 3];
    for (class, &p) in probabilities.iter().enumerate() {
        let color = series_color(class);
        mixed[0] += p * f32::from(color.r());
        mixed[1] += p * f32::from(color.g());
        mixed[2] += p * f32::from(color.b());
    }
    Color32::from_rgb(mixed[0] as u8, mixed[1] as u8, mixed[2] as u8).gamma_multiply(0.8)
}

/// The decision boundary view (stateless: what it shows lives in the run's history).
pub(crate) struct BoundaryView;

impl super::View for BoundaryView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Boundary", title: "Decision boundary", beside: "SoftTargets" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view);
    }
}
