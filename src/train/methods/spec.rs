//! What a method file declares: the method's name, paper and summary, what it needs from a
//! teacher and what trains beside the student, its hyperparameters, its checks, and its loss
//! of one step computed from [`StepInputs`]. Method files name this file only.

pub use super::hyper::Hypers;
pub use crate::protocol::hypers::{
    ALPHA, BETA, GAMMA, HyperSpec, JSD_BETA, MethodInfo, ON_POLICY, Parameter, SKEW, STANDARDIZE, Slider, TEMPERATURE,
    Valid,
};

use crate::data::InputShape;
use crate::distill;
use crate::model::{Forward, ModelSpec};
use crate::preset::TrainSettings;
pub use crate::train::trainee::Companions;
use crate::train::trainee::{Regressor, TraineeForward};
use burn::tensor::{Int, Tensor};

/// What a method needs from the stage it learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeacherUse {
    /// No teacher.
    None,
    /// The teacher's logits on each batch.
    Logits,
    /// The teacher's whole forward pass (embedding, feature maps) on each batch.
    Features,
}

/// Everything about one method.
pub struct MethodSpec {
    /// The preset's `method = "…"`.
    pub name: &'static str,
    /// What it does, one line.
    pub summary: &'static str,
    /// Where it comes from.
    pub paper: &'static str,
    pub(crate) teacher: TeacherUse,
    /// Whether it compares the teacher's and the student's feature maps (the probes keep them).
    pub uses_feature_maps: bool,
    /// Whether it trains language models on text (next-token losses) rather than classifiers.
    pub text: bool,
    pub(crate) companions: Companions,
    pub hypers: &'static [HyperSpec],
    /// Checks the stage's values against its training settings.
    pub(crate) check_stage: fn(&Hypers, &TrainSettings) -> Result<(), StageProblem>,
    /// Checks the student's model against its teacher's, with the data's shape when known:
    /// `Err(message)` about the stage's `teacher`.
    pub(crate) check_teacher: fn(&TeacherPair) -> Result<(), String>,
    /// The loss of one step.
    pub(crate) loss: fn(&StepInputs, &Hypers) -> StepLoss,
}

/// What is wrong with a stage: the key to change and why.
pub type StageProblem = (&'static str, String);

/// A student and the teacher it is to learn from, for [`MethodSpec::check_teacher`].
pub struct TeacherPair<'a> {
    pub(crate) student: &'a ModelSpec,
    pub(crate) teacher: &'a ModelSpec,
    pub(crate) teacher_name: &'a str,
    /// The data's shape, when known (feature map sizes depend on it).
    pub(crate) shape: Option<InputShape>,
}

/// For methods with nothing more to check about a stage.
pub fn any_stage(_: &Hypers, _: &TrainSettings) -> Result<(), StageProblem> {
    Ok(())
}

/// For methods that can learn from any teacher.
pub fn any_teacher(_: &TeacherPair) -> Result<(), String> {
    Ok(())
}

/// The loss of one step: the total that is minimised and its named terms.
pub struct StepLoss {
    pub(crate) total: Tensor<1>,
    /// `(metric name, unweighted value)` of each term, the same names at every step.
    pub(crate) terms: Vec<(&'static str, Tensor<1>)>,
}

impl StepLoss {
    /// A loss that is one term.
    pub(crate) fn single(name: &'static str, loss: Tensor<1>) -> StepLoss {
        StepLoss { total: loss.clone(), terms: vec![(name, loss)] }
    }
}

/// What one step's loss is computed from.
pub struct StepInputs<'a> {
    pub(crate) forward: &'a TraineeForward,
    pub(crate) regressor: Option<&'a Regressor>,
    /// The teacher's logits on the batch, for methods with a teacher.
    pub(crate) teacher_logits: Option<Tensor<2>>,
    /// The teacher's whole forward pass on the batch, for representation methods.
    pub(crate) teacher: Option<&'a Forward>,
    pub(crate) labels: Tensor<1, Int>,
    /// Epochs completed before this step, fractional (for warm-ups and FitNets' hint stage).
    pub(crate) progress: f64,
    /// Whether the batch is the student's own samples (a language model's on-policy step): its
    /// labels are the sampled characters, the prompt's positions [`distill::IGNORE_INDEX`].
    pub(crate) on_policy: bool,
}

impl StepInputs<'_> {
    /// The student's logits.
    pub(crate) fn logits(&self) -> Tensor<2> {
        self.forward.student.logits.clone()
    }

    pub(crate) fn labels(&self) -> Tensor<1, Int> {
        self.labels.clone()
    }

    /// Plain cross-entropy on the labels.
    pub(crate) fn cross_entropy(&self) -> StepLoss {
        StepLoss::single("loss_ce", distill::cross_entropy(self.logits(), self.labels()))
    }

    /// The student's and the teacher's logits as the distillation term sees them: standardized
    /// when the method's `standardize` switch is on. `None` without a teacher.
    pub(crate) fn distilled_logits(&self, hypers: &Hypers) -> Option<(Tensor<2>, Tensor<2>)> {
        let teacher = self.teacher_logits.clone()?;
        match hypers.on(STANDARDIZE.name) {
            true => Some((distill::standardize(self.logits()), distill::standardize(teacher))),
            false => Some((self.logits(), teacher)),
        }
    }

    /// `(1 − α)·CE + α·KD` with its terms (cross-entropy alone without a teacher); the
    /// cross-entropy is on the raw logits even when the KD term's are standardized.
    pub(crate) fn kd(&self, hypers: &Hypers) -> StepLoss {
        let Some((student, teacher)) = self.distilled_logits(hypers) else { return self.cross_entropy() };
        let terms = distill::KdTerms {
            hard: distill::cross_entropy(self.logits(), self.labels()),
            soft: distill::soft_target_kl(student, teacher, hypers.get(TEMPERATURE.name)),
        };
        kd_style(terms, hypers.get(ALPHA.name))
    }
}

/// A [`distill::KdTerms`] combined with weight `alpha`, reported as `loss_ce` and `loss_kd`.
pub fn kd_style(terms: distill::KdTerms, alpha: f64) -> StepLoss {
    StepLoss { total: terms.combine(alpha), terms: vec![("loss_ce", terms.hard), ("loss_kd", terms.soft)] }
}
