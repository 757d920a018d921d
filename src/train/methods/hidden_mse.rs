//! TinyBERT's hidden-state transfer on a character transformer: the student's hidden states of
//! the matched layers, mapped to the teacher's width by one learned linear map `W_h`, are pulled
//! to the teacher's by mean squared error, on top of the forward-KL logit term. Student layer m
//! of M is matched to teacher layer ⌈m·N/M⌉ of N (TinyBERT's uniform mapping, so the last layers
//! meet); `hidden_layers` keeps the student's last few.

use super::spec::{
    Companions, HyperSpec, Hypers, MethodSpec, ON_POLICY, StepInputs, StepLoss, TeacherPair, TeacherUse, Valid,
};
use super::token::{
    LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, check_transformer_pair, distil_with_transfer,
    token_method, transfer_weight,
};
use crate::distill;
use crate::model::Forward;
use burn::tensor::Tensor;

const HIDDEN_LAYERS: HyperSpec = HyperSpec {
    name: "hidden_layers",
    symbol: "L",
    label: "hidden layers",
    default: 0.0,
    valid: Valid::Whole(0, 256),
    live: None,
    help: "How many of the student's last layers are matched, each to teacher layer ⌈m·N/M⌉ (0: every layer)",
};

const BETA_HELP: &str = "Weight β of the hidden-state MSE, from the next optimizer step:\n\
                    loss = (1 - α)·CE + α·KL(p_t || p_s) + β·mean over matched layers of mean((H_s·W_h − H_t)²)";

pub(crate) static METHOD: MethodSpec = MethodSpec {
    teacher: TeacherUse::Features,
    companions: Companions::Regressor,
    check_teacher,
    ..token_method(
        "hidden_mse",
        "(1−α)·CE + α·KL(p_t ‖ p_s) + β·mean((H_s·W_h − H_t)²) over matched layers (student m of M ↔ teacher ⌈m·N/M⌉; W_h learned)",
        "Jiao et al. 2020 (TinyBERT); Romero et al. 2015 (FitNets)",
        &[
            LM_TEMPERATURE,
            LM_ALPHA,
            ON_POLICY,
            SAMPLE_TEMPERATURE,
            SAMPLE_LENGTH,
            transfer_weight(BETA_HELP),
            HIDDEN_LAYERS,
        ],
        loss,
    )
};

fn check_teacher(pair: &TeacherPair) -> Result<(), String> {
    check_transformer_pair(pair, "hidden-state transfer matches the layers' hidden states")
}

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let transfer = inputs.teacher.zip(inputs.regressor).and_then(|(teacher, regressor)| {
        let pairs = matched_layers(&inputs.forward.student, teacher, hypers.get(HIDDEN_LAYERS.name) as usize);
        let terms: Vec<Tensor<1>> = pairs
            .into_iter()
            .filter_map(|(student, teacher)| Some(distill::hidden_mse(regressor.map_hidden(student)?, teacher)))
            .collect();
        let count = terms.len();
        terms.into_iter().reduce(|a, b| a + b).map(|sum| sum.div_scalar(count as f64))
    });
    distil_with_transfer(inputs, hypers, transfer, "loss_hidden_mse")
}

/// The student's hidden states of its last `last` layers (all when 0 or more than it has), each
/// with the teacher's of layer ⌈m·N/M⌉ (detached: a fixed target).
fn matched_layers(student: &Forward, teacher: &Forward, last: usize) -> Vec<(Tensor<3>, Tensor<3>)> {
    let (m_layers, n_layers) = (student.hidden_states.len(), teacher.hidden_states.len());
    let first = match last {
        0 => 1,
        k => m_layers.saturating_sub(k) + 1,
    };
    (first..=m_layers)
        .filter_map(|m| {
            let teacher_layer = teacher_layer(m, m_layers, n_layers)?;
            let target = teacher.hidden_states.get(teacher_layer - 1)?.clone().detach();
            Some((student.hidden_states.get(m - 1)?.clone(), target))
        })
        .collect()
}

/// TinyBERT's uniform mapping of student layer `m` (1-based, of `m_layers`) onto the teacher's
/// `n_layers`, rounded up so the last layers always meet.
fn teacher_layer(m: usize, m_layers: usize, n_layers: usize) -> Option<usize> {
    (m_layers > 0 && n_layers > 0).then(|| (m * n_layers).div_ceil(m_layers))
}

#[cfg(test)]
mod tests {
    use super::teacher_layer;

    #[test]
    fn layers_map_uniformly_and_the_last_ones_meet() {
        let map = |m_layers, n_layers| (1..=m_layers).map(|m| teacher_layer(m, m_layers, n_layers)).collect::<Vec<_>>();
        assert_eq!(map(2, 4), [Some(2), Some(4)]);
        assert_eq!(map(3, 4), [Some(2), Some(3), Some(4)]);
        assert_eq!(map(4, 4), [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(map(4, 2), [Some(1), Some(1), Some(2), Some(2)]);
        assert_eq!(teacher_layer(1, 1, 0), None);
    }
}
