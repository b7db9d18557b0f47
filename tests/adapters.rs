//! Layer 2: the ECR and SNS adapters against the SDK's own mock client
//! (aws-smithy-mocks), driven through the whole pipeline.

mod support;

use aws_sdk_ecr::operation::describe_image_scan_findings::{
    DescribeImageScanFindingsError, DescribeImageScanFindingsOutput,
};
use aws_sdk_ecr::types::error::ImageNotFoundException;
use aws_sdk_ecr::types::{
    Attribute, EnhancedImageScanFinding, FindingSeverity, ImageScanFinding, ImageScanFindings,
    ImageScanStatus, ScanStatus,
};
use aws_sdk_sns::operation::publish::{PublishError, PublishInput, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::{App, HandlerError, Outcome};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{all_five, enhanced};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:scan-alerts";
const BASIC_EVENT: &str = include_str!("../events/basic-scan-complete.json");
const ENHANCED_EVENT: &str = include_str!("../events/enhanced-scan-complete.json");
const FAILED_EVENT: &str = include_str!("../events/basic-scan-failed.json");

fn retry() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5))
}

fn basic(id: &str, severity: FindingSeverity) -> ImageScanFinding {
    ImageScanFinding::builder()
        .name(id)
        .severity(severity)
        .uri(format!("https://security-tracker.debian.org/tracker/{id}"))
        .attributes(
            Attribute::builder()
                .key("package_name")
                .value("openssl")
                .build()
                .unwrap(),
        )
        .attributes(
            Attribute::builder()
                .key("package_version")
                .value("3.0.2")
                .build()
                .unwrap(),
        )
        .attributes(
            Attribute::builder()
                .key("CVSS3_SCORE")
                .value("9.8")
                .build()
                .unwrap(),
        )
        .build()
}

fn complete() -> ImageScanStatus {
    ImageScanStatus::builder()
        .status(ScanStatus::Complete)
        .build()
}

fn basic_page(
    findings: Vec<ImageScanFinding>,
    next: Option<&str>,
) -> DescribeImageScanFindingsOutput {
    DescribeImageScanFindingsOutput::builder()
        .image_scan_status(complete())
        .image_scan_findings(
            ImageScanFindings::builder()
                .set_findings(Some(findings))
                .build(),
        )
        .set_next_token(next.map(str::to_string))
        .build()
}

fn enhanced_page(
    findings: Vec<EnhancedImageScanFinding>,
    next: Option<&str>,
) -> DescribeImageScanFindingsOutput {
    DescribeImageScanFindingsOutput::builder()
        .image_scan_status(
            ImageScanStatus::builder()
                .status(ScanStatus::Active)
                .build(),
        )
        .image_scan_findings(
            ImageScanFindings::builder()
                .set_enhanced_findings(Some(findings))
                .build(),
        )
        .set_next_token(next.map(str::to_string))
        .build()
}

/// Captures what was published to SNS.
#[derive(Clone, Default)]
struct Published(Arc<Mutex<Vec<PublishInput>>>);

impl Published {
    fn rule(&self) -> aws_smithy_mocks::Rule {
        let store = self.0.clone();
        mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
            store.lock().unwrap().push(req.clone());
            PublishOutput::builder().message_id("msg-1").build()
        })
    }

    fn all(&self) -> Vec<PublishInput> {
        self.0.lock().unwrap().clone()
    }
}

/// The settings of these tests: no re-reading of lagging findings (tests
/// of that set their own budget).
fn config(threshold: Severity) -> Config {
    Config {
        alert_topic_arn: TOPIC.into(),
        threshold,
        findings_wait_seconds: 0,
        ..Config::default()
    }
}

fn event(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

async fn run(
    ecr_rules: &[&aws_smithy_mocks::Rule],
    sns_rules: &[&aws_smithy_mocks::Rule],
    threshold: Severity,
    text: &str,
) -> Result<Outcome, HandlerError> {
    run_with(config(threshold), ecr_rules, sns_rules, text).await
}

/// The repository's tags as ECR answers `ListTagsForResource`: `owner=payments`.
fn owner_tag() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(|req| {
            req.resource_arn().is_some_and(|arn| {
                arn.starts_with("arn:aws:ecr:us-east-1:123456789012:repository/demo/")
            })
        })
        .then_output(|| {
            aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .tags(
                    aws_sdk_ecr::types::Tag::builder()
                        .key("cost-centre")
                        .value("42")
                        .build()
                        .unwrap(),
                )
                .tags(
                    aws_sdk_ecr::types::Tag::builder()
                        .key("owner")
                        .value("payments")
                        .build()
                        .unwrap(),
                )
                .build()
        })
}

async fn run_with(
    config: Config,
    ecr_rules: &[&aws_smithy_mocks::Rule],
    sns_rules: &[&aws_smithy_mocks::Rule],
    text: &str,
) -> Result<Outcome, HandlerError> {
    let tags = owner_tag();
    run_tagged(config, &tags, ecr_rules, sns_rules, text).await
}

/// The same, the repository's tags read by `tags` first.
async fn run_tagged(
    config: Config,
    tags: &aws_smithy_mocks::Rule,
    ecr_rules: &[&aws_smithy_mocks::Rule],
    sns_rules: &[&aws_smithy_mocks::Rule],
    text: &str,
) -> Result<Outcome, HandlerError> {
    let ecr_rules: Vec<&aws_smithy_mocks::Rule> = std::iter::once(tags)
        .chain(ecr_rules.iter().copied())
        .collect();
    // The tag read runs beside the findings reads: matched by operation,
    // each rule's own answers in their order.
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &ecr_rules, |c| c
        .retry_config(retry()));
    let sns = mock_client!(aws_sdk_sns, RuleMode::Sequential, sns_rules, |c| c
        .retry_config(retry()));
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    );
    app.handle(event(text)).await
}

fn waiting(seconds: u64) -> Config {
    Config {
        findings_wait_seconds: seconds,
        ..config(Severity::High)
    }
}

#[tokio::test]
async fn findings_that_lag_the_scan_event_are_read_again_until_complete() {
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .output(|| enhanced_page(all_five()[1..3].to_vec(), None))
        .output(|| enhanced_page(all_five(), None))
        .build();
    let published = Published::default();
    let outcome = run_with(waiting(10), &[&pages], &[&published.rule()], ENHANCED_EVENT)
        .await
        .unwrap();
    assert_eq!(pages.num_calls(), 2, "read again once, then complete");
    let [alert] = &published.all()[..] else {
        panic!("one alert expected")
    };
    assert!(alert
        .subject()
        .unwrap()
        .starts_with("CRITICAL: 1 critical, 2 high in demo/api"));
    assert!(!alert.message().unwrap().contains("Incomplete"));
    assert_eq!(outcome.alert_worthy, Some(3));
}

#[tokio::test]
async fn findings_still_missing_after_the_budget_alert_with_a_line_saying_so() {
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .output(|| enhanced_page(all_five()[1..3].to_vec(), None))
        .repeatedly()
        .build();
    let published = Published::default();
    run_with(waiting(1), &[&pages], &[&published.rule()], ENHANCED_EVENT)
        .await
        .unwrap();
    assert!(pages.num_calls() >= 2, "read again within the budget");
    let [alert] = &published.all()[..] else {
        panic!("one alert expected")
    };
    assert!(alert
        .subject()
        .unwrap()
        .starts_with("HIGH: 2 high in demo/api"));
    assert!(
        alert.message().unwrap().contains(
            "Incomplete: the scan reported 5 finding(s); ECR has returned 2 so far (3 not yet readable after waiting 1 s)"
        ),
        "{}",
        alert.message().unwrap()
    );
}

#[tokio::test]
async fn counted_critical_findings_that_never_arrive_are_not_a_quiet_pass() {
    // ECR returns only the medium finding; the event counted a critical.
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .then_output(|| enhanced_page(all_five()[3..4].to_vec(), None));
    let published = Published::default();
    let outcome = run_with(waiting(0), &[&pages], &[&published.rule()], ENHANCED_EVENT)
        .await
        .unwrap();
    let [alert] = &published.all()[..] else {
        panic!("one alert expected, got {outcome:?}")
    };
    assert!(alert
        .subject()
        .unwrap()
        .starts_with("Scan FINDINGS_INCOMPLETE: demo/api"));
    let text = alert.message().unwrap();
    assert!(
        text.contains(
            "The scan reported 5 finding(s), 3 of them at or above HIGH, but ECR returned only 1"
        ),
        "{text}"
    );
}

#[tokio::test]
async fn basic_findings_over_three_pages_alert_on_the_last_page_critical() {
    let low = |p: usize| -> Vec<_> {
        (0..1000)
            .map(|i| basic(&format!("CVE-2020-{p}{i:04}"), FindingSeverity::Low))
            .collect()
    };
    let mut last = low(3);
    last.truncate(10);
    last.push(basic("CVE-2026-9999", FindingSeverity::Critical));
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = tokens.clone();
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(move |req| {
            seen.lock().unwrap().push((
                req.next_token().map(str::to_string),
                req.max_results(),
                req.registry_id().map(str::to_string),
                req.image_id()
                    .and_then(|i| i.image_digest().map(str::to_string)),
            ));
            true
        })
        .sequence()
        .output(move || basic_page(low(1), Some("t2")))
        .output(move || basic_page(low(2), Some("t3")))
        .output(move || basic_page(last.clone(), None))
        .build();
    let published = Published::default();
    let outcome = run(&[&pages], &[&published.rule()], Severity::High, BASIC_EVENT)
        .await
        .unwrap();

    assert_eq!(pages.num_calls(), 3);
    let tokens = tokens.lock().unwrap().clone();
    let sent: Vec<_> = tokens.iter().map(|t| t.0.clone()).collect();
    assert_eq!(sent, [None, Some("t2".into()), Some("t3".into())]);
    assert!(tokens.iter().all(|t| t.1 == Some(1000)));
    assert!(tokens
        .iter()
        .all(|t| t.2.as_deref() == Some("123456789012")));
    assert!(tokens
        .iter()
        .all(|t| t.3.as_deref().is_some_and(|d| d.starts_with("sha256:"))));

    let published = published.all();
    assert_eq!(published.len(), 1);
    let msg = &published[0];
    assert_eq!(msg.topic_arn(), Some(TOPIC));
    assert_eq!(
        msg.subject(),
        Some("CRITICAL: 1 critical in demo/web:3f2c1ab")
    );
    let body = msg.message().unwrap();
    assert!(body.contains("CVE-2026-9999"));
    assert!(body.contains("  LOW              2010"));
    let attrs = msg.message_attributes().unwrap();
    assert_eq!(attrs["severity"].string_value(), Some("CRITICAL"));
    assert_eq!(attrs["alert_kind"].string_value(), Some("findings"));
    assert_eq!(attrs["repository"].data_type(), "String");
    assert_eq!(attrs["owner"].string_value(), Some("payments"));
    assert!(
        body.contains("Owner: payments (repository tag owner)"),
        "{body}"
    );
    assert_eq!(outcome.message_id.as_deref(), Some("msg-1"));
    assert_eq!(outcome.pages, Some(3));
}

/// A tag read that is throttled past the retries, or denied, leaves the
/// image unowned; the alert still goes out.
#[tokio::test]
async fn an_owner_tag_that_cannot_be_read_leaves_the_image_unowned_and_alerts() {
    for (status, body) in [
        (
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        (
            400,
            r#"{"__type":"AccessDeniedException","message":"not authorized to perform: ecr:ListTagsForResource"}"#,
        ),
    ] {
        let throttled = status_code_rule(status, body);
        let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
            .then_output(|| basic_page(vec![basic("CVE-2026-1", FindingSeverity::Critical)], None));
        let published = Published::default();
        let outcome = run_tagged(
            config(Severity::High),
            &throttled,
            &[&pages],
            &[&published.rule()],
            BASIC_EVENT,
        )
        .await
        .unwrap();
        assert_eq!(outcome.message_id.as_deref(), Some("msg-1"));
        let [alert] = &published.all()[..] else {
            panic!("one alert expected")
        };
        let attrs = alert.message_attributes().unwrap();
        assert_eq!(attrs["owner"].string_value(), Some("unowned"), "{body}");
        assert!(alert
            .message()
            .unwrap()
            .contains("Owner: unowned (no owner tag or policy entry)"));
    }
}

/// `ListTagsForResource` answering `status` with `body`, as often as the
/// SDK tries (three attempts; an access denial is not retried).
fn status_code_rule(status: u16, body: &'static str) -> aws_smithy_mocks::Rule {
    let attempts = if body.contains("Throttling") { 3 } else { 1 };
    mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .sequence()
        .http_status(status, Some(body.into()))
        .times(attempts)
        .build()
}

#[tokio::test]
async fn enhanced_findings_over_three_pages_of_100() {
    let page = |p: usize, sev: &'static str| -> Vec<_> {
        (0..100)
            .map(|i| enhanced(&format!("CVE-2025-{p}{i:03}"), sev))
            .collect()
    };
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .output(move || enhanced_page(page(1, "MEDIUM"), Some("a")))
        .output(move || enhanced_page(page(2, "HIGH"), Some("b")))
        .output(move || enhanced_page(page(3, "UNTRIAGED"), None))
        .build();
    let published = Published::default();
    let outcome = run(
        &[&pages],
        &[&published.rule()],
        Severity::High,
        ENHANCED_EVENT,
    )
    .await
    .unwrap();
    assert_eq!(pages.num_calls(), 3);
    assert_eq!(outcome.alert_worthy, Some(100));
    let msg = &published.all()[0];
    assert_eq!(msg.subject(), Some("HIGH: 100 high in demo/api:v2.4.1"));
    let body = msg.message().unwrap();
    assert!(body.contains("libcurl@7.88.1 -> fixed in 8.5.0"));
    assert!(body.contains("  UNTRIAGED         100"));
    assert!(
        !body.contains("CVE-2025-1000"),
        "MEDIUM is below HIGH: not listed"
    );
}

#[tokio::test]
async fn image_deleted_before_the_call_finishes_without_alert() {
    let gone = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_error(|| {
        DescribeImageScanFindingsError::ImageNotFoundException(
            ImageNotFoundException::builder()
                .message("no such image")
                .build(),
        )
    });
    let published = Published::default();
    let outcome = run(&[&gone], &[&published.rule()], Severity::High, BASIC_EVENT)
        .await
        .unwrap();
    assert_eq!(
        outcome.reason.as_deref(),
        Some("the image no longer exists")
    );
    assert!(published.all().is_empty());
}

#[tokio::test]
async fn throttled_twice_then_success_is_retried_by_the_sdk() {
    let throttled = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .times(2)
        .output(|| basic_page(vec![basic("CVE-2026-0001", FindingSeverity::High)], None))
        .build();
    let published = Published::default();
    run(
        &[&throttled],
        &[&published.rule()],
        Severity::High,
        BASIC_EVENT,
    )
    .await
    .unwrap();
    assert_eq!(throttled.num_calls(), 3);
    assert_eq!(published.all().len(), 1);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_a_transient_error() {
    let throttled = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .repeatedly()
        .build();
    let published = Published::default();
    let err = run(
        &[&throttled],
        &[&published.rule()],
        Severity::High,
        BASIC_EVENT,
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Transient.EcrUnavailable");
    assert!(err.to_string().contains("ThrottlingException"), "{err}");
    assert!(err.to_string().contains("Rate exceeded"), "{err}");
    assert!(published.all().is_empty());
}

#[tokio::test]
async fn sns_unavailable_is_a_transient_error_naming_the_topic() {
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_output(|| {
        basic_page(
            vec![basic("CVE-2026-0001", FindingSeverity::Critical)],
            None,
        )
    });
    let down = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let err = run(&[&pages], &[&down], Severity::High, BASIC_EVENT)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "Transient.SnsUnavailable");
    assert!(err.to_string().contains(TOPIC));
    assert_eq!(down.num_calls(), 3, "the SDK retried before giving up");
}

#[tokio::test]
async fn sns_rejecting_the_message_is_a_permanent_error() {
    let pages = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_output(|| {
        basic_page(
            vec![basic("CVE-2026-0001", FindingSeverity::Critical)],
            None,
        )
    });
    let rejected = mock!(aws_sdk_sns::Client::publish).then_error(|| {
        PublishError::InvalidParameterException(
            aws_sdk_sns::types::error::InvalidParameterException::builder()
                .message("Invalid parameter: Subject")
                .build(),
        )
    });
    let err = run(&[&pages], &[&rejected], Severity::High, BASIC_EVENT)
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "SnsPublishRejected");
    assert!(err.to_string().contains("Invalid parameter: Subject"));
}

#[tokio::test]
async fn a_failed_scan_alert_quotes_ecrs_description() {
    let status = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_output(|| {
        DescribeImageScanFindingsOutput::builder()
            .image_scan_status(
                ImageScanStatus::builder()
                    .status(ScanStatus::UnsupportedImage)
                    .description("UnsupportedImageError: The operating system is not supported")
                    .build(),
            )
            .build()
    });
    let published = Published::default();
    run(
        &[&status],
        &[&published.rule()],
        Severity::High,
        FAILED_EVENT,
    )
    .await
    .unwrap();
    let msg = &published.all()[0];
    assert_eq!(
        msg.subject(),
        Some("Scan UNSUPPORTED_IMAGE: demo/legacy:1.0.0")
    );
    assert!(msg
        .message()
        .unwrap()
        .contains("WHAT ECR SAYS\n  UnsupportedImageError: The operating system is not supported"));
    assert_eq!(
        msg.message_attributes().unwrap()["alert_kind"].string_value(),
        Some("scan_failed")
    );
}

#[tokio::test]
async fn a_failed_scan_still_alerts_when_ecr_cannot_be_asked() {
    let down = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .http_status(500, None)
        .repeatedly()
        .build();
    let published = Published::default();
    run(&[&down], &[&published.rule()], Severity::High, FAILED_EVENT)
        .await
        .unwrap();
    let msg = &published.all()[0];
    assert_eq!(msg.subject(), Some("Scan FAILED: demo/legacy:1.0.0"));
    assert!(msg.message().unwrap().contains("based on the event alone"));
}

#[tokio::test]
async fn a_scan_still_in_progress_is_retried_later() {
    let pending = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_output(|| {
        DescribeImageScanFindingsOutput::builder()
            .image_scan_status(
                ImageScanStatus::builder()
                    .status(ScanStatus::InProgress)
                    .build(),
            )
            .build()
    });
    let published = Published::default();
    let err = run(
        &[&pending],
        &[&published.rule()],
        Severity::High,
        BASIC_EVENT,
    )
    .await
    .unwrap_err();
    assert_eq!(err.error_type(), "Transient.ScanInProgress");
    assert!(published.all().is_empty());
}
