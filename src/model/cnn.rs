//! `arch = "cnn"`: one block per entry of `channels` — 3×3 convolution (padding 1) + ReLU +
//! 2×2 max-pool, fused on the CPU ([`super::conv_block`]) — then dense layers of the `hidden`
//! widths and the classifier. Its feature maps are the blocks' outputs.

use super::arch::{Architecture, Build, Forward, Forwards, check_widths, image_dims, list};
use super::conv_block;
use super::footprint::{Footprint, area};
use super::mlp::{dense_stack, run_dense};
use crate::data::InputShape;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// `[models.NAME] arch = "cnn"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) channels: Vec<usize>,
    #[serde(default)]
    pub(crate) hidden: Vec<usize>,
}

impl Architecture for Spec {
    fn describe(&self) -> String {
        match self.hidden.is_empty() {
            true => format!("cnn[{}]", list(&self.channels)),
            false => format!("cnn[{}]+fc[{}]", list(&self.channels), list(&self.hidden)),
        }
    }

    fn size_field(&self) -> &'static str {
        if self.hidden.iter().max() > self.channels.iter().max() { "hidden" } else { "channels" }
    }

    fn check_structure(&self) -> Result<(), (&'static str, String)> {
        if self.hidden.contains(&0) {
            return Err(("hidden", "expected widths ≥ 1".into()));
        }
        if self.channels.is_empty() {
            return Err(("channels", "expected a non-empty list of widths, e.g. [64]".into()));
        }
        if self.channels.contains(&0) {
            return Err(("channels", "expected widths ≥ 1".into()));
        }
        Ok(())
    }

    fn check(&self, shape: InputShape) -> Result<(), String> {
        check_widths("channels", &self.channels, false)?;
        check_widths("hidden", &self.hidden, true)?;
        let InputShape::Image { height, width, .. } = shape else {
            return Err("a cnn needs image data; use arch = \"mlp\" for tabular or 2-D data".into());
        };
        let side = height.min(width);
        let smallest = u32::try_from(self.channels.len()).ok().and_then(|n| side.checked_shr(n)).unwrap_or(0);
        if smallest == 0 {
            return Err(match side.checked_ilog2() {
                Some(most) => format!(
                    "{} pooling blocks shrink {height}×{width} images to nothing; use at most {most}",
                    self.channels.len()
                ),
                None => format!("images of {height}×{width} pixels hold nothing to convolve"),
            });
        }
        Ok(())
    }

    fn block_channels(&self) -> Vec<usize> {
        self.channels.clone()
    }

    fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]> {
        let [_, height, width] = image_dims(shape);
        // Each block pools its map (2×2, rounding down).
        let side = |length: usize, i: usize| length.checked_shr(i as u32 + 1).unwrap_or(0);
        self.channels.iter().enumerate().map(|(i, &c)| [c, side(height, i), side(width, i)]).collect()
    }

    fn embedding_width(&self, shape: InputShape) -> usize {
        self.hidden.last().copied().unwrap_or_else(|| {
            let [_, height, width] = image_dims(shape);
            let pooled = |side: usize| side.checked_shr(self.channels.len() as u32).unwrap_or(0);
            self.channels.last().copied().unwrap_or(1) * pooled(height) * pooled(width)
        })
    }

    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        let [channels, height, width] = image_dims(shape).map(|d| d as u64);
        let mut tally = Footprint::default();
        let (mut inputs, mut side) = (channels, [height, width]);
        for &outputs in &self.channels {
            tally.conv(3, inputs, outputs as u64, true, side)?;
            side = side.map(|s| s / 2);
            inputs = outputs as u64;
        }
        let hidden: Vec<u64> = self.hidden.iter().map(|&w| w as u64).collect();
        tally.dense(area(inputs, side)?, &hidden, classes as u64)?;
        Some(tally)
    }
}

impl Build for Spec {
    type Network = Net;

    fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Net {
        let [channels, height, width] = image_dims(shape);
        let mut convs = Vec::with_capacity(self.channels.len());
        let mut in_channels = channels;
        for &out_channels in &self.channels {
            convs.push(
                Conv2dConfig::new([in_channels, out_channels], [3, 3])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device),
            );
            in_channels = out_channels;
        }
        let blocks = self.channels.len();
        let flat = in_channels * (height >> blocks) * (width >> blocks);
        let (dense, last) = dense_stack(flat, &self.hidden, device);
        Net {
            convs,
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dense,
            output: LinearConfig::new(last, classes).init(device),
            channels,
            height,
            width,
        }
    }
}

/// A small convolutional network.
#[derive(Module, Debug)]
pub(crate) struct Net {
    convs: Vec<Conv2d>,
    pool: MaxPool2d,
    dense: Vec<Linear>,
    output: Linear,
    channels: usize,
    height: usize,
    width: usize,
}

impl Forwards for Net {
    fn forward(&self, input: Tensor<2>) -> Forward {
        let [batch, _] = input.dims();
        let mut x: Tensor<4> = input.reshape([batch, self.channels, self.height, self.width]);
        let mut feature_maps = Vec::with_capacity(self.convs.len());
        for conv in &self.convs {
            x = conv_block::forward(conv, &self.pool, x);
            feature_maps.push(x.clone());
        }
        let embedding = run_dense(&self.dense, x.flatten::<2>(1, 3));
        Forward::classifier(self.output.forward(embedding.clone()), embedding, feature_maps)
    }
}
