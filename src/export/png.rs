//! SVG to PNG with resvg, using the font egui draws with (embedded), so a PNG looks the same on
//! a headless server as in the app and needs no system fonts, display or GPU.

use super::ExportError;
use resvg::{tiny_skia, usvg};

/// Renders `svg` at `scale` (2 for a sharp picture) and encodes it as PNG.
pub fn svg_to_png(svg: &str, scale: f32) -> Result<Vec<u8>, ExportError> {
    let mut options = usvg::Options::default();
    let fonts = options.fontdb_mut();
    fonts.load_font_data(epaint_default_fonts::UBUNTU_LIGHT.to_vec());
    let family = fonts.faces().next().and_then(|face| face.families.first()).map(|f| f.0.clone());
    if let Some(family) = family {
        fonts.set_sans_serif_family(family);
    }
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| ExportError::Render(e.to_string()))?;
    let size = tree.size().to_int_size().scale_by(scale).ok_or_else(|| ExportError::Render("empty plot".into()))?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height())
        .ok_or_else(|| ExportError::Render(format!("cannot allocate {}x{} pixels", size.width(), size.height())))?;
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| ExportError::Render(e.to_string()))
}

/// A PNG's pixels as RGBA bytes (premultiplied), e.g. to check what an export drew.
pub fn decode_rgba(png: &[u8]) -> Result<Vec<u8>, ExportError> {
    let pixmap = tiny_skia::Pixmap::decode_png(png).map_err(|e| ExportError::Render(e.to_string()))?;
    Ok(pixmap.data().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_text_and_lines_at_twice_the_size() {
        let svg = r#"<svg xmlns="http://www.w3.org/2000/svg" width="100" height="40" font-family="sans-serif">
            <rect width="100" height="40" fill="white"/>
            <text x="5" y="25" font-size="16">kdlab</text>
            <line x1="60" y1="20" x2="95" y2="20" stroke="black" stroke-width="4"/></svg>"#;
        let png = svg_to_png(svg, 2.0).expect("renders");
        let decoded = image_size(&png);
        assert_eq!(decoded, (200, 80));
        // The text drew dark pixels where it is, so the font was found.
        let pixmap = tiny_skia::Pixmap::decode_png(&png).expect("decodes");
        let dark = |x0: u32, x1: u32| {
            (x0..x1)
                .flat_map(|x| (20..70).map(move |y| (x, y)))
                .filter(|&(x, y)| pixmap.pixel(x, y).is_some_and(|p| p.red() < 128))
                .count()
        };
        assert!(dark(10, 100) > 50, "text pixels");
        assert!(dark(125, 185) > 50, "line pixels");
    }

    fn image_size(png: &[u8]) -> (u32, u32) {
        let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let height = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        (width, height)
    }
}
