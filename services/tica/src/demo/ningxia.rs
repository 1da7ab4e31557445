//! 永宁县 (Ningxia, 《宁夏测评实施办法》): what differs from the Sixian year — selections by category, age
//! and role (the model draws its picks from the preset's rule), and the chapters after the
//! county review: the region's audit by the province office, online then by visits to lessons
//! (推门听课), which certifies the batch, then level certificates issued by the region.

use anyhow::{Context, ensure};
use tica_auth::Role;
use tica_domain::micro_competency::MICRO_COMPETENCIES;
use tica_domain::person::{TeacherCategory, parse_roles};
use tica_domain::policy::{Preset, Profile, SelectionCase, SelectionRule, matching_case, preset};
use tica_proto::tica::assessment::v1 as pb;
use tica_proto::tica::certificate::v1 as cpb;
use tica_proto::tica::common::v1 as common;
use tica_proto::tica::roster::v1 as roster;
use tica_proto::tica::sampling::v1 as sp;
use tica_sample::{COUNTY_AGE_DATE, SampleTeacher};

use super::api;
use super::year::{Review, Year, export_round};

/// The region's office: issues the level certificates and audits the counties.
pub const REGION_OFFICE: &str = "宁夏回族自治区教育厅能力提升2.0办公室";

/// The selection rule the demo's teachers pick under: the Ningxia preset's, as pinned in the
/// domain (《宁夏测评实施办法》§三).
pub fn selection_rule() -> SelectionRule {
    preset(Preset::Ningxia)
        .selection
        .expect("the Ningxia preset sets a selection rule")
}

/// What the selection rule knows of a roster teacher, as the assessment service reads it from
/// the roster: the birth date of the ID number, the category and the roles.
pub fn profile(t: &SampleTeacher) -> Profile {
    Profile {
        birth_date: t.id.birth_date(),
        category: TeacherCategory::from_label(t.category).unwrap_or(TeacherCategory::Ordinary),
        roles: parse_roles(t.roles).unwrap_or_default(),
    }
}

/// The case of `rule` a teacher falls under, their age taken on the day the batch opens.
pub fn case_of<'a>(rule: &'a SelectionRule, profile: &Profile) -> &'a SelectionCase {
    matching_case(rule, profile, rule.reference_date_for(COUNTY_AGE_DATE))
        .expect("Ningxia's selection cases cover every teacher")
}

fn sorted(mut codes: Vec<&'static str>) -> Vec<&'static str> {
    codes.sort_by_key(|c| MICRO_COMPETENCIES.iter().position(|m| m.code == *c));
    codes
}

/// A first try the case refuses, where the demo shows one: a teacher of 50 or over picking
/// three; an ordinary teacher under 50 picking three A-codes.
pub fn refused_try(case: &SelectionCase, picks: &[&'static str]) -> Option<Vec<&'static str>> {
    match case.id.as_str() {
        "ningxia.over50" => {
            let mut more = picks.to_vec();
            for code in ["A3", "A5", "A6", "A1"] {
                if more.len() < 3 && !more.contains(&code) {
                    more.push(code);
                }
            }
            Some(sorted(more))
        }
        "ningxia.under50.ordinary" => Some(vec!["A3", "A5", "A6"]),
        _ => None,
    }
}

impl Year<'_> {
    fn province_sampling(&self) -> api::SamplingClient {
        self.target.sampling(
            "province-office",
            Role::ProvinceOffice,
            &self.model.province.0,
        )
    }

    /// The batch's state, as the county office reads it.
    async fn batch_state(&self) -> anyhow::Result<i32> {
        self.calls(1);
        Ok(self
            .county_office()
            .get_batch(pb::GetBatchRequest {
                name: self.batch.clone(),
            })
            .await
            .context("GetBatch")?
            .into_inner()
            .state)
    }

    /// 十二月: the region audits the county — online re-grades, then visits to lessons — and
    /// deciding the visits certifies the batch.
    pub async fn ningxia_audit(&mut self) -> anyhow::Result<()> {
        let m = self.model;
        self.story.month("十二月");
        let ready = self.batch_state().await?;
        ensure!(
            ready == pb::BatchState::ReadyForAudit as i32,
            "after the county review the batch is {ready}, not READY_FOR_AUDIT"
        );
        // The region's experts: four teachers of the county, registered by the province office
        // at the region, with no subject (any subject).
        let mut office = self
            .target
            .roster("province-office", Role::ProvinceOffice, &m.province.0);
        let taken: std::collections::HashSet<usize> = m
            .schools
            .iter()
            .flat_map(|s| s.teachers.first().into_iter().chain(s.assessor.iter()))
            .copied()
            .chain(m.training_team.iter().copied())
            .collect();
        let experts: Vec<usize> = (0..m.teachers.len())
            .filter(|t| !taken.contains(t))
            .take(4)
            .collect();
        ensure!(!experts.is_empty(), "no teacher left to be a region expert");
        let at = format!("jurisdictions/{}", m.province.0);
        let mut ids = Vec::new();
        for &t in &experts {
            ids.push(
                api::register_assessor(
                    &mut office,
                    &m.teachers[t].number,
                    roster::AssessorLevel::Province,
                    &at,
                    REGION_OFFICE,
                )
                .await
                .context("registering a region expert")?,
            );
        }
        self.calls(3 * ids.len() as u64);
        let review = Review {
            reviewers: ids.clone(),
            at: m.province.0.clone(),
            noise: false,
            visit: false,
            reason: "自治区抽测",
        };
        let (online, drawn, compared, agreed) = self
            .audit_round(sp::RoundKind::OnlineRegrade, &review)
            .await?;
        let after_online = self.batch_state().await?;
        self.outcome.audit_states.push(after_online);
        ensure!(
            after_online == pb::BatchState::InProvinceAudit as i32,
            "after the online audit the batch is {after_online}, not IN_PROVINCE_AUDIT"
        );
        self.step(
            "region audit",
            format!(
                "{} experts registered at {at} by the province office;\n\
                 {online}: drawn {} schools, {} teachers; {agreed}/{compared} agree → passed (not yet certified: visits due)",
                ids.len(),
                drawn.schools_drawn,
                drawn.teachers_drawn,
            ),
        );
        let visits = Review {
            visit: true,
            reason: "推门听课",
            ..review
        };
        let (offline, drawn, compared, agreed) = self
            .audit_round(sp::RoundKind::OfflineCheck, &visits)
            .await?;
        let after_visits = self.batch_state().await?;
        self.outcome.audit_states.push(after_visits);
        self.outcome.certified = after_visits == pb::BatchState::Certified as i32;
        ensure!(
            self.outcome.certified,
            "after the visits the batch is {after_visits}, not CERTIFIED"
        );
        if let Some(dir) = self.out("sampling") {
            std::fs::create_dir_all(&dir)?;
            let mut province = self.province_sampling();
            for r in [&online, &offline] {
                let book = export_round(
                    &mut province,
                    r,
                    common::FileFormat::Xlsx,
                    sp::RoundExportPart::Unspecified,
                )
                .await?;
                std::fs::write(
                    dir.join(format!("{}.xlsx", r.trim_start_matches("reviewRounds/"))),
                    book,
                )?;
                self.calls(1);
            }
        }
        self.count_passed().await?;
        self.step(
            "visits",
            format!(
                "{offline} (推门听课): {} teachers visited, {agreed}/{compared} agree → passed;\n\
                 batch certified (自治区认定): {} teachers pass",
                drawn.teachers_drawn, self.outcome.passed_teachers
            ),
        );
        Ok(())
    }

    /// One round of the region's audit: create (every READY_FOR_AUDIT batch), freeze, draw,
    /// assign, re-grade, decide the county, close; (round, draw, compared, agreed).
    async fn audit_round(
        &mut self,
        kind: sp::RoundKind,
        review: &Review,
    ) -> anyhow::Result<(String, sp::ReviewRound, i64, i64)> {
        let m = self.model;
        let mut province = self.province_sampling();
        let round = province
            .create_review_round(sp::CreateReviewRoundRequest {
                review_round: Some(sp::ReviewRound {
                    level: sp::RoundLevel::ProvinceAudit as i32,
                    kind: kind as i32,
                    batches: Vec::new(),
                    ..Default::default()
                }),
                request_id: String::new(),
            })
            .await
            .context("CreateReviewRound (region audit)")?
            .into_inner()
            .name;
        province
            .freeze_population(sp::FreezePopulationRequest {
                name: round.clone(),
            })
            .await
            .context("FreezePopulation (region audit)")?;
        // The region's own public seed: the county's digits reversed (demo data).
        let seed: String = m.seed.chars().rev().collect();
        let drawn = province
            .draw_sample(sp::DrawSampleRequest {
                name: round.clone(),
                seed,
                seed_note: "自治区工程办抽测（演示数据：由 --seed 生成）".into(),
            })
            .await
            .context("DrawSample (region audit)")?
            .into_inner();
        self.calls(3);
        let (compared, agreed, sent_back) =
            self.review_round(&mut province, &round, review).await?;
        ensure!(
            sent_back.is_empty(),
            "the region's audit sent back {sent_back:?}"
        );
        self.outcome.audit_rounds.push(round.clone());
        Ok((round, drawn, compared, agreed))
    }

    /// The level certificates, issued by the region's office.
    pub async fn ningxia_certificates(&mut self) -> anyhow::Result<()> {
        let province = self.model.province.0.clone();
        let mut office =
            self.target
                .certificates("province-office", Role::ProvinceOffice, &province, None);
        self.issue_and_verify(&mut office, "自治区认定").await?;
        // Level certificates: one per passing teacher.
        let mut level = 0i64;
        let mut page_token = String::new();
        loop {
            let page = office
                .list_certificates(cpb::ListCertificatesRequest {
                    parent: format!("jurisdictions/{}", self.model.county.0),
                    page_size: 1000,
                    page_token: page_token.clone(),
                    ..Default::default()
                })
                .await
                .context("ListCertificates")?
                .into_inner();
            self.calls(1);
            level += page
                .certificates
                .iter()
                .filter(|c| {
                    c.facts
                        .as_ref()
                        .is_some_and(|f| f.kind == cpb::CertificateKind::Level as i32)
                })
                .count() as i64;
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        self.outcome.level_certificates = level;
        Ok(())
    }
}
