//! Only-new findings: what was already alerted for an image, kept as a
//! compact set of fingerprints (6 bytes a finding) so that even 60,000
//! alert-worthy findings fit in one DynamoDB item (400 KB).

use crate::domain::finding::Finding;
use crate::domain::image::ImageRef;
use crate::domain::severity::Severity;

/// Fingerprints kept per image at most: 60,000 × 6 bytes = 360 KB, under
/// DynamoDB's 400 KB item limit with room for the other attributes. Past it,
/// the most severe are kept; the others count as new again on the next scan.
pub const MAX_FINGERPRINTS: usize = 60_000;
const BYTES: usize = 6;
const SEVERITY_BITS: u32 = 3;
const HASH_BITS: u32 = 48 - SEVERITY_BITS;

/// A finding's identity (vulnerability, package, version) hashed to 45 bits,
/// with its severity rank in the low 3 bits.
pub fn fingerprint(finding: &Finding) -> u64 {
    let hash = fnv1a(&[
        &finding.id.to_ascii_uppercase(),
        finding.package_name.as_deref().unwrap_or_default(),
        finding.package_version.as_deref().unwrap_or_default(),
    ]);
    let hash = hash >> (64 - HASH_BITS);
    (hash << SEVERITY_BITS) | severity_rank(finding.severity)
}

/// FNV-1a over `parts`, each ended by a NUL byte: stable across builds and
/// platforms, unlike std's hasher.
pub fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// A severity's rank in 3 bits (0: unranked, 5: CRITICAL).
pub fn severity_rank(severity: Severity) -> u64 {
    match severity {
        Severity::Undefined | Severity::Untriaged => 0,
        Severity::Informational => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

/// The dedup record's key for an image: findings are per repository and digest.
pub fn image_key(image: &ImageRef) -> String {
    format!(
        "{}:{}:{}@{}",
        image.account, image.region, image.repository, image.digest
    )
}

/// Fingerprints already alerted, one per finding identity (its highest
/// severity), sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Known(Vec<u64>);

impl Known {
    pub fn from_fingerprints(mut fps: Vec<u64>) -> Known {
        // Sort by identity, highest severity first, then keep one per identity.
        fps.sort_unstable_by(|a, b| {
            (a >> SEVERITY_BITS)
                .cmp(&(b >> SEVERITY_BITS))
                .then(b.cmp(a))
        });
        fps.dedup_by(|later, first| (*later >> SEVERITY_BITS) == (*first >> SEVERITY_BITS));
        Known(fps)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fingerprints(&self) -> &[u64] {
        &self.0
    }

    /// Alerted before at this severity or a higher one.
    pub fn covers(&self, fp: u64) -> bool {
        let identity = fp >> SEVERITY_BITS;
        let at = self.0.partition_point(|k| (k >> SEVERITY_BITS) < identity);
        self.0
            .get(at)
            .is_some_and(|k| (k >> SEVERITY_BITS) == identity && (k & 0b111) >= (fp & 0b111))
    }

    /// This set joined with `new`, capped at [`MAX_FINGERPRINTS`] (most severe kept).
    pub fn merged(&self, new: &[u64]) -> Known {
        let mut all = Vec::with_capacity(self.0.len() + new.len());
        all.extend_from_slice(&self.0);
        all.extend_from_slice(new);
        let mut known = Known::from_fingerprints(all);
        if known.0.len() > MAX_FINGERPRINTS {
            // Most severe first (the low 3 bits are the severity rank).
            known
                .0
                .sort_unstable_by_key(|fp| std::cmp::Reverse(fp & 0b111));
            known.0.truncate(MAX_FINGERPRINTS);
            known = Known::from_fingerprints(known.0);
        }
        known
    }

    /// 6 bytes per fingerprint, big-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.0.len() * BYTES);
        for fp in &self.0 {
            out.extend_from_slice(&fp.to_be_bytes()[8 - BYTES..]);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Known {
        let fps = bytes
            .chunks_exact(BYTES)
            .map(|chunk| {
                let mut buf = [0u8; 8];
                buf[8 - BYTES..].copy_from_slice(chunk);
                u64::from_be_bytes(buf)
            })
            .collect();
        Known::from_fingerprints(fps)
    }
}

/// The stored record of an image: what was alerted and who is alerting now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    pub version: u64,
    pub known: Known,
    /// An invocation that is publishing an alert for this image right now.
    pub lease: Option<Lease>,
    /// [`crate::domain::alert::Alert::content_id`] of an alert the alert topic got
    /// while the chat topic failed: its retry publishes to chat only.
    pub alert_topic_sent: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub owner: String,
    /// Seconds since the epoch.
    pub until: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, sev: Severity) -> Finding {
        let mut f = Finding::new(id, sev);
        f.package_name = Some("openssl".into());
        f.package_version = Some("3.0.2".into());
        f
    }

    #[test]
    fn known_findings_cover_the_same_or_a_lower_severity_only() {
        let known = Known::from_fingerprints(vec![fingerprint(&finding("CVE-1", Severity::High))]);
        assert!(known.covers(fingerprint(&finding("CVE-1", Severity::High))));
        assert!(known.covers(fingerprint(&finding("CVE-1", Severity::Medium))));
        assert!(
            !known.covers(fingerprint(&finding("CVE-1", Severity::Critical))),
            "severity went up"
        );
        assert!(!known.covers(fingerprint(&finding("CVE-2", Severity::High))));
        let mut other_pkg = finding("CVE-1", Severity::High);
        other_pkg.package_name = Some("zlib".into());
        assert!(!known.covers(fingerprint(&other_pkg)));
    }

    #[test]
    fn fingerprints_are_stable() {
        // A stored record must mean the same after an upgrade.
        assert_eq!(
            fingerprint(&finding("CVE-2026-0001", Severity::Critical)) & 0b111,
            5
        );
        assert_eq!(
            fingerprint(&finding("CVE-2026-0001", Severity::Critical)),
            fingerprint(&finding("cve-2026-0001", Severity::Critical))
        );
        assert!(fingerprint(&finding("x", Severity::Low)) < (1 << 48));
        // Pinned: records written by earlier releases stay readable. The
        // value is FNV-1a over `CVE-2026-0001\0openssl\03.0.2\0`, top 45
        // bits, then the rank of CRITICAL (5).
        assert_eq!(
            fingerprint(&finding("CVE-2026-0001", Severity::Critical)),
            0xdf34_d62f_5145
        );
    }

    #[test]
    fn the_encoding_round_trips_in_six_bytes_a_finding() {
        let fps: Vec<u64> = (0..1000)
            .map(|i| fingerprint(&finding(&format!("CVE-{i}"), Severity::High)))
            .collect();
        let known = Known::from_fingerprints(fps);
        let bytes = known.encode();
        assert_eq!(bytes.len(), 6 * 1000);
        assert_eq!(Known::decode(&bytes), known);
    }

    #[test]
    fn merging_keeps_the_highest_severity_and_stays_under_the_item_limit() {
        let a = Known::from_fingerprints(vec![fingerprint(&finding("CVE-1", Severity::Medium))]);
        let merged = a.merged(&[fingerprint(&finding("CVE-1", Severity::Critical))]);
        assert_eq!(merged.len(), 1);
        assert!(merged.covers(fingerprint(&finding("CVE-1", Severity::Critical))));

        let many: Vec<u64> = (0..70_000)
            .map(|i| {
                let sev = if i < 100 {
                    Severity::Critical
                } else {
                    Severity::Low
                };
                fingerprint(&finding(&format!("CVE-{i}"), sev))
            })
            .collect();
        let capped = Known::default().merged(&many);
        assert_eq!(capped.len(), MAX_FINGERPRINTS);
        assert!(capped.encode().len() < 400 * 1024 - 4 * 1024);
        assert!(
            capped.covers(fingerprint(&finding("CVE-5", Severity::Critical))),
            "most severe kept"
        );
    }
}
