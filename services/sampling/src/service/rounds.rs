//! Creating a round, freezing its population, drawing, cancelling.

use std::collections::{BTreeMap, BTreeSet};
use tica_server::retry_conflicts;

use sha2::{Digest, Sha256};
use tica_auth::Role;
use tica_domain::ScopePath;
use tica_domain::csv_cell;
use tica_domain::division::DivisionCode;
use tica_domain::policy::Ratio;
use tica_domain::sampling::{Pick, Sampler, continue_draw, stratum_size};

use super::{Ctx, Sampling, denied, precondition, require_state, transition};
use crate::error::{Result, SamplingError};
use crate::model::*;
use crate::store::{self, Work};
use crate::upstream::{BatchState, Change, OfflineOutcome, ReviewBatch, SchoolState, Step};

/// What CreateReviewRound asks for.
#[derive(Clone, Debug)]
pub struct NewRound {
    /// Level.
    pub level: Level,
    /// Kind.
    pub kind: Kind,
    /// Batch ids; for an audit, empty means every READY_FOR_AUDIT batch in the caller's
    /// jurisdiction.
    pub batches: Vec<String>,
    /// Optional.
    pub display_name: String,
    /// Optional (AIP-155): a retry by the same caller with it gets the round the first call
    /// created.
    pub request_id: String,
}

/// The draw plan `batch`'s pinned policy gives for `level` and `kind`.
fn plan_of(batch: &ReviewBatch, level: Level, kind: Kind) -> Result<Plan> {
    let id = &batch.id;
    let rule = batch
        .sampling
        .as_ref()
        .ok_or_else(|| precondition(format!("batches/{id} has no sampling rules pinned")))?;
    let stage = match (level, kind) {
        (_, Kind::OfflineCheck) => &rule.offline_check,
        (Level::CountyReview, _) => &rule.county_review,
        (Level::ProvinceAudit, _) => &rule.province_audit,
    };
    let stage = Some(stage).filter(|s| s.enabled).ok_or_else(|| {
        precondition(format!(
            "the policy pinned by batches/{id} has no {} stage",
            match (level, kind) {
                (_, Kind::OfflineCheck) => "offline-check",
                (Level::CountyReview, _) => "county review",
                (Level::ProvinceAudit, _) => "province audit",
            }
        ))
    })?;
    let plan = Plan {
        batch: id.clone(),
        county: batch.county.clone(),
        policy_versions: batch.policy_versions.clone(),
        school_rate: stage.school_rate,
        teacher_rate: stage.teacher_rate,
        minimum: u32::try_from(stage.minimum_per_stratum).unwrap_or(0),
        threshold: rule.agreement_threshold,
        criterion: rule.agreement_criterion,
        comparison: rule.agreement_comparison,
        offline_required: rule.offline_check.enabled,
        subject_match: batch.subject_match,
        rubric_rule: batch.rubric_rule.clone(),
    };
    // A rule with a gap would draw nothing or pass everything: refuse it rather than guess.
    let proper = |r: Ratio| r.numerator > 0 && r.denominator > 0 && r.numerator <= r.denominator;
    for (field, ok) in [
        ("school_rate", proper(plan.school_rate)),
        ("teacher_rate", proper(plan.teacher_rate)),
        ("minimum_per_stratum", plan.minimum >= 1),
        ("agreement_threshold", proper(plan.threshold)),
    ] {
        if !ok {
            return Err(precondition(format!(
                "the sampling rule pinned by batches/{id} has no usable {field}; the office fixes its policy"
            )));
        }
    }
    Ok(plan)
}

/// The states a batch may be in for a round of `level` and `kind` to start over it.
fn batch_states(level: Level, kind: Kind) -> &'static [BatchState] {
    use BatchState as S;
    match (level, kind) {
        (Level::CountyReview, _) => &[S::Open, S::ReturnedToCounty],
        // IN_PROVINCE_AUDIT too: a round cancelled after freezing leaves its batches there.
        (Level::ProvinceAudit, _) => &[S::ReadyForAudit, S::InProvinceAudit],
    }
}

/// The population CSV (`id,stage,stratum`, rows sorted by stage, stratum, id; UTF-8, LF).
pub(crate) fn population_csv(rows: &[PopulationRow]) -> String {
    let mut sorted: Vec<&PopulationRow> = rows.iter().collect();
    sorted.sort_by(|a, b| {
        (a.stage.key(), &a.stratum, &a.sampler_id).cmp(&(b.stage.key(), &b.stratum, &b.sampler_id))
    });
    let mut csv = String::from("id,stage,stratum\n");
    for r in sorted {
        // Ids and strata are the system's own (`county-…`, `school-…`), so `csv_cell::field`
        // leaves them byte for byte as hashed before; it is here so that no CSV writer skips it.
        csv.push_str(&format!(
            "{},{},{}\n",
            csv_cell::field(&r.sampler_id),
            r.stage.key(),
            csv_cell::field(&r.stratum)
        ));
    }
    csv
}

/// The seed rule of DrawSample: 1–100 printable ASCII characters.
fn check_seed(seed: &str) -> Result<()> {
    if seed.is_empty() || seed.len() > 100 || !seed.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(SamplingError::invalid(
            "seed",
            "enter the public seed: 1–100 printable ASCII characters, e.g. 20 dice digits",
        ));
    }
    Ok(())
}

/// The drawing tool a round commits to: this service's version and the reference sampler its
/// tickets equal.
pub const TOOL_VERSION: &str = concat!(
    "tica-sampling ",
    env!("CARGO_PKG_VERSION"),
    " consistent_sampler 1.0.10"
);

/// The draw plan of one batch as `plan.json` holds it.
#[derive(serde::Serialize)]
struct PlanBatch<'a> {
    batch: String,
    county: &'a str,
    school_stratum: String,
    school_rate: [u64; 2],
    teacher_rate: [u64; 2],
    minimum_per_stratum: u32,
}

/// The round's plan (`plan.json`): everything its draw depends on besides the population and
/// the seed. Pretty JSON with a fixed member order, ids sorted; its SHA-256 is committed.
#[derive(serde::Serialize)]
struct PlanDocument<'a> {
    format: &'static str,
    review_round: String,
    level: &'static str,
    kind: &'static str,
    extends: String,
    rule: &'static str,
    batches: Vec<PlanBatch<'a>>,
    drawn_before: BTreeMap<&'a str, BTreeSet<&'a str>>,
    re_examined_first: BTreeSet<&'a str>,
}

/// How `plan.json` says a stratum is drawn (what `draw_round` does).
const PLAN_RULE: &str = "Each stratum's ids (population.csv, by stratum) are ordered by their \
    consistent_sampler ticket under the seed (sampler(ids, seed=seed, with_replacement=False)). \
    A stratum's size is min(N, max(minimum_per_stratum, ceil(rate * N))). County strata \
    (county-{code}) draw schools: first the units in re_examined_first, in ticket order, then \
    the first ids in ticket order not in drawn_before, up to the size; when fewer are left, the \
    ids of drawn_before in ticket order fill it. Then each drawn school's stratum \
    (school-{code}) draws its teachers the same way (nothing re-examined first).";

/// The plan document of `round` (see [`PlanDocument`]).
pub(crate) fn plan_document(
    round: &RoundRecord,
    before: &std::collections::HashMap<String, std::collections::HashSet<String>>,
    sent_back: &std::collections::HashSet<String>,
) -> String {
    let document = PlanDocument {
        format: "tica-draw-plan/1",
        review_round: round.name(),
        level: round.level.key(),
        kind: round.kind.key(),
        extends: if round.extends.is_empty() {
            String::new()
        } else {
            format!("reviewRounds/{}", round.extends)
        },
        rule: PLAN_RULE,
        batches: round
            .plans
            .iter()
            .map(|p| PlanBatch {
                batch: format!("batches/{}", p.batch),
                county: &p.county,
                school_stratum: format!("county-{}", p.county),
                school_rate: [
                    u64::from(p.school_rate.numerator),
                    u64::from(p.school_rate.denominator),
                ],
                teacher_rate: [
                    u64::from(p.teacher_rate.numerator),
                    u64::from(p.teacher_rate.denominator),
                ],
                minimum_per_stratum: p.minimum,
            })
            .collect(),
        drawn_before: before
            .iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|(stratum, ids)| (stratum.as_str(), ids.iter().map(String::as_str).collect()))
            .collect(),
        re_examined_first: if round.level == Level::CountyReview {
            sent_back.iter().map(String::as_str).collect()
        } else {
            BTreeSet::new()
        },
    };
    let mut text = serde_json::to_string_pretty(&document).expect("a plan serialises");
    text.push('\n');
    text
}

impl Sampling {
    /// Creates a round in DRAFT. With a request id (AIP-155), a retry by the same caller gets
    /// the round the first call created, as it stands now.
    pub async fn create_round(&self, ctx: &Ctx, new: NewRound) -> Result<RoundRecord> {
        tica_server::check_request_id(&new.request_id)?;
        if let Some(first) = self.round_retried(ctx, &new).await? {
            return Ok(first);
        }
        match self.create_new_round(ctx, &new).await {
            // A retry racing its first call (refused as a second open round over the batch, or
            // losing the insert): the one that stored its round answers for both.
            Err(error) if !new.request_id.is_empty() => {
                match self.round_retried(ctx, &new).await? {
                    Some(first) => Ok(first),
                    None => Err(error),
                }
            }
            answer => answer,
        }
    }

    /// The round the caller created with `new`'s request id, when this call is a retry;
    /// ALREADY_EXISTS when that round has another level, kind or batches. None without a
    /// request id, or when the caller created none with it (or no longer covers its scope).
    async fn round_retried(&self, ctx: &Ctx, new: &NewRound) -> Result<Option<RoundRecord>> {
        if new.request_id.is_empty() {
            return Ok(None);
        }
        let Some(first) =
            store::round_by_request(&self.db, &ctx.caller.subject, &new.request_id).await?
        else {
            return Ok(None);
        };
        if !ctx.caller.covers(&first.path) {
            return Ok(None);
        }
        // An audit named with no batches took every batch awaiting it: any list matches.
        let same_batches = new.batches.is_empty() || new.batches == first.batches;
        if (first.level, first.kind) != (new.level, new.kind) || !same_batches {
            return Err(SamplingError::AlreadyExists(format!(
                "request_id {} created {} with another level, kind or batches: make a new \
                 request_id for each round",
                new.request_id,
                first.name()
            )));
        }
        Ok(Some(first))
    }

    async fn create_new_round(&self, ctx: &Ctx, new: &NewRound) -> Result<RoundRecord> {
        let caller = &ctx.caller;
        match new.level {
            Level::CountyReview if caller.role != Role::CountyOffice => {
                return Err(denied("county review rounds are run by the county office"));
            }
            Level::ProvinceAudit if caller.role != Role::ProvinceOffice => {
                return Err(denied(
                    "province audit rounds are run by the province office",
                ));
            }
            _ => {}
        }
        let mut ids = new.batches.clone();
        if new.level == Level::CountyReview && ids.len() != 1 {
            return Err(SamplingError::invalid(
                "review_round.batches",
                "a county review covers exactly one batch",
            ));
        }
        let mut batches = Vec::new();
        if ids.is_empty() {
            // Every batch awaiting its audit; visits also join an audit already under way.
            let states: &[BatchState] = match new.kind {
                Kind::OnlineRegrade => &[BatchState::ReadyForAudit],
                Kind::OfflineCheck => batch_states(new.level, new.kind),
            };
            for state in states {
                batches.extend(
                    self.upstream
                        .batches_in(&ctx.token, caller.jurisdiction.as_str(), *state)
                        .await?,
                );
            }
            if batches.is_empty() {
                return Err(precondition(format!(
                    "no batch in jurisdictions/{} awaits an audit; name the batches",
                    caller.jurisdiction
                )));
            }
            ids = batches.iter().map(|b| b.id.clone()).collect();
        } else {
            let unique: BTreeSet<&String> = ids.iter().collect();
            if unique.len() != ids.len() {
                return Err(SamplingError::invalid(
                    "review_round.batches",
                    "a batch is named twice",
                ));
            }
            for id in &ids {
                batches.push(self.upstream.batch(&ctx.token, id).await?);
            }
        }
        let mut plans = Vec::new();
        for (id, batch) in ids.iter().zip(&batches) {
            let allowed = batch_states(new.level, new.kind);
            if !allowed.contains(&batch.state) {
                return Err(precondition(format!(
                    "batches/{id} is {}; this round needs it {}",
                    batch.state.name(),
                    allowed
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(" or ")
                )));
            }
            let plan = plan_of(batch, new.level, new.kind)?;
            let county = DivisionCode::parse(&plan.county)
                .map_err(|_| SamplingError::Internal(format!("batches/{id} has no county")))?;
            if !caller.covers(&ScopePath::for_jurisdiction(county)) {
                return Err(denied(format!(
                    "batches/{id} lies outside the jurisdiction this token acts for ({})",
                    caller.acting_for()
                )));
            }
            plans.push(plan);
        }
        let years: BTreeSet<i32> = batches.iter().map(|b| b.year).collect();
        if years.len() != 1 {
            return Err(SamplingError::invalid(
                "review_round.batches",
                "the batches of one round are of one year",
            ));
        }
        let year = *years.iter().next().expect("one year");
        // One open round per batch, level and kind, whatever other batches a round covers.
        for id in &ids {
            let filter = store::RoundFilter {
                batch: id.clone(),
                level: new.level.key().to_owned(),
                kind: new.kind.key().to_owned(),
                state: String::new(),
            };
            let (rounds, _) =
                store::rounds_in(&self.db, &ScopePath::everything(), &filter, None, 1000).await?;
            if let Some(open) = rounds.iter().find(|r| {
                r.batches.contains(id)
                    && !matches!(r.state, RoundState::Decided | RoundState::Cancelled)
            }) {
                return Err(precondition(format!(
                    "reviewRounds/{} over batches/{id} is still {}: close or cancel it first",
                    open.id,
                    open.state.key().to_uppercase()
                )));
            }
        }
        let scope = caller.jurisdiction;
        let key = RoundRecord::chain_key(new.level, new.kind, &ids);
        let display = new.display_name.trim().to_owned();
        retry_conflicts(|| async {
            let earlier: Vec<RoundRecord> = store::rounds_with_key(&self.db, &key)
                .await?
                .into_iter()
                .filter(|r| r.state != RoundState::Cancelled)
                .collect();
            if let Some(open) = earlier.iter().find(|r| r.state != RoundState::Decided) {
                return Err(precondition(format!(
                    "reviewRounds/{} over the same batches is still {}: close or cancel it first",
                    open.id,
                    open.state.key().to_uppercase()
                )));
            }
            let last = earlier.last();
            let n = store::rounds_numbered(&self.db, scope.as_str(), year, new.level, new.kind)
                .await?
                + 1;
            let id = format!("{scope}-{year}-{}-{n}", new.level.tag(new.kind));
            let now = tica_storage::now_micros();
            let round = RoundRecord {
                display_name: if display.is_empty() {
                    format!(
                        "{scope} {year} 年{} 第{n}轮",
                        match (new.level, new.kind) {
                            (Level::CountyReview, Kind::OnlineRegrade) => "县级复核",
                            (Level::ProvinceAudit, Kind::OnlineRegrade) => "省市抽测",
                            (Level::CountyReview, Kind::OfflineCheck) => "县级推门听课",
                            (Level::ProvinceAudit, Kind::OfflineCheck) => "省市推门听课",
                        }
                    )
                } else {
                    display.clone()
                },
                level: new.level,
                kind: new.kind,
                scope_code: scope.as_str().to_owned(),
                path: ScopePath::for_jurisdiction(scope),
                year,
                batches: ids.clone(),
                extends: last.map(|l| l.id.clone()).unwrap_or_default(),
                chain: last.map_or_else(|| id.clone(), |l| l.chain.clone()),
                plans: plans.clone(),
                state: RoundState::Draft,
                population_schools: 0,
                population_teachers: 0,
                population_sha256: String::new(),
                freeze_micros: None,
                seed: String::new(),
                seed_note: String::new(),
                seed_actor: None,
                seed_micros: None,
                creator: ctx.actor(),
                transitions: Vec::new(),
                create_micros: now,
                update_micros: now,
                commitment: None,
                id,
            };
            let audit = ctx.audit(
                "CreateReviewRound",
                round.name(),
                &round.path,
                serde_json::json!({ "level": round.level.key(), "kind": round.kind.key(),
                    "batches": round.batches, "extends": round.extends }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round.clone(), None)),
                    request_id: new.request_id.clone(),
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(round)
        })
        .await
    }

    /// Freezes the population: DRAFT → POPULATION_FROZEN, then commits the draw in the
    /// transparency log. On a frozen round without its commitment (the append failed), appends
    /// the commitment only.
    pub async fn freeze(&self, ctx: &Ctx, id: &str) -> Result<RoundRecord> {
        let round = self.own_round(ctx, id).await?;
        if round.state == RoundState::PopulationFrozen && round.commitment.is_none() {
            return self.commit_draw(ctx, id).await;
        }
        require_state(&round, &[RoundState::Draft], "freezing the population")?;
        let mut rows = Vec::new();
        for plan in &round.plans {
            rows.extend(self.population_of(ctx, &round, plan).await?);
        }
        let schools: BTreeSet<&str> = rows
            .iter()
            .filter(|r| r.stage == Stage::School)
            .map(|r| r.sampler_id.as_str())
            .collect();
        if schools.is_empty() {
            return Err(precondition(match round.level {
                Level::CountyReview => {
                    "nothing to review: no school's results are IN_COUNTY_REVIEW"
                }
                Level::ProvinceAudit => "nothing to audit: the batches have no approved schools",
            }));
        }
        if let Some(clash) = rows
            .iter()
            .find(|r| r.stage == Stage::Teacher && schools.contains(r.sampler_id.as_str()))
        {
            return Err(precondition(format!(
                "teacher number {} equals a school code of the population; ids must be distinct",
                clash.sampler_id
            )));
        }
        if round.level == Level::ProvinceAudit {
            for plan in &round.plans {
                let batch = self.upstream.batch(&ctx.token, &plan.batch).await?;
                if batch.state == BatchState::ReadyForAudit {
                    self.upstream
                        .apply(
                            &ctx.token,
                            Step {
                                change: Change::BeginAudit { batch: &plan.batch },
                                round: &round.name(),
                                reason: "省市抽测：冻结抽样总体",
                            },
                        )
                        .await?;
                }
            }
        }
        let hash = hex::encode(Sha256::digest(population_csv(&rows).as_bytes()));
        retry_conflicts(|| async {
            let read = self.own_round(ctx, id).await?;
            require_state(&read, &[RoundState::Draft], "freezing the population")?;
            let mut round = read.clone();
            transition(ctx, &mut round, RoundState::PopulationFrozen, "");
            round.population_schools = schools.len() as i64;
            round.population_teachers = (rows.len() - schools.len()) as i64;
            round.population_sha256 = hash.clone();
            round.freeze_micros = Some(round.update_micros);
            let audit = ctx.audit(
                "FreezePopulation",
                round.name(),
                &round.path,
                serde_json::json!({ "population_sha256": hash, "schools": round.population_schools,
                    "teachers": round.population_teachers }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round.clone(), Some(read.update_micros))),
                    population: rows.clone(),
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(round)
        })
        .await?;
        // The population is on record: a failed append below leaves it frozen, and
        // FreezePopulation again appends the commitment of exactly this population.
        self.commit_draw(ctx, id).await
    }

    /// What the round's draw will depend on besides the seed, as `plan.json` holds it: read
    /// from the round and its chain, which cannot change while the round is open.
    pub(super) async fn plan_of_round(&self, round: &RoundRecord) -> Result<String> {
        let before = store::drawn_in_chain(&self.db, &round.chain, &round.id).await?;
        let sent_back = self.sent_back_in_chain(round).await?;
        Ok(plan_document(round, &before, &sent_back))
    }

    /// The units the chain last sent back, which a county review re-examines first.
    async fn sent_back_in_chain(
        &self,
        round: &RoundRecord,
    ) -> Result<std::collections::HashSet<String>> {
        if round.level != Level::CountyReview {
            return Ok(Default::default());
        }
        let mut last: std::collections::HashMap<String, Outcome> = Default::default();
        for unit in store::chain_units(&self.db, &round.chain).await? {
            if unit.outcome != Outcome::Undecided {
                last.insert(unit.id, unit.outcome);
            }
        }
        Ok(last
            .into_iter()
            .filter(|(_, outcome)| *outcome == Outcome::SentBack)
            .map(|(unit, _)| unit)
            .collect())
    }

    /// Appends the frozen round's draw commitment (population hash, plan hash, tool version)
    /// to the certificate service's transparency log with the caller's token and records the
    /// entry on the round. A failure leaves the round frozen without it, to be tried again.
    async fn commit_draw(&self, ctx: &Ctx, id: &str) -> Result<RoundRecord> {
        let round = self.own_round(ctx, id).await?;
        require_state(
            &round,
            &[RoundState::PopulationFrozen],
            "recording the draw commitment",
        )?;
        if round.commitment.is_some() {
            return Err(precondition(format!(
                "reviewRounds/{id} is frozen and its draw commitment is in the log already"
            )));
        }
        let plan = self.plan_of_round(&round).await?;
        let plan_sha256 = hex::encode(Sha256::digest(plan.as_bytes()));
        let entry = self
            .upstream
            .record_draw_commitment(
                &ctx.token,
                &round.name(),
                &round.population_sha256,
                &plan_sha256,
                TOOL_VERSION,
            )
            .await
            .map_err(|error| match error {
                SamplingError::Unavailable(why) => SamplingError::Unavailable(format!(
                    "{why}; reviewRounds/{id} is frozen (population_sha256 {}) without its draw \
                     commitment: call FreezePopulation again",
                    round.population_sha256
                )),
                other => other,
            })?;
        retry_conflicts(|| async {
            let read = self.own_round(ctx, id).await?;
            require_state(
                &read,
                &[RoundState::PopulationFrozen],
                "recording the draw commitment",
            )?;
            if read.commitment.is_some() {
                return Ok(read);
            }
            let mut round = read.clone();
            round.update_micros = super::next_micros(read.update_micros);
            round.commitment = Some(Commitment {
                log_index: entry.index,
                leaf_hash: entry.leaf_hash.clone(),
                log_micros: entry.micros,
                plan_sha256: plan_sha256.clone(),
                plan: plan.clone(),
                tool_version: TOOL_VERSION.to_owned(),
            });
            let audit = ctx.audit(
                "FreezePopulation",
                round.name(),
                &round.path,
                serde_json::json!({ "draw_commitment": { "log_index": entry.index,
                    "plan_sha256": plan_sha256, "tool_version": TOOL_VERSION } }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round.clone(), Some(read.update_micros))),
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(round)
        })
        .await
    }

    /// The population a plan contributes: the schools under review and their teachers with
    /// the grades under review.
    async fn population_of(
        &self,
        ctx: &Ctx,
        round: &RoundRecord,
        plan: &Plan,
    ) -> Result<Vec<PopulationRow>> {
        use SchoolState as S;
        let states: &[S] = match (round.level, round.kind) {
            (Level::CountyReview, Kind::OnlineRegrade) => &[S::InCountyReview],
            (Level::CountyReview, Kind::OfflineCheck) => &[S::InCountyReview, S::CountyApproved],
            (Level::ProvinceAudit, _) => &[S::CountyApproved],
        };
        let mut schools = BTreeSet::new();
        for state in states {
            schools.extend(
                self.upstream
                    .schools_in_state(&ctx.token, &plan.batch, *state)
                    .await?,
            );
        }
        // (school, teacher number) → (code, submission, grade) under review.
        type Graded = BTreeMap<(String, String), Vec<(String, String, Grade)>>;
        let mut teachers = Graded::new();
        let work = match round.kind {
            Kind::OnlineRegrade => {
                self.upstream
                    .graded_submissions(&ctx.token, &plan.batch)
                    .await?
            }
            Kind::OfflineCheck => self.upstream.online_grades(&ctx.token, &plan.batch).await?,
        };
        for w in work.into_iter().filter(|w| schools.contains(&w.school)) {
            teachers.entry((w.school, w.teacher)).or_default().push((
                w.code,
                w.submission,
                w.grade,
            ));
        }
        let mut rows: Vec<PopulationRow> = schools
            .iter()
            .map(|code| PopulationRow {
                stage: Stage::School,
                stratum: format!("county-{}", plan.county),
                sampler_id: code.clone(),
                batch: plan.batch.clone(),
                school: code.clone(),
                grades: Vec::new(),
            })
            .collect();
        rows.extend(
            teachers
                .into_iter()
                .map(|((school, number), grades)| PopulationRow {
                    stage: Stage::Teacher,
                    stratum: format!("school-{school}"),
                    sampler_id: number,
                    batch: plan.batch.clone(),
                    school,
                    grades,
                }),
        );
        Ok(rows)
    }

    /// Records the seed and draws: POPULATION_FROZEN → DRAWN.
    pub async fn draw(&self, ctx: &Ctx, id: &str, seed: &str, note: &str) -> Result<RoundRecord> {
        let round = self.own_round(ctx, id).await?;
        require_state(&round, &[RoundState::PopulationFrozen], "drawing")?;
        check_seed(seed)?;
        if !round.extends.is_empty() {
            // A later round under an earlier seed would draw what anyone could compute the
            // moment the earlier round was drawn: the school sent back would know its teachers.
            let key = RoundRecord::chain_key(round.level, round.kind, &round.batches);
            for earlier in store::rounds_with_key(&self.db, &key).await? {
                if earlier.chain == round.chain && earlier.id != round.id && earlier.seed == seed {
                    return Err(SamplingError::invalid(
                        "seed",
                        format!(
                            "reviewRounds/{} of this chain drew under this seed: a later round \
                             takes a fresh public seed, so that nobody can know beforehand what \
                             it draws",
                            earlier.id
                        ),
                    ));
                }
            }
        }
        let Some(commitment) = round.commitment.clone() else {
            return Err(precondition(format!(
                "reviewRounds/{id} has no draw commitment in the transparency log: its population \
                 hash, plan and tool version are logged before any seed is entered; call \
                 FreezePopulation again to record it"
            )));
        };
        let seed = seed.to_owned();
        let population = store::population(&self.db, id).await?;
        let before = store::drawn_in_chain(&self.db, &round.chain, id).await?;
        // Units the chain last sent back are re-examined whatever their tickets say.
        let sent_back = self.sent_back_in_chain(&round).await?;
        let plan = plan_document(&round, &before, &sent_back);
        if hex::encode(Sha256::digest(plan.as_bytes())) != commitment.plan_sha256 {
            return Err(precondition(format!(
                "reviewRounds/{id}'s plan is no longer the one committed at log index {}: \
                 cancel the round and start another",
                commitment.log_index
            )));
        }
        let draw = draw_round(&round, &population, &seed, &before, &sent_back);
        let round = retry_conflicts(|| async {
            let read = self.own_round(ctx, id).await?;
            require_state(&read, &[RoundState::PopulationFrozen], "drawing")?;
            let mut round = read.clone();
            transition(ctx, &mut round, RoundState::Drawn, note);
            round.seed = seed.clone();
            round.seed_note = note.trim().to_owned();
            round.seed_actor = Some(ctx.actor());
            round.seed_micros = Some(round.update_micros);
            let audit = ctx.audit(
                "DrawSample",
                round.name(),
                &round.path,
                serde_json::json!({ "seed": seed, "seed_note": round.seed_note,
                    "items": draw.items.len(), "regrades": draw.regrades.len() }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round.clone(), Some(read.update_micros))),
                    strata: draw.strata.clone(),
                    items: draw.items.clone(),
                    regrades: draw.regrades.clone(),
                    units: draw.units.clone(),
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(round)
        })
        .await?;
        metrics::counter!("tica_sampling_rounds_drawn_total", "level" => round.level.key())
            .increment(1);
        // Only once the seed and sample are on record: marking first would let a failed draw
        // be tried again with another seed.
        if let Err(e) = self.mark_visits_pending(ctx, &round, &draw.items).await {
            tracing::warn!(round = %round.id, error = %e, "marking drawn teachers PENDING failed; AssignReviewers marks them again");
        }
        Ok(round)
    }

    /// Offline checks: marks the drawn teachers PENDING in the assessment service (idempotent).
    pub(super) async fn mark_visits_pending(
        &self,
        ctx: &Ctx,
        round: &RoundRecord,
        items: &[ItemRecord],
    ) -> Result<()> {
        if round.kind != Kind::OfflineCheck {
            return Ok(());
        }
        let name = round.name();
        for item in items.iter().filter(|i| i.stage == Stage::Teacher) {
            self.upstream
                .apply(
                    &ctx.token,
                    Step {
                        change: Change::OfflineCheck {
                            batch: &item.batch,
                            teacher: &item.teacher,
                            outcome: OfflineOutcome::Pending,
                        },
                        round: &name,
                        reason: "抽中推门听课",
                    },
                )
                .await?;
        }
        Ok(())
    }

    /// Cancels a round before its draw.
    pub async fn cancel(&self, ctx: &Ctx, id: &str, reason: &str) -> Result<RoundRecord> {
        if reason.trim().is_empty() {
            return Err(SamplingError::invalid(
                "reason",
                "say why the round is cancelled",
            ));
        }
        retry_conflicts(|| async {
            let read = self.own_round(ctx, id).await?;
            require_state(
                &read,
                &[RoundState::Draft, RoundState::PopulationFrozen],
                "cancelling (a drawn round cannot be cancelled)",
            )?;
            let mut round = read.clone();
            transition(ctx, &mut round, RoundState::Cancelled, reason);
            let audit = ctx.audit(
                "CancelReviewRound",
                round.name(),
                &round.path,
                serde_json::json!({ "reason": reason.trim() }),
            );
            store::commit(
                &self.db,
                &Work {
                    round: Some((round.clone(), Some(read.update_micros))),
                    audits: vec![audit],
                    ..Default::default()
                },
            )
            .await?;
            Ok(round)
        })
        .await
    }

    /// A round's strata.
    pub async fn strata(
        &self,
        ctx: &Ctx,
        id: &str,
        stage: &str,
        after: Option<(String, String)>,
        limit: i64,
    ) -> Result<(Vec<StratumRecord>, i64)> {
        let round = self.round(ctx, id).await?;
        super::require_office_over(ctx, &round).or_else(|_| {
            if ctx.caller.role == Role::Assessor {
                Ok(())
            } else {
                Err(denied("offices and assessors see a round's strata"))
            }
        })?;
        store::strata(&self.db, id, stage, after, limit).await
    }
}

/// A county's schools: those `forced` (sent back earlier in the chain and now back under
/// review) in ticket order, then the next undrawn ones up to `size`.
fn draw_schools(
    sampler: &Sampler,
    ids: &[&str],
    before: &std::collections::HashSet<String>,
    size: usize,
    forced: &std::collections::HashSet<String>,
) -> tica_domain::sampling::StratumDraw {
    let mut picks: Vec<Pick> = if forced.is_empty() {
        Vec::new()
    } else {
        sampler
            .first_with_tickets(ids, ids.len())
            .into_iter()
            .enumerate()
            .filter(|(_, (index, _))| forced.contains(ids[*index]))
            .map(|(position, (index, ticket))| Pick {
                index,
                position: position as u64 + 1,
                ticket,
            })
            .collect()
    };
    let mut skip = before.clone();
    skip.extend(picks.iter().map(|p| ids[p.index].to_owned()));
    let rest = continue_draw(sampler, ids, &skip, size.saturating_sub(picks.len()));
    let first_position = if rest.picks.is_empty() {
        picks.first().map_or(1, |p| p.position)
    } else {
        rest.first_position
    };
    let already: std::collections::HashSet<usize> = picks.iter().map(|p| p.index).collect();
    picks.extend(
        rest.picks
            .into_iter()
            .filter(|p| !already.contains(&p.index)),
    );
    tica_domain::sampling::StratumDraw {
        picks,
        first_position,
        wrapped: rest.wrapped,
    }
}

/// What a draw writes.
#[derive(Clone, Debug, Default)]
pub(crate) struct RoundDraw {
    pub strata: Vec<StratumRecord>,
    pub items: Vec<ItemRecord>,
    pub regrades: Vec<RegradeRecord>,
    pub units: Vec<UnitRecord>,
}

/// The whole draw of a round, without I/O: per batch, the county's schools, then each drawn
/// school's teachers, each stratum in ticket order under the round's own seed, skipping what
/// its chain drew (`before`) and re-examining first what the chain sent back.
pub(crate) fn draw_round(
    round: &RoundRecord,
    population: &[PopulationRow],
    seed: &str,
    before: &std::collections::HashMap<String, std::collections::HashSet<String>>,
    sent_back: &std::collections::HashSet<String>,
) -> RoundDraw {
    let sampler = Sampler::new(seed);
    let empty = std::collections::HashSet::new();
    let mut out = RoundDraw::default();
    let mut seq = 0i64;
    for plan in &round.plans {
        let county_unit = format!("jurisdictions/{}", plan.county);
        let unit_of = |school: &str| match round.level {
            Level::CountyReview => format!("schools/{school}"),
            Level::ProvinceAudit => county_unit.clone(),
        };
        let school_rows: Vec<&PopulationRow> = population
            .iter()
            .filter(|r| r.batch == plan.batch && r.stage == Stage::School)
            .collect();
        let stratum = format!("county-{}", plan.county);
        let ids: Vec<&str> = school_rows.iter().map(|r| r.sampler_id.as_str()).collect();
        let size = stratum_size(plan.school_rate, ids.len() as u64, u64::from(plan.minimum));
        let schools = draw_schools(
            &sampler,
            &ids,
            before.get(&stratum).unwrap_or(&empty),
            size as usize,
            if round.level == Level::CountyReview {
                sent_back
            } else {
                &empty
            },
        );
        out.strata.push(StratumRecord {
            id: stratum.clone(),
            stage: Stage::School,
            parent_unit: county_unit.clone(),
            batch: plan.batch.clone(),
            population_size: ids.len() as i64,
            rate: plan.school_rate,
            minimum: i64::from(plan.minimum),
            sample_size: size as i64,
            first_position: schools.first_position as i64,
            wrapped: schools.wrapped,
        });
        let mut drawn_units = BTreeSet::new();
        for pick in &schools.picks {
            let school = ids[pick.index];
            out.items.push(ItemRecord {
                round: round.id.clone(),
                id: format!("school-{school}"),
                stage: Stage::School,
                sampler_id: school.to_owned(),
                stratum: stratum.clone(),
                position: pick.position as i64,
                ticket: pick.ticket.clone(),
                unit: unit_of(school),
                batch: plan.batch.clone(),
                school: school.to_owned(),
                teacher: String::new(),
                assessor: String::new(),
                state: ItemState::Drawn,
                history: Vec::new(),
            });
            let teacher_stratum = format!("school-{school}");
            let teacher_rows: Vec<&PopulationRow> = population
                .iter()
                .filter(|r| r.stage == Stage::Teacher && r.stratum == teacher_stratum)
                .collect();
            let tids: Vec<&str> = teacher_rows.iter().map(|r| r.sampler_id.as_str()).collect();
            let tsize = stratum_size(
                plan.teacher_rate,
                tids.len() as u64,
                u64::from(plan.minimum),
            );
            let teachers = continue_draw(
                &sampler,
                &tids,
                before.get(&teacher_stratum).unwrap_or(&empty),
                tsize as usize,
            );
            out.strata.push(StratumRecord {
                id: teacher_stratum.clone(),
                stage: Stage::Teacher,
                parent_unit: format!("schools/{school}"),
                batch: plan.batch.clone(),
                population_size: tids.len() as i64,
                rate: plan.teacher_rate,
                minimum: i64::from(plan.minimum),
                sample_size: tsize as i64,
                first_position: teachers.first_position as i64,
                wrapped: teachers.wrapped,
            });
            for tpick in &teachers.picks {
                let row = teacher_rows[tpick.index];
                let item_id = format!("teacher-{}", row.sampler_id);
                seq += 1;
                out.items.push(ItemRecord {
                    round: round.id.clone(),
                    id: item_id.clone(),
                    stage: Stage::Teacher,
                    sampler_id: row.sampler_id.clone(),
                    stratum: teacher_stratum.clone(),
                    position: tpick.position as i64,
                    ticket: tpick.ticket.clone(),
                    unit: unit_of(school),
                    batch: plan.batch.clone(),
                    school: school.to_owned(),
                    teacher: row.sampler_id.clone(),
                    assessor: String::new(),
                    state: ItemState::Drawn,
                    history: Vec::new(),
                });
                drawn_units.insert(unit_of(school));
                for (code, submission, grade) in &row.grades {
                    out.regrades.push(RegradeRecord {
                        round: round.id.clone(),
                        item: item_id.clone(),
                        code: code.clone(),
                        seq,
                        unit: unit_of(school),
                        submission: submission.clone(),
                        assessor: String::new(),
                        state: RegradeState::Pending,
                        original: *grade,
                        grade: None,
                        agrees: false,
                        detail: RegradeDetail::default(),
                        submit_micros: None,
                    });
                }
            }
        }
        let unit_ids: BTreeSet<(String, String)> = match round.level {
            Level::CountyReview => school_rows
                .iter()
                .map(|r| (r.sampler_id.clone(), unit_of(&r.sampler_id)))
                .collect(),
            Level::ProvinceAudit => [(plan.county.clone(), county_unit.clone())].into(),
        };
        for (id, unit) in unit_ids {
            out.units.push(UnitRecord {
                round: round.id.clone(),
                drawn: drawn_units.contains(&unit),
                id,
                unit,
                batch: plan.batch.clone(),
                outcome: Outcome::Undecided,
                decision: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tica_domain::policy::{AgreementCriterion, ThresholdComparison};

    fn round(level: Level) -> RoundRecord {
        RoundRecord {
            id: "341324-2026-county-1".into(),
            display_name: String::new(),
            level,
            kind: Kind::OnlineRegrade,
            scope_code: "341324".into(),
            path: ScopePath::for_jurisdiction(tica_domain::DivisionCode::parse("341324").unwrap()),
            year: 2026,
            batches: vec!["341324-2026".into()],
            extends: String::new(),
            chain: "341324-2026-county-1".into(),
            plans: vec![Plan {
                batch: "341324-2026".into(),
                county: "341324".into(),
                policy_versions: Vec::new(),
                school_rate: Ratio::new(15, 100),
                teacher_rate: Ratio::new(15, 100),
                minimum: 1,
                threshold: Ratio::new(80, 100),
                criterion: AgreementCriterion::PointEstimate,
                comparison: ThresholdComparison::AtLeast,
                offline_required: false,
                subject_match: false,
                rubric_rule: Default::default(),
            }],
            state: RoundState::PopulationFrozen,
            population_schools: 0,
            population_teachers: 0,
            population_sha256: String::new(),
            freeze_micros: None,
            seed: String::new(),
            seed_note: String::new(),
            seed_actor: None,
            seed_micros: None,
            creator: Actor::default(),
            transitions: Vec::new(),
            create_micros: 0,
            update_micros: 0,
            commitment: None,
        }
    }

    fn population(schools: usize, teachers: usize) -> Vec<PopulationRow> {
        let mut rows = Vec::new();
        for s in 1..=schools {
            let school = format!("34132400{s:02}");
            rows.push(PopulationRow {
                stage: Stage::School,
                stratum: "county-341324".into(),
                sampler_id: school.clone(),
                batch: "341324-2026".into(),
                school: school.clone(),
                grades: Vec::new(),
            });
            for t in 1..=teachers {
                rows.push(PopulationRow {
                    stage: Stage::Teacher,
                    stratum: format!("school-{school}"),
                    sampler_id: format!("T{s:02}{t:03}"),
                    batch: "341324-2026".into(),
                    school: school.clone(),
                    grades: vec![
                        ("A1".into(), String::new(), Grade::Pass),
                        ("B2".into(), String::new(), Grade::Excellent),
                    ],
                });
            }
        }
        rows
    }

    #[test]
    fn a_county_review_draws_ceil_fifteen_percent_of_schools_then_of_their_teachers() {
        // 《宁夏测评实施办法》§五(一)3: 不低于15%的学校和教师.
        let draw = draw_round(
            &round(Level::CountyReview),
            &population(20, 10),
            "07318552946601823357",
            &Default::default(),
            &Default::default(),
        );
        let schools = draw
            .items
            .iter()
            .filter(|i| i.stage == Stage::School)
            .count();
        let teachers = draw
            .items
            .iter()
            .filter(|i| i.stage == Stage::Teacher)
            .count();
        assert_eq!(schools, 3, "ceil(0.15 × 20)");
        assert_eq!(teachers, 3 * 2, "ceil(0.15 × 10) in each drawn school");
        assert_eq!(
            draw.regrades.len(),
            12,
            "each drawn teacher's two graded submissions"
        );
        assert_eq!(
            draw.units.len(),
            20,
            "every school of the population is a unit"
        );
        assert_eq!(draw.units.iter().filter(|u| u.drawn).count(), 3);
    }

    #[test]
    fn a_school_sent_back_is_drawn_again_and_the_rest_are_the_first_undrawn_under_the_new_seed() {
        // 测评实施办法 五(一)3: results that disagree go back to the school and are re-examined;
        // issue 18 §4: the later round has its own seed, and skips what round 1 drew.
        let population = population(20, 10);
        let first = draw_round(
            &round(Level::CountyReview),
            &population,
            "seed",
            &Default::default(),
            &Default::default(),
        );
        let drawn: Vec<&str> = first
            .items
            .iter()
            .filter(|i| i.stage == Stage::School)
            .map(|i| i.sampler_id.as_str())
            .collect();
        let before = [(
            "county-341324".to_owned(),
            drawn.iter().map(|s| s.to_string()).collect(),
        )]
        .into();
        let sent_back = [drawn[1].to_owned()].into();
        let mut second_round = round(Level::CountyReview);
        second_round.id = "341324-2026-county-2".into();
        let second = draw_round(&second_round, &population, "seed-2", &before, &sent_back);
        let again: Vec<&str> = second
            .items
            .iter()
            .filter(|i| i.stage == Stage::School)
            .map(|i| i.sampler_id.as_str())
            .collect();
        assert_eq!(again.len(), 3);
        assert_eq!(again[0], drawn[1], "the school sent back comes first");
        let ids: Vec<String> = population
            .iter()
            .filter(|r| r.stage == Stage::School)
            .map(|r| r.sampler_id.clone())
            .collect();
        let order =
            tica_domain::sampling::TicketSequence::new("seed-2", ids.iter().map(String::as_str));
        let next: Vec<&str> = order
            .tickets()
            .iter()
            .map(|t| t.id.as_str())
            .filter(|id| !drawn.contains(id))
            .take(2)
            .collect();
        assert_eq!(
            &again[1..],
            next,
            "then the first schools round 1 did not draw, in round 2's own ticket order"
        );
    }

    #[test]
    fn the_plan_names_what_the_chain_drew_and_sent_back_sorted_whatever_the_order_read() {
        let mut second = round(Level::CountyReview);
        second.id = "341324-2026-county-2".into();
        second.extends = "341324-2026-county-1".into();
        let before = [
            (
                "county-341324".to_owned(),
                ["3413240003", "3413240001"].map(String::from).into(),
            ),
            (
                "school-3413240003".to_owned(),
                ["T03002"].map(String::from).into(),
            ),
        ]
        .into();
        let sent_back = ["3413240003".to_owned()].into();
        let plan = plan_document(&second, &before, &sent_back);
        assert_eq!(plan, plan_document(&second, &before, &sent_back));
        let value: serde_json::Value = serde_json::from_str(&plan).unwrap();
        assert_eq!(value["review_round"], "reviewRounds/341324-2026-county-2");
        assert_eq!(value["extends"], "reviewRounds/341324-2026-county-1");
        assert_eq!(
            value["drawn_before"]["county-341324"],
            serde_json::json!(["3413240001", "3413240003"])
        );
        assert_eq!(
            value["re_examined_first"],
            serde_json::json!(["3413240003"])
        );
        assert_eq!(
            value["batches"][0]["school_rate"],
            serde_json::json!([15, 100])
        );
        // An audit re-examines nothing first: its unit is the county.
        let mut audit = second.clone();
        audit.level = Level::ProvinceAudit;
        let value: serde_json::Value =
            serde_json::from_str(&plan_document(&audit, &before, &sent_back)).unwrap();
        assert_eq!(value["re_examined_first"], serde_json::json!([]));
    }

    #[test]
    fn an_audit_has_one_unit_per_county() {
        let draw = draw_round(
            &round(Level::ProvinceAudit),
            &population(20, 10),
            "seed",
            &Default::default(),
            &Default::default(),
        );
        assert_eq!(draw.units.len(), 1);
        assert_eq!(draw.units[0].unit, "jurisdictions/341324");
        assert!(draw.items.iter().all(|i| i.unit == "jurisdictions/341324"));
    }

    #[test]
    fn the_population_file_is_sorted_by_stage_stratum_and_id() {
        let mut rows = population(2, 2);
        rows.reverse();
        let csv = population_csv(&rows);
        assert_eq!(
            csv,
            "id,stage,stratum\n3413240001,school,county-341324\n3413240002,school,county-341324\n\
             T01001,teacher,school-3413240001\nT01002,teacher,school-3413240001\n\
             T02001,teacher,school-3413240002\nT02002,teacher,school-3413240002\n"
        );
    }
}
