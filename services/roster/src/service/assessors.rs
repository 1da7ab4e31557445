//! Assessors (测评员): nomination, certification, registration, discipline
//! (《宁夏测评实施办法》§七(二)).

use tica_auth::Caller;
use tica_domain::assessor::RegistrationUnit;
use tica_domain::{AssessorAction, AssessorLevel, AssessorState};

use tica_server::retry_conflicts;

use super::{
    PageSpec, Roster, check_etag, json_fields, parent_scope, require_covers, require_office,
    visible,
};
use crate::error::{Problems, Result, RosterError};
use crate::model::{Assessor, Certification, Reprimand, Unit, next_micros};
use crate::store;
use crate::store::assessors::AssessorFilter;

/// A nomination.
#[derive(Clone, Debug)]
pub struct NewAssessor {
    /// The person.
    pub teacher_number: String,
    /// Level.
    pub level: AssessorLevel,
    /// Registration unit.
    pub registered_at: Unit,
    /// Subjects assessed.
    pub subjects: Vec<String>,
}

fn check_subjects(problems: &mut Problems, subjects: &[String]) {
    if subjects.len() > 20 {
        problems.add("assessor.subjects", "at most 20 subjects");
    }
    for (i, s) in subjects.iter().enumerate() {
        if s.trim().is_empty() || s.chars().count() > 30 {
            problems.add(format!("assessor.subjects[{i}]"), "1 to 30 characters");
        }
    }
}

impl Roster {
    /// One assessor.
    pub async fn get_assessor(&self, caller: &Caller, id: &str) -> Result<Assessor> {
        let found = store::assessors::get(&self.db, id).await?;
        visible(caller, found, |a| &a.path, || format!("assessors/{id}"))
    }

    /// Assessors registered inside a school or jurisdiction.
    pub async fn list_assessors(
        &self,
        caller: &Caller,
        parent: Option<Unit>,
        filter: AssessorFilter,
        page: PageSpec<(String, String)>,
    ) -> Result<(Vec<Assessor>, i64)> {
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        store::assessors::list(&self.db, &scope, &filter, page.after.as_ref(), page.limit).await
    }

    /// Nominates a teacher as a candidate at a level.
    pub async fn create_assessor(&self, caller: &Caller, new: NewAssessor) -> Result<Assessor> {
        require_office(caller, "nominate assessors")?;
        let mut problems = Problems::new();
        check_subjects(&mut problems, &new.subjects);
        let unit_kind = match &new.registered_at {
            Unit::School(_) => RegistrationUnit::School,
            Unit::Jurisdiction(code) => RegistrationUnit::Jurisdiction(code.level()),
        };
        if !new.level.matches_registration(unit_kind) {
            problems.add(
                "assessor.registered_at",
                format!(
                    "a {} assessor is registered at a {}",
                    new.level.label_zh(),
                    match new.level.registration_unit() {
                        RegistrationUnit::School => "school".to_owned(),
                        RegistrationUnit::Jurisdiction(level) =>
                            format!("{} jurisdiction", level.key()),
                    }
                ),
            );
        }
        problems.finish()?;
        let path = match &new.registered_at {
            Unit::School(code) => self.get_school(caller, code).await?.path,
            Unit::Jurisdiction(code) => {
                require_covers(caller, &tica_domain::ScopePath::for_jurisdiction(*code))?;
                super::jurisdiction_path(self, *code).await?
            }
        };
        require_covers(caller, &path)?;
        let teacher = store::teachers::get(&self.db, &new.teacher_number)
            .await?
            .ok_or_else(|| {
                RosterError::invalid(
                    "assessor.teacher",
                    format!("teachers/{}: no such teacher", new.teacher_number),
                )
            })?;
        if !path.contains(&teacher.path) {
            return Err(RosterError::invalid(
                "assessor.teacher",
                format!(
                    "teachers/{} works outside {}",
                    teacher.number,
                    new.registered_at.resource_name()
                ),
            ));
        }
        let now = store::audit::now();
        let assessor = Assessor {
            id: uuid::Uuid::now_v7().simple().to_string(),
            teacher_number: teacher.number.clone(),
            display_name: teacher.display_name.clone(),
            level: new.level,
            registered_at: new.registered_at,
            path: path.clone(),
            subjects: new.subjects.iter().map(|s| s.trim().to_owned()).collect(),
            state: AssessorState::Candidate,
            certification: None,
            reprimands: Vec::new(),
            state_reason: String::new(),
            create_micros: now,
            update_micros: now,
        };
        let audit = store::audit::entry(
            caller,
            "CreateAssessor",
            format!("assessors/{}", assessor.id),
            path,
            serde_json::json!({ "teacher": format!("teachers/{}", teacher.number), "level": assessor.level.key() }),
        );
        store::assessors::save(&self.db, &assessor, None, &audit).await?;
        Ok(assessor)
    }

    /// Updates an assessor's subjects. With an etag (`Some`), only the registration as the
    /// caller read it (ABORTED ETAG_MISMATCH otherwise); without, as it is.
    pub async fn update_assessor_subjects(
        &self,
        caller: &Caller,
        id: &str,
        subjects: Vec<String>,
        etag: Option<&str>,
    ) -> Result<Assessor> {
        require_office(caller, "change assessors")?;
        retry_conflicts(|| self.update_assessor_subjects_step(caller, id, &subjects, etag)).await
    }

    /// Reads the assessor, checks the etag, applies the subjects, writes over what it read.
    async fn update_assessor_subjects_step(
        &self,
        caller: &Caller,
        id: &str,
        subjects: &[String],
        etag: Option<&str>,
    ) -> Result<Assessor> {
        let mut a = self.get_assessor(caller, id).await?;
        let loaded = a.update_micros;
        check_etag(etag, &format!("assessors/{id}"), loaded)?;
        let mut problems = Problems::new();
        check_subjects(&mut problems, subjects);
        problems.finish()?;
        a.subjects = subjects.iter().map(|s| s.trim().to_owned()).collect();
        a.update_micros = next_micros(loaded);
        let audit = store::audit::entry(
            caller,
            "UpdateAssessor",
            format!("assessors/{id}"),
            a.path.clone(),
            json_fields(&["subjects"]),
        );
        store::assessors::save(&self.db, &a, Some(loaded), &audit).await?;
        Ok(a)
    }

    /// Applies a state transition (certify, register, reprimand, suspend, strike off).
    pub async fn transition_assessor(
        &self,
        caller: &Caller,
        id: &str,
        action: AssessorAction,
        reason: String,
        certification: Option<Certification>,
    ) -> Result<Assessor> {
        require_office(caller, "certify, register or discipline assessors")?;
        retry_conflicts(|| {
            self.transition_assessor_step(caller, id, action, &reason, certification.clone())
        })
        .await
    }

    /// Reads the assessor, decides the transition, writes it over what it read.
    async fn transition_assessor_step(
        &self,
        caller: &Caller,
        id: &str,
        action: AssessorAction,
        reason: &str,
        certification: Option<Certification>,
    ) -> Result<Assessor> {
        let mut a = self.get_assessor(caller, id).await?;
        let loaded = a.update_micros;
        let needs_reason = matches!(
            action,
            AssessorAction::Reprimand | AssessorAction::Suspend | AssessorAction::StrikeOff
        );
        if needs_reason && reason.trim().is_empty() {
            return Err(RosterError::invalid("reason", "required"));
        }
        if reason.chars().count() > 500 {
            return Err(RosterError::invalid("reason", "at most 500 characters"));
        }
        let next = a
            .state
            .apply(action)
            .map_err(RosterError::FailedPrecondition)?;
        let now = next_micros(loaded);
        match action {
            AssessorAction::Certify => {
                let c = certification
                    .ok_or_else(|| RosterError::invalid("certification", "required"))?;
                let mut problems = Problems::new();
                if c.certificate_number.trim().is_empty()
                    || c.certificate_number.chars().count() > 64
                {
                    problems.add("certification.certificate_number", "1 to 64 characters");
                }
                if c.issued_by.trim().is_empty() || c.issued_by.chars().count() > 100 {
                    problems.add("certification.issued_by", "1 to 100 characters");
                }
                if c.exam_date > super::today() {
                    problems.add("certification.exam_date", "must not be in the future");
                }
                problems.finish()?;
                a.certification = Some(c);
            }
            AssessorAction::Reprimand => a.reprimands.push(Reprimand {
                micros: now,
                reason: reason.trim().to_owned(),
            }),
            AssessorAction::Suspend | AssessorAction::StrikeOff => {
                a.state_reason = reason.trim().to_owned()
            }
            AssessorAction::Register => a.state_reason.clear(),
        }
        let method = match action {
            AssessorAction::Certify => "CertifyAssessor",
            AssessorAction::Register => "RegisterAssessor",
            AssessorAction::Reprimand => "ReprimandAssessor",
            AssessorAction::Suspend => "SuspendAssessor",
            AssessorAction::StrikeOff => "StrikeOffAssessor",
        };
        let change =
            serde_json::json!({ "from": a.state.key(), "to": next.key(), "reason": reason.trim() });
        a.state = next;
        a.update_micros = now;
        let audit = store::audit::entry(
            caller,
            method,
            format!("assessors/{id}"),
            a.path.clone(),
            change,
        );
        store::assessors::save(&self.db, &a, Some(loaded), &audit).await?;
        Ok(a)
    }
}
