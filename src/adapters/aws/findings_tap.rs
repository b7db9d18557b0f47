//! Findings read straight from ECR's answer, once.
//!
//! The SDK reads a DescribeImageScanFindings answer with its generic JSON
//! deserializer into owned structures (every description, URI, attribute,
//! CVSS vector and resource detail a string of its own), which
//! [`super::ecr::from_basic`] and [`super::ecr::from_enhanced`] then turn
//! into [`Finding`]s. For a page of 1,000 basic findings that was most of
//! the function's CPU (docs/performance.md, "Where the CPU goes").
//!
//! [`FindingsTap`] wraps the HTTP client every SDK client uses. The
//! adapter gives each DescribeImageScanFindings call a [`TapSlot`], carried
//! on the request of every attempt as an extension. When an answer (200)
//! comes back to a request that carries one, the tap reads the page's
//! findings (`imageScanFindings.findings` and `.enhancedFindings`) straight
//! into `Finding`s with serde_json, with the same mapping
//! ([`super::finding_fields`]), skipping what it does not use; puts them in
//! the slot (a retry's answer replaces an earlier attempt's); and hands the
//! SDK the same answer without the two lists. The adapter takes the page
//! from the slot after the call; a call that fails drops its slot, so
//! nothing is left behind for another call. There is no state outside the
//! call. The SDK still signs,
//! retries, times out and reads everything else (status, next token,
//! completion time, errors). An answer it cannot read this way is handed
//! over untouched, and the SDK's own reading applies.

use super::finding_fields::{self as fields, BasicAttributes};
use crate::domain::continuous::Package;
use crate::domain::finding::Finding;
use crate::domain::risk::Usage;
use crate::domain::severity::{Severity, SeverityCounts};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex};

/// What the tap read of one page: its findings, and whether the image runs
/// as the enhanced findings' image details say.
#[derive(Debug, Default)]
pub struct TappedPage {
    pub findings: Vec<Finding>,
    pub usage: Usage,
    /// Basic findings below the severity the call's slot named
    /// ([`TapSlot::new`]), by severity: counted, not kept.
    pub counted: SeverityCounts,
}

/// One call's page, as the tap read it: created by the adapter for the
/// call, carried on each attempt's request, filled by the tap, taken by
/// the adapter after the call. Dropped with the call.
#[derive(Debug, Clone, Default)]
pub(crate) struct TapSlot(Arc<Slot>);

#[derive(Debug, Default)]
struct Slot {
    /// Basic findings below this severity are only counted (the policy's
    /// threshold: basic findings carry no signal that could raise them).
    count_below: Option<Severity>,
    page: Mutex<Option<TappedPage>>,
}

impl TapSlot {
    pub(crate) fn new(count_below: Option<Severity>) -> TapSlot {
        TapSlot(Arc::new(Slot {
            count_below,
            page: Mutex::new(None),
        }))
    }

    /// The page the tap read for the last attempt, if it read it.
    pub(crate) fn take(&self) -> Option<TappedPage> {
        self.lock().take()
    }

    fn put(&self, page: Option<TappedPage>) {
        *self.lock() = page;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<TappedPage>> {
        // One assignment at a time: a poisoned lock still holds a whole page.
        self.0.page.lock().unwrap_or_else(|e| e.into_inner())
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

impl HttpConnector for TapConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        // Only the requests the adapter gave a slot: its findings calls.
        let Some(slot) = request.extension::<TapSlot>().cloned() else {
            return self.inner.call(request);
        };
        // An earlier attempt's page never answers for this one.
        slot.put(None);
        let response = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let mut response = response.await?;
            if response.status().as_u16() != 200 {
                return Ok(response);
            }
            let body = response.take_body();
            let bytes = read_body(body).await?;
            let answer = match split_findings_counting_below(&bytes, slot.0.count_below) {
                Some((page, rest)) => {
                    slot.put(Some(page));
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
/// shared mapping ([`super::finding_fields::basic`]); attributes other
/// than the package and the CVSS scores are skipped, not kept. Findings
/// below `below` are only counted.
#[derive(Clone, Copy)]
struct BasicSeed {
    below: Option<Severity>,
}

impl<'de> DeserializeSeed<'de> for BasicSeed {
    type Value = Tapped;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tapped, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for BasicSeed {
    type Value = Tapped;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an ECR image scan finding")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tapped, A::Error> {
        // Text is borrowed from the answer while it is read (severity may
        // come last) and copied only for a finding that is kept whole.
        let below = self.below;
        let mut severity = Severity::Undefined;
        let mut severity_read = false;
        let (mut name, mut description, mut uri) = (None, None, None);
        let mut attributes = BasicAttributes::<Cow<'de, str>>::default();
        let mut attributes_skipped = false;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            match key.as_ref() {
                "name" => name = map.next_value::<Option<Text<'de>>>()?,
                "description" => description = map.next_value::<Option<Text<'de>>>()?,
                "uri" => uri = map.next_value::<Option<Text<'de>>>()?,
                "severity" => {
                    severity_read = true;
                    severity = fields::severity(map.next_value::<Option<Text<'de>>>()?.as_deref());
                }
                // ECR writes the severity before the attributes (AWS CLI
                // reference, describe-image-scan-findings example; JSON
                // gives no order, so either order reads right): a finding
                // that will only be counted has them skipped, not read.
                "attributes" if severity_read && below.is_some_and(|b| severity < b) => {
                    attributes_skipped = true;
                    map.next_value::<IgnoredAny>()?;
                }
                "attributes" => map.next_value_seed(AttributesSeed(&mut attributes))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if below.is_some_and(|below| severity < below) {
            // Counted by severity, never listed, fingerprinted or matched.
            return Ok(Tapped::Counted(severity));
        }
        if attributes_skipped {
            // A second severity, at or above the threshold, after the
            // attributes were skipped: the SDK reads this answer instead.
            return Err(serde::de::Error::custom(
                "a finding's severity changed after its attributes",
            ));
        }
        Ok(Tapped::Whole(
            fields::basic(
                name.map(Text::owned),
                severity,
                description.map(Text::owned),
                uri.map(Text::owned),
                attributes.owned(),
            ),
            Usage::default(),
        ))
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

#[derive(Deserialize)]
struct Attribute<'a> {
    #[serde(borrow, default)]
    key: Option<Text<'a>>,
    #[serde(borrow, default)]
    value: Option<Text<'a>>,
}

/// A finding's `attributes` (or `null`), each `{key, value}` taken into
/// the mapping's [`BasicAttributes`] as it is read: no list is kept.
struct AttributesSeed<'s, 'de>(&'s mut BasicAttributes<Cow<'de, str>>);

impl<'de> DeserializeSeed<'de> for AttributesSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for AttributesSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of attributes")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(attribute) = seq.next_element::<Attribute<'de>>()? {
            if let (Some(key), Some(value)) = (attribute.key, attribute.value) {
                self.0.add(&key, value.0);
            }
        }
        Ok(())
    }
}

/// One finding as the tap read it: whole (with what it says of the
/// image's usage), or only counted by severity. Moved once, straight into
/// the page: boxing the large variant would cost an allocation a finding.
#[allow(clippy::large_enum_variant)]
enum Tapped {
    Whole(Finding, Usage),
    Counted(Severity),
}

/// A findings array (or `null`), each finding mapped by the element seed
/// `S` as it is read: the findings kept whole, the image's usage as they
/// say it, and the severities of those only counted.
#[derive(Clone, Copy)]
struct ListSeed<S>(S);

type List = (Vec<Finding>, Usage, SeverityCounts);

impl<'de, S> DeserializeSeed<'de> for ListSeed<S>
where
    S: DeserializeSeed<'de, Value = Tapped> + Copy,
{
    type Value = Option<List>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<List>, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S> Visitor<'de> for ListSeed<S>
where
    S: DeserializeSeed<'de, Value = Tapped> + Copy,
{
    type Value = Option<List>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of findings")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<List>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<List>, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<List>, D::Error> {
        deserializer.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<List>, A::Error> {
        // serde_json gives no length. An empty list (ECR sends
        // `"findings": []` beside enhanced findings) allocates nothing;
        // otherwise room for an enhanced page (100), grown for a basic one.
        let mut out = Vec::new();
        let mut usage = Usage::default();
        let mut counted = SeverityCounts::default();
        while let Some(finding) = seq.next_element_seed(self.0)? {
            match finding {
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
        Ok(Some((out, usage, counted)))
    }
}

/// One enhanced (Amazon Inspector) finding, read into a [`Finding`] with
/// the shared mapping ([`super::finding_fields::enhanced`]); the rest of
/// Inspector's details (CVSS vectors, remediation, dates) is skipped, not
/// kept.
#[derive(Clone, Copy)]
struct EnhancedSeed;

impl<'de> DeserializeSeed<'de> for EnhancedSeed {
    type Value = Tapped;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Tapped, D::Error> {
        let raw = RawEnhanced::deserialize(deserializer)?;
        let (vulnerability_id, package, source_url, first_reference_url) =
            match raw.package_vulnerability_details {
                Some(d) => (
                    d.vulnerability_id,
                    d.vulnerable_packages
                        .and_then(|p| p.0)
                        .map(|p| (p.name, p.version, p.fixed_in_version)),
                    d.source_url,
                    d.reference_urls.and_then(|r| r.0),
                ),
                None => (None, None, None, None),
            };
        let finding = fields::enhanced(fields::Enhanced {
            severity: raw.severity.as_deref(),
            vulnerability_id,
            title: raw.title,
            package,
            source_url,
            first_reference_url,
            score: raw.score,
            fix_available: raw.fix_available.as_deref(),
            exploit_available: raw.exploit_available.as_deref(),
            first_observed: raw.first_observed_at.map(|t| t.trunc() as i64),
        });
        let mut usage = Usage::default();
        for resource in raw.resources.unwrap_or_default() {
            if let Some(image) = resource.details.and_then(|d| d.aws_ecr_container_image) {
                usage.merge(&fields::usage(
                    image.in_use_count,
                    image.last_in_use_at.map(|t| t.trunc() as i64),
                    image.pushed_at.map(|t| t.trunc() as i64),
                ));
            }
        }
        Ok(Tapped::Whole(finding, usage))
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
    /// ECR writes timestamps as epoch seconds (JSON numbers).
    #[serde(default)]
    first_observed_at: Option<f64>,
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

/// An object read in one pass: the member named `take` read by the seed,
/// every other member kept as it was written, to be written out again.
struct Split<'a, T> {
    taken: Option<T>,
    rest: Vec<(Cow<'a, str>, &'a RawValue)>,
}

struct SplitVisitor<S> {
    take: &'static str,
    seed: S,
}

impl<'de, S: DeserializeSeed<'de> + Copy> Visitor<'de> for SplitVisitor<S> {
    type Value = Split<'de, S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut taken = None;
        let mut rest = Vec::new();
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if key == self.take {
                taken = Some(map.next_value_seed(self.seed)?);
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
    basic: Option<List>,
    enhanced: Option<List>,
    rest: Vec<(Cow<'a, str>, &'a RawValue)>,
}

/// Reads `imageScanFindings`, counting only the basic findings below
/// `below`.
#[derive(Clone, Copy)]
struct ScanPartSeed {
    below: Option<Severity>,
}

impl<'de> DeserializeSeed<'de> for ScanPartSeed {
    type Value = ScanPart<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<ScanPart<'de>, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ScanPartSeed {
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
                    part.basic = map.next_value_seed(ListSeed(BasicSeed { below: self.below }))?
                }
                "enhancedFindings" => {
                    part.enhanced = map.next_value_seed(ListSeed(EnhancedSeed))?
                }
                _ => part.rest.push((key, map.next_value::<&'de RawValue>()?)),
            }
        }
        Ok(part)
    }
}

fn split<'de, S: DeserializeSeed<'de> + Copy>(
    body: &'de [u8],
    take: &'static str,
    seed: S,
) -> Option<Split<'de, S::Value>> {
    // The whole answer is checked as UTF-8 once, up front: one pass over
    // the bytes, instead of one check per string read (a tenth of the
    // reading, docs/performance.md). An answer that is not UTF-8 is left to
    // the SDK, which rejects it.
    let text = std::str::from_utf8(body).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let split = de.deserialize_map(SplitVisitor { take, seed }).ok()?;
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
/// below `below`.
pub fn split_findings_counting_below(
    body: &[u8],
    below: Option<Severity>,
) -> Option<(TappedPage, Vec<u8>)> {
    let top = split(body, "imageScanFindings", ScanPartSeed { below })?;
    let scan = top.taken?;
    if scan.basic.is_none() && scan.enhanced.is_none() {
        return None;
    }
    let (mut findings, _, counted) = scan.basic.unwrap_or_default();
    let (enhanced, usage, _) = scan.enhanced.unwrap_or_default();
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
