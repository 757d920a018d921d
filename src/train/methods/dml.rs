//! Deep mutual learning: peers of one architecture trained together without a teacher, each
//! learning from the labels and from the others.

use super::spec::{
    Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherUse, Valid, any_stage,
    any_teacher,
};
use crate::distill;
use burn::tensor::Tensor;

pub(crate) const PEERS: HyperSpec = HyperSpec {
    name: "peers",
    symbol: "peers",
    label: "peers",
    default: 2.0,
    valid: Valid::Whole(2, 8),
    live: None,
    help: "Networks trained together, the stage's own included",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "dml",
    summary: "peers trained together, each CE + mean KL(peer ‖ self); no teacher",
    paper: "Zhang, Xiang, Hospedales & Lu 2018",
    teacher: TeacherUse::None,
    uses_feature_maps: false,
    text: false,
    companions: Companions::Peers,
    // DML's mimicry is a plain KL between peers.
    hypers: &[HyperSpec { default: 1.0, help: "Temperature of the peers' mimicry KL", ..TEMPERATURE }, PEERS],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

/// Every peer minimises its CE plus the mean KL from each other peer (held constant), all in
/// one step. The terms reported are the first peer's.
fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let forward = inputs.forward;
    let all: Vec<&Tensor<2>> =
        std::iter::once(&forward.student.logits).chain(forward.peers.iter().map(|p| &p.logits)).collect();
    let others = (all.len() - 1).max(1) as f64;
    let mut reported = Vec::new();
    let mut total = Tensor::<1>::zeros([1], &forward.student.logits.device());
    for (k, logits) in all.iter().enumerate() {
        let ce = distill::cross_entropy((*logits).clone(), inputs.labels());
        let mimicry = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, peer)| distill::dml((*logits).clone(), (*peer).clone(), hypers.get(TEMPERATURE.name)))
            .reduce(|a, b| a + b)
            .map(|sum| sum.div_scalar(others));
        let peer_total = mimicry.clone().map_or(ce.clone(), |m| ce.clone() + m);
        if k == 0 {
            reported.push(("loss_ce", ce));
            reported.extend(mimicry.map(|m| ("loss_dml", m)));
        }
        total = total + peer_total;
    }
    StepLoss { total, terms: reported }
}
