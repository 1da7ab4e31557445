//! The progress workbook offices hand upward (请用excel制表报送, seeds/002_956918a84436fd87.txt):
//! Chinese headers, a frozen header row, rates as percentages.

use std::collections::HashMap;

use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook};

use crate::error::{AssessmentError, Result};
use crate::service::ProgressRow;
use crate::service::progress::Level;

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

/// The progress file: (file name, content type, bytes).
pub fn progress_file(
    rows: &[ProgressRow],
    total: &ProgressRow,
    names: &HashMap<String, String>,
    level: Level,
    year: i32,
    xlsx: bool,
) -> Result<(String, &'static str, Vec<u8>)> {
    let what = match level {
        Level::School => "学校",
        Level::County => "区县",
        Level::City => "市",
        Level::Province => "省",
    };
    let stem = format!(
        "能力提升工程2.0进度-按{what}-{}",
        if year == 0 {
            "全部".to_owned()
        } else {
            year.to_string()
        }
    );
    let all: Vec<(&ProgressRow, String)> = rows
        .iter()
        .map(|r| (r, names.get(&r.unit).cloned().unwrap_or_default()))
        .chain(std::iter::once((total, "合计".to_owned())))
        .collect();
    if !xlsx {
        let mut out = b"\xEF\xBB\xBF".to_vec();
        out.extend_from_slice(HEADERS.join(",").as_bytes());
        out.extend_from_slice(b"\r\n");
        for (row, name) in &all {
            let (text, numbers) = cells(row, name);
            let mut line: Vec<String> = vec![text[0].clone(), text[1].replace(',', " ")];
            line.extend(numbers.iter().map(|(_, v, pct)| {
                if *pct {
                    format!("{:.1}%", v * 100.0)
                } else {
                    format!("{v}")
                }
            }));
            line.push(text[2].clone());
            out.extend_from_slice(line.join(",").as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        return Ok((format!("{stem}.csv"), "text/csv; charset=utf-8", out));
    }
    let fail = |e: rust_xlsxwriter::XlsxError| {
        AssessmentError::Internal(format!("cannot write the workbook: {e}"))
    };
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.set_name("进度").map_err(fail)?;
    let header = Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin)
        .set_align(FormatAlign::Center)
        .set_text_wrap();
    let percent = Format::new().set_num_format("0.0%");
    let count = Format::new().set_num_format("0");
    let bold = Format::new().set_bold();
    for (c, h) in HEADERS.iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &header)
            .map_err(fail)?;
        sheet
            .set_column_width(c as u16, if c == 1 { 28 } else { 11 })
            .map_err(fail)?;
    }
    sheet.set_freeze_panes(1, 2).map_err(fail)?;
    for (i, (row, name)) in all.iter().enumerate() {
        let r = (i + 1) as u32;
        let (text, numbers) = cells(row, name);
        let is_total = i + 1 == all.len();
        if is_total {
            sheet
                .write_string_with_format(r, 1, &text[1], &bold)
                .map_err(fail)?;
        } else {
            sheet.write_string(r, 0, &text[0]).map_err(fail)?;
            sheet.write_string(r, 1, &text[1]).map_err(fail)?;
        }
        for (c, value, pct) in numbers {
            sheet
                .write_number_with_format(r, c as u16, value, if pct { &percent } else { &count })
                .map_err(fail)?;
        }
        sheet.write_string(r, 16, &text[2]).map_err(fail)?;
    }
    let bytes = workbook.save_to_buffer().map_err(fail)?;
    Ok((
        format!("{stem}.xlsx"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        bytes,
    ))
}
