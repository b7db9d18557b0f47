//! Alert text for people: the subject line and an email-readable body that
//! fits SNS's limits whatever the number of findings.

use crate::alert::{self, Alert, AlertKind, SNS_MESSAGE_LIMIT, SUBJECT_LIMIT};
use crate::finding::{Finding, FixAvailable};
use crate::image::{ImageRef, ScanKind};
use crate::severity::{Severity, SeverityCounts};
use crate::tally::Tally;
use std::fmt::Write;

/// Room kept free below SNS's limit for what SNS adds or counts differently.
const SAFETY_MARGIN: usize = 1024;

/// What a findings alert is built from.
pub struct FindingsReport<'a> {
    pub image: &'a ImageRef,
    pub kind: ScanKind,
    pub status: &'a str,
    pub threshold: Severity,
    pub tally: &'a Tally,
}

/// What a scan-failed alert is built from.
pub struct FailureReport<'a> {
    pub image: &'a ImageRef,
    pub kind: ScanKind,
    pub status: &'a str,
    pub description: Option<&'a str>,
    /// Why ECR's own account of the failure is missing, when it is.
    pub lookup_problem: Option<&'a str>,
}

/// The alert for a scan's findings, or `None` when nothing is alert-worthy.
pub fn findings_alert(report: &FindingsReport<'_>) -> Option<Alert> {
    let tally = report.tally;
    let highest = tally.highest_alert_severity()?;
    let attributes = attributes(report.image, highest.as_str(), AlertKind::Findings);
    let budget = SNS_MESSAGE_LIMIT - alert::attributes_size(&attributes) - SAFETY_MARGIN;

    let counts = counts_phrase(&tally.alert_counts);
    let subject = subject(
        &format!("{highest}: {counts} in "),
        &report.image.short_name(),
    );

    let mut body = String::new();
    let _ = writeln!(
        body,
        "{} finding(s) at or above {} in {}: {}.",
        tally.alert_worthy(),
        report.threshold,
        one_line(&report.image.short_name()),
        counts
    );
    body.push('\n');
    image_section(&mut body, report.image, report.kind, report.status);
    body.push('\n');
    let _ = writeln!(
        body,
        "All findings by severity ({} in all)",
        tally.counts.total()
    );
    for (sev, n) in tally.counts.non_zero() {
        let _ = writeln!(body, "  {:<14}{:>7}", sev.as_str(), n);
    }
    body.push('\n');
    let _ = writeln!(
        body,
        "Findings at or above {} ({}), most severe first",
        report.threshold,
        tally.alert_worthy()
    );

    let footer = footer(report.kind);
    let listed = tally.listed();
    let mut shown: u64 = 0;
    for finding in &listed {
        let entry = finding_entry(finding, report.kind);
        // Keep room for the "more not listed" line and the footer.
        let reserve = 160 + footer.len();
        if body.len() + entry.len() + reserve > budget {
            break;
        }
        body.push_str(&entry);
        shown += 1;
    }
    let more = tally.alert_worthy() - shown;
    if more > 0 {
        let _ = writeln!(
            body,
            "\n  ... and {more} more not listed here (message size limit); all findings are in the console."
        );
    }
    body.push_str(&footer);
    Some(Alert {
        kind: AlertKind::Findings,
        subject,
        body,
        attributes,
    })
}

/// The alert for a scan that did not produce findings.
pub fn scan_failed_alert(report: &FailureReport<'_>) -> Alert {
    let subject = subject(
        &format!("Scan {}: ", printable_ascii(report.status)),
        &report.image.short_name(),
    );
    let mut body = String::new();
    let _ = writeln!(
        body,
        "The {} scan of {} did not complete: {}.",
        report.kind.as_str(),
        one_line(&report.image.short_name()),
        one_line(report.status)
    );
    let _ = writeln!(
        body,
        "Until it is scanned, its vulnerabilities are unknown.\n"
    );
    image_section(&mut body, report.image, report.kind, report.status);
    body.push('\n');
    match report.description {
        Some(description) => {
            let _ = writeln!(body, "ECR says: {}", one_line(description));
        }
        None => {
            let _ = writeln!(body, "ECR gave no description of the failure.");
        }
    }
    if let Some(problem) = report.lookup_problem {
        let _ = writeln!(
            body,
            "(ECR could not be asked for details: {}; this alert is based on the event alone.)",
            one_line(problem)
        );
    }
    let mut body = truncate_utf8(body, SNS_MESSAGE_LIMIT - SAFETY_MARGIN - 512);
    if !body.ends_with('\n') {
        body.push('\n');
    }
    Alert {
        kind: AlertKind::ScanFailed,
        subject,
        body,
        attributes: attributes(report.image, "NONE", AlertKind::ScanFailed),
    }
}

fn attributes(image: &ImageRef, severity: &str, kind: AlertKind) -> Vec<(&'static str, String)> {
    vec![
        (alert::ATTR_SEVERITY, severity.to_string()),
        (alert::ATTR_REPOSITORY, image.repository.clone()),
        (alert::ATTR_ACCOUNT, image.account.clone()),
        (alert::ATTR_REGION, image.region.clone()),
        (alert::ATTR_ALERT_KIND, kind.as_str().to_string()),
    ]
}

fn image_section(body: &mut String, image: &ImageRef, kind: ScanKind, status: &str) {
    let tags = if image.tags.is_empty() {
        "(untagged)".to_string()
    } else {
        one_line(&image.tags.join(", "))
    };
    let _ = writeln!(body, "Repository  {}", one_line(&image.repository));
    let _ = writeln!(body, "Tags        {tags}");
    let _ = writeln!(body, "Digest      {}", one_line(&image.digest));
    let _ = writeln!(body, "Account     {}", one_line(&image.account));
    let _ = writeln!(body, "Region      {}", one_line(&image.region));
    let _ = writeln!(body, "Scan        {}, {}", kind.as_str(), one_line(status));
    let _ = writeln!(body, "Pull        {}", one_line(&image.pinned_reference()));
    let _ = writeln!(body, "Console     {}", one_line(&image.console_url()));
}

fn finding_entry(finding: &Finding, kind: ScanKind) -> String {
    let mut line = format!(
        "  {:<9} {}",
        finding.severity.as_str(),
        one_line(&finding.id)
    );
    if let Some(score) = finding.score {
        let _ = write!(line, "  (score {score:.1})");
    }
    line.push('\n');
    let package = finding
        .package_label()
        .map(|p| one_line(&p))
        .unwrap_or_else(|| "package not named".to_string());
    let fix = match (&finding.fixed_in, finding.fix_available, kind) {
        (Some(version), _, _) => format!("fixed in {}", one_line(version)),
        (None, Some(FixAvailable::No), _) => "no fix available yet".to_string(),
        (None, _, ScanKind::Basic) => "fixed-in version not reported".to_string(),
        (None, _, ScanKind::Enhanced) => "fixed-in version unknown".to_string(),
    };
    let _ = writeln!(line, "            {package} -> {fix}");
    if let Some(link) = &finding.link {
        let _ = writeln!(line, "            {}", one_line(link));
    }
    line
}

fn footer(kind: ScanKind) -> String {
    match kind {
        ScanKind::Basic => "\nBasic scanning does not report fixed-in versions; enhanced scanning \
                            (Amazon Inspector) does.\n"
            .to_string(),
        ScanKind::Enhanced => String::new(),
    }
}

/// `2 critical, 3 high`
fn counts_phrase(counts: &SeverityCounts) -> String {
    counts
        .non_zero()
        .map(|(sev, n)| format!("{n} {}", sev.as_str().to_ascii_lowercase()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `prefix` + `name`, printable ASCII only, at most 99 characters: the name
/// is shortened in the middle (keeping its tag) when it does not fit.
pub fn subject(prefix: &str, name: &str) -> String {
    let prefix = printable_ascii(prefix);
    let name = printable_ascii(name);
    const MIN_NAME: usize = 24;
    let prefix = if prefix.len() + MIN_NAME > SUBJECT_LIMIT {
        shorten_end(&prefix, SUBJECT_LIMIT - MIN_NAME)
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

/// Every character outside printable ASCII becomes `?`.
pub fn printable_ascii(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

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

fn shorten_end(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    format!("{}... ", &text[..max.saturating_sub(4)])
}

/// Text from findings and events on one line: control characters (line
/// breaks, tabs, escapes) become spaces so they cannot break the layout.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn truncate_utf8(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Verdict;

    fn image(repository: &str, tags: &[&str]) -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                .into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
        }
    }

    fn finding(id: &str, sev: Severity) -> Finding {
        let mut f = Finding::new(id, sev);
        f.package_name = Some("openssl".into());
        f.package_version = Some("3.0.2".into());
        f.link = Some(format!("https://nvd.nist.gov/vuln/detail/{id}"));
        f.score = Some(9.8);
        f
    }

    fn report_alert(image: &ImageRef, tally: &Tally, kind: ScanKind) -> Option<Alert> {
        findings_alert(&FindingsReport {
            image,
            kind,
            status: "COMPLETE",
            threshold: Severity::High,
            tally,
        })
    }

    #[test]
    fn nothing_alert_worthy_means_no_alert() {
        let mut tally = Tally::default();
        tally.add(finding("CVE-1", Severity::Medium), Verdict::BelowThreshold);
        assert!(report_alert(&image("web", &["v1"]), &tally, ScanKind::Basic).is_none());
    }

    #[test]
    fn a_findings_alert_names_the_image_counts_and_findings() {
        let mut tally = Tally::default();
        tally.add(finding("CVE-2026-0001", Severity::Critical), Verdict::Alert);
        tally.add(finding("CVE-2026-0002", Severity::High), Verdict::Alert);
        tally.add(
            finding("CVE-2026-0003", Severity::Low),
            Verdict::BelowThreshold,
        );
        let img = image("team/web", &["3f2c1ab"]);
        let alert = report_alert(&img, &tally, ScanKind::Basic).unwrap();
        assert_eq!(
            alert.subject,
            "CRITICAL: 1 critical, 1 high in team/web:3f2c1ab"
        );
        assert_eq!(alert.attribute("severity"), Some("CRITICAL"));
        assert_eq!(alert.attribute("repository"), Some("team/web"));
        assert_eq!(alert.attribute("account"), Some("123456789012"));
        assert_eq!(alert.attribute("region"), Some("us-east-1"));
        assert_eq!(alert.attribute("alert_kind"), Some("findings"));
        let body = &alert.body;
        assert!(body.contains("Console     https://us-east-1.console.aws.amazon.com/ecr/"));
        assert!(body.contains("  LOW                 1"));
        let crit = body.find("CVE-2026-0001").unwrap();
        let high = body.find("CVE-2026-0002").unwrap();
        assert!(crit < high, "most severe first");
        assert!(
            !body.contains("CVE-2026-0003"),
            "below threshold is counted, not listed"
        );
        assert!(body.contains("openssl@3.0.2 -> fixed-in version not reported"));
        assert!(body.contains("Basic scanning does not report fixed-in versions"));
    }

    #[test]
    fn subjects_are_printable_ascii_and_at_most_99_characters() {
        let mut tally = Tally::default();
        tally.add(finding("CVE-1", Severity::High), Verdict::Alert);
        let long = "r".repeat(256);
        for name in [long.as_str(), "équipe/ü-service", "a\nb\tc"] {
            let img = image(name, &["release-2026-11-27"]);
            let alert = report_alert(&img, &tally, ScanKind::Basic).unwrap();
            assert!(alert.subject.len() <= 99, "{}", alert.subject);
            assert!(alert.subject.chars().all(|c| (' '..='~').contains(&c)));
            assert!(alert.subject.starts_with("HIGH: 1 high in "));
        }
        let img = image(&long, &["release-2026-11-27"]);
        let alert = report_alert(&img, &tally, ScanKind::Basic).unwrap();
        assert!(alert.subject.contains("..."));
        assert!(alert.subject.ends_with(":release-2026-11-27"), "tag kept");
        let alert = report_alert(&image("équipe", &[]), &tally, ScanKind::Basic).unwrap();
        assert_eq!(alert.subject, "HIGH: 1 high in ?quipe@sha256:0123456789ab");
    }

    #[test]
    fn a_huge_scan_fits_the_sns_limit_and_says_how_many_are_not_listed() {
        let mut tally = Tally::default();
        for i in 0..5_000 {
            let mut f = finding(&format!("CVE-2026-{i:05}"), Severity::Critical);
            f.title = Some("x".repeat(500));
            f.link = Some(format!("https://example.com/{}", "y".repeat(200)));
            tally.add(f, Verdict::Alert);
        }
        let alert = report_alert(&image("big", &["v1"]), &tally, ScanKind::Enhanced).unwrap();
        assert!(alert.publish_size() <= SNS_MESSAGE_LIMIT);
        assert!(
            alert.publish_size() > SNS_MESSAGE_LIMIT / 2,
            "fills the room it has"
        );
        let listed = alert.body.matches("\n  CRITICAL  CVE-2026-").count() as u64;
        let more = 5_000 - listed;
        assert!(alert
            .body
            .contains(&format!("... and {more} more not listed here")));
    }

    #[test]
    fn finding_text_cannot_break_the_layout() {
        let mut tally = Tally::default();
        let mut f = finding("CVE-1\nSubject: forged", Severity::High);
        f.package_name = Some("pkg\r\nInjected: line".into());
        tally.add(f, Verdict::Alert);
        let alert = report_alert(&image("web", &["v1"]), &tally, ScanKind::Basic).unwrap();
        assert!(!alert.body.contains("\nSubject: forged"));
        assert!(!alert.body.contains("\nInjected"));
    }

    #[test]
    fn a_failed_scan_alert_carries_the_status_and_description() {
        let img = image("legacy", &["1.0.0"]);
        let alert = scan_failed_alert(&FailureReport {
            image: &img,
            kind: ScanKind::Basic,
            status: "UNSUPPORTED_IMAGE",
            description: Some("The operating system 'x' is not supported"),
            lookup_problem: None,
        });
        assert_eq!(alert.subject, "Scan UNSUPPORTED_IMAGE: legacy:1.0.0");
        assert_eq!(alert.attribute("alert_kind"), Some("scan_failed"));
        assert_eq!(alert.attribute("severity"), Some("NONE"));
        assert!(alert
            .body
            .contains("ECR says: The operating system 'x' is not supported"));
    }
}
