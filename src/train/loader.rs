//! Augmented training batches prepared on a thread of their own, one step ahead: while the
//! device trains on step k, the loader crops and flips step k + 1's images. A batch depends
//! only on its rows and its step (the draws are seeded by the stage's seed and the step), so
//! prefetched or not, a run is the same.

use crate::data::{Augment, Dataset};
use crossbeam_channel::{Receiver, Sender};
use std::thread::Scope;

/// One batch to prepare: its step and the training rows it holds.
type Job = (u64, Vec<usize>);

/// The loader: a worker thread and the batch it is preparing, if any.
pub struct BatchLoader {
    jobs: Sender<Job>,
    done: Receiver<(u64, Vec<f32>)>,
    /// The step and rows of the batch the worker is preparing.
    pending: Option<Job>,
}

impl BatchLoader {
    /// Starts the worker in `scope`; it ends when the loader is dropped.
    pub fn spawn<'scope, 'env: 'scope>(
        scope: &'scope Scope<'scope, 'env>,
        dataset: &'env Dataset,
        augment: Augment,
        seed: u64,
    ) -> BatchLoader {
        let (jobs, inbox) = crossbeam_channel::unbounded::<Job>();
        let (outbox, done) = crossbeam_channel::unbounded();
        // Padding is black: the standardised value of a zero pixel.
        let black = match (dataset.standardization.mean.first(), dataset.standardization.std.first()) {
            (Some(&mean), Some(&std)) if std > 0.0 => -mean / std,
            _ => 0.0,
        };
        scope.spawn(move || {
            for (step, rows) in inbox.iter() {
                let seed = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let batch = augment.batch(&dataset.train.features, &rows, dataset.shape, black, seed);
                if outbox.send((step, batch)).is_err() {
                    break;
                }
            }
        });
        BatchLoader { jobs, done, pending: None }
    }

    /// Starts preparing the batch of `step` (rows `rows`) while the caller trains.
    pub fn prefetch(&mut self, step: u64, rows: Vec<usize>) {
        if self.pending.is_none() && self.jobs.send((step, rows.clone())).is_ok() {
            self.pending = Some((step, rows));
        }
    }

    /// The augmented inputs of `step`: the prefetched batch when it is that one, else prepared
    /// now. `None` only if the worker has died.
    pub fn take(&mut self, step: u64, rows: &[usize]) -> Option<Vec<f32>> {
        if let Some((pending_step, pending_rows)) = self.pending.take() {
            let (_, batch) = self.done.recv().ok()?;
            if pending_step == step && pending_rows == rows {
                return Some(batch);
            }
        }
        self.jobs.send((step, rows.to_vec())).ok()?;
        self.done.recv().ok().map(|(_, batch)| batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{InputShape, Split, Standardization};

    fn dataset() -> Dataset {
        let shape = InputShape::Image { channels: 1, height: 4, width: 4 };
        let train = Split { features: (0..5 * 16).map(|v| v as f32).collect(), labels: vec![0, 1, 0, 1, 0] };
        Dataset {
            name: "tiny".into(),
            shape,
            class_names: vec!["a".into(), "b".into()],
            test: train.clone(),
            train,
            standardization: Standardization { mean: vec![2.0], std: vec![4.0] },
        }
    }

    /// A prefetched batch, a batch asked for without prefetching, and one whose prefetch was for
    /// other rows are all exactly what the augmentation gives for that step.
    #[test]
    fn prefetched_or_not_a_step_gets_its_own_batch() {
        let data = dataset();
        let augment = Augment { crop_padding: 1, flip: true };
        let expected = |step: u64, rows: &[usize]| {
            augment.batch(&data.train.features, rows, data.shape, -0.5, 9 ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15))
        };
        std::thread::scope(|scope| {
            let mut loader = BatchLoader::spawn(scope, &data, augment, 9);
            loader.prefetch(3, vec![4, 1]);
            assert_eq!(loader.take(3, &[4, 1]), Some(expected(3, &[4, 1])));
            assert_eq!(loader.take(4, &[0, 2]), Some(expected(4, &[0, 2])));
            loader.prefetch(5, vec![3]);
            assert_eq!(loader.take(5, &[2]), Some(expected(5, &[2])), "a stale prefetch is not used");
        });
    }
}
