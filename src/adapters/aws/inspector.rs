//! What Amazon Inspector adds to ECR's enhanced findings: EPSS scores
//! (ECR's `EnhancedImageScanFinding` has none) and, when ECR's image
//! details say nothing, whether the image runs. Read with
//! `inspector2:ListFindings`, filtered to the image's active package
//! vulnerabilities and sorted by EPSS score, highest first (Inspector API
//! reference, ListFindings, FilterCriteria, SortCriteria `EPSS_SCORE`).
//!
//! Bounded: at most [`MAX_PAGES`] pages of [`PAGE_SIZE`] findings, within
//! the SDK's timeouts and retry policy shared with every other call. The
//! findings left unread all score at most the last one read, so an
//! `epss.at_least` rule is still decided right for them
//! ([`Signals::unread_at_most`]).

use super::service_failure;
use crate::domain::image::ImageRef;
use crate::domain::risk::{Signals, Usage};
use crate::ports::ServiceFailure;
use aws_sdk_inspector2::types::{
    FilterCriteria, SortCriteria, SortField, SortOrder, StringComparison, StringFilter,
};
use aws_sdk_inspector2::Client;

/// ListFindings' largest page (Inspector API reference, `maxResults`).
pub const PAGE_SIZE: i32 = 100;
/// Pages read at most per image: 1,000 findings, highest EPSS first.
pub const MAX_PAGES: u32 = 10;
/// The whole read, every page and retry included, may take this long: EPSS
/// enriches an alert and must not hold it for the SDK's full operation
/// timeout when Inspector does not answer.
pub const BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

pub struct InspectorSignals {
    client: Client,
}

fn equals(value: &str) -> Result<StringFilter, ServiceFailure> {
    StringFilter::builder()
        .comparison(StringComparison::Equals)
        .value(value)
        .build()
        .map_err(|e| invalid_request(e.to_string()))
}

/// A request the SDK could not build, as an Inspector failure.
pub(super) fn invalid_request(message: String) -> ServiceFailure {
    ServiceFailure {
        service: "Inspector",
        code: "InvalidRequest".into(),
        message,
        transient: false,
    }
}

/// The filter for one image's active package vulnerabilities.
pub fn image_filter(image: &ImageRef) -> Result<FilterCriteria, ServiceFailure> {
    let mut criteria = FilterCriteria::builder()
        .ecr_image_hash(equals(&image.digest)?)
        .ecr_image_repository_name(equals(&image.repository)?)
        .finding_status(equals("ACTIVE")?)
        .finding_type(equals("PACKAGE_VULNERABILITY")?);
    if !image.account.is_empty() {
        criteria = criteria.aws_account_id(equals(&image.account)?);
    }
    Ok(criteria.build())
}

impl InspectorSignals {
    pub fn new(client: Client) -> InspectorSignals {
        InspectorSignals { client }
    }

    /// The Inspector client, for the other reads of the same account and
    /// region (the digest's coverage).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The image's EPSS scores and usage as Inspector has them, within
    /// [`BUDGET`].
    pub async fn read(&self, image: &ImageRef) -> Result<Signals, ServiceFailure> {
        tokio::time::timeout(BUDGET, self.read_pages(image))
            .await
            .unwrap_or_else(|_| {
                Err(ServiceFailure {
                    service: "Inspector",
                    code: "Timeout".into(),
                    message: format!("ListFindings did not finish within {} s", BUDGET.as_secs()),
                    transient: true,
                })
            })
    }

    async fn read_pages(&self, image: &ImageRef) -> Result<Signals, ServiceFailure> {
        let criteria = image_filter(image)?;
        let sort = SortCriteria::builder()
            .field(SortField::EpssScore)
            .sort_order(SortOrder::Desc)
            .build()
            .map_err(|e| invalid_request(e.to_string()))?;
        let mut signals = Signals::default();
        let mut token: Option<String> = None;
        for page in 0..MAX_PAGES {
            let output = self
                .client
                .list_findings()
                .filter_criteria(criteria.clone())
                .sort_criteria(sort.clone())
                .max_results(PAGE_SIZE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| service_failure("Inspector", &e))?;
            let mut lowest = None;
            for finding in output.findings.unwrap_or_default() {
                let score = finding.epss.as_ref().map(|e| e.score);
                if let (Some(id), Some(score)) = (
                    finding
                        .package_vulnerability_details
                        .as_ref()
                        .map(|d| d.vulnerability_id.as_str()),
                    score,
                ) {
                    signals.add_epss(id, score);
                    lowest = Some(lowest.map_or(score, |l: f64| l.min(score)));
                }
                for resource in &finding.resources {
                    if let Some(details) = resource
                        .details
                        .as_ref()
                        .and_then(|d| d.aws_ecr_container_image.as_ref())
                    {
                        signals.usage.merge(&Usage {
                            in_use_count: details.in_use_count.and_then(|n| u64::try_from(n).ok()),
                            last_in_use_at: details.last_in_use_at.map(|t| t.secs()),
                            pushed_at: details.pushed_at.map(|t| t.secs()),
                        });
                    }
                }
            }
            match output.next_token.filter(|t| !t.is_empty()) {
                Some(next) if page + 1 < MAX_PAGES => token = Some(next),
                Some(_) => {
                    // More findings than read: all score at most the last read.
                    signals.unread_at_most = lowest.or(Some(0.0));
                    tracing::info!(
                        repository = %image.repository,
                        digest = %image.digest,
                        pages = MAX_PAGES,
                        "Inspector has more findings than read for EPSS; the rest score lower"
                    );
                }
                None => break,
            }
        }
        Ok(signals)
    }
}
