//! The training engine: presets and plans, the stage loop, the worker thread, and the
//! commands-in / events-out channels that the CLI and the app drive it through. Nothing here
//! depends on a user interface.

pub mod cache;
pub mod controls;
pub mod engine;
pub mod evaluate;
pub mod events;
pub mod launch;
mod loader;
pub mod methods;
pub mod plan;
pub mod preset;
pub mod probe;
mod schedule;
pub mod stage;
pub mod trainee;

pub use crate::protocol::{
    ClassAccuracy, Command, DataInfo, EngineError, EnsembleOutcome, Event, ForkOrigin, MetricPoint, Probe, RunInfo,
    StageInfo, StageOutcome, StageStart, Steer, SteerAction, metric,
};
pub use cache::TeacherCache;
pub use engine::Engine;
pub use launch::{PrepareError, Prepared, prepare};
pub use methods::{Method, Parameter};
pub use plan::Plan;
pub use preset::{Preset, PresetError, PresetSource};
