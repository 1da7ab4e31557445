//! Teams: a school's ICT management team, and training teams per level.

use tica_auth::Caller;
use tica_domain::team::{check_team, team_size_rule};
use tica_domain::{PersonRole, ScopePath, TeamKind, TeamMemberFacts};

use super::jurisdictions::check_display_name;
use tica_server::retry_conflicts;

use super::{PageSpec, Roster, check_etag, json_fields, parent_scope, require_covers, visible};
use crate::error::{Problems, Result};
use crate::model::{Member, MemberIdentity, MemberRole, Team, Unit, next_micros};
use crate::store;

/// A team to create.
#[derive(Clone, Debug)]
pub struct NewTeam {
    /// Kind.
    pub kind: TeamKind,
    /// Owner.
    pub owner: Unit,
    /// Name.
    pub display_name: String,
    /// Members.
    pub members: Vec<Member>,
}

/// Changes to a team.
#[derive(Clone, Debug, Default)]
pub struct TeamUpdate {
    /// New name.
    pub display_name: Option<String>,
    /// New members (replacing all).
    pub members: Option<Vec<Member>>,
    /// The etag the caller read (AIP-154): the update applies only if it is still current.
    pub etag: Option<String>,
}

impl Roster {
    async fn owner_path(&self, caller: &Caller, owner: &Unit) -> Result<ScopePath> {
        let path = match owner {
            Unit::School(code) => self.get_school(caller, code).await?.path,
            Unit::Jurisdiction(code) => {
                require_covers(caller, &ScopePath::for_jurisdiction(*code))?;
                super::jurisdiction_path(self, *code).await?
            }
        };
        require_covers(caller, &path)?;
        Ok(path)
    }

    /// Checks members against the owner's effective rules; problems become field violations
    /// on `team.members[i]`.
    async fn check_members(
        &self,
        kind: TeamKind,
        owner: &Unit,
        owner_path: &ScopePath,
        members: &[Member],
    ) -> Result<()> {
        let mut problems = Problems::new();
        let mut facts = Vec::with_capacity(members.len());
        for (i, member) in members.iter().enumerate() {
            let is_leader = member.role == MemberRole::Leader;
            match &member.identity {
                MemberIdentity::Teacher { number } => {
                    match store::teachers::get(&self.db, number).await? {
                        Some(t) => facts.push(TeamMemberFacts {
                            key: number.clone(),
                            is_leader,
                            is_external: false,
                            is_principal: t.roles.contains(&PersonRole::Principal),
                            inside_owner: owner_path.contains(&t.path),
                        }),
                        None => problems.add(
                            format!("team.members[{i}].teacher"),
                            format!("teachers/{number}: no such teacher"),
                        ),
                    }
                }
                MemberIdentity::External {
                    display_name,
                    affiliation,
                } => {
                    super::teachers::check_name(
                        &mut problems,
                        &format!("team.members[{i}].external.display_name"),
                        display_name,
                    );
                    if affiliation.chars().count() > 100 {
                        problems.add(
                            format!("team.members[{i}].external.affiliation"),
                            "at most 100 characters",
                        );
                    }
                    facts.push(TeamMemberFacts {
                        key: format!("external:{}:{}", display_name.trim(), affiliation.trim()),
                        is_leader,
                        is_external: true,
                        is_principal: false,
                        inside_owner: true,
                    })
                }
            }
            if member.duty.chars().count() > 100 {
                problems.add(format!("team.members[{i}].duty"), "at most 100 characters");
            }
        }
        problems.finish()?;
        let mut problems = Problems::new();
        let (jurisdiction, owner_level) = match owner {
            Unit::School(_) => (
                owner_path
                    .jurisdiction_code()
                    .expect("a school path has a jurisdiction"),
                None,
            ),
            Unit::Jurisdiction(code) => (*code, Some(code.level())),
        };
        let rules = self.effective_rules_at(jurisdiction).await?;
        if let Err(found) = check_team(kind, owner_level, &rules, &facts) {
            let rule = team_size_rule(&rules, kind, owner_level);
            for problem in found {
                let field = match problem.member_index() {
                    Some(i) => format!("team.members[{i}]"),
                    None => "team.members".to_owned(),
                };
                let mut message = problem.message();
                if let (Some(rule), true) = (rule, field == "team.members") {
                    message.push_str(&format!(" (rule here: {}–{} people)", rule.min, rule.max));
                }
                problems.add(field, message);
            }
        }
        problems.finish()
    }

    /// One team.
    pub async fn get_team(&self, caller: &Caller, id: &str) -> Result<Team> {
        let found = store::teams::get(&self.db, id).await?;
        visible(caller, found, |t| &t.owner_path, || format!("teams/{id}"))
    }

    /// Teams owned inside a school or jurisdiction.
    pub async fn list_teams(
        &self,
        caller: &Caller,
        parent: Option<Unit>,
        kind: Option<TeamKind>,
        page: PageSpec<(String, String)>,
    ) -> Result<(Vec<Team>, i64)> {
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        store::teams::list(&self.db, &scope, kind, page.after.as_ref(), page.limit).await
    }

    /// Creates a team after checking it against the rules in force at its owner.
    pub async fn create_team(&self, caller: &Caller, new: NewTeam) -> Result<Team> {
        let mut problems = Problems::new();
        check_display_name(&mut problems, "team.display_name", &new.display_name);
        if new.kind == TeamKind::SchoolIctManagement && !matches!(new.owner, Unit::School(_)) {
            problems.add(
                "team.owner",
                "a school ICT management team is owned by a school (`schools/{code}`)",
            );
        }
        if new.kind == TeamKind::Training && !matches!(new.owner, Unit::Jurisdiction(_)) {
            problems.add(
                "team.owner",
                "a training team is owned by a jurisdiction (`jurisdictions/{code}`)",
            );
        }
        problems.finish()?;
        let owner_path = self.owner_path(caller, &new.owner).await?;
        self.check_members(new.kind, &new.owner, &owner_path, &new.members)
            .await?;
        let now = store::audit::now();
        let team = Team {
            id: uuid::Uuid::now_v7().simple().to_string(),
            kind: new.kind,
            owner: new.owner,
            owner_path: owner_path.clone(),
            display_name: new.display_name.trim().to_owned(),
            members: new.members,
            create_micros: now,
            update_micros: now,
        };
        let audit = store::audit::entry(
            caller,
            "CreateTeam",
            format!("teams/{}", team.id),
            owner_path,
            serde_json::json!({ "kind": team.kind.key(), "owner": team.owner.resource_name(), "members": team.members.len() }),
        );
        store::teams::insert(&self.db, &team, &audit).await?;
        Ok(team)
    }

    /// Renames a team or replaces its members. With an etag, only the team as the caller read
    /// it (ABORTED ETAG_MISMATCH otherwise); without, as it is.
    pub async fn update_team(&self, caller: &Caller, id: &str, update: TeamUpdate) -> Result<Team> {
        retry_conflicts(|| self.update_team_step(caller, id, &update)).await
    }

    /// Reads the team, checks the etag, applies the update, writes it over what it read.
    async fn update_team_step(
        &self,
        caller: &Caller,
        id: &str,
        update: &TeamUpdate,
    ) -> Result<Team> {
        let mut team = self.get_team(caller, id).await?;
        let loaded = team.update_micros;
        check_etag(update.etag.as_deref(), &format!("teams/{id}"), loaded)?;
        let update = update.clone();
        let mut fields = Vec::new();
        if let Some(name) = update.display_name {
            let mut problems = Problems::new();
            check_display_name(&mut problems, "team.display_name", &name);
            problems.finish()?;
            team.display_name = name.trim().to_owned();
            fields.push("display_name");
        }
        if let Some(members) = update.members {
            self.check_members(team.kind, &team.owner, &team.owner_path, &members)
                .await?;
            team.members = members;
            fields.push("members");
        }
        team.update_micros = next_micros(loaded);
        let audit = store::audit::entry(
            caller,
            "UpdateTeam",
            format!("teams/{id}"),
            team.owner_path.clone(),
            json_fields(&fields),
        );
        store::teams::update(&self.db, &team, loaded, &audit).await?;
        Ok(team)
    }
}
