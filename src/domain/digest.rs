//! The weekly digest (docs/digest.md): per owner, what is open, what is past
//! its deadline, what scanning does not watch, and which allow-list entries
//! expire. Plain data and the rules that fill it; the reading of the
//! registry is the pipeline's, the text the renderer's.

use crate::domain::deadline::{Sla, Standing};
use crate::domain::finding::Finding;
use crate::domain::image::ImageRef;
use crate::domain::policy::AllowEntry;
use crate::domain::severity::{Severity, SeverityCounts};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Overdue and due-soon findings an owner's digest lists at most (oldest
/// first); the rest are counted.
pub const LISTED_DEADLINES: usize = 20;
/// Images not watched an owner's digest lists at most; the rest are counted.
pub const LISTED_UNWATCHED: usize = 30;
/// Images with findings never alerted an owner's digest lists at most.
pub const LISTED_NEVER_ALERTED: usize = 20;
/// An allow-list entry expiring within this many days is listed.
pub const EXPIRING_DAYS: i64 = 14;
/// An allow-list entry that expired within this many days is listed.
pub const EXPIRED_DAYS: i64 = 7;
const DAY: i64 = 86_400;

/// A repository as `DescribeRepositories` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryInfo {
    /// The repository (an image of it without digest or tags).
    pub repository: ImageRef,
    /// `imageScanningConfiguration.scanOnPush`.
    pub scan_on_push: bool,
}

/// An image as `DescribeImages` gives it (Amazon ECR API Reference,
/// `ImageDetail`): times in epoch seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageInfo {
    pub image: ImageRef,
    pub pushed_at: Option<i64>,
    pub last_pull: Option<i64>,
    /// `imageScanStatus.status`: `None` when the image was never scanned.
    pub scan_status: Option<String>,
    pub scan_description: Option<String>,
    /// `imageScanFindingsSummary.imageScanCompletedAt`.
    pub completed_at: Option<i64>,
    /// `imageScanFindingsSummary.findingSeverityCounts`.
    pub counts: SeverityCounts,
    /// Whether `imageScanFindingsSummary` was there at all: without it the
    /// counts say nothing (the API reference does not say when enhanced
    /// scanning fills it), so the findings are read.
    pub has_summary: bool,
    /// Keys of `findingSeverityCounts` that name no severity the API
    /// reference documents: never read as a known one; the image's
    /// findings are read to see what they are.
    pub unknown_severities: Vec<String>,
}

/// The scan statuses under which ECR watches an image no more (Amazon ECR
/// API Reference, `ImageScanStatus`), with what to do about each.
const UNWATCHED_STATUSES: &[(&str, &str)] = &[
    (
        "FAILED",
        "scan it again (aws ecr start-image-scan); if it fails again, its OS or package manager is not supported",
    ),
    (
        "UNSUPPORTED_IMAGE",
        "rebuild it on a base image the scanner supports",
    ),
    (
        "SCAN_ELIGIBILITY_EXPIRED",
        "push it again, or raise Inspector's ECR re-scan duration, if it still runs",
    ),
    (
        "FINDINGS_UNAVAILABLE",
        "push it again: Inspector no longer has findings for it",
    ),
    (
        "LIMIT_EXCEEDED",
        "look at the scan in the console: ECR did not scan it, a scanning limit was reached",
    ),
];

/// The statuses of an image scanning watches: a current scan, or one under
/// way. Any other status, documented or not, is listed as not watched, with
/// the status named: never read as watched on a guess.
const WATCHED_STATUSES: &[&str] = &["COMPLETE", "ACTIVE", "IN_PROGRESS", "PENDING"];

/// Why scanning does not watch an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Unwatched {
    /// Basic scanning with scan on push off, and never scanned.
    ScanOnPushOff,
    /// A status under which it is watched no more.
    Status {
        status: String,
        description: Option<String>,
    },
    /// Never scanned.
    NeverScanned,
    /// A basic scan that completed this many days ago.
    Stale { days: i64 },
    /// Amazon Inspector's coverage (`ListCoverage`) says it does not scan
    /// the image: `INACTIVE`, or a status or reason the Inspector API
    /// Reference does not document.
    Inspector { status: String, reason: String },
    /// An image of an enhanced-scanning registry that Inspector's coverage
    /// does not list.
    NotCovered,
}

impl Unwatched {
    /// What it is, in a few words.
    pub fn reason(&self) -> String {
        match self {
            Unwatched::ScanOnPushOff => "scan on push is off, never scanned".into(),
            Unwatched::Status { status, .. } => format!("scan status {status}"),
            Unwatched::NeverScanned => "never scanned".into(),
            Unwatched::Stale { days } => format!("last basic scan {days} days ago"),
            Unwatched::Inspector { status, reason }
                if crate::domain::coverage::is_documented(reason) =>
            {
                format!("Inspector's coverage {status}, {reason}")
            }
            Unwatched::Inspector { status, reason } => {
                format!("Inspector's coverage {status}, {reason} (a reason the Inspector API Reference does not document)")
            }
            Unwatched::NotCovered => "not in Inspector's coverage".into(),
        }
    }

    /// What to do about it.
    pub fn to_do(&self) -> &'static str {
        match self {
            Unwatched::ScanOnPushOff => {
                "turn scan on push on for the repository and scan the image"
            }
            Unwatched::Status { status, .. } => UNWATCHED_STATUSES
                .iter()
                .find(|(s, _)| s == status)
                .map_or("look at the scan in the console", |(_, what)| what),
            Unwatched::NeverScanned => "scan it (aws ecr start-image-scan)",
            Unwatched::Stale { .. } => {
                "scan it again, or turn on enhanced scanning to have it rescanned continuously"
            }
            Unwatched::Inspector { reason, .. } => crate::domain::coverage::to_do(reason),
            Unwatched::NotCovered => {
                "check that the registry's enhanced scanning rules cover the repository and that Inspector's ECR scanning is on for the account (Inspector console, Account management)"
            }
        }
    }
}

/// Whether scanning watches `image`: `None` when it does (a current scan,
/// or one under way), else why not. `basic`: the registry uses basic
/// scanning; `stale_days`: a basic scan older than this is not current.
pub fn unwatched(
    image: &ImageInfo,
    scan_on_push: bool,
    basic: bool,
    now: i64,
    stale_days: i64,
) -> Option<Unwatched> {
    match image.scan_status.as_deref() {
        None => Some(if basic && !scan_on_push {
            Unwatched::ScanOnPushOff
        } else {
            Unwatched::NeverScanned
        }),
        Some(status) if UNWATCHED_STATUSES.iter().any(|(s, _)| *s == status) => {
            Some(Unwatched::Status {
                status: status.to_string(),
                description: image.scan_description.clone(),
            })
        }
        Some("COMPLETE") if basic => {
            let days = image.completed_at.map(|at| (now - at) / DAY)?;
            (days > stale_days).then_some(Unwatched::Stale { days })
        }
        Some(status) if WATCHED_STATUSES.contains(&status) => None,
        Some(status) => Some(Unwatched::Status {
            status: status.to_string(),
            description: image.scan_description.clone(),
        }),
    }
}

/// Whether an image matters to the digest: pushed or pulled within `days`.
pub fn is_current(image: &ImageInfo, now: i64, days: i64) -> bool {
    let since = now - days * DAY;
    image.pushed_at.is_some_and(|t| t >= since) || image.last_pull.is_some_and(|t| t >= since)
}

/// Whether an image's scan summary counts a finding at or above `threshold`:
/// only such images have their findings read.
pub fn reaches(counts: &SeverityCounts, threshold: Severity) -> bool {
    Severity::RANKED
        .iter()
        .any(|s| *s >= threshold && counts.get(*s) > 0)
}

/// A finding with a deadline, for the overdue and due-soon lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadlined {
    pub id: String,
    pub severity: Severity,
    pub image: String,
    /// `upgrade openssl to 3.0.15`, or what is known of the fix.
    pub fix: String,
    pub due: i64,
    /// Days past due (overdue), or days left (due soon).
    pub days: i64,
}

/// One repository's open findings in a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryLine {
    pub repository: ImageRef,
    /// Alert-worthy open findings (policy and threshold applied), by severity.
    pub open: SeverityCounts,
    /// Of those, with a known exploit.
    pub exploitable: u64,
    /// Current images, and those scanning watches.
    pub images: u64,
    pub watched: u64,
}

/// Why an open, alert-worthy finding was never alerted: the digest is where
/// silence is checked (docs/digest.md, "Never alerted").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Silence {
    /// No alert was ever recorded for the image.
    NoAlertRecorded,
    /// An allow-list entry that suppressed it expired (its label).
    EntryExpired(String),
    /// A risk rule raises it now: an exploit became known.
    ExploitKnown,
    /// A risk rule raises it now: its EPSS score rose.
    EpssRose,
    /// The image runs now, and the risk rules alert only for images in use.
    StartedRunning,
    /// Alerts were sent for the image, never this finding.
    NotAnnounced,
}

impl Silence {
    /// The cause, in words.
    pub fn cause(&self) -> String {
        match self {
            Silence::NoAlertRecorded => "no alert was ever recorded for this image: its scan event never arrived or was never handled (EventBridge delivers events on a best-effort basis), or it was pushed before this stack".into(),
            Silence::EntryExpired(label) => format!("the allow-list entry {label} that kept it quiet has expired"),
            Silence::ExploitKnown => "an exploit became known since its scan, and a risk rule raises it now".into(),
            Silence::EpssRose => "its EPSS score rose since its scan, and a risk rule raises it now".into(),
            Silence::StartedRunning => "the image runs now, and the risk rules kept it quiet while it did not".into(),
            Silence::NotAnnounced => "alerts were sent for this image, never for these findings: a rescan found them and their Inspector2 Finding event did not arrive".into(),
        }
    }
}

/// An image's open findings that no alert carried, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NeverAlerted {
    pub image: ImageRef,
    pub silence: Silence,
    pub findings: u64,
    pub worst: Severity,
    /// One of them, to look up.
    pub example: String,
}

/// An allow-list entry the digest mentions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub label: String,
    pub reason: String,
    pub expires: NaiveDate,
    /// `true`: already expired.
    pub expired: bool,
}

/// What one owner's digest says. Serialized as a fanned-out run's partial
/// (one registry's part, kept in the table until the final assembly):
/// what is added after reading (exceptions, the comparison with the last
/// digest) is not.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OwnerDigest {
    pub owner: String,
    /// By repository key (`account|region|repository`).
    pub repositories: BTreeMap<String, RepositoryLine>,
    pub overdue: Vec<Deadlined>,
    pub overdue_total: u64,
    pub overdue_by_severity: SeverityCounts,
    pub due_soon: Vec<Deadlined>,
    pub due_soon_total: u64,
    pub unwatched: Vec<(ImageRef, Unwatched)>,
    pub unwatched_total: u64,
    /// Images whose findings could not be read, with why.
    pub unreadable: Vec<(ImageRef, String)>,
    #[serde(skip)]
    pub exceptions: Vec<Exception>,
    /// Each open finding's mark, for the next digest
    /// ([`crate::domain::digest_state`]).
    pub marks: Vec<u64>,
    /// New, fixed and still open since the last digest (`None`: no last
    /// digest, or its state unreadable: `changes_unknown` says why).
    #[serde(skip)]
    pub changes: Option<crate::domain::digest_state::Changes>,
    #[serde(skip)]
    pub changes_unknown: Option<String>,
    /// Open findings no alert carried, grouped by image and cause.
    pub never_alerted: Vec<NeverAlerted>,
    pub never_alerted_total: u64,
    /// Why never-alerted findings are not checked (`None`: they are).
    pub never_alerted_unchecked: Option<String>,
    /// Registries whose Amazon Inspector coverage could not be read, with
    /// why (`account …, region …: …`): their images' coverage is ECR's
    /// scan statuses there.
    pub inspector_unread: Vec<String>,
    /// The posture report's rows (kept only when a report is written).
    pub finding_rows: Vec<crate::domain::report::FindingRow>,
    pub coverage_rows: Vec<crate::domain::report::CoverageRow>,
}

impl OwnerDigest {
    pub fn new(owner: &str) -> OwnerDigest {
        OwnerDigest {
            owner: owner.to_string(),
            ..OwnerDigest::default()
        }
    }

    fn line(&mut self, repository: &ImageRef) -> &mut RepositoryLine {
        let key = crate::domain::storm::repository_key(repository);
        self.repositories
            .entry(key)
            .or_insert_with(|| RepositoryLine {
                repository: ImageRef {
                    digest: String::new(),
                    tags: Vec::new(),
                    ..repository.clone()
                },
                open: SeverityCounts::default(),
                exploitable: 0,
                images: 0,
                watched: 0,
            })
    }

    /// A repository with no current image still appears (as empty).
    pub fn add_repository(&mut self, repository: &ImageRef) {
        self.line(repository);
    }

    /// A current image, and whether scanning watches it.
    pub fn add_image(&mut self, image: &ImageRef, unwatched: Option<Unwatched>) {
        let line = self.line(image);
        line.images += 1;
        match unwatched {
            None => line.watched += 1,
            Some(why) => {
                self.unwatched_total += 1;
                if self.unwatched.len() < LISTED_UNWATCHED {
                    self.unwatched.push((image.clone(), why));
                }
            }
        }
    }

    /// An alert-worthy open finding of `image` (as the policy routed it),
    /// with its standing against the deadlines.
    pub fn add_open(&mut self, image: &ImageRef, finding: &Finding, standing: Standing) {
        let line = self.line(image);
        line.open.add(finding.severity, 1);
        if finding.exploit_available == Some(true) {
            line.exploitable += 1;
        }
        let (due, _) = standing.deadline();
        self.marks
            .push(crate::domain::digest_state::mark(image, finding, due));
        let deadlined = |due: i64, days: i64| Deadlined {
            id: finding.id.clone(),
            severity: finding.severity,
            image: image.short_name(),
            fix: fix_phrase(finding),
            due,
            days,
        };
        match standing {
            Standing::Overdue { due, days } => {
                self.overdue_total += 1;
                self.overdue_by_severity.add(finding.severity, 1);
                keep_oldest(&mut self.overdue, deadlined(due, days));
            }
            Standing::DueSoon { due } => {
                self.due_soon_total += 1;
                keep_oldest(&mut self.due_soon, deadlined(due, 0));
            }
            Standing::None | Standing::Open { .. } => {}
        }
    }

    /// An open finding of `image` that no alert carried, and why.
    pub fn add_never_alerted(&mut self, image: &ImageRef, finding: &Finding, silence: Silence) {
        self.never_alerted_total += 1;
        if let Some(group) = self
            .never_alerted
            .iter_mut()
            .find(|g| g.image == *image && g.silence == silence)
        {
            group.findings += 1;
            if finding.severity > group.worst {
                group.worst = finding.severity;
                group.example.clone_from(&finding.id);
            }
            return;
        }
        if self.never_alerted.len() < LISTED_NEVER_ALERTED {
            self.never_alerted.push(NeverAlerted {
                image: image.clone(),
                silence,
                findings: 1,
                worst: finding.severity,
                example: finding.id.clone(),
            });
        }
    }

    /// Adds `other`, the same owner's digest of other repositories.
    pub fn merge(&mut self, other: OwnerDigest) {
        self.repositories.extend(other.repositories);
        self.marks.extend(other.marks);
        self.finding_rows.extend(other.finding_rows);
        self.coverage_rows.extend(other.coverage_rows);
        if self.never_alerted_unchecked.is_none() {
            self.never_alerted_unchecked = other.never_alerted_unchecked;
        }
        self.never_alerted_total += other.never_alerted_total;
        for group in other.never_alerted {
            if self.never_alerted.len() < LISTED_NEVER_ALERTED {
                self.never_alerted.push(group);
            }
        }
        for item in other.overdue {
            keep_oldest(&mut self.overdue, item);
        }
        self.overdue_total += other.overdue_total;
        for s in Severity::RANKED {
            self.overdue_by_severity
                .add(s, other.overdue_by_severity.get(s));
        }
        for item in other.due_soon {
            keep_oldest(&mut self.due_soon, item);
        }
        self.due_soon_total += other.due_soon_total;
        for item in other.unwatched {
            if self.unwatched.len() < LISTED_UNWATCHED {
                self.unwatched.push(item);
            }
        }
        self.unwatched_total += other.unwatched_total;
        self.unreadable.extend(other.unreadable);
        self.exceptions.extend(other.exceptions);
        for registry in other.inspector_unread {
            if !self.inspector_unread.contains(&registry) {
                self.inspector_unread.push(registry);
            }
        }
    }

    /// Open findings at or above the threshold, by severity, over every repository.
    pub fn open(&self) -> SeverityCounts {
        let mut out = SeverityCounts::default();
        for line in self.repositories.values() {
            for s in Severity::RANKED {
                out.add(s, line.open.get(s));
            }
        }
        out
    }

    pub fn exploitable(&self) -> u64 {
        self.repositories.values().map(|l| l.exploitable).sum()
    }

    pub fn images(&self) -> (u64, u64) {
        self.repositories
            .values()
            .fold((0, 0), |(i, w), l| (i + l.images, w + l.watched))
    }

    /// The worst open severity, the digest's `severity` attribute (`None`:
    /// nothing open).
    pub fn worst(&self) -> Option<Severity> {
        let open = self.open();
        Severity::RANKED
            .iter()
            .rev()
            .copied()
            .find(|s| open.get(*s) > 0)
    }

    /// The allow-list entries that matter to this owner's repositories:
    /// expired within [`EXPIRED_DAYS`] or expiring within [`EXPIRING_DAYS`].
    pub fn add_exceptions<'a>(
        &mut self,
        entries: impl IntoIterator<Item = &'a AllowEntry>,
        today: NaiveDate,
    ) {
        for entry in entries {
            let Some(expires) = entry.expires else {
                continue;
            };
            let days = (expires - today).num_days();
            let covers = self.repositories.values().any(|l| {
                entry
                    .repository
                    .as_ref()
                    .is_none_or(|g| g.matches(&l.repository.repository))
                    && entry
                        .account
                        .as_ref()
                        .is_none_or(|a| *a == l.repository.account)
            });
            if !covers || !(-EXPIRED_DAYS..=EXPIRING_DAYS).contains(&days) {
                continue;
            }
            self.exceptions.push(Exception {
                label: entry.label_scope(),
                reason: entry.reason.clone(),
                expires,
                expired: days < 0,
            });
        }
    }
}

/// Keeps the [`LISTED_DEADLINES`] with the earliest due dates.
fn keep_oldest(list: &mut Vec<Deadlined>, item: Deadlined) {
    let at = list.partition_point(|d| (d.due, &d.id) <= (item.due, &item.id));
    if at < LISTED_DEADLINES {
        list.insert(at, item);
        list.truncate(LISTED_DEADLINES);
    }
}

/// `upgrade openssl to 3.0.15`, or what is known of the fix.
pub fn fix_phrase(finding: &Finding) -> String {
    match (&finding.package_name, &finding.fixed_in) {
        (Some(p), Some(v)) => format!("upgrade {p} to {v}"),
        (Some(p), None) => format!("{p}: no fixed version known"),
        (None, _) => "no fixed version known".into(),
    }
}

/// The deadlines' standing of a finding under `sla` (none without one).
pub fn standing(
    sla: Option<&Sla>,
    finding: &Finding,
    first_observed: Option<i64>,
    now: i64,
) -> Standing {
    sla.map_or(Standing::None, |sla| {
        sla.standing(
            finding.severity,
            finding.first_observed.or(first_observed),
            now,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    fn image(repository: &str, digest: &str) -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: digest.into(),
            tags: vec!["v1".into()],
        }
    }

    fn info(status: Option<&str>, completed_days_ago: Option<i64>) -> ImageInfo {
        ImageInfo {
            image: image("pay/api", "sha256:1"),
            pushed_at: Some(NOW - 3 * DAY),
            scan_status: status.map(str::to_string),
            completed_at: completed_days_ago.map(|d| NOW - d * DAY),
            ..ImageInfo::default()
        }
    }

    #[test]
    fn what_scanning_does_not_watch_is_named_with_what_to_do() {
        let never = info(None, None);
        assert_eq!(
            unwatched(&never, false, true, NOW, 30),
            Some(Unwatched::ScanOnPushOff)
        );
        assert_eq!(
            unwatched(&never, true, true, NOW, 30),
            Some(Unwatched::NeverScanned)
        );
        assert_eq!(
            unwatched(&never, true, false, NOW, 30),
            Some(Unwatched::NeverScanned)
        );
        let expired = unwatched(
            &info(Some("SCAN_ELIGIBILITY_EXPIRED"), None),
            true,
            false,
            NOW,
            30,
        )
        .unwrap();
        assert_eq!(expired.reason(), "scan status SCAN_ELIGIBILITY_EXPIRED");
        assert!(expired.to_do().contains("push it again"));
        assert_eq!(
            unwatched(&info(Some("COMPLETE"), Some(45)), true, true, NOW, 30),
            Some(Unwatched::Stale { days: 45 })
        );
        assert_eq!(
            unwatched(&info(Some("COMPLETE"), Some(3)), true, true, NOW, 30),
            None
        );
        // Enhanced scanning rescans on its own: an old completion is no staleness.
        assert_eq!(
            unwatched(&info(Some("ACTIVE"), Some(45)), true, false, NOW, 30),
            None
        );
        assert_eq!(
            unwatched(&info(Some("IN_PROGRESS"), None), true, true, NOW, 30),
            None
        );
        let limit = unwatched(&info(Some("LIMIT_EXCEEDED"), None), true, false, NOW, 30).unwrap();
        assert!(limit.to_do().contains("scanning limit"));
        // A status ECR does not document is named, not taken for watched.
        let odd = unwatched(&info(Some("N/A"), None), true, true, NOW, 30).unwrap();
        assert_eq!(odd.reason(), "scan status N/A");
        assert_eq!(odd.to_do(), "look at the scan in the console");
    }

    #[test]
    fn current_images_were_pushed_or_pulled_lately() {
        let mut old = info(Some("COMPLETE"), Some(1));
        old.pushed_at = Some(NOW - 90 * DAY);
        assert!(!is_current(&old, NOW, 30));
        old.last_pull = Some(NOW - 2 * DAY);
        assert!(is_current(&old, NOW, 30));
    }

    #[test]
    fn overdue_findings_are_counted_and_the_oldest_listed() {
        let mut digest = OwnerDigest::new("payments");
        let img = image("pay/api", "sha256:1");
        digest.add_image(&img, None);
        for i in 0..30 {
            let mut f = Finding::new(format!("CVE-2026-{i:04}"), Severity::Critical);
            f.package_name = Some("openssl".into());
            f.fixed_in = Some("3.0.15".into());
            f.exploit_available = Some(i == 0);
            digest.add_open(
                &img,
                &f,
                Standing::Overdue {
                    due: NOW - i * DAY,
                    days: i,
                },
            );
        }
        digest.add_open(
            &img,
            &Finding::new("CVE-1", Severity::High),
            Standing::DueSoon { due: NOW + DAY },
        );
        assert_eq!(digest.overdue_total, 30);
        assert_eq!(digest.overdue.len(), LISTED_DEADLINES);
        assert_eq!(digest.overdue[0].id, "CVE-2026-0029", "oldest first");
        assert_eq!(digest.overdue[0].fix, "upgrade openssl to 3.0.15");
        assert_eq!(digest.due_soon_total, 1);
        assert_eq!(digest.open().get(Severity::Critical), 30);
        assert_eq!(digest.exploitable(), 1);
        assert_eq!(digest.worst(), Some(Severity::Critical));
        assert_eq!(digest.images(), (1, 1));
        assert_eq!(OwnerDigest::new("clean").worst(), None);

        // Two repositories read apart, merged: the same as read together.
        let mut other = OwnerDigest::new("payments");
        let web = image("pay/web", "sha256:2");
        other.add_image(&web, Some(Unwatched::NeverScanned));
        let mut old = Finding::new("CVE-2025-0001", Severity::Critical);
        old.package_name = Some("zlib".into());
        other.add_open(
            &web,
            &old,
            Standing::Overdue {
                due: NOW - 90 * DAY,
                days: 90,
            },
        );
        digest.merge(other);
        assert_eq!(digest.overdue_total, 31);
        assert_eq!(digest.overdue.len(), LISTED_DEADLINES);
        assert_eq!(digest.overdue[0].id, "CVE-2025-0001", "still oldest first");
        assert_eq!(digest.overdue_by_severity.get(Severity::Critical), 31);
        assert_eq!(digest.images(), (2, 1));
        assert_eq!(digest.unwatched_total, 1);
    }
}
