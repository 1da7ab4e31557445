//! Later rounds of a review chain: the consistent sampler, skipping what the chain drew.
//!
//! A round that re-examines results which came back orders a stratum's current ids by their
//! tickets under its own seed, skips the ids earlier rounds of the chain drew, and takes the
//! first `size` of the rest. Only when fewer undrawn ids are left than `size` does it take the
//! remaining ones and then start again from the top of the order (the stratum has "wrapped").
//!
//! Each later round takes a fresh public seed (issue 18 §4): under the first round's seed the
//! next draws would be known the moment the first round was drawn, and a school sent back could
//! fix exactly the teachers it knew would come next. The seed is entered only after the round
//! has committed its population and plan in the transparency log.

use std::collections::HashSet;

use super::Sampler;

/// One id a round draws from a stratum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pick {
    /// Index of the id in the stratum's id list.
    pub index: usize,
    /// 1-based position of the id in the stratum's ticket order.
    pub position: u64,
    /// The ticket as the reference sampler prints it.
    pub ticket: String,
}

/// What a round draws from one stratum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StratumDraw {
    /// In draw order.
    pub picks: Vec<Pick>,
    /// Position of the first id drawn (1 for a first round): with an unchanged stratum, the
    /// reference sampler's `drop` + 1.
    pub first_position: u64,
    /// Fewer undrawn ids were left than asked for; the order restarted from position 1.
    pub wrapped: bool,
}

/// Draws `size` of `ids` in ticket order under `sampler`, skipping `drawn_before` (ids drawn
/// by earlier rounds of the chain) until no other ids are left.
pub fn continue_draw<S: AsRef<str>>(
    sampler: &Sampler,
    ids: &[S],
    drawn_before: &HashSet<String>,
    size: usize,
) -> StratumDraw {
    let size = size.min(ids.len());
    let order = sampler.first_with_tickets(ids, ids.len());
    let pick = |(position, (index, ticket)): (usize, &(usize, String))| Pick {
        index: *index,
        position: position as u64 + 1,
        ticket: ticket.clone(),
    };
    let fresh = |entry: &(usize, &(usize, String))| !drawn_before.contains(ids[entry.1.0].as_ref());
    let mut picks: Vec<Pick> = order
        .iter()
        .enumerate()
        .filter(fresh)
        .take(size)
        .map(pick)
        .collect();
    let first_position = picks.first().map_or(1, |p| p.position);
    let wrapped = picks.len() < size;
    if wrapped {
        let missing = size - picks.len();
        picks.extend(
            order
                .iter()
                .enumerate()
                .filter(|e| !fresh(e))
                .take(missing)
                .map(pick),
        );
    }
    StratumDraw {
        picks,
        first_position,
        wrapped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::TicketSequence;

    fn ids(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("34132400{i:02}")).collect()
    }

    #[test]
    fn a_first_round_takes_the_first_tickets_as_the_reference_would() {
        let ids = ids(20);
        let draw = continue_draw(
            &Sampler::new("07318552946601823357"),
            &ids,
            &HashSet::new(),
            3,
        );
        let reference = TicketSequence::new("07318552946601823357", ids.iter().map(String::as_str));
        let expected: Vec<(String, String)> = reference
            .first(3)
            .iter()
            .map(|t| (t.id.clone(), t.display()))
            .collect();
        let got: Vec<(String, String)> = draw
            .picks
            .iter()
            .map(|p| (ids[p.index].clone(), p.ticket.clone()))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(
            draw.picks.iter().map(|p| p.position).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!((draw.first_position, draw.wrapped), (1, false));
    }

    #[test]
    fn a_later_round_continues_the_order_past_what_the_chain_drew() {
        let ids = ids(20);
        let sampler = Sampler::new("seed");
        let first = continue_draw(&sampler, &ids, &HashSet::new(), 3);
        let before: HashSet<String> = first.picks.iter().map(|p| ids[p.index].clone()).collect();
        let second = continue_draw(&sampler, &ids, &before, 2);
        let reference = TicketSequence::new("seed", ids.iter().map(String::as_str));
        let expected: Vec<String> = reference.after(3, 2).iter().map(|t| t.id.clone()).collect();
        let got: Vec<String> = second.picks.iter().map(|p| ids[p.index].clone()).collect();
        assert_eq!(got, expected, "the reference's drop=3, take=2");
        assert_eq!((second.first_position, second.wrapped), (4, false));
    }

    #[test]
    fn a_stratum_with_nothing_new_left_wraps_to_the_top_of_its_order() {
        let ids = ids(1);
        let sampler = Sampler::new("seed");
        let before: HashSet<String> = ids.iter().cloned().collect();
        let draw = continue_draw(&sampler, &ids, &before, 1);
        assert_eq!(draw.picks.len(), 1);
        assert_eq!(draw.picks[0].position, 1);
        assert!(draw.wrapped);
    }
}
