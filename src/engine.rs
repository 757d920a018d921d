//! The engine handle: all a front end (the app, a test) needs to start runs and talk to them —
//! launching a preset on a device; the [`Engine`] whose channels carry the protocol's commands
//! and events (and the runs forked off it); checking a preset on a worker so a frame never waits
//! for it; describing a device before a run starts; the bundled presets and datasets to pick
//! from. Front ends name this module and [`crate::protocol`], never the engine's runtime.

pub(crate) use crate::device::DeviceChoice;
pub(crate) use crate::device::remote::{DeviceArg, DeviceTarget, RemoteError};
pub(crate) use crate::preset::{PresetError, PresetSource};
pub(crate) use crate::presets::{BUNDLED, resolve as bundled_preset};
pub(crate) use crate::train::Engine;

use crate::protocol::{DatasetEntry, PresetReport};
use crate::train::TeacherCache;
use crossbeam_channel::Receiver;

/// The datasets a front end may pick in place of a preset's own data
/// ([`PresetSource::with_dataset`]): name and one line each, in the registry's order.
pub(crate) fn datasets() -> Vec<DatasetEntry> {
    crate::data::registry::DATASETS.iter().map(|d| DatasetEntry { name: d.name(), summary: d.summary() }).collect()
}

/// Starts training `source` with `overrides` on `target` (loading, device selection and
/// training all on the engine's thread), with the teacher cache at its default location.
pub(crate) fn launch(source: PresetSource, overrides: Vec<String>, target: DeviceTarget) -> Engine {
    Engine::launch(source, overrides, target, TeacherCache::default_location())
}

/// Checks `source` with `overrides` and against every bundled dataset, on a thread of its own:
/// the report arrives on the receiver (in milliseconds: no data is loaded).
pub(crate) fn check_preset(
    source: Result<PresetSource, PresetError>,
    overrides: Vec<String>,
) -> Receiver<PresetReport> {
    let (sender, receiver) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let _ = sender.send(report(source, &overrides));
    });
    receiver
}

/// What [`check_preset`] answers.
fn report(source: Result<PresetSource, PresetError>, overrides: &[String]) -> PresetReport {
    let source = match source {
        Ok(source) => source,
        Err(error) => {
            let unusable = Default::default();
            return PresetReport {
                result: Err(error.to_string()),
                unusable,
                description: String::new(),
                steerable: Vec::new(),
            };
        }
    };
    let checked = crate::preset::fit::check(&source, overrides);
    let (description, steerable) = match &checked {
        Ok(preset) => (
            preset.description.clone(),
            preset
                .stages
                .iter()
                .enumerate()
                .filter(|(_, s)| s.method.live().next().is_some())
                .map(|(i, _)| i)
                .collect(),
        ),
        Err(_) => (String::new(), Vec::new()),
    };
    let result = checked
        .map(|preset| {
            let stages: Vec<String> =
                preset.stages.iter().map(|s| format!("{} ({})", s.name, s.method.name())).collect();
            format!("{} stages: {}", stages.len(), stages.join(", "))
        })
        .map_err(|e| e.to_string());
    let unusable = datasets()
        .into_iter()
        .filter_map(|entry| {
            let on_dataset = source.clone().with_dataset(Some(entry.name));
            let error = crate::preset::fit::check(&on_dataset, overrides).err()?;
            Some((entry.name.to_string(), error.message))
        })
        .collect();
    PresetReport { result, unusable, description, steerable }
}

/// A one-line description of the device `target` names (`wgpu on NVIDIA …`, `flex (CPU)`, or
/// why there is none). Enumerating adapters takes a moment: call it off the frame.
pub(crate) fn describe_device(target: Result<DeviceTarget, RemoteError>) -> String {
    match target.map(|t| t.device) {
        Ok(DeviceArg::Local(choice)) => match crate::device::resolve(choice) {
            Ok((backend, adapter, _)) => crate::device::label(backend, &adapter),
            Err(error) => error.to_string(),
        },
        Ok(DeviceArg::Remote(address)) => format!("{address} (connects when a run starts)"),
        Err(error) => error.to_string(),
    }
}
