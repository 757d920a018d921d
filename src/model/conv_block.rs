//! The CNN's block — 3×3 convolution (padding 1), bias, ReLU, 2×2 max-pool — as one operation
//! on the CPU (flex) backend, with its own backward pass, through burn's backend-extension
//! mechanism. Flex runs the block as separate kernels (an im2col convolution, a transposed
//! convolution for its input gradient, a pooling pass with indices, each with its own layout
//! copies); fused, the block's work is one im2col, three GEMMs and two passes over the pool
//! windows (see [`kernels`]). Other backends (wgpu) use burn's own operations, and so does flex
//! for a dtype other than f32.

mod kernels;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::backend::{Autodiff, Backend, DispatchDevice, Flex, backend_extension, tensor::FloatTensor};
use burn::nn::conv::Conv2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::activation::relu;
use burn::tensor::{DType, Tensor, TensorData};
use kernels::{Dims, Saved};
use std::sync::Arc;

/// The fused block as a backend operation.
#[backend_extension(Flex, Autodiff)]
pub(crate) trait ConvBlockBackend: Backend {
    /// `maxpool2(relu(conv3x3(x, weight, padding 1) + bias))`: `x` `[batch, channels, h, w]`,
    /// `weight` `[out, channels, 3, 3]`, `bias` `[out]`; `[batch, out, h/2, w/2]` out.
    fn conv_block(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl ConvBlockBackend for Flex {
    fn conv_block(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        let (output, _) = flex_forward(&x, &weight, &bias, false);
        output
    }
}

/// The values of an f32 tensor in row-major order (a contiguous copy when it is a view); the
/// fused GELU reads its tensors the same way.
pub(super) fn values(tensor: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match tensor.as_slice::<f32>() {
        Some(values) => std::borrow::Cow::Borrowed(values),
        None => {
            std::borrow::Cow::Owned(tensor.to_contiguous().as_slice::<f32>().map(<[f32]>::to_vec).unwrap_or_default())
        }
    }
}

fn flex_tensor(values: Vec<f32>, shape: [usize; 4]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}

/// The block's dimensions from its input and weight.
fn dims(x: &FlexTensor, weight: &FlexTensor) -> Dims {
    let [batch, channels, height, width] = x.layout().shape().dims();
    let [out, ..] = weight.layout().shape().dims::<4>();
    Dims { batch, channels, height, width, out }
}

/// Runs the kernels on flex tensors; with `keep`, also returns what backward needs.
fn flex_forward(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor, keep: bool) -> (FlexTensor, Saved) {
    let dims = dims(x, weight);
    let (output, saved) = kernels::forward(&values(x), &values(weight), &values(bias), dims, keep);
    let [height, width] = dims.pooled();
    (flex_tensor(output, [dims.batch, dims.out, height, width]), saved)
}

/// The backward state: the forward's patches and pool choices, and the weight (for the input
/// gradient).
#[derive(Debug, Clone)]
struct BlockState {
    saved: Arc<Saved>,
    weight: FlexTensor,
}

#[derive(Debug)]
struct ConvBlockBackward;

impl Backward<Flex, 3> for ConvBlockBackward {
    type State = BlockState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let BlockState { saved, weight } = ops.state;
        let dims = saved.dims;
        let (input_grad, weight_grad, bias_grad) =
            kernels::backward(&values(&grad), &values(&weight), &saved, node_x.is_some());
        if let (Some(node), Some(input_grad)) = (node_x, input_grad) {
            grads.register::<Flex>(
                node.id,
                flex_tensor(input_grad, [dims.batch, dims.channels, dims.height, dims.width]),
            );
        }
        if let Some(node) = node_weight {
            grads.register::<Flex>(node.id, flex_tensor(weight_grad, [dims.out, dims.channels, 3, 3]));
        }
        if let Some(node) = node_bias {
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(bias_grad, [dims.out])));
        }
    }
}

impl<C: CheckpointStrategy> ConvBlockBackend for Autodiff<Flex, C> {
    fn conv_block(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        let (x, x_node) = x.into_parts();
        let (weight, weight_node) = weight.into_parts();
        let (bias, bias_node) = bias.into_parts();
        match ConvBlockBackward.prepare::<C>([x_node, weight_node, bias_node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (output, saved) = flex_forward(&x, &weight, &bias, true);
                prep.finish(BlockState { saved: Arc::new(saved), weight }, output)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(&x, &weight, &bias, false).0),
        }
    }
}

/// Whether a tensor lives on flex (the fused block's backend), with or without autodiff.
fn on_flex(x: &Tensor<4>) -> bool {
    matches!(x.device().inner().as_dispatch(), DispatchDevice::Flex(_))
}

/// `pool(relu(conv(x)))` for a 3×3, padding-1 convolution and a 2×2 pool: fused on flex (f32),
/// burn's own operations elsewhere.
pub(crate) fn forward(conv: &Conv2d, pool: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let bias = conv.bias.as_ref().map(|b| b.val());
    match bias {
        Some(bias) if on_flex(&x) && x.dtype() == DType::F32 => {
            let output = <burn::backend::Dispatch as ConvBlockBackend>::conv_block(
                x.into_dispatch(),
                conv.weight.val().into_dispatch(),
                bias.into_dispatch(),
            );
            Tensor::from_dispatch(output)
        }
        _ => pool.forward(relu(conv.forward(x))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::PaddingConfig2d;
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::{Device, Distribution, Tolerance};

    /// The fused block and burn's conv → ReLU → pool agree on the output and on every gradient,
    /// on flex through autodiff, odd sizes included.
    #[test]
    fn the_fused_block_matches_burns_operations() {
        let device = Device::flex().autodiff();
        device.seed(3);
        let conv = Conv2dConfig::new([3, 5], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1)).init(&device);
        let pool = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let input = Tensor::<4>::random([4, 3, 9, 7], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let weights = Tensor::<4>::random([4, 5, 4, 3], Distribution::Normal(0.0, 1.0), &device);
        let fused = forward(&conv, &pool, input.clone());
        let plain = pool.forward(relu(conv.forward(input.clone())));
        fused.to_data().assert_approx_eq::<f32>(&plain.to_data(), Tolerance::rel_abs(1e-4, 1e-5));
        let fused_grads = (fused * weights.clone()).sum().backward();
        let plain_grads = (plain * weights).sum().backward();
        let pairs = [
            (input.grad(&fused_grads).map(|g| g.to_data()), input.grad(&plain_grads).map(|g| g.to_data())),
            (conv.weight.grad(&fused_grads).map(|g| g.to_data()), conv.weight.grad(&plain_grads).map(|g| g.to_data())),
        ];
        for (fused, plain) in pairs {
            let (fused, plain) = (fused.expect("a gradient"), plain.expect("a gradient"));
            fused.assert_approx_eq::<f32>(&plain, Tolerance::rel_abs(1e-4, 1e-5));
        }
        let bias = conv.bias.as_ref().expect("a bias");
        let (fused, plain) = (bias.grad(&fused_grads).expect("fused"), bias.grad(&plain_grads).expect("plain"));
        fused.to_data().assert_approx_eq::<f32>(&plain.to_data(), Tolerance::rel_abs(1e-4, 1e-5));
    }
}
