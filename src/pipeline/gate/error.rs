//! Why the gate cannot judge (exit status 2): one variant per cause, each
//! saying what happened and what to do, with the AWS failure or I/O error
//! behind it as its source.

use crate::domain::image::ImageRef;
use crate::domain::policy::PolicyError;
use crate::domain::scan_status::NO_CURRENT_FINDINGS_STATUSES;
use crate::domain::text::one_line;
use crate::ports::{ScanStatus, ServiceFailure, SourceError, StartScanError};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// The image (or the tag) does not exist in the registry.
    #[error("image not found: {0}")]
    ImageNotFound(#[source] ServiceFailure),
    #[error("image not found: {repository}:{tag}")]
    TagNotFound { repository: String, tag: String },
    /// An AWS call failed (after the SDK's retries), or a member role could
    /// not be assumed.
    #[error("{0}")]
    Aws(#[source] Box<SourceError>),
    /// Resolving a tag failed.
    #[error("{0}")]
    Registry(#[source] ServiceFailure),
    #[error("no scan found for {image} ({failure}): wait for scan on push with --wait, or start a basic scan with --start-scan")]
    NoScan {
        image: String,
        #[source]
        failure: ServiceFailure,
    },
    /// The scan failed, or has no current findings (which is not clean).
    #[error("{}", scan_failed(image, status))]
    ScanFailed {
        image: Box<ImageRef>,
        status: ScanStatus,
    },
    #[error("the scan of {image} is still {status}; use --wait")]
    StillPending { image: String, status: String },
    #[error("the scan of {image} is still {status} after {waited_secs}s (--timeout)")]
    WaitTimedOut {
        image: String,
        status: String,
        waited_secs: u64,
    },
    #[error("the new scan of {image} had not completed after {waited_secs}s (--timeout; status {status})")]
    RescanTimedOut {
        image: String,
        status: String,
        waited_secs: u64,
    },
    /// The scanning configuration means no scan of the image will start.
    #[error("no scan of {image} will start: {settings}. {what_to_do}")]
    NoScanWillStart {
        image: String,
        settings: String,
        what_to_do: String,
    },
    #[error("--start-scan starts basic scans only, and the registry uses enhanced scanning: Amazon Inspector decides when {image} is scanned. {what_to_do}")]
    EnhancedCannotStart { image: String, what_to_do: String },
    #[error("{}", not_started(image, error, *age))]
    ScanNotStarted {
        image: String,
        #[source]
        error: StartScanError,
        age: Option<Duration>,
    },
    #[error("cannot check --max-age: ECR gave no completion time (imageScanCompletedAt) for the scan of {image} (status {status}); rerun the gate without --max-age to judge it anyway")]
    NoCompletionTime { image: String, status: String },
    #[error("the last scan of {image} completed {} ago, longer than --max-age {}; it is an enhanced scan, which Amazon Inspector repeats on its own schedule and which cannot be started on demand. Check the image's status in Amazon Inspector (an image not pushed or pulled within the ECR rescan duration is no longer rescanned), push it again to rescan it, or raise --max-age.", human(*age), human(*max_age))]
    EnhancedTooOld {
        image: String,
        age: Duration,
        max_age: Duration,
    },
    #[error("the new scan of {image} reports completing {} ago, still longer than --max-age {}", human(*age), human(*max_age))]
    RescanTooOld {
        image: String,
        age: Duration,
        max_age: Duration,
    },
    /// An enhanced scan's findings did not settle within `--timeout`.
    #[error("{}", unsettled(image, totals, *interval))]
    Unsettled {
        image: String,
        totals: Vec<u64>,
        interval: Duration,
    },
    #[error("cannot read EPSS scores of {image} from Amazon Inspector, which the policy's risk rule needs: {source}")]
    Epss {
        image: String,
        #[source]
        source: Box<SourceError>,
    },
    #[error("reading the policy {}: {source}", path.display())]
    PolicyUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    PolicyInvalid {
        path: PathBuf,
        #[source]
        source: PolicyError,
    },
    #[error("no AWS Region: pass --region, or set AWS_REGION (or a region in the profile)")]
    NoRegion,
    #[error("writing the {format} report to {}: {source}", path.display())]
    WriteReport {
        format: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("appending the summary to {}: {source}", path.display())]
    AppendSummary {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl GateError {
    /// A failed read of the image's findings, as the gate says it.
    pub fn from_read(image: &ImageRef, error: SourceError) -> GateError {
        match error {
            SourceError::ImageNotFound(f) => GateError::ImageNotFound(f),
            SourceError::ScanNotFound(failure) => GateError::NoScan {
                image: image.short_name(),
                failure,
            },
            other => GateError::Aws(Box::new(other)),
        }
    }
}

/// `3d 4h`, `5h 10m`, `42m`, `15s`: an age people read at a glance.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn scan_failed(image: &ImageRef, status: &ScanStatus) -> String {
    no_current_findings(image, status).unwrap_or_else(|| {
        format!(
            "the scan of {} failed: {} {}",
            image.short_name(),
            status.status,
            status.description.as_deref().unwrap_or_default()
        )
    })
}

/// A scan that could not be started, with what to do.
fn not_started(name: &str, error: &StartScanError, age: Option<Duration>) -> String {
    match error {
        StartScanError::LimitExceeded(f) => format!(
            "cannot start a new scan of {name}: ECR starts a basic scan of an image at most once \
             per 24 hours, scan on push included ({f}){}. Rerun the gate later, or raise \
             --max-age to at least 24h.",
            age.map(|a| format!("; the last one completed {} ago", human(a)))
                .unwrap_or_default()
        ),
        StartScanError::Unsupported(f) => format!(
            "ECR cannot start a scan of {name} on demand ({f}): with enhanced scanning Amazon \
             Inspector decides when images are scanned, and some image types are not scanned \
             at all. Rerun the gate without --start-scan/--max-age, with --wait."
        ),
        StartScanError::ImageNotFound(f) => format!("image not found: {f}"),
        StartScanError::Failed(f) => format!("starting a scan of {name} failed: {f}"),
    }
}

/// An enhanced scan whose reads never agreed before the deadline.
fn unsettled(image: &str, totals: &[u64], interval: Duration) -> String {
    if let [only] = totals {
        return format!(
            "cannot judge the enhanced scan of {image}: its findings ({only} finding(s)) could \
             not be read a second time, {}s later, within --timeout; an enhanced scan is judged \
             only when two consecutive reads agree: raise --timeout",
            interval.as_secs()
        );
    }
    let reads: Vec<String> = totals.iter().map(u64::to_string).collect();
    format!(
        "cannot judge the enhanced scan of {image}: its findings were still changing when \
         --timeout ran out (consecutive reads: {} finding(s)); Amazon Inspector may still be \
         adding them: rerun the gate later or raise --timeout",
        reads.join(", ")
    )
}

/// The message for a scan status that means "no current findings"
/// (fold's `NO_CURRENT_FINDINGS_STATUSES`), which is not "clean": what it
/// means and what to do. `None` for other statuses.
pub fn no_current_findings(image: &ImageRef, status: &ScanStatus) -> Option<String> {
    if !NO_CURRENT_FINDINGS_STATUSES.contains(&status.status.as_str()) {
        return None;
    }
    let name = image.short_name();
    let what_to_do = match status.status.as_str() {
        "SCAN_ELIGIBILITY_EXPIRED" => "Amazon Inspector stopped rescanning the image because \
             it was not pushed or pulled within the registry's rescan duration, and closed its \
             findings. Push or pull the image again (or lengthen the ECR rescan duration in \
             Amazon Inspector's settings), wait for the rescan, then rerun the gate."
            .to_string(),
        "IMAGE_ARCHIVED" => format!(
            "The image is archived, and archived images are not scanned. Restore it (`aws ecr \
             update-image-storage-class --repository-name {} --image-id imageDigest={} \
             --target-storage-class STANDARD`), wait until it is restored and scanned, then \
             rerun the gate.",
            image.repository, image.digest
        ),
        "FINDINGS_UNAVAILABLE" => {
            "The registry cannot return the findings right now. Retry later.".to_string()
        }
        _ => return None,
    };
    let said = status
        .description
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.'))
        .filter(|d| !d.is_empty())
        .map(|d| format!(" (ECR: {})", one_line(d)))
        .unwrap_or_default();
    Some(format!(
        "no current findings for {name}: scan status {}{said}. That is not \"clean\": the \
         image was not judged. {what_to_do}",
        status.status
    ))
}
