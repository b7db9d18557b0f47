//! Layer 2: a batch of finding events through the pipeline, with a sink
//! that takes its time: the images wait on AWS side by side, never more
//! than `BATCH_CONCURRENCY` at once, and `batchItemFailures` still names
//! exactly the messages of the images whose alert failed. Tokio's clock is
//! paused: the sink's waiting costs no wall time.

use aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_ecr::types::Tag;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::domain::alert::Alert;
use ecr_scan_alerts::ports::{AlertSink, BoxFuture, PublishError, Published, ServiceFailure};
use ecr_scan_alerts::App;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const SAMPLE: &str = include_str!("../events/inspector-finding.json");

/// A sink that waits as AWS would, counts the publishes in flight, and
/// fails the alerts of repositories whose name contains `fail`.
#[derive(Clone, Default)]
struct WaitingSink {
    in_flight: Arc<AtomicUsize>,
    most_in_flight: Arc<AtomicUsize>,
    published: Arc<AtomicUsize>,
    /// The `owner` attribute of each alert published.
    owners: Arc<std::sync::Mutex<Vec<String>>>,
}

impl AlertSink for WaitingSink {
    fn publish<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<Published, PublishError>> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if alert.subject.contains("fail") {
                return Err(PublishError {
                    destination: "topic".into(),
                    failure: ServiceFailure {
                        service: "SNS",
                        code: "Throttling".into(),
                        message: "Rate exceeded".into(),
                        transient: true,
                    },
                    alert_topic_message_id: None,
                });
            }
            self.published.fetch_add(1, Ordering::SeqCst);
            self.owners
                .lock()
                .unwrap()
                .push(alert.attribute("owner").unwrap_or("(none)").to_string());
            Ok(Published {
                message_id: "m".into(),
                chat_message_id: None,
            })
        })
    }

    fn publish_chat<'a>(
        &'a self,
        _alert: &'a Alert,
    ) -> BoxFuture<'a, Result<Option<String>, PublishError>> {
        Box::pin(async { Ok(None) })
    }
}

fn app(sink: WaitingSink, concurrency: u64) -> App<EcrFindings, WaitingSink> {
    app_reading_tags(sink, concurrency, &owner_tags())
}

/// `ListTagsForResource`: every repository is tagged `owner=ok-team`.
fn owner_tags() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .sequence()
        .output(|| tags("ok-team"))
        .repeatedly()
        .build()
}

fn tags(owner: &str) -> ListTagsForResourceOutput {
    ListTagsForResourceOutput::builder()
        .tags(Tag::builder().key("owner").value(owner).build().unwrap())
        .build()
}

fn app_reading_tags(
    sink: WaitingSink,
    concurrency: u64,
    tags: &aws_smithy_mocks::Rule,
) -> App<EcrFindings, WaitingSink> {
    // The batch path reads no findings from ECR (the events carry them),
    // only the repositories' owner tags.
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[tags]);
    let config = Config {
        alert_topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        batch_concurrency: concurrency,
        ..Config::default()
    };
    App::new(config, EcrFindings::new(ecr), sink)
}

/// One rescan's finding event per image, each image in a repository of its
/// own, as an SQS batch.
fn batch(repositories: &[String]) -> Value {
    let records: Vec<Value> = repositories
        .iter()
        .enumerate()
        .map(|(i, repository)| {
            let mut event: Value = serde_json::from_str(SAMPLE).unwrap();
            let digest = format!("sha256:{i:064x}");
            let resource = &mut event["detail"]["resources"][0];
            resource["id"] =
                format!("arn:aws:ecr:us-east-1:123456789012:repository/{repository}/{digest}")
                    .into();
            let image = &mut resource["details"]["awsEcrContainerImage"];
            image["repositoryName"] = repository.as_str().into();
            image["imageHash"] = digest.into();
            // First observed a week after the push: a rescan's finding.
            event["detail"]["firstObservedAt"] = "Dec 4, 2026, 11:01:15 AM".into();
            json!({
                "messageId": format!("m-{i}"),
                "receiptHandle": format!("h-{i}"),
                "body": event.to_string(),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:findings",
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    let mut ids: Vec<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(start_paused = true)]
async fn the_images_of_a_batch_wait_on_aws_side_by_side_within_the_bound() {
    let repositories: Vec<String> = (0..10).map(|i| format!("team/svc-{i}")).collect();
    let sink = WaitingSink::default();

    let response = app(sink.clone(), 3)
        .handle_sqs_event(batch(&repositories))
        .await
        .unwrap();

    assert_eq!(failures(&response), Vec::<String>::new());
    assert_eq!(sink.published.load(Ordering::SeqCst), 10);
    assert_eq!(
        sink.most_in_flight.load(Ordering::SeqCst),
        3,
        "concurrent, at most BATCH_CONCURRENCY at once"
    );
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_of_one_alerts_one_image_after_another() {
    let repositories: Vec<String> = (0..4).map(|i| format!("team/one-{i}")).collect();
    let sink = WaitingSink::default();

    app(sink.clone(), 1)
        .handle_sqs_event(batch(&repositories))
        .await
        .unwrap();

    assert_eq!(sink.most_in_flight.load(Ordering::SeqCst), 1);
    assert_eq!(sink.published.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn failed_alerts_fail_exactly_their_images_messages() {
    let repositories: Vec<String> = (0..8)
        .map(|i| {
            if i % 3 == 0 {
                format!("team/fail-{i}")
            } else {
                format!("team/ok-{i}")
            }
        })
        .collect();
    let sink = WaitingSink::default();

    let response = app(sink.clone(), 4)
        .handle_sqs_event(batch(&repositories))
        .await
        .unwrap();

    assert_eq!(failures(&response), ["m-0", "m-3", "m-6"]);
    assert_eq!(sink.published.load(Ordering::SeqCst), 5);
}

#[tokio::test(start_paused = true)]
async fn owners_are_read_once_per_repository_and_every_alert_carries_its_own() {
    // Six images in two repositories, two batches.
    let repositories: Vec<String> = (0..6)
        .map(|i| if i % 2 == 0 { "pay/api" } else { "search/web" }.to_string())
        .collect();
    let rule = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(|req| {
            req.resource_arn()
                .is_some_and(|a| a.ends_with("repository/pay/api"))
        })
        .sequence()
        .output(|| tags("payments"))
        .repeatedly()
        .build();
    let other = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .sequence()
        .output(|| ListTagsForResourceOutput::builder().build())
        .repeatedly()
        .build();
    let sink = WaitingSink::default();
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&rule, &other]);
    let config = Config {
        alert_topic_arn: "arn:aws:sns:us-east-1:123456789012:t".into(),
        ..Config::default()
    };
    let app = App::new(config, EcrFindings::new(ecr), sink.clone());
    app.handle_sqs_event(batch(&repositories)).await.unwrap();
    app.handle_sqs_event(batch(&repositories)).await.unwrap();

    assert_eq!(
        rule.num_calls() + other.num_calls(),
        2,
        "one ListTagsForResource per repository, not per event or batch"
    );
    let mut owners = sink.owners.lock().unwrap().clone();
    owners.sort();
    owners.dedup();
    assert_eq!(owners, ["payments", "unowned"]);
}
