//! The digest as people read it: one message per owner for the alert topic
//! (email) and a short form for the chat topic, always sent, even when
//! nothing is open: the digest is also the heartbeat that says scanning and
//! alerting still work.

use crate::domain::alert::{self, Alert, AlertKind};
use crate::domain::deadline::{Sla, DUE_SOON_DAYS};
use crate::domain::digest::OwnerDigest;
use crate::domain::severity::Severity;
use crate::domain::text::{one_line, slack_escape, truncate_chars};
use crate::render::counts_phrase;
use std::fmt::Write;

/// Repositories the digest lists with their open findings at most.
const LISTED_REPOSITORIES: usize = 50;

/// What a digest is drawn from besides the owner's figures.
pub struct DigestContext<'a> {
    /// The threshold (the policy's, else SEVERITY_THRESHOLD).
    pub threshold: Severity,
    pub sla: Option<&'a Sla>,
    /// `DIGEST_IMAGE_DAYS`: which images count.
    pub image_days: i64,
    /// `DIGEST_STALE_DAYS`: a basic scan older than this is not current.
    pub stale_days: i64,
    /// The accounts and region read, in words.
    pub scope: String,
    pub now: i64,
    /// Registries not read (`account …, region …: why`): missing here.
    pub late: &'a [String],
    /// The S3 console link of this run's posture report, when written.
    pub report_link: Option<&'a str>,
    /// Why the organisation's accounts are missing (could not be listed).
    pub accounts_problem: Option<&'a str>,
}

fn date(epoch: i64) -> String {
    chrono::DateTime::from_timestamp(epoch, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// `3 critical, 5 high open (2 with a known exploit) in 12 images of 4
/// repositories`, or the heartbeat's `nothing open at or above HIGH in …`.
pub fn summary(digest: &OwnerDigest, ctx: &DigestContext<'_>) -> String {
    let (images, watched) = digest.images();
    let repositories = digest.repositories.len();
    let open = digest.open();
    let watch = if watched == images {
        "every image watched".to_string()
    } else {
        format!("{} not watched", images - watched)
    };
    if open.total() == 0 {
        return format!(
            "nothing open at or above {} in {images} images of {repositories} repositories; {watch}",
            ctx.threshold
        );
    }
    let exploit = match digest.exploitable() {
        0 => String::new(),
        n => format!(" ({n} with a known exploit)"),
    };
    format!(
        "{} open{exploit} in {images} images of {repositories} repositories; {watch}",
        counts_phrase(&open)
    )
}

/// The digest for one owner, as an alert: `alert_kind=digest`, `owner`,
/// `severity` the worst open one (`NONE` when nothing is open).
pub fn digest_alert(digest: &OwnerDigest, ctx: &DigestContext<'_>) -> Alert {
    let worst = digest.worst();
    let overdue = if digest.overdue_total > 0 {
        format!(", {} overdue", digest.overdue_total)
    } else {
        String::new()
    };
    let open = digest.open();
    let headline = if open.total() == 0 {
        format!("nothing open at or above {}", ctx.threshold)
    } else {
        format!("{} open{overdue}", counts_phrase(&open))
    };
    let subject = crate::render::subject(&format!("Digest for {}: ", digest.owner), &headline);
    let attributes = vec![
        (
            alert::ATTR_SEVERITY,
            worst.map_or("NONE", Severity::as_str).to_string(),
        ),
        (
            alert::ATTR_ALERT_KIND,
            AlertKind::Digest.as_str().to_string(),
        ),
        (alert::ATTR_OWNER, digest.owner.clone()),
    ];
    Alert {
        kind: AlertKind::Digest,
        body: body(digest, ctx, &subject),
        chat: chat(digest, ctx, &subject),
        subject,
        attributes,
        array_attributes: Vec::new(),
    }
}

fn body(digest: &OwnerDigest, ctx: &DigestContext<'_>, subject: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{subject}");
    let _ = writeln!(
        out,
        "Owner {}: {}.",
        one_line(&digest.owner),
        summary(digest, ctx)
    );
    let _ = writeln!(out, "{}", since_phrase(digest));
    if let Some(link) = ctx.report_link {
        let _ = writeln!(out, "Posture report (charts, CSV for auditors): {link}");
    }
    if let Some(problem) = ctx.accounts_problem {
        let _ = writeln!(out, "ACCOUNTS NOT LISTED: {}.", one_line(problem));
    }
    if !digest.inspector_unread.is_empty() {
        let _ = writeln!(
            out,
            "INSPECTOR'S COVERAGE NOT READ: {}. There, whether an image is watched comes from ECR's scan statuses, and which findings to read from ECR's summaries; an image Inspector saw in use but nobody pushed or pulled lately is not counted.",
            one_line(&digest.inspector_unread.join("; "))
        );
    }
    if !ctx.late.is_empty() {
        let _ = writeln!(
            out,
            "NOT READ: {}. Their repositories are missing here.",
            one_line(&ctx.late.join("; "))
        );
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "OPEN AT OR ABOVE {} (policy applied), by repository",
        ctx.threshold
    );
    let mut lines: Vec<_> = digest.repositories.values().collect();
    lines.sort_by(|a, b| {
        let rank = |l: &crate::domain::digest::RepositoryLine| {
            Severity::RANKED
                .iter()
                .rev()
                .map(|s| l.open.get(*s))
                .collect::<Vec<_>>()
        };
        rank(b)
            .cmp(&rank(a))
            .then_with(|| a.repository.repository.cmp(&b.repository.repository))
    });
    for line in lines.iter().take(LISTED_REPOSITORIES) {
        let open = if line.open.total() == 0 {
            "nothing open".to_string()
        } else {
            counts_phrase(&line.open)
        };
        let exploit = match line.exploitable {
            0 => String::new(),
            n => format!("; {n} with a known exploit"),
        };
        let _ = writeln!(
            out,
            "  {} (account {}, {}): {open}{exploit}; {} of {} images watched",
            one_line(&line.repository.repository),
            line.repository.account,
            line.repository.region,
            line.watched,
            line.images,
        );
    }
    if lines.len() > LISTED_REPOSITORIES {
        let _ = writeln!(
            out,
            "  ... and {} more repositories.",
            lines.len() - LISTED_REPOSITORIES
        );
    }
    out.push('\n');
    match ctx.sla {
        None => {
            let _ = writeln!(
                out,
                "DEADLINES: none set (the policy document has no `sla` section)."
            );
        }
        Some(sla) => {
            let _ = writeln!(
                out,
                "DEADLINES ({}, from each finding's first observation)",
                sla.phrase()
            );
            let _ = writeln!(
                out,
                "  Overdue: {}{}",
                digest.overdue_total,
                if digest.overdue_total > 0 {
                    format!(" ({})", counts_phrase(&digest.overdue_by_severity))
                } else {
                    String::new()
                }
            );
            for d in &digest.overdue {
                let _ = writeln!(
                    out,
                    "    {}  {}  {}  {} days overdue (due {})  {}",
                    one_line(&d.id),
                    d.severity,
                    one_line(&d.image),
                    d.days,
                    date(d.due),
                    one_line(&d.fix)
                );
            }
            more(&mut out, digest.overdue_total, digest.overdue.len());
            let _ = writeln!(
                out,
                "  Due within {DUE_SOON_DAYS} days: {}",
                digest.due_soon_total
            );
            for d in &digest.due_soon {
                let _ = writeln!(
                    out,
                    "    {}  {}  {}  due {}  {}",
                    one_line(&d.id),
                    d.severity,
                    one_line(&d.image),
                    date(d.due),
                    one_line(&d.fix)
                );
            }
            more(&mut out, digest.due_soon_total, digest.due_soon.len());
            if let Some(fixed) = fixed_in_time_phrase(digest) {
                let _ = writeln!(out, "  {fixed}");
            }
        }
    }
    out.push('\n');
    let _ = writeln!(out, "NOT WATCHED ({})", digest.unwatched_total);
    if digest.unwatched_total == 0 {
        let _ = writeln!(out, "  Every current image is scanned.");
    }
    for (image, why) in &digest.unwatched {
        let _ = writeln!(
            out,
            "  {} ({}): {}. To do: {}.",
            one_line(&image.short_name()),
            image.account,
            why.reason(),
            why.to_do()
        );
    }
    more(&mut out, digest.unwatched_total, digest.unwatched.len());
    for (image, problem) in &digest.unreadable {
        let _ = writeln!(
            out,
            "  {}: its findings could not be read ({}); its counts are missing above.",
            one_line(&image.short_name()),
            one_line(problem)
        );
    }
    out.push('\n');
    match &digest.never_alerted_unchecked {
        Some(why) => {
            let _ = writeln!(out, "NEVER ALERTED: not checked ({}).", one_line(why));
        }
        None => {
            let _ = writeln!(
                out,
                "NEVER ALERTED ({} open findings no alert carried)",
                digest.never_alerted_total
            );
            if digest.never_alerted_total == 0 {
                let _ = writeln!(out, "  Every open finding above was alerted.");
            }
            for group in &digest.never_alerted {
                let _ = writeln!(
                    out,
                    "  {} ({}): {} finding(s), worst {} ({}). Why: {}.",
                    one_line(&group.image.short_name()),
                    group.image.account,
                    group.findings,
                    group.worst,
                    one_line(&group.example),
                    group.silence.cause()
                );
            }
            let listed: u64 = digest.never_alerted.iter().map(|g| g.findings).sum();
            more(&mut out, digest.never_alerted_total, listed as usize);
        }
    }
    if !digest.exceptions.is_empty() {
        out.push('\n');
        let _ = writeln!(out, "EXCEPTIONS EXPIRING OR EXPIRED (allow-list)");
        for e in &digest.exceptions {
            let when = if e.expired { "expired" } else { "expires" };
            let _ = writeln!(
                out,
                "  {} {when} {}: {}",
                one_line(&e.label),
                e.expires,
                one_line(&e.reason)
            );
        }
    }
    out.push('\n');
    let _ = writeln!(
        out,
        "Counted: images pushed or pulled within {} days, in {}; a basic scan older than {} days is not current.",
        ctx.image_days,
        one_line(&ctx.scope),
        ctx.stale_days
    );
    let _ = writeln!(
        out,
        "-- \nSent by ecr-scan-alerts on {}. Sent every period even when nothing is open: its absence means the digest failed.",
        date(ctx.now)
    );
    out
}

/// `Since the last digest (2026-11-30): 3 new, 5 fixed, 12 still open.`,
/// or why that is not known.
pub fn since_phrase(digest: &OwnerDigest) -> String {
    match (&digest.changes, &digest.changes_unknown) {
        (Some(c), _) => format!(
            "Since the last digest ({}): {} new, {} fixed, {} still open (vulnerabilities per repository).",
            date(c.since),
            c.new,
            c.fixed,
            c.still_open
        ),
        (None, Some(why)) => format!(
            "New and fixed since the last digest: not known this time ({}).",
            one_line(why)
        ),
        (None, None) => {
            "First digest: what is new and fixed is counted from the next one.".to_string()
        }
    }
}

/// `Fixed within their deadline since the last digest: 3 of 4 (75%).`
fn fixed_in_time_phrase(digest: &OwnerDigest) -> Option<String> {
    let c = digest.changes.as_ref()?;
    if c.fixed_with_deadline == 0 {
        return Some(
            "Fixed within their deadline since the last digest: none with a deadline was fixed."
                .into(),
        );
    }
    Some(format!(
        "Fixed within their deadline since the last digest: {} of {} ({}%).",
        c.fixed_in_time,
        c.fixed_with_deadline,
        c.fixed_in_time * 100 / c.fixed_with_deadline
    ))
}

fn more(out: &mut String, total: u64, listed: usize) {
    if total > listed as u64 {
        let _ = writeln!(out, "    ... and {} more.", total - listed as u64);
    }
}

fn chat(digest: &OwnerDigest, ctx: &DigestContext<'_>, subject: &str) -> String {
    let mut description = format!(
        "*{}*: {}.\n",
        slack_escape(&digest.owner),
        slack_escape(&summary(digest, ctx))
    );
    if ctx.sla.is_some() {
        let _ = writeln!(
            description,
            "Overdue: *{}* · due within {DUE_SOON_DAYS} days: {}",
            digest.overdue_total, digest.due_soon_total
        );
    }
    if let Some(c) = &digest.changes {
        let _ = writeln!(
            description,
            "Since {}: {} new · {} fixed",
            date(c.since),
            c.new,
            c.fixed
        );
    }
    if digest.never_alerted_total > 0 {
        let _ = writeln!(
            description,
            "Never alerted: *{}* open findings",
            digest.never_alerted_total
        );
    }
    if !digest.exceptions.is_empty() {
        let _ = writeln!(
            description,
            "Allow-list entries expiring or expired: {}",
            digest.exceptions.len()
        );
    }
    if !ctx.late.is_empty() {
        let _ = writeln!(
            description,
            ":warning: Not read: {}",
            slack_escape(&ctx.late.join("; "))
        );
    }
    if !digest.inspector_unread.is_empty() {
        let _ = writeln!(
            description,
            ":warning: Inspector's coverage not read: {}",
            slack_escape(&digest.inspector_unread.join("; "))
        );
    }
    if let Some(link) = ctx.report_link {
        let _ = writeln!(description, "<{link}|Posture report>");
    }
    if ctx.accounts_problem.is_some() {
        let _ = writeln!(
            description,
            ":warning: The organisation's accounts could not be listed: only this account was read"
        );
    }
    let _ = writeln!(description, "_The whole digest is in the email._");
    serde_json::json!({
        "version": "1.0",
        "source": "custom",
        "content": {
            "textType": "client-markdown",
            "title": truncate_chars(&format!(":bar_chart: {}", slack_escape(subject)), 150),
            "description": truncate_chars(&description, 3_000),
            "keywords": [digest.worst().map_or("NONE", Severity::as_str), truncate_chars(&slack_escape(&digest.owner), 75)],
        },
        "metadata": {
            "threadId": truncate_chars(&format!("digest/{}", slack_escape(&digest.owner)), 128),
            "summary": truncate_chars(&slack_escape(subject), 100),
            "eventType": "ecr-scan-digest",
        }
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::deadline::Standing;
    use crate::domain::digest::Unwatched;
    use crate::domain::finding::Finding;
    use crate::domain::image::ImageRef;

    const NOW: i64 = 1_796_000_000;

    fn image(repository: &str) -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: "sha256:abc".into(),
            tags: vec!["v1".into()],
        }
    }

    fn ctx(sla: Option<&Sla>) -> DigestContext<'_> {
        DigestContext {
            threshold: Severity::High,
            sla,
            image_days: 30,
            stale_days: 30,
            scope: "account 123456789012, us-east-1".into(),
            now: NOW,
            late: &[],
            report_link: None,
            accounts_problem: None,
        }
    }

    #[test]
    fn a_clean_owner_gets_the_heartbeat() {
        let mut digest = OwnerDigest::new("search");
        digest.add_image(&image("search/web"), None);
        let alert = digest_alert(&digest, &ctx(None));
        assert_eq!(
            alert.subject,
            "Digest for search: nothing open at or above HIGH"
        );
        assert_eq!(alert.attribute("severity"), Some("NONE"));
        assert_eq!(alert.attribute("alert_kind"), Some("digest"));
        assert_eq!(alert.attribute("owner"), Some("search"));
        assert!(alert.body.contains(
            "Owner search: nothing open at or above HIGH in 1 images of 1 repositories; every image watched."
        ));
        assert!(alert.body.contains("DEADLINES: none set"));
        let chat: serde_json::Value = serde_json::from_str(&alert.chat).unwrap();
        assert!(chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("every image watched"));
    }

    #[test]
    fn an_owner_with_overdue_and_unwatched_images_reads_them_with_what_to_do() {
        let sla = Sla::new([("CRITICAL".into(), 15)]).unwrap();
        let mut digest = OwnerDigest::new("payments");
        let api = image("pay/api");
        digest.add_image(&api, None);
        digest.add_image(
            &image("pay/old"),
            Some(Unwatched::Status {
                status: "SCAN_ELIGIBILITY_EXPIRED".into(),
                description: None,
            }),
        );
        let mut f = Finding::new("CVE-2026-1", Severity::Critical);
        f.package_name = Some("openssl".into());
        f.fixed_in = Some("3.0.15".into());
        f.exploit_available = Some(true);
        digest.add_open(
            &api,
            &f,
            Standing::Overdue {
                due: NOW - 3 * 86_400,
                days: 3,
            },
        );
        let alert = digest_alert(&digest, &ctx(Some(&sla)));
        assert_eq!(
            alert.subject,
            "Digest for payments: 1 critical open, 1 overdue"
        );
        assert_eq!(alert.attribute("severity"), Some("CRITICAL"));
        let body = &alert.body;
        assert!(body.contains("1 critical open (1 with a known exploit) in 2 images of 2 repositories; 1 not watched"), "{body}");
        assert!(
            body.contains("DEADLINES (CRITICAL 15 days, from each finding's first observation)")
        );
        assert!(body.contains("  Overdue: 1 (1 critical)\n    CVE-2026-1  CRITICAL  pay/api:v1  3 days overdue (due 2026-11-27)  upgrade openssl to 3.0.15"), "{body}");
        assert!(body.contains(
            "pay/old:v1 (123456789012): scan status SCAN_ELIGIBILITY_EXPIRED. To do: push it again"
        ));
        assert!(body.contains("  pay/api (account 123456789012, us-east-1): 1 critical; 1 with a known exploit; 1 of 1 images watched"));
    }

    #[test]
    fn inspectors_coverage_says_why_an_image_is_not_watched_or_that_it_was_not_read() {
        let mut digest = OwnerDigest::new("payments");
        digest.add_image(
            &image("pay/old"),
            Some(Unwatched::Inspector {
                status: "INACTIVE".into(),
                reason: "SCAN_ELIGIBILITY_EXPIRED".into(),
            }),
        );
        digest.add_image(&image("pay/new"), Some(Unwatched::NotCovered));
        digest.add_image(
            &image("pay/odd"),
            Some(Unwatched::Inspector {
                status: "INACTIVE".into(),
                reason: "SOMETHING_NEW".into(),
            }),
        );
        let body = digest_alert(&digest, &ctx(None)).body;
        assert!(body.contains("pay/old:v1 (123456789012): Inspector's coverage INACTIVE, SCAN_ELIGIBILITY_EXPIRED. To do: push it again"), "{body}");
        assert!(body.contains("pay/new:v1 (123456789012): not in Inspector's coverage. To do: check that the registry's enhanced scanning rules cover the repository"), "{body}");
        assert!(body.contains("pay/odd:v1 (123456789012): Inspector's coverage INACTIVE, SOMETHING_NEW (a reason the Inspector API Reference does not document). To do: look at the image's coverage in the Inspector console"), "{body}");
        assert!(!body.contains("INSPECTOR'S COVERAGE NOT READ"));

        digest
            .inspector_unread
            .push("account 555555555555, region us-east-1: AccessDeniedException: denied".into());
        let alert = digest_alert(&digest, &ctx(None));
        assert!(alert.body.contains("INSPECTOR'S COVERAGE NOT READ: account 555555555555, region us-east-1: AccessDeniedException: denied. There, whether an image is watched comes from ECR's scan statuses"), "{}", alert.body);
        assert!(alert.chat.contains("Inspector's coverage not read"));
    }
}
