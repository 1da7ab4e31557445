//! Rivest's consistent sampler, ticket for ticket as the reference implementation computes it
//! (`consistent_sampler.py`, functions `sha256_hex`, `sha256_uniform`, `first_fraction`,
//! `trim` and `sampler`):
//!
//! - `seed_hash = hex(SHA-256(utf8(seed)))`, lowercase;
//! - an item's ticket is `sha256_uniform(seed_hash ‖ id)`: the SHA-256 of that text read as an
//!   integer, written in decimal with at least 64 digits (zero-padded), the digits reversed
//!   (the low-order, unbiased digits first), and `0.` put in front;
//! - items are drawn by increasing ticket (compared as text, then by id), without replacement;
//! - tickets are shown truncated to 9 significant digits after any leading run of 9s.
//!
//! Drawing more later continues the same order: the first k draws of a population are the
//! first k of any larger draw with the same seed, and a stratum's draw is the population's
//! order filtered to the stratum.

use std::cmp::Ordering;

use sha2::{Digest, Sha256};

/// An item's ticket: its full-precision number (as the reference keeps it, a decimal string in
/// (0, 1)) and its id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// `0.` followed by at least 64 decimal digits.
    pub number: String,
    /// The item's id, as given.
    pub id: String,
}

impl Ord for Ticket {
    /// The reference orders `(ticket_number, id, generation)` tuples: text, then id.
    fn cmp(&self, other: &Self) -> Ordering {
        self.number
            .cmp(&other.number)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl PartialOrd for Ticket {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ticket {
    /// The ticket as the reference sampler prints it (9 significant digits).
    pub fn display(&self) -> String {
        display_ticket(&self.number, 9)
    }
}

/// `hex(SHA-256(seed))`, lowercase: what the reference hashes every id with.
pub fn seed_hash(seed: &str) -> String {
    hex(&Sha256::digest(seed.as_bytes()))
}

/// The first (and, without replacement, only) ticket of `id` under the seed whose hash is
/// `seed_hash` (see [`seed_hash`]).
pub fn first_ticket(seed_hash: &str, id: &str) -> Ticket {
    let mut hasher = Sha256::new();
    hasher.update(seed_hash.as_bytes());
    hasher.update(id.as_bytes());
    // sha256_uniform(text) reads sha256_hex(text) as an integer: the digest's bytes, big-endian.
    let digest = hasher.finalize();
    Ticket {
        number: uniform_from_hex_digest(&digest),
        id: id.to_owned(),
    }
}

/// `sha256_uniform`'s conversion: the digest as an integer in decimal, zero-padded to 64
/// digits, reversed, after `0.`.
fn uniform_from_hex_digest(digest: &[u8]) -> String {
    let mut decimal = to_decimal(digest);
    if decimal.len() < 64 {
        decimal = format!("{}{decimal}", "0".repeat(64 - decimal.len()));
    }
    let reversed: String = decimal.chars().rev().collect();
    format!("0.{reversed}")
}

/// A big-endian unsigned integer in decimal, without leading zeros ("0" for zero).
fn to_decimal(bytes: &[u8]) -> String {
    // Base-10^19 limbs, least significant first, grown by multiply-and-add per byte.
    const BASE: u128 = 10_000_000_000_000_000_000;
    let mut limbs: Vec<u128> = vec![0];
    for &byte in bytes {
        let mut carry = u128::from(byte);
        for limb in limbs.iter_mut() {
            let value = *limb * 256 + carry;
            *limb = value % BASE;
            carry = value / BASE;
        }
        while carry > 0 {
            limbs.push(carry % BASE);
            carry /= BASE;
        }
    }
    let mut out = String::with_capacity(limbs.len() * 19);
    let mut iter = limbs.iter().rev();
    if let Some(top) = iter.next() {
        out.push_str(&top.to_string());
    }
    for limb in iter {
        out.push_str(&format!("{limb:019}"));
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// The reference's `trim(x, digits)`: `x` truncated to `digits` significant digits after the
/// leading run of 9s following `0.`.
pub fn display_ticket(number: &str, digits: usize) -> String {
    let bytes = number.as_bytes();
    let first_non_9 = (2..bytes.len())
        .find(|&i| bytes[i] < b'9')
        .unwrap_or(bytes.len());
    number[..(first_non_9 + digits).min(number.len())].to_owned()
}

/// The draw order of a population: every id's ticket, smallest first.
#[derive(Clone, Debug)]
pub struct TicketSequence {
    tickets: Vec<Ticket>,
}

impl TicketSequence {
    /// Tickets for `ids` under `seed`, in draw order. Ids must be distinct (see
    /// [`TicketSequence::duplicates`]).
    pub fn new<'a>(seed: &str, ids: impl IntoIterator<Item = &'a str>) -> TicketSequence {
        let hash = seed_hash(seed);
        let mut tickets: Vec<Ticket> = ids.into_iter().map(|id| first_ticket(&hash, id)).collect();
        tickets.sort_unstable();
        TicketSequence { tickets }
    }

    /// Ids that occur more than once in `ids`, sorted (the reference refuses such a list).
    pub fn duplicates<'a>(ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        let mut twice = std::collections::BTreeSet::new();
        for id in ids {
            if !seen.insert(id) {
                twice.insert(id.to_owned());
            }
        }
        twice.into_iter().collect()
    }

    /// Every ticket, in draw order.
    pub fn tickets(&self) -> &[Ticket] {
        &self.tickets
    }

    /// The first `count` draws (all when the population is smaller).
    pub fn first(&self, count: usize) -> &[Ticket] {
        &self.tickets[..count.min(self.tickets.len())]
    }

    /// Draws `from..from + count`: a later round continuing the same sequence.
    pub fn after(&self, from: usize, count: usize) -> &[Ticket] {
        let start = from.min(self.tickets.len());
        &self.tickets[start..(start + count).min(self.tickets.len())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples from the reference implementation's docstrings (consistent_sampler.py).

    #[test]
    fn the_seed_is_hashed_as_the_reference_hashes_it() {
        assert_eq!(
            seed_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_first_ticket_matches_the_reference_docstring() {
        let ticket = first_ticket(&seed_hash("01382438112797316654"), "AB-130");
        assert_eq!(
            ticket.number,
            "0.26299714122838008416507544297546663599715395525154425586041245287750224561854"
        );
    }

    #[test]
    fn the_draw_order_and_printed_tickets_match_the_reference_docstring() {
        // sampler(['ab-1', 'ab-2', 'cd-1', 'ef-3'], seed=314159)
        let sequence = TicketSequence::new("314159", ["ab-1", "ab-2", "cd-1", "ef-3"]);
        let drawn: Vec<(String, &str)> = sequence
            .tickets()
            .iter()
            .map(|t| (t.display(), t.id.as_str()))
            .collect();
        assert_eq!(
            drawn,
            vec![
                ("0.317685817".to_owned(), "cd-1"),
                ("0.832984519".to_owned(), "ef-3"),
                ("0.9098039269".to_owned(), "ab-1"),
                ("0.9231549043".to_owned(), "ab-2"),
            ]
        );
    }

    #[test]
    fn trimming_keeps_nine_digits_after_the_leading_nines() {
        assert_eq!(display_ticket("0.9991234567890", 4), "0.9991234");
        assert_eq!(display_ticket("0.12", 9), "0.12");
        assert_eq!(display_ticket("0.999", 2), "0.999");
    }

    #[test]
    fn decimal_conversion_handles_zero_small_and_full_width_numbers() {
        assert_eq!(to_decimal(&[0, 0]), "0");
        assert_eq!(to_decimal(&[1, 0]), "256");
        assert_eq!(
            to_decimal(&[0xff; 32]),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
    }

    #[test]
    fn a_later_round_continues_the_same_sequence_and_a_subset_keeps_its_order() {
        let ids: Vec<String> = (0..50).map(|i| format!("34132400{i:02}")).collect();
        let all = TicketSequence::new("20 dice digits 1234", ids.iter().map(String::as_str));
        let first = all.first(5).to_vec();
        let next = all.after(5, 5).to_vec();
        assert_eq!([first, next].concat(), all.first(10));
        // Consistency: the draw of a subset is the larger draw filtered to it.
        let half: Vec<&str> = ids.iter().step_by(2).map(String::as_str).collect();
        let subset = TicketSequence::new("20 dice digits 1234", half.iter().copied());
        let filtered: Vec<&Ticket> = all
            .tickets()
            .iter()
            .filter(|t| half.contains(&t.id.as_str()))
            .collect();
        assert_eq!(subset.tickets().iter().collect::<Vec<_>>(), filtered);
    }

    #[test]
    fn duplicates_are_found() {
        assert_eq!(
            TicketSequence::duplicates(["a", "b", "a", "c", "b", "a"]),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }
}
