//! Line plots as SVG, written from the series themselves (not from screen pixels): axes with
//! round-number ticks, tick labels, axis labels, a title, a legend, one `<path>` per series and
//! an optional shaded band (mean ± std) under it.

use std::fmt::Write;

/// One line of a plot, with an optional band `(x, low, high)` drawn beneath it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSeries {
    pub name: String,
    /// `#rrggbb`.
    pub color: String,
    pub points: Vec<[f64; 2]>,
    pub band: Option<Vec<[f64; 3]>>,
    /// 0 solid, 1 dashed, 2 dotted (cycling), as the app draws overlaid runs' stages.
    pub dash: usize,
}

/// A plot to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotSpec {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<PlotSeries>,
}

const MARGIN_LEFT: f64 = 70.0;
const MARGIN_RIGHT: f64 = 200.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 55.0;
/// The font family; the PNG renderer maps it to the font it embeds.
pub const FONT: &str = "sans-serif";

/// The categorical palette of the app's plots, as `#rrggbb`.
pub fn palette(index: usize) -> String {
    const PALETTE: [&str; 8] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
    PALETTE[index % PALETTE.len()].to_string()
}

impl PlotSpec {
    /// The plot as an SVG document of `width × height` pixels.
    pub fn to_svg(&self, width: f64, height: f64) -> String {
        let frame = Frame::new(self, width, height);
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
        for series in &self.series {
            frame.series(&mut svg, series);
        }
        frame.legend(&mut svg, self);
        svg.push_str("</svg>\n");
        svg
    }
}

/// Maps data to pixels.
struct Frame {
    x: [f64; 2],
    y: [f64; 2],
    plot_width: f64,
    plot_height: f64,
}

impl Frame {
    fn new(spec: &PlotSpec, width: f64, height: f64) -> Frame {
        let mut x = [f64::INFINITY, f64::NEG_INFINITY];
        let mut y = [f64::INFINITY, f64::NEG_INFINITY];
        for series in &spec.series {
            for p in &series.points {
                x = [x[0].min(p[0]), x[1].max(p[0])];
                y = [y[0].min(p[1]), y[1].max(p[1])];
            }
            for b in series.band.iter().flatten() {
                y = [y[0].min(b[1]), y[1].max(b[2])];
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
            plot_width: (width - MARGIN_LEFT - MARGIN_RIGHT).max(50.0),
            plot_height: (height - MARGIN_TOP - MARGIN_BOTTOM).max(50.0),
        }
    }

    fn px(&self, x: f64) -> f64 {
        MARGIN_LEFT + (x - self.x[0]) / (self.x[1] - self.x[0]) * self.plot_width
    }

    fn py(&self, y: f64) -> f64 {
        MARGIN_TOP + (1.0 - (y - self.y[0]) / (self.y[1] - self.y[0])) * self.plot_height
    }

    fn axes(&self, svg: &mut String, spec: &PlotSpec) {
        let (left, top) = (MARGIN_LEFT, MARGIN_TOP);
        let (right, bottom) = (left + self.plot_width, top + self.plot_height);
        for tick in ticks(self.x[0], self.x[1]) {
            let x = self.px(tick);
            let _ = writeln!(svg, r##"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{bottom}" stroke="#e5e5e5"/>"##);
            let _ = writeln!(
                svg,
                r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                bottom + 16.0,
                format_tick(tick)
            );
        }
        for tick in ticks(self.y[0], self.y[1]) {
            let y = self.py(tick);
            let _ = writeln!(svg, r##"<line x1="{left}" y1="{y:.1}" x2="{right}" y2="{y:.1}" stroke="#e5e5e5"/>"##);
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                left - 6.0,
                y + 4.0,
                format_tick(tick)
            );
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

    fn legend(&self, svg: &mut String, spec: &PlotSpec) {
        let x = MARGIN_LEFT + self.plot_width + 14.0;
        for (i, series) in spec.series.iter().enumerate() {
            let y = MARGIN_TOP + 10.0 + i as f64 * 18.0;
            let _ = writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="{}" stroke-width="3"{}/>"#,
                x + 18.0,
                series.color,
                dash_array(series.dash)
            );
            let _ = writeln!(svg, r#"<text x="{:.1}" y="{:.1}">{}</text>"#, x + 24.0, y + 4.0, escape(&series.name));
        }
    }
}

/// The `stroke-dasharray` attribute of a line style.
fn dash_array(dash: usize) -> &'static str {
    match dash % 3 {
        0 => "",
        1 => r#" stroke-dasharray="8 5""#,
        _ => r#" stroke-dasharray="2 3""#,
    }
}

/// Round-number ticks (1, 2 or 5 × 10^k apart) covering `[low, high]`, about six of them.
pub fn ticks(low: f64, high: f64) -> Vec<f64> {
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

fn format_tick(value: f64) -> String {
    if value.abs() >= 1000.0 || value == value.trunc() {
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
                },
                PlotSeries {
                    name: "b".into(),
                    color: palette(1),
                    points: vec![[0.0, 2.0], [10.0, 1.0]],
                    band: None,
                    dash: 1,
                },
            ],
        };
        let svg = spec.to_svg(640.0, 360.0);
        assert_eq!(svg.matches("<path ").count(), 2);
        assert_eq!(svg.matches("<polygon ").count(), 1);
        assert!(svg.contains("loss &lt;of&gt; kd"));
        assert!(svg.contains(">a</text>") && svg.contains(">b</text>"));
        assert_eq!(svg.matches("stroke-dasharray").count(), 2, "b's line and its legend swatch");
    }
}
