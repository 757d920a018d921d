//! kdlab: a workbench for knowledge distillation.
//!
//! Layers, bottom up: [`data`] (bundled datasets and file formats, a registry), [`model`] (the
//! architectures, a registry), [`distill`] (the losses, as pure tensor functions), [`preset`]
//! (the preset file format: schema, checks, `--set`), [`train`] (the engine's runtime: plans,
//! stages, the method catalogue and the step-driven session a thread polls), [`record`] (the
//! files a run leaves, and reports over seeds), [`export`] (plots and numbers written out),
//! [`device`] (GPU or CPU, and another machine's device through burn's remote backend), and on
//! top [`ui`], the desktop workbench. Between the engine and whoever drives it lie
//! [`protocol`] (commands, events and what they carry; no burn) and [`engine`] (the handle a
//! front end holds): the UI names those two and nothing below. [`bench`] measures training
//! throughput and the workbench's frame time. Beside them, small shared pieces: the bundled
//! [`presets`], host-side [`logits`] arithmetic, [`stats`] over seeds, the [`memory`]
//! budget, a stable [`hash`] and atomic writes ([`fsutil`]).

pub mod bench;
pub mod data;
pub mod device;
pub mod distill;
pub mod engine;
pub mod export;
pub mod fsutil;
pub mod hash;
pub mod logits;
pub mod memory;
pub mod model;
pub mod preset;
pub mod presets;
pub mod protocol;
pub mod record;
pub mod stats;
pub mod train;
pub mod ui;
