//! CVE storms: when a widely used package gets a new CVE, Amazon Inspector
//! re-evaluates every image carrying it and sends one `Inspector2 Finding`
//! event per image within minutes. A vulnerability newly affecting more
//! than `STORM_THRESHOLD` images within a window is one storm: one alert
//! for it, not one per image, and per-image alerts leave it out.
//!
//! Here: what one batch saw of each vulnerability ([`Outbreak`]), the
//! window ([`window_start`]), the identities the store counts (image and
//! repository keys), and what a storm alert is drawn from ([`StormReport`]).

use crate::domain::finding::Finding;
use crate::domain::image::ImageRef;
use crate::domain::risk::{self, InUse};
use crate::domain::severity::Severity;
use std::collections::{BTreeMap, BTreeSet};

/// One image the vulnerability newly affects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub image: ImageRef,
    /// Running now, as Inspector's event says (`None`: nobody says).
    pub running: Option<bool>,
}

/// What one batch saw of one vulnerability: the worst of its findings (the
/// severity the policy routes it at, the highest score and EPSS, a known
/// exploit in any), and the distinct images it is in.
#[derive(Debug, Clone)]
pub struct Outbreak {
    pub id: String,
    pub finding: Finding,
    pub hits: Vec<Hit>,
    /// The owner of each repository (by [`repository_key`]) of its images.
    pub owners: BTreeMap<String, String>,
}

impl Outbreak {
    /// The store's identities of its images (see [`image_hash`]).
    pub fn image_hashes(&self) -> Vec<String> {
        self.hits.iter().map(|h| image_hash(&h.image)).collect()
    }

    /// Its images by repository key ([`repository_key`]), each with the
    /// hashes of its images and of those running.
    pub fn by_repository(&self) -> BTreeMap<String, (Vec<String>, Vec<String>)> {
        let mut out: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for hit in &self.hits {
            let entry = out.entry(repository_key(&hit.image)).or_default();
            let hash = image_hash(&hit.image);
            if hit.running == Some(true) {
                entry.1.push(hash.clone());
            }
            entry.0.push(hash);
        }
        out
    }

    pub fn accounts(&self) -> BTreeSet<String> {
        self.hits.iter().map(|h| h.image.account.clone()).collect()
    }

    /// The owner of the repository `key` ([`repository_key`]).
    pub fn owner_of(&self, key: &str) -> Option<&str> {
        self.owners.get(key).map(String::as_str)
    }
}

/// Adds each image's alert-worthy findings (as the policy routed them) to
/// the outbreaks, by vulnerability id (upper case), with the image's owner.
pub fn add_image(
    outbreaks: &mut BTreeMap<String, Outbreak>,
    image: &ImageRef,
    owner: &str,
    in_use: InUse,
    findings: &[Finding],
) {
    let running = match in_use {
        InUse::Unknown => None,
        InUse::Running(_) => Some(true),
        InUse::NotRunning { .. } => Some(false),
    };
    for finding in findings {
        let id = finding.id.to_ascii_uppercase();
        let outbreak = outbreaks.entry(id.clone()).or_insert_with(|| Outbreak {
            id,
            finding: finding.clone(),
            hits: Vec::new(),
            owners: BTreeMap::new(),
        });
        outbreak
            .owners
            .entry(repository_key(image))
            .or_insert_with(|| owner.to_string());
        let worst = &mut outbreak.finding;
        if finding.severity > worst.severity {
            worst.severity = finding.severity;
        }
        worst.score = max(worst.score, finding.score);
        worst.epss = max(worst.epss, finding.epss);
        if finding.exploit_available == Some(true) || worst.exploit_available.is_none() {
            worst.exploit_available = finding.exploit_available.or(worst.exploit_available);
        }
        if worst.fixed_in.is_none() {
            worst.fixed_in.clone_from(&finding.fixed_in);
        }
        if !outbreak.hits.iter().any(|h| {
            h.image.digest == image.digest
                && h.image.repository == image.repository
                && h.image.account == image.account
        }) {
            outbreak.hits.push(Hit {
                image: image.clone(),
                running,
            });
        }
    }
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// The start of the window `now` falls in (epoch seconds): windows are
/// fixed slices of `minutes`, the same for every invocation.
pub fn window_start(now: i64, minutes: u64) -> i64 {
    let length = (minutes.max(1) * 60) as i64;
    now - now.rem_euclid(length)
}

/// The store's key of one vulnerability's storm in one window.
pub fn storm_key(id: &str, window_start: i64) -> String {
    format!("storm#{}#{window_start}", id.to_ascii_uppercase())
}

/// An image's identity in the store: 12 hex digits (48 bits) of a hash of
/// its account, region, repository and digest, so that 5,000 images fit
/// one item (DynamoDB's 400 KB) with room to spare.
pub fn image_hash(image: &ImageRef) -> String {
    short_hash(&crate::domain::dedup::image_key(image))
}

/// A repository key ([`repository_key`]) as 12 hex digits: what a storm's
/// item holds of each repository, so that its size does not grow with the
/// names' length (up to 256 characters each).
pub fn repository_hash(key: &str) -> String {
    short_hash(key)
}

/// FNV-1a, 48 bits as 12 hex digits.
fn short_hash(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:012x}", hash >> 16)
}

/// A repository's identity: `account|region|repository`.
pub fn repository_key(image: &ImageRef) -> String {
    format!("{}|{}|{}", image.account, image.region, image.repository)
}

/// The repository a [`repository_key`] names (an image of it without
/// digest or tags).
pub fn repository_of(key: &str) -> Option<ImageRef> {
    let mut parts = key.splitn(3, '|');
    let (account, region, repository) = (parts.next()?, parts.next()?, parts.next()?);
    Some(ImageRef {
        account: account.to_string(),
        region: region.to_string(),
        repository: repository.to_string(),
        digest: String::new(),
        tags: Vec::new(),
    })
}

/// One repository of a storm: how many of its images it affects, and how
/// many of those run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryCount {
    pub repository: ImageRef,
    pub images: u64,
    pub running: u64,
    /// Its owner as the storm recorded it (`None`: recorded by an earlier
    /// version, which kept no owner).
    pub owner: Option<String>,
}

/// Which storm alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StormAlert {
    /// The first: the threshold was passed.
    Started,
    /// A follow-up: `previous` images were said before.
    Grew { previous: u64 },
}

/// What a storm alert is drawn from.
#[derive(Debug, Clone)]
pub struct StormReport {
    pub which: StormAlert,
    pub finding: Finding,
    /// Images in the window, and the repositories and accounts they are in.
    pub images: u64,
    /// `images` is a floor: the store counts no further.
    pub at_least: bool,
    pub accounts: u64,
    /// Most affected first, those with running images first.
    pub repositories: Vec<RepositoryCount>,
    /// The repositories counted in all (the list may be shorter).
    pub repository_total: u64,
    pub threshold: u64,
    pub window_start: i64,
    pub window_minutes: u64,
    pub summary_minutes: u64,
}

impl StormReport {
    /// `true` when an image of the storm runs, `false` when all are known
    /// not to, `unknown` otherwise (the `in_use` attribute).
    pub fn in_use_attribute(&self) -> &'static str {
        if self.repositories.iter().any(|r| r.running > 0) {
            risk::TRUE
        } else {
            risk::UNKNOWN
        }
    }

    /// The severity the storm routes at.
    pub fn severity(&self) -> Severity {
        self.finding.severity
    }

    /// The owners of its repositories with their images, most images
    /// first (then by name); a repository recorded without an owner counts
    /// as [`crate::domain::owner::UNOWNED`].
    pub fn owners(&self) -> Vec<(String, u64)> {
        let mut by_owner: BTreeMap<&str, u64> = BTreeMap::new();
        for repo in &self.repositories {
            let owner = repo
                .owner
                .as_deref()
                .unwrap_or(crate::domain::owner::UNOWNED);
            *by_owner.entry(owner).or_default() += repo.images;
        }
        let mut out: Vec<(String, u64)> = by_owner
            .into_iter()
            .map(|(owner, images)| (owner.to_string(), images))
            .collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// Orders repositories as the storm alert lists them: those with running
/// images first (most running first), then the most affected, then by name.
pub fn rank_repositories(repositories: &mut [RepositoryCount]) {
    repositories.sort_by(|a, b| {
        b.running
            .cmp(&a.running)
            .then(b.images.cmp(&a.images))
            .then_with(|| a.repository.repository.cmp(&b.repository.repository))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(account: &str, repository: &str, digest: char) -> ImageRef {
        ImageRef {
            account: account.into(),
            region: "us-east-1".into(),
            repository: repository.into(),
            digest: format!("sha256:{}", digest.to_string().repeat(64)),
            tags: vec!["v1".into()],
        }
    }

    #[test]
    fn a_batch_folds_each_vulnerability_over_its_distinct_images() {
        let mut outbreaks = BTreeMap::new();
        let mut glibc = Finding::new("cve-2026-1", Severity::High);
        glibc.score = Some(7.5);
        let mut exploited = Finding::new("CVE-2026-1", Severity::Critical);
        exploited.exploit_available = Some(true);
        exploited.epss = Some(0.9);
        add_image(
            &mut outbreaks,
            &image("111111111111", "a", 'a'),
            "payments",
            InUse::Running(2),
            &[glibc.clone()],
        );
        add_image(
            &mut outbreaks,
            &image("222222222222", "b", 'b'),
            "search",
            InUse::Unknown,
            &[exploited],
        );
        add_image(
            &mut outbreaks,
            &image("111111111111", "a", 'a'),
            "payments",
            InUse::Running(2),
            &[glibc],
        );
        let storm = &outbreaks["CVE-2026-1"];
        assert_eq!(storm.hits.len(), 2, "the same image twice counts once");
        assert_eq!(storm.finding.severity, Severity::Critical);
        assert_eq!(storm.finding.exploit_available, Some(true));
        assert_eq!(
            (storm.finding.score, storm.finding.epss),
            (Some(7.5), Some(0.9))
        );
        assert_eq!(storm.accounts().len(), 2);
        let repos = storm.by_repository();
        assert_eq!(repos["111111111111|us-east-1|a"].1.len(), 1, "running");
        assert_eq!(repos["222222222222|us-east-1|b"].1.len(), 0);
        assert_eq!(storm.owner_of("111111111111|us-east-1|a"), Some("payments"));
        assert_eq!(storm.owner_of("222222222222|us-east-1|b"), Some("search"));
    }

    #[test]
    fn windows_are_fixed_slices_and_keys_are_stable() {
        assert_eq!(window_start(7_205, 60), 7_200);
        assert_eq!(window_start(7_199, 60), 3_600);
        assert_eq!(storm_key("cve-2026-1", 3_600), "storm#CVE-2026-1#3600");
        let a = image("111111111111", "team/api", 'a');
        assert_eq!(image_hash(&a).len(), 12);
        assert_ne!(
            image_hash(&a),
            image_hash(&image("111111111111", "team/api", 'b'))
        );
        let key = repository_key(&a);
        assert_eq!(key, "111111111111|us-east-1|team/api");
        assert_eq!(repository_of(&key).unwrap().repository, "team/api");
    }

    #[test]
    fn running_repositories_come_first() {
        let repo = |name: &str, images, running| RepositoryCount {
            repository: image("111111111111", name, 'a'),
            images,
            running,
            owner: None,
        };
        let mut list = vec![
            repo("big", 50, 0),
            repo("live", 3, 2),
            repo("small", 1, 0),
            repo("also", 50, 0),
        ];
        rank_repositories(&mut list);
        let names: Vec<_> = list
            .iter()
            .map(|r| r.repository.repository.as_str())
            .collect();
        assert_eq!(names, ["live", "also", "big", "small"]);
    }
}
