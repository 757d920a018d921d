//! The training engine: plans made from presets, the method catalogue, the stage loop, the
//! worker thread, and the channels the CLI and the app drive it through (what crosses them is
//! [`crate::protocol`]'s). Nothing here knows a user interface or the run folders.

pub(crate) mod cache;
pub(crate) mod controls;
pub(crate) mod engine;
pub(crate) mod evaluate;
pub(crate) mod events;
pub(crate) mod launch;
mod loader;
pub mod methods;
pub(crate) mod on_policy;
pub(crate) mod plan;
pub(crate) mod probe;
mod schedule;
pub(crate) mod session;
pub(crate) mod stage;
mod teacher_logits;
pub(crate) mod text;
pub(crate) mod trainee;

pub(crate) use crate::protocol::{
    ClassAccuracy, DataInfo, Event, ForkOrigin, MetricPoint, RunInfo, StageInfo, StageOutcome, StageStart, metric,
};
pub use cache::TeacherCache;
pub use engine::Engine;
pub use launch::{PrepareError, Prepared, prepare};
pub use methods::{Method, Parameter};
pub use plan::Plan;
pub use session::{Polled, Session, SessionState};
