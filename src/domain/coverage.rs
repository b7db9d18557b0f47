//! What Amazon Inspector says of a registry's images under enhanced
//! scanning: which it covers and why not (`ListCoverage`), whether they run,
//! and how many findings each has by severity (`ListFindingAggregations`,
//! `AWS_ECR_CONTAINER`). Plain data and the rules the digest applies to it;
//! the reading is the adapter's (`adapters::aws::inspector_coverage`).

use crate::domain::severity::Severity;
use std::collections::HashMap;

const DAY: i64 = 86_400;

/// One image as `ListCoverage` gives it (Inspector API Reference,
/// `CoveredResource`, `ScanStatus`, `EcrContainerImageMetadata`); times in
/// epoch seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageCoverage {
    /// The image's account (`accountId`).
    pub account: String,
    /// `scanStatus.statusCode`: `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// `scanStatus.reason`, e.g. `SUCCESSFUL`, `SCAN_ELIGIBILITY_EXPIRED`.
    pub reason: String,
    pub last_scanned_at: Option<i64>,
    /// `resourceMetadata.ecrImage.imagePulledAt`.
    pub pulled_at: Option<i64>,
    /// `resourceMetadata.ecrImage.lastInUseAt`.
    pub last_in_use_at: Option<i64>,
    /// `resourceMetadata.ecrImage.inUseCount`.
    pub in_use_count: Option<u64>,
    pub tags: Vec<String>,
}

/// `SeverityCounts` of an `AwsEcrContainerAggregationResponse`: every
/// member optional in the Inspector API Reference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AggregatedCounts {
    pub all: Option<u64>,
    pub critical: Option<u64>,
    pub high: Option<u64>,
    pub medium: Option<u64>,
    pub low: Option<u64>,
    pub informational: Option<u64>,
    pub untriaged: Option<u64>,
}

/// One image as `ListFindingAggregations` (`AWS_ECR_CONTAINER`) gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageAggregation {
    pub account: String,
    pub counts: AggregatedCounts,
    pub last_in_use_at: Option<i64>,
    pub in_use_count: Option<u64>,
}

/// What Inspector says of one registry's images, by repository and digest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryCoverage {
    pub images: HashMap<(String, String), ImageCoverage>,
    pub aggregations: HashMap<(String, String), ImageAggregation>,
}

impl RegistryCoverage {
    pub fn image(&self, repository: &str, digest: &str) -> Option<&ImageCoverage> {
        self.images
            .get(&(repository.to_string(), digest.to_string()))
    }

    pub fn aggregation(&self, repository: &str, digest: &str) -> Option<&ImageAggregation> {
        self.aggregations
            .get(&(repository.to_string(), digest.to_string()))
    }

    /// Whether Inspector saw the image in use: running now (`inUseCount`
    /// above 0) or last in use within `days` (Inspector API Reference,
    /// `EcrContainerImageMetadata`, `AwsEcrContainerAggregationResponse`;
    /// Amazon ECS tasks and Amazon EKS pods only), or pulled within `days`
    /// (`imagePulledAt`).
    pub fn seen_in_use(&self, repository: &str, digest: &str, now: i64, days: i64) -> bool {
        let since = now - days * DAY;
        let recent = |t: Option<i64>| t.is_some_and(|t| t >= since);
        let running = |n: Option<u64>| n.is_some_and(|n| n > 0);
        let coverage = self.image(repository, digest).is_some_and(|c| {
            running(c.in_use_count) || recent(c.last_in_use_at) || recent(c.pulled_at)
        });
        let aggregation = self
            .aggregation(repository, digest)
            .is_some_and(|a| running(a.in_use_count) || recent(a.last_in_use_at));
        coverage || aggregation
    }
}

/// The `ScanStatus` reasons the Inspector API Reference documents
/// (`ScanStatus`, `reason`), with what to do about an image Inspector does
/// not watch for each. Reasons of other resource types (EC2, Lambda, code
/// repositories) are documented too: an image shows them only if Inspector
/// changes, and each still says where to look.
pub const REASONS: &[(&str, &str)] = &[
    ("PENDING_INITIAL_SCAN", "wait for Inspector's first scan; if it stays pending for more than a day, look at the image's coverage in the Inspector console"),
    ("SCAN_IN_PROGRESS", "wait for the scan to finish"),
    ("SUCCESSFUL", "nothing: Inspector scanned it"),
    ("SCAN_ELIGIBILITY_EXPIRED", "push it again, or raise Inspector's ECR re-scan duration (pull date or push date), if it still runs"),
    ("SCAN_FREQUENCY_MANUAL", "add the repository to a continuous or scan-on-push rule of the registry's enhanced scanning configuration"),
    ("SCAN_FREQUENCY_SCAN_ON_PUSH", "make the repository's scanning rule continuous to have it rescanned when new vulnerabilities are published"),
    ("UNSUPPORTED_OS", "rebuild it on a base image whose OS, architecture and manifest type Inspector supports"),
    ("UNSUPPORTED_MEDIA_TYPE", "push it with a Docker v2 or OCI manifest Inspector supports"),
    ("UNSUPPORTED_CONFIG_FILE", "rebuild it with an image configuration Inspector supports"),
    ("UNSUPPORTED_RUNTIME", "rebuild it on a runtime Inspector supports"),
    ("UNSUPPORTED_LANGUAGE", "rebuild it with packages of a language Inspector supports"),
    ("UNSUPPORTED_CODE_ARTIFACTS", "rebuild it with artifacts Inspector supports"),
    ("IMAGE_SIZE_EXCEEDED", "make the image smaller: Inspector does not scan it at this size"),
    ("IMAGE_ARCHIVED", "restore it from archive if it still runs: Inspector does not scan archived images"),
    ("INVALID_ARTIFACT", "rebuild and push it again: Inspector could not extract it"),
    ("EXTRACTION_COLLECTION_TIME_LIMIT_EXCEEDED", "make the image smaller or simpler: Inspector could not extract it in time"),
    ("STORAGE_LIMIT_EXCEEDED", "make the image smaller: Inspector could not extract it"),
    ("ACCESS_DENIED", "let Inspector read the repository: its repository policy or an SCP denies it"),
    ("ACCESS_DENIED_TO_ENCRYPTION_KEY", "let Inspector use the repository's KMS key (its key policy)"),
    ("EXCLUDED_BY_TAG", "remove the tag that excludes it from Inspector, if it should be scanned"),
    ("PENDING_DISABLE", "turn enhanced scanning (Inspector's ECR scanning) on again for the account if it should be scanned"),
    ("RESOURCE_TERMINATED", "nothing if the image was deleted; else look at it in the Inspector console"),
    ("INTERNAL_ERROR", "wait: Inspector resumes scanning by itself; if it lasts, contact AWS Support"),
    ("NO_RESOURCES_FOUND", "look at the image's coverage in the Inspector console"),
    ("PENDING_REVIVAL_SCAN", "wait for Inspector's new scan"),
    ("STALE_INVENTORY", "look at the image's coverage in the Inspector console"),
    ("NO_INVENTORY", "look at the image's coverage in the Inspector console"),
    ("UNMANAGED_EC2_INSTANCE", "look at the image's coverage in the Inspector console"),
    ("EC2_INSTANCE_STOPPED", "look at the image's coverage in the Inspector console"),
    ("DEEP_INSPECTION_PACKAGE_COLLECTION_LIMIT_EXCEEDED", "look at the image's coverage in the Inspector console"),
    ("DEEP_INSPECTION_DAILY_SSM_INVENTORY_LIMIT_EXCEEDED", "look at the image's coverage in the Inspector console"),
    ("DEEP_INSPECTION_COLLECTION_TIME_LIMIT_EXCEEDED", "look at the image's coverage in the Inspector console"),
    ("DEEP_INSPECTION_NO_INVENTORY", "look at the image's coverage in the Inspector console"),
    ("AGENTLESS_INSTANCE_STORAGE_LIMIT_EXCEEDED", "look at the image's coverage in the Inspector console"),
    ("AGENTLESS_INSTANCE_COLLECTION_TIME_LIMIT_EXCEEDED", "look at the image's coverage in the Inspector console"),
    ("INTEGRATION_CONNECTION_LOST", "look at the image's coverage in the Inspector console"),
    ("NO_SCAN_CONFIGURATION_ASSOCIATED", "look at the image's coverage in the Inspector console"),
    ("RESOURCE_UNMANAGED", "look at the image's coverage in the Inspector console"),
    ("RESOURCE_STOPPED", "look at the image's coverage in the Inspector console"),
];

/// What to do for an image Inspector lists under a reason the API
/// Reference does not document.
pub const UNDOCUMENTED_REASON: &str = "look at the image's coverage in the Inspector console: the Inspector API Reference does not document this reason";

/// Whether `reason` is one the Inspector API Reference documents.
pub fn is_documented(reason: &str) -> bool {
    REASONS.iter().any(|(r, _)| *r == reason)
}

/// What to do about an image Inspector does not watch for `reason`.
pub fn to_do(reason: &str) -> &'static str {
    REASONS
        .iter()
        .find(|(r, _)| *r == reason)
        .map_or(UNDOCUMENTED_REASON, |(_, what)| what)
}

/// Whether Inspector watches the image: `ACTIVE` with a documented reason.
/// `INACTIVE`, a status code the reference does not list, or `ACTIVE` with
/// an undocumented reason is not watched: never read as watched on a guess.
pub fn watches(coverage: &ImageCoverage) -> bool {
    coverage.status == "ACTIVE" && is_documented(&coverage.reason)
}

impl AggregatedCounts {
    /// Whether the image has findings at or above `threshold`, so that its
    /// findings must be read. The counts the answer leaves out are not read
    /// as zero below MEDIUM: when `low` (or `informational`) is missing and
    /// `all` is more than the severities given, the findings are read.
    pub fn reaches(&self, threshold: Severity) -> bool {
        let given = |s: Severity| match s {
            Severity::Critical => self.critical,
            Severity::High => self.high,
            Severity::Medium => self.medium,
            Severity::Low => self.low,
            Severity::Informational => self.informational,
            _ => None,
        };
        if Severity::RANKED
            .iter()
            .any(|s| *s >= threshold && given(*s).unwrap_or(0) > 0)
        {
            return true;
        }
        let missing_below_medium = Severity::RANKED
            .iter()
            .any(|s| *s >= threshold && *s < Severity::Medium && given(*s).is_none());
        if !missing_below_medium {
            return false;
        }
        let counted: u64 = [
            self.critical,
            self.high,
            self.medium,
            self.low,
            self.informational,
            self.untriaged,
        ]
        .iter()
        .map(|n| n.unwrap_or(0))
        .sum();
        self.all.unwrap_or(0) > counted
    }
}

/// The repository name and digest of an image ARN
/// (`arn:aws:ecr:REGION:ACCOUNT:repository/NAME/sha256:...`), the
/// `resourceId` of `CoveredResource` and `AwsEcrContainerAggregationResponse`.
pub fn image_of_arn(arn: &str) -> Option<(String, String)> {
    let (_, path) = arn.split_once(":repository/")?;
    let (repository, digest) = path.rsplit_once("/sha256:")?;
    if repository.is_empty() || digest.is_empty() {
        return None;
    }
    Some((repository.to_string(), format!("sha256:{digest}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;

    #[test]
    fn an_image_arn_names_its_repository_and_digest() {
        assert_eq!(
            image_of_arn("arn:aws:ecr:us-east-1:123456789012:repository/team/app/sha256:abc"),
            Some(("team/app".into(), "sha256:abc".into()))
        );
        assert_eq!(
            image_of_arn("arn:aws:ecr:us-east-1:123456789012:repository/app"),
            None
        );
    }

    #[test]
    fn inactive_or_undocumented_is_not_watched_with_what_to_do() {
        let mut c = ImageCoverage {
            status: "ACTIVE".into(),
            reason: "SUCCESSFUL".into(),
            ..ImageCoverage::default()
        };
        assert!(watches(&c));
        c.reason = "PENDING_INITIAL_SCAN".into();
        assert!(watches(&c));
        c.reason = "SOMETHING_NEW".into();
        assert!(
            !watches(&c),
            "an undocumented reason is never read as watched"
        );
        assert_eq!(to_do("SOMETHING_NEW"), UNDOCUMENTED_REASON);
        c.status = "INACTIVE".into();
        c.reason = "SCAN_ELIGIBILITY_EXPIRED".into();
        assert!(!watches(&c));
        assert!(to_do("SCAN_ELIGIBILITY_EXPIRED").starts_with("push it again"));
        assert!(to_do("UNSUPPORTED_OS").contains("base image"));
        c.status = "PAUSED".into();
        c.reason = "SUCCESSFUL".into();
        assert!(!watches(&c), "a status code the reference does not list");
    }

    #[test]
    fn every_documented_reason_has_what_to_do() {
        for (reason, what) in REASONS {
            assert!(!what.is_empty(), "{reason}");
            assert_eq!(to_do(reason), *what);
        }
    }

    #[test]
    fn seen_in_use_lately_or_running_now() {
        let key = ("app".to_string(), "sha256:1".to_string());
        let mut coverage = RegistryCoverage::default();
        coverage.images.insert(
            key.clone(),
            ImageCoverage {
                last_in_use_at: Some(NOW - 40 * DAY),
                ..ImageCoverage::default()
            },
        );
        assert!(!coverage.seen_in_use("app", "sha256:1", NOW, 30));
        coverage.images.get_mut(&key).unwrap().last_in_use_at = Some(NOW - 2 * DAY);
        assert!(coverage.seen_in_use("app", "sha256:1", NOW, 30));
        coverage.images.get_mut(&key).unwrap().last_in_use_at = None;
        coverage.aggregations.insert(
            key,
            ImageAggregation {
                in_use_count: Some(2),
                ..ImageAggregation::default()
            },
        );
        assert!(coverage.seen_in_use("app", "sha256:1", NOW, 30));
        assert!(!coverage.seen_in_use("app", "sha256:2", NOW, 30));
    }

    #[test]
    fn aggregated_counts_decide_whether_findings_are_read() {
        let medium_only = AggregatedCounts {
            all: Some(3),
            critical: Some(0),
            high: Some(0),
            medium: Some(3),
            ..AggregatedCounts::default()
        };
        assert!(!medium_only.reaches(Severity::High));
        assert!(medium_only.reaches(Severity::Medium));
        assert!(medium_only.reaches(Severity::Low), "MEDIUM is above LOW");
        let with_unlisted = AggregatedCounts {
            all: Some(5),
            ..medium_only
        };
        assert!(!with_unlisted.reaches(Severity::High));
        assert!(
            with_unlisted.reaches(Severity::Low),
            "two findings below MEDIUM, counted in `all` only"
        );
        let clean_above = AggregatedCounts {
            all: Some(2),
            critical: Some(0),
            high: Some(0),
            medium: Some(0),
            ..AggregatedCounts::default()
        };
        assert!(!clean_above.reaches(Severity::Medium));
        assert!(clean_above.reaches(Severity::Low));
        let with_low = AggregatedCounts {
            low: Some(0),
            untriaged: Some(2),
            ..clean_above
        };
        assert!(!with_low.reaches(Severity::Low), "the two are untriaged");
        let critical = AggregatedCounts {
            critical: Some(1),
            ..AggregatedCounts::default()
        };
        assert!(critical.reaches(Severity::Critical));
    }
}
