//! Small pieces several views share: the followed run's data or why there is none yet, the
//! probe of the shown stage, a stage picker, an export-data button, the series palette.

use super::context::{Action, ViewContext};
use super::history::RunHistory;
use crate::export::table::Table;
use crate::protocol::{DataInfo, Probe};

/// The followed run's history and data, or a line saying why there is nothing to show yet.
pub(crate) fn run_data<'a>(ui: &mut egui::Ui, view: &ViewContext<'a>) -> Option<(&'a RunHistory, &'a DataInfo)> {
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
pub(crate) fn probed_stage<'a>(
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
pub(crate) fn available<'p, T>(ui: &mut egui::Ui, probe: &'p Result<T, String>, what: &str) -> Option<&'p T> {
    match probe {
        Ok(data) => Some(data),
        Err(why) => {
            ui.label(format!("No {what}: {why}."));
            None
        }
    }
}

/// A stage picker limited to stages for which `eligible` holds; `None` follows the running stage.
pub(crate) fn stage_picker(ui: &mut egui::Ui, id: &str, view: &mut ViewContext, eligible: impl Fn(usize) -> bool) {
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
pub(crate) fn export_data_button(
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
pub(crate) fn series_color(index: usize) -> egui::Color32 {
    let [r, g, b] = crate::export::svg::palette_rgb(index);
    egui::Color32::from_rgb(r, g, b)
}
