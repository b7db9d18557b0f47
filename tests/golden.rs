//! Golden files: each format rendered from each sample event in `events/`
//! with its findings fixture (`tests/fixtures/findings/`, a real
//! DescribeImageScanFindings response body, read by the real SDK
//! deserializer and adapter). Snapshots live in `tests/snapshots/`; a change
//! fails the test until it is reviewed (`INSTA_UPDATE=always cargo test
//! --test golden` rewrites them, then read the diff).

use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::domain::commit_link::UrlTemplate;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::App;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

const ALERT_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:scan-alerts";
const CHAT_TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:scan-chat";
/// Commit-tagged sample images link to their source through it.
const SOURCE_TEMPLATE: &str = "https://git.example.com/{repository}/commit/{tag}";

fn fixture(path: &str) -> String {
    let file = format!("{}/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs one sample event against its findings fixture; returns what was
/// published to the alert topic and to the chat topic.
async fn render(event_file: &str) -> (PublishInput, PublishInput) {
    render_in(event_file, None).await
}

/// The same, with the event moved to another region (and its partition):
/// `(region, partition)`.
async fn render_in(event_file: &str, place: Option<(&str, &str)>) -> (PublishInput, PublishInput) {
    let findings = fixture(&format!("tests/fixtures/findings/{event_file}"));
    let mut event: serde_json::Value =
        serde_json::from_str(&fixture(&format!("events/{event_file}"))).unwrap();
    if let Some((region, partition)) = place {
        event["region"] = region.into();
        let arn = event["resources"][0].as_str().unwrap().replacen(
            "arn:aws:ecr:us-east-1:",
            &format!("arn:{partition}:ecr:{region}:"),
            1,
        );
        event["resources"][0] = arn.clone().into();
        if event["source"] == "aws.inspector2" {
            event["detail"]["repository-name"] = arn.into();
        }
    }
    let ecr_rule =
        mock!(aws_sdk_ecr::Client::describe_image_scan_findings).then_http_response(move || {
            HttpResponse::new(
                StatusCode::try_from(200).unwrap(),
                SdkBody::from(findings.clone()),
            )
        });
    let published = Arc::new(Mutex::new(Vec::new()));
    let store = published.clone();
    let sns_rule: Rule = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
        store.lock().unwrap().push(req.clone());
        PublishOutput::builder().message_id("m").build()
    });
    // The repository is tagged `owner=payments`; its ARN is in the
    // event's partition and region.
    let (region, partition) = place.unwrap_or(("us-east-1", "aws"));
    let arn_prefix = format!("arn:{partition}:ecr:{region}:");
    let tags_rule = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(move |req| {
            req.resource_arn()
                .is_some_and(|a| a.starts_with(&arn_prefix))
        })
        .then_output(|| {
            aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                .tags(
                    aws_sdk_ecr::types::Tag::builder()
                        .key("owner")
                        .value("payments")
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&ecr_rule, &tags_rule]);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&sns_rule]);
    let config = Config {
        alert_topic_arn: ALERT_TOPIC.into(),
        threshold: Severity::High,
        chat_topic_arn: Some(CHAT_TOPIC.into()),
        source_url_template: Some(UrlTemplate::parse(SOURCE_TEMPLATE).unwrap()),
        ..Config::default()
    };
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, ALERT_TOPIC, Some(CHAT_TOPIC.into())),
    );
    app.handle(event)
        .await
        .expect("the sample event is handled");
    let published = published.lock().unwrap().clone();
    assert_eq!(published.len(), 2, "one message per topic");
    let (alert, chat) = (published[0].clone(), published[1].clone());
    assert_eq!(alert.topic_arn(), Some(ALERT_TOPIC));
    assert_eq!(chat.topic_arn(), Some(CHAT_TOPIC));
    assert_eq!(
        alert.message_attributes(),
        chat.message_attributes(),
        "both topics route on the same attributes"
    );
    (alert, chat)
}

fn email_snapshot(msg: &PublishInput) -> String {
    let mut out = format!("Subject: {}\n", msg.subject().unwrap_or(""));
    let mut attrs: Vec<_> = msg.message_attributes().unwrap().iter().collect();
    attrs.sort_by_key(|(k, _)| k.as_str());
    for (name, value) in attrs {
        let _ = writeln!(
            out,
            "Attribute: {name}={}",
            value.string_value().unwrap_or("")
        );
    }
    out.push('\n');
    out.push_str(msg.message().unwrap());
    out
}

fn chat_snapshot(msg: &PublishInput) -> String {
    assert_eq!(msg.subject(), None, "chat messages carry no subject");
    let value: serde_json::Value =
        serde_json::from_str(msg.message().unwrap()).expect("chat payload is JSON");
    assert_eq!(value["version"], "1.0");
    assert_eq!(value["source"], "custom");
    serde_json::to_string_pretty(&value).unwrap()
}

macro_rules! golden {
    ($name:ident, $file:literal) => {
        #[tokio::test]
        async fn $name() {
            let (alert, chat) = render($file).await;
            insta::assert_snapshot!(concat!(stringify!($name), "_email"), email_snapshot(&alert));
            insta::assert_snapshot!(concat!(stringify!($name), "_chat"), chat_snapshot(&chat));
        }
    };
}

golden!(basic_scan_complete, "basic-scan-complete.json");
golden!(enhanced_scan_complete, "enhanced-scan-complete.json");
golden!(basic_scan_untagged, "basic-scan-untagged.json");
golden!(basic_scan_failed, "basic-scan-failed.json");

/// One event from each partition: links, pull reference and ARNs follow it.
macro_rules! golden_in {
    ($name:ident, $file:literal, $region:literal, $partition:literal) => {
        #[tokio::test]
        async fn $name() {
            let (alert, chat) = render_in($file, Some(($region, $partition))).await;
            insta::assert_snapshot!(concat!(stringify!($name), "_email"), email_snapshot(&alert));
            insta::assert_snapshot!(concat!(stringify!($name), "_chat"), chat_snapshot(&chat));
        }
    };
}

golden_in!(
    enhanced_scan_complete_china,
    "enhanced-scan-complete.json",
    "cn-north-1",
    "aws-cn"
);
golden_in!(
    basic_scan_complete_govcloud,
    "basic-scan-complete.json",
    "us-gov-west-1",
    "aws-us-gov"
);
