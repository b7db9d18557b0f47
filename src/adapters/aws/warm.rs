//! Opening the HTTPS connections to ECR and SNS during init, so that the
//! first invocation finds them in the clients' connection pools instead of
//! paying for DNS, TCP, the TLS handshake and the first credential and
//! endpoint resolution itself.
//!
//! The SDK has no "connect" call, so each client sends one cheap, read-only
//! request (ECR DescribeRegistry, SNS GetTopicAttributes on the alert topic).
//! What the service answers does not matter: an error reply such as
//! AccessDenied still leaves an open, reusable connection. Nothing here can
//! fail the cold start: the outcome is logged, and when a connection could
//! not be opened the first invocation simply opens it itself.

use super::service_failure;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant};

/// `false` skips the warm-up (to measure what it saves); default `true`.
pub const WARM_UP_CONNECTIONS: &str = "WARM_UP_CONNECTIONS";

/// The warm-up never holds init longer than this; in the region it takes a
/// few tens of milliseconds.
pub const BUDGET: Duration = Duration::from_secs(2);

/// Whether to warm up, from the value of [`WARM_UP_CONNECTIONS`]. Anything
/// but true/false (or unset/empty) is refused, naming the variable.
pub fn enabled(value: Option<&str>) -> Result<bool, String> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(format!(
            "configuration: {WARM_UP_CONNECTIONS}: `{other}` is not allowed; use true or false"
        )),
    }
}

/// What one warm-up request achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warmed {
    /// The service answered (`answer` is "ok" or its error code): the
    /// connection is open and pooled.
    Open { answer: String },
    /// No answer: the first invocation will connect itself.
    NotOpen { reason: String },
}

impl Warmed {
    pub fn is_open(&self) -> bool {
        matches!(self, Warmed::Open { .. })
    }
}

impl fmt::Display for Warmed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warmed::Open { answer } => write!(f, "open ({answer})"),
            Warmed::NotOpen { reason } => write!(f, "not open ({reason})"),
        }
    }
}

/// Opens the SNS connection alone (the finding-batches function never calls
/// ECR, and its role may not), within [`BUDGET`], and logs the outcome.
pub async fn open_sns_connection(sns: &aws_sdk_sns::Client, topic_arn: &str) -> Warmed {
    let started = Instant::now();
    let sns_warmed = warm(
        "SNS",
        sns.get_topic_attributes().topic_arn(topic_arn).send(),
    )
    .await;
    tracing::info!(
        sns = %sns_warmed,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "connections opened during init"
    );
    sns_warmed
}

/// Opens one connection to ECR and one to SNS, concurrently, within
/// [`BUDGET`], and logs the outcome. Returns (ECR, SNS).
pub async fn open_connections(
    ecr: &aws_sdk_ecr::Client,
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
) -> (Warmed, Warmed) {
    let started = Instant::now();
    let (ecr_warmed, sns_warmed) = tokio::join!(
        warm("ECR", ecr.describe_registry().send()),
        warm(
            "SNS",
            sns.get_topic_attributes().topic_arn(topic_arn).send()
        ),
    );
    tracing::info!(
        ecr = %ecr_warmed,
        sns = %sns_warmed,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "connections opened during init"
    );
    (ecr_warmed, sns_warmed)
}

async fn warm<O, E>(
    service: &'static str,
    request: impl Future<Output = Result<O, SdkError<E, HttpResponse>>>,
) -> Warmed
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match tokio::time::timeout(BUDGET, request).await {
        Err(_) => Warmed::NotOpen {
            reason: format!("no answer within {} ms", BUDGET.as_millis()),
        },
        Ok(Ok(_)) => Warmed::Open {
            answer: "ok".into(),
        },
        Ok(Err(error)) => classify(service, &error),
    }
}

/// A service error or an unreadable answer still came over an open
/// connection; anything else (no connection, timeout, request not built)
/// did not.
fn classify<E>(service: &'static str, error: &SdkError<E, HttpResponse>) -> Warmed
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let failure = service_failure(service, error);
    match error {
        SdkError::ServiceError(_) | SdkError::ResponseError(_) => Warmed::Open {
            answer: failure.code,
        },
        _ => Warmed::NotOpen {
            reason: format!("{}: {}", failure.code, failure.message),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_is_on_unless_switched_off() {
        assert_eq!(enabled(None), Ok(true));
        assert_eq!(enabled(Some("")), Ok(true));
        assert_eq!(enabled(Some("TRUE")), Ok(true));
        assert_eq!(enabled(Some(" false ")), Ok(false));
        let err = enabled(Some("maybe")).unwrap_err();
        assert!(
            err.contains(WARM_UP_CONNECTIONS) && err.contains("maybe"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_leaves_the_cold_start_alone() {
        // Port 9 on loopback: nothing listens, the connection is refused.
        let config = aws_sdk_ecr::Config::builder()
            .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
            .region(aws_sdk_ecr::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ecr::config::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_ecr::config::retry::RetryConfig::disabled())
            .build();
        let ecr = aws_sdk_ecr::Client::from_conf(config);
        let sns_config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::new(
                "a", "b", None, None, "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled())
            .build();
        let sns = aws_sdk_sns::Client::from_conf(sns_config);
        let (e, s) = open_connections(&ecr, &sns, "arn:aws:sns:us-east-1:123456789012:t").await;
        assert!(!e.is_open() && !s.is_open(), "{e} / {s}");
        assert!(
            e.to_string().starts_with("not open (ConnectionFailed"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn the_finding_batches_function_warms_sns_alone() {
        use aws_smithy_mocks::{mock, mock_client};
        let topic = mock!(aws_sdk_sns::Client::get_topic_attributes).then_output(|| {
            aws_sdk_sns::operation::get_topic_attributes::GetTopicAttributesOutput::builder()
                .build()
        });
        let sns = mock_client!(aws_sdk_sns, [&topic]);
        let warmed = open_sns_connection(&sns, "arn:aws:sns:us-east-1:123456789012:t").await;
        assert!(warmed.is_open(), "{warmed}");
        assert_eq!(topic.num_calls(), 1);
    }
}
