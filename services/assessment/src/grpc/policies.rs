//! Policies and their versions.

use super::*;

pub(super) async fn get_policy(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetPolicyRequest>,
) -> Reply<pb::Policy> {
    let c = ctx(&request)?;
    let code = convert::code_in("name", &request.get_ref().name, "policies")?;
    let p = grpc.svc.get_policy(&c, code).await?;
    let rules = grpc.svc.rules_of(&p)?;
    ok(convert::policy_to_proto(&p, &rules))
}

pub(super) async fn list_policies(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListPoliciesRequest>,
) -> Reply<pb::ListPoliciesResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let parent = if r.parent.is_empty() {
        None
    } else {
        Some(convert::code_in("parent", &r.parent, "jurisdictions")?)
    };
    let (page, after) = page::<String>(r.page_size, &r.page_token, format!("parent={}", r.parent))?;
    let rows = grpc
        .svc
        .list_policies(&c, parent, after.as_deref().unwrap_or(""), page.limit())
        .await?;
    let (rows, next_page_token) = page.finish(rows, |p| p.jurisdiction.to_string());
    let policies = rows
        .iter()
        .map(|p| Ok(convert::policy_to_proto(p, &grpc.svc.rules_of(p)?)))
        .collect::<Result<Vec<_>, AssessmentError>>()?;
    ok(pb::ListPoliciesResponse {
        policies,
        next_page_token,
    })
}

pub(super) async fn create_policy(
    grpc: &AssessmentGrpc,
    request: Request<pb::CreatePolicyRequest>,
) -> Reply<pb::Policy> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let policy = r
        .policy
        .ok_or_else(|| err(AssessmentError::invalid("policy", "required")))?;
    let code = convert::code_in("policy.name", &policy.name, "policies")?;
    let preset = if policy.preset == 0 {
        None
    } else {
        Some(
            pconv::preset_from_proto(policy.preset)
                .ok_or_else(|| err(AssessmentError::invalid("policy.preset", "unknown preset")))?,
        )
    };
    let own = match &policy.rules {
        Some(rules) => pconv::rules_from_proto(rules, "policy.rules")
            .map_err(|p| err(AssessmentError::Invalid(p)))?,
        None => d::PolicyRules::default(),
    };
    let p = grpc
        .svc
        .create_policy(&c, code, policy.display_name, preset, own, r.validate_only)
        .await?;
    let rules = grpc.svc.rules_of(&p)?;
    ok(convert::policy_to_proto(&p, &rules))
}

pub(super) async fn update_policy(
    grpc: &AssessmentGrpc,
    request: Request<pb::UpdatePolicyRequest>,
) -> Reply<pb::Policy> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let policy = r
        .policy
        .ok_or_else(|| err(AssessmentError::invalid("policy", "required")))?;
    let code = convert::code_in("policy.name", &policy.name, "policies")?;
    let mut allowed = vec!["display_name", "rules"];
    let section_paths: Vec<&'static str> = [
        "rules.hours",
        "rules.selection",
        "rules.evidence",
        "rules.grading",
        "rules.school_grade",
        "rules.county_grade",
        "rules.certificate",
        "rules.sampling",
        "rules.carry_over",
    ]
    .to_vec();
    allowed.extend(section_paths.iter().copied());
    let paths = mask_paths(r.update_mask.as_ref(), &allowed)?;
    let rules = match &policy.rules {
        Some(rules) => pconv::rules_from_proto(rules, "policy.rules")
            .map_err(|p| err(AssessmentError::Invalid(p)))?,
        None => d::PolicyRules::default(),
    };
    let mut change = PolicyChange {
        change_note: r.change_note,
        validate_only: r.validate_only,
        etag: (!policy.etag.is_empty()).then(|| policy.etag.clone()),
        ..Default::default()
    };
    for path in paths {
        match path {
            "display_name" => change.display_name = Some(policy.display_name.clone()),
            "rules" => {
                for s in d::PolicyRules::SECTIONS {
                    change.sections.push((s, rules.clone()));
                }
            }
            other => {
                let section = other.trim_start_matches("rules.");
                let s = d::PolicyRules::SECTIONS
                    .into_iter()
                    .find(|s| *s == section)
                    .expect("allowed");
                change.sections.push((s, rules.clone()));
            }
        }
    }
    if change.change_note.chars().count() > 500 {
        return Err(AssessmentError::invalid("change_note", "at most 500 characters").into());
    }
    let p = grpc.svc.update_policy(&c, code, change).await?;
    let rules = grpc.svc.rules_of(&p)?;
    ok(convert::policy_to_proto(&p, &rules))
}

pub(super) async fn get_policy_version(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetPolicyVersionRequest>,
) -> Reply<pb::PolicyVersion> {
    let c = ctx(&request)?;
    let v = convert::ids("name", &request.get_ref().name, &["policies", "versions"])?;
    let code = DivisionCode::parse(v[0])
        .map_err(|e| err(AssessmentError::invalid("name", e.to_string())))?;
    let n: i64 = v[1]
        .parse()
        .map_err(|_| err(AssessmentError::invalid("name", "the version is a number")))?;
    let version = grpc.svc.get_policy_version(&c, code, n).await?;
    ok(convert::version_to_proto(&version)?)
}

pub(super) async fn list_policy_versions(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListPolicyVersionsRequest>,
) -> Reply<pb::ListPolicyVersionsResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let code = convert::code_in("parent", &r.parent, "policies")?;
    let (page, after) = page::<i64>(r.page_size, &r.page_token, format!("parent={}", r.parent))?;
    let rows = grpc
        .svc
        .list_policy_versions(&c, code, after.unwrap_or(i64::MAX), page.limit())
        .await?;
    let (rows, next_page_token) = page.finish(rows, |v| v.version);
    ok(pb::ListPolicyVersionsResponse {
        policy_versions: rows
            .iter()
            .map(convert::version_to_proto)
            .collect::<Result<_, _>>()?,
        next_page_token,
    })
}

pub(super) async fn get_effective_policy(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetEffectivePolicyRequest>,
) -> Reply<pb::EffectivePolicy> {
    let c = ctx(&request)?;
    let code = convert::code_in(
        "jurisdiction",
        &request.get_ref().jurisdiction,
        "jurisdictions",
    )?;
    ok(convert::effective_to_proto(
        &grpc.svc.effective_policy(&c, code).await?,
    ))
}
