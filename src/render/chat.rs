//! The alert as an Amazon Q Developer in chat applications "custom
//! notification" (the only SNS message shape it renders in Slack).
//!
//! Field limits: the custom-notification page of the service documentation
//! lists the schema; the lengths used here are kept at or below Slack's own
//! block limits (header text 150 characters, section text 3,000), so nothing
//! is cut by the chat client either.

use super::{counts_phrase, FailureReport, FindingsReport};
use crate::finding::Finding;
use crate::image::{ImageRef, ScanKind};
use crate::severity::Severity;
use crate::text::{
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

pub(super) fn findings(report: &FindingsReport<'_>, highest: Severity) -> String {
    let tally = report.tally;
    let image = report.image;
    let counts = counts_phrase(&tally.alert_counts);
    let name = image.short_name();

    let mut description = String::new();
    let _ = writeln!(
        description,
        "*{} finding(s) at or above {}* in {} (account {}, {}).",
        tally.alert_worthy(),
        report.threshold,
        slack_code(&name),
        slack_escape(&image.account),
        slack_escape(&image.region)
    );
    let all: Vec<String> = tally
        .counts
        .non_zero()
        .map(|(sev, n)| format!("{} {n}", sev.as_str()))
        .collect();
    let _ = writeln!(description, "All findings: {}", all.join(" · "));
    for note in report.notes {
        let _ = writeln!(description, "_{}_", slack_escape(note).replace('_', " "));
    }
    let _ = writeln!(description, "\n*Most severe*");
    let closing_room = 120;
    let mut shown = 0u64;
    for finding in tally.listed().into_iter().take(TOP_FINDINGS) {
        let line = finding_line(finding, report.kind);
        if description.chars().count() + line.chars().count() + closing_room > DESCRIPTION_MAX {
            break;
        }
        description.push_str(&line);
        shown += 1;
    }
    let more = tally.alert_worthy() - shown;
    if more > 0 {
        let _ = writeln!(
            description,
            "_…and {more} more in the email alert and the console._"
        );
    }

    let fix_step = if report.kind == ScanKind::Basic {
        "Basic scanning reports no fixed versions: update the base image and packages, rebuild and push."
    } else {
        "Rebuild with the fixed versions shown and push; the new image is scanned on push."
    };
    notification(
        image,
        report.event_id,
        format!(
            "{} {highest}: {} in {}",
            emoji(highest),
            counts,
            slack_escape(&name)
        ),
        description,
        vec![
            fix_step.to_string(),
            format!(
                "Open the {}.",
                slack_link_words(&image.console_url(), "scan results in the ECR console")
            ),
        ],
        highest.as_str(),
        "ecr-scan-findings",
        format!("{highest}: {counts} in {}", slack_escape(&name)),
        [("threshold", report.threshold.as_str().to_string())],
    )
}

pub(super) fn scan_failed(report: &FailureReport<'_>) -> String {
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
    if let Some(text) = report.description {
        let _ = writeln!(description, "ECR says: {}", slack_code(text));
    }
    if report.lookup_problem.is_some() {
        let _ = writeln!(
            description,
            "_ECR could not be asked for details; this alert is based on the event alone._"
        );
    }
    notification(
        image,
        report.event_id,
        format!(":warning: Scan {}: {}", slack_escape(report.status), slack_escape(&name)),
        description,
        vec![
            "Check that the image's operating system and package manager are supported by the scanner."
                .to_string(),
            format!("Open the {}.", slack_link_words(&image.console_url(), "scan results in the ECR console")),
        ],
        "SCAN_FAILED",
        "ecr-scan-failed",
        format!("Scan {}: {}", slack_escape(report.status), slack_escape(&name)),
        [("scanStatus", one_line(report.status))],
    )
}

#[allow(clippy::too_many_arguments)]
fn notification<const N: usize>(
    image: &ImageRef,
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
            related_resources: vec![format!(
                "arn:aws:ecr:{}:{}:repository/{}",
                slack_escape(&image.region),
                slack_escape(&image.account),
                slack_escape(&image.repository)
            )],
            additional_context: context,
        },
    };
    // Serialising plain strings and maps cannot fail.
    serde_json::to_string(&notification).unwrap_or_default()
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
    line.push('\n');
    line
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
    use crate::policy::Verdict;
    use crate::render::{findings_alert, scan_failed_alert};
    use crate::tally::Tally;
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
        let mut tally = Tally::default();
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
}
