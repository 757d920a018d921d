//! The model families: MLPs (hidden sizes), small CNNs (3×3 conv + ReLU + 2×2 max-pool blocks,
//! then optional dense layers), and the CIFAR papers' networks with batch norm: ResNet, WRN
//! ([`resnet`]) and VGG ([`vgg`]). Every network returns its logits together with the
//! intermediate features the representation-level methods need. Batch norm updates its
//! statistics only in training (on an autodiff device); evaluation, probes and cached teachers
//! run on the plain device and use the running statistics.

mod conv_block;
mod footprint;
mod resnet;
mod vgg;

pub use footprint::Footprint;

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
    /// CIFAR ResNet: `depth` = 6n + 2; `channels`: the stem's then the three stages' widths.
    Resnet {
        depth: usize,
        #[serde(default = "default_resnet_channels")]
        channels: Vec<usize>,
    },
    /// Wide ResNet WRN-`depth`-`widen`: `depth` = 6n + 4.
    Wrn {
        depth: usize,
        #[serde(default = "default_widen")]
        widen: usize,
    },
    /// VGG with batch norm: `depth` 8, 11, 13, 16 or 19.
    Vgg { depth: usize },
}

/// The deepest residual network accepted (the CIFAR ResNet paper's deepest is 1202 layers).
const MAX_DEPTH: usize = 2000;
/// The widest stage accepted: sizes are bounded before any layer is allocated.
const MAX_CHANNELS: usize = 4096;

fn default_resnet_channels() -> Vec<usize> {
    vec![16, 16, 32, 64]
}
fn default_widen() -> usize {
    1
}

/// A ResNet (`pre_activation`: a WRN) of `blocks` blocks a stage.
fn residual(
    shape: InputShape,
    widths: [usize; 4],
    blocks: usize,
    pre_activation: bool,
    classes: usize,
    device: &Device,
) -> Network {
    Network::Residual(resnet::ResNet::new(image_dims(shape), widths, blocks, pre_activation, classes, device))
}

/// `[channels, height, width]` of image inputs (flat inputs: one channel, one row).
fn image_dims(shape: InputShape) -> [usize; 3] {
    match shape {
        InputShape::Image { channels, height, width } => [channels, height, width],
        InputShape::Flat { features } => [1, 1, features],
    }
}

impl ModelSpec {
    /// One-line description, e.g. `cnn[32,64]+fc[128]`.
    pub fn describe(&self) -> String {
        let list = |v: &[usize]| v.iter().map(usize::to_string).collect::<Vec<_>>().join(",");
        match self {
            ModelSpec::Mlp { hidden } => format!("mlp[{}]", list(hidden)),
            ModelSpec::Cnn { channels, hidden } if hidden.is_empty() => format!("cnn[{}]", list(channels)),
            ModelSpec::Cnn { channels, hidden } => format!("cnn[{}]+fc[{}]", list(channels), list(hidden)),
            ModelSpec::Resnet { depth, channels } => format!("resnet{depth}[{}]", list(channels)),
            ModelSpec::Wrn { depth, widen } => format!("wrn-{depth}-{widen}"),
            ModelSpec::Vgg { depth } => format!("vgg{depth}"),
        }
    }

    /// The field that sets this architecture's size, for messages about it.
    pub fn size_field(&self) -> &'static str {
        match self {
            ModelSpec::Mlp { .. } => "hidden",
            ModelSpec::Cnn { channels, hidden } if hidden.iter().max() > channels.iter().max() => "hidden",
            ModelSpec::Cnn { .. } => "channels",
            ModelSpec::Resnet { .. } => "channels",
            ModelSpec::Wrn { .. } => "widen",
            ModelSpec::Vgg { .. } => "depth",
        }
    }

    /// Why this architecture's depth or widths are impossible, if they are: the field to change
    /// and what it expects. (Checked before the data is read.)
    pub fn check_structure(&self) -> Result<(), (&'static str, String)> {
        match self {
            ModelSpec::Mlp { .. } | ModelSpec::Cnn { .. } => Ok(()),
            ModelSpec::Resnet { depth, channels } => {
                if *depth < 8 || *depth > MAX_DEPTH || (depth - 2) % 6 != 0 {
                    return Err((
                        "depth",
                        format!("expected 6n + 2 up to {MAX_DEPTH} (8, 14, 20, 32, 44, 56, 110, 1202), found {depth}"),
                    ));
                }
                if channels.len() != 4 || channels.iter().any(|&c| c == 0 || c > MAX_CHANNELS) {
                    return Err((
                        "channels",
                        format!("expected 4 widths from 1 to {MAX_CHANNELS}: the stem's and the three stages'"),
                    ));
                }
                Ok(())
            }
            ModelSpec::Wrn { depth, widen } => {
                if *depth < 10 || *depth > MAX_DEPTH || (depth - 4) % 6 != 0 {
                    return Err((
                        "depth",
                        format!("expected 6n + 4 up to {MAX_DEPTH} (10, 16, 22, 28, 40), found {depth}"),
                    ));
                }
                if *widen == 0 || 64 * widen > MAX_CHANNELS {
                    return Err(("widen", format!("expected a widening factor from 1 to {}", MAX_CHANNELS / 64)));
                }
                Ok(())
            }
            ModelSpec::Vgg { depth } => match vgg::layers_of(*depth) {
                Some(_) => Ok(()),
                None => Err(("depth", format!("expected 8, 11, 13, 16 or 19, found {depth}"))),
            },
        }
    }

    /// `[channels, height, width]` of each feature map the network returns for inputs of
    /// `shape` (empty for MLPs).
    pub fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]> {
        let [_, height, width] = image_dims(shape);
        // Map `i`'s side: a CNN pools after each block, a VGG before each group but the first
        // (2×2 max-pools round down); a residual stage halves with a stride-2 conv (rounds up).
        let side = |length: usize, i: usize| match self {
            ModelSpec::Cnn { .. } => length.checked_shr(i as u32 + 1).unwrap_or(0),
            ModelSpec::Vgg { .. } => length.checked_shr(i as u32).unwrap_or(0),
            _ => (0..i).fold(length, |l, _| l.div_ceil(2)),
        };
        self.block_channels().into_iter().enumerate().map(|(i, c)| [c, side(height, i), side(width, i)]).collect()
    }

    /// Channels of each feature map: a CNN's blocks, a residual network's three stages, a VGG's
    /// groups (empty for MLPs).
    pub fn block_channels(&self) -> Vec<usize> {
        match self {
            ModelSpec::Mlp { .. } => Vec::new(),
            ModelSpec::Cnn { channels, .. } => channels.clone(),
            ModelSpec::Resnet { channels, .. } => channels.iter().skip(1).copied().collect(),
            ModelSpec::Wrn { widen, .. } => vec![16 * widen, 32 * widen, 64 * widen],
            ModelSpec::Vgg { .. } => vgg::WIDTHS.to_vec(),
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
                let side = height.min(width);
                let smallest = u32::try_from(channels.len()).ok().and_then(|n| side.checked_shr(n)).unwrap_or(0);
                if smallest == 0 {
                    return Err(match side.checked_ilog2() {
                        Some(most) => format!(
                            "{} pooling blocks shrink {height}×{width} images to nothing; use at most {most}",
                            channels.len()
                        ),
                        None => format!("images of {height}×{width} pixels hold nothing to convolve"),
                    });
                }
                Ok(())
            }
            ModelSpec::Resnet { .. } | ModelSpec::Wrn { .. } | ModelSpec::Vgg { .. } => {
                self.check_structure().map_err(|(field, expected)| format!("`{field}`: {expected}"))?;
                let InputShape::Image { height, width, .. } = shape else {
                    return Err(format!("a {} needs image data", self.describe()));
                };
                let smallest = if matches!(self, ModelSpec::Vgg { .. }) { 16 } else { 4 };
                if height.min(width) < smallest {
                    return Err(format!("a {} needs images of at least {smallest}×{smallest}", self.describe()));
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
                let pooled = |side: usize| side.checked_shr(channels.len() as u32).unwrap_or(0);
                channels.last().copied().unwrap_or(1) * pooled(height) * pooled(width)
            }),
            ModelSpec::Resnet { .. } | ModelSpec::Wrn { .. } | ModelSpec::Vgg { .. } => {
                self.block_channels().last().copied().unwrap_or(0)
            }
        }
    }

    /// Builds the network with fresh parameters on `device`.
    pub fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Network {
        match self {
            ModelSpec::Mlp { hidden } => Network::Mlp(Mlp::new(shape.len(), hidden, classes, device)),
            ModelSpec::Cnn { channels, hidden } => Network::Cnn(Cnn::new(shape, channels, hidden, classes, device)),
            ModelSpec::Resnet { depth, channels } => {
                let widths = [0, 1, 2, 3].map(|i| channels.get(i).copied().unwrap_or(1));
                residual(shape, widths, (depth - 2) / 6, false, classes, device)
            }
            ModelSpec::Wrn { depth, widen } => {
                residual(shape, [16, 16 * widen, 32 * widen, 64 * widen], (depth - 4) / 6, true, classes, device)
            }
            ModelSpec::Vgg { depth } => Network::Vgg(vgg::Vgg::new(image_dims(shape), *depth, classes, device)),
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

/// A network of any family. (Its size is that of the largest, a ResNet's few hundred bytes of
/// layer handles, moved once per optimizer step: not worth a box.)
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum Network {
    Mlp(Mlp),
    Cnn(Cnn),
    /// ResNet or WRN.
    Residual(resnet::ResNet),
    Vgg(vgg::Vgg),
}

impl Network {
    /// Runs the network on flat inputs `[batch, features]`.
    pub fn forward(&self, input: Tensor<2>) -> Forward {
        match self {
            Network::Mlp(mlp) => mlp.forward(input),
            Network::Cnn(cnn) => cnn.forward(input),
            Network::Residual(network) => network.forward(input),
            Network::Vgg(network) => network.forward(input),
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

    /// Sizes of RepDistiller's CIFAR-100 models, counted with PyTorch: `parameters()` (1,233,540
    /// for resnet8x4, the published 1.23 M) plus the batch norms' running means and variances,
    /// which burn's `num_params` counts too.
    #[test]
    fn the_cifar_papers_models_have_their_parameter_counts() {
        let device = Device::flex();
        let cifar = InputShape::Image { channels: 3, height: 32, width: 32 };
        let wide = vec![32, 64, 128, 256];
        let cases = [
            (ModelSpec::Resnet { depth: 8, channels: wide.clone() }, 1_236_292),
            (ModelSpec::Resnet { depth: 32, channels: wide }, 7_443_780),
            (ModelSpec::Resnet { depth: 20, channels: default_resnet_channels() }, 279_892),
            (ModelSpec::Wrn { depth: 40, widen: 2 }, 2_260_564),
            (ModelSpec::Wrn { depth: 16, widen: 2 }, 705_108),
            (ModelSpec::Vgg { depth: 8 }, 3_967_972),
            (ModelSpec::Vgg { depth: 13 }, 9_468_068),
        ];
        for (spec, params) in cases {
            assert_eq!(spec.init(cifar, 100, &device).num_params(), params, "{}", spec.describe());
        }
    }

    /// Each network's feature maps and embedding have the shapes its spec announces (what AT,
    /// FitNets and the views rely on), on CIFAR-sized and on odd-sized images.
    #[test]
    fn feature_maps_have_the_announced_shapes() {
        let device = Device::flex();
        let specs = [
            ModelSpec::Cnn { channels: vec![4, 8], hidden: vec![] },
            ModelSpec::Resnet { depth: 8, channels: vec![4, 4, 8, 16] },
            ModelSpec::Wrn { depth: 10, widen: 1 },
            ModelSpec::Vgg { depth: 8 },
        ];
        for shape in [
            InputShape::Image { channels: 3, height: 32, width: 32 },
            InputShape::Image { channels: 1, height: 28, width: 28 },
        ] {
            for spec in &specs {
                let out = spec.init(shape, 10, &device).forward(Tensor::zeros([2, shape.len()], &device));
                let shapes: Vec<[usize; 3]> = out
                    .feature_maps
                    .iter()
                    .map(|m| {
                        let [_, c, h, w] = m.dims();
                        [c, h, w]
                    })
                    .collect();
                assert_eq!(shapes, spec.feature_shapes(shape), "{} on {shape:?}", spec.describe());
                assert_eq!(out.embedding.dims(), [2, spec.embedding_width(shape)], "{}", spec.describe());
                assert_eq!(out.logits.dims(), [2, 10]);
            }
        }
    }

    /// Batch norm learns its statistics in training only: a forward pass on the autodiff device
    /// moves the running mean, one on the plain device (evaluation) does not.
    #[test]
    fn batch_norm_statistics_move_in_training_only() {
        let device = Device::flex().autodiff();
        let shape = InputShape::Image { channels: 3, height: 8, width: 8 };
        let network = ModelSpec::Resnet { depth: 8, channels: vec![2, 2, 2, 2] }.init(shape, 3, &device);
        let inputs = Tensor::<2>::ones([4, shape.len()], &device).mul_scalar(5.0);
        let evaluated = network.valid();
        let before = evaluated.forward(inputs.clone().inner()).logits.into_data();
        assert_eq!(evaluated.forward(inputs.clone().inner()).logits.into_data(), before, "evaluation changes nothing");
        let _ = network.forward(inputs.clone());
        let after = network.valid().forward(inputs.inner()).logits.into_data();
        assert_ne!(after, before, "a training pass moved the running statistics");
    }

    #[test]
    fn bad_architectures_are_explained() {
        let depth_of = |spec: ModelSpec| spec.check_structure().err().map(|(field, _)| field);
        assert_eq!(depth_of(ModelSpec::Resnet { depth: 9, channels: default_resnet_channels() }), Some("depth"));
        assert_eq!(depth_of(ModelSpec::Resnet { depth: 6 * 1_000_000 + 2, channels: vec![16; 4] }), Some("depth"));
        assert_eq!(depth_of(ModelSpec::Resnet { depth: 8, channels: vec![16, 16, 1 << 40, 64] }), Some("channels"));
        assert_eq!(depth_of(ModelSpec::Wrn { depth: 16, widen: 1 << 40 }), Some("widen"));
        assert_eq!(depth_of(ModelSpec::Vgg { depth: 12 }), Some("depth"));
        assert_eq!(depth_of(ModelSpec::Resnet { depth: 1202, channels: default_resnet_channels() }), None);
        let image = InputShape::Image { channels: 1, height: 8, width: 8 };
        assert!(ModelSpec::Mlp { hidden: vec![] }.check(image).is_err());
        assert!(ModelSpec::Cnn { channels: vec![4, 4, 4, 4], hidden: vec![] }.check(image).is_err());
        assert!(ModelSpec::Cnn { channels: vec![4], hidden: vec![] }.check(InputShape::Flat { features: 2 }).is_err());
    }
}
