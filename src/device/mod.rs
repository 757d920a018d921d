//! Choosing where tensors live: burn's wgpu backend on a real GPU, or burn's flex CPU backend.
//!
//! A software rasterizer (llvmpipe, lavapipe, SwiftShader: wgpu's `DeviceType::Cpu`) counts as
//! no GPU, because it trains 25–40× slower than flex — unless `KDLAB_SOFTWARE_GPU=1` is set,
//! which lets a machine without a GPU exercise the wgpu code path (slowly) for testing.

pub mod remote;

use burn::tensor::wgpu::wgpu;
use burn::tensor::{Device, DeviceKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Runs `work` on a thread of a rayon pool of its own, one thread per core. flex's parallel
/// operations then share their work between that thread and the pool's others; called from a
/// thread outside any pool, each one wakes every thread of the global pool while the caller
/// sleeps — three busy threads on two cores. Measured with `kdlab bench` on 2 cores (4
/// alternating runs, medians): mlp 1,848 → 2,224 steps/s, teacher 30.6 → 33.3. When the pool
/// cannot be built (threads refused), `work` runs on this thread with the global pool.
pub fn on_compute_threads<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().thread_name(|i| format!("kdlab-compute-{i}")).build() {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// What the user asked for with `--device`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A real GPU through wgpu when there is one, otherwise the CPU.
    #[default]
    Auto,
    /// burn's flex backend on the CPU.
    Cpu,
    /// A real GPU through wgpu; an error when there is none.
    Gpu,
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DeviceChoice::Auto => "auto",
            DeviceChoice::Cpu => "cpu",
            DeviceChoice::Gpu => "gpu",
        })
    }
}

/// Which burn backend a device runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backend {
    Flex,
    Wgpu,
    /// A device another machine's `kdlab serve` hosts (its own backend is the server's).
    Remote,
}

/// A device ready for training, with what to print and record about it.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    pub(crate) device: Device,
    pub(crate) backend: Backend,
    /// The GPU adapter's name, or a description of the CPU path.
    pub(crate) adapter: String,
}

impl ComputeDevice {
    /// `wgpu (NVIDIA H100 80GB HBM3, Vulkan)` or `flex (CPU)`.
    pub fn label(&self) -> String {
        label(self.backend, &self.adapter)
    }

    /// The CPU device.
    pub fn cpu() -> ComputeDevice {
        ComputeDevice { device: Device::flex(), backend: Backend::Flex, adapter: "CPU".into() }
    }
}

/// No device matched what was asked.
#[derive(Debug, thiserror::Error)]
#[error("--device gpu: no hardware GPU adapter found ({found}); use --device cpu or --device auto")]
pub struct NoGpu {
    found: String,
}

/// What [`select`] would pick, without creating a device: the backend, the adapter
/// description, and for a GPU its wgpu device type.
pub(crate) fn resolve(choice: DeviceChoice) -> Result<(Backend, String, Option<wgpu::DeviceType>), NoGpu> {
    if choice == DeviceChoice::Cpu {
        return Ok((Backend::Flex, "CPU".into(), None));
    }
    let adapters = adapters();
    match best_gpu(&adapters) {
        Some(info) => Ok((Backend::Wgpu, format!("{}, {:?}", info.name, info.backend), Some(info.device_type))),
        None if choice == DeviceChoice::Gpu => Err(NoGpu { found: describe(&adapters) }),
        None => Ok((Backend::Flex, "CPU".into(), None)),
    }
}

/// Resolves `--device` to a device.
pub(crate) fn select(choice: DeviceChoice) -> Result<ComputeDevice, NoGpu> {
    let (backend, adapter, device_type) = resolve(choice)?;
    let device = match (backend, device_type) {
        // `resolve` gives a local backend only; a remote device is connected, not selected.
        (Backend::Flex | Backend::Remote, _) => Device::flex(),
        // A software adapter must be asked for by kind; otherwise cubecl's default selector
        // prefers the high-performance adapter, the same one `best_gpu` names.
        (Backend::Wgpu, Some(wgpu::DeviceType::Cpu)) => Device::wgpu(DeviceKind::Cpu),
        (Backend::Wgpu, _) => Device::wgpu(DeviceKind::DefaultDevice),
    };
    Ok(ComputeDevice { device, backend, adapter })
}

/// The label [`ComputeDevice::label`] gives, from a backend and adapter description.
pub(crate) fn label(backend: Backend, adapter: &str) -> String {
    match backend {
        Backend::Wgpu => format!("wgpu ({adapter})"),
        Backend::Flex => format!("flex ({adapter})"),
        Backend::Remote => adapter.to_string(),
    }
}

/// Every adapter wgpu can see on this machine.
pub fn adapters() -> Vec<wgpu::AdapterInfo> {
    // wgpu may panic inside a broken driver; treat that as "no adapters" rather than crash.
    // burn trains through Vulkan, Metal or DX12 (wgpu's primary backends); asking OpenGL too
    // would only make EGL print "XDG_RUNTIME_DIR is invalid" lines on a headless machine.
    without_driver_chatter(|| {
        std::panic::catch_unwind(|| {
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends: wgpu::Backends::PRIMARY,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            pollster::block_on(instance.enumerate_adapters(wgpu::Backends::PRIMARY))
                .iter()
                .map(wgpu::Adapter::get_info)
                .collect()
        })
        .unwrap_or_default()
    })
}

/// Runs `probe` with stderr sent to /dev/null when there is no session (`XDG_RUNTIME_DIR`
/// unset): Mesa's Vulkan drivers then print "XDG_RUNTIME_DIR is invalid" while they load, lines
/// that would stand before the message the user needs. Stderr is the process's, so for that
/// moment another thread's output is lost too; adapters are listed once per device choice.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn without_driver_chatter<R>(probe: impl FnOnce() -> R) -> R {
    use std::os::fd::AsRawFd;
    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| !dir.is_empty()) {
        return probe();
    }
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else { return probe() };
    // SAFETY: dup/dup2 on the process's own stderr; the saved descriptor is restored and closed.
    let saved = unsafe { libc::dup(libc::STDERR_FILENO) };
    if saved < 0 {
        return probe();
    }
    // SAFETY: as above: stderr now points at /dev/null until it is restored below.
    if unsafe { libc::dup2(null.as_raw_fd(), libc::STDERR_FILENO) } < 0 {
        // SAFETY: the descriptor just saved is ours to close.
        unsafe { libc::close(saved) };
        return probe();
    }
    let result = probe();
    // SAFETY: as above.
    unsafe {
        libc::dup2(saved, libc::STDERR_FILENO);
        libc::close(saved);
    }
    result
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn without_driver_chatter<R>(probe: impl FnOnce() -> R) -> R {
    probe()
}

/// The most capable hardware adapter: discrete, then integrated, then virtual (then a software
/// one, when `KDLAB_SOFTWARE_GPU=1`).
pub fn best_gpu(adapters: &[wgpu::AdapterInfo]) -> Option<&wgpu::AdapterInfo> {
    let software_allowed = std::env::var_os(SOFTWARE_GPU_VARIABLE).is_some_and(|v| v == "1");
    let mut kinds = vec![wgpu::DeviceType::DiscreteGpu, wgpu::DeviceType::IntegratedGpu, wgpu::DeviceType::VirtualGpu];
    if software_allowed {
        kinds.push(wgpu::DeviceType::Cpu);
    }
    kinds.into_iter().find_map(|kind| adapters.iter().find(|info| info.device_type == kind))
}

/// Set to `1` to let a software adapter stand in for a GPU (testing only).
pub const SOFTWARE_GPU_VARIABLE: &str = "KDLAB_SOFTWARE_GPU";

fn describe(adapters: &[wgpu::AdapterInfo]) -> String {
    if adapters.is_empty() {
        return "wgpu sees no adapter: is a Vulkan driver installed? your GPU vendor's, or Mesa's \
                mesa-vulkan-drivers on Debian/Ubuntu"
            .into();
    }
    let names: Vec<String> = adapters.iter().map(|a| format!("{} [{:?}]", a.name, a.device_type)).collect();
    format!("only {}", names.join(", "))
}
