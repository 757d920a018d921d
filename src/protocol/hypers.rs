//! Hyperparameters as declarations front ends read: each one's default, valid values, whether
//! and how the user steers it live, and what it means; the live parameters the sliders, the
//! curves' markers and the steering log name; and a training method as front ends see it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One hyperparameter of a method.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HyperSpec {
    /// The preset key (`temperature`), also the metric name of its value.
    pub name: &'static str,
    /// Short symbol for curve markers (`T`, `α`).
    pub symbol: &'static str,
    /// The slider's label (`Temperature`, `α`).
    pub label: &'static str,
    pub default: f64,
    pub valid: Valid,
    /// How the app steers it while the stage trains; `None`: fixed for the stage.
    pub live: Option<Slider>,
    /// What it does, one line (tooltips, `kdlab presets`); live ones add the loss formula.
    pub help: &'static str,
}

/// The values a hyperparameter may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Valid {
    /// `min < value`, finite.
    Above(f64),
    /// `min <= value`, finite.
    AtLeast(f64),
    /// `min <= value <= max`.
    Within(f64, f64),
    /// `min <= value < max`.
    FromUpTo(f64, f64),
    /// `min < value < max`.
    Between(f64, f64),
    /// A whole number in `min..=max`.
    Whole(u32, u32),
    /// `true` or `false` (stored as 1 and 0).
    Switch,
}

impl Valid {
    /// Whether `value` is allowed.
    pub fn allows(self, value: f64) -> bool {
        value.is_finite()
            && match self {
                Valid::Above(min) => value > min,
                Valid::AtLeast(min) => value >= min,
                Valid::Within(min, max) => (min..=max).contains(&value),
                Valid::FromUpTo(min, max) => (min..max).contains(&value),
                Valid::Between(min, max) => value > min && value < max,
                Valid::Whole(min, max) => value.fract() == 0.0 && (min as f64..=max as f64).contains(&value),
                Valid::Switch => value == 0.0 || value == 1.0,
            }
    }

    /// What is expected, for messages: "a number > 0", "a whole number from 2 to 8".
    pub fn expected(self) -> String {
        match self {
            Valid::Above(min) => format!("a number > {min}"),
            Valid::AtLeast(min) => format!("a number >= {min}"),
            Valid::Within(min, max) => format!("a number in [{min}, {max}]"),
            Valid::FromUpTo(min, max) => format!("a number in [{min}, {max})"),
            Valid::Between(min, max) => format!("a number strictly between {min} and {max}"),
            Valid::Whole(min, max) if max == u32::MAX => format!("a whole number >= {min}"),
            Valid::Whole(min, max) => format!("a whole number from {min} to {max}"),
            Valid::Switch => "true or false".into(),
        }
    }
}

/// How a live hyperparameter's slider looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slider {
    pub min: f64,
    pub max: f64,
    pub logarithmic: bool,
    pub decimals: usize,
}

/// A hyperparameter some method lets the user steer while it trains (the name is shared:
/// `beta` is AT's attention weight and DKD's non-target weight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Parameter(&'static str);

impl Parameter {
    /// The parameter a live declaration steers.
    pub const fn of(spec: &'static HyperSpec) -> Parameter {
        Parameter(spec.name)
    }

    /// The live parameter called `name`, if any method declares one.
    pub fn named(name: &str) -> Option<Parameter> {
        live_specs().find(|spec| spec.name == name).map(|spec| Parameter(spec.name))
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// The short symbol the curves' markers use.
    pub fn symbol(self) -> &'static str {
        live_specs().find(|spec| spec.name == self.0).map_or(self.0, |spec| spec.symbol)
    }

    /// Every live parameter, each once, in registration order.
    pub fn all() -> Vec<Parameter> {
        let mut all: Vec<Parameter> = Vec::new();
        for spec in live_specs() {
            if !all.iter().any(|p| p.0 == spec.name) {
                all.push(Parameter(spec.name));
            }
        }
        all
    }

    /// The position of this parameter in [`Parameter::all`], for a stable order.
    pub fn rank(self) -> usize {
        Parameter::all().iter().position(|p| *p == self).unwrap_or(usize::MAX)
    }
}

fn live_specs() -> impl Iterator<Item = &'static HyperSpec> {
    LIVE.iter().copied()
}

impl Serialize for Parameter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Parameter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Parameter, D::Error> {
        let name = String::deserialize(deserializer)?;
        Parameter::named(&name).ok_or_else(|| serde::de::Error::custom(format!("no live parameter is called `{name}`")))
    }
}

/// Temperature of the softened distributions (Hinton et al.: T = 4 is the usual baseline).
pub const TEMPERATURE: HyperSpec = HyperSpec {
    name: "temperature",
    symbol: "T",
    label: "Temperature",
    default: 4.0,
    // T² scales the soft term: beyond 1000 it overflows f32 losses at the first step.
    valid: Valid::Between(0.0, 1000.0),
    live: Some(Slider { min: 0.5, max: 50.0, logarithmic: true, decimals: 2 }),
    help: "Temperature T of the soft targets, from the next optimizer step:\n\
        loss = (1 - α)·CE(s, y) + α·T²·KL(softmax(t/T) || softmax(s/T))",
};

/// Weight of the soft-target term against the labels.
pub const ALPHA: HyperSpec = HyperSpec {
    name: "alpha",
    symbol: "α",
    label: "α",
    default: 0.9,
    valid: Valid::Within(0.0, 1.0),
    live: Some(Slider { min: 0.0, max: 1.0, logarithmic: false, decimals: 3 }),
    help: "Weight α of the soft-target term, from the next optimizer step:\n\
        loss = (1 - α)·CE(s, y) + α·T²·KL(softmax(t/T) || softmax(s/T))",
};

/// A non-negative loss weight `beta` (each method gives its own meaning and default).
pub const BETA: HyperSpec = HyperSpec {
    name: "beta",
    symbol: "β",
    label: "β",
    default: 1.0,
    valid: Valid::AtLeast(0.0),
    live: Some(Slider { min: 0.0, max: 5000.0, logarithmic: true, decimals: 2 }),
    help: "Weight β",
};

/// Logit standardization (Sun et al., 2024): the distillation term sees each row of logits
/// z-scored, so the student matches the teacher's shape rather than its scale.
pub const STANDARDIZE: HyperSpec = HyperSpec {
    name: "standardize",
    symbol: "z",
    label: "standardize",
    default: 0.0,
    valid: Valid::Switch,
    live: None,
    help: "Distil z-scored logits: (x − mean) / std over the classes, for teacher and student (Sun et al. 2024)",
};

/// A second non-negative loss weight `gamma` (DIST's intra-class weight).
pub const GAMMA: HyperSpec = HyperSpec { name: "gamma", symbol: "γ", label: "γ", help: "Weight γ", ..BETA };

/// GKD's β of the generalized Jensen–Shannon divergence: 0 is the forward KL, 1 the reverse.
/// (Not `beta`: kdlab's `beta` is a loss weight, steered on a 0–5000 scale.)
pub const JSD_BETA: HyperSpec = HyperSpec {
    name: "jsd_beta",
    symbol: "β",
    label: "JSD β",
    default: 0.5,
    valid: Valid::Within(0.0, 1.0),
    live: Some(Slider { min: 0.0, max: 1.0, logarithmic: false, decimals: 2 }),
    help: "GKD's β, from the next optimizer step: 0 is KL(teacher || student), 1 is KL(student || teacher):\n\
        JSD_β = β·KL(p_t || m) + (1 − β)·KL(p_s || m), m = β·p_t + (1 − β)·p_s",
};

/// DistiLLM's skew: how much of the target distribution is mixed into the other one.
pub const SKEW: HyperSpec = HyperSpec {
    name: "skew",
    symbol: "λ",
    label: "skew",
    default: 0.1,
    valid: Valid::Within(0.0, 1.0),
    live: Some(Slider { min: 0.0, max: 1.0, logarithmic: false, decimals: 2 }),
    help: "DistiLLM's skew λ, from the next optimizer step: the distribution compared with is the mixture \
        λ·(the target) + (1 − λ)·(the other); 0 is the plain KL",
};

/// GKD's student-data fraction λ (Agarwal et al. 2024): the share of a language-model stage's
/// steps that train on continuations the student samples itself, scored by the teacher.
pub const ON_POLICY: HyperSpec = HyperSpec {
    name: "on_policy",
    symbol: "λ_on",
    label: "on-policy λ",
    default: 0.0,
    valid: Valid::Within(0.0, 1.0),
    live: Some(Slider { min: 0.0, max: 1.0, logarithmic: false, decimals: 2 }),
    help: "GKD's on-policy fraction λ, from the next optimizer step: that share of the steps train on \
        continuations the student samples (sample_length characters at sample_temperature after a prompt cut \
        from the training text), the loss there being the divergence alone on the sampled positions, with \
        the teacher's distributions as the target",
};

/// The hyperparameters a front end can steer while a stage trains: a method's live
/// hyperparameter takes one of these names (with its own default, range and help), so the
/// sliders, the curves' markers and the steering log all speak of the same few.
pub static LIVE: &[&HyperSpec] = &[&TEMPERATURE, &ALPHA, &BETA, &GAMMA, &JSD_BETA, &SKEW, &ON_POLICY];

/// A training method as front ends see it: its name and the hyperparameters it declares.
#[derive(Clone, Copy)]
pub struct MethodInfo {
    pub name: &'static str,
    pub hypers: &'static [HyperSpec],
}

impl MethodInfo {
    /// Its hyperparameters the user may steer while it trains, in declaration order.
    pub fn live(self) -> impl Iterator<Item = &'static HyperSpec> {
        self.hypers.iter().filter(|h| h.live.is_some())
    }
}

impl PartialEq for MethodInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for MethodInfo {}

impl std::fmt::Debug for MethodInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl std::fmt::Display for MethodInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so the stage table's column width applies.
        f.pad(self.name)
    }
}

/// Serialised as its name (`summary.json`'s `"method": "kd"`).
impl Serialize for MethodInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}
