//! The digest run's posture report (docs/report.md): the figures of this
//! run as `summary.json`, the trends read back from the earlier runs'
//! summaries, the rows as CSV, and one self-contained page, written under
//! `reports/<date>/` of the report bucket. A report that cannot be written
//! is a WARN and a count (`ReportNotWritten`), never a lost digest.

use super::App;
use crate::domain::digest::OwnerDigest;
use crate::domain::report::{
    BySeverity, OwnerFigures, Report, RepositoryFigures, Summary, HISTORY_RUNS, SCHEMA_VERSION,
    TOP_REPOSITORIES,
};
use crate::domain::severity::{Severity, SeverityCounts};
use crate::ports::{AlertSink, FindingsSource, RegistryListing, ReportStore};
use std::collections::BTreeMap;

/// What the run knows besides the owners' digests.
pub(super) struct RunFacts<'a> {
    pub now: chrono::DateTime<chrono::Utc>,
    pub threshold: Severity,
    pub scope: String,
    pub late: &'a [String],
}

impl<S: FindingsSource + RegistryListing, A: AlertSink> App<S, A> {
    /// Writes this run's report; the S3 console link of its folder when
    /// written, `None` without a report bucket or when it failed.
    pub(super) async fn write_report(
        &self,
        digests: &mut BTreeMap<String, OwnerDigest>,
        facts: &RunFacts<'_>,
    ) -> Option<String> {
        let store = self.reports.as_deref()?;
        let summary = summary(digests, facts);
        let date = summary.date.clone();
        let history = history(store, &date).await;
        let mut report = Report {
            summary,
            history,
            findings: Vec::new(),
            coverage: Vec::new(),
        };
        for digest in digests.values_mut() {
            report.findings.append(&mut digest.finding_rows);
            report.coverage.append(&mut digest.coverage_rows);
        }
        report.findings.sort_by(|a, b| {
            (
                &a.owner,
                &a.account,
                &a.repository,
                &a.digest,
                &a.vulnerability,
            )
                .cmp(&(
                    &b.owner,
                    &b.account,
                    &b.repository,
                    &b.digest,
                    &b.vulnerability,
                ))
        });
        report.coverage.sort_by(|a, b| {
            (&a.owner, &a.account, &a.repository, &a.digest).cmp(&(
                &b.owner,
                &b.account,
                &b.repository,
                &b.digest,
            ))
        });
        let region = self.config.region.clone().unwrap_or_default();
        let link = console_link(store.bucket(), &region, &date);
        let folder = format!("{}{date}/", crate::adapters::aws::s3::PREFIX);
        let summary_json = match serde_json::to_vec_pretty(&report.summary) {
            Ok(json) => json,
            Err(error) => {
                tracing::warn!(%error, "cannot write the report's summary");
                self.emit_count("ReportNotWritten", 1);
                return None;
            }
        };
        // summary.json last: a folder with a summary has the whole report.
        let files: [(&str, Vec<u8>, &str); 4] = [
            (
                "index.html",
                crate::render::report::index_html(&report, Some(&link)).into_bytes(),
                "text/html; charset=utf-8",
            ),
            (
                "findings.csv",
                crate::render::report::findings_csv(&report.findings).into_bytes(),
                "text/csv; charset=utf-8",
            ),
            (
                "coverage.csv",
                crate::render::report::coverage_csv(&report.coverage).into_bytes(),
                "text/csv; charset=utf-8",
            ),
            ("summary.json", summary_json, "application/json"),
        ];
        for (name, body, content_type) in files {
            let key = format!("{folder}{name}");
            if let Err(failure) = store.put(&key, body, content_type).await {
                tracing::warn!(bucket = %store.bucket(), %key, %failure, "cannot write the posture report: the digests go out without its link");
                self.emit_count("ReportNotWritten", 1);
                return None;
            }
        }
        tracing::info!(bucket = %store.bucket(), folder = %folder, findings = report.findings.len(), images = report.coverage.len(), runs = report.runs().len(), "posture report written");
        Some(link)
    }
}

/// This run's figures.
fn summary(digests: &BTreeMap<String, OwnerDigest>, facts: &RunFacts<'_>) -> Summary {
    let mut open = SeverityCounts::default();
    let mut overdue = SeverityCounts::default();
    let (mut current, mut watched) = (0, 0);
    let mut owners = Vec::with_capacity(digests.len());
    let mut repositories = Vec::new();
    for digest in digests.values() {
        let owner_open = digest.open();
        for s in Severity::RANKED {
            open.add(s, owner_open.get(s));
            overdue.add(s, digest.overdue_by_severity.get(s));
        }
        let (images, seen) = digest.images();
        current += images;
        watched += seen;
        owners.push(OwnerFigures {
            owner: digest.owner.clone(),
            open: BySeverity::of(&owner_open),
            overdue: digest.overdue_total,
            fixed_with_deadline: digest.changes.map(|c| c.fixed_with_deadline),
            fixed_in_time: digest.changes.map(|c| c.fixed_in_time),
            images_current: images,
            images_watched: seen,
        });
        for line in digest.repositories.values() {
            if line.open.total() > 0 {
                repositories.push(RepositoryFigures {
                    account: line.repository.account.clone(),
                    region: line.repository.region.clone(),
                    repository: line.repository.repository.clone(),
                    owner: digest.owner.clone(),
                    open: BySeverity::of(&line.open),
                });
            }
        }
    }
    // Most open first: criticals, then highs, …; then by name.
    repositories.sort_by(|a, b| {
        let rank = |r: &RepositoryFigures| {
            [
                r.open.critical,
                r.open.high,
                r.open.medium,
                r.open.low,
                r.open.total(),
            ]
        };
        rank(b)
            .cmp(&rank(a))
            .then_with(|| (&a.repository, &a.account).cmp(&(&b.repository, &b.account)))
    });
    repositories.truncate(TOP_REPOSITORIES);
    Summary {
        schema: SCHEMA_VERSION,
        generated_at: facts.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        date: facts.now.format("%Y-%m-%d").to_string(),
        threshold: facts.threshold.as_str().to_string(),
        scope: facts.scope.clone(),
        open: BySeverity::of(&open),
        overdue: BySeverity::of(&overdue),
        images_current: current,
        images_watched: watched,
        owners,
        top_repositories: repositories,
        registries_late: facts.late.to_vec(),
    }
}

/// The summaries of the runs before `date` (at most [`HISTORY_RUNS`] - 1,
/// oldest first). One that cannot be read, or is of another schema
/// version, is left out with a WARN: the trends then have a gap, never a
/// wrong point.
async fn history(store: &dyn ReportStore, date: &str) -> Vec<Summary> {
    let dates = match store.report_dates().await {
        Ok(dates) => dates,
        Err(failure) => {
            tracing::warn!(%failure, "cannot list the earlier reports: the trends show this run only");
            return Vec::new();
        }
    };
    let earlier: Vec<&String> = dates.iter().filter(|d| d.as_str() < date).collect();
    let wanted = &earlier[earlier.len().saturating_sub(HISTORY_RUNS - 1)..];
    let reads = futures_util::future::join_all(wanted.iter().map(|d| async move {
        let key = format!("{}{d}/summary.json", crate::adapters::aws::s3::PREFIX);
        (key.clone(), store.get(&key).await)
    }))
    .await;
    let mut out = Vec::with_capacity(reads.len());
    for (key, read) in reads {
        match read {
            Ok(Some(bytes)) => match serde_json::from_slice::<Summary>(&bytes) {
                Ok(summary) if summary.schema == SCHEMA_VERSION => out.push(summary),
                Ok(summary) => {
                    tracing::warn!(%key, schema = summary.schema, expected = SCHEMA_VERSION, "an earlier summary of another schema version: left out of the trends")
                }
                Err(error) => {
                    tracing::warn!(%key, %error, "an earlier summary that cannot be read: left out of the trends")
                }
            },
            // A folder without a summary: that run's report was not finished.
            Ok(None) => {}
            Err(failure) => {
                tracing::warn!(%key, %failure, "cannot read an earlier summary: left out of the trends")
            }
        }
    }
    out
}

/// The S3 console's page of the date's folder (the console of the
/// region's partition).
pub fn console_link(bucket: &str, region: &str, date: &str) -> String {
    let host = if region.starts_with("cn-") {
        "console.amazonaws.cn"
    } else if region.starts_with("us-gov-") {
        "console.amazonaws-us-gov.com"
    } else {
        "console.aws.amazon.com"
    };
    format!(
        "https://{host}/s3/buckets/{bucket}?region={region}&prefix={}{date}/",
        crate::adapters::aws::s3::PREFIX
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_link_opens_the_dates_folder_in_the_regions_partition() {
        assert_eq!(
            console_link("stack-reports", "eu-west-1", "2026-12-07"),
            "https://console.aws.amazon.com/s3/buckets/stack-reports?region=eu-west-1&prefix=reports/2026-12-07/"
        );
        assert!(console_link("b", "cn-north-1", "2026-12-07")
            .starts_with("https://console.amazonaws.cn/"));
        assert!(console_link("b", "us-gov-west-1", "2026-12-07")
            .starts_with("https://console.amazonaws-us-gov.com/"));
    }
}
