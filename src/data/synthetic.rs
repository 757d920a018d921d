//! Generated 2-D classification sets (two moons, interleaved spirals, Gaussian blobs), for
//! decision-boundary pictures. Each depends only on its parameters and the seed.

use super::options::{DefaultValue, OptionKind, OptionSpec};
use super::{DataError, DataOptions, InputShape, NamedDataset, RawData, Split};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::f64::consts::PI;

/// Which synthetic set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SyntheticKind {
    /// Two interleaving half circles (as scikit-learn's `make_moons`).
    Moons,
    /// `classes` interleaved spiral arms.
    Spirals,
    /// `classes` isotropic Gaussian clusters with centres in a [-10, 10]² box.
    Blobs,
}

impl SyntheticKind {
    fn default_classes(self) -> usize {
        match self {
            SyntheticKind::Moons => 2,
            SyntheticKind::Spirals | SyntheticKind::Blobs => 3,
        }
    }
}

/// The keys of every generated set.
const OPTIONS: [OptionSpec; 3] = [
    OptionSpec {
        key: "samples",
        kind: OptionKind::Whole { min: 0, max: u64::MAX },
        expected: "a number of points",
        default: Some(DefaultValue::Whole(1000)),
    },
    OptionSpec {
        key: "noise",
        kind: OptionKind::Number { min: 0.0 },
        expected: "a number ≥ 0",
        default: Some(DefaultValue::Number(0.1)),
    },
    OptionSpec {
        key: "classes",
        kind: OptionKind::Whole { min: 2, max: MAX_CLASSES as u64 },
        expected: "2 to 1000 classes",
        default: None,
    },
];

impl NamedDataset for SyntheticKind {
    fn name(&self) -> &'static str {
        match self {
            SyntheticKind::Moons => "moons",
            SyntheticKind::Spirals => "spirals",
            SyntheticKind::Blobs => "blobs",
        }
    }

    fn summary(&self) -> &'static str {
        match self {
            SyntheticKind::Moons => "two interleaving half circles, 2-D (generated)",
            SyntheticKind::Spirals => "interleaved spiral arms, 2-D (generated)",
            SyntheticKind::Blobs => "Gaussian clusters, 2-D (generated)",
        }
    }

    fn shape(&self, _: &DataOptions) -> InputShape {
        InputShape::Flat { features: 2 }
    }

    fn options(&self) -> &'static [OptionSpec] {
        &OPTIONS
    }

    fn load(&self, options: &DataOptions, seed: u64) -> Result<RawData, DataError> {
        let [samples, noise, classes] = &OPTIONS;
        let samples = usize::try_from(samples.whole_in(options)).unwrap_or(usize::MAX);
        let classes = options.whole(classes.key).map_or(self.default_classes(), |c| c as usize);
        generate(*self, samples, noise.number_in(options), classes, seed)
    }
}

/// The most classes a synthetic set may have.
const MAX_CLASSES: usize = 1000;
/// Memory one point takes while a run holds it: two f32 features and a label, in the generated
/// set, its split copies and the device's copy.
const BYTES_PER_POINT: u64 = 3 * (2 * 4 + 4);

/// Generates `samples` points split as evenly as possible over the classes.
pub(crate) fn generate(
    kind: SyntheticKind,
    samples: usize,
    noise: f64,
    classes: usize,
    seed: u64,
) -> Result<RawData, DataError> {
    if kind == SyntheticKind::Moons && classes != 2 {
        return Err(DataError::Parameter {
            field: "data.classes".into(),
            expected: "moons always has 2 classes".into(),
        });
    }
    if !(2..=MAX_CLASSES).contains(&classes) {
        return Err(DataError::Parameter {
            field: "data.classes".into(),
            expected: format!("expected 2 to {MAX_CLASSES} classes, found {classes}"),
        });
    }
    let most = crate::memory::budget() / BYTES_PER_POINT;
    if samples as u64 > most {
        return Err(DataError::Parameter {
            field: "data.samples".into(),
            expected: format!(
                "{samples} points need {} (at most {most} fit); {}",
                crate::memory::describe_bytes((samples as u64).saturating_mul(BYTES_PER_POINT)),
                crate::memory::allows()
            ),
        });
    }
    if samples < 2 * classes {
        return Err(DataError::Parameter {
            field: "data.samples".into(),
            expected: format!("expected at least {} (2 per class), found {samples}", 2 * classes),
        });
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(DataError::Parameter {
            field: "data.noise".into(),
            expected: format!("expected a number ≥ 0, found {noise}"),
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let centres: Vec<(f64, f64)> =
        (0..classes).map(|_| (rng.random_range(-10.0..10.0), rng.random_range(-10.0..10.0))).collect();
    let mut features = Vec::with_capacity(samples * 2);
    let mut labels = Vec::with_capacity(samples);
    for i in 0..samples {
        let class = i % classes;
        let (position, count) = (i / classes, samples.div_ceil(classes));
        let along = if count > 1 { position as f64 / (count - 1) as f64 } else { 0.0 };
        let (x, y) = match kind {
            SyntheticKind::Moons => moon_point(class, along),
            SyntheticKind::Spirals => spiral_point(class, classes, along),
            SyntheticKind::Blobs => centres[class],
        };
        let (dx, dy) = (gaussian(&mut rng), gaussian(&mut rng));
        features.push((x + noise * dx) as f32);
        features.push((y + noise * dy) as f32);
        labels.push(class as u32);
    }
    Ok(RawData {
        shape: InputShape::Flat { features: 2 },
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        examples: Split { features, labels },
    })
}

fn moon_point(class: usize, along: f64) -> (f64, f64) {
    let angle = PI * along;
    match class {
        0 => (angle.cos(), angle.sin()),
        _ => (1.0 - angle.cos(), 0.5 - angle.sin()),
    }
}

fn spiral_point(class: usize, classes: usize, along: f64) -> (f64, f64) {
    let radius = 0.1 + along;
    let angle = 1.75 * 2.0 * PI * along + 2.0 * PI * class as f64 / classes as f64;
    (radius * angle.cos(), radius * angle.sin())
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut StdRng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_balanced_and_seeded() {
        let a = generate(SyntheticKind::Spirals, 300, 0.05, 3, 4).unwrap();
        let b = generate(SyntheticKind::Spirals, 300, 0.05, 3, 4).unwrap();
        assert_eq!(a.examples, b.examples);
        assert_eq!(a.examples.labels.iter().filter(|&&l| l == 2).count(), 100);
        assert!(generate(SyntheticKind::Moons, 100, 0.1, 3, 0).is_err());
    }
}
