//! Where the pipeline gets its policy: fixed from the environment, or a
//! document in a parameter store, cached per container for a short time so
//! a change applies without a redeploy.

use crate::domain::policy::{Policy, PolicyError};
use crate::domain::severity::Severity;
use crate::ports::{PolicySource, ServiceFailure};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum PolicyLoadError {
    #[error("reading the policy parameter `{name}`: {failure}")]
    Unreadable {
        name: String,
        #[source]
        failure: ServiceFailure,
    },
    #[error("the policy parameter `{name}` holds an {error}")]
    Invalid { name: String, error: PolicyError },
}

pub enum PolicyProvider {
    Fixed(Arc<Policy>),
    Parameter {
        source: Box<dyn PolicySource>,
        ttl: Duration,
        /// The threshold of a document that sets none, and where it is from.
        fallback: (Severity, &'static str),
        cache: Mutex<Option<(Instant, Arc<Policy>)>>,
    },
}

impl PolicyProvider {
    pub fn fixed(policy: Policy) -> PolicyProvider {
        PolicyProvider::Fixed(Arc::new(policy))
    }

    /// A document without a `threshold` of its own takes `fallback`.
    pub fn parameter(
        source: Box<dyn PolicySource>,
        ttl: Duration,
        fallback: (Severity, &'static str),
    ) -> PolicyProvider {
        PolicyProvider::Parameter {
            source,
            ttl,
            fallback,
            cache: Mutex::new(None),
        }
    }

    /// The policy in force. A document that cannot be read or is invalid is
    /// an error: never alert under a silently different policy.
    pub async fn current(&self) -> Result<Arc<Policy>, PolicyLoadError> {
        let PolicyProvider::Parameter {
            source,
            ttl,
            fallback,
            cache,
        } = self
        else {
            let PolicyProvider::Fixed(policy) = self else {
                unreachable!()
            };
            return Ok(policy.clone());
        };
        if let Ok(guard) = cache.lock() {
            if let Some((at, policy)) = guard.as_ref() {
                if at.elapsed() < *ttl {
                    return Ok(policy.clone());
                }
            }
        }
        let text = source
            .fetch()
            .await
            .map_err(|failure| PolicyLoadError::Unreadable {
                name: source.name().to_string(),
                failure,
            })?;
        let policy = Arc::new(
            Policy::from_document_or(&text, fallback.0, fallback.1).map_err(|error| {
                PolicyLoadError::Invalid {
                    name: source.name().to_string(),
                    error,
                }
            })?,
        );
        if let Ok(mut guard) = cache.lock() {
            *guard = Some((Instant::now(), policy.clone()));
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::Severity;
    use crate::ports::BoxFuture;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Doc {
        text: Mutex<String>,
        fetches: AtomicUsize,
    }

    impl PolicySource for Arc<Doc> {
        fn fetch(&self) -> BoxFuture<'_, Result<String, ServiceFailure>> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            let text = self.text.lock().unwrap().clone();
            Box::pin(async move { Ok(text) })
        }
        fn name(&self) -> &str {
            "/scan-alerts/policy"
        }
    }

    fn doc(text: &str) -> Arc<Doc> {
        Arc::new(Doc {
            text: Mutex::new(text.into()),
            fetches: AtomicUsize::new(0),
        })
    }

    #[tokio::test]
    async fn the_document_is_cached_for_the_ttl() {
        let source = doc(r#"{"version": 1, "threshold": "CRITICAL"}"#);
        let provider = PolicyProvider::parameter(
            Box::new(source.clone()),
            Duration::from_secs(60),
            (Severity::High, "the default"),
        );
        for _ in 0..3 {
            provider.current().await.unwrap();
        }
        assert_eq!(source.fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_zero_ttl_reads_every_time_and_sees_changes() {
        let source = doc(r#"{"version": 1, "threshold": "CRITICAL"}"#);
        let provider = PolicyProvider::parameter(
            Box::new(source.clone()),
            Duration::ZERO,
            (Severity::High, "the default"),
        );
        let image = crate::domain::image::ImageRef {
            account: "1".into(),
            region: "r".into(),
            repository: "a".into(),
            digest: "d".into(),
            tags: vec![],
        };
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let first = provider.current().await.unwrap();
        assert_eq!(first.for_image(&image, today).threshold, Severity::Critical);
        *source.text.lock().unwrap() = r#"{"version": 1, "threshold": "LOW"}"#.into();
        let second = provider.current().await.unwrap();
        assert_eq!(second.for_image(&image, today).threshold, Severity::Low);
    }

    #[tokio::test]
    async fn an_invalid_document_is_an_error_naming_the_parameter_and_field() {
        let provider = PolicyProvider::parameter(
            Box::new(doc(r#"{"version": 1, "allow": [{"id": "CVE-1"}]}"#)),
            Duration::from_secs(60),
            (Severity::High, "the default"),
        );
        let err = provider.current().await.unwrap_err().to_string();
        assert!(err.contains("/scan-alerts/policy"), "{err}");
        assert!(err.contains("allow[0]"), "{err}");
        assert!(err.contains("reason"), "{err}");
    }

    #[tokio::test]
    async fn a_document_without_a_threshold_takes_the_environments() {
        let image = crate::domain::image::ImageRef::sample("team/api", &[]);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap();
        let provider = PolicyProvider::parameter(
            Box::new(doc(
                r#"{"version": 1, "thresholds": [{"repository": "legacy/*", "threshold": "CRITICAL"}]}"#,
            )),
            Duration::from_secs(60),
            (Severity::Medium, "SEVERITY_THRESHOLD"),
        );
        let policy = provider.current().await.unwrap();
        let applied = policy.for_image(&image, today);
        assert_eq!(applied.threshold, Severity::Medium);
        assert_eq!(applied.threshold_origin, "SEVERITY_THRESHOLD");
        let legacy = crate::domain::image::ImageRef {
            repository: "legacy/app".into(),
            ..image.clone()
        };
        let applied = policy.for_image(&legacy, today);
        assert_eq!(applied.threshold, Severity::Critical);
        assert_eq!(
            applied.threshold_origin,
            "thresholds[0] of the policy document"
        );
        // The document's own threshold wins over the environment's.
        let provider = PolicyProvider::parameter(
            Box::new(doc(r#"{"version": 1, "threshold": "LOW"}"#)),
            Duration::from_secs(60),
            (Severity::Medium, "SEVERITY_THRESHOLD"),
        );
        let applied = provider
            .current()
            .await
            .unwrap()
            .for_image(&image, today)
            .threshold_origin;
        assert_eq!(applied, "the policy document");
    }
}
