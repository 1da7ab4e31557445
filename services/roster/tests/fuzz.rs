//! Fuzz targets for the roster's import files (see `tica-fuzz`), parsed exactly as an import
//! parses them — `files::read_table` with the schools' or the teachers' row checks — but called
//! directly, without gRPC or a database: arbitrary bytes as CSV (UTF-8 and GB18030) and as XLSX;
//! the sample county's genuine files flipped, cut, extended and spliced with the format's own
//! tokens; and genuine XLSX workbooks whose cells are arbitrary text. No panic, no hang.

use tica_fuzz::{Fuzz, Rng, show_bytes};
use tica_roster::files::schools::{self, SCHOOL_COLUMNS};
use tica_roster::files::teachers::{self, TEACHER_COLUMNS};
use tica_roster::files::{Encoding, Format, Limits, read_table, write};
use tica_sample::{CountySpec, SampleRoster};
use time::{Date, Month};

fn today() -> Date {
    Date::from_calendar_date(2026, Month::December, 6).unwrap()
}

/// Feeds `bytes` to both importers in `format` and `encoding`, as an import does.
fn import(bytes: &[u8], format: Format, encoding: Encoding) {
    let mut rows = 0usize;
    let limits = Limits::default();
    let _ = read_table(
        bytes,
        format,
        encoding,
        &SCHOOL_COLUMNS,
        &limits,
        |line, map, cells| {
            rows += 1;
            let _ = schools::parse_row(line, map, cells);
        },
    );
    let _ = read_table(
        bytes,
        format,
        encoding,
        &TEACHER_COLUMNS,
        &limits,
        |line, map, cells| {
            rows += 1;
            let _ = teachers::parse_row(line, map, cells, today());
        },
    );
}

struct Genuine {
    csv: Vec<Vec<u8>>,
    xlsx: Vec<Vec<u8>>,
    teacher_rows: Vec<Vec<String>>,
}

fn genuine() -> Genuine {
    let roster = SampleRoster::county(&CountySpec::ningxia(CountySpec::MIN_TEACHERS, 7));
    let gbk = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .into_owned();
        encoding_rs::GB18030.encode(&text).0.into_owned()
    };
    Genuine {
        csv: vec![
            roster.schools_csv(),
            roster.teachers_csv(),
            gbk(&roster.teachers_csv()),
        ],
        xlsx: vec![roster.schools_xlsx(), roster.teachers_xlsx()],
        teacher_rows: roster.teacher_rows(),
    }
}

const CSV_TOKENS: &[&str] = &[
    ",",
    "\"",
    "\"\"",
    "\n",
    "\r\n",
    "\r",
    "\u{feff}",
    "姓名",
    "身份证号",
    "学校代码",
    "，",
    "\t",
    "=",
    "\"\n\"",
    "X",
    "19000101",
    "2026-12-31",
    "45000",
    "1e308",
    "-1",
    "是",
    "否",
];

fn pick_encoding(rng: &mut Rng) -> Encoding {
    if rng.one_in(3) {
        Encoding::Gb18030
    } else {
        Encoding::Utf8
    }
}

#[test]
fn arbitrary_and_mutated_csv_never_panics_the_importers() {
    let files = genuine();
    let others: Vec<&[u8]> = files.csv.iter().map(Vec::as_slice).collect();
    let tokens: Vec<&[u8]> = CSV_TOKENS.iter().map(|t| t.as_bytes()).collect();
    Fuzz::new("roster_csv", 1_500).run(
        |rng| {
            let bytes = if rng.one_in(4) {
                rng.arbitrary_bytes(2000)
            } else {
                let valid = rng.pick(&files.csv).clone();
                rng.mutate(&valid, &others, &tokens)
            };
            (bytes, pick_encoding(rng))
        },
        |(b, e)| format!("{e:?} {}", show_bytes(b)),
        |(bytes, encoding)| import(bytes, Format::Csv, *encoding),
    );
}

#[test]
fn arbitrary_and_mutated_xlsx_never_panics_the_importers() {
    let files = genuine();
    let others: Vec<&[u8]> = files.xlsx.iter().map(Vec::as_slice).collect();
    let tokens: &[&[u8]] = &[
        b"PK\x03\x04",
        b"PK\x01\x02",
        b"PK\x05\x06",
        b"<row",
        b"<c r=\"A1\"",
        b"t=\"s\"",
        b"<v>",
        b"</v>",
        b"\xff\xff\xff\xff",
    ];
    Fuzz::new("roster_xlsx", 600).run(
        |rng| match rng.below(5) {
            0 => {
                // A ZIP's magic, then anything: what `Format::detect` calls a workbook.
                let mut bytes = b"PK\x03\x04".to_vec();
                bytes.extend(rng.arbitrary_bytes(2000));
                bytes
            }
            1 | 2 => {
                // A genuine workbook whose cells are arbitrary text.
                let header: Vec<&str> = if rng.one_in(2) {
                    TEACHER_COLUMNS.iter().map(|c| c.header_zh).collect()
                } else {
                    SCHOOL_COLUMNS.iter().map(|c| c.header_zh).collect()
                };
                let rows: Vec<Vec<String>> = files
                    .teacher_rows
                    .iter()
                    .take(1 + rng.below(6))
                    .map(|row| {
                        row.iter()
                            .map(|cell| {
                                if rng.one_in(3) {
                                    rng.arbitrary_text(40)
                                } else {
                                    cell.clone()
                                }
                            })
                            .collect()
                    })
                    .collect();
                write::xlsx("教师", &header, &rows).unwrap_or_default()
            }
            _ => {
                let valid = rng.pick(&files.xlsx).clone();
                rng.mutate(&valid, &others, tokens)
            }
        },
        |b| show_bytes(b),
        |bytes| {
            import(bytes, Format::Xlsx, Encoding::Utf8);
            // And as an import with no format given would read it.
            import(bytes, Format::detect(bytes), Encoding::Utf8);
        },
    );
}
