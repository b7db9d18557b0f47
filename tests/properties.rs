//! Hostile input, as properties: whatever arrives (arbitrary JSON, wrong
//! types, huge and odd strings), parsing answers with a value or a
//! field-named error and never panics; whatever findings say, rendering
//! stays within the limits and keeps untrusted text from breaking out.

use ecr_scan_alerts::domain::event::{self, Incoming};
use ecr_scan_alerts::domain::finding::{Finding, FixAvailable};
use ecr_scan_alerts::domain::image::{ImageRef, ScanKind};
use ecr_scan_alerts::domain::judged::JudgedFindings;
use ecr_scan_alerts::domain::policy::Verdict;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::render::{findings_alert, scan_failed_alert, FailureReport, FindingsReport};
use proptest::prelude::*;
use serde_json::{json, Value};

const BASIC: &str = include_str!("../events/basic-scan-complete.json");
const ENHANCED: &str = include_str!("../events/enhanced-scan-complete.json");

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Strings that have hurt parsers and chat clients: control characters,
/// separators, markup, very long runs, non-BMP characters.
fn odd_string() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,64}",
        "[<>&|`*_~\\n\\r\\t\\u{2028}\\u{202e}\\u{0}\\u{1b}!@#]{0,64}",
        Just("<!channel> <@U123> <http://evil|docs.aws.amazon.com>".to_string()),
        (1usize..20_000).prop_map(|n| "x".repeat(n)),
        Just("😀".repeat(300)),
    ]
}

fn severity() -> impl Strategy<Value = Severity> {
    prop_oneof![
        Just(Severity::Critical),
        Just(Severity::High),
        Just(Severity::Medium),
        Just(Severity::Low),
        Just(Severity::Informational),
        Just(Severity::Undefined),
        Just(Severity::Untriaged),
    ]
}

fn finding() -> impl Strategy<Value = Finding> {
    (
        odd_string(),
        severity(),
        proptest::option::of(odd_string()),
        proptest::option::of(odd_string()),
        proptest::option::of(odd_string()),
        proptest::option::of(any::<f64>()),
        proptest::option::of(odd_string()),
    )
        .prop_map(|(id, sev, name, version, fixed, score, link)| {
            let mut f = Finding::new(id, sev);
            f.package_name = name;
            f.package_version = version;
            f.fixed_in = fixed;
            f.score = score;
            f.link = link;
            f.fix_available = Some(FixAvailable::Yes);
            f
        })
}

fn image() -> impl Strategy<Value = ImageRef> {
    (
        odd_string(),
        prop::collection::vec(odd_string(), 0..3),
        odd_string(),
    )
        .prop_map(|(repository, tags, digest)| ImageRef {
            account: "123456789012".into(),
            region: "us-east-1".into(),
            repository,
            digest: format!("sha256:{digest}"),
            tags,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_json_gets_an_answer(value in any_json()) {
        // Ok or a typed error naming a field; a panic fails the test.
        if let Err(e) = event::parse(value) {
            prop_assert!(!e.field.is_empty());
            prop_assert!(e.to_string().starts_with("invalid event: "));
        }
    }

    #[test]
    fn any_detail_inside_a_real_envelope_gets_an_answer(detail in any_json(), enhanced in any::<bool>()) {
        let mut event: Value = serde_json::from_str(if enhanced { ENHANCED } else { BASIC }).unwrap();
        event["detail"] = detail;
        match event::parse(event) {
            Ok(Incoming::Scan(scan)) => prop_assert!(scan.image.digest.starts_with("sha256:")),
            Ok(Incoming::Ignored { .. }) => prop_assert!(false, "a scan event type is never ignored"),
            Err(e) => prop_assert!(e.field == "detail" || e.field.starts_with("detail.") || e.field == "account" || e.field == "region"),
        }
    }

    #[test]
    fn odd_field_values_get_an_answer(field in prop_oneof![
        Just("scan-status"), Just("repository-name"), Just("image-digest"), Just("image-tags"), Just("finding-severity-counts")
    ], value in any_json()) {
        let mut event: Value = serde_json::from_str(ENHANCED).unwrap();
        event["detail"][field] = value.clone();
        // Read or refused; refused, the error names the field at fault.
        if let Err(error) = event::parse(event) {
            prop_assert!(
                error.field.contains(field),
                "{field} = {value}: the error names `{}`: {}", error.field, error.problem
            );
        }
    }

    #[test]
    fn alerts_stay_within_limits_and_keep_text_in_its_place(
        image in image(),
        findings in prop::collection::vec(finding(), 1..40),
        enhanced in any::<bool>(),
    ) {
        let mut tally = JudgedFindings::default();
        for f in findings {
            let verdict = if f.severity.is_ranked() { Verdict::Alert } else { Verdict::Unranked };
            tally.add(f, verdict);
        }
        let kind = if enhanced { ScanKind::Enhanced } else { ScanKind::Basic };
        let notes = vec!["Not alerted: <!here> 1 allow-listed.".to_string()];
        let report = FindingsReport {
            image: &image, kind, status: "COMPLETE", threshold: Severity::Informational,
            tally: &tally, event_id: Some("id"), notes: &notes,
            account_alias: None,
        owner: None,
        };
        if let Some(alert) = findings_alert(&report) {
            prop_assert!(alert.subject.len() <= 99);
            prop_assert!(alert.subject.chars().all(|c| (' '..='~').contains(&c)));
            prop_assert!(!alert.subject.starts_with(' '));
            prop_assert!(alert.publish_size() <= 262_144);
            prop_assert!(alert.chat_publish_size() <= 262_144);
            let breaks_layout = ['\r', '\u{2028}', '\u{202e}'].iter().any(|c| alert.body.contains(*c));
            prop_assert!(!breaks_layout, "layout-breaking character in the email");
            let chat: Value = serde_json::from_str(&alert.chat).expect("chat payload is JSON");
            let text = chat.to_string();
            prop_assert!(!text.contains("<!channel>") && !text.contains("<!here>") && !text.contains("<@U123>"));
            prop_assert!(chat["content"]["description"].as_str().unwrap().chars().count() <= 3_000);
            prop_assert!(chat["content"]["title"].as_str().unwrap().chars().count() <= 150);
        }
    }

    #[test]
    fn failed_scan_alerts_stay_within_limits(image in image(), status in odd_string(), description in proptest::option::of(odd_string())) {
        let alert = scan_failed_alert(&FailureReport {
            image: &image, kind: ScanKind::Basic, status: &status,
            description: description.as_deref(), lookup_problem: None, event_id: None,
            account_alias: None,
        owner: None,
        });
        prop_assert!(alert.subject.len() <= 99);
        prop_assert!(alert.subject.chars().all(|c| (' '..='~').contains(&c)));
        prop_assert!(alert.publish_size() <= 262_144);
        let chat: Value = serde_json::from_str(&alert.chat).expect("chat payload is JSON");
        prop_assert!(!chat.to_string().contains("<!channel>"));
    }
}
