//! The policy document from SSM Parameter Store.

use super::service_failure;
use crate::ports::{BoxFuture, PolicySource, ServiceFailure};
use aws_sdk_ssm::Client;

pub struct SsmPolicy {
    client: Client,
    name: String,
}

impl SsmPolicy {
    pub fn new(client: Client, name: impl Into<String>) -> SsmPolicy {
        SsmPolicy {
            client,
            name: name.into(),
        }
    }
}

impl PolicySource for SsmPolicy {
    fn fetch(&self) -> BoxFuture<'_, Result<String, ServiceFailure>> {
        Box::pin(async move {
            let output = self
                .client
                .get_parameter()
                .name(&self.name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| service_failure("SSM", &e))?;
            output
                .parameter
                .and_then(|p| p.value)
                .ok_or_else(|| ServiceFailure {
                    service: "SSM",
                    code: "EmptyParameter".into(),
                    message: format!("parameter `{}` has no value", self.name),
                    transient: false,
                })
        })
    }

    fn name(&self) -> &str {
        &self.name
    }
}
