//! What happened to one event: returned to Lambda, logged as one line and
//! counted in the metrics.

use crate::domain::alert::Alert;
use crate::domain::image::ImageRef;
use crate::domain::severity::SeverityCounts;
use crate::ports::Published;
use serde::Serialize;

/// What happened to one event; returned to Lambda and logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Alerted,
    NotAlerted,
    Ignored,
    /// From an account outside this stack's scope (`SCOPE_ACCOUNT_IDS`).
    OutOfScope,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub outcome: OutcomeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counts: Option<SeverityCounts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_worthy: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_message_id: Option<String>,
}

impl Outcome {
    pub(crate) fn new(outcome: OutcomeKind, image: Option<&ImageRef>) -> Outcome {
        Outcome {
            outcome,
            reason: None,
            alert_kind: None,
            repository: image.map(|i| i.repository.clone()),
            digest: image.map(|i| i.digest.clone()),
            scan_status: None,
            counts: None,
            alert_worthy: None,
            suppressed: None,
            pages: None,
            message_id: None,
            chat_message_id: None,
        }
    }

    pub(crate) fn because(mut self, reason: impl Into<String>) -> Outcome {
        self.reason = Some(reason.into());
        self
    }

    pub(crate) fn published(mut self, alert: &Alert, published: Published) -> Outcome {
        self.alert_kind = Some(alert.kind.as_str());
        self.message_id = Some(published.message_id);
        self.chat_message_id = published.chat_message_id;
        self
    }
}
