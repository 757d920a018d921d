//! What a stage optimises: the student network, plus what some methods train beside it —
//! FitNets' regressor from a student layer onto the teacher's (TinyBERT's map between two
//! transformers' hidden widths), DML's peers and CTKD's learned temperature.

use crate::data::InputShape;
use crate::model::{Forward, ModelSpec, Network};
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};

/// FitNets' regressor: a 3×3 conv from the student's last feature map to the teacher's when both
/// have as many maps and the last ones are the same size, else a linear map between the
/// penultimate embeddings. Between two transformers, TinyBERT's `W_h`: one linear map from the
/// student's hidden width to the teacher's, shared by every matched layer.
#[derive(Module, Debug)]
pub(crate) enum Regressor {
    Conv(Conv2d),
    Dense(Linear),
    Hidden(Linear),
}

impl Regressor {
    fn new(student: &ModelSpec, teacher: &ModelSpec, shape: InputShape, device: &Device) -> Regressor {
        if let (ModelSpec::Transformer(from), ModelSpec::Transformer(to)) = (student, teacher) {
            return Regressor::Hidden(LinearConfig::new(from.width, to.width).init(device));
        }
        let (student_maps, teacher_maps) = (student.feature_shapes(shape), teacher.feature_shapes(shape));
        match (student_maps.last(), teacher_maps.last()) {
            (Some(from), Some(to)) if student_maps.len() == teacher_maps.len() && from[1..] == to[1..] => {
                let conv =
                    Conv2dConfig::new([from[0], to[0]], [3, 3]).with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
                Regressor::Conv(conv.init(device))
            }
            _ => Regressor::Dense(
                LinearConfig::new(student.embedding_width(shape), teacher.embedding_width(shape)).init(device),
            ),
        }
    }

    /// The regressed student hint and the teacher's target, both flattened to `[batch, n]`.
    pub(crate) fn hint(&self, student: &Forward, teacher: &Forward) -> Option<(Tensor<2>, Tensor<2>)> {
        match self {
            Regressor::Conv(conv) => {
                let (from, to) = (student.feature_maps.last()?, teacher.feature_maps.last()?);
                Some((conv.forward(from.clone()).flatten(1, 3), to.clone().flatten(1, 3)))
            }
            Regressor::Dense(linear) | Regressor::Hidden(linear) => {
                Some((linear.forward(student.embedding.clone()), teacher.embedding.clone()))
            }
        }
    }

    /// A student's hidden states `[batch, seq, width]` mapped to the teacher's width (`H_s·W_h`);
    /// `None` unless this is the map between two transformers.
    pub(crate) fn map_hidden(&self, hidden: Tensor<3>) -> Option<Tensor<3>> {
        match self {
            Regressor::Hidden(linear) => Some(linear.forward(hidden)),
            Regressor::Conv(_) | Regressor::Dense(_) => None,
        }
    }

    /// Whether the hint needs the teacher's feature maps (not only its embedding).
    pub(crate) fn uses_maps(&self) -> bool {
        matches!(self, Regressor::Conv(_))
    }

    /// Which layers the hint joins, for the log.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Regressor::Conv(_) => {
                "FitNets hint from the last conv block -> teacher's last conv block (3x3 conv regressor)"
            }
            Regressor::Dense(_) => {
                "FitNets hint from the penultimate layer -> teacher's penultimate layer (linear regressor)"
            }
            Regressor::Hidden(_) => {
                "hidden states of the matched layers -> the teacher's (one linear map W_h from the student's width to \
                 the teacher's, shared by the layers)"
            }
        }
    }
}

/// What trains alongside the student.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Companions {
    None,
    /// A regressor from a student layer onto the teacher's (FitNets).
    Regressor,
    /// Peer networks of the student's architecture, as many as the `peers` hyperparameter says
    /// (the student included).
    Peers,
    /// A learnable temperature (CTKD), reported as the `temperature` metric.
    Temperature,
}

/// What a stage's trainee is made of: its model, what trains beside it (DML's peers counting the
/// student) and its seed.
pub(crate) struct Makeup<'a> {
    pub(crate) model: &'a ModelSpec,
    pub(crate) companions: Companions,
    pub(crate) peers: usize,
    pub(crate) seed: u64,
}

/// The student and what trains with it.
#[derive(Module, Debug)]
pub(crate) struct Trainee {
    pub(crate) network: Network,
    pub(crate) regressor: Option<Regressor>,
    /// DML's other peers (the stage's model is the first).
    pub(crate) peers: Vec<Network>,
    /// CTKD's temperature parameter θ (the temperature is a function of it).
    pub(crate) temperature: Option<Param<Tensor<1>>>,
}

/// The forward passes of a trainee on one batch.
pub(crate) struct TraineeForward {
    pub(crate) student: Forward,
    pub(crate) peers: Vec<Forward>,
    /// CTKD's temperature parameter θ, tracked for its gradient.
    pub(crate) temperature: Option<Tensor<1>>,
}

impl Trainee {
    /// Fresh parameters on `device` (seeded by the caller); peers get seeds of their own.
    pub(crate) fn new(
        makeup: &Makeup,
        teacher: Option<&ModelSpec>,
        shape: InputShape,
        classes: usize,
        device: &Device,
    ) -> Trainee {
        let Makeup { model, companions, seed, .. } = *makeup;
        let network = model.init(shape, classes, device);
        let regressor = match (companions, teacher) {
            (Companions::Regressor, Some(teacher)) => Some(Regressor::new(model, teacher, shape, device)),
            _ => None,
        };
        let peer_count = if companions == Companions::Peers { makeup.peers } else { 1 };
        let peers = (1..peer_count as u64)
            .map(|k| {
                device.seed(seed.wrapping_add(k));
                model.init(shape, classes, device)
            })
            .collect();
        // Li et al. start θ at 1.
        let temperature =
            (companions == Companions::Temperature).then(|| Param::from_tensor(Tensor::ones([1], device)));
        Trainee { network, regressor, peers, temperature }
    }

    /// CTKD's learned temperature parameter θ now (one read from the device).
    pub(crate) fn learned_theta(&self) -> Option<f64> {
        Some(f64::from(self.temperature.as_ref()?.val().into_scalar::<f32>()))
    }

    pub(crate) fn forward(&self, input: Tensor<2>) -> TraineeForward {
        TraineeForward {
            student: self.network.forward(input.clone()),
            peers: self.peers.iter().map(|p| p.forward(input.clone())).collect(),
            temperature: self.temperature.as_ref().map(|theta| theta.val()),
        }
    }
}
