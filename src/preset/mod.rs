//! The preset file format (TOML): its schema and defaults ([`schema`], [`settings`],
//! [`steering`]), the checks that turn a bad file into one message naming the file,
//! `line:column`, the field and what was expected ([`validate`], placed by [`source`]), the
//! checks of a preset against its data ([`fit`]), and `--set key=value` ([`overrides`]).

pub(crate) mod fit;
pub(crate) mod overrides;
pub(crate) mod schema;
pub(crate) mod settings;
pub(crate) mod source;
pub(crate) mod steering;
pub(crate) mod validate;

pub(crate) use schema::Preset;
pub(crate) use settings::{Optimizer, Schedule, TrainSettings};
pub use source::{PresetError, PresetSource};
pub use steering::SteeringSection;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Parameter, Steer, SteerAction, TEMPERATURE};
    use std::path::PathBuf;

    const GOOD: &str = r#"
name = "t"
[data]
dataset = "digits"
[models.teacher]
arch = "mlp"
hidden = [32]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
[[stages]]
name = "student"
model = "teacher"
method = "kd"
teacher = "teacher"
"#;

    fn source(text: &str) -> PresetSource {
        PresetSource { origin: "p.toml".into(), base_dir: PathBuf::new(), text: text.into(), dataset: None }
    }

    #[test]
    fn defaults_are_filled_in() {
        let preset = source(GOOD).load(&[]).unwrap();
        assert_eq!(preset.stages[1].hyper("temperature"), Some(4.0));
        assert_eq!(preset.stages[1].hyper("alpha"), Some(0.9));
        assert_eq!(preset.train.epochs, 10);
    }

    #[test]
    fn out_of_range_value_is_placed_in_the_file() {
        let text = GOOD.replace("teacher = \"teacher\"\n", "teacher = \"teacher\"\ntemperature = -1.0\n");
        let error = source(&text).load(&[]).unwrap_err().to_string();
        assert_eq!(
            error,
            "p.toml:17:15: stages[1].temperature: expected a number strictly between 0 and 1000, found -1"
        );
    }

    #[test]
    fn unknown_key_names_its_line() {
        let text = GOOD.replace("hidden = [32]", "hidden = [32]\nwidth = 3");
        let error = source(&text).load(&[]).unwrap_err();
        assert!(error.location.starts_with("p.toml:"), "{error}");
        assert!(error.message.contains("unknown field `width`"), "{error}");
    }

    #[test]
    fn overrides_reach_stages_by_name() {
        let preset = source(GOOD).load(&["stages.student.temperature=8".into(), "train.epochs=2".into()]).unwrap();
        assert_eq!(preset.stages[1].hyper("temperature"), Some(8.0));
        assert_eq!(preset.train.epochs, 2);
        let error = source(GOOD).load(&["stages.student.alpha=2".into()]).unwrap_err();
        assert_eq!(error.location, "--set stages.student.alpha=2");
    }

    /// A section given as a list (serde would read it by position) is refused, in the file and
    /// from `--set`.
    #[test]
    fn sections_must_be_tables() {
        let error = source(GOOD).load(&["train=[1, 2]".into()]).unwrap_err();
        assert_eq!(error.to_string(), "--set train=[1, 2]: train: expected a table of named fields, found an array");
        let text = format!("train = [1, 2]\n{}", GOOD.replace("[train]\nepochs = 10\n", ""));
        let error = source(&text).load(&[]).unwrap_err().to_string();
        assert!(error.ends_with("train: expected a table of named fields, found an array"), "{error}");
    }

    #[test]
    fn a_missing_section_is_the_field_named() {
        let text = GOOD.replace("[data]\ndataset = \"digits\"\n", "");
        let error = source(&text).load(&[]).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("data"), "{error}");
        assert!(error.to_string().contains("data: missing field `data`"), "{error}");
    }

    /// A stage starts with the `from` of its first `set` of a parameter (a fork's config.toml
    /// gives the stage the values the fork started with, its steering the way there).
    #[test]
    fn steering_sets_where_a_stage_starts() {
        let text = format!(
            "{GOOD}\n[[steering]]\nstage = \"student\"\nafter_step = 3\nset = \"temperature\"\nfrom = 4.0\nto = 1.0\n"
        )
        .replace("teacher = \"teacher\"\n", "teacher = \"teacher\"\ntemperature = 1.0\n");
        let plan = crate::train::Plan::new(source(&text).load(&[]).unwrap());
        assert_eq!(plan.stages[1].hypers.get(TEMPERATURE.name), 4.0, "from the first set's `from`");
        let temperature = Parameter::named("temperature").unwrap();
        let set = SteerAction::Set { parameter: temperature, from: 4.0, to: 1.0 };
        assert_eq!(plan.steering, vec![Steer { stage: 1, after_step: 3, action: set }]);
    }

    /// Naming another source — from `--set` or picked in the app — drops the keys of the
    /// preset's own source, and keeps what every source shares.
    #[test]
    fn another_source_drops_the_keys_of_the_old_one() {
        let moons = GOOD.replace(
            "dataset = \"digits\"\n",
            "dataset = \"moons\"\nsamples = 300\nseed = 7\n[data.augment]\nflip = true\n",
        );
        let moons = source(&moons).load(&[]).unwrap();
        assert_eq!(moons.data.options.whole("samples"), Some(300));
        assert_eq!(moons.data.options.number("noise"), Some(0.1), "defaults written out");
        let csv = GOOD.replace("dataset = \"digits\"\n", "csv = \"t.csv\"\nlabel_column = \"y\"\nseed = 7\n");
        for (text, overrides, picked) in
            [(csv.as_str(), vec!["data.dataset=digits".to_string()], None), (csv.as_str(), Vec::new(), Some("digits"))]
        {
            let preset = source(text).with_dataset(picked).load(&overrides).unwrap();
            assert_eq!(preset.data.dataset.as_deref(), Some("digits"));
            assert!(preset.data.options.0.is_empty(), "{:?}", preset.data.options);
            assert_eq!(preset.data.seed, 7);
        }
        let picked = source(&csv).with_dataset(Some("moons")).load(&[]).unwrap();
        assert_eq!(picked.data.options.whole("samples"), Some(1000), "the new source's defaults");
        let error = source(GOOD).with_dataset(Some("cifar")).load(&[]).unwrap_err().to_string();
        assert!(error.contains("data.dataset: expected one of mnist5k, digits, moons"), "{error}");
    }

    #[test]
    fn teacher_must_come_earlier() {
        let text = GOOD.replace("teacher = \"teacher\"", "teacher = \"student\"");
        let error = source(&text).load(&[]).unwrap_err().to_string();
        assert!(error.contains("stages[1].teacher: \"student\" comes later"), "{error}");
    }
}
