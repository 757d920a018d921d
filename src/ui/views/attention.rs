//! Attention maps: for four chosen test images, the input, then the teacher's and the
//! student's spatial attention map per conv block side by side and their difference, on a
//! shared colour scale per block. Models without conv blocks to pair are compared by input
//! gradients instead. Updated with every probe. A transformer's self-attention over a prompt
//! is drawn by [`super::transformer_attention`].

use super::soft_targets::example_strip;
use crate::export::table::Table;
use crate::protocol::probe::{AttentionKind, AttentionProbe};
use crate::ui::context::ViewContext;
use crate::ui::paint::{cell_grid, color_bar, diverging, viridis};
use crate::ui::widgets::{available, export_data_button, probed_stage};

/// How many examples the view shows at once.
pub(crate) const SHOWN: usize = 4;

fn ui(ui: &mut egui::Ui, view: &mut ViewContext, state: &mut AttentionView) {
    let Some((_, info, probe)) = probed_stage(ui, view, "attention_stage") else { return };
    if let Some(text) = &probe.text {
        let at = (probe.stage, probe.step);
        return super::transformer_attention::ui(ui, view, at, text, &mut state.transformer);
    }
    let Some(attention) = available(ui, &probe.representations.attention, "attention maps") else { return };
    let chosen = state.examples(probe.examples.len());
    let label = "Pick four test images (a click replaces the oldest):";
    ui.label(label);
    if let Some(clicked) = example_strip(ui, view, info, "attention_strip", |i| chosen.contains(&i)) {
        state.choose(clicked, probe.examples.len());
    }
    let chosen = state.examples(probe.examples.len());
    let how = match attention.kind {
        AttentionKind::Activation => "activation-based: channel mean of F², L2-normalised, per conv block",
        AttentionKind::Gradient => "gradient-based: |d loss / d input| (no conv blocks to pair), scaled to 1 per image",
    };
    ui.horizontal_wrapped(|ui| {
        ui.label(format!("step {} · {how}", probe.step));
        export_data_button(ui, view, probe.stage, probe.step, || {
            vec![("attention_maps".into(), attention_table(attention, &probe.examples))]
        });
    });
    egui::ScrollArea::both().id_salt("attention_scroll").show(ui, |ui| grid(ui, view, attention, &chosen));
}

/// Every probe example's maps: `example, map, model, row, column, value`.
fn attention_table(attention: &AttentionProbe, examples: &[usize]) -> Table {
    let mut table = Table::new(&["example", "map", "model", "row", "column", "value"]);
    for (map, &[height, width]) in attention.sizes.iter().enumerate() {
        for (model, values) in [("teacher", &attention.teacher[map]), ("student", &attention.student[map])] {
            for (index, value) in values.iter().enumerate() {
                let (example, pixel) = (index / (height * width), index % (height * width));
                let example = examples.get(example).map_or_else(String::new, usize::to_string);
                let row = vec![
                    example,
                    (map + 1).to_string(),
                    model.into(),
                    (pixel / width).to_string(),
                    (pixel % width).to_string(),
                    value.to_string(),
                ];
                table.push(row);
            }
        }
    }
    table
}

/// One row per chosen example: input, then teacher | student | difference per map.
fn grid(ui: &mut egui::Ui, view: &ViewContext, attention: &AttentionProbe, chosen: &[usize]) {
    let columns = (1 + 3 * attention.sizes.len()) as f32;
    let side = ((ui.available_width() - 20.0) / columns - 6.0).clamp(36.0, 110.0);
    let scales: Vec<f32> = (0..attention.sizes.len())
        .map(|b| {
            let values = attention.teacher[b].iter().chain(&attention.student[b]);
            values.copied().fold(1e-6, f32::max)
        })
        .collect();
    let maps: Vec<String> = attention
        .sizes
        .iter()
        .enumerate()
        .map(|(block, [h, w])| match attention.kind {
            AttentionKind::Gradient => format!("input {h}x{w}"),
            AttentionKind::Activation => format!("block {} ({h}x{w})", block + 1),
        })
        .collect();
    ui.label(format!("columns: input, then teacher | student | student - teacher for {}", maps.join(", ")));
    egui::Grid::new("attention_grid").spacing([6.0, 6.0]).show(ui, |ui| {
        ui.label("input");
        for block in 1..=attention.sizes.len() {
            for part in ["teacher", "student", "s - t"] {
                ui.label(if attention.sizes.len() > 1 { format!("{part} {block}") } else { part.to_string() });
            }
        }
        ui.end_row();
        for &example in chosen {
            match view.selection.thumbnails.get(example) {
                Some(texture) => ui.add(egui::Image::new((texture.id(), egui::vec2(side, side)))),
                None => ui.label(format!("#{example}")),
            };
            for (block, &[height, width]) in attention.sizes.iter().enumerate() {
                let pixels = height * width;
                let range = example * pixels..(example + 1) * pixels;
                let (Some(teacher), Some(student)) =
                    (attention.teacher[block].get(range.clone()), attention.student[block].get(range))
                else {
                    continue;
                };
                let scale = scales[block];
                let size = egui::vec2(side, side * height as f32 / width as f32);
                cell_grid(ui, size, height, width, |r, c| viridis(teacher[r * width + c] / scale));
                cell_grid(ui, size, height, width, |r, c| viridis(student[r * width + c] / scale));
                cell_grid(ui, size, height, width, |r, c| {
                    diverging((student[r * width + c] - teacher[r * width + c]) / scale)
                });
            }
            ui.end_row();
        }
    });
    for (block, scale) in scales.iter().enumerate() {
        ui.horizontal_wrapped(|ui| {
            color_bar(ui, &format!("map {} scale", block + 1), 0.0, *scale, viridis);
            color_bar(ui, "difference", -scale, *scale, |t| diverging(2.0 * t - 1.0));
        });
    }
}
/// The attention view, with the probe examples the user picked.
#[derive(Default)]
pub(crate) struct AttentionView {
    /// Probe examples shown (oldest first); empty: spread over the classes.
    choice: Vec<usize>,
    /// For a transformer: the layer and head shown.
    transformer: super::transformer_attention::Choice,
}

impl AttentionView {
    /// The probe examples shown, out of `available`.
    fn examples(&self, available: usize) -> Vec<usize> {
        let chosen: Vec<usize> = self.choice.iter().copied().filter(|&i| i < available).collect();
        if chosen.is_empty() {
            // Probe examples come grouped by class: spread the default over the groups.
            let shown = SHOWN.min(available);
            return (0..shown).map(|k| k * available / shown.max(1)).collect();
        }
        chosen
    }

    /// Adds `example`, dropping the oldest when four are shown.
    fn choose(&mut self, example: usize, available: usize) {
        let mut chosen = self.examples(available);
        if chosen.contains(&example) {
            return;
        }
        if chosen.len() >= SHOWN {
            chosen.remove(0);
        }
        chosen.push(example);
        self.choice = chosen;
    }
}

impl super::View for AttentionView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Attention", title: "Attention maps", beside: "SoftTargets" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view, self);
    }
}
