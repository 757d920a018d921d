//! What the probes of a metric report carry for the views to draw: the stage's (and its
//! teacher's) predictions on fixed test examples, the prediction matrix, and the representation
//! probes — attention maps, relations, decision boundary — each present or with the reason it
//! is not. Their sizes depend on the data, never on how long training ran.

use crate::logits::softmax_row;
use serde::{Deserialize, Serialize};

/// What the model currently predicts on a fixed set of test examples, for views that show
/// individual predictions. Its size depends on the data, never on how long training ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub stage: usize,
    pub step: u64,
    pub classes: usize,
    /// Indices into the test split of the probe examples (the same for the whole run).
    pub examples: Vec<usize>,
    /// The stage's logits for the probe examples, row-major `[examples × classes]`.
    pub logits: Vec<f32>,
    /// The teacher's logits for the same examples, for stages with a teacher.
    pub teacher_logits: Option<Vec<f32>>,
    /// Counts over the whole test split of (teacher prediction, stage prediction), row-major
    /// `[classes × classes]` with the teacher's class as the row; for stages with a teacher.
    pub agreement_matrix: Option<Vec<u32>>,
    /// Attention maps, relations and decision boundary, or why each is not available.
    pub representations: Representations,
    /// A language model's probe on a prompt; `None` for classifiers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextProbe>,
}

/// Which prompt the language-model probe reads and how it samples text from it. The user sets
/// it in the Next token and Samples views; it applies at once, and to every later report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextProbeSettings {
    /// The prompt (empty: a line of the test text). Characters the vocabulary lacks are left out,
    /// and only the last `context` characters are read.
    pub prompt: String,
    /// Sampling temperature.
    pub temperature: f64,
    /// Sample among the `top_k` likeliest characters only (0: among all).
    pub top_k: usize,
    /// Characters sampled after the prompt.
    pub length: usize,
}

impl Default for TextProbeSettings {
    fn default() -> Self {
        TextProbeSettings { prompt: String::new(), temperature: 1.0, top_k: 0, length: 160 }
    }
}

/// How a character shows in a view or a file: itself, or a visible stand-in drawn by egui's
/// default fonts (`¶` for a line end, `·` for a space, `\t` for a tab, `U+0007` for other
/// control characters).
pub fn visible_char(c: char) -> String {
    match c {
        '\n' => "¶".into(),
        ' ' => "·".into(),
        '\t' => "\\t".into(),
        c if c.is_control() => format!("U+{:04X}", c as u32),
        c => c.to_string(),
    }
}

/// The most characters a probe samples (each is a forward pass of the teacher and the student).
pub const MAX_SAMPLE_LENGTH: usize = 400;

/// A language model on a prompt: each position's next-character logits, every layer's
/// attention, and text sampled from the prompt with a fixed seed (so a change between two
/// reports shows learning, not luck).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextProbe {
    pub settings: TextProbeSettings,
    /// The character ids the model read (the prompt as the vocabulary has it).
    pub prompt: Vec<u32>,
    pub vocabulary: usize,
    /// The stage's logits after each prompt position, `[prompt × vocabulary]`.
    pub logits: Vec<f32>,
    /// The teacher's, for stages with a teacher.
    pub teacher_logits: Option<Vec<f32>>,
    /// Each layer's attention over the prompt, the stage's and its teacher's (empty without one).
    pub attention: Vec<LayerAttention>,
    pub teacher_attention: Vec<LayerAttention>,
    /// The stage's sample, then its teacher's.
    pub samples: Vec<TextSample>,
    /// What the student wrote in the last on-policy training batch before this report (the
    /// first few windows), scored by the teacher; empty off-policy.
    #[serde(default)]
    pub on_policy: Vec<OnPolicySample>,
}

/// One window of an on-policy training batch: the prompt cut from the training text, the
/// characters the student sampled after it (what that step trained on), and the teacher's
/// log-probability of each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnPolicySample {
    /// The optimizer step that trained on it.
    pub step: u64,
    pub prompt: Vec<u32>,
    pub ids: Vec<u32>,
    /// The natural log of the teacher's probability of each sampled character.
    pub log_probs: Vec<f32>,
}

/// One layer's attention probabilities, `[heads × queries × keys]` (row `q` attends to keys
/// `0..=q`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerAttention {
    pub heads: usize,
    pub values: Vec<f32>,
}

/// Text a model sampled after the prompt, and how plausible each character is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSample {
    /// `student` (the stage's model) or `teacher`.
    pub model: String,
    pub ids: Vec<u32>,
    /// The natural log of the probability `scored_by` gives each sampled character.
    pub log_probs: Vec<f32>,
    /// `teacher`, or `itself` for a stage without a teacher.
    pub scored_by: String,
}

/// Test examples in the relations probe (sorted by class).
pub const RELATION_EXAMPLES: usize = 32;
/// Neighbours per node in the relation graph.
pub const NEIGHBOURS: usize = 3;
/// Cells per side of the decision-boundary grid.
pub const GRID: usize = 64;
/// How an attention map was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttentionKind {
    /// Channel mean of the squared activations of a conv block, L2-normalised (AT).
    Activation,
    /// `|∂ CE / ∂ input|` summed over channels, for networks without conv blocks to compare.
    Gradient,
}

/// Attention maps of the teacher and the stage's model on the probe examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttentionProbe {
    pub kind: AttentionKind,
    /// `[height, width]` of each map (one per conv block, or the input for gradients).
    pub sizes: Vec<[usize; 2]>,
    /// Per map: `[examples × height × width]` values.
    pub teacher: Vec<Vec<f32>>,
    pub student: Vec<Vec<f32>>,
}

/// The relations probe: distance matrices and neighbour graphs of 32 test examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelationProbe {
    /// RKD-normalised pairwise distances (divided by their mean), `[n × n]`.
    pub teacher_distances: Vec<f32>,
    pub student_distances: Vec<f32>,
    /// 2-D layout of the examples from the teacher's embedding (classical MDS).
    pub layout: Vec<[f32; 2]>,
    /// Each example's nearest neighbours in the teacher's and in the student's embedding.
    pub teacher_neighbours: Vec<Vec<usize>>,
    pub student_neighbours: Vec<Vec<usize>>,
    /// Share of neighbour edges the two graphs have in common.
    pub neighbour_agreement: f64,
}

/// The decision-boundary probe of 2-D data, on a `GRID × GRID` grid (row 0 at the bottom).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoundaryProbe {
    pub classes: usize,
    /// The teacher's predicted class per cell, for stages with a teacher.
    pub teacher_class: Option<Vec<u32>>,
    pub student_class: Vec<u32>,
    /// Logits per cell, `[cells × classes]`: the teacher's, or the stage's own when it has no
    /// teacher. The view turns them into soft targets at whatever temperature the slider shows,
    /// so the surface follows T at once, even while training is paused.
    pub soft_logits: Vec<f32>,
}

impl BoundaryProbe {
    /// The soft targets of every cell at `temperature`, `[cells × classes]`.
    pub fn soft(&self, temperature: f64) -> Vec<f32> {
        self.soft_logits
            .chunks_exact(self.classes.max(1))
            .flat_map(|row| softmax_row(row, temperature).into_iter().map(|p| p as f32))
            .collect()
    }
}

/// The representation probes of one report: each one, or why the models cannot give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Representations {
    pub attention: Result<AttentionProbe, String>,
    pub relations: Result<RelationProbe, String>,
    pub boundary: Result<BoundaryProbe, String>,
}

/// The plane the boundary grid covers, in the data's own units, and training points on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plane {
    pub x: [f32; 2],
    pub y: [f32; 2],
    /// Up to 400 training points and their labels, in the data's own units.
    pub points: Vec<[f32; 2]>,
    pub labels: Vec<u32>,
}
