//! The ways the pipeline talks to the outside: a source of scan findings, a
//! sink for alerts, the policy document, the dedup store and the registry's
//! scanning configuration. The adapters (`crate::adapters`) implement them;
//! tests can too. One style for all: each method returns a [`BoxFuture`],
//! so that every port can be held as a trait object or used generically.

use crate::domain::alert::Alert;
use crate::domain::finding::Finding;
use crate::domain::image::ImageRef;
use std::fmt;
use std::future::Future;

/// The scan's status as the registry reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanStatus {
    pub status: String,
    pub description: Option<String>,
}

/// One page of findings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FindingsPage {
    pub status: Option<ScanStatus>,
    pub findings: Vec<Finding>,
    pub next_token: Option<String>,
    /// When the scan completed (`imageScanCompletedAt`, seconds since the
    /// epoch), when ECR says.
    pub completed_at: Option<i64>,
    /// Whether the image runs, as the page's findings say (enhanced
    /// scanning); unknown otherwise.
    pub usage: crate::domain::risk::Usage,
    /// Basic findings below the threshold the source was told
    /// ([`FindingsSource::page`] with `count_below`), by severity: counted only.
    pub counted: crate::domain::severity::SeverityCounts,
}

/// A call to an AWS service that did not succeed, with the service's own
/// error code and message (a bare "service error" helps nobody).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceFailure {
    pub service: &'static str,
    pub code: String,
    pub message: String,
    /// Throttling, 5xx, timeouts, connection failures: worth retrying later.
    pub transient: bool,
}

impl fmt::Display for ServiceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.service, self.code, self.message)
    }
}

/// The end of an error chain: the service's own code and message.
impl std::error::Error for ServiceFailure {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The image was deleted between the scan and the call.
    #[error("image not found: {0}")]
    ImageNotFound(ServiceFailure),
    #[error("scan not found: {0}")]
    ScanNotFound(ServiceFailure),
    #[error("{0}")]
    Failed(ServiceFailure),
    /// The member role of the image's account could not be assumed.
    #[error("assuming role {role} in account {account}: {failure}")]
    RoleUnavailable {
        account: String,
        role: String,
        #[source]
        failure: ServiceFailure,
    },
}

pub trait FindingsSource: Send + Sync {
    /// One page of the image's findings; `next_token` from the previous page.
    /// With `count_below` (the policy's threshold), the basic findings below
    /// it will only be counted: a source may hand them over as counts by
    /// severity (`FindingsPage::counted`). Basic findings carry no signal
    /// that could raise them, and the policy reads nothing else of a
    /// finding below the threshold.
    fn page<'a>(
        &'a self,
        image: &'a ImageRef,
        next_token: Option<&'a str>,
        count_below: Option<crate::domain::severity::Severity>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>>;

    /// What Amazon Inspector adds to the image's enhanced findings (EPSS
    /// scores, usage). A source that cannot say answers nothing.
    fn risk_signals<'a>(
        &'a self,
        _image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<crate::domain::risk::Signals, SourceError>> {
        Box::pin(async { Ok(crate::domain::risk::Signals::default()) })
    }

    /// The value of the image's repository's tag `key` (ECR's
    /// `ListTagsForResource`): `None` when the repository has no such tag.
    /// A source that cannot say answers `None`.
    fn repository_tag<'a>(
        &'a self,
        _image: &'a ImageRef,
        _key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
        Box::pin(async { Ok(None) })
    }
}

/// A registry's repositories and images, as the digest reads them.
pub trait RegistryListing: Send + Sync {
    /// The repositories of the registry `registry` names (its account,
    /// empty for the caller's own, and region), every page.
    fn repositories<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::digest::RepositoryInfo>, SourceError>>;

    /// The images of `repository` with their scan summaries, every page.
    fn images<'a>(
        &'a self,
        repository: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::digest::ImageInfo>, SourceError>>;

    /// The registry's scan type, `BASIC` or `ENHANCED`.
    fn scan_type<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<String, SourceError>>;

    /// What Amazon Inspector says of the registry's images under enhanced
    /// scanning: its coverage (`ListCoverage`) and each image's findings by
    /// severity (`ListFindingAggregations`). `None`: the source does not
    /// read Inspector.
    fn coverage<'a>(
        &'a self,
        _registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Option<crate::domain::coverage::RegistryCoverage>, SourceError>> {
        Box::pin(async { Ok(None) })
    }
}

/// Message ids of a published alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub message_id: String,
    /// Set when a chat destination is configured.
    pub chat_message_id: Option<String>,
}

/// A publish that failed, and where it was going.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{destination}: {failure}")]
pub struct PublishError {
    pub destination: String,
    #[source]
    pub failure: ServiceFailure,
    /// The alert topic's message id when the alert topic got the alert and
    /// a later destination (the chat topic) failed.
    pub alert_topic_message_id: Option<String>,
}

pub trait AlertSink: Send + Sync {
    /// Publishes the alert to every configured destination.
    fn publish<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<Published, PublishError>>;

    /// Publishes to the chat destination alone (the alert topic already has
    /// this alert); `None` when no chat destination is configured.
    fn publish_chat<'a>(
        &'a self,
        alert: &'a Alert,
    ) -> BoxFuture<'a, Result<Option<String>, PublishError>>;
}

/// A boxed future, for the ports that are optional (held as trait objects).
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where the policy document lives (SSM Parameter Store in AWS).
pub trait PolicySource: Send + Sync {
    /// The document's text.
    fn fetch(&self) -> BoxFuture<'_, Result<String, ServiceFailure>>;
    /// Its name, for errors and logs.
    fn name(&self) -> &str;
}

/// Outcome of a conditional write to the dedup store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    Won,
    /// Someone else changed the record or holds the lease.
    Lost,
}

/// What was already alerted per image (DynamoDB in AWS).
pub trait DedupStore: Send + Sync {
    fn load<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::domain::dedup::Record>, ServiceFailure>>;
    /// The records of many keys at once (the images of a batch), by key;
    /// a key without a record is absent. One by one unless the store reads
    /// in batches.
    fn load_many<'a>(
        &'a self,
        keys: &'a [String],
    ) -> BoxFuture<
        'a,
        Result<std::collections::HashMap<String, crate::domain::dedup::Record>, ServiceFailure>,
    > {
        Box::pin(async move {
            let mut records = std::collections::HashMap::with_capacity(keys.len());
            for key in keys {
                if let Some(record) = self.load(key).await? {
                    records.insert(key.clone(), record);
                }
            }
            Ok(records)
        })
    }
    /// Takes the lease if the record is still at `version` (`None`: absent)
    /// and nobody else holds a live lease.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        version: Option<u64>,
        lease: &'a crate::domain::dedup::Lease,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>>;
    /// Gives the lease back without changing what was alerted (publish
    /// failed). `alert_topic_sent`: the [`Alert::content_id`] of an alert
    /// the alert topic got before a later destination failed, so that the
    /// retry publishes only what is missing.
    fn release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        alert_topic_sent: Option<u64>,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>>;
    /// Records what was alerted, bumps the version and drops the lease.
    fn commit<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        known: &'a crate::domain::dedup::Known,
        version: u64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>>;
}

/// The registry's scanning configuration (ECR `GetRegistryScanningConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryScanning {
    /// `BASIC` or `ENHANCED`.
    pub scan_type: String,
    pub rules: Vec<ScanningRule>,
}

/// A registry scanning rule: repositories matching any filter are scanned
/// at this frequency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanningRule {
    /// `SCAN_ON_PUSH`, `CONTINUOUS_SCAN` or `MANUAL`.
    pub frequency: String,
    /// Wildcard filters on repository names.
    pub filters: Vec<String>,
}

/// One repository's scanning configuration as the registry applies it
/// (ECR `BatchGetRepositoryScanningConfiguration`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryScanning {
    /// `SCAN_ON_PUSH`, `CONTINUOUS_SCAN` or `MANUAL`.
    pub frequency: String,
    pub scan_on_push: bool,
    /// The registry rules' filters that matched the repository.
    pub applied_filters: Vec<String>,
}

/// Where the scanning configuration can be read: lets the CI gate tell a
/// scan that has not started yet from one that never will.
pub trait ScanningConfigSource: Send + Sync {
    /// The caller's registry's scanning configuration.
    fn registry_scanning(&self) -> BoxFuture<'_, Result<RegistryScanning, ServiceFailure>>;
    /// The repository's scanning configuration in the caller's registry;
    /// `None` when the registry does not know the repository.
    fn repository_scanning<'a>(
        &'a self,
        repository: &'a str,
    ) -> BoxFuture<'a, Result<Option<RepositoryScanning>, ServiceFailure>>;
}

/// Why a scan could not be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartScanError {
    /// ECR starts a basic scan of an image at most once per 24 hours, scan
    /// on push included (`LimitExceededException`, ECR API reference,
    /// StartImageScan).
    #[error("{0}")]
    LimitExceeded(ServiceFailure),
    /// The registry or the image cannot be scanned on demand: enhanced
    /// scanning, or an image type ECR does not scan.
    #[error("{0}")]
    Unsupported(ServiceFailure),
    #[error("image not found: {0}")]
    ImageNotFound(ServiceFailure),
    #[error("{0}")]
    Failed(ServiceFailure),
}

/// Starts a basic scan of an image (ECR `StartImageScan`): the CI gate's
/// `--start-scan` and `--max-age`.
pub trait ScanStarter: Send + Sync {
    fn start_scan<'a>(&'a self, image: &'a ImageRef) -> BoxFuture<'a, Result<(), StartScanError>>;
}

/// A shared store is a store (the tests and the demo share one between
/// several pipelines).
impl<T: DedupStore + ?Sized> DedupStore for std::sync::Arc<T> {
    fn load<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::domain::dedup::Record>, ServiceFailure>> {
        (**self).load(key)
    }
    fn claim<'a>(
        &'a self,
        key: &'a str,
        version: Option<u64>,
        lease: &'a crate::domain::dedup::Lease,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>> {
        (**self).claim(key, version, lease, now)
    }
    fn release<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        alert_topic_sent: Option<u64>,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        (**self).release(key, owner, alert_topic_sent)
    }
    fn commit<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        known: &'a crate::domain::dedup::Known,
        version: u64,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        (**self).commit(key, owner, known, version, expires_at)
    }
}

/// A storm's counts in its window, as the store has them after a batch
/// added what it saw ([`StormStore::record`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StormState {
    /// Distinct images, repositories and accounts the vulnerability newly
    /// affects in the window; repositories as the store names them (for
    /// [`StormStore::repositories`]).
    pub images: u64,
    pub repositories: Vec<String>,
    pub accounts: u64,
    /// Whether the storm alert was claimed.
    pub alerted: bool,
    /// Images the last storm alert or follow-up said, and when (epoch s).
    pub said: u64,
    pub said_at: Option<i64>,
    /// The store holds no more images for this storm: `images` is a floor.
    pub full: bool,
}

/// Where CVE storms are counted across batches and concurrent invocations
/// (DynamoDB in AWS): distinct images per vulnerability and window, and
/// who alerts.
pub trait StormStore: Send + Sync {
    /// Adds the images one batch saw; the window's counts after, as one
    /// atomic update (concurrent batches lose no image, and an image
    /// delivered twice counts once).
    fn record<'a>(
        &'a self,
        key: &'a str,
        outbreak: &'a crate::domain::storm::Outbreak,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<StormState, ServiceFailure>>;
    /// Claims the storm alert, once per key, noting that it says `images`.
    fn claim_alert<'a>(
        &'a self,
        key: &'a str,
        images: u64,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>>;
    /// Gives the claim back (the alert could not be published).
    fn release_alert<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), ServiceFailure>>;
    /// Claims a follow-up saying `images`, if the last one said `said` and
    /// was sent at or before `not_after`.
    fn claim_follow_up<'a>(
        &'a self,
        key: &'a str,
        said: u64,
        images: u64,
        not_after: i64,
        now: i64,
    ) -> BoxFuture<'a, Result<Claim, ServiceFailure>>;
    /// Images and running images per repository key, for the repositories given.
    fn repositories<'a>(
        &'a self,
        key: &'a str,
        repositories: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<RepositoryStormCount>, ServiceFailure>>;
    /// Notes that a storm of `vulnerability` was alerted, until
    /// `expires_at`: its images' findings of it were alerted, once for all
    /// (the digest's "never alerted" asks).
    fn note_alerted<'a>(
        &'a self,
        _vulnerability: &'a str,
        _expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async { Ok(()) })
    }
    /// Of `vulnerabilities` (upper case), those a storm alert carried.
    fn alerted<'a>(
        &'a self,
        _vulnerabilities: &'a [String],
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, ServiceFailure>> {
        Box::pin(async { Ok(std::collections::HashSet::new()) })
    }
}

/// One repository of a storm in the store: its key
/// (`account|region|repository`), images, running images and owner (`None`
/// when recorded without one).
pub type RepositoryStormCount = (String, u64, u64, Option<String>);

/// What each owner's last digest left for the next (DynamoDB in AWS, the
/// dedup table): its time and its open findings' marks.
pub trait DigestStateStore: Send + Sync {
    /// The owner's last digest state; `None` before the first digest.
    fn load<'a>(
        &'a self,
        owner: &'a str,
    ) -> BoxFuture<'a, Result<Option<crate::domain::digest_state::DigestState>, ServiceFailure>>;
    /// Keeps `state` as the owner's last, until `expires_at`.
    fn save<'a>(
        &'a self,
        owner: &'a str,
        state: &'a crate::domain::digest_state::DigestState,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>>;
}

/// Where the posture reports are written (S3 in AWS): `reports/<date>/…`.
pub trait ReportStore: Send + Sync {
    /// The bucket's name, for the console link.
    fn bucket(&self) -> &str;
    /// Writes `body` at `key`.
    fn put<'a>(
        &'a self,
        key: &'a str,
        body: Vec<u8>,
        content_type: &'a str,
    ) -> BoxFuture<'a, Result<(), ServiceFailure>>;
    /// The dates (`YYYY-MM-DD`) of the folders under `reports/`, oldest
    /// first.
    fn report_dates(&self) -> BoxFuture<'_, Result<Vec<String>, ServiceFailure>>;
    /// The object at `key`; `None` when there is none.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, ServiceFailure>>;
}

/// The active accounts' ids, and the accounts left out with why.
pub type AccountList = (Vec<String>, Vec<(String, String)>);

/// The organisation's accounts (AWS Organizations in AWS).
pub trait AccountDirectory: Send + Sync {
    fn active_accounts(&self) -> BoxFuture<'_, Result<AccountList, ServiceFailure>>;
}

/// Fanned-out digest runs (DynamoDB in AWS, the dedup table): each run's
/// record, and the partials its registries reported.
pub trait DigestRunStore: Send + Sync {
    /// Records `run` unless it is recorded already (a retried schedule):
    /// `false` then.
    fn start<'a>(
        &'a self,
        run: &'a crate::domain::digest_run::DigestRun,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<bool, ServiceFailure>>;
    /// Run `run` as it stands; `None` when not recorded (or expired).
    fn load(
        &self,
        run: i64,
    ) -> BoxFuture<'_, Result<Option<crate::domain::digest_run::DigestRun>, ServiceFailure>>;
    /// Keeps `registry`'s partial (`Ok`: its bytes) or why it was not read
    /// (`Err`), and records that it reported; answers the run as it stands
    /// after.
    fn report<'a>(
        &'a self,
        run: i64,
        registry: &'a crate::domain::digest_run::Registry,
        outcome: Result<Vec<u8>, String>,
        expires_at: i64,
    ) -> BoxFuture<'a, Result<crate::domain::digest_run::DigestRun, ServiceFailure>>;
    /// The partial `registry` reported, whole.
    fn partial<'a>(
        &'a self,
        run: i64,
        registry: &'a crate::domain::digest_run::Registry,
        chunks: u32,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Vec<u8>, ServiceFailure>>;
    /// Marks the run assembled: `true` for exactly one caller.
    fn claim_assembly(&self, run: i64) -> BoxFuture<'_, Result<bool, ServiceFailure>>;
    /// Takes the claim back (the assembly failed): a later message
    /// assembles again.
    fn release_assembly(&self, run: i64) -> BoxFuture<'_, Result<(), ServiceFailure>>;
}

/// The digest's work queue (SQS in AWS): registries to read, and the
/// assembly.
pub trait WorkQueue: Send + Sync {
    /// Sends each message: its body, delayed this many seconds.
    fn send<'a>(
        &'a self,
        messages: &'a [(String, u32)],
    ) -> BoxFuture<'a, Result<(), ServiceFailure>>;
}
