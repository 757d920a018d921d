//! FitNets: a hint stage in which a regressor on the student's layer learns to reproduce the
//! teacher's, then KD.

use super::spec::{
    ALPHA, Companions, HyperSpec, Hypers, MethodSpec, StageProblem, StepInputs, StepLoss, TEMPERATURE, TeacherUse,
    Valid, any_teacher,
};
use crate::distill;
use crate::preset::TrainSettings;

const HINT_EPOCHS: HyperSpec = HyperSpec {
    name: "hint_epochs",
    symbol: "hint",
    label: "hint",
    default: 5.0,
    valid: Valid::Whole(0, u32::MAX),
    live: None,
    help: "Epochs of the hint stage (the hint loss alone) before KD takes over",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "fitnets",
    summary: "hint loss ‖r(s) − t‖² through a learned regressor for hint_epochs, then KD",
    paper: "Romero et al. 2015",
    teacher: TeacherUse::Features,
    uses_feature_maps: false,
    text: false,
    companions: Companions::Regressor,
    hypers: &[TEMPERATURE, ALPHA, HINT_EPOCHS],
    check_stage,
    check_teacher: any_teacher,
    loss,
};

fn check_stage(hypers: &Hypers, settings: &TrainSettings) -> Result<(), StageProblem> {
    let hint = hypers.get(HINT_EPOCHS.name);
    if hint < settings.epochs as f64 {
        return Ok(());
    }
    Err((
        "hint_epochs",
        format!("the hint stage ({hint} epochs) must leave epochs for KD (the stage has {})", settings.epochs),
    ))
}

/// The hint loss alone for the first `hint_epochs`, then KD; the hint is reported throughout.
fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let mut loss = inputs.kd(hypers);
    let Some(teacher) = inputs.teacher else { return loss };
    let hint = inputs.regressor.and_then(|r| r.hint(&inputs.forward.student, teacher)).map(|(regressed, target)| {
        let [batch, width] = regressed.dims();
        distill::fitnet(regressed.reshape([batch, width, 1, 1]), target.reshape([batch, width, 1, 1]))
    });
    if let Some(hint) = hint {
        if inputs.progress < hypers.get(HINT_EPOCHS.name) {
            loss.total = hint.clone();
        }
        loss.terms.push(("loss_hint", hint));
    }
    loss
}
