//! Browser-test tools: render an issued certificate PDF to PNG (poppler's `pdftoppm`), list its
//! fonts (`pdffonts`), read the QR code back out of the PNG ([`decode_qr`], pure Rust with
//! `rqrr`), and open the decoded URL in headless Chromium ([`Tools::dump_dom`],
//! [`Tools::screenshot`]).
//!
//! The tools are external programs: [`tools`] finds them, or answers `None` (printing a
//! `skipped: …` line) so that a machine without them skips the browser tests — unless
//! `TICA_REQUIRE_BROWSER=1` (CI), which turns a missing tool into a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long one external program may run before it is killed and the test fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where the external programs are.
#[derive(Clone, Debug)]
pub struct Tools {
    /// Chromium (or Chrome): `TICA_CHROMIUM`, else the first of `chromium`, `chromium-browser`,
    /// `google-chrome`, `google-chrome-stable` on `PATH`.
    pub chromium: PathBuf,
    /// poppler-utils' `pdftoppm`.
    pub pdftoppm: PathBuf,
    /// poppler-utils' `pdffonts`.
    pub pdffonts: PathBuf,
}

/// The external tools, or `None` (with a printed `skipped: …` line) when any is missing — unless
/// the environment has `TICA_REQUIRE_BROWSER=1`: then this panics naming the missing tools.
pub fn tools() -> Option<Tools> {
    let chromium = match std::env::var_os("TICA_CHROMIUM").filter(|v| !v.is_empty()) {
        Some(path) => Some(PathBuf::from(path)).filter(|p| p.is_file()),
        None => [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ]
        .into_iter()
        .find_map(which),
    };
    let pdftoppm = which("pdftoppm");
    let pdffonts = which("pdffonts");
    let mut missing = Vec::new();
    if chromium.is_none() {
        missing.push("chromium");
    }
    if pdftoppm.is_none() {
        missing.push("pdftoppm (poppler-utils)");
    }
    if pdffonts.is_none() {
        missing.push("pdffonts (poppler-utils)");
    }
    if !missing.is_empty() {
        let missing = missing.join(", ");
        assert!(
            std::env::var("TICA_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "TICA_REQUIRE_BROWSER=1 but these are not installed: {missing} \
             (apt-get install chromium poppler-utils)"
        );
        eprintln!("skipped: browser tests need {missing} (apt-get install chromium poppler-utils)");
        return None;
    }
    Some(Tools {
        chromium: chromium?,
        pdftoppm: pdftoppm?,
        pdffonts: pdffonts?,
    })
}

/// The first executable file named `name` in a `PATH` directory.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A fresh directory under the system's temporary directory, removed on drop.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Scratch {
    fn new(what: &str) -> Scratch {
        let dir =
            std::env::temp_dir().join(format!("tica-{what}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `command` in its own process group with stdout and stderr going to files in `scratch`;
/// kills the whole group (Chromium's helpers too) after [`TIMEOUT`], before reaping the child so
/// that the group id cannot have been reused. Panics (naming `what` and quoting the end of stderr)
/// unless it exits successfully; its stdout.
fn run(what: &str, mut command: Command, scratch: &Scratch) -> Vec<u8> {
    use std::os::unix::process::CommandExt;
    let out_path = scratch.path("stdout");
    let err_path = scratch.path("stderr");
    let stdout = std::fs::File::create(&out_path).expect("stdout file");
    let stderr = std::fs::File::create(&err_path).expect("stderr file");
    command
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .process_group(0);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start {:?}: {e}", command.get_program()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a tool") {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what}: still running after {} s, killed; stderr ends:\n{}",
                TIMEOUT.as_secs(),
                tail(&err_path)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "{what}: {status}; stderr ends:\n{}",
        tail(&err_path)
    );
    std::fs::read(&out_path).expect("reading a tool's output")
}

/// Sends SIGKILL to the process group `pgid`: the group of a child we started and have not yet
/// reaped.
fn kill_group(pgid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The last lines of a log file, without Chromium's D-Bus chatter.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("dbus") && !l.contains("unexpected operator"))
        .collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

impl Tools {
    /// The first page of `pdf` as a PNG at `dpi` (`pdftoppm -png -r DPI -singlefile`).
    pub fn render_png(&self, pdf: &[u8], dpi: u32) -> Vec<u8> {
        let scratch = Scratch::new("render");
        let input = scratch.path("in.pdf");
        std::fs::write(&input, pdf).expect("writing the PDF");
        let mut command = Command::new(&self.pdftoppm);
        command
            .args(["-png", "-r", &dpi.to_string(), "-singlefile"])
            .arg(&input)
            .arg(scratch.path("page"));
        run("pdftoppm", command, &scratch);
        std::fs::read(scratch.path("page.png")).expect("pdftoppm wrote page.png")
    }

    /// `pdffonts`' table of the fonts in `pdf` (name, type, encoding, embedded, subset, …).
    pub fn pdf_fonts(&self, pdf: &[u8]) -> String {
        let scratch = Scratch::new("fonts");
        let input = scratch.path("in.pdf");
        std::fs::write(&input, pdf).expect("writing the PDF");
        let mut command = Command::new(&self.pdffonts);
        command.arg(&input);
        String::from_utf8_lossy(&run("pdffonts", command, &scratch)).into_owned()
    }

    /// The DOM of `url` after loading in headless Chromium (`--dump-dom`), serialised as HTML;
    /// scripts get a few seconds of virtual time to finish. Works as root (`--no-sandbox`).
    pub fn dump_dom(&self, url: &str) -> String {
        let scratch = Scratch::new("chromium");
        let mut command = self.chromium_command(&scratch);
        command.arg("--dump-dom").arg(url);
        String::from_utf8_lossy(&run("chromium --dump-dom", command, &scratch)).into_owned()
    }

    /// The DOM of `url` as a phone shows it (a 390×844 window, a phone's user agent), after its
    /// script ran. (`--dump-dom` itself needs script: a page without script is what the server
    /// sent.)
    pub fn dump_dom_on_phone(&self, url: &str) -> String {
        let scratch = Scratch::new("chromium");
        let mut command = self.chromium_command(&scratch);
        command.args([
            "--window-size=390,844",
            "--user-agent=Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        ]);
        command.arg("--dump-dom").arg(url);
        String::from_utf8_lossy(&run("chromium --dump-dom", command, &scratch)).into_owned()
    }

    /// A PNG screenshot of `url` in a `width`×`height` window, for a person to look at.
    pub fn screenshot(&self, url: &str, width: u32, height: u32) -> Vec<u8> {
        let scratch = Scratch::new("chromium");
        let shot = scratch.path("shot.png");
        let mut command = self.chromium_command(&scratch);
        command
            .arg(format!("--screenshot={}", shot.display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("--hide-scrollbars")
            .arg(url);
        run("chromium --screenshot", command, &scratch);
        std::fs::read(&shot).expect("chromium wrote the screenshot")
    }

    /// Headless Chromium with a fresh profile, quiet and quick.
    fn chromium_command(&self, scratch: &Scratch) -> Command {
        let profile = scratch.path("profile");
        let mut command = Command::new(&self.chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-sync",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-default-apps",
                "--mute-audio",
                "--disable-breakpad",
                "--disable-crash-reporter",
                "--password-store=basic",
                "--use-mock-keychain",
                "--virtual-time-budget=5000",
                "--log-level=3",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            // The Debian wrapper script reads these; keep it off the desktop session's bus.
            .env("DBUS_SESSION_BUS_ADDRESS", "disabled:")
            .env("HOME", scratch.path("home"));
        command
    }
}

/// The text of an HTML document with tags, comments, scripts and styles removed and whitespace
/// collapsed, and the common entities decoded: what a person reads on the page.
pub fn page_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        text.push(' ');
        rest = &rest[open..];
        let lower = rest.get(..8).unwrap_or(rest).to_ascii_lowercase();
        let end = if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if lower.starts_with("<script") || lower.starts_with("<style") {
            let close = if lower.starts_with("<script") {
                "</script>"
            } else {
                "</style>"
            };
            rest.to_ascii_lowercase()
                .find(close)
                .map(|i| i + close.len())
        } else {
            rest.find('>').map(|i| i + 1)
        };
        rest = &rest[end.unwrap_or(rest.len())..];
    }
    text.push_str(rest);
    let text = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes the (single) QR code in a PNG image with `rqrr`. Tries the image as it is, then
/// thresholded and enlarged, which helps with small modules (a 38 mm version-15 symbol, as
/// certificates printed before payload version 2 carried, is about 3 pixels a module at 150
/// dpi; today's are 0.762 mm modules, 4.5 pixels). `Err` with a clear message when no code is found or
/// none decodes, or when the image holds several different codes.
pub fn decode_qr(png: &[u8]) -> Result<String, String> {
    let image = Grey::from_png(png)?;
    let mut failures = Vec::new();
    // (what, enlargement, global threshold)
    let attempts = [
        ("as rendered", 1, false),
        ("thresholded", 1, true),
        ("enlarged 2×", 2, false),
        ("enlarged 3×, thresholded", 3, true),
    ];
    for (label, factor, threshold) in attempts {
        let enlarged;
        let candidate = if factor == 1 {
            &image
        } else {
            enlarged = image.enlarge(factor);
            &enlarged
        };
        match candidate.decode(threshold) {
            Ok(texts) if texts.is_empty() => failures.push(format!("{label}: no QR code found")),
            Ok(mut texts) => {
                texts.dedup();
                if texts.len() > 1 {
                    return Err(format!(
                        "{} different QR codes in the image: {texts:?}",
                        texts.len()
                    ));
                }
                return Ok(texts.remove(0));
            }
            Err(errors) => failures.push(format!("{label}: {errors}")),
        }
    }
    Err(format!(
        "no readable QR code in the {}×{} image ({})",
        image.width,
        image.height,
        failures.join("; ")
    ))
}

/// An 8-bit greyscale image.
#[derive(Clone, Debug)]
struct Grey {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Grey {
    fn from_png(png: &[u8]) -> Result<Grey, String> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder
            .read_info()
            .map_err(|e| format!("not a PNG image: {e}"))?;
        let size = reader
            .output_buffer_size()
            .ok_or("the PNG image is too large")?;
        let mut buffer = vec![0; size];
        let frame = reader
            .next_frame(&mut buffer)
            .map_err(|e| format!("cannot decode the PNG image: {e}"))?;
        let (width, height) = (frame.width as usize, frame.height as usize);
        let channels = frame.color_type.samples();
        if frame.bit_depth != png::BitDepth::Eight {
            return Err(format!("unexpected PNG bit depth {:?}", frame.bit_depth));
        }
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            let row = &buffer[y * frame.line_size..][..width * channels];
            for px in row.chunks_exact(channels) {
                let (luma, alpha) = match channels {
                    1 => (px[0] as u32, 255),
                    2 => (px[0] as u32, px[1] as u32),
                    3 => (
                        (299 * px[0] as u32 + 587 * px[1] as u32 + 114 * px[2] as u32) / 1000,
                        255,
                    ),
                    _ => (
                        (299 * px[0] as u32 + 587 * px[1] as u32 + 114 * px[2] as u32) / 1000,
                        px[3] as u32,
                    ),
                };
                // Transparent pixels are paper: composite onto white.
                pixels.push(((luma * alpha + 255 * (255 - alpha)) / 255) as u8);
            }
        }
        Ok(Grey {
            width,
            height,
            pixels,
        })
    }

    fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// Bilinear enlargement by `factor`.
    fn enlarge(&self, factor: usize) -> Grey {
        let (width, height) = (self.width * factor, self.height * factor);
        let mut pixels = Vec::with_capacity(width * height);
        for y in 0..height {
            let sy = ((y as f64 + 0.5) / factor as f64 - 0.5).max(0.0);
            let (y0, fy) = (sy.floor() as usize, sy.fract());
            let y1 = (y0 + 1).min(self.height - 1);
            for x in 0..width {
                let sx = ((x as f64 + 0.5) / factor as f64 - 0.5).max(0.0);
                let (x0, fx) = (sx.floor() as usize, sx.fract());
                let x1 = (x0 + 1).min(self.width - 1);
                let top = self.at(x0, y0) as f64 * (1.0 - fx) + self.at(x1, y0) as f64 * fx;
                let bottom = self.at(x0, y1) as f64 * (1.0 - fx) + self.at(x1, y1) as f64 * fx;
                pixels.push((top * (1.0 - fy) + bottom * fy).round() as u8);
            }
        }
        Grey {
            width,
            height,
            pixels,
        }
    }

    /// Otsu's global threshold.
    fn otsu(&self) -> u8 {
        let mut histogram = [0u64; 256];
        for &p in &self.pixels {
            histogram[p as usize] += 1;
        }
        let total = self.pixels.len() as f64;
        let sum: f64 = histogram
            .iter()
            .enumerate()
            .map(|(i, &n)| i as f64 * n as f64)
            .sum();
        let (mut best, mut best_variance) = (128u8, -1.0);
        let (mut weight_below, mut sum_below) = (0.0, 0.0);
        for (t, &n) in histogram.iter().enumerate() {
            weight_below += n as f64;
            sum_below += t as f64 * n as f64;
            let weight_above = total - weight_below;
            if weight_below == 0.0 || weight_above == 0.0 {
                continue;
            }
            let mean_below = sum_below / weight_below;
            let mean_above = (sum - sum_below) / weight_above;
            let variance = weight_below * weight_above * (mean_below - mean_above).powi(2);
            if variance > best_variance {
                best_variance = variance;
                best = t as u8;
            }
        }
        best
    }

    /// The texts of every QR code found that decodes; `Err` listing the decode errors when codes
    /// are found but none decodes.
    fn decode(&self, threshold: bool) -> Result<Vec<String>, String> {
        let mut prepared = if threshold {
            let t = self.otsu();
            rqrr::PreparedImage::prepare_from_bitmap(self.width, self.height, |x, y| {
                self.at(x, y) <= t
            })
        } else {
            rqrr::PreparedImage::prepare_from_greyscale(self.width, self.height, |x, y| {
                self.at(x, y)
            })
        };
        let grids = prepared.detect_grids();
        let mut texts = Vec::new();
        let mut errors = Vec::new();
        for grid in &grids {
            match grid.decode() {
                Ok((_, text)) => texts.push(text),
                Err(e) => errors.push(format!("{e:?}")),
            }
        }
        if texts.is_empty() && !errors.is_empty() {
            return Err(format!(
                "{} code(s) found, none decodes: {}",
                errors.len(),
                errors.join(", ")
            ));
        }
        texts.sort();
        Ok(texts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A certificate-like QR text: `{BASE}/C/{ID}#{base32 payload}`, `len` characters.
    fn certificate_qr_text(len: usize) -> String {
        const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut text =
            String::from("HTTPS://VERIFY.TICA.EXAMPLE.GOV.CN/C/7M3Q9ZK2X4VJ8D1R5T6W0NBHCP#");
        let mut state = 0x2545_f491_4f6c_dd1du64;
        while text.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push(BASE32[(state % 32) as usize] as char);
        }
        text
    }

    fn symbol(text: &str) -> qrcode::QrCode {
        qrcode::QrCode::with_version(text, qrcode::Version::Normal(15), qrcode::EcLevel::Q)
            .expect("fits version 15 at level Q")
    }

    /// A white `page_px`-square page with `code` drawn at `module_px` (fractional) pixels a
    /// module from (`left`, `top`), anti-aliased as a renderer does (4×4 supersampling), and a
    /// few dark bars around it standing for printed text.
    fn draw(code: &qrcode::QrCode, module_px: f64, left: f64, top: f64, page_px: usize) -> Vec<u8> {
        let width = code.width();
        let dark = code.to_colors();
        let is_dark = |x: f64, y: f64| -> bool {
            let (mx, my) = ((x - left) / module_px, (y - top) / module_px);
            if mx >= 0.0 && my >= 0.0 && (mx as usize) < width && (my as usize) < width {
                return dark[my as usize * width + mx as usize] == qrcode::Color::Dark;
            }
            // "Text" lines above the code, clear of its 4-module quiet zone.
            let above = top - 4.0 * module_px;
            y > 10.0
                && y < above
                && (y as usize / 6).is_multiple_of(3)
                && x > 10.0
                && x < page_px as f64 - 10.0
        };
        let mut grey = Vec::with_capacity(page_px * page_px);
        for py in 0..page_px {
            for px in 0..page_px {
                let mut covered = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let x = px as f64 + (sx as f64 + 0.5) / 4.0;
                        let y = py as f64 + (sy as f64 + 0.5) / 4.0;
                        covered += is_dark(x, y) as u32;
                    }
                }
                grey.push((255 - covered * 255 / 16) as u8);
            }
        }
        encode_png(&grey, page_px as u32, page_px as u32)
    }

    fn encode_png(grey: &[u8], width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(grey).unwrap();
        writer.finish().unwrap();
        out
    }

    /// Millimetres to pixels at `dpi`.
    fn px(mm: f64, dpi: f64) -> f64 {
        mm / 25.4 * dpi
    }

    #[test]
    fn decodes_a_long_version_15_code_rendered_small() {
        for len in [350, 390, 415] {
            let text = certificate_qr_text(len);
            let code = symbol(&text);
            assert_eq!(code.version(), qrcode::Version::Normal(15));
            // A 38 mm symbol (77 modules) at 150 dpi: about 2.9 pixels a module, off the grid.
            let module = px(38.0, 150.0) / 77.0;
            let png = draw(&code, module, 61.3, 97.7, 400);
            assert_eq!(
                decode_qr(&png).as_deref(),
                Ok(text.as_str()),
                "{len} characters"
            );
        }
    }

    #[test]
    fn decodes_at_300_dpi_and_in_colour() {
        let text = certificate_qr_text(400);
        let code = symbol(&text);
        let module = px(38.0, 300.0) / 77.0;
        let png = draw(&code, module, 120.4, 200.6, 700);
        assert_eq!(decode_qr(&png).as_deref(), Ok(text.as_str()));

        // The same as RGBA, as pdftoppm or a screenshot may write it.
        let mut decoder = png::Decoder::new(std::io::Cursor::new(&png));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut grey = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut grey).unwrap();
        let rgba: Vec<u8> = grey[..info.buffer_size()]
            .iter()
            .flat_map(|&g| [g, g, g, 255])
            .collect();
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, info.width, info.height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&rgba).unwrap();
        writer.finish().unwrap();
        assert_eq!(decode_qr(&out).as_deref(), Ok(text.as_str()));
    }

    #[test]
    fn says_clearly_when_there_is_no_code() {
        let blank = encode_png(&vec![255; 200 * 200], 200, 200);
        let error = decode_qr(&blank).unwrap_err();
        assert!(error.contains("no readable QR code"), "{error}");
        let error = decode_qr(b"not a png").unwrap_err();
        assert!(error.contains("not a PNG"), "{error}");
    }

    #[test]
    fn page_text_strips_markup() {
        let html = "<html><head><style>p { color: red }</style><script>var a = '<p>x</p>';</script></head>\
                    <body><!-- 注释 --><h1>证书验证</h1><p class=\"v\">有效&nbsp;VALID</p>\n<p>A &amp; B</p></body></html>";
        assert_eq!(page_text(html), "证书验证 有效 VALID A & B");
    }

    /// A one-page A4 PDF drawing `code` as vector squares, `size_mm` wide, with a line of
    /// Helvetica text: what the certificate service prints, minus the Chinese.
    fn pdf_with_code(code: &qrcode::QrCode, size_mm: f64) -> Vec<u8> {
        let width = code.width();
        let colors = code.to_colors();
        let module = size_mm / 25.4 * 72.0 / width as f64;
        let (left, bottom) = (380.0, 90.0);
        let mut content = String::from("BT /F1 18 Tf 72 760 Td (TICA certificate) Tj ET\n0 g\n");
        for y in 0..width {
            for x in 0..width {
                if colors[y * width + x] == qrcode::Color::Dark {
                    let px = left + x as f64 * module;
                    let py = bottom + (width - 1 - y) as f64 * module;
                    content.push_str(&format!("{px:.3} {py:.3} {module:.3} {module:.3} re\n"));
                }
            }
        }
        content.push_str("f\n");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_owned(),
            format!(
                "<< /Length {} >>\nstream\n{content}endstream",
                content.len()
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
        ];
        let mut pdf = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, object) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
        }
        let xref = pdf.len();
        pdf.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for offset in offsets {
            pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
        }
        pdf.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        pdf
    }

    #[test]
    fn renders_a_pdf_and_reads_its_code_back() {
        let Some(tools) = tools() else { return };
        let text = certificate_qr_text(410);
        let pdf = pdf_with_code(&symbol(&text), 38.0);
        let fonts = tools.pdf_fonts(&pdf);
        assert!(fonts.contains("Helvetica"), "{fonts}");
        for dpi in [150, 300] {
            let png = tools.render_png(&pdf, dpi);
            assert!(png.starts_with(b"\x89PNG"), "pdftoppm wrote a PNG");
            assert_eq!(decode_qr(&png).as_deref(), Ok(text.as_str()), "{dpi} dpi");
        }
    }

    #[test]
    fn chromium_reads_chinese_pages() {
        let Some(tools) = tools() else { return };
        let page = "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>证书验证</title></head>\
                    <body><h1>证书验证</h1><p id=\"verdict\"></p>\
                    <script>document.getElementById('verdict').textContent = '有效 VALID';</script></body></html>";
        let url = format!("data:text/html;charset=utf-8,{}", percent_encode(page));
        let started = Instant::now();
        let dom = tools.dump_dom(&url);
        eprintln!("chromium --dump-dom took {:?}", started.elapsed());
        let text = page_text(&dom);
        assert!(text.contains("证书验证"), "{dom}");
        assert!(text.contains("有效 VALID"), "scripts ran: {dom}");
        assert!(!text.contains("已撤销"), "{dom}");

        // A file:// page too, and a screenshot of it.
        let scratch = Scratch::new("page");
        let file = scratch.path("verify.html");
        std::fs::write(&file, page.replace("有效 VALID", "已撤销 REVOKED")).unwrap();
        let url = format!("file://{}", file.display());
        assert!(page_text(&tools.dump_dom(&url)).contains("已撤销 REVOKED"));
        let shot = tools.screenshot(&url, 800, 600);
        let decoder = png::Decoder::new(std::io::Cursor::new(&shot));
        let info = decoder.read_info().expect("a PNG screenshot");
        assert_eq!(
            (info.info().width, info.info().height),
            (800, 600),
            "the window size"
        );
    }

    fn percent_encode(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
}
