//! The gate's verdict: what the policy made of the image's findings, judged
//! against the severity budgets, and its text form.

use crate::domain::assessment::Assessment;
use crate::domain::deadline::Sla;
use crate::domain::finding::Finding;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::report::FindingRow;
use crate::domain::severity::{Severity, SeverityCounts};
use crate::domain::text::one_line;
use serde::Serialize;
use std::fmt::Write;

/// How many alert-worthy findings of a severity may pass the gate
/// (`--max-critical N` …). A severity without a budget fails the gate from
/// its first finding at or above the threshold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Budgets([Option<u64>; 5]);

impl Budgets {
    fn slot(severity: Severity) -> Option<usize> {
        Severity::RANKED.iter().position(|s| *s == severity)
    }

    pub fn set(&mut self, severity: Severity, max: u64) {
        if let Some(i) = Budgets::slot(severity) {
            self.0[i] = Some(max);
        }
    }

    pub fn get(&self, severity: Severity) -> Option<u64> {
        Budgets::slot(severity).and_then(|i| self.0[i])
    }

    /// The budgets given, most severe first.
    fn given(&self) -> impl Iterator<Item = (Severity, u64)> + '_ {
        Severity::DISPLAY_ORDER
            .into_iter()
            .filter_map(|s| self.get(s).map(|max| (s, max)))
    }

    /// Whether the alert-worthy findings of `severity` fail the gate.
    fn exceeded(&self, severity: Severity, found: u64) -> bool {
        found > self.get(severity).unwrap_or(0)
    }
}

/// The option that sets a severity's budget.
pub fn budget_option(severity: Severity) -> String {
    format!("--max-{}", severity.as_str().to_ascii_lowercase())
}

/// One budget and what it met.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetUse {
    pub severity: Severity,
    pub max: u64,
    /// Alert-worthy findings of that severity.
    pub found: u64,
    pub exceeded: bool,
}

/// The gate's verdict, printed as text, JSON, SARIF, JUnit or markdown.
#[derive(Debug, Serialize)]
pub struct Report {
    pub result: &'static str,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub region: String,
    pub threshold: String,
    pub scan_status: String,
    /// `BASIC` or `ENHANCED`.
    pub scan_type: &'static str,
    /// When ECR says the scan completed (RFC 3339, UTC).
    pub scan_completed_at: Option<String>,
    /// The same, in seconds since the epoch.
    #[serde(skip)]
    pub completed_epoch: Option<i64>,
    /// Every finding, whatever the policy said.
    pub counts: SeverityCounts,
    /// Findings at or above the threshold that the policy kept (not
    /// allow-listed …): what the budgets and the verdict judge.
    pub alert_counts: SeverityCounts,
    pub budgets: Vec<BudgetUse>,
    /// Findings that fail the gate, most severe first.
    pub violations: Vec<Violation>,
    pub violations_total: u64,
    /// Alert-worthy findings let through by a budget.
    pub tolerated: Vec<Violation>,
    pub tolerated_total: u64,
    pub notes: Vec<String>,
    /// The scan results in the ECR console.
    pub console_url: String,
    /// `--allow-uncovered`: an image the policy does not cover passes
    /// (exit 0) instead of failing to be judged (exit 2).
    pub uncovered_allowed: bool,
    /// Who owns the image (`unowned` until [`Report::owned_by`]).
    pub owner: String,
    /// Where the owner comes from: `repository tag owner`, `policy owners[0]` …
    pub owner_source: String,
    /// The registry's account, when known ([`Report::in_account`]): the
    /// CSV's `account` column.
    #[serde(skip)]
    pub account: String,
}

/// `result` of an image the policy's `repositories` or `tags` filters leave
/// out: nothing was judged, which is not a pass.
pub const NOT_COVERED: &str = "not_covered";

#[derive(Debug, Clone, Serialize)]
pub struct Violation {
    pub id: String,
    pub severity: Severity,
    pub package: Option<String>,
    pub fixed_in: Option<String>,
    pub score: Option<f64>,
    pub title: Option<String>,
    pub link: Option<String>,
    /// Risk signals in short (`exploit known`, `EPSS 0.91`, `raised from
    /// MEDIUM (exploit known)`); absent when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<String>,
    /// The finding's identity (vulnerability, package, version), stable
    /// across runs: SARIF's fingerprint.
    #[serde(skip)]
    pub fingerprint: u64,
    /// Inspector's `exploitAvailable` and EPSS score, when known (the CSV).
    #[serde(skip)]
    pub exploit: Option<bool>,
    #[serde(skip)]
    pub epss: Option<f64>,
    /// Inspector's `firstObservedAt` (epoch seconds); basic scanning names none.
    #[serde(skip)]
    pub first_observed: Option<i64>,
    /// `upgrade openssl to 3.0.15`, as the digest says it.
    #[serde(skip)]
    pub fix: String,
    /// Its deadline under the policy's `sla` (epoch seconds) and the whole
    /// days past it, set by [`Report::with_deadlines`].
    #[serde(skip)]
    pub deadline: Option<i64>,
    #[serde(skip)]
    pub overdue_days: Option<i64>,
}

impl Violation {
    fn of(finding: &Finding) -> Violation {
        Violation {
            id: finding.id.clone(),
            severity: finding.severity,
            package: finding.package_label(),
            fixed_in: finding.fixed_in.clone(),
            score: finding.score,
            title: finding.title.clone(),
            link: finding.link.clone(),
            signals: finding.signals(),
            fingerprint: crate::domain::dedup::fingerprint(finding) >> 3,
            exploit: finding.exploit_available,
            epss: finding.epss,
            first_observed: finding.first_observed,
            fix: crate::domain::digest::fix_phrase(finding),
            deadline: None,
            overdue_days: None,
        }
    }

    /// Its row of `findings.csv` (docs/report.md), for an image of
    /// `report`.
    fn row(&self, report: &Report) -> FindingRow {
        FindingRow {
            owner: report.owner.clone(),
            account: report.account.clone(),
            region: report.region.clone(),
            repository: report.repository.clone(),
            digest: report.digest.clone(),
            tags: report.tags.clone(),
            vulnerability: self.id.clone(),
            severity: self.severity,
            exploit: self.exploit,
            epss: self.epss,
            first_observed: self.first_observed,
            deadline: self.deadline,
            overdue_days: self.overdue_days,
            fix: self.fix.clone(),
        }
    }
}

impl Report {
    pub fn passed(&self) -> bool {
        self.result == "pass"
    }

    /// Whether the policy left the image out (`repositories`, `tags`).
    pub fn not_covered(&self) -> bool {
        self.result == NOT_COVERED
    }

    /// 0 pass, 1 policy violations, 2 not covered by the policy (0 with
    /// `--allow-uncovered`).
    pub fn exit_code(&self) -> u8 {
        match self.result {
            "pass" => 0,
            NOT_COVERED if self.uncovered_allowed => 0,
            NOT_COVERED => 2,
            _ => 1,
        }
    }

    /// `--allow-uncovered`: the verdict stays "not covered", and says it
    /// was allowed.
    pub fn allow_uncovered(&mut self) {
        if self.not_covered() {
            self.uncovered_allowed = true;
            self.notes
                .push("Allowed by --allow-uncovered: the gate exits 0 for it.".into());
        }
    }

    /// The headline of a report: `PASS`, `FAIL`, `NOT COVERED` (and
    /// `NOT COVERED (allowed)`).
    pub fn verdict(&self) -> &'static str {
        match self.result {
            "pass" => "PASS",
            NOT_COVERED if self.uncovered_allowed => "NOT COVERED (allowed)",
            NOT_COVERED => "NOT COVERED",
            _ => "FAIL",
        }
    }

    /// `team/api:v1` (tags) or `team/api@sha256:…`.
    pub fn image_name(&self) -> String {
        if self.tags.is_empty() {
            format!("{}@{}", self.repository, self.digest)
        } else {
            format!("{}:{}", self.repository, self.tags.join(","))
        }
    }

    /// `Owner: payments (repository tag owner)`.
    pub fn owner_line(&self) -> String {
        format!("Owner: {} ({})", self.owner, self.owner_source)
    }

    /// The same report, saying who owns the image.
    pub fn owned_by(mut self, owner: &crate::domain::owner::Owner) -> Report {
        self.owner.clone_from(&owner.name);
        self.owner_source = owner.source.phrase();
        self
    }

    /// The same report, naming the registry's account.
    pub fn in_account(mut self, account: &str) -> Report {
        self.account = account.to_string();
        self
    }

    /// The same report with each listed finding's deadline under `sla`,
    /// counted at `now` (epoch seconds) from its first observation, as the
    /// digest counts it (`Sla::standing`). Without an `sla`, or for a
    /// finding whose first observation is unknown (basic scanning: the
    /// digest counts from the image's push, which the gate does not read),
    /// there is none.
    pub fn with_deadlines(mut self, sla: Option<&Sla>, now: i64) -> Report {
        let Some(sla) = sla else {
            return self;
        };
        for v in self.violations.iter_mut().chain(self.tolerated.iter_mut()) {
            (v.deadline, v.overdue_days) =
                sla.standing(v.severity, v.first_observed, now).deadline();
        }
        self
    }

    /// The rows of `findings.csv` for the alert-worthy findings listed:
    /// those that fail the gate, then those a budget lets through.
    pub fn finding_rows(&self) -> Vec<FindingRow> {
        self.violations
            .iter()
            .chain(&self.tolerated)
            .map(|v| v.row(self))
            .collect()
    }

    /// A report for an image the policy does not cover: its `repositories`
    /// or `tags` filters leave it out, so nothing is judged. Not a pass:
    /// exit 2 unless `--allow-uncovered`.
    pub fn uncovered(image: &ImageRef, reason: &str) -> Report {
        let mut notes = vec![format!(
            "Not covered by the policy: {reason}. Nothing was judged; pass --allow-uncovered \
             to let images the policy leaves out pass."
        )];
        if image.tags.is_empty() {
            notes.push(
                "The gate knows an image's tags only from --tag: with --digest the image has none."
                    .into(),
            );
        }
        Report {
            result: NOT_COVERED,
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tags: image.tags.clone(),
            region: image.region.clone(),
            threshold: "-".into(),
            scan_status: "-".into(),
            scan_type: "-",
            scan_completed_at: None,
            completed_epoch: None,
            counts: SeverityCounts::default(),
            alert_counts: SeverityCounts::default(),
            budgets: Vec::new(),
            violations: Vec::new(),
            violations_total: 0,
            tolerated: Vec::new(),
            tolerated_total: 0,
            notes,
            console_url: image.console_url(),
            uncovered_allowed: false,
            owner: crate::domain::owner::UNOWNED.to_string(),
            owner_source: crate::domain::owner::OwnerSource::Nobody.phrase(),
            account: image.account.clone(),
        }
    }

    /// The verdict on the assessment, under the budgets.
    pub fn judge(
        image: &ImageRef,
        assessment: &Assessment,
        budgets: &Budgets,
        completed_at: Option<i64>,
    ) -> Report {
        let tally = &assessment.tally;
        let alert_counts = tally.alert_counts.clone();
        let over = |s: Severity| budgets.exceeded(s, alert_counts.get(s));
        let (violations, tolerated): (Vec<&Finding>, Vec<&Finding>) =
            tally.listed().into_iter().partition(|f| over(f.severity));
        let total = |pick: &dyn Fn(Severity) -> bool| -> u64 {
            alert_counts
                .non_zero()
                .filter(|(s, _)| pick(*s))
                .map(|(_, n)| n)
                .sum()
        };
        let violations_total = total(&|s| over(s));
        let tolerated_total = total(&|s| !over(s));
        let mut notes = assessment.notes.clone();
        let mut uses = Vec::new();
        for (severity, max) in budgets.given() {
            let found = alert_counts.get(severity);
            if severity < assessment.threshold {
                notes.push(format!(
                    "{} has no effect: {severity} is below the threshold {} (lower --threshold to \
                     count {severity} findings).",
                    budget_option(severity),
                    assessment.threshold
                ));
            }
            uses.push(BudgetUse {
                severity,
                max,
                found,
                exceeded: found > max,
            });
        }
        let within: Vec<String> = uses
            .iter()
            .filter(|u| !u.exceeded && u.found > 0)
            .map(|u| format!("{} {} of at most {}", u.found, u.severity, u.max))
            .collect();
        if !within.is_empty() {
            notes.push(format!("Within budget: {}.", within.join(", ")));
        }
        Report {
            result: if violations_total == 0 {
                "pass"
            } else {
                "fail"
            },
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tags: image.tags.clone(),
            region: image.region.clone(),
            threshold: assessment.threshold.to_string(),
            scan_status: assessment.status.clone(),
            scan_type: match assessment.kind {
                ScanKind::Basic => "BASIC",
                ScanKind::Enhanced => "ENHANCED",
            },
            scan_completed_at: completed_at.and_then(rfc3339),
            completed_epoch: completed_at,
            counts: tally.counts.clone(),
            alert_counts,
            budgets: uses,
            violations: violations.into_iter().map(Violation::of).collect(),
            violations_total,
            tolerated: tolerated.into_iter().map(Violation::of).collect(),
            tolerated_total,
            notes,
            console_url: image.console_url(),
            uncovered_allowed: false,
            owner: crate::domain::owner::UNOWNED.to_string(),
            owner_source: crate::domain::owner::OwnerSource::Nobody.phrase(),
            account: image.account.clone(),
        }
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        if self.not_covered() {
            let _ = writeln!(out, "{}: {}", self.verdict(), one_line(&self.image_name()));
            let _ = writeln!(out, "{}", one_line(&self.owner_line()));
            for note in &self.notes {
                let _ = writeln!(out, "{}", one_line(note));
            }
            return out;
        }
        let over = if self.budgets.is_empty() {
            ""
        } else {
            " over budget"
        };
        let _ = writeln!(
            out,
            "{}: {} finding(s) at or above {}{over} in {} ({})",
            self.result.to_ascii_uppercase(),
            self.violations_total,
            self.threshold,
            one_line(&self.image_name()),
            self.scan_status
        );
        let _ = writeln!(out, "{}", one_line(&self.owner_line()));
        for v in &self.violations {
            let _ = writeln!(out, "  {}", violation_line(v));
        }
        let listed = self.violations.len() as u64;
        if self.violations_total > listed {
            let _ = writeln!(out, "  ... and {} more", self.violations_total - listed);
        }
        for b in &self.budgets {
            let _ = writeln!(
                out,
                "Budget {} {}: {} found{}",
                budget_option(b.severity),
                b.max,
                b.found,
                if b.exceeded { ", exceeded" } else { "" }
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "{}", one_line(note));
        }
        out
    }
}

/// `HIGH      CVE-2026-1               openssl@3.0.2 -> 3.0.8`
fn violation_line(v: &Violation) -> String {
    format!(
        "{:<9} {:<20} {}{}",
        v.severity.as_str(),
        one_line(&v.id),
        v.package.as_deref().map(one_line).unwrap_or_default(),
        v.fixed_in
            .as_deref()
            .map(|f| format!(" -> {}", one_line(f)))
            .unwrap_or_default()
    )
}

fn rfc3339(epoch_seconds: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(epoch_seconds, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assessment::Reader;
    use crate::domain::dedup::Known;
    use crate::domain::judged::JudgedFindings;
    use crate::domain::policy::Policy;

    fn finding(id: &str, severity: Severity) -> Finding {
        let mut f = Finding::new(id, severity);
        f.package_name = Some("openssl".into());
        f.package_version = Some("3.0.2".into());
        f
    }

    fn judged(threshold: Severity, findings: Vec<Finding>, budgets: &Budgets) -> Report {
        let image = ImageRef::sample("team/api", &["v1"]);
        let policy = Policy::new(threshold);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let image_policy = policy.for_image(&image, today);
        let mut tally = JudgedFindings::default();
        tally.judge_all(findings, &image_policy, &Known::default());
        let assessment = Assessment::new(
            &policy,
            &image_policy,
            tally,
            ScanKind::Basic,
            "COMPLETE",
            Reader::Gate,
        );
        Report::judge(&image, &assessment, budgets, Some(1_764_547_200))
    }

    fn sample() -> Vec<Finding> {
        vec![
            finding("CVE-C1", Severity::Critical),
            finding("CVE-H1", Severity::High),
            finding("CVE-H2", Severity::High),
            finding("CVE-M1", Severity::Medium),
        ]
    }

    #[test]
    fn without_budgets_any_finding_at_or_above_the_threshold_fails() {
        let report = judged(Severity::High, sample(), &Budgets::default());
        assert!(!report.passed());
        assert_eq!(report.violations_total, 3);
        let ids: Vec<_> = report.violations.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(ids, ["CVE-C1", "CVE-H1", "CVE-H2"]);
        assert_eq!(
            report.scan_completed_at.as_deref(),
            Some("2025-12-01T00:00:00Z")
        );
        assert!(report
            .text()
            .starts_with("FAIL: 3 finding(s) at or above HIGH in "));
    }

    #[test]
    fn budgets_let_findings_through_up_to_their_count() {
        let mut budgets = Budgets::default();
        budgets.set(Severity::Critical, 1);
        budgets.set(Severity::High, 2);
        let report = judged(Severity::High, sample(), &budgets);
        assert!(report.passed(), "{}", report.text());
        assert_eq!(report.tolerated_total, 3);
        assert!(report
            .notes
            .iter()
            .any(|n| n == "Within budget: 1 CRITICAL of at most 1, 2 HIGH of at most 2."));

        budgets.set(Severity::High, 1);
        let report = judged(Severity::High, sample(), &budgets);
        assert!(!report.passed());
        let ids: Vec<_> = report.violations.iter().map(|v| v.id.as_str()).collect();
        assert_eq!(
            ids,
            ["CVE-H1", "CVE-H2"],
            "only the severity over budget fails"
        );
        assert_eq!(report.tolerated[0].id, "CVE-C1");
        let text = report.text();
        assert!(
            text.starts_with("FAIL: 2 finding(s) at or above HIGH over budget in "),
            "{text}"
        );
        assert!(
            text.contains("Budget --max-high 1: 2 found, exceeded"),
            "{text}"
        );
    }

    #[test]
    fn csv_rows_carry_the_owner_account_and_deadlines_of_the_digest() {
        const DAY: i64 = 86_400;
        let now = 1_796_630_400;
        let mut critical = finding("CVE-C1", Severity::Critical);
        critical.first_observed = Some(now - 20 * DAY);
        critical.exploit_available = Some(true);
        critical.epss = Some(0.5);
        critical.fixed_in = Some("3.0.15".into());
        let mut high = finding("CVE-H1", Severity::High);
        high.first_observed = Some(now - 10 * DAY);
        let basic = finding("CVE-H2", Severity::High);
        let mut budgets = Budgets::default();
        budgets.set(Severity::High, 5);
        let sla = Sla::new([("CRITICAL".into(), 15), ("HIGH".into(), 30)]).unwrap();
        let owner = crate::domain::owner::Owner {
            name: "payments".into(),
            source: crate::domain::owner::OwnerSource::Nobody,
        };
        let report = judged(Severity::High, vec![critical, high, basic], &budgets)
            .owned_by(&owner)
            .in_account("123456789012")
            .with_deadlines(Some(&sla), now);
        let rows = report.finding_rows();
        let ids: Vec<&str> = rows.iter().map(|r| r.vulnerability.as_str()).collect();
        assert_eq!(
            ids,
            ["CVE-C1", "CVE-H1", "CVE-H2"],
            "failing, then within budget"
        );
        let c1 = &rows[0];
        assert_eq!(
            (c1.owner.as_str(), c1.account.as_str()),
            ("payments", "123456789012")
        );
        assert_eq!(c1.repository, "team/api");
        assert_eq!(c1.tags, ["v1"]);
        assert_eq!((c1.exploit, c1.epss), (Some(true), Some(0.5)));
        assert_eq!(c1.deadline, Some(now - 5 * DAY));
        assert_eq!(c1.overdue_days, Some(5));
        assert_eq!(c1.fix, "upgrade openssl to 3.0.15");
        assert_eq!(
            (rows[1].deadline, rows[1].overdue_days),
            (Some(now + 20 * DAY), None)
        );
        assert_eq!(
            (
                rows[2].first_observed,
                rows[2].deadline,
                rows[2].overdue_days
            ),
            (None, None, None),
            "basic scanning names no first observation"
        );
        assert_eq!(rows[2].fix, "openssl: no fixed version known");

        let without_sla = judged(Severity::High, sample(), &Budgets::default())
            .with_deadlines(None, now)
            .finding_rows();
        assert_eq!(without_sla.len(), 3);
        assert!(without_sla.iter().all(|r| r.deadline.is_none()));
    }

    #[test]
    fn a_budget_below_the_threshold_says_it_has_no_effect() {
        let mut budgets = Budgets::default();
        budgets.set(Severity::Medium, 0);
        let report = judged(Severity::Critical, sample(), &budgets);
        assert_eq!(report.violations_total, 1);
        assert!(report.notes.iter().any(
            |n| n.starts_with("--max-medium has no effect: MEDIUM is below the threshold CRITICAL")
        ));
        let report = judged(Severity::Medium, sample(), &budgets);
        assert_eq!(
            report.violations_total, 4,
            "MEDIUM now counts, with a budget of 0"
        );
    }
}
