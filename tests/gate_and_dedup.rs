//! Layer 2: the gate's `--wait` polling (and the scanning configuration it
//! reads) and the dedup lease, against the SDK's mock client (ECR, DynamoDB)
//! and an in-memory store that keeps the same conditional-write rules as the
//! DynamoDB adapter.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_ecr::operation::batch_get_repository_scanning_configuration::BatchGetRepositoryScanningConfigurationOutput;
use aws_sdk_ecr::operation::describe_image_scan_findings::{
    DescribeImageScanFindingsError, DescribeImageScanFindingsOutput,
};
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
use aws_sdk_ecr::operation::get_registry_scanning_configuration::GetRegistryScanningConfigurationOutput;
use aws_sdk_ecr::types::error::ScanNotFoundException;
use aws_sdk_ecr::types::{
    FindingSeverity, ImageScanFinding, ImageScanFindings, ImageScanStatus,
    ImageScanningConfiguration, RegistryScanningConfiguration, RegistryScanningRule, Repository,
    RepositoryScanningConfiguration, RepositoryScanningConfigurationFailure, ScanFrequency,
    ScanStatus, ScanType, ScanningConfigurationFailureCode, ScanningRepositoryFilter,
    ScanningRepositoryFilterType,
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use ecr_scan_alerts::adapters::aws::dynamodb::DynamoDedup;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::memory_store::MemoryStore;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::domain::alert::Alert;
use ecr_scan_alerts::domain::dedup::Lease;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::pipeline::gate::{wait_for_scan, GateError, Polling};
use ecr_scan_alerts::ports::{
    AlertSink, BoxFuture, Claim, DedupStore, PublishError, Published, RegistryScanning,
    RepositoryScanning, ScanStarter, ScanningConfigSource, ScanningRule, ServiceFailure,
    StartScanError,
};
use ecr_scan_alerts::App;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn image() -> ImageRef {
    ImageRef {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: "demo/web".into(),
        digest: "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef01".into(),
        tags: vec!["3f2c1ab".into()],
    }
}

fn status(s: ScanStatus) -> DescribeImageScanFindingsOutput {
    DescribeImageScanFindingsOutput::builder()
        .image_scan_status(ImageScanStatus::builder().status(s).build())
        .image_scan_findings(
            ImageScanFindings::builder()
                .findings(
                    ImageScanFinding::builder()
                        .name("CVE-2026-0001")
                        .severity(FindingSeverity::Critical)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn polling(timeout: Duration, interval: Duration) -> Polling {
    Polling {
        deadline: tokio::time::Instant::now() + timeout,
        interval,
    }
}

#[tokio::test]
async fn the_gate_waits_while_the_scan_is_in_progress() {
    let rule = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .output(|| status(ScanStatus::InProgress))
        .times(2)
        .output(|| status(ScanStatus::Complete))
        .build();
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::Sequential, &[&rule]));
    let mut lines = Vec::new();
    wait_for_scan(
        &source,
        &image(),
        polling(Duration::from_secs(5), Duration::from_millis(10)),
        false,
        |line| lines.push(line),
    )
    .await
    .expect("the scan completes");
    assert_eq!(rule.num_calls(), 3);
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("waiting for the scan of demo/web:3f2c1ab: IN_PROGRESS"));
}

#[tokio::test]
async fn the_gate_gives_up_at_the_timeout() {
    let rule = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .output(|| status(ScanStatus::InProgress))
        .repeatedly()
        .build();
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::Sequential, &[&rule]));
    let err = wait_for_scan(
        &source,
        &image(),
        polling(Duration::from_millis(100), Duration::from_millis(20)),
        false,
        |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, GateError::WaitTimedOut { ref status, .. } if status == "IN_PROGRESS"),
        "{err:?}"
    );
    assert!(err.to_string().contains("--timeout"), "{err}");
    assert!(rule.num_calls() >= 2);
}

#[tokio::test]
async fn a_failed_condition_is_a_lost_claim_not_an_error() {
    let rule = mock!(aws_sdk_dynamodb::Client::update_item).then_error(|| {
        UpdateItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder().build(),
        )
    });
    let store = DynamoDedup::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&rule]),
        "dedup",
    );
    let lease = Lease {
        owner: "me".into(),
        until: 200,
    };
    let claim = store.claim("k", Some(3), &lease, 100).await.unwrap();
    assert_eq!(claim, Claim::Lost);
}

#[tokio::test]
async fn a_claim_writes_an_expiry_so_a_crash_before_the_commit_leaves_nothing_forever() {
    let rule = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|req| {
            let names = req
                .expression_attribute_names()
                .cloned()
                .unwrap_or_default();
            let values = req
                .expression_attribute_values()
                .cloned()
                .unwrap_or_default();
            req.update_expression()
                .is_some_and(|e| e.contains("#ttl = if_not_exists(#ttl, :ttl)"))
                && names.get("#ttl").map(String::as_str) == Some("expires_at")
                && values.get(":ttl")
                    == Some(&aws_sdk_dynamodb::types::AttributeValue::N(
                        (200 + 86_400).to_string(),
                    ))
        })
        .then_output(|| {
            aws_sdk_dynamodb::operation::update_item::UpdateItemOutput::builder().build()
        });
    let store = DynamoDedup::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, &[&rule]),
        "dedup",
    );
    let lease = Lease {
        owner: "me".into(),
        until: 200,
    };
    assert_eq!(
        store.claim("k", None, &lease, 100).await.unwrap(),
        Claim::Won
    );
    assert_eq!(
        rule.num_calls(),
        1,
        "the claim's request carries the expiry"
    );
}

/// A sink that takes its time (so two deliveries overlap), publishes to an
/// alert topic and a chat topic, and can be told to fail either.
#[derive(Clone, Default)]
struct SlowSink {
    published: Arc<AtomicUsize>,
    chats: Arc<AtomicUsize>,
    fail: Arc<Mutex<bool>>,
    fail_chat: Arc<Mutex<bool>>,
}

fn sns_down(destination: &str) -> PublishError {
    PublishError {
        destination: destination.into(),
        failure: ServiceFailure {
            service: "SNS",
            code: "InternalError".into(),
            message: "down".into(),
            transient: true,
        },
        alert_topic_message_id: None,
    }
}

impl AlertSink for SlowSink {
    fn publish<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<Published, PublishError>> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if *self.fail.lock().unwrap() {
                return Err(sns_down("topic"));
            }
            self.published.fetch_add(1, Ordering::SeqCst);
            let chat_message_id = self.publish_chat(alert).await.map_err(|e| PublishError {
                alert_topic_message_id: Some("m".into()),
                ..e
            })?;
            Ok(Published {
                message_id: "m".into(),
                chat_message_id,
            })
        })
    }

    fn publish_chat<'a>(
        &'a self,
        _alert: &'a Alert,
    ) -> BoxFuture<'a, Result<Option<String>, PublishError>> {
        Box::pin(async move {
            if *self.fail_chat.lock().unwrap() {
                return Err(sns_down("chat-topic"));
            }
            self.chats.fetch_add(1, Ordering::SeqCst);
            Ok(Some("c".into()))
        })
    }
}

fn app(sink: SlowSink, store: Arc<MemoryStore>) -> App<EcrFindings, SlowSink> {
    let rule = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .then_output(|| status(ScanStatus::Complete));
    // The repository has no owner tag.
    let tags = mock!(aws_sdk_ecr::Client::list_tags_for_resource).then_output(|| {
        aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput::builder().build()
    });
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&rule, &tags]);
    let config = Config {
        alert_topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        ..Config::default()
    };
    App::new(config, EcrFindings::new(ecr), sink).with_dedup(Box::new(store))
}

/// The basic sample event, counting what the mocked scan has: one critical.
fn event() -> serde_json::Value {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../events/basic-scan-complete.json")).unwrap();
    event["detail"]["finding-severity-counts"] = serde_json::json!({"CRITICAL": 1});
    event
}

#[tokio::test]
async fn two_concurrent_deliveries_give_one_alert() {
    let sink = SlowSink::default();
    let store = Arc::new(MemoryStore::default());
    let (a, b) = (
        app(sink.clone(), store.clone()),
        app(sink.clone(), store.clone()),
    );
    let (first, second) = tokio::join!(a.handle(event()), b.handle(event()));
    assert_eq!(sink.published.load(Ordering::SeqCst), 1);
    let errors: Vec<_> = [&first, &second]
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|e| e.error_type())
        .collect();
    assert_eq!(
        errors,
        ["Transient.AlertInProgress"],
        "the other delivery is told to retry"
    );
    // Lambda's retry of the delivery that lost finds nothing new.
    let retry = a.handle(event()).await.unwrap();
    assert!(retry
        .reason
        .unwrap()
        .starts_with("nothing new since the last alert"));
    assert_eq!(sink.published.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_publish_does_not_suppress_the_retry() {
    let sink = SlowSink::default();
    let store = Arc::new(MemoryStore::default());
    let app = app(sink.clone(), store);
    *sink.fail.lock().unwrap() = true;
    let err = app.handle(event()).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient.SnsUnavailable");
    *sink.fail.lock().unwrap() = false;
    let retry = app.handle(event()).await.unwrap();
    assert_eq!(retry.message_id.as_deref(), Some("m"));
    assert_eq!(sink.published.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_chat_failure_after_the_email_retries_the_chat_only() {
    let sink = SlowSink::default();
    let store = Arc::new(MemoryStore::default());
    let app = app(sink.clone(), store.clone());
    *sink.fail_chat.lock().unwrap() = true;
    let err = app.handle(event()).await.unwrap_err();
    assert_eq!(err.error_type(), "Transient.SnsUnavailable");
    assert!(err.to_string().contains("chat-topic"), "{err}");
    assert_eq!(
        sink.published.load(Ordering::SeqCst),
        1,
        "the email went out"
    );

    // The chat topic fails once more: still no second email.
    let err = app.handle(event()).await.unwrap_err();
    assert!(err.to_string().contains("chat-topic"), "{err}");
    *sink.fail_chat.lock().unwrap() = false;
    let retry = app.handle(event()).await.unwrap();

    assert_eq!(sink.published.load(Ordering::SeqCst), 1, "no second email");
    assert_eq!(
        sink.chats.load(Ordering::SeqCst),
        1,
        "the chat message, once"
    );
    assert_eq!(retry.chat_message_id.as_deref(), Some("c"));
    // Done: the next delivery finds nothing new and publishes nothing.
    let again = app.handle(event()).await.unwrap();
    assert!(again.reason.unwrap().starts_with("nothing new"));
    assert_eq!(
        (
            sink.published.load(Ordering::SeqCst),
            sink.chats.load(Ordering::SeqCst)
        ),
        (1, 1)
    );
}

fn filter(pattern: &str) -> ScanningRepositoryFilter {
    ScanningRepositoryFilter::builder()
        .filter(pattern)
        .filter_type(ScanningRepositoryFilterType::Wildcard)
        .build()
        .unwrap()
}

fn registry_config(
    scan_type: ScanType,
    rules: Vec<RegistryScanningRule>,
) -> GetRegistryScanningConfigurationOutput {
    GetRegistryScanningConfigurationOutput::builder()
        .registry_id("123456789012")
        .scanning_configuration(
            RegistryScanningConfiguration::builder()
                .scan_type(scan_type)
                .set_rules(Some(rules))
                .build(),
        )
        .build()
}

fn repository_config(
    frequency: ScanFrequency,
    scan_on_push: bool,
) -> BatchGetRepositoryScanningConfigurationOutput {
    BatchGetRepositoryScanningConfigurationOutput::builder()
        .scanning_configurations(
            RepositoryScanningConfiguration::builder()
                .repository_arn("arn:aws:ecr:us-east-1:123456789012:repository/demo/web")
                .repository_name("demo/web")
                .scan_on_push(scan_on_push)
                .scan_frequency(frequency)
                .build(),
        )
        .build()
}

const DENIED: &str = r#"{"__type":"AccessDeniedException","message":"User: arn:aws:sts::123456789012:assumed-role/ci/gate is not authorized to perform: ecr:GetRegistryScanningConfiguration"}"#;

#[tokio::test]
async fn the_registry_scanning_configuration_is_read() {
    let rule = mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration).then_output(|| {
        registry_config(
            ScanType::Enhanced,
            vec![
                RegistryScanningRule::builder()
                    .scan_frequency(ScanFrequency::ContinuousScan)
                    .repository_filters(filter("prod-*"))
                    .repository_filters(filter("payments"))
                    .build()
                    .unwrap(),
                RegistryScanningRule::builder()
                    .scan_frequency(ScanFrequency::ScanOnPush)
                    .repository_filters(filter("*"))
                    .build()
                    .unwrap(),
            ],
        )
    });
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&rule]));
    let registry = source.registry_scanning().await.unwrap();
    assert_eq!(
        registry,
        RegistryScanning {
            scan_type: "ENHANCED".into(),
            rules: vec![
                ScanningRule {
                    frequency: "CONTINUOUS_SCAN".into(),
                    filters: vec!["prod-*".into(), "payments".into()],
                },
                ScanningRule {
                    frequency: "SCAN_ON_PUSH".into(),
                    filters: vec!["*".into()],
                },
            ],
        }
    );

    // Nothing configured: ECR's default, basic scanning.
    let empty = mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration)
        .then_output(|| GetRegistryScanningConfigurationOutput::builder().build());
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&empty]));
    let registry = source.registry_scanning().await.unwrap();
    assert_eq!(registry.scan_type, "BASIC");
    assert!(registry.rules.is_empty());
}

#[tokio::test]
async fn the_repository_scanning_configuration_is_read() {
    let rule = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .match_requests(|req| req.repository_names() == ["demo/web"])
        .then_output(|| {
            BatchGetRepositoryScanningConfigurationOutput::builder()
                .scanning_configurations(
                    RepositoryScanningConfiguration::builder()
                        .repository_name("demo/web")
                        .scan_on_push(true)
                        .scan_frequency(ScanFrequency::ScanOnPush)
                        .applied_scan_filters(filter("demo/*"))
                        .build(),
                )
                .build()
        });
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&rule]));
    assert_eq!(
        source.repository_scanning("demo/web").await.unwrap(),
        Some(RepositoryScanning {
            frequency: "SCAN_ON_PUSH".into(),
            scan_on_push: true,
            applied_filters: vec!["demo/*".into()],
        })
    );

    // An unknown repository comes back under `failures`.
    let missing = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .then_output(|| {
            BatchGetRepositoryScanningConfigurationOutput::builder()
                .failures(
                    RepositoryScanningConfigurationFailure::builder()
                        .repository_name("demo/web")
                        .failure_code(ScanningConfigurationFailureCode::RepositoryNotFound)
                        .failure_reason("REPOSITORY_NOT_FOUND")
                        .build(),
                )
                .build()
        });
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&missing]));
    assert_eq!(source.repository_scanning("demo/web").await.unwrap(), None);

    let denied = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .sequence()
        .http_status(
            400,
            Some(DENIED.replace("GetRegistry", "BatchGetRepository")),
        )
        .build();
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&denied]));
    let failure = source.repository_scanning("demo/web").await.unwrap_err();
    assert_eq!(failure.code, "AccessDeniedException");
    assert!(failure
        .message
        .contains("ecr:BatchGetRepositoryScanningConfiguration"));
}

fn scan_not_found() -> DescribeImageScanFindingsError {
    DescribeImageScanFindingsError::ScanNotFoundException(
        ScanNotFoundException::builder()
            .message("Image scan does not exist for the image")
            .build(),
    )
}

fn described(scan_on_push: bool) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ecr::Client::describe_repositories)
        .match_requests(|req| req.repository_names() == ["demo/web"])
        .then_output(move || {
            DescribeRepositoriesOutput::builder()
                .repositories(
                    Repository::builder()
                        .repository_name("demo/web")
                        .image_scanning_configuration(
                            ImageScanningConfiguration::builder()
                                .scan_on_push(scan_on_push)
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
}

#[tokio::test]
async fn a_manual_answer_is_checked_against_the_repositorys_own_scan_on_push() {
    let repository = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .then_output(|| repository_config(ScanFrequency::Manual, false));
    let on = described(true);
    let source = EcrFindings::new(mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&repository, &on]
    ));
    let scanning = source
        .repository_scanning("demo/web")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(scanning.frequency, "MANUAL");
    assert!(
        scanning.scan_on_push,
        "the repository's own flag says a scan will come"
    );
    assert_eq!(on.num_calls(), 1);
    // Asked only when the registry's answer says MANUAL without scan on push.
    let scanned = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .then_output(|| repository_config(ScanFrequency::ScanOnPush, true));
    let unused = described(false);
    let source = EcrFindings::new(mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&scanned, &unused]
    ));
    assert!(
        source
            .repository_scanning("demo/web")
            .await
            .unwrap()
            .unwrap()
            .scan_on_push
    );
    assert_eq!(unused.num_calls(), 0);
}

#[tokio::test]
async fn the_gate_stops_at_once_when_no_scan_will_start() {
    let findings =
        mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_error(scan_not_found);
    let registry = mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration)
        .then_output(|| registry_config(ScanType::Basic, vec![]));
    let repository = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .then_output(|| repository_config(ScanFrequency::Manual, false));
    let off = described(false);
    let source = EcrFindings::new(mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&findings, &registry, &repository, &off]
    ));
    let own_registry = ImageRef {
        account: String::new(),
        ..image()
    };
    let mut lines = Vec::new();
    let err = wait_for_scan(
        &source,
        &own_registry,
        polling(Duration::from_secs(60), Duration::from_secs(10)),
        false,
        |line| lines.push(line),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, GateError::NoScanWillStart { .. }), "{err:?}");
    assert!(
        err.to_string().starts_with(
            "no scan of demo/web:3f2c1ab will start: repository demo/web has scan frequency \
             MANUAL (registry scan type BASIC, no scanning rules; repository scanOnPush false)"
        ),
        "{err}"
    );
    assert_eq!(findings.num_calls(), 1);
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test]
async fn the_gate_keeps_waiting_when_it_may_not_read_the_configuration() {
    let findings = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .sequence()
        .error(scan_not_found)
        .output(|| status(ScanStatus::Complete))
        .build();
    let registry = mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration)
        .sequence()
        .http_status(400, Some(DENIED.into()))
        .build();
    let repository = mock!(aws_sdk_ecr::Client::batch_get_repository_scanning_configuration)
        .then_output(|| repository_config(ScanFrequency::Manual, false));
    let source = EcrFindings::new(mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&findings, &registry, &repository]
    ));
    let own_registry = ImageRef {
        account: String::new(),
        ..image()
    };
    let mut lines = Vec::new();
    wait_for_scan(
        &source,
        &own_registry,
        polling(Duration::from_secs(5), Duration::from_millis(10)),
        false,
        |line| lines.push(line),
    )
    .await
    .expect("the scan completes");
    assert_eq!(findings.num_calls(), 2);
    assert!(
        lines[0].starts_with(
            "cannot tell whether a scan will start: reading the registry scanning \
             configuration failed (ECR AccessDeniedException: User: "
        ),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("waiting for the scan of demo/web:3f2c1ab: NOT_STARTED"));
}

#[tokio::test]
async fn starting_a_scan_names_ecr_once_a_day_limit() {
    const QUOTA: &str = "The scan quota per image has been exceeded. Wait and try again.";
    use aws_sdk_ecr::operation::start_image_scan::{StartImageScanError, StartImageScanOutput};
    use aws_sdk_ecr::types::error::{LimitExceededException, ValidationException};
    let started = mock!(aws_sdk_ecr::Client::start_image_scan)
        .match_requests(|req| {
            req.repository_name() == Some("demo/web")
                && req.image_id().and_then(|i| i.image_digest()) == Some(image().digest.as_str())
        })
        .sequence()
        .output(|| {
            StartImageScanOutput::builder()
                .image_scan_status(
                    ImageScanStatus::builder()
                        .status(ScanStatus::InProgress)
                        .build(),
                )
                .build()
        })
        .error(|| {
            StartImageScanError::LimitExceededException(
                LimitExceededException::builder()
                    .message(QUOTA)
                    .meta(
                        aws_sdk_ecr::error::ErrorMetadata::builder()
                            .code("LimitExceededException")
                            .message(QUOTA)
                            .build(),
                    )
                    .build(),
            )
        })
        // The SDK retries LimitExceededException as throttling (three
        // attempts in all) before the error reaches the gate.
        .times(3)
        .error(|| {
            StartImageScanError::ValidationException(
                ValidationException::builder()
                    .message(
                        "This operation is not supported for registries with enhanced scanning.",
                    )
                    .build(),
            )
        })
        .build();
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::Sequential, &[&started]));
    assert_eq!(source.start_scan(&image()).await, Ok(()));
    match source.start_scan(&image()).await {
        Err(StartScanError::LimitExceeded(f)) => {
            assert_eq!(f.code, "LimitExceededException");
            assert!(f.message.starts_with("The scan quota per image"), "{f}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        source.start_scan(&image()).await,
        Err(StartScanError::Unsupported(_))
    ));
}

#[tokio::test]
async fn a_page_says_when_the_scan_completed() {
    use ecr_scan_alerts::ports::FindingsSource;
    let rule = mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_output(|| {
        DescribeImageScanFindingsOutput::builder()
            .image_scan_status(
                ImageScanStatus::builder()
                    .status(ScanStatus::Complete)
                    .build(),
            )
            .image_scan_findings(
                ImageScanFindings::builder()
                    .image_scan_completed_at(aws_smithy_types::DateTime::from_secs(1_764_547_200))
                    .build(),
            )
            .build()
    });
    let source = EcrFindings::new(mock_client!(aws_sdk_ecr, [&rule]));
    let page = source.page(&image(), None, None).await.unwrap();
    assert_eq!(page.completed_at, Some(1_764_547_200));
}

#[tokio::test]
async fn a_batchs_records_are_read_at_once_and_unprocessed_keys_asked_again() {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::types::{AttributeValue as Av, KeysAndAttributes};
    use std::collections::HashMap;

    let item = |key: &str, version: &str| {
        HashMap::from([
            ("pk".to_string(), Av::S(key.into())),
            ("version".to_string(), Av::N(version.into())),
        ])
    };
    let unprocessed = |key: &str| {
        KeysAndAttributes::builder()
            .keys(HashMap::from([("pk".to_string(), Av::S(key.into()))]))
            .build()
            .unwrap()
    };
    // First call: two records, the third key unprocessed; then that key,
    // unprocessed every time, until it is read on its own.
    let batches = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .sequence()
        .output(move || {
            BatchGetItemOutput::builder()
                .responses("dedup", vec![item("a", "3"), item("b", "1")])
                .unprocessed_keys("dedup", unprocessed("c"))
                .build()
        })
        .times(1)
        .output(move || {
            BatchGetItemOutput::builder()
                .unprocessed_keys("dedup", unprocessed("c"))
                .build()
        })
        .times(4)
        .build();
    let single = mock!(aws_sdk_dynamodb::Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(item("c", "7")))
            .build()
    });
    let store = DynamoDedup::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&batches, &single]),
        "dedup",
    );
    let keys: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();

    let records = store.load_many(&keys).await.unwrap();

    let mut versions: Vec<(&str, u64)> = records
        .iter()
        .map(|(k, r)| (k.as_str(), r.version))
        .collect();
    versions.sort();
    assert_eq!(versions, [("a", 3), ("b", 1), ("c", 7)], "d has no record");
    assert_eq!(
        batches.num_calls(),
        5,
        "one call, then the unprocessed key four times more"
    );
    assert_eq!(single.num_calls(), 1, "what is still left, read on its own");
}
