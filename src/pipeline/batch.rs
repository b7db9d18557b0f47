//! The second way in: SQS batches of `Inspector2 Finding` events
//! (continuous scanning), one alert per image per batch, with partial batch
//! responses so one bad message never costs the others.

use super::{log_outcome, App, Outcome, OutcomeKind};
use crate::domain::assessment::{Assessment, Reader};
use crate::domain::continuous::{self, group_by_image, images_per_vulnerability, ImageBatch};
use crate::domain::finding::Finding;
use crate::domain::image::ScanKind;
use crate::domain::judged::JudgedFindings;
use crate::domain::owner::Owner;
use crate::domain::policy::{Policy, Verdict};
use crate::domain::storm::{self, RepositoryCount, StormAlert, StormReport};
use crate::pipeline::error::HandlerError;
use crate::ports::{AlertSink, Claim, FindingsSource, StormState};
use crate::render;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use futures_util::StreamExt;
use serde_json::Value;
use std::collections::BTreeMap;

/// How long a storm alert is remembered for the digest's "never alerted"
/// check: as long as what was alerted per image.
const STORM_ALERTED_DAYS: i64 = 180;
/// The owner of each repository of a batch, by [`storm::repository_key`].
type Owners = std::collections::HashMap<String, Owner>;

/// What every image of a batch is judged with: the policy, how many of the
/// batch's images share each vulnerability, the storms, the owners.
struct BatchView<'a> {
    policy: &'a Policy,
    shared: &'a BTreeMap<String, usize>,
    storming: &'a BTreeMap<String, u64>,
    owners: &'a Owners,
}

/// Findings named in the "also in other images" and "resolved" notes, at most.
const NOTE_ITEMS: usize = 5;

/// What becomes of an image's initial-scan findings in a batch. The
/// `Inspector2 Scan` event alerts on them, but EventBridge delivers events
/// on a best-effort basis (Amazon EventBridge User Guide, "Events"): with
/// dedup, they wait for it, and are alerted here when it has not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recheck {
    /// No dedup (nothing says whether the Scan event alerted), or turned
    /// off: the Scan event's to alert, as they arrive.
    Off,
    /// Too soon: their messages go back to the queue.
    Wait,
    /// They have waited: alerted now unless the Scan event's alert
    /// covered them.
    Due,
}

/// What the storm pass of a batch decided.
#[derive(Default)]
struct StormPass {
    /// Vulnerabilities in a storm, with the images the storm counts.
    storming: BTreeMap<String, u64>,
    /// Groups (by index) whose messages must be retried.
    failed: std::collections::BTreeSet<usize>,
}

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
        let messages = batch.records.len() as u64;
        let mut parsed = Vec::with_capacity(batch.records.len());
        let mut out_of_scope = 0;
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
                Ok(finding) => {
                    if let Some(reason) = self.out_of_scope(&finding.image) {
                        tracing::info!(message_id = %id, outcome = "out_of_scope", repository = %finding.image.repository, %reason, "finding event skipped");
                        out_of_scope += 1;
                        continue;
                    }
                    self.report_unreadable_times(&id, &finding);
                    parsed.push((id, finding))
                }
                Err(problem) => {
                    tracing::error!(message_id = %id, %problem, "unreadable message in the findings batch");
                    response.add_failure(id);
                }
            }
        }
        if out_of_scope > 0 {
            self.emit_count("EventsOutOfScope", out_of_scope);
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
                self.emit_batch(messages, groups.len() as u64, &response);
                return response;
            }
        };
        // Owners first (one tag read per repository), then storms, decided
        // before any per-image alert leaves.
        let owners = self.batch_owners(&policy, &groups).await;
        let storms = self.storms(&policy, &groups, &owners).await;
        let mut pending = Vec::with_capacity(groups.len());
        for (index, group) in groups.iter().enumerate() {
            if storms.failed.contains(&index) {
                // Its storm could not be counted or alerted: SQS delivers
                // its messages again, and the store counts each image once.
                for id in &group.message_ids {
                    response.add_failure(id.clone());
                }
                continue;
            }
            let recheck = self.recheck(group);
            if recheck == Recheck::Wait {
                // Returned to the queue: SQS delivers them again after its
                // visibility timeout, when the Scan event has had its time
                // (AWS Lambda Developer Guide, "Handling errors for an SQS
                // event source in Lambda": partial batch responses).
                for id in &group.initial_message_ids {
                    response.add_failure(id.clone());
                }
            }
            pending.push((index, group, recheck));
        }
        // What was alerted for the batch's images, read at once
        // (`BatchGetItem`); if that read fails, each image reads its own.
        let mut recalled = if self.memory.is_on() {
            let images: Vec<&crate::domain::image::ImageRef> = pending
                .iter()
                .filter_map(|(_, g, _)| g.image.as_ref())
                .collect();
            match self.memory.recall_many(&images).await {
                Ok(recalled) => recalled,
                Err(failure) => {
                    tracing::warn!(%failure, "cannot read the batch's dedup records at once; reading them one by one");
                    std::collections::HashMap::new()
                }
            }
        } else {
            std::collections::HashMap::new()
        };
        let pending: Vec<_> = pending
            .into_iter()
            .map(|(index, group, recheck)| {
                let record = group
                    .image
                    .as_ref()
                    .and_then(|i| recalled.remove(&crate::domain::dedup::image_key(i)));
                (index, group, recheck, record)
            })
            .collect();
        // The images wait on AWS (dedup read, claim, publish, commit) side
        // by side, at most `BATCH_CONCURRENCY` at once; each image's calls
        // keep their order.
        let view = BatchView {
            policy: &policy,
            shared: &shared,
            storming: &storms.storming,
            owners: &owners,
        };
        let view = &view;
        let mut outcomes: Vec<(usize, &ImageBatch, Result<Outcome, HandlerError>)> =
            futures_util::stream::iter(pending)
                .map(|(index, group, recheck, record)| async move {
                    let outcome = self.alert_image_batch(view, group, recheck, record).await;
                    (index, group, outcome)
                })
                .buffer_unordered(self.config.batch_concurrency.max(1) as usize)
                .collect()
                .await;
        outcomes.sort_by_key(|(index, _, _)| *index);
        for (_, group, outcome) in outcomes {
            self.finish(&outcome);
            if outcome.is_err() {
                for id in &group.message_ids {
                    response.add_failure(id.clone());
                }
            }
        }
        // A message named twice (waiting, then its image failing) once.
        let mut named = std::collections::BTreeSet::new();
        response
            .batch_item_failures
            .retain(|f| named.insert(f.item_identifier.clone()));
        self.emit_batch(messages, groups.len() as u64, &response);
        response
    }

    /// The batch's size as a metric (`BatchSize`, `BatchImages`,
    /// `BatchItemFailures`), when metrics are on.
    fn emit_batch(&self, messages: u64, images: u64, response: &SqsBatchResponse) {
        if self.config.metrics {
            println!(
                "{}",
                crate::pipeline::metrics::batch_line(
                    &self.config.metrics_namespace,
                    messages,
                    images,
                    response.batch_item_failures.len() as u64,
                    chrono::Utc::now().timestamp_millis(),
                )
            );
        }
    }

    /// CVE storms (`crate::domain::storm`): each vulnerability's
    /// alert-worthy findings in the batch, counted per window in the storm
    /// store (or within the batch without one); past the threshold, one
    /// storm alert per vulnerability and window, follow-ups at most every
    /// `STORM_SUMMARY_MINUTES`. Says which vulnerabilities storm (per-image
    /// alerts leave them out) and which images' messages must be retried.
    /// The owner of each repository of the batch's images (by
    /// [`storm::repository_key`]): one owner lookup per repository, side
    /// by side like the images.
    async fn batch_owners(&self, policy: &Policy, groups: &[ImageBatch]) -> Owners {
        let mut first: BTreeMap<String, &crate::domain::image::ImageRef> = BTreeMap::new();
        for image in groups.iter().filter_map(|g| g.image.as_ref()) {
            first.entry(storm::repository_key(image)).or_insert(image);
        }
        futures_util::stream::iter(first)
            .map(|(key, image)| async move { (key, self.owner_of(image, policy).await) })
            .buffer_unordered(self.config.batch_concurrency.max(1) as usize)
            .collect()
            .await
    }

    async fn storms(&self, policy: &Policy, groups: &[ImageBatch], owners: &Owners) -> StormPass {
        let mut pass = StormPass::default();
        let threshold = self.config.storm_threshold;
        if threshold == 0 {
            return pass;
        }
        let mut outbreaks = BTreeMap::new();
        let mut holders: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let now_utc = chrono::Utc::now();
        let storm_window = chrono::Duration::minutes(self.config.storm_window_minutes as i64);
        for (index, group) in groups.iter().enumerate() {
            let Some(image) = &group.image else { continue };
            if policy.skip_reason(image).is_some() {
                continue;
            }
            let mut image_policy = policy.for_image(image, (self.today)());
            image_policy.apply_usage(&group.usage);
            // Only news counts: a rescan's finding first observed within the
            // window. Fresh pushes on one base image, and updates of
            // long-known findings (score or EPSS changes), never storm.
            let worthy: Vec<Finding> = group
                .active
                .iter()
                .filter(|f| group.newly_found(&f.id.to_ascii_uppercase(), storm_window, now_utc))
                .filter_map(|f| {
                    let judgement = image_policy.judge(f);
                    (judgement.verdict == Verdict::Alert).then(|| {
                        let mut f = f.clone();
                        if let Some(why) = judgement.moved {
                            f.move_severity(judgement.severity, why);
                        }
                        f
                    })
                })
                .collect();
            for f in &worthy {
                holders
                    .entry(f.id.to_ascii_uppercase())
                    .or_default()
                    .push(index);
            }
            let owner = owners
                .get(&storm::repository_key(image))
                .map_or(crate::domain::owner::UNOWNED, |o| o.name.as_str());
            storm::add_image(&mut outbreaks, image, owner, group.usage.state(), &worthy);
        }
        let now = now_utc.timestamp();
        let minutes = self.config.storm_window_minutes;
        let window = storm::window_start(now, minutes);
        let expires_at = window + (minutes * 60) as i64 + 86_400;
        for (id, outbreak) in &outbreaks {
            let fail = |pass: &mut StormPass| {
                pass.failed
                    .extend(holders.get(id).into_iter().flatten().copied())
            };
            let Some(store) = &self.storms else {
                let images = outbreak.hits.len() as u64;
                if images > threshold {
                    pass.storming.insert(id.clone(), images);
                    let report = self.batch_storm_report(outbreak, window);
                    if self.publish_storm(&report).await.is_err() {
                        fail(&mut pass);
                    }
                }
                continue;
            };
            let key = storm::storm_key(id, window);
            let state = match store.record(&key, outbreak, expires_at).await {
                Ok(state) => state,
                Err(failure) => {
                    tracing::error!(vulnerability = %id, %failure, "cannot count the storm; its images' messages are retried");
                    fail(&mut pass);
                    continue;
                }
            };
            if state.images <= threshold {
                continue;
            }
            pass.storming.insert(id.clone(), state.images);
            let summary = (self.config.storm_summary_minutes * 60) as i64;
            let which = if !state.alerted {
                match store.claim_alert(&key, state.images, now).await {
                    Ok(Claim::Won) => Some(StormAlert::Started),
                    Ok(Claim::Lost) => None,
                    Err(failure) => {
                        tracing::error!(vulnerability = %id, %failure, "cannot claim the storm alert");
                        fail(&mut pass);
                        None
                    }
                }
            } else if state.images > state.said
                && state.said_at.is_some_and(|at| now - at >= summary)
            {
                match store
                    .claim_follow_up(&key, state.said, state.images, now - summary, now)
                    .await
                {
                    Ok(Claim::Won) => Some(StormAlert::Grew {
                        previous: state.said,
                    }),
                    _ => None,
                }
            } else {
                None
            };
            let Some(which) = which else { continue };
            let report = match store.repositories(&key, &state.repositories).await {
                Ok(counts) => self.stored_storm_report(outbreak, &state, counts, which, window),
                Err(failure) => {
                    tracing::warn!(vulnerability = %id, %failure, "storm alert without the per-repository counts of other batches");
                    let mut report = self.batch_storm_report(outbreak, window);
                    report.which = which;
                    report.images = state.images;
                    report.accounts = state.accounts;
                    report.repository_total = state.repositories.len() as u64;
                    report
                }
            };
            if self.publish_storm(&report).await.is_err() && which == StormAlert::Started {
                // Given back, so that the retry of these messages alerts.
                if let Err(failure) = store.release_alert(&key).await {
                    tracing::error!(vulnerability = %id, %failure, "cannot give the storm alert's claim back");
                }
                fail(&mut pass);
            }
        }
        pass
    }

    fn storm_report_base(&self, outbreak: &storm::Outbreak, window: i64) -> StormReport {
        StormReport {
            which: StormAlert::Started,
            finding: outbreak.finding.clone(),
            images: outbreak.hits.len() as u64,
            at_least: false,
            accounts: outbreak.accounts().len() as u64,
            repositories: Vec::new(),
            repository_total: 0,
            threshold: self.config.storm_threshold,
            window_start: window,
            window_minutes: self.config.storm_window_minutes,
            summary_minutes: self.config.storm_summary_minutes,
        }
    }

    /// A storm seen within one batch: its counts are the batch's.
    fn batch_storm_report(&self, outbreak: &storm::Outbreak, window: i64) -> StormReport {
        let mut report = self.storm_report_base(outbreak, window);
        let mut repositories: Vec<RepositoryCount> = outbreak
            .by_repository()
            .into_iter()
            .filter_map(|(key, (images, running))| {
                Some(RepositoryCount {
                    owner: outbreak.owner_of(&key).map(str::to_string),
                    repository: storm::repository_of(&key)?,
                    images: images.len() as u64,
                    running: running.len() as u64,
                })
            })
            .collect();
        storm::rank_repositories(&mut repositories);
        report.repository_total = repositories.len() as u64;
        report.repositories = repositories;
        report
    }

    /// A storm counted in the store: the window's counts.
    fn stored_storm_report(
        &self,
        outbreak: &storm::Outbreak,
        state: &StormState,
        counts: Vec<crate::ports::RepositoryStormCount>,
        which: StormAlert,
        window: i64,
    ) -> StormReport {
        let mut report = self.storm_report_base(outbreak, window);
        report.which = which;
        report.images = state.images;
        report.at_least = state.full;
        report.accounts = state.accounts;
        report.repository_total = state.repositories.len() as u64;
        let mut repositories: Vec<RepositoryCount> = counts
            .into_iter()
            .filter_map(|(key, images, running, owner)| {
                Some(RepositoryCount {
                    owner: owner.or_else(|| outbreak.owner_of(&key).map(str::to_string)),
                    repository: storm::repository_of(&key)?,
                    images,
                    running,
                })
            })
            .collect();
        storm::rank_repositories(&mut repositories);
        report.repositories = repositories;
        report
    }

    async fn publish_storm(&self, report: &StormReport) -> Result<(), ()> {
        let alert = render::storm::storm_alert(report);
        match self.sink.publish(&alert).await {
            Ok(published) => {
                tracing::info!(
                    outcome = "alerted",
                    alert_kind = "storm",
                    vulnerability = %report.finding.id,
                    images = report.images,
                    repositories = report.repository_total,
                    message_id = %published.message_id,
                    "storm alert published"
                );
                // For the digest: this vulnerability's findings in the
                // storm's images were alerted, here, once for all.
                if let Some(store) = &self.storms {
                    let until = chrono::Utc::now().timestamp() + STORM_ALERTED_DAYS * 86_400;
                    if let Err(failure) = store.note_alerted(&report.finding.id, until).await {
                        tracing::warn!(vulnerability = %report.finding.id, %failure, "cannot note the storm as alerted: the digest may list its findings as never alerted");
                    }
                }
                Ok(())
            }
            Err(error) => {
                tracing::error!(vulnerability = %report.finding.id, %error, "storm alert not published; its images' messages are retried");
                Err(())
            }
        }
    }

    /// A time in no form AWS documents is read as unknown, never silently:
    /// a WARN line naming the field and the value, and the
    /// `UnreadableTimestamps` metric.
    fn report_unreadable_times(&self, message_id: &str, finding: &continuous::ImageFinding) {
        if finding.unreadable_times.is_empty() {
            return;
        }
        for (field, value) in &finding.unreadable_times {
            tracing::warn!(
                message_id = %message_id,
                repository = %finding.image.repository,
                digest = %finding.image.digest,
                field = %field,
                value = %value,
                "unreadable time in a finding event: read as unknown (the finding then counts as a rescan's, alerts, and never counts towards a CVE storm)"
            );
        }
        self.emit_count(
            "UnreadableTimestamps",
            finding.unreadable_times.len() as u64,
        );
    }

    /// Whether the image's initial-scan findings wait, are due, or are
    /// left to the Scan event ([`Recheck`]).
    fn recheck(&self, group: &ImageBatch) -> Recheck {
        let delay = self.config.recheck_delay_seconds;
        if group.initial.is_empty() || delay == 0 || !self.memory.is_on() {
            return Recheck::Off;
        }
        let waited = group
            .initial_observed_at
            .map_or(0, |at| (chrono::Utc::now() - at).num_seconds());
        if waited >= delay as i64 {
            Recheck::Due
        } else {
            Recheck::Wait
        }
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
        view: &BatchView<'_>,
        group: &ImageBatch,
        recheck: Recheck,
        recalled: Option<
            Result<
                Option<crate::domain::dedup::Record>,
                crate::pipeline::alert_memory::MemoryError,
            >,
        >,
    ) -> Result<Outcome, HandlerError> {
        let Some(image) = &group.image else {
            return Ok(Outcome::new(OutcomeKind::Ignored, None).because("no image"));
        };
        let (policy, shared, storming) = (view.policy, view.shared, view.storming);
        let owner = view.owners.get(&storm::repository_key(image));
        if let Some(reason) = policy.skip_reason(image) {
            return Ok(Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(reason));
        }
        let mut image_policy = policy.for_image(image, (self.today)());
        image_policy.apply_usage(&group.usage);
        let record = match recalled {
            Some(recalled) => recalled.map_err(|e| super::memory_error(image, e))?,
            None => self.load_record(image).await?,
        };
        let known = record.as_ref().map(|r| r.known.clone()).unwrap_or_default();
        // Findings of the initial scan are the scan event's to alert. With
        // dedup, a record of this image means the scan path has alerted
        // already: what it did not alert is new and alerts here. Without
        // one, once they have waited for the Scan event long enough, the
        // Scan event was lost or is late: they alert here.
        let alerted_by_scan = record.as_ref().is_some_and(|r| !r.known.is_empty());
        let take_initial =
            !group.initial.is_empty() && (alerted_by_scan || recheck == Recheck::Due);
        let scan_event_missing = take_initial && !alerted_by_scan;
        if group.active.is_empty()
            && group.closed.is_empty()
            && !group.initial.is_empty()
            && !take_initial
        {
            let reason = if recheck == Recheck::Wait {
                format!(
                    "{} finding(s) from the image's initial scan: waiting up to {} s for its Inspector2 Scan event to alert on them (returned to the queue)",
                    group.initial.len(),
                    self.config.recheck_delay_seconds
                )
            } else {
                format!(
                    "{} finding(s) from the image's initial scan (first observed within {} min of the push): the Inspector2 Scan event alerts on them",
                    group.initial.len(),
                    self.config.initial_scan_window_minutes
                )
            };
            let mut outcome = Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(reason);
            outcome.scan_status = Some("CONTINUOUS".into());
            return Ok(outcome);
        }
        let mut tally = JudgedFindings::default();
        tally.usage = group.usage;
        let mut findings: Vec<_> = if take_initial {
            group.active.iter().chain(&group.initial).cloned().collect()
        } else {
            group.active.clone()
        };
        let reported = findings.len();
        // A storm's vulnerability has its own alert.
        let mut in_storm: Vec<String> = Vec::new();
        findings.retain(|f| {
            let id = f.id.to_ascii_uppercase();
            match storming.get(&id) {
                Some(images) => {
                    in_storm.push(format!("{id} ({images} images)"));
                    false
                }
                None => true,
            }
        });
        in_storm.sort();
        in_storm.dedup();
        if findings.is_empty() && group.closed.is_empty() && !in_storm.is_empty() {
            let mut outcome = Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(format!(
                "only findings of CVE storms, alerted on their own: {}",
                in_storm.join(", ")
            ));
            outcome.scan_status = Some("CONTINUOUS".into());
            return Ok(outcome);
        }
        tally.judge_all(findings, &image_policy, &known);
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
        if scan_event_missing {
            assessment.note_first(format!(
                "The image's Inspector2 Scan event had not been alerted {} s after these findings \
                 of its initial scan: alerted from Amazon Inspector's finding events instead \
                 (EventBridge delivers events on a best-effort basis).",
                self.config.recheck_delay_seconds
            ));
        }
        if !in_storm.is_empty() {
            assessment.note(format!(
                "Part of a CVE storm, alerted on its own: {}.",
                in_storm.join(", ")
            ));
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
        let report = render::FindingsReport::of(&assessment, image, None, self.alias(image), owner);
        let source = policy
            .commit_links()
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
