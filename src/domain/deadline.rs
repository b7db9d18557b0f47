//! Remediation deadlines: the policy document's `sla` section gives the
//! days a finding of each severity may stay open, counted from its first
//! observation (docs/digest.md, "Deadlines"). Vulnerability-management
//! programmes commonly use CRITICAL 15, HIGH 30, MEDIUM 90, LOW 180 days;
//! the document says its own, and without it there are no deadlines.

use crate::domain::severity::Severity;
use std::collections::BTreeMap;

/// The longest deadline the document may set, in days (ten years).
pub const MAX_DAYS: i64 = 3_650;
/// A deadline this many days ahead or less is "due soon".
pub const DUE_SOON_DAYS: i64 = 7;
const DAY: i64 = 86_400;

/// Days per severity; a severity without days has no deadline.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sla {
    days: BTreeMap<Severity, i64>,
}

/// Where a finding stands against its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No deadline: its severity has none, or its first observation is unknown.
    None,
    /// Due at `due` (epoch seconds), more than [`DUE_SOON_DAYS`] ahead.
    Open { due: i64 },
    /// Due within [`DUE_SOON_DAYS`].
    DueSoon { due: i64 },
    /// Past its deadline by `days` whole days (0: less than a day).
    Overdue { due: i64, days: i64 },
}

impl Standing {
    /// The deadline (epoch seconds), and the whole days past it when
    /// overdue; `(None, None)` without a deadline.
    pub fn deadline(self) -> (Option<i64>, Option<i64>) {
        match self {
            Standing::None => (None, None),
            Standing::Open { due } | Standing::DueSoon { due } => (Some(due), None),
            Standing::Overdue { due, days } => (Some(due), Some(days)),
        }
    }
}

impl Sla {
    /// From `(severity, days)` pairs, checked: each severity once, days
    /// from 1 to [`MAX_DAYS`]. The error says which entry is wrong.
    pub fn new(pairs: impl IntoIterator<Item = (String, i64)>) -> Result<Sla, (String, String)> {
        let mut days = BTreeMap::new();
        for (name, n) in pairs {
            let severity = Severity::from_aws(&name.to_ascii_uppercase());
            if !Severity::RANKED.contains(&severity) || severity == Severity::Informational {
                return Err((
                    name.clone(),
                    format!("`{name}` is not a severity with a deadline: use CRITICAL, HIGH, MEDIUM or LOW"),
                ));
            }
            if !(1..=MAX_DAYS).contains(&n) {
                return Err((
                    name,
                    format!("`{n}` is not a number of days from 1 to {MAX_DAYS}"),
                ));
            }
            if days.insert(severity, n).is_some() {
                return Err((name, "given twice".into()));
            }
        }
        Ok(Sla { days })
    }

    pub fn days(&self, severity: Severity) -> Option<i64> {
        self.days.get(&severity).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    /// Where a finding of `severity` first observed at `first_observed`
    /// stands at `now` (all epoch seconds).
    pub fn standing(&self, severity: Severity, first_observed: Option<i64>, now: i64) -> Standing {
        let (Some(days), Some(first)) = (self.days(severity), first_observed) else {
            return Standing::None;
        };
        let due = first + days * DAY;
        if now > due {
            Standing::Overdue {
                due,
                days: (now - due) / DAY,
            }
        } else if due - now <= DUE_SOON_DAYS * DAY {
            Standing::DueSoon { due }
        } else {
            Standing::Open { due }
        }
    }

    /// `CRITICAL 15, HIGH 30 days`.
    pub fn phrase(&self) -> String {
        let parts: Vec<String> = Severity::RANKED
            .iter()
            .rev()
            .filter_map(|s| self.days(*s).map(|d| format!("{s} {d}")))
            .collect();
        format!("{} days", parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standing_gives_its_deadline_and_the_days_past_it() {
        assert_eq!(Standing::None.deadline(), (None, None));
        assert_eq!(Standing::Open { due: 10 }.deadline(), (Some(10), None));
        assert_eq!(Standing::DueSoon { due: 20 }.deadline(), (Some(20), None));
        assert_eq!(
            Standing::Overdue { due: 5, days: 3 }.deadline(),
            (Some(5), Some(3))
        );
    }

    fn sla() -> Sla {
        Sla::new([("CRITICAL".into(), 15), ("high".into(), 30)]).unwrap()
    }

    #[test]
    fn deadlines_count_from_the_first_observation() {
        let first = 1_000 * DAY;
        let s = sla();
        assert_eq!(
            s.standing(Severity::Critical, Some(first), first + 20 * DAY),
            Standing::Overdue {
                due: first + 15 * DAY,
                days: 5
            }
        );
        assert_eq!(
            s.standing(Severity::High, Some(first), first + 25 * DAY),
            Standing::DueSoon {
                due: first + 30 * DAY
            }
        );
        assert_eq!(
            s.standing(Severity::High, Some(first), first + DAY),
            Standing::Open {
                due: first + 30 * DAY
            }
        );
        assert_eq!(
            s.standing(Severity::Medium, Some(first), first),
            Standing::None
        );
        assert_eq!(s.standing(Severity::Critical, None, first), Standing::None);
        assert_eq!(s.phrase(), "CRITICAL 15, HIGH 30 days");
    }

    #[test]
    fn bad_entries_are_named() {
        assert!(Sla::new([("SEVERE".into(), 1)])
            .unwrap_err()
            .1
            .contains("not a severity"));
        assert!(Sla::new([("INFORMATIONAL".into(), 1)]).is_err());
        assert!(Sla::new([("LOW".into(), 0)])
            .unwrap_err()
            .1
            .contains("from 1 to 3650"));
        assert!(Sla::new([("LOW".into(), 3_651)]).is_err());
        assert!(Sla::new([("LOW".into(), 9), ("low".into(), 9)])
            .unwrap_err()
            .1
            .contains("twice"));
    }
}
