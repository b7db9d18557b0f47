//! The assessment core: one image's findings judged under the policy. Both
//! Lambda paths (scan events, finding batches) and `ecr-scan-gate` build one
//! and read their verdict from it; the renderers draw alerts from it.

use crate::domain::image::ScanKind;
use crate::domain::judged::JudgedFindings;
use crate::domain::policy::{ImagePolicy, Policy};
use crate::domain::severity::Severity;

/// Who reads the notes: an alert says what was "not alerted", the gate what
/// was "not counted".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    Alert,
    Gate,
}

/// What the policy made of one image's findings.
#[derive(Debug)]
pub struct Assessment {
    pub kind: ScanKind,
    /// The scan's status as ECR (or the path) reports it.
    pub status: String,
    pub threshold: Severity,
    /// Every finding counted, the alert-worthy ones folded (most severe
    /// listed, per-package aggregates for the fix plan), what the policy
    /// removed and why.
    pub tally: JudgedFindings,
    /// Sentences for people: what the path knows (first), then what the
    /// policy did (threshold and where it came from, what it removed,
    /// expired allow-list entries, only-fixable not applicable).
    pub notes: Vec<String>,
}

impl Assessment {
    pub fn new(
        policy: &Policy,
        image_policy: &ImagePolicy<'_>,
        tally: JudgedFindings,
        kind: ScanKind,
        status: impl Into<String>,
        reader: Reader,
    ) -> Assessment {
        let notes = policy_notes(policy, image_policy, &tally, kind, reader);
        Assessment {
            kind,
            status: status.into(),
            threshold: image_policy.threshold,
            tally,
            notes,
        }
    }

    /// Findings left alert-worthy by the policy.
    pub fn alert_worthy(&self) -> u64 {
        self.tally.alert_worthy()
    }

    /// A note about the findings themselves, before the policy's.
    pub fn note_first(&mut self, note: String) {
        self.notes.insert(0, note);
    }

    /// A note after the policy's.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

fn policy_notes(
    policy: &Policy,
    image_policy: &ImagePolicy<'_>,
    tally: &JudgedFindings,
    kind: ScanKind,
    reader: Reader,
) -> Vec<String> {
    let mut notes = vec![format!(
        "Threshold: {} (from {}).",
        image_policy.threshold, image_policy.threshold_origin
    )];
    if let Some(phrase) = tally.suppressed.phrase() {
        let left_out = match reader {
            Reader::Alert => "Not alerted",
            Reader::Gate => "Not counted",
        };
        notes.push(format!("{left_out}: {phrase}."));
    }
    let expired = policy.expired_labels(&tally.expired_entries);
    if !expired.is_empty() {
        notes.push(format!(
            "Expired allow-list entries, no longer suppressing: {}.",
            expired.join("; ")
        ));
    }
    let arrived = policy.expired_labels(&tally.fix_arrived_entries);
    if !arrived.is_empty() {
        notes.push(format!(
            "A fix is now known for findings snoozed until one: {}.",
            arrived.join("; ")
        ));
    }
    if let Some((index, _)) = image_policy.risk {
        if tally.raised > 0 {
            notes.push(format!(
                "Risk rule risk[{index}] raised {} finding(s) (known exploit or EPSS).",
                tally.raised
            ));
        }
        if image_policy.uses_usage() && tally.usage.state() == crate::domain::risk::InUse::Unknown {
            notes.push(format!(
                "Risk rule risk[{index}]: whether the image runs is unknown{}, so not_in_use and only_in_use were not applied.",
                if kind == ScanKind::Basic {
                    " (basic scanning does not report it)"
                } else {
                    ""
                }
            ));
        }
    }
    if image_policy.only_fixable_inapplicable(kind) {
        notes.push(
            "only_fixable does not apply: basic scanning reports no fix information, so its findings are kept."
                .to_string(),
        );
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dedup::Known;
    use crate::domain::finding::Finding;

    fn image() -> crate::domain::image::ImageRef {
        crate::domain::image::ImageRef::sample("team/api", &["v1"])
    }

    #[test]
    fn says_what_the_policy_did_for_each_reader() {
        let policy = Policy::from_document(
            r#"{"version": 1, "threshold": "HIGH", "only_fixable": true,
                "allow": [{"id": "CVE-3", "reason": "r", "expires": "2026-01-01"},
                          {"id": "CVE-4", "reason": "r"}]}"#,
        )
        .unwrap();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let image = image();
        let applied = policy.for_image(&image, today);
        let findings = [
            ("CVE-1", Severity::Critical),
            ("CVE-2", Severity::Medium),
            ("CVE-3", Severity::High),
            ("CVE-4", Severity::High),
        ]
        .map(|(id, sev)| Finding::new(id, sev));
        let mut tally = JudgedFindings::default();
        tally.judge_all(findings.clone(), &applied, &Known::default());
        let assessment = Assessment::new(
            &policy,
            &applied,
            tally,
            ScanKind::Basic,
            "COMPLETE",
            Reader::Alert,
        );
        assert_eq!(
            assessment.alert_worthy(),
            2,
            "CVE-1, and CVE-3 whose entry expired"
        );
        assert_eq!(
            assessment.notes,
            [
                "Threshold: HIGH (from the policy document).",
                "Not alerted: 1 allow-listed, 1 below threshold.",
                "Expired allow-list entries, no longer suppressing: CVE-3, expired 2026-01-01.",
                "only_fixable does not apply: basic scanning reports no fix information, so its findings are kept.",
            ]
        );
        let mut tally = JudgedFindings::default();
        tally.judge_all(findings, &applied, &Known::default());
        let gate = Assessment::new(
            &policy,
            &applied,
            tally,
            ScanKind::Basic,
            "COMPLETE",
            Reader::Gate,
        );
        assert_eq!(
            gate.notes[1],
            "Not counted: 1 allow-listed, 1 below threshold."
        );
        assert_eq!(
            (assessment.status.as_str(), assessment.threshold),
            ("COMPLETE", Severity::High)
        );
        assert_eq!(assessment.notes.len(), 4);
    }
}
