//! Layer 2: what Amazon Inspector adds to ECR's enhanced findings (EPSS),
//! read with the Inspector adapter against the SDK's own mock client
//! (aws-smithy-mocks), alone and through the whole pipeline.

mod support;

use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::types::{ImageScanFindings, ImageScanStatus, ScanStatus};
use aws_sdk_inspector2::operation::list_findings::ListFindingsOutput;
use aws_sdk_inspector2::types::{
    AwsEcrContainerImageDetails, EpssDetails, Finding, FindingStatus, FindingType, Resource,
    ResourceDetails, ResourceType, Severity as InspectorSeverity, SortField, SortOrder,
};
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::DateTime;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::aws::inspector::{InspectorSignals, MAX_PAGES};
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::{App, Outcome};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:scan-alerts";
const ENHANCED_EVENT: &str = include_str!("../events/enhanced-scan-complete.json");
const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(2)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(2))
}

fn image() -> ImageRef {
    ImageRef {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: "demo/api".into(),
        digest: DIGEST.into(),
        tags: vec!["v2.4.1".into()],
    }
}

/// An Inspector finding as ListFindings returns it (Inspector API
/// reference, Finding), with its EPSS score and the image's usage.
fn inspector_finding(id: &str, epss: f64, in_use: Option<i64>) -> Finding {
    let image = AwsEcrContainerImageDetails::builder()
        .repository_name("demo/api")
        .image_hash(DIGEST)
        .registry("123456789012")
        .pushed_at(DateTime::from_secs(1_795_000_000))
        .set_in_use_count(in_use)
        .build()
        .unwrap();
    Finding::builder()
        .finding_arn(format!(
            "arn:aws:inspector2:us-east-1:123456789012:finding/{id}"
        ))
        .aws_account_id("123456789012")
        .r#type(FindingType::PackageVulnerability)
        .description(format!("{id} affects libcurl"))
        .severity(InspectorSeverity::Medium)
        .first_observed_at(DateTime::from_secs(1_795_000_000))
        .last_observed_at(DateTime::from_secs(1_795_000_000))
        .status(FindingStatus::Active)
        .resources(
            Resource::builder()
                .r#type(ResourceType::AwsEcrContainerImage)
                .id(format!(
                    "arn:aws:ecr:us-east-1:123456789012:repository/demo/api/{DIGEST}"
                ))
                .details(
                    ResourceDetails::builder()
                        .aws_ecr_container_image(image)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .package_vulnerability_details(
            aws_sdk_inspector2::types::PackageVulnerabilityDetails::builder()
                .vulnerability_id(id)
                .source("NVD")
                .build()
                .unwrap(),
        )
        .epss(EpssDetails::builder().score(epss).build())
        .build()
        .unwrap()
}

fn inspector_page(findings: Vec<Finding>, next: Option<&str>) -> ListFindingsOutput {
    ListFindingsOutput::builder()
        .set_findings(Some(findings))
        .set_next_token(next.map(str::to_string))
        .build()
}

fn signals_client(rules: &[&Rule]) -> InspectorSignals {
    InspectorSignals::new(inspector(rules))
}

fn inspector(rules: &[&Rule]) -> aws_sdk_inspector2::Client {
    mock_client!(aws_sdk_inspector2, RuleMode::Sequential, rules, |c| c
        .retry_config(retry()))
}

#[tokio::test]
async fn the_image_is_asked_for_its_active_package_findings_highest_epss_first() {
    let first = mock!(aws_sdk_inspector2::Client::list_findings)
        .match_requests(|req| {
            let c = req.filter_criteria().unwrap();
            let one = |f: &[aws_sdk_inspector2::types::StringFilter]| f[0].value().to_string();
            let sort = req.sort_criteria().unwrap();
            one(c.ecr_image_hash()) == DIGEST
                && one(c.ecr_image_repository_name()) == "demo/api"
                && one(c.aws_account_id()) == "123456789012"
                && one(c.finding_status()) == "ACTIVE"
                && one(c.finding_type()) == "PACKAGE_VULNERABILITY"
                && *sort.field() == SortField::EpssScore
                && *sort.sort_order() == SortOrder::Desc
                && req.max_results() == Some(100)
                && req.next_token().is_none()
        })
        .then_output(|| {
            inspector_page(
                vec![
                    inspector_finding("CVE-2026-1001", 0.94, Some(0)),
                    inspector_finding("cve-2026-1002", 0.31, Some(3)),
                ],
                Some("page-2"),
            )
        });
    let second = mock!(aws_sdk_inspector2::Client::list_findings)
        .match_requests(|req| req.next_token() == Some("page-2"))
        .then_output(|| inspector_page(vec![inspector_finding("CVE-2026-1003", 0.02, None)], None));
    let signals = signals_client(&[&first, &second])
        .read(&image())
        .await
        .unwrap();
    assert_eq!(signals.epss.get("CVE-2026-1001"), Some(&0.94));
    assert_eq!(
        signals.epss.get("CVE-2026-1002"),
        Some(&0.31),
        "ids match whatever their case"
    );
    assert_eq!(signals.epss.len(), 3);
    assert_eq!(signals.usage.in_use_count, Some(3), "the highest count");
    assert_eq!(signals.unread_at_most, None, "every page read");
}

#[tokio::test]
async fn reading_stops_after_the_page_budget_and_says_how_high_the_rest_score() {
    // Exactly the budget: one page more finds no rule and fails the test.
    let endless = mock!(aws_sdk_inspector2::Client::list_findings)
        .sequence()
        .output(|| {
            inspector_page(
                vec![
                    inspector_finding("CVE-2026-1", 0.5, None),
                    inspector_finding("CVE-2026-2", 0.25, None),
                ],
                Some("more"),
            )
        })
        .times(MAX_PAGES as usize)
        .build();
    let signals = signals_client(&[&endless]).read(&image()).await.unwrap();
    assert_eq!(endless.num_calls(), MAX_PAGES as usize);
    assert_eq!(signals.unread_at_most, Some(0.25));
}

/// The five findings the enhanced sample event counts.
fn ecr_page() -> DescribeImageScanFindingsOutput {
    DescribeImageScanFindingsOutput::builder()
        .image_scan_status(
            ImageScanStatus::builder()
                .status(ScanStatus::Active)
                .build(),
        )
        .image_scan_findings(
            ImageScanFindings::builder()
                .set_enhanced_findings(Some(support::all_five()))
                .build(),
        )
        .build()
}

async fn pipeline(inspector_rules: &[&Rule]) -> (Outcome, Vec<PublishInput>) {
    let ecr_rule = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_output(ecr_page);
    let published = Arc::new(Mutex::new(Vec::new()));
    let store = published.clone();
    let sns_rule = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
        store.lock().unwrap().push(req.clone());
        PublishOutput::builder().message_id("msg-1").build()
    });
    // The repository has no owner tag.
    let tags_rule = mock!(aws_sdk_ecr::Client::list_tags_for_resource).then_output(|| {
        aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput::builder().build()
    });
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&ecr_rule, &tags_rule]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&sns_rule]);
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        threshold: Severity::High,
        findings_wait_seconds: 0,
        ..Config::default()
    };
    let source = EcrFindings::new(ecr).with_inspector(inspector(inspector_rules));
    let app = App::new(config, source, SnsAlerts::new(sns, TOPIC, None));
    let outcome = app
        .handle(serde_json::from_str(ENHANCED_EVENT).unwrap())
        .await
        .unwrap();
    let published = published.lock().unwrap().clone();
    (outcome, published)
}

#[tokio::test]
async fn the_alert_shows_inspectors_epss_beside_ecrs_findings() {
    let rule = mock!(aws_sdk_inspector2::Client::list_findings).then_output(|| {
        inspector_page(
            vec![
                inspector_finding("CVE-2026-1001", 0.94, Some(12)),
                inspector_finding("CVE-2026-1000", 0.12, Some(12)),
            ],
            None,
        )
    });
    let (_, published) = pipeline(&[&rule]).await;
    let body = published[0].message().unwrap();
    assert!(body.contains("CVE-2026-1001"), "{body}");
    assert!(body.contains("EPSS 0.94"), "{body}");
    assert!(body.contains("EPSS 0.12"), "{body}");
    assert!(
        body.contains("Image in use: running on ECS or EKS (in use: 12)."),
        "ECR said nothing of usage: Inspector's word\n{body}"
    );
    let listed = body.split("FINDINGS AT OR ABOVE").nth(1).unwrap();
    let critical = listed.find("CVE-2026-1000").unwrap();
    let likely = listed.find("CVE-2026-1001").unwrap();
    let other = listed.find("CVE-2026-1002").unwrap();
    assert!(
        critical < likely && likely < other,
        "by severity, then EPSS: {listed}"
    );
}

#[tokio::test]
async fn without_inspectors_answer_the_alert_still_goes_and_says_why_epss_is_missing() {
    // AccessDeniedException is not in ListFindings' modelled errors: it
    // comes as the service writes it.
    let denied = mock!(aws_sdk_inspector2::Client::list_findings).then_http_response(|| {
        let mut response = HttpResponse::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::from(
                r#"{"message": "User is not authorized to perform: inspector2:ListFindings"}"#,
            ),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", "AccessDeniedException");
        response
    });
    let (outcome, published) = pipeline(&[&denied]).await;
    assert_eq!(outcome.message_id.as_deref(), Some("msg-1"));
    let body = published[0].message().unwrap();
    assert!(
        body.contains("EPSS scores could not be read from Amazon Inspector")
            && body.contains("inspector2:ListFindings"),
        "{body}"
    );
    assert!(!body.contains("EPSS 0."), "{body}");
}
