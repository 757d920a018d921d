//! NKD: KD rewritten as a normalized target term (the teacher's confidence weighting the
//! student's log-likelihood of the label) plus a non-target term over the other classes,
//! renormalized, instead of cross-entropy plus KL.

use super::spec::{
    Companions, GAMMA, HyperSpec, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherUse,
    Valid, any_stage, any_teacher,
};
use crate::distill;

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "nkd",
    summary: "−t_y·log s_y − γ·T²·Σ_{k≠y} softmax(t∖y/T)_k·log softmax(s∖y/T)_k",
    paper: "Yang, Zeng, Li, Zhang, Yuan & Li 2023",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[
        // Yang et al.: T = 1, γ = 1.5 on ImageNet.
        HyperSpec { default: 1.0, ..TEMPERATURE },
        HyperSpec {
            name: GAMMA.name,
            symbol: "γ",
            label: "γ",
            default: 1.5,
            valid: Valid::AtLeast(0.0),
            live: None,
            help: "Weight γ of the non-target term",
        },
        STANDARDIZE,
    ],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let Some((student, teacher)) = inputs.distilled_logits(hypers) else { return inputs.cross_entropy() };
    let terms = distill::nkd_terms(student, teacher, inputs.labels(), hypers.get(TEMPERATURE.name));
    let total = terms.combine(hypers.get(GAMMA.name));
    StepLoss { total, terms: vec![("loss_nkd_target", terms.target), ("loss_nkd_non_target", terms.non_target)] }
}
