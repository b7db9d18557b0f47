//! Alerts published to SNS as string-structured messages: the email text to
//! the alert topic and, when configured, the chat notification to the chat
//! topic, both with the routing attributes.
//!
//! With [`SnsAlerts::batching`] (the findings function, whose images publish
//! side by side), publishes to one topic that come within a few
//! milliseconds of each other go out as one `PublishBatch` call: at most 10
//! entries, at most 262,144 bytes of messages and attributes in all, each
//! entry with its own subject and attributes, and each answered on its own
//! (a 200 answer can list failed entries). `PublishBatch` is authorised by
//! the same `sns:Publish` action (Amazon SNS Developer Guide, "Amazon SNS
//! message batching").

use super::service_failure;
use crate::domain::alert::Alert;
use crate::ports::BoxFuture;
use crate::ports::{AlertSink, PublishError, Published, ServiceFailure};
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use aws_sdk_sns::Client;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// How long the first publish of a batch waits for others: a few
/// milliseconds, against the round trip it saves each of them.
pub const BATCH_LINGER: Duration = Duration::from_millis(5);
/// Entries a `PublishBatch` call takes at most.
pub const BATCH_ENTRIES: usize = 10;
/// Bytes of messages and attributes a `PublishBatch` call takes at most
/// (the topic's default `MaximumMessageSize`).
pub const BATCH_BYTES: usize = 262_144;

pub struct SnsAlerts {
    client: Client,
    alert_topic_arn: String,
    chat_topic_arn: Option<String>,
    batches: Option<Batches>,
}

/// Publishes waiting to go out together, by topic.
struct Batches {
    /// How long the first publish of a batch waits for others.
    linger: Duration,
    topics: Mutex<HashMap<String, Gathering>>,
}

/// The batch gathering for one topic: its entries, their bytes, and a
/// generation that says whether a waiting first publish still leads it.
#[derive(Default)]
struct Gathering {
    generation: u64,
    entries: Vec<Waiting>,
    bytes: usize,
}

/// One publish in a batch, and where its answer goes.
struct Waiting {
    subject: Option<String>,
    message: String,
    attributes: HashMap<String, MessageAttributeValue>,
    reply: oneshot::Sender<Result<String, ServiceFailure>>,
}

impl Gathering {
    fn take(&mut self) -> Vec<Waiting> {
        self.generation += 1;
        self.bytes = 0;
        std::mem::take(&mut self.entries)
    }
}

/// What an entry weighs against the batch's limit: its message, subject
/// and attributes (names, types and values).
fn entry_bytes(
    subject: Option<&str>,
    message: &str,
    attributes: &HashMap<String, MessageAttributeValue>,
) -> usize {
    message.len()
        + subject.map_or(0, str::len)
        + attributes
            .iter()
            .map(|(name, value)| {
                name.len() + value.data_type().len() + value.string_value().map_or(0, str::len)
            })
            .sum::<usize>()
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
            batches: None,
        }
    }

    /// Publishes that come within `linger` of each other to one topic go
    /// out together, as one `PublishBatch` call.
    pub fn batching(mut self, linger: Duration) -> SnsAlerts {
        self.batches = Some(Batches {
            linger,
            topics: Mutex::new(HashMap::new()),
        });
        self
    }

    /// One message, with the batch of its topic when batching.
    async fn deliver(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: &str,
        attributes: HashMap<String, MessageAttributeValue>,
    ) -> Result<String, ServiceFailure> {
        let bytes = entry_bytes(subject, message, &attributes);
        let Some(batches) = &self.batches else {
            return self
                .publish_one(topic_arn, subject, message, attributes)
                .await;
        };
        if bytes > BATCH_BYTES {
            // Too large to share a call: alone, as Publish reads it.
            return self
                .publish_one(topic_arn, subject, message, attributes)
                .await;
        }
        let (reply, answer) = oneshot::channel();
        let waiting = Waiting {
            subject: subject.map(str::to_string),
            message: message.to_string(),
            attributes,
            reply,
        };
        let mut full = Vec::new();
        let mut leads = None;
        {
            let mut topics = batches.topics.lock().unwrap_or_else(|e| e.into_inner());
            let gathering = topics.entry(topic_arn.to_string()).or_default();
            if !gathering.entries.is_empty() && gathering.bytes + bytes > BATCH_BYTES {
                full.push(gathering.take());
            }
            if gathering.entries.is_empty() {
                leads = Some(gathering.generation);
            }
            gathering.entries.push(waiting);
            gathering.bytes += bytes;
            if gathering.entries.len() >= BATCH_ENTRIES {
                full.push(gathering.take());
                leads = None;
            }
        }
        for batch in full {
            self.publish_batch(topic_arn, batch).await;
        }
        if let Some(generation) = leads {
            // The first of a batch waits for the others, then sends what
            // has gathered, unless a full batch went out meanwhile.
            tokio::time::sleep(batches.linger).await;
            let batch = {
                let mut topics = batches.topics.lock().unwrap_or_else(|e| e.into_inner());
                topics
                    .get_mut(topic_arn)
                    .filter(|g| g.generation == generation && !g.entries.is_empty())
                    .map(Gathering::take)
            };
            if let Some(batch) = batch {
                self.publish_batch(topic_arn, batch).await;
            }
        }
        answer.await.unwrap_or_else(|_| {
            Err(ServiceFailure {
                service: "SNS",
                code: "NotSent".into(),
                message: "the batch this message was in was never sent".into(),
                transient: true,
            })
        })
    }

    /// One `PublishBatch` call; each entry's publish gets its own answer.
    async fn publish_batch(&self, topic_arn: &str, batch: Vec<Waiting>) {
        let mut entries = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for (i, waiting) in batch.into_iter().enumerate() {
            let entry = PublishBatchRequestEntry::builder()
                .id(i.to_string())
                .set_subject(waiting.subject)
                .message(waiting.message)
                .set_message_attributes(Some(waiting.attributes))
                .build();
            match entry {
                Ok(entry) => {
                    entries.push(entry);
                    replies.push(Some(waiting.reply));
                }
                Err(e) => {
                    let _ = waiting.reply.send(Err(ServiceFailure {
                        service: "SNS",
                        code: "InvalidEntry".into(),
                        message: e.to_string(),
                        transient: false,
                    }));
                    replies.push(None);
                }
            }
        }
        if entries.is_empty() {
            return;
        }
        let sent = self
            .client
            .publish_batch()
            .topic_arn(topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await;
        let count = replies.len();
        let answer = move |id: &str| id.parse::<usize>().ok().filter(|i| *i < count);
        let mut replies = replies;
        match sent {
            Ok(output) => {
                for done in output.successful.unwrap_or_default() {
                    if let Some(reply) = done.id().and_then(answer).and_then(|i| replies[i].take())
                    {
                        let _ = reply.send(Ok(done.message_id.unwrap_or_default()));
                    }
                }
                for failed in output.failed.unwrap_or_default() {
                    if let Some(reply) = answer(failed.id()).and_then(|i| replies[i].take()) {
                        let _ = reply.send(Err(ServiceFailure {
                            service: "SNS",
                            transient: !failed.sender_fault,
                            message: failed.message.unwrap_or_default(),
                            code: failed.code,
                        }));
                    }
                }
                // An entry SNS did not answer for was not published.
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(ServiceFailure {
                        service: "SNS",
                        code: "NoAnswer".into(),
                        message: "PublishBatch answered nothing for this entry".into(),
                        transient: true,
                    }));
                }
            }
            Err(e) => {
                let failure = service_failure("SNS", &e);
                for reply in replies.into_iter().flatten() {
                    let _ = reply.send(Err(failure.clone()));
                }
            }
        }
    }

    async fn publish_one(
        &self,
        topic_arn: &str,
        subject: Option<&str>,
        message: &str,
        attributes: HashMap<String, MessageAttributeValue>,
    ) -> Result<String, ServiceFailure> {
        let output = self
            .client
            .publish()
            .topic_arn(topic_arn)
            .set_subject(subject.map(str::to_string))
            .message(message)
            .set_message_attributes(Some(attributes))
            .send()
            .await
            .map_err(|e| service_failure("SNS", &e))?;
        Ok(output.message_id.unwrap_or_default())
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
        // `String` attributes, then `String.Array` ones: a JSON array
        // (Amazon SNS Developer Guide, "Amazon SNS message attributes"),
        // which a filter policy matches when any element matches.
        let arrays = alert.array_attributes.iter().map(|(name, values)| {
            (
                *name,
                "String.Array",
                crate::domain::alert::array_value(values),
            )
        });
        let all = alert
            .attributes
            .iter()
            .map(|(name, value)| (*name, "String", value.clone()))
            .chain(arrays);
        let mut attributes =
            HashMap::with_capacity(alert.attributes.len() + alert.array_attributes.len());
        for (name, data_type, value) in all {
            let value = MessageAttributeValue::builder()
                .data_type(data_type)
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
        self.deliver(topic_arn, subject, message, attributes)
            .await
            .map_err(failed)
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
