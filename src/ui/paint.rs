//! Painting helpers the views share: colour maps, grids of cells drawn as one mesh (heatmaps,
//! attention maps, decision regions) and a colour-bar legend.

use egui::{Color32, Rect, Sense, Vec2};

/// Viridis, from 0 (dark purple) to 1 (yellow); values outside are clamped.
pub(crate) fn viridis(t: f32) -> Color32 {
    const STOPS: [[f32; 3]; 5] =
        [[68.0, 1.0, 84.0], [59.0, 82.0, 139.0], [33.0, 145.0, 140.0], [94.0, 201.0, 98.0], [253.0, 231.0, 37.0]];
    interpolate(&STOPS, t)
}

/// Blue (−1) through near-black (0) to red (+1), for differences.
pub(crate) fn diverging(t: f32) -> Color32 {
    const STOPS: [[f32; 3]; 3] = [[59.0, 130.0, 246.0], [30.0, 30.0, 34.0], [239.0, 68.0, 68.0]];
    interpolate(&STOPS, (t + 1.0) / 2.0)
}

fn interpolate(stops: &[[f32; 3]], t: f32) -> Color32 {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.0 };
    let position = t * (stops.len() - 1) as f32;
    let low = (position.floor() as usize).min(stops.len() - 2);
    let fraction = position - low as f32;
    let channel = |c: usize| (stops[low][c] + (stops[low + 1][c] - stops[low][c]) * fraction) as u8;
    Color32::from_rgb(channel(0), channel(1), channel(2))
}

/// A `rows × columns` grid of cells of the given size, row 0 at the top, painted as one mesh;
/// returns the response and the cell under the pointer.
pub(crate) fn cell_grid(
    ui: &mut egui::Ui,
    size: Vec2,
    rows: usize,
    columns: usize,
    color: impl Fn(usize, usize) -> Color32,
) -> (egui::Response, Option<(usize, usize)>) {
    let (response, painter) = ui.allocate_painter(size, Sense::hover());
    let rect = response.rect;
    let cell = Vec2::new(rect.width() / columns.max(1) as f32, rect.height() / rows.max(1) as f32);
    let mut mesh = egui::Mesh::default();
    for row in 0..rows {
        for column in 0..columns {
            let min = rect.min + Vec2::new(column as f32 * cell.x, row as f32 * cell.y);
            mesh.add_colored_rect(Rect::from_min_size(min, cell), color(row, column));
        }
    }
    painter.add(mesh);
    let hovered = response.hover_pos().map(|p| {
        let column = (((p.x - rect.min.x) / cell.x) as usize).min(columns.saturating_sub(1));
        let row = (((p.y - rect.min.y) / cell.y) as usize).min(rows.saturating_sub(1));
        (row, column)
    });
    (response, hovered)
}

/// A horizontal colour bar from `low` to `high` under `label`.
pub(crate) fn color_bar(ui: &mut egui::Ui, label: &str, low: f32, high: f32, map: impl Fn(f32) -> Color32) {
    ui.horizontal(|ui| {
        ui.label(format!("{label} {low:.2}"));
        let steps = 48;
        cell_grid(ui, Vec2::new(120.0, 10.0), 1, steps, |_, c| map(c as f32 / (steps - 1) as f32));
        ui.label(format!("{high:.2}"));
    });
}
