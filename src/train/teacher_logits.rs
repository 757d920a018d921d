//! A frozen language-model teacher's logits on the training batches, kept for the later
//! students of the same run. A text stage's batch is a pure function of its batch seed (the run
//! seed and the model's name), its step and the batch's shape (see [`super::text::batch`]), so
//! the students of one model in one run — the
//! five of `lm_divergences`, a fork, a rerun in the app — ask the teacher about the very same
//! windows at each step. On the CPU the teacher's forward pass is most of a distillation step
//! (82 % of the `lm` workload's multiply-adds), so the first student pays for it and the others
//! read it back. Entries are plain host copies of exactly what the forward pass returned, so a
//! student trains bit for bit as it would without them. What all caches of the process hold
//! together is bounded ([`budget`]); past it, steps are computed as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes all caches of this process hold.
static HELD: AtomicU64 = AtomicU64::new(0);

/// The most all caches may hold: an eighth of the run's memory budget, at most 1 GiB.
fn budget() -> u64 {
    (crate::memory::budget() / 8).min(1 << 30)
}

/// What identifies a batch of the training text: the batch seed, the step, windows, context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct BatchKey {
    pub(crate) seed: u64,
    pub(crate) step: u64,
    pub(crate) windows: usize,
    pub(crate) context: usize,
}

/// One teacher's logits per batch, shared by every clone (the stages that distil from it).
#[derive(Clone, Default)]
pub(crate) struct TeacherLogits {
    entries: Arc<Mutex<Entries>>,
}

#[derive(Default)]
struct Entries {
    logits: HashMap<BatchKey, Arc<Vec<f32>>>,
    bytes: u64,
}

impl Drop for Entries {
    fn drop(&mut self) {
        HELD.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

impl TeacherLogits {
    /// The logits of `key`'s batch: kept ones, else `compute`'s, kept when the budget allows.
    pub(crate) fn get_or_compute(&self, key: BatchKey, compute: impl FnOnce() -> Vec<f32>) -> Arc<Vec<f32>> {
        if let Some(kept) = self.lock().logits.get(&key) {
            return Arc::clone(kept);
        }
        let logits = Arc::new(compute());
        let bytes = (logits.len() * std::mem::size_of::<f32>()) as u64;
        let reserved = HELD.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |held| {
            held.checked_add(bytes).filter(|&total| total <= budget())
        });
        if reserved.is_ok() {
            let mut entries = self.lock();
            entries.bytes += bytes;
            if let Some(replaced) = entries.logits.insert(key, Arc::clone(&logits)) {
                // Another stage computed the same batch meanwhile: give its bytes back.
                let size = (replaced.len() * std::mem::size_of::<f32>()) as u64;
                entries.bytes -= size;
                HELD.fetch_sub(size, Ordering::Relaxed);
            }
        }
        logits
    }

    /// Batches and bytes held.
    #[cfg(test)]
    fn held(&self) -> (usize, u64) {
        let entries = self.lock();
        (entries.logits.len(), entries.bytes)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // The entries stay consistent even if a holder panicked: every update is one insert.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(step: u64) -> BatchKey {
        BatchKey { seed: 1, step, windows: 2, context: 3 }
    }

    /// A batch is computed once and read back by every clone; another step or seed is its own
    /// entry.
    #[test]
    fn a_batch_is_computed_once_for_every_student() {
        let cache = TeacherLogits::default();
        let student = cache.clone();
        let mut computed = 0;
        let first = cache.get_or_compute(key(7), || {
            computed += 1;
            vec![1.0, 2.0]
        });
        let again = student.get_or_compute(key(7), || {
            computed += 1;
            vec![9.0]
        });
        assert_eq!((computed, first.as_slice(), again.as_slice()), (1, [1.0, 2.0].as_slice(), [1.0, 2.0].as_slice()));
        let other = student.get_or_compute(BatchKey { seed: 2, ..key(7) }, || vec![3.0]);
        assert_eq!(other.as_slice(), [3.0]);
        assert_eq!(cache.held(), (2, 12));
    }
}
