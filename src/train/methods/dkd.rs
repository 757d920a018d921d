//! Decoupled KD: the KD loss split into a target-class term (TCKD) and a non-target-class term
//! (NCKD), weighted α and β, with a warm-up.

use super::spec::{
    ALPHA, BETA, Companions, HyperSpec, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherUse,
    Valid, any_stage, any_teacher,
};
use crate::distill;

const WARMUP_EPOCHS: HyperSpec = HyperSpec {
    name: "warmup_epochs",
    symbol: "warm-up",
    label: "warm-up",
    default: 5.0,
    valid: Valid::AtLeast(0.0),
    live: None,
    help: "Epochs over which the distillation weight ramps from 0 to 1",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "dkd",
    summary: "CE + w·(α·TCKD + β·NCKD), w ramping 0→1 over warmup_epochs",
    paper: "Zhao, Cui, Song, Qiu & Liang 2022",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[
        TEMPERATURE,
        // Zhao et al.: α (the TCKD weight) is 1.
        HyperSpec { default: 1.0, help: "Weight α of the target-class term TCKD", ..ALPHA },
        // Zhao et al.: β = 8 on CIFAR-100.
        HyperSpec {
            default: 8.0,
            help: "Weight β of the non-target-class term, from the next optimizer step:\n\
                loss = CE + warm-up·(α·TCKD + β·NCKD)",
            ..BETA
        },
        WARMUP_EPOCHS,
        STANDARDIZE,
    ],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let Some((student, teacher)) = inputs.distilled_logits(hypers) else { return inputs.cross_entropy() };
    let ce = distill::cross_entropy(inputs.logits(), inputs.labels());
    let terms = distill::dkd_terms(student, teacher, inputs.labels(), hypers.get(TEMPERATURE.name));
    let warmup_epochs = hypers.get(WARMUP_EPOCHS.name);
    let warmup = if warmup_epochs > 0.0 { (inputs.progress / warmup_epochs).min(1.0) } else { 1.0 };
    let total = ce.clone() + terms.combine(hypers.get(ALPHA.name), hypers.get(BETA.name)).mul_scalar(warmup);
    StepLoss { total, terms: vec![("loss_ce", ce), ("loss_tckd", terms.target), ("loss_nckd", terms.non_target)] }
}
