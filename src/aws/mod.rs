//! Adapters from the ports to the AWS SDK clients.

pub mod accounts;
pub mod dynamodb;
pub mod ecr;
pub mod sns;
pub mod ssm;
pub mod warm;

use crate::ports::ServiceFailure;
use aws_sdk_ecr::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

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
