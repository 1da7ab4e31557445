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
    hex::encode(Sha256::digest(seed.as_bytes()))
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

/// The reference's `trim(x, digits)`: `x` truncated to `digits` significant digits after the
/// leading run of 9s following `0.`.
pub fn display_ticket(number: &str, digits: usize) -> String {
    let bytes = number.as_bytes();
    let first_non_9 = (2..bytes.len())
        .find(|&i| bytes[i] < b'9')
        .unwrap_or(bytes.len());
    number[..(first_non_9 + digits).min(number.len())].to_owned()
}

/// The tickets of one seed, computed fast: the seed's hash is exactly one SHA-256 block, so its
/// state is kept and each id costs one more block; the draw order is decided by each ticket's
/// first 19 digits (a `u64`), and the full ticket is only computed to break a tie.
#[derive(Clone)]
pub struct Sampler {
    seed_hash: String,
    after_seed: Sha256,
    /// The SHA-256 state after the seed hash's one block, for ids short enough to finish in
    /// one more block (55 bytes or less: every code and number TICA keys items by).
    state: [u32; 8],
}

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

impl std::fmt::Debug for Sampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sampler")
            .field("seed_hash", &self.seed_hash)
            .finish()
    }
}

/// 5^19: 10^19 = 2^19 × 5^19, and a 256-bit number's residue modulo 10^19 is put together from
/// its residues modulo each (Chinese remainder theorem) with 64-bit arithmetic only.
const FIVE_19: u64 = 19_073_486_328_125;
const TWO_19: u64 = 1 << 19;

/// The inverse of 5^19 modulo 2^19 (Newton's iteration for odd numbers).
const fn inverse_five_19() -> u64 {
    let mut inv: u64 = 1;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(FIVE_19.wrapping_mul(inv)));
        i += 1;
    }
    inv % TWO_19
}
const INV_FIVE_19: u64 = inverse_five_19();

/// `N mod 10^19` of a big-endian 256-bit digest.
fn low_19_digits(digest: &[u8; 32]) -> u64 {
    let mut mod5 = 0u64;
    for pair in digest.chunks_exact(2) {
        let limb = u64::from(u16::from_be_bytes([pair[0], pair[1]]));
        mod5 = ((mod5 << 16) | limb) % FIVE_19;
    }
    let mod2 = u64::from(u32::from_be_bytes([
        digest[28], digest[29], digest[30], digest[31],
    ])) % TWO_19;
    let t = ((mod2 + TWO_19 - mod5 % TWO_19) % TWO_19) * INV_FIVE_19 % TWO_19;
    mod5 + FIVE_19 * t
}

/// The ticket's first 19 digits as a number: `N mod 10^19` zero-padded to 19 digits, reversed.
fn sort_key(digest: &[u8; 32]) -> u64 {
    let mut low = low_19_digits(digest);
    let mut key = 0u64;
    for _ in 0..19 {
        key = key * 10 + low % 10;
        low /= 10;
    }
    key
}

/// 5^9: the ticket's first 9 digits come from `N mod 10^9` = CRT of `N mod 2^9` and `N mod 5^9`,
/// with 32-bit limbs (`5^9 < 2^21`, so `r << 32 | limb` fits 64 bits).
const FIVE_9: u64 = 1_953_125;
const TWO_9: u64 = 1 << 9;
const fn inverse_five_9() -> u64 {
    let mut inv: u64 = 1;
    let mut i = 0;
    while i < 6 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(FIVE_9.wrapping_mul(inv)));
        i += 1;
    }
    inv % TWO_9
}
const INV_FIVE_9: u64 = inverse_five_9();

/// `2^(32·(7−i)) mod 5^9` for the eight 32-bit limbs of a digest, most significant first.
const WEIGHTS_9: [u64; 8] = {
    let mut weights = [0u64; 8];
    let mut power = 1u64; // 2^(32·k) mod 5^9, k = 0 for the last limb
    let mut k = 0;
    while k < 8 {
        weights[7 - k] = power;
        power = (power << 32) % FIVE_9;
        k += 1;
    }
    weights
};

/// Two digits reversed: `REVERSED[10a + b] = 10b + a`.
const REVERSED: [u8; 100] = {
    let mut table = [0u8; 100];
    let mut i = 0;
    while i < 100 {
        table[i] = ((i % 10) * 10 + i / 10) as u8;
        i += 1;
    }
    table
};

/// The ticket's first 9 digits as a number (the coarse sort key; ties go to [`sort_key`]),
/// from the digest's eight big-endian words.
pub(super) fn short_key(words: &[u32; 8]) -> u32 {
    // Σ word_i × (2^(32·(7−i)) mod 5^9): each term < 2^53, the sum of eight < 2^56, one reduction.
    let mut sum = 0u64;
    for (word, weight) in words.iter().zip(WEIGHTS_9) {
        sum += u64::from(*word) * weight;
    }
    let mod5 = sum % FIVE_9;
    let mod2 = u64::from(words[7]) % TWO_9;
    let t = ((mod2 + TWO_9 - mod5 % TWO_9) % TWO_9) * INV_FIVE_9 % TWO_9;
    let mut low = mod5 + FIVE_9 * t;
    // Reverse the 9 digits (zero-padded): four pairs and the leading digit.
    let mut key = 0u64;
    for _ in 0..4 {
        key = key * 100 + u64::from(REVERSED[(low % 100) as usize]);
        low /= 100;
    }
    (key * 10 + low) as u32
}

impl Sampler {
    /// The sampler of `seed`, exactly as entered.
    pub fn new(seed: &str) -> Sampler {
        let seed_hash = seed_hash(seed);
        let mut after_seed = Sha256::new();
        after_seed.update(seed_hash.as_bytes());
        let mut state = SHA256_IV;
        let block: [u8; 64] = seed_hash
            .as_bytes()
            .try_into()
            .expect("a SHA-256 hex digest is 64 bytes");
        sha2::block_api::compress256(&mut state, &[block]);
        Sampler {
            seed_hash,
            after_seed,
            state,
        }
    }

    /// The digest of `id` as SHA-256's eight state words (big-endian order of the bytes).
    pub(super) fn words(&self, id: &str) -> [u32; 8] {
        let bytes = id.as_bytes();
        if bytes.len() > 55 {
            let mut hasher = self.after_seed.clone();
            hasher.update(bytes);
            let digest: [u8; 32] = hasher.finalize().into();
            let mut words = [0u32; 8];
            for (word, quad) in words.iter_mut().zip(digest.chunks_exact(4)) {
                *word = u32::from_be_bytes([quad[0], quad[1], quad[2], quad[3]]);
            }
            return words;
        }
        // The last block by hand: the id, 0x80, zeros, the message length in bits.
        let mut block = [0u8; 64];
        block[..bytes.len()].copy_from_slice(bytes);
        block[bytes.len()] = 0x80;
        let bits = ((64 + bytes.len()) as u64) * 8;
        block[56..].copy_from_slice(&bits.to_be_bytes());
        let mut state = self.state;
        sha2::block_api::compress256(&mut state, &[block]);
        state
    }

    fn digest(&self, id: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.words(id)) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }

    /// `id`'s full ticket.
    pub fn ticket(&self, id: &str) -> Ticket {
        Ticket {
            number: uniform_from_hex_digest(&self.digest(id)),
            id: id.to_owned(),
        }
    }

    /// `id`'s ticket as the reference prints it (9 significant digits), from its first 19
    /// digits when they suffice (always, unless the ticket starts with ten 9s).
    pub fn display(&self, id: &str) -> String {
        self.display_from(id, &self.digest(id))
    }

    /// The positions of `ids` in draw order (smallest ticket first; ties as the reference
    /// breaks them: the full ticket, then the id).
    pub fn order<S: AsRef<str>>(&self, ids: &[S]) -> Vec<usize> {
        self.first(ids, ids.len())
    }

    /// The positions of the first `count` of `ids` in draw order: [`Sampler::order`] cut short,
    /// without ordering the rest.
    pub fn first<S: AsRef<str>>(&self, ids: &[S], count: usize) -> Vec<usize> {
        self.drawn(ids, count).into_iter().map(|(i, _)| i).collect()
    }

    /// Like [`Sampler::first`], with each drawn id's ticket as the reference prints it.
    pub fn first_with_tickets<S: AsRef<str>>(
        &self,
        ids: &[S],
        count: usize,
    ) -> Vec<(usize, String)> {
        self.drawn(ids, count)
            .into_iter()
            .map(|(i, digest)| (i, self.display_from(ids[i].as_ref(), &digest)))
            .collect()
    }

    /// The first `count` positions in draw order, with their digests.
    fn drawn<S: AsRef<str>>(&self, ids: &[S], count: usize) -> Vec<(usize, [u8; 32])> {
        thread_local! {
            // One buffer per thread for the keys of a stratum: a province's draw orders ten
            // thousand strata.
            static KEYED: std::cell::RefCell<Vec<(u32, usize)>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        KEYED.with_borrow_mut(|keyed| self.drawn_with(ids, count, keyed))
    }

    fn drawn_with<S: AsRef<str>>(
        &self,
        ids: &[S],
        count: usize,
        keyed: &mut Vec<(u32, usize)>,
    ) -> Vec<(usize, [u8; 32])> {
        keyed.clear();
        keyed.extend(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (short_key(&self.words(id.as_ref())), i)),
        );
        let compare = |a: &(u32, usize), b: &(u32, usize)| {
            a.0.cmp(&b.0)
                .then_with(|| self.tie(ids[a.1].as_ref(), ids[b.1].as_ref()))
        };
        let count = count.min(keyed.len());
        if count < keyed.len() && count > 0 {
            keyed.select_nth_unstable_by(count - 1, compare);
        }
        keyed.truncate(count);
        keyed.sort_unstable_by(compare);
        keyed
            .iter()
            .map(|&(_, i)| (i, self.digest(ids[i].as_ref())))
            .collect()
    }

    /// The order of two ids whose tickets share their first 9 digits: the first 19 digits,
    /// then the full tickets (text, then id), as the reference orders them.
    pub(super) fn tie(&self, x: &str, y: &str) -> Ordering {
        sort_key(&self.digest(x))
            .cmp(&sort_key(&self.digest(y)))
            .then_with(|| self.ticket(x).cmp(&self.ticket(y)))
    }

    /// Appends `id`'s ticket as the reference prints it to `out`: [`Sampler::display`] without
    /// a `String` of its own.
    pub fn display_into(&self, id: &str, out: &mut String) {
        self.display_from_into(id, &self.digest(id), out);
    }

    fn display_from(&self, id: &str, digest: &[u8; 32]) -> String {
        let mut out = String::with_capacity(11);
        self.display_from_into(id, digest, &mut out);
        out
    }

    fn display_from_into(&self, id: &str, digest: &[u8; 32], out: &mut String) {
        // "0." and the ticket's first 19 digits, on the stack.
        let mut text = *b"0.0000000000000000000";
        let mut key = sort_key(digest);
        for place in text[2..].iter_mut().rev() {
            *place = b'0' + (key % 10) as u8;
            key /= 10;
        }
        let first_non_9 = (2..text.len()).find(|&i| text[i] < b'9');
        match first_non_9 {
            Some(i) if i + 9 <= text.len() => {
                out.push_str(std::str::from_utf8(&text[..i + 9]).expect("ASCII digits"))
            }
            // A ticket starting with more than ten 9s: the full ticket decides.
            _ => out.push_str(&display_ticket(&self.ticket(id).number, 9)),
        }
    }
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
        let sampler = Sampler::new(seed);
        let ids: Vec<&str> = ids.into_iter().collect();
        let tickets = sampler
            .order(&ids)
            .into_iter()
            .map(|i| sampler.ticket(ids[i]))
            .collect();
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
        &self.tickets[start..start.saturating_add(count).min(self.tickets.len())]
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
    fn the_fast_key_is_the_full_tickets_first_19_digits() {
        let sampler = Sampler::new("79512035641283460917");
        for n in 0..2000 {
            let id = format!("3413240007{n:04}");
            let full = sampler.ticket(&id).number;
            let key = sort_key(&sampler.digest(&id));
            assert_eq!(format!("0.{key:019}"), full[..21], "{id}");
            let short = short_key(&sampler.words(&id));
            assert_eq!(format!("0.{short:09}"), full[..11], "{id}");
            assert_eq!(sampler.display(&id), display_ticket(&full, 9));
        }
        assert_eq!(INV_FIVE_19 * (FIVE_19 % TWO_19) % TWO_19, 1);
        assert_eq!(INV_FIVE_9 * (FIVE_9 % TWO_9) % TWO_9, 1);
    }

    #[test]
    fn the_one_block_digest_equals_the_library_digest_for_short_and_long_ids() {
        let sampler = Sampler::new("seed");
        for len in [0, 1, 14, 54, 55, 56, 63, 64, 100] {
            let id = "9".repeat(len);
            let mut hasher = Sha256::new();
            hasher.update(seed_hash("seed").as_bytes());
            hasher.update(id.as_bytes());
            let expected: [u8; 32] = hasher.finalize().into();
            assert_eq!(sampler.digest(&id), expected, "length {len}");
        }
        let chinese = "泗县第一小学";
        let mut hasher = Sha256::new();
        hasher.update(seed_hash("seed").as_bytes());
        hasher.update(chinese.as_bytes());
        assert_eq!(sampler.digest(chinese), <[u8; 32]>::from(hasher.finalize()));
    }

    #[test]
    fn duplicates_are_found() {
        assert_eq!(
            TicketSequence::duplicates(["a", "b", "a", "c", "b", "a"]),
            vec!["a".to_owned(), "b".to_owned()]
        );
    }
}
