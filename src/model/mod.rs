//! The model architectures, a registry like the methods': each file declares one —
//! its preset keys, their checks, its sizes, its feature taps and its network — and the one
//! line per architecture in [`architectures!`] below registers it (`arch = "name"` in a
//! preset, the network variant, every dispatch). Adding an architecture is one new file and
//! one line. Families now: MLPs, small CNNs, the CIFAR papers' networks with batch norm
//! (ResNet, WRN, VGG), and a character transformer for text. Batch norm updates its statistics
//! only in training (on an autodiff device); evaluation, probes and cached teachers use the
//! running statistics.

mod arch;
pub(crate) mod cnn;
mod conv_block;
mod footprint;
mod gelu;
pub(crate) mod mlp;
pub(crate) mod resnet;
pub(crate) mod transformer;
pub(crate) mod vgg;
pub(crate) mod wrn;

pub(crate) use arch::{Architecture, Build, Forward, Forwards};
pub(crate) use footprint::Footprint;

use crate::data::InputShape;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Declares the registered architectures: for each, the variant, its preset name and its spec
/// type; generates [`ModelSpec`] (what a preset writes, `arch = "…"` picking the variant),
/// [`Network`] (the built networks, one burn module) and their dispatch.
macro_rules! architectures {
    ($($(#[$doc:meta])* $variant:ident = $name:literal: $spec:ty,)+) => {
        /// An architecture as a preset writes it.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(tag = "arch")]
        pub(crate) enum ModelSpec {
            $($(#[$doc])* #[serde(rename = $name)] $variant($spec),)+
        }

        /// A network of any registered architecture.
        #[derive(Module, Debug)]
        #[allow(clippy::large_enum_variant)]
        pub(crate) enum Network {
            $($variant(<$spec as Build>::Network),)+
        }

        impl ModelSpec {
            /// The architecture's own declarations.
            pub(crate) fn arch(&self) -> &dyn Architecture {
                match self {
                    $(ModelSpec::$variant(spec) => spec,)+
                }
            }

            /// Builds the network with fresh parameters on `device`.
            pub(crate) fn init(&self, shape: InputShape, classes: usize, device: &Device) -> Network {
                match self {
                    $(ModelSpec::$variant(spec) => Network::$variant(spec.init(shape, classes, device)),)+
                }
            }
        }

        impl Network {
            /// Runs the network on flat inputs `[batch, features]`.
            pub(crate) fn forward(&self, input: Tensor<2>) -> Forward {
                match self {
                    $(Network::$variant(network) => network.forward(input),)+
                }
            }
        }
    };
}

architectures! {
    /// Fully connected layers.
    Mlp = "mlp": mlp::Spec,
    /// Conv + ReLU + max-pool blocks, then dense layers.
    Cnn = "cnn": cnn::Spec,
    /// CIFAR ResNet.
    Resnet = "resnet": resnet::Resnet,
    /// Wide ResNet.
    Wrn = "wrn": wrn::Spec,
    /// VGG with batch norm.
    Vgg = "vgg": vgg::Spec,
    /// Decoder-only character transformer.
    Transformer = "transformer": transformer::Spec,
}

impl ModelSpec {
    /// One-line description, e.g. `cnn[32,64]+fc[128]`.
    pub(crate) fn describe(&self) -> String {
        self.arch().describe()
    }

    /// The field that sets this architecture's size, for messages about it.
    pub(crate) fn size_field(&self) -> &'static str {
        self.arch().size_field()
    }

    /// Why this architecture's depth or widths are impossible, if they are: the field to change
    /// and what it expects. (Checked before the data is read.)
    pub(crate) fn check_structure(&self) -> Result<(), (&'static str, String)> {
        self.arch().check_structure()
    }

    /// `[channels, height, width]` of each feature map the network returns for inputs of
    /// `shape` (empty for MLPs).
    pub(crate) fn feature_shapes(&self, shape: InputShape) -> Vec<[usize; 3]> {
        self.arch().feature_shapes(shape)
    }

    /// Channels of each feature map (empty for MLPs).
    pub(crate) fn block_channels(&self) -> Vec<usize> {
        self.arch().block_channels()
    }

    /// Why this architecture cannot take inputs of `shape`, if it cannot.
    pub(crate) fn check(&self, shape: InputShape) -> Result<(), String> {
        self.arch().check(shape)
    }

    /// Width of the penultimate representation ([`Forward::embedding`]) for inputs of `shape`.
    pub(crate) fn embedding_width(&self, shape: InputShape) -> usize {
        self.arch().embedding_width(shape)
    }

    /// The network's sizes on inputs of `shape` with `classes` outputs; `None` when a count
    /// overflows 64 bits (no machine could hold it).
    pub(crate) fn footprint(&self, shape: InputShape, classes: usize) -> Option<Footprint> {
        self.arch().footprint(shape, classes)
    }
}

impl Network {
    /// Logits only.
    pub(crate) fn logits(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward(input).logits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::InputShape;
    use burn::module::Module;
    use burn::tensor::{Device, Tensor};
    use resnet::default_resnet_channels;

    #[test]
    fn cnn_reports_features_and_parameter_count() {
        let device = Device::flex();
        let shape = InputShape::Image { channels: 1, height: 28, width: 28 };
        let spec = ModelSpec::Cnn(cnn::Spec { channels: vec![32, 64], hidden: vec![128] });
        let network = spec.init(shape, 10, &device);
        // The PyTorch twin in shared/bench has 421,642 parameters.
        assert_eq!(network.num_params(), 421_642);
        let out = network.forward(Tensor::zeros([3, 784], &device));
        assert_eq!(out.logits.dims(), [3, 10]);
        assert_eq!(out.embedding.dims(), [3, 128]);
        assert_eq!(out.feature_maps[1].dims(), [3, 64, 7, 7]);
    }

    /// Sizes of RepDistiller's CIFAR-100 models, counted with PyTorch: `parameters()` (1,233,540
    /// for resnet8x4, the published 1.23 M) plus the batch norms' running means and variances,
    /// which burn's `num_params` counts too.
    #[test]
    fn the_cifar_papers_models_have_their_parameter_counts() {
        let device = Device::flex();
        let cifar = InputShape::Image { channels: 3, height: 32, width: 32 };
        let wide = vec![32, 64, 128, 256];
        let cases = [
            (ModelSpec::Resnet(resnet::Resnet { depth: 8, channels: wide.clone() }), 1_236_292),
            (ModelSpec::Resnet(resnet::Resnet { depth: 32, channels: wide }), 7_443_780),
            (ModelSpec::Resnet(resnet::Resnet { depth: 20, channels: default_resnet_channels() }), 279_892),
            (ModelSpec::Wrn(wrn::Spec { depth: 40, widen: 2 }), 2_260_564),
            (ModelSpec::Wrn(wrn::Spec { depth: 16, widen: 2 }), 705_108),
            (ModelSpec::Vgg(vgg::Spec { depth: 8 }), 3_967_972),
            (ModelSpec::Vgg(vgg::Spec { depth: 13 }), 9_468_068),
        ];
        for (spec, params) in cases {
            assert_eq!(spec.init(cifar, 100, &device).num_params(), params, "{}", spec.describe());
        }
    }

    /// Each network's feature maps and embedding have the shapes its spec announces (what AT,
    /// FitNets and the views rely on), on CIFAR-sized and on odd-sized images.
    #[test]
    fn feature_maps_have_the_announced_shapes() {
        let device = Device::flex();
        let specs = [
            ModelSpec::Cnn(cnn::Spec { channels: vec![4, 8], hidden: vec![] }),
            ModelSpec::Resnet(resnet::Resnet { depth: 8, channels: vec![4, 4, 8, 16] }),
            ModelSpec::Wrn(wrn::Spec { depth: 10, widen: 1 }),
            ModelSpec::Vgg(vgg::Spec { depth: 8 }),
        ];
        for shape in [
            InputShape::Image { channels: 3, height: 32, width: 32 },
            InputShape::Image { channels: 1, height: 28, width: 28 },
        ] {
            for spec in &specs {
                let out = spec.init(shape, 10, &device).forward(Tensor::zeros([2, shape.len()], &device));
                let shapes: Vec<[usize; 3]> = out
                    .feature_maps
                    .iter()
                    .map(|m| {
                        let [_, c, h, w] = m.dims();
                        [c, h, w]
                    })
                    .collect();
                assert_eq!(shapes, spec.feature_shapes(shape), "{} on {shape:?}", spec.describe());
                assert_eq!(out.embedding.dims(), [2, spec.embedding_width(shape)], "{}", spec.describe());
                assert_eq!(out.logits.dims(), [2, 10]);
            }
        }
    }

    /// Batch norm learns its statistics in training only: a forward pass on the autodiff device
    /// moves the running mean, one on the plain device (evaluation) does not.
    #[test]
    fn batch_norm_statistics_move_in_training_only() {
        let device = Device::flex().autodiff();
        let shape = InputShape::Image { channels: 3, height: 8, width: 8 };
        let network =
            ModelSpec::Resnet(resnet::Resnet { depth: 8, channels: vec![2, 2, 2, 2] }).init(shape, 3, &device);
        let inputs = Tensor::<2>::ones([4, shape.len()], &device).mul_scalar(5.0);
        let evaluated = network.valid();
        let before = evaluated.forward(inputs.clone().inner()).logits.into_data();
        assert_eq!(evaluated.forward(inputs.clone().inner()).logits.into_data(), before, "evaluation changes nothing");
        let _ = network.forward(inputs.clone());
        let after = network.valid().forward(inputs.inner()).logits.into_data();
        assert_ne!(after, before, "a training pass moved the running statistics");
    }

    #[test]
    fn bad_architectures_are_explained() {
        let depth_of = |spec: ModelSpec| spec.check_structure().err().map(|(field, _)| field);
        assert_eq!(
            depth_of(ModelSpec::Resnet(resnet::Resnet { depth: 9, channels: default_resnet_channels() })),
            Some("depth")
        );
        assert_eq!(
            depth_of(ModelSpec::Resnet(resnet::Resnet { depth: 6 * 1_000_000 + 2, channels: vec![16; 4] })),
            Some("depth")
        );
        assert_eq!(
            depth_of(ModelSpec::Resnet(resnet::Resnet { depth: 8, channels: vec![16, 16, 1 << 40, 64] })),
            Some("channels")
        );
        assert_eq!(depth_of(ModelSpec::Wrn(wrn::Spec { depth: 16, widen: 1 << 40 })), Some("widen"));
        assert_eq!(depth_of(ModelSpec::Vgg(vgg::Spec { depth: 12 })), Some("depth"));
        assert_eq!(
            depth_of(ModelSpec::Resnet(resnet::Resnet { depth: 1202, channels: default_resnet_channels() })),
            None
        );
        let image = InputShape::Image { channels: 1, height: 8, width: 8 };
        assert!(ModelSpec::Mlp(mlp::Spec { hidden: vec![] }).check(image).is_err());
        assert!(ModelSpec::Cnn(cnn::Spec { channels: vec![4, 4, 4, 4], hidden: vec![] }).check(image).is_err());
        assert!(
            ModelSpec::Cnn(cnn::Spec { channels: vec![4], hidden: vec![] })
                .check(InputShape::Flat { features: 2 })
                .is_err()
        );
    }
}
