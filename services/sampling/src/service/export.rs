//! A round's files, so the draw can be checked outside the system: the summary (plan, seed, who
//! entered it, population hash), the population (the bytes the hash covers), every drawn
//! stratum's ids in ticket order, and the sample with its re-grades; and per drawn round a
//! reproducibility bundle (a ZIP): population, seed, plan, expected sample, the log entry that
//! committed them, and a script that re-runs the draw with the reference `consistent_sampler`.

use std::collections::BTreeMap;

use rust_xlsxwriter::{Format, Workbook};
use tica_domain::csv_cell;
use tica_domain::sampling::Sampler;

use super::rounds::population_csv;
use super::{Ctx, Sampling, precondition};
use crate::error::{Result, SamplingError};
use crate::model::*;
use crate::store::{self, RegradeFilter};

/// Which part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// Key-value rows.
    Summary,
    /// `id,stage,stratum`.
    Population,
    /// `id,stage,stratum,position,ticket`.
    Tickets,
    /// The drawn items and their re-grades.
    Sample,
}

/// A finished export.
#[derive(Clone, Debug)]
pub struct ExportFile {
    /// Suggested file name.
    pub file_name: String,
    /// MIME type.
    pub content_type: String,
    /// Data rows (all sheets).
    pub rows: i64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

type Table = (Vec<&'static str>, Vec<Vec<String>>);

/// The bundle's script: re-runs the draw with the reference sampler and compares.
const REPRODUCE: &str = include_str!("reproduce.py");

/// The reference sampler, pinned: the version whose tickets `tica_domain::sampling` equals
/// (`tests/vectors/consistent_sampler/`).
const REQUIREMENTS: &str = "consistent_sampler==1.0.10\n";

fn when(micros: Option<i64>) -> String {
    micros
        .and_then(|m| time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// One part's table as CSV: every cell neutralised against formula injection and quoted as
/// needed (`tica_domain::csv_cell`); round names and reviewers' comments are typed by people.
fn table_csv(header: &[&str], rows: &[Vec<String>]) -> Vec<u8> {
    let mut out = Vec::new();
    csv_cell::write_record(&mut out, header, "\n");
    for row in rows {
        csv_cell::write_record(&mut out, row, "\n");
    }
    out
}

impl Sampling {
    async fn summary(&self, round: &RoundRecord) -> Result<Table> {
        let counts = self.counts(round).await?;
        let mut rows = vec![
            ("round", round.name()),
            ("display_name", round.display_name.clone()),
            ("level", round.level.key().to_owned()),
            ("kind", round.kind.key().to_owned()),
            ("scope", format!("jurisdictions/{}", round.scope_code)),
            ("year", round.year.to_string()),
            ("extends", round.extends.clone()),
            ("state", round.state.key().to_owned()),
            ("population_schools", round.population_schools.to_string()),
            ("population_teachers", round.population_teachers.to_string()),
            ("population_sha256", round.population_sha256.clone()),
            ("population_freeze_time", when(round.freeze_micros)),
            ("seed", round.seed.clone()),
            ("seed_note", round.seed_note.clone()),
            (
                "seed_entered_by",
                round
                    .seed_actor
                    .as_ref()
                    .map(|a| format!("{} ({}, {})", a.subject, a.role, a.acting_for))
                    .unwrap_or_default(),
            ),
            ("seed_enter_time", when(round.seed_micros)),
            (
                "draw_commitment_log_index",
                round
                    .commitment
                    .as_ref()
                    .map(|c| c.log_index.to_string())
                    .unwrap_or_default(),
            ),
            (
                "draw_commitment_log_time",
                when(round.commitment.as_ref().map(|c| c.log_micros)),
            ),
            (
                "draw_commitment_leaf_hash",
                round
                    .commitment
                    .as_ref()
                    .map(|c| c.leaf_hash.clone())
                    .unwrap_or_default(),
            ),
            (
                "plan_sha256",
                round
                    .commitment
                    .as_ref()
                    .map(|c| c.plan_sha256.clone())
                    .unwrap_or_default(),
            ),
            (
                "tool_version",
                round
                    .commitment
                    .as_ref()
                    .map(|c| c.tool_version.clone())
                    .unwrap_or_default(),
            ),
            ("schools_drawn", counts.schools_drawn.to_string()),
            ("teachers_drawn", counts.teachers_drawn.to_string()),
            (
                "sampler",
                "consistent_sampler (Rivest), ticket digits 9".into(),
            ),
        ];
        for plan in &round.plans {
            let b = &plan.batch;
            rows.push(("plan", format!("batches/{b}")));
            rows.push(("policy_versions", plan.policy_versions.join(" ")));
            rows.push((
                "school_rate",
                format!(
                    "{}/{}",
                    plan.school_rate.numerator, plan.school_rate.denominator
                ),
            ));
            rows.push((
                "teacher_rate",
                format!(
                    "{}/{}",
                    plan.teacher_rate.numerator, plan.teacher_rate.denominator
                ),
            ));
            rows.push(("minimum_per_stratum", plan.minimum.to_string()));
            rows.push((
                "agreement_threshold",
                format!(
                    "{}/{}",
                    plan.threshold.numerator, plan.threshold.denominator
                ),
            ));
        }
        Ok((
            vec!["key", "value"],
            rows.into_iter()
                .map(|(k, v)| vec![k.to_owned(), v])
                .collect(),
        ))
    }

    async fn tickets(&self, round: &RoundRecord) -> Result<Table> {
        let population = store::population(&self.db, &round.id).await?;
        let (strata, _) = store::strata(&self.db, &round.id, "", None, i64::MAX).await?;
        let sampler = Sampler::new(&round.seed);
        let mut by_stratum: BTreeMap<&str, Vec<&PopulationRow>> = BTreeMap::new();
        for row in &population {
            by_stratum.entry(&row.stratum).or_default().push(row);
        }
        let mut rows = Vec::new();
        for s in &strata {
            let members = by_stratum.get(s.id.as_str()).cloned().unwrap_or_default();
            let ids: Vec<&str> = members.iter().map(|r| r.sampler_id.as_str()).collect();
            for (position, (index, ticket)) in sampler
                .first_with_tickets(&ids, ids.len())
                .into_iter()
                .enumerate()
            {
                rows.push(vec![
                    ids[index].to_owned(),
                    s.stage.key().to_owned(),
                    s.id.clone(),
                    (position + 1).to_string(),
                    ticket,
                ]);
            }
        }
        Ok((vec!["id", "stage", "stratum", "position", "ticket"], rows))
    }

    async fn sample(&self, round: &RoundRecord) -> Result<Table> {
        let items = store::all_items(&self.db, &round.id).await?;
        let regrades = store::all_regrades(
            &self.db,
            &RegradeFilter {
                round: round.id.clone(),
                ..Default::default()
            },
        )
        .await?;
        let (units, _) = store::units(&self.db, &round.id, false, None, "", i64::MAX).await?;
        let decided: std::collections::HashSet<&str> = units
            .iter()
            .filter(|u| u.outcome != Outcome::Undecided)
            .map(|u| u.unit.as_str())
            .collect();
        let mut rows = Vec::new();
        for item in &items {
            let base = vec![
                item.sampler_id.clone(),
                item.stage.key().to_owned(),
                item.stratum.clone(),
                item.position.to_string(),
                item.ticket.clone(),
                item.unit.clone(),
                item.assessor.clone(),
            ];
            let own: Vec<&RegradeRecord> = regrades.iter().filter(|r| r.item == item.id).collect();
            if own.is_empty() || !decided.contains(item.unit.as_str()) {
                let mut row = base;
                row.extend([String::new(), String::new(), String::new(), String::new()]);
                rows.push(row);
                continue;
            }
            for r in own {
                let mut row = base.clone();
                row.extend([
                    r.code.clone(),
                    r.original.key().to_owned(),
                    r.grade.map(|g| g.key().to_owned()).unwrap_or_default(),
                    if r.grade.is_some() {
                        r.agrees.to_string()
                    } else {
                        String::new()
                    },
                ]);
                rows.push(row);
            }
        }
        Ok((
            vec![
                "id",
                "stage",
                "stratum",
                "position",
                "ticket",
                "unit",
                "assessor",
                "code",
                "original_grade",
                "regrade",
                "agrees",
            ],
            rows,
        ))
    }

    async fn table(&self, round: &RoundRecord, part: Part) -> Result<Table> {
        match part {
            Part::Summary => self.summary(round).await,
            Part::Population => {
                let rows = store::population(&self.db, &round.id).await?;
                Ok((
                    vec!["id", "stage", "stratum"],
                    rows.iter()
                        .map(|r| {
                            vec![
                                r.sampler_id.clone(),
                                r.stage.key().to_owned(),
                                r.stratum.clone(),
                            ]
                        })
                        .collect(),
                ))
            }
            Part::Tickets => self.tickets(round).await,
            Part::Sample => self.sample(round).await,
        }
    }

    /// The reproducibility bundle of a drawn round: a ZIP of one directory `{id}/` with
    /// `population.csv`, `seed.txt`, `plan.json`, `expected_sample.csv`, `commitment.json`,
    /// `requirements.txt` and `reproduce.py` (see the proto's ROUND_EXPORT_PART_BUNDLE).
    pub async fn export_bundle(&self, ctx: &Ctx, id: &str) -> Result<ExportFile> {
        let round = self.round(ctx, id).await?;
        super::require_office_over(ctx, &round)?;
        if !matches!(
            round.state,
            RoundState::Drawn | RoundState::InReview | RoundState::Decided
        ) {
            return Err(precondition(format!(
                "reviewRounds/{id} is {}: its bundle exports once drawn",
                round.state.key().to_uppercase()
            )));
        }
        let commitment = round.commitment.as_ref().ok_or_else(|| {
            precondition(format!(
                "reviewRounds/{id} was drawn before draws were committed in the transparency \
                 log: it has no plan to bundle; export its SUMMARY, POPULATION and TICKETS"
            ))
        })?;
        let population = population_csv(&store::population(&self.db, id).await?);
        let items = store::all_items(&self.db, id).await?;
        let sample: Vec<Vec<String>> = items
            .iter()
            .map(|i| {
                vec![
                    i.sampler_id.clone(),
                    i.stage.key().to_owned(),
                    i.stratum.clone(),
                    i.position.to_string(),
                    i.ticket.clone(),
                ]
            })
            .collect();
        let expected = table_csv(&["id", "stage", "stratum", "position", "ticket"], &sample);
        let mut committed = serde_json::to_string_pretty(&serde_json::json!({
            "review_round": round.name(),
            "log_index": commitment.log_index,
            "leaf_hash": commitment.leaf_hash,
            "log_time": when(Some(commitment.log_micros)),
            "population_sha256": round.population_sha256,
            "plan_sha256": commitment.plan_sha256,
            "tool_version": commitment.tool_version,
            "seed_enter_time": when(round.seed_micros),
        }))
        .map_err(|e| SamplingError::Internal(format!("writing commitment.json: {e}")))?;
        committed.push('\n');
        let readme = format!(
            "Review round {name}: its draw, to be re-run by anyone.\n\n\
             population.csv       the frozen population (SHA-256 {population_sha256})\n\
             plan.json            the draw plan (SHA-256 {plan_sha256})\n\
             seed.txt             the public seed, exactly as entered (no line end)\n\
             commitment.json      the transparency-log entry ({index}) that published both \
             hashes and the tool version before the seed was entered\n\
             expected_sample.csv  what the round drew\n\
             reproduce.py         re-runs the draw with the reference consistent_sampler \
             (requirements.txt) and compares\n\n\
             python3 -m venv venv && venv/bin/pip install -r requirements.txt && \
             venv/bin/python reproduce.py\n\n\
             The log entry's inclusion: tica.certificate.v1 GetInclusionProof with log_index \
             {index}.\n",
            name = round.name(),
            population_sha256 = round.population_sha256,
            plan_sha256 = commitment.plan_sha256,
            index = commitment.log_index,
        );
        let files: [(&str, &[u8]); 8] = [
            ("README.txt", readme.as_bytes()),
            ("population.csv", population.as_bytes()),
            ("seed.txt", round.seed.as_bytes()),
            ("plan.json", commitment.plan.as_bytes()),
            ("commitment.json", committed.as_bytes()),
            ("expected_sample.csv", &expected),
            ("requirements.txt", REQUIREMENTS.as_bytes()),
            ("reproduce.py", REPRODUCE.as_bytes()),
        ];
        let zip_error =
            |e: zip::result::ZipError| SamplingError::Internal(format!("writing the bundle: {e}"));
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, bytes) in files {
            zip.start_file(format!("{id}/{name}"), options)
                .map_err(zip_error)?;
            std::io::Write::write_all(&mut zip, bytes)
                .map_err(|e| SamplingError::Internal(format!("writing the bundle: {e}")))?;
        }
        let bytes = zip.finish().map_err(zip_error)?.into_inner();
        Ok(ExportFile {
            file_name: format!("{id}-bundle.zip"),
            content_type: "application/zip".into(),
            rows: sample.len() as i64,
            bytes,
        })
    }

    /// Exports `part` as CSV, or every part as XLSX sheets (`part` None).
    pub async fn export(
        &self,
        ctx: &Ctx,
        id: &str,
        part: Option<Part>,
        xlsx: bool,
    ) -> Result<ExportFile> {
        let round = self.round(ctx, id).await?;
        super::require_office_over(ctx, &round)?;
        let drawn = matches!(
            round.state,
            RoundState::Drawn | RoundState::InReview | RoundState::Decided
        );
        // A round cancelled after freezing still exports what it published.
        let frozen = drawn
            || round.state == RoundState::PopulationFrozen
            || (round.state == RoundState::Cancelled && round.freeze_micros.is_some());
        let needs_draw = |p: Part| matches!(p, Part::Tickets | Part::Sample);
        if !frozen || part.is_some_and(needs_draw) && !drawn {
            return Err(precondition(format!(
                "reviewRounds/{id} is {}: the population exports once frozen, tickets and sample once drawn",
                round.state.key().to_uppercase()
            )));
        }
        if !xlsx {
            let part = part.ok_or_else(|| {
                SamplingError::invalid(
                    "part",
                    "a CSV holds one part: SUMMARY, POPULATION, TICKETS or SAMPLE",
                )
            })?;
            let bytes = if part == Part::Population {
                // Exactly the bytes the published hash covers.
                population_csv(&store::population(&self.db, id).await?).into_bytes()
            } else {
                let (header, rows) = self.table(&round, part).await?;
                table_csv(&header, &rows)
            };
            let rows = bytes.iter().filter(|b| **b == b'\n').count() as i64 - 1;
            let name = format!("{}-{}.csv", id, format!("{part:?}").to_lowercase());
            return Ok(ExportFile {
                file_name: name,
                content_type: "text/csv; charset=utf-8".into(),
                rows,
                bytes,
            });
        }
        let parts: Vec<Part> = match part {
            Some(p) => vec![p],
            None if drawn => vec![Part::Summary, Part::Population, Part::Tickets, Part::Sample],
            None => vec![Part::Summary, Part::Population],
        };
        let mut workbook = Workbook::new();
        let bold = Format::new().set_bold();
        let mut total = 0i64;
        let xlsx_error = |e: rust_xlsxwriter::XlsxError| {
            SamplingError::Internal(format!("writing the workbook: {e}"))
        };
        for p in parts {
            let (header, rows) = self.table(&round, p).await?;
            let sheet = workbook.add_worksheet();
            sheet
                .set_name(format!("{p:?}").to_lowercase())
                .map_err(xlsx_error)?;
            for (c, h) in header.iter().enumerate() {
                sheet
                    .write_string_with_format(0, c as u16, *h, &bold)
                    .map_err(xlsx_error)?;
            }
            for (r, row) in rows.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    sheet
                        .write_string(r as u32 + 1, c as u16, v)
                        .map_err(xlsx_error)?;
                }
            }
            sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
            sheet.autofit();
            total += rows.len() as i64;
        }
        let bytes = workbook.save_to_buffer().map_err(xlsx_error)?;
        Ok(ExportFile {
            file_name: format!("{id}.xlsx"),
            content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                .into(),
            rows: total,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_that_start_a_formula_are_exported_as_text() {
        let rows = vec![
            vec![
                "display_name".to_owned(),
                "=HYPERLINK(\"http://evil\",\"x\")".to_owned(),
            ],
            vec![
                "comment".to_owned(),
                "@SUM(1+1)*cmd|' /C calc'!A0".to_owned(),
            ],
            vec!["note".to_owned(), "-1+2".to_owned()],
        ];
        let text = String::from_utf8(table_csv(&["field", "value"], &rows)).unwrap();
        assert_eq!(
            text,
            "field,value\n\
             display_name,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\"\n\
             comment,'@SUM(1+1)*cmd|' /C calc'!A0\n\
             note,'-1+2\n"
        );
    }
}
