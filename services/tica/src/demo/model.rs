//! The county the demo plays, and the hidden truths behind it: who is strong or weak, what each
//! teacher picks, whose hours fall short, whose video does not show them, which school grades
//! too kindly. None of this is sent to a server; the servers only see what people do.
//!
//! Everything follows from `--seed` through the roster's SplitMix64 [`Rng`], so the same seed
//! gives the same county, the same year and the same numbers.

use tica_domain::PersonRole;
use tica_domain::micro_competency::{Environment, MICRO_COMPETENCIES, MicroCompetency, by_code};
use tica_domain::policy::{SelectionRequirement, draw_picks};
use tica_domain::sampling::TicketSequence;
use tica_proto::tica::common::v1::Grade;
use tica_sample::{CountyModel, CountySetting, CountySpec, Rng, SampleRoster};

/// Which county and policy the demo plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Policy {
    /// 泗县 (Anhui) 2022: the county certifies; one certificate per micro-competency.
    Sixian,
    /// 永宁县 (Ningxia): school → county review → region audit (online and offline); level
    /// certificates.
    Ningxia,
}

/// How good a teacher's work is, in truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quality {
    /// Every piece excellent.
    Excellent,
    /// Sound work; now and then an excellent piece.
    Ok,
    /// One piece does not pass.
    Weak,
}

/// One school of the model.
#[derive(Debug, Clone)]
pub struct School {
    /// School code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Indices into [`Model::teachers`], the principal first.
    pub teachers: Vec<usize>,
    /// The school-level assessor (a teacher index), when the school has two or more staff.
    pub assessor: Option<usize>,
    /// A second school-level assessor (Ningxia: the principal, who grades the first; county
    /// assessors may not grade there).
    pub second: Option<usize>,
    /// The environments its classrooms support (1 = A only, 2 = A and B, 3 = all).
    pub environments: u8,
}

/// One teacher of the model.
#[derive(Debug, Clone)]
pub struct Teacher {
    /// Teacher number.
    pub number: String,
    /// Index into [`Model::schools`].
    pub school: usize,
    /// In truth.
    pub quality: Quality,
    /// The micro-competencies finally selected.
    pub picks: Vec<&'static str>,
    /// What the teacher hands in: the picks, then `leadership` for a principal where the
    /// policy adds the leadership assessment (Ningxia).
    pub handed: Vec<&'static str>,
    /// The true grade of each handed-in piece (parallel to [`Teacher::handed`]).
    pub truth: Vec<Grade>,
    /// A first selection that the policy refuses, when the teacher makes one.
    pub first_try: Option<Vec<&'static str>>,
    /// Practice hours reported, in centihours (3000 = 30 h; 2000 = short).
    pub practice_centihours: i64,
    /// Practice hours the policy requires, in centihours.
    pub practice_required: i64,
    /// Their video does not show them: the grader marks the evidence invalid.
    pub invalid_evidence: bool,
}

impl Teacher {
    /// Whether the teacher passes in the end: full hours, evidence that shows them, and no
    /// piece below PASS.
    pub fn passes(&self) -> bool {
        self.practice_centihours >= self.practice_required
            && !self.invalid_evidence
            && self.truth.iter().all(|g| *g != Grade::Fail)
    }

    /// The teacher's grade in truth (what a visit to their lesson finds): FAIL unless they
    /// pass, EXCELLENT when every piece is, else PASS.
    pub fn overall(&self) -> Grade {
        if !self.passes() {
            Grade::Fail
        } else if self.truth.iter().all(|g| *g == Grade::Excellent) {
            Grade::Excellent
        } else {
            Grade::Pass
        }
    }

    /// The true grade of the piece `code` (a pick or `leadership`), the evidence's validity
    /// included (an invalid video fails the first pick).
    pub fn truth_of(&self, code: &str) -> Option<Grade> {
        let k = self.handed.iter().position(|c| *c == code)?;
        Some(if self.invalid_evidence && k == 0 {
            Grade::Fail
        } else {
            self.truth[k]
        })
    }
}

impl Policy {
    /// Centihours required of each kind (online, practice): 30 h (Sixian) or 25 h (Ningxia).
    pub fn centihours_each(self) -> i64 {
        match self {
            Policy::Sixian => 3000,
            Policy::Ningxia => 2500,
        }
    }
}

/// The county, its people and the truths.
#[derive(Debug, Clone)]
pub struct Model {
    /// Which policy.
    pub policy: Policy,
    /// The roster files' content.
    pub roster: SampleRoster,
    /// Province, city, county: (code, name).
    pub province: (String, String),
    /// The city.
    pub city: (String, String),
    /// The county.
    pub county: (String, String),
    /// Schools in code order.
    pub schools: Vec<School>,
    /// Teachers in roster order.
    pub teachers: Vec<Teacher>,
    /// The county's training team (teacher indices); registered as county-level assessors,
    /// they grade school assessors' own work and review the county's draw.
    pub training_team: Vec<usize>,
    /// The school whose assessor grades too kindly (index): always drawn first by the public
    /// seed, sent back, re-graded.
    pub disputed: usize,
    /// The public seed of the county review (20 digits, as twenty ten-sided dice would give).
    pub seed: String,
}

/// Popular picks first (《泗县实施意见》 and the province's statistics are silent on shares: these are
/// illustrative weights).
pub(super) fn weight(code: &str) -> u64 {
    match code {
        "A3" | "A5" | "A6" => 12,
        "A1" | "A9" | "B2" | "B6" => 8,
        "C1" | "A2" | "A7" | "B1" => 5,
        _ => 2,
    }
}

impl Model {
    /// Builds the county for `teachers` teachers from `seed`.
    pub fn build(policy: Policy, teachers: usize, seed: u64) -> Model {
        let spec = match policy {
            Policy::Sixian => CountySpec::sixian(teachers, seed),
            Policy::Ningxia => CountySpec::ningxia(teachers, seed),
        };
        debug_assert!(matches!(
            (policy, spec.model),
            (Policy::Sixian, CountyModel::Sixian2022) | (Policy::Ningxia, CountyModel::Ningxia)
        ));
        let roster = SampleRoster::county(&spec);
        let named = |i: usize| {
            let j = &roster.jurisdictions[i];
            (j.code.to_string(), j.name.clone())
        };
        let (province, city, county) = (named(0), named(1), named(2));
        let mut rng = Rng::new(seed ^ 0x7469_6361_6465_6d6f);

        // Schools and their staff, principal first.
        let mut schools: Vec<School> = roster
            .schools
            .iter()
            .map(|s| School {
                code: s.code.clone(),
                name: s.name.clone(),
                teachers: Vec::new(),
                assessor: None,
                second: None,
                environments: match roster.county_setting(&s.code) {
                    Some(CountySetting::Village) => 1,
                    Some(CountySetting::Town) | None => 2,
                    Some(CountySetting::CountySeat) => 3,
                },
            })
            .collect();
        let index_of = |code: &str| schools.iter().position(|s| s.code == code);
        let mut at = Vec::with_capacity(roster.teachers.len());
        for t in &roster.teachers {
            at.push(index_of(&t.school).expect("every teacher's school is in the roster"));
        }
        for (i, &s) in at.iter().enumerate() {
            if roster.teachers[i].roles.contains("校长") {
                schools[s].teachers.insert(0, i);
            } else {
                schools[s].teachers.push(i);
            }
        }
        for school in &mut schools {
            school.assessor = school.teachers.get(1).copied();
            // Ningxia: county assessors may not grade, so the school's second assessor is the
            // principal (each of the two grades the other).
            if policy == Policy::Ningxia && school.assessor.is_some() {
                school.second = school.teachers.first().copied();
            }
        }

        // The public seed, and the school it draws first: that school grades too kindly.
        let seed_digits: String = (0..20)
            .map(|_| char::from(b'0' + rng.below(10) as u8))
            .collect();
        let first = TicketSequence::new(&seed_digits, schools.iter().map(|s| s.code.as_str()))
            .first(1)
            .first()
            .map(|t| t.id.clone())
            .expect("a county has schools");
        let disputed = schools
            .iter()
            .position(|s| s.code == first)
            .expect("the draw names a school of the county");

        // Teachers: quality, picks, hours, evidence.
        let mut people = Vec::with_capacity(roster.teachers.len());
        let ningxia = super::ningxia::selection_rule();
        // Ningxia: the first teacher held to each requirement (principals apart) that has a
        // refusable first try makes one.
        let mut refusals: Vec<(bool, &SelectionRequirement)> = Vec::new();
        for (i, t) in roster.teachers.iter().enumerate() {
            let s = at[i];
            let school = &schools[s];
            let (excellent_share, weak_share) = match school.environments {
                1 => (8 + rng.below(8), rng.below(4)),
                2 => (15 + rng.below(8), rng.below(4)),
                _ => (22 + rng.below(11), rng.below(3)),
            };
            let roll = rng.below(100);
            let quality = if s == disputed {
                Quality::Ok
            } else if roll < excellent_share {
                Quality::Excellent
            } else if roll < excellent_share + weak_share {
                Quality::Weak
            } else {
                Quality::Ok
            };
            let (picks, first_try, principal) = match policy {
                Policy::Sixian => {
                    let picks = pick(&mut rng, school.environments, policy);
                    let first_try = (s != disputed && rng.below(100) < 4)
                        .then(|| too_few(&picks))
                        .flatten();
                    (picks, first_try, false)
                }
                Policy::Ningxia => {
                    let profile = super::ningxia::profile(t);
                    let case = super::ningxia::case_of(&ningxia, &profile);
                    let picks = draw_picks(&case.requirement, |n| rng.below(n), weight);
                    // A principal also hands in the leadership assessment (三(二)1).
                    let principal = ningxia.principal_leadership_assessment
                        && profile.roles.contains(&PersonRole::Principal);
                    let held_to = (principal, &case.requirement);
                    let forced = s != disputed && !refusals.contains(&held_to) && {
                        refusals.push(held_to);
                        true
                    };
                    let first_try = (s != disputed && (forced || rng.below(100) < 4))
                        .then(|| super::ningxia::refused_try(case, &picks))
                        .flatten();
                    (picks, first_try, principal)
                }
            };
            let mut handed = picks.clone();
            if principal {
                handed.push(tica_domain::policy::LEADERSHIP_SUBMISSION_ID);
            }
            let truth = truths(&mut rng, quality, handed.len());
            let full = policy.centihours_each();
            let practice_centihours = if s != disputed && rng.below(1000) < 15 {
                full - 1000
            } else {
                full
            };
            let invalid_evidence = s != disputed && rng.below(100) < 1;
            people.push(Teacher {
                number: t.number.clone(),
                school: s,
                quality,
                picks,
                handed,
                truth,
                first_try,
                practice_centihours,
                practice_required: full,
                invalid_evidence,
            });
        }

        // The training team: backbone teachers of town and county-seat schools, never a
        // principal or a school's assessor, from at least two schools.
        let wanted = match policy {
            Policy::Sixian => (teachers / 190).clamp(4, 16),
            // The region's rule for a county's training team: 8–10 people.
            Policy::Ningxia => (teachers / 190).clamp(8, 10),
        };
        let mut team = Vec::new();
        let taken = |i: usize, schools: &[School]| {
            schools
                .iter()
                .any(|s| s.teachers.first() == Some(&i) || s.assessor == Some(i))
        };
        for pass in 0..2 {
            for (i, t) in roster.teachers.iter().enumerate() {
                if team.len() >= wanted {
                    break;
                }
                let school = &schools[at[i]];
                let eligible = !taken(i, &schools)
                    && !team.contains(&i)
                    && (pass == 1 || (school.environments >= 2 && t.category.contains("骨干")))
                    && team.iter().filter(|&&m| at[m] == at[i]).count() < 2;
                if eligible {
                    team.push(i);
                }
            }
        }
        Model {
            policy,
            roster,
            province,
            city,
            county,
            schools,
            teachers: people,
            training_team: team,
            disputed,
            seed: seed_digits,
        }
    }

    /// The grade the school's grader gives `teacher`'s `k`-th handed-in piece: the truth, except in the
    /// disputed school before it is sent back, whose grader is kind (PASS → EXCELLENT,
    /// FAIL → PASS).
    pub fn school_grade(&self, teacher: usize, k: usize, kind: bool) -> Grade {
        let truth = self.teachers[teacher].truth[k];
        if kind && self.teachers[teacher].school == self.disputed {
            match truth {
                Grade::Fail => Grade::Pass,
                _ => Grade::Excellent,
            }
        } else {
            truth
        }
    }

    /// The county's code.
    pub fn county_code(&self) -> &str {
        &self.county.0
    }
}

/// Codes in order of preference under a school's environments until the policy's credits are
/// met (Anhui: ≥ 20 credits, 《泗县实施意见》附件2 §二(二)2; Ningxia: three codes — the model draws Ningxia's
/// picks from the preset's rule, [`draw_picks`]).
pub(super) fn pick(rng: &mut Rng, environments: u8, policy: Policy) -> Vec<&'static str> {
    let mut pool: Vec<&'static MicroCompetency> = MICRO_COMPETENCIES
        .iter()
        .filter(|m| match m.environment {
            Environment::Multimedia => true,
            Environment::Blended => environments >= 2,
            Environment::Smart => environments >= 3,
        })
        .collect();
    let mut picks = Vec::new();
    let mut credits = 0u32;
    loop {
        let total: u64 = pool.iter().map(|m| weight(m.code)).sum();
        let mut roll = rng.below(total);
        let at = pool
            .iter()
            .position(|m| {
                let w = weight(m.code);
                if roll < w {
                    true
                } else {
                    roll -= w;
                    false
                }
            })
            .expect("a roll below the total lands on a code");
        let m = pool.remove(at);
        picks.push(m.code);
        credits += u32::from(m.credits);
        let done = match policy {
            Policy::Sixian => credits >= 20,
            Policy::Ningxia => picks.len() >= 3,
        };
        if done || pool.is_empty() {
            break;
        }
    }
    picks.sort_by_key(|c| MICRO_COMPETENCIES.iter().position(|m| m.code == *c));
    picks
}

/// The true grades of `n` picks.
fn truths(rng: &mut Rng, quality: Quality, n: usize) -> Vec<Grade> {
    let weak = (quality == Quality::Weak).then(|| rng.below(n as u64) as usize);
    (0..n)
        .map(|k| match quality {
            Quality::Excellent => Grade::Excellent,
            _ if Some(k) == weak => Grade::Fail,
            _ if rng.below(10) == 0 => Grade::Excellent,
            _ => Grade::Pass,
        })
        .collect()
}

/// A first try with too few credits: the picks' first codes while they stay under 20.
fn too_few(picks: &[&'static str]) -> Option<Vec<&'static str>> {
    let mut chosen = Vec::new();
    let mut credits = 0u32;
    for code in picks {
        let c = u32::from(by_code(code)?.credits);
        if credits + c >= 20 {
            break;
        }
        credits += c;
        chosen.push(*code);
    }
    (!chosen.is_empty()).then_some(chosen)
}

/// Total credits of `codes`.
pub fn credits(codes: &[&str]) -> u32 {
    codes
        .iter()
        .filter_map(|c| by_code(c))
        .map(|m| u32::from(m.credits))
        .sum()
}
