//! Line plots as SVG, written from the series themselves (not from screen pixels): axes with
//! round-number ticks (or powers of ten on a log axis), tick labels, axis labels, a title, a
//! legend under the plot that grows the picture rather than spilling out of it, one `<path>` per
//! series (or dots, for points that are not a line) with an optional shaded band (mean ± std)
//! under it, a shape repeated along it when line styles alone would repeat, a ring where a fork
//! branches off, and the markers of live hyperparameter changes (labelled lines, as on screen).

use std::fmt::Write;

/// One line of a plot, with an optional band `(x, low, high)` drawn beneath it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PlotSeries {
    pub(crate) name: String,
    /// `#rrggbb`.
    pub(crate) color: String,
    pub(crate) points: Vec<[f64; 2]>,
    pub(crate) band: Option<Vec<[f64; 3]>>,
    /// 0 solid, 1 dashed, 2 dotted, 3 long dashes (cycling), as the app draws them.
    pub(crate) dash: usize,
    /// A shape repeated along the line (0 none, then circle, square, diamond, cross), as the
    /// app draws them.
    pub(crate) shape: usize,
    /// Where a fork branches off its parent's curve: a ring.
    pub(crate) ring: Option<[f64; 2]>,
    /// Dots at the points instead of a line (single values, such as each run of a sweep).
    pub(crate) dots: bool,
}

/// A plot to write.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct PlotSpec {
    pub(crate) title: String,
    pub(crate) x_label: String,
    pub(crate) y_label: String,
    pub(crate) series: Vec<PlotSeries>,
    /// Whether the y axis is logarithmic (values ≤ 0 are left out).
    pub(crate) log_y: bool,
    /// Whether the x axis is logarithmic (points at x ≤ 0 are left out).
    pub(crate) log_x: bool,
    /// Vertical markers (`x`, label): where a live hyperparameter changed.
    pub(crate) markers: Vec<(f64, String)>,
}

/// The colour of parameter-change markers, on screen and in exports.
pub(crate) const MARKER_RGB: [u8; 3] = [200, 160, 40];
/// The legend entry of the markers.
pub(crate) const MARKERS_NAME: &str = "T/α/β changes";

const MARGIN_LEFT: f64 = 70.0;
const MARGIN_RIGHT: f64 = 24.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 55.0;
const LEGEND_ROW: f64 = 18.0;
/// Legend names longer than this are cut with an ellipsis.
const LEGEND_CHARS: usize = 64;
/// The font family; the PNG renderer maps it to the font it embeds.
pub(crate) const FONT: &str = "sans-serif";

/// Tableau's 20 categorical colours, strong ones first: the palette of every plot, in the app
/// and in exports.
const PALETTE: [[u8; 3]; 20] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
    [174, 199, 232],
    [255, 187, 120],
    [152, 223, 138],
    [255, 152, 150],
    [197, 176, 213],
    [196, 156, 148],
    [247, 182, 210],
    [199, 199, 199],
    [219, 219, 141],
    [158, 218, 229],
];

/// The `index`-th colour of the palette as RGB.
pub(crate) fn palette_rgb(index: usize) -> [u8; 3] {
    PALETTE[index % PALETTE.len()]
}

/// The `index`-th colour of the palette as `#rrggbb`.
pub(crate) fn palette(index: usize) -> String {
    let [r, g, b] = palette_rgb(index);
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// How wide `text` is at 12 px, roughly (the embedded font's mean advance).
fn text_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.6
}

/// A legend name cut to [`LEGEND_CHARS`].
fn legend_name(name: &str) -> String {
    if name.chars().count() <= LEGEND_CHARS {
        return name.to_string();
    }
    let cut: String = name.chars().take(LEGEND_CHARS - 1).collect();
    format!("{cut}…")
}

impl PlotSpec {
    /// The plot as an SVG document `width` pixels wide whose plot area (with its axes) is
    /// `height` pixels high; the legend below adds what it needs.
    pub(crate) fn to_svg(&self, width: f64, height: f64) -> String {
        let legend = LegendLayout::new(self, width);
        let frame = Frame::new(self, width, height);
        let height = height + legend.height();
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="{FONT}" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="{width}" height="{height}" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="24" font-size="15" text-anchor="middle">{}</text>"#,
            MARGIN_LEFT + frame.plot_width / 2.0,
            escape(&self.title)
        );
        frame.axes(&mut svg, self);
        let clip = format!(
            r#"<clipPath id="plot-area"><rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{:.1}" height="{:.1}"/></clipPath>"#,
            frame.plot_width, frame.plot_height
        );
        let _ = writeln!(svg, "{clip}\n<g clip-path=\"url(#plot-area)\">");
        for series in &self.series {
            frame.series(&mut svg, series);
        }
        frame.markers(&mut svg, &self.markers);
        svg.push_str("</g>\n");
        legend.write(&mut svg, self, MARGIN_TOP + frame.plot_height + MARGIN_BOTTOM);
        svg.push_str("</svg>\n");
        svg
    }
}

/// Where the legend's entries go: columns as wide as the longest name, as many as fit.
struct LegendLayout {
    columns: usize,
    column_width: f64,
    rows: usize,
}

impl LegendLayout {
    fn new(spec: &PlotSpec, width: f64) -> LegendLayout {
        let entries = spec.series.len() + usize::from(!spec.markers.is_empty());
        let widest = spec.series.iter().map(|s| text_width(&legend_name(&s.name))).fold(0.0, f64::max);
        let column_width = widest.max(text_width(MARKERS_NAME)) + 40.0;
        let available = (width - MARGIN_LEFT - MARGIN_RIGHT).max(column_width);
        let columns = ((available / column_width).floor() as usize).clamp(1, entries.max(1));
        LegendLayout { columns, column_width, rows: entries.div_ceil(columns) }
    }

    fn height(&self) -> f64 {
        if self.rows == 0 { 0.0 } else { self.rows as f64 * LEGEND_ROW + 10.0 }
    }

    fn write(&self, svg: &mut String, spec: &PlotSpec, top: f64) {
        let at = |i: usize| {
            (
                MARGIN_LEFT + (i % self.columns) as f64 * self.column_width,
                top + (i / self.columns) as f64 * LEGEND_ROW + 4.0,
            )
        };
        for (i, series) in spec.series.iter().enumerate() {
            let (x, y) = at(i);
            if series.dots {
                let _ = writeln!(svg, r#"<circle cx="{:.1}" cy="{y:.1}" r="3" fill="{}"/>"#, x + 11.0, series.color);
            } else {
                let _ = writeln!(
                    svg,
                    r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="3"{}/>"#,
                    x + 22.0,
                    series.color,
                    dash_array(series.dash)
                );
                shape(svg, series.shape, x + 11.0, y, &series.color);
            }
            let name = escape(&legend_name(&series.name));
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{name}</text>"#, x + 28.0, y + 4.0);
        }
        if !spec.markers.is_empty() {
            let (x, y) = at(spec.series.len());
            let _ = writeln!(
                svg,
                r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{}" stroke-width="2" stroke-dasharray="4 3"/>"#,
                x + 11.0,
                y - 6.0,
                x + 11.0,
                y + 6.0,
                marker_color()
            );
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{MARKERS_NAME}</text>"#, x + 28.0, y + 4.0);
        }
    }
}

/// Maps data to pixels.
struct Frame {
    x: [f64; 2],
    y: [f64; 2],
    log_y: bool,
    log_x: bool,
    plot_width: f64,
    plot_height: f64,
}

impl Frame {
    fn new(spec: &PlotSpec, width: f64, height: f64) -> Frame {
        let mut x = [f64::INFINITY, f64::NEG_INFINITY];
        let mut y = [f64::INFINITY, f64::NEG_INFINITY];
        let shown = |v: f64| if spec.log_y { (v > 0.0).then(|| v.log10()) } else { Some(v) };
        let shown_x = |v: f64| if spec.log_x { (v > 0.0).then(|| v.log10()) } else { Some(v) };
        for series in &spec.series {
            for p in &series.points {
                if let Some(v) = shown_x(p[0]) {
                    x = [x[0].min(v), x[1].max(v)];
                }
                if let Some(v) = shown(p[1]) {
                    y = [y[0].min(v), y[1].max(v)];
                }
            }
            for b in series.band.iter().flatten() {
                for v in [b[1], b[2]].into_iter().filter_map(shown) {
                    y = [y[0].min(v), y[1].max(v)];
                }
            }
        }
        let widen = |r: [f64; 2]| {
            if !r[0].is_finite() {
                [0.0, 1.0]
            } else if r[1] - r[0] < 1e-12 {
                [r[0] - 0.5, r[1] + 0.5]
            } else {
                r
            }
        };
        let y = widen(y);
        let pad = (y[1] - y[0]) * 0.04;
        Frame {
            x: widen(x),
            y: [y[0] - pad, y[1] + pad],
            log_y: spec.log_y,
            log_x: spec.log_x,
            plot_width: (width - MARGIN_LEFT - MARGIN_RIGHT).max(50.0),
            plot_height: (height - MARGIN_TOP - MARGIN_BOTTOM).max(50.0),
        }
    }

    /// The pixel column of a value (on a log axis, of its logarithm: a value ≤ 0 lies left).
    fn px(&self, x: f64) -> f64 {
        let x = if self.log_x { if x > 0.0 { x.log10() } else { self.x[0] - 1.0 } } else { x };
        self.px_axis(x)
    }

    /// The pixel column of a position on the axis (a logarithm on a log axis).
    fn px_axis(&self, x: f64) -> f64 {
        MARGIN_LEFT + (x - self.x[0]) / (self.x[1] - self.x[0]) * self.plot_width
    }

    /// The pixel row of a value (on a log axis, of its logarithm: a value ≤ 0 lies below).
    fn py(&self, y: f64) -> f64 {
        let y = if self.log_y { if y > 0.0 { y.log10() } else { self.y[0] - 1.0 } } else { y };
        self.py_axis(y)
    }

    /// The pixel row of a position on the axis (a logarithm on a log axis).
    fn py_axis(&self, y: f64) -> f64 {
        MARGIN_TOP + (1.0 - (y - self.y[0]) / (self.y[1] - self.y[0])) * self.plot_height
    }

    fn axes(&self, svg: &mut String, spec: &PlotSpec) {
        let (left, top) = (MARGIN_LEFT, MARGIN_TOP);
        let (right, bottom) = (left + self.plot_width, top + self.plot_height);
        let x_ticks = if self.log_x { log_ticks(self.x[0], self.x[1]) } else { ticks(self.x[0], self.x[1]) };
        for tick in x_ticks {
            let x = self.px_axis(tick);
            let label = if self.log_x { format_tick(10f64.powf(tick)) } else { format_tick(tick) };
            let _ = writeln!(svg, r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#e5e5e5"/>"##);
            let _ = writeln!(svg, r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{label}</text>"#, bottom + 16.0);
        }
        let y_ticks = if self.log_y { log_ticks(self.y[0], self.y[1]) } else { ticks(self.y[0], self.y[1]) };
        for tick in y_ticks {
            let y = self.py_axis(tick);
            let label = if self.log_y { format_tick(10f64.powf(tick)) } else { format_tick(tick) };
            let _ = writeln!(svg, r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e5e5e5"/>"##);
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{label}</text>"#, left - 6.0, y + 4.0);
        }
        let _ = writeln!(
            svg,
            r##"<rect x="{left}" y="{top}" width="{:.1}" height="{:.1}" fill="none" stroke="#444"/>"##,
            self.plot_width, self.plot_height
        );
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            left + self.plot_width / 2.0,
            bottom + 40.0,
            escape(&spec.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">{}</text>"#,
            top + self.plot_height / 2.0,
            top + self.plot_height / 2.0,
            escape(&spec.y_label)
        );
    }

    fn series(&self, svg: &mut String, series: &PlotSeries) {
        if let Some(band) = series.band.as_ref().filter(|b| !b.is_empty()) {
            let upper = band.iter().map(|b| format!("{:.1},{:.1}", self.px(b[0]), self.py(b[2])));
            let lower = band.iter().rev().map(|b| format!("{:.1},{:.1}", self.px(b[0]), self.py(b[1])));
            let outline: Vec<String> = upper.chain(lower).collect();
            let _ = writeln!(
                svg,
                r#"<polygon points="{}" fill="{}" fill-opacity="0.2" stroke="none"/>"#,
                outline.join(" "),
                series.color
            );
        }
        if series.points.is_empty() {
            return;
        }
        if series.dots {
            for p in &series.points {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}" fill-opacity="0.6"><title>{}</title></circle>"#,
                    self.px(p[0]),
                    self.py(p[1]),
                    series.color,
                    escape(&series.name)
                );
            }
            return;
        }
        self.shapes_along(svg, series);
        if let Some([x, y]) = series.ring {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="6" fill="none" stroke="{}" stroke-width="2"><title>fork of this curve</title></circle>"#,
                self.px(x),
                self.py(y),
                series.color
            );
        }
        let mut d = String::new();
        for (i, p) in series.points.iter().enumerate() {
            let _ = write!(d, "{}{:.1},{:.1} ", if i == 0 { "M" } else { "L" }, self.px(p[0]), self.py(p[1]));
        }
        let _ = writeln!(
            svg,
            r#"<path d="{}" fill="none" stroke="{}" stroke-width="1.8"{}><title>{}</title></path>"#,
            d.trim_end(),
            series.color,
            dash_array(series.dash),
            escape(&series.name)
        );
    }
}

impl Frame {
    /// The series' shape about every [`SHAPE_SPACING`] pixels along it.
    fn shapes_along(&self, svg: &mut String, series: &PlotSeries) {
        if series.shape == 0 {
            return;
        }
        let mut next = f64::NEG_INFINITY;
        for p in &series.points {
            let (x, y) = (self.px(p[0]), self.py(p[1]));
            if x >= next && y.is_finite() {
                shape(svg, series.shape, x, y, &series.color);
                next = x + SHAPE_SPACING;
            }
        }
    }

    /// Dashed vertical lines where a live hyperparameter changed, labelled along the top; a
    /// label that would overlap goes a row lower (three rows), else only its line is drawn.
    fn markers(&self, svg: &mut String, markers: &[(f64, String)]) {
        let color = marker_color();
        let (top, bottom) = (MARGIN_TOP, MARGIN_TOP + self.plot_height);
        let right = MARGIN_LEFT + self.plot_width;
        // Right of its line, or left of it where the plot ends first.
        let left_of = |x: f64, width: f64| x + 3.0 + width > right;
        let spans = markers.iter().map(|(x, label)| {
            let (x, width) = (self.px(*x), text_width(label) * 0.9);
            (if left_of(x, width) { x - 3.0 - width } else { x + 3.0 }, width)
        });
        let placed = stack_labels(spans, 3);
        for ((x, label), row) in markers.iter().zip(placed) {
            let x = self.px(*x);
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="{color}" stroke-width="1.2" stroke-dasharray="4 3"/>"#
            );
            if let Some(row) = row {
                let y = top + 12.0 + row as f64 * 13.0;
                let (at, anchor) =
                    if left_of(x, text_width(label) * 0.9) { (x - 3.0, "end") } else { (x + 3.0, "start") };
                let _ = writeln!(
                    svg,
                    r#"<text x="{at:.1}" y="{y:.1}" font-size="11" fill="{color}" text-anchor="{anchor}">{}</text>"#,
                    escape(label)
                );
            }
        }
    }
}

/// Pixels between two shapes along a line.
const SHAPE_SPACING: f64 = 70.0;

/// Rows for labels that start at `x` and are `width` wide, so that none overlaps another in
/// its row: the first row with room, or `None` when all `rows` are taken there.
pub(crate) fn stack_labels(labels: impl Iterator<Item = (f64, f64)>, rows: usize) -> Vec<Option<usize>> {
    let labels: Vec<(f64, f64)> = labels.collect();
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by(|&a, &b| labels[a].0.total_cmp(&labels[b].0));
    let mut free_from = vec![f64::NEG_INFINITY; rows];
    let mut placed = vec![None; labels.len()];
    for index in order {
        let (x, width) = labels[index];
        if let Some(row) = free_from.iter().position(|&free| x >= free) {
            free_from[row] = x + width + 6.0;
            placed[index] = Some(row);
        }
    }
    placed
}

fn marker_color() -> String {
    let [r, g, b] = MARKER_RGB;
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// A small shape centred at `(x, y)`: circle, square, diamond or cross (by `shape`, from 1).
fn shape(svg: &mut String, shape: usize, x: f64, y: f64, color: &str) {
    let _ = match shape {
        0 => Ok(()),
        1 => writeln!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"/>"#),
        2 => writeln!(svg, r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{color}"/>"#, x - 3.5, y - 3.5),
        3 => writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="7" height="7" fill="{color}" transform="rotate(45 {x:.1} {y:.1})"/>"#,
            x - 3.5,
            y - 3.5
        ),
        _ => writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/><line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2"/>"#,
            x - 4.0,
            y - 4.0,
            x + 4.0,
            y + 4.0,
            x - 4.0,
            y + 4.0,
            x + 4.0,
            y - 4.0
        ),
    };
}

/// The `stroke-dasharray` attribute of a line style.
fn dash_array(dash: usize) -> &'static str {
    match dash % 4 {
        0 => "",
        1 => r#" stroke-dasharray="8 5""#,
        2 => r#" stroke-dasharray="2 3""#,
        _ => r#" stroke-dasharray="14 4 2 4""#,
    }
}

/// Round-number ticks (1, 2 or 5 × 10^k apart) covering `[low, high]`, about six of them.
pub(crate) fn ticks(low: f64, high: f64) -> Vec<f64> {
    let span = high - low;
    if !(span.is_finite() && span > 0.0) {
        return vec![low];
    }
    let raw = span / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(10.0 * magnitude);
    let first = (low / step).ceil() as i64;
    let last = (high / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks of a logarithmic axis spanning `low..high` (logarithms): at 1, 2 and 5 times powers of
/// ten (only the powers when those crowd), as logarithms; evenly spaced when fewer than two fit.
pub(crate) fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    if !(low.is_finite() && high.is_finite() && high > low) {
        return ticks(low, high);
    }
    let at = |multiples: &[f64]| -> Vec<f64> {
        let decades = (low.floor() as i64 - 1)..=(high.ceil() as i64 + 1);
        decades
            .flat_map(|k| multiples.iter().map(move |m| (m * 10f64.powi(k as i32)).log10()))
            .filter(|v| (low - 1e-9..=high + 1e-9).contains(v))
            .collect()
    };
    let dense = at(&[1.0, 2.0, 5.0]);
    let chosen = if dense.len() > 8 { at(&[1.0]) } else { dense };
    if chosen.len() < 2 { ticks(low, high) } else { chosen }
}

/// A tick label: whole numbers plainly, others with up to 4 decimals (small ones in
/// scientific notation).
pub fn format_tick(value: f64) -> String {
    if value != 0.0 && value.abs() < 1e-3 {
        format!("{value:.0e}")
    } else if value.abs() >= 1000.0 || value == value.trunc() {
        format!("{value:.0}")
    } else {
        let text = format!("{value:.4}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(0.0, 960.0), vec![0.0, 200.0, 400.0, 600.0, 800.0]);
        assert_eq!(ticks(3.0, 3.0), vec![3.0]);
    }

    #[test]
    fn one_path_per_series_with_legend_and_band() {
        let spec = PlotSpec {
            title: "loss <of> kd".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: vec![
                PlotSeries {
                    name: "a".into(),
                    color: palette(0),
                    points: vec![[0.0, 1.0], [10.0, 0.5]],
                    band: Some(vec![[0.0, 0.9, 1.1], [10.0, 0.4, 0.6]]),
                    dash: 0,
                    ..Default::default()
                },
                PlotSeries {
                    name: "b".into(),
                    color: palette(1),
                    points: vec![[0.0, 2.0], [10.0, 1.0]],
                    band: None,
                    dash: 1,
                    ..Default::default()
                },
            ],
            log_y: false,
            log_x: false,
            ..Default::default()
        };
        let svg = spec.to_svg(640.0, 360.0);
        assert_eq!(svg.matches("<path ").count(), 2);
        assert_eq!(svg.matches("<polygon ").count(), 1);
        assert!(svg.contains("loss &lt;of&gt; kd"));
        assert!(svg.contains(">a</text>") && svg.contains(">b</text>"));
        assert_eq!(svg.matches("stroke-dasharray").count(), 2, "b's line and its legend swatch");
    }

    #[test]
    fn a_long_legend_grows_the_picture_instead_of_leaving_it() {
        let series = (0..12)
            .map(|i| PlotSeries {
                name: format!("kd temperature={i} · student_kd · test_accuracy"),
                color: palette(i),
                points: vec![[0.0, 0.5], [10.0, 0.9]],
                band: None,
                dash: 0,
                ..Default::default()
            })
            .collect();
        let spec = PlotSpec {
            title: "t".into(),
            x_label: "step".into(),
            y_label: "accuracy".into(),
            series,
            log_y: false,
            log_x: false,
            ..Default::default()
        };
        let svg = spec.to_svg(900.0, 420.0);
        let height: f64 = svg.split("height=\"").nth(1).and_then(|h| h.split('"').next()).unwrap().parse().unwrap();
        assert!(height > 420.0, "the legend rows add height: {height}");
        // Every legend label starts inside the canvas.
        for text in svg.lines().filter(|l| l.starts_with("<text x=") && l.contains("student_kd")) {
            let x: f64 = text.split('"').nth(1).unwrap().parse().unwrap();
            let y: f64 = text.split('"').nth(3).unwrap().parse().unwrap();
            assert!(x + 6.6 * 44.0 <= 900.0 && y <= height, "{text}");
        }
    }

    #[test]
    fn a_log_axis_labels_powers_of_ten() {
        let spec = PlotSpec {
            title: "loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: vec![PlotSeries {
                name: "loss".into(),
                color: palette(0),
                points: vec![[0.0, 100.0], [10.0, 0.01]],
                band: None,
                dash: 0,
                ..Default::default()
            }],
            log_y: true,
            log_x: false,
            ..Default::default()
        };
        let svg = spec.to_svg(640.0, 360.0);
        for label in [">0.01<", ">1<", ">100<"] {
            assert!(svg.contains(label), "{label} on the log axis");
        }
    }

    #[test]
    fn log_ticks_sit_at_one_two_five_times_powers_of_ten() {
        let labels = |low: f64, high: f64| -> Vec<String> {
            log_ticks(low.log10(), high.log10()).into_iter().map(|t| format_tick(10f64.powf(t))).collect()
        };
        assert_eq!(labels(1.0, 16.0), ["1", "2", "5", "10"]);
        assert_eq!(labels(0.001, 1000.0), ["0.001", "0.01", "0.1", "1", "10", "100", "1000"]);
    }
}
