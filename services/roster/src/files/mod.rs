//! Reading and writing the CSV and XLSX files offices exchange.
//!
//! Reading turns either format into the same stream of rows of [`Cell`]s with their 1-based line
//! numbers (the header is line 1), after mapping the header onto known columns by name (Chinese
//! or English, in any order; unknown columns are ignored). Everything here is pure: no I/O
//! besides the bytes handed in, no database.

pub mod columns;
pub mod schools;
pub mod teachers;
pub mod write;

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

pub use columns::{ColumnSpec, HeaderMap};

/// Why a row was refused (mirrors `tica.common.v1.RowErrorReason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A required cell is empty.
    MissingField,
    /// A value is malformed or out of range.
    InvalidValue,
    /// Wrong check character.
    BadIdCheckDigit,
    /// Impossible birth date in an ID number.
    BadIdBirthDate,
    /// The school is not registered.
    UnknownSchool,
    /// The jurisdiction is not registered.
    UnknownJurisdiction,
    /// The key repeats an earlier line.
    DuplicateInFile,
    /// The key is registered already.
    AlreadyExists,
    /// The bytes are not in the file's encoding.
    BadEncoding,
    /// The row's shape does not match the header.
    MalformedRow,
    /// Outside the caller's (or the import's) jurisdiction.
    OutOfScope,
    /// The row contradicts itself.
    Inconsistent,
}

/// One refused row (or cell).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    /// 1-based line; the header is line 1.
    pub line: i64,
    /// Header text of the column, or empty for the whole row.
    pub column: String,
    /// Why.
    pub reason: Reason,
    /// For a person; never the full value of a personal-data cell.
    pub message: String,
}

/// A cell, whichever format it came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell<'a> {
    /// Text (CSV, or a text cell in XLSX), trimmed.
    Text(Cow<'a, str>),
    /// A number cell in XLSX.
    Number(f64),
    /// A date cell in XLSX.
    Date(time::Date),
    /// Bytes that are not valid in the file's encoding; `looks_gbk` if they decode as GB18030.
    BadEncoding {
        /// Whether the bytes decode as GB18030/GBK.
        looks_gbk: bool,
    },
    /// Nothing.
    Empty,
}

impl Cell<'_> {
    /// Whether the cell holds nothing.
    pub fn is_empty(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.is_empty(),
            _ => false,
        }
    }

    /// The cell as text: numbers without a fractional part print as integers.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Cell::Text(t) => Some(Cow::Borrowed(t.as_ref())),
            Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => {
                Some(Cow::Owned(format!("{}", *n as i64)))
            }
            Cell::Number(n) => Some(Cow::Owned(n.to_string())),
            Cell::Date(d) => Some(Cow::Owned(tica_server::proto_time::date_to_iso(*d))),
            Cell::Empty => Some(Cow::Borrowed("")),
            Cell::BadEncoding { .. } => None,
        }
    }
}

/// The format of an uploaded file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV.
    Csv,
    /// XLSX.
    Xlsx,
}

impl Format {
    /// XLSX files are ZIP archives; everything else is read as CSV.
    pub fn detect(bytes: &[u8]) -> Format {
        if bytes.starts_with(b"PK\x03\x04") {
            Format::Xlsx
        } else {
            Format::Csv
        }
    }
}

/// How a CSV file's text is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (the default; a BOM is skipped).
    Utf8,
    /// GB18030 (covers GBK and GB2312).
    Gb18030,
}

/// A problem with the whole file: nothing was read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FileError(pub String);

/// Reads `bytes` as a table and calls `visit(line, cells)` for every non-blank data row, with
/// cells ordered as the header map's specs. Returns the number of data rows visited.
pub fn read_table(
    bytes: &[u8],
    format: Format,
    encoding: Encoding,
    specs: &'static [ColumnSpec],
    mut visit: impl FnMut(i64, &HeaderMap, &[Cell<'_>]),
) -> Result<(HeaderMap, i64), FileError> {
    match format {
        Format::Csv => read_csv(bytes, encoding, specs, &mut visit),
        Format::Xlsx => read_xlsx(bytes, specs, &mut visit),
    }
}

fn read_csv(
    bytes: &[u8],
    encoding: Encoding,
    specs: &'static [ColumnSpec],
    visit: &mut impl FnMut(i64, &HeaderMap, &[Cell<'_>]),
) -> Result<(HeaderMap, i64), FileError> {
    let decoded: Cow<'_, [u8]> = match encoding {
        Encoding::Utf8 => {
            let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            if std::str::from_utf8(body).is_err() && is_gb18030(body) {
                return Err(FileError(
                    "文件是 GBK/GB18030 编码，不是 UTF-8。请在 Excel 中另存为“CSV UTF-8（逗号分隔）”，或导入时选择 GB18030 编码。\
                     (The file is encoded in GBK/GB18030, not UTF-8: save it as \"CSV UTF-8\" or import it with encoding GB18030.)"
                        .into(),
                ));
            }
            Cow::Borrowed(body)
        }
        Encoding::Gb18030 => {
            let (text, _, _) = encoding_rs::GB18030.decode(bytes);
            Cow::Owned(text.into_owned().into_bytes())
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(decoded.as_ref());
    let mut record = csv::ByteRecord::new();
    let header_line = loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) => continue,
            Ok(true) => break record.clone(),
            Ok(false) => return Err(FileError("文件是空的 (the file is empty)".into())),
            Err(e) => return Err(FileError(format!("CSV 无法读取 (unreadable CSV): {e}"))),
        }
    };
    let header: Vec<String> = header_line
        .iter()
        .map(|f| std::str::from_utf8(f).map(str::to_owned))
        .collect::<Result<_, _>>()
        .map_err(|_| FileError("表头不是 UTF-8 文本 (the header row is not UTF-8 text)".into()))?;
    let map = HeaderMap::new(&header, specs)?;
    // Cells borrow from the record being read: no allocation per cell.
    let mut rows = 0i64;
    // The csv crate's line numbers lag by one on CRLF files (what Excel writes), so lines are
    // counted here from each record's byte offset.
    let text: &[u8] = decoded.as_ref();
    let mut lines = LineCounter::default();
    loop {
        let before = reader.position().byte() as usize;
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A broken quote swallows the rest of the file: report it on its line.
                let line = lines.line_at(text, before).max(2);
                visit(
                    line,
                    &map,
                    &[Cell::Text(Cow::Owned(format!("\u{0}csv:{e}")))],
                );
                rows += 1;
                break;
            }
        }
        let start = record
            .position()
            .map(|p| p.byte() as usize)
            .unwrap_or(before);
        let line = lines.line_at(text, start);
        if record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        rows += 1;
        if record.len() > map.width()
            && record
                .iter()
                .skip(map.width())
                .any(|f| !f.iter().all(u8::is_ascii_whitespace))
        {
            visit(
                line,
                &map,
                &[Cell::Text(Cow::Owned(format!(
                    "\u{0}shape:{}:{}",
                    record.len(),
                    map.width()
                )))],
            );
            continue;
        }
        let mut cells: Vec<Cell<'_>> = Vec::with_capacity(specs.len());
        for spec_index in 0..specs.len() {
            let cell = match map.column_of(spec_index).and_then(|c| record.get(c)) {
                None => Cell::Empty,
                // A cell our own CSV export neutralised (`'=…`) reads as the value it was.
                Some(field) => match std::str::from_utf8(field) {
                    Ok(text) => Cell::Text(Cow::Borrowed(
                        tica_domain::csv_cell::restore(text.trim()).trim(),
                    )),
                    Err(_) => Cell::BadEncoding {
                        looks_gbk: is_gb18030(field),
                    },
                },
            };
            cells.push(cell);
        }
        visit(line, &map, &cells);
    }
    Ok((map, rows))
}

/// Counts lines up to byte offsets that only move forward.
#[derive(Default)]
struct LineCounter {
    offset: usize,
    newlines: i64,
}

impl LineCounter {
    /// The 1-based line of the first content byte at or after `start` (skipping the line break
    /// a record's position may still point at).
    fn line_at(&mut self, text: &[u8], mut start: usize) -> i64 {
        while start < text.len() && (text[start] == b'\r' || text[start] == b'\n') {
            start += 1;
        }
        if start > self.offset {
            self.newlines += text[self.offset..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as i64;
            self.offset = start;
        }
        self.newlines + 1
    }
}

fn read_xlsx(
    bytes: &[u8],
    specs: &'static [ColumnSpec],
    visit: &mut impl FnMut(i64, &HeaderMap, &[Cell<'_>]),
) -> Result<(HeaderMap, i64), FileError> {
    let mut workbook: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(|e| {
            FileError(format!(
                "无法打开 Excel 工作簿 (cannot open the workbook): {e}"
            ))
        })?;
    let range = match workbook.worksheet_range_at(0) {
        Some(Ok(range)) => range,
        Some(Err(e)) => {
            return Err(FileError(format!(
                "无法读取第一个工作表 (cannot read the first worksheet): {e}"
            )));
        }
        None => {
            return Err(FileError(
                "工作簿中没有工作表 (the workbook has no worksheet)".into(),
            ));
        }
    };
    let first_row = range.start().map(|(row, _)| row as i64).unwrap_or(0);
    let first_col = range.start().map(|(_, col)| col as usize).unwrap_or(0);
    let mut rows_iter = range.rows().enumerate();
    let (header_index, header) = loop {
        match rows_iter.next() {
            Some((i, row)) if row.iter().all(|c| matches!(c, Data::Empty)) => {
                let _ = i;
                continue;
            }
            Some((i, row)) => {
                let mut header = vec![String::new(); first_col];
                header.extend(row.iter().map(|c| c.to_string()));
                break (i, header);
            }
            None => return Err(FileError("工作表是空的 (the worksheet is empty)".into())),
        }
    };
    let _ = header_index;
    let map = HeaderMap::new(&header, specs)?;
    let mut cells: Vec<Cell<'_>> = Vec::with_capacity(specs.len());
    let mut count = 0i64;
    for (i, row) in rows_iter {
        if row.iter().all(|c| {
            matches!(c, Data::Empty) || matches!(c, Data::String(s) if s.trim().is_empty())
        }) {
            continue;
        }
        count += 1;
        let line = first_row + i as i64 + 1;
        cells.clear();
        for spec_index in 0..specs.len() {
            let cell = match map
                .column_of(spec_index)
                .and_then(|c| c.checked_sub(first_col))
                .and_then(|c| row.get(c))
            {
                None => Cell::Empty,
                Some(data) => xlsx_cell(data),
            };
            cells.push(cell);
        }
        visit(line, &map, &cells);
    }
    Ok((map, count))
}

fn xlsx_cell(data: &Data) -> Cell<'_> {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(Cow::Borrowed(s.trim())),
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(f) => Cell::Number(*f),
        Data::Bool(b) => Cell::Text(Cow::Borrowed(if *b { "TRUE" } else { "FALSE" })),
        Data::DateTime(dt) => excel_serial_date(dt.as_f64())
            .map(Cell::Date)
            .unwrap_or(Cell::Number(dt.as_f64())),
        Data::DateTimeIso(s) => Cell::Text(Cow::Owned(s.chars().take(10).collect())),
        Data::DurationIso(s) => Cell::Text(Cow::Borrowed(s.as_str())),
        Data::Error(e) => Cell::Text(Cow::Owned(format!("#{e:?}"))),
    }
}

/// Excel's serial day number (1900 date system, with its phantom 1900-02-29) as a date.
pub fn excel_serial_date(serial: f64) -> Option<time::Date> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    // Serial 60 is the non-existent 1900-02-29; from 61 on, day 0 is 1899-12-30.
    let base = time::macros::date!(1899 - 12 - 30);
    let days = if days < 61 { days + 1 } else { days };
    base.checked_add(time::Duration::days(days))
}

/// Whether `bytes` decode as GB18030 without errors (and are not plain ASCII).
fn is_gb18030(bytes: &[u8]) -> bool {
    !bytes.is_ascii()
        && encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(bytes)
            .is_some()
}

/// Pseudo-cells `read_csv` passes for rows it could not split; the row parsers turn them into
/// MALFORMED_ROW errors.
pub(crate) fn structural_problem(cells: &[Cell<'_>], line: i64) -> Option<RowError> {
    let [Cell::Text(text)] = cells else {
        return None;
    };
    let text = text.strip_prefix('\u{0}')?;
    let message = if let Some(shape) = text.strip_prefix("shape:") {
        let (found, expected) = shape.split_once(':').unwrap_or((shape, "?"));
        format!(
            "这一行有 {found} 个单元格，表头只有 {expected} 列 (the row has {found} cells, the header {expected} columns)"
        )
    } else if let Some(error) = text.strip_prefix("csv:") {
        format!(
            "CSV 格式错误，可能是引号未闭合 (malformed CSV, perhaps an unclosed quote): {error}"
        )
    } else {
        return None;
    };
    Some(RowError {
        line,
        column: String::new(),
        reason: Reason::MalformedRow,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn excel_serial_dates_follow_the_1900_date_system() {
        assert_eq!(excel_serial_date(1.0), Some(date!(1900 - 01 - 01)));
        assert_eq!(excel_serial_date(61.0), Some(date!(1900 - 03 - 01)));
        assert_eq!(excel_serial_date(45000.0), Some(date!(2023 - 03 - 15)));
        assert_eq!(excel_serial_date(0.0), None);
    }

    fn lines_of(csv: &str) -> Vec<i64> {
        let specs: &'static [ColumnSpec] = &crate::files::teachers::TEACHER_COLUMNS;
        let mut lines = Vec::new();
        read_table(
            csv.as_bytes(),
            Format::Csv,
            Encoding::Utf8,
            specs,
            |line, _, _| lines.push(line),
        )
        .unwrap();
        lines
    }

    #[test]
    fn line_numbers_are_right_with_crlf_lf_blank_lines_and_quoted_newlines() {
        let header = "姓名,身份证号,学校标识码,学段";
        assert_eq!(
            lines_of(&format!("{header}\r\na,1,2,3\r\nb,1,2,3\r\n")),
            vec![2, 3]
        );
        assert_eq!(
            lines_of(&format!("{header}\na,1,2,3\nb,1,2,3\n")),
            vec![2, 3]
        );
        assert_eq!(
            lines_of(&format!("{header}\r\n\r\na,1,2,3\r\n,,,\r\nb,1,2,3")),
            vec![3, 5]
        );
        assert_eq!(
            lines_of(&format!("{header}\n\"a\nb\",1,2,3\nc,1,2,3\n")),
            vec![2, 4]
        );
    }

    #[test]
    fn a_zip_signature_means_xlsx() {
        assert_eq!(Format::detect(b"PK\x03\x04rest"), Format::Xlsx);
        assert_eq!(Format::detect("姓名,身份证号".as_bytes()), Format::Csv);
    }

    #[test]
    fn gbk_text_is_recognised_as_gb18030() {
        let (gbk, _, _) = encoding_rs::GBK.encode("张三");
        assert!(std::str::from_utf8(&gbk).is_err());
        assert!(is_gb18030(&gbk));
        assert!(!is_gb18030(b"plain ascii"));
    }
}
