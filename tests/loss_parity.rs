//! Every distillation loss against PyTorch reference values.
//!
//! Reads `tests/fixtures/losses.json`, `tests/fixtures/losses_modern.json` and
//! `tests/fixtures/losses_lm.json` (token-level LM divergences and attention losses), or only the file
//! named by `KDLAB_LOSS_FIXTURES` (in either format), and checks each case in f32 with a
//! relative tolerance of 1e-4. A case whose name this test does not know
//! fails the test, so a new loss in the fixtures cannot pass unnoticed.

// A test fails loudly: unwrap and expect say where.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use burn::tensor::{Device, Int, Tensor, TensorData};
use kdlab::distill;
use serde_json::Value;

const RELATIVE_TOLERANCE: f64 = 1e-4;
const ABSOLUTE_TOLERANCE: f64 = 1e-6;

fn fixture_paths() -> Vec<std::path::PathBuf> {
    match std::env::var_os("KDLAB_LOSS_FIXTURES") {
        Some(path) => vec![path.into()],
        None => ["losses.json", "losses_modern.json", "losses_lm.json"]
            .iter()
            .map(|file| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(file))
            .collect(),
    }
}

/// A nested JSON array flattened to values plus its shape.
fn flatten(value: &Value) -> (Vec<f64>, Vec<usize>) {
    let mut shape = Vec::new();
    let mut cursor = value;
    while let Value::Array(items) = cursor {
        shape.push(items.len());
        match items.first() {
            Some(first) => cursor = first,
            None => break,
        }
    }
    let mut values = Vec::new();
    collect(value, &mut values);
    (values, shape)
}

fn collect(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect(item, out)),
        Value::Number(number) => out.push(number.as_f64().expect("fixture numbers are finite")),
        other => panic!("unexpected fixture value {other}"),
    }
}

struct Case<'a> {
    name: &'a str,
    params: &'a Value,
    inputs: &'a Value,
    device: Device,
}

impl Case<'_> {
    fn param(&self, key: &str) -> f64 {
        self.params[key].as_f64().unwrap_or_else(|| panic!("case {} lacks parameter {key}", self.name))
    }

    fn float<const D: usize>(&self, key: &str) -> Tensor<D> {
        let (values, shape) = flatten(&self.inputs[key]);
        assert_eq!(shape.len(), D, "case {}: input {key} has rank {}", self.name, shape.len());
        let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
        Tensor::from_data(TensorData::new(values, shape), &self.device)
    }

    fn labels(&self) -> Tensor<1, Int> {
        let (values, shape) = flatten(&self.inputs["labels"]);
        let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        Tensor::from_data(TensorData::new(values, shape), &self.device)
    }

    /// Token labels `[batch, seq]`, `-100` where a position is ignored.
    fn token_labels(&self) -> Tensor<2, Int> {
        let (values, shape) = flatten(&self.inputs["labels"]);
        assert_eq!(shape.len(), 2, "case {}: token labels have rank {}", self.name, shape.len());
        let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
        Tensor::from_data(TensorData::new(values, shape), &self.device)
    }

    /// A token-level divergence of the case's logits and labels at its temperature.
    fn token(&self, divergence: distill::TokenDivergence) -> Tensor<1> {
        distill::token_divergence(
            divergence,
            self.float("student_logits"),
            self.float("teacher_logits"),
            self.token_labels(),
            self.param("temperature"),
        )
    }

    fn evaluate(&self) -> Option<Tensor<1>> {
        use distill::TokenDivergence as Token;
        let loss = match self.name {
            "forward_kl" => self.token(Token::Forward),
            "reverse_kl" => self.token(Token::Reverse),
            "gkd_jsd" => self.token(Token::GeneralizedJsd { beta: self.param("beta") }),
            "skew_kl" => self.token(Token::Skew { alpha: self.param("alpha") }),
            "skew_reverse_kl" => self.token(Token::SkewReverse { alpha: self.param("alpha") }),
            "tvd" => self.token(Token::TotalVariation),
            "attention_kl" => distill::attention_kl(self.float("student_attention"), self.float("teacher_attention")),
            "attention_mse" => distill::attention_mse(self.float("student_attention"), self.float("teacher_attention")),
            "kd" => distill::kd(
                self.float("student_logits"),
                self.float("teacher_logits"),
                self.labels(),
                self.param("temperature"),
                self.param("alpha"),
            ),
            "label_smoothing" => {
                distill::label_smoothing(self.float("student_logits"), self.labels(), self.param("epsilon"))
            }
            "tfkd_reg" => distill::tfkd_reg(
                self.float("student_logits"),
                self.labels(),
                self.param("correct_prob"),
                self.param("temperature"),
                self.param("alpha"),
            ),
            "dkd" => distill::dkd(
                self.float("student_logits"),
                self.float("teacher_logits"),
                self.labels(),
                self.param("temperature"),
                self.param("alpha"),
                self.param("beta"),
            ),
            "dml" => distill::dml(self.float("student_logits"), self.float("peer_logits"), self.param("temperature")),
            "rkd" => distill::rkd(
                self.float("student_features"),
                self.float("teacher_features"),
                self.param("distance_weight"),
                self.param("angle_weight"),
            ),
            "attention_transfer" => {
                distill::attention_transfer(self.float("student_features"), self.float("teacher_features"))
            }
            "fitnet" => distill::fitnet(self.float("student_features"), self.float("teacher_features")),
            "cross_entropy" => distill::cross_entropy(self.float("student_logits"), self.labels()),
            "dist" => distill::dist(
                self.float("student_logits"),
                self.float("teacher_logits"),
                self.param("temperature"),
                self.param("beta"),
                self.param("gamma"),
            ),
            "kd_standardized" => distill::kd_standardized(
                self.float("student_logits"),
                self.float("teacher_logits"),
                self.labels(),
                self.param("temperature"),
                self.param("alpha"),
            ),
            "nkd" => distill::nkd(
                self.float("student_logits"),
                self.float("teacher_logits"),
                self.labels(),
                self.param("temperature"),
                self.param("gamma"),
            ),
            "ttm" => {
                distill::ttm(self.float("student_logits"), self.float("teacher_logits"), self.param("temperature"))
            }
            "wttm" => {
                distill::wttm(self.float("student_logits"), self.float("teacher_logits"), self.param("temperature"))
            }
            _ => return None,
        };
        Some(loss)
    }
}

#[test]
fn every_fixture_case_matches_pytorch() {
    for path in fixture_paths() {
        check_fixture(&path);
    }
}

fn check_fixture(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let fixture: Value = serde_json::from_str(&text).expect("fixture is JSON");
    let cases = fixture["cases"].as_array().expect("fixture has a cases array");
    assert!(!cases.is_empty(), "{} holds no cases", path.display());

    let mut failures = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().expect("case has a name");
        let expected = case["expected"].as_f64().expect("case has an expected value");
        let case = Case { name, params: &case["params"], inputs: &case["inputs"], device: Device::flex() };
        let Some(loss) = case.evaluate() else {
            failures.push(format!("case {index}: unknown loss name {name:?}"));
            continue;
        };
        let actual = f64::from(loss.into_scalar::<f32>());
        let tolerance = ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * expected.abs();
        if (actual - expected).abs() > tolerance || !actual.is_finite() {
            failures.push(format!("case {index} ({name}, params {}): expected {expected}, got {actual}", case.params));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn kd_gradients_are_finite_for_confident_teachers() {
    let device = Device::flex().autodiff();
    let student =
        Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, -1.0, 2.0, 0.5, 0.1], [2, 3]), &device).require_grad();
    let teacher = Tensor::<2>::from_data(TensorData::new(vec![80.0f32, -80.0, 0.0, -90.0, 90.0, 0.0], [2, 3]), &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1], [2]), &device);
    for loss in [
        distill::kd(student.clone(), teacher.clone(), labels.clone(), 1.0, 0.9),
        distill::dkd(student.clone(), teacher.clone(), labels.clone(), 1.0, 1.0, 8.0),
        distill::rkd(student.clone(), teacher.clone(), 25.0, 50.0),
    ] {
        let grads = loss.backward();
        let gradient: Vec<f32> =
            student.grad(&grads).expect("student has a gradient").into_data().try_to_vec::<f32>().unwrap();
        assert!(gradient.iter().all(|g| g.is_finite()), "non-finite gradient {gradient:?}");
    }
}

/// The token-level divergences keep finite gradients when both models are certain and disagree
/// (probabilities that underflow to 0 in f32), and at GKD's endpoints β = 0 and 1.
#[test]
fn token_divergence_gradients_are_finite_for_confident_models() {
    use distill::TokenDivergence as Token;
    let device = Device::flex().autodiff();
    let student = Tensor::<3>::from_data(TensorData::new(vec![90.0f32, -90.0, 0.0, 0.0, 1.0, 2.0], [1, 2, 3]), &device)
        .require_grad();
    let teacher =
        Tensor::<3>::from_data(TensorData::new(vec![-80.0f32, 80.0, 0.0, 5.0, -5.0, 0.0], [1, 2, 3]), &device);
    let labels = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 0], [1, 2]), &device);
    for kind in [
        Token::Forward,
        Token::Reverse,
        Token::GeneralizedJsd { beta: 0.0 },
        Token::GeneralizedJsd { beta: 0.5 },
        Token::GeneralizedJsd { beta: 1.0 },
        Token::Skew { alpha: 0.1 },
        Token::SkewReverse { alpha: 0.1 },
        Token::TotalVariation,
    ] {
        let loss = distill::token_divergence(kind, student.clone(), teacher.clone(), labels.clone(), 1.0);
        assert!(loss.clone().into_scalar::<f32>().is_finite(), "{kind:?}");
        let grads = loss.backward();
        let gradient: Vec<f32> =
            student.grad(&grads).expect("student has a gradient").into_data().try_to_vec::<f32>().unwrap();
        assert!(gradient.iter().all(|g| g.is_finite()), "{kind:?}: non-finite gradient {gradient:?}");
    }
}

/// CTKD distils at a temperature that is a tensor (learned): at a fixed value its soft term
/// must be Hinton KD's, so every `kd` case of `losses.json` holds for it too.
#[test]
fn ctkd_at_a_fixed_temperature_is_kd() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/losses.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("losses.json")).expect("JSON");
    let cases: Vec<&Value> = fixture["cases"].as_array().expect("cases").iter().filter(|c| c["name"] == "kd").collect();
    assert!(!cases.is_empty(), "losses.json has kd cases");
    for case in cases {
        let case_ref = Case { name: "kd", params: &case["params"], inputs: &case["inputs"], device: Device::flex() };
        let (temperature, alpha) = (case_ref.param("temperature"), case_ref.param("alpha"));
        let learned = Tensor::<1>::from_data(TensorData::new(vec![temperature as f32], [1]), &case_ref.device);
        let soft =
            distill::soft_target_kl_at(case_ref.float("student_logits"), case_ref.float("teacher_logits"), learned);
        let hard = distill::cross_entropy(case_ref.float("student_logits"), case_ref.labels());
        let actual = f64::from((hard.mul_scalar(1.0 - alpha) + soft.mul_scalar(alpha)).into_scalar::<f32>());
        let expected = case["expected"].as_f64().expect("expected value");
        let tolerance = ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * expected.abs();
        assert!(
            (actual - expected).abs() <= tolerance,
            "T {temperature}, α {alpha}: expected {expected}, got {actual}"
        );
    }
}

/// A batch of one example has no relations to match: RKD is zero, not NaN (a last batch of one
/// made a run look diverged), and its gradient is finite.
#[test]
fn rkd_of_a_single_example_is_zero() {
    let device = Device::flex().autodiff();
    let student = Tensor::<2>::from_data(TensorData::new(vec![0.3f32, -1.2, 2.0], [1, 3]), &device).require_grad();
    let teacher = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 0.5], [1, 2]), &device);
    let loss = distill::rkd(student.clone(), teacher, 25.0, 50.0);
    let value = loss.clone().into_scalar::<f32>();
    assert_eq!(value, 0.0);
    let grads = loss.backward();
    let gradient: Vec<f32> =
        student.grad(&grads).map(|g| g.into_data().try_to_vec::<f32>().unwrap_or_default()).unwrap_or_default();
    assert!(gradient.iter().all(|g| g.is_finite()), "{gradient:?}");
}
