//! A validated preset turned into what the engine runs: stages with their teacher as an index,
//! their merged training settings, hyperparameters and seeds.

use super::methods::{Hypers, Method};
use crate::data::{Augment, Dataset, InputShape, balanced_subset};
use crate::hash::Fnv64;
use crate::model::ModelSpec;
use crate::preset::{Preset, SteeringSection, TrainSettings};
use crate::protocol::{Steer, SteerAction};

/// One stage, ready to run.
#[derive(Debug, Clone, PartialEq)]
pub struct StagePlan {
    pub name: String,
    /// The key of the `[models.*]` table.
    pub(crate) model_name: String,
    pub(crate) model: ModelSpec,
    pub(crate) method: Method,
    /// Index of the teacher stage.
    pub(crate) teacher: Option<usize>,
    pub(crate) hypers: Hypers,
    pub(crate) settings: TrainSettings,
    /// Seed of this stage's initialisation and shuffling.
    pub(crate) seed: u64,
    /// Seed of a text stage's windows: from the run seed and the model's name, so the stages
    /// that train one model (the students of `lm_divergences`) see the same windows at each step
    /// — their differences are the methods', and their teacher's logits on a batch are computed
    /// once for all of them ([`crate::train::teacher_logits`]).
    pub(crate) batch_seed: u64,
    /// Whether a later stage learns from this one (and so its model is worth caching).
    pub(crate) is_teacher: bool,
    /// Whether the stage goes on past its epochs until stopped.
    pub(crate) keep_training: bool,
    /// How training batches are augmented (`None`: not at all).
    pub(crate) augment: Option<Augment>,
    /// Classes whose training examples this stage never sees (Hinton's omitted class).
    pub(crate) exclude_classes: Vec<u32>,
    /// How many training examples the stage learns from (`None`: all it does not exclude).
    pub(crate) train_examples: Option<usize>,
    /// Seed of the subset `train_examples` picks (the data seed: one subset for every stage).
    pub(crate) subset_seed: u64,
}

impl StagePlan {
    /// The training rows this stage learns from: those of classes it does not exclude, cut to
    /// a class-balanced `train_examples` of them. Text has a row per window an epoch draws (as
    /// many as tile the training text once; each is a random window of it).
    pub(crate) fn training_rows(&self, dataset: &Dataset) -> Vec<usize> {
        if let InputShape::Text { context } = dataset.shape {
            return (0..super::text::windows_per_epoch(dataset, context)).collect();
        }
        let labels = &dataset.train.labels;
        let rows: Vec<usize> = (0..labels.len()).filter(|&row| !self.exclude_classes.contains(&labels[row])).collect();
        match self.train_examples {
            Some(count) if count < rows.len() => balanced_subset(&rows, labels, count, self.subset_seed),
            _ => rows,
        }
    }
}

/// Averaged predictions of several stages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EnsemblePlan {
    pub(crate) name: String,
    pub(crate) members: Vec<usize>,
}

/// Everything a run does, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The fully resolved preset (written out as `config.toml`).
    pub preset: Preset,
    pub stages: Vec<StagePlan>,
    pub(crate) ensembles: Vec<EnsemblePlan>,
    /// The preset's `[[steering]]`, replayed at the steps it names.
    pub steering: Vec<Steer>,
}

impl Plan {
    /// Builds the plan of a preset that passed [`Preset::validate`].
    pub fn new(preset: Preset) -> Plan {
        let index_of = |name: &str| preset.stages.iter().position(|s| s.name == name);
        let stages: Vec<StagePlan> = preset
            .stages
            .iter()
            .map(|stage| StagePlan {
                name: stage.name.clone(),
                model_name: stage.model.clone(),
                model: preset.models[&stage.model].clone(),
                method: stage.method,
                teacher: stage.teacher.as_deref().and_then(index_of),
                hypers: starting_hypers(&preset.steering, &stage.name, || {
                    Hypers::resolve(stage.method.spec().hypers, |name| stage.hyper(name))
                }),
                settings: stage.settings(&preset.train),
                seed: stage_seed(preset.train_seed(), &stage.name),
                batch_seed: stage_seed(preset.train_seed(), &stage.model),
                is_teacher: preset.stages.iter().any(|s| s.teacher.as_deref() == Some(stage.name.as_str())),
                keep_training: stage.keep_training,
                augment: preset.data.augment.filter(Augment::is_active),
                exclude_classes: stage.exclude_classes.iter().flatten().map(|&c| c as u32).collect(),
                train_examples: stage.train_examples,
                subset_seed: preset.data.seed,
            })
            .collect();
        let ensembles = preset
            .ensembles
            .iter()
            .map(|e| EnsemblePlan {
                name: e.name.clone(),
                members: e.members.iter().filter_map(|m| index_of(m)).collect(),
            })
            .collect();
        let steering = preset.steering.iter().filter_map(|entry| entry.steer(index_of(&entry.stage)?)).collect();
        Plan { preset, stages, ensembles, steering }
    }

    /// Total optimizer steps of a stage's planned epochs over `train_examples` examples.
    pub fn steps_of(stage: &StagePlan, train_examples: usize) -> u64 {
        (stage.settings.epochs as u64).saturating_mul(Plan::steps_per_epoch(stage, train_examples))
    }

    /// Optimizer steps of one epoch of a stage.
    pub(crate) fn steps_per_epoch(stage: &StagePlan, train_examples: usize) -> u64 {
        train_examples.div_ceil(stage.settings.batch_size.max(1)) as u64
    }

    /// The plan for a run nobody can stop by hand (`kdlab run`, `kdlab report`): stages that
    /// would keep training until stopped end after their epochs instead, unless the steering
    /// stops them (a replayed run). Returns the names of the stages changed.
    pub fn headless(&mut self) -> Vec<String> {
        let stopped = |index: usize, steering: &[Steer]| {
            steering.iter().any(|s| s.stage == index && s.action == SteerAction::Stop)
        };
        let mut changed = Vec::new();
        for (index, stage) in self.stages.iter_mut().enumerate() {
            if stopped(index, &self.steering) {
                continue;
            }
            let kept = |s: &Steer| s.stage == index && matches!(s.action, SteerAction::KeepTraining(_));
            if stage.keep_training || self.steering.iter().any(kept) {
                stage.keep_training = false;
                self.steering.retain(|s| !kept(s));
                changed.push(stage.name.clone());
            }
        }
        changed
    }
}

/// A stage's hyperparameters: as `written`, except that a parameter the steering sets starts
/// at the `from` of its first `set` (a fork's config.toml: the stage's own values are those the
/// fork started with).
fn starting_hypers(steering: &[SteeringSection], stage: &str, written: impl FnOnce() -> Hypers) -> Hypers {
    let mut hypers = written();
    let mut seen: Vec<&str> = Vec::new();
    for entry in steering.iter().filter(|e| e.stage == stage) {
        let Some(name) = entry.set.as_deref() else { continue };
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        if let Some(from) = entry.from {
            hypers.set(name, from);
        }
    }
    hypers
}

/// A stage's seed from the run seed and its name, so the same stage in two presets (a teacher
/// shared by kd.toml and ta.toml) starts from the same weights and can share a cache entry.
fn stage_seed(seed: u64, name: &str) -> u64 {
    let mut hash = Fnv64::new();
    hash.write_u64(seed);
    hash.write(name.as_bytes());
    hash.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The students of `lm_divergences` train one model, so they draw the same windows at each
    /// step (and can share the teacher's logits on them) while starting from their own weights;
    /// the teacher, named like its model, keeps the windows it was cached with.
    #[test]
    fn stages_training_one_model_share_their_text_windows() {
        let source = crate::presets::bundled("lm_divergences").map(|p| p.source());
        let preset = source.map(|s| s.load(&[]));
        let Some(Ok(preset)) = preset else { panic!("lm_divergences loads: {preset:?}") };
        let plan = Plan::new(preset);
        let students: Vec<&StagePlan> = plan.stages.iter().filter(|s| s.model_name == "student").collect();
        assert_eq!(students.len(), 5);
        assert!(students.iter().all(|s| s.batch_seed == students[0].batch_seed));
        assert!(students.windows(2).all(|pair| pair[0].seed != pair[1].seed), "each its own initialisation");
        let teacher = &plan.stages[0];
        assert_eq!(teacher.batch_seed, teacher.seed);
        assert_ne!(teacher.batch_seed, students[0].batch_seed);
    }
}
