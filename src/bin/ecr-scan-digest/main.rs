//! The digest function (Handler `digest`, docs/digest.md): configuration
//! and clients at init, then one scheduled run, or, fanned out, one
//! registry's part or the final assembly from the digest queue. Its own
//! binary: the report bucket, the organisation's account list and the work
//! queue are clients the alert functions never load.

use ecr_scan_alerts::adapters::aws::{digest_runs, dynamodb, organizations, s3, sqs, wiring};
use ecr_scan_alerts::entry::{self, EntryPoint};
use ecr_scan_alerts::pipeline::digest_deadline;
use ecr_scan_alerts::Config;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    EntryPoint::from_handler(std::env::var(entry::HANDLER).ok().as_deref())
        .and_then(EntryPoint::digest_only)
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let aws = ecr_scan_alerts::adapters::aws::load_config().await;
    let mut app = wiring::app(&config, &aws, false)
        .await
        .inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    // Organisation-wide with an OrganizationId alone: the digest lists the
    // organisation's accounts.
    if config.member_role_name.is_some() && config.scope_account_ids.is_none() {
        app = app.with_account_directory(Box::new(organizations::OrganizationAccounts::new(
            aws_sdk_organizations::Client::new(&aws),
        )));
    }
    if let Some(bucket) = &config.report_bucket_name {
        app = app.with_report_store(Box::new(s3::S3Reports::new(s3_client(&aws), bucket)));
    }
    if let Some(table) = &config.dedup_table_name {
        let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
        app = app
            .with_digest_state(Box::new(dynamodb::DynamoDigestState::new(
                dynamodb.clone(),
                table,
            )))
            .with_digest_runs(Box::new(digest_runs::DynamoDigestRuns::new(
                dynamodb, table,
            )));
    }
    if let Some(queue) = &config.digest_queue_url {
        app = app.with_work_queue(Box::new(sqs::SqsWork::new(
            aws_sdk_sqs::Client::new(&aws),
            queue,
        )));
    }
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Lambda's deadline, less what the run keeps to publish: registries
        // not read by then are named.
        let deadline = digest_deadline(event.context.deadline, chrono::Utc::now());
        app.handle_digest_event(event.payload, deadline).await
    }))
    .await
}

/// The S3 client. With an endpoint of its own (`AWS_ENDPOINT_URL`, a local
/// stack on 127.0.0.1), addressed by path: a virtual host would be
/// `<bucket>.127.0.0.1`, which does not resolve.
fn s3_client(aws: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(aws)
        .force_path_style(aws.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
