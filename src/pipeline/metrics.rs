//! CloudWatch metrics as Embedded Metric Format: one JSON line per event on
//! stdout, which CloudWatch Logs turns into metrics without any API call.

use crate::domain::alert::{Alert, ATTR_SEVERITY};
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

/// The EMF line for one alert that went out: `Alerts`, by `AlertKind` and
/// `Severity` (the alert's `alert_kind` and `severity` attributes, `NONE`
/// when it has no severity). Both take a handful of values, so the pairs
/// stay a few dozen custom metrics at most, unlike a repository or owner.
pub fn alert_line(namespace: &str, alert: &Alert, timestamp_ms: i64) -> String {
    json!({
        "Alerts": 1,
        "AlertKind": alert.kind.as_str(),
        "Severity": alert.attribute(ATTR_SEVERITY).unwrap_or("NONE"),
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["AlertKind", "Severity"]],
                "Metrics": [{"Name": "Alerts", "Unit": "Count"}],
            }],
        },
    })
    .to_string()
}

/// The size of one SQS batch of finding events, as an EMF line:
/// `BatchSize` (its messages), `BatchImages` (the images they name) and
/// `BatchItemFailures` (the messages handed back to the queue: unreadable,
/// failed, or waiting for their image's Scan event).
pub fn batch_line(
    namespace: &str,
    messages: u64,
    images: u64,
    handed_back: u64,
    timestamp_ms: i64,
) -> String {
    json!({
        "BatchSize": messages,
        "BatchImages": images,
        "BatchItemFailures": handed_back,
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "BatchSize", "Unit": "Count"},
                    {"Name": "BatchImages", "Unit": "Count"},
                    {"Name": "BatchItemFailures", "Unit": "Count"},
                ],
            }],
        },
    })
    .to_string()
}

/// Every count of its own the functions emit ([`count_line`]): what
/// `metrics.json` catalogues (its test checks both ways).
pub const COUNTS: &[&str] = &[
    "EventsOutOfScope",
    "UnreadableTimestamps",
    "OwnerTagsUnreadable",
    "OwnerTagsInvalid",
    "DigestsPublished",
    "DigestRegistriesLate",
    "UnknownSeverities",
    "DigestStateUnreadable",
    "DigestStateNotSaved",
    "ReportNotWritten",
    "OrganizationAccountsUnlisted",
    "InspectorCoverageUnread",
];

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

/// The severities the posture gauges are emitted for.
pub const POSTURE_SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

/// The digest's posture gauges: `OpenFindings` and `OverdueFindings`, one
/// line per severity with the `Severity` dimension; with `owner`, the same
/// with `Owner` and `Severity` (each owner then costs a custom metric per
/// name and severity, so it is off unless asked for).
pub fn posture_lines(
    namespace: &str,
    owner: Option<&str>,
    open: &crate::domain::severity::SeverityCounts,
    overdue: &crate::domain::severity::SeverityCounts,
    timestamp_ms: i64,
) -> Vec<String> {
    POSTURE_SEVERITIES
        .iter()
        .map(|severity| {
            let mut line = json!({
                "Severity": severity.as_str(),
                "OpenFindings": open.get(*severity),
                "OverdueFindings": overdue.get(*severity),
                "_aws": {
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": namespace,
                        "Dimensions": if owner.is_some() { json!([["Owner", "Severity"]]) } else { json!([["Severity"]]) },
                        "Metrics": [
                            {"Name": "OpenFindings", "Unit": "Count"},
                            {"Name": "OverdueFindings", "Unit": "Count"},
                        ],
                    }],
                },
            });
            if let Some(owner) = owner {
                line["Owner"] = json!(owner);
            }
            line.to_string()
        })
        .collect()
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
    fn alert(kind: crate::domain::alert::AlertKind, severity: Option<&str>) -> Alert {
        Alert {
            kind,
            subject: "s".into(),
            body: "b".into(),
            chat: "{}".into(),
            attributes: severity
                .map(|s| (ATTR_SEVERITY, s.to_string()))
                .into_iter()
                .collect(),
            array_attributes: Vec::new(),
        }
    }

    #[test]
    fn an_alert_counts_once_by_kind_and_severity() {
        use crate::domain::alert::AlertKind;
        let line: Value = serde_json::from_str(&alert_line(
            "Ns",
            &alert(AlertKind::Storm, Some("CRITICAL")),
            1000,
        ))
        .unwrap();
        assert_eq!(line["Alerts"], 1);
        assert_eq!(line["AlertKind"], "storm");
        assert_eq!(line["Severity"], "CRITICAL");
        let meta = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(meta["Namespace"], "Ns");
        assert_eq!(meta["Dimensions"], json!([["AlertKind", "Severity"]]));
        assert_eq!(
            meta["Metrics"],
            json!([{"Name": "Alerts", "Unit": "Count"}])
        );
        assert_eq!(line["_aws"]["Timestamp"], 1000);
        // An alert without a severity attribute still has a dimension value.
        let line: Value =
            serde_json::from_str(&alert_line("Ns", &alert(AlertKind::ScanFailed, None), 1000))
                .unwrap();
        assert_eq!(line["Severity"], "NONE");
        assert_eq!(line["AlertKind"], "scan_failed");
    }

    #[test]
    fn a_batch_counts_its_messages_images_and_those_handed_back() {
        let line: Value = serde_json::from_str(&batch_line("Ns", 10, 4, 2, 1000)).unwrap();
        assert_eq!(line["BatchSize"], 10);
        assert_eq!(line["BatchImages"], 4);
        assert_eq!(line["BatchItemFailures"], 2);
        let meta = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(
            meta["Dimensions"],
            json!([[]]),
            "no dimension: three metrics"
        );
        let names: Vec<&str> = meta["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["BatchSize", "BatchImages", "BatchItemFailures"]);
    }

    /// The metrics catalog the dashboard is built from.
    const CATALOG: &str = include_str!("../../metrics.json");

    /// Checks every metric of an EMF `line` against the catalog (its unit,
    /// its dimension sets with the switches in `on`, the dimension values
    /// it lists) and answers their names.
    fn catalogued(line: &str, on: &[&str]) -> Vec<String> {
        let catalog: Value = serde_json::from_str(CATALOG).unwrap();
        let line: Value = serde_json::from_str(line).unwrap();
        let mut names = Vec::new();
        for directive in line["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                let entry = catalog["metrics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["name"] == name)
                    .unwrap_or_else(|| panic!("{name} is not in metrics.json"));
                assert_eq!(metric["Unit"], entry["unit"], "{name}'s unit");
                assert!(line[name].is_number(), "{name} has a value");
                let mut allowed: Vec<&Value> =
                    entry["dimensions"].as_array().unwrap().iter().collect();
                for switch in on {
                    allowed.extend(entry["opt_in"][*switch].as_array().into_iter().flatten());
                }
                for set in directive["Dimensions"].as_array().unwrap() {
                    assert!(
                        allowed.contains(&set),
                        "{name} by {set}: not in metrics.json"
                    );
                    for key in set.as_array().unwrap() {
                        let key = key.as_str().unwrap();
                        let value = line[key]
                            .as_str()
                            .unwrap_or_else(|| panic!("{name}: no value for its dimension {key}"));
                        if let Some(values) = entry["values"][key].as_array() {
                            assert!(
                                values.iter().any(|v| v == value),
                                "{name}: {key} {value} is not in metrics.json"
                            );
                        }
                    }
                }
                names.push(name.to_string());
            }
        }
        names
    }

    #[test]
    fn every_line_is_in_the_catalog_and_the_catalog_has_nothing_else() {
        use crate::domain::alert::AlertKind;
        let failure = HandlerError::InvalidEvent(EventError {
            field: "detail".into(),
            problem: "missing".into(),
        });
        let mut emitted = std::collections::BTreeSet::new();
        for (repository, result) in [
            (false, Ok(outcome())),
            (true, Ok(outcome())),
            (true, Err(failure)),
        ] {
            let on: &[&str] = if repository {
                &["METRICS_REPOSITORY_DIMENSION"]
            } else {
                &[]
            };
            emitted.extend(catalogued(&emf_line("Ns", repository, &result, 1000), on));
        }
        // The counts of their own, by the names their call sites give.
        for name in COUNTS {
            emitted.extend(catalogued(&count_line("Ns", name, 1, 1000), &[]));
        }
        let kinds = [
            AlertKind::Findings,
            AlertKind::ScanFailed,
            AlertKind::Storm,
            AlertKind::Digest,
        ];
        // A new kind of alert stops this compiling until it is listed
        // above, and so checked against the catalog.
        for kind in kinds {
            match kind {
                AlertKind::Findings
                | AlertKind::ScanFailed
                | AlertKind::Storm
                | AlertKind::Digest => {}
            }
            for severity in Severity::RANKED
                .iter()
                .map(|s| Some(s.as_str()))
                .chain([Some("NONE"), None])
            {
                emitted.extend(catalogued(
                    &alert_line("Ns", &alert(kind, severity), 1000),
                    &[],
                ));
            }
        }
        emitted.extend(catalogued(&batch_line("Ns", 3, 2, 1, 1000), &[]));
        let counts = crate::domain::severity::SeverityCounts::default();
        for line in posture_lines("Ns", None, &counts, &counts, 1000) {
            emitted.extend(catalogued(&line, &[]));
        }
        for line in posture_lines("Ns", Some("payments"), &counts, &counts, 1000) {
            emitted.extend(catalogued(&line, &["METRICS_OWNER_DIMENSION"]));
        }
        let catalog: Value = serde_json::from_str(CATALOG).unwrap();
        let listed: std::collections::BTreeSet<String> = catalog["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            listed, emitted,
            "metrics.json lists what these lines emit, no more"
        );
    }

    #[test]
    fn posture_gauges_are_one_line_per_severity_and_the_owner_is_opt_in() {
        let mut open = crate::domain::severity::SeverityCounts::default();
        open.add(Severity::Critical, 3);
        let mut overdue = crate::domain::severity::SeverityCounts::default();
        overdue.add(Severity::Critical, 1);
        let lines = posture_lines("Ns", None, &open, &overdue, 1000);
        assert_eq!(lines.len(), 4);
        let critical: Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(critical["Severity"], "CRITICAL");
        assert_eq!(critical["OpenFindings"], 3);
        assert_eq!(critical["OverdueFindings"], 1);
        assert_eq!(
            critical["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Severity"]])
        );
        let high: Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(high["OpenFindings"], 0);
        let owned: Value =
            serde_json::from_str(&posture_lines("Ns", Some("payments"), &open, &overdue, 1000)[0])
                .unwrap();
        assert_eq!(owned["Owner"], "payments");
        assert_eq!(
            owned["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Owner", "Severity"]])
        );
    }
}
