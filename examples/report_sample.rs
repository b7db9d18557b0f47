//! A sample posture report (docs/report.md), written without AWS:
//! `cargo run --example report_sample -- DIR` writes `index.html`,
//! `findings.csv`, `coverage.csv` and `summary.json` into DIR, and the
//! earlier runs' summaries the trends were read from into
//! `DIR/history/<date>.json`.
//!
//! Three owners over 14 weekly runs (the charts show the last 12), with
//! names no registry should hold but a test must: markup, quotes and
//! spreadsheet formulas. The browser test (`tests/e2e/test_report_browser.py`)
//! renders it in headless Chromium.

use ecr_scan_alerts::domain::report::{
    BySeverity, CoverageRow, FindingRow, OwnerFigures, Report, RepositoryFigures, Summary,
    HISTORY_RUNS, SCHEMA_VERSION,
};
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::render::report::{coverage_csv, findings_csv, index_html};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const DAY: i64 = 86_400;
/// 2026-12-07T08:00:00Z, a Monday: the sample run.
const NOW: i64 = 1_796_630_400;
const EARLIER_RUNS: i64 = 14;
const HOSTILE_OWNER: &str = "<script>alert(1)</script>";
const HOSTILE_REPOSITORY: &str = "\"><img src=x onerror=alert(2)>";

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1).map(PathBuf::from) else {
        eprintln!("usage: report_sample DIR");
        return ExitCode::from(2);
    };
    match write(&dir, &sample()) {
        Ok(()) => {
            println!("{}", dir.join("index.html").display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("report_sample: cannot write into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}

fn write(dir: &Path, report: &Report) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("history"))?;
    let json = |s: &Summary| serde_json::to_string_pretty(s).map_err(std::io::Error::other);
    for earlier in &report.history {
        std::fs::write(
            dir.join("history").join(format!("{}.json", earlier.date)),
            json(earlier)?,
        )?;
    }
    let link = "https://console.aws.amazon.com/s3/buckets/report-bucket?prefix=reports/2026-12-07/";
    std::fs::write(dir.join("index.html"), index_html(report, Some(link)))?;
    std::fs::write(dir.join("findings.csv"), findings_csv(&report.findings))?;
    std::fs::write(dir.join("coverage.csv"), coverage_csv(&report.coverage))?;
    std::fs::write(dir.join("summary.json"), json(&report.summary)? + "\n")
}

fn date(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn rfc3339(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// One owner's figures `weeks_ago` runs back: fewer findings week by week,
/// and one owner whose new and fixed are not known (no earlier digest).
fn owner(name: &str, base: u64, weeks_ago: u64, known: bool) -> OwnerFigures {
    let open = BySeverity {
        critical: (base / 4 + weeks_ago / 3).saturating_sub(1),
        high: base / 2 + weeks_ago,
        medium: base + 2 * weeks_ago,
        low: base / 3 + weeks_ago / 2,
    };
    OwnerFigures {
        owner: name.into(),
        open,
        overdue: (base / 5 + weeks_ago / 2).min(open.total()),
        fixed_with_deadline: known.then_some(4 + weeks_ago % 3),
        fixed_in_time: known.then_some(3 + weeks_ago % 2),
        images_current: 20 + base + weeks_ago,
        images_watched: 18 + base + weeks_ago / 2,
    }
}

fn summary(weeks_ago: i64) -> Summary {
    let at = NOW - weeks_ago * 7 * DAY;
    let w = weeks_ago as u64;
    let owners = vec![
        owner("payments", 12, w, true),
        owner("platform-search", 6, w, true),
        owner(HOSTILE_OWNER, 3, w, false),
    ];
    let sum = |pick: &dyn Fn(&OwnerFigures) -> u64| owners.iter().map(pick).sum::<u64>();
    let open = BySeverity {
        critical: sum(&|o| o.open.critical),
        high: sum(&|o| o.open.high),
        medium: sum(&|o| o.open.medium),
        low: sum(&|o| o.open.low),
    };
    let overdue_total = sum(&|o| o.overdue);
    let repository =
        |name: &str, account: &str, owner: &str, critical: u64, high: u64| RepositoryFigures {
            account: account.into(),
            region: "us-east-1".into(),
            repository: name.into(),
            owner: owner.into(),
            open: BySeverity {
                critical,
                high: high + w,
                medium: 2 + w,
                low: 1,
            },
        };
    Summary {
        schema: SCHEMA_VERSION,
        generated_at: rfc3339(at),
        date: date(at),
        threshold: "MEDIUM".into(),
        scope: "accounts 123456789012, 555555555555, region us-east-1".into(),
        open,
        overdue: BySeverity {
            critical: overdue_total / 3,
            high: overdue_total - overdue_total / 3,
            ..BySeverity::default()
        },
        images_current: sum(&|o| o.images_current),
        images_watched: sum(&|o| o.images_watched),
        top_repositories: vec![
            repository("payments/api", "123456789012", "payments", 2, 5),
            repository("payments/ledger", "555555555555", "payments", 1, 4),
            repository(HOSTILE_REPOSITORY, "123456789012", HOSTILE_OWNER, 1, 2),
            repository("search/indexer", "123456789012", "platform-search", 0, 3),
            repository(
                "=HYPERLINK(\"http://x\",\"y\")",
                "555555555555",
                "platform-search",
                0,
                1,
            ),
        ],
        owners,
        registries_late: if weeks_ago == 0 {
            vec!["account 666666666666, region us-east-1".into()]
        } else {
            Vec::new()
        },
    }
}

/// An open finding of `(owner, repository, tags)`, first observed
/// `days_open` ago under a deadline of `sla_days`.
fn finding(
    (owner, repository, tags): (&str, &str, &[&str]),
    vulnerability: &str,
    severity: Severity,
    (days_open, sla_days): (i64, i64),
    fix: &str,
) -> FindingRow {
    let first = NOW - days_open * DAY;
    let due = first + sla_days * DAY;
    FindingRow {
        owner: owner.into(),
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: repository.into(),
        digest: format!(
            "sha256:{:064x}",
            repository.len() * 7919 + days_open as usize
        ),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        vulnerability: vulnerability.into(),
        severity,
        exploit: (severity == Severity::Critical).then_some(days_open > 20),
        epss: (severity >= Severity::High).then_some(0.02 * days_open as f64),
        first_observed: Some(first),
        deadline: Some(due),
        overdue_days: (NOW > due).then_some((NOW - due) / DAY),
        fix: fix.into(),
    }
}

fn sample() -> Report {
    let findings = vec![
        finding(
            ("payments", "payments/api", &["v1.4.2", "latest"]),
            "CVE-2026-29001",
            Severity::Critical,
            (25, 15),
            "upgrade openssl to 3.0.15",
        ),
        finding(
            ("payments", "payments/ledger", &["v3"]),
            "CVE-2026-29003",
            Severity::High,
            (12, 30),
            "curl: no fixed version known",
        ),
        finding(
            (
                HOSTILE_OWNER,
                HOSTILE_REPOSITORY,
                &["=HYPERLINK(\"http://x\",\"y\")", "+1"],
            ),
            "-2",
            Severity::High,
            (40, 30),
            "@SUM(1), then \"quotes\"\nand a new line",
        ),
        finding(
            ("platform-search", "search/indexer", &["2026.12.01"]),
            "CVE-2026-31337",
            Severity::Medium,
            (3, 90),
            "upgrade zlib to 1.3.1",
        ),
    ];
    let coverage = vec![
        CoverageRow {
            owner: "payments".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "payments/api".into(),
            digest: format!("sha256:{:064x}", 1),
            tags: vec!["v1.4.2".into(), "latest".into()],
            scan_status: Some("ACTIVE".into()),
            last_scan: Some(NOW - 2 * DAY),
            not_watched: None,
        },
        CoverageRow {
            owner: HOSTILE_OWNER.into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: HOSTILE_REPOSITORY.into(),
            digest: format!("sha256:{:064x}", 2),
            tags: vec!["-2".into()],
            scan_status: Some("FAILED".into()),
            last_scan: None,
            not_watched: Some("scan status FAILED".into()),
        },
        CoverageRow {
            owner: "platform-search".into(),
            account: "555555555555".into(),
            region: "us-east-1".into(),
            repository: "search/legacy".into(),
            digest: format!("sha256:{:064x}", 3),
            tags: Vec::new(),
            scan_status: None,
            last_scan: None,
            not_watched: Some("scan on push is off, never scanned".into()),
        },
    ];
    let history: Vec<Summary> = (1..=EARLIER_RUNS).rev().map(summary).collect();
    debug_assert!(history.len() >= HISTORY_RUNS);
    Report {
        summary: summary(0),
        history,
        findings,
        coverage,
    }
}
