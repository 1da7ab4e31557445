//! Shared by the certificate service's tests and benchmarks (`mod support;`; the bench includes
//! it by path), never compiled into the service: what they need to drive issuance without the assessment service: a service
//! whose upstream is unreachable, a run, and synthetic certified-result events shaped exactly
//! as the assessment stream sends them.

#![allow(dead_code)] // each test binary uses its own part

use std::path::Path;

use tica_proto::tica::assessment::v1 as apb;
use tica_proto::tica::common::v1 as common;
use tica_storage::{Backend, Database};
use tica_testkit::TestDatabase;

use tica_certificate::model::{Actor, RunRecord, RunState};
use tica_certificate::service::{Certificates, Config};

const NAMES: [&str; 12] = [
    "王芳",
    "李强",
    "张敏",
    "刘洋",
    "陈静",
    "杨喆",
    "赵堃",
    "黄淼",
    "周鑫",
    "吴玥",
    "欧阳珺",
    "孙燊",
];
const CODES: [(&str, &str); 6] = [
    ("A1", "技术支持的学情分析"),
    ("A3", "演示文稿设计与制作"),
    ("B2", "微课程设计与制作"),
    ("A6", "技术支持的课堂导入"),
    ("B6", "技术支持的课堂讲授"),
    ("A5", "技术支持的测验与练习"),
];

/// The installation's configuration the tests use (`https://verify.ahedu.gov.cn`, a fixed
/// search secret, archives under `dir`).
pub fn test_config(dir: &Path) -> Config {
    Config::new(
        "https://verify.ahedu.gov.cn",
        SEARCH_SECRET.to_vec(),
        dir.join("archives"),
    )
}

/// The search secret of [`test_config`].
pub const SEARCH_SECRET: &[u8] = b"test-search-secret-0123";

/// The service over `db` with a development key in `dir/keys` and no reachable upstream.
pub async fn offline_service(db: Database, dir: &Path) -> anyhow::Result<Certificates> {
    offline_service_with(db, dir, test_config(dir)).await
}

/// [`offline_service`] with its own configuration (a clock, limits).
pub async fn offline_service_with(
    db: Database,
    dir: &Path,
    config: Config,
) -> anyhow::Result<Certificates> {
    tica_certificate::keys::ensure_dev_key(&dir.join("keys"), "test-1")?;
    let keys = tica_certificate::keys::read_key_dir(&dir.join("keys"), None)?;
    let nowhere = tica_certificate::startup::channel("http://127.0.0.1:9")?;
    Certificates::new(
        db,
        tica_certificate::upstream::Upstream::new(nowhere.clone(), nowhere),
        keys,
        config,
    )
    .await
}

/// A fresh certificate database on `backend` and the offline service over it, its keys and
/// archives in a temporary directory. Bind every field: a field left out of a `let` pattern is
/// dropped at once, and with it the database directory or the keys.
pub struct Offline {
    pub test_db: TestDatabase,
    pub db: Database,
    pub dir: tempfile::TempDir,
    pub svc: Certificates,
}

impl Offline {
    /// With [`test_config`]; `None` when `backend` is not configured.
    pub async fn open(backend: Backend) -> Option<Offline> {
        Offline::with_config(backend, test_config).await
    }

    /// With the configuration `config` makes for the temporary directory.
    pub async fn with_config(
        backend: Backend,
        config: impl FnOnce(&Path) -> Config,
    ) -> Option<Offline> {
        let test_db = TestDatabase::new(backend)?;
        let db = test_db
            .connect("certificate", tica_certificate::startup::MIGRATIONS)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let svc = offline_service_with(db.clone(), dir.path(), config(dir.path()))
            .await
            .unwrap();
        Some(Offline {
            test_db,
            db,
            dir,
            svc,
        })
    }
}

/// Every certificate of Anhui (where the test events are issued), by number.
pub async fn all_certificates(db: &Database) -> Vec<tica_certificate::model::CertificateRecord> {
    let filter = tica_certificate::store::CertFilter {
        range: tica_domain::ScopePath::parse("/340000/")
            .expect("a province path")
            .range(),
        ..tica_certificate::store::CertFilter::default()
    };
    tica_certificate::store::certificates(db, &filter, "", 1000)
        .await
        .expect("the certificates are readable")
        .0
}

/// A RUNNING run `341324-2022-{seq}` of Sixian's 2022 batch after `cursor`, stored.
pub async fn stored_run(db: &Database, seq: i64, cursor: i64) -> anyhow::Result<RunRecord> {
    let now = tica_storage::now_micros();
    let run = RunRecord {
        id: format!("341324-2022-{seq}"),
        batch_id: "341324-2022".into(),
        seq,
        county: "jurisdictions/341324".into(),
        path: tica_domain::ScopePath::parse("/340000/341300/341324/").expect("a county path"),
        state: RunState::Running,
        start_after_sequence: cursor,
        cursor,
        target_sequence: cursor,
        events_processed: 0,
        certificates_issued: 0,
        certificates_revoked: 0,
        already_issued: 0,
        results_parked: 0,
        parked_issued: 0,
        error_sequence: 0,
        error: String::new(),
        creator: Actor::default(),
        create_micros: now,
        start_micros: now,
        end_micros: 0,
        update_micros: now,
    };
    let audit = tica_storage::audit::AuditEntry {
        actor: Actor::default(),
        method: format!(
            "{}/StartIssuanceRun",
            tica_certificate::service::SERVICE_NAME
        ),
        resource: format!("issuanceRuns/{}", run.id),
        path: run.path.clone(),
        change: serde_json::json!({}),
    };
    tica_certificate::store::insert_run(db, &run, "", &audit).await?;
    Ok(run)
}

/// The teacher number of result `i` (three results per teacher).
pub fn teacher_of(i: usize) -> String {
    format!("T{:07}", i / 3)
}

/// Certified result `i` (sequence `i + 1`): teachers of three results each in schools of 300
/// results, six micro-competencies in turn, rare name characters included.
pub fn certified_event(i: usize) -> apb::CertifiedResult {
    let teacher = teacher_of(i);
    let school = 3_413_240_001 + (i / 300) as u64;
    let (code, name) = CODES[i % CODES.len()];
    apb::CertifiedResult {
        sequence: i as i64 + 1,
        kind: apb::CertifiedResultEventKind::Certified as i32,
        result_key: format!("341324-2022/{teacher}/{code}"),
        batch: "batches/341324-2022".into(),
        year: 2022,
        teacher: format!("teachers/{teacher}"),
        teacher_display_name: NAMES[(i / 3) % NAMES.len()].into(),
        teacher_id_number_masked: format!("3413**********{:03}X", i % 1000),
        school: format!("schools/{school}"),
        school_display_name: format!(
            "泗县第{}小学",
            ["一", "二", "三", "四", "五"][(i / 300) % 5]
        ),
        county: "jurisdictions/341324".into(),
        county_display_name: "泗县".into(),
        certificate_mode: apb::CertificateMode::PerMicroCompetency as i32,
        micro_competency: code.into(),
        micro_competency_display_name: name.into(),
        grade: if i.is_multiple_of(7) {
            common::Grade::Excellent
        } else {
            common::Grade::Pass
        } as i32,
        credits: 0,
        counted_centihours: 5000,
        issuing_authority: "泗县教育体育局".into(),
        issuing_jurisdiction: "jurisdictions/341324".into(),
        certificate_title: "信息技术应用能力提升工程2.0 微能力认证证书".into(),
        policy_versions: vec![],
        event_time: None,
        withdraw_reason: String::new(),
        // The county's acceptance date: what every certificate of the batch prints.
        certificate_date: Some(tica_proto::google::r#type::Date {
            year: 2022,
            month: 12,
            day: 30,
        }),
    }
}

/// The withdrawal of result `i`, at `sequence`.
pub fn withdrawn_event(i: usize, sequence: i64) -> apb::CertifiedResult {
    apb::CertifiedResult {
        sequence,
        kind: apb::CertifiedResultEventKind::Withdrawn as i32,
        withdraw_reason: "省级抽检复核不合格".into(),
        ..certified_event(i)
    }
}
