//! Which roles may call which sampling method (enforced by the auth layer before any handler
//! runs; the logic then checks the round's place in the tree and finer rules).

use tica_auth::{MethodPolicy, Role};

const OFFICES: &[Role] = &[Role::CountyOffice, Role::CityOffice, Role::ProvinceOffice];
const REVIEW: &[Role] = &[
    Role::CountyOffice,
    Role::CityOffice,
    Role::ProvinceOffice,
    Role::Assessor,
];
const REVIEWERS: &[Role] = &[Role::Assessor];

/// The sampling service's access policy.
pub fn policy() -> MethodPolicy {
    MethodPolicy::new(crate::service::SERVICE_NAME)
        .allow("CreateReviewRound", OFFICES)
        .allow("GetReviewRound", REVIEW)
        .allow("ListReviewRounds", REVIEW)
        .allow("FreezePopulation", OFFICES)
        .allow("DrawSample", OFFICES)
        .allow("CancelReviewRound", OFFICES)
        .allow("CloseReviewRound", OFFICES)
        .allow("ListStrata", REVIEW)
        .allow("GetDrawnItem", REVIEW)
        .allow("ListDrawnItems", REVIEW)
        .allow("AssignReviewers", OFFICES)
        .allow("ReassignDrawnItem", OFFICES)
        .allow("GetRegrade", REVIEW)
        .allow("ListRegrades", REVIEW)
        .allow("SubmitRegrade", REVIEWERS)
        .allow("GetReviewUnit", REVIEW)
        .allow("ListReviewUnits", REVIEW)
        .allow("DecideReviewUnit", OFFICES)
        .allow("ListUnitAgreements", OFFICES)
        .allow("ExportReviewRound", OFFICES)
        .allow("ListAuditEvents", OFFICES)
}
