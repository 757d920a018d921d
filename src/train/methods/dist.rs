//! DIST: the student matches the teacher's predictions through their Pearson correlation,
//! between classes for each example (inter) and between examples for each class (intra),
//! rather than exactly.

use super::spec::{
    BETA, Companions, GAMMA, HyperSpec, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherUse,
    any_stage, any_teacher,
};
use crate::distill;

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "dist",
    summary: "CE + T²·(β·inter + γ·intra), 1 − Pearson correlation of softmax(z/T) per example and per class",
    paper: "Huang, You, Wang, Qian & Xu 2022",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[
        // Huang et al.: τ = 4, β = γ = 2 on CIFAR-100.
        TEMPERATURE,
        HyperSpec {
            default: 2.0,
            help: "Weight β of the inter-class relation, from the next optimizer step:\n\
                loss = CE + T²·(β·(1 − ρ(p_s[i,:], p_t[i,:])) + γ·(1 − ρ(p_s[:,k], p_t[:,k])))",
            ..BETA
        },
        HyperSpec {
            default: 2.0,
            help: "Weight γ of the intra-class relation, from the next optimizer step:\n\
                loss = CE + T²·(β·inter + γ·intra)",
            ..GAMMA
        },
        STANDARDIZE,
    ],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let Some((student, teacher)) = inputs.distilled_logits(hypers) else { return inputs.cross_entropy() };
    let ce = distill::cross_entropy(inputs.logits(), inputs.labels());
    let temperature = hypers.get(TEMPERATURE.name);
    let terms = distill::dist_terms(student, teacher, temperature);
    let total = ce.clone() + terms.combine(temperature, hypers.get(BETA.name), hypers.get(GAMMA.name));
    StepLoss { total, terms: vec![("loss_ce", ce), ("loss_dist_inter", terms.inter), ("loss_dist_intra", terms.intra)] }
}
