//! GKD's generalized Jensen–Shannon divergence between the teacher's and the student's
//! next-character distributions: β moves it from the forward KL (β = 0, mode-covering) to the
//! reverse KL (β = 1, mode-seeking); the endpoints are those KLs exactly.

use super::spec::{Hypers, JSD_BETA, MethodSpec, ON_POLICY, StepInputs, StepLoss};
use super::token::{LM_ALPHA, LM_TEMPERATURE, SAMPLE_LENGTH, SAMPLE_TEMPERATURE, distil, token_method};
use crate::distill::TokenDivergence;

pub(crate) static METHOD: MethodSpec = token_method(
    "gkd_jsd",
    "(1−α)·CE + α·JSD_β(p_t, p_s): β = 0 forward KL, β = 1 reverse KL",
    "Agarwal et al. 2024 (GKD), TRL's generalized_jsd_loss",
    &[LM_TEMPERATURE, LM_ALPHA, ON_POLICY, SAMPLE_TEMPERATURE, SAMPLE_LENGTH, JSD_BETA],
    loss,
);

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    distil(inputs, hypers, TokenDivergence::GeneralizedJsd { beta: hypers.get(JSD_BETA.name) }, "loss_jsd")
}
