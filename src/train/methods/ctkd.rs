//! CTKD: curriculum temperature. KD's temperature is learned, but adversarially: a gradient
//! reversal layer makes it *raise* the KD loss, with a weight λ that ramps from 0 to 1 along a
//! cosine over the first epochs, so distillation gets harder as the student gets better.

use super::spec::{
    ALPHA, Companions, HyperSpec, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TeacherUse, Valid, any_stage,
    any_teacher, kd_style,
};
use crate::distill;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

const T_START: HyperSpec = HyperSpec {
    name: "t_start",
    symbol: "T₀",
    label: "T start",
    default: 1.0,
    valid: Valid::Above(0.0),
    live: None,
    help: "Lowest temperature: T = t_start + t_range·sigmoid(θ)",
};

const T_RANGE: HyperSpec = HyperSpec {
    name: "t_range",
    symbol: "ΔT",
    label: "T range",
    default: 20.0,
    valid: Valid::AtLeast(0.0),
    live: None,
    help: "Span of the learned temperature: T = t_start + t_range·sigmoid(θ)",
};

const RAMP_EPOCHS: HyperSpec = HyperSpec {
    name: "ramp_epochs",
    symbol: "ramp",
    label: "ramp",
    default: 10.0,
    valid: Valid::AtLeast(0.0),
    live: None,
    help: "Epochs over which the reversal weight λ rises from 0 to 1 along a cosine",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "ctkd",
    summary: "KD at a learned T = t_start + t_range·sigmoid(θ), θ trained through gradient reversal (weight λ: 0→1)",
    paper: "Li, Li, Yang, Zhao, Shi & Liu 2023",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::Temperature,
    // Li et al.: t_start = 1, t_range = 20, λ ramped over 10 epochs.
    hypers: &[ALPHA, T_START, T_RANGE, RAMP_EPOCHS, STANDARDIZE],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

/// The temperature a learned θ stands for, `t_start + t_range·sigmoid(θ)`.
pub(crate) fn temperature(theta: f64, hypers: &Hypers) -> f64 {
    hypers.get(T_START.name) + hypers.get(T_RANGE.name) / (1.0 + (-theta).exp())
}

/// The reversal weight at `progress` epochs: `(1 − cos(π·min(1, progress / ramp))) / 2`.
pub(crate) fn reversal_weight(progress: f64, ramp_epochs: f64) -> f64 {
    let share = if ramp_epochs > 0.0 { (progress / ramp_epochs).min(1.0) } else { 1.0 };
    (1.0 - (std::f64::consts::PI * share).cos()) / 2.0
}

/// Ganin & Lempitsky's gradient reversal: the value of `x`, the gradient −λ times `x`'s.
fn reverse_gradient(x: Tensor<1>, lambda: f64) -> Tensor<1> {
    x.clone().detach().mul_scalar(1.0 + lambda) - x.mul_scalar(lambda)
}

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let (Some((student, teacher)), Some(theta)) = (inputs.distilled_logits(hypers), inputs.forward.temperature.clone())
    else {
        return inputs.cross_entropy();
    };
    let lambda = reversal_weight(inputs.progress, hypers.get(RAMP_EPOCHS.name));
    let temperature = sigmoid(reverse_gradient(theta, lambda))
        .mul_scalar(hypers.get(T_RANGE.name))
        .add_scalar(hypers.get(T_START.name));
    let terms = distill::KdTerms {
        hard: distill::cross_entropy(inputs.logits(), inputs.labels()),
        soft: distill::soft_target_kl_at(student, teacher, temperature),
    };
    kd_style(terms, hypers.get(ALPHA.name))
}

#[cfg(test)]
mod tests {
    use super::{reversal_weight, reverse_gradient};
    use burn::tensor::{Device, Tensor, TensorData};

    #[test]
    fn reversal_keeps_the_value_and_turns_the_gradient() {
        let device = Device::flex().autodiff();
        let x = Tensor::<1>::from_data(TensorData::new(vec![0.7f32], [1]), &device).require_grad();
        let reversed = reverse_gradient(x.clone(), 0.5);
        assert!((reversed.clone().into_scalar::<f32>() - 0.7).abs() < 1e-6);
        let grads = (reversed.clone() * reversed).backward();
        let gradient: Vec<f32> =
            x.grad(&grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap_or_default()).unwrap_or_default();
        // d(x²)/dx = 1.4, reversed and scaled by λ = 0.5.
        assert!((gradient[0] + 0.7).abs() < 1e-5, "{gradient:?}");
    }

    #[test]
    fn the_reversal_weight_ramps_along_a_cosine() {
        assert_eq!(reversal_weight(0.0, 10.0), 0.0);
        assert!((reversal_weight(5.0, 10.0) - 0.5).abs() < 1e-12);
        assert_eq!(reversal_weight(10.0, 10.0), 1.0);
        assert_eq!(reversal_weight(30.0, 10.0), 1.0);
        assert_eq!(reversal_weight(0.0, 0.0), 1.0);
    }
}
