//! Which findings are worth an alert. Today: the severity threshold.

use crate::finding::Finding;
use crate::image::ImageRef;
use crate::severity::Severity;

/// What the policy says of one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// At or above the threshold: listed in the alert and triggers it.
    Alert,
    /// Ranked below the threshold: counted only.
    BelowThreshold,
    /// UNDEFINED / UNTRIAGED: counted and shown, never triggers an alert.
    Unranked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub threshold: Severity,
}

impl Policy {
    pub fn new(threshold: Severity) -> Policy {
        Policy { threshold }
    }

    /// Judges one finding of `image`. The image is part of the signature so
    /// per-repository rules can be added without changing callers.
    pub fn judge(&self, _image: &ImageRef, finding: &Finding) -> Verdict {
        if !finding.severity.is_ranked() {
            Verdict::Unranked
        } else if finding.severity >= self.threshold {
            Verdict::Alert
        } else {
            Verdict::BelowThreshold
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: "r".into(),
            digest: "sha256:00".into(),
            tags: vec![],
        }
    }

    #[test]
    fn findings_at_or_above_the_threshold_alert() {
        let policy = Policy::new(Severity::High);
        let verdict = |sev| policy.judge(&image(), &Finding::new("CVE-1", sev));
        assert_eq!(verdict(Severity::Critical), Verdict::Alert);
        assert_eq!(verdict(Severity::High), Verdict::Alert);
        assert_eq!(verdict(Severity::Medium), Verdict::BelowThreshold);
        assert_eq!(verdict(Severity::Informational), Verdict::BelowThreshold);
    }

    #[test]
    fn unranked_findings_never_alert_even_at_the_lowest_threshold() {
        let policy = Policy::new(Severity::Informational);
        for sev in [Severity::Undefined, Severity::Untriaged] {
            assert_eq!(
                policy.judge(&image(), &Finding::new("CVE-1", sev)),
                Verdict::Unranked
            );
        }
        assert_eq!(
            policy.judge(&image(), &Finding::new("CVE-1", Severity::Informational)),
            Verdict::Alert
        );
    }
}
