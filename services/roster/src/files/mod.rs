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

use std::io::Read as _;

use calamine::{DataRef, Reader, Xlsx};

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
    /// Not a row: how many errors were found beyond those listed.
    MoreErrors,
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

/// The row errors of one import, bounded: every refused line is remembered (one bit each, so
/// that no bad row is ever stored), but only the `limit` errors with the lowest line numbers are
/// kept in full; the rest are counted. A file of five million bad rows answers 1,000 errors and
/// "and 4,999,000 more", not a five-million-entry report held in memory.
#[derive(Debug)]
pub struct ErrorLog {
    limit: usize,
    /// A max-heap by (line, arrival): the worst kept error is the first to give way.
    kept: std::collections::BinaryHeap<Kept>,
    arrivals: u64,
    total: u64,
    failed: Vec<u64>,
    failed_lines: i64,
}

#[derive(Debug)]
struct Kept {
    key: (i64, u64),
    error: RowError,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl ErrorLog {
    /// A log that keeps at most `limit` errors in full (at least one).
    pub fn new(limit: usize) -> ErrorLog {
        ErrorLog {
            limit: limit.max(1),
            kept: std::collections::BinaryHeap::new(),
            arrivals: 0,
            total: 0,
            failed: Vec::new(),
            failed_lines: 0,
        }
    }

    /// Records `error`.
    pub fn push(&mut self, error: RowError) {
        self.total += 1;
        self.mark(error.line);
        let key = (error.line, self.arrivals);
        self.arrivals += 1;
        if self.kept.len() < self.limit {
            self.kept.push(Kept { key, error });
        } else if self.kept.peek().is_some_and(|worst| key < worst.key) {
            self.kept.pop();
            self.kept.push(Kept { key, error });
        }
    }

    fn mark(&mut self, line: i64) {
        let line = line.max(0) as usize;
        let (word, bit) = (line / 64, line % 64);
        if word >= self.failed.len() {
            self.failed.resize(word + 1, 0);
        }
        if self.failed[word] & (1 << bit) == 0 {
            self.failed[word] |= 1 << bit;
            self.failed_lines += 1;
        }
    }

    /// Whether any error was recorded against `line`.
    pub fn failed(&self, line: i64) -> bool {
        let line = line.max(0) as usize;
        self.failed
            .get(line / 64)
            .is_some_and(|w| w & (1 << (line % 64)) != 0)
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Distinct lines with an error.
    pub fn rejected_lines(&self) -> i64 {
        self.failed_lines
    }

    /// The kept errors in line order, then, when some were not kept, one MORE_ERRORS entry
    /// saying how many.
    pub fn into_report(self) -> Vec<RowError> {
        let more = self.total - self.kept.len() as u64;
        let mut kept: Vec<Kept> = self.kept.into_vec();
        kept.sort_unstable_by_key(|k| k.key);
        let mut errors: Vec<RowError> = kept.into_iter().map(|k| k.error).collect();
        if more > 0 {
            errors.push(RowError {
                line: 0,
                column: String::new(),
                reason: Reason::MoreErrors,
                message: format!("另有 {more} 条错误未列出 (and {more} more)"),
            });
        }
        errors
    }
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

/// What an uploaded file may hold, so that no file can make the service hold more than a few
/// hundred megabytes (settings `TICA_IMPORT_*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest upload, in bytes (refused as soon as the stream passes it).
    pub max_file_bytes: usize,
    /// The most an XLSX's parts may inflate to, all together.
    pub max_inflated_bytes: u64,
    /// The most its shared strings (`xl/sharedStrings.xml`) may inflate to: they are read whole.
    pub max_shared_strings_bytes: u64,
    /// The most parts (files in the ZIP) an XLSX may have.
    pub max_parts: usize,
    /// Row errors listed in full; the rest are counted in one MORE_ERRORS entry.
    pub max_row_errors: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 12 << 20,
            max_inflated_bytes: 256 << 20,
            max_shared_strings_bytes: 64 << 20,
            max_parts: 1_000,
            max_row_errors: 1_000,
        }
    }
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
    limits: &Limits,
    mut visit: impl FnMut(i64, &HeaderMap, &[Cell<'_>]),
) -> Result<(HeaderMap, i64), FileError> {
    match format {
        Format::Csv => read_csv(bytes, encoding, specs, &mut visit),
        Format::Xlsx => {
            check_xlsx(bytes, limits)?;
            read_xlsx(bytes, specs, &mut visit)
        }
    }
}

/// Refuses an XLSX that would inflate beyond `limits` (a "zip bomb": a few megabytes that
/// decompress to gigabytes) before calamine reads any of it. The central directory's declared
/// sizes are checked first; since they can lie, every part is then inflated into nothing,
/// counting, and refused as soon as it passes what it declared.
pub fn check_xlsx(bytes: &[u8], limits: &Limits) -> Result<(), FileError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        FileError(format!(
            "无法打开 Excel 工作簿 (cannot open the workbook): {e}"
        ))
    };
    let too_large = |what: &str, limit: u64| {
        FileError(format!(
            "Excel 工作簿解压后过大，请拆分文件或另存为 CSV ({what} more than {} MiB when decompressed; split the file or save it as CSV)",
            limit >> 20
        ))
    };
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| unreadable(&e))?;
    if zip.len() > limits.max_parts {
        return Err(FileError(format!(
            "Excel 工作簿包含的部件过多 (the workbook has {} parts; at most {} are read)",
            zip.len(),
            limits.max_parts
        )));
    }
    let mut declared = 0u64;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|e| unreadable(&e))?;
        let size = part.size();
        declared = declared.saturating_add(size);
        let name = part.name().map_err(|e| unreadable(&e))?;
        if name.ends_with("sharedStrings.xml") && size > limits.max_shared_strings_bytes {
            return Err(too_large(
                "its shared strings are",
                limits.max_shared_strings_bytes,
            ));
        }
    }
    if declared > limits.max_inflated_bytes {
        return Err(too_large("it is", limits.max_inflated_bytes));
    }
    let mut inflated = 0u64;
    for i in 0..zip.len() {
        let mut part = zip.by_index(i).map_err(|e| unreadable(&e))?;
        let size = part.size();
        let read = std::io::copy(&mut (&mut part).take(size + 1), &mut std::io::sink())
            .map_err(|e| unreadable(&e))?;
        if read > size {
            return Err(FileError(
                "Excel 工作簿已损坏：部件解压后大于其声明的大小 (the workbook is corrupt: a part inflates beyond its declared size)".into(),
            ));
        }
        inflated += read;
    }
    debug_assert!(inflated <= declared);
    Ok(())
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

/// Reads the first worksheet cell by cell (calamine's streaming reader), one row at a time:
/// never the whole sheet as a dense range, which a single far-away cell (`XFD1048576`) would
/// make billions of cells wide.
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
    let Some(first) = workbook.sheet_names().first().cloned() else {
        return Err(FileError(
            "工作簿中没有工作表 (the workbook has no worksheet)".into(),
        ));
    };
    let unreadable = |e: calamine::XlsxError| {
        FileError(format!(
            "无法读取第一个工作表 (cannot read the first worksheet): {e}"
        ))
    };
    let mut reader = workbook
        .worksheet_cells_reader(&first)
        .map_err(unreadable)?;
    let mut map: Option<HeaderMap> = None;
    let mut count = 0i64;
    // The row being gathered: its index and its non-empty cells by column.
    let mut row: Vec<(u32, DataRef<'_>)> = Vec::new();
    let mut row_index: Option<u32> = None;
    loop {
        let next = reader.next_cell().map_err(unreadable)?;
        let position = next.as_ref().map(|c| c.get_position());
        if row_index.is_some() && position.map(|p| p.0) != row_index {
            let line = i64::from(row_index.unwrap_or(0)) + 1;
            let blank = row.iter().all(|(_, d)| blank_ref(d));
            if !blank {
                match &map {
                    None => {
                        let width = row.iter().map(|(c, _)| *c as usize + 1).max().unwrap_or(0);
                        let mut header = vec![String::new(); width];
                        for (col, data) in &row {
                            header[*col as usize] = ref_text(data);
                        }
                        map = Some(HeaderMap::new(&header, specs)?);
                    }
                    Some(map) => {
                        count += 1;
                        let cells: Vec<Cell<'_>> = (0..specs.len())
                            .map(|spec_index| {
                                map.column_of(spec_index)
                                    .and_then(|c| row.iter().find(|(col, _)| *col as usize == c))
                                    .map_or(Cell::Empty, |(_, data)| xlsx_cell(data))
                            })
                            .collect();
                        visit(line, map, &cells);
                    }
                }
            }
            row.clear();
        }
        let Some(cell) = next else { break };
        let (r, c) = cell.get_position();
        row_index = Some(r);
        if !matches!(cell.get_value(), DataRef::Empty) {
            row.push((c, cell.get_value().clone()));
        }
    }
    match map {
        Some(map) => Ok((map, count)),
        None => Err(FileError("工作表是空的 (the worksheet is empty)".into())),
    }
}

fn blank_ref(data: &DataRef<'_>) -> bool {
    match data {
        DataRef::Empty => true,
        DataRef::String(s) => s.trim().is_empty(),
        DataRef::SharedString(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A header cell's text.
fn ref_text(data: &DataRef<'_>) -> String {
    match data {
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_owned(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Float(f) => f.to_string(),
        _ => String::new(),
    }
}

fn xlsx_cell<'a>(data: &'a DataRef<'_>) -> Cell<'a> {
    match data {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => Cell::Text(Cow::Borrowed(s.trim())),
        DataRef::SharedString(s) => Cell::Text(Cow::Borrowed(s.trim())),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Bool(b) => Cell::Text(Cow::Borrowed(if *b { "TRUE" } else { "FALSE" })),
        DataRef::DateTime(dt) => excel_serial_date(dt.as_f64())
            .map(Cell::Date)
            .unwrap_or(Cell::Number(dt.as_f64())),
        DataRef::DateTimeIso(s) => Cell::Text(Cow::Owned(s.chars().take(10).collect())),
        DataRef::DurationIso(s) => Cell::Text(Cow::Borrowed(s.as_str())),
        DataRef::Error(e) => Cell::Text(Cow::Owned(format!("#{e:?}"))),
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
            &Limits::default(),
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

    fn error(line: i64) -> RowError {
        RowError {
            line,
            column: String::new(),
            reason: Reason::InvalidValue,
            message: format!("line {line}"),
        }
    }

    #[test]
    fn the_error_log_keeps_the_first_lines_and_counts_the_rest() {
        let mut log = ErrorLog::new(3);
        for line in [9, 2, 7, 2, 5, 1_000_000, 3] {
            log.push(error(line));
        }
        assert_eq!(log.rejected_lines(), 6);
        assert!(log.failed(1_000_000) && log.failed(7) && !log.failed(4));
        let report = log.into_report();
        let lines: Vec<i64> = report.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 2, 3, 0]);
        assert_eq!(report[3].reason, Reason::MoreErrors);
        assert_eq!(report[3].message, "另有 4 条错误未列出 (and 4 more)");
        let mut few = ErrorLog::new(10);
        few.push(error(4));
        assert_eq!(
            few.into_report().len(),
            1,
            "no MORE_ERRORS entry when all are listed"
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
