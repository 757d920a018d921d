//! The exact GELU, `x·Φ(x)` (PyTorch's `nn.GELU()` default), as one operation on the CPU
//! (flex) backend with its own backward pass, through burn's backend-extension mechanism.
//! Flex evaluates it element by element with libm's scalar `erff` and `expf`, which a profile
//! of a transformer student's training put at 27 % and 15 % of its time; here `erf` is the
//! rational approximation Eigen and XLA use on the CPU (odd degree-13 over even degree-8
//! polynomial, clamped to ±4 where `erf` is ±1 in f32) and `exp` a Cephes polynomial with the
//! power of two set in the exponent bits, both branch-free so the loops vectorise, split over
//! rayon's threads for large tensors. Other backends (wgpu) and dtypes use burn's own `gelu`.

use super::conv_block::values;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Backend, DispatchDevice, Flex, backend_extension, tensor::FloatTensor};
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

/// The exact GELU as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub(crate) trait GeluBackend: Backend {
    /// `x·Φ(x)` element-wise, `Φ` the standard normal CDF.
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl GeluBackend for Flex {
    fn gelu_exact(x: FlexTensor) -> FlexTensor {
        let output = map(&values(&x), gelu_of);
        like(&x, output)
    }
}

/// Below this many elements a tensor is one task: splitting costs more than it saves.
const PARALLEL_CHUNK: usize = 1 << 14;

/// `f` of every value, in parallel chunks.
fn map(values: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    out.par_chunks_mut(PARALLEL_CHUNK).zip(values.par_chunks(PARALLEL_CHUNK)).for_each(|(out, values)| {
        for (o, &v) in out.iter_mut().zip(values) {
            *o = f(v);
        }
    });
    out
}

/// A tensor of `template`'s shape holding `values`.
fn like(template: &FlexTensor, values: Vec<f32>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, template.layout().shape().clone()))
}

/// `1/√2`.
const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `1/√(2π)`, the standard normal density at 0.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `x·Φ(x)`.
fn gelu_of(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

/// `d/dx x·Φ(x) = Φ(x) + x·φ(x)`.
fn gelu_slope(x: f32) -> f32 {
    let cdf = 0.5 * (1.0 + erf(x * FRAC_1_SQRT_2));
    cdf + x * FRAC_1_SQRT_2PI * exp(-0.5 * x * x)
}

/// The error function: Eigen's and XLA's f32 rational approximation (at most 4.2e-7 from the
/// exact value; the test below bounds it).
pub(crate) fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    for alpha in [2.770_681_4e-8, -2.101_024e-6, -5.692_506_6e-5, -7.349_906_3e-4, -2.9546e-3, -1.609_603_3e-2] {
        p = p * x2 + alpha;
    }
    let mut q = -1.456_607_2e-5_f32;
    for beta in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329_2e-3, -1.426_474e-2] {
        q = q * x2 + beta;
    }
    x * p / q
}

/// `eˣ` for `x ≤ 0` down to f32's smallest normal (Cephes' `expf` polynomial; the power of two
/// written into the exponent bits; rounding by adding 1.5·2²³, so no branch and no libm call).
pub(crate) fn exp(x: f32) -> f32 {
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    for c in [1.398_2e-3, 8.333_452e-3, 4.166_579_6e-2, 0.166_666_65, 0.5] {
        p = p * r + c;
    }
    let y = p * r * r + r + 1.0;
    // n lies in [-126, 127] after the clamp, so the biased exponent is a normal one.
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(node) = node else { return };
        let (x, grad_values) = (values(&ops.state), values(&grad));
        let mut input_grad = vec![0.0; x.len()];
        input_grad
            .par_chunks_mut(PARALLEL_CHUNK)
            .zip(x.par_chunks(PARALLEL_CHUNK))
            .zip(grad_values.par_chunks(PARALLEL_CHUNK))
            .for_each(|((out, x), g)| {
                for ((o, &x), &g) in out.iter_mut().zip(x).zip(g) {
                    *o = g * gelu_slope(x);
                }
            });
        grads.register::<Flex>(node.id, like(&ops.state, input_grad));
    }
}

impl<C: CheckpointStrategy> GeluBackend for Autodiff<Flex, C> {
    fn gelu_exact(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, node) = x.into_parts();
        match GeluBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let output = Flex::gelu_exact(x.clone());
                prep.finish(x, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(Flex::gelu_exact(x)),
        }
    }
}

/// The exact GELU: fused on flex (f32), burn's `gelu` elsewhere.
pub(crate) fn forward<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let on_flex = matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_));
    if on_flex && x.dtype() == DType::F32 {
        Tensor::from_dispatch(<burn::backend::Dispatch as GeluBackend>::gelu_exact(x.into_dispatch()))
    } else {
        burn::tensor::activation::gelu(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// The approximations against libm (what burn's flex `gelu` calls) over their range.
    #[test]
    fn erf_and_exp_are_within_a_few_ulp_of_libm() {
        let (mut erf_error, mut exp_error) = (0.0_f32, 0.0_f32);
        for i in -100_000_i32..=100_000 {
            let x = i as f32 * 1e-4 * 6.0;
            erf_error = erf_error.max((erf(x) - libm_erf(x)).abs());
            let y = -(i.unsigned_abs() as f32) * 1e-4 * 8.7;
            let exact = f64::from(y).exp();
            exp_error = exp_error.max(((f64::from(exp(y)) - exact) / exact).abs() as f32);
        }
        // Measured: 4.2e-7 at most over [-6, 6].
        assert!(erf_error < 5e-7, "erf is off by {erf_error}");
        assert!(exp_error < 4e-7, "exp is off by {exp_error} (relative)");
        assert!((erf(-30.0) + 1.0).abs() < 2e-7, "erf saturates");
        assert!(exp(-200.0) >= 0.0 && exp(-200.0) < 1e-37);
    }

    fn libm_erf(x: f32) -> f32 {
        libm::erf(f64::from(x)) as f32
    }

    /// The fused GELU and burn's agree on values and gradients through autodiff, on a view
    /// (transposed) input and a size that is not a multiple of the chunk.
    #[test]
    fn the_fused_gelu_matches_burns() {
        let device = Device::flex().autodiff();
        device.seed(5);
        let input = Tensor::<3>::random([3, 70, 97], Distribution::Normal(0.0, 3.0), &device).require_grad();
        let weights = Tensor::<3>::random([3, 97, 70], Distribution::Normal(0.0, 1.0), &device);
        let fused = forward(input.clone().swap_dims(1, 2));
        let plain = burn::tensor::activation::gelu(input.clone().swap_dims(1, 2));
        fused.to_data().assert_approx_eq::<f32>(&plain.to_data(), Tolerance::rel_abs(1e-5, 1e-6));
        let fused_grad = input.grad(&(fused * weights.clone()).sum().backward()).map(|g| g.to_data());
        let plain_grad = input.grad(&(plain * weights).sum().backward()).map(|g| g.to_data());
        let (fused_grad, plain_grad) = (fused_grad.expect("a gradient"), plain_grad.expect("a gradient"));
        fused_grad.assert_approx_eq::<f32>(&plain_grad, Tolerance::rel_abs(1e-5, 1e-6));
    }
}
