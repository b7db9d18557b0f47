//! `ecr-scan-gate`: the same policy as the Lambda, applied in CI before a
//! deploy. Exit 0 pass, 1 policy violations, 2 error.

use crate::dedup::Known;
use crate::fold::{fold_findings, FoldError, PENDING_STATUSES};
use crate::image::ImageRef;
use crate::policy::Policy;
use crate::ports::{FindingsSource, SourceError};
use crate::severity::Severity;
use crate::text::one_line;
use serde::Serialize;
use std::fmt::Write;
use std::time::{Duration, Instant};

pub const USAGE: &str = "\
usage: ecr-scan-gate --repository NAME (--tag TAG | --digest sha256:...) [options]

Applies the alerting policy to an image's scan findings, for CI.

options:
  --policy FILE        policy document (JSON, the Lambda's format); default: threshold only
  --threshold SEV      INFORMATIONAL|LOW|MEDIUM|HIGH|CRITICAL; overrides the document's
                       thresholds (default HIGH without a document)
  --wait               poll until the scan is complete (progress on stderr)
  --timeout SECS       how long --wait waits (default 600)
  --interval SECS      seconds between polls (default 5)
  --format text|json   output on stdout (default text)
  --registry-id ID     registry (account id) when it is not the caller's

exit status: 0 pass, 1 policy violations, 2 error (image or scan missing,
AWS error, invalid policy or arguments)";

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

/// Reads the command line (without the program name).
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        repository: String::new(),
        tag: None,
        digest: None,
        policy_file: None,
        threshold: None,
        wait: false,
        timeout: Duration::from_secs(600),
        interval: Duration::from_secs(5),
        json: false,
        registry_id: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let seconds = |name: &str, v: String| {
            v.parse::<u64>()
                .ok()
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .ok_or_else(|| format!("{name}: `{v}` is not a positive number of seconds"))
        };
        match arg.as_str() {
            "--repository" => parsed.repository = value(arg)?,
            "--tag" => parsed.tag = Some(value(arg)?),
            "--digest" => parsed.digest = Some(value(arg)?),
            "--policy" => parsed.policy_file = Some(value(arg)?),
            "--threshold" => {
                let v = value(arg)?;
                parsed.threshold = Some(
                    v.parse::<Severity>()
                        .ok()
                        .filter(|s| s.is_ranked())
                        .ok_or_else(|| format!("--threshold: `{v}` is not INFORMATIONAL, LOW, MEDIUM, HIGH or CRITICAL"))?,
                )
            }
            "--wait" => parsed.wait = true,
            "--timeout" => parsed.timeout = seconds(arg, value(arg)?)?,
            "--interval" => parsed.interval = seconds(arg, value(arg)?)?,
            "--format" => {
                parsed.json = match value(arg)?.as_str() {
                    "json" => true,
                    "text" => false,
                    other => return Err(format!("--format: `{other}` is not text or json")),
                }
            }
            "--registry-id" => parsed.registry_id = Some(value(arg)?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if parsed.repository.is_empty() {
        return Err("--repository is required".into());
    }
    match (&parsed.tag, &parsed.digest) {
        (None, None) => return Err("give --tag or --digest".into()),
        (Some(_), Some(_)) => return Err("give --tag or --digest, not both".into()),
        (_, Some(d)) if !d.starts_with("sha256:") => {
            return Err(format!("--digest: `{d}` is not sha256:<hex>"))
        }
        _ => {}
    }
    Ok(parsed)
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
    pub counts: crate::severity::SeverityCounts,
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
pub async fn wait_for_scan<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    timeout: Duration,
    interval: Duration,
    mut progress: impl FnMut(String),
) -> Result<(), GateError> {
    let started = Instant::now();
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

/// Applies `policy` to the image's findings.
pub async fn evaluate<S: FindingsSource>(
    source: &S,
    image: &ImageRef,
    policy: &Policy,
    today: chrono::NaiveDate,
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
    let folded = fold_findings(source, image, &image_policy, &Known::default())
        .await
        .map_err(|e| match e {
            FoldError::ImageGone(f) => GateError(format!("image not found: {f}")),
            FoldError::ScanNotFound(f) => GateError(format!(
                "no scan found for {} (is scan on push on? start one or use --wait): {f}",
                image.short_name()
            )),
            FoldError::Source(f) => GateError(f.to_string()),
            FoldError::RoleUnavailable {
                account,
                role,
                failure,
            } => GateError(format!(
                "cannot assume role {role} in account {account}: {failure}"
            )),
            FoldError::ScanFailed(s) => GateError(format!(
                "the scan of {} failed: {} {}",
                image.short_name(),
                s.status,
                s.description.unwrap_or_default()
            )),
            FoldError::Pending(s) => GateError(format!(
                "the scan of {} is still {s}; use --wait",
                image.short_name()
            )),
        })?;
    let tally = folded.tally;
    let mut notes = Vec::new();
    if let Some(phrase) = tally.suppressed.phrase() {
        notes.push(format!("Not counted: {phrase}."));
    }
    let expired = policy.expired_labels(&tally.expired_entries);
    if !expired.is_empty() {
        notes.push(format!(
            "Expired allow-list entries: {}.",
            expired.join("; ")
        ));
    }
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
    Ok(Report {
        result: if tally.alert_worthy() == 0 {
            "pass"
        } else {
            "fail"
        },
        repository: image.repository.clone(),
        digest: image.digest.clone(),
        tags: image.tags.clone(),
        threshold: image_policy.threshold.to_string(),
        scan_status: folded.status.map(|s| s.status).unwrap_or_default(),
        counts: tally.counts.clone(),
        violations,
        violations_total: tally.alert_worthy(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        parse_args(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
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
            (&["--tag", "v1"][..], "--repository is required"),
            (&["--repository", "r"][..], "give --tag or --digest"),
            (
                &["--repository", "r", "--tag", "a", "--digest", "sha256:0"][..],
                "not both",
            ),
            (
                &["--repository", "r", "--digest", "abc"][..],
                "is not sha256",
            ),
            (
                &["--repository", "r", "--tag", "a", "--threshold", "SEVERE"][..],
                "--threshold",
            ),
            (
                &["--repository", "r", "--tag", "a", "--format", "xml"][..],
                "--format",
            ),
            (
                &["--repository", "r", "--tag", "a", "--timeout", "0"][..],
                "--timeout",
            ),
            (
                &["--repository", "r", "--tag", "a", "--frobnicate"][..],
                "unknown argument",
            ),
            (&["--repository"][..], "needs a value"),
        ] {
            let err = args(list).unwrap_err();
            assert!(err.contains(expected), "{list:?}: {err}");
        }
    }
}
