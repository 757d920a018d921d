//! Turning long metric series into what a plot should draw: TensorBoard's debiased exponential
//! moving average for smoothing, and min–max decimation so hours of history cost no more to draw
//! than the plot has pixel columns.

/// TensorBoard's smoothing: an exponential moving average with weight `weight` in [0, 1),
/// divided by `1 - weight^n` so the first points are not pulled towards zero.
pub fn debiased_ema(points: &[[f64; 2]], weight: f64) -> Vec<[f64; 2]> {
    SmoothedSeries::default().update(points, weight).to_vec()
}

/// One growing series as a plot draws it: smoothed, and indexed for decimation. Both are
/// extended by the points that arrived since the last frame instead of recomputed from the
/// first point, so a frame's work does not grow with the length of the history.
#[derive(Debug, Clone, Default)]
pub(crate) struct SmoothedSeries {
    weight: f64,
    last: f64,
    /// `weight^n` after n points.
    decay: f64,
    points: Vec<[f64; 2]>,
    pyramid: MinMaxPyramid,
    /// The last decimation and what it was asked for (length, x range, columns): a finished
    /// stage's curve is the same frame after frame.
    drawn: Option<(DecimationRequest, Vec<[f64; 2]>)>,
}

/// Points, x range (as bits) and columns of a decimation.
type DecimationRequest = (usize, [u64; 2], usize);

impl SmoothedSeries {
    /// `source` smoothed with `weight` (0 leaves it as it is). Starts over when the weight
    /// changed or `source` is not the series seen before (it got shorter).
    pub(crate) fn update(&mut self, source: &[[f64; 2]], weight: f64) -> &[[f64; 2]] {
        self.update_after(&[], source, weight)
    }

    /// [`SmoothedSeries::update`] of a series that goes on from `prefix` (a fork's from its
    /// parent's points before the fork): the average runs through `prefix` first, so the line
    /// continues its parent's instead of starting over. `prefix` is read only when starting over.
    pub(crate) fn update_after(&mut self, prefix: &[[f64; 2]], source: &[[f64; 2]], weight: f64) -> &[[f64; 2]] {
        let weight = weight.clamp(0.0, 0.999);
        if weight != self.weight || source.len() < self.points.len() || self.points.is_empty() {
            *self =
                SmoothedSeries { weight, decay: 1.0, points: Vec::with_capacity(source.len()), ..Default::default() };
            for &[_, y] in prefix {
                self.last = self.last * weight + (1.0 - weight) * y;
                self.decay *= weight;
            }
        }
        for &[x, y] in &source[self.points.len()..] {
            self.last = self.last * weight + (1.0 - weight) * y;
            self.decay *= weight;
            self.points.push([x, self.last / (1.0 - self.decay)]);
        }
        self.pyramid.extend(&self.points);
        &self.points
    }

    /// Every smoothed point.
    pub(crate) fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    /// The smoothed points to draw for the x range `x` (`None`: all of it) on `columns` pixel
    /// columns.
    pub(crate) fn decimated(&mut self, x: Option<std::ops::RangeInclusive<f64>>, columns: usize) -> Vec<[f64; 2]> {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else { return Vec::new() };
        let (x_min, x_max) = x.map_or((first[0], last[0]), |x| (*x.start(), *x.end()));
        let asked = (self.points.len(), [x_min.to_bits(), x_max.to_bits()], columns);
        match &self.drawn {
            Some((previous, drawn)) if *previous == asked => drawn.clone(),
            _ => {
                let drawn = decimate(&self.points, &self.pyramid, x_min, x_max, columns);
                self.drawn = Some((asked, drawn.clone()));
                drawn
            }
        }
    }
}

/// Per-block minimum and maximum of a growing series, so the extremes of any index range are
/// found in O(log n) rather than by scanning it: level `k` holds, for each complete block of
/// `2^(k+1)` points, the indices of its lowest and its highest point.
#[derive(Debug, Clone, Default)]
pub(crate) struct MinMaxPyramid {
    len: usize,
    levels: Vec<Vec<[u32; 2]>>,
}

impl MinMaxPyramid {
    /// Takes in the points of `points` beyond those seen before (a shorter series starts over).
    pub(crate) fn extend(&mut self, points: &[[f64; 2]]) {
        if points.len() < self.len {
            *self = MinMaxPyramid::default();
        }
        for index in self.len..points.len() {
            self.len = index + 1;
            let mut level = 0;
            // Each block this point completes merges the two halves below it.
            while self.len.is_multiple_of(2 << level) {
                let block = index >> (level + 1);
                let halves = if level == 0 {
                    [[2 * block as u32; 2], [2 * block as u32 + 1; 2]]
                } else {
                    [self.levels[level - 1][2 * block], self.levels[level - 1][2 * block + 1]]
                };
                let merged = merge(points, halves[0], halves[1]);
                if self.levels.len() == level {
                    self.levels.push(Vec::new());
                }
                self.levels[level].push(merged);
                level += 1;
            }
        }
    }

    /// Indices of the lowest and the highest point in `start..end` (`start < end <= len`).
    fn extremes(&self, points: &[[f64; 2]], start: usize, end: usize) -> [u32; 2] {
        let mut found = [start as u32; 2];
        let mut index = start;
        while index < end {
            // The largest complete block that starts here and ends inside the range.
            let mut level = 0;
            while level < self.levels.len() && index.is_multiple_of(2 << level) && index + (2 << level) <= end {
                level += 1;
            }
            let block = if level == 0 { [index as u32; 2] } else { self.levels[level - 1][index >> level] };
            found = merge(points, found, block);
            index += 1 << level;
        }
        found
    }
}

fn merge(points: &[[f64; 2]], a: [u32; 2], b: [u32; 2]) -> [u32; 2] {
    let y = |i: u32| points[i as usize][1];
    [if y(b[0]) < y(a[0]) { b[0] } else { a[0] }, if y(b[1]) > y(a[1]) { b[1] } else { a[1] }]
}

/// Cuts the points with x in `[x_min, x_max]` into at most `2 · columns` aligned blocks of a
/// power-of-two number of points and keeps each block's lowest and highest point, in x order; of the points outside the range only the nearest one on each side is kept, so
/// lines still run to the edges. With evenly spaced steps a block spans at most one pixel
/// column, so every column's extremes are drawn. `pyramid` must hold `points`. The cost grows
/// with `columns`, not with the length of the series; series already short enough are
/// returned as they are.
pub(crate) fn decimate(
    points: &[[f64; 2]],
    pyramid: &MinMaxPyramid,
    x_min: f64,
    x_max: f64,
    columns: usize,
) -> Vec<[f64; 2]> {
    let start = points.partition_point(|p| p[0] < x_min);
    let end = points.partition_point(|p| p[0] <= x_max).max(start);
    let blocks = 2 * columns.max(1);
    let with_neighbours = start.saturating_sub(1)..(end + 1).min(points.len());
    if end - start <= 2 * blocks || pyramid.len != points.len() {
        return points[with_neighbours].to_vec();
    }
    let size = block_size(end - start, blocks);
    let mut out = Vec::with_capacity(2 * blocks + 6);
    if start > 0 {
        out.push(points[start - 1]);
    }
    let mut first = start;
    while first < end {
        let last = ((first / size + 1) * size).min(end);
        let [low, high] = pyramid.extremes(points, first, last).map(|i| i as usize);
        out.push(points[low.min(high)]);
        if low != high {
            out.push(points[low.max(high)]);
        }
        first = last;
    }
    if end < points.len() {
        out.push(points[end]);
    }
    out
}

/// The smallest power of two that cuts `len` points into at most `blocks` blocks, plus the
/// partial ones at either end.
fn block_size(len: usize, blocks: usize) -> usize {
    let mut size = 1;
    while len / size > blocks {
        size *= 2;
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_is_debiased_and_zero_weight_is_identity() {
        let points = [[0.0, 10.0], [1.0, 10.0], [2.0, 10.0]];
        assert!(debiased_ema(&points, 0.9).iter().all(|p| (p[1] - 10.0).abs() < 1e-9));
        assert_eq!(debiased_ema(&points, 0.0), points.to_vec());
        let ramp = [[0.0, 1.0], [1.0, 5.0], [2.0, -3.0]];
        assert_eq!(debiased_ema(&ramp, 0.0), ramp.to_vec());
        let step = [[0.0, 0.0], [1.0, 1.0]];
        let smoothed = debiased_ema(&step, 0.5);
        assert!((smoothed[1][1] - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn smoothing_a_growing_series_in_pieces_matches_smoothing_it_whole() {
        let points: Vec<[f64; 2]> = (0..1000).map(|i| [i as f64, ((i * 37) % 101) as f64]).collect();
        let whole = debiased_ema(&points, 0.9);
        let mut growing = SmoothedSeries::default();
        for end in [1, 10, 500, 999, 1000] {
            assert_eq!(growing.update(&points[..end], 0.9), &whole[..end]);
        }
        // A new weight, or a series that is not the one seen before, starts over.
        assert_eq!(growing.update(&points, 0.5), debiased_ema(&points, 0.5).as_slice());
        assert_eq!(growing.update(&points[..3], 0.5), &debiased_ema(&points, 0.5)[..3]);
    }

    /// A fork's line goes on from its parent's: smoothing after a prefix is the tail of
    /// smoothing the two together.
    #[test]
    fn a_series_smoothed_after_a_prefix_continues_it() {
        let points: Vec<[f64; 2]> = (0..60).map(|i| [i as f64, ((i * 13) % 17) as f64]).collect();
        let (prefix, rest) = points.split_at(25);
        let whole = debiased_ema(&points, 0.8);
        let mut continued = SmoothedSeries::default();
        let tail = continued.update_after(prefix, rest, 0.8);
        assert_eq!(tail.len(), rest.len());
        for (a, b) in tail.iter().zip(&whole[25..]) {
            assert!(a[0] == b[0] && (a[1] - b[1]).abs() < 1e-12, "{a:?} {b:?}");
        }
    }

    fn pyramid_of(points: &[[f64; 2]]) -> MinMaxPyramid {
        let mut pyramid = MinMaxPyramid::default();
        pyramid.extend(points);
        pyramid
    }

    /// The extremes of each aligned block of `size` points, found by scanning them.
    fn block_extremes(points: &[[f64; 2]], start: usize, end: usize, size: usize) -> Vec<[f64; 2]> {
        let mut found = Vec::new();
        let mut first = start;
        while first < end {
            let last = ((first / size + 1) * size).min(end);
            let ys = points[first..last].iter().map(|p| p[1]);
            found.push([ys.clone().fold(f64::MAX, f64::min), ys.fold(f64::MIN, f64::max)]);
            first = last;
        }
        found
    }

    #[test]
    fn decimation_keeps_every_blocks_extremes_and_bounds_size() {
        let points: Vec<[f64; 2]> = (0..100_000).map(|i| [i as f64, ((i * 7919) % 1000) as f64]).collect();
        let pyramid = pyramid_of(&points);
        for (x_min, x_max, columns) in [(0.0, 99_999.0, 500), (12_345.5, 23_456.0, 333), (-50.0, 99_999.0, 7)] {
            let drawn = decimate(&points, &pyramid, x_min, x_max, columns);
            assert!(drawn.len() <= 2 * (2 * columns + 2) + 2, "{} points", drawn.len());
            assert!(drawn.windows(2).all(|w| w[0][0] < w[1][0]));
            let start = points.partition_point(|p| p[0] < x_min);
            let end = points.partition_point(|p| p[0] <= x_max);
            let size = block_size(end - start, 2 * columns);
            assert!((end - start) / size <= 2 * columns && (end - start) / (size / 2).max(1) > 2 * columns);
            for ([low, high], block) in block_extremes(&points, start, end, size).into_iter().zip(start / size..) {
                let (from, to) = ((block * size) as f64, ((block + 1) * size) as f64);
                let kept = drawn.iter().filter(|p| p[0] >= from && p[0] < to).map(|p| p[1]);
                assert!(kept.clone().any(|y| y == low) && kept.clone().any(|y| y == high), "block {block}");
            }
        }
        let short = [[0.0, 1.0], [1.0, 2.0]];
        assert_eq!(decimate(&short, &pyramid_of(&short), 0.0, 1.0, 500), short.to_vec());
    }

    #[test]
    fn a_pyramid_grown_in_pieces_finds_the_same_extremes() {
        let points: Vec<[f64; 2]> = (0..5_000).map(|i| [i as f64, ((i * 37 + 11) % 997) as f64]).collect();
        let mut grown = MinMaxPyramid::default();
        for end in [1, 2, 3, 64, 65, 1000, 4097, 5000] {
            grown.extend(&points[..end]);
        }
        let whole = pyramid_of(&points);
        for (start, end) in [(0, 5000), (1, 2), (3, 4096), (17, 4999), (4096, 5000)] {
            let [low, high] = grown.extremes(&points, start, end);
            assert_eq!([low, high], whole.extremes(&points, start, end));
            let slice = &points[start..end];
            assert_eq!(points[low as usize][1], slice.iter().map(|p| p[1]).fold(f64::MAX, f64::min));
            assert_eq!(points[high as usize][1], slice.iter().map(|p| p[1]).fold(f64::MIN, f64::max));
        }
    }
}
