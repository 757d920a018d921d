//! Relations (RKD's view of knowledge): over 32 test examples sorted by class, the teacher's and
//! the student's normalised distance matrices as heatmaps, and a graph laid out from the
//! teacher's embedding (classical MDS) with each node's nearest neighbours in the teacher's
//! space (solid) and in the student's (dashed); below, the share of neighbour edges they agree
//! on against step.

use crate::export::table::Table;
use crate::protocol::probe::RelationProbe;
use crate::ui::context::ViewContext;
use crate::ui::paint::{cell_grid, color_bar, viridis};
use crate::ui::plot::{CurveSpec, curve_plot};
use crate::ui::widgets::{available, export_data_button, probed_stage, series_color};
use egui::{Color32, Stroke};

const AGREEMENT: CurveSpec = CurveSpec {
    id: "neighbour_agreement_plot",
    y_label: "kNN shared",
    shows: |m| m == "neighbour_agreement",
    headline: "neighbour_agreement",
    log_allowed: false,
    smoothed: true,
};
const TEACHER_EDGE: Color32 = Color32::from_gray(170);
const STUDENT_EDGE: Color32 = Color32::from_rgb(255, 150, 40);

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    let Some((_, info, probe)) = probed_stage(ui, view, "relations_stage") else { return };
    let Some(relations) = available(ui, &probe.representations.relations, "relations") else { return };
    let labels = &info.relation_labels;
    ui.label(format!(
        "step {} · {} test examples sorted by class · {:.0}% of nearest-neighbour edges shared",
        probe.step,
        labels.len(),
        100.0 * relations.neighbour_agreement
    ));
    export_data_button(ui, view, probe.stage, probe.step, || {
        vec![("relations".into(), relation_table(relations, labels))]
    });
    let side = ((ui.available_width() - 30.0) / 3.0 - 4.0).clamp(110.0, 260.0);
    let scale = relations.teacher_distances.iter().chain(&relations.student_distances).copied().fold(1e-6, f32::max);
    ui.horizontal_top(|ui| {
        matrices(ui, relations, labels, &info.class_names, side, scale);
        graph(ui, relations, labels, side);
    });
    color_bar(ui, "distance / mean", 0.0, scale, viridis);
    ui.add_space(8.0);
    let height = (ui.available_height() - 10.0).max(80.0);
    let link = ui.scope_id().with("relations_link");
    curve_plot(ui, view, &AGREEMENT, height, link);
}

fn matrices(
    ui: &mut egui::Ui,
    relations: &RelationProbe,
    labels: &[u32],
    class_names: &[String],
    side: f32,
    scale: f32,
) {
    let n = labels.len();
    for (title, distances) in [("teacher", &relations.teacher_distances), ("student", &relations.student_distances)] {
        ui.vertical(|ui| {
            ui.label(format!("{title}: distance / mean"));
            let (response, hovered) =
                cell_grid(ui, egui::vec2(side, side), n, n, |r, c| viridis(distances[r * n + c] / scale));
            if let Some((r, c)) = hovered {
                let name = |i: usize| class_names.get(labels[i] as usize).cloned().unwrap_or_default();
                response.on_hover_text(format!("#{r} ({}) - #{c} ({}): {:.3}", name(r), name(c), distances[r * n + c]));
            }
        });
    }
}

/// Every pair `i, j` with both distances, whether j is among i's neighbours in each space, and
/// i's place in the layout.
fn relation_table(relations: &RelationProbe, labels: &[u32]) -> Table {
    let mut table = Table::new(&[
        "i",
        "j",
        "label_i",
        "label_j",
        "teacher_distance",
        "student_distance",
        "teacher_neighbour",
        "student_neighbour",
        "x_i",
        "y_i",
    ]);
    let n = labels.len();
    for i in 0..n {
        for j in 0..n {
            let neighbour = |lists: &[Vec<usize>]| lists.get(i).is_some_and(|l| l.contains(&j)).to_string();
            let [x, y] = relations.layout.get(i).copied().unwrap_or_default();
            table.push(vec![
                i.to_string(),
                j.to_string(),
                labels[i].to_string(),
                labels[j].to_string(),
                relations.teacher_distances[i * n + j].to_string(),
                relations.student_distances[i * n + j].to_string(),
                neighbour(&relations.teacher_neighbours),
                neighbour(&relations.student_neighbours),
                x.to_string(),
                y.to_string(),
            ]);
        }
    }
    table
}

/// Nodes at the teacher's MDS layout coloured by class; kNN edges of both spaces.
fn graph(ui: &mut egui::Ui, relations: &RelationProbe, labels: &[u32], side: f32) {
    ui.vertical(|ui| {
        ui.colored_label(TEACHER_EDGE, "teacher kNN (solid)");
        ui.colored_label(STUDENT_EDGE, "student kNN (dashed)");
        let (response, painter) = ui.allocate_painter(egui::vec2(side, side), egui::Sense::hover());
        let rect = response.rect.shrink(8.0);
        let bounds = relations.layout.iter().fold([f32::MAX, f32::MIN, f32::MAX, f32::MIN], |b, p| {
            [b[0].min(p[0]), b[1].max(p[0]), b[2].min(p[1]), b[3].max(p[1])]
        });
        let span = (bounds[1] - bounds[0]).max(bounds[3] - bounds[2]).max(1e-6);
        let at = |i: usize| {
            let p = relations.layout[i];
            rect.left_bottom()
                + egui::vec2((p[0] - bounds[0]) / span * rect.width(), -(p[1] - bounds[2]) / span * rect.height())
        };
        painter.rect_stroke(
            response.rect,
            2.0,
            Stroke::new(1.0, ui.visuals().weak_text_color()),
            egui::StrokeKind::Inside,
        );
        for (i, neighbours) in relations.teacher_neighbours.iter().enumerate() {
            for &j in neighbours {
                painter.line_segment([at(i), at(j)], Stroke::new(1.2, TEACHER_EDGE));
            }
        }
        for (i, neighbours) in relations.student_neighbours.iter().enumerate() {
            for &j in neighbours {
                painter.extend(egui::Shape::dashed_line(&[at(i), at(j)], Stroke::new(1.2, STUDENT_EDGE), 4.0, 3.0));
            }
        }
        for (i, &label) in labels.iter().enumerate().take(relations.layout.len()) {
            painter.circle_filled(at(i), 4.5, series_color(label as usize));
        }
    });
}

/// The relations view (stateless: what it shows lives in the run's history).
pub(crate) struct RelationsView;

impl super::View for RelationsView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Relations", title: "Relations", beside: "SoftTargets" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view);
    }
}
