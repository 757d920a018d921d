//! The attention view's half for transformers: for the chosen layer and head, the teacher's and
//! the student's self-attention over the prompt's characters (queries down, keys across, each
//! row a distribution over the characters up to it), and their difference where the two models
//! have the same number of heads in that layer. Drawn from the language-model probe.

use super::next_token::shown;
use crate::export::table::Table;
use crate::protocol::{LayerAttention, TextProbe};
use crate::ui::context::ViewContext;
use crate::ui::paint::{cell_grid, color_bar, diverging, viridis};
use crate::ui::widgets::export_data_button;

/// Which map is shown.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Choice {
    /// Layer and head, counted from the last layer (0: the last) so a shallow student and a deep
    /// teacher both start on their last layer.
    layer_from_last: usize,
    head: usize,
}

pub(crate) fn ui(
    ui: &mut egui::Ui,
    view: &mut ViewContext,
    probe: (usize, u64),
    text: &TextProbe,
    choice: &mut Choice,
) {
    let vocabulary = view.history.and_then(|h| h.info.as_ref()).map(|i| i.data.vocabulary.clone()).unwrap_or_default();
    let deepest = text.attention.len().max(text.teacher_attention.len());
    let most_heads = text.attention.iter().chain(&text.teacher_attention).map(|l| l.heads).max().unwrap_or(1);
    ui.horizontal_wrapped(|ui| {
        let layers: Vec<usize> = (0..deepest).collect();
        picker(ui, "layer", &mut choice.layer_from_last, &layers, layer_name);
        let heads: Vec<usize> = (0..most_heads).collect();
        picker(ui, "head", &mut choice.head, &heads, |head| (head + 1).to_string());
        export_data_button(ui, view, probe.0, probe.1, || vec![("attention".into(), attention_table(text))]);
    });
    let student = map(&text.attention, *choice, text.prompt.len());
    let teacher = map(&text.teacher_attention, *choice, text.prompt.len());
    let side = ((ui.available_width() - 40.0) / 3.0 - 8.0).clamp(120.0, 320.0);
    let n = text.prompt.len();
    ui.label(format!("step {} · queries (rows) attend to keys (columns) up to themselves · {n} characters", probe.1));
    ui.horizontal_top(|ui| {
        for (title, values) in [("teacher", &teacher), ("student", &student)] {
            ui.vertical(|ui| {
                ui.label(title);
                match values {
                    Ok(values) => heatmap(ui, values, n, side, &text.prompt, &vocabulary, viridis),
                    Err(why) => {
                        ui.label(why.as_str());
                    }
                }
            });
        }
        if let (Ok(t), Ok(s)) = (&teacher, &student)
            && same_heads(text, *choice)
        {
            ui.vertical(|ui| {
                ui.label("student − teacher");
                let difference: Vec<f32> = s.iter().zip(t).map(|(a, b)| a - b).collect();
                heatmap(ui, &difference, n, side, &text.prompt, &vocabulary, diverging);
            });
        }
    });
    if teacher.is_ok() && student.is_ok() && !same_heads(text, *choice) {
        ui.label("No difference map: the two layers have different numbers of heads.");
    }
    ui.horizontal_wrapped(|ui| {
        color_bar(ui, "attention", 0.0, 1.0, viridis);
        color_bar(ui, "difference", -1.0, 1.0, |t| diverging(2.0 * t - 1.0));
    });
}

/// A labelled combo box choosing one of `options`.
fn picker(ui: &mut egui::Ui, title: &str, value: &mut usize, options: &[usize], name: impl Fn(usize) -> String) {
    let label = ui.label(title);
    let combo =
        egui::ComboBox::from_id_salt(("transformer_attention", title)).selected_text(name(*value)).show_ui(ui, |ui| {
            for &option in options {
                ui.selectable_value(value, option, name(option));
            }
        });
    combo.response.labelled_by(label.id);
}

fn layer_name(from_last: usize) -> String {
    if from_last == 0 { "last".into() } else { format!("last − {from_last}") }
}

/// The `[n × n]` map of the chosen layer and head, or why a model has none.
fn map(layers: &[LayerAttention], choice: Choice, n: usize) -> Result<Vec<f32>, String> {
    let index = layers.len().checked_sub(choice.layer_from_last + 1).ok_or("no such layer (or no teacher)")?;
    let layer = &layers[index];
    if choice.head >= layer.heads {
        return Err(format!("this layer has {} heads", layer.heads));
    }
    layer.values.get(choice.head * n * n..(choice.head + 1) * n * n).map(<[f32]>::to_vec).ok_or("no map".into())
}

fn same_heads(text: &TextProbe, choice: Choice) -> bool {
    let heads =
        |layers: &[LayerAttention]| layers.len().checked_sub(choice.layer_from_last + 1).map(|i| layers[i].heads);
    heads(&text.attention).is_some() && heads(&text.attention) == heads(&text.teacher_attention)
}

/// A square heatmap with the hovered query and key characters in its tooltip.
fn heatmap(
    ui: &mut egui::Ui,
    values: &[f32],
    n: usize,
    side: f32,
    prompt: &[u32],
    vocabulary: &[char],
    color: impl Fn(f32) -> egui::Color32,
) {
    let (response, hovered) = cell_grid(ui, egui::vec2(side, side), n, n, |r, c| color(values[r * n + c]));
    if let Some((r, c)) = hovered {
        let character = |i: usize| prompt.get(i).map_or("?".into(), |&id| shown(vocabulary, id));
        response.on_hover_text(format!(
            "query {r} '{}' → key {c} '{}': {:.3}",
            character(r),
            character(c),
            values[r * n + c]
        ));
    }
}

/// Every attention value: model, layer, head, query, key.
fn attention_table(text: &TextProbe) -> Table {
    let mut table = Table::new(&["model", "layer", "head", "query", "key", "value"]);
    let n = text.prompt.len();
    for (model, layers) in [("student", &text.attention), ("teacher", &text.teacher_attention)] {
        for (layer, attention) in layers.iter().enumerate() {
            for (index, value) in attention.values.iter().enumerate() {
                let (head, cell) = (index / (n * n).max(1), index % (n * n).max(1));
                let row = [model.to_string(), (layer + 1).to_string(), (head + 1).to_string()];
                table.push(
                    row.into_iter()
                        .chain([(cell / n).to_string(), (cell % n).to_string(), value.to_string()])
                        .collect(),
                );
            }
        }
    }
    table
}
