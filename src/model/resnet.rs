//! The residual networks of the CIFAR distillation papers, as RepDistiller builds them:
//! - CIFAR ResNet (He et al. 2016): a 3×3 stem, three stages of basic blocks (3×3 conv, batch
//!   norm, ReLU, 3×3 conv, batch norm, plus the shortcut — a 1×1 conv and batch norm where the
//!   shape changes), the second and third stages halving the map; depth `6n + 2`.
//! - Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016): pre-activation blocks (batch norm, ReLU,
//!   conv), stage widths `16k, 32k, 64k`, depth `6n + 4`.
//!
//! Both end in global average pooling (the penultimate embedding) and a linear classifier; their
//! feature maps are the three stages' outputs, the maps AT and FitNets match.

use super::Forward;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

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
pub struct ResNet {
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
    pub fn new(
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

    pub fn forward(&self, input: Tensor<2>) -> Forward {
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
        Forward { logits: self.output.forward(embedding.clone()), embedding, feature_maps }
    }
}

/// The mean of each channel's map: `[batch, channels, h, w]` to `[batch, channels]`.
pub fn global_average(x: Tensor<4>) -> Tensor<2> {
    let [batch, channels, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([batch, channels])
}
