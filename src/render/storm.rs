//! The storm alert: one vulnerability newly in many images, as one message
//! for the alert topic (email, SQS, pagers) and one custom notification for
//! the chat topic.

use crate::domain::alert::{self, Alert, AlertKind, SNS_MESSAGE_LIMIT};
use crate::domain::risk;
use crate::domain::storm::{StormAlert, StormReport};
use crate::domain::text::{one_line, slack_code, slack_escape, slack_link_words, truncate_chars};
use std::fmt::Write;

/// Repositories listed by name at most (the rest are counted).
const LISTED_REPOSITORIES: usize = 100;
/// Owners and repositories a storm alert's `owner` and `repository`
/// attributes hold at most (`String.Array`s; the most affected first). A
/// filter policy matches an array when any element matches, so each team
/// whose images the storm touches hears of it, up to this many owners.
pub const ARRAY_ATTRIBUTE_MAX: usize = 100;
/// Owners named in the text at most.
const LISTED_OWNERS: usize = 20;
/// Repositories in the chat description at most.
const CHAT_REPOSITORIES: usize = 10;

/// `CRITICAL, score 9.8, exploit known, EPSS 0.94`
fn risk_phrase(report: &StormReport) -> String {
    let f = &report.finding;
    let mut parts = vec![f.severity.as_str().to_string()];
    if let Some(score) = f.score {
        parts.push(format!("score {score:.1}"));
    }
    match f.exploit_available {
        Some(true) => parts.push("exploit known".into()),
        Some(false) => parts.push("no known exploit".into()),
        None => {}
    }
    if let Some(epss) = f.epss {
        parts.push(format!("EPSS {epss:.2}"));
    }
    parts.join(", ")
}

fn fix_phrase(report: &StormReport) -> String {
    let f = &report.finding;
    match (&f.package_name, &f.fixed_in) {
        (Some(package), Some(version)) => {
            format!("upgrade {} to {}", one_line(package), one_line(version))
        }
        (Some(package), None) => format!("no fixed version of {} reported yet", one_line(package)),
        (None, _) => "no fixed version reported yet".to_string(),
    }
}

fn hhmm(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%H:%M UTC").to_string())
        .unwrap_or_default()
}

pub fn storm_alert(report: &StormReport) -> Alert {
    let id = one_line(&report.finding.id);
    let severity = report.severity();
    let repositories = report.repository_total;
    let subject = match report.which {
        StormAlert::Started => crate::render::subject(
            &format!("STORM {severity}: "),
            &format!(
                "{id} in {} images, {repositories} repositories",
                report.images
            ),
        ),
        StormAlert::Grew { previous } => crate::render::subject(
            &format!("STORM update {severity}: "),
            &format!(
                "{id} in {} images (+{})",
                report.images,
                report.images.saturating_sub(previous)
            ),
        ),
    };
    let window_end = report.window_start + (report.window_minutes * 60) as i64;
    let images = if report.at_least {
        format!("at least {}", report.images)
    } else {
        report.images.to_string()
    };
    let mut body = String::new();
    let _ = writeln!(body, "{subject}");
    let _ = writeln!(
        body,
        "{id} ({}) newly affects {images} images in {repositories} repositories of {} accounts since {}, so far.",
        risk_phrase(report),
        report.accounts,
        hhmm(report.window_start)
    );
    if let StormAlert::Grew { previous } = report.which {
        let _ = writeln!(
            body,
            "{} more images since the last storm alert ({previous}).",
            report.images.saturating_sub(previous)
        );
    }
    let _ = writeln!(body, "Fix: {}.", fix_phrase(report));
    if let Some(link) = &report.finding.link {
        let _ = writeln!(body, "{}", one_line(link));
    }
    body.push('\n');
    let _ = writeln!(
        body,
        "One alert for the storm: more than {} images within {} minutes. Per-image alerts leave {id} out until {}; the other findings of these images still alert per image. A follow-up comes at most every {} minutes while more images are affected.",
        report.threshold,
        report.window_minutes,
        hhmm(window_end),
        report.summary_minutes
    );
    body.push('\n');
    let owners = report.owners();
    let _ = writeln!(body, "BY OWNER ({})", owners.len());
    for (owner, images) in owners.iter().take(LISTED_OWNERS) {
        let _ = writeln!(body, "  {}: {images} images", one_line(owner));
    }
    if owners.len() > LISTED_OWNERS {
        let _ = writeln!(
            body,
            "  ... and {} more owners.",
            owners.len() - LISTED_OWNERS
        );
    }
    body.push('\n');
    let _ = writeln!(
        body,
        "BY REPOSITORY ({repositories}, those with running images first)"
    );
    let budget = SNS_MESSAGE_LIMIT - 2_000;
    let mut listed = 0usize;
    for repo in report.repositories.iter().take(LISTED_REPOSITORIES) {
        let running = if repo.running > 0 {
            format!(", {} running", repo.running)
        } else {
            String::new()
        };
        let entry = format!(
            "  {}  account {} ({}): {} images{running}\n    {}\n",
            one_line(&repo.repository.repository),
            one_line(&repo.repository.account),
            one_line(&repo.repository.region),
            repo.images,
            one_line(&repo.repository.repository_console_url()),
        );
        if body.len() + entry.len() > budget {
            break;
        }
        body.push_str(&entry);
        listed += 1;
    }
    let more = (repositories as usize).saturating_sub(listed);
    if more > 0 {
        let _ = writeln!(body, "  ... and {more} more repositories.");
    }
    let mut attributes = vec![
        (alert::ATTR_SEVERITY, severity.as_str().to_string()),
        (
            alert::ATTR_ALERT_KIND,
            AlertKind::Storm.as_str().to_string(),
        ),
        (alert::ATTR_VULNERABILITY, report.finding.id.clone()),
        (
            alert::ATTR_EXPLOITABLE,
            match report.finding.exploit_available {
                Some(true) => risk::TRUE,
                Some(false) => risk::FALSE,
                None => risk::UNKNOWN,
            }
            .to_string(),
        ),
        (alert::ATTR_IN_USE, report.in_use_attribute().to_string()),
    ];
    attributes.retain(|(_, v)| !v.is_empty());
    // Each team's filter (on `owner` or on its repositories) hears of a
    // storm that touches its images.
    let mut repository_names: Vec<String> = Vec::new();
    for repo in &report.repositories {
        if repository_names.len() == ARRAY_ATTRIBUTE_MAX {
            break;
        }
        if !repository_names.contains(&repo.repository.repository) {
            repository_names.push(repo.repository.repository.clone());
        }
    }
    let array_attributes = vec![
        (
            alert::ATTR_OWNER,
            owners
                .iter()
                .take(ARRAY_ATTRIBUTE_MAX)
                .map(|(owner, _)| owner.clone())
                .collect(),
        ),
        (alert::ATTR_REPOSITORY, repository_names),
    ];
    Alert {
        kind: AlertKind::Storm,
        chat: chat(report, &subject),
        subject,
        body,
        attributes,
        array_attributes,
    }
}

fn chat(report: &StormReport, subject: &str) -> String {
    let mut description = format!(
        "*{}* ({}) newly affects *{} images* in {} repositories of {} accounts.\nFix: {}.\n",
        slack_escape(&report.finding.id),
        slack_escape(&risk_phrase(report)),
        report.images,
        report.repository_total,
        report.accounts,
        slack_escape(&fix_phrase(report)),
    );
    let owners = report.owners();
    let named: Vec<String> = owners
        .iter()
        .take(CHAT_REPOSITORIES)
        .map(|(owner, images)| format!("*{}* {images}", slack_escape(owner)))
        .collect();
    let more = owners.len().saturating_sub(named.len());
    let _ = writeln!(
        description,
        "Owners: {}{}",
        named.join(" · "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    );
    let _ = writeln!(description, "\n*Repositories* (running images first)");
    for repo in report.repositories.iter().take(CHAT_REPOSITORIES) {
        let running = if repo.running > 0 {
            format!(", {} running", repo.running)
        } else {
            String::new()
        };
        let _ = writeln!(
            description,
            "• {} {}: {} images{running}",
            slack_link_words(
                &repo.repository.repository_console_url(),
                &slack_escape(&repo.repository.repository)
            ),
            slack_code(&repo.repository.account),
            repo.images,
        );
    }
    let notification = serde_json::json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": truncate_chars(&format!(":rotating_light: {}", slack_escape(subject)), 150),
            "description": truncate_chars(&description, 3_000),
            "nextSteps": [
                truncate_chars(&format!("Upgrade {} in the base images first: one rebuild fixes many images.", slack_escape(&report.finding.package_name.clone().unwrap_or_else(|| "the package".into()))), 350),
            ],
            "keywords": [report.severity().as_str(), truncate_chars(&slack_escape(&report.finding.id), 75)],
        },
        "metadata": {
            "threadId": truncate_chars(&format!("storm/{}", slack_escape(&report.finding.id)), 128),
            "summary": truncate_chars(&slack_escape(subject), 100),
            "eventType": "ecr-scan-storm",
        }
    });
    notification.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::Finding;
    use crate::domain::image::ImageRef;
    use crate::domain::severity::Severity;
    use crate::domain::storm::RepositoryCount;

    fn report(repositories: u64) -> StormReport {
        let mut finding = Finding::new("CVE-2026-77001", Severity::Critical);
        finding.package_name = Some("glibc".into());
        finding.fixed_in = Some("2.36-9+deb12u9".into());
        finding.exploit_available = Some(true);
        finding.score = Some(9.8);
        StormReport {
            which: StormAlert::Started,
            finding,
            images: 5_000,
            at_least: false,
            accounts: 20,
            repositories: (0..repositories)
                .map(|i| RepositoryCount {
                    repository: ImageRef {
                        account: format!("{:012}", 100_000_000_000 + i % 20),
                        region: "us-east-1".into(),
                        repository: format!("team-{i}/{}", "service".repeat(30)),
                        digest: String::new(),
                        tags: vec![],
                    },
                    images: 17,
                    running: u64::from(i % 3 == 0),
                    owner: Some(format!("team-{}", i % 7)),
                })
                .collect(),
            repository_total: repositories,
            threshold: 20,
            window_start: 1_795_000_000 - 1_795_000_000 % 3_600,
            window_minutes: 60,
            summary_minutes: 15,
        }
    }

    #[test]
    fn a_storm_alert_names_the_vulnerability_the_fix_and_the_spread() {
        let alert = storm_alert(&report(300));
        assert_eq!(
            alert.subject,
            "STORM CRITICAL: CVE-2026-77001 in 5000 images, 300 repositories"
        );
        assert!(alert.body.contains(
            "CVE-2026-77001 (CRITICAL, score 9.8, exploit known) newly affects 5000 images in 300 repositories of 20 accounts since"
        ), "{}", alert.body);
        assert!(alert.body.contains("Fix: upgrade glibc to 2.36-9+deb12u9."));
        assert!(alert.body.contains("... and 200 more repositories."));
        assert!(alert.publish_size() < SNS_MESSAGE_LIMIT);
        assert_eq!(alert.attribute("alert_kind"), Some("storm"));
        assert_eq!(alert.attribute("exploitable"), Some("true"));
        assert_eq!(alert.attribute("in_use"), Some("true"));
        assert_eq!(alert.attribute("vulnerability"), Some("CVE-2026-77001"));
        let chat: serde_json::Value = serde_json::from_str(&alert.chat).unwrap();
        assert!(
            chat["content"]["description"]
                .as_str()
                .unwrap()
                .chars()
                .count()
                <= 3_000
        );
        // Each team whose images it touches hears of it: owners and
        // repositories as String.Array attributes, most images first.
        let owners = alert.array_attribute("owner").unwrap();
        assert_eq!(
            owners,
            ["team-0", "team-1", "team-2", "team-3", "team-4", "team-5", "team-6"]
        );
        assert!(alert.body.contains("BY OWNER (7)\n  team-0: 731 images\n"));
        assert!(alert.body.contains("  team-6: 714 images\n"));
        let repositories = alert.array_attribute("repository").unwrap();
        assert_eq!(repositories.len(), ARRAY_ATTRIBUTE_MAX, "capped");
        assert!(alert.attributes_size() > crate::domain::alert::array_value(repositories).len());
        assert!(chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("Owners: *team-0* 731 · *team-1* 731"));
        let mut grew = report(3);
        grew.which = StormAlert::Grew { previous: 4_200 };
        let update = storm_alert(&grew);
        assert_eq!(
            update.subject,
            "STORM update CRITICAL: CVE-2026-77001 in 5000 images (+800)"
        );
        assert!(update
            .body
            .contains("800 more images since the last storm alert (4200)."));
    }

    #[test]
    fn a_storm_over_many_owners_names_the_most_affected_and_counts_the_rest() {
        let mut many = report(300);
        for (i, repo) in many.repositories.iter_mut().enumerate() {
            repo.owner = Some(format!("team-{i:03}"));
            repo.images = 300 - i as u64;
        }
        many.repositories[299].owner = None;
        let alert = storm_alert(&many);
        let owners = alert.array_attribute("owner").unwrap();
        assert_eq!(owners.len(), ARRAY_ATTRIBUTE_MAX);
        assert_eq!(owners[0], "team-000");
        assert!(alert.body.contains("  ... and 280 more owners."));
        assert!(alert.publish_size() < SNS_MESSAGE_LIMIT);
        // A repository recorded without an owner counts as unowned.
        assert!(many.owners().contains(&("unowned".to_string(), 1)));
    }
}
