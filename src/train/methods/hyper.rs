//! The hyperparameter values a stage runs with (the declarations are the protocol's:
//! [`crate::protocol::hypers`]).

use crate::protocol::HyperSpec;
use serde::Serialize;
use std::collections::BTreeMap;

/// The hyperparameter values a stage runs with: every one its method declares, by name.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Hypers(BTreeMap<&'static str, f64>);

impl Hypers {
    /// The declared defaults of `specs`, overridden by `value` where it has one.
    pub(crate) fn resolve(specs: &'static [HyperSpec], value: impl Fn(&str) -> Option<f64>) -> Hypers {
        Hypers(specs.iter().map(|spec| (spec.name, value(spec.name).unwrap_or(spec.default))).collect())
    }

    /// The value of `name`; NaN for a name the method did not declare (a loss reading one
    /// diverges at once instead of training on a made-up value; a test runs every loss).
    pub(crate) fn get(&self, name: &str) -> f64 {
        self.0.get(name).copied().unwrap_or(f64::NAN)
    }

    /// Whether a switch hyperparameter is on.
    pub(crate) fn on(&self, name: &str) -> bool {
        self.get(name) == 1.0
    }

    /// Changes a declared value (others are ignored); returns whether it was declared.
    pub(crate) fn set(&mut self, name: &str, value: f64) -> bool {
        self.0.get_mut(name).map(|slot| *slot = value).is_some()
    }
}
