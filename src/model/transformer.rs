//! `arch = "transformer"`: a decoder-only character transformer (GPT-2's layout, as nanoGPT
//! writes it): token and learned position embeddings, `layers` pre-LayerNorm blocks of causal
//! multi-head self-attention and a 4× GELU MLP, a final LayerNorm and the next-token head. Every
//! weight starts from N(0, 0.02), as nanoGPT's do (the PyTorch twin in `bench/` does the same).
//! Its forward pass returns each layer's attention probabilities and hidden states for the
//! methods and views that read them.

use super::arch::{Architecture, Build, Forward, Forwards, Positions};
use super::footprint::Footprint;
use crate::data::InputShape;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor};
use serde::{Deserialize, Serialize};

/// The MLP's hidden width over the model width (GPT-2's).
const MLP_RATIO: usize = 4;
/// The longest context and widest model accepted: sizes are bounded before anything is allocated.
const MAX_CONTEXT: usize = 4096;
const MAX_WIDTH: usize = 16_384;
const MAX_LAYERS: usize = 256;
/// nanoGPT's initial weight scale.
const INIT_STD: f64 = 0.02;

/// `[models.NAME] arch = "transformer"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Spec {
    pub(crate) layers: usize,
    pub(crate) width: usize,
    pub(crate) heads: usize,
    /// The most positions it reads at once (its position table).
    #[serde(default = "default_context")]
    pub(crate) context: usize,
}

fn default_context() -> usize {
    64
}

impl Architecture for Spec {
    fn describe(&self) -> String {
        format!("transformer[{}×{}, {} heads, context {}]", self.layers, self.width, self.heads, self.context)
    }

    fn size_field(&self) -> &'static str {
        "width"
    }

    fn check_structure(&self) -> Result<(), (&'static str, String)> {
        if !(1..=MAX_LAYERS).contains(&self.layers) {
            return Err(("layers", format!("expected 1 to {MAX_LAYERS} layers, found {}", self.layers)));
        }
        if !(1..=MAX_WIDTH).contains(&self.width) {
            return Err(("width", format!("expected a width from 1 to {MAX_WIDTH}, found {}", self.width)));
        }
        if self.heads == 0 || !self.width.is_multiple_of(self.heads) {
            return Err(("heads", format!("expected a number of heads that divides the width {}", self.width)));
        }
        if !(1..=MAX_CONTEXT).contains(&self.context) {
            return Err(("context", format!("expected 1 to {MAX_CONTEXT} positions, found {}", self.context)));
        }
        Ok(())
    }

    fn check(&self, shape: InputShape) -> Result<(), String> {
        self.check_structure().map_err(|(field, expected)| format!("`{field}`: {expected}"))?;
        match shape {
            InputShape::Text { context } if context <= self.context => Ok(()),
            InputShape::Text { context } => Err(format!(
                "`context`: the data's windows are {context} characters (data.context) but the model reads at \
                 most {}",
                self.context
            )),
            _ => Err("a transformer reads text; use a text dataset (dataset = \"shakespeare\" or text = \"…\")".into()),
        }
    }

    fn block_channels(&self) -> Vec<usize> {
        Vec::new()
    }

    fn feature_shapes(&self, _: InputShape) -> Vec<[usize; 3]> {
        Vec::new()
    }

    fn embedding_width(&self, _: InputShape) -> usize {
        self.width
    }

    fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        let [width, heads, layers] = [self.width, self.heads, self.layers].map(|v| v as u64);
        let (vocab, positions) = (classes as u64, self.context as u64);
        let length = shape.len() as u64;
        let mut tally = Footprint::default();
        let per_position = |values: u64| values.checked_mul(length);
        tally.layer(vocab.checked_mul(width), per_position(width))?;
        tally.layer(positions.checked_mul(width), per_position(width))?;
        let hidden = width.checked_mul(MLP_RATIO as u64)?;
        let scores = heads.checked_mul(length)?.checked_mul(length)?;
        for _ in 0..layers {
            tally.layer(Some(2 * width), per_position(width))?;
            tally.linear_over(width, width.checked_mul(3)?, length)?;
            // The scores and their softmax.
            tally.layer(Some(0), scores.checked_mul(2))?;
            tally.linear_over(width, width, length)?;
            tally.layer(Some(2 * width), per_position(width))?;
            tally.linear_over(width, hidden, length)?;
            tally.layer(Some(0), per_position(hidden))?;
            tally.linear_over(hidden, width, length)?;
        }
        tally.layer(Some(2 * width), per_position(width))?;
        tally.linear_over(width, vocab, length)?;
        Some(tally)
    }
}

impl Build for Spec {
    type Network = Net;

    fn init(&self, _: InputShape, classes: usize, device: &Device) -> Net {
        let init = Initializer::Normal { mean: 0.0, std: INIT_STD };
        let linear = |from: usize, to: usize| LinearConfig::new(from, to).with_initializer(init.clone()).init(device);
        let embedding =
            |rows: usize| EmbeddingConfig::new(rows, self.width).with_initializer(init.clone()).init(device);
        let norm = || LayerNormConfig::new(self.width).init(device);
        let blocks = (0..self.layers)
            .map(|_| Block {
                norm_attention: norm(),
                qkv: linear(self.width, 3 * self.width),
                projection: linear(self.width, self.width),
                norm_mlp: norm(),
                expand: linear(self.width, MLP_RATIO * self.width),
                contract: linear(MLP_RATIO * self.width, self.width),
                heads: self.heads,
            })
            .collect();
        Net {
            tokens: embedding(classes),
            positions: embedding(self.context),
            blocks,
            norm: norm(),
            head: linear(self.width, classes),
        }
    }
}

/// The network.
#[derive(Module, Debug)]
pub(crate) struct Net {
    tokens: Embedding,
    positions: Embedding,
    blocks: Vec<Block>,
    norm: LayerNorm,
    head: Linear,
}

/// One pre-LayerNorm block: `x + attention(norm(x))`, then `x + mlp(norm(x))`.
#[derive(Module, Debug)]
pub(crate) struct Block {
    norm_attention: LayerNorm,
    qkv: Linear,
    projection: Linear,
    norm_mlp: LayerNorm,
    expand: Linear,
    contract: Linear,
    heads: usize,
}

impl Block {
    /// The block's output `[batch, length, width]` and its attention probabilities
    /// `[batch, heads, length, length]`.
    fn forward(&self, x: Tensor<3>, causal: &Tensor<4, Bool>) -> (Tensor<3>, Tensor<4>) {
        let [batch, length, width] = x.dims();
        let head_width = width / self.heads;
        let split_heads = |t: Tensor<3>| t.reshape([batch, length, self.heads, head_width]).swap_dims(1, 2);
        let mut qkv = self.qkv.forward(self.norm_attention.forward(x.clone())).chunk(3, 2).into_iter();
        let (Some(q), Some(k), Some(v)) = (qkv.next(), qkv.next(), qkv.next()) else {
            unreachable!("a tensor of 3·width columns splits into three chunks")
        };
        let scores = split_heads(q).matmul(split_heads(k).swap_dims(2, 3)).mul_scalar(1.0 / (head_width as f64).sqrt());
        let attention = softmax(scores.mask_fill(causal.clone(), f32::NEG_INFINITY), 3);
        let mixed = attention.clone().matmul(split_heads(v)).swap_dims(1, 2).reshape([batch, length, width]);
        let x = x + self.projection.forward(mixed);
        let x = x.clone() + self.contract.forward(super::gelu::forward(self.expand.forward(self.norm_mlp.forward(x))));
        (x, attention)
    }
}

impl Forwards for Net {
    /// Inputs `[batch, length]` hold character ids (as floats); the logits have a row per
    /// position, `[batch · length, vocabulary]`.
    fn forward(&self, input: Tensor<2>) -> Forward {
        let [batch, length] = input.dims();
        let device = input.device();
        let ids: Tensor<2, Int> = input.int();
        let places = Tensor::<1, Int>::arange(0..length as i64, &device).reshape([1, length]);
        let mut x = self.tokens.forward(ids) + self.positions.forward(places);
        let heads = self.blocks.first().map_or(1, |b| b.heads);
        let causal = Tensor::<2, Bool>::tril_mask([length, length], 0, &device)
            .reshape([1, 1, length, length])
            .expand([batch, heads, length, length]);
        let mut attention = Vec::with_capacity(self.blocks.len());
        let mut hidden_states = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (out, probabilities) = block.forward(x, &causal);
            attention.push(probabilities);
            hidden_states.push(out.clone());
            x = out;
        }
        let width = x.dims()[2];
        let embedding = self.norm.forward(x).reshape([batch * length, width]);
        Forward {
            logits: self.head.forward(embedding.clone()),
            embedding,
            feature_maps: Vec::new(),
            attention,
            hidden_states,
            positions: Some(Positions { batch, length }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelSpec;
    use burn::tensor::TensorData;

    fn spec() -> Spec {
        Spec { layers: 2, width: 16, heads: 4, context: 8 }
    }

    /// The parameter count of the PyTorch twin (`bench/torch_lm.py`'s `CharTransformer`).
    #[test]
    fn sizes_match_the_footprint_and_the_twin() {
        let shape = InputShape::Text { context: 8 };
        let spec = spec();
        let network = ModelSpec::Transformer(spec.clone()).init(shape, 11, &Device::flex());
        // tokens 11·16, positions 8·16, per block 2·(2·16) + (16·48+48) + (16·16+16) + (16·64+64) + (64·16+16),
        // final norm 2·16, head 16·11+11.
        let expected = 11 * 16 + 8 * 16 + 2 * (64 + 816 + 272 + 1088 + 1040) + 32 + 187;
        assert_eq!(network.num_params(), expected);
        assert_eq!(spec.footprint(shape, 11).map(|f| f.parameters), Some(expected as u64));
    }

    /// A position's logits depend on the characters up to it, never on later ones; attention
    /// rows are distributions with nothing above the diagonal.
    #[test]
    fn attention_is_causal() {
        let device = Device::flex();
        device.seed(3);
        let network = ModelSpec::Transformer(spec()).init(InputShape::Text { context: 8 }, 11, &device);
        let ids = |last: f32| Tensor::<2>::from_data(TensorData::new(vec![1.0, 2.0, 3.0, 4.0, last], [1, 5]), &device);
        let (a, b) = (network.forward(ids(5.0)), network.forward(ids(9.0)));
        assert_eq!(a.logits.dims(), [5, 11]);
        let first_four = |f: &Forward| f.logits.clone().slice([0..4, 0..11]).into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(first_four(&a), first_four(&b));
        assert_ne!(a.logits.clone().slice([4..5, 0..11]).into_data(), b.logits.slice([4..5, 0..11]).into_data());
        assert_eq!(a.attention.len(), 2);
        assert_eq!(a.attention[0].dims(), [1, 4, 5, 5]);
        assert_eq!(a.hidden_states[1].dims(), [1, 5, 16]);
        let rows = a.attention[1].clone().sum_dim(3).into_data().try_to_vec::<f32>().unwrap();
        assert!(rows.iter().all(|s| (s - 1.0).abs() < 1e-5), "{rows:?}");
        let above = a.attention[0].clone().slice([0..1, 0..4, 0..1, 1..5]).abs().sum().into_scalar::<f32>();
        assert_eq!(above, 0.0);
    }

    /// The fixture of `bench/torch_transformer_steps.py`: PyTorch's initial weights, batches,
    /// losses, first gradients and final weights of ten Adam steps.
    struct Steps(serde_json::Value);

    impl Steps {
        fn load() -> Steps {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/transformer_adam_steps.json");
            let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
            Steps(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}")))
        }

        fn size(&self, field: &str) -> usize {
            self.0["spec"][field].as_u64().unwrap() as usize
        }

        fn floats(value: &serde_json::Value) -> Vec<f32> {
            value.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect()
        }

        /// Tensor `name` of `part` (`initial`, `first_gradients`, `final`) in PyTorch's layout; a
        /// vector asked for as a matrix is one row.
        fn tensor<const D: usize>(&self, part: &str, name: &str, device: &Device) -> Tensor<D> {
            let entry = &self.0[part][name];
            let mut shape: Vec<usize> =
                entry["shape"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect();
            // A bias read as a matrix is one row.
            while shape.len() < D {
                shape.insert(0, 1);
            }
            Tensor::from_data(TensorData::new(Self::floats(&entry["values"]), shape), device)
        }
    }

    /// Every parameter by its PyTorch name (`bench/torch_lm.py`'s), or its gradient in
    /// `gradients`, in PyTorch's layout: a Linear's weight `[out, in]` is burn's transposed, a
    /// vector one row.
    fn pytorch_named(net: &Net, gradients: Option<&burn::tensor::Gradients>) -> Vec<(String, Tensor<2>)> {
        let read = |t: Tensor<2>| match gradients {
            Some(gradients) => t.grad(gradients).expect("every parameter has a gradient"),
            None => t.without_autodiff(),
        };
        let row = |t: Tensor<1>| match gradients {
            Some(gradients) => t.grad(gradients).expect("every parameter has a gradient").unsqueeze_dim(0),
            None => t.without_autodiff().unsqueeze_dim(0),
        };
        let mut named = vec![
            ("tokens.weight".to_string(), read(net.tokens.weight.val())),
            ("positions.weight".into(), read(net.positions.weight.val())),
        ];
        let linear = |named: &mut Vec<(String, Tensor<2>)>, name: String, l: &Linear| {
            named.push((format!("{name}.weight"), read(l.weight.val()).transpose()));
            named.extend(l.bias.as_ref().map(|b| (format!("{name}.bias"), row(b.val()))));
        };
        let norm = |named: &mut Vec<(String, Tensor<2>)>, name: String, n: &LayerNorm| {
            named.push((format!("{name}.weight"), row(n.gamma.val())));
            named.extend(n.beta.as_ref().map(|b| (format!("{name}.bias"), row(b.val()))));
        };
        for (i, block) in net.blocks.iter().enumerate() {
            norm(&mut named, format!("blocks.{i}.norm_attention"), &block.norm_attention);
            linear(&mut named, format!("blocks.{i}.qkv"), &block.qkv);
            linear(&mut named, format!("blocks.{i}.projection"), &block.projection);
            norm(&mut named, format!("blocks.{i}.norm_mlp"), &block.norm_mlp);
            linear(&mut named, format!("blocks.{i}.expand"), &block.expand);
            linear(&mut named, format!("blocks.{i}.contract"), &block.contract);
        }
        norm(&mut named, "norm".into(), &net.norm);
        linear(&mut named, "head".into(), &net.head);
        named
    }

    /// `net` with every parameter set from the fixture's initial weights.
    fn with_initial_weights(mut net: Net, steps: &Steps, device: &Device) -> Net {
        use burn::module::Param;
        let matrix = |name: &str| Param::from_tensor(steps.tensor::<2>("initial", name, device));
        let vector = |name: &str| Param::from_tensor(steps.tensor::<1>("initial", name, device));
        let linear = |l: &mut Linear, name: &str| {
            l.weight = Param::from_tensor(steps.tensor::<2>("initial", &format!("{name}.weight"), device).transpose());
            l.bias = Some(vector(&format!("{name}.bias")));
        };
        let norm = |n: &mut LayerNorm, name: &str| {
            n.gamma = vector(&format!("{name}.weight"));
            n.beta = Some(vector(&format!("{name}.bias")));
        };
        net.tokens.weight = matrix("tokens.weight");
        net.positions.weight = matrix("positions.weight");
        for (i, block) in net.blocks.iter_mut().enumerate() {
            norm(&mut block.norm_attention, &format!("blocks.{i}.norm_attention"));
            linear(&mut block.qkv, &format!("blocks.{i}.qkv"));
            linear(&mut block.projection, &format!("blocks.{i}.projection"));
            norm(&mut block.norm_mlp, &format!("blocks.{i}.norm_mlp"));
            linear(&mut block.expand, &format!("blocks.{i}.expand"));
            linear(&mut block.contract, &format!("blocks.{i}.contract"));
        }
        norm(&mut net.norm, "norm");
        linear(&mut net.head, "head");
        net
    }

    /// ‖a − b‖ / ‖b‖.
    fn relative_difference(a: Tensor<2>, b: Tensor<2>) -> f32 {
        let b = b.reshape([1, -1]);
        let difference = (a.reshape([1, -1]) - b.clone()).powi_scalar(2).sum().sqrt().into_scalar::<f32>();
        difference / b.powi_scalar(2).sum().sqrt().into_scalar::<f32>().max(f32::MIN_POSITIVE)
    }

    /// From PyTorch's initial weights and on its batches, kdlab's transformer, cross-entropy
    /// and Adam (the stage's own) reproduce PyTorch's losses, gradients and weights: the forward
    /// and backward passes and the optimizer compute what PyTorch computes.
    #[test]
    fn the_transformer_and_adam_follow_pytorch_step_for_step() {
        use crate::preset::{Optimizer, TrainSettings};
        use burn::optim::GradientsParams;
        let steps = Steps::load();
        let device = Device::flex().autodiff();
        let (vocabulary, batch, context) = (steps.size("vocabulary"), steps.size("batch"), steps.size("context"));
        let spec =
            Spec { layers: steps.size("layers"), width: steps.size("width"), heads: steps.size("heads"), context };
        let mut net =
            with_initial_weights(spec.init(InputShape::Text { context }, vocabulary, &device), &steps, &device);
        let learning_rate = steps.0["learning_rate"].as_f64().unwrap();
        let settings = TrainSettings { optimizer: Optimizer::Adam, learning_rate, ..TrainSettings::default() };
        let mut optimizer = crate::train::stage::optimizer(&settings);
        let batches = steps.0["batches"].as_array().unwrap();
        let expected_losses = Steps::floats(&steps.0["losses"]);
        for (step, (ids, labels)) in batches.iter().zip(steps.0["labels"].as_array().unwrap()).enumerate() {
            let inputs = Tensor::<2>::from_data(TensorData::new(Steps::floats(ids), [batch, context]), &device);
            let labels: Vec<i64> = Steps::floats(labels).iter().map(|&l| l as i64).collect();
            let labels = Tensor::<1, Int>::from_data(TensorData::new(labels, [batch * context]), &device);
            let loss = crate::distill::cross_entropy(net.forward(inputs).logits, labels);
            let value = loss.clone().into_scalar::<f32>();
            assert!(
                (value - expected_losses[step]).abs() < 1e-5,
                "step {step}: loss {value}, PyTorch's {}",
                expected_losses[step]
            );
            let gradients = loss.backward();
            if step == 0 {
                for (name, gradient) in pytorch_named(&net, Some(&gradients)) {
                    let expected = steps.tensor::<2>("first_gradients", &name, &Device::flex());
                    let difference = relative_difference(gradient, expected);
                    assert!(difference < 1e-4, "{name}: gradient {difference} from PyTorch's");
                }
            }
            let gradients = GradientsParams::from_grads(gradients, &net);
            net = optimizer.step(learning_rate, net, gradients);
        }
        for (name, parameter) in pytorch_named(&net, None) {
            let difference = relative_difference(parameter, steps.tensor::<2>("final", &name, &Device::flex()));
            assert!(difference < 1e-4, "{name}: after {} steps {difference} from PyTorch's", batches.len());
        }
    }

    #[test]
    fn bad_sizes_and_data_are_explained() {
        let text = InputShape::Text { context: 64 };
        let short = Spec { context: 32, ..spec() }.check(text).err().unwrap();
        assert!(short.contains("windows are 64 characters"), "{short}");
        assert!(spec().check(InputShape::Flat { features: 4 }).err().unwrap().contains("reads text"));
        assert_eq!(Spec { heads: 3, ..spec() }.check_structure().err().map(|e| e.0), Some("heads"));
        assert_eq!(Spec { width: 1 << 40, ..spec() }.check_structure().err().map(|e| e.0), Some("width"));
    }
}
