//! Findings read straight from ECR's answer, once.
//!
//! The SDK reads a DescribeImageScanFindings answer with its generic JSON
//! deserializer into owned structures (every description, URI, attribute,
//! CVSS vector and resource detail a string of its own), which
//! [`super::ecr::from_basic`] and [`super::ecr::from_enhanced`] then turn
//! into [`Finding`]s. For a page of 1,000 basic findings that was most of
//! the function's CPU (docs/performance.md, "Where the CPU goes").
//!
//! [`FindingsTap`] wraps the HTTP client every SDK client uses. When a
//! DescribeImageScanFindings answer (200) comes back, it reads the page's
//! findings (`imageScanFindings.findings` and `.enhancedFindings`) straight
//! into `Finding`s with serde_json, with the same mappings, skipping what
//! they do not use; keeps them for the adapter call that asked; and hands
//! the SDK the same answer without the two lists. The SDK still signs,
//! retries, times out and reads everything else (status, next token,
//! completion time, errors). An answer it cannot read this way is handed
//! over untouched, and the SDK's own reading applies.

use crate::domain::continuous::Package;
use crate::domain::finding::{Finding, FixAvailable};
use crate::domain::risk::{self, Usage};
use crate::domain::severity::{Severity, SeverityCounts};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, OnceLock};

const TARGET: &str = "AmazonEC2ContainerRegistry_V20150921.DescribeImageScanFindings";

/// Pages parsed by the tap, waiting for the adapter call that asked for
/// them, by request (registry, repository, digest, token).
fn parsed() -> &'static Mutex<HashMap<String, VecDeque<TappedPage>>> {
    static PARSED: OnceLock<Mutex<HashMap<String, VecDeque<TappedPage>>>> = OnceLock::new();
    PARSED.get_or_init(Default::default)
}

/// What the tap read of one page: its findings, and whether the image runs
/// as the enhanced findings' image details say.
#[derive(Debug, Default)]
pub struct TappedPage {
    pub findings: Vec<Finding>,
    pub usage: Usage,
    /// Basic findings below the threshold the request was told
    /// ([`count_only_below`]), by severity: counted, not kept.
    pub counted: SeverityCounts,
}

/// The key of one page request: what the adapter sends.
pub fn page_key(registry: &str, repository: &str, digest: &str, token: Option<&str>) -> String {
    format!(
        "{registry}\n{repository}\n{digest}\n{}",
        token.unwrap_or("")
    )
}

/// The findings the tap read for this request, if it read them.
pub fn take(key: &str) -> Option<TappedPage> {
    let mut map = parsed().lock().ok()?;
    let queue = map.get_mut(key)?;
    let page = queue.pop_front();
    if queue.is_empty() {
        map.remove(key);
    }
    page
}

/// Requests whose basic findings below a severity are only counted, by
/// request key ([`count_only_below`]).
fn hints() -> &'static Mutex<HashMap<String, Severity>> {
    static HINTS: OnceLock<Mutex<HashMap<String, Severity>>> = OnceLock::new();
    HINTS.get_or_init(Default::default)
}

/// Says that the basic findings below `severity` in the answer to this
/// request will only be counted (the policy's threshold: basic findings
/// carry no signal that could raise them): the tap reads their severity
/// and keeps none of their text. Retries of the request read it too; the
/// caller takes it back with [`forget_hint`] once the call is over.
pub fn count_only_below(key: &str, severity: Severity) {
    if let Ok(mut map) = hints().lock() {
        map.insert(key.to_string(), severity);
    }
}

pub fn forget_hint(key: &str) {
    if let Ok(mut map) = hints().lock() {
        map.remove(key);
    }
}

fn hint(key: &str) -> Option<Severity> {
    hints().lock().ok()?.get(key).copied()
}

thread_local! {
    /// The hint of the answer being read on this thread (reading is
    /// synchronous: one answer at a time per thread).
    static COUNT_ONLY_BELOW: std::cell::Cell<Option<Severity>> = const { std::cell::Cell::new(None) };
}

fn keep(key: String, findings: TappedPage) {
    if let Ok(mut map) = parsed().lock() {
        map.entry(key).or_default().push_back(findings);
    }
}

/// The HTTP client of [`super::https_client`], with DescribeImageScanFindings
/// answers read as the module says.
#[derive(Debug)]
pub struct FindingsTap {
    inner: SharedHttpClient,
}

impl FindingsTap {
    pub fn wrap(inner: SharedHttpClient) -> SharedHttpClient {
        SharedHttpClient::new(FindingsTap { inner })
    }
}

impl HttpClient for FindingsTap {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(TapConnector {
            inner: self.inner.http_connector(settings, components),
        })
    }
}

#[derive(Debug)]
struct TapConnector {
    inner: SharedHttpConnector,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageRequest<'a> {
    #[serde(borrow, default)]
    registry_id: Option<Text<'a>>,
    #[serde(borrow)]
    repository_name: Cow<'a, str>,
    image_id: ImageId<'a>,
    #[serde(borrow, default)]
    next_token: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageId<'a> {
    #[serde(borrow, default)]
    image_digest: Option<Text<'a>>,
}

fn request_key(body: &[u8]) -> Option<String> {
    let request: PageRequest<'_> = serde_json::from_slice(body).ok()?;
    Some(page_key(
        request.registry_id.as_deref().unwrap_or(""),
        &request.repository_name,
        request.image_id.image_digest.as_deref()?,
        request.next_token.as_deref(),
    ))
}

impl HttpConnector for TapConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let tapped = request.headers().get("x-amz-target") == Some(TARGET);
        let key = tapped
            .then(|| request.body().bytes().and_then(request_key))
            .flatten();
        let response = self.inner.call(request);
        let Some(key) = key else {
            return response;
        };
        HttpConnectorFuture::new(async move {
            let mut response = response.await?;
            if response.status().as_u16() != 200 {
                return Ok(response);
            }
            let body = response.take_body();
            let bytes = read_body(body).await?;
            let answer = match split_findings_counting_below(&bytes, hint(&key)) {
                Some((findings, rest)) => {
                    keep(key, findings);
                    SdkBody::from(rest)
                }
                None => SdkBody::from(bytes),
            };
            response.headers_mut().remove("content-length");
            *response.body_mut() = answer;
            Ok(response)
        })
    }
}

/// The most the tap reserves up front for an answer.
const MAX_RESERVE: u64 = 16 << 20;

/// The whole answer in one buffer of the length it announces, each chunk
/// copied in as it arrives and then dropped: the HTTP client reads the next
/// chunk into memory it already has, and the answer is never held twice.
async fn read_body(body: SdkBody) -> Result<Vec<u8>, ConnectorError> {
    // What the answer says it holds, within reason (a wrong length costs a
    // reallocation, not an error).
    let length = body.content_length().unwrap_or(0).min(MAX_RESERVE) as usize;
    let mut buffer = Vec::with_capacity(length);
    let mut stream = aws_smithy_types::byte_stream::ByteStream::new(body);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ConnectorError::io(e.into()))?;
        buffer.extend_from_slice(&chunk);
    }
    Ok(buffer)
}

/// One basic finding, read field by field into a [`Finding`] with the
/// same mapping as [`super::ecr::from_basic`]; attributes other than the
/// package and the CVSS scores are skipped, not kept.
struct BasicFinding(Tapped);

impl<'de> Deserialize<'de> for BasicFinding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(BasicFindingVisitor)
    }
}

struct BasicFindingVisitor;

impl<'de> Visitor<'de> for BasicFindingVisitor {
    type Value = BasicFinding;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ECR image scan finding")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<BasicFinding, A::Error> {
        // Text is borrowed from the answer while it is read (severity may
        // come last) and copied only for a finding that is kept whole.
        let below = COUNT_ONLY_BELOW.get();
        let mut severity = Severity::Undefined;
        let mut severity_read = false;
        let (mut name, mut description, mut uri) = (None, None, None);
        let mut attributes = Attributes::default();
        let mut attributes_skipped = false;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "name" => name = map.next_value::<Option<Text<'de>>>()?,
                "description" => description = map.next_value::<Option<Text<'de>>>()?,
                "uri" => uri = map.next_value::<Option<Text<'de>>>()?,
                "severity" => {
                    severity_read = true;
                    if let Some(s) = map.next_value::<Option<Text<'de>>>()? {
                        severity = Severity::from_aws(&s);
                    }
                }
                // ECR writes the severity before the attributes (AWS CLI
                // reference, describe-image-scan-findings example; JSON
                // gives no order, so either order reads right): a finding
                // that will only be counted has them skipped, not read.
                "attributes" if severity_read && below.is_some_and(|b| severity < b) => {
                    attributes_skipped = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "attributes" => {
                    attributes = map.next_value::<Option<Attributes>>()?.unwrap_or_default()
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if below.is_some_and(|below| severity < below) {
            // Counted by severity, never listed, fingerprinted or matched.
            return Ok(BasicFinding(Tapped::Counted(severity)));
        }
        if attributes_skipped {
            // A second severity, at or above the threshold, after the
            // attributes were skipped: the SDK reads this answer instead.
            return Err(serde::de::Error::custom(
                "a finding's severity changed after its attributes",
            ));
        }
        let mut out = Finding::new(
            name.map_or_else(|| "(unnamed finding)".to_string(), Text::owned),
            severity,
        );
        out.title = description.map(Text::owned);
        out.link = uri.map(Text::owned);
        out.package_name = attributes.package_name.map(Cow::into_owned);
        out.package_version = attributes.package_version.map(Cow::into_owned);
        out.score = attributes.cvss3.or(attributes.cvss2);
        Ok(BasicFinding(Tapped::Whole(out, Usage::default())))
    }
}

/// A string of the answer: borrowed when it has no escapes, else owned.
/// (serde borrows a `Cow<str>` field only when it is not in an `Option`:
/// an `Option<Cow<str>>` is always read into a new `String`.)
struct Text<'a>(Cow<'a, str>);

impl Text<'_> {
    fn owned(self) -> String {
        self.0.into_owned()
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Str<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Str<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Str(std::marker::PhantomData))
    }
}

/// What the mapping takes from a finding's attributes (the last value of a
/// key wins, as in the SDK's reading).
#[derive(Default)]
struct Attributes<'a> {
    package_name: Option<Cow<'a, str>>,
    package_version: Option<Cow<'a, str>>,
    cvss3: Option<f64>,
    cvss2: Option<f64>,
}

impl<'de> Deserialize<'de> for Attributes<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seq;
        impl<'de> Visitor<'de> for Seq {
            type Value = Attributes<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of attributes")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Attributes<'de>, A::Error> {
                let mut out = Attributes::default();
                while let Some(attribute) = seq.next_element::<Attribute<'de>>()? {
                    let (Some(key), Some(value)) = (attribute.key, attribute.value) else {
                        continue;
                    };
                    match &*key {
                        "package_name" => out.package_name = Some(value.0),
                        "package_version" => out.package_version = Some(value.0),
                        "CVSS3_SCORE" => out.cvss3 = value.trim().parse::<f64>().ok(),
                        "CVSS2_SCORE" => out.cvss2 = value.trim().parse::<f64>().ok(),
                        _ => {}
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_seq(Seq)
    }
}

#[derive(Deserialize)]
struct Attribute<'a> {
    #[serde(borrow, default)]
    key: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Text<'a>>,
}

/// One finding as the tap read it: whole (with what it says of the
/// image's usage), or only counted by severity. Moved once, straight into
/// the page: boxing the large variant would cost an allocation a finding.
#[allow(clippy::large_enum_variant)]
enum Tapped {
    Whole(Finding, Usage),
    Counted(Severity),
}

/// A findings array, each finding mapped as it is read: the findings kept
/// whole, the image's usage as they say it, and the severities of those
/// only counted.
struct Findings<T>(
    Vec<Finding>,
    Usage,
    SeverityCounts,
    std::marker::PhantomData<T>,
);

impl<'de, T: Deserialize<'de> + Into<Tapped>> Deserialize<'de> for Findings<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seq<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Into<Tapped>> Visitor<'de> for Seq<T> {
            type Value = Findings<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of findings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Findings<T>, A::Error> {
                // serde_json gives no length. An empty list (ECR sends
                // `"findings": []` beside enhanced findings) allocates
                // nothing; otherwise room for an enhanced page (100), grown
                // for a basic one.
                let mut out = Vec::new();
                let mut usage = Usage::default();
                let mut counted = SeverityCounts::default();
                while let Some(finding) = seq.next_element::<T>()? {
                    match finding.into() {
                        Tapped::Whole(finding, seen) => {
                            if out.capacity() == 0 {
                                out.reserve(100);
                            }
                            usage.merge(&seen);
                            out.push(finding);
                        }
                        Tapped::Counted(severity) => counted.add(severity, 1),
                    }
                }
                Ok(Findings(out, usage, counted, std::marker::PhantomData))
            }
        }
        deserializer.deserialize_seq(Seq(std::marker::PhantomData))
    }
}

impl From<BasicFinding> for Tapped {
    fn from(f: BasicFinding) -> Tapped {
        f.0
    }
}

/// One enhanced (Amazon Inspector) finding, read into a [`Finding`] with
/// the same mapping as [`super::ecr::from_enhanced`]; the rest of
/// Inspector's details (CVSS vectors, resources, remediation, dates) is
/// skipped, not kept.
struct EnhancedFinding(Finding, Usage);

impl From<EnhancedFinding> for Tapped {
    fn from(f: EnhancedFinding) -> Tapped {
        Tapped::Whole(f.0, f.1)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnhanced<'a> {
    #[serde(borrow, default)]
    severity: Option<Text<'a>>,
    #[serde(default)]
    package_vulnerability_details: Option<RawDetails<'a>>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(borrow, default)]
    fix_available: Option<Text<'a>>,
    #[serde(borrow, default)]
    exploit_available: Option<Text<'a>>,
    #[serde(default)]
    resources: Option<Vec<RawResource>>,
}

/// A finding's resource: only the image's usage is read.
#[derive(Deserialize)]
struct RawResource {
    #[serde(default)]
    details: Option<RawResourceDetails>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawResourceDetails {
    #[serde(default)]
    aws_ecr_container_image: Option<RawImageDetails>,
}

/// ECR writes timestamps as epoch seconds (JSON numbers).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawImageDetails {
    #[serde(default)]
    in_use_count: Option<i64>,
    #[serde(default)]
    last_in_use_at: Option<f64>,
    #[serde(default)]
    pushed_at: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDetails<'a> {
    #[serde(default)]
    vulnerability_id: Option<String>,
    #[serde(default)]
    vulnerable_packages: Option<FirstPackage>,
    #[serde(default)]
    source_url: Option<String>,
    #[serde(default)]
    reference_urls: Option<FirstString>,
    #[serde(skip)]
    _borrow: std::marker::PhantomData<&'a ()>,
}

/// The first package of `vulnerablePackages`; the others are skipped.
struct FirstPackage(Option<Package>);

impl<'de> Deserialize<'de> for FirstPackage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seq;
        impl<'de> Visitor<'de> for Seq {
            type Value = FirstPackage;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of packages")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstPackage, A::Error> {
                let first = seq.next_element::<Package>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstPackage(first))
            }
        }
        deserializer.deserialize_seq(Seq)
    }
}

/// The first string of a list; the others are skipped.
struct FirstString(Option<String>);

impl<'de> Deserialize<'de> for FirstString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Seq;
        impl<'de> Visitor<'de> for Seq {
            type Value = FirstString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstString, A::Error> {
                let first = seq.next_element::<Option<String>>()?.flatten();
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(FirstString(first))
            }
        }
        deserializer.deserialize_seq(Seq)
    }
}

impl<'de> Deserialize<'de> for EnhancedFinding {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawEnhanced::deserialize(deserializer)?;
        let severity = raw
            .severity
            .as_deref()
            .map_or(Severity::Undefined, Severity::from_aws);
        let details = raw.package_vulnerability_details;
        let id = details
            .as_ref()
            .and_then(|d| d.vulnerability_id.clone())
            .or_else(|| raw.title.clone())
            .unwrap_or_else(|| "(unnamed finding)".into());
        let mut out = Finding::new(id, severity);
        if let Some(details) = details {
            if let Some(pkg) = details.vulnerable_packages.and_then(|p| p.0) {
                out.set_inspector_package(pkg.name, pkg.version, pkg.fixed_in_version);
            }
            out.link = details
                .source_url
                .or_else(|| details.reference_urls.and_then(|r| r.0));
        }
        // As the SDK's reading: an absent score is 0.0, which means none.
        out.score = raw.score.filter(|s| *s > 0.0);
        out.fix_available = raw
            .fix_available
            .as_deref()
            .and_then(FixAvailable::from_aws);
        out.exploit_available = raw
            .exploit_available
            .as_deref()
            .and_then(risk::exploit_from_aws);
        out.title = raw.title;
        let mut usage = Usage::default();
        for resource in raw.resources.unwrap_or_default() {
            if let Some(image) = resource.details.and_then(|d| d.aws_ecr_container_image) {
                usage.merge(&Usage {
                    in_use_count: image.in_use_count.and_then(|n| u64::try_from(n).ok()),
                    last_in_use_at: image.last_in_use_at.map(|t| t.trunc() as i64),
                    pushed_at: image.pushed_at.map(|t| t.trunc() as i64),
                });
            }
        }
        Ok(EnhancedFinding(out, usage))
    }
}

/// An object read in one pass: the member named `take` read as `T`, every
/// other member kept as it was written, to be written out again.
struct Split<'a, T> {
    taken: Option<T>,
    rest: Vec<(Cow<'a, str>, &'a RawValue)>,
}

struct SplitVisitor<T> {
    take: &'static str,
    marker: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for SplitVisitor<T> {
    type Value = Split<'de, T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Split<'de, T>, A::Error> {
        let mut taken = None;
        let mut rest = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if key == self.take {
                taken = Some(map.next_value::<T>()?);
            } else {
                rest.push((key, map.next_value::<&'de RawValue>()?));
            }
        }
        Ok(Split { taken, rest })
    }
}

/// `imageScanFindings`: its `findings` and `enhancedFindings` read (basic
/// first, as the SDK's reading lists them), every other member kept.
struct ScanPart<'a> {
    basic: Option<(Vec<Finding>, SeverityCounts)>,
    enhanced: Option<(Vec<Finding>, Usage)>,
    rest: Vec<(Cow<'a, str>, &'a RawValue)>,
}

impl<'de> Deserialize<'de> for ScanPart<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = ScanPart<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("imageScanFindings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ScanPart<'de>, A::Error> {
                let mut part = ScanPart {
                    basic: None,
                    enhanced: None,
                    rest: Vec::new(),
                };
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    match key.as_ref() {
                        "findings" => {
                            part.basic = map
                                .next_value::<Option<Findings<BasicFinding>>>()?
                                .map(|f| (f.0, f.2))
                        }
                        "enhancedFindings" => {
                            part.enhanced = map
                                .next_value::<Option<Findings<EnhancedFinding>>>()?
                                .map(|f| (f.0, f.1))
                        }
                        _ => part.rest.push((key, map.next_value::<&'de RawValue>()?)),
                    }
                }
                Ok(part)
            }
        }
        deserializer.deserialize_map(Members)
    }
}

fn split<'de, T: Deserialize<'de>>(body: &'de [u8], take: &'static str) -> Option<Split<'de, T>> {
    // The whole answer is checked as UTF-8 once, up front: one pass over
    // the bytes, instead of one check per string read (a tenth of the
    // reading, docs/performance.md). An answer that is not UTF-8 is left to
    // the SDK, which rejects it.
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let split = de
        .deserialize_map(SplitVisitor {
            take,
            marker: std::marker::PhantomData,
        })
        .ok()?;
    de.end().ok()?;
    Some(split)
}

/// `{"key":value,...}` from members kept as they were written.
fn write_object(
    members: &[(Cow<'_, str>, &RawValue)],
    extra: Option<(&str, &str)>,
) -> Option<String> {
    let mut out = String::from("{");
    let all = members
        .iter()
        .map(|(k, v)| (k.as_ref(), v.get()))
        .chain(extra);
    for (i, (key, value)) in all.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).ok()?);
        out.push(':');
        out.push_str(value);
    }
    out.push('}');
    Some(out)
}

/// The page's findings (basic, then enhanced), and the answer without
/// them; `None` when the answer is not the JSON object ECR sends, or has
/// neither list. One pass over the answer: each finding is mapped as it is
/// read.
pub fn split_findings(body: &[u8]) -> Option<(TappedPage, Vec<u8>)> {
    split_findings_counting_below(body, None)
}

/// [`split_findings`], keeping only the severity of the basic findings
/// below `below` ([`count_only_below`]).
pub fn split_findings_counting_below(
    body: &[u8],
    below: Option<Severity>,
) -> Option<(TappedPage, Vec<u8>)> {
    COUNT_ONLY_BELOW.set(below);
    let top = split::<ScanPart<'_>>(body, "imageScanFindings");
    COUNT_ONLY_BELOW.set(None);
    let top = top?;
    let scan = top.taken?;
    if scan.basic.is_none() && scan.enhanced.is_none() {
        return None;
    }
    let (mut findings, counted) = scan.basic.unwrap_or_default();
    let (enhanced, usage) = scan.enhanced.unwrap_or_default();
    findings.extend(enhanced);
    let rest = write_object(&scan.rest, None)?;
    let rest = write_object(&top.rest, Some(("imageScanFindings", &rest)))?;
    Some((
        TappedPage {
            findings,
            usage,
            counted,
        },
        rest.into_bytes(),
    ))
}
