//! What an architecture file declares: its preset keys (a serde struct, `arch = "…"` picking it),
//! their checks before and after the data's shape is known, its sizes, the shapes of the
//! feature taps it returns, and how to build it; and what every network's forward pass gives.

use super::footprint::Footprint;
use crate::data::InputShape;
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// An architecture as a preset writes it (the keys of its `[models.NAME]` table), and what it
/// says of itself before any layer exists.
pub(crate) trait Architecture {
    /// One-line description, e.g. `cnn[32,64]+fc[128]`.
    fn describe(&self) -> String;
    /// The field that sets its size, for messages about it.
    fn size_field(&self) -> &'static str;
    /// Why its depth or widths are impossible, if they are: the field to change and what it
    /// expects (checked before the data is read).
    fn check_structure(&self) -> Result<(), (&'static str, String)>;
    /// Why it cannot take inputs of `shape`, if it cannot.
    fn check(&self, shape: InputShape) -> Result<(), String>;
    /// Channels of each feature map it returns (empty for a network without any).
    fn block_channels(&self) -> Vec<usize>;
    /// `[channels, height, width]` of each feature map for inputs of `shape`.
    fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]>;
    /// Width of its penultimate representation ([`Forward::embedding`]) for inputs of `shape`.
    fn embedding_width(&self, shape: InputShape) -> usize;
    /// Its sizes on inputs of `shape` with `classes` outputs; `None` when a count overflows.
    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint>;
}

/// Building an architecture's network.
pub(crate) trait Build {
    type Network: Module + Forwards;
    /// The network with fresh parameters on `device` (seeded by the caller).
    fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Self::Network;
}

/// A network's forward pass on flat inputs `[batch, features]`.
pub(crate) trait Forwards {
    fn forward(&self, input: Tensor<2>) -> Forward;
}

/// What a forward pass gives: logits, and the features the representation-level methods and the
/// views match (each empty where the network has none).
#[derive(Debug, Clone)]
pub(crate) struct Forward {
    /// `[rows, classes]`: a row per example, or per position of a sequence model (its
    /// `[batch, length]` positions flattened, see [`Forward::positions`]).
    pub(crate) logits: Tensor<2>,
    /// The penultimate representation `[rows, dim]`.
    pub(crate) embedding: Tensor<2>,
    /// Each conv block's (stage's, group's) output `[batch, channels, h, w]`.
    pub(crate) feature_maps: Vec<Tensor<4>>,
    /// A transformer's self-attention probabilities, one `[batch, heads, length, length]` per
    /// layer.
    pub(crate) attention: Vec<Tensor<4>>,
    /// A transformer's hidden states, one `[batch, length, width]` per layer.
    pub(crate) hidden_states: Vec<Tensor<3>>,
    /// A sequence model's positions: the logits' rows reshape to `[batch, length, classes]`.
    pub(crate) positions: Option<Positions>,
}

/// How a sequence model's logits rows come from `[batch, length]` positions (every position
/// counts: text windows are never padded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Positions {
    pub(crate) batch: usize,
    pub(crate) length: usize,
}

impl Forward {
    /// A classifier's pass: one row per example, no sequence.
    pub(crate) fn classifier(logits: Tensor<2>, embedding: Tensor<2>, feature_maps: Vec<Tensor<4>>) -> Forward {
        Forward { logits, embedding, feature_maps, attention: Vec::new(), hidden_states: Vec::new(), positions: None }
    }
}

/// `[channels, height, width]` of image inputs (flat inputs: one channel, one row).
pub(crate) fn image_dims(shape: InputShape) -> [usize; 3] {
    match shape {
        InputShape::Image { channels, height, width } => [channels, height, width],
        InputShape::Flat { features } | InputShape::Text { context: features } => [1, 1, features],
    }
}

/// The deepest residual network accepted (the CIFAR ResNet paper's deepest is 1202 layers).
pub(crate) const MAX_DEPTH: usize = 2000;
/// The widest stage accepted: sizes are bounded before any layer is allocated.
pub(crate) const MAX_CHANNELS: usize = 4096;

/// A list of layer widths: non-empty unless `may_be_empty`, none of them 0.
pub(crate) fn check_widths(field: &str, widths: &[usize], may_be_empty: bool) -> Result<(), String> {
    if widths.is_empty() && !may_be_empty {
        return Err(format!("`{field}` needs at least one width"));
    }
    if widths.contains(&0) {
        return Err(format!("`{field}` widths must be ≥ 1"));
    }
    Ok(())
}

/// Joins widths for a description: `32,64`.
pub(crate) fn list(widths: &[usize]) -> String {
    widths.iter().map(usize::to_string).collect::<Vec<_>>().join(",")
}
