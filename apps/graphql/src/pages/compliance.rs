//! Compliance's pages: `/compliance` (the audit log's head, its signing key, and a form for
//! an export) and `/compliance/audit.jsonl?from=YYYY-MM-DD&to=YYYY-MM-DD` (the export of
//! those days, UTC, streamed: the signed manifest, then every record oldest first). The
//! export is itself recorded in the log. `bazaar-audit verify FILE --key KEY` checks it
//! offline.

use std::sync::Arc;

use actix_web::http::{StatusCode, header};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use bazaar_domain::audit::{AuditStore, Manifest, manifest_line, record_line};
use bazaar_domain::fx::calendar::Date;
use bazaar_ledger::Timestamp;
use maud::html;

use super::WebError;
use super::layout::{self, local_time};
use super::session::SignedIn;
use crate::audit_trail;
use crate::state::App;

/// Records read from the store per chunk of the download.
const PAGE: u32 = 2_000;

/// The export form's days.
#[derive(serde::Deserialize)]
pub struct Range {
    from: Option<String>,
    to: Option<String>,
}

fn day(text: Option<&str>, default: Date) -> Result<Date, WebError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(text) => crate::finance::parse_day(text)
            .ok_or_else(|| WebError::Invalid(format!("{text} is not a date (YYYY-MM-DD)"))),
        None => Ok(default),
    }
}

/// The range asked for: `from` 00:00 UTC to the end of `to`, the last 30 days by default.
fn range(app: &App, query: &Range) -> Result<(Date, Date, Timestamp, Timestamp), WebError> {
    let today = Date::of_instant(app.now()).ok_or(WebError::Unavailable)?;
    let to = day(query.to.as_deref(), today)?;
    let from = day(
        query.from.as_deref(),
        to.add_days(-29).ok_or(WebError::Unavailable)?,
    )?;
    if to < from {
        return Err(WebError::Invalid("the range ends before it starts".into()));
    }
    let (start, end) = crate::finance::days_span(from, to)
        .ok_or_else(|| WebError::Invalid("the date is out of range".into()))?;
    Ok((from, to, start, end))
}

/// The signed-in compliance user and the range asked for.
async fn asked(
    app: &App,
    request: &HttpRequest,
    query: &Range,
) -> Result<(SignedIn, (Date, Date, Timestamp, Timestamp)), WebError> {
    let signed = SignedIn::of(app, request).await?;
    signed.compliance()?;
    Ok((signed, range(app, query)?))
}

/// `/compliance`.
pub async fn page(
    request: HttpRequest,
    query: web::Query<Range>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (signed, (from, to, _, _)) = asked(&app, &request, &query).await?;
    let store = app.audit.store();
    let head = store.head().await.map_err(|_| WebError::Unavailable)?;
    let latest = store
        .latest_checkpoint()
        .await
        .map_err(|_| WebError::Unavailable)?;
    let key = app.audit.public_key();
    let zone = bazaar_domain::payouts::Zone::UTC;
    let body = html! {
        h1 { "Audit log" }
        p.hint { "Every sign-in, bank-detail change, payout, loan and export, hash-chained and signed. An export verifies offline with the command below." }
        table #audit-head {
            tbody {
                tr { th { "Records" } td.num #records { (head.as_ref().map_or(0, |h| h.seq)) } }
                tr { th { "Newest record" } td #newest { (head.as_ref().map(|h| local_time(zone, h.at)).unwrap_or_default()) } }
                tr { th { "Last signed checkpoint" } td #checkpoint { (latest.as_ref().map(|c| format!("record {} at {}", c.seq, local_time(zone, c.at))).unwrap_or_else(|| "none yet".to_owned())) } }
                tr { th { "Signing key" } td { code #key { (key.to_hex()) } } }
            }
        }
        h2 { "Export" }
        form.inline #export method="get" action="/compliance/audit.jsonl" {
            label { "From" input type="date" name="from" value=(from.to_string()); }
            label { "To" input type="date" name="to" value=(to.to_string()); }
            button type="submit" { "Download" }
        }
        p.hint { "Check a download with " code { "bazaar-audit verify FILE --key " (key.to_hex()) } "." }
    };
    Ok(layout::html_response(
        StatusCode::OK,
        layout::page("Audit log", &signed, body),
    ))
}

enum Phase {
    Manifest(Box<Manifest>),
    Records { after: u64, last: u64 },
    Done,
}

/// `/compliance/audit.jsonl`: the export, streamed.
pub async fn export(
    request: HttpRequest,
    query: web::Query<Range>,
    app: web::Data<Arc<App>>,
) -> Result<HttpResponse, WebError> {
    let (signed, (from, to, start, end)) = asked(&app, &request, &query).await?;
    let who = audit_trail::of_page(&app, &signed.user, &request);
    let mut entry = audit_trail::entry(who.0, "audit.export", ("audit_log", String::new()), who.1);
    entry.detail = format!("{from} to {to}");
    audit_trail::record(&app, entry)
        .await
        .map_err(|_| WebError::Unavailable)?;
    let manifest = app
        .audit
        .manifest(start, end, app.now())
        .await
        .map_err(|_| WebError::Unavailable)?;
    let app = app.into_inner();
    let lines = futures_util::stream::unfold(
        (app, Phase::Manifest(Box::new(manifest))),
        |(app, phase)| async move {
            match phase {
                Phase::Manifest(manifest) => {
                    let next = if manifest.count > 0 {
                        Phase::Records {
                            after: manifest.first_seq.saturating_sub(1),
                            last: manifest.last_seq,
                        }
                    } else {
                        Phase::Done
                    };
                    let line = manifest_line(&manifest) + "\n";
                    Some((Ok(Bytes::from(line)), (app, next)))
                }
                Phase::Records { after, last } => {
                    match app.audit.store().records(after, last, PAGE).await {
                        Ok(records) => {
                            let seen = records.last()?.seq;
                            let mut chunk =
                                String::with_capacity(records.len().saturating_mul(320));
                            for record in &records {
                                chunk.push_str(&record_line(record));
                                chunk.push('\n');
                            }
                            let next = if seen >= last {
                                Phase::Done
                            } else {
                                Phase::Records { after: seen, last }
                            };
                            Some((Ok(Bytes::from(chunk)), (app, next)))
                        }
                        Err(error) => {
                            tracing::error!(%error, "an audit export stopped: the store failed");
                            Some((
                                Err(actix_web::error::ErrorServiceUnavailable("export stopped")),
                                (app, Phase::Done),
                            ))
                        }
                    }
                }
                Phase::Done => None,
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("application/jsonl; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"bazaar-audit-{from}-{to}.jsonl\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(lines))
}
