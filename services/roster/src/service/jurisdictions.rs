//! Jurisdictions: the province → city → county tree (GB/T 2260).

use tica_auth::Caller;
use tica_domain::division::DivisionCode;
use tica_domain::team::effective_team_rules;
use tica_domain::{ScopePath, SizeRange, TeamRules};

use tica_server::retry_conflicts;

use super::{PageSpec, Roster, check_etag, json_fields, require_covers};
use crate::error::{Problems, Result, RosterError};
use crate::model::{Jurisdiction, next_micros};
use crate::store;

/// A jurisdiction to register.
#[derive(Clone, Debug)]
pub struct NewJurisdiction {
    /// Its code.
    pub code: DivisionCode,
    /// Official name.
    pub display_name: String,
    /// The parent the request names.
    pub parent: Option<DivisionCode>,
    /// Rules set here.
    pub team_rules: TeamRules,
}

/// One team-rule range a field mask can address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleField {
    /// `team_rules.school_ict_management`.
    SchoolIctManagement,
    /// `team_rules.province_training`.
    ProvinceTraining,
    /// `team_rules.city_training`.
    CityTraining,
    /// `team_rules.county_training`.
    CountyTraining,
}

impl RuleField {
    /// Every field.
    pub const ALL: [RuleField; 4] = [
        RuleField::SchoolIctManagement,
        RuleField::ProvinceTraining,
        RuleField::CityTraining,
        RuleField::CountyTraining,
    ];

    /// The field mask path.
    pub fn path(self) -> &'static str {
        match self {
            RuleField::SchoolIctManagement => "team_rules.school_ict_management",
            RuleField::ProvinceTraining => "team_rules.province_training",
            RuleField::CityTraining => "team_rules.city_training",
            RuleField::CountyTraining => "team_rules.county_training",
        }
    }

    fn slot(self, rules: &mut TeamRules) -> &mut Option<SizeRange> {
        match self {
            RuleField::SchoolIctManagement => &mut rules.school_ict_management,
            RuleField::ProvinceTraining => &mut rules.province_training,
            RuleField::CityTraining => &mut rules.city_training,
            RuleField::CountyTraining => &mut rules.county_training,
        }
    }
}

/// Changes to a jurisdiction, as its field mask selected them.
#[derive(Clone, Debug, Default)]
pub struct JurisdictionUpdate {
    /// New name.
    pub display_name: Option<String>,
    /// New ranges (None clears a range, so it inherits again).
    pub rules: Vec<(RuleField, Option<SizeRange>)>,
    /// The etag the caller read (AIP-154): the update applies only if it is still current.
    pub etag: Option<String>,
}

impl Roster {
    async fn fill_effective_rules(&self, mut j: Jurisdiction) -> Result<Jurisdiction> {
        let ancestry = j.code.ancestry();
        let ancestors = store::jurisdictions::get_many(&self.db, &ancestry).await?;
        // Nearest first: self, then its parent, up to the province.
        let mut chain = Vec::with_capacity(ancestry.len());
        for code in ancestry.iter().rev() {
            if *code == j.code {
                chain.push(j.team_rules.clone());
            } else if let Some(a) = ancestors.iter().find(|a| a.code == *code) {
                chain.push(a.team_rules.clone());
            }
        }
        j.effective_team_rules = effective_team_rules(&chain, j.code.province());
        Ok(j)
    }

    /// The rules in force at `code` (which need not be registered).
    pub(crate) async fn effective_rules_at(&self, code: DivisionCode) -> Result<TeamRules> {
        let ancestry = code.ancestry();
        let found = store::jurisdictions::get_many(&self.db, &ancestry).await?;
        let chain: Vec<TeamRules> = ancestry
            .iter()
            .rev()
            .filter_map(|c| {
                found
                    .iter()
                    .find(|j| j.code == *c)
                    .map(|j| j.team_rules.clone())
            })
            .collect();
        Ok(effective_team_rules(&chain, code.province()))
    }

    /// One jurisdiction (PERMISSION_DENIED outside the caller's subtree, whether or not it exists).
    pub async fn get_jurisdiction(
        &self,
        caller: &Caller,
        code: DivisionCode,
    ) -> Result<Jurisdiction> {
        require_covers(caller, &ScopePath::for_jurisdiction(code))?;
        let j = store::jurisdictions::get(&self.db, code)
            .await?
            .ok_or_else(|| RosterError::NotFound(format!("jurisdictions/{code}")))?;
        self.fill_effective_rules(j).await
    }

    /// The children of `parent`; without a parent, the jurisdiction the caller acts for.
    pub async fn list_jurisdictions(
        &self,
        caller: &Caller,
        parent: Option<DivisionCode>,
        page: PageSpec<String>,
    ) -> Result<(Vec<Jurisdiction>, i64)> {
        let (rows, total) = match parent {
            Some(parent) => {
                require_covers(caller, &ScopePath::for_jurisdiction(parent))?;
                store::jurisdictions::list_children(
                    &self.db,
                    parent,
                    page.after.as_deref(),
                    page.limit,
                )
                .await?
            }
            None => {
                let own = if caller.school.is_none() && page.after.is_none() {
                    store::jurisdictions::get(&self.db, caller.jurisdiction).await?
                } else {
                    None
                };
                let total = i64::from(own.is_some());
                (own.into_iter().collect(), total)
            }
        };
        let mut filled = Vec::with_capacity(rows.len());
        for j in rows {
            filled.push(self.fill_effective_rules(j).await?);
        }
        Ok((filled, total))
    }

    /// Registers a jurisdiction under the parent GB/T 2260 implies.
    pub async fn create_jurisdiction(
        &self,
        caller: &Caller,
        new: NewJurisdiction,
    ) -> Result<Jurisdiction> {
        let mut problems = Problems::new();
        problems.check("jurisdiction.name", new.code.validate_as_jurisdiction());
        let expected = new.code.expected_parent();
        if new.parent != expected {
            let show = |p: Option<DivisionCode>| {
                p.map_or("(none: a province-level unit)".to_owned(), |c| {
                    format!("jurisdictions/{c}")
                })
            };
            problems.add(
                "jurisdiction.parent",
                format!(
                    "by GB/T 2260 the parent of {} is {}, not {}",
                    new.code,
                    show(expected),
                    show(new.parent)
                ),
            );
        }
        check_display_name(
            &mut problems,
            "jurisdiction.display_name",
            &new.display_name,
        );
        if let Err(e) = new.team_rules.validate() {
            problems.add("jurisdiction.team_rules", e);
        }
        problems.finish()?;
        let path = ScopePath::for_jurisdiction(new.code);
        require_covers(caller, &path)?;
        if let Some(parent) = new.parent
            && store::jurisdictions::get(&self.db, parent).await?.is_none()
        {
            return Err(RosterError::FailedPrecondition(format!(
                "the parent jurisdictions/{parent} is not registered yet; create it first"
            )));
        }
        let now = store::audit::now();
        let j = Jurisdiction {
            code: new.code,
            display_name: new.display_name.trim().to_owned(),
            parent: new.parent,
            path: path.clone(),
            effective_team_rules: new.team_rules.clone(),
            team_rules: new.team_rules,
            create_micros: now,
            update_micros: now,
        };
        let audit = store::audit::entry(
            caller,
            "CreateJurisdiction",
            format!("jurisdictions/{}", j.code),
            path,
            serde_json::json!({ "display_name": j.display_name, "parent": j.parent.map(|p| p.to_string()) }),
        );
        store::jurisdictions::insert(&self.db, &j, &audit).await?;
        self.fill_effective_rules(j).await
    }

    /// Updates a jurisdiction's name or team rules. With an etag, only the jurisdiction as the
    /// caller read it (ABORTED ETAG_MISMATCH otherwise); without, as it is.
    pub async fn update_jurisdiction(
        &self,
        caller: &Caller,
        code: DivisionCode,
        update: JurisdictionUpdate,
    ) -> Result<Jurisdiction> {
        retry_conflicts(|| self.update_jurisdiction_step(caller, code, &update)).await
    }

    /// Reads the jurisdiction, checks the etag, applies the update, writes it over what it read.
    async fn update_jurisdiction_step(
        &self,
        caller: &Caller,
        code: DivisionCode,
        update: &JurisdictionUpdate,
    ) -> Result<Jurisdiction> {
        let mut j = self.get_jurisdiction(caller, code).await?;
        let loaded = j.update_micros;
        check_etag(
            update.etag.as_deref(),
            &format!("jurisdictions/{code}"),
            loaded,
        )?;
        let mut problems = Problems::new();
        let mut fields = Vec::new();
        if let Some(name) = &update.display_name {
            check_display_name(&mut problems, "jurisdiction.display_name", name);
            j.display_name = name.trim().to_owned();
            fields.push("display_name");
        }
        for (field, range) in &update.rules {
            *field.slot(&mut j.team_rules) = *range;
            fields.push(field.path());
        }
        if let Err(e) = j.team_rules.validate() {
            problems.add("jurisdiction.team_rules", e);
        }
        problems.finish()?;
        j.update_micros = next_micros(loaded);
        let audit = store::audit::entry(
            caller,
            "UpdateJurisdiction",
            format!("jurisdictions/{code}"),
            j.path.clone(),
            json_fields(&fields),
        );
        store::jurisdictions::update(&self.db, &j, loaded, &audit).await?;
        self.fill_effective_rules(j).await
    }
}

/// Names: non-empty, at most 100 characters, no control characters, printable on a certificate
/// (a county's and a school's names are; a team's name follows the same rule).
pub(crate) fn check_display_name(problems: &mut Problems, field: &str, name: &str) {
    let name = name.trim();
    if name.is_empty() {
        problems.add(field, "required");
    } else if name.chars().count() > 100 || name.chars().any(char::is_control) {
        problems.add(field, "at most 100 characters, without control characters");
    } else {
        super::teachers::check_printable(problems, field, name);
    }
}
