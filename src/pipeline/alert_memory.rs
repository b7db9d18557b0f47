//! Only-new alerts as a service of its own: what was alerted per image (in
//! a [`DedupStore`]: DynamoDB in AWS, [`crate::adapters::memory_store`] in tests),
//! the lease that makes concurrent deliveries give one alert, and the note
//! that the alert topic already has an alert whose chat publish failed.
//! Without a store every call publishes.

use crate::domain::alert::Alert;
use crate::domain::dedup::{self, Known, Lease, Record};
use crate::domain::image::ImageRef;
use crate::ports::{Claim, DedupStore, Published, ServiceFailure};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// How long an invocation may hold an image's alert lease: longer than the
/// function's timeout, so a live publisher is never overtaken.
const LEASE_SECONDS: i64 = 120;
/// How long what was alerted is remembered.
const RETENTION_DAYS: i64 = 180;

/// Why the memory could not be used.
#[derive(Debug)]
pub enum MemoryError {
    /// The store failed.
    Store(ServiceFailure),
    /// Another invocation holds the image's lease: it is alerting now.
    InProgress,
}

/// A publish under the memory failed: the memory, or the publish itself.
#[derive(Debug)]
pub enum PublishOnceError<E> {
    Memory(MemoryError),
    Publish(E),
}

/// What the publish step is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Every destination.
    All,
    /// The chat destination only: the alert topic has this alert already.
    ChatOnly,
}

#[derive(Default)]
pub struct AlertMemory {
    store: Option<Box<dyn DedupStore>>,
    /// Leases taken so far: part of each lease owner's name.
    leases: AtomicU64,
}

impl AlertMemory {
    /// No memory: every event alerts.
    pub fn off() -> AlertMemory {
        AlertMemory::default()
    }

    /// Whether what was alerted is remembered (a dedup store is set).
    pub fn is_on(&self) -> bool {
        self.store.is_some()
    }

    pub fn with_store(store: Box<dyn DedupStore>) -> AlertMemory {
        AlertMemory {
            store: Some(store),
            leases: AtomicU64::new(0),
        }
    }

    /// What was alerted for the image; an error while another invocation
    /// holds its live lease.
    pub async fn recall(&self, image: &ImageRef) -> Result<Option<Record>, MemoryError> {
        let Some(store) = &self.store else {
            return Ok(None);
        };
        let record = store
            .load(&dedup::image_key(image))
            .await
            .map_err(MemoryError::Store)?;
        if let Some(lease) = record.as_ref().and_then(|r| r.lease.as_ref()) {
            if lease.until > now_seconds() {
                return Err(MemoryError::InProgress);
            }
        }
        Ok(record)
    }

    /// What was alerted for each of `images` (a batch's), read at once
    /// where the store can (DynamoDB `BatchGetItem`), by image key; each as
    /// [`AlertMemory::recall`] gives it (an image whose live lease another
    /// invocation holds is `InProgress`). An error of the read itself is
    /// the store's: the caller may read one by one instead.
    pub async fn recall_many(
        &self,
        images: &[&ImageRef],
    ) -> Result<
        std::collections::HashMap<String, Result<Option<Record>, MemoryError>>,
        ServiceFailure,
    > {
        let Some(store) = &self.store else {
            return Ok(images
                .iter()
                .map(|i| (dedup::image_key(i), Ok(None)))
                .collect());
        };
        let keys: Vec<String> = images.iter().map(|i| dedup::image_key(i)).collect();
        let mut records = store.load_many(&keys).await?;
        let now = now_seconds();
        Ok(keys
            .into_iter()
            .map(|key| {
                let recalled = match records.remove(&key) {
                    Some(record) if record.lease.as_ref().is_some_and(|l| l.until > now) => {
                        Err(MemoryError::InProgress)
                    }
                    other => Ok(other),
                };
                (key, recalled)
            })
            .collect())
    }

    /// Publishes `alert` through `publish` under the image's lease: two
    /// concurrent deliveries give one alert; a failed publish gives the
    /// lease back (noting when the alert topic got the alert before a later
    /// destination failed) so that the retry publishes what is missing; a
    /// publish that went out records `alerted` as known.
    /// `publish` answers the publish's error and whether the alert topic
    /// got the alert anyway.
    pub async fn publish_once<F, Fut, E>(
        &self,
        image: &ImageRef,
        record: Option<&Record>,
        known: &Known,
        alerted: &[u64],
        alert: &Alert,
        publish: F,
    ) -> Result<Published, PublishOnceError<E>>
    where
        F: FnOnce(Delivery) -> Fut,
        Fut: Future<Output = Result<Published, (E, bool)>>,
    {
        let Some(store) = &self.store else {
            return publish(Delivery::All)
                .await
                .map_err(|(error, _)| PublishOnceError::Publish(error));
        };
        let key = dedup::image_key(image);
        let now = now_seconds();
        let lease = Lease {
            owner: lease_owner(self.leases.fetch_add(1, Ordering::Relaxed)),
            until: now + LEASE_SECONDS,
        };
        let version = record.map(|r| r.version).filter(|v| *v > 0);
        // The alert topic got this very alert on an earlier try whose chat
        // publish failed: publish only what is missing.
        let content_id = alert.content_id();
        let chat_only = record.and_then(|r| r.alert_topic_sent) == Some(content_id);
        let claim = store
            .claim(&key, version, &lease, now)
            .await
            .map_err(|f| PublishOnceError::Memory(MemoryError::Store(f)))?;
        if claim == Claim::Lost {
            return Err(PublishOnceError::Memory(MemoryError::InProgress));
        }
        let delivery = if chat_only {
            tracing::info!(repository = %image.repository, digest = %image.digest, "the alert topic has this alert already; publishing to chat only");
            Delivery::ChatOnly
        } else {
            Delivery::All
        };
        let published = match publish(delivery).await {
            Ok(published) => published,
            Err((error, alert_topic_sent)) => {
                let sent = (chat_only || alert_topic_sent).then_some(content_id);
                if let Err(failure) = store.release(&key, &lease.owner, sent).await {
                    tracing::warn!(%failure, "could not give back the alert lease; it expires by itself");
                }
                return Err(PublishOnceError::Publish(error));
            }
        };
        let remembered = known.merged(alerted);
        let expires_at = now + RETENTION_DAYS * 86_400;
        if let Err(failure) = store
            .commit(
                &key,
                &lease.owner,
                &remembered,
                version.unwrap_or(0) + 1,
                expires_at,
            )
            .await
        {
            // The alert went out; at worst a later delivery repeats it.
            tracing::warn!(%failure, "alert sent but not recorded for dedup");
        }
        Ok(published)
    }
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A lease owner unique to this process and call (`call`: this memory's
/// count of leases).
fn lease_owner(call: u64) -> String {
    format!(
        "{}-{}-{call}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default(),
    )
}
