//! The gate as an application, on fakes of the AWS ports and on tokio's
//! paused clock.

use super::judging::evaluate;

use super::*;
use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::glob::registry_filter_matches as filter_matches;
use crate::domain::scan_status::NO_CURRENT_FINDINGS_STATUSES;
use crate::domain::severity::Severity;
use crate::ports::{
    BoxFuture, FindingsPage, FindingsSource, RegistryScanning, RepositoryScanning, ScanStarter,
    ScanStatus, ScanningConfigSource, SourceError, StartScanError,
};
use crate::ports::{ScanningRule, ServiceFailure};
use std::collections::VecDeque;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// A registry that answers each findings read with the next scripted
/// answer (the last one repeats), and a fixed scanning configuration.
struct Fake {
    reads: Mutex<VecDeque<Result<FindingsPage, SourceError>>>,
    page_calls: AtomicUsize,
    registry: Result<RegistryScanning, ServiceFailure>,
    repository: Result<Option<RepositoryScanning>, ServiceFailure>,
    config_calls: AtomicUsize,
    /// Answers to StartImageScan, in order (then success).
    starts: Mutex<VecDeque<Result<(), StartScanError>>>,
    start_calls: AtomicUsize,
}

impl Fake {
    fn new(reads: Vec<Result<FindingsPage, SourceError>>) -> Fake {
        Fake {
            reads: Mutex::new(reads.into()),
            page_calls: AtomicUsize::new(0),
            registry: Ok(registry("BASIC", vec![])),
            repository: Ok(Some(repository("SCAN_ON_PUSH", true))),
            config_calls: AtomicUsize::new(0),
            starts: Mutex::new(VecDeque::new()),
            start_calls: AtomicUsize::new(0),
        }
    }

    fn pages(&self) -> usize {
        self.page_calls.load(Ordering::SeqCst)
    }
}

impl FindingsSource for Fake {
    fn page<'a>(
        &'a self,
        _image: &'a ImageRef,
        _next_token: Option<&'a str>,
        _count_below: Option<crate::domain::severity::Severity>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
        Box::pin(async move {
            self.page_calls.fetch_add(1, Ordering::SeqCst);
            let mut reads = self.reads.lock().unwrap();
            if reads.len() > 1 {
                reads.pop_front().unwrap()
            } else {
                reads.front().cloned().unwrap()
            }
        })
    }
}

impl ScanStarter for Fake {
    fn start_scan<'a>(&'a self, _image: &'a ImageRef) -> BoxFuture<'a, Result<(), StartScanError>> {
        Box::pin(async move {
            self.start_calls.fetch_add(1, Ordering::SeqCst);
            self.starts.lock().unwrap().pop_front().unwrap_or(Ok(()))
        })
    }
}

impl ScanningConfigSource for Fake {
    fn registry_scanning<'a>(&'a self) -> BoxFuture<'a, Result<RegistryScanning, ServiceFailure>> {
        Box::pin(async move {
            self.config_calls.fetch_add(1, Ordering::SeqCst);
            self.registry.clone()
        })
    }
    fn repository_scanning<'a>(
        &'a self,
        _repository: &'a str,
    ) -> BoxFuture<'a, Result<Option<RepositoryScanning>, ServiceFailure>> {
        Box::pin(async move {
            self.config_calls.fetch_add(1, Ordering::SeqCst);
            self.repository.clone()
        })
    }
}

fn registry(scan_type: &str, rules: Vec<(&str, &[&str])>) -> RegistryScanning {
    RegistryScanning {
        scan_type: scan_type.into(),
        rules: rules
            .into_iter()
            .map(|(frequency, filters)| ScanningRule {
                frequency: frequency.into(),
                filters: filters.iter().map(|f| f.to_string()).collect(),
            })
            .collect(),
    }
}

fn repository(frequency: &str, scan_on_push: bool) -> RepositoryScanning {
    RepositoryScanning {
        frequency: frequency.into(),
        scan_on_push,
        applied_filters: vec![],
    }
}

fn image() -> ImageRef {
    ImageRef {
        account: String::new(),
        region: "us-east-1".into(),
        repository: "team/api".into(),
        digest: "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef01".into(),
        tags: vec!["v1".into()],
    }
}

fn page(status: &str, findings: Vec<Finding>) -> Result<FindingsPage, SourceError> {
    Ok(FindingsPage {
        status: Some(ScanStatus {
            status: status.into(),
            description: None,
        }),
        findings,
        next_token: None,
        completed_at: None,
        ..FindingsPage::default()
    })
}

fn basic(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| Finding::new(format!("CVE-2026-{i:04}"), Severity::High))
        .collect()
}

/// Findings with Inspector's fields (enhanced scanning).
fn enhanced(n: usize) -> Vec<Finding> {
    basic(n)
        .into_iter()
        .map(|mut f| {
            f.fix_available = Some(FixAvailable::Yes);
            f.fixed_in = Some("1.2.4".into());
            f
        })
        .collect()
}

fn not_found() -> Result<FindingsPage, SourceError> {
    Err(SourceError::ScanNotFound(failure("ScanNotFoundException")))
}

fn failure(code: &str) -> ServiceFailure {
    ServiceFailure {
        service: "ECR",
        code: code.into(),
        message: "no".into(),
        transient: false,
    }
}

fn settle(timeout: Duration, interval: Duration) -> Polling {
    Polling {
        deadline: Instant::now() + timeout,
        interval,
    }
}

async fn judge(source: &Fake, settle: Polling) -> (Result<Report, GateError>, Vec<String>) {
    let mut lines = Vec::new();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    let policy = Policy::new(Severity::High);
    let result = evaluate(
        source,
        &image(),
        &policy,
        &Budgets::default(),
        today,
        settle,
        |l| lines.push(l),
    )
    .await;
    (result, lines)
}

#[tokio::test(start_paused = true)]
async fn no_current_findings_is_not_clean_and_says_what_to_do() {
    for (status, remedy) in [
        ("SCAN_ELIGIBILITY_EXPIRED", "Push or pull the image again"),
        ("IMAGE_ARCHIVED", "update-image-storage-class"),
        ("FINDINGS_UNAVAILABLE", "Retry later"),
    ] {
        let source = Fake::new(vec![page(status, vec![])]);
        let (result, _) = judge(
            &source,
            settle(Duration::from_secs(60), Duration::from_secs(5)),
        )
        .await;
        let err = result.unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "no current findings for team/api:v1: scan status {status}"
            )),
            "{err}"
        );
        assert!(err.contains(r#"That is not "clean""#), "{err}");
        assert!(err.contains(remedy), "{status}: {err}");
        assert_eq!(source.pages(), 1);
    }
    let expired = no_current_findings(
        &image(),
        &ScanStatus {
            status: "SCAN_ELIGIBILITY_EXPIRED".into(),
            description: Some("Image no longer eligible\nfor rescans".into()),
        },
    )
    .unwrap();
    assert!(expired.contains("rescan duration"), "{expired}");
    // A status fold adds to the list needs a message here too.
    for status in NO_CURRENT_FINDINGS_STATUSES {
        let status = ScanStatus {
            status: status.into(),
            description: None,
        };
        assert!(
            no_current_findings(&image(), &status).is_some(),
            "{status:?}"
        );
    }
    assert!(!expired.contains('\n'), "{expired}");
}

#[tokio::test(start_paused = true)]
async fn a_broken_scan_keeps_its_own_message() {
    let source = Fake::new(vec![page("UNSUPPORTED_IMAGE", vec![])]);
    let (result, _) = judge(
        &source,
        settle(Duration::from_secs(60), Duration::from_secs(5)),
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with("the scan of team/api:v1 failed: UNSUPPORTED_IMAGE"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_basic_scan_is_judged_on_one_read() {
    let source = Fake::new(vec![page("COMPLETE", basic(2)), page("COMPLETE", basic(3))]);
    let (result, lines) = judge(
        &source,
        settle(Duration::from_secs(60), Duration::from_secs(5)),
    )
    .await;
    let report = result.unwrap();
    assert_eq!(report.counts.total(), 2);
    assert_eq!(report.result, "fail");
    assert_eq!(source.pages(), 1);
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test(start_paused = true)]
async fn an_enhanced_scan_is_judged_when_two_reads_agree() {
    let source = Fake::new(vec![
        page("ACTIVE", enhanced(1)),
        page("ACTIVE", enhanced(3)),
        page("ACTIVE", enhanced(4)),
        page("ACTIVE", enhanced(4)),
        page("ACTIVE", enhanced(9)),
    ]);
    let (result, lines) = judge(
        &source,
        settle(Duration::from_secs(5), Duration::from_millis(10)),
    )
    .await;
    let report = result.unwrap();
    assert_eq!(report.counts.total(), 4, "judged on the stable read");
    assert_eq!(report.violations_total, 4);
    assert_eq!(source.pages(), 4);
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].starts_with("reading the findings of team/api:v1 again in 0s"),
        "{lines:?}"
    );
}

/// One enhanced MEDIUM finding with a known exploit, in an image whose
/// usage is `usage`, read the same twice.
fn exploited_in(usage: crate::domain::risk::Usage) -> Fake {
    let mut finding = enhanced(1).remove(0);
    finding.severity = Severity::Medium;
    finding.exploit_available = Some(true);
    let read = page("ACTIVE", vec![finding]).map(|mut p| {
        p.usage = usage;
        p
    });
    Fake::new(vec![read.clone(), read])
}

async fn judge_under(source: &Fake, document: &str) -> Report {
    let policy = Policy::from_document(document).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
    evaluate(
        source,
        &image(),
        &policy,
        &Budgets::default(),
        today,
        settle(Duration::from_secs(5), Duration::from_millis(10)),
        |_| {},
    )
    .await
    .unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_gate_applies_the_risk_rules_as_alerts_do() {
    const RISK: &str = r#"{"version": 1, "threshold": "HIGH", "risk": [
        {"exploit_available": {"raise_to": "CRITICAL"},
         "not_in_use": {"days": 30, "lower_to": "NONE"}}]}"#;
    let running = crate::domain::risk::Usage {
        in_use_count: Some(3),
        ..Default::default()
    };
    let report = judge_under(&exploited_in(running), RISK).await;
    assert_eq!(report.result, "fail", "MEDIUM raised to CRITICAL");
    assert_eq!(report.violations_total, 1);
    assert_eq!(
        report.violations[0].signals,
        ["exploit known", "raised from MEDIUM (exploit known)"]
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["violations"][0]["severity"], "CRITICAL");
    let plain = judge_under(&exploited_in(running), r#"{"version": 1}"#).await;
    assert_eq!(plain.result, "pass", "without the rule, a MEDIUM passes");
    let idle = crate::domain::risk::Usage {
        in_use_count: Some(0),
        last_in_use_at: Some(1_700_000_000),
        pushed_at: None,
    };
    let report = judge_under(&exploited_in(idle), RISK).await;
    assert_eq!(
        report.result, "fail",
        "not run for a year: whether it runs is a runtime fact, never the gate's to pass"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("not_in_use / only_in_use rules are not applied")),
        "{:?}",
        report.notes
    );
    // An image judged before it is deployed has never run: under
    // `only_in_use` the gate still fails it.
    const ONLY: &str = r#"{"version": 1, "threshold": "HIGH", "risk": [
        {"exploit_available": {"raise_to": "CRITICAL"}, "only_in_use": {"days": 0}}]}"#;
    let never_ran = crate::domain::risk::Usage {
        in_use_count: Some(0),
        last_in_use_at: None,
        pushed_at: Some(1_700_000_000),
    };
    let report = judge_under(&exploited_in(never_ran), ONLY).await;
    assert_eq!(report.result, "fail");
    assert_eq!(report.exit_code(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_document_without_a_threshold_says_where_gate_and_function_differ() {
    let source = Fake::new(vec![page("COMPLETE", enhanced(2))]);
    let says = |report: &Report| {
        report
            .notes
            .iter()
            .any(|n| n.contains("pass --threshold with that value"))
    };
    let report = judge_under(&source, r#"{"version": 1}"#).await;
    assert!(says(&report), "{:?}", report.notes);
    let source = Fake::new(vec![page("COMPLETE", enhanced(2))]);
    let report = judge_under(&source, r#"{"version": 1, "threshold": "HIGH"}"#).await;
    assert!(!says(&report), "{:?}", report.notes);
}

#[tokio::test(start_paused = true)]
async fn an_image_the_policy_does_not_cover_is_not_a_pass() {
    let source = Fake::new(vec![page("COMPLETE", enhanced(2))]);
    for (doc, names) in [
        (
            r#"{"version": 1, "tags": {"include": ["v*"]}}"#,
            "`tags.include` (v*)",
        ),
        (
            r#"{"version": 1, "repositories": {"exclude": ["team/*"]}}"#,
            "`repositories.exclude` pattern `team/*`",
        ),
        (
            r#"{"version": 1, "repositories": {"include": ["payments/*"]}}"#,
            "not matched by `repositories.include`: payments/*",
        ),
    ] {
        let policy = Policy::from_document(doc).unwrap();
        let mut image = image();
        image.tags.clear(); // as with --digest
        let report = evaluate(
            &source,
            &image,
            &policy,
            &Budgets::default(),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 4).unwrap(),
            settle(Duration::from_secs(5), Duration::from_millis(10)),
            |_| {},
        )
        .await
        .unwrap();
        assert!(report.not_covered(), "{doc}");
        assert_eq!(report.exit_code(), 2, "{doc}");
        assert!(report.text().contains(names), "{doc}: {}", report.text());
    }
}

#[tokio::test(start_paused = true)]
async fn inspector_fields_make_a_complete_scan_enhanced() {
    let source = Fake::new(vec![
        page("COMPLETE", enhanced(2)),
        page("COMPLETE", enhanced(2)),
    ]);
    let (result, _) = judge(
        &source,
        settle(Duration::from_secs(5), Duration::from_millis(10)),
    )
    .await;
    assert_eq!(result.unwrap().counts.total(), 2);
    assert_eq!(source.pages(), 2);
}

#[tokio::test(start_paused = true)]
async fn an_enhanced_scan_that_never_settles_cannot_be_judged() {
    let reads = (1..200).map(|n| page("ACTIVE", enhanced(n))).collect();
    let source = Fake::new(reads);
    let (result, _) = judge(
        &source,
        settle(Duration::from_millis(100), Duration::from_millis(20)),
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with("cannot judge the enhanced scan of team/api:v1"),
        "{err}"
    );
    assert!(err.contains("still changing"), "{err}");
    assert!(err.contains("consecutive reads: 1, 2, 3"), "{err}");
    assert!(source.pages() >= 2);

    let source = Fake::new(vec![page("ACTIVE", enhanced(1))]);
    let (result, _) = judge(
        &source,
        settle(Duration::from_secs(1), Duration::from_secs(5)),
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("could not be read a second time"), "{err}");
    assert_eq!(source.pages(), 1);
}

async fn wait(
    source: &Fake,
    image: &ImageRef,
    timeout: Duration,
) -> (Result<(), GateError>, Vec<String>) {
    let mut lines = Vec::new();
    let polling = settle(timeout, Duration::from_millis(10));
    let result = wait_for_scan(source, image, polling, false, |l| lines.push(l)).await;
    (result, lines)
}

#[tokio::test(start_paused = true)]
async fn a_manual_scan_frequency_fails_fast() {
    let mut source = Fake::new(vec![not_found()]);
    source.registry = Ok(registry("BASIC", vec![("SCAN_ON_PUSH", &["prod-*"])]));
    source.repository = Ok(Some(repository("MANUAL", false)));
    let started = Instant::now();
    // With a 10 s interval, waiting even once would take 10 s.
    let mut lines = Vec::new();
    let polling = settle(Duration::from_secs(60), Duration::from_secs(10));
    let err = wait_for_scan(&source, &image(), polling, false, |l| lines.push(l))
        .await
        .unwrap_err()
        .to_string();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(source.pages(), 1);
    assert!(lines.is_empty(), "{lines:?}");
    assert!(
        err.starts_with(
            "no scan of team/api:v1 will start: repository team/api has scan frequency \
             MANUAL (registry scan type BASIC, rules SCAN_ON_PUSH for prod-*: none matches \
             it; repository scanOnPush false)"
        ),
        "{err}"
    );
    assert!(
        err.contains("aws ecr start-image-scan --repository-name team/api"),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_manual_enhanced_registry_says_which_filter_to_add() {
    let mut source = Fake::new(vec![not_found()]);
    source.registry = Ok(registry("ENHANCED", vec![]));
    source.repository = Ok(Some(repository("MANUAL", false)));
    let (result, _) = wait(&source, &image(), Duration::from_secs(60)).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.contains("(registry scan type ENHANCED, no scanning rules;"),
        "{err}"
    );
    assert!(
        err.contains("continuous-scanning filter that matches team/api"),
        "{err}"
    );
    assert!(!err.contains("start-image-scan"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_scan_that_will_come_is_waited_for_and_the_configuration_read_once() {
    for (registry_config, repository_config) in [
        (registry("BASIC", vec![]), repository("SCAN_ON_PUSH", true)),
        (
            registry("ENHANCED", vec![]),
            repository("CONTINUOUS_SCAN", false),
        ),
        // Legacy repository-level scan on push.
        (registry("BASIC", vec![]), repository("MANUAL", true)),
        // The repository's answer disagrees with a matching rule: wait.
        (
            registry("BASIC", vec![("SCAN_ON_PUSH", &["team"])]),
            repository("MANUAL", false),
        ),
    ] {
        let mut source = Fake::new(vec![
            not_found(),
            not_found(),
            page("IN_PROGRESS", vec![]),
            page("COMPLETE", vec![]),
        ]);
        source.registry = Ok(registry_config);
        source.repository = Ok(Some(repository_config));
        let (result, lines) = wait(&source, &image(), Duration::from_secs(5)).await;
        result.unwrap();
        assert_eq!(source.pages(), 4);
        assert_eq!(
            source.config_calls.load(Ordering::SeqCst),
            2,
            "each read once"
        );
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("waiting for the scan of team/api:v1: NOT_STARTED"));
    }
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_configuration_is_said_and_the_gate_keeps_waiting() {
    let mut source = Fake::new(vec![not_found(), page("COMPLETE", vec![])]);
    source.registry = Err(failure("AccessDeniedException"));
    source.repository = Ok(Some(repository("MANUAL", false)));
    let (result, lines) = wait(&source, &image(), Duration::from_secs(5)).await;
    result.unwrap();
    assert!(
        lines[0].starts_with(
            "cannot tell whether a scan will start: reading the registry \
             scanning configuration failed (ECR AccessDeniedException: no); waiting"
        ),
        "{lines:?}"
    );

    let mut source = Fake::new(vec![not_found(), page("COMPLETE", vec![])]);
    source.repository = Err(failure("AccessDeniedException"));
    let (result, lines) = wait(&source, &image(), Duration::from_secs(5)).await;
    result.unwrap();
    assert!(lines[0].contains("scanning configuration of repository team/api failed"));

    // Another registry's configuration cannot be read at all.
    let mut source = Fake::new(vec![not_found(), page("COMPLETE", vec![])]);
    source.repository = Ok(Some(repository("MANUAL", false)));
    let other = ImageRef {
        account: "210987654321".into(),
        ..image()
    };
    let (result, lines) = wait(&source, &other, Duration::from_secs(5)).await;
    result.unwrap();
    assert_eq!(source.config_calls.load(Ordering::SeqCst), 0);
    assert!(lines[0].contains("--registry-id 210987654321"), "{lines:?}");
}

#[tokio::test(start_paused = true)]
async fn a_pending_scan_does_not_read_the_configuration() {
    let mut source = Fake::new(vec![page("PENDING", vec![]), page("ACTIVE", vec![])]);
    source.repository = Ok(Some(repository("MANUAL", false)));
    let (result, _) = wait(&source, &image(), Duration::from_secs(5)).await;
    result.unwrap();
    assert_eq!(source.config_calls.load(Ordering::SeqCst), 0);
}

#[test]
fn registry_filters_match_as_ecr_documents() {
    // The user guide's table: repository names against filters.
    let names = [
        "prod",
        "repo-prod",
        "prod-repo",
        "repo-prod-repo",
        "prodrepo",
    ];
    for (filter, expected) in [
        ("prod", [true, true, true, true, true]),
        ("*prod", [true, true, false, false, false]),
        ("prod*", [true, false, true, false, true]),
        ("*prod*", [true, true, true, true, true]),
        ("prod*repo", [false, false, true, false, true]),
    ] {
        let got: Vec<bool> = names.iter().map(|n| filter_matches(filter, n)).collect();
        assert_eq!(got, expected, "{filter}");
    }
}

#[test]
fn a_long_filter_list_is_cut_short() {
    let filters: Vec<String> = (0..8).map(|i| format!("svc-{i}")).collect();
    let filters: Vec<&str> = filters.iter().map(String::as_str).collect();
    let registry = registry("BASIC", vec![("SCAN_ON_PUSH", &filters)]);
    let settings = no_scan_will_start("team/api", &registry, &repository("MANUAL", false)).unwrap();
    assert!(
        settings.contains("SCAN_ON_PUSH for svc-0, svc-1, svc-2, svc-3, svc-4, and 3 more"),
        "{settings}"
    );
}

const NOW: i64 = 1_764_806_400; // 2025-12-04T00:00:00Z
const DAY: i64 = 86_400;

fn scanned(
    status: &str,
    at: Option<i64>,
    findings: Vec<Finding>,
) -> Result<FindingsPage, SourceError> {
    let mut page = page(status, findings)?;
    page.completed_at = at;
    Ok(page)
}

fn options(start_scan: bool, max_age: Option<Duration>) -> Options {
    Options {
        wait: false,
        start_scan,
        max_age,
        timeout: Duration::from_secs(5),
        interval: Duration::from_millis(10),
        budgets: Budgets::default(),
        owner_tag_key: "owner".into(),
        registry_account: None,
    }
}

async fn gate(source: &Fake, options: Options) -> (Result<Report, GateError>, Vec<String>) {
    let mut lines = Vec::new();
    let now = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
    let policy = Policy::new(Severity::High);
    let result = run(source, &image(), &policy, &options, now, |l| lines.push(l)).await;
    (result, lines)
}

#[tokio::test(start_paused = true)]
async fn start_scan_starts_a_basic_scan_when_there_is_none_and_waits_for_it() {
    let source = Fake::new(vec![
        not_found(),
        scanned("IN_PROGRESS", None, vec![]),
        scanned("COMPLETE", Some(NOW), basic(2)),
    ]);
    let (report, lines) = gate(&source, options(true, None)).await;
    let report = report.unwrap();
    assert_eq!(source.start_calls.load(Ordering::SeqCst), 1);
    assert_eq!(report.violations_total, 2);
    assert_eq!(
        lines[0],
        "no scan of team/api:v1 yet: started a basic scan (--start-scan)"
    );
}

#[tokio::test(start_paused = true)]
async fn start_scan_leaves_an_enhanced_registry_to_inspector() {
    let mut source = Fake::new(vec![not_found()]);
    source.registry = Ok(registry("ENHANCED", vec![("SCAN_ON_PUSH", &["*"])]));
    let (result, _) = gate(&source, options(true, None)).await;
    let err = result.unwrap_err().to_string();
    assert_eq!(source.start_calls.load(Ordering::SeqCst), 0);
    assert!(
        err.starts_with(
            "--start-scan starts basic scans only, and the registry uses enhanced scanning"
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_scan_within_max_age_is_judged_as_it_is() {
    let source = Fake::new(vec![scanned("COMPLETE", Some(NOW - 3_600), basic(1))]);
    let (report, lines) = gate(
        &source,
        options(false, Some(Duration::from_secs(DAY as u64))),
    )
    .await;
    assert_eq!(
        report.unwrap().scan_completed_at.as_deref(),
        Some("2025-12-03T23:00:00Z")
    );
    assert_eq!(source.start_calls.load(Ordering::SeqCst), 0);
    assert!(lines.is_empty(), "{lines:?}");
}

#[tokio::test(start_paused = true)]
async fn a_basic_scan_older_than_max_age_is_redone_before_judging() {
    let old = Some(NOW - 10 * DAY);
    let source = Fake::new(vec![
        scanned("COMPLETE", old, basic(1)),
        // ECR has not switched to the new scan yet.
        scanned("COMPLETE", old, basic(1)),
        scanned("IN_PROGRESS", old, vec![]),
        scanned("COMPLETE", Some(NOW), basic(3)),
    ]);
    let (report, lines) = gate(
        &source,
        options(false, Some(Duration::from_secs(7 * DAY as u64))),
    )
    .await;
    let report = report.unwrap();
    assert_eq!(source.start_calls.load(Ordering::SeqCst), 1);
    assert_eq!(report.violations_total, 3, "judged on the new scan");
    assert_eq!(
        lines[0],
        "the last scan of team/api:v1 completed 10d ago, longer than --max-age 7d: starting a new basic scan"
    );
}

#[tokio::test(start_paused = true)]
async fn a_basic_scan_redone_within_24_hours_is_refused_with_what_to_do() {
    let source = Fake::new(vec![scanned("COMPLETE", Some(NOW - 5 * 3_600), basic(1))]);
    source
        .starts
        .lock()
        .unwrap()
        .push_back(Err(StartScanError::LimitExceeded(failure(
            "LimitExceededException",
        ))));
    let (result, _) = gate(&source, options(false, Some(Duration::from_secs(3_600)))).await;
    let err = result.unwrap_err().to_string();
    assert!(
        err.starts_with(
            "cannot start a new scan of team/api:v1: ECR starts a basic scan of an image at \
             most once per 24 hours, scan on push included (ECR LimitExceededException: no); \
             the last one completed 5h ago."
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_enhanced_scan_older_than_max_age_cannot_be_judged() {
    let source = Fake::new(vec![scanned("ACTIVE", Some(NOW - 40 * DAY), enhanced(1))]);
    let (result, _) = gate(
        &source,
        options(false, Some(Duration::from_secs(30 * DAY as u64))),
    )
    .await;
    let err = result.unwrap_err().to_string();
    assert_eq!(source.start_calls.load(Ordering::SeqCst), 0);
    assert!(
        err.starts_with(
            "the last scan of team/api:v1 completed 40d ago, longer than --max-age 30d; it is \
             an enhanced scan"
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn max_age_without_a_completion_time_cannot_be_checked() {
    let source = Fake::new(vec![scanned("COMPLETE", None, basic(1))]);
    let (result, _) = gate(&source, options(false, Some(Duration::from_secs(3_600)))).await;
    assert!(result
        .unwrap_err()
        .to_string()
        .starts_with("cannot check --max-age: ECR gave no completion time (imageScanCompletedAt)"));
}

#[test]
fn ages_read_at_a_glance() {
    for (secs, text) in [
        (15, "15s"),
        (120, "2m"),
        (3_600, "1h"),
        (5_400, "1h 30m"),
        (86_400, "1d"),
        (97_200, "1d 3h"),
    ] {
        assert_eq!(human(Duration::from_secs(secs)), text);
    }
}
