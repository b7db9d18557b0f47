//! Judging an image's findings under the policy and the budgets; an
//! enhanced scan only once two consecutive reads agree.

use super::error::GateError;
use super::Polling;
use crate::domain::assessment::{Assessment, Reader};
use crate::domain::dedup::Known;
use crate::domain::gate_report::{Budgets, Report};
use crate::domain::image::{ImageRef, ScanKind};
use crate::domain::judged::GATE_LISTED_CAP;
use crate::domain::policy::Policy;
use crate::domain::risk::Signals;
use crate::pipeline::fold::{judge_pages_into, FoldError, Folded};
use crate::ports::{BoxFuture, FindingsPage, FindingsSource, SourceError};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::time::Instant;

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

    fn repository_tag<'a>(
        &'a self,
        image: &'a ImageRef,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, SourceError>> {
        self.inner.repository_tag(image, key)
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
            let tally = crate::domain::judged::JudgedFindings::with_cap(GATE_LISTED_CAP);
            judge_pages_into(
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
        signals = watched
            .risk_signals(image)
            .await
            .map_err(|source| GateError::Epss {
                image: image.short_name(),
                source: Box::new(source),
            })?;
        folded = read(signals.clone()).await?;
    }
    if enhanced(&folded) {
        let mut totals = vec![folded.tally.counts.total()];
        loop {
            if Instant::now() + settle.interval > settle.deadline {
                return Err(GateError::Unsettled {
                    image: image.short_name(),
                    totals,
                    interval: settle.interval,
                });
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

fn fold_error(image: &ImageRef, error: FoldError) -> GateError {
    match error {
        FoldError::Read(e) => GateError::from_read(image, e),
        FoldError::ScanFailed(status) => GateError::ScanFailed {
            image: Box::new(image.clone()),
            status,
        },
        FoldError::Pending(status) => GateError::StillPending {
            image: image.short_name(),
            status,
        },
    }
}
