//! Measuring trained models: batched inference on the device, logits brought to the host (the
//! arithmetic on them is [`crate::logits`]'s).

use crate::model::Network;
use burn::tensor::{Tensor, TensorData};

/// Examples per inference batch: large enough to be quick, small enough to bound memory.
pub(crate) const INFERENCE_BATCH: usize = 1024;

/// Logits of `network` (an inference copy) for every row of `inputs`, kept on the device.
pub(crate) fn predict(network: &Network, inputs: &Tensor<2>) -> Tensor<2> {
    in_batches(inputs, |batch| network.logits(batch))
}

/// Penultimate embeddings of `network` for every row of `inputs`, kept on the device.
pub(crate) fn embed(network: &Network, inputs: &Tensor<2>) -> Tensor<2> {
    in_batches(inputs, |batch| network.forward(batch).embedding)
}

fn in_batches(inputs: &Tensor<2>, run: impl Fn(Tensor<2>) -> Tensor<2>) -> Tensor<2> {
    let [rows, _] = inputs.dims();
    let chunks: Vec<Tensor<2>> = (0..rows)
        .step_by(INFERENCE_BATCH)
        .map(|start| run(inputs.clone().narrow(0, start, INFERENCE_BATCH.min(rows - start))))
        .collect();
    Tensor::cat(chunks, 0)
}

/// Copies a tensor to the host as `f32`s.
pub(crate) fn to_host(tensor: Tensor<2>) -> Vec<f32> {
    let data: TensorData = tensor.into_data();
    data.convert::<f32>().try_into_vec::<f32>().unwrap_or_default()
}
