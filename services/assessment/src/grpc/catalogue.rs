//! The micro-competency catalogue and the policy presets.

use super::*;

pub(super) async fn get_micro_competency(
    request: Request<pb::GetMicroCompetencyRequest>,
) -> Reply<pb::MicroCompetency> {
    ctx(&request)?;
    let code = convert::ids("name", &request.get_ref().name, &["microCompetencies"])?[0];
    let m = tica_domain::micro_competency::by_code(code).ok_or_else(|| {
        err(AssessmentError::NotFound(format!(
            "microCompetencies/{code}"
        )))
    })?;
    ok(convert::micro_competency(m))
}

pub(super) async fn list_micro_competencies(
    request: Request<pb::ListMicroCompetenciesRequest>,
) -> Reply<pb::ListMicroCompetenciesResponse> {
    ctx(&request)?;
    let r = request.into_inner();
    let (page, after) = page::<usize>(
        r.page_size,
        &r.page_token,
        format!("environment={}", r.environment),
    )?;
    let matching: Vec<(usize, &tica_domain::MicroCompetency)> = MICRO_COMPETENCIES
        .iter()
        .enumerate()
        .filter(|(_, m)| r.environment == 0 || convert::environment(m.environment) == r.environment)
        .collect();
    let total = matching.len() as i64;
    let rows: Vec<(usize, &tica_domain::MicroCompetency)> = matching
        .into_iter()
        .filter(|(i, _)| after.is_none_or(|a| *i > a))
        .take(page.limit() as usize)
        .collect();
    let (rows, next_page_token) = page.finish(rows, |(i, _)| *i);
    ok(pb::ListMicroCompetenciesResponse {
        micro_competencies: rows
            .into_iter()
            .map(|(_, m)| convert::micro_competency(m))
            .collect(),
        next_page_token,
        total_size: total,
    })
}

pub(super) async fn list_policy_presets(
    request: Request<pb::ListPolicyPresetsRequest>,
) -> Reply<pb::ListPolicyPresetsResponse> {
    ctx(&request)?;
    ok(pb::ListPolicyPresetsResponse {
        presets: Preset::ALL.into_iter().map(convert::preset_info).collect(),
    })
}
