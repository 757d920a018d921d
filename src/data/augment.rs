//! Training-time augmentation of image batches as the CIFAR training scripts apply it: a random
//! crop of the image padded with `crop_padding` pixels of black on every side, and a random
//! horizontal flip. Each batch's draws come from a seed (the stage's seed and the step), so a
//! run, its fork and its rerun see the same augmented batches whichever thread prepares them.

use super::InputShape;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// `[data.augment]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Augment {
    /// Pixels of padding around each image before a random crop of its size (0: no crop).
    #[serde(default)]
    pub(crate) crop_padding: usize,
    /// Whether half of the images are mirrored left to right.
    #[serde(default)]
    pub(crate) flip: bool,
}

/// One image's draw: its crop offset (in the padded image) and whether it is mirrored.
#[derive(Debug, Clone, Copy)]
struct Draw {
    dy: usize,
    dx: usize,
    flip: bool,
}

impl Augment {
    /// Whether this changes anything.
    pub(crate) fn is_active(&self) -> bool {
        self.crop_padding > 0 || self.flip
    }

    /// The examples `rows` of `features` (row-major images of `shape`) augmented, row-major.
    /// `black` is the value a black pixel has after standardisation (the padding).
    pub(crate) fn batch(&self, features: &[f32], rows: &[usize], shape: InputShape, black: f32, seed: u64) -> Vec<f32> {
        let InputShape::Image { channels, height, width } = shape else {
            return rows.iter().flat_map(|&r| features[r * shape.len()..][..shape.len()].iter().copied()).collect();
        };
        let mut rng = StdRng::seed_from_u64(seed);
        let span = 2 * self.crop_padding + 1;
        let draws: Vec<Draw> = rows
            .iter()
            .map(|_| Draw {
                dy: rng.random_range(0..span),
                dx: rng.random_range(0..span),
                flip: self.flip && rng.random_bool(0.5),
            })
            .collect();
        let len = shape.len();
        let mut out = vec![0f32; rows.len() * len];
        out.par_chunks_mut(len.max(1)).zip(rows.par_iter().zip(&draws)).for_each(|(image, (&row, draw))| {
            let source = &features[row * len..][..len];
            for channel in 0..channels {
                let plane = channel * height * width;
                for y in 0..height {
                    // The source row of this output row: the padded image's row `y + dy`.
                    let from_y = (y + draw.dy).checked_sub(self.crop_padding).filter(|&s| s < height);
                    for x in 0..width {
                        let column = if draw.flip { width - 1 - x } else { x };
                        let from_x = (column + draw.dx).checked_sub(self.crop_padding).filter(|&s| s < width);
                        image[plane + y * width + x] = match (from_y, from_x) {
                            (Some(sy), Some(sx)) => source[plane + sy * width + sx],
                            _ => black,
                        };
                    }
                }
            }
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: InputShape = InputShape::Image { channels: 2, height: 3, width: 4 };

    fn images() -> Vec<f32> {
        (0..3 * SHAPE.len()).map(|v| v as f32).collect()
    }

    #[test]
    fn no_augmentation_is_the_plain_gather() {
        let plain = Augment::default().batch(&images(), &[2, 0], SHAPE, -1.0, 7);
        let expected: Vec<f32> = [2usize, 0].iter().flat_map(|&r| (r * 24..r * 24 + 24).map(|v| v as f32)).collect();
        assert_eq!(plain, expected);
    }

    #[test]
    fn flips_mirror_rows_and_crops_shift_in_black() {
        let flip = Augment { crop_padding: 0, flip: true };
        let rows = vec![1; 64];
        let batch = flip.batch(&images(), &rows, SHAPE, -1.0, 3);
        let original: Vec<f32> = (24..48).map(|v| v as f32).collect();
        let mirrored: Vec<f32> = original.chunks(4).flat_map(|row| row.iter().rev().copied()).collect();
        let flipped = batch.chunks(24).filter(|image| *image == mirrored.as_slice()).count();
        let kept = batch.chunks(24).filter(|image| *image == original.as_slice()).count();
        assert_eq!(flipped + kept, 64, "each image is the original or its mirror");
        assert!(flipped > 16 && kept > 16, "about half flipped: {flipped}");

        let crop = Augment { crop_padding: 1, flip: false };
        let batch = crop.batch(&images(), &rows, SHAPE, -1.0, 3);
        for image in batch.chunks(24) {
            let values: Vec<f32> = image.iter().copied().filter(|&v| v >= 0.0).collect();
            assert!(values.iter().all(|v| original.contains(v)), "only the image's own pixels and black");
            assert!(values.len() >= 12, "a shift of at most one pixel keeps most of the image");
        }
        assert!(batch.contains(&-1.0), "some crops shift black in");
    }

    #[test]
    fn the_same_seed_gives_the_same_batch() {
        let both = Augment { crop_padding: 2, flip: true };
        let a = both.batch(&images(), &[0, 1, 2], SHAPE, -1.0, 11);
        assert_eq!(a, both.batch(&images(), &[0, 1, 2], SHAPE, -1.0, 11));
        assert_ne!(a, both.batch(&images(), &[0, 1, 2], SHAPE, -1.0, 12));
    }
}
