//! The eframe application: drains engine events each frame without blocking, lays out the
//! tiles and the status bar, applies what the views ask for, shows errors, and keeps the
//! settings and the tile arrangement between launches.

use super::frame_stats::FrameStats;
use super::runs::{RunRequest, Runs};
use super::session::Session;
use super::settings::{PresetChoice, Settings};
use super::views::{self, Action, Behavior, Browse, Pane, Queue, Selection, ViewContext};
use crate::device::DeviceChoice;
use crate::train::Command;
use crossbeam_channel::Receiver;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const STORAGE_KEY: &str = "kdlab";

/// What a screenshot callback reports: what it wrote, or why it could not.
type ExportOutcome = Result<String, String>;

/// What is saved between launches.
#[derive(Serialize, Deserialize)]
struct Saved {
    settings: Settings,
    tree: egui_tiles::Tree<Pane>,
}

/// The workbench.
pub struct KdlabApp {
    settings: Settings,
    tree: egui_tiles::Tree<Pane>,
    runs: Runs,
    selection: Selection,
    /// An error not tied to the run (a preset file that cannot be read, a failed export).
    error: Option<String>,
    /// The outcome of the last export, shown until dismissed.
    notice: Option<String>,
    /// The open file dialog and what it picks.
    dialog: Option<(Browse, egui_file::FileDialog)>,
    /// Where screenshot callbacks report the PNGs they wrote.
    screenshots: (crossbeam_channel::Sender<ExportOutcome>, Receiver<ExportOutcome>),
    frame_stats: FrameStats,
    show_frame_stats: bool,
    /// The device choice being resolved in the background, and where its label arrives.
    device_preview: Option<(DeviceChoice, Receiver<String>)>,
    /// What was last written to storage, so a change is saved at once rather than only at exit.
    saved: (Settings, egui_tiles::Tree<Pane>),
}

impl KdlabApp {
    /// Restores the saved settings and arrangement, if any.
    pub fn new(cc: &eframe::CreationContext<'_>) -> KdlabApp {
        let saved: Option<Saved> = cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY));
        let (settings, mut tree) =
            saved.map_or_else(|| (Settings::default(), views::default_tree()), |s| (s.settings, s.tree));
        if !views::has_every_pane(&tree) {
            tree = views::default_tree();
        }
        KdlabApp::with(settings, tree)
    }

    /// An app with these settings and this arrangement, not tied to a window (the frame-time
    /// benchmark draws it into a bare egui context).
    pub fn with(settings: Settings, tree: egui_tiles::Tree<Pane>) -> KdlabApp {
        KdlabApp {
            saved: (settings.clone(), tree.clone()),
            settings,
            tree,
            runs: Runs::default(),
            selection: Selection::default(),
            error: None,
            notice: None,
            screenshots: crossbeam_channel::unbounded(),
            dialog: None,
            frame_stats: FrameStats::default(),
            show_frame_stats: false,
            device_preview: None,
        }
    }

    /// Resolves the device setting off the UI thread (enumerating adapters takes a moment) and
    /// picks up the answer when it is there.
    fn preview_device(&mut self, ctx: &egui::Context) {
        let choice = self.settings.device;
        if self.device_preview.as_ref().is_none_or(|(previewed, _)| *previewed != choice) {
            let (sender, receiver) = crossbeam_channel::bounded(1);
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let label = match crate::device::resolve(choice) {
                    Ok((backend, adapter, _)) => crate::device::label(backend, &adapter),
                    Err(error) => error.to_string(),
                };
                let _ = sender.send(label);
                ctx.request_repaint();
            });
            self.device_preview = Some((choice, receiver));
            self.selection.device_label = None;
        }
        if let Some((_, receiver)) = &self.device_preview
            && let Ok(label) = receiver.try_recv()
        {
            self.selection.device_label = Some(label);
        }
    }

    /// The run's record, for tests and the status bar.
    pub fn session(&self) -> Option<&Session> {
        self.runs.current().and_then(|r| r.session())
    }

    /// The settings in force (saved between launches).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Every run, for tests and the runs table.
    pub fn runs(&self) -> &Runs {
        &self.runs
    }

    /// Where a plot (`loss_plot`, `accuracy_plot`, …) was drawn in the last frame, in points.
    pub fn plot_rect(&self, id: &str) -> Option<egui::Rect> {
        self.selection.plot_rects.get(id).copied()
    }

    pub fn frame_stats(&self) -> &FrameStats {
        &self.frame_stats
    }

    fn start(&mut self) {
        self.error = None;
        self.selection = Selection {
            path_input: std::mem::take(&mut self.selection.path_input),
            run_path: std::mem::take(&mut self.selection.run_path),
            device_label: self.selection.device_label.take(),
            ..Selection::default()
        };
        match self.settings.preset.source() {
            Ok(source) => {
                let label = self.settings.preset.short_name();
                let (overrides, device) = (self.settings.overrides(), self.settings.device);
                self.runs.queue(RunRequest { label, source, overrides, device, group: None, seed: None });
                self.runs.pump(self.settings.pool_size);
            }
            Err(error) => self.error = Some(error.to_string()),
        }
    }

    /// Asks the window for a screenshot and, when it arrives, writes each plot's screen pixels
    /// at twice the plot's size in points as `<stem>.png` (as egui_plot's save_plot example).
    fn request_plot_pngs(
        &self,
        ctx: &egui::Context,
        dir: &std::path::Path,
        plots: &[views::ExportedPlot],
        written: usize,
    ) {
        let targets: Vec<(std::path::PathBuf, egui::Rect)> =
            plots.iter().filter_map(|p| p.rect.map(|rect| (dir.join(format!("{}.png", p.stem)), rect))).collect();
        let (sender, repaint, folder) = (self.screenshots.0.clone(), ctx.clone(), dir.display().to_string());
        let pixels_per_point = ctx.pixels_per_point();
        let callback = egui::ScreenshotCallback::new(move |image: std::sync::Arc<egui::ColorImage>| {
            let rgba: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
            let outcome = targets.iter().try_for_each(|(path, rect)| {
                let region = [
                    (rect.min.x * pixels_per_point).round() as usize,
                    (rect.min.y * pixels_per_point).round() as usize,
                    (rect.width() * pixels_per_point).round() as usize,
                    (rect.height() * pixels_per_point).round() as usize,
                ];
                let out = [(rect.width() * 2.0).round() as u32, (rect.height() * 2.0).round() as u32];
                let png = crate::export::png::crop_png(&rgba, image.size[0], region, out)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                std::fs::write(path, png).map_err(|e| format!("cannot write {}: {e}", path.display()))
            });
            let message = |()| {
                format!("exported {written} files and {} PNG files (screen pixels at 2x) to {folder}", targets.len())
            };
            let _ = sender.send(outcome.map(message));
            repaint.request_repaint();
        });
        ctx.send_viewport_cmd(egui::ViewportCommand::Screenshot(callback));
    }

    /// Opens the file dialog for `target`, starting where its current value points.
    fn browse(&mut self, target: Browse) {
        let start = match target {
            Browse::ExportFolder => self.settings.export_dir.clone(),
            Browse::RunFolder | Browse::PresetFile => std::env::current_dir().unwrap_or_default(),
        };
        let mut dialog = match target {
            Browse::PresetFile => egui_file::FileDialog::open_file()
                .show_files_filter(Box::new(|path: &std::path::Path| path.extension().is_some_and(|e| e == "toml"))),
            Browse::RunFolder | Browse::ExportFolder => egui_file::FileDialog::select_folder(),
        }
        .initial_path(start);
        dialog.open();
        self.dialog = Some((target, dialog));
    }

    /// Shows the file dialog and applies what it picked.
    fn file_dialog(&mut self, ctx: &egui::Context) {
        let Some((target, dialog)) = &mut self.dialog else { return };
        let target = *target;
        dialog.show(ctx);
        let picked = dialog.selected().then(|| dialog.path().map(std::path::Path::to_path_buf)).flatten();
        match dialog.state() {
            egui_file::State::Open => return,
            _ => self.dialog = None,
        }
        let Some(path) = picked else { return };
        match target {
            Browse::PresetFile => self.apply(Action::OpenPreset(path), ctx),
            Browse::RunFolder => self.apply(Action::OpenRun(path), ctx),
            Browse::ExportFolder => self.settings.export_dir = path,
        }
    }

    /// Picks up the outcome of a PNG export.
    fn take_screenshot_outcomes(&mut self) {
        while let Ok(outcome) = self.screenshots.1.try_recv() {
            match outcome {
                Ok(message) => self.notice = Some(message),
                Err(message) => self.error = Some(format!("export failed: {message}")),
            }
        }
    }

    /// Writes the followed run as a run folder in the export folder.
    fn save_run(&mut self) {
        let Some(run) = self.runs.current() else { return };
        let Some(history) = run.history() else { return };
        let dir = self.settings.export_dir.join(format!("{}-run", run.label.replace(['/', ' '], "_")));
        match history.save(&dir) {
            Ok(()) => self.notice = Some(format!("saved the run to {}", dir.display())),
            Err(error) => self.error = Some(format!("saving the run failed: {error}")),
        }
    }

    /// Writes report.md and its plots for a finished seed group into the export folder.
    fn write_report(&mut self, group: usize) {
        let Some(runs) = self.runs.seed_runs(group) else {
            self.error = Some("the report waits for every seed of the group to finish".into());
            return;
        };
        let label = self.runs.runs.iter().find(|r| r.group == Some(group)).map_or("runs", |r| r.label.as_str());
        let name = label.rsplit_once(" seed").map_or(label, |(l, _)| l).replace(['/', ' '], "_");
        let dir = self.settings.export_dir.join(format!("{name}-report"));
        let info = self.runs.runs.iter().find(|r| r.group == Some(group)).and_then(|r| r.history()?.info.clone());
        let (preset, description, device) =
            info.map_or_else(Default::default, |i| (i.preset.clone(), i.description.clone(), i.device.clone()));
        match crate::report::write_report(&dir, &preset, &description, &device, &runs) {
            Ok(()) => self.notice = Some(format!("wrote {}", dir.join("report.md").display())),
            Err(error) => self.error = Some(format!("report failed: {error}")),
        }
    }

    /// Adds runs of the chosen preset beside the ones there: once, a sweep over one value, or
    /// a repeat over seeds.
    fn queue(&mut self, queue: Queue) {
        let source = match self.settings.preset.source() {
            Ok(source) => source,
            Err(error) => {
                self.error = Some(error.to_string());
                return;
            }
        };
        let name = self.settings.preset.short_name();
        let request = |label: String, extra: Option<String>, group: Option<usize>| RunRequest {
            label,
            source: source.clone(),
            overrides: self.settings.overrides().into_iter().chain(extra).collect(),
            device: self.settings.device,
            group,
            seed: None,
        };
        let requests: Vec<RunRequest> = match queue {
            Queue::Once => vec![request(name, None, None)],
            Queue::Sweep { key, values } => {
                let short = key.rsplit('.').next().unwrap_or(&key).to_string();
                values
                    .iter()
                    .map(|v| request(format!("{name} {short}={v}"), Some(format!("{key}={v}")), None))
                    .collect()
            }
            Queue::Seeds(count) => {
                let group = Some(self.runs.new_group());
                (0..count)
                    .map(|k| request(format!("{name} seed {k}"), Some(format!("train.seed={k}")), group))
                    .collect()
            }
        };
        if self.runs.runs.is_empty() {
            self.selection = Selection {
                path_input: std::mem::take(&mut self.selection.path_input),
                device_label: self.selection.device_label.take(),
                ..Selection::default()
            };
        }
        for request in requests {
            self.runs.queue(request);
        }
        self.runs.pump(self.settings.pool_size);
    }

    fn apply(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::Start | Action::Reset => {
                self.runs.clear();
                self.start();
            }
            Action::Queue(queue) => self.queue(queue),
            Action::ShowRun(index, visible) => {
                if let Some(run) = self.runs.runs.get_mut(index) {
                    run.visible = visible;
                }
            }
            Action::OpenRun(dir) => match crate::record::past::read_run(&dir) {
                Ok(events) => {
                    let label =
                        dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
                    self.runs.adopt(&label, Session::replayed(events));
                    self.runs.current = self.runs.runs.len() - 1;
                    self.selection.stage = None;
                }
                Err(error) => self.error = Some(format!("cannot open the run: {error}")),
            },
            Action::WriteReport(group) => self.write_report(group),
            Action::SaveRun => self.save_run(),
            Action::Browse(target) => self.browse(target),
            Action::ExportTables(tables) => {
                let dir = self.settings.export_dir.clone();
                let written: Result<Vec<_>, _> =
                    tables.iter().map(|(stem, table)| crate::export::table::export_table(&dir, stem, table)).collect();
                match written {
                    Ok(files) => {
                        let count: usize = files.iter().map(Vec::len).sum();
                        self.notice = Some(format!("exported {count} files to {}", dir.display()));
                    }
                    Err(error) => self.error = Some(format!("export failed: {error}")),
                }
            }
            Action::FollowRun(index) => {
                if index < self.runs.runs.len() {
                    self.runs.current = index;
                    self.selection.stage = None;
                }
            }
            Action::Command(command) => {
                if let Some(session) = self.session() {
                    session.send(command);
                }
            }
            Action::Export(plots) => {
                let dir = self.settings.export_dir.clone();
                let mut written = 0;
                for plot in &plots {
                    match crate::export::data::export_plot(&dir, &plot.stem, &plot.spec, &plot.series) {
                        Ok(files) => written += files.len(),
                        Err(error) => {
                            self.error = Some(format!("export failed: {error}"));
                            return;
                        }
                    }
                }
                // The notice waits for the PNGs: a banner now would move the plots on the
                // screen the PNGs are cut from.
                self.request_plot_pngs(ctx, &dir, &plots, written);
            }
            Action::OpenPreset(path) => match crate::train::PresetSource::read(&path) {
                Ok(_) => {
                    self.selection.path_input.clear();
                    self.settings.remember(path.clone());
                    self.settings.preset = PresetChoice::File(path);
                    self.error = None;
                }
                Err(error) => self.error = Some(error.to_string()),
            },
        }
    }

    fn handle_keys(&mut self, ctx: &egui::Context) {
        let typing = ctx.egui_wants_keyboard_input();
        let (space, f12) = ctx.input(|i| (i.key_pressed(egui::Key::Space), i.key_pressed(egui::Key::F12)));
        if f12 {
            self.show_frame_stats = !self.show_frame_stats;
        }
        if space
            && !typing
            && let Some(session) = self.session()
            && session.is_running()
        {
            let command = if session.history.is_paused() { Command::Resume } else { Command::Pause };
            session.send(command);
        }
    }

    /// The error to show: the run's own, or one from opening or starting.
    fn shown_error(&self) -> Option<String> {
        self.error.clone().or_else(|| self.session().and_then(|s| s.history.error.clone()))
    }

    /// A line saying what the last export wrote, until dismissed.
    fn notice_banner(&mut self, ui: &mut egui::Ui) {
        let Some(message) = self.notice.clone() else { return };
        egui::Panel::top("notice").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.colored_label(egui::Color32::from_rgb(120, 200, 120), message);
                if ui.button("OK").clicked() {
                    self.notice = None;
                }
            });
        });
    }

    fn error_banner(&mut self, ui: &mut egui::Ui) {
        let Some(message) = self.shown_error() else { return };
        egui::Panel::top("error").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.colored_label(ui.visuals().error_fg_color, format!("Error: {message}"));
                if ui.button("Dismiss").clicked() {
                    self.error = None;
                    if let Some(session) = self.runs.current_session_mut() {
                        session.history.error = None;
                    }
                }
            });
        });
    }

    /// Writes settings and arrangement as soon as they change, so a crash or a killed window
    /// keeps them (eframe alone saves only at exit and every 30 s of activity).
    fn save_if_changed(&mut self, frame: &mut eframe::Frame) {
        if self.saved.0 == self.settings && self.saved.1 == self.tree {
            return;
        }
        self.saved = (self.settings.clone(), self.tree.clone());
        if let Some(storage) = frame.storage_mut() {
            eframe::App::save(self, storage);
            storage.flush();
        }
    }

    fn frame_stats_window(&self, ctx: &egui::Context) {
        if !self.show_frame_stats {
            return;
        }
        egui::Window::new("Frame times (F12)").resizable(false).show(ctx, |ui| {
            let show = |q: f32| self.frame_stats.percentile(q).map_or("-".into(), |ms| format!("{ms:.2} ms"));
            ui.label(format!("app work per frame over the last {} frames", self.frame_stats.len()));
            ui.label(format!("p50 {}   p95 {}   p99 {}   max {}", show(0.5), show(0.95), show(0.99), show(1.0)));
        });
    }
}

impl KdlabApp {
    /// One frame of the workbench: events in, views drawn, their actions applied.
    pub fn draw(&mut self, ui: &mut egui::Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        self.runs.pump(self.settings.pool_size);
        self.take_screenshot_outcomes();
        self.handle_keys(&ctx);
        self.preview_device(&ctx);
        self.error_banner(ui);
        self.notice_banner(ui);
        let mut actions = Vec::new();
        let running = self.session().is_some_and(Session::is_running);
        let overlay = views::overlay_of(&self.runs);
        let mut behavior = Behavior {
            view: ViewContext {
                history: self.runs.current().and_then(|r| r.history()),
                runs: overlay,
                current_run: self.runs.current,
                running,
                settings: &mut self.settings,
                selection: &mut self.selection,
                actions: &mut actions,
            },
        };
        egui::Panel::bottom("status").show(ui, |ui| views::status::ui(ui, &behavior.view));
        egui::CentralPanel::default().show(ui, |ui| self.tree.ui(&mut behavior, ui));
        for action in actions {
            self.apply(action, &ctx);
        }
        self.frame_stats_window(&ctx);
        self.file_dialog(&ctx);
        if self.runs.busy() {
            // Keep drawing while the engine works; otherwise egui redraws only on input.
            ctx.request_repaint_after(Duration::from_millis(16));
        }
        self.frame_stats.record(started.elapsed());
    }

    /// Replaces the run with one whose events come from `session` (the benchmark's replay).
    pub fn attach(&mut self, session: Session) {
        self.runs.clear();
        self.runs.adopt("replay", session);
    }
}

impl eframe::App for KdlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.draw(ui);
        self.save_if_changed(frame);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let saved = Saved { settings: self.settings.clone(), tree: self.tree.clone() };
        eframe::set_value(storage, STORAGE_KEY, &saved);
    }
}
