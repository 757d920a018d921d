//! A preset against its data: every model fits the data's shape and the machine's memory (before
//! anything is allocated), a stage's excluded classes exist and leave it examples, its
//! `train_examples` are there. [`check`] gives every such error a preset can have before its
//! data is read (the app asks as soon as a preset is picked).

use super::schema::{Preset, StageSection};
use super::source::{PresetError, PresetSource};
use super::validate::{FieldPath, PathSegment};
use crate::data::{Dataset, InputShape};
use crate::memory;
use crate::train::evaluate::INFERENCE_BATCH;
use crate::train::methods::{Method, TeacherPair};

/// Loads and validates the preset (with `overrides`) and checks each model against its data's
/// shape when that is known without reading the data: every error `prepare` would give before
/// loading data, at once.
pub(crate) fn check(source: &PresetSource, overrides: &[String]) -> Result<Preset, PresetError> {
    let preset = source.load(overrides)?;
    if let Some(shape) = preset.data_spec(&source.base_dir).source.known_shape() {
        check_models(source, &preset, shape, overrides)?;
        // The classes are not known before the data is read; two is the fewest there can be.
        check_memory(source, &preset, shape, 2, overrides)?;
    }
    Ok(preset)
}

pub(crate) fn check_models(
    source: &PresetSource,
    preset: &Preset,
    shape: InputShape,
    overrides: &[String],
) -> Result<(), PresetError> {
    for (name, model) in &preset.models {
        if let Err(message) = model.check(shape) {
            let path = FieldPath(vec![PathSegment::Key("models".into()), PathSegment::Key(name.clone())]);
            return Err(source.place(&path, message, overrides));
        }
    }
    if let Some(augment) = preset.data.augment.filter(|a| a.is_active()) {
        let path = FieldPath(vec![PathSegment::Key("data".into()), PathSegment::Key("augment".into())]);
        let InputShape::Image { height, width, .. } = shape else {
            return Err(source.place(&path, "random crops and flips need image data".into(), overrides));
        };
        if augment.crop_padding >= height.min(width) {
            let message = format!(
                "crop_padding: expected fewer pixels than the images' side ({height}×{width}), found {}",
                augment.crop_padding
            );
            return Err(source.place(&path, message, overrides));
        }
    }
    for (index, stage) in preset.stages.iter().enumerate() {
        if let Err(message) = check_method_on_data(stage, shape) {
            return Err(source.place(&stage_key(index, "method"), message, overrides));
        }
        if let Err(message) = check_teacher_on_data(preset, stage, shape) {
            return Err(source.place(&stage_key(index, "teacher"), message, overrides));
        }
    }
    Ok(())
}

/// Every stage's network fits in memory before any of it is allocated: its parameters, a
/// training batch's activations, and an inference batch's (evaluation and probes).
pub(crate) fn check_memory(
    source: &PresetSource,
    preset: &Preset,
    shape: InputShape,
    classes: usize,
    overrides: &[String],
) -> Result<(), PresetError> {
    let budget = memory::budget();
    let allows = memory::allows();
    for (index, stage) in preset.stages.iter().enumerate() {
        let Some(model) = preset.models.get(&stage.model) else { continue };
        let model_field = FieldPath(vec![
            PathSegment::Key("models".into()),
            PathSegment::Key(stage.model.clone()),
            PathSegment::Key(model.size_field().into()),
        ]);
        let Some(footprint) = model.footprint(shape, classes) else {
            let message = format!("{} has more parameters than any machine can hold", model.describe());
            return Err(source.place(&model_field, message, overrides));
        };
        let batch = stage.settings(&preset.train).batch_size as u64;
        let needs = |bytes: Option<u64>| bytes.map_or("more than 16 EB".into(), memory::describe_bytes);
        let over = |bytes: Option<u64>| bytes.is_none_or(|b| b > budget);
        let (weights, inference) = (footprint.training_bytes(0), footprint.inference_bytes(INFERENCE_BATCH as u64));
        if over(weights) || over(inference) {
            let message = format!(
                "{} ({} parameters) needs {} to train and {} to evaluate {INFERENCE_BATCH} examples at once; {allows}",
                model.describe(),
                footprint.parameters,
                needs(weights),
                needs(inference),
            );
            return Err(source.place(&model_field, message, overrides));
        }
        if over(footprint.training_bytes(batch)) {
            let field =
                if stage.batch_size.is_some() { stage_key(index, "batch_size") } else { train_key("batch_size") };
            let message = format!(
                "batches of {batch} examples through {} need {}; {allows}",
                model.describe(),
                needs(footprint.training_bytes(batch))
            );
            return Err(source.place(&field, message, overrides));
        }
    }
    Ok(())
}

/// A language-model method trains on text, a classifier's on anything else.
fn check_method_on_data(stage: &StageSection, shape: InputShape) -> Result<(), String> {
    let method = stage.method;
    let text_methods = || Method::all().filter(|m| m.spec().text).map(|m| m.name()).collect::<Vec<_>>().join(", ");
    match (method.spec().text, shape.is_text()) {
        (true, false) => Err(format!(
            "{method} trains language models on text; use a text dataset (dataset = \"shakespeare\" or text = \"…\")"
        )),
        (false, true) => Err(format!("{method} trains classifiers; on text use one of {}", text_methods())),
        _ => Ok(()),
    }
}

/// The method's check of a stage's teacher, now that the data's shape is known (attention
/// transfer, for one, pairs maps of the same size).
fn check_teacher_on_data(preset: &Preset, stage: &StageSection, shape: InputShape) -> Result<(), String> {
    let teacher = stage.teacher.as_ref().and_then(|t| preset.stages.iter().find(|s| &s.name == t));
    let Some(teacher) = teacher else { return Ok(()) };
    let (Some(student_model), Some(teacher_model)) =
        (preset.models.get(&stage.model), preset.models.get(&teacher.model))
    else {
        return Ok(());
    };
    let pair =
        TeacherPair { student: student_model, teacher: teacher_model, teacher_name: &teacher.name, shape: Some(shape) };
    (stage.method.spec().check_teacher)(&pair)
}

/// A stage's `exclude_classes` name classes of the data and leave it examples to train on.
pub(crate) fn check_excluded_classes(
    source: &PresetSource,
    preset: &Preset,
    dataset: &Dataset,
    overrides: &[String],
) -> Result<(), PresetError> {
    let classes = dataset.num_classes();
    for (index, stage) in preset.stages.iter().enumerate() {
        let Some(excluded) = &stage.exclude_classes else { continue };
        let problem = match excluded.iter().find(|&&class| class >= classes) {
            Some(class) => {
                Some(format!("class {class} does not exist: {} has classes 0 to {}", dataset.name, classes - 1))
            }
            None => (excluded.len() >= classes)
                .then(|| format!("excludes every class of {}: nothing is left to train on", dataset.name)),
        };
        if let Some(message) = problem {
            return Err(source.place(&stage_key(index, "exclude_classes"), message, overrides));
        }
    }
    Ok(())
}

/// A stage's `train_examples` fit in what the data has for it (after its excluded classes).
pub(crate) fn check_train_examples(
    source: &PresetSource,
    preset: &Preset,
    dataset: &Dataset,
    overrides: &[String],
) -> Result<(), PresetError> {
    for (index, stage) in preset.stages.iter().enumerate() {
        let Some(wanted) = stage.train_examples else { continue };
        let excluded = stage.exclude_classes.as_deref().unwrap_or_default();
        let available = dataset.train.labels.iter().filter(|&&label| !excluded.contains(&(label as usize))).count();
        if wanted > available {
            let message =
                format!("asks for {wanted} training examples; {} has {available} for this stage", dataset.name);
            return Err(source.place(&stage_key(index, "train_examples"), message, overrides));
        }
    }
    Ok(())
}

/// The path of `train.key`, for messages.
fn train_key(key: &str) -> FieldPath {
    FieldPath(vec![PathSegment::Key("train".into()), PathSegment::Key(key.into())])
}

/// The path of `stages[index].key`, for messages.
fn stage_key(index: usize, key: &str) -> FieldPath {
    FieldPath(vec![PathSegment::Key("stages".into()), PathSegment::Index(index), PathSegment::Key(key.into())])
}
