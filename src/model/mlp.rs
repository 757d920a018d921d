//! `arch = "mlp"`: fully connected layers of the `hidden` widths, each followed by ReLU, then
//! the classifier.

use super::arch::{Architecture, Build, Forward, Forwards, check_widths, list};
use super::footprint::Footprint;
use crate::data::InputShape;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// `[models.NAME] arch = "mlp"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) hidden: Vec<usize>,
}

impl Architecture for Spec {
    fn describe(&self) -> String {
        format!("mlp[{}]", list(&self.hidden))
    }

    fn size_field(&self) -> &'static str {
        "hidden"
    }

    fn check_structure(&self) -> Result<(), (&'static str, String)> {
        if self.hidden.is_empty() {
            return Err(("hidden", "expected a non-empty list of widths, e.g. [64]".into()));
        }
        if self.hidden.contains(&0) {
            return Err(("hidden", "expected widths ≥ 1".into()));
        }
        Ok(())
    }

    fn check(&self, _: InputShape) -> Result<(), String> {
        check_widths("hidden", &self.hidden, false)
    }

    fn block_channels(&self) -> Vec<usize> {
        Vec::new()
    }

    fn feature_shapes(&self, _: InputShape) -> Vec<[usize; 3]> {
        Vec::new()
    }

    fn embedding_width(&self, shape: InputShape) -> usize {
        self.hidden.last().copied().unwrap_or(shape.len())
    }

    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        let mut tally = Footprint::default();
        let hidden: Vec<u64> = self.hidden.iter().map(|&w| w as u64).collect();
        tally.dense(shape.len() as u64, &hidden, classes as u64)?;
        Some(tally)
    }
}

impl Build for Spec {
    type Network = Net;

    fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Net {
        let (hidden, last) = dense_stack(shape.len(), &self.hidden, device);
        Net { hidden, output: LinearConfig::new(last, classes).init(device) }
    }
}

/// A multi-layer perceptron.
#[derive(Module, Debug)]
pub(crate) struct Net {
    hidden: Vec<Linear>,
    output: Linear,
}

impl Forwards for Net {
    fn forward(&self, input: Tensor<2>) -> Forward {
        let embedding = run_dense(&self.hidden, input);
        Forward::classifier(self.output.forward(embedding.clone()), embedding, Vec::new())
    }
}

/// Linear layers of the given widths starting from `inputs`; returns them and the last width.
pub(super) fn dense_stack(inputs: usize, widths: &[usize], device: &Device) -> (Vec<Linear>, usize) {
    let mut layers = Vec::with_capacity(widths.len());
    let mut last = inputs;
    for &width in widths {
        layers.push(LinearConfig::new(last, width).init(device));
        last = width;
    }
    (layers, last)
}

/// The layers, each followed by ReLU.
pub(super) fn run_dense(layers: &[Linear], mut x: Tensor<2>) -> Tensor<2> {
    for layer in layers {
        x = relu(layer.forward(x));
    }
    x
}
