//! Findings from ECR's DescribeImageScanFindings, one page per call, and
//! the registry's scanning configuration.

use super::finding_fields::{self as fields, BasicAttributes};
use super::findings_tap::TapSlot;
use super::service_failure;
use crate::domain::digest::{ImageInfo, RepositoryInfo};
use crate::domain::finding::Finding;
use crate::domain::image::ImageRef;
use crate::domain::risk::{self, Usage};
use crate::domain::severity::Severity;
use crate::ports::{BoxFuture, RegistryListing};
use crate::ports::{
    FindingsPage, FindingsSource, RegistryScanning, RepositoryScanning, ScanStarter, ScanStatus,
    ScanningConfigSource, ScanningRule, ServiceFailure, SourceError, StartScanError,
};
use aws_sdk_ecr::operation::batch_get_repository_scanning_configuration::BatchGetRepositoryScanningConfigurationError;
use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsError;
use aws_sdk_ecr::operation::describe_images::DescribeImagesError;
use aws_sdk_ecr::operation::start_image_scan::StartImageScanError;
use aws_sdk_ecr::types::{EnhancedImageScanFinding, ImageIdentifier, ImageScanFinding};
use aws_sdk_ecr::Client;

/// ECR's maximum page size for basic findings; enhanced findings come 100 a
/// page whatever this says.
const MAX_RESULTS: i32 = 1000;

pub struct EcrFindings {
    client: Client,
    inspector: Option<super::inspector::InspectorSignals>,
}

impl EcrFindings {
    pub fn new(client: Client) -> EcrFindings {
        EcrFindings {
            client,
            inspector: None,
        }
    }

    /// Also reads what Amazon Inspector adds to enhanced findings (EPSS).
    pub fn with_inspector(mut self, client: aws_sdk_inspector2::Client) -> EcrFindings {
        self.set_inspector(client);
        self
    }

    pub fn set_inspector(&mut self, client: aws_sdk_inspector2::Client) {
        self.inspector = Some(super::inspector::InspectorSignals::new(client));
    }

    /// The digest a tag points at now, or `None` when there is no such
    /// image (or repository).
    pub async fn resolve_tag(
        &self,
        registry_id: Option<&str>,
        repository: &str,
        tag: &str,
    ) -> Result<Option<(String, Option<String>)>, ServiceFailure> {
        self.describe_image(
            registry_id,
            repository,
            ImageIdentifier::builder().image_tag(tag).build(),
        )
        .await
    }

    /// The registry (account) an image of the caller's default registry is
    /// in, as `DescribeImages` says it; `None` when there is no such image.
    pub async fn registry_of(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<String>, ServiceFailure> {
        Ok(self
            .describe_image(
                None,
                repository,
                ImageIdentifier::builder().image_digest(digest).build(),
            )
            .await?
            .and_then(|(_, registry)| registry))
    }

    /// The image's digest and registry id (`DescribeImages`), `None` when
    /// the image or its repository does not exist.
    async fn describe_image(
        &self,
        registry_id: Option<&str>,
        repository: &str,
        image: ImageIdentifier,
    ) -> Result<Option<(String, Option<String>)>, ServiceFailure> {
        let result = self
            .client
            .describe_images()
            .set_registry_id(registry_id.map(str::to_string))
            .repository_name(repository)
            .image_ids(image)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output
                .image_details
                .unwrap_or_default()
                .into_iter()
                .find_map(|d| d.image_digest.map(|digest| (digest, d.registry_id)))),
            Err(e) => match e.as_service_error() {
                Some(
                    DescribeImagesError::ImageNotFoundException(_)
                    | DescribeImagesError::RepositoryNotFoundException(_),
                ) => Ok(None),
                _ => Err(service_failure("ECR", &e)),
            },
        }
    }
}

/// The image's registry; `None` (no account): the caller's own registry
/// (the CI gate without --registry-id).
fn registry_of(image: &ImageRef) -> Option<String> {
    (!image.account.is_empty()).then(|| image.account.clone())
}

/// The image, by its digest.
fn digest_of(image: &ImageRef) -> ImageIdentifier {
    ImageIdentifier::builder()
        .image_digest(&image.digest)
        .build()
}

impl EcrFindings {
    /// One page; basic findings below `count_only_below` come with their
    /// severity alone (the tap reads no more of them).
    fn page_hinted<'a>(
        &'a self,
        image: &'a ImageRef,
        next_token: Option<&'a str>,
        count_only_below: Option<Severity>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
        Box::pin(async move {
            // The HTTP client reads the findings itself into this call's
            // slot, carried on each attempt's request (a retry refills it);
            // the slot goes with the call, whatever its result.
            let slot = TapSlot::new(count_only_below);
            let carried = slot.clone();
            let sent = self
                .client
                .describe_image_scan_findings()
                .set_registry_id(registry_of(image))
                .repository_name(&image.repository)
                .image_id(digest_of(image))
                .max_results(MAX_RESULTS)
                .set_next_token(next_token.map(str::to_string))
                .customize()
                .mutate_request(move |request| request.add_extension(carried.clone()))
                .send()
                .await;
            let output = sent.map_err(|error| {
                let failure = service_failure("ECR", &error);
                match error.as_service_error() {
                    Some(DescribeImageScanFindingsError::ImageNotFoundException(_)) => {
                        SourceError::ImageNotFound(failure)
                    }
                    Some(DescribeImageScanFindingsError::ScanNotFoundException(_)) => {
                        SourceError::ScanNotFound(failure)
                    }
                    _ => SourceError::Failed(failure),
                }
            })?;
            // Findings the HTTP client read itself (findings_tap), if it did.
            let tapped = slot.take();
            let status = output.image_scan_status.map(|s| ScanStatus {
                status: s
                    .status
                    .map(|st| st.as_str().to_string())
                    .unwrap_or_default(),
                description: s.description,
            });
            let (mut findings, mut usage, counted) = tapped
                .map(|page| (page.findings, page.usage, page.counted))
                .unwrap_or_default();
            let completed_at = output
                .image_scan_findings
                .as_ref()
                .and_then(|scan| scan.image_scan_completed_at)
                .map(|at| at.secs());
            if let Some(scan) = output.image_scan_findings {
                let basic = scan.findings.unwrap_or_default();
                let enhanced = scan.enhanced_findings.unwrap_or_default();
                findings.reserve(basic.len() + enhanced.len());
                findings.extend(basic.into_iter().map(from_basic));
                for finding in &enhanced {
                    usage.merge(&usage_of(finding));
                }
                findings.extend(enhanced.into_iter().map(from_enhanced));
            }
            Ok(FindingsPage {
                status,
                findings,
                next_token: output.next_token,
                completed_at,
                usage,
                counted,
            })
        })
    }
}

impl FindingsSource for EcrFindings {
    fn page<'a>(
        &'a self,
        image: &'a ImageRef,
        next_token: Option<&'a str>,
        count_below: Option<Severity>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
        self.page_hinted(image, next_token, count_below)
    }

    fn risk_signals<'a>(
        &'a self,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<risk::Signals, SourceError>> {
        self.read_signals(image)
    }

    /// `ListTagsForResource` on the repository's ARN (Amazon ECR API
    /// Reference: tags are set on repositories; images have none). A
    /// repository holds at most 50 tags, all in one answer.
    fn repository_tag<'a>(
        &'a self,
        image: &'a ImageRef,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
        Box::pin(async move {
            let output = self
                .client
                .list_tags_for_resource()
                .resource_arn(repository_arn(image))
                .customize()
                .config_override(
                    aws_sdk_ecr::config::Config::builder().timeout_config(
                        aws_config::timeout::TimeoutConfig::builder()
                            .operation_timeout(super::TAG_READ_TIMEOUT)
                            .build(),
                    ),
                )
                .send()
                .await
                .map_err(|error| {
                    let failure = service_failure("ECR", &error);
                    match error.as_service_error() {
                        Some(
                            aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceError::RepositoryNotFoundException(_),
                        ) => SourceError::ImageNotFound(failure),
                        _ => SourceError::Failed(failure),
                    }
                })?;
            Ok(output
                .tags
                .unwrap_or_default()
                .into_iter()
                .find(|tag| tag.key() == key)
                .map(|tag| tag.value().to_string()))
        })
    }
}

/// The repository's ARN, in the partition its region belongs to
/// (`arn:aws-cn:` in China, `arn:aws-us-gov:` in GovCloud).
pub fn repository_arn(image: &ImageRef) -> String {
    let partition = if image.region.starts_with("cn-") {
        "aws-cn"
    } else if image.region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    };
    format!(
        "arn:{partition}:ecr:{}:{}:repository/{}",
        image.region, image.account, image.repository
    )
}

impl RegistryListing for EcrFindings {
    /// Inspector's coverage and findings aggregations of the registry, with
    /// this source's Inspector client; `None` without one.
    fn coverage<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Option<crate::domain::coverage::RegistryCoverage>, SourceError>> {
        Box::pin(async move {
            let Some(inspector) = &self.inspector else {
                return Ok(None);
            };
            super::inspector_coverage::read(inspector.client(), registry)
                .await
                .map(Some)
                .map_err(SourceError::Failed)
        })
    }

    /// `GetRegistryScanningConfiguration`: the caller's own registry.
    fn scan_type<'a>(
        &'a self,
        _registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<String, SourceError>> {
        Box::pin(async move {
            self.registry_scanning()
                .await
                .map(|r| r.scan_type)
                .map_err(SourceError::Failed)
        })
    }

    /// `DescribeRepositories`, 1,000 a page (Amazon ECR API Reference).
    fn repositories<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Vec<RepositoryInfo>, SourceError>> {
        Box::pin(async move {
            let mut pages = self
                .client
                .describe_repositories()
                .set_registry_id(registry_of(registry))
                .max_results(1000)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| SourceError::Failed(service_failure("ECR", &e)))?;
                for repository in page.repositories.unwrap_or_default() {
                    let Some(name) = repository.repository_name else {
                        continue;
                    };
                    out.push(RepositoryInfo {
                        repository: ImageRef {
                            account: repository
                                .registry_id
                                .unwrap_or_else(|| registry.account.clone()),
                            region: registry.region.clone(),
                            repository: name,
                            digest: String::new(),
                            tags: Vec::new(),
                        },
                        scan_on_push: repository
                            .image_scanning_configuration
                            .is_some_and(|c| c.scan_on_push),
                    });
                }
            }
            Ok(out)
        })
    }

    /// `DescribeImages`, 1,000 a page: each image's push and last pull, and
    /// its scan's status and summary (Amazon ECR API Reference,
    /// `ImageDetail`).
    fn images<'a>(
        &'a self,
        repository: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Vec<ImageInfo>, SourceError>> {
        Box::pin(async move {
            let mut pages = self
                .client
                .describe_images()
                .set_registry_id(registry_of(repository))
                .repository_name(&repository.repository)
                .max_results(1000)
                .into_paginator()
                .send();
            let mut out = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|error| {
                    let failure = service_failure("ECR", &error);
                    match error.as_service_error() {
                        Some(DescribeImagesError::RepositoryNotFoundException(_)) => {
                            SourceError::ImageNotFound(failure)
                        }
                        _ => SourceError::Failed(failure),
                    }
                })?;
                for detail in page.image_details.unwrap_or_default() {
                    let Some(digest) = detail.image_digest else {
                        continue;
                    };
                    let summary = detail.image_scan_findings_summary;
                    let mut counts = crate::domain::severity::SeverityCounts::default();
                    let mut unknown_severities = Vec::new();
                    let has_summary = summary.is_some();
                    if let Some(found) = summary
                        .as_ref()
                        .and_then(|s| s.finding_severity_counts.as_ref())
                    {
                        for (severity, n) in found {
                            match severity.as_str().parse::<Severity>() {
                                Ok(known) => counts.add(known, u64::try_from(*n).unwrap_or(0)),
                                Err(_) => unknown_severities.push(severity.as_str().to_string()),
                            }
                        }
                    }
                    out.push(ImageInfo {
                        image: ImageRef {
                            account: detail
                                .registry_id
                                .unwrap_or_else(|| repository.account.clone()),
                            region: repository.region.clone(),
                            repository: repository.repository.clone(),
                            digest,
                            tags: detail.image_tags.unwrap_or_default(),
                        },
                        pushed_at: detail.image_pushed_at.map(|t| t.secs()),
                        last_pull: detail.last_recorded_pull_time.map(|t| t.secs()),
                        scan_status: detail
                            .image_scan_status
                            .as_ref()
                            .and_then(|s| s.status.as_ref())
                            .map(|s| s.as_str().to_string()),
                        scan_description: detail.image_scan_status.and_then(|s| s.description),
                        completed_at: summary
                            .and_then(|s| s.image_scan_completed_at)
                            .map(|t| t.secs()),
                        counts,
                        has_summary,
                        unknown_severities,
                    });
                }
            }
            Ok(out)
        })
    }
}

impl EcrFindings {
    fn read_signals<'a>(
        &'a self,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<risk::Signals, SourceError>> {
        Box::pin(async move {
            match &self.inspector {
                Some(inspector) => inspector.read(image).await.map_err(SourceError::Failed),
                None => Ok(risk::Signals::default()),
            }
        })
    }
}

impl ScanStarter for EcrFindings {
    fn start_scan<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<(), StartScanError>> {
        Box::pin(async move {
            self.client
                .start_image_scan()
                .set_registry_id(registry_of(image))
                .repository_name(&image.repository)
                .image_id(digest_of(image))
                .send()
                .await
                .map(|_| ())
                .map_err(|error| {
                    let failure = service_failure("ECR", &error);
                    match error.as_service_error() {
                        Some(StartImageScanError::LimitExceededException(_)) => {
                            StartScanError::LimitExceeded(failure)
                        }
                        // The API reference says StartImageScan starts basic
                        // scans; it does not say which error a registry on
                        // enhanced scanning answers. The gate reads the scan
                        // type first and starts nothing there; should it get
                        // here anyway, either code reads as "cannot be
                        // scanned on demand", and any other error keeps ECR's
                        // own code and message.
                        Some(
                            StartImageScanError::UnsupportedImageTypeException(_)
                            | StartImageScanError::ValidationException(_),
                        ) => StartScanError::Unsupported(failure),
                        Some(
                            StartImageScanError::ImageNotFoundException(_)
                            | StartImageScanError::RepositoryNotFoundException(_),
                        ) => StartScanError::ImageNotFound(failure),
                        _ => StartScanError::Failed(failure),
                    }
                })
        })
    }
}

impl ScanningConfigSource for EcrFindings {
    fn registry_scanning<'a>(&'a self) -> BoxFuture<'a, Result<RegistryScanning, ServiceFailure>> {
        Box::pin(async move {
            let output = self
                .client
                .get_registry_scanning_configuration()
                .send()
                .await
                .map_err(|e| service_failure("ECR", &e))?;
            let (scan_type, rules) = match output.scanning_configuration {
                Some(config) => (config.scan_type, config.rules.unwrap_or_default()),
                None => (None, Vec::new()),
            };
            Ok(RegistryScanning {
                // ECR's documented default when nothing is configured.
                scan_type: scan_type
                    .map_or_else(|| "BASIC".to_string(), |t| t.as_str().to_string()),
                rules: rules
                    .into_iter()
                    .map(|rule| ScanningRule {
                        frequency: rule.scan_frequency.as_str().to_string(),
                        filters: rule
                            .repository_filters
                            .into_iter()
                            .map(|f| f.filter)
                            .collect(),
                    })
                    .collect(),
            })
        })
    }

    fn repository_scanning<'a>(
        &'a self,
        repository: &'a str,
    ) -> BoxFuture<'a, Result<Option<RepositoryScanning>, ServiceFailure>> {
        Box::pin(async move {
            let result = self
                .client
                .batch_get_repository_scanning_configuration()
                .repository_names(repository)
                .send()
                .await;
            let output = match result {
                Ok(output) => output,
                Err(e) => return match e.as_service_error() {
                    Some(
                        BatchGetRepositoryScanningConfigurationError::RepositoryNotFoundException(
                            _,
                        ),
                    ) => Ok(None),
                    _ => Err(service_failure("ECR", &e)),
                },
            };
            // A repository it does not know is listed under `failures`.
            let found = output
                .scanning_configurations
                .unwrap_or_default()
                .into_iter()
                .find(|c| c.repository_name.as_deref() == Some(repository))
                .map(|c| RepositoryScanning {
                    // Absent: nothing scans the repository automatically.
                    frequency: c
                        .scan_frequency
                        .map_or_else(|| "MANUAL".to_string(), |f| f.as_str().to_string()),
                    scan_on_push: c.scan_on_push,
                    applied_filters: c
                        .applied_scan_filters
                        .unwrap_or_default()
                        .into_iter()
                        .map(|f| f.filter)
                        .collect(),
                });
            // "No scan will come" must never rest on one answer: when it says
            // MANUAL without scan on push, also ask for the repository's own
            // scan-on-push flag (DescribeRepositories), the older
            // per-repository setting that the registry's answer may not
            // reflect (the local emulator's does not).
            match found {
                Some(mut scanning) if scanning.frequency == "MANUAL" && !scanning.scan_on_push => {
                    let output = self
                        .client
                        .describe_repositories()
                        .repository_names(repository)
                        .send()
                        .await
                        .map_err(|e| service_failure("ECR", &e))?;
                    scanning.scan_on_push = output
                        .repositories
                        .unwrap_or_default()
                        .iter()
                        .filter(|r| r.repository_name.as_deref() == Some(repository))
                        .any(|r| {
                            r.image_scanning_configuration
                                .as_ref()
                                .is_some_and(|c| c.scan_on_push)
                        });
                    Ok(Some(scanning))
                }
                other => Ok(other),
            }
        })
    }
}

/// A basic finding as the SDK reads it ([`super::finding_fields::basic`]).
pub fn from_basic(finding: ImageScanFinding) -> Finding {
    let mut attributes = BasicAttributes::default();
    for attribute in finding.attributes.unwrap_or_default() {
        if let Some(value) = attribute.value {
            attributes.add(&attribute.key, value);
        }
    }
    fields::basic(
        finding.name,
        fields::severity(finding.severity.as_ref().map(|s| s.as_str())),
        finding.description,
        finding.uri,
        attributes,
    )
}

/// An enhanced (Inspector) finding as the SDK reads it
/// ([`super::finding_fields::enhanced`]).
pub fn from_enhanced(finding: EnhancedImageScanFinding) -> Finding {
    let details = finding.package_vulnerability_details;
    let (vulnerability_id, package, source_url, first_reference_url) = match details {
        Some(d) => (
            d.vulnerability_id,
            d.vulnerable_packages
                .unwrap_or_default()
                .into_iter()
                .next()
                .map(|p| (p.name, p.version, p.fixed_in_version)),
            d.source_url,
            d.reference_urls.unwrap_or_default().into_iter().next(),
        ),
        None => (None, None, None, None),
    };
    fields::enhanced(fields::Enhanced {
        severity: finding.severity.as_deref(),
        vulnerability_id,
        title: finding.title,
        package,
        source_url,
        first_reference_url,
        score: Some(finding.score),
        fix_available: finding.fix_available.as_deref(),
        exploit_available: finding.exploit_available.as_deref(),
        first_observed: finding.first_observed_at.map(|t| t.secs()),
    })
}

/// Whether the image runs, as an enhanced finding's image details say
/// ([`super::finding_fields::usage`]).
pub fn usage_of(finding: &EnhancedImageScanFinding) -> Usage {
    let mut usage = Usage::default();
    for resource in finding.resources.as_deref().unwrap_or_default() {
        if let Some(image) = resource
            .details
            .as_ref()
            .and_then(|d| d.aws_ecr_container_image.as_ref())
        {
            usage.merge(&fields::usage(
                image.in_use_count,
                image.last_in_use_at.map(|t| t.secs()),
                image.pushed_at.map(|t| t.secs()),
            ));
        }
    }
    usage
}
