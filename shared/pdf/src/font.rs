//! The shipped font, parsed once: the whole face and a pre-cut copy holding only the
//! characters certificates usually need, so that subsetting at save time reads small tables.

use std::collections::BTreeMap;

use printpdf::ParsedFont;

use crate::PdfError;

/// WenQuanYi Micro Hei, face 0 of `wqy-microhei.ttc`, as a standalone TrueType file
/// (see `assets/README.md`).
pub(crate) const FONT_BYTES: &[u8] = include_bytes!("../assets/wqy-microhei-face0.ttf");

/// HanaMinB (花園明朝B) cut to the supplementary-plane ideographs of the character sets made
/// for personal names (HKSCS-2008, JIS X 0213), which WenQuanYi Micro Hei lacks (see
/// `assets/README.md`): text falls back to it character by character.
pub(crate) const FALLBACK_BYTES: &[u8] = include_bytes!("../assets/hanamin-b-names.ttf");

/// The one rule of what prints: a character prints when it is not a control character and
/// the main face or the fallback face has a glyph for it.
pub(crate) fn prints(main: &Face, fallback: &Face, c: char) -> bool {
    !c.is_control() && (main.glyph(c).is_some() || fallback.glyph(c).is_some())
}

/// Parses one shipped font.
fn parse(bytes: &[u8], what: &str) -> Result<Face, PdfError> {
    let mut warnings = Vec::new();
    ParsedFont::from_bytes(bytes, 0, &mut warnings)
        .map(Face::new)
        .ok_or_else(|| PdfError::Render(format!("the shipped {what} font does not parse")))
}

/// The whole main face and the fallback face, parsed once per process, for
/// [`crate::unprintable`].
pub(crate) fn shipped() -> Result<&'static (Face, Face), PdfError> {
    static SHIPPED: std::sync::OnceLock<Result<(Face, Face), String>> = std::sync::OnceLock::new();
    SHIPPED
        .get_or_init(|| {
            let main = parse(FONT_BYTES, "main").map_err(|e| e.to_string())?;
            let fallback = parse(FALLBACK_BYTES, "fallback").map_err(|e| e.to_string())?;
            Ok((main, fallback))
        })
        .as_ref()
        .map_err(|e| PdfError::Render(e.clone()))
}

/// The characters of the pre-cut font: printable ASCII, the GB 2312 repertoire (its symbol
/// rows and both levels of hanzi, 7,445 characters) and a few typographic marks. A name or
/// school outside it (喆, 堃, 燊, …) makes the page use the whole face instead.
fn common_characters() -> Vec<char> {
    let mut chars: Vec<char> = (0x20u8..=0x7e).map(char::from).collect();
    chars.extend("「」『』（）：，。；！？、·—…“”‘’《》【】〔〕".chars());
    let mut decoder_input = Vec::with_capacity(2 * 94 * 87);
    for row in 0xa1u8..=0xf7 {
        for cell in 0xa1u8..=0xfe {
            decoder_input.extend_from_slice(&[row, cell]);
        }
    }
    let (decoded, _, _) = encoding_rs::GBK.decode(&decoder_input);
    chars.extend(
        decoded
            .chars()
            .filter(|c| *c != '\u{fffd}' && !c.is_ascii()),
    );
    chars.sort_unstable();
    chars.dedup();
    chars
}

/// One parsed face with what the layout needs to measure text.
#[derive(Debug)]
pub(crate) struct Face {
    pub(crate) parsed: ParsedFont,
    units_per_em: f32,
}

impl Face {
    fn new(parsed: ParsedFont) -> Self {
        let units_per_em = f32::from(parsed.pdf_font_metrics.units_per_em.max(1));
        Self {
            parsed,
            units_per_em,
        }
    }

    /// The glyph of `c`, None when the face has none.
    pub(crate) fn glyph(&self, c: char) -> Option<u16> {
        self.parsed
            .lookup_glyph_index(u32::from(c))
            .filter(|gid| *gid != 0)
    }

    /// The advance of `c` in ems (0 for a character the face lacks).
    pub(crate) fn advance_em(&self, c: char) -> f32 {
        self.glyph(c).map_or(0.0, |gid| {
            f32::from(self.parsed.get_horizontal_advance(gid)) / self.units_per_em
        })
    }
}

/// The whole face, the pre-cut one and the fallback for rare name characters.
#[derive(Debug)]
pub(crate) struct Fonts {
    pub(crate) full: Face,
    pub(crate) common: Face,
    pub(crate) fallback: Face,
}

impl Fonts {
    pub(crate) fn load() -> Result<Self, PdfError> {
        let mut warnings = Vec::new();
        let full = parse(FONT_BYTES, "main")?;
        let used: BTreeMap<u16, String> = common_characters()
            .into_iter()
            .filter_map(|c| full.glyph(c).map(|gid| (gid, c.to_string())))
            .collect();
        let cut = printpdf::subset_font(&full.parsed, &used)
            .map_err(|e| PdfError::Render(format!("pre-cutting the font: {e}")))?;
        let common = ParsedFont::from_bytes(&cut.bytes, 0, &mut warnings)
            .ok_or_else(|| PdfError::Render("the pre-cut font does not parse".into()))?;
        Ok(Self {
            full,
            common: Face::new(common),
            fallback: parse(FALLBACK_BYTES, "fallback")?,
        })
    }
}
