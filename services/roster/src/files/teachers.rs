//! Teacher rows: the columns offices use and how each cell is checked.

use tica_domain::person::{parse_roles, validate_teacher_number};
use tica_domain::school::validate_school_code;
use tica_domain::{PersonRole, ResidentId, ResidentIdError, Sex, Stage, TeacherCategory};

use super::{Cell, ColumnSpec, HeaderMap, Reason, RowError, structural_problem};

/// The columns of a teacher file, in this order on export.
pub static TEACHER_COLUMNS: [ColumnSpec; 10] = [
    ColumnSpec {
        key: "teacher_number",
        header_zh: "教师编号",
        aliases: &["工号", "编号", "teacherid", "teacher_id", "number"],
        required: false,
    },
    ColumnSpec {
        key: "name",
        header_zh: "姓名",
        aliases: &["教师姓名", "display_name"],
        required: true,
    },
    ColumnSpec {
        key: "id_number",
        header_zh: "身份证号",
        aliases: &[
            "身份证号码",
            "身份证件号",
            "身份证件号码",
            "公民身份号码",
            "idnumber",
            "id",
        ],
        required: true,
    },
    ColumnSpec {
        key: "sex",
        header_zh: "性别",
        aliases: &["gender"],
        required: false,
    },
    ColumnSpec {
        key: "birth_date",
        header_zh: "出生日期",
        aliases: &["出生年月日", "birthdate"],
        required: false,
    },
    ColumnSpec {
        key: "school_code",
        header_zh: "学校标识码",
        aliases: &["学校代码", "学校编码", "学校识别码", "school"],
        required: true,
    },
    ColumnSpec {
        key: "stage",
        header_zh: "学段",
        aliases: &["任教学段"],
        required: true,
    },
    ColumnSpec {
        key: "subject",
        header_zh: "任教学科",
        aliases: &["学科"],
        required: false,
    },
    ColumnSpec {
        key: "category",
        header_zh: "教师类别",
        aliases: &["类别", "教师类型"],
        required: false,
    },
    ColumnSpec {
        key: "roles",
        header_zh: "角色",
        aliases: &["岗位", "身份"],
        required: false,
    },
];

const NUMBER: usize = 0;
const NAME: usize = 1;
const ID_NUMBER: usize = 2;
const SEX: usize = 3;
const BIRTH_DATE: usize = 4;
const SCHOOL: usize = 5;
const STAGE: usize = 6;
const SUBJECT: usize = 7;
const CATEGORY: usize = 8;
const ROLES: usize = 9;

/// A teacher row that passed every per-row check (cross-row and database checks come later).
#[derive(Clone, Debug)]
pub struct TeacherDraft {
    /// Line in the file.
    pub line: i64,
    /// Teacher number, if the file gives one.
    pub number: Option<String>,
    /// Name.
    pub name: String,
    /// ID number.
    pub id: ResidentId,
    /// School code.
    pub school_code: String,
    /// Stage.
    pub stage: Stage,
    /// Subject.
    pub subject: String,
    /// Category (defaulted when the file has none).
    pub category: TeacherCategory,
    /// Roles (teacher when empty).
    pub roles: Vec<PersonRole>,
}

/// The longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 50;
/// The longest subject accepted, in characters.
pub const MAX_SUBJECT_CHARS: usize = 30;

struct RowCheck<'m> {
    line: i64,
    map: &'m HeaderMap,
    errors: Vec<RowError>,
}

impl RowCheck<'_> {
    fn fail(&mut self, column: usize, reason: Reason, message: impl Into<String>) {
        self.errors.push(RowError {
            line: self.line,
            column: self.map.name(column, &TEACHER_COLUMNS),
            reason,
            message: message.into(),
        });
    }

    /// The cell's text, or an error for bad encoding; `None` when the row already failed there.
    fn text<'c>(
        &mut self,
        cells: &'c [Cell<'_>],
        column: usize,
    ) -> Option<std::borrow::Cow<'c, str>> {
        match &cells[column] {
            Cell::BadEncoding { looks_gbk } => {
                let hint = if *looks_gbk {
                    "这一格的内容是 GBK 编码，文件其余部分是 UTF-8 (this cell is GBK-encoded while the file is UTF-8)"
                } else {
                    "这一格不是有效的 UTF-8 文本 (this cell is not valid UTF-8 text)"
                };
                self.fail(column, Reason::BadEncoding, hint);
                None
            }
            cell => cell.as_text(),
        }
    }

    fn required<'c>(
        &mut self,
        cells: &'c [Cell<'_>],
        column: usize,
        what: &str,
    ) -> Option<std::borrow::Cow<'c, str>> {
        let text = self.text(cells, column)?;
        if text.is_empty() {
            self.fail(
                column,
                Reason::MissingField,
                format!(
                    "{what}不能为空 ({} is required)",
                    TEACHER_COLUMNS[column].key
                ),
            );
            return None;
        }
        Some(text)
    }
}

/// Parses a date cell written the ways offices write dates.
pub fn parse_date_cell(cell: &Cell<'_>) -> Option<time::Date> {
    match cell {
        Cell::Date(d) => Some(*d),
        Cell::Number(n) => {
            super::excel_serial_date(*n).or_else(|| parse_date_text(&format!("{}", *n as i64)))
        }
        Cell::Text(t) => parse_date_text(t),
        _ => None,
    }
}

fn parse_date_text(text: &str) -> Option<time::Date> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let separated = text.contains(['-', '/', '.', '年']);
    let (y, m, d): (i32, u8, u8) = if separated {
        let parts: Vec<&str> = text
            .split(|c: char| !c.is_ascii_digit())
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() != 3 {
            return None;
        }
        (
            parts[0].parse().ok()?,
            parts[1].parse().ok()?,
            parts[2].parse().ok()?,
        )
    } else if digits.len() == 8 {
        (
            digits[..4].parse().ok()?,
            digits[4..6].parse().ok()?,
            digits[6..].parse().ok()?,
        )
    } else {
        return None;
    };
    let month = time::Month::try_from(m).ok()?;
    time::Date::from_calendar_date(y, month, d).ok()
}

/// Checks one teacher row. `today` bounds birth dates.
pub fn parse_row(
    line: i64,
    map: &HeaderMap,
    cells: &[Cell<'_>],
    today: time::Date,
) -> Result<TeacherDraft, Vec<RowError>> {
    if let Some(problem) = structural_problem(cells, line) {
        return Err(vec![problem]);
    }
    let mut check = RowCheck {
        line,
        map,
        errors: Vec::new(),
    };

    let number = check.text(cells, NUMBER).and_then(|n| {
        if n.is_empty() {
            return None;
        }
        match validate_teacher_number(&n) {
            Ok(()) => Some(n.into_owned()),
            Err(e) => {
                check.fail(
                    NUMBER,
                    Reason::InvalidValue,
                    format!("教师编号无效 (invalid teacher number): {e}"),
                );
                None
            }
        }
    });

    let name = check.required(cells, NAME, "姓名").and_then(|n| {
        if n.chars().count() > MAX_NAME_CHARS || n.chars().any(char::is_control) {
            check.fail(NAME, Reason::InvalidValue, format!("姓名过长或含控制字符 (name longer than {MAX_NAME_CHARS} characters or has control characters)"));
            None
        } else if tica_credential::qr::gb18030_len(n.trim()) > tica_credential::qr::MAX_NAME_BYTES {
            let max = tica_credential::qr::MAX_NAME_BYTES;
            check.fail(NAME, Reason::InvalidValue, format!("姓名过长，证书二维码最多容纳 {max} 字节 GB 18030（{} 个常用汉字） (the name is longer than the certificate's QR code holds: at most {max} bytes in GB 18030)", max / 2));
            None
        } else if let Some(c) = tica_pdf::unprintable(n.trim()) {
            let c = tica_pdf::describe(c);
            check.fail(NAME, Reason::InvalidValue, format!("姓名含有证书无法打印的字符 {c} ({c} cannot be printed on a certificate)"));
            None
        } else {
            Some(n.into_owned())
        }
    });

    let id = match &cells[ID_NUMBER] {
        Cell::Number(_) => {
            check.fail(
                ID_NUMBER,
                Reason::InvalidValue,
                "身份证号被 Excel 存成了数字，后几位已经丢失；请把该列设为“文本”格式后重新填写 \
                 (Excel stored the ID number as a number and lost its last digits: format the column as Text and re-enter it)",
            );
            None
        }
        _ => check.required(cells, ID_NUMBER, "身份证号").and_then(|raw| {
            if raw.contains(['E', 'e']) && raw.contains('+') {
                check.fail(
                    ID_NUMBER,
                    Reason::InvalidValue,
                    "身份证号是科学计数法（如 6.40102E+17），Excel 已丢失后几位；请把该列设为“文本”格式 \
                     (the ID number is in scientific notation: Excel lost its last digits; format the column as Text)",
                );
                return None;
            }
            match ResidentId::parse(&raw, today) {
                Ok(id) => Some(id),
                Err(error) => {
                    let reason = match error {
                        ResidentIdError::BadCheckCharacter { .. } => Reason::BadIdCheckDigit,
                        ResidentIdError::BadBirthDate | ResidentIdError::BirthDateInFuture => Reason::BadIdBirthDate,
                        _ => Reason::InvalidValue,
                    };
                    check.fail(ID_NUMBER, reason, error.to_string());
                    None
                }
            }
        }),
    };

    let school_code = check
        .required(cells, SCHOOL, "学校标识码")
        .and_then(|code| match validate_school_code(&code) {
            Ok(()) => Some(code.into_owned()),
            Err(e) => {
                check.fail(
                    SCHOOL,
                    Reason::InvalidValue,
                    format!("学校标识码无效 (invalid school code): {e}"),
                );
                None
            }
        });

    let stage = check.required(cells, STAGE, "学段").and_then(|s| match Stage::from_label(&s) {
        Some(stage) => Some(stage),
        None => {
            check.fail(STAGE, Reason::InvalidValue, format!("未知学段 “{s}”，应为 学前/小学/初中/高中/中职 (unknown stage; expected one of 学前, 小学, 初中, 高中, 中职)"));
            None
        }
    });

    let subject = check
        .text(cells, SUBJECT)
        .map(|s| s.into_owned())
        .unwrap_or_default();
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        check.fail(
            SUBJECT,
            Reason::InvalidValue,
            format!("学科名称过长 (subject longer than {MAX_SUBJECT_CHARS} characters)"),
        );
    }

    let category = match check.text(cells, CATEGORY) {
        Some(c) if !c.is_empty() => match TeacherCategory::from_label(&c) {
            Some(category) => Some(category),
            None => {
                check.fail(
                    CATEGORY,
                    Reason::InvalidValue,
                    format!("未知教师类别 “{c}”，应为 特级教师/自治区级骨干、市县级骨干、普通教师、幼儿园教师 之一 (unknown category)"),
                );
                None
            }
        },
        // No category given: kindergarten stage means a kindergarten teacher, else ordinary
        // (Ningxia's categories, 《宁夏测评实施办法》§三(一)2; other
        // provinces do not use them).
        _ => stage.map(|s| {
            if s == Stage::Preschool {
                TeacherCategory::Kindergarten
            } else {
                TeacherCategory::Ordinary
            }
        }),
    };

    let roles = check
        .text(cells, ROLES)
        .and_then(|r| match parse_roles(&r) {
            Ok(roles) => Some(roles),
            Err(e) => {
                check.fail(ROLES, Reason::InvalidValue, e);
                None
            }
        });

    if let Some(id) = &id {
        if map.has(BIRTH_DATE) && !cells[BIRTH_DATE].is_empty() {
            match parse_date_cell(&cells[BIRTH_DATE]) {
                None => check.fail(BIRTH_DATE, Reason::InvalidValue, "出生日期应写成 YYYY-MM-DD (birth date must be YYYY-MM-DD)"),
                Some(date) if date != id.birth_date() => check.fail(
                    BIRTH_DATE,
                    Reason::Inconsistent,
                    "出生日期与身份证号中的出生日期不一致 (the birth date differs from the one in the ID number)",
                ),
                Some(_) => {}
            }
        }
        if map.has(SEX)
            && let Some(text) = check.text(cells, SEX).filter(|t| !t.is_empty())
        {
            match Sex::from_label(&text) {
                None => check.fail(
                    SEX,
                    Reason::InvalidValue,
                    format!("性别应为 男 或 女 (sex must be 男 or 女), got “{text}”"),
                ),
                Some(sex) if sex != id.sex() => check.fail(
                    SEX,
                    Reason::Inconsistent,
                    "性别与身份证号第17位不一致 (the sex differs from the one in the ID number)",
                ),
                Some(_) => {}
            }
        }
    }

    match (name, id, school_code, stage, category, roles) {
        (Some(name), Some(id), Some(school_code), Some(stage), Some(category), Some(roles))
            if check.errors.is_empty() =>
        {
            Ok(TeacherDraft {
                line,
                number,
                name,
                id,
                school_code,
                stage,
                subject,
                category,
                roles,
            })
        }
        _ => Err(check.errors),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use time::macros::date;

    fn header() -> HeaderMap {
        let names: Vec<String> = TEACHER_COLUMNS
            .iter()
            .map(|c| c.header_zh.to_owned())
            .collect();
        HeaderMap::new(&names, &TEACHER_COLUMNS).unwrap()
    }

    fn row(cells: &[&str]) -> Vec<Cell<'static>> {
        cells
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(Cow::Owned(c.to_string()))
                }
            })
            .collect()
    }

    const TODAY: time::Date = date!(2026 - 11 - 23);

    #[test]
    fn a_complete_row_becomes_a_draft_with_defaults() {
        let id = ResidentId::generate("341324", date!(1985 - 03 - 07), 12);
        let cells = row(&[
            "",
            "王芳",
            id.as_str(),
            "",
            "1985-03-07",
            "3413240001",
            "小学",
            "语文",
            "",
            "",
        ]);
        let draft = parse_row(2, &header(), &cells, TODAY).unwrap();
        assert_eq!(draft.category, TeacherCategory::Ordinary);
        assert_eq!(draft.roles, vec![PersonRole::Teacher]);
        assert_eq!(draft.number, None);
    }

    #[test]
    fn every_bad_cell_of_a_row_is_reported() {
        let mut id = ResidentId::generate("341324", date!(1985 - 03 - 07), 12)
            .as_str()
            .to_owned();
        let last = id.pop().unwrap();
        id.push(if last == '0' { '1' } else { '0' });
        let cells = row(&["", "", &id, "", "", "", "大学", "", "", ""]);
        let errors = parse_row(7, &header(), &cells, TODAY).unwrap_err();
        let reasons: Vec<(&str, Reason)> = errors
            .iter()
            .map(|e| (e.column.as_str(), e.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                ("姓名", Reason::MissingField),
                ("身份证号", Reason::BadIdCheckDigit),
                ("学校标识码", Reason::MissingField),
                ("学段", Reason::InvalidValue),
            ]
        );
        assert!(errors.iter().all(|e| e.line == 7));
        assert!(
            !errors.iter().any(|e| e.message.contains(&id)),
            "the full ID number never appears in a message"
        );
    }

    #[test]
    fn an_id_number_mangled_by_excel_says_how_to_fix_it() {
        let cells = row(&[
            "",
            "李四",
            "6.40102E+17",
            "",
            "",
            "3413240001",
            "小学",
            "",
            "",
            "",
        ]);
        let errors = parse_row(3, &header(), &cells, TODAY).unwrap_err();
        assert!(errors[0].message.contains("Text"), "{}", errors[0].message);
    }

    #[test]
    fn a_birth_date_that_contradicts_the_id_number_is_inconsistent() {
        let id = ResidentId::generate("341324", date!(1985 - 03 - 07), 12);
        let cells = row(&[
            "",
            "王芳",
            id.as_str(),
            "",
            "1985/3/8",
            "3413240001",
            "小学",
            "",
            "",
            "",
        ]);
        let errors = parse_row(2, &header(), &cells, TODAY).unwrap_err();
        assert_eq!(errors[0].reason, Reason::Inconsistent);
    }

    #[test]
    fn dates_are_read_in_the_forms_offices_write() {
        assert_eq!(parse_date_text("1985-03-07"), Some(date!(1985 - 03 - 07)));
        assert_eq!(parse_date_text("1985/3/7"), Some(date!(1985 - 03 - 07)));
        assert_eq!(parse_date_text("19850307"), Some(date!(1985 - 03 - 07)));
        assert_eq!(parse_date_text("1985年3月7日"), Some(date!(1985 - 03 - 07)));
        assert_eq!(parse_date_text("1985-02-30"), None);
    }
}
