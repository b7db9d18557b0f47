//! Findings of images in other accounts and regions of an organisation: the
//! central function assumes a read-only role in the image's account and asks
//! ECR in the image's region.

use super::ecr::EcrFindings;
use super::service_failure;
use crate::domain::image::ImageRef;
use crate::ports::BoxFuture;
use crate::ports::{FindingsPage, FindingsSource, SourceError};
use aws_sdk_ecr::config::{Credentials, Region};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Session credentials are renewed this long before they expire, so a call
/// never starts with credentials about to lapse.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// Names the function's sessions in the member accounts' CloudTrail.
const SESSION_NAME: &str = "ecr-scan-alerts";

/// The function's own account and partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Home {
    pub account: String,
    pub partition: String,
}

impl Home {
    /// Asks STS who the function is (once, at init).
    pub async fn from_sts(sts: &aws_sdk_sts::Client) -> Result<Home, String> {
        let me = sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| service_failure("STS", &e).to_string())?;
        let account = me
            .account
            .ok_or_else(|| "STS GetCallerIdentity returned no account".to_string())?;
        let partition = me
            .arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(1))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws")
            .to_string();
        Ok(Home { account, partition })
    }
}

struct Session {
    credentials: Credentials,
    renew_at: SystemTime,
}

/// A [`FindingsSource`] that reads each image where it lives.
///
/// - the function's own account, in its own region: the default client;
/// - the function's own account in another region: default credentials, the
///   image's region;
/// - another account, with a member role configured: that account's role
///   (assumed once, cached until shortly before it expires), the image's region;
/// - another account without a member role: the default client, as a
///   single-account stack does (ECR resolves the `registryId` itself).
pub struct AccountFindings {
    home: Home,
    default: EcrFindings,
    default_region: Option<String>,
    base: aws_sdk_ecr::Config,
    sts: aws_sdk_sts::Client,
    role_name: Option<String>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    clients: Mutex<HashMap<(String, String), Arc<EcrFindings>>>,
    /// Inspector's client configuration, when Inspector is read too.
    inspector: Option<aws_sdk_inspector2::Config>,
}

/// The reader of one image's account and region, and the member role it
/// acts as (`None`: the function's own credentials).
enum Reader<'a> {
    Default(&'a EcrFindings),
    Other(Arc<EcrFindings>, Option<&'a str>),
}

impl Reader<'_> {
    fn findings(&self) -> &EcrFindings {
        match self {
            Reader::Default(f) => f,
            Reader::Other(f, _) => f,
        }
    }

    fn note(&self, error: SourceError, account: &str) -> SourceError {
        match self {
            Reader::Other(_, Some(role)) => in_member_account(error, account, role),
            _ => error,
        }
    }
}

impl AccountFindings {
    /// `ecr` is the default client (its config is the base of the others).
    pub fn new(
        home: Home,
        ecr: aws_sdk_ecr::Client,
        sts: aws_sdk_sts::Client,
        role_name: Option<String>,
    ) -> AccountFindings {
        let base = ecr.config().clone();
        AccountFindings {
            home,
            default_region: base.region().map(|r| r.to_string()),
            default: EcrFindings::new(ecr),
            base,
            sts,
            role_name: role_name.filter(|n| !n.trim().is_empty()),
            sessions: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            inspector: None,
        }
    }

    /// Also reads what Amazon Inspector adds to enhanced findings, in each
    /// image's account and region as for ECR.
    pub fn with_inspector(mut self, inspector: aws_sdk_inspector2::Client) -> AccountFindings {
        self.inspector = Some(inspector.config().clone());
        self.default.set_inspector(inspector);
        self
    }

    async fn reader(&self, image: &ImageRef) -> Result<Reader<'_>, SourceError> {
        let role_name = match &self.role_name {
            Some(name) if !self.is_home(&image.account) => name,
            // This account (or no member role): the function's own
            // credentials, in the image's region.
            _ if self.is_default_region(&image.region) => {
                return Ok(Reader::Default(&self.default))
            }
            _ => {
                let client = self.client(&self.home.account, &image.region, None);
                return Ok(Reader::Other(client, None));
            }
        };
        let session = self.session(&image.account, role_name).await?;
        let client = self.client(&image.account, &image.region, Some(&session.credentials));
        Ok(Reader::Other(client, Some(role_name)))
    }

    /// The member role's ARN in `account`.
    pub fn role_arn(&self, account: &str, role_name: &str) -> String {
        format!(
            "arn:{}:iam::{account}:role/{role_name}",
            self.home.partition
        )
    }

    fn is_home(&self, account: &str) -> bool {
        account.is_empty() || account == self.home.account
    }

    fn is_default_region(&self, region: &str) -> bool {
        region.is_empty() || self.default_region.as_deref() == Some(region)
    }

    /// Valid credentials for the member role in `account`.
    async fn session(&self, account: &str, role_name: &str) -> Result<Arc<Session>, SourceError> {
        let now = SystemTime::now();
        if let Some(session) = lock(&self.sessions).get(account) {
            if session.renew_at > now {
                return Ok(session.clone());
            }
        }
        let role_arn = self.role_arn(account, role_name);
        let unavailable = |failure| SourceError::RoleUnavailable {
            account: account.to_string(),
            role: role_arn.clone(),
            failure,
        };
        let output = self
            .sts
            .assume_role()
            .role_arn(&role_arn)
            .role_session_name(SESSION_NAME)
            .send()
            .await
            .map_err(|e| unavailable(service_failure("STS", &e)))?;
        let Some(c) = output.credentials else {
            return Err(unavailable(crate::ports::ServiceFailure {
                service: "STS",
                code: "NoCredentials".into(),
                message: "AssumeRole returned no credentials".into(),
                transient: false,
            }));
        };
        let expires = SystemTime::try_from(c.expiration).unwrap_or(now);
        let session = Arc::new(Session {
            credentials: Credentials::new(
                c.access_key_id,
                c.secret_access_key,
                Some(c.session_token),
                Some(expires),
                "AssumeRole",
            ),
            renew_at: expires.checked_sub(RENEW_BEFORE).unwrap_or(now),
        });
        lock(&self.sessions).insert(account.to_string(), session.clone());
        // Clients built on the previous credentials are stale now.
        lock(&self.clients).retain(|(a, _), _| a != account);
        Ok(session)
    }

    /// The client to read `account`'s registry in `region` with `credentials`
    /// (`None`: the default credentials).
    fn client(
        &self,
        account: &str,
        region: &str,
        credentials: Option<&Credentials>,
    ) -> Arc<EcrFindings> {
        let key = (account.to_string(), region.to_string());
        if let Some(client) = lock(&self.clients).get(&key) {
            return client.clone();
        }
        let mut builder = self.base.to_builder();
        if !region.is_empty() {
            builder = builder.region(Region::new(region.to_string()));
        }
        if let Some(credentials) = credentials {
            builder = builder.credentials_provider(credentials.clone());
        }
        let mut findings = EcrFindings::new(aws_sdk_ecr::Client::from_conf(builder.build()));
        if let Some(base) = &self.inspector {
            let mut builder = base.to_builder();
            if !region.is_empty() {
                builder =
                    builder.region(aws_sdk_inspector2::config::Region::new(region.to_string()));
            }
            if let Some(credentials) = credentials {
                builder = builder.credentials_provider(credentials.clone());
            }
            findings =
                findings.with_inspector(aws_sdk_inspector2::Client::from_conf(builder.build()));
        }
        let client = Arc::new(findings);
        lock(&self.clients).insert(key, client.clone());
        client
    }
}

impl FindingsSource for AccountFindings {
    fn page<'a>(
        &'a self,
        image: &'a ImageRef,
        next_token: Option<&'a str>,
        count_below: Option<crate::domain::severity::Severity>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
        Box::pin(async move {
            let reader = self.reader(image).await?;
            reader
                .findings()
                .page(image, next_token, count_below)
                .await
                .map_err(|e| reader.note(e, &image.account))
        })
    }

    fn risk_signals<'a>(
        &'a self,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<crate::domain::risk::Signals, SourceError>> {
        Box::pin(async move {
            let reader = self.reader(image).await?;
            reader
                .findings()
                .risk_signals(image)
                .await
                .map_err(|e| reader.note(e, &image.account))
        })
    }

    fn repository_tag<'a>(
        &'a self,
        image: &'a ImageRef,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
        Box::pin(async move {
            let reader = self.reader(image).await?;
            reader
                .findings()
                .repository_tag(image, key)
                .await
                .map_err(|e| reader.note(e, &image.account))
        })
    }
}

impl crate::ports::RegistryListing for AccountFindings {
    fn scan_type<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<String, SourceError>> {
        Box::pin(async move {
            let reader = self.reader(registry).await?;
            reader
                .findings()
                .scan_type(registry)
                .await
                .map_err(|e| reader.note(e, &registry.account))
        })
    }

    /// Inspector's coverage of the registry's account and region, through
    /// the same reader as its ECR calls (the member role in a member
    /// account); `None` when no Inspector client is configured.
    fn coverage<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Option<crate::domain::coverage::RegistryCoverage>, SourceError>> {
        Box::pin(async move {
            if self.inspector.is_none() {
                return Ok(None);
            }
            let reader = self.reader(registry).await?;
            reader
                .findings()
                .coverage(registry)
                .await
                .map_err(|e| reader.note(e, &registry.account))
        })
    }

    fn repositories<'a>(
        &'a self,
        registry: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::digest::RepositoryInfo>, SourceError>> {
        Box::pin(async move {
            let reader = self.reader(registry).await?;
            reader
                .findings()
                .repositories(registry)
                .await
                .map_err(|e| reader.note(e, &registry.account))
        })
    }

    fn images<'a>(
        &'a self,
        repository: &'a ImageRef,
    ) -> BoxFuture<'a, Result<Vec<crate::domain::digest::ImageInfo>, SourceError>> {
        Box::pin(async move {
            let reader = self.reader(repository).await?;
            reader
                .findings()
                .images(repository)
                .await
                .map_err(|e| reader.note(e, &repository.account))
        })
    }
}

/// Says which account (and role) a failed call was made in: "repository not
/// found" alone does not tell that the role reads the wrong account.
fn in_member_account(error: SourceError, account: &str, role_name: &str) -> SourceError {
    let note = |mut f: crate::ports::ServiceFailure| {
        f.message = format!("{} (in account {account} as role {role_name})", f.message);
        f
    };
    match error {
        SourceError::ImageNotFound(f) => SourceError::ImageNotFound(note(f)),
        SourceError::ScanNotFound(f) => SourceError::ScanNotFound(note(f)),
        SourceError::Failed(f) => SourceError::Failed(note(f)),
        other => other,
    }
}

/// A poisoned lock only means another call panicked mid-update; the maps
/// hold nothing that could be half-written.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
