//! Teacher–student agreement: top-1 agreement and KL(teacher || student) on the test split
//! against step for every distillation stage, and the class-by-class matrix of teacher
//! prediction × student prediction for the chosen stage (counts on hover).

use super::{ViewContext, export_data_button, stage_picker};
use crate::export::table::Table;
use crate::ui::views::curves::{CurveSpec, curve_plot, export_button};

const AGREEMENT: CurveSpec =
    CurveSpec { id: "agreement_plot", y_label: "agreement", shows: |m| m == "agreement", headline: "agreement" };
const KL: CurveSpec = CurveSpec {
    id: "kl_plot",
    y_label: "KL(t||s)",
    shows: |m| m == "kl_teacher_student",
    headline: "kl_teacher_student",
};

pub fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    let Some(history) = view.history else {
        ui.label("No run yet.");
        return;
    };
    if !history.stages.iter().any(|s| s.has_teacher()) {
        ui.label("This run has no stage with a teacher.");
        return;
    }
    export_button(ui, view, &[&AGREEMENT, &KL]);
    let link = ui.scope_id().with("agreement_link");
    let height = (ui.available_height() / 2.0 - 6.0).max(70.0);
    let plots_width = (ui.available_width() * 0.55).max(160.0);
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(plots_width);
            curve_plot(ui, view, &AGREEMENT, height, link);
            curve_plot(ui, view, &KL, height, link);
        });
        ui.vertical(|ui| matrix_panel(ui, view, history));
    });
}

fn matrix_panel(ui: &mut egui::Ui, view: &mut ViewContext, history: &crate::ui::history::RunHistory) {
    ui.label("Prediction matrix (rows: teacher, columns: student)");
    ui.horizontal(|ui| stage_picker(ui, "agreement_stage", view, |i| history.stages[i].has_teacher()));
    let probe = view.shown_stage().and_then(|s| history.stages.get(s)).and_then(|s| s.probe.as_ref());
    let (Some(probe), Some(info)) = (probe, history.info.as_ref()) else {
        ui.label("No predictions yet.");
        return;
    };
    match &probe.agreement_matrix {
        Some(matrix) => {
            export_data_button(ui, view, || vec![("agreement_matrix".into(), matrix_table(matrix, &info.class_names))]);
            draw_matrix(ui, matrix, &info.class_names, probe.step)
        }
        None => {
            ui.label("This stage has no teacher.");
        }
    }
}

/// The matrix as rows `teacher_class, student_class, count`.
fn matrix_table(matrix: &[u32], class_names: &[String]) -> Table {
    let mut table = Table::new(&["teacher_class", "student_class", "count"]);
    let classes = class_names.len();
    for (index, count) in matrix.iter().enumerate() {
        table.push(vec![class_names[index / classes].clone(), class_names[index % classes].clone(), count.to_string()]);
    }
    table
}

/// A heatmap of counts, teacher classes as rows and student classes as columns.
fn draw_matrix(ui: &mut egui::Ui, matrix: &[u32], class_names: &[String], step: u64) {
    let classes = class_names.len();
    if classes == 0 || matrix.len() != classes * classes {
        return;
    }
    ui.label(format!("at step {step}"));
    let side = (ui.available_width().min(ui.available_height()) - 30.0).clamp(80.0, 420.0);
    let cell = side / classes as f32;
    let (response, painter) = ui.allocate_painter(egui::vec2(side + 24.0, side + 20.0), egui::Sense::hover());
    let origin = response.rect.min + egui::vec2(24.0, 20.0);
    let largest = matrix.iter().copied().max().unwrap_or(1).max(1) as f32;
    let text_color = ui.visuals().text_color();
    let font = egui::FontId::monospace((cell * 0.35).clamp(7.0, 12.0));
    for (k, name) in class_names.iter().enumerate() {
        let offset = (k as f32 + 0.5) * cell;
        painter.text(origin + egui::vec2(offset, -10.0), egui::Align2::CENTER_CENTER, name, font.clone(), text_color);
        painter.text(origin + egui::vec2(-12.0, offset), egui::Align2::CENTER_CENTER, name, font.clone(), text_color);
    }
    let mut hovered = None;
    for row in 0..classes {
        for column in 0..classes {
            let count = matrix[row * classes + column];
            let rect = egui::Rect::from_min_size(
                origin + egui::vec2(column as f32 * cell, row as f32 * cell),
                egui::vec2(cell - 1.0, cell - 1.0),
            );
            let intensity = (count as f32 / largest).sqrt();
            let color = if row == column {
                egui::Color32::from_rgb(30, (60.0 + 170.0 * intensity) as u8, 90)
            } else {
                egui::Color32::from_rgb((60.0 + 190.0 * intensity) as u8, 40, 40)
            };
            painter.rect_filled(rect, 0.0, color);
            if cell >= 26.0 && count > 0 {
                painter.text(
                    rect.center(),
                    egui::Align2::CENTER_CENTER,
                    count.to_string(),
                    font.clone(),
                    egui::Color32::WHITE,
                );
            }
            if response.hover_pos().is_some_and(|p| rect.contains(p)) {
                hovered = Some((row, column, count));
            }
        }
    }
    if let Some((row, column, count)) = hovered {
        response.on_hover_text(format!(
            "teacher says {}, student says {}: {count} test examples",
            class_names[row], class_names[column]
        ));
    }
}
