//! The draw of one large flat population (the offline `tica sampling draw` over a million ids),
//! without a ticket, a `String` or a sort of the whole population.
//!
//! [`TicketSequence`](super::TicketSequence) computes every item's full ticket (a 66-digit
//! string) and orders them all; a review's strata are small, so that costs nothing there. A flat
//! population of 1,000,000 ids drawn for K items needs only: each id's SHA-256 (one compression
//! after the seed's block, no allocation), its ticket's first 9 digits as a number, the K
//! smallest kept in a bounded buffer, and full tickets only to break a tie of those 9 digits —
//! the same order, so the same draw, as the reference's heap of every ticket.
//!
//! The reference refuses a population that lists an id twice (`assert len(id_list) ==
//! len(set(id_list))`); [`IdList::draw`] does too, finding repeats by the ids' digests (equal
//! ids have equal digests) and confirming each by the ids' text.

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

use super::consistent::{Sampler, short_key};

/// Ids in one buffer: a million short ids cost their bytes and one offset each, not a `String`
/// apiece.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdList {
    text: String,
    ends: Vec<usize>,
}

impl IdList {
    /// An empty list.
    pub fn new() -> IdList {
        IdList::default()
    }

    /// Appends an id.
    pub fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `index`th id (from 0).
    pub fn get(&self, index: usize) -> &str {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.text[start..self.ends[index]]
    }

    /// The ids in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Draws `from..from + count` of these ids under `sampler`'s seed, as
    /// [`TicketSequence::after`](super::TicketSequence::after) orders them: their positions in
    /// this list, in draw order. `threads` (at least 1) share the hashing. An id listed more
    /// than once refuses the draw: `Err` with those ids, sorted, as
    /// [`TicketSequence::duplicates`](super::TicketSequence::duplicates) lists them.
    pub fn draw(
        &self,
        sampler: &Sampler,
        from: usize,
        count: usize,
        threads: usize,
    ) -> Result<Vec<usize>, Vec<String>> {
        let n = self.len();
        let keep = from.saturating_add(count).min(n);
        let threads = threads.clamp(1, n.max(1));
        let chunk = n.div_ceil(threads).max(1);
        let compare = |a: &(u32, usize), b: &(u32, usize)| {
            a.0.cmp(&b.0)
                .then_with(|| sampler.tie(self.get(a.1), self.get(b.1)))
        };
        // Each thread hashes a stretch of the list: a fingerprint per id (its digest's first 64
        // bits, for the repeat check) and the `keep` smallest tickets it saw.
        let mut fingerprints = vec![0u64; n];
        let hash = |(t, prints): (usize, &mut [u64])| -> Vec<(u32, usize)> {
            let mut smallest = Smallest::new(keep, &compare);
            let start = t * chunk;
            for (offset, print) in prints.iter_mut().enumerate() {
                let index = start + offset;
                let words = sampler.words(self.get(index));
                *print = (u64::from(words[0]) << 32) | u64::from(words[1]);
                smallest.push((short_key(&words), index));
            }
            smallest.finish()
        };
        let mut candidates: Vec<(u32, usize)> = Vec::new();
        std::thread::scope(|scope| {
            let mut stretches = fingerprints.chunks_mut(chunk).enumerate();
            let first = stretches.next();
            let others: Vec<_> = stretches
                .map(|stretch| scope.spawn(move || hash(stretch)))
                .collect();
            if let Some(stretch) = first {
                candidates.extend(hash(stretch));
            }
            for other in others {
                candidates.extend(other.join().expect("a draw thread does not panic"));
            }
        });
        let repeated = repeats(self, &fingerprints, threads);
        if !repeated.is_empty() {
            return Err(repeated);
        }
        drop(fingerprints);
        let mut smallest = Smallest::new(keep, &compare);
        for candidate in candidates {
            smallest.push(candidate);
        }
        let mut drawn = smallest.finish();
        drawn.sort_unstable_by(compare);
        Ok(drawn
            .into_iter()
            .skip(from)
            .map(|(_, index)| index)
            .collect())
    }
}

impl<'a> FromIterator<&'a str> for IdList {
    fn from_iter<I: IntoIterator<Item = &'a str>>(ids: I) -> IdList {
        let mut list = IdList::new();
        for id in ids {
            list.push(id);
        }
        list
    }
}

/// The `keep` smallest of the items pushed, in a buffer of at most `2 × keep` (1,024 at least): when full, it is
/// cut to its `keep` smallest (`select_nth_unstable`, linear) and anything above the largest
/// kept key is turned away unseen.
struct Smallest<'c, C> {
    keep: usize,
    buffer: Vec<(u32, usize)>,
    /// No item with a larger key can be among the `keep` smallest any more.
    limit: u32,
    compare: &'c C,
}

impl<'c, C: Fn(&(u32, usize), &(u32, usize)) -> Ordering> Smallest<'c, C> {
    fn new(keep: usize, compare: &'c C) -> Self {
        Smallest {
            keep,
            buffer: Vec::new(),
            limit: u32::MAX,
            compare,
        }
    }

    fn push(&mut self, item: (u32, usize)) {
        if item.0 > self.limit || self.keep == 0 {
            return;
        }
        self.buffer.push(item);
        if self.buffer.len() >= self.keep.saturating_mul(2).max(1024) {
            self.cut();
            self.limit = self.buffer[self.keep - 1].0;
        }
    }

    fn cut(&mut self) {
        if self.buffer.len() > self.keep && self.keep > 0 {
            self.buffer
                .select_nth_unstable_by(self.keep - 1, self.compare);
        }
        self.buffer.truncate(self.keep);
    }

    fn finish(mut self) -> Vec<(u32, usize)> {
        self.cut();
        self.buffer
    }
}

/// The ids listed more than once, sorted: equal ids have equal fingerprints, so each thread
/// takes a share of the fingerprints (by their top bits) and finds those seen twice in a table
/// of its own; each such fingerprint's ids are then compared as text.
fn repeats(ids: &IdList, fingerprints: &[u64], threads: usize) -> Vec<String> {
    let share = |print: u64| (((print >> 32) * threads as u64) >> 32) as usize;
    let find = |part: usize| -> Vec<u64> {
        let mine = move || {
            fingerprints
                .iter()
                .copied()
                .filter(move |&p| share(p) == part)
        };
        let size = (mine().count() * 2).next_power_of_two().max(16);
        let mask = size - 1;
        // Open addressing, linear probing; 0 marks a free slot (a fingerprint of 0 is stored
        // as 1, which at worst makes two ids suspects that the text comparison clears).
        let mut table = vec![0u64; size];
        let mut twice = Vec::new();
        for print in mine() {
            let print = print.max(1);
            let mut slot = print as usize & mask;
            loop {
                match table[slot] {
                    0 => {
                        table[slot] = print;
                        break;
                    }
                    seen if seen == print => {
                        twice.push(print);
                        break;
                    }
                    _ => slot = (slot + 1) & mask,
                }
            }
        }
        twice
    };
    let suspects: HashSet<u64> = if threads == 1 {
        find(0).into_iter().collect()
    } else {
        std::thread::scope(|scope| {
            let handles: Vec<_> = (1..threads)
                .map(|part| scope.spawn(move || find(part)))
                .collect();
            let mut all = find(0);
            for handle in handles {
                all.extend(handle.join().expect("a repeat check thread does not panic"));
            }
            all.into_iter().collect()
        })
    };
    if suspects.is_empty() {
        return Vec::new();
    }
    let mut groups: HashMap<u64, Vec<&str>> = HashMap::new();
    for (index, &print) in fingerprints.iter().enumerate() {
        let print = print.max(1);
        if suspects.contains(&print) {
            groups.entry(print).or_default().push(ids.get(index));
        }
    }
    let mut twice = BTreeSet::new();
    for group in groups.values_mut() {
        group.sort_unstable();
        for pair in group.windows(2) {
            if pair[0] == pair[1] {
                twice.insert(pair[0].to_owned());
            }
        }
    }
    twice.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::super::TicketSequence;
    use super::*;

    fn sequence_draw(seed: &str, ids: &[String], from: usize, count: usize) -> Vec<String> {
        TicketSequence::new(seed, ids.iter().map(String::as_str))
            .after(from, count)
            .iter()
            .map(|t| format!("{},{}", t.id, t.display()))
            .collect()
    }

    fn list_draw(
        seed: &str,
        ids: &[String],
        from: usize,
        count: usize,
        threads: usize,
    ) -> Vec<String> {
        let list: IdList = ids.iter().map(String::as_str).collect();
        let sampler = Sampler::new(seed);
        list.draw(&sampler, from, count, threads)
            .expect("distinct ids")
            .into_iter()
            .map(|i| {
                let mut line = format!("{},", list.get(i));
                sampler.display_into(list.get(i), &mut line);
                line
            })
            .collect()
    }

    #[test]
    fn the_bounded_draw_is_the_ticket_sequence_for_every_skip_count_and_thread_count() {
        let ids: Vec<String> = (0..5000).map(|i| format!("3413240007{i:04}")).collect();
        let seed = "79512035641283460917";
        for (from, count) in [
            (0, 0),
            (0, 1),
            (0, 17),
            (3, 17),
            (0, 1500),
            (600, 1500),
            (4990, 100),
            (5000, 3),
            (0, 5000),
            (0, usize::MAX),
            (usize::MAX, usize::MAX),
        ] {
            let expected = sequence_draw(seed, &ids, from, count);
            for threads in [1, 2, 3, 8] {
                assert_eq!(
                    list_draw(seed, &ids, from, count, threads),
                    expected,
                    "from {from}, count {count}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn tickets_that_share_their_first_nine_digits_keep_the_references_order() {
        // Find ids whose tickets agree in the first 9 digits (the bounded buffer's key), so that
        // the order falls to the tie-break; then draw them among others.
        let sampler = Sampler::new("7");
        let mut seen: HashMap<u32, String> = HashMap::new();
        let mut ids = Vec::new();
        for n in 0.. {
            let id = format!("{n}");
            let key = short_key(&sampler.words(&id));
            if let Some(other) = seen.insert(key, id.clone()) {
                ids.push(other);
                ids.push(id);
                break;
            }
        }
        ids.extend((0..3000).map(|n| format!("x{n}")));
        for threads in [1, 2] {
            assert_eq!(
                list_draw("7", &ids, 0, ids.len(), threads),
                sequence_draw("7", &ids, 0, ids.len())
            );
        }
    }

    #[test]
    fn a_repeated_id_refuses_the_draw_naming_each_repeat_once_sorted() {
        let mut ids: Vec<String> = (0..3000).map(|i| format!("{i}")).collect();
        ids.push("17".into());
        ids.push("2999".into());
        ids.push("17".into());
        ids.push("0".into());
        for threads in [1, 2, 5] {
            let list: IdList = ids.iter().map(String::as_str).collect();
            assert_eq!(
                list.draw(&Sampler::new("1"), 0, 5, threads),
                Err(TicketSequence::duplicates(ids.iter().map(String::as_str)))
            );
            assert_eq!(
                list.draw(&Sampler::new("1"), 0, 5, threads),
                Err(vec!["0".to_owned(), "17".to_owned(), "2999".to_owned()])
            );
        }
    }

    #[test]
    fn an_id_list_gives_back_what_was_pushed_including_empty_and_non_ascii_ids() {
        let list: IdList = ["泗县第一小学", "", "A-1", "x y"].into_iter().collect();
        assert_eq!(list.len(), 4);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            ["泗县第一小学", "", "A-1", "x y"]
        );
        assert!(IdList::new().is_empty());
        assert_eq!(IdList::new().draw(&Sampler::new("1"), 0, 5, 2), Ok(vec![]));
    }
}
