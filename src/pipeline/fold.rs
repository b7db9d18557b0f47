//! Reading every page of an image's findings and folding them under a
//! policy: shared by the Lambda pipeline and the CI gate.

use crate::domain::dedup::Known;
use crate::domain::image::ImageRef;
use crate::domain::judged::JudgedFindings;
use crate::domain::policy::ImagePolicy;
use crate::domain::risk::Signals;
use crate::ports::{FindingsSource, ScanStatus, SourceError};

pub use crate::domain::scan_status::{
    FAILED_STATUSES, NO_CURRENT_FINDINGS_STATUSES, PENDING_STATUSES,
};
/// A guard against a registry that never stops paging.
const MAX_PAGES: u32 = 100_000;

#[derive(Debug)]
pub struct Folded {
    /// ECR's status of the scan (from the first page).
    pub status: Option<ScanStatus>,
    /// When the scan completed, as the first page says.
    pub completed_at: Option<i64>,
    pub tally: JudgedFindings,
}

/// Why the findings could not be folded: the source's own error, passed on
/// as it is, or what ECR's status says.
#[derive(Debug, thiserror::Error)]
pub enum FoldError {
    #[error(transparent)]
    Read(#[from] SourceError),
    /// ECR reports the scan as failed: no findings will come.
    #[error("the scan status is {}", .0.status)]
    ScanFailed(ScanStatus),
    /// ECR reports the scan as still running.
    #[error("the scan is still {0}")]
    Pending(String),
}

/// Pages through the image's findings, judging each under `policy`;
/// findings already alerted (`known`) are counted, not listed.
pub async fn judge_pages<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    policy: &ImagePolicy<'_>,
    known: &Known,
    signals: &Signals,
) -> Result<Folded, FoldError> {
    judge_pages_into(
        source,
        image,
        policy,
        known,
        signals,
        JudgedFindings::default(),
    )
    .await
}

/// [`judge_pages`] into `tally`, which says how many findings to keep
/// for listing.
pub async fn judge_pages_into<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    policy: &ImagePolicy<'_>,
    known: &Known,
    signals: &Signals,
    mut tally: JudgedFindings,
) -> Result<Folded, FoldError> {
    let mut token: Option<String> = None;
    let mut status: Option<ScanStatus> = None;
    let mut completed_at = None;
    // Whether the image runs is image-wide, and the first page says it
    // (every enhanced finding carries the image's details).
    let mut policy = policy.clone();
    loop {
        // Basic findings below the threshold are only counted.
        let page = source
            .page(image, token.as_deref(), Some(policy.threshold))
            .await?;
        if tally.pages == 0 {
            if let Some(first) = &page.status {
                if FAILED_STATUSES.contains(&first.status.as_str()) {
                    return Err(FoldError::ScanFailed(first.clone()));
                }
                if PENDING_STATUSES.contains(&first.status.as_str()) {
                    return Err(FoldError::Pending(first.status.clone()));
                }
            }
            status = page.status.clone();
            completed_at = page.completed_at;
            // ECR's word first; Inspector's when ECR says nothing.
            let usage = if page.usage.in_use_count.is_some() {
                page.usage
            } else {
                signals.usage
            };
            policy.apply_usage(&usage);
            tally.usage.merge(&usage);
        }
        tally.usage.merge(&page.usage);
        let mut findings = page.findings;
        for finding in &mut findings {
            signals.enrich(finding);
        }
        tally.judge_all(findings, &policy, known);
        tally.add_counted(&page.counted);
        tally.pages += 1;
        match page.next_token {
            Some(next) if !next.is_empty() && tally.pages < MAX_PAGES => {
                if token.as_deref() == Some(next.as_str()) {
                    tracing::warn!(repository = %image.repository, "ECR repeated a nextToken; stopping paging");
                    break;
                }
                token = Some(next);
            }
            _ => break,
        }
    }
    Ok(Folded {
        status,
        completed_at,
        tally,
    })
}
