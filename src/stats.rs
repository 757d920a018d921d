//! The two statistics every comparison here reports: the mean and the sample standard
//! deviation (n − 1, as papers report spread over seeds).

/// The mean; NaN for no values.
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() { f64::NAN } else { values.iter().sum::<f64>() / values.len() as f64 }
}

/// The sample standard deviation; 0 for fewer than two values.
pub(crate) fn sample_std(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

/// Several `(step, value)` series folded into their mean at each step they reach and a ±1 std
/// band `[step, mean − std, mean + std]`, in step order.
pub(crate) fn mean_band(series: impl IntoIterator<Item = (u64, f64)>) -> (Vec<[f64; 2]>, Vec<[f64; 3]>) {
    let mut by_step: std::collections::BTreeMap<u64, Vec<f64>> = std::collections::BTreeMap::new();
    for (step, value) in series {
        by_step.entry(step).or_default().push(value);
    }
    by_step
        .iter()
        .map(|(&step, values)| {
            let (m, s) = (mean(values), sample_std(values));
            ([step as f64, m], [step as f64, m - s, m + s])
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        assert_eq!(mean(&[1.0, 2.0, 3.0]), 2.0);
        assert!((sample_std(&[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
        assert_eq!(sample_std(&[5.0]), 0.0);
        assert!(mean(&[]).is_nan());
        let (points, band) = mean_band([(10, 1.0), (20, 4.0), (10, 3.0)]);
        assert_eq!(points, vec![[10.0, 2.0], [20.0, 4.0]]);
        assert!((band[0][2] - (2.0 + 2f64.sqrt())).abs() < 1e-12 && band[1] == [20.0, 4.0, 4.0]);
    }
}
