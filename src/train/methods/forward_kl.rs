//! Forward KL at every position: the student is pulled to cover every character the teacher
//! gives mass to (mode-covering), the classic distillation objective applied token by token.

use super::spec::{Hypers, MethodSpec, ON_POLICY, StepInputs, StepLoss};
use super::token::{LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, distil, token_method};
use crate::distill::TokenDivergence;

pub(crate) static METHOD: MethodSpec = token_method(
    "forward_kl",
    "(1−α)·CE + α·KL(p_t ‖ p_s) per next character: mode-covering",
    "Hinton et al. 2015, token by token (Kim & Rush 2016's word-level KD)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH],
    loss,
);

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil(inputs, hypers, TokenDivergence::Forward, "loss_forward_kl")
}
