//! TinyBERT's attention loss on a character transformer: the mean squared difference between
//! the student's and the teacher's last-layer attention probabilities, on top of the forward-KL
//! logit term. Heads pair one to one when both models have as many, else each side is averaged
//! over its heads.

use super::spec::{Hypers, MethodSpec, ON_POLICY, StepInputs, StepLoss};
use super::token::{
    LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, attention_method, distil_with_attention, token_method,
    transfer_weight,
};
use crate::distill;

const BETA_HELP: &str = "Weight β of the attention MSE, from the next optimizer step:\n\
                loss = (1 - α)·CE + α·KL(p_t || p_s) + β·mean((A_s - A_t)²), last layer";

pub(crate) static METHOD: MethodSpec = attention_method(token_method(
    "attention_mse",
    "(1−α)·CE + α·KL(p_t ‖ p_s) + β·mean((A_s − A_t)²) of the last layer's attention (heads one to one; averaged when the counts differ)",
    "Jiao et al. 2020 (TinyBERT)",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH, transfer_weight(BETA_HELP)],
    loss,
));

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil_with_attention(inputs, hypers, distill::attention_mse, "loss_attention_mse")
}
