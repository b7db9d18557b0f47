//! Errors the handler returns to Lambda, each with a stable `error_type`.
//!
//! Lambda retries a failed asynchronous invocation whatever the type, then
//! sends the event to the failure destination; the type tells people (and
//! metric filters) whether waiting helps: `Transient.*` types do.

use crate::domain::event::EventError;
use crate::pipeline::policy_store::PolicyLoadError;
use crate::ports::ServiceFailure;
use lambda_runtime::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    InvalidEvent(#[from] EventError),
    /// The digest could not read a registry (its repositories or scan type).
    #[error("the digest cannot read the registry of {account}: {failure}")]
    DigestRegistry { account: String, failure: String },
    /// A fanned-out digest could not keep or read its run, or queue its work.
    #[error("the digest's fan-out: {what}: {failure}")]
    DigestFanOut {
        what: String,
        #[source]
        failure: ServiceFailure,
    },
    /// Some owners' digests were not published (the others were).
    #[error("{failed} digest(s) not published, the first: {first}")]
    DigestNotPublished { failed: usize, first: String },
    #[error("reading the scan findings of {image}: {failure}")]
    Findings {
        image: String,
        #[source]
        failure: ServiceFailure,
    },
    #[error("reading the scan findings of {image}: cannot assume role {role} in account {account}: {failure}")]
    MemberRoleUnavailable {
        image: String,
        account: String,
        role: String,
        #[source]
        failure: ServiceFailure,
    },
    #[error("ECR has no scan for {image} although the event reported one: {failure}")]
    ScanNotFound {
        image: String,
        #[source]
        failure: ServiceFailure,
    },
    #[error("the scan of {image} is still {status}; try again later")]
    ScanNotReady { image: String, status: String },
    #[error(transparent)]
    Policy(#[from] PolicyLoadError),
    #[error("reading or writing what was already alerted for {image}: {failure}")]
    Dedup {
        image: String,
        #[source]
        failure: ServiceFailure,
    },
    #[error("reading EPSS scores of {image} from Amazon Inspector, which the policy's risk rule needs: {failure}")]
    RiskSignals {
        image: String,
        #[source]
        failure: ServiceFailure,
    },
    #[error("another invocation is alerting {image} right now; try again later")]
    AlertInProgress { image: String },
    #[error("publishing the alert for {image} to {destination}: {failure}")]
    Publish {
        image: String,
        destination: String,
        #[source]
        failure: ServiceFailure,
    },
}

impl HandlerError {
    pub fn is_transient(&self) -> bool {
        match self {
            HandlerError::InvalidEvent(_) | HandlerError::ScanNotFound { .. } => false,
            // A schedule's run is retried by Lambda's asynchronous retries.
            HandlerError::DigestRegistry { .. } | HandlerError::DigestNotPublished { .. } => true,
            HandlerError::ScanNotReady { .. } | HandlerError::AlertInProgress { .. } => true,
            HandlerError::Findings { failure, .. }
            | HandlerError::Publish { failure, .. }
            | HandlerError::Dedup { failure, .. }
            | HandlerError::RiskSignals { failure, .. }
            | HandlerError::MemberRoleUnavailable { failure, .. }
            | HandlerError::DigestFanOut { failure, .. } => failure.transient,
            HandlerError::Policy(PolicyLoadError::Unreadable { failure, .. }) => failure.transient,
            HandlerError::Policy(PolicyLoadError::Invalid { .. }) => false,
        }
    }

    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::DigestRegistry { .. } => "Transient.DigestRegistryUnreadable",
            HandlerError::DigestNotPublished { .. } => "Transient.DigestNotPublished",
            HandlerError::DigestFanOut { failure, .. } if failure.transient => {
                "Transient.DigestFanOut"
            }
            HandlerError::DigestFanOut { .. } => "DigestFanOutFailed",
            HandlerError::ScanNotFound { .. } => "ScanNotFound",
            HandlerError::ScanNotReady { .. } => "Transient.ScanInProgress",
            HandlerError::Findings { failure, .. } if failure.transient => {
                "Transient.EcrUnavailable"
            }
            HandlerError::Findings { .. } => "EcrRequestRejected",
            HandlerError::MemberRoleUnavailable { failure, .. } if failure.transient => {
                "Transient.MemberRoleUnavailable"
            }
            HandlerError::MemberRoleUnavailable { .. } => "MemberRoleUnavailable",
            HandlerError::Publish { failure, .. } if failure.transient => {
                "Transient.SnsUnavailable"
            }
            HandlerError::Publish { .. } => "SnsPublishRejected",
            HandlerError::Policy(PolicyLoadError::Invalid { .. }) => "PolicyInvalid",
            HandlerError::Policy(PolicyLoadError::Unreadable { failure, .. })
                if failure.transient =>
            {
                "Transient.PolicyUnavailable"
            }
            HandlerError::Policy(PolicyLoadError::Unreadable { .. }) => "PolicyUnreadable",
            HandlerError::RiskSignals { failure, .. } if failure.transient => {
                "Transient.InspectorUnavailable"
            }
            HandlerError::RiskSignals { .. } => "InspectorRequestRejected",
            HandlerError::Dedup { failure, .. } if failure.transient => {
                "Transient.DedupUnavailable"
            }
            HandlerError::Dedup { .. } => "DedupStoreRejected",
            HandlerError::AlertInProgress { .. } => "Transient.AlertInProgress",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        Diagnostic {
            error_type: error.error_type().to_string(),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    #[test]
    fn the_service_failure_is_the_source_of_the_chain() {
        let failure = ServiceFailure {
            service: "ECR",
            code: "ThrottlingException".into(),
            message: "Rate exceeded".into(),
            transient: true,
        };
        let error = HandlerError::Findings {
            image: "team/api:v1".into(),
            failure: failure.clone(),
        };
        assert_eq!(error.error_type(), "Transient.EcrUnavailable");
        let source = error.source().expect("a source");
        assert_eq!(source.to_string(), "ECR ThrottlingException: Rate exceeded");
        let policy = HandlerError::Policy(PolicyLoadError::Unreadable {
            name: "/p".into(),
            failure,
        });
        // transparent: the policy error's own source comes through.
        assert_eq!(
            policy.source().map(|s| s.to_string()).as_deref(),
            Some("ECR ThrottlingException: Rate exceeded")
        );
    }
}
