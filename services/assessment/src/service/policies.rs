//! Policies: rules attached to jurisdictions, inherited downward section by section, versioned.

use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;
use tica_domain::names::JurisdictionName;
use tica_domain::policy::{self as rules, PolicyRules, Preset};
use tica_server::retry_conflicts;

use super::{
    ADMINISTRATORS, Assessment, Ctx, Decision, can_see, check_etag, require_covers, require_role,
};
use crate::error::{AssessmentError, Problems, Result};
use crate::model::{Actor, PolicyRecord, PolicyVersionRecord};
use crate::store::{self, Work, to_json};

/// What an UpdatePolicy changes.
#[derive(Clone, Debug, Default)]
pub struct PolicyChange {
    /// New name.
    pub display_name: Option<String>,
    /// Sections to replace: (section name, new value: `None` clears it so it inherits).
    pub sections: Vec<(&'static str, PolicyRules)>,
    /// Why.
    pub change_note: String,
    /// Check only.
    pub validate_only: bool,
    /// The etag the caller read (AIP-154): the change applies only if it is still current.
    pub etag: Option<String>,
}

/// The rules in force at a jurisdiction.
#[derive(Clone, Debug)]
pub struct EffectivePolicy {
    /// The jurisdiction.
    pub jurisdiction: DivisionCode,
    /// The rules.
    pub rules: PolicyRules,
    /// For each section, the policy version that supplied it.
    pub sources: Vec<(&'static str, Option<String>)>,
    /// Every policy version in the chain, nearest first.
    pub versions: Vec<String>,
}

fn decode(record: &PolicyRecord) -> Result<PolicyRules> {
    serde_json::from_str(&record.rules_json).map_err(|_| {
        AssessmentError::Internal(format!(
            "stored rules of policies/{} do not parse",
            record.jurisdiction
        ))
    })
}

/// The name of a policy version.
pub fn version_name(code: DivisionCode, version: i64) -> String {
    format!("policies/{code}/versions/{version}")
}

fn problems(found: Vec<(String, String)>) -> AssessmentError {
    AssessmentError::Invalid(found)
}

/// Copies one named section of `from` into `into`.
fn set_section(into: &mut PolicyRules, section: &str, from: &PolicyRules) {
    match section {
        "hours" => into.hours = from.hours.clone(),
        "selection" => into.selection = from.selection.clone(),
        "evidence" => into.evidence = from.evidence.clone(),
        "grading" => into.grading = from.grading.clone(),
        "school_grade" => into.school_grade = from.school_grade.clone(),
        "county_grade" => into.county_grade = from.county_grade.clone(),
        "certificate" => into.certificate = from.certificate.clone(),
        "sampling" => into.sampling = from.sampling.clone(),
        "carry_over" => into.carry_over = from.carry_over.clone(),
        _ => unreachable!("sections are checked against PolicyRules::SECTIONS"),
    }
}

/// What a change to a policy comes to.
enum PolicyUpdate {
    /// `validate_only`: the policy as it would become, not stored.
    Validated(PolicyRecord),
    /// The policy as it becomes, and its new version when the rules changed.
    Changed {
        decision: Decision<PolicyRecord>,
        version: Option<PolicyVersionRecord>,
    },
}

/// A change to a policy: to the policy as the caller read it (its etag, when sent), a valid
/// name, valid rules, and a note saying why whenever the rules change (the proto's contract: it
/// is recorded with the version, which is new then).
fn decide_policy_change(
    mut policy: PolicyRecord,
    change: &PolicyChange,
    author: Actor,
) -> Result<PolicyUpdate> {
    check_etag(
        change.etag.as_deref(),
        &format!("policies/{}", policy.jurisdiction),
        policy.update_micros,
    )?;
    let mut rules = decode(&policy)?;
    let mut fields = Vec::new();
    if let Some(name) = &change.display_name {
        if name.trim().is_empty() || name.chars().count() > 100 {
            return Err(AssessmentError::invalid(
                "policy.display_name",
                "1 to 100 characters",
            ));
        }
        policy.display_name = name.trim().to_owned();
        fields.push("display_name".to_owned());
    }
    for (section, from) in &change.sections {
        set_section(&mut rules, section, from);
        fields.push(format!("rules.{section}"));
    }
    let mut found: Vec<(String, String)> = rules
        .validate()
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|(f, m)| (format!("policy.{f}"), m))
        .collect();
    let note = change.change_note.trim();
    if !change.sections.is_empty() && note.is_empty() {
        found.push((
            "change_note".to_owned(),
            "required when the rules change: say why (it is recorded with the version)".to_owned(),
        ));
    } else if change.change_note.chars().count() > 500 {
        found.push((
            "change_note".to_owned(),
            "at most 500 characters".to_owned(),
        ));
    }
    if !found.is_empty() {
        return Err(problems(found));
    }
    if change.validate_only {
        policy.rules_json = to_json(&rules);
        return Ok(PolicyUpdate::Validated(policy));
    }
    let now = crate::model::next_micros(policy.update_micros);
    let mut version = None;
    if !change.sections.is_empty() {
        policy.version += 1;
        policy.rules_json = to_json(&rules);
        version = Some(PolicyVersionRecord {
            jurisdiction: policy.jurisdiction,
            version: policy.version,
            rules_json: policy.rules_json.clone(),
            change_note: note.to_owned(),
            author,
            create_micros: now,
        });
    }
    policy.update_micros = now;
    let audit = serde_json::json!({ "fields": fields, "version": policy.version, "note": note });
    Ok(PolicyUpdate::Changed {
        decision: Decision {
            record: policy,
            audit,
        },
        version,
    })
}

impl Assessment {
    /// Attaches the four presets to their jurisdictions at start-up, where none is attached yet
    /// (Ningxia 640000, Anhui 340000, Sixian 341324, Beijing 110000). Audited as `system`.
    pub async fn ensure_presets(&self) -> Result<()> {
        for preset in Preset::ALL {
            let jurisdiction = preset.default_jurisdiction();
            let code = JurisdictionName::code_of(jurisdiction).expect("preset codes are valid");
            if store::policy(&self.db, &code.to_string()).await?.is_some() {
                continue;
            }
            let actor = Actor {
                subject: "system".into(),
                role: "service".into(),
                acting_for: format!("jurisdictions/{code}"),
            };
            let (policy, version) = new_policy(
                code,
                preset.display_name().to_owned(),
                Some(preset),
                rules::preset(preset),
                "preset loaded at start-up",
                &actor,
            );
            let audit = tica_storage::audit::AuditEntry {
                actor,
                method: format!("{}/CreatePolicy", super::SERVICE_NAME),
                resource: format!("policies/{code}"),
                path: policy.path.clone(),
                change: serde_json::json!({ "preset": preset.key(), "version": 1 }),
            };
            let work = Work {
                policies: vec![policy],
                policy_versions: vec![version],
                audits: vec![audit],
                ..Default::default()
            };
            match self.commit(&work).await {
                Ok(()) | Err(AssessmentError::AlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One policy.
    pub async fn get_policy(&self, ctx: &Ctx, code: DivisionCode) -> Result<PolicyRecord> {
        let policy = store::policy(&self.db, &code.to_string())
            .await?
            .ok_or_else(|| AssessmentError::NotFound(format!("policies/{code}")))?;
        if !can_see(&ctx.caller, &policy.path) {
            return Err(super::denied(&ctx.caller));
        }
        Ok(policy)
    }

    /// The decoded rules of a policy record.
    pub fn rules_of(&self, record: &PolicyRecord) -> Result<PolicyRules> {
        decode(record)
    }

    /// Policies attached inside a jurisdiction's subtree.
    pub async fn list_policies(
        &self,
        ctx: &Ctx,
        parent: Option<DivisionCode>,
        after: &str,
        limit: i64,
    ) -> Result<Vec<PolicyRecord>> {
        let scope = match parent {
            Some(code) => {
                let path = ScopePath::for_jurisdiction(code);
                if !can_see(&ctx.caller, &path) {
                    return Err(super::denied(&ctx.caller));
                }
                path
            }
            None => ctx.caller.scope.clone(),
        };
        store::policies_in(&self.db, &scope, after, limit).await
    }

    /// Attaches a policy to a jurisdiction (optionally from a preset): version 1.
    pub async fn create_policy(
        &self,
        ctx: &Ctx,
        code: DivisionCode,
        display_name: String,
        preset: Option<Preset>,
        own: PolicyRules,
        validate_only: bool,
    ) -> Result<PolicyRecord> {
        require_role(&ctx.caller, ADMINISTRATORS, "attach policies")?;
        let mut problems_found = Problems::new();
        problems_found.check("policy.name", code.validate_as_jurisdiction());
        if display_name.trim().is_empty() || display_name.chars().count() > 100 {
            problems_found.add("policy.display_name", "1 to 100 characters");
        }
        problems_found.finish()?;
        require_covers(&ctx.caller, &ScopePath::for_jurisdiction(code))?;
        let rules = match preset {
            Some(p) => own.overlay(&rules::preset(p)),
            None => own,
        };
        rules.validate().map_err(|found| {
            problems(
                found
                    .into_iter()
                    .map(|(f, m)| (format!("policy.{f}"), m))
                    .collect(),
            )
        })?;
        let (policy, version) = new_policy(
            code,
            display_name.trim().to_owned(),
            preset,
            rules,
            "created",
            &ctx.actor(),
        );
        if validate_only {
            return Ok(policy);
        }
        let audit = ctx.audit(
            "CreatePolicy",
            format!("policies/{code}"),
            &policy.path,
            serde_json::json!({ "preset": preset.map(|p| p.key()), "version": 1 }),
        );
        let work = Work {
            policies: vec![policy.clone()],
            policy_versions: vec![version],
            audits: vec![audit],
            ..Default::default()
        };
        self.commit(&work).await.map_err(|e| match e {
            AssessmentError::AlreadyExists(_) => AssessmentError::AlreadyExists(format!(
                "policies/{code} already exists; update it instead"
            )),
            other => other,
        })?;
        Ok(policy)
    }

    /// Changes a policy: every accepted change is a new immutable version.
    pub async fn update_policy(
        &self,
        ctx: &Ctx,
        code: DivisionCode,
        change: PolicyChange,
    ) -> Result<PolicyRecord> {
        require_role(&ctx.caller, ADMINISTRATORS, "change policies")?;
        retry_conflicts(|| self.update_policy_step(ctx, code, &change)).await
    }

    /// Reads the policy, decides the change, commits it (unless only validating).
    async fn update_policy_step(
        &self,
        ctx: &Ctx,
        code: DivisionCode,
        change: &PolicyChange,
    ) -> Result<PolicyRecord> {
        let policy = store::policy(&self.db, &code.to_string())
            .await?
            .ok_or_else(|| AssessmentError::NotFound(format!("policies/{code}")))?;
        require_covers(&ctx.caller, &policy.path)?;
        let (decision, version) = match decide_policy_change(policy, change, ctx.actor())? {
            PolicyUpdate::Validated(policy) => return Ok(policy),
            PolicyUpdate::Changed { decision, version } => (decision, version),
        };
        let Decision {
            record: policy,
            audit,
        } = decision;
        let work = Work {
            policy_versions: version.into_iter().collect(),
            audits: vec![ctx.audit(
                "UpdatePolicy",
                format!("policies/{code}"),
                &policy.path,
                audit,
            )],
            policies: vec![policy.clone()],
            ..Default::default()
        };
        self.commit(&work).await?;
        Ok(policy)
    }

    /// One version of a policy.
    pub async fn get_policy_version(
        &self,
        ctx: &Ctx,
        code: DivisionCode,
        version: i64,
    ) -> Result<PolicyVersionRecord> {
        self.get_policy(ctx, code).await?;
        store::policy_version(&self.db, &code.to_string(), version)
            .await?
            .ok_or_else(|| AssessmentError::NotFound(version_name(code, version)))
    }

    /// A policy's versions, newest first.
    pub async fn list_policy_versions(
        &self,
        ctx: &Ctx,
        code: DivisionCode,
        before: i64,
        limit: i64,
    ) -> Result<Vec<PolicyVersionRecord>> {
        self.get_policy(ctx, code).await?;
        store::policy_versions(&self.db, &code.to_string(), before, limit).await
    }

    /// The rules in force at `code` (without access checks: callers check first).
    pub(crate) async fn effective_at(&self, code: DivisionCode) -> Result<EffectivePolicy> {
        // Nearest first.
        let ancestry: Vec<DivisionCode> = code.ancestry().into_iter().rev().collect();
        let mut chain = Vec::new();
        for c in &ancestry {
            if let Some(p) = store::policy(&self.db, &c.to_string()).await? {
                let rules = decode(&p)?;
                chain.push((version_name(p.jurisdiction, p.version), rules));
            }
        }
        let refs: Vec<&PolicyRules> = chain.iter().map(|(_, r)| r).collect();
        let rules = PolicyRules::effective(&refs);
        let sources = PolicyRules::section_sources(&refs)
            .into_iter()
            .map(|(section, index)| (section, index.map(|i| chain[i].0.clone())))
            .collect();
        Ok(EffectivePolicy {
            jurisdiction: code,
            rules,
            sources,
            versions: chain.into_iter().map(|(v, _)| v).collect(),
        })
    }

    /// The rules in force at a jurisdiction, with where each section came from.
    pub async fn effective_policy(&self, ctx: &Ctx, code: DivisionCode) -> Result<EffectivePolicy> {
        if !can_see(&ctx.caller, &ScopePath::for_jurisdiction(code)) {
            return Err(super::denied(&ctx.caller));
        }
        self.effective_at(code).await
    }
}

fn new_policy(
    code: DivisionCode,
    display_name: String,
    preset: Option<Preset>,
    rules: PolicyRules,
    note: &str,
    actor: &Actor,
) -> (PolicyRecord, PolicyVersionRecord) {
    let now = tica_storage::now_micros();
    let rules_json = to_json(&rules);
    let policy = PolicyRecord {
        jurisdiction: code,
        path: ScopePath::for_jurisdiction(code),
        display_name,
        preset: preset.map(|p| p.key().to_owned()).unwrap_or_default(),
        rules_json: rules_json.clone(),
        version: 1,
        create_micros: now,
        update_micros: now,
        loaded: None,
    };
    let version = PolicyVersionRecord {
        jurisdiction: code,
        version: 1,
        rules_json,
        change_note: note.to_owned(),
        author: actor.clone(),
        create_micros: now,
    };
    (policy, version)
}
