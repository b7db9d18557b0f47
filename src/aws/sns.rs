//! Alerts published to an SNS topic as string-structured messages.

use super::service_failure;
use crate::alert::Alert;
use crate::ports::{AlertSink, ServiceFailure};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use std::collections::HashMap;

pub struct SnsAlerts {
    client: Client,
    topic_arn: String,
}

impl SnsAlerts {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> SnsAlerts {
        SnsAlerts {
            client,
            topic_arn: topic_arn.into(),
        }
    }
}

impl AlertSink for SnsAlerts {
    async fn publish(&self, alert: &Alert) -> Result<String, ServiceFailure> {
        let mut attributes = HashMap::with_capacity(alert.attributes.len());
        for (name, value) in &alert.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| ServiceFailure {
                    service: "SNS",
                    code: "InvalidAttribute".into(),
                    message: format!("message attribute `{name}`: {e}"),
                    transient: false,
                })?;
            attributes.insert(name.to_string(), value);
        }
        let output = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&alert.subject)
            .message(&alert.body)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| service_failure("SNS", &e))?;
        Ok(output.message_id.unwrap_or_default())
    }

    fn destination(&self) -> &str {
        &self.topic_arn
    }
}
