//! What Amazon Inspector says of one registry's images under enhanced
//! scanning, for the digest: which images it covers and why not
//! (`inspector2:ListCoverage`, filtered to `AWS_ECR_CONTAINER_IMAGE` and
//! the registry's account), and each image's findings by severity and
//! usage (`inspector2:ListFindingAggregations`, aggregation type
//! `AWS_ECR_CONTAINER`). Inspector API Reference: ListCoverage,
//! CoveredResource, ScanStatus, ListFindingAggregations,
//! AwsEcrContainerAggregationResponse.
//!
//! The client is the registry's region's (and, for a member account, the
//! member role's): Inspector answers for its own region. The two listings
//! are read side by side, each page after page, at most [`MAX_PAGES`] pages
//! each: a registry larger than that fails the read, and the digest falls
//! back to ECR's image statuses, saying so.

use super::inspector::invalid_request;
use super::service_failure;
use crate::domain::coverage::{
    image_of_arn, AggregatedCounts, ImageAggregation, ImageCoverage, RegistryCoverage,
};
use crate::domain::image::ImageRef;
use crate::ports::ServiceFailure;
use aws_sdk_inspector2::types::{
    AggregationRequest, AggregationResponse, AggregationType, AwsEcrContainerAggregation,
    CoverageFilterCriteria, CoverageStringComparison, CoverageStringFilter, StringComparison,
    StringFilter,
};
use aws_sdk_inspector2::Client;

/// ListCoverage's largest page (Inspector API Reference, `maxResults`).
pub const COVERAGE_PAGE: i32 = 200;
/// ListFindingAggregations' largest page.
pub const AGGREGATION_PAGE: i32 = 100;
/// Pages read at most per listing and registry: 400,000 images of
/// coverage, 200,000 of aggregations, far beyond what one run reads.
pub const MAX_PAGES: u32 = 2_000;

fn too_many_pages(operation: &str) -> ServiceFailure {
    ServiceFailure {
        service: "Inspector",
        code: "TooManyPages".into(),
        message: format!("{operation} has more than {MAX_PAGES} pages for this registry"),
        transient: false,
    }
}

fn coverage_equals(value: &str) -> Result<CoverageStringFilter, ServiceFailure> {
    CoverageStringFilter::builder()
        .comparison(CoverageStringComparison::Equals)
        .value(value)
        .build()
        .map_err(|e| invalid_request(e.to_string()))
}

fn equals(value: &str) -> Result<StringFilter, ServiceFailure> {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(value)
        .build()
        .map_err(|e| invalid_request(e.to_string()))
}

fn epoch(t: Option<&aws_smithy_types::DateTime>) -> Option<i64> {
    t.map(aws_smithy_types::DateTime::secs)
}

fn count(n: Option<i64>) -> Option<u64> {
    n.and_then(|n| u64::try_from(n).ok())
}

/// The registry's coverage and findings aggregations: `registry.account`
/// (empty: every account the caller's Inspector answers for) in the
/// client's region.
pub async fn read(
    client: &Client,
    registry: &ImageRef,
) -> Result<RegistryCoverage, ServiceFailure> {
    let (images, aggregations) = futures_util::future::try_join(
        list_coverage(client, registry),
        list_aggregations(client, registry),
    )
    .await?;
    Ok(RegistryCoverage {
        images,
        aggregations,
    })
}

type ByImage<T> = std::collections::HashMap<(String, String), T>;

async fn list_coverage(
    client: &Client,
    registry: &ImageRef,
) -> Result<ByImage<ImageCoverage>, ServiceFailure> {
    let mut criteria = CoverageFilterCriteria::builder()
        .resource_type(coverage_equals("AWS_ECR_CONTAINER_IMAGE")?);
    if !registry.account.is_empty() {
        criteria = criteria.account_id(coverage_equals(&registry.account)?);
    }
    let criteria = criteria.build();
    let mut out = ByImage::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .list_coverage()
            .filter_criteria(criteria.clone())
            .max_results(COVERAGE_PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| service_failure("Inspector", &e))?;
        for resource in page.covered_resources.unwrap_or_default() {
            if resource.resource_type.as_str() != "AWS_ECR_CONTAINER_IMAGE" {
                continue;
            }
            if !registry.account.is_empty() && resource.account_id != registry.account {
                continue;
            }
            let Some(key) = image_of_arn(&resource.resource_id) else {
                tracing::info!(resource = %resource.resource_id, "Inspector covers a resource that names no ECR image: left out");
                continue;
            };
            let ecr = resource
                .resource_metadata
                .as_ref()
                .and_then(|m| m.ecr_image.as_ref());
            let (status, reason) = resource.scan_status.as_ref().map_or_else(
                // ScanStatus is optional in CoveredResource: without it,
                // nothing says Inspector scans the image.
                || (String::from("UNKNOWN"), String::from("NO_SCAN_STATUS")),
                |s| {
                    (
                        s.status_code.as_str().to_string(),
                        s.reason.as_str().to_string(),
                    )
                },
            );
            out.insert(
                key,
                ImageCoverage {
                    account: resource.account_id.clone(),
                    status,
                    reason,
                    last_scanned_at: epoch(resource.last_scanned_at.as_ref()),
                    pulled_at: epoch(ecr.and_then(|e| e.image_pulled_at.as_ref())),
                    last_in_use_at: epoch(ecr.and_then(|e| e.last_in_use_at.as_ref())),
                    in_use_count: count(ecr.and_then(|e| e.in_use_count)),
                    tags: ecr.and_then(|e| e.tags.clone()).unwrap_or_default(),
                },
            );
        }
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(out),
        }
    }
    Err(too_many_pages("ListCoverage"))
}

async fn list_aggregations(
    client: &Client,
    registry: &ImageRef,
) -> Result<ByImage<ImageAggregation>, ServiceFailure> {
    let request = AggregationRequest::AwsEcrContainerAggregation(
        AwsEcrContainerAggregation::builder().build(),
    );
    let accounts = if registry.account.is_empty() {
        None
    } else {
        Some(vec![equals(&registry.account)?])
    };
    let mut out = ByImage::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .list_finding_aggregations()
            .aggregation_type(AggregationType::AwsEcrContainer)
            .aggregation_request(request.clone())
            .set_account_ids(accounts.clone())
            .max_results(AGGREGATION_PAGE)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|e| service_failure("Inspector", &e))?;
        for response in page.responses.unwrap_or_default() {
            let AggregationResponse::AwsEcrContainerAggregation(image) = response else {
                continue;
            };
            let account = image.account_id.clone().unwrap_or_default();
            if !registry.account.is_empty() && !account.is_empty() && account != registry.account {
                continue;
            }
            // The resource id is the image's ARN; `repository` and
            // `imageSha` say the same when it is not.
            let key = image_of_arn(&image.resource_id).or_else(|| {
                let repository = image.repository.clone().filter(|r| !r.is_empty())?;
                let sha = image.image_sha.clone().filter(|s| !s.is_empty())?;
                let digest = if sha.starts_with("sha256:") {
                    sha
                } else {
                    format!("sha256:{sha}")
                };
                Some((repository, digest))
            });
            let Some(key) = key else {
                continue;
            };
            let Some(counts) = image.severity_counts.as_ref() else {
                // No counts: nothing to decide on; ECR's summary decides.
                continue;
            };
            out.insert(
                key,
                ImageAggregation {
                    account,
                    counts: AggregatedCounts {
                        all: count(counts.all),
                        critical: count(counts.critical),
                        high: count(counts.high),
                        medium: count(counts.medium),
                        low: count(counts.low),
                        informational: count(counts.informational),
                        untriaged: count(counts.untriaged),
                    },
                    last_in_use_at: epoch(image.last_in_use_at.as_ref()),
                    in_use_count: count(image.in_use_count),
                },
            );
        }
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => return Ok(out),
        }
    }
    Err(too_many_pages("ListFindingAggregations"))
}
