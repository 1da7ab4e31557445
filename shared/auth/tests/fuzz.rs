//! Fuzz targets for bearer tokens (see `tica-fuzz`): the `authorization` value every gRPC call
//! brings goes through `TokenVerifier::verify_header`. Arbitrary text; genuine tokens flipped,
//! cut and extended; and tokens whose header or claims JSON is mutated — re-signed with the
//! trusted key, so the claims checks behind the signature see the mutations too. No panic, no
//! hang; nothing mutated is accepted unless it still carries consistent claims.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tica_auth::{Claims, KeyPair, Role, TokenSigner, TokenVerifier};
use tica_domain::DivisionCode;
use tica_fuzz::{Fuzz, Rng, show_text};

const ROLES: &[&str] = &[
    "teacher",
    "school_admin",
    "assessor",
    "county_office",
    "city_office",
    "province_office",
    "service",
    "",
    "admin",
    "COUNTY_OFFICE",
];
const JURS: &[&str] = &[
    "341324", "341300", "340000", "110105", "000000", "34132", "3413240", "",
];
const TOKENS: &[&str] = &[
    ".",
    "..",
    "=",
    "-",
    "_",
    "+",
    "/",
    "eyJ",
    "Bearer ",
    "bearer ",
    " ",
    "\u{0}",
    "\"alg\":\"none\"",
    "\"alg\":\"HS256\"",
    "\"alg\":\"RS256\"",
    "\"kid\":",
    "null",
    "{}",
    "[]",
    "e30",
];

struct Keys {
    pair: KeyPair,
    signer: TokenSigner,
    verifier: TokenVerifier,
}

fn keys() -> Keys {
    let pair = KeyPair::generate();
    let mut trusted = BTreeMap::new();
    trusted.insert(pair.kid.clone(), pair.verifying_key());
    Keys {
        signer: TokenSigner::new(&pair),
        verifier: TokenVerifier::new(&trusted),
        pair,
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn genuine(keys: &Keys, rng: &mut Rng) -> String {
    let (role, jur, school) = match rng.below(3) {
        0 => (Role::CountyOffice, "341324", None),
        1 => (Role::SchoolAdmin, "341324", Some("3413240001")),
        _ => (Role::ProvinceOffice, "340000", None),
    };
    keys.signer
        .mint(
            "fuzz",
            role,
            DivisionCode::parse(jur).unwrap(),
            school,
            Duration::from_secs(600),
        )
        .unwrap()
}

/// Claims with fields drawn from valid and invalid values, signed by the trusted key.
fn signed_claims(keys: &Keys, rng: &mut Rng) -> String {
    let text = |rng: &mut Rng, valid: &str| {
        if rng.one_in(3) {
            rng.arbitrary_text(24)
        } else {
            valid.to_owned()
        }
    };
    let claims = Claims {
        iss: text(rng, "tica"),
        aud: text(rng, "tica"),
        sub: text(rng, "fuzz"),
        role: if rng.one_in(4) {
            rng.arbitrary_text(16)
        } else {
            (*rng.pick(ROLES)).to_owned()
        },
        jur: if rng.one_in(4) {
            rng.arbitrary_text(10)
        } else {
            (*rng.pick(JURS)).to_owned()
        },
        school: match rng.below(3) {
            0 => None,
            1 => Some("3413240001".into()),
            _ => Some(rng.arbitrary_text(16)),
        },
        iat: now(),
        exp: match rng.below(4) {
            0 => 0,
            1 => u64::MAX,
            _ => now() + 600,
        },
        nbf: match rng.below(3) {
            0 => None,
            1 => Some(now() + 3_600),
            _ => Some(now()),
        },
        jti: text(rng, "j"),
        client_id: None,
    };
    keys.signer.sign(&claims).unwrap()
}

/// A genuine token's header or claims JSON mutated as bytes, re-encoded, the signature kept or
/// recomputed over the mutated parts with the trusted key.
fn mutated_parts(keys: &Keys, rng: &mut Rng) -> String {
    let token = genuine(keys, rng);
    let mut parts: Vec<Vec<u8>> = token
        .split('.')
        .map(|p| URL_SAFE_NO_PAD.decode(p).unwrap())
        .collect();
    let which = rng.below(2);
    let other = format!(
        "{{\"alg\":\"EdDSA\",\"kid\":\"{}\",\"typ\":\"JWT\"}}",
        keys.pair.kid
    );
    let tokens: Vec<&[u8]> = TOKENS.iter().map(|t| t.as_bytes()).collect();
    parts[which] = rng.mutate(&parts[which], &[other.as_bytes()], &tokens);
    let head = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(&parts[0]),
        URL_SAFE_NO_PAD.encode(&parts[1])
    );
    if rng.one_in(2) {
        // Re-signed: only the claims checks stand between the mutation and a caller.
        use ed25519_dalek::Signer;
        let sig = keys.pair.signing.sign(head.as_bytes());
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
    } else {
        format!("{head}.{}", URL_SAFE_NO_PAD.encode(&parts[2]))
    }
}

#[test]
fn arbitrary_and_mutated_bearer_tokens_never_panic_the_verifier() {
    let keys = keys();
    let mut accepted = 0u32;
    Fuzz::new("bearer_token", 6_000).run(
        |rng| {
            let token = match rng.below(5) {
                0 => rng.arbitrary_text(300),
                1 => {
                    let valid = genuine(&keys, rng);
                    let other = genuine(&keys, rng);
                    rng.mutate_text(&valid, &[&other], TOKENS)
                }
                2 => signed_claims(&keys, rng),
                _ => mutated_parts(&keys, rng),
            };
            match rng.below(4) {
                0 => token,
                1 => format!("bearer {token}"),
                _ => format!("Bearer {token}"),
            }
        },
        |s| show_text(s),
        |value| {
            if let Ok(caller) = keys.verifier.verify_header(Some(value)) {
                // Whatever is accepted acts for a well-formed scope.
                assert!(!caller.acting_for().is_empty());
                accepted += 1;
            }
        },
    );
    eprintln!("accepted {accepted}");
    assert!(
        accepted > 0,
        "the generator must also produce acceptable tokens"
    );
}
