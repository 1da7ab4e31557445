//! Review agreement per unit across rounds: what the offices' dashboards and the county
//! summary show (`ListUnitAgreements`). Every figure is the one the unit's own report gives
//! ([`UnitReport`]: percent agreement, Wilson interval, Cohen's κ, n); this module only
//! gathers the rounds of a level and kind and folds them by unit and batch.

use std::collections::BTreeMap;

use tica_domain::policy::Ratio;

use super::{Ctx, Sampling, UnitReport, denied, scope_of};
use crate::error::{Result, SamplingError};
use crate::model::*;
use crate::store::{self, RoundFilter};

/// Which rounds and units [`Sampling::unit_agreements`] reads.
#[derive(Clone, Debug, Default)]
pub struct AgreementFilter {
    /// Level (required).
    pub level: Option<Level>,
    /// Kind (online re-grading when None).
    pub kind: Option<Kind>,
    /// Only this batch id, when not empty.
    pub batch: String,
    /// Only this year, when not 0.
    pub year: i32,
    /// Only units drawn at least once.
    pub drawn_only: bool,
}

/// A unit's agreement across the rounds of its batch, oldest round first.
#[derive(Clone, Debug)]
pub struct UnitAgreement {
    /// `schools/{code}` or `jurisdictions/{code}`.
    pub unit: String,
    /// Batch id.
    pub batch: String,
    /// One report per round that has the unit, oldest first.
    pub rounds: Vec<UnitReport>,
    /// The pinned threshold.
    pub threshold: Ratio,
}

impl UnitAgreement {
    /// The last decided round's outcome (Undecided while none is).
    pub fn latest_outcome(&self) -> Outcome {
        self.rounds
            .iter()
            .rev()
            .map(|r| r.unit.outcome)
            .find(|o| *o != Outcome::Undecided)
            .unwrap_or(Outcome::Undecided)
    }

    /// Times the unit was sent back.
    pub fn sent_back(&self) -> usize {
        self.rounds
            .iter()
            .filter(|r| r.unit.outcome == Outcome::SentBack)
            .count()
    }

    /// (compared, agreeing) summed over the rounds.
    pub fn pooled(&self) -> (u64, u64) {
        self.rounds.iter().fold((0, 0), |(n, a), r| {
            (n + r.figures.n, a + r.figures.agreeing)
        })
    }

    /// Drawn in at least one round.
    pub fn drawn(&self) -> bool {
        self.rounds.iter().any(|r| r.unit.drawn)
    }
}

/// One page of [`Sampling::unit_agreements`].
#[derive(Clone, Debug)]
pub struct AgreementPage {
    /// Units by (unit, batch), after the key asked for, at most the limit.
    pub units: Vec<UnitAgreement>,
    /// Matching units in all pages.
    pub total: i64,
    /// (compared, agreeing) pooled over every matching unit.
    pub pooled: (u64, u64),
}

/// Rounds read per query while gathering.
const ROUNDS_PER_READ: i64 = 500;
/// Units read per query while gathering.
const UNITS_PER_READ: i64 = 1000;

impl Sampling {
    /// Agreement per unit over the rounds of `filter` within `parent` (default: the caller's
    /// jurisdiction), by (unit, batch) after `after`, at most `limit`. Offices only, over their
    /// own subtree (an audit's units are counties: a county office sees no other county's).
    pub async fn unit_agreements(
        &self,
        ctx: &Ctx,
        parent: Option<&str>,
        filter: &AgreementFilter,
        after: Option<&(String, String)>,
        limit: i64,
    ) -> Result<AgreementPage> {
        if !ctx.caller.role.is_office() {
            return Err(denied("only offices read agreement figures"));
        }
        let level = filter.level.ok_or_else(|| {
            SamplingError::invalid("level", "required: COUNTY_REVIEW or PROVINCE_AUDIT")
        })?;
        let scope = scope_of(ctx, parent, false)?;
        let round_filter = RoundFilter {
            batch: filter.batch.clone(),
            level: level.key().to_owned(),
            kind: filter.kind.unwrap_or(Kind::OnlineRegrade).key().to_owned(),
            state: String::new(),
        };
        let mut rounds = Vec::new();
        let mut cursor = None;
        loop {
            let (page, _) = store::rounds_in(
                &self.db,
                &scope,
                &round_filter,
                cursor.clone(),
                ROUNDS_PER_READ,
            )
            .await?;
            let full = page.len() as i64 == ROUNDS_PER_READ;
            cursor = page.last().map(|r| (r.create_micros, r.id.clone()));
            rounds.extend(page);
            if !full {
                break;
            }
        }
        // Only rounds inside the scope (not those on its path above it), drawn or later, of the
        // year asked; oldest first.
        rounds.retain(|r| {
            ctx.caller.covers(&r.path)
                && scope.contains(&r.path)
                && r.state != RoundState::Cancelled
                && (filter.year == 0 || r.year == filter.year)
        });
        rounds.sort_by(|a, b| (a.create_micros, &a.id).cmp(&(b.create_micros, &b.id)));

        let mut by_unit: BTreeMap<(String, String), UnitAgreement> = BTreeMap::new();
        for round in &rounds {
            let mut after_unit = String::new();
            loop {
                // The round's units with their reports, exactly as ListReviewUnits gives them.
                let (reports, _) = self
                    .units(ctx, &round.id, false, None, &after_unit, UNITS_PER_READ)
                    .await?;
                let full = reports.len() as i64 == UNITS_PER_READ;
                if let Some(last) = reports.last() {
                    after_unit = last.unit.id.clone();
                }
                for report in reports {
                    let key = (report.unit.unit.clone(), report.unit.batch.clone());
                    by_unit
                        .entry(key)
                        .or_insert_with(|| UnitAgreement {
                            unit: report.unit.unit.clone(),
                            batch: report.unit.batch.clone(),
                            rounds: Vec::new(),
                            threshold: report.plan.threshold,
                        })
                        .rounds
                        .push(report);
                }
                if !full {
                    break;
                }
            }
        }
        if filter.drawn_only {
            by_unit.retain(|_, u| u.drawn());
        }
        let total = by_unit.len() as i64;
        let pooled = by_unit.values().fold((0, 0), |(n, a), u| {
            let (un, ua) = u.pooled();
            (n + un, a + ua)
        });
        let units = by_unit
            .into_iter()
            .filter(|(key, _)| after.is_none_or(|a| key > a))
            .take(limit.max(0) as usize)
            .map(|(_, u)| u)
            .collect();
        Ok(AgreementPage {
            units,
            total,
            pooled,
        })
    }
}
