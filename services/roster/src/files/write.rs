//! Writing CSV (UTF-8 with a BOM, so Excel shows Chinese correctly) and XLSX files.

use rust_xlsxwriter::{Format, FormatBorder, Workbook, XlsxError};

/// The UTF-8 byte-order mark Excel needs to read a CSV as UTF-8.
pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Appends one CSV record to `out`: every cell neutralised against formula injection and quoted
/// as needed (`tica_domain::csv_cell`), CRLF at the end.
pub fn csv_record(out: &mut Vec<u8>, cells: &[&str]) {
    tica_domain::csv_cell::write_record(out, cells, "\r\n");
}

/// Builds an XLSX workbook with one sheet: a bold, frozen header row and text cells (so codes
/// and ID numbers keep their digits when the office edits the file).
pub fn xlsx(sheet: &str, header: &[&str], rows: &[Vec<String>]) -> Result<Vec<u8>, XlsxError> {
    let mut workbook = Workbook::new();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet)?;
    let bold = Format::new()
        .set_bold()
        .set_border_bottom(FormatBorder::Thin);
    let text = Format::new().set_num_format("@");
    for (col, title) in header.iter().enumerate() {
        worksheet.write_string_with_format(0, col as u16, *title, &bold)?;
        let width = rows
            .iter()
            .take(200)
            .map(|r| r.get(col).map_or(0, |c| display_width(c)))
            .max()
            .unwrap_or(0);
        worksheet.set_column_width(
            col as u16,
            (width.max(display_width(title)) + 2).min(60) as f64,
        )?;
        worksheet.set_column_format(col as u16, &text)?;
    }
    worksheet.set_freeze_panes(1, 0)?;
    for (r, row) in rows.iter().enumerate() {
        for (col, cell) in row.iter().enumerate() {
            worksheet.write_string((r + 1) as u32, col as u16, cell)?;
        }
    }
    workbook.save_to_buffer()
}

/// Approximate column width: CJK characters count double.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) > 0x2E80 { 2 } else { 1 })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_with_separators_are_quoted() {
        let mut out = Vec::new();
        csv_record(&mut out, &["a", "b,c", "say \"hi\""]);
        assert_eq!(out, b"a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
    }

    #[test]
    fn csv_cells_that_start_a_formula_are_written_as_text() {
        let mut out = Vec::new();
        csv_record(&mut out, &["=HYPERLINK(\"http://x\")", "-1", "张三"]);
        assert_eq!(
            out,
            "\"'=HYPERLINK(\"\"http://x\"\")\",'-1,张三\r\n".as_bytes()
        );
    }
}
