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
        .ok_or_else(|| PdfError::Render(format!("the shipped {what} font does not parse")))
        .and_then(Face::new)
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

/// One parsed face with what the layout needs to measure text, and what a page needs to
/// embed its subset quickly.
#[derive(Debug)]
pub(crate) struct Face {
    pub(crate) parsed: ParsedFont,
    /// The same face without its source bytes, for the page's printpdf document: printpdf
    /// then writes the font's dictionaries, widths and ToUnicode map (glyph ids unchanged)
    /// without subsetting, and [`Sfnt::subset`] supplies the font program.
    pub(crate) for_page: printpdf::PdfFont,
    /// The face's tables, for [`Sfnt::subset`].
    pub(crate) sfnt: Sfnt,
    pub(crate) units_per_em: f32,
}

impl Face {
    fn new(parsed: ParsedFont) -> Result<Self, PdfError> {
        let units_per_em = f32::from(parsed.pdf_font_metrics.units_per_em.max(1));
        let bytes = parsed
            .source_bytes()
            .ok_or_else(|| PdfError::Render("a shipped font lost its bytes".into()))?;
        let sfnt = Sfnt::new(bytes.as_slice().to_vec())
            .ok_or_else(|| PdfError::Render("a shipped font is not TrueType".into()))?;
        let mut bare = parsed.as_azul().clone();
        bare.original_bytes = None;
        let mut for_page = printpdf::PdfFont::new(ParsedFont::from_azul(bare));
        for_page.meta.embedding_mode = printpdf::FontEmbeddingMode::Full;
        for_page.meta.requires_subsetting = false;
        Ok(Self {
            parsed,
            for_page,
            sfnt,
            units_per_em,
        })
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
            common: Face::new(common)?,
            fallback: parse(FALLBACK_BYTES, "fallback")?,
        })
    }
}

/// A TrueType font's table directory, `loca` and `hmtx` read once, from which a page's font
/// program is cut in microseconds: the glyphs it uses (and the components of composite ones),
/// numbered compactly, with the `/CIDToGIDMap` that takes the face's glyph ids — the codes
/// printpdf writes in the content stream, `/W` and `/ToUnicode` — to them. What a PDF reads
/// of a CIDFontType2 program (ISO 32000-1, 9.9: glyf, head, hhea, hmtx, loca, maxp and the
/// hinting tables) is copied or rebuilt; `cmap`, `name` and `post` are left out (the glyphs
/// are found through the map, the font by `/BaseFont`).
#[derive(Debug)]
pub(crate) struct Sfnt {
    bytes: Vec<u8>,
    /// (tag, offset, length) in the directory's order (ascending tags).
    tables: Vec<([u8; 4], usize, usize)>,
    /// Glyph `g`'s outline is `glyf[loca[g]..loca[g + 1]]`.
    loca: Vec<u32>,
    glyf: usize,
    hmtx: usize,
    metrics: usize,
}

fn u16_at(bytes: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes(bytes.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(bytes: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(bytes.get(i..i + 4)?.try_into().ok()?))
}

/// The table checksum of the OpenType specification.
fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// A TrueType font file of `tables` (tag, checksum, data), in the order given (ascending tags):
/// the offset table, the table directory, then each table padded to four bytes.
pub(crate) fn write_sfnt(tables: &[([u8; 4], u32, &[u8])]) -> Vec<u8> {
    let n = tables.len() as u16;
    let selector = 15 - n.leading_zeros() as u16;
    let range = (1u16 << selector) * 16;
    let size: usize = tables
        .iter()
        .map(|(_, _, d)| d.len().next_multiple_of(4))
        .sum();
    let mut out = Vec::with_capacity(12 + 16 * tables.len() + size);
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for v in [n, range, selector, n * 16 - range] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    for (tag, checksum, data) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum.to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        offset += data.len().next_multiple_of(4);
    }
    for (_, _, data) in tables {
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(4), 0);
    }
    out
}

impl Sfnt {
    pub(crate) fn new(bytes: Vec<u8>) -> Option<Self> {
        if u32_at(&bytes, 0)? != 0x0001_0000 {
            return None;
        }
        let count = usize::from(u16_at(&bytes, 4)?);
        let mut tables = Vec::with_capacity(count);
        for i in 0..count {
            let entry = 12 + 16 * i;
            let tag: [u8; 4] = bytes.get(entry..entry + 4)?.try_into().ok()?;
            let offset = u32_at(&bytes, entry + 8)? as usize;
            let length = u32_at(&bytes, entry + 12)? as usize;
            bytes.get(offset..offset + length)?;
            tables.push((tag, offset, length));
        }
        let find = |tag: &[u8; 4]| tables.iter().find(|t| &t.0 == tag).map(|t| (t.1, t.2));
        let (head, _) = find(b"head")?;
        let (maxp, _) = find(b"maxp")?;
        let (hhea, _) = find(b"hhea")?;
        let (loca_at, _) = find(b"loca")?;
        let (glyf, glyf_len) = find(b"glyf")?;
        let (hmtx, hmtx_len) = find(b"hmtx")?;
        let glyphs = usize::from(u16_at(&bytes, maxp + 4)?);
        let long = u16_at(&bytes, head + 50)? == 1;
        let loca = (0..=glyphs)
            .map(|g| {
                if long {
                    u32_at(&bytes, loca_at + 4 * g)
                } else {
                    u16_at(&bytes, loca_at + 2 * g).map(|v| 2 * u32::from(v))
                }
            })
            .collect::<Option<Vec<u32>>>()?;
        if loca.windows(2).any(|w| w[0] > w[1]) || *loca.last()? as usize > glyf_len {
            return None;
        }
        let metrics = usize::from(u16_at(&bytes, hhea + 34)?);
        if metrics == 0 || hmtx_len < 4 * metrics + 2 * (glyphs.saturating_sub(metrics)) {
            return None;
        }
        Some(Self {
            bytes,
            tables,
            loca,
            glyf,
            hmtx,
            metrics,
        })
    }

    fn outline(&self, gid: usize) -> &[u8] {
        let (start, end) = (self.loca[gid] as usize, self.loca[gid + 1] as usize);
        &self.bytes[self.glyf + start..self.glyf + end]
    }

    /// The advance and left side bearing of glyph `gid` (raw bytes).
    fn metric(&self, gid: usize) -> [u8; 4] {
        let m = self.metrics;
        let advance = self.hmtx + 4 * gid.min(m - 1);
        let lsb = if gid < m {
            self.hmtx + 4 * gid + 2
        } else {
            self.hmtx + 4 * m + 2 * (gid - m)
        };
        let b = &self.bytes;
        [b[advance], b[advance + 1], b[lsb], b[lsb + 1]]
    }

    /// The advance width of glyph `gid` in font units (0 beyond the face).
    pub(crate) fn advance(&self, gid: u16) -> u16 {
        let g = usize::from(gid);
        if g + 1 >= self.loca.len() {
            return 0;
        }
        let m = self.metric(g);
        u16::from_be_bytes([m[0], m[1]])
    }

    /// Where a composite glyph's component ids are: the byte offsets of each component's
    /// glyph index in `data` (none for a simple or empty glyph).
    fn component_offsets(data: &[u8]) -> Vec<usize> {
        let mut offsets = Vec::new();
        if data.len() < 10 || i16::from_be_bytes([data[0], data[1]]) >= 0 {
            return offsets;
        }
        let mut at = 10;
        while let (Some(flags), Some(_)) = (u16_at(data, at), u16_at(data, at + 2)) {
            offsets.push(at + 2);
            at += 4 + if flags & 0x0001 != 0 { 4 } else { 2 };
            at += if flags & 0x0008 != 0 {
                2
            } else if flags & 0x0040 != 0 {
                4
            } else if flags & 0x0080 != 0 {
                8
            } else {
                0
            };
            if flags & 0x0020 == 0 {
                break;
            }
        }
        offsets
    }

    /// The glyphs a composite glyph is made of (none for a simple or empty one).
    fn components(&self, gid: usize, out: &mut Vec<u16>) {
        let data = self.outline(gid);
        out.extend(
            Self::component_offsets(data)
                .into_iter()
                .filter_map(|at| u16_at(data, at)),
        );
    }

    /// The font program of the glyphs `used` (and .notdef and the components of composite
    /// glyphs), numbered compactly in the order of their ids in the face (composites'
    /// components renumbered with them), and the `/CIDToGIDMap` that takes the page's codes —
    /// the face's glyph ids — to them: two big-endian bytes per code up to the highest used
    /// (ISO 32000-1, 9.7.4.2). Keeping the face's ids instead would leave `loca` and `hmtx`
    /// six bytes per glyph id below the highest used (some 1.8 KB a page once compressed);
    /// the map is two, and mostly zeros. Ids beyond the face are ignored.
    pub(crate) fn subset(&self, used: impl IntoIterator<Item = u16>) -> (Vec<u8>, Vec<u8>) {
        let glyphs = self.loca.len() - 1;
        let used: Vec<u16> = used
            .into_iter()
            .filter(|g| usize::from(*g) < glyphs)
            .collect();
        let mut keep = vec![false; glyphs];
        let mut todo: Vec<u16> = std::iter::once(0).chain(used.iter().copied()).collect();
        while let Some(gid) = todo.pop() {
            let g = usize::from(gid);
            if g < glyphs && !keep[g] {
                keep[g] = true;
                self.components(g, &mut todo);
            }
        }
        // The new id of every kept glyph: its rank among the kept, .notdef first.
        let mut renumbered = vec![0u16; glyphs];
        let mut count = 0usize;
        for (g, kept) in keep.iter().enumerate() {
            if *kept {
                renumbered[g] = count as u16;
                count += 1;
            }
        }
        let mut glyf = Vec::with_capacity(16 * 1024);
        let mut loca = Vec::with_capacity(count + 1);
        let mut hmtx = Vec::with_capacity(4 * count);
        for (g, _) in keep.iter().enumerate().filter(|(_, kept)| **kept) {
            loca.push(glyf.len() as u32);
            let start = glyf.len();
            let outline = self.outline(g);
            glyf.extend_from_slice(outline);
            for at in Self::component_offsets(outline) {
                let old = usize::from(u16_at(outline, at).unwrap_or(0));
                let new = renumbered.get(old).copied().unwrap_or(0).to_be_bytes();
                glyf[start + at..start + at + 2].copy_from_slice(&new);
            }
            glyf.resize(glyf.len().next_multiple_of(4), 0);
            hmtx.extend_from_slice(&self.metric(g));
        }
        loca.push(glyf.len() as u32);
        let highest = used.iter().copied().max().map_or(0, usize::from);
        let mut map = vec![0u8; 2 * (highest + 1)];
        for gid in &used {
            let g = usize::from(*gid);
            map[2 * g..2 * g + 2].copy_from_slice(&renumbered[g].to_be_bytes());
        }
        // Offsets halved in 16 bits while they fit (every glyph is padded to 4 bytes).
        let short = glyf.len() <= 2 * usize::from(u16::MAX);
        let loca: Vec<u8> = if short {
            loca.iter()
                .flat_map(|o| ((o / 2) as u16).to_be_bytes())
                .collect()
        } else {
            loca.iter().flat_map(|o| o.to_be_bytes()).collect()
        };
        let count16 = (count as u16).to_be_bytes();
        let mut tables: Vec<([u8; 4], std::borrow::Cow<'_, [u8]>)> = Vec::new();
        for &(tag, offset, length) in &self.tables {
            let original = &self.bytes[offset..offset + length];
            let data = match &tag {
                b"cmap" | b"name" | b"post" => continue,
                b"glyf" => std::borrow::Cow::Borrowed(glyf.as_slice()),
                b"loca" => std::borrow::Cow::Borrowed(loca.as_slice()),
                b"hmtx" => std::borrow::Cow::Borrowed(hmtx.as_slice()),
                b"head" if length >= 54 => {
                    let mut head = original.to_vec();
                    head[8..12].fill(0); // checkSumAdjustment
                    head[50..52].copy_from_slice(&u16::from(!short).to_be_bytes());
                    std::borrow::Cow::Owned(head)
                }
                b"hhea" if length >= 36 => {
                    let mut hhea = original.to_vec();
                    hhea[34..36].copy_from_slice(&count16);
                    std::borrow::Cow::Owned(hhea)
                }
                b"maxp" if length >= 6 => {
                    let mut maxp = original.to_vec();
                    maxp[4..6].copy_from_slice(&count16);
                    std::borrow::Cow::Owned(maxp)
                }
                _ => std::borrow::Cow::Borrowed(original),
            };
            tables.push((tag, data));
        }
        let tables: Vec<([u8; 4], u32, &[u8])> = tables
            .iter()
            .map(|(tag, data)| (*tag, checksum(data), data.as_ref()))
            .collect();
        (write_sfnt(&tables), map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first composite glyph of the shipped face, and its components.
    fn a_composite(face: &Sfnt) -> (u16, Vec<u16>) {
        (1..face.loca.len() - 1)
            .find_map(|g| {
                let mut parts = Vec::new();
                face.components(g, &mut parts);
                (!parts.is_empty()).then_some((g as u16, parts))
            })
            .expect("the shipped face has composite glyphs")
    }

    #[test]
    fn a_subset_numbers_its_glyphs_compactly_and_maps_every_used_code_to_its_glyph() {
        let (full, _) = shipped().unwrap();
        let face = &full.sfnt;
        let (composite, parts) = a_composite(face);
        let common = full.glyph('证').unwrap();
        let (program, map) = face.subset([common, composite]);
        let cut = Sfnt::new(program).expect("the subset is TrueType");
        // .notdef, the two glyphs and their parts, theirs in turn, nothing else.
        let mut kept: Vec<u16> = Vec::new();
        let mut todo = vec![0, common, composite];
        while let Some(g) = todo.pop() {
            kept.push(g);
            face.components(g.into(), &mut todo);
        }
        kept.sort_unstable();
        kept.dedup();
        assert_eq!(cut.loca.len() - 1, kept.len());
        let new_id = |old: u16| kept.iter().position(|k| *k == old).unwrap() as u16;
        let mapped =
            |cid: u16| u16::from_be_bytes([map[2 * cid as usize], map[2 * cid as usize + 1]]);
        assert_eq!(map.len(), 2 * (usize::from(common.max(composite)) + 1));
        assert_eq!(mapped(common), new_id(common));
        assert_eq!(mapped(composite), new_id(composite));
        // Every kept glyph: its metrics, and its outline — a composite's with its components'
        // ids renumbered.
        for old in &kept {
            let new = new_id(*old).into();
            assert_eq!(cut.metric(new), face.metric((*old).into()), "glyph {old}");
            let (mut parts, mut renumbered) = (Vec::new(), Vec::new());
            face.components((*old).into(), &mut parts);
            cut.components(new, &mut renumbered);
            assert_eq!(
                renumbered,
                parts.iter().map(|p| new_id(*p)).collect::<Vec<_>>(),
                "glyph {old}"
            );
            let outline = face.outline((*old).into());
            if parts.is_empty() {
                assert_eq!(&cut.outline(new)[..outline.len()], outline, "glyph {old}");
            } else {
                assert_eq!(cut.outline(new).len(), outline.len().next_multiple_of(4));
            }
        }
        assert!(!parts.is_empty());
    }
}
