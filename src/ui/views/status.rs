//! The status bar, one line at any width from 1024 pixels: device and adapter, whether the
//! followed run trains, is paused or has finished, the run, its current stage, epoch, step,
//! steps/s and elapsed time (time spent paused left out). What does not fit is cut at the
//! right, least important last; the run's name is cut and whole on hover.

use crate::ui::context::ViewContext;
use crate::ui::history::{RunHistory, StageHistory};

/// The followed run's name is cut to this many characters (hover shows it whole).
const RUN_CHARS: usize = 24;

pub(crate) fn ui(ui: &mut egui::Ui, view: &ViewContext) {
    ui.horizontal(|ui| {
        let preview = view.selection.device_label.as_deref().unwrap_or("detecting…");
        let Some(history) = view.history else {
            ui.label(format!("Device: {preview}"));
            ui.separator();
            let waiting = match view.followed().and_then(|r| r.queued) {
                Some(position) => format!("Queued (#{position}): it starts when a slot frees up."),
                None => "Ready: choose a preset and press Start (Space pauses, F12 shows frame times).".into(),
            };
            ui.label(waiting);
            return;
        };
        let device = history.info.as_ref().map_or(preview, |i| i.device.as_str());
        ui.label(format!("Device: {device}"));
        ui.separator();
        ui.label(egui::RichText::new(state(history)).strong());
        ui.separator();
        if let Some(run) = view.followed() {
            let fork = run.parent.map_or_else(String::new, |parent| format!(" (fork of {parent})"));
            let whole = format!("Run: {}{fork}", run.label);
            let shown: String = whole.chars().take(RUN_CHARS).collect();
            let shown = if shown.len() < whole.len() { format!("{shown}…") } else { shown };
            ui.label(shown).on_hover_text(whole);
            ui.separator();
        }
        match (history.current_stage().and_then(|s| history.stages.get(s)), history.progress) {
            (Some(stage), Some(progress)) => {
                ui.label(format!("Stage: {} ({})", stage.name, stage.method_name()));
                ui.separator();
                where_in_stage(ui, stage, progress.epoch, progress.step);
                ui.separator();
                let rate = match history.is_paused() || history.finished {
                    true => "0 steps/s".to_string(),
                    false => format!("{:.0} steps/s", history.steps_per_second),
                };
                ui.label(rate);
            }
            _ => {
                ui.label(if history.info.is_none() { "loading data…" } else { "waiting for the first stage…" });
            }
        }
        ui.separator();
        let elapsed = history.elapsed().as_secs();
        ui.label(format!("Elapsed {:02}:{:02}:{:02}", elapsed / 3600, elapsed / 60 % 60, elapsed % 60))
            .on_hover_text("Time spent paused is not counted");
    });
}

/// Training, paused or finished.
fn state(history: &RunHistory) -> &'static str {
    if history.finished {
        "finished"
    } else if history.is_paused() {
        "paused"
    } else {
        "training"
    }
}

/// The epoch and step: of the plan, or beyond it (the plan a reference, not a bound) while the
/// stage goes on past it.
fn where_in_stage(ui: &mut egui::Ui, stage: &StageHistory, epoch: u64, step: u64) {
    let (total, epochs) = stage.start.as_ref().map_or((0, 0), |s| (s.total_steps, s.epochs));
    let open_ended = stage.keep_training && stage.outcome.is_none();
    if open_ended || epoch > epochs as u64 || step > total {
        let until = if open_ended { "; until Stop" } else { "" };
        ui.label(format!("Epoch {epoch} ({epochs} planned{until})"))
            .on_hover_text("The stage goes on past its planned epochs until you press Stop");
        ui.separator();
        ui.label(format!("Step {step} ({total} planned)"));
    } else {
        ui.label(format!("Epoch {epoch}/{epochs}"));
        ui.separator();
        ui.label(format!("Step {step}/{total}"));
    }
}
