//! What every view is given each frame and may ask for: the followed run and every run as the
//! overlays see them, the settings, the state the views share (the stage they show, the
//! steering under way, hidden series, plot caches), and the actions the app applies after
//! drawing.

use super::history::RunHistory;
use super::series::SmoothedSeries;
use super::settings::{PresetChoice, Settings};
use crate::protocol::PresetReport;
use crate::protocol::{Command, Parameter};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// What a view asks the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start the chosen preset (beside the runs there are).
    Start,
    /// Send a command to the followed run's engine.
    Command(Command),
    /// Branch a new run off the followed run at its current step, with these values.
    Fork(Vec<(Parameter, f64)>),
    /// Ask whether to clear every run and start the preset again.
    AskReset,
    /// Clear every run and start the preset again (after the user confirmed).
    Reset,
    /// Choose a preset file.
    OpenPreset(PathBuf),
    /// Write these plots (SVG, PNG, CSV, JSON) to the export folder.
    Export(Vec<ExportedPlot>),
    /// Add runs of the chosen preset beside the current ones.
    Queue(Queue),
    /// Show or hide a run in every overlay.
    ShowRun(usize, bool),
    /// Make a run the one the per-run views and the controls follow.
    FollowRun(usize),
    /// Add a recorded run (a folder `kdlab run` wrote) beside the others.
    OpenRun(PathBuf),
    /// Write report.md (mean ± std per stage, curves) for a finished seed group.
    WriteReport(usize),
    /// Write the followed run as a run folder (config, metrics, summary, plots).
    SaveRun,
    /// Write a view's numbers (CSV and JSON) to the export folder.
    ExportTables(Vec<(String, crate::export::table::Table)>),
    /// Pick a path with the file dialog.
    Browse(Browse),
}

/// What the file dialog picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browse {
    PresetFile,
    RunFolder,
    ExportFolder,
}

/// Which runs to add.
#[derive(Debug, Clone, PartialEq)]
pub enum Queue {
    /// The preset once more.
    Once,
    /// One run per value of a preset key (e.g. `stages.student_kd.temperature` = 1, 4, 16),
    /// each over seeds 0..`seeds` when `seeds` > 1.
    Sweep { key: String, values: Vec<String>, seeds: u64 },
    /// The preset with seeds 0..n, drawn as mean ± std.
    Seeds(u64),
}

/// A run as the overlays and the runs table see it.
#[derive(Clone, Copy)]
pub struct OverlayRun<'a> {
    pub index: usize,
    pub label: &'a str,
    /// What it has reported (`None` while queued).
    pub history: Option<&'a RunHistory>,
    pub visible: bool,
    pub group: Option<&'a crate::ui::runs::SeedGroup>,
    /// Its palette index, the same in every view.
    pub color: usize,
    /// The label of the run it was forked off, and what that run has reported.
    pub parent: Option<&'a str>,
    pub parent_history: Option<&'a RunHistory>,
    /// Its place in the queue (1 = next), while queued.
    pub queued: Option<usize>,
    /// Its place in a sweep, if it is part of one.
    pub sweep: Option<&'a crate::ui::runs::SweepPoint>,
}

impl OverlayRun<'_> {
    /// The seed it trains with, once known.
    pub(crate) fn seed(&self) -> Option<u64> {
        self.history.and_then(|h| h.info.as_ref()).map(|i| i.seed)
    }
}

/// Every run, queued ones included, for the overlays and the runs table.
pub(crate) fn overlay_of(runs: &crate::ui::runs::Runs) -> Vec<OverlayRun<'_>> {
    runs.runs
        .iter()
        .enumerate()
        .map(|(index, run)| OverlayRun {
            index,
            label: &run.label,
            history: run.history(),
            visible: run.visible,
            group: run.group.and_then(|g| runs.group(g)),
            color: run.color,
            parent: run.parent.and_then(|id| runs.index_of(id)).map(|i| runs.runs[i].label.as_str()),
            parent_history: run.parent.and_then(|id| runs.index_of(id)).and_then(|i| runs.runs[i].history()),
            queued: runs.queue_position(index),
            sweep: run.sweep.as_ref(),
        })
        .collect()
}

/// A plot ready to be written: its file stem, what to draw, and its raw numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportedPlot {
    pub(crate) stem: String,
    pub(crate) spec: crate::export::svg::PlotSpec,
    pub(crate) numbers: crate::export::data::PlotNumbers,
}

/// Where a plot was drawn in the last frame: the plot area on screen and the data range it
/// shows (`[[x_min, y_min], [x_max, y_max]]`), for tests and hover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotFrame {
    pub(crate) rect: egui::Rect,
    pub bounds: [[f64; 2]; 2],
}

impl PlotFrame {
    /// The screen position of a data point.
    pub fn screen_of(&self, point: [f64; 2]) -> egui::Pos2 {
        let [[x0, y0], [x1, y1]] = self.bounds;
        let x = self.rect.left() + ((point[0] - x0) / (x1 - x0)) as f32 * self.rect.width();
        let y = self.rect.bottom() - ((point[1] - y0) / (y1 - y0)) as f32 * self.rect.height();
        egui::pos2(x, y)
    }
}

/// What the views share for this launch only (each view keeps its own state itself).
#[derive(Default)]
pub struct Selection {
    /// The stage the per-stage views show (`None`: the running one).
    pub(crate) stage: Option<usize>,
    /// Parameter values the user set that the engine has not confirmed yet (the soft targets
    /// follow the T slider while it moves).
    pub(crate) pending: HashMap<Parameter, f64>,
    /// The chosen preset checked against the chosen dataset, and which datasets it can use.
    pub(crate) check: Option<PresetCheck>,
    /// Series (`stage · metric`) and stages hidden from the curves.
    pub(crate) hidden: HashSet<String>,
    /// Thumbnails of the probe examples, made once per run.
    pub(crate) thumbnails: Vec<egui::TextureHandle>,
    /// The device the chosen `--device` setting resolves to, shown before a run starts.
    pub(crate) device_label: Option<String>,
    /// Where each plot was drawn last frame.
    pub(crate) plots: HashMap<&'static str, PlotFrame>,
    /// Smoothed copies of the plotted series, per (stage, metric), extended frame by frame.
    pub(crate) smoothed: HashMap<(usize, usize, String), SmoothedSeries>,
}

/// Everything a view may read and change.
pub struct ViewContext<'a> {
    /// The run the per-run views follow.
    pub history: Option<&'a RunHistory>,
    /// Every started run (the overlays draw the visible ones when there are several).
    pub runs: Vec<OverlayRun<'a>>,
    /// Index of the followed run in the app's list.
    pub current_run: usize,
    pub running: bool,
    pub settings: &'a mut Settings,
    pub selection: &'a mut Selection,
    pub actions: &'a mut Vec<Action>,
}

impl<'a> ViewContext<'a> {
    /// The stage a per-stage view shows: the chosen one, else the running one.
    pub(crate) fn shown_stage(&self) -> Option<usize> {
        let history = self.history?;
        self.selection.stage.filter(|&s| s < history.stages.len()).or(history.current_stage())
    }

    /// The followed run.
    pub(crate) fn followed(&self) -> Option<OverlayRun<'a>> {
        self.runs.iter().copied().find(|r| r.index == self.current_run)
    }

    /// The columns that say where a view's numbers come from: run, seed, stage, step.
    pub(crate) fn provenance(&self, stage: usize, step: u64) -> Vec<(&'static str, String)> {
        let run = self.followed();
        let stage = self.history.and_then(|h| h.stages.get(stage)).map_or_else(String::new, |s| s.name.clone());
        vec![
            ("run", run.map_or_else(String::new, |r| r.label.to_string())),
            ("seed", run.and_then(|r| r.seed()).map_or_else(String::new, |s| s.to_string())),
            ("stage", stage),
            ("step", step.to_string()),
        ]
    }
}

/// The chosen preset checked against the chosen dataset (without loading data) and against
/// every bundled dataset, as the engine's checker answered.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PresetCheck {
    /// What was checked: the preset and the dataset setting.
    pub(crate) key: CheckKey,
    pub(crate) report: PresetReport,
}

impl PresetCheck {
    /// Whether this check is about the settings as they are now.
    pub(crate) fn is_for(&self, settings: &Settings) -> bool {
        self.key == check_key(settings)
    }
}

/// What a preset check is about: the preset and the dataset setting.
pub(crate) type CheckKey = (PresetChoice, Option<String>);

/// The check key of the settings as they are.
pub(crate) fn check_key(settings: &Settings) -> CheckKey {
    (settings.preset.clone(), settings.dataset.clone())
}
