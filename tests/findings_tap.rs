//! Layer 2: findings read by the HTTP client itself (findings_tap) are the
//! findings the SDK's own reading gives, for the same answer.

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::aws::findings_tap::{
    split_findings, split_findings_counting_below, FindingsTap,
};
use ecr_scan_alerts::domain::image::ImageRef;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::ports::{FindingsPage, FindingsSource, SourceError};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A page as ECR writes it (AWS CLI reference, describe-image-scan-findings
/// example), with what real answers hold too: escapes, non-ASCII, missing
/// and null fields, an unknown severity, attributes without values.
const PAGE: &str = r#"{
  "registryId": "123456789012",
  "repositoryName": "demo/web",
  "imageId": {"imageDigest": "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef01", "imageTag": "3f2c1ab"},
  "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
  "imageScanFindings": {
    "imageScanCompletedAt": 1764547200,
    "vulnerabilitySourceUpdatedAt": 1764540000.5,
    "findingSeverityCounts": {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1},
    "findings": [
      {"name": "CVE-2026-0001", "description": "Heap overflow in \"parser\" \u2014 see\nnotes", "uri": "https://security-tracker.debian.org/tracker/CVE-2026-0001",
       "severity": "CRITICAL", "attributes": [{"key": "package_version", "value": "3.0.2"}, {"key": "package_name", "value": "openssl"},
       {"key": "CVSS2_VECTOR", "value": "AV:N/AC:L/Au:N/C:P/I:P/A:P"}, {"key": "CVSS2_SCORE", "value": "7.5"}, {"key": "CVSS3_SCORE", "value": " 9.8 "}]},
      {"name": "CVE-2026-0002", "severity": "HIGH", "attributes": [{"key": "package_\u006eame", "value": "zlib\u002dng"}, {"key": "package_version"}]},
      {"name": "CVE-2026-0003", "description": null, "uri": null, "severity": "MEDIUM", "attributes": []},
      {"description": "no name", "severity": "SEVERE"},
      {"name": "CVE-2026-0005", "severity": "LOW", "attributes": [{"key": "CVSS2_SCORE", "value": "n/a"}]}
    ]
  },
  "nextToken": "page-2"
}"#;

/// An image of its own per test (the tap keeps nothing between calls; an
/// image per test keeps the tests' requests apart all the same).
fn image(test: u8) -> ImageRef {
    ImageRef {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: "demo/web".into(),
        digest: format!("sha256:{test:064x}"),
        tags: vec!["3f2c1ab".into()],
    }
}

fn source(tapped: bool, body: &'static str, status: u16, calls: Arc<AtomicUsize>) -> EcrFindings {
    sourced(tapped, vec![body], status, calls, SdkSaw::default())
}

/// What the SDK was handed to read, answer by answer: whether the answer
/// still held a findings list (the tap hands it over without them when it
/// read them itself).
#[derive(Debug, Clone, Default)]
struct SdkSaw(Arc<std::sync::Mutex<Vec<bool>>>);

impl SdkSaw {
    fn findings_lists(&self) -> Vec<bool> {
        self.0.lock().unwrap().clone()
    }
}

impl aws_smithy_runtime_api::client::interceptors::Intercept for SdkSaw {
    fn name(&self) -> &'static str {
        "SdkSaw"
    }

    fn read_before_deserialization(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let body = context.response().body().bytes().unwrap_or_default();
        let text = String::from_utf8_lossy(body);
        self.0
            .lock()
            .unwrap()
            .push(text.contains("\"findings\"") || text.contains("\"enhancedFindings\""));
        Ok(())
    }
}

/// A source whose HTTP client answers `bodies` in turn (the last one
/// again and again), with the tap or without, and what the SDK saw.
fn sourced(
    tapped: bool,
    bodies: Vec<&'static str>,
    status: u16,
    calls: Arc<AtomicUsize>,
    saw: SdkSaw,
) -> EcrFindings {
    let http = infallible_client_fn(move |_request| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let body = bodies[n.min(bodies.len() - 1)];
        http::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.1")
            .body(SdkBody::from(body))
            .unwrap()
    });
    let http = if tapped {
        FindingsTap::wrap(http)
    } else {
        http
    };
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .region(aws_sdk_ecr::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecr::config::Credentials::for_tests())
        .interceptor(saw)
        .http_client(http)
        .build();
    EcrFindings::new(aws_sdk_ecr::Client::from_conf(config))
}

/// The page through the tap, and whether the tap (not the SDK) read its
/// findings.
async fn tapped_page(test: u8, body: &'static str) -> (FindingsPage, bool) {
    let saw = SdkSaw::default();
    let page = sourced(true, vec![body], 200, Arc::default(), saw.clone())
        .page(&image(test), None, None)
        .await
        .unwrap();
    (page, saw.findings_lists() == [false])
}

async fn page(
    test: u8,
    tapped: bool,
    body: &'static str,
    token: Option<&str>,
) -> Result<FindingsPage, SourceError> {
    source(tapped, body, 200, Arc::default())
        .page(&image(test), token, None)
        .await
}

#[tokio::test]
async fn the_tap_reads_the_same_findings_as_the_sdk() {
    let by_sdk = page(1, false, PAGE, None).await.unwrap();
    let (by_tap, tap_read_them) = tapped_page(1, PAGE).await;
    assert!(tap_read_them, "the tap's path, not the SDK's fallback");
    assert_eq!(by_sdk.findings.len(), 5);
    assert_eq!(by_tap, by_sdk);
    let first = &by_tap.findings[0];
    assert_eq!(
        first.title.as_deref(),
        Some("Heap overflow in \"parser\" \u{2014} see\nnotes")
    );
    assert_eq!(first.score, Some(9.8));
    // Escaped text is read as the SDK reads it, in attributes too.
    assert_eq!(by_tap.findings[1].package_name.as_deref(), Some("zlib-ng"));
    assert_eq!(by_tap.next_token.as_deref(), Some("page-2"));
    assert_eq!(by_tap.completed_at, Some(1_764_547_200));
    // The next page of the same image is a request of its own.
    let second = page(1, true, PAGE, Some("page-2")).await.unwrap();
    assert_eq!(second, by_sdk);
}

#[tokio::test]
async fn the_sdk_is_handed_the_answer_without_the_basic_findings() {
    let (tapped, rest) = split_findings(PAGE.as_bytes()).unwrap();
    assert_eq!(tapped.findings.len(), 5);
    assert_eq!(tapped.usage, Default::default(), "basic: usage unknown");
    let rest: serde_json::Value = serde_json::from_slice(&rest).unwrap();
    let full: serde_json::Value = serde_json::from_str(PAGE).unwrap();
    let mut expected = full.clone();
    expected["imageScanFindings"]
        .as_object_mut()
        .unwrap()
        .remove("findings");
    assert_eq!(rest, expected);
}

/// An enhanced page as ECR writes it (ECR API reference,
/// EnhancedImageScanFinding; the enhanced sample of events/), with the
/// odd values Inspector sends too.
const ENHANCED: &str = r#"{
  "imageScanStatus": {"status": "ACTIVE", "description": "Continuous scan is selected for image."},
  "imageScanFindings": {
    "imageScanCompletedAt": 1764547200.25,
    "findingSeverityCounts": {"HIGH": 2, "MEDIUM": 1, "UNTRIAGED": 1},
    "enhancedFindings": [
      {"awsAccountId": "123456789012", "description": "A flaw \"here\" \u00e9", "findingArn": "arn:aws:inspector2:us-east-1:123456789012:finding/1",
       "firstObservedAt": 1764540000.0, "lastObservedAt": 1764547200.0, "updatedAt": 1764547200.0,
       "packageVulnerabilityDetails": {"cvss": [{"baseScore": 7.5, "scoringVector": "CVSS:3.1/AV:N", "source": "NVD", "version": "3.1"}],
         "referenceUrls": ["https://example.com/ref-1", "https://example.com/ref-2"], "relatedVulnerabilities": ["CVE-2026-8"],
         "source": "NVD", "sourceUrl": "https://nvd.nist.gov/vuln/detail/CVE-2026-9", "vendorSeverity": "HIGH",
         "vulnerabilityId": "CVE-2026-9",
         "vulnerablePackages": [{"arch": "X86_64", "epoch": 0, "name": "curl", "packageManager": "OS", "release": "1",
                                 "version": "7.88.1", "fixedInVersion": "8.5.0", "sourceLayerHash": "sha256:ab"},
                                {"name": "libcurl", "version": "7.88.1", "fixedInVersion": "8.5.1"}]},
       "remediation": {"recommendation": {"text": "Upgrade", "url": "https://example.com/fix"}},
       "resources": [{"details": {"awsEcrContainerImage": {"architecture": "amd64", "imageTags": ["v1"], "pushedAt": 1764500000.0,
                     "inUseCount": 3, "lastInUseAt": 1764547100.5,
                     "registry": "123456789012", "repositoryName": "demo/web"}}, "id": "arn:aws:ecr:x", "type": "AWS_ECR_CONTAINER_IMAGE"}],
       "score": 7.5, "scoreDetails": {"cvss": {"adjustments": [], "score": 7.5, "scoreSource": "NVD", "scoringVector": "CVSS:3.1/AV:N", "version": "3.1"}},
       "severity": "HIGH", "status": "ACTIVE", "title": "CVE-2026-9 - curl, libcurl", "type": "PACKAGE_VULNERABILITY",
       "exploitAvailable": "YES", "fixAvailable": "YES"},
      {"packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-10", "referenceUrls": ["https://example.com/only-ref"],
         "vulnerablePackages": [{"name": "zlib", "version": "1.2.13", "fixedInVersion": "NotAvailable"}]},
       "resources": [{"details": {"awsEcrContainerImage": {"inUseCount": 0, "pushedAt": 1764500000}}, "type": "AWS_ECR_CONTAINER_IMAGE"}],
       "severity": "HIGH", "fixAvailable": "NO", "exploitAvailable": "NO", "title": "CVE-2026-10 - zlib"},
      {"packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2026-11", "vulnerablePackages": [{"name": "bash", "fixedInVersion": ""}]},
       "severity": "MEDIUM", "score": 0.0, "fixAvailable": "PARTIAL"},
      {"title": "IN1-PYTHON-2026-1 - no details", "severity": "UNTRIAGED", "fixAvailable": "MAYBE", "score": null},
      {"severity": "HIGH", "packageVulnerabilityDetails": {"vulnerablePackages": []}}
    ]
  },
  "nextToken": "enhanced-2"
}"#;

#[tokio::test]
async fn the_tap_reads_enhanced_findings_as_the_sdk_does() {
    let by_sdk = page(2, false, ENHANCED, None).await.unwrap();
    let (by_tap, tap_read_them) = tapped_page(2, ENHANCED).await;
    assert!(tap_read_them, "the tap's path, not the SDK's fallback");
    assert_eq!(by_sdk.findings.len(), 5);
    assert_eq!(by_tap, by_sdk);
    let first = &by_tap.findings[0];
    assert_eq!(first.id, "CVE-2026-9");
    assert_eq!(
        first.package_name.as_deref(),
        Some("curl"),
        "the first package"
    );
    assert_eq!(first.fixed_in.as_deref(), Some("8.5.0"));
    assert_eq!(
        first.link.as_deref(),
        Some("https://nvd.nist.gov/vuln/detail/CVE-2026-9")
    );
    assert_eq!(
        by_tap.findings[1].link.as_deref(),
        Some("https://example.com/only-ref")
    );
    assert_eq!(
        by_tap.findings[1].fixed_in, None,
        "NotAvailable is no version"
    );
    assert_eq!(by_tap.findings[2].score, None, "a score of 0.0 is none");
    assert_eq!(by_tap.findings[3].id, "IN1-PYTHON-2026-1 - no details");
    let exploits: Vec<_> = by_tap
        .findings
        .iter()
        .map(|f| f.exploit_available)
        .collect();
    assert_eq!(exploits, [Some(true), Some(false), None, None, None]);
    assert_eq!(by_tap.usage.in_use_count, Some(3), "the highest count");
    assert_eq!(by_tap.usage.last_in_use_at, Some(1_764_547_100));
    assert_eq!(by_tap.usage.pushed_at, Some(1_764_500_000));
    assert_eq!(by_tap.next_token.as_deref(), Some("enhanced-2"));
}

#[tokio::test]
async fn answers_the_tap_cannot_read_reach_the_sdk_as_they_are() {
    // No findings lists at all: nothing for the tap, all for the SDK.
    const PENDING: &str = r#"{"imageScanStatus": {"status": "IN_PROGRESS"}, "imageScanFindings": {"imageScanCompletedAt": 1764547200}}"#;
    let by_tap = page(3, true, PENDING, None).await.unwrap();
    assert_eq!(by_tap, page(3, false, PENDING, None).await.unwrap());
    assert_eq!(by_tap.status.unwrap().status, "IN_PROGRESS");
    assert!(split_findings(PENDING.as_bytes()).is_none());
    assert!(split_findings(b"not json").is_none());
    // An error answer keeps ECR's code and message.
    const MISSING: &str = r#"{"__type": "ScanNotFoundException", "message": "Image scan does not exist for the image"}"#;
    let calls = Arc::new(AtomicUsize::new(0));
    let err = source(true, MISSING, 400, calls.clone())
        .page(&image(3), None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SourceError::ScanNotFound(ref f) if f.message == "Image scan does not exist for the image"),
        "{err:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn basic_findings_below_the_threshold_are_only_counted() {
    let (whole, _) = split_findings(PAGE.as_bytes()).unwrap();
    let (counted, rest) =
        split_findings_counting_below(PAGE.as_bytes(), Some(Severity::High)).unwrap();
    let kept: Vec<_> = whole
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::High)
        .cloned()
        .collect();
    assert_eq!(counted.findings, kept, "those at or above: whole");
    let mut below = ecr_scan_alerts::domain::severity::SeverityCounts::default();
    for f in whole
        .findings
        .iter()
        .filter(|f| f.severity < Severity::High)
    {
        below.add(f.severity, 1);
    }
    assert_eq!(counted.counted, below, "those below: counted by severity");
    assert_eq!(counted.counted.total(), 3);
    let (_, whole_rest) = split_findings(PAGE.as_bytes()).unwrap();
    assert_eq!(rest, whole_rest, "the SDK gets the same answer");

    // Through the adapter: the hint reaches the tap for this request only.
    let source = source(true, PAGE, 200, Arc::default());
    let hinted = source
        .page(&image(4), None, Some(Severity::Critical))
        .await
        .unwrap();
    let ids: Vec<&str> = hinted.findings.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(ids, ["CVE-2026-0001"], "CRITICAL: kept");
    assert_eq!(hinted.counted.total(), 4);
    let plain = source.page(&image(4), None, None).await.unwrap();
    assert_eq!(plain.findings.len(), 5, "no hint left behind");
    assert_eq!(plain.counted.total(), 0);
}

#[tokio::test]
async fn answers_the_tap_reads_only_in_part_reach_the_sdk_whole() {
    // Not UTF-8 inside a finding: the SDK reads the answer (and rejects
    // it), not the tap.
    let mut bytes = PAGE.as_bytes().to_vec();
    let at = PAGE.find("CVE-2026-0003").unwrap();
    bytes[at + 4] = 0xff;
    assert!(split_findings(&bytes).is_none());

    // A finding counted from its first severity, whose attributes were
    // skipped, then a second severity at the threshold: read by the SDK,
    // which takes the last severity and has the attributes.
    const TWICE: &str = r#"{"imageScanFindings": {"findings": [
      {"name": "CVE-2026-0009", "severity": "LOW", "attributes": [{"key": "package_name", "value": "curl"}], "severity": "HIGH"}
    ]}}"#;
    assert!(split_findings_counting_below(TWICE.as_bytes(), Some(Severity::High)).is_none());
    let (whole, _) = split_findings(TWICE.as_bytes()).unwrap();
    assert_eq!(whole.findings[0].severity, Severity::High);
    assert_eq!(whole.findings[0].package_name.as_deref(), Some("curl"));
    let by_sdk = source(false, TWICE, 200, Arc::default())
        .page(&image(5), None, None)
        .await
        .unwrap();
    let by_tap = source(true, TWICE, 200, Arc::default())
        .page(&image(5), None, Some(Severity::High))
        .await
        .unwrap();
    assert_eq!(by_tap.findings, by_sdk.findings);
    assert_eq!(by_tap.findings[0].package_name.as_deref(), Some("curl"));

    // JSON objects have no order: attributes before the severity are read
    // (and kept for a finding at the threshold) as the SDK reads them.
    const ATTRIBUTES_FIRST: &str = r#"{"imageScanFindings": {"findings": [
      {"name": "CVE-2026-0010", "attributes": [{"key": "package_name", "value": "zlib"}], "severity": "HIGH"},
      {"name": "CVE-2026-0011", "attributes": [{"key": "package_name", "value": "bash"}], "severity": "LOW"}
    ]}}"#;
    let (read, _) =
        split_findings_counting_below(ATTRIBUTES_FIRST.as_bytes(), Some(Severity::High)).unwrap();
    assert_eq!(read.findings.len(), 1);
    assert_eq!(read.findings[0].package_name.as_deref(), Some("zlib"));
    assert_eq!(read.counted.get(Severity::Low), 1);
}

#[tokio::test]
async fn a_page_whose_call_then_fails_is_never_seen_by_the_next_call() {
    // The tap reads the findings of the first answer, then the SDK fails
    // on the rest of it (a next token that is not a string): the call
    // fails, and its page goes with it.
    const BROKEN: &str = r#"{"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findings": [
      {"name": "CVE-2026-0099", "severity": "CRITICAL"}]}, "nextToken": 5}"#;
    const CLEAN: &str =
        r#"{"imageScanStatus": {"status": "COMPLETE"}, "imageScanFindings": {"findings": []}}"#;
    let saw = SdkSaw::default();
    let source = sourced(true, vec![BROKEN, CLEAN], 200, Arc::default(), saw.clone());

    assert!(source.page(&image(6), None, None).await.is_err());
    let next = source.page(&image(6), None, None).await.unwrap();

    assert_eq!(next.findings, vec![], "not the failed call's CVE-2026-0099");
    assert_eq!(saw.findings_lists(), [false, false], "both read by the tap");
}
