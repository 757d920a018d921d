//! The control panel: preset, dataset and device pickers, the run buttons, and the live
//! temperature, alpha (and, for AT and DKD, beta) sliders for the running distillation stage.

use super::{Action, Browse, Queue, ViewContext};
use crate::data::DATASET_NAMES;
use crate::device::DeviceChoice;
use crate::train::Command;
use crate::ui::settings::PresetChoice;
use std::path::PathBuf;

const TEMPERATURE_HELP: &str = "Temperature T of the soft targets, from the next optimizer step:\n\
    loss = (1 - α)·CE(s, y) + α·T²·KL(softmax(t/T) || softmax(s/T))";
const ALPHA_HELP: &str = "Weight α of the soft-target term, from the next optimizer step:\n\
    loss = (1 - α)·CE(s, y) + α·T²·KL(softmax(t/T) || softmax(s/T))";

const AT_BETA_HELP: &str = "Weight β of attention transfer, from the next optimizer step:\n\
    loss = (1 - α)·CE + α·T²·KL + β·Σ_blocks mean((a_s - a_t)²),  a = normalised channel mean of F²";
const DKD_BETA_HELP: &str = "Weight β of the non-target-class term, from the next optimizer step:\n\
    loss = CE + warm-up·(α·TCKD + β·NCKD)";

pub fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Run");
        preset_picker(ui, view);
        dataset_and_device(ui, view);
        ui.separator();
        run_buttons(ui, view);
        ui.separator();
        live_sliders(ui, view);
        ui.separator();
        stage_list(ui, view);
        ui.separator();
        compare(ui, view);
        ui.separator();
        export_folder(ui, view);
    });
}

fn preset_picker(ui: &mut egui::Ui, view: &mut ViewContext) {
    ui.horizontal(|ui| {
        let label = ui.label("Preset");
        let combo =
            egui::ComboBox::from_id_salt("preset").selected_text(view.settings.preset.label()).show_ui(ui, |ui| {
                for preset in crate::presets::BUNDLED {
                    let choice = PresetChoice::Bundled(preset.stem().to_string());
                    let selected = view.settings.preset == choice;
                    if ui.selectable_label(selected, preset.stem()).on_hover_text(preset.description()).clicked() {
                        view.settings.preset = choice;
                    }
                }
                let recent = view.settings.recent_files.clone();
                if !recent.is_empty() {
                    ui.separator();
                    for path in recent {
                        let choice = PresetChoice::File(path.clone());
                        if ui.selectable_label(view.settings.preset == choice, path.display().to_string()).clicked() {
                            view.settings.preset = choice;
                        }
                    }
                }
            });
        combo.response.labelled_by(label.id);
    });
    ui.horizontal(|ui| {
        let label = ui.label("Preset file");
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut view.selection.path_input)
                    .hint_text("path/to/preset.toml")
                    .desired_width(110.0),
            )
            .labelled_by(label.id);
        let open = ui.button("Open…").on_hover_text("Open the preset file whose path is typed on the left");
        if ui.button("Browse…").on_hover_text("Pick a preset file").clicked() {
            view.actions.push(Action::Browse(Browse::PresetFile));
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (open.clicked() || entered) && !view.selection.path_input.trim().is_empty() {
            view.actions.push(Action::OpenPreset(PathBuf::from(view.selection.path_input.trim())));
        }
    });
}

fn dataset_and_device(ui: &mut egui::Ui, view: &mut ViewContext) {
    egui::Grid::new("data_device").num_columns(2).show(ui, |ui| {
        let title = ui.label("Dataset");
        let label = view.settings.dataset.clone().unwrap_or_else(|| "as in the preset".into());
        let combo = egui::ComboBox::from_id_salt("dataset").selected_text(label).show_ui(ui, |ui| {
            if ui.selectable_label(view.settings.dataset.is_none(), "as in the preset").clicked() {
                view.settings.dataset = None;
            }
            for name in DATASET_NAMES {
                let selected = view.settings.dataset.as_deref() == Some(name);
                if ui.selectable_label(selected, name).clicked() {
                    view.settings.dataset = Some(name.to_string());
                }
            }
        });
        combo.response.labelled_by(title.id);
        ui.end_row();
        let title = ui.label("Device");
        let combo =
            egui::ComboBox::from_id_salt("device").selected_text(view.settings.device.to_string()).show_ui(ui, |ui| {
                for choice in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Gpu] {
                    ui.selectable_value(&mut view.settings.device, choice, choice.to_string());
                }
            });
        combo.response.labelled_by(title.id);
        ui.end_row();
    });
}

fn run_buttons(ui: &mut egui::Ui, view: &mut ViewContext) {
    let paused = view.history.is_some_and(|h| h.is_paused());
    ui.horizontal_wrapped(|ui| {
        if ui.add_enabled(!view.running, egui::Button::new("Start")).clicked() {
            view.actions.push(Action::Start);
        }
        let (label, command) = if paused { ("Resume", Command::Resume) } else { ("Pause", Command::Pause) };
        if ui.add_enabled(view.running, egui::Button::new(label)).on_hover_text("Space").clicked() {
            view.actions.push(Action::Command(command));
        }
        if ui
            .add_enabled(view.running, egui::Button::new("Step"))
            .on_hover_text("Take exactly one optimizer step")
            .clicked()
        {
            view.actions.push(Action::Command(Command::Step));
        }
        if ui
            .add_enabled(view.running, egui::Button::new("Stop"))
            .on_hover_text("End the current stage, keeping its results")
            .clicked()
        {
            view.actions.push(Action::Command(Command::Stop));
        }
        if ui
            .add_enabled(view.history.is_some(), egui::Button::new("Reset"))
            .on_hover_text("Start the preset again")
            .clicked()
        {
            view.actions.push(Action::Reset);
        }
    });
}

fn live_sliders(ui: &mut egui::Ui, view: &mut ViewContext) {
    let stage = view.history.and_then(|h| h.steerable_stage());
    let title = stage.map_or("Distillation (no running KD stage)".to_string(), |s| format!("Distillation: {}", s.name));
    ui.label(title);
    let (temperature, alpha) = (stage.and_then(|s| s.temperature), stage.and_then(|s| s.alpha));
    let selection = &mut *view.selection;
    let mut t = pending_value(&mut selection.pending_temperature, temperature, 4.0);
    let response = ui
        .add_enabled(temperature.is_some(), slider(&mut t, 0.5..=50.0, "Temperature", 2).logarithmic(true))
        .on_hover_text(TEMPERATURE_HELP);
    if let Some(t) = track(&response, t, &mut selection.pending_temperature) {
        view.actions.push(Action::Command(Command::SetTemperature(t)));
    }
    let mut a = pending_value(&mut selection.pending_alpha, alpha, 0.9);
    let response = ui.add_enabled(alpha.is_some(), slider(&mut a, 0.0..=1.0, "α", 3)).on_hover_text(ALPHA_HELP);
    if let Some(a) = track(&response, a, &mut selection.pending_alpha) {
        view.actions.push(Action::Command(Command::SetAlpha(a)));
    }
    // β only exists for AT and DKD; other stages do not show it.
    if let Some((beta, method)) = stage.and_then(|s| s.beta.map(|b| (b, s.method))) {
        let mut b = pending_value(&mut selection.pending_beta, Some(beta), beta);
        let help = if method == "at" { AT_BETA_HELP } else { DKD_BETA_HELP };
        let response = ui.add(slider(&mut b, 0.0..=5000.0, "β", 2).logarithmic(true)).on_hover_text(help);
        if let Some(b) = track(&response, b, &mut selection.pending_beta) {
            view.actions.push(Action::Command(Command::SetBeta(b)));
        }
    }
}

fn slider<'v>(
    value: &'v mut f64,
    range: std::ops::RangeInclusive<f64>,
    text: &str,
    decimals: usize,
) -> egui::Slider<'v> {
    egui::Slider::new(value, range).text(text).max_decimals(decimals)
}

/// The value a slider shows: the user's unconfirmed one, else the engine's, else `fallback`.
/// A pending value the engine has confirmed is forgotten.
fn pending_value(pending: &mut Option<f64>, confirmed: Option<f64>, fallback: f64) -> f64 {
    clear_confirmed(pending, confirmed);
    pending.or(confirmed).unwrap_or(fallback)
}

/// Remembers a moved slider's value; returns it when it should be sent to the engine.
fn track(response: &egui::Response, value: f64, pending: &mut Option<f64>) -> Option<f64> {
    if response.dragged() || committed(response) {
        *pending = Some(value);
    }
    committed(response).then_some(value)
}

/// A slider's new value is sent when a drag ends or a keyboard or click change lands, not on
/// every frame of a drag.
fn committed(response: &egui::Response) -> bool {
    response.drag_stopped() || (response.changed() && !response.dragged())
}

fn clear_confirmed(pending: &mut Option<f64>, confirmed: Option<f64>) {
    if let (Some(p), Some(c)) = (*pending, confirmed)
        && (p - c).abs() < 1e-9
    {
        *pending = None;
    }
}

/// More runs beside the current ones: the preset again, a sweep over one value, or a repeat
/// over seeds; and how many train at once.
fn compare(ui: &mut egui::Ui, view: &mut ViewContext) {
    ui.label("Compare (runs are added beside the current ones)");
    ui.horizontal_wrapped(|ui| {
        if ui.button("Queue preset").on_hover_text("Add the chosen preset as one more run").clicked() {
            view.actions.push(Action::Queue(Queue::Once));
        }
        let label = ui.label("Seeds");
        ui.add(egui::DragValue::new(&mut view.settings.seeds).range(2..=20)).labelled_by(label.id);
        if ui.button("Repeat over seeds").on_hover_text("Runs with train.seed = 0, 1, …; drawn as mean ± std").clicked()
        {
            view.actions.push(Action::Queue(Queue::Seeds(view.settings.seeds)));
        }
    });
    ui.horizontal(|ui| {
        let label = ui.label("Run folder");
        ui.add(egui::TextEdit::singleline(&mut view.selection.run_path).hint_text("runs/kd-…").desired_width(110.0))
            .labelled_by(label.id);
        let path = view.selection.run_path.trim().to_string();
        let open = ui.add_enabled(!path.is_empty(), egui::Button::new("Open run"));
        if open.on_hover_text("Show a run folder written by `kdlab run` beside the others").clicked() {
            view.actions.push(Action::OpenRun(PathBuf::from(path)));
        }
        if ui.button("Browse…").on_hover_text("Pick a run folder").clicked() {
            view.actions.push(Action::Browse(Browse::RunFolder));
        }
    });
    egui::Grid::new("sweep").num_columns(2).show(ui, |ui| {
        let label = ui.label("Sweep key");
        ui.add(egui::TextEdit::singleline(&mut view.settings.sweep_key).desired_width(230.0)).labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Values");
        ui.add(egui::TextEdit::singleline(&mut view.settings.sweep_values).desired_width(230.0)).labelled_by(label.id);
        ui.end_row();
    });
    ui.horizontal(|ui| {
        let values: Vec<String> =
            view.settings.sweep_values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        let ready = !values.is_empty() && !view.settings.sweep_key.trim().is_empty();
        if ui.add_enabled(ready, egui::Button::new("Queue sweep")).on_hover_text("One run per value").clicked() {
            let key = view.settings.sweep_key.trim().to_string();
            view.actions.push(Action::Queue(Queue::Sweep { key, values }));
        }
        let label = ui.label("Runs at once");
        ui.add(egui::DragValue::new(&mut view.settings.pool_size).range(1..=16)).labelled_by(label.id);
    });
}

/// Where "Export plots", "Save run" and reports write; edited as text and kept between
/// launches.
fn export_folder(ui: &mut egui::Ui, view: &mut ViewContext) {
    ui.horizontal(|ui| {
        let label = ui.label("Export folder");
        let mut text = view.settings.export_dir.display().to_string();
        if ui.add(egui::TextEdit::singleline(&mut text).desired_width(160.0)).labelled_by(label.id).changed() {
            view.settings.export_dir = PathBuf::from(text);
        }
        if ui.button("Browse…").on_hover_text("Pick the export folder").clicked() {
            view.actions.push(Action::Browse(Browse::ExportFolder));
        }
    });
    ui.horizontal(|ui| {
        let save = ui.add_enabled(view.history.is_some(), egui::Button::new("Save run"));
        if save.on_hover_text("Write the followed run as a folder: config, metrics, summary, plots").clicked() {
            view.actions.push(Action::SaveRun);
        }
    });
}

fn stage_list(ui: &mut egui::Ui, view: &mut ViewContext) {
    let Some(history) = view.history else {
        ui.label("Press Start to train the preset.");
        return;
    };
    ui.label(egui::RichText::new("Stages").strong());
    egui::Grid::new("stages").striped(true).num_columns(3).show(ui, |ui| {
        for (index, stage) in history.stages.iter().enumerate() {
            let running = history.current_stage() == Some(index) && stage.outcome.is_none();
            let name = if running { format!("> {}", stage.name) } else { stage.name.clone() };
            ui.label(name);
            ui.label(stage.method);
            let status = match (&stage.outcome, stage.diverged_at) {
                (_, Some(step)) => format!("diverged at step {step}"),
                (Some(o), _) if o.skipped.is_some() => "skipped".into(),
                (Some(o), _) => o.test_accuracy.map_or("-".into(), |a| format!("test {:.2}%", 100.0 * a)),
                (None, _) => stage
                    .series
                    .get("test_accuracy")
                    .and_then(|s| s.last())
                    .map_or(String::new(), |p| format!("test {:.2}%", 100.0 * p[1])),
            };
            ui.label(status);
            ui.end_row();
        }
    });
    for ensemble in &history.ensembles {
        let accuracy = ensemble.test_accuracy.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a));
        ui.label(format!("ensemble {}: {accuracy}", ensemble.name));
    }
}
