//! The two ways the pipeline talks to the outside: a source of scan findings
//! and a sink for alerts. The AWS adapters implement them; tests can too.

use crate::alert::Alert;
use crate::finding::Finding;
use crate::image::ImageRef;
use std::fmt;
use std::future::Future;

/// The scan's status as the registry reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanStatus {
    pub status: String,
    pub description: Option<String>,
}

/// One page of findings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingsPage {
    pub status: Option<ScanStatus>,
    pub findings: Vec<Finding>,
    pub next_token: Option<String>,
}

/// A call to an AWS service that did not succeed, with the service's own
/// error code and message (a bare "service error" helps nobody).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFailure {
    pub service: &'static str,
    pub code: String,
    pub message: String,
    /// Throttling, 5xx, timeouts, connection failures: worth retrying later.
    pub transient: bool,
}

impl fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.service, self.code, self.message)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The image was deleted between the scan and the call.
    #[error("image not found: {0}")]
    ImageNotFound(ServiceFailure),
    #[error("scan not found: {0}")]
    ScanNotFound(ServiceFailure),
    #[error("{0}")]
    Failed(ServiceFailure),
}

pub trait FindingsSource: Send + Sync {
    /// One page of the image's findings; `next_token` from the previous page.
    fn page(
        &self,
        image: &ImageRef,
        next_token: Option<&str>,
    ) -> impl Future<Output = Result<FindingsPage, SourceError>> + Send;
}

/// Message ids of a published alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    /// Set when a chat destination is configured.
    pub chat_message_id: Option<String>,
}

/// A publish that failed, and where it was going.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{destination}: {failure}")]
pub struct PublishError {
    pub destination: String,
    pub failure: ServiceFailure,
}

pub trait AlertSink: Send + Sync {
    /// Publishes the alert to every configured destination.
    fn publish(
        &self,
        alert: &Alert,
    ) -> impl Future<Output = Result<Published, PublishError>> + Send;
}
