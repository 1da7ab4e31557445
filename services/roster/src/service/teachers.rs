//! Teachers: registration, corrections, moves between schools.

use tica_auth::{Caller, Role};
use tica_domain::person::validate_teacher_number;
use tica_domain::{PersonRole, ResidentId, Stage, TeacherCategory};

use tica_server::retry_conflicts;

use super::{PageSpec, Roster, check_etag, denied, parent_scope, require_office, today, visible};
use crate::error::{Problems, Result, RosterError};
use crate::files::teachers::{MAX_NAME_CHARS, MAX_SUBJECT_CHARS};
use crate::model::{PastAssignment, Teacher, Unit, next_micros};
use crate::store;
use crate::store::teachers::TeacherFilter;
use tica_credential::qr::MAX_NAME_BYTES;

/// A teacher to register.
#[derive(Clone, Debug)]
pub struct NewTeacher {
    /// Teacher number, or `None` to assign one.
    pub number: Option<String>,
    /// Name.
    pub display_name: String,
    /// The ID number as typed.
    pub id_number: String,
    /// A birth date to cross-check, if given.
    pub birth_date: Option<time::Date>,
    /// School code.
    pub school_code: String,
    /// Stage.
    pub stage: Option<Stage>,
    /// Subject.
    pub subject: String,
    /// Category.
    pub category: Option<TeacherCategory>,
    /// Roles (teacher when empty).
    pub roles: Vec<PersonRole>,
}

/// Changes to a teacher, as its field mask selected them.
#[derive(Clone, Debug, Default)]
pub struct TeacherUpdate {
    /// New name.
    pub display_name: Option<String>,
    /// Corrected ID number, as typed.
    pub id_number: Option<String>,
    /// New stage.
    pub stage: Option<Stage>,
    /// New subject.
    pub subject: Option<String>,
    /// New category.
    pub category: Option<TeacherCategory>,
    /// New roles.
    pub roles: Option<Vec<PersonRole>>,
    /// The etag the caller read (AIP-154): the update applies only if it is still current.
    pub etag: Option<String>,
}

pub(crate) fn check_name(problems: &mut Problems, field: &str, name: &str) {
    let name = name.trim();
    if name.is_empty() {
        problems.add(field, "required");
    } else if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        problems.add(
            field,
            format!("at most {MAX_NAME_CHARS} characters, without control characters"),
        );
    } else if let Some(m) = over_qr_budget(name, MAX_NAME_BYTES) {
        problems.add(field, m);
    } else {
        check_printable(problems, field, name);
    }
}

/// Why `value` is too long for the certificate's QR code, which carries it in GB 18030 within
/// `max` bytes (`tica_credential::qr`: the longest of every such text at once still fits),
/// None when it fits.
pub(crate) fn over_qr_budget(value: &str, max: usize) -> Option<String> {
    let bytes = tica_credential::qr::gb18030_len(value.trim());
    (bytes > max).then(|| {
        format!(
            "{bytes} bytes in GB 18030, at most {max} ({} common Chinese characters): the \
             certificate's QR code carries it",
            max / 2
        )
    })
}

/// A value a certificate prints (a teacher's, school's or jurisdiction's name) must print:
/// a character neither certificate font has would stop every issuance run at that teacher's
/// result (issue 16), so it is refused here, naming the character.
pub(crate) fn check_printable(problems: &mut Problems, field: &str, value: &str) {
    if let Some(c) = unprintable_message(value) {
        problems.add(field, c);
    }
}

/// Why `value` cannot be printed on a certificate, None when it can.
pub(crate) fn unprintable_message(value: &str) -> Option<String> {
    tica_pdf::unprintable(value.trim()).map(|c| {
        format!(
            "{} cannot be printed on a certificate",
            tica_pdf::describe(c)
        )
    })
}

fn check_subject(problems: &mut Problems, field: &str, subject: &str) {
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        problems.add(field, format!("at most {MAX_SUBJECT_CHARS} characters"));
    }
}

fn normalised_roles(roles: Vec<PersonRole>) -> Vec<PersonRole> {
    let mut roles = if roles.is_empty() {
        vec![PersonRole::Teacher]
    } else {
        roles
    };
    roles.sort_by_key(|r| r.key());
    roles.dedup();
    roles
}

impl Roster {
    /// One teacher. A teacher token reads only its own record.
    pub async fn get_teacher(&self, caller: &Caller, number: &str) -> Result<Teacher> {
        if caller.role == Role::Teacher && caller.subject != number {
            return Err(denied(caller));
        }
        let found = store::teachers::get(&self.db, number).await?;
        visible(caller, found, |t| &t.path, || format!("teachers/{number}"))
    }

    /// Teachers by number, in order; fails whole if one is missing or out of scope.
    pub async fn batch_get_teachers(
        &self,
        caller: &Caller,
        numbers: &[String],
    ) -> Result<Vec<Teacher>> {
        let mut found = store::teachers::get_many(&self.db, numbers).await?;
        let mut teachers = Vec::with_capacity(numbers.len());
        for number in numbers {
            if caller.role == Role::Teacher && caller.subject != *number {
                return Err(denied(caller));
            }
            let teacher = visible(
                caller,
                found.get(number).cloned(),
                |t| &t.path,
                || format!("teachers/{number}"),
            )?;
            teachers.push(teacher);
        }
        found.clear();
        Ok(teachers)
    }

    /// Teachers of a school or a jurisdiction's subtree.
    pub async fn list_teachers(
        &self,
        caller: &Caller,
        parent: Option<Unit>,
        filter: TeacherFilter,
        page: PageSpec<(String, String)>,
    ) -> Result<(Vec<Teacher>, i64)> {
        // A training provider finds the teacher a record names by ID number; it does not list
        // the roster (issue 16, point 6).
        if caller.role == Role::TrainingProvider && filter.id_number.is_none() {
            return Err(RosterError::PermissionDenied(
                "a training provider looks teachers up by ID number only (id_number)".into(),
            ));
        }
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        store::teachers::list(&self.db, &scope, &filter, page.after.as_ref(), page.limit).await
    }

    /// One page of the full identities (number, name, full ID number) of the teachers under
    /// `parent`, for a service keying what only the number's holder may find. Offices only; the
    /// page is recorded in the audit trail with its row count (never the numbers).
    pub async fn list_teacher_identities(
        &self,
        caller: &Caller,
        parent: Option<Unit>,
        page: PageSpec<(String, String)>,
    ) -> Result<Vec<Teacher>> {
        require_office(caller, "read full resident ID numbers")?;
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        let (teachers, _) = store::teachers::list(
            &self.db,
            &scope,
            &TeacherFilter::default(),
            page.after.as_ref(),
            page.limit,
        )
        .await?;
        let audit = store::audit::entry(
            caller,
            "ListTeacherIdentities",
            parent
                .as_ref()
                .map_or_else(|| caller.acting_for(), Unit::resource_name),
            scope,
            serde_json::json!({ "full_id_numbers": true, "rows": teachers.len() }),
        );
        store::audit::record(&self.db, &audit).await?;
        Ok(teachers)
    }

    /// Registers a teacher.
    pub async fn create_teacher(&self, caller: &Caller, new: NewTeacher) -> Result<Teacher> {
        let mut problems = Problems::new();
        check_name(&mut problems, "teacher.display_name", &new.display_name);
        let id = problems.check(
            "teacher.id_number",
            ResidentId::parse(&new.id_number, today()),
        );
        if let (Some(id), Some(birth)) = (&id, new.birth_date)
            && id.birth_date() != birth
        {
            problems.add(
                "teacher.birth_date",
                "differs from the birth date in the ID number",
            );
        }
        if let Some(number) = &new.number {
            problems.check("teacher_id", validate_teacher_number(number));
        }
        if new.school_code.is_empty() {
            problems.add("teacher.school", "required: `schools/{code}`");
        }
        if new.stage.is_none() {
            problems.add("teacher.stage", "required");
        }
        if new.category.is_none() {
            problems.add("teacher.category", "required");
        }
        check_subject(&mut problems, "teacher.subject", &new.subject);
        problems.finish()?;
        let (Some(id), Some(stage), Some(category)) = (id, new.stage, new.category) else {
            unreachable!("checked above")
        };
        if caller.role == Role::Teacher {
            return Err(denied(caller));
        }
        // A school outside the caller's jurisdiction and a code registered nowhere get the
        // same answer, naming only the caller's own scope: nothing outside it is confirmed.
        let school = match store::schools::get(&self.db, &new.school_code).await? {
            Some(school) if caller.covers(&school.path) => school,
            _ => {
                return Err(RosterError::PermissionDenied(format!(
                    "no school schools/{} in the jurisdiction this token acts for ({})",
                    new.school_code,
                    caller.acting_for()
                )));
            }
        };
        let number = match new.number {
            Some(number) => number,
            None => {
                let seq =
                    store::teachers::max_generated_sequence(&self.db, &school.code).await? + 1;
                if seq > 9999 {
                    return Err(RosterError::invalid(
                        "teacher_id",
                        "this school has used every generated number; give one",
                    ));
                }
                format!("{}{seq:04}", school.code)
            }
        };
        let now = store::audit::now();
        let teacher = Teacher {
            number,
            display_name: new.display_name.trim().to_owned(),
            id_number: id,
            school_code: school.code.clone(),
            jurisdiction: school.jurisdiction,
            path: school.path.clone(),
            stage,
            subject: new.subject.trim().to_owned(),
            category,
            roles: normalised_roles(new.roles),
            since: today(),
            history: Vec::new(),
            create_micros: now,
            update_micros: now,
        };
        let audit = store::audit::entry(
            caller,
            "CreateTeacher",
            format!("teachers/{}", teacher.number),
            teacher.path.clone(),
            serde_json::json!({ "school": format!("schools/{}", teacher.school_code), "id_number": teacher.id_number.masked() }),
        );
        match store::teachers::insert(&self.db, &teacher, &audit).await {
            Ok(()) => Ok(teacher),
            Err(RosterError::AlreadyExists(what)) => {
                Err(self.clash(caller, &teacher, what).await?)
            }
            Err(e) => Err(e),
        }
    }

    /// The answer to a new teacher whose ID number or number is taken: ALREADY_EXISTS when the
    /// holder is in the caller's jurisdiction; otherwise the PERMISSION_DENIED any record the
    /// caller may not see gets, which names neither the holder nor where they are.
    async fn clash(&self, caller: &Caller, teacher: &Teacher, what: String) -> Result<RosterError> {
        let by_id =
            store::bulk::teachers_by_id_number(&self.db, &[teacher.id_number.as_str().to_owned()])
                .await?;
        let by_number =
            store::bulk::existing_teacher_numbers(&self.db, std::slice::from_ref(&teacher.number))
                .await?;
        let hidden = by_id
            .values()
            .map(|(_, path)| path)
            .chain(by_number.values())
            .any(|path| !tica_domain::ScopePath::parse(path).is_some_and(|p| caller.covers(&p)));
        Ok(if hidden {
            denied(caller)
        } else {
            RosterError::AlreadyExists(what)
        })
    }

    /// Updates a teacher's fields (not the school). With an etag, only the teacher as the
    /// caller read them (ABORTED ETAG_MISMATCH otherwise); without, as they are.
    pub async fn update_teacher(
        &self,
        caller: &Caller,
        number: &str,
        update: TeacherUpdate,
    ) -> Result<Teacher> {
        if caller.role == Role::Teacher {
            return Err(denied(caller));
        }
        retry_conflicts(|| self.update_teacher_step(caller, number, &update)).await
    }

    /// Reads the teacher, checks the etag, applies the update, writes it over what it read.
    async fn update_teacher_step(
        &self,
        caller: &Caller,
        number: &str,
        update: &TeacherUpdate,
    ) -> Result<Teacher> {
        let mut teacher = self.get_teacher(caller, number).await?;
        let loaded = teacher.update_micros;
        check_etag(
            update.etag.as_deref(),
            &format!("teachers/{number}"),
            loaded,
        )?;
        let update = update.clone();
        let mut problems = Problems::new();
        let mut change = serde_json::Map::new();
        if let Some(name) = update.display_name {
            check_name(&mut problems, "teacher.display_name", &name);
            teacher.display_name = name.trim().to_owned();
            change.insert("display_name".into(), "(changed)".into());
        }
        if let Some(raw) = update.id_number
            && let Some(id) = problems.check("teacher.id_number", ResidentId::parse(&raw, today()))
        {
            change.insert(
                "id_number".into(),
                serde_json::json!({ "from": teacher.id_number.masked(), "to": id.masked() }),
            );
            teacher.id_number = id;
        }
        if let Some(stage) = update.stage {
            teacher.stage = stage;
            change.insert("stage".into(), stage.key().into());
        }
        if let Some(subject) = update.subject {
            check_subject(&mut problems, "teacher.subject", &subject);
            teacher.subject = subject.trim().to_owned();
            change.insert("subject".into(), teacher.subject.clone().into());
        }
        if let Some(category) = update.category {
            teacher.category = category;
            change.insert("category".into(), category.key().into());
        }
        if let Some(roles) = update.roles {
            teacher.roles = normalised_roles(roles);
            change.insert(
                "roles".into(),
                store::teachers::roles_to_text(&teacher.roles).into(),
            );
        }
        problems.finish()?;
        teacher.update_micros = next_micros(loaded);
        let audit = store::audit::entry(
            caller,
            "UpdateTeacher",
            format!("teachers/{number}"),
            teacher.path.clone(),
            change.into(),
        );
        store::teachers::update(&self.db, &teacher, loaded, &audit).await?;
        Ok(teacher)
    }

    /// Moves a teacher to another school, keeping their number and history.
    pub async fn move_teacher(
        &self,
        caller: &Caller,
        number: &str,
        to_school: &str,
        effective: Option<time::Date>,
        reason: String,
    ) -> Result<Teacher> {
        if caller.role == Role::Teacher {
            return Err(denied(caller));
        }
        retry_conflicts(|| self.move_teacher_step(caller, number, to_school, effective, &reason))
            .await
    }

    /// Reads the teacher and the school, decides the move, writes it over what it read.
    async fn move_teacher_step(
        &self,
        caller: &Caller,
        number: &str,
        to_school: &str,
        effective: Option<time::Date>,
        reason: &str,
    ) -> Result<Teacher> {
        let mut teacher = self.get_teacher(caller, number).await?;
        let loaded = teacher.update_micros;
        let school = self
            .get_school(caller, to_school)
            .await
            .map_err(|e| match e {
                RosterError::NotFound(what) => {
                    RosterError::invalid("school", format!("{what}: no such school"))
                }
                other => other,
            })?;
        if school.code == teacher.school_code {
            return Err(RosterError::invalid(
                "school",
                format!("teachers/{number} is already at schools/{to_school}"),
            ));
        }
        if reason.chars().count() > 200 {
            return Err(RosterError::invalid("reason", "at most 200 characters"));
        }
        let effective = effective.unwrap_or_else(today);
        if effective <= teacher.since {
            return Err(RosterError::invalid(
                "effective_date",
                format!(
                    "must be after the current assignment's start ({})",
                    tica_server::proto_time::date_to_iso(teacher.since)
                ),
            ));
        }
        let ended = PastAssignment {
            school_code: teacher.school_code.clone(),
            start: teacher.since,
            end: effective
                .previous_day()
                .expect("a date after another has a previous day"),
            end_reason: reason.trim().to_owned(),
        };
        let from = format!("schools/{}", teacher.school_code);
        let old_path = teacher.path.clone();
        teacher.school_code = school.code.clone();
        teacher.jurisdiction = school.jurisdiction;
        teacher.path = school.path.clone();
        teacher.since = effective;
        teacher.update_micros = next_micros(loaded);
        let change = serde_json::json!({
            "from": from,
            "to": format!("schools/{}", school.code),
            "effective_date": tica_server::proto_time::date_to_iso(effective),
        });
        // One entry where the teacher arrives and one where they left, so both offices see it.
        let audits = [
            store::audit::entry(
                caller,
                "MoveTeacher",
                format!("teachers/{number}"),
                school.path.clone(),
                change.clone(),
            ),
            store::audit::entry(
                caller,
                "MoveTeacher",
                format!("teachers/{number}"),
                old_path,
                change,
            ),
        ];
        store::teachers::move_to(&self.db, &teacher, loaded, &ended, &audits).await?;
        teacher.history.push(ended);
        Ok(teacher)
    }
}
