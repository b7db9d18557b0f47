//! Times as AWS writes them in events. AWS's own samples of one event use
//! different forms, so every form they show is read here, in one function:
//!
//! | Form | Where AWS writes it |
//! |---|---|
//! | `Dec 3, 2021, 6:02:30 PM` | Amazon ECR User Guide, "EventBridge events sent for enhanced scanning in Amazon ECR", *Event for an image scan finding (enhanced scanning)* (`firstObservedAt`, `lastObservedAt`, `updatedAt`, `pushedAt`) |
//! | `Wed Sep 04 16:55:38.411 UTC 2024` | Amazon Inspector User Guide, "Amazon EventBridge event schema for Amazon Inspector events", *Amazon ECR package vulnerability finding* (the same fields, `vendorCreatedAt`, `exploitabilityDetails.lastKnownExploitAt`) |
//! | `2024-09-04T16:55:38Z` | the same samples' envelope `time`; RFC 3339, as the AWS CLI prints the API's timestamps |
//! | `1725468938` / `1725468938411` | epoch seconds or milliseconds: how the API's JSON protocol carries a timestamp (Amazon Inspector API Reference, `Finding.firstObservedAt`, type Timestamp) |
//!
//! A value in none of these forms is never taken as some other time: it
//! reads as [`Unreadable`], which the caller reports (WARN log naming the
//! field and the value, and the `UnreadableTimestamps` metric) and then
//! treats as unknown.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// A time value in no form AWS documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The value as it came, shortened for a log line.
    pub value: String,
}

/// Epoch values at or above this are milliseconds: as seconds it would be
/// the year 5138.
const MILLIS_FROM: f64 = 100_000_000_000.0;
/// The longest value quoted back in a log line.
const QUOTED_MAX: usize = 80;

/// Reads one time value. `Ok(None)`: absent (`null`); `Ok(Some)`: read, in
/// UTC; `Err`: present in no form AWS documents.
pub fn read(value: &Value) -> Result<Option<DateTime<Utc>>, Unreadable> {
    let unreadable = || Unreadable {
        value: quoted(value),
    };
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_f64()
            .and_then(from_epoch)
            .map(Some)
            .ok_or_else(unreadable),
        Value::String(text) => from_text(text.trim()).map(Some).ok_or_else(unreadable),
        _ => Err(unreadable()),
    }
}

fn from_epoch(value: f64) -> Option<DateTime<Utc>> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let millis = if value >= MILLIS_FROM {
        value
    } else {
        value * 1000.0
    };
    DateTime::from_timestamp_millis(millis.trunc() as i64)
}

fn from_text(text: &str) -> Option<DateTime<Utc>> {
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return text.parse::<f64>().ok().and_then(from_epoch);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    // The ECR user guide's form carries no zone: the console's, taken as UTC
    // as the envelope's `time` of the same sample is.
    if let Ok(t) = NaiveDateTime::parse_from_str(text, "%b %d, %Y, %I:%M:%S %p") {
        return Some(t.and_utc());
    }
    inspector_form(text)
}

/// `Wed Sep 04 16:55:38.411 UTC 2024`: weekday, month, day, time (with or
/// without fractions), zone, year. Only UTC (or GMT) is read: another zone
/// name would need a table of offsets AWS does not document.
fn inspector_form(text: &str) -> Option<DateTime<Utc>> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [weekday, month, day, clock, zone, year] = parts.as_slice() else {
        return None;
    };
    if !matches!(*zone, "UTC" | "GMT") {
        return None;
    }
    let rebuilt = format!("{weekday} {month} {day} {year} {clock}");
    let t = NaiveDateTime::parse_from_str(&rebuilt, "%a %b %d %Y %H:%M:%S%.f").ok()?;
    Some(t.and_utc())
}

fn quoted(value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.chars().count() > QUOTED_MAX {
        let cut: String = text.chars().take(QUOTED_MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Every form, with where AWS writes it and what it means.
    #[test]
    fn reads_every_form_aws_documents() {
        let rows: &[(&str, Value, &str)] = &[
            (
                "ECR user guide, enhanced scanning finding event sample",
                json!("Dec 3, 2021, 6:02:30 PM"),
                "2021-12-03T18:02:30.000Z",
            ),
            (
                "ECR user guide form, two-digit day, morning",
                json!("Nov 27, 2026, 11:01:15 AM"),
                "2026-11-27T11:01:15.000Z",
            ),
            (
                "AWS workshop sample (2023), the ECR guide's form",
                json!("Mar 20, 2023, 6:08:05 PM"),
                "2023-03-20T18:08:05.000Z",
            ),
            (
                "Inspector user guide, ECR package vulnerability finding, firstObservedAt",
                json!("Wed Sep 04 16:55:38.411 UTC 2024"),
                "2024-09-04T16:55:38.411Z",
            ),
            (
                "Inspector user guide, same sample, pushedAt",
                json!("Wed Sep 04 16:55:28.000 UTC 2024"),
                "2024-09-04T16:55:28.000Z",
            ),
            (
                "Inspector user guide, Lambda finding, lastKnownExploitAt",
                json!("Sat Aug 31 00:04:50.000 UTC 2024"),
                "2024-08-31T00:04:50.000Z",
            ),
            (
                "Inspector's form without fractions",
                json!("Tue Sep 03 00:00:00 UTC 2024"),
                "2024-09-03T00:00:00.000Z",
            ),
            (
                "envelope `time` of every sample (RFC 3339)",
                json!("2024-09-04T16:55:38Z"),
                "2024-09-04T16:55:38.000Z",
            ),
            (
                "RFC 3339 with an offset, as the AWS CLI prints timestamps",
                json!("2024-09-04T18:55:38.411+02:00"),
                "2024-09-04T16:55:38.411Z",
            ),
            (
                "epoch seconds (the API's JSON timestamps)",
                json!(1725468938),
                "2024-09-04T16:55:38.000Z",
            ),
            (
                "epoch seconds with fractions",
                json!(1725468938.411),
                "2024-09-04T16:55:38.411Z",
            ),
            (
                "epoch milliseconds",
                json!(1725468938411_i64),
                "2024-09-04T16:55:38.411Z",
            ),
            (
                "epoch seconds written as a string",
                json!("1725468938"),
                "2024-09-04T16:55:38.000Z",
            ),
        ];
        for (source, value, expected) in rows {
            let read = read(value)
                .unwrap_or_else(|e| panic!("{source}: {value} unreadable: {e:?}"))
                .unwrap_or_else(|| panic!("{source}: {value} read as absent"));
            assert_eq!(
                read.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                *expected,
                "{source}"
            );
        }
    }

    #[test]
    fn absent_is_unknown_and_anything_else_is_unreadable_never_a_guess() {
        assert_eq!(read(&Value::Null), Ok(None));
        for value in [
            json!("N/A"),
            json!(""),
            json!("yesterday"),
            json!("Wed Sep 04 16:55:38.411 CEST 2024"),
            json!("Wed Sep 04 25:55:38.411 UTC 2024"),
            json!("2024-09-04 16:55:38"),
            json!("Dec 3 2021 6:02:30 PM"),
            json!(-5),
            json!(true),
            json!({"at": 1}),
        ] {
            let err = read(&value).expect_err(&value.to_string());
            assert!(!err.value.is_empty() || value == json!(""));
        }
        let long = "x".repeat(500);
        let err = read(&json!(long)).unwrap_err();
        assert!(err.value.chars().count() <= QUOTED_MAX + 1);
    }
}
