//! Teacher–student agreement: top-1 agreement and KL(teacher || student) on the test split
//! against step for every distillation stage (legend above the plots), and for the chosen stage
//! the overall agreement as a number and the class-by-class matrix of teacher prediction ×
//! student prediction (class names on both axes, counts on hover).

use super::legend;
use crate::export::table::Table;
use crate::protocol::metric;
use crate::ui::context::ViewContext;
use crate::ui::history::RunHistory;
use crate::ui::plot::{CurveSpec, curve_plot, export_button};
use crate::ui::widgets::{export_data_button, run_data, stage_picker};

const AGREEMENT: CurveSpec = CurveSpec {
    id: "agreement_plot",
    y_label: "agreement",
    shows: |m| m == metric::AGREEMENT,
    headline: metric::AGREEMENT,
    log_allowed: false,
    smoothed: true,
};
const KL: CurveSpec = CurveSpec {
    id: "kl_plot",
    y_label: "KL(t||s)",
    shows: |m| m == metric::KL_TEACHER_STUDENT,
    headline: metric::KL_TEACHER_STUDENT,
    log_allowed: false,
    smoothed: true,
};
/// Below this width the matrix goes under the plots instead of beside them.
const SIDE_BY_SIDE: f32 = 420.0;

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    let Some((history, _)) = run_data(ui, view) else { return };
    if !history.stages.iter().any(|s| s.has_teacher()) {
        ui.label("This run has no stage with a teacher.");
        return;
    }
    if !history.stages.iter().any(|s| s.series.contains_key(metric::AGREEMENT)) {
        let waiting: Vec<&str> = history.stages.iter().filter(|s| s.has_teacher()).map(|s| s.name.as_str()).collect();
        ui.label(format!("Agreement with the teacher appears when {} trains.", waiting.join(" or ")));
        return;
    }
    export_button(ui, view, &[&AGREEMENT, &KL]);
    legend::ui(ui, view, &[&AGREEMENT, &KL], legend::Layout::Wrapped);
    let link = ui.scope_id().with("agreement_link");
    if ui.available_width() >= SIDE_BY_SIDE {
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
    } else {
        egui::ScrollArea::vertical().id_salt("agreement_scroll").show(ui, |ui| {
            curve_plot(ui, view, &AGREEMENT, 120.0, link);
            curve_plot(ui, view, &KL, 120.0, link);
            matrix_panel(ui, view, history);
        });
    }
}

fn matrix_panel(ui: &mut egui::Ui, view: &mut ViewContext, history: &RunHistory) {
    ui.label("Prediction matrix (rows: teacher, columns: student)");
    ui.horizontal(|ui| stage_picker(ui, "agreement_stage", view, |i| history.stages[i].has_teacher()));
    let probe = view.shown_stage().and_then(|s| history.stages.get(s)).and_then(|s| s.probe.as_ref());
    let (Some(probe), Some(info)) = (probe, history.info.as_ref()) else {
        ui.label("No predictions yet.");
        return;
    };
    let Some(matrix) = &probe.agreement_matrix else {
        ui.label("This stage has no teacher.");
        return;
    };
    let names = &info.data.class_names;
    let (agreeing, total) = agreement_counts(matrix, names.len());
    let share = 100.0 * agreeing as f64 / total.max(1) as f64;
    ui.label(
        egui::RichText::new(format!(
            "agreement {share:.1}% ({agreeing} of {total} test examples), step {}",
            probe.step
        ))
        .strong(),
    );
    export_data_button(ui, view, probe.stage, probe.step, || {
        vec![("agreement_matrix".into(), matrix_table(matrix, names))]
    });
    draw_matrix(ui, matrix, names);
}

/// Examples on the diagonal (teacher and student predict the same class) and in all.
fn agreement_counts(matrix: &[u32], classes: usize) -> (u64, u64) {
    let total = matrix.iter().map(|&c| u64::from(c)).sum();
    let agreeing = (0..classes).filter_map(|k| matrix.get(k * classes + k)).map(|&c| u64::from(c)).sum();
    (agreeing, total)
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

/// A heatmap of counts, teacher classes as rows and student classes as columns, class names on
/// both axes (every k-th when there are too many to read).
fn draw_matrix(ui: &mut egui::Ui, matrix: &[u32], class_names: &[String]) {
    let classes = class_names.len();
    if classes == 0 || matrix.len() != classes * classes {
        return;
    }
    let font = egui::FontId::proportional(12.0);
    let widest = class_names.iter().map(|n| n.chars().count()).max().unwrap_or(1).min(10) as f32 * 7.0;
    let margin = egui::vec2(widest + 8.0, 22.0);
    let side = (ui.available_width() - margin.x).min(ui.available_height() - margin.y - 8.0).clamp(80.0, 420.0);
    let cell = side / classes as f32;
    let (response, painter) = ui.allocate_painter(egui::vec2(side, side) + margin, egui::Sense::hover());
    let origin = response.rect.min + margin;
    let largest = matrix.iter().copied().max().unwrap_or(1).max(1) as f32;
    let text_color = ui.visuals().text_color();
    // Labels at least 14 points apart, so they never run into each other.
    let every = (14.0 / cell).ceil().max(1.0) as usize;
    for (k, name) in class_names.iter().enumerate().filter(|(k, _)| k % every == 0) {
        let offset = (k as f32 + 0.5) * cell;
        let short: String = name.chars().take(10).collect();
        painter.text(origin + egui::vec2(offset, -11.0), egui::Align2::CENTER_CENTER, &short, font.clone(), text_color);
        painter.text(origin + egui::vec2(-6.0, offset), egui::Align2::RIGHT_CENTER, &short, font.clone(), text_color);
    }
    let mut hovered = None;
    for row in 0..classes {
        for column in 0..classes {
            let count = matrix[row * classes + column];
            let rect = egui::Rect::from_min_size(
                origin + egui::vec2(column as f32 * cell, row as f32 * cell),
                egui::vec2((cell - 1.0).max(1.0), (cell - 1.0).max(1.0)),
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

/// The agreement view (stateless: what it shows lives in the run's history).
pub(crate) struct AgreementView;

impl super::View for AgreementView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Agreement", title: "Agreement", beside: "" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_is_the_diagonal_share() {
        let matrix = [8, 2, 1, 9];
        assert_eq!(agreement_counts(&matrix, 2), (17, 20));
    }
}
