//! The training methods. Each file here declares one method: its name, paper and one-line
//! summary, what it needs from a teacher, what trains alongside the student, its
//! hyperparameters (default, valid values, whether the user steers it live, what it means),
//! its checks and its loss. [`METHODS`] registers them. Preset parsing and validation,
//! `kdlab presets`, `--set`, the app's sliders, the curves' markers and the run folders all
//! read these declarations: adding a method is one new file and one line below.

mod at;
mod attention_kl;
mod attention_mse;
pub(crate) mod ctkd;
mod dist;
mod dkd;
mod dml;
mod fitnets;
mod forward_kl;
mod gkd_jsd;
mod hidden_mse;
pub(crate) mod hyper;
mod kd;
mod label_smoothing;
mod lm_scratch;
mod nkd;
mod reverse_kl;
mod rkd;
mod scratch;
mod skew_kl;
mod skew_reverse_kl;
pub(crate) mod spec;
mod tfkd_reg;
mod tfkd_self;
mod token;
mod ttm;
mod tvd;
mod wttm;

pub use spec::{
    ALPHA, BETA, Companions, GAMMA, HyperSpec, Hypers, MethodInfo, MethodSpec, Parameter, STANDARDIZE, Slider,
    StageProblem, StepInputs, StepLoss, TEMPERATURE, TeacherPair, TeacherUse, Valid, any_stage, any_teacher, kd_style,
};

/// Declarations the engine reads beside the losses: CTKD's temperature range, DML's peers.
pub(crate) use dml::PEERS;
/// The on-policy sampling settings every token-level method declares.
pub(crate) use token::{SAMPLE_LENGTH, SAMPLE_TEMPERATURE};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Every method, in the order `kdlab presets` lists them.
pub(crate) static METHODS: &[&MethodSpec] = &[
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
    &lm_scratch::METHOD,
    &forward_kl::METHOD,
    &reverse_kl::METHOD,
    &gkd_jsd::METHOD,
    &skew_kl::METHOD,
    &skew_reverse_kl::METHOD,
    &tvd::METHOD,
    &attention_kl::METHOD,
    &attention_mse::METHOD,
    &hidden_mse::METHOD,
];

/// A registered method. It travels through the engine and the run folders as itself and is
/// written as its name.
#[derive(Clone, Copy)]
pub struct Method(&'static MethodSpec);

impl Method {
    /// The method registered as `name`.
    pub(crate) fn named(name: &str) -> Option<Method> {
        METHODS.iter().find(|m| m.name == name).map(|m| Method(m))
    }

    /// Every registered method.
    pub fn all() -> impl Iterator<Item = Method> {
        METHODS.iter().map(|m| Method(m))
    }

    /// The method as front ends see it (the protocol's description: name and hyperparameters).
    pub(crate) fn info(self) -> MethodInfo {
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
    pub(crate) fn needs_teacher_features(self) -> bool {
        self.0.teacher == TeacherUse::Features
    }

    /// The declaration of one of its hyperparameters.
    pub(crate) fn hyper(self, name: &str) -> Option<&'static HyperSpec> {
        self.0.hypers.iter().find(|h| h.name == name)
    }

    /// Its hyperparameters the user can steer while it trains.
    pub(crate) fn live(self) -> impl Iterator<Item = &'static HyperSpec> {
        self.0.hypers.iter().filter(|h| h.live.is_some())
    }

    /// The loss of one step.
    pub(crate) fn loss(self, inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
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
