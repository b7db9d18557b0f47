//! The CPU-only parts of one event, at 100 to 50,000 findings: mapping SDK
//! findings to `Finding`s, judging and folding them, rendering the alert;
//! and the findings tap reading one page of 1,000 basic findings as ECR
//! writes it.
//! `make bench` runs these and puts their medians in its table; they are
//! never timed tests (`cargo test` only runs each once to check it works).

use aws_sdk_ecr::types::{
    Attribute, EnhancedImageScanFinding, FindingSeverity, ImageScanFinding,
    PackageVulnerabilityDetails, VulnerablePackage,
};
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ecr_scan_alerts::adapters::aws::ecr::{from_basic, from_enhanced};
use ecr_scan_alerts::adapters::aws::findings_tap::split_findings_counting_below;
use ecr_scan_alerts::domain::finding::Finding;
use ecr_scan_alerts::domain::image::{ImageRef, ScanKind};
use ecr_scan_alerts::domain::judged::JudgedFindings;
use ecr_scan_alerts::domain::policy::Policy;
use ecr_scan_alerts::domain::severity::Severity;
use ecr_scan_alerts::render::{self, FindingsReport};
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 4] = [100, 1_000, 10_000, 50_000];
/// A large base image has hundreds of packages, not one per finding.
const PACKAGES: usize = 800;

/// Severity by position: 2% critical, 10% high, 38% medium, 40% low,
/// 10% unranked; the same mix as the end-to-end figures of `make bench`.
fn severity(i: usize) -> &'static str {
    match i % 100 {
        0..=1 => "CRITICAL",
        2..=11 => "HIGH",
        12..=49 => "MEDIUM",
        50..=89 => "LOW",
        _ => "UNTRIAGED",
    }
}

fn enhanced(i: usize) -> EnhancedImageScanFinding {
    let id = format!("CVE-2026-{i:05}");
    let package = format!("pkg{}", i % PACKAGES);
    let mut vulnerable = VulnerablePackage::builder()
        .name(&package)
        .version(format!("1.{}.0", i % 7));
    if i % 3 != 0 {
        vulnerable = vulnerable.fixed_in_version(format!("1.{}.1", i % 7));
    }
    EnhancedImageScanFinding::builder()
        .title(format!("{id} - {package}"))
        .description(format!(
            "{id} affects {package}: a description of moderate length."
        ))
        .severity(severity(i))
        .score((i % 100) as f64 / 10.0)
        .status("ACTIVE")
        .fix_available(if i % 3 != 0 { "YES" } else { "NO" })
        .package_vulnerability_details(
            PackageVulnerabilityDetails::builder()
                .vulnerability_id(&id)
                .source("NVD")
                .source_url(format!("https://nvd.nist.gov/vuln/detail/{id}"))
                .vulnerable_packages(vulnerable.build())
                .build(),
        )
        .build()
}

fn basic(i: usize) -> ImageScanFinding {
    let id = format!("CVE-2026-{i:05}");
    let severity = match severity(i) {
        "UNTRIAGED" => "INFORMATIONAL",
        s => s,
    };
    let attribute = |key: &str, value: String| {
        Attribute::builder()
            .key(key)
            .value(value)
            .build()
            .expect("key is set")
    };
    ImageScanFinding::builder()
        .name(&id)
        .description(format!(
            "{id} in a package: a description of moderate length."
        ))
        .uri(format!("https://security-tracker.debian.org/tracker/{id}"))
        .severity(FindingSeverity::from(severity))
        .attributes(attribute("package_name", format!("pkg{}", i % PACKAGES)))
        .attributes(attribute("package_version", format!("1.{}.0", i % 7)))
        .attributes(attribute(
            "CVSS3_SCORE",
            format!("{}", (i % 100) as f64 / 10.0),
        ))
        .build()
}

/// One DescribeImageScanFindings answer (a page) of basic findings, as ECR
/// writes it: `imageScanFindings.findings` with the fields of `basic`.
fn basic_page(n: usize) -> Vec<u8> {
    let findings: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            let f = basic(i);
            let attributes: Vec<serde_json::Value> = f
                .attributes()
                .iter()
                .map(|a| serde_json::json!({"key": a.key(), "value": a.value()}))
                .collect();
            serde_json::json!({
                "name": f.name(),
                "description": f.description(),
                "uri": f.uri(),
                "severity": f.severity().map(|s| s.as_str()),
                "attributes": attributes,
            })
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "registryId": "123456789012",
        "repositoryName": "bench/app",
        "imageId": {"imageDigest": format!("sha256:{}", "a".repeat(64))},
        "imageScanStatus": {"status": "COMPLETE", "description": "The scan was completed successfully."},
        "imageScanFindings": {
            "imageScanCompletedAt": 1.7e9,
            "vulnerabilitySourceUpdatedAt": 1.7e9,
            "findingSeverityCounts": {"HIGH": 1},
            "findings": findings,
        },
        "nextToken": "next",
    }))
    .expect("JSON")
}

fn image() -> ImageRef {
    ImageRef {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: "bench/large-base-image".into(),
        digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
        tags: vec!["v1.2.3".into()],
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date")
}

/// Judges and folds `findings` the way the pipeline does, page by page.
fn fold(policy: &Policy, image: &ImageRef, findings: Vec<Finding>) -> JudgedFindings {
    let image_policy = policy.for_image(image, today());
    let mut tally = JudgedFindings::default();
    for finding in findings {
        let verdict = image_policy.judge(&finding).verdict;
        tally.add(finding, verdict);
    }
    tally
}

fn benches(c: &mut Criterion) {
    let image = image();
    let policy = Policy::new(Severity::High);
    // The tap's reading of one page (1,000 basic findings, the most ECR
    // returns at once), counting those below HIGH as the pipeline asks.
    let page = basic_page(1_000);
    let mut group = c.benchmark_group("tap_basic_page");
    group.throughput(Throughput::Bytes(page.len() as u64));
    group.bench_function("1000", |b| {
        b.iter(|| split_findings_counting_below(black_box(&page), Some(Severity::High)))
    });
    group.finish();
    for n in SIZES {
        let sdk_enhanced: Vec<EnhancedImageScanFinding> = (0..n).map(enhanced).collect();
        let sdk_basic: Vec<ImageScanFinding> = (0..n).map(basic).collect();
        let findings: Vec<Finding> = sdk_enhanced.iter().cloned().map(from_enhanced).collect();

        let mut group = c.benchmark_group("map_enhanced");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || sdk_enhanced.clone(),
                |input| input.into_iter().map(from_enhanced).collect::<Vec<_>>(),
                BatchSize::LargeInput,
            )
        });
        group.finish();

        let mut group = c.benchmark_group("map_basic");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || sdk_basic.clone(),
                |input| input.into_iter().map(from_basic).collect::<Vec<_>>(),
                BatchSize::LargeInput,
            )
        });
        group.finish();

        let mut group = c.benchmark_group("policy_tally");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(n.to_string(), |b| {
            b.iter_batched(
                || findings.clone(),
                |input| fold(&policy, &image, input),
                BatchSize::LargeInput,
            )
        });
        group.finish();

        let tally = fold(&policy, &image, findings);
        let report = FindingsReport {
            image: &image,
            kind: ScanKind::Enhanced,
            status: "ACTIVE",
            threshold: Severity::High,
            tally: &tally,
            event_id: Some("bench"),
            notes: &[],
            account_alias: None,
            owner: None,
        };
        let mut group = c.benchmark_group("render");
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(n.to_string(), |b| {
            b.iter(|| render::findings_alert(black_box(&report)))
        });
        group.finish();
    }
}

fn config() -> Criterion {
    // Enough samples for a stable median on a shared 2-core machine, few
    // enough that the whole run stays around a minute.
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = pipeline;
    config = config();
    targets = benches
}
criterion_main!(pipeline);
