//! Where everything goes on the summary's pages (A4 portrait, points from the lower left).

use std::ops::Range;

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::Color as _;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use printpdf::{Color, FontId, Op};

use super::chart::{Align, Canvas, ChartBackend, rgb};
use super::{CountySummary, RoundOutcome, SCHOOLS_PER_PAGE, SchoolRow};
use crate::PdfError;
use crate::font::Face;

const PAGE_W: f32 = crate::layout::PAGE_W;
const PAGE_H: f32 = crate::layout::PAGE_H;
const MARGIN: f32 = 40.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
/// Height of one school's band on the bar-chart pages, in points.
const ROW_H: f32 = 16.0;
/// Where the figures beside the percentage bars start (in the axis's per cent): a column right
/// of 100 %, so that no bar or threshold line runs through them.
const LABEL_X: f64 = 101.5;

/// The composed pages and everything they print.
pub(crate) struct Laid {
    pub(crate) pages: Vec<Vec<Op>>,
    pub(crate) printed: String,
}

fn ink() -> Color {
    rgb(28, 28, 31)
}
fn grey() -> Color {
    rgb(107, 107, 112)
}
fn rule() -> Color {
    rgb(200, 200, 205)
}
fn accent() -> Color {
    rgb(161, 23, 28)
}

/// Environment colours (in the order environments first appear) for plotters and pages.
const ENV_COLOURS: [(u8, u8, u8); 4] = [
    (49, 130, 189),
    (230, 126, 34),
    (39, 174, 96),
    (142, 68, 173),
];
const EXCELLENT: (u8, u8, u8) = (33, 102, 172);
const PASSED: (u8, u8, u8) = (146, 197, 222);
const AGREE: (u8, u8, u8) = (39, 140, 110);
const SENT_BACK: (u8, u8, u8) = (203, 24, 29);
const PENDING: (u8, u8, u8) = (170, 170, 170);

fn plot(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}
fn page(c: (u8, u8, u8)) -> Color {
    rgb(c.0, c.1, c.2)
}

fn render_error(e: impl std::fmt::Display) -> PdfError {
    PdfError::Render(format!("drawing a chart: {e}"))
}

/// A share as a percentage with one decimal, "—" when the whole is 0.
fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

fn rate(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

/// A linear axis labelled exactly at the given values (a bar's centre, round percentages).
struct Keyed {
    range: Range<f64>,
    keys: Vec<f64>,
}

fn keyed(range: Range<f64>, keys: Vec<f64>) -> Keyed {
    Keyed { range, keys }
}

/// An axis of `n` bands 1 wide, labelled at their centres.
fn bands(n: usize) -> Keyed {
    keyed(0f64..n as f64, (0..n).map(|i| i as f64 + 0.5).collect())
}

impl Ranged for Keyed {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = (self.range.end - self.range.start).max(f64::EPSILON);
        let share = (value - self.range.start) / span;
        limit.0 + (share * f64::from(limit.1 - limit.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.keys.clone()
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Lays out every page of `summary` measuring with `face`; text uses `font`.
pub(crate) fn compose(
    face: &Face,
    font: &FontId,
    summary: &CountySummary,
) -> Result<Laid, PdfError> {
    let mut pages: Vec<Canvas<'_>> = Vec::new();

    let mut first = Canvas::new(face, font);
    overview(&mut first, summary)?;
    pages.push(first);

    // What an office acts on first: the review, with the schools sent back at its head, then
    // every school's rates (issue 21).
    // Agreement rows are 1.25 times as tall (a sent-back school shows two bars): fewer a page.
    let per_page = SCHOOLS_PER_PAGE * 4 / 5;
    let rows = agreement_rows(summary);
    let parts = rows.len().div_ceil(per_page).max(1);
    if rows.is_empty() {
        let mut canvas = Canvas::new(face, font);
        heading(
            &mut canvas,
            "各校复核一致率",
            "本年度尚无县级复核抽验数据。",
        );
        pages.push(canvas);
    }
    for (k, chunk) in rows.chunks(per_page).enumerate() {
        let mut canvas = Canvas::new(face, font);
        agreement(&mut canvas, summary, chunk, k, parts)?;
        pages.push(canvas);
    }

    let mut schools: Vec<&SchoolRow> = summary.schools.iter().collect();
    schools.sort_by(|a, b| {
        rate(b.passed, b.graded)
            .total_cmp(&rate(a.passed, a.graded))
            .then(rate(b.excellent, b.graded).total_cmp(&rate(a.excellent, a.graded)))
            .then(a.code.cmp(&b.code))
    });
    let parts = schools.len().div_ceil(SCHOOLS_PER_PAGE);
    for (k, chunk) in schools.chunks(SCHOOLS_PER_PAGE).enumerate() {
        let mut canvas = Canvas::new(face, font);
        pass_rates(&mut canvas, summary, chunk, k, parts)?;
        pages.push(canvas);
    }

    if let Some(draw) = &summary.draw {
        let mut canvas = Canvas::new(face, font);
        heading(
            &mut canvas,
            "县级复核抽样说明",
            "抽样可由任何人用公开的种子复算。",
        );
        let lines = [
            ("复核轮次", draw.round.as_str()),
            ("公开种子", draw.seed.as_str()),
            ("种子来源", draw.seed_note.as_str()),
            ("总体 SHA-256", draw.population_sha256.as_str()),
        ];
        let mut y = PAGE_H - 130.0;
        for (label, value) in lines {
            canvas.text(label, MARGIN, y, 10.0, grey(), Align::Left);
            let value = canvas.fit(value, 10.0, CONTENT_W - 90.0);
            canvas.text(&value, MARGIN + 90.0, y, 10.0, ink(), Align::Left);
            y -= 22.0;
        }
        let t = &summary.totals;
        let figures = format!(
            "抽验学校 {} 所，教师 {} 人；复评比对 {} 份，一致 {} 份（{}）；退回重评学校 {} 所。",
            t.drawn_schools,
            t.drawn_teachers,
            t.compared,
            t.agreements,
            percent(t.agreements, t.compared),
            t.sent_back_schools
        );
        canvas.text(&figures, MARGIN, y - 10.0, 10.0, ink(), Align::Left);
        canvas.text(
            "复算：tica sampling draw（同一总体文件与种子给出同一样本）",
            MARGIN,
            y - 34.0,
            9.0,
            grey(),
            Align::Left,
        );
        pages.push(canvas);
    }

    let total = pages.len();
    let mut printed = String::new();
    let mut out = Vec::with_capacity(total);
    for (i, mut canvas) in pages.into_iter().enumerate() {
        footer(&mut canvas, summary, i + 1, total);
        if let Some(c) = canvas.missing {
            return Err(PdfError::MissingGlyph(c));
        }
        printed.push_str(&canvas.printed);
        out.push(canvas.ops);
    }
    Ok(Laid {
        pages: out,
        printed,
    })
}

fn footer(canvas: &mut Canvas<'_>, summary: &CountySummary, n: usize, total: usize) {
    canvas.line(
        &[(MARGIN, 34.0), (PAGE_W - MARGIN, 34.0)],
        rule(),
        0.5,
        false,
    );
    let left = format!(
        "{} {}年 提升工程2.0 县级总结 · 数据截至 {}",
        summary.county_name, summary.year, summary.as_of
    );
    canvas.text(&left, MARGIN, 22.0, 8.0, grey(), Align::Left);
    canvas.text(
        &format!("第 {n} 页 共 {total} 页"),
        PAGE_W - MARGIN,
        22.0,
        8.0,
        grey(),
        Align::Right,
    );
}

/// A page's heading and a note under it.
fn heading(canvas: &mut Canvas<'_>, title: &str, note: &str) {
    canvas.text(title, MARGIN, PAGE_H - 62.0, 16.0, ink(), Align::Left);
    canvas.line(
        &[(MARGIN, PAGE_H - 70.0), (PAGE_W - MARGIN, PAGE_H - 70.0)],
        accent(),
        1.2,
        false,
    );
    canvas.text(note, MARGIN, PAGE_H - 86.0, 9.0, grey(), Align::Left);
}

/// A legend entry: a swatch and its label; returns the x after it.
fn swatch(canvas: &mut Canvas<'_>, x: f32, y: f32, colour: Color, label: &str) -> f32 {
    canvas.fill_rect(x, y - 1.0, 9.0, 9.0, colour);
    canvas.text(label, x + 12.0, y, 9.0, ink(), Align::Left);
    x + 12.0 + canvas.width(label, 9.0) + 14.0
}

/// Page 1: title, key figures, environment × dimension, popularity per code.
fn overview(canvas: &mut Canvas<'_>, s: &CountySummary) -> Result<(), PdfError> {
    let top = PAGE_H - MARGIN;
    canvas.text(
        &format!("{} {}年 县级总结", s.county_name, s.year),
        PAGE_W / 2.0,
        top - 22.0,
        22.0,
        ink(),
        Align::Centre,
    );
    canvas.text(
        "中小学幼儿园教师信息技术应用能力提升工程2.0",
        PAGE_W / 2.0,
        top - 44.0,
        13.0,
        ink(),
        Align::Centre,
    );
    let sub = format!("{} · 数据截至 {}", s.policy_label, s.as_of);
    let sub = canvas.fit(&sub, 9.0, CONTENT_W);
    canvas.text(&sub, PAGE_W / 2.0, top - 60.0, 9.0, grey(), Align::Centre);
    canvas.line(
        &[(MARGIN, top - 68.0), (PAGE_W - MARGIN, top - 68.0)],
        accent(),
        1.2,
        false,
    );

    // Key figures: two rows of five.
    let t = &s.totals;
    let kpis: [(&str, String); 10] = [
        ("参训教师", format!("{} 人", t.participants)),
        ("选课率", percent(t.selected, t.participants)),
        ("学时达标率", percent(t.hours_met, t.participants)),
        ("提交率", percent(t.submitted, t.participants)),
        ("合格率", percent(t.passed, t.graded)),
        ("优秀率", percent(t.excellent, t.graded)),
        ("证书", format!("{} 份", t.certificates)),
        (
            "抽验学校/教师",
            format!("{} / {}", t.drawn_schools, t.drawn_teachers),
        ),
        ("总体一致率", percent(t.agreements, t.compared)),
        ("退回重评学校", format!("{} 所", t.sent_back_schools)),
    ];
    let cell_w = CONTENT_W / 5.0;
    let cell_h = 42.0;
    let table_top = top - 80.0;
    for (i, (label, value)) in kpis.iter().enumerate() {
        let x = MARGIN + (i % 5) as f32 * cell_w;
        let y = table_top - (i / 5 + 1) as f32 * cell_h;
        canvas.fill_rect(
            x + 2.0,
            y + 2.0,
            cell_w - 4.0,
            cell_h - 4.0,
            rgb(244, 244, 246),
        );
        canvas.text(
            label,
            x + cell_w / 2.0,
            y + cell_h - 15.0,
            8.5,
            grey(),
            Align::Centre,
        );
        canvas.text(value, x + cell_w / 2.0, y + 9.0, 14.0, ink(), Align::Centre);
    }

    // Environment × dimension.
    let mut envs: Vec<&str> = Vec::new();
    let mut dims: Vec<&str> = Vec::new();
    for c in &s.codes {
        if !envs.contains(&c.environment.as_str()) {
            envs.push(&c.environment);
        }
        if !dims.contains(&c.dimension.as_str()) {
            dims.push(&c.dimension);
        }
    }
    let chart_top = table_top - 2.0 * cell_h - 24.0;
    canvas.text(
        "微能力选择人数：环境 × 维度",
        MARGIN,
        chart_top,
        12.0,
        ink(),
        Align::Left,
    );
    let mut x = MARGIN + 190.0;
    for (e, env) in envs.iter().enumerate() {
        x = swatch(canvas, x, chart_top, page(ENV_COLOURS[e % 4]), env);
    }
    let mut cells = vec![vec![0i64; envs.len()]; dims.len()];
    for c in &s.codes {
        let d = dims.iter().position(|x| *x == c.dimension).unwrap_or(0);
        let e = envs.iter().position(|x| *x == c.environment).unwrap_or(0);
        cells[d][e] += c.selected;
    }
    let high = cells.iter().flatten().copied().max().unwrap_or(0).max(1);
    let top = chart_top - 8.0;
    column_chart(canvas, top, 235.0, &dims, high as f64 * 1.15, |chart| {
        let ne = envs.len().max(1) as f64;
        let band = 0.8 / ne;
        for (d, row) in cells.iter().enumerate() {
            for (e, n) in row.iter().enumerate() {
                let x0 = d as f64 + 0.1 + e as f64 * band;
                let colour = plot(ENV_COLOURS[e % 4]);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0 + 0.01, 0.0), (x0 + band - 0.01, *n as f64)],
                        colour.filled(),
                    )))
                    .map_err(render_error)?;
                let label = if *n == 0 {
                    "无".to_owned()
                } else {
                    n.to_string()
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (x0 + band / 2.0, *n as f64),
                        font(75, BLACK).pos(Pos::new(HPos::Center, VPos::Bottom)),
                    )))
                    .map_err(render_error)?;
            }
        }
        Ok(())
    })?;

    // Popularity per code.
    let chart_top = chart_top - 260.0;
    canvas.text(
        "各微能力选择人数",
        MARGIN,
        chart_top,
        12.0,
        ink(),
        Align::Left,
    );
    canvas.text(
        "（按环境着色，图例同上）",
        MARGIN + 100.0,
        chart_top,
        9.0,
        grey(),
        Align::Left,
    );
    let high = s.codes.iter().map(|c| c.selected).max().unwrap_or(0).max(1);
    let codes: Vec<&str> = s.codes.iter().map(|c| c.code.as_str()).collect();
    let top = chart_top - 8.0;
    column_chart(
        canvas,
        top,
        top - 50.0,
        &codes,
        high as f64 * 1.1,
        |chart| {
            for (i, c) in s.codes.iter().enumerate() {
                let e = envs.iter().position(|x| *x == c.environment).unwrap_or(0);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(i as f64 + 0.15, 0.0), (i as f64 + 0.85, c.selected as f64)],
                        plot(ENV_COLOURS[e % 4]).filled(),
                    )))
                    .map_err(render_error)?;
            }
            Ok(())
        },
    )
}

/// The frame of a column chart: one column per label along x, a count up the y axis.
type ColumnFrame<'a, 'c, 'f> =
    ChartContext<'a, ChartBackend<'c, 'f>, Cartesian2d<Keyed, RangedCoordf64>>;

/// A column chart across the page from `top` down `height` points: one column 1 wide per
/// label (named below it), counts from 0 to `y_max`; `columns` draws into it.
fn column_chart(
    canvas: &mut Canvas<'_>,
    top: f32,
    height: f32,
    labels: &[&str],
    y_max: f64,
    columns: impl FnOnce(&mut ColumnFrame<'_, '_, '_>) -> Result<(), PdfError>,
) -> Result<(), PdfError> {
    let backend = ChartBackend::new(canvas, MARGIN, top, CONTENT_W, height);
    let root = backend.into_drawing_area();
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .margin_top(40)
        .margin_right(40)
        .x_label_area_size(220)
        .y_label_area_size(450)
        .build_cartesian_2d(bands(n), 0f64..y_max)
        .map_err(render_error)?;
    let label_of = |v: &f64| {
        labels
            .get(*v as usize)
            .map(|l| (*l).to_owned())
            .unwrap_or_default()
    };
    lines(&mut chart.configure_mesh())
        .disable_x_mesh()
        .x_labels(64)
        .y_labels(6)
        .x_label_formatter(&label_of)
        .y_label_formatter(&|v: &f64| format!("{v:.0}"))
        .label_style(font(80, RGBColor(60, 60, 66)))
        .draw()
        .map_err(render_error)?;
    columns(&mut chart)?;
    root.present().map_err(render_error)
}

/// The axis, grid and tick marks of every chart.
fn lines<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.axis_style(RGBColor(120, 120, 126).stroke_width(6))
        .bold_line_style(RGBColor(225, 225, 230).stroke_width(5))
        .light_line_style(TRANSPARENT)
        .set_all_tick_mark_size(30)
}

/// Chart text of `size` (in plotters' units) in `colour`.
fn font(size: i32, colour: RGBColor) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&colour)
}

/// The frame of a per-school bar chart: x in per cent up to `x_max`, one band per row.
type SchoolFrame<'a, 'c, 'f> = ChartContext<'a, ChartBackend<'c, 'f>, Cartesian2d<Keyed, Keyed>>;

/// A horizontal bar chart of schools under a page's legend: one band `row_h` high per name,
/// the first on top, named on the left; x in per cent from 0 to `x_max`, ticked every 20 % to
/// 100 %. `row` draws row i at band y (its bottom; the band is 1 high); a dashed line then
/// marks `dash` per cent.
fn school_chart(
    canvas: &mut Canvas<'_>,
    names: &[&str],
    row_h: f32,
    x_max: f64,
    dash: f64,
    mut row: impl FnMut(&mut SchoolFrame<'_, '_, '_>, usize, f64) -> Result<(), PdfError>,
) -> Result<(), PdfError> {
    let n = names.len().max(1);
    let height = n as f32 * row_h + 30.0;
    let backend = ChartBackend::new(canvas, MARGIN, PAGE_H - 112.0, CONTENT_W, height);
    let root = backend.into_drawing_area();
    let mut chart = ChartBuilder::on(&root)
        .margin_top(20)
        .margin_right(30)
        .x_label_area_size(200)
        .y_label_area_size(1500)
        .build_cartesian_2d(
            keyed(0f64..x_max, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]),
            bands(n),
        )
        .map_err(render_error)?;
    // Row i from the top is band n - 1 - i.
    let name_of = |v: &f64| {
        let i = n - 1 - (*v as usize).min(n - 1);
        names
            .get(i)
            .map(|name| (*name).to_owned())
            .unwrap_or_default()
    };
    lines(&mut chart.configure_mesh())
        .disable_y_mesh()
        .x_labels(6)
        .y_labels(SCHOOLS_PER_PAGE * 2)
        .x_label_formatter(&|v| format!("{v:.0}%"))
        .y_label_formatter(&name_of)
        .label_style(font(85, RGBColor(40, 40, 46)))
        .draw()
        .map_err(render_error)?;
    for i in 0..names.len() {
        row(&mut chart, i, (n - 1 - i) as f64)?;
    }
    chart
        .draw_series(dashes(dash, n as f64))
        .map_err(render_error)?;
    root.present().map_err(render_error)
}

/// A figure in the column right of a school's bars, starting at `x` and centred on `y`.
fn figure(
    chart: &mut SchoolFrame<'_, '_, '_>,
    text: String,
    (x, y): (f64, f64),
    colour: RGBColor,
) -> Result<(), PdfError> {
    chart
        .draw_series(std::iter::once(Text::new(
            text,
            (x, y),
            font(75, colour).pos(Pos::new(HPos::Left, VPos::Center)),
        )))
        .map_err(render_error)?;
    Ok(())
}

/// A chart page's title, numbered "（k/n）" when the chart runs over more than one page.
fn numbered(title: &str, part: usize, parts: usize) -> String {
    if parts > 1 {
        format!("{title}（{}/{}）", part + 1, parts)
    } else {
        title.to_owned()
    }
}

/// A page of schools' pass and excellent rates, best first.
fn pass_rates(
    canvas: &mut Canvas<'_>,
    s: &CountySummary,
    schools: &[&SchoolRow],
    part: usize,
    parts: usize,
) -> Result<(), PdfError> {
    let title = numbered("各校合格率与优秀率", part, parts);
    let graded: i64 = s.schools.iter().map(|r| r.graded).sum();
    let passed: i64 = s.schools.iter().map(|r| r.passed).sum();
    let average = rate(passed, graded);
    heading(
        canvas,
        &title,
        &format!(
            "按合格率排序；比率以已评定教师为分母。共 {} 所学校，全县合格率 {}（虚线）。",
            s.schools.len(),
            percent(passed, graded)
        ),
    );
    let y = PAGE_H - 104.0;
    let x = swatch(canvas, MARGIN, y, page(EXCELLENT), "优秀");
    let x = swatch(canvas, x, y, page(PASSED), "合格（不含优秀）");
    canvas.text(
        "右列：合格率 / 优秀率（等级）",
        x,
        y,
        9.0,
        grey(),
        Align::Left,
    );

    let names: Vec<&str> = schools.iter().map(|r| r.name.as_str()).collect();
    school_chart(canvas, &names, ROW_H, 128.0, average, |chart, i, y| {
        let r = schools[i];
        let pass = rate(r.passed, r.graded);
        let excellent = rate(r.excellent, r.graded);
        chart
            .draw_series([
                Rectangle::new(
                    [(0.0, y + 0.18), (excellent, y + 0.82)],
                    plot(EXCELLENT).filled(),
                ),
                Rectangle::new(
                    [(excellent, y + 0.18), (pass, y + 0.82)],
                    plot(PASSED).filled(),
                ),
            ])
            .map_err(render_error)?;
        let mut label = format!(
            "{} / {}",
            percent(r.passed, r.graded),
            percent(r.excellent, r.graded)
        );
        if !r.grade_label.is_empty() {
            label.push_str(&format!("（{}）", r.grade_label));
        }
        figure(chart, label, (LABEL_X, y + 0.5), RGBColor(40, 40, 46))
    })
}

/// A vertical dashed line at `x` from 0 to `top`, in the threshold colour.
fn dashes(x: f64, top: f64) -> impl Iterator<Item = PathElement<(f64, f64)>> {
    let steps = (top * 4.0).ceil() as usize;
    (0..steps).map(move |i| {
        let y = i as f64 / 4.0;
        PathElement::new(
            vec![(x, y), (x, (y + 0.15).min(top))],
            plot(SENT_BACK).stroke_width(8),
        )
    })
}

/// A drawn school's rounds, for the agreement page.
struct AgreementLine<'s> {
    name: &'s str,
    /// (agreements, compared, outcome) of the latest round with figures.
    latest: (i64, i64, RoundOutcome),
    /// The first round that sent the school back, when one did and a later round followed.
    sent_back: Option<(i64, i64)>,
    /// Times sent back.
    times: usize,
}

fn agreement_rows(s: &CountySummary) -> Vec<AgreementLine<'_>> {
    let mut rows: Vec<AgreementLine<'_>> = s
        .agreement
        .iter()
        .filter_map(|a| {
            let latest = a.rounds.iter().rev().find(|r| r.compared > 0)?;
            let times = a
                .rounds
                .iter()
                .filter(|r| r.outcome == RoundOutcome::SentBack)
                .count();
            let sent_back = a
                .rounds
                .iter()
                .find(|r| r.outcome == RoundOutcome::SentBack && r.compared > 0)
                .filter(|r| !std::ptr::eq(*r, latest))
                .map(|r| (r.agreements, r.compared));
            Some(AgreementLine {
                name: &a.name,
                latest: (latest.agreements, latest.compared, latest.outcome),
                sent_back,
                times,
            })
        })
        .collect();
    // Sent back (most often first), then by agreement, best first.
    rows.sort_by(|a, b| {
        b.times
            .cmp(&a.times)
            .then(rate(b.latest.0, b.latest.1).total_cmp(&rate(a.latest.0, a.latest.1)))
            .then(a.name.cmp(b.name))
    });
    rows
}

/// A page of drawn schools' agreement in the latest round.
fn agreement(
    canvas: &mut Canvas<'_>,
    s: &CountySummary,
    rows: &[AgreementLine<'_>],
    part: usize,
    parts: usize,
) -> Result<(), PdfError> {
    let title = numbered("各校复核一致率", part, parts);
    let threshold = f64::from(s.threshold_permille) / 10.0;
    heading(
        canvas,
        &title,
        &format!(
            "县级复核抽验学校：最近一轮复评与原评定一致的比例；虚线为通过线 {threshold:.0}%。"
        ),
    );
    let y = PAGE_H - 104.0;
    let x = swatch(canvas, MARGIN, y, page(AGREE), "最近一轮");
    let x = swatch(canvas, x, y, page(SENT_BACK), "首轮（退回重评）");
    let x = swatch(canvas, x, y, page(PENDING), "待决定");
    canvas.text("右列：一致率（比对份数）", x, y, 9.0, grey(), Align::Left);

    let names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    school_chart(
        canvas,
        &names,
        ROW_H * 1.25,
        150.0,
        threshold,
        |chart, i, y| {
            let r = &rows[i];
            let (agreeing, compared, outcome) = r.latest;
            let latest = rate(agreeing, compared);
            let colour = match outcome {
                RoundOutcome::SentBack => plot(SENT_BACK),
                RoundOutcome::Undecided => plot(PENDING),
                _ => plot(AGREE),
            };
            let label = format!("{}（{}）", percent(agreeing, compared), compared);
            let mut label_y = y + 0.5;
            if let Some((a, c)) = r.sent_back {
                let first = rate(a, c);
                chart
                    .draw_series([
                        Rectangle::new(
                            [(0.0, y + 0.12), (first, y + 0.45)],
                            plot(SENT_BACK).filled(),
                        ),
                        Rectangle::new([(0.0, y + 0.5), (latest, y + 0.88)], colour.filled()),
                    ])
                    .map_err(render_error)?;
                label_y = y + 0.69;
                figure(
                    chart,
                    format!("首轮 {}（{}）", percent(a, c), c),
                    (LABEL_X, y + 0.285),
                    plot(SENT_BACK),
                )?;
            } else {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(0.0, y + 0.2), (latest, y + 0.8)],
                        colour.filled(),
                    )))
                    .map_err(render_error)?;
            }
            figure(chart, label, (LABEL_X, label_y), RGBColor(40, 40, 46))?;
            if r.times > 0 {
                let tag = if r.times > 1 {
                    format!("退回重评 ×{}", r.times)
                } else {
                    "退回重评".to_owned()
                };
                figure(chart, tag, (131.0, y + 0.5), plot(SENT_BACK))?;
            }
            Ok(())
        },
    )
}
