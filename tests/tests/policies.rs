//! Policies as data, over the suite's gRPC API: a county overrides one section of its province's
//! preset, the rest is inherited; a change makes a version; a batch keeps the version in force
//! when it opened; bad rules are refused field by field and store nothing.

use prost_types::FieldMask;
use tica_auth::Role;
use tica_e2e::{AssessmentClient, Cluster};
use tica_proto::tica::assessment::v1 as pb;
use tica_server::errors::field_violations;
use tica_storage::Backend;
use tonic::Code;

tica_testkit::backend_tests!(
    a_county_overrides_one_section_and_inherits_the_rest_of_its_provinces_preset,
    a_change_makes_a_version_and_an_open_batch_keeps_the_version_it_opened_with,
    bad_rules_are_refused_field_by_field_and_store_nothing,
    a_county_office_may_not_write_another_jurisdictions_policy,
);

const COUNTY: &str = "341302"; // 埇桥区, under 宿州市 in Anhui: no preset of its own.

async fn suite(backend: Backend) -> Option<(Cluster, AssessmentClient)> {
    let cluster = Cluster::start(backend).await?;
    cluster
        .register_jurisdictions(&[
            ("340000", "安徽省", ""),
            ("341300", "宿州市", "340000"),
            (COUNTY, "埇桥区", "341300"),
            ("341323", "灵璧县", "341300"),
        ])
        .await;
    let county = cluster.assessment("county", Role::CountyOffice, COUNTY, None);
    Some((cluster, county))
}

/// A selection rule: everyone picks at least one code worth `credits` in all.
fn selection(credits: i32) -> pb::SelectionRule {
    pb::SelectionRule {
        cases: vec![pb::SelectionCase {
            id: "yongqiao.all".into(),
            display_name: "全体教师".into(),
            requirement: Some(pb::SelectionRequirement {
                min_count: 1,
                min_credits: credits,
                ..Default::default()
            }),
            source: "埇桥区 2026 实施方案".into(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

async fn create(county: &mut AssessmentClient, credits: i32) -> pb::Policy {
    county
        .create_policy(pb::CreatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{COUNTY}"),
                display_name: "埇桥区测评规则".into(),
                rules: Some(pb::PolicyRules {
                    selection: Some(selection(credits)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner()
}

async fn effective(county: &mut AssessmentClient) -> pb::EffectivePolicy {
    county
        .get_effective_policy(pb::GetEffectivePolicyRequest {
            jurisdiction: format!("jurisdictions/{COUNTY}"),
        })
        .await
        .unwrap()
        .into_inner()
}

fn min_credits(rules: &pb::PolicyRules) -> i32 {
    rules.selection.as_ref().unwrap().cases[0]
        .requirement
        .as_ref()
        .unwrap()
        .min_credits
}

fn source_of(policy: &pb::EffectivePolicy, section: pb::PolicySection) -> String {
    policy
        .sources
        .iter()
        .find(|s| s.section == section as i32)
        .map(|s| s.policy_version.clone())
        .unwrap_or_default()
}

async fn a_county_overrides_one_section_and_inherits_the_rest_of_its_provinces_preset(
    backend: Backend,
) {
    let Some((cluster, mut county)) = suite(backend).await else {
        return;
    };
    // Before: the Anhui preset, inherited whole.
    let before = effective(&mut county).await;
    assert_eq!(min_credits(before.rules.as_ref().unwrap()), 20);
    let created = create(&mut county, 24).await;
    assert_eq!(created.version, 1);
    let after = effective(&mut county).await;
    let rules = after.rules.as_ref().unwrap();
    assert_eq!(min_credits(rules), 24, "the county's own section");
    assert_eq!(
        rules.hours.as_ref().unwrap().total_minimum_centihours,
        6000,
        "Anhui's 30 + 30 hours, inherited"
    );
    assert_eq!(
        source_of(&after, pb::PolicySection::Selection),
        format!("policies/{COUNTY}/versions/1")
    );
    assert!(
        source_of(&after, pb::PolicySection::Hours).starts_with("policies/340000/versions/"),
        "{:?}",
        after.sources
    );
    // A neighbouring county is untouched.
    let neighbour = cluster
        .assessment("other", Role::CountyOffice, "341323", None)
        .get_effective_policy(pb::GetEffectivePolicyRequest {
            jurisdiction: "jurisdictions/341323".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(min_credits(neighbour.rules.as_ref().unwrap()), 20);
    cluster.stop().await;
}

async fn a_change_makes_a_version_and_an_open_batch_keeps_the_version_it_opened_with(
    backend: Backend,
) {
    let Some((cluster, mut county)) = suite(backend).await else {
        return;
    };
    create(&mut county, 24).await;
    let batch = county
        .create_batch(pb::CreateBatchRequest {
            batch: Some(pb::Batch {
                county: format!("jurisdictions/{COUNTY}"),
                year: 2026,
                display_name: "埇桥区 2026".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let opened = county
        .open_batch(pb::OpenBatchRequest {
            name: batch.name.clone(),
            open_date: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        opened
            .policy_versions
            .contains(&format!("policies/{COUNTY}/versions/1")),
        "{:?}",
        opened.policy_versions
    );
    let update = |note: &str| pb::UpdatePolicyRequest {
        policy: Some(pb::Policy {
            name: format!("policies/{COUNTY}"),
            rules: Some(pb::PolicyRules {
                selection: Some(selection(26)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["rules.selection".into()],
        }),
        change_note: note.into(),
        validate_only: false,
    };
    let unexplained = county.update_policy(update("")).await.unwrap_err();
    assert_eq!(unexplained.code(), Code::InvalidArgument);
    assert!(
        field_violations(&unexplained)
            .iter()
            .any(|(field, _)| field == "change_note"),
        "{unexplained:?}"
    );
    let updated = county
        .update_policy(update("县教育局 2026-05 会议决定提高学分"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.version, 2);
    let versions = county
        .list_policy_versions(pb::ListPolicyVersionsRequest {
            parent: format!("policies/{COUNTY}"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .policy_versions;
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2, 1],
        "newest first"
    );
    assert_eq!(versions[0].change_note, "县教育局 2026-05 会议决定提高学分");
    assert_eq!(min_credits(versions[1].rules.as_ref().unwrap()), 24);
    // New batches would use version 2; the open batch still judges by version 1.
    assert_eq!(
        min_credits(effective(&mut county).await.rules.as_ref().unwrap()),
        26
    );
    let still = county
        .get_batch(pb::GetBatchRequest {
            name: batch.name.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(min_credits(still.effective_rules.as_ref().unwrap()), 24);
    assert_eq!(still.policy_versions, opened.policy_versions);
    cluster.stop().await;
}

async fn bad_rules_are_refused_field_by_field_and_store_nothing(backend: Backend) {
    let Some((cluster, mut county)) = suite(backend).await else {
        return;
    };
    let mut rule = selection(20);
    let requirement = rule.cases[0].requirement.as_mut().unwrap();
    requirement.min_count = 3;
    requirement.max_count = 2;
    requirement.allowed_codes = vec!["A1".into(), "Z9".into()];
    let refused = county
        .create_policy(pb::CreatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{COUNTY}"),
                display_name: "埇桥区测评规则".into(),
                rules: Some(pb::PolicyRules {
                    selection: Some(rule),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            validate_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&refused)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert!(
        fields.iter().any(|f| f.ends_with("max_count")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.contains("allowed_codes")),
        "{fields:?}"
    );
    let missing = county
        .get_policy(pb::GetPolicyRequest {
            name: format!("policies/{COUNTY}"),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "nothing was stored");
    // validate_only answers what would be stored, and stores nothing either.
    let preview = county
        .create_policy(pb::CreatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{COUNTY}"),
                display_name: "埇桥区测评规则".into(),
                rules: Some(pb::PolicyRules {
                    selection: Some(selection(22)),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            validate_only: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(min_credits(preview.rules.as_ref().unwrap()), 22);
    let still_missing = county
        .get_policy(pb::GetPolicyRequest {
            name: format!("policies/{COUNTY}"),
        })
        .await
        .unwrap_err();
    assert_eq!(still_missing.code(), Code::NotFound);
    cluster.stop().await;
}

async fn a_county_office_may_not_write_another_jurisdictions_policy(backend: Backend) {
    let Some((cluster, mut county)) = suite(backend).await else {
        return;
    };
    for target in ["341323", "340000"] {
        let status = county
            .create_policy(pb::CreatePolicyRequest {
                policy: Some(pb::Policy {
                    name: format!("policies/{target}"),
                    display_name: "越权".into(),
                    rules: Some(pb::PolicyRules {
                        selection: Some(selection(30)),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                validate_only: false,
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{target}: {status:?}"
        );
    }
    // A teacher may read the policy but not write it.
    let mut teacher =
        cluster.assessment("34130200010001", Role::Teacher, COUNTY, Some("3413020001"));
    assert!(
        teacher
            .get_effective_policy(pb::GetEffectivePolicyRequest {
                jurisdiction: format!("jurisdictions/{COUNTY}"),
            })
            .await
            .is_ok()
    );
    let status = teacher
        .create_policy(pb::CreatePolicyRequest {
            policy: Some(pb::Policy {
                name: format!("policies/{COUNTY}"),
                display_name: "x".into(),
                ..Default::default()
            }),
            validate_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    cluster.stop().await;
}
