//! CSV cells that a spreadsheet will not run as formulas (CSV injection, CWE-1236).
//!
//! A CSV cell whose text starts with `=`, `+`, `-` or `@` is read by Excel, WPS and LibreOffice
//! as a formula (`=HYPERLINK(…)`, `=cmd|' /C calc'!A0`), and a leading tab or carriage return
//! does not stop them. Following the OWASP "CSV Injection" guidance, every cell a TICA CSV
//! export writes goes through [`neutralise`]: such a cell gets a leading single quote, which
//! spreadsheets show as text and do not evaluate. [`field`] also quotes the cell for RFC 4180.
//!
//! The import side undoes exactly that prefix ([`restore`]), so an exported file re-imports
//! to the same values: `'=1+2` becomes `=1+2` again, while `'abc` (a quote the office typed
//! before an ordinary character) is kept as it is.

use std::borrow::Cow;

/// The first characters that make a spreadsheet evaluate a cell (OWASP: `=`, `+`, `-`, `@`,
/// tab `0x09`, carriage return `0x0D`).
pub const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether a spreadsheet would treat `cell` as the start of a formula.
pub fn is_formula_like(cell: &str) -> bool {
    cell.starts_with(FORMULA_TRIGGERS)
}

/// `cell` as a spreadsheet shows it as text: prefixed with `'` when it starts with one of
/// [`FORMULA_TRIGGERS`], unchanged (borrowed) otherwise.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if is_formula_like(cell) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// The value [`neutralise`] was given: drops the `'` it adds before a formula trigger, and
/// leaves every other cell unchanged.
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if is_formula_like(rest) => rest,
        _ => cell,
    }
}

/// `cell` neutralised and, when it holds a comma, a quote, a line break or edge spaces, quoted
/// as RFC 4180 says (inner quotes doubled): ready to join with commas.
pub fn field(cell: &str) -> Cow<'_, str> {
    let safe = neutralise(cell);
    if safe.contains([',', '"', '\n', '\r']) || safe.starts_with(' ') || safe.ends_with(' ') {
        Cow::Owned(format!("\"{}\"", safe.replace('"', "\"\"")))
    } else {
        safe
    }
}

/// Appends one record of [`field`]s, comma-separated, and `eol` to `out`.
pub fn write_record<S: AsRef<str>>(out: &mut Vec<u8>, cells: &[S], eol: &str) {
    for (i, cell) in cells.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(field(cell.as_ref()).as_bytes());
    }
    out.extend_from_slice(eol.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_owasp_trigger_is_prefixed_with_a_quote() {
        for cell in [
            "=1+2",
            "+86 138",
            "-2",
            "@SUM(A1)",
            "\t=1",
            "\r=1",
            "=HYPERLINK(\"http://x\")",
        ] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
    }

    #[test]
    fn ordinary_cells_are_borrowed_unchanged() {
        for cell in [
            "",
            "张三",
            "3413240001",
            "a=b",
            " =1",
            "'quoted",
            "2026-11-23",
        ] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
        }
    }

    #[test]
    fn restoring_a_neutralised_cell_gives_the_original_back() {
        for cell in ["=1+2", "-5", "@x", "\tx", "plain", "'abc", "''=x", ""] {
            assert_eq!(restore(&neutralise(cell)), cell, "{cell:?}");
        }
        // A quote before an ordinary character is the office's own.
        assert_eq!(restore("'abc"), "'abc");
    }

    #[test]
    fn fields_are_neutralised_before_they_are_quoted() {
        assert_eq!(field("=1,2"), "\"'=1,2\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("\r=cmd"), "\"'\r=cmd\"");
        assert_eq!(field(" x"), "\" x\"");
        assert_eq!(field("ok"), "ok");
    }

    #[test]
    fn records_join_fields_with_commas_and_end_with_the_line_break() {
        let mut out = Vec::new();
        write_record(&mut out, &["a", "=b", "c,d"], "\r\n");
        assert_eq!(out, b"a,'=b,\"c,d\"\r\n");
    }
}
