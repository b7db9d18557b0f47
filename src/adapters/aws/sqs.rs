//! The digest's work queue on Amazon SQS: `SendMessageBatch`, ten messages
//! a call (Amazon SQS API Reference, SendMessageBatch: "up to 10
//! messages"), each with its own delay. A batch answers per message: the
//! ones SQS did not take (`Failed`) are sent again, then named.

use super::service_failure;
use crate::ports::{BoxFuture, ServiceFailure, WorkQueue};
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

/// SendMessageBatch's most entries.
const BATCH: usize = 10;
/// Rounds of sending again what SQS did not take.
const ROUNDS: usize = 3;

pub struct SqsWork {
    client: Client,
    queue_url: String,
}

impl SqsWork {
    pub fn new(client: Client, queue_url: impl Into<String>) -> SqsWork {
        SqsWork {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Sends one batch; answers the entries SQS did not take, with why.
    async fn send_batch(
        &self,
        batch: &[(usize, &(String, u32))],
    ) -> Result<Vec<(usize, String)>, ServiceFailure> {
        let entries = batch
            .iter()
            .map(|(i, (body, delay))| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds(*delay as i32)
                    .build()
                    .map_err(|e| ServiceFailure {
                        service: "SQS",
                        code: "InvalidRequest".into(),
                        message: e.to_string(),
                        transient: false,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| service_failure("SQS", &e))?;
        Ok(output
            .failed
            .into_iter()
            .filter_map(|f| {
                let index = f.id.parse().ok()?;
                Some((
                    index,
                    format!("{}: {}", f.code, f.message.unwrap_or_default()),
                ))
            })
            .collect())
    }
}

impl WorkQueue for SqsWork {
    fn send<'a>(
        &'a self,
        messages: &'a [(String, u32)],
    ) -> BoxFuture<'a, Result<(), ServiceFailure>> {
        Box::pin(async move {
            let mut pending: Vec<usize> = (0..messages.len()).collect();
            let mut why = String::new();
            for _ in 0..ROUNDS {
                if pending.is_empty() {
                    return Ok(());
                }
                let mut failed = Vec::new();
                for batch in pending.chunks(BATCH) {
                    let entries: Vec<(usize, &(String, u32))> =
                        batch.iter().map(|i| (*i, &messages[*i])).collect();
                    for (index, reason) in self.send_batch(&entries).await? {
                        failed.push(index);
                        why = reason;
                    }
                }
                pending = failed;
            }
            if pending.is_empty() {
                return Ok(());
            }
            Err(ServiceFailure {
                service: "SQS",
                code: "BatchEntryFailed".into(),
                message: format!(
                    "{} of {} message(s) not taken after {ROUNDS} rounds, the last because {why}",
                    pending.len(),
                    messages.len()
                ),
                transient: true,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput;
    use aws_sdk_sqs::types::{BatchResultErrorEntry, SendMessageBatchResultEntry};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn ok(id: &str) -> SendMessageBatchResultEntry {
        SendMessageBatchResultEntry::builder()
            .id(id)
            .message_id(format!("m-{id}"))
            .md5_of_message_body("x")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn sends_ten_a_batch_with_each_delay_and_sends_again_what_sqs_did_not_take() {
        let first = mock!(Client::send_message_batch)
            .match_requests(|r| {
                r.entries().len() == 10
                    && r.entries()[0].delay_seconds() == Some(0)
                    && r.entries()[0].message_body() == "m0"
            })
            .then_output(|| {
                SendMessageBatchOutput::builder()
                    .set_successful(Some((1..10).map(|i| ok(&i.to_string())).collect()))
                    .failed(
                        BatchResultErrorEntry::builder()
                            .id("0")
                            .sender_fault(false)
                            .code("InternalError")
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap()
            });
        let second = mock!(Client::send_message_batch)
            .match_requests(|r| {
                r.entries().len() == 2 && r.entries()[1].delay_seconds() == Some(900)
            })
            .then_output(|| {
                SendMessageBatchOutput::builder()
                    .set_successful(Some(vec![ok("10"), ok("11")]))
                    .set_failed(Some(vec![]))
                    .build()
                    .unwrap()
            });
        let again = mock!(Client::send_message_batch)
            .match_requests(|r| r.entries().len() == 1 && r.entries()[0].id() == "0")
            .then_output(|| {
                SendMessageBatchOutput::builder()
                    .set_successful(Some(vec![ok("0")]))
                    .set_failed(Some(vec![]))
                    .build()
                    .unwrap()
            });
        let client = mock_client!(aws_sdk_sqs, RuleMode::Sequential, [&first, &second, &again]);
        let mut messages: Vec<(String, u32)> = (0..11).map(|i| (format!("m{i}"), 0)).collect();
        messages.push(("assembly".into(), 900));
        SqsWork::new(client, "https://queue")
            .send(&messages)
            .await
            .unwrap();
        assert_eq!(first.num_calls(), 1);
        assert_eq!(second.num_calls(), 1);
        assert_eq!(again.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_message_sqs_never_takes_is_named() {
        let refused = mock!(Client::send_message_batch).then_output(|| {
            SendMessageBatchOutput::builder()
                .set_successful(Some(vec![]))
                .failed(
                    BatchResultErrorEntry::builder()
                        .id("0")
                        .sender_fault(true)
                        .code("InvalidParameterValue")
                        .message("too long")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap()
        });
        let client = mock_client!(aws_sdk_sqs, RuleMode::MatchAny, [&refused]);
        let error = SqsWork::new(client, "https://queue")
            .send(&[("m".into(), 0)])
            .await
            .unwrap_err();
        assert_eq!(error.code, "BatchEntryFailed");
        assert!(
            error.message.contains("InvalidParameterValue: too long"),
            "{error}"
        );
        assert_eq!(refused.num_calls(), 3);
    }
}
