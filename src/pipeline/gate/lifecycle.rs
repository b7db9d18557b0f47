//! The scan's lifecycle, as the gate meets it: waiting for a scan to
//! finish, starting a basic one, waiting for a rescan, and telling from the
//! scanning configuration when none will ever start. Polls run on tokio's
//! clock.

use super::error::GateError;
use crate::domain::glob::registry_filter_matches;
use crate::domain::image::ImageRef;
use crate::domain::scan_status::PENDING_STATUSES;
use crate::domain::text::one_line;
use crate::ports::{
    FindingsSource, RegistryScanning, RepositoryScanning, ScanStarter, ScanningConfigSource,
    SourceError,
};
use std::time::Duration;
use tokio::time::Instant;

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
            Err(SourceError::ImageNotFound(f)) => return Err(GateError::ImageNotFound(f)),
            Err(e @ (SourceError::Failed(_) | SourceError::RoleUnavailable { .. })) => {
                return Err(GateError::Aws(Box::new(e)))
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
                    Expectation::Never(error) => return Err(error),
                    Expectation::Unknown(line) => progress(line),
                    Expectation::Expected => {}
                }
            }
        }
        let waited = started.elapsed();
        if !polling.sleep().await {
            return Err(GateError::WaitTimedOut {
                image: image.short_name(),
                status: state,
                waited_secs: waited.as_secs(),
            });
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
                return Err(GateError::EnhancedCannotStart {
                    image: image.short_name(),
                    what_to_do: start_a_scan(image, "ENHANCED"),
                })
            }
            Ok(_) => {}
            Err(f) => progress(format!(
                "cannot read the registry scanning configuration ({f}); starting a basic scan anyway"
            )),
        }
    }
    start_scan(source, image, None).await?;
    progress(format!(
        "no scan of {} yet: started a basic scan (--start-scan)",
        image.short_name()
    ));
    Ok(())
}

/// Starts a basic scan of the image (ECR StartImageScan); `age`, that of
/// the scan it replaces, for the error.
pub(super) async fn start_scan<S: ScanStarter>(
    source: &S,
    image: &ImageRef,
    age: Option<Duration>,
) -> Result<(), GateError> {
    source
        .start_scan(image)
        .await
        .map_err(|error| GateError::ScanNotStarted {
            image: image.short_name(),
            error,
            age,
        })
}

/// After starting a new scan: waits until ECR reports one completed later
/// than `previous`.
pub(super) async fn wait_for_rescan<S: FindingsSource>(
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
            Err(e) => return Err(GateError::Aws(Box::new(e))),
        };
        let pending = state == "NOT_STARTED" || PENDING_STATUSES.contains(&state.as_str());
        if !pending && completed.is_some() && completed != previous {
            return Ok(());
        }
        if !polling.sleep().await {
            return Err(GateError::RescanTimedOut {
                image: image.short_name(),
                status: state,
                waited_secs: started.elapsed().as_secs(),
            });
        }
        progress(format!(
            "waiting for the new scan of {}: {state} ({}s elapsed)",
            image.short_name(),
            started.elapsed().as_secs()
        ));
    }
}

/// What the scanning configuration says about a scan of the image starting.
pub(super) enum Expectation {
    /// One may start (or the configuration does not say otherwise).
    Expected,
    /// None will: the gate's error.
    Never(GateError),
    /// The configuration could not be read: a line for stderr.
    Unknown(String),
}

pub(super) async fn scan_expected<C: ScanningConfigSource>(
    config: &C,
    image: &ImageRef,
) -> Expectation {
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
        Some(settings) => Expectation::Never(GateError::NoScanWillStart {
            image: image.short_name(),
            settings,
            what_to_do: start_a_scan(image, &registry.scan_type),
        }),
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
    if scanning_rules.iter().any(|rule| {
        rule.filters
            .iter()
            .any(|f| registry_filter_matches(f, repository))
    }) {
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
