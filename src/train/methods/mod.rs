//! The training methods. Each file here declares one method: its name, paper and one-line
//! summary, what it needs from a teacher, what trains alongside the student, its
//! hyperparameters (default, valid values, whether the user steers it live, what it means),
//! its checks and its loss. [`METHODS`] registers them. Preset parsing and validation,
//! `kdlab presets`, `--set`, the app's sliders, the curves' markers and the run folders all
//! read these declarations: adding a method is one new file and one line below.

mod at;
mod ctkd;
mod dist;
mod dkd;
mod dml;
mod fitnets;
mod hyper;
mod kd;
mod label_smoothing;
mod nkd;
mod rkd;
mod scratch;
mod tfkd_reg;
mod tfkd_self;
mod ttm;
mod wttm;

pub use crate::protocol::hypers::{
    ALPHA, BETA, GAMMA, HyperSpec, MethodInfo, Parameter, STANDARDIZE, Slider, TEMPERATURE, Valid,
};
pub use hyper::Hypers;

use super::preset::TrainSettings;
use super::trainee::{Regressor, TraineeForward};
use crate::data::InputShape;
use crate::distill;
use crate::model::{Forward, ModelSpec};
use burn::tensor::{Int, Tensor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Every method, in the order `kdlab presets` lists them.
pub static METHODS: &[&MethodSpec] = &[
    &scratch::METHOD,
    &kd::METHOD,
    &label_smoothing::METHOD,
    &tfkd_self::METHOD,
    &tfkd_reg::METHOD,
    &rkd::METHOD,
    &at::METHOD,
    &fitnets::METHOD,
    &dml::METHOD,
    &dkd::METHOD,
    &dist::METHOD,
    &nkd::METHOD,
    &ttm::METHOD,
    &wttm::METHOD,
    &ctkd::METHOD,
];

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

/// What trains alongside the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Companions {
    None,
    /// A regressor from a student layer onto the teacher's (FitNets).
    Regressor,
    /// Peer networks of the student's architecture, as many as the `peers` hyperparameter says
    /// (the student included).
    Peers,
    /// A learnable temperature (CTKD), reported as the `temperature` metric.
    Temperature,
}

/// Everything about one method.
pub struct MethodSpec {
    /// The preset's `method = "…"`.
    pub name: &'static str,
    /// What it does, one line.
    pub summary: &'static str,
    /// Where it comes from.
    pub paper: &'static str,
    pub teacher: TeacherUse,
    /// Whether it compares the teacher's and the student's feature maps (the probes keep them).
    pub uses_feature_maps: bool,
    pub companions: Companions,
    pub hypers: &'static [HyperSpec],
    /// Checks the stage's values against its training settings.
    pub check_stage: fn(&Hypers, &TrainSettings) -> Result<(), StageProblem>,
    /// Checks the student's model against its teacher's, with the data's shape when known:
    /// `Err(message)` about the stage's `teacher`.
    pub check_teacher: fn(&TeacherPair) -> Result<(), String>,
    /// The loss of one step.
    pub loss: fn(&StepInputs, &Hypers) -> StepLoss,
}

/// What is wrong with a stage: the key to change and why.
pub type StageProblem = (&'static str, String);

/// A student and the teacher it is to learn from, for [`MethodSpec::check_teacher`].
pub struct TeacherPair<'a> {
    pub student: &'a ModelSpec,
    pub teacher: &'a ModelSpec,
    pub teacher_name: &'a str,
    /// The data's shape, when known (feature map sizes depend on it).
    pub shape: Option<InputShape>,
}

/// For methods with nothing more to check about a stage.
pub fn any_stage(_: &Hypers, _: &TrainSettings) -> Result<(), StageProblem> {
    Ok(())
}

/// For methods that can learn from any teacher.
pub fn any_teacher(_: &TeacherPair) -> Result<(), String> {
    Ok(())
}

/// A registered method. It travels through the engine and the run folders as itself and is
/// written as its name.
#[derive(Clone, Copy)]
pub struct Method(&'static MethodSpec);

impl Method {
    /// The method registered as `name`.
    pub fn named(name: &str) -> Option<Method> {
        METHODS.iter().find(|m| m.name == name).map(|m| Method(m))
    }

    /// Every registered method.
    pub fn all() -> impl Iterator<Item = Method> {
        METHODS.iter().map(|m| Method(m))
    }

    /// The method as front ends see it (the protocol's description: name and hyperparameters).
    pub fn info(self) -> MethodInfo {
        MethodInfo { name: self.0.name, hypers: self.0.hypers }
    }

    pub fn name(self) -> &'static str {
        self.0.name
    }

    pub fn spec(self) -> &'static MethodSpec {
        self.0
    }

    /// Whether the stage learns from an earlier stage's model.
    pub fn needs_teacher(self) -> bool {
        self.0.teacher != TeacherUse::None
    }

    /// Whether each step needs the teacher's features on the batch, not only its logits.
    pub fn needs_teacher_features(self) -> bool {
        self.0.teacher == TeacherUse::Features
    }

    /// The declaration of one of its hyperparameters.
    pub fn hyper(self, name: &str) -> Option<&'static HyperSpec> {
        self.0.hypers.iter().find(|h| h.name == name)
    }

    /// Its hyperparameters the user can steer while it trains.
    pub fn live(self) -> impl Iterator<Item = &'static HyperSpec> {
        self.0.hypers.iter().filter(|h| h.live.is_some())
    }

    /// The loss of one step.
    pub fn loss(self, inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
        (self.0.loss)(inputs, hypers)
    }
}

impl PartialEq for Method {
    fn eq(&self, other: &Method) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for Method {}

impl std::hash::Hash for Method {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name.hash(state);
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so width and alignment apply in tables.
        f.pad(self.0.name)
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.name)
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Method, D::Error> {
        let name = String::deserialize(deserializer)?;
        Method::named(&name).ok_or_else(|| {
            let names: Vec<String> = METHODS.iter().map(|m| format!("`{}`", m.name)).collect();
            serde::de::Error::custom(format!("unknown variant `{name}`, expected one of {}", names.join(", ")))
        })
    }
}

/// The loss of one step: the total that is minimised and its named terms.
pub struct StepLoss {
    pub total: Tensor<1>,
    /// `(metric name, unweighted value)` of each term, the same names at every step.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

impl StepLoss {
    /// A loss that is one term.
    pub fn single(name: &'static str, loss: Tensor<1>) -> StepLoss {
        StepLoss { total: loss.clone(), terms: vec![(name, loss)] }
    }
}

/// What one step's loss is computed from.
pub struct StepInputs<'a> {
    pub forward: &'a TraineeForward,
    pub regressor: Option<&'a Regressor>,
    /// The teacher's logits on the batch, for methods with a teacher.
    pub teacher_logits: Option<Tensor<2>>,
    /// The teacher's whole forward pass on the batch, for representation methods.
    pub teacher: Option<&'a Forward>,
    pub labels: Tensor<1, Int>,
    /// Epochs completed before this step, fractional (for warm-ups and FitNets' hint stage).
    pub progress: f64,
}

impl StepInputs<'_> {
    /// The student's logits.
    pub fn logits(&self) -> Tensor<2> {
        self.forward.student.logits.clone()
    }

    pub fn labels(&self) -> Tensor<1, Int> {
        self.labels.clone()
    }

    /// Plain cross-entropy on the labels.
    pub fn cross_entropy(&self) -> StepLoss {
        StepLoss::single("loss_ce", distill::cross_entropy(self.logits(), self.labels()))
    }

    /// The student's and the teacher's logits as the distillation term sees them: standardized
    /// when the method's `standardize` switch is on. `None` without a teacher.
    pub fn distilled_logits(&self, hypers: &Hypers) -> Option<(Tensor<2>, Tensor<2>)> {
        let teacher = self.teacher_logits.clone()?;
        match hypers.on(STANDARDIZE.name) {
            true => Some((distill::standardize(self.logits()), distill::standardize(teacher))),
            false => Some((self.logits(), teacher)),
        }
    }

    /// `(1 − α)·CE + α·KD` with its terms (cross-entropy alone without a teacher); the
    /// cross-entropy is on the raw logits even when the KD term's are standardized.
    pub fn kd(&self, hypers: &Hypers) -> StepLoss {
        let Some((student, teacher)) = self.distilled_logits(hypers) else { return self.cross_entropy() };
        let terms = distill::KdTerms {
            hard: distill::cross_entropy(self.logits(), self.labels()),
            soft: distill::soft_target_kl(student, teacher, hypers.get("temperature")),
        };
        kd_style(terms, hypers.get("alpha"))
    }
}

/// A [`distill::KdTerms`] combined with weight `alpha`, reported as `loss_ce` and `loss_kd`.
pub fn kd_style(terms: distill::KdTerms, alpha: f64) -> StepLoss {
    StepLoss { total: terms.combine(alpha), terms: vec![("loss_ce", terms.hard), ("loss_kd", terms.soft)] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_hyperparameters_valid() {
        let mut names = HashSet::new();
        for method in Method::all() {
            assert!(names.insert(method.name()), "{method} registered twice");
            let mut keys = HashSet::new();
            for hyper in method.spec().hypers {
                assert!(keys.insert(hyper.name), "{method}: {} declared twice", hyper.name);
                assert!(hyper.valid.allows(hyper.default), "{method}: default of {} is not valid", hyper.name);
                assert!(!hyper.help.is_empty(), "{method}: {} has no help", hyper.name);
            }
            assert_eq!(Method::named(method.name()), Some(method));
        }
    }

    /// A live hyperparameter takes one of the names the protocol declares steerable, so the
    /// app's sliders, the curves' markers and the steering log know it.
    #[test]
    fn every_live_hyperparameter_is_one_the_protocol_names() {
        for method in Method::all() {
            for hyper in method.live() {
                assert!(
                    Parameter::named(hyper.name).is_some(),
                    "{method}: live `{}` is not in protocol::hypers::LIVE; add it there",
                    hyper.name
                );
            }
        }
    }

    #[test]
    fn a_live_name_means_one_kind_of_value_across_methods() {
        for parameter in Parameter::all() {
            let sliders: Vec<Slider> = Method::all()
                .flat_map(|m| m.live().filter(move |h| h.name == parameter.name()).filter_map(|h| h.live))
                .collect();
            assert!(sliders.windows(2).all(|w| w[0] == w[1]), "{}: one slider everywhere", parameter.name());
        }
    }
}
