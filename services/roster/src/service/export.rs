//! Export of schools and teachers as the files offices exchange.

use tica_auth::Caller;
use tica_domain::division::DivisionCode;

use super::{PageSpec, Roster, parent_scope, require_office, today};
use crate::error::{Result, RosterError};
use crate::files::schools::SCHOOL_COLUMNS;
use crate::files::teachers::TEACHER_COLUMNS;
use crate::files::write::{UTF8_BOM, csv_record, xlsx};
use crate::model::{School, Teacher, Unit};
use crate::store;
use crate::store::schools::SchoolFilter;
use crate::store::teachers::TeacherFilter;

/// The format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// CSV, UTF-8 with a BOM.
    Csv,
    /// XLSX.
    Xlsx,
}

/// An exported file.
#[derive(Clone, Debug)]
pub struct ExportFile {
    /// Suggested name.
    pub file_name: String,
    /// MIME type.
    pub content_type: &'static str,
    /// Data rows.
    pub row_count: i64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

const PAGE: i64 = 5000;

fn file(
    stem: &str,
    scope_label: &str,
    format: ExportFormat,
    header: &[&str],
    rows: Vec<Vec<String>>,
) -> Result<ExportFile> {
    let date = tica_server::proto_time::date_to_iso(today());
    let row_count = rows.len() as i64;
    Ok(match format {
        ExportFormat::Csv => {
            let mut bytes = UTF8_BOM.to_vec();
            csv_record(&mut bytes, header);
            for row in &rows {
                let cells: Vec<&str> = row.iter().map(String::as_str).collect();
                csv_record(&mut bytes, &cells);
            }
            ExportFile {
                file_name: format!("{stem}-{scope_label}-{date}.csv"),
                content_type: "text/csv; charset=utf-8",
                row_count,
                bytes,
            }
        }
        ExportFormat::Xlsx => ExportFile {
            file_name: format!("{stem}-{scope_label}-{date}.xlsx"),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            row_count,
            bytes: xlsx(stem, header, &rows)
                .map_err(|e| RosterError::Internal(format!("cannot write the workbook: {e}")))?,
        },
    })
}

fn scope_label(parent: Option<&Unit>, caller: &Caller) -> String {
    match parent {
        Some(Unit::School(code)) => code.clone(),
        Some(Unit::Jurisdiction(code)) => code.to_string(),
        None => caller
            .school
            .clone()
            .unwrap_or_else(|| caller.jurisdiction.to_string()),
    }
}

fn teacher_row(t: &Teacher, school_name: &str, full_ids: bool) -> Vec<String> {
    vec![
        t.number.clone(),
        t.display_name.clone(),
        if full_ids {
            t.id_number.as_str().to_owned()
        } else {
            t.id_number.masked()
        },
        t.id_number.sex().label_zh().to_owned(),
        tica_server::proto_time::date_to_iso(t.id_number.birth_date()),
        t.school_code.clone(),
        school_name.to_owned(),
        t.stage.label_zh().to_owned(),
        t.subject.clone(),
        t.category.label_zh().to_owned(),
        t.roles
            .iter()
            .map(|r| r.label_zh())
            .collect::<Vec<_>>()
            .join("、"),
    ]
}

fn school_row(s: &School) -> Vec<String> {
    vec![
        s.code.clone(),
        s.display_name.clone(),
        s.jurisdiction.to_string(),
        s.kind.label_zh().to_owned(),
        if s.rural { "是" } else { "否" }.to_owned(),
        s.full_time_teacher_count.to_string(),
        s.plan.theme.clone(),
    ]
}

impl Roster {
    /// Teachers of a school or jurisdiction as a file; ID numbers masked unless an office asks
    /// for them in full (which is audited).
    pub async fn export_teachers(
        &self,
        caller: &Caller,
        parent: Option<Unit>,
        format: ExportFormat,
        full_ids: bool,
    ) -> Result<ExportFile> {
        if full_ids {
            require_office(caller, "export full resident ID numbers")?;
        }
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        let names = store::schools::names(&self.db, &scope).await?;
        let mut rows = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let page = PageSpec {
                limit: PAGE,
                after: after.clone(),
            };
            let (teachers, _) = store::teachers::list(
                &self.db,
                &scope,
                &TeacherFilter::default(),
                page.after.as_ref(),
                page.limit,
            )
            .await?;
            let done = (teachers.len() as i64) < PAGE;
            if let Some(last) = teachers.last() {
                after = Some((last.path.as_str().to_owned(), last.number.clone()));
            }
            rows.extend(teachers.iter().map(|t| {
                teacher_row(
                    t,
                    names.get(&t.school_code).map_or("", String::as_str),
                    full_ids,
                )
            }));
            if done {
                break;
            }
        }
        let mut header: Vec<&str> = TEACHER_COLUMNS.iter().map(|c| c.header_zh).collect();
        header.insert(6, "学校名称");
        if full_ids {
            let audit = store::audit::entry(
                caller,
                "ExportTeachers",
                parent
                    .as_ref()
                    .map_or_else(|| caller.acting_for(), Unit::resource_name),
                scope,
                serde_json::json!({ "include_full_id_numbers": true, "rows": rows.len() }),
            );
            store::audit::record(&self.db, &audit).await?;
        }
        file(
            "teachers",
            &scope_label(parent.as_ref(), caller),
            format,
            &header,
            rows,
        )
    }

    /// Schools of a jurisdiction as a file.
    pub async fn export_schools(
        &self,
        caller: &Caller,
        parent: Option<DivisionCode>,
        format: ExportFormat,
    ) -> Result<ExportFile> {
        let unit = parent.map(Unit::Jurisdiction);
        let scope = parent_scope(self, caller, unit.as_ref()).await?;
        let mut rows = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (schools, _) = store::schools::list(
                &self.db,
                &scope,
                &SchoolFilter::default(),
                after.as_deref(),
                PAGE,
            )
            .await?;
            let done = (schools.len() as i64) < PAGE;
            if let Some(last) = schools.last() {
                after = Some(last.path.as_str().to_owned());
            }
            rows.extend(schools.iter().map(school_row));
            if done {
                break;
            }
        }
        let header: Vec<&str> = SCHOOL_COLUMNS.iter().map(|c| c.header_zh).collect();
        file(
            "schools",
            &scope_label(unit.as_ref(), caller),
            format,
            &header,
            rows,
        )
    }
}
