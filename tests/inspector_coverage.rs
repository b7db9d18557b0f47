//! Layer 2: Amazon Inspector's coverage and findings aggregations of a
//! registry (the digest's view of enhanced scanning), read with the
//! adapter against the SDK's own mock client (aws-smithy-mocks): the
//! requests' filters, every page, what each image's answer says, and the
//! errors.

use aws_sdk_inspector2::operation::list_coverage::ListCoverageOutput;
use aws_sdk_inspector2::operation::list_finding_aggregations::ListFindingAggregationsOutput;
use aws_sdk_inspector2::types::{
    AggregationRequest, AggregationResponse, AggregationType, AwsEcrContainerAggregationResponse,
    CoverageResourceType, CoveredResource, EcrContainerImageMetadata, ResourceScanMetadata,
    ScanStatus, ScanStatusCode, ScanStatusReason, ScanType, SeverityCounts,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::DateTime;
use ecr_scan_alerts::adapters::aws::inspector_coverage::{read, AGGREGATION_PAGE, COVERAGE_PAGE};
use ecr_scan_alerts::domain::image::ImageRef;

const ACCOUNT: &str = "555555555555";

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn arn(repository: &str, digest: &str) -> String {
    format!("arn:aws:ecr:us-east-1:{ACCOUNT}:repository/{repository}/{digest}")
}

fn registry() -> ImageRef {
    ImageRef {
        account: ACCOUNT.into(),
        region: "us-east-1".into(),
        ..ImageRef::default()
    }
}

fn covered(
    repository: &str,
    digest: &str,
    code: ScanStatusCode,
    reason: ScanStatusReason,
) -> CoveredResource {
    CoveredResource::builder()
        .resource_type(CoverageResourceType::AwsEcrContainerImage)
        .resource_id(arn(repository, digest))
        .account_id(ACCOUNT)
        .scan_type(ScanType::Package)
        .scan_status(
            ScanStatus::builder()
                .status_code(code)
                .reason(reason)
                .build()
                .unwrap(),
        )
        .last_scanned_at(DateTime::from_secs(1_796_000_000))
        .resource_metadata(
            ResourceScanMetadata::builder()
                .ecr_image(
                    EcrContainerImageMetadata::builder()
                        .tags("v1")
                        .image_pulled_at(DateTime::from_secs(1_795_000_000))
                        .last_in_use_at(DateTime::from_secs(1_795_900_000))
                        .in_use_count(2)
                        .build(),
                )
                .build(),
        )
        .build()
        .unwrap()
}

fn aggregated(repository: &str, digest: &str, critical: i64, high: i64) -> AggregationResponse {
    AggregationResponse::AwsEcrContainerAggregation(
        AwsEcrContainerAggregationResponse::builder()
            .resource_id(arn(repository, digest))
            .image_sha(digest)
            .repository(repository)
            .account_id(ACCOUNT)
            .severity_counts(
                SeverityCounts::builder()
                    .all(critical + high + 1)
                    .critical(critical)
                    .high(high)
                    .medium(1)
                    .build(),
            )
            .in_use_count(0)
            .build()
            .unwrap(),
    )
}

fn client(rules: &[&Rule]) -> aws_sdk_inspector2::Client {
    mock_client!(aws_sdk_inspector2, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()))
}

#[tokio::test]
async fn every_page_of_coverage_and_aggregations_is_read_for_the_registrys_account() {
    let first = mock!(aws_sdk_inspector2::Client::list_coverage)
        .match_requests(|r| {
            let c = r.filter_criteria().unwrap();
            c.resource_type()[0].value() == "AWS_ECR_CONTAINER_IMAGE"
                && c.account_id()[0].value() == ACCOUNT
                && r.max_results() == Some(COVERAGE_PAGE)
                && r.next_token().is_none()
        })
        .then_output(|| {
            ListCoverageOutput::builder()
                .covered_resources(covered(
                    "team/api",
                    &digest(1),
                    ScanStatusCode::Active,
                    ScanStatusReason::Successful,
                ))
                .next_token("coverage-2")
                .build()
        });
    let second = mock!(aws_sdk_inspector2::Client::list_coverage)
        .match_requests(|r| r.next_token() == Some("coverage-2"))
        .then_output(|| {
            ListCoverageOutput::builder()
                .covered_resources(covered(
                    "team/old",
                    &digest(2),
                    ScanStatusCode::Inactive,
                    ScanStatusReason::ScanEligibilityExpired,
                ))
                .covered_resources(covered(
                    "team/new",
                    &digest(3),
                    ScanStatusCode::Inactive,
                    ScanStatusReason::from("SOMETHING_NEW"),
                ))
                .build()
        });
    let aggregations = mock!(aws_sdk_inspector2::Client::list_finding_aggregations)
        .match_requests(|r| {
            r.aggregation_type() == Some(&AggregationType::AwsEcrContainer)
                && matches!(
                    r.aggregation_request(),
                    Some(AggregationRequest::AwsEcrContainerAggregation(_))
                )
                && r.account_ids()[0].value() == ACCOUNT
                && r.max_results() == Some(AGGREGATION_PAGE)
                && r.next_token().is_none()
        })
        .then_output(|| {
            ListFindingAggregationsOutput::builder()
                .aggregation_type(AggregationType::AwsEcrContainer)
                .responses(aggregated("team/api", &digest(1), 1, 2))
                .next_token("aggregations-2")
                .build()
                .unwrap()
        });
    let more = mock!(aws_sdk_inspector2::Client::list_finding_aggregations)
        .match_requests(|r| r.next_token() == Some("aggregations-2"))
        .then_output(|| {
            ListFindingAggregationsOutput::builder()
                .aggregation_type(AggregationType::AwsEcrContainer)
                .responses(aggregated("team/old", &digest(2), 0, 0))
                .build()
                .unwrap()
        });
    let client = client(&[&first, &second, &aggregations, &more]);

    let coverage = read(&client, &registry()).await.unwrap();

    assert_eq!(first.num_calls() + second.num_calls(), 2);
    assert_eq!(aggregations.num_calls() + more.num_calls(), 2);
    assert_eq!(coverage.images.len(), 3);
    let api = coverage.image("team/api", &digest(1)).unwrap();
    assert_eq!(
        (api.status.as_str(), api.reason.as_str()),
        ("ACTIVE", "SUCCESSFUL")
    );
    assert_eq!(api.in_use_count, Some(2));
    assert_eq!(api.last_in_use_at, Some(1_795_900_000));
    assert_eq!(api.pulled_at, Some(1_795_000_000));
    assert_eq!(api.last_scanned_at, Some(1_796_000_000));
    assert_eq!(api.tags, vec!["v1".to_string()]);
    let old = coverage.image("team/old", &digest(2)).unwrap();
    assert_eq!(
        (old.status.as_str(), old.reason.as_str()),
        ("INACTIVE", "SCAN_ELIGIBILITY_EXPIRED")
    );
    let new = coverage.image("team/new", &digest(3)).unwrap();
    assert_eq!(
        new.reason, "SOMETHING_NEW",
        "an undocumented reason kept by its name"
    );
    let counts = coverage.aggregation("team/api", &digest(1)).unwrap().counts;
    assert_eq!(
        (
            counts.all,
            counts.critical,
            counts.high,
            counts.medium,
            counts.low
        ),
        (Some(4), Some(1), Some(2), Some(1), None)
    );
    assert_eq!(coverage.aggregations.len(), 2);
}

#[tokio::test]
async fn an_error_fails_the_read_with_inspectors_code() {
    let denied = mock!(aws_sdk_inspector2::Client::list_coverage).then_http_response(|| {
        let mut response = HttpResponse::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::from(
                r#"{"message": "User is not authorized to perform: inspector2:ListCoverage"}"#,
            ),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", "AccessDeniedException");
        response
    });
    let aggregations =
        mock!(aws_sdk_inspector2::Client::list_finding_aggregations).then_output(|| {
            ListFindingAggregationsOutput::builder()
                .aggregation_type(AggregationType::AwsEcrContainer)
                .build()
                .unwrap()
        });
    let client = client(&[&denied, &aggregations]);

    let failure = read(&client, &registry()).await.unwrap_err();

    assert_eq!(failure.service, "Inspector");
    assert_eq!(failure.code, "AccessDeniedException");
    assert!(
        failure.message.contains("inspector2:ListCoverage"),
        "{failure}"
    );
    assert!(!failure.transient);
}

#[tokio::test]
async fn this_accounts_registry_is_read_without_an_account_filter() {
    let unfiltered = mock!(aws_sdk_inspector2::Client::list_coverage)
        .match_requests(|r| r.filter_criteria().unwrap().account_id().is_empty())
        .then_output(|| ListCoverageOutput::builder().build());
    let aggregations = mock!(aws_sdk_inspector2::Client::list_finding_aggregations)
        .match_requests(|r| r.account_ids().is_empty())
        .then_output(|| {
            ListFindingAggregationsOutput::builder()
                .aggregation_type(AggregationType::AwsEcrContainer)
                .build()
                .unwrap()
        });
    let client = client(&[&unfiltered, &aggregations]);
    let home = ImageRef {
        region: "us-east-1".into(),
        ..ImageRef::default()
    };

    let coverage = read(&client, &home).await.unwrap();

    assert!(coverage.images.is_empty() && coverage.aggregations.is_empty());
    assert_eq!(unfiltered.num_calls(), 1);
}
