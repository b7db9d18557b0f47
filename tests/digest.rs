//! Layer 2: the digest through the real ECR and SNS adapters, ECR's answers
//! from aws-smithy-mocks: two owners' repositories, an overdue finding, an
//! image scanning no longer watches, an expiring allow-list entry, and a
//! clean owner's heartbeat.

use aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsOutput;
use aws_sdk_ecr::operation::describe_images::DescribeImagesOutput;
use aws_sdk_ecr::operation::describe_repositories::DescribeRepositoriesOutput;
use aws_sdk_ecr::operation::get_registry_scanning_configuration::GetRegistryScanningConfigurationOutput;
use aws_sdk_ecr::operation::list_tags_for_resource::ListTagsForResourceOutput;
use aws_sdk_ecr::types::{
    FindingSeverity, ImageDetail, ImageScanFinding, ImageScanFindings, ImageScanFindingsSummary,
    ImageScanStatus, ImageScanningConfiguration, RegistryScanningConfiguration, Repository,
    ScanStatus, ScanType, Tag,
};
use aws_sdk_sns::operation::publish::{PublishInput, PublishOutput};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::DateTime;
use ecr_scan_alerts::adapters::aws::ecr::EcrFindings;
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::config::Config;
use ecr_scan_alerts::ports::{BoxFuture, PolicySource, ServiceFailure};
use ecr_scan_alerts::App;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:alerts";
const DAY: i64 = 86_400;

struct Document(String);

impl PolicySource for Document {
    fn fetch(&self) -> BoxFuture<'_, Result<String, ServiceFailure>> {
        let text = self.0.clone();
        Box::pin(async move { Ok(text) })
    }
    fn name(&self) -> &str {
        "/scan-alerts/policy"
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn repository(name: &str, scan_on_push: bool) -> Repository {
    Repository::builder()
        .registry_id("123456789012")
        .repository_name(name)
        .image_scanning_configuration(
            ImageScanningConfiguration::builder()
                .scan_on_push(scan_on_push)
                .build(),
        )
        .build()
}

fn image(
    repository: &str,
    digest: &str,
    pushed_days_ago: i64,
    status: Option<ScanStatus>,
    counts: &[(FindingSeverity, i32)],
) -> ImageDetail {
    let mut detail = ImageDetail::builder()
        .registry_id("123456789012")
        .repository_name(repository)
        .image_digest(digest)
        .image_tags("v1")
        .image_pushed_at(DateTime::from_secs(now() - pushed_days_ago * DAY));
    if let Some(status) = status {
        detail = detail
            .image_scan_status(ImageScanStatus::builder().status(status).build())
            .image_scan_findings_summary(
                ImageScanFindingsSummary::builder()
                    .image_scan_completed_at(DateTime::from_secs(now() - DAY))
                    .set_finding_severity_counts(Some(
                        counts.iter().cloned().collect::<HashMap<_, _>>(),
                    ))
                    .build(),
            );
    }
    detail.build()
}

/// The registry uses basic scanning.
fn basic_scanning() -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration).then_output(|| {
        GetRegistryScanningConfigurationOutput::builder()
            .scanning_configuration(
                RegistryScanningConfiguration::builder()
                    .scan_type(ScanType::Basic)
                    .build(),
            )
            .build()
    })
}

/// A basic-scanning registry of one repository, `search/web` (owner
/// `search`), with one clean current image.
fn search_registry() -> [aws_smithy_mocks::Rule; 4] {
    [
        basic_scanning(),
        mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
            DescribeRepositoriesOutput::builder()
                .repositories(repository("search/web", true))
                .build()
        }),
        mock!(aws_sdk_ecr::Client::describe_images).then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(image(
                    "search/web",
                    "sha256:ccc",
                    3,
                    Some(ScanStatus::Complete),
                    &[],
                ))
                .build()
        }),
        mock!(aws_sdk_ecr::Client::list_tags_for_resource).then_output(|| owner_tag("search")),
    ]
}

/// SNS publishes recorded in `into`.
fn recorded_publishes(into: &Arc<Mutex<Vec<PublishInput>>>) -> aws_smithy_mocks::Rule {
    let store = into.clone();
    mock!(aws_sdk_sns::Client::publish).then_compute_output(move |input| {
        store.lock().unwrap().push(input.clone());
        PublishOutput::builder().message_id("m").build()
    })
}

fn owner_tag(owner: &str) -> ListTagsForResourceOutput {
    ListTagsForResourceOutput::builder()
        .tags(Tag::builder().key("owner").value(owner).build().unwrap())
        .build()
}

#[tokio::test]
async fn each_owner_gets_one_digest_with_what_is_open_overdue_unwatched_and_expiring() {
    let scanning = basic_scanning();
    let repositories = mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
        DescribeRepositoriesOutput::builder()
            .repositories(repository("pay/api", true))
            .repositories(repository("pay/batch", false))
            .repositories(repository("search/web", true))
            .build()
    });
    let pay_images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("pay/api"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                // Pushed 40 days ago (a CRITICAL's 15 days are long past),
                // pulled lately: current.
                .image_details({
                    let mut d = image(
                        "pay/api",
                        "sha256:aaa",
                        40,
                        Some(ScanStatus::Complete),
                        &[(FindingSeverity::Critical, 1), (FindingSeverity::Low, 3)],
                    );
                    d.last_recorded_pull_time = Some(DateTime::from_secs(now() - DAY));
                    d
                })
                // AWS-native basic scanning: no status or summary here; the
                // findings answer says them.
                .image_details(image("pay/api", "sha256:nnn", 2, None, &[]))
                // Pushed a year ago and never pulled: not current, not read.
                .image_details(image(
                    "pay/api",
                    "sha256:old",
                    365,
                    Some(ScanStatus::Complete),
                    &[(FindingSeverity::Critical, 9)],
                ))
                .build()
        });
    let batch_images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("pay/batch"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(image("pay/batch", "sha256:bbb", 2, None, &[]))
                .build()
        });
    let search_images = mock!(aws_sdk_ecr::Client::describe_images)
        .match_requests(|r| r.repository_name() == Some("search/web"))
        .then_output(|| {
            DescribeImagesOutput::builder()
                .image_details(image(
                    "search/web",
                    "sha256:ccc",
                    3,
                    Some(ScanStatus::Complete),
                    &[(FindingSeverity::Medium, 2)],
                ))
                .build()
        });
    let findings = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:aaa"))
        .then_output(|| {
            DescribeImageScanFindingsOutput::builder()
                .image_scan_status(
                    ImageScanStatus::builder()
                        .status(ScanStatus::Complete)
                        .build(),
                )
                .image_scan_findings(
                    ImageScanFindings::builder()
                        .findings(
                            ImageScanFinding::builder()
                                .name("CVE-2026-28001")
                                .severity(FindingSeverity::Critical)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let native = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:nnn"))
        .then_output(|| {
            DescribeImageScanFindingsOutput::builder()
                .image_scan_status(
                    ImageScanStatus::builder()
                        .status(ScanStatus::Complete)
                        .build(),
                )
                .image_scan_findings(
                    ImageScanFindings::builder()
                        .image_scan_completed_at(DateTime::from_secs(now() - DAY))
                        .findings(
                            ImageScanFinding::builder()
                                .name("CVE-2026-28002")
                                .severity(FindingSeverity::High)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let never_scanned = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:bbb"))
        .then_error(|| {
            aws_sdk_ecr::operation::describe_image_scan_findings::DescribeImageScanFindingsError::ScanNotFoundException(
                aws_sdk_ecr::types::error::ScanNotFoundException::builder()
                    .message("Image scan does not exist for the image")
                    .build(),
            )
        });
    let pay_tags = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_arn()
                .is_some_and(|a| a.contains(":repository/pay/"))
        })
        .then_output(|| owner_tag("payments"));
    let search_tags = mock!(aws_sdk_ecr::Client::list_tags_for_resource)
        .match_requests(|r| {
            r.resource_arn()
                .is_some_and(|a| a.ends_with(":repository/search/web"))
        })
        .then_output(|| owner_tag("search"));
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[
            &scanning,
            &repositories,
            &pay_images,
            &batch_images,
            &search_images,
            &findings,
            &native,
            &never_scanned,
            &pay_tags,
            &search_tags
        ]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let expires = (chrono::Utc::now() + chrono::Duration::days(5)).date_naive();
    let document = format!(
        r#"{{"version": 1, "sla": {{"CRITICAL": 15, "HIGH": 30}},
            "allow": [{{"id": "CVE-2023-1", "repository": "pay/*", "reason": "not reachable", "expires": "{expires}"}}]}}"#
    );
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        ..Config::default()
    };
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    )
    .with_policy_source(Box::new(Document(document)));

    let outcome = app
        .handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();

    assert_eq!(outcome["owners"], 2);
    assert_eq!(outcome["published"], 2);
    assert_eq!(
        outcome["images_with_findings_read"], 2,
        "the image whose summary reaches HIGH, and the one without a summary"
    );
    let published = published.lock().unwrap().clone();
    let by_owner: HashMap<String, &PublishInput> = published
        .iter()
        .map(|p| {
            (
                p.message_attributes().unwrap()["owner"]
                    .string_value()
                    .unwrap()
                    .to_string(),
                p,
            )
        })
        .collect();
    let pay = by_owner["payments"];
    let attributes = pay.message_attributes().unwrap();
    assert_eq!(attributes["alert_kind"].string_value(), Some("digest"));
    assert_eq!(attributes["severity"].string_value(), Some("CRITICAL"));
    assert_eq!(
        pay.subject(),
        Some("Digest for payments: 1 critical, 1 high open, 1 overdue")
    );
    let body = pay.message().unwrap();
    assert!(
        body.contains("1 critical, 1 high open in 3 images of 2 repositories; 1 not watched"),
        "{body}"
    );
    assert!(
        body.contains("CVE-2026-28001  CRITICAL  pay/api:v1  25 days overdue"),
        "{body}"
    );
    assert!(body.contains("pay/batch:v1 (123456789012): scan on push is off, never scanned. To do: turn scan on push on"), "{body}");
    assert!(
        body.contains(&format!(
            "CVE-2023-1 (pay/*) expires {expires}: not reachable"
        )),
        "{body}"
    );
    let search = by_owner["search"];
    assert_eq!(
        search.message_attributes().unwrap()["severity"].string_value(),
        Some("NONE")
    );
    assert_eq!(
        search.subject(),
        Some("Digest for search: nothing open at or above HIGH")
    );
    assert!(search.message().unwrap().contains(
        "nothing open at or above HIGH in 1 images of 1 repositories; every image watched"
    ));
    assert!(
        !search.message().unwrap().contains("CVE-2023-1"),
        "the entry covers pay/* only"
    );
}

#[tokio::test]
async fn a_digest_starts_from_a_schedule_and_nothing_else() {
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]);
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[]);
    let app = App::new(
        Config::default(),
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    );
    let scan_event: serde_json::Value =
        serde_json::from_str(include_str!("../events/basic-scan-complete.json")).unwrap();
    let error = app.handle_digest(scan_event).await.unwrap_err();
    assert_eq!(error.error_type(), "InvalidEvent");
    assert!(error.to_string().contains("detail-type"), "{error}");
    assert!(app.handle_digest(serde_json::json!([1])).await.is_err());
}

/// The second digest says what is new and fixed since the first, and the
/// share fixed within its deadline; both name the open findings no alert
/// carried, with why: an image never alerted (its scan event lost), and an
/// image alerted for one finding but not another. A summary counting a
/// severity ECR does not document has its findings read, not ignored.
#[tokio::test]
async fn the_next_digest_counts_new_and_fixed_and_names_what_was_never_alerted() {
    use aws_sdk_ecr::types::{ImageScanFinding, ImageScanFindings};
    use ecr_scan_alerts::adapters::memory_store::{MemoryDigestState, MemoryStore};
    use ecr_scan_alerts::domain::dedup::{fingerprint, image_key, Known, Lease};
    use ecr_scan_alerts::domain::finding::Finding;
    use ecr_scan_alerts::domain::image::ImageRef;
    use ecr_scan_alerts::domain::severity::Severity;
    use ecr_scan_alerts::ports::DedupStore;
    use std::sync::atomic::{AtomicBool, Ordering};

    let second_run = Arc::new(AtomicBool::new(false));
    let scanning = basic_scanning();
    let repositories = mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
        DescribeRepositoriesOutput::builder()
            .repositories(repository("pay/api", true))
            .build()
    });
    let images = mock!(aws_sdk_ecr::Client::describe_images).then_output(|| {
        DescribeImagesOutput::builder()
            .image_details(image(
                "pay/api",
                "sha256:aaa",
                10,
                Some(ScanStatus::Complete),
                &[(FindingSeverity::Critical, 2)],
            ))
            .image_details(image(
                "pay/api",
                "sha256:bbb",
                2,
                Some(ScanStatus::Complete),
                &[(FindingSeverity::from("SEVERE"), 1)],
            ))
            .build()
    });
    let findings_of = |names: &[&str]| {
        let mut found = ImageScanFindings::builder();
        for name in names {
            found = found.findings(
                ImageScanFinding::builder()
                    .name(*name)
                    .severity(FindingSeverity::Critical)
                    .build(),
            );
        }
        DescribeImageScanFindingsOutput::builder()
            .image_scan_status(
                ImageScanStatus::builder()
                    .status(ScanStatus::Complete)
                    .build(),
            )
            .image_scan_findings(found.build())
            .build()
    };
    let switch = second_run.clone();
    let aaa = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:aaa"))
        .then_compute_output(move |_| {
            // CVE-2026-1 was alerted; CVE-2026-2 never was. By the second
            // digest CVE-2026-1 is fixed and CVE-2026-3 is new.
            if switch.load(Ordering::SeqCst) {
                findings_of(&["CVE-2026-2", "CVE-2026-3"])
            } else {
                findings_of(&["CVE-2026-1", "CVE-2026-2"])
            }
        });
    let bbb = mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
        .match_requests(|r| r.image_id().and_then(|i| i.image_digest()) == Some("sha256:bbb"))
        .then_compute_output(move |_| findings_of(&["CVE-2026-9"]));
    let tags =
        mock!(aws_sdk_ecr::Client::list_tags_for_resource).then_output(|| owner_tag("payments"));
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&scanning, &repositories, &images, &aaa, &bbb, &tags]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);

    // What the scan path recorded: image aaa alerted for CVE-2026-1 only;
    // image bbb never alerted.
    let alerted = MemoryStore::default();
    let aaa_ref = ImageRef {
        account: "123456789012".into(),
        region: "us-east-1".into(),
        repository: "pay/api".into(),
        digest: "sha256:aaa".into(),
        tags: Vec::new(),
    };
    let key = image_key(&aaa_ref);
    let lease = Lease {
        owner: "scan".into(),
        until: now() + 60,
    };
    alerted.claim(&key, None, &lease, now()).await.unwrap();
    let known = Known::from_fingerprints(vec![fingerprint(&Finding::new(
        "CVE-2026-1",
        Severity::Critical,
    ))]);
    alerted
        .commit(&key, "scan", &known, 1, now() + DAY)
        .await
        .unwrap();

    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        ..Config::default()
    };
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    )
    .with_policy_source(Box::new(Document(
        r#"{"version": 1, "sla": {"CRITICAL": 60}}"#.into(),
    )))
    .with_dedup(Box::new(alerted))
    .with_digest_state(Box::new(MemoryDigestState::default()))
    // CVE-2026-3 comes in a CVE storm, alerted once for all its images.
    .with_storm_store(Box::new(StormedOnly(vec!["CVE-2026-3".into()])));

    let first = app
        .handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();
    assert_eq!(
        first["images_with_findings_read"], 2,
        "an unknown severity in a summary has the findings read"
    );
    second_run.store(true, Ordering::SeqCst);
    app.handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();

    let published = published.lock().unwrap().clone();
    assert_eq!(published.len(), 2);
    let first = published[0].message().unwrap();
    assert!(
        first.contains("First digest: what is new and fixed is counted from the next one."),
        "{first}"
    );
    assert!(
        first.contains("NEVER ALERTED (2 open findings no alert carried)"),
        "{first}"
    );
    assert!(
        first.contains("pay/api:v1 (123456789012): 1 finding(s), worst CRITICAL (CVE-2026-2). Why: alerts were sent for this image, never for these findings"),
        "{first}"
    );
    assert!(
        first.contains("(CVE-2026-9). Why: no alert was ever recorded for this image: its scan event never arrived"),
        "{first}"
    );
    let second = published[1].message().unwrap();
    let today = chrono::Utc::now().date_naive();
    assert!(
        second.contains(&format!(
            "Since the last digest ({today}): 1 new, 1 fixed, 2 still open"
        )),
        "{second}"
    );
    assert!(
        second.contains("Fixed within their deadline since the last digest: 1 of 1 (100%)."),
        "{second}"
    );
    // CVE-2026-3 is new, and the storm alert carried it: not silent.
    assert!(
        second.contains("NEVER ALERTED (2 open findings no alert carried)"),
        "{second}"
    );
    assert!(!second.contains("(CVE-2026-3). Why"), "{second}");
}

/// A storm store that knows only which vulnerabilities' storms were
/// alerted (what the digest asks).
struct StormedOnly(Vec<String>);

impl ecr_scan_alerts::ports::StormStore for StormedOnly {
    fn record<'a>(
        &'a self,
        _: &'a str,
        _: &'a ecr_scan_alerts::domain::storm::Outbreak,
        _: i64,
    ) -> BoxFuture<'a, Result<ecr_scan_alerts::ports::StormState, ServiceFailure>> {
        unreachable!("the digest records no storm")
    }
    fn claim_alert<'a>(
        &'a self,
        _: &'a str,
        _: u64,
        _: i64,
    ) -> BoxFuture<'a, Result<ecr_scan_alerts::ports::Claim, ServiceFailure>> {
        unreachable!("the digest alerts no storm")
    }
    fn release_alert<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        unreachable!("the digest alerts no storm")
    }
    fn claim_follow_up<'a>(
        &'a self,
        _: &'a str,
        _: u64,
        _: u64,
        _: i64,
        _: i64,
    ) -> BoxFuture<'a, Result<ecr_scan_alerts::ports::Claim, ServiceFailure>> {
        unreachable!("the digest alerts no storm")
    }
    fn repositories<'a>(
        &'a self,
        _: &'a str,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<ecr_scan_alerts::ports::RepositoryStormCount>, ServiceFailure>>
    {
        unreachable!("the digest reads no storm counts")
    }
    fn alerted<'a>(
        &'a self,
        vulnerabilities: &'a [String],
    ) -> BoxFuture<'a, Result<std::collections::HashSet<String>, ServiceFailure>> {
        let hit = vulnerabilities
            .iter()
            .filter(|v| self.0.contains(v))
            .cloned()
            .collect();
        Box::pin(async move { Ok(hit) })
    }
}

/// A registry source whose member account answers after ten minutes.
struct SlowMember<S>(S, &'static str);

impl<S: ecr_scan_alerts::ports::FindingsSource> ecr_scan_alerts::ports::FindingsSource
    for SlowMember<S>
{
    fn page<'a>(
        &'a self,
        image: &'a ecr_scan_alerts::domain::image::ImageRef,
        next_token: Option<&'a str>,
        count_below: Option<ecr_scan_alerts::domain::severity::Severity>,
    ) -> BoxFuture<
        'a,
        Result<ecr_scan_alerts::ports::FindingsPage, ecr_scan_alerts::ports::SourceError>,
    > {
        self.0.page(image, next_token, count_below)
    }
    fn repository_tag<'a>(
        &'a self,
        image: &'a ecr_scan_alerts::domain::image::ImageRef,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ecr_scan_alerts::ports::SourceError>> {
        self.0.repository_tag(image, key)
    }
}

impl<S: ecr_scan_alerts::ports::RegistryListing> ecr_scan_alerts::ports::RegistryListing
    for SlowMember<S>
{
    fn repositories<'a>(
        &'a self,
        registry: &'a ecr_scan_alerts::domain::image::ImageRef,
    ) -> BoxFuture<
        'a,
        Result<
            Vec<ecr_scan_alerts::domain::digest::RepositoryInfo>,
            ecr_scan_alerts::ports::SourceError,
        >,
    > {
        self.0.repositories(registry)
    }
    fn images<'a>(
        &'a self,
        repository: &'a ecr_scan_alerts::domain::image::ImageRef,
    ) -> BoxFuture<
        'a,
        Result<
            Vec<ecr_scan_alerts::domain::digest::ImageInfo>,
            ecr_scan_alerts::ports::SourceError,
        >,
    > {
        self.0.images(repository)
    }
    fn scan_type<'a>(
        &'a self,
        registry: &'a ecr_scan_alerts::domain::image::ImageRef,
    ) -> BoxFuture<'a, Result<String, ecr_scan_alerts::ports::SourceError>> {
        Box::pin(async move {
            if registry.account == self.1 {
                tokio::time::sleep(std::time::Duration::from_secs(600)).await;
            }
            self.0.scan_type(registry).await
        })
    }
}

/// A registry not read by the run's deadline is named in every digest, and
/// the digests of what was read still go out; nothing read at all fails
/// the run.
#[tokio::test(start_paused = true)]
async fn a_registry_not_read_in_time_is_named_and_the_others_still_get_their_digests() {
    let rules = search_registry();
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&rules[0], &rules[1], &rules[2], &rules[3]]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        scope_account_ids: Some(
            ["123456789012", "555555555555"]
                .into_iter()
                .map(String::from)
                .collect(),
        ),
        ..Config::default()
    };
    let app = App::new(
        config,
        SlowMember(EcrFindings::new(ecr), "555555555555"),
        SnsAlerts::new(sns, TOPIC, None),
    );

    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    let outcome = app
        .handle_digest_by(serde_json::json!({"digest": "scheduled"}), Some(deadline))
        .await
        .unwrap();

    assert_eq!(
        outcome["registries_late"],
        serde_json::json!([
            "account 555555555555, region us-east-1: the run stopped reading it to send the digests before its timeout"
        ])
    );
    let published = published.lock().unwrap().clone();
    let [search] = published.as_slice() else {
        panic!("one digest expected, got {}", published.len());
    };
    assert!(
        search.message().unwrap().contains(
            "NOT READ: account 555555555555, region us-east-1: the run stopped reading it to send the digests before its timeout. Their repositories are missing here."
        ),
        "{}",
        search.message().unwrap()
    );

    // Nothing read in time at all: the run fails, naming the registries.
    let past = tokio::time::Instant::now();
    let only_member = App::new(
        Config {
            alert_topic_arn: TOPIC.into(),
            region: Some("us-east-1".into()),
            scope_account_ids: Some(["555555555555".to_string()].into_iter().collect()),
            ..Config::default()
        },
        SlowMember(
            EcrFindings::new(mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &[&rules[0]])),
            "555555555555",
        ),
        SnsAlerts::new(
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[]),
            TOPIC,
            None,
        ),
    );
    let error = only_member
        .handle_digest_by(serde_json::json!({"digest": "scheduled"}), Some(past))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("555555555555"), "{error}");
    assert!(
        error.to_string().contains("no registry was read"),
        "{error}"
    );
}

/// An organisation whose accounts cannot be listed.
struct Unlistable;

impl ecr_scan_alerts::ports::AccountDirectory for Unlistable {
    fn active_accounts(
        &self,
    ) -> BoxFuture<'_, Result<ecr_scan_alerts::ports::AccountList, ServiceFailure>> {
        Box::pin(async {
            Err(ServiceFailure {
                service: "Organizations",
                code: "AccessDeniedException".into(),
                message: "You don't have permissions to access this resource.".into(),
                transient: false,
            })
        })
    }
}

/// Organisation-wide with an OrganizationId alone, in an account that may
/// not list the organisation: this account is read, and every digest says
/// the others are missing and what to do.
#[tokio::test]
async fn when_the_organisations_accounts_cannot_be_listed_every_digest_says_so() {
    let rules = search_registry();
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&rules[0], &rules[1], &rules[2], &rules[3]]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        ..Config::default()
    };
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    )
    .with_account_directory(Box::new(Unlistable));

    let outcome = app
        .handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();

    assert!(outcome["accounts_problem"]
        .as_str()
        .unwrap()
        .contains("AccessDeniedException"));
    let published = published.lock().unwrap().clone();
    let [search] = published.as_slice() else {
        panic!("one digest expected, got {}", published.len());
    };
    let body = search.message().unwrap();
    assert!(
        body.contains("ACCOUNTS NOT LISTED: the organisation's accounts could not be listed (Organizations AccessDeniedException"),
        "{body}"
    );
    assert!(body.contains("list them in MemberAccountIds, or deploy the stack in the organisation's management account"), "{body}");
    assert!(body.contains("1 images of 1 repositories"), "{body}");
}

/// The digest queue: what a fanned-out run sent, in order.
#[derive(Clone, Default)]
struct RecordedQueue(Arc<Mutex<Vec<(String, u32)>>>);

impl ecr_scan_alerts::ports::WorkQueue for RecordedQueue {
    fn send<'a>(
        &'a self,
        messages: &'a [(String, u32)],
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        self.0.lock().unwrap().extend_from_slice(messages);
        Box::pin(async { Ok(()) })
    }
}

/// An SQS batch of one message, as the event source mapping delivers it.
fn sqs_batch(body: &str) -> serde_json::Value {
    serde_json::json!({"Records": [{
        "messageId": "m-1",
        "receiptHandle": "r",
        "body": body,
        "attributes": {},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:digest",
        "awsRegion": "us-east-1"
    }]})
}

/// Three accounts' registries, fanned out: one message per registry and a
/// delayed assembly; two parts report, the assembly (past the wait) sends
/// the digest naming the third, which then comes too late to count. A run
/// whose parts all report is assembled by the last part, once.
#[tokio::test]
async fn a_fanned_out_digest_reads_each_registry_apart_and_names_the_one_that_did_not_report() {
    let rules = search_registry();
    let ecr = mock_client!(
        aws_sdk_ecr,
        RuleMode::MatchAny,
        &[&rules[0], &rules[1], &rules[2], &rules[3]]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let accounts = ["111111111111", "222222222222", "333333333333"];
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        scope_account_ids: Some(accounts.into_iter().map(String::from).collect()),
        ..Config::default()
    };
    let runs = ecr_scan_alerts::adapters::memory_store::MemoryDigestRuns::default();
    let queue = RecordedQueue::default();
    let app = App::new(
        config,
        EcrFindings::new(ecr),
        SnsAlerts::new(sns, TOPIC, None),
    )
    .with_digest_runs(Box::new(runs.clone()))
    .with_work_queue(Box::new(queue.clone()));
    let sent = |queue: &RecordedQueue| queue.0.lock().unwrap().clone();

    // Scheduled two hours ago: past the run's wait when the assembly looks.
    let at = chrono::Utc::now() - chrono::Duration::hours(2);
    let schedule = serde_json::json!({"digest": "scheduled", "scheduled_time": at.to_rfc3339()});
    let outcome = app
        .handle_digest_event(schedule.clone(), None)
        .await
        .unwrap();
    assert_eq!(outcome["outcome"], "fanned_out", "{outcome}");
    let messages = sent(&queue);
    assert_eq!(messages.len(), 4, "{messages:?}");
    for (account, (body, delay)) in accounts.iter().zip(&messages) {
        assert_eq!(*delay, 0);
        assert!(
            body.contains(account) && body.starts_with(r#"{"part":"#),
            "{body}"
        );
    }
    assert_eq!(
        messages[3],
        (
            format!(r#"{{"assembly":{{"run":{}}}}}"#, at.timestamp()),
            900
        )
    );
    // The schedule retried: the same run, its work queued again, one run.
    app.handle_digest_event(schedule, None).await.unwrap();
    assert_eq!(sent(&queue).len(), 8);

    for (body, _) in &messages[..2] {
        let answer = app
            .handle_digest_event(sqs_batch(body), None)
            .await
            .unwrap();
        assert_eq!(answer, serde_json::json!({"batchItemFailures": []}));
    }
    assert!(
        published.lock().unwrap().is_empty(),
        "no digest before the assembly"
    );
    app.handle_digest_event(sqs_batch(&messages[3].0), None)
        .await
        .unwrap();
    let digests = published.lock().unwrap().clone();
    let [digest] = digests.as_slice() else {
        panic!("one digest expected, got {}", digests.len());
    };
    let text = digest.message().unwrap();
    assert!(
        text.contains("NOT READ: account 333333333333, region us-east-1: did not report before the digests were assembled."),
        "{text}"
    );
    let run = runs.run(at.timestamp()).unwrap();
    assert!(run.assembled);
    assert_eq!(
        run.reported.keys().collect::<Vec<_>>(),
        ["111111111111|us-east-1", "222222222222|us-east-1"]
    );
    // The third part, late: left out; the assembly again: nothing more.
    app.handle_digest_event(sqs_batch(&messages[2].0), None)
        .await
        .unwrap();
    app.handle_digest_event(sqs_batch(&messages[3].0), None)
        .await
        .unwrap();
    assert_eq!(published.lock().unwrap().len(), 1);
    assert_eq!(runs.run(at.timestamp()).unwrap().reported.len(), 2);

    // A fresh run whose parts all report: the last part assembles, once.
    published.lock().unwrap().clear();
    queue.0.lock().unwrap().clear();
    let now = chrono::Utc::now();
    app.handle_digest_event(
        serde_json::json!({"digest": "scheduled", "scheduled_time": now.to_rfc3339()}),
        None,
    )
    .await
    .unwrap();
    let messages = sent(&queue);
    // The assembly, early: parts are out and the run is young, so it looks
    // again later.
    app.handle_digest_event(sqs_batch(&messages[3].0), None)
        .await
        .unwrap();
    assert_eq!(sent(&queue).len(), 5);
    assert_eq!(sent(&queue)[4], messages[3]);
    for (body, _) in &messages[..3] {
        app.handle_digest_event(sqs_batch(body), None)
            .await
            .unwrap();
    }
    let digests = published.lock().unwrap().clone();
    assert_eq!(digests.len(), 1, "the last part assembles");
    assert!(!digests[0].message().unwrap().contains("NOT READ"));
    assert!(runs.run(now.timestamp()).unwrap().assembled);
    app.handle_digest_event(sqs_batch(&messages[3].0), None)
        .await
        .unwrap();
    assert_eq!(published.lock().unwrap().len(), 1);

    // Work that is not digest work is a failed message, named.
    let answer = app
        .handle_digest_event(sqs_batch(r#"{"detail-type":"ECR Image Scan"}"#), None)
        .await
        .unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]})
    );
}

/// An enhanced-scanning registry as ECR lists it, owned by `shop`: five
/// current or formerly current images, each with a HIGH or CRITICAL summary
/// or none, for Amazon Inspector's coverage to speak about.
fn enhanced_registry() -> Vec<aws_smithy_mocks::Rule> {
    let scanning =
        mock!(aws_sdk_ecr::Client::get_registry_scanning_configuration).then_output(|| {
            GetRegistryScanningConfigurationOutput::builder()
                .scanning_configuration(
                    RegistryScanningConfiguration::builder()
                        .scan_type(ScanType::Enhanced)
                        .build(),
                )
                .build()
        });
    let repositories = mock!(aws_sdk_ecr::Client::describe_repositories).then_output(|| {
        DescribeRepositoriesOutput::builder()
            .repositories(repository("shop/api", true))
            .build()
    });
    let images = mock!(aws_sdk_ecr::Client::describe_images).then_output(|| {
        let mut no_summary = image("shop/api", "sha256:d04", 2, None, &[]);
        no_summary.image_scan_status = Some(
            ImageScanStatus::builder()
                .status(ScanStatus::Active)
                .build(),
        );
        DescribeImagesOutput::builder()
            .image_details(image(
                "shop/api",
                "sha256:a01",
                3,
                Some(ScanStatus::Active),
                &[(FindingSeverity::High, 1)],
            ))
            // Pushed 90 days ago, never pulled: current only if seen in use.
            .image_details(image(
                "shop/api",
                "sha256:b02",
                90,
                Some(ScanStatus::Active),
                &[(FindingSeverity::Critical, 1)],
            ))
            .image_details(image(
                "shop/api",
                "sha256:c03",
                2,
                Some(ScanStatus::Active),
                &[],
            ))
            .image_details(no_summary)
            .image_details(image(
                "shop/api",
                "sha256:e05",
                1,
                Some(ScanStatus::Active),
                &[],
            ))
            .build()
    });
    let finding = |digest: &'static str, id: &'static str, severity: FindingSeverity| {
        mock!(aws_sdk_ecr::Client::describe_image_scan_findings)
            .match_requests(move |r| r.image_id().and_then(|i| i.image_digest()) == Some(digest))
            .then_output(move || {
                DescribeImageScanFindingsOutput::builder()
                    .image_scan_status(
                        ImageScanStatus::builder()
                            .status(ScanStatus::Active)
                            .build(),
                    )
                    .image_scan_findings(
                        ImageScanFindings::builder()
                            .findings(
                                ImageScanFinding::builder()
                                    .name(id)
                                    .severity(severity.clone())
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            })
    };
    vec![
        scanning,
        repositories,
        images,
        finding("sha256:a01", "CVE-2026-31001", FindingSeverity::High),
        finding("sha256:b02", "CVE-2026-31002", FindingSeverity::Critical),
        // Read only when Inspector's counts are not there to say MEDIUM.
        finding("sha256:d04", "CVE-2026-31004", FindingSeverity::Medium),
        mock!(aws_sdk_ecr::Client::list_tags_for_resource).then_output(|| owner_tag("shop")),
    ]
}

/// With enhanced scanning, Amazon Inspector's coverage decides which images
/// are watched (an INACTIVE one is named with its reason and what to do; one
/// absent from the coverage too), an old image Inspector saw in use counts
/// with its findings, and an image whose aggregated counts stay below the
/// threshold has no findings read. When Inspector cannot be read, ECR's
/// statuses decide as before, and the digest says so.
#[tokio::test]
async fn with_enhanced_scanning_inspectors_coverage_decides_what_is_watched_current_and_read() {
    use aws_sdk_inspector2::operation::list_coverage::ListCoverageOutput;
    use aws_sdk_inspector2::operation::list_finding_aggregations::ListFindingAggregationsOutput;
    use aws_sdk_inspector2::types::{
        AggregationResponse, AggregationType, AwsEcrContainerAggregationResponse,
        CoverageResourceType, CoveredResource, EcrContainerImageMetadata, ResourceScanMetadata,
        ScanStatus as InspectorStatus, ScanStatusCode, ScanStatusReason,
        ScanType as InspectorScanType, SeverityCounts,
    };

    let arn =
        |digest: &str| format!("arn:aws:ecr:us-east-1:123456789012:repository/shop/api/{digest}");
    let covered =
        move |digest: &str, code: ScanStatusCode, reason: ScanStatusReason, in_use: Option<i64>| {
            let mut metadata = EcrContainerImageMetadata::builder().tags("v1");
            if let Some(at) = in_use {
                metadata = metadata.last_in_use_at(DateTime::from_secs(at));
            }
            CoveredResource::builder()
                .resource_type(CoverageResourceType::AwsEcrContainerImage)
                .resource_id(arn(digest))
                .account_id("123456789012")
                .scan_type(InspectorScanType::Package)
                .scan_status(
                    InspectorStatus::builder()
                        .status_code(code)
                        .reason(reason)
                        .build()
                        .unwrap(),
                )
                .resource_metadata(
                    ResourceScanMetadata::builder()
                        .ecr_image(metadata.build())
                        .build(),
                )
                .build()
                .unwrap()
        };
    let aggregated = move |digest: &str, critical: i64, high: i64, medium: i64| {
        AggregationResponse::AwsEcrContainerAggregation(
            AwsEcrContainerAggregationResponse::builder()
                .resource_id(arn(digest))
                .repository("shop/api")
                .image_sha(digest)
                .account_id("123456789012")
                .severity_counts(
                    SeverityCounts::builder()
                        .all(critical + high + medium)
                        .critical(critical)
                        .high(high)
                        .medium(medium)
                        .build(),
                )
                .build()
                .unwrap(),
        )
    };
    let coverage = mock!(aws_sdk_inspector2::Client::list_coverage).then_output(move || {
        ListCoverageOutput::builder()
            .covered_resources(covered(
                "sha256:a01",
                ScanStatusCode::Active,
                ScanStatusReason::Successful,
                None,
            ))
            .covered_resources(covered(
                "sha256:b02",
                ScanStatusCode::Active,
                ScanStatusReason::Successful,
                Some(now() - DAY),
            ))
            .covered_resources(covered(
                "sha256:c03",
                ScanStatusCode::Inactive,
                ScanStatusReason::ScanEligibilityExpired,
                None,
            ))
            .covered_resources(covered(
                "sha256:d04",
                ScanStatusCode::Active,
                ScanStatusReason::Successful,
                None,
            ))
            .build()
    });
    let aggregations =
        mock!(aws_sdk_inspector2::Client::list_finding_aggregations).then_output(move || {
            ListFindingAggregationsOutput::builder()
                .aggregation_type(AggregationType::AwsEcrContainer)
                .responses(aggregated("sha256:a01", 0, 1, 0))
                .responses(aggregated("sha256:b02", 1, 0, 0))
                // Below HIGH: its findings are not read.
                .responses(aggregated("sha256:d04", 0, 0, 2))
                .build()
                .unwrap()
        });
    let rules = enhanced_registry();
    let rule_refs: Vec<&aws_smithy_mocks::Rule> = rules.iter().collect();
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &rule_refs);
    let inspector = mock_client!(
        aws_sdk_inspector2,
        RuleMode::MatchAny,
        &[&coverage, &aggregations]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let config = Config {
        alert_topic_arn: TOPIC.into(),
        region: Some("us-east-1".into()),
        ..Config::default()
    };
    let app = App::new(
        config.clone(),
        EcrFindings::new(ecr).with_inspector(inspector),
        SnsAlerts::new(sns, TOPIC, None),
    );

    let outcome = app
        .handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();

    assert_eq!(coverage.num_calls(), 1, "once per registry");
    assert_eq!(aggregations.num_calls(), 1);
    assert_eq!(outcome["images"], 5, "the old image seen in use counts");
    assert_eq!(
        outcome["images_with_findings_read"], 2,
        "not the image whose aggregated counts stay below HIGH"
    );
    let body = published.lock().unwrap()[0].message().unwrap().to_string();
    assert!(
        body.contains("1 critical, 1 high open in 5 images of 1 repositories; 2 not watched"),
        "{body}"
    );
    assert!(body.contains("shop/api:v1 (123456789012): Inspector's coverage INACTIVE, SCAN_ELIGIBILITY_EXPIRED. To do: push it again"), "{body}");
    assert!(
        body.contains("shop/api:v1 (123456789012): not in Inspector's coverage. To do:"),
        "{body}"
    );
    assert!(!body.contains("INSPECTOR'S COVERAGE NOT READ"), "{body}");

    // Inspector denies: ECR's statuses and summaries decide, as before.
    let denied = mock!(aws_sdk_inspector2::Client::list_coverage).then_http_response(|| {
        let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(403).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"message": "User is not authorized to perform: inspector2:ListCoverage"}"#,
            ),
        );
        response
            .headers_mut()
            .insert("x-amzn-ErrorType", "AccessDeniedException");
        response
    });
    let rules = enhanced_registry();
    let rule_refs: Vec<&aws_smithy_mocks::Rule> = rules.iter().collect();
    let ecr = mock_client!(aws_sdk_ecr, RuleMode::MatchAny, &rule_refs);
    let inspector = mock_client!(
        aws_sdk_inspector2,
        RuleMode::MatchAny,
        &[&denied, &aggregations]
    );
    let published: Arc<Mutex<Vec<PublishInput>>> = Arc::default();
    let publish = recorded_publishes(&published);
    let sns = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&publish]);
    let app = App::new(
        config,
        EcrFindings::new(ecr).with_inspector(inspector),
        SnsAlerts::new(sns, TOPIC, None),
    );

    let outcome = app
        .handle_digest(serde_json::json!({"digest": "scheduled"}))
        .await
        .unwrap();

    assert_eq!(
        outcome["images"], 4,
        "the old image is not current by ECR's dates"
    );
    assert_eq!(
        outcome["images_with_findings_read"], 2,
        "the HIGH one, and the one without a summary"
    );
    let body = published.lock().unwrap()[0].message().unwrap().to_string();
    assert!(body.contains("INSPECTOR'S COVERAGE NOT READ: this account, region us-east-1: Inspector AccessDeniedException: User is not authorized to perform: inspector2:ListCoverage."), "{body}");
    assert!(body.contains("every image watched"), "{body}");
}
