//! The alert as email text: fixed sections, aligned columns, the console
//! link near the top, and never more than SNS takes in one message.

use super::{counts_phrase, FailureReport, FindingsReport};
use crate::alert::SNS_MESSAGE_LIMIT;
use crate::finding::{Finding, FixAvailable};
use crate::image::{ImageRef, ScanKind};
use crate::text::{one_line, truncate_bytes};
use std::fmt::Write;

/// Room kept free below SNS's limit for what SNS adds or counts differently.
const SAFETY_MARGIN: usize = 1024;

pub(super) fn findings(
    report: &FindingsReport<'_>,
    subject: &str,
    attributes_size: usize,
) -> String {
    let tally = report.tally;
    let budget = SNS_MESSAGE_LIMIT - attributes_size - SAFETY_MARGIN;
    let image = report.image;

    let mut body = String::new();
    let _ = writeln!(body, "{subject}");
    let _ = writeln!(
        body,
        "{} finding(s) at or above {}: {}.",
        tally.alert_worthy(),
        report.threshold,
        counts_phrase(&tally.alert_counts)
    );
    body.push('\n');
    let _ = writeln!(body, "Scan results in the ECR console:");
    let _ = writeln!(body, "{}", one_line(&image.console_url()));
    body.push('\n');
    image_section(&mut body, image, report.kind, report.status);
    body.push('\n');
    let _ = writeln!(
        body,
        "SEVERITY COUNTS ({} findings in all)",
        tally.counts.total()
    );
    for (sev, n) in tally.counts.non_zero() {
        let marker = if tally.alert_counts.get(sev) > 0 {
            "  <- alert"
        } else {
            ""
        };
        let _ = writeln!(body, "  {:<14}{:>7}{marker}", sev.as_str(), n);
    }
    if !report.notes.is_empty() {
        body.push('\n');
        let _ = writeln!(body, "POLICY");
        for note in report.notes {
            let _ = writeln!(body, "  {}", one_line(note));
        }
    }
    body.push('\n');
    let _ = writeln!(
        body,
        "FINDINGS AT OR ABOVE {} ({}, most severe first)",
        report.threshold,
        tally.alert_worthy()
    );

    let footer = footer(report.kind);
    let mut shown: u64 = 0;
    for finding in tally.listed() {
        let entry = finding_entry(finding, report.kind);
        // Keep room for the "more not listed" line and the footer.
        if body.len() + entry.len() + 200 + footer.len() > budget {
            break;
        }
        body.push_str(&entry);
        shown += 1;
    }
    let more = tally.alert_worthy() - shown;
    if more > 0 {
        let _ = writeln!(
            body,
            "\n  ... and {more} more not listed here (message size limit); all are in the console."
        );
    }
    body.push_str(&footer);
    body
}

pub(super) fn scan_failed(report: &FailureReport<'_>, subject: &str) -> String {
    let mut body = String::new();
    let _ = writeln!(body, "{subject}");
    let _ = writeln!(
        body,
        "The {} scan of {} did not complete: {}.",
        report.kind.as_str(),
        one_line(&report.image.short_name()),
        one_line(report.status)
    );
    let _ = writeln!(
        body,
        "Until it is scanned, its vulnerabilities are unknown."
    );
    body.push('\n');
    let _ = writeln!(body, "Scan results in the ECR console:");
    let _ = writeln!(body, "{}", one_line(&report.image.console_url()));
    body.push('\n');
    image_section(&mut body, report.image, report.kind, report.status);
    body.push('\n');
    let _ = writeln!(body, "WHAT ECR SAYS");
    match report.description {
        Some(description) => {
            let _ = writeln!(body, "  {}", one_line(description));
        }
        None => {
            let _ = writeln!(body, "  (no description of the failure)");
        }
    }
    if let Some(problem) = report.lookup_problem {
        let _ = writeln!(
            body,
            "  ECR could not be asked for details ({}); this alert is based on the event alone.",
            one_line(problem)
        );
    }
    let mut body = truncate_bytes(body, SNS_MESSAGE_LIMIT - SAFETY_MARGIN - 512);
    if !body.ends_with('\n') {
        body.push('\n');
    }
    body
}

fn image_section(body: &mut String, image: &ImageRef, kind: ScanKind, status: &str) {
    let tags = if image.tags.is_empty() {
        "(untagged)".to_string()
    } else {
        one_line(&image.tags.join(", "))
    };
    let _ = writeln!(body, "IMAGE");
    let _ = writeln!(body, "  Repository  {}", one_line(&image.repository));
    let _ = writeln!(body, "  Tags        {tags}");
    let _ = writeln!(body, "  Digest      {}", one_line(&image.digest));
    let _ = writeln!(
        body,
        "  Account     {} ({})",
        one_line(&image.account),
        one_line(&image.region)
    );
    let _ = writeln!(
        body,
        "  Scan        {}, {}",
        kind.as_str(),
        one_line(status)
    );
    let _ = writeln!(
        body,
        "  Pull        {}",
        one_line(&image.pinned_reference())
    );
}

fn finding_entry(finding: &Finding, kind: ScanKind) -> String {
    let score = finding
        .score
        .map(|s| format!("score {s:.1}"))
        .unwrap_or_default();
    let mut entry = format!(
        "  {:<9} {:<28} {}\n",
        finding.severity.as_str(),
        one_line(&finding.id),
        score
    );
    let package = finding
        .package_label()
        .map(|p| one_line(&p))
        .unwrap_or_else(|| "(package not named)".to_string());
    let fix = match (&finding.fixed_in, finding.fix_available, kind) {
        (Some(version), _, _) => format!("fixed in {}", one_line(version)),
        (None, Some(FixAvailable::No), _) => "no fix available yet".to_string(),
        (None, _, ScanKind::Basic) => "fixed-in version not reported".to_string(),
        (None, _, ScanKind::Enhanced) => "fixed-in version unknown".to_string(),
    };
    let _ = writeln!(entry, "            {package} -> {fix}");
    if let Some(link) = &finding.link {
        let _ = writeln!(entry, "            {}", one_line(link));
    }
    // Trailing spaces from the padding help nobody.
    entry
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

fn footer(kind: ScanKind) -> String {
    match kind {
        ScanKind::Basic => "\nBasic scanning does not report fixed-in versions; enhanced scanning \
                            (Amazon Inspector) does.\n"
            .to_string(),
        ScanKind::Enhanced => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use crate::alert::{Alert, SNS_MESSAGE_LIMIT};
    use crate::finding::Finding;
    use crate::image::{ImageRef, ScanKind};
    use crate::policy::Verdict;
    use crate::render::{findings_alert, scan_failed_alert, FailureReport, FindingsReport};
    use crate::severity::Severity;
    use crate::tally::Tally;

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
            event_id: None,
            notes: &[],
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
        let console = body
            .find("https://us-east-1.console.aws.amazon.com/ecr/")
            .unwrap();
        assert!(
            console < body.find("IMAGE").unwrap(),
            "console link near the top"
        );
        assert!(body.contains("  LOW                 1\n"));
        assert!(body.contains("  CRITICAL            1  <- alert\n"));
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
    fn email_lines_stay_short_except_for_links() {
        let mut tally = Tally::default();
        tally.add(finding("CVE-2026-0001", Severity::Critical), Verdict::Alert);
        let alert =
            report_alert(&image("team/web", &["3f2c1ab"]), &tally, ScanKind::Basic).unwrap();
        for line in alert.body.lines() {
            let is_link = line.trim_start().starts_with("https://") || line.contains(".dkr.ecr.");
            assert!(
                line.len() <= 100 || is_link,
                "line over 100 characters: {line}"
            );
            assert_eq!(line, line.trim_end(), "no trailing spaces");
        }
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
    fn fifty_thousand_findings_with_long_text_fit_the_sns_limit() {
        let mut tally = Tally::default();
        for i in 0..50_000 {
            let mut f = finding(&format!("CVE-2026-{i:05}"), Severity::Critical);
            f.title = Some("d".repeat(2048));
            f.link = Some(format!("https://example.com/{}", "y".repeat(200)));
            f.package_name = Some(format!("package-with-a-long-name-{i}"));
            tally.add(f, Verdict::Alert);
        }
        let alert = report_alert(&image("big", &["v1"]), &tally, ScanKind::Enhanced).unwrap();
        assert!(alert.publish_size() <= SNS_MESSAGE_LIMIT);
        assert!(
            alert.publish_size() > SNS_MESSAGE_LIMIT / 2,
            "fills the room it has"
        );
        let listed = alert.body.matches("\n  CRITICAL  CVE-2026-").count() as u64;
        let more = 50_000 - listed;
        assert!(alert
            .body
            .contains(&format!("... and {more} more not listed here")));
        let chat: serde_json::Value = serde_json::from_str(&alert.chat).unwrap();
        assert!(chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("more"));
    }

    #[test]
    fn finding_text_cannot_break_the_layout() {
        let mut tally = Tally::default();
        let mut f = finding("CVE-1\nSubject: forged", Severity::High);
        f.package_name = Some("pkg\r\nInjected: line".into());
        f.link = Some("https://a.example/\u{2028}Bcc: x".into());
        tally.add(f, Verdict::Alert);
        let alert = report_alert(&image("web", &["v1"]), &tally, ScanKind::Basic).unwrap();
        assert!(!alert.body.contains("\nSubject: forged"));
        assert!(!alert.body.contains("\nInjected"));
        assert!(!alert.body.contains('\u{2028}'));
        assert!(!alert.body.contains('\r'));
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
            event_id: None,
        });
        assert_eq!(alert.subject, "Scan UNSUPPORTED_IMAGE: legacy:1.0.0");
        assert_eq!(alert.attribute("alert_kind"), Some("scan_failed"));
        assert_eq!(alert.attribute("severity"), Some("NONE"));
        assert!(alert
            .body
            .contains("WHAT ECR SAYS\n  The operating system 'x' is not supported"));
    }
}
