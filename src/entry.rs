//! The function's three entry points, one per event type. Two binaries are
//! deployed as three Lambda functions: `ecr-scan-alerts` as the first two,
//! `ecr-scan-digest` as the third. Lambda tells each which one it is
//! through `_HANDLER`, the function's `Handler` setting:
//!
//! - `scan-events`: EventBridge scan events (`ECR Image Scan`,
//!   `Inspector2 Scan`), invoked asynchronously; failures go to the
//!   function's failure destination after Lambda's retries.
//! - `finding-batches`: SQS batches of `Inspector2 Finding` events from an
//!   event source mapping; the answer lists the messages that failed
//!   (`batchItemFailures`), SQS retries them and then dead-letters them.
//! - `digest`: the scheduled digest per owner (EventBridge Scheduler),
//!   invoked asynchronously; fanned out, also the digest queue's registry
//!   parts and final assembly (SQS).

use crate::config::ConfigError;

/// The variable Lambda sets from the function's `Handler`.
pub const HANDLER: &str = "_HANDLER";
pub const SCAN_EVENTS: &str = "scan-events";
pub const FINDING_BATCHES: &str = "finding-batches";
pub const DIGEST: &str = "digest";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryPoint {
    ScanEvents,
    FindingBatches,
    Digest,
}

impl EntryPoint {
    /// Reads `_HANDLER`; anything else fails the cold start, naming it.
    pub fn from_handler(value: Option<&str>) -> Result<EntryPoint, ConfigError> {
        match value.map(str::trim) {
            Some(SCAN_EVENTS) => Ok(EntryPoint::ScanEvents),
            Some(FINDING_BATCHES) => Ok(EntryPoint::FindingBatches),
            Some(DIGEST) => Ok(EntryPoint::Digest),
            other => Err(ConfigError {
                variable: HANDLER,
                problem: format!(
                    "{} is not an entry point; set the function's Handler to `{SCAN_EVENTS}` (EventBridge scan events), `{FINDING_BATCHES}` (SQS batches of Inspector2 Finding events) or `{DIGEST}` (the scheduled digest)",
                    other.map_or("unset".to_string(), |v| format!("`{v}`"))
                ),
            }),
        }
    }

    /// The alert binary's entry points: `digest` is the digest binary's.
    pub fn alerts_only(self) -> Result<EntryPoint, ConfigError> {
        match self {
            EntryPoint::Digest => Err(ConfigError {
                variable: HANDLER,
                problem: format!(
                    "`{DIGEST}` runs from the ecr-scan-digest binary (the function's BuildProperties Binary), not ecr-scan-alerts"
                ),
            }),
            other => Ok(other),
        }
    }

    /// The digest binary's one entry point.
    pub fn digest_only(self) -> Result<EntryPoint, ConfigError> {
        match self {
            EntryPoint::Digest => Ok(self),
            _ => Err(ConfigError {
                variable: HANDLER,
                problem: format!(
                    "ecr-scan-digest runs only `{DIGEST}`; `{SCAN_EVENTS}` and `{FINDING_BATCHES}` run from the ecr-scan-alerts binary"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handler_names_the_entry_point() {
        assert_eq!(
            EntryPoint::from_handler(Some("scan-events")).unwrap(),
            EntryPoint::ScanEvents
        );
        assert_eq!(
            EntryPoint::from_handler(Some("finding-batches")).unwrap(),
            EntryPoint::FindingBatches
        );
        assert_eq!(
            EntryPoint::from_handler(Some("digest")).unwrap(),
            EntryPoint::Digest
        );
        assert!(EntryPoint::Digest.alerts_only().is_err());
        assert!(EntryPoint::ScanEvents.digest_only().is_err());
        let err = EntryPoint::Digest.alerts_only().unwrap_err();
        assert!(err.problem.contains("ecr-scan-digest"), "{err}");
        assert_eq!(
            EntryPoint::Digest.digest_only().unwrap(),
            EntryPoint::Digest
        );
        for bad in [None, Some("bootstrap"), Some("")] {
            let err = EntryPoint::from_handler(bad).unwrap_err();
            assert_eq!(err.variable, "_HANDLER");
            assert!(err.problem.contains("`scan-events`"), "{err}");
        }
    }
}
