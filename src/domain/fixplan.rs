//! The fix plan: what to upgrade, to which version, and what that removes.
//!
//! Built from the tally's per-package aggregates of alert-worthy findings:
//! per package (name and installed version), the version that fixes all of
//! its findings that have a fix (the highest fixed-in version, in
//! [`version`] order), how many findings of which severity that fixes, and
//! the worst score. Packages come most effective first: the one removing
//! the most severe findings, then the most of them. Findings the scanner
//! says have no fix are kept apart. Plain data in, plain data out.

use crate::domain::judged::{JudgedFindings, PackageTally};
use crate::domain::severity::{Severity, SeverityCounts};
use crate::domain::version;
use std::cmp::{Ordering, Reverse};

/// Which version to upgrade a package to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The highest fixed-in version among the package's findings: this
    /// version or a later one fixes all of them.
    Version(String),
    /// Fixed-in versions that cannot be ordered because at least one of them
    /// is not a version (`see advisory`, a list): all of them, the
    /// orderable ones highest first, then the others as reported.
    Unordered(Vec<String>),
    /// No fixed-in version was reported (basic scanning never reports one).
    Unknown,
}

/// One package to upgrade.
#[derive(Debug, Clone, PartialEq)]
pub struct Upgrade {
    pub package: String,
    /// The installed version; empty when the scanner did not say.
    pub installed: String,
    pub target: Target,
    /// The findings the upgrade fixes, by severity.
    pub fixes: SeverityCounts,
    pub worst_score: Option<f64>,
    /// Of the findings it fixes: how many have a known exploit, and the
    /// highest EPSS score.
    pub exploitable: u64,
    pub max_epss: Option<f64>,
    /// With a known target: other findings of the package whose fixed
    /// version was not reported (the upgrade may or may not fix them).
    pub also_unknown: SeverityCounts,
}

/// A package with findings the scanner says have no fix yet.
#[derive(Debug, Clone, PartialEq)]
pub struct NoFix {
    pub package: String,
    pub installed: String,
    pub counts: SeverityCounts,
    pub worst_score: Option<f64>,
    /// The most severe of their ids (a few).
    pub ids: Vec<String>,
}

/// How many upgrades and packages without a fix the plan lists, most
/// effective first: as many as the longest alert shows (the email). The
/// rest are counted, not kept, so the plan stays small however many
/// packages the image has.
pub const LISTED_UPGRADES: usize = 20;
pub const LISTED_NO_FIX: usize = 10;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct FixPlan {
    /// The most effective upgrades, most effective first (at most
    /// [`LISTED_UPGRADES`]).
    pub upgrades: Vec<Upgrade>,
    /// The packages with the most severe findings without a fix, most
    /// severe first (at most [`LISTED_NO_FIX`]).
    pub no_fix: Vec<NoFix>,
    /// Every package with an upgrade, listed or not, and the findings the
    /// upgrades fix.
    pub upgrade_packages: usize,
    pub upgrade_findings: u64,
    /// Every package with findings that have no fix.
    pub no_fix_packages: usize,
    /// Alert-worthy findings that name no package, so are in no entry.
    pub unnamed: u64,
    /// Alert-worthy findings in all.
    pub total: u64,
    fixed_by_known_versions: u64,
    fix_unknown: u64,
    without_fix: u64,
    known_targets: usize,
}

impl FixPlan {
    pub fn from_tally(tally: &JudgedFindings) -> FixPlan {
        let mut plan = FixPlan::default();
        let mut named = 0u64;
        for ((package, installed), pkg) in &tally.packages {
            named += pkg.total();
            if let Some(upgrade) = upgrade(package, installed, pkg) {
                let fixes = upgrade.fixes.total();
                plan.upgrade_packages += 1;
                plan.upgrade_findings += fixes;
                if upgrade.target == Target::Unknown {
                    plan.fix_unknown += fixes;
                } else {
                    plan.known_targets += 1;
                    plan.fixed_by_known_versions += fixes;
                    plan.fix_unknown += upgrade.also_unknown.total();
                }
                keep_best(&mut plan.upgrades, upgrade, LISTED_UPGRADES, upgrade_order);
            }
            if pkg.no_fix.total() > 0 {
                plan.no_fix_packages += 1;
                plan.without_fix += pkg.no_fix.total();
                let no_fix = NoFix {
                    package: package.clone(),
                    installed: installed.clone(),
                    counts: pkg.no_fix.counts.clone(),
                    worst_score: pkg.no_fix.worst_score,
                    ids: pkg.no_fix_ids.iter().map(|(_, id)| id.clone()).collect(),
                };
                keep_best(&mut plan.no_fix, no_fix, LISTED_NO_FIX, no_fix_order);
            }
        }
        finish_best(&mut plan.upgrades, LISTED_UPGRADES, upgrade_order);
        finish_best(&mut plan.no_fix, LISTED_NO_FIX, no_fix_order);
        plan.total = tally.alert_worthy();
        plan.unnamed = plan.total.saturating_sub(named);
        plan
    }

    /// Findings fixed by upgrades whose target version is known.
    pub fn fixed_by_known_versions(&self) -> u64 {
        self.fixed_by_known_versions
    }

    /// Findings in upgrades whose target version is unknown.
    pub fn fix_unknown(&self) -> u64 {
        self.fix_unknown
    }

    /// Findings the scanner says have no fix.
    pub fn without_fix(&self) -> u64 {
        self.without_fix
    }

    /// Whether no upgrade has a known target version (basic scanning).
    pub fn versions_unknown(&self) -> bool {
        self.known_targets == 0
    }

    /// Upgrades past the first `shown`: how many packages, and the
    /// findings they fix.
    pub fn upgrades_after(&self, shown: usize) -> (usize, u64) {
        let listed: u64 = self
            .upgrades
            .iter()
            .take(shown)
            .map(|u| u.fixes.total())
            .sum();
        let shown = shown.min(self.upgrades.len());
        (
            self.upgrade_packages.saturating_sub(shown),
            self.upgrade_findings.saturating_sub(listed),
        )
    }

    /// Packages without a fix past the first `shown`: how many, and their
    /// findings.
    pub fn no_fix_after(&self, shown: usize) -> (usize, u64) {
        let listed: u64 = self
            .no_fix
            .iter()
            .take(shown)
            .map(|n| n.counts.total())
            .sum();
        let shown = shown.min(self.no_fix.len());
        (
            self.no_fix_packages.saturating_sub(shown),
            self.without_fix.saturating_sub(listed),
        )
    }
}

/// By the risk an upgrade removes: known exploits first (the strongest
/// evidence of risk), then severity (as the risk rules routed it), then
/// EPSS, then the worst score; then by package, so the order is total.
fn upgrade_order(a: &Upgrade, b: &Upgrade) -> Ordering {
    b.exploitable
        .cmp(&a.exploitable)
        .then_with(|| by_effect(&a.fixes, None, &b.fixes, None))
        .then_with(|| {
            let epss = |e: Option<f64>| e.unwrap_or(f64::NEG_INFINITY);
            epss(b.max_epss).total_cmp(&epss(a.max_epss))
        })
        .then_with(|| by_effect(&a.fixes, a.worst_score, &b.fixes, b.worst_score))
        .then_with(|| (&a.package, &a.installed).cmp(&(&b.package, &b.installed)))
}

fn no_fix_order(a: &NoFix, b: &NoFix) -> Ordering {
    by_effect(&a.counts, a.worst_score, &b.counts, b.worst_score)
        .then_with(|| (&a.package, &a.installed).cmp(&(&b.package, &b.installed)))
}

/// Adds `item` to the best `keep` of a list kept in `order` by
/// [`finish_best`]: the list holds at most twice `keep` at any time.
fn keep_best<T>(items: &mut Vec<T>, item: T, keep: usize, order: fn(&T, &T) -> Ordering) {
    items.push(item);
    if items.len() >= 2 * keep.max(1) {
        items.select_nth_unstable_by(keep.saturating_sub(1), order);
        items.truncate(keep);
    }
}

fn finish_best<T>(items: &mut Vec<T>, keep: usize, order: fn(&T, &T) -> Ordering) {
    items.sort_by(order);
    items.truncate(keep);
    items.shrink_to_fit();
}

fn upgrade(package: &str, installed: &str, pkg: &PackageTally) -> Option<Upgrade> {
    let (target, bucket, also_unknown) = if pkg.fixed.total() > 0 {
        (
            highest_fixed(pkg.fixed_in.iter().map(String::as_str)),
            &pkg.fixed,
            pkg.fix_unknown.counts.clone(),
        )
    } else if pkg.fix_unknown.total() > 0 {
        (Target::Unknown, &pkg.fix_unknown, SeverityCounts::default())
    } else {
        return None;
    };
    Some(Upgrade {
        package: package.to_string(),
        installed: installed.to_string(),
        target,
        fixes: bucket.counts.clone(),
        worst_score: bucket.worst_score,
        exploitable: u64::from(bucket.exploitable),
        max_epss: bucket.max_epss(),
        also_unknown,
    })
}

/// The version that fixes every finding fixed in one of `versions`: the
/// highest. Equal versions written differently (`1.0`, `1.00`) keep the
/// first in text order. When any of them is not a version, they cannot be
/// ordered meaningfully and all are returned.
pub fn highest_fixed<'a>(versions: impl IntoIterator<Item = &'a str>) -> Target {
    let mut versions: Vec<&str> = versions.into_iter().collect();
    versions.sort_unstable();
    versions.dedup();
    match versions.as_slice() {
        [] => return Target::Unknown,
        [only] => return Target::Version(only.to_string()),
        _ => {}
    }
    let (mut orderable, others): (Vec<&str>, Vec<&str>) = versions
        .into_iter()
        .partition(|v| version::is_comparable(v));
    // A stable sort: equal versions stay in text order.
    orderable.sort_by(|a, b| version::compare(b, a));
    if others.is_empty() {
        return Target::Version(orderable[0].to_string());
    }
    Target::Unordered(
        orderable
            .into_iter()
            .chain(others)
            .map(str::to_string)
            .collect(),
    )
}

/// Most effective first: more findings at the highest severity, then at
/// the next, and so on; then the worse score.
fn by_effect(
    a: &SeverityCounts,
    a_score: Option<f64>,
    b: &SeverityCounts,
    b_score: Option<f64>,
) -> Ordering {
    let key = |c: &SeverityCounts| Severity::DISPLAY_ORDER.map(|s| Reverse(c.get(s)));
    key(a).cmp(&key(b)).then_with(|| {
        let score = |s: Option<f64>| s.unwrap_or(f64::NEG_INFINITY);
        score(b_score).total_cmp(&score(a_score))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::{Finding, FixAvailable};
    use crate::domain::policy::Verdict;

    fn finding(id: &str, sev: Severity, package: &str, fixed: Option<&str>) -> Finding {
        let mut f = Finding::new(id, sev);
        f.package_name = Some(package.into());
        f.package_version = Some("1.0".into());
        f.fixed_in = fixed.map(str::to_string);
        f
    }

    fn plan(findings: Vec<Finding>) -> FixPlan {
        let mut tally = JudgedFindings::default();
        for f in findings {
            tally.add(f, Verdict::Alert);
        }
        FixPlan::from_tally(&tally)
    }

    fn order(plan: &FixPlan) -> Vec<&str> {
        plan.upgrades.iter().map(|u| u.package.as_str()).collect()
    }

    #[test]
    fn one_package_with_several_fixed_versions_goes_to_the_highest() {
        let plan = plan(vec![
            finding("CVE-1", Severity::High, "openssl", Some("3.0.8")),
            finding("CVE-2", Severity::Critical, "openssl", Some("3.0.15")),
            finding("CVE-3", Severity::High, "openssl", Some("3.0.11")),
            finding("CVE-4", Severity::High, "openssl", Some("3.0.8")),
        ]);
        assert_eq!(plan.upgrades.len(), 1);
        let up = &plan.upgrades[0];
        assert_eq!(up.package, "openssl");
        assert_eq!(up.installed, "1.0");
        assert_eq!(up.target, Target::Version("3.0.15".into()));
        assert_eq!(up.fixes.get(Severity::Critical), 1);
        assert_eq!(up.fixes.get(Severity::High), 3);
        assert_eq!(plan.fixed_by_known_versions(), 4);
    }

    #[test]
    fn the_highest_fixed_version_follows_debian_order_not_text_order() {
        assert_eq!(
            highest_fixed(["3.0", "1:2.0"]),
            Target::Version("1:2.0".into()),
            "the epoch wins"
        );
        assert_eq!(
            highest_fixed(["1.0~rc1", "1.0"]),
            Target::Version("1.0".into()),
            "a tilde sorts before the release"
        );
        assert_eq!(
            highest_fixed(["3.0.8", "3.0.15", "3.0.9"]),
            Target::Version("3.0.15".into())
        );
        assert_eq!(
            highest_fixed(["2.36-9+deb12u4", "2.36-9+deb12u10", "2.36-9"]),
            Target::Version("2.36-9+deb12u10".into())
        );
    }

    #[test]
    fn equal_versions_written_differently_keep_the_first_in_text_order() {
        assert_eq!(
            highest_fixed(["1.00", "1.0", "0.9"]),
            Target::Version("1.0".into())
        );
        assert_eq!(
            highest_fixed(["2.0", "0:2.0"]),
            Target::Version("0:2.0".into())
        );
    }

    #[test]
    fn versions_that_cannot_be_ordered_are_all_listed() {
        assert_eq!(
            highest_fixed(["3.0.8", "see advisory", "3.0.15"]),
            Target::Unordered(vec!["3.0.15".into(), "3.0.8".into(), "see advisory".into()])
        );
        assert_eq!(
            highest_fixed(["see advisory"]),
            Target::Version("see advisory".into()),
            "one version needs no ordering"
        );
        assert_eq!(highest_fixed([]), Target::Unknown);
    }

    #[test]
    fn missing_fixed_versions_make_an_unknown_target_or_a_side_note() {
        let plan = plan(vec![
            finding("CVE-1", Severity::High, "curl", None),
            finding("CVE-2", Severity::High, "curl", None),
            finding("CVE-3", Severity::Critical, "zlib", Some("1.3.1")),
            finding("CVE-4", Severity::Medium, "zlib", None),
        ]);
        let curl = plan.upgrades.iter().find(|u| u.package == "curl").unwrap();
        assert_eq!(curl.target, Target::Unknown);
        assert_eq!(curl.fixes.get(Severity::High), 2);
        let zlib = plan.upgrades.iter().find(|u| u.package == "zlib").unwrap();
        assert_eq!(zlib.target, Target::Version("1.3.1".into()));
        assert_eq!(zlib.fixes.total(), 1);
        assert_eq!(zlib.also_unknown.get(Severity::Medium), 1);
        assert_eq!(plan.fixed_by_known_versions(), 1);
        assert_eq!(plan.fix_unknown(), 3);
        assert!(!plan.versions_unknown());
    }

    #[test]
    fn findings_without_a_fix_have_their_own_list() {
        let mut perl = finding("CVE-9", Severity::High, "perl", None);
        perl.fix_available = Some(FixAvailable::No);
        perl.score = Some(7.0);
        let mut openssl_none = finding("CVE-8", Severity::Critical, "openssl", None);
        openssl_none.fix_available = Some(FixAvailable::No);
        let plan = plan(vec![
            perl,
            openssl_none,
            finding("CVE-7", Severity::High, "openssl", Some("3.0.15")),
        ]);
        assert_eq!(order(&plan), ["openssl"]);
        assert_eq!(plan.upgrades[0].fixes.total(), 1, "only what has a fix");
        let no_fix: Vec<_> = plan.no_fix.iter().map(|n| n.package.as_str()).collect();
        assert_eq!(no_fix, ["openssl", "perl"], "most severe first");
        assert_eq!(plan.no_fix[1].ids, ["CVE-9"]);
        assert_eq!(plan.no_fix[1].worst_score, Some(7.0));
        assert_eq!(plan.without_fix(), 2);
    }

    #[test]
    fn packages_come_by_severity_first_then_count_then_score_then_name() {
        let mut findings = vec![finding(
            "C-1",
            Severity::Critical,
            "one-critical",
            Some("2"),
        )];
        for i in 0..5 {
            findings.push(finding(
                &format!("H-{i}"),
                Severity::High,
                "five-high",
                Some("2"),
            ));
        }
        for i in 0..2 {
            findings.push(finding(
                &format!("T-{i}"),
                Severity::High,
                "two-high",
                Some("2"),
            ));
        }
        let mut scored = finding("S-1", Severity::High, "zz-scored", Some("2"));
        scored.score = Some(8.0);
        findings.push(scored.clone());
        scored.id = "S-2".into();
        findings.push(scored);
        // Ties on everything but the name.
        for name in ["tie-b", "tie-a"] {
            findings.push(finding(
                &format!("{name}-1"),
                Severity::Medium,
                name,
                Some("2"),
            ));
        }
        let plan = plan(findings);
        assert_eq!(
            order(&plan),
            [
                "one-critical",
                "five-high",
                "zz-scored",
                "two-high",
                "tie-a",
                "tie-b"
            ]
        );
    }

    #[test]
    fn findings_naming_no_package_are_counted_apart() {
        let mut tally = JudgedFindings::default();
        tally.add(Finding::new("CVE-1", Severity::High), Verdict::Alert);
        tally.add(
            finding("CVE-2", Severity::High, "bash", None),
            Verdict::Alert,
        );
        tally.add(
            finding("CVE-3", Severity::Low, "bash", None),
            Verdict::BelowThreshold,
        );
        let plan = FixPlan::from_tally(&tally);
        assert_eq!(plan.unnamed, 1);
        assert_eq!(plan.total, 2);
        assert!(plan.versions_unknown());
    }

    #[test]
    fn a_plan_of_many_packages_lists_the_best_and_counts_the_rest() {
        // 137 packages with fixes, 45 without: more than the plan lists.
        let severities = [Severity::Critical, Severity::High, Severity::Medium];
        let mut findings = Vec::new();
        for i in 0..137 {
            let mut f = finding(
                &format!("CVE-{i}"),
                severities[i % 3],
                &format!("pkg{i:03}"),
                Some("2.0"),
            );
            f.score = Some((i % 10) as f64);
            f.exploit_available = Some(i % 17 == 0);
            findings.push(f);
        }
        for i in 0..45 {
            let mut f = finding(
                &format!("CVE-N{i}"),
                severities[i % 3],
                &format!("nofix{i:02}"),
                None,
            );
            f.fix_available = Some(FixAvailable::No);
            f.score = Some((i % 7) as f64);
            findings.push(f);
        }
        let plan = plan(findings);
        assert_eq!(plan.upgrade_packages, 137);
        assert_eq!(plan.upgrade_findings, 137);
        assert_eq!(plan.fixed_by_known_versions(), 137);
        assert_eq!(plan.upgrades.len(), LISTED_UPGRADES);
        assert_eq!(plan.no_fix_packages, 45);
        assert_eq!(plan.without_fix(), 45);
        assert_eq!(plan.no_fix.len(), LISTED_NO_FIX);
        // The listed ones are the first of the whole order: the nine with
        // a known exploit (i = 0, 17, ..., 136), CRITICAL before HIGH
        // before MEDIUM, then the CRITICAL ones by score, worst first.
        let listed = order(&plan);
        let exploits: Vec<String> = (0..137).step_by(17).map(|i| format!("pkg{i:03}")).collect();
        let (first, rest) = listed.split_at(exploits.len());
        let mut first: Vec<&str> = first.to_vec();
        first.sort_unstable();
        assert_eq!(first, exploits);
        assert!(plan.upgrades[exploits.len()..]
            .iter()
            .all(|u| u.exploitable == 0 && u.fixes.get(Severity::Critical) == 1));
        let scores: Vec<f64> = plan.upgrades[exploits.len()..]
            .iter()
            .map(|u| u.worst_score.unwrap())
            .collect();
        assert!(
            scores.windows(2).all(|w| w[0] >= w[1]),
            "{rest:?} {scores:?}"
        );
        assert_eq!(scores[0], 9.0);
        assert_eq!(plan.upgrades_after(8), (129, 129));
        assert_eq!(plan.no_fix_after(LISTED_NO_FIX), (35, 35));
        assert!(plan
            .no_fix
            .iter()
            .all(|n| n.counts.get(Severity::Critical) == 1));
    }
}
