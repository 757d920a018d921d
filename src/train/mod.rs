//! The training engine: plans made from presets, the method catalogue, the stage loop, the
//! worker thread, and the channels the CLI and the app drive it through (what crosses them is
//! [`crate::protocol`]'s). Nothing here knows a user interface or the run folders.

pub mod cache;
pub mod controls;
pub mod engine;
pub mod evaluate;
pub mod events;
pub mod launch;
mod loader;
pub mod methods;
pub mod plan;
pub mod probe;
mod schedule;
pub mod session;
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
pub use session::{Polled, Session, SessionState};
