//! The alert function: configuration and clients at init, then the entry
//! point its `Handler` names (`scan-events` or `finding-batches`). The
//! digest runs from its own binary, `ecr-scan-digest`, with the clients
//! only it needs.

use ecr_scan_alerts::adapters::aws::wiring;
use ecr_scan_alerts::entry::{self, EntryPoint};
use ecr_scan_alerts::Config;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

// One thread: a function with 256 MB has a fraction of a vCPU, the work is
// waiting on AWS, and a second worker thread only adds its start-up and
// cross-thread wake-ups to every invocation (docs/performance.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    // A bad setting fails the cold start, naming the variable.
    let entry = EntryPoint::from_handler(std::env::var(entry::HANDLER).ok().as_deref())
        .and_then(EntryPoint::alerts_only)
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let aws = ecr_scan_alerts::adapters::aws::load_config().await;
    let batching = entry == EntryPoint::FindingBatches && config.batch_concurrency > 1;
    let app = wiring::app(&config, &aws, batching)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let app = &app;
    match entry {
        EntryPoint::FindingBatches => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                app.handle_sqs_event(event.payload).await
            }))
            .await
        }
        _ => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                app.handle(event.payload).await
            }))
            .await
        }
    }
}
