//! Adapters from the ports to the AWS SDK clients.

pub mod accounts;
pub mod digest_runs;
pub mod dynamodb;
pub mod ecr;
mod finding_fields;
pub mod findings_tap;
pub mod inspector;
pub mod inspector_coverage;
pub mod organizations;
pub mod s3;
pub mod sns;
pub mod sqs;
pub mod ssm;
pub mod storms;
pub mod wiring;

use crate::ports::ServiceFailure;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use std::time::Duration;

/// One attempt of an AWS call may take this long before it is abandoned
/// (and retried by the SDK's standard retry policy).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(8);
/// One AWS call, retries included, may take this long: an endpoint that
/// accepts connections and never answers fails the call as a transient
/// `Timeout` well within 30 s instead of holding the invocation until the
/// Lambda timeout (the SDK's defaults set no read or operation timeout,
/// AWS SDK for Rust Developer Guide, "Configure timeouts").
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(25);
/// A repository's owner tags may take this long to read, retries included:
/// the owner is worth a short wait, not the alert (a read that times out
/// leaves the image `unowned` and the alert goes out).
pub const TAG_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Connecting may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The timeouts every client of this crate uses.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

/// The one HTTPS client every SDK client shares: hyper with rustls on the
/// `ring` crypto provider. ring draws its randomness from the operating
/// system's CSPRNG (`getrandom`) alone, so the first TLS handshake costs a
/// handshake; AWS-LC, the SDK's default provider, also seeds its own
/// generator from CPU jitter at first use, about 30 ms of CPU on every cold
/// start (docs/performance.md, "TLS and entropy"). With ring, opening the
/// connections during init no longer pays for itself: the first invocation
/// opens them, within the 1.2x-warm target. Trusted roots are the
/// system's (rustls-native-certs: `SSL_CERT_FILE` / `SSL_CERT_DIR` honoured).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The shared SDK configuration: the default credential and region chain,
/// the latest behaviour version, [`https_client`] and [`timeouts`].
pub async fn load_config() -> aws_config::SdkConfig {
    load_config_for(None, None).await
}

/// [`load_config`] with an explicit Region and named profile (the CI
/// gate's `--region` and `--profile`); `None` leaves each to the chain.
pub async fn load_config_for(
    region: Option<String>,
    profile: Option<&str>,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(findings_tap::FindingsTap::wrap(https_client()))
        .timeout_config(timeouts());
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region));
    }
    if let Some(profile) = profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

/// Error codes that mean "try again later" whatever the HTTP status says.
const TRANSIENT_CODES: [&str; 9] = [
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ServerException",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
];

/// Turns an SDK error into a failure that names the service's code and
/// message, and says whether retrying later may help.
pub(crate) fn service_failure<E>(
    service: &'static str,
    error: &SdkError<E, HttpResponse>,
) -> ServiceFailure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match error {
        SdkError::ServiceError(context) => {
            let err = context.err();
            let status = context.raw().status().as_u16();
            let code = err.code().unwrap_or("UnknownError").to_string();
            let shown = err.to_string();
            let transient =
                status >= 500 || status == 429 || TRANSIENT_CODES.contains(&code.as_str());
            ServiceFailure {
                service,
                message: err
                    .message()
                    .map(str::to_string)
                    .or_else(|| (!shown.is_empty() && shown != "unhandled error").then_some(shown))
                    .unwrap_or_else(|| format!("HTTP status {status}")),
                code,
                transient,
            }
        }
        SdkError::TimeoutError(_) => ServiceFailure {
            service,
            code: "Timeout".into(),
            message: "the request timed out".into(),
            transient: true,
        },
        SdkError::DispatchFailure(failure) => ServiceFailure {
            service,
            code: "ConnectionFailed".into(),
            message: describe_chain(error).unwrap_or_else(|| format!("{failure:?}")),
            transient: true,
        },
        SdkError::ResponseError(_) => ServiceFailure {
            service,
            code: "InvalidResponse".into(),
            message: describe_chain(error).unwrap_or_else(|| "unreadable response".into()),
            transient: true,
        },
        _ => ServiceFailure {
            service,
            code: "RequestNotSent".into(),
            message: describe_chain(error).unwrap_or_else(|| error.to_string()),
            transient: false,
        },
    }
}

/// The error and its sources, joined: the SDK's top-level text alone
/// ("dispatch failure") does not say what went wrong.
fn describe_chain(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut parts = Vec::new();
    let mut current = error.source();
    while let Some(e) = current {
        parts.push(e.to_string());
        current = e.source();
    }
    (!parts.is_empty()).then(|| parts.join(": "))
}
