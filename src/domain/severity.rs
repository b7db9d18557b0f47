//! Severities as ECR and Inspector report them, and the order that ranks them.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A finding's severity. `Undefined` (basic scanning) and `Untriaged`
/// (Inspector) have no rank: they are counted and shown, never alerted on alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Severity {
    Undefined,
    Untriaged,
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// Most severe first: the order of counts and lists in an alert.
    pub const DISPLAY_ORDER: [Severity; 7] = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Informational,
        Severity::Undefined,
        Severity::Untriaged,
    ];

    /// The severities a threshold may name.
    pub const RANKED: [Severity; 5] = [
        Severity::Informational,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn is_ranked(self) -> bool {
        !matches!(self, Severity::Undefined | Severity::Untriaged)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Undefined => "UNDEFINED",
            Severity::Untriaged => "UNTRIAGED",
            Severity::Informational => "INFORMATIONAL",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }

    /// Lenient reading of a severity sent by AWS: anything unknown counts as
    /// `Undefined` rather than failing the whole scan.
    pub fn from_aws(value: &str) -> Severity {
        value.parse().unwrap_or(Severity::Undefined)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a severity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity `{0}`")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Severity::DISPLAY_ORDER
            .into_iter()
            .find(|sev| sev.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSeverity(s.to_string()))
    }
}

/// How many findings there are of each severity. Counted in 32 bits (an
/// image has far fewer than four billion findings; a count saturates
/// rather than wraps): the tally holds several per package.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeverityCounts([u32; 7]);

impl SeverityCounts {
    pub fn add(&mut self, severity: Severity, n: u64) {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        self.0[severity.index()] = self.0[severity.index()].saturating_add(n);
    }

    pub fn get(&self, severity: Severity) -> u64 {
        u64::from(self.0[severity.index()])
    }

    pub fn total(&self) -> u64 {
        self.0.iter().map(|n| u64::from(*n)).sum()
    }

    /// Non-zero counts, most severe first.
    pub fn non_zero(&self) -> impl Iterator<Item = (Severity, u64)> + '_ {
        Severity::DISPLAY_ORDER
            .into_iter()
            .map(|sev| (sev, self.get(sev)))
            .filter(|(_, n)| *n > 0)
    }

    /// The most severe ranked severity with a non-zero count.
    pub fn highest_ranked(&self) -> Option<Severity> {
        self.non_zero()
            .map(|(sev, _)| sev)
            .find(|sev| sev.is_ranked())
    }
}

impl Serialize for SeverityCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for (sev, n) in self.non_zero() {
            map.serialize_entry(sev.as_str(), &n)?;
        }
        map.end()
    }
}

/// The map [`SeverityCounts`] is written as, read back (a fanned-out
/// digest's partial); a severity name nobody documents is refused.
impl<'de> Deserialize<'de> for SeverityCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, u64>::deserialize(deserializer)?;
        let mut counts = SeverityCounts::default();
        for (name, n) in map {
            let severity = name.parse::<Severity>().map_err(serde::de::Error::custom)?;
            counts.add(severity, n);
        }
        Ok(counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_the_documented_order() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::High > Severity::Medium);
        assert!(Severity::Medium > Severity::Low);
        assert!(Severity::Low > Severity::Informational);
        assert!(!Severity::Undefined.is_ranked());
        assert!(!Severity::Untriaged.is_ranked());
    }

    #[test]
    fn parses_case_insensitively_and_rejects_unknown_names() {
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert_eq!(" HIGH ".parse::<Severity>(), Ok(Severity::High));
        assert!("SEVERE".parse::<Severity>().is_err());
        assert_eq!(Severity::from_aws("SEVERE"), Severity::Undefined);
    }

    #[test]
    fn counts_report_non_zero_entries_most_severe_first() {
        let mut counts = SeverityCounts::default();
        counts.add(Severity::Low, 2);
        counts.add(Severity::Undefined, 4);
        counts.add(Severity::High, 1);
        let listed: Vec<_> = counts.non_zero().collect();
        assert_eq!(
            listed,
            vec![
                (Severity::High, 1),
                (Severity::Low, 2),
                (Severity::Undefined, 4)
            ]
        );
        assert_eq!(counts.total(), 7);
        assert_eq!(counts.highest_ranked(), Some(Severity::High));
    }

    #[test]
    fn unranked_counts_never_become_the_highest_severity() {
        let mut counts = SeverityCounts::default();
        counts.add(Severity::Untriaged, 9);
        assert_eq!(counts.highest_ranked(), None);
    }
}
