//! How a curve is drawn: line styles (solid, dashed, dotted, long dashes), the shapes repeated
//! along a line when styles alone would repeat, and thinning dashed lines to what the pixels
//! show.

use egui_plot::MarkerShape;

/// A dashed or dotted line's points: the min–max envelope averaged to about one point per three
/// pixel columns. Dashes are laid along the path, and the envelope's zig-zag would make the
/// path (and the dashes egui draws per frame) many times longer than the plot is wide, for no
/// more information: the solid lines keep the extremes.
pub(crate) fn thinned(points: &[[f64; 2]], columns: usize) -> Vec<[f64; 2]> {
    let chunk = (points.len() / (columns / 3).max(1)).max(1);
    if chunk == 1 {
        return points.to_vec();
    }
    points
        .chunks(chunk)
        .map(|c| {
            let n = c.len() as f64;
            [c.iter().map(|p| p[0]).sum::<f64>() / n, c.iter().map(|p| p[1]).sum::<f64>() / n]
        })
        .collect()
}

/// Pixels between two shapes along a line.
pub(crate) const SHAPE_SPACING: usize = 70;

/// About `count` of the points, evenly spread over the line.
pub(crate) fn spaced(points: &[[f64; 2]], count: usize) -> Vec<[f64; 2]> {
    let stride = (points.len() / count.max(1)).max(1);
    points.iter().step_by(stride).copied().collect()
}

/// The shape repeated along a line (1 circle, 2 square, 3 diamond, then a cross).
pub(crate) fn marker_shape(shape: usize) -> MarkerShape {
    match shape {
        1 => MarkerShape::Circle,
        2 => MarkerShape::Square,
        3 => MarkerShape::Diamond,
        _ => MarkerShape::Cross,
    }
}

/// Solid, dashed, dotted, long dashes, then around again: how the stages of one overlaid run
/// (or the metrics of one stage) differ.
pub(crate) fn line_style(dash: usize) -> egui_plot::LineStyle {
    match dash % 4 {
        0 => egui_plot::LineStyle::Solid,
        1 => egui_plot::LineStyle::dashed_loose(),
        2 => egui_plot::LineStyle::dotted_dense(),
        _ => egui_plot::LineStyle::Dashed { length: 16.0 },
    }
}
