//! Fuzz targets for page tokens and resource names (see `tica-fuzz`): every `List` call takes a
//! client's `page_token`, which `Page::from_request` decodes (base64url of JSON bound to the
//! filters), and every call names resources that `names::parse` takes apart. Arbitrary text,
//! and tokens this kit issued flipped, cut, extended and with their JSON mutated and re-encoded,
//! for each key type the services page by. No panic, no hang; a mutated token is refused or
//! decodes to a key of the right type.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tica_fuzz::{Fuzz, Rng, show_text};
use tica_server::names;
use tica_server::paging::Page;

const FILTER: &str = "parent=jurisdictions/341324;stage=2";

/// A token the kit issues after a page ending with `last`.
fn issued<K: Serialize + DeserializeOwned + Clone>(last: K) -> String {
    let page: Page<K> = Page::from_request(1, "", FILTER).unwrap();
    let (_, token) = page.finish(vec![last.clone(), last], |k| k.clone());
    token
}

fn decode_all(token: &str, size: i32) {
    // Every key type a service pages by.
    let _ = Page::<String>::from_request(size, token, FILTER);
    let _ = Page::<i64>::from_request(size, token, FILTER);
    let _ = Page::<(String, String)>::from_request(size, token, FILTER);
    let _ = Page::<(i64, String)>::from_request(size, token, FILTER);
    let _ = Page::<(String, String, i64)>::from_request(size, token, FILTER);
    let _ = Page::<(String, i64, String, String)>::from_request(size, token, FILTER);
}

fn genuine(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => issued(rng.arbitrary_text(20)),
        1 => issued(rng.next_u64() as i64),
        2 => issued((rng.next_u64() as i64, rng.arbitrary_text(12))),
        _ => issued((
            rng.arbitrary_text(8),
            rng.next_u64() as i64,
            "a".to_owned(),
            "b".to_owned(),
        )),
    }
}

#[test]
fn arbitrary_and_mutated_page_tokens_never_panic_the_pager() {
    const JSON_TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "\"k\":",
        "\"f\":",
        "null",
        "1e999",
        "-0",
        "\\u0000",
        "\\ud800",
        "18446744073709551616",
        "[[[[[[[[[[[[[[[[[[[[[[[[",
    ];
    let mut accepted = 0u32;
    Fuzz::new("page_token", 8_000).run(
        |rng| {
            let size = *rng.pick(&[0, 1, 50, -1, i32::MAX, i32::MIN]);
            let token = match rng.below(4) {
                0 => rng.arbitrary_text(200),
                1 => {
                    let valid = genuine(rng);
                    let other = genuine(rng);
                    rng.mutate_text(&valid, &[&other], &["-", "_", "=", "+", "/", "A"])
                }
                _ => {
                    // The JSON inside mutated, then encoded as the kit would.
                    let valid = URL_SAFE_NO_PAD.decode(genuine(rng)).unwrap();
                    let tokens: Vec<&[u8]> = JSON_TOKENS.iter().map(|t| t.as_bytes()).collect();
                    URL_SAFE_NO_PAD.encode(rng.mutate(&valid, &[], &tokens))
                }
            };
            (size, token)
        },
        |(size, token)| format!("size {size}, token {}", show_text(token)),
        |(size, token)| {
            decode_all(token, *size);
            if Page::<String>::from_request(*size, token, FILTER).is_ok() {
                accepted += 1;
            }
        },
    );
    assert!(
        accepted > 0,
        "the generator must also produce acceptable tokens"
    );
}

#[test]
fn arbitrary_and_mutated_resource_names_never_panic_the_name_parser() {
    const VALID: &[&str] = &[
        "jurisdictions/341324",
        "schools/3413240001",
        "teachers/T0000001",
        "batches/341324-2022/participants/T0000001",
        "certificates/b2c4e1f07a9d4c3e8f615d2a9c",
    ];
    Fuzz::new("resource_names", 10_000).run(
        |rng| {
            if rng.one_in(3) {
                rng.arbitrary_text(60)
            } else {
                let valid = *rng.pick(VALID);
                let other = *rng.pick(VALID);
                rng.mutate_text(valid, &[other], &["/", "//", "-", "%2F", "\u{0}"])
            }
        },
        |s| show_text(s),
        |name| {
            for collection in [
                "jurisdictions",
                "schools",
                "teachers",
                "batches",
                "certificates",
            ] {
                let _ = names::parse("name", name, collection);
            }
            let _ = names::parse_parent("parent", name);
        },
    );
}
