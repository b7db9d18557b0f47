//! Layer 2: the findings function's alerts go out in `PublishBatch` calls
//! (aws-smithy-mocks): publishes that come together share a call of at
//! most 10 entries, each keeping its subject and attributes and getting its
//! own answer; a message too large to share goes alone; a whole call that
//! fails fails each of its publishes.

use aws_sdk_sns::operation::publish::PublishOutput;
use aws_sdk_sns::operation::publish_batch::{PublishBatchError, PublishBatchOutput};
use aws_sdk_sns::types::{BatchResultErrorEntry, PublishBatchResultEntry};
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use ecr_scan_alerts::adapters::aws::sns::{SnsAlerts, BATCH_BYTES, BATCH_LINGER};
use ecr_scan_alerts::domain::alert::{Alert, AlertKind};
use ecr_scan_alerts::ports::AlertSink;
use futures_util::future::join_all;
use std::sync::{Arc, Mutex};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";

fn alert(n: usize, body: String) -> Alert {
    Alert {
        kind: AlertKind::Findings,
        subject: format!("HIGH: 1 high in team/svc-{n}:v1"),
        body,
        chat: String::new(),
        attributes: vec![("repository", format!("team/svc-{n}"))],
        array_attributes: Vec::new(),
    }
}

/// Calls of PublishBatch, each as its entries' (subject, repository attribute).
type Calls = Arc<Mutex<Vec<Vec<(String, String)>>>>;

fn batch_rule(calls: Calls, fail_ids: &'static [&'static str]) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_sns::Client::publish_batch).then_compute_response(move |input| {
        let entries = input.publish_batch_request_entries();
        calls.lock().unwrap().push(
            entries
                .iter()
                .map(|e| {
                    (
                        e.subject().unwrap_or_default().to_string(),
                        e.message_attributes().unwrap()["repository"]
                            .string_value()
                            .unwrap()
                            .to_string(),
                    )
                })
                .collect(),
        );
        let mut out = PublishBatchOutput::builder();
        for e in entries {
            if fail_ids.contains(&e.id()) {
                out = out.failed(
                    BatchResultErrorEntry::builder()
                        .id(e.id())
                        .code("InternalError")
                        .message("try again")
                        .sender_fault(false)
                        .build()
                        .unwrap(),
                );
            } else {
                out = out.successful(
                    PublishBatchResultEntry::builder()
                        .id(e.id())
                        .message_id(format!("msg-{}", e.id()))
                        .build(),
                );
            }
        }
        MockResponse::<PublishBatchOutput, PublishBatchError>::Output(out.build())
    })
}

#[tokio::test]
async fn publishes_that_come_together_share_calls_of_ten_each_answered_on_its_own() {
    let calls = Calls::default();
    let batch = batch_rule(calls.clone(), &["3"]);
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&batch]);
    let sink = SnsAlerts::new(client, TOPIC, None).batching(BATCH_LINGER);
    let alerts: Vec<Alert> = (0..12).map(|n| alert(n, format!("body {n}"))).collect();

    let results = join_all(alerts.iter().map(|a| sink.publish(a))).await;

    let calls = calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 2],
        "ten, then the rest"
    );
    assert_eq!(
        calls[0][3],
        (
            "HIGH: 1 high in team/svc-3:v1".to_string(),
            "team/svc-3".to_string()
        ),
        "each entry keeps its subject and attributes"
    );
    let failed: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_err())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(failed, [3], "a failed entry fails only its own publish");
    let error = results[3].as_ref().unwrap_err();
    assert_eq!(error.failure.code, "InternalError");
    assert!(error.failure.transient, "not the sender's fault: retried");
    assert_eq!(results[0].as_ref().unwrap().message_id, "msg-0");
}

#[tokio::test]
async fn a_message_too_large_to_share_goes_alone_and_a_failed_call_fails_each_publish() {
    let calls = Calls::default();
    let batch = mock!(aws_sdk_sns::Client::publish_batch)
        .then_error(|| PublishBatchError::unhandled("Throttling: Rate exceeded"));
    let single = mock!(aws_sdk_sns::Client::publish)
        .then_output(|| PublishOutput::builder().message_id("alone").build());
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&batch, &single]);
    let sink = SnsAlerts::new(client, TOPIC, None).batching(BATCH_LINGER);
    let large = alert(0, "x".repeat(BATCH_BYTES));
    let small: Vec<Alert> = (1..4).map(|n| alert(n, "small".into())).collect();

    let alone = sink.publish(&large).await.unwrap();
    let results = join_all(small.iter().map(|a| sink.publish(a))).await;

    assert_eq!(alone.message_id, "alone");
    assert_eq!(single.num_calls(), 1);
    assert_eq!(batch.num_calls(), 1, "the three small ones in one call");
    assert!(
        results.iter().all(|r| r.is_err()),
        "the call failed: each publish fails"
    );
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_storms_owners_and_repositories_go_as_string_arrays() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = seen.clone();
    let single = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |input| {
        let attributes = input.message_attributes().unwrap();
        let mut pairs: Vec<(String, String, String)> = attributes
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    value.data_type().to_string(),
                    value.string_value().unwrap_or_default().to_string(),
                )
            })
            .collect();
        pairs.sort();
        store.lock().unwrap().push(pairs);
        PublishOutput::builder().message_id("storm").build()
    });
    let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&single]);
    let sink = SnsAlerts::new(client, TOPIC, None);
    let mut storm = alert(0, "a storm".into());
    storm.kind = AlertKind::Storm;
    storm.attributes = vec![("alert_kind", "storm".into())];
    storm.array_attributes = vec![
        ("owner", vec!["payments".into(), "search \"web\"".into()]),
        ("repository", vec!["pay/api".into()]),
    ];

    sink.publish(&storm).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [vec![
            ("alert_kind".into(), "String".into(), "storm".into()),
            (
                "owner".into(),
                "String.Array".into(),
                r#"["payments","search \"web\""]"#.into()
            ),
            (
                "repository".into(),
                "String.Array".into(),
                r#"["pay/api"]"#.into()
            ),
        ]]
    );
}
