//! An issuing office's seal (印章): the office's own image file, never one this crate draws.
//! It is decoded, checked and compressed once ([`Seal::from_png`]), then placed over the issuer
//! and the date of every certificate the office issues, as offices stamp paper certificates.

use std::io::Write as _;

use crate::PdfError;

/// The largest seal file read, and the largest image side: a seal printed 42 mm wide needs no
/// more than 600 dpi (about 1,000 pixels).
pub const MAX_SEAL_BYTES: usize = 2 << 20;
/// The largest image side, in pixels.
pub const MAX_SEAL_SIDE: u32 = 2048;

/// A seal ready to place: its pixels as PDF image streams, compressed once.
#[derive(Clone, PartialEq, Eq)]
pub struct Seal {
    pub(crate) width: u32,
    pub(crate) height: u32,
    /// 8-bit RGB, zlib-compressed.
    pub(crate) rgb: Vec<u8>,
    /// 8-bit alpha (the soft mask), zlib-compressed; `None` for an opaque image.
    pub(crate) alpha: Option<Vec<u8>>,
}

impl std::fmt::Debug for Seal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Seal({}×{})", self.width, self.height)
    }
}

impl Seal {
    /// Reads a PNG (grey, RGB, palette, with or without alpha; 8 or 16 bits): at most
    /// [`MAX_SEAL_BYTES`], [`MAX_SEAL_SIDE`] pixels a side. A seal is usually red on a
    /// transparent ground, so that the issuer and the date show through it.
    pub fn from_png(bytes: &[u8]) -> Result<Seal, PdfError> {
        let bad = |why: String| PdfError::Seal(why);
        if bytes.len() > MAX_SEAL_BYTES {
            return Err(bad(format!(
                "{} bytes; a seal image may have at most {MAX_SEAL_BYTES}",
                bytes.len()
            )));
        }
        let mut decoder = png::Decoder::new_with_limits(
            std::io::Cursor::new(bytes),
            png::Limits {
                bytes: (MAX_SEAL_SIDE * MAX_SEAL_SIDE * 8) as usize,
            },
        );
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .map_err(|e| bad(format!("not a PNG image: {e}")))?;
        let (width, height) = (reader.info().width, reader.info().height);
        if width == 0 || height == 0 || width > MAX_SEAL_SIDE || height > MAX_SEAL_SIDE {
            return Err(bad(format!(
                "{width}×{height} pixels; a seal image may have at most {MAX_SEAL_SIDE} a side"
            )));
        }
        let mut pixels = vec![
            0;
            reader
                .output_buffer_size()
                .ok_or_else(|| bad("too large".into()))?
        ];
        let frame = reader
            .next_frame(&mut pixels)
            .map_err(|e| bad(format!("the PNG does not decode: {e}")))?;
        pixels.truncate(frame.buffer_size());
        let channels = frame.color_type.samples();
        let (mut rgb, mut alpha) = (Vec::new(), Vec::new());
        for px in pixels.chunks_exact(channels) {
            match channels {
                1 => rgb.extend_from_slice(&[px[0], px[0], px[0]]),
                2 => {
                    rgb.extend_from_slice(&[px[0], px[0], px[0]]);
                    alpha.push(px[1]);
                }
                3 => rgb.extend_from_slice(px),
                _ => {
                    rgb.extend_from_slice(&px[..3]);
                    alpha.push(px[3]);
                }
            }
        }
        let opaque = alpha.iter().all(|a| *a == u8::MAX);
        Ok(Seal {
            width,
            height,
            rgb: deflate(&rgb)?,
            alpha: if opaque { None } else { Some(deflate(&alpha)?) },
        })
    }

    /// Width over height.
    pub fn aspect(&self) -> f32 {
        self.width as f32 / self.height as f32
    }
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, PdfError> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(data)
        .and_then(|()| z.finish())
        .map_err(|e| PdfError::Render(e.to_string()))
}

/// A seal image for tests: a red ring on a transparent ground, `side` pixels wide — what an
/// office's scanned seal looks like, drawn here only because tests need one.
#[doc(hidden)]
pub fn test_seal_png(side: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side, side);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().expect("a PNG header");
        let c = side as f32 / 2.0;
        let mut data = Vec::with_capacity((side * side * 4) as usize);
        for y in 0..side {
            for x in 0..side {
                let d = ((x as f32 + 0.5 - c).powi(2) + (y as f32 + 0.5 - c).powi(2)).sqrt();
                let ring = d < c * 0.97 && d > c * 0.85;
                let star = d < c * 0.25;
                let a = if ring || star { 220 } else { 0 };
                data.extend_from_slice(&[200, 16, 24, a]);
            }
        }
        writer.write_image_data(&data).expect("the pixels");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_is_read_once_with_its_transparency() {
        let seal = Seal::from_png(&test_seal_png(64)).unwrap();
        assert_eq!((seal.width, seal.height), (64, 64));
        assert!(seal.alpha.is_some(), "a transparent ground keeps its mask");
    }

    #[test]
    fn anything_but_a_reasonable_png_is_refused_with_the_reason() {
        for (bytes, why) in [
            (b"GIF89a...".to_vec(), "not a PNG"),
            (vec![0; MAX_SEAL_BYTES + 1], "at most"),
            (test_seal_png(MAX_SEAL_SIDE + 1), "a side"),
        ] {
            let error = Seal::from_png(&bytes).unwrap_err().to_string();
            assert!(error.contains(why), "{error}");
        }
    }
}
