//! What ECR's scan statuses mean (Amazon ECR API Reference,
//! `ImageScanStatus`): which say no findings will come, which say there are
//! no *current* findings (not the same as clean), and which say the scan
//! has not finished.

/// Scan statuses that mean "no findings will come": alerted as failures.
pub const FAILED_STATUSES: [&str; 6] = [
    "FAILED",
    "UNSUPPORTED_IMAGE",
    "FINDINGS_UNAVAILABLE",
    "LIMIT_EXCEEDED",
    "SCAN_ELIGIBILITY_EXPIRED",
    "IMAGE_ARCHIVED",
];
/// Of those, the statuses that mean "no *current* findings" rather than a
/// scan that broke: Inspector stopped watching the image (not pushed or
/// pulled within the rescan duration), the image is archived, or the
/// findings cannot be read now. None of them says the image is clean
/// (Amazon ECR API Reference, `ImageScanStatus`; Amazon ECR User Guide,
/// "Scan images for OS and programming language package vulnerabilities",
/// the rescan duration).
pub const NO_CURRENT_FINDINGS_STATUSES: [&str; 3] = [
    "SCAN_ELIGIBILITY_EXPIRED",
    "IMAGE_ARCHIVED",
    "FINDINGS_UNAVAILABLE",
];
/// Scan statuses that mean "not finished yet".
pub const PENDING_STATUSES: [&str; 2] = ["IN_PROGRESS", "PENDING"];
