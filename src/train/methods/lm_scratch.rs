//! A language model trained alone: next-character cross-entropy on the text, the baseline the
//! token-level distillation methods are compared to. It is `scratch` on text.

use super::spec::MethodSpec;

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "lm_scratch",
    summary: "next-character cross-entropy on the text",
    text: true,
    ..super::scratch::METHOD
};
