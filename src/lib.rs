//! kdlab: a workbench for knowledge distillation.
//!
//! Layers, bottom up: [`data`] (bundled and user datasets), [`model`] (MLP and CNN families),
//! [`distill`] (the losses, as pure tensor functions), [`train`] (presets, plans and the engine
//! thread), [`record`] (the files a run leaves, and reports over seeds), [`device`] (GPU or CPU,
//! and another machine's device through burn's remote backend), and on top [`ui`], the desktop
//! workbench, which only sends the engine commands and draws its events; [`bench`] measures
//! training throughput and the workbench's frame time.

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
