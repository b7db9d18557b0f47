//! Rendering alerts for people: the subject and routing attributes shared by
//! every format, the email text ([`email`]) and the Slack custom notification
//! ([`chat`]), both opening with the [`FixPlan`]. Plain functions of plain
//! data: no SDK types, no I/O.

pub mod chat;
pub mod digest;
pub mod email;
pub mod gate;
pub mod plan;
pub mod report;
pub mod storm;

use crate::domain::alert::{self, Alert, AlertKind, SUBJECT_LIMIT};
use crate::domain::commit_link::SourceLink;
use crate::domain::fixplan::FixPlan;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::judged::JudgedFindings;
use crate::domain::owner::Owner;
use crate::domain::severity::{Severity, SeverityCounts};
use crate::domain::text::printable_ascii;

/// What a findings alert is built from.
pub struct FindingsReport<'a> {
    pub image: &'a ImageRef,
    pub kind: ScanKind,
    pub status: &'a str,
    pub threshold: Severity,
    pub tally: &'a JudgedFindings,
    /// The EventBridge event id, when the event had one.
    pub event_id: Option<&'a str>,
    /// What the policy did, in sentences (what it removed, expired entries).
    pub notes: &'a [String],
    /// The name people know the image's account by (`ACCOUNT_ALIASES`).
    pub account_alias: Option<&'a str>,
    /// Who owns the image (docs/alerts.md, "Who owns it").
    pub owner: Option<&'a Owner>,
}

impl<'a> FindingsReport<'a> {
    /// What the renderers draw the findings alert from: the assessment of
    /// one image.
    pub fn of(
        assessment: &'a crate::domain::assessment::Assessment,
        image: &'a ImageRef,
        event_id: Option<&'a str>,
        account_alias: Option<&'a str>,
        owner: Option<&'a Owner>,
    ) -> FindingsReport<'a> {
        FindingsReport {
            owner,
            image,
            kind: assessment.kind,
            status: &assessment.status,
            threshold: assessment.threshold,
            tally: &assessment.tally,
            event_id,
            notes: &assessment.notes,
            account_alias,
        }
    }
}

/// What a scan-failed alert is built from.
pub struct FailureReport<'a> {
    pub image: &'a ImageRef,
    pub kind: ScanKind,
    pub status: &'a str,
    pub description: Option<&'a str>,
    /// Why ECR's own account of the failure is missing, when it is.
    pub lookup_problem: Option<&'a str>,
    pub event_id: Option<&'a str>,
    /// The name people know the image's account by (`ACCOUNT_ALIASES`).
    pub account_alias: Option<&'a str>,
    /// Who owns the image.
    pub owner: Option<&'a Owner>,
}

/// Everything a reader of a findings alert sees, built once: the two
/// formats ([`email`], [`chat`]) only lay it out.
pub struct FindingsView<'a> {
    pub image: &'a ImageRef,
    pub account_alias: Option<&'a str>,
    pub owner: Option<&'a Owner>,
    pub kind: ScanKind,
    pub status: &'a str,
    pub threshold: Severity,
    /// The most severe alert-worthy severity: the alert's severity.
    pub highest: Severity,
    pub subject: String,
    /// `N finding(s) at or above T`: how many, and the threshold.
    pub alert_worthy: u64,
    /// `1 critical, 2 high`: the alert-worthy counts in words.
    pub counts_phrase: String,
    /// Counts of every finding and of the alert-worthy ones; the most
    /// severe alert-worthy findings, listed.
    pub tally: &'a JudgedFindings,
    pub plan: FixPlan,
    pub source: Option<&'a SourceLink>,
    pub notes: &'a [String],
    pub event_id: Option<&'a str>,
    pub console_url: String,
    pub pull: String,
    /// `1 with a known exploit`, when any.
    pub exploit_phrase: Option<String>,
    /// Whether the image runs: `running (in use: 12)`, `unknown …`.
    pub in_use: String,
    /// `Still open, alerted before: 4 (1 critical, 3 high): CVE-1, …`
    /// (only-new alerts).
    pub still_open: Option<String>,
}

impl<'a> FindingsView<'a> {
    /// The view of `report`; `None` when nothing is alert-worthy.
    pub fn new(report: &FindingsReport<'a>, source: Option<&'a SourceLink>) -> Option<Self> {
        let highest = report.tally.highest_alert_severity()?;
        Some(FindingsView {
            image: report.image,
            account_alias: report.account_alias,
            owner: report.owner,
            kind: report.kind,
            status: report.status,
            threshold: report.threshold,
            highest,
            subject: findings_subject(
                highest,
                &report.tally.alert_counts,
                report.tally.exploitable,
                report.image,
            ),
            alert_worthy: report.tally.alert_worthy(),
            counts_phrase: counts_phrase(&report.tally.alert_counts),
            tally: report.tally,
            plan: FixPlan::from_tally(report.tally),
            source,
            notes: report.notes,
            event_id: report.event_id,
            console_url: report.image.console_url(),
            pull: report.image.pinned_reference(),
            exploit_phrase: (report.tally.exploitable > 0)
                .then(|| format!("{} with a known exploit", report.tally.exploitable)),
            in_use: report.tally.usage.phrase(),
            still_open: still_open(report.tally),
        })
    }
}

/// The alert for a scan's findings, or `None` when nothing is alert-worthy.
pub fn findings_alert(report: &FindingsReport<'_>) -> Option<Alert> {
    findings_alert_with_source(report, None)
}

/// The same, linking to the source the image was built from when known.
pub fn findings_alert_with_source(
    report: &FindingsReport<'_>,
    source: Option<&SourceLink>,
) -> Option<Alert> {
    let view = FindingsView::new(report, source)?;
    let mut attributes = attributes(
        view.image,
        view.highest.as_str(),
        AlertKind::Findings,
        view.account_alias,
        view.owner,
    );
    attributes.push((
        alert::ATTR_EXPLOITABLE,
        report.tally.exploitable_attribute().to_string(),
    ));
    attributes.push((
        alert::ATTR_IN_USE,
        report.tally.usage.attribute().to_string(),
    ));
    let body = email::findings(&view, alert::attributes_size(&attributes));
    let chat = chat::findings(&view);
    Some(Alert {
        kind: AlertKind::Findings,
        subject: view.subject,
        body,
        chat,
        attributes,
        array_attributes: Vec::new(),
    })
}

/// The alert for a scan that did not produce findings.
pub fn scan_failed_alert(report: &FailureReport<'_>) -> Alert {
    scan_failed_alert_with_source(report, None)
}

/// The same, linking to the source the image was built from when known.
pub fn scan_failed_alert_with_source(
    report: &FailureReport<'_>,
    source: Option<&SourceLink>,
) -> Alert {
    let subject = subject(
        &format!("Scan {}: ", printable_ascii(report.status)),
        &report.image.short_name(),
    );
    Alert {
        kind: AlertKind::ScanFailed,
        body: email::scan_failed(report, source, &subject),
        chat: chat::scan_failed(report, source),
        subject,
        attributes: attributes(
            report.image,
            "NONE",
            AlertKind::ScanFailed,
            report.account_alias,
            report.owner,
        ),
        array_attributes: Vec::new(),
    }
}

fn attributes(
    image: &ImageRef,
    severity: &str,
    kind: AlertKind,
    account_alias: Option<&str>,
    owner: Option<&Owner>,
) -> Vec<(&'static str, String)> {
    let mut attributes = vec![
        (alert::ATTR_SEVERITY, severity.to_string()),
        (alert::ATTR_REPOSITORY, image.repository.clone()),
        (alert::ATTR_ACCOUNT, image.account.clone()),
        (alert::ATTR_REGION, image.region.clone()),
        (alert::ATTR_ALERT_KIND, kind.as_str().to_string()),
    ];
    if let Some(alias) = account_alias {
        attributes.push((alert::ATTR_ACCOUNT_ALIAS, alias.to_string()));
    }
    if let Some(owner) = owner {
        attributes.push((alert::ATTR_OWNER, owner.name.clone()));
    }
    attributes
}

/// `CRITICAL: 1 critical, 2 high in repo:tag`; with a known exploit,
/// `CRITICAL, exploit known: …`, so that the riskiest reads first.
fn findings_subject(
    highest: Severity,
    counts: &SeverityCounts,
    exploitable: u64,
    image: &ImageRef,
) -> String {
    let exploit = if exploitable > 0 {
        ", exploit known"
    } else {
        ""
    };
    subject(
        &format!("{highest}{exploit}: {} in ", counts_phrase(counts)),
        &image.short_name(),
    )
}

/// The one line an only-new alert ends with: findings still open that
/// were alerted before, the most severe named.
fn still_open(tally: &JudgedFindings) -> Option<String> {
    let total = tally.still_open.total();
    if total == 0 {
        return None;
    }
    let named: Vec<&str> = tally
        .still_open_ids
        .iter()
        .map(|(_, id)| id.as_str())
        .collect();
    let counts = counts_phrase(&tally.still_open);
    Some(if (named.len() as u64) < total {
        format!(
            "Still open, alerted before: {total} ({counts}), the most severe {}.",
            named.join(", ")
        )
    } else {
        format!(
            "Still open, alerted before: {counts} ({}).",
            named.join(", ")
        )
    })
}

/// `2 critical, 3 high`
pub(crate) fn counts_phrase(counts: &SeverityCounts) -> String {
    counts
        .non_zero()
        .map(|(sev, n)| format!("{n} {}", sev.as_str().to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What an upgrade fixes: `1 critical`, or `3: 1 critical, 2 high`.
pub(crate) fn fixes_phrase(counts: &SeverityCounts) -> String {
    if counts.non_zero().count() > 1 {
        format!("{}: {}", counts.total(), counts_phrase(counts))
    } else {
        counts_phrase(counts)
    }
}

/// `2 of the 3 findings`, `all 3 findings`, `the 1 finding`
pub(crate) fn of_total(part: u64, total: u64) -> String {
    match (part, total) {
        (_, 1) if part == total => "the 1 finding".to_string(),
        _ if part == total => format!("all {total} findings"),
        _ => format!("{part} of the {}", findings_count(total)),
    }
}

/// `1 finding`, `2 findings`
pub(crate) fn findings_count(n: u64) -> String {
    if n == 1 {
        "1 finding".to_string()
    } else {
        format!("{n} findings")
    }
}

/// `prefix` + `name`, printable ASCII only, at most 99 characters: the name
/// is shortened in the middle (keeping its tag) when it does not fit.
pub fn subject(prefix: &str, name: &str) -> String {
    let prefix = printable_ascii(prefix);
    let name = printable_ascii(name);
    const MIN_NAME: usize = 24;
    let prefix = if prefix.len() + MIN_NAME > SUBJECT_LIMIT {
        format!("{}... ", &prefix[..SUBJECT_LIMIT - MIN_NAME - 4])
    } else {
        prefix
    };
    let room = SUBJECT_LIMIT - prefix.len();
    let subject = format!("{prefix}{}", shorten_middle(&name, room));
    // SNS wants a letter, digit or punctuation first; never a space.
    let trimmed = subject.trim_start().to_string();
    if trimmed.is_empty() {
        "ECR scan alert".to_string()
    } else {
        trimmed
    }
}

/// ASCII `text` shortened to `max` bytes by cutting out its middle.
fn shorten_middle(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    if max <= 3 {
        return ".".repeat(max);
    }
    let keep = max - 3;
    let head = keep / 3;
    let tail = keep - head;
    format!("{}...{}", &text[..head], &text[text.len() - tail..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_fit_even_with_every_severity_counted() {
        let mut counts = SeverityCounts::default();
        for sev in Severity::RANKED {
            counts.add(sev, 123_456_789);
        }
        let image = ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "r".repeat(256),
            digest: "sha256:00".into(),
            tags: vec!["t".repeat(128)],
        };
        let s = findings_subject(Severity::Critical, &counts, 0, &image);
        assert!(s.len() <= SUBJECT_LIMIT, "{s}");
        assert!(s.starts_with("CRITICAL: 123456789 critical"));
        let s = findings_subject(Severity::Critical, &counts, 1, &image);
        assert!(s.len() <= SUBJECT_LIMIT, "{s}");
        assert!(s.starts_with("CRITICAL, exploit known: 123456789 critical"));
    }

    #[test]
    fn an_alias_names_the_account_next_to_its_id() {
        let image = ImageRef {
            account: "111111111111".into(),
            region: "eu-west-1".into(),
            repository: "payments/api".into(),
            digest: "sha256:00".into(),
            tags: vec!["v1".into()],
        };
        let alert = scan_failed_alert(&FailureReport {
            image: &image,
            kind: ScanKind::Basic,
            status: "FAILED",
            description: Some("unsupported image"),
            lookup_problem: None,
            event_id: None,
            account_alias: Some("payments-prod"),
            owner: None,
        });
        assert!(alert
            .body
            .contains("  Account     111111111111 payments-prod (eu-west-1)\n"));
        assert_eq!(alert.attribute("account_alias"), Some("payments-prod"));
        assert_eq!(alert.attribute("account"), Some("111111111111"));
        assert_eq!(alert.subject, "Scan FAILED: payments/api:v1");
        assert!(alert.publish_size() < alert::SNS_MESSAGE_LIMIT);
    }
}
