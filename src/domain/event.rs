//! Reading the EventBridge events that trigger the function.
//!
//! The envelope is `aws_lambda_events`' `EventBridgeEvent`; the two scan
//! details are our own types because the crate's `EcrScanEvent` rejects events
//! that AWS really sends (no severity counts, no tags) and has no Inspector type.

use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::severity::{Severity, SeverityCounts};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;

pub const BASIC_SOURCE: &str = "aws.ecr";
pub const BASIC_DETAIL_TYPE: &str = "ECR Image Scan";
pub const ENHANCED_SOURCE: &str = "aws.inspector2";
pub const ENHANCED_DETAIL_TYPE: &str = "Inspector2 Scan";

/// What arrived, once read.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Scan(ScanEvent),
    /// Some other event: acknowledged and logged, never alerted on.
    Ignored {
        source: String,
        detail_type: String,
    },
}

/// A finished (or failed) scan of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanEvent {
    pub kind: ScanKind,
    pub image: ImageRef,
    /// `scan-status` as the event says it (COMPLETE, FAILED, INITIAL_SCAN_COMPLETE, ...).
    pub status: String,
    /// The counts the event carried (absent counts are zero).
    pub counts: SeverityCounts,
    /// How many findings the scan reported in all: Inspector's `TOTAL`, or
    /// the sum of a basic event's per-severity counts; `None` when the
    /// event carried no counts.
    pub expected_total: Option<u64>,
    pub event_id: Option<String>,
}

impl ScanEvent {
    /// The event itself says the scan failed.
    pub fn reports_failure(&self) -> bool {
        self.status.eq_ignore_ascii_case("FAILED")
    }
}

/// An event that cannot be read, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event: {}{problem}", field_prefix(field))]
pub struct EventError {
    /// Path of the offending field, e.g. `detail.image-digest` (`event` for the whole).
    pub field: String,
    pub problem: String,
}

fn field_prefix(field: &str) -> String {
    if field == "event" {
        String::new()
    } else {
        format!("{field}: ")
    }
}

impl EventError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> EventError {
        EventError {
            field: field.into(),
            problem: problem.into(),
        }
    }

    fn from_serde(prefix: &str, err: serde_path_to_error::Error<serde_json::Error>) -> EventError {
        let path = err.path().to_string();
        let field = match (prefix, path.as_str()) {
            ("", ".") => "event".to_string(),
            (p, ".") => p.to_string(),
            ("", path) => path.to_string(),
            (p, path) => format!("{p}.{path}"),
        };
        EventError::new(field, err.into_inner().to_string())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ScanDetail {
    scan_status: String,
    repository_name: String,
    image_digest: String,
    #[serde(default, deserialize_with = "null_as_default")]
    image_tags: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    finding_severity_counts: BTreeMap<String, u64>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn read<T: DeserializeOwned>(prefix: &str, value: Value) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|e| EventError::from_serde(prefix, e))
}

/// Reads one event as delivered by EventBridge to Lambda.
pub fn parse(value: Value) -> Result<Incoming, EventError> {
    if !value.is_object() {
        return Err(EventError::new("event", "expected a JSON object"));
    }
    let envelope: EventBridgeEvent<Value> = read("", value)?;
    let kind = match (envelope.source.as_str(), envelope.detail_type.as_str()) {
        (BASIC_SOURCE, BASIC_DETAIL_TYPE) => ScanKind::Basic,
        (ENHANCED_SOURCE, ENHANCED_DETAIL_TYPE) => ScanKind::Enhanced,
        _ => {
            return Ok(Incoming::Ignored {
                source: envelope.source,
                detail_type: envelope.detail_type,
            })
        }
    };
    if !envelope.detail.is_object() {
        return Err(EventError::new("detail", "expected a JSON object"));
    }
    let detail: ScanDetail = read("detail", envelope.detail)?;
    let digest = non_empty("detail.image-digest", detail.image_digest)?;
    if !digest.starts_with("sha256:") {
        return Err(EventError::new(
            "detail.image-digest",
            format!("expected `sha256:<hex>`, got `{digest}`"),
        ));
    }
    let repository_field = non_empty("detail.repository-name", detail.repository_name)?;
    let (account, region, repository) = match kind {
        ScanKind::Basic => (
            envelope_field("account", envelope.account)?,
            envelope_field("region", envelope.region)?,
            repository_field,
        ),
        // Inspector names the repository by ARN; it also tells the registry's
        // account and region, which win over the envelope's.
        ScanKind::Enhanced => match parse_repository_arn(&repository_field) {
            Some(arn) => (arn.account, arn.region, arn.name),
            None if !repository_field.starts_with("arn:") => (
                envelope_field("account", envelope.account)?,
                envelope_field("region", envelope.region)?,
                repository_field,
            ),
            None => {
                return Err(EventError::new(
                    "detail.repository-name",
                    format!(
                        "expected `arn:aws:ecr:<region>:<account>:repository/<name>`, got `{repository_field}`"
                    ),
                ))
            }
        },
    };
    let mut counts = SeverityCounts::default();
    let mut listed_total: Option<u64> = None;
    let mut total_key: Option<u64> = None;
    for (name, n) in detail.finding_severity_counts {
        if name.eq_ignore_ascii_case("TOTAL") {
            total_key = Some(n);
            continue;
        }
        // Unknown keys are counted in the total: they are findings ECR
        // will return, whatever severity it calls them.
        listed_total = Some(listed_total.unwrap_or(0).saturating_add(n));
        if let Ok(sev) = name.parse::<Severity>() {
            counts.add(sev, n);
        }
    }
    let expected_total = total_key.or(listed_total);
    Ok(Incoming::Scan(ScanEvent {
        kind,
        image: ImageRef {
            account,
            region,
            repository,
            digest,
            tags: detail.image_tags,
        },
        status: detail.scan_status,
        counts,
        expected_total,
        event_id: envelope.id,
    }))
}

fn non_empty(field: &str, value: String) -> Result<String, EventError> {
    if value.trim().is_empty() {
        Err(EventError::new(field, "must not be empty"))
    } else {
        Ok(value)
    }
}

fn envelope_field(field: &str, value: Option<String>) -> Result<String, EventError> {
    non_empty(
        field,
        value.ok_or_else(|| EventError::new(field, "missing"))?,
    )
}

/// The parts of `arn:<partition>:ecr:<region>:<account>:repository/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryArn {
    pub region: String,
    pub account: String,
    pub name: String,
}

pub fn parse_repository_arn(arn: &str) -> Option<RepositoryArn> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, _partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let name = resource.strip_prefix("repository/")?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    if prefix != "arn" || service != "ecr" || region.is_empty() || !account_ok || name.is_empty() {
        return None;
    }
    Some(RepositoryArn {
        region: region.to_string(),
        account: account.to_string(),
        name: name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scan(value: Value) -> ScanEvent {
        match parse(value) {
            Ok(Incoming::Scan(scan)) => scan,
            other => panic!("expected a scan event, got {other:?}"),
        }
    }

    fn error(value: Value) -> EventError {
        parse(value).expect_err("expected an error")
    }

    const BASIC: &str = include_str!("../../events/basic-scan-complete.json");
    const BASIC_FAILED: &str = include_str!("../../events/basic-scan-failed.json");
    const BASIC_UNTAGGED: &str = include_str!("../../events/basic-scan-untagged.json");
    const ENHANCED: &str = include_str!("../../events/enhanced-scan-complete.json");

    fn fixture(text: &str) -> Value {
        serde_json::from_str(text).expect("fixture is JSON")
    }

    #[test]
    fn reads_a_basic_scan_event() {
        let event = scan(fixture(BASIC));
        assert_eq!(event.kind, ScanKind::Basic);
        assert_eq!(event.status, "COMPLETE");
        assert_eq!(event.image.account, "123456789012");
        assert_eq!(event.image.region, "us-east-1");
        assert_eq!(event.image.repository, "demo/web");
        assert!(event.image.digest.starts_with("sha256:"));
        assert_eq!(event.image.tags, vec!["3f2c1ab".to_string()]);
        assert_eq!(event.counts.get(Severity::Critical), 2);
        assert_eq!(event.counts.get(Severity::Undefined), 1);
        // A basic event has no TOTAL: the per-severity counts add up.
        assert_eq!(event.expected_total, Some(10));
    }

    #[test]
    fn reads_a_failed_scan_without_counts() {
        let event = scan(fixture(BASIC_FAILED));
        assert!(event.reports_failure());
        assert_eq!(event.counts.total(), 0);
        assert_eq!(event.expected_total, None);
    }

    #[test]
    fn reads_an_untagged_image() {
        let event = scan(fixture(BASIC_UNTAGGED));
        assert!(event.image.tags.is_empty());
    }

    #[test]
    fn takes_name_account_and_region_from_the_inspector_repository_arn() {
        let event = scan(fixture(ENHANCED));
        assert_eq!(event.kind, ScanKind::Enhanced);
        assert_eq!(event.image.repository, "demo/api");
        assert_eq!(event.image.account, "123456789012");
        assert_eq!(event.image.region, "us-east-1");
        assert_eq!(event.status, "INITIAL_SCAN_COMPLETE");
        // TOTAL is not a severity; it is what ECR should return in all.
        assert_eq!(event.counts.total(), 5);
        assert_eq!(event.counts.get(Severity::Untriaged), 1);
        assert_eq!(event.expected_total, Some(5));
    }

    #[test]
    fn null_tags_and_counts_read_as_empty() {
        let mut value = fixture(BASIC);
        value["detail"]["image-tags"] = Value::Null;
        value["detail"]["finding-severity-counts"] = Value::Null;
        let event = scan(value);
        assert!(event.image.tags.is_empty());
        assert_eq!(event.counts.total(), 0);
    }

    #[test]
    fn other_events_are_ignored() {
        let value = json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}});
        assert_eq!(
            parse(value).unwrap(),
            Incoming::Ignored {
                source: "aws.ec2".into(),
                detail_type: "EC2 Instance State-change Notification".into()
            }
        );
    }

    #[test]
    fn errors_name_the_field_at_fault() {
        let mut no_detail = fixture(BASIC);
        no_detail.as_object_mut().unwrap().remove("detail");
        assert!(error(no_detail).to_string().contains("detail"));

        let mut bad_digest = fixture(BASIC);
        bad_digest["detail"]["image-digest"] = json!(42);
        let err = error(bad_digest);
        assert_eq!(err.field, "detail.image-digest");

        let mut bad_tags = fixture(BASIC);
        bad_tags["detail"]["image-tags"] = json!("latest");
        assert_eq!(error(bad_tags).field, "detail.image-tags");

        let mut bad_count = fixture(BASIC);
        bad_count["detail"]["finding-severity-counts"]["HIGH"] = json!("many");
        assert_eq!(
            error(bad_count).field,
            "detail.finding-severity-counts.HIGH"
        );

        let mut no_account = fixture(BASIC);
        no_account.as_object_mut().unwrap().remove("account");
        assert_eq!(error(no_account).field, "account");

        let mut bad_arn = fixture(ENHANCED);
        bad_arn["detail"]["repository-name"] = json!("arn:aws:s3:::bucket");
        assert_eq!(error(bad_arn).field, "detail.repository-name");

        assert_eq!(error(json!([1, 2])).field, "event");
        assert_eq!(
            error(json!({"detail-type": "ECR Image Scan"})).field,
            "event"
        );
    }

    #[test]
    fn repository_arns_keep_slashes_in_names() {
        let arn =
            parse_repository_arn("arn:aws:ecr:eu-west-1:111122223333:repository/a/b/c").unwrap();
        assert_eq!(arn.name, "a/b/c");
        assert_eq!(arn.account, "111122223333");
        assert_eq!(arn.region, "eu-west-1");
        assert!(parse_repository_arn("arn:aws:ecr:eu-west-1:1234:repository/a").is_none());
    }
}
