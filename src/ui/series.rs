//! Turning long metric series into what a plot should draw: TensorBoard's debiased exponential
//! moving average for smoothing, and min–max decimation so hours of history cost no more to draw
//! than the plot has pixel columns.

/// TensorBoard's smoothing: an exponential moving average with weight `weight` in [0, 1),
/// divided by `1 - weight^n` so the first points are not pulled towards zero.
pub fn debiased_ema(points: &[[f64; 2]], weight: f64) -> Vec<[f64; 2]> {
    if weight <= 0.0 {
        return points.to_vec();
    }
    let mut last = 0.0;
    let mut debias = 1.0;
    points
        .iter()
        .map(|&[x, y]| {
            last = last * weight + (1.0 - weight) * y;
            debias *= weight;
            [x, last / (1.0 - debias)]
        })
        .collect()
}

/// Keeps, for each of `columns` equal slices of `[x_min, x_max]`, the first point plus the
/// lowest and the highest one, in x order; points outside the range are dropped except the
/// nearest one on each side, so lines still run to the edges. Series already short enough are
/// returned as they are.
pub fn decimate(points: &[[f64; 2]], x_min: f64, x_max: f64, columns: usize) -> Vec<[f64; 2]> {
    if points.len() <= 3 * columns.max(1) || x_max <= x_min {
        return points.to_vec();
    }
    let width = (x_max - x_min) / columns as f64;
    let mut out = Vec::with_capacity(4 * columns);
    let start = points.partition_point(|p| p[0] < x_min);
    let end = points.partition_point(|p| p[0] <= x_max);
    if start > 0 {
        out.push(points[start - 1]);
    }
    let mut i = start;
    while i < end {
        let column = ((points[i][0] - x_min) / width).floor();
        let mut j = i;
        let (mut low, mut high) = (i, i);
        while j < end && ((points[j][0] - x_min) / width).floor() == column {
            if points[j][1] < points[low][1] {
                low = j;
            }
            if points[j][1] > points[high][1] {
                high = j;
            }
            j += 1;
        }
        let mut keep = [i, low, high, j - 1];
        keep.sort_unstable();
        let mut previous = usize::MAX;
        for k in keep {
            if k != previous {
                out.push(points[k]);
                previous = k;
            }
        }
        i = j;
    }
    if end < points.len() {
        out.push(points[end]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ema_is_debiased_and_zero_weight_is_identity() {
        let points = [[0.0, 10.0], [1.0, 10.0], [2.0, 10.0]];
        assert!(debiased_ema(&points, 0.9).iter().all(|p| (p[1] - 10.0).abs() < 1e-9));
        assert_eq!(debiased_ema(&points, 0.0), points.to_vec());
        let step = [[0.0, 0.0], [1.0, 1.0]];
        let smoothed = debiased_ema(&step, 0.5);
        assert!((smoothed[1][1] - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn decimation_keeps_extremes_and_bounds_size() {
        let points: Vec<[f64; 2]> = (0..100_000).map(|i| [i as f64, ((i * 7919) % 1000) as f64]).collect();
        let drawn = decimate(&points, 0.0, 99_999.0, 500);
        assert!(drawn.len() <= 4 * 500 + 2, "{} points", drawn.len());
        let max = drawn.iter().map(|p| p[1]).fold(f64::MIN, f64::max);
        let min = drawn.iter().map(|p| p[1]).fold(f64::MAX, f64::min);
        assert_eq!((min, max), (0.0, 999.0));
        assert!(drawn.windows(2).all(|w| w[0][0] < w[1][0]));
        let short = [[0.0, 1.0], [1.0, 2.0]];
        assert_eq!(decimate(&short, 0.0, 1.0, 500), short.to_vec());
    }
}
