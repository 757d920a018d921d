//! A plot's numbers as CSV and JSON, and a whole plot exported at once: SVG, CSV and JSON
//! side by side (the app adds the PNG from the screen).

use super::ExportError;
use super::svg::PlotSpec;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// One series of a plot as exported: where it comes from and its raw `(step, value)` points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportSeries {
    pub stage: String,
    pub metric: String,
    pub points: Vec<[f64; 2]>,
}

/// Rows `stage,metric,step,value`.
pub fn to_csv(series: &[ExportSeries]) -> Result<String, ExportError> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let failed = |e: csv::Error| ExportError::Render(e.to_string());
    writer.write_record(["stage", "metric", "step", "value"]).map_err(failed)?;
    for s in series {
        for [step, value] in &s.points {
            writer.write_record([&s.stage, &s.metric, &step.to_string(), &value.to_string()]).map_err(failed)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| ExportError::Render(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// `{"title": …, "series": [{"stage", "metric", "points": [[step, value], …]}]}`.
pub fn to_json(title: &str, series: &[ExportSeries]) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        title: &'a str,
        series: &'a [ExportSeries],
    }
    serde_json::to_string_pretty(&Document { title, series }).unwrap_or_default()
}

/// Writes `<stem>.svg`, `<stem>.csv` and `<stem>.json` into `dir` (created if missing);
/// returns the files written. (The app adds `<stem>.png` from the screen's pixels.)
pub fn export_plot(
    dir: &Path,
    stem: &str,
    spec: &PlotSpec,
    series: &[ExportSeries],
) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|e| ExportError::io(dir, e))?;
    let files = [
        ("svg", spec.to_svg(900.0, 420.0).into_bytes()),
        ("csv", to_csv(series)?.into_bytes()),
        ("json", to_json(&spec.title, series).into_bytes()),
    ];
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

    #[test]
    fn csv_and_json_carry_every_point() {
        let series = vec![
            ExportSeries { stage: "teacher".into(), metric: "loss".into(), points: vec![[10.0, 0.5], [20.0, 0.25]] },
            ExportSeries { stage: "student".into(), metric: "loss".into(), points: vec![[10.0, 1.5]] },
        ];
        let csv = to_csv(&series).unwrap();
        assert_eq!(
            csv.lines().collect::<Vec<_>>(),
            ["stage,metric,step,value", "teacher,loss,10,0.5", "teacher,loss,20,0.25", "student,loss,10,1.5"]
        );
        let json: serde_json::Value = serde_json::from_str(&to_json("loss", &series)).unwrap();
        assert_eq!(json["series"][0]["points"][1][1], 0.25);
        assert_eq!(json["title"], "loss");
    }
}
