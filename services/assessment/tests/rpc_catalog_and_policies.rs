//! The catalogue (micro-competencies, presets) and policies, RPC by RPC, over real gRPC on
//! SQLite and PostgreSQL: each RPC's main success path and its most important refusals, and a
//! refused write leaves the stored policy as it was.
//!
//! The four presets are attached at start-up (Ningxia 640000, Anhui 340000, Sixian 341324,
//! Beijing 110000); 埇桥区 (341302, under 宿州市 in Anhui) has no policy of its own.

mod support;
#[path = "support/year.rs"]
mod year;

use prost_types::FieldMask;
use support::Suite;
use tica_auth::Role;
use tica_proto::tica::assessment::v1 as pb;
use tica_storage::Backend;
use tonic::Code;
use year::{refused, refused_on_field, stale, well_formed};

tica_testkit::backend_tests!(
    // GetMicroCompetency
    a_micro_competency_is_read_by_its_code_and_a_code_outside_the_thirty_is_not_found,
    // ListMicroCompetencies
    the_catalogue_lists_thirty_micro_competencies_pages_them_and_filters_by_environment,
    // ListPolicyPresets
    the_presets_list_carries_the_four_documents_with_their_rules,
    a_presets_default_jurisdiction_is_the_jurisdiction_name_it_is_attached_to,
    // Every RPC: "anyone authenticated" at least
    a_token_signed_by_an_unknown_key_is_unauthenticated_and_writes_nothing,
    // GetPolicy
    a_county_reads_its_own_and_its_provinces_policy_but_not_another_provinces,
    // ListPolicies
    a_province_lists_the_policies_of_its_subtree_and_a_county_cannot_list_another_province,
    // CreatePolicy
    a_county_office_attaches_a_policy_from_a_preset_as_version_one,
    a_policy_is_refused_to_a_teacher_outside_the_jurisdiction_twice_and_with_a_bad_name,
    // UpdatePolicy
    a_change_with_a_note_makes_a_new_version_and_the_old_one_stays,
    a_change_without_a_note_or_mask_or_in_another_county_leaves_the_policy_as_it_was,
    two_offices_that_read_one_policy_cannot_overwrite_each_other,
    racing_policy_updates_with_one_etag_let_exactly_one_win,
    a_policy_carries_its_etag_in_every_answer_and_validate_only_checks_it,
    // GetPolicyVersion
    a_policy_version_is_read_by_number_and_a_missing_or_malformed_one_is_refused,
    // ListPolicyVersions
    versions_are_listed_newest_first_in_pages_and_only_within_scope,
    // GetEffectivePolicy
    the_effective_policy_names_the_version_that_supplied_each_section,
    the_effective_policy_is_refused_outside_scope_and_for_a_school_name,
);

const SIXIAN: &str = "341324";
const YONGQIAO: &str = "341302";

fn office(suite: &Suite, role: Role, code: &str) -> support::AssessmentClient {
    suite.assessment(&format!("office-{code}"), role, code, None)
}

/// Everyone picks at least one code worth `credits` in all.
fn selection(credits: i32) -> pb::SelectionRule {
    pb::SelectionRule {
        cases: vec![pb::SelectionCase {
            id: "all".into(),
            display_name: "全体教师".into(),
            requirement: Some(pb::SelectionRequirement {
                min_count: 1,
                min_credits: credits,
                ..Default::default()
            }),
            source: "测试".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn min_credits(rules: Option<&pb::PolicyRules>) -> i32 {
    rules.unwrap().selection.as_ref().unwrap().cases[0]
        .requirement
        .as_ref()
        .unwrap()
        .min_credits
}

async fn get_policy(
    client: &mut support::AssessmentClient,
    code: &str,
) -> Result<pb::Policy, tonic::Status> {
    client
        .get_policy(pb::GetPolicyRequest {
            name: format!("policies/{code}"),
        })
        .await
        .map(|r| r.into_inner())
}

fn create_request(code: &str, display_name: &str) -> pb::CreatePolicyRequest {
    pb::CreatePolicyRequest {
        policy: Some(pb::Policy {
            name: format!("policies/{code}"),
            display_name: display_name.into(),
            preset: pb::PolicyPreset::Anhui as i32,
            ..Default::default()
        }),
        validate_only: false,
    }
}

fn selection_change(code: &str, credits: i32, note: &str) -> pb::UpdatePolicyRequest {
    pb::UpdatePolicyRequest {
        policy: Some(pb::Policy {
            name: format!("policies/{code}"),
            rules: Some(pb::PolicyRules {
                selection: Some(selection(credits)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["rules.selection".into()],
        }),
        change_note: note.into(),
        validate_only: false,
    }
}

async fn effective_at_yongqiao(county: &mut support::AssessmentClient) -> pb::EffectivePolicy {
    county
        .get_effective_policy(pb::GetEffectivePolicyRequest {
            jurisdiction: format!("jurisdictions/{YONGQIAO}"),
        })
        .await
        .unwrap()
        .into_inner()
}

// ---------------------------------------------------------------------------------------------
// GetMicroCompetency

async fn a_micro_competency_is_read_by_its_code_and_a_code_outside_the_thirty_is_not_found(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut teacher = suite.assessment("t", Role::Teacher, SIXIAN, Some("3413240001"));
    let b2 = teacher
        .get_micro_competency(pb::GetMicroCompetencyRequest {
            name: "microCompetencies/B2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    // 《安徽指导意见》§四(一): B2 微课程设计与制作, 教学设计, 混合学习环境, 5 学分.
    assert_eq!(b2.name, "microCompetencies/B2");
    assert_eq!(b2.display_name, "微课程设计与制作");
    assert_eq!(b2.dimension, pb::Dimension::InstructionalDesign as i32);
    assert_eq!(b2.environment, pb::Environment::Blended as i32);
    assert_eq!(b2.credits, 5);
    refused(
        teacher
            .get_micro_competency(pb::GetMicroCompetencyRequest {
                name: "microCompetencies/D1".into(),
            })
            .await,
        Code::NotFound,
    );
    refused_on_field(
        teacher
            .get_micro_competency(pb::GetMicroCompetencyRequest {
                name: "competencies/B2".into(),
            })
            .await,
        "name",
    );
}

// ---------------------------------------------------------------------------------------------
// ListMicroCompetencies

async fn the_catalogue_lists_thirty_micro_competencies_pages_them_and_filters_by_environment(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut teacher = suite.assessment("t", Role::Teacher, SIXIAN, Some("3413240001"));
    let mut codes = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = teacher
            .list_micro_competencies(pb::ListMicroCompetenciesRequest {
                page_size: 12,
                page_token: token.clone(),
                environment: 0,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total_size, 30);
        codes.extend(page.micro_competencies.into_iter().map(|m| m.code));
        pages += 1;
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3, "30 codes in pages of 12");
    assert_eq!(codes.len(), 30);
    assert_eq!((codes[0].as_str(), codes[29].as_str()), ("A1", "C7"));
    let smart = teacher
        .list_micro_competencies(pb::ListMicroCompetenciesRequest {
            environment: pb::Environment::Smart as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // 智慧学习环境: C1–C7.
    let smart: Vec<String> = smart
        .micro_competencies
        .into_iter()
        .map(|m| m.code)
        .collect();
    assert_eq!(smart, ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]);
    // A page token belongs to the filter it was issued for.
    let first = teacher
        .list_micro_competencies(pb::ListMicroCompetenciesRequest {
            page_size: 5,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    refused_on_field(
        teacher
            .list_micro_competencies(pb::ListMicroCompetenciesRequest {
                page_size: 5,
                page_token: first.next_page_token,
                environment: pb::Environment::Smart as i32,
            })
            .await,
        "page_token",
    );
}

// ---------------------------------------------------------------------------------------------
// ListPolicyPresets

async fn the_presets_list_carries_the_four_documents_with_their_rules(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut teacher = suite.assessment("t", Role::Teacher, SIXIAN, Some("3413240001"));
    let presets = teacher
        .list_policy_presets(pb::ListPolicyPresetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .presets;
    let kinds: Vec<i32> = presets.iter().map(|p| p.preset).collect();
    assert_eq!(
        kinds,
        [
            pb::PolicyPreset::Ningxia as i32,
            pb::PolicyPreset::Anhui as i32,
            pb::PolicyPreset::Sixian as i32,
            pb::PolicyPreset::Beijing as i32,
        ]
    );
    let sixian = &presets[2];
    assert!(!sixian.source.is_empty(), "a preset names its document");
    // 《泗县实施意见》一: 合计不少于 20 学分.
    assert_eq!(min_credits(sixian.rules.as_ref()), 20);
}

async fn a_token_signed_by_an_unknown_key_is_unauthenticated_and_writes_nothing(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let forged = tica_auth::TokenSigner::new(&tica_auth::KeyPair::generate())
        .mint(
            "office-340000",
            Role::ProvinceOffice,
            tica_domain::division::DivisionCode::parse("340000").unwrap(),
            None,
            std::time::Duration::from_secs(600),
        )
        .unwrap();
    let channel = tonic::transport::Channel::from_shared(suite.assessment_server.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut stranger = tica_client::assessment(channel, &forged);
    refused(
        stranger
            .list_policy_presets(pb::ListPolicyPresetsRequest::default())
            .await,
        Code::Unauthenticated,
    );
    refused(
        stranger
            .create_policy(create_request(YONGQIAO, "伪造的规则"))
            .await,
        Code::Unauthenticated,
    );
    let mut city = office(&suite, Role::CityOffice, "341300");
    refused(get_policy(&mut city, YONGQIAO).await, Code::NotFound);
}

/// The proto: `jurisdictions/{code}` it is attached to at start-up (640000, 340000, 341324,
/// 110000) — the name GetPolicy answers as the policy's jurisdiction.
async fn a_presets_default_jurisdiction_is_the_jurisdiction_name_it_is_attached_to(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let presets = county
        .list_policy_presets(pb::ListPolicyPresetsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .presets;
    let sixian = presets
        .iter()
        .find(|p| p.preset == pb::PolicyPreset::Sixian as i32)
        .unwrap();
    let attached = get_policy(&mut county, SIXIAN).await.unwrap();
    assert_eq!(sixian.default_jurisdiction, attached.jurisdiction);
    assert_eq!(sixian.default_jurisdiction, "jurisdictions/341324");
}

// ---------------------------------------------------------------------------------------------
// GetPolicy

async fn a_county_reads_its_own_and_its_provinces_policy_but_not_another_provinces(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let own = get_policy(&mut county, SIXIAN).await.unwrap();
    assert_eq!(own.name, "policies/341324");
    assert_eq!(own.jurisdiction, "jurisdictions/341324");
    assert_eq!(own.preset, pb::PolicyPreset::Sixian as i32);
    assert_eq!(own.version, 1);
    // A county office reads its province's policy (it is inherited there).
    let province = get_policy(&mut county, "340000").await.unwrap();
    assert_eq!(province.preset, pb::PolicyPreset::Anhui as i32);
    refused(
        get_policy(&mut county, "640000").await,
        Code::PermissionDenied,
    );
    // A policy that was never attached, asked for by an office that covers it.
    let mut city = office(&suite, Role::CityOffice, "341300");
    refused(get_policy(&mut city, YONGQIAO).await, Code::NotFound);
    refused_on_field(
        county
            .get_policy(pb::GetPolicyRequest {
                name: "jurisdictions/341324".into(),
            })
            .await,
        "name",
    );
}

// ---------------------------------------------------------------------------------------------
// ListPolicies

async fn a_province_lists_the_policies_of_its_subtree_and_a_county_cannot_list_another_province(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut province = office(&suite, Role::ProvinceOffice, "340000");
    let listed = province
        .list_policies(pb::ListPoliciesRequest::default())
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = listed.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["policies/340000", "policies/341324"],
        "not 640000 or 110000"
    );
    let page = province
        .list_policies(pb::ListPoliciesRequest {
            parent: "jurisdictions/340000".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.policies.len(), 1);
    assert!(!page.next_page_token.is_empty());
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    refused(
        county
            .list_policies(pb::ListPoliciesRequest {
                parent: "jurisdictions/640000".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        county
            .list_policies(pb::ListPoliciesRequest {
                parent: "schools/3413240001".into(),
                ..Default::default()
            })
            .await,
        "parent",
    );
}

// ---------------------------------------------------------------------------------------------
// CreatePolicy

async fn a_county_office_attaches_a_policy_from_a_preset_as_version_one(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, YONGQIAO);
    // validate_only answers as the policy would be and stores nothing.
    let mut check = create_request(YONGQIAO, "埇桥区测评规则");
    check.validate_only = true;
    let checked = county.create_policy(check).await.unwrap().into_inner();
    assert_eq!(checked.version, 1);
    refused(get_policy(&mut county, YONGQIAO).await, Code::NotFound);
    let created = county
        .create_policy(create_request(YONGQIAO, "埇桥区测评规则"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(created.name, "policies/341302");
    assert_eq!(created.version, 1);
    assert_eq!(created.preset, pb::PolicyPreset::Anhui as i32);
    // From the Anhui preset: ≥ 20 credits (《安徽指导意见》§二(四)2).
    assert_eq!(min_credits(created.rules.as_ref()), 20);
    let stored = get_policy(&mut county, YONGQIAO).await.unwrap();
    assert_eq!(stored.display_name, "埇桥区测评规则");
    // At most one policy per jurisdiction.
    refused(
        county
            .create_policy(create_request(YONGQIAO, "第二份"))
            .await,
        Code::AlreadyExists,
    );
    assert_eq!(get_policy(&mut county, YONGQIAO).await.unwrap(), stored);
}

async fn a_policy_is_refused_to_a_teacher_outside_the_jurisdiction_twice_and_with_a_bad_name(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut teacher = suite.assessment("t", Role::Teacher, YONGQIAO, Some("3413020001"));
    refused(
        teacher
            .create_policy(create_request(YONGQIAO, "教师自定规则"))
            .await,
        Code::PermissionDenied,
    );
    // A county office may not attach a policy to its neighbour.
    let mut neighbour = office(&suite, Role::CountyOffice, "341323");
    refused(
        neighbour
            .create_policy(create_request(YONGQIAO, "灵璧县替埇桥区定的规则"))
            .await,
        Code::PermissionDenied,
    );
    let mut county = office(&suite, Role::CountyOffice, YONGQIAO);
    refused_on_field(
        county.create_policy(create_request(YONGQIAO, "  ")).await,
        "policy.display_name",
    );
    refused_on_field(
        county
            .create_policy(pb::CreatePolicyRequest {
                policy: None,
                validate_only: false,
            })
            .await,
        "policy",
    );
    // Nothing refused was stored.
    refused(get_policy(&mut county, YONGQIAO).await, Code::NotFound);
}

// ---------------------------------------------------------------------------------------------
// UpdatePolicy

async fn a_change_with_a_note_makes_a_new_version_and_the_old_one_stays(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let updated = county
        .update_policy(selection_change(SIXIAN, 24, "县里提高学分要求"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.version, 2);
    assert_eq!(min_credits(updated.rules.as_ref()), 24);
    // The rest stays as the preset set it: 60 hours (《泗县实施意见》一).
    let hours = updated.rules.as_ref().unwrap().hours.as_ref().unwrap();
    assert_eq!(hours.total_minimum_centihours, 6000);
    let first = county
        .get_policy_version(pb::GetPolicyVersionRequest {
            name: "policies/341324/versions/1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        min_credits(first.rules.as_ref()),
        20,
        "a version is immutable"
    );
    // Renaming only changes no rules and makes no version.
    let renamed = county
        .update_policy(pb::UpdatePolicyRequest {
            policy: Some(pb::Policy {
                name: "policies/341324".into(),
                display_name: "泗县测评规则 (2026)".into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: vec!["display_name".into()],
            }),
            change_note: String::new(),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.version, 2);
    assert_eq!(renamed.display_name, "泗县测评规则 (2026)");
}

async fn a_change_without_a_note_or_mask_or_in_another_county_leaves_the_policy_as_it_was(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let before = get_policy(&mut county, SIXIAN).await.unwrap();
    // The note is recorded with the version, so a change of rules needs one.
    refused_on_field(
        county
            .update_policy(selection_change(SIXIAN, 24, "  "))
            .await,
        "change_note",
    );
    let mut no_mask = selection_change(SIXIAN, 24, "提高学分");
    no_mask.update_mask = None;
    refused_on_field(county.update_policy(no_mask).await, "update_mask");
    let mut unknown = selection_change(SIXIAN, 24, "提高学分");
    unknown.update_mask = Some(FieldMask {
        paths: vec!["version".into()],
    });
    refused_on_field(county.update_policy(unknown).await, "update_mask");
    let mut neighbour = office(&suite, Role::CountyOffice, "341323");
    refused(
        neighbour
            .update_policy(selection_change(SIXIAN, 1, "灵璧县改泗县"))
            .await,
        Code::PermissionDenied,
    );
    let mut teacher = suite.assessment("t", Role::Teacher, SIXIAN, Some("3413240001"));
    refused(
        teacher
            .update_policy(selection_change(SIXIAN, 1, "教师自改"))
            .await,
        Code::PermissionDenied,
    );
    let mut check = selection_change(SIXIAN, 24, "先试一下");
    check.validate_only = true;
    assert_eq!(
        county
            .update_policy(check)
            .await
            .unwrap()
            .into_inner()
            .version,
        1,
        "validate_only makes no version"
    );
    assert_eq!(get_policy(&mut county, SIXIAN).await.unwrap(), before);
    // A policy never attached cannot be changed.
    let mut city = office(&suite, Role::CityOffice, "341300");
    refused(
        city.update_policy(selection_change(YONGQIAO, 24, "提高学分"))
            .await,
        Code::NotFound,
    );
}

/// `selection_change`, made on the policy as read with `etag`.
fn selection_change_on(
    code: &str,
    credits: i32,
    note: &str,
    etag: &str,
) -> pb::UpdatePolicyRequest {
    let mut change = selection_change(code, credits, note);
    change.policy.as_mut().unwrap().etag = etag.into();
    change
}

async fn two_offices_that_read_one_policy_cannot_overwrite_each_other(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let mut province = office(&suite, Role::ProvinceOffice, "340000");
    // Both offices read Sixian's policy, with the same etag.
    let read_by_county = get_policy(&mut county, SIXIAN).await.unwrap();
    let read_by_province = get_policy(&mut province, SIXIAN).await.unwrap();
    well_formed(&read_by_county.etag);
    assert_eq!(read_by_county.etag, read_by_province.etag);
    // The county's change goes first: it makes version 2 and a new etag.
    let first = county
        .update_policy(selection_change_on(
            SIXIAN,
            24,
            "县里提高学分要求",
            &read_by_county.etag,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.version, 2);
    assert_ne!(first.etag, read_by_county.etag);
    assert_eq!(
        get_policy(&mut county, SIXIAN).await.unwrap().etag,
        first.etag,
        "Get answers the etag Update returned"
    );
    // The province's, made on version 1, is refused and writes nothing: no version 3.
    let status = stale(
        province
            .update_policy(selection_change_on(
                SIXIAN,
                22,
                "省里调整",
                &read_by_province.etag,
            ))
            .await,
    );
    assert!(
        status.message().contains("policies/341324"),
        "{}",
        status.message()
    );
    let stored = get_policy(&mut province, SIXIAN).await.unwrap();
    assert_eq!(stored, first, "the first writer's");
    assert_eq!(min_credits(stored.rules.as_ref()), 24);
    refused(
        province
            .get_policy_version(pb::GetPolicyVersionRequest {
                name: "policies/341324/versions/3".into(),
            })
            .await,
        Code::NotFound,
    );
    // Re-read, the province's change lands; without an etag, a change is unconditional.
    let second = province
        .update_policy(selection_change_on(SIXIAN, 22, "省里调整", &stored.etag))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.version, 3);
    let unconditional = county
        .update_policy(selection_change(SIXIAN, 26, "县里再提高"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unconditional.version, 4);
    assert_ne!(unconditional.etag, second.etag);
    assert_eq!(
        get_policy(&mut county, SIXIAN).await.unwrap(),
        unconditional
    );
}

async fn racing_policy_updates_with_one_etag_let_exactly_one_win(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let read = get_policy(&mut office(&suite, Role::CountyOffice, SIXIAN), SIXIAN)
        .await
        .unwrap();
    let racers: Vec<_> = (0..4)
        .map(|i| {
            let mut client = if i % 2 == 0 {
                office(&suite, Role::CountyOffice, SIXIAN)
            } else {
                office(&suite, Role::ProvinceOffice, "340000")
            };
            let change = selection_change_on(SIXIAN, 21 + i, "同时修改", &read.etag);
            tokio::spawn(async move { client.update_policy(change).await })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Ok(policy) => winners.push(policy.into_inner()),
            Err(status) => {
                stale::<()>(Err(status));
            }
        }
    }
    assert_eq!(winners.len(), 1, "one etag, one write");
    assert_eq!(winners[0].version, 2, "one new version");
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    assert_eq!(get_policy(&mut county, SIXIAN).await.unwrap(), winners[0]);
}

async fn a_policy_carries_its_etag_in_every_answer_and_validate_only_checks_it(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, YONGQIAO);
    let created = county
        .create_policy(create_request(YONGQIAO, "埇桥区测评规则"))
        .await
        .unwrap()
        .into_inner();
    well_formed(&created.etag);
    let read = get_policy(&mut county, YONGQIAO).await.unwrap();
    assert_eq!(read.etag, created.etag);
    let listed = office(&suite, Role::ProvinceOffice, "340000")
        .list_policies(pb::ListPoliciesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .policies;
    assert!(listed.iter().all(|p| p.etag.starts_with("W/")));
    assert_eq!(
        listed
            .iter()
            .find(|p| p.name == created.name)
            .map(|p| &p.etag),
        Some(&created.etag)
    );
    // A rename makes no version, but it is a write: the etag changes.
    let rename = |etag: &str| pb::UpdatePolicyRequest {
        policy: Some(pb::Policy {
            name: created.name.clone(),
            display_name: "埇桥区测评规则 (2026)".into(),
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["display_name".into()],
        }),
        change_note: String::new(),
        validate_only: false,
    };
    let renamed = county
        .update_policy(rename(&created.etag))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.version, 1);
    assert_ne!(renamed.etag, created.etag);
    // validate_only checks the etag too, and answers the current one (nothing is stored).
    let mut check = selection_change_on(YONGQIAO, 24, "先试一下", &created.etag);
    check.validate_only = true;
    stale(county.update_policy(check.clone()).await);
    check.policy.as_mut().unwrap().etag = renamed.etag.clone();
    let checked = county.update_policy(check).await.unwrap().into_inner();
    assert_eq!(checked.etag, renamed.etag);
    stale(county.update_policy(rename(&created.etag)).await);
    assert_eq!(get_policy(&mut county, YONGQIAO).await.unwrap(), renamed);
}

// ---------------------------------------------------------------------------------------------
// GetPolicyVersion

async fn a_policy_version_is_read_by_number_and_a_missing_or_malformed_one_is_refused(
    backend: Backend,
) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let version = |name: &str| pb::GetPolicyVersionRequest { name: name.into() };
    let first = county
        .get_policy_version(version("policies/341324/versions/1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.name, "policies/341324/versions/1");
    assert_eq!(first.version, 1);
    assert_eq!(first.change_note, "preset loaded at start-up");
    refused(
        county
            .get_policy_version(version("policies/341324/versions/9"))
            .await,
        Code::NotFound,
    );
    refused_on_field(
        county
            .get_policy_version(version("policies/341324/versions/first"))
            .await,
        "name",
    );
    refused(
        county
            .get_policy_version(version("policies/640000/versions/1"))
            .await,
        Code::PermissionDenied,
    );
}

// ---------------------------------------------------------------------------------------------
// ListPolicyVersions

async fn versions_are_listed_newest_first_in_pages_and_only_within_scope(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    for (credits, note) in [(22, "第一次调整"), (24, "第二次调整")] {
        county
            .update_policy(selection_change(SIXIAN, credits, note))
            .await
            .unwrap();
    }
    let page = county
        .list_policy_versions(pb::ListPolicyVersionsRequest {
            parent: "policies/341324".into(),
            page_size: 2,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let numbers: Vec<i32> = page.policy_versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [3, 2], "newest first");
    assert_eq!(page.policy_versions[0].change_note, "第二次调整");
    let rest = county
        .list_policy_versions(pb::ListPolicyVersionsRequest {
            parent: "policies/341324".into(),
            page_size: 2,
            page_token: page.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    let numbers: Vec<i32> = rest.policy_versions.iter().map(|v| v.version).collect();
    assert_eq!(numbers, [1]);
    assert!(rest.next_page_token.is_empty());
    refused(
        county
            .list_policy_versions(pb::ListPolicyVersionsRequest {
                parent: "policies/640000".into(),
                ..Default::default()
            })
            .await,
        Code::PermissionDenied,
    );
}

// ---------------------------------------------------------------------------------------------
// GetEffectivePolicy

async fn the_effective_policy_names_the_version_that_supplied_each_section(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, YONGQIAO);
    let source = |e: &pb::EffectivePolicy, section: pb::PolicySection| {
        e.sources
            .iter()
            .find(|s| s.section == section as i32)
            .map(|s| s.policy_version.clone())
            .unwrap_or_default()
    };
    let inherited = effective_at_yongqiao(&mut county).await;
    assert_eq!(inherited.policy_versions, ["policies/340000/versions/1"]);
    assert_eq!(
        source(&inherited, pb::PolicySection::Selection),
        "policies/340000/versions/1"
    );
    county
        .create_policy(pb::CreatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{YONGQIAO}"),
                display_name: "埇桥区测评规则".into(),
                rules: Some(pb::PolicyRules {
                    selection: Some(selection(25)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            validate_only: false,
        })
        .await
        .unwrap();
    let own = effective_at_yongqiao(&mut county).await;
    assert_eq!(
        own.policy_versions,
        ["policies/341302/versions/1", "policies/340000/versions/1"],
        "nearest first"
    );
    assert_eq!(
        source(&own, pb::PolicySection::Selection),
        "policies/341302/versions/1"
    );
    assert_eq!(
        source(&own, pb::PolicySection::Hours),
        "policies/340000/versions/1",
        "what the county does not set, it inherits"
    );
    assert_eq!(min_credits(own.rules.as_ref()), 25);
}

async fn the_effective_policy_is_refused_outside_scope_and_for_a_school_name(backend: Backend) {
    let Some(suite) = Suite::start(backend).await else {
        return;
    };
    let mut county = office(&suite, Role::CountyOffice, SIXIAN);
    let at = |j: &str| pb::GetEffectivePolicyRequest {
        jurisdiction: j.into(),
    };
    refused(
        county
            .get_effective_policy(at("jurisdictions/640121"))
            .await,
        Code::PermissionDenied,
    );
    refused_on_field(
        county.get_effective_policy(at("schools/3413240001")).await,
        "jurisdiction",
    );
}
