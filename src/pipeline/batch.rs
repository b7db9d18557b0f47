//! The second way in: SQS batches of `Inspector2 Finding` events
//! (continuous scanning), one alert per image per batch, with partial batch
//! responses so one bad message never costs the others.

use super::{log_outcome, App, Outcome, OutcomeKind};
use crate::domain::assessment::{Assessment, Reader};
use crate::domain::continuous::{self, group_by_image, images_per_vulnerability, ImageBatch};
use crate::domain::image::ScanKind;
use crate::domain::policy::Policy;
use crate::domain::tally::Tally;
use crate::pipeline::error::HandlerError;
use crate::pipeline::fold::judge_into;
use crate::ports::{AlertSink, FindingsSource};
use crate::render;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;
use std::collections::BTreeMap;

/// Findings named in the "also in other images" and "resolved" notes, at most.
const NOTE_ITEMS: usize = 5;

impl<S: FindingsSource, A: AlertSink> App<S, A> {
    /// An SQS batch as the event source mapping delivers it: one alert per
    /// image, and the messages that failed. An event that is not an SQS
    /// batch at all is an error naming the field: the whole batch is then
    /// retried by SQS and, past its receive limit, dead-lettered.
    pub async fn handle_sqs_event(&self, event: Value) -> Result<SqsBatchResponse, HandlerError> {
        let batch: SqsEvent = serde_path_to_error::deserialize(event).map_err(|e| {
            let path = e.path().to_string();
            HandlerError::InvalidEvent(crate::domain::event::EventError {
                field: if path == "." { "Records".into() } else { path },
                problem: e.into_inner().to_string(),
            })
        })?;
        Ok(self.handle_batch(batch).await)
    }

    /// One alert per image in the batch; the messages of an image whose alert
    /// failed, and messages that cannot be read, are reported as failures so
    /// SQS redelivers them alone (and, past the queue's receive limit, moves
    /// them to its dead-letter queue).
    pub async fn handle_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        let mut parsed = Vec::with_capacity(batch.records.len());
        for record in batch.records {
            let id = record.message_id.unwrap_or_default();
            let event = record
                .body
                .as_deref()
                .map(serde_json::from_str::<Value>)
                .transpose()
                .map_err(|e| e.to_string())
                .and_then(|v| v.ok_or_else(|| "empty message body".to_string()))
                .and_then(|v| continuous::parse_finding_event(v).map_err(|e| e.to_string()));
            match event {
                Ok(finding) => parsed.push((id, finding)),
                Err(problem) => {
                    tracing::error!(message_id = %id, %problem, "unreadable message in the findings batch");
                    response.add_failure(id);
                }
            }
        }
        let groups = group_by_image(parsed, self.initial_window());
        let shared = images_per_vulnerability(&groups);
        let policy = match self.policy.current().await {
            Ok(policy) => policy,
            Err(e) => {
                let error = HandlerError::from(e);
                tracing::error!(error_type = error.error_type(), error = %error, "policy unavailable; the whole batch is retried");
                for group in &groups {
                    for id in &group.message_ids {
                        response.add_failure(id.clone());
                    }
                }
                return response;
            }
        };
        for group in &groups {
            let outcome = self.alert_image_batch(&policy, group, &shared).await;
            self.finish(&outcome);
            if outcome.is_err() {
                for id in &group.message_ids {
                    response.add_failure(id.clone());
                }
            }
        }
        response
    }

    fn initial_window(&self) -> chrono::Duration {
        chrono::Duration::minutes(self.config.initial_scan_window_minutes as i64)
    }

    fn finish(&self, outcome: &Result<Outcome, HandlerError>) {
        self.emit_metrics(outcome);
        match outcome {
            Ok(o) => log_outcome(o),
            Err(error) => tracing::error!(
                error_type = error.error_type(),
                transient = error.is_transient(),
                error = %error,
                "image of the findings batch failed"
            ),
        }
    }

    async fn alert_image_batch(
        &self,
        policy: &Policy,
        group: &ImageBatch,
        shared: &BTreeMap<String, usize>,
    ) -> Result<Outcome, HandlerError> {
        let Some(image) = &group.image else {
            return Ok(Outcome::new(OutcomeKind::Ignored, None).because("no image"));
        };
        if let Some(reason) = policy.skip_reason(image) {
            return Ok(Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(reason));
        }
        let mut image_policy = policy.for_image(image, (self.today)());
        image_policy.apply_usage(&group.usage);
        let record = self.load_record(image).await?;
        let known = record.as_ref().map(|r| r.known.clone()).unwrap_or_default();
        // Findings of the initial scan are the scan event's to alert. With
        // dedup, a record of this image means the scan path has alerted
        // already: what it did not alert is new and alerts here.
        let take_initial =
            record.as_ref().is_some_and(|r| !r.known.is_empty()) && !group.initial.is_empty();
        if group.active.is_empty()
            && group.closed.is_empty()
            && !group.initial.is_empty()
            && !take_initial
        {
            let reason = format!(
                "{} finding(s) from the image's initial scan (first observed within {} min of the push): the Inspector2 Scan event alerts on them",
                group.initial.len(),
                self.config.initial_scan_window_minutes
            );
            let mut outcome = Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(reason);
            outcome.scan_status = Some("CONTINUOUS".into());
            return Ok(outcome);
        }
        let mut tally = Tally::default();
        tally.usage = group.usage;
        let findings: Vec<_> = if take_initial {
            group.active.iter().chain(&group.initial).cloned().collect()
        } else {
            group.active.clone()
        };
        let reported = findings.len();
        judge_into(&mut tally, findings, &image_policy, &known);
        let mut assessment = Assessment::new(
            policy,
            &image_policy,
            tally,
            ScanKind::Enhanced,
            "ACTIVE",
            Reader::Alert,
        );
        assessment.note_first(format!(
            "Continuous scanning: Amazon Inspector reported {} finding(s) for this image, pushed earlier; \
             counts cover these findings, not the whole image.",
            reported
        ));
        let mut spread: Vec<String> = assessment
            .tally
            .listed()
            .iter()
            .filter_map(|f| {
                let others = shared.get(&f.id.to_ascii_uppercase()).copied().unwrap_or(1) - 1;
                (others > 0)
                    .then(|| format!("{} (also in {others} other images in this batch)", f.id))
            })
            .take(NOTE_ITEMS)
            .collect();
        spread.dedup();
        if !spread.is_empty() {
            assessment.note(format!("Shared with other images: {}.", spread.join("; ")));
        }
        if !group.closed.is_empty() {
            let mut resolved: Vec<&str> = group.closed.iter().map(|f| f.id.as_str()).collect();
            resolved.sort_unstable();
            resolved.dedup();
            let more = resolved.len().saturating_sub(NOTE_ITEMS);
            resolved.truncate(NOTE_ITEMS);
            assessment.note(format!(
                "Resolved (closed by Inspector): {}{}.",
                resolved.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ));
        }
        let report = assessment.report(image, None, self.alias(image));
        let source = policy
            .source()
            .link(self.config.source_url_template.as_ref(), image);
        let alert = render::findings_alert_with_source(&report, source.as_ref());
        let nothing = "no new finding at or above the threshold left by the policy".to_string();
        let tally = &assessment.tally;
        let mut outcome = self
            .alert_or_explain(image, record.as_ref(), &known, tally, alert, nothing)
            .await?;
        outcome.scan_status = Some("CONTINUOUS".into());
        outcome.alert_worthy = Some(tally.alert_worthy());
        outcome.suppressed = tally.suppressed.phrase();
        outcome.counts = Some(tally.counts.clone());
        Ok(outcome)
    }
}
