//! The county summary report: a few A4 pages of key figures and charts in Chinese, for the
//! office to hand upward (feature `report`).
//!
//! [`CountySummary`] is plain data — a client fills it from the assessment and sampling
//! services' figures (`ListProgress`, `ListMicroCompetencyProgress`, `ListUnitAgreements`,
//! `ListReviewRounds`); [`render_county_summary`] lays it out:
//!
//! 1. title, key figures, 环境 × 维度 (grouped bars) and 各微能力选择人数 (one bar per code);
//! 2. 各校合格率与优秀率 — horizontal stacked bars sorted by pass rate with the county
//!    average, [`SCHOOLS_PER_PAGE`] schools a page;
//! 3. 各校复核一致率 — the latest round's agreement per drawn school against the threshold,
//!    the first round of a school sent back for re-grading in red with a 退回重评 tag;
//! 4. the draw (seed, population hash), when given.
//!
//! The charts are drawn by plotters into a vector backend that emits printpdf operations
//! (`chart.rs`): every label is text in the embedded subset of the shipped font, so it can
//! be extracted and searched, and a character the font lacks is refused
//! ([`PdfError::MissingGlyph`]) rather than printed as a box. The same summary gives the same
//! bytes (document id and dates come from the summary).

mod chart;
mod pages;

use std::io::Write as _;
use std::sync::{Once, OnceLock};

use printpdf::{FontId, Mm, Op, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions, PdfWarnMsg};

use crate::PdfError;
use crate::font::{FONT_BYTES, Fonts};

/// Schools per page on the pass-rate and agreement pages.
pub const SCHOOLS_PER_PAGE: usize = 40;

/// A county's year in figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CountySummary {
    /// The county, e.g. "泗县".
    pub county_name: String,
    /// The assessment year, e.g. 2022.
    pub year: i32,
    /// The policy in force, e.g. "泗县 2022（皖教师〔2021〕2号）".
    pub policy_label: String,
    /// The date the figures stand at, printed as given, e.g. "2022年12月30日"; also the
    /// PDF's creation date when in that form.
    pub as_of: String,
    /// The county's totals.
    pub totals: Totals,
    /// Per school (any order; the charts sort).
    pub schools: Vec<SchoolRow>,
    /// Per micro-competency, in the order the chart shows them (e.g. A1 … C8).
    pub codes: Vec<CodeRow>,
    /// Review agreement per school drawn in the county review.
    pub agreement: Vec<AgreementRow>,
    /// The agreement a unit needs, ‰ (e.g. 800); drawn as the threshold line.
    pub threshold_permille: i32,
    /// The county review's draw, when there was one.
    pub draw: Option<DrawNote>,
}

/// The county's totals (counts of teachers unless named otherwise).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Teachers taking part.
    pub participants: i64,
    /// Whose selection was accepted.
    pub selected: i64,
    /// Who met the hours rule.
    pub hours_met: i64,
    /// Who submitted everything.
    pub submitted: i64,
    /// Graded teachers.
    pub graded: i64,
    /// Passed (excellent included).
    pub passed: i64,
    /// Excellent.
    pub excellent: i64,
    /// Certificates in force (issued and not revoked).
    pub certificates: i64,
    /// Schools drawn in the county review.
    pub drawn_schools: i64,
    /// Teachers drawn in the county review.
    pub drawn_teachers: i64,
    /// Schools sent back for re-grading.
    pub sent_back_schools: i64,
    /// Re-grades compared in the county review, over every round.
    pub compared: i64,
    /// Of which agreeing.
    pub agreements: i64,
}

/// One school's grading figures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchoolRow {
    /// The school code.
    pub code: String,
    /// The school's name.
    pub name: String,
    /// Teachers taking part.
    pub participants: i64,
    /// Teachers graded.
    pub graded: i64,
    /// Passed (excellent included).
    pub passed: i64,
    /// Excellent.
    pub excellent: i64,
    /// The school's grade as printed ("优秀", "合格", …; empty for none).
    pub grade_label: String,
}

/// One micro-competency's popularity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodeRow {
    /// "A1" … "C8".
    pub code: String,
    /// e.g. "学情分析".
    pub name: String,
    /// The environment's name, e.g. "多媒体教学环境".
    pub environment: String,
    /// The dimension's name, e.g. "学情分析".
    pub dimension: String,
    /// Teachers who selected it.
    pub selected: i64,
    /// Submissions of it that passed.
    pub passed: i64,
}

/// How a review round ended for a unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RoundOutcome {
    /// Not decided yet.
    #[default]
    Undecided,
    /// Agreement met.
    Passed,
    /// Agreement not met; sent back for re-grading.
    SentBack,
    /// Nothing drawn; passed when the round closed.
    PassedNotDrawn,
}

/// One round's figures for a school.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundFigures {
    /// Re-grades compared.
    pub compared: i64,
    /// Of which agreeing.
    pub agreements: i64,
    /// The round's outcome for the school.
    pub outcome: RoundOutcome,
}

/// A school's agreement across the county review's rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgreementRow {
    /// The school code.
    pub code: String,
    /// The school's name.
    pub name: String,
    /// The rounds that drew the school, oldest first.
    pub rounds: Vec<RoundFigures>,
}

/// The county review's draw, so that anyone can repeat it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrawNote {
    /// The public seed.
    pub seed: String,
    /// Where the seed came from, e.g. "2022年12月1日 体彩排列5 开奖号码".
    pub seed_note: String,
    /// SHA-256 of the frozen population, hex.
    pub population_sha256: String,
    /// The round, e.g. "reviewRounds/…".
    pub round: String,
}

fn fonts() -> Result<&'static Fonts, PdfError> {
    static FONTS: OnceLock<Fonts> = OnceLock::new();
    if let Some(f) = FONTS.get() {
        return Ok(f);
    }
    let loaded = Fonts::load()?;
    Ok(FONTS.get_or_init(|| loaded))
}

/// plotters measures multi-line text with its own font table: register the shipped font for
/// every family once.
fn register_plotters_fonts() -> Result<(), PdfError> {
    static ONCE: Once = Once::new();
    static FAILED: OnceLock<bool> = OnceLock::new();
    ONCE.call_once(|| {
        let mut ok = true;
        for family in ["sans-serif", "serif", "monospace"] {
            ok &= plotters::style::register_font(
                family,
                plotters::style::FontStyle::Normal,
                FONT_BYTES,
            )
            .is_ok();
        }
        let _ = FAILED.set(!ok);
    });
    if FAILED.get().copied().unwrap_or(false) {
        return Err(PdfError::Render("plotters refused the shipped font".into()));
    }
    Ok(())
}

/// The county summary as PDF bytes (A4 portrait, several pages); the same summary always
/// gives the same bytes.
pub fn render_county_summary(summary: &CountySummary) -> Result<Vec<u8>, PdfError> {
    register_plotters_fonts()?;
    let fonts = fonts()?;
    // Lay out with the whole face (the pre-cut one has the same advances), then embed the
    // pre-cut face when it holds every printed character.
    let placeholder = FontId("TICAREPORT".into());
    let laid = pages::compose(&fonts.full, &placeholder, summary)?;
    let printed: String = laid
        .printed
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let mut common = true;
    for c in printed.chars() {
        if fonts.common.glyph(c).is_none() {
            common = false;
            break;
        }
    }
    let face = if common { &fonts.common } else { &fonts.full };

    let font_id = FontId(crate::subset_tag(&printed));
    let handle = PdfFontHandle::External(font_id.clone());
    let title = format!("{} {}年 县级总结", summary.county_name, summary.year);
    let mut doc = PdfDocument::new(&title);
    doc.resources
        .fonts
        .map
        .insert(font_id, printpdf::PdfFont::new(face.parsed.clone()));
    for mut ops in laid.pages {
        for op in &mut ops {
            if let Op::SetFont { font, .. } = op {
                *font = handle.clone();
            }
        }
        doc.pages.push(PdfPage::new(Mm(210.0), Mm(297.0), ops));
    }
    let options = PdfSaveOptions {
        optimize: false,
        subset_fonts: true,
        secure: true,
        image_optimization: None,
    };
    let mut warnings: Vec<PdfWarnMsg> = Vec::new();
    let mut lo = doc.to_lopdf_document(&options, &mut warnings);
    finish(&mut lo, summary, &title, &printed)?;
    let mut out = Vec::with_capacity(64 * 1024);
    lo.save_to(&mut out)
        .map_err(|e| PdfError::Render(format!("writing the PDF: {e}")))?;
    Ok(out)
}

/// Compression, deterministic information and id.
fn finish(
    doc: &mut lopdf::Document,
    summary: &CountySummary,
    title: &str,
    printed: &str,
) -> Result<(), PdfError> {
    use lopdf::{Object, StringFormat};

    for object in doc.objects.values_mut() {
        if let Object::Stream(stream) = object {
            if stream.dict.has(b"Filter") || stream.content.len() < 64 {
                continue;
            }
            let font = stream.dict.has(b"Length1");
            if font
                && let Some(lean) = crate::without_tables(&stream.content, &[*b"name", *b"post"])
            {
                stream.dict.set("Length1", lean.len() as i64);
                stream.set_content(lean);
            }
            let mut z = flate2::write::ZlibEncoder::new(
                Vec::with_capacity(stream.content.len() / 2),
                flate2::Compression::new(if font {
                    crate::FONT_COMPRESSION
                } else {
                    crate::CONTENT_COMPRESSION
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

    let date = crate::pdf_date(&summary.as_of).unwrap_or_else(|| "D:20000101000000+08'00'".into());
    let utf16 = |s: &str| {
        let mut bytes = vec![0xfe, 0xff];
        for unit in s.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    };
    let ascii = |s: &str| Object::String(s.as_bytes().to_vec(), StringFormat::Literal);
    let info = lopdf::Dictionary::from_iter(vec![
        ("Title", utf16(title)),
        ("Subject", utf16(&summary.policy_label)),
        ("Creator", ascii("TICA")),
        ("Producer", ascii("tica-pdf report (printpdf, plotters)")),
        ("CreationDate", ascii(&date)),
        ("ModDate", ascii(&date)),
    ]);
    let info_id = doc
        .trailer
        .get(b"Info")
        .and_then(Object::as_reference)
        .map_err(|e| PdfError::Render(format!("no document information: {e}")))?;
    doc.objects.insert(info_id, Object::Dictionary(info));

    let mut id = crate::fnv1a(title.as_bytes()).to_be_bytes().to_vec();
    id.extend_from_slice(&crate::fnv1a(printed.as_bytes()).to_be_bytes());
    let id = Object::String(id, StringFormat::Hexadecimal);
    doc.trailer.set("ID", Object::Array(vec![id.clone(), id]));
    Ok(())
}

/// A realistic small county (a dozen schools, one sent back and re-graded, a school name
/// with 喆 and 堃 outside GB 2312) for tests, benches and demos.
pub fn sample_summary() -> CountySummary {
    let names = [
        "泗县第一中学",
        "泗县第二中学",
        "泗城镇中心小学",
        "草沟镇中心小学",
        "大庄镇初级中学",
        "墩集镇中心幼儿园",
        "屏山镇九年一贯制学校",
        "黄圩镇喆堃小学",
        "长沟镇中心学校",
        "丁湖镇中心小学",
        "刘圩镇实验小学",
        "泗县实验幼儿园",
    ];
    let schools: Vec<SchoolRow> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let i = i as i64;
            let participants = 20 + (i * 37) % 90;
            let graded = participants - i % 3;
            let passed = graded - (i * 7) % 9;
            let excellent = passed * (10 + (i * 13) % 30) / 100;
            SchoolRow {
                code: format!("3413240{:05}", 101 + i),
                name: (*name).to_owned(),
                participants,
                graded,
                passed,
                excellent,
                grade_label: if passed * 100 >= graded * 95 {
                    "优秀"
                } else {
                    "合格"
                }
                .into(),
            }
        })
        .collect();
    let environments = ["多媒体教学环境", "混合式教学环境", "智慧教学环境"];
    let dimensions = ["学情分析", "教学设计", "学法指导", "学业评价"];
    let mut codes = Vec::new();
    for (e, env) in environments.iter().enumerate() {
        let letter = char::from(b'A' + e as u8);
        let mut n = 0;
        for (d, dim) in dimensions.iter().enumerate() {
            // 智慧教学环境 has no 学情分析 micro-competency.
            let per = if e == 2 && d == 0 {
                0
            } else if d == 1 {
                3
            } else {
                2
            };
            for k in 0..per {
                n += 1;
                let selected = 40 + ((e * 131 + d * 57 + k * 29) % 220) as i64 / (e as i64 + 1);
                codes.push(CodeRow {
                    code: format!("{letter}{n}"),
                    name: format!("{dim}{}", k + 1),
                    environment: (*env).to_owned(),
                    dimension: (*dim).to_owned(),
                    selected,
                    passed: selected * 9 / 10,
                });
            }
        }
    }
    let agreement: Vec<AgreementRow> = schools
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0 || *i == 7)
        .map(|(i, s)| {
            let compared = 12 + (i as i64 * 5) % 10;
            let rounds = if i == 7 {
                vec![
                    RoundFigures {
                        compared,
                        agreements: compared * 6 / 10,
                        outcome: RoundOutcome::SentBack,
                    },
                    RoundFigures {
                        compared,
                        agreements: compared * 9 / 10,
                        outcome: RoundOutcome::Passed,
                    },
                ]
            } else {
                vec![RoundFigures {
                    compared,
                    agreements: compared - (i as i64 % 3),
                    outcome: RoundOutcome::Passed,
                }]
            };
            AgreementRow {
                code: s.code.clone(),
                name: s.name.clone(),
                rounds,
            }
        })
        .collect();
    let sum = |f: fn(&SchoolRow) -> i64| schools.iter().map(f).sum::<i64>();
    let compared: i64 = agreement
        .iter()
        .flat_map(|a| &a.rounds)
        .map(|r| r.compared)
        .sum();
    let agreements: i64 = agreement
        .iter()
        .flat_map(|a| &a.rounds)
        .map(|r| r.agreements)
        .sum();
    let participants = sum(|s| s.participants);
    CountySummary {
        county_name: "泗县".into(),
        year: 2022,
        policy_label: "泗县 2022（安徽省提升工程2.0 县级方案）".into(),
        as_of: "2022年12月30日".into(),
        totals: Totals {
            participants,
            selected: participants - 3,
            hours_met: participants - 11,
            submitted: participants - 14,
            graded: sum(|s| s.graded),
            passed: sum(|s| s.passed),
            excellent: sum(|s| s.excellent),
            certificates: sum(|s| s.passed) * 3,
            drawn_schools: agreement.len() as i64,
            drawn_teachers: 48,
            sent_back_schools: 1,
            compared,
            agreements,
        },
        schools,
        codes,
        agreement,
        threshold_permille: 800,
        draw: Some(DrawNote {
            seed: "20221201-58213".into(),
            seed_note: "2022年12月1日 体彩排列5 开奖号码".into(),
            population_sha256: "9f2c4e0b7a51d3e86c0f4b2a1d9e7c3b5a8f6e2d4c1b0a9f8e7d6c5b4a3f2e1d"
                .into(),
            round: "reviewRounds/0193c1d2-sx-2022-county".into(),
        }),
    }
}
