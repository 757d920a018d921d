//! DistiLLM's skew KL: the forward KL from the teacher to a mixture λ·teacher + (1−λ)·student,
//! which stays finite and smooth where the student gives a character almost no mass.

use super::spec::{Hypers, MethodSpec, ON_POLICY, SKEW, StepInputs, StepLoss};
use super::token::{LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, distil, token_method};
use crate::distill::TokenDivergence;

pub(crate) static METHOD: MethodSpec = token_method(
    "skew_kl",
    "(1−α)·CE + α·KL(p_t ‖ λ·p_t + (1−λ)·p_s): forward KL against a skewed mixture",
    "Ko et al. 2024 (DistiLLM)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH, SKEW],
    loss,
);

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil(inputs, hypers, TokenDivergence::Skew { alpha: hypers.get(SKEW.name) }, "loss_skew_kl")
}
