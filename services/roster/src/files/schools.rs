//! School rows.

use tica_domain::SchoolKind;
use tica_domain::division::DivisionCode;
use tica_domain::school::validate_school_code;

use super::{Cell, ColumnSpec, HeaderMap, Reason, RowError, structural_problem};

/// The columns of a school file, in this order on export.
pub static SCHOOL_COLUMNS: [ColumnSpec; 7] = [
    ColumnSpec {
        key: "school_code",
        header_zh: "学校标识码",
        aliases: &["学校代码", "学校编码", "学校识别码", "code"],
        required: true,
    },
    ColumnSpec {
        key: "name",
        header_zh: "学校名称",
        aliases: &["校名", "单位名称", "display_name"],
        required: true,
    },
    ColumnSpec {
        key: "jurisdiction_code",
        header_zh: "所属区县代码",
        aliases: &[
            "区县代码",
            "县区代码",
            "行政区划代码",
            "所属行政区划代码",
            "jurisdiction",
        ],
        required: true,
    },
    ColumnSpec {
        key: "kind",
        header_zh: "办学类型",
        aliases: &["学校类型", "学校类别", "类型"],
        required: true,
    },
    ColumnSpec {
        key: "rural",
        header_zh: "是否乡村校",
        aliases: &["乡村学校", "是否乡村学校", "城乡", "城乡类型"],
        required: false,
    },
    ColumnSpec {
        key: "full_time_teacher_count",
        header_zh: "专任教师数",
        aliases: &["教师数", "专任教师人数", "teachers"],
        required: false,
    },
    ColumnSpec {
        key: "research_theme",
        header_zh: "校本研修主题",
        aliases: &["研修主题"],
        required: false,
    },
];

const CODE: usize = 0;
const NAME: usize = 1;
const JURISDICTION: usize = 2;
const KIND: usize = 3;
const RURAL: usize = 4;
const TEACHERS: usize = 5;
const THEME: usize = 6;

/// A school row that passed every per-row check.
#[derive(Clone, Debug)]
pub struct SchoolDraft {
    /// Line in the file.
    pub line: i64,
    /// School code.
    pub code: String,
    /// Name.
    pub name: String,
    /// County (or city) code.
    pub jurisdiction: DivisionCode,
    /// Kind.
    pub kind: SchoolKind,
    /// 乡村学校.
    pub rural: bool,
    /// 专任教师数.
    pub full_time_teacher_count: i64,
    /// 校本研修主题.
    pub research_theme: String,
}

/// Reads a yes/no cell: 是/否, 乡村/城镇/城区, yes/no, true/false, y/n, 1/0.
pub fn parse_yes_no(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "是" | "乡村" | "农村" | "yes" | "y" | "true" | "1" => Some(true),
        "否" | "城镇" | "城区" | "城市" | "县城" | "no" | "n" | "false" | "0" => {
            Some(false)
        }
        _ => None,
    }
}

/// Checks one school row.
pub fn parse_row(
    line: i64,
    map: &HeaderMap,
    cells: &[Cell<'_>],
) -> Result<SchoolDraft, Vec<RowError>> {
    if let Some(problem) = structural_problem(cells, line) {
        return Err(vec![problem]);
    }
    let mut errors = Vec::new();
    let mut fail = |column: usize, reason: Reason, message: String| {
        errors.push(RowError {
            line,
            column: map.name(column, &SCHOOL_COLUMNS),
            reason,
            message,
        });
    };
    let mut texts: Vec<String> = Vec::with_capacity(cells.len());
    for (column, cell) in cells.iter().enumerate() {
        match cell.as_text() {
            Some(text) => texts.push(text.into_owned()),
            None => {
                fail(
                    column,
                    Reason::BadEncoding,
                    "这一格不是有效的 UTF-8 文本 (this cell is not valid UTF-8 text)".into(),
                );
                texts.push(String::new());
            }
        }
    }
    let required = |column: usize, fail: &mut dyn FnMut(usize, Reason, String)| -> Option<String> {
        let text = texts[column].clone();
        if text.is_empty() && !matches!(cells[column], Cell::BadEncoding { .. }) {
            fail(
                column,
                Reason::MissingField,
                format!(
                    "{}不能为空 ({} is required)",
                    SCHOOL_COLUMNS[column].header_zh, SCHOOL_COLUMNS[column].key
                ),
            );
            None
        } else if text.is_empty() {
            None
        } else {
            Some(text)
        }
    };

    let code = required(CODE, &mut fail).and_then(|code| match validate_school_code(&code) {
        Ok(()) => Some(code),
        Err(e) => {
            fail(
                CODE,
                Reason::InvalidValue,
                format!("学校标识码无效 (invalid school code): {e}"),
            );
            None
        }
    });
    let name = required(NAME, &mut fail).and_then(|name| {
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            fail(NAME, Reason::InvalidValue, "学校名称过长或含控制字符 (name longer than 100 characters or has control characters)".into());
            None
        } else if tica_credential::qr::gb18030_len(name.trim()) > tica_credential::qr::MAX_SCHOOL_BYTES {
            let max = tica_credential::qr::MAX_SCHOOL_BYTES;
            fail(NAME, Reason::InvalidValue, format!("学校名称过长，证书二维码最多容纳 {max} 字节 GB 18030（{} 个常用汉字） (the name is longer than the certificate's QR code holds: at most {max} bytes in GB 18030)", max / 2));
            None
        } else if let Some(c) = tica_pdf::unprintable(name.trim()) {
            let c = tica_pdf::describe(c);
            fail(NAME, Reason::InvalidValue, format!("学校名称含有证书无法打印的字符 {c} ({c} cannot be printed on a certificate)"));
            None
        } else {
            Some(name)
        }
    });
    let jurisdiction =
        required(JURISDICTION, &mut fail).and_then(|code| {
            match DivisionCode::parse(&code).and_then(|c| c.validate_as_jurisdiction().map(|_| c)) {
                Ok(c) => Some(c),
                Err(e) => {
                    fail(
                        JURISDICTION,
                        Reason::InvalidValue,
                        format!("行政区划代码无效 (invalid division code): {e}"),
                    );
                    None
                }
            }
        });
    let kind = required(KIND, &mut fail).and_then(|kind| match SchoolKind::from_label(&kind) {
        Some(k) => Some(k),
        None => {
            fail(KIND, Reason::InvalidValue, format!("未知办学类型 “{kind}”，如 幼儿园/小学/初级中学/九年一贯制学校/中等职业学校 (unknown school kind)"));
            None
        }
    });
    let rural = if texts[RURAL].is_empty() {
        Some(false)
    } else {
        match parse_yes_no(&texts[RURAL]) {
            Some(r) => Some(r),
            None => {
                fail(
                    RURAL,
                    Reason::InvalidValue,
                    format!(
                        "是否乡村校应为 是 或 否 (expected 是 or 否), got “{}”",
                        texts[RURAL]
                    ),
                );
                None
            }
        }
    };
    let teachers = if texts[TEACHERS].is_empty() {
        Some(0)
    } else {
        match texts[TEACHERS].parse::<i64>() {
            Ok(n) if (0..=100_000).contains(&n) => Some(n),
            _ => {
                fail(
                    TEACHERS,
                    Reason::InvalidValue,
                    format!(
                        "专任教师数应为 0 到 100000 的整数 (expected a whole number 0–100000), got “{}”",
                        texts[TEACHERS]
                    ),
                );
                None
            }
        }
    };
    let theme = texts[THEME].clone();

    match (code, name, jurisdiction, kind, rural, teachers) {
        (
            Some(code),
            Some(name),
            Some(jurisdiction),
            Some(kind),
            Some(rural),
            Some(full_time_teacher_count),
        ) if errors.is_empty() => Ok(SchoolDraft {
            line,
            code,
            name,
            jurisdiction,
            kind,
            rural,
            full_time_teacher_count,
            research_theme: theme,
        }),
        _ => Err(errors),
    }
}
