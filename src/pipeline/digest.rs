//! The third way in: the scheduled digest (docs/digest.md). One run reads
//! the registries (this account, and the stack's listed member accounts
//! through their reader role, in the function's region), resolves each
//! repository's owner, and sends each owner one digest: what is open at or
//! above the threshold, what is past its deadline, what scanning does not
//! watch, which allow-list entries expire. Always sent, even when nothing
//! is open: the digest is also the heartbeat.
//!
//! Cheap at scale: the scan summaries of `DescribeImages` first (with
//! enhanced scanning, Amazon Inspector's coverage and findings
//! aggregations, read once per registry); an image's findings are read
//! only when its summary counts one at or above the threshold (basic
//! findings below it are only counted by the tap).

use super::App;
use crate::domain::coverage::{ImageAggregation, RegistryCoverage};
use crate::domain::deadline::Standing;
use crate::domain::dedup::{fingerprint, Known};
use crate::domain::digest::{self, ImageInfo, OwnerDigest, RepositoryInfo, Silence};
use crate::domain::digest_run::Registry;
use crate::domain::digest_state::DigestState;
use crate::domain::event::EventError;
use crate::domain::finding::{Finding, Why};
use crate::domain::image::ImageRef;
use crate::domain::policy::{Policy, Verdict};
use crate::domain::report::{CoverageRow, FindingRow};
use crate::domain::risk::InUse;
use crate::domain::severity::{Severity, SeverityCounts};
use crate::pipeline::alert_memory::MemoryError;
use crate::pipeline::error::HandlerError;
use crate::ports::{AlertSink, FindingsSource, RegistryListing, SourceError};
use crate::render::digest::{digest_alert, DigestContext};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Repositories read side by side at most.
const REPOSITORIES_AT_ONCE: usize = 16;
/// What a run keeps of its time to compare, publish and keep state after
/// reading: registries not read by the deadline less this are named late.
pub const PUBLISH_RESERVE: std::time::Duration = std::time::Duration::from_secs(60);
/// How long an owner's last digest state is kept: longer than any
/// sensible schedule's period (a monthly digest still compares).
const STATE_DAYS: i64 = 120;

/// Amazon Inspector's coverage of the registry being read.
enum Coverage {
    /// Not read: basic scanning, or no Inspector client.
    NotRead,
    Read(RegistryCoverage),
    /// Could not be read (the registry and why): ECR's statuses decide.
    Unread(String),
}

/// What the dedup table says was alerted for an image.
enum Alerted {
    /// Not checked: no dedup table, or the image is being alerted now.
    Unchecked,
    /// No alert was ever recorded for it.
    Nothing,
    Known(Known),
}

/// One repository read: its owner, its part of the owner's digest, the
/// images counted and those whose findings were read.
pub(super) type RepositoryRead = (String, OwnerDigest, u64, u64);

/// What a run read: each owner's digest, the images counted and those whose
/// findings were read, and the registries missing, each with why.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Reading {
    pub digests: BTreeMap<String, OwnerDigest>,
    pub images: u64,
    pub findings: u64,
    #[serde(skip)]
    pub late: Vec<String>,
}

impl Reading {
    /// Adds repositories read, merged into their owners' digests.
    pub fn add(&mut self, reads: Vec<RepositoryRead>) {
        for (owner, partial, images, findings) in reads {
            self.images += images;
            self.findings += findings;
            self.merge_owner(owner, partial);
        }
    }

    /// Adds another reading (a fanned-out part), merged by owner.
    pub fn merge(&mut self, other: Reading) {
        self.images += other.images;
        self.findings += other.findings;
        for (owner, partial) in other.digests {
            self.merge_owner(owner, partial);
        }
        self.late.extend(other.late);
    }

    fn merge_owner(&mut self, owner: String, partial: OwnerDigest) {
        self.digests
            .entry(owner.clone())
            .or_insert_with(|| OwnerDigest::new(&owner))
            .merge(partial);
    }
}

impl<S: FindingsSource + RegistryListing, A: AlertSink> App<S, A> {
    /// One scheduled run: EventBridge Scheduler's payload (any JSON
    /// object: the stack sends `{"digest": "scheduled"}`) or an EventBridge
    /// `Scheduled Event`. Answers what was sent; fails (and is retried by
    /// Lambda) when a registry cannot be read or a digest not published.
    pub async fn handle_digest(&self, event: Value) -> Result<Value, HandlerError> {
        self.handle_digest_by(event, None).await
    }

    /// [`Self::handle_digest`], reading registries until `deadline` only
    /// (the invocation's deadline less [`PUBLISH_RESERVE`]): a registry not
    /// read by then is named in every digest as not read in time, and the
    /// digests of what was read still go out. With the digest queue and
    /// the table, a run over more than one registry fans out instead: one
    /// message per registry, and an assembly (docs/digest.md, "Fan-out").
    pub async fn handle_digest_by(
        &self,
        event: Value,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Value, HandlerError> {
        let run = scheduled(&event)?;
        let policy = self.policy.current().await?;
        let (registries, accounts_problem) = self.digest_registries().await;
        if registries.len() > 1 {
            if let Some(fan_out) = self.fan_out() {
                return self
                    .start_fanned_out(fan_out, run, registries, accounts_problem)
                    .await;
            }
        }
        let now = chrono::Utc::now();
        let mut read = Reading::default();
        for registry in &registries {
            let reading = self.read_registry(&policy, registry, now);
            let reads = match deadline {
                None => reading.await?,
                Some(at) => match tokio::time::timeout_at(at, reading).await {
                    Ok(reads) => reads?,
                    Err(_) => {
                        let name = registry.name();
                        tracing::warn!(registry = %name, "registry not read in time: named in every digest as missing");
                        read.late.push(format!(
                            "{name}: the run stopped reading it to send the digests before its timeout"
                        ));
                        continue;
                    }
                },
            };
            read.add(reads);
        }
        self.finish_digests(&policy, now, &registries, read, accounts_problem)
            .await
    }

    /// The registries a run reads: each listed account (or this one) in
    /// each listed region (or the function's); and why the organisation's
    /// accounts could not be listed, when not.
    async fn digest_registries(&self) -> (Vec<Registry>, Option<String>) {
        let region = self.config.region.clone().unwrap_or_default();
        let regions: Vec<String> = if self.config.digest_regions.is_empty() {
            vec![region]
        } else {
            self.config.digest_regions.clone()
        };
        let (listed, accounts_problem) = self.digest_accounts().await;
        let accounts: Vec<String> = if listed.is_empty() {
            vec![String::new()]
        } else {
            listed
        };
        let registries = accounts
            .iter()
            .flat_map(|a| {
                regions.iter().map(move |r| Registry {
                    account: a.clone(),
                    region: r.clone(),
                })
            })
            .collect();
        (registries, accounts_problem)
    }

    /// The digests of what was read: compared with the last, reported,
    /// published and kept; `read.late` names the registries missing.
    pub(super) async fn finish_digests(
        &self,
        policy: &Policy,
        now: chrono::DateTime<chrono::Utc>,
        registries: &[Registry],
        read: Reading,
        accounts_problem: Option<String>,
    ) -> Result<Value, HandlerError> {
        let Reading {
            mut digests,
            images: images_read,
            findings: findings_read,
            late,
        } = read;
        let region = self.config.region.clone().unwrap_or_default();
        if !late.is_empty() {
            self.emit_count("DigestRegistriesLate", late.len() as u64);
            if digests.is_empty() {
                return Err(HandlerError::DigestRegistry {
                    account: late.join("; "),
                    failure: "no registry was read".into(),
                });
            }
        }
        let today = now.date_naive();
        let scope = scope_phrase(registries, &region);
        let mut states = BTreeMap::new();
        for digest in digests.values_mut() {
            digest.add_exceptions(policy.allow_entries(), today);
            if !self.memory.is_on() {
                digest.never_alerted_unchecked = Some(
                    "it needs the dedup table, which records what was alerted (OnlyNewFindings=true)"
                        .into(),
                );
            }
            let state = DigestState::new(now.timestamp(), std::mem::take(&mut digest.marks));
            self.compare_with_last(digest, &state).await;
            states.insert(digest.owner.clone(), state);
        }
        // The report before the digests, which link to it.
        let report_link = self
            .write_report(
                &mut digests,
                &super::report::RunFacts {
                    now,
                    threshold: policy.threshold(),
                    scope: scope.clone(),
                    late: &late,
                },
            )
            .await;
        let mut published = 0u64;
        let mut failures = Vec::new();
        let (mut open_all, mut overdue_all) =
            (SeverityCounts::default(), SeverityCounts::default());
        for digest in digests.values() {
            let ctx = DigestContext {
                threshold: policy.threshold(),
                sla: policy.sla(),
                image_days: self.config.digest_image_days as i64,
                stale_days: self.config.digest_stale_days as i64,
                scope: scope.clone(),
                now: now.timestamp(),
                late: &late,
                report_link: report_link.as_deref(),
                accounts_problem: accounts_problem.as_deref(),
            };
            let alert = digest_alert(digest, &ctx);
            match self.sink.publish(&alert).await {
                Ok(sent) => {
                    published += 1;
                    tracing::info!(outcome = "alerted", alert_kind = "digest", owner = %digest.owner, message_id = %sent.message_id, never_alerted = digest.never_alerted_total, "digest published");
                    // Kept only once sent: a retried run compares with the
                    // digest people last read.
                    if let Some(state) = states.get(&digest.owner) {
                        self.keep_state(&digest.owner, state).await;
                    }
                }
                Err(error) => {
                    tracing::error!(owner = %digest.owner, %error, "digest not published");
                    failures.push(format!("{}: {error}", digest.owner));
                }
            }
            let open = digest.open();
            for s in Severity::RANKED {
                open_all.add(s, open.get(s));
                overdue_all.add(s, digest.overdue_by_severity.get(s));
            }
            if self.config.metrics_owner_dimension {
                self.emit_posture(Some(&digest.owner), &open, &digest.overdue_by_severity);
            }
        }
        self.emit_posture(None, &open_all, &overdue_all);
        self.emit_count("DigestsPublished", published);
        let summary = json!({
            "outcome": if failures.is_empty() { "digested" } else { "failed" },
            "owners": digests.len(),
            "published": published,
            "images": images_read,
            "images_with_findings_read": findings_read,
            "registries_late": late,
            "accounts_problem": accounts_problem,
            "report": report_link,
        });
        tracing::info!(
            owners = digests.len(),
            published,
            images = images_read,
            findings_read,
            "digest run done"
        );
        if let Some(first) = failures.first() {
            return Err(HandlerError::DigestNotPublished {
                failed: failures.len(),
                first: first.clone(),
            });
        }
        Ok(summary)
    }

    /// One registry: each repository's owner, images and the findings it
    /// needs, read into a partial digest per repository (16 side by side).
    pub(super) async fn read_registry(
        &self,
        policy: &Policy,
        registry: &Registry,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<RepositoryRead>, HandlerError> {
        let registry_ref = ImageRef {
            account: registry.account.clone(),
            region: registry.region.clone(),
            ..ImageRef::default()
        };
        let scan_type = self
            .source
            .scan_type(&registry_ref)
            .await
            .map_err(|e| digest_error(registry, e))?;
        let basic = scan_type == "BASIC";
        let repositories = self
            .source
            .repositories(&registry_ref)
            .await
            .map_err(|e| digest_error(registry, e))?;
        let coverage = if basic {
            Coverage::NotRead
        } else {
            self.inspector_coverage(registry, &registry_ref).await
        };
        let coverage = &coverage;
        Ok(futures_util::stream::iter(repositories)
            .filter(|info| {
                let covered = policy.skip_reason(&info.repository).is_none();
                async move { covered }
            })
            .map(|info| async move {
                let owner = self.owner_of(&info.repository, policy).await;
                let (partial, images, findings) = self
                    .read_repository(policy, &info, &owner.name, basic, coverage, now)
                    .await;
                (owner.name, partial, images, findings)
            })
            .buffer_unordered(REPOSITORIES_AT_ONCE)
            .collect()
            .await)
    }

    /// Amazon Inspector's coverage of an enhanced-scanning registry, read
    /// once per registry. When it cannot be read (Inspector not enabled,
    /// access denied, an error), the digest falls back to ECR's image
    /// statuses, with a WARN, a count (`InspectorCoverageUnread`) and a line
    /// in the digest.
    async fn inspector_coverage(&self, registry: &Registry, registry_ref: &ImageRef) -> Coverage {
        match self.source.coverage(registry_ref).await {
            Ok(Some(coverage)) => Coverage::Read(coverage),
            Ok(None) => Coverage::NotRead,
            Err(error) => {
                let name = registry.name();
                tracing::warn!(registry = %name, %error, "cannot read Inspector's coverage: the digest reads ECR's image statuses and summaries instead");
                self.emit_count("InspectorCoverageUnread", 1);
                Coverage::Unread(format!("{name}: {error}"))
            }
        }
    }

    /// New, fixed and still open since the owner's last digest, into the
    /// digest; what it could not compare, said.
    async fn compare_with_last(&self, digest: &mut OwnerDigest, state: &DigestState) {
        let Some(store) = &self.digest_state else {
            digest.changes_unknown = Some(
                "it needs the dedup table, which keeps the last digest (OnlyNewFindings=true)"
                    .into(),
            );
            return;
        };
        match store.load(&digest.owner).await {
            Ok(Some(last)) => digest.changes = Some(state.since(&last)),
            Ok(None) => {}
            Err(failure) => {
                tracing::warn!(owner = %digest.owner, %failure, "cannot read the last digest's state: new and fixed are not counted this time");
                self.emit_count("DigestStateUnreadable", 1);
                digest.changes_unknown = Some(format!(
                    "the last digest's state could not be read: {failure}"
                ));
            }
        }
    }

    /// Keeps `state` as the owner's last digest; a failure is a WARN and a
    /// count (`DigestStateNotSaved`): the next digest then compares with an
    /// older one.
    async fn keep_state(&self, owner: &str, state: &DigestState) {
        let Some(store) = &self.digest_state else {
            return;
        };
        let expires_at = state.at + STATE_DAYS * 86_400;
        if let Err(failure) = store.save(owner, state, expires_at).await {
            tracing::warn!(%owner, %failure, "cannot keep this digest's state: the next digest compares with an older one");
            self.emit_count("DigestStateNotSaved", 1);
        }
    }

    /// The posture gauges (EMF), when metrics are on.
    fn emit_posture(&self, owner: Option<&str>, open: &SeverityCounts, overdue: &SeverityCounts) {
        if !self.config.metrics {
            return;
        }
        for line in crate::pipeline::metrics::posture_lines(
            &self.config.metrics_namespace,
            owner,
            open,
            overdue,
            chrono::Utc::now().timestamp_millis(),
        ) {
            println!("{line}");
        }
    }

    /// The accounts to read: the stack's list (`SCOPE_ACCOUNT_IDS`), else
    /// the organisation's active accounts when a directory is set, else
    /// none (this account). When the organisation's cannot be listed, this
    /// account is read and every digest says why the others are missing.
    async fn digest_accounts(&self) -> (Vec<String>, Option<String>) {
        if let Some(accounts) = &self.config.scope_account_ids {
            return (accounts.iter().cloned().collect(), None);
        }
        let Some(directory) = &self.account_directory else {
            return (Vec::new(), None);
        };
        match directory.active_accounts().await {
            Ok((active, left_out)) => {
                for (account, why) in &left_out {
                    tracing::info!(%account, %why, "organisation account not read: not active");
                }
                (active, None)
            }
            Err(failure) => {
                tracing::warn!(%failure, "cannot list the organisation's accounts: only this account is read");
                self.emit_count("OrganizationAccountsUnlisted", 1);
                (
                    Vec::new(),
                    Some(format!(
                        "the organisation's accounts could not be listed ({failure}), so only this account was read: list them in MemberAccountIds, or deploy the stack in the organisation's management account or an AWS Organizations delegated administrator"
                    )),
                )
            }
        }
    }

    /// Adds an image's findings no per-image alert carried to the digest,
    /// but those a CVE storm alert carried (once per vulnerability, not
    /// recorded per image): never listed as silent when they were not.
    async fn add_silent(
        &self,
        digest: &mut OwnerDigest,
        image: &ImageRef,
        silent: Vec<(Finding, Silence)>,
    ) {
        if silent.is_empty() {
            return;
        }
        let stormed = match &self.storms {
            None => Default::default(),
            Some(store) => {
                let mut ids: Vec<String> = silent
                    .iter()
                    .map(|(f, _)| f.id.to_ascii_uppercase())
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                match store.alerted(&ids).await {
                    Ok(stormed) => stormed,
                    Err(failure) => {
                        tracing::warn!(%failure, "cannot read which storms were alerted: an image's storm findings may be listed as never alerted");
                        Default::default()
                    }
                }
            }
        };
        for (finding, silence) in silent {
            if !stormed.contains(&finding.id.to_ascii_uppercase()) {
                digest.add_never_alerted(image, &finding, silence);
            }
        }
    }

    /// What the dedup table says was alerted for `image`.
    async fn alerted(&self, digest: &mut OwnerDigest, image: &ImageInfo) -> Alerted {
        if !self.memory.is_on() {
            return Alerted::Unchecked;
        }
        match self.memory.recall(&image.image).await {
            Ok(Some(record)) => Alerted::Known(record.known),
            Ok(None) => Alerted::Nothing,
            // Being alerted right now: nothing to say of its silence.
            Err(MemoryError::InProgress) => Alerted::Unchecked,
            Err(MemoryError::Store(failure)) => {
                digest
                    .never_alerted_unchecked
                    .get_or_insert_with(|| format!("the dedup table could not be read: {failure}"));
                Alerted::Unchecked
            }
        }
    }

    /// One repository's part of its owner's digest: its current images,
    /// whether scanning watches them, and their open findings; with the
    /// images counted and those whose findings were read.
    async fn read_repository(
        &self,
        policy: &Policy,
        info: &RepositoryInfo,
        owner: &str,
        basic: bool,
        coverage: &Coverage,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (OwnerDigest, u64, u64) {
        let mut digest = OwnerDigest::new(owner);
        digest.add_repository(&info.repository);
        if let Coverage::Unread(why) = coverage {
            digest.inspector_unread.push(why.clone());
        }
        let inspector = match coverage {
            Coverage::Read(read) => Some(read),
            _ => None,
        };
        let (mut images_read, mut findings_read) = (0, 0);
        let images = match self.source.images(&info.repository).await {
            Ok(images) => images,
            Err(error) => {
                digest
                    .unreadable
                    .push((info.repository.clone(), error.to_string()));
                return (digest, 0, 0);
            }
        };
        let stamp = now.timestamp();
        let days = self.config.digest_image_days as i64;
        for mut image in images {
            let (repository, image_digest) = (&image.image.repository, &image.image.digest);
            // Seen in use by Inspector (ECS tasks, EKS pods) counts as
            // current, even when not pushed or pulled lately.
            let current = digest::is_current(&image, stamp, days)
                || inspector.is_some_and(|c| c.seen_in_use(repository, image_digest, stamp, days));
            if !current || policy.skip_reason(&image.image).is_some() {
                continue;
            }
            let aggregation = inspector.and_then(|c| c.aggregation(repository, image_digest));
            let covered = inspector.map(|c| c.image(repository, image_digest).cloned());
            images_read += 1;
            if !image.unknown_severities.is_empty() {
                tracing::warn!(repository = %image.image.repository, digest = %image.image.digest, severities = ?image.unknown_severities, "the scan summary counts severities the ECR API reference does not document: the image's findings are read to see what they are");
                self.emit_count("UnknownSeverities", image.unknown_severities.len() as u64);
            }
            // AWS-native basic scanning leaves DescribeImages' scan status
            // and summary out (Amazon ECR API Reference, DescribeImages:
            // "Use the DescribeImageScanFindings API instead"): the
            // findings' first page says them.
            let mut first = None;
            if basic && image.scan_status.is_none() {
                let threshold = policy.for_image(&image.image, now.date_naive()).threshold;
                match self.source.page(&image.image, None, Some(threshold)).await {
                    Ok(page) => {
                        if let Some(status) = &page.status {
                            image.scan_status = Some(status.status.clone());
                            image.scan_description.clone_from(&status.description);
                        }
                        image.completed_at = page.completed_at;
                        first = Some(page);
                    }
                    // Never scanned.
                    Err(SourceError::ScanNotFound(_)) => {}
                    Err(SourceError::ImageNotFound(_)) => continue,
                    Err(error) => {
                        digest
                            .unreadable
                            .push((image.image.clone(), error.to_string()));
                        continue;
                    }
                }
            }
            let unwatched = match covered {
                // With enhanced scanning, Inspector's coverage says whether
                // the image is scanned (ListCoverage, ScanStatus).
                Some(Some(coverage)) if crate::domain::coverage::watches(&coverage) => None,
                Some(Some(coverage)) => Some(digest::Unwatched::Inspector {
                    status: coverage.status,
                    reason: coverage.reason,
                }),
                Some(None) => Some(digest::Unwatched::NotCovered),
                None => digest::unwatched(
                    &image,
                    info.scan_on_push,
                    basic,
                    stamp,
                    self.config.digest_stale_days as i64,
                ),
            };
            let watched = unwatched.is_none();
            if self.reports.is_some() {
                digest.coverage_rows.push(CoverageRow {
                    owner: owner.to_string(),
                    account: image.image.account.clone(),
                    region: image.image.region.clone(),
                    repository: image.image.repository.clone(),
                    digest: image.image.digest.clone(),
                    tags: image.image.tags.clone(),
                    scan_status: image.scan_status.clone(),
                    last_scan: image.completed_at,
                    not_watched: unwatched.as_ref().map(digest::Unwatched::reason),
                });
            }
            digest.add_image(&image.image, unwatched);
            if watched {
                findings_read += self
                    .open_findings(&mut digest, policy, &image, first, aggregation, now)
                    .await;
            }
        }
        (digest, images_read, findings_read)
    }

    /// Reads the image's findings when its summary counts one at or above
    /// its threshold (or, without a summary, when `first`, the first page,
    /// was read already), and adds the alert-worthy ones to the digest; 1
    /// when read, 0 when not needed. With enhanced scanning, Inspector's
    /// `aggregation` of the image is its summary, when there is one.
    async fn open_findings(
        &self,
        digest: &mut OwnerDigest,
        policy: &Policy,
        image: &ImageInfo,
        mut first: Option<crate::ports::FindingsPage>,
        aggregation: Option<&ImageAggregation>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> u64 {
        let image_policy = policy.for_image(&image.image, now.date_naive());
        // Read when the summary reaches the threshold, counts a severity
        // nobody documents, or is missing: never skipped on a guess.
        let below = match aggregation {
            Some(aggregated) => !aggregated.counts.reaches(image_policy.threshold),
            None => image.has_summary && !digest::reaches(&image.counts, image_policy.threshold),
        };
        if first.is_none() && image.unknown_severities.is_empty() && below {
            return 0;
        }
        let alerted = self.alerted(digest, image).await;
        let mut silent: Vec<(Finding, Silence)> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let read = match first.take() {
                Some(page) => Ok(page),
                None => {
                    self.source
                        .page(&image.image, token.as_deref(), Some(image_policy.threshold))
                        .await
                }
            };
            let page = match read {
                Ok(page) => page,
                Err(error) => {
                    digest
                        .unreadable
                        .push((image.image.clone(), error.to_string()));
                    self.add_silent(digest, &image.image, silent).await;
                    return 1;
                }
            };
            let mut usage_policy = image_policy.clone();
            usage_policy.apply_usage(&page.usage);
            for finding in &page.findings {
                let judgement = usage_policy.judge(finding);
                if judgement.verdict != Verdict::Alert {
                    continue;
                }
                let mut routed = finding.clone();
                if let Some(why) = judgement.moved {
                    routed.move_severity(judgement.severity, why);
                }
                let silence = match &alerted {
                    Alerted::Unchecked => None,
                    Alerted::Nothing => Some(Silence::NoAlertRecorded),
                    Alerted::Known(known) if known.covers(fingerprint(&routed)) => None,
                    Alerted::Known(_) => Some(match (judgement.expired_entry, judgement.moved) {
                        (Some(entry), _) => Silence::EntryExpired(
                            policy
                                .allow_entry(entry)
                                .map_or_else(|| format!("#{entry}"), |e| e.label_scope()),
                        ),
                        (None, Some(Why::Exploit)) => Silence::ExploitKnown,
                        (None, Some(Why::Epss)) => Silence::EpssRose,
                        _ if usage_policy.uses_usage()
                            && matches!(page.usage.state(), InUse::Running(_)) =>
                        {
                            Silence::StartedRunning
                        }
                        _ => Silence::NotAnnounced,
                    }),
                };
                if let Some(silence) = silence {
                    silent.push((routed.clone(), silence));
                }
                // Basic findings carry no first observation: the clock
                // starts at the push, which scan on push follows within
                // minutes (docs/digest.md, "Deadlines").
                let standing: Standing =
                    digest::standing(policy.sla(), &routed, image.pushed_at, now.timestamp());
                if self.reports.is_some() {
                    digest
                        .finding_rows
                        .push(finding_row(&digest.owner, image, &routed, standing));
                }
                digest.add_open(&image.image, &routed, standing);
            }
            match page.next_token {
                Some(next) => token = Some(next),
                None => {
                    self.add_silent(digest, &image.image, silent).await;
                    return 1;
                }
            }
        }
    }
}

/// A row of `findings.csv`: the finding as the policy routed it.
fn finding_row(
    owner: &str,
    image: &ImageInfo,
    finding: &Finding,
    standing: Standing,
) -> FindingRow {
    let (deadline, overdue_days) = standing.deadline();
    FindingRow {
        owner: owner.to_string(),
        account: image.image.account.clone(),
        region: image.image.region.clone(),
        repository: image.image.repository.clone(),
        digest: image.image.digest.clone(),
        tags: image.image.tags.clone(),
        vulnerability: finding.id.clone(),
        severity: finding.severity,
        exploit: finding.exploit_available,
        epss: finding.epss,
        first_observed: finding.first_observed.or(image.pushed_at),
        deadline,
        overdue_days,
        fix: digest::fix_phrase(finding),
    }
}

fn scope_phrase(registries: &[Registry], region: &str) -> String {
    let mut accounts: Vec<&str> = registries
        .iter()
        .map(|r| r.account.as_str())
        .filter(|a| !a.is_empty())
        .collect();
    accounts.dedup();
    let accounts = if accounts.is_empty() {
        "this account".to_string()
    } else {
        format!("account(s) {}", accounts.join(", "))
    };
    let mut regions: Vec<&str> = registries
        .iter()
        .map(|r| r.region.as_str())
        .filter(|r| !r.is_empty())
        .collect();
    regions.sort_unstable();
    regions.dedup();
    match regions.as_slice() {
        [] if region.is_empty() => accounts,
        [] => format!("{accounts}, region {region}"),
        [one] => format!("{accounts}, region {one}"),
        many => format!("{accounts}, regions {}", many.join(", ")),
    }
}

fn digest_error(registry: &Registry, error: SourceError) -> HandlerError {
    HandlerError::DigestRegistry {
        account: if registry.account.is_empty() {
            "this account".into()
        } else {
            registry.account.clone()
        },
        failure: error.to_string(),
    }
}

/// What starts a digest: Scheduler's payload (a JSON object), or an
/// EventBridge `Scheduled Event` (Amazon EventBridge User Guide, "Creating
/// an Amazon EventBridge rule that runs on a schedule"). Answers the run's
/// time (epoch seconds): the schedule's `scheduled_time` (the stack's
/// payload carries Scheduler's `<aws.scheduler.scheduled-time>`, EventBridge
/// Scheduler User Guide, "Adding context attributes"), the event's `time`,
/// else now. A retried schedule is then the same run.
fn scheduled(event: &Value) -> Result<i64, EventError> {
    let Some(object) = event.as_object() else {
        return Err(EventError {
            field: "event".into(),
            problem: format!("a digest starts from a JSON object, not `{event}`"),
        });
    };
    if let Some(kind) = object.get("detail-type") {
        if kind != "Scheduled Event" {
            return Err(EventError {
                field: "detail-type".into(),
                problem: format!(
                    "`{kind}` is not a Scheduled Event: the digest runs on a schedule"
                ),
            });
        }
    }
    for field in ["scheduled_time", "time"] {
        if let Some(value) = object.get(field) {
            return value
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .ok_or_else(|| EventError {
                    field: field.into(),
                    problem: format!(
                        "`{value}` is not a time like 2026-12-07T08:00:00Z (RFC 3339)"
                    ),
                });
        }
    }
    Ok(chrono::Utc::now().timestamp())
}

/// When a digest invocation stops reading: Lambda's deadline (epoch
/// milliseconds) less what publishing needs, [`PUBLISH_RESERVE`] or a
/// fifth of a shorter run. `None`, with a WARN, when the deadline is not a
/// time ahead (a local runtime emulator may send the timeout itself).
pub fn digest_deadline(
    deadline_ms: u64,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<tokio::time::Instant> {
    let now_ms = now.timestamp_millis();
    match i64::try_from(deadline_ms) {
        Ok(at) if at > now_ms => {
            let left = std::time::Duration::from_millis((at - now_ms) as u64);
            let reserve = PUBLISH_RESERVE.min(left / 5);
            tracing::info!(
                read_for_ms = (left - reserve).as_millis() as u64,
                "digest run: reading until the deadline less what publishing needs"
            );
            Some(tokio::time::Instant::now() + (left - reserve))
        }
        _ => {
            tracing::warn!(
                deadline_ms,
                now_ms,
                "the runtime's deadline is not a time ahead: reading without one"
            );
            None
        }
    }
}
