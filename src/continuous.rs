//! Continuous scanning: `Inspector2 Finding` events (one per new, updated or
//! closed finding of an image already pushed), delivered in SQS batches and
//! grouped so that a burst becomes one alert per image.

use crate::event::{parse_repository_arn, EventError};
use crate::finding::{Finding, FixAvailable};
use crate::image::ImageRef;
use crate::severity::Severity;
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    fixed_in_version: Option<String>,
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
    // The resource id is `arn:aws:ecr:<region>:<account>:repository/<name>/sha256:…`.
    let arn = resource.id.as_deref().and_then(|id| {
        let repo_arn = id.rsplit_once("/sha256:").map_or(id, |(head, _)| head);
        parse_repository_arn(repo_arn)
    });
    let account = container
        .registry
        .clone()
        .or_else(|| arn.as_ref().map(|a| a.account.clone()))
        .or(envelope_account)
        .ok_or_else(|| invalid("account", "missing"))?;
    let region = resource
        .region
        .clone()
        .or_else(|| arn.as_ref().map(|a| a.region.clone()))
        .or(envelope_region)
        .ok_or_else(|| invalid("region", "missing"))?;
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
            finding.package_name = pkg.name;
            finding.package_version = pkg.version;
            finding.fixed_in = pkg
                .fixed_in_version
                .filter(|v| !v.is_empty() && v != "NotAvailable");
        }
        finding.link = details.source_url;
    }
    finding.score = detail.inspector_score.filter(|s| *s > 0.0);
    finding.fix_available = detail
        .fix_available
        .as_deref()
        .and_then(FixAvailable::from_aws);
    finding.title = detail.title;
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
    })
}

/// The findings of one image in a batch, with the messages they came in.
#[derive(Debug, Default)]
pub struct ImageBatch {
    pub image: Option<ImageRef>,
    pub message_ids: Vec<String>,
    pub active: Vec<Finding>,
    pub closed: Vec<Finding>,
}

/// Groups a batch's finding events by image (account, region, repository,
/// digest), keeping the order they arrived in.
pub fn group_by_image(findings: Vec<(String, ImageFinding)>) -> Vec<ImageBatch> {
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, ImageBatch> = BTreeMap::new();
    for (message_id, f) in findings {
        let key = crate::dedup::image_key(&f.image);
        let group = groups.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            ImageBatch::default()
        });
        // The latest event's tags win: tags move between findings of one image.
        group.image = Some(f.image);
        group.message_ids.push(message_id);
        match f.status {
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

    const SAMPLE: &str = include_str!("../events/inspector-finding.json");

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
        let groups = group_by_image(events);
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
