//! TICA's business rules and reference data for the Teacher ICT Application Competence
//! Project 2.0 (中小学教师信息技术应用能力提升工程2.0), without I/O, async or logging.
//!
//! The rules come from the official documents named in `docs/policies.md`; every rule cites
//! its document by short name and section (e.g. 《宁夏测评实施办法》§五(一)3).
//!
//! | module | what it holds |
//! |---|---|
//! | [`csv_cell`] | CSV cells a spreadsheet will not run as formulas (OWASP CSV injection) |
//! | [`resident_id`] | GB 11643-1999 citizen identification numbers (身份证号) |
//! | [`division`] | GB/T 2260 administrative division codes and the jurisdiction tree |
//! | [`scope`] | access scopes as materialised paths, with exact SQL range bounds |
//! | [`school`] | school codes and school kinds |
//! | [`person`] | teacher attributes: stage, category, roles, sex, numbers, name masking, the certificate search key |
//! | [`policy`] | assessment policies as data: rules, the four seed presets, evaluation |
//! | [`team`] | team size rules and team roster checks |
//! | [`assessor`] | assessor (测评员) levels and the assessor state machine |
//! | [`eligibility`] | who may grade a submission and who may review a drawn teacher |
//! | [`names`] | resource names `{collection}/{id}`, one type per collection |
//! | [`micro_competency`] | the 30 micro-competencies (微能力) with their credits |
//! | [`time_zone`] | the calendar date in China (UTC+8) |
#![deny(missing_docs)]

pub mod assessor;
pub mod csv_cell;
pub mod division;
pub mod eligibility;
pub mod micro_competency;
pub mod names;
pub mod person;
pub mod policy;
pub mod resident_id;
pub mod sampling;
pub mod school;
pub mod scope;
pub mod team;
pub mod time_zone;

mod code_charset;
mod labels;

pub use assessor::{AssessorAction, AssessorLevel, AssessorState, RegistrationUnit};
pub use division::{DivisionCode, DivisionCodeError, JurisdictionLevel};
pub use micro_competency::{Dimension, Environment, MICRO_COMPETENCIES, MicroCompetency};
pub use person::{PersonRole, Sex, Stage, TeacherCategory};
pub use resident_id::{ResidentId, ResidentIdError};
pub use school::SchoolKind;
pub use scope::ScopePath;
pub use team::{SizeRange, TeamKind, TeamMemberFacts, TeamProblem, TeamRules};
pub use time_zone::today_in_china;
