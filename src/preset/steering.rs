//! `[[steering]]`: the commands a run's stages took while they trained (live changes, keep
//! training, stops, fork points), written by the app's *Save run* and replayed at the same
//! steps by a run of the preset; and their checks.

use super::schema::Preset;
use super::source::show_number;
use super::validate::{FieldError, field, invalid};
use crate::protocol::{Parameter, Steer, SteerAction};
use serde::{Deserialize, Serialize};

/// One `[[steering]]` entry: a command a stage took while it trained, which a run of this preset
/// replays at the same step. A run folder's `config.toml` lists every one the run took, in order.
/// A stage starts with the `from` of its first `set` of a parameter, when given (a fork's
/// config.toml gives the stage the values the fork started with, and its steering the way there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringSection {
    /// The stage's name.
    pub(crate) stage: String,
    /// Optimizer steps the stage had taken: the next step is the first the command affects.
    pub(crate) after_step: u64,
    /// A live hyperparameter of the stage's method, set to `to` (it was `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) to: Option<f64>,
    /// Whether the stage goes on past its planned epochs until a `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) keep_training: Option<bool>,
    /// The stage ends here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) stop: bool,
    /// A run (named here) branched off at this step; the stage reports its metrics here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fork: Option<String>,
}

impl SteeringSection {
    /// An entry of a run's steering log, for a stage called `stage` (`fork`: the name of the run
    /// that branched off, for a fork entry).
    pub fn of(steer: &Steer, stage: &str, fork: Option<String>) -> SteeringSection {
        let mut section = SteeringSection {
            stage: stage.to_string(),
            after_step: steer.after_step,
            set: None,
            from: None,
            to: None,
            keep_training: None,
            stop: false,
            fork: None,
        };
        match &steer.action {
            SteerAction::Set { parameter, from, to } => {
                (section.set, section.from, section.to) = (Some(parameter.name().into()), Some(*from), Some(*to));
            }
            SteerAction::KeepTraining(keep) => section.keep_training = Some(*keep),
            SteerAction::Stop => section.stop = true,
            SteerAction::Fork => section.fork = Some(fork.unwrap_or_default()),
        }
        section
    }

    /// The entry as the engine replays it, for stage `stage` (a preset that passed validation).
    pub(crate) fn steer(&self, stage: usize) -> Option<Steer> {
        let action = match (&self.set, self.keep_training, self.stop, &self.fork) {
            (Some(name), None, false, None) => {
                let parameter = Parameter::named(name)?;
                SteerAction::Set { parameter, from: self.from.unwrap_or(f64::NAN), to: self.to? }
            }
            (None, Some(keep), false, None) => SteerAction::KeepTraining(keep),
            (None, None, true, None) => SteerAction::Stop,
            (None, None, false, Some(_)) => SteerAction::Fork,
            _ => return None,
        };
        Some(Steer { stage, after_step: self.after_step, action })
    }
}

impl Preset {
    /// Each `[[steering]]` entry names a stage and does one thing a stage can be told while it
    /// trains; entries come in the order they happened (stage by stage, step by step), and
    /// nothing follows a stage's `stop`.
    pub(super) fn validate_steering(&self) -> Result<(), FieldError> {
        let mut last: Option<(usize, u64, bool)> = None;
        for (index, entry) in self.steering.iter().enumerate() {
            let at = |key: &str| field(&["steering"]).index(index).key(key);
            let Some(stage) = self.stages.iter().position(|s| s.name == entry.stage) else {
                let names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
                return invalid(
                    at("stage"),
                    format!("expected one of {}, found \"{}\"", names.join(", "), entry.stage),
                );
            };
            let actions = [entry.set.is_some(), entry.keep_training.is_some(), entry.stop, entry.fork.is_some()];
            if actions.iter().filter(|&&a| a).count() != 1 {
                return invalid(
                    field(&["steering"]).index(index),
                    "give one of `set` (with `to`), `keep_training`, `stop = true` or `fork`",
                );
            }
            if entry.set.is_none() && (entry.from.is_some() || entry.to.is_some()) {
                let key = if entry.from.is_some() { "from" } else { "to" };
                return invalid(at(key), "only applies with `set`");
            }
            if let Some(name) = &entry.set {
                self.validate_set(index, stage, name, entry)?;
            }
            if let Some((previous, step, stopped)) = last {
                if stage < previous {
                    let message = format!(
                        "entries follow the stages' order: \"{}\" comes before an entry of a later stage",
                        entry.stage
                    );
                    return invalid(at("stage"), message);
                }
                if stage == previous && entry.after_step < step {
                    let message = format!(
                        "entries of a stage follow each other in step order: {} comes after {step}",
                        entry.after_step
                    );
                    return invalid(at("after_step"), message);
                }
                if stage == previous && stopped {
                    return invalid(at("stage"), format!("\"{}\" was stopped by an earlier entry", entry.stage));
                }
            }
            let stopped = entry.stop || last.is_some_and(|(s, _, stopped)| s == stage && stopped);
            last = Some((stage, entry.after_step, stopped));
        }
        Ok(())
    }

    /// A `set` names a live hyperparameter of the stage's method, with values it allows.
    fn validate_set(&self, index: usize, stage: usize, name: &str, entry: &SteeringSection) -> Result<(), FieldError> {
        let at = |key: &str| field(&["steering"]).index(index).key(key);
        let method = self.stages[stage].method;
        let Some(hyper) = method.live().find(|h| h.name == name) else {
            let live: Vec<&str> = method.live().map(|h| h.name).collect();
            let takes = if live.is_empty() { "none".to_string() } else { live.join(", ") };
            return invalid(
                at("set"),
                format!("method \"{method}\" has no live `{name}` (its live hyperparameters: {takes})"),
            );
        };
        let Some(to) = entry.to else {
            return invalid(at("to"), format!("expected the value `{name}` is set to"));
        };
        for (key, value) in [("to", Some(to)), ("from", entry.from)] {
            if let Some(value) = value.filter(|v| !hyper.valid.allows(*v)) {
                return invalid(at(key), format!("expected {}, found {}", hyper.valid.expected(), show_number(value)));
            }
        }
        Ok(())
    }
}
