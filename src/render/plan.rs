//! The fix plan as a reader sees it, decided once: the headline's case and
//! plural, each listed upgrade's target and effect, what is left unlisted.
//! The email and chat formats only lay it out, each with its own budget of
//! lines.

use super::{counts_phrase, findings_count, fixes_phrase, of_total};
use crate::domain::fixplan::{FixPlan, NoFix, Target, Upgrade};
use crate::domain::image::ScanKind;

/// How many unordered fixed-in versions an upgrade names.
const UNORDERED_SHOWN: usize = 4;

/// What the plan's first line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Headline {
    /// No upgrade is known to fix any of `findings` (`3 findings`).
    NoUpgrade { findings: String },
    /// The scanner reported no fixed versions: `packages` (`2 packages`)
    /// to update for `of` (`3 of the 5 findings`); `basic`: because basic
    /// scanning never does.
    VersionsUnknown {
        packages: String,
        of: String,
        basic: bool,
    },
    /// `2 upgrades fix 3 of the 5 findings`.
    Upgrades { packages: usize, of: String },
}

impl Headline {
    /// `upgrade fixes` or `upgrades fix`.
    pub fn upgrades_verb(packages: usize) -> &'static str {
        if packages == 1 {
            "upgrade fixes"
        } else {
            "upgrades fix"
        }
    }
}

/// Where an upgrade goes.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetView<'a> {
    Version(&'a str),
    /// Fixed-in versions that cannot be ordered: the first few of them.
    OneOf(Vec<&'a str>),
    Unknown,
}

/// One listed upgrade.
#[derive(Debug, Clone, PartialEq)]
pub struct UpgradeView<'a> {
    pub package: &'a str,
    pub installed: &'a str,
    pub target: TargetView<'a>,
    /// `1 critical, 2 high`.
    pub fixes: String,
    pub worst_score: Option<f64>,
    pub exploitable: u64,
    pub max_epss: Option<f64>,
    /// `1 medium`: the package's other findings with no fixed version.
    pub also_unknown: Option<String>,
}

/// One listed package without a fix.
#[derive(Debug, Clone, PartialEq)]
pub struct NoFixView<'a> {
    pub package: &'a str,
    pub installed: &'a str,
    /// `1 high`.
    pub counts: String,
    pub ids: &'a [String],
    /// Findings beyond the ids named.
    pub unnamed: u64,
    pub worst_score: Option<f64>,
}

/// The fix plan, decided: `upgrades` and `no_fix` at most as many as the
/// format lists, and what is left of each, counted.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView<'a> {
    pub headline: Headline,
    /// Whether no fixed version at all is known (then an upgrade's target
    /// says nothing).
    pub versions_unknown: bool,
    pub upgrades: Vec<UpgradeView<'a>>,
    /// Upgrades not listed: packages, and findings they fix.
    pub more_upgrades: (usize, u64),
    /// Packages with upgrades in all.
    pub upgrade_packages: usize,
    /// Findings that name no package.
    pub unnamed: u64,
    pub no_fix: Vec<NoFixView<'a>>,
    /// Packages without a fix not listed: packages, findings.
    pub more_no_fix: (usize, u64),
    /// `3 findings` without a known fix.
    pub without_fix: String,
}

impl<'a> PlanView<'a> {
    /// The plan, listing at most `upgrades` upgrades and `no_fix` packages
    /// without a fix.
    pub fn of(plan: &'a FixPlan, kind: ScanKind, upgrades: usize, no_fix: usize) -> PlanView<'a> {
        let packages = plan.upgrade_packages;
        let of = of_total(plan.upgrade_findings, plan.total);
        let headline = if packages == 0 {
            Headline::NoUpgrade {
                findings: findings_count(plan.total),
            }
        } else if plan.versions_unknown() {
            let s = if packages == 1 { "" } else { "s" };
            Headline::VersionsUnknown {
                packages: format!("{packages} package{s}"),
                of,
                basic: kind == ScanKind::Basic,
            }
        } else {
            Headline::Upgrades { packages, of }
        };
        PlanView {
            headline,
            versions_unknown: plan.versions_unknown(),
            upgrades: plan.upgrades.iter().take(upgrades).map(upgrade).collect(),
            more_upgrades: plan.upgrades_after(upgrades),
            upgrade_packages: packages,
            unnamed: plan.unnamed,
            no_fix: plan.no_fix.iter().take(no_fix).map(no_fix_view).collect(),
            more_no_fix: plan.no_fix_after(no_fix),
            without_fix: findings_count(plan.without_fix()),
        }
    }

    /// Whether any package has findings with no known fix.
    pub fn has_no_fix(&self) -> bool {
        !self.no_fix.is_empty() || self.more_no_fix.0 > 0
    }
}

fn upgrade(u: &Upgrade) -> UpgradeView<'_> {
    UpgradeView {
        package: &u.package,
        installed: &u.installed,
        target: match &u.target {
            Target::Version(v) => TargetView::Version(v),
            Target::Unordered(versions) => TargetView::OneOf(
                versions
                    .iter()
                    .take(UNORDERED_SHOWN)
                    .map(String::as_str)
                    .collect(),
            ),
            Target::Unknown => TargetView::Unknown,
        },
        fixes: fixes_phrase(&u.fixes),
        worst_score: u.worst_score,
        exploitable: u.exploitable,
        max_epss: u.max_epss,
        also_unknown: (u.also_unknown.total() > 0).then(|| counts_phrase(&u.also_unknown)),
    }
}

fn no_fix_view(n: &NoFix) -> NoFixView<'_> {
    NoFixView {
        package: &n.package,
        installed: &n.installed,
        counts: counts_phrase(&n.counts),
        ids: &n.ids,
        unnamed: n.counts.total().saturating_sub(n.ids.len() as u64),
        worst_score: n.worst_score,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::Finding;
    use crate::domain::judged::JudgedFindings;
    use crate::domain::policy::Verdict;
    use crate::domain::severity::Severity;

    fn finding(id: &str, package: &str, fixed_in: Option<&str>) -> Finding {
        let mut f = Finding::new(id, Severity::High);
        f.set_inspector_package(
            Some(package.into()),
            Some("1.0".into()),
            fixed_in.map(Into::into),
        );
        // Inspector says whether a fix exists: NO puts it under "no known fix".
        f.fix_available = Some(if fixed_in.is_some() {
            crate::domain::finding::FixAvailable::Yes
        } else {
            crate::domain::finding::FixAvailable::No
        });
        f
    }

    fn plan(findings: Vec<Finding>) -> FixPlan {
        let mut tally = JudgedFindings::default();
        for f in findings {
            tally.add(f, Verdict::Alert);
        }
        FixPlan::from_tally(&tally)
    }

    #[test]
    fn the_plan_is_decided_once_for_every_format() {
        let fixes = plan(vec![
            finding("CVE-1", "openssl", Some("1.1")),
            finding("CVE-2", "zlib", Some("1.2")),
            finding("CVE-3", "bash", None),
        ]);
        let view = PlanView::of(&fixes, ScanKind::Enhanced, 1, 5);
        assert!(matches!(
            view.headline,
            Headline::Upgrades { packages: 2, .. }
        ));
        assert_eq!(Headline::upgrades_verb(2), "upgrades fix");
        assert_eq!(view.upgrades.len(), 1, "as many as the format lists");
        assert_eq!(view.more_upgrades.0, 1, "the rest counted");
        assert_eq!(view.no_fix.len(), 1);
        assert!(view.has_no_fix());

        let none = plan(vec![finding("CVE-4", "bash", None)]);
        let view = PlanView::of(&none, ScanKind::Enhanced, 8, 3);
        assert!(matches!(view.headline, Headline::NoUpgrade { .. }));
        assert!(view.upgrades.is_empty());
    }
}
