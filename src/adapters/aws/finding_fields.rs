//! The one mapping from ECR's findings to [`Finding`]: which field of a
//! DescribeImageScanFindings answer becomes what (Amazon ECR API Reference,
//! `ImageScanFinding` and `EnhancedImageScanFinding`). The SDK's reading
//! ([`super::ecr`]) and the HTTP client's own ([`super::findings_tap`])
//! gather the fields their way and hand them here.

use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::risk::{self, Usage};
use crate::domain::severity::Severity;

/// The id of a finding ECR gave no name or vulnerability id.
const UNNAMED: &str = "(unnamed finding)";

/// A severity as ECR writes it; absent is `UNDEFINED`.
pub(crate) fn severity(value: Option<&str>) -> Severity {
    value.map_or(Severity::Undefined, Severity::from_aws)
}

/// What a basic finding's free-form `attributes` say (keys are not
/// documented; these are the ones seen). The last value of a key wins, as
/// in the order ECR lists them.
#[derive(Debug, Default)]
pub(crate) struct BasicAttributes<S> {
    pub package_name: Option<S>,
    pub package_version: Option<S>,
    cvss3: Option<f64>,
    cvss2: Option<f64>,
}

impl<S: AsRef<str>> BasicAttributes<S> {
    /// Takes one `{key, value}` attribute into account.
    pub fn add(&mut self, key: &str, value: S) {
        match key {
            "package_name" => self.package_name = Some(value),
            "package_version" => self.package_version = Some(value),
            "CVSS3_SCORE" => self.cvss3 = value.as_ref().trim().parse::<f64>().ok(),
            "CVSS2_SCORE" => self.cvss2 = value.as_ref().trim().parse::<f64>().ok(),
            _ => {}
        }
    }

    /// The same attributes, their text made owned.
    pub fn owned(self) -> BasicAttributes<String> {
        BasicAttributes {
            package_name: self.package_name.map(|s| s.as_ref().to_string()),
            package_version: self.package_version.map(|s| s.as_ref().to_string()),
            cvss3: self.cvss3,
            cvss2: self.cvss2,
        }
    }
}

/// A basic finding: the name is the vulnerability, the description its
/// title, the URI its link; the package and the score (CVSS 3, else 2)
/// come from the attributes.
pub(crate) fn basic(
    name: Option<String>,
    severity: Severity,
    description: Option<String>,
    uri: Option<String>,
    attributes: BasicAttributes<String>,
) -> Finding {
    let mut out = Finding::new(name.unwrap_or_else(|| UNNAMED.into()), severity);
    out.title = description;
    out.link = uri;
    out.package_name = attributes.package_name;
    out.package_version = attributes.package_version;
    out.score = attributes.cvss3.or(attributes.cvss2);
    out
}

/// The fields of an enhanced (Amazon Inspector) finding the mapping uses.
#[derive(Debug, Default)]
pub(crate) struct Enhanced<'a> {
    pub severity: Option<&'a str>,
    pub vulnerability_id: Option<String>,
    pub title: Option<String>,
    /// The first of `vulnerablePackages`: name, version, fixed-in version.
    pub package: Option<(Option<String>, Option<String>, Option<String>)>,
    pub source_url: Option<String>,
    pub first_reference_url: Option<String>,
    /// `score`: the SDK reads an absent one as 0.0, which means none.
    pub score: Option<f64>,
    pub fix_available: Option<&'a str>,
    pub exploit_available: Option<&'a str>,
    /// `firstObservedAt`, epoch seconds.
    pub first_observed: Option<i64>,
}

/// An enhanced finding: the vulnerability id (else the title), the first
/// vulnerable package with its fix, the source URL (else the first
/// reference), the score, and the fix and exploit signals.
pub(crate) fn enhanced(fields: Enhanced<'_>) -> Finding {
    let id = fields
        .vulnerability_id
        .or_else(|| fields.title.clone())
        .unwrap_or_else(|| UNNAMED.into());
    let mut out = Finding::new(id, severity(fields.severity));
    if let Some((name, version, fixed_in)) = fields.package {
        out.set_inspector_package(name, version, fixed_in);
    }
    out.link = fields.source_url.or(fields.first_reference_url);
    out.score = fields.score.filter(|s| *s > 0.0);
    out.fix_available = fields.fix_available.and_then(FixAvailable::from_aws);
    out.exploit_available = fields.exploit_available.and_then(risk::exploit_from_aws);
    out.title = fields.title;
    out.first_observed = fields.first_observed;
    out
}

/// Whether the image runs, as an enhanced finding's image details say
/// (`inUseCount`, `lastInUseAt`, `pushedAt`: Amazon ECR API Reference,
/// `AwsEcrContainerImageDetails`; times in epoch seconds). A negative
/// count is no count.
pub(crate) fn usage(
    in_use_count: Option<i64>,
    last_in_use_at: Option<i64>,
    pushed_at: Option<i64>,
) -> Usage {
    Usage {
        in_use_count: in_use_count.and_then(|n| u64::try_from(n).ok()),
        last_in_use_at,
        pushed_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_basic_findings_score_is_cvss3_else_cvss2_and_unreadable_is_none() {
        let mut a = BasicAttributes::default();
        a.add("CVSS2_SCORE", "7.5");
        a.add("CVSS3_SCORE", " 9.8 ");
        a.add("package_name", "openssl");
        let f = basic(None, Severity::High, None, None, a.owned());
        assert_eq!((f.id.as_str(), f.score), (UNNAMED, Some(9.8)));
        assert_eq!(f.package_name.as_deref(), Some("openssl"));
        let mut a: BasicAttributes<&str> = BasicAttributes::default();
        a.add("CVSS2_SCORE", "n/a");
        assert_eq!(
            basic(None, Severity::Low, None, None, a.owned()).score,
            None
        );
    }

    #[test]
    fn an_enhanced_finding_falls_back_to_its_title_and_first_reference() {
        let f = enhanced(Enhanced {
            severity: Some("HIGH"),
            title: Some("CVE-1 - zlib".into()),
            first_reference_url: Some("https://example.com/1".into()),
            score: Some(0.0),
            fix_available: Some("PARTIAL"),
            exploit_available: Some("N/A"),
            ..Enhanced::default()
        });
        assert_eq!(f.id, "CVE-1 - zlib");
        assert_eq!(f.link.as_deref(), Some("https://example.com/1"));
        assert_eq!(f.score, None, "0.0 is the SDK's reading of no score");
        assert_eq!(f.fix_available, Some(FixAvailable::Partial));
        assert_eq!(f.exploit_available, None, "an odd value is unknown");
        assert_eq!(usage(Some(-1), None, Some(5)).in_use_count, None);
    }
}
