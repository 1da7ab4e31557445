//! The rules a batch pinned when it was created.

use tica_domain::policy::PolicyRules;

use crate::error::{AssessmentError, Result};
use crate::model::BatchRecord;

/// Decodes a batch's pinned rules.
pub(crate) fn batch_rules(batch: &BatchRecord) -> Result<PolicyRules> {
    serde_json::from_str(&batch.rules_json).map_err(|_| {
        AssessmentError::Internal(format!("stored rules of batches/{} do not parse", batch.id))
    })
}
