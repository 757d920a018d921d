//! Next token: a language model's view of a prompt. Along the prompt, a strip of its characters
//! shaded by how far the student's next-character distribution is from the teacher's there
//! (forward KL, reverse KL or total variation) — *where* they disagree; for the position under
//! the pointer (or the one clicked), the teacher's and the student's next-character
//! probabilities as bars, top 20, at T = 1 and at the current T. The prompt is the user's
//! (sent to the engine, which probes at once) or a line of the test text.

use super::soft_targets::current_temperature;
use crate::export::table::Table;
use crate::logits::{entropy, kl, softmax_row};
use crate::protocol::probe::visible_char;
use crate::protocol::{Command, TextProbe, TextProbeSettings};
use crate::ui::context::{Action, ViewContext};
use crate::ui::paint::{color_bar, viridis};
use crate::ui::widgets::{export_data_button, probed_stage, series_color};
use egui::{Color32, RichText, Sense, Vec2};

/// Characters whose bars are drawn.
const TOP: usize = 20;
const TEACHER_BAR: Color32 = Color32::from_gray(150);

/// Which divergence shades the prompt strip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Shading {
    #[default]
    Forward,
    Reverse,
    TotalVariation,
}

impl Shading {
    const ALL: [Shading; 3] = [Shading::Forward, Shading::Reverse, Shading::TotalVariation];

    fn label(self) -> &'static str {
        match self {
            Shading::Forward => "KL(teacher || student)",
            Shading::Reverse => "KL(student || teacher)",
            Shading::TotalVariation => "total variation",
        }
    }

    /// The divergence between the teacher's `p` and the student's `q` at one position.
    pub(crate) fn between(self, p: &[f64], q: &[f64]) -> f64 {
        match self {
            Shading::Forward => kl(p, q),
            Shading::Reverse => kl(q, p),
            Shading::TotalVariation => 0.5 * p.iter().zip(q).map(|(x, y)| (x - y).abs()).sum::<f64>(),
        }
    }
}

/// The view's own state: the prompt being typed, the pinned position and the shading.
#[derive(Default)]
pub(crate) struct NextTokenView {
    prompt: String,
    pinned: Option<usize>,
    shading: Shading,
}

impl super::View for NextTokenView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "NextToken", title: "Next token", beside: "Agreement" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        let Some((history, info, probe)) = probed_stage(ui, view, "next_token_stage") else { return };
        let Some(text) = &probe.text else {
            ui.label("No next-token probe: this run trains classifiers; the Next token view is for text.");
            return;
        };
        self.prompt_editor(ui, view, &text.settings);
        let vocabulary = &info.vocabulary;
        let Some(stage) = history.stages.get(probe.stage) else { return };
        let temperature = current_temperature(view, stage).unwrap_or(1.0);
        let rows = distributions(text);
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("step {} · {} characters read", probe.step, text.prompt.len()));
            if text.teacher_logits.is_some() {
                let label = ui.label("shade by");
                let combo = egui::ComboBox::from_id_salt("next_token_shading").selected_text(self.shading.label());
                let shown = combo.show_ui(ui, |ui| {
                    for shading in Shading::ALL {
                        ui.selectable_value(&mut self.shading, shading, shading.label());
                    }
                });
                shown.response.labelled_by(label.id);
            }
            export_data_button(ui, view, probe.stage, probe.step, || {
                vec![("next_token".into(), next_token_table(text, vocabulary))]
            });
        });
        let scores: Vec<f64> = match &rows.teacher {
            Some(teacher) => teacher.iter().zip(&rows.student).map(|(p, q)| self.shading.between(p, q)).collect(),
            None => rows.student.iter().map(|q| entropy(q)).collect(),
        };
        let what = if rows.teacher.is_some() { self.shading.label() } else { "the stage's entropy (no teacher)" };
        let hovered = self.strip(ui, text, vocabulary, &scores);
        let scale = scores.iter().copied().fold(1e-6, f64::max) as f32;
        color_bar(ui, what, 0.0, scale, viridis);
        let Some(position) = hovered.or(self.pinned).or(text.prompt.len().checked_sub(1)) else { return };
        let after: String =
            text.prompt[..=position].iter().rev().take(12).rev().map(|&id| shown(vocabulary, id)).collect();
        ui.label(format!("next character after …{after} (position {position}; click the strip to pin one)"));
        if text.teacher_logits.is_some() {
            ui.label("grey: the teacher · colour: the student; the top 20 by the teacher's probability");
        }
        ui.columns(2, |columns| {
            bars(&mut columns[0], text, vocabulary, position, 1.0);
            bars(&mut columns[1], text, vocabulary, position, temperature);
        });
    }
}

impl NextTokenView {
    /// The prompt field: Enter (or the button) sends it to the engine, which probes at once.
    fn prompt_editor(&mut self, ui: &mut egui::Ui, view: &mut ViewContext, settings: &TextProbeSettings) {
        ui.horizontal(|ui| {
            let label = ui.label("Prompt");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.prompt)
                        .hint_text("empty: a line of the test text")
                        .desired_width((ui.available_width() - 90.0).max(120.0)),
                )
                .labelled_by(label.id);
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let read = ui.button("Read").on_hover_text("Probe the live run's models on this prompt now");
            if entered || read.clicked() {
                let settings = TextProbeSettings { prompt: self.prompt.clone(), ..settings.clone() };
                view.actions.push(Action::Command(Command::ProbeText(settings)));
                self.pinned = None;
            }
        });
    }

    /// The prompt's characters, each shaded by `scores`, in as many rows as the width needs;
    /// returns the position under the pointer.
    fn strip(&mut self, ui: &mut egui::Ui, text: &TextProbe, vocabulary: &[char], scores: &[f64]) -> Option<usize> {
        let scale = scores.iter().copied().fold(1e-6, f64::max);
        let cell = Vec2::new(11.0, 20.0);
        let per_row = ((ui.available_width() - 4.0) / cell.x).floor().max(1.0) as usize;
        let mut hovered = None;
        for (row, ids) in text.prompt.chunks(per_row).enumerate() {
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = 0.0;
                for (offset, &id) in ids.iter().enumerate() {
                    let position = row * per_row + offset;
                    let (rect, response) = ui.allocate_exact_size(cell, Sense::click());
                    let color = viridis((scores.get(position).copied().unwrap_or(0.0) / scale) as f32);
                    ui.painter().rect_filled(rect, 0.0, color);
                    let ink = if color.r() as u32 + color.g() as u32 > 300 { Color32::BLACK } else { Color32::WHITE };
                    let font = egui::FontId::monospace(12.0);
                    ui.painter().text(rect.center(), egui::Align2::CENTER_CENTER, shown(vocabulary, id), font, ink);
                    if self.pinned == Some(position) {
                        ui.painter().rect_stroke(rect, 0.0, (2.0, Color32::WHITE), egui::StrokeKind::Inside);
                    }
                    if response.hovered() {
                        hovered = Some(position);
                    }
                    if response.clicked() {
                        self.pinned = Some(position);
                    }
                }
            });
        }
        hovered
    }
}

/// Each prompt position's next-character probabilities at T = 1, the student's and the teacher's.
struct Distributions {
    student: Vec<Vec<f64>>,
    teacher: Option<Vec<Vec<f64>>>,
}

fn distributions(text: &TextProbe) -> Distributions {
    let rows = |logits: &[f32]| logits.chunks_exact(text.vocabulary.max(1)).map(|r| softmax_row(r, 1.0)).collect();
    Distributions { student: rows(&text.logits), teacher: text.teacher_logits.as_deref().map(rows) }
}

/// How a character id shows: the vocabulary's character, visible (`¶` for a line end).
pub(crate) fn shown(vocabulary: &[char], id: u32) -> String {
    vocabulary.get(id as usize).map_or_else(|| "?".into(), |&c| visible_char(c))
}

/// The top characters at `position`, teacher's bar above the student's, at `temperature`.
fn bars(ui: &mut egui::Ui, text: &TextProbe, vocabulary: &[char], position: usize, temperature: f64) {
    let row = |logits: &[f32]| {
        let v = text.vocabulary.max(1);
        softmax_row(&logits[position * v..(position + 1) * v], temperature)
    };
    let student = row(&text.logits);
    let teacher = text.teacher_logits.as_deref().map(row);
    let ranked = teacher.as_ref().unwrap_or(&student);
    let mut order: Vec<usize> = (0..ranked.len()).collect();
    order.sort_by(|&a, &b| ranked[b].total_cmp(&ranked[a]));
    let which = if temperature == 1.0 { "" } else { " (the current T)" };
    ui.label(RichText::new(format!("T = {temperature:.2}{which}")).strong());
    let width = (ui.available_width() - 70.0).max(40.0);
    for &id in order.iter().take(TOP) {
        ui.horizontal(|ui| {
            ui.add_sized([18.0, 14.0], egui::Label::new(RichText::new(shown(vocabulary, id as u32)).monospace()));
            let (rect, response) = ui.allocate_exact_size(Vec2::new(width, 14.0), Sense::hover());
            let half = rect.height() / 2.0;
            if let Some(teacher) = &teacher {
                let bar = egui::Rect::from_min_size(rect.min, Vec2::new(width * teacher[id] as f32, half - 1.0));
                ui.painter().rect_filled(bar, 0.0, TEACHER_BAR);
            }
            let top = if teacher.is_some() { rect.min + Vec2::new(0.0, half) } else { rect.min };
            let bar = egui::Rect::from_min_size(top, Vec2::new(width * student[id] as f32, half - 1.0));
            ui.painter().rect_filled(bar, 0.0, series_color(1));
            let teacher_text = teacher.as_ref().map_or(String::new(), |t| format!("teacher {:.3} · ", t[id]));
            response.on_hover_text(format!("{teacher_text}student {:.3}", student[id]));
            ui.label(format!("{:.2}", student[id]));
        });
    }
}

/// Every prompt position: its character, the student's and teacher's top character and
/// probability, and the three divergences.
fn next_token_table(text: &TextProbe, vocabulary: &[char]) -> Table {
    let mut table = Table::new(&[
        "position",
        "character",
        "student_top",
        "student_p",
        "teacher_top",
        "teacher_p",
        "kl_teacher_student",
        "kl_student_teacher",
        "total_variation",
    ]);
    let rows = distributions(text);
    let top = |p: &[f64]| p.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or((0, 0.0), |(i, v)| (i, *v));
    for (position, q) in rows.student.iter().enumerate() {
        let (student_top, student_p) = top(q);
        let teacher = rows.teacher.as_ref().and_then(|t| t.get(position));
        let cells = |f: &dyn Fn(&[f64]) -> String| teacher.map_or(String::new(), |p| f(p));
        table.push(vec![
            position.to_string(),
            shown(vocabulary, text.prompt[position]),
            shown(vocabulary, student_top as u32),
            student_p.to_string(),
            cells(&|p| shown(vocabulary, top(p).0 as u32)),
            cells(&|p| top(p).1.to_string()),
            cells(&|p| Shading::Forward.between(p, q).to_string()),
            cells(&|p| Shading::Reverse.between(p, q).to_string()),
            cells(&|p| Shading::TotalVariation.between(p, q).to_string()),
        ]);
    }
    table
}
