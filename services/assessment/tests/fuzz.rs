//! Fuzz targets for policy documents (see `tica-fuzz`): a policy reaches the service as a
//! protobuf `PolicyRules` (CreatePolicy, UpdatePolicy), which `rules_from_proto` converts and
//! `PolicyRules::validate` checks, over a preset when the policy names one; rules that pass are
//! then applied by the rules engine (quotas, unit grades). Arbitrary bytes decoded as the proto,
//! the presets' encodings flipped, cut, extended and spliced, and the stored JSON form mutated.
//! No panic, no hang.

use tica_assessment::convert::policy::{rules_from_proto, rules_to_proto};
use tica_domain::policy::{self as d, PolicyRules};
use tica_fuzz::{Fuzz, show_bytes};
use tica_proto::prost::Message;
use tica_proto::tica::assessment::v1 as pb;

fn presets() -> Vec<Vec<u8>> {
    d::Preset::ALL
        .iter()
        .map(|p| rules_to_proto(&d::preset(*p)).encode_to_vec())
        .collect()
}

/// What the service does with a policy's own rules: convert, inherit over a preset, validate,
/// and (when valid) apply.
fn apply(own: &PolicyRules, preset: d::Preset) {
    let _ = own.validate();
    let base = d::preset(preset);
    let effective = PolicyRules::effective(&[&base, own]);
    if effective.validate().is_ok() {
        if let Some(grading) = &effective.grading {
            for n in [0, 1, 33, 1000, usize::MAX] {
                let _ = d::excellent_quota(grading, n);
            }
        }
        for rule in [&effective.school_grade, &effective.county_grade]
            .into_iter()
            .flatten()
        {
            for (m, e, f) in [
                (0, 0, 0),
                (1, 1, 0),
                (10, 3, 3),
                (usize::MAX, usize::MAX, 0),
            ] {
                let _ = d::unit_grade(rule, m, e, f);
            }
        }
        // The stored form round-trips.
        let json = serde_json::to_string(&effective).unwrap();
        let back: PolicyRules = serde_json::from_str(&json).unwrap();
        assert_eq!(back, effective);
    }
}

#[test]
fn arbitrary_and_mutated_policy_documents_never_panic_the_policy_checks() {
    let valid = presets();
    let others: Vec<&[u8]> = valid.iter().map(Vec::as_slice).collect();
    // Varints at their limits, lengths that overrun, field keys of every wire type.
    let tokens: &[&[u8]] = &[
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        &[0x80, 0x80, 0x80, 0x80, 0x08],
        &[0x00],
        &[0x0a, 0x7f],
        &[0x12, 0x00],
        &[0x08, 0x01],
        &[0x0d, 0xff, 0xff, 0xff, 0xff],
    ];
    let mut decoded = 0u32;
    Fuzz::new("policy_proto", 4_000).run(
        |rng| {
            let preset = *rng.pick(&d::Preset::ALL);
            let bytes = if rng.one_in(4) {
                rng.arbitrary_bytes(600)
            } else {
                let valid = rng.pick(&valid).clone();
                rng.mutate(&valid, &others, tokens)
            };
            (bytes, preset)
        },
        |(b, p)| format!("{p:?} {}", show_bytes(b)),
        |(bytes, preset)| {
            let Ok(proto) = pb::PolicyRules::decode(bytes.as_slice()) else {
                return;
            };
            decoded += 1;
            if let Ok(own) = rules_from_proto(&proto, "policy.rules") {
                apply(&own, *preset);
            }
        },
    );
    assert!(decoded > 0);
}

#[test]
fn arbitrary_and_mutated_policy_json_never_panics_the_policy_checks() {
    let valid: Vec<String> = d::Preset::ALL
        .iter()
        .map(|p| serde_json::to_string(&d::preset(*p)).unwrap())
        .collect();
    let others: Vec<&str> = valid.iter().map(String::as_str).collect();
    Fuzz::new("policy_json", 3_000).run(
        |rng| {
            let text = rng.pick(&valid).clone();
            rng.mutate_text(
                &text,
                &others,
                &[
                    "0",
                    "-1",
                    "18446744073709551615",
                    "1e9",
                    "null",
                    "true",
                    "[]",
                    "{}",
                    "\"",
                    ",",
                ],
            )
        },
        |s| tica_fuzz::show_text(s),
        |text| {
            if let Ok(rules) = serde_json::from_str::<PolicyRules>(text) {
                apply(&rules, d::Preset::Sixian);
            }
        },
    );
}
