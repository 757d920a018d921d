//! The learning rate of each optimizer step: a linear warm-up, then the stage's schedule
//! (constant, step decay at milestone epochs, or cosine annealing to zero at the last epoch), as
//! the papers' training scripts set it (RepDistiller decays by `gamma` when a milestone epoch
//! starts).

use crate::preset::{Schedule, TrainSettings};

/// The learning rate of step `step` (0-based) of a stage with `steps_per_epoch` steps an epoch.
/// Past the stage's epochs (keep training) the schedule holds where it ended.
pub(crate) fn learning_rate(settings: &TrainSettings, step: u64, steps_per_epoch: u64) -> f64 {
    let per_epoch = steps_per_epoch.max(1) as f64;
    let warmup_steps = (settings.warmup_epochs * per_epoch).ceil();
    if (step as f64) < warmup_steps {
        return settings.learning_rate * (step + 1) as f64 / warmup_steps;
    }
    let epoch = (step as f64 / per_epoch).min(settings.epochs as f64);
    let factor = match settings.schedule {
        Schedule::Constant => 1.0,
        Schedule::Step => {
            let started = (step / steps_per_epoch.max(1)) as usize;
            let passed = settings.milestones.iter().filter(|&&milestone| started >= milestone).count();
            settings.gamma.powi(i32::try_from(passed).unwrap_or(i32::MAX))
        }
        Schedule::Cosine => {
            let span = settings.epochs as f64 - settings.warmup_epochs;
            let progress = if span > 0.0 { ((epoch - settings.warmup_epochs) / span).clamp(0.0, 1.0) } else { 1.0 };
            0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
        }
    };
    settings.learning_rate * factor
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(schedule: Schedule) -> TrainSettings {
        TrainSettings { learning_rate: 0.05, epochs: 240, schedule, ..TrainSettings::default() }
    }

    #[test]
    fn step_decay_applies_when_each_milestone_epoch_starts() {
        let step = TrainSettings { milestones: vec![150, 180, 210], ..settings(Schedule::Step) };
        let at_epoch = |epoch: u64| learning_rate(&step, epoch * 10, 10);
        assert_eq!(at_epoch(0), 0.05);
        assert_eq!(learning_rate(&step, 1499, 10), 0.05, "the last step of epoch 149");
        assert!((at_epoch(150) - 0.005).abs() < 1e-12);
        assert!((at_epoch(180) - 0.0005).abs() < 1e-12);
        assert!((at_epoch(239) - 0.00005).abs() < 1e-12);
    }

    #[test]
    fn cosine_falls_from_the_rate_to_zero_at_the_last_epoch_and_stays() {
        let cosine = settings(Schedule::Cosine);
        assert_eq!(learning_rate(&cosine, 0, 10), 0.05);
        assert!((learning_rate(&cosine, 1200, 10) - 0.025).abs() < 1e-12, "half-way");
        assert!(learning_rate(&cosine, 2400, 10).abs() < 1e-12);
        assert!(learning_rate(&cosine, 5000, 10).abs() < 1e-12, "keep training holds the end");
        let falling = (0..2400).map(|s| learning_rate(&cosine, s, 10)).collect::<Vec<_>>();
        assert!(falling.windows(2).all(|w| w[1] <= w[0]));
    }

    #[test]
    fn warmup_ramps_linearly_then_the_schedule_starts_from_the_full_rate() {
        let warm = TrainSettings { warmup_epochs: 2.0, ..settings(Schedule::Cosine) };
        assert!((learning_rate(&warm, 0, 10) - 0.05 / 20.0).abs() < 1e-12);
        assert!((learning_rate(&warm, 9, 10) - 0.025).abs() < 1e-12);
        assert!((learning_rate(&warm, 19, 10) - 0.05).abs() < 1e-12);
        assert!((learning_rate(&warm, 20, 10) - 0.05).abs() < 1e-12, "cosine starts after the warm-up");
        assert_eq!(learning_rate(&settings(Schedule::Constant), 123_456, 10), 0.05);
    }
}
