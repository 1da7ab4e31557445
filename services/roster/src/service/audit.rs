//! Reading the audit trail.

use tica_auth::Caller;

use super::{PageSpec, Roster, parent_scope, require_office};
use crate::error::Result;
use crate::model::Unit;
use crate::store;
use tica_storage::audit::AuditEvent;

impl Roster {
    /// Events about resources inside a school or jurisdiction, newest first (offices only).
    pub async fn list_audit_events(
        &self,
        caller: &Caller,
        parent: Option<Unit>,
        resource: &str,
        page: PageSpec<i64>,
    ) -> Result<Vec<AuditEvent>> {
        require_office(caller, "read the audit trail")?;
        let scope = parent_scope(self, caller, parent.as_ref()).await?;
        Ok(store::audit::list(&self.db, &scope, resource, page.after, page.limit).await?)
    }
}
