//! The control panel: preset (checked as soon as it is picked), dataset (those the preset cannot
//! use greyed with the reason) and device pickers; the run buttons (Start adds a run, Reset asks
//! first); keep training; the live sliders of the followed stage (one per live hyperparameter
//! its method declares, with that declaration's range and meaning) showing its real values; forking the followed run; the stage list; comparison and export.

use crate::engine::DeviceChoice;
use crate::protocol::DatasetEntry;
use crate::protocol::metric;
use crate::protocol::{Command, Parameter};
use crate::protocol::{HyperSpec, Slider};
use crate::ui::context::{Action, Browse, Queue, ViewContext};
use crate::ui::history::{RunHistory, StageHistory};
use crate::ui::settings::PresetChoice;
use std::collections::HashMap;
use std::path::PathBuf;

/// Text fields never get narrower than this, nor wider than the panel.
const MIN_FIELD: f32 = 80.0;

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut ControlsView) {
    state.forget_stale(view);
    egui::ScrollArea::vertical().show(ui, |ui| {
        ui.heading("Run");
        preset_picker(ui, view, state);
        dataset_and_device(ui, view);
        ui.separator();
        run_buttons(ui, view);
        ui.separator();
        live_sliders(ui, view, state);
        ui.separator();
        stage_list(ui, view);
        ui.separator();
        compare(ui, view, state);
        ui.separator();
        export_folder(ui, view);
    });
}

/// A text field as wide as what is left of the row, within limits.
fn field_width(ui: &egui::Ui, reserve: f32) -> f32 {
    (ui.available_width() - reserve).max(MIN_FIELD)
}

fn preset_picker(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut ControlsView) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Preset");
        let combo = egui::ComboBox::from_id_salt("preset")
            .selected_text(view.settings.preset.label())
            .height(480.0)
            .show_ui(ui, |ui| {
                for preset in crate::engine::BUNDLED {
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
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Preset file");
        let width = field_width(ui, 220.0).min(220.0);
        let field = ui
            .add(
                egui::TextEdit::singleline(&mut state.path_input).hint_text("path/to/preset.toml").desired_width(width),
            )
            .labelled_by(label.id);
        let open = ui.button("Open…").on_hover_text("Open the preset file whose path is typed on the left");
        if ui.button("Browse…").on_hover_text("Pick a preset file").clicked() {
            view.actions.push(Action::Browse(Browse::PresetFile));
        }
        let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if (open.clicked() || entered) && !state.path_input.trim().is_empty() {
            let path = PathBuf::from(state.path_input.trim());
            state.opening = Some(path.clone());
            view.actions.push(Action::OpenPreset(path));
        }
    });
    // Two lines, one each, whatever the preset and while its check is under way, so nothing
    // below moves when another is picked or the checker answers (a preset that cannot start
    // says why in full).
    let check = view.selection.check.as_ref().filter(|c| c.is_for(view.settings));
    match check.map(|c| (&c.report.result, c.report.description.as_str())) {
        Some((Ok(stages), description)) => {
            ui.add(egui::Label::new(egui::RichText::new(stages).weak()).truncate()).on_hover_text(stages);
            let claim = description.split("Claim to check:").nth(1).unwrap_or(description).trim();
            let shown = if claim.is_empty() { "(no description)".to_string() } else { format!("Claim: {claim}") };
            ui.add(egui::Label::new(egui::RichText::new(&shown).italics()).truncate()).on_hover_text(description);
        }
        Some((Err(message), _)) => {
            let text = egui::RichText::new(format!("Cannot start: {message}")).color(ui.visuals().error_fg_color);
            ui.add(egui::Label::new(text).wrap());
        }
        None => {
            ui.label(egui::RichText::new("checking the preset…").weak());
            ui.label("");
        }
    }
}

fn dataset_and_device(ui: &mut egui::Ui, view: &mut ViewContext) {
    egui::Grid::new("data_device").num_columns(2).show(ui, |ui| {
        let title = ui.label("Dataset");
        let label = view.settings.dataset.clone().unwrap_or_else(|| "as in the preset".into());
        let check = view.selection.check.as_ref().filter(|c| c.is_for(view.settings));
        let unusable = check.map(|c| c.report.unusable.clone()).unwrap_or_default();
        let combo = egui::ComboBox::from_id_salt("dataset").selected_text(label).show_ui(ui, |ui| {
            if ui.selectable_label(view.settings.dataset.is_none(), "as in the preset").clicked() {
                view.settings.dataset = None;
            }
            for DatasetEntry { name, summary } in crate::engine::datasets() {
                let selected = view.settings.dataset.as_deref() == Some(name);
                let reason = unusable.get(name);
                let response = ui.add_enabled(reason.is_none(), egui::Button::selectable(selected, name));
                let response = match reason {
                    Some(reason) => response.on_disabled_hover_text(format!("This preset cannot use {name}: {reason}")),
                    None => response.on_hover_text(summary),
                };
                if response.clicked() {
                    view.settings.dataset = Some(name.to_string());
                }
            }
        });
        combo.response.labelled_by(title.id);
        ui.end_row();
        let title = ui.label("Device");
        let shown = if view.settings.use_remote { "remote…".to_string() } else { view.settings.device.to_string() };
        let combo = egui::ComboBox::from_id_salt("device").selected_text(shown).show_ui(ui, |ui| {
            for choice in [DeviceChoice::Auto, DeviceChoice::Cpu, DeviceChoice::Gpu] {
                let chosen = !view.settings.use_remote && view.settings.device == choice;
                if ui.selectable_label(chosen, choice.to_string()).clicked() {
                    (view.settings.device, view.settings.use_remote) = (choice, false);
                }
            }
            let hint = "A device another machine hosts with `kdlab serve` (see the README: Train on a GPU server)";
            if ui.selectable_label(view.settings.use_remote, "remote…").on_hover_text(hint).clicked() {
                view.settings.use_remote = true;
            }
        });
        combo.response.labelled_by(title.id);
        ui.end_row();
    });
    remote_fields(ui, view);
}

/// The remote server's address and the file holding its token (the token is never saved).
/// Shown when the device is remote, the token file also when the run pool lists a remote device.
fn remote_fields(ui: &mut egui::Ui, view: &mut ViewContext) {
    let settings = &mut *view.settings;
    if settings.use_remote {
        let server_hint = "WebSocket is unencrypted: use it on a network you trust, or through an SSH tunnel";
        labelled_field(ui, "Server", &mut settings.remote_address, "ws://gpu:3000", server_hint);
    }
    let pool_is_remote = settings.pool_devices.contains("ws://") || settings.pool_devices.contains("iroh:");
    if !(settings.use_remote || pool_is_remote) {
        return;
    }
    let token_hint = "The file `kdlab serve` wrote its token to, copied here; KDLAB_REMOTE_TOKEN wins when set";
    labelled_field(ui, "Token file", &mut settings.remote_token_file, "~/.kdlab-token", token_hint);
}

/// A label and a text field filling the rest of the row (up to 240 points).
fn labelled_field(ui: &mut egui::Ui, label: &str, text: &mut String, placeholder: &str, hint: &str) {
    ui.horizontal(|ui| {
        let label = ui.label(label);
        let width = field_width(ui, 0.0).min(240.0);
        let field = egui::TextEdit::singleline(text).hint_text(placeholder).desired_width(width);
        ui.add(field).labelled_by(label.id).on_hover_text(hint);
    });
}

fn run_buttons(ui: &mut egui::Ui, view: &mut ViewContext) {
    let paused = view.history.is_some_and(RunHistory::is_paused);
    let valid = view.selection.check.as_ref().is_none_or(|c| c.report.result.is_ok());
    let has_runs = !view.runs.is_empty();
    ui.horizontal_wrapped(|ui| {
        let hint = if has_runs {
            "Add a run of the chosen preset beside the others (nothing is cleared)"
        } else {
            "Train the chosen preset"
        };
        if ui.add_enabled(valid, egui::Button::new("Start")).on_hover_text(hint).clicked() {
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
            .add_enabled(has_runs && valid, egui::Button::new("Reset"))
            .on_hover_text("Clear every run and start the preset again (asks first)")
            .clicked()
        {
            view.actions.push(Action::AskReset);
        }
    });
    keep_training(ui, view);
}

/// Whether the steerable stages go on past their epochs until Stop: while a run trains, for the
/// stage the sliders follow (the running one, or the next that has sliders); otherwise the
/// choice Start applies to every stage with a live hyperparameter.
fn keep_training(ui: &mut egui::Ui, view: &mut ViewContext) {
    let target = view.history.filter(|_| view.running).and_then(|h| {
        let index = h.slider_stage()?;
        let stage = h.stages.get(index)?;
        stage.outcome.is_none().then_some((index, stage))
    });
    match target {
        Some((index, stage)) => {
            let mut keep = stage.keep_training;
            let text = format!("Keep training {} until Stop", stage.name);
            let hint = "It goes on past its planned epochs until you press Stop, so there is time to steer it \
                        (the next Start does the same for its steerable stages)";
            if ui.checkbox(&mut keep, text).on_hover_text(hint).changed() {
                view.settings.keep_steering = keep;
                view.actions.push(Action::Command(Command::KeepTraining { stage: index, keep }));
            }
        }
        None => {
            let hint = "Start keeps every stage with a live T, α or β training past its planned epochs until you \
                        press Stop, so there is time to steer it (queued comparisons always end after their epochs)";
            ui.checkbox(&mut view.settings.keep_steering, "Keep steerable stages training until Stop")
                .on_hover_text(hint);
        }
    }
}

/// The live parameters of the stage's method, in the order it declares them.
fn live_order(stage: &StageHistory) -> Vec<Parameter> {
    stage.method.into_iter().flat_map(|m| m.live()).filter_map(|h| Parameter::named(h.name)).collect()
}

/// The declaration of a live parameter of the stage's method, with its slider.
fn live_spec(stage: &StageHistory, parameter: Parameter) -> Option<(&'static HyperSpec, Slider)> {
    let hyper = stage.method?.live().find(|h| h.name == parameter.name())?;
    Some((hyper, hyper.live?))
}

/// The followed stage's live parameters at their real values: steerable while the stage runs,
/// shown greyed before it starts and after it ends.
fn live_sliders(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut ControlsView) {
    let history = view.history;
    let stage = history.and_then(|h| Some((h, h.slider_stage()?)));
    let Some((history, index)) = stage else {
        let why = if history.is_some() { "this run has no stage with a live hyperparameter" } else { "no run yet" };
        ui.label(format!("Distillation: {why}"));
        return;
    };
    let stage = &history.stages[index];
    let live = view.running && history.steerable_stage().is_some_and(|s| s.name == stage.name);
    let when = match (&stage.outcome, live) {
        (_, true) => "",
        (Some(_), _) => " (finished)",
        (None, _) if history.finished => " (did not run)",
        (None, _) => " (starts later)",
    };
    ui.label(format!("Distillation: {}{when}", stage.name));
    for parameter in live_order(stage) {
        let (Some(confirmed), Some((hyper, spec))) = (stage.parameter(parameter), live_spec(stage, parameter)) else {
            continue;
        };
        let pending = view.selection.pending.entry(parameter);
        let mut value = match pending {
            std::collections::hash_map::Entry::Occupied(entry) if live && (*entry.get() - confirmed).abs() > 1e-9 => {
                *entry.get()
            }
            std::collections::hash_map::Entry::Occupied(entry) => {
                entry.remove();
                confirmed
            }
            std::collections::hash_map::Entry::Vacant(_) => confirmed,
        };
        let slider = egui::Slider::new(&mut value, spec.min..=spec.max)
            .text(hyper.label)
            .max_decimals(spec.decimals)
            .logarithmic(spec.logarithmic);
        let response = ui.add_enabled(live, slider).on_hover_text(hyper.help);
        if response.dragged() || committed(&response) {
            view.selection.pending.insert(parameter, value);
        }
        if committed(&response) {
            view.actions.push(Action::Command(Command::Set(parameter, value)));
        }
    }
    fork_controls(ui, view, state, stage);
}

/// A slider's new value is sent when a drag ends or a keyboard or click change lands, not on
/// every frame of a drag.
fn committed(response: &egui::Response) -> bool {
    response.drag_stopped() || (response.changed() && !response.dragged())
}

/// "Fork here": a new run from the followed run's current step, the same weights and optimizer
/// state, with the values set here; both then train side by side.
fn fork_controls(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut ControlsView, stage: &StageHistory) {
    let running = view.running;
    let current: HashMap<Parameter, f64> = stage.parameters.iter().map(|(&p, &v)| (p, v)).collect();
    let Some((_, draft)) = state.fork_draft.as_mut() else {
        let button = ui.add_enabled(running, egui::Button::new("Fork here…"));
        let hint = "Branch a new run off this one at its current step (same weights and optimizer state), \
                    with other values; both train side by side";
        if button.on_hover_text(hint).clicked() {
            state.fork_draft = Some((view.current_run, current));
        }
        return;
    };
    ui.label("Fork at the current step with:");
    egui::Grid::new("fork_values").num_columns(2).show(ui, |ui| {
        for parameter in live_order(stage) {
            let Some((hyper, spec)) = live_spec(stage, parameter) else { continue };
            let label = ui.label(format!("fork {}", hyper.label));
            if let Some(value) = draft.get_mut(&parameter) {
                let speed = (spec.max - spec.min) / 500.0;
                ui.add(egui::DragValue::new(value).range(spec.min..=spec.max).speed(speed).max_decimals(spec.decimals))
                    .labelled_by(label.id);
            }
            ui.end_row();
        }
    });
    let mut close = false;
    ui.horizontal(|ui| {
        if ui.add_enabled(running, egui::Button::new("Start fork")).clicked() {
            let changes: Vec<(Parameter, f64)> = draft
                .iter()
                .filter(|(p, v)| current.get(p).is_none_or(|c| (*c - **v).abs() > 1e-12))
                .map(|(p, v)| (*p, *v))
                .collect();
            view.actions.push(Action::Fork(changes));
            close = true;
        }
        close |= ui.button("Cancel fork").clicked();
    });
    if close {
        state.fork_draft = None;
    }
}

/// More runs beside the current ones: the preset again, a sweep over one value, or a repeat
/// over seeds; and how many train at once.
fn compare(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut ControlsView) {
    let valid = view.selection.check.as_ref().is_none_or(|c| c.report.result.is_ok());
    ui.label("Compare (runs are added beside the current ones)");
    ui.horizontal_wrapped(|ui| {
        if ui
            .add_enabled(valid, egui::Button::new("Queue preset"))
            .on_hover_text("Add the chosen preset as one more run")
            .clicked()
        {
            view.actions.push(Action::Queue(Queue::Once));
        }
        let label = ui.label("Seeds");
        ui.add(egui::DragValue::new(&mut view.settings.seeds).range(2..=20)).labelled_by(label.id);
        let repeat = ui.add_enabled(valid, egui::Button::new("Repeat over seeds"));
        if repeat.on_hover_text("Runs with train.seed = 0, 1, …; drawn as mean ± std").clicked() {
            view.actions.push(Action::Queue(Queue::Seeds(view.settings.seeds)));
        }
    });
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Run folder");
        let width = field_width(ui, 220.0).min(220.0);
        ui.add(egui::TextEdit::singleline(&mut state.run_path).hint_text("runs/kd-…").desired_width(width))
            .labelled_by(label.id);
        let path = state.run_path.trim().to_string();
        let open = ui.add_enabled(!path.is_empty(), egui::Button::new("Open run"));
        if open.on_hover_text("Show a run folder written by `kdlab run` or Save run beside the others").clicked() {
            view.actions.push(Action::OpenRun(PathBuf::from(path)));
        }
        if ui.button("Browse…").on_hover_text("Pick a run folder").clicked() {
            view.actions.push(Action::Browse(Browse::RunFolder));
        }
    });
    egui::Grid::new("sweep").num_columns(2).show(ui, |ui| {
        let label = ui.label("Sweep key");
        let width = field_width(ui, 0.0).min(240.0);
        ui.add(egui::TextEdit::singleline(&mut view.settings.sweep_key).desired_width(width)).labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Values");
        ui.add(egui::TextEdit::singleline(&mut view.settings.sweep_values).desired_width(width)).labelled_by(label.id);
        ui.end_row();
    });
    ui.horizontal_wrapped(|ui| {
        let values: Vec<String> =
            view.settings.sweep_values.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
        let ready = valid && !values.is_empty() && !view.settings.sweep_key.trim().is_empty();
        if ui.add_enabled(ready, egui::Button::new("Queue sweep")).on_hover_text("One run per value").clicked() {
            let key = view.settings.sweep_key.trim().to_string();
            let seeds = if view.settings.sweep_over_seeds { view.settings.seeds } else { 1 };
            view.actions.push(Action::Queue(Queue::Sweep { key, values, seeds }));
        }
        ui.checkbox(&mut view.settings.sweep_over_seeds, "over Seeds")
            .on_hover_text("Each value over seeds 0, 1, … (the Seeds above): the Sweep view draws mean ± std");
        let label = ui.label("Runs at once");
        ui.add(egui::DragValue::new(&mut view.settings.pool_size).range(1..=16)).labelled_by(label.id);
    });
    let hint = "One run at a time on each of these devices (cpu, gpu, ws://HOST:PORT, iroh:ID; remote ones use the \
                Token file above); empty: Runs at once on the Device above";
    labelled_field(ui, "Run on", &mut view.settings.pool_devices, "cpu, ws://gpu:3000", hint);
    if let Err(error) = view.settings.pool_targets() {
        ui.colored_label(ui.visuals().error_fg_color, error.to_string());
    }
}

/// Where "Export plots", "Save run" and reports write; edited as text and kept between
/// launches.
fn export_folder(ui: &mut egui::Ui, view: &mut ViewContext) {
    ui.horizontal_wrapped(|ui| {
        let label = ui.label("Export folder");
        let mut text = view.settings.export_dir.display().to_string();
        let width = field_width(ui, 170.0).min(220.0);
        if ui.add(egui::TextEdit::singleline(&mut text).desired_width(width)).labelled_by(label.id).changed() {
            view.settings.export_dir = PathBuf::from(text);
        }
        if ui.button("Browse…").on_hover_text("Pick the export folder").clicked() {
            view.actions.push(Action::Browse(Browse::ExportFolder));
        }
    });
    ui.horizontal(|ui| {
        let save = ui.add_enabled(view.history.is_some_and(|h| h.info.is_some()), egui::Button::new("Save run"));
        let hint = "Write the followed run as a folder: config, metrics, summary, probes, plots";
        if save.on_hover_text(hint).clicked() {
            view.actions.push(Action::SaveRun);
        }
    });
}

/// What a stage's row says: running, its result, or why it has none.
fn stage_status(history: &RunHistory, index: usize, stage: &StageHistory) -> String {
    let percent = |a: Option<f64>| a.map_or("-".to_string(), |a| format!("{:.2}%", 100.0 * a));
    if let Some(step) = stage.diverged_at {
        return format!("diverged at step {step}");
    }
    match &stage.outcome {
        Some(o) if o.skipped.is_some() => "skipped".into(),
        Some(o) if o.stopped => format!("stopped at step {}, test {}", o.steps, percent(o.test_accuracy)),
        Some(o) if o.cached => format!("cached, test {}", percent(o.test_accuracy)),
        Some(o) => {
            // Classes the stage never saw in training: how many of their test examples it names,
            // a line each (the column is narrow).
            let unseen = o
                .excluded_classes
                .iter()
                .map(|c| format!("\nunseen class {} {}", c.class, percent(Some(c.test_accuracy))));
            format!("test {}{}", percent(o.test_accuracy), unseen.collect::<String>())
        }
        None if history.current_stage() == Some(index) && !history.finished => {
            let last = stage.series.get(metric::TEST_ACCURACY).and_then(|s| s.last()).map(|p| p[1]);
            format!("running, test {}", percent(last))
        }
        None => String::new(),
    }
}

fn stage_list(ui: &mut egui::Ui, view: &mut ViewContext) {
    let Some(history) = view.history else {
        ui.label("Press Start to train the preset.");
        return;
    };
    ui.label(egui::RichText::new("Stages").strong());
    egui::Grid::new("stages").striped(true).num_columns(3).show(ui, |ui| {
        for (index, stage) in history.stages.iter().enumerate() {
            let running = history.current_stage() == Some(index) && stage.outcome.is_none() && !history.finished;
            let name = if running { format!("> {}", stage.name) } else { stage.name.clone() };
            ui.label(name);
            ui.label(stage.method_name());
            // Wrapped: long stage names leave the status little room in a narrow panel.
            ui.add(egui::Label::new(stage_status(history, index, stage)).wrap());
            ui.end_row();
        }
    });
    for ensemble in &history.ensembles {
        let accuracy = ensemble.test_accuracy.map_or("-".into(), |a| format!("{:.2}%", 100.0 * a));
        ui.label(format!("ensemble {}: {accuracy}", ensemble.name));
    }
}

/// The controls view (stateless: what it shows lives in the run's history).
#[derive(Default)]
pub(crate) struct ControlsView {
    /// The path typed beside "Open…".
    path_input: String,
    /// The preset file asked to be opened: once it is the chosen preset, the field clears (a
    /// file that could not be opened stays typed, to be fixed).
    opening: Option<PathBuf>,
    /// The run folder typed beside "Open run".
    run_path: String,
    /// The values a fork being set up will start with, and the run (its index) it forks.
    fork_draft: Option<(usize, HashMap<Parameter, f64>)>,
}

impl ControlsView {
    /// Clears what no longer applies: the typed path of a preset that is now open, a fork set
    /// up for a run no longer followed.
    fn forget_stale(&mut self, view: &ViewContext) {
        if self.opening.as_ref().is_some_and(|p| view.settings.preset == PresetChoice::File(p.clone())) {
            self.opening = None;
            self.path_input.clear();
        }
        if self.fork_draft.as_ref().is_some_and(|(run, _)| *run != view.current_run) {
            self.fork_draft = None;
        }
    }
}

impl super::View for ControlsView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Controls", title: "Controls", beside: "" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view, self);
    }
}
