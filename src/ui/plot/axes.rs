//! The curves' axes: round ticks 1, 2 or 5 × 10^k apart that are always labelled, a few of
//! them however short the plot, none where the pane's edge would cut its label.

use crate::export::svg::format_tick;
use egui_plot::{GridInput, GridMark};

/// Pixels between labelled grid lines, and the spacing at which the axes draw tick labels in
/// full (below the lower bound egui_plot drops them): room for "20000" on x, a line on y.
pub(crate) const Y_TICK_SPACING: f64 = 22.0;
pub(crate) const X_TICK_SPACING: f64 = 52.0;
const X_LABEL_SPACING: std::ops::RangeInclusive<f32> = 44.0..=50.0;
const Y_LABEL_SPACING: std::ops::RangeInclusive<f32> = 13.0..=18.0;
/// Tick labels a little smaller than the text, so a short plot (three stacked at 1024×700)
/// still labels two ticks.
const TICK_FONT: f32 = 11.0;
/// Pixels from the right end of the x axis within which no tick is labelled: half a label's
/// width, which the pane's edge would cut off ("20000" read "2000").
pub(crate) const X_EDGE: f64 = 18.0;

/// The x axis: round ticks labelled in full wherever they are far enough apart.
pub(crate) fn x_axis(label: &str) -> egui_plot::AxisHints<'static> {
    egui_plot::AxisHints::new_x()
        .label(label.to_string())
        .label_spacing(X_LABEL_SPACING)
        .tick_label_font(egui::FontId::proportional(TICK_FONT))
        .formatter(|mark, _| format_tick(mark.value))
}

/// The y axis, of values or (a log axis) of their logarithms.
pub(crate) fn y_axis(label: &str, log: bool) -> egui_plot::AxisHints<'static> {
    let hints = egui_plot::AxisHints::new_y()
        .label_spacing(Y_LABEL_SPACING)
        .tick_label_font(egui::FontId::proportional(TICK_FONT));
    match log {
        true => hints.label(format!("{label} (log)")).formatter(|mark, _| format_tick(10f64.powf(mark.value))),
        false => hints.label(label.to_string()).formatter(|mark, _| format_tick(mark.value)),
    }
}

/// Grid marks 1, 2 or 5 × 10^k apart: at least three over the range where there is room, and
/// never closer than `spacing` pixels, so every plot has a few labelled ticks however small its
/// range; none within `edge` pixels of the upper end, where its label would be cut in half.
pub(crate) fn nice_marks(input: GridInput, spacing: f64, edge: f64) -> Vec<GridMark> {
    // egui_plot's base step is the value of its 8-pixel minimum line spacing.
    let per_pixel = input.base_step_size / 8.0;
    let (low, high) = input.bounds;
    let range = high - low;
    if !(range > 0.0 && per_pixel > 0.0) {
        return Vec::new();
    }
    let wanted = range / (range / per_pixel / spacing).clamp(3.0, 10.0);
    let mut step = nice_step_below(wanted);
    while step / per_pixel < spacing {
        step = nice_step_above(step * 1.000_001);
    }
    let mut marks = marks_every(step, low, high - edge * per_pixel);
    // One label says nothing about the scale: a step smaller, down to where labels still fit.
    while marks.len() < 2 {
        let smaller = nice_step_below(step * 0.999_999);
        if smaller / per_pixel < spacing * MIN_LABEL_SHARE {
            break;
        }
        step = smaller;
        marks = marks_every(step, low, high - edge * per_pixel);
    }
    marks
}

/// Two labels may come this much closer than the spacing asked for when there would otherwise
/// be only one (a short plot of a narrow range).
const MIN_LABEL_SHARE: f64 = 0.7;

/// Marks at every multiple of `step` from `low` to `high` (none when there would be too many).
fn marks_every(step: f64, low: f64, high: f64) -> Vec<GridMark> {
    let (first, last) = ((low / step).ceil() as i64, (high / step).floor() as i64);
    if last - first > 1000 {
        return Vec::new();
    }
    (first..=last).map(|k| GridMark { value: k as f64 * step, step_size: step }).collect()
}

/// The largest of 1, 2, 5 × 10^k not above `value`.
fn nice_step_below(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [5.0, 2.0, 1.0].iter().map(|m| m * magnitude).find(|s| *s <= value).unwrap_or(magnitude)
}

/// The smallest of 1, 2, 5 × 10^k not below `value`.
fn nice_step_above(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= value).unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(low: f64, high: f64, pixels: f64) -> Vec<f64> {
        let input = GridInput { bounds: (low, high), base_step_size: 8.0 * (high - low) / pixels };
        nice_marks(input, Y_TICK_SPACING, 0.0).into_iter().map(|m| m.value).collect()
    }

    #[test]
    fn short_plots_still_get_three_round_ticks() {
        assert_eq!(marks(0.1, 2.0, 120.0), [0.5, 1.0, 1.5, 2.0]);
        let accuracy = marks(0.45, 1.0, 120.0);
        assert!(accuracy.len() >= 3 && accuracy.iter().all(|v| (v * 10.0).fract().abs() < 1e-9), "{accuracy:?}");
        // Never closer than the label spacing, even on a tiny plot.
        let tiny = marks(0.0, 1.0, 40.0);
        assert!(tiny.windows(2).all(|w| (w[1] - w[0]) * 40.0 >= Y_TICK_SPACING), "{tiny:?}");
    }
}
