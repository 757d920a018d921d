//! The views, one file each: a view draws its tile every frame from the run's history and the
//! settings, keeps its own state, and asks for changes through actions the app applies after
//! drawing. A new view is its file, its `mod` line below and one line in [`registry`].

pub(crate) mod agreement;
pub(crate) mod attention;
pub(crate) mod boundary;
pub(crate) mod controls;
pub(crate) mod curves;
pub(crate) mod legend;
pub(crate) mod next_token;
pub(crate) mod relations;
pub(crate) mod runs_table;
pub(crate) mod samples;
pub(crate) mod soft_targets;
pub(crate) mod status;
pub(crate) mod sweep;
pub(crate) mod transformer_attention;

use super::context::ViewContext;

/// What every view says about itself.
#[derive(Debug)]
pub struct ViewInfo {
    /// Saved layouts refer to the view by it: never change it.
    pub(crate) id: &'static str,
    /// Its tab's title.
    pub title: &'static str,
    /// The view whose tab group it joins when a layout lacks it ("" for the root).
    pub(crate) beside: &'static str,
}

/// A view: one file under `views/`, drawn into its tile every frame, keeping its own state.
pub trait View {
    fn info(&self) -> &'static ViewInfo;
    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext);
}

/// Every view, in tab order. A new view is its file, its `mod` line above and one line here.
pub fn registry() -> Vec<Box<dyn View>> {
    vec![
        Box::new(controls::ControlsView::default()),
        Box::new(curves::CurvesView),
        Box::new(agreement::AgreementView),
        Box::new(soft_targets::SoftTargetsView::default()),
        Box::new(attention::AttentionView::default()),
        Box::new(next_token::NextTokenView::default()),
        Box::new(samples::SamplesView),
        Box::new(relations::RelationsView),
        Box::new(boundary::BoundaryView),
        Box::new(runs_table::RunsTableView::default()),
        Box::new(sweep::SweepView::default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::layout::{Pane, complete_layout, default_tree};

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
