//! The alert as email text: fixed sections, aligned columns, the console
//! and source links near the top, the fix plan first, and never more than
//! SNS takes in one message.

use super::plan::{Headline, PlanView, TargetView};
use super::{findings_count, FailureReport, FindingsView};
use crate::domain::alert::SNS_MESSAGE_LIMIT;
use crate::domain::commit_link::SourceLink;
use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::text::{one_line, truncate_bytes, truncate_chars};
use std::fmt::Write;

/// Room kept free below SNS's limit for what SNS adds or counts differently.
const SAFETY_MARGIN: usize = 1024;
/// Lines stay this short, except links (and names too long to cut further).
const LINE_MAX: usize = 100;
/// Packages listed in the fix plan at most (all the plan keeps); the others
/// are counted.
const PLAN_UPGRADES: usize = crate::domain::fixplan::LISTED_UPGRADES;
/// Packages listed under "no known fix" at most.
const PLAN_NO_FIX: usize = crate::domain::fixplan::LISTED_NO_FIX;
/// Characters kept of a package name, version or target in the plan.
const PLAN_FIELD_MAX: usize = 48;

pub(super) fn findings(view: &FindingsView<'_>, attributes_size: usize) -> String {
    let tally = view.tally;
    let budget = SNS_MESSAGE_LIMIT - attributes_size - SAFETY_MARGIN;

    let mut body = String::new();
    let _ = writeln!(body, "{}", view.subject);
    let exploit = view
        .exploit_phrase
        .as_ref()
        .map(|p| format!("; {p}"))
        .unwrap_or_default();
    let _ = writeln!(
        body,
        "{} finding(s) at or above {}: {}{exploit}.",
        view.alert_worthy, view.threshold, view.counts_phrase
    );
    let _ = writeln!(body, "Image in use: {}.", view.in_use);
    if let Some(owner) = view.owner {
        let _ = writeln!(body, "Owner: {}", one_line(&owner.phrase()));
    }
    body.push('\n');
    let _ = writeln!(body, "Scan results in the ECR console:");
    let _ = writeln!(body, "{}", one_line(&view.console_url));
    source_lines(&mut body, view.source);
    body.push('\n');
    plan_section(
        &mut body,
        &PlanView::of(&view.plan, view.kind, PLAN_UPGRADES, PLAN_NO_FIX),
    );
    body.push('\n');
    image_section(
        &mut body,
        view.image,
        view.kind,
        view.status,
        view.account_alias,
    );
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
    if !view.notes.is_empty() {
        body.push('\n');
        let _ = writeln!(body, "POLICY");
        for note in view.notes {
            let _ = writeln!(body, "  {}", one_line(note));
        }
    }
    body.push('\n');
    let _ = writeln!(
        body,
        "FINDINGS AT OR ABOVE {} ({}, most severe first)",
        view.threshold, view.alert_worthy
    );

    let footer = footer(view.kind);
    let mut shown: u64 = 0;
    for finding in tally.listed() {
        let entry = finding_entry(finding, view.kind);
        // Keep room for the "more not listed" line and the footer.
        if body.len() + entry.len() + 200 + footer.len() > budget {
            break;
        }
        body.push_str(&entry);
        shown += 1;
    }
    let more = view.alert_worthy - shown;
    if more > 0 {
        let _ = writeln!(
            body,
            "\n  ... and {more} more not listed here; all are in the console."
        );
    }
    if let Some(line) = &view.still_open {
        let _ = writeln!(body, "\n{}", one_line(line));
    }
    body.push_str(&footer);
    body
}

pub(super) fn scan_failed(
    report: &FailureReport<'_>,
    source: Option<&SourceLink>,
    subject: &str,
) -> String {
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
    if let Some(owner) = report.owner {
        let _ = writeln!(body, "Owner: {}", one_line(&owner.phrase()));
    }
    body.push('\n');
    let _ = writeln!(body, "Scan results in the ECR console:");
    let _ = writeln!(body, "{}", one_line(&report.image.console_url()));
    source_lines(&mut body, source);
    body.push('\n');
    image_section(
        &mut body,
        report.image,
        report.kind,
        report.status,
        report.account_alias,
    );
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

/// The link to the source the image was built from, under the console link.
fn source_lines(body: &mut String, source: Option<&SourceLink>) {
    let Some(link) = source else {
        return;
    };
    let what = if link.commit {
        "Source commit"
    } else {
        "Source for tag"
    };
    body.push('\n');
    let _ = writeln!(body, "{what} {}:", one_line(&truncate_chars(&link.tag, 60)));
    let _ = writeln!(body, "{}", one_line(&link.url));
}

/// What to upgrade, most effective first, then what has no fix yet.
fn plan_section(body: &mut String, plan: &PlanView<'_>) {
    match &plan.headline {
        Headline::NoUpgrade { findings } => {
            let _ = writeln!(
                body,
                "FIX PLAN: no upgrade is known to fix any of the {findings}"
            );
        }
        Headline::VersionsUnknown {
            packages,
            of,
            basic,
        } => {
            let _ = writeln!(
                body,
                "FIX PLAN: {packages} to update for {of}, most severe first"
            );
            let why = if *basic {
                "Basic scanning reports no fixed versions"
            } else {
                "The scanner reported no fixed versions"
            };
            let _ = writeln!(body, "  {why}: update each to its latest patched release.");
        }
        Headline::Upgrades { packages, of } => {
            let verb = Headline::upgrades_verb(*packages);
            let _ = writeln!(
                body,
                "FIX PLAN: {packages} {verb} {of}, most effective first"
            );
        }
    }
    for upgrade in &plan.upgrades {
        let target = match &upgrade.target {
            TargetView::Version(v) => field(v),
            TargetView::OneOf(versions) => {
                let listed: Vec<String> = versions.iter().map(|v| field(v)).collect();
                format!(
                    "one of {} (cannot be ordered: check each finding below)",
                    listed.join(", ")
                )
            }
            TargetView::Unknown => "fixed version unknown".to_string(),
        };
        let mut effect = format!("fixes {}", upgrade.fixes);
        if let Some(score) = upgrade.worst_score {
            let _ = write!(effect, ", worst score {score:.1}");
        }
        if upgrade.exploitable > 0 {
            let _ = write!(effect, ", {} with a known exploit", upgrade.exploitable);
        }
        if let Some(epss) = upgrade.max_epss {
            let _ = write!(effect, ", EPSS up to {epss:.2}");
        }
        if let Some(unknown) = &upgrade.also_unknown {
            let _ = write!(effect, "; fixed version unknown for {unknown}");
        }
        let head = format!(
            "{} -> {target}",
            package(upgrade.package, upgrade.installed)
        );
        entry(body, &head, &effect);
    }
    let (more, findings) = plan.more_upgrades;
    if more > 0 {
        let _ = writeln!(
            body,
            "  ... and {more} more package(s) for {}: see the list below.",
            findings_count(findings)
        );
    }
    if plan.unnamed > 0 {
        let verb = if plan.unnamed == 1 { "names" } else { "name" };
        let _ = writeln!(
            body,
            "  {} {verb} no package: see the list below.",
            findings_count(plan.unnamed)
        );
    }
    if !plan.has_no_fix() {
        return;
    }
    body.push('\n');
    let _ = writeln!(body, "NO KNOWN FIX YET ({})", plan.without_fix);
    for no_fix in &plan.no_fix {
        let mut ids: Vec<String> = no_fix.ids.iter().map(|id| field(id)).collect();
        if no_fix.unnamed > 0 {
            ids.push(format!("{} more", no_fix.unnamed));
        }
        let mut effect = format!("{} ({})", no_fix.counts, ids.join(", "));
        if let Some(score) = no_fix.worst_score {
            let _ = write!(effect, ", worst score {score:.1}");
        }
        entry(body, &package(no_fix.package, no_fix.installed), &effect);
    }
    let (more, findings) = plan.more_no_fix;
    if more > 0 {
        let _ = writeln!(
            body,
            "  ... and {more} more package(s) with {}: see the list below.",
            findings_count(findings)
        );
    }
}

/// Untrusted text on one line, cut to the plan's field width.
fn field(text: &str) -> String {
    one_line(&truncate_chars(text, PLAN_FIELD_MAX))
}

/// `name version`, or the name alone when the version is unknown.
fn package(name: &str, installed: &str) -> String {
    if installed.is_empty() {
        field(name)
    } else {
        format!("{} {}", field(name), field(installed))
    }
}

/// `  head: effect` on one line when it fits; otherwise the head, then the
/// effect indented below it, each wrapped at spaces.
fn entry(body: &mut String, head: &str, effect: &str) {
    let line = format!("  {head}: {effect}");
    if line.chars().count() <= LINE_MAX {
        let _ = writeln!(body, "{line}");
        return;
    }
    wrap(body, "  ", head);
    wrap(body, "      ", effect);
}

/// `text` in lines of at most [`LINE_MAX`] characters starting with
/// `indent`, continued with a deeper indent; a word longer than a line
/// stays whole.
fn wrap(body: &mut String, indent: &str, text: &str) {
    let mut line = indent.to_string();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.chars().count() + 1 + word.chars().count() > LINE_MAX {
            let _ = writeln!(body, "{line}");
            line = format!("{indent}  ");
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    let _ = writeln!(body, "{line}");
}

fn image_section(
    body: &mut String,
    image: &ImageRef,
    kind: ScanKind,
    status: &str,
    account_alias: Option<&str>,
) {
    let tags = if image.tags.is_empty() {
        "(untagged)".to_string()
    } else {
        one_line(&image.tags.join(", "))
    };
    let _ = writeln!(body, "IMAGE");
    let _ = writeln!(body, "  Repository  {}", one_line(&image.repository));
    let _ = writeln!(body, "  Tags        {tags}");
    let _ = writeln!(body, "  Digest      {}", one_line(&image.digest));
    let _ = writeln!(body, "{}", account_line(image, account_alias));
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

/// The IMAGE section's account line, with the account's alias when known.
fn account_line(image: &ImageRef, alias: Option<&str>) -> String {
    let alias = alias
        .map(|a| format!(" {}", one_line(a)))
        .unwrap_or_default();
    format!(
        "  Account     {}{alias} ({})",
        one_line(&image.account),
        one_line(&image.region)
    )
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
    let signals = finding.signals();
    if !signals.is_empty() {
        let _ = writeln!(entry, "            {}", signals.join("; "));
    }
    if let Some(link) = &finding.link {
        let _ = writeln!(entry, "            {}", one_line(link));
    }
    // Trailing spaces from the padding help nobody.
    entry
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect()
}

/// `, 1 with a known exploit, EPSS up to 0.94` (what is known).
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
    use crate::domain::alert::{Alert, SNS_MESSAGE_LIMIT};
    use crate::domain::commit_link::{SourceLink, SourceRules, UrlTemplate};
    use crate::domain::finding::Finding;
    use crate::domain::finding::FixAvailable;
    use crate::domain::image::{ImageRef, ScanKind};
    use crate::domain::judged::JudgedFindings;
    use crate::domain::policy::Verdict;
    use crate::domain::severity::Severity;
    use crate::render::{
        findings_alert, findings_alert_with_source, scan_failed_alert, FailureReport,
        FindingsReport,
    };

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

    fn report_alert(image: &ImageRef, tally: &JudgedFindings, kind: ScanKind) -> Option<Alert> {
        findings_alert(&FindingsReport {
            image,
            kind,
            status: "COMPLETE",
            threshold: Severity::High,
            tally,
            event_id: None,
            notes: &[],
            account_alias: None,
            owner: None,
        })
    }

    #[test]
    fn nothing_alert_worthy_means_no_alert() {
        let mut tally = JudgedFindings::default();
        tally.add(finding("CVE-1", Severity::Medium), Verdict::BelowThreshold);
        assert!(report_alert(&image("web", &["v1"]), &tally, ScanKind::Basic).is_none());
    }

    #[test]
    fn a_findings_alert_names_the_image_counts_and_findings() {
        let mut tally = JudgedFindings::default();
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
        let mut tally = JudgedFindings::default();
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
        let mut tally = JudgedFindings::default();
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
        let mut tally = JudgedFindings::default();
        for i in 0..50_000 {
            let mut f = finding(&format!("CVE-2026-{i:05}"), Severity::Critical);
            f.title = Some("d".repeat(2048));
            f.link = Some(format!("https://example.com/{}", "y".repeat(200)));
            f.package_name = Some(format!("package-with-a-long-name-{i}"));
            tally.add(f, Verdict::Alert);
        }
        let alert = report_alert(&image("big", &["v1"]), &tally, ScanKind::Enhanced).unwrap();
        assert!(alert.publish_size() <= SNS_MESSAGE_LIMIT);
        let listed = alert.body.matches("\n  CRITICAL  CVE-2026-").count() as u64;
        assert!(
            listed == crate::domain::judged::DEFAULT_LISTED_CAP as u64
                || alert.publish_size() > SNS_MESSAGE_LIMIT * 9 / 10,
            "lists every kept finding, or fills the room it has ({listed} listed)"
        );
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
        let mut tally = JudgedFindings::default();
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
            account_alias: None,
            owner: None,
        });
        assert_eq!(alert.subject, "Scan UNSUPPORTED_IMAGE: legacy:1.0.0");
        assert_eq!(alert.attribute("alert_kind"), Some("scan_failed"));
        assert_eq!(alert.attribute("severity"), Some("NONE"));
        assert!(alert
            .body
            .contains("WHAT ECR SAYS\n  The operating system 'x' is not supported"));
    }

    fn fixed(id: &str, sev: Severity, package: &str, installed: &str, fixed_in: &str) -> Finding {
        let mut f = finding(id, sev);
        f.package_name = Some(package.into());
        f.package_version = Some(installed.into());
        f.fixed_in = Some(fixed_in.into());
        f.fix_available = Some(FixAvailable::Yes);
        f
    }

    fn source_for(img: &ImageRef) -> Option<SourceLink> {
        let template =
            UrlTemplate::parse("https://git.example.com/{repository}/commit/{tag}").unwrap();
        let rules = SourceRules {
            tag_pattern: Some(crate::domain::glob::Glob::new("rel*")),
            ..SourceRules::default()
        };
        rules.link(Some(&template), img)
    }

    fn enhanced_alert(img: &ImageRef, tally: &JudgedFindings) -> Alert {
        let source = source_for(img);
        findings_alert_with_source(
            &FindingsReport {
                image: img,
                kind: ScanKind::Enhanced,
                status: "ACTIVE",
                threshold: Severity::High,
                tally,
                event_id: None,
                notes: &[],
                account_alias: None,
                owner: None,
            },
            source.as_ref(),
        )
        .unwrap()
    }

    #[test]
    fn the_fix_plan_leads_with_the_highest_fixed_version_per_package() {
        let mut tally = JudgedFindings::default();
        tally.add(
            fixed("CVE-1", Severity::High, "openssl", "3.0.2", "3.0.8"),
            Verdict::Alert,
        );
        tally.add(
            fixed("CVE-2", Severity::Critical, "openssl", "3.0.2", "3.0.15"),
            Verdict::Alert,
        );
        tally.add(
            fixed("CVE-3", Severity::High, "openssl", "3.0.2", "3.0.11"),
            Verdict::Alert,
        );
        tally.add(
            fixed("CVE-4", Severity::High, "zlib", "1.2.13", "1:1.3.1"),
            Verdict::Alert,
        );
        tally.add(
            fixed("CVE-5", Severity::High, "zlib", "1.2.13", "1.3.2"),
            Verdict::Alert,
        );
        let mut none = finding("CVE-6", Severity::High);
        none.package_name = Some("perl".into());
        none.package_version = Some("5.36.0".into());
        none.fix_available = Some(FixAvailable::No);
        none.score = Some(7.0);
        tally.add(none, Verdict::Alert);
        let alert = enhanced_alert(&image("team/web", &["v1.2.3"]), &tally);
        let body = &alert.body;
        assert!(
            body.contains(
                "FIX PLAN: 2 upgrades fix 5 of the 6 findings, most effective first\n\
             \x20 openssl 3.0.2 -> 3.0.15: fixes 3: 1 critical, 2 high, worst score 9.8\n\
             \x20 zlib 1.2.13 -> 1:1.3.1: fixes 2 high, worst score 9.8\n"
            ),
            "{body}"
        );
        assert!(body.contains(
            "NO KNOWN FIX YET (1 finding)\n  perl 5.36.0: 1 high (CVE-6), worst score 7.0\n"
        ));
        let plan = body.find("FIX PLAN").unwrap();
        assert!(
            body.find("https://us-east-1.console.aws.amazon.com/")
                .unwrap()
                < plan
        );
        assert!(
            plan < body.find("\nIMAGE\n").unwrap(),
            "the plan comes first"
        );
        assert!(plan < body.find("FINDINGS AT OR ABOVE").unwrap());
        assert!(
            !body.contains("git.example.com"),
            "no link for a release tag"
        );
    }

    #[test]
    fn a_commit_tag_links_to_its_source_near_the_top() {
        let mut tally = JudgedFindings::default();
        tally.add(
            fixed("CVE-1", Severity::High, "openssl", "3.0.2", "3.0.8"),
            Verdict::Alert,
        );
        let alert = enhanced_alert(&image("team/web", &["v1.2.3", "3f2c1ab"]), &tally);
        let body = &alert.body;
        let link = body
            .find("Source commit 3f2c1ab:\nhttps://git.example.com/team/web/commit/3f2c1ab\n")
            .expect("source link");
        assert!(link < body.find("FIX PLAN").unwrap());
        // A tag matched by the pattern cannot break the line or the URL.
        let alert = enhanced_alert(&image("team/web", &["rel\nBcc: x <y>"]), &tally);
        assert!(alert.body.contains(
            "Source for tag rel Bcc: x <y>:\nhttps://git.example.com/team/web/commit/rel%0ABcc%3A%20x%20%3Cy%3E\n"
        ), "{}", alert.body);
    }

    #[test]
    fn basic_scanning_says_the_fixed_versions_are_unknown() {
        let mut tally = JudgedFindings::default();
        tally.add(finding("CVE-1", Severity::Critical), Verdict::Alert);
        tally.add(finding("CVE-2", Severity::High), Verdict::Alert);
        let alert = report_alert(&image("web", &["v1"]), &tally, ScanKind::Basic).unwrap();
        assert!(alert.body.contains(
            "FIX PLAN: 1 package to update for all 2 findings, most severe first\n\
             \x20 Basic scanning reports no fixed versions: update each to its latest patched release.\n\
             \x20 openssl 3.0.2 -> fixed version unknown: fixes 2: 1 critical, 1 high, worst score 9.8\n"
        ), "{}", alert.body);
        assert!(!alert.body.contains("NO KNOWN FIX"));
    }

    #[test]
    fn a_long_plan_stays_readable_and_counts_what_it_leaves_out() {
        let mut tally = JudgedFindings::default();
        for i in 0..30 {
            let name = format!("package-with-a-rather-long-name-{i:02}-{}", "x".repeat(30));
            let version = format!("1.0.{i}-{}", "build".repeat(12));
            tally.add(
                fixed(
                    &format!("CVE-{i}"),
                    Severity::High,
                    &name,
                    &version,
                    &version,
                ),
                Verdict::Alert,
            );
        }
        let mut unnamed = Finding::new("CVE-NOPKG", Severity::High);
        unnamed.score = Some(1.0);
        tally.add(unnamed, Verdict::Alert);
        let alert = enhanced_alert(&image("web", &["v1"]), &tally);
        let plan: String = alert
            .body
            .split("\nIMAGE\n")
            .next()
            .unwrap()
            .split("FIX PLAN")
            .nth(1)
            .unwrap()
            .to_string();
        for line in plan.lines() {
            assert!(line.chars().count() <= 100, "{line}");
        }
        assert!(plan.contains("  ... and 10 more package(s) for 10 findings: see the list below."));
        assert!(plan.contains("  1 finding names no package: see the list below."));
    }
}
