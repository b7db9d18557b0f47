//! Layer 2: the storm store against the SDK's mock DynamoDB client
//! (aws-smithy-mocks): a full storm item is read, not failed on.

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use ecr_scan_alerts::adapters::aws::storms::{DynamoStorms, MAX_IMAGES};
use ecr_scan_alerts::domain::finding::Finding;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::domain::risk::InUse;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::domain::storm;
use ecr_scan_alerts::ports::StormStore;
use std::collections::{BTreeMap, HashMap};

fn outbreak() -> storm::Outbreak {
    let mut outbreaks = BTreeMap::new();
    let image = ImageRef {
        account: "111111111111".into(),
        region: "us-east-1".into(),
        repository: "team/api".into(),
        digest: format!("sha256:{}", "a".repeat(64)),
        tags: vec![],
    };
    storm::add_image(
        &mut outbreaks,
        &image,
        InUse::Running(1),
        &[Finding::new("CVE-2026-1", Severity::Critical)],
    );
    outbreaks.remove("CVE-2026-1").unwrap()
}

#[tokio::test]
async fn a_storm_past_what_an_item_holds_is_read_as_at_least_that_many() {
    let repository = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.key().unwrap()["pk"]
                .as_s()
                .unwrap()
                .contains("#111111111111|")
        })
        .then_output(|| UpdateItemOutput::builder().build());
    let full = mock!(aws_sdk_dynamodb::Client::update_item)
        .match_requests(|r| {
            r.condition_expression() == Some("attribute_not_exists(images) OR size(images) < :cap")
                && r.expression_attribute_values().unwrap()[":cap"]
                    .as_n()
                    .unwrap()
                    == &MAX_IMAGES.to_string()
        })
        .then_error(|| {
            UpdateItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder()
                    .message("full")
                    .build(),
            )
        });
    let read = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| {
        let images: Vec<String> = (0..MAX_IMAGES).map(|i| format!("{i:012x}")).collect();
        GetItemOutput::builder()
            .set_item(Some(HashMap::from([
                ("images".to_string(), AttributeValue::Ss(images)),
                (
                    "repos".to_string(),
                    AttributeValue::Ss(vec!["111111111111|us-east-1|team/api".into()]),
                ),
                (
                    "accounts".to_string(),
                    AttributeValue::Ss(vec!["111111111111".into()]),
                ),
                (
                    "alerted_at".to_string(),
                    AttributeValue::N("1795000000".into()),
                ),
                ("said".to_string(), AttributeValue::N("25".into())),
            ])))
            .build()
    });
    let client = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&repository, &full, &read]
    );
    let state = DynamoStorms::new(client, "scan-alerts")
        .record("storm#CVE-2026-1#1794999600", &outbreak(), 1_795_090_000)
        .await
        .unwrap();
    assert_eq!(state.images, MAX_IMAGES);
    assert!(state.full, "the alert says `at least`");
    assert!(state.alerted);
    assert_eq!(state.said, 25);
    assert_eq!(read.num_calls(), 1);
}
