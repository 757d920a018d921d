//! The shape of one input example, as the data gives it and the views draw it.

use serde::{Deserialize, Serialize};

/// The shape of one input example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputShape {
    /// An image, stored channel-major (`[channels, height, width]`).
    Image { channels: usize, height: usize, width: usize },
    /// A flat feature vector.
    Flat { features: usize },
    /// Text as character ids: a model reads windows of `context` of them, and predicts each
    /// next character. A split of text is a stream of positions (one id each, labelled with the
    /// id that follows it), not a list of windows.
    Text { context: usize },
}

impl Default for InputShape {
    fn default() -> Self {
        InputShape::Flat { features: 0 }
    }
}

impl InputShape {
    /// Number of values in one example.
    pub fn len(&self) -> usize {
        match *self {
            InputShape::Image { channels, height, width } => channels * height * width,
            InputShape::Flat { features } => features,
            InputShape::Text { context } => context,
        }
    }

    /// Whether an example has no values at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether examples are images (and so can feed a CNN).
    pub fn is_image(&self) -> bool {
        matches!(self, InputShape::Image { .. })
    }

    /// Whether examples are text (and so feed a language model).
    pub fn is_text(&self) -> bool {
        matches!(self, InputShape::Text { .. })
    }
}
