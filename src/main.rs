//! The Lambda function: configuration and clients at init, then the entry
//! point its `Handler` names (`scan-events` or `finding-batches`).

use ecr_scan_alerts::adapters::aws::accounts::{AccountFindings, Home};
use ecr_scan_alerts::adapters::aws::dynamodb::DynamoDedup;
use ecr_scan_alerts::adapters::aws::sns::SnsAlerts;
use ecr_scan_alerts::adapters::aws::ssm::SsmPolicy;
use ecr_scan_alerts::entry::{self, EntryPoint};
use ecr_scan_alerts::{App, Config};
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
        .inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let aws = ecr_scan_alerts::adapters::aws::load_config().await;
    let ecr = aws_sdk_ecr::Client::new(&aws);
    let sns = aws_sdk_sns::Client::new(&aws);
    // Images of other accounts are read through their member role.
    let sts = aws_sdk_sts::Client::new(&aws);
    let home = match &config.member_role_name {
        // Only needed to tell the function's own account from the others.
        Some(_) => Home::from_sts(&sts).await.inspect_err(
            |e| tracing::error!(error = %e, "cannot learn the function's own account"),
        )?,
        None => Home::default(),
    };
    let source = AccountFindings::new(home, ecr.clone(), sts, config.member_role_name.clone())
        .with_inspector(aws_sdk_inspector2::Client::new(&aws));
    let sink = SnsAlerts::new(
        sns.clone(),
        config.alert_topic_arn.clone(),
        config.chat_topic_arn.clone(),
    );
    // The images of a batch publish side by side: together, in batches.
    // (One image at a time, a publish would only wait for no partner.)
    let sink = match entry {
        EntryPoint::FindingBatches if config.batch_concurrency > 1 => {
            sink.batching(ecr_scan_alerts::adapters::aws::sns::BATCH_LINGER)
        }
        _ => sink,
    };
    let mut app = App::new(config.clone(), source, sink);
    if let Some(name) = &config.policy_parameter_name {
        app = app.with_policy_source(Box::new(SsmPolicy::new(
            aws_sdk_ssm::Client::new(&aws),
            name,
        )));
    }
    if let Some(table) = &config.storm_table_name {
        app = app.with_storm_store(Box::new(
            ecr_scan_alerts::adapters::aws::storms::DynamoStorms::new(
                aws_sdk_dynamodb::Client::new(&aws),
                table,
            ),
        ));
    }
    // Organisation-wide with an OrganizationId alone: the digest lists the
    // organisation's accounts.
    if entry == EntryPoint::Digest
        && config.member_role_name.is_some()
        && config.scope_account_ids.is_none()
    {
        app = app.with_account_directory(Box::new(
            ecr_scan_alerts::adapters::aws::organizations::OrganizationAccounts::new(
                aws_sdk_organizations::Client::new(&aws),
            ),
        ));
    }
    if let (EntryPoint::Digest, Some(bucket)) = (entry, &config.report_bucket_name) {
        app = app.with_report_store(Box::new(
            ecr_scan_alerts::adapters::aws::s3::S3Reports::new(s3_client(&aws), bucket),
        ));
    }
    if let Some(table) = &config.dedup_table_name {
        app = app.with_dedup(Box::new(DynamoDedup::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
        )));
        if entry == EntryPoint::Digest {
            app = app.with_digest_state(Box::new(
                ecr_scan_alerts::adapters::aws::dynamodb::DynamoDigestState::new(
                    aws_sdk_dynamodb::Client::new(&aws),
                    table,
                ),
            ));
        }
    }
    let app = &app;
    match entry {
        EntryPoint::ScanEvents => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                app.handle(event.payload).await
            }))
            .await
        }
        EntryPoint::FindingBatches => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                app.handle_sqs_event(event.payload).await
            }))
            .await
        }
        EntryPoint::Digest => {
            lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
                // Lambda's deadline (epoch milliseconds), less what the run
                // keeps to publish: registries not read by then are named.
                let now_ms = chrono::Utc::now().timestamp_millis();
                let deadline = match i64::try_from(event.context.deadline) {
                    Ok(at) if at > now_ms => {
                        let left = std::time::Duration::from_millis((at - now_ms) as u64);
                        // 60 s, or a fifth of a shorter run.
                        let reserve = ecr_scan_alerts::pipeline::PUBLISH_RESERVE.min(left / 5);
                        tracing::info!(
                            read_for_ms = (left - reserve).as_millis() as u64,
                            "digest run: reading until the deadline less what publishing needs"
                        );
                        Some(tokio::time::Instant::now() + (left - reserve))
                    }
                    // Not a time ahead (a local runtime emulator may send the
                    // timeout itself): said, and read without a deadline.
                    _ => {
                        tracing::warn!(
                            deadline_ms = event.context.deadline,
                            now_ms,
                            "the runtime's deadline is not a time ahead: reading without one"
                        );
                        None
                    }
                };
                app.handle_digest_by(event.payload, deadline).await
            }))
            .await
        }
    }
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
