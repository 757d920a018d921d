//! Samples: text the stage's model and its teacher generate after the prompt at every probe,
//! drawn with a fixed seed so that a change between two reports is learning, not luck. Each
//! character is shaded by the teacher's log-probability of it — how plausible the teacher finds
//! the student's text. Sampling temperature, top-k and length are sent to the engine, which
//! samples again at once. A stage training on-policy also shows what the student wrote in its
//! last on-policy training batch — the very characters that step learned from — shaded the same
//! way by the teacher.

use super::next_token::shown;
use crate::export::table::Table;
use crate::protocol::probe::MAX_SAMPLE_LENGTH;
use crate::protocol::{Command, OnPolicySample, TextProbe, TextProbeSettings};
use crate::ui::context::{Action, ViewContext};
use crate::ui::widgets::{export_data_button, probed_stage};
use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, FontId};

/// Log-probabilities at or below this are shaded fully red.
const IMPLAUSIBLE: f32 = -6.0;

/// The samples view (stateless: the settings live in the probe the engine sent).
pub(crate) struct SamplesView;

impl super::View for SamplesView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Samples", title: "Samples", beside: "Agreement" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        let Some((_, info, probe)) = probed_stage(ui, view, "samples_stage") else { return };
        let Some(text) = &probe.text else {
            ui.label("No samples: this run trains classifiers; the Samples view is for text.");
            return;
        };
        sampling_controls(ui, view, &text.settings, info.vocabulary.len());
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "step {} · seed fixed · shading: log-probability, red ≤ {IMPLAUSIBLE}, green 0",
                probe.step
            ));
            export_data_button(ui, view, probe.stage, probe.step, || {
                vec![("samples".into(), samples_table(text, &info.vocabulary))]
            });
        });
        egui::ScrollArea::vertical().id_salt("samples_scroll").show(ui, |ui| {
            for sample in &text.samples {
                let judge = if sample.scored_by == "teacher" { "the teacher" } else { "itself (no teacher)" };
                ui.label(
                    egui::RichText::new(format!(
                        "{} · scored by {judge}: mean log-probability {:.3} nats a character",
                        sample.model,
                        mean(&sample.log_probs)
                    ))
                    .strong(),
                );
                ui.label(shaded(ui, (&text.prompt, &sample.ids, &sample.log_probs), &info.vocabulary));
                ui.add_space(8.0);
            }
            on_policy_samples(ui, &text.on_policy, &info.vocabulary);
        });
    }
}

/// Temperature, top-k and length; a finished change is sent to the engine.
fn sampling_controls(ui: &mut egui::Ui, view: &mut ViewContext, settings: &TextProbeSettings, vocabulary: usize) {
    let mut changed = settings.clone();
    let mut done = false;
    // One slider a line: a row of three does not wrap, and would widen the pane past its tile.
    let mut finished = |response: egui::Response| done |= response.drag_stopped() || response.lost_focus();
    finished(ui.add(egui::Slider::new(&mut changed.temperature, 0.1..=2.0).logarithmic(true).text("sampling T")));
    let top_k = egui::Slider::new(&mut changed.top_k, 0..=vocabulary.max(1)).text("top-k");
    finished(ui.add(top_k).on_hover_text("Sample among the k likeliest characters; 0: among all"));
    finished(ui.add(egui::Slider::new(&mut changed.length, 10..=MAX_SAMPLE_LENGTH).text("length")));
    if done && changed != *settings {
        view.actions.push(Action::Command(Command::ProbeText(changed)));
    }
}

fn mean(log_probs: &[f32]) -> f64 {
    log_probs.iter().map(|&v| f64::from(v)).sum::<f64>() / log_probs.len().max(1) as f64
}

/// The last on-policy training batch's windows: the prompt from the training text, then what the
/// student sampled and trained on, shaded by the teacher.
fn on_policy_samples(ui: &mut egui::Ui, samples: &[OnPolicySample], vocabulary: &[char]) {
    let Some(first) = samples.first() else { return };
    ui.separator();
    ui.label(
        egui::RichText::new(format!(
            "On-policy training batch, step {}: the student's own samples it learned from, scored by the teacher",
            first.step
        ))
        .strong(),
    );
    for (index, sample) in samples.iter().enumerate() {
        ui.label(format!(
            "window {} · mean log-probability {:.3} nats a character",
            index + 1,
            mean(&sample.log_probs)
        ));
        ui.label(shaded(ui, (&sample.prompt, &sample.ids, &sample.log_probs), vocabulary));
        ui.add_space(4.0);
    }
}

/// The prompt in grey, then the sampled characters, each on a background from red
/// (implausible) to green (what the judge expected).
fn shaded(ui: &egui::Ui, (prompt, ids, log_probs): (&[u32], &[u32], &[f32]), vocabulary: &[char]) -> LayoutJob {
    let font = FontId::monospace(13.0);
    let mut job = LayoutJob::default();
    job.wrap.max_width = ui.available_width();
    let plain = |c: u32| vocabulary.get(c as usize).map_or('?', |&c| c).to_string();
    let prompt: String = prompt.iter().map(|&id| plain(id)).collect();
    job.append(&prompt, 0.0, TextFormat::simple(font.clone(), ui.visuals().weak_text_color()));
    for (&id, &log_p) in ids.iter().zip(log_probs) {
        let t = (log_p / IMPLAUSIBLE).clamp(0.0, 1.0);
        let background = Color32::from_rgb((40.0 + 180.0 * t) as u8, (150.0 - 110.0 * t) as u8, 50);
        let format = TextFormat { background, ..TextFormat::simple(font.clone(), Color32::WHITE) };
        let character = plain(id);
        // A line end shows as a mark, then breaks the line.
        let written = if character == "\n" { "¶\n".to_string() } else { character };
        job.append(&written, 0.0, format);
    }
    job
}

/// Every sampled character: model, position, character and its log-probability; the on-policy
/// training batch's as model `student (on-policy batch, window N)`.
fn samples_table(text: &TextProbe, vocabulary: &[char]) -> Table {
    let mut table = Table::new(&["model", "position", "character", "log_prob", "scored_by"]);
    for (index, sample) in text.on_policy.iter().enumerate() {
        for (position, (&id, &log_p)) in sample.ids.iter().zip(&sample.log_probs).enumerate() {
            let model = format!("student (on-policy batch of step {}, window {})", sample.step, index + 1);
            table.push(vec![model, position.to_string(), shown(vocabulary, id), log_p.to_string(), "teacher".into()]);
        }
    }
    for sample in &text.samples {
        for (position, (&id, &log_p)) in sample.ids.iter().zip(&sample.log_probs).enumerate() {
            let row = vec![
                sample.model.clone(),
                position.to_string(),
                shown(vocabulary, id),
                log_p.to_string(),
                sample.scored_by.clone(),
            ];
            table.push(row);
        }
    }
    table
}
