//! An image's findings as the policy judged them, folded page by page
//! ([`JudgedFindings`]): counts (all, alert-worthy, kept out and why), the
//! most severe alert-worthy findings (bounded), per-package aggregates for
//! the fix plan, the risk signals and usage the findings carry, the
//! allow-list entries that expired or met a fix, and the pages read.
//! Nothing here grows with the number of findings beyond `cap` listed ones
//! and one entry per package.

use crate::domain::dedup::{fingerprint, Known};
use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::policy::{ImagePolicy, Verdict};
use crate::domain::risk::{self, Usage};
use crate::domain::severity::{Severity, SeverityCounts};
use crate::domain::version;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

/// How many alert-worthy findings an alert keeps for listing, most severe
/// first. Nobody reads further down an email, the chat message shows ten,
/// and the fix plan covers every finding whatever the list holds; a larger
/// list would only make memory grow with the size of the scan (it filled
/// at about 17,000 findings with 2,000, the cap before: docs/performance.md).
pub const DEFAULT_LISTED_CAP: usize = 250;
/// The CI gate lists every finding it fails on (SARIF, JUnit) up to this.
pub const GATE_LISTED_CAP: usize = 10_000;

/// Distinct fixed-in versions kept per package: the highest ones, and any
/// that are not versions at all (so the fix plan can say it cannot order them).
pub const MAX_FIXED_VERSIONS: usize = 8;
/// Ids of findings with no known fix kept per package, most severe first.
pub const MAX_NO_FIX_IDS: usize = 3;

/// Some findings of one package: how many of each severity, the worst score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bucket {
    pub counts: SeverityCounts,
    /// Findings with a known exploit.
    pub exploitable: u32,
    pub worst_score: Option<f64>,
    /// The highest EPSS score among them (two decimals are shown; single
    /// precision keeps a package's aggregates small).
    max_epss: Option<f32>,
}

impl Bucket {
    fn add(&mut self, finding: &Finding) {
        self.counts.add(finding.severity, 1);
        self.worst_score = max_score(self.worst_score, finding.score);
        if finding.exploit_available == Some(true) {
            self.exploitable = self.exploitable.saturating_add(1);
        }
        if let Some(epss) = finding.epss {
            let epss = epss as f32;
            self.max_epss = Some(self.max_epss.map_or(epss, |m| m.max(epss)));
        }
    }

    /// The highest EPSS score among the bucket's findings.
    pub fn max_epss(&self) -> Option<f64> {
        self.max_epss.map(f64::from)
    }

    pub fn total(&self) -> u64 {
        self.counts.total()
    }
}

/// Alert-worthy findings of one package (name and installed version). One
/// per package of the image: the only part of a tally that grows with the
/// scan (with its packages), so kept small; its counts are its buckets'.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageTally {
    /// Distinct fixed-in versions reported for its findings (at most
    /// [`MAX_FIXED_VERSIONS`]: the highest, and those that are not versions).
    pub fixed_in: Vec<String>,
    /// Findings that name a fixed-in version.
    pub fixed: Bucket,
    /// Findings the scanner says have no fix (enhanced `fixAvailable: NO`).
    pub no_fix: Bucket,
    /// Findings with no fixed-in version and no word on a fix (all basic
    /// findings; enhanced ones that name no version).
    pub fix_unknown: Bucket,
    /// Ids of the most severe findings with no fix (at most [`MAX_NO_FIX_IDS`]).
    pub no_fix_ids: Vec<(Severity, String)>,
}

impl PackageTally {
    /// Every alert-worthy finding of the package.
    pub fn total(&self) -> u64 {
        self.fixed.total() + self.no_fix.total() + self.fix_unknown.total()
    }

    fn add(&mut self, finding: &Finding) {
        match &finding.fixed_in {
            Some(v) => {
                self.fixed.add(finding);
                self.add_fixed_version(v);
            }
            None => {
                if finding.fix_available == Some(FixAvailable::No) {
                    self.no_fix.add(finding);
                    self.add_no_fix_id(finding);
                } else {
                    self.fix_unknown.add(finding);
                }
            }
        }
    }

    fn add_fixed_version(&mut self, version: &str) {
        // Sorted, as a set would be; a short Vec costs a fraction of a
        // BTreeSet's node per package.
        match self.fixed_in.binary_search_by(|v| v.as_str().cmp(version)) {
            Ok(_) => return,
            Err(at) => {
                // Most packages have one fixed-in version: room for one, not
                // the four a first insert reserves (one per package adds up).
                self.fixed_in.reserve_exact(1);
                self.fixed_in.insert(at, version.to_string())
            }
        }
        if self.fixed_in.len() > MAX_FIXED_VERSIONS {
            // Drop the lowest version; what is not a version is kept, so
            // the plan still knows it cannot order them.
            let lowest = self
                .fixed_in
                .iter()
                .filter(|v| version::is_comparable(v))
                .min_by(|a, b| version::compare(a, b))
                .or_else(|| self.fixed_in.first())
                .cloned();
            if let Some(lowest) = lowest {
                self.fixed_in.retain(|v| *v != lowest);
            }
        }
    }

    fn add_no_fix_id(&mut self, finding: &Finding) {
        let entry = (finding.severity, finding.id.clone());
        if self.no_fix_ids.contains(&entry) {
            return;
        }
        self.no_fix_ids.reserve_exact(1);
        self.no_fix_ids.push(entry);
        // Most severe first, then by id, for a stable order.
        self.no_fix_ids
            .sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        self.no_fix_ids.truncate(MAX_NO_FIX_IDS);
    }
}

/// What the policy kept out of the alert, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Suppressed {
    pub below_threshold: u64,
    pub unranked: u64,
    pub allow_listed: u64,
    pub not_fixable: u64,
    pub already_alerted: u64,
    pub not_in_use: u64,
}

impl Suppressed {
    /// `3 allow-listed, 12 below threshold, 40 not fixable` (zeros left out).
    pub fn phrase(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.allow_listed, "allow-listed"),
            (self.already_alerted, "already alerted"),
            (self.not_fixable, "not fixable"),
            (
                self.not_in_use,
                "in an image not seen running on ECS or EKS",
            ),
            (self.below_threshold, "below threshold"),
            (self.unranked, "unranked (UNDEFINED/UNTRIAGED)"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

/// An image's findings as the policy judged them: what an alert, a gate
/// report and a fix plan are made of (the module says what it holds).
#[derive(Debug)]
pub struct JudgedFindings {
    /// Every finding, whatever the policy said.
    pub counts: SeverityCounts,
    /// Findings the policy judged alert-worthy.
    pub alert_counts: SeverityCounts,
    /// Per package `(name, version)`, alert-worthy findings only.
    pub packages: BTreeMap<(String, String), PackageTally>,
    /// Pages folded in.
    pub pages: u32,
    /// Findings the policy kept out, by reason.
    pub suppressed: Suppressed,
    /// Allow-list entries (by index) that would have suppressed an
    /// alert-worthy finding had they not expired.
    pub expired_entries: BTreeSet<usize>,
    /// Fingerprints of every alert-worthy finding, new or already alerted.
    pub fingerprints: Vec<u64>,
    /// `until_fix` allow-list entries (by index) that a finding with a
    /// fix now known went past.
    pub fix_arrived_entries: BTreeSet<usize>,
    /// Whether the image runs, as the findings say.
    pub usage: Usage,
    /// Alert-worthy findings with a known exploit, and those nobody says.
    pub exploitable: u64,
    pub exploit_unknown: u64,
    /// Alert-worthy findings whose severity the risk rules raised.
    pub raised: u64,
    /// Findings alerted before and still open (dedup): counts, and the
    /// most severe few by id.
    pub still_open: SeverityCounts,
    pub still_open_ids: Vec<(Severity, String)>,
    top: BinaryHeap<Reverse<Ranked>>,
    cap: usize,
}

impl Default for JudgedFindings {
    fn default() -> Self {
        JudgedFindings::with_cap(DEFAULT_LISTED_CAP)
    }
}

impl JudgedFindings {
    /// Judges findings under `policy` into the tally; findings already
    /// alerted (`known`) are counted, not listed.
    pub fn judge_all(
        &mut self,
        findings: impl IntoIterator<Item = Finding>,
        policy: &ImagePolicy<'_>,
        known: &Known,
    ) {
        for mut finding in findings {
            let judgement = policy.judge(&finding);
            if let Some(why) = judgement.moved {
                finding.move_severity(judgement.severity, why);
            }
            let verdict = match judgement.verdict {
                Verdict::Alert if !known.is_empty() && known.covers(fingerprint(&finding)) => {
                    Verdict::AlreadyAlerted
                }
                v => v,
            };
            if verdict == Verdict::Alert {
                if let Some(entry) = judgement.expired_entry {
                    self.expired_entries.insert(entry);
                }
                if let Some(entry) = judgement.fix_arrived {
                    self.fix_arrived_entries.insert(entry);
                }
            }
            self.add(finding, verdict);
        }
    }

    pub fn with_cap(cap: usize) -> JudgedFindings {
        JudgedFindings {
            counts: SeverityCounts::default(),
            alert_counts: SeverityCounts::default(),
            packages: BTreeMap::new(),
            pages: 0,
            suppressed: Suppressed::default(),
            expired_entries: BTreeSet::new(),
            fingerprints: Vec::new(),
            fix_arrived_entries: BTreeSet::new(),
            usage: Usage::default(),
            exploitable: 0,
            exploit_unknown: 0,
            raised: 0,
            still_open: SeverityCounts::default(),
            still_open_ids: Vec::new(),
            top: BinaryHeap::with_capacity(cap.min(4096) + 1),
            cap,
        }
    }

    pub fn add(&mut self, finding: Finding, verdict: Verdict) {
        self.counts.add(finding.reported_severity(), 1);
        let s = &mut self.suppressed;
        match verdict {
            Verdict::Alert => {}
            Verdict::BelowThreshold => s.below_threshold += 1,
            Verdict::Unranked => s.unranked += 1,
            Verdict::AllowListed => s.allow_listed += 1,
            Verdict::NotFixable => s.not_fixable += 1,
            Verdict::AlreadyAlerted => s.already_alerted += 1,
            Verdict::NotInUse => s.not_in_use += 1,
        }
        if matches!(verdict, Verdict::Alert | Verdict::AlreadyAlerted) {
            self.fingerprints.push(fingerprint(&finding));
        }
        if verdict == Verdict::AlreadyAlerted {
            self.still_open.add(finding.severity, 1);
            add_top_id(&mut self.still_open_ids, &finding);
        }
        if verdict != Verdict::Alert {
            return;
        }
        self.alert_counts.add(finding.severity, 1);
        match finding.exploit_available {
            Some(true) => self.exploitable += 1,
            Some(false) => {}
            None => self.exploit_unknown += 1,
        }
        if finding.severity > finding.reported_severity() {
            self.raised += 1;
        }
        if let Some(name) = &finding.package_name {
            let key = (
                name.clone(),
                finding.package_version.clone().unwrap_or_default(),
            );
            self.packages.entry(key).or_default().add(&finding);
        }
        if self.cap == 0 {
            return;
        }
        let ranked = Reverse(Ranked(finding));
        if self.top.len() < self.cap {
            self.top.push(ranked);
        } else if let Some(least) = self.top.peek() {
            // `least` is the least severe kept; replace it only by a worse finding.
            if ranked < *least {
                self.top.pop();
                self.top.push(ranked);
            }
        }
    }

    /// Basic findings the source only counted, below the threshold: as
    /// `add` would count them (`BelowThreshold`, or `Unranked`).
    pub fn add_counted(&mut self, counted: &SeverityCounts) {
        for (severity, n) in counted.non_zero() {
            self.counts.add(severity, n);
            if severity.is_ranked() {
                self.suppressed.below_threshold += n;
            } else {
                self.suppressed.unranked += n;
            }
        }
    }

    pub fn alert_worthy(&self) -> u64 {
        self.alert_counts.total()
    }

    /// The `exploitable` routing attribute: `true` when any alert-worthy
    /// finding has a known exploit, `false` when every one is known to have
    /// none, `unknown` otherwise.
    pub fn exploitable_attribute(&self) -> &'static str {
        if self.exploitable > 0 {
            risk::TRUE
        } else if self.exploit_unknown > 0 || self.alert_worthy() == 0 {
            risk::UNKNOWN
        } else {
            risk::FALSE
        }
    }

    /// The highest severity among alert-worthy findings.
    pub fn highest_alert_severity(&self) -> Option<Severity> {
        self.alert_counts.highest_ranked()
    }

    /// The kept alert-worthy findings, most severe first, then by score.
    pub fn listed(&self) -> Vec<&Finding> {
        let mut kept: Vec<&Ranked> = self.top.iter().map(|r| &r.0).collect();
        kept.sort_by(|a, b| b.cmp(a));
        kept.into_iter().map(|r| &r.0).collect()
    }
}

/// Keeps the [`MAX_NO_FIX_IDS`] most severe ids, most severe first.
fn add_top_id(ids: &mut Vec<(Severity, String)>, finding: &Finding) {
    let worse = |(s, id): &(Severity, String)| {
        (*s, std::cmp::Reverse(id.as_str()))
            > (finding.severity, std::cmp::Reverse(finding.id.as_str()))
    };
    if ids.len() >= MAX_NO_FIX_IDS && ids.iter().all(worse) {
        return;
    }
    if ids.iter().any(|(_, id)| *id == finding.id) {
        return;
    }
    ids.push((finding.severity, finding.id.clone()));
    ids.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    ids.truncate(MAX_NO_FIX_IDS);
}

fn max_score(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// A finding ordered by how much it matters: the severity it routes at,
/// then a known exploit, then EPSS, then score, then (for a stable order)
/// the smaller id first.
#[derive(Debug)]
struct Ranked(Finding);

type RankKey<'a> = (
    Severity,
    bool,
    Option<ScoreKey>,
    Option<ScoreKey>,
    Reverse<&'a str>,
);

impl Ranked {
    fn key(&self) -> RankKey<'_> {
        (
            self.0.severity,
            self.0.exploit_available == Some(true),
            self.0.epss.map(ScoreKey),
            self.0.score.map(ScoreKey),
            Reverse(self.0.id.as_str()),
        )
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[derive(Debug, Clone, Copy)]
struct ScoreKey(f64);
impl PartialEq for ScoreKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0) == Ordering::Equal
    }
}
impl Eq for ScoreKey {}
impl PartialOrd for ScoreKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ScoreKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, sev: Severity, score: Option<f64>) -> Finding {
        let mut f = Finding::new(id, sev);
        f.score = score;
        f.package_name = Some("openssl".into());
        f.package_version = Some("3.0.2".into());
        f
    }

    #[test]
    fn lists_alert_worthy_findings_by_severity_then_score() {
        let mut tally = JudgedFindings::default();
        tally.add(finding("CVE-A", Severity::High, Some(7.5)), Verdict::Alert);
        tally.add(
            finding("CVE-B", Severity::Critical, Some(9.1)),
            Verdict::Alert,
        );
        tally.add(finding("CVE-C", Severity::High, Some(8.8)), Verdict::Alert);
        tally.add(
            finding("CVE-D", Severity::Low, None),
            Verdict::BelowThreshold,
        );
        tally.add(finding("CVE-E", Severity::High, None), Verdict::Alert);
        let ids: Vec<_> = tally.listed().iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["CVE-B", "CVE-C", "CVE-A", "CVE-E"]);
        assert_eq!(tally.counts.total(), 5);
        assert_eq!(tally.alert_worthy(), 4);
        assert_eq!(tally.highest_alert_severity(), Some(Severity::Critical));
    }

    #[test]
    fn counts_what_the_policy_kept_out() {
        let mut tally = JudgedFindings::default();
        tally.add(finding("A", Severity::Low, None), Verdict::BelowThreshold);
        tally.add(finding("B", Severity::High, None), Verdict::AllowListed);
        tally.add(finding("C", Severity::High, None), Verdict::AllowListed);
        tally.add(finding("D", Severity::High, None), Verdict::NotFixable);
        tally.add(finding("E", Severity::High, None), Verdict::AlreadyAlerted);
        tally.add(finding("F", Severity::High, None), Verdict::Alert);
        assert_eq!(
            tally.suppressed.phrase().as_deref(),
            Some("2 allow-listed, 1 already alerted, 1 not fixable, 1 below threshold")
        );
        assert_eq!(tally.alert_worthy(), 1);
        assert_eq!(
            tally.fingerprints.len(),
            2,
            "new and already-alerted are remembered"
        );
        assert_eq!(JudgedFindings::default().suppressed.phrase(), None);
    }

    #[test]
    fn keeps_only_the_most_severe_when_over_the_cap() {
        let mut tally = JudgedFindings::with_cap(3);
        for i in 0..100 {
            tally.add(
                finding(&format!("CVE-L{i:03}"), Severity::High, Some(1.0)),
                Verdict::Alert,
            );
        }
        tally.add(
            finding("CVE-CRIT", Severity::Critical, None),
            Verdict::Alert,
        );
        let ids: Vec<_> = tally.listed().iter().map(|f| f.id.clone()).collect();
        assert_eq!(ids, ["CVE-CRIT", "CVE-L000", "CVE-L001"]);
        assert_eq!(tally.alert_worthy(), 101);
    }

    #[test]
    fn aggregates_alert_worthy_findings_per_package() {
        let mut tally = JudgedFindings::default();
        let mut a = finding("CVE-1", Severity::Critical, Some(9.8));
        a.fixed_in = Some("3.0.15".into());
        let mut b = finding("CVE-2", Severity::High, Some(7.0));
        b.fixed_in = Some("3.0.8".into());
        let c = finding("CVE-3", Severity::High, None);
        tally.add(a, Verdict::Alert);
        tally.add(b, Verdict::Alert);
        tally.add(c, Verdict::Alert);
        tally.add(
            finding("CVE-4", Severity::Low, None),
            Verdict::BelowThreshold,
        );
        let pkg = &tally.packages[&("openssl".to_string(), "3.0.2".to_string())];
        assert_eq!(pkg.total(), 3);
        assert_eq!(pkg.fixed.counts.get(Severity::Critical), 1);
        assert_eq!(pkg.fixed.counts.get(Severity::High), 1);
        assert_eq!(pkg.fix_unknown.counts.get(Severity::High), 1);
        assert_eq!(pkg.fixed.worst_score, Some(9.8));
        assert_eq!(pkg.fixed_in.len(), 2);
    }

    #[test]
    fn sorts_package_findings_into_fixed_no_fix_and_unknown() {
        let mut tally = JudgedFindings::default();
        let mut fixed = finding("CVE-1", Severity::Critical, Some(9.8));
        fixed.fixed_in = Some("3.0.15".into());
        let mut none = finding("CVE-2", Severity::High, Some(7.0));
        none.fix_available = Some(FixAvailable::No);
        let unknown = finding("CVE-3", Severity::High, Some(7.5));
        for f in [fixed, none, unknown] {
            tally.add(f, Verdict::Alert);
        }
        let pkg = &tally.packages[&("openssl".to_string(), "3.0.2".to_string())];
        assert_eq!(pkg.fixed.counts.get(Severity::Critical), 1);
        assert_eq!(pkg.fixed.worst_score, Some(9.8));
        assert_eq!(pkg.no_fix.total(), 1);
        assert_eq!(pkg.no_fix.worst_score, Some(7.0));
        assert_eq!(pkg.no_fix_ids, [(Severity::High, "CVE-2".to_string())]);
        assert_eq!(pkg.fix_unknown.total(), 1);
        assert_eq!(pkg.fix_unknown.worst_score, Some(7.5));
    }

    #[test]
    fn keeps_the_highest_fixed_versions_and_the_ones_that_are_not_versions() {
        let mut tally = JudgedFindings::default();
        let mut add = |id: String, fixed: &str| {
            let mut f = finding(&id, Severity::High, None);
            f.fixed_in = Some(fixed.into());
            tally.add(f, Verdict::Alert);
        };
        add("CVE-X".into(), "see advisory");
        add("CVE-E".into(), "1:1.0");
        for i in 0..50 {
            add(format!("CVE-{i}"), &format!("3.0.{i}"));
        }
        let pkg = &tally.packages[&("openssl".to_string(), "3.0.2".to_string())];
        assert_eq!(pkg.fixed_in.len(), MAX_FIXED_VERSIONS);
        assert!(
            pkg.fixed_in.iter().any(|v| v == "1:1.0"),
            "the epoch makes it the highest"
        );
        assert!(pkg.fixed_in.iter().any(|v| v == "3.0.49"));
        assert!(pkg.fixed_in.iter().any(|v| v == "see advisory"));
        assert!(!pkg.fixed_in.iter().any(|v| v == "3.0.1"));
        assert_eq!(pkg.fixed.total(), 52);
    }

    #[test]
    fn keeps_only_the_most_severe_ids_without_a_fix() {
        let mut tally = JudgedFindings::default();
        for (id, sev) in [
            ("CVE-H1", Severity::High),
            ("CVE-H2", Severity::High),
            ("CVE-H3", Severity::High),
            ("CVE-C1", Severity::Critical),
        ] {
            let mut f = finding(id, sev, None);
            f.fix_available = Some(FixAvailable::No);
            tally.add(f, Verdict::Alert);
        }
        let pkg = &tally.packages[&("openssl".to_string(), "3.0.2".to_string())];
        let ids: Vec<_> = pkg.no_fix_ids.iter().map(|(_, id)| id.as_str()).collect();
        assert_eq!(ids, ["CVE-C1", "CVE-H1", "CVE-H2"]);
        assert_eq!(pkg.no_fix.total(), 4);
    }

    #[test]
    fn still_open_names_the_most_severe_and_exploitable_reads_unknown_as_unknown() {
        let mut tally = JudgedFindings::default();
        for (id, sev) in [
            ("CVE-4", Severity::High),
            ("CVE-1", Severity::Critical),
            ("CVE-3", Severity::High),
            ("CVE-2", Severity::High),
        ] {
            tally.add(finding(id, sev, None), Verdict::AlreadyAlerted);
        }
        assert_eq!(tally.still_open.total(), 4);
        let named: Vec<&str> = tally
            .still_open_ids
            .iter()
            .map(|(_, id)| id.as_str())
            .collect();
        assert_eq!(named, ["CVE-1", "CVE-2", "CVE-3"]);
        assert_eq!(
            tally.exploitable_attribute(),
            "unknown",
            "nothing alert-worthy"
        );
        let mut known_safe = finding("CVE-5", Severity::High, None);
        known_safe.exploit_available = Some(false);
        tally.add(known_safe, Verdict::Alert);
        assert_eq!(tally.exploitable_attribute(), "false");
        tally.add(finding("CVE-6", Severity::High, None), Verdict::Alert);
        assert_eq!(
            tally.exploitable_attribute(),
            "unknown",
            "one nobody vouches for"
        );
        let mut exploited = finding("CVE-7", Severity::Low, None);
        exploited.exploit_available = Some(true);
        tally.add(exploited, Verdict::Alert);
        assert_eq!(tally.exploitable_attribute(), "true");
        assert_eq!(tally.listed()[0].id, "CVE-5", "severity before exploit");
    }
}
