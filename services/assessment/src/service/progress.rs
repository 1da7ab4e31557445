//! Progress: counts and rates by school, county, city and province, from one grouped scan of
//! the participants (each row carries its running counts).

use std::collections::{BTreeMap, HashMap};
use tica_domain::names::{JurisdictionName, SchoolName};

use tica_domain::ScopePath;
use tica_domain::division::DivisionCode;

use super::results::unit_grade;
use super::rules::batch_rules;
use super::{Assessment, Ctx, denied};
use crate::error::{AssessmentError, Result};
use tica_domain::micro_competency::{Dimension, Environment, MICRO_COMPETENCIES, MicroCompetency};

use crate::model::{GradeKey, SchoolResultState};
use crate::store::{self, CodeSums, SchoolSums};

/// The level a progress row is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// One school.
    School,
    /// A county.
    County,
    /// A city.
    City,
    /// A province.
    Province,
}

/// One unit's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProgressRow {
    /// `schools/{code}` or `jurisdictions/{code}`.
    pub unit: String,
    /// Its path.
    pub path: String,
    /// Level.
    pub level: Option<Level>,
    /// Sums over the unit's participants.
    pub sums: SchoolSums,
    /// Schools counted (by grade).
    pub schools: [i64; 4],
    /// Counties counted (by grade): total, excellent, passed, failed.
    pub counties: [i64; 4],
    /// The unit's grade (schools and counties, when the policy grades them; a county's on the
    /// total of a county's rows).
    pub grade: Option<GradeKey>,
    /// Whether the policy grades units of this row's kind at all (schools for school rows,
    /// counties otherwise): false under presets without unit grades (Anhui, Sixian, Beijing),
    /// where the workbook writes 不评定.
    pub grade_rule: bool,
    /// School rows: the school's results state (in its latest batch when several match).
    pub school_result_state: Option<SchoolResultState>,
}

/// The figures of one micro-competency inside a unit.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeProgress {
    /// The catalogue entry.
    pub micro_competency: &'static MicroCompetency,
    /// Its sums (zeros when nobody selected it).
    pub sums: CodeSums,
}

/// Popularity and results per micro-competency inside a unit.
#[derive(Clone, Debug, PartialEq)]
pub struct MicroCompetencyFigures {
    /// All 30 codes in catalogue order.
    pub codes: Vec<CodeProgress>,
    /// Enrolled participants of the unit.
    pub participants: i64,
}

impl MicroCompetencyFigures {
    /// Selections and passes summed over one environment × dimension cell.
    pub fn cell(&self, environment: Environment, dimension: Dimension) -> (i64, i64) {
        self.codes
            .iter()
            .filter(|c| {
                c.micro_competency.environment == environment
                    && c.micro_competency.dimension == dimension
            })
            .fold((0, 0), |(s, p), c| (s + c.sums.selected, p + c.sums.passed))
    }
}

/// ‰, rounded half up; 0 when the whole is 0.
pub fn permille(part: i64, whole: i64) -> i32 {
    if whole <= 0 {
        0
    } else {
        ((part * 1000 * 2 + whole) / (whole * 2)) as i32
    }
}

fn add(into: &mut SchoolSums, s: &SchoolSums) {
    into.participants += s.participants;
    into.selected += s.selected;
    into.hours_completed += s.hours_completed;
    into.submitted += s.submitted;
    into.graded += s.graded;
    into.passed += s.passed;
    into.excellent += s.excellent;
    into.failed += s.failed;
    into.submissions_expected += s.submissions_expected;
    into.submissions_submitted += s.submissions_submitted;
    into.submissions_graded += s.submissions_graded;
    into.submissions_passed += s.submissions_passed;
}

fn tally(counts: &mut [i64; 4], grade: Option<GradeKey>) {
    counts[0] += 1;
    match grade {
        Some(GradeKey::Excellent) => counts[1] += 1,
        Some(GradeKey::Pass) => counts[2] += 1,
        Some(GradeKey::Fail) => counts[3] += 1,
        None => {}
    }
}

/// The segment of `path` naming the unit of `level` (school paths end in `s{code}`).
fn unit_of(path: &str, level: Level) -> Option<(String, String)> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (index, is_school) = match level {
        Level::School => (segments.iter().position(|s| s.starts_with('s'))?, true),
        Level::Province => (0, false),
        Level::City | Level::County => {
            let wanted = if level == Level::City {
                tica_domain::JurisdictionLevel::City
            } else {
                tica_domain::JurisdictionLevel::County
            };
            (
                segments
                    .iter()
                    .position(|s| DivisionCode::parse(s).is_ok_and(|c| c.level() == wanted))?,
                false,
            )
        }
    };
    let prefix = format!("/{}/", segments[..=index].join("/"));
    let segment = segments[index];
    let unit = if is_school {
        format!("schools/{}", &segment[1..])
    } else {
        format!("jurisdictions/{segment}")
    };
    Some((unit, prefix))
}

impl Assessment {
    /// Rows for every unit of `level` inside `scope` (year 0: every year), plus their total.
    /// School and county grades follow each batch's policy.
    pub(crate) async fn progress_rows(
        &self,
        scope: &ScopePath,
        level: Level,
        year: i32,
    ) -> Result<(Vec<ProgressRow>, ProgressRow)> {
        let sums = store::school_sums(&self.db, scope, i64::from(year), "").await?;
        // Grades: per school by its batch's policy, then per county over its schools.
        let mut rules_of = BTreeMap::new();
        let mut school_grades = Vec::with_capacity(sums.len());
        for s in &sums {
            if !rules_of.contains_key(&s.batch_id) {
                let batch = store::batch(&self.db, &s.batch_id).await?.ok_or_else(|| {
                    AssessmentError::Internal(format!("batches/{} vanished", s.batch_id))
                })?;
                rules_of.insert(s.batch_id.clone(), batch_rules(&batch)?);
            }
            let rules = &rules_of[&s.batch_id];
            school_grades.push(
                unit_grade(
                    rules.school_grade.as_ref(),
                    s.participants,
                    s.graded,
                    s.excellent,
                    s.failed,
                )
                .0,
            );
        }
        let mut counties: BTreeMap<String, ([i64; 4], String)> = BTreeMap::new();
        for (s, grade) in sums.iter().zip(&school_grades) {
            if let Some((_, prefix)) =
                unit_of(&s.path, Level::County).or_else(|| unit_of(&s.path, Level::City))
            {
                let entry = counties
                    .entry(prefix)
                    .or_insert(([0; 4], s.batch_id.clone()));
                tally(&mut entry.0, *grade);
            }
        }
        let county_grade = |prefix: &str| -> Option<GradeKey> {
            let (counts, batch) = counties.get(prefix)?;
            let graded = counts[1] + counts[2] + counts[3];
            unit_grade(
                rules_of.get(batch)?.county_grade.as_ref(),
                counts[0],
                graded,
                counts[1],
                counts[3],
            )
            .0
        };
        // School results' states, the latest batch's winning (ordered by path, then year).
        let mut states: BTreeMap<String, SchoolResultState> = BTreeMap::new();
        if level == Level::School {
            for (_, _, path, state) in
                store::school_result_states(&self.db, scope, i64::from(year)).await?
            {
                if let Some(state) = SchoolResultState::from_key(&state) {
                    states.insert(path, state);
                }
            }
        }
        let grades_schools = |batch: &str| {
            rules_of
                .get(batch)
                .and_then(|r| r.school_grade.as_ref())
                .is_some_and(|r| r.enabled)
        };
        let grades_counties = |batch: &str| {
            rules_of
                .get(batch)
                .and_then(|r| r.county_grade.as_ref())
                .is_some_and(|r| r.enabled)
        };
        let mut rows: BTreeMap<String, ProgressRow> = BTreeMap::new();
        let mut total = ProgressRow {
            unit: String::new(),
            path: scope.as_str().to_owned(),
            level: None,
            ..Default::default()
        };
        for (s, grade) in sums.iter().zip(&school_grades) {
            add(&mut total.sums, s);
            tally(&mut total.schools, *grade);
            let Some((unit, prefix)) = unit_of(&s.path, level) else {
                continue;
            };
            let row = rows.entry(prefix.clone()).or_insert_with(|| ProgressRow {
                unit,
                path: prefix,
                level: Some(level),
                ..Default::default()
            });
            add(&mut row.sums, s);
            tally(&mut row.schools, *grade);
            if level == Level::School {
                row.grade = *grade;
                row.grade_rule |= grades_schools(&s.batch_id);
                row.school_result_state = states.get(&row.path).copied();
            } else {
                row.grade_rule |= grades_counties(&s.batch_id);
            }
            total.grade_rule |= grades_counties(&s.batch_id);
        }
        for (prefix, _) in counties.iter() {
            let g = county_grade(prefix);
            tally(&mut total.counties, g);
            for row in rows.values_mut() {
                if prefix.starts_with(&row.path) {
                    tally(&mut row.counties, g);
                }
            }
            if level == Level::County
                && let Some(row) = rows.get_mut(prefix)
            {
                row.grade = g;
            }
            // A county's own figures: its grade goes on the total.
            if prefix == scope.as_str() {
                total.grade = g;
            }
        }
        Ok((rows.into_values().collect(), total))
    }

    /// The display names of progress units (`schools/…` by one `BatchGetSchools` per 1000
    /// schools, `jurisdictions/…` one by one), as the caller may see them. A unit the roster
    /// does not know is named by the empty string; any other refusal reaches the caller.
    pub async fn unit_names(&self, ctx: &Ctx, units: &[&str]) -> Result<HashMap<String, String>> {
        let mut names = HashMap::with_capacity(units.len());
        let codes: Vec<String> = units
            .iter()
            .filter_map(|u| SchoolName::id_of(u))
            .map(str::to_owned)
            .collect();
        let schools = self.roster.schools(&ctx.token, &codes).await?;
        for unit in units {
            let name = if let Some(code) = SchoolName::id_of(unit) {
                schools.get(code).map(|s| s.display_name.clone())
            } else if let Some(code) = JurisdictionName::code_of(unit) {
                match self.roster.jurisdiction_name(&ctx.token, code).await {
                    Ok(name) => Some(name),
                    Err(AssessmentError::NotFound(_)) => None,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            names.insert((*unit).to_owned(), name.unwrap_or_default());
        }
        Ok(names)
    }

    /// The display names of progress rows' units (see [`Assessment::unit_names`]).
    pub async fn row_names(
        &self,
        ctx: &Ctx,
        rows: &[ProgressRow],
    ) -> Result<HashMap<String, String>> {
        let units: Vec<&str> = rows.iter().map(|r| r.unit.as_str()).collect();
        self.unit_names(ctx, &units).await
    }

    /// Progress rows of `level` inside `parent` (default: the caller's scope).
    pub async fn list_progress(
        &self,
        ctx: &Ctx,
        parent: Option<ScopePath>,
        level: Level,
        year: i32,
    ) -> Result<(Vec<ProgressRow>, ProgressRow)> {
        let scope = match parent {
            Some(p) if ctx.caller.covers(&p) => p,
            Some(_) => return Err(denied(&ctx.caller)),
            None => ctx.caller.scope.clone(),
        };
        if ctx.caller.role == tica_auth::Role::Teacher {
            return Err(denied(&ctx.caller));
        }
        self.progress_rows(&scope, level, year).await
    }

    /// Selections and results per micro-competency inside `parent` (default: the caller's
    /// scope), for `year` (0: every year) and `batch` (empty: every batch). Access as
    /// [`Assessment::list_progress`].
    pub async fn micro_competency_progress(
        &self,
        ctx: &Ctx,
        parent: Option<ScopePath>,
        year: i32,
        batch: &str,
    ) -> Result<MicroCompetencyFigures> {
        let scope = match parent {
            Some(p) if ctx.caller.covers(&p) => p,
            Some(_) => return Err(denied(&ctx.caller)),
            None => ctx.caller.scope.clone(),
        };
        if ctx.caller.role == tica_auth::Role::Teacher {
            return Err(denied(&ctx.caller));
        }
        let year = i64::from(year);
        let sums = store::code_sums(&self.db, &scope, year, batch).await?;
        let participants = store::school_sums(&self.db, &scope, year, batch)
            .await?
            .iter()
            .map(|s| s.participants)
            .sum();
        let codes = MICRO_COMPETENCIES
            .iter()
            .map(|m| CodeProgress {
                micro_competency: m,
                sums: sums
                    .iter()
                    .find(|s| s.code == m.code)
                    .cloned()
                    .unwrap_or_else(|| CodeSums {
                        code: m.code.to_owned(),
                        ..Default::default()
                    }),
            })
            .collect();
        Ok(MicroCompetencyFigures {
            codes,
            participants,
        })
    }

    /// One unit's progress.
    pub async fn get_progress(
        &self,
        ctx: &Ctx,
        unit: ScopePath,
        level: Level,
        year: i32,
    ) -> Result<ProgressRow> {
        let (rows, mut total) = self
            .list_progress(ctx, Some(unit.clone()), level, year)
            .await?;
        match rows.into_iter().find(|r| r.path == unit.as_str()) {
            Some(row) => Ok(row),
            None => {
                total.level = Some(level);
                total.path = unit.as_str().to_owned();
                Ok(total)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permille_rounds_half_up() {
        assert_eq!(permille(1, 3), 333);
        assert_eq!(permille(2, 3), 667);
        assert_eq!(permille(1, 2000), 1);
        assert_eq!(permille(0, 0), 0);
    }

    #[test]
    fn a_schools_path_names_its_school_county_city_and_province() {
        let path = "/340000/341300/341324/s3413240001/";
        assert_eq!(
            unit_of(path, Level::School).unwrap().0,
            "schools/3413240001"
        );
        assert_eq!(
            unit_of(path, Level::County).unwrap(),
            (
                "jurisdictions/341324".into(),
                "/340000/341300/341324/".into()
            )
        );
        assert_eq!(
            unit_of(path, Level::City).unwrap().0,
            "jurisdictions/341300"
        );
        assert_eq!(
            unit_of(path, Level::Province).unwrap().0,
            "jurisdictions/340000"
        );
        assert_eq!(
            unit_of("/110000/110105/s1/", Level::City),
            None,
            "municipalities have no city level"
        );
    }
}
