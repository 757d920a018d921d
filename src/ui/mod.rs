//! The desktop workbench: an eframe window whose views (tiles, rearrangeable like rerun's) draw
//! what the engine reports and whose controls send it commands. Nothing here calls burn: the
//! engine runs on its own thread and talks through [`crate::train::Engine`]'s channels.

pub mod app;
pub mod frame_bench;
pub mod frame_stats;
pub mod history;
pub mod paint;
pub mod runs;
pub mod series;
pub mod session;
pub mod settings;
pub mod views;

pub use app::KdlabApp;

/// Opens the window; falls back to the glow renderer where wgpu cannot start.
pub fn run() -> Result<(), String> {
    let options = |renderer| eframe::NativeOptions {
        renderer,
        viewport: egui::ViewportBuilder::default().with_inner_size([1280.0, 800.0]).with_title("kdlab"),
        ..Default::default()
    };
    let launch =
        |renderer| eframe::run_native("kdlab", options(renderer), Box::new(|cc| Ok(Box::new(KdlabApp::new(cc)))));
    match launch(eframe::Renderer::Wgpu) {
        Ok(()) => Ok(()),
        Err(wgpu_error) => launch(eframe::Renderer::Glow)
            .map_err(|glow_error| format!("cannot open a window: wgpu: {wgpu_error}; glow: {glow_error}")),
    }
}
