//! Which findings are worth an alert: the policy document (threshold per
//! repository, repository and tag filters, only-fixable, allow-list with
//! expiry), or the bare `SEVERITY_THRESHOLD` when there is no document.
//!
//! A policy is judged per image: [`Policy::for_image`] resolves what applies
//! to that repository on that day once, then [`ImagePolicy::judge`] is cheap
//! per finding.

use crate::domain::commit_link::SourceRules;
use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::glob::Glob;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::risk::{Usage, Why};
use crate::domain::severity::Severity;
use chrono::NaiveDate;

mod document;

pub use document::PolicyError;

pub const POLICY_VERSION: u32 = 1;

/// What the policy says of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Listed in the alert and triggers it.
    Alert,
    /// Ranked below the threshold: counted only.
    BelowThreshold,
    /// UNDEFINED / UNTRIAGED: counted and shown, never triggers an alert.
    Unranked,
    /// Suppressed by an allow-list entry.
    AllowListed,
    /// Enhanced finding with no fix available, under `only_fixable`.
    NotFixable,
    /// Alert-worthy, but already alerted for this image (dedup).
    AlreadyAlerted,
    /// The image is not running and the risk rules say not to alert
    /// (`only_in_use`, or `not_in_use` lowering it below the threshold).
    NotInUse,
}

/// One allow-list entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub id: String,
    pub repository: Option<Glob>,
    /// Only images of this account (12-digit id).
    pub account: Option<String>,
    pub package: Option<String>,
    pub reason: String,
    /// Suppresses through the end of this day (UTC).
    pub expires: Option<NaiveDate>,
    /// Suppresses only while no fix is known (`until_fix`): a finding with
    /// a fixed-in version, or that Inspector says can be fixed, alerts.
    pub until_fix: bool,
}

impl AllowEntry {
    /// `CVE-2023-1234 (openssl, prod-*) expired 2026-01-31`
    pub fn label(&self) -> String {
        match self.expires {
            Some(date) => format!("{}, expired {date}", self.label_scope()),
            None => self.label_scope(),
        }
    }

    /// `CVE-2023-1234 (openssl, prod-*)`: the entry and what it covers.
    pub fn label_scope(&self) -> String {
        let mut scope = Vec::new();
        if let Some(p) = &self.package {
            scope.push(p.clone());
        }
        if let Some(r) = &self.repository {
            scope.push(r.as_str().to_string());
        }
        if let Some(a) = &self.account {
            scope.push(format!("account {a}"));
        }
        if self.until_fix {
            scope.push("until a fix".to_string());
        }
        let scope = if scope.is_empty() {
            String::new()
        } else {
            format!(" ({})", scope.join(", "))
        };
        format!("{}{scope}", self.id)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filter {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
}

impl Filter {
    fn admits(&self, value: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(value)))
            && !self.exclude.iter().any(|g| g.matches(value))
    }

    /// `a/*, b`: the `include` patterns.
    fn included(&self) -> String {
        self.include
            .iter()
            .map(|g| g.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Names the filter that refuses `value`: `name.exclude` and its
    /// matching pattern, or `name.include` and its patterns.
    fn which_refuses(&self, name: &str, value: &str) -> String {
        if let Some(g) = self.exclude.iter().find(|g| g.matches(value)) {
            return format!("`{name}.exclude` pattern `{}`", g.as_str());
        }
        format!("not matched by `{name}.include`: {}", self.included())
    }
}

/// A `thresholds` entry: the images it covers and their threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ThresholdRule {
    repository: Option<Glob>,
    account: Option<String>,
    threshold: Severity,
}

impl ThresholdRule {
    fn covers(&self, image: &ImageRef) -> bool {
        self.repository
            .as_ref()
            .is_none_or(|g| g.matches(&image.repository))
            && self.account.as_ref().is_none_or(|a| *a == image.account)
    }
}

/// A `risk` entry: how the risk signals move findings of the images it
/// covers (the first covering entry applies).
#[derive(Debug, Clone, PartialEq)]
pub struct RiskRule {
    repository: Option<Glob>,
    account: Option<String>,
    /// A finding with a known exploit routes at least at this severity.
    exploit_raise_to: Option<Severity>,
    /// A finding whose EPSS score is at least `.0` routes at least at `.1`.
    epss: Option<(f64, Severity)>,
    /// An image not running for at least `days` alerts at most at
    /// `lower_to` (`None`: not at all).
    not_in_use: Option<NotInUseRule>,
    /// Images known not to be running for at least this many days (since
    /// their push, or since last seen running) do not alert.
    only_in_use: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NotInUseRule {
    days: i64,
    lower_to: Option<Severity>,
}

impl RiskRule {
    fn covers(&self, image: &ImageRef) -> bool {
        self.repository
            .as_ref()
            .is_none_or(|g| g.matches(&image.repository))
            && self.account.as_ref().is_none_or(|a| *a == image.account)
    }

    /// Whether the rule looks at whether the image runs.
    pub fn uses_usage(&self) -> bool {
        self.only_in_use.is_some() || self.not_in_use.is_some()
    }

    /// Whether the rule looks at EPSS scores.
    pub fn uses_epss(&self) -> bool {
        self.epss.is_some()
    }
}

/// What the image's usage does to its findings under the risk rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Idle {
    /// Running, unknown, or not idle long enough: nothing.
    No,
    /// Not alerted (`only_in_use`, or `lower_to: NONE`).
    Drop,
    /// Alerted at most at this severity.
    LowerTo(Severity),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    threshold: Severity,
    /// Where `threshold` comes from, for the alert to say.
    threshold_origin: &'static str,
    thresholds: Vec<ThresholdRule>,
    repositories: Filter,
    tags: Filter,
    only_fixable: bool,
    allow: Vec<AllowEntry>,
    source: SourceRules,
    risk: Vec<RiskRule>,
    /// Who owns which images, when their repositories have no owner tag.
    owners: Vec<crate::domain::owner::OwnerRule>,
    /// Remediation deadlines (the digest's); `None`: no deadlines.
    sla: Option<crate::domain::deadline::Sla>,
}

/// The policy as it applies to one image on one day.
#[derive(Debug, Clone)]
pub struct ImagePolicy<'a> {
    pub threshold: Severity,
    /// Where the threshold comes from: `thresholds[1] of the policy
    /// document`, `the policy document`, `SEVERITY_THRESHOLD`, `the default`.
    pub threshold_origin: String,
    pub only_fixable: bool,
    active: Vec<(usize, &'a AllowEntry)>,
    expired: Vec<(usize, &'a AllowEntry)>,
    /// The risk entry that covers the image, and its index.
    pub risk: Option<(usize, &'a RiskRule)>,
    today: NaiveDate,
    idle: Idle,
    /// Whether the image's usage may move its findings: not in the CI gate,
    /// which judges an image before it runs.
    usage_applies: bool,
}

/// A verdict, and the expired allow-list entry that would have suppressed
/// the finding (so the alert can say it expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement {
    pub verdict: Verdict,
    pub expired_entry: Option<usize>,
    /// The severity the finding routes at, and why it differs from the
    /// reported one (`None`: it does not).
    pub severity: Severity,
    pub moved: Option<Why>,
    /// An `until_fix` allow-list entry (by index) that no longer suppresses
    /// the finding because a fix is now known.
    pub fix_arrived: Option<usize>,
}

impl Policy {
    /// The policy of the environment variables alone: a threshold.
    pub fn new(threshold: Severity) -> Policy {
        Policy {
            threshold,
            threshold_origin: "SEVERITY_THRESHOLD",
            thresholds: Vec::new(),
            repositories: Filter::default(),
            tags: Filter::default(),
            only_fixable: false,
            allow: Vec::new(),
            source: SourceRules::default(),
            risk: Vec::new(),
            owners: Vec::new(),
            sla: None,
        }
    }

    /// The same policy with one threshold everywhere (the gate's `--threshold`).
    pub fn with_threshold(mut self, threshold: Severity) -> Policy {
        self.threshold = threshold;
        self.thresholds.clear();
        self
    }

    /// Says where the policy-wide threshold comes from (shown in alerts).
    pub fn with_threshold_origin(mut self, origin: &'static str) -> Policy {
        self.threshold_origin = origin;
        self
    }

    /// The document's `source` settings: how an image links to its commit
    /// (empty without a document).
    pub fn commit_links(&self) -> &SourceRules {
        &self.source
    }

    /// The policy-wide threshold (the document's, else the fallback).
    pub fn threshold(&self) -> Severity {
        self.threshold
    }

    /// The document's `sla` section: days per severity to fix a finding.
    pub fn sla(&self) -> Option<&crate::domain::deadline::Sla> {
        self.sla.as_ref()
    }

    /// The document's `owners` entries, in order (empty without a document).
    pub fn owner_rules(&self) -> &[crate::domain::owner::OwnerRule] {
        &self.owners
    }

    /// Labels of the allow-list entries (by index) that matched but expired.
    pub fn expired_labels<'a>(&self, entries: impl IntoIterator<Item = &'a usize>) -> Vec<String> {
        entries
            .into_iter()
            .filter_map(|i| self.allow_entry(*i).map(|e| e.label()))
            .collect()
    }

    /// Every allow-list entry, in order.
    pub fn allow_entries(&self) -> &[AllowEntry] {
        &self.allow
    }

    pub fn allow_entry(&self, index: usize) -> Option<&AllowEntry> {
        self.allow.get(index)
    }

    /// Why the image is out of the policy's scope, if it is.
    pub fn skip_reason(&self, image: &ImageRef) -> Option<String> {
        if !self.repositories.admits(&image.repository) {
            return Some(format!(
                "repository `{}` is excluded by the policy ({})",
                image.repository,
                self.repositories
                    .which_refuses("repositories", &image.repository)
            ));
        }
        let tags_filtered = !self.tags.include.is_empty() || !self.tags.exclude.is_empty();
        if tags_filtered {
            // An image stays in scope while any of its tags is admitted;
            // an untagged image only when no `include` list is set.
            let admitted = if image.tags.is_empty() {
                self.tags.include.is_empty()
            } else {
                image.tags.iter().any(|t| self.tags.admits(t))
            };
            if !admitted {
                if image.tags.is_empty() {
                    return Some(format!(
                        "the image has no tag, and the policy's `tags.include` ({}) admits only tagged images",
                        self.tags.included()
                    ));
                }
                let first = &image.tags[0];
                return Some(format!(
                    "tags [{}] are excluded by the policy ({})",
                    image.tags.join(", "),
                    self.tags.which_refuses("tags", first)
                ));
            }
        }
        None
    }

    pub fn for_image(&self, image: &ImageRef, today: NaiveDate) -> ImagePolicy<'_> {
        let (threshold, threshold_origin) = self
            .thresholds
            .iter()
            .enumerate()
            .find(|(_, rule)| rule.covers(image))
            .map_or(
                (self.threshold, self.threshold_origin.to_string()),
                |(i, rule)| {
                    (
                        rule.threshold,
                        format!("thresholds[{i}] of the policy document"),
                    )
                },
            );
        let mut active = Vec::new();
        let mut expired = Vec::new();
        for (index, entry) in self.allow.iter().enumerate() {
            if entry
                .repository
                .as_ref()
                .is_some_and(|g| !g.matches(&image.repository))
                || entry.account.as_ref().is_some_and(|a| *a != image.account)
            {
                continue;
            }
            match entry.expires {
                Some(date) if date < today => expired.push((index, entry)),
                _ => active.push((index, entry)),
            }
        }
        ImagePolicy {
            threshold,
            threshold_origin,
            only_fixable: self.only_fixable,
            active,
            expired,
            risk: self
                .risk
                .iter()
                .enumerate()
                .find(|(_, rule)| rule.covers(image)),
            today,
            idle: Idle::No,
            usage_applies: true,
        }
    }

    /// Reads a policy document (JSON). Errors name the entry and the field.
    /// A document without `threshold` uses HIGH.
    pub fn from_document(text: &str) -> Result<Policy, PolicyError> {
        Policy::from_document_or(text, Severity::High, "the default")
    }

    /// Reads a policy document; without its own `threshold` the policy-wide
    /// threshold is `fallback` (the function passes `SEVERITY_THRESHOLD`):
    /// one precedence everywhere, document, then environment, then HIGH.
    pub fn from_document_or(
        text: &str,
        fallback: Severity,
        fallback_origin: &'static str,
    ) -> Result<Policy, PolicyError> {
        document::read(text, fallback, fallback_origin)
    }
}

impl ImagePolicy<'_> {
    /// Takes what the scan says of whether the image runs into account
    /// (the risk entry's `only_in_use` and `not_in_use`). Unknown usage
    /// changes nothing: an image is never taken for idle on a guess.
    pub fn apply_usage(&mut self, usage: &Usage) {
        self.idle = Idle::No;
        let Some((_, rule)) = self.risk else {
            return;
        };
        if !self.usage_applies {
            return;
        }
        let now = self
            .today
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp());
        let idle_days = usage.idle_days(now);
        if let (Some(at_least), Some(days)) = (rule.only_in_use, idle_days) {
            if days >= at_least {
                self.idle = Idle::Drop;
                return;
            }
        }
        if let (Some(r), Some(days)) = (rule.not_in_use, idle_days) {
            if days >= r.days {
                self.idle = r.lower_to.map_or(Idle::Drop, Idle::LowerTo);
            }
        }
    }

    /// Whether the image runs never moves a finding: for the CI gate, which
    /// judges an image before it is deployed (an image that has never run
    /// is not one that is safe to run). `apply_usage` then changes nothing.
    pub fn ignore_usage(mut self) -> Self {
        self.usage_applies = false;
        self.idle = Idle::No;
        self
    }

    /// Whether the image's usage may move its findings ([`Self::ignore_usage`]).
    pub fn usage_applies(&self) -> bool {
        self.usage_applies
    }

    /// The severity `finding` routes at under the risk entry, and why.
    fn routed(&self, finding: &Finding) -> (Severity, Option<Why>) {
        let reported = finding.reported_severity();
        let Some((_, rule)) = self.risk else {
            return (reported, None);
        };
        let mut severity = reported;
        let mut why = None;
        if let Some(to) = rule.exploit_raise_to {
            if finding.exploit_available == Some(true) && to > severity {
                (severity, why) = (to, Some(Why::Exploit));
            }
        }
        if let (Some((at_least, to)), Some(epss)) = (rule.epss, finding.epss) {
            if epss >= at_least && to > severity {
                (severity, why) = (to, Some(Why::Epss));
            }
        }
        if let Idle::LowerTo(cap) = self.idle {
            if severity > cap {
                (severity, why) = (cap, Some(Why::NotInUse));
            }
        }
        (severity, why)
    }

    pub fn judge(&self, finding: &Finding) -> Judgement {
        let reported = finding.reported_severity();
        let plain = |verdict| Judgement {
            verdict,
            expired_entry: None,
            severity: reported,
            moved: None,
            fix_arrived: None,
        };
        if !reported.is_ranked() {
            return plain(Verdict::Unranked);
        }
        if self.idle == Idle::Drop {
            return plain(if reported < self.threshold {
                Verdict::BelowThreshold
            } else {
                Verdict::NotInUse
            });
        }
        let (severity, moved) = self.routed(finding);
        if severity < self.threshold {
            // Lowered below the threshold because the image is not in use:
            // say so rather than "below threshold".
            return plain(
                if moved == Some(Why::NotInUse) && reported >= self.threshold {
                    Verdict::NotInUse
                } else {
                    Verdict::BelowThreshold
                },
            );
        }
        let mut fix_arrived = None;
        for (index, entry) in &self.active {
            if allows(entry, finding) {
                if entry.until_fix && has_fix(finding) {
                    fix_arrived.get_or_insert(*index);
                    continue;
                }
                return plain(Verdict::AllowListed);
            }
        }
        if self.only_fixable && finding.fix_available == Some(FixAvailable::No) {
            return plain(Verdict::NotFixable);
        }
        Judgement {
            verdict: Verdict::Alert,
            expired_entry: self
                .expired
                .iter()
                .find(|(_, e)| allows(e, finding))
                .map(|(i, _)| *i),
            severity,
            moved,
            fix_arrived,
        }
    }

    /// Whether the risk entry looks at whether the image runs.
    pub fn uses_usage(&self) -> bool {
        self.risk.is_some_and(|(_, r)| r.uses_usage())
    }

    /// Whether the risk entry looks at EPSS scores.
    pub fn uses_epss(&self) -> bool {
        self.risk.is_some_and(|(_, r)| r.uses_epss())
    }

    /// Whether only-fixable cannot apply to this scan (basic findings carry
    /// no fix information), for the alert to say so.
    pub fn only_fixable_inapplicable(&self, kind: ScanKind) -> bool {
        self.only_fixable && kind == ScanKind::Basic
    }
}

/// Whether a fix is known: a fixed-in version, or Inspector's
/// `fixAvailable` YES or PARTIAL. Basic scanning reports neither.
fn has_fix(finding: &Finding) -> bool {
    finding.fixed_in.is_some()
        || matches!(
            finding.fix_available,
            Some(FixAvailable::Yes | FixAvailable::Partial)
        )
}

fn allows(entry: &AllowEntry, finding: &Finding) -> bool {
    entry.id.eq_ignore_ascii_case(&finding.id)
        && entry
            .package
            .as_ref()
            .is_none_or(|p| finding.package_name.as_deref() == Some(p.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commit_link::UrlTemplate;

    const EXAMPLE: &str = include_str!("../../../examples/policy.json");

    fn image(repository: &str, tags: &[&str]) -> ImageRef {
        ImageRef::sample(repository, tags)
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn finding(id: &str, sev: Severity) -> Finding {
        let mut f = Finding::new(id, sev);
        f.package_name = Some("openssl".into());
        f
    }

    #[test]
    fn the_bare_threshold_alerts_at_or_above_it() {
        let policy = Policy::new(Severity::High);
        let judge = policy.for_image(&image("r", &[]), day("2026-11-27"));
        let verdict = |sev| judge.judge(&finding("CVE-1", sev)).verdict;
        assert_eq!(verdict(Severity::Critical), Verdict::Alert);
        assert_eq!(verdict(Severity::High), Verdict::Alert);
        assert_eq!(verdict(Severity::Medium), Verdict::BelowThreshold);
        assert_eq!(verdict(Severity::Untriaged), Verdict::Unranked);
    }

    #[test]
    fn unranked_findings_never_alert_even_at_the_lowest_threshold() {
        let policy = Policy::new(Severity::Informational);
        let judge = policy.for_image(&image("r", &[]), day("2026-11-27"));
        for sev in [Severity::Undefined, Severity::Untriaged] {
            assert_eq!(
                judge.judge(&finding("CVE-1", sev)).verdict,
                Verdict::Unranked
            );
        }
    }

    #[test]
    fn the_example_document_reads_and_applies_per_repository_thresholds() {
        let policy = Policy::from_document(EXAMPLE).unwrap();
        let today = day("2026-11-27");
        assert_eq!(
            policy
                .for_image(&image("prod-api", &["v1"]), today)
                .threshold,
            Severity::High
        );
        assert_eq!(
            policy
                .for_image(&image("sandbox-x", &["v1"]), today)
                .threshold,
            Severity::Critical
        );
        assert_eq!(
            policy.for_image(&image("other", &["v1"]), today).threshold,
            Severity::High
        );
        // Its risk rules: batch images known idle for 14 days do not alert,
        // a batch image pushed and not yet run does; elsewhere a known
        // exploit routes as CRITICAL.
        let critical = finding("CVE-1", Severity::Critical);
        let batch = |idle_days: i64| {
            let mut batch = policy.for_image(&image("batch/nightly", &["v1"]), today);
            let at = today.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
            batch.apply_usage(&Usage {
                in_use_count: Some(0),
                last_in_use_at: None,
                pushed_at: Some(at - idle_days * 86_400),
            });
            batch.judge(&critical).verdict
        };
        assert_eq!(batch(20), Verdict::NotInUse);
        assert_eq!(batch(1), Verdict::Alert, "just pushed: alerted");
        let mut exploited = finding("CVE-2", Severity::Medium);
        exploited.exploit_available = Some(true);
        let api = policy.for_image(&image("prod-api", &["v1"]), today);
        assert_eq!(api.judge(&exploited).severity, Severity::Critical);
    }

    #[test]
    fn repository_and_tag_filters_decide_the_scope() {
        let policy = Policy::from_document(
            r#"{"version": 1,
                "repositories": {"include": ["team/*"], "exclude": ["team/scratch-*"]},
                "tags": {"exclude": ["pr-*"]}}"#,
        )
        .unwrap();
        assert!(policy.skip_reason(&image("team/api", &["v1"])).is_none());
        assert!(policy.skip_reason(&image("other/api", &["v1"])).is_some());
        assert!(policy
            .skip_reason(&image("team/scratch-1", &["v1"]))
            .is_some());
        assert!(policy.skip_reason(&image("team/api", &["pr-12"])).is_some());
        assert!(policy
            .skip_reason(&image("team/api", &["pr-12", "v1.0"]))
            .is_none());
        assert!(policy.skip_reason(&image("team/api", &[])).is_none());
        let include =
            Policy::from_document(r#"{"version": 1, "tags": {"include": ["v*"]}}"#).unwrap();
        assert!(
            include.skip_reason(&image("a", &[])).is_some(),
            "untagged is outside an include list"
        );
        assert!(include.skip_reason(&image("a", &["v2"])).is_none());
    }

    #[test]
    fn allow_list_entries_suppress_through_the_end_of_their_expiry_day() {
        let policy = Policy::from_document(
            r#"{"version": 1, "allow": [
                {"id": "CVE-2026-0001", "reason": "not reachable", "expires": "2026-11-27"},
                {"id": "CVE-2026-0002", "package": "zlib", "reason": "vendored copy unused"},
                {"id": "CVE-2026-0003", "repository": "prod-*", "reason": "prod only"}
            ]}"#,
        )
        .unwrap();
        let img = image("prod-api", &["v1"]);
        let on = policy.for_image(&img, day("2026-11-27"));
        let after = policy.for_image(&img, day("2026-11-28"));
        let f1 = finding("cve-2026-0001", Severity::Critical);
        assert_eq!(
            on.judge(&f1).verdict,
            Verdict::AllowListed,
            "the expiry day itself"
        );
        let j = after.judge(&f1);
        assert_eq!(j.verdict, Verdict::Alert, "the day after");
        assert_eq!(j.expired_entry, Some(0));
        assert_eq!(
            policy.allow_entry(0).unwrap().label(),
            "CVE-2026-0001, expired 2026-11-27"
        );
        let openssl = finding("CVE-2026-0002", Severity::High);
        assert_eq!(on.judge(&openssl).verdict, Verdict::Alert, "other package");
        let mut zlib = finding("CVE-2026-0002", Severity::High);
        zlib.package_name = Some("zlib".into());
        assert_eq!(on.judge(&zlib).verdict, Verdict::AllowListed);
        let f3 = finding("CVE-2026-0003", Severity::High);
        assert_eq!(on.judge(&f3).verdict, Verdict::AllowListed);
        let dev = policy.for_image(&image("dev-api", &[]), day("2026-11-27"));
        assert_eq!(
            dev.judge(&f3).verdict,
            Verdict::Alert,
            "outside the entry's repositories"
        );
    }

    #[test]
    fn only_fixable_drops_enhanced_findings_without_a_fix_and_keeps_basic_ones() {
        let policy = Policy::from_document(r#"{"version": 1, "only_fixable": true}"#).unwrap();
        let judge = policy.for_image(&image("a", &[]), day("2026-11-27"));
        let mut no_fix = finding("CVE-1", Severity::Critical);
        no_fix.fix_available = Some(FixAvailable::No);
        assert_eq!(judge.judge(&no_fix).verdict, Verdict::NotFixable);
        let mut partial = finding("CVE-2", Severity::Critical);
        partial.fix_available = Some(FixAvailable::Partial);
        assert_eq!(judge.judge(&partial).verdict, Verdict::Alert);
        let basic = finding("CVE-3", Severity::Critical);
        assert_eq!(
            judge.judge(&basic).verdict,
            Verdict::Alert,
            "basic: no fix information"
        );
        assert!(judge.only_fixable_inapplicable(ScanKind::Basic));
        assert!(!judge.only_fixable_inapplicable(ScanKind::Enhanced));
    }

    #[test]
    fn the_source_key_sets_templates_per_repository_and_a_tag_pattern() {
        let policy = Policy::from_document(EXAMPLE).unwrap();
        let env = UrlTemplate::parse("https://env.example/{repository}/commit/{tag}").unwrap();
        let link = |repo: &str, tags: &[&str]| {
            policy
                .commit_links()
                .link(Some(&env), &image(repo, tags))
                .map(|l| l.url)
        };
        assert_eq!(
            link("payments/api", &["3f2c1ab"]).as_deref(),
            Some("https://git.example.com/payments/monorepo/commit/3f2c1ab")
        );
        assert_eq!(
            link("web", &["v1.2.3", "3f2c1ab"]).as_deref(),
            Some("https://git.example.com/web/commit/3f2c1ab"),
            "the document's template replaces the environment's"
        );
        assert_eq!(
            link("web", &["release-2026.11.27"]).as_deref(),
            Some("https://git.example.com/web/commit/release-2026.11.27")
        );
        assert_eq!(link("web", &["v1.2.3"]), None);
        let without = Policy::from_document(r#"{"version": 1}"#).unwrap();
        assert_eq!(
            without
                .commit_links()
                .link(Some(&env), &image("web", &["3f2c1ab"]))
                .map(|l| l.url)
                .as_deref(),
            Some("https://env.example/web/commit/3f2c1ab"),
            "no source key: the environment's template"
        );
    }

    #[test]
    fn thresholds_and_allow_entries_can_be_scoped_by_account() {
        let policy = Policy::from_document(
            r#"{"version": 1, "threshold": "HIGH",
                "thresholds": [
                    {"account": "111111111111", "repository": "legacy/*", "threshold": "CRITICAL"},
                    {"account": "222222222222", "threshold": "MEDIUM"}
                ],
                "allow": [{"id": "CVE-1", "account": "111111111111", "reason": "payments accepted it"}]}"#,
        )
        .unwrap();
        let today = day("2026-11-27");
        let in_account = |account: &str, repository: &str| ImageRef {
            account: account.into(),
            ..image(repository, &["v1"])
        };
        let threshold = |account, repository| {
            policy
                .for_image(&in_account(account, repository), today)
                .threshold
        };
        assert_eq!(threshold("111111111111", "legacy/app"), Severity::Critical);
        assert_eq!(threshold("111111111111", "api"), Severity::High);
        assert_eq!(threshold("222222222222", "legacy/app"), Severity::Medium);
        assert_eq!(threshold("123456789012", "legacy/app"), Severity::High);
        let verdict = |account| {
            policy
                .for_image(&in_account(account, "api"), today)
                .judge(&finding("CVE-1", Severity::Critical))
                .verdict
        };
        assert_eq!(verdict("111111111111"), Verdict::AllowListed);
        assert_eq!(verdict("222222222222"), Verdict::Alert);
        assert_eq!(
            policy.allow_entry(0).unwrap().label(),
            "CVE-1 (account 111111111111)"
        );
    }

    const DAY: i64 = 86_400;

    fn risk_policy() -> Policy {
        Policy::from_document(
            r#"{"version": 1, "threshold": "HIGH", "risk": [
                {"repository": "sandbox/*", "only_in_use": {"days": 14}},
                {"exploit_available": {"raise_to": "CRITICAL"},
                 "epss": {"at_least": 0.5, "raise_to": "HIGH"},
                 "not_in_use": {"days": 30, "lower_to": "LOW"}}
            ]}"#,
        )
        .unwrap()
    }

    /// An image whose usage says it was last running `idle` days before
    /// 2026-12-04 (`None`: running now).
    fn usage(idle: Option<i64>) -> Usage {
        let today = day("2026-12-04")
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
        match idle {
            None => Usage {
                in_use_count: Some(4),
                ..Usage::default()
            },
            Some(days) => Usage {
                in_use_count: Some(0),
                last_in_use_at: Some(today - days * DAY),
                pushed_at: Some(today - 400 * DAY),
            },
        }
    }

    #[test]
    fn a_known_exploit_or_a_high_epss_raises_what_routes() {
        let policy = risk_policy();
        let judge = policy.for_image(&image("api", &["v1"]), day("2026-12-04"));
        let mut exploited = finding("CVE-1", Severity::Medium);
        exploited.exploit_available = Some(true);
        let j = judge.judge(&exploited);
        assert_eq!(
            (j.verdict, j.severity, j.moved),
            (Verdict::Alert, Severity::Critical, Some(Why::Exploit))
        );
        let mut likely = finding("CVE-2", Severity::Low);
        likely.epss = Some(0.5);
        let j = judge.judge(&likely);
        assert_eq!((j.verdict, j.severity), (Verdict::Alert, Severity::High));
        likely.epss = Some(0.49);
        assert_eq!(judge.judge(&likely).verdict, Verdict::BelowThreshold);
        let unknown = finding("CVE-3", Severity::Medium);
        assert_eq!(
            judge.judge(&unknown).verdict,
            Verdict::BelowThreshold,
            "no signal: as reported"
        );
        let mut no_exploit = finding("CVE-4", Severity::Critical);
        no_exploit.exploit_available = Some(false);
        let j = judge.judge(&no_exploit);
        assert_eq!((j.severity, j.moved), (Severity::Critical, None));
        let mut untriaged = finding("CVE-5", Severity::Untriaged);
        untriaged.exploit_available = Some(true);
        assert_eq!(judge.judge(&untriaged).verdict, Verdict::Unranked);
    }

    #[test]
    fn an_image_idle_for_the_days_alerts_lower_or_not_at_all() {
        let policy = risk_policy();
        let at = |idle: Option<i64>| {
            let mut judge = policy.for_image(&image("api", &["v1"]), day("2026-12-04"));
            judge.apply_usage(&usage(idle));
            judge
        };
        let mut exploited = finding("CVE-1", Severity::High);
        exploited.exploit_available = Some(true);
        let j = at(Some(45)).judge(&exploited);
        assert_eq!(
            (j.verdict, j.severity),
            (Verdict::NotInUse, Severity::High),
            "lowered to LOW, below the threshold: not in use"
        );
        let j = at(Some(29)).judge(&exploited);
        assert_eq!(
            (j.verdict, j.severity),
            (Verdict::Alert, Severity::Critical)
        );
        let j = at(None).judge(&exploited);
        assert_eq!(j.verdict, Verdict::Alert, "running");
        let mut unknown = policy.for_image(&image("api", &["v1"]), day("2026-12-04"));
        unknown.apply_usage(&Usage::default());
        assert_eq!(
            unknown.judge(&exploited).verdict,
            Verdict::Alert,
            "unknown usage never lowers"
        );
        let low = Policy::from_document(
            r#"{"version": 1, "threshold": "LOW",
                "risk": [{"not_in_use": {"days": 0, "lower_to": "LOW"}}]}"#,
        )
        .unwrap();
        let mut judge = low.for_image(&image("api", &[]), day("2026-12-04"));
        judge.apply_usage(&usage(Some(0)));
        let j = judge.judge(&finding("CVE-9", Severity::Critical));
        assert_eq!(
            (j.verdict, j.severity, j.moved),
            (Verdict::Alert, Severity::Low, Some(Why::NotInUse))
        );
        let none = Policy::from_document(
            r#"{"version": 1, "risk": [{"not_in_use": {"days": 7, "lower_to": "NONE"}}]}"#,
        )
        .unwrap();
        let mut judge = none.for_image(&image("api", &[]), day("2026-12-04"));
        judge.apply_usage(&usage(Some(8)));
        assert_eq!(
            judge.judge(&finding("CVE-9", Severity::Critical)).verdict,
            Verdict::NotInUse
        );
    }

    #[test]
    fn only_in_use_drops_images_known_not_to_run_and_keeps_the_unknown() {
        let policy = risk_policy();
        let sandbox = |u: Usage| {
            let mut judge = policy.for_image(&image("sandbox/x", &[]), day("2026-12-04"));
            judge.apply_usage(&u);
            judge.judge(&finding("CVE-1", Severity::Critical)).verdict
        };
        assert_eq!(sandbox(usage(Some(14))), Verdict::NotInUse);
        assert_eq!(sandbox(usage(Some(60))), Verdict::NotInUse);
        assert_eq!(
            sandbox(usage(Some(13))),
            Verdict::Alert,
            "idle, but not for the days the rule asks"
        );
        assert_eq!(
            sandbox(usage(Some(0))),
            Verdict::Alert,
            "just pushed, never run yet: alerted"
        );
        assert_eq!(sandbox(usage(None)), Verdict::Alert);
        assert_eq!(sandbox(Usage::default()), Verdict::Alert);
        let mut exploited = finding("CVE-2", Severity::Medium);
        exploited.exploit_available = Some(true);
        let judge = policy.for_image(&image("sandbox/x", &[]), day("2026-12-04"));
        assert_eq!(
            judge.judge(&exploited).verdict,
            Verdict::BelowThreshold,
            "the first covering entry applies, alone"
        );
    }

    #[test]
    fn an_entry_snoozed_until_a_fix_alerts_when_one_is_known() {
        let policy = Policy::from_document(
            r#"{"version": 1, "allow": [
                {"id": "CVE-2026-7", "reason": "no fix upstream yet", "until_fix": true}]}"#,
        )
        .unwrap();
        let judge = policy.for_image(&image("api", &[]), day("2026-12-04"));
        let mut f = finding("CVE-2026-7", Severity::Critical);
        f.fix_available = Some(FixAvailable::No);
        assert_eq!(judge.judge(&f).verdict, Verdict::AllowListed);
        f.fix_available = Some(FixAvailable::Yes);
        f.fixed_in = Some("3.0.16".into());
        let j = judge.judge(&f);
        assert_eq!((j.verdict, j.fix_arrived), (Verdict::Alert, Some(0)));
        assert_eq!(
            policy.allow_entry(0).unwrap().label(),
            "CVE-2026-7 (until a fix)"
        );
    }
}
