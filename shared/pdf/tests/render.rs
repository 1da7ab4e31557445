//! The certificate PDF end to end: glyphs, subset, QR, text, determinism. The checks that
//! need poppler-utils or zbar-tools skip (with a message) when the tools are absent, unless
//! `TICA_REQUIRE_BROWSER=1`, which makes their absence a failure.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tica_pdf::{CertificatePage, PdfError, Renderer, embedded_qr_text, sample_page};

fn renderer() -> &'static Renderer {
    static R: OnceLock<Renderer> = OnceLock::new();
    R.get_or_init(|| Renderer::new().expect("the renderer"))
}

/// Whether `tool` runs; when it does not, skip (or fail under TICA_REQUIRE_BROWSER=1).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        if std::env::var("TICA_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("{tool} is required (TICA_REQUIRE_BROWSER=1) but not installed");
        }
        eprintln!("skipped: {tool} is not installed (poppler-utils / zbar-tools)");
    }
    ok
}

fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tica-pdf-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn png(pdf: &Path, dpi: u32) -> PathBuf {
    let prefix = pdf.with_extension("");
    run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            &dpi.to_string(),
            "-singlefile",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    prefix.with_extension("png")
}

const RARE: [&str; 10] = ["喆", "堃", "燊", "昇", "珺", "玥", "犇", "淼", "鑫", "垚"];

fn level_page() -> CertificatePage<'static> {
    CertificatePage {
        title: "信息技术应用能力提升工程2.0 能力等级证书",
        achievement: "信息技术应用能力 合格",
        credits_or_hours: Some("学时 50"),
        teacher_name: "欧阳垚",
        // Ningxia's level certificates: the region office, a name set in two lines.
        issuer: "宁夏回族自治区教育厅能力提升2.0办公室",
        ..sample_page()
    }
}

#[test]
fn the_same_page_gives_the_same_bytes() {
    let a = renderer().render(&sample_page()).unwrap();
    let b = renderer().render(&sample_page()).unwrap();
    assert_eq!(a, b);
    // A fresh renderer too (no state carried between documents).
    let c = Renderer::new().unwrap().render(&sample_page()).unwrap();
    assert_eq!(a, c);
    let other = CertificatePage {
        number: "341324-2022-000124",
        ..sample_page()
    };
    assert_ne!(a, renderer().render(&other).unwrap());
}

#[test]
fn the_qr_text_round_trips_through_the_document_information() {
    let pdf = renderer().render(&sample_page()).unwrap();
    assert_eq!(
        embedded_qr_text(&pdf).as_deref(),
        Some(sample_page().qr_text)
    );
    assert_eq!(embedded_qr_text(b"%PDF-1.3 nothing here"), None);
}

#[test]
fn a_certificate_is_at_most_25_kb() {
    for name in ["张喆", "李明", "欧阳晓华"] {
        for page in [sample_page(), level_page()] {
            let pdf = renderer()
                .render(&CertificatePage {
                    teacher_name: name,
                    school: "泗县大路口乡中心小学",
                    ..page
                })
                .unwrap();
            assert!(pdf.len() <= 25 * 1024, "{} bytes", pdf.len());
            assert!(pdf.starts_with(b"%PDF-"));
        }
    }
}

#[test]
fn a_character_the_font_lacks_is_refused() {
    // U+2A6A5 (CJK Extension B) is neither in WenQuanYi Micro Hei nor in the fallback's cut.
    let page = CertificatePage {
        teacher_name: "王\u{2A6A5}",
        ..sample_page()
    };
    assert!(matches!(
        renderer().render(&page),
        Err(PdfError::MissingGlyph('\u{2A6A5}'))
    ));
    // Nor is 😀 in either font.
    let page = CertificatePage {
        teacher_name: "张😀",
        ..sample_page()
    };
    assert!(matches!(
        renderer().render(&page),
        Err(PdfError::MissingGlyph('😀'))
    ));
}

#[test]
fn a_qr_text_outside_the_alphabet_or_too_long_is_refused() {
    let lower = CertificatePage {
        qr_text: "https://x/c/1#abc",
        ..sample_page()
    };
    assert!(matches!(
        renderer().render(&lower),
        Err(PdfError::QrText('h'))
    ));
    let long = "A".repeat(700);
    let page = CertificatePage {
        qr_text: &long,
        ..sample_page()
    };
    assert!(matches!(
        renderer().render(&page),
        Err(PdfError::QrTooLong(700))
    ));
}

#[test]
fn the_font_is_embedded_as_a_cid_truetype_subset() {
    if !have("pdffonts") {
        return;
    }
    let path = write_temp("fonts.pdf", &renderer().render(&sample_page()).unwrap());
    let out = run("pdffonts", &[path.to_str().unwrap()]);
    let line = out.lines().nth(2).expect("one font");
    assert!(line.contains("+WenQuanYiMicroHei"), "{out}");
    assert!(line.contains("CID TrueType"), "{out}");
    assert!(line.contains("Identity-H"), "{out}");
    let flags: Vec<&str> = line.split_whitespace().collect();
    // name type… encoding emb sub uni object ID
    let n = flags.len();
    assert_eq!(&flags[n - 5..n - 2], &["yes", "yes", "yes"], "{out}");
    assert_eq!(out.lines().count(), 3, "exactly one font: {out}");
}

#[test]
fn a_rare_name_character_renders_and_extracts() {
    if !have("pdftotext") || !have("pdftoppm") {
        return;
    }
    for (i, rare) in RARE.iter().enumerate() {
        let name = format!("王{rare}");
        let page = CertificatePage {
            teacher_name: &name,
            ..if i % 2 == 0 {
                sample_page()
            } else {
                level_page()
            }
        };
        let pdf = renderer().render(&page).unwrap();
        let path = write_temp(&format!("rare-{i}.pdf"), &pdf);
        let text = run("pdftotext", &[path.to_str().unwrap(), "-"]);
        let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(flat.contains(&format!("{name}老师")), "{rare}: {text}");
        assert!(flat.contains(page.issuer), "{text}");
        assert!(flat.contains("证书编号341324-2022-000123"), "{text}");
        assert!(flat.contains("特发此证"), "{text}");
        assert!(flat.contains("6401**********123X"), "{text}");
        // Renders without complaint.
        let out = Command::new("pdftoppm")
            .args(["-png", "-r", "30", "-singlefile", path.to_str().unwrap()])
            .arg(path.with_extension("").to_str().unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Both kinds read as an office writes them: quotation marks are the mainland's “”
/// (GB/T 15834-2011 标点符号用法 §4.1; 「」 belong to vertical text, Taiwan and Hong Kong).
#[test]
fn both_kinds_of_certificate_read_right() {
    if !have("pdftotext") {
        return;
    }
    let micro = write_temp("micro.pdf", &renderer().render(&sample_page()).unwrap());
    let flat = |p: &Path| -> String {
        run("pdftotext", &[p.to_str().unwrap(), "-"])
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    };
    let m = flat(&micro);
    assert!(m.contains("微能力认证证书"), "{m}");
    assert!(
        m.contains(
            "所提交的“B2微课程设计与制作”能力点成果经考核，认定为“合格”（学分2），特发此证。"
        ),
        "{m}"
    );
    let level = write_temp("level.pdf", &renderer().render(&level_page()).unwrap());
    let l = flat(&level);
    assert!(l.contains("能力等级证书"), "{l}");
    assert!(
        l.contains("经考核，信息技术应用能力等级认定为“合格”（学时50），特发此证。"),
        "{l}"
    );
    assert!(l.contains("您作为泗县第一中学教师"), "{l}");
    // The issuer reads whole, in order, above the date.
    assert!(
        l.contains("宁夏回族自治区教育厅能力提升2.0办公室2022年12月30日"),
        "{l}"
    );
}

#[test]
fn the_printed_qr_code_decodes_to_the_qr_text() {
    if !have("pdftoppm") || !have("zbarimg") {
        return;
    }
    for page in [sample_page(), level_page()] {
        let path = write_temp("qr.pdf", &renderer().render(&page).unwrap());
        let image = png(&path, 200);
        let out = run("zbarimg", &["-q", "--raw", image.to_str().unwrap()]);
        assert_eq!(out.trim_end_matches('\n'), page.qr_text);
    }
}

#[test]
fn the_verification_address_and_code_are_printed_under_the_qr_code() {
    if !have("pdftotext") {
        return;
    }
    let flat = |page: &CertificatePage<'_>, name: &str| -> String {
        let path = write_temp(name, &renderer().render(page).unwrap());
        run("pdftotext", &[path.to_str().unwrap(), "-"])
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect()
    };
    let both = flat(&sample_page(), "verification.pdf");
    assert!(
        both.contains("扫码验证查验网址verify.ahedu.gov.cn/v验证码7K3MQ-X9PDA"),
        "{both}"
    );
    let address = CertificatePage {
        verification_code: "",
        verification_address: "zhengshu.jyt.nx.gov.cn/verify/certificate",
        ..level_page()
    };
    let only_address = flat(&address, "address.pdf");
    assert!(
        only_address.contains("查验网址zhengshu.jyt.nx.gov.cn/verify/certificate"),
        "{only_address}"
    );
    assert!(!only_address.contains("验证码"), "{only_address}");
    let neither = CertificatePage {
        verification_code: "",
        verification_address: "",
        ..sample_page()
    };
    let bare = flat(&neither, "bare.pdf");
    assert!(
        bare.contains("扫码验证") && !bare.contains("查验网址") && !bare.contains("验证码"),
        "{bare}"
    );
}

/// Issue 16: real names use CJK Extension B characters (𠀀 U+20000, 𠯿 U+20BFF, 𡈼 U+2123C
/// from HKSCS, 𠮟 U+20B9F from JIS X 0213); the main font has none of them.
const EXTENSION_B: [&str; 4] = ["𠀀明", "张𠯿", "𡈼华", "李𠮟"];

#[test]
fn a_cjk_extension_b_name_character_prints_from_the_fallback_font() {
    for name in EXTENSION_B {
        let page = CertificatePage {
            teacher_name: name,
            ..sample_page()
        };
        let pdf = renderer()
            .render(&page)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(tica_pdf::unprintable(name), None, "{name}");
        assert_eq!(pdf, renderer().render(&page).unwrap(), "same bytes");
        if !have("pdftotext") || !have("pdffonts") || !have("pdftoppm") {
            continue;
        }
        let path = write_temp(&format!("ext-b-{name}.pdf"), &pdf);
        let text = run("pdftotext", &[path.to_str().unwrap(), "-"]);
        let flat: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(flat.contains(&format!("{name}老师")), "{name}: {text}");
        assert!(flat.contains("特发此证"), "{text}");
        // Two embedded subsets: the main font and the fallback.
        let fonts = run("pdffonts", &[path.to_str().unwrap()]);
        assert_eq!(fonts.lines().count(), 4, "two fonts: {fonts}");
        assert!(fonts.contains("+HanaMinB"), "{fonts}");
        for line in fonts.lines().skip(2) {
            assert!(line.contains("CID TrueType"), "{fonts}");
            let flags: Vec<&str> = line.split_whitespace().collect();
            let n = flags.len();
            assert_eq!(&flags[n - 5..n - 2], &["yes", "yes", "yes"], "{fonts}");
        }
        let out = Command::new("pdftoppm")
            .args(["-png", "-r", "30", "-singlefile", path.to_str().unwrap()])
            .arg(path.with_extension("").to_str().unwrap())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn a_fallback_name_keeps_the_certificate_small() {
    let page = CertificatePage {
        teacher_name: "𠀀明",
        ..sample_page()
    };
    let pdf = renderer().render(&page).unwrap();
    assert!(pdf.len() <= 30 * 1024, "{} bytes", pdf.len());
}

#[test]
fn unprintable_names_the_first_character_no_certificate_can_print() {
    assert_eq!(tica_pdf::unprintable("张😀"), Some('😀'));
    assert_eq!(tica_pdf::unprintable("王\u{2A6A5}"), Some('\u{2A6A5}'));
    assert_eq!(tica_pdf::unprintable("张\u{7}三"), Some('\u{7}'));
    assert_eq!(tica_pdf::unprintable("张\n三"), Some('\n'));
    assert_eq!(tica_pdf::unprintable("欧阳垚 Zhang"), None);
    assert_eq!(tica_pdf::unprintable("𠀀明"), None);
    assert_eq!(tica_pdf::describe('😀'), "U+1F600 😀");
    assert_eq!(tica_pdf::describe('\u{7}'), "U+0007");
    // The same rule as the renderer's: what unprintable accepts renders, what it refuses
    // does not.
    for name in ["张😀", "王\u{2A6A5}", "𠀀明", "欧阳垚", "马哈麦提·艾力"] {
        let page = CertificatePage {
            teacher_name: name,
            ..sample_page()
        };
        match tica_pdf::unprintable(name) {
            None => assert!(renderer().render(&page).is_ok(), "{name}"),
            Some(c) => assert!(
                matches!(renderer().render(&page), Err(PdfError::MissingGlyph(m)) if m == c),
                "{name}"
            ),
        }
    }
}

#[test]
fn an_offices_seal_is_printed_over_its_issuer_and_date_which_still_read() {
    if !have("pdftoppm") || !have("pdftotext") || !have("zbarimg") {
        return;
    }
    let seal = tica_pdf::Seal::from_png(&tica_pdf::test_seal_png(400)).unwrap();
    let page = CertificatePage {
        seal: Some(&seal),
        ..level_page()
    };
    let pdf = renderer().render(&page).unwrap();
    assert_eq!(
        pdf,
        renderer().render(&page).unwrap(),
        "same bytes every time"
    );
    let path = write_temp("sealed.pdf", &pdf);
    // The issuer and date read through it, and the QR code still scans.
    let text: String = run("pdftotext", &[path.to_str().unwrap(), "-"])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(
        text.contains("宁夏回族自治区教育厅能力提升2.0办公室2022年12月30日"),
        "{text}"
    );
    let image = png(&path, 100);
    let out = run("zbarimg", &["-q", "--raw", image.to_str().unwrap()]);
    assert_eq!(out.trim_end_matches('\n'), page.qr_text);
    // Red ink where the seal sits (62 mm from the right edge, 81 mm from the bottom), none
    // where the unsealed page has none.
    let red_near = |path: &Path| -> usize {
        let decoder =
            ::png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        let (w, h) = (info.width as usize, info.height as usize);
        let px_per_mm = w as f64 / 210.0;
        let (cx, cy) = (
            ((210.0 - 62.0) * px_per_mm) as usize,
            ((297.0 - 81.0) * px_per_mm) as usize,
        );
        let r = (21.0 * px_per_mm) as usize;
        let channels = info.color_type.samples();
        let mut red = 0;
        for y in cy.saturating_sub(r)..(cy + r).min(h) {
            for x in cx.saturating_sub(r)..(cx + r).min(w) {
                let p = &buf[(y * w + x) * channels..];
                if p[0] > 150 && p[1] < 110 && p[2] < 110 {
                    red += 1;
                }
            }
        }
        red
    };
    let unsealed = png(
        &write_temp("unsealed.pdf", &renderer().render(&level_page()).unwrap()),
        100,
    );
    assert_eq!(red_near(&unsealed), 0);
    assert!(red_near(&image) > 2000, "{} red pixels", red_near(&image));
}
