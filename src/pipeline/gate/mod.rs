//! `ecr-scan-gate`: the same policy as the Lambda, applied in CI before a
//! deploy. Exit 0 pass, 1 policy violations (or a budget exceeded), 2 cannot
//! judge (error, no current findings, a scan too old).
//!
//! [`run`] is the whole use case: wait for (or start) the scan, judge its
//! findings under the policy and the budgets, redo a basic scan older than
//! `--max-age`. [`cli`] reads the command line, [`report`] holds the
//! verdict and [`formats`] writes it for CI systems.

pub mod cli;
pub mod formats;
pub mod report;

pub use cli::{parse_args, Args};
pub use formats::Format;
pub use report::{Budgets, Report, Violation};

use crate::domain::assessment::{Assessment, Reader};
use crate::domain::dedup::Known;
use crate::domain::glob::Glob;
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::policy::Policy;
use crate::domain::risk::Signals;
use crate::domain::tally::GATE_LISTED_CAP;
use crate::domain::text::one_line;
use crate::pipeline::fold::{
    fold_findings_listing, FoldError, Folded, NO_CURRENT_FINDINGS_STATUSES, PENDING_STATUSES,
};
use crate::ports::BoxFuture;
use crate::ports::{
    FindingsPage, FindingsSource, RegistryScanning, RepositoryScanning, ScanStarter, ScanStatus,
    ScanningConfigSource, SourceError, StartScanError,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A gate failure: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct GateError(pub String);

/// What the gate was asked to do besides judging.
#[derive(Debug, Clone)]
pub struct Options {
    /// Wait for a scan that has not completed yet (`--wait`).
    pub wait: bool,
    /// Start a basic scan when the image has none (`--start-scan`).
    pub start_scan: bool,
    /// Judge only a scan completed within this age (`--max-age`).
    pub max_age: Option<Duration>,
    /// How long the whole run may wait (`--timeout`).
    pub timeout: Duration,
    /// Between polls and re-reads (`--interval`).
    pub interval: Duration,
    pub budgets: Budgets,
}

/// The whole gate: waits for (or starts) the image's scan as asked, judges
/// its findings under `policy` and the budgets, and redoes a basic scan
/// older than `--max-age`. `now` is the clock the scan's age is read
/// against; `progress` gets lines for stderr.
pub async fn run<S>(
    source: &S,
    image: &ImageRef,
    policy: &Policy,
    options: &Options,
    now: chrono::DateTime<chrono::Utc>,
    mut progress: impl FnMut(String),
) -> Result<Report, GateError>
where
    S: FindingsSource + ScanningConfigSource + ScanStarter,
{
    let polling = Polling {
        deadline: Instant::now() + options.timeout,
        interval: options.interval,
    };
    if options.wait || options.start_scan {
        wait_for_scan(source, image, polling, options.start_scan, &mut progress).await?;
    }
    let today = now.date_naive();
    let (budgets, poll) = (&options.budgets, polling);
    let report = evaluate(source, image, policy, budgets, today, poll, &mut progress).await?;
    let Some(max_age) = options.max_age else {
        return Ok(report);
    };
    let Some(age) = stale(&report, max_age, now, image)? else {
        return Ok(report);
    };
    if report.scan_type != "BASIC" {
        return Err(GateError(format!(
            "the last scan of {} completed {} ago, longer than --max-age {}; it is an enhanced \
             scan, which Amazon Inspector repeats on its own schedule and which cannot be started \
             on demand. Check the image's status in Amazon Inspector (an image not pushed or \
             pulled within the ECR rescan duration is no longer rescanned), push it again to \
             rescan it, or raise --max-age.",
            image.short_name(),
            human(age),
            human(max_age)
        )));
    }
    progress(format!(
        "the last scan of {} completed {} ago, longer than --max-age {}: starting a new basic scan",
        image.short_name(),
        human(age),
        human(max_age)
    ));
    source
        .start_scan(image)
        .await
        .map_err(|e| not_started(image, e, Some(age)))?;
    wait_for_rescan(
        source,
        image,
        report.completed_epoch,
        polling,
        &mut progress,
    )
    .await?;
    let report = evaluate(source, image, policy, budgets, today, poll, &mut progress).await?;
    match stale(&report, max_age, now, image)? {
        None => Ok(report),
        Some(age) => Err(GateError(format!(
            "the new scan of {} reports completing {} ago, still longer than --max-age {}",
            image.short_name(),
            human(age),
            human(max_age)
        ))),
    }
}

/// How old the report's scan is when it is older than `max_age`; an error
/// when ECR gave no completion time to judge by.
fn stale(
    report: &Report,
    max_age: Duration,
    now: chrono::DateTime<chrono::Utc>,
    image: &ImageRef,
) -> Result<Option<Duration>, GateError> {
    if report.not_covered() {
        return Ok(None); // nothing judged: the policy leaves the image out
    }
    let Some(completed) = report.completed_epoch else {
        return Err(GateError(format!(
            "cannot check --max-age: ECR gave no completion time (imageScanCompletedAt) for the \
             scan of {} (status {}); rerun the gate without --max-age to judge it anyway",
            image.short_name(),
            report.scan_status
        )));
    };
    let age = Duration::from_secs(now.timestamp().saturating_sub(completed).max(0) as u64);
    Ok((age > max_age).then_some(age))
}

/// `3d 4h`, `5h 10m`, `42m`, `15s`: an age people read at a glance.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    let (days, hours, minutes) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// The error for a scan that could not be started, with what to do.
fn not_started(image: &ImageRef, error: StartScanError, age: Option<Duration>) -> GateError {
    let name = image.short_name();
    GateError(match error {
        StartScanError::LimitExceeded(f) => format!(
            "cannot start a new scan of {name}: ECR starts a basic scan of an image at most once \
             per 24 hours, scan on push included ({f}){}. Rerun the gate later, or raise \
             --max-age to at least 24h.",
            age.map(|a| format!("; the last one completed {} ago", human(a)))
                .unwrap_or_default()
        ),
        StartScanError::Unsupported(f) => format!(
            "ECR cannot start a scan of {name} on demand ({f}): with enhanced scanning Amazon \
             Inspector decides when images are scanned, and some image types are not scanned \
             at all. Rerun the gate without --start-scan/--max-age, with --wait."
        ),
        StartScanError::ImageNotFound(f) => format!("image not found: {f}"),
        StartScanError::Failed(f) => format!("starting a scan of {name} failed: {f}"),
    })
}

/// How long polling may go on, and how far apart the polls are.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub deadline: Instant,
    pub interval: Duration,
}

impl Polling {
    /// Sleeps one interval, or says it would pass the deadline.
    async fn sleep(&self) -> bool {
        if Instant::now() + self.interval > self.deadline {
            return false;
        }
        tokio::time::sleep(self.interval).await;
        true
    }
}

/// Waits until ECR reports the scan finished (or the deadline), calling
/// `progress` with a line for stderr at each poll that is still waiting.
///
/// While no scan exists, the scanning configuration is read once: when it
/// means no scan will ever start (scan frequency MANUAL), waiting out the
/// timeout would only delay the same failure, so the gate stops at once. A
/// configuration it cannot read (not allowed, another registry) never fails
/// the gate: it says so and keeps waiting. With `start`, a basic scan is
/// started instead when the registry uses basic scanning (or cannot tell).
pub async fn wait_for_scan<S>(
    source: &S,
    image: &ImageRef,
    polling: Polling,
    start: bool,
    mut progress: impl FnMut(String),
) -> Result<(), GateError>
where
    S: FindingsSource + ScanningConfigSource + ScanStarter,
{
    let started = Instant::now();
    let mut config_checked = false;
    loop {
        let state = match source.page(image, None, None).await {
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
            if start {
                start_basic_scan(source, image, &mut progress).await?;
            } else {
                match scan_expected(source, image).await {
                    Expectation::Never(message) => return Err(GateError(message)),
                    Expectation::Unknown(line) => progress(line),
                    Expectation::Expected => {}
                }
            }
        }
        let waited = started.elapsed();
        if !polling.sleep().await {
            return Err(GateError(format!(
                "the scan of {} is still {state} after {}s (--timeout)",
                image.short_name(),
                waited.as_secs()
            )));
        }
        progress(format!(
            "waiting for the scan of {}: {state} ({}s elapsed)",
            image.short_name(),
            started.elapsed().as_secs()
        ));
    }
}

/// `--start-scan` on an image with no scan: starts a basic scan, unless
/// the registry says it uses enhanced scanning.
async fn start_basic_scan<S: ScanningConfigSource + ScanStarter>(
    source: &S,
    image: &ImageRef,
    progress: &mut impl FnMut(String),
) -> Result<(), GateError> {
    // Only the caller's own registry's configuration can be read.
    if image.account.is_empty() {
        match source.registry_scanning().await {
            Ok(registry) if registry.scan_type == "ENHANCED" => {
                return Err(GateError(format!(
                    "--start-scan starts basic scans only, and the registry uses enhanced \
                     scanning: Amazon Inspector decides when {} is scanned. {}",
                    image.short_name(),
                    start_a_scan(image, "ENHANCED")
                )))
            }
            Ok(_) => {}
            Err(f) => progress(format!(
                "cannot read the registry scanning configuration ({f}); starting a basic scan anyway"
            )),
        }
    }
    source
        .start_scan(image)
        .await
        .map_err(|e| not_started(image, e, None))?;
    progress(format!(
        "no scan of {} yet: started a basic scan (--start-scan)",
        image.short_name()
    ));
    Ok(())
}

/// After starting a new scan: waits until ECR reports one completed later
/// than `previous`.
async fn wait_for_rescan<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    previous: Option<i64>,
    polling: Polling,
    progress: &mut impl FnMut(String),
) -> Result<(), GateError> {
    let started = Instant::now();
    loop {
        let (state, completed) = match source.page(image, None, None).await {
            Ok(page) => (
                page.status.map(|s| s.status).unwrap_or_default(),
                page.completed_at,
            ),
            Err(SourceError::ScanNotFound(_)) => ("NOT_STARTED".to_string(), None),
            Err(e) => return Err(GateError(e.to_string())),
        };
        let pending = state == "NOT_STARTED" || PENDING_STATUSES.contains(&state.as_str());
        if !pending && completed.is_some() && completed != previous {
            return Ok(());
        }
        if !polling.sleep().await {
            return Err(GateError(format!(
                "the new scan of {} had not completed after {}s (--timeout; status {state})",
                image.short_name(),
                started.elapsed().as_secs()
            )));
        }
        progress(format!(
            "waiting for the new scan of {}: {state} ({}s elapsed)",
            image.short_name(),
            started.elapsed().as_secs()
        ));
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

/// Passes pages through, noting whether any finding carries fields that only
/// Amazon Inspector (enhanced scanning) fills in.
struct Watched<'a, S> {
    inner: &'a S,
    inspector: AtomicBool,
}

impl<S> Watched<'_, S> {
    fn watch(&self, page: FindingsPage) -> Result<FindingsPage, SourceError> {
        if page
            .findings
            .iter()
            .any(|f| f.fix_available.is_some() || f.fixed_in.is_some())
        {
            self.inspector.store(true, Ordering::Relaxed);
        }
        Ok(page)
    }
}

impl<S: FindingsSource> FindingsSource for Watched<'_, S> {
    fn page<'a>(
        &'a self,
        image: &'a ImageRef,
        next_token: Option<&'a str>,
        count_below: Option<crate::domain::severity::Severity>,
    ) -> BoxFuture<'a, Result<FindingsPage, SourceError>> {
        Box::pin(async move { self.watch(self.inner.page(image, next_token, count_below).await?) })
    }

    fn risk_signals<'a>(
        &'a self,
        image: &'a ImageRef,
    ) -> BoxFuture<'a, Result<crate::domain::risk::Signals, SourceError>> {
        self.inner.risk_signals(image)
    }
}

/// Applies `policy` to the image's findings. An enhanced scan (status
/// ACTIVE, or findings with Inspector's fields) is read again every
/// `settle.interval` and judged only when two consecutive reads give the
/// same counts: its findings can lag its status (reported in aws/aws-sdk
/// issue 289, "ECR scan shows Status COMPLETE when enhanced findings are not
/// there yet"). `progress` gets a line for stderr before each re-read.
pub async fn evaluate<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    policy: &Policy,
    budgets: &Budgets,
    today: chrono::NaiveDate,
    settle: Polling,
    mut progress: impl FnMut(String),
) -> Result<Report, GateError> {
    if let Some(reason) = policy.skip_reason(image) {
        return Ok(Report::uncovered(image, &reason));
    }
    // Whether an image runs is a runtime fact: the gate judges it before it
    // is deployed, so usage never lowers, drops or passes a finding here.
    let image_policy = policy.for_image(image, today).ignore_usage();
    let watched = Watched {
        inner: source,
        inspector: AtomicBool::new(false),
    };
    let read = |signals: Signals| {
        let (watched, image_policy) = (&watched, &image_policy);
        async move {
            let tally = crate::domain::tally::Tally::with_cap(GATE_LISTED_CAP);
            fold_findings_listing(
                watched,
                image,
                image_policy,
                &Known::default(),
                &signals,
                tally,
            )
            .await
            .map_err(|e| fold_error(image, e))
        }
    };
    let mut folded = read(Signals::default()).await?;
    let enhanced = |folded: &Folded| {
        folded.status.as_ref().is_some_and(|s| s.status == "ACTIVE")
            || watched.inspector.load(Ordering::Relaxed)
    };
    // EPSS comes from Amazon Inspector, read only when the policy's risk
    // rule needs it; without it the gate cannot judge.
    let mut signals = Signals::default();
    if enhanced(&folded) && image_policy.uses_epss() {
        signals = watched.risk_signals(image).await.map_err(|e| {
            GateError(format!(
                "cannot read EPSS scores of {} from Amazon Inspector, which the policy's risk \
                 rule needs: {e}",
                image.short_name()
            ))
        })?;
        folded = read(signals.clone()).await?;
    }
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
            let again = read(signals.clone()).await?;
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
    let mut assessment = Assessment::new(
        policy,
        &image_policy,
        folded.tally,
        kind,
        status,
        Reader::Gate,
    );
    if image_policy.threshold_origin == "the default" {
        // The function falls back to its SEVERITY_THRESHOLD here (the
        // stack's SeverityThreshold): the two agree only when told alike.
        assessment.note(
            "The policy sets no threshold: the gate uses HIGH, while the alerting function uses \
             its SEVERITY_THRESHOLD (the stack's SeverityThreshold); pass --threshold with that \
             value to judge as it alerts."
                .to_string(),
        );
    }
    if image_policy.risk.is_some_and(|(_, rule)| rule.uses_usage()) {
        assessment.note(format!(
            "risk[{}]'s not_in_use / only_in_use rules are not applied: whether an image runs is \
             a runtime fact, and the gate judges it before it is deployed.",
            image_policy.risk.map_or(0, |(i, _)| i)
        ));
    }
    Ok(Report::judge(
        image,
        &assessment,
        budgets,
        folded.completed_at,
    ))
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
            "no scan found for {} ({f}): wait for scan on push with --wait, or start a basic \
             scan with --start-scan",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::finding::{Finding, FixAvailable};
    use crate::domain::severity::Severity;
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
        fn start_scan<'a>(
            &'a self,
            _image: &'a ImageRef,
        ) -> BoxFuture<'a, Result<(), StartScanError>> {
            Box::pin(async move {
                self.start_calls.fetch_add(1, Ordering::SeqCst);
                self.starts.lock().unwrap().pop_front().unwrap_or(Ok(()))
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

    #[tokio::test]
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

    #[tokio::test]
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

    #[tokio::test]
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
        let polling = settle(timeout, Duration::from_millis(10));
        let result = wait_for_scan(source, image, polling, false, |l| lines.push(l)).await;
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
        let polling = settle(Duration::from_secs(60), Duration::from_secs(10));
        let err = wait_for_scan(&source, &image(), polling, false, |l| lines.push(l))
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
        }
    }

    async fn gate(source: &Fake, options: Options) -> (Result<Report, GateError>, Vec<String>) {
        let mut lines = Vec::new();
        let now = chrono::DateTime::from_timestamp(NOW, 0).unwrap();
        let policy = Policy::new(Severity::High);
        let result = run(source, &image(), &policy, &options, now, |l| lines.push(l)).await;
        (result, lines)
    }

    #[tokio::test]
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

    #[tokio::test]
    async fn start_scan_leaves_an_enhanced_registry_to_inspector() {
        let mut source = Fake::new(vec![not_found()]);
        source.registry = Ok(registry("ENHANCED", vec![("SCAN_ON_PUSH", &["*"])]));
        let (result, _) = gate(&source, options(true, None)).await;
        let err = result.unwrap_err().0;
        assert_eq!(source.start_calls.load(Ordering::SeqCst), 0);
        assert!(
            err.starts_with(
                "--start-scan starts basic scans only, and the registry uses enhanced scanning"
            ),
            "{err}"
        );
    }

    #[tokio::test]
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

    #[tokio::test]
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

    #[tokio::test]
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
        let err = result.unwrap_err().0;
        assert!(
            err.starts_with(
                "cannot start a new scan of team/api:v1: ECR starts a basic scan of an image at \
                 most once per 24 hours, scan on push included (ECR LimitExceededException: no); \
                 the last one completed 5h ago."
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_enhanced_scan_older_than_max_age_cannot_be_judged() {
        let source = Fake::new(vec![scanned("ACTIVE", Some(NOW - 40 * DAY), enhanced(1))]);
        let (result, _) = gate(
            &source,
            options(false, Some(Duration::from_secs(30 * DAY as u64))),
        )
        .await;
        let err = result.unwrap_err().0;
        assert_eq!(source.start_calls.load(Ordering::SeqCst), 0);
        assert!(
            err.starts_with(
                "the last scan of team/api:v1 completed 40d ago, longer than --max-age 30d; it is \
                 an enhanced scan"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn max_age_without_a_completion_time_cannot_be_checked() {
        let source = Fake::new(vec![scanned("COMPLETE", None, basic(1))]);
        let (result, _) = gate(&source, options(false, Some(Duration::from_secs(3_600)))).await;
        assert!(result.unwrap_err().0.starts_with(
            "cannot check --max-age: ECR gave no completion time (imageScanCompletedAt)"
        ));
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
}
