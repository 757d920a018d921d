//! Training curves: total loss and each loss term, train and test accuracy, for every stage,
//! against step, epoch, training time or the fraction of the planned steps; x-axes linked
//! across the plots, the legend beside them; a language model's test bits per character, its
//! entropies and both KLs to its teacher; the learning rate and the temperature plotted when
//! they moved. (The plots themselves are [`crate::ui::plot`]'s.)

use super::legend;
use crate::protocol::metric;
use crate::ui::context::ViewContext;
use crate::ui::plot::select::plotted_runs;
use crate::ui::plot::{CurveSpec, curve_plot, export_button};
use crate::ui::settings::XAxis;

/// The total loss and every term any method reports (`loss_ce`, `loss_kd`, `loss_at`, …).
pub(crate) const LOSS: CurveSpec = CurveSpec {
    id: "loss_plot",
    y_label: "loss",
    shows: |m| m.starts_with("loss"),
    headline: metric::LOSS,
    log_allowed: true,
    smoothed: true,
};

/// Train and test accuracy, and DML's peers' test accuracy.
pub(crate) const ACCURACY: CurveSpec = CurveSpec {
    id: "accuracy_plot",
    y_label: "accuracy",
    shows: |m| m.ends_with("_accuracy"),
    headline: metric::TEST_ACCURACY,
    log_allowed: false,
    smoothed: true,
};

/// The learning rate, drawn only where a warm-up or a schedule moves it (a flat line would
/// take a third of the view to say nothing).
pub(crate) const LEARNING_RATE: CurveSpec = CurveSpec {
    id: "learning_rate_plot",
    y_label: "learning rate",
    shows: |m| m == metric::LEARNING_RATE,
    headline: metric::LEARNING_RATE,
    log_allowed: false,
    smoothed: false,
};

/// The temperature, drawn only where it moved: the user steered it, or CTKD learns it.
pub(crate) const TEMPERATURE: CurveSpec = CurveSpec {
    id: "temperature_plot",
    y_label: "temperature",
    shows: |m| m == metric::TEMPERATURE,
    headline: metric::TEMPERATURE,
    log_allowed: false,
    smoothed: false,
};

/// A language model's test bits per character.
pub(crate) const BITS_PER_CHARACTER: CurveSpec = CurveSpec {
    id: "bpc_plot",
    y_label: "test bits / char",
    shows: |m| m == metric::BITS_PER_CHARACTER,
    headline: metric::BITS_PER_CHARACTER,
    log_allowed: false,
    smoothed: false,
};

/// A language model's next-character entropy (and its teacher's) and both directions of KL to
/// its teacher on the test text, in nats: where mode-covering and mode-seeking students differ.
pub(crate) const ENTROPY_AND_KL: CurveSpec = CurveSpec {
    id: "entropy_kl_plot",
    y_label: "nats (test)",
    shows: |m| {
        [metric::ENTROPY, metric::TEACHER_ENTROPY, metric::KL_TEACHER_STUDENT, metric::KL_STUDENT_TEACHER].contains(&m)
    },
    headline: metric::ENTROPY,
    log_allowed: false,
    smoothed: false,
};

/// The plots the view shows: loss and accuracy, a language model's bits per character and its
/// entropies and KLs when a plotted run has them, and the learning rate and the temperature
/// when they changed in a plotted run (a stage's first and last values differ).
fn shown_specs(view: &ViewContext) -> Vec<&'static CurveSpec> {
    let present = |spec: &CurveSpec| {
        plotted_runs(view)
            .iter()
            .flat_map(|(_, histories)| histories.iter())
            .any(|history| history.stages.iter().any(|stage| stage.series.contains_key(spec.headline)))
    };
    let varies = |spec: &CurveSpec| {
        plotted_runs(view).iter().flat_map(|(_, histories)| histories.iter()).any(|history| {
            history
                .stages
                .iter()
                .filter_map(|stage| stage.series.get(spec.headline))
                // First against last: O(1) a frame, however long the history.
                .any(|points| matches!((points.first(), points.last()), (Some(first), Some(last)) if first[1] != last[1]))
        })
    };
    let mut specs = vec![&LOSS, &ACCURACY];
    specs.extend([&BITS_PER_CHARACTER, &ENTROPY_AND_KL].into_iter().filter(|spec| present(spec)));
    specs.extend([&LEARNING_RATE, &TEMPERATURE].into_iter().filter(|spec| varies(spec)));
    specs
}

pub(crate) fn ui(ui: &mut egui::Ui, view: &mut ViewContext) {
    let specs = shown_specs(view);
    ui.horizontal_wrapped(|ui| {
        ui.add(egui::Slider::new(&mut view.settings.smoothing, 0.0..=0.99).text("Smoothing"))
            .on_hover_text("TensorBoard's debiased exponential moving average");
        x_axis_picker(ui, view);
        ui.checkbox(&mut view.settings.log_loss, "log loss").on_hover_text("Losses on a logarithmic axis");
        export_button(ui, view, &specs);
    });
    if view.history.is_none() {
        ui.label("No run yet.");
        return;
    }
    let wide = ui.available_width() >= 640.0;
    if !wide {
        legend::ui(ui, view, &specs, legend::Layout::Wrapped);
    }
    ui.horizontal_top(|ui| {
        let legend_width = if wide { legend::SIDE_WIDTH } else { 0.0 };
        let plots_width = (ui.available_width() - legend_width - 8.0).max(160.0);
        ui.vertical(|ui| {
            ui.set_width(plots_width);
            let height = (ui.available_height() / specs.len() as f32 - 4.0).max(80.0);
            let link = ui.scope_id().with("curves_link");
            // Plots that do not fit at their least height scroll rather than being cut off.
            egui::ScrollArea::vertical().id_salt("curves_scroll").show(ui, |ui| {
                for spec in &specs {
                    curve_plot(ui, view, spec, height, link);
                }
            });
        });
        if wide {
            ui.vertical(|ui| legend::ui(ui, view, &specs, legend::Layout::Side));
        }
    });
}

fn x_axis_picker(ui: &mut egui::Ui, view: &mut ViewContext) {
    let label = ui.label("x");
    let combo = egui::ComboBox::from_id_salt("x_axis").selected_text(view.settings.x_axis.label()).show_ui(ui, |ui| {
        for axis in XAxis::ALL {
            ui.selectable_value(&mut view.settings.x_axis, axis, axis.label());
        }
    });
    combo.response.labelled_by(label.id).on_hover_text("What the curves' x axis counts, per stage");
}

/// The training curves view (stateless: what it shows lives in the run's history).
pub(crate) struct CurvesView;

impl super::View for CurvesView {
    fn info(&self) -> &'static super::ViewInfo {
        &super::ViewInfo { id: "Curves", title: "Training curves", beside: "" }
    }

    fn ui(&mut self, ui: &mut egui::Ui, view: &mut ViewContext) {
        self::ui(ui, view);
    }
}
