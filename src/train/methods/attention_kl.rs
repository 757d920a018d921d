//! MiniLM's self-attention transfer on a character transformer: the student's last-layer
//! attention rows are pulled to the teacher's by KL(teacher row ‖ student row), on top of the
//! forward-KL logit term. Heads pair one to one when both models have as many, else each side
//! is averaged over its heads.

use super::spec::{Hypers, MethodSpec, ON_POLICY, StepInputs, StepLoss};
use super::token::{
    LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, attention_method, distil_with_attention, token_method,
    transfer_weight,
};
use crate::distill;

const BETA_HELP: &str = "Weight β of the attention KL, from the next optimizer step:\n\
                loss = (1 - α)·CE + α·KL(p_t || p_s) + β·mean over rows of KL(A_t row || A_s row), last layer";

pub(crate) static METHOD: MethodSpec = attention_method(token_method(
    "attention_kl",
    "(1−α)·CE + α·KL(p_t ‖ p_s) + β·KL(A_t ‖ A_s) of the last layer's attention rows (heads one to one; averaged when the counts differ)",
    "Wang et al. 2020 (MiniLM)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH, transfer_weight(BETA_HELP)],
    loss,
));

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil_with_attention(inputs, hypers, distill::attention_kl, "loss_attention_kl")
}
