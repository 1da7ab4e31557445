//! The sampling service's records, as stored (no proto types).

use serde::{Deserialize, Serialize};
use tica_domain::policy::{AgreementCriterion, Ratio, ThresholdComparison};

pub use tica_storage::audit::Actor;

macro_rules! keyed_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $key:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// The storage key.
            pub fn key(self) -> &'static str {
                match self { $($name::$variant => $key),+ }
            }

            /// From a storage key.
            pub fn from_key(key: &str) -> Option<$name> {
                match key { $($key => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

keyed_enum!(
    /// Who reviews: the county (unit = school) or the province with its cities (unit = county).
    Level { CountyReview => "county_review", ProvinceAudit => "province_audit" }
);
keyed_enum!(
    /// Online re-grading or offline classroom visits.
    Kind { OnlineRegrade => "online_regrade", OfflineCheck => "offline_check" }
);
keyed_enum!(
    /// Where a round stands.
    RoundState {
        Draft => "draft",
        PopulationFrozen => "population_frozen",
        Drawn => "drawn",
        InReview => "in_review",
        Decided => "decided",
        Cancelled => "cancelled",
    }
);
keyed_enum!(
    /// School or teacher.
    Stage { School => "school", Teacher => "teacher" }
);
keyed_enum!(
    /// Where a drawn item stands.
    ItemState { Drawn => "drawn", Assigned => "assigned", Regraded => "regraded" }
);
keyed_enum!(
    /// Where a re-grade stands.
    RegradeState { Pending => "pending", Submitted => "submitted" }
);
keyed_enum!(
    /// What became of a unit.
    Outcome {
        Undecided => "",
        Passed => "passed",
        SentBack => "sent_back",
        PassedNotDrawn => "passed_not_drawn",
    }
);
keyed_enum!(
    /// The three grades.
    Grade { Fail => "fail", Pass => "pass", Excellent => "excellent" }
);

impl Level {
    /// The tag in round ids.
    pub fn tag(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Level::CountyReview, Kind::OnlineRegrade) => "county",
            (Level::ProvinceAudit, Kind::OnlineRegrade) => "province",
            (Level::CountyReview, Kind::OfflineCheck) => "county-offline",
            (Level::ProvinceAudit, Kind::OfflineCheck) => "province-offline",
        }
    }
}

impl Grade {
    /// Chinese label, for exports.
    pub fn label(self) -> &'static str {
        match self {
            Grade::Fail => "不合格",
            Grade::Pass => "合格",
            Grade::Excellent => "优秀",
        }
    }
}

/// The draw plan of one batch, from its pinned policy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Batch id (`{county}-{year}`).
    pub batch: String,
    /// The batch's county code.
    pub county: String,
    /// `policies/{code}/versions/{n}`, nearest first.
    pub policy_versions: Vec<String>,
    /// Share of the county's schools.
    pub school_rate: Ratio,
    /// Share of each drawn school's teachers.
    pub teacher_rate: Ratio,
    /// At least this many per stratum.
    pub minimum: u32,
    /// Agreement needed.
    pub threshold: Ratio,
    /// Which figure decides.
    pub criterion: AgreementCriterion,
    /// How it is compared.
    pub comparison: ThresholdComparison,
    /// The policy has offline checks: certification waits for them too.
    pub offline_required: bool,
    /// Reviewers must teach the drawn teacher's subject (GradingRule.subject_match_required,
    /// 测评以学科为单位).
    #[serde(default)]
    pub subject_match: bool,
    /// The pinned rubric a re-grade is scored on and whether the grade follows from its total
    /// (GradingRule.rubric, grade_from_rubric, the minimum points); rounds created before it
    /// was kept have none.
    #[serde(default)]
    pub rubric_rule: tica_domain::policy::GradingRule,
}

/// One state change of a round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// Before.
    pub from: RoundState,
    /// After.
    pub to: RoundState,
    /// Who.
    pub actor: Actor,
    /// When (µs).
    pub micros: i64,
    /// Why.
    pub reason: String,
}

/// A review round.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// `{scope}-{year}-{tag}-{n}`.
    pub id: String,
    /// Display name.
    pub display_name: String,
    /// Level.
    pub level: Level,
    /// Kind.
    pub kind: Kind,
    /// The county (county review) or province (audit) code.
    pub scope_code: String,
    /// Its scope path (a stored round whose path is not canonical does not load).
    pub path: tica_domain::ScopePath,
    /// The batches' year.
    pub year: i32,
    /// Batch ids under review.
    pub batches: Vec<String>,
    /// The round this one extends ("" for a chain's first).
    pub extends: String,
    /// The chain's first round.
    pub chain: String,
    /// One per batch.
    pub plans: Vec<Plan>,
    /// State.
    pub state: RoundState,
    /// School-stage ids frozen.
    pub population_schools: i64,
    /// Teacher-stage ids frozen.
    pub population_teachers: i64,
    /// SHA-256 of the population CSV.
    pub population_sha256: String,
    /// When frozen.
    pub freeze_micros: Option<i64>,
    /// The public seed (the chain's).
    pub seed: String,
    /// How it was produced.
    pub seed_note: String,
    /// Who entered it.
    pub seed_actor: Option<Actor>,
    /// When.
    pub seed_micros: Option<i64>,
    /// Who created the round.
    pub creator: Actor,
    /// Oldest first.
    pub transitions: Vec<Transition>,
    /// Created (µs).
    pub create_micros: i64,
    /// Last change (µs): every write to the round or its items checks and bumps it.
    pub update_micros: i64,
    /// Its draw commitment in the transparency log, recorded before any seed; rounds frozen
    /// before commitments existed have none (and cannot draw until they record one).
    #[serde(default)]
    pub commitment: Option<Commitment>,
}

/// A round's entry in the certificate service's transparency log: what its draw depends on
/// besides the seed, published before the seed is entered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commitment {
    /// The entry's index in the log.
    pub log_index: i64,
    /// Its leaf hash (hex).
    pub leaf_hash: String,
    /// When the log recorded it (µs).
    pub log_micros: i64,
    /// SHA-256 (hex) of the plan document.
    pub plan_sha256: String,
    /// The plan document itself (`plan.json` of the reproducibility bundle), as committed.
    pub plan: String,
    /// The drawing tool and its version.
    pub tool_version: String,
}

impl RoundRecord {
    /// `reviewRounds/{id}`.
    pub fn name(&self) -> String {
        format!("reviewRounds/{}", self.id)
    }

    /// The key shared by the rounds of one chain.
    pub fn chain_key(level: Level, kind: Kind, batches: &[String]) -> String {
        let mut sorted = batches.to_vec();
        sorted.sort();
        format!("{}|{}|{}", level.key(), kind.key(), sorted.join(","))
    }

    /// The plan of `batch`.
    pub fn plan(&self, batch: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.batch == batch)
    }
}

/// One id of the frozen population.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PopulationRow {
    /// School or teacher.
    pub stage: Stage,
    /// `county-{code}` or `school-{code}`.
    pub stratum: String,
    /// School code or teacher number.
    pub sampler_id: String,
    /// Batch id.
    pub batch: String,
    /// The school (its own code for school rows).
    pub school: String,
    /// Teacher rows: (code, submission name, grade under review).
    pub grades: Vec<(String, String, Grade)>,
}

/// One stratum of a drawn round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StratumRecord {
    /// `county-{code}` or `school-{code}`.
    pub id: String,
    /// Stage.
    pub stage: Stage,
    /// `jurisdictions/{code}` or `schools/{code}`.
    pub parent_unit: String,
    /// Batch id.
    pub batch: String,
    /// N.
    pub population_size: i64,
    /// Rate applied.
    pub rate: Ratio,
    /// Minimum applied.
    pub minimum: i64,
    /// min(N, max(minimum, ceil(rate × N))).
    pub sample_size: i64,
    /// Where this round's draw starts in the ticket order.
    pub first_position: i64,
    /// The order restarted.
    pub wrapped: bool,
}

/// One assignment or reassignment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AssignmentChange {
    /// Assessor id before ("" the first time).
    pub from: String,
    /// Assessor id after.
    pub to: String,
    /// Who.
    pub actor: Actor,
    /// When (µs).
    pub micros: i64,
    /// Why.
    pub reason: String,
}

/// A drawn school or teacher.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemRecord {
    /// Round id.
    pub round: String,
    /// `school-{code}` or `teacher-{number}`.
    pub id: String,
    /// Stage.
    pub stage: Stage,
    /// Id fed to the sampler.
    pub sampler_id: String,
    /// Stratum id.
    pub stratum: String,
    /// 1-based position in the stratum's ticket order.
    pub position: i64,
    /// Ticket as the reference prints it.
    pub ticket: String,
    /// `schools/{code}` or `jurisdictions/{code}`.
    pub unit: String,
    /// Batch id.
    pub batch: String,
    /// School code.
    pub school: String,
    /// Teacher number (teacher items).
    pub teacher: String,
    /// Assessor id ("" none).
    pub assessor: String,
    /// State.
    pub state: ItemState,
    /// Oldest first.
    pub history: Vec<AssignmentChange>,
}

/// What a reviewer recorded beside the grade.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegradeDetail {
    /// (criterion id, points).
    pub rubric_scores: Vec<(String, i32)>,
    /// (evidence name, reason key, explanation).
    pub invalid_evidence: Vec<(String, i32, String)>,
    /// Remarks.
    pub comment: String,
    /// ISO date of the visit.
    pub visit_date: String,
    /// The lesson observed.
    pub visited_lesson: String,
}

/// A re-grade of one submission (or one visit).
#[derive(Clone, Debug, PartialEq)]
pub struct RegradeRecord {
    /// Round id.
    pub round: String,
    /// Item id.
    pub item: String,
    /// Micro-competency code, `leadership` or `visit`.
    pub code: String,
    /// Draw order of the item in the round.
    pub seq: i64,
    /// The unit it counts for.
    pub unit: String,
    /// The submission's name ("" for a visit).
    pub submission: String,
    /// Assessor id.
    pub assessor: String,
    /// State.
    pub state: RegradeState,
    /// The grade under review.
    pub original: Grade,
    /// The reviewer's grade, once submitted.
    pub grade: Option<Grade>,
    /// grade == original.
    pub agrees: bool,
    /// Remarks and the like.
    pub detail: RegradeDetail,
    /// When submitted.
    pub submit_micros: Option<i64>,
}

impl RegradeRecord {
    /// Its resource name.
    pub fn name(&self) -> String {
        format!(
            "reviewRounds/{}/items/{}/regrades/{}",
            self.round, self.item, self.code
        )
    }
}

/// A decision on a unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Applied outcome.
    pub outcome: Outcome,
    /// Who.
    pub actor: Actor,
    /// When (µs).
    pub micros: i64,
    /// Why.
    pub reason: String,
    /// The assessment resource changed.
    pub target: String,
}

/// A unit under review.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitRecord {
    /// Round id.
    pub round: String,
    /// School or county code.
    pub id: String,
    /// `schools/{code}` or `jurisdictions/{code}`.
    pub unit: String,
    /// Batch id.
    pub batch: String,
    /// Something of it was drawn for re-grading.
    pub drawn: bool,
    /// Applied outcome.
    pub outcome: Outcome,
    /// The decision, once made.
    pub decision: Option<Decision>,
}
