//! Agreement between the original grades and the review's re-grades of the same items
//! (《宁夏测评实施办法》§五(一)3–4: "一致率达到 80%以上" passes, otherwise back for re-grading): percent
//! agreement with its Wilson 95 % score interval, and Cohen's κ, always with n.

use crate::policy::{AgreementCriterion, Ratio, ThresholdComparison};

/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// The agreement of `n` paired grades.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    /// Pairs compared.
    pub n: u64,
    /// Pairs where both grades are the same.
    pub agreeing: u64,
    /// `agreeing / n` (0 when n is 0).
    pub percent: f64,
    /// Wilson 95 % score interval of the agreement proportion: (lower, upper).
    pub wilson: (f64, f64),
    /// Cohen's κ; `None` when chance agreement is already 1 (every grade in one category on
    /// both sides), where κ is undefined.
    pub kappa: Option<f64>,
}

/// The Wilson score interval at 95 % for `successes` of `n` (`(0, 1)` when n is 0).
pub fn wilson_interval(successes: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = Z95 * Z95;
    let denominator = 1.0 + z2 / n;
    let centre = (p + z2 / (2.0 * n)) / denominator;
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Agreement of `pairs` of (original, review) grades in any categories.
pub fn agreement<T: Eq + Ord + Clone>(pairs: &[(T, T)]) -> Agreement {
    use std::collections::BTreeMap;
    let n = pairs.len() as u64;
    let agreeing = pairs.iter().filter(|(a, b)| a == b).count() as u64;
    let percent = if n == 0 {
        0.0
    } else {
        agreeing as f64 / n as f64
    };
    let mut first: BTreeMap<T, u64> = BTreeMap::new();
    let mut second: BTreeMap<T, u64> = BTreeMap::new();
    for (a, b) in pairs {
        *first.entry(a.clone()).or_default() += 1;
        *second.entry(b.clone()).or_default() += 1;
    }
    let kappa = if n == 0 {
        None
    } else {
        let total = n as f64;
        let chance: f64 = first
            .iter()
            .map(|(category, count)| {
                let other = second.get(category).copied().unwrap_or(0);
                (*count as f64 / total) * (other as f64 / total)
            })
            .sum();
        if (1.0 - chance).abs() < 1e-12 {
            None
        } else {
            Some((percent - chance) / (1.0 - chance))
        }
    };
    Agreement {
        n,
        agreeing,
        percent,
        wilson: wilson_interval(agreeing, n),
        kappa,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 5e-5
    }

    #[test]
    fn wilson_interval_matches_published_values() {
        // 8 of 10: (0.4902, 0.9433) (Wilson 1927; e.g. statsmodels proportion_confint method="wilson").
        let (lo, hi) = wilson_interval(8, 10);
        assert!(close(lo, 0.4902) && close(hi, 0.9433), "{lo} {hi}");
        // All agree still leaves doubt: 20 of 20 → lower bound 0.8389.
        let (lo, hi) = wilson_interval(20, 20);
        assert!(close(lo, 0.8389) && close(hi, 1.0), "{lo} {hi}");
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }

    #[test]
    fn kappa_discounts_the_agreement_expected_by_chance() {
        // Cohen (1960)-style table: 20 pairs, 17 agree; original 15 pass / 5 fail, review
        // 14 pass / 6 fail with 13 pass-pass and 4 fail-fail.
        let mut pairs = vec![("pass", "pass"); 13];
        pairs.extend(vec![("fail", "fail"); 4]);
        pairs.extend(vec![("pass", "fail"); 2]);
        pairs.extend(vec![("fail", "pass"); 1]);
        let a = agreement(&pairs);
        assert_eq!((a.n, a.agreeing), (20, 17));
        assert!(close(a.percent, 0.85));
        // chance = 0.75 × 0.70 + 0.25 × 0.30 = 0.6; κ = (0.85 − 0.6) / 0.4 = 0.625.
        assert!(close(a.kappa.unwrap(), 0.625), "{:?}", a.kappa);
    }

    #[test]
    fn kappa_for_three_grades_matches_the_hand_computation() {
        // Original (rows) × review (columns), 20 re-graded submissions:
        //              fail pass excellent | row
        //   fail         2    1     0      |  3
        //   pass         1   10     1      | 12
        //   excellent    0    2     3      |  5
        //   column       3   13     4      | 20
        // p_o = (2 + 10 + 3) / 20 = 0.75
        // p_e = (3·3 + 12·13 + 5·4) / 20² = 185 / 400 = 0.4625
        // κ = (0.75 − 0.4625) / (1 − 0.4625) = 0.2875 / 0.5375 = 0.534884
        // Wilson 95 % for 15/20: (0.531299, 0.888138)
        let cells = [
            (("fail", "fail"), 2),
            (("fail", "pass"), 1),
            (("pass", "fail"), 1),
            (("pass", "pass"), 10),
            (("pass", "excellent"), 1),
            (("excellent", "pass"), 2),
            (("excellent", "excellent"), 3),
        ];
        let pairs: Vec<(&str, &str)> = cells
            .iter()
            .flat_map(|(pair, count)| std::iter::repeat_n(*pair, *count))
            .collect();
        let a = agreement(&pairs);
        assert_eq!((a.n, a.agreeing), (20, 15));
        assert!(close(a.percent, 0.75));
        assert!(close(a.kappa.unwrap(), 0.534884), "{:?}", a.kappa);
        assert!(
            close(a.wilson.0, 0.531299) && close(a.wilson.1, 0.888138),
            "{:?}",
            a.wilson
        );
    }

    #[test]
    fn kappa_is_undefined_when_every_grade_is_the_same_on_both_sides() {
        let a = agreement(&[("pass", "pass"); 5]);
        assert_eq!(a.percent, 1.0);
        assert_eq!(a.kappa, None);
        let empty: Agreement = agreement::<&str>(&[]);
        assert_eq!((empty.n, empty.kappa), (0, None));
    }
}

/// How a unit under review fares against its policy's threshold. Every figure is computed
/// whichever criterion decides (issue 4: "the report always shows all figures").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// agreeing / n meets the threshold, compared exactly as fractions.
    pub point_estimate_meets: bool,
    /// The Wilson 95 % lower bound meets it.
    pub wilson_lower_meets: bool,
    /// What the criterion gives.
    pub passes: bool,
}

/// Judges `figures` against `threshold` as the policy says: the point estimate (the documents'
/// "一致率达到80%以上", 《宁夏测评实施办法》§五(一)3) or the lower bound of
/// its Wilson interval; "at least" or "more than". Nothing compared (n = 0) meets nothing.
pub fn verdict(
    figures: &Agreement,
    threshold: Ratio,
    criterion: AgreementCriterion,
    comparison: ThresholdComparison,
) -> Verdict {
    let meets = |ordering: std::cmp::Ordering| match comparison {
        ThresholdComparison::AtLeast => ordering.is_ge(),
        ThresholdComparison::MoreThan => ordering.is_gt(),
    };
    let valid = figures.n > 0 && threshold.denominator > 0;
    let point_estimate_meets = valid
        && meets(
            (u128::from(figures.agreeing) * u128::from(threshold.denominator))
                .cmp(&(u128::from(threshold.numerator) * u128::from(figures.n))),
        );
    let bound = f64::from(threshold.numerator) / f64::from(threshold.denominator.max(1));
    let wilson_lower_meets = valid && figures.wilson.0.partial_cmp(&bound).is_some_and(&meets);
    Verdict {
        point_estimate_meets,
        wilson_lower_meets,
        passes: match criterion {
            AgreementCriterion::PointEstimate => point_estimate_meets,
            AgreementCriterion::WilsonLowerBound => wilson_lower_meets,
        },
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::*;

    #[test]
    fn eight_of_ten_meets_eighty_percent_at_least_but_not_more_than() {
        let figures = agreement(
            &[(1, 1); 8]
                .iter()
                .chain(&[(1, 2); 2])
                .copied()
                .collect::<Vec<_>>(),
        );
        let eighty = Ratio::new(80, 100);
        let at_least = verdict(
            &figures,
            eighty,
            AgreementCriterion::PointEstimate,
            ThresholdComparison::AtLeast,
        );
        assert!(at_least.point_estimate_meets && at_least.passes);
        // Wilson 95 % for 8/10 is (0.490, 0.943): the lower bound is far below 80 %.
        assert!(!at_least.wilson_lower_meets);
        let more_than = verdict(
            &figures,
            eighty,
            AgreementCriterion::PointEstimate,
            ThresholdComparison::MoreThan,
        );
        assert!(!more_than.passes);
        let by_bound = verdict(
            &figures,
            eighty,
            AgreementCriterion::WilsonLowerBound,
            ThresholdComparison::AtLeast,
        );
        assert!(
            !by_bound.passes,
            "the lower bound decides when the policy says so"
        );
    }

    #[test]
    fn nothing_compared_meets_nothing() {
        let v = verdict(
            &agreement::<u8>(&[]),
            Ratio::new(80, 100),
            AgreementCriterion::PointEstimate,
            ThresholdComparison::AtLeast,
        );
        assert!(!v.passes && !v.point_estimate_meets && !v.wilson_lower_meets);
    }
}
