//! What one digest remembers for the next: each open finding as a mark, so
//! that the next digest can say what is new, what was fixed, and whether it
//! was fixed within its deadline (docs/digest.md, "Since the last digest").
//!
//! A finding is counted once per repository (its vulnerability and
//! package), whatever the number of its images: a fix is a repository no
//! longer having it in any current image. A mark is 8 bytes; the marks are
//! stored in chunks of at most [`MARKS_PER_CHUNK`] (320 KB), so every item
//! stays under DynamoDB's 400 KB whatever the registry's size.

use crate::domain::finding::Finding;
use crate::domain::image::ImageRef;
use std::cmp::Ordering;

/// Marks per stored chunk: 40,000 × 8 bytes = 320 KB, under DynamoDB's
/// 400 KB item limit (Amazon DynamoDB Developer Guide, "Service, account,
/// and table quotas in Amazon DynamoDB") with room for the key.
pub const MARKS_PER_CHUNK: usize = 40_000;
const SEVERITY_BITS: u32 = 3;
const DUE_BITS: u32 = 16;
const IDENTITY_BITS: u32 = 64 - SEVERITY_BITS - DUE_BITS;
const DAY: i64 = 86_400;

/// One open finding of a repository: a 45-bit hash of (repository,
/// vulnerability, package), its severity rank, and its deadline as a day
/// number since 1970 (0: none).
pub fn mark(repository: &ImageRef, finding: &Finding, due: Option<i64>) -> u64 {
    let hash = crate::domain::dedup::fnv1a(&[
        &repository.account,
        &repository.region,
        &repository.repository,
        &finding.id.to_ascii_uppercase(),
        finding.package_name.as_deref().unwrap_or_default(),
    ]);
    let identity = hash >> (64 - IDENTITY_BITS);
    let day = due
        .map(|d| (d.div_euclid(DAY)).clamp(1, i64::from(u16::MAX)) as u64)
        .unwrap_or(0);
    (identity << (SEVERITY_BITS + DUE_BITS))
        | (crate::domain::dedup::severity_rank(finding.severity) << DUE_BITS)
        | day
}

fn identity(mark: u64) -> u64 {
    mark >> (SEVERITY_BITS + DUE_BITS)
}

fn due_day(mark: u64) -> Option<i64> {
    match mark & u64::from(u16::MAX) {
        0 => None,
        day => Some(day as i64),
    }
}

/// One digest's open findings for an owner, and when it was sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestState {
    /// When the digest was sent, epoch seconds.
    pub at: i64,
    /// One mark per open finding identity, sorted.
    marks: Vec<u64>,
}

impl DigestState {
    pub fn new(at: i64, mut marks: Vec<u64>) -> DigestState {
        marks.sort_unstable_by_key(|m| identity(*m));
        marks.dedup_by_key(|m| identity(*m));
        DigestState { at, marks }
    }

    pub fn len(&self) -> usize {
        self.marks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The marks in chunks of at most [`MARKS_PER_CHUNK`], 8 bytes each,
    /// big-endian; none when nothing is open.
    pub fn chunks(&self) -> Vec<Vec<u8>> {
        self.marks
            .chunks(MARKS_PER_CHUNK)
            .map(|part| part.iter().flat_map(|m| m.to_be_bytes()).collect())
            .collect()
    }

    /// The state read back from its chunks; `None` when a chunk is not a
    /// whole number of marks (a damaged item: no comparison is better than
    /// a wrong one).
    pub fn from_chunks(at: i64, chunks: &[Vec<u8>]) -> Option<DigestState> {
        let mut marks = Vec::new();
        for chunk in chunks {
            if chunk.len() % 8 != 0 {
                return None;
            }
            marks.extend(
                chunk
                    .chunks_exact(8)
                    .map(|b| u64::from_be_bytes(b.try_into().unwrap_or_default())),
            );
        }
        Some(DigestState::new(at, marks))
    }

    /// What changed from `previous` to this one.
    pub fn since(&self, previous: &DigestState) -> Changes {
        let mut changes = Changes {
            since: previous.at,
            ..Changes::default()
        };
        let (mut i, mut j) = (0, 0);
        let today = self.at.div_euclid(DAY);
        loop {
            let order = match (self.marks.get(i), previous.marks.get(j)) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(now), Some(before)) => identity(*now).cmp(&identity(*before)),
            };
            match order {
                Ordering::Equal => {
                    changes.still_open += 1;
                    i += 1;
                    j += 1;
                }
                Ordering::Less => {
                    changes.new += 1;
                    i += 1;
                }
                Ordering::Greater => {
                    let before = previous.marks[j];
                    changes.fixed += 1;
                    if let Some(due) = due_day(before) {
                        changes.fixed_with_deadline += 1;
                        // Fixed at some time since the last digest: only a
                        // deadline not passed by now is surely met.
                        if due >= today {
                            changes.fixed_in_time += 1;
                        }
                    }
                    j += 1;
                }
            }
        }
        changes
    }
}

/// New, fixed and still open since the last digest (per repository and
/// vulnerability).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changes {
    /// The last digest's time, epoch seconds.
    pub since: i64,
    pub new: u64,
    pub fixed: u64,
    pub still_open: u64,
    /// Of the fixed ones, those that had a deadline.
    pub fixed_with_deadline: u64,
    /// Of those, fixed before their deadline passed (counted at this
    /// digest's time: a fix after the deadline but before this digest
    /// counts as late).
    pub fixed_in_time: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::severity::Severity;

    fn repo(name: &str) -> ImageRef {
        ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository: name.into(),
            ..ImageRef::default()
        }
    }

    fn finding(id: &str, package: &str) -> Finding {
        let mut f = Finding::new(id, Severity::High);
        f.package_name = Some(package.into());
        f
    }

    const NOW: i64 = 1_796_000_000;

    #[test]
    fn new_fixed_and_still_open_are_counted_per_repository_and_vulnerability() {
        let api = repo("pay/api");
        let web = repo("pay/web");
        let before = DigestState::new(
            NOW - 7 * DAY,
            vec![
                mark(&api, &finding("CVE-1", "openssl"), Some(NOW + DAY)),
                mark(&api, &finding("CVE-2", "zlib"), Some(NOW - 3 * DAY)),
                mark(&web, &finding("CVE-1", "openssl"), None),
                mark(&api, &finding("CVE-3", "curl"), None),
            ],
        );
        let now = DigestState::new(
            NOW,
            vec![
                // Still open, in two images of the same repository: once.
                mark(&api, &finding("CVE-3", "curl"), None),
                mark(&api, &finding("cve-3", "curl"), None),
                // New: the same vulnerability in another package.
                mark(&api, &finding("CVE-3", "libcurl"), None),
            ],
        );
        let changes = now.since(&before);
        assert_eq!(changes.still_open, 1);
        assert_eq!(changes.new, 1);
        assert_eq!(changes.fixed, 3);
        assert_eq!(changes.fixed_with_deadline, 2);
        // CVE-1 in pay/api was due tomorrow: in time; CVE-2 was 3 days late.
        assert_eq!(changes.fixed_in_time, 1);
        assert_eq!(changes.since, NOW - 7 * DAY);
    }

    #[test]
    fn state_survives_its_chunks_and_every_chunk_fits_an_item() {
        let api = repo("pay/api");
        let marks: Vec<u64> = (0..100_001)
            .map(|i| mark(&api, &finding(&format!("CVE-{i}"), "p"), Some(NOW)))
            .collect();
        let state = DigestState::new(NOW, marks);
        let chunks = state.chunks();
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.len() <= 320_000));
        let back = DigestState::from_chunks(NOW, &chunks).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.since(&state).still_open, state.len() as u64);
        assert!(DigestState::new(NOW, vec![]).chunks().is_empty());
        assert_eq!(
            DigestState::from_chunks(NOW, &[]),
            Some(DigestState::new(NOW, vec![]))
        );
        assert_eq!(DigestState::from_chunks(NOW, &[vec![1, 2, 3]]), None);
    }
}
