//! What crosses between an engine and whoever drives it (the app, the CLI, a test): the
//! commands going in, the events coming out and everything they carry — metric points and
//! their names, the description of a run and its stages, outcomes, the probes' payloads the
//! views draw, hyperparameter declarations, the steering log and typed errors. Nothing here
//! names burn, a model, a loss or the engine's runtime: a front end builds against this module
//! and [`crate::engine`] alone.

pub mod check;
pub mod commands;
pub mod events;
pub mod hypers;
pub mod probe;
pub mod run;
pub mod shape;

pub use check::{DatasetEntry, PresetReport};
pub use commands::{Command, Steer, SteerAction};
pub use events::{EngineError, Event};
pub use hypers::{ALPHA, BETA, GAMMA, HyperSpec, LIVE, MethodInfo, Parameter, STANDARDIZE, Slider, TEMPERATURE, Valid};
pub use probe::{
    AttentionKind, AttentionProbe, BoundaryProbe, GRID, LayerAttention, OnPolicySample, Plane, Probe, RelationProbe,
    Representations, TextProbe, TextProbeSettings, TextSample,
};
pub use run::{
    ClassAccuracy, DataInfo, EnsembleOutcome, ForkOrigin, MetricPoint, RunInfo, StageInfo, StageOutcome, StageStart,
    metric,
};
pub use shape::InputShape;
