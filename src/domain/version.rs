//! Ordering package versions, to find the one fixed-in version that fixes
//! every finding of a package.
//!
//! The comparison is Debian's (dpkg's): `[epoch:]upstream[-revision]`, the
//! epoch compared as a number, then upstream and revision by alternating
//! runs of non-digits (compared character by character, `~` before
//! everything, even the end of the string, letters before other characters)
//! and digits (compared as numbers). RPM versions (`1:1.1.1k-7.el8_6`) and
//! semver-like versions (`3.0.15`, `v1.2.3`) order the same way for the
//! fixed-in versions scanners report. One known difference: a semver
//! pre-release (`1.0.0-rc1`) sorts above its release, because the hyphen
//! reads as a Debian revision; fixed-in versions are releases. It is a total
//! order on any strings, but only meaningful between versions that look like
//! versions: see [`is_comparable`].

use std::cmp::Ordering;

/// Compares two versions the way dpkg does. Versions that differ only in
/// leading zeros, a zero epoch or an empty revision are equal (`1.0` and
/// `1.00`, `0:2.0` and `2.0`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (Parts::of(a), Parts::of(b));
    compare_numbers(a.epoch, b.epoch)
        .then_with(|| verrevcmp(a.upstream, b.upstream))
        .then_with(|| verrevcmp(a.revision, b.revision))
}

/// Whether `version` looks like a version, so that ordering it against
/// other versions means something: a digit first (after an optional numeric
/// epoch and an optional `v`), then only letters, digits and `. + ~ - _ :`.
/// `see advisory`, `3.0.15, 3.1.2` or `main` are not.
pub fn is_comparable(version: &str) -> bool {
    let parts = Parts::of(version);
    version.len() <= 128
        && parts.epoch_ok
        && parts
            .upstream
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_digit)
        && version
            .trim()
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".+~-_:".contains(&b))
}

struct Parts<'a> {
    epoch: &'a str,
    epoch_ok: bool,
    upstream: &'a str,
    revision: &'a str,
}

impl<'a> Parts<'a> {
    fn of(version: &'a str) -> Parts<'a> {
        let version = version.trim();
        let (epoch, epoch_ok, rest) = match version.split_once(':') {
            Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
                (e, true, rest)
            }
            Some(_) => ("", false, version),
            None => ("", true, version),
        };
        // `v1.2.3` is the semver `1.2.3` (Go modules and many tags write it so).
        let rest = match rest.as_bytes() {
            [b'v' | b'V', d, ..] if d.is_ascii_digit() => &rest[1..],
            _ => rest,
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        Parts {
            epoch,
            epoch_ok,
            upstream,
            revision,
        }
    }
}

/// Two runs of ASCII digits compared as numbers, whatever their length.
fn compare_numbers(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The weight of one character in a non-digit run: `~` sorts before the
/// end of the run, letters after it, anything else after the letters.
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs.
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let (wa, wb) = (weight(a.get(i).copied()), weight(b.get(j).copied()));
            if wa != wb {
                return wa.cmp(&wb);
            }
            // Equal weights here are never the end of a string.
            i = (i + 1).min(a.len());
            j = (j + 1).min(b.len());
        }
        let start_a = i;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        let start_b = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        // Digit runs are ASCII, so these slices are valid UTF-8.
        let run_a = std::str::from_utf8(&a[start_a..i]).unwrap_or("");
        let run_b = std::str::from_utf8(&b[start_b..j]).unwrap_or("");
        match compare_numbers(run_a, run_b) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_debian_versions_like_dpkg() {
        let cases = [
            ("1:2.0", "3.0", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0~rc1", "1.0~rc2", Less),
            ("1.0~~", "1.0~", Less),
            ("1.0", "1.0+deb12u1", Less),
            ("1.0a", "1.0+", Less),
            ("2.36-9+deb12u4", "2.36-9", Greater),
            ("2.36-9+deb12u4", "2.36-10", Less),
            ("2.36-9+deb12u4", "2.37", Less),
            ("1:1.2.13.dfsg-1", "1.2.13.dfsg-1", Greater),
            ("3.0.15", "3.0.8", Greater),
            ("3.0.15", "3.0.11", Greater),
            ("10", "9", Greater),
            ("7.88.1-10+deb12u5", "7.88.1-10+deb12u12", Less),
            (
                "99999999999999999999999",
                "99999999999999999999998",
                Greater,
            ),
        ];
        for (a, b, expected) in cases {
            assert_eq!(compare(a, b), expected, "{a} vs {b}");
            assert_eq!(compare(b, a), expected.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn ties_are_equal_however_they_are_written() {
        for (a, b) in [
            ("1.0", "1.00"),
            ("0:2.0", "2.0"),
            ("2.0-0", "2.0"),
            ("3.0.15", "3.0.15"),
            ("v1.2.3", "1.2.3"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn orders_rpm_and_semver_like_versions() {
        assert_eq!(compare("1.1.1k-7.el8_6", "1.1.1k-5.el8_5"), Greater);
        assert_eq!(compare("1:1.1.1k-7.el8_6", "1.1.1w-1.el8"), Greater);
        assert_eq!(compare("1.1.1w", "1.1.1k"), Greater);
        assert_eq!(compare("v0.17.0", "v0.9.1"), Greater);
        assert_eq!(compare("2.10.0", "2.9.12"), Greater);
        // The documented difference: Debian reads `-rc1` as a revision.
        assert_eq!(compare("1.0.0-rc1", "1.0.0"), Greater);
    }

    #[test]
    fn says_which_strings_are_not_versions() {
        for v in [
            "3.0.15",
            "1:2.0",
            "2.36-9+deb12u4",
            "1.0~rc1",
            "1.1.1k-7.el8_6",
            "v1.2.3",
        ] {
            assert!(is_comparable(v), "{v}");
        }
        for v in [
            "",
            "main",
            "see advisory",
            "3.0.15, 3.1.2",
            "x:1.0",
            ">= 1.2",
            "NotAvailable",
        ] {
            assert!(!is_comparable(v), "{v}");
        }
    }
}
