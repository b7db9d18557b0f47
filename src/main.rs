//! The Lambda function: configuration and clients at init, then the handler.

use ecr_scan_alerts::aws::ecr::EcrFindings;
use ecr_scan_alerts::aws::sns::SnsAlerts;
use ecr_scan_alerts::{App, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();

    // A bad setting fails the cold start, naming the variable.
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let source = EcrFindings::new(aws_sdk_ecr::Client::new(&aws));
    let sink = SnsAlerts::new(
        aws_sdk_sns::Client::new(&aws),
        config.alert_topic_arn.clone(),
        config.chat_topic_arn.clone(),
    );
    let app = App::new(config, source, sink);
    let app = &app;

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        app.handle(event.payload).await
    }))
    .await
}
