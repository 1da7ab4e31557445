//! The QR symbol: `qrcode`'s segmentation (alphanumeric before the `#`, numeric after it,
//! exactly as `tica-credential` sizes the code), error correction and module placement, with the
//! mask chosen by a bit-parallel implementation of the ISO/IEC 18004 penalty rules (the crate's
//! own scoring is what makes it slow). `fast_qr` is not used: it encodes one mode per symbol, and
//! the `#` would force byte mode on the whole text (8 bits a digit instead of 3.33), far beyond
//! [`MAX_QR_VERSION`].
//!
//! The level and the largest version are `tica_credential::qr`'s: the service refuses a text
//! that needs more before rendering, and the renderer prints every text it accepted.

use qrcode::canvas::{Canvas, MaskPattern};
use qrcode::{Color, Version};
/// The largest version a page prints: that of a payload signed with SM2 too (19), the credential
/// refusing version-2 payloads beyond 16 before they get here.
pub use tica_credential::qr::{EC_LEVEL as QR_EC_LEVEL, MAX_VERSION_DUAL as MAX_QR_VERSION};

use crate::PdfError;

/// A square of modules: one bit set per dark module, bit `x` of `rows[y]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Matrix {
    pub(crate) width: usize,
    pub(crate) rows: Vec<u128>,
}

impl Matrix {
    /// Whether the module at column `x`, row `y` is dark.
    pub(crate) fn dark(&self, x: usize, y: usize) -> bool {
        self.rows[y] >> x & 1 == 1
    }
}

const PATTERNS: [MaskPattern; 8] = [
    MaskPattern::Checkerboard,
    MaskPattern::HorizontalLines,
    MaskPattern::VerticalLines,
    MaskPattern::DiagonalLines,
    MaskPattern::LargeCheckerboard,
    MaskPattern::Fields,
    MaskPattern::Diamonds,
    MaskPattern::Meadow,
];

/// Encodes `text` at [`QR_EC_LEVEL`] in the smallest version that holds it (at most
/// [`MAX_QR_VERSION`]).
pub(crate) fn encode(text: &str) -> Result<Matrix, PdfError> {
    let too_long = || PdfError::QrTooLong(text.chars().count());
    let bits = qrcode::bits::encode_auto(text.as_bytes(), QR_EC_LEVEL).map_err(|_| too_long())?;
    let version = bits.version();
    if !matches!(version, Version::Normal(v) if v <= MAX_QR_VERSION) {
        return Err(too_long());
    }
    let data = bits.into_bytes();
    let (data, ec) = qrcode::ec::construct_codewords(&data, version, QR_EC_LEVEL)
        .map_err(|e| PdfError::Render(format!("QR error correction: {e}")))?;
    let width = usize::try_from(version.width()).unwrap_or(0);
    let drawn = unmasked(version, &data, &ec);
    let base = bases(version, data.len(), ec.len());
    let mut best: Option<(u32, Matrix)> = None;
    for masked in &base.masked {
        let rows = (0..width)
            .map(|y| masked[y] ^ drawn[y] ^ base.unmasked[y])
            .collect();
        let matrix = Matrix { width, rows };
        let score = penalty(&matrix);
        if best.as_ref().is_none_or(|(s, _)| score < *s) {
            best = Some((score, matrix));
        }
    }
    best.map(|(_, m)| m)
        .ok_or_else(|| PdfError::Render("no QR mask".into()))
}

/// The symbol's modules as bit rows: the function patterns and `data` and `ec` unmasked.
fn unmasked(version: Version, data: &[u8], ec: &[u8]) -> Vec<u128> {
    let mut canvas = Canvas::new(version, QR_EC_LEVEL);
    canvas.draw_all_functional_patterns();
    canvas.draw_data(data, ec);
    rows(
        canvas.into_colors(),
        usize::try_from(version.width()).unwrap_or(0),
    )
}

fn rows(colors: Vec<Color>, width: usize) -> Vec<u128> {
    let mut rows = vec![0u128; width];
    for (i, color) in colors.into_iter().enumerate() {
        if color == Color::Dark {
            rows[i / width] |= 1 << (i % width);
        }
    }
    rows
}

/// One version's symbol with all-light data, unmasked and under each of the eight masks
/// (their format information drawn). Masking inverts data modules only and the format
/// information depends on the level and the mask alone, so a symbol under mask `k` is
/// `masked[k] ^ drawn ^ unmasked`, `drawn` being its unmasked modules: one canvas a page
/// instead of eight.
struct Base {
    unmasked: Vec<u128>,
    masked: Vec<Vec<u128>>,
}

fn bases(version: Version, data: usize, ec: usize) -> &'static Base {
    static BASES: [std::sync::OnceLock<Base>; 41] = [const { std::sync::OnceLock::new() }; 41];
    let index = match version {
        Version::Normal(v) => usize::try_from(v).unwrap_or(0).min(40),
        Version::Micro(_) => 0,
    };
    BASES[index].get_or_init(|| {
        let (data, ec) = (vec![0u8; data], vec![0u8; ec]);
        let mut canvas = Canvas::new(version, QR_EC_LEVEL);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data, &ec);
        let width = usize::try_from(version.width()).unwrap_or(0);
        let masked = PATTERNS
            .iter()
            .map(|pattern| {
                let mut masked = canvas.clone();
                masked.apply_mask(*pattern);
                rows(masked.into_colors(), width)
            })
            .collect();
        Base {
            unmasked: rows(canvas.into_colors(), width),
            masked,
        }
    })
}

/// The ISO/IEC 18004 (7.8.3) mask penalty: runs of five or more, 2×2 blocks, finder-like
/// 1:1:3:1:1 patterns with four light modules on a side (the quiet zone counts as light),
/// and the dark proportion. Computed on whole rows and columns as bit sets.
fn penalty(m: &Matrix) -> u32 {
    let n = m.width;
    let full = (1u128 << n) - 1;
    let mut columns = vec![0u128; n];
    for (y, row) in m.rows.iter().enumerate() {
        let mut rest = *row;
        while rest != 0 {
            let x = rest.trailing_zeros() as usize;
            columns[x] |= 1 << y;
            rest &= rest - 1;
        }
    }
    let mut score = 0;
    for line in m.rows.iter().chain(columns.iter()) {
        score += line_penalty(*line, n, full);
    }
    // N2: 2×2 blocks of one colour.
    let inner = full >> 1;
    for pair in m.rows.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let dark = a & b & (a >> 1) & (b >> 1) & inner;
        let light = !a & !b & !(a >> 1) & !(b >> 1) & inner;
        score += 3 * (dark.count_ones() + light.count_ones());
    }
    // N4: 10 points per 5 % away from half dark.
    let dark: u32 = m.rows.iter().map(|r| r.count_ones()).sum();
    let percent = dark as usize * 100 / (n * n);
    score + 10 * (percent.abs_diff(50) / 5) as u32
}

/// N1 and N3 of one row or column of `n` modules.
fn line_penalty(line: u128, n: usize, full: u128) -> u32 {
    let mut score = 0;
    // N1: a run of L ≥ 5 scores L − 2 = (its L − 4 windows of five) + 2.
    for bits in [line, !line & full] {
        let five = bits & bits >> 1 & bits >> 2 & bits >> 3 & bits >> 4;
        let starts = five & !(five << 1);
        score += five.count_ones() + 2 * starts.count_ones();
    }
    // N3: 1011101 with 0000 before or after, four light modules of quiet zone each side.
    let padded = line << 4;
    let light = !padded & ((1u128 << (n + 8)) - 1);
    let windows = |pattern: u32| {
        let mut hit = u128::MAX;
        for k in 0..11 {
            let want_dark = pattern >> k & 1 == 1;
            hit &= if want_dark { padded } else { light } >> k;
        }
        hit
    };
    // Bit k of a pattern is the module k places after the window's start.
    score += 40 * (windows(0b101_1101_0000).count_ones() + windows(0b000_0101_1101).count_ones());
    score
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The symbol masked from scratch under each pattern, as before the cached bases.
    fn encode_from_scratch(text: &str) -> Matrix {
        let bits = qrcode::bits::encode_auto(text.as_bytes(), QR_EC_LEVEL).unwrap();
        let version = bits.version();
        let (data, ec) =
            qrcode::ec::construct_codewords(&bits.into_bytes(), version, QR_EC_LEVEL).unwrap();
        let mut canvas = Canvas::new(version, QR_EC_LEVEL);
        canvas.draw_all_functional_patterns();
        canvas.draw_data(&data, &ec);
        let width = usize::try_from(version.width()).unwrap();
        let mut best: Option<(u32, Matrix)> = None;
        for pattern in PATTERNS {
            let mut masked = canvas.clone();
            masked.apply_mask(pattern);
            let matrix = Matrix {
                width,
                rows: rows(masked.into_colors(), width),
            };
            let score = penalty(&matrix);
            if best.as_ref().is_none_or(|(s, _)| score < *s) {
                best = Some((score, matrix));
            }
        }
        best.unwrap().1
    }

    #[test]
    fn the_cached_mask_bases_give_the_same_symbol_as_masking_each_pattern_from_scratch() {
        let sample = crate::sample_page().qr_text;
        let mut texts = vec![sample.to_owned(), "HTTPS://X/C/1#2".to_owned()];
        // Other payloads and lengths (other versions), each twice (the base cached).
        for k in 0..24usize {
            let digits: String = sample
                .chars()
                .rev()
                .cycle()
                .skip(k * 7)
                .filter(char::is_ascii_digit)
                .take(100 + 17 * k)
                .collect();
            texts.push(format!("HTTPS://VERIFY.AHEDU.GOV.CN/C/{k:026}#{digits}"));
        }
        for text in texts.iter().chain(texts.iter()) {
            assert_eq!(encode(text).unwrap(), encode_from_scratch(text), "{text}");
        }
    }

    #[test]
    fn a_text_beyond_the_largest_version_is_refused() {
        // 700 alphanumeric characters need 3,863 bits; version 19 at level Q holds 3,560.
        let text = "A".repeat(700);
        assert!(matches!(encode(&text), Err(PdfError::QrTooLong(700))));
    }

    #[test]
    fn the_sample_text_is_printed_at_level_q_in_the_version_the_credential_sizes_it_by() {
        let page = crate::sample_page();
        let m = encode(page.qr_text).unwrap();
        let version = tica_credential::qr::qr_version(page.qr_text).unwrap();
        assert_eq!(QR_EC_LEVEL, qrcode::EcLevel::Q);
        assert_eq!(m.width, 17 + 4 * usize::try_from(version).unwrap());
        assert!(version <= MAX_QR_VERSION - 2, "version {version}");
        // The finder pattern's corner is dark, the separator beside it light.
        assert!(m.dark(0, 0) && !m.dark(7, 0));
    }

    #[test]
    fn the_mask_paints_exactly_the_dark_modules() {
        let m = encode(crate::sample_page().qr_text).unwrap();
        let mask = crate::layout::qr_mask(&m);
        let stride = m.width.div_ceil(8);
        for y in 0..m.width {
            for x in 0..m.width {
                let painted = mask[y * stride + x / 8] & (0x80 >> (x % 8)) == 0;
                assert_eq!(painted, m.dark(x, y), "module ({x}, {y})");
            }
        }
    }

    #[test]
    fn the_penalty_counts_runs_blocks_and_finder_patterns() {
        // A 21-wide all-light symbol: each line is one run of 21 (19 points), 20×20 blocks,
        // and the proportion is 50 % away from half (100 points).
        let m = Matrix {
            width: 21,
            rows: vec![0; 21],
        };
        assert_eq!(penalty(&m), 42 * 19 + 3 * 400 + 100);
        // One finder-like row 1011101 followed by light: +40 for that row at least.
        let mut rows = vec![0u128; 21];
        rows[10] = 0b101_1101;
        let with = penalty(&Matrix { width: 21, rows });
        assert!(with >= 40);
    }
}
