//! The residual networks of the CIFAR distillation papers, as RepDistiller builds them (the
//! network here serves both; `wrn.rs` declares the wide variant):
//! - CIFAR ResNet (He et al. 2016): a 3×3 stem, three stages of basic blocks (3×3 conv, batch
//!   norm, ReLU, 3×3 conv, batch norm, plus the shortcut — a 1×1 conv and batch norm where the
//!   shape changes), the second and third stages halving the map; depth `6n + 2`.
//! - Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016): pre-activation blocks (batch norm, ReLU,
//!   conv), stage widths `16k, 32k, 64k`, depth `6n + 4`.
//!
//! Both end in global average pooling (the penultimate embedding) and a linear classifier; their
//! feature maps are the three stages' outputs, the maps AT and FitNets match.

use super::arch::{Architecture, Build, Forward, Forwards, MAX_CHANNELS, MAX_DEPTH, image_dims, list};
use super::footprint::Footprint;
use crate::data::InputShape;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// A 3×3 (or 1×1) convolution without bias (a batch norm follows), stride `stride`.
fn conv(in_channels: usize, out_channels: usize, kernel: usize, stride: usize, device: &Device) -> Conv2d {
    let pad = kernel / 2;
    Conv2dConfig::new([in_channels, out_channels], [kernel, kernel])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_bias(false)
        .init(device)
}

fn norm(channels: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(channels).init(device)
}

/// The shortcut of a block whose input and output shapes differ: 1×1 conv (and, post-activation,
/// batch norm).
#[derive(Module, Debug)]
struct Projection {
    conv: Conv2d,
    norm: Option<BatchNorm>,
}

impl Projection {
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.conv.forward(x);
        match &self.norm {
            Some(norm) => norm.forward(x),
            None => x,
        }
    }
}

/// A basic block: two 3×3 convolutions with batch norm, and the shortcut.
#[derive(Module, Debug)]
struct Block {
    conv1: Conv2d,
    norm1: BatchNorm,
    conv2: Conv2d,
    norm2: BatchNorm,
    shortcut: Option<Projection>,
    /// Pre-activation (WRN): norm1 and norm2 come before the convolutions.
    pre_activation: bool,
}

impl Block {
    fn new(in_channels: usize, out_channels: usize, stride: usize, pre_activation: bool, device: &Device) -> Block {
        let shortcut = (stride != 1 || in_channels != out_channels).then(|| Projection {
            conv: conv(in_channels, out_channels, 1, stride, device),
            norm: (!pre_activation).then(|| norm(out_channels, device)),
        });
        Block {
            conv1: conv(in_channels, out_channels, 3, stride, device),
            norm1: norm(if pre_activation { in_channels } else { out_channels }, device),
            conv2: conv(out_channels, out_channels, 3, 1, device),
            norm2: norm(out_channels, device),
            shortcut,
            pre_activation,
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        if self.pre_activation {
            // WRN: the shortcut of a changing block starts from the activated input.
            let activated = relu(self.norm1.forward(x.clone()));
            let residual = self.conv2.forward(relu(self.norm2.forward(self.conv1.forward(activated.clone()))));
            let identity = match &self.shortcut {
                Some(projection) => projection.forward(activated),
                None => x,
            };
            return residual + identity;
        }
        let residual = self.norm2.forward(self.conv2.forward(relu(self.norm1.forward(self.conv1.forward(x.clone())))));
        let identity = match &self.shortcut {
            Some(projection) => projection.forward(x),
            None => x,
        };
        relu(residual + identity)
    }
}

/// A CIFAR ResNet or a WRN.
#[derive(Module, Debug)]
pub(crate) struct ResNet {
    stem: Conv2d,
    /// The stem's batch norm (ResNet), or the final one before pooling (WRN).
    stem_norm: BatchNorm,
    stages: Vec<Vec<Block>>,
    output: Linear,
    pre_activation: bool,
    channels: usize,
    height: usize,
    width: usize,
}

impl ResNet {
    /// `widths`: the stem's then the three stages' channels; `blocks` per stage.
    pub(crate) fn new(
        [channels, height, width]: [usize; 3],
        widths: [usize; 4],
        blocks: usize,
        pre_activation: bool,
        classes: usize,
        device: &Device,
    ) -> ResNet {
        let mut in_channels = widths[0];
        let mut stages = Vec::with_capacity(3);
        for (stage, &out_channels) in widths[1..].iter().enumerate() {
            let stride = if stage == 0 { 1 } else { 2 };
            let mut group = Vec::with_capacity(blocks);
            for block in 0..blocks {
                let first = block == 0;
                group.push(Block::new(
                    in_channels,
                    out_channels,
                    if first { stride } else { 1 },
                    pre_activation,
                    device,
                ));
                in_channels = out_channels;
            }
            stages.push(group);
        }
        ResNet {
            stem: conv(channels, widths[0], 3, 1, device),
            stem_norm: norm(if pre_activation { widths[3] } else { widths[0] }, device),
            stages,
            output: LinearConfig::new(widths[3], classes).init(device),
            pre_activation,
            channels,
            height,
            width,
        }
    }
}

impl Forwards for ResNet {
    fn forward(&self, input: Tensor<2>) -> Forward {
        let [batch, _] = input.dims();
        let x: Tensor<4> = input.reshape([batch, self.channels, self.height, self.width]);
        let mut x = self.stem.forward(x);
        if !self.pre_activation {
            x = relu(self.stem_norm.forward(x));
        }
        let mut feature_maps = Vec::with_capacity(self.stages.len());
        let last = self.stages.len().saturating_sub(1);
        for (index, stage) in self.stages.iter().enumerate() {
            for block in stage {
                x = block.forward(x);
            }
            if self.pre_activation && index == last {
                x = relu(self.stem_norm.forward(x));
            }
            feature_maps.push(x.clone());
        }
        let embedding = global_average(x);
        Forward::classifier(self.output.forward(embedding.clone()), embedding, feature_maps)
    }
}

/// The mean of each channel's map: `[batch, channels, h, w]` to `[batch, channels]`.
pub(crate) fn global_average(x: Tensor<4>) -> Tensor<2> {
    let [batch, channels, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([batch, channels])
}

/// `[models.NAME] arch = "resnet"`: CIFAR ResNet, `depth` = 6n + 2; `channels`: the stem's then
/// the three stages' widths.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Resnet {
    pub(crate) depth: usize,
    #[serde(default = "default_resnet_channels")]
    pub(crate) channels: Vec<usize>,
}

/// The CIFAR ResNet paper's widths.
pub(crate) fn default_resnet_channels() -> Vec<usize> {
    vec![16, 16, 32, 64]
}

impl Resnet {
    fn widths(&self) -> [usize; 4] {
        [0, 1, 2, 3].map(|i| self.channels.get(i).copied().unwrap_or(1))
    }
}

/// A residual network needs images, and not too small ones.
pub(super) fn check_images(describe: String, shape: InputShape) -> Result<(), String> {
    let InputShape::Image { height, width, .. } = shape else {
        return Err(format!("a {describe} needs image data"));
    };
    if height.min(width) < 4 {
        return Err(format!("a {describe} needs images of at least 4×4"));
    }
    Ok(())
}

/// `[channels, h, w]` of the three stages' maps: the second and third halve the map (a stride-2
/// conv, rounding up).
pub(super) fn stage_shapes(channels: Vec<usize>, shape: InputShape) -> Vec<[usize; 3]> {
    let [_, height, width] = image_dims(shape);
    let side = |length: usize, i: usize| (0..i).fold(length, |l, _| l.div_ceil(2));
    channels.into_iter().enumerate().map(|(i, c)| [c, side(height, i), side(width, i)]).collect()
}

impl Architecture for Resnet {
    fn describe(&self) -> String {
        format!("resnet{}[{}]", self.depth, list(&self.channels))
    }

    fn size_field(&self) -> &'static str {
        "channels"
    }

    fn check_structure(&self) -> Result<(), (&'static str, String)> {
        let depth = self.depth;
        if !(8..=MAX_DEPTH).contains(&depth) || !(depth - 2).is_multiple_of(6) {
            return Err((
                "depth",
                format!("expected 6n + 2 up to {MAX_DEPTH} (8, 14, 20, 32, 44, 56, 110, 1202), found {depth}"),
            ));
        }
        if self.channels.len() != 4 || self.channels.iter().any(|&c| c == 0 || c > MAX_CHANNELS) {
            return Err((
                "channels",
                format!("expected 4 widths from 1 to {MAX_CHANNELS}: the stem's and the three stages'"),
            ));
        }
        Ok(())
    }

    fn check(&self, shape: InputShape) -> Result<(), String> {
        self.check_structure().map_err(|(field, expected)| format!("`{field}`: {expected}"))?;
        check_images(self.describe(), shape)
    }

    fn block_channels(&self) -> Vec<usize> {
        self.channels.iter().skip(1).copied().collect()
    }

    fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]> {
        stage_shapes(self.block_channels(), shape)
    }

    fn embedding_width(&self, _: InputShape) -> usize {
        self.block_channels().last().copied().unwrap_or(0)
    }

    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        let widths = self.widths().map(|w| w as u64);
        let blocks = (self.depth.saturating_sub(2) / 6) as u64;
        residual_footprint(shape, widths, blocks, false, classes)
    }
}

impl Build for Resnet {
    type Network = ResNet;

    fn init(&self, shape: InputShape, classes: usize, device: &Device) -> ResNet {
        ResNet::new(image_dims(shape), self.widths(), (self.depth - 2) / 6, false, classes, device)
    }
}

/// A residual network's sizes: its stem and stages, then the classifier.
pub(super) fn residual_footprint(
    shape: InputShape,
    widths: [u64; 4],
    blocks: u64,
    pre_activation: bool,
    classes: usize,
) -> Option<Footprint> {
    let mut tally = Footprint::default();
    residual(&mut tally, image_dims(shape).map(|d| d as u64), widths, blocks, pre_activation)?;
    tally.linear(widths[3], classes as u64)?;
    Some(tally)
}

/// The stem and three stages of a CIFAR ResNet (`pre_activation`: a WRN), as `resnet` builds them.
fn residual(
    tally: &mut Footprint,
    [channels, height, width]: [u64; 3],
    widths: [u64; 4],
    blocks: u64,
    pre_activation: bool,
) -> Option<()> {
    let mut side = [height, width];
    tally.conv(3, channels, widths[0], false, side)?;
    tally.norm(if pre_activation { widths[3] } else { widths[0] }, side)?;
    let mut inputs = widths[0];
    for (stage, &outputs) in widths[1..].iter().enumerate() {
        for block in 0..blocks {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let input_side = side;
            side = side.map(|s| s.div_ceil(stride));
            tally.conv(3, inputs, outputs, false, side)?;
            tally
                .norm(if pre_activation { inputs } else { outputs }, if pre_activation { input_side } else { side })?;
            tally.conv(3, outputs, outputs, false, side)?;
            tally.norm(outputs, side)?;
            if stride != 1 || inputs != outputs {
                tally.conv(1, inputs, outputs, false, side)?;
                if !pre_activation {
                    tally.norm(outputs, side)?;
                }
            }
            inputs = outputs;
        }
    }
    Some(())
}
