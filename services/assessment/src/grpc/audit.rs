//! The audit trail.

use super::*;

pub(super) async fn list_audit_events(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListAuditEventsRequest>,
) -> Reply<pb::ListAuditEventsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    if !c.caller.role.is_office() {
        return Err(AssessmentError::PermissionDenied(
            "only an education office reads the audit trail".into(),
        )
        .into());
    }
    let scope = if r.parent.is_empty() {
        c.caller.scope.clone()
    } else {
        grpc.unit_scope(&c, "parent", &r.parent).await?.0
    };
    if !c.caller.covers(&scope) {
        return Err(err(service::denied_for(&c)));
    }
    let (page, after) = page::<i64>(
        r.page_size,
        &r.page_token,
        format!("parent={};resource={}", r.parent, r.resource),
    )?;
    let rows = tica_storage::audit::list(
        grpc.svc.database(),
        &scope,
        &r.resource,
        after,
        page.limit(),
    )
    .await
    .map_err(|e| err(e.into()))?;
    let (rows, next_page_token) = page.finish(rows, |e| e.id);
    ok(pb::ListAuditEventsResponse {
        audit_events: rows.iter().map(tica_server::audit_to_proto).collect(),
        next_page_token,
    })
}
