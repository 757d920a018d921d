//! Total variation distance between the teacher's and the student's next-character
//! distributions: symmetric and bounded by 1, neither mode-covering nor mode-seeking.

use super::spec::{Hypers, MethodSpec, ON_POLICY, StepInputs, StepLoss};
use super::token::{LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, distil, token_method};
use crate::distill::TokenDivergence;

pub(crate) static METHOD: MethodSpec = token_method(
    "tvd",
    "(1−α)·CE + α·½·Σ|p_t − p_s| per next character",
    "Wen et al. 2023 (f-divergence KD)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH],
    loss,
);

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil(inputs, hypers, TokenDivergence::TotalVariation, "loss_tvd")
}
