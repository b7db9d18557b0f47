//! The use cases, talking to the world through [`crate::ports`]: one scan
//! event ([`App::handle`]) or one batch of finding events
//! ([`App::handle_sqs_event`], in `batch.rs`): event -> policy -> findings
//! (page by page, [`fold`]) -> [`crate::domain::assessment`] -> alert ->
//! publish once ([`alert_memory`]). The CI gate ([`gate`]) shares the
//! reading and judging.

pub mod alert_memory;
mod batch;
pub mod counted_sink;
mod digest;
mod digest_fanout;
pub mod error;
pub mod fold;
pub mod gate;
pub mod metrics;
pub mod outcome;
pub mod owners;
pub mod policy_store;
mod report;

pub use crate::pipeline::digest::{digest_deadline, PUBLISH_RESERVE};
pub use crate::pipeline::outcome::{Outcome, OutcomeKind};

use crate::config::Config;
use crate::domain::alert::Alert;
use crate::domain::assessment::{Assessment, Reader};
use crate::domain::commit_link::SourceLink;
use crate::domain::dedup::{fingerprint, Known, Record};
use crate::domain::event::{self, Incoming, ScanEvent};
use crate::domain::finding::Finding;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::judged::JudgedFindings;
use crate::domain::owner::Owner;
use crate::domain::policy::{ImagePolicy, Policy};
use crate::domain::risk::Signals;
use crate::domain::severity::{Severity, SeverityCounts};
use crate::pipeline::alert_memory::{AlertMemory, Delivery, MemoryError, PublishOnceError};
use crate::pipeline::error::HandlerError;
use crate::pipeline::fold::{judge_pages, FoldError, FAILED_STATUSES};
use crate::pipeline::policy_store::PolicyProvider;
use crate::ports::{
    AlertSink, DedupStore, FindingsSource, PolicySource, Published, ScanStatus, SourceError,
};
use crate::render::{self, FailureReport};
use futures_util::FutureExt;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The status a scan-failed alert names when ECR returned fewer findings than
/// the scan event counted, none of them alert-worthy, while the event counted
/// some at or above the threshold.
pub const FINDINGS_INCOMPLETE: &str = "FINDINGS_INCOMPLETE";

/// An image's owner being looked up ([`App::owner_of`]), awaited by
/// whichever alert needs it first.
type PendingOwner<'a> = futures_util::future::Shared<futures_util::future::BoxFuture<'a, Owner>>;

/// What reading the findings gave: the folded findings, or the outcome
/// already decided (image gone, scan failed and alerted).
enum Read {
    Folded(crate::pipeline::fold::Folded),
    Done(Outcome),
}

/// How many findings at or above `threshold` the event counted that the
/// folded findings do not have.
fn unseen_at_or_above(event: &SeverityCounts, read: &SeverityCounts, threshold: Severity) -> u64 {
    Severity::RANKED
        .into_iter()
        .filter(|s| *s >= threshold)
        .map(|s| event.get(s).saturating_sub(read.get(s)))
        .sum()
}

pub struct App<S, A> {
    config: Config,
    policy: PolicyProvider,
    memory: AlertMemory,
    source: S,
    /// Counts every alert that goes out (`Alerts`).
    sink: counted_sink::CountedSink<A>,
    today: fn() -> chrono::NaiveDate,
    /// Where CVE storms are counted; `None`: within each batch.
    storms: Option<Box<dyn crate::ports::StormStore>>,
    /// The repositories' owner tags, read once per cache period.
    owner_tags: owners::OwnerTags,
    /// Each owner's last digest (`None`: the digest says no new or fixed).
    digest_state: Option<Box<dyn crate::ports::DigestStateStore>>,
    /// Where the digest writes its posture report (`None`: no report).
    reports: Option<Box<dyn crate::ports::ReportStore>>,
    /// The organisation's accounts, for a digest without an account list.
    account_directory: Option<Box<dyn crate::ports::AccountDirectory>>,
    /// Fanned-out digest runs and their partials (`None`: no fan-out).
    digest_runs: Option<Box<dyn crate::ports::DigestRunStore>>,
    /// The digest's work queue (`None`: no fan-out).
    work_queue: Option<Box<dyn crate::ports::WorkQueue>>,
}

fn utc_today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

impl<S: FindingsSource, A: AlertSink> App<S, A> {
    /// The pipeline under the environment's threshold, without dedup.
    pub fn new(config: Config, source: S, sink: A) -> App<S, A> {
        let (threshold, origin) = config.threshold_fallback();
        let policy = PolicyProvider::fixed(Policy::new(threshold).with_threshold_origin(origin));
        let owner_tags = owners::OwnerTags::new(
            config.owner_tag_key.clone(),
            Duration::from_secs(config.owner_cache_seconds),
        );
        let metrics_namespace = config.metrics.then(|| config.metrics_namespace.clone());
        App {
            owner_tags,
            config,
            policy,
            memory: AlertMemory::off(),
            source,
            sink: counted_sink::CountedSink::new(sink, metrics_namespace),
            today: utc_today,
            storms: None,
            digest_state: None,
            reports: None,
            account_directory: None,
            digest_runs: None,
            work_queue: None,
        }
    }

    /// Lists the organisation's accounts for the digest when the stack has
    /// no account list (`SCOPE_ACCOUNT_IDS`).
    pub fn with_account_directory(
        mut self,
        directory: Box<dyn crate::ports::AccountDirectory>,
    ) -> App<S, A> {
        self.account_directory = Some(directory);
        self
    }

    /// Keeps fanned-out digest runs and their partials in `store` (with a
    /// work queue, a digest over more than one registry fans out).
    pub fn with_digest_runs(mut self, store: Box<dyn crate::ports::DigestRunStore>) -> App<S, A> {
        self.digest_runs = Some(store);
        self
    }

    /// Sends a fanned-out digest's registries and assembly to `queue`.
    pub fn with_work_queue(mut self, queue: Box<dyn crate::ports::WorkQueue>) -> App<S, A> {
        self.work_queue = Some(queue);
        self
    }

    /// Writes each digest run's posture report to `store`.
    pub fn with_report_store(mut self, store: Box<dyn crate::ports::ReportStore>) -> App<S, A> {
        self.reports = Some(store);
        self
    }

    /// Keeps each owner's last digest in `store`, for new and fixed.
    pub fn with_digest_state(
        mut self,
        store: Box<dyn crate::ports::DigestStateStore>,
    ) -> App<S, A> {
        self.digest_state = Some(store);
        self
    }

    /// Reads the policy document from `source` (cached for the configured
    /// time) instead of using the threshold alone.
    pub fn with_policy_source(mut self, source: Box<dyn PolicySource>) -> App<S, A> {
        let ttl = Duration::from_secs(self.config.policy_cache_seconds);
        self.policy = PolicyProvider::parameter(source, ttl, self.config.threshold_fallback());
        self
    }

    /// Alerts only what was not alerted before for the image.
    pub fn with_dedup(mut self, store: Box<dyn DedupStore>) -> App<S, A> {
        self.memory = AlertMemory::with_store(store);
        self
    }

    /// Counts CVE storms in `store` across batches and invocations.
    pub fn with_storm_store(mut self, store: Box<dyn crate::ports::StormStore>) -> App<S, A> {
        self.storms = Some(store);
        self
    }

    /// Fixes "today" for allow-list expiry (tests).
    pub fn with_today(mut self, today: fn() -> chrono::NaiveDate) -> App<S, A> {
        self.today = today;
        self
    }

    fn emit_metrics(&self, result: &Result<Outcome, HandlerError>) {
        if self.config.metrics {
            // EMF goes to stdout as its own line; CloudWatch reads it from the log.
            println!(
                "{}",
                crate::pipeline::metrics::emf_line(
                    &self.config.metrics_namespace,
                    self.config.metrics_repository_dimension,
                    result,
                    chrono::Utc::now().timestamp_millis(),
                )
            );
        }
    }

    /// Why an image's event is not this stack's to alert: its account is
    /// outside `SCOPE_ACCOUNT_IDS`. An Inspector delegated administrator
    /// receives its members' events as well as its own (Amazon Inspector
    /// User Guide, "Amazon EventBridge event schema for Amazon Inspector
    /// events"); a stack for one account must not alert on them. Skipped,
    /// logged and counted (`EventsOutOfScope`), never failed or alerted.
    fn out_of_scope(&self, image: &ImageRef) -> Option<String> {
        let scope = self.config.scope_account_ids.as_ref()?;
        if scope.contains(&image.account) {
            return None;
        }
        Some(format!(
            "account {} is outside this stack's accounts ({}): skipped",
            image.account,
            scope.iter().cloned().collect::<Vec<_>>().join(", ")
        ))
    }

    /// Who owns `image` (docs/alerts.md, "Who owns it"). A tag that cannot
    /// be read, or whose value is no owner name, is a WARN line and a count
    /// (`OwnerTagsUnreadable`, `OwnerTagsInvalid`), never a failure.
    async fn owner_of(&self, image: &ImageRef, policy: &Policy) -> Owner {
        let (owner, problem) = self
            .owner_tags
            .owner_of(&self.source, image, policy.owner_rules())
            .await;
        match problem {
            None => {}
            Some(owners::TagProblem::Unreadable(failure)) => {
                tracing::warn!(repository = %image.repository, account = %image.account, tag_key = %self.owner_tags.key(), %failure, owner = %owner.name, "cannot read the repository's owner tag; the owner comes from the policy or is unowned");
                self.emit_count("OwnerTagsUnreadable", 1);
            }
            Some(owners::TagProblem::Invalid { value, problem }) => {
                tracing::warn!(repository = %image.repository, account = %image.account, tag_key = %self.owner_tags.key(), value = %value, %problem, owner = %owner.name, "the repository's owner tag is no owner name; the owner comes from the policy or is unowned");
                self.emit_count("OwnerTagsInvalid", 1);
            }
        }
        owner
    }

    /// A count of its own as a metric (EMF on stdout), when metrics are on.
    fn emit_count(&self, name: &str, value: u64) {
        debug_assert!(
            crate::pipeline::metrics::COUNTS.contains(&name),
            "{name} is not in metrics::COUNTS (and so not in metrics.json)"
        );
        if self.config.metrics {
            println!(
                "{}",
                crate::pipeline::metrics::count_line(
                    &self.config.metrics_namespace,
                    name,
                    value,
                    chrono::Utc::now().timestamp_millis(),
                )
            );
        }
    }

    /// Handles one event and logs one summary line for it.
    pub async fn handle(&self, event: Value) -> Result<Outcome, HandlerError> {
        let result = self.process(event).await;
        self.emit_metrics(&result);
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
        let scan = match event::parse(event)? {
            Incoming::Ignored {
                source,
                detail_type,
            } => {
                return Ok(Outcome::new(OutcomeKind::Ignored, None).because(format!(
                    "not a scan event: source `{source}`, detail-type `{detail_type}`"
                )))
            }
            Incoming::Scan(scan) => scan,
        };
        if let Some(reason) = self.out_of_scope(&scan.image) {
            return Ok(Outcome::new(OutcomeKind::OutOfScope, Some(&scan.image)).because(reason));
        }
        let policy = self.policy.current().await?;
        if let Some(reason) = policy.skip_reason(&scan.image) {
            return Ok(Outcome::new(OutcomeKind::NotAlerted, Some(&scan.image)).because(reason));
        }
        let image_policy = policy.for_image(&scan.image, (self.today)());
        // Looked up while the findings are read (it needs one more ECR call
        // whenever the repository's tag is not cached), awaited where an
        // alert needs it.
        let owner: PendingOwner<'_> = self.owner_of(&scan.image, &policy).boxed().shared();
        let source = policy
            .commit_links()
            .link(self.config.source_url_template.as_ref(), &scan.image);
        if scan.reports_failure() {
            self.scan_failed(&scan, None, source.as_ref(), &owner).await
        } else {
            self.scan_complete(&scan, &policy, &image_policy, source.as_ref(), &owner)
                .await
        }
    }

    async fn scan_complete(
        &self,
        scan: &ScanEvent,
        policy: &Policy,
        image_policy: &ImagePolicy<'_>,
        source: Option<&SourceLink>,
        owner: &PendingOwner<'_>,
    ) -> Result<Outcome, HandlerError> {
        let image = &scan.image;
        let (_, prepared) = tokio::join!(owner.clone(), async {
            let record = self.load_record(image).await?;
            let known = record.as_ref().map(|r| r.known.clone()).unwrap_or_default();
            let (signals, signals_problem) = self.read_signals(scan, image_policy).await?;
            let read = self
                .read_findings(scan, image_policy, &known, &signals, source, owner)
                .await?;
            Ok::<_, HandlerError>((record, known, signals, signals_problem, read))
        });
        let (record, known, signals, signals_problem, read) = prepared?;
        let mut folded = match read {
            Read::Folded(folded) => folded,
            Read::Done(outcome) => return Ok(outcome),
        };
        // Enhanced findings can reach ECR after the scan says done
        // (reported in aws/aws-sdk issue 289: status COMPLETE, findings not there yet): when ECR returns fewer
        // than the event counted, read again with backoff, within a budget.
        let mut missing = 0;
        if let Some(expected) = scan.expected_total {
            let budget = Duration::from_secs(self.config.findings_wait_seconds);
            let started = Instant::now();
            let mut delay = Duration::from_millis(500);
            while folded.tally.counts.total() < expected && started.elapsed() < budget {
                tracing::info!(
                    repository = %image.repository,
                    digest = %image.digest,
                    expected,
                    returned = folded.tally.counts.total(),
                    "ECR returned fewer findings than the scan reported; reading again"
                );
                tokio::time::sleep(delay.min(budget.saturating_sub(started.elapsed()))).await;
                delay = (delay * 2).min(Duration::from_secs(8));
                folded = match self
                    .read_findings(scan, image_policy, &known, &signals, source, owner)
                    .await?
                {
                    Read::Folded(folded) => folded,
                    Read::Done(outcome) => return Ok(outcome),
                };
            }
            missing = expected.saturating_sub(folded.tally.counts.total());
        }
        if missing > 0 && folded.tally.alert_worthy() == 0 {
            let unseen =
                unseen_at_or_above(&scan.counts, &folded.tally.counts, image_policy.threshold);
            if unseen > 0 {
                // What ECR returned is below the threshold, but the event
                // counted findings at or above it: say so rather than pass.
                let description = format!(
                    "The scan reported {} finding(s), {unseen} of them at or above {}, but ECR returned only {} after {} s; none of those returned is at or above the threshold. Look at the scan results in the console.",
                    scan.expected_total.unwrap_or_default(),
                    image_policy.threshold,
                    folded.tally.counts.total(),
                    self.config.findings_wait_seconds,
                );
                return self
                    .scan_failed(
                        scan,
                        Some(ScanStatus {
                            status: FINDINGS_INCOMPLETE.into(),
                            description: Some(description),
                        }),
                        source,
                        owner,
                    )
                    .await;
            }
        }
        let scan_status = folded
            .status
            .map_or_else(|| scan.status.clone(), |s| s.status);
        let mut assessment = Assessment::new(
            policy,
            image_policy,
            folded.tally,
            scan.kind,
            scan_status,
            Reader::Alert,
        );
        if let Some(problem) = signals_problem {
            assessment.note(format!(
                "EPSS scores could not be read from Amazon Inspector ({problem}); findings show none."
            ));
        }
        if let Some(at_most) = signals.unread_at_most {
            assessment.note(format!(
                "EPSS scores were read for the {} highest-scoring findings; the others score at most {at_most:.2}.",
                signals.epss.len()
            ));
        }
        if missing > 0 {
            assessment.note_first(format!(
                "Incomplete: the scan reported {} finding(s); ECR has returned {} so far ({missing} not yet readable after waiting {} s). Counts and lists may grow; the console shows the complete results.",
                scan.expected_total.unwrap_or_default(),
                assessment.tally.counts.total(),
                self.config.findings_wait_seconds,
            ));
        }
        let owner = owner.clone().await;
        let report = render::FindingsReport::of(
            &assessment,
            image,
            scan.event_id.as_deref(),
            self.alias(image),
            Some(&owner),
        );
        let alert = render::findings_alert_with_source(&report, source);
        let nothing = format!(
            "no finding at or above {} left by the policy",
            assessment.threshold
        );
        let tally = &assessment.tally;
        let mut outcome = self
            .alert_or_explain(image, record.as_ref(), &known, tally, alert, nothing)
            .await?;
        outcome.scan_status = Some(assessment.status.clone());
        outcome.alert_worthy = Some(tally.alert_worthy());
        outcome.suppressed = tally.suppressed.phrase();
        outcome.counts = Some(tally.counts.clone());
        outcome.pages = Some(tally.pages);
        Ok(outcome)
    }

    /// What Amazon Inspector adds to an enhanced scan's findings (EPSS).
    /// When it cannot be read, the alert goes out without it and says so,
    /// unless the policy's risk rule needs EPSS to decide what alerts: then
    /// the event fails (and is retried, or lands where failures go), never
    /// judged under a silently different rule.
    async fn read_signals(
        &self,
        scan: &ScanEvent,
        image_policy: &ImagePolicy<'_>,
    ) -> Result<(Signals, Option<String>), HandlerError> {
        if scan.kind != ScanKind::Enhanced {
            return Ok((Signals::default(), None));
        }
        match self.source.risk_signals(&scan.image).await {
            Ok(signals) => Ok((signals, None)),
            Err(error) => {
                let failure = match error {
                    SourceError::ImageNotFound(f)
                    | SourceError::ScanNotFound(f)
                    | SourceError::Failed(f)
                    | SourceError::RoleUnavailable { failure: f, .. } => f,
                };
                if image_policy.uses_epss() {
                    return Err(HandlerError::RiskSignals {
                        image: scan.image.short_name(),
                        failure,
                    });
                }
                tracing::warn!(repository = %scan.image.repository, digest = %scan.image.digest, %failure, "EPSS scores not read; alerting without them");
                Ok((Signals::default(), Some(failure.to_string())))
            }
        }
    }

    /// Folds every page of the image's findings, or says what to do instead
    /// (the image is gone, the scan failed) or why not (an error).
    async fn read_findings(
        &self,
        scan: &ScanEvent,
        image_policy: &ImagePolicy<'_>,
        known: &Known,
        signals: &Signals,
        source: Option<&SourceLink>,
        owner: &PendingOwner<'_>,
    ) -> Result<Read, HandlerError> {
        let image = &scan.image;
        match judge_pages(&self.source, image, image_policy, known, signals).await {
            Ok(folded) => Ok(Read::Folded(folded)),
            Err(FoldError::Read(SourceError::ImageNotFound(failure))) => {
                tracing::warn!(repository = %image.repository, digest = %image.digest, %failure, "image deleted before its findings were read");
                Ok(Read::Done(
                    Outcome::new(OutcomeKind::NotAlerted, Some(image))
                        .because("the image no longer exists"),
                ))
            }
            Err(FoldError::Read(SourceError::ScanNotFound(failure))) => {
                Err(HandlerError::ScanNotFound {
                    image: image.short_name(),
                    failure,
                })
            }
            Err(FoldError::Read(SourceError::Failed(failure))) => Err(HandlerError::Findings {
                image: image.short_name(),
                failure,
            }),
            Err(FoldError::Read(SourceError::RoleUnavailable {
                account,
                role,
                failure,
            })) => Err(HandlerError::MemberRoleUnavailable {
                image: image.short_name(),
                account,
                role,
                failure,
            }),
            Err(FoldError::ScanFailed(status)) => self
                .scan_failed(scan, Some(status), source, owner)
                .await
                .map(Read::Done),
            Err(FoldError::Pending(status)) => Err(HandlerError::ScanNotReady {
                image: image.short_name(),
                status,
            }),
        }
    }

    /// A scan that produced no findings. `known` is ECR's status when we
    /// already have it; otherwise ECR is asked for its description.
    async fn scan_failed(
        &self,
        scan: &ScanEvent,
        known_status: Option<ScanStatus>,
        source: Option<&SourceLink>,
        owner: &PendingOwner<'_>,
    ) -> Result<Outcome, HandlerError> {
        let image = &scan.image;
        let incomplete = known_status
            .as_ref()
            .is_some_and(|s| s.status == FINDINGS_INCOMPLETE);
        // Incomplete findings are not a scan failure: they alert regardless.
        if !self.config.alert_on_scan_failure && !incomplete {
            let mut o = Outcome::new(OutcomeKind::NotAlerted, Some(image))
                .because("scan failure alerts are off (ALERT_ON_SCAN_FAILURE=false)");
            o.scan_status = Some(known_status.map_or_else(|| scan.status.clone(), |s| s.status));
            return Ok(o);
        }
        let (status, lookup_problem) = match known_status {
            Some(status) => (Some(status), None),
            None => match self.source.page(image, None, None).await {
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
            Some(s)
                if FAILED_STATUSES.contains(&s.status.as_str())
                    || s.status == FINDINGS_INCOMPLETE =>
            {
                (s.status.clone(), s.description.clone())
            }
            Some(s) => (scan.status.clone(), s.description.clone()),
            None => (scan.status.clone(), None),
        };
        // A failure is remembered like a finding, so a redelivered event
        // does not alert twice.
        let marker = fingerprint(&Finding::new(
            format!("scan-status:{status_code}"),
            Severity::Undefined,
        ));
        let record = self.load_record(image).await?;
        let known = record.as_ref().map(|r| r.known.clone()).unwrap_or_default();
        if known.covers(marker) {
            let mut o = Outcome::new(OutcomeKind::NotAlerted, Some(image))
                .because("this scan failure was already alerted");
            o.scan_status = Some(status_code);
            return Ok(o);
        }
        let owner = owner.clone().await;
        let alert = render::scan_failed_alert_with_source(
            &FailureReport {
                image,
                kind: scan.kind,
                status: &status_code,
                description: description.as_deref(),
                lookup_problem: lookup_problem.as_deref(),
                event_id: scan.event_id.as_deref(),
                account_alias: self.alias(image),
                owner: Some(&owner),
            },
            source,
        );
        let published = self
            .publish_once(image, record.as_ref(), &known, &[marker], &alert)
            .await?;
        let mut o = Outcome::new(OutcomeKind::Alerted, Some(image)).published(&alert, published);
        o.scan_status = Some(status_code);
        Ok(o)
    }

    /// Publishes the findings alert (once, with dedup), or says why there is none.
    async fn alert_or_explain(
        &self,
        image: &ImageRef,
        record: Option<&Record>,
        known: &Known,
        tally: &JudgedFindings,
        alert: Option<Alert>,
        nothing_reason: String,
    ) -> Result<Outcome, HandlerError> {
        Ok(match alert {
            Some(alert) => {
                let published = self
                    .publish_once(image, record, known, &tally.fingerprints, &alert)
                    .await?;
                Outcome::new(OutcomeKind::Alerted, Some(image)).published(&alert, published)
            }
            None if tally.suppressed.already_alerted > 0 => {
                Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(format!(
                    "nothing new since the last alert for this image ({} already alerted)",
                    tally.suppressed.already_alerted
                ))
            }
            None => Outcome::new(OutcomeKind::NotAlerted, Some(image)).because(nothing_reason),
        })
    }

    async fn load_record(&self, image: &ImageRef) -> Result<Option<Record>, HandlerError> {
        self.memory
            .recall(image)
            .await
            .map_err(|e| memory_error(image, e))
    }

    /// Publishes once per image when dedup is on (see [`AlertMemory`]).
    async fn publish_once(
        &self,
        image: &ImageRef,
        record: Option<&Record>,
        known: &Known,
        alerted: &[u64],
        alert: &Alert,
    ) -> Result<Published, HandlerError> {
        self.memory
            .publish_once(
                image,
                record,
                known,
                alerted,
                alert,
                |delivery| async move {
                    match delivery {
                        Delivery::All => self.publish(image, alert).await,
                        Delivery::ChatOnly => self.publish_chat(image, alert).await,
                    }
                },
            )
            .await
            .map_err(|e| match e {
                PublishOnceError::Memory(e) => memory_error(image, e),
                PublishOnceError::Publish(e) => e,
            })
    }

    /// The name people know the image's account by, when configured.
    fn alias(&self, image: &ImageRef) -> Option<&str> {
        self.config
            .account_aliases
            .get(&image.account)
            .map(String::as_str)
    }

    /// Publishes to every destination; on failure, also says whether the
    /// alert topic got the alert before a later destination failed.
    async fn publish(
        &self,
        image: &ImageRef,
        alert: &Alert,
    ) -> Result<Published, (HandlerError, bool)> {
        self.sink.publish(alert).await.map_err(|e| {
            let sent = e.alert_topic_message_id.is_some();
            (publish_error(image, e), sent)
        })
    }

    /// Publishes to the chat destination alone.
    async fn publish_chat(
        &self,
        image: &ImageRef,
        alert: &Alert,
    ) -> Result<Published, (HandlerError, bool)> {
        match self.sink.publish_chat(alert).await {
            Ok(chat_message_id) => Ok(Published {
                message_id: "(published earlier)".into(),
                chat_message_id,
            }),
            Err(e) => Err((publish_error(image, e), true)),
        }
    }
}

fn memory_error(image: &ImageRef, error: MemoryError) -> HandlerError {
    match error {
        MemoryError::Store(failure) => HandlerError::Dedup {
            image: image.short_name(),
            failure,
        },
        MemoryError::InProgress => HandlerError::AlertInProgress {
            image: image.short_name(),
        },
    }
}

fn publish_error(image: &ImageRef, e: crate::ports::PublishError) -> HandlerError {
    HandlerError::Publish {
        image: image.short_name(),
        destination: e.destination,
        failure: e.failure,
    }
}

fn log_outcome(outcome: &Outcome) {
    let counts = outcome.counts.clone().unwrap_or_default();
    use crate::domain::severity::Severity as S;
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
        suppressed = outcome.suppressed.as_deref().unwrap_or(""),
        pages = outcome.pages.unwrap_or(0),
        message_id = outcome.message_id.as_deref().unwrap_or(""),
        "event processed"
    );
}
