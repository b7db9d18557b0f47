//! Layer 2: the digest through the real ECR and SNS adapters, ECR's answers
//! from aws-smithy-mocks: two owners' repositories, an overdue finding, an
//! image scanning no longer watches, an expiring allow-list entry, and a
//! clean owner's heartbeat.

use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
use aws_sdk_ecr::operation::get_registry_scanning_configuration::GetRegistryScanningConfigurationOutput;
use aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_ecr::types::{
    FindingSeverity, ImageDetail, ImageScanFinding, ImageScanFindings, ImageScanFindingsSummary,
    ImageScanStatus, ImageScanningConfiguration, RegistryScanningConfiguration, Repository,
    ScanStatus, ScanType, Tag,
};
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::DateTime;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::ports::{BoxFuture, PolicySource, ServiceFailure};
use ecr_scan_alerts::App;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";
const DAY: i64 = 86_400;

struct Document(String);

impl PolicySource for Document {
    fn fetch(&self) -> BoxFuture<'_, Result<String, ServiceFailure>> {
        let text = self.0.clone();
        Box::pin(async move { Ok(text) })
    }
    fn name(&self) -> &str {
        "/scan-alerts/policy"
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn repository(name: &str, scan_on_push: bool) -> Repository {
    Repository::builder()
        .registry_id("123456789012")
        .repository_name(name)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(scan_on_push)
                .build(),
        )
        .build()
}

fn image(
    repository: &str,
    digest: &str,
    pushed_days_ago: i64,
    status: Option<ScanStatus>,
    counts: &[(FindingSeverity, i32)],
) -> ImageDetail {
    let mut detail = ImageDetail::builder()
        .registry_id("123456789012")
        .repository_name(repository)
        .image_digest(digest)
        .image_tags("v1")
        .image_pushed_at(DateTime::from_secs(now() - pushed_days_ago * DAY));
    if let Some(status) = status {
        detail = detail
            .image_scan_status(ImageScanStatus::builder().status(status).build())
            .image_scan_findings_summary(
                ImageScanFindingsSummary::builder()
                    .image_scan_completed_at(DateTime::from_secs(now() - DAY))
                    .set_finding_severity_counts(Some(
                        counts.iter().cloned().collect::<HashMap<_, _>>(),
                    ))
                    .build(),
            );
    }
    detail.build()
}

fn owner_tag(owner: &str) -> ListTagsForResourceOutput {
    ListTagsForResourceOutput::builder()
        .tags(Tag::builder().key("owner").value(owner).build().unwrap())
        .build()
}

#[tokio::test]
async fn each_owner_gets_one_digest_with_what_is_open_overdue_unwatched_and_expiring() {
    let scanning =
        mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration).then_output(|| {
            GetRegistryScanningConfigurationOutput::builder()
                .scanning_configuration(
                    RegistryScanningConfiguration::builder()
                        .scan_type(ScanType::Basic)
                        .build(),
                )
                .build()
        });
    let repositories = mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
        DescribeRepositoriesOutput::builder()
            .repositories(repository("pay/api", true))
            .repositories(repository("pay/batch", false))
            .repositories(repository("search/web", true))
            .build()
    });
    let pay_images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("pay/api"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                // Pushed 40 days ago (a CRITICAL's 15 days are long past),
                // pulled lately: current.
                .image_details({
                    let mut d = image(
                        "pay/api",
                        "sha256:aaa",
                        40,
                        Some(ScanStatus::Complete),
                        &[(FindingSeverity::Critical, 1), (FindingSeverity::Low, 3)],
                    );
                    d.last_recorded_pull_time = Some(DateTime::from_secs(now() - DAY));
                    d
                })
                // AWS-native basic scanning: no status or summary here; the
                // findings answer says them.
                .image_details(image("pay/api", "sha256:nnn", 2, None, &[]))
                // Pushed a year ago and never pulled: not current, not read.
                .image_details(image(
                    "pay/api",
                    "sha256:old",
                    365,
                    Some(ScanStatus::Complete),
                    &[(FindingSeverity::Critical, 9)],
                ))
                .build()
        });
    let batch_images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("pay/batch"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(image("pay/batch", "sha256:bbb", 2, None, &[]))
                .build()
        });
    let search_images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("search/web"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(image(
                    "search/web",
                    "sha256:ccc",
                    3,
                    Some(ScanStatus::Complete),
                    &[(FindingSeverity::Medium, 2)],
                ))
                .build()
        });
    let findings = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:aaa"))
        .then_output(|| {
            DescribeImageScanFindingsOutput::builder()
                .image_scan_status(
                    ImageScanStatus::builder()
                        .status(ScanStatus::Complete)
                        .build(),
                )
                .image_scan_findings(
                    ImageScanFindings::builder()
                        .findings(
                            ImageScanFinding::builder()
                                .name("CVE-2026-28001")
                                .severity(FindingSeverity::Critical)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let native = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:nnn"))
        .then_output(|| {
            DescribeImageScanFindingsOutput::builder()
                .image_scan_status(
                    ImageScanStatus::builder()
                        .status(ScanStatus::Complete)
                        .build(),
                )
                .image_scan_findings(
                    ImageScanFindings::builder()
                        .image_scan_completed_at(DateTime::from_secs(now() - DAY))
                        .findings(
                            ImageScanFinding::builder()
                                .name("CVE-2026-28002")
                                .severity(FindingSeverity::High)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let never_scanned = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:bbb"))
        .then_error(|| {
            aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsError::ScanNotFoundException(
                aws_sdk_ecr::types::error::ScanNotFoundException::builder()
                    .message("Image scan does not exist for the image")
                    .build(),
            )
        });
    let pay_tags = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_arn()
                .is_some_and(|a| a.contains(":repository/pay/"))
        })
        .then_output(|| owner_tag("payments"));
    let search_tags = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_arn()
                .is_some_and(|a| a.ends_with(":repository/search/web"))
        })
        .then_output(|| owner_tag("search"));
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[
            &scanning,
            &repositories,
            &pay_images,
            &batch_images,
            &search_images,
            &findings,
            &native,
            &never_scanned,
            &pay_tags,
            &search_tags
        ]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let store = published.clone();
    let publish = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |input| {
        store.lock().unwrap().push(input.clone());
        PublishOutput::builder().message_id("m").build()
    });
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let expires = (chrono::Utc::now() + chrono::Duration::days(5)).date_naive();
    let document = format!(
        r#"{{"version": 1, "sla": {{"CRITICAL": 15, "HIGH": 30}},
            "allow": [{{"id": "CVE-2023-1", "repository": "pay/*", "reason": "not reachable", "expires": "{expires}"}}]}}"#
    );
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        ..Config::default()
    };
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    )
    .with_policy_source(Box::new(Document(document)));

    let outcome = app
        .handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();

    assert_eq!(outcome["owners"], 2);
    assert_eq!(outcome["published"], 2);
    assert_eq!(
        outcome["images_with_findings_read"], 2,
        "the image whose summary reaches HIGH, and the one without a summary"
    );
    let published = published.lock().unwrap().clone();
    let by_owner: HashMap<String, &PublishInput> = published
        .iter()
        .map(|p| {
            (
                p.message_attributes().unwrap()["owner"]
                    .string_value()
                    .unwrap()
                    .to_string(),
                p,
            )
        })
        .collect();
    let pay = by_owner["payments"];
    let attributes = pay.message_attributes().unwrap();
    assert_eq!(attributes["alert_kind"].string_value(), Some("digest"));
    assert_eq!(attributes["severity"].string_value(), Some("CRITICAL"));
    assert_eq!(
        pay.subject(),
        Some("Digest for payments: 1 critical, 1 high open, 1 overdue")
    );
    let body = pay.message().unwrap();
    assert!(
        body.contains("1 critical, 1 high open in 3 images of 2 repositories; 1 not watched"),
        "{body}"
    );
    assert!(
        body.contains("CVE-2026-28001  CRITICAL  pay/api:v1  25 days overdue"),
        "{body}"
    );
    assert!(body.contains("pay/batch:v1 (123456789012): scan on push is off, never scanned. To do: turn scan on push on"), "{body}");
    assert!(
        body.contains(&format!(
            "CVE-2023-1 (pay/*) expires {expires}: not reachable"
        )),
        "{body}"
    );
    let search = by_owner["search"];
    assert_eq!(
        search.message_attributes().unwrap()["severity"].string_value(),
        Some("NONE")
    );
    assert_eq!(
        search.subject(),
        Some("Digest for search: nothing open at or above HIGH")
    );
    assert!(search.message().unwrap().contains(
        "nothing open at or above HIGH in 1 images of 1 repositories; every image watched"
    ));
    assert!(
        !search.message().unwrap().contains("CVE-2023-1"),
        "the entry covers pay/* only"
    );
}

#[tokio::test]
async fn a_digest_starts_from_a_schedule_and_nothing_else() {
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]);
    let app = App::new(
        Config::default(),
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    );
    let scan_event: serde_json::Value =
        serde_json::from_str(include_str!("../events/basic-scan-complete.json")).unwrap();
    let error = app.handle_digest(scan_event).await.unwrap_err();
    assert_eq!(error.error_type(), "InvalidEvent");
    assert!(error.to_string().contains("detail-type"), "{error}");
    assert!(app.handle_digest(serde_json::json!([1])).await.is_err());
}
