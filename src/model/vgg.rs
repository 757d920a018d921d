//! VGG with batch norm (Simonyan & Zisserman 2015) as the CIFAR distillation papers use it
//! (RepDistiller's `vgg8` … `vgg19`): five groups of 3×3 conv + batch norm + ReLU layers, a 2×2
//! max-pool after each of the first four, global average pooling (the penultimate embedding) and
//! a linear classifier. Its feature maps are the five groups' outputs.

use super::arch::{Architecture, Build, Forward, Forwards, image_dims};
use super::footprint::Footprint;
use super::resnet::global_average;
use crate::data::InputShape;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// The depths there are and the layers of each group at that depth.
pub(crate) const DEPTHS: [(usize, [usize; 5]); 5] =
    [(8, [1, 1, 1, 1, 1]), (11, [1, 1, 2, 2, 2]), (13, [2, 2, 2, 2, 2]), (16, [2, 2, 3, 3, 3]), (19, [2, 2, 4, 4, 4])];
/// Each group's channels.
pub(crate) const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// One 3×3 conv + batch norm + ReLU layer.
#[derive(Module, Debug)]
struct Layer {
    conv: Conv2d,
    norm: BatchNorm,
}

/// A VGG network.
#[derive(Module, Debug)]
pub(crate) struct Vgg {
    groups: Vec<Vec<Layer>>,
    pool: MaxPool2d,
    output: Linear,
    channels: usize,
    height: usize,
    width: usize,
}

/// The layers per group of a VGG `depth`, if there is one.
pub(crate) fn layers_of(depth: usize) -> Option<[usize; 5]> {
    DEPTHS.iter().find(|(d, _)| *d == depth).map(|(_, layers)| *layers)
}

impl Vgg {
    pub(crate) fn new([channels, height, width]: [usize; 3], depth: usize, classes: usize, device: &Device) -> Vgg {
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
}

impl Forwards for Vgg {
    fn forward(&self, input: Tensor<2>) -> Forward {
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
        Forward::classifier(self.output.forward(embedding.clone()), embedding, feature_maps)
    }
}

/// `[models.NAME] arch = "vgg"`: VGG with batch norm, `depth` 8, 11, 13, 16 or 19.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) depth: usize,
}

impl Architecture for Spec {
    fn describe(&self) -> String {
        format!("vgg{}", self.depth)
    }

    fn size_field(&self) -> &'static str {
        "depth"
    }

    fn check_structure(&self) -> Result<(), (&'static str, String)> {
        match layers_of(self.depth) {
            Some(_) => Ok(()),
            None => Err(("depth", format!("expected 8, 11, 13, 16 or 19, found {}", self.depth))),
        }
    }

    fn check(&self, shape: InputShape) -> Result<(), String> {
        self.check_structure().map_err(|(field, expected)| format!("`{field}`: {expected}"))?;
        let InputShape::Image { height, width, .. } = shape else {
            return Err(format!("a {} needs image data", self.describe()));
        };
        if height.min(width) < 16 {
            return Err(format!("a {} needs images of at least 16×16", self.describe()));
        }
        Ok(())
    }

    fn block_channels(&self) -> Vec<usize> {
        WIDTHS.to_vec()
    }

    fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]> {
        let [_, height, width] = image_dims(shape);
        // A 2×2 max-pool before each group but the first (rounding down).
        let side = |length: usize, i: usize| length.checked_shr(i as u32).unwrap_or(0);
        WIDTHS.iter().enumerate().map(|(i, &c)| [c, side(height, i), side(width, i)]).collect()
    }

    fn embedding_width(&self, _: InputShape) -> usize {
        WIDTHS[4]
    }

    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        let layers = layers_of(self.depth)?;
        let [channels, height, width] = image_dims(shape).map(|d| d as u64);
        let mut tally = Footprint::default();
        let (mut inputs, mut side) = (channels, [height, width]);
        for (group, (&count, outputs)) in layers.iter().zip(WIDTHS).enumerate() {
            if group > 0 {
                side = side.map(|s| s / 2);
            }
            for _ in 0..count {
                tally.conv(3, inputs, outputs as u64, true, side)?;
                tally.norm(outputs as u64, side)?;
                inputs = outputs as u64;
            }
        }
        tally.linear(inputs, classes as u64)?;
        Some(tally)
    }
}

impl Build for Spec {
    type Network = Vgg;

    fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Vgg {
        Vgg::new(image_dims(shape), self.depth, classes, device)
    }
}
