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

/// Fanned-out digest runs in memory, with the DynamoDB adapter's rules (a
/// run recorded once, reports kept with their partials, the assembly
/// claimed once): for the tests. Clones share the runs.
#[derive(Debug, Default, Clone)]
pub struct MemoryDigestRuns(std::sync::Arc<Mutex<MemoryRuns>>);

#[derive(Debug, Default)]
struct MemoryRuns {
    runs: HashMap<i64, crate::domain::digest_run::DigestRun>,
    partials: HashMap<(i64, String, String), Vec<u8>>,
}

impl MemoryDigestRuns {
    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryRuns> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `run` as the next load would see it.
    pub fn run(&self, run: i64) -> Option<crate::domain::digest_run::DigestRun> {
        self.lock().runs.get(&run).cloned()
    }
}

fn no_run(run: i64) -> ServiceFailure {
    ServiceFailure {
        service: "memory",
        code: "DigestRunNotFound".into(),
        message: format!("run {run} is not recorded"),
        transient: false,
    }
}

impl crate::ports::DigestRunStore for MemoryDigestRuns {
    fn start<'a>(
        &'a self,
        run: &'a crate::domain::digest_run::DigestRun,
        _expires_at: i64,
    ) -> BoxFuture<'a, Result<bool, ServiceFailure>> {
        let mut runs = self.lock();
        let fresh = !runs.runs.contains_key(&run.run);
        if fresh {
            runs.runs.insert(run.run, run.clone());
        }
        Box::pin(async move { Ok(fresh) })
    }

    fn load(
        &self,
        run: i64,
    ) -> BoxFuture<'_, Result<Option<crate::domain::digest_run::DigestRun>, ServiceFailure>> {
        let found = self.run(run);
        Box::pin(async move { Ok(found) })
    }

    fn report<'a>(
        &'a self,
        run: i64,
        registry: &'a crate::domain::digest_run::Registry,
        outcome: Result<Vec<u8>, String>,
        _expires_at: i64,
    ) -> BoxFuture<'a, Result<crate::domain::digest_run::DigestRun, ServiceFailure>> {
        use crate::domain::digest_run::Reported;
        let mut runs = self.lock();
        let token = format!("t{}", runs.partials.len());
        let reported = match outcome {
            Ok(bytes) => {
                runs.partials
                    .insert((run, registry.key(), token.clone()), bytes);
                Reported::Read { chunks: 1, token }
            }
            Err(why) => Reported::Failed(why),
        };
        let answer = match runs.runs.get_mut(&run) {
            Some(record) => {
                record.reported.insert(registry.key(), reported);
                Ok(record.clone())
            }
            None => Err(no_run(run)),
        };
        Box::pin(async move { answer })
    }

    fn partial<'a>(
        &'a self,
        run: i64,
        registry: &'a crate::domain::digest_run::Registry,
        _chunks: u32,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, ServiceFailure>> {
        let bytes = self
            .lock()
            .partials
            .get(&(run, registry.key(), token.to_string()))
            .cloned()
            .ok_or_else(|| no_run(run));
        Box::pin(async move { bytes })
    }

    fn claim_assembly(&self, run: i64) -> BoxFuture<'_, Result<bool, ServiceFailure>> {
        let claimed = match self.lock().runs.get_mut(&run) {
            Some(record) if !record.assembled => {
                record.assembled = true;
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Err(no_run(run)),
        };
        Box::pin(async move { claimed })
    }

    fn release_assembly(&self, run: i64) -> BoxFuture<'_, Result<(), ServiceFailure>> {
        if let Some(record) = self.lock().runs.get_mut(&run) {
            record.assembled = false;
        }
        Box::pin(async move { Ok(()) })
    }
}
