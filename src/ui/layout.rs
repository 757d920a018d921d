//! Where the views go: tiles (rearrangeable like rerun's) holding one view each, the default
//! arrangement, fitting a saved arrangement to the views there are, and the tiles' behaviour
//! that draws each pane with its view.

use super::context::ViewContext;
use super::views::View;
use serde::{Deserialize, Serialize};

/// A tile's content: the id of the view it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Pane(pub String);

/// The default arrangement: controls on the left; curves above agreement and, as tabs, soft
/// targets and the representation views; any other view joins the tab group it names.
pub(crate) fn default_tree(views: &[Box<dyn View>]) -> egui_tiles::Tree<Pane> {
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
pub(crate) fn complete_layout(tree: &mut egui_tiles::Tree<Pane>, views: &[Box<dyn View>]) -> bool {
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

/// Tiles' behaviour: draws each pane with its view.
pub(crate) struct Behavior<'a, 'v> {
    pub(crate) view: ViewContext<'a>,
    pub(crate) views: &'v mut [Box<dyn View>],
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
