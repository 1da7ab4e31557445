//! The stream of certified results the certificate service consumes.

use serde::{Deserialize, Serialize};

use super::{Assessment, Ctx, denied, require_covers};
use crate::error::Result;
use crate::model::{BatchRecord, CertifiedEventRecord};
use crate::store;

/// Everything a certificate needs about one certified (or withdrawn) result, stored with the
/// event so that the feed never changes after the fact.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CertifiedPayload {
    /// `batches/{id}`.
    pub batch: String,
    /// Year.
    pub year: i32,
    /// `teachers/{number}`.
    pub teacher: String,
    /// Name.
    pub teacher_display_name: String,
    /// Masked ID number.
    pub teacher_id_number_masked: String,
    /// `schools/{code}`.
    pub school: String,
    /// School name.
    pub school_display_name: String,
    /// `jurisdictions/{code}`.
    pub county: String,
    /// County name.
    pub county_display_name: String,
    /// "per_micro_competency" or "level".
    pub certificate_mode: String,
    /// Code (per-micro-competency certificates).
    #[serde(default)]
    pub micro_competency: String,
    /// Its name.
    #[serde(default)]
    pub micro_competency_display_name: String,
    /// Grade key.
    pub grade: String,
    /// Credits of the micro-competency.
    #[serde(default)]
    pub credits: i32,
    /// Counted hours.
    pub counted_centihours: i64,
    /// Issuer.
    pub issuing_authority: String,
    /// Issuer's jurisdiction.
    pub issuing_jurisdiction: String,
    /// Title.
    pub certificate_title: String,
    /// Policy versions.
    pub policy_versions: Vec<String>,
    /// Why withdrawn.
    #[serde(default)]
    pub withdraw_reason: String,
    /// The date the certificate prints, ISO `YYYY-MM-DD`: the batch's certificate date, else
    /// the day it was certified. Empty in events stored before it existed (the event's day).
    #[serde(default)]
    pub certificate_date: String,
}

impl Assessment {
    /// The batch and its events after `after`. Readers: services (the certificate service) and
    /// offices covering the county.
    pub async fn certified_events(
        &self,
        ctx: &Ctx,
        batch: &str,
        after: i64,
        limit: i64,
    ) -> Result<(BatchRecord, Vec<CertifiedEventRecord>)> {
        super::require_batch_scope(&ctx.caller, batch)?;
        if !ctx.caller.role.is_office() {
            return Err(denied(&ctx.caller));
        }
        let b = self.batch_or_404(&ctx.caller, batch).await?;
        require_covers(&ctx.caller, &b.path)?;
        let events = store::events_after(&self.db, batch, after, limit).await?;
        Ok((b, events))
    }
}
