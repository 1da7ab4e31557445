//! The two-stage stratified draw of a review round (issue 4 "Stratified"; Ningxia
//! 《宁夏测评实施办法》§五(一)4 "按照每县学校数的 5%、每校不低于 5% 的教师比例随机抽取"):
//! per county, schools first by their codes, then teachers inside each drawn school by their
//! numbers, each stratum giving [`super::stratum_size`] items, all with one seed. A third party
//! reproduces it with the reference sampler run per stratum on the same codes.

use super::consistent::Sampler;
use super::stratum_size;
use crate::policy::Ratio;

/// A school and its teachers' numbers.
#[derive(Clone, Debug)]
pub struct SchoolStratum {
    /// School code (the school's ticket is computed from it).
    pub code: String,
    /// Teacher numbers.
    pub teachers: Vec<String>,
}

/// A county and its schools.
#[derive(Clone, Debug)]
pub struct CountyStratum {
    /// County code.
    pub code: String,
    /// Schools.
    pub schools: Vec<SchoolStratum>,
}

/// The rates of one stage (county review or province audit).
#[derive(Clone, Copy, Debug)]
pub struct StagePlan {
    /// Share of each county's schools.
    pub school_rate: Ratio,
    /// Share of each drawn school's teachers.
    pub teacher_rate: Ratio,
    /// At least this many per stratum.
    pub minimum: u64,
}

/// A drawn item and its ticket as the reference prints it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drawn {
    /// Code or number.
    pub id: String,
    /// Printed ticket.
    pub ticket: String,
}

/// A drawn school with its drawn teachers, in draw order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawnSchool {
    /// The school.
    pub school: Drawn,
    /// Of `of` teachers.
    pub of: usize,
    /// Its drawn teachers.
    pub teachers: Vec<Drawn>,
}

/// One county's sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawnCounty {
    /// County code.
    pub code: String,
    /// Of `of` schools.
    pub of: usize,
    /// Drawn schools, in draw order.
    pub schools: Vec<DrawnSchool>,
}

fn draw_county(sampler: &Sampler, county: &CountyStratum, plan: &StagePlan) -> DrawnCounty {
    let codes: Vec<&str> = county.schools.iter().map(|s| s.code.as_str()).collect();
    let take = stratum_size(plan.school_rate, codes.len() as u64, plan.minimum) as usize;
    let schools = sampler
        .first_with_tickets(&codes, take)
        .into_iter()
        .map(|(i, ticket)| {
            let school = &county.schools[i];
            let take = stratum_size(
                plan.teacher_rate,
                school.teachers.len() as u64,
                plan.minimum,
            ) as usize;
            let teachers = sampler
                .first_with_tickets(&school.teachers, take)
                .into_iter()
                .map(|(t, ticket)| Drawn {
                    id: school.teachers[t].clone(),
                    ticket,
                })
                .collect();
            DrawnSchool {
                school: Drawn {
                    id: school.code.clone(),
                    ticket,
                },
                of: school.teachers.len(),
                teachers,
            }
        })
        .collect();
    DrawnCounty {
        code: county.code.clone(),
        of: county.schools.len(),
        schools,
    }
}

/// Draws every county's sample under `seed`, the counties shared among `threads` threads (the
/// result does not depend on how many).
pub fn stratified_draw(
    seed: &str,
    counties: &[CountyStratum],
    plan: &StagePlan,
    threads: usize,
) -> Vec<DrawnCounty> {
    let sampler = Sampler::new(seed);
    let threads = threads.clamp(1, counties.len().max(1));
    if threads == 1 {
        return counties
            .iter()
            .map(|c| draw_county(&sampler, c, plan))
            .collect();
    }
    let chunk = counties.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = counties
            .chunks(chunk)
            .map(|part| {
                let sampler = &sampler;
                scope.spawn(move || {
                    part.iter()
                        .map(|c| draw_county(sampler, c, plan))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a draw thread does not panic"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::TicketSequence;

    fn county(code: &str, schools: usize, teachers: usize) -> CountyStratum {
        CountyStratum {
            code: code.to_owned(),
            schools: (1..=schools)
                .map(|s| {
                    let school = format!("{code}{s:04}");
                    SchoolStratum {
                        teachers: (1..=teachers).map(|t| format!("{school}{t:04}")).collect(),
                        code: school,
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn each_stage_takes_ceil_of_its_rate_from_every_stratum_in_ticket_order() {
        let counties = vec![county("341324", 21, 7), county("341323", 3, 40)];
        let plan = StagePlan {
            school_rate: Ratio::new(15, 100),
            teacher_rate: Ratio::new(15, 100),
            minimum: 1,
        };
        let drawn = stratified_draw("20 dice digits", &counties, &plan, 1);
        // 15 % of 21 schools → 4; of 3 → 1. 15 % of 7 teachers → 2; of 40 → 6.
        assert_eq!(drawn[0].schools.len(), 4);
        assert_eq!(drawn[1].schools.len(), 1);
        assert!(drawn[0].schools.iter().all(|s| s.teachers.len() == 2));
        assert_eq!(drawn[1].schools[0].teachers.len(), 6);
        // The schools are the first tickets of their county, as the reference would draw them.
        let reference = TicketSequence::new(
            "20 dice digits",
            counties[0].schools.iter().map(|s| s.code.as_str()),
        );
        let expected: Vec<String> = reference.first(4).iter().map(|t| t.id.clone()).collect();
        let got: Vec<String> = drawn[0]
            .schools
            .iter()
            .map(|s| s.school.id.clone())
            .collect();
        assert_eq!(got, expected);
        assert_eq!(
            drawn[0].schools[0].school.ticket,
            reference.first(1)[0].display()
        );
    }

    #[test]
    fn the_draw_does_not_depend_on_the_number_of_threads() {
        let counties: Vec<CountyStratum> = (1..=9)
            .map(|c| county(&format!("3413{c:02}"), 12, 30))
            .collect();
        let plan = StagePlan {
            school_rate: Ratio::new(5, 100),
            teacher_rate: Ratio::new(5, 100),
            minimum: 1,
        };
        assert_eq!(
            stratified_draw("7", &counties, &plan, 1),
            stratified_draw("7", &counties, &plan, 4)
        );
    }
}
