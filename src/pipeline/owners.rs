//! Reading repositories' owner tags, once per repository per cache period.
//!
//! A warm function keeps each repository's owner tag (its value, or that
//! it has none) for `OWNER_CACHE_SECONDS` (default 300), for at most
//! [`MAX_CACHED`] repositories: one `ListTagsForResource` per repository
//! per period, not per event. A read that fails (throttled, denied, the
//! member role not assumable) is not kept: the image is then resolved
//! without its tag (the policy's `owners`, else `unowned`), with a WARN,
//! and the alert still goes out.

use crate::domain::image::ImageRef;
use crate::domain::owner::{self, Owner, OwnerRule};
use crate::domain::storm::repository_key;
use crate::ports::FindingsSource;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Repositories whose owner tag a warm function keeps at most (a key of at
/// most about 300 bytes and a value of at most 256 each: under 2 MB).
pub const MAX_CACHED: usize = 4_096;

/// What went wrong with an image's owner tag (the owner then comes from
/// the policy, or is `unowned`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagProblem {
    /// The tags could not be read.
    Unreadable(String),
    /// The tag's value is no usable owner name.
    Invalid { value: String, problem: String },
}

/// The repositories' owner tags a warm function knows.
pub struct OwnerTags {
    key: String,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Option<String>)>>,
}

impl OwnerTags {
    pub fn new(key: impl Into<String>, ttl: Duration) -> OwnerTags {
        OwnerTags {
            key: key.into(),
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The tag key read.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn cached(&self, repository: &str, now: Instant) -> Option<Option<String>> {
        let cache = self.lock();
        let (at, value) = cache.get(repository)?;
        (now.duration_since(*at) < self.ttl).then(|| value.clone())
    }

    fn keep(&self, repository: String, value: Option<String>, now: Instant) {
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED && !cache.contains_key(&repository) {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| now.duration_since(*at) < ttl);
            if cache.len() >= MAX_CACHED {
                // Still full of fresh entries: start over rather than grow.
                cache.clear();
            }
        }
        cache.insert(repository, (now, value));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<String>)>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The owner of `image`: its repository's tag, else the first `rules`
    /// entry covering it, else `unowned`; and what went wrong with the tag.
    pub async fn owner_of<S: FindingsSource>(
        &self,
        source: &S,
        image: &ImageRef,
        rules: &[OwnerRule],
    ) -> (Owner, Option<TagProblem>) {
        let repository = repository_key(image);
        let now = Instant::now();
        let tag = match self.cached(&repository, now) {
            Some(value) => Ok(value),
            None => match source.repository_tag(image, &self.key).await {
                Ok(value) => {
                    self.keep(repository, value.clone(), now);
                    Ok(value)
                }
                Err(error) => Err(TagProblem::Unreadable(error.to_string())),
            },
        };
        match tag {
            Ok(value) => {
                let problem = value.as_deref().and_then(|v| {
                    owner::check_name(v)
                        .err()
                        .map(|problem| TagProblem::Invalid {
                            value: v.to_string(),
                            problem,
                        })
                });
                let owner = owner::resolve(
                    value.as_deref().map(|v| (self.key.as_str(), v)),
                    rules,
                    image,
                );
                (owner, problem)
            }
            Err(problem) => (owner::resolve(None, rules, image), Some(problem)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{BoxFuture, FindingsPage, ServiceFailure, SourceError};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A registry whose repositories carry `owner` tags; counts the reads.
    struct Tags {
        reads: AtomicUsize,
        fail: bool,
    }

    impl FindingsSource for Tags {
        fn page<'a>(
            &'a self,
            _image: &'a ImageRef,
            _next_token: Option<&'a str>,
            _count_below: Option<crate::domain::severity::Severity>,
        ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
            unreachable!("no findings are read")
        }

        fn repository_tag<'a>(
            &'a self,
            image: &'a ImageRef,
            _key: &'a str,
        ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            let fail = self.fail;
            Box::pin(async move {
                if fail {
                    return Err(SourceError::Failed(ServiceFailure {
                        service: "ECR",
                        code: "ThrottlingException".into(),
                        message: "Rate exceeded".into(),
                        transient: true,
                    }));
                }
                Ok(match image.repository.as_str() {
                    "pay/api" => Some("payments".to_string()),
                    "bad/api" => Some("<!channel>".to_string()),
                    _ => None,
                })
            })
        }
    }

    fn image(repository: &str, digest: &str) -> ImageRef {
        ImageRef {
            account: "111111111111".into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: digest.into(),
            tags: vec![],
        }
    }

    #[tokio::test]
    async fn one_read_per_repository_per_period() {
        let source = Tags {
            reads: AtomicUsize::new(0),
            fail: false,
        };
        let tags = OwnerTags::new("owner", Duration::from_secs(300));
        for digest in ["sha256:1", "sha256:2", "sha256:3"] {
            let (owner, problem) = tags.owner_of(&source, &image("pay/api", digest), &[]).await;
            assert_eq!(owner.phrase(), "payments (repository tag owner)");
            assert_eq!(problem, None);
        }
        let (owner, _) = tags.owner_of(&source, &image("web", "sha256:1"), &[]).await;
        assert_eq!(owner.name, "unowned");
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            2,
            "one read per repository"
        );

        let expired = OwnerTags::new("owner", Duration::ZERO);
        expired.owner_of(&source, &image("pay/api", "a"), &[]).await;
        expired.owner_of(&source, &image("pay/api", "b"), &[]).await;
        assert_eq!(
            source.reads.load(Ordering::SeqCst),
            4,
            "read again once expired"
        );
    }

    #[tokio::test]
    async fn a_bad_or_unreadable_tag_leaves_the_policy_or_unowned_and_says_why() {
        let rules = vec![OwnerRule {
            owner: "platform".into(),
            repository: Some(crate::domain::glob::Glob::new("bad/*")),
            account: None,
        }];
        let source = Tags {
            reads: AtomicUsize::new(0),
            fail: false,
        };
        let tags = OwnerTags::new("owner", Duration::from_secs(300));
        let (owner, problem) = tags.owner_of(&source, &image("bad/api", "a"), &rules).await;
        assert_eq!(owner.phrase(), "platform (policy owners[0])");
        assert!(
            matches!(problem, Some(TagProblem::Invalid { ref value, .. }) if value == "<!channel>")
        );

        let failing = Tags {
            reads: AtomicUsize::new(0),
            fail: true,
        };
        let (owner, problem) = tags.owner_of(&failing, &image("pay/api", "a"), &[]).await;
        assert_eq!(owner.name, "unowned");
        assert!(
            matches!(problem, Some(TagProblem::Unreadable(ref m)) if m.contains("ThrottlingException"))
        );
        // A failure is not kept: the next event reads again.
        tags.owner_of(&failing, &image("pay/api", "b"), &[]).await;
        assert_eq!(failing.reads.load(Ordering::SeqCst), 2);
    }
}
