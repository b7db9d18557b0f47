//! Alerts published to SNS as string-structured messages: the email text to
//! the alert topic and, when configured, the chat notification to the chat
//! topic, both with the routing attributes.

use super::service_failure;
use crate::domain::alert::Alert;
use crate::ports::BoxFuture;
use crate::ports::{AlertSink, PublishError, Published, ServiceFailure};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use std::collections::HashMap;

pub struct SnsAlerts {
    client: Client,
    alert_topic_arn: String,
    chat_topic_arn: Option<String>,
}

impl SnsAlerts {
    pub fn new(
        client: Client,
        alert_topic_arn: impl Into<String>,
        chat_topic_arn: Option<String>,
    ) -> SnsAlerts {
        SnsAlerts {
            client,
            alert_topic_arn: alert_topic_arn.into(),
            chat_topic_arn,
        }
    }

    async fn send(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: &str,
        alert: &Alert,
    ) -> Result<String, PublishError> {
        let failed = |failure| PublishError {
            destination: topic_arn.to_string(),
            failure,
            alert_topic_message_id: None,
        };
        let mut attributes = HashMap::with_capacity(alert.attributes.len());
        for (name, value) in &alert.attributes {
            let value = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| {
                    failed(ServiceFailure {
                        service: "SNS",
                        code: "InvalidAttribute".into(),
                        message: format!("message attribute `{name}`: {e}"),
                        transient: false,
                    })
                })?;
            attributes.insert(name.to_string(), value);
        }
        let output = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .set_subject(subject.map(str::to_string))
            .message(message)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| failed(service_failure("SNS", &e)))?;
        Ok(output.message_id.unwrap_or_default())
    }
}

impl AlertSink for SnsAlerts {
    fn publish<'a>(&'a self, alert: &'a Alert) -> BoxFuture<'a, Result<Published, PublishError>> {
        Box::pin(async move {
            let message_id = self
                .send(
                    &self.alert_topic_arn,
                    Some(&alert.subject),
                    &alert.body,
                    alert,
                )
                .await?;
            let chat_message_id = self.publish_chat(alert).await.map_err(|e| PublishError {
                alert_topic_message_id: Some(message_id.clone()),
                ..e
            })?;
            Ok(Published {
                message_id,
                chat_message_id,
            })
        })
    }

    fn publish_chat<'a>(
        &'a self,
        alert: &'a Alert,
    ) -> BoxFuture<'a, Result<Option<String>, PublishError>> {
        Box::pin(async move {
            match &self.chat_topic_arn {
                Some(chat_topic) => {
                    Ok(Some(self.send(chat_topic, None, &alert.chat, alert).await?))
                }
                None => Ok(None),
            }
        })
    }
}
