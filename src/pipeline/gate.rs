//! `ecr-scan-gate`: the same policy as the Lambda, applied in CI before a
//! deploy. Exit 0 pass, 1 policy violations, 2 cannot judge (error, or no
//! current findings).

use crate::domain::assessment::{Assessment, Reader};
use crate::domain::dedup::Known;
use crate::domain::glob::Glob;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::policy::Policy;
use crate::domain::severity::Severity;
use crate::domain::text::one_line;
use crate::pipeline::fold::{
    fold_findings, FoldError, Folded, NO_CURRENT_FINDINGS_STATUSES, PENDING_STATUSES,
};
use crate::ports::BoxFuture;
use crate::ports::{
    FindingsPage, FindingsSource, RegistryScanning, RepositoryScanning, ScanStatus,
    ScanningConfigSource, SourceError,
};
use serde::Serialize;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the exit status means, shown under `--help`.
const EXIT_STATUS: &str = "\
An enhanced (Amazon Inspector) scan is judged only when two consecutive reads
of its findings agree: its findings can lag its status.

Every option can also be set by its environment variable (shown in brackets).

Exit status: 0 pass, 1 policy violations, 2 cannot judge: image or scan
missing, scan failed, no current findings (SCAN_ELIGIBILITY_EXPIRED,
IMAGE_ARCHIVED, FINDINGS_UNAVAILABLE: not the same as clean), no scan will
start, findings still changing, AWS error, invalid policy or arguments.";

/// The command line, as clap reads it.
#[derive(Debug, clap::Parser)]
#[command(
    name = "ecr-scan-gate",
    version,
    about = "Applies the alerting policy to an image's scan findings, for CI.",
    after_help = EXIT_STATUS,
    group(clap::ArgGroup::new("image").required(true).args(["tag", "digest"]))
)]
struct Cli {
    /// The image's repository.
    #[arg(long, env = "ECR_SCAN_GATE_REPOSITORY", value_name = "NAME")]
    repository: String,
    /// The image's tag (resolved to its digest).
    #[arg(long, env = "ECR_SCAN_GATE_TAG")]
    tag: Option<String>,
    /// The image's digest.
    #[arg(long, env = "ECR_SCAN_GATE_DIGEST", value_name = "sha256:...", value_parser = parse_digest)]
    digest: Option<String>,
    /// Policy document (JSON, the Lambda's format); default: the threshold alone.
    #[arg(long = "policy", env = "ECR_SCAN_GATE_POLICY", value_name = "FILE")]
    policy_file: Option<String>,
    /// INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL; overrides the document's
    /// thresholds (default HIGH without a document).
    #[arg(long, env = "ECR_SCAN_GATE_THRESHOLD", value_name = "SEV", value_parser = parse_threshold)]
    threshold: Option<Severity>,
    /// Poll until the scan is complete (progress on stderr); stops at once when
    /// the scanning configuration means no scan will start.
    #[arg(long, env = "ECR_SCAN_GATE_WAIT")]
    wait: bool,
    /// How long the gate may wait in all, in seconds: for the scan (--wait) and
    /// for enhanced findings to settle.
    #[arg(long, env = "ECR_SCAN_GATE_TIMEOUT", value_name = "SECS", default_value = "600", value_parser = parse_seconds)]
    timeout: Duration,
    /// Seconds between polls and between the two reads of an enhanced scan.
    #[arg(long, env = "ECR_SCAN_GATE_INTERVAL", value_name = "SECS", default_value = "5", value_parser = parse_seconds)]
    interval: Duration,
    /// Output on stdout.
    #[arg(long, env = "ECR_SCAN_GATE_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    format: String,
    /// Registry (account id) when it is not the caller's.
    #[arg(long, env = "ECR_SCAN_GATE_REGISTRY_ID", value_name = "ID")]
    registry_id: Option<String>,
}

fn parse_digest(value: &str) -> Result<String, String> {
    if value.starts_with("sha256:") {
        Ok(value.to_string())
    } else {
        Err(format!("`{value}` is not sha256:<hex>"))
    }
}

fn parse_threshold(value: &str) -> Result<Severity, String> {
    value
        .parse::<Severity>()
        .ok()
        .filter(|s| s.is_ranked())
        .ok_or_else(|| format!("`{value}` is not INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL"))
}

fn parse_seconds(value: &str) -> Result<Duration, String> {
    value
        .parse::<u64>()
        .ok()
        .filter(|s| *s > 0)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{value}` is not a positive number of seconds"))
}

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub policy_file: Option<String>,
    pub threshold: Option<Severity>,
    pub wait: bool,
    pub timeout: Duration,
    pub interval: Duration,
    pub json: bool,
    pub registry_id: Option<String>,
}

/// Reads the command line (without the program name) and the options'
/// environment variables. The error is clap's: `--help` and `--version`
/// print to stdout and exit 0; a bad argument names it, shows the usage and
/// exits 2 (`clap::Error::exit`).
pub fn parse_args(args: &[String]) -> Result<Args, clap::Error> {
    use clap::Parser;
    let cli = Cli::try_parse_from(
        std::iter::once("ecr-scan-gate").chain(args.iter().map(String::as_str)),
    )?;
    Ok(Args {
        repository: cli.repository,
        tag: cli.tag,
        digest: cli.digest,
        policy_file: cli.policy_file,
        threshold: cli.threshold,
        wait: cli.wait,
        timeout: cli.timeout,
        interval: cli.interval,
        json: cli.format == "json",
        registry_id: cli.registry_id,
    })
}

/// The gate's verdict, printed as text or JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub result: &'static str,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub threshold: String,
    pub scan_status: String,
    pub counts: crate::domain::severity::SeverityCounts,
    pub violations: Vec<Violation>,
    pub violations_total: u64,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Violation {
    pub id: String,
    pub severity: Severity,
    pub package: Option<String>,
    pub fixed_in: Option<String>,
    pub link: Option<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.result == "pass"
    }

    pub fn text(&self) -> String {
        let mut out = String::new();
        let name = if self.tags.is_empty() {
            format!("{}@{}", self.repository, self.digest)
        } else {
            format!("{}:{}", self.repository, self.tags.join(","))
        };
        let _ = writeln!(
            out,
            "{}: {} finding(s) at or above {} in {} ({})",
            self.result.to_ascii_uppercase(),
            self.violations_total,
            self.threshold,
            one_line(&name),
            self.scan_status
        );
        for v in &self.violations {
            let _ = writeln!(
                out,
                "  {:<9} {:<20} {}{}",
                v.severity.as_str(),
                one_line(&v.id),
                v.package.as_deref().map(one_line).unwrap_or_default(),
                v.fixed_in
                    .as_deref()
                    .map(|f| format!(" -> {}", one_line(f)))
                    .unwrap_or_default()
            );
        }
        let listed = self.violations.len() as u64;
        if self.violations_total > listed {
            let _ = writeln!(out, "  ... and {} more", self.violations_total - listed);
        }
        for note in &self.notes {
            let _ = writeln!(out, "{}", one_line(note));
        }
        out
    }
}

/// A gate failure: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GateError(pub String);

/// Waits until ECR reports the scan finished (or `timeout`), calling
/// `progress` with a line for stderr at each poll that is still waiting.
///
/// While no scan exists, the scanning configuration is read once: when it
/// means no scan will ever start (scan frequency MANUAL), waiting out the
/// timeout would only delay the same failure, so the gate stops at once. A
/// configuration it cannot read (not allowed, another registry) never fails
/// the gate: it says so and keeps waiting.
pub async fn wait_for_scan<S: FindingsSource + ScanningConfigSource>(
    source: &S,
    image: &ImageRef,
    timeout: Duration,
    interval: Duration,
    mut progress: impl FnMut(String),
) -> Result<(), GateError> {
    let started = Instant::now();
    let mut config_checked = false;
    loop {
        let state = match source.page(image, None).await {
            Ok(page) => page.status.map(|s| s.status).unwrap_or_default(),
            // Scan on push may not have started yet.
            Err(SourceError::ScanNotFound(_)) => "NOT_STARTED".to_string(),
            Err(SourceError::ImageNotFound(f)) => {
                return Err(GateError(format!("image not found: {f}")))
            }
            Err(e @ (SourceError::Failed(_) | SourceError::RoleUnavailable { .. })) => {
                return Err(GateError(e.to_string()))
            }
        };
        if state != "NOT_STARTED" && !PENDING_STATUSES.contains(&state.as_str()) {
            return Ok(());
        }
        if state == "NOT_STARTED" && !config_checked {
            config_checked = true;
            match scan_expected(source, image).await {
                Expectation::Never(message) => return Err(GateError(message)),
                Expectation::Unknown(line) => progress(line),
                Expectation::Expected => {}
            }
        }
        let waited = started.elapsed();
        if waited + interval > timeout {
            return Err(GateError(format!(
                "the scan of {} is still {state} after {}s (--timeout)",
                image.short_name(),
                waited.as_secs()
            )));
        }
        progress(format!(
            "waiting for the scan of {}: {state} ({}s elapsed)",
            image.short_name(),
            waited.as_secs()
        ));
        tokio::time::sleep(interval).await;
    }
}

/// What the scanning configuration says about a scan of the image starting.
enum Expectation {
    /// One may start (or the configuration does not say otherwise).
    Expected,
    /// None will: the gate's error message.
    Never(String),
    /// The configuration could not be read: a line for stderr.
    Unknown(String),
}

async fn scan_expected<C: ScanningConfigSource>(config: &C, image: &ImageRef) -> Expectation {
    const UNKNOWN: &str = "cannot tell whether a scan will start";
    if !image.account.is_empty() {
        // Both reads take no registry id: they answer for the caller's own.
        return Expectation::Unknown(format!(
            "{UNKNOWN}: ECR reads the scanning configuration only in the caller's own \
             registry, and --registry-id {} was given; waiting",
            image.account
        ));
    }
    let registry = match config.registry_scanning().await {
        Ok(registry) => registry,
        Err(f) => {
            return Expectation::Unknown(format!(
                "{UNKNOWN}: reading the registry scanning configuration failed ({f}); waiting"
            ))
        }
    };
    let repository = match config.repository_scanning(&image.repository).await {
        Ok(Some(repository)) => repository,
        Ok(None) => {
            return Expectation::Unknown(format!(
                "{UNKNOWN}: ECR returned no scanning configuration for repository {}; waiting",
                image.repository
            ))
        }
        Err(f) => {
            return Expectation::Unknown(format!(
            "{UNKNOWN}: reading the scanning configuration of repository {} failed ({f}); waiting",
            image.repository
        ))
        }
    };
    match no_scan_will_start(&image.repository, &registry, &repository) {
        Some(settings) => Expectation::Never(format!(
            "no scan of {} will start: {settings}. {}",
            image.short_name(),
            start_a_scan(image, &registry.scan_type)
        )),
        None => Expectation::Expected,
    }
}

/// The settings that mean no scan of `repository` starts on its own, or
/// `None` when one may. Only a consistent MANUAL answer counts: the
/// repository's frequency MANUAL, its (legacy) scanOnPush off, and no
/// registry rule that scans matching it.
pub fn no_scan_will_start(
    repository: &str,
    registry: &RegistryScanning,
    config: &RepositoryScanning,
) -> Option<String> {
    if config.frequency != "MANUAL" || config.scan_on_push {
        return None;
    }
    let scanning_rules: Vec<_> = registry
        .rules
        .iter()
        .filter(|rule| rule.frequency != "MANUAL")
        .collect();
    if scanning_rules
        .iter()
        .any(|rule| rule.filters.iter().any(|f| filter_matches(f, repository)))
    {
        return None;
    }
    let rules = if scanning_rules.is_empty() {
        "no scanning rules".to_string()
    } else {
        let listed: Vec<String> = scanning_rules
            .iter()
            .map(|rule| {
                let mut filters: Vec<&str> =
                    rule.filters.iter().take(5).map(String::as_str).collect();
                let more = rule.filters.len().saturating_sub(filters.len());
                let more = format!("and {more} more");
                if rule.filters.len() > 5 {
                    filters.push(&more);
                }
                format!("{} for {}", rule.frequency, one_line(&filters.join(", ")))
            })
            .collect();
        format!("rules {}: none matches it", listed.join("; "))
    };
    Some(format!(
        "repository {repository} has scan frequency MANUAL (registry scan type {}, {rules}; \
         repository scanOnPush false)",
        one_line(&registry.scan_type)
    ))
}

/// What to do when no scan will start on its own.
fn start_a_scan(image: &ImageRef, scan_type: &str) -> String {
    if scan_type == "ENHANCED" {
        format!(
            "Add a scan-on-push or continuous-scanning filter that matches {} to the \
             registry's scanning configuration (ECR console: Private registry > Settings > \
             Scanning), push the image again, then rerun the gate.",
            image.repository
        )
    } else {
        format!(
            "Turn on scan on push for it (a scan-on-push filter that matches {} in the \
             registry's scanning configuration) and push again, or start a scan: `aws ecr \
             start-image-scan --repository-name {} --image-id imageDigest={}`; then rerun the gate.",
            image.repository, image.repository, image.digest
        )
    }
}

/// Whether a registry scanning filter matches a repository name: without a
/// wildcard a filter matches every name that contains it; `*` stands for
/// any run of characters (ECR user guide, "Filters to choose which
/// repositories are scanned").
pub fn filter_matches(filter: &str, repository: &str) -> bool {
    if filter.contains('*') {
        Glob::new(filter).matches(repository)
    } else {
        repository.contains(filter)
    }
}

/// How long an evaluation may keep re-reading an enhanced scan's findings,
/// and how far apart the reads are.
#[derive(Debug, Clone, Copy)]
pub struct Settle {
    pub deadline: Instant,
    pub interval: Duration,
}

/// Passes pages through, noting whether any finding carries fields that only
/// Amazon Inspector (enhanced scanning) fills in.
struct Watched<'a, S> {
    inner: &'a S,
    inspector: AtomicBool,
}

impl<S: FindingsSource> FindingsSource for Watched<'_, S> {
    fn page<'a>(
        &'a self,
        image: &'a ImageRef,
        next_token: Option<&'a str>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
        Box::pin(async move {
            let page = self.inner.page(image, next_token).await?;
            if page
                .findings
                .iter()
                .any(|f| f.fix_available.is_some() || f.fixed_in.is_some())
            {
                self.inspector.store(true, Ordering::Relaxed);
            }
            Ok(page)
        })
    }
}

/// Applies `policy` to the image's findings. An enhanced scan (status
/// ACTIVE, or findings with Inspector's fields) is read again every
/// `settle.interval` and judged only when two consecutive reads give the
/// same counts: its findings can lag its status (AWS-FACTS "Findings can lag
/// the status"). `progress` gets a line for stderr before each re-read.
pub async fn evaluate<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    policy: &Policy,
    today: chrono::NaiveDate,
    settle: Settle,
    mut progress: impl FnMut(String),
) -> Result<Report, GateError> {
    if let Some(reason) = policy.skip_reason(image) {
        return Ok(Report {
            result: "pass",
            repository: image.repository.clone(),
            digest: image.digest.clone(),
            tags: image.tags.clone(),
            threshold: "-".into(),
            scan_status: "-".into(),
            counts: Default::default(),
            violations: Vec::new(),
            violations_total: 0,
            notes: vec![format!("Not evaluated: {reason}.")],
        });
    }
    let image_policy = policy.for_image(image, today);
    let watched = Watched {
        inner: source,
        inspector: AtomicBool::new(false),
    };
    let read = || async {
        fold_findings(&watched, image, &image_policy, &Known::default())
            .await
            .map_err(|e| fold_error(image, e))
    };
    let mut folded = read().await?;
    let enhanced = |folded: &Folded| {
        folded.status.as_ref().is_some_and(|s| s.status == "ACTIVE")
            || watched.inspector.load(Ordering::Relaxed)
    };
    if enhanced(&folded) {
        let mut totals = vec![folded.tally.counts.total()];
        loop {
            if Instant::now() + settle.interval > settle.deadline {
                return Err(unsettled(image, &totals, settle.interval));
            }
            progress(format!(
                "reading the findings of {} again in {}s: an enhanced scan's findings can lag \
                 its status (read {}: {} finding(s))",
                image.short_name(),
                settle.interval.as_secs(),
                totals.len(),
                folded.tally.counts.total()
            ));
            tokio::time::sleep(settle.interval).await;
            let again = read().await?;
            let agree = again.tally.counts == folded.tally.counts;
            totals.push(again.tally.counts.total());
            folded = again;
            if agree {
                break;
            }
        }
    }
    let kind = if enhanced(&folded) {
        ScanKind::Enhanced
    } else {
        ScanKind::Basic
    };
    let status = folded.status.map(|s| s.status).unwrap_or_default();
    let assessment = Assessment::new(
        policy,
        &image_policy,
        folded.tally,
        kind,
        status,
        Reader::Gate,
    );
    Ok(report(image, assessment))
}

/// The error for an enhanced scan whose reads never agreed before the deadline.
fn unsettled(image: &ImageRef, totals: &[u64], interval: Duration) -> GateError {
    if let [only] = totals {
        return GateError(format!(
            "cannot judge the enhanced scan of {}: its findings ({} finding(s)) could not be \
             read a second time, {}s later, within --timeout; an enhanced scan is judged only \
             when two consecutive reads agree: raise --timeout",
            image.short_name(),
            only,
            interval.as_secs()
        ));
    }
    let reads: Vec<String> = totals.iter().map(u64::to_string).collect();
    GateError(format!(
        "cannot judge the enhanced scan of {}: its findings were still changing when --timeout \
         ran out (consecutive reads: {} finding(s)); Amazon Inspector may still be adding \
         them: rerun the gate later or raise --timeout",
        image.short_name(),
        reads.join(", ")
    ))
}

fn fold_error(image: &ImageRef, error: FoldError) -> GateError {
    match error {
        FoldError::Read(SourceError::ImageNotFound(f)) => {
            GateError(format!("image not found: {f}"))
        }
        FoldError::Read(SourceError::ScanNotFound(f)) => GateError(format!(
            "no scan found for {} (is scan on push on? start one or use --wait): {f}",
            image.short_name()
        )),
        FoldError::Read(SourceError::Failed(f)) => GateError(f.to_string()),
        FoldError::Read(SourceError::RoleUnavailable {
            account,
            role,
            failure,
        }) => GateError(format!(
            "cannot assume role {role} in account {account}: {failure}"
        )),
        FoldError::ScanFailed(s) => {
            GateError(no_current_findings(image, &s).unwrap_or_else(|| {
                format!(
                    "the scan of {} failed: {} {}",
                    image.short_name(),
                    s.status,
                    s.description.unwrap_or_default()
                )
            }))
        }
        FoldError::Pending(s) => GateError(format!(
            "the scan of {} is still {s}; use --wait",
            image.short_name()
        )),
    }
}

/// The message for a scan status that means "no current findings"
/// (fold's `NO_CURRENT_FINDINGS_STATUSES`), which is not "clean": what it
/// means and what to do. `None` for other statuses.
pub fn no_current_findings(image: &ImageRef, status: &ScanStatus) -> Option<String> {
    if !NO_CURRENT_FINDINGS_STATUSES.contains(&status.status.as_str()) {
        return None;
    }
    let name = image.short_name();
    let what_to_do = match status.status.as_str() {
        "SCAN_ELIGIBILITY_EXPIRED" => "Amazon Inspector stopped rescanning the image because \
             it was not pushed or pulled within the registry's rescan duration, and closed its \
             findings. Push or pull the image again (or lengthen the ECR rescan duration in \
             Amazon Inspector's settings), wait for the rescan, then rerun the gate."
            .to_string(),
        "IMAGE_ARCHIVED" => format!(
            "The image is archived, and archived images are not scanned. Restore it (`aws ecr \
             update-image-storage-class --repository-name {} --image-id imageDigest={} \
             --target-storage-class STANDARD`), wait until it is restored and scanned, then \
             rerun the gate.",
            image.repository, image.digest
        ),
        "FINDINGS_UNAVAILABLE" => {
            "The registry cannot return the findings right now. Retry later.".to_string()
        }
        _ => return None,
    };
    let said = status
        .description
        .as_deref()
        .map(|d| d.trim().trim_end_matches('.'))
        .filter(|d| !d.is_empty())
        .map(|d| format!(" (ECR: {})", one_line(d)))
        .unwrap_or_default();
    Some(format!(
        "no current findings for {name}: scan status {}{said}. That is not \"clean\": the \
         image was not judged. {what_to_do}",
        status.status
    ))
}

/// The verdict, read from the assessment.
fn report(image: &ImageRef, assessment: Assessment) -> Report {
    let tally = &assessment.tally;
    let violations = tally
        .listed()
        .into_iter()
        .take(100)
        .map(|f| Violation {
            id: f.id.clone(),
            severity: f.severity,
            package: f.package_label(),
            fixed_in: f.fixed_in.clone(),
            link: f.link.clone(),
        })
        .collect();
    Report {
        result: if assessment.alert_worthy() == 0 {
            "pass"
        } else {
            "fail"
        },
        repository: image.repository.clone(),
        digest: image.digest.clone(),
        tags: image.tags.clone(),
        threshold: assessment.threshold.to_string(),
        scan_status: assessment.status.clone(),
        counts: tally.counts.clone(),
        violations,
        violations_total: assessment.alert_worthy(),
        notes: assessment.notes.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_options() {
        let a = args(&[
            "--repository",
            "team/api",
            "--tag",
            "v1",
            "--threshold",
            "critical",
            "--wait",
            "--timeout",
            "30",
            "--interval",
            "2",
            "--format",
            "json",
        ])
        .unwrap();
        assert_eq!(a.repository, "team/api");
        assert_eq!(a.tag.as_deref(), Some("v1"));
        assert_eq!(a.threshold, Some(Severity::Critical));
        assert!(a.wait && a.json);
        assert_eq!(a.timeout, Duration::from_secs(30));
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (list, expected) in [
            (&["--tag", "v1"][..], "--repository <NAME>"),
            (
                &["--repository", "r"][..],
                "<--tag <TAG>|--digest <sha256:...>>",
            ),
            (
                &["--repository", "r", "--tag", "a", "--digest", "sha256:0"][..],
                "'--tag <TAG>' cannot be used with '--digest <sha256:...>'",
            ),
            (
                &["--repository", "r", "--digest", "abc"][..],
                "`abc` is not sha256:<hex>",
            ),
            (
                &["--repository", "r", "--tag", "a", "--threshold", "SEVERE"][..],
                "`SEVERE` is not INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL",
            ),
            (
                &["--repository", "r", "--tag", "a", "--format", "xml"][..],
                "invalid value 'xml' for '--format <FORMAT>'",
            ),
            (
                &["--repository", "r", "--tag", "a", "--timeout", "0"][..],
                "`0` is not a positive number of seconds",
            ),
            (
                &["--repository", "r", "--tag", "a", "--frobnicate"][..],
                "unexpected argument '--frobnicate'",
            ),
            (
                &["--repository"][..],
                "a value is required for '--repository <NAME>'",
            ),
        ] {
            let err = args(list).unwrap_err();
            assert!(err.contains(expected), "{list:?}: {err}");
        }
    }

    #[test]
    fn help_and_version_are_answers_not_errors() {
        use clap::error::ErrorKind;
        let argv = |a: &str| vec![a.to_string()];
        let help = parse_args(&argv("--help")).unwrap_err();
        assert_eq!(help.kind(), ErrorKind::DisplayHelp);
        assert_eq!(help.exit_code(), 0, "--help is not a failure");
        let text = help.to_string();
        assert!(
            text.contains("--repository <NAME>")
                && text.contains("[env: ECR_SCAN_GATE_REPOSITORY=]"),
            "{text}"
        );
        assert!(text.contains("Exit status: 0 pass, 1 policy violations, 2 cannot judge"));
        let version = parse_args(&argv("--version")).unwrap_err();
        assert_eq!(version.kind(), ErrorKind::DisplayVersion);
        assert_eq!(version.exit_code(), 0);
        let bad = parse_args(&argv("--frobnicate")).unwrap_err();
        assert_eq!(bad.exit_code(), 2, "cannot judge");
    }

    use crate::domain::finding::{Finding, FixAvailable};
    use crate::ports::{ScanningRule, ServiceFailure};
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Mutex;

    /// A registry that answers each findings read with the next scripted
    /// answer (the last one repeats), and a fixed scanning configuration.
    struct Fake {
        reads: Mutex<VecDeque<Result<FindingsPage, SourceError>>>,
        page_calls: AtomicUsize,
        registry: Result<RegistryScanning, ServiceFailure>,
        repository: Result<Option<RepositoryScanning>, ServiceFailure>,
        config_calls: AtomicUsize,
    }

    impl Fake {
        fn new(reads: Vec<Result<FindingsPage, SourceError>>) -> Fake {
            Fake {
                reads: Mutex::new(reads.into()),
                page_calls: AtomicUsize::new(0),
                registry: Ok(registry("BASIC", vec![])),
                repository: Ok(Some(repository("SCAN_ON_PUSH", true))),
                config_calls: AtomicUsize::new(0),
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

    impl ScanningConfigSource for Fake {
        fn registry_scanning<'a>(
            &'a self,
        ) -> BoxFuture<'a, Result<RegistryScanning, ServiceFailure>> {
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
            digest: "sha256:7f5b2640fe6fb4f46592dfd3410c4a79dac4f89e4782432e0378abcd1234ef01"
                .into(),
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

    fn settle(timeout: Duration, interval: Duration) -> Settle {
        Settle {
            deadline: Instant::now() + timeout,
            interval,
        }
    }

    async fn judge(source: &Fake, settle: Settle) -> (Result<Report, GateError>, Vec<String>) {
        let mut lines = Vec::new();
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let policy = Policy::new(Severity::High);
        let result = evaluate(source, &image(), &policy, today, settle, |l| lines.push(l)).await;
        (result, lines)
    }

    #[tokio::test]
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
            let err = result.unwrap_err().0;
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

    #[tokio::test]
    async fn a_broken_scan_keeps_its_own_message() {
        let source = Fake::new(vec![page("UNSUPPORTED_IMAGE", vec![])]);
        let (result, _) = judge(
            &source,
            settle(Duration::from_secs(60), Duration::from_secs(5)),
        )
        .await;
        let err = result.unwrap_err().0;
        assert!(
            err.starts_with("the scan of team/api:v1 failed: UNSUPPORTED_IMAGE"),
            "{err}"
        );
    }

    #[tokio::test]
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

    #[tokio::test]
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

    #[tokio::test]
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

    #[tokio::test]
    async fn an_enhanced_scan_that_never_settles_cannot_be_judged() {
        let reads = (1..200).map(|n| page("ACTIVE", enhanced(n))).collect();
        let source = Fake::new(reads);
        let (result, _) = judge(
            &source,
            settle(Duration::from_millis(100), Duration::from_millis(20)),
        )
        .await;
        let err = result.unwrap_err().0;
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
        let err = result.unwrap_err().0;
        assert!(err.contains("could not be read a second time"), "{err}");
        assert_eq!(source.pages(), 1);
    }

    async fn wait(
        source: &Fake,
        image: &ImageRef,
        timeout: Duration,
    ) -> (Result<(), GateError>, Vec<String>) {
        let mut lines = Vec::new();
        let result = wait_for_scan(source, image, timeout, Duration::from_millis(10), |l| {
            lines.push(l)
        })
        .await;
        (result, lines)
    }

    #[tokio::test]
    async fn a_manual_scan_frequency_fails_fast() {
        let mut source = Fake::new(vec![not_found()]);
        source.registry = Ok(registry("BASIC", vec![("SCAN_ON_PUSH", &["prod-*"])]));
        source.repository = Ok(Some(repository("MANUAL", false)));
        let started = Instant::now();
        // With a 10 s interval, waiting even once would take 10 s.
        let mut lines = Vec::new();
        let err = wait_for_scan(
            &source,
            &image(),
            Duration::from_secs(60),
            Duration::from_secs(10),
            |l| lines.push(l),
        )
        .await
        .unwrap_err()
        .0;
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

    #[tokio::test]
    async fn a_manual_enhanced_registry_says_which_filter_to_add() {
        let mut source = Fake::new(vec![not_found()]);
        source.registry = Ok(registry("ENHANCED", vec![]));
        source.repository = Ok(Some(repository("MANUAL", false)));
        let (result, _) = wait(&source, &image(), Duration::from_secs(60)).await;
        let err = result.unwrap_err().0;
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

    #[tokio::test]
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

    #[tokio::test]
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

    #[tokio::test]
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
        let settings =
            no_scan_will_start("team/api", &registry, &repository("MANUAL", false)).unwrap();
        assert!(
            settings.contains("SCAN_ON_PUSH for svc-0, svc-1, svc-2, svc-3, svc-4, and 3 more"),
            "{settings}"
        );
    }
}
