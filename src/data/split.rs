//! The deterministic stratified train/test split and feature standardisation.

use super::{InputShape, Split};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Splits examples so each class keeps the same share in both parts. Which examples go where
/// depends only on `seed`; both parts keep the original order of examples.
pub(crate) fn stratified_split(examples: &Split, example_len: usize, test_fraction: f64, seed: u64) -> (Split, Split) {
    let classes = examples.labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes];
    for (i, &label) in examples.labels.iter().enumerate() {
        by_class[label as usize].push(i);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut train = Vec::new();
    let mut test = Vec::new();
    for mut members in by_class {
        members.shuffle(&mut rng);
        let held_out = (members.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&members[..held_out]);
        train.extend_from_slice(&members[held_out..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (examples.select(&train, example_len), examples.select(&test, example_len))
}

/// A class-balanced subset of `count` of `rows` (in their original order): classes take turns,
/// each giving its next example in an order fixed by `seed`, so every stage over the same data
/// gets the same subset and a smaller subset lies inside a larger one.
pub(crate) fn balanced_subset(rows: &[usize], labels: &[u32], count: usize, seed: u64) -> Vec<usize> {
    let mut order = rows.to_vec();
    order.shuffle(&mut StdRng::seed_from_u64(seed));
    let mut taken_of_class: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    let mut turns: Vec<(usize, usize)> = order
        .iter()
        .map(|&row| {
            let taken = taken_of_class.entry(labels[row]).or_default();
            *taken += 1;
            (*taken, row)
        })
        .collect();
    // Stable: within a turn the shuffled order decides.
    turns.sort_by_key(|&(turn, _)| turn);
    let mut subset: Vec<usize> = turns.into_iter().take(count).map(|(_, row)| row).collect();
    subset.sort_unstable();
    subset
}

/// Feature means and standard deviations from the training split. Images share one mean and
/// one deviation over all pixels (per-pixel statistics would blow up constant border pixels);
/// flat features get one per column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Standardization {
    pub(crate) mean: Vec<f32>,
    pub(crate) std: Vec<f32>,
}

impl Standardization {
    /// Statistics of `features` (row-major examples of `shape`).
    pub(crate) fn fit(features: &[f32], shape: InputShape) -> Standardization {
        let columns = if shape.is_image() { 1 } else { shape.len().max(1) };
        let mut sum = vec![0f64; columns];
        let mut sum_sq = vec![0f64; columns];
        for (i, &v) in features.iter().enumerate() {
            let c = i % columns;
            sum[c] += f64::from(v);
            sum_sq[c] += f64::from(v) * f64::from(v);
        }
        let count = (features.len() / columns).max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / count).collect();
        let std = sum_sq
            .iter()
            .zip(&mean)
            .map(|(sq, m)| {
                let deviation = (sq / count - m * m).max(0.0).sqrt();
                if deviation > 1e-8 { deviation as f32 } else { 1.0 }
            })
            .collect();
        Standardization { mean: mean.iter().map(|&m| m as f32).collect(), std }
    }

    /// Standardises `features` in place.
    pub(crate) fn apply(&self, features: &mut [f32]) {
        let columns = self.mean.len();
        for (i, v) in features.iter_mut().enumerate() {
            let c = i % columns;
            *v = (*v - self.mean[c]) / self.std[c];
        }
    }

    /// Undoes [`apply`](Self::apply) for one example, e.g. to show an image as it was.
    pub(crate) fn invert(&self, features: &[f32]) -> Vec<f32> {
        let columns = self.mean.len();
        features.iter().enumerate().map(|(i, v)| v * self.std[i % columns] + self.mean[i % columns]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::balanced_subset;

    #[test]
    fn a_balanced_subset_takes_classes_in_turn_and_nests() {
        // Class 0 has 60 rows, class 1 has 30, class 2 has 10; rows 3 and 7 are left out.
        let labels: Vec<u32> = (0..100)
            .map(|i| {
                if i < 60 {
                    0
                } else if i < 90 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let rows: Vec<usize> = (0..100).filter(|&r| r != 3 && r != 7).collect();
        let count_of = |subset: &[usize], class: u32| subset.iter().filter(|&&r| labels[r] == class).count();

        let thirty = balanced_subset(&rows, &labels, 30, 5);
        assert_eq!(thirty.len(), 30);
        assert!(thirty.windows(2).all(|w| w[0] < w[1]), "original order, no repeats");
        assert!(thirty.iter().all(|r| rows.contains(r)), "only rows it was given");
        assert_eq!([count_of(&thirty, 0), count_of(&thirty, 1), count_of(&thirty, 2)], [10, 10, 10]);
        // Class 2 runs out at 10: the other classes share what is left in turn.
        let fifty = balanced_subset(&rows, &labels, 50, 5);
        assert_eq!([count_of(&fifty, 0), count_of(&fifty, 1), count_of(&fifty, 2)], [20, 20, 10]);
        assert!(thirty.iter().all(|r| fifty.contains(r)), "a smaller subset lies inside a larger one");
        assert_eq!(balanced_subset(&rows, &labels, 30, 5), thirty, "the seed decides");
        assert_ne!(balanced_subset(&rows, &labels, 30, 6), thirty);
    }
}
