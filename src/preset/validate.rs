//! Checking a preset: every value against what it may be, each problem one message naming the
//! field (the source places it at its `line:column`).

use super::schema::{Preset, StageSection};
use super::settings::{Optimizer, Schedule, TrainSettings};
use super::source::show_number;
use crate::model::ModelSpec;
use crate::train::methods::{Hypers, Method, TeacherPair, Valid};
use std::fmt;

/// One step of a path into the preset, for naming a field in messages.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PathSegment {
    Key(String),
    Index(usize),
}

/// A path like `stages[1].temperature`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    pub(super) fn key(mut self, key: &str) -> FieldPath {
        self.0.push(PathSegment::Key(key.to_string()));
        self
    }

    pub(super) fn index(mut self, index: usize) -> FieldPath {
        self.0.push(PathSegment::Index(index));
        self
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => write!(f, "{key}")?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

pub(super) fn field(keys: &[&str]) -> FieldPath {
    keys.iter().fold(FieldPath::default(), |path, key| path.key(key))
}

fn stage_field(index: usize, key: &str) -> FieldPath {
    field(&["stages"]).index(index).key(key)
}

/// serde reads a struct from an array by position (`train = [1, 2]` would set the epochs and
/// the batch size): every section must be written as a table.
pub(super) fn tables_written_as_tables(preset: &toml::Table) -> Result<(), FieldError> {
    fn must_be_table(value: &toml::Value, path: FieldPath) -> Result<(), FieldError> {
        match value {
            toml::Value::Table(_) => Ok(()),
            other => {
                let kind = other.type_str();
                let article = if kind.starts_with(['a', 'i']) { "an" } else { "a" };
                invalid(path, format!("expected a table of named fields, found {article} {kind}"))
            }
        }
    }
    for key in ["data", "train"] {
        if let Some(value) = preset.get(key) {
            must_be_table(value, field(&[key]))?;
        }
    }
    if let Some(augment) = preset.get("data").and_then(|d| d.get("augment")) {
        must_be_table(augment, field(&["data", "augment"]))?;
    }
    if let Some(toml::Value::Table(models)) = preset.get("models") {
        for (name, model) in models {
            must_be_table(model, field(&["models", name]))?;
        }
    }
    for key in ["stages", "ensembles", "steering"] {
        if let Some(toml::Value::Array(entries)) = preset.get(key) {
            for (index, entry) in entries.iter().enumerate() {
                must_be_table(entry, field(&[key]).index(index))?;
            }
        }
    }
    Ok(())
}

/// A problem found by [`Preset::validate`], before it is placed in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldError {
    pub(crate) path: FieldPath,
    pub(crate) message: String,
}

pub(super) fn invalid<T>(path: FieldPath, message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError { path, message: message.into() })
}

impl Preset {
    /// Checks every value against what it may be.
    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        self.validate_data()?;
        validate_settings(&self.train, &field(&["train"]))?;
        for (name, spec) in &self.models {
            validate_model(spec, &field(&["models", name]))?;
        }
        if self.stages.is_empty() {
            return invalid(field(&["stages"]), "expected at least one [[stages]] entry");
        }
        for (index, stage) in self.stages.iter().enumerate() {
            self.validate_stage(index, stage)?;
        }
        self.validate_ensembles()?;
        self.validate_steering()
    }

    /// The `[data]` section names one source, every other key belongs to it and holds a value
    /// it takes (the registry's declarations), and the split leaves examples on both sides.
    fn validate_data(&self) -> Result<(), FieldError> {
        let data = &self.data;
        if let Err(problem) = data.selected() {
            let path = match problem.key.as_str() {
                "" => field(&["data"]),
                key => field(&["data", key]),
            };
            return invalid(path, problem.expected);
        }
        if !(data.test_fraction > 0.0 && data.test_fraction < 1.0) {
            return invalid(
                field(&["data", "test_fraction"]),
                format!("expected a fraction strictly between 0 and 1, found {}", data.test_fraction),
            );
        }
        Ok(())
    }

    fn validate_stage(&self, index: usize, stage: &StageSection) -> Result<(), FieldError> {
        if stage.name.trim().is_empty() {
            return invalid(stage_field(index, "name"), "expected a non-empty name");
        }
        if self.stages[..index].iter().any(|s| s.name == stage.name) {
            return invalid(stage_field(index, "name"), format!("another stage is already named \"{}\"", stage.name));
        }
        let Some(model) = self.models.get(&stage.model) else {
            return invalid(
                stage_field(index, "model"),
                format!("expected one of the [models.*] tables ({}), found \"{}\"", self.model_names(), stage.model),
            );
        };
        self.validate_teacher(index, stage, model)?;
        self.validate_hypers(index, stage)?;
        if let Some(excluded) = &stage.exclude_classes
            && let Some(class) = excluded.iter().enumerate().find_map(|(i, c)| excluded[..i].contains(c).then_some(c))
        {
            return invalid(stage_field(index, "exclude_classes"), format!("class {class} is listed twice"));
        }
        if stage.train_examples == Some(0) {
            return invalid(stage_field(index, "train_examples"), "expected at least 1 example, found 0");
        }
        let path = field(&["stages"]).index(index);
        let settings = stage.settings(&self.train);
        let hypers = Hypers::resolve(stage.method.spec().hypers, |name| stage.hyper(name));
        if let Err((key, message)) = (stage.method.spec().check_stage)(&hypers, &settings) {
            return invalid(stage_field(index, key), message);
        }
        validate_settings(&settings, &path)
    }

    /// Every key that is not a stage field must be a hyperparameter of the stage's method,
    /// with a value it allows.
    fn validate_hypers(&self, index: usize, stage: &StageSection) -> Result<(), FieldError> {
        let method = stage.method;
        for (key, value) in &stage.hypers {
            let path = stage_field(index, key);
            let Some(hyper) = method.hyper(key) else {
                if Method::all().any(|m| m.hyper(key).is_some()) {
                    return invalid(path, format!("does not apply to method \"{method}\""));
                }
                let own: Vec<&str> = method.spec().hypers.iter().map(|h| h.name).collect();
                let takes = if own.is_empty() { "no hyperparameters".to_string() } else { own.join(", ") };
                return invalid(
                    path,
                    format!("unknown field `{key}`: not a stage setting, and method \"{method}\" takes {takes}"),
                );
            };
            let number = match (hyper.valid, value) {
                (Valid::Switch, toml::Value::Boolean(_)) => stage.hyper(key),
                (Valid::Switch, _) => None,
                (_, toml::Value::Float(_) | toml::Value::Integer(_)) => stage.hyper(key),
                _ => None,
            };
            match number {
                Some(number) if hyper.valid.allows(number) => {}
                Some(number) => {
                    return invalid(
                        path,
                        format!("expected {}, found {}", hyper.valid.expected(), show_number(number)),
                    );
                }
                None => {
                    let written = value.to_string();
                    let shown = if written.chars().count() > 40 { "a list".to_string() } else { written };
                    return invalid(path, format!("expected {}, found {shown}", hyper.valid.expected()));
                }
            }
        }
        Ok(())
    }

    fn validate_teacher(&self, index: usize, stage: &StageSection, model: &ModelSpec) -> Result<(), FieldError> {
        let path = stage_field(index, "teacher");
        match (&stage.teacher, stage.method.needs_teacher()) {
            (None, true) => invalid(
                path,
                format!("method \"{}\" needs a teacher: the name of an earlier stage", stage.method.name()),
            ),
            (Some(_), false) => invalid(path, format!("method \"{}\" takes no teacher", stage.method.name())),
            (None, false) => Ok(()),
            (Some(teacher), true) => {
                let Some(earlier) = self.stages[..index].iter().find(|s| &s.name == teacher) else {
                    let later = self.stages[index..].iter().any(|s| &s.name == teacher);
                    let why = if later { "comes later; a teacher must be an earlier stage" } else { "is not a stage" };
                    return invalid(path, format!("\"{teacher}\" {why}"));
                };
                let Some(teacher_model) = self.models.get(&earlier.model) else { return Ok(()) };
                let pair = TeacherPair { student: model, teacher: teacher_model, teacher_name: teacher, shape: None };
                if let Err(message) = (stage.method.spec().check_teacher)(&pair) {
                    return invalid(path, message);
                }
                Ok(())
            }
        }
    }

    fn validate_ensembles(&self) -> Result<(), FieldError> {
        for (index, ensemble) in self.ensembles.iter().enumerate() {
            let path = field(&["ensembles"]).index(index);
            if self.ensembles[..index].iter().any(|e| e.name == ensemble.name) {
                return invalid(path.key("name"), format!("another ensemble is already named \"{}\"", ensemble.name));
            }
            if ensemble.members.len() < 2 {
                return invalid(path.key("members"), "expected at least 2 stage names");
            }
            for (m, member) in ensemble.members.iter().enumerate() {
                if !self.stages.iter().any(|s| &s.name == member) {
                    return invalid(path.key("members").index(m), format!("\"{member}\" is not a stage"));
                }
                if ensemble.members[..m].contains(member) {
                    return invalid(path.key("members").index(m), format!("\"{member}\" is listed twice"));
                }
            }
        }
        Ok(())
    }

    fn model_names(&self) -> String {
        self.models.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn validate_model(spec: &ModelSpec, path: &FieldPath) -> Result<(), FieldError> {
    match spec.check_structure() {
        Ok(()) => Ok(()),
        Err((key, expected)) => invalid(path.clone().key(key), expected),
    }
}

fn validate_settings(settings: &TrainSettings, path: &FieldPath) -> Result<(), FieldError> {
    let at = |key: &str| path.clone().key(key);
    if settings.epochs == 0 {
        return invalid(at("epochs"), "expected at least 1 epoch");
    }
    if settings.batch_size == 0 {
        return invalid(at("batch_size"), "expected a batch size ≥ 1");
    }
    if !(settings.learning_rate > 0.0 && settings.learning_rate.is_finite()) {
        return invalid(at("learning_rate"), format!("expected a learning rate > 0, found {}", settings.learning_rate));
    }
    if !(0.0..1.0).contains(&settings.momentum) {
        return invalid(at("momentum"), format!("expected a momentum in [0, 1), found {}", settings.momentum));
    }
    if !(settings.weight_decay >= 0.0 && settings.weight_decay.is_finite()) {
        return invalid(at("weight_decay"), format!("expected a weight decay ≥ 0, found {}", settings.weight_decay));
    }
    if settings.metric_interval == 0 {
        return invalid(at("metric_interval"), "expected at least 1 step between metric reports");
    }
    if settings.eval_interval == 0 {
        return invalid(at("eval_interval"), "expected at least 1 step between evaluations");
    }
    validate_schedule(settings, path)
}

/// Nesterov needs SGD with momentum (as in PyTorch); milestones climb; gamma and the warm-up
/// are finite and positive. (Milestones past the epochs are allowed: `--epochs 1` smoke runs
/// keep a preset's schedule.)
fn validate_schedule(settings: &TrainSettings, path: &FieldPath) -> Result<(), FieldError> {
    let at = |key: &str| path.clone().key(key);
    if settings.nesterov && (settings.optimizer != Optimizer::Sgd || settings.momentum == 0.0) {
        return invalid(at("nesterov"), "needs optimizer = \"sgd\" with a momentum > 0");
    }
    if let Some(pair) = settings.milestones.windows(2).find(|pair| pair[1] <= pair[0]) {
        return invalid(at("milestones"), format!("expected increasing epochs, found {} then {}", pair[0], pair[1]));
    }
    if settings.milestones.contains(&0) {
        return invalid(at("milestones"), "expected epochs ≥ 1 (the rate changes when that epoch starts)");
    }
    if !settings.milestones.is_empty() && settings.schedule != Schedule::Step {
        return invalid(at("milestones"), "only applies with schedule = \"step\"");
    }
    if !(settings.gamma > 0.0 && settings.gamma.is_finite()) {
        return invalid(at("gamma"), format!("expected a factor > 0, found {}", settings.gamma));
    }
    if !(settings.warmup_epochs >= 0.0 && settings.warmup_epochs.is_finite()) {
        return invalid(at("warmup_epochs"), format!("expected epochs ≥ 0, found {}", settings.warmup_epochs));
    }
    Ok(())
}
