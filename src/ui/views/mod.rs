//! The views, one file each, and the tile behaviour that places them. A view reads the run's
//! history and the settings and asks for changes through [`Action`]s, which the app applies
//! after drawing.

pub mod agreement;
pub mod attention;
pub mod boundary;
pub mod controls;
pub mod curves;
pub mod legend;
pub mod relations;
pub mod runs_table;
pub mod soft_targets;
pub mod status;
pub mod sweep;

use super::history::RunHistory;
use super::series::SmoothedSeries;
use super::settings::Settings;
use crate::export::table::Table;
use crate::protocol::{Command, DataInfo, Parameter, Probe};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// What every view says about itself.
#[derive(Debug)]
pub struct ViewInfo {
    /// Saved layouts refer to the view by it: never change it.
    pub id: &'static str,
    /// Its tab's title.
    pub title: &'static str,
    /// The view whose tab group it joins when a layout lacks it ("" for the root).
    pub beside: &'static str,
}

/// A view: one file under `views/`, drawn into its tile every frame, keeping its own state.
pub trait View {
    fn info(&self) -> &'static ViewInfo;
    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext);
}

/// Every view, in tab order. A new view is its file, its `mod` line above and one line here.
pub fn registry() -> Vec<Box<dyn View>> {
    vec![
        Box::new(controls::ControlsView),
        Box::new(curves::CurvesView),
        Box::new(agreement::AgreementView),
        Box::new(soft_targets::SoftTargetsView),
        Box::new(attention::AttentionView::default()),
        Box::new(relations::RelationsView),
        Box::new(boundary::BoundaryView),
        Box::new(runs_table::RunsTableView::default()),
        Box::new(sweep::SweepView::default()),
    ]
}

/// A tile's content: the id of the view it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pane(pub String);

/// The default arrangement: controls on the left; curves above agreement and, as tabs, soft
/// targets and the representation views; any other view joins the tab group it names.
pub fn default_tree(views: &[Box<dyn View>]) -> egui_tiles::Tree<Pane> {
    let mut tiles = egui_tiles::Tiles::default();
    let mut pane = |id: &str| tiles.insert_pane(Pane(id.to_string()));
    let (controls, curves, agreement, soft_targets, runs) =
        (pane("Controls"), pane("Curves"), pane("Agreement"), pane("SoftTargets"), pane("Runs"));
    let right_tabs = tiles.insert_tab_tile(vec![soft_targets]);
    let left_tabs = tiles.insert_tab_tile(vec![agreement, runs]);
    let bottom = tiles.insert_horizontal_tile(vec![left_tabs, right_tabs]);
    let right = tiles.insert_vertical_tile(vec![curves, bottom]);
    let root = tiles.insert_horizontal_tile(vec![controls, right]);
    if let Some(egui_tiles::Tile::Container(egui_tiles::Container::Linear(linear))) = tiles.get_mut(root) {
        linear.shares.set_share(controls, 0.28);
        linear.shares.set_share(right, 0.72);
    }
    // A fixed id (not `Id::unique`) so the saved arrangement is found again at the next launch.
    #[allow(deprecated)]
    let id = egui::Id::new("kdlab_tiles");
    let mut tree = egui_tiles::Tree::new(id, root, tiles);
    complete_layout(&mut tree, views);
    tree
}

/// Fits a (saved) arrangement to the views there are: a view it lacks is added as a tab beside
/// the view it names, and a tile whose view no longer exists is removed. Returns whether the
/// arrangement changed.
pub fn complete_layout(tree: &mut egui_tiles::Tree<Pane>, views: &[Box<dyn View>]) -> bool {
    let tile_of = |tree: &egui_tiles::Tree<Pane>, id: &str| {
        tree.tiles.iter().find_map(|(tile_id, tile)| match tile {
            egui_tiles::Tile::Pane(Pane(pane)) if pane == id => Some(*tile_id),
            _ => None,
        })
    };
    let mut changed = false;
    let unknown: Vec<egui_tiles::TileId> = tree
        .tiles
        .iter()
        .filter_map(|(tile_id, tile)| match tile {
            egui_tiles::Tile::Pane(Pane(id)) if !views.iter().any(|v| v.info().id == id) => Some(*tile_id),
            _ => None,
        })
        .collect();
    for tile in unknown {
        tree.remove_recursively(tile);
        changed = true;
    }
    for view in views {
        let info = view.info();
        if tile_of(tree, info.id).is_some() {
            continue;
        }
        let new = tree.tiles.insert_pane(Pane(info.id.to_string()));
        let group = tile_of(tree, info.beside).and_then(|sibling| tree.tiles.parent_of(sibling)).or(tree.root);
        match group.and_then(|g| tree.tiles.get_mut(g)) {
            Some(egui_tiles::Tile::Container(container)) => container.add_child(new),
            _ => tree.root = Some(new),
        }
        changed = true;
    }
    changed
}

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
    pub fn seed(&self) -> Option<u64> {
        self.history.and_then(|h| h.info.as_ref()).map(|i| i.seed)
    }
}

/// Every run, queued ones included, for the overlays and the runs table.
pub fn overlay_of(runs: &crate::ui::runs::Runs) -> Vec<OverlayRun<'_>> {
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
    pub stem: String,
    pub spec: crate::export::svg::PlotSpec,
    pub numbers: crate::export::data::PlotNumbers,
}

/// Where a plot was drawn in the last frame: the plot area on screen and the data range it
/// shows (`[[x_min, y_min], [x_max, y_max]]`), for tests and hover.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlotFrame {
    pub rect: egui::Rect,
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

/// Choices that belong to this launch only.
#[derive(Default)]
pub struct Selection {
    /// The stage the agreement and soft-target views show (`None`: the running one).
    pub stage: Option<usize>,
    /// Index into the probe examples of the sample the soft-target view shows.
    pub sample: usize,
    /// The path typed beside "Open…".
    pub path_input: String,
    /// The run folder typed beside "Open run".
    pub run_path: String,
    /// Parameter values the user set that the engine has not confirmed yet.
    pub pending: HashMap<Parameter, f64>,
    /// The values a fork being set up will start with (`None`: no fork being set up).
    pub fork_draft: Option<HashMap<Parameter, f64>>,
    /// Whether the "clear every run?" question is open.
    pub confirm_reset: bool,
    /// The chosen preset checked against the chosen dataset, and which datasets it can use.
    pub check: Option<controls::PresetCheck>,
    /// Series (`stage · metric`) and stages hidden from the curves.
    pub hidden: HashSet<String>,
    /// Thumbnails of the probe examples, made once per run.
    pub thumbnails: Vec<egui::TextureHandle>,
    /// The device the chosen `--device` setting resolves to, shown before a run starts.
    pub device_label: Option<String>,
    /// Where each plot was drawn last frame.
    pub plots: HashMap<&'static str, PlotFrame>,
    /// Smoothed copies of the plotted series, per (stage, metric), extended frame by frame.
    pub smoothed: HashMap<(usize, usize, String), SmoothedSeries>,
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
    pub fn shown_stage(&self) -> Option<usize> {
        let history = self.history?;
        self.selection.stage.filter(|&s| s < history.stages.len()).or(history.current_stage())
    }

    /// The followed run.
    pub fn followed(&self) -> Option<OverlayRun<'a>> {
        self.runs.iter().copied().find(|r| r.index == self.current_run)
    }

    /// The columns that say where a view's numbers come from: run, seed, stage, step.
    pub fn provenance(&self, stage: usize, step: u64) -> Vec<(&'static str, String)> {
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

/// Tiles' behaviour: draws each pane with its view.
pub struct Behavior<'a, 'v> {
    pub view: ViewContext<'a>,
    pub views: &'v mut [Box<dyn View>],
}

impl egui_tiles::Behavior<Pane> for Behavior<'_, '_> {
    fn pane_ui(&mut self, ui: &mut egui::Ui, _tile_id: egui_tiles::TileId, pane: &mut Pane) -> egui_tiles::UiResponse {
        egui::Frame::new().inner_margin(6.0).show(ui, |ui| {
            match self.views.iter_mut().find(|v| v.info().id == pane.0) {
                Some(view) => view.ui(ui, &mut self.view),
                None => {
                    ui.label(format!("No view is called \"{}\".", pane.0));
                }
            }
        });
        egui_tiles::UiResponse::None
    }

    fn tab_title_for_pane(&mut self, pane: &Pane) -> egui::WidgetText {
        self.views.iter().find(|v| v.info().id == pane.0).map_or(pane.0.as_str(), |v| v.info().title).into()
    }

    fn simplification_options(&self) -> egui_tiles::SimplificationOptions {
        egui_tiles::SimplificationOptions { all_panes_must_have_tabs: true, ..Default::default() }
    }
}

/// The followed run's history and data, or a line saying why there is nothing to show yet.
pub fn run_data<'a>(ui: &mut egui::Ui, view: &ViewContext<'a>) -> Option<(&'a RunHistory, &'a DataInfo)> {
    let Some(history) = view.history else {
        ui.label("No run yet.");
        return None;
    };
    match history.info.as_ref() {
        Some(info) => Some((history, &info.data)),
        None => {
            let waiting = if view.followed().is_some_and(|r| r.queued.is_some()) {
                "Queued: it starts when a slot frees up."
            } else {
                "Loading data…"
            };
            ui.label(waiting);
            None
        }
    }
}

/// The run, its data and the shown stage's latest probe, under a stage picker limited to stages
/// with probes; says in the view what is missing instead when there is nothing yet.
pub fn probed_stage<'a>(
    ui: &mut egui::Ui,
    view: &mut ViewContext<'a>,
    picker: &str,
) -> Option<(&'a RunHistory, &'a DataInfo, &'a Probe)> {
    let (history, data) = run_data(ui, view)?;
    ui.horizontal(|ui| stage_picker(ui, picker, view, |i| history.stages[i].probe.is_some()));
    let probe = view.shown_stage().and_then(|s| history.stages.get(s)).and_then(|s| s.probe.as_ref());
    if probe.is_none() {
        ui.label("No probe yet: it arrives with the first metric report.");
    }
    Some((history, data, probe?))
}

/// A representation probe's data, or one line saying why the models cannot give it.
pub fn available<'p, T>(ui: &mut egui::Ui, probe: &'p Result<T, String>, what: &str) -> Option<&'p T> {
    match probe {
        Ok(data) => Some(data),
        Err(why) => {
            ui.label(format!("No {what}: {why}."));
            None
        }
    }
}

/// A stage picker limited to stages for which `eligible` holds; `None` follows the running stage.
pub fn stage_picker(ui: &mut egui::Ui, id: &str, view: &mut ViewContext, eligible: impl Fn(usize) -> bool) {
    let Some(history) = view.history else { return };
    let shown = view.shown_stage();
    let label = shown.and_then(|s| history.stages.get(s)).map_or("—".to_string(), |s| s.name.clone());
    let title = ui.label("Stage");
    let combo = egui::ComboBox::from_id_salt(id).selected_text(label).show_ui(ui, |ui| {
        if ui.selectable_label(view.selection.stage.is_none(), "follow the running stage").clicked() {
            view.selection.stage = None;
        }
        for (index, stage) in history.stages.iter().enumerate().filter(|(i, _)| eligible(*i)) {
            if ui.selectable_label(view.selection.stage == Some(index), &stage.name).clicked() {
                view.selection.stage = Some(index);
            }
        }
    });
    combo.response.labelled_by(title.id);
}

/// A button that writes a view's numbers, as `make` tabulates them for `stage` at `step`, to the
/// export folder; every row also says which run, seed, stage and step it comes from.
pub fn export_data_button(
    ui: &mut egui::Ui,
    view: &mut ViewContext,
    stage: usize,
    step: u64,
    make: impl FnOnce() -> Vec<(String, Table)>,
) {
    let hint = format!("Writes this view's numbers as CSV and JSON into {}", view.settings.export_dir.display());
    if ui.button("Export data").on_hover_text(hint).clicked() {
        let provenance = view.provenance(stage, step);
        let tables = make().into_iter().map(|(stem, table)| (stem, table.prefixed(&provenance))).collect();
        view.actions.push(Action::ExportTables(tables));
    }
}

/// A categorical colour for the `index`-th series, run or class (the export's palette).
pub fn series_color(index: usize) -> egui::Color32 {
    let [r, g, b] = crate::export::svg::palette_rgb(index);
    egui::Color32::from_rgb(r, g, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panes(tree: &egui_tiles::Tree<Pane>) -> Vec<String> {
        tree.tiles
            .iter()
            .filter_map(|(_, tile)| match tile {
                egui_tiles::Tile::Pane(Pane(id)) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    fn tab_group_of(tree: &egui_tiles::Tree<Pane>, id: &str) -> Option<egui_tiles::TileId> {
        let tile = tree.tiles.iter().find_map(|(tile_id, tile)| match tile {
            egui_tiles::Tile::Pane(Pane(pane)) if pane == id => Some(*tile_id),
            _ => None,
        })?;
        tree.tiles.parent_of(tile)
    }

    #[test]
    fn the_default_arrangement_has_every_view_once() {
        let views = registry();
        let mut ids = panes(&default_tree(&views));
        ids.sort();
        let mut registered: Vec<String> = views.iter().map(|v| v.info().id.to_string()).collect();
        registered.sort();
        assert_eq!(ids, registered);
    }

    #[test]
    fn a_saved_arrangement_gains_a_new_view_beside_its_sibling_and_drops_a_gone_one() {
        let views = registry();
        let mut saved = default_tree(&views);
        // As if saved before Relations existed, and with a view that has since gone.
        let relations = saved
            .tiles
            .iter()
            .find_map(|(id, t)| matches!(t, egui_tiles::Tile::Pane(Pane(p)) if p == "Relations").then_some(*id));
        saved.remove_recursively(relations.expect("Relations is in the default arrangement"));
        let gone = saved.tiles.insert_pane(Pane("Gone".into()));
        if let Some(group) = tab_group_of(&saved, "Agreement")
            && let Some(egui_tiles::Tile::Container(container)) = saved.tiles.get_mut(group)
        {
            container.add_child(gone);
        }
        assert!(complete_layout(&mut saved, &views));
        let ids = panes(&saved);
        assert!(ids.contains(&"Relations".to_string()) && !ids.contains(&"Gone".to_string()), "{ids:?}");
        assert_eq!(tab_group_of(&saved, "Relations"), tab_group_of(&saved, "SoftTargets"), "beside its sibling");
        assert!(!complete_layout(&mut saved, &views), "nothing more to do");
    }
}
