//! Progress figures, their export, and per-micro-competency progress.

use super::*;

pub(super) async fn get_progress(
    grpc: &AssessmentGrpc,
    request: Request<pb::GetProgressRequest>,
) -> Reply<pb::ProgressRow> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let (scope, level) = grpc.unit_scope(&c, "unit", &r.unit).await?;
    let mut row = grpc.svc.get_progress(&c, scope, level, r.year).await?;
    row.unit = r.unit.clone();
    let names = grpc.svc.row_names(&c, std::slice::from_ref(&row)).await?;
    ok(convert::progress_to_proto(
        &row,
        names.get(&row.unit).cloned().unwrap_or_default(),
        r.year,
    ))
}

pub(super) async fn list_progress(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListProgressRequest>,
) -> Reply<pb::ListProgressResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let level = convert::level_from(r.level)
        .ok_or_else(|| err(AssessmentError::invalid("level", "required")))?;
    let scope = if r.parent.is_empty() {
        None
    } else {
        Some(grpc.unit_scope(&c, "parent", &r.parent).await?.0)
    };
    let (page, after) = page::<usize>(
        r.page_size,
        &r.page_token,
        format!("parent={};level={};year={}", r.parent, r.level, r.year),
    )?;
    let (rows, mut total) = grpc.svc.list_progress(&c, scope, level, r.year).await?;
    let count = rows.len() as i64;
    let rows: Vec<(usize, service::ProgressRow)> = rows
        .into_iter()
        .enumerate()
        .filter(|(i, _)| after.is_none_or(|a| *i > a))
        .take(page.limit() as usize)
        .collect();
    let (rows, next_page_token) = page.finish(rows, |(i, _)| *i);
    let plain: Vec<service::ProgressRow> = rows.into_iter().map(|(_, r)| r).collect();
    let names = grpc.svc.row_names(&c, &plain).await?;
    total.unit = r.parent.clone();
    ok(pb::ListProgressResponse {
        rows: plain
            .iter()
            .map(|row| {
                convert::progress_to_proto(
                    row,
                    names.get(&row.unit).cloned().unwrap_or_default(),
                    r.year,
                )
            })
            .collect(),
        next_page_token,
        total_size: count,
        total: Some(convert::progress_to_proto(&total, String::new(), r.year)),
    })
}

pub(super) async fn export_progress(
    grpc: &AssessmentGrpc,
    request: Request<pb::ExportProgressRequest>,
) -> Reply<Stream_<pb::ExportProgressResponse>> {
    use pb::export_progress_response::Payload;
    let c = ctx(&request)?;
    let r = request.into_inner();
    let level = convert::level_from(r.level)
        .ok_or_else(|| err(AssessmentError::invalid("level", "required")))?;
    let scope = if r.parent.is_empty() {
        None
    } else {
        Some(grpc.unit_scope(&c, "parent", &r.parent).await?.0)
    };
    let (rows, total) = grpc
        .svc
        .list_progress(&c, scope.clone(), level, r.year)
        .await?;
    let names = grpc.svc.row_names(&c, &rows).await?;
    let xlsx = !matches!(
        common::FileFormat::try_from(r.format),
        Ok(common::FileFormat::Csv)
    );
    let file = if xlsx {
        // Lower levels, each its own sheet (a city's workbook: 区县进度, 学校进度).
        let lower: &[Level] = match (r.include_lower_levels, level) {
            (false, _) | (true, Level::School) => &[],
            (true, Level::County) => &[Level::School],
            (true, Level::City) => &[Level::County, Level::School],
            (true, Level::Province) => &[Level::City, Level::County, Level::School],
        };
        let mut more = Vec::new();
        for l in lower {
            let (rows, total) = grpc
                .svc
                .list_progress(&c, scope.clone(), *l, r.year)
                .await?;
            let names = grpc.svc.row_names(&c, &rows).await?;
            more.push((*l, rows, total, names));
        }
        let mut sheets = vec![crate::export::ProgressSheet {
            level,
            rows: &rows,
            total: &total,
            names: &names,
        }];
        sheets.extend(
            more.iter()
                .map(|(l, rows, total, names)| crate::export::ProgressSheet {
                    level: *l,
                    rows,
                    total,
                    names,
                }),
        );
        let figures = if r.include_micro_competencies {
            Some(
                grpc.svc
                    .micro_competency_progress(&c, scope.clone(), r.year, "")
                    .await?,
            )
        } else {
            None
        };
        let unit_name = match scope.as_ref() {
            Some(_) => grpc.parent_name(&c, &r.parent).await?,
            None => String::new(),
        };
        let info = crate::export::WorkbookInfo {
            unit_name,
            year: r.year,
            date: tica_server::proto_time::date_to_iso(service::today()),
        };
        crate::export::progress_workbook(&sheets, figures.as_ref(), &info).map_err(err)?
    } else {
        crate::export::progress_csv(&rows, &total, &names, level, r.year)
    };
    let metadata = pb::ExportProgressResponse {
        payload: Some(Payload::Metadata(common::ExportMetadata {
            file_name: file.0,
            content_type: file.1.to_owned(),
            row_count: rows.len() as i64,
        })),
    };
    let chunks: Vec<Result<pb::ExportProgressResponse, Status>> = file
        .2
        .chunks(1 << 20)
        .map(|c| {
            Ok(pb::ExportProgressResponse {
                payload: Some(Payload::Chunk(c.to_vec())),
            })
        })
        .collect();
    ok(Box::pin(futures::stream::iter(
        std::iter::once(Ok(metadata)).chain(chunks),
    )))
}

pub(super) async fn list_micro_competency_progress(
    grpc: &AssessmentGrpc,
    request: Request<pb::ListMicroCompetencyProgressRequest>,
) -> Reply<pb::ListMicroCompetencyProgressResponse> {
    let c = ctx(&request)?;
    let r = request.into_inner();
    let scope = if r.parent.is_empty() {
        None
    } else {
        Some(grpc.unit_scope(&c, "parent", &r.parent).await?.0)
    };
    let batch = if r.batch.is_empty() {
        ""
    } else {
        convert::ids("batch", &r.batch, &["batches"])?[0]
    };
    let (page, after) = page::<usize>(
        r.page_size,
        &r.page_token,
        format!("parent={};year={};batch={}", r.parent, r.year, r.batch),
    )?;
    let figures = grpc
        .svc
        .micro_competency_progress(&c, scope, r.year, batch)
        .await?;
    let codes: Vec<(usize, &service::progress::CodeProgress)> = figures
        .codes
        .iter()
        .enumerate()
        .filter(|(i, _)| after.is_none_or(|a| *i > a))
        .take(page.limit() as usize)
        .collect();
    let (codes, next_page_token) = page.finish(codes, |(i, _)| *i);
    ok(pb::ListMicroCompetencyProgressResponse {
        micro_competencies: codes
            .iter()
            .map(|(_, code)| convert::code_progress_to_proto(code, figures.participants))
            .collect(),
        next_page_token,
        total_size: figures.codes.len() as i64,
        cells: convert::cells_to_proto(&figures),
        participants: figures.participants,
        compute_time: Some(tica_server::proto_time::timestamp(
            tica_storage::now_micros(),
        )),
    })
}
