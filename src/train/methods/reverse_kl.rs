//! Reverse KL at every position: the student is penalised for mass where the teacher has little
//! (mode-seeking), so it concentrates on the teacher's likeliest characters — MiniLLM's objective
//! without its policy-gradient estimator, on the data's text.

use super::spec::{Hypers, MethodSpec, ON_POLICY, StepInputs, StepLoss};
use super::token::{LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, distil, token_method};
use crate::distill::TokenDivergence;

pub(crate) static METHOD: MethodSpec = token_method(
    "reverse_kl",
    "(1−α)·CE + α·KL(p_s ‖ p_t) per next character: mode-seeking",
    "Gu et al. 2024 (MiniLLM)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH],
    loss,
);

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil(inputs, hypers, TokenDivergence::Reverse, "loss_reverse_kl")
}
