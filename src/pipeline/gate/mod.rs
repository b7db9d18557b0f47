//! `ecr-scan-gate`: the same policy as the Lambda, applied in CI before a
//! deploy. Exit 0 pass, 1 policy violations (or a budget exceeded), 2 cannot
//! judge (error, no current findings, a scan too old, an image the policy
//! does not cover).
//!
//! An application of its own, by responsibility: [`run`] (here) is the
//! whole use case: wait for (or start) the scan, judge its findings, redo a
//! basic scan older than `--max-age`. [`lifecycle`] follows the scan,
//! [`judging`] applies the policy and the budgets, `crate::domain::gate_report` holds
//! the verdict and [`error`] says why there is none. The CI formats are
//! renderers (`crate::render::gate`); the command line is the binary's.

pub mod error;
pub mod judging;
pub mod lifecycle;

pub use crate::domain::gate_report::{Budgets, Report, Violation};
pub use error::{human, no_current_findings, GateError};
pub use judging::evaluate;
pub use lifecycle::{no_scan_will_start, wait_for_scan, Polling};

use crate::domain::image::ImageRef;
use crate::domain::policy::Policy;
use crate::ports::{FindingsSource, ScanStarter, ScanningConfigSource};
use lifecycle::wait_for_rescan;
use std::time::Duration;
use tokio::time::Instant;

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
    /// The repository tag that names the image's owner (`--owner-tag-key`).
    pub owner_tag_key: String,
    /// The account of the caller's own registry, when the image is in it
    /// (no `--registry-id`) and ECR named it: the repository's ARN needs it.
    pub registry_account: Option<String>,
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
    // Who owns the image, as the alerting function says it; a tag that
    // cannot be read, or is no owner name, is a line on stderr, never a
    // reason not to judge.
    let tags =
        crate::pipeline::owners::OwnerTags::new(options.owner_tag_key.clone(), Duration::ZERO);
    let mut repository = image.clone();
    if repository.account.is_empty() {
        repository.account = options.registry_account.clone().unwrap_or_default();
    }
    let (owner, problem) = tags
        .owner_of(source, &repository, policy.owner_rules())
        .await;
    match problem {
        Some(crate::pipeline::owners::TagProblem::Unreadable(failure)) => progress(format!(
            "cannot read the repository's `{}` tag ({failure}): the owner is {}",
            options.owner_tag_key,
            owner.phrase()
        )),
        Some(crate::pipeline::owners::TagProblem::Invalid { value, problem }) => progress(format!(
            "the repository's `{}` tag `{value}` is no owner name ({problem}): the owner is {}",
            options.owner_tag_key,
            owner.phrase()
        )),
        None => {}
    }
    // What the CSV adds: the registry's account, and deadlines counted as
    // the digest counts them.
    let finish = |report: Report| {
        report
            .owned_by(&owner)
            .in_account(&repository.account)
            .with_deadlines(policy.sla(), now.timestamp())
    };
    let report =
        finish(evaluate(source, image, policy, budgets, today, poll, &mut progress).await?);
    let Some(max_age) = options.max_age else {
        return Ok(report);
    };
    let Some(age) = stale(&report, max_age, now, image)? else {
        return Ok(report);
    };
    if report.scan_type != "BASIC" {
        return Err(GateError::EnhancedTooOld {
            image: image.short_name(),
            age,
            max_age,
        });
    }
    progress(format!(
        "the last scan of {} completed {} ago, longer than --max-age {}: starting a new basic scan",
        image.short_name(),
        human(age),
        human(max_age)
    ));
    lifecycle::start_scan(source, image, Some(age)).await?;
    wait_for_rescan(
        source,
        image,
        report.completed_epoch,
        polling,
        &mut progress,
    )
    .await?;
    let report =
        finish(evaluate(source, image, policy, budgets, today, poll, &mut progress).await?);
    match stale(&report, max_age, now, image)? {
        None => Ok(report),
        Some(age) => Err(GateError::RescanTooOld {
            image: image.short_name(),
            age,
            max_age,
        }),
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
        return Err(GateError::NoCompletionTime {
            image: image.short_name(),
            status: report.scan_status.clone(),
        });
    };
    let age = Duration::from_secs(now.timestamp().saturating_sub(completed).max(0) as u64);
    Ok((age > max_age).then_some(age))
}

#[cfg(test)]
mod tests;
