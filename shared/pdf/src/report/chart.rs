//! Drawing on a report page: a [`Canvas`] of printpdf operations measured with the shipped
//! font, and [`ChartBackend`], a plotters vector backend that draws into a rectangle of it.
//!
//! Backend units are 0.1 pt (plotters' coordinates are integers), y grows downwards in
//! plotters and upwards in PDF; text is real text in the embedded font, so a chart's labels
//! are extractable and render with the same glyphs as the rest of the page.

use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
    FontTransform,
};
use printpdf::{
    Color, FontId, Line, LineDashPattern, LinePoint, Op, PaintMode, PdfFontHandle, Point, Polygon,
    PolygonRing, Pt, Rect, Rgb, TextItem, TextMatrix, WindingOrder,
};

use crate::font::Face;

/// Backend units per point.
pub(crate) const UNITS_PER_PT: f32 = 10.0;

/// The font's ascent and descent in ems (WenQuanYi Micro Hei's hanzi sit within them).
const ASCENT: f32 = 0.86;
const DESCENT: f32 = 0.14;

/// An RGB colour from 0–255 components.
pub(crate) fn rgb(r: u8, g: u8, b: u8) -> Color {
    Color::Rgb(Rgb::new(
        f32::from(r) / 255.0,
        f32::from(g) / 255.0,
        f32::from(b) / 255.0,
        None,
    ))
}

/// Horizontal alignment of page text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Centre,
    Right,
}

/// One page being drawn: its operations, the text printed (for the glyph check and the
/// subset tag) and the first character the font lacks.
pub(crate) struct Canvas<'f> {
    face: &'f Face,
    font: PdfFontHandle,
    pub(crate) ops: Vec<Op>,
    pub(crate) printed: String,
    pub(crate) missing: Option<char>,
}

impl<'f> Canvas<'f> {
    pub(crate) fn new(face: &'f Face, font: &FontId) -> Self {
        Self {
            face,
            font: PdfFontHandle::External(font.clone()),
            ops: Vec::with_capacity(2048),
            printed: String::new(),
            missing: None,
        }
    }

    /// Width of `text` at `size` points.
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        text.chars().map(|c| self.face.advance_em(c)).sum::<f32>() * size
    }

    /// `text` shortened with "…" to fit `max` points at `size`.
    pub(crate) fn fit(&self, text: &str, size: f32, max: f32) -> String {
        if self.width(text, size) <= max {
            return text.to_owned();
        }
        let mut out = String::new();
        for c in text.chars() {
            if self.width(&out, size) + self.width(&format!("{c}…"), size) > max {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }

    /// Text with its baseline at `y`, aligned on `x`, rotated by `degrees` about that point.
    pub(crate) fn text_rotated(
        &mut self,
        text: &str,
        x: f32,
        y: f32,
        size: f32,
        color: Color,
        degrees: f32,
    ) {
        if text.is_empty() {
            return;
        }
        for c in text.chars() {
            if self.missing.is_none() && !c.is_whitespace() && self.face.glyph(c).is_none() {
                self.missing = Some(c);
            }
        }
        self.printed.push_str(text);
        let matrix = if degrees == 0.0 {
            TextMatrix::Translate(Pt(x), Pt(y))
        } else {
            TextMatrix::TranslateRotate(Pt(x), Pt(y), degrees)
        };
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: self.font.clone(),
                size: Pt(size),
            },
            Op::SetFillColor { col: color },
            Op::SetTextMatrix { matrix },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_owned())],
            },
            Op::EndTextSection,
        ]);
    }

    /// Text with its baseline at `y`, aligned on `x`.
    pub(crate) fn text(
        &mut self,
        text: &str,
        x: f32,
        y: f32,
        size: f32,
        color: Color,
        align: Align,
    ) {
        let w = self.width(text, size);
        let x = match align {
            Align::Left => x,
            Align::Centre => x - w / 2.0,
            Align::Right => x - w,
        };
        self.text_rotated(text, x, y, size, color, 0.0);
    }

    /// A filled rectangle from its lower left corner.
    pub(crate) fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color) {
        self.ops.extend([
            Op::SetFillColor { col: color },
            Op::DrawRectangle {
                rectangle: Rect {
                    mode: Some(PaintMode::Fill),
                    ..Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h))
                },
            },
        ]);
    }

    /// A stroked rectangle from its lower left corner.
    pub(crate) fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, color: Color, width: f32) {
        self.ops.extend([
            Op::SetOutlineColor { col: color },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawRectangle {
                rectangle: Rect {
                    mode: Some(PaintMode::Stroke),
                    ..Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h))
                },
            },
        ]);
    }

    /// A polyline.
    pub(crate) fn line(&mut self, points: &[(f32, f32)], color: Color, width: f32, dashed: bool) {
        if points.len() < 2 {
            return;
        }
        if dashed {
            self.ops.push(Op::SetLineDashPattern {
                dash: LineDashPattern::new(0.0, &[3.0, 2.0]),
            });
        }
        self.ops.extend([
            Op::SetOutlineColor { col: color },
            Op::SetOutlineThickness { pt: Pt(width) },
            Op::DrawLine {
                line: Line {
                    points: points.iter().map(|p| point(*p)).collect(),
                    is_closed: false,
                },
            },
        ]);
        if dashed {
            self.ops.push(Op::SetLineDashPattern {
                dash: LineDashPattern::solid(),
            });
        }
    }

    /// A filled polygon.
    pub(crate) fn polygon(&mut self, points: &[(f32, f32)], color: Color) {
        if points.len() < 3 {
            return;
        }
        self.ops.extend([
            Op::SetFillColor { col: color },
            Op::DrawPolygon {
                polygon: Polygon {
                    rings: vec![PolygonRing {
                        points: points.iter().map(|p| point(*p)).collect(),
                    }],
                    mode: PaintMode::Fill,
                    winding_order: WindingOrder::NonZero,
                },
            },
        ]);
    }
}

fn point((x, y): (f32, f32)) -> LinePoint {
    LinePoint {
        p: Point { x: Pt(x), y: Pt(y) },
        bezier: false,
    }
}

/// Why the chart backend failed (it does not: every call maps to operations).
#[derive(Debug)]
pub(crate) struct ChartError;

impl std::fmt::Display for ChartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("chart backend")
    }
}

impl std::error::Error for ChartError {}

/// A plotters backend drawing into the rectangle of `canvas` whose upper left corner is
/// (`left`, `top`) (points from the page's lower left), `width` × `height` points.
pub(crate) struct ChartBackend<'c, 'f> {
    canvas: &'c mut Canvas<'f>,
    left: f32,
    top: f32,
    size: (u32, u32),
}

impl<'c, 'f> ChartBackend<'c, 'f> {
    pub(crate) fn new(
        canvas: &'c mut Canvas<'f>,
        left: f32,
        top: f32,
        width: f32,
        height: f32,
    ) -> Self {
        Self {
            canvas,
            left,
            top,
            size: (
                (width * UNITS_PER_PT).round() as u32,
                (height * UNITS_PER_PT).round() as u32,
            ),
        }
    }

    fn at(&self, (x, y): BackendCoord) -> (f32, f32) {
        (
            self.left + x as f32 / UNITS_PER_PT,
            self.top - y as f32 / UNITS_PER_PT,
        )
    }
}

fn colour(c: BackendColor) -> Option<Color> {
    (c.alpha > 0.0).then(|| {
        let (r, g, b) = c.rgb;
        // Translucent fills are blended onto white (the page).
        let a = c.alpha.clamp(0.0, 1.0) as f32;
        let mix = |v: u8| ((f32::from(v) * a + 255.0 * (1.0 - a)).round()) as u8;
        rgb(mix(r), mix(g), mix(b))
    })
}

fn stroke_pt<S: BackendStyle>(style: &S) -> f32 {
    // plotters' default stroke of 1 unit would be a 0.1 pt hairline; 0.5 pt is the least.
    (style.stroke_width() as f32 / UNITS_PER_PT).max(0.5)
}

type Drawn = Result<(), DrawingErrorKind<ChartError>>;

impl DrawingBackend for ChartBackend<'_, '_> {
    type ErrorType = ChartError;

    fn get_size(&self) -> (u32, u32) {
        self.size
    }

    fn ensure_prepared(&mut self) -> Drawn {
        Ok(())
    }

    fn present(&mut self) -> Drawn {
        Ok(())
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn {
        if let Some(c) = colour(color) {
            let (x, y) = self.at(point);
            let d = 1.0 / UNITS_PER_PT;
            self.canvas.fill_rect(x, y - d, d, d, c);
        }
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Drawn {
        if let Some(c) = colour(style.color()) {
            let points = [self.at(from), self.at(to)];
            self.canvas.line(&points, c, stroke_pt(style), false);
        }
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Drawn {
        let Some(c) = colour(style.color()) else {
            return Ok(());
        };
        let (x0, y0) = self.at(upper_left);
        let (x1, y1) = self.at(bottom_right);
        let (x, y, w, h) = (x0.min(x1), y0.min(y1), (x1 - x0).abs(), (y1 - y0).abs());
        if fill {
            self.canvas.fill_rect(x, y, w, h, c);
        } else {
            self.canvas.stroke_rect(x, y, w, h, c, stroke_pt(style));
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Drawn {
        if let Some(c) = colour(style.color()) {
            let points: Vec<(f32, f32)> = path.into_iter().map(|p| self.at(p)).collect();
            self.canvas.line(&points, c, stroke_pt(style), false);
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Drawn {
        if let Some(c) = colour(style.color()) {
            let points: Vec<(f32, f32)> = vert.into_iter().map(|p| self.at(p)).collect();
            self.canvas.polygon(&points, c);
        }
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Drawn {
        let Some(c) = colour(style.color()) else {
            return Ok(());
        };
        let (cx, cy) = self.at(center);
        let r = radius as f32 / UNITS_PER_PT;
        let points: Vec<(f32, f32)> = (0..=24)
            .map(|i| {
                let a = i as f32 * std::f32::consts::TAU / 24.0;
                (cx + r * a.cos(), cy + r * a.sin())
            })
            .collect();
        if fill {
            self.canvas.polygon(&points, c);
        } else {
            self.canvas.line(&points, c, stroke_pt(style), false);
        }
        Ok(())
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> Result<(u32, u32), DrawingErrorKind<ChartError>> {
        let size = style.size() as f32;
        let w = self.canvas.width(text, size);
        let (w, h) = match style.transform() {
            FontTransform::Rotate90 | FontTransform::Rotate270 => (size, w),
            _ => (w, size),
        };
        Ok((w.ceil() as u32, h.ceil() as u32))
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Drawn {
        let Some(c) = colour(style.color()) else {
            return Ok(());
        };
        // Sizes come in backend units.
        let size = style.size() as f32 / UNITS_PER_PT;
        let w = self.canvas.width(text, size);
        let anchor = style.anchor();
        // Offsets along the text's own axes: dx from the anchor to the start, dy from the
        // anchor to the baseline (up positive).
        let dx = match anchor.h_pos {
            HPos::Left => 0.0,
            HPos::Center => -w / 2.0,
            HPos::Right => -w,
        };
        let dy = match anchor.v_pos {
            VPos::Top => -ASCENT * size,
            VPos::Center => -(ASCENT - DESCENT) / 2.0 * size,
            VPos::Bottom => DESCENT * size,
        };
        let (ax, ay) = self.at(pos);
        let degrees: f32 = match style.transform() {
            FontTransform::None => 0.0,
            // plotters turns clockwise on screen (y down): clockwise on the page too.
            FontTransform::Rotate90 => -90.0,
            FontTransform::Rotate180 => 180.0,
            FontTransform::Rotate270 => 90.0,
        };
        let (sin, cos) = degrees.to_radians().sin_cos();
        let x = ax + dx * cos - dy * sin;
        let y = ay + dx * sin + dy * cos;
        self.canvas.text_rotated(text, x, y, size, c, degrees);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use plotters::prelude::{BLUE, ChartBuilder, IntoDrawingArea, Rectangle};
    use plotters::style::Color as _;

    use super::*;
    use crate::font::Fonts;

    fn texts(ops: &[Op]) -> Vec<(String, f32, f32)> {
        let mut out = Vec::new();
        let mut at = (0.0, 0.0);
        for op in ops {
            match op {
                Op::SetTextMatrix {
                    matrix: TextMatrix::Translate(x, y),
                } => at = (x.0, y.0),
                Op::ShowText { items } => {
                    for item in items {
                        if let TextItem::Text(t) = item {
                            out.push((t.clone(), at.0, at.1));
                        }
                    }
                }
                _ => {}
            }
        }
        out
    }

    #[test]
    fn a_bar_chart_becomes_rectangles_lines_and_text_inside_its_box() {
        super::super::register_plotters_fonts().unwrap();
        let fonts = Fonts::load().unwrap();
        let mut canvas = Canvas::new(&fonts.full, &FontId("F".into()));
        {
            let root =
                ChartBackend::new(&mut canvas, 100.0, 700.0, 300.0, 200.0).into_drawing_area();
            let mut chart = ChartBuilder::on(&root)
                .caption("各校合格率", ("sans-serif", 120))
                .x_label_area_size(200)
                .y_label_area_size(400)
                .build_cartesian_2d(0f64..3f64, 0f64..100f64)
                .unwrap();
            chart.configure_mesh().draw().unwrap();
            chart
                .draw_series((0..3).map(|i| {
                    let x = f64::from(i);
                    Rectangle::new([(x + 0.2, 0.0), (x + 0.8, 50.0)], BLUE.filled())
                }))
                .unwrap();
        }
        assert_eq!(canvas.missing, None);
        let rects = canvas
            .ops
            .iter()
            .filter(|op| matches!(op, Op::DrawRectangle { .. }))
            .count();
        assert!(rects >= 3, "{rects} rectangles");
        let texts = texts(&canvas.ops);
        let (_, x, y) = texts
            .iter()
            .find(|(t, _, _)| t == "各校合格率")
            .expect("the caption is text");
        // Centred at the top of the 300 × 200 pt box whose upper left is (100, 700).
        let w = canvas.width("各校合格率", 12.0);
        assert!((x + w / 2.0 - 250.0).abs() < 1.0, "caption at x {x}");
        assert!(*y < 700.0 && *y > 680.0, "caption baseline at {y}");
        for (t, x, y) in &texts {
            assert!(
                (99.0..=400.0).contains(x) && (499.0..=700.0).contains(y),
                "{t:?} at ({x}, {y}) outside the box"
            );
        }
        assert!(canvas.printed.contains("各校合格率"));
    }

    #[test]
    fn a_character_the_face_lacks_is_noted() {
        let fonts = Fonts::load().unwrap();
        let mut canvas = Canvas::new(&fonts.common, &FontId("F".into()));
        canvas.text("黄圩镇喆堃小学", 0.0, 0.0, 10.0, rgb(0, 0, 0), Align::Left);
        assert_eq!(canvas.missing, Some('喆'));
    }
}
