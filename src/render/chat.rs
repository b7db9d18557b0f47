//! The alert as an Amazon Q Developer in chat applications "custom
//! notification" (the only SNS message shape it renders in Slack).
//!
//! Field limits: the custom-notification page of the service documentation
//! lists the schema; the lengths used here are kept at or below Slack's own
//! block limits (header text 150 characters, section text 3,000), so nothing
//! is cut by the chat client either.

use super::plan::{Headline, PlanView, TargetView};
use super::{FailureReport, FindingsView};
use crate::domain::commit_link::SourceLink;
use crate::domain::finding::Finding;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::severity::Severity;
use crate::domain::text::{
    one_line, slack_code, slack_escape, slack_link, slack_link_words, truncate_chars,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

pub const TITLE_MAX: usize = 150;
pub const DESCRIPTION_MAX: usize = 3_000;
pub const NEXT_STEP_MAX: usize = 300;
pub const NEXT_STEPS_MAX: usize = 3;
pub const KEYWORD_MAX: usize = 75;
pub const KEYWORDS_MAX: usize = 5;
pub const SUMMARY_MAX: usize = 150;
pub const THREAD_ID_MAX: usize = 128;
pub const CONTEXT_VALUE_MAX: usize = 256;
/// Findings listed in the description at most, before the size limit.
const TOP_FINDINGS: usize = 10;
/// Packages of the fix plan listed in the description at most.
const PLAN_UPGRADES: usize = 8;
/// Packages with no known fix named in the description at most.
const PLAN_NO_FIX: usize = 3;
/// The fix plan stops before the description reaches this length, leaving
/// room for the counts and the most severe findings.
const PLAN_ROOM: usize = 2_000;
/// A source link longer than this is left to the email.
const SOURCE_LINE_MAX: usize = 1_200;

#[derive(Debug, Serialize)]
pub struct CustomNotification {
    pub version: &'static str,
    pub source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub content: Content,
    pub metadata: Metadata,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    pub text_type: &'static str,
    pub title: String,
    pub description: String,
    pub next_steps: Vec<String>,
    pub keywords: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub thread_id: String,
    pub summary: String,
    pub event_type: &'static str,
    pub related_resources: Vec<String>,
    pub additional_context: BTreeMap<&'static str, String>,
}

pub(super) fn findings(view: &FindingsView<'_>) -> String {
    let tally = view.tally;
    let image = view.image;
    let (source, highest, counts) = (view.source, view.highest, &view.counts_phrase);
    let name = image.short_name();

    let mut description = String::new();
    let _ = writeln!(
        description,
        "*{} finding(s) at or above {}* in {} (account {}{}, {}).",
        view.alert_worthy,
        view.threshold,
        slack_code(&name),
        slack_escape(&image.account),
        view.account_alias
            .map(|a| format!(" {}", slack_escape(a)))
            .unwrap_or_default(),
        slack_escape(&image.region)
    );
    let mut risk = Vec::new();
    if let Some(p) = &view.exploit_phrase {
        risk.push(format!("*{p}*"));
    }
    risk.push(format!("image in use: {}", slack_escape(&view.in_use)));
    let mut risk_line = risk.join(" · ");
    if let Some(first) = risk_line.get(..1) {
        let upper = first.to_ascii_uppercase();
        risk_line.replace_range(..1, &upper);
    }
    let _ = writeln!(description, "{risk_line}.");
    if let Some(owner) = view.owner {
        let _ = writeln!(description, "{}", owner_line(owner));
    }
    if let Some(line) = source_line(source) {
        description.push_str(&line);
    }
    description.push('\n');
    for line in plan_lines(&PlanView::of(
        &view.plan,
        view.kind,
        PLAN_UPGRADES,
        PLAN_NO_FIX,
    )) {
        if description.chars().count() + line.chars().count() > PLAN_ROOM {
            let _ = writeln!(description, "_…the whole plan is in the email alert._");
            break;
        }
        description.push_str(&line);
    }
    description.push('\n');
    let _ = writeln!(description, "Pull: {}", slack_code(&view.pull));
    let all: Vec<String> = tally
        .counts
        .non_zero()
        .map(|(sev, n)| format!("{} {n}", sev.as_str()))
        .collect();
    let _ = writeln!(description, "All findings: {}", all.join(" · "));
    for note in view.notes {
        let _ = writeln!(description, "_{}_", slack_escape(note).replace('_', " "));
    }
    let _ = writeln!(description, "\n*Most severe*");
    let closing_room = 120;
    let mut shown = 0u64;
    for finding in tally.listed().into_iter().take(TOP_FINDINGS) {
        let line = finding_line(finding, view.kind);
        if description.chars().count() + line.chars().count() + closing_room > DESCRIPTION_MAX {
            break;
        }
        description.push_str(&line);
        shown += 1;
    }
    let more = view.alert_worthy - shown;
    if more > 0 {
        let _ = writeln!(
            description,
            "_…and {more} more in the email alert and the console._"
        );
    }
    if let Some(line) = &view.still_open {
        let _ = writeln!(description, "_{}_", slack_escape(line).replace('_', " "));
    }

    // The riskiest first, as in the email's subject.
    let exploit = if view.exploit_phrase.is_some() {
        ", exploit known"
    } else {
        ""
    };
    let fix_step = if view.kind == ScanKind::Basic {
        "Basic scanning reports no fixed versions: update the packages in the fix plan (or the base image), rebuild and push."
    } else {
        "Upgrade the packages in the fix plan to the versions shown, rebuild and push; the new image is scanned on push."
    };
    let mut next_steps = vec![fix_step.to_string()];
    next_steps.extend(source_step(source));
    next_steps.push(console_step(image));
    notification(
        image,
        view.owner,
        view.event_id,
        format!(
            "{} {highest}{exploit}: {} in {}",
            emoji(highest),
            counts,
            slack_escape(&name)
        ),
        description,
        next_steps,
        highest.as_str(),
        "ecr-scan-findings",
        format!("{highest}{exploit}: {counts} in {}", slack_escape(&name)),
        [("threshold", view.threshold.as_str().to_string())],
    )
}

pub(super) fn scan_failed(report: &FailureReport<'_>, source: Option<&SourceLink>) -> String {
    let image = report.image;
    let name = image.short_name();
    let mut description = String::new();
    let _ = writeln!(
        description,
        "The {} scan of {} did not complete: *{}*. Until it is scanned, its vulnerabilities are unknown.",
        report.kind.as_str(),
        slack_code(&name),
        slack_escape(report.status)
    );
    if let Some(owner) = report.owner {
        let _ = writeln!(description, "{}", owner_line(owner));
    }
    if let Some(text) = report.description {
        let _ = writeln!(description, "ECR says: {}", slack_code(text));
    }
    if report.lookup_problem.is_some() {
        let _ = writeln!(
            description,
            "_ECR could not be asked for details; this alert is based on the event alone._"
        );
    }
    if let Some(line) = source_line(source) {
        description.push_str(&line);
    }
    let mut next_steps = vec![
        "Check that the image's operating system and package manager are supported by the scanner."
            .to_string(),
    ];
    next_steps.extend(source_step(source));
    next_steps.push(console_step(image));
    notification(
        image,
        report.owner,
        report.event_id,
        format!(
            ":warning: Scan {}: {}",
            slack_escape(report.status),
            slack_escape(&name)
        ),
        description,
        next_steps,
        "SCAN_FAILED",
        "ecr-scan-failed",
        format!(
            "Scan {}: {}",
            slack_escape(report.status),
            slack_escape(&name)
        ),
        [("scanStatus", one_line(report.status))],
    )
}

/// `Owner: *payments* (repository tag owner)`.
fn owner_line(owner: &crate::domain::owner::Owner) -> String {
    format!(
        "Owner: *{}* ({})",
        slack_escape(&owner.name),
        slack_escape(&owner.source.phrase())
    )
}

#[allow(clippy::too_many_arguments)]
fn notification<const N: usize>(
    image: &ImageRef,
    owner: Option<&crate::domain::owner::Owner>,
    event_id: Option<&str>,
    title: String,
    description: String,
    next_steps: Vec<String>,
    severity_keyword: &str,
    event_type: &'static str,
    summary: String,
    extra: [(&'static str, String); N],
) -> String {
    let mut context = BTreeMap::from([
        ("repository", image.repository.clone()),
        ("digest", image.digest.clone()),
        ("account", image.account.clone()),
        ("region", image.region.clone()),
    ]);
    context.extend(extra);
    if let Some(owner) = owner {
        context.insert("owner", owner.name.clone());
    }
    for value in context.values_mut() {
        *value = truncate_chars(&slack_escape(value), CONTEXT_VALUE_MAX);
    }
    let notification = CustomNotification {
        version: "1.0",
        source: "custom",
        id: event_id.map(|id| truncate_chars(&slack_escape(id), 128)),
        content: Content {
            text_type: "client-markdown",
            title: truncate_chars(&title, TITLE_MAX),
            description: truncate_chars(&description, DESCRIPTION_MAX),
            next_steps: next_steps
                .into_iter()
                .take(NEXT_STEPS_MAX)
                .map(|s| truncate_chars(&s, NEXT_STEP_MAX))
                .collect(),
            keywords: [severity_keyword, &image.repository, &image.account]
                .into_iter()
                .take(KEYWORDS_MAX)
                .map(|k| truncate_chars(&slack_escape(k), KEYWORD_MAX))
                .collect(),
        },
        metadata: Metadata {
            // One thread per image: repeated alerts for a digest stay together.
            thread_id: truncate_chars(
                &slack_escape(&format!(
                    "{}/{}@{}",
                    image.account,
                    image.repository,
                    image.short_digest()
                )),
                THREAD_ID_MAX,
            ),
            summary: truncate_chars(&summary, SUMMARY_MAX),
            event_type,
            related_resources: vec![slack_escape(&image.repository_arn())],
            additional_context: context,
        },
    };
    // Serialising plain strings and maps cannot fail.
    serde_json::to_string(&notification).unwrap_or_default()
}

/// `Source: commit <url|`3f2c1ab`>`; the tag is code, so it cannot format,
/// ping or link, and the URL was percent-encoded when it was made.
fn source_line(source: Option<&SourceLink>) -> Option<String> {
    let link = source?;
    let what = if link.commit { "commit" } else { "tag" };
    let line = format!(
        "Source: {what} {}\n",
        slack_link(Some(&link.url), &link.tag)
    );
    (line.chars().count() <= SOURCE_LINE_MAX).then_some(line)
}

/// A next step to the source, when its link fits in one.
fn source_step(source: Option<&SourceLink>) -> Option<String> {
    let link = source?;
    let step = if link.commit {
        format!(
            "Find the change in source commit {}, the code this image was built from.",
            slack_link(Some(&link.url), &link.tag)
        )
    } else {
        format!(
            "Find the change in the source of tag {}, which this image was built from.",
            slack_link(Some(&link.url), &link.tag)
        )
    };
    (step.chars().count() <= NEXT_STEP_MAX).then_some(step)
}

/// `name@version`, or the name alone, as code.
fn package_code(name: &str, installed: &str) -> String {
    if installed.is_empty() {
        slack_code(name)
    } else {
        slack_code(&format!("{name}@{installed}"))
    }
}

/// The fix plan as description lines (each ending in a newline).
fn plan_lines(plan: &PlanView<'_>) -> Vec<String> {
    let mut lines = Vec::new();
    lines.push(match &plan.headline {
        Headline::NoUpgrade { findings } => {
            format!("*Fix plan*: no upgrade is known to fix any of the {findings}\n")
        }
        Headline::VersionsUnknown {
            packages,
            of,
            basic,
        } => {
            let why = if *basic {
                "basic scanning reports no fixed versions"
            } else {
                "no fixed versions reported"
            };
            format!("*Fix plan*: {packages} to update for {of} ({why})\n")
        }
        Headline::Upgrades { packages, of } => {
            let verb = Headline::upgrades_verb(*packages);
            format!("*Fix plan*: {packages} {verb} {of}\n")
        }
    });
    for upgrade in &plan.upgrades {
        let mut line = format!("• {}", package_code(upgrade.package, upgrade.installed));
        match &upgrade.target {
            TargetView::Version(v) => {
                let _ = write!(line, " → {}: fixes", slack_code(v));
            }
            TargetView::OneOf(versions) => {
                let listed: Vec<String> = versions.iter().map(|v| slack_code(v)).collect();
                let _ = write!(
                    line,
                    " → one of {} (cannot be ordered): fixes",
                    listed.join(", ")
                );
            }
            TargetView::Unknown if plan.versions_unknown => line.push(':'),
            TargetView::Unknown => line.push_str(" → fixed version unknown:"),
        }
        let _ = write!(line, " {}", upgrade.fixes);
        if let Some(score) = upgrade.worst_score {
            let _ = write!(line, " ({score:.1})");
        }
        if upgrade.exploitable > 0 {
            let _ = write!(line, ", *{} with a known exploit*", upgrade.exploitable);
        }
        if let Some(unknown) = &upgrade.also_unknown {
            let _ = write!(line, "; fixed version unknown for {unknown}");
        }
        line.push('\n');
        lines.push(line);
    }
    if plan.upgrade_packages > PLAN_UPGRADES {
        lines.push(format!(
            "_…and {} more package(s) in the email alert._\n",
            plan.upgrade_packages - PLAN_UPGRADES
        ));
    }
    if plan.has_no_fix() {
        let mut named: Vec<String> = plan
            .no_fix
            .iter()
            .map(|n| {
                let ids: Vec<String> = n.ids.iter().map(|id| slack_code(id)).collect();
                format!(
                    "{} {} ({})",
                    package_code(n.package, n.installed),
                    n.counts,
                    ids.join(", ")
                )
            })
            .collect();
        let (more, _) = plan.more_no_fix;
        if more > 0 {
            named.push(format!("{more} more packages"));
        }
        lines.push(format!(
            "*No known fix yet* ({}): {}\n",
            plan.without_fix,
            named.join("; ")
        ));
    }
    lines
}

fn finding_line(finding: &Finding, kind: ScanKind) -> String {
    let mut line = format!(
        "• *{}* {}",
        finding.severity.as_str(),
        slack_link(finding.link.as_deref(), &finding.id)
    );
    if let Some(package) = finding.package_label() {
        let _ = write!(line, " {}", slack_code(&package));
    }
    match (&finding.fixed_in, kind) {
        (Some(fixed), _) => {
            let _ = write!(line, " → {}", slack_code(fixed));
        }
        (None, ScanKind::Enhanced) => line.push_str(" (no fixed version)"),
        (None, ScanKind::Basic) => {}
    }
    if let Some(score) = finding.score {
        let _ = write!(line, " ({score:.1})");
    }
    let signals = finding.signals();
    if !signals.is_empty() {
        let _ = write!(line, " _{}_", slack_escape(&signals.join(" · ")));
    }
    line.push('\n');
    line
}

/// The last next step of every notification: the image's scan results.
fn console_step(image: &ImageRef) -> String {
    format!(
        "Open the {}.",
        slack_link_words(&image.console_url(), "scan results in the ECR console")
    )
}

fn emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => ":rotating_light:",
        Severity::High => ":red_circle:",
        Severity::Medium => ":large_orange_circle:",
        _ => ":large_yellow_circle:",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::judged::JudgedFindings;
    use crate::domain::policy::Verdict;
    use crate::render::FindingsReport;
    use crate::render::{findings_alert, scan_failed_alert};
    use serde_json::Value;

    fn image() -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "eu-west-1".into(),
            repository: "team/web".into(),
            digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
                .into(),
            tags: vec!["3f2c1ab".into()],
        }
    }

    fn chat_for(findings: Vec<Finding>, kind: ScanKind) -> Value {
        let mut tally = JudgedFindings::default();
        for f in findings {
            tally.add(f, Verdict::Alert);
        }
        let img = image();
        let alert = findings_alert(&FindingsReport {
            image: &img,
            kind,
            status: "COMPLETE",
            threshold: Severity::High,
            tally: &tally,
            event_id: Some("evt-1"),
            notes: &[],
            account_alias: None,
            owner: None,
        })
        .unwrap();
        serde_json::from_str(&alert.chat).expect("chat payload is JSON")
    }

    fn finding(id: &str, sev: Severity) -> Finding {
        let mut f = Finding::new(id, sev);
        f.package_name = Some("openssl".into());
        f.package_version = Some("3.0.2".into());
        f.fixed_in = Some("3.0.15".into());
        f.link = Some(format!("https://nvd.nist.gov/vuln/detail/{id}"));
        f.score = Some(9.8);
        f
    }

    fn assert_within_limits(chat: &Value) {
        assert_eq!(chat["version"], "1.0");
        assert_eq!(chat["source"], "custom");
        let content = &chat["content"];
        assert_eq!(content["textType"], "client-markdown");
        let len = |v: &Value| v.as_str().unwrap().chars().count();
        assert!(len(&content["title"]) <= TITLE_MAX);
        assert!(len(&content["description"]) <= DESCRIPTION_MAX);
        assert!(content["nextSteps"].as_array().unwrap().len() <= NEXT_STEPS_MAX);
        for step in content["nextSteps"].as_array().unwrap() {
            assert!(len(step) <= NEXT_STEP_MAX);
        }
        assert!(content["keywords"].as_array().unwrap().len() <= KEYWORDS_MAX);
        for k in content["keywords"].as_array().unwrap() {
            assert!(len(k) <= KEYWORD_MAX);
        }
        let meta = &chat["metadata"];
        assert!(len(&meta["threadId"]) <= THREAD_ID_MAX);
        assert!(len(&meta["summary"]) <= SUMMARY_MAX);
        for v in meta["additionalContext"].as_object().unwrap().values() {
            assert!(len(v) <= CONTEXT_VALUE_MAX);
        }
    }

    #[test]
    fn a_findings_notification_has_the_documented_shape() {
        let chat = chat_for(
            vec![
                finding("CVE-2026-1", Severity::Critical),
                finding("CVE-2026-2", Severity::High),
            ],
            ScanKind::Enhanced,
        );
        assert_within_limits(&chat);
        assert_eq!(chat["id"], "evt-1");
        assert_eq!(
            chat["content"]["title"],
            ":rotating_light: CRITICAL: 1 critical, 1 high in team/web:3f2c1ab"
        );
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(description.contains(
            "• *CRITICAL* <https://nvd.nist.gov/vuln/detail/CVE-2026-1|`CVE-2026-1`> `openssl@3.0.2` → `3.0.15` (9.8)"
        ));
        assert_eq!(
            chat["content"]["keywords"],
            serde_json::json!(["CRITICAL", "team/web", "123456789012"])
        );
        assert_eq!(
            chat["metadata"]["threadId"],
            "123456789012/team/web@sha256:0123456789ab"
        );
        assert_eq!(chat["metadata"]["eventType"], "ecr-scan-findings");
        assert_eq!(
            chat["metadata"]["relatedResources"][0],
            "arn:aws:ecr:eu-west-1:123456789012:repository/team/web"
        );
        assert_eq!(chat["metadata"]["additionalContext"]["threshold"], "HIGH");
        let steps = chat["content"]["nextSteps"].as_array().unwrap();
        assert!(steps[1]
            .as_str()
            .unwrap()
            .contains("<https://eu-west-1.console.aws.amazon.com/ecr/"));
    }

    #[test]
    fn hostile_finding_text_cannot_ping_spoof_links_or_break_out() {
        let mut f = finding("<!channel> CVE", Severity::Critical);
        f.package_name = Some("<@U123ABC> *bold* `code`".into());
        f.fixed_in = Some("1.0\n> quoted".into());
        f.link = Some("https://evil.example|docs.aws.amazon.com".into());
        let chat = chat_for(vec![f], ScanKind::Enhanced);
        let text = chat.to_string();
        for forbidden in [
            "<!channel>",
            "<@U123ABC>",
            "<https://evil.example",
            "\\n> quoted",
        ] {
            assert!(!text.contains(forbidden), "{forbidden} survived: {text}");
        }
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(description.contains("`&lt;!channel&gt; CVE`"));
        assert!(description.contains("`&lt;@U123ABC&gt; *bold* \u{02CB}code\u{02CB}@3.0.2`"));
    }

    #[test]
    fn many_findings_stay_within_the_description_limit() {
        let findings: Vec<_> = (0..5_000)
            .map(|i| {
                let mut f = finding(&format!("CVE-2026-{i:05}"), Severity::Critical);
                f.package_name = Some("p".repeat(2_000));
                f
            })
            .collect();
        let chat = chat_for(findings, ScanKind::Enhanced);
        assert_within_limits(&chat);
        assert!(chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("more in the email alert and the console"));
    }

    #[test]
    fn a_scan_failed_notification_quotes_ecr_safely() {
        let img = image();
        let alert = scan_failed_alert(&FailureReport {
            image: &img,
            kind: ScanKind::Basic,
            status: "FAILED",
            description: Some("UnsupportedImageError <!here>"),
            lookup_problem: None,
            event_id: None,
            account_alias: None,
            owner: None,
        });
        let chat: Value = serde_json::from_str(&alert.chat).unwrap();
        assert_within_limits(&chat);
        assert_eq!(
            chat["content"]["title"],
            ":warning: Scan FAILED: team/web:3f2c1ab"
        );
        assert!(chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("ECR says: `UnsupportedImageError &lt;!here&gt;`"));
        assert_eq!(chat["metadata"]["eventType"], "ecr-scan-failed");
        assert!(chat.get("id").is_none());
    }

    fn chat_with_source(findings: Vec<Finding>, tags: &[&str], pattern: Option<&str>) -> Value {
        let mut tally = JudgedFindings::default();
        for f in findings {
            tally.add(f, Verdict::Alert);
        }
        let mut img = image();
        img.tags = tags.iter().map(|t| t.to_string()).collect();
        let template = crate::domain::commit_link::UrlTemplate::parse(
            "https://git.example.com/{repository}/commit/{tag}",
        )
        .unwrap();
        let rules = crate::domain::commit_link::SourceRules {
            tag_pattern: pattern.map(crate::domain::glob::Glob::new),
            ..Default::default()
        };
        let source = rules.link(Some(&template), &img);
        let alert = crate::render::findings_alert_with_source(
            &FindingsReport {
                image: &img,
                kind: ScanKind::Enhanced,
                status: "ACTIVE",
                threshold: Severity::High,
                tally: &tally,
                event_id: None,
                notes: &[],
                account_alias: None,
                owner: None,
            },
            source.as_ref(),
        )
        .unwrap();
        serde_json::from_str(&alert.chat).unwrap()
    }

    #[test]
    fn the_description_opens_with_the_fix_plan_and_shows_the_pinned_reference() {
        let mut older = finding("CVE-2026-1", Severity::High);
        older.fixed_in = Some("3.0.8".into());
        let mut none = finding("CVE-2026-3", Severity::High);
        none.package_name = Some("perl".into());
        none.package_version = Some("5.36.0".into());
        none.fixed_in = None;
        none.fix_available = Some(crate::domain::finding::FixAvailable::No);
        let chat = chat_with_source(
            vec![older, finding("CVE-2026-2", Severity::Critical), none],
            &["3f2c1ab"],
            None,
        );
        assert_within_limits(&chat);
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(
            description.contains(
                "*Fix plan*: 1 upgrade fixes 2 of the 3 findings\n\
             • `openssl@3.0.2` → `3.0.15`: fixes 2: 1 critical, 1 high (9.8)\n\
             *No known fix yet* (1 finding): `perl@5.36.0` 1 high (`CVE-2026-3`)\n"
            ),
            "{description}"
        );
        assert!(description.contains(
            "Pull: `123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/web@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef`"
        ));
        assert!(
            description.find("*Fix plan*").unwrap() < description.find("*Most severe*").unwrap()
        );
        assert!(description.contains(
            "Source: commit <https://git.example.com/team/web/commit/3f2c1ab|`3f2c1ab`>"
        ));
        let steps = chat["content"]["nextSteps"].as_array().unwrap();
        assert_eq!(steps.len(), 3);
        assert!(steps[1]
            .as_str()
            .unwrap()
            .contains("<https://git.example.com/team/web/commit/3f2c1ab|`3f2c1ab`>"));
    }

    #[test]
    fn a_release_tag_gets_no_source_link() {
        let chat = chat_with_source(vec![finding("CVE-1", Severity::High)], &["v1.2.3"], None);
        assert!(!chat.to_string().contains("git.example.com"));
        assert_eq!(chat["content"]["nextSteps"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_hostile_tag_cannot_inject_into_the_source_link() {
        let chat = chat_with_source(
            vec![finding("CVE-1", Severity::High)],
            &["x|<!channel>`*y*"],
            Some("x*"),
        );
        let text = chat.to_string();
        assert!(!text.contains("<!channel>"), "{text}");
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(description.contains(
            "Source: tag <https://git.example.com/team/web/commit/x%7C%3C%21channel%3E%60%2Ay%2A|`x|&lt;!channel&gt;\u{02CB}*y*`>"
        ), "{description}");
    }

    #[test]
    fn a_plan_of_many_packages_leaves_room_for_the_most_severe() {
        let findings: Vec<_> = (0..500)
            .map(|i| {
                let mut f = finding(&format!("CVE-2026-{i:05}"), Severity::Critical);
                f.package_name = Some(format!("package-{i:03}-{}", "p".repeat(100)));
                f
            })
            .collect();
        let chat = chat_for(findings, ScanKind::Enhanced);
        assert_within_limits(&chat);
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(description.contains("*Fix plan*: 500 upgrades fix all 500 findings"));
        assert!(description.contains("_…and 492 more package(s) in the email alert._"));
        assert!(description.contains("*Most severe*\n• *CRITICAL*"));
        assert!(description.contains("Pull: `"));
    }
}
