//! The dedup store in memory: the same rules as the DynamoDB adapter
//! (conditional claim on version and lease, release, commit), for the tests
//! and anything else that runs the pipeline without AWS.

use crate::domain::dedup::{Known, Lease, Record};
use crate::ports::{BoxFuture, Claim, DedupStore, ServiceFailure};
use std::collections::HashMap;
use std::sync::Mutex;

/// The dedup store's rules (those of the DynamoDB adapter: conditional
/// claim on version and lease, release, commit), in memory: the twin the
/// tests and the demo use.
#[derive(Debug, Default)]
pub struct MemoryStore(Mutex<HashMap<String, Record>>);

impl MemoryStore {
    /// The record of `key`, as the next load would see it.
    pub fn record(&self, key: &str) -> Option<Record> {
        self.0.lock().ok()?.get(key).cloned()
    }
}

impl MemoryStore {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Record>> {
        // A poisoned lock still holds consistent records: every change is
        // one assignment.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl DedupStore for MemoryStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Record>, ServiceFailure>> {
        let record = self.lock().get(key).cloned();
        Box::pin(async move { Ok(record) })
    }
    fn claim<'a>(
        &'a self,
        key: &'a str,
        version: Option<u64>,
        lease: &'a Lease,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>> {
        let mut map = self.lock();
        let record = map.entry(key.to_string()).or_default();
        let version_ok = match version {
            Some(v) => record.version == v,
            None => record.version == 0,
        };
        let free = record.lease.as_ref().is_none_or(|l| l.until < now);
        let claim = if version_ok && free {
            record.lease = Some(lease.clone());
            Claim::Won
        } else {
            Claim::Lost
        };
        Box::pin(async move { Ok(claim) })
    }
    fn release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        alert_topic_sent: Option<u64>,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        if let Some(r) = self.lock().get_mut(key) {
            if r.lease.as_ref().is_some_and(|l| l.owner == owner) {
                r.lease = None;
                r.alert_topic_sent = alert_topic_sent;
            }
        }
        Box::pin(async { Ok(()) })
    }
    fn commit<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        known: &'a Known,
        version: u64,
        _expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        if let Some(r) = self.lock().get_mut(key) {
            if r.lease.as_ref().is_some_and(|l| l.owner == owner) {
                r.known = known.clone();
                r.version = version;
                r.lease = None;
                r.alert_topic_sent = None;
            }
        }
        Box::pin(async { Ok(()) })
    }
}

/// The digest state in memory, for the tests and the demo.
#[derive(Debug, Default)]
pub struct MemoryDigestState(Mutex<HashMap<String, crate::domain::digest_state::DigestState>>);

impl crate::ports::DigestStateStore for MemoryDigestState {
    fn load<'a>(
        &'a self,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::domain::digest_state::DigestState>, ServiceFailure>>
    {
        let state = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(owner)
            .cloned();
        Box::pin(async move { Ok(state) })
    }

    fn save<'a>(
        &'a self,
        owner: &'a str,
        state: &'a crate::domain::digest_state::DigestState,
        _expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(owner.to_string(), state.clone());
        Box::pin(async move { Ok(()) })
    }
}
