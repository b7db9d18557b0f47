//! The digest fanned out (docs/digest.md, "Fan-out"). A scheduled run over
//! more than one registry records the run in the table and sends one
//! message per registry (account and region) to the digest queue, plus the
//! assembly, delayed. The queue invokes this same function per message:
//!
//! - a **part** reads its registry within its own invocation, keeps its
//!   partial digests in the table (or why it could not read), and records
//!   that it reported; the last part to report assembles at once;
//! - the **assembly** message is the backstop: while parts are still out
//!   and the run is younger than `DIGEST_WAIT_MINUTES`, it looks again
//!   later; then it assembles with what reported.
//!
//! The assembly is claimed in the table, so the digests go out once; it
//! merges the partials by owner and finishes as a single run does, naming
//! in every digest each registry that did not report, and why.

use super::digest::Reading;
use super::error::HandlerError;
use super::App;
use crate::domain::digest_run::{assembly_step, AssemblyStep, DigestRun, Registry, Work};
use crate::domain::event::EventError;
use crate::ports::{
    AlertSink, DigestRunStore, FindingsSource, RegistryListing, ServiceFailure, WorkQueue,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::{json, Value};

/// How long a run's record and partials stay in the table past its wait.
const RUN_KEEP_SECONDS: i64 = 2 * 86_400;

/// The table and queue a fanned-out run uses.
pub(super) struct FanOut<'a> {
    runs: &'a dyn DigestRunStore,
    queue: &'a dyn WorkQueue,
}

fn failed(what: impl Into<String>) -> impl FnOnce(ServiceFailure) -> HandlerError {
    let what = what.into();
    move |failure| HandlerError::DigestFanOut { what, failure }
}

impl<S: FindingsSource + RegistryListing, A: AlertSink> App<S, A> {
    /// The digest function's event: a schedule's (a run, fanned out or
    /// not), or an SQS batch from the digest queue (parts and assemblies).
    pub async fn handle_digest_event(
        &self,
        event: Value,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Value, HandlerError> {
        if event.get("Records").is_some() {
            self.handle_digest_work(event, deadline).await
        } else {
            self.handle_digest_by(event, deadline).await
        }
    }

    /// When a run's record and partials leave the table: two days past
    /// the run's wait.
    fn run_expires_at(&self, run: i64) -> i64 {
        run + self.config.digest_wait_minutes as i64 * 60 + RUN_KEEP_SECONDS
    }

    /// The table and queue, when both are set.
    pub(super) fn fan_out(&self) -> Option<FanOut<'_>> {
        match (&self.digest_runs, &self.work_queue) {
            (Some(runs), Some(queue)) => Some(FanOut {
                runs: runs.as_ref(),
                queue: queue.as_ref(),
            }),
            _ => None,
        }
    }

    /// Records the run and queues its work: a part per registry not yet
    /// reported, and the assembly after `DIGEST_ASSEMBLY_DELAY_SECONDS`. A
    /// retried schedule finds its run recorded and queues what is left.
    pub(super) async fn start_fanned_out(
        &self,
        fan_out: FanOut<'_>,
        run: i64,
        registries: Vec<Registry>,
        accounts_problem: Option<String>,
    ) -> Result<Value, HandlerError> {
        let mut record = DigestRun {
            run,
            registries,
            accounts_problem,
            ..DigestRun::default()
        };
        let expires_at = run + self.config.digest_wait_minutes as i64 * 60 + RUN_KEEP_SECONDS;
        let fresh = fan_out
            .runs
            .start(&record, expires_at)
            .await
            .map_err(failed("recording the run"))?;
        if !fresh {
            if let Some(existing) = fan_out
                .runs
                .load(run)
                .await
                .map_err(failed("reading the run"))?
            {
                record = existing;
            }
            if record.assembled {
                tracing::info!(
                    run,
                    "this schedule's run was assembled already: nothing to do"
                );
                return Ok(json!({"outcome": "assembled_already", "run": run}));
            }
            tracing::info!(
                run,
                "this schedule's run was started already (a retry): queueing what has not reported"
            );
        }
        let mut messages: Vec<(String, u32)> = record
            .registries
            .iter()
            .filter(|r| !record.has_reported(r))
            .map(|registry| {
                let work = Work::Part {
                    run,
                    registry: registry.clone(),
                };
                (work_body(&work), 0)
            })
            .collect();
        let parts = messages.len();
        messages.push((
            work_body(&Work::Assembly { run }),
            self.config.digest_assembly_delay_seconds as u32,
        ));
        fan_out
            .queue
            .send(&messages)
            .await
            .map_err(failed("queueing the registries"))?;
        tracing::info!(
            run,
            parts,
            registries = record.registries.len(),
            "digest fanned out: one message per registry, and the assembly"
        );
        Ok(json!({"outcome": "fanned_out", "run": run, "parts": parts}))
    }

    /// An SQS batch from the digest queue; answers the messages that
    /// failed (`batchItemFailures`), which SQS delivers again and, past the
    /// queue's receive limit, moves to its dead-letter queue.
    async fn handle_digest_work(
        &self,
        event: Value,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Value, HandlerError> {
        let batch: SqsEvent = serde_path_to_error::deserialize(event).map_err(|e| {
            let path = e.path().to_string();
            EventError {
                field: if path == "." { "Records".into() } else { path },
                problem: e.into_inner().to_string(),
            }
        })?;
        let mut response = SqsBatchResponse::default();
        for record in batch.records {
            let id = record.message_id.unwrap_or_default();
            let work = record
                .body
                .as_deref()
                .ok_or_else(|| "the message has no body".to_string())
                .and_then(|body| {
                    serde_json::from_str::<Work>(body).map_err(|e| {
                        format!("the body is not digest work ({{\"part\": …}} or {{\"assembly\": …}}): {e}")
                    })
                });
            let done = match work {
                Err(problem) => {
                    tracing::error!(message_id = %id, %problem, "digest queue message not understood: left to the dead-letter queue");
                    Err(problem)
                }
                Ok(work) => self
                    .digest_work(work, deadline)
                    .await
                    .map_err(|e| e.to_string()),
            };
            match done {
                Ok(outcome) => tracing::info!(message_id = %id, %outcome, "digest work done"),
                Err(error) => {
                    tracing::error!(message_id = %id, %error, "digest work failed: SQS delivers it again");
                    response.add_failure(id);
                }
            }
        }
        serde_json::to_value(response).map_err(|e| {
            HandlerError::InvalidEvent(EventError {
                field: "batchItemFailures".into(),
                problem: e.to_string(),
            })
        })
    }

    async fn digest_work(
        &self,
        work: Work,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Value, HandlerError> {
        let Some(fan_out) = self.fan_out() else {
            return Err(HandlerError::InvalidEvent(EventError {
                field: "Records".into(),
                problem: "digest work arrived, but this function has no digest queue or table (DIGEST_QUEUE_URL, DEDUP_TABLE_NAME)".into(),
            }));
        };
        match work {
            Work::Part { run, registry } => {
                self.digest_part(fan_out, run, registry, deadline).await
            }
            Work::Assembly { run } => self.digest_assembly(fan_out, run).await,
        }
    }

    /// One registry of run `run`: read (until `deadline`), its partial
    /// kept, reported; the last to report assembles.
    async fn digest_part(
        &self,
        fan_out: FanOut<'_>,
        run: i64,
        registry: Registry,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<Value, HandlerError> {
        let name = registry.name();
        let Some(mut record) = fan_out
            .runs
            .load(run)
            .await
            .map_err(failed("reading the run"))?
        else {
            tracing::warn!(run, registry = %name, "no such digest run (expired from the table): the part is dropped");
            return Ok(json!({"outcome": "run_unknown", "run": run}));
        };
        if record.assembled {
            tracing::warn!(run, registry = %name, "the run's digests went out already: this part came too late and is left out");
            return Ok(json!({"outcome": "too_late", "run": run}));
        }
        if !record.has_reported(&registry) {
            let policy = self.policy.current().await?;
            let now = chrono::Utc::now();
            let reading = self.read_registry(&policy, &registry, now);
            let read = match deadline {
                None => reading.await.map_err(|e| e.to_string()),
                Some(at) => match tokio::time::timeout_at(at, reading).await {
                    Ok(read) => read.map_err(|e| e.to_string()),
                    Err(_) => Err("not read within its own invocation's timeout".to_string()),
                },
            };
            let outcome = match read {
                Ok(reads) => {
                    let mut part = Reading::default();
                    part.add(reads);
                    serde_json::to_vec(&part)
                        .map_err(|e| format!("its part could not be written: {e}"))
                }
                Err(why) => {
                    tracing::warn!(run, registry = %name, %why, "registry not read: named in every digest");
                    Err(why)
                }
            };
            let expires_at = self.run_expires_at(run);
            record = fan_out
                .runs
                .report(run, &registry, outcome, expires_at)
                .await
                .map_err(failed(format!("reporting {name}")))?;
        }
        if record.all_reported() && !record.assembled {
            return self.claim_and_assemble(fan_out, record).await;
        }
        Ok(json!({"outcome": "part_reported", "run": run, "registry": name}))
    }

    /// The assembly's look at run `run`: done already, wait (look again
    /// later), or assemble with what reported.
    async fn digest_assembly(&self, fan_out: FanOut<'_>, run: i64) -> Result<Value, HandlerError> {
        let Some(record) = fan_out
            .runs
            .load(run)
            .await
            .map_err(failed("reading the run"))?
        else {
            tracing::warn!(
                run,
                "no such digest run (expired from the table): nothing to assemble"
            );
            return Ok(json!({"outcome": "run_unknown", "run": run}));
        };
        let wait = self.config.digest_wait_minutes as i64 * 60;
        match assembly_step(&record, chrono::Utc::now().timestamp(), wait) {
            AssemblyStep::Done => Ok(json!({"outcome": "assembled_already", "run": run})),
            AssemblyStep::Wait => {
                let delay = self.config.digest_assembly_delay_seconds as u32;
                fan_out
                    .queue
                    .send(&[(work_body(&Work::Assembly { run }), delay)])
                    .await
                    .map_err(failed("queueing the assembly again"))?;
                let out = record.registries.len() - record.reported.len();
                tracing::info!(
                    run,
                    out,
                    delay,
                    "digest parts still out: the assembly looks again later"
                );
                Ok(json!({"outcome": "waiting", "run": run, "parts_out": out}))
            }
            AssemblyStep::Assemble => self.claim_and_assemble(fan_out, record).await,
        }
    }

    /// Claims the run's assembly and assembles; another invocation that
    /// claimed it first leaves this one nothing to do. A failed assembly
    /// takes its claim back, so the next message assembles again.
    async fn claim_and_assemble(
        &self,
        fan_out: FanOut<'_>,
        record: DigestRun,
    ) -> Result<Value, HandlerError> {
        let run = record.run;
        if !fan_out
            .runs
            .claim_assembly(run)
            .await
            .map_err(failed("claiming the assembly"))?
        {
            return Ok(json!({"outcome": "assembled_already", "run": run}));
        }
        let assembled = self.assemble(&fan_out, record).await;
        if assembled.is_err() {
            if let Err(failure) = fan_out.runs.release_assembly(run).await {
                tracing::error!(run, %failure, "cannot take the assembly's claim back: the run's digests may not go out");
            }
        }
        assembled
    }

    /// The run's partials merged by owner and finished as a single run: in
    /// every digest, the registries missing and why.
    async fn assemble(
        &self,
        fan_out: &FanOut<'_>,
        record: DigestRun,
    ) -> Result<Value, HandlerError> {
        let policy = self.policy.current().await?;
        let mut read = Reading {
            late: record.missing(),
            ..Reading::default()
        };
        for (registry, chunks, token) in record.read() {
            let part = fan_out
                .runs
                .partial(record.run, registry, chunks, token)
                .await
                .map_err(|f| f.to_string())
                .and_then(|bytes| {
                    serde_json::from_slice::<Reading>(&bytes).map_err(|e| e.to_string())
                });
            match part {
                Ok(part) => read.merge(part),
                Err(why) => read.late.push(format!(
                    "{}: its part could not be read back: {why}",
                    registry.name()
                )),
            }
        }
        for missing in &read.late {
            tracing::warn!(run = record.run, registry = %missing, "registry missing from the digests");
        }
        tracing::info!(
            run = record.run,
            registries = record.registries.len(),
            missing = read.late.len(),
            "assembling the fanned-out digest"
        );
        let mut summary = self
            .finish_digests(
                &policy,
                chrono::Utc::now(),
                &record.registries,
                read,
                record.accounts_problem.clone(),
            )
            .await?;
        summary["run"] = json!(record.run);
        Ok(summary)
    }
}

fn work_body(work: &Work) -> String {
    serde_json::to_string(work).unwrap_or_default()
}
