//! Wide ResNet WRN-d-k (Zagoruyko & Komodakis 2016): pre-activation blocks (batch norm, ReLU,
//! conv), stage widths `16k, 32k, 64k`, depth `6n + 4`; built by the residual network of
//! `resnet.rs`.

use super::arch::{Architecture, Build, MAX_CHANNELS, MAX_DEPTH, image_dims};
use super::footprint::Footprint;
use super::resnet::{ResNet, check_images, residual_footprint, stage_shapes};
use crate::data::InputShape;
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

/// `[models.NAME] arch = "wrn"`: Wide ResNet WRN-`depth`-`widen`, `depth` = 6n + 4.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) depth: usize,
    #[serde(default = "default_widen")]
    pub(crate) widen: usize,
}

fn default_widen() -> usize {
    1
}

impl Spec {
    fn widths(&self) -> [usize; 4] {
        [16, 16 * self.widen, 32 * self.widen, 64 * self.widen]
    }
}

impl Architecture for Spec {
    fn describe(&self) -> String {
        format!("wrn-{}-{}", self.depth, self.widen)
    }

    fn size_field(&self) -> &'static str {
        "widen"
    }

    fn check_structure(&self) -> Result<(), (&'static str, String)> {
        let depth = self.depth;
        if !(10..=MAX_DEPTH).contains(&depth) || !(depth - 4).is_multiple_of(6) {
            return Err(("depth", format!("expected 6n + 4 up to {MAX_DEPTH} (10, 16, 22, 28, 40), found {depth}")));
        }
        if self.widen == 0 || self.widen.checked_mul(64).is_none_or(|w| w > MAX_CHANNELS) {
            return Err(("widen", format!("expected a widening factor from 1 to {}", MAX_CHANNELS / 64)));
        }
        Ok(())
    }

    fn check(&self, shape: InputShape) -> Result<(), String> {
        self.check_structure().map_err(|(field, expected)| format!("`{field}`: {expected}"))?;
        check_images(self.describe(), shape)
    }

    fn block_channels(&self) -> Vec<usize> {
        vec![16 * self.widen, 32 * self.widen, 64 * self.widen]
    }

    fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]> {
        stage_shapes(self.block_channels(), shape)
    }

    fn embedding_width(&self, _: InputShape) -> usize {
        64 * self.widen
    }

    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        let widen = self.widen as u64;
        let widths = [16, 16u64.checked_mul(widen)?, 32u64.checked_mul(widen)?, 64u64.checked_mul(widen)?];
        let blocks = (self.depth.saturating_sub(4) / 6) as u64;
        residual_footprint(shape, widths, blocks, true, classes)
    }
}

impl Build for Spec {
    type Network = ResNet;

    fn init(&self, shape: InputShape, classes: usize, device: &Device) -> ResNet {
        ResNet::new(image_dims(shape), self.widths(), (self.depth - 4) / 6, true, classes, device)
    }
}
