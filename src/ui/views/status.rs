//! The status bar: device and adapter, the followed run, its current stage, epoch, step,
//! steps/s and elapsed time (time spent paused left out).

use super::ViewContext;

pub fn ui(ui: &mut egui::Ui, view: &ViewContext) {
    ui.horizontal_wrapped(|ui| {
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
        if let Some(run) = view.followed() {
            let fork = run.parent.map_or_else(String::new, |parent| format!(" (fork of {parent})"));
            ui.label(format!("Run: {}{fork}", run.label));
            ui.separator();
        }
        match (history.current_stage().and_then(|s| history.stages.get(s)), history.progress) {
            (Some(stage), Some(progress)) => {
                let (total, epochs) = stage.start.as_ref().map_or((0, 0), |s| (s.total_steps, s.epochs));
                ui.label(format!("Stage: {} ({})", stage.name, stage.method_name()));
                ui.separator();
                if stage.keep_training && stage.outcome.is_none() {
                    ui.label(format!("Epoch {} ({epochs} planned, keeps training until Stop)", progress.epoch));
                    ui.separator();
                    ui.label(format!("Step {}", progress.step));
                } else {
                    ui.label(format!("Epoch {}/{epochs}", progress.epoch));
                    ui.separator();
                    ui.label(format!("Step {}/{total}", progress.step));
                }
                ui.separator();
                ui.label(format!("{:.0} steps/s", history.steps_per_second));
            }
            _ => {
                ui.label(if history.info.is_none() { "loading data…" } else { "waiting for the first stage…" });
            }
        }
        ui.separator();
        let elapsed = history.elapsed().as_secs();
        ui.label(format!("Elapsed {:02}:{:02}:{:02}", elapsed / 3600, elapsed / 60 % 60, elapsed % 60))
            .on_hover_text("Time spent paused is not counted");
        ui.separator();
        let state = if history.finished {
            "finished"
        } else if history.is_paused() {
            "paused"
        } else {
            "training"
        };
        ui.label(state);
    });
}
