//! The desktop workbench: an eframe window whose views (tiles, rearrangeable like rerun's) draw
//! what the engine reports and whose controls send it commands. Nothing here calls burn or the
//! engine's runtime: it names [`crate::protocol`] and the handle [`crate::engine`] only (a test
//! keeps it so), and the engine runs on its own thread behind the handle's channels.

pub(crate) mod app;
pub mod context;
pub(crate) mod frame_stats;
pub mod history;
pub(crate) mod layout;
pub(crate) mod paint;
pub(crate) mod plot;
pub(crate) mod runs;
pub mod series;
pub mod session;
pub mod settings;
pub mod views;
pub(crate) mod widgets;

pub use app::KdlabApp;

/// Opens the window; falls back to the glow renderer where wgpu cannot start. Without a display,
/// or where neither renderer starts, the error is one line saying what to do.
pub fn run() -> Result<(), String> {
    if let Some(missing) = no_display() {
        return Err(missing);
    }
    let options = |renderer| eframe::NativeOptions {
        renderer,
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 800.0]).with_title("kdlab"),
        ..Default::default()
    };
    let launch =
        |renderer| eframe::run_native("kdlab", options(renderer), Box::new(|cc| Ok(Box::new(KdlabApp::new(cc)))));
    match launch(eframe::Renderer::Wgpu) {
        Ok(()) => Ok(()),
        Err(wgpu_error) => launch(eframe::Renderer::Glow).map_err(|glow_error| {
            format!(
                "cannot open a window (wgpu: {}; glow: {}); {GRAPHICS_HINT}",
                first_line(&wgpu_error.to_string()),
                first_line(&glow_error.to_string())
            )
        }),
    }
}

/// What to install when no renderer starts (the README's set-up section has every platform).
const GRAPHICS_HINT: &str = "the window needs a Vulkan or OpenGL driver and the X11/Wayland libraries: on \
    Debian/Ubuntu `apt install mesa-vulkan-drivers libgl1 libegl1 libxkbcommon-x11-0 libwayland-client0`; \
    `kdlab run PRESET` trains without a window";

/// On Linux and the BSDs, a window needs an X11 or Wayland display.
fn no_display() -> Option<String> {
    if cfg!(any(target_os = "windows", target_os = "macos")) {
        return None;
    }
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    (!["DISPLAY", "WAYLAND_DISPLAY", "WAYLAND_SOCKET"].iter().any(|name| set(name))).then(|| {
        "no display to open the window on (neither DISPLAY nor WAYLAND_DISPLAY is set); for headless use, \
         `kdlab run PRESET` trains and `kdlab report PRESET` compares seeds"
            .to_string()
    })
}

/// The first line of an error, without the source location winit puts in some
/// (`os error at /…/winit-0.30/src/…/mod.rs:765: the reason`).
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.split_once(" at /") {
        Some((before, after)) => {
            let reason = after.split_once(": ").map_or("", |(_, reason)| reason);
            format!("{before}: {reason}")
        }
        None => line.to_string(),
    }
}
