//! The posture report (docs/report.md): what each digest run writes for
//! managers and auditors. `summary.json` holds the figures behind the
//! charts in a versioned schema, and the trends are read back from earlier
//! summaries, so the report needs no other store. The rows of
//! `findings.csv` and `coverage.csv` are plain data; their text is the
//! renderer's (`render/report.rs`).

use crate::domain::severity::{Severity, SeverityCounts};
use serde::{Deserialize, Serialize};

/// The version of `summary.json`'s schema. A summary of another version is
/// left out of the trends, with a WARN, never read as this one.
pub const SCHEMA_VERSION: u32 = 1;
/// Runs the trend charts show at most (this one and the 11 before).
pub const HISTORY_RUNS: usize = 12;
/// Repositories the "most open" chart and the summary list at most.
pub const TOP_REPOSITORIES: usize = 10;

/// Counts by ranked severity, as `summary.json` writes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BySeverity {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl BySeverity {
    pub fn of(counts: &SeverityCounts) -> BySeverity {
        BySeverity {
            critical: counts.get(Severity::Critical),
            high: counts.get(Severity::High),
            medium: counts.get(Severity::Medium),
            low: counts.get(Severity::Low),
        }
    }

    pub fn total(&self) -> u64 {
        self.critical + self.high + self.medium + self.low
    }

    /// `(severity, count)`, most severe first.
    pub fn pairs(&self) -> [(Severity, u64); 4] {
        [
            (Severity::Critical, self.critical),
            (Severity::High, self.high),
            (Severity::Medium, self.medium),
            (Severity::Low, self.low),
        ]
    }
}

/// One owner's figures in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerFigures {
    pub owner: String,
    /// Open findings at or above the threshold, policy applied.
    pub open: BySeverity,
    pub overdue: u64,
    /// Fixed since the last digest that had a deadline, and of those fixed
    /// in time; `None` when new and fixed are not known this run.
    pub fixed_with_deadline: Option<u64>,
    pub fixed_in_time: Option<u64>,
    pub images_current: u64,
    pub images_watched: u64,
}

/// A repository with open findings, for the "most open" chart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryFigures {
    pub account: String,
    pub region: String,
    pub repository: String,
    pub owner: String,
    pub open: BySeverity,
}

/// `summary.json`: the figures of one run (docs/report.md, "summary.json").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// [`SCHEMA_VERSION`].
    pub schema: u32,
    /// The run's time, RFC 3339 UTC.
    pub generated_at: String,
    /// The run's day, `YYYY-MM-DD`: the folder `reports/<date>/`.
    pub date: String,
    /// The threshold the counts are at or above.
    pub threshold: String,
    /// What was read: `this account, region us-east-1` or the accounts.
    pub scope: String,
    pub open: BySeverity,
    pub overdue: BySeverity,
    pub images_current: u64,
    pub images_watched: u64,
    pub owners: Vec<OwnerFigures>,
    /// Most open first, at most [`TOP_REPOSITORIES`].
    pub top_repositories: Vec<RepositoryFigures>,
    /// Registries not read in time: their figures are missing.
    pub registries_late: Vec<String>,
}

/// One open finding at or above the threshold: a row of `findings.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FindingRow {
    pub owner: String,
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub vulnerability: String,
    /// The severity it routes at (policy applied).
    pub severity: Severity,
    pub exploit: Option<bool>,
    pub epss: Option<f64>,
    /// Epoch seconds: Inspector's `firstObservedAt`, or the push for basic
    /// scanning.
    pub first_observed: Option<i64>,
    /// Epoch seconds; `None` without an `sla` for its severity.
    pub deadline: Option<i64>,
    /// Whole days past the deadline; `None` when not overdue.
    pub overdue_days: Option<i64>,
    /// `upgrade openssl to 3.0.15`, or what is known of the fix.
    pub fix: String,
}

/// One current image: a row of `coverage.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageRow {
    pub owner: String,
    pub account: String,
    pub region: String,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    /// ECR's `imageScanStatus.status`; `None`: never scanned.
    pub scan_status: Option<String>,
    /// Epoch seconds of the last completed scan.
    pub last_scan: Option<i64>,
    /// Why scanning does not watch it; `None`: watched.
    pub not_watched: Option<String>,
}

/// Everything one run's report is drawn from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub summary: Summary,
    /// Earlier runs' summaries, oldest first (at most [`HISTORY_RUNS`] - 1).
    pub history: Vec<Summary>,
    pub findings: Vec<FindingRow>,
    pub coverage: Vec<CoverageRow>,
}

impl Report {
    /// The runs the trend charts show, oldest first, this one last.
    pub fn runs(&self) -> Vec<&Summary> {
        let skip = self.history.len().saturating_sub(HISTORY_RUNS - 1);
        self.history[skip..]
            .iter()
            .chain(std::iter::once(&self.summary))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trends_show_the_last_twelve_runs_oldest_first() {
        let run = |date: &str| Summary {
            schema: SCHEMA_VERSION,
            date: date.into(),
            ..Summary::default()
        };
        let report = Report {
            summary: run("2026-12-07"),
            history: (1..=20).map(|d| run(&format!("2026-01-{d:02}"))).collect(),
            ..Report::default()
        };
        let dates: Vec<&str> = report.runs().iter().map(|s| s.date.as_str()).collect();
        assert_eq!(dates.len(), HISTORY_RUNS);
        assert_eq!(dates[0], "2026-01-10");
        assert_eq!(dates[11], "2026-12-07");
    }

    #[test]
    fn a_summary_reads_back_what_it_wrote() {
        let mut counts = SeverityCounts::default();
        counts.add(Severity::Critical, 2);
        let summary = Summary {
            schema: SCHEMA_VERSION,
            date: "2026-12-07".into(),
            open: BySeverity::of(&counts),
            owners: vec![OwnerFigures {
                owner: "payments".into(),
                fixed_with_deadline: Some(4),
                fixed_in_time: Some(3),
                ..OwnerFigures::default()
            }],
            ..Summary::default()
        };
        let text = serde_json::to_string(&summary).unwrap();
        let back: Summary = serde_json::from_str(&text).unwrap();
        assert_eq!(back, summary);
        assert_eq!(back.open.total(), 2);
    }
}
