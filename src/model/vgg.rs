//! VGG with batch norm (Simonyan & Zisserman 2015) as the CIFAR distillation papers use it
//! (RepDistiller's `vgg8` … `vgg19`): five groups of 3×3 conv + batch norm + ReLU layers, a 2×2
//! max-pool after each of the first four, global average pooling (the penultimate embedding) and
//! a linear classifier. Its feature maps are the five groups' outputs.

use super::Forward;
use super::resnet::global_average;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};

/// The depths there are and the layers of each group at that depth.
pub const DEPTHS: [(usize, [usize; 5]); 5] =
    [(8, [1, 1, 1, 1, 1]), (11, [1, 1, 2, 2, 2]), (13, [2, 2, 2, 2, 2]), (16, [2, 2, 3, 3, 3]), (19, [2, 2, 4, 4, 4])];
/// Each group's channels.
pub const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// One 3×3 conv + batch norm + ReLU layer.
#[derive(Module, Debug)]
struct Layer {
    conv: Conv2d,
    norm: BatchNorm,
}

/// A VGG network.
#[derive(Module, Debug)]
pub struct Vgg {
    groups: Vec<Vec<Layer>>,
    pool: MaxPool2d,
    output: Linear,
    channels: usize,
    height: usize,
    width: usize,
}

/// The layers per group of a VGG `depth`, if there is one.
pub fn layers_of(depth: usize) -> Option<[usize; 5]> {
    DEPTHS.iter().find(|(d, _)| *d == depth).map(|(_, layers)| *layers)
}

impl Vgg {
    pub fn new([channels, height, width]: [usize; 3], depth: usize, classes: usize, device: &Device) -> Vgg {
        let layers = layers_of(depth).unwrap_or(DEPTHS[0].1);
        let mut in_channels = channels;
        let groups = layers
            .iter()
            .zip(WIDTHS)
            .map(|(&count, out_channels)| {
                (0..count)
                    .map(|_| {
                        let conv = Conv2dConfig::new([in_channels, out_channels], [3, 3])
                            .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                            .init(device);
                        in_channels = out_channels;
                        Layer { conv, norm: BatchNormConfig::new(out_channels).init(device) }
                    })
                    .collect()
            })
            .collect();
        Vgg {
            groups,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            output: LinearConfig::new(WIDTHS[4], classes).init(device),
            channels,
            height,
            width,
        }
    }

    pub fn forward(&self, input: Tensor<2>) -> Forward {
        let [batch, _] = input.dims();
        let mut x: Tensor<4> = input.reshape([batch, self.channels, self.height, self.width]);
        let mut feature_maps = Vec::with_capacity(self.groups.len());
        for (index, group) in self.groups.iter().enumerate() {
            if index > 0 {
                x = self.pool.forward(x);
            }
            for layer in group {
                x = relu(layer.norm.forward(layer.conv.forward(x)));
            }
            feature_maps.push(x.clone());
        }
        let embedding = global_average(x);
        Forward { logits: self.output.forward(embedding.clone()), embedding, feature_maps }
    }
}
