//! Where everything goes on the page: the certificate as printpdf operations.
//!
//! Coordinates are PDF points from the lower left corner of an A4 page. Text is measured
//! with the font's horizontal advances (printpdf does not measure), centred or wrapped here,
//! and placed with absolute text matrices.

use printpdf::{
    Color, CurTransMat, FontId, Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect,
    Rgb, TextItem, TextMatrix, TextRenderingMode,
};

use crate::CertificatePage;
use crate::font::Face;
use crate::qr::Matrix;

/// A4 in points.
pub(crate) const PAGE_W: f32 = 595.276;
pub(crate) const PAGE_H: f32 = 841.89;
const MM: f32 = 72.0 / 25.4;

/// One QR module: 3/100 inch (0.762 mm, 2.16 pt). That is 3 device pixels at 100 dpi, 6 at 200,
/// 9 at 300 and 18 at 600 (4.5 at 150). Measured: every copy `tests/scan.rs` makes decodes, and
/// with a margin (a 100-dpi render blurred by 1 px too, which 0.70 mm modules did not pass); a
/// typical certificate's version 13 is 52.6 mm wide, the largest accepted (16) 61.7 mm.
pub(crate) const QR_MODULE: f32 = 0.03 * 72.0;
/// The light margin around the symbol that ISO/IEC 18004 asks for, in modules: nothing is
/// drawn there.
pub(crate) const QR_QUIET_ZONE: f32 = 4.0;
/// The QR symbol's lower left corner: 0.9 in from the page's left edge and 9.92 in below its
/// top edge (45.0 mm above the bottom). Renderers and printers rasterise from the top left
/// corner, so with whole hundredths of an inch there and 3/100-inch modules every module edge
/// falls between device pixels at 100, 200, 300 and 600 dpi: the 1-bit mask scales to solid
/// squares, never to grey seams. The symbol grows up and to the right with its version.
pub(crate) const QR_ORIGIN: (f32, f32) = (0.9 * 72.0, PAGE_H - 9.92 * 72.0);

/// The QR symbol's lower left corner and side, in points, for a symbol `width` modules wide.
pub(crate) fn qr_box(width: usize) -> (f32, f32, f32) {
    (QR_ORIGIN.0, QR_ORIGIN.1, width as f32 * QR_MODULE)
}

/// The caption's baseline under the QR code (clear of the quiet zone by its ascent and 2.7 pt).
const CAPTION_BASELINE: f32 = QR_ORIGIN.1 - QR_QUIET_ZONE * QR_MODULE - 11.5;
/// From one line under the QR code to the next.
const LINE_STEP: f32 = 15.0;
/// The verification lines: their labels (grey, 9 pt) and the sizes of their values (ink).
const ADDRESS_LABEL: &str = "查验网址";
const CODE_LABEL: &str = "验证码";
const LABEL_SIZE: f32 = 9.0;
const ADDRESS_SIZE: f32 = 10.0;
const CODE_SIZE: f32 = 11.0;
// Legible: nothing under the QR code smaller than 9 pt.
const _: () = assert!(LABEL_SIZE >= 9.0 && ADDRESS_SIZE >= 9.0 && CODE_SIZE >= 9.0);
/// The right end of the verification lines: well inside the inner frame (13 mm).
const LINES_RIGHT: f32 = PAGE_W - 20.0 * MM;
/// The issuer's largest size, and how far inside the page's edge it ends at the least: 10 mm
/// inside the inner frame (13 mm).
const ISSUER_SIZE: f32 = 16.0;
const ISSUER_CLEARANCE: f32 = 23.0 * MM;

/// The QR symbol as a 1-bit image mask: rows from the top, packed most significant bit first,
/// 0 where a module is dark (an image mask paints its 0 samples in the fill colour). A random
/// payload makes ~1,500 runs of dark modules; as vector rectangles they cost ~3.5 KB even
/// compressed, as a mask under 1 KB — and a mask scaled by whole modules prints as sharp.
pub(crate) fn qr_mask(matrix: &Matrix) -> Vec<u8> {
    let width = matrix.width;
    let stride = width.div_ceil(8);
    let mut bits = vec![0xff_u8; stride * width];
    for row in 0..width {
        for col in 0..width {
            if matrix.dark(col, row) {
                bits[row * stride + col / 8] &= !(0x80 >> (col % 8));
            }
        }
    }
    bits
}

/// How far inside its box the mask is drawn on every side: 0.05 pt (1/1440 in, under half a
/// device pixel up to 600 dpi). A rasteriser that paints every pixel an image's edge reaches
/// (poppler) would otherwise add a column and a row to a box ending exactly between pixels,
/// stretching two modules by a pixel; with the inset each module is its whole pixels, and a
/// rasteriser that samples pixel centres paints the same.
const QR_INSET: f32 = 0.05;

/// The operators that paint the mask named `name`, `width` modules wide, in the QR box, in black.
pub(crate) fn qr_placement(name: &str, width: usize) -> Vec<u8> {
    let (x, y, side) = qr_box(width);
    let (x, y, size) = (x + QR_INSET, y + QR_INSET, side - 2.0 * QR_INSET);
    format!("\nq\n0 g\n{size:.3} 0 0 {size:.3} {x:.3} {y:.3} cm\n/{name} Do\nQ\n").into_bytes()
}

/// Where the issuing office's seal goes: over the issuer and the date, as a stamp on paper —
/// 42 mm across (the size of a local office's round seal), centred on the issuer block.
pub(crate) fn seal_placement(name: &str, aspect: f32) -> Vec<u8> {
    let side = 42.0 * MM;
    let (w, h) = if aspect >= 1.0 {
        (side, side / aspect)
    } else {
        (side * aspect, side)
    };
    let (cx, cy) = (PAGE_W - 62.0 * MM, 81.0 * MM);
    let (x, y) = (cx - w / 2.0, cy - h / 2.0);
    format!("\nq\n{w:.3} 0 0 {h:.3} {x:.3} {y:.3} cm\n/{name} Do\nQ\n").into_bytes()
}

fn crimson() -> Color {
    Color::Rgb(Rgb::new(0.63, 0.09, 0.11, None))
}
fn ink() -> Color {
    Color::Rgb(Rgb::new(0.11, 0.11, 0.12, None))
}
fn grey() -> Color {
    Color::Rgb(Rgb::new(0.42, 0.42, 0.44, None))
}

/// How a piece of body text is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    /// Drawn with a thin outline as well: the one face has no bold.
    Strong,
}

/// Builds the operations of one page.
pub(crate) struct Composer<'f> {
    face: &'f Face,
    font: PdfFontHandle,
    /// The face for the characters `face` lacks (rare name characters), and its resource.
    fallback: Option<(&'f Face, PdfFontHandle)>,
    ops: Vec<Op>,
}

impl<'f> Composer<'f> {
    pub(crate) fn new(face: &'f Face, font_id: FontId) -> Self {
        Self {
            face,
            font: PdfFontHandle::External(font_id),
            fallback: None,
            ops: Vec::with_capacity(1600),
        }
    }

    /// Characters `face` lacks are drawn in `fallback`, resource `font_id`.
    pub(crate) fn with_fallback(mut self, fallback: &'f Face, font_id: FontId) -> Self {
        self.fallback = Some((fallback, PdfFontHandle::External(font_id)));
        self
    }

    /// Whether `c` is drawn in the fallback face.
    fn falls_back(&self, c: char) -> bool {
        self.fallback.is_some() && self.face.glyph(c).is_none()
    }

    /// The advance of `c` in ems, in the face that draws it.
    fn advance_em(&self, c: char) -> f32 {
        match &self.fallback {
            Some((fallback, _)) if self.falls_back(c) => fallback.advance_em(c),
            _ => self.face.advance_em(c),
        }
    }

    /// Width of `text` at `size` points, with `spacing` ems added after each character but
    /// the last.
    fn width(&self, text: &str, size: f32, spacing: f32) -> f32 {
        let mut ems = 0.0;
        let mut count = 0usize;
        for c in text.chars() {
            ems += self.advance_em(c);
            count += 1;
        }
        (ems + spacing * count.saturating_sub(1) as f32) * size
    }

    /// The operators that show `text` at `size` inside a text section whose current font is
    /// the fallback when `*on_fallback`: one run per face, the font switched between runs.
    /// With `spacing`, each character is followed by that many ems but the last.
    fn show(&self, text: &str, size: f32, spacing: f32, on_fallback: &mut bool) -> Vec<Op> {
        let mut ops = Vec::new();
        let mut items = Vec::new();
        let mut first = true;
        for c in text.chars() {
            let fallback = self.falls_back(c);
            if fallback != *on_fallback {
                if !items.is_empty() {
                    ops.push(Op::ShowText {
                        items: std::mem::take(&mut items),
                    });
                }
                let font = match &self.fallback {
                    Some((_, handle)) if fallback => handle.clone(),
                    _ => self.font.clone(),
                };
                ops.push(Op::SetFont {
                    font,
                    size: Pt(size),
                });
                *on_fallback = fallback;
            }
            if spacing == 0.0 {
                match items.last_mut() {
                    Some(TextItem::Text(t)) => t.push(c),
                    _ => items.push(TextItem::Text(c.to_string())),
                }
            } else {
                if !first {
                    // TJ offsets are in thousandths of an em; negative moves right.
                    items.push(TextItem::Offset(-spacing * 1000.0));
                }
                items.push(TextItem::Text(c.to_string()));
            }
            first = false;
        }
        if !items.is_empty() {
            ops.push(Op::ShowText { items });
        }
        ops
    }

    /// Text starting at (`x`, `y`), optionally letter-spaced by `spacing` ems.
    fn text(&mut self, text: &str, x: f32, y: f32, size: f32, color: Color, spacing: f32) {
        let mut on_fallback = false;
        let shown = self.show(text, size, spacing, &mut on_fallback);
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: self.font.clone(),
                size: Pt(size),
            },
            Op::SetFillColor { col: color },
            Op::SetTextMatrix {
                matrix: TextMatrix::Translate(Pt(x), Pt(y)),
            },
        ]);
        self.ops.extend(shown);
        self.ops.push(Op::EndTextSection);
    }

    fn centred(&mut self, text: &str, cx: f32, y: f32, size: f32, color: Color, spacing: f32) {
        let w = self.width(text, size, spacing);
        self.text(text, cx - w / 2.0, y, size, color, spacing);
    }

    /// `issuer` as printed: one line when it fits `room` at `size`, else two, broken where the
    /// wider line is narrowest, favouring a break after an office's ending (…厅 / 能力提升
    /// 2.0办公室) and never inside a run of Latin letters and digits such as "2.0".
    fn issuer_lines<'t>(&self, issuer: &'t str, size: f32, room: f32) -> Vec<&'t str> {
        if self.width(issuer, size, 0.0) <= room {
            return vec![issuer];
        }
        let latin = |c: char| c.is_ascii_alphanumeric() || c == '.';
        let chars: Vec<(usize, char)> = issuer.char_indices().collect();
        let cost = |at: usize| {
            let (left, right) = issuer.split_at(at);
            let wider = self
                .width(left, size, 0.0)
                .max(self.width(right, size, 0.0));
            let ending = left.ends_with(['厅', '局', '委', '部', '府', '会', '院', '处', '室']);
            wider - if ending { 1.5 * size } else { 0.0 }
        };
        chars
            .windows(2)
            .filter(|w| !(latin(w[0].1) && latin(w[1].1)))
            .map(|w| w[1].0)
            .min_by(|&a, &b| cost(a).total_cmp(&cost(b)))
            .map_or_else(|| vec![issuer], |at| vec![&issuer[..at], &issuer[at..]])
    }

    /// The largest size up to `max` at which `text` fits `width`.
    fn fitting(&self, text: &str, max: f32, width: f32, spacing: f32) -> f32 {
        let at_one = self.width(text, 1.0, spacing).max(f32::EPSILON);
        (width / at_one).min(max)
    }

    fn stroke_rect(&mut self, x: f32, y: f32, w: f32, h: f32, thickness: f32) {
        self.ops.extend([
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawRectangle {
                rectangle: Rect {
                    mode: Some(PaintMode::Stroke),
                    ..Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h))
                },
            },
        ]);
    }

    fn fill_rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.ops.push(Op::DrawRectangle {
            rectangle: Rect {
                mode: Some(PaintMode::Fill),
                ..Rect::from_xywh(Pt(x), Pt(y), Pt(w), Pt(h))
            },
        });
    }

    fn line(&mut self, from: (f32, f32), to: (f32, f32), thickness: f32) {
        let point = |(x, y): (f32, f32)| LinePoint {
            p: Point { x: Pt(x), y: Pt(y) },
            bezier: false,
        };
        self.ops.extend([
            Op::SetOutlineThickness { pt: Pt(thickness) },
            Op::DrawLine {
                line: Line {
                    points: vec![point(from), point(to)],
                    is_closed: false,
                },
            },
        ]);
    }

    /// A small diamond centred on (`cx`, `cy`).
    fn diamond(&mut self, cx: f32, cy: f32, r: f32) {
        // A square rotated by 45° about its centre.
        self.ops.extend([
            Op::SaveGraphicsState,
            Op::SetTransformationMatrix {
                matrix: CurTransMat::Raw([1.0, 1.0, -1.0, 1.0, cx, cy]),
            },
        ]);
        let h = r / 2.0;
        self.fill_rect(-h, -h, r, r);
        self.ops.push(Op::RestoreGraphicsState);
    }

    /// The double frame with corner ornaments.
    fn border(&mut self) {
        let outer = 10.0 * MM;
        let inner = 13.0 * MM;
        self.ops.extend([
            Op::SetOutlineColor { col: crimson() },
            Op::SetFillColor { col: crimson() },
        ]);
        self.stroke_rect(
            outer,
            outer,
            PAGE_W - 2.0 * outer,
            PAGE_H - 2.0 * outer,
            2.4,
        );
        self.stroke_rect(
            inner,
            inner,
            PAGE_W - 2.0 * inner,
            PAGE_H - 2.0 * inner,
            0.6,
        );
        // Corner squares between the two rules, and a diamond inside each inner corner.
        let mid = 11.5 * MM;
        let s = 2.2 * MM;
        for (x, y) in [
            (mid, mid),
            (PAGE_W - mid, mid),
            (mid, PAGE_H - mid),
            (PAGE_W - mid, PAGE_H - mid),
        ] {
            self.fill_rect(x - s / 2.0, y - s / 2.0, s, s);
        }
        let d = 17.0 * MM;
        for (x, y) in [
            (d, d),
            (PAGE_W - d, d),
            (d, PAGE_H - d),
            (PAGE_W - d, PAGE_H - d),
        ] {
            self.diamond(x, y, 2.4 * MM);
        }
    }

    /// The title: a long title splits at its last space into a smaller line above (the
    /// programme) and the certificate's name below, large and letter-spaced.
    fn title(&mut self, title: &str) {
        let cx = PAGE_W / 2.0;
        let usable = PAGE_W - 2.0 * 30.0 * MM;
        let (upper, main) = match title.trim().rsplit_once(' ') {
            Some((upper, main)) => (Some(upper.trim()), main.trim()),
            None => (None, title.trim()),
        };
        if let Some(upper) = upper {
            let size = self.fitting(upper, 17.0, usable, 0.12);
            self.centred(upper, cx, PAGE_H - 52.0 * MM, size, ink(), 0.12);
        }
        let spacing = 0.3;
        let size = self.fitting(main, 40.0, usable, spacing);
        self.centred(main, cx, PAGE_H - 74.0 * MM, size, crimson(), spacing);
        // A rule with a diamond under the title.
        let y = PAGE_H - 85.0 * MM;
        self.ops.extend([
            Op::SetOutlineColor { col: crimson() },
            Op::SetFillColor { col: crimson() },
        ]);
        self.line((cx - 48.0 * MM, y), (cx - 4.0 * MM, y), 0.8);
        self.line((cx + 4.0 * MM, y), (cx + 48.0 * MM, y), 0.8);
        self.diamond(cx, y, 2.2 * MM);
    }

    /// Wraps `pieces` to `width` at `size` points and draws the lines from `top` down;
    /// the first line starts `indent` ems in. Returns the baseline of the last line.
    #[allow(clippy::too_many_arguments)]
    fn paragraph(
        &mut self,
        pieces: &[(Style, String)],
        x: f32,
        top: f32,
        width: f32,
        size: f32,
        leading: f32,
        indent: f32,
    ) -> f32 {
        let tokens = tokens(pieces);
        let mut lines: Vec<Vec<(Style, String)>> = vec![Vec::new()];
        let mut used = indent * size;
        for (style, token) in tokens {
            let w = self.width(&token, size, 0.0);
            let line = lines.last_mut().expect("one line at least");
            if used + w > width + 0.01 && !line.is_empty() && !token.trim().is_empty() {
                lines.push(Vec::new());
                used = 0.0;
            }
            let line = lines.last_mut().expect("one line at least");
            if line.is_empty() && token == " " {
                continue;
            }
            used += w;
            match line.last_mut() {
                Some((s, text)) if *s == style => text.push_str(&token),
                _ => line.push((style, token)),
            }
        }
        let mut y = top;
        for (i, line) in lines.iter().enumerate() {
            let start = if i == 0 { x + indent * size } else { x };
            let mut items_ops = vec![
                Op::StartTextSection,
                Op::SetFont {
                    font: self.font.clone(),
                    size: Pt(size),
                },
                Op::SetFillColor { col: ink() },
                Op::SetOutlineColor { col: ink() },
                Op::SetOutlineThickness { pt: Pt(0.35) },
                Op::SetTextMatrix {
                    matrix: TextMatrix::Translate(Pt(start), Pt(y)),
                },
            ];
            let mut current = Style::Plain;
            let mut on_fallback = false;
            for (style, text) in line {
                if *style != current {
                    items_ops.push(Op::SetTextRenderingMode {
                        mode: match style {
                            Style::Plain => TextRenderingMode::Fill,
                            Style::Strong => TextRenderingMode::FillStroke,
                        },
                    });
                    current = *style;
                }
                items_ops.extend(self.show(text, size, 0.0, &mut on_fallback));
            }
            if current != Style::Plain {
                items_ops.push(Op::SetTextRenderingMode {
                    mode: TextRenderingMode::Fill,
                });
            }
            items_ops.push(Op::EndTextSection);
            self.ops.extend(items_ops);
            if i + 1 < lines.len() {
                y -= leading;
            }
        }
        y
    }

    /// The verification address and code under the QR code's caption, for when the code will
    /// not scan: a grey label, then the value as given, in ink, the values aligned. An empty
    /// value leaves its line out (the next moves up).
    fn verification(&mut self, page: &CertificatePage<'_>) {
        let x = QR_ORIGIN.0;
        let value_x = x + self.width(ADDRESS_LABEL, LABEL_SIZE, 0.0) + 0.6 * LABEL_SIZE;
        let mut y = CAPTION_BASELINE;
        for (label, value, size, spacing) in [
            (ADDRESS_LABEL, page.verification_address, ADDRESS_SIZE, 0.0),
            (CODE_LABEL, page.verification_code, CODE_SIZE, 0.06),
        ] {
            if value.trim().is_empty() {
                continue;
            }
            y -= LINE_STEP;
            self.text(label, x, y, LABEL_SIZE, grey(), 0.0);
            // Up to 40 characters fit at full size; only a longer value is made smaller.
            let size = self.fitting(value, size, LINES_RIGHT - value_x, spacing);
            self.text(value, value_x, y, size, ink(), spacing);
        }
    }

    /// Lays out the whole certificate, its QR code `qr_width` modules wide.
    pub(crate) fn compose(mut self, page: &CertificatePage<'_>, qr_width: usize) -> Vec<Op> {
        self.border();
        self.title(page.title);

        let left = 30.0 * MM;
        let width = PAGE_W - 2.0 * left;
        let size = 15.0;
        let leading = 29.0;
        let salutation = [
            (Style::Strong, page.teacher_name.to_owned()),
            (
                Style::Plain,
                format!(" 老师（身份证号 {}）：", page.id_number_masked),
            ),
        ];
        let top = PAGE_H - 108.0 * MM;
        let last = self.paragraph(&salutation, left, top, width, size, leading, 0.0);
        let body = body_pieces(page);
        self.paragraph(
            &body,
            left,
            last - leading * 1.15,
            width,
            size,
            leading,
            2.0,
        );

        // Issuer and date, lower right, on one axis and at least ISSUER_CLEARANCE inside the
        // frame: a name too long for one line at 16 pt is set in two, as offices print it
        // (issue 21: Ningxia's office name sat 4 mm from the frame).
        let cx = PAGE_W - 62.0 * MM;
        let room = 2.0 * (PAGE_W - cx - ISSUER_CLEARANCE);
        let lines = self.issuer_lines(page.issuer, ISSUER_SIZE, room);
        let step = 7.0 * MM;
        let mut y = 84.0 * MM + step * (lines.len() - 1) as f32;
        for line in lines {
            let size = self.fitting(line, ISSUER_SIZE, room, 0.0);
            self.centred(line, cx, y, size, ink(), 0.0);
            y -= step;
        }
        self.centred(page.issue_date, cx, 74.0 * MM, 14.0, ink(), 0.0);

        // The QR code (painted later as an image mask), lower left, its caption, and what to
        // type when it will not scan.
        let (qr_x, _, qr_side) = qr_box(qr_width);
        self.centred(
            "扫码验证",
            qr_x + qr_side / 2.0,
            CAPTION_BASELINE,
            10.0,
            grey(),
            0.2,
        );
        self.verification(page);

        // The number, bottom right. The signing key's id is for machines: it is in the QR
        // payload, not on the paper (issue 21).
        let number = format!("证书编号 {}", page.number);
        let number_size = self.fitting(&number, 11.0, 95.0 * MM, 0.0);
        self.centred(&number, cx, 44.0 * MM, number_size, ink(), 0.0);
        self.ops
    }
}

/// The body sentence, for a micro-competency certificate (its achievement starts with a
/// code such as `B2`) or a level certificate.
fn body_pieces(page: &CertificatePage<'_>) -> Vec<(Style, String)> {
    let school = if page.county.is_empty() || page.school.starts_with(page.county) {
        page.school.to_owned()
    } else {
        format!("{}{}", page.county, page.school)
    };
    let extra = page
        .credits_or_hours
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!("（{}）", s.trim()))
        .unwrap_or_default();
    let plain = |s: String| (Style::Plain, s);
    let strong = |s: &str| (Style::Strong, s.to_owned());
    if is_micro_competency(page.achievement) {
        vec![
            plain(format!(
                "您作为{school}教师，参加信息技术应用能力提升工程2.0 微能力认证，所提交的"
            )),
            strong(&format!("“{}”", page.achievement.trim())),
            plain("能力点成果经考核，认定为".into()),
            strong(&format!("“{}”", page.grade)),
            plain(format!("{extra}，特发此证。")),
        ]
    } else {
        let achievement = page.achievement.trim();
        let subject = achievement
            .strip_suffix(page.grade)
            .map(str::trim_end)
            .filter(|s| !s.is_empty())
            .unwrap_or(achievement);
        vec![
            plain(format!(
                "您作为{school}教师，参加信息技术应用能力提升工程2.0 培训与测评，经考核，"
            )),
            strong(subject),
            plain("等级认定为".into()),
            strong(&format!("“{}”", page.grade)),
            plain(format!("{extra}，特发此证。")),
        ]
    }
}

/// `A1 …` to `C12 …`: the code of a micro-competency.
fn is_micro_competency(achievement: &str) -> bool {
    let mut chars = achievement.trim().chars();
    matches!(chars.next(), Some('A'..='Z'))
        && matches!(chars.next(), Some('0'..='9'))
        && chars
            .take_while(|c| !c.is_whitespace())
            .all(|c| c.is_ascii_digit())
}

/// Splits text into what a line may not break inside: runs of Latin letters, digits and
/// the marks inside numbers and codes stay whole, each other character stands alone, and
/// closing punctuation sticks to what precedes it (opening to what follows).
fn tokens(pieces: &[(Style, String)]) -> Vec<(Style, String)> {
    const CLOSING: &str = "，。、；：！？）」』”’》】…";
    const OPENING: &str = "（「『“‘《【";
    let keeps_together =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '*' | '-' | '.' | '/' | '#' | '_');
    let mut out: Vec<(Style, String)> = Vec::new();
    let mut open_pending: Option<(Style, String)> = None;
    for (style, text) in pieces {
        // A short quoted or bracketed piece (“合格”) never breaks.
        if text.chars().next().is_some_and(|c| OPENING.contains(c)) && text.chars().count() <= 6 {
            out.push((*style, text.clone()));
            continue;
        }
        for c in text.chars() {
            // A number sticks to the word before it ("工程2.0").
            let glue_to_previous = CLOSING.contains(c)
                || (c.is_ascii_digit()
                    && open_pending.is_none()
                    && out.last().is_some_and(|(_, t)| {
                        t.chars().last().is_some_and(|p| !p.is_whitespace())
                    }))
                || (keeps_together(c)
                    && out
                        .last()
                        .is_some_and(|(_, t)| t.chars().last().is_some_and(keeps_together))
                    && open_pending.is_none());
            if glue_to_previous && let Some((_, last)) = out.last_mut() {
                last.push(c);
                continue;
            }
            let mut token = open_pending.take().map(|(_, t)| t).unwrap_or_default();
            token.push(c);
            if OPENING.contains(c) {
                open_pending = Some((*style, token));
            } else {
                out.push((*style, token));
            }
        }
    }
    if let Some(pending) = open_pending {
        out.push(pending);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::font::Fonts;

    /// Every text the page draws: its text, size and box (left, bottom, right, top) in points,
    /// from the font's advances and generous vertical bounds (a quarter em below the baseline,
    /// 0.95 em above).
    fn text_boxes(face: &Face, ops: &[Op]) -> Vec<(String, f32, [f32; 4])> {
        let mut boxes = Vec::new();
        let (mut size, mut x, mut y) = (0.0, 0.0, 0.0);
        let (mut text, mut width) = (String::new(), 0.0);
        for op in ops {
            match op {
                Op::SetFont { size: Pt(s), .. } => size = *s,
                Op::SetTextMatrix {
                    matrix: TextMatrix::Translate(Pt(tx), Pt(ty)),
                } => (x, y) = (*tx, *ty),
                Op::ShowText { items } => {
                    for item in items {
                        match item {
                            TextItem::Text(t) => {
                                width += t.chars().map(|c| face.advance_em(c)).sum::<f32>() * size;
                                text.push_str(t);
                            }
                            TextItem::Offset(o) => width -= o / 1000.0 * size,
                            _ => {}
                        }
                    }
                }
                Op::EndTextSection if !text.is_empty() => {
                    let b = [x, y - 0.25 * size, x + width, y + 0.95 * size];
                    boxes.push((std::mem::take(&mut text), size, b));
                    width = 0.0;
                }
                _ => {}
            }
        }
        boxes
    }

    fn overlap(a: &[f32; 4], b: &[f32; 4]) -> bool {
        a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
    }

    /// The longest page: the region office's name, a long school, the largest QR code, a
    /// 40-character address of wide letters.
    fn longest(face: &Face, address: &str, code: &str) -> (Vec<(String, f32, [f32; 4])>, usize) {
        let width = 17 + 4 * usize::try_from(crate::MAX_QR_VERSION).unwrap();
        let page = CertificatePage {
            teacher_name: "马哈麦提·艾力·买买提",
            school: "宁夏回族自治区银川市兴庆区第二十一小学（北校区）附属幼儿园分园",
            county: "兴庆区",
            issuer: "宁夏回族自治区教育厅能力提升2.0办公室",
            number: "640104-2026-012345",
            verification_address: address,
            verification_code: code,
            ..crate::sample_page()
        };
        let ops = Composer::new(face, FontId("F1".into())).compose(&page, width);
        (text_boxes(face, &ops), width)
    }

    #[test]
    fn the_qr_code_its_quiet_zone_and_the_lines_under_it_collide_with_nothing() {
        let fonts = Fonts::load().unwrap();
        let address = "W".repeat(40);
        let (boxes, width) = longest(&fonts.full, &address, "WMWMW-WMWMW");
        let (x, y, side) = qr_box(width);
        let quiet = QR_QUIET_ZONE * QR_MODULE;
        let qr = [x - quiet, y - quiet, x + side + quiet, y + side + quiet];
        // Inside the inner frame (13 mm) and clear of the corner diamonds (17 mm ± 2.4 mm).
        let frame = [13.0 * MM, 13.0 * MM, PAGE_W - 13.0 * MM, PAGE_H - 13.0 * MM];
        let d = |cx: f32, cy: f32| [cx - 2.4 * MM, cy - 2.4 * MM, cx + 2.4 * MM, cy + 2.4 * MM];
        let (near, far) = (17.0 * MM, PAGE_W - 17.0 * MM);
        let diamonds = [
            d(near, near),
            d(far, near),
            d(near, PAGE_H - near),
            d(far, PAGE_H - near),
        ];
        let mut drawn = vec![("the QR code".to_owned(), qr)];
        drawn.extend(boxes.iter().map(|(t, _, b)| (t.clone(), *b)));
        for (i, (text, b)) in drawn.iter().enumerate() {
            assert!(
                b[0] > frame[0] && b[1] > frame[1] && b[2] < frame[2] && b[3] < frame[3],
                "{text} {b:?} leaves the frame"
            );
            for diamond in &diamonds {
                assert!(!overlap(b, diamond), "{text} {b:?} meets a diamond");
            }
            for (other, c) in &drawn[i + 1..] {
                assert!(!overlap(b, c), "{text} {b:?} meets {other} {c:?}");
            }
        }
        // Both lines are printed, their values at full size.
        let value = |v: &str| boxes.iter().find(|(t, _, _)| t == v).map(|(_, s, _)| *s);
        assert_eq!(value(&address), Some(ADDRESS_SIZE));
        assert_eq!(value("WMWMW-WMWMW"), Some(CODE_SIZE));
        assert!(value(ADDRESS_LABEL).is_some() && value(CODE_LABEL).is_some());
    }

    #[test]
    fn a_long_issuer_keeps_clear_of_the_frame_at_a_size_an_office_would_print() {
        let fonts = Fonts::load().unwrap();
        let (boxes, _) = longest(&fonts.full, "tica.nx.gov.cn/v", "7K3MQ-X9PDA");
        // The region office's name, in however many lines it is set: each at 13 pt or more,
        // and at least 10 mm inside the inner frame (13 mm from the edge), as the date is.
        let issuer: Vec<_> = boxes
            .iter()
            .filter(|(t, _, _)| "宁夏回族自治区教育厅能力提升2.0办公室".contains(t.as_str()))
            .filter(|(t, _, _)| t.chars().count() > 2)
            .collect();
        let printed: String = issuer.iter().map(|(t, _, _)| t.as_str()).collect();
        assert_eq!(printed, "宁夏回族自治区教育厅能力提升2.0办公室");
        for (text, size, b) in &issuer {
            assert!(*size >= 13.0, "{text} at {size} pt");
            let clearance = (PAGE_W - 13.0 * MM - b[2]) / MM;
            assert!(
                clearance >= 10.0,
                "{text} ends {clearance:.1} mm from the frame"
            );
        }
    }

    #[test]
    fn an_empty_verification_field_leaves_its_line_out() {
        let fonts = Fonts::load().unwrap();
        let texts = |address: &str, code: &str| -> Vec<(String, f32)> {
            longest(&fonts.full, address, code)
                .0
                .into_iter()
                // The baseline, to a hundredth of a point.
                .map(|(t, _, b)| (t, ((b[1] + 0.25 * LABEL_SIZE) * 100.0).round() / 100.0))
                .filter(|(t, _)| t == ADDRESS_LABEL || t == CODE_LABEL)
                .collect()
        };
        assert_eq!(texts("", ""), vec![]);
        // The n-th line's baseline under the caption, to a hundredth of a point.
        let line = |n: f32| ((CAPTION_BASELINE - n * LINE_STEP) * 100.0).round() / 100.0;
        // The code alone takes the first line's place.
        assert_eq!(
            texts("", "7K3MQ-X9PDA"),
            vec![(CODE_LABEL.to_owned(), line(1.0))]
        );
        assert_eq!(
            texts("verify.ahedu.gov.cn/v", "7K3MQ-X9PDA"),
            vec![
                (ADDRESS_LABEL.to_owned(), line(1.0)),
                (CODE_LABEL.to_owned(), line(2.0))
            ]
        );
    }

    #[test]
    fn codes_and_numbers_are_not_split_and_closing_marks_stay_on_the_line() {
        let t = tokens(&[(Style::Plain, "证号 6401**12X），工程2.0 “B2 好”".into())]);
        let texts: Vec<&str> = t.iter().map(|(_, s)| s.as_str()).collect();
        assert!(texts.contains(&"6401**12X），"), "{texts:?}");
        assert!(texts.contains(&"程2.0"), "{texts:?}");
        assert!(texts.contains(&"“B2"), "{texts:?}");
        assert!(texts.contains(&"好”"), "{texts:?}");
    }

    #[test]
    fn a_micro_competency_is_recognised_by_its_code() {
        assert!(is_micro_competency("B2 微课程设计与制作"));
        assert!(is_micro_competency("A12 家校交流与合作"));
        assert!(!is_micro_competency("信息技术应用能力 合格"));
    }
}
