//! What the assessment service needs from the roster, asked over the roster's gRPC API with
//! the caller's own bearer token: the roster decides what the caller may see, so this service
//! can never read more on someone's behalf than they could themselves.

use std::collections::HashMap;
use tica_domain::names::{JurisdictionName, SchoolName, TeacherName};

use tica_auth::BearerToken;
use tica_client::{Refusal, Upstream, every};
use tica_domain::division::DivisionCode;
use tica_domain::{AssessorLevel, AssessorState, PersonRole, ScopePath, TeacherCategory};
use tica_proto::tica::roster::v1 as pb;
use tonic::transport::Channel;

use crate::error::{AssessmentError, Result};

/// A teacher as the roster knows them.
#[derive(Clone, Debug)]
pub struct RosterTeacher {
    /// Teacher number.
    pub number: String,
    /// Name (personal data).
    pub display_name: String,
    /// Masked resident ID number.
    pub id_number_masked: String,
    /// Current school code.
    pub school: String,
    /// The school's jurisdiction.
    pub jurisdiction: DivisionCode,
    /// Birth date.
    pub birth_date: time::Date,
    /// Ningxia category.
    pub category: TeacherCategory,
    /// Roles.
    pub roles: Vec<PersonRole>,
    /// Subject taught.
    pub subject: String,
}

impl RosterTeacher {
    /// The current school's path.
    pub fn path(&self) -> ScopePath {
        ScopePath::for_school(self.jurisdiction, &self.school)
    }
}

/// A school as the roster knows it.
#[derive(Clone, Debug)]
pub struct RosterSchool {
    /// Code.
    pub code: String,
    /// Name.
    pub display_name: String,
    /// County (or city).
    pub jurisdiction: DivisionCode,
}

impl RosterSchool {
    /// Its path.
    pub fn path(&self) -> ScopePath {
        ScopePath::for_school(self.jurisdiction, &self.code)
    }
}

/// An assessor registration.
#[derive(Clone, Debug)]
pub struct RosterAssessor {
    /// Assessor id.
    pub id: String,
    /// The person.
    pub teacher_number: String,
    /// Level.
    pub level: AssessorLevel,
    /// `schools/{code}` or `jurisdictions/{code}`.
    pub registered_at: String,
    /// State.
    pub state: AssessorState,
    /// Subjects (empty: any).
    pub subjects: Vec<String>,
}

/// A client of the roster service.
#[derive(Clone, Debug)]
pub struct Roster {
    channel: Channel,
}

fn teacher_from(t: pb::Teacher) -> Result<RosterTeacher> {
    let corrupt = |what: &str| {
        AssessmentError::Internal(format!(
            "the roster returned a teacher without a valid {what}"
        ))
    };
    let birth = t.birth_date.as_ref().ok_or_else(|| corrupt("birth date"))?;
    let jurisdiction =
        JurisdictionName::code_of(&t.jurisdiction).ok_or_else(|| corrupt("jurisdiction"))?;
    let category = match pb::TeacherCategory::try_from(t.category) {
        Ok(pb::TeacherCategory::SpecialOrRegionalBackbone) => {
            TeacherCategory::SpecialOrRegionalBackbone
        }
        Ok(pb::TeacherCategory::CityCountyBackbone) => TeacherCategory::CityCountyBackbone,
        Ok(pb::TeacherCategory::Kindergarten) => TeacherCategory::Kindergarten,
        _ => TeacherCategory::Ordinary,
    };
    let roles = t
        .roles
        .iter()
        .filter_map(|r| match pb::PersonRole::try_from(*r) {
            Ok(pb::PersonRole::Teacher) => Some(PersonRole::Teacher),
            Ok(pb::PersonRole::Principal) => Some(PersonRole::Principal),
            Ok(pb::PersonRole::TeachingResearcher) => Some(PersonRole::TeachingResearcher),
            Ok(pb::PersonRole::AuxiliaryStaff) => Some(PersonRole::AuxiliaryStaff),
            _ => None,
        })
        .collect();
    Ok(RosterTeacher {
        number: TeacherName::id_of(&t.name).unwrap_or(&t.name).to_owned(),
        display_name: t.display_name,
        id_number_masked: t.id_number,
        school: SchoolName::id_of(&t.school).unwrap_or(&t.school).to_owned(),
        jurisdiction,
        birth_date: tica_server::proto_time::date_from_proto(birth)
            .map_err(|_| corrupt("birth date"))?,
        category,
        roles,
        subject: t.subject,
    })
}

fn school_from(s: pb::School) -> Result<RosterSchool> {
    Ok(RosterSchool {
        code: SchoolName::id_of(&s.name).unwrap_or(&s.name).to_owned(),
        display_name: s.display_name,
        jurisdiction: JurisdictionName::code_of(&s.jurisdiction).ok_or_else(|| {
            AssessmentError::Internal("the roster returned a school without a jurisdiction".into())
        })?,
    })
}

impl Roster {
    /// A client on `channel` (connected lazily).
    pub fn new(channel: Channel) -> Roster {
        Roster { channel }
    }

    fn client(&self, token: &BearerToken) -> tica_client::Roster {
        tica_client::roster(self.channel.clone(), &token.0)
    }

    /// One teacher.
    pub async fn teacher(&self, token: &BearerToken, number: &str) -> Result<RosterTeacher> {
        let what = format!("teachers/{number}");
        let t = self
            .client(token)
            .get_teacher(pb::GetTeacherRequest { name: what.clone() })
            .await
            .upstream(&what)?;
        teacher_from(t)
    }

    /// The teachers of `numbers` the caller may see, by number; a number the roster does not
    /// know (or not to this caller) is simply absent, for the caller to name. The roster's
    /// BatchGetTeachers is all or nothing (AIP-231), so a chunk it refuses as NOT_FOUND is
    /// asked again one teacher at a time (at most 1000 per call; chunked here).
    pub async fn teachers(
        &self,
        token: &BearerToken,
        numbers: &[String],
    ) -> Result<HashMap<String, RosterTeacher>> {
        let mut found = HashMap::with_capacity(numbers.len());
        for chunk in numbers.chunks(1000) {
            let names = chunk.iter().map(|n| TeacherName::of(n)).collect();
            let reply = self
                .client(token)
                .batch_get_teachers(pb::BatchGetTeachersRequest { names })
                .await
                .upstream("teachers");
            let teachers = match reply {
                Ok(reply) => reply.teachers,
                Err(e) if e.refusal == Refusal::NotFound => {
                    for number in chunk {
                        match self.teacher(token, number).await {
                            Ok(t) => {
                                found.insert(t.number.clone(), t);
                            }
                            Err(AssessmentError::NotFound(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for t in teachers {
                let t = teacher_from(t)?;
                found.insert(t.number.clone(), t);
            }
        }
        Ok(found)
    }

    /// Every teacher of a school.
    pub async fn teachers_at(
        &self,
        token: &BearerToken,
        school: &str,
    ) -> Result<Vec<RosterTeacher>> {
        let what = format!("schools/{school}");
        let pages = every(&self.client(token), &what, |mut client, page_token| {
            let parent = what.clone();
            async move {
                client
                    .list_teachers(pb::ListTeachersRequest {
                        parent,
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
            }
        })
        .await?;
        pages
            .into_iter()
            .flat_map(|page| page.teachers)
            .map(teacher_from)
            .collect()
    }

    /// The teacher registered with a full resident ID number, if the caller can see them.
    pub async fn teacher_by_id_number(
        &self,
        token: &BearerToken,
        id_number: &str,
    ) -> Result<Option<RosterTeacher>> {
        let page = self
            .client(token)
            .list_teachers(pb::ListTeachersRequest {
                id_number: id_number.to_owned(),
                page_size: 1,
                ..Default::default()
            })
            .await
            .upstream("teacher by ID number")?;
        page.teachers
            .into_iter()
            .next()
            .map(teacher_from)
            .transpose()
    }

    /// One school.
    pub async fn school(&self, token: &BearerToken, code: &str) -> Result<RosterSchool> {
        let what = format!("schools/{code}");
        let s = self
            .client(token)
            .get_school(pb::GetSchoolRequest { name: what.clone() })
            .await
            .upstream(&what)?;
        school_from(s)
    }

    /// Schools by code, in one `BatchGetSchools` per 1000 codes. A code the roster does not
    /// know is left out of the map; any other refusal (PERMISSION_DENIED, UNAVAILABLE, …)
    /// fails the call. The roster fails a whole batch when one school is missing, so a batch
    /// that comes back NOT_FOUND is asked again school by school to tell which ones are.
    pub async fn schools(
        &self,
        token: &BearerToken,
        codes: &[String],
    ) -> Result<HashMap<String, RosterSchool>> {
        let mut found = HashMap::with_capacity(codes.len());
        for chunk in codes.chunks(1000) {
            let names = chunk.iter().map(|c| format!("schools/{c}")).collect();
            let reply = self
                .client(token)
                .batch_get_schools(pb::BatchGetSchoolsRequest { names })
                .await
                .upstream("schools");
            match reply {
                Ok(reply) => {
                    for s in reply.schools {
                        let s = school_from(s)?;
                        found.insert(s.code.clone(), s);
                    }
                }
                Err(e) if e.refusal == Refusal::NotFound => {
                    for code in chunk {
                        match self.school(token, code).await {
                            Ok(s) => {
                                found.insert(s.code.clone(), s);
                            }
                            Err(AssessmentError::NotFound(_)) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(found)
    }

    /// Every school in a jurisdiction's subtree.
    pub async fn schools_in(
        &self,
        token: &BearerToken,
        jurisdiction: DivisionCode,
    ) -> Result<Vec<RosterSchool>> {
        let what = format!("jurisdictions/{jurisdiction}");
        let pages = every(&self.client(token), &what, |mut client, page_token| {
            let parent = what.clone();
            async move {
                client
                    .list_schools(pb::ListSchoolsRequest {
                        parent,
                        page_size: 1000,
                        page_token,
                        ..Default::default()
                    })
                    .await
            }
        })
        .await?;
        pages
            .into_iter()
            .flat_map(|page| page.schools)
            .map(school_from)
            .collect()
    }

    /// A jurisdiction's official name.
    pub async fn jurisdiction_name(
        &self,
        token: &BearerToken,
        code: DivisionCode,
    ) -> Result<String> {
        let what = format!("jurisdictions/{code}");
        Ok(self
            .client(token)
            .get_jurisdiction(pb::GetJurisdictionRequest { name: what.clone() })
            .await
            .upstream(&what)?
            .display_name)
    }

    /// An assessor registration.
    pub async fn assessor(&self, token: &BearerToken, id: &str) -> Result<RosterAssessor> {
        let what = format!("assessors/{id}");
        let a = self
            .client(token)
            .get_assessor(pb::GetAssessorRequest { name: what.clone() })
            .await
            .upstream(&what)?;
        let level = match pb::AssessorLevel::try_from(a.level) {
            Ok(pb::AssessorLevel::School) => AssessorLevel::School,
            Ok(pb::AssessorLevel::County) => AssessorLevel::County,
            Ok(pb::AssessorLevel::City) => AssessorLevel::City,
            _ => AssessorLevel::Province,
        };
        let state = match pb::AssessorState::try_from(a.state) {
            Ok(pb::AssessorState::Candidate) => AssessorState::Candidate,
            Ok(pb::AssessorState::Certified) => AssessorState::Certified,
            Ok(pb::AssessorState::Registered) => AssessorState::Registered,
            Ok(pb::AssessorState::Suspended) => AssessorState::Suspended,
            _ => AssessorState::StruckOff,
        };
        Ok(RosterAssessor {
            id: id.to_owned(),
            teacher_number: TeacherName::id_of(&a.teacher)
                .unwrap_or(&a.teacher)
                .to_owned(),
            level,
            registered_at: a.registered_at,
            state,
            subjects: a.subjects,
        })
    }
}
