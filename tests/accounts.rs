//! Layer 2: reading findings across accounts (the member role) against the
//! SDK's own mock clients.

use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::types::{ImageScanFindings, ImageScanStatus, ScanStatus};
use aws_sdk_sts::error::ErrorMetadata;
use aws_sdk_sts::operation::assume_role::{AssumeRoleError, AssumeRoleOutput};
use aws_sdk_sts::primitives::DateTime;
use aws_sdk_sts::types::Credentials;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use ecr_scan_alerts::adapters::aws::accounts::{AccountFindings, Home};
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::ports::{FindingsSource, SourceError};
use ecr_scan_alerts::App;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CENTRAL: &str = "123456789012";
const ROLE: &str = "ecr-scan-alerts-reader";

fn image(account: &str, region: &str, repository: &str) -> ImageRef {
    ImageRef {
        account: account.into(),
        region: region.into(),
        repository: repository.into(),
        digest: "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef01".into(),
        tags: vec!["v1".into()],
    }
}

fn home() -> Home {
    Home {
        account: CENTRAL.into(),
        partition: "aws".into(),
    }
}

/// Credentials that expire `valid_for` from now.
fn assumed(valid_for: Duration) -> AssumeRoleOutput {
    let expires = SystemTime::now() + valid_for;
    let secs = expires.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    AssumeRoleOutput::builder()
        .credentials(
            Credentials::builder()
                .access_key_id("ASIAMEMBER")
                .secret_access_key("secret")
                .session_token("token")
                .expiration(DateTime::from_secs(secs))
                .build()
                .unwrap(),
        )
        .build()
}

fn complete_page() -> DescribeImageScanFindingsOutput {
    DescribeImageScanFindingsOutput::builder()
        .image_scan_status(
            ImageScanStatus::builder()
                .status(ScanStatus::Complete)
                .build(),
        )
        .image_scan_findings(ImageScanFindings::builder().build())
        .build()
}

/// Every DescribeImageScanFindings answers a complete, empty scan; the
/// registry ids asked for are recorded.
fn ecr_rule(registries: Arc<Mutex<Vec<Option<String>>>>) -> Rule {
    mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(move |req| {
            registries
                .lock()
                .unwrap()
                .push(req.registry_id().map(str::to_string));
            true
        })
        .sequence()
        .output(complete_page)
        .repeatedly()
        .build()
}

fn source(ecr_rules: &[&Rule], sts_rules: &[&Rule], role: Option<&str>) -> AccountFindings {
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, ecr_rules, |c| c
        .retry_config(RetryConfig::disabled()));
    let sts = mock_client!(aws_sdk_sts, RuleMode::MatchAny, sts_rules, |c| c
        .retry_config(RetryConfig::disabled()));
    AccountFindings::new(home(), ecr, sts, role.map(str::to_string))
}

#[tokio::test]
async fn assumes_each_member_role_once_while_its_credentials_are_valid() {
    let registries = Arc::new(Mutex::new(Vec::new()));
    let ecr = ecr_rule(registries.clone());
    let roles = Arc::new(Mutex::new(Vec::new()));
    let seen = roles.clone();
    let sts = mock!(aws_sdk_sts::Client::assume_role)
        .match_requests(move |req| {
            seen.lock()
                .unwrap()
                .push(req.role_arn().unwrap_or_default().to_string());
            true
        })
        .sequence()
        .output(|| assumed(Duration::from_secs(3600)))
        .repeatedly()
        .build();
    let source = source(&[&ecr], &[&sts], Some(ROLE));

    for img in [
        image("111111111111", "us-east-1", "payments/api"),
        image("111111111111", "eu-west-1", "payments/worker"),
        image("222222222222", "us-east-1", "data/etl"),
        image("111111111111", "us-east-1", "payments/api"),
        image(CENTRAL, "us-east-1", "central/tool"),
    ] {
        let page = source.page(&img, None, None).await.unwrap();
        assert_eq!(page.status.unwrap().status, "COMPLETE");
    }

    assert_eq!(
        *roles.lock().unwrap(),
        [
            "arn:aws:iam::111111111111:role/ecr-scan-alerts-reader",
            "arn:aws:iam::222222222222:role/ecr-scan-alerts-reader",
        ],
        "one AssumeRole per member account; none for the central account"
    );
    assert_eq!(
        *registries.lock().unwrap(),
        [
            "111111111111",
            "111111111111",
            "222222222222",
            "111111111111",
            CENTRAL
        ]
        .map(|r| Some(r.to_string()))
    );
}

#[tokio::test]
async fn credentials_about_to_expire_are_renewed() {
    let registries = Arc::new(Mutex::new(Vec::new()));
    let ecr = ecr_rule(registries);
    // Two minutes left: inside the renewal margin, so every read assumes again.
    let sts = mock!(aws_sdk_sts::Client::assume_role)
        .sequence()
        .output(|| assumed(Duration::from_secs(120)))
        .repeatedly()
        .build();
    let source = source(&[&ecr], &[&sts], Some(ROLE));
    let img = image("111111111111", "us-east-1", "payments/api");
    source.page(&img, None, None).await.unwrap();
    source.page(&img, None, None).await.unwrap();
    assert_eq!(sts.num_calls(), 2);
}

#[tokio::test]
async fn without_a_member_role_other_accounts_are_read_with_the_default_credentials() {
    let registries = Arc::new(Mutex::new(Vec::new()));
    let ecr = ecr_rule(registries.clone());
    let sts = mock!(aws_sdk_sts::Client::assume_role).then_output(|| assumed(Duration::ZERO));
    let source = source(&[&ecr], &[&sts], None);
    source
        .page(
            &image("111111111111", "us-east-1", "payments/api"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_eq!(sts.num_calls(), 0);
    assert_eq!(
        *registries.lock().unwrap(),
        [Some("111111111111".to_string())]
    );
}

fn access_denied() -> Rule {
    mock!(aws_sdk_sts::Client::assume_role)
        .sequence()
        .error(|| {
            AssumeRoleError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("User: arn:aws:sts::123456789012:assumed-role/central/fn is not authorized to perform: sts:AssumeRole")
                    .build(),
            )
        })
        .repeatedly()
        .build()
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_names_the_account_and_the_role() {
    let registries = Arc::new(Mutex::new(Vec::new()));
    let ecr = ecr_rule(registries.clone());
    let sts = access_denied();
    let source = source(&[&ecr], &[&sts], Some(ROLE));
    let err = source
        .page(
            &image("333333333333", "us-east-1", "legacy/app"),
            None,
            None,
        )
        .await
        .unwrap_err();
    match &err {
        SourceError::RoleUnavailable {
            account,
            role,
            failure,
        } => {
            assert_eq!(account, "333333333333");
            assert_eq!(
                role,
                "arn:aws:iam::333333333333:role/ecr-scan-alerts-reader"
            );
            assert_eq!(failure.code, "AccessDenied");
            assert!(!failure.transient);
        }
        other => panic!("expected RoleUnavailable, got {other:?}"),
    }
    assert!(registries.lock().unwrap().is_empty(), "ECR was not asked");
}

#[tokio::test]
async fn the_handler_fails_the_event_with_member_role_unavailable() {
    let ecr = ecr_rule(Arc::new(Mutex::new(Vec::new())));
    let sts = access_denied();
    let sns_client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[], |c| c
        .retry_config(RetryConfig::disabled()));
    let topic = "arn:aws:sns:us-east-1:123456789012:scan-alerts";
    let config = Config {
        alert_topic_arn: topic.into(),
        member_role_name: Some(ROLE.into()),
        ..Config::default()
    };
    let app = App::new(
        config,
        source(&[&ecr], &[&sts], Some(ROLE)),
        SnsAlerts::new(sns_client, topic, None),
    );
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../events/basic-scan-complete.json")).unwrap();
    event["account"] = "333333333333".into();
    event["resources"] =
        serde_json::json!(["arn:aws:ecr:us-east-1:333333333333:repository/demo/web"]);
    let err = app.handle(event).await.unwrap_err();
    assert_eq!(err.error_type(), "MemberRoleUnavailable");
    let text = err.to_string();
    assert!(text.contains("333333333333"), "{text}");
    assert!(
        text.contains("arn:aws:iam::333333333333:role/ecr-scan-alerts-reader"),
        "{text}"
    );
    assert!(text.contains("AccessDenied"), "{text}");
}
