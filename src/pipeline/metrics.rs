//! CloudWatch metrics as Embedded Metric Format: one JSON line per event on
//! stdout, which CloudWatch Logs turns into metrics without any API call.

use crate::domain::severity::Severity;
use crate::pipeline::error::HandlerError;
use crate::pipeline::outcome::{Outcome, OutcomeKind};
use serde_json::{json, Map, Value};

pub use crate::config::DEFAULT_METRICS_NAMESPACE as DEFAULT_NAMESPACE;

/// The EMF line for one event's result. `repository_dimension` adds the
/// repository as a dimension (each value is a paid custom metric, so it is
/// off unless asked for).
pub fn emf_line(
    namespace: &str,
    repository_dimension: bool,
    result: &Result<Outcome, HandlerError>,
    timestamp_ms: i64,
) -> String {
    let mut values = Map::new();
    let counts = result
        .as_ref()
        .ok()
        .and_then(|o| o.counts.clone())
        .unwrap_or_default();
    for (name, sev) in [
        ("FindingsCritical", Severity::Critical),
        ("FindingsHigh", Severity::High),
        ("FindingsMedium", Severity::Medium),
        ("FindingsLow", Severity::Low),
    ] {
        values.insert(name.into(), json!(counts.get(sev)));
    }
    let (alerts, suppressed, failures, transient) = match result {
        Ok(o) => (
            u64::from(o.outcome == OutcomeKind::Alerted),
            u64::from(o.outcome == OutcomeKind::NotAlerted),
            0,
            0,
        ),
        Err(e) => (0, 0, 1, u64::from(e.is_transient())),
    };
    let out_of_scope = matches!(result, Ok(o) if o.outcome == OutcomeKind::OutOfScope);
    values.insert("EventsOutOfScope".into(), json!(u64::from(out_of_scope)));
    values.insert("AlertsPublished".into(), json!(alerts));
    values.insert("EventsNotAlerted".into(), json!(suppressed));
    values.insert("Failures".into(), json!(failures));
    values.insert("TransientFailures".into(), json!(transient));
    let metrics: Vec<Value> = values
        .keys()
        .map(|name| json!({"Name": name, "Unit": "Count"}))
        .collect();
    let repository = result.as_ref().ok().and_then(|o| o.repository.clone());
    let dimensions = match (&repository, repository_dimension) {
        (Some(repo), true) => {
            values.insert("Repository".into(), json!(repo));
            json!([["Repository"]])
        }
        _ => json!([[]]),
    };
    if let Err(e) = result {
        values.insert("ErrorType".into(), json!(e.error_type()));
    }
    values.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimensions,
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(values).to_string()
}

/// An EMF line for one count of its own (e.g. `UnreadableTimestamps`),
/// without dimensions.
pub fn count_line(namespace: &str, name: &str, value: u64, timestamp_ms: i64) -> String {
    json!({
        name: value,
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [{"Name": name, "Unit": "Count"}],
            }],
        },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::EventError;

    fn outcome() -> Outcome {
        let mut counts = crate::domain::severity::SeverityCounts::default();
        counts.add(Severity::Critical, 2);
        counts.add(Severity::Low, 7);
        crate::pipeline::outcome::Outcome {
            outcome: OutcomeKind::Alerted,
            reason: None,
            alert_kind: Some("findings"),
            repository: Some("team/api".into()),
            digest: Some("sha256:0".into()),
            scan_status: None,
            counts: Some(counts),
            alert_worthy: Some(2),
            suppressed: None,
            pages: Some(1),
            message_id: Some("m".into()),
            chat_message_id: None,
        }
    }

    #[test]
    fn an_alert_counts_findings_and_one_published_alert() {
        let line: Value =
            serde_json::from_str(&emf_line("Ns", false, &Ok(outcome()), 1000)).unwrap();
        assert_eq!(line["FindingsCritical"], 2);
        assert_eq!(line["FindingsLow"], 7);
        assert_eq!(line["AlertsPublished"], 1);
        assert_eq!(line["Failures"], 0);
        let meta = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], "Ns");
        assert_eq!(
            meta["Dimensions"],
            json!([[]]),
            "no repository dimension by default"
        );
        assert!(line.get("Repository").is_none());
        let names: Vec<&str> = meta["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        for name in names {
            assert!(line[name].is_number(), "{name} has a value");
        }
    }

    #[test]
    fn a_count_of_its_own_is_a_metric_cloudwatch_reads() {
        let line: Value =
            serde_json::from_str(&count_line("Ns", "UnreadableTimestamps", 2, 1000)).unwrap();
        assert_eq!(line["UnreadableTimestamps"], 2);
        let meta = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], "Ns");
        assert_eq!(meta["Metrics"][0]["Name"], "UnreadableTimestamps");
        assert_eq!(line["_aws"]["Timestamp"], 1000);
    }

    #[test]
    fn the_repository_dimension_is_opt_in() {
        let line: Value =
            serde_json::from_str(&emf_line("Ns", true, &Ok(outcome()), 1000)).unwrap();
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Repository"]])
        );
        assert_eq!(line["Repository"], "team/api");
    }

    #[test]
    fn a_failure_counts_as_one_with_its_type() {
        let err = HandlerError::InvalidEvent(EventError {
            field: "detail".into(),
            problem: "missing".into(),
        });
        let line: Value = serde_json::from_str(&emf_line("Ns", true, &Err(err), 1000)).unwrap();
        assert_eq!(line["Failures"], 1);
        assert_eq!(line["TransientFailures"], 0);
        assert_eq!(line["ErrorType"], "InvalidEvent");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}
