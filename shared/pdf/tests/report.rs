//! The county summary PDF end to end (feature `report`): it parses, embeds a font subset,
//! carries its Chinese labels as text, renders every page to a non-blank PNG, refuses a
//! character the font lacks, and gives the same bytes for the same summary. The checks that
//! need poppler-utils skip (with a message) when the tools are absent, unless
//! `TICA_REQUIRE_BROWSER=1`.
#![cfg(feature = "report")]

use std::path::{Path, PathBuf};
use std::process::Command;

use tica_pdf::PdfError;
use tica_pdf::report::{
    AgreementRow, CountySummary, RoundFigures, RoundOutcome, SCHOOLS_PER_PAGE, SchoolRow,
    render_county_summary, sample_summary,
};

/// Whether `tool` runs; when it does not, skip (or fail under TICA_REQUIRE_BROWSER=1).
fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-v").output().is_ok();
    if !ok {
        if std::env::var("TICA_REQUIRE_BROWSER").as_deref() == Ok("1") {
            panic!("{tool} is required (TICA_REQUIRE_BROWSER=1) but not installed");
        }
        eprintln!("SKIPPED: {tool} is not installed (poppler-utils)");
    }
    ok
}

fn dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tica-pdf-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir().join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn run(tool: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(tool).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A county with more schools than fit one page, to exercise pagination.
fn big_summary() -> CountySummary {
    let mut s = sample_summary();
    let base = s.schools.clone();
    for k in 0..4 {
        for (i, r) in base.iter().enumerate() {
            s.schools.push(SchoolRow {
                code: format!("{}{k}", r.code),
                name: format!("{}分校{}", r.name, k + 1),
                passed: r.passed - (k + i as i64) % 4,
                ..r.clone()
            });
        }
    }
    s
}

fn page_count(pdf: &Path) -> usize {
    let (info, _) = run("pdfinfo", &[pdf.to_str().unwrap()]);
    info.lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("pdfinfo prints Pages:")
}

/// Share of pixels that are not (near) white.
fn ink_share(png_path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(png_path).unwrap(),
    ));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let bytes = &buf[..info.buffer_size()];
    let pixels = bytes.len() / channels;
    let inked = bytes
        .chunks(channels)
        .filter(|p| p.iter().take(3).any(|v| *v < 200))
        .count();
    inked as f64 / pixels as f64
}

#[test]
fn the_same_summary_gives_the_same_bytes_and_a_pdf() {
    let a = render_county_summary(&sample_summary()).unwrap();
    let b = render_county_summary(&sample_summary()).unwrap();
    assert_eq!(a, b);
    assert!(a.starts_with(b"%PDF-"));
    let doc = lopdf_pages(&a);
    // Overview, pass rates, agreement, draw.
    assert_eq!(doc, 4);
    assert!(a.len() < 400 * 1024, "{} bytes", a.len());
}

fn lopdf_pages(bytes: &[u8]) -> usize {
    // Count page objects without a parser dependency: "/Type /Page" not followed by "s".
    let needle = b"/Type /Page";
    let alt = b"/Type/Page";
    let count = |n: &[u8]| {
        bytes
            .windows(n.len() + 1)
            .filter(|w| &w[..n.len()] == n && w[n.len()] != b's')
            .count()
    };
    count(needle) + count(alt)
}

#[test]
fn a_character_the_font_lacks_is_refused() {
    let mut s = sample_summary();
    s.schools[0].name = "泗县🙂小学".into();
    match render_county_summary(&s) {
        Err(PdfError::MissingGlyph(c)) => assert_eq!(c, '🙂'),
        other => panic!("{:?}", other.map(|b| b.len())),
    }
}

#[test]
fn an_empty_county_still_renders() {
    let s = CountySummary {
        county_name: "泗县".into(),
        year: 2022,
        ..Default::default()
    };
    let pdf = render_county_summary(&s).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let mut one = CountySummary {
        county_name: "泗县".into(),
        year: 2022,
        schools: vec![sample_summary().schools[0].clone()],
        ..Default::default()
    };
    one.agreement = vec![AgreementRow {
        code: "1".into(),
        name: "泗县第一中学".into(),
        rounds: vec![RoundFigures {
            compared: 3,
            agreements: 3,
            outcome: RoundOutcome::Undecided,
        }],
    }];
    render_county_summary(&one).unwrap();
}

#[test]
fn fonts_text_and_rendered_pages() {
    let big = big_summary();
    assert!(big.schools.len() > SCHOOLS_PER_PAGE);
    let bytes = render_county_summary(&big).unwrap();
    let pdf = write("county-summary.pdf", &bytes);
    if !have("pdffonts") {
        return;
    }
    // One embedded subset font, Unicode-mapped.
    let (fonts, _) = run("pdffonts", &[pdf.to_str().unwrap()]);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert_eq!(rows.len(), 1, "{fonts}");
    let cols: Vec<&str> = rows[0].split_whitespace().collect();
    assert!(cols[0].contains('+'), "a subset tag: {fonts}");
    assert_eq!(
        &cols[cols.len() - 5..cols.len() - 2],
        ["yes", "yes", "yes"],
        "{fonts}"
    );

    // Labels are text.
    let (text, _) = run("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
    for needle in [
        "泗县 2022年 县级总结",
        "合格率",
        "优秀率",
        "多媒体教学环境",
        "学情分析",
        "各校合格率与优秀率（1/2）",
        "各校复核一致率",
        "黄圩镇喆堃小学",
        "退回重评",
        "首轮",
        "C7",
        "公开种子",
        "第1页共5页",
    ] {
        // pdftotext drops the spaces between hanzi; compare without spaces.
        let squeezed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let needle: String = needle.chars().filter(|c| !c.is_whitespace()).collect();
        assert!(
            squeezed.contains(&needle),
            "{needle:?} missing from:\n{text}"
        );
    }
    assert_eq!(page_count(&pdf), 5);

    // What an office acts on comes first (issue 21: the sent-back schools were on page 6 of 9):
    // the review's page follows the overview, and a school sent back heads it, above schools
    // that agreed better.
    let (second, _) = run(
        "pdftotext",
        &["-f", "2", "-l", "2", pdf.to_str().unwrap(), "-"],
    );
    let second: String = second.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(second.contains("各校复核一致率"), "page 2:\n{second}");
    let sent_back = &sample_summary().agreement[4].name;
    let first_passed = &sample_summary().agreement[0].name;
    let at = |name: &str| {
        second
            .find(name)
            .unwrap_or_else(|| panic!("{name} in {second}"))
    };
    assert!(
        at(sent_back) < at(first_passed),
        "the sent-back {sent_back} before {first_passed}:\n{second}"
    );

    // Every page renders, without complaints, and is not blank.
    let prefix = dir().join("page");
    let (_, stderr) = run(
        "pdftoppm",
        &[
            "-png",
            "-r",
            "60",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    assert!(stderr.trim().is_empty(), "pdftoppm: {stderr}");
    for n in 1..=5 {
        let png_path = dir().join(format!("page-{n}.png"));
        assert!(png_path.exists(), "{png_path:?}");
        let share = ink_share(&png_path);
        // Chart pages carry bars; the last page (the draw) is text only.
        let least = if n < 5 { 0.02 } else { 0.005 };
        assert!(share > least, "page {n} is nearly blank ({share:.3})");
    }
    if let Ok(out) = std::env::var("TICA_REPORT_PNG_DIR") {
        for n in 1..=5 {
            std::fs::copy(
                dir().join(format!("page-{n}.png")),
                Path::new(&out).join(format!("county-summary-p{n}.png")),
            )
            .unwrap();
        }
    }
}
