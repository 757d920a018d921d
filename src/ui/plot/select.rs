//! Which curves a plot draws: every series of the followed run, or with several runs visible
//! each run's headline metric per stage (a seed group folded into its mean and ±1 std band),
//! smoothed (a fork's line going on from its parent's) and decimated to the plot's width.

use super::{CurveSpec, series_key, stage_key};
use crate::ui::context::{OverlayRun, ViewContext};
use crate::ui::history::{RunHistory, StageHistory};

/// A run a curve stands for: its label, its seed and its raw points (borrowed: a frame never
/// copies a history).
pub(crate) struct Member<'a> {
    pub(crate) run: &'a str,
    pub(crate) seed: Option<u64>,
    pub(crate) raw: &'a [[f64; 2]],
}

/// One curve as drawn: where it comes from, the smoothed and decimated points in the plot's
/// coordinates, a ±1 std band for seed groups, and the raw points of each run it summarises.
pub(crate) struct Drawn<'a> {
    /// Legend name, also the hover's first line.
    pub(crate) name: String,
    pub(crate) stage: String,
    pub(crate) metric: String,
    /// The points in plot coordinates, and the step of each.
    pub(crate) points: Vec<[f64; 2]>,
    pub(crate) steps: Vec<f64>,
    pub(crate) band: Option<Vec<[f64; 3]>>,
    /// Each run the curve stands for (one, or a seed group's).
    pub(crate) members: Vec<Member<'a>>,
    pub(crate) steps_per_epoch: u64,
    /// Palette index, line style (0 solid, 1 dashed, 2 dotted, 3 long dashes) and the shape
    /// repeated along the line (0 none): with several runs, each stage of a run has a style and
    /// shape of its own (four styles, then the same with a shape).
    pub(crate) color: usize,
    pub(crate) dash: usize,
    pub(crate) shape: usize,
    /// For a fork's stage: the point (plot coordinates) where it branches off its parent.
    pub(crate) fork_point: Option<[f64; 2]>,
}

/// Whether the plots overlay several runs (each run's headline metric per stage) rather than
/// every series of the followed run.
pub(crate) fn overlaid(view: &ViewContext) -> bool {
    view.runs.iter().filter(|r| r.visible && r.history.is_some()).count() > 1
}

/// The runs a plot draws, a seed group once (its first member standing for it), with the
/// histories of the runs each stands for.
pub(crate) fn plotted_runs<'a>(view: &ViewContext<'a>) -> Vec<(OverlayRun<'a>, Vec<&'a RunHistory>)> {
    let visible: Vec<OverlayRun> = view.runs.iter().copied().filter(|r| r.visible && r.history.is_some()).collect();
    if !overlaid(view) {
        return view.followed().and_then(|r| Some((r, vec![r.history?]))).into_iter().collect();
    }
    let mut plotted: Vec<(OverlayRun, Vec<&RunHistory>)> = Vec::new();
    for run in visible.iter().copied() {
        match run.group {
            Some(group) if plotted.iter().any(|(r, _)| r.group.is_some_and(|g| g.id == group.id)) => {}
            Some(group) => {
                let members =
                    visible.iter().filter(|r| r.group.is_some_and(|g| g.id == group.id)).filter_map(|r| r.history);
                plotted.push((run, members.collect()));
            }
            None => plotted.extend(run.history.map(|h| (run, vec![h]))),
        }
    }
    plotted
}

/// The name a run goes by in legends: its label, a seed group's name with how many of its runs
/// have data.
pub(crate) fn run_name(run: &OverlayRun, members: usize) -> String {
    match run.group {
        Some(group) => format!("{} (mean of {members} of {} seeds)", group.name, group.size),
        None => run.label.to_string(),
    }
}

/// The names of the plotted runs' stages, in the order they first appear: a stage's place is its
/// line style and shape when several runs are overlaid (the same name, the same style).
pub(crate) fn stage_order(view: &ViewContext) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (run, _) in plotted_runs(view) {
        for stage in run.history.map(|h| h.stages.as_slice()).unwrap_or_default() {
            if !names.contains(&stage.name) {
                names.push(stage.name.clone());
            }
        }
    }
    names
}

/// The line style and shape of the `index`-th stage: four styles, then each again with a shape.
pub(crate) fn stage_style(index: usize) -> (usize, usize) {
    (index % 4, index / 4 % 5)
}

/// The metrics a spec draws for a stage, headline first, in a fixed order; a metric's place
/// is its line style when one run is shown.
pub(crate) fn stage_metrics<'s>(spec: &CurveSpec, stage: &'s StageHistory) -> Vec<&'s str> {
    let mut metrics: Vec<&str> = stage.series.keys().map(String::as_str).filter(|m| (spec.shows)(m)).collect();
    metrics.sort_by_key(|m| (*m != spec.headline, *m));
    metrics
}

/// The curves of a plot: every shown series of the followed run; with several visible runs,
/// each visible run's headline metric per stage, a seed group folded into its mean with a
/// ±1 std band. `x` is the visible x range (plot coordinates) when zoomed.
pub(crate) fn drawn_series<'a>(
    view: &mut ViewContext<'a>,
    spec: &CurveSpec,
    x: Option<std::ops::RangeInclusive<f64>>,
    columns: usize,
) -> Vec<Drawn<'a>> {
    let (smoothing, axis) = (spec.smoothing(view), view.settings.x_axis);
    let log_y = spec.log_allowed && view.settings.log_loss;
    let overlay = overlaid(view);
    let stage_names = stage_order(view);
    let mut drawn = Vec::new();
    for (run, members) in plotted_runs(view) {
        let Some(history) = members.first() else { continue };
        let prefix = if overlay { format!("{} · ", run_name(&run, members.len())) } else { String::new() };
        for (stage_index, stage) in history.stages.iter().enumerate() {
            if view.selection.hidden.contains(&stage_key(&stage.name)) {
                continue;
            }
            let metrics = stage_metrics(spec, stage);
            for (rank, metric) in metrics.iter().enumerate() {
                let key = series_key(&stage.name, metric);
                if (overlay && *metric != spec.headline) || (!overlay && view.selection.hidden.contains(&key)) {
                    continue;
                }
                let steps = x.clone().map(|r| axis.step_of(stage, *r.start())..=axis.step_of(stage, *r.end()));
                let curve = smoothed_curve(view, &run, &members, stage_index, metric, steps, columns, smoothing);
                let Some((points, band, raws)) = curve else { continue };
                let to_plot = |p: [f64; 2]| [axis.x_of(stage, p[0]), if log_y { log10(p[1]) } else { p[1] }];
                let band = band.map(|b| {
                    b.into_iter()
                        .map(|[s, low, high]| {
                            let [x, low] = to_plot([s, low]);
                            [x, low, if log_y { log10(high) } else { high }]
                        })
                        .collect()
                });
                let (color, (dash, shape)) = match overlay {
                    true => (run.color, stage_style(stage_names.iter().position(|n| *n == stage.name).unwrap_or(0))),
                    false => (stage_index, (rank, 0)),
                };
                let fork = history.info.as_ref().and_then(|i| i.fork).filter(|f| f.stage == stage_index);
                // Where the fork's curve starts: at the fork step (a loss, measured over steps,
                // starts at its first report after it).
                let fork_point = fork.and_then(|f| {
                    let raw = raws.first()?.raw.first().copied().filter(|p| p[0] >= f.step as f64)?;
                    Some(to_plot(raw)).filter(|p| p[1].is_finite())
                });
                drawn.push(Drawn {
                    name: format!("{prefix}{} · {metric}", stage.name),
                    stage: stage.name.clone(),
                    metric: metric.to_string(),
                    steps: points.iter().map(|p| p[0]).collect(),
                    points: points.into_iter().map(to_plot).filter(|p| p[1].is_finite()).collect(),
                    band,
                    members: raws,
                    steps_per_epoch: stage.steps_per_epoch(),
                    color,
                    dash,
                    shape,
                    fork_point,
                });
            }
        }
    }
    drawn
}

fn log10(value: f64) -> f64 {
    if value > 0.0 { value.log10() } else { f64::NAN }
}

/// What a curve draws in step coordinates: its points, a band for a group, and each member.
type Curve<'a> = (Vec<[f64; 2]>, Option<Vec<[f64; 3]>>, Vec<Member<'a>>);

/// The smoothed, decimated points of one metric of one stage: of the run, or the mean ± std of a
/// seed group's members.
#[allow(clippy::too_many_arguments)]
fn smoothed_curve<'a>(
    view: &mut ViewContext<'a>,
    run: &OverlayRun<'a>,
    members: &[&RunHistory],
    stage: usize,
    metric: &str,
    steps: Option<std::ops::RangeInclusive<f64>>,
    columns: usize,
    smoothing: f64,
) -> Option<Curve<'a>> {
    let member_runs: Vec<OverlayRun<'a>> = match run.group {
        Some(group) => {
            view.runs.iter().copied().filter(|r| r.visible && r.group.is_some_and(|g| g.id == group.id)).collect()
        }
        None => vec![*run],
    };
    let mut curves = Vec::new();
    let mut raws = Vec::new();
    for member in member_runs {
        let Some(points) = member.history.and_then(|h| h.stages.get(stage)).and_then(|s| s.series.get(metric)) else {
            continue;
        };
        raws.push(Member { run: member.label, seed: member.seed(), raw: points });
        let prefix = parent_prefix(&member, stage, metric, points.first().map_or(0.0, |p| p[0]));
        let series = view.selection.smoothed.entry((member.index, stage, metric.to_string())).or_default();
        series.update_after(prefix, points, smoothing);
        curves.push(if members.len() > 1 {
            series.points().to_vec()
        } else {
            series.decimated(steps.clone(), columns)
        });
    }
    if curves.is_empty() {
        return None;
    }
    let (points, band) = if curves.len() > 1 { mean_and_band(&curves, columns) } else { (curves.pop()?, None) };
    Some((points, band, raws))
}

/// For a fork's stage: its parent's points before the fork's first one (`first`), so the fork's
/// smoothed line goes on from its parent's instead of starting over.
fn parent_prefix<'a>(member: &OverlayRun<'a>, stage: usize, metric: &str, first: f64) -> &'a [[f64; 2]] {
    let forked_here =
        member.history.and_then(|h| h.info.as_ref()).and_then(|i| i.fork).is_some_and(|f| f.stage == stage);
    let parent = member.parent_history.filter(|_| forked_here);
    let Some(points) = parent.and_then(|h| h.stages.get(stage)).and_then(|s| s.series.get(metric)) else {
        return &[];
    };
    &points[..points.partition_point(|p| p[0] < first)]
}

/// Mean over curves at each step they share, with a ±1 std band; thinned to about `columns`.
fn mean_and_band(curves: &[Vec<[f64; 2]>], columns: usize) -> (Vec<[f64; 2]>, Option<Vec<[f64; 3]>>) {
    let (points, band) = crate::stats::mean_band(curves.iter().flatten().map(|p| (p[0] as u64, p[1])));
    let stride = points.len().div_ceil(columns.max(1)).max(1);
    (points.into_iter().step_by(stride).collect(), Some(band.into_iter().step_by(stride).collect()))
}
