//! Frame-time statistics for the F12 overlay: how long the app's own per-frame work takes,
//! as percentiles over the last few seconds of frames.

use std::collections::VecDeque;
use std::time::Duration;

/// Frames kept for the percentiles.
const WINDOW: usize = 600;

/// A rolling window of frame times.
#[derive(Debug, Default, Clone)]
pub(crate) struct FrameStats {
    frames: VecDeque<f32>,
}

impl FrameStats {
    pub(crate) fn record(&mut self, duration: Duration) {
        if self.frames.len() == WINDOW {
            self.frames.pop_front();
        }
        self.frames.push_back(duration.as_secs_f32() * 1000.0);
    }

    /// The `q`-quantile (0..=1) in milliseconds, or `None` before any frame.
    pub(crate) fn percentile(&self, q: f32) -> Option<f32> {
        if self.frames.is_empty() {
            return None;
        }
        let mut sorted: Vec<f32> = self.frames.iter().copied().collect();
        sorted.sort_by(f32::total_cmp);
        let rank = ((sorted.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize;
        Some(sorted[rank])
    }

    pub(crate) fn len(&self) -> usize {
        self.frames.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_window() {
        let mut stats = FrameStats::default();
        for ms in 1..=100 {
            stats.record(Duration::from_millis(ms));
        }
        assert_eq!(stats.percentile(0.5), Some(51.0));
        assert_eq!(stats.percentile(0.99), Some(99.0));
        assert_eq!(stats.percentile(1.0), Some(100.0));
    }
}
