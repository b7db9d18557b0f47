//! The pipeline: event -> findings (page by page) -> policy -> alert -> publish.

use crate::config::Config;
use crate::error::HandlerError;
use crate::event::{self, Incoming, ScanEvent};
use crate::image::ImageRef;
use crate::policy::Policy;
use crate::ports::{AlertSink, FindingsSource, Published, ScanStatus, SourceError};
use crate::render::{self, FailureReport, FindingsReport};
use crate::severity::SeverityCounts;
use crate::tally::Tally;
use serde::Serialize;
use serde_json::Value;

/// Scan statuses that mean "no findings will come": alerted as failures.
const FAILED_STATUSES: [&str; 4] = [
    "FAILED",
    "UNSUPPORTED_IMAGE",
    "FINDINGS_UNAVAILABLE",
    "LIMIT_EXCEEDED",
];
/// Scan statuses that mean "not finished yet": retried later.
const PENDING_STATUSES: [&str; 2] = ["IN_PROGRESS", "PENDING"];
/// A guard against a registry that never stops paging.
const MAX_PAGES: u32 = 100_000;

/// What happened to one event; returned to Lambda and logged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    Alerted,
    NotAlerted,
    Ignored,
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
    pub pages: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_message_id: Option<String>,
}

impl Outcome {
    fn new(outcome: OutcomeKind, image: Option<&ImageRef>) -> Outcome {
        Outcome {
            outcome,
            reason: None,
            alert_kind: None,
            repository: image.map(|i| i.repository.clone()),
            digest: image.map(|i| i.digest.clone()),
            scan_status: None,
            counts: None,
            alert_worthy: None,
            pages: None,
            message_id: None,
            chat_message_id: None,
        }
    }

    fn because(mut self, reason: impl Into<String>) -> Outcome {
        self.reason = Some(reason.into());
        self
    }
}

pub struct App<S, A> {
    config: Config,
    policy: Policy,
    source: S,
    sink: A,
}

impl<S: FindingsSource, A: AlertSink> App<S, A> {
    pub fn new(config: Config, source: S, sink: A) -> App<S, A> {
        let policy = Policy::new(config.threshold);
        App {
            config,
            policy,
            source,
            sink,
        }
    }

    /// Handles one event and logs one summary line for it.
    pub async fn handle(&self, event: Value) -> Result<Outcome, HandlerError> {
        let result = self.process(event).await;
        match &result {
            Ok(outcome) => log_outcome(outcome),
            Err(error) => tracing::error!(
                error_type = error.error_type(),
                transient = error.is_transient(),
                error = %error,
                "event failed"
            ),
        }
        result
    }

    async fn process(&self, event: Value) -> Result<Outcome, HandlerError> {
        match event::parse(event)? {
            Incoming::Ignored {
                source,
                detail_type,
            } => Ok(Outcome::new(OutcomeKind::Ignored, None).because(format!(
                "not a scan event: source `{source}`, detail-type `{detail_type}`"
            ))),
            Incoming::Scan(scan) if scan.reports_failure() => self.scan_failed(&scan, None).await,
            Incoming::Scan(scan) => self.scan_complete(&scan).await,
        }
    }

    async fn scan_complete(&self, scan: &ScanEvent) -> Result<Outcome, HandlerError> {
        let image = &scan.image;
        let mut tally = Tally::default();
        let mut token: Option<String> = None;
        let mut status: Option<ScanStatus> = None;
        loop {
            let page = match self.source.page(image, token.as_deref()).await {
                Ok(page) => page,
                Err(SourceError::ImageNotFound(failure)) => {
                    tracing::warn!(repository = %image.repository, digest = %image.digest, %failure, "image deleted before its findings were read");
                    return Ok(Outcome::new(OutcomeKind::NotAlerted, Some(image))
                        .because("the image no longer exists"));
                }
                Err(SourceError::ScanNotFound(failure)) => {
                    return Err(HandlerError::ScanNotFound {
                        image: image.short_name(),
                        failure,
                    })
                }
                Err(SourceError::Failed(failure)) => {
                    return Err(HandlerError::Findings {
                        image: image.short_name(),
                        failure,
                    })
                }
            };
            if tally.pages == 0 {
                if let Some(first) = &page.status {
                    let code = first.status.as_str();
                    if FAILED_STATUSES.contains(&code) {
                        return self.scan_failed(scan, Some(first.clone())).await;
                    }
                    if PENDING_STATUSES.contains(&code) {
                        return Err(HandlerError::ScanNotReady {
                            image: image.short_name(),
                            status: code.to_string(),
                        });
                    }
                }
                status = page.status.clone();
            }
            for finding in page.findings {
                let verdict = self.policy.judge(image, &finding);
                tally.add(finding, verdict);
            }
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

        let scan_status = status.map_or_else(|| scan.status.clone(), |s| s.status);
        let report = FindingsReport {
            image,
            kind: scan.kind,
            status: &scan_status,
            threshold: self.config.threshold,
            tally: &tally,
            event_id: scan.event_id.as_deref(),
        };
        let mut outcome = match render::findings_alert(&report) {
            Some(alert) => {
                let published = self.publish(image, &alert).await?;
                let mut o = Outcome::new(OutcomeKind::Alerted, Some(image));
                o.alert_kind = Some(alert.kind.as_str());
                o.message_id = Some(published.message_id);
                o.chat_message_id = published.chat_message_id;
                o
            }
            None => Outcome::new(OutcomeKind::NotAlerted, Some(image))
                .because(format!("no finding at or above {}", self.config.threshold)),
        };
        outcome.scan_status = Some(scan_status);
        outcome.alert_worthy = Some(tally.alert_worthy());
        outcome.counts = Some(tally.counts.clone());
        outcome.pages = Some(tally.pages);
        Ok(outcome)
    }

    /// A scan that produced no findings. `known` is ECR's status when we
    /// already have it; otherwise ECR is asked for its description.
    async fn scan_failed(
        &self,
        scan: &ScanEvent,
        known: Option<ScanStatus>,
    ) -> Result<Outcome, HandlerError> {
        let image = &scan.image;
        if !self.config.alert_on_scan_failure {
            let mut o = Outcome::new(OutcomeKind::NotAlerted, Some(image))
                .because("scan failure alerts are off (ALERT_ON_SCAN_FAILURE=false)");
            o.scan_status = Some(known.map_or_else(|| scan.status.clone(), |s| s.status));
            return Ok(o);
        }
        let (status, lookup_problem) = match known {
            Some(status) => (Some(status), None),
            None => match self.source.page(image, None).await {
                Ok(page) => (page.status, None),
                Err(SourceError::ImageNotFound(_)) => {
                    return Ok(Outcome::new(OutcomeKind::NotAlerted, Some(image))
                        .because("the image no longer exists"))
                }
                Err(e) => (None, Some(e.to_string())),
            },
        };
        // ECR may already report a newer, successful scan; the event's word
        // is what failed, so keep it unless ECR names a failure itself.
        let (status_code, description) = match &status {
            Some(s) if FAILED_STATUSES.contains(&s.status.as_str()) => {
                (s.status.clone(), s.description.clone())
            }
            Some(s) => (scan.status.clone(), s.description.clone()),
            None => (scan.status.clone(), None),
        };
        let alert = render::scan_failed_alert(&FailureReport {
            image,
            kind: scan.kind,
            status: &status_code,
            description: description.as_deref(),
            lookup_problem: lookup_problem.as_deref(),
            event_id: scan.event_id.as_deref(),
        });
        let published = self.publish(image, &alert).await?;
        let mut o = Outcome::new(OutcomeKind::Alerted, Some(image));
        o.alert_kind = Some(alert.kind.as_str());
        o.scan_status = Some(status_code);
        o.message_id = Some(published.message_id);
        o.chat_message_id = published.chat_message_id;
        Ok(o)
    }

    async fn publish(
        &self,
        image: &ImageRef,
        alert: &crate::alert::Alert,
    ) -> Result<Published, HandlerError> {
        self.sink
            .publish(alert)
            .await
            .map_err(|e| HandlerError::Publish {
                image: image.short_name(),
                destination: e.destination,
                failure: e.failure,
            })
    }
}

fn log_outcome(outcome: &Outcome) {
    let counts = outcome.counts.clone().unwrap_or_default();
    use crate::severity::Severity as S;
    tracing::info!(
        outcome = ?outcome.outcome,
        reason = outcome.reason.as_deref().unwrap_or(""),
        repository = outcome.repository.as_deref().unwrap_or(""),
        digest = outcome.digest.as_deref().unwrap_or(""),
        scan_status = outcome.scan_status.as_deref().unwrap_or(""),
        critical = counts.get(S::Critical),
        high = counts.get(S::High),
        medium = counts.get(S::Medium),
        low = counts.get(S::Low),
        alert_worthy = outcome.alert_worthy.unwrap_or(0),
        pages = outcome.pages.unwrap_or(0),
        message_id = outcome.message_id.as_deref().unwrap_or(""),
        "event processed"
    );
}
