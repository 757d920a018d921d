//! The eframe application: drains engine events each frame without blocking, lays out the
//! tiles and the status bar, applies what the views ask for (never clearing runs unasked),
//! shows errors and notices over the layout, and keeps the settings and the tile arrangement
//! between launches.

use super::context::{
    Action, Browse, CheckKey, PlotFrame, PresetCheck, Queue, Selection, ViewContext, check_key, overlay_of,
};
use super::frame_stats::FrameStats;
use super::layout::{Behavior, Pane, complete_layout, default_tree};
use super::runs::{RunRequest, Runs, SweepPoint};
use super::session::Session;
use super::settings::{PresetChoice, Settings};
use super::views::{self, View};
use crate::protocol::{Command, Parameter, PresetReport};
use crossbeam_channel::Receiver;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const STORAGE_KEY: &str = "kdlab";
/// How long Start waits for a preset check still under way (it takes milliseconds).
const CHECK_WAIT: Duration = Duration::from_secs(5);
/// How long a notice (an export written, a run saved) stays on the screen.
const NOTICE_TIME: Duration = Duration::from_secs(8);
/// Room left under the banners for the status bar.
const STATUS_BAR_HEIGHT: f32 = 30.0;

/// A run the window follows as soon as it has started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Follow {
    /// This run (by id), once its data is ready.
    Run(u64),
    /// The fork asked for from this run (by id), once it arrives.
    ForkOf(u64),
}

/// What is saved between launches. (Versions before views were a registry saved the
/// arrangement as `tree`; it is ignored, and the default arrangement used once.)
#[derive(Serialize, Deserialize)]
struct Saved {
    settings: Settings,
    #[serde(default)]
    layout: Option<egui_tiles::Tree<Pane>>,
}

/// The workbench.
pub struct KdlabApp {
    settings: Settings,
    tree: egui_tiles::Tree<Pane>,
    /// Every view, with its own state.
    views: Vec<Box<dyn View>>,
    runs: Runs,
    selection: Selection,
    /// An error not tied to the run (a preset file that cannot be read, a failed export).
    error: Option<String>,
    /// The outcome of the last export, and when it came: shown for a few seconds, or until
    /// dismissed.
    notice: Option<(String, Instant)>,
    /// The open file dialog and what it picks.
    dialog: Option<(Browse, egui_file::FileDialog)>,
    /// A run to follow as soon as it has started.
    follow: Option<Follow>,
    /// Whether the "clear every run?" question is open.
    confirm_reset: bool,
    /// File-writing jobs under way, and where each one's outcome arrives.
    exports: Vec<Receiver<Result<String, String>>>,
    frame_stats: FrameStats,
    show_frame_stats: bool,
    /// The device choice being resolved in the background, and where its label arrives.
    device_preview: Option<(String, Receiver<String>)>,
    /// The preset check asked of the engine's checker, and where its answer arrives.
    pending_check: Option<(CheckKey, Receiver<PresetReport>)>,
    /// What was last written to storage, so a change is saved at once rather than only at exit.
    saved: (Settings, egui_tiles::Tree<Pane>),
}

impl KdlabApp {
    /// Restores the saved settings and arrangement, if any.
    pub fn new(cc: &eframe::CreationContext<'_>) -> KdlabApp {
        let saved: Option<Saved> = cc.storage.and_then(|s| eframe::get_value(s, STORAGE_KEY));
        let (settings, layout) = saved.map_or_else(|| (Settings::default(), None), |s| (s.settings, s.layout));
        KdlabApp::with(settings, layout)
    }

    /// An app with these settings and this arrangement (completed with any view it lacks; the
    /// default one when `None`), not tied to a window (the frame-time benchmark draws it into a
    /// bare egui context).
    pub(crate) fn with(settings: Settings, layout: Option<egui_tiles::Tree<Pane>>) -> KdlabApp {
        let views = views::registry();
        let tree = match layout {
            Some(mut tree) => {
                complete_layout(&mut tree, &views);
                tree
            }
            None => default_tree(&views),
        };
        KdlabApp {
            views,
            saved: (settings.clone(), tree.clone()),
            settings,
            tree,
            runs: Runs::default(),
            selection: Selection::default(),
            error: None,
            notice: None,
            dialog: None,
            follow: None,
            confirm_reset: false,
            exports: Vec::new(),
            frame_stats: FrameStats::default(),
            show_frame_stats: false,
            device_preview: None,
            pending_check: None,
        }
    }

    /// Resolves the device setting off the UI thread (enumerating adapters takes a moment) and
    /// picks up the answer when it is there.
    fn preview_device(&mut self, ctx: &egui::Context) {
        let target = self.settings.device_target();
        let key = target.as_ref().map_or_else(|e| e.to_string(), |t| format!("{:?}", t.device));
        if self.device_preview.as_ref().is_none_or(|(previewed, _)| *previewed != key) {
            let (sender, receiver) = crossbeam_channel::bounded(1);
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let _ = sender.send(crate::engine::describe_device(target));
                ctx.request_repaint();
            });
            self.device_preview = Some((key, receiver));
            self.selection.device_label = None;
        }
        if let Some((_, receiver)) = &self.device_preview
            && let Ok(label) = receiver.try_recv()
        {
            self.selection.device_label = Some(label);
        }
    }

    /// The followed run's record, for tests and the status bar.
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

    /// Where a plot (`loss_plot`, `accuracy_plot`, …) was drawn in the last frame and the data
    /// range it showed.
    pub fn plot_frame(&self, id: &str) -> Option<PlotFrame> {
        self.selection.plots.get(id).copied()
    }

    /// Whether the "clear every run?" question is open.
    pub fn asks_to_reset(&self) -> bool {
        self.confirm_reset
    }

    /// Forgets the choices tied to the runs (stage, sample, thumbnails, …), keeping what the
    /// user typed and the preset check.
    fn reset_selection(&mut self) {
        self.selection = Selection {
            device_label: self.selection.device_label.take(),
            check: self.selection.check.take(),
            hidden: std::mem::take(&mut self.selection.hidden),
            ..Selection::default()
        };
    }

    /// Has the engine's checker check the chosen preset against the chosen dataset when either
    /// changed, and takes its answer in when it is there (the frame never waits for it).
    fn refresh_check(&mut self) {
        if self.selection.check.as_ref().is_some_and(|c| c.is_for(&self.settings)) {
            return;
        }
        let key = check_key(&self.settings);
        if self.pending_check.as_ref().is_none_or(|(asked, _)| *asked != key) {
            let receiver = crate::engine::check_preset(self.settings.source(), Vec::new());
            self.pending_check = Some((key, receiver));
        }
        self.take_check(Duration::ZERO);
    }

    /// The pending check's answer, waiting for it at most `wait`.
    fn take_check(&mut self, wait: Duration) {
        let Some((key, receiver)) = &self.pending_check else { return };
        if let Ok(report) = receiver.recv_timeout(wait) {
            self.selection.check = Some(PresetCheck { key: key.clone(), report });
            self.pending_check = None;
        }
    }

    /// The chosen preset's source, if it passes the check; else the check's message goes to
    /// the banner and nothing starts. (Asked on Start or a queue: the check, if still pending,
    /// is waited for, a few milliseconds.)
    fn checked_source(&mut self) -> Option<crate::engine::PresetSource> {
        self.refresh_check();
        self.take_check(CHECK_WAIT);
        if let Some(Err(message)) = self.selection.check.as_ref().map(|c| &c.report.result) {
            self.error = Some(message.clone());
            return None;
        }
        match self.settings.source() {
            Ok(source) => Some(source),
            Err(error) => {
                self.error = Some(error.to_string());
                None
            }
        }
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
            Browse::PresetFile => self.apply(Action::OpenPreset(path)),
            Browse::RunFolder => self.apply(Action::OpenRun(path)),
            Browse::ExportFolder => self.settings.export_dir = path,
        }
    }

    /// The record of where a forked run branched off, with its parent's label.
    fn fork_record(&self, index: usize) -> Option<crate::record::ForkRecord> {
        let run = self.runs.runs.get(index)?;
        let parent = self.runs.index_of(run.parent?).map(|i| self.runs.runs[i].label.clone())?;
        run.history()?.fork_record(&parent)
    }

    /// A folder name from a run label that needs no quoting in a shell: letters, digits, `.`,
    /// `-` and `_` (Greek symbols spelled out, anything else an underscore, never two in a row).
    pub fn folder_name(label: &str) -> String {
        let mut name = String::new();
        for c in label.chars() {
            let spelled = match c {
                'α' => "alpha",
                'β' => "beta",
                'γ' => "gamma",
                'λ' => "lambda",
                c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => {
                    name.push(c);
                    continue;
                }
                _ => "_",
            };
            if spelled == "_" && (name.is_empty() || name.ends_with('_')) {
                continue;
            }
            name.push_str(spelled);
        }
        let name = name.trim_end_matches('_').trim_start_matches(['-', '.']);
        if name.is_empty() { "run".to_string() } else { name.to_string() }
    }

    /// `base`, or `base-2`, `base-3`, … : a folder that does not exist yet.
    fn free_folder(base: &Path) -> PathBuf {
        std::iter::once(base.to_path_buf())
            .chain((2..).map(|n| PathBuf::from(format!("{}-{n}", base.display()))))
            .find(|p| !p.exists())
            .unwrap_or_else(|| base.to_path_buf())
    }

    /// Writes the followed run as a new run folder in the export folder.
    fn save_run(&mut self) {
        let Some(run) = self.runs.current() else { return };
        let Some(history) = run.history().cloned() else { return };
        let Some(dir) = self.new_folder(&format!("{}-run", Self::folder_name(&run.label))) else { return };
        let (fork, branches) = (self.fork_record(self.runs.current), self.runs.branches(self.runs.current));
        self.in_background(move || match history.save(&dir, fork, &branches) {
            Ok(()) => Ok(format!("saved the run to {}", dir.display())),
            Err(error) => Err(format!("saving the run failed: {error}")),
        });
    }

    /// A new folder `name` (or `name-2`, …) in the export folder, made now so that a second
    /// export does not take it; `None` (with the error shown) when it cannot be made.
    fn new_folder(&mut self, name: &str) -> Option<PathBuf> {
        let dir = Self::free_folder(&self.settings.export_dir.join(name));
        match std::fs::create_dir_all(&dir) {
            Ok(()) => Some(dir),
            Err(error) => {
                self.error = Some(format!("cannot write {}: {error}", dir.display()));
                None
            }
        }
    }

    /// Runs a file-writing job on a thread of its own; what it says arrives as a notice (or an
    /// error) in a later frame. The frame never waits for the disk or the PNG renderer.
    fn in_background(&mut self, job: impl FnOnce() -> Result<String, String> + Send + 'static) {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        std::thread::spawn(move || {
            let _ = sender.send(job());
        });
        self.exports.push(receiver);
    }

    /// Takes in what finished background jobs said.
    fn collect_exports(&mut self) {
        let mut outcomes = Vec::new();
        self.exports.retain(|job| match job.try_recv() {
            Ok(outcome) => {
                outcomes.push(outcome);
                false
            }
            Err(crossbeam_channel::TryRecvError::Empty) => true,
            Err(crossbeam_channel::TryRecvError::Disconnected) => false,
        });
        for outcome in outcomes {
            match outcome {
                Ok(notice) => self.notify(notice),
                Err(error) => self.error = Some(error),
            }
        }
    }

    /// Whether files are still being written (exports, saved runs, reports).
    pub fn exports_pending(&self) -> bool {
        !self.exports.is_empty()
    }

    /// Writes report.md, its plots and each seed's run folder (`seed-K/`) for a finished seed
    /// group into a new folder of the export folder.
    fn write_report(&mut self, group: usize) {
        let Some(runs) = self.runs.seed_runs(group) else {
            self.error = Some("the report waits for every seed of the group to finish".into());
            return;
        };
        let name = self.runs.group(group).map_or_else(|| "runs".to_string(), |g| g.name.clone());
        let Some(dir) = self.new_folder(&format!("{}-report", Self::folder_name(&name))) else { return };
        let histories: Vec<_> = self.runs.group_histories(group).into_iter().cloned().collect();
        let info = histories.first().and_then(|h| h.info.clone());
        let (preset, description, device) =
            info.map_or_else(Default::default, |i| (i.preset.clone(), i.description.clone(), i.device.clone()));
        self.in_background(move || {
            let written = histories
                .iter()
                .zip(&runs)
                .try_for_each(|(history, run)| history.save(&dir.join(format!("seed-{}", run.seed)), None, &[]))
                .and_then(|()| crate::record::report::write_report(&dir, &preset, &description, &device, &runs));
            match written {
                Ok(()) => Ok(format!("wrote {}", dir.join("report.md").display())),
                Err(error) => Err(format!("report failed: {error}")),
            }
        });
    }

    fn fresh_label(&self, name: &str) -> String {
        self.runs.fresh_label(name)
    }

    /// The overrides that keep the chosen preset's steerable stages training until Stop, when
    /// the user asked for that (Start only: queued comparisons must end by themselves).
    fn keep_training_overrides(&mut self) -> Vec<String> {
        self.refresh_check();
        self.take_check(CHECK_WAIT);
        let check = self.selection.check.as_ref().filter(|c| c.is_for(&self.settings));
        let steerable = check.map(|c| c.report.steerable.clone()).unwrap_or_default();
        match self.settings.keep_steering {
            true => steerable.iter().map(|i| format!("stages.{i}.keep_training=true")).collect(),
            false => Vec::new(),
        }
    }

    /// Adds runs of the chosen preset beside the ones there: once, a sweep over one value, or
    /// a repeat over seeds. A preset that does not pass its check adds nothing.
    fn queue(&mut self, queue: Queue) {
        self.queue_with(queue, Vec::new());
    }

    /// [`KdlabApp::queue`] with `extra` overrides on every run.
    fn queue_with(&mut self, queue: Queue, base: Vec<String>) {
        let Some(source) = self.checked_source() else { return };
        let name = self.settings.preset.short_name();
        let device = match self.settings.device_target() {
            Ok(device) => device,
            Err(error) => {
                self.error = Some(error.to_string());
                return;
            }
        };
        let request = |label: String, extra: Vec<String>, group: Option<usize>, sweep: Option<SweepPoint>| RunRequest {
            label,
            source: source.clone(),
            overrides: base.iter().cloned().chain(extra).collect(),
            device: device.clone(),
            group,
            sweep,
        };
        let requests: Vec<RunRequest> = match queue {
            Queue::Once => vec![request(self.fresh_label(&name), Vec::new(), None, None)],
            Queue::Sweep { key, values, seeds } => {
                let short = key.rsplit('.').next().unwrap_or(&key).to_string();
                let mut requests = Vec::new();
                for value in values {
                    let label = self.fresh_label(&format!("{name} {short}={value}"));
                    let point = SweepPoint { key: key.clone(), value: value.clone() };
                    let set = format!("{key}={value}");
                    if seeds <= 1 {
                        requests.push(request(label, vec![set], None, Some(point)));
                        continue;
                    }
                    let group = Some(self.runs.new_group(label.clone(), seeds as usize));
                    requests.extend((0..seeds).map(|k| {
                        let extra = vec![set.clone(), format!("train.seed={k}")];
                        request(format!("{label} seed {k}"), extra, group, Some(point.clone()))
                    }));
                }
                requests
            }
            Queue::Seeds(count) => {
                let group = Some(self.runs.new_group(self.fresh_label(&name), count as usize));
                (0..count)
                    .map(|k| request(format!("{name} seed {k}"), vec![format!("train.seed={k}")], group, None))
                    .collect()
            }
        };
        if self.runs.runs.is_empty() {
            self.reset_selection();
        }
        for request in requests {
            self.runs.queue(request);
        }
        self.error = None;
        self.runs.pump(self.settings.pool_size, &self.settings.pool_targets().unwrap_or_default());
    }

    /// Forks the followed run at its current step with `changes`; the fork is named after them
    /// and the step the engine forked at.
    fn fork(&mut self, changes: Vec<(Parameter, f64)>) {
        let Some(id) = self.runs.current().map(|r| r.id) else { return };
        let values: Vec<String> =
            changes.iter().map(|(p, v)| format!("{}={}", p.symbol(), crate::export::svg::format_tick(*v))).collect();
        if let Some(session) = self.runs.current_session_mut() {
            session.fork(values.join(" "), changes);
            self.follow = Some(Follow::ForkOf(id));
        }
    }

    /// Follows a run started (or forked) from this window as soon as it has data to show; forgets
    /// it if it failed.
    fn follow_when_ready(&mut self) {
        let Some(follow) = self.follow else { return };
        let target = match follow {
            Follow::Run(id) => match self.runs.index_of(id) {
                Some(index) => Some(index).filter(|&i| self.runs.runs[i].history().is_some_and(|h| h.info.is_some())),
                None => {
                    self.follow = None;
                    return;
                }
            },
            Follow::ForkOf(parent) => self.runs.runs.iter().rposition(|r| r.parent == Some(parent)),
        };
        if let Some(index) = target {
            self.runs.current = index;
            self.selection.stage = None;
            self.follow = None;
        }
    }

    /// Adds a run folder beside the runs, linked to its parent when it is a fork of one.
    fn open_run(&mut self, dir: &Path) {
        match crate::record::past::read_past_run(dir) {
            Ok(past) => {
                let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
                let label = self.fresh_label(&name);
                let parent = past.fork.and_then(|f| self.runs.runs.iter().find(|r| r.label == f.parent).map(|r| r.id));
                self.runs.adopt(&label, Session::replayed(past.events));
                if let Some(run) = self.runs.runs.last_mut() {
                    run.parent = parent;
                }
                self.runs.current = self.runs.runs.len() - 1;
                self.selection.stage = None;
            }
            Err(error) => self.error = Some(format!("cannot open the run: {error}")),
        }
    }

    /// Sends a command to the followed run (and shows a keep-training choice at once; the
    /// engine confirms it when the stage takes it).
    fn command(&mut self, command: Command) {
        let Some(session) = self.runs.current_session_mut() else { return };
        if let Command::KeepTraining { stage, keep } = command
            && let Some(stage) = session.history.stages.get_mut(stage)
        {
            stage.keep_training = keep;
        }
        session.send(command);
    }

    /// "exported N files to DIR: a.png, a.svg, …".
    fn written(files: &[PathBuf], dir: &Path) -> String {
        let names: Vec<String> =
            files.iter().filter_map(|f| f.file_name()).map(|n| n.to_string_lossy().into_owned()).collect();
        format!("exported {} files to {}: {}", files.len(), dir.display(), names.join(", "))
    }

    fn apply(&mut self, action: Action) {
        match action {
            Action::Start => {
                // The run the user just started is the one they want to watch, once it has
                // something to show (a start that fails changes nothing on the screen).
                let added = self.runs.runs.len();
                let keep = self.keep_training_overrides();
                self.queue_with(Queue::Once, keep);
                self.follow = self.runs.runs.get(added).map(|r| Follow::Run(r.id));
            }
            Action::AskReset if self.runs.runs.is_empty() => self.apply(Action::Reset),
            Action::AskReset => self.confirm_reset = true,
            Action::Reset => {
                self.confirm_reset = false;
                if self.checked_source().is_some() {
                    self.runs.clear();
                    self.reset_selection();
                    let keep = self.keep_training_overrides();
                    self.queue_with(Queue::Once, keep);
                }
            }
            Action::Queue(queue) => self.queue(queue),
            Action::Fork(changes) => self.fork(changes),
            Action::ShowRun(index, visible) => {
                if let Some(run) = self.runs.runs.get_mut(index) {
                    run.visible = visible;
                }
            }
            Action::OpenRun(dir) => self.open_run(&dir),
            Action::WriteReport(group) => self.write_report(group),
            Action::SaveRun => self.save_run(),
            Action::Browse(target) => self.browse(target),
            Action::ExportTables(tables) => {
                let dir = self.settings.export_dir.clone();
                self.in_background(move || {
                    let written: Result<Vec<_>, _> = tables
                        .iter()
                        .map(|(stem, table)| crate::export::table::export_table(&dir, stem, table))
                        .collect();
                    written.map(|files| Self::written(&files.concat(), &dir)).map_err(|e| format!("export failed: {e}"))
                });
            }
            Action::FollowRun(index) => {
                if index < self.runs.runs.len() {
                    self.runs.current = index;
                    self.selection.stage = None;
                }
            }
            Action::Command(command) => self.command(command),
            Action::Export(plots) => {
                let dir = self.settings.export_dir.clone();
                self.in_background(move || {
                    let written: Result<Vec<Vec<PathBuf>>, _> = plots
                        .iter()
                        .map(|plot| crate::export::data::export_plot(&dir, &plot.stem, &plot.spec, &plot.numbers))
                        .collect();
                    written.map(|files| Self::written(&files.concat(), &dir)).map_err(|e| format!("export failed: {e}"))
                });
            }
            Action::OpenPreset(path) => match crate::engine::PresetSource::read(&path) {
                Ok(_) => {
                    self.settings.remember(path.clone());
                    self.settings.preset = PresetChoice::File(path);
                    // The file may have changed since it was last checked.
                    self.selection.check = None;
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

    /// Shows `message` as a notice for a few seconds.
    fn notify(&mut self, message: String) {
        self.notice = Some((message, Instant::now()));
    }

    /// A message floating at the bottom of the layout, above the status bar (it never pushes
    /// the views down, nor covers the tabs and toolbars at their tops), until dismissed.
    fn banner(ctx: &egui::Context, id: &str, row: f32, color: egui::Color32, message: &str) -> bool {
        let mut dismissed = false;
        egui::Area::new(egui::Id::NULL.with(id))
            .order(egui::Order::Foreground)
            .anchor(egui::Align2::CENTER_BOTTOM, egui::vec2(0.0, -STATUS_BAR_HEIGHT - row * 38.0))
            .show(ctx, |ui| {
                egui::Frame::popup(ui.style()).show(ui, |ui| {
                    ui.set_max_width(ctx.content_rect().width() - 40.0);
                    ui.horizontal(|ui| {
                        ui.add(egui::Label::new(egui::RichText::new(message).color(color)).wrap());
                        dismissed = ui.button("Dismiss").clicked();
                    });
                });
            });
        dismissed
    }

    /// The error and the last notice, floating over the layout.
    fn banners(&mut self, ctx: &egui::Context) {
        let mut row = 0.0;
        if let Some(message) = self.shown_error() {
            let color = ctx.global_style().visuals.error_fg_color;
            if Self::banner(ctx, "error_banner", row, color, &format!("Error: {message}")) {
                self.error = None;
                if let Some(session) = self.runs.current_session_mut() {
                    session.history.error = None;
                }
            }
            row += 1.0;
        }
        if let Some((message, since)) = self.notice.clone() {
            let left = NOTICE_TIME.saturating_sub(since.elapsed());
            let dismissed = Self::banner(ctx, "notice_banner", row, egui::Color32::from_rgb(120, 200, 120), &message);
            if dismissed || left.is_zero() {
                self.notice = None;
            } else {
                ctx.request_repaint_after(left);
            }
        }
    }

    /// Asks before clearing every run; nothing is lost unless the user says so.
    fn reset_question(&mut self, ctx: &egui::Context) {
        if !self.confirm_reset {
            return;
        }
        let finished = self.runs.runs.iter().filter(|r| r.is_finished()).count();
        let total = self.runs.runs.len();
        let mut answer = None;
        let modal = egui::Modal::new(egui::Id::NULL.with("reset_question")).show(ctx, |ui| {
            ui.heading("Clear every run?");
            ui.label(format!(
                "Reset removes all {total} runs ({finished} finished) from the window and starts {} again. \
                 Runs you have not saved (Save run) are lost.",
                self.settings.preset.short_name()
            ));
            ui.horizontal(|ui| {
                if ui.button("Clear and start again").clicked() {
                    answer = Some(true);
                }
                if ui.button("Keep the runs").clicked() {
                    answer = Some(false);
                }
            });
        });
        if modal.should_close() && answer.is_none() {
            answer = Some(false);
        }
        match answer {
            Some(true) => self.apply(Action::Reset),
            Some(false) => self.confirm_reset = false,
            None => {}
        }
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
    pub(crate) fn draw(&mut self, ui: &mut egui::Ui) {
        let started = Instant::now();
        let ctx = ui.ctx().clone();
        let (_, failed) = self.runs.pump(self.settings.pool_size, &self.settings.pool_targets().unwrap_or_default());
        if let Some(message) = failed.into_iter().last() {
            self.error = Some(message);
        }
        self.follow_when_ready();
        self.refresh_check();
        self.handle_keys(&ctx);
        self.preview_device(&ctx);
        let mut actions = Vec::new();
        let running = self.session().is_some_and(Session::is_running);
        let overlay = overlay_of(&self.runs);
        let mut behavior = Behavior {
            views: &mut self.views,
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
            self.apply(action);
        }
        self.banners(&ctx);
        self.reset_question(&ctx);
        self.frame_stats_window(&ctx);
        self.file_dialog(&ctx);
        self.collect_exports();
        if self.runs.busy() || self.pending_check.is_some() || self.exports_pending() {
            // Keep drawing while the engine works (or the checker answers); otherwise egui
            // redraws only on input.
            ctx.request_repaint_after(Duration::from_millis(16));
        }
        self.frame_stats.record(started.elapsed());
    }

    /// Adds a run whose events come from `session` beside the others (the benchmark's replays).
    pub fn attach(&mut self, label: &str, session: Session) {
        self.runs.adopt(label, session);
    }
}

impl eframe::App for KdlabApp {
    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.draw(ui);
        self.save_if_changed(frame);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        let saved = Saved { settings: self.settings.clone(), layout: Some(self.tree.clone()) };
        eframe::set_value(storage, STORAGE_KEY, &saved);
    }
}
