//! Continuous scanning: `Inspector2 Finding` events (one per new, updated or
//! closed finding of an image already pushed), delivered in SQS batches and
//! grouped so that a burst becomes one alert per image.

use crate::domain::event::{parse_repository_arn, EventError};
use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::image::ImageRef;
use crate::domain::risk::{self, Usage};
use crate::domain::severity::Severity;
use crate::domain::time;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub const FINDING_SOURCE: &str = "aws.inspector2";
pub const FINDING_DETAIL_TYPE: &str = "Inspector2 Finding";

/// Where the finding stands in Inspector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingStatus {
    Active,
    Closed,
    Suppressed,
}

/// One finding event, read.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageFinding {
    pub image: ImageRef,
    pub finding: Finding,
    pub status: FindingStatus,
    /// When Inspector first observed the finding (`firstObservedAt`).
    pub first_observed_at: Option<DateTime<Utc>>,
    /// When the image was pushed (`awsEcrContainerImage.pushedAt`).
    pub pushed_at: Option<DateTime<Utc>>,
    /// Whether the image runs (`awsEcrContainerImage.inUseCount`,
    /// `lastInUseAt`, `pushedAt`).
    pub usage: Usage,
    /// Times present in no form AWS documents, by field, with the value:
    /// read as unknown, and reported by the caller.
    pub unreadable_times: Vec<(&'static str, String)>,
}

impl ImageFinding {
    /// Whether the finding came from the image's initial scan: first
    /// observed within `window` of the push. Inspector sends a Finding
    /// event for each finding of the initial scan too, before the
    /// `Inspector2 Scan` event that the scan path alerts on (Amazon ECR
    /// User Guide, "EventBridge events sent for enhanced scanning in Amazon
    /// ECR").
    /// Unknown times say "not initial": a finding is never dropped on a guess.
    pub fn from_initial_scan(&self, window: chrono::Duration) -> bool {
        match (self.first_observed_at, self.pushed_at) {
            (Some(first), Some(pushed)) => first - pushed <= window,
            _ => false,
        }
    }

    /// Whether the finding is news that may count towards a CVE storm: a
    /// rescan's finding (first observed more than `initial` after the
    /// push), first observed within `storm_window` of `now`. An update of
    /// a long-known finding (Inspector sends Finding events when a score or
    /// EPSS changes too), an initial scan's finding, and a finding whose
    /// push or first observation time is unknown never count.
    pub fn newly_found_by_rescan(
        &self,
        initial: chrono::Duration,
        storm_window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> bool {
        match (self.first_observed_at, self.pushed_at) {
            (Some(first), Some(pushed)) => first - pushed > initial && now - first <= storm_window,
            _ => false,
        }
    }
}

/// A value AWS fills with a placeholder: AWS's own sample Finding event
/// has `"region": "N/A"` and `"partition": "N/A"` on the image resource.
fn known(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| {
            !v.is_empty() && !v.eq_ignore_ascii_case("N/A") && !v.eq_ignore_ascii_case("null")
        })
        .map(str::to_string)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    #[serde(default)]
    severity: Option<String>,
    status: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    fix_available: Option<String>,
    #[serde(default)]
    inspector_score: Option<f64>,
    #[serde(default)]
    package_vulnerability_details: Option<VulnDetails>,
    resources: Vec<Resource>,
    #[serde(default)]
    first_observed_at: Option<Value>,
    #[serde(default)]
    exploit_available: Option<String>,
    #[serde(default)]
    epss: Option<Epss>,
}

/// Inspector's `epss` object: `{"score": 0.00044}`.
#[derive(Deserialize)]
struct Epss {
    #[serde(default)]
    score: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VulnDetails {
    #[serde(default)]
    vulnerability_id: Option<String>,
    #[serde(default)]
    vulnerable_packages: Vec<Package>,
    #[serde(default)]
    source_url: Option<String>,
}

/// One of Inspector's `vulnerablePackages` (finding events, and ECR's
/// enhanced findings, read by `adapters::aws::findings_tap`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Package {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
    #[serde(default)]
    pub(crate) fixed_in_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resource {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    region: Option<String>,
    #[serde(default)]
    details: Option<ResourceDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceDetails {
    #[serde(default)]
    aws_ecr_container_image: Option<ContainerImage>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerImage {
    repository_name: String,
    image_hash: String,
    #[serde(default)]
    image_tags: Option<Vec<String>>,
    #[serde(default)]
    registry: Option<String>,
    #[serde(default)]
    pushed_at: Option<Value>,
    #[serde(default)]
    in_use_count: Option<i64>,
    #[serde(default)]
    last_in_use_at: Option<Value>,
}

fn invalid(field: &str, problem: impl Into<String>) -> EventError {
    EventError {
        field: field.to_string(),
        problem: problem.into(),
    }
}

/// Whether a (parsed) EventBridge event is an Inspector finding event.
pub fn is_finding_event(value: &Value) -> bool {
    value.get("source").and_then(Value::as_str) == Some(FINDING_SOURCE)
        && value.get("detail-type").and_then(Value::as_str) == Some(FINDING_DETAIL_TYPE)
}

/// Reads one `Inspector2 Finding` event about a container image.
pub fn parse_finding_event(value: Value) -> Result<ImageFinding, EventError> {
    if !is_finding_event(&value) {
        return Err(invalid(
            "event",
            "not an `aws.inspector2` / `Inspector2 Finding` event",
        ));
    }
    let envelope_account = value
        .get("account")
        .and_then(Value::as_str)
        .map(str::to_string);
    let envelope_region = value
        .get("region")
        .and_then(Value::as_str)
        .map(str::to_string);
    let detail_value = value
        .get("detail")
        .cloned()
        .ok_or_else(|| invalid("event", "missing field `detail`"))?;
    let detail: Detail = serde_path_to_error::deserialize(detail_value).map_err(|e| {
        let path = e.path().to_string();
        invalid(
            &if path == "." {
                "detail".into()
            } else {
                format!("detail.{path}")
            },
            e.into_inner().to_string(),
        )
    })?;
    let (index, resource) = detail
        .resources
        .iter()
        .enumerate()
        .find(|(_, r)| r.kind == "AWS_ECR_CONTAINER_IMAGE")
        .ok_or_else(|| invalid("detail.resources", "no AWS_ECR_CONTAINER_IMAGE resource"))?;
    let field = |f: &str| format!("detail.resources[{index}].{f}");
    let container = resource
        .details
        .as_ref()
        .and_then(|d| d.aws_ecr_container_image.as_ref())
        .ok_or_else(|| invalid(&field("details.awsEcrContainerImage"), "missing"))?;
    if !container.image_hash.starts_with("sha256:") {
        return Err(invalid(
            &field("details.awsEcrContainerImage.imageHash"),
            format!("expected `sha256:<hex>`, got `{}`", container.image_hash),
        ));
    }
    if container.repository_name.trim().is_empty() {
        return Err(invalid(
            &field("details.awsEcrContainerImage.repositoryName"),
            "must not be empty",
        ));
    }
    // The resource id is `arn:<partition>:ecr:<region>:<account>:repository/<name>/sha256:…`:
    // the one place that always names the image's account and region
    // (`resources[].region` may be "N/A"). The envelope comes last: with
    // forwarding it may be another account's or region's.
    let arn = resource.id.as_deref().and_then(|id| {
        let repo_arn = id.rsplit_once("/sha256:").map_or(id, |(head, _)| head);
        parse_repository_arn(repo_arn)
    });
    let account = arn
        .as_ref()
        .map(|a| a.account.clone())
        .or_else(|| known(container.registry.as_deref()))
        .or_else(|| known(envelope_account.as_deref()))
        .ok_or_else(|| invalid("account", "missing (no image ARN, registry or account)"))?;
    let region = arn
        .as_ref()
        .map(|a| a.region.clone())
        .or_else(|| known(resource.region.as_deref()))
        .or_else(|| known(envelope_region.as_deref()))
        .ok_or_else(|| {
            invalid(
                "region",
                "missing (no image ARN, resource region or region)",
            )
        })?;
    let status = match detail.status.as_str() {
        "ACTIVE" => FindingStatus::Active,
        "CLOSED" => FindingStatus::Closed,
        "SUPPRESSED" => FindingStatus::Suppressed,
        other => {
            return Err(invalid(
                "detail.status",
                format!("`{other}` is not ACTIVE, CLOSED or SUPPRESSED"),
            ))
        }
    };
    let details = detail.package_vulnerability_details;
    let id = details
        .as_ref()
        .and_then(|d| d.vulnerability_id.clone())
        .or_else(|| detail.title.clone())
        .ok_or_else(|| {
            invalid(
                "detail.packageVulnerabilityDetails.vulnerabilityId",
                "missing",
            )
        })?;
    let mut finding = Finding::new(
        id,
        detail
            .severity
            .as_deref()
            .map_or(Severity::Undefined, Severity::from_aws),
    );
    if let Some(details) = details {
        if let Some(pkg) = details.vulnerable_packages.into_iter().next() {
            finding.set_inspector_package(pkg.name, pkg.version, pkg.fixed_in_version);
        }
        finding.link = details.source_url;
    }
    finding.score = detail.inspector_score.filter(|s| *s > 0.0);
    finding.fix_available = detail
        .fix_available
        .as_deref()
        .and_then(FixAvailable::from_aws);
    finding.title = detail.title;
    finding.exploit_available = detail
        .exploit_available
        .as_deref()
        .and_then(risk::exploit_from_aws);
    finding.epss = detail.epss.and_then(|e| e.score).and_then(risk::epss_score);
    let mut unreadable_times = Vec::new();
    let mut read_time = |name: &'static str, value: Option<&Value>| {
        value.and_then(|v| match time::read(v) {
            Ok(t) => t,
            Err(e) => {
                unreadable_times.push((name, e.value));
                None
            }
        })
    };
    let pushed_at = read_time(
        "detail.resources[].details.awsEcrContainerImage.pushedAt",
        container.pushed_at.as_ref(),
    );
    let first_observed_at = read_time("detail.firstObservedAt", detail.first_observed_at.as_ref());
    let last_in_use_at = read_time(
        "detail.resources[].details.awsEcrContainerImage.lastInUseAt",
        container.last_in_use_at.as_ref(),
    );
    Ok(ImageFinding {
        image: ImageRef {
            account,
            region,
            repository: container.repository_name.clone(),
            digest: container.image_hash.clone(),
            tags: container.image_tags.clone().unwrap_or_default(),
        },
        finding,
        status,
        first_observed_at,
        pushed_at,
        usage: Usage {
            in_use_count: container.in_use_count.and_then(|n| u64::try_from(n).ok()),
            last_in_use_at: last_in_use_at.map(|t| t.timestamp()),
            pushed_at: pushed_at.map(|t| t.timestamp()),
        },
        unreadable_times,
    })
}

/// The findings of one image in a batch, with the messages they came in.
#[derive(Debug, Default)]
pub struct ImageBatch {
    pub image: Option<ImageRef>,
    pub message_ids: Vec<String>,
    pub active: Vec<Finding>,
    /// Active findings first observed within the initial-scan window of
    /// the push: the `Inspector2 Scan` event's alert covers them.
    pub initial: Vec<Finding>,
    pub closed: Vec<Finding>,
    /// Whether the image runs, as the events say.
    pub usage: Usage,
    /// Active findings found by a rescan (first observed more than the
    /// initial-scan window after a known push), by vulnerability id (upper
    /// case), with when Inspector first observed them: the only findings
    /// that may count towards a CVE storm ([`ImageBatch::newly_found`]).
    pub rescan_first_observed: BTreeMap<String, DateTime<Utc>>,
    /// The messages of the initial scan's findings, and the latest time
    /// Inspector first observed one of them.
    pub initial_message_ids: Vec<String>,
    pub initial_observed_at: Option<DateTime<Utc>>,
}

impl ImageBatch {
    /// Whether the vulnerability `id` (upper case) is news for a CVE storm
    /// in this image: found by a rescan and first observed within
    /// `storm_window` of `now`. Initial-scan findings, updates of
    /// long-known findings and findings whose times are unknown are not.
    pub fn newly_found(
        &self,
        id: &str,
        storm_window: chrono::Duration,
        now: DateTime<Utc>,
    ) -> bool {
        self.rescan_first_observed
            .get(id)
            .is_some_and(|first| now - *first <= storm_window)
    }
}

/// Groups a batch's finding events by image (account, region, repository,
/// digest), keeping the order they arrived in; active findings of the
/// initial scan (first observed within `initial_window` of the push) are
/// set apart.
pub fn group_by_image(
    findings: Vec<(String, ImageFinding)>,
    initial_window: chrono::Duration,
) -> Vec<ImageBatch> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, ImageBatch> = BTreeMap::new();
    for (message_id, f) in findings {
        let key = crate::domain::dedup::image_key(&f.image);
        let group = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            ImageBatch::default()
        });
        let initial =
            initial_window > chrono::Duration::zero() && f.from_initial_scan(initial_window);
        if f.status == FindingStatus::Active {
            if let (Some(first), Some(pushed)) = (f.first_observed_at, f.pushed_at) {
                if first - pushed > initial_window.max(chrono::Duration::zero()) {
                    let id = f.finding.id.to_ascii_uppercase();
                    let at = group.rescan_first_observed.entry(id).or_insert(first);
                    *at = (*at).max(first);
                }
            }
        }
        // The latest event's tags win: tags move between findings of one image.
        group.image = Some(f.image);
        group.usage.merge(&f.usage);
        group.message_ids.push(message_id.clone());
        if f.status == FindingStatus::Active && initial {
            group.initial_message_ids.push(message_id.clone());
            group.initial_observed_at = group.initial_observed_at.max(f.first_observed_at);
        }
        match f.status {
            FindingStatus::Active if initial => group.initial.push(f.finding),
            FindingStatus::Active => group.active.push(f.finding),
            FindingStatus::Closed => group.closed.push(f.finding),
            FindingStatus::Suppressed => {}
        }
    }
    order
        .into_iter()
        .filter_map(|k| groups.remove(&k))
        .collect()
}

/// For each vulnerability id, how many images of the batch it is active in.
pub fn images_per_vulnerability(groups: &[ImageBatch]) -> BTreeMap<String, usize> {
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for group in groups {
        let ids: BTreeSet<String> = group
            .active
            .iter()
            .map(|f| f.id.to_ascii_uppercase())
            .collect();
        for id in ids {
            *per.entry(id).or_default() += 1;
        }
    }
    per
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../events/inspector-finding.json");

    fn sample() -> Value {
        serde_json::from_str(SAMPLE).unwrap()
    }

    #[test]
    fn reads_the_sample_finding_event() {
        let f = parse_finding_event(sample()).unwrap();
        assert_eq!(f.image.repository, "demo/api");
        assert_eq!(f.image.account, "123456789012");
        assert_eq!(f.image.region, "us-east-1");
        assert!(f.image.digest.starts_with("sha256:"));
        assert_eq!(f.image.tags, vec!["v2.4.1".to_string()]);
        assert_eq!(f.status, FindingStatus::Active);
        assert_eq!(f.finding.id, "CVE-2026-41001");
        assert_eq!(f.finding.severity, Severity::Critical);
        assert_eq!(f.finding.package_name.as_deref(), Some("openssl"));
        assert_eq!(f.finding.fixed_in.as_deref(), Some("3.0.15"));
        assert_eq!(f.finding.fix_available, Some(FixAvailable::Yes));
        // AWS's sample writes times as `Nov 27, 2026, 11:01:15 AM`.
        assert_eq!(
            f.first_observed_at.unwrap().to_rfc3339(),
            "2026-11-27T11:01:15+00:00"
        );
        assert_eq!(
            f.pushed_at.unwrap().to_rfc3339(),
            "2026-11-27T11:00:58+00:00"
        );
    }

    #[test]
    fn risk_signals_are_read_and_odd_values_are_unknown_never_no() {
        let f = parse_finding_event(sample()).unwrap();
        assert_eq!(
            f.finding.exploit_available,
            Some(false),
            "the sample says NO"
        );
        assert_eq!(f.finding.epss, None, "the sample has no epss");
        assert_eq!(f.usage.in_use_count, None, "nor usage: unknown");
        let mut v = sample();
        v["detail"]["exploitAvailable"] = "YES".into();
        v["detail"]["epss"] = serde_json::json!({"score": 0.94});
        let image = &mut v["detail"]["resources"][0]["details"]["awsEcrContainerImage"];
        image["inUseCount"] = 12.into();
        image["lastInUseAt"] = "Nov 30, 2026, 9:15:00 PM".into();
        let f = parse_finding_event(v).unwrap();
        assert_eq!(f.finding.exploit_available, Some(true));
        assert_eq!(f.finding.epss, Some(0.94));
        assert_eq!(f.usage.in_use_count, Some(12));
        assert_eq!(
            f.usage.last_in_use_at,
            Some(
                chrono::DateTime::parse_from_rfc3339("2026-11-30T21:15:00Z")
                    .unwrap()
                    .timestamp()
            )
        );
        let mut v = sample();
        v["detail"]["exploitAvailable"] = "N/A".into();
        v["detail"]["epss"] = serde_json::json!({"score": 7.5});
        let f = parse_finding_event(v).unwrap();
        assert_eq!(f.finding.exploit_available, None);
        assert_eq!(f.finding.epss, None, "not a probability: not an EPSS score");
    }

    #[test]
    fn region_and_account_come_from_the_image_arn_never_from_n_a() {
        // The sample's resource says region and partition "N/A".
        let v = sample();
        assert_eq!(v["detail"]["resources"][0]["region"], "N/A");
        let f = parse_finding_event(v).unwrap();
        assert_eq!(f.image.region, "us-east-1");
        // The image ARN wins over the envelope (forwarded events keep the
        // image's account and region in its ARN).
        let mut v = sample();
        let arn = "arn:aws-cn:ecr:cn-north-1:210987654321:repository/demo/api/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        v["detail"]["resources"][0]["id"] = arn.into();
        v["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["registry"] = "N/A".into();
        let f = parse_finding_event(v).unwrap();
        assert_eq!(
            (f.image.account.as_str(), f.image.region.as_str()),
            ("210987654321", "cn-north-1")
        );
        assert_eq!(f.image.partition().arn_name(), "aws-cn");
        // Without an ARN: the registry and the envelope, still never N/A.
        let mut v = sample();
        v["detail"]["resources"][0]["id"] = Value::Null;
        let f = parse_finding_event(v).unwrap();
        assert_eq!(f.image.region, "us-east-1");
        assert_eq!(f.image.account, "123456789012");
        let mut v = sample();
        v["detail"]["resources"][0]["id"] = Value::Null;
        v["region"] = "N/A".into();
        assert_eq!(parse_finding_event(v).unwrap_err().field, "region");
    }

    #[test]
    fn tells_the_initial_scan_from_a_rescan() {
        let window = chrono::Duration::minutes(30);
        // AWS's sample: first observed 17 s after the push.
        let initial = parse_finding_event(sample()).unwrap();
        assert!(initial.from_initial_scan(window));
        // A CVE found a week after the push.
        let mut v = sample();
        v["detail"]["firstObservedAt"] = "Dec 4, 2026, 9:15:00 PM".into();
        let rescan = parse_finding_event(v).unwrap();
        assert!(!rescan.from_initial_scan(window));
        // Unknown times never drop a finding.
        let mut v = sample();
        v["detail"]["resources"][0]["details"]["awsEcrContainerImage"]
            .as_object_mut()
            .unwrap()
            .remove("pushedAt");
        assert!(!parse_finding_event(v).unwrap().from_initial_scan(window));
        let mut v = sample();
        v["detail"]["firstObservedAt"] = "yesterday".into();
        assert!(!parse_finding_event(v).unwrap().from_initial_scan(window));
    }

    #[test]
    fn an_unreadable_time_is_reported_by_field_and_read_as_unknown() {
        let mut v = sample();
        v["detail"]["firstObservedAt"] = "yesterday".into();
        v["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["lastInUseAt"] =
            "N/A".into();
        let f = parse_finding_event(v).unwrap();
        assert_eq!(f.first_observed_at, None);
        assert_eq!(f.usage.last_in_use_at, None);
        assert_eq!(
            f.unreadable_times,
            vec![
                ("detail.firstObservedAt", "yesterday".to_string()),
                (
                    "detail.resources[].details.awsEcrContainerImage.lastInUseAt",
                    "N/A".to_string()
                )
            ]
        );
        assert!(parse_finding_event(sample())
            .unwrap()
            .unreadable_times
            .is_empty());
    }

    /// The Amazon Inspector user guide's own ECR finding sample (its times
    /// written `Wed Sep 04 16:55:38.411 UTC 2024`, its resource with the
    /// real region and partition), ids changed.
    const INSPECTOR_GUIDE_SAMPLE: &str =
        include_str!("../../events/inspector-finding-inspector-guide.json");

    #[test]
    fn reads_the_inspector_guides_sample_as_an_initial_scan_finding() {
        let f = parse_finding_event(serde_json::from_str(INSPECTOR_GUIDE_SAMPLE).unwrap()).unwrap();
        assert!(f.unreadable_times.is_empty(), "{:?}", f.unreadable_times);
        assert_eq!(
            f.first_observed_at.unwrap().to_rfc3339(),
            "2026-11-27T11:01:15.411+00:00"
        );
        assert_eq!(
            f.pushed_at.unwrap().to_rfc3339(),
            "2026-11-27T11:00:58+00:00"
        );
        assert!(f.from_initial_scan(chrono::Duration::minutes(30)));
        assert_eq!(f.image.region, "us-east-1");
        assert_eq!(f.finding.epss, Some(0.00045));
        assert_eq!(f.finding.severity, Severity::Medium);
    }

    #[test]
    fn only_a_rescans_fresh_findings_are_news_for_a_storm() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-04T21:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let (initial, storm) = (chrono::Duration::minutes(30), chrono::Duration::minutes(60));
        let group = |v: Value| {
            let f = parse_finding_event(v).unwrap();
            group_by_image(vec![("m".into(), f)], initial).remove(0)
        };
        // The initial scan's finding (the sample): never news.
        assert!(!group(sample()).newly_found("CVE-2026-41001", storm, now));
        // A rescan's finding first observed 15 minutes ago: news.
        let mut rescan = sample();
        rescan["detail"]["firstObservedAt"] = "Dec 4, 2026, 9:15:00 PM".into();
        assert!(group(rescan.clone()).newly_found("CVE-2026-41001", storm, now));
        // The same finding updated weeks later (a score or EPSS change):
        // first observed long before the window, not news.
        let later = now + chrono::Duration::days(20);
        assert!(!group(rescan).newly_found("CVE-2026-41001", storm, later));
        // Unknown push time: not news, whatever the first observation.
        let mut unknown = sample();
        unknown["detail"]["firstObservedAt"] = "Dec 4, 2026, 9:15:00 PM".into();
        unknown["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["pushedAt"] =
            "sometime".into();
        assert!(!group(unknown).newly_found("CVE-2026-41001", storm, now));
    }

    #[test]
    fn initial_scan_findings_are_set_apart_when_grouping() {
        let mut rescan = sample();
        rescan["detail"]["firstObservedAt"] = "Dec 4, 2026, 9:15:00 PM".into();
        rescan["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = "CVE-2".into();
        let events = vec![
            ("m0".to_string(), parse_finding_event(sample()).unwrap()),
            ("m1".to_string(), parse_finding_event(rescan).unwrap()),
        ];
        let groups = group_by_image(events.clone(), chrono::Duration::minutes(30));
        assert_eq!(groups[0].initial.len(), 1);
        assert_eq!(groups[0].active.len(), 1);
        assert_eq!(groups[0].active[0].id, "CVE-2");
        // A window of 0 turns the distinction off.
        let groups = group_by_image(events, chrono::Duration::zero());
        assert_eq!((groups[0].initial.len(), groups[0].active.len()), (0, 2));
    }

    #[test]
    fn errors_name_the_field() {
        let mut v = sample();
        v["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] = "abc".into();
        assert_eq!(
            parse_finding_event(v).unwrap_err().field,
            "detail.resources[0].details.awsEcrContainerImage.imageHash"
        );
        let mut v = sample();
        v["detail"]["resources"][0]["type"] = "AWS_EC2_INSTANCE".into();
        assert_eq!(
            parse_finding_event(v).unwrap_err().field,
            "detail.resources"
        );
        let mut v = sample();
        v["detail"]["status"] = serde_json::json!(3);
        assert_eq!(parse_finding_event(v).unwrap_err().field, "detail.status");
        let mut v = sample();
        v["detail-type"] = "Inspector2 Scan".into();
        assert_eq!(parse_finding_event(v).unwrap_err().field, "event");
    }

    #[test]
    fn groups_by_image_and_counts_shared_vulnerabilities() {
        let mut events = Vec::new();
        for (i, (digest, cve, status)) in [
            ("sha256:aa", "CVE-1", "ACTIVE"),
            ("sha256:bb", "CVE-1", "ACTIVE"),
            ("sha256:aa", "CVE-2", "ACTIVE"),
            ("sha256:aa", "CVE-3", "CLOSED"),
            ("sha256:cc", "CVE-1", "SUPPRESSED"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut v = sample();
            v["detail"]["resources"][0]["details"]["awsEcrContainerImage"]["imageHash"] =
                digest.into();
            v["detail"]["packageVulnerabilityDetails"]["vulnerabilityId"] = cve.into();
            v["detail"]["status"] = status.into();
            events.push((format!("m{i}"), parse_finding_event(v).unwrap()));
        }
        let groups = group_by_image(events, chrono::Duration::zero());
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].message_ids, ["m0", "m2", "m3"]);
        assert_eq!(groups[0].active.len(), 2);
        assert_eq!(groups[0].closed.len(), 1);
        assert_eq!(
            groups[2].active.len(),
            0,
            "suppressed findings are not alerted"
        );
        let shared = images_per_vulnerability(&groups);
        assert_eq!(shared["CVE-1"], 2);
        assert_eq!(shared["CVE-2"], 1);
    }
}
