//! The certificate PDF: one A4 page in Chinese, signed by a county education bureau.
//!
//! - The font ships with the crate (WenQuanYi Micro Hei, Apache-2.0, `assets/`) and is
//!   embedded as a subset (CID TrueType, Identity-H) of exactly the glyphs the page uses.
//!   Rare name characters outside the Basic Multilingual Plane (CJK Extension B: 𠀀, …)
//!   fall back, character by character, to a cut of HanaMinB (Hanazono Font License,
//!   `assets/`), embedded as its own subset. A character neither font has is refused
//!   ([`PdfError::MissingGlyph`]), never printed as a box; [`unprintable`] is the same check
//!   for text before it is stored.
//! - The QR code is a 1-bit image mask at error correction level Q, version 16 at most (19 for
//!   a payload signed with SM2 too, issue 18): the
//!   constants of `tica_credential::qr` ([`QR_EC_LEVEL`], [`MAX_QR_VERSION`]), by which the
//!   service sizes the text too, so that every text it accepts prints. Modules are 3/100 inch
//!   (0.762 mm) from a fixed lower left corner a whole number of hundredths of an inch from the
//!   page's top left: whole device pixels at 100, 200, 300 and 600 dpi, never grey seams. A
//!   typical certificate's code is version 13 (52.6 mm), the largest 61.7 mm (dual-signed: 16,
//!   61.7 mm, and 19, 70.9 mm); `tests/scan.rs`
//!   decodes them with `zbarimg` from a 100-dpi render and from 150-dpi renders blurred by 1 px,
//!   turned by 3° or saved as a quality-30 JPEG (a 40 mm code at 0.5 mm modules failed the blur).
//! - Under its caption (扫码验证), for when it will not scan: the verification address and code
//!   ([`CertificatePage::verification_address`], [`CertificatePage::verification_code`]); an
//!   empty one leaves its line out.
//! - The QR text is also carried in the document information (`/Subject (TICA-QR:…)`), which
//!   [`embedded_qr_text`] reads back without a PDF parser.
//! - The same page gives the same bytes: the document id, the subset tag and the dates are
//!   derived from the page.
//! - Speed: the font is parsed once in [`Renderer::new`], together with a pre-cut copy
//!   (GB 2312 and ASCII) that pages without rare characters subset from; streams are
//!   compressed at a lighter level than printpdf's default save.
//! - With the `report` feature, [`report`] renders the county summary (key figures and
//!   charts drawn by plotters as vectors in the same font).

use std::io::Write as _;

use printpdf::{FontId, Mm, PdfDocument, PdfPage, PdfSaveOptions, PdfWarnMsg};

mod font;
mod layout;
mod qr;
pub mod reference;
#[cfg(feature = "report")]
pub mod report;
mod seal;

pub use qr::{MAX_QR_VERSION, QR_EC_LEVEL};
pub use seal::{MAX_SEAL_BYTES, MAX_SEAL_SIDE, Seal, test_seal_png};

/// The marker before the QR text in the document information's `/Subject`.
pub const QR_MARKER: &str = "TICA-QR:";

/// Deflate level for the font program: glyph outlines gain little from harder work (a 24 KB
/// subset: 15.7 KB at level 1, 15.2 KB at 6 for twice the time; lopdf's `compress` uses 9).
/// Not 1: where the workspace builds flate2 with its `zlib-rs` backend (the `zip` crate asks
/// for it, and features unify), level 1 is zlib-ng's "quick" strategy, which leaves the font
/// about 3 KB larger (a certificate of 27.9 KB instead of 24.5); level 2 is not.
const FONT_COMPRESSION: u32 = 2;
/// Deflate level for the page content and ToUnicode streams (repetitive text operators).
const CONTENT_COMPRESSION: u32 = 4;

/// What a certificate page prints. All strings are already final text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificatePage<'a> {
    /// The title, e.g. "信息技术应用能力提升工程2.0 微能力认证证书"; a space splits it into a
    /// smaller upper line and the large certificate name.
    pub title: &'a str,
    /// The teacher's name, e.g. "张喆".
    pub teacher_name: &'a str,
    /// The masked identity card number, e.g. "6401**********123X".
    pub id_number_masked: &'a str,
    /// The school, e.g. "泗县第一中学".
    pub school: &'a str,
    /// The county, e.g. "泗县" (printed before the school unless the school's name starts
    /// with it).
    pub county: &'a str,
    /// Micro-competency: "B2 微课程设计与制作" (a code first); level certificate:
    /// "信息技术应用能力 合格".
    pub achievement: &'a str,
    /// "合格" or "优秀".
    pub grade: &'a str,
    /// e.g. "学分 2" or "学时 50".
    pub credits_or_hours: Option<&'a str>,
    /// The issuing authority, e.g. "泗县教育体育局".
    pub issuer: &'a str,
    /// The issue date as printed, e.g. "2022年12月30日".
    pub issue_date: &'a str,
    /// The certificate number, e.g. "341324-2022-000123".
    pub number: &'a str,
    /// The QR content: uppercase letters, digits, `$%*+-./:` and `#`.
    pub qr_text: &'a str,
    /// The code to type on the verification page when the QR code will not scan, printed as
    /// given under the QR code after "验证码", e.g. "7K3MQ-X9PDA"; empty leaves the line out.
    pub verification_code: &'a str,
    /// Where to type it, printed as given after "查验网址", e.g. "verify.ahedu.gov.cn/v" (up to
    /// 40 characters print at full size); empty leaves the line out.
    pub verification_address: &'a str,
    /// The issuing office's seal, placed over the issuer and the date; `None` prints none.
    pub seal: Option<&'a Seal>,
}

/// Why a certificate was not rendered.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The shipped font has no glyph for this character.
    #[error("the certificate font has no glyph for {0:?} (U+{code:04X})", code = u32::from(*.0))]
    MissingGlyph(char),
    /// The QR text (this many characters) needs more than [`MAX_QR_VERSION`] at
    /// [`QR_EC_LEVEL`].
    #[error(
        "the QR text ({0} characters) does not fit a version {max} QR code at level {level:?}",
        max = MAX_QR_VERSION,
        level = QR_EC_LEVEL
    )]
    QrTooLong(usize),
    /// The QR text has a character outside `A–Z 0–9 $%*+-./:#`.
    #[error("the QR text has {0:?}, outside A-Z 0-9 $%*+-./: and #")]
    QrText(char),
    /// A seal image that cannot be used.
    #[error("the seal image: {0}")]
    Seal(String),
    /// printpdf or the serialisation failed.
    #[error("rendering the certificate PDF: {0}")]
    Render(String),
}

/// Renders certificates. The font is parsed once; share one renderer (`Send + Sync`).
#[derive(Debug)]
pub struct Renderer {
    fonts: font::Fonts,
}

impl Renderer {
    /// Loads the shipped font and pre-cuts the common-character copy (tens of ms, once).
    pub fn new() -> Result<Renderer, PdfError> {
        Ok(Renderer {
            fonts: font::Fonts::load()?,
        })
    }

    /// One certificate as PDF bytes; the same page always gives the same bytes.
    pub fn render(&self, page: &CertificatePage<'_>) -> Result<Vec<u8>, PdfError> {
        if let Some(c) = page.qr_text.chars().find(|c| !is_qr_char(*c)) {
            return Err(PdfError::QrText(c));
        }
        let printed = printed_text(page);
        let (face, falls_back) = self.face_for(&printed)?;
        let matrix = qr::encode(page.qr_text)?;

        let font_id = FontId(subset_tag(&printed));
        let mut composer = layout::Composer::new(face, font_id.clone());
        let mut doc = PdfDocument::new(page.title);
        // Each font's resource name (its subset tag) and the face its program is cut from.
        let mut embedded = vec![(font_id.0.clone(), face)];
        if falls_back {
            // Its own subset tag, from the same characters.
            let fallback_id = FontId(subset_tag(&format!("fallback {printed}")));
            composer = composer.with_fallback(&self.fonts.fallback, fallback_id.clone());
            embedded.push((fallback_id.0.clone(), &self.fonts.fallback));
            doc.resources
                .fonts
                .map
                .insert(fallback_id, self.fonts.fallback.for_page.clone());
        }
        let ops = composer.compose(page, matrix.width);
        doc.resources
            .fonts
            .map
            .insert(font_id, face.for_page.clone());
        doc.pages.push(PdfPage::new(Mm(210.0), Mm(297.0), ops));
        let options = PdfSaveOptions {
            optimize: false,
            subset_fonts: false,
            secure: true,
            image_optimization: None,
        };
        let mut warnings: Vec<PdfWarnMsg> = Vec::new();
        let mut lo = doc.to_lopdf_document(&options, &mut warnings);
        embed_subsets(&mut lo, &embedded)?;
        finish(&mut lo, page, &matrix)?;
        let mut out = Vec::with_capacity(24 * 1024);
        lo.save_to(&mut out)
            .map_err(|e| PdfError::Render(format!("writing the PDF: {e}")))?;
        Ok(out)
    }

    /// The pre-cut face when it has every character, else the whole face, and whether some
    /// character needs the fallback face; a character neither face has is refused.
    fn face_for(&self, printed: &str) -> Result<(&font::Face, bool), PdfError> {
        let mut common = true;
        let mut falls_back = false;
        for c in printed.chars() {
            if common && self.fonts.common.glyph(c).is_some() {
                continue;
            }
            common = false;
            if !font::prints(&self.fonts.full, &self.fonts.fallback, c) {
                return Err(PdfError::MissingGlyph(c));
            }
            falls_back |= self.fonts.full.glyph(c).is_none();
        }
        let face = if common {
            &self.fonts.common
        } else {
            &self.fonts.full
        };
        Ok((face, falls_back))
    }
}

/// The first character of `text` that no certificate can print (a control character, or
/// one neither the main font nor the fallback for rare name characters has), None when all
/// of it prints. What stores text that a certificate will print checks it here first, so
/// that a value accepted today never stops an issuance run; [`describe`] names the
/// character for a person. The fonts are parsed once per process (tens of ms).
pub fn unprintable(text: &str) -> Option<char> {
    match font::shipped() {
        Ok((main, fallback)) => text.chars().find(|c| !font::prints(main, fallback, *c)),
        // The shipped fonts always parse (a test renders with them); if they did not,
        // nothing would print.
        Err(_) => text.chars().next(),
    }
}

/// A character as a person can find it: `U+1F600 😀` (a control character by its code
/// point only).
pub fn describe(c: char) -> String {
    if c.is_control() {
        format!("U+{:04X}", u32::from(c))
    } else {
        format!("U+{:04X} {c}", u32::from(c))
    }
}

/// Everything the page prints, in one string (for the glyph check and the subset tag).
fn printed_text(page: &CertificatePage<'_>) -> String {
    let mut s = String::with_capacity(512);
    for part in [
        page.title,
        page.teacher_name,
        page.id_number_masked,
        page.school,
        page.county,
        page.achievement,
        page.grade,
        page.credits_or_hours.unwrap_or(""),
        page.issuer,
        page.issue_date,
        page.number,
        page.verification_code,
        page.verification_address,
        // The fixed wording of both kinds of certificate (see layout.rs).
        "老师（身份证号）：您作为教师，参加信息技术应用能力提升工程2.0 微能力认证，所提交的“”\
         能力点成果经考核，认定为培训与测评等级特发此证。扫码验证证书编号查验网址验证码",
    ] {
        s.push_str(part);
    }
    s.retain(|c| !c.is_whitespace() || c == ' ');
    s
}

fn is_qr_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || "$%*+-./: #".contains(c)
}

/// FNV-1a, 64 bits: a stable hash for ids (not for security).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Six capitals from the set of printed characters: the font's subset tag (and resource
/// name), the same for the same glyphs.
fn subset_tag(printed: &str) -> String {
    let mut chars: Vec<char> = printed.chars().collect();
    chars.sort_unstable();
    chars.dedup();
    let joined: String = chars.into_iter().collect();
    let mut h = fnv1a(joined.as_bytes());
    (0..6)
        .map(|_| {
            let c = char::from(b'A' + (h % 26) as u8);
            h /= 26;
            c
        })
        .collect()
}

/// `2022年12月30日` → `D:20221230000000+08'00'`; None when the date is not in that form.
fn pdf_date(issue_date: &str) -> Option<String> {
    let (y, rest) = issue_date.trim().split_once('年')?;
    let (m, rest) = rest.split_once('月')?;
    let d = rest.strip_suffix('日')?;
    let (y, m, d): (u16, u8, u8) = (y.parse().ok()?, m.parse().ok()?, d.parse().ok()?);
    ((1..=12).contains(&m) && (1..=31).contains(&d))
        .then(|| format!("D:{y:04}{m:02}{d:02}000000+08'00'"))
}

/// The seal as an image XObject (8-bit RGB, its alpha a soft mask), its streams compressed
/// already ([`Seal::from_png`]).
fn seal_image(doc: &mut lopdf::Document, seal: &Seal) -> lopdf::ObjectId {
    use lopdf::{Dictionary, Object};
    let image = |space: &str, data: &[u8]| {
        let mut d = Dictionary::new();
        d.set("Type", Object::Name(b"XObject".to_vec()));
        d.set("Subtype", Object::Name(b"Image".to_vec()));
        d.set("Width", i64::from(seal.width));
        d.set("Height", i64::from(seal.height));
        d.set("ColorSpace", Object::Name(space.as_bytes().to_vec()));
        d.set("BitsPerComponent", 8);
        d.set("Filter", Object::Name(b"FlateDecode".to_vec()));
        lopdf::Stream::new(d, data.to_vec()).with_compression(false)
    };
    let mut rgb = image("DeviceRGB", &seal.rgb);
    if let Some(alpha) = &seal.alpha {
        let mask = doc.add_object(image("DeviceGray", alpha));
        rgb.dict.set("SMask", Object::Reference(mask));
    }
    doc.add_object(rgb)
}

/// Gives each font printpdf wrote (without a program: its face has no source bytes) the
/// program of the glyphs its `/W` array lists, cut from `faces` ([`font::Sfnt::subset`]: the
/// glyphs numbered compactly, the page's codes taken to them by a `/CIDToGIDMap` stream), and
/// the subset tag on its names (ISO 32000-1, 9.6.4): `faces` are the resource names (six
/// capitals, the tag) and their faces.
fn embed_subsets(
    doc: &mut lopdf::Document,
    faces: &[(String, &font::Face)],
) -> Result<(), PdfError> {
    use lopdf::{Dictionary, Object};
    let bad = |what: &str| PdfError::Render(format!("the page's fonts: {what}"));
    let page_id = *doc
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| bad("no page"))?;
    let resources = match doc
        .get_dictionary(page_id)
        .and_then(|d| d.get(b"Resources"))
    {
        Ok(Object::Reference(id)) => doc.get_dictionary(*id),
        Ok(Object::Dictionary(d)) => Ok(d),
        _ => return Err(bad("no resources")),
    }
    .map_err(|_| bad("no resources"))?;
    let fonts = match resources.get(b"Font") {
        Ok(Object::Reference(id)) => doc
            .get_dictionary(*id)
            .map_err(|_| bad("no font dictionary"))?,
        Ok(Object::Dictionary(d)) => d,
        _ => return Err(bad("no font dictionary")),
    };
    let mut found = Vec::with_capacity(faces.len());
    for (name, face) in faces {
        let id = fonts
            .get(name.as_bytes())
            .and_then(Object::as_reference)
            .map_err(|_| bad("a font is not written"))?;
        found.push((id, name, *face));
    }
    for (font_id, tag, face) in found {
        let type0 = doc.get_dictionary(font_id).map_err(|_| bad("a font"))?;
        let descendant = match type0.get(b"DescendantFonts") {
            Ok(Object::Array(a)) => match a.first() {
                Some(Object::Dictionary(d)) => d.clone(),
                _ => return Err(bad("no descendant font")),
            },
            _ => return Err(bad("no descendant font")),
        };
        // The glyphs printpdf found on the page, and their widths in thousandths of an em as
        // printpdf computes them for a subset (it cannot read them from a face without its
        // bytes).
        let mut used = Vec::with_capacity(128);
        let mut widths = Vec::with_capacity(8);
        let scale = 1000.0 / face.units_per_em;
        if let Ok(Object::Array(w)) = descendant.get(b"W") {
            for pair in w.chunks(2) {
                if let [Object::Integer(start), Object::Array(run)] = pair {
                    let gids: Vec<u16> = (0..run.len() as i64)
                        .filter_map(|k| u16::try_from(start + k).ok())
                        .collect();
                    widths.push(Object::Integer(*start));
                    widths.push(Object::Array(
                        gids.iter()
                            .map(|g| {
                                Object::Integer((f32::from(face.sfnt.advance(*g)) * scale) as i64)
                            })
                            .collect(),
                    ));
                    used.extend(gids);
                }
            }
        }
        let descriptor_id = descendant
            .get(b"FontDescriptor")
            .and_then(Object::as_reference)
            .map_err(|_| bad("no font descriptor"))?;
        let (program, cid_to_gid) = face.sfnt.subset(used);
        let mut stream = Dictionary::new();
        stream.set("Length1", program.len() as i64);
        let program_id = doc.add_object(lopdf::Stream::new(stream, program));
        let map_id = doc.add_object(lopdf::Stream::new(Dictionary::new(), cid_to_gid));
        let tagged = |d: &mut Dictionary, key: &[u8]| {
            if let Ok(Object::Name(n)) = d.get(key) {
                let mut name = format!("{tag}+").into_bytes();
                name.extend_from_slice(n);
                d.set(key, Object::Name(name));
            }
        };
        let descriptor = doc
            .get_object_mut(descriptor_id)
            .and_then(Object::as_dict_mut)
            .map_err(|_| bad("no font descriptor"))?;
        descriptor.set("FontFile2", Object::Reference(program_id));
        tagged(descriptor, b"FontName");
        let type0 = doc
            .get_object_mut(font_id)
            .and_then(Object::as_dict_mut)
            .map_err(|_| bad("a font"))?;
        tagged(type0, b"BaseFont");
        if let Ok(Object::Array(a)) = type0.get_mut(b"DescendantFonts")
            && let Some(Object::Dictionary(d)) = a.first_mut()
        {
            tagged(d, b"BaseFont");
            d.set("W", Object::Array(widths));
            d.set("CIDToGIDMap", Object::Reference(map_id));
        }
    }
    Ok(())
}

/// Deterministic trailer and information, lighter compression.
fn finish(
    doc: &mut lopdf::Document,
    page: &CertificatePage<'_>,
    matrix: &qr::Matrix,
) -> Result<(), PdfError> {
    use lopdf::{Dictionary, Object, StringFormat};

    // The QR code: a 1-bit image mask, drawn from the page's content stream.
    let page_id = *doc
        .get_pages()
        .values()
        .next()
        .ok_or_else(|| PdfError::Render("no page".into()))?;
    let mut mask = Dictionary::new();
    mask.set("Type", Object::Name(b"XObject".to_vec()));
    mask.set("Subtype", Object::Name(b"Image".to_vec()));
    mask.set("Width", matrix.width as i64);
    mask.set("Height", matrix.width as i64);
    mask.set("ImageMask", true);
    mask.set("BitsPerComponent", 1);
    let mask_id = doc.add_object(lopdf::Stream::new(mask, layout::qr_mask(matrix)));
    let resources_id = match doc
        .get_dictionary(page_id)
        .and_then(|d| d.get(b"Resources"))
        .map_err(|e| PdfError::Render(format!("no page resources: {e}")))?
    {
        Object::Reference(id) => *id,
        _ => {
            return Err(PdfError::Render(
                "the page resources are not an indirect dictionary".into(),
            ));
        }
    };
    let mut xobjects = match doc
        .get_dictionary(resources_id)
        .and_then(|r| r.get(b"XObject"))
    {
        Ok(Object::Dictionary(d)) => d.clone(),
        _ => Dictionary::new(),
    };
    xobjects.set("TicaQr", Object::Reference(mask_id));
    let mut placed = layout::qr_placement("TicaQr", matrix.width);
    if let Some(seal) = page.seal {
        xobjects.set("TicaSeal", Object::Reference(seal_image(doc, seal)));
        placed.extend(layout::seal_placement("TicaSeal", seal.aspect()));
    }
    let resources = doc
        .get_object_mut(resources_id)
        .and_then(Object::as_dict_mut)
        .map_err(|e| PdfError::Render(format!("the page resources: {e}")))?;
    resources.set("XObject", Object::Dictionary(xobjects));
    let qr = placed;
    let contents = doc
        .get_dictionary(page_id)
        .and_then(|d| d.get(b"Contents"))
        .and_then(Object::as_reference)
        .map_err(|e| PdfError::Render(format!("no page contents: {e}")))?;
    match doc.objects.get_mut(&contents) {
        Some(Object::Stream(stream)) => stream.content.extend_from_slice(&qr),
        _ => {
            return Err(PdfError::Render(
                "the page contents are not a stream".into(),
            ));
        }
    }

    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object {
            if stream.dict.has(b"Filter") || stream.content.len() < 64 {
                continue;
            }
            let mut z = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(stream.content.len() / 2),
                flate2::Compression::new(if stream.dict.has(b"Length1") {
                    FONT_COMPRESSION
                } else {
                    CONTENT_COMPRESSION
                }),
            );
            z.write_all(&stream.content)
                .map_err(|e| PdfError::Render(e.to_string()))?;
            let compressed = z.finish().map_err(|e| PdfError::Render(e.to_string()))?;
            if compressed.len() < stream.content.len() {
                stream.dict.set("Filter", "FlateDecode");
                stream.set_content(compressed);
            }
        }
    }

    let date = pdf_date(page.issue_date).unwrap_or_else(|| "D:20000101000000+08'00'".into());
    let utf16 = |s: &str| {
        let mut bytes = vec![0xfe, 0xff];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    };
    let ascii = |s: String| Object::String(s.into_bytes(), StringFormat::Literal);
    let info = lopdf::Dictionary::from_iter(vec![
        ("Title", utf16(&format!("{} {}", page.title, page.number))),
        ("Author", utf16(page.issuer)),
        ("Subject", ascii(format!("{QR_MARKER}{}", page.qr_text))),
        ("Keywords", ascii(page.number.to_owned())),
        ("Creator", ascii("TICA".into())),
        ("Producer", ascii("tica-pdf (printpdf)".into())),
        ("CreationDate", ascii(date.clone())),
        ("ModDate", ascii(date)),
    ]);
    let info_id = doc
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .map_err(|e| PdfError::Render(format!("no document information: {e}")))?;
    doc.objects.insert(info_id, Object::Dictionary(info));

    let mut id = fnv1a(page.number.as_bytes()).to_be_bytes().to_vec();
    id.extend_from_slice(&fnv1a(page.qr_text.as_bytes()).to_be_bytes());
    let id = Object::String(id, StringFormat::Hexadecimal);
    doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    Ok(())
}

/// The TrueType font `font` without the tables `drop` (tables kept verbatim, directory
/// rebuilt); None when it is not a TrueType font. The subset's `name` table (2.8 KB) and
/// `post` serve no purpose inside a PDF: the font is found by its /BaseFont, its glyphs by
/// CID (ISO 32000-1, 9.9: a CIDFontType2 program needs glyf, head, hhea, hmtx, loca, maxp
/// and the hinting tables).
#[cfg(feature = "report")]
fn without_tables(font: &[u8], drop: &[[u8; 4]]) -> Option<Vec<u8>> {
    let u16_at = |i: usize| Some(u16::from_be_bytes(font.get(i..i + 2)?.try_into().ok()?));
    let u32_at = |i: usize| Some(u32::from_be_bytes(font.get(i..i + 4)?.try_into().ok()?));
    if u32_at(0)? != 0x0001_0000 {
        return None;
    }
    let count = usize::from(u16_at(4)?);
    let mut kept = Vec::with_capacity(count);
    for i in 0..count {
        let entry = font.get(12 + 16 * i..28 + 16 * i)?;
        let tag: [u8; 4] = entry[..4].try_into().ok()?;
        if drop.contains(&tag) {
            continue;
        }
        let checksum = u32_at(12 + 16 * i + 4)?;
        let offset = u32_at(12 + 16 * i + 8)? as usize;
        let length = u32_at(12 + 16 * i + 12)? as usize;
        kept.push((tag, checksum, font.get(offset..offset + length)?));
    }
    Some(font::write_sfnt(&kept))
}

/// The QR text a certificate PDF carries in its document information (`/Subject
/// (TICA-QR:…)`, written uncompressed); None when absent.
pub fn embedded_qr_text(pdf: &[u8]) -> Option<String> {
    let marker = QR_MARKER.as_bytes();
    let start = pdf.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let rest = &pdf[start..];
    let end = rest.iter().position(|b| *b == b')')?;
    let text = std::str::from_utf8(&rest[..end]).ok()?;
    (!text.is_empty() && text.chars().all(is_qr_char)).then(|| text.to_owned())
}

/// A realistic micro-competency certificate page with a rare name character and a real
/// version-2 QR text (version 13 at level Q), for tests and the bench.
pub fn sample_page() -> CertificatePage<'static> {
    CertificatePage {
        title: "信息技术应用能力提升工程2.0 微能力认证证书",
        teacher_name: "张喆",
        id_number_masked: "6401**********123X",
        school: "泗县第一中学",
        county: "泗县",
        achievement: "B2 微课程设计与制作",
        grade: "合格",
        credits_or_hours: Some("学分 2"),
        issuer: "泗县教育体育局",
        issue_date: "2022年12月30日",
        number: "341324-2022-000123",
        qr_text: SAMPLE_QR,
        verification_code: "7K3MQ-X9PDA",
        verification_address: "verify.ahedu.gov.cn/v",
        seal: None,
    }
}

/// The sample page's QR text: `{BASE}/C/{ID}#{digits of the signed CBOR}`, made by
/// `tica_credential::qr::qr_text` from the page's facts with a test key (see the tests).
const SAMPLE_QR: &str = "HTTPS://VERIFY.AHEDU.GOV.CN/C/B2C4E1F07A9D4C3E8F615D2A9C#\
    3884620301311518613565989969998194144126097292134851412674098385310413564890560386501\
    3791604950788920111868309606246954118683097242141042164273882862127459316276410034018\
    1863232966282158361007282397105381596702161635904523973919061442648960619311585876423\
    1310220945796800368354220548136892696207618085549394217723335778704960123081139716504\
    226669279645134502549649606701551016637956";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issue_date_in_chinese_becomes_a_pdf_date() {
        assert_eq!(
            pdf_date("2022年12月30日").as_deref(),
            Some("D:20221230000000+08'00'")
        );
        assert_eq!(pdf_date("2022-12-30"), None);
    }

    #[test]
    fn the_sample_qr_text_is_a_genuine_version_2_payload_of_the_sample_page() {
        let page = sample_page();
        let claims = tica_credential::qr::QrClaims {
            version: 2,
            kid: "sx-2022-01".into(),
            id: "b2c4e1f07a9d4c3e8f615d2a9c".into(),
            number: page.number.into(),
            name: page.teacher_name.into(),
            id_masked: page.id_number_masked.into(),
            school: page.school.into(),
            competency: "B2".into(),
            grade: page.grade.into(),
            issuer: page.issuer.into(),
            issued: "2022-12-30".into(),
        };
        let key = ed25519_dalek::SigningKey::from_bytes(&[0x5a; 32]);
        let text =
            tica_credential::qr::qr_text("https://verify.ahedu.gov.cn", &claims, &key).unwrap();
        assert_eq!(SAMPLE_QR, text);
    }
}
