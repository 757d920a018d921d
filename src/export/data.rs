//! A plot's numbers as CSV and JSON, and a whole plot exported at once: SVG, PNG (that SVG
//! rendered at 2×), CSV and JSON side by side, under a name no earlier export has taken.

use super::ExportError;
use super::png::svg_to_png;
use super::svg::PlotSpec;
use super::table::Table;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The size of an exported plot's drawing area (the legend adds rows below it).
pub(crate) const PLOT_SIZE: [f64; 2] = [900.0, 420.0];

/// One series of a plot as exported: which run, seed and stage it comes from, and its raw
/// `(step, value)` points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ExportSeries {
    pub(crate) run: String,
    pub(crate) seed: Option<u64>,
    pub(crate) stage: String,
    pub(crate) metric: String,
    /// Optimizer steps per epoch of the stage (0: unknown), for each point's epoch.
    #[serde(skip)]
    pub(crate) steps_per_epoch: u64,
    pub(crate) points: Vec<[f64; 2]>,
}

impl ExportSeries {
    fn epoch_of(&self, step: f64) -> String {
        match self.steps_per_epoch {
            0 => String::new(),
            per_epoch => ((step as u64).div_ceil(per_epoch).max(1)).to_string(),
        }
    }
}

/// Rows `run,seed,stage,metric,step,epoch,value`.
pub(crate) fn to_csv(series: &[ExportSeries]) -> Result<String, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| ExportError::Render(e.to_string());
    writer.write_record(["run", "seed", "stage", "metric", "step", "epoch", "value"]).map_err(failed)?;
    for s in series {
        let seed = s.seed.map_or_else(String::new, |seed| seed.to_string());
        for [step, value] in &s.points {
            let record =
                [&s.run, &seed, &s.stage, &s.metric, &step.to_string(), &s.epoch_of(*step), &value.to_string()];
            writer.write_record(record).map_err(failed)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| ExportError::Render(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `{"title": …, "series": [{"run", "seed", "stage", "metric", "points": [[step, value], …]}]}`.
pub(crate) fn to_json(title: &str, series: &[ExportSeries]) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        title: &'a str,
        series: &'a [ExportSeries],
    }
    serde_json::to_string_pretty(&Document { title, series }).unwrap_or_default()
}

/// A plot's numbers as its CSV and JSON hold them: curves (a row per point, in the long format
/// every curve export shares), or a table of its own (a sweep: a column named after the key).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PlotNumbers {
    Series(Vec<ExportSeries>),
    Table(Table),
}

impl PlotNumbers {
    fn csv(&self) -> Result<String, ExportError> {
        match self {
            PlotNumbers::Series(series) => to_csv(series),
            PlotNumbers::Table(table) => table.to_csv(),
        }
    }

    fn json(&self, title: &str) -> String {
        match self {
            PlotNumbers::Series(series) => to_json(title, series),
            PlotNumbers::Table(table) => table.to_json(),
        }
    }
}

/// `stem`, or `stem-2`, `stem-3`, … : the first whose files (`stem.<extension>` for each of
/// `extensions`) do not exist yet in `dir`, so an export never silently replaces an earlier one.
pub(crate) fn free_stem(dir: &Path, stem: &str, extensions: &[&str]) -> String {
    let taken = |candidate: &str| extensions.iter().any(|e| dir.join(format!("{candidate}.{e}")).exists());
    std::iter::once(stem.to_string())
        .chain((2..).map(|n| format!("{stem}-{n}")))
        .find(|candidate| !taken(candidate))
        .unwrap_or_else(|| stem.to_string())
}

/// Writes `<stem>.svg`, `<stem>.png` (the SVG at 2×), `<stem>.csv` and `<stem>.json` into `dir`
/// (created if missing), under a free stem; returns the files written.
pub(crate) fn export_plot(
    dir: &Path,
    stem: &str,
    spec: &PlotSpec,
    numbers: &PlotNumbers,
) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    let svg = spec.to_svg(PLOT_SIZE[0], PLOT_SIZE[1]);
    let files = [
        ("png", svg_to_png(&svg, 2.0)?),
        ("svg", svg.into_bytes()),
        ("csv", numbers.csv()?.into_bytes()),
        ("json", numbers.json(&spec.title).into_bytes()),
    ];
    let stem = free_stem(dir, stem, &files.iter().map(|(e, _)| *e).collect::<Vec<_>>());
    let mut written = Vec::new();
    for (extension, bytes) in files {
        let path = dir.join(format!("{stem}.{extension}"));
        std::fs::write(&path, bytes).map_err(|e| ExportError::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(run: &str, stage: &str, points: Vec<[f64; 2]>) -> ExportSeries {
        ExportSeries {
            run: run.into(),
            seed: Some(1),
            stage: stage.into(),
            metric: "loss".into(),
            steps_per_epoch: 15,
            points,
        }
    }

    #[test]
    fn csv_and_json_carry_every_point_and_where_it_comes_from() {
        let series = vec![
            series("kd", "teacher", vec![[10.0, 0.5], [20.0, 0.25]]),
            series("kd T=8", "student", vec![[10.0, 1.5]]),
        ];
        let csv = to_csv(&series).unwrap();
        assert_eq!(
            csv.lines().collect::<Vec<_>>(),
            [
                "run,seed,stage,metric,step,epoch,value",
                "kd,1,teacher,loss,10,1,0.5",
                "kd,1,teacher,loss,20,2,0.25",
                "kd T=8,1,student,loss,10,1,1.5"
            ]
        );
        let json: serde_json::Value = serde_json::from_str(&to_json("loss", &series)).unwrap();
        assert_eq!(json["series"][0]["points"][1][1], 0.25);
        assert_eq!(json["series"][1]["run"], "kd T=8");
        assert_eq!(json["title"], "loss");
    }

    #[test]
    fn a_second_export_takes_a_new_name() {
        let dir = std::env::temp_dir().join(format!("kdlab-free-stem-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let spec = PlotSpec {
            title: "loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: Vec::new(),
            log_y: false,
            log_x: false,
            ..Default::default()
        };
        let none = PlotNumbers::Series(Vec::new());
        let first = export_plot(&dir, "loss", &spec, &none).unwrap();
        let second = export_plot(&dir, "loss", &spec, &none).unwrap();
        assert!(first[0].ends_with("loss.png") && second[0].ends_with("loss-2.png"), "{first:?} {second:?}");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 8, "nothing overwritten");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
