//! The clients and adapters both function binaries start with: the
//! configuration's topics, policy parameter, dedup and storm tables, and
//! the member accounts' reader role. Each binary adds what only its entry
//! points use (`ecr-scan-digest`: the report bucket, the organisation's
//! account list, the digest's state and work queue).

use super::accounts::{AccountFindings, Home};
use super::dynamodb::DynamoDedup;
use super::sns::SnsAlerts;
use super::ssm::SsmPolicy;
use crate::{App, Config};

/// The function as both binaries build it.
pub type AwsApp = App<AccountFindings, SnsAlerts>;

/// Builds the app over AWS: `batching` publishes side by side in SNS
/// batches (the finding-batches entry point). Fails when the function's own
/// account cannot be learned and a member role is set (STS).
pub async fn app(
    config: &Config,
    aws: &aws_config::SdkConfig,
    batching: bool,
) -> Result<AwsApp, String> {
    let ecr = aws_sdk_ecr::Client::new(aws);
    let sns = aws_sdk_sns::Client::new(aws);
    // Images of other accounts are read through their member role.
    let sts = aws_sdk_sts::Client::new(aws);
    let home = match &config.member_role_name {
        // Only needed to tell the function's own account from the others.
        Some(_) => Home::from_sts(&sts)
            .await
            .map_err(|e| format!("cannot learn the function's own account: {e}"))?,
        None => Home::default(),
    };
    let source = AccountFindings::new(home, ecr, sts, config.member_role_name.clone())
        .with_inspector(aws_sdk_inspector2::Client::new(aws));
    let sink = SnsAlerts::new(
        sns,
        config.alert_topic_arn.clone(),
        config.chat_topic_arn.clone(),
    );
    // The images of a batch publish side by side: together, in batches.
    // (One image at a time, a publish would only wait for no partner.)
    let sink = if batching {
        sink.batching(super::sns::BATCH_LINGER)
    } else {
        sink
    };
    let mut app = App::new(config.clone(), source, sink);
    if let Some(name) = &config.policy_parameter_name {
        app = app.with_policy_source(Box::new(SsmPolicy::new(
            aws_sdk_ssm::Client::new(aws),
            name,
        )));
    }
    if let Some(table) = &config.storm_table_name {
        app = app.with_storm_store(Box::new(super::storms::DynamoStorms::new(
            aws_sdk_dynamodb::Client::new(aws),
            table,
        )));
    }
    if let Some(table) = &config.dedup_table_name {
        app = app.with_dedup(Box::new(DynamoDedup::new(
            aws_sdk_dynamodb::Client::new(aws),
            table,
        )));
    }
    Ok(app)
}
