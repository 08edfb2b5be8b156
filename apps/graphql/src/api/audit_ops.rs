//! The audit log through the API, for compliance: what an export of a range of days holds
//! (its signed manifest's figures), and where to download it.

use async_graphql::{Context, Object, Result, SimpleObject};
use bazaar_domain::fx::calendar::Date;

use super::{app, compliance, error};

/// What an export of the range holds.
#[derive(SimpleObject)]
pub struct AuditExportNode {
    /// Records in the range.
    count: i64,
    /// The first and last sequence numbers (0 when there is none).
    first_seq: i64,
    last_seq: i64,
    /// The last record's hash, hexadecimal.
    head_hash: String,
    /// Checkpoints signed within the range.
    checkpoints: i32,
    /// The signing key, hexadecimal: pass it to `bazaar-audit verify --key`.
    public_key: String,
    /// Where the signed-in compliance user downloads the export (the session cookie's
    /// page).
    download: String,
}

fn date(text: &str) -> Result<Date> {
    crate::finance::parse_day(text).ok_or_else(|| {
        error(
            "invalid_input",
            format!("{text} is not a date (YYYY-MM-DD)"),
        )
    })
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// The export of the audit log from `from` to `to` (days, UTC, both included): its
    /// figures and its download. Compliance only.
    async fn audit_export(
        &self,
        ctx: &Context<'_>,
        from: String,
        to: String,
    ) -> Result<AuditExportNode> {
        compliance(ctx)?;
        let app = app(ctx)?;
        let (first, last) = (date(&from)?, date(&to)?);
        let (start, end) = crate::finance::days_span(first, last)
            .ok_or_else(|| error("invalid_input", "the date is out of range"))?;
        let manifest = app
            .audit
            .manifest(start, end, app.now())
            .await
            .map_err(|e| error(e.code(), e.to_string()))?;
        Ok(AuditExportNode {
            count: count(manifest.count),
            first_seq: count(manifest.first_seq),
            last_seq: count(manifest.last_seq),
            head_hash: manifest.head_hash.to_hex(),
            checkpoints: i32::try_from(manifest.checkpoints.len()).unwrap_or(i32::MAX),
            public_key: manifest.key.to_hex(),
            download: format!("/compliance/audit.jsonl?from={first}&to={last}"),
        })
    }
}
