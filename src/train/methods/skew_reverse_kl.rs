//! DistiLLM's skew reverse KL: the reverse KL from the student to a mixture λ·student +
//! (1−λ)·teacher, mode-seeking like the reverse KL with bounded gradients.

use super::spec::{Hypers, MethodSpec, ON_POLICY, SKEW, StepInputs, StepLoss};
use super::token::{LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, distil, token_method};
use crate::distill::TokenDivergence;

pub(crate) static METHOD: MethodSpec = token_method(
    "skew_reverse_kl",
    "(1−α)·CE + α·KL(p_s ‖ λ·p_s + (1−λ)·p_t): reverse KL against a skewed mixture",
    "Ko et al. 2024 (DistiLLM)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH, SKEW],
    loss,
);

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil(inputs, hypers, TokenDivergence::SkewReverse { alpha: hypers.get(SKEW.name) }, "loss_skew_reverse_kl")
}
