//! What a network will cost before any of it exists: its parameter count and the values one
//! example's forward pass produces, counted layer by layer with checked arithmetic (a preset may
//! ask for widths near `usize::MAX`), so a network too large for the machine is refused with a
//! message instead of an allocation that aborts.

/// Bytes of one value (f32 on every backend kdlab trains on).
const VALUE_BYTES: u64 = 4;
/// Values kept per parameter while training: the weight, its gradient and Adam's two moments.
const TRAINING_COPIES_PER_PARAMETER: u64 = 4;
/// Values kept per activation while training: the forward value and its gradient.
const TRAINING_COPIES_PER_ACTIVATION: u64 = 2;

/// Sizes of a network, from its spec and its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Footprint {
    /// Parameters, as burn counts them (batch norm's running statistics included).
    pub(crate) parameters: u64,
    /// Values every layer outputs for one example, summed (what training keeps for backward).
    pub(crate) activations: u64,
    /// The largest single layer output for one example (what inference holds at once).
    pub(crate) widest: u64,
}

impl Footprint {
    /// Bytes to train on batches of `batch` examples.
    pub(crate) fn training_bytes(&self, batch: u64) -> Option<u64> {
        let parameters = self.parameters.checked_mul(TRAINING_COPIES_PER_PARAMETER * VALUE_BYTES)?;
        let activations =
            self.activations.checked_mul(batch)?.checked_mul(TRAINING_COPIES_PER_ACTIVATION * VALUE_BYTES)?;
        parameters.checked_add(activations)
    }

    /// Bytes to run inference on batches of `batch` examples (a layer's input and output at once).
    pub(crate) fn inference_bytes(&self, batch: u64) -> Option<u64> {
        let parameters = self.parameters.checked_mul(VALUE_BYTES)?;
        parameters.checked_add(self.widest.checked_mul(batch)?.checked_mul(2 * VALUE_BYTES)?)
    }
}

/// Adding up layers, one at a time; `None` once any count overflows.
impl Footprint {
    pub(super) fn layer(&mut self, parameters: Option<u64>, outputs: Option<u64>) -> Option<()> {
        let outputs = outputs?;
        self.parameters = self.parameters.checked_add(parameters?)?;
        self.activations = self.activations.checked_add(outputs)?;
        self.widest = self.widest.max(outputs);
        Some(())
    }

    pub(super) fn linear(&mut self, inputs: u64, outputs: u64) -> Option<()> {
        self.layer(inputs.checked_mul(outputs)?.checked_add(outputs), Some(outputs))
    }

    /// A linear layer applied at each of `positions` positions.
    pub(super) fn linear_over(&mut self, inputs: u64, outputs: u64, positions: u64) -> Option<()> {
        self.layer(inputs.checked_mul(outputs)?.checked_add(outputs), outputs.checked_mul(positions))
    }

    /// A square `kernel` convolution from `inputs` to `outputs` channels onto a `side` map.
    pub(super) fn conv(&mut self, kernel: u64, inputs: u64, outputs: u64, bias: bool, side: [u64; 2]) -> Option<()> {
        let weights = (kernel * kernel).checked_mul(inputs)?.checked_mul(outputs)?;
        let parameters = weights.checked_add(if bias { outputs } else { 0 });
        self.layer(parameters, area(outputs, side))
    }

    /// Dense layers of `hidden` widths from `inputs`, then the classifier.
    pub(super) fn dense(&mut self, inputs: u64, hidden: &[u64], classes: u64) -> Option<()> {
        let mut last = inputs;
        for &width in hidden {
            self.linear(last, width)?;
            last = width;
        }
        self.linear(last, classes)
    }

    /// Batch norm: scale, shift and the two running statistics per channel.
    pub(super) fn norm(&mut self, channels: u64, side: [u64; 2]) -> Option<()> {
        self.layer(channels.checked_mul(4), area(channels, side))
    }
}

pub(super) fn area(channels: u64, [height, width]: [u64; 2]) -> Option<u64> {
    channels.checked_mul(height)?.checked_mul(width)
}

#[cfg(test)]
mod tests {
    use crate::data::InputShape;
    use crate::model::{ModelSpec, cnn, mlp, resnet, vgg, wrn};
    use burn::module::Module;
    use burn::tensor::Device;

    /// The count matches what burn allocates, for every family.
    #[test]
    fn parameter_counts_match_the_built_networks() {
        let device = Device::flex();
        let cifar = InputShape::Image { channels: 3, height: 32, width: 32 };
        let digits = InputShape::Image { channels: 1, height: 28, width: 28 };
        let cases = [
            (ModelSpec::Mlp(mlp::Spec { hidden: vec![64, 32] }), InputShape::Flat { features: 2 }),
            (ModelSpec::Cnn(cnn::Spec { channels: vec![32, 64], hidden: vec![128] }), digits),
            (ModelSpec::Cnn(cnn::Spec { channels: vec![3, 5, 7], hidden: vec![] }), digits),
            (ModelSpec::Resnet(resnet::Resnet { depth: 8, channels: vec![4, 4, 8, 16] }), cifar),
            (ModelSpec::Resnet(resnet::Resnet { depth: 14, channels: vec![8, 16, 16, 32] }), digits),
            (ModelSpec::Wrn(wrn::Spec { depth: 10, widen: 1 }), cifar),
            (ModelSpec::Wrn(wrn::Spec { depth: 16, widen: 2 }), cifar),
            (ModelSpec::Vgg(vgg::Spec { depth: 8 }), cifar),
            (ModelSpec::Vgg(vgg::Spec { depth: 11 }), cifar),
        ];
        for (spec, shape) in cases {
            let counted = spec.footprint(shape, 10).map(|f| f.parameters);
            assert_eq!(counted, Some(spec.init(shape, 10, &device).num_params() as u64), "{}", spec.describe());
        }
    }

    #[test]
    fn impossible_sizes_overflow_to_none_instead_of_wrapping() {
        let flat = InputShape::Flat { features: 2 };
        assert_eq!(ModelSpec::Mlp(mlp::Spec { hidden: vec![usize::MAX] }).footprint(flat, 2), None);
        assert_eq!(ModelSpec::Mlp(mlp::Spec { hidden: vec![1 << 32, 1 << 32] }).footprint(flat, 2), None);
        let big = ModelSpec::Mlp(mlp::Spec { hidden: vec![10_000_000] }).footprint(flat, 2);
        assert_eq!(big.map(|f| f.widest), Some(10_000_000));
        assert_eq!(big.and_then(|f| f.inference_bytes(u64::MAX)), None);
    }
}
