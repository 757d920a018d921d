//! Relational KD: the distances and angles between examples' penultimate embeddings are made
//! to match the teacher's, on top of cross-entropy (and KD when α > 0).

use super::spec::{
    ALPHA, Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherUse, Valid, any_stage,
    any_teacher,
};
use crate::distill;

/// Park et al.: λ_D = 25.
const DISTANCE_WEIGHT: HyperSpec = HyperSpec {
    name: "distance_weight",
    symbol: "λd",
    label: "λd",
    default: 25.0,
    valid: Valid::AtLeast(0.0),
    live: None,
    help: "Weight of RKD-D, the match of normalised pairwise distances",
};

/// Park et al.: λ_A = 50.
const ANGLE_WEIGHT: HyperSpec = HyperSpec {
    name: "angle_weight",
    symbol: "λa",
    label: "λa",
    default: 50.0,
    valid: Valid::AtLeast(0.0),
    live: None,
    help: "Weight of RKD-A, the match of the angles of triplets",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "rkd",
    summary: "(1−α)·CE + α·KD + w_d·RKD-D + w_a·RKD-A on the penultimate embeddings",
    paper: "Park, Kim, Lu & Cho 2019",
    teacher: TeacherUse::Features,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    // RKD adds its relations to CE alone unless asked for KD too.
    hypers: &[TEMPERATURE, HyperSpec { default: 0.0, ..ALPHA }, DISTANCE_WEIGHT, ANGLE_WEIGHT],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let mut loss = inputs.kd(hypers);
    let Some(teacher) = inputs.teacher else { return loss };
    let relations = distill::rkd_terms(inputs.forward.student.embedding.clone(), teacher.embedding.clone());
    loss.total = loss.total + relations.combine(hypers.get(DISTANCE_WEIGHT.name), hypers.get(ANGLE_WEIGHT.name));
    loss.terms.push(("loss_rkd_distance", relations.distance));
    loss.terms.push(("loss_rkd_angle", relations.angle));
    loss
}
