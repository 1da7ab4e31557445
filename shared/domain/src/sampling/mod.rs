//! The review draws' rules, without I/O: Rivest's consistent sampler (the SHA-256 ticket
//! method of election audits), stratum sizes, and the agreement figures a review decides by.
//!
//! The draw must be impossible to steer and easy to audit (issue 4; 《宁夏测评实施办法》
//! §五(一)3 "随机抽取一定比例（不低于 15%）的学校和教师"): a public seed entered in a meeting,
//! items keyed by real-world codes, and tickets computed exactly as the reference
//! implementation (`consistent_sampler` on PyPI, by Ronald L. Rivest) computes them, so anyone
//! with the exported population and the seed gets the same draw with that tool. Every round of a
//! review chain takes its own seed ([`continue_draw`] skips what the chain drew).

mod agreement;
mod chain;
mod consistent;
mod flat;
mod stratified;

pub use agreement::{Agreement, Verdict, agreement, verdict, wilson_interval};
pub use chain::{Pick, StratumDraw, continue_draw};
pub use consistent::{Sampler, Ticket, TicketSequence, display_ticket, first_ticket, seed_hash};
pub use flat::IdList;
pub use stratified::{
    CountyStratum, Drawn, DrawnCounty, DrawnSchool, SchoolStratum, StagePlan, stratified_draw,
};

use crate::policy::Ratio;

/// How many items a stratum of `population` items gives: `ceil(rate × population)`, at least
/// `minimum`, never more than the stratum holds (issue 4 "Stratified": "each stratum at least 1,
/// using ceil(rate × N)").
pub fn stratum_size(rate: Ratio, population: u64, minimum: u64) -> u64 {
    if population == 0 || rate.denominator == 0 {
        return 0;
    }
    let numerator = u128::from(rate.numerator) * u128::from(population);
    let denominator = u128::from(rate.denominator);
    let ceil = numerator.div_ceil(denominator);
    let ceil = u64::try_from(ceil).unwrap_or(u64::MAX);
    ceil.max(minimum).min(population)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stratum_gives_the_rate_rounded_up_at_least_the_minimum_and_at_most_itself() {
        let fifteen = Ratio::new(15, 100);
        // 15 % of 20 schools is exactly 3; of 21 it is 3.15, rounded up to 4.
        assert_eq!(stratum_size(fifteen, 20, 1), 3);
        assert_eq!(stratum_size(fifteen, 21, 1), 4);
        // A school of 3 teachers still gives one.
        assert_eq!(stratum_size(Ratio::new(5, 100), 3, 1), 1);
        assert_eq!(stratum_size(fifteen, 1, 1), 1);
        // Nothing from nothing; all from a rate of 1.
        assert_eq!(stratum_size(fifteen, 0, 1), 0);
        assert_eq!(stratum_size(Ratio::new(1, 1), 37, 1), 37);
        // The minimum never exceeds the stratum.
        assert_eq!(stratum_size(Ratio::new(0, 1), 2, 5), 2);
    }
}
