//! Representation probes: what the attention-map, relations and decision-boundary views draw,
//! computed at every metric report on fixed probe sets from the test split (and a fixed grid
//! over the plane for 2-D data). Every probe's size depends on the data, never on how long
//! training ran. A probe the current models cannot give says why in one line instead.

use super::evaluate::{predict, to_host};
use crate::data::{Dataset, InputShape};
use crate::distill;
use crate::logits::argmax_rows;
use crate::model::Network;
use crate::protocol::probe::{GRID, NEIGHBOURS, RELATION_EXAMPLES};
use crate::protocol::{AttentionKind, AttentionProbe, BoundaryProbe, Plane, RelationProbe, Representations};
use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData};

/// Why the image and tabular probes are empty for a language model.
const NOT_FOR_TEXT: &str = "a language model reads a stream of text, not separate examples: this probe is for \
                            image and tabular data";

/// Training points drawn over the decision boundary.
const PLANE_POINTS: usize = 400;

/// The fixed inputs of the probes, uploaded once per run.
pub(crate) struct ProbeInputs {
    /// The attention examples (the run's probe examples) and their labels.
    pub(crate) examples: Tensor<2>,
    pub(crate) example_labels: Tensor<1, Int>,
    /// Test indices of the relation examples, sorted by class.
    pub(crate) relation_examples: Vec<usize>,
    pub(crate) relations: Tensor<2>,
    /// The grid over the plane (standardised), for 2-feature data.
    pub(crate) grid: Option<Tensor<2>>,
    pub(crate) plane: Option<Plane>,
    pub(crate) shape: InputShape,
}

impl ProbeInputs {
    pub(crate) fn upload(dataset: &Dataset, examples: &[usize], device: &burn::tensor::Device) -> ProbeInputs {
        let test = &dataset.test;
        let width = dataset.shape.len();
        let rows = |indices: &[usize]| {
            let values: Vec<f32> =
                indices.iter().flat_map(|&i| test.features[i * width..(i + 1) * width].iter().copied()).collect();
            Tensor::<2>::from_data(TensorData::new(values, [indices.len(), width]), device)
        };
        let labels: Vec<i64> = examples.iter().map(|&i| i64::from(test.labels[i])).collect();
        // A text split is a stream of positions, not examples: its probes are the language
        // model's own (next-token distributions, samples, attention over a prompt).
        let relation_examples = match dataset.shape.is_text() {
            true => Vec::new(),
            false => relation_examples(&test.labels, dataset.num_classes()),
        };
        let (grid, plane) = plane_grid(dataset, device).unzip();
        ProbeInputs {
            examples: rows(examples),
            example_labels: Tensor::from_data(TensorData::new(labels, [examples.len()]), device),
            relations: rows(&relation_examples),
            relation_examples,
            grid,
            plane,
            shape: dataset.shape,
        }
    }
}

/// `RELATION_EXAMPLES` test indices taken round-robin over the classes, sorted by class.
pub(crate) fn relation_examples(labels: &[u32], classes: usize) -> Vec<usize> {
    let by_class: Vec<Vec<usize>> = (0..classes as u32)
        .map(|c| labels.iter().enumerate().filter(|(_, l)| **l == c).map(|(i, _)| i).collect())
        .collect();
    let mut chosen = Vec::new();
    for round in 0.. {
        let before = chosen.len();
        for members in &by_class {
            if chosen.len() < RELATION_EXAMPLES
                && let Some(&index) = members.get(round)
            {
                chosen.push(index);
            }
        }
        if chosen.len() == before || chosen.len() == RELATION_EXAMPLES {
            break;
        }
    }
    chosen.sort_by_key(|&i| (labels[i], i));
    chosen
}

/// For 2-feature tabular data: the grid (standardised) and the plane in the data's units.
fn plane_grid(dataset: &Dataset, device: &burn::tensor::Device) -> Option<(Tensor<2>, Plane)> {
    if dataset.shape != (InputShape::Flat { features: 2 }) || dataset.train.is_empty() {
        return None;
    }
    let original: Vec<[f32; 2]> = dataset
        .train
        .features
        .chunks_exact(2)
        .map(|row| {
            let v = dataset.standardization.invert(row);
            [v[0], v[1]]
        })
        .collect();
    let range = |axis: usize| {
        let (low, high) = original.iter().fold((f32::MAX, f32::MIN), |(l, h), p| (l.min(p[axis]), h.max(p[axis])));
        let margin = ((high - low) * 0.1).max(1e-3);
        [low - margin, high + margin]
    };
    let (x, y) = (range(0), range(1));
    let mut cells = Vec::with_capacity(GRID * GRID * 2);
    for row in 0..GRID {
        for column in 0..GRID {
            let at = |r: [f32; 2], i: usize| r[0] + (r[1] - r[0]) * (i as f32 + 0.5) / GRID as f32;
            cells.extend([at(x, column), at(y, row)]);
        }
    }
    dataset.standardization.apply(&mut cells);
    let grid = Tensor::<2>::from_data(TensorData::new(cells, [GRID * GRID, 2]), device);
    let step = original.len().div_ceil(PLANE_POINTS).max(1);
    let points: Vec<[f32; 2]> = original.iter().step_by(step).copied().collect();
    let labels = dataset.train.labels.iter().step_by(step).copied().collect();
    Some((grid, Plane { x, y, points, labels }))
}

/// What the teacher contributes to the probes; it is frozen, so computed once per stage.
pub(crate) struct TeacherProbe {
    activation: Vec<(Vec<f32>, [usize; 2])>,
    gradient: Option<(Vec<f32>, [usize; 2])>,
    relation_embedding: Vec<f32>,
    logits_on_grid: Option<Vec<f32>>,
}

impl TeacherProbe {
    pub(crate) fn new(teacher: &Network, inputs: &ProbeInputs, student_blocks: usize) -> TeacherProbe {
        let activation = activation_maps(teacher, &inputs.examples);
        // Gradient maps are only needed when the student cannot be compared block by block.
        let gradient = (activation.len() != student_blocks || student_blocks == 0)
            .then(|| gradient_map(teacher, inputs))
            .flatten();
        TeacherProbe {
            activation,
            gradient,
            relation_embedding: to_host(teacher.forward(inputs.relations.clone()).embedding),
            logits_on_grid: inputs.grid.as_ref().map(|g| to_host(predict(teacher, g))),
        }
    }
}

/// The probes of `student` against `teacher` (when the stage has one).
pub(crate) fn representations(
    student: &Network,
    teacher: Option<&TeacherProbe>,
    inputs: &ProbeInputs,
    classes: usize,
) -> (Representations, Option<f64>) {
    if inputs.shape.is_text() {
        let why = NOT_FOR_TEXT.to_string();
        let probes = Representations { attention: Err(why.clone()), relations: Err(why.clone()), boundary: Err(why) };
        return (probes, None);
    }
    let relations = relations(student, teacher, inputs);
    let agreement = relations.as_ref().ok().map(|r| r.neighbour_agreement);
    let probes = Representations {
        attention: attention(student, teacher, inputs),
        relations,
        boundary: boundary(student, teacher, inputs, classes),
    };
    (probes, agreement)
}

fn attention(
    student: &Network,
    teacher: Option<&TeacherProbe>,
    inputs: &ProbeInputs,
) -> Result<AttentionProbe, String> {
    let InputShape::Image { .. } = inputs.shape else {
        return Err("attention maps need image data; this run's inputs are tabular".into());
    };
    let teacher = teacher.ok_or("this stage has no teacher to compare attention with")?;
    let student_maps = activation_maps(student, &inputs.examples);
    if !student_maps.is_empty() && student_maps.len() == teacher.activation.len() {
        let sizes: Vec<[usize; 2]> = student_maps.iter().map(|(_, size)| *size).collect();
        if teacher.activation.iter().map(|(_, size)| *size).eq(sizes.iter().copied()) {
            return Ok(AttentionProbe {
                kind: AttentionKind::Activation,
                sizes,
                teacher: teacher.activation.iter().map(|(m, _)| m.clone()).collect(),
                student: student_maps.into_iter().map(|(m, _)| m).collect(),
            });
        }
    }
    let (teacher_map, size) = teacher.gradient.clone().ok_or("the teacher's input gradients are not available")?;
    let (student_map, _) = gradient_map(student, inputs).ok_or("the student's input gradients are not available")?;
    Ok(AttentionProbe {
        kind: AttentionKind::Gradient,
        sizes: vec![size],
        teacher: vec![teacher_map],
        student: vec![student_map],
    })
}

/// Each conv block's activation-based attention map, `[examples × h × w]`, and its size.
fn activation_maps(network: &Network, inputs: &Tensor<2>) -> Vec<(Vec<f32>, [usize; 2])> {
    network
        .forward(inputs.clone())
        .feature_maps
        .into_iter()
        .map(|features| {
            let [_, _, height, width] = features.dims();
            (to_host(distill::attention_map(features)), [height, width])
        })
        .collect()
}

/// `|∂ CE / ∂ input|` summed over channels and scaled to a maximum of 1 per example.
fn gradient_map(network: &Network, inputs: &ProbeInputs) -> Option<(Vec<f32>, [usize; 2])> {
    let InputShape::Image { channels, height, width } = inputs.shape else { return None };
    let tracked = network.clone().train();
    let x = inputs.examples.clone().autodiff().require_grad();
    let loss = distill::cross_entropy(tracked.logits(x.clone()), inputs.example_labels.clone().autodiff());
    let gradients = loss.backward();
    let gradient = to_host(x.grad(&gradients)?);
    let pixels = height * width;
    let maps = gradient
        .chunks_exact(channels * pixels)
        .flat_map(|example| {
            let summed: Vec<f32> =
                (0..pixels).map(|p| (0..channels).map(|c| example[c * pixels + p].abs()).sum()).collect();
            let max = summed.iter().copied().fold(0.0, f32::max).max(f32::MIN_POSITIVE);
            summed.into_iter().map(move |v| v / max)
        })
        .collect();
    Some((maps, [height, width]))
}

fn relations(student: &Network, teacher: Option<&TeacherProbe>, inputs: &ProbeInputs) -> Result<RelationProbe, String> {
    let teacher = teacher.ok_or("this stage has no teacher whose relations it could match")?;
    let n = inputs.relation_examples.len();
    if n < NEIGHBOURS + 2 {
        return Err(format!("the test split has only {n} examples for the relation probe"));
    }
    let student_embedding = to_host(student.forward(inputs.relations.clone()).embedding);
    let teacher_distances = normalized_distances(&teacher.relation_embedding, n);
    let student_distances = normalized_distances(&student_embedding, n);
    let teacher_neighbours = nearest(&teacher_distances, n);
    let student_neighbours = nearest(&student_distances, n);
    let shared: usize = teacher_neighbours
        .iter()
        .zip(&student_neighbours)
        .map(|(t, s)| t.iter().filter(|i| s.contains(i)).count())
        .sum();
    Ok(RelationProbe {
        layout: classical_mds(&teacher_distances, n),
        neighbour_agreement: shared as f64 / (n * NEIGHBOURS) as f64,
        teacher_distances,
        student_distances,
        teacher_neighbours,
        student_neighbours,
    })
}

/// Pairwise Euclidean distances of `n` row-major embeddings divided by their mean (RKD's ψ_D).
pub(crate) fn normalized_distances(embedding: &[f32], n: usize) -> Vec<f32> {
    let dim = embedding.len() / n.max(1);
    let row = |i: usize| &embedding[i * dim..(i + 1) * dim];
    let mut distances = vec![0f32; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let d = row(i).iter().zip(row(j)).map(|(a, b)| (a - b) * (a - b)).sum::<f32>().sqrt();
            distances[i * n + j] = d;
            distances[j * n + i] = d;
        }
    }
    let pairs = (n * n.saturating_sub(1)).max(1) as f32;
    let mean = distances.iter().sum::<f32>() / pairs;
    if mean > 0.0 {
        distances.iter_mut().for_each(|d| *d /= mean);
    }
    distances
}

/// Each node's `NEIGHBOURS` nearest other nodes.
fn nearest(distances: &[f32], n: usize) -> Vec<Vec<usize>> {
    (0..n)
        .map(|i| {
            let mut others: Vec<usize> = (0..n).filter(|&j| j != i).collect();
            others.sort_by(|&a, &b| distances[i * n + a].total_cmp(&distances[i * n + b]));
            others.truncate(NEIGHBOURS);
            others
        })
        .collect()
}

/// Classical multidimensional scaling to 2-D: the top two eigenvectors of the double-centred
/// squared distances (power iteration with deflation), scaled by the root of their eigenvalues.
pub(crate) fn classical_mds(distances: &[f32], n: usize) -> Vec<[f32; 2]> {
    let squared: Vec<f64> = distances.iter().map(|&d| f64::from(d) * f64::from(d)).collect();
    let row_mean: Vec<f64> = (0..n).map(|i| squared[i * n..(i + 1) * n].iter().sum::<f64>() / n as f64).collect();
    let total_mean = row_mean.iter().sum::<f64>() / n as f64;
    let mut b: Vec<f64> =
        (0..n * n).map(|k| -0.5 * (squared[k] - row_mean[k / n] - row_mean[k % n] + total_mean)).collect();
    let mut axes = [vec![0.0; n], vec![0.0; n]];
    for axis in &mut axes {
        let mut v: Vec<f64> = (0..n).map(|i| 1.0 + (i as f64 * 0.618).fract()).collect();
        let mut eigenvalue = 0.0;
        for _ in 0..200 {
            let w: Vec<f64> = (0..n).map(|i| (0..n).map(|j| b[i * n + j] * v[j]).sum()).collect();
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-12 {
                break;
            }
            eigenvalue = norm;
            v = w.into_iter().map(|x| x / norm).collect();
        }
        for i in 0..n {
            for j in 0..n {
                b[i * n + j] -= eigenvalue * v[i] * v[j];
            }
        }
        *axis = v.iter().map(|x| x * eigenvalue.sqrt()).collect();
    }
    (0..n).map(|i| [axes[0][i] as f32, axes[1][i] as f32]).collect()
}

fn boundary(
    student: &Network,
    teacher: Option<&TeacherProbe>,
    inputs: &ProbeInputs,
    classes: usize,
) -> Result<BoundaryProbe, String> {
    let grid =
        inputs.grid.as_ref().ok_or("decision boundaries need 2-D data (moons, spirals, blobs, a 2-feature CSV)")?;
    let teacher_logits = teacher.and_then(|t| t.logits_on_grid.clone());
    let student_logits = to_host(predict(student, grid));
    Ok(BoundaryProbe {
        classes,
        teacher_class: teacher_logits.as_deref().map(|logits| argmax_rows(logits, classes)),
        student_class: argmax_rows(&student_logits, classes),
        soft_logits: teacher_logits.unwrap_or(student_logits),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relation_examples_are_balanced_and_sorted_by_class() {
        let labels: Vec<u32> = (0..200).map(|i| (i % 10) as u32).collect();
        let chosen = relation_examples(&labels, 10);
        assert_eq!(chosen.len(), RELATION_EXAMPLES);
        assert!(chosen.windows(2).all(|w| labels[w[0]] <= labels[w[1]]));
        let mut counts = [0; 10];
        chosen.iter().for_each(|&i| counts[labels[i] as usize] += 1);
        assert!(counts.iter().all(|&c| c == 3 || c == 4), "{counts:?}");
    }

    #[test]
    fn mds_recovers_a_planar_layout_up_to_rotation() {
        let points = [[0.0f32, 0.0], [3.0, 0.0], [0.0, 4.0], [3.0, 4.0], [1.5, 2.0]];
        let flat: Vec<f32> = points.iter().flatten().copied().collect();
        let distances = normalized_distances(&flat, 5);
        let layout = classical_mds(&distances, 5);
        let again = normalized_distances(&layout.iter().flatten().copied().collect::<Vec<_>>(), 5);
        for (a, b) in distances.iter().zip(&again) {
            assert!((a - b).abs() < 1e-3, "{a} vs {b}");
        }
    }
}
