//! Attention transfer: the student's spatial attention maps (channel mean of squared
//! activations, L2-normalised) are made to match the teacher's at every conv block, on top of
//! KD.

use super::spec::{
    ALPHA, BETA, Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherPair, TeacherUse,
    any_stage,
};
use crate::distill;
use crate::model::ModelSpec;

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "at",
    summary: "(1−α)·CE + α·KD + β·Σ_blocks mean((a_s − a_t)²), feature maps paired one to one",
    paper: "Zagoruyko & Komodakis 2017",
    teacher: TeacherUse::Features,
    uses_feature_maps: true,
    text: false,
    companions: Companions::None,
    hypers: &[
        TEMPERATURE,
        ALPHA,
        // Zagoruyko & Komodakis use β = 1000 (with the mean over positions).
        HyperSpec {
            default: 1000.0,
            help: "Weight β of attention transfer, from the next optimizer step:\n\
                loss = (1 - α)·CE + α·T²·KL + β·Σ_blocks mean((a_s - a_t)²),  a = normalised channel mean of F²",
            ..BETA
        },
    ],
    check_stage: any_stage,
    check_teacher,
    loss,
};

/// Maps pair one to one, and (when the data's shape is known) at the same sizes.
fn check_teacher(pair: &TeacherPair) -> Result<(), String> {
    let (student, teacher) = (pair.student.block_channels().len(), pair.teacher.block_channels().len());
    if student == 0 || student != teacher {
        return Err(format!(
            "attention transfer matches feature maps one to one: the student has {student} and \"{}\" has {teacher}; use two convolutional models with as many blocks (stages, groups)",
            pair.teacher_name
        ));
    }
    let Some(shape) = pair.shape else { return Ok(()) };
    let sizes =
        |spec: &ModelSpec| spec.feature_shapes(shape).iter().map(|[_, h, w]| format!("{h}×{w}")).collect::<Vec<_>>();
    let (student_sizes, teacher_sizes) = (sizes(pair.student), sizes(pair.teacher));
    if student_sizes == teacher_sizes {
        return Ok(());
    }
    Err(format!(
        "attention transfer pairs feature maps of the same size: the student's are {} and \"{}\"'s {}",
        student_sizes.join(", "),
        pair.teacher_name,
        teacher_sizes.join(", ")
    ))
}

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let mut loss = inputs.kd(hypers);
    let Some(teacher) = inputs.teacher else { return loss };
    let pairs = inputs.forward.student.feature_maps.iter().zip(&teacher.feature_maps);
    let at = pairs
        .map(|(student, teacher)| distill::attention_transfer(student.clone(), teacher.clone()))
        .reduce(|a, b| a + b);
    if let Some(at) = at {
        loss.total = loss.total + at.clone().mul_scalar(hypers.get(BETA.name));
        loss.terms.push(("loss_at", at));
    }
    loss
}
