//! The anti-corruption layer: what the assessment service streams and answers, decoded once
//! into the facts issuance works with. Past this module, a result's kind, mode and grade are
//! enums and its names are ids; only the parked copy of a result keeps the stream's own bytes,
//! so that a retry reads exactly what was sent.

use tica_domain::names::{BatchName, JurisdictionName, SchoolName, TeacherName};
use tica_proto::prost::Message as _;
use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::common::v1 as common;

use crate::model::{Grade, Kind};

/// A batch as issuance needs it.
#[derive(Clone, Debug)]
pub struct IssuingBatch {
    /// The county's code as named (checked where it is used).
    pub county: String,
    /// The batch is CERTIFIED.
    pub certified: bool,
}

impl IssuingBatch {
    pub(super) fn from_proto(batch: apb::Batch) -> IssuingBatch {
        IssuingBatch {
            county: JurisdictionName::id_of(&batch.county)
                .unwrap_or(&batch.county)
                .to_owned(),
            certified: batch.state == apb::BatchState::Certified as i32,
        }
    }
}

/// What happened to a result (CertifiedResultEventKind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// Certified: issue its certificate.
    Certified,
    /// Withdrawn after review: revoke it.
    Withdrawn,
    /// A kind this service does not know.
    Unknown,
}

/// One event of a batch's certified-results stream.
#[derive(Clone, Debug)]
pub struct CertifiedEvent {
    /// Position in the batch's stream.
    pub sequence: i64,
    /// Certified or withdrawn.
    pub kind: EventKind,
    /// The result's stable key.
    pub result_key: String,
    /// Batch id.
    pub batch: String,
    /// The batch's year.
    pub year: i32,
    /// Teacher number.
    pub teacher: String,
    /// The teacher's name (personal data).
    pub teacher_display_name: String,
    /// Masked ID number.
    pub teacher_id_number_masked: String,
    /// School code.
    pub school: String,
    /// The school's name.
    pub school_display_name: String,
    /// County code.
    pub county: String,
    /// The county's name.
    pub county_display_name: String,
    /// The certificate the policy issues: `None` when it issues none.
    pub mode: Option<Kind>,
    /// Micro-competency code (empty for a level).
    pub micro_competency: String,
    /// Its name.
    pub micro_competency_display_name: String,
    /// PASS or EXCELLENT; `None` for any other grade (not certifiable).
    pub grade: Option<Grade>,
    /// Credits.
    pub credits: i32,
    /// Counted hours × 100.
    pub counted_centihours: i64,
    /// Who issues it.
    pub issuing_authority: String,
    /// The issuer's division code (its seal's key).
    pub issuing_jurisdiction: String,
    /// The certificate's title (empty: the default).
    pub certificate_title: String,
    /// Why it was withdrawn.
    pub withdraw_reason: String,
    /// The date the certificate prints (the batch's certification); `None` from an assessment
    /// service that does not send it.
    pub certificate_date: Option<time::Date>,
    /// The event as the stream sent it (protobuf), kept when it is parked.
    pub source: Vec<u8>,
}

impl CertifiedEvent {
    /// Decodes a stream event.
    pub fn from_proto(e: apb::CertifiedResult) -> CertifiedEvent {
        let source = e.encode_to_vec();
        let kind = match apb::CertifiedResultEventKind::try_from(e.kind) {
            Ok(apb::CertifiedResultEventKind::Certified) => EventKind::Certified,
            Ok(apb::CertifiedResultEventKind::Withdrawn) => EventKind::Withdrawn,
            _ => EventKind::Unknown,
        };
        let mode = match apb::CertificateMode::try_from(e.certificate_mode) {
            Ok(apb::CertificateMode::PerMicroCompetency) => Some(Kind::MicroCompetency),
            Ok(apb::CertificateMode::Level) => Some(Kind::Level),
            _ => None,
        };
        let grade = match common::Grade::try_from(e.grade) {
            Ok(common::Grade::Pass) => Some(Grade::Pass),
            Ok(common::Grade::Excellent) => Some(Grade::Excellent),
            _ => None,
        };
        CertifiedEvent {
            sequence: e.sequence,
            kind,
            batch: id(&e.batch, BatchName::id_of),
            teacher: id(&e.teacher, TeacherName::id_of),
            school: id(&e.school, SchoolName::id_of),
            county: id(&e.county, JurisdictionName::id_of),
            result_key: e.result_key,
            year: e.year,
            teacher_display_name: e.teacher_display_name,
            teacher_id_number_masked: e.teacher_id_number_masked,
            school_display_name: e.school_display_name,
            county_display_name: e.county_display_name,
            mode,
            micro_competency: e.micro_competency,
            micro_competency_display_name: e.micro_competency_display_name,
            grade,
            credits: e.credits,
            counted_centihours: e.counted_centihours,
            issuing_authority: e.issuing_authority,
            issuing_jurisdiction: id(&e.issuing_jurisdiction, JurisdictionName::id_of),
            certificate_title: e.certificate_title,
            withdraw_reason: e.withdraw_reason,
            certificate_date: e
                .certificate_date
                .as_ref()
                .and_then(|d| tica_server::proto_time::date_from_proto(d).ok()),
            source,
        }
    }

    /// A parked event's stored bytes, with the names the roster has now (when it has them).
    pub fn from_parked(
        bytes: &[u8],
        teacher_names: &std::collections::HashMap<String, String>,
        school_names: &std::collections::HashMap<String, String>,
    ) -> Option<CertifiedEvent> {
        let mut e = apb::CertifiedResult::decode(bytes).ok()?;
        if let Some(name) = teacher_names.get(id(&e.teacher, TeacherName::id_of).as_str()) {
            e.teacher_display_name = name.clone();
        }
        if let Some(name) = school_names.get(id(&e.school, SchoolName::id_of).as_str()) {
            e.school_display_name = name.clone();
        }
        Some(CertifiedEvent::from_proto(e))
    }
}

impl From<apb::CertifiedResult> for CertifiedEvent {
    fn from(e: apb::CertifiedResult) -> CertifiedEvent {
        CertifiedEvent::from_proto(e)
    }
}

/// The id in a name (the name itself when it is not one: the stream's own shape is checked by
/// the assessment service's contract tests, and a bad one parks the result with its reason).
fn id(name: &str, id_of: fn(&str) -> Option<&str>) -> String {
    id_of(name).unwrap_or(name).to_owned()
}

/// One message of the certified-results stream.
#[derive(Clone, Debug)]
pub enum StreamItem {
    /// The stream's first message: the last sequence at the time it opened.
    Header {
        /// The batch's last sequence.
        last_sequence: i64,
    },
    /// A result.
    Result(Box<CertifiedEvent>),
    /// A message with neither (ignored).
    Empty,
}

impl StreamItem {
    pub(super) fn from_proto(m: apb::StreamCertifiedResultsResponse) -> StreamItem {
        use apb::stream_certified_results_response::Payload;
        match m.payload {
            Some(Payload::Header(h)) => StreamItem::Header {
                last_sequence: h.last_sequence,
            },
            Some(Payload::Result(e)) => StreamItem::Result(Box::new(CertifiedEvent::from_proto(e))),
            None => StreamItem::Empty,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn event() -> apb::CertifiedResult {
        apb::CertifiedResult {
            sequence: 7,
            kind: apb::CertifiedResultEventKind::Certified as i32,
            result_key: "r7".into(),
            batch: "batches/341324-2022".into(),
            teacher: "teachers/T1".into(),
            teacher_display_name: "王芳".into(),
            school: "schools/3413240001".into(),
            school_display_name: "泗县第一中学".into(),
            county: "jurisdictions/341324".into(),
            certificate_mode: apb::CertificateMode::PerMicroCompetency as i32,
            grade: common::Grade::Excellent as i32,
            ..Default::default()
        }
    }

    #[test]
    fn a_stream_event_reads_as_ids_and_enums() {
        let e = CertifiedEvent::from_proto(event());
        assert_eq!(e.kind, EventKind::Certified);
        assert_eq!(
            (
                e.batch.as_str(),
                e.teacher.as_str(),
                e.school.as_str(),
                e.county.as_str()
            ),
            ("341324-2022", "T1", "3413240001", "341324")
        );
        assert_eq!(
            (e.mode, e.grade),
            (Some(Kind::MicroCompetency), Some(Grade::Excellent))
        );
    }

    #[test]
    fn a_result_the_policy_does_not_certify_has_no_mode_or_grade() {
        let mut proto = event();
        proto.certificate_mode = apb::CertificateMode::Unspecified as i32;
        proto.grade = common::Grade::Fail as i32;
        proto.kind = 9;
        let e = CertifiedEvent::from_proto(proto);
        assert_eq!((e.kind, e.mode, e.grade), (EventKind::Unknown, None, None));
    }

    #[test]
    fn a_parked_event_is_read_back_as_sent_with_the_names_the_roster_has_now() {
        let parked = CertifiedEvent::from_proto(event()).source;
        let same = CertifiedEvent::from_parked(&parked, &HashMap::new(), &HashMap::new()).unwrap();
        assert_eq!(same.source, parked);
        let teachers = HashMap::from([("T1".to_owned(), "王 芳".to_owned())]);
        let schools = HashMap::from([("3413240001".to_owned(), "泗县一中".to_owned())]);
        let renamed = CertifiedEvent::from_parked(&parked, &teachers, &schools).unwrap();
        assert_eq!(renamed.teacher_display_name, "王 芳");
        assert_eq!(renamed.school_display_name, "泗县一中");
        // What is parked again is the corrected event.
        let again = CertifiedEvent::from_parked(&renamed.source, &HashMap::new(), &HashMap::new());
        assert_eq!(again.unwrap().teacher_display_name, "王 芳");
        assert!(CertifiedEvent::from_parked(b"\xff\xff", &teachers, &schools).is_none());
    }
}
