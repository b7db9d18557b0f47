//! Risk signals beyond severity (Amazon ECR API Reference,
//! `EnhancedImageScanFinding`; Amazon Inspector API Reference, `Finding`,
//! `EpssDetails`, `AwsEcrContainerImageDetails`):
//! whether an exploit is known, the EPSS score, and whether the image runs.
//! Enhanced scanning (Amazon Inspector) reports them; basic scanning does
//! not, and then every signal is *unknown*, never "no".

use crate::domain::finding::Finding;
use chrono::DateTime;
use std::collections::HashMap;

/// The value of a routing attribute (`exploitable`, `in_use`).
pub const TRUE: &str = "true";
pub const FALSE: &str = "false";
pub const UNKNOWN: &str = "unknown";

/// Reads Inspector's `exploitAvailable` (`YES` / `NO`); anything else,
/// including an absent value, is unknown.
pub fn exploit_from_aws(value: &str) -> Option<bool> {
    match value.trim() {
        v if v.eq_ignore_ascii_case("YES") => Some(true),
        v if v.eq_ignore_ascii_case("NO") => Some(false),
        _ => None,
    }
}

/// An EPSS score as Inspector writes it (a probability, 0 to 1); anything
/// outside that range is not a score.
pub fn epss_score(value: f64) -> Option<f64> {
    (value.is_finite() && (0.0..=1.0).contains(&value)).then_some(value)
}

/// Whether an image runs, as ECR's and Inspector's image details say it:
/// `inUseCount` (ECS tasks / EKS pods, or clusters, using the image) and
/// `lastInUseAt`, with `pushedAt` to date an image never seen running.
/// Times are seconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub in_use_count: Option<u64>,
    pub last_in_use_at: Option<i64>,
    pub pushed_at: Option<i64>,
}

/// What [`Usage`] says, in the terms a reader and a policy use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InUse {
    /// No usage reported (basic scanning, or Inspector said nothing).
    Unknown,
    /// Running now, in this many places.
    Running(u64),
    /// Not running now; last seen running then (`None`: never recorded).
    NotRunning { since: Option<i64> },
}

impl Usage {
    /// Combines what several findings (or pages) say of one image: the
    /// highest count and the latest times win.
    pub fn merge(&mut self, other: &Usage) {
        self.in_use_count = max(self.in_use_count, other.in_use_count);
        self.last_in_use_at = max(self.last_in_use_at, other.last_in_use_at);
        self.pushed_at = max(self.pushed_at, other.pushed_at);
    }

    pub fn state(&self) -> InUse {
        match self.in_use_count {
            None => InUse::Unknown,
            Some(0) => InUse::NotRunning {
                since: self.last_in_use_at,
            },
            Some(n) => InUse::Running(n),
        }
    }

    /// Whole days the image has not been running as of `now`: since it was
    /// last seen running, or, never seen running, since it was pushed.
    /// `None` while it runs, when nobody says, or when no date is known
    /// (an image must be known idle for the days, never assumed so).
    pub fn idle_days(&self, now: i64) -> Option<i64> {
        match self.state() {
            InUse::NotRunning { since } => {
                let from = since.or(self.pushed_at)?;
                Some((now - from).max(0) / 86_400)
            }
            _ => None,
        }
    }

    /// The `in_use` routing attribute: `true`, `false` or `unknown`.
    pub fn attribute(&self) -> &'static str {
        match self.state() {
            InUse::Unknown => UNKNOWN,
            InUse::Running(_) => TRUE,
            InUse::NotRunning { .. } => FALSE,
        }
    }

    /// `running on ECS or EKS (in use: 12)`, `not seen running on ECS or
    /// EKS since 2026-10-01`, `not seen running on ECS or EKS (never
    /// recorded running)`, `unknown`. Inspector's `inUseCount` counts Amazon
    /// ECS tasks and Amazon EKS pods (Amazon Inspector API Reference,
    /// `AwsEcrContainerImageDetails`): an image run on Lambda, EC2 or Docker
    /// hosts, self-managed Kubernetes or App Runner is not seen, so "not
    /// running" would claim more than AWS says.
    pub fn phrase(&self) -> String {
        match self.state() {
            InUse::Unknown => "unknown (no usage reported)".to_string(),
            InUse::Running(n) => format!("running on ECS or EKS (in use: {n})"),
            InUse::NotRunning { since: Some(at) } => {
                format!("not seen running on ECS or EKS since {}", day(at))
            }
            InUse::NotRunning { since: None } => {
                "not seen running on ECS or EKS (never recorded running)".to_string()
            }
        }
    }
}

/// `2026-10-01`
pub fn day(epoch_seconds: i64) -> String {
    DateTime::from_timestamp(epoch_seconds, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| epoch_seconds.to_string())
}

fn max<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// What Amazon Inspector adds to ECR's findings of one image: EPSS scores
/// by vulnerability id (ECR's enhanced findings carry none), and the
/// image's usage as Inspector's findings say it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Signals {
    /// EPSS by vulnerability id (upper case).
    pub epss: HashMap<String, f64>,
    pub usage: Usage,
    /// Inspector had more findings than were read: those not read all
    /// score at most this (they were read highest EPSS first).
    pub unread_at_most: Option<f64>,
}

impl Signals {
    /// Gives `finding` the EPSS score Inspector has for its vulnerability,
    /// when it has none of its own.
    pub fn enrich(&self, finding: &mut Finding) {
        if finding.epss.is_none() && !self.epss.is_empty() {
            let key = finding.id.to_ascii_uppercase();
            finding.epss = self.epss.get(&key).copied();
        }
    }

    pub fn add_epss(&mut self, vulnerability_id: &str, score: f64) {
        if let Some(score) = epss_score(score) {
            let entry = self
                .epss
                .entry(vulnerability_id.to_ascii_uppercase())
                .or_insert(score);
            *entry = entry.max(score);
        }
    }
}

/// Why the policy moved a finding's severity (it belongs to the finding).
pub use crate::domain::finding::Why;

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn no_count_is_unknown_never_not_running() {
        let usage = Usage {
            in_use_count: None,
            last_in_use_at: Some(1000),
            pushed_at: Some(10),
        };
        assert_eq!(usage.state(), InUse::Unknown);
        assert_eq!(usage.attribute(), "unknown");
        assert_eq!(usage.idle_days(100 * DAY), None);
        assert_eq!(Usage::default().attribute(), "unknown");
    }

    #[test]
    fn idle_days_count_from_the_last_use_else_from_the_push() {
        let used = Usage {
            in_use_count: Some(0),
            last_in_use_at: Some(10 * DAY),
            pushed_at: Some(DAY),
        };
        assert_eq!(used.idle_days(40 * DAY + 5), Some(30));
        assert_eq!(
            used.phrase(),
            "not seen running on ECS or EKS since 1970-01-11"
        );
        let never = Usage {
            in_use_count: Some(0),
            last_in_use_at: None,
            pushed_at: Some(DAY),
        };
        assert_eq!(never.idle_days(3 * DAY), Some(2));
        let undated = Usage {
            in_use_count: Some(0),
            ..Usage::default()
        };
        assert_eq!(undated.idle_days(3 * DAY), None, "no date: not known idle");
        assert_eq!(undated.attribute(), "false");
    }

    #[test]
    fn merging_keeps_the_highest_count_and_latest_times() {
        let mut a = Usage {
            in_use_count: Some(0),
            last_in_use_at: Some(5),
            pushed_at: None,
        };
        a.merge(&Usage {
            in_use_count: Some(3),
            last_in_use_at: Some(2),
            pushed_at: Some(1),
        });
        assert_eq!(a.state(), InUse::Running(3));
        assert_eq!(a.last_in_use_at, Some(5));
        assert_eq!(a.pushed_at, Some(1));
        assert_eq!(a.phrase(), "running on ECS or EKS (in use: 3)");
    }

    #[test]
    fn signals_read_only_what_aws_documents() {
        assert_eq!(exploit_from_aws("YES"), Some(true));
        assert_eq!(exploit_from_aws("NO"), Some(false));
        assert_eq!(exploit_from_aws("N/A"), None);
        assert_eq!(epss_score(0.94), Some(0.94));
        assert_eq!(epss_score(1.5), None);
        assert_eq!(epss_score(f64::NAN), None);
    }
}
