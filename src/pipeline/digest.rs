//! The third way in: the scheduled digest (docs/digest.md). One run reads
//! the registries (this account, and the stack's listed member accounts
//! through their reader role, in the function's region), resolves each
//! repository's owner, and sends each owner one digest: what is open at or
//! above the threshold, what is past its deadline, what scanning does not
//! watch, which allow-list entries expire. Always sent, even when nothing
//! is open: the digest is also the heartbeat.
//!
//! Cheap at scale: the scan summaries of `DescribeImages` first; an image's
//! findings are read only when its summary counts one at or above the
//! threshold (basic findings below it are only counted by the tap).

use super::App;
use crate::domain::deadline::Standing;
use crate::domain::digest::{self, ImageInfo, OwnerDigest, RepositoryInfo};
use crate::domain::event::EventError;
use crate::domain::image::ImageRef;
use crate::domain::policy::{Policy, Verdict};
use crate::pipeline::error::HandlerError;
use crate::ports::{AlertSink, FindingsSource, RegistryListing, SourceError};
use crate::render::digest::{digest_alert, DigestContext};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Repositories read side by side at most.
const REPOSITORIES_AT_ONCE: usize = 16;

impl<S: FindingsSource + RegistryListing, A: AlertSink> App<S, A> {
    /// One scheduled run: EventBridge Scheduler's payload (any JSON
    /// object: the stack sends `{"digest": "scheduled"}`) or an EventBridge
    /// `Scheduled Event`. Answers what was sent; fails (and is retried by
    /// Lambda) when a registry cannot be read or a digest not published.
    pub async fn handle_digest(&self, event: Value) -> Result<Value, HandlerError> {
        scheduled(&event)?;
        let policy = self.policy.current().await?;
        let now = chrono::Utc::now();
        let region = self.config.region.clone().unwrap_or_default();
        let registries: Vec<ImageRef> = match &self.config.scope_account_ids {
            Some(accounts) => accounts.iter().map(|a| registry(a, &region)).collect(),
            None => vec![registry("", &region)],
        };
        let mut digests: BTreeMap<String, OwnerDigest> = BTreeMap::new();
        let mut images_read = 0u64;
        let mut findings_read = 0u64;
        for registry in &registries {
            let scan_type = self
                .source
                .scan_type(registry)
                .await
                .map_err(|e| digest_error(registry, e))?;
            let basic = scan_type == "BASIC";
            let repositories = self
                .source
                .repositories(registry)
                .await
                .map_err(|e| digest_error(registry, e))?;
            // Repositories side by side: each one's owner, images and the
            // findings it needs read into a partial digest, merged into its
            // owner's after.
            let reads: Vec<(String, OwnerDigest, u64, u64)> =
                futures_util::stream::iter(repositories)
                    .filter(|info| {
                        let covered = policy.skip_reason(&info.repository).is_none();
                        async move { covered }
                    })
                    .map(|info| {
                        let policy = &policy;
                        async move {
                            let owner = self.owner_of(&info.repository, policy).await;
                            let (partial, images, findings) = self
                                .read_repository(policy, &info, &owner.name, basic, now)
                                .await;
                            (owner.name, partial, images, findings)
                        }
                    })
                    .buffer_unordered(REPOSITORIES_AT_ONCE)
                    .collect()
                    .await;
            for (owner, partial, images, findings) in reads {
                images_read += images;
                findings_read += findings;
                digests
                    .entry(owner.clone())
                    .or_insert_with(|| OwnerDigest::new(&owner))
                    .merge(partial);
            }
        }
        let today = now.date_naive();
        let mut published = 0u64;
        let mut failures = Vec::new();
        for digest in digests.values_mut() {
            digest.add_exceptions(policy.allow_entries(), today);
            let ctx = DigestContext {
                threshold: policy.threshold(),
                sla: policy.sla(),
                image_days: self.config.digest_image_days as i64,
                stale_days: self.config.digest_stale_days as i64,
                scope: scope_phrase(&registries, &region),
                now: now.timestamp(),
            };
            let alert = digest_alert(digest, &ctx);
            match self.sink.publish(&alert).await {
                Ok(sent) => {
                    published += 1;
                    tracing::info!(outcome = "alerted", alert_kind = "digest", owner = %digest.owner, message_id = %sent.message_id, "digest published");
                }
                Err(error) => {
                    tracing::error!(owner = %digest.owner, %error, "digest not published");
                    failures.push(format!("{}: {error}", digest.owner));
                }
            }
        }
        self.emit_count("DigestsPublished", published);
        let summary = json!({
            "outcome": if failures.is_empty() { "digested" } else { "failed" },
            "owners": digests.len(),
            "published": published,
            "images": images_read,
            "images_with_findings_read": findings_read,
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

    /// One repository's part of its owner's digest: its current images,
    /// whether scanning watches them, and their open findings; with the
    /// images counted and those whose findings were read.
    async fn read_repository(
        &self,
        policy: &Policy,
        info: &RepositoryInfo,
        owner: &str,
        basic: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> (OwnerDigest, u64, u64) {
        let mut digest = OwnerDigest::new(owner);
        digest.add_repository(&info.repository);
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
        for mut image in images {
            if !digest::is_current(&image, stamp, self.config.digest_image_days as i64)
                || policy.skip_reason(&image.image).is_some()
            {
                continue;
            }
            images_read += 1;
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
            let unwatched = digest::unwatched(
                &image,
                info.scan_on_push,
                basic,
                stamp,
                self.config.digest_stale_days as i64,
            );
            let watched = unwatched.is_none();
            digest.add_image(&image.image, unwatched);
            if watched {
                findings_read += self
                    .open_findings(&mut digest, policy, &image, first, now)
                    .await;
            }
        }
        (digest, images_read, findings_read)
    }

    /// Reads the image's findings when its summary counts one at or above
    /// its threshold (or, without a summary, when `first`, the first page,
    /// was read already), and adds the alert-worthy ones to the digest; 1
    /// when read, 0 when not needed.
    async fn open_findings(
        &self,
        digest: &mut OwnerDigest,
        policy: &Policy,
        image: &ImageInfo,
        mut first: Option<crate::ports::FindingsPage>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> u64 {
        let image_policy = policy.for_image(&image.image, now.date_naive());
        if first.is_none() && !digest::reaches(&image.counts, image_policy.threshold) {
            return 0;
        }
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
                // Basic findings carry no first observation: the clock
                // starts at the push, which scan on push follows within
                // minutes (docs/digest.md, "Deadlines").
                let standing: Standing =
                    digest::standing(policy.sla(), &routed, image.pushed_at, now.timestamp());
                digest.add_open(&image.image, &routed, standing);
            }
            match page.next_token {
                Some(next) => token = Some(next),
                None => return 1,
            }
        }
    }
}

fn registry(account: &str, region: &str) -> ImageRef {
    ImageRef {
        account: account.to_string(),
        region: region.to_string(),
        ..ImageRef::default()
    }
}

fn scope_phrase(registries: &[ImageRef], region: &str) -> String {
    let accounts: Vec<&str> = registries
        .iter()
        .map(|r| r.account.as_str())
        .filter(|a| !a.is_empty())
        .collect();
    let accounts = if accounts.is_empty() {
        "this account".to_string()
    } else {
        format!("account(s) {}", accounts.join(", "))
    };
    if region.is_empty() {
        accounts
    } else {
        format!("{accounts}, region {region}")
    }
}

fn digest_error(registry: &ImageRef, error: SourceError) -> HandlerError {
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
/// an Amazon EventBridge rule that runs on a schedule").
fn scheduled(event: &Value) -> Result<(), EventError> {
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
    Ok(())
}
