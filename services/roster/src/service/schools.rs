//! Schools and their ICT plans.

use tica_auth::Caller;
use tica_domain::division::DivisionCode;
use tica_domain::{SchoolKind, ScopePath};

use super::jurisdictions::check_display_name;
use tica_server::retry_conflicts;

use super::{
    PageSpec, Roster, check_etag, json_fields, parent_scope, require_covers, require_office,
    visible,
};
use crate::error::{Problems, Result, RosterError};
use crate::model::{IctPlan, IctPlanState, School, Unit, next_micros};
use crate::store;
use crate::store::schools::SchoolFilter;

/// A school to register.
#[derive(Clone, Debug)]
pub struct NewSchool {
    /// School code.
    pub code: String,
    /// Official name.
    pub display_name: String,
    /// County or city.
    pub jurisdiction: DivisionCode,
    /// Kind.
    pub kind: SchoolKind,
    /// 乡村学校.
    pub rural: bool,
    /// 专任教师数.
    pub full_time_teacher_count: i64,
    /// Plan theme, summary, document URL.
    pub plan: (String, String, String),
}

/// Changes to a school, as its field mask selected them.
#[derive(Clone, Debug, Default)]
pub struct SchoolUpdate {
    /// New name.
    pub display_name: Option<String>,
    /// New kind.
    pub kind: Option<SchoolKind>,
    /// New rural flag.
    pub rural: Option<bool>,
    /// New teacher count.
    pub full_time_teacher_count: Option<i64>,
    /// New plan theme.
    pub plan_theme: Option<String>,
    /// New plan summary.
    pub plan_summary: Option<String>,
    /// New plan document URL.
    pub plan_document_uri: Option<String>,
    /// The etag the caller read (AIP-154): the update applies only if it is still current.
    pub etag: Option<String>,
}

/// A county's decision on a submitted plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanDecision {
    /// 审核备案.
    File,
    /// Back to the school.
    Return,
}

fn check_plan(problems: &mut Problems, theme: &str, summary: &str, uri: &str) {
    if theme.chars().count() > 200 {
        problems.add("school.ict_plan.research_theme", "at most 200 characters");
    }
    if summary.chars().count() > 4000 {
        problems.add("school.ict_plan.summary", "at most 4000 characters");
    }
    let is_url = uri.starts_with("https://") || uri.starts_with("http://");
    if !uri.is_empty() && !is_url {
        problems.add("school.ict_plan.document_uri", "must be an http(s) URL");
    }
}

/// A school's name: a display name that also fits the certificate's QR code (issue 16: a
/// 100-character name made every certificate of its county fail).
fn check_school_name(problems: &mut Problems, name: &str) {
    let mut own = Problems::new();
    check_display_name(&mut own, "school.display_name", name);
    if !own.is_empty() {
        check_display_name(problems, "school.display_name", name);
    } else if let Some(m) =
        super::teachers::over_qr_budget(name, tica_credential::qr::MAX_SCHOOL_BYTES)
    {
        problems.add("school.display_name", m);
    }
}

fn check_count(problems: &mut Problems, count: i64) {
    if !(0..=100_000).contains(&count) {
        problems.add(
            "school.full_time_teacher_count",
            "must be between 0 and 100000",
        );
    }
}

impl Roster {
    /// One school.
    pub async fn get_school(&self, caller: &Caller, code: &str) -> Result<School> {
        let found = store::schools::get(&self.db, code).await?;
        visible(caller, found, |s| &s.path, || format!("schools/{code}"))
    }

    /// Schools by code, in order; fails whole if one is missing or out of scope.
    pub async fn batch_get_schools(
        &self,
        caller: &Caller,
        codes: &[String],
    ) -> Result<Vec<School>> {
        let mut schools = Vec::with_capacity(codes.len());
        for code in codes {
            schools.push(self.get_school(caller, code).await?);
        }
        Ok(schools)
    }

    /// Schools in a jurisdiction's subtree.
    pub async fn list_schools(
        &self,
        caller: &Caller,
        parent: Option<DivisionCode>,
        filter: SchoolFilter,
        page: PageSpec<String>,
    ) -> Result<(Vec<School>, i64)> {
        let scope = parent_scope(self, caller, parent.map(Unit::Jurisdiction).as_ref()).await?;
        store::schools::list(&self.db, &scope, &filter, page.after.as_deref(), page.limit).await
    }

    /// Registers a school.
    pub async fn create_school(&self, caller: &Caller, new: NewSchool) -> Result<School> {
        let mut problems = Problems::new();
        problems.check(
            "school.name",
            tica_domain::school::validate_school_code(&new.code),
        );
        check_school_name(&mut problems, &new.display_name);
        check_count(&mut problems, new.full_time_teacher_count);
        check_plan(&mut problems, &new.plan.0, &new.plan.1, &new.plan.2);
        problems.check(
            "school.jurisdiction",
            new.jurisdiction.validate_as_jurisdiction(),
        );
        problems.finish()?;
        let path = ScopePath::for_school(new.jurisdiction, &new.code);
        require_covers(caller, &path)?;
        if store::jurisdictions::get(&self.db, new.jurisdiction)
            .await?
            .is_none()
        {
            return Err(RosterError::FailedPrecondition(format!(
                "jurisdictions/{} is not registered; create it first",
                new.jurisdiction
            )));
        }
        let now = store::audit::now();
        let mut plan = IctPlan::empty();
        (plan.theme, plan.summary, plan.document_uri) = new.plan;
        if plan.has_content() {
            plan.state = IctPlanState::Submitted;
        }
        let school = School {
            code: new.code,
            display_name: new.display_name.trim().to_owned(),
            jurisdiction: new.jurisdiction,
            path: path.clone(),
            kind: new.kind,
            rural: new.rural,
            full_time_teacher_count: new.full_time_teacher_count,
            plan,
            registered_teacher_count: 0,
            create_micros: now,
            update_micros: now,
        };
        let audit = store::audit::entry(
            caller,
            "CreateSchool",
            format!("schools/{}", school.code),
            path,
            serde_json::json!({
                "display_name": school.display_name,
                "jurisdiction": format!("jurisdictions/{}", school.jurisdiction),
                "kind": school.kind.key(),
                "rural": school.rural,
            }),
        );
        match store::schools::insert(&self.db, &school, &audit).await {
            Ok(()) => Ok(school),
            // A code registered outside the caller's jurisdiction: the caller learns no more
            // than for any other school it may not see.
            Err(RosterError::AlreadyExists(what)) => {
                match store::schools::get(&self.db, &school.code).await? {
                    Some(other) if !caller.covers(&other.path) => Err(super::denied(caller)),
                    _ => Err(RosterError::AlreadyExists(what)),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Updates a school; changing the plan's content submits it to the county again. With an
    /// etag, only the school as the caller read it (ABORTED ETAG_MISMATCH otherwise); without,
    /// the school as it is (a write that comes first in between makes it read again).
    pub async fn update_school(
        &self,
        caller: &Caller,
        code: &str,
        update: SchoolUpdate,
    ) -> Result<School> {
        retry_conflicts(|| self.update_school_step(caller, code, &update)).await
    }

    /// Reads the school, checks the etag, applies the update, writes it over what it read.
    async fn update_school_step(
        &self,
        caller: &Caller,
        code: &str,
        update: &SchoolUpdate,
    ) -> Result<School> {
        let mut school = self.get_school(caller, code).await?;
        let loaded = school.update_micros;
        check_etag(update.etag.as_deref(), &format!("schools/{code}"), loaded)?;
        let update = update.clone();
        let mut problems = Problems::new();
        let mut fields = Vec::new();
        if let Some(name) = update.display_name {
            check_school_name(&mut problems, &name);
            school.display_name = name.trim().to_owned();
            fields.push("display_name");
        }
        if let Some(kind) = update.kind {
            school.kind = kind;
            fields.push("kind");
        }
        if let Some(rural) = update.rural {
            school.rural = rural;
            fields.push("rural");
        }
        if let Some(count) = update.full_time_teacher_count {
            check_count(&mut problems, count);
            school.full_time_teacher_count = count;
            fields.push("full_time_teacher_count");
        }
        let mut plan_changed = false;
        for (value, slot, field) in [
            (
                update.plan_theme,
                &mut school.plan.theme,
                "ict_plan.research_theme",
            ),
            (
                update.plan_summary,
                &mut school.plan.summary,
                "ict_plan.summary",
            ),
            (
                update.plan_document_uri,
                &mut school.plan.document_uri,
                "ict_plan.document_uri",
            ),
        ] {
            if let Some(value) = value {
                plan_changed |= *slot != value;
                *slot = value;
                fields.push(field);
            }
        }
        check_plan(
            &mut problems,
            &school.plan.theme,
            &school.plan.summary,
            &school.plan.document_uri,
        );
        problems.finish()?;
        if plan_changed {
            school.plan.state = if school.plan.has_content() {
                IctPlanState::Submitted
            } else {
                IctPlanState::None
            };
            school.plan.review_comment.clear();
            school.plan.review_micros = None;
        }
        school.update_micros = next_micros(loaded);
        let audit = store::audit::entry(
            caller,
            "UpdateSchool",
            format!("schools/{code}"),
            school.path.clone(),
            json_fields(&fields),
        );
        store::schools::update(&self.db, &school, loaded, &audit).await?;
        Ok(school)
    }

    /// Files or returns a submitted ICT plan (offices only).
    pub async fn review_ict_plan(
        &self,
        caller: &Caller,
        code: &str,
        decision: PlanDecision,
        comment: String,
    ) -> Result<School> {
        require_office(caller, "review a school's ICT plan")?;
        retry_conflicts(|| self.review_ict_plan_step(caller, code, decision, &comment)).await
    }

    /// Reads the school, decides the review, writes it over what it read.
    async fn review_ict_plan_step(
        &self,
        caller: &Caller,
        code: &str,
        decision: PlanDecision,
        comment: &str,
    ) -> Result<School> {
        let mut school = self.get_school(caller, code).await?;
        let loaded = school.update_micros;
        if decision == PlanDecision::Return && comment.trim().is_empty() {
            return Err(RosterError::invalid(
                "comment",
                "say what the school must change when returning its plan",
            ));
        }
        if school.plan.state != IctPlanState::Submitted {
            return Err(RosterError::FailedPrecondition(format!(
                "schools/{code} has no submitted plan to review (its plan is {})",
                school.plan.state.key()
            )));
        }
        let now = next_micros(loaded);
        school.plan.state = match decision {
            PlanDecision::File => IctPlanState::Filed,
            PlanDecision::Return => IctPlanState::Returned,
        };
        school.plan.review_comment = comment.trim().to_owned();
        school.plan.review_micros = Some(now);
        school.update_micros = now;
        let audit = store::audit::entry(
            caller,
            "ReviewSchoolIctPlan",
            format!("schools/{code}"),
            school.path.clone(),
            serde_json::json!({ "decision": school.plan.state.key() }),
        );
        store::schools::update(&self.db, &school, loaded, &audit).await?;
        Ok(school)
    }
}
