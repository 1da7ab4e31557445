//! The printed QR code scans from bad copies (issue 15, point 6): a certificate page is rendered,
//! rasterised by poppler's `pdftoppm` as a cheap scan or photo would see it — at 100 dpi; at 150
//! dpi blurred by 1 px (Gaussian σ), turned by 3° or saved as a quality-30 JPEG — and read back by
//! `zbarimg`, which must return the QR text exactly. The texts are real version-2 payloads: a
//! typical Sixian certificate (QR version 13 at level Q), the longest realistic one (a Ningxia
//! level certificate issued by the region office, 15), a local one, and the longest the
//! credential accepts for version 2 (16); and the same certificates signed with SM2 too
//! (payload version 3, issue 18: 16, 17 and 18), and one with every text at the budget's limit,
//! which needs [`MAX_QR_VERSION`] (19). Blur and rotation are done
//! here on the grey image.
//!
//! The tests need poppler-utils and zbar-tools: without them they print a `skipped: …` line and
//! pass, unless `TICA_REQUIRE_BROWSER=1` (CI), which makes their absence a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use tica_credential::qr::{QrClaims, encode_qr, qr_text, qr_version, sign_claims_dual};
use tica_pdf::{CertificatePage, MAX_QR_VERSION, Renderer, sample_page};

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| Renderer::new().expect("the renderer"))
}

/// The first executable named `name` on `PATH`.
fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether `pdftoppm` and `zbarimg` are installed; when not, a `skipped: …` line (or a panic
/// under `TICA_REQUIRE_BROWSER=1`).
fn tools() -> bool {
    let missing: Vec<&str> = [
        ("pdftoppm", "pdftoppm (poppler-utils)"),
        ("zbarimg", "zbarimg (zbar-tools)"),
    ]
    .into_iter()
    .filter(|(tool, _)| which(tool).is_none())
    .map(|(_, what)| what)
    .collect();
    if missing.is_empty() {
        return true;
    }
    let missing = missing.join(", ");
    assert!(
        std::env::var("TICA_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "TICA_REQUIRE_BROWSER=1 but these are not installed: {missing} \
         (apt-get install poppler-utils zbar-tools)"
    );
    eprintln!("skipped: the scan tests need {missing} (apt-get install poppler-utils zbar-tools)");
    false
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

/// A typical Sixian micro-competency certificate.
fn sixian() -> QrClaims {
    QrClaims {
        version: 2,
        kid: "341324-2026-1".into(),
        id: "b2c4e1f07a9d4c3e8f615d2a9c".into(),
        number: "341324-2026-000123".into(),
        name: "张喆".into(),
        id_masked: "3413**********123X".into(),
        school: "泗县大路口乡中心小学".into(),
        competency: "B2".into(),
        grade: "合格".into(),
        issuer: "泗县教育体育局".into(),
        issued: "2026-11-24".into(),
    }
}

/// The longest realistic certificate: a Ningxia level certificate issued by the region office.
fn ningxia() -> QrClaims {
    QrClaims {
        version: 2,
        kid: "640000-2026-12".into(),
        id: "q7zk3m9x2v4j8d1r5t6w0nbhcp".into(),
        number: "640104-2026-012345".into(),
        name: "马哈麦提·艾力".into(),
        id_masked: "6401**********123X".into(),
        school: "宁夏回族自治区银川市兴庆区第二十一小学（北校区）".into(),
        competency: "level".into(),
        grade: "优秀".into(),
        issuer: "宁夏回族自治区教育厅能力提升2.0办公室".into(),
        issued: "2026-12-31".into(),
    }
}

/// The longest text accepted: the Ningxia certificate with a still longer school and name,
/// which needs the largest QR version the credential allows.
fn largest() -> QrClaims {
    QrClaims {
        school: "宁夏回族自治区银川市兴庆区第二十一小学（北校区）附属幼儿园分园".into(),
        name: "马哈麦提·艾力·买买提".into(),
        ..ningxia()
    }
}

/// A certificate: its claims, QR text and verification lines.
struct Certificate {
    name: &'static str,
    claims: QrClaims,
    qr: String,
    level: bool,
    address: &'static str,
    code: &'static str,
}

fn certificates() -> Vec<Certificate> {
    let make = |name, base: &str, claims: QrClaims, address, code| Certificate {
        name,
        qr: qr_text(base, &claims, &key()).expect("a QR text"),
        level: claims.competency == "level",
        claims,
        address,
        code,
    };
    let dual = |name, base: &str, claims: QrClaims, address, code| {
        let sm2 = tica_credential::gm::Sm2Key::from_secret(&[9; 32]).unwrap();
        let signed = sign_claims_dual(base, &claims, &key(), "640000-2026-s1", &sm2).unwrap();
        Certificate {
            name,
            qr: encode_qr(base, &claims.id, &signed).expect("a QR text"),
            level: claims.competency == "level",
            claims,
            address,
            code,
        }
    };
    vec![
        dual(
            "sixian-sm2",
            "https://verify.ahedu.gov.cn",
            sixian(),
            "verify.ahedu.gov.cn/v",
            "7K3MQ-X9PDA",
        ),
        dual(
            "ningxia-sm2",
            "https://zhengshu.jyt.nx.gov.cn",
            ningxia(),
            "zhengshu.jyt.nx.gov.cn/v",
            "Q7ZK3-M9X2V",
        ),
        dual(
            "largest-sm2",
            "https://zhengshu.jyt.nx.gov.cn",
            largest(),
            "zhengshu.jyt.nx.gov.cn/verify/wwwmmmwwwm",
            "WMWMW-WMWMW",
        ),
        // Every text at the QR budget's limit (`tica_credential::qr::MAX_NAME_BYTES`, …) under
        // the longest base URL: the largest code a dual-signed certificate can need.
        dual(
            "limit-sm2",
            "https://zzzzzzzzzzzzzzzzzzzzzz",
            QrClaims {
                name: "泗".repeat(14),
                school: "学".repeat(32),
                issuer: "局".repeat(21),
                number: "640104-2026-999999".into(),
                ..ningxia()
            },
            "zhengshu.jyt.nx.gov.cn/verify/wwwmmmwwwm",
            "WMWMW-WMWMW",
        ),
        make(
            "sixian",
            "https://verify.ahedu.gov.cn",
            sixian(),
            "verify.ahedu.gov.cn/v",
            "7K3MQ-X9PDA",
        ),
        make(
            "ningxia",
            "https://zhengshu.jyt.nx.gov.cn",
            ningxia(),
            "zhengshu.jyt.nx.gov.cn/v",
            "Q7ZK3-M9X2V",
        ),
        make(
            "local",
            "http://127.0.0.1:43567",
            sixian(),
            "127.0.0.1:43567/v",
            "B2C4E-1F07A",
        ),
        make(
            "largest",
            "https://zhengshu.jyt.nx.gov.cn",
            largest(),
            // 40 characters, the longest address a page prints at full size.
            "zhengshu.jyt.nx.gov.cn/verify/wwwmmmwwwm",
            "WMWMW-WMWMW",
        ),
    ]
}

/// The page of certificate `c`.
fn page(c: &Certificate) -> CertificatePage<'_> {
    let base = CertificatePage {
        teacher_name: &c.claims.name,
        school: &c.claims.school,
        issuer: &c.claims.issuer,
        qr_text: &c.qr,
        verification_address: c.address,
        verification_code: c.code,
        ..sample_page()
    };
    if c.level {
        CertificatePage {
            title: "信息技术应用能力提升工程2.0 能力等级证书",
            county: "兴庆区",
            achievement: "信息技术应用能力 优秀",
            grade: "优秀",
            credits_or_hours: Some("学时 50"),
            issue_date: "2026年12月31日",
            number: &c.claims.number,
            ..base
        }
    } else {
        base
    }
}

/// Where the images of one kind of copy go (removed when every code decoded from them).
fn dir(copy: Damage) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tica-pdf-scan-{}-{copy:?}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(tool: &str, args: &[&str]) {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The page rasterised by `pdftoppm` at `dpi`: `format` is `pgm` (grey) or `jpeg` (quality 30).
fn rasterise(dir: &Path, pdf: &[u8], stem: &str, dpi: u32, format: &str) -> PathBuf {
    let path = dir.join(format!("{stem}.pdf"));
    std::fs::write(&path, pdf).unwrap();
    let prefix = dir.join(format!("{stem}-{dpi}"));
    let dpi = dpi.to_string();
    let mut args = vec!["-r", &dpi, "-singlefile"];
    match format {
        "jpeg" => args.extend(["-jpeg", "-jpegopt", "quality=30"]),
        // poppler 22's `-png -gray` writes RGB; a PGM is grey.
        _ => args.push("-gray"),
    }
    args.extend([path.to_str().unwrap(), prefix.to_str().unwrap()]);
    run("pdftoppm", &args);
    prefix.with_extension(if format == "jpeg" { "jpg" } else { "pgm" })
}

/// What `zbarimg` reads in the image; None when it finds no code.
fn decode(image: &Path) -> Option<String> {
    let out = Command::new("zbarimg")
        .args(["--raw", "-q", image.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !text.is_empty()).then(|| text.trim_end_matches('\n').to_owned())
}

/// An 8-bit grey image.
struct Grey {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl Grey {
    /// A binary PGM (`P5`, 8 bits) as `pdftoppm -gray` writes it.
    fn read_pgm(path: &Path) -> Grey {
        let bytes = std::fs::read(path).unwrap();
        // Four whitespace-separated fields (P5, width, height, maxval), then one whitespace byte.
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 4 {
            while bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let start = i;
            while !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            fields.push(std::str::from_utf8(&bytes[start..i]).unwrap().to_owned());
        }
        assert_eq!(
            (fields[0].as_str(), fields[3].as_str()),
            ("P5", "255"),
            "{path:?}"
        );
        let (width, height) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
        let pixels = bytes[i + 1..].to_vec();
        assert_eq!(pixels.len(), width * height, "{path:?}");
        Grey {
            width,
            height,
            pixels,
        }
    }

    fn write(&self, path: &Path) -> PathBuf {
        let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let mut encoder = png::Encoder::new(file, self.width as u32, self.height as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&self.pixels).unwrap();
        path.to_owned()
    }

    /// Gaussian blur of standard deviation `sigma` pixels (separable, edges clamped).
    fn blurred(&self, sigma: f64) -> Grey {
        let radius = (3.0 * sigma).ceil() as isize;
        let weights: Vec<f64> = (-radius..=radius)
            .map(|i| (-((i * i) as f64) / (2.0 * sigma * sigma)).exp())
            .collect();
        let total: f64 = weights.iter().sum();
        let (w, h) = (self.width as isize, self.height as isize);
        let pass = |src: &[f64], horizontal: bool| -> Vec<f64> {
            let mut out = vec![0.0; src.len()];
            for y in 0..h {
                for x in 0..w {
                    let mut sum = 0.0;
                    for (k, weight) in weights.iter().enumerate() {
                        let d = k as isize - radius;
                        let (sx, sy) = if horizontal {
                            ((x + d).clamp(0, w - 1), y)
                        } else {
                            (x, (y + d).clamp(0, h - 1))
                        };
                        sum += weight * src[(sy * w + sx) as usize];
                    }
                    out[(y * w + x) as usize] = sum / total;
                }
            }
            out
        };
        let src: Vec<f64> = self.pixels.iter().map(|p| f64::from(*p)).collect();
        let out = pass(&pass(&src, true), false);
        Grey {
            width: self.width,
            height: self.height,
            pixels: out
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect(),
        }
    }

    /// Turned by `degrees` (anticlockwise) about the centre, bilinear, white where nothing was.
    fn rotated(&self, degrees: f64) -> Grey {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (cx, cy) = (self.width as f64 / 2.0, self.height as f64 / 2.0);
        let at = |x: isize, y: isize| -> f64 {
            if x < 0 || y < 0 || x >= self.width as isize || y >= self.height as isize {
                255.0
            } else {
                f64::from(self.pixels[y as usize * self.width + x as usize])
            }
        };
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for y in 0..self.height {
            for x in 0..self.width {
                // The source of this pixel: the inverse rotation (image y points down).
                let (dx, dy) = (x as f64 + 0.5 - cx, y as f64 + 0.5 - cy);
                let sx = cos * dx - sin * dy + cx - 0.5;
                let sy = sin * dx + cos * dy + cy - 0.5;
                let (x0, y0) = (sx.floor(), sy.floor());
                let (fx, fy) = (sx - x0, sy - y0);
                let (x0, y0) = (x0 as isize, y0 as isize);
                let v = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + at(x0 + 1, y0) * fx * (1.0 - fy)
                    + at(x0, y0 + 1) * (1.0 - fx) * fy
                    + at(x0 + 1, y0 + 1) * fx * fy;
                pixels.push(v.round().clamp(0.0, 255.0) as u8);
            }
        }
        Grey {
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

/// How a copy of the page is spoilt.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// A 100-dpi render.
    Dpi100,
    /// A 150-dpi render blurred by a Gaussian of σ = 1 px.
    Blurred150,
    /// A 150-dpi render turned by 3°.
    Rotated150,
    /// A 150-dpi render saved as JPEG at quality 30.
    Jpeg150,
}

/// What `zbarimg` reads from `copy` of the page, its images in `dir`.
fn scan(dir: &Path, pdf: &[u8], stem: &str, copy: Damage) -> Option<String> {
    let image = match copy {
        Damage::Dpi100 => rasterise(dir, pdf, stem, 100, "pgm"),
        Damage::Blurred150 => {
            let pgm = rasterise(dir, pdf, stem, 150, "pgm");
            Grey::read_pgm(&pgm)
                .blurred(1.0)
                .write(&dir.join(format!("{stem}-blurred.png")))
        }
        Damage::Rotated150 => {
            let pgm = rasterise(dir, pdf, stem, 150, "pgm");
            Grey::read_pgm(&pgm)
                .rotated(3.0)
                .write(&dir.join(format!("{stem}-rotated.png")))
        }
        Damage::Jpeg150 => rasterise(dir, pdf, stem, 150, "jpeg"),
    };
    decode(&image)
}

/// Asserts that every certificate's QR code reads back exactly from `copy` of its page.
fn decodes_from(copy: Damage) {
    if !tools() {
        return;
    }
    let dir = dir(copy);
    for c in certificates() {
        let pdf = renderer().render(&page(&c)).unwrap();
        assert_eq!(
            scan(&dir, &pdf, c.name, copy).as_deref(),
            Some(c.qr.as_str()),
            "the {} certificate from a {copy:?} copy (images in {dir:?})",
            c.name
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_certificates_scanned_need_the_typical_the_longest_realistic_and_the_largest_code() {
    let versions: Vec<(&str, i16)> = certificates()
        .iter()
        .map(|c| (c.name, qr_version(&c.qr).unwrap()))
        .collect();
    assert_eq!(
        versions,
        [
            ("sixian-sm2", 16),
            ("ningxia-sm2", 17),
            ("largest-sm2", 18),
            ("limit-sm2", MAX_QR_VERSION),
            ("sixian", 13),
            ("ningxia", 15),
            ("local", 13),
            ("largest", tica_credential::qr::MAX_VERSION)
        ]
    );
}

#[test]
fn the_qr_code_decodes_from_a_100_dpi_render_of_every_certificate() {
    decodes_from(Damage::Dpi100);
}

#[test]
fn the_qr_code_decodes_from_a_blurred_150_dpi_render_of_every_certificate() {
    decodes_from(Damage::Blurred150);
}

#[test]
fn the_qr_code_decodes_from_a_150_dpi_render_turned_by_3_degrees() {
    decodes_from(Damage::Rotated150);
}

#[test]
fn the_qr_code_decodes_from_a_150_dpi_render_saved_as_a_quality_30_jpeg() {
    decodes_from(Damage::Jpeg150);
}
