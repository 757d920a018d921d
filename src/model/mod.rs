//! The model families: MLPs (hidden sizes) and small CNNs (3×3 conv + ReLU + 2×2 max-pool
//! blocks, then optional dense layers). Every network returns its logits together with the
//! intermediate features the representation-level methods need.

mod conv_block;

use crate::data::InputShape;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// An architecture as a preset writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "arch", rename_all = "lowercase", deny_unknown_fields)]
pub enum ModelSpec {
    /// Fully connected layers of the given widths, each followed by ReLU.
    Mlp { hidden: Vec<usize> },
    /// One conv block per entry of `channels`, then dense layers of widths `hidden`.
    Cnn {
        channels: Vec<usize>,
        #[serde(default)]
        hidden: Vec<usize>,
    },
}

impl ModelSpec {
    /// One-line description, e.g. `cnn[32,64]+fc[128]`.
    pub fn describe(&self) -> String {
        let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        match self {
            ModelSpec::Mlp { hidden } => format!("mlp[{}]", list(hidden)),
            ModelSpec::Cnn { channels, hidden } if hidden.is_empty() => format!("cnn[{}]", list(channels)),
            ModelSpec::Cnn { channels, hidden } => format!("cnn[{}]+fc[{}]", list(channels), list(hidden)),
        }
    }

    /// Why this architecture cannot take inputs of `shape`, if it cannot.
    pub fn check(&self, shape: InputShape) -> Result<(), String> {
        match self {
            ModelSpec::Mlp { hidden } => check_widths("hidden", hidden, false),
            ModelSpec::Cnn { channels, hidden } => {
                check_widths("channels", channels, false)?;
                check_widths("hidden", hidden, true)?;
                let InputShape::Image { height, width, .. } = shape else {
                    return Err("a cnn needs image data; use arch = \"mlp\" for tabular or 2-D data".into());
                };
                let smallest = height.min(width) >> channels.len();
                if smallest == 0 {
                    return Err(format!(
                        "{} pooling blocks shrink {height}×{width} images to nothing; use at most {}",
                        channels.len(),
                        height.min(width).ilog2()
                    ));
                }
                Ok(())
            }
        }
    }

    /// Width of the penultimate representation ([`Forward::embedding`]) for inputs of `shape`.
    pub fn embedding_width(&self, shape: InputShape) -> usize {
        match self {
            ModelSpec::Mlp { hidden } => hidden.last().copied().unwrap_or(shape.len()),
            ModelSpec::Cnn { channels, hidden } => hidden.last().copied().unwrap_or_else(|| {
                let (height, width) = match shape {
                    InputShape::Image { height, width, .. } => (height, width),
                    InputShape::Flat { features } => (1, features),
                };
                channels.last().copied().unwrap_or(1) * (height >> channels.len()) * (width >> channels.len())
            }),
        }
    }

    /// Channels of each conv block's output (empty for MLPs).
    pub fn block_channels(&self) -> &[usize] {
        match self {
            ModelSpec::Mlp { .. } => &[],
            ModelSpec::Cnn { channels, .. } => channels,
        }
    }

    /// Builds the network with fresh parameters on `device`.
    pub fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Network {
        match self {
            ModelSpec::Mlp { hidden } => Network::Mlp(Mlp::new(shape.len(), hidden, classes, device)),
            ModelSpec::Cnn { channels, hidden } => Network::Cnn(Cnn::new(shape, channels, hidden, classes, device)),
        }
    }
}

fn check_widths(field: &str, widths: &[usize], may_be_empty: bool) -> Result<(), String> {
    if widths.is_empty() && !may_be_empty {
        return Err(format!("`{field}` needs at least one width"));
    }
    if widths.contains(&0) {
        return Err(format!("`{field}` widths must be ≥ 1"));
    }
    Ok(())
}

/// What a forward pass gives: logits plus the features later methods match.
#[derive(Debug, Clone)]
pub struct Forward {
    /// `[batch, classes]`.
    pub logits: Tensor<2>,
    /// The penultimate representation `[batch, dim]`.
    pub embedding: Tensor<2>,
    /// Each conv block's output `[batch, channels, h, w]` (empty for MLPs).
    pub feature_maps: Vec<Tensor<4>>,
}

/// A network of either family.
#[derive(Module, Debug)]
pub enum Network {
    Mlp(Mlp),
    Cnn(Cnn),
}

impl Network {
    /// Runs the network on flat inputs `[batch, features]`.
    pub fn forward(&self, input: Tensor<2>) -> Forward {
        match self {
            Network::Mlp(mlp) => mlp.forward(input),
            Network::Cnn(cnn) => cnn.forward(input),
        }
    }

    /// Logits only.
    pub fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input).logits
    }
}

/// A multi-layer perceptron.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    output: Linear,
}

impl Mlp {
    fn new(inputs: usize, hidden: &[usize], classes: usize, device: &Device) -> Mlp {
        let (layers, last) = dense_stack(inputs, hidden, device);
        Mlp { hidden: layers, output: LinearConfig::new(last, classes).init(device) }
    }

    fn forward(&self, input: Tensor<2>) -> Forward {
        let embedding = run_dense(&self.hidden, input);
        Forward { logits: self.output.forward(embedding.clone()), embedding, feature_maps: Vec::new() }
    }
}

/// A small convolutional network.
#[derive(Module, Debug)]
pub struct Cnn {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    dense: Vec<Linear>,
    output: Linear,
    channels: usize,
    height: usize,
    width: usize,
}

impl Cnn {
    fn new(shape: InputShape, widths: &[usize], hidden: &[usize], classes: usize, device: &Device) -> Cnn {
        let (channels, height, width) = match shape {
            InputShape::Image { channels, height, width } => (channels, height, width),
            InputShape::Flat { features } => (1, 1, features),
        };
        let mut convs = Vec::with_capacity(widths.len());
        let mut in_channels = channels;
        for &out_channels in widths {
            convs.push(
                Conv2dConfig::new([in_channels, out_channels], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            in_channels = out_channels;
        }
        let flat = in_channels * (height >> widths.len()) * (width >> widths.len());
        let (dense, last) = dense_stack(flat, hidden, device);
        Cnn {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dense,
            output: LinearConfig::new(last, classes).init(device),
            channels,
            height,
            width,
        }
    }

    fn forward(&self, input: Tensor<2>) -> Forward {
        let [batch, _] = input.dims();
        let mut x: Tensor<4> = input.reshape([batch, self.channels, self.height, self.width]);
        let mut feature_maps = Vec::with_capacity(self.convs.len());
        for conv in &self.convs {
            x = conv_block::forward(conv, &self.pool, x);
            feature_maps.push(x.clone());
        }
        let embedding = run_dense(&self.dense, x.flatten::<2>(1, 3));
        Forward { logits: self.output.forward(embedding.clone()), embedding, feature_maps }
    }
}

/// Linear layers of the given widths starting from `inputs`; returns them and the last width.
fn dense_stack(inputs: usize, widths: &[usize], device: &Device) -> (Vec<Linear>, usize) {
    let mut layers = Vec::with_capacity(widths.len());
    let mut last = inputs;
    for &width in widths {
        layers.push(LinearConfig::new(last, width).init(device));
        last = width;
    }
    (layers, last)
}

fn run_dense(layers: &[Linear], mut x: Tensor<2>) -> Tensor<2> {
    for layer in layers {
        x = relu(layer.forward(x));
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cnn_reports_features_and_parameter_count() {
        let device = Device::flex();
        let shape = InputShape::Image { channels: 1, height: 28, width: 28 };
        let spec = ModelSpec::Cnn { channels: vec![32, 64], hidden: vec![128] };
        let network = spec.init(shape, 10, &device);
        // The PyTorch twin in shared/bench has 421,642 parameters.
        assert_eq!(network.num_params(), 421_642);
        let out = network.forward(Tensor::zeros([3, 784], &device));
        assert_eq!(out.logits.dims(), [3, 10]);
        assert_eq!(out.embedding.dims(), [3, 128]);
        assert_eq!(out.feature_maps[1].dims(), [3, 64, 7, 7]);
    }

    #[test]
    fn bad_architectures_are_explained() {
        let image = InputShape::Image { channels: 1, height: 8, width: 8 };
        assert!(ModelSpec::Mlp { hidden: vec![] }.check(image).is_err());
        assert!(ModelSpec::Cnn { channels: vec![4, 4, 4, 4], hidden: vec![] }.check(image).is_err());
        assert!(ModelSpec::Cnn { channels: vec![4], hidden: vec![] }.check(InputShape::Flat { features: 2 }).is_err());
    }
}
