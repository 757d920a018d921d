//! Augmented training batches. On a native engine they are prepared on a thread of their own,
//! one step ahead: while the device trains on step k, the loader crops and flips step k + 1's
//! images. A host without threads (a browser frame) prepares each batch when it is due. A
//! batch depends only on its rows and its step (the draws are seeded by the stage's seed and
//! the step), so prefetched or not, a run is the same.

use crate::data::{Augment, Dataset};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;

/// One batch to prepare: its step and the training rows it holds.
type Job = (u64, Vec<usize>);

/// Where augmented batches are prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Prefetch {
    /// On a worker thread, one step ahead.
    #[default]
    Worker,
    /// When the step asks for it, on the caller's thread.
    Inline,
}

/// Prepares the augmented batches of one stage.
pub(crate) struct BatchLoader {
    recipe: Recipe,
    /// The worker, when batches are prefetched on one.
    worker: Option<Worker>,
}

/// What a batch is made from.
#[derive(Clone)]
struct Recipe {
    dataset: Arc<Dataset>,
    augment: Augment,
    seed: u64,
    /// Padding is black: the standardised value of a zero pixel.
    black: f32,
}

impl Recipe {
    fn batch(&self, step: u64, rows: &[usize]) -> Vec<f32> {
        let seed = self.seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let dataset = &self.dataset;
        self.augment.batch(&dataset.train.features, rows, dataset.shape, self.black, seed)
    }
}

/// A worker thread and the batch it is preparing, if any; the thread ends when this is dropped.
struct Worker {
    jobs: Sender<Job>,
    done: Receiver<(u64, Vec<f32>)>,
    /// The step and rows of the batch the worker is preparing.
    pending: Option<Job>,
}

impl Worker {
    fn spawn(recipe: Recipe) -> Option<Worker> {
        let (jobs, inbox) = crossbeam_channel::unbounded::<Job>();
        let (outbox, done) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new().name("kdlab-loader".into()).spawn(move || {
            for (step, rows) in inbox.iter() {
                if outbox.send((step, recipe.batch(step, &rows))).is_err() {
                    break;
                }
            }
        });
        thread.ok().map(|_| Worker { jobs, done, pending: None })
    }
}

impl BatchLoader {
    /// A loader of `dataset`'s batches augmented by `augment`, seeded by `seed`; with
    /// [`Prefetch::Worker`] (where a thread can be had) on a worker thread.
    pub(crate) fn new(dataset: Arc<Dataset>, augment: Augment, seed: u64, prefetch: Prefetch) -> BatchLoader {
        let black = match (dataset.standardization.mean.first(), dataset.standardization.std.first()) {
            (Some(&mean), Some(&std)) if std > 0.0 => -mean / std,
            _ => 0.0,
        };
        let recipe = Recipe { dataset, augment, seed, black };
        let worker = match prefetch {
            Prefetch::Worker => Worker::spawn(recipe.clone()),
            Prefetch::Inline => None,
        };
        BatchLoader { recipe, worker }
    }

    /// Starts preparing the batch of `step` (rows `rows`) while the caller trains (with a
    /// worker; otherwise nothing).
    pub(crate) fn prefetch(&mut self, step: u64, rows: Vec<usize>) {
        let Some(worker) = &mut self.worker else { return };
        if worker.pending.is_none() && worker.jobs.send((step, rows.clone())).is_ok() {
            worker.pending = Some((step, rows));
        }
    }

    /// The augmented inputs of `step`: the prefetched batch when it is that one, else prepared
    /// now.
    pub(crate) fn take(&mut self, step: u64, rows: &[usize]) -> Vec<f32> {
        if let Some(worker) = &mut self.worker
            && let Some((pending_step, pending_rows)) = worker.pending.take()
            && let Ok((_, batch)) = worker.done.recv()
            && pending_step == step
            && pending_rows == rows
        {
            return batch;
        }
        self.recipe.batch(step, rows)
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
            vocabulary: Vec::new(),
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
        for prefetch in [Prefetch::Worker, Prefetch::Inline] {
            let mut loader = BatchLoader::new(Arc::new(data.clone()), augment, 9, prefetch);
            loader.prefetch(3, vec![4, 1]);
            assert_eq!(loader.take(3, &[4, 1]), expected(3, &[4, 1]), "{prefetch:?}");
            assert_eq!(loader.take(4, &[0, 2]), expected(4, &[0, 2]), "{prefetch:?}");
            loader.prefetch(5, vec![3]);
            assert_eq!(loader.take(5, &[2]), expected(5, &[2]), "{prefetch:?}: a stale prefetch is not used");
        }
    }
}
